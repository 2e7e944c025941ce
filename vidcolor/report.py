"""The evaluation report: a terminal table, ``report.json``, plots and a self-contained web page.

:func:`format_table` prints the numbers of a :meth:`vidcolor.metrics.SequenceScorer.summary`
(one row per metric, one column per candidate: grey, the results, the truth);
:func:`write_report` writes, into one folder,

- ``report.json``: the summary as given (plus whatever metadata the caller put in it),
- ``error_curves.png``: cumulative αβ-error curves per pixel and per frame (thesis Fig. 8.1),
- ``sheet.png`` (``sheet.jpg`` when very large): rows of frames, columns grey / results / truth
  (thesis Fig. 8.3),
- ``per_frame.png``: PSNR and warp error per frame (flicker shows as spikes),
- ``index.html``: the table and the pictures with captions; no external URLs, no libraries.

Every file is written under a temporary name and renamed when complete
(:func:`vidcolor.fsutil.atomic_path`); ``index.html`` comes last, so a page never points at
pictures that are not there yet. Numbers are formatted by :func:`format_value` everywhere (4
significant digits, ``inf``, ``n/a``), so the page, the table and ``report.json`` can be compared.
Plots use matplotlib's object API (Agg canvas; no pyplot state).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidcolor.fsutil import atomic_path, ensure_writable_dir, write_json_atomic
from vidcolor.metrics import LIGHTNESS_BANDS, SUMMARY_METRICS

__all__ = [
    "REPORT_JSON",
    "INDEX_HTML",
    "CURVES_PNG",
    "SERIES_PNG",
    "format_value",
    "metric_rows",
    "format_table",
    "write_report",
]

REPORT_JSON = "report.json"
INDEX_HTML = "index.html"
CURVES_PNG = "error_curves.png"
SERIES_PNG = "per_frame.png"
SHEET_NAME = "sheet"
SHEET_THUMB_WIDTH = 320
"""Width in pixels of each frame on the comparison sheet."""
SHEET_JPEG_PIXELS = 8_000_000
"""A sheet larger than this (pixels) is written as JPEG instead of PNG."""
MISSING = "n/a"

_ARROWS = {"lower": " ↓", "higher": " ↑", "": ""}
_KNOWN_KEYS = {"frames", "frame_size", "candidates", "metrics", "lightness_bands", "band_pixels",
               "series", "cumulative", "settings"}


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
    """``(key, label, better)`` of the metrics the summary holds, in table order.

    Band rows say what share of the truth's pixels the band holds.
    """
    metrics = summary.get("metrics", {})
    present = {key for values in metrics.values() for key in values}
    pixels = summary.get("band_pixels") or []
    total = sum(pixels)
    band_share = {}
    for (low, high), count in zip(LIGHTNESS_BANDS, pixels, strict=False):
        if total:
            band_share[f"ab_l{low:g}_{high:g}"] = f" ({100 * count / total:.1f}% of pixels)"
    rows = []
    for key, label, better in SUMMARY_METRICS:
        if key in present:
            rows.append((key, label + band_share.get(key, ""), better))
    return rows


def _candidates(summary: Mapping[str, Any]) -> list[str]:
    return list(summary.get("candidates") or summary.get("metrics", {}))


def format_table(summary: Mapping[str, Any]) -> str:
    """The plain-text table of every metric (rows) and candidate (columns) of a summary.

    Arrows say which way is better; the truth column is the floor of the temporal measures
    (its per-frame measures are trivially perfect).
    """
    names = _candidates(summary)
    metrics = summary.get("metrics", {})
    header = ["metric", *names]
    lines = [header]
    for key, label, better in metric_rows(summary):
        lines.append([label + _ARROWS[better],
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


# --------------------------------------------------------------------------- pictures


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _colours(names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(colour, line style) of each candidate: grey dashed grey, truth black, results tab10."""
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
               "tab:pink", "tab:olive", "tab:cyan"]
    styles = {"grey": ("0.55", "--"), "truth": ("black", ":")}
    results = [name for name in names if name not in styles]
    for index, name in enumerate(results):
        styles[name] = (palette[index % len(palette)], "-")
    return styles


def _save(figure: Any, target: Path, image_format: str, **options: Any) -> None:
    with atomic_path(target) as tmp:
        figure.savefig(tmp, format=image_format, **options)


def _plot_error_curves(summary: Mapping[str, Any], target: Path) -> None:
    cumulative = summary["cumulative"]
    names = [name for name in _candidates(summary) if name != "truth"]
    styles = _colours(_candidates(summary))
    figure = _figure(10, 4)
    per_pixel, per_image = figure.subplots(1, 2)
    width = cumulative["pixel_error_max"] / cumulative["pixel_error_bins"]
    x_max = 0.0
    for name in names:
        counts = np.asarray(cumulative["pixel_error_counts"][name], dtype=np.float64)
        if counts.sum() == 0:
            continue
        fraction = np.cumsum(counts) / counts.sum()
        edges = np.arange(1, len(counts) + 1) * width
        x_max = max(x_max, float(edges[np.searchsorted(fraction, 0.999)]))
        colour, style = styles[name]
        per_pixel.plot(np.concatenate(([0.0], edges)), np.concatenate(([0.0], fraction)),
                       color=colour, linestyle=style, label=name)
        errors = np.sort(np.asarray(cumulative["image_errors"][name], dtype=np.float64))
        steps = np.arange(1, len(errors) + 1) / len(errors)
        per_image.step(np.concatenate(([0.0], errors)), np.concatenate(([0.0], steps)),
                       where="post", color=colour, linestyle=style, label=name)
    per_pixel.set_xlim(0, max(x_max, width))
    per_pixel.set(title="per pixel (all frames)", xlabel="αβ error",
                  ylabel="fraction of pixels ≤ error", ylim=(0, 1.01))
    per_image.set(title="per frame (mean over its pixels)", xlabel="mean αβ error",
                  ylabel="fraction of frames ≤ error", ylim=(0, 1.01))
    per_image.set_xlim(left=0)
    for axes in (per_pixel, per_image):
        axes.grid(alpha=0.3)
        axes.legend(loc="lower right")
    _save(figure, target, "png")


def _numbers(values: Sequence[Any]) -> np.ndarray:
    """Per-frame series as floats: ``None`` -> NaN (a gap), ``"inf"`` -> inf."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _plot_series(summary: Mapping[str, Any], target: Path) -> None:
    series = summary["series"]
    names = _candidates(summary)
    styles = _colours(names)
    figure = _figure(10, 5.5)
    psnr_axes, warp_axes = figure.subplots(2, 1, sharex=True)
    for name in names:
        colour, style = styles[name]
        frames = np.arange(len(series["psnr"][name]))
        psnr = _numbers(series["psnr"][name])
        if np.isfinite(psnr).any():  # identical frames (the truth) have no finite PSNR
            psnr_axes.plot(frames, np.where(np.isfinite(psnr), psnr, np.nan), color=colour,
                           linestyle=style, linewidth=1, label=name)
        warp = _numbers(series["warp_error"][name])
        if np.isfinite(warp).any():
            label = f"{name} (floor)" if name == "truth" else name
            warp_axes.plot(frames, warp, color=colour, linestyle=style, linewidth=1, label=label)
    psnr_axes.set(ylabel="PSNR (dB)", title="per frame: PSNR (higher is better)")
    warp_axes.set(xlabel="frame", ylabel="warp error",
                  title="warp error of frames t-1, t (lower is better; spikes are flicker)")
    for axes in (psnr_axes, warp_axes):
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(loc="upper right", fontsize="small")
    _save(figure, target, "png")


def _thumbnail(rgb: np.ndarray) -> np.ndarray:
    frame = np.asarray(rgb)
    height, width = frame.shape[:2]
    if width <= SHEET_THUMB_WIDTH:
        return frame
    size = (SHEET_THUMB_WIDTH, max(1, round(height * SHEET_THUMB_WIDTH / width)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _sheet_columns(summary: Mapping[str, Any],
                   sheet: Sequence[tuple[str, Mapping[str, np.ndarray]]]) -> list[str]:
    """Grey first, then the results, then the truth; names only some rows have come last."""
    order = [name for name in _candidates(summary) if name not in ("grey", "truth")]
    present: list[str] = []
    for _, row in sheet:
        present += [name for name in row if name not in present]
    middle = [name for name in order if name in present]
    middle += [name for name in present if name not in middle and name not in ("grey", "truth")]
    return (["grey"] if "grey" in present else []) + middle + \
        (["truth"] if "truth" in present else [])


def _plot_sheet(summary: Mapping[str, Any],
                sheet: Sequence[tuple[str, Mapping[str, np.ndarray]]], directory: Path) -> str:
    columns = _sheet_columns(summary, sheet)
    thumbs = [[_thumbnail(row[name]) if name in row else None for name in columns]
              for _, row in sheet]
    aspect = max(t.shape[0] / t.shape[1] for row in thumbs for t in row if t is not None)
    cell = SHEET_THUMB_WIDTH / 100
    figure = _figure(cell * len(columns) + 0.6, (cell * aspect + 0.3) * len(sheet) + 0.3)
    axes = np.atleast_2d(figure.subplots(len(sheet), len(columns), squeeze=False))
    for row_index, ((label, _), row) in enumerate(zip(sheet, thumbs, strict=True)):
        for column_index, (name, thumb) in enumerate(zip(columns, row, strict=True)):
            ax = axes[row_index, column_index]
            ax.set_xticks([])
            ax.set_yticks([])
            if thumb is not None:
                ax.imshow(thumb, interpolation="nearest")
            else:
                ax.set_axis_off()
            if row_index == 0:
                ax.set_title(name)
            if column_index == 0:
                ax.set_ylabel(label)
    width, height = figure.get_size_inches() * figure.dpi
    if width * height > SHEET_JPEG_PIXELS:
        name = f"{SHEET_NAME}.jpg"
        _save(figure, directory / name, "jpg", pil_kwargs={"quality": 90})
    else:
        name = f"{SHEET_NAME}.png"
        _save(figure, directory / name, "png")
    return name


# --------------------------------------------------------------------------- page

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td { text-align: right; }
thead th { background: #eee; }
tbody th { text-align: left; font-weight: normal; }
td.best { font-weight: bold; }
th.truth, td.truth { background: #f4f4f4; color: #555; }
figure { margin: 1.5em 0; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; max-width: 60em; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1em;
     font-size: 0.9em; }
dt { font-weight: bold; } dd { margin: 0; overflow-wrap: anywhere; }
"""

# Each <img> reports to the body's data attributes, and once everything has loaded the page
# writes its scroll size there too: a headless browser's --dump-dom then shows both.
_SCRIPT = """
function imageLoaded() {
  var body = document.body; body.dataset.loaded = Number(body.dataset.loaded) + 1;
}
function imageFailed(img) {
  var body = document.body; body.dataset.failed = Number(body.dataset.failed) + 1;
  body.dataset.failedSrc = (body.dataset.failedSrc || "") + img.getAttribute("src") + " ";
}
window.addEventListener("load", function () {
  var root = document.documentElement, body = document.body;
  body.dataset.scrollWidth = Math.max(root.scrollWidth, body.scrollWidth);
  body.dataset.scrollHeight = Math.max(root.scrollHeight, body.scrollHeight);
});
"""


def _best(metrics: Mapping[str, Any], names: Sequence[str], key: str, better: str) -> set[str]:
    """The results (not grey, not truth) with the best value of a metric that has a direction.

    Grey is left out: it is trivially steady, so it would "win" every temporal measure.
    """
    if not better:
        return set()
    values = {}
    for name in names:
        value = metrics[name].get(key)
        if name not in ("grey", "truth") and value is not None:
            values[name] = float(value)
    if len(values) < 2:
        return set()
    target = min(values.values()) if better == "lower" else max(values.values())
    return {name for name, value in values.items() if value == target}


def _table_html(summary: Mapping[str, Any]) -> str:
    names = _candidates(summary)
    metrics = summary["metrics"]
    head = "".join(
        f'<th class="{"truth" if name == "truth" else "candidate"}" '
        f'data-candidate="{html.escape(name)}">'
        f'{html.escape(name + (" (floor)" if name == "truth" else ""))}</th>' for name in names)
    rows = []
    for key, label, better in metric_rows(summary):
        best = _best(metrics, names, key, better)
        cells = "".join(
            f'<td data-candidate="{html.escape(name)}" class="'
            f'{"truth" if name == "truth" else ""}{" best" if name in best else ""}">'
            f"{html.escape(format_value(metrics[name].get(key)))}</td>" for name in names)
        rows.append(f'<tr data-key="{html.escape(key)}"><th>{html.escape(label)}'
                    f"{_ARROWS[better]}</th>{cells}</tr>")
    return (f'<table id="metrics"><thead><tr><th>metric</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _details_html(summary: Mapping[str, Any]) -> str:
    items = []
    size = summary.get("frame_size") or [0, 0]
    items.append(("frames", f"{summary.get('frames', 0)} at {size[0]}×{size[1]}"))
    for key, value in summary.items():
        if key not in _KNOWN_KEYS:
            items.append((key, value if isinstance(value, str) else json.dumps(value)))
    for key, value in (summary.get("settings") or {}).items():
        items.append((key, value if isinstance(value, str) else json.dumps(value)))
    return "<dl>" + "".join(f"<dt>{html.escape(str(key))}</dt><dd>{html.escape(str(value))}</dd>"
                            for key, value in items) + "</dl>"


def _figure_html(source: str, alt: str, caption: str) -> str:
    return (f'<figure><img src="{html.escape(source)}" alt="{html.escape(alt)}" '
            f'onload="imageLoaded()" onerror="imageFailed(this)">'
            f"<figcaption>{caption}</figcaption></figure>")


_CAPTIONS = {
    "table": "One row per metric (↓ lower is better, ↑ higher is better; the best result in "
             "bold), one column per candidate. <em>grey</em> is the all-grey "
             "baseline (the truth's own L, a = b = 0). <em>truth</em> is the truth scored "
             "against itself: its per-frame figures are trivially perfect, and its warp error "
             "and CDC are the floor set by the video's own motion and cuts, so read every "
             "temporal figure beside it. RMSE αβ is the thesis's eq. 8.1 (a mean distance); "
             "PA is the fraction of pixels made inconsistent; AuC is Zhang et al.'s, plain and "
             "class-rebalanced; colourfulness is Hasler &amp; Süsstrunk's M (close to the "
             "truth's is right).",
    "curves": "Cumulative distribution of αβ errors (thesis Fig. 8.1): left, per pixel over all "
              "frames; right, per frame (its mean over pixels). Curves further up and to the "
              "left are better. The truth (all errors 0) is not drawn.",
    "sheet": "Comparison sheet (thesis Fig. 8.3): each row one frame; columns the grey input, "
             "each result, and the truth.",
    "series": "Per frame: PSNR (top; the truth's is infinite and not drawn) and warp error of "
              "the pair ending at that frame (bottom; the truth's dotted line is the floor). "
              "Flicker shows as spikes above the floor.",
}


def _page(title: str, summary: Mapping[str, Any], images: list[tuple[str, str, str]]) -> str:
    figures = "".join(_figure_html(*image) for image in images)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script>{_SCRIPT}</script></head>\n"
        f'<body data-images="{len(images)}" data-loaded="0" data-failed="0">'
        f"<h1>{html.escape(title)}</h1>{_details_html(summary)}"
        f"{_table_html(summary)}<p><small>{_CAPTIONS['table']}</small></p>"
        f"{figures}</body></html>\n"
    )


def write_report(directory: str | os.PathLike[str], summary: Mapping[str, Any],
                 sheet: Sequence[tuple[str, Mapping[str, np.ndarray]]] = (),
                 title: str = "vidcolor evaluation") -> Path:
    """Write the report of a scorer summary into ``directory`` (created if needed).

    Args:
        directory: output folder; files of an earlier report there are replaced.
        summary: :meth:`vidcolor.metrics.SequenceScorer.summary`, plus any metadata the
            caller adds (extra top-level keys are shown on the page and kept in the JSON).
        sheet: rows of the comparison sheet: ``(label, {candidate: uint8 RGB frame})``, e.g.
            from :func:`vidcolor.metrics.comparison_row`; empty: no sheet.
        title: the page's title.

    Returns:
        The path of ``index.html``.

    Raises:
        OutputError: the folder cannot be created or written.
        ValueError: the summary is not JSON-able (NaN or infinity in it).
    """
    folder = ensure_writable_dir(directory)
    json.dumps(summary, allow_nan=False)  # fail before writing anything
    images = []
    if summary.get("frames"):
        _plot_error_curves(summary, folder / CURVES_PNG)
        images.append((CURVES_PNG, "cumulative αβ error curves", _CAPTIONS["curves"]))
    if sheet:
        name = _plot_sheet(summary, sheet, folder)
        images.append((name, "comparison sheet", _CAPTIONS["sheet"]))
    if summary.get("frames"):
        _plot_series(summary, folder / SERIES_PNG)
        images.append((SERIES_PNG, "PSNR and warp error per frame", _CAPTIONS["series"]))
    write_json_atomic(folder / REPORT_JSON, summary)
    index = folder / INDEX_HTML
    with atomic_path(index) as tmp:
        tmp.write_text(_page(title, summary, images), encoding="utf-8")
    return index
