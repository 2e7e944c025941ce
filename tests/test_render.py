"""Tests of vidcolor.inference (render, colorizer, pipeline, sinks) and ``vidcolor render``.

Models are untrained tiny networks saved with the training stage's checkpoint writer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import assert_same_video_frames, cartoon_frames, save_model, write_clip

from vidcolor._cli.main import cli
from vidcolor.color.tensors import rgb_to_lab
from vidcolor.errors import CheckpointError, InputError, OptionError, OutputError
from vidcolor.inference.options import RenderOptions
from vidcolor.inference.outputs import default_output
from vidcolor.inference.refine.regiongrow import segment_regiongrow
from vidcolor.inference.render import render as render_with
from vidcolor.models import build_model
from vidcolor.quantize import ab_gamut
from vidcolor.video.decode import iter_frames
from vidcolor.video.probe import probe

SIZE = 32  # network input size: tiny and fast


def render(input_path: Path | str, models: list | None = None, output: Path | None = None, *,
           side_by_side: bool = False, truth: Path | None = None, runs_dir: Path | str = "runs",
           **options: object) -> Path:
    """:func:`vidcolor.inference.render.render` with the options given as keywords."""
    return render_with(input_path, models, output, options=RenderOptions(**options),
                       side_by_side=side_by_side, truth=truth, runs_dir=runs_dir)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    save_model(root / "plain", "plain")
    save_model(root / "residual", "residual", seed=1)
    save_model(root / "plain-l2", "plain", "l2", seed=2)
    save_model(root / "coarse", "plain", grid=20, seed=3)
    return root


def _lightness(rgb: np.ndarray) -> np.ndarray:
    tensor = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    return rgb_to_lab(tensor)[0, 0].numpy()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".part" in p.name)


def test_video_keeps_format_audio_and_lightness(tmp_path: Path, runs: Path) -> None:
    clip = write_clip(tmp_path / "bw.mp4", cartoon_frames(10), fps=25)
    out = render(clip, [runs / "plain"], refine="none", size=SIZE, workers=0)
    assert out == tmp_path / "bw.colorized.mp4" == default_output(clip)
    src, dst = probe(clip), probe(out)
    assert (dst.width, dst.height, dst.frame_rate) == (src.width, src.height, src.frame_rate)
    assert dst.frame_count == src.frame_count == 10
    assert dst.has_audio and src.has_audio
    assert abs(dst.duration - src.duration) <= 1 / 25 + 1e-6
    pairs = list(zip(iter_frames(clip), iter_frames(out), strict=True))
    assert [a.pts for a, _ in pairs] == [b.pts for _, b in pairs]
    coloured = False
    for source, result in pairs:
        diff = np.abs(_lightness(source.rgb) - _lightness(result.rgb))
        assert diff.mean() < 1.5, diff.mean()
        coloured |= np.ptp(result.rgb.astype(int), axis=2).max() > 6
    assert coloured, "the model's colours should show"


def test_refined_regions_are_single_coloured(tmp_path: Path, runs: Path) -> None:
    grey = cartoon_frames(1, 96, 72)[0]
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), grey)
    for method in ("regiongrow", "felzenszwalb"):
        out = render(image, [runs / "plain", runs / "residual"], tmp_path / f"{method}.png",
                     refine=method, ensemble="mean", size=SIZE, workers=0)
        rgb = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
        lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)[0].numpy()
        labels = segment_regiongrow(_lightness(grey)) if method == "regiongrow" else None
        if labels is None:
            from vidcolor.inference.refine.felzenszwalb import segment_felzenszwalb

            labels = segment_felzenszwalb(_lightness(grey))
        checked = 0
        for region in np.unique(labels):
            # One ab per region. The output's chroma also depends on L (out-of-gamut colours
            # are desaturated per pixel to keep L), so compare pixels of the region's typical
            # lightness, away from the dark outlines where 8-bit rounding dominates ab.
            lightness = lab[0][labels == region]
            typical = np.abs(lightness - np.median(lightness)) < 1.0
            if np.median(lightness) < 30 or typical.sum() < 10:
                continue
            ab = lab[1:, labels == region][:, typical]
            assert np.ptp(ab, axis=1).max() < 4.0, (method, region, np.ptp(ab, axis=1))
            checked += 1
        assert checked >= 2


def test_mean_of_one_model_equals_that_model(tmp_path: Path, runs: Path) -> None:
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), cartoon_frames(1)[0])
    single = render(image, [runs / "plain"], tmp_path / "single.png", size=SIZE, workers=0)
    mean = render(image, [runs / "plain"], tmp_path / "mean.png", ensemble="mean", size=SIZE,
                  workers=0)
    # Exact: one image, one batch of one, the same checkpoint bytes, in this process; the mean
    # of one prediction is that prediction itself (ensemble.mean_ab), not a sum divided by 1
    np.testing.assert_array_equal(cv2.imread(str(single)), cv2.imread(str(mean)))
    hist = render(image, [runs / "plain"], tmp_path / "hist.png", ensemble="histogram",
                  size=SIZE, workers=0)
    # another computation (the softmax decoded instead of the logits): equal up to float
    # rounding, so a value may round to the next level
    assert np.abs(cv2.imread(str(single)).astype(int) - cv2.imread(str(hist))).max() <= 1


def test_ensembles_and_l2_join_mean(tmp_path: Path, runs: Path) -> None:
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), cartoon_frames(1)[0])
    render(image, [runs / "plain", runs / "plain-l2"], tmp_path / "m.png", ensemble="mean",
           size=SIZE, workers=0)
    render(image, [runs / "plain", runs / "residual"], tmp_path / "h.png",
           ensemble="histogram", size=SIZE, workers=0)
    with pytest.raises(CheckpointError, match="gamut"):
        render(image, [runs / "plain", runs / "coarse"], tmp_path / "x.png",
               ensemble="histogram", size=SIZE, workers=0)
    with pytest.raises(CheckpointError, match="ab directly"):
        render(image, [runs / "plain", runs / "plain-l2"], tmp_path / "y.png",
               ensemble="histogram", size=SIZE, workers=0)
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_worker_pool_and_side_by_side_with_truth(tmp_path: Path, runs: Path) -> None:
    frames = cartoon_frames(6)
    clip = write_clip(tmp_path / "bw.mkv", frames, fps=24, audio=False)
    truth = write_clip(tmp_path / "colour.mkv", frames, fps=24, audio=False)
    out = render(clip, [runs / "plain", runs / "residual"], tmp_path / "review.mkv",
                 refine="regiongrow", ensemble="mean", size=SIZE, batch_size=4, workers=1,
                 truth=truth)
    info = probe(out)  # grey | temporal result | per-frame result | truth
    assert (info.width, info.height, info.frame_count) == (64 * 4, 48, 6)
    assert not info.has_audio
    out = render(clip, [runs / "plain"], tmp_path / "plain.mkv", size=SIZE, workers=0,
                 sequence=(), side_by_side=True)
    assert probe(out).width == 64 * 2  # grey | result


def test_folder_of_images(tmp_path: Path, runs: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    colour = np.zeros((40, 56, 3), np.uint8)
    colour[..., 0] = 200  # a colour image: its luminance is used
    for name, image in (("a.png", cartoon_frames(1)[0]), ("b.jpg", colour)):
        cv2.imwrite(str(folder / name), image)
    out = render(folder, [runs / "plain"], size=SIZE, workers=0)
    assert out == tmp_path / "frames.colorized"
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg"]
    assert cv2.imread(str(out / "b.jpg")).shape == (40, 56, 3)


def test_bad_inputs_fail_cleanly(tmp_path: Path, runs: Path) -> None:
    clip = write_clip(tmp_path / "bw.mp4", cartoon_frames(4), fps=24, audio=False)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(InputError, match="notes.mp4"):
        render(text, [runs / "plain"], workers=0)
    with pytest.raises(InputError, match="no such"):
        render(tmp_path / "missing.mp4", [runs / "plain"], workers=0)
    fake = tmp_path / "fake.json"
    fake.write_text('{"hello": 1}')
    with pytest.raises(CheckpointError):
        render(clip, [fake], tmp_path / "o1.mp4", workers=0)
    with pytest.raises(OutputError, match="does not exist"):
        render(clip, [runs / "plain"], tmp_path / "nowhere" / "o.mp4", workers=0)
    with pytest.raises(OutputError, match="overwrite .*bw.mp4, an input"):
        render(clip, [runs / "plain"], clip, workers=0)
    with pytest.raises(InputError, match="no trained model"):
        render(clip, None, tmp_path / "o2.mp4", runs_dir=tmp_path / "noruns", workers=0)
    with pytest.raises(OptionError, match="multiple of 8"):
        render(clip, [runs / "plain"], tmp_path / "o3.mp4", size=30, workers=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bw.mp4", "fake.json", "notes.mp4"]


def test_unwritable_output_folder(tmp_path: Path, runs: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    clip = write_clip(tmp_path / "bw.mp4", cartoon_frames(4), fps=24, audio=False)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root: simulate a read-only folder
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if Path(path) == locked
                            else real_access(path, mode, **kw))
    try:
        with pytest.raises(OutputError, match="not writable"):
            render(clip, [runs / "plain"], locked / "o.mp4", workers=0)
    finally:
        locked.chmod(0o700)


def test_cli_defaults_and_errors(tmp_path: Path, runs: Path, monkeypatch: pytest.MonkeyPatch
                                 ) -> None:
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copytree(runs / "plain", tmp_path / "runs" / "plain")
    shutil.copytree(runs / "residual", tmp_path / "runs" / "residual")
    write_clip(tmp_path / "bw.mkv", cartoon_frames(4), fps=24)
    runner = CliRunner()
    result = runner.invoke(cli, ["-q", "render", "bw.mkv", "--refine", "felzenszwalb",
                                 "--ensemble", "--size", str(SIZE), "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert len(list(iter_frames(tmp_path / "bw.colorized.mkv"))) == 4
    result = runner.invoke(cli, ["render", "bw.mkv", "--ensemble", "histogram", "-o", "h.mkv",
                                 "--size", str(SIZE), "--decode", "annealed:0.5"])
    assert result.exit_code == 0, result.output
    # `--ensemble` takes an optional method, so the input may follow it directly.
    result = runner.invoke(cli, ["-q", "render", "--ensemble", "bw.mkv", "-o", "after.mkv",
                                 "--size", str(SIZE), "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert len(list(iter_frames(tmp_path / "after.mkv"))) == 4
    result = runner.invoke(cli, ["render", "bw.mkv", "--ensemble", "median", "-o", "x.mkv"])
    assert result.exit_code == 2 and "median" in result.output
    result = runner.invoke(cli, ["render", "--ensemble"])
    assert result.exit_code == 2 and "INPUT" in result.output
    result = runner.invoke(cli, ["render", "bw.mkv", "-o", "one.mkv", "--size", str(SIZE)])
    assert result.exit_code == 0 and "using" in result.output  # which model is used
    result = runner.invoke(cli, ["render", "missing.mkv"])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "missing.mkv" in result.output
    for bad in (["--decode", "bogus"], ["--decode", "annealed:0"], ["--size", "30"],
                ["--device", "gpu"], ["--batch-size", "0"]):
        result = runner.invoke(cli, ["render", "bw.mkv", "-o", "b.mkv", *bad])
        assert result.exit_code == 2 and bad[0] in result.output, (bad, result.output)
    assert _leftovers(tmp_path) == []


def _scenes(count: int, every: int) -> list[np.ndarray]:
    """The cartoon, cut every ``every`` frames to a differently lit scene (hard cuts)."""
    frames = cartoon_frames(count)
    for index in range(count):
        if (index // every) % 2:
            frames[index] = 255 - frames[index]
    return frames


@pytest.mark.parametrize("workers, temporal", [(0, False), (1, False), (0, True)])
def test_interrupted_render_leaves_no_output_and_resumes_exactly(
        tmp_path: Path, runs: Path, workers: int, temporal: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from vidcolor.inference import sinks
    from vidcolor.inference.colorizer import Colorizer
    from vidcolor.inference.stages import FrameWork

    monkeypatch.setattr(sinks, "SEGMENT_SECONDS", 4 / 24)  # a segment every 4 frames
    # with temporal stabilisation segments end at cuts, and a resume starts at one
    clip = write_clip(tmp_path / "bw.mkv", _scenes(12, every=4), fps=24, audio=True)
    options = {"refine": "felzenszwalb", "size": SIZE, "batch_size": 2, "workers": workers,
               "sequence": ("shots", "temporal") if temporal else ()}
    real = Colorizer.predict
    batches: list[list[str]] = []  # each network batch, as the digests of its frames' L

    def recorded(self: Colorizer, lightness: list[np.ndarray], **kwargs: object) -> object:
        batches.append([hashlib.sha256(light.tobytes()).hexdigest() for light in lightness])
        return real(self, lightness, **kwargs)

    write = sinks.VideoSink.write
    encoded: list[tuple[int, str]] = []  # (frame, digest of the RGB) handed to the encoder

    def encoding(self: sinks.VideoSink, work: FrameWork, rgb: np.ndarray) -> None:
        if self.wants(work.index):
            encoded.append((work.index, hashlib.sha256(rgb.tobytes()).hexdigest()))
        write(self, work, rgb)

    monkeypatch.setattr(sinks.VideoSink, "write", encoding)
    monkeypatch.setattr(Colorizer, "predict", recorded)
    whole = render(clip, [runs / "plain"], tmp_path / "whole.mkv", **options)
    uninterrupted_batches, uninterrupted_frames = list(batches), dict(encoded)
    assert sorted(uninterrupted_frames) == list(range(12))
    encoded.clear()
    calls = []

    def interrupted(self: Colorizer, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 6:  # in the last batch: at least one segment is finished
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Colorizer, "predict", interrupted)
    with pytest.raises(KeyboardInterrupt):
        render(clip, [runs / "plain"], tmp_path / "out.mkv", **options)
    assert not (tmp_path / "out.mkv").exists()
    assert _leftovers(tmp_path) == []  # no partial file under any name
    batches.clear()
    monkeypatch.setattr(Colorizer, "predict", recorded)
    out = render(clip, [runs / "plain"], tmp_path / "out.mkv", **options)
    assert 0 < len(batches) < 6  # the finished segments were not computed again
    # The frames handed to the encoder are exactly the uninterrupted render's, and that is a
    # guarantee: the resume starts at a segment end (every 4 frames; with temporal at a cut,
    # also every 4), a multiple of the batch size, so the network ran the very batches of the
    # uninterrupted render - the same primitive on the same bytes in this process, which
    # oneDNN computes alike (it promises nothing for a frame in another batch) - and the
    # stages after it are per-pixel or per-shot code on equal inputs.
    assert batches == uninterrupted_batches[-len(batches):]
    assert sorted({index for index, _ in encoded}) == list(range(12))  # every frame, once more
    for index, digest in encoded:  # the interrupted run's frames and the resumed run's
        assert digest == uninterrupted_frames[index], index
    # The decoded videos are compared within a tolerance: the resumed segments are new x264
    # encodes, and x264 does not always encode identical frames identically (conftest.py)
    resumed, uninterrupted = list(iter_frames(out)), list(iter_frames(whole))
    assert [f.pts for f in resumed] == [f.pts for f in uninterrupted]
    assert_same_video_frames([f.rgb for f in resumed], [f.rgb for f in uninterrupted])
    assert probe(out).has_audio
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bw.mkv", "out.mkv", "out.mkv.vidcolor.json", "whole.mkv", "whole.mkv.vidcolor.json"]
    record = json.loads((tmp_path / "out.mkv.vidcolor.json").read_text())
    assert record["frames"] == 12 and record["options"]["refine"] == "felzenszwalb"


def test_fast_colour_maths_agree_with_vidcolor_color() -> None:
    from vidcolor.color.frames import lab_to_rgb_uint8, upsample_ab
    from vidcolor.color.frames import lightness as frame_luminance
    from vidcolor.color.tensors import lab_to_rgb

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    lightness = frame_luminance(rgb)
    np.testing.assert_allclose(lightness, _lightness(rgb), atol=1e-3)
    ab = upsample_ab(rng.normal(0, 15, (6, 10, 2)).astype(np.float32), lightness.shape)
    source = rng.normal(0, 15, (6, 10, 2)).astype(np.float32)
    torch_up = torch.nn.functional.interpolate(
        torch.from_numpy(source).permute(2, 0, 1)[None], size=(24, 40), mode="bicubic",
        align_corners=False)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(upsample_ab(source, (24, 40)), torch_up, atol=1e-2)
    # In gamut: within one RGB level of vidcolor.color; out of gamut: L kept (desaturated).
    lab = np.dstack([np.full((24, 40), 60.0, np.float32), ab * 0.5])
    out = lab_to_rgb_uint8(lab[..., 0], lab[..., 1:])
    expected = lab_to_rgb(torch.from_numpy(lab).permute(2, 0, 1)[None])[0].permute(1, 2, 0)
    assert np.abs(out.astype(float) - expected.numpy() * 255).max() <= 1.0
    saturated = rng.normal(0, 120, (24, 40, 2)).astype(np.float32)
    out = lab_to_rgb_uint8(lightness, saturated)
    assert np.abs(_lightness(out) - lightness).max() < 1.0
    grey = lab_to_rgb_uint8(lightness, None)
    assert np.ptp(grey.astype(int), axis=2).max() <= 1
    assert np.abs(_lightness(grey) - lightness).max() < 0.7


def test_working_scale_follows_the_lines() -> None:
    from vidcolor.inference.refine.registry import segment

    grey = _lightness(cartoon_frames(1, 160, 120)[0])
    full = segment(grey, "felzenszwalb")
    half = segment(grey, "felzenszwalb", working_scale=0.5)
    assert full is not None and half is not None and half.shape == grey.shape
    # The same partition on almost every pixel: each half-scale region mostly maps to one
    # full-scale region.
    agree = 0
    for region in np.unique(half):
        agree += np.bincount(full[half == region]).max()
    assert agree / grey.size > 0.95


def test_cli_segmentation_options(tmp_path: Path, runs: Path) -> None:
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), cartoon_frames(1, 96, 72)[0])
    runner = CliRunner()
    args = ["render", str(image), "-m", str(runs / "plain"), "--size", str(SIZE),
            "--workers", "0"]
    result = runner.invoke(cli, [*args, "-o", str(tmp_path / "a.png"), "--refine",
                                 "felzenszwalb", "--fz-scale", "50", "--fz-sigma", "0.8",
                                 "--fz-min-size", "20", "--working-scale", "0.5"])
    assert result.exit_code == 0, result.output
    assert cv2.imread(str(tmp_path / "a.png")).shape == (72, 96, 3)
    result = runner.invoke(cli, [*args, "-o", str(tmp_path / "b.png"), "--refine",
                                 "regiongrow", "--fz-scale", "50"])
    assert result.exit_code != 0 and "felzenszwalb" in result.output
    with pytest.raises(OptionError, match="working"):
        render(image, [runs / "plain"], tmp_path / "c.png", refine="regiongrow", size=SIZE,
               workers=0, refine_options={"working_scale": 2.0})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a.png.vidcolor.json",
                                                          "frame.png"]


def test_folder_output_is_not_half_written(tmp_path: Path, runs: Path) -> None:
    """A folder whose third image is unreadable: an error, and no output folder at all."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(folder / name), cartoon_frames(1)[0])
    (folder / "c.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="c.png"):
        render(folder, [runs / "plain"], size=SIZE, batch_size=1, workers=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]
    # An existing output folder keeps what it had, and gets no partial results.
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="c.png"):
        render(folder, [runs / "plain"], out, size=SIZE, batch_size=1, workers=0)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "out"]


def test_current_folder_as_input(tmp_path: Path, runs: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), cartoon_frames(1)[0])
    monkeypatch.chdir(folder)
    out = render(".", [runs / "plain"], size=SIZE, workers=0)
    assert out.resolve() == tmp_path / "frames.colorized"
    assert [p.name for p in out.iterdir()] == ["a.png"]


def test_alpha_16_bit_and_odd_sized_images(tmp_path: Path, runs: Path) -> None:
    grey = cartoon_frames(1, 63, 47)[0]
    alpha = np.full(grey.shape[:2], 255, np.uint8)
    alpha[:, :20] = 0
    rgba = np.dstack([grey, alpha])
    rgba[alpha == 0, :3] = 0  # transparent pixels often hold black
    cv2.imwrite(str(tmp_path / "alpha.png"), rgba)
    out = render(tmp_path / "alpha.png", [runs / "plain"], size=SIZE, workers=0)
    result = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert result.shape == (47, 63, 4)
    np.testing.assert_array_equal(result[..., 3], alpha)  # the input's alpha, copied through
    # 16-bit input: the same picture as its 8-bit version.
    cv2.imwrite(str(tmp_path / "deep.png"), grey.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "flat.png"), grey)
    deep = render(tmp_path / "deep.png", [runs / "plain"], size=SIZE, workers=0)
    flat = render(tmp_path / "flat.png", [runs / "plain"], size=SIZE, workers=0)
    # the 16-bit picture is read as the very 8-bit bytes (rint(v * 257 / 257) = v), so this
    # is the flat render again; the one level allowed is slack, not an expected difference
    assert np.abs(cv2.imread(str(deep)).astype(int) - cv2.imread(str(flat))).max() <= 1


def test_variable_frame_rate_odd_size_and_rotation_are_kept(tmp_path: Path, runs: Path) -> None:
    from fractions import Fraction

    from vidcolor.video.writer import VideoWriter

    frames = cartoon_frames(7, 63, 47)
    clip = tmp_path / "vfr.mkv"
    times = [0, 40, 80, 200, 240, 400, 440]  # ms: irregular gaps
    with VideoWriter(clip, Fraction(25), 63, 47, time_base=Fraction(1, 1000),
                     rotation=90) as writer:
        for frame, pts in zip(frames, times, strict=True):
            writer.write(frame, pts=pts)
    out = render(clip, [runs / "plain"], size=SIZE, workers=0)
    assert [f.pts for f in iter_frames(out)] == [f.pts for f in iter_frames(clip)] == times
    assert (probe(out).width, probe(out).height, probe(out).rotation) == (63, 47, 90)


def test_colour_image_anywhere_in_a_folder_is_reported(tmp_path: Path, runs: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), cartoon_frames(1)[0])
    colour = cartoon_frames(1)[0].copy()
    colour[..., 2] = 250  # a red cast on every pixel
    cv2.imwrite(str(folder / "b.png"), colour)
    with caplog.at_level("WARNING", logger="vidcolor.inference"):
        render(folder, [runs / "plain"], size=SIZE, workers=0)
    assert "colour input" in caplog.text


def test_a_finished_render_is_kept_and_a_changed_option_renders_again(tmp_path: Path,
                                                                      runs: Path) -> None:
    clip = write_clip(tmp_path / "bw.mkv", cartoon_frames(6), fps=24, audio=False)
    first = render(clip, [runs / "plain"], tmp_path / "out.mkv", size=SIZE, workers=0)
    stamp = first.stat().st_mtime_ns
    again = render(clip, [runs / "plain"], tmp_path / "out.mkv", size=SIZE, workers=0)
    assert again.stat().st_mtime_ns == stamp  # kept: same input, models and options
    other = render(clip, [runs / "plain"], tmp_path / "out.mkv", size=SIZE, workers=0,
                   refine="felzenszwalb")
    assert other.stat().st_mtime_ns != stamp
    record = json.loads((tmp_path / "out.mkv.vidcolor.json").read_text())
    assert record["options"]["refine"] == "felzenszwalb" and record["frames"] == 6
    full = render(clip, [runs / "plain"], tmp_path / "out.mkv", size=SIZE, workers=0,
                  refine="felzenszwalb", chroma="444")  # another encoding: written again
    assert probe(full).pix_fmt == "yuv444p" and probe(full).frame_count == 6


def test_crf_sets_how_closely_the_output_keeps_the_input_lightness(tmp_path: Path,
                                                                    runs: Path) -> None:
    clip = write_clip(tmp_path / "bw.mkv", cartoon_frames(6), fps=24, audio=False)
    source = [_lightness(frame.rgb) for frame in iter_frames(clip)]
    error = {}
    for crf in (0, 40):
        out = render(clip, [runs / "plain"], tmp_path / f"out{crf}.mkv", size=SIZE, workers=0,
                     crf=crf)
        error[crf] = np.mean([np.abs(_lightness(frame.rgb) - light).mean()
                              for frame, light in zip(iter_frames(out), source, strict=True)])
        assert json.loads((tmp_path / f"out{crf}.mkv.vidcolor.json").read_text()
                          )["options"]["crf"] == crf
    # lossless still rounds through 8-bit YUV and halves the colour's resolution (0.57 L here)
    assert error[0] * 3 < error[40]
    with pytest.raises(OptionError, match="--crf"):
        RenderOptions(crf=52)


def test_a_series_look_copied_again_keeps_the_render(tmp_path: Path, runs: Path) -> None:
    """`train` copies the dataset's look into the run on every call (a finished run too): the
    demo's second run re-rendered everything because the copy's time was in the key."""
    import shutil

    from vidcolor.series import SeriesLook

    run = tmp_path / "run"
    shutil.copytree(runs / "plain", run)
    look = SeriesLook(np.array([[60.0, 40.0, 20.0]], np.float32), np.ones(1, np.float32),
                      np.full(101, 150.0, np.float32))
    text = json.dumps(look.to_json())
    (run / "series.json").write_text(text)
    clip = write_clip(tmp_path / "bw.mkv", cartoon_frames(6), fps=24, audio=False)
    first = render(clip, [run], tmp_path / "out.mkv", size=SIZE, workers=0)
    stamp = first.stat().st_mtime_ns
    (run / "series.json").unlink()
    (run / "series.json").write_text(text)  # the same look, a new file
    assert render(clip, [run], tmp_path / "out.mkv", size=SIZE, workers=0).stat(
        ).st_mtime_ns == stamp
    (run / "series.json").write_text(text.replace("60.0", "70.0"))  # another look
    assert render(clip, [run], tmp_path / "out.mkv", size=SIZE, workers=0).stat(
        ).st_mtime_ns != stamp


def test_debias_divides_the_prediction_by_the_rebalancing_weights() -> None:
    """`--debias S`: p ∝ p̂ / w(q)^S, the rebalanced training's preference for rare colours
    undone (S = 1) or partly undone; a model without weights is left as it is."""
    from dataclasses import replace

    from vidcolor.inference.colorizer import Colorizer, wrap_model

    torch.manual_seed(0)
    bins = ab_gamut()
    model = wrap_model(build_model("plain", "rebalance", 0.0625, len(bins)), bins)
    weights = np.linspace(0.2, 30.0, len(bins)).astype(np.float32)
    model.info = replace(model.info, weights=weights)
    light = [np.linspace(0, 100, 24 * 32, dtype=np.float32).reshape(24, 32)]

    def probs(**kwargs: float) -> np.ndarray:
        prediction = Colorizer([model], size=32, **kwargs).predict(light, with_probs=True)[0]
        return prediction.probs.astype(np.float64)

    plain = probs()
    for strength in (1.0, 0.5):
        fixed = probs(debias=strength)
        expected = plain / weights ** strength
        expected /= expected.sum(axis=-1, keepdims=True)
        np.testing.assert_allclose(fixed, expected, rtol=0.02, atol=2e-4)  # float16 values
        assert np.abs(fixed - plain).max() > 0.01  # it did change something
    # Exact: a strength of 0, or a model without weights, adds no term to the logits (the
    # Colorizer keeps no log-weights for it), so this is the plain computation again: the
    # same model on the same one-frame batch in this process
    np.testing.assert_array_equal(probs(debias=0.0), plain)
    model.info = replace(model.info, weights=None)
    np.testing.assert_array_equal(probs(debias=1.0), plain)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_segments_shorter_than_the_b_frame_delay_join(tmp_path: Path, suffix: str) -> None:
    """Per-shot segments (renders with hints) can be one or two frames long: such a segment
    is encoded without B-frame delay, so the next one's first decoding time comes before its
    last; joined, every frame is there once, at its own time."""
    from fractions import Fraction

    from vidcolor.inference.sinks import assemble
    from vidcolor.video.writer import VideoWriter

    frames = cartoon_frames(14)
    pieces, first = [], 0
    for length in (1, 1, 9, 2, 1):
        path = tmp_path / f"seg-{first:06d}.mp4"
        with VideoWriter(path, Fraction(24), 64, 48, time_base=Fraction(1, 24)) as writer:
            for index in range(first, first + length):
                writer.write(frames[index], pts=index)
        pieces.append(path)
        first += length
    output = tmp_path / f"joined{suffix}"
    assemble(pieces, output, Fraction(24))
    joined = list(iter_frames(output))
    assert [frame.index for frame in joined] == list(range(14))
    assert_same_video_frames([frame.rgb for frame in joined], frames)
