"""The report's pictures: error curves, the per-frame plot and the comparison sheet.

Each function draws one figure of a scorer summary with matplotlib's object API (Agg canvas;
no pyplot state) and returns its encoded bytes; nothing is written here.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vidcolor.report.sheet_collector import SHEET_THUMB_WIDTH, SheetRow, sheet_thumbnail
from vidcolor.report.table import candidate_names, series_values

__all__ = [
    "SHEET_NAME",
    "SHEET_JPEG_PIXELS",
    "plot_error_curves",
    "plot_series",
    "plot_sheet",
]


SHEET_NAME = "sheet"
SHEET_JPEG_PIXELS = 8_000_000
"""A sheet larger than this (pixels) is written as JPEG instead of PNG."""


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


def _encode_figure(figure: Any, image_format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format, **options)
    return buffer.getvalue()


def plot_error_curves(summary: Mapping[str, Any]) -> bytes:
    cumulative = summary["cumulative"]
    names = [name for name in candidate_names(summary) if name != "truth"]
    styles = _colours(candidate_names(summary))
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
    return _encode_figure(figure, "png")


def plot_series(summary: Mapping[str, Any]) -> bytes:
    series = summary["series"]
    names = candidate_names(summary)
    styles = _colours(names)
    figure = _figure(10, 5.5)
    psnr_axes, warp_axes = figure.subplots(2, 1, sharex=True)
    for name in names:
        colour, style = styles[name]
        frames = np.arange(len(series["psnr"][name]))
        psnr = series_values(series["psnr"][name])
        if np.isfinite(psnr).any():  # identical frames (the truth) have no finite PSNR
            psnr_axes.plot(frames, np.where(np.isfinite(psnr), psnr, np.nan), color=colour,
                           linestyle=style, linewidth=1, label=name)
        warp = series_values(series["warp_error"][name])
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
    return _encode_figure(figure, "png")


def _sheet_columns(summary: Mapping[str, Any], sheet: Sequence[SheetRow]) -> list[str]:
    """Grey first, then the results, then the truth; names only some rows have come last."""
    order = [name for name in candidate_names(summary) if name not in ("grey", "truth")]
    present: list[str] = []
    for row in sheet:
        present += [name for name in row[1] if name not in present]
    middle = [name for name in order if name in present]
    middle += [name for name in present if name not in middle and name not in ("grey", "truth")]
    return (["grey"] if "grey" in present else []) + middle + \
        (["truth"] if "truth" in present else [])


def plot_sheet(summary: Mapping[str, Any], sheet: Sequence[SheetRow]) -> tuple[str, bytes]:
    """The comparison sheet's file name (PNG, or JPEG when very large) and bytes."""
    columns = _sheet_columns(summary, sheet)
    thumbs = [[sheet_thumbnail(row.frames[name]) if name in row.frames else None
               for name in columns] for row in sheet]
    aspect = max(t.shape[0] / t.shape[1] for row in thumbs for t in row if t is not None)
    cell = SHEET_THUMB_WIDTH / 100
    noted = any(row.notes for row in sheet)
    figure = _figure(cell * len(columns) + 1.4,
                     (cell * aspect + 0.3 + 0.25 * noted) * len(sheet) + 0.3)
    axes = np.atleast_2d(figure.subplots(len(sheet), len(columns), squeeze=False))
    for row_index, (row, row_thumbs) in enumerate(zip(sheet, thumbs, strict=True)):
        for column_index, (name, thumb) in enumerate(zip(columns, row_thumbs, strict=True)):
            ax = axes[row_index, column_index]
            ax.set_xticks([])
            ax.set_yticks([])
            if thumb is not None:
                ax.imshow(thumb, interpolation="nearest")
                if row.notes and name in row.notes:
                    ax.set_xlabel(row.notes[name], fontsize="small")
            else:
                ax.set_axis_off()
            if row_index == 0:
                ax.set_title(name)
            if column_index == 0:
                ax.set_ylabel(row.label, fontsize="small")
    width, height = figure.get_size_inches() * figure.dpi
    if width * height > SHEET_JPEG_PIXELS:
        return f"{SHEET_NAME}.jpg", _encode_figure(figure, "jpg", pil_kwargs={"quality": 90})
    return f"{SHEET_NAME}.png", _encode_figure(figure, "png")
