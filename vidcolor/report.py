"""The evaluation report: a terminal table, ``report.json``, plots and a self-contained web page.

:func:`format_table` prints the numbers of a :meth:`vidcolor.metrics.SequenceScorer.summary`
(one row per metric, one column per candidate: grey, the results, the truth);
:func:`write_report` writes, into one folder,

- ``report.json``: the summary as given (plus whatever metadata the caller put in it),
- ``error_curves.png``: cumulative αβ-error curves per pixel and per frame (thesis Fig. 8.1),
- ``sheet.png`` (``sheet.jpg`` when very large): rows of frames, columns grey / results / truth
  (thesis Fig. 8.3), each row labelled with its frame number and why it is there, each picture
  with that candidate's PSNR at the frame,
- ``per_frame.png``: PSNR and warp error per frame (flicker shows as spikes),
- ``index.html``: the table and the pictures with captions; no external URLs, no libraries.

The files are made in memory, written and synced under temporary names, and renamed only when
all of them are on disk (:func:`write_files_atomic`): a full disk leaves the earlier report
whole, and ``index.html``, renamed last, never points at pictures that are not there. Numbers
are formatted by :func:`format_value` everywhere (4 significant digits, ``inf``, ``n/a``), so
the page, the table and ``report.json`` can be compared.
Plots use matplotlib's object API (Agg canvas; no pyplot state).

Which frames the sheet shows is decided after scoring, from the per-frame PSNR: a
:class:`SheetCollector` watches every frame of an evaluation (mean lightness, credit test, shot
boundaries) and keeps one small picture per shot; :func:`pick_sheet_frames`, a pure function of
the per-frame figures, then chooses the middle of the worst, the median and the best shot and a
credit screen, never a dark frame.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from vidcolor.errors import OutputError
from vidcolor.fsutil import atomic_path, ensure_writable_dir
from vidcolor.metrics import LIGHTNESS_BANDS, METRICS, band_key

__all__ = [
    "REPORT_JSON",
    "ARROWS",
    "INDEX_HTML",
    "CURVES_PNG",
    "SERIES_PNG",
    "format_value",
    "metric_rows",
    "format_table",
    "SheetPick",
    "SheetRow",
    "SheetCollector",
    "pick_sheet_frames",
    "pick_label",
    "write_report",
    "write_files_atomic",
    "json_bytes",
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
SHEET_MIN_LIGHTNESS = 10.0
"""Frames whose truth has a lower mean L (0-100) are never shown on the sheet nor counted in a
shot's score: fades through black and black gaps (the demo's fades start at L 1.5; its credit
screen is L 38, its story frames 60-75)."""
SHEET_PSNR_CAP = 100.0
"""In a shot's mean PSNR an identical frame (PSNR ``inf``) counts as this many dB, so one such
frame does not make the shot's mean infinite (a shot of identical frames only scores ``inf``)."""
SHEET_SHOT_BUFFER = 64
"""Most frames of the running shot :class:`SheetCollector` holds while looking for its middle:
the middle of a shot up to about twice as long is exact; of a longer one, the row is a frame
within 1/64 of its length from the middle (measured on shots of up to 3000 frames: 1/143)."""
MISSING = "n/a"

ARROWS = {"lower": " ↓", "higher": " ↑", "": ""}
"""The mark of each direction of :attr:`vidcolor.metrics.Metric.better` in a table's label."""
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


def _encode_figure(figure: Any, image_format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format, **options)
    return buffer.getvalue()


def _plot_error_curves(summary: Mapping[str, Any]) -> bytes:
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
    return _encode_figure(figure, "png")


def _numbers(values: Sequence[Any]) -> np.ndarray:
    """Per-frame series as floats: ``None`` -> NaN (a gap), ``"inf"`` -> inf."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _plot_series(summary: Mapping[str, Any]) -> bytes:
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
    return _encode_figure(figure, "png")


def _thumbnail(rgb: np.ndarray) -> np.ndarray:
    frame = np.asarray(rgb)
    height, width = frame.shape[:2]
    if width <= SHEET_THUMB_WIDTH:
        return frame
    size = (SHEET_THUMB_WIDTH, max(1, round(height * SHEET_THUMB_WIDTH / width)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


# --------------------------------------------------------------------------- sheet: which frames


@dataclass(frozen=True)
class SheetPick:
    """A frame chosen for the comparison sheet, and why.

    Attributes:
        index: the frame (0-based, in the scored sequence).
        reason: why it is there: ``"worst shot"``, ``"median shot"``, ``"best shot"`` (by the
            mean PSNR of the shot's frames), ``"only shot"``, ``"credit screen"``, ``"longest
            shot"`` (no PSNR to rank by), ``"brightest frame (all dark)"``; several joined by
            ", " when one frame stands for several.
        first: the first frame of the shot it stands for.
        last: the last frame of that shot.
        score: that shot's mean PSNR over its frames that are not dark (dB; identical frames
            count as :data:`SHEET_PSNR_CAP`, a shot of only such is ``inf``; NaN when
            unknown); the frame's own PSNR for the brightest frame.
    """

    index: int
    reason: str
    first: int
    last: int
    score: float


def _shot_ranges(count: int, shot_starts: Sequence[int]) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` frames of each shot; frame 0 always starts one."""
    starts = {0}
    for start in shot_starts:
        if not 0 <= int(start) < count:
            raise ValueError(f"shot start {start} is outside the {count} frames")
        starts.add(int(start))
    ordered = sorted(starts)
    return [(first, end - 1) for first, end in zip(ordered, [*ordered[1:], count], strict=True)]


def pick_sheet_frames(psnr: Sequence[float] | np.ndarray, shot_starts: Sequence[int],
                      lightness: Sequence[float] | np.ndarray,
                      credit: Sequence[bool] | np.ndarray | None = None,
                      available: Sequence[bool] | np.ndarray | None = None, *,
                      min_lightness: float = SHEET_MIN_LIGHTNESS) -> list[SheetPick]:
    """The frames the comparison sheet shows: the ones that tell how a result went.

    Shots are scored by the mean PSNR of their frames that are not dark (mean L at least
    ``min_lightness``; identical frames count as :data:`SHEET_PSNR_CAP`); a shot whose such
    frames are mostly credit screens is a credit shot, the others are story shots. Chosen are
    the frame nearest the middle (ties: the earlier) among the not-dark frames of

    - the worst story shot, the median one (lower median; with three or more) and the best
      (ties: the earlier shot), or ``"only shot"`` when there is one;
    - the longest credit shot (ties: the earlier), when there is one.

    Dark frames are never chosen, nor counted in a shot's score: a fade to black is trivially
    right and would pass for the best shot. Without PSNR to rank by (all NaN), the longest
    story shot stands in; without a single frame that is not dark, the brightest frame.
    Deterministic; no frames, no picks.

    Args:
        psnr: per-frame PSNR of the result the sheet is about (``inf``: identical frames;
            NaN: unknown, left out of the means).
        shot_starts: frames that start a shot (frame 0 does anyway), in any order.
        lightness: per-frame mean L (0-100) of the truth.
        credit: per-frame: the truth is a credit screen; None: no frame is.
        available: per-frame: the frame can be shown (its pictures were kept); None: all.
            A shot none of whose frames that are not dark can be shown is left out.
        min_lightness: frames darker than this are dark.

    Returns:
        The picks in frame order, one per frame.

    Raises:
        ValueError: the per-frame sequences differ in length, or a shot start is outside them.

    >>> psnr = [30.0] * 4 + [12.0] * 4 + [40.0] * 4
    >>> [(p.index, p.reason) for p in pick_sheet_frames(psnr, [4, 8], [50.0] * 12)]
    [(1, 'median shot'), (5, 'worst shot'), (9, 'best shot')]
    """
    scores = np.asarray(psnr, dtype=np.float64).reshape(-1)
    count = len(scores)
    light = np.asarray(lightness, dtype=np.float64).reshape(-1)
    credits = np.zeros(count, bool) if credit is None else np.asarray(credit, bool).reshape(-1)
    shown = np.ones(count, bool) if available is None else np.asarray(available, bool).reshape(-1)
    for name, values in (("lightness", light), ("credit", credits), ("available", shown)):
        if len(values) != count:
            raise ValueError(f"{name} has {len(values)} frames, psnr {count}")
    story, credit_shots = _score_shots(scores, _shot_ranges(count, shot_starts),
                                       light >= min_lightness,  # NaN compares False: dark
                                       credits, shown)
    roles = _roles(story, credit_shots)
    if not roles and shown.any():
        index = int(np.flatnonzero(shown)[np.argmax(np.nan_to_num(light[shown], nan=-1.0))])
        first, last = next(r for r in _shot_ranges(count, shot_starts) if r[0] <= index <= r[1])
        roles.append((SheetPick(index, "", first, last, float(scores[index])),
                      "brightest frame (all dark)"))
    return _merged(roles)


_Shot = tuple[SheetPick, int]  # a shot's middle frame (no reason yet) and its usable frames


def _score_shots(scores: np.ndarray, shots: Sequence[tuple[int, int]], bright: np.ndarray,
                 credits: np.ndarray, shown: np.ndarray) -> tuple[list[_Shot], list[_Shot]]:
    """Each shot that has a frame to show, as its middle frame and mean PSNR over its frames
    that are not dark: ``(story shots, credit shots)``."""
    story: list[_Shot] = []
    credit_shots: list[_Shot] = []
    for first, last in shots:
        frames = np.flatnonzero(bright[first:last + 1]) + first
        candidates = frames[shown[frames]]
        if not len(candidates):
            continue
        index = int(candidates[np.argmin(np.abs(candidates - (first + last) / 2))])  # ties: 1st
        values = scores[frames][~np.isnan(scores[frames])]
        score = float(np.minimum(values, SHEET_PSNR_CAP).mean()) if len(values) else np.nan
        if len(values) and np.isposinf(values).all():
            score = float("inf")
        shot = (SheetPick(index, "", first, last, score), len(frames))
        (credit_shots if credits[frames].mean() > 0.5 else story).append(shot)
    return story, credit_shots


def _roles(story: Sequence[_Shot], credit_shots: Sequence[_Shot]) -> list[tuple[SheetPick, str]]:
    """The shots the sheet shows and why: worst, median, best (or only, or longest) story shot
    and the longest credit shot."""
    roles: list[tuple[SheetPick, str]] = []
    ranked = sorted((pick for pick, _ in story if not np.isnan(pick.score)),
                    key=lambda pick: (pick.score, pick.first))
    if len(ranked) == 1:
        roles.append((ranked[0], "only shot"))
    elif ranked:
        roles.append((ranked[0], "worst shot"))
        if len(ranked) >= 3:
            roles.append((ranked[(len(ranked) - 1) // 2], "median shot"))
        roles.append((min(ranked, key=lambda pick: (-pick.score, pick.first)), "best shot"))
    elif story:
        roles.append((_longest(story), "longest shot"))
    if credit_shots:
        roles.append((_longest(credit_shots), "credit screen"))
    return roles


def _merged(roles: Sequence[tuple[SheetPick, str]]) -> list[SheetPick]:
    """One pick per frame, in frame order, its reasons joined."""
    reasons: dict[int, list[str]] = {}
    picks: dict[int, SheetPick] = {}
    for pick, reason in roles:
        picks.setdefault(pick.index, pick)
        reasons.setdefault(pick.index, [])
        if reason not in reasons[pick.index]:
            reasons[pick.index].append(reason)
    return [SheetPick(index, ", ".join(reasons[index]), picks[index].first, picks[index].last,
                      picks[index].score) for index in sorted(picks)]


def _longest(shots: Sequence[_Shot]) -> SheetPick:
    """The shot with the most usable frames; ties: the earlier."""
    return min(shots, key=lambda shot: (-shot[1], shot[0].first))[0]


class SheetRow(NamedTuple):
    """One row of the comparison sheet (a plain ``(label, frames)`` pair is one too).

    Attributes:
        label: what the row shows, left of it (newlines split it into lines).
        frames: ``{candidate: uint8 RGB frame}``, e.g. :func:`vidcolor.metrics.comparison_row`.
        notes: ``{candidate: text}`` shown under that candidate's picture (its PSNR there).
    """

    label: str
    frames: Mapping[str, np.ndarray]
    notes: Mapping[str, str] | None = None


def _encode(picture: np.ndarray) -> bytes:
    """Lossless and small (PNG, fast setting); the channel order round-trips unchanged."""
    ok, data = cv2.imencode(".png", picture, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    assert ok
    return data.tobytes()


def _decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


class SheetCollector:
    """Watches every frame of an evaluation and keeps what the comparison sheet may show.

    Of each frame it notes the truth's mean L, whether the truth is a credit screen (the
    dataset's credit test, :func:`vidcolor.extract.credit_colours`) and whether a shot starts
    there (render's shot stage, :class:`vidcolor.inference.shots.Shots`, on the truth's L, which
    is the grey input's). Of each shot it keeps the pictures (sheet-sized) of one frame: the
    one nearest its middle that is not dark, PNG-compressed (while every frame is dark, the
    brightest). While a shot runs it holds at most ``buffer`` frames from its running middle
    on (beyond that only every 2nd, 4th, ... frame of the shot), so memory stays small however
    long the video. After the last frame, :meth:`rows` asks :func:`pick_sheet_frames` which of
    the kept frames to show, by the summary's PSNR series.

    Usage::

        collector = SheetCollector()
        for truth, results in frames:
            scorer.add(truth, results)
            collector.add(truth, results)
        write_report(folder, scorer.summary(), collector.rows(scorer.summary()))

    Args:
        buffer: most frames of the running shot held at once.
        min_lightness: frames whose truth's mean L is lower are never kept (dark).
    """

    def __init__(self, *, buffer: int = SHEET_SHOT_BUFFER,
                 min_lightness: float = SHEET_MIN_LIGHTNESS) -> None:
        from vidcolor.inference.shots import Shots

        self._shots = Shots()
        self._buffer = max(2, buffer)
        self.min_lightness = min_lightness
        self.lightness: list[float] = []
        self.credit: list[bool] = []
        self.shot_starts: list[int] = []
        self._first = 0
        self._stride = 1  # the running shot's frames held: every stride-th from its first
        self._running: list[tuple[int, dict[str, np.ndarray]]] = []
        self._kept: dict[int, dict[str, bytes]] = {}
        # the brightest frame, while every frame has been dark (the sheet's last resort)
        self._brightest: tuple[float, int, dict[str, np.ndarray]] | None = None

    @property
    def frames(self) -> int:
        """Number of frames seen so far."""
        return len(self.lightness)

    def add(self, truth_rgb: np.ndarray, results: Mapping[str, np.ndarray]) -> None:
        """Watch the next frame: the truth and the results (as given to the scorer)."""
        from vidcolor.color.frames import lightness
        from vidcolor.extract import credit_colours
        from vidcolor.inference.stages import FrameWork, thumbnail

        index = self.frames
        light = lightness(truth_rgb)
        work = FrameWork(index=index, key=index, pts=None, lightness=light,
                         thumb=thumbnail(light))
        if self._shots.push(work)[0].shot_start or index == 0:
            self._close_shot()
            self._first = index
            self._stride = 1
            self.shot_starts.append(index)
        assert work.thumb is not None
        mean = float(work.thumb.mean())
        self.lightness.append(mean)
        self.credit.append(credit_colours(truth_rgb) is not None)
        bright = mean >= self.min_lightness
        all_dark = not self._kept and not self._running
        if not bright and not (all_dark and (self._brightest is None
                                             or mean > self._brightest[0])):
            return
        if bright and (index - self._first) % self._stride:
            return
        pictures = {"truth": np.array(_thumbnail(truth_rgb))}  # copies: callers reuse buffers
        pictures.update((name, np.array(_thumbnail(rgb))) for name, rgb in results.items())
        if not bright:
            self._brightest = (mean, index, pictures)
            return
        self._brightest = None
        self._running.append((index, pictures))
        # The shot's middle only moves on: a frame with a later one at or before it is out.
        middle = (self._first + index) / 2
        while len(self._running) > 1 and self._running[1][0] <= middle:
            self._running.pop(0)
        if len(self._running) > self._buffer:  # a long shot: hold half as many
            self._stride *= 2
            self._running = [item for item in self._running
                             if (item[0] - self._first) % self._stride == 0] or self._running[-1:]

    def _running_choice(self) -> tuple[int, dict[str, np.ndarray]] | None:
        """The running shot's frame nearest its middle so far (ties: the earlier)."""
        if not self._running:
            return None
        middle = (self._first + self.frames - 1) / 2
        return min(self._running, key=lambda item: (abs(item[0] - middle), item[0]))

    def _close_shot(self) -> None:
        choice = self._running_choice()
        if choice is not None:
            index, pictures = choice
            self._kept[index] = {name: _encode(picture) for name, picture in pictures.items()}
        self._running = []

    def _kept_pictures(self) -> dict[int, dict[str, np.ndarray] | dict[str, bytes]]:
        kept: dict[int, dict[str, np.ndarray] | dict[str, bytes]] = dict(self._kept)
        choice = self._running_choice()
        if choice is not None:
            kept[choice[0]] = choice[1]
        if self._brightest is not None:
            kept[self._brightest[1]] = self._brightest[2]
        return kept

    def picks(self, summary: Mapping[str, Any]) -> list[SheetPick]:
        """:func:`pick_sheet_frames` on the frames seen, ranked by the PSNR of the summary's
        first result (grey's when it has none).

        Raises:
            ValueError: the summary scored another number of frames than were seen.
        """
        name = _ranking_candidate(summary)
        series = summary.get("series", {}).get("psnr", {})
        psnr = _numbers(series[name]) if name in series else np.full(self.frames, np.nan)
        available = np.zeros(self.frames, bool)
        available[list(self._kept_pictures())] = True
        return pick_sheet_frames(psnr, self.shot_starts, self.lightness, self.credit, available,
                                 min_lightness=self.min_lightness)

    def rows(self, summary: Mapping[str, Any]) -> list[SheetRow]:
        """The sheet's rows for :func:`write_report`: each chosen frame's grey, results and
        truth, labelled with its frame number and why it was chosen, each picture with that
        candidate's PSNR at the frame. The collector can go on watching frames after."""
        from vidcolor.metrics import comparison_row

        kept = self._kept_pictures()
        series = summary.get("series", {}).get("psnr", {})
        rows = []
        for pick in self.picks(summary):
            pictures = {name: _decode(value) if isinstance(value, bytes) else value
                        for name, value in kept[pick.index].items()}
            truth = pictures.pop("truth")
            notes = {name: f"PSNR {format_value(_numbers([values[pick.index]])[0])} dB"
                     for name, values in series.items() if name != "truth"}
            rows.append(SheetRow(pick_label(pick), comparison_row(truth, pictures), notes))
        return rows


def _ranking_candidate(summary: Mapping[str, Any]) -> str:
    """The result the sheet is about: the first that is not grey or truth, else grey."""
    results = [name for name in _candidates(summary) if name not in ("grey", "truth")]
    return results[0] if results else "grey"


def pick_label(pick: SheetPick) -> str:
    """The sheet's label of a picked frame (three lines).

    >>> print(pick_label(SheetPick(14, "worst shot", 10, 19, 15.04)))
    frame 14
    worst shot
    frames 10–19: 15.04 dB
    """
    span = f"frames {pick.first}–{pick.last}" if pick.last > pick.first else \
        f"frame {pick.first}"
    return f"frame {pick.index}\n{pick.reason}\n{span}: {format_value(pick.score)} dB"


# --------------------------------------------------------------------------- sheet: drawing


def _sheet_columns(summary: Mapping[str, Any], sheet: Sequence[SheetRow]) -> list[str]:
    """Grey first, then the results, then the truth; names only some rows have come last."""
    order = [name for name in _candidates(summary) if name not in ("grey", "truth")]
    present: list[str] = []
    for row in sheet:
        present += [name for name in row[1] if name not in present]
    middle = [name for name in order if name in present]
    middle += [name for name in present if name not in middle and name not in ("grey", "truth")]
    return (["grey"] if "grey" in present else []) + middle + \
        (["truth"] if "truth" in present else [])


def _plot_sheet(summary: Mapping[str, Any], sheet: Sequence[SheetRow]) -> tuple[str, bytes]:
    """The comparison sheet's file name (PNG, or JPEG when very large) and bytes."""
    columns = _sheet_columns(summary, sheet)
    thumbs = [[_thumbnail(row.frames[name]) if name in row.frames else None for name in columns]
              for row in sheet]
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
                    f"{ARROWS[better]}</th>{cells}</tr>")
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
    "sheet": "Comparison sheet (thesis Fig. 8.3): each row one frame, labelled with its number "
             "and why it is there; columns the grey input, each result, and the truth, each "
             "with its PSNR at that frame. <code>vidcolor evaluate</code> shows the middle of "
             "the worst, the median and the best shot by the mean PSNR of the first result "
             "(shots as render's shot stage finds them), and a credit screen when there is "
             "one; frames with a mean L below 10 (fades, black gaps) are never shown or "
             "counted.",
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
                 sheet: Sequence[SheetRow | tuple[str, Mapping[str, np.ndarray]]] = (),
                 title: str = "vidcolor evaluation") -> Path:
    """Write the report of a scorer summary into ``directory`` (created if needed).

    Args:
        directory: output folder; files of an earlier report there are replaced.
        summary: :meth:`vidcolor.metrics.SequenceScorer.summary`, plus any metadata the
            caller adds (extra top-level keys are shown on the page and kept in the JSON).
        sheet: rows of the comparison sheet: :class:`SheetRow` (e.g. from
            :meth:`SheetCollector.rows`) or plain ``(label, {candidate: uint8 RGB frame})``
            pairs (e.g. from :func:`vidcolor.metrics.comparison_row`); empty: no sheet.
        title: the page's title.

    Returns:
        The path of ``index.html``.

    Raises:
        OutputError: the folder cannot be created or written.
        ValueError: the summary is not JSON-able (NaN or infinity in it).
    """
    folder = ensure_writable_dir(directory)
    report = json_bytes(summary)  # fails (NaN) before anything is written
    images = []
    files = []
    if summary.get("frames"):
        files.append((CURVES_PNG, _plot_error_curves(summary)))
        images.append((CURVES_PNG, "cumulative αβ error curves", _CAPTIONS["curves"]))
    if sheet:
        rows = [SheetRow(*row) for row in sheet]
        files.append(_plot_sheet(summary, rows))
        listed = "; ".join(html.escape(row.label.replace("\n", ", ")) for row in rows)
        images.append((files[-1][0], "comparison sheet",
                       f"{_CAPTIONS['sheet']} Rows: {listed}."))
    if summary.get("frames"):
        files.append((SERIES_PNG, _plot_series(summary)))
        images.append((SERIES_PNG, "PSNR and warp error per frame", _CAPTIONS["series"]))
    files.append((REPORT_JSON, report))
    files.append((INDEX_HTML, _page(title, summary, images).encode("utf-8")))
    write_files_atomic(folder, files)
    return folder / INDEX_HTML


def json_bytes(obj: Any) -> bytes:
    """``obj`` as the indented JSON of a report file.

    Raises:
        ValueError: NaN or infinity in it.
    """
    return (json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


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
