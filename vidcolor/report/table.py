"""Numbers as text: one format for every figure, the metric rows, the terminal table.

:func:`format_value` formats every number the report shows (4 significant digits, ``inf``,
``n/a``), so the page, the table and ``report.json`` can be compared; :func:`format_table` is
the plain-text table ``vidcolor evaluate`` prints. The small readers of a scorer summary the
figures and the page share (:func:`candidate_names`, :func:`series_values`) live here too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vidcolor.metrics import LIGHTNESS_BANDS, METRICS, band_key

__all__ = [
    "ARROWS",
    "format_value",
    "metric_rows",
    "candidate_names",
    "series_values",
    "format_table",
]


MISSING = "n/a"

ARROWS = {"lower": " ↓", "higher": " ↑", "": ""}
"""The mark of each direction of :attr:`vidcolor.metrics.Metric.better` in a table's label."""


def format_value(value: Any) -> str:
    """One number as the table, the page and the screenshot check print it.

    >>> [format_value(v) for v in (0.123456, 1234567.0, 12, "inf", None, float("inf"))]
    ['0.1235', '1.235e+06', '12', 'inf', 'n/a', 'inf']
    """
    if value is None:
        return MISSING
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    number = float(value)
    if np.isnan(number):
        return MISSING
    if np.isinf(number):
        return "inf" if number > 0 else "-inf"
    return f"{number:.4g}"


def metric_rows(summary: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(key, label, better)`` of the metrics the summary holds, in table order
    (:data:`vidcolor.metrics.METRICS`).

    Band rows say what share of the truth's pixels the band holds.
    """
    metrics = summary.get("metrics", {})
    present = {key for values in metrics.values() for key in values}
    pixels = summary.get("band_pixels") or []
    total = sum(pixels)
    band_share = {}
    for (low, high), count in zip(LIGHTNESS_BANDS, pixels, strict=False):
        if total:
            band_share[band_key(low, high)] = f" ({100 * count / total:.1f}% of pixels)"
    return [(metric.key, metric.label + band_share.get(metric.key, ""), metric.better)
            for metric in METRICS if metric.key in present]


def candidate_names(summary: Mapping[str, Any]) -> list[str]:
    """The summary's candidates in column order (grey, the results, the truth)."""
    return list(summary.get("candidates") or summary.get("metrics", {}))


def series_values(values: Sequence[Any]) -> np.ndarray:
    """Per-frame series as floats: ``None`` -> NaN (a gap), ``"inf"`` -> inf."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def format_table(summary: Mapping[str, Any]) -> str:
    """The plain-text table of every metric (rows) and candidate (columns) of a summary.

    Arrows say which way is better; the truth column is the floor of the temporal measures
    (its per-frame measures are trivially perfect).
    """
    names = candidate_names(summary)
    metrics = summary.get("metrics", {})
    header = ["metric", *names]
    lines = [header]
    for key, label, better in metric_rows(summary):
        lines.append([label + ARROWS[better],
                      *(format_value(metrics[name].get(key)) for name in names)])
    widths = [max(len(row[column]) for row in lines) for column in range(len(header))]
    text = []
    for index, row in enumerate(lines):
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        text.append("  ".join(cells).rstrip())
        if index == 0:
            text.append("  ".join("-" * width for width in widths))
    return "\n".join(text)
