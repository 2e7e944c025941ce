"""Per-image measures: the αβ space of the thesis, Lab ab consistency, AuC scores, colourfulness.

The building blocks every image metric is computed from (:mod:`vidcolor.metrics.measures`
accumulates them over frames). ``uint8`` images take the frame path (float32, OpenCV: what
render writes); float images in [0, 1] are computed in float64. The two agree to ~1e-5.

- αβ (thesis eq. 8.2): :func:`alpha_beta`, ``α = (B - (R+G)/2) / (L+ε)``,
  ``β = (R - G) / (L+ε)``, ``L = mean(RGB)``; distances of two images' planes
  (:func:`plane_distance`) are the per-pixel errors of eq. 8.1.
- Lab ab (skimage's D65 formula, :func:`lab_ab`): the consistency map of PA
  (:func:`consistent`) and the per-pixel AuC scores (:func:`auc_scores`), rebalanced by the
  ground truth's nearest ab bin (:class:`BinIndex`, :func:`bin_probabilities`).
- Hasler & Süsstrunk's colourfulness (:func:`colourfulness_of`), bands of the truth's CIE L
  (:func:`band_index`), the per-pixel αβ error histogram (:func:`error_histogram`).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vidcolor.color.frames import rgb_to_lab_frame
from vidcolor.metrics.inputs import checked_rgb

__all__ = [
    "ALPHA_BETA_EPSILON", "PA_THRESHOLD", "AUC_MAX_THRESHOLD", "LIGHTNESS_BANDS",
    "AB_ERROR_HIST_MAX", "AB_ERROR_HIST_BINS", "Planes", "alpha_beta", "opponent_planes",
    "alpha_beta_planes", "plane_distance", "sse_uint8", "psnr_of_mse", "lab_ab", "consistent",
    "check_thresh", "BinIndex", "bin_probabilities", "rebalanced_mean", "auc_scores",
    "cumulative_error_curve", "colourfulness_of", "band_edges", "band_index", "error_histogram",
]

ALPHA_BETA_EPSILON = 1e-4
"""ε of the αβ space (thesis eq. 8.2)."""
PA_THRESHOLD = 2.0
"""Default ab threshold of the perceivable-artefacts metric (Table 8.1)."""
AUC_MAX_THRESHOLD = 150.0
"""Largest ab error threshold of Zhang's AuC."""
LIGHTNESS_BANDS = ((0, 20), (20, 40), (40, 60), (60, 80), (80, 100))
"""Bands of the truth's CIE L for the per-band αβ error: ``[lo, hi)``, the last ``[80, 100]``."""
AB_ERROR_HIST_MAX = 8.0
"""Upper end of the per-pixel αβ error histogram (uint8 colours stay below 6.1)."""
AB_ERROR_HIST_BINS = 800
"""Bins of the per-pixel αβ error histogram (width 0.01; larger errors land in the last)."""

Planes = tuple[np.ndarray, np.ndarray]
"""Two ``(H, W)`` planes (α and β, or Lab a and b): OpenCV is fast on planes, slow on ``(H, W, 2)``
arrays."""

# Rows: B - (R+G)/2, R - G, (R+G+B)/3 (0–255 units).
_ALPHA_BETA_MATRIX = np.array(
    [[-0.5, -0.5, 1.0], [1.0, -1.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], dtype=np.float32
)


# --------------------------------------------------------------------------- αβ, PSNR


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
    return np.dstack(alpha_beta_planes(checked_rgb(rgb), epsilon))


def opponent_planes(frame: np.ndarray) -> list[np.ndarray]:
    """``B - (R+G)/2``, ``R - G`` and ``(R+G+B)/3`` of a uint8 frame, float32 planes (0–255)."""
    return list(cv2.split(cv2.transform(frame.astype(np.float32), _ALPHA_BETA_MATRIX)))


def alpha_beta_planes(image: np.ndarray, epsilon: float = ALPHA_BETA_EPSILON,
                      opponent: list[np.ndarray] | None = None) -> Planes:
    """α and β planes of a checked image (float32 for uint8, float64 for float); ``opponent``:
    the uint8 image's :func:`opponent_planes` if already computed."""
    if image.dtype == np.uint8:
        numerator_alpha, numerator_beta, mean = opponent or opponent_planes(image)
        denominator = mean + np.float32(255.0 * epsilon)
        return cv2.divide(numerator_alpha, denominator), cv2.divide(numerator_beta, denominator)
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    light = (red + green + blue) / 3.0 + epsilon
    return (blue - (red + green) / 2.0) / light, (red - green) / light


def plane_distance(first: Planes, second: Planes) -> np.ndarray:
    """Per-pixel Euclidean distance ``(H, W)`` of two pairs of planes."""
    return cv2.magnitude(cv2.subtract(first[0], second[0]), cv2.subtract(first[1], second[1]))


def sse_uint8(first: np.ndarray, second: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Sum of squared differences of two uint8 frames (0–255 units), exact."""
    return float(cv2.norm(first, second, cv2.NORM_L2SQR, mask))


def psnr_of_mse(mse: float) -> float:
    """``-10 log10(mse)`` in dB; ``inf`` for 0."""
    return np.inf if mse == 0.0 else float(-10.0 * np.log10(mse))


# --------------------------------------------------------------------------- Lab ab: PA, AuC


def lab_ab(image: np.ndarray) -> Planes:
    """Lab a and b planes of a checked image (skimage's D65 formula).

    uint8: :func:`vidcolor.color.frames.rgb_to_lab_frame` (float32); float: the torch batch
    converter (:func:`vidcolor.color.tensors.rgb_to_lab`) in float64.
    """
    if image.dtype == np.uint8:
        _, a, b = cv2.split(rgb_to_lab_frame(image))
        return a, b
    import torch

    from vidcolor.color.tensors import rgb_to_lab

    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    a, b = rgb_to_lab(tensor)[0, 1:].numpy()
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def consistent(ab: Planes, thresh: float) -> np.ndarray:
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


def check_thresh(thresh: float) -> None:
    """Raise ``ValueError`` unless PA's threshold is positive."""
    if not thresh > 0:
        raise ValueError(f"thresh must be positive, got {thresh}")


class BinIndex:
    """Nearest bin of ground-truth ab values: the answer of :func:`vidcolor.quantize.nearest_bin`.

    Bins on the quantisation grid (the default gamut) are looked up in a table: the nearest grid
    point of a value (each coordinate rounded) is its nearest bin whenever it is a bin, since the
    bins are a subset of the grid. Other values (and bins off the grid) go to ``nearest_bin``.

    Args:
        bins: bin centres ``(Q, 2)``; ``None``: :func:`vidcolor.quantize.ab_gamut`.

    Raises:
        ValueError: ``bins`` is not ``(Q, 2)`` with ``Q >= 1``.
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


def bin_probabilities(prior: np.ndarray | str, counts: np.ndarray) -> np.ndarray:
    """The distribution ``p`` of the class rebalancing: a given prior, or (``"ground_truth"``)
    the ground truth's own bin histogram ``counts``; bins ``p`` never saw get the rarest seen
    bin's probability.

    Raises:
        ValueError: a prior of the wrong shape, negative, not finite or all zero.
    """
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


def rebalanced_mean(bin_scores: np.ndarray, bin_counts: np.ndarray, p: np.ndarray) -> float:
    """``Σ_q S_q / p_q / Σ_q N_q / p_q``: the pixel mean of scores weighted by ``1 / p[bin]``,
    from per-bin score sums ``S`` and pixel counts ``N``; NaN without pixels."""
    weights = 1.0 / p
    total = float(np.dot(bin_counts, weights))
    return float(np.dot(bin_scores, weights) / total) if total > 0 else float("nan")


def auc_scores(errors: np.ndarray, max_threshold: float) -> np.ndarray:
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

    Example:
        >>> cumulative_error_curve(np.array([0.5, 2.0]), np.array([0.0, 1.0, 2.0]))[1].tolist()
        [0.0, 0.5, 1.0]
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


# --------------------------------------------------------------------------- frame measures


def colourfulness_of(opponent: list[np.ndarray]) -> float:
    """Hasler & Süsstrunk's M of a frame's :func:`opponent_planes` (``-yb``, ``rg``: a sign
    changes no σ, |μ|)."""
    yb_negated, rg = opponent[0], opponent[1]
    mean_rg, std_rg = cv2.meanStdDev(rg)
    mean_yb, std_yb = cv2.meanStdDev(yb_negated)
    return float(np.hypot(std_rg[0, 0], std_yb[0, 0])
                 + 0.3 * np.hypot(mean_rg[0, 0], mean_yb[0, 0]))


def band_edges(bands: Sequence[tuple[float, float]]) -> np.ndarray:
    """Inner edges of contiguous bands covering [0, 100].

    Raises:
        ValueError: the bands are not contiguous or do not cover 0–100.
    """
    if not bands or bands[0][0] != 0 or bands[-1][1] != 100 or any(
        low >= high for low, high in bands
    ) or any(bands[i][1] != bands[i + 1][0] for i in range(len(bands) - 1)):
        raise ValueError(f"lightness bands must be contiguous and cover 0–100, got {bands}")
    return np.asarray([low for low, _ in bands[1:]], dtype=np.float32)


def band_index(light: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Band of every pixel ``(H*W,)``: ``[lo, hi)``, the last band closed (L = 100 and above)."""
    return np.searchsorted(edges, light.reshape(-1), side="right")


def error_histogram(errors: np.ndarray) -> np.ndarray:
    """Counts of αβ errors in :data:`AB_ERROR_HIST_BINS` bins over [0, AB_ERROR_HIST_MAX);
    larger errors count in the last bin."""
    counts = cv2.calcHist([errors.reshape(-1, 1)], [0], None, [AB_ERROR_HIST_BINS],
                          [0.0, AB_ERROR_HIST_MAX]).reshape(-1).astype(np.int64)
    counts[-1] += errors.size - int(counts.sum())
    return counts
