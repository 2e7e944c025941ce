"""What the comparison sheet may show, kept while an evaluation runs.

A :class:`SheetCollector` watches every frame of an evaluation (mean lightness, credit test,
shot boundaries) and keeps one small picture per shot; after scoring,
:meth:`SheetCollector.rows` asks :func:`~vidcolor.report.sheet_picks.pick_sheet_frames` which
to show, by the per-frame PSNR, and returns the sheet's rows (:class:`SheetRow`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import cv2
import numpy as np

from vidcolor.report.sheet_picks import (
    SHEET_MIN_LIGHTNESS,
    SheetPick,
    pick_label,
    pick_sheet_frames,
)
from vidcolor.report.table import candidate_names, format_value, series_values

__all__ = [
    "SHEET_THUMB_WIDTH",
    "SHEET_SHOT_BUFFER",
    "SheetRow",
    "SheetCollector",
    "sheet_thumbnail",
]


SHEET_THUMB_WIDTH = 320
"""Width in pixels of each frame on the comparison sheet."""
SHEET_SHOT_BUFFER = 64
"""Most frames of the running shot :class:`SheetCollector` holds while looking for its middle:
the middle of a shot up to about twice as long is exact; of a longer one, the row is a frame
within 1/64 of its length from the middle (measured on shots of up to 3000 frames: 1/143)."""


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


def sheet_thumbnail(rgb: np.ndarray) -> np.ndarray:
    """A frame as the sheet shows it: at most :data:`SHEET_THUMB_WIDTH` wide (area resampling)."""
    frame = np.asarray(rgb)
    height, width = frame.shape[:2]
    if width <= SHEET_THUMB_WIDTH:
        return frame
    size = (SHEET_THUMB_WIDTH, max(1, round(height * SHEET_THUMB_WIDTH / width)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


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
        pictures = {"truth": np.array(sheet_thumbnail(truth_rgb))}  # copies: callers reuse buffers
        pictures.update((name, np.array(sheet_thumbnail(rgb))) for name, rgb in results.items())
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
        psnr = series_values(series[name]) if name in series else np.full(self.frames, np.nan)
        available = np.zeros(self.frames, bool)
        available[list(self._kept_pictures())] = True
        return pick_sheet_frames(psnr, self.shot_starts, self.lightness, self.credit, available,
                                 min_lightness=self.min_lightness)

    def rows(self, summary: Mapping[str, Any]) -> list[SheetRow]:
        """The sheet's rows for :func:`~vidcolor.report.writer.write_report`: each
        chosen frame's grey, results and truth, labelled with its frame number and why it was
        chosen, each picture with that candidate's PSNR at the frame. The collector can go on
        watching frames after."""
        from vidcolor.metrics import comparison_row

        kept = self._kept_pictures()
        series = summary.get("series", {}).get("psnr", {})
        rows = []
        for pick in self.picks(summary):
            pictures = {name: _decode(value) if isinstance(value, bytes) else value
                        for name, value in kept[pick.index].items()}
            truth = pictures.pop("truth")
            notes = {name: f"PSNR {format_value(series_values([values[pick.index]])[0])} dB"
                     for name, values in series.items() if name != "truth"}
            rows.append(SheetRow(pick_label(pick), comparison_row(truth, pictures), notes))
        return rows


def _ranking_candidate(summary: Mapping[str, Any]) -> str:
    """The result the sheet is about: the first that is not grey or truth, else grey."""
    results = [name for name in candidate_names(summary) if name not in ("grey", "truth")]
    return results[0] if results else "grey"
