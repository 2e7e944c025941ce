"""The scoring loop every mode of ``vidcolor evaluate`` shares.

:func:`score_frames` feeds ``(truth, {result name: rgb})`` frames to one
:class:`vidcolor.metrics.SequenceScorer` and, when asked, writes the report folder with its
comparison sheet; :func:`check_report_dir` refuses a report folder before any work.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidcolor import progress as progress_mod
from vidcolor.errors import InputError


def check_report_dir(report_dir: str | os.PathLike[str]) -> None:
    """Refuse a report folder (``-o``) that cannot be made, before any work.

    Raises:
        OutputError: it is a file, lies under a file, or cannot be written.
    """
    from vidcolor.inference.outputs import check_output_folder

    check_output_folder(Path(report_dir), "report folder")


def score_frames(frames: Iterator[tuple[np.ndarray, dict[str, np.ndarray]]],
                 names: Sequence[str], count: int, meta: dict[str, Any],
                 report_dir: str | os.PathLike[str] | None, progress: bool, title: str
                 ) -> dict[str, Any]:
    """Score ``(truth, {result name: rgb})`` frames with one scorer; write the report folder.

    Args:
        frames: per frame, the truth and each result (named as in ``names``).
        names: the results' names, in column order.
        count: the number of frames (for the progress bar).
        meta: what was scored; kept as the summary's ``meta`` entry.
        report_dir: write a report folder there (with its comparison sheet); None: none.
        progress: show a progress bar.
        title: the report page's title.

    Returns:
        The summary (:meth:`vidcolor.metrics.SequenceScorer.summary` + ``meta``).

    Raises:
        InputError: a frame the scorer refuses (naming the frame).
    """
    from vidcolor.metrics import SequenceScorer
    from vidcolor.report.sheet_collector import SheetCollector
    from vidcolor.report.writer import write_report

    scorer = SequenceScorer(names)
    # the report's comparison sheet is chosen after scoring (worst, best shot, ...)
    sheet = SheetCollector() if report_dir is not None else None
    with progress_mod.bar(total=count, desc="evaluate", unit="frame", enabled=progress) as bar:
        for index, (truth, results) in enumerate(frames):
            try:
                scorer.add(truth, results)
            except (ValueError, TypeError) as exc:
                raise InputError(f"frame {index}: {exc}") from None
            if sheet is not None:
                sheet.add(truth, results)
            bar.update(1)
    summary = scorer.summary()
    summary["meta"] = meta
    if report_dir is not None:
        assert sheet is not None
        write_report(Path(report_dir), summary, sheet.rows(summary), title=title)
    return summary
