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
disoccluded content inherits nothing, and neither does a unit along a link to another object
whose vote its own prediction contradicts (:meth:`Temporal._gate`).

**Voting.** Along those links the evidence accumulates: ``F_t = E_t + γ M_t F_{t-1}``
(γ = :data:`DECAY`; an exponentially weighted vote over the unit's past, about 1/(1-γ) frames).
At a shot start the first :data:`WINDOW` frames are held and a backward pass adds their future
(``B_t = E_t + γ N_t B_{t+1}``, N the links read the other way), so the first frames of a shot
are as well informed as the later ones. With ``--palette`` the evidence ``E_t`` is each palette
colour's log-support in the frame (:func:`vidcolor.series.apply.palette_support`): summed, it is a
product of the frames' opinions, so a colour every frame supports beats one that only an
average of conflicting frames would (a red-or-green character never turns brown); the unit
takes the colour of highest mean log-support. Without a palette (or when no palette colour is
supported), ``E_t`` is the predicted distribution and the unit's colour is the vote decoded
like a prediction (``--decode``).

**Hysteresis.** A tracked unit keeps the palette colour it inherits unless another one's mean
log-support is higher by more than log :data:`SWITCH_RATIO`, and a tracked region keeps an
inherited decoded colour unless the vote moves more than :data:`HYSTERESIS` ab units: a colour
changes only on clear evidence. (Network cells, without a refinement, are not held: held cells
change in steps, which flickers more than the smooth vote; measured on the demo.)

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

from vidcolor.color.frames import grey_u8
from vidcolor.flow import dis_flow, flow_between, source_maps, warp
from vidcolor.inference.ensemble import mean_ab
from vidcolor.inference.stages import (
    FrameWork,
    SequenceStage,
    StageContext,
)
from vidcolor.quantize import decode_rows, parse_decode

#: Weight of the past in the vote (per frame): a memory of about 1 / (1 - DECAY) frames.
DECAY = 0.9
#: Frames held at a shot start for the backward pass (1 s at 24 fps). On the demo's held-out
#: episode 24 gave 17 % less warp error than 8 and 0.2 dB more PSNR; 48 and 96 no better.
WINDOW = 24
#: A pixel's flow is trusted when its lightness matches there within this (L units).
LIGHT_TOLERANCE = 6.0
#: A tracked unit keeps its decoded colour unless the vote moves further than this (ab units)...
HYSTERESIS = 4.0
#: ... and its palette colour unless another is supported this many times better (geometric
#: mean over the vote).
SWITCH_RATIO = 1.5
#: A link between a unit and a source that is not mostly the same object (each is less than
#: MUTUAL of the other) is dropped when the unit's prediction agrees with what it would
#: inherit less than AGREE_LOW (Bhattacharyya coefficient), kept whole above AGREE_HIGH
#: (:meth:`Temporal._gate`).
MUTUAL = 0.5
AGREE_LOW, AGREE_HIGH = 0.25, 0.5
#: ... or (regions, with a palette) when the unit's own frame gives a palette colour this many
#: times the support a choice needs and the inherited vote's colour less than that support.
#: Measured (defaults, warp error): at 1 the demo -21 % but Big Buck Bunny +22 % (its broad
#: predictions on texture cut links that hold); at 1.4 -14 % and +3 %; at 2 no change.
CONFIDENT = 1.4
#: Log-support is floored at log of this (a palette colour the frame does not support at all).
_SUPPORT_FLOOR = 1e-3


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
    forward: np.ndarray | None = None  # F_t of the distributions
    fits: np.ndarray | None = None  # (R, K) palette colours of a fitting lightness
    log_support: np.ndarray | None = None  # (R, K) this frame's palette log-support
    forward_log: np.ndarray | None = None  # F_t of the log-supports
    weight: np.ndarray | None = None  # (R,) frames in the forward vote (decayed)
    shown: np.ndarray | None = None  # the colours emitted
    choice: np.ndarray | None = None  # (R,) the palette colour emitted, -1 for none
    bands: np.ndarray | None = None  # (R, rows) pixels in bands of the height (layout)

    def share(self) -> sparse.csr_matrix:
        """``M_t``: the share of each unit's pixels that came from each unit of frame t-1."""
        assert self.counts is not None
        return _row_shares(self.counts, self.size)


def _row_shares(counts: sparse.spmatrix, size: np.ndarray) -> sparse.csr_matrix:
    """Pixel counts ``(R, S)`` as shares of each row unit's ``size`` pixels."""
    return (sparse.diags(1.0 / np.maximum(size, 1.0)) @ counts).tocsr()



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
        # the palette's learnt layout weighs each choice (series.layout_prior)
        self.layout = look if self.palette is not None and look.has_layout else None
        self.keep_view = context.views
        # on the network's cells the vote is the colour: nothing reads the models' own ab
        # unless the per-frame view is kept (each model's decoding is saved)
        self.replaces_ab = context.options.refine == "none" and not context.views
        self.decay, self.window = decay, window
        self.flow = dis_flow()  # on thumbnails at most 256 px wide
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
        previous = self._previous
        if previous is not None:
            unit.counts = self._gate(unit, previous, self._links(previous, unit))
        self._forward(unit, previous if unit.counts is not None else None)
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
            probs = work.probs.reshape(units, -1)
            colours = mean_ab(work.ab_small).reshape(units, 2) if work.ab_small else \
                np.zeros((units, 2), np.float32)
            light = cv2.resize(work.thumb, grid[::-1], interpolation=cv2.INTER_AREA).ravel()
            labels = _cell_labels(work.thumb.shape, grid)
        probs = np.array(probs, np.float32)  # one copy, normalised in place
        probs /= np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
        size = np.bincount(labels.ravel(), minlength=units).astype(np.float32)
        unit = _Unit(work, probs, np.asarray(colours, np.float32),
                     np.asarray(light, np.float32), labels, size)
        if self.palette is not None:
            from vidcolor.series.apply import palette_support

            support = palette_support(unit.probs, unit.light, self.bins, self.palette)
            unit.fits = support >= 0
            unit.log_support = np.log(np.maximum(support, _SUPPORT_FLOOR)).astype(np.float32)
            if self.layout is not None:
                from vidcolor.series.apply import region_bands

                unit.bands = region_bands(labels, units)
        return unit

    def _forward(self, unit: _Unit, previous: _Unit | None) -> None:
        """``F_t = E_t + γ M_t F_{t-1}`` for the distributions (and the palette log-supports)."""
        unit.forward = unit.probs
        unit.forward_log = unit.log_support
        unit.weight = np.ones(len(unit.size), np.float32)
        if previous is None:
            return
        share = unit.share()
        unit.forward = unit.probs + self.decay * np.asarray(share @ previous.forward)
        unit.weight = 1.0 + self.decay * np.asarray(share @ previous.weight).ravel()
        if unit.log_support is not None and previous.forward_log is not None:
            unit.forward_log = unit.log_support + self.decay * np.asarray(
                share @ previous.forward_log)

    def _links(self, previous: _Unit, current: _Unit) -> sparse.csr_matrix:
        """Pixel counts ``(R_t, R_{t-1})``: unit r's pixels whose flow source lies in unit s."""
        now, before = current.work.thumb, previous.work.thumb
        assert now is not None and before is not None
        if now.shape != before.shape:
            return sparse.csr_matrix((len(current.size), len(previous.size)), dtype=np.float32)
        map_x, map_y = source_maps(flow_between(self.flow, grey_u8(now), grey_u8(before)))
        source = warp(previous.labels.astype(np.float32), map_x, map_y, nearest=True, fill=-1.0)
        warped = warp(before, map_x, map_y)
        ok = (source >= 0) & (np.abs(warped - now) < LIGHT_TOLERANCE)
        return sparse.coo_matrix(
            (np.ones(int(ok.sum()), np.float32), (current.labels[ok], source[ok].astype(np.intp))),
            shape=(len(current.size), len(previous.size))).tocsr()

    def _gate(self, unit: _Unit, previous: _Unit, counts: sparse.csr_matrix
              ) -> sparse.csr_matrix:
        """Drop the links along which a unit would inherit another object's colour.

        The flow links pixels, not objects: where one object passes over another of a similar
        lightness, or a segment takes in part of a neighbour, a unit inherits a vote that is
        not its own. Such a link joins a unit to a source that is not mostly the same object
        (less than :data:`MUTUAL` of the source's pixels came to the unit, or the unit is less
        than that share of it) and whose pixels mostly went on into another unit; it is
        dropped when the unit's own prediction contradicts the inherited vote: their
        Bhattacharyya coefficient is below :data:`AGREE_LOW` (link dropped) or between it and
        :data:`AGREE_HIGH` (scaled down linearly), or, with a palette, the unit's own frame
        picks a palette colour and does not support the one the inherited vote picks. A unit
        that stays itself — even cut down by an occluder — keeps its links however much its
        prediction flickers: holding that is the vote's job. (On the demo's held-out episode
        the palette test alone, without the continuation test, turned a half-hidden character
        red for a frame.)
        """
        if not counts.nnz or previous.forward is None:
            return counts
        links = counts.tocoo()
        mutual = np.minimum(links.data / np.maximum(unit.size[links.row], 1.0),
                            links.data / np.maximum(previous.size[links.col], 1.0))
        # the source's pixels mostly went to another unit: this is not its continuation
        destination = np.asarray(counts.argmax(axis=0)).ravel()
        weak = (mutual < MUTUAL) & (destination[links.col] != links.row)
        if not weak.any():
            return counts
        rows = np.unique(links.row[weak])  # only these units can lose a link
        share = _row_shares(counts[rows], unit.size[rows])
        inherited = np.asarray(share @ previous.forward)
        inherited /= np.maximum(inherited.sum(axis=1, keepdims=True), 1e-12)
        agree = np.sqrt(np.maximum(unit.probs[rows] * inherited, 0.0)).sum(axis=1)
        gate = np.ones(len(unit.size), np.float32)
        gate[rows] = np.clip((agree - AGREE_LOW) / (AGREE_HIGH - AGREE_LOW), 0.0, 1.0)
        if unit.work.labels is not None and unit.log_support is not None \
                and previous.forward_log is not None:  # regions (cells flickered more)
            gate[rows] *= ~self._palette_contradicts(unit, previous, rows, share)
        scale = np.where(weak, gate[links.row], 1.0).astype(np.float32)
        return sparse.coo_matrix((links.data * scale, (links.row, links.col)),
                                 shape=counts.shape).tocsr()

    def _palette_contradicts(self, unit: _Unit, previous: _Unit, rows: np.ndarray,
                             share: sparse.csr_matrix) -> np.ndarray:
        """Units whose own frame picks a palette colour and does not support the one the
        inherited vote picks (broad distributions of two colours can agree by Bhattacharyya)."""
        from vidcolor.series.apply import PALETTE_MIN_SUPPORT

        assert unit.fits is not None and unit.log_support is not None
        assert previous.forward_log is not None and previous.weight is not None
        fits = unit.fits[rows]
        own = np.where(fits, np.exp(unit.log_support[rows]), -1.0)
        weight = np.maximum(np.asarray(share @ previous.weight).ravel(), 1e-12)
        inherited = np.where(fits, np.asarray(share @ previous.forward_log) / weight[:, None],
                             -np.inf)
        picked = inherited.argmax(axis=1)
        best = own.argmax(axis=1)
        index = np.arange(len(rows))
        return ((own[index, best] >= CONFIDENT * PALETTE_MIN_SUPPORT) & (picked != best)
                & (own[index, picked] < PALETTE_MIN_SUPPORT))

    def _release_window(self) -> list[FrameWork]:
        """Emit the held opening frames of a shot, each with its past and its future."""
        held, self._held, self._holding = self._held, [], False
        if not held:
            return []
        last = held[-1]
        backward, backward_log, backward_weight = last.probs, last.log_support, \
            np.ones(len(last.size), np.float32)
        votes = [(last.forward, last.forward_log, last.weight)]
        for index in range(len(held) - 2, -1, -1):
            unit, after = held[index], held[index + 1]
            assert after.counts is not None and unit.forward is not None
            # the share of unit r's pixels that went on to each unit of the next frame
            going = _row_shares(after.counts.T, unit.size)
            backward = unit.probs + self.decay * np.asarray(going @ backward)
            backward_weight = 1.0 + self.decay * np.asarray(going @ backward_weight).ravel()
            vote_log = None
            if unit.log_support is not None and backward_log is not None:
                backward_log = unit.log_support + self.decay * np.asarray(going @ backward_log)
                vote_log = unit.forward_log + backward_log - unit.log_support
            assert unit.weight is not None
            votes.append((unit.forward + backward - unit.probs, vote_log,
                          unit.weight + backward_weight - 1.0))
        votes.reverse()
        emitted = []
        previous: _Unit | None = None
        for unit, (vote, vote_log, weight) in zip(held, votes, strict=True):
            emitted.append(self._emit(unit, vote, vote_log, weight, previous))
            previous = unit
        return emitted

    def _emit(self, unit: _Unit, vote: np.ndarray, vote_log: np.ndarray | None = None,
              weight: np.ndarray | None = None, previous: _Unit | None = None) -> FrameWork:
        if vote_log is None and unit.forward_log is not None and vote is unit.forward:
            vote_log, weight = unit.forward_log, unit.weight
        previous = previous if previous is not None else self._previous_shown(unit)
        if previous is not None and (unit.counts is None or not unit.counts.nnz):
            previous = None
        share = unit.share() if previous is not None else None
        normalised = vote / np.maximum(vote.sum(axis=1, keepdims=True), 1e-12)
        colours = decode_rows(normalised, self.bins, self.method, self.temperature)
        if share is not None and unit.work.labels is not None:
            # regions keep a colour until the vote clearly moves; the cells of the network's
            # grid blend smoothly instead (held cells would change in visible steps)
            assert previous is not None
            colours = self._hold_colour(unit, share, previous, colours)
        choice = np.full(len(colours), -1, np.intp)
        if self.palette is not None and vote_log is not None and weight is not None:
            choice = self._choose(unit, normalised, vote_log / weight[:, None], share,
                                  previous)
            colours = np.where(choice[:, None] >= 0, self.palette[np.maximum(choice, 0), 1:],
                               colours).astype(np.float32)
        unit.shown, unit.choice = colours, choice
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

    @staticmethod
    def _inherited(share: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Each unit's main source in the previous frame, and the share it came from there."""
        dense_rows = share.shape[1] > 0
        source = np.asarray(share.argmax(axis=1)).ravel() if dense_rows else \
            np.zeros(share.shape[0], np.intp)
        strength = np.asarray(share.max(axis=1).todense()).ravel() if dense_rows else \
            np.zeros(share.shape[0])
        return source.astype(np.intp), strength

    def _choose(self, unit: _Unit, vote: np.ndarray, mean_log: np.ndarray,
                share: sparse.csr_matrix | None, previous: _Unit | None) -> np.ndarray:
        """The palette colour of each unit (-1: none), sticky when the unit is tracked.

        A colour is eligible when it fits the unit's lightness and the pooled vote gives it
        the support a single frame would need (:data:`vidcolor.series.apply.PALETTE_MIN_SUPPORT`);
        among those the highest mean log-support wins. With a learnt layout both are weighed
        by the frame's :func:`vidcolor.series.apply.layout_prior` (where the unit lies, what the
        other units show). A tracked unit keeps its colour while that colour still fits and no
        eligible one is :data:`SWITCH_RATIO` times better.
        """
        from vidcolor.series.apply import (
            PALETTE_MIN_SUPPORT,
            layout_prior,
            palette_support,
            weigh_support,
        )

        assert unit.fits is not None and self.palette is not None
        pooled = palette_support(vote, unit.light, self.bins, self.palette)
        if self.layout is not None and unit.bands is not None:
            prior = layout_prior(pooled, unit.bands, self.layout)
            pooled = weigh_support(pooled, prior)
            mean_log = mean_log + prior
        eligible = unit.fits & (pooled >= PALETTE_MIN_SUPPORT)
        scores = np.where(eligible, mean_log, -np.inf)
        best = scores.argmax(axis=1)
        best_score = scores[np.arange(len(best)), best]
        choice = np.where(np.isfinite(best_score), best, -1)
        if share is not None and previous is not None and previous.choice is not None:
            source, strength = self._inherited(share)
            kept = previous.choice[source]
            rows = np.arange(len(kept))
            kept_fits = (kept >= 0) & unit.fits[rows, np.maximum(kept, 0)]
            kept_score = np.where(kept_fits, mean_log[rows, np.maximum(kept, 0)], -np.inf)
            keep = (strength >= 0.5) & kept_fits & \
                ((choice < 0) | (kept_score >= best_score - np.log(SWITCH_RATIO)))
            choice = np.where(keep, kept, choice)
        return choice

    def _hold_colour(self, unit: _Unit, share: sparse.csr_matrix, previous: _Unit,
                     colours: np.ndarray) -> np.ndarray:
        """Keep the inherited colour of well-tracked units whose vote barely moved."""
        assert previous.shown is not None
        tracked = np.asarray(share.sum(axis=1)).ravel()
        inherited = np.asarray(share @ previous.shown) / np.maximum(tracked, 1e-12)[:, None]
        keep = (tracked >= 0.5) & (np.linalg.norm(colours - inherited, axis=1) < HYSTERESIS)
        return np.where(keep[:, None], inherited, colours).astype(np.float32)

