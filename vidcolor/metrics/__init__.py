"""Evaluation metrics: the thesis's (8.1), Zhang et al.'s AuC, and temporal consistency (SPEC §8).

Every metric compares a colourised result with its ground truth, and each figure has one
computation: a metric object (:mod:`~vidcolor.metrics.measures`) updated with one comparison of
a frame pair at a time (:mod:`~vidcolor.metrics.pairs`). The streaming scorer keeps a list of
them per candidate; the functions below run the same objects on the pairs they are given.

- :mod:`~vidcolor.metrics.inputs`: the images metrics take (uint8, or float in [0, 1]).
- :mod:`~vidcolor.metrics.image`: per-image measures: the αβ space (thesis eq. 8.2), Lab ab
  consistency, AuC scores and bins, colourfulness, lightness bands.
- :mod:`~vidcolor.metrics.temporal`: warp error along the truth's optical flow
  (:mod:`vidcolor.flow`) and CDC.
- :mod:`~vidcolor.metrics.measures`: the metric objects and :data:`METRICS`, the one list of
  the figures (key, label, which way is better) the summary, the table and the reports read.
- :mod:`~vidcolor.metrics.scorer`: :class:`SequenceScorer`, fed a truth frame and the
  matching frame of every result, in order.
- :mod:`~vidcolor.metrics.functional`: the metrics as functions of images.

**Image metrics** take one image ``(H, W, 3)`` or a batch ``(N, H, W, 3)`` (or a sequence of
``(H, W, 3)`` arrays, which may differ in size), RGB as ``uint8`` (0–255) or float in [0, 1].
``uint8`` images take the frame path of :mod:`vidcolor.color.frames` (float32, OpenCV: what render
writes, and what :class:`SequenceScorer` computes); float images are computed in float64. The
two agree to ~1e-5.

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
  :func:`consistency_ratio` returns eq. 8.4 literally (= 1 - PA).
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

**The streaming scorer** :class:`SequenceScorer` keeps only running sums, one previous frame per
candidate and the last 4 colour histograms: memory does not grow with the video (apart from one
number per frame per candidate for the per-frame plots). Its :meth:`SequenceScorer.summary` is a
JSON-able dict of every figure of :data:`METRICS` for every result, for the all-grey baseline
``"grey"`` and for the truth itself ``"truth"`` (the floor of the temporal measures).

References: Futschik 2018 (thesis) §8.1; Zhang, Isola, Efros, *Colorful Image Colorization*,
ECCV 2016; Hasler, Süsstrunk, *Measuring colourfulness in natural images*, SPIE 2003; Lai et
al., *Learning Blind Video Temporal Consistency*, ECCV 2018 (warp error); Ruder et al.,
*Artistic style transfer for videos*, GCPR 2016 (occlusion and motion-boundary tests); Liu et
al., *Temporally consistent video colorization with deep feature propagation and
self-regularization learning*, 2021 (CDC).
"""

from __future__ import annotations

from vidcolor.flow import FLOW_PRESET
from vidcolor.metrics.functional import (
    ab_auc,
    ab_error_by_lightness,
    ab_error_map,
    ab_rmse,
    cdc,
    colourfulness,
    consistency_ratio,
    lab_ab_errors,
    per_image_ab_errors,
    perceivable_artifacts,
    psnr,
)
from vidcolor.metrics.image import (
    AB_ERROR_HIST_BINS,
    AB_ERROR_HIST_MAX,
    ALPHA_BETA_EPSILON,
    AUC_MAX_THRESHOLD,
    LIGHTNESS_BANDS,
    PA_THRESHOLD,
    alpha_beta,
    cumulative_error_curve,
)
from vidcolor.metrics.inputs import to_float_rgb
from vidcolor.metrics.measures import (
    METRICS,
    SUMMARY_METRICS,
    Metric,
    band_key,
    metric_list,
    metric_named,
)
from vidcolor.metrics.scorer import SequenceScorer, comparison_row
from vidcolor.metrics.temporal import (
    CDC_DILATIONS,
    FLOW_SCALE,
    MIN_PAIR_SHARE,
    STEADY_LEVELS,
    TruthFlow,
    colour_histograms,
    histogram_divergence,
    steady_flow,
    truth_flow,
    warp_error,
)

__all__ = [
    "ALPHA_BETA_EPSILON",
    "PA_THRESHOLD",
    "AUC_MAX_THRESHOLD",
    "LIGHTNESS_BANDS",
    "CDC_DILATIONS",
    "FLOW_SCALE",
    "FLOW_PRESET",
    "STEADY_LEVELS",
    "MIN_PAIR_SHARE",
    "AB_ERROR_HIST_MAX",
    "AB_ERROR_HIST_BINS",
    "METRICS",
    "SUMMARY_METRICS",
    "Metric",
    "band_key",
    "metric_list",
    "metric_named",
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
    "steady_flow",
    "warp_error",
    "colour_histograms",
    "histogram_divergence",
    "cdc",
    "comparison_row",
    "SequenceScorer",
]
