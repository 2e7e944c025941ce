"""The season report: one table of a season render's episodes, as text and as a web page.

:func:`format_season_report` is the text ``vidcolor evaluate --season`` prints (one row per
episode: frames, render seconds, frames/s and the figures of :data:`SEASON_KEYS`, result beside
truth or grey; the season's totals; the episodes' problems below);
:func:`write_season_report` writes ``report.json``, ``season.txt`` and ``index.html``, each
episode linked to its own report folder. The report itself is made by
:func:`vidcolor.evaluation.season.evaluate_season`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any
from urllib.parse import quote

from vidcolor.fsutil import ensure_writable_dir, json_bytes
from vidcolor.metrics import metric_named
from vidcolor.report.table import ARROWS, format_value
from vidcolor.report.writer import INDEX_HTML, REPORT_JSON, write_files_atomic

__all__ = [
    "SEASON_KEYS",
    "SEASON_TEXT",
    "season_columns",
    "season_rows",
    "format_season_report",
    "season_notes",
    "write_season_report",
]


SEASON_KEYS = ("psnr", "ab_rmse", "colourfulness", "warp_error")
SEASON_TEXT = "season.txt"


def season_columns() -> list[tuple[str, str, str]]:
    """The season table's figure columns: ``(key, candidate, header)``, two per figure of
    :data:`SEASON_KEYS`: the result's, then the one it is read against (the truth's for
    temporal figures and those without a direction, else grey's)."""
    columns = []
    for key in SEASON_KEYS:
        metric = metric_named(key)
        beside = "truth" if metric.temporal or not metric.better else "grey"
        columns += [(key, "result", metric.short + ARROWS[metric.better]),
                    (key, beside, beside)]
    return columns


def season_rows(report: dict[str, Any]) -> list[list[str]]:
    """The season table as text cells: a header, one row per episode, the season's row."""
    columns = season_columns()

    def cells(metrics: dict[str, Any] | None) -> list[str]:
        if not metrics:
            return [""] * len(columns)
        return [format_value(metrics[who].get(key)) for key, who, _ in columns]

    def seconds(value: float, show: bool) -> str:
        return f"{value:.1f}" if show else ""

    rows = [["episode", "status", "frames", "seconds", "fps",
             *(label for _, _, label in columns)]]
    for e in report["episodes"]:
        rendered = e["status"] != "failed"
        rows.append([e["episode"], e["status"], str(e["frames"]) if rendered else "",
                     seconds(e["seconds"], rendered), format_value(e["fps"]) if e["fps"] else "",
                     *cells(e["metrics"])])
    totals = report["totals"]
    rows.append([f"season ({totals['episodes']})", f"{totals['scored']} scored",
                 str(totals["frames"]), seconds(totals["seconds"], True),
                 format_value(totals["fps"]) if totals["fps"] else "",
                 *cells(totals["metrics"] if totals["scored"] else None)])
    return rows


def format_season_report(report: dict[str, Any]) -> str:
    """The season table as plain text, with the episodes' problems and a legend below."""
    rows = season_rows(report)
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        if index == len(rows) - 1:
            lines.append("  ".join("-" * width for width in widths))
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines + season_notes(report))


def season_notes(report: dict[str, Any]) -> list[str]:
    """What the season table leaves out: each episode's problem, and how to read it."""
    notes = []
    for e in report["episodes"]:
        if e["status"] == "failed":
            notes.append(f"{e['episode']}: render failed: {e['message'].strip()}")
        elif e["error"]:
            notes.append(f"{e['episode']}: not scored: {e['error']}")
        elif report["truth"] is not None and e["truth"] is None:
            notes.append(f"{e['episode']}: no colour original in {report['truth']}")
    totals = report["totals"]
    notes.append(f"{totals['done']} rendered by the last run, {totals['skipped']} skipped "
                 f"(already rendered), {totals['failed']} failed. Seconds and fps are those of "
                 "the render that made each output; the season row's figures are "
                 "frame-weighted means over the scored episodes.")
    return notes


def write_season_report(folder: Path, report: dict[str, Any]) -> None:
    ensure_writable_dir(folder)
    rows = season_rows(report)
    body = []
    for index, row in enumerate(rows[1:], start=1):
        name = html.escape(row[0])
        episode = report["episodes"][index - 1] if index < len(rows) - 1 else None
        if episode is not None and episode["metrics"]:
            link = html.escape(quote(f"{episode['report']}/{INDEX_HTML}"))
            name = f'<a href="{link}">{name}</a>'
        body.append(f"<tr><th>{name}</th>" + "".join(f"<td>{html.escape(cell)}</td>"
                                                    for cell in row[1:]) + "</tr>")
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in rows[0])
    title = f"vidcolor season report: {report['season']}"
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
            "th,td{border:1px solid #ccc;padding:.25em .6em}td{text-align:right}"
            "tbody th{text-align:left;font-weight:normal}</style></head>\n"
            f"<body><h1>{html.escape(title)}</h1><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
            + "".join(f"<p>{html.escape(note)}</p>" for note in season_notes(report)) +
            "</body></html>\n")
    write_files_atomic(folder, [
        (REPORT_JSON, json_bytes(report, allow_nan=False)),
        (SEASON_TEXT, (format_season_report(report) + "\n").encode("utf-8")),
        (INDEX_HTML, page.encode("utf-8"))])
