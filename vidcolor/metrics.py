"""Evaluation metrics of the thesis (8.1) and Zhang et al.'s AuC (SPEC §8).

Every metric compares a colourised result with its ground truth and takes plain numpy arrays:
one image ``(H, W, 3)`` or a batch ``(N, H, W, 3)`` (or a sequence of ``(H, W, 3)`` arrays, which
may differ in size), RGB as ``uint8`` (0–255) or float in [0, 1]. Float values a hair outside
[0, 1] (interpolation) are clipped; values clearly outside raise ``ValueError``. Results are
Python floats; all functions are pure.

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
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from vidcolor.color import rgb_to_lab

__all__ = [
    "ALPHA_BETA_EPSILON",
    "PA_THRESHOLD",
    "AUC_MAX_THRESHOLD",
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
]

ALPHA_BETA_EPSILON = 1e-4
"""ε of the αβ space (thesis eq. 8.2)."""
PA_THRESHOLD = 2.0
"""Default ab threshold of the perceivable-artefacts metric (Table 8.1)."""
AUC_MAX_THRESHOLD = 150.0
"""Largest ab error threshold of Zhang's AuC."""

_RANGE_SLACK = 0.01  # float RGB within [-slack, 1 + slack] is clipped, beyond is an error

ImageInput = np.ndarray | Sequence[np.ndarray]


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
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float64) / 255.0
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
    """Matched pairs of float RGB images; checks counts and shapes."""
    preds, trues = _image_list(pred), _image_list(true)
    if len(preds) != len(trues):
        raise ValueError(f"got {len(preds)} predicted images but {len(trues)} ground truths")
    if not preds:
        raise ValueError("no images to compare")
    pairs = []
    for index, (p, t) in enumerate(zip(preds, trues, strict=True)):
        p_float, t_float = to_float_rgb(p), to_float_rgb(t)
        if p_float.shape != t_float.shape:
            raise ValueError(
                f"image {index}: prediction shape {p_float.shape} != ground truth {t_float.shape}"
            )
        pairs.append((p_float, t_float))
    return pairs


def alpha_beta(rgb: np.ndarray, epsilon: float = ALPHA_BETA_EPSILON) -> np.ndarray:
    """Thesis eq. 8.2: ``α = (B - (R+G)/2) / (L+ε)``, ``β = (R - G) / (L+ε)``, ``L = mean(RGB)``.

    Args:
        rgb: One image ``(H, W, 3)``, uint8 or float in [0, 1].
        epsilon: ε guarding against division by zero on black.

    Returns:
        Float64 array ``(H, W, 2)`` of (α, β).
    """
    image = to_float_rgb(rgb)
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    lightness = (red + green + blue) / 3.0 + epsilon
    return np.stack(((blue - (red + green) / 2.0) / lightness, (red - green) / lightness), axis=-1)


def ab_error_map(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> np.ndarray:
    """Per-pixel Euclidean αβ distance ``(H, W)`` between two images (for Fig. 8.1 histograms)."""
    return np.linalg.norm(alpha_beta(pred_rgb) - alpha_beta(true_rgb), axis=-1)


def per_image_ab_errors(pred_rgb: ImageInput, true_rgb: ImageInput) -> np.ndarray:
    """Mean per-pixel αβ distance of every image, shape ``(N,)`` (per-image curve of Fig. 8.1)."""
    return np.array([ab_error_map(p, t).mean() for p, t in _pairs(pred_rgb, true_rgb)])


def ab_rmse(pred_rgb: ImageInput, true_rgb: ImageInput) -> float:
    """The thesis's "RMSE in αβ" (eq. 8.1): mean per-pixel Euclidean αβ distance.

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


def psnr(pred_rgb: ImageInput, true_rgb: ImageInput) -> float:
    """PSNR in RGB (eq. 8.3), peak 1 on [0, 1] values, per image, averaged over images.

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
        mse = float(np.mean((p - t) ** 2))
        values.append(np.inf if mse == 0.0 else -10.0 * np.log10(mse))
    return float(np.mean(values))


def _lab_ab(image: np.ndarray) -> np.ndarray:
    """Lab a, b ``(H, W, 2)`` float64 of a float RGB image (skimage-compatible D65)."""
    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    return rgb_to_lab(tensor)[0, 1:].numpy().transpose(1, 2, 0)


def _consistent(ab: np.ndarray, thresh: float) -> np.ndarray:
    """Bool ``(H, W)``: every valid 4-neighbour lies within ``thresh`` (Euclidean ab)."""
    ok = np.ones(ab.shape[:2], dtype=bool)
    horizontal = np.linalg.norm(ab[:, 1:] - ab[:, :-1], axis=-1) < thresh
    vertical = np.linalg.norm(ab[1:] - ab[:-1], axis=-1) < thresh
    ok[:, :-1] &= horizontal
    ok[:, 1:] &= horizontal
    ok[:-1] &= vertical
    ok[1:] &= vertical
    return ok


def _consistency_counts(
    pred_rgb: ImageInput, true_rgb: ImageInput, thresh: float
) -> list[tuple[int, int]]:
    """Per image: (#consistent in ground truth, #of those also consistent in the result)."""
    if not thresh > 0:
        raise ValueError(f"thresh must be positive, got {thresh}")
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
        true_ab = _lab_ab(t).reshape(-1, 2)
        errors.append(np.linalg.norm(_lab_ab(p).reshape(-1, 2) - true_ab, axis=1))
        truths.append(true_ab)
    return np.concatenate(errors), np.concatenate(truths)


def _pixel_weights(
    true_ab: np.ndarray, prior: np.ndarray | str, bins: np.ndarray | None
) -> np.ndarray:
    """Inverse prior probability of each pixel's nearest ground-truth bin."""
    from vidcolor.quantize import ab_gamut, nearest_bin

    bins_np = ab_gamut() if bins is None else np.asarray(bins, dtype=np.float32)
    ab = torch.from_numpy(np.ascontiguousarray(true_ab.T.astype(np.float32)))[None, :, :, None]
    index = nearest_bin(ab, bins_np).reshape(-1).numpy()
    if isinstance(prior, str):
        if prior != "ground_truth":
            raise ValueError(f"prior must be an array or 'ground_truth', got {prior!r}")
        p = np.bincount(index, minlength=len(bins_np)).astype(np.float64)
    else:
        p = np.asarray(prior, dtype=np.float64)
        if p.shape != (len(bins_np),):
            raise ValueError(f"prior has shape {p.shape}, expected ({len(bins_np)},) for the bins")
        if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
            raise ValueError("prior must be finite, non-negative and not all zero")
    p = p / p.sum()
    # a ground-truth bin the prior never saw gets the rarest seen bin's probability
    p = np.where(p > 0, p, p[p > 0].min())
    return 1.0 / p[index]


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
    weights = None if prior is None else _pixel_weights(true_ab, prior, bins)
    return float(np.average(np.clip(1.0 - errors / max_threshold, 0.0, 1.0), weights=weights))
