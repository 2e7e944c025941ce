"""The metrics as objects: each one figure of the summary, updated pair by pair.

A :class:`Metric` has a ``key`` (of the summary), a ``label`` (of the table), a direction
``better`` (``"lower"``, ``"higher"``, or ``""`` where closeness to the truth's is right), an
``update`` that takes one :class:`~vidcolor.metrics.pairs.FramePair` and a ``compute`` that
returns the figure so far (``None`` while it is undefined). :func:`metric_list` makes the list
the streaming scorer keeps per candidate; :data:`METRICS` is that list once, the one place
the summary, the table, the report and the season report read which figures there are.

To add a metric: a class here (its per-frame values taken from the pair, adding any value
several metrics share to :class:`~vidcolor.metrics.pairs.FramePair`), and one line in
:func:`metric_list`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Sequence

import numpy as np

from vidcolor.metrics.image import (
    AB_ERROR_HIST_BINS,
    LIGHTNESS_BANDS,
    bin_probabilities,
    colourfulness_of,
    psnr_of_mse,
    rebalanced_mean,
)
from vidcolor.metrics.pairs import FramePair
from vidcolor.metrics.temporal import CDC_DILATIONS, histogram_divergence, warp_error

__all__ = [
    "Metric", "FrameCount", "AlphaBetaError", "Psnr", "PerceivableArtifacts", "Auc",
    "AucRebalanced", "BandError", "Colourfulness", "WarpError", "CdcAt", "CdcMean",
    "band_key", "metric_list", "update_all", "METRICS", "SUMMARY_METRICS", "metric_named",
]

Figure = float | int | None


def band_key(low: float, high: float) -> str:
    """The summary key of a lightness band's αβ error.

    >>> band_key(20, 40)
    'ab_l20_40'
    """
    return f"ab_l{low:g}_{high:g}"


class Metric(ABC):
    """One figure of the summary, accumulated over the frames of one candidate.

    Attributes:
        key: the summary's key.
        label: the table's label.
        better: ``"lower"``, ``"higher"`` or ``""`` (no direction: read it beside the truth's).
        short_label: a shorter label for narrow tables (the season table), if the label is
            long; :attr:`short` is the one to read.
        temporal: needs the frames in order (updated only when the scorer's temporal is on).
    """

    key: str
    label: str
    better: str = ""
    short_label: str = ""
    temporal: bool = False

    @property
    def short(self) -> str:
        """The label of narrow tables."""
        return self.short_label or self.label

    @abstractmethod
    def update(self, pair: FramePair) -> None:
        """Take one frame's comparison into account."""

    @abstractmethod
    def compute(self) -> Figure:
        """The figure over the frames so far; ``None`` while undefined."""


class FrameCount(Metric):
    """Frames scored."""

    key, label = "frames", "frames"

    def __init__(self) -> None:
        self.count = 0

    def update(self, pair: FramePair) -> None:
        self.count += 1

    def compute(self) -> int:
        return self.count


class _PerFrameMean(Metric):
    """The mean of one value per frame; :attr:`values` is the per-frame series."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def compute(self) -> float | None:
        return float(np.mean(self.values)) if self.values else None


class AlphaBetaError(_PerFrameMean):
    """The thesis's "RMSE in αβ" (eq. 8.1): per frame the mean per-pixel Euclidean αβ
    distance, averaged over frames (a mean distance, as eq. 8.1 defines it).

    Args:
        histogram: also count every pixel's error in :attr:`pixel_counts` (uint8 frames).
    """

    key, label, better, short_label = "ab_rmse", "RMSE αβ (eq. 8.1)", "lower", "αβ err"

    def __init__(self, histogram: bool = True) -> None:
        super().__init__()
        self.pixel_counts = np.zeros(AB_ERROR_HIST_BINS, np.int64) if histogram else None

    def update(self, pair: FramePair) -> None:
        self.values.append(pair.error_sum / pair.truth.pixels)
        if self.pixel_counts is not None:
            self.pixel_counts += pair.error_counts


class Psnr(_PerFrameMean):
    """PSNR in RGB (eq. 8.3), peak 1, per frame, averaged (``inf`` for identical frames)."""

    key, label, better, short_label = "psnr", "PSNR (dB)", "higher", "PSNR"

    def update(self, pair: FramePair) -> None:
        self.values.append(psnr_of_mse(pair.mse))


class PerceivableArtifacts(Metric):
    """PA (thesis 8.1): the share of the truth's consistent pixels a frame makes inconsistent,
    averaged over the frames that have any (0 when none has)."""

    key, label, better = "pa", "PA (perceivable artefacts)", "lower"

    def __init__(self) -> None:
        self.frames, self.counted, self.total = 0, 0, 0.0

    def update(self, pair: FramePair) -> None:
        self.frames += 1
        ratio = pair.pa_ratio
        if ratio is not None:
            self.total += ratio
            self.counted += 1

    def compute(self) -> float | None:
        if not self.frames:
            return None
        return self.total / self.counted if self.counted else 0.0


class Auc(Metric):
    """Zhang et al.'s AuC of the per-pixel Lab ab errors, pooled over all pixels."""

    key, label, better = "auc", "AuC", "higher"

    def __init__(self) -> None:
        self.total, self.pixels = 0.0, 0

    def update(self, pair: FramePair) -> None:
        self.total += pair.auc_sum
        self.pixels += pair.truth.pixels

    def compute(self) -> float | None:
        return self.total / self.pixels if self.pixels else None


class AucRebalanced(Metric):
    """The AuC with each pixel weighted by ``1 / p`` of its truth's ab bin.

    Args:
        prior: the distribution ``p`` over the bins (e.g. the training prior); ``None``: the
            truth's own bin histogram over the frames scored.
    """

    key, label, better = "auc_rebalanced", "AuC rebalanced", "higher"

    def __init__(self, prior: np.ndarray | None = None) -> None:
        self.prior = prior
        self.bin_scores: np.ndarray | None = None
        self.bin_counts: np.ndarray | None = None

    def update(self, pair: FramePair) -> None:
        if self.bin_scores is None or self.bin_counts is None:
            bins = len(pair.truth.bins)
            self.bin_scores, self.bin_counts = np.zeros(bins), np.zeros(bins, np.int64)
        self.bin_scores += pair.bin_scores
        self.bin_counts += pair.truth.bin_counts

    def compute(self) -> float | None:
        if self.bin_scores is None or self.bin_counts is None:
            return None
        p = bin_probabilities("ground_truth" if self.prior is None else self.prior,
                              self.bin_counts.astype(np.float64))
        return rebalanced_mean(self.bin_scores, self.bin_counts, p)


class BandError(Metric):
    """The mean αβ error of the pixels whose truth's CIE L lies in one band.

    Args:
        index: the band's place in the scorer's bands.
        band: ``(low, high)``.
    """

    better = "lower"

    def __init__(self, index: int, band: tuple[float, float]) -> None:
        self.index, self.band = index, band
        self.key = band_key(*band)
        self.label = f"αβ error, L {band[0]}–{band[1]}"
        self.total, self.count = 0.0, 0

    def update(self, pair: FramePair) -> None:
        self.total += float(pair.band_sums[self.index])
        self.count += int(pair.truth.band_counts[self.index])

    def compute(self) -> float | None:
        return self.total / self.count if self.count else None


class Colourfulness(Metric):
    """Hasler & Süsstrunk's colourfulness M, mean over frames (close to the truth's is right)."""

    key, label, short_label = "colourfulness", "colourfulness (M)", "colourful"

    def __init__(self) -> None:
        self.total, self.frames = 0.0, 0

    def update(self, pair: FramePair) -> None:
        self.total += colourfulness_of(pair.opponent)
        self.frames += 1

    def compute(self) -> float | None:
        return self.total / self.frames if self.frames else None


class WarpError(Metric):
    """Lai et al.'s warp error of consecutive frames along the truth's flow, mean over the
    pairs that have pixels to compare; :attr:`values` per frame (``None`` for the first)."""

    key, label, better, short_label = "warp_error", "warp error", "lower", "warp err"
    temporal = True

    def __init__(self) -> None:
        self.values: list[float | None] = []
        self.previous: np.ndarray | None = None

    def update(self, pair: FramePair) -> None:
        flow = pair.truth.flow
        self.values.append(None if self.previous is None or flow is None
                           else warp_error(self.previous, pair.rgb, flow))
        self.previous = pair.rgb.copy()  # the caller may reuse its buffer

    def compute(self) -> float | None:
        defined = [value for value in self.values if value is not None]
        return float(np.mean(defined)) if defined else None


class CdcAt(Metric):
    """CDC_d (Liu et al. 2021): the mean JS divergence of colour histograms ``d`` frames apart.

    Args:
        dilation: ``d``.
    """

    better, temporal = "lower", True

    def __init__(self, dilation: int) -> None:
        self.dilation = dilation
        self.key, self.label = f"cdc_{dilation}", f"CDC_{dilation}"
        self.histograms: deque[np.ndarray] = deque(maxlen=dilation)
        self.total, self.pairs = 0.0, 0

    def update(self, pair: FramePair) -> None:
        histograms = pair.histograms
        if len(self.histograms) == self.dilation:
            self.total += histogram_divergence(self.histograms[0], histograms)
            self.pairs += 1
        self.histograms.append(histograms)

    def compute(self) -> float | None:
        return self.total / self.pairs if self.pairs else None


class CdcMean(Metric):
    """CDC: the mean of its CDC_d, defined once every one is.

    Args:
        parts: the :class:`CdcAt` metrics it averages (updated on their own).
    """

    key, label, better, temporal = "cdc", "CDC", "lower", True

    def __init__(self, parts: Sequence[CdcAt]) -> None:
        self.parts = tuple(parts)

    def update(self, pair: FramePair) -> None:
        pass

    def compute(self) -> float | None:
        values = [part.compute() for part in self.parts]
        defined = [value for value in values if value is not None]
        return float(np.mean(defined)) if len(defined) == len(values) else None


def metric_list(*, prior: np.ndarray | None = None,
                bands: Sequence[tuple[float, float]] = LIGHTNESS_BANDS,
                dilations: Sequence[int] = CDC_DILATIONS) -> list[Metric]:
    """Fresh metrics, in the table's order: what the scorer keeps for each candidate.

    Args:
        prior: the rebalanced AuC's prior (:class:`AucRebalanced`).
        bands: the lightness bands of the per-band αβ error.
        dilations: the ``d`` of the CDC_d.
    """
    cdcs = [CdcAt(d) for d in dilations]
    return [FrameCount(), AlphaBetaError(), Psnr(), PerceivableArtifacts(), Auc(),
            AucRebalanced(prior), *(BandError(i, band) for i, band in enumerate(bands)),
            Colourfulness(), WarpError(), *cdcs, CdcMean(cdcs)]


def update_all(metrics: Iterable[Metric], pair: FramePair, *, temporal: bool = True) -> None:
    """Update every metric with one pair (the temporal ones only when ``temporal``)."""
    for metric in metrics:
        if temporal or not metric.temporal:
            metric.update(pair)


METRICS: tuple[Metric, ...] = tuple(metric_list())
"""The summary's figures for every candidate, in table order (read their ``key``, ``label``,
``better`` and ``short``; the scorer keeps fresh ones from :func:`metric_list`)."""

def metric_named(key: str) -> Metric:
    """The metric of :data:`METRICS` with this summary key.

    Raises:
        KeyError: no metric has it.

    >>> metric_named("psnr").label
    'PSNR (dB)'
    """
    for metric in METRICS:
        if metric.key == key:
            return metric
    raise KeyError(f"no metric {key!r}; the keys are {[m.key for m in METRICS]}")


SUMMARY_METRICS: tuple[tuple[str, str, str], ...] = tuple(
    (metric.key, metric.label, metric.better) for metric in METRICS)
"""``(key, label, better)`` of each metric of :data:`METRICS`."""
