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
from vidcolor.report import (
    CURVES_PNG,
    INDEX_HTML,
    REPORT_JSON,
    SERIES_PNG,
    format_table,
    format_value,
    write_report,
)


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
    from vidcolor.report import _sheet_columns

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
