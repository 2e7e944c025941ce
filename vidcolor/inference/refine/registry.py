"""The segmentations by name, with their typed parameters (:data:`SEGMENTATIONS`), and
:func:`segment`, which runs one on a grey frame, at full or reduced resolution.

A new segmentation is a module with its function plus one :func:`register` call here; the
``--refine`` choices and the options of its parameters come from the registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vidcolor.inference.refine.felzenszwalb import (
    FELZENSZWALB_MIN_SIZE,
    FELZENSZWALB_SCALE,
    FELZENSZWALB_SIGMA,
    segment_felzenszwalb,
)
from vidcolor.inference.refine.fill import compact_labels
from vidcolor.inference.refine.grey import clean_for_segmentation, normalize_luminance
from vidcolor.inference.refine.regiongrow import (
    REGION_MIN_DISTANCE,
    REGION_THRESHOLD,
    segment_regiongrow,
)


@dataclass(frozen=True)
class Parameter:
    """A typed parameter of a registered segmentation: a keyword of its function.

    The command line's option for it (``--<flag_prefix>-<name>``) is generated from this
    declaration (type, bounds, help, default shown); :meth:`Segmentation.check` validates a
    value against it.

    Attributes:
        name: the function's keyword (``min_size``; its flag ``--fz-min-size``).
        type: ``int`` or ``float``.
        default: the value when not given (full-resolution pixels where it is a size).
        help: what it does, after the segmentation's label (``"smallest region, px"``).
        minimum: the lowest value accepted.
        min_open: ``minimum`` itself is refused (``scale`` must be above 0).
        scaling: for a size, the power of the working scale it scales with when segmenting
            at reduced resolution (1: a length, 2: an area); 0: it stays.
    """

    name: str
    type: type[int] | type[float]
    default: float
    help: str
    minimum: float = 0.0
    min_open: bool = False
    scaling: int = 0

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` for this parameter (None: nothing).

        >>> Parameter("min_size", int, 50, "smallest region", minimum=1).problem(0.5)
        'must be a whole number of at least 1'
        """
        if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value)):
            return f"must be {self._kind()}"
        low_ok = value > self.minimum if self.min_open else value >= self.minimum
        whole_ok = self.type is not int or float(value).is_integer()
        return None if low_ok and whole_ok else f"must be {self._kind()}"

    def _kind(self) -> str:
        noun = "a whole number" if self.type is int else "a number"
        if self.minimum == 0 and not self.min_open:
            return "a non-negative " + noun.removeprefix("a ")
        return f"{noun} {'above' if self.min_open else 'of at least'} {self.minimum:g}"


@dataclass(frozen=True)
class Segmentation:
    """A registered segmentation of the grey frame.

    Attributes:
        name: the ``--refine`` value.
        function: ``function(luminance, **params) -> (H, W) int labels``.
        parameters: its typed parameters (every keyword ``function`` takes besides the grey).
        label: how the help of its options names it (``"Felzenszwalb"``).
        flag_prefix: its parameters are the options ``--<flag_prefix>-<name>`` of render and
            evaluate (``fz``: ``--fz-scale``); None: not on the command line.
    """

    name: str
    function: Callable[..., np.ndarray]
    parameters: tuple[Parameter, ...]
    label: str = ""
    flag_prefix: str | None = None

    @property
    def defaults(self) -> dict[str, float]:
        """Every parameter's default."""
        return {parameter.name: parameter.default for parameter in self.parameters}

    @property
    def scaling(self) -> dict[str, int]:
        """The parameters that are sizes, and the power of the working scale they scale with."""
        return {p.name: p.scaling for p in self.parameters if p.scaling}

    @property
    def integers(self) -> frozenset[str]:
        """The parameters that must stay integers after scaling."""
        return frozenset(p.name for p in self.parameters if p.type is int)

    def flag(self, parameter: Parameter) -> str | None:
        """The command-line option of ``parameter`` (``--fz-min-size``), None if it has none."""
        if self.flag_prefix is None:
            return None
        return f"--{self.flag_prefix}-{parameter.name.replace('_', '-')}"

    def check(self, options: Mapping[str, Any]) -> None:
        """Raise ValueError naming an option this segmentation does not take, or a bad value."""
        unknown = sorted(set(options) - set(self.defaults) - {"working_scale"})
        if unknown:
            raise ValueError(f"segmentation option(s) {', '.join(unknown)} do not apply to "
                             f"--refine {self.name} (it takes {', '.join(self.defaults)})")
        for parameter in self.parameters:
            if parameter.name in options:
                problem = parameter.problem(options[parameter.name])
                if problem:
                    raise ValueError(f"segmentation option {parameter.name} {problem}, got "
                                     f"{options[parameter.name]!r}")
        working_scale = options.get("working_scale", 1.0)
        if not (isinstance(working_scale, (int, float)) and 0 < working_scale <= 1):
            raise ValueError(f"--working-scale must be in (0, 1], got {working_scale}")


SEGMENTATIONS: dict[str, Segmentation] = {}


def register(segmentation: Segmentation) -> Segmentation:
    """Add a segmentation to :data:`SEGMENTATIONS` (its name becomes a ``--refine`` choice,
    its parameters with a ``flag_prefix`` options of render and evaluate)."""
    SEGMENTATIONS[segmentation.name] = segmentation
    return segmentation


register(Segmentation("regiongrow", segment_regiongrow, (
    Parameter("threshold", float, REGION_THRESHOLD, "joining threshold on normalised L"),
    Parameter("min_distance", float, REGION_MIN_DISTANCE,
              "stop when no pixel is farther than this from a region, px", scaling=1),
    Parameter("min_patch", int, 0, "smallest flat patch left between regions that becomes a "
              "region, px (0: none)", minimum=0, scaling=2),
    Parameter("max_iterations", int, 8, "mean-shift iterations per region")),
    label="Region growing"))
register(Segmentation("felzenszwalb", segment_felzenszwalb, (
    Parameter("scale", float, FELZENSZWALB_SCALE, "scale: higher means larger regions",
              min_open=True, scaling=2),
    Parameter("sigma", float, FELZENSZWALB_SIGMA, "Gaussian pre-smoothing, px", scaling=1),
    Parameter("min_size", int, FELZENSZWALB_MIN_SIZE, "smallest region, px", minimum=1,
              scaling=2)),
    label="Felzenszwalb", flag_prefix="fz"))


def refine_methods() -> tuple[str, ...]:
    """The ``--refine`` choices: ``none`` and every registered segmentation."""
    return ("none", *SEGMENTATIONS)


def segment(luminance: np.ndarray, method: str, *, working_scale: float = 1.0,
            clean_film: bool = True, **options: Any) -> np.ndarray | None:
    """Segment a grey frame with a registered segmentation (``"none"`` returns None).

    Args:
        luminance: (H, W) grey image.
        method: a name in :data:`SEGMENTATIONS`, or ``"none"``.
        working_scale: 1 (default) segments at full resolution. Below 1 the (min-max
            normalised) L is shrunk by this factor (area averaging), segmented, and the labels
            are mapped back to full resolution following the full-resolution L
            (:func:`_labels_to_full`): a speed option (Felzenszwalb at 0.5 is ~5x faster) that
            keeps boundaries on the drawn lines but can lose regions thinner than ~1/scale px.
        clean_film: find the regions on
            :func:`~vidcolor.inference.refine.grey.clean_for_segmentation`'s grey (a film
            print's scratches and grain taken out; a clean grey is left as it is).
        **options: the segmentation's parameters, sizes in full-resolution pixels (converted
            to the working scale).

    Returns:
        (H, W) int32 labels 0..K-1 (every label used), or None for ``"none"``.
    """
    if method == "none":
        return None
    if method not in SEGMENTATIONS:
        raise ValueError(f"unknown refinement {method!r}; choose one of "
                         f"{', '.join(refine_methods())}")
    spec = SEGMENTATIONS[method]
    if not 0 < working_scale <= 1:
        raise ValueError(f"working_scale must be in (0, 1], got {working_scale}")
    if clean_film:
        luminance = clean_for_segmentation(luminance)
    height, width = np.shape(luminance)
    small_size = (max(1, round(width * working_scale)), max(1, round(height * working_scale)))
    if working_scale == 1 or small_size == (width, height):
        return compact_labels(spec.function(luminance, **options))
    full = normalize_luminance(luminance)
    small = cv2.resize(full, small_size, interpolation=cv2.INTER_AREA)
    ratio = math.sqrt((small_size[0] * small_size[1]) / (width * height))
    scaled = dict(options)
    for key, power in spec.scaling.items():
        value = options.get(key, spec.defaults[key]) * ratio ** power
        scaled[key] = max(1, round(value)) if key in spec.integers else value
    labels = spec.function(small, **scaled)
    return compact_labels(_labels_to_full(labels, small, full))


def _labels_to_full(labels: np.ndarray, small: np.ndarray, full: np.ndarray) -> np.ndarray:
    """Map labels of a reduced-scale segmentation back to full resolution along the lines.

    Each full-resolution pixel takes the label of the one, among the (up to) 4 reduced-scale
    pixels around its position, whose L is closest to its own L (ties: the nearest of them),
    a joint-bilateral style nearest neighbour: a pixel beside a drawn line joins the region on
    its own side of the line rather than the one of the blocky reduced grid.
    """
    (height, width), (small_h, small_w) = full.shape, labels.shape

    def neighbours(size: int, small_size: int) -> tuple[np.ndarray, np.ndarray]:
        position = (np.arange(size, dtype=np.float32) + 0.5) * (small_size / size) - 0.5
        near = np.clip(np.rint(position), 0, small_size - 1).astype(np.intp)
        other = np.clip(np.where(position >= near, near + 1, near - 1), 0, small_size - 1)
        return near, other

    rows, cols = neighbours(height, small_h), neighbours(width, small_w)
    grid = np.ix_(rows[0], cols[0])
    best_label = labels[grid]  # the nearest first: it wins ties
    best = np.abs(small[grid] - full)
    for row_pick, col_pick in ((0, 1), (1, 0), (1, 1)):
        grid = np.ix_(rows[row_pick], cols[col_pick])
        distance = np.abs(small[grid] - full)
        closer = distance < best
        best_label = np.where(closer, labels[grid], best_label)
        best = np.minimum(distance, best)
    return best_label.astype(np.int32, copy=False)
