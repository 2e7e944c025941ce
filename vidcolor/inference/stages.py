"""The render pipeline's stages: what happens to a frame between the network and the output.

A frame travels as a :class:`FrameWork` through a list of stages of two kinds:

* :class:`FrameStage` — stateless, one frame at a time (``apply(work) -> work``); consecutive
  frame stages run together as one job in a worker process. Numpy/OpenCV only: no torch here.
* :class:`SequenceStage` — stateful, sees the frames in order in the main process
  (``push(work) -> frames ready``, ``flush() -> the rest``), keeping at most a bounded window
  of frames (PySceneDetect's ``process_frame``/``post_process`` split). Shot boundaries and
  temporal stabilisation are sequence stages.

The built-in chain (:func:`build_stages`)::

    [network, main process] -> Regions (segment + fill + ensemble mean, if refining)
      -> sequence stages (shots, temporal, ...) -> Paint (full-resolution ab) -> ToRGB

A sequence stage is registered in :data:`SEQUENCE_STAGES` with :func:`register_sequence_stage`
(name -> factory taking the render options); ``RenderOptions.sequence`` names the ones to run.
Adding one is a module with the class and that one call, imported in
:mod:`vidcolor.inference.__init__`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from vidcolor.color import lab_to_rgb_uint8, upsample_ab
from vidcolor.inference.ensemble import mean_ab
from vidcolor.inference.refine import region_colours, segment

if TYPE_CHECKING:
    from vidcolor.inference.options import RenderOptions

__all__ = ["FrameWork", "FrameStage", "SequenceStage", "Regions", "Paint", "ToRGB",
           "SEQUENCE_STAGES", "register_sequence_stage", "build_stages", "THUMB_WIDTH"]

#: Width of the small L copy that sequence stages (shot detection, optical flow) work on.
THUMB_WIDTH = 256


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
        region_ab: ``(R, 2)`` colour of each region (the ensemble mean of the models' fills).
        shot_start: the frame starts a new shot (set by the shot stage; frame 0 always).
        ab: full-resolution ab ``(H, W, 2)`` (the Paint stage).
        rgb: the output frame ``(H, W, 3)`` uint8 (the ToRGB stage).
        views: extra colourings to show beside the result (``{name: (R, 2) region ab or
            (h, w, 2) small ab}``, e.g. the per-frame colours before temporal stabilisation);
            ToRGB turns them into ``view_rgb``.
        view_rgb: ``{name: (H, W, 3) uint8}`` of :attr:`views`.
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
    shot_start: bool = False
    ab: np.ndarray | None = None
    rgb: np.ndarray | None = None
    views: dict[str, np.ndarray] = field(default_factory=dict)
    view_rgb: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.lightness.shape[0]), int(self.lightness.shape[1])


class FrameStage:
    """A stateless per-frame step; runs in a worker process (must be picklable, no torch)."""

    def apply(self, work: FrameWork) -> FrameWork:  # pragma: no cover - interface
        raise NotImplementedError


class SequenceStage:
    """A stateful step over the frames in order (main process), with a bounded window.

    ``push`` receives each frame once, in order, and returns the frames that may leave (in
    order); ``flush`` returns what is still held at the end. ``needs_probs`` asks the network
    for its distributions; ``needs_regions`` asks for segmentation even without ``--refine``.
    """

    needs_probs = False

    def push(self, work: FrameWork) -> list[FrameWork]:  # pragma: no cover - interface
        raise NotImplementedError

    def flush(self) -> list[FrameWork]:
        return []


SequenceFactory = Callable[["RenderOptions"], SequenceStage]
SEQUENCE_STAGES: dict[str, SequenceFactory] = {}


def register_sequence_stage(name: str, factory: SequenceFactory) -> None:
    """Make ``factory(options)`` available as the sequence stage ``name``."""
    SEQUENCE_STAGES[name] = factory


@dataclass
class Regions(FrameStage):
    """Segment the grey frame and give each region one colour (SPEC §7, thesis 8.4).

    The segmentation depends on L only, so it is computed once and shared by every model of an
    ensemble; each model's ab is upsampled and its regions filled (2-means, the larger
    cluster's centroid), then the models' region colours are averaged (``--ensemble mean``).
    """

    method: str
    options: dict[str, Any]

    def apply(self, work: FrameWork) -> FrameWork:
        labels = segment(work.lightness, self.method, **self.options)
        assert labels is not None
        work.labels = labels
        work.region_ab = mean_ab([region_colours(upsample_ab(ab, work.shape), labels)
                                  for ab in work.ab_small])
        return work


class Paint(FrameStage):
    """Full-resolution ab: each region's colour, or the upsampled per-pixel ab (no refinement)."""

    def apply(self, work: FrameWork) -> FrameWork:
        work.ab = paint(work)
        return work


def paint(work: FrameWork, colours: np.ndarray | None = None) -> np.ndarray:
    """Full-resolution ab ``(H, W, 2)`` of a frame.

    Args:
        work: the frame (its labels, region colours or small ab).
        colours: a colouring to paint: ``(R, 2)`` one ab per region, or ``(h, w, 2)`` small
            per-pixel ab (bicubic upsampling). None: the frame's own (``region_ab`` when it has
            regions, else its models' small ab averaged).
    """
    if colours is None:
        colours = work.region_ab if work.labels is not None else mean_ab(work.ab_small)
    assert colours is not None
    if colours.ndim == 2:
        assert work.labels is not None
        return np.asarray(colours, np.float32)[work.labels]
    return upsample_ab(colours, work.shape)


class ToRGB(FrameStage):
    """Recombine the frame's own L with its ab (lightness-preserving, :mod:`vidcolor.color`)."""

    def apply(self, work: FrameWork) -> FrameWork:
        assert work.ab is not None
        work.rgb = lab_to_rgb_uint8(work.lightness, work.ab)
        for name, colours in work.views.items():
            work.view_rgb[name] = lab_to_rgb_uint8(work.lightness, paint(work, colours))
        work.views = {}
        return work


def build_stages(options: RenderOptions) -> list[FrameStage | SequenceStage]:
    """The stage list of a render with ``options`` (fresh sequence-stage state)."""
    stages: list[FrameStage | SequenceStage] = []
    if options.refine != "none":
        stages.append(Regions(options.refine, dict(options.refine_options)))
    stages.extend(SEQUENCE_STAGES[name](options) for name in options.sequence)
    stages.extend([Paint(), ToRGB()])
    return stages
