"""The report folder: :func:`write_report` writes ``report.json``, the pictures and
``index.html`` of a scorer summary, all or none.

The files are made in memory, written and synced under temporary names, and renamed only when
all of them are on disk (:func:`write_files_atomic`): a full disk leaves the earlier report
whole, and ``index.html``, renamed last, never points at pictures that are not there.
"""

from __future__ import annotations

import contextlib
import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidcolor.errors import OutputError
from vidcolor.fsutil import atomic_path, ensure_writable_dir, json_bytes
from vidcolor.report.figures import plot_error_curves, plot_series, plot_sheet
from vidcolor.report.page import CAPTIONS, page_html
from vidcolor.report.sheet_collector import SheetRow

__all__ = [
    "REPORT_JSON",
    "INDEX_HTML",
    "CURVES_PNG",
    "SERIES_PNG",
    "write_report",
    "write_files_atomic",
]


REPORT_JSON = "report.json"
INDEX_HTML = "index.html"
CURVES_PNG = "error_curves.png"
SERIES_PNG = "per_frame.png"


def write_report(directory: str | os.PathLike[str], summary: Mapping[str, Any],
                 sheet: Sequence[SheetRow | tuple[str, Mapping[str, np.ndarray]]] = (),
                 title: str = "vidcolor evaluation") -> Path:
    """Write the report of a scorer summary into ``directory`` (created if needed).

    Args:
        directory: output folder; files of an earlier report there are replaced.
        summary: :meth:`vidcolor.metrics.SequenceScorer.summary`, plus any metadata the
            caller adds (extra top-level keys are shown on the page and kept in the JSON).
        sheet: rows of the comparison sheet: :class:`SheetRow` (e.g. from
            :meth:`~vidcolor.report.sheet_collector.SheetCollector.rows`) or plain
            ``(label, {candidate: uint8 RGB frame})`` pairs (e.g. from
            :func:`vidcolor.metrics.comparison_row`); empty: no sheet.
        title: the page's title.

    Returns:
        The path of ``index.html``.

    Raises:
        OutputError: the folder cannot be created or written.
        ValueError: the summary is not JSON-able (NaN or infinity in it).
    """
    folder = ensure_writable_dir(directory)
    report = json_bytes(summary, allow_nan=False)  # fails (NaN) before anything is written
    images = []
    files = []
    if summary.get("frames"):
        files.append((CURVES_PNG, plot_error_curves(summary)))
        images.append((CURVES_PNG, "cumulative αβ error curves", CAPTIONS["curves"]))
    if sheet:
        rows = [SheetRow(*row) for row in sheet]
        files.append(plot_sheet(summary, rows))
        listed = "; ".join(html.escape(row.label.replace("\n", ", ")) for row in rows)
        images.append((files[-1][0], "comparison sheet",
                       f"{CAPTIONS['sheet']} Rows: {listed}."))
    if summary.get("frames"):
        files.append((SERIES_PNG, plot_series(summary)))
        images.append((SERIES_PNG, "PSNR and warp error per frame", CAPTIONS["series"]))
    files.append((REPORT_JSON, report))
    files.append((INDEX_HTML, page_html(title, summary, images).encode("utf-8")))
    write_files_atomic(folder, files)
    return folder / INDEX_HTML


def write_files_atomic(folder: Path, files: Sequence[tuple[str, bytes]]) -> None:
    """Write the files of a report into ``folder``, all or none.

    Each file is first written and synced under a temporary name; only when every one is on
    disk are they renamed onto their names, in the order given (the page last, so it never
    points at pictures that are not there). A full disk or ``ulimit -f`` therefore leaves the
    earlier report as it was, and no temporary file behind.

    Raises:
        OutputError: a file's name is taken by a folder or a file that cannot be replaced, or
            the storage refused a write.
    """
    for name, _ in files:
        target = folder / name
        if target.is_dir() or (target.exists() and not os.access(target, os.W_OK)):
            raise OutputError(f"{target}: exists and cannot be replaced (a folder or a "
                              "read-only file); remove it or choose another report folder")
    with contextlib.ExitStack() as stack:
        for name, data in reversed(files):  # the stack renames the first entered last
            tmp = stack.enter_context(atomic_path(folder / name, allow_empty=not data))
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
