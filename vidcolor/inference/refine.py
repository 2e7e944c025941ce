"""Refinement of predicted colours by segmentation and flood fill (SPEC §7, thesis 8.4.1).

Cartoons have flat colour areas bounded by drawn lines, so the grey frame alone says where a
colour may change. Segment the full-resolution luminance into regions, then paint every region
with one colour: k-means (k = 2) on the region's predicted ab, the larger cluster's centroid.

Two segmentations:

- :func:`segment_regiongrow`: seeded 4-neighbourhood region growing, mean-shift style
  (thesis: threshold 3/51 on L normalised to [0, 1]; first seed (0, 0); each next seed is the
  pixel farthest from everything segmented so far; stop when no pixel is farther than 4 px).
- :func:`segment_felzenszwalb`: Felzenszwalb–Huttenlocher graph segmentation (scikit-image),
  better on subtle edges.

A film print's grey (grain, dust, the vertical scratches of a projector's gate; see
:mod:`vidcolor.film`) is not flat: a scratch down the frame cuts every region it crosses in two.
:func:`clean_for_segmentation` takes the scratches out of the grey the regions are found on (a
clean digital grey has none, and is segmented exactly as before). Only the labels come from the
cleaned grey; the output keeps the input's own grey, grain included.

Segmentations are registered in :data:`SEGMENTATIONS` (name -> :class:`Segmentation`: the
function and its typed :class:`Parameter` s: type, default, bounds, help, and how each scales
when segmenting at reduced resolution); ``--refine`` choices and the render and evaluate options
of the parameters (``--fz-scale`` ...) come from that registry, and
:class:`~vidcolor.inference.options.RenderOptions` checks values against it. Adding one is a
function plus one :func:`register` call.

Everything here is numpy in, numpy out, no torch and no I/O, so it runs in worker processes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from scipy import ndimage

#: Region-growing defaults (SPEC §7).
REGION_THRESHOLD = 3 / 51
REGION_MIN_DISTANCE = 4.0
#: Felzenszwalb defaults (the thesis gives none). On min-max normalised L of a 704x528 cartoon
#: these give ~90 regions per frame (flat areas bounded by the drawn lines; sigma 0.5 only
#: smooths codec noise, min_size 50 px merges specks) at ~400 ms per frame on one core
#: (scikit-image's graph build + sort + union-find); ``working_scale=0.5`` takes ~80 ms.
FELZENSZWALB_SCALE = 100.0
FELZENSZWALB_SIGMA = 0.5
FELZENSZWALB_MIN_SIZE = 50

# cv2.floodFill accepts src(seed) - lo <= src(x) <= src(seed) + up; the SPEC's test is strict.
_STRICT = 1e-6

#: A column is a scratch when over this share of its rows are brighter (or darker) by more than
#: :data:`SCRATCH_CONTRAST` than both pixels :data:`SCRATCH_REACH` px to each side: a drawn
#: vertical line rarely runs down nearly the whole frame, a scratch does
#: (:func:`remove_scratches`).
#: Measured: no column found on the demo's 3x480 clean twins, copying_is_not_theft (262 frames)
#: or Big Buck Bunny (180); a scratch on 75 % of the frames of the demo's film twin; on
#: Steamboat Willie's scan, the bright edge of the picture beside its pillarbox.
SCRATCH_ROWS = 0.7
SCRATCH_REACH = 4
SCRATCH_CONTRAST = 0.01
#: ... counting only the rows where it could show: a bright scratch is lost where the picture is
#: already within this of white, a dark one within this of black.
SCRATCH_HIDDEN = 0.1


def normalize_luminance(luminance: np.ndarray) -> np.ndarray:
    """Stretch a grey image to [0, 1] (min-max), as float32.

    The thesis normalises every frame so a fixed threshold also works on fades. A constant image
    maps to all zeros.

    >>> normalize_luminance(np.array([[10.0, 20.0], [30.0, 50.0]])).tolist()
    [[0.0, 0.25], [0.5, 1.0]]
    """
    values = np.asarray(luminance, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"luminance must be a 2-D array, got shape {values.shape}")
    low, high = float(values.min()), float(values.max())
    if high - low <= 0:
        return np.zeros_like(values)
    return (values - low) / (high - low)


def remove_scratches(norm: np.ndarray, *, reach: int = SCRATCH_REACH,
                     contrast: float = SCRATCH_CONTRAST,
                     rows: float = SCRATCH_ROWS) -> np.ndarray:
    """Replace vertical scratches by what their rows show beside them.

    A pixel is on a bright line when it is brighter by more than ``contrast`` than both pixels
    ``reach`` px to its left and right (a dark line: darker than both), which finds lines up to
    about ``2 reach - 1`` px wide. A column that is on a line of one kind on more than ``rows``
    of the rows where such a line could show (for a bright line, where its sides are below
    ``1 -`` :data:`SCRATCH_HIDDEN`; for a dark one, above it) is a scratch: a drawn line rarely
    runs down nearly the whole frame, a scratch does. Scratch columns and their neighbours (a
    sub-pixel scratch covers two) are interpolated, row by row, between the columns on either
    side, wherever they differ from that by more than ``contrast / 2``. A horizontal line
    crossing a scratch is on both sides too, so it stays.

    Args:
        norm: ``(H, W)`` grey image normalised to [0, 1] (:func:`normalize_luminance`).
        reach: how far each side the line test looks (px).
        contrast: the difference that counts, in the image's units.
        rows: the share of a column's rows a scratch covers.

    Returns:
        ``(H, W)`` float32, ``norm`` where no scratch was found.

    >>> image = np.full((20, 20), 0.5, np.float32); image[:, 7] = 0.9; image[4:6, :] = 0.0
    >>> cleaned = remove_scratches(image)
    >>> float(cleaned[:, 7].max()), float(cleaned[4, 7])
    (0.5, 0.0)
    """
    norm = np.asarray(norm, np.float32)
    height, width = norm.shape
    if width <= 2 * reach or height < 4:
        return norm
    # Find the scratches on every other row (a scratch runs down the whole frame).
    sample = np.pad(norm[::2], ((0, 0), (reach, reach)), mode="edge")
    left, centre, right = sample[:, :-2 * reach], norm[::2], sample[:, 2 * reach:]
    brighter = np.minimum(centre - left, centre - right) > contrast
    darker = np.minimum(left - centre, right - centre) > contrast
    # A bright scratch cannot show where the picture is already white, nor a dark one on black:
    # count the rows where it could.
    can_brighten = (np.maximum(left, right) < 1 - SCRATCH_HIDDEN).sum(axis=0)
    can_darken = (np.minimum(left, right) > SCRATCH_HIDDEN).sum(axis=0)
    enough = len(centre) * (1 - rows)
    scratch = ((brighter.sum(axis=0) > rows * can_brighten) & (can_brighten >= enough)) | (
        (darker.sum(axis=0) > rows * can_darken) & (can_darken >= enough))
    if not scratch.any():
        return norm
    near = scratch.copy()
    near[1:] |= scratch[:-1]
    near[:-1] |= scratch[1:]
    cleaned = norm.copy()
    # Each run of scratch columns [first, last]: interpolate between first - 1 and last + 1.
    edges = np.flatnonzero(np.diff(np.concatenate([[0], near.astype(np.int8), [0]])))
    for first, end in zip(edges[::2], edges[1::2], strict=True):
        before, after = max(first - 1, 0), min(end, width - 1)
        weight = (np.arange(first, end, dtype=np.float32) - before) / max(after - before, 1)
        between = norm[:, before, None] * (1 - weight) + norm[:, after, None] * weight
        part = norm[:, first:end]
        cleaned[:, first:end] = np.where(np.abs(part - between) > contrast / 2, between, part)
    return cleaned


def clean_for_segmentation(luminance: np.ndarray) -> np.ndarray:
    """The grey image the regions are found on: the min-max normalised grey without scratches.

    Vertical scratches (a film print's) are interpolated from the columns beside them
    (:func:`remove_scratches`); a grey without any is only normalised. Grain is left: region
    growing's threshold is far above it. Measured on the demo's film twin: a bilateral filter
    against the grain changed nothing (PSNR 28.67 dB with it, 28.69 without), and gating the
    cleaning on the frame's grain (a Laplacian noise estimate) left the scratches of a print
    without grain in, where they cut regions in two.

    Args:
        luminance: ``(H, W)`` grey image, any numeric range.

    Returns:
        ``(H, W)`` float32 in [0, 1].

    >>> image = np.zeros((24, 24), np.float32); image[:, 12:] = 100.0
    >>> bool(np.array_equal(clean_for_segmentation(image), normalize_luminance(image)))
    True
    """
    return remove_scratches(normalize_luminance(luminance))


def _grow_region(luminance: np.ndarray, fill_mask: np.ndarray, seed: tuple[int, int],
                 threshold: float, max_iterations: int) -> tuple[int, int, int, int]:
    """Grow one region from ``seed``; mark it with 2 in ``fill_mask``. Returns its bbox."""
    row, col = seed
    seed_value = float(luminance[row, col])
    region_mean = seed_value
    flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (2 << 8)
    tolerance = max(threshold - _STRICT, 0.0)
    rect: tuple[int, int, int, int] | None = None
    for _ in range(max_iterations):
        low = seed_value - (region_mean - tolerance)
        high = (region_mean + tolerance) - seed_value
        if rect is not None and (low < 0 or high < 0):
            break  # the mean moved away from the seed: keep the previous region
        if rect is not None:
            x, y, w, h = rect
            window = fill_mask[1 + y:1 + y + h, 1 + x:1 + x + w]
            window[window == 2] = 0
        _, _, _, rect = cv2.floodFill(luminance, fill_mask, (col, row), 0,
                                      max(low, 0.0), max(high, 0.0), flags)
        x, y, w, h = rect
        inside = fill_mask[1 + y:1 + y + h, 1 + x:1 + x + w] == 2
        new_mean = float(luminance[y:y + h, x:x + w][inside].mean())
        if abs(new_mean - region_mean) < 1e-7:
            break
        region_mean = new_mean
    assert rect is not None
    return rect


def segment_regiongrow(luminance: np.ndarray, *, threshold: float = REGION_THRESHOLD,
                       min_distance: float = REGION_MIN_DISTANCE,
                       max_iterations: int = 8) -> np.ndarray:
    """Segment a grey image by seeded 4-neighbourhood region growing (SPEC §7).

    The image is min-max normalised to [0, 1]. Starting at seed (0, 0), a region is the
    4-connected set of not yet segmented pixels ``p`` around the seed with
    ``|L(p) - mean| < threshold``, where ``mean`` is the region's own mean. The next seed is the
    pixel with the largest Euclidean distance to the segmented area; growing stops when no pixel
    is farther than ``min_distance`` from it.

    Deviation from a pixel-by-pixel BFS (documented): the region's mean is found by a mean-shift
    fixed point instead of being updated after every joining pixel. Start with the seed's value,
    take the connected component of unsegmented pixels within ``threshold`` of the mean (an
    OpenCV flood fill), replace the mean by that component's mean, repeat until the mean stops
    moving (at most ``max_iterations`` times, or until the seed itself would fall out). The result
    does not depend on the BFS visiting order, and it is 10-100x faster than a Python BFS.

    Pixels left unsegmented at the end (all within ``min_distance`` of a region: thin lines,
    anti-aliased edges, noise) join the nearest region (Euclidean distance, ties by scan order).

    Args:
        luminance: (H, W) grey image, any numeric range.
        threshold: joining threshold on normalised L.
        min_distance: stop when no pixel is farther than this (px) from a region.
        max_iterations: mean-shift iterations per region.

    Returns:
        (H, W) int32 labels 0..K-1; label 0 holds pixel (0, 0), labels follow seed order.

    >>> image = np.zeros((12, 12)); image[:, 6:] = 1.0
    >>> labels = segment_regiongrow(image)
    >>> int(labels.max()) + 1, int(labels[0, 0]), int(labels[0, 11])
    (2, 0, 1)
    """
    norm = np.ascontiguousarray(normalize_luminance(luminance))
    height, width = norm.shape
    labels = np.full((height, width), -1, dtype=np.int32)
    fill_mask = np.zeros((height + 2, width + 2), dtype=np.uint8)  # 1 = already segmented
    distance = np.full((height, width), np.inf, dtype=np.float32)
    seed = (0, 0)
    seed_distance = math.inf
    label = 0
    while True:
        x, y, w, h = _grow_region(norm, fill_mask, seed, threshold, max_iterations)
        window = fill_mask[1 + y:1 + y + h, 1 + x:1 + x + w]
        region = window == 2
        labels[y:y + h, x:x + w][region] = label
        window[region] = 1
        # The new region can only lower distances that exceed the distance to it, and no
        # distance exceeds the current seed's, so a margin of that size around it suffices.
        if math.isinf(seed_distance):
            top, left, bottom, right = 0, 0, height, width
        else:
            margin = int(math.ceil(seed_distance)) + 1
            top, left = max(y - margin, 0), max(x - margin, 0)
            bottom, right = min(y + h + margin, height), min(x + w + margin, width)
        crop = labels[top:bottom, left:right] != label
        to_region = ndimage.distance_transform_edt(crop).astype(np.float32)
        np.minimum(distance[top:bottom, left:right], to_region,
                   out=distance[top:bottom, left:right])
        label += 1
        flat = int(np.argmax(distance))
        seed_distance = float(distance.flat[flat])
        if seed_distance <= min_distance:
            break
        seed = divmod(flat, width)
    unsegmented = labels < 0
    if unsegmented.any():
        _, (rows, cols) = ndimage.distance_transform_edt(unsegmented, return_indices=True)
        labels = labels[rows, cols]
    return labels


def segment_felzenszwalb(luminance: np.ndarray, *, scale: float = FELZENSZWALB_SCALE,
                         sigma: float = FELZENSZWALB_SIGMA,
                         min_size: int = FELZENSZWALB_MIN_SIZE) -> np.ndarray:
    """Segment a grey image with Felzenszwalb–Huttenlocher (scikit-image).

    The image is min-max normalised to [0, 1] first, like :func:`segment_regiongrow`.

    Args:
        luminance: (H, W) grey image, any numeric range.
        scale: higher means larger regions.
        sigma: Gaussian pre-smoothing.
        min_size: smallest region (px), enforced by merging.

    Returns:
        (H, W) int32 labels 0..K-1.

    >>> image = np.zeros((20, 20)); image[:, 10:] = 1.0
    >>> labels = segment_felzenszwalb(image, min_size=10)
    >>> bool(labels[0, 0] != labels[0, 19]), bool(labels[0, 0] == labels[19, 0])
    (True, True)
    """
    from skimage.segmentation import felzenszwalb

    norm = normalize_luminance(luminance).astype(np.float64)
    labels = felzenszwalb(norm, scale=scale, sigma=sigma, min_size=min_size, channel_axis=None)
    return labels.astype(np.int32, copy=False)


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
        clean_film: find the regions on :func:`clean_for_segmentation`'s grey (a film print's
            scratches and grain taken out; a clean grey is left as it is).
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


def compact_labels(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..K-1 in order of value, so that every label is used (O(N), no sort).

    >>> compact_labels(np.array([[5, 5], [9, 2]])).tolist()
    [[1, 1], [2, 0]]
    """
    flat, _ = _flat_labels(labels)
    return flat.reshape(np.shape(labels)).astype(np.int32, copy=False)


def _flat_labels(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Flat labels renumbered 0..K-1 (in order of value) and K."""
    flat = np.asarray(labels).ravel()
    if flat.size == 0:
        return flat.astype(np.intp), 0
    if flat.min() < 0:
        raise ValueError("labels must be non-negative")
    flat = flat.astype(np.intp, copy=False)
    present = np.bincount(flat) > 0
    if present.all():
        return flat, len(present)
    lookup = np.cumsum(present) - 1
    return lookup[flat], int(present.sum())


def region_colours(ab: np.ndarray, labels: np.ndarray, *, iterations: int = 10,
                   full_iterations: int = 1) -> np.ndarray:
    """The colour of each region: the centroid of the larger cluster of a 2-means on its ab.

    All regions are clustered at once with ``np.bincount`` (no per-region loop, no
    scikit-learn call). Initialisation is deterministic: the two centroids start one standard
    deviation either side of the region's mean along its principal axis of ab; then Lloyd
    steps (stopping when no pixel changes cluster): at most ``iterations`` on a 2x2-strided
    subsample, then at most ``full_iterations`` on all pixels. An empty cluster keeps its
    previous centroid; on equal sizes the first cluster wins.

    Each Lloyd step is one pass over the pixels: the assignment is a half-plane test
    (gathered per-region line coefficients), and both clusters' sums come from one
    ``bincount`` on ``2 * label + cluster``.

    Args:
        ab: (H, W, 2) predicted a, b.
        labels: (H, W) non-negative integer region labels.
        iterations: Lloyd iterations on the subsample (on all pixels for images under 4x4).
        full_iterations: Lloyd iterations on all pixels after the subsample's.

    Returns:
        (K, 2) float32: the ab of each region, in the order of :func:`compact_labels` (for
        compact labels, row k is label k's colour).

    >>> ab = np.zeros((2, 3, 2)); ab[0, 0] = (90, 90)
    >>> region_colours(ab, np.zeros((2, 3), int)).tolist()
    [[0.0, 0.0]]
    """
    ab = np.asarray(ab)
    if ab.ndim != 3 or ab.shape[2] != 2 or ab.shape[:2] != np.shape(labels):
        raise ValueError(f"ab must be (H, W, 2) matching labels {np.shape(labels)}, "
                         f"got {ab.shape}")
    flat_labels, regions = _flat_labels(labels)
    if regions == 0:
        return np.zeros((0, 2), np.float32)
    a = np.ascontiguousarray(ab[..., 0], dtype=np.float32).ravel()
    b = np.ascontiguousarray(ab[..., 1], dtype=np.float32).ravel()

    def region_sum(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(flat_labels, weights=weights, minlength=regions)

    count = region_sum()
    sum_a, sum_b = region_sum(a), region_sum(b)
    mean_a, mean_b = sum_a / count, sum_b / count
    # Second moments about the mean from raw moments (float64 sums; ab is bounded by ~110).
    var_a = np.maximum(region_sum(a * a) / count - mean_a * mean_a, 0.0)
    var_b = np.maximum(region_sum(b * b) / count - mean_b * mean_b, 0.0)
    cov = region_sum(a * b) / count - mean_a * mean_b
    # Largest eigenvalue and its eigenvector of [[var_a, cov], [cov, var_b]].
    half_trace, det = (var_a + var_b) / 2, var_a * var_b - cov * cov
    eigen = half_trace + np.sqrt(np.maximum(half_trace * half_trace - det, 0.0))
    tiny = np.abs(cov) <= 1e-9 * np.maximum(half_trace, 1e-12)
    axis_a = np.where(~tiny, eigen - var_b, np.where(var_a >= var_b, 1.0, 0.0))
    axis_b = np.where(~tiny, cov, np.where(var_a >= var_b, 0.0, 1.0))
    norm = np.hypot(axis_a, axis_b)
    norm[norm == 0] = 1.0
    spread = np.sqrt(np.maximum(eigen, 0.0)) / norm
    centres = np.stack([np.stack([mean_a - spread * axis_a, mean_b - spread * axis_b], 1),
                        np.stack([mean_a + spread * axis_a, mean_b + spread * axis_b], 1)])
    # Lloyd on every 4th pixel (a 2x2 stride: the predicted ab is a smooth bicubic upsampling,
    # so this subsample shows each region's colour distribution) until no sample changes
    # cluster (at most ``iterations`` steps), then at most ``full_iterations`` steps on every
    # pixel (default 1), so that the centroids are those of full-resolution clusters. A full
    # step costs ~7 ms at 704x528, a subsample step ~2 ms.
    if ab.shape[0] >= 4 and ab.shape[1] >= 4:
        grid = np.arange(flat_labels.size).reshape(ab.shape[:2])[::2, ::2].ravel()
        _lloyd(flat_labels[grid], a[grid], b[grid], centres, regions, iterations)
        in_second = _lloyd(flat_labels, a, b, centres, regions, full_iterations)
    else:
        in_second = _lloyd(flat_labels, a, b, centres, regions, iterations)
    size_second = np.bincount(flat_labels, weights=in_second, minlength=regions)
    larger = np.where(size_second > count - size_second, 1, 0)
    return centres[larger, np.arange(regions)].astype(np.float32)


def fill_regions(ab: np.ndarray, labels: np.ndarray, **options: int) -> np.ndarray:
    """Paint each region with its :func:`region_colours` colour (the thesis's flood fill).

    Returns:
        (H, W, 2) float32, constant within each region.

    >>> ab = np.zeros((2, 3, 2)); ab[0, 0] = (90, 90)
    >>> fill_regions(ab, np.zeros((2, 3), int))[:, :, 0].tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    flat, _ = _flat_labels(labels)
    return region_colours(ab, labels, **options).take(flat, axis=0).reshape(np.shape(ab))


def _lloyd(labels: np.ndarray, a: np.ndarray, b: np.ndarray, centres: np.ndarray, regions: int,
           iterations: int) -> np.ndarray:
    """Lloyd steps of per-region 2-means, updating ``centres`` (2, regions, 2) in place.

    Returns the final assignment (True: second cluster). An empty cluster keeps its centre.
    """
    in_second = np.zeros(labels.shape, dtype=bool)
    base = 2 * labels
    for step in range(iterations):
        # Nearer to the second centre  <=>  (c2 - c1) . x > (|c2|^2 - |c1|^2) / 2
        direction = (centres[1] - centres[0]).astype(np.float32)
        offset = (((centres[1] ** 2).sum(1) - (centres[0] ** 2).sum(1)) / 2).astype(np.float32)
        score = a * direction[:, 0].take(labels)
        score += b * direction[:, 1].take(labels)
        new_second = score > offset.take(labels)
        if step > 0 and np.array_equal(new_second, in_second):
            break
        in_second = new_second
        pair_labels = base + in_second
        size = np.bincount(pair_labels, minlength=2 * regions).reshape(regions, 2)
        pair_a = np.bincount(pair_labels, weights=a, minlength=2 * regions).reshape(regions, 2)
        pair_b = np.bincount(pair_labels, weights=b, minlength=2 * regions).reshape(regions, 2)
        for cluster in (0, 1):
            has = size[:, cluster] > 0
            centres[cluster][has, 0] = pair_a[has, cluster] / size[has, cluster]
            centres[cluster][has, 1] = pair_b[has, cluster] / size[has, cluster]
    return in_second
