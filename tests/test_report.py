"""Tests of vidcolor.report: the files it writes, the table and the page's references."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidcolor.errors import OutputError
from vidcolor.metrics import SUMMARY_METRICS, SequenceScorer, comparison_row
from vidcolor.report.table import format_table, format_value
from vidcolor.report.writer import CURVES_PNG, INDEX_HTML, REPORT_JSON, SERIES_PNG, write_report


@pytest.fixture(autouse=True, scope="module")
def _opencv_single_thread() -> Iterator[None]:
    """Run OpenCV single-threaded here and leave no OpenCV worker threads behind.

    A process that forks after OpenCV's thread pool ran (DIS flow starts it) deadlocks when the
    child calls ``cv2.setNumThreads``, as train's DataLoader workers do (tests/test_train.py
    runs later in the same pytest process). Small test images gain nothing from threads.
    """
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(threads)


def _clip_summary(frames: int = 6) -> tuple[dict, list]:
    """A small scored clip (a square moving over a gradient) with two results and a sheet."""
    rng = np.random.default_rng(0)
    scorer = SequenceScorer(["steady", "noisy"])
    sheet = []
    for i in range(frames):
        truth = np.zeros((24, 32, 3), np.uint8)
        truth[..., 1] = np.linspace(40, 200, 32).astype(np.uint8)
        truth[..., 2] = 120
        truth[6:14, 2 + 3 * i:10 + 3 * i] = (220, 30, 30)
        results = {
            "steady": np.clip(truth.astype(np.int16) + (10, 0, -10), 0, 255).astype(np.uint8),
            "noisy": np.clip(truth + rng.integers(-30, 31, truth.shape), 0, 255).astype(np.uint8),
        }
        scorer.add(truth, results)
        if i in (1, 4):
            sheet.append((f"frame {i}", comparison_row(truth, results)))
    summary = scorer.summary()
    summary["truth_video"] = "synthetic.mkv"
    return summary, sheet


def test_format_value() -> None:
    assert format_value(0.000123456) == "0.0001235"
    assert format_value(18.53049) == "18.53"
    assert format_value(7) == "7"
    assert format_value("inf") == "inf" and format_value(float("inf")) == "inf"
    assert format_value(None) == "n/a" and format_value(float("nan")) == "n/a"


def test_format_table_holds_every_number() -> None:
    summary, _ = _clip_summary()
    table = format_table(summary)
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "grey", "steady", "noisy", "truth"]
    assert len(lines) == 2 + len(SUMMARY_METRICS)  # header, rule, one line per metric
    for key, _, _ in SUMMARY_METRICS:
        for name in summary["candidates"]:
            assert format_value(summary["metrics"][name][key]) in table
    psnr_line = next(line for line in lines if line.startswith("PSNR"))
    assert psnr_line.split()[-1] == "inf"  # the truth against itself
    assert psnr_line.split()[-2] == format_value(summary["metrics"]["noisy"]["psnr"])


def test_write_report_files(tmp_path: Path) -> None:
    summary, sheet = _clip_summary()
    index = write_report(tmp_path / "report", summary, sheet, title="Test <report>")
    folder = tmp_path / "report"
    assert index == folder / INDEX_HTML
    assert json.loads((folder / REPORT_JSON).read_text()) == summary
    for name in (CURVES_PNG, SERIES_PNG, "sheet.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert not [p for p in folder.iterdir() if ".part" in p.name]  # no temporaries left
    page = index.read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert sorted(sources) == sorted([CURVES_PNG, "sheet.png", SERIES_PNG])
    assert all((folder / source).is_file() for source in sources)
    assert f'data-images="{len(sources)}"' in page
    assert "http://" not in page and "https://" not in page  # self-contained
    assert "Test &lt;report&gt;" in page  # escaped
    assert "synthetic.mkv" in page  # the caller's metadata is shown
    # every number of the table is in the page, in its cell
    for key, _, _ in SUMMARY_METRICS:
        row = re.search(rf'<tr data-key="{key}">(.*?)</tr>', page).group(1)
        cells = re.findall(r'<td data-candidate="([^"]+)"[^>]*>([^<]*)</td>', row)
        assert cells == [(name, format_value(summary["metrics"][name][key]))
                         for name in summary["candidates"]]


def test_sheet_columns_put_grey_first_and_truth_last(tmp_path: Path) -> None:
    from vidcolor.report.figures import _sheet_columns

    summary, sheet = _clip_summary(2)
    shuffled = [(label, {"truth": row["truth"], "noisy": row["noisy"], "grey": row["grey"]})
                for label, row in sheet]
    assert _sheet_columns(summary, shuffled) == ["grey", "noisy", "truth"]


def test_write_report_without_frames_or_sheet(tmp_path: Path) -> None:
    summary = SequenceScorer(["a"]).summary()
    index = write_report(tmp_path, summary)
    assert "<img" not in index.read_text()
    assert json.loads((tmp_path / REPORT_JSON).read_text())["frames"] == 0


def test_write_report_refuses_nan_and_bad_folders(tmp_path: Path) -> None:
    summary, _ = _clip_summary(2)
    with pytest.raises(ValueError):
        write_report(tmp_path / "a", {**summary, "bad": float("nan")})
    assert not (tmp_path / "a" / REPORT_JSON).exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        write_report(blocker, summary)


# --------------------------------------------------------------------------- the sheet's frames


def _picked(picks: list) -> list[tuple[int, str]]:
    return [(pick.index, pick.reason) for pick in picks]


def test_pick_sheet_frames_takes_the_middles_of_worst_median_and_best_shot() -> None:
    from vidcolor.report.sheet_picks import SHEET_PSNR_CAP, pick_sheet_frames

    # four shots of ten frames; shot 1 is the worst, shot 2 the best, shot 3 the median
    psnr = np.repeat([30.0, 15.0, 40.0, 25.0], 10)
    picks = pick_sheet_frames(psnr, [10, 20, 30], np.full(40, 50.0))
    assert _picked(picks) == [(14, "worst shot"), (24, "best shot"), (34, "median shot")]
    assert [(p.first, p.last, p.score) for p in picks] == [(10, 19, 15.0), (20, 29, 40.0),
                                                           (30, 39, 25.0)]
    # one bad frame does not make a shot the worst: shots are ranked by their mean
    spiky = psnr.copy()
    spiky[5] = 1.0  # shot 0: mean (9 * 30 + 1) / 10 = 27.1, still above shot 1's 15
    assert _picked(pick_sheet_frames(spiky, [10, 20, 30], np.full(40, 50.0)))[0] == \
        (14, "worst shot")
    # an identical frame (inf) counts as SHEET_PSNR_CAP, it does not make its shot the best
    capped = np.concatenate([np.full(9, 20.0), [np.inf], np.full(10, 25.0), np.full(10, np.inf)])
    picks_capped = pick_sheet_frames(capped, [10, 20], np.full(30, 50.0))
    assert [(p.index, p.reason, p.score) for p in picks_capped] == [
        (4, "median shot", (9 * 20 + SHEET_PSNR_CAP) / 10), (14, "worst shot", 25.0),
        (24, "best shot", np.inf)]
    # the shot starts may come in any order; frame 0 is always a start
    assert pick_sheet_frames(psnr, [30, 0, 10, 20], np.full(40, 50.0)) == picks


def test_pick_sheet_frames_never_picks_or_counts_dark_frames() -> None:
    from vidcolor.report.sheet_picks import SHEET_MIN_LIGHTNESS, pick_sheet_frames

    # fade in (0-3), shots 4-13 and 14-23, fade out (24-27); black frames are trivially right
    # (PSNR inf) or, with a tinted result, the worst of all: either way they must not count
    psnr = np.concatenate([[np.inf, 3.0, np.inf, 3.0], np.full(10, 30.0), np.full(10, 20.0),
                           [3.0, np.inf, 3.0, np.inf]])
    light = np.concatenate([[0.5, 2.0, 4.0, 8.0], np.full(20, 60.0), [8.0, 4.0, 2.0, 0.5]])
    light[16:22] = 3.0  # the middle of the second shot is a black gap
    psnr[16:22] = np.inf
    starts = [1, 2, 3, 4, 14, 24, 25, 26, 27]
    picks = pick_sheet_frames(psnr, starts, light)
    assert _picked(picks) == [(8, "best shot"), (15, "worst shot")]
    assert picks[1].score == 20.0  # the black frames of the shot are not in its mean
    assert all(light[p.index] >= SHEET_MIN_LIGHTNESS for p in picks)
    # with every frame dark, the brightest stands in rather than no sheet at all
    dark = pick_sheet_frames([20.0, 10.0, 30.0], [1, 2], [1.0, 3.0, 2.0])
    assert _picked(dark) == [(1, "brightest frame (all dark)")]


def test_pick_sheet_frames_shows_a_credit_screen_apart_from_the_story() -> None:
    from vidcolor.report.sheet_picks import pick_sheet_frames

    # opening credits 0-7 (perfect: they would be the best shot), story 8-15 and 16-23
    psnr = np.concatenate([np.full(8, 50.0), np.full(8, 20.0), np.full(8, 30.0)])
    credit = np.arange(24) < 8
    credit[7] = False  # a frame the credit test missed does not change the shot's kind
    picks = pick_sheet_frames(psnr, [8, 16], np.full(24, 40.0), credit)
    assert _picked(picks) == [(3, "credit screen"), (11, "worst shot"), (19, "best shot")]
    # only credits: they are shown, nothing is ranked
    assert _picked(pick_sheet_frames(psnr[:8], [], np.full(8, 40.0), credit[:8])) == \
        [(3, "credit screen")]


def test_pick_sheet_frames_on_tiny_clips_and_kept_frames() -> None:
    from vidcolor.report.sheet_picks import pick_sheet_frames

    assert pick_sheet_frames([], [], []) == []
    assert _picked(pick_sheet_frames([12.0], [], [50.0])) == [(0, "only shot")]
    assert _picked(pick_sheet_frames([12.0, 14.0], [], [50.0, 50.0])) == [(0, "only shot")]
    assert _picked(pick_sheet_frames([12.0, 14.0], [1], [50.0, 50.0])) == \
        [(0, "worst shot"), (1, "best shot")]
    # equal scores: deterministic, the earlier shot; one frame for both roles, one row
    assert _picked(pick_sheet_frames([np.inf] * 4, [2], [50.0] * 4)) == \
        [(0, "worst shot, best shot")]
    # unknown PSNR: the longest shot stands in
    assert _picked(pick_sheet_frames([np.nan] * 5, [2], [50.0] * 5)) == [(3, "longest shot")]
    # only kept frames are chosen: the nearest to the middle among them
    available = np.zeros(10, bool)
    available[[1, 7]] = True
    assert _picked(pick_sheet_frames(np.full(10, 20.0), [], np.full(10, 50.0),
                                     available=available)) == [(7, "only shot")]
    with pytest.raises(ValueError, match="lightness has 2 frames"):
        pick_sheet_frames([1.0, 2.0, 3.0], [], [50.0, 50.0])
    with pytest.raises(ValueError, match="outside"):
        pick_sheet_frames([1.0, 2.0], [2], [50.0, 50.0])


def _scene_frame(scene: int, step: int) -> np.ndarray:
    """A frame of one of three scenes (its own blocky background) with a sliding square."""
    rng = np.random.default_rng(scene)
    blocks = rng.integers(30, 230, (6, 8, 3)).astype(np.uint8)
    frame = cv2.resize(blocks, (64, 48), interpolation=cv2.INTER_NEAREST)
    frame[20:30, 4 + 2 * step:14 + 2 * step] = (240, 240, 40)
    return frame


def _story_clip() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Fade in (2 frames), three scenes of 10 frames, fade out (2); truths and one result.

    The result is close in scene 0, far off in scene 1, a little off in scene 2, and exact on
    the black frames (whose PSNR is then infinite).
    """
    black = np.full((48, 64, 3), 4, np.uint8)
    truths, results = [black, black], [black, black]
    for scene, tint in enumerate([(6, 0, 0), (90, -60, 0), (20, 0, -10)]):
        for step in range(10):
            truth = _scene_frame(scene, step)
            truths.append(truth)
            results.append(np.clip(truth.astype(np.int16) + tint, 0, 255).astype(np.uint8))
    truths += [black, black]
    results += [black, black]
    return truths, results


def test_sheet_collector_shows_the_worst_shot_and_no_dark_frame(tmp_path: Path) -> None:
    from vidcolor.report.sheet_collector import SheetCollector
    from vidcolor.report.sheet_picks import pick_sheet_frames

    truths, results = _story_clip()
    scorer = SequenceScorer(["result"], temporal=False)
    collector = SheetCollector()
    for truth, result in zip(truths, results, strict=True):
        scorer.add(truth, {"result": result})
        collector.add(truth, {"result": result})
    summary = scorer.summary()
    assert collector.frames == 34
    assert {2, 12, 22, 32} <= set(collector.shot_starts)  # the cuts and the fades
    picks = collector.picks(summary)
    # scene 1 (frames 12-21) is the worst: its middle frame is on the sheet, as are the
    # others' middles; the first and last frames (black) are not
    assert _picked(picks) == [(6, "best shot"), (16, "worst shot"), (26, "median shot")]
    assert all(collector.lightness[p.index] >= collector.min_lightness for p in picks)
    # the collector kept exactly the frames the pure function picks from all of them
    assert picks == pick_sheet_frames([float(v) for v in summary["series"]["psnr"]["result"]],
                                      collector.shot_starts, collector.lightness,
                                      collector.credit)
    rows = collector.rows(summary)
    assert [row.label.splitlines()[:2] for row in rows] == [
        ["frame 6", "best shot"], ["frame 16", "worst shot"], ["frame 26", "median shot"]]
    worst = rows[1]
    assert np.array_equal(worst.frames["truth"], truths[16])
    assert np.array_equal(worst.frames["result"], results[16])
    assert list(worst.frames) == ["grey", "result", "truth"]
    psnr_16 = summary["series"]["psnr"]["result"][16]
    assert worst.notes["result"] == f"PSNR {format_value(psnr_16)} dB"
    assert "truth" not in worst.notes
    index = write_report(tmp_path, summary, rows)
    page = index.read_text()
    assert "frame 16, worst shot, frames 12–21" in page
    assert (tmp_path / "sheet.png").is_file()


def test_sheet_collector_thins_a_long_shot_and_stays_near_its_middle() -> None:
    from vidcolor.report.sheet_collector import SheetCollector

    collector = SheetCollector(buffer=4)
    summary_psnr = []
    for step in range(50):
        frame = _scene_frame(0, step % 20)
        collector.add(frame, {"result": frame})
        assert len(collector._running) <= 4  # bounded, however long the shot
        summary_psnr.append("inf")
    summary = {"candidates": ["grey", "result", "truth"],
               "series": {"psnr": {"result": summary_psnr}}}
    (pick,) = collector.picks(summary)
    assert collector.shot_starts == [0]
    # every 8th frame held by the end: the row is within half of that of the true middle
    assert pick.reason == "only shot" and abs(pick.index - 24.5) <= 4


def test_sheet_collector_on_an_all_dark_clip_shows_the_brightest_frame() -> None:
    from vidcolor.report.sheet_collector import SheetCollector

    collector = SheetCollector()
    for value in (2, 9, 5):
        frame = np.full((24, 32, 3), value, np.uint8)
        collector.add(frame, {"result": frame})
    summary = {"candidates": ["grey", "result", "truth"],
               "series": {"psnr": {"result": ["inf"] * 3}}}
    (row,) = collector.rows(summary)
    assert row.label.splitlines()[:2] == ["frame 1", "brightest frame (all dark)"]
    assert int(row.frames["truth"].max()) == 9
