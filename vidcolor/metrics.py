"""Evaluation metrics: the thesis's (8.1), Zhang et al.'s AuC, and temporal consistency (SPEC §8).

Every metric compares a colourised result with its ground truth. Three layers:

**Image metrics** take plain numpy arrays: one image ``(H, W, 3)`` or a batch ``(N, H, W, 3)``
(or a sequence of ``(H, W, 3)`` arrays, which may differ in size), RGB as ``uint8`` (0–255) or
float in [0, 1]. Float values a hair outside [0, 1] (interpolation) are clipped; values clearly
outside raise ``ValueError``. ``uint8`` images take the frame path of :mod:`vidcolor.color`
(float32, OpenCV: what render writes, and what :class:`SequenceScorer` computes); float images
are computed in float64. The two agree to ~1e-5. Results are Python floats; all are pure.

- :func:`ab_rmse`: thesis eq. 8.1 in the αβ space of eq. 8.2. The thesis calls it RMSE, but the
  formula (and this implementation) is the **mean per-pixel Euclidean distance**
  ``mean_i mean_n ||αβ_pred - αβ_true||`` — no square/root over the mean. Lower is better.
- :func:`psnr`: thesis eq. 8.3, RGB in [0, 1] (peak 1), per image, averaged. Identical images
  give ``inf``. Higher is better.
- :func:`perceivable_artifacts`: thesis eq. 8.4 and its prose, as the **fraction of artefact
  pixels**: among pixels whose valid 4-neighbours all lie within ``thresh`` (Euclidean, Lab ab
  units) of them in the ground truth, the fraction that are NOT so in the result; per image,
  averaged. Eq. 8.4 as printed is the complementary ratio (consistent / consistent), but the
  thesis text ("a pixel is only counted towards the error value if [consistent in the ground
  truth] but does not [in the result]") and Table 8.1 (L2 0.047 "mostly consistently colored",
  classification 0.13–0.17 "significantly more artifacts") say lower is better, i.e. this one.
  :func:`consistency_ratio` returns eq. 8.4 literally (= 1 - PA per image).
- :func:`ab_auc`: Zhang et al. (ECCV 2016) AuC of the cumulative distribution of per-pixel
  Euclidean ab errors (Lab) over thresholds 0–``max_threshold`` (150), normalised to [0, 1];
  plain, or class-rebalanced (pixels weighted by the inverse prior probability of their
  ground-truth bin) when a prior is given. Higher is better.

**Frame metrics** take one ``uint8`` RGB frame (or a pair): :func:`colourfulness` (Hasler &
Süsstrunk 2003), :func:`ab_error_by_lightness` (αβ error summed per band of the truth's CIE L),
and the temporal pieces: :func:`truth_flow` + :func:`steady_flow` + :func:`warp_error` (Lai et
al., ECCV 2018; compared only where the truth itself stays steady along the flow) and
:func:`colour_histograms` + :func:`histogram_divergence` (the CDC of Liu et al. 2021, :func:`cdc`
for a whole list of frames).

**The streaming scorer** :class:`SequenceScorer` is fed a truth frame and the matching frame of
every result, in order, and keeps only running sums, one previous frame per candidate and the
last 4 colour histograms: memory does not grow with the video (apart from one number per frame
per candidate for the per-frame plots). Its :meth:`SequenceScorer.summary` is a JSON-able dict
of every figure above for every result, for the all-grey baseline ``"grey"`` and for the truth
itself ``"truth"`` (the floor of the temporal measures). :data:`SUMMARY_METRICS` lists its keys.

References: Futschik 2018 (thesis) §8.1; Zhang, Isola, Efros, *Colorful Image Colorization*,
ECCV 2016; Hasler, Süsstrunk, *Measuring colourfulness in natural images*, SPIE 2003; Lai et
al., *Learning Blind Video Temporal Consistency*, ECCV 2018 (warp error); Ruder et al.,
*Artistic style transfer for videos*, GCPR 2016 (occlusion and motion-boundary tests); Liu et
al., *Temporally consistent video colorization with deep feature propagation and
self-regularization learning*, 2021 (CDC).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vidcolor.color import grey_rgb, lightness, rgb_to_lab_frame

__all__ = [
    "ALPHA_BETA_EPSILON",
    "PA_THRESHOLD",
    "AUC_MAX_THRESHOLD",
    "LIGHTNESS_BANDS",
    "CDC_DILATIONS",
    "FLOW_SCALE",
    "AB_ERROR_HIST_MAX",
    "AB_ERROR_HIST_BINS",
    "SUMMARY_METRICS",
    "to_float_rgb",
    "alpha_beta",
    "ab_error_map",
    "per_image_ab_errors",
    "ab_rmse",
    "psnr",
    "perceivable_artifacts",
    "consistency_ratio",
    "lab_ab_errors",
    "cumulative_error_curve",
    "ab_auc",
    "colourfulness",
    "ab_error_by_lightness",
    "TruthFlow",
    "truth_flow",
    "warp_error",
    "colour_histograms",
    "histogram_divergence",
    "cdc",
    "comparison_row",
    "SequenceScorer",
]

ALPHA_BETA_EPSILON = 1e-4
"""ε of the αβ space (thesis eq. 8.2)."""
PA_THRESHOLD = 2.0
"""Default ab threshold of the perceivable-artefacts metric (Table 8.1)."""
AUC_MAX_THRESHOLD = 150.0
"""Largest ab error threshold of Zhang's AuC."""
LIGHTNESS_BANDS = ((0, 20), (20, 40), (40, 60), (60, 80), (80, 100))
"""Bands of the truth's CIE L for the per-band αβ error: ``[lo, hi)``, the last ``[80, 100]``."""
CDC_DILATIONS = (1, 2, 4)
"""Frame distances ``d`` of CDC_d (Liu et al. 2021)."""
FLOW_SCALE = 0.5
"""The truth's optical flow is computed at this fraction of the frame size, then scaled up."""
FLOW_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
"""OpenCV DIS preset of the truth's optical flow (``medium``)."""
AB_ERROR_HIST_MAX = 8.0
"""Upper end of the per-pixel αβ error histogram (uint8 colours stay below 6.1)."""
AB_ERROR_HIST_BINS = 800
"""Bins of the per-pixel αβ error histogram (width 0.01; larger errors land in the last)."""

_FLOW_MIN_SIDE = 16  # the flow's working size is at least this many pixels a side
STEADY_LEVELS = 6
"""Warp error compares a pixel only where the truth itself stays within this many levels (of
255, every channel) along the flow: where the truth changes, the flow is wrong or the scene
really changed, and neither says anything about the result's consistency."""
MIN_PAIR_SHARE = 0.1
"""A frame pair with fewer comparable pixels than this share (a cut, a fade, a flash) is left
out of the warp error."""
_RANGE_SLACK = 0.01  # float RGB within [-slack, 1 + slack] is clipped, beyond is an error
_IMPLICIT = ("grey", "truth")

ImageInput = np.ndarray | Sequence[np.ndarray]


def _band_key(low: float, high: float) -> str:
    return f"ab_l{low:g}_{high:g}"


SUMMARY_METRICS: tuple[tuple[str, str, str], ...] = (
    ("frames", "frames", ""),
    ("ab_rmse", "RMSE αβ (eq. 8.1)", "lower"),
    ("psnr", "PSNR (dB)", "higher"),
    ("pa", "PA (perceivable artefacts)", "lower"),
    ("auc", "AuC", "higher"),
    ("auc_rebalanced", "AuC rebalanced", "higher"),
    *((_band_key(lo, hi), f"αβ error, L {lo}–{hi}", "lower") for lo, hi in LIGHTNESS_BANDS),
    ("colourfulness", "colourfulness (M)", ""),
    ("warp_error", "warp error", "lower"),
    *((f"cdc_{d}", f"CDC_{d}", "lower") for d in CDC_DILATIONS),
    ("cdc", "CDC", "lower"),
)
"""``(key, label, better)`` of each per-candidate figure of :meth:`SequenceScorer.summary`, in
table order; ``better`` is ``"lower"``, ``"higher"`` or ``""`` (no direction: colourfulness
should be close to the truth's)."""


# --------------------------------------------------------------------------- inputs


def to_float_rgb(image: np.ndarray) -> np.ndarray:
    """Return one RGB image ``(H, W, 3)`` as float64 in [0, 1].

    Args:
        image: ``uint8`` (0–255) or float (0–1) array of shape ``(H, W, 3)``.

    Returns:
        Float64 array ``(H, W, 3)`` in [0, 1].

    Raises:
        ValueError: wrong shape, or float values clearly outside [0, 1].
        TypeError: an unsupported dtype.
    """
    array = _checked_rgb(image)
    return array.astype(np.float64) / 255.0 if array.dtype == np.uint8 else array


def _checked_rgb(image: np.ndarray) -> np.ndarray:
    """One RGB image as given if uint8, else as float64 clipped to [0, 1]; checks shape/range."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {array.shape}")
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"expected uint8 or float RGB, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if array.size and (
        not np.all(np.isfinite(array))
        or array.min() < -_RANGE_SLACK
        or array.max() > 1.0 + _RANGE_SLACK
    ):
        raise ValueError(
            "float RGB must be finite and in [0, 1] "
            f"(got range [{array.min():.4g}, {array.max():.4g}]; pass 0–255 values as uint8)"
        )
    return np.clip(array, 0.0, 1.0)


def _image_list(images: ImageInput) -> list[np.ndarray]:
    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            return [images]
        if images.ndim == 4:
            return list(images)
        raise ValueError(f"expected (H, W, 3) or (N, H, W, 3), got shape {images.shape}")
    return list(images)


def _pairs(pred: ImageInput, true: ImageInput) -> list[tuple[np.ndarray, np.ndarray]]:
    """Matched pairs of checked images, both uint8 or both float64 [0, 1]."""
    preds, trues = _image_list(pred), _image_list(true)
    if len(preds) != len(trues):
        raise ValueError(f"got {len(preds)} predicted images but {len(trues)} ground truths")
    if not preds:
        raise ValueError("no images to compare")
    pairs = []
    for index, (p, t) in enumerate(zip(preds, trues, strict=True)):
        p_checked, t_checked = _checked_rgb(p), _checked_rgb(t)
        if p_checked.shape != t_checked.shape:
            raise ValueError(
                f"image {index}: prediction shape {p_checked.shape} != ground truth "
                f"{t_checked.shape}"
            )
        if p_checked.dtype != t_checked.dtype:  # mixed: compare in float
            p_checked, t_checked = to_float_rgb(p_checked), to_float_rgb(t_checked)
        pairs.append((p_checked, t_checked))
    return pairs


def _frame(rgb: np.ndarray, what: str = "frame") -> np.ndarray:
    """A uint8 ``(H, W, 3)`` frame, contiguous; TypeError / ValueError naming ``what``."""
    array = np.asarray(rgb)
    if array.dtype != np.uint8:
        raise TypeError(f"{what}: expected a uint8 RGB frame, got dtype {array.dtype}")
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"{what}: expected an RGB frame of shape (H, W, 3), got {array.shape}")
    return np.ascontiguousarray(array)


# --------------------------------------------------------------------------- αβ error, PSNR

# Rows: B - (R+G)/2, R - G, (R+G+B)/3 (0–255 units).
_ALPHA_BETA_MATRIX = np.array(
    [[-0.5, -0.5, 1.0], [1.0, -1.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], dtype=np.float32
)


def alpha_beta(rgb: np.ndarray, epsilon: float = ALPHA_BETA_EPSILON) -> np.ndarray:
    """Thesis eq. 8.2: ``α = (B - (R+G)/2) / (L+ε)``, ``β = (R - G) / (L+ε)``, ``L = mean(RGB)``.

    RGB in [0, 1]. uint8 input is computed in float32 with OpenCV (the frame path), float input
    in float64.

    Args:
        rgb: One image ``(H, W, 3)``, uint8 or float in [0, 1].
        epsilon: ε guarding against division by zero on black.

    Returns:
        Array ``(H, W, 2)`` of (α, β): float32 for uint8 input, else float64.

    Example:
        >>> ab = alpha_beta(np.array([[[255, 0, 0]]], np.uint8))[0, 0]
        >>> [round(float(v), 3) for v in ab]  # (-1/2, 1) / (1/3 + 1e-4)
        [-1.5, 2.999]
    """
    return np.dstack(_alpha_beta_planes(_checked_rgb(rgb), epsilon))


Planes = tuple[np.ndarray, np.ndarray]
"""Two ``(H, W)`` planes (α and β, or Lab a and b): OpenCV is fast on planes, slow on ``(H, W, 2)``
arrays."""


def _opponent_planes(frame: np.ndarray) -> list[np.ndarray]:
    """``B - (R+G)/2``, ``R - G`` and ``(R+G+B)/3`` of a uint8 frame, float32 planes (0–255)."""
    return list(cv2.split(cv2.transform(frame.astype(np.float32), _ALPHA_BETA_MATRIX)))


def _alpha_beta_planes(image: np.ndarray, epsilon: float = ALPHA_BETA_EPSILON,
                       opponent: list[np.ndarray] | None = None) -> Planes:
    """α and β planes of a checked image (float32 for uint8, float64 for float); ``opponent``:
    the uint8 image's :func:`_opponent_planes` if already computed."""
    if image.dtype == np.uint8:
        numerator_alpha, numerator_beta, mean = opponent or _opponent_planes(image)
        denominator = mean + np.float32(255.0 * epsilon)
        return cv2.divide(numerator_alpha, denominator), cv2.divide(numerator_beta, denominator)
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    light = (red + green + blue) / 3.0 + epsilon
    return (blue - (red + green) / 2.0) / light, (red - green) / light


def _distance(first: Planes, second: Planes) -> np.ndarray:
    """Per-pixel Euclidean distance ``(H, W)`` of two pairs of planes."""
    return cv2.magnitude(cv2.subtract(first[0], second[0]), cv2.subtract(first[1], second[1]))


def ab_error_map(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> np.ndarray:
    """Per-pixel Euclidean αβ distance ``(H, W)`` between two images (for Fig. 8.1 histograms)."""
    ((pred, true),) = _pairs(pred_rgb, true_rgb)
    return _distance(_alpha_beta_planes(pred), _alpha_beta_planes(true))


def per_image_ab_errors(pred_rgb: ImageInput, true_rgb: ImageInput) -> np.ndarray:
    """Mean per-pixel αβ distance of every image, shape ``(N,)`` (per-image curve of Fig. 8.1)."""
    return np.array([
        _distance(_alpha_beta_planes(p), _alpha_beta_planes(t)).mean(dtype=np.float64)
        for p, t in _pairs(pred_rgb, true_rgb)
    ])


def ab_rmse(pred_rgb: ImageInput, true_rgb: ImageInput) -> float:
    """The thesis's "RMSE in αβ" (eq. 8.1): mean per-pixel Euclidean αβ distance.

    ``E = (1/N) Σ_i (1/n_i) Σ_p ||αβ_pred(p) - αβ_true(p)||`` over N images of n_i pixels.
    Note: despite the name this is a mean distance, exactly as eq. 8.1 defines it.

    Args:
        pred_rgb: Result image(s), ``(H, W, 3)`` / ``(N, H, W, 3)`` / sequence; uint8 or [0, 1].
        true_rgb: Ground truth, same layout and shapes.

    Returns:
        Mean over images of the mean over pixels. 0 for identical images; lower is better.

    Raises:
        ValueError: mismatched shapes or counts, values out of range.

    Example:
        >>> grey = np.full((2, 2, 3), 0.5)
        >>> ab_rmse(grey, grey)
        0.0
    """
    return float(per_image_ab_errors(pred_rgb, true_rgb).mean())


def _sse_uint8(first: np.ndarray, second: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Sum of squared differences of two uint8 frames (0–255 units), exact."""
    return float(cv2.norm(first, second, cv2.NORM_L2SQR, mask))


def _psnr_of_mse(mse: float) -> float:
    return np.inf if mse == 0.0 else float(-10.0 * np.log10(mse))


def psnr(pred_rgb: ImageInput, true_rgb: ImageInput) -> float:
    """PSNR in RGB (eq. 8.3), peak 1 on [0, 1] values, per image, averaged over images.

    ``PSNR = -10 log10(MSE)``, MSE over all pixels and channels of RGB in [0, 1].

    Args:
        pred_rgb: Result image(s); uint8 or float in [0, 1].
        true_rgb: Ground truth, same layout.

    Returns:
        Mean PSNR in dB; ``inf`` if any image pair is identical.

    Example:
        >>> a = np.zeros((2, 2, 3)); b = np.full((2, 2, 3), 0.1)
        >>> round(psnr(a, b), 6)
        20.0
    """
    values = []
    for p, t in _pairs(pred_rgb, true_rgb):
        if p.dtype == np.uint8:
            mse = _sse_uint8(p, t) / (p.size * 255.0**2)
        else:
            mse = float(np.mean((p - t) ** 2))
        values.append(_psnr_of_mse(mse))
    return float(np.mean(values))


# --------------------------------------------------------------------------- Lab ab: PA, AuC


def _lab_ab(image: np.ndarray) -> Planes:
    """Lab a and b planes of a checked image (skimage's D65 formula).

    uint8: :func:`vidcolor.color.rgb_to_lab_frame` (float32); float: the torch batch converter in
    float64.
    """
    if image.dtype == np.uint8:
        _, a, b = cv2.split(rgb_to_lab_frame(image))
        return a, b
    import torch

    from vidcolor.color import rgb_to_lab

    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    a, b = rgb_to_lab(tensor)[0, 1:].numpy()
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def _consistent(ab: Planes, thresh: float) -> np.ndarray:
    """Bool ``(H, W)``: every valid 4-neighbour lies within ``thresh`` (Euclidean ab, strict)."""
    a, b = ab
    limit = a.dtype.type(thresh * thresh)
    ok = np.ones(a.shape, dtype=bool)
    step_a, step_b = a[:, 1:] - a[:, :-1], b[:, 1:] - b[:, :-1]
    horizontal = step_a * step_a + step_b * step_b < limit
    step_a, step_b = a[1:] - a[:-1], b[1:] - b[:-1]
    vertical = step_a * step_a + step_b * step_b < limit
    ok[:, :-1] &= horizontal
    ok[:, 1:] &= horizontal
    ok[:-1] &= vertical
    ok[1:] &= vertical
    return ok


def _check_thresh(thresh: float) -> None:
    if not thresh > 0:
        raise ValueError(f"thresh must be positive, got {thresh}")


def _consistency_counts(
    pred_rgb: ImageInput, true_rgb: ImageInput, thresh: float
) -> list[tuple[int, int]]:
    """Per image: (#consistent in ground truth, #of those also consistent in the result)."""
    _check_thresh(thresh)
    counts = []
    for p, t in _pairs(pred_rgb, true_rgb):
        truth = _consistent(_lab_ab(t), thresh)
        both = truth & _consistent(_lab_ab(p), thresh)
        counts.append((int(truth.sum()), int(both.sum())))
    return counts


def perceivable_artifacts(
    pred_rgb: ImageInput, true_rgb: ImageInput, thresh: float = PA_THRESHOLD
) -> float:
    """Perceivable artefacts (PA, thesis 8.1): fraction of consistent pixels made inconsistent.

    A pixel is consistent when all its valid 4-neighbours have Lab ab within ``thresh``
    (Euclidean, strict ``<``) of it. Per image: among the pixels consistent in the ground truth,
    the fraction that are not consistent in the result; averaged over images. Images with no
    consistent ground-truth pixel are left out of the average (nothing can be counted there);
    if that leaves none, the result is 0.0. Lower is better (Table 8.1: plain 0.129, L2 0.047).

    Args:
        pred_rgb: Result image(s); uint8 or float in [0, 1].
        true_rgb: Ground truth, same layout.
        thresh: Consistency threshold in ab units (> 0).

    Returns:
        PA in [0, 1].

    Example:
        >>> flat = np.full((4, 4, 3), 0.5)
        >>> noisy = flat.copy(); noisy[1, 1] = (0.9, 0.1, 0.1)
        >>> perceivable_artifacts(noisy, flat)
        0.3125
    """
    counts = _consistency_counts(pred_rgb, true_rgb, thresh)
    ratios = [1.0 - both / truth for truth, both in counts if truth]
    return float(np.mean(ratios)) if ratios else 0.0


def consistency_ratio(
    pred_rgb: ImageInput, true_rgb: ImageInput, thresh: float = PA_THRESHOLD
) -> float:
    """Thesis eq. 8.4 as printed: consistent-in-both / consistent-in-ground-truth, averaged.

    Equals ``1 - perceivable_artifacts(...)``; higher is better. Same conventions as
    :func:`perceivable_artifacts` (1.0 when no image has a consistent ground-truth pixel).
    """
    counts = _consistency_counts(pred_rgb, true_rgb, thresh)
    ratios = [both / truth for truth, both in counts if truth]
    return float(np.mean(ratios)) if ratios else 1.0


def lab_ab_errors(pred_rgb: ImageInput, true_rgb: ImageInput) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel Euclidean Lab ab errors of all pixels of all images, pooled.

    Returns:
        ``(errors, true_ab)``: errors ``(P,)`` and the ground-truth ab ``(P, 2)`` of each pixel.
    """
    errors, truths = [], []
    for p, t in _pairs(pred_rgb, true_rgb):
        true_ab = _lab_ab(t)
        errors.append(_distance(_lab_ab(p), true_ab).reshape(-1))
        truths.append(np.stack([plane.reshape(-1) for plane in true_ab], axis=1))
    return np.concatenate(errors), np.concatenate(truths)


class _BinIndex:
    """Nearest bin of ground-truth ab values: the answer of :func:`vidcolor.quantize.nearest_bin`.

    Bins on the quantisation grid (the default gamut) are looked up in a table: the nearest grid
    point of a value (each coordinate rounded) is its nearest bin whenever it is a bin, since the
    bins are a subset of the grid. Other values (and bins off the grid) go to ``nearest_bin``.
    """

    def __init__(self, bins: np.ndarray | None) -> None:
        from vidcolor.quantize import GRID, ab_gamut

        self.bins = ab_gamut() if bins is None else np.asarray(bins, dtype=np.float32)
        if self.bins.ndim != 2 or self.bins.shape[1] != 2 or len(self.bins) == 0:
            raise ValueError(f"bins must have shape (Q, 2) with Q >= 1, got {self.bins.shape}")
        self.grid = GRID
        cells = self.bins / GRID
        self.table: np.ndarray | None = None
        if np.array_equal(cells, np.round(cells)):
            self.span = int(np.abs(cells).max()) + 1
            self.table = np.full((2 * self.span + 1,) * 2, -1, dtype=np.int64)
            grid_index = cells.astype(np.int64) + self.span
            self.table[grid_index[:, 0], grid_index[:, 1]] = np.arange(len(self.bins))

    def __len__(self) -> int:
        return len(self.bins)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Bin index ``(P,)`` of each ab value, a and b given as arrays of one shape."""
        a = np.asarray(a, dtype=np.float32).reshape(-1)
        b = np.asarray(b, dtype=np.float32).reshape(-1)
        if self.table is not None:
            side = self.table.shape[1]
            cells = [np.clip(np.rint(v * np.float32(1.0 / self.grid)), -self.span, self.span)
                     .astype(np.intp) + self.span for v in (a, b)]
            index = self.table.reshape(-1)[cells[0] * side + cells[1]]
            missing = np.flatnonzero(index < 0)
        else:
            index = np.empty(len(a), dtype=np.int64)
            missing = np.arange(len(a))
        if len(missing):
            import torch

            from vidcolor.quantize import nearest_bin

            points = np.stack([a[missing], b[missing]])[None, :, :, None]
            index[missing] = nearest_bin(torch.from_numpy(points), self.bins).reshape(-1).numpy()
        return index


def _bin_probabilities(prior: np.ndarray | str, counts: np.ndarray) -> np.ndarray:
    """The distribution ``p`` of the class rebalancing: a given prior, or the ground truth's
    own bin histogram ``counts``; bins ``p`` never saw get the rarest seen bin's probability."""
    if isinstance(prior, str):
        if prior != "ground_truth":
            raise ValueError(f"prior must be an array or 'ground_truth', got {prior!r}")
        p = np.asarray(counts, dtype=np.float64)
    else:
        p = np.asarray(prior, dtype=np.float64)
        if p.shape != counts.shape:
            raise ValueError(f"prior has shape {p.shape}, expected {counts.shape} for the bins")
        if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
            raise ValueError("prior must be finite, non-negative and not all zero")
    if p.sum() <= 0:
        return np.ones_like(p) / len(p)
    p = p / p.sum()
    return np.where(p > 0, p, p[p > 0].min())


def _rebalanced_mean(bin_scores: np.ndarray, bin_counts: np.ndarray, p: np.ndarray) -> float:
    """``Σ_q S_q / p_q / Σ_q N_q / p_q``: the pixel mean of scores weighted by ``1 / p[bin]``,
    from per-bin score sums ``S`` and pixel counts ``N``."""
    weights = 1.0 / p
    total = float(np.dot(bin_counts, weights))
    return float(np.dot(bin_scores, weights) / total) if total > 0 else float("nan")


def _auc_scores(errors: np.ndarray, max_threshold: float) -> np.ndarray:
    """Per-pixel ``clip(1 - e / T, 0, 1)``: a pixel's share of the normalised AuC."""
    scores = np.float32(1.0) - errors * np.float32(1.0 / max_threshold)
    return np.clip(scores, 0.0, 1.0, out=scores)


def cumulative_error_curve(
    errors: np.ndarray,
    thresholds: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (weighted) fraction of errors ``<= t`` for each threshold ``t``.

    Args:
        errors: Per-pixel (or per-image) errors, any shape.
        thresholds: Increasing thresholds; default 0, 1, ..., 150.
        weights: Optional non-negative weight per error (same shape).

    Returns:
        ``(thresholds, fractions)``.
    """
    values = np.asarray(errors, dtype=np.float64).ravel()
    if thresholds is None:
        thresholds = np.arange(0.0, AUC_MAX_THRESHOLD + 1.0)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    w = np.ones_like(values) if weights is None else np.asarray(weights, np.float64).ravel()
    if w.shape != values.shape:
        raise ValueError(f"weights shape {w.shape} != errors shape {values.shape}")
    order = np.argsort(values)
    cumulative = np.concatenate(([0.0], np.cumsum(w[order])))
    positions = np.searchsorted(values[order], thresholds, side="right")
    return thresholds, cumulative[positions] / cumulative[-1]


def ab_auc(
    pred_rgb: ImageInput,
    true_rgb: ImageInput,
    *,
    prior: np.ndarray | str | None = None,
    bins: np.ndarray | None = None,
    max_threshold: float = AUC_MAX_THRESHOLD,
) -> float:
    """Zhang et al.'s AuC of the cumulative Lab ab-error curve, normalised to [0, 1].

    The curve ``F(t)`` is the (weighted) fraction of pixels, pooled over all images, whose
    Euclidean ab error is ``<= t``; the result is ``(1 / T) ∫_0^T F(t) dt`` with
    ``T = max_threshold``, computed exactly as the (weighted) mean of ``max(0, 1 - e / T)``
    (a 1-unit discretisation of 0..150 differs by under 1/150).

    Args:
        pred_rgb: Result image(s); uint8 or float in [0, 1].
        true_rgb: Ground truth, same layout.
        prior: ``None`` for the plain AuC. For the class-rebalanced AuC, a bin distribution
            ``(Q,)`` over ``bins`` (e.g. the training prior): each pixel is weighted by
            ``1 / p[nearest bin of its ground-truth ab]`` (bins the prior never saw count as
            its rarest seen bin). ``"ground_truth"`` uses the ground truth's own bin histogram,
            so every colour class present counts equally.
        bins: Bin centres ``(Q, 2)`` the prior refers to; default :func:`ab_gamut`.
        max_threshold: Largest threshold ``T`` (> 0).

    Returns:
        AuC in [0, 1]; 1.0 for identical images; higher is better.

    Raises:
        ValueError: mismatched inputs, bad prior or threshold.
    """
    if not max_threshold > 0:
        raise ValueError(f"max_threshold must be positive, got {max_threshold}")
    errors, true_ab = lab_ab_errors(pred_rgb, true_rgb)
    scores = _auc_scores(errors, max_threshold)
    if prior is None:
        return float(scores.mean(dtype=np.float64))
    bin_index = _BinIndex(bins)
    index = bin_index(true_ab[:, 0], true_ab[:, 1])
    counts = np.bincount(index, minlength=len(bin_index)).astype(np.float64)
    p = _bin_probabilities(prior, counts)
    bin_scores = np.bincount(index, weights=scores, minlength=len(bin_index))
    return _rebalanced_mean(bin_scores, counts, p)


# --------------------------------------------------------------------------- frame metrics

def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk's colourfulness M of one uint8 RGB frame (0–255 values).

    ``rg = R - G``, ``yb = (R + G) / 2 - B``;
    ``M = sqrt(σ_rg² + σ_yb²) + 0.3 · sqrt(μ_rg² + μ_yb²)`` (population standard deviations).
    0 for any grey image; about 15 is "slightly", 59 "quite", 109+ "extremely colourful".

    Raises:
        TypeError, ValueError: not a uint8 ``(H, W, 3)`` frame.

    Example:
        >>> round(colourfulness(np.full((2, 2, 3), (255, 0, 0), np.uint8)), 4)  # 0.3·√(255²+127.5²)
        85.5296
    """
    return _colourfulness(_opponent_planes(_frame(rgb)))


def _colourfulness(opponent: list[np.ndarray]) -> float:
    """Colourfulness of :func:`_opponent_planes` (``-yb``, ``rg``: a sign changes no σ, |μ|)."""
    yb_negated, rg = opponent[0], opponent[1]
    mean_rg, std_rg = cv2.meanStdDev(rg)
    mean_yb, std_yb = cv2.meanStdDev(yb_negated)
    return float(np.hypot(std_rg[0, 0], std_yb[0, 0])
                 + 0.3 * np.hypot(mean_rg[0, 0], mean_yb[0, 0]))


def _band_edges(bands: Sequence[tuple[float, float]]) -> np.ndarray:
    """Inner edges of contiguous bands covering [0, 100] (checked)."""
    if not bands or bands[0][0] != 0 or bands[-1][1] != 100 or any(
        low >= high for low, high in bands
    ) or any(bands[i][1] != bands[i + 1][0] for i in range(len(bands) - 1)):
        raise ValueError(f"lightness bands must be contiguous and cover 0–100, got {bands}")
    return np.asarray([low for low, _ in bands[1:]], dtype=np.float32)


def _band_index(light: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Band of every pixel ``(H*W,)``: ``[lo, hi)``, the last band closed (L = 100 and above)."""
    return np.searchsorted(edges, light.reshape(-1), side="right")


def ab_error_by_lightness(
    pred_rgb: np.ndarray,
    true_rgb: np.ndarray,
    bands: Sequence[tuple[float, float]] = LIGHTNESS_BANDS,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel αβ errors (eq. 8.1's distance) summed per band of the truth's CIE L.

    A pixel belongs to band ``[lo, hi)`` of :func:`vidcolor.color.lightness` of ``true_rgb``;
    the last band includes its upper end (L = 100). Sums and counts, not means, so that bands
    pool over frames: the band mean is ``sums / counts``, and ``sums.sum() / counts.sum()`` is
    the frame's mean αβ error.

    Args:
        pred_rgb: Result frame, uint8 ``(H, W, 3)``.
        true_rgb: Ground truth frame, same shape.
        bands: Contiguous ``(lo, hi)`` bands covering 0–100.

    Returns:
        ``(sums, counts)``: float64 and int64 arrays of ``len(bands)``.

    Raises:
        TypeError, ValueError: not uint8 frames of one shape; bad bands.

    Example:
        >>> truth = np.array([[[0, 0, 0], [255, 255, 255]]], np.uint8)  # L = 0 and L = 100
        >>> sums, counts = ab_error_by_lightness(np.zeros_like(truth), truth)
        >>> counts.tolist(), sums.tolist()
        ([1, 0, 0, 0, 1], [0.0, 0.0, 0.0, 0.0, 0.0])
    """
    pred, true = _frame(pred_rgb, "result"), _frame(true_rgb, "truth")
    if pred.shape != true.shape:
        raise ValueError(f"result shape {pred.shape} != truth shape {true.shape}")
    band = _band_index(lightness(true), _band_edges(bands))
    errors = _distance(_alpha_beta_planes(pred), _alpha_beta_planes(true)).reshape(-1)
    return (np.bincount(band, weights=errors, minlength=len(bands)),
            np.bincount(band, minlength=len(bands)).astype(np.int64))


# --------------------------------------------------------------------------- temporal metrics


@dataclass(frozen=True)
class TruthFlow:
    """The truth's motion from frame t-1 to frame t, ready to warp any candidate's frame t-1.

    Attributes:
        map_x, map_y: float32 ``(H, W)``: pixel ``x`` of frame t shows what pixel
            ``(map_x[x], map_y[x])`` of frame t-1 showed (``cv2.remap`` maps); ``None`` when the
            two truth frames are identical (no motion: nothing to warp).
        mask: uint8 ``(H, W)``, 1 where the pixel is compared (not occluded, not on a motion
            boundary, its source inside frame t-1).
        valid: number of compared pixels.
    """

    map_x: np.ndarray | None
    map_y: np.ndarray | None
    mask: np.ndarray
    valid: int


def _grey_u8(light: np.ndarray) -> np.ndarray:
    return cv2.convertScaleAbs(np.asarray(light, dtype=np.float32), alpha=2.55)


def _pixel_grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    return (np.arange(width, dtype=np.float32)[None, :],
            np.arange(height, dtype=np.float32)[:, None])


def _flow_rejects(back: np.ndarray, forth: np.ndarray, unit: tuple[float, float]) -> np.ndarray:
    """Occluded or motion-boundary pixels (bool) of a flow pair on its own pixel grid.

    ``back`` (t -> t-1) and ``forth`` (t-1 -> t) are in this grid's pixels; ``unit`` converts
    them to full-size pixels, the units of Ruder et al.'s thresholds.
    """
    height, width = back.shape[:2]
    grid_x, grid_y = _pixel_grid(width, height)
    forth_at = cv2.remap(forth, back[..., 0] + grid_x, back[..., 1] + grid_y, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    scale = np.asarray(unit, dtype=np.float32)
    back, forth_at = back * scale, forth_at * scale
    round_trip = back + forth_at
    round_trip *= round_trip
    back_sq, forth_sq = back * back, forth_at * forth_at
    back_norm = back_sq[..., 0] + back_sq[..., 1]
    occluded = (round_trip[..., 0] + round_trip[..., 1]
                > np.float32(0.01) * (back_norm + forth_sq[..., 0] + forth_sq[..., 1]) + 0.5)
    gradient = np.zeros((height, width), np.float32)
    for derivative, step in (((1, 0), unit[0]), ((0, 1), unit[1])):
        # central differences of both components, per full-size pixel
        grad = cv2.Sobel(back, cv2.CV_32F, *derivative, ksize=1, scale=0.5 / step)
        grad *= grad
        gradient += grad[..., 0] + grad[..., 1]
    boundary = gradient > np.float32(0.01) * back_norm + np.float32(0.002)
    return occluded | boundary


def truth_flow(
    previous_light: np.ndarray,
    current_light: np.ndarray,
    *,
    scale: float = FLOW_SCALE,
    dis: cv2.DISOpticalFlow | None = None,
) -> TruthFlow:
    """Optical flow between two truth frames and the pixels it lets warp error compare.

    DIS optical flow (OpenCV) on the truth's lightness at ``scale`` × the frame size, both ways.
    With ``w`` the flow from frame t to t-1 at a pixel ``x`` of frame t and ``ŵ`` the flow from
    t-1 to t at ``x + w``, both in full-size pixels, the pixel is left out (Ruder et al. 2016, as
    in Lai et al. 2018) when

    - occluded: ``|w + ŵ|² > 0.01 (|w|² + |ŵ|²) + 0.5``,
    - on a motion boundary: ``|∇w_x|² + |∇w_y|² > 0.01 |w|² + 0.002``,
    - or its source ``x + w`` lies outside the frame.

    The first two tests run on the flow's own (reduced) grid and are resized (nearest) to the
    frame; ``w`` is resized bilinearly for the warp. Identical truth frames (held drawings) give
    the identity with every pixel compared.

    Args:
        previous_light, current_light: CIE L ``(H, W)`` (0–100) of truth frames t-1 and t, e.g.
            :func:`vidcolor.color.lightness`.
        scale: fraction of the frame size the flow is computed at (0 < scale <= 1).
        dis: a ``cv2.DISOpticalFlow`` to reuse (default: a new one with :data:`FLOW_PRESET`).

    Returns:
        :class:`TruthFlow`.
    """
    if not 0 < scale <= 1:
        raise ValueError(f"flow scale must be in (0, 1], got {scale}")
    previous, current = _grey_u8(previous_light), _grey_u8(current_light)
    if previous.shape != current.shape:
        raise ValueError(f"frame size changed from {previous.shape} to {current.shape}")
    height, width = current.shape
    if np.array_equal(previous, current):
        return TruthFlow(None, None, np.ones((height, width), np.uint8), height * width)
    # DIS needs at least 12 pixels a side: tiny frames are enlarged instead
    size = (max(_FLOW_MIN_SIDE, round(width * scale)), max(_FLOW_MIN_SIDE, round(height * scale)))
    if size != (width, height):
        shrink = size[0] * size[1] < width * height
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        previous = cv2.resize(previous, size, interpolation=interpolation)
        current = cv2.resize(current, size, interpolation=interpolation)
    small_height, small_width = current.shape
    unit = (width / small_width, height / small_height)
    dis = dis if dis is not None else cv2.DISOpticalFlow_create(FLOW_PRESET)
    back = dis.calc(current, previous, None)  # t -> t-1
    forth = dis.calc(previous, current, None)  # t-1 -> t
    rejects = _flow_rejects(back, forth, unit).view(np.uint8)
    if (small_height, small_width) != (height, width):
        back = cv2.resize(back, (width, height), interpolation=cv2.INTER_LINEAR)
        back *= np.asarray(unit, dtype=np.float32)
        rejects = cv2.resize(rejects, (width, height), interpolation=cv2.INTER_NEAREST)
    grid_x, grid_y = _pixel_grid(width, height)
    map_x, map_y = back[..., 0] + grid_x, back[..., 1] + grid_y
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    mask = (inside & (rejects == 0)).view(np.uint8)
    return TruthFlow(map_x, map_y, mask, int(cv2.countNonZero(mask)))


def steady_flow(flow: TruthFlow, previous_truth: np.ndarray, truth: np.ndarray) -> TruthFlow:
    """Restrict a truth flow's mask to the pixels where the truth stays steady along it.

    A pixel is kept when every channel of the truth at t is within :data:`STEADY_LEVELS` of
    the truth's frame t-1 warped there. The truth's own warp error is then the noise floor of
    its encoding, and a result's is the change of colour where nothing changed. Without this
    mask the flow's own errors at vivid edges dominate: on the demo series a grey video scored
    below the truth and the per-frame and stabilised renders were within 10 % of each other.
    Pairs where fewer than :data:`MIN_PAIR_SHARE` of the pixels remain (cuts, fades) are left
    out (``valid`` 0).
    """
    previous = _frame(previous_truth, "truth")
    if flow.map_x is not None:
        previous = cv2.remap(previous, flow.map_x, flow.map_y, cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
    change = cv2.absdiff(_frame(truth, "truth"), previous).max(axis=2)
    mask = (flow.mask > 0) & (change <= STEADY_LEVELS)
    valid = int(np.count_nonzero(mask))
    if valid < MIN_PAIR_SHARE * mask.size:
        valid = 0
    return TruthFlow(flow.map_x, flow.map_y, mask.view(np.uint8), valid)


def warp_error(previous_rgb: np.ndarray, current_rgb: np.ndarray, flow: TruthFlow) -> float | None:
    """Lai et al.'s warp error of one frame pair of a candidate, along the truth's flow.

    ``E = (1 / |M|) Σ_{x ∈ M} ||O_t(x) - Ô_{t-1}(x)||²`` with ``Ô_{t-1}`` the candidate's frame
    t-1 warped to t (bilinear) by ``flow``, ``M`` its mask, RGB in [0, 1] summed over channels.

    Returns:
        The error, or ``None`` when the flow leaves no pixel to compare.

    Example:
        >>> still = TruthFlow(None, None, np.ones((1, 2), np.uint8), 2)
        >>> a = np.zeros((1, 2, 3), np.uint8); b = a.copy(); b[0, 0] = (255, 0, 0)
        >>> warp_error(a, b, still)  # one pixel of two differs by 1 in one channel
        0.5
    """
    if flow.valid == 0:
        return None
    previous = _frame(previous_rgb)
    if flow.map_x is not None:
        previous = cv2.remap(previous, flow.map_x, flow.map_y, cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
    current = _frame(current_rgb)
    return _sse_uint8(current, previous, flow.mask) / (flow.valid * 255.0**2)


def colour_histograms(rgb: np.ndarray) -> np.ndarray:
    """Normalised 256-bin histogram of each RGB channel of a uint8 frame, ``(3, 256)`` float64."""
    frame = _frame(rgb)
    counts = np.stack([cv2.calcHist([frame], [channel], None, [256], [0, 256]).reshape(-1)
                       for channel in range(3)])
    return counts.astype(np.float64) / (frame.shape[0] * frame.shape[1])


def histogram_divergence(first: np.ndarray, second: np.ndarray) -> float:
    """Jensen–Shannon divergence (natural log) of two histograms, averaged over channels.

    ``JS(P, Q) = ½ KL(P || M) + ½ KL(Q || M)``, ``M = (P + Q) / 2``, ``0 · log 0 = 0``; per row
    of ``(C, B)`` arrays (each row a distribution), then the mean over rows. In [0, ln 2].

    Example:
        >>> round(histogram_divergence(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])), 6)
        0.693147
    """
    p = np.atleast_2d(np.asarray(first, dtype=np.float64))
    q = np.atleast_2d(np.asarray(second, dtype=np.float64))
    if p.shape != q.shape:
        raise ValueError(f"histogram shapes differ: {p.shape} vs {q.shape}")
    m = (p + q) / 2.0
    total = np.zeros(p.shape[0])
    for dist in (p, q):
        used = dist > 0
        terms = np.zeros_like(dist)
        terms[used] = dist[used] * np.log(dist[used] / m[used])
        total += 0.5 * terms.sum(axis=1)
    return float(total.mean())


def cdc(frames: Sequence[np.ndarray], dilations: Sequence[int] = CDC_DILATIONS) -> dict[str, float]:
    """Colour distribution consistency (Liu et al. 2021) of a list of uint8 RGB frames.

    ``CDC_d = (1 / (N - d)) Σ_i JS(H_i, H_{i+d})`` with ``H_i`` frame i's per-channel normalised
    256-bin histograms and JS :func:`histogram_divergence` (mean over R, G, B);
    ``CDC = mean_d CDC_d``. Lower is steadier colour; 0 for a still video. ``CDC_d`` is NaN with
    ``N <= d`` frames (and so is CDC). :class:`SequenceScorer` computes the same, streaming.

    Returns:
        ``{"cdc_1": ..., "cdc_2": ..., "cdc_4": ..., "cdc": ...}`` for the default dilations.
    """
    histograms = [colour_histograms(frame) for frame in frames]
    result = {}
    for d in dilations:
        values = [histogram_divergence(histograms[i], histograms[i + d])
                  for i in range(len(histograms) - d)]
        result[f"cdc_{d}"] = float(np.mean(values)) if values else float("nan")
    result["cdc"] = float(np.mean([result[f"cdc_{d}"] for d in dilations]))
    return result


# --------------------------------------------------------------------------- streaming scorer


def comparison_row(truth_rgb: np.ndarray, results: Mapping[str, np.ndarray]
                   ) -> dict[str, np.ndarray]:
    """One row of a comparison sheet: ``{"grey": ..., **results, "truth": ...}``.

    The grey frame is the all-grey baseline the scorer uses (the truth's L, a = b = 0).
    """
    truth = _frame(truth_rgb, "truth")
    return {"grey": grey_rgb(lightness(truth)), **results, "truth": truth}


@dataclass
class _TruthFrame:
    """Everything about one truth frame that every candidate is compared with."""

    rgb: np.ndarray
    alpha_beta: Planes
    ab: Planes
    consistent: np.ndarray
    consistent_count: int
    band: np.ndarray  # band of each pixel (flat)
    band_counts: np.ndarray
    bin_index: np.ndarray  # ground-truth ab bin of each pixel (flat)
    bin_counts: np.ndarray
    flow: TruthFlow | None


def _error_histogram(errors: np.ndarray) -> np.ndarray:
    """Counts of αβ errors in :data:`AB_ERROR_HIST_BINS` bins over [0, AB_ERROR_HIST_MAX);
    larger errors count in the last bin."""
    counts = cv2.calcHist([errors.reshape(-1, 1)], [0], None, [AB_ERROR_HIST_BINS],
                          [0.0, AB_ERROR_HIST_MAX]).reshape(-1).astype(np.int64)
    counts[-1] += errors.size - int(counts.sum())
    return counts


class _Candidate:
    """Running sums of one candidate; memory independent of the number of frames (apart from the
    per-frame series)."""

    def __init__(self, bands: int, bins: int, temporal: bool) -> None:
        self.frames = 0
        self.image_errors: list[float] = []  # mean αβ error of each frame
        self.psnr: list[float] = []
        self.warp: list[float | None] = []
        self.band_sums = np.zeros(bands)
        self.pa_sum, self.pa_frames = 0.0, 0
        self.auc_sum = 0.0
        self.bin_scores = np.zeros(bins)
        self.colourfulness_sum = 0.0
        self.pixel_hist = np.zeros(AB_ERROR_HIST_BINS, np.int64)
        self.temporal = temporal
        self.previous: np.ndarray | None = None
        self.histograms: deque[np.ndarray] = deque(maxlen=max(CDC_DILATIONS))
        self.js_sums = dict.fromkeys(CDC_DILATIONS, 0.0)
        self.js_pairs = dict.fromkeys(CDC_DILATIONS, 0)

    def add(self, rgb: np.ndarray, truth: _TruthFrame, *, identical: bool,
            pa_threshold: float, auc_threshold: float) -> None:
        pixels = truth.band.size
        opponent = _opponent_planes(rgb)
        if identical:  # the truth against itself: every per-frame error is exactly 0
            band_sums = np.zeros_like(self.band_sums)
            mse, pa_ratio, auc_sum = 0.0, 0.0, float(pixels)
            bin_scores = truth.bin_counts
            self.pixel_hist[0] += pixels
        else:
            errors = _distance(_alpha_beta_planes(rgb, opponent=opponent),
                               truth.alpha_beta).reshape(-1)
            band_sums = np.bincount(truth.band, weights=errors, minlength=len(self.band_sums))
            mse = _sse_uint8(rgb, truth.rgb) / (rgb.size * 255.0**2)
            ab = _lab_ab(rgb)
            both = truth.consistent & _consistent(ab, pa_threshold)
            pa_ratio = 1.0 - int(np.count_nonzero(both)) / truth.consistent_count \
                if truth.consistent_count else 0.0
            scores = _auc_scores(_distance(ab, truth.ab).reshape(-1), auc_threshold)
            auc_sum = float(scores.sum(dtype=np.float64))
            bin_scores = np.bincount(truth.bin_index, weights=scores,
                                     minlength=len(self.bin_scores))
            self.pixel_hist += _error_histogram(errors)
        self.frames += 1
        self.band_sums += band_sums
        self.image_errors.append(float(band_sums.sum()) / pixels)
        self.psnr.append(_psnr_of_mse(mse))
        if truth.consistent_count:
            self.pa_sum += pa_ratio
            self.pa_frames += 1
        self.auc_sum += auc_sum
        self.bin_scores += bin_scores
        self.colourfulness_sum += _colourfulness(opponent)
        if self.temporal:
            self._add_temporal(rgb, truth.flow)

    def _add_temporal(self, rgb: np.ndarray, flow: TruthFlow | None) -> None:
        previous = self.previous
        self.warp.append(None if previous is None or flow is None
                         else warp_error(previous, rgb, flow))
        self.previous = rgb.copy()  # the caller may reuse its buffer
        histograms = colour_histograms(rgb)
        for d in CDC_DILATIONS:
            if len(self.histograms) >= d:
                self.js_sums[d] += histogram_divergence(self.histograms[-d], histograms)
                self.js_pairs[d] += 1
        self.histograms.append(histograms)


class SequenceScorer:
    """Streaming scorer of result videos against a truth video, frame by frame, in lockstep.

    Scores the named results plus two implicit candidates: ``"grey"``, the all-grey baseline
    (the truth's own L with a = b = 0, :func:`vidcolor.color.grey_rgb`), and ``"truth"``, the
    truth against itself (per-frame figures trivially perfect; its temporal figures are the
    floor every result's are read against: a still truth gives 0, a moving one does not, since
    the flow and histograms change with the content).

    Per frame, the truth's flow (:func:`truth_flow`), its ab bins, lightness bands and
    consistency map are computed once and shared by every candidate. Temporal measures use
    every consecutive pair, shot cuts included: the truth's own values include the same pairs,
    which is why every temporal figure is read beside the truth's.

    Example::

        scorer = SequenceScorer(["per-frame", "temporal"])
        for truth_rgb, results in frames:          # results: {name: uint8 (H, W, 3)}
            scorer.add(truth_rgb, results)
        summary = scorer.summary()                 # JSON-able dict

    Args:
        names: names of the results (unique; not ``"grey"`` or ``"truth"``).
        prior: the rebalanced AuC's bin distribution ``(Q,)`` over ``bins`` (e.g. the training
            prior); ``None``: the ground truth's own bin histogram over all frames scored.
        bins: bin centres ``(Q, 2)``; default :func:`vidcolor.quantize.ab_gamut`.
        temporal: compute warp error and CDC (and keep one previous frame per candidate).
        flow_scale: size fraction the truth's flow is computed at.
        pa_threshold: PA's ab threshold.
        auc_max_threshold: AuC's largest threshold.

    Raises:
        ValueError: bad names, prior, bins or settings.
    """

    def __init__(self, names: Sequence[str] = (), *, prior: np.ndarray | None = None,
                 bins: np.ndarray | None = None, temporal: bool = True,
                 flow_scale: float = FLOW_SCALE, pa_threshold: float = PA_THRESHOLD,
                 auc_max_threshold: float = AUC_MAX_THRESHOLD) -> None:
        names = list(names)
        for name in names:
            if not isinstance(name, str) or not name:
                raise ValueError(f"result names must be non-empty strings, got {name!r}")
            if name in _IMPLICIT:
                raise ValueError(f"result name {name!r} is reserved for the implicit candidate")
        if len(set(names)) != len(names):
            raise ValueError(f"result names must be unique, got {names}")
        _check_thresh(pa_threshold)
        if not auc_max_threshold > 0:
            raise ValueError(f"auc_max_threshold must be positive, got {auc_max_threshold}")
        if not 0 < flow_scale <= 1:
            raise ValueError(f"flow_scale must be in (0, 1], got {flow_scale}")
        self.names = tuple(names)
        self.candidates = ("grey", *self.names, "truth")
        self._bin_index = _BinIndex(bins)
        self._prior = None if prior is None else np.asarray(prior, dtype=np.float64)
        if self._prior is not None:  # fail now, not after a whole video
            _bin_probabilities(self._prior, np.zeros(len(self._bin_index)))
        self.temporal = temporal
        self.flow_scale = flow_scale
        self.pa_threshold = pa_threshold
        self.auc_max_threshold = auc_max_threshold
        self._band_edges = _band_edges(LIGHTNESS_BANDS)
        self._state = {name: _Candidate(len(LIGHTNESS_BANDS), len(self._bin_index), temporal)
                       for name in self.candidates}
        self._band_counts = np.zeros(len(LIGHTNESS_BANDS), np.int64)
        self._bin_counts = np.zeros(len(self._bin_index), np.int64)
        self._shape: tuple[int, ...] | None = None
        self._previous_light: np.ndarray | None = None
        self._previous_truth: np.ndarray | None = None
        self._dis = cv2.DISOpticalFlow_create(FLOW_PRESET) if temporal else None

    @property
    def frames(self) -> int:
        """Number of frames scored so far."""
        return self._state["truth"].frames

    def add(self, truth_rgb: np.ndarray, results: Mapping[str, np.ndarray]) -> None:
        """Score one frame: the truth and the matching frame of every named result.

        Args:
            truth_rgb: truth frame, uint8 ``(H, W, 3)``; every frame of a sequence has one size.
            results: ``{name: uint8 (H, W, 3)}`` for exactly the scorer's names.

        Raises:
            TypeError: a frame is not uint8 (the message names it).
            ValueError: a frame's shape differs from the truth's or from earlier frames, or
                ``results`` misses or adds a name.
        """
        truth = _frame(truth_rgb, "truth")
        if self._shape is not None and truth.shape != self._shape:
            raise ValueError(f"truth: frame size {truth.shape} differs from the sequence's "
                             f"{self._shape}")
        if set(results) != set(self.names):
            missing, extra = set(self.names) - set(results), set(results) - set(self.names)
            raise ValueError(f"results must be exactly {list(self.names)}"
                             + (f"; missing {sorted(missing)}" if missing else "")
                             + (f"; unexpected {sorted(extra)}" if extra else ""))
        frames = {}
        for name in self.names:
            frame = _frame(results[name], name)
            if frame.shape != truth.shape:
                raise ValueError(f"{name}: frame shape {frame.shape} != truth shape {truth.shape}")
            frames[name] = frame
        light = lightness(truth)
        frames = {"grey": grey_rgb(light), **frames, "truth": truth}
        reference = self._truth_frame(truth, light)
        for name, frame in frames.items():
            self._state[name].add(frame, reference, identical=name == "truth",
                                  pa_threshold=self.pa_threshold,
                                  auc_threshold=self.auc_max_threshold)
        self._band_counts += reference.band_counts
        self._bin_counts += reference.bin_counts
        self._shape = truth.shape
        self._previous_light = light if self.temporal else None
        self._previous_truth = truth.copy() if self.temporal else None

    def _truth_frame(self, truth: np.ndarray, light: np.ndarray) -> _TruthFrame:
        ab = _lab_ab(truth)
        consistent = _consistent(ab, self.pa_threshold)
        band = _band_index(light, self._band_edges)
        bin_index = self._bin_index(*ab)
        flow = None
        if self._previous_light is not None and self._previous_truth is not None:
            flow = steady_flow(truth_flow(self._previous_light, light, scale=self.flow_scale,
                                          dis=self._dis), self._previous_truth, truth)
        return _TruthFrame(
            rgb=truth, alpha_beta=_alpha_beta_planes(truth), ab=ab, consistent=consistent,
            consistent_count=int(np.count_nonzero(consistent)), band=band,
            band_counts=np.bincount(band, minlength=len(LIGHTNESS_BANDS)),
            bin_index=bin_index, bin_counts=np.bincount(bin_index, minlength=len(self._bin_index)),
            flow=flow,
        )

    def summary(self) -> dict[str, Any]:
        """Every figure so far, as a JSON-able dict (``json.dumps(..., allow_nan=False)`` works).

        Infinite values (PSNR of identical frames) are the string ``"inf"``; figures that are
        undefined (no frames yet, warp error of one frame, CDC_4 of 4 frames) are ``None``.

        Returns:
            ``frames``, ``frame_size`` ``[width, height]``, ``candidates`` (grey, the results,
            truth), ``metrics`` ``{candidate: {key: value}}`` with the keys of
            :data:`SUMMARY_METRICS`, ``lightness_bands`` and ``band_pixels`` (the truth's pixels
            per band), ``series`` ``{"psnr" | "warp_error": {candidate: [per frame]}}`` (warp
            error of frame t is the pair t-1, t; ``None`` for the first), ``cumulative``
            (``pixel_error_max``, ``pixel_error_bins``, ``pixel_error_counts`` ``{candidate:
            histogram of per-pixel αβ errors}``, ``image_errors`` ``{candidate: [mean αβ error
            per frame]}``), and ``settings``.
        """
        pixels = int(self._band_counts.sum())
        p = _bin_probabilities("ground_truth" if self._prior is None else self._prior,
                               self._bin_counts.astype(np.float64))
        metrics = {}
        for name in self.candidates:
            state = self._state[name]
            values: dict[str, Any] = {"frames": state.frames}
            seen = state.frames > 0
            values["ab_rmse"] = float(np.mean(state.image_errors)) if seen else None
            values["psnr"] = float(np.mean(state.psnr)) if seen else None
            values["pa"] = (state.pa_sum / state.pa_frames if state.pa_frames else 0.0) \
                if seen else None
            values["auc"] = state.auc_sum / pixels if seen else None
            values["auc_rebalanced"] = _rebalanced_mean(state.bin_scores, self._bin_counts, p) \
                if seen else None
            for (low, high), total, count in zip(LIGHTNESS_BANDS, state.band_sums,
                                                 self._band_counts, strict=True):
                values[_band_key(low, high)] = float(total / count) if count else None
            values["colourfulness"] = state.colourfulness_sum / state.frames if seen else None
            warps = [w for w in state.warp if w is not None]
            values["warp_error"] = float(np.mean(warps)) if warps else None
            cdcs = {d: state.js_sums[d] / state.js_pairs[d] if state.js_pairs[d] else None
                    for d in CDC_DILATIONS}
            for d, value in cdcs.items():
                values[f"cdc_{d}"] = value
            defined = [v for v in cdcs.values() if v is not None]
            values["cdc"] = float(np.mean(defined)) if len(defined) == len(cdcs) else None
            metrics[name] = values
        height, width = self._shape[:2] if self._shape else (0, 0)
        summary = {
            "frames": self.frames,
            "frame_size": [width, height],
            "candidates": list(self.candidates),
            "metrics": metrics,
            "lightness_bands": [list(band) for band in LIGHTNESS_BANDS],
            "band_pixels": self._band_counts.tolist(),
            "series": {
                "psnr": {n: list(self._state[n].psnr) for n in self.candidates},
                "warp_error": {n: list(self._state[n].warp) for n in self.candidates},
            },
            "cumulative": {
                "pixel_error_max": AB_ERROR_HIST_MAX,
                "pixel_error_bins": AB_ERROR_HIST_BINS,
                "pixel_error_counts": {n: self._state[n].pixel_hist.tolist()
                                       for n in self.candidates},
                "image_errors": {n: list(self._state[n].image_errors) for n in self.candidates},
            },
            "settings": {
                "temporal": self.temporal,
                "flow": f"OpenCV DIS optical flow (medium preset) on the truth's L at "
                        f"{self.flow_scale:g} × the frame size",
                "flow_scale": self.flow_scale,
                "pa_threshold": self.pa_threshold,
                "auc_max_threshold": self.auc_max_threshold,
                "auc_rebalanced_by": "ground_truth" if self._prior is None else "prior",
                "cdc_dilations": list(CDC_DILATIONS),
            },
        }
        return _jsonable(summary)


def _jsonable(value: Any) -> Any:
    """Plain JSON types: floats ``inf`` / ``-inf`` as strings, NaN as ``None``."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if np.isnan(number):
            return None
        if np.isinf(number):
            return "inf" if number > 0 else "-inf"
        return number
    return value
