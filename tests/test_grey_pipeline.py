"""The grey model through the pipeline (issue 20): fitted from a pair, recorded with the dataset
and the run, trained on, and kept exactly by render's composition."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import TINY, make_dataset, write_clip

from vidcolor._cli.main import cli
from vidcolor.checkpoint.layout import find_latest
from vidcolor.checkpoint.read import load_checkpoint, read_grey_model
from vidcolor.color import L_SCALE
from vidcolor.color.frames import lightness, rgb_to_lab_frame
from vidcolor.color.grey import (
    GreyModel,
    colour_on_grey,
    grey_lightness,
    grey_model_from_dict,
    grey_of_rgb,
)
from vidcolor.dataset.reader import dataset_grey_model, read_meta
from vidcolor.errors import CheckpointError, DatasetError, InputError
from vidcolor.greyfit import fit_grey_model, fit_grey_pair, frame_offset
from vidcolor.inference.options import RenderOptions
from vidcolor.inference.stages import FrameWork, ToRGB, build_stages
from vidcolor.training.data import FrameDataset
from vidcolor.training.step import lab_batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: An orthochromatic-like response: red nearly black, a tone curve of its own.
ORTHO = GreyModel("fitted", "encoded", (0.03, 0.62, 0.35),
                  tuple((float(v), float(10 + 230 * v ** 1.3)) for v in np.linspace(0, 1, 17)))
MODELS = {"luminance": GreyModel.named("luminance"), "bt601": GreyModel.named("bt601"),
          "bt709": GreyModel.named("bt709"), "fitted": ORTHO}


def _colours(seed: int, shape: tuple[int, ...] = (60, 80)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def _grey_frame(level: np.ndarray) -> np.ndarray:
    return np.repeat(level[..., None], 3, axis=2)


def _within_one(got: np.ndarray, want: np.ndarray) -> float:
    """The share of pixels whose grey is within one level of the input's."""
    return float((np.abs(got.astype(int) - want.astype(int)) <= 1).mean())


@pytest.mark.parametrize("kind", list(MODELS))
def test_render_keeps_the_input_grey_under_each_model(kind: str) -> None:
    """Re-applying the model to the output gives the input's grey back (issue 20's bar: within
    one level on 99.9 % of pixels), for the truth's colours and for a poor, out-of-gamut
    prediction alike — except luminance on out-of-gamut colours, which keeps L within 0.5 (see
    colour_on_grey); with the truth's colours the output is the truth."""
    model = MODELS[kind]
    truth = _colours(1)
    grey = grey_of_rgb(truth, model)
    light = lightness(_grey_frame(grey))
    truth_ab = rgb_to_lab_frame(truth)[..., 1:]
    guess = np.random.default_rng(2).uniform(-90, 90, truth_ab.shape).astype(np.float32)
    for ab in (truth_ab, guess, None):
        out = colour_on_grey(light, ab, model)
        assert out.shape == truth.shape and out.dtype == np.uint8
        if kind == "luminance" and ab is guess:
            # luminance keeps L within 0.5 (lab_to_rgb_uint8's tolerance; a level is about
            # 0.4 L) where a colour is out of gamut: chroma gives way only beyond that
            assert np.abs(lightness(out) - light).max() <= 0.5 + 0.25
            continue
        assert _within_one(grey_of_rgb(out, model), grey) >= 0.999, (kind, ab is None)
    assert np.abs(colour_on_grey(light, truth_ab, model).astype(int) - truth).mean() < 1.0
    # render's Finish stage is this composition
    work = FrameWork(index=0, key=0, pts=None, lightness=light, ab=guess)
    out = ToRGB(model).apply(work).rgb
    assert (out == colour_on_grey(light, guess, model)).all()


def test_luma_output_is_the_input_luma_with_the_colours_chroma() -> None:
    """For a luma model the output is the input's Y' with the colour's Cb and Cr."""
    truth = _colours(3)
    weights = np.array([0.299, 0.587, 0.114])
    grey = grey_of_rgb(truth, "bt601")
    out = colour_on_grey(lightness(_grey_frame(grey)), rgb_to_lab_frame(truth)[..., 1:], "bt601")
    chroma = truth - (truth @ weights)[..., None]
    got = out - (out @ weights)[..., None]
    assert np.abs(got - chroma).mean() < 0.5
    assert (grey_of_rgb(out, "bt601") == grey).mean() > 0.999


def test_render_stages_take_the_grey_model_from_the_options() -> None:
    stages = build_stages_for(RenderOptions(refine="none", sequence=(), grey="bt709"))
    assert stages[-1].grey == GreyModel.named("bt709")
    assert build_stages_for(RenderOptions(refine="none", sequence=()))[-1].grey.name \
        == "luminance"


def build_stages_for(options: RenderOptions) -> list:
    from vidcolor.inference.stages import StageContext

    return build_stages(StageContext(options))


@pytest.mark.parametrize("kind", ["bt601", "bt709", "luminance", "fitted"])
def test_fit_recovers_known_weights(kind: str) -> None:
    model = MODELS[kind]
    colours = _colours(4, (8000,))
    fitted, residual = fit_grey_model(colours, grey_of_rgb(colours, model))
    assert fitted.space == model.space
    assert np.abs(np.subtract(fitted.weights, model.weights)).max() <= 0.02
    assert residual < 0.5  # the rounding of the grey
    assert grey_model_from_dict(json.loads(json.dumps(fitted.to_dict()))) == fitted
    held_out = _colours(5, (5000,))
    assert _within_one(grey_of_rgb(held_out, fitted), grey_of_rgb(held_out, model)) > 0.99


@pytest.mark.parametrize("kind", ["bt601", "bt709", "luminance", "fitted"])
def test_a_pair_a_named_model_explains_gets_that_model(kind: str) -> None:
    """A luma or luminance copy, compressed (±1 level of noise), is named as what it is: the
    exact model, not a fit 0.01 off (whose solved colours cost 0.4 dB on the BT.601 demo);
    a copy no named model explains (orthochromatic-like) keeps its fit."""
    colours = _colours(7, (8000,))
    noise = np.random.default_rng(8).integers(-1, 2, len(colours))
    grey = np.clip(grey_of_rgb(colours, MODELS[kind]).astype(int) + noise, 0, 255)
    fitted, residual = fit_grey_model(colours, grey.astype(np.uint8))
    if kind == "fitted":
        assert fitted.name == "fitted" and residual < 1.0
        assert np.abs(np.subtract(fitted.weights, ORTHO.weights)).max() <= 0.02
    else:
        assert fitted == GreyModel.named(kind) and residual < 1.0


def test_frame_offset_is_found() -> None:
    frames = np.random.default_rng(6).random((30, 6, 8))
    assert frame_offset(frames[3:], frames, max_offset=5) == (3, 1.0)
    assert frame_offset(frames, frames[2:], max_offset=5) == (-2, 1.0)


def _blocks(seed: int, count: int = 32, width: int = 96, height: int = 72) -> list[np.ndarray]:
    """Flat tiles of random colours scrolling sideways (a third of a tile per frame)."""
    block = 12
    tiles = _colours(seed, (height // block, 2 * width // block))
    big = np.repeat(np.repeat(tiles, block, axis=0), block, axis=1)
    return [np.ascontiguousarray(np.roll(big, -block * i // 3, axis=1)[:, :width])
            for i in range(count)]


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A colour clip, its BT.601 twin two frames late, and the twin of other footage."""
    folder = tmp_path_factory.mktemp("pair")
    frames, other = _blocks(1), _blocks(2)
    colour = write_clip(folder / "colour.mkv", frames[2:], audio=False)
    twin = write_clip(folder / "twin.mkv",
                      [_grey_frame(grey_of_rgb(f, "bt601")) for f in frames[:30]], audio=False)
    stranger = write_clip(folder / "other.mkv",
                          [_grey_frame(grey_of_rgb(f, "bt601")) for f in other[:30]],
                          audio=False)
    return colour, twin, stranger


def test_fit_from_a_video_pair(pair: tuple[Path, Path, Path]) -> None:
    colour, twin, _ = pair
    fit = fit_grey_pair(colour, twin)
    assert fit.offset == 2 and fit.correlation > 0.99
    assert fit.model.space == "encoded"
    assert np.abs(np.subtract(fit.model.weights, (0.299, 0.587, 0.114))).max() <= 0.02
    assert fit.residual < 2.0  # compression of both clips
    # the same frame: the plain framing exactly, so the same pixels as before framings
    assert fit.scale == (1.0, 1.0) and fit.shift == (0.0, 0.0)


def _framed_twin(path: Path, frames: list[np.ndarray], kind: str, size: tuple[int, int],
                 picture: tuple[int, int, int, int]) -> Path:
    """The ``kind`` twin of ``frames``, each scaled into ``picture`` (x0, y0, x1, y1: the
    colour's whole frame, cut to a frame of ``size`` where it lies outside it) with black
    around it."""
    x0, y0, x1, y1 = picture
    twin = []
    for frame in frames:
        scaled = cv2.resize(grey_of_rgb(frame, MODELS[kind]), (x1 - x0, y1 - y0),
                            interpolation=cv2.INTER_AREA if x1 - x0 < frame.shape[1]
                            else cv2.INTER_LINEAR)
        out = np.zeros(size[::-1], np.uint8)
        top, left = max(0, y0), max(0, x0)
        out[top:y1, left:x1] = scaled[top - y0:size[1] - y0, left - x0:size[0] - x0]
        twin.append(_grey_frame(out))
    return write_clip(path, twin, audio=False)


#: Twins of another framing: the colour's frame (size), the twin's (size) and where the
#: colour's frame lies on it, its grey model. The zoom is 1.06 (96 -> 102, 72 -> 76: 1.0625
#: and 1.0556) cropped off-centre (5 and 1 pixels off the left and top, 1 and 3 off the
#: right and bottom); the letterbox is 16:9 in 4:3 at three quarters the size; the pillarbox
#: 4:3 in 16:9 at 1.25 times.
FRAMED = {
    "zoomed": ((96, 72), (96, 72), (-5, -1, 97, 75), "bt709"),
    "letterboxed": ((128, 72), (96, 72), (0, 9, 96, 63), "bt709"),
    "pillarboxed": ((96, 72), (160, 90), (20, 0, 140, 90), "bt601"),
}


def test_a_copy_with_black_edges_keeps_the_plain_framing(pair: tuple[Path, Path, Path],
                                                         tmp_path: Path) -> None:
    """Black lines down the copy's edges (a transfer's gate) are bars: the framing stays the
    plain one, and the pixels they hide are not fitted (they would read as black fills)."""
    colour, _, _ = pair
    twin = []
    for frame in _blocks(1)[:30]:
        grey = grey_of_rgb(frame, "bt601")
        grey[:, :4], grey[:, -3:] = 0, 0
        twin.append(_grey_frame(grey))
    fit = fit_grey_pair(colour, write_clip(tmp_path / "edged.mkv", twin, audio=False))
    assert fit.scale == (1.0, 1.0) and fit.shift == (0.0, 0.0)
    assert fit.model == GreyModel.named("bt601") and fit.residual < 2.0


def _crossing(seed: int, width: int, height: int = 72) -> list[np.ndarray]:
    """:func:`_blocks` whose bottom half scrolls the other way. A picture that scrolls as one
    would not tell a frame of offset from a shift of a third of a tile: both explain the
    copy exactly."""
    frames = _blocks(seed, width=width, height=height)
    for frame in frames:
        frame[height // 2:] = frame[height // 2:, ::-1].copy()
    return frames


@pytest.mark.parametrize("name", list(FRAMED))
def test_fit_from_a_pair_of_another_framing(name: str, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """A twin zoomed and cropped, letterboxed or pillarboxed, of another size: its framing is
    found (scale within 1 %, shift within a pixel) and with it the grey model."""
    colour_size, size, picture, kind = FRAMED[name]
    frames = _crossing(1, *colour_size)
    colour = write_clip(tmp_path / "colour.mkv", frames[2:], audio=False)
    twin = _framed_twin(tmp_path / "twin.mkv", frames[:30], kind, size, picture)
    with caplog.at_level(logging.INFO, logger="vidcolor.greyfit"):
        fit = fit_grey_pair(colour, twin)
    assert f"framing {fit.framing.describe()}" in caplog.text
    x0, y0, x1, y1 = picture
    scale = ((x1 - x0) / colour_size[0], (y1 - y0) / colour_size[1])
    assert fit.offset == 2 and fit.correlation > 0.95
    assert fit.scale == pytest.approx(scale, rel=0.01)
    assert fit.shift == pytest.approx((x0, y0), abs=1.0)
    assert np.abs(np.subtract(fit.model.weights, MODELS[kind].weights)).max() <= 0.02
    assert fit.residual < 2.0
    if name == "letterboxed":  # other footage in the same framing is still refused
        stranger = _framed_twin(tmp_path / "other.mkv", _crossing(2, 128)[:30], kind, size,
                                picture)
        with pytest.raises(InputError, match="not the same footage") as caught:
            fit_grey_pair(colour, stranger)
        assert "\n" not in str(caught.value) and str(stranger) in str(caught.value)


def test_a_pair_that_does_not_match_is_refused(pair: tuple[Path, Path, Path],
                                               tmp_path: Path) -> None:
    colour, _, stranger = pair
    with pytest.raises(InputError, match="not the same footage") as caught:
        fit_grey_pair(colour, stranger)
    assert "\n" not in str(caught.value) and str(colour) in str(caught.value)
    result = CliRunner().invoke(cli, ["build-dataset", str(colour), "-o", str(tmp_path / "ds"),
                                      "--grey-pair", str(colour), str(stranger)])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "not the same footage" in result.output
    assert not (tmp_path / "ds").exists()


def test_build_dataset_records_the_grey_model(pair: tuple[Path, Path, Path],
                                              tmp_path: Path) -> None:
    colour, twin, _ = pair
    runner = CliRunner()
    base = ["-q", "build-dataset", str(colour), "--size", "32", "--no-credit-filter"]
    result = runner.invoke(cli, [*base, "-o", str(tmp_path / "fit"), "--grey-pair", str(colour),
                                 str(twin)])
    assert result.exit_code == 0, result.output
    # the twin is BT.601 luma: the pair names it so (fit_grey_model's NAMED_SLACK)
    assert dataset_grey_model(tmp_path / "fit") == GreyModel.named("bt601")
    result = runner.invoke(cli, [*base, "-o", str(tmp_path / "luma"), "--grey", "bt601"])
    assert result.exit_code == 0, result.output
    assert read_meta(tmp_path / "luma")["grey"] == {"name": "bt601"}
    # a re-run without --grey keeps it; the default of a new dataset is luminance
    assert runner.invoke(cli, [*base, "-o", str(tmp_path / "luma")]).exit_code == 0
    assert dataset_grey_model(tmp_path / "luma").name == "bt601"
    assert runner.invoke(cli, [*base, "-o", str(tmp_path / "lum")]).exit_code == 0
    assert dataset_grey_model(tmp_path / "lum").name == "luminance"
    result = runner.invoke(cli, [*base, "-o", str(tmp_path / "x"), "--grey", "bt601",
                                 "--grey-pair", str(colour), str(twin)])
    assert result.exit_code == 2 and "not both" in result.output


def test_training_input_is_the_l_of_the_models_grey(tmp_path: Path) -> None:
    dataset = make_dataset(tmp_path / "ds", train=2, test=0, size=32)
    paths = sorted((dataset / "frames" / "ep").glob("*.png"))
    frame = FrameDataset(paths, None)[0, None]
    assert frame.shape[0] == 3  # luminance: the colour's own L, as before
    from vidcolor.color.tensors import rgb_to_lab

    light, _ = lab_batch(frame[None])
    assert torch.equal(light, rgb_to_lab(frame[None].float() / 255.0)[:, :1] * L_SCALE)
    four = FrameDataset(paths, None, GreyModel.named("bt601"))[0, None]
    rgb = four[:3].permute(1, 2, 0).numpy()
    assert (four[3].numpy() == grey_of_rgb(rgb, "bt601")).all()
    light, ab = lab_batch(four[None])
    want = lightness(_grey_frame(grey_of_rgb(rgb, "bt601")))  # what render computes
    assert torch.equal(light[0, 0], torch.from_numpy(want) * L_SCALE)
    assert torch.equal(ab, lab_batch(frame[None])[1])  # the targets do not change
    assert grey_lightness()[128] == lightness(np.full((1, 1, 3), 128, np.uint8))[0, 0]


def _set_grey(meta_path: Path, grey: object) -> None:
    meta = json.loads(meta_path.read_text())
    meta["grey"] = grey
    meta_path.write_text(json.dumps(meta))


def test_train_records_the_model_and_render_reads_it(tmp_path: Path) -> None:
    dataset = make_dataset(tmp_path / "ds", train=4, test=2, size=32)
    _set_grey(dataset / "meta.json", {"name": "bt601"})
    runner = CliRunner()
    run = tmp_path / "run"
    result = runner.invoke(cli, ["-q", "train", "--dataset", str(dataset), "-o", str(run),
                                 "--arch", "plain", "--epochs", "1", *TINY])
    assert result.exit_code == 0, result.output
    descriptor = json.loads(find_latest(run).read_text())
    assert descriptor["grey"] == {"name": "bt601"}
    assert load_checkpoint(run).info.grey == GreyModel.named("bt601")
    assert read_grey_model(run) == GreyModel.named("bt601")
    assert RenderOptions().with_run_grey(read_grey_model(run)).grey_model.name == "bt601"

    level = np.tile(np.linspace(0, 255, 48).astype(np.uint8), (40, 1))
    source = tmp_path / "grey.png"
    import cv2

    cv2.imwrite(str(source), _grey_frame(level))
    fast = ["--refine", "none", "--no-temporal", "--device", "cpu", "--workers", "0"]
    result = runner.invoke(cli, ["render", str(source), "-m", str(run), "-o",
                                 str(tmp_path / "out.png"), *fast])
    assert result.exit_code == 0, result.output
    out = cv2.imread(str(tmp_path / "out.png"))[..., ::-1]
    assert _within_one(grey_of_rgb(np.ascontiguousarray(out), "bt601"), level) >= 0.999
    result = runner.invoke(cli, ["render", str(source), "-m", str(run), "-o",
                                 str(tmp_path / "lum.png"), "--grey", "luminance", *fast])
    assert result.exit_code == 0, result.output
    assert "overrides the run's grey model (bt601)" in result.output

    # a resumed run on a dataset whose grey model changed is refused
    _set_grey(dataset / "meta.json", {"name": "bt709"})
    result = runner.invoke(cli, ["train", "--dataset", str(dataset), "--resume", str(run),
                                 "--arch", "plain", "--epochs", "2", *TINY])
    assert result.exit_code == 1 and "grey model is now bt709" in result.output


DAMAGED = [
    "bt601",
    {"name": "bt2020"},
    {"name": "bt601", "weights": [1, 0, 0]},
    {"name": "fitted", "space": "encoded", "weights": [0.5, 0.5, 0.5], "tone": [[0, 0], [1, 1]]},
    {"name": "fitted", "space": "log", "weights": [1, 0, 0], "tone": [[0, 0], [1, 1]]},
    {"name": "fitted", "space": "encoded", "weights": [1, 0, 0], "tone": [[0, 9], [1, 1]]},
    {"name": "fitted", "space": "encoded", "weights": [1, 0, 0], "tone": [[0, 0]]},
    {"name": "fitted", "space": "encoded", "weights": [1, 0, 0], "tone": [[0, 0], [1, "x"]]},
]


@pytest.mark.parametrize("grey", DAMAGED)
def test_a_damaged_grey_model_is_refused_in_one_line(grey: object, tmp_path: Path) -> None:
    dataset = make_dataset(tmp_path / "ds", train=2, test=0, size=32)
    _set_grey(dataset / "meta.json", grey)
    with pytest.raises(DatasetError) as caught:
        dataset_grey_model(dataset)
    message = str(caught.value)
    assert "\n" not in message and "meta.json" in message and "grey model" in message
    assert len(message) < 300

    run = tmp_path / "run"
    from conftest import save_tiny_run

    save_tiny_run(run)
    descriptor = find_latest(run)
    _set_grey(descriptor, grey)
    with pytest.raises(CheckpointError) as caught:
        read_grey_model(run)
    message = str(caught.value)
    assert "\n" not in message and descriptor.name in message and "grey model" in message
    import cv2

    cv2.imwrite(str(tmp_path / "grey.png"), np.full((8, 8, 3), 99, np.uint8))
    result = CliRunner().invoke(cli, ["render", str(tmp_path / "grey.png"), "-m", str(run)])
    assert result.exit_code == 1 and result.output.strip().count("\n") == 0


def test_a_new_grey_model_measures_the_credit_screens_again(tmp_path: Path) -> None:
    """The credit screens' grey signatures are measured on the model's grey at extraction:
    rebuilding a dataset with another model extracts its episodes again, so they are what a
    new build with that model measures (the stored colour frames come out the same)."""
    from conftest import episode_frames

    from vidcolor.dataset.build import build_dataset
    from vidcolor.dataset.records import DatasetParams

    clips = [write_clip(tmp_path / f"ep{i}.mkv", episode_frames(i)) for i in range(2)]
    params = DatasetParams(size=32)
    build_dataset(clips, tmp_path / "ds", params=params)
    before = (tmp_path / "ds" / "excluded.csv").read_text()
    frames = sorted(p.read_bytes() for p in (tmp_path / "ds").rglob("*.png"))
    report = build_dataset(clips, tmp_path / "ds", params=params, grey="bt601")
    assert [e.status for e in report.episodes] == ["re-extracted", "re-extracted"]
    assert "grey model changes" in report.episodes[0].message
    build_dataset(clips, tmp_path / "new", params=params, grey="bt601")
    again = (tmp_path / "ds" / "excluded.csv").read_text()
    assert again == (tmp_path / "new" / "excluded.csv").read_text() != before
    assert sorted(p.read_bytes() for p in (tmp_path / "ds").rglob("*.png")) == frames
    # the same model again: nothing to extract
    report = build_dataset(clips, tmp_path / "ds", params=params, grey="bt601")
    assert [e.status for e in report.episodes] == ["unchanged", "unchanged"]
