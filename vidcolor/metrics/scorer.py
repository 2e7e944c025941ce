"""The streaming scorer: result videos against a truth video, frame by frame, in lockstep.

:class:`SequenceScorer` is fed a truth frame and the matching frame of every result, in order,
and keeps for every candidate the metrics of :func:`~vidcolor.metrics.measures.metric_list`:
running sums, one previous frame and the last few colour histograms, so memory does not grow
with the video (apart from one number per frame per candidate for the per-frame plots).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vidcolor.color.frames import grey_rgb, lightness
from vidcolor.flow import dis_flow
from vidcolor.metrics.image import (
    AB_ERROR_HIST_BINS,
    AB_ERROR_HIST_MAX,
    AUC_MAX_THRESHOLD,
    LIGHTNESS_BANDS,
    PA_THRESHOLD,
    BinIndex,
    bin_probabilities,
    check_thresh,
)
from vidcolor.metrics.inputs import uint8_frame
from vidcolor.metrics.measures import (
    AlphaBetaError,
    FrameCount,
    Metric,
    Psnr,
    WarpError,
    metric_list,
    update_all,
)
from vidcolor.metrics.pairs import FramePair, ScoreSettings, TruthFrame
from vidcolor.metrics.temporal import (
    CDC_DILATIONS,
    FLOW_SCALE,
    TruthFlow,
    steady_flow,
    truth_flow,
)

__all__ = ["SequenceScorer", "comparison_row"]

_IMPLICIT = ("grey", "truth")


def comparison_row(truth_rgb: np.ndarray, results: Mapping[str, np.ndarray]
                   ) -> dict[str, np.ndarray]:
    """One row of a comparison sheet: ``{"grey": ..., **results, "truth": ...}``.

    The grey frame is the all-grey baseline the scorer uses (the truth's L, a = b = 0).
    """
    truth = uint8_frame(truth_rgb, "truth")
    return {"grey": grey_rgb(lightness(truth)), **results, "truth": truth}


def _check_names(names: list[str]) -> None:
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"result names must be non-empty strings, got {name!r}")
        if name in _IMPLICIT:
            raise ValueError(f"result name {name!r} is reserved for the implicit candidate")
    if len(set(names)) != len(names):
        raise ValueError(f"result names must be unique, got {names}")


class SequenceScorer:
    """Streaming scorer of result videos against a truth video, frame by frame, in lockstep.

    Scores the named results plus two implicit candidates: ``"grey"``, the all-grey baseline
    (the truth's own L with a = b = 0, :func:`vidcolor.color.frames.grey_rgb`), and ``"truth"``, the
    truth against itself (per-frame figures trivially perfect; its temporal figures are the
    floor every result's are read against: a still truth gives 0, a moving one does not, since
    the flow and histograms change with the content).

    Per frame, the truth's flow (:func:`~vidcolor.metrics.temporal.truth_flow`), its ab bins,
    lightness bands and consistency map are computed once
    (:class:`~vidcolor.metrics.pairs.TruthFrame`) and shared by every candidate. Temporal
    measures use every consecutive pair, shot cuts included: the truth's own values include the
    same pairs, which is why every temporal figure is read beside the truth's.

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
        _check_names(names)
        check_thresh(pa_threshold)
        if not auc_max_threshold > 0:
            raise ValueError(f"auc_max_threshold must be positive, got {auc_max_threshold}")
        if not 0 < flow_scale <= 1:
            raise ValueError(f"flow_scale must be in (0, 1], got {flow_scale}")
        self.names = tuple(names)
        self.candidates = ("grey", *self.names, "truth")
        self._bins = BinIndex(bins)
        self._prior = None if prior is None else np.asarray(prior, dtype=np.float64)
        if self._prior is not None:  # fail now, not after a whole video
            bin_probabilities(self._prior, np.zeros(len(self._bins)))
        self.temporal = temporal
        self.flow_scale = flow_scale
        self.pa_threshold = pa_threshold
        self.auc_max_threshold = auc_max_threshold
        self._settings = ScoreSettings(pa_threshold, auc_max_threshold, LIGHTNESS_BANDS)
        self._metrics = {name: metric_list(prior=self._prior) for name in self.candidates}
        self._band_counts = np.zeros(len(LIGHTNESS_BANDS), np.int64)
        self._shape: tuple[int, ...] | None = None
        self._previous_light: np.ndarray | None = None
        self._previous_truth: np.ndarray | None = None
        self._dis = dis_flow() if temporal else None

    @property
    def frames(self) -> int:
        """Number of frames scored so far."""
        return self._find("truth", FrameCount).count

    def metrics(self, candidate: str) -> list[Metric]:
        """The metrics of one candidate (grey, a result, truth), in table order."""
        return self._metrics[candidate]

    def _checked(self, truth_rgb: np.ndarray, results: Mapping[str, np.ndarray]
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        truth = uint8_frame(truth_rgb, "truth")
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
            frame = uint8_frame(results[name], name)
            if frame.shape != truth.shape:
                raise ValueError(f"{name}: frame shape {frame.shape} != truth shape {truth.shape}")
            frames[name] = frame
        return truth, frames

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
        truth, frames = self._checked(truth_rgb, results)
        light = lightness(truth)
        frames = {"grey": grey_rgb(light), **frames, "truth": truth}
        reference = TruthFrame(truth, self._settings, bins=self._bins, light=light,
                               flow=self._flow(truth, light))
        for name, frame in frames.items():
            update_all(self._metrics[name], FramePair(frame, reference, identical=name == "truth"),
                       temporal=self.temporal)
        self._band_counts += reference.band_counts
        self._shape = truth.shape
        self._previous_light = light if self.temporal else None
        self._previous_truth = truth.copy() if self.temporal else None

    def _flow(self, truth: np.ndarray, light: np.ndarray) -> TruthFlow | None:
        """The truth's steady flow from the previous frame, or ``None``."""
        if self._previous_light is None or self._previous_truth is None:
            return None
        return steady_flow(truth_flow(self._previous_light, light, scale=self.flow_scale,
                                      dis=self._dis), self._previous_truth, truth)

    def summary(self) -> dict[str, Any]:
        """Every figure so far, as a JSON-able dict (``json.dumps(..., allow_nan=False)`` works).

        Infinite values (PSNR of identical frames) are the string ``"inf"``; figures that are
        undefined (no frames yet, warp error of one frame, CDC_4 of 4 frames) are ``None``.

        Returns:
            ``frames``, ``frame_size`` ``[width, height]``, ``candidates`` (grey, the results,
            truth), ``metrics`` ``{candidate: {key: value}}`` with the keys of
            :data:`~vidcolor.metrics.measures.METRICS`, ``lightness_bands`` and ``band_pixels``
            (the truth's pixels per band), ``series`` ``{"psnr" | "warp_error": {candidate:
            [per frame]}}`` (warp error of frame t is the pair t-1, t; ``None`` for the first),
            ``cumulative`` (``pixel_error_max``, ``pixel_error_bins``, ``pixel_error_counts``
            ``{candidate: histogram of per-pixel αβ errors}``, ``image_errors`` ``{candidate:
            [mean αβ error per frame]}``), and ``settings``.
        """
        height, width = self._shape[:2] if self._shape else (0, 0)
        summary = {
            "frames": self.frames,
            "frame_size": [width, height],
            "candidates": list(self.candidates),
            "metrics": {name: {metric.key: metric.compute() for metric in self._metrics[name]}
                        for name in self.candidates},
            "lightness_bands": [list(band) for band in LIGHTNESS_BANDS],
            "band_pixels": self._band_counts.tolist(),
            "series": {"psnr": self._series(Psnr), "warp_error": self._series(WarpError)},
            "cumulative": {
                "pixel_error_max": AB_ERROR_HIST_MAX,
                "pixel_error_bins": AB_ERROR_HIST_BINS,
                "pixel_error_counts": {name: self._find(name, AlphaBetaError).pixel_counts.tolist()
                                       for name in self.candidates},
                "image_errors": self._series(AlphaBetaError),
            },
            "settings": self._describe(),
        }
        return _jsonable(summary)

    def _find(self, name: str, kind: type[Any]) -> Any:
        return next(metric for metric in self._metrics[name] if isinstance(metric, kind))

    def _series(self, kind: type[Any]) -> dict[str, list[Any]]:
        return {name: list(self._find(name, kind).values) for name in self.candidates}

    def _describe(self) -> dict[str, Any]:
        return {
            "temporal": self.temporal,
            "flow": f"OpenCV DIS optical flow (medium preset) on the truth's L at "
                    f"{self.flow_scale:g} × the frame size",
            "flow_scale": self.flow_scale,
            "pa_threshold": self.pa_threshold,
            "auc_max_threshold": self.auc_max_threshold,
            "auc_rebalanced_by": "ground_truth" if self._prior is None else "prior",
            "cdc_dilations": list(CDC_DILATIONS),
        }


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
