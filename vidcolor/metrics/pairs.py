"""One comparison of a result frame with its truth frame: every intermediate value, computed
once and only when a metric asks for it.

:class:`TruthFrame` holds what every candidate of a frame is compared with (the truth's αβ and
Lab ab planes, its PA consistency map, lightness bands, ab bins, and the flow from the previous
truth frame); :class:`FramePair` what one candidate's frame adds (its αβ errors, squared error,
PA ratio, AuC scores, colour histograms). The metrics of :mod:`vidcolor.metrics.measures` read
these values: the streaming scorer and the functional API feed both through the same objects,
so each figure has one computation. The truth scored against itself (``identical``) takes
the shortcuts that its errors are exactly 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from vidcolor.color.frames import lightness
from vidcolor.metrics.image import (
    AB_ERROR_HIST_BINS,
    AUC_MAX_THRESHOLD,
    LIGHTNESS_BANDS,
    PA_THRESHOLD,
    BinIndex,
    Planes,
    alpha_beta_planes,
    auc_scores,
    band_edges,
    band_index,
    consistent,
    error_histogram,
    lab_ab,
    opponent_planes,
    plane_distance,
    sse_uint8,
)
from vidcolor.metrics.temporal import TruthFlow, colour_histograms

__all__ = ["ScoreSettings", "TruthFrame", "FramePair"]


@dataclass(frozen=True)
class ScoreSettings:
    """The settings every comparison of a scoring run shares.

    Attributes:
        pa_threshold: PA's ab threshold.
        auc_max_threshold: AuC's largest threshold.
        bands: contiguous bands of the truth's CIE L covering 0–100.
    """

    pa_threshold: float = PA_THRESHOLD
    auc_max_threshold: float = AUC_MAX_THRESHOLD
    bands: tuple[tuple[float, float], ...] = LIGHTNESS_BANDS

    @cached_property
    def band_edges(self) -> np.ndarray:
        """Inner edges of :attr:`bands` (checked)."""
        return band_edges(self.bands)


class TruthFrame:
    """Everything about one truth frame that every candidate is compared with.

    Args:
        rgb: the checked truth image (uint8 frame, or float64 in [0, 1]).
        settings: the run's settings.
        bins: the ab bins of the rebalanced AuC (made on first use when not given).
        light: the truth's CIE L if already computed (uint8 frames only).
        flow: the truth's (steady) flow from the previous truth frame; ``None``: none.
    """

    def __init__(self, rgb: np.ndarray, settings: ScoreSettings, *, bins: BinIndex | None = None,
                 light: np.ndarray | None = None, flow: TruthFlow | None = None) -> None:
        self.rgb = rgb
        self.settings = settings
        self._bins = bins
        self._light = light
        self.flow = flow
        self.pixels = rgb.shape[0] * rgb.shape[1]

    @cached_property
    def light(self) -> np.ndarray:
        """CIE L ``(H, W)`` of a uint8 truth."""
        return lightness(self.rgb) if self._light is None else self._light

    @cached_property
    def alpha_beta(self) -> Planes:
        """The truth's α and β planes."""
        return alpha_beta_planes(self.rgb)

    @cached_property
    def ab(self) -> Planes:
        """The truth's Lab a and b planes."""
        return lab_ab(self.rgb)

    @cached_property
    def consistent(self) -> np.ndarray:
        """Pixels whose 4-neighbours are all within PA's threshold (bool ``(H, W)``)."""
        return consistent(self.ab, self.settings.pa_threshold)

    @cached_property
    def consistent_count(self) -> int:
        """Number of :attr:`consistent` pixels."""
        return int(np.count_nonzero(self.consistent))

    @cached_property
    def band(self) -> np.ndarray:
        """Lightness band of each pixel (flat)."""
        return band_index(self.light, self.settings.band_edges)

    @cached_property
    def band_counts(self) -> np.ndarray:
        """Pixels of each lightness band."""
        return np.bincount(self.band, minlength=len(self.settings.bands))

    @cached_property
    def bins(self) -> BinIndex:
        """The ab bins of the rebalanced AuC."""
        return self._bins if self._bins is not None else BinIndex(None)

    @cached_property
    def bin_index(self) -> np.ndarray:
        """Nearest ab bin of each pixel (flat)."""
        return self.bins(*self.ab)

    @cached_property
    def bin_counts(self) -> np.ndarray:
        """Pixels of each ab bin."""
        return np.bincount(self.bin_index, minlength=len(self.bins))


class FramePair:
    """A candidate's frame against its truth frame.

    Args:
        rgb: the checked candidate image, of the truth's shape and dtype.
        truth: its truth frame.
        identical: the candidate is the truth itself (every per-frame error is exactly 0).
    """

    def __init__(self, rgb: np.ndarray, truth: TruthFrame, *, identical: bool = False) -> None:
        self.rgb = rgb
        self.truth = truth
        self.identical = identical

    @cached_property
    def opponent(self) -> list[np.ndarray]:
        """The uint8 frame's opponent planes (αβ numerators and mean; colourfulness)."""
        return opponent_planes(self.rgb)

    @cached_property
    def errors(self) -> np.ndarray:
        """Per-pixel αβ distance to the truth (flat)."""
        opponent = self.opponent if self.rgb.dtype == np.uint8 else None
        planes = alpha_beta_planes(self.rgb, opponent=opponent)
        return plane_distance(planes, self.truth.alpha_beta).reshape(-1)

    @cached_property
    def band_sums(self) -> np.ndarray:
        """αβ errors summed per lightness band of the truth (float64)."""
        bands = len(self.truth.settings.bands)
        if self.identical:
            return np.zeros(bands)
        return np.bincount(self.truth.band, weights=self.errors, minlength=bands)

    @cached_property
    def error_sum(self) -> float:
        """Sum of the per-pixel αβ errors (over the bands for uint8 frames)."""
        if self.rgb.dtype == np.uint8:
            return float(self.band_sums.sum())
        return 0.0 if self.identical else float(self.errors.sum(dtype=np.float64))

    @cached_property
    def error_counts(self) -> np.ndarray:
        """Histogram of the per-pixel αβ errors (:func:`vidcolor.metrics.image.error_histogram`)."""
        if self.identical:
            counts = np.zeros(AB_ERROR_HIST_BINS, np.int64)
            counts[0] = self.truth.pixels
            return counts
        return error_histogram(self.errors)

    @cached_property
    def mse(self) -> float:
        """Mean squared error of RGB in [0, 1]."""
        if self.identical:
            return 0.0
        if self.rgb.dtype == np.uint8:
            return sse_uint8(self.rgb, self.truth.rgb) / (self.rgb.size * 255.0**2)
        return float(np.mean((self.rgb - self.truth.rgb) ** 2))

    @cached_property
    def ab(self) -> Planes:
        """The candidate's Lab a and b planes."""
        return lab_ab(self.rgb)

    @cached_property
    def pa_ratio(self) -> float | None:
        """Share of the truth's consistent pixels that are not consistent here; ``None`` when
        the truth has none."""
        truth = self.truth
        if not truth.consistent_count:
            return None
        if self.identical:
            return 0.0
        both = truth.consistent & consistent(self.ab, truth.settings.pa_threshold)
        return 1.0 - int(np.count_nonzero(both)) / truth.consistent_count

    @cached_property
    def ab_errors(self) -> np.ndarray:
        """Per-pixel Euclidean Lab ab distance to the truth (flat)."""
        return plane_distance(self.ab, self.truth.ab).reshape(-1)

    @cached_property
    def auc_scores(self) -> np.ndarray | None:
        """Per-pixel AuC scores (flat float32); ``None`` for the truth itself (all 1)."""
        if self.identical:
            return None
        return auc_scores(self.ab_errors, self.truth.settings.auc_max_threshold)

    @cached_property
    def auc_sum(self) -> float:
        """Sum of the per-pixel AuC scores."""
        scores = self.auc_scores
        return float(self.truth.pixels) if scores is None else float(scores.sum(dtype=np.float64))

    @cached_property
    def bin_scores(self) -> np.ndarray:
        """AuC scores summed per ab bin of the truth."""
        scores = self.auc_scores
        if scores is None:
            return self.truth.bin_counts
        return np.bincount(self.truth.bin_index, weights=scores, minlength=len(self.truth.bins))

    @cached_property
    def histograms(self) -> np.ndarray:
        """Normalised per-channel colour histograms ``(3, 256)``."""
        return colour_histograms(self.rgb)
