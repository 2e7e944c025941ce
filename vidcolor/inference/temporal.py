"""Temporal stabilisation: colour that stays put from frame to frame within a shot (``--temporal``).

Per-frame colourisation flickers (SPEC §9): the same object gets a slightly different colour in
every frame. This sequence stage lets each object's colour be a vote over every frame it
appears in, instead of one frame's guess.

**Units.** With a refinement, the units are the frame's regions (its segments); without one,
the cells of the network's output grid. Each unit carries its mean predicted colour
distribution ``P`` over the ab bins.

**Tracking.** Dense optical flow (OpenCV's DIS, on the grey thumbnails) from frame t back to
t-1 says where each pixel came from; a pixel counts when its lightness matches there (within
:data:`LIGHT_TOLERANCE`). ``M_t(r, s)`` is the share of unit r's pixels that came from unit s
of frame t-1 — a region that moved, split or merged inherits from what it came from; new or
disoccluded content inherits nothing.

**Voting.** Along those links the distributions accumulate: ``F_t = P_t + γ M_t F_{t-1}``
(γ = :data:`DECAY`; an exponentially weighted vote over the unit's past, about 1/(1-γ) frames).
At a shot start the first :data:`WINDOW` frames are held and a backward pass adds their future
(``B_t = P_t + γ N_t B_{t+1}``, N the links read the other way), so the first frames of a shot
are as well informed as the later ones. A unit's colour is the vote decoded like a prediction
(``--decode``), or with ``--palette`` the series' palette colour the vote supports best.

**Hysteresis.** A tracked unit keeps the colour it inherits unless the vote moves more than
:data:`HYSTERESIS` ab units from it, so a colour changes only on clear evidence.

Nothing crosses a shot boundary (:mod:`vidcolor.inference.shots`): the state is dropped, and
the window stops at the boundary. Memory is bounded: one frame of state, plus the window at a
shot start. With the ``per-frame`` view kept, review videos and ``vidcolor evaluate`` show the
per-frame colours beside the stabilised ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import sparse

from vidcolor.inference.ensemble import mean_ab
from vidcolor.inference.stages import (
    FrameWork,
    SequenceStage,
    StageContext,
    register_sequence_stage,
)
from vidcolor.quantize import decode_rows, parse_decode

#: Weight of the past in the vote (per frame): a memory of about 1 / (1 - DECAY) frames.
DECAY = 0.9
#: Frames held at a shot start for the backward pass.
WINDOW = 8
#: A pixel's flow is trusted when its lightness matches there within this (L units).
LIGHT_TOLERANCE = 6.0
#: A tracked unit keeps its colour unless the vote moves further than this (ab units).
HYSTERESIS = 4.0
#: DIS optical flow preset (on thumbnails at most 256 px wide).
FLOW_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM


@dataclass
class _Unit:
    """One frame as the stage sees it."""

    work: FrameWork
    probs: np.ndarray  # (R, Q) rows sum to 1
    colours: np.ndarray  # (R, 2) the per-frame colours
    light: np.ndarray  # (R,) lightness
    labels: np.ndarray  # thumbnail-sized unit labels
    size: np.ndarray  # (R,) pixels of each unit in the thumbnail
    counts: sparse.csr_matrix | None = None  # (R, R_prev) pixels of r that came from s
    forward: np.ndarray | None = None  # F_t
    shown: np.ndarray | None = None  # the colours emitted


def _grey(light: np.ndarray) -> np.ndarray:
    return np.clip(light * 2.55 + 0.5, 0, 255).astype(np.uint8)


def _cell_labels(shape: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    height, width = shape
    rows, cols = grid
    return ((np.arange(height) * rows // height)[:, None] * cols
            + (np.arange(width) * cols // width)[None, :]).astype(np.int32)


class Temporal(SequenceStage):
    """Stabilise colours within each shot by voting along tracked regions (module docstring).

    Args:
        context: the render's options, series look and ab bins.
        decay: γ, the weight of the past per frame.
        window: frames held at a shot start for the backward pass.
    """

    needs_probs = True
    view = "per-frame"

    def __init__(self, context: StageContext, decay: float = DECAY, window: int = WINDOW) -> None:
        if context.bins is None:
            raise ValueError("temporal stabilisation needs models that predict distributions")
        self.bins = np.asarray(context.bins, np.float32)
        self.method, self.temperature = parse_decode(context.options.decode)
        look = context.look
        self.palette = look.palette if (context.options.palette and look is not None
                                        and len(look.palette)) else None
        self.keep_view = context.views
        self.decay, self.window = decay, window
        self.flow = cv2.DISOpticalFlow_create(FLOW_PRESET)
        self._held: list[_Unit] = []
        self._holding = False
        self._previous: _Unit | None = None

    # ------------------------------------------------------------------ stage interface

    def push(self, work: FrameWork) -> list[FrameWork]:
        ready: list[FrameWork] = []
        if work.shot_start:
            ready += self._release_window()
            self._previous = None
            self._holding = True
        unit = self._unit(work)
        if self._previous is not None:
            unit.counts = self._links(self._previous, unit)
            share = sparse.diags(1.0 / np.maximum(unit.size, 1.0)) @ unit.counts
            unit.forward = unit.probs + self.decay * np.asarray(share @ self._previous.forward)
        else:
            unit.forward = unit.probs
        if self._holding:
            self._held.append(unit)
            if len(self._held) >= self.window:
                ready += self._release_window()
        else:
            ready.append(self._emit(unit, unit.forward))
        self._previous = unit
        return ready

    def flush(self) -> list[FrameWork]:
        return self._release_window()

    # ------------------------------------------------------------------ internals

    def _unit(self, work: FrameWork) -> _Unit:
        assert work.thumb is not None
        if work.labels is not None:  # regions
            assert work.region_probs is not None and work.region_ab is not None
            probs = work.region_probs
            colours = work.region_ab
            light = work.region_light if work.region_light is not None else \
                np.zeros(len(colours), np.float32)
            labels = cv2.resize(work.labels, work.thumb.shape[::-1],
                                interpolation=cv2.INTER_NEAREST)
            units = len(colours)
        else:  # cells of the network's grid
            assert work.probs is not None
            grid = work.probs.shape[:2]
            units = grid[0] * grid[1]
            probs = work.probs.reshape(units, -1).astype(np.float32)
            colours = mean_ab(work.ab_small).reshape(units, 2)
            light = cv2.resize(work.thumb, grid[::-1], interpolation=cv2.INTER_AREA).ravel()
            labels = _cell_labels(work.thumb.shape, grid)
        probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
        size = np.bincount(labels.ravel(), minlength=units).astype(np.float32)
        return _Unit(work, probs.astype(np.float32), np.asarray(colours, np.float32),
                     np.asarray(light, np.float32), labels, size)

    def _links(self, previous: _Unit, current: _Unit) -> sparse.csr_matrix:
        """Pixel counts ``(R_t, R_{t-1})``: unit r's pixels whose flow source lies in unit s."""
        now, before = current.work.thumb, previous.work.thumb
        assert now is not None and before is not None
        if now.shape != before.shape:
            return sparse.csr_matrix((len(current.size), len(previous.size)), dtype=np.float32)
        flow = self.flow.calc(_grey(now), _grey(before), None)
        height, width = now.shape
        grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32),
                                     np.arange(height, dtype=np.float32))
        map_x, map_y = grid_x + flow[..., 0], grid_y + flow[..., 1]
        source = cv2.remap(previous.labels.astype(np.float32), map_x, map_y, cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=-1.0)
        warped = cv2.remap(before, map_x, map_y, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        ok = (source >= 0) & (np.abs(warped - now) < LIGHT_TOLERANCE)
        return sparse.coo_matrix(
            (np.ones(int(ok.sum()), np.float32), (current.labels[ok], source[ok].astype(np.intp))),
            shape=(len(current.size), len(previous.size))).tocsr()

    def _release_window(self) -> list[FrameWork]:
        """Emit the held opening frames of a shot, each with its past and its future."""
        held, self._held, self._holding = self._held, [], False
        if not held:
            return []
        backward = held[-1].probs
        votes = [held[-1].forward]
        for index in range(len(held) - 2, -1, -1):
            unit, after = held[index], held[index + 1]
            assert after.counts is not None
            # share of unit r's pixels that went on to unit u of the next frame
            share = sparse.diags(1.0 / np.maximum(unit.size, 1.0)) @ after.counts.T.tocsr()
            backward = unit.probs + self.decay * np.asarray(share @ backward)
            assert unit.forward is not None
            votes.append(unit.forward + backward - unit.probs)
        votes.reverse()
        emitted = []
        previous_shown: _Unit | None = None
        for unit, vote in zip(held, votes, strict=True):
            emitted.append(self._emit(unit, vote, previous_shown))
            previous_shown = unit
        return emitted

    def _emit(self, unit: _Unit, vote: np.ndarray, previous: _Unit | None = None) -> FrameWork:
        normalised = vote / np.maximum(vote.sum(axis=1, keepdims=True), 1e-12)
        colours = decode_rows(normalised, self.bins, self.method, self.temperature)
        if self.palette is not None:
            from vidcolor.series import choose_palette

            colours = choose_palette(normalised, unit.light, self.bins, self.palette, colours)
        previous = previous if previous is not None else self._previous_shown(unit)
        if previous is not None and unit.counts is not None and unit.counts.nnz:
            colours = self._hysteresis(unit, previous, colours)
        unit.shown = colours
        work = unit.work
        if self.keep_view:
            work.views[self.view or "per-frame"] = unit.colours if work.labels is not None \
                else unit.colours.reshape(*work.probs.shape[:2], 2)  # type: ignore[union-attr]
        if work.labels is not None:
            work.region_ab = colours
        else:
            assert work.probs is not None
            work.ab_small = [colours.reshape(*work.probs.shape[:2], 2)]
        work.probs = work.region_probs = None  # spent: keep the workers' payload small
        return work

    def _previous_shown(self, unit: _Unit) -> _Unit | None:
        previous = self._previous
        if previous is None or previous is unit or previous.shown is None:
            return None
        return previous

    def _hysteresis(self, unit: _Unit, previous: _Unit, colours: np.ndarray) -> np.ndarray:
        """Keep the inherited colour of well-tracked units whose vote barely moved."""
        assert unit.counts is not None and previous.shown is not None
        tracked = np.asarray(unit.counts.sum(axis=1)).ravel() / np.maximum(unit.size, 1.0)
        inherited = np.asarray(unit.counts @ previous.shown)
        inherited /= np.maximum(np.asarray(unit.counts.sum(axis=1)), 1e-12)
        keep = (tracked >= 0.5) & (np.linalg.norm(colours - inherited, axis=1) < HYSTERESIS)
        return np.where(keep[:, None], inherited, colours).astype(np.float32)


register_sequence_stage("temporal", Temporal)
