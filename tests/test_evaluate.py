"""Tests of vidcolor.evaluation and ``vidcolor evaluate``: both modes score what render writes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SAME_FIGURE_REL, assert_same_figures, save_tiny_run, write_clip

from vidcolor._cli.main import cli
from vidcolor.errors import InputError
from vidcolor.evaluation.results import evaluate_results
from vidcolor.evaluation.runs import evaluate_runs, grey_input
from vidcolor.inference.options import RenderOptions
from vidcolor.inference.render import render

SIZE = 32


def _scene(index: int, hue: int) -> np.ndarray:
    frame = np.empty((48, 64, 3), np.uint8)
    frame[:] = (hue, 120, 255 - hue)
    cv2.circle(frame, (10 + 3 * index, 24), 9, (250, 200, 40), -1)
    cv2.circle(frame, (10 + 3 * index, 24), 9, (20, 20, 20), 1)
    return frame


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from vidcolor.dataset.build import build_dataset
    from vidcolor.dataset.records import DatasetParams

    root = tmp_path_factory.mktemp("evaluate")
    episodes = [write_clip(root / f"ep{e}.mkv", [_scene(i, 60 * e) for i in range(10)],
                           audio=False) for e in range(2)]
    build_dataset(episodes, root / "dataset", params=DatasetParams(size=64, dedup_threshold=0),
                  test_episodes=["ep0"])
    return {"root": root, "dataset": root / "dataset",
            "a": save_tiny_run(root / "runs" / "a", 0, grid=None),
            "b": save_tiny_run(root / "runs" / "b", 1, grid=None)}


def test_run_mode_equals_rendering_the_grey_split_and_comparing(setup: dict[str, Path],
                                                                tmp_path: Path) -> None:
    from vidcolor.dataset.reader import load_split
    from vidcolor.inference.sources import read_image

    options = RenderOptions(refine="felzenszwalb", ensemble="mean", size=SIZE, workers=0)
    runs = [setup["a"], setup["b"]]
    by_runs = evaluate_runs(runs, options, dataset_dir=setup["dataset"])
    # the same frames as a grey folder, rendered by `vidcolor render`, scored against the truth
    grey, truth = tmp_path / "grey", tmp_path / "truth"
    grey.mkdir()
    truth.mkdir()
    for index, path in enumerate(load_split(setup["dataset"], "test")):
        rgb = read_image(path)[0]
        cv2.imwrite(str(grey / f"{index:04d}.png"), cv2.cvtColor(grey_input(rgb),
                                                                cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(truth / f"{index:04d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    out = render(grey, runs, tmp_path / "out", options=options)
    by_files = evaluate_results([out], truth)
    (name,) = [n for n in by_runs["candidates"] if n not in ("grey", "truth") and "[" not in n]
    assert f"{name} [per-frame]" in by_runs["candidates"]  # temporal is on by default
    assert by_runs["frames"] == by_files["frames"] == 10
    # The frames scored are the same bytes in both modes: the same grey frames (PNG is
    # lossless) through the same pipeline in the same batches (frames 0-7, 8-9) in this
    # process. The figures are not bit-identical though: the scorer's per-pixel error moves
    # by a float32 ulp with its arrays' addresses (conftest.SAME_FIGURE_REL says why).
    assert_same_figures(by_runs["metrics"][name], by_files["metrics"]["out"], name)
    for column in ("grey", "truth"):
        assert_same_figures(by_runs["metrics"][column], by_files["metrics"][column], column)
    # ... and the tolerance is far finer than what scoring other frames would change
    assert by_runs["metrics"][name]["auc"] != pytest.approx(
        by_runs["metrics"]["grey"]["auc"], rel=1e3 * SAME_FIGURE_REL)
    assert by_runs["metrics"][name]["ab_rmse"] != pytest.approx(
        by_runs["metrics"][f"{name} [per-frame]"]["ab_rmse"], rel=1e3 * SAME_FIGURE_REL)


def test_result_against_itself_is_perfect_and_temporal_views_are_scored(
        setup: dict[str, Path], tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "colour.mkv", [_scene(i, 90) for i in range(8)], audio=False)
    same = evaluate_results([clip], clip, report_dir=tmp_path / "report")
    result, truth = same["metrics"]["colour.mkv"], same["metrics"]["truth"]
    assert result["ab_rmse"] == 0 and result["psnr"] == "inf" and result["pa"] == 0
    # Exact: both columns score the same decoded bytes (H.264 decoding is bit-exact) along the
    # one truth flow the scorer computes per frame, and warp error (an integer sum of squares
    # over an integer mask count) and CDC (integer histograms) use no float kernel.
    assert result["warp_error"] == truth["warp_error"] and result["cdc"] == truth["cdc"]
    assert json.loads((tmp_path / "report" / "report.json").read_text())["frames"] == 8
    assert (tmp_path / "report" / "index.html").is_file()
    options = RenderOptions(size=SIZE, workers=0)  # Felzenszwalb + temporal by default
    summary = evaluate_runs([setup["a"]], options, dataset_dir=setup["dataset"])
    assert summary["candidates"] == ["grey", str(setup["a"]), f"{setup['a']} [per-frame]",
                                     "truth"]


def test_bad_inputs_are_one_line_errors(setup: dict[str, Path], tmp_path: Path) -> None:
    short = write_clip(tmp_path / "short.mkv", [_scene(i, 30) for i in range(5)], audio=False)
    long = write_clip(tmp_path / "long.mkv", [_scene(i, 30) for i in range(7)], audio=False)
    with pytest.raises(InputError, match="different frame counts"):
        evaluate_results([short], long)
    aligned = evaluate_results([short], long, align=True)
    assert aligned["frames"] == 5
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((10, 12, 3), np.uint8))
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.zeros((20, 12, 3), np.uint8))
    with pytest.raises(InputError, match="shape"):
        evaluate_results([small], big)
    empty = tmp_path / "empty"
    empty.mkdir()
    runner = CliRunner()
    for args in (["evaluate", str(empty), "--truth", str(long)],
                 ["evaluate", str(short), "--truth", str(long)],
                 ["evaluate", str(tmp_path / "missing.mkv"), "--truth", str(long)],
                 ["evaluate", str(setup["a"]), "--dataset", str(tmp_path / "nodataset")]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, (args, result.output)
        assert result.output.strip().count("\n") == 0 and "error" in result.output
    result = runner.invoke(cli, ["evaluate", str(short), "--truth", str(long), "--align",
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["frames"] == 5
    result = runner.invoke(cli, ["evaluate", str(setup["a"]), "--decode", "bogus",
                                 "--dataset", str(setup["dataset"])])
    assert result.exit_code == 2 and "decode" in result.output
