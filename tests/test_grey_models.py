"""Tests of the grey models (:func:`vidcolor.color.grey.grey_of_rgb`) and of the twins made with
them (``vidcolor demo-data --grey``): how an archive's black-and-white copy is made (issue 20)."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from vidcolor.color import XYZ_FROM_RGB, srgb_to_linear
from vidcolor.color.grey import GREY_MODELS, grey_of_rgb
from vidcolor.demo.episode import iter_episode_frames
from vidcolor.demo.twins import bw_frame, luminance_grey
from vidcolor.video.decode import iter_frames

#: (colour, {model: grey level}); luma by hand: 0.299 * 255 = 76.2, 0.587 * 255 = 149.7, ...
HAND_MADE = [
    ((255, 0, 0), {"luminance": 127, "bt601": 76, "bt709": 54}),
    ((0, 255, 0), {"luminance": 220, "bt601": 150, "bt709": 182}),
    ((0, 0, 255), {"luminance": 76, "bt601": 29, "bt709": 18}),
    ((255, 255, 255), {"luminance": 255, "bt601": 255, "bt709": 255}),
    ((0, 0, 0), {"luminance": 0, "bt601": 0, "bt709": 0}),
    ((128, 128, 128), {"luminance": 128, "bt601": 128, "bt709": 128}),
]


def _todays_twin(rgb: np.ndarray) -> np.ndarray:
    """``vidcolor.demo.luminance_grey`` as it was before the grey models (commit c4717bf),
    kept here frozen: the default twin must not move."""
    linear = srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
    steps = srgb_to_linear((np.arange(255, dtype=np.float64) + 0.5) / 255.0).astype(np.float32)
    weights = np.asarray(XYZ_FROM_RGB[1], dtype=np.float32)
    return np.searchsorted(steps, linear[rgb] @ weights).astype(np.uint8)


def _random_colours(count: int = 20000) -> np.ndarray:
    return np.random.default_rng(20).integers(0, 256, (count // 100, 100, 3), dtype=np.uint8)


@pytest.mark.parametrize(("colour", "expected"), HAND_MADE)
def test_hand_made_colours(colour: tuple[int, int, int], expected: dict[str, int]) -> None:
    frame = np.full((2, 3, 3), colour, np.uint8)
    for model in GREY_MODELS:
        grey = grey_of_rgb(frame, model)
        assert grey.shape == (2, 3) and grey.dtype == np.uint8
        assert (grey == expected[model]).all(), (colour, model, grey)


def test_every_model_leaves_greys_alone() -> None:
    levels = np.arange(256, dtype=np.uint8)
    greys = np.repeat(levels[None, :, None], 3, axis=2)  # (1, 256, 3), R = G = B
    for model in GREY_MODELS:
        assert (grey_of_rgb(greys, model)[0] == levels).all(), model


def test_models_differ_on_colours() -> None:
    colours = _random_colours()
    luminance, bt601, bt709 = (grey_of_rgb(colours, model).astype(int) for model in GREY_MODELS)
    assert np.abs(luminance - bt601).mean() > 5  # not three names for one formula
    assert np.abs(bt601 - bt709).mean() > 3


def test_bt601_is_what_opencv_and_ffmpeg_make() -> None:
    """OpenCV's ``COLOR_RGB2GRAY`` and swscale's rgb24 -> gray (``ffmpeg -vf format=gray``)
    compute BT.601 luma in fixed point: within one level of the exact rounding."""
    colours = _random_colours()
    ours = grey_of_rgb(colours, "bt601").astype(int)
    opencv = cv2.cvtColor(colours, cv2.COLOR_RGB2GRAY).astype(int)
    swscale = av.VideoFrame.from_ndarray(colours, format="rgb24").reformat(format="gray")
    for theirs in (opencv, swscale.to_ndarray().astype(int)):
        assert np.abs(ours - theirs).max() <= 1
        assert (ours == theirs).mean() > 0.99


def test_bt709_weights_by_hand() -> None:
    colours = _random_colours(1000)
    exact = colours.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])
    assert np.abs(grey_of_rgb(colours, "bt709") - exact).max() <= 0.5 + 1e-9


def test_luminance_is_todays_twin() -> None:
    colours = _random_colours()
    assert (grey_of_rgb(colours, "luminance") == _todays_twin(colours)).all()
    assert (luminance_grey(colours) == _todays_twin(colours)).all()
    for frame in iter_episode_frames(seconds=2.0, width=64, height=48, fps=Fraction(12)):
        twin = bw_frame(frame.rgb)  # the default: what generate_episode writes
        assert (twin == _todays_twin(frame.rgb)[..., None]).all()


def test_unknown_model_and_bad_input() -> None:
    frame = np.zeros((2, 2, 3), np.uint8)
    with pytest.raises(ValueError, match="luminance, bt601, bt709"):
        grey_of_rgb(frame, "bt2020")
    with pytest.raises(ValueError, match="bt2020"):
        bw_frame(frame, "bt2020")
    with pytest.raises(ValueError, match="shape"):
        grey_of_rgb(np.zeros((2, 2, 4), np.uint8), "bt601")
    with pytest.raises(TypeError, match="uint8"):
        grey_of_rgb(frame.astype(np.float32), "bt601")


def _series(runner: CliRunner, out: object, *extra: str) -> None:
    from vidcolor._cli.main import cli

    result = runner.invoke(cli, ["-q", "demo-data", str(out), "--episodes", "1", "--seconds",
                                 "2", "--width", "64", "--height", "48", "--fps", "12", *extra])
    assert result.exit_code == 0, result.output


def test_cli_demo_data_grey(tmp_path) -> None:
    runner = CliRunner()
    _series(runner, tmp_path / "lum")
    _series(runner, tmp_path / "bt601", "--grey", "bt601")
    assert json.loads((tmp_path / "lum" / "manifest.json").read_text())["grey"] == "luminance"
    assert json.loads((tmp_path / "bt601" / "manifest.json").read_text())["grey"] == "bt601"

    colour = [f.rgb for f in iter_frames(tmp_path / "bt601" / "episode01.mkv")]
    twin = [f.rgb for f in iter_frames(tmp_path / "bt601" / "episode01_bw.mkv")]
    default_twin = [f.rgb for f in iter_frames(tmp_path / "lum" / "episode01_bw.mkv")]
    assert len(colour) == len(twin) == len(default_twin) == 24
    to_bt601, to_luminance = [], []
    for rgb, grey, default_grey in zip(colour, twin, default_twin, strict=True):
        assert np.abs(grey.astype(int) - grey[..., :1]).max() <= 2  # R = G = B
        level = grey[..., 0].astype(int)
        to_bt601.append(np.abs(level - grey_of_rgb(rgb, "bt601")).mean())
        to_luminance.append(np.abs(level - grey_of_rgb(rgb, "luminance")).mean())
        # the default twin is still the luminance one
        assert np.abs(default_grey[..., 0].astype(int) - grey_of_rgb(rgb, "luminance")).mean() < 4
    assert max(to_bt601) < 4  # compression (of both files) only
    assert np.mean(to_luminance) > 2 * np.mean(to_bt601) + 4  # not the luminance twin (~11)


def test_cli_demo_data_bad_grey(tmp_path) -> None:
    from vidcolor._cli.main import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["demo-data", str(tmp_path / "x"), "--grey", "bt2020"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0  # one line
    assert "--grey" in result.output and "bt601" in result.output
    assert not (tmp_path / "x").exists()
    result = runner.invoke(cli, ["demo-data", "--help"])
    assert "--grey" in result.output and "bt709" in result.output
