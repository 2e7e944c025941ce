"""The metrics as plain functions of images: each runs the scorer's metric objects on pairs.

Every function here builds the :class:`~vidcolor.metrics.pairs.TruthFrame` and
:class:`~vidcolor.metrics.pairs.FramePair` of each image pair and updates the same
:mod:`~vidcolor.metrics.measures` objects the streaming scorer keeps per candidate: one
computation per figure. Images: see :mod:`vidcolor.metrics.inputs` (uint8 or float in
[0, 1]; one image, a batch or a sequence); frame functions take uint8 frames only. Results
are Python floats; all are pure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vidcolor.metrics.image import (
    AUC_MAX_THRESHOLD,
    LIGHTNESS_BANDS,
    PA_THRESHOLD,
    BinIndex,
    band_edges,
    check_thresh,
)
from vidcolor.metrics.inputs import ImageInput, image_pairs, uint8_frame
from vidcolor.metrics.measures import (
    AlphaBetaError,
    Auc,
    AucRebalanced,
    BandError,
    CdcAt,
    CdcMean,
    Colourfulness,
    Metric,
    PerceivableArtifacts,
    Psnr,
    update_all,
)
from vidcolor.metrics.pairs import FramePair, ScoreSettings, TruthFrame
from vidcolor.metrics.temporal import CDC_DILATIONS

__all__ = [
    "ab_error_map", "per_image_ab_errors", "ab_rmse", "psnr", "perceivable_artifacts",
    "consistency_ratio", "lab_ab_errors", "ab_auc", "colourfulness", "ab_error_by_lightness",
    "cdc",
]


def _compared(pred_rgb: ImageInput, true_rgb: ImageInput, settings: ScoreSettings | None = None,
              bins: BinIndex | None = None) -> list[FramePair]:
    """The pairs of two image inputs, each against its own truth frame."""
    settings = settings or ScoreSettings()
    return [FramePair(pred, TruthFrame(true, settings, bins=bins))
            for pred, true in image_pairs(pred_rgb, true_rgb)]


def _run(pairs: Sequence[FramePair], *metrics: Metric) -> None:
    for pair in pairs:
        update_all(metrics, pair)


def _figure(metric: Metric) -> float:
    """The figure of a metric that has seen at least one pair."""
    value = metric.compute()
    assert value is not None
    return float(value)


def ab_error_map(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> np.ndarray:
    """Per-pixel Euclidean αβ distance ``(H, W)`` between two images (for Fig. 8.1 histograms)."""
    (pair,) = _compared(pred_rgb, true_rgb)
    return pair.errors.reshape(pair.rgb.shape[:2])


def per_image_ab_errors(pred_rgb: ImageInput, true_rgb: ImageInput) -> np.ndarray:
    """Mean per-pixel αβ distance of every image, shape ``(N,)`` (per-image curve of Fig. 8.1)."""
    metric = AlphaBetaError(histogram=False)
    _run(_compared(pred_rgb, true_rgb), metric)
    return np.array(metric.values)


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
    metric = AlphaBetaError(histogram=False)
    _run(_compared(pred_rgb, true_rgb), metric)
    return _figure(metric)


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
    metric = Psnr()
    _run(_compared(pred_rgb, true_rgb), metric)
    return _figure(metric)


def _pa(pred_rgb: ImageInput, true_rgb: ImageInput, thresh: float) -> float:
    check_thresh(thresh)
    metric = PerceivableArtifacts()
    _run(_compared(pred_rgb, true_rgb, ScoreSettings(pa_threshold=thresh)), metric)
    return _figure(metric)


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

    Raises:
        ValueError: a threshold that is not positive; mismatched or bad images.

    Example:
        >>> flat = np.full((4, 4, 3), 0.5)
        >>> noisy = flat.copy(); noisy[1, 1] = (0.9, 0.1, 0.1)
        >>> perceivable_artifacts(noisy, flat)
        0.3125
    """
    return _pa(pred_rgb, true_rgb, thresh)


def consistency_ratio(
    pred_rgb: ImageInput, true_rgb: ImageInput, thresh: float = PA_THRESHOLD
) -> float:
    """Thesis eq. 8.4 as printed: consistent-in-both / consistent-in-ground-truth, averaged.

    Equals ``1 - perceivable_artifacts(...)``; higher is better. Same conventions as
    :func:`perceivable_artifacts` (1.0 when no image has a consistent ground-truth pixel).
    """
    return 1.0 - _pa(pred_rgb, true_rgb, thresh)


def lab_ab_errors(pred_rgb: ImageInput, true_rgb: ImageInput) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel Euclidean Lab ab errors of all pixels of all images, pooled.

    Returns:
        ``(errors, true_ab)``: errors ``(P,)`` and the ground-truth ab ``(P, 2)`` of each pixel.
    """
    pairs = _compared(pred_rgb, true_rgb)
    return (np.concatenate([pair.ab_errors for pair in pairs]),
            np.concatenate([np.stack([plane.reshape(-1) for plane in pair.truth.ab], axis=1)
                            for pair in pairs]))


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
        bins: Bin centres ``(Q, 2)`` the prior refers to; default
            :func:`vidcolor.quantize.ab_gamut`.
        max_threshold: Largest threshold ``T`` (> 0).

    Returns:
        AuC in [0, 1]; 1.0 for identical images; higher is better.

    Raises:
        ValueError: mismatched inputs, bad prior or threshold.
    """
    if not max_threshold > 0:
        raise ValueError(f"max_threshold must be positive, got {max_threshold}")
    if isinstance(prior, str) and prior != "ground_truth":
        raise ValueError(f"prior must be an array or 'ground_truth', got {prior!r}")
    metric: Metric = Auc() if prior is None else AucRebalanced(
        None if isinstance(prior, str) else np.asarray(prior, dtype=np.float64))
    settings = ScoreSettings(auc_max_threshold=max_threshold)
    _run(_compared(pred_rgb, true_rgb, settings, None if prior is None else BinIndex(bins)),
         metric)
    return _figure(metric)


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
    frame = uint8_frame(rgb)
    metric = Colourfulness()
    _run(_compared(frame, frame), metric)
    return _figure(metric)


def ab_error_by_lightness(
    pred_rgb: np.ndarray,
    true_rgb: np.ndarray,
    bands: Sequence[tuple[float, float]] = LIGHTNESS_BANDS,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel αβ errors (eq. 8.1's distance) summed per band of the truth's CIE L.

    A pixel belongs to band ``[lo, hi)`` of :func:`vidcolor.color.frames.lightness` of ``true_rgb``;
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
    pred, true = uint8_frame(pred_rgb, "result"), uint8_frame(true_rgb, "truth")
    if pred.shape != true.shape:
        raise ValueError(f"result shape {pred.shape} != truth shape {true.shape}")
    bands = tuple((low, high) for low, high in bands)
    band_edges(bands)
    metrics = [BandError(index, band) for index, band in enumerate(bands)]
    _run(_compared(pred, true, ScoreSettings(bands=bands)), *metrics)
    return (np.array([metric.total for metric in metrics], dtype=np.float64),
            np.array([metric.count for metric in metrics], dtype=np.int64))


def cdc(frames: Sequence[np.ndarray], dilations: Sequence[int] = CDC_DILATIONS) -> dict[str, float]:
    """Colour distribution consistency (Liu et al. 2021) of a list of uint8 RGB frames.

    ``CDC_d = (1 / (N - d)) Σ_i JS(H_i, H_{i+d})`` with ``H_i`` frame i's per-channel normalised
    256-bin histograms and JS :func:`~vidcolor.metrics.temporal.histogram_divergence` (mean over
    R, G, B); ``CDC = mean_d CDC_d``. Lower is steadier colour; 0 for a still video. ``CDC_d``
    is NaN with ``N <= d`` frames (and so is CDC). The scorer's CDC metrics, fed the frames.

    Returns:
        ``{"cdc_1": ..., "cdc_2": ..., "cdc_4": ..., "cdc": ...}`` for the default dilations.
    """
    parts = [CdcAt(d) for d in dilations]
    metrics = [*parts, CdcMean(parts)]
    settings = ScoreSettings()
    for frame in frames:
        checked = uint8_frame(frame)
        update_all(metrics, FramePair(checked, TruthFrame(checked, settings)))
    result = {}
    for metric in metrics:
        value = metric.compute()
        result[metric.key] = float("nan") if value is None else float(value)
    return result
