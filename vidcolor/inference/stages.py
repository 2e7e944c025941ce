"""The render pipeline's stages: what happens to a frame between the network and the output.

A frame travels as a :class:`FrameWork` through a list of stages of two kinds:

* :class:`FrameStage` — stateless, one frame at a time (``apply(work) -> work``); consecutive
  frame stages run together as one job in a worker process. Numpy/OpenCV only: no torch here.
* :class:`SequenceStage` — stateful, sees the frames in order in the main process
  (``push(work) -> frames ready``, ``flush() -> the rest``), keeping at most a bounded window
  of frames (PySceneDetect's ``process_frame``/``post_process`` split). Shot boundaries and
  temporal stabilisation are sequence stages.

The chain :func:`build_stages` makes::

    [network, main process]
      -> Regions (segment + fill + ensemble mean [+ palette], when refining)
      -> sequence stages (shots, temporal, ...)
      -> Paint (full-resolution ab) -> Neutral (chroma ceiling) -> Credits -> ToRGB

A sequence stage is declared in :data:`SEQUENCE_STAGES` by one :func:`register_sequence_stage`
call at the end of this module: a :class:`SequenceEntry` naming its factory by import path (the
module, which may import torch, is imported only when a render builds the stage: the worker
processes and the command line import this module without it), the stages it needs before it,
and its ``--name/--no-name`` option of render and evaluate (generated from the entry).
``RenderOptions.sequence`` names the ones to run. Keyframe hints are not registered: the
planned :class:`~vidcolor.inference.hints.HintMaps` make their own stage, run last.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from vidcolor.color.frames import upsample_ab
from vidcolor.color.grey import GreyModel, colour_on_grey
from vidcolor.inference.ensemble import mean_ab
from vidcolor.inference.refine.fill import region_colours
from vidcolor.inference.refine.registry import segment

if TYPE_CHECKING:
    from vidcolor.inference.hints import HintMaps
    from vidcolor.inference.options import RenderOptions
    from vidcolor.series import SeriesLook

log = logging.getLogger(__name__)

__all__ = ["SourceFrame", "FrameWork", "FrameStage", "SequenceStage", "StageContext", "Regions",
           "Paint", "Neutral", "Credits", "ToRGB", "SEQUENCE_STAGES", "SequenceEntry",
           "register_sequence_stage", "sequence_of",
           "build_stages", "paint", "region_cells", "THUMB_WIDTH",
           "thumbnail"]

#: Width of the small L copy that sequence stages (shot detection, optical flow) work on.
THUMB_WIDTH = 256


def thumbnail(light: np.ndarray) -> np.ndarray:
    """L shrunk to :data:`THUMB_WIDTH` wide (area averaging; smaller frames are kept)."""
    import cv2

    height, width = light.shape
    if width <= THUMB_WIDTH:
        return light
    size = (THUMB_WIDTH, max(1, round(height * THUMB_WIDTH / width)))
    return cv2.resize(light, size, interpolation=cv2.INTER_AREA)


@dataclass
class SourceFrame:
    """A decoded input frame: its key (frame index or file name), timestamp and pixels."""

    key: int | str
    pts: int | None
    rgb: np.ndarray
    alpha: np.ndarray | None = None


@dataclass
class FrameWork:
    """One frame on its way through the pipeline; each stage fills in what it computes.

    Attributes:
        index: position in the sequence (0-based, every frame of the input).
        key: the source's frame index (video) or file name (images).
        pts: presentation timestamp in the source's time base (video), else None.
        lightness: full-resolution L ``(H, W)`` float32, 0-100 — the output's own L.
        thumb: L shrunk to :data:`THUMB_WIDTH` wide (sequence stages work on it).
        alpha: an image's alpha channel, put back on the output.
        ab_small: each model's decoded ab at the network's output size ``(h, w, 2)``.
        probs: the models' mean distribution ``(h, w, Q)`` float16, when a stage needs it.
        labels: region labels ``(H, W)`` int32, compact (0..R-1), when refining.
        region_ab: ``(R, 2)`` colour of each region.
        region_probs: ``(R, Q)`` each region's mean predicted distribution (palette, temporal).
        region_light: ``(R,)`` each region's lightness (median L).
        shot_start: the frame starts a new shot (frame 0 always; the shot stage sets others).
        hinted: a colourist painted this frame (``--hints``; review videos mark it).
        views: extra colourings to show beside the result (``{name: (R, 2) region ab or
            (h, w, 2) small ab}``, e.g. the per-frame colours before temporal stabilisation).
        ab: full-resolution ab ``(H, W, 2)`` (Paint), and ``view_ab`` the views'.
        rgb: the output frame ``(H, W, 3)`` uint8 (ToRGB), and ``view_rgb`` the views'.
    """

    index: int
    key: int | str
    pts: int | None
    lightness: np.ndarray
    thumb: np.ndarray | None = None
    alpha: np.ndarray | None = None
    ab_small: list[np.ndarray] = field(default_factory=list)
    probs: np.ndarray | None = None
    labels: np.ndarray | None = None
    region_ab: np.ndarray | None = None
    region_probs: np.ndarray | None = None
    region_light: np.ndarray | None = None
    shot_start: bool = False
    hinted: bool = False
    views: dict[str, np.ndarray] = field(default_factory=dict)
    ab: np.ndarray | None = None
    view_ab: dict[str, np.ndarray] = field(default_factory=dict)
    rgb: np.ndarray | None = None
    view_rgb: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.lightness.shape[0]), int(self.lightness.shape[1])


@dataclass(frozen=True)
class StageContext:
    """What stages are built from: the options, the series' look, the models' ab bins,
    whether sequence stages should keep their views (review videos, evaluation), and the
    keyframe hints planned for the input (:mod:`vidcolor.inference.hints`)."""

    options: RenderOptions
    look: SeriesLook | None = None
    bins: np.ndarray | None = None
    views: bool = False
    hints: HintMaps | None = None


class FrameStage:
    """A stateless per-frame step; runs in a worker process (must be picklable, no torch)."""

    needs_probs = False

    def apply(self, work: FrameWork) -> FrameWork:  # pragma: no cover - interface
        raise NotImplementedError


class SequenceStage:
    """A stateful step over the frames in order (main process), with a bounded window.

    ``push`` receives each frame once, in order, and returns the frames that may leave (in
    order); ``flush`` returns what is still held at the end. ``needs_probs`` asks the network
    for its distributions, ``replaces_ab`` tells it that its decoded ab are not needed. A
    class attribute ``view`` names the colouring it keeps beside its own (e.g.
    ``"per-frame"``), for review videos and evaluation.
    """

    needs_probs = False
    view: str | None = None
    #: The stage sets every frame's colours itself from the distributions (``probs``): the
    #: models' own ab are not decoded (no stage before it may read them).
    replaces_ab = False

    def push(self, work: FrameWork) -> list[FrameWork]:  # pragma: no cover - interface
        raise NotImplementedError

    def flush(self) -> list[FrameWork]:
        return []


SequenceFactory = Callable[[StageContext], SequenceStage]


@dataclass(frozen=True)
class SequenceEntry:
    """A sequence stage's declaration.

    Attributes:
        name: the name ``RenderOptions.sequence`` uses.
        factory: ``"module:attribute"``, a callable ``(StageContext) -> SequenceStage`` (its
            class), imported on first use.
        needs: the stages that must run before it (added with it, in this order).
        flag: the command line's ``--flag/--no-flag`` (render and evaluate) that runs it with
            what it needs; None: it runs only when a flagged stage needs it.
        default: whether the flag is on by default.
        help: the flag's help.
        needs_distributions: it votes on colour distributions, so it is skipped (with a
            warning) for models that predict ab directly.
    """

    name: str
    factory: str
    needs: tuple[str, ...] = ()
    flag: str | None = None
    default: bool = False
    help: str = ""
    needs_distributions: bool = False

    def load(self) -> SequenceFactory:
        """The factory (imports its module)."""
        module, _, attribute = self.factory.partition(":")
        return getattr(importlib.import_module(module), attribute)


SEQUENCE_STAGES: dict[str, SequenceEntry] = {}


def register_sequence_stage(entry: SequenceEntry) -> None:
    """Declare the sequence stage ``entry.name`` (what it needs must be declared before it)."""
    unknown = [name for name in entry.needs if name not in SEQUENCE_STAGES]
    if unknown:
        raise ValueError(f"sequence stage {entry.name!r} needs undeclared {', '.join(unknown)}")
    SEQUENCE_STAGES[entry.name] = entry


def sequence_of(flags: dict[str, bool]) -> tuple[str, ...]:
    """The sequence stages to run for the command line's flags (``{flag: on}``; a flag not
    given takes its default), each after what it needs, in declaration order.

    >>> sequence_of({"temporal": False})
    ()
    >>> sequence_of({})
    ('shots', 'temporal')
    """
    names: list[str] = []

    def add(name: str) -> None:
        for need in SEQUENCE_STAGES[name].needs:
            add(need)
        if name not in names:
            names.append(name)

    for entry in SEQUENCE_STAGES.values():
        if entry.flag is not None and flags.get(entry.flag, entry.default):
            add(entry.name)
    return tuple(names)


def region_cells(labels: np.ndarray, grid: tuple[int, int]) -> sparse.csr_matrix:
    """``(R, h·w)``: the share of each region's pixels in each cell of the network's grid.

    A region's mean predicted distribution is this matrix times the cells' distributions
    (the distributions upsampled to the frame by nearest neighbour).
    """
    height, width = labels.shape
    rows, cols = grid
    cell = ((np.arange(height) * rows // height)[:, None] * cols
            + (np.arange(width) * cols // width)[None, :]).ravel()
    regions = int(labels.max()) + 1
    counts = sparse.coo_matrix((np.ones(labels.size, np.float32), (labels.ravel(), cell)),
                               shape=(regions, rows * cols)).tocsr()
    size = np.asarray(counts.sum(axis=1)).ravel()
    return sparse.diags((1.0 / np.maximum(size, 1)).astype(np.float32)) @ counts


def region_lightness(labels: np.ndarray, light: np.ndarray) -> np.ndarray:
    """``(R,)`` the most common (integer) L of each region: its fill's lightness, not pulled
    towards the ink by its anti-aliased border as a mean would be (one ``bincount``; a median
    costs 15 times as much)."""
    regions = int(labels.max()) + 1
    level = np.clip(np.rint(light), 0, 100).astype(np.intp).ravel()
    histogram = np.bincount(labels.ravel().astype(np.intp) * 101 + level,
                            minlength=regions * 101).reshape(regions, 101)
    return histogram.argmax(axis=1).astype(np.float32)


@dataclass
class Regions(FrameStage):
    """Segment the grey frame and give each region one colour (SPEC §7, thesis 8.4).

    The segmentation depends on L only, so it is computed once and shared by every model of an
    ensemble; each model's ab is upsampled and its regions filled (2-means, the larger
    cluster's centroid), then the models' region colours are averaged (``--ensemble mean``).
    With ``statistics`` the regions' mean predicted distributions and lightness are kept (for
    the palette and for temporal voting); with ``palette`` each region then takes the palette
    colour its distribution supports best (:func:`vidcolor.series.apply.choose_palette`).
    The frames of ``fine_shots`` (first, end) are segmented with ``fine_options`` added (areas
    in thumbnail pixels, scaled to the frame): a shot a colourist hinted gets the finer
    regions the hint can colour (an eye's white, an ink line:
    :meth:`vidcolor.inference.hints.HintMaps.fine_segmentation`).
    """

    method: str
    options: dict[str, Any]
    statistics: bool = False
    palette: np.ndarray | None = None
    bins: np.ndarray | None = None
    look: SeriesLook | None = None  # the palette's layout weighs the choice when learnt
    fine_shots: tuple[tuple[int, int], ...] = ()
    fine_options: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_probs(self) -> bool:  # type: ignore[override]
        return self.statistics or self.palette is not None

    def apply(self, work: FrameWork) -> FrameWork:
        options = self.options
        if any(first <= work.index < end for first, end in self.fine_shots):
            # sizes in the hints' thumbnail pixels: the same shapes at the frame's size
            scale = work.lightness.size / work.thumb.size if work.thumb is not None else 1.0
            options = {**options, **{name: round(value * scale)
                                     for name, value in self.fine_options.items()}}
        labels = segment(work.lightness, self.method, **options)
        assert labels is not None
        work.labels = labels
        work.region_ab = mean_ab([region_colours(upsample_ab(ab, work.shape), labels)
                                  for ab in work.ab_small])
        work.region_light = region_lightness(labels, work.lightness)
        if self.needs_probs and work.probs is not None:
            grid = work.probs.shape[:2]
            cells = work.probs.reshape(grid[0] * grid[1], -1).astype(np.float32)
            work.region_probs = np.asarray(region_cells(labels, grid) @ cells, np.float32)
            if self.palette is not None and self.bins is not None:
                from vidcolor.series.apply import choose_palette, region_bands

                bands = None if self.look is None else region_bands(labels,
                                                                    len(work.region_light))
                work.region_ab = choose_palette(work.region_probs, work.region_light,
                                                self.bins, self.palette, work.region_ab,
                                                bands=bands, look=self.look)
        return work


def paint(work: FrameWork, colours: np.ndarray | None = None, edges: bool = True
          ) -> np.ndarray:
    """Full-resolution ab ``(H, W, 2)`` of a frame.

    Args:
        work: the frame (its labels, region colours or small ab).
        colours: a colouring to paint: ``(R, 2)`` one ab per region, or ``(h, w, 2)`` small
            per-pixel ab (bicubic upsampling). None: the frame's own (``region_ab`` when it has
            regions, else its models' small ab averaged).
        edges: paint anti-aliased ramps between regions as blends of their colours
            (:func:`vidcolor.inference.edges.unmix_edges`).
    """
    if colours is None:
        colours = work.region_ab if work.labels is not None else mean_ab(work.ab_small)
    assert colours is not None
    if colours.ndim == 2:
        assert work.labels is not None
        if edges and work.region_light is not None:
            from vidcolor.inference.edges import unmix_edges

            return unmix_edges(work.lightness, work.labels, work.region_light, colours)
        return np.asarray(colours, np.float32)[work.labels]
    return upsample_ab(colours, work.shape)


@dataclass
class Paint(FrameStage):
    """Full-resolution ab: each region's colour (anti-aliased ramps blended when ``edges``), or
    the upsampled per-pixel ab (no refinement); the same for every view."""

    edges: bool = True

    def apply(self, work: FrameWork) -> FrameWork:
        work.ab = paint(work, edges=self.edges)
        work.view_ab = {name: paint(work, colours, self.edges)
                        for name, colours in work.views.items()}
        work.views = {}
        return work


@dataclass
class Neutral(FrameStage):
    """Keep what the series keeps neutral neutral (:func:`vidcolor.series.apply.apply_look`): ink
    and highlights take the series' own tint there, and no pixel gets more chroma than the
    training frames show at its lightness."""

    look: SeriesLook

    def apply(self, work: FrameWork) -> FrameWork:
        from vidcolor.series.apply import apply_look

        assert work.ab is not None
        work.ab = apply_look(work.lightness, work.ab, self.look)
        work.view_ab = {name: apply_look(work.lightness, ab, self.look)
                        for name, ab in work.view_ab.items()}
        return work


@dataclass
class Credits(FrameStage):
    """Paint the series' credit screens in their own colours (the network never saw them: the
    credit filter kept them out of training)."""

    look: SeriesLook

    def apply(self, work: FrameWork) -> FrameWork:
        from vidcolor.series.apply import credit_fade, paint_credits

        fade = credit_fade(work.lightness, self.look)
        if fade is not None:
            work.ab = paint_credits(work.lightness, self.look, fade)
            work.view_ab = {name: work.ab for name in work.view_ab}
        return work


@dataclass
class ToRGB(FrameStage):
    """The output: the frame's colours solved onto its own grey under the grey model the
    input was made with (:func:`vidcolor.color.grey.colour_on_grey`), so the model gives the
    input's grey back."""

    grey: GreyModel = field(default_factory=lambda: GreyModel.named("luminance"))

    def apply(self, work: FrameWork) -> FrameWork:
        assert work.ab is not None
        work.rgb = colour_on_grey(work.lightness, work.ab, self.grey)
        work.view_rgb = {name: colour_on_grey(work.lightness, ab, self.grey)
                         for name, ab in work.view_ab.items()}
        work.view_ab = {}
        return work


def active_sequence(options: RenderOptions, bins: np.ndarray | None) -> list[str]:
    """The sequence stages that run: a vote on colour distributions needs models that predict
    them (the ``l2`` variant predicts ab directly)."""
    return [name for name in options.sequence
            if not (SEQUENCE_STAGES[name].needs_distributions and bins is None)]


def build_stages(context: StageContext) -> list[FrameStage | SequenceStage]:
    """The stage list of a render (fresh sequence-stage state)."""
    options, look = context.options, context.look
    names = active_sequence(options, context.bins)
    if len(names) < len(options.sequence):
        skipped = sorted(set(options.sequence) - set(names))
        log.warning("the models predict ab directly, not colour distributions: sequence "
                    "stage(s) %s skipped", ", ".join(skipped))
    sequence = [SEQUENCE_STAGES[name].load()(context) for name in names]
    if context.hints is not None:  # last: a hint overrides whatever the vote chose
        sequence.append(context.hints.stage(context))
    stages: list[FrameStage | SequenceStage] = []
    if options.refine != "none":
        palette = look.palette if (options.palette and look is not None
                                   and len(look.palette)) else None
        fine_shots, fine_options = context.hints.fine_segmentation(options.refine) \
            if context.hints is not None else ((), {})
        stages.append(Regions(options.refine, dict(options.refine_options),
                              statistics=any(s.needs_probs for s in sequence),
                              palette=palette, bins=context.bins,
                              look=look if palette is not None else None,
                              fine_shots=fine_shots, fine_options=fine_options))
    stages.extend(sequence)
    stages.append(Paint())
    if options.neutral and look is not None:
        stages.append(Neutral(look))
    if options.credits and look is not None and look.credit_background is not None:
        stages.append(Credits(look))
    stages.append(ToRGB(options.grey_model))
    return stages


register_sequence_stage(SequenceEntry(
    "shots", "vidcolor.inference.shots:Shots"))
register_sequence_stage(SequenceEntry(
    "temporal", "vidcolor.inference.temporal:Temporal", needs=("shots",), flag="temporal",
    default=True, needs_distributions=True,
    help="Stabilise colours within each shot: each region's colour is a vote over the frames "
         "it appears in (tracked by optical flow); nothing crosses a cut or a fade."))
