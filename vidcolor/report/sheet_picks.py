"""Which frames the comparison sheet shows: the ones that tell how a result went.

:func:`pick_sheet_frames` is a pure function of the per-frame figures (PSNR, the truth's mean
lightness, the credit test, shot boundaries): it chooses the middle of the worst, the median
and the best shot and a credit screen, never a dark frame. :func:`pick_label` is the sheet's
label of a pick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vidcolor.report.table import format_value

__all__ = [
    "SHEET_MIN_LIGHTNESS",
    "SHEET_PSNR_CAP",
    "SheetPick",
    "pick_sheet_frames",
    "pick_label",
]


SHEET_MIN_LIGHTNESS = 10.0
"""Frames whose truth has a lower mean L (0-100) are never shown on the sheet nor counted in a
shot's score: fades through black and black gaps (the demo's fades start at L 1.5; its credit
screen is L 38, its story frames 60-75)."""
SHEET_PSNR_CAP = 100.0
"""In a shot's mean PSNR an identical frame (PSNR ``inf``) counts as this many dB, so one such
frame does not make the shot's mean infinite (a shot of identical frames only scores ``inf``)."""


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
