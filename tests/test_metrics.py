"""Tests of vidcolor.metrics on small hand-made images."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
import torch
from conftest import SAME_FIGURE_REL
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import jensenshannon
from skimage.color import rgb2lab

from vidcolor.metrics import (
    LIGHTNESS_BANDS,
    SUMMARY_METRICS,
    SequenceScorer,
    TruthFlow,
    ab_auc,
    ab_error_by_lightness,
    ab_rmse,
    alpha_beta,
    cdc,
    colour_histograms,
    colourfulness,
    comparison_row,
    consistency_ratio,
    cumulative_error_curve,
    histogram_divergence,
    per_image_ab_errors,
    perceivable_artifacts,
    psnr,
    truth_flow,
    warp_error,
)
from vidcolor.metrics.image import BinIndex
from vidcolor.metrics.measures import CdcAt, WarpError
from vidcolor.quantize import ab_gamut, nearest_bin

images = arrays(np.uint8, (5, 6, 3), elements=st.integers(0, 255))


@pytest.fixture(autouse=True, scope="module")
def _opencv_single_thread() -> Iterator[None]:
    """Run OpenCV single-threaded here and leave no OpenCV worker threads behind.

    A process that forks after OpenCV's thread pool ran (DIS flow starts it) deadlocks when the
    child calls ``cv2.setNumThreads``, as train's DataLoader workers do (tests/test_train.py
    runs later in the same pytest process). Small test images gain nothing from threads.
    """
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(threads)


def _flat(rgb: tuple[float, float, float], shape: tuple[int, int] = (4, 4)) -> np.ndarray:
    return np.broadcast_to(np.asarray(rgb, dtype=np.float64), (*shape, 3)).copy()


@settings(max_examples=30, deadline=None)
@given(images)
def test_identical_images(image: np.ndarray) -> None:
    assert ab_rmse(image, image) == 0.0
    assert psnr(image, image) == math.inf
    assert perceivable_artifacts(image, image) == 0.0
    assert ab_auc(image, image) == 1.0
    assert ab_auc(image, image, prior="ground_truth") == 1.0


@settings(max_examples=30, deadline=None)
@given(images, images)
def test_metric_ranges_and_symmetry(first: np.ndarray, second: np.ndarray) -> None:
    assert ab_rmse(first, second) == pytest.approx(ab_rmse(second, first))
    assert 0.0 <= perceivable_artifacts(first, second) <= 1.0
    pa = perceivable_artifacts(first, second)
    assert pa + consistency_ratio(first, second) == pytest.approx(1.0)
    assert 0.0 <= ab_auc(first, second) <= 1.0


def test_alpha_beta_known_values() -> None:
    # pure red: L = 1/3, alpha = (0 - 1/2) / (1/3 + eps), beta = 1 / (1/3 + eps)
    ab = alpha_beta(_flat((1.0, 0.0, 0.0), (1, 1)))[0, 0]
    assert ab == pytest.approx([-0.5 / (1 / 3 + 1e-4), 1.0 / (1 / 3 + 1e-4)])
    assert np.allclose(alpha_beta(_flat((0.3, 0.3, 0.3))), 0.0)
    assert np.allclose(alpha_beta(np.zeros((2, 2, 3), np.uint8)), 0.0)  # black: no 0/0


def test_ab_rmse_is_mean_euclidean_distance() -> None:
    grey = _flat((0.5, 0.5, 0.5), (2, 2))
    shifted = grey.copy()
    shifted[0, 0] = (0.6, 0.4, 0.5)  # L stays 0.5: alpha = 0, beta = 0.2 / 0.5001
    expected = (0.2 / (0.5 + 1e-4)) / 4  # one pixel of four; a mean, not a root-mean-square
    assert ab_rmse(shifted, grey) == pytest.approx(expected)
    # batches average per image
    batch_pred, batch_true = np.stack([shifted, grey]), np.stack([grey, grey])
    assert ab_rmse(batch_pred, batch_true) == pytest.approx(expected / 2)
    assert per_image_ab_errors(batch_pred, batch_true) == pytest.approx([expected, 0.0])


def test_uint8_and_float_agree() -> None:
    rng = np.random.default_rng(0)
    first, second = rng.integers(0, 256, (2, 6, 7, 3), dtype=np.uint8)
    assert ab_rmse(first, second) == pytest.approx(ab_rmse(first / 255.0, second / 255.0))
    assert psnr(first, second) == pytest.approx(
        psnr(first / 255.0, second.astype(np.float32) / 255)
    )
    assert ab_auc(first, second) == pytest.approx(ab_auc(first / 255.0, second / 255.0))


def test_psnr_known_offset() -> None:
    black = np.zeros((3, 3, 3))
    assert psnr(_flat((0.1, 0.1, 0.1), (3, 3)), black) == pytest.approx(20.0)
    assert psnr(_flat((0.01, 0.01, 0.01), (3, 3)), black) == pytest.approx(40.0)
    # per image, then averaged: 20 dB and 40 dB average to 30 dB
    pred = np.stack([_flat((0.1,) * 3, (3, 3)), _flat((0.01,) * 3, (3, 3))])
    assert psnr(pred, np.zeros_like(pred)) == pytest.approx(30.0)


def test_pa_counts_only_new_inconsistencies() -> None:
    flat = _flat((0.5, 0.5, 0.5))
    speck = flat.copy()
    speck[1, 1] = (0.9, 0.1, 0.1)
    # the speck and its four neighbours lose their consistency: 5 of 16 pixels
    assert perceivable_artifacts(speck, flat) == pytest.approx(5 / 16)
    assert consistency_ratio(speck, flat) == pytest.approx(11 / 16)
    # an edge already in the ground truth is not an artefact of the result
    assert perceivable_artifacts(speck, speck) == 0.0
    # ground truth with the speck, flat result: those pixels are not counted at all
    assert perceivable_artifacts(flat, speck) == 0.0
    # a uniform colour shift is no artefact
    assert perceivable_artifacts(_flat((0.2, 0.6, 0.3)), flat) == 0.0


def test_pa_threshold_and_degenerate_images() -> None:
    flat = _flat((0.5, 0.5, 0.5), (1, 3))
    ramp = flat.copy()
    ramp[0, 2] = (0.52, 0.5, 0.5)  # small ab step between the last two pixels
    step = np.linalg.norm(np.diff(rgb2lab(ramp)[0, 1:, 1:], axis=0))
    assert perceivable_artifacts(ramp, flat, thresh=step * 1.01) == 0.0
    assert perceivable_artifacts(ramp, flat, thresh=step * 0.99) == pytest.approx(2 / 3)
    # a 1x1 image has no neighbours: consistent by definition
    assert perceivable_artifacts(np.zeros((1, 1, 3)), np.ones((1, 1, 3))) == 0.0
    # checkerboard ground truth: no consistent pixel, nothing to count
    checker = np.indices((4, 4)).sum(axis=0)[..., None] % 2 * np.array([1.0, 0.0, 0.0])
    assert perceivable_artifacts(flat[:1, :1].repeat(4, 0).repeat(4, 1), checker) == 0.0
    with pytest.raises(ValueError, match="thresh"):
        perceivable_artifacts(flat, flat, thresh=0.0)


def test_auc_known_constant_error() -> None:
    grey = _flat((0.5, 0.5, 0.5))
    tinted = _flat((0.6, 0.45, 0.5))
    error = np.linalg.norm(rgb2lab(tinted)[0, 0, 1:] - rgb2lab(grey)[0, 0, 1:])
    assert ab_auc(tinted, grey) == pytest.approx(1.0 - error / 150.0, abs=1e-6)
    assert ab_auc(tinted, grey, max_threshold=error / 2) == 0.0
    # a 1-unit discretisation of the curve agrees to within 1/150
    thresholds, curve = cumulative_error_curve(np.full(16, error))
    assert np.trapezoid(curve, thresholds) / 150.0 == pytest.approx(
        ab_auc(tinted, grey), abs=1 / 150
    )


def test_rebalanced_auc_weights_rare_colours_up() -> None:
    # 15 grey pixels predicted right, 1 red pixel predicted grey
    truth = _flat((0.5, 0.5, 0.5))
    truth[0, 0] = (0.9, 0.1, 0.1)
    pred = _flat((0.5, 0.5, 0.5))
    plain = ab_auc(pred, truth)
    balanced = ab_auc(pred, truth, prior="ground_truth")
    red_error = np.linalg.norm(rgb2lab(truth)[0, 0, 1:] - rgb2lab(pred)[0, 0, 1:])
    red_score = max(0.0, 1.0 - red_error / 150.0)
    assert plain == pytest.approx((15 + red_score) / 16)
    assert balanced == pytest.approx((1 + red_score) / 2)  # each class counts equally
    # an explicit prior equal to the ground truth's bin histogram gives the same value
    bins = ab_gamut()
    prior = np.zeros(len(bins))
    prior[bins.tolist().index([0.0, 0.0])] = 15
    red_ab = np.round(rgb2lab(truth)[0, 0, 1:] / 10) * 10
    prior[bins.tolist().index(red_ab.tolist())] = 1
    assert ab_auc(pred, truth, prior=prior) == pytest.approx(balanced)
    with pytest.raises(ValueError, match="prior"):
        ab_auc(pred, truth, prior=np.ones(3))
    with pytest.raises(ValueError, match="prior"):
        ab_auc(pred, truth, prior="uniform")


def test_input_validation() -> None:
    image = np.zeros((2, 2, 3))
    with pytest.raises(ValueError, match="shape"):
        ab_rmse(image, np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        psnr(image * 255 + 10, image)
    with pytest.raises(ValueError, match=r"expected \(H, W, 3\)"):
        psnr(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(TypeError, match="uint8 or float"):
        psnr(np.zeros((2, 2, 3), np.int32), image)
    with pytest.raises(ValueError, match="1 predicted images but 2"):
        ab_rmse([image], [image, image])
    # tiny interpolation overshoot is clipped, not rejected
    assert psnr(image - 1e-3, image) == math.inf


def test_sequences_of_different_sizes() -> None:
    small, large = np.zeros((2, 2, 3)), np.zeros((3, 5, 3))
    assert ab_rmse([small, large], [small, large + 0.0]) == 0.0
    assert psnr([small, large], [small + 0.1, large + 0.01]) == pytest.approx(30.0)


# --------------------------------------------------------------------------- frame path


@settings(max_examples=30, deadline=None)
@given(images)
def test_alpha_beta_frame_path_matches_float64(image: np.ndarray) -> None:
    fast = alpha_beta(image)
    assert fast.dtype == np.float32
    assert np.allclose(fast, alpha_beta(image / 255.0), rtol=1e-5, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(arrays(np.float32, (40, 2), elements=st.floats(-140, 140, width=32)))
def test_bin_index_is_nearest_bin(ab: np.ndarray) -> None:
    bins = ab_gamut()
    expected = nearest_bin(torch.from_numpy(np.ascontiguousarray(ab.T))[None, ..., None], bins)
    got = BinIndex(None)(ab[:, 0], ab[:, 1])
    # equal, or an exact tie in distance
    chosen = np.linalg.norm(bins[got] - ab, axis=1)
    best = np.linalg.norm(bins[expected.reshape(-1).numpy()] - ab, axis=1)
    assert np.allclose(chosen, best, atol=1e-4)


def test_colourfulness_by_hand() -> None:
    # red, white / black, blue: rg = (255, 0, 0, 0), yb = (127.5, 0, 0, -255)
    image = np.array([[[255, 0, 0], [255, 255, 255]], [[0, 0, 0], [0, 0, 255]]], np.uint8)
    mean_rg, mean_yb = 255 / 4, (127.5 - 255) / 4
    var_rg = 255**2 / 4 - mean_rg**2
    var_yb = (127.5**2 + 255**2) / 4 - mean_yb**2
    expected = math.sqrt(var_rg + var_yb) + 0.3 * math.sqrt(mean_rg**2 + mean_yb**2)
    assert colourfulness(image) == pytest.approx(expected, rel=1e-6)
    assert colourfulness(np.full((3, 3, 3), 77, np.uint8)) == 0.0
    with pytest.raises(TypeError, match="uint8"):
        colourfulness(image / 255.0)


def test_ab_error_by_lightness_bands() -> None:
    # truth L: black 0, blue 32.3, red 53.2, white 100 -> bands 0, 1, 2, 4
    truth = np.array([[[0, 0, 0], [0, 0, 255]], [[255, 0, 0], [255, 255, 255]]], np.uint8)
    pred = np.full_like(truth, 128)
    sums, counts = ab_error_by_lightness(pred, truth)
    assert counts.tolist() == [1, 1, 1, 0, 1]
    blue_error = 1.0 / (1 / 3 + 1e-4)  # alpha of pure blue; beta 0; the grey result has 0, 0
    red_error = math.hypot(-0.5, 1.0) / (1 / 3 + 1e-4)
    assert sums == pytest.approx([0.0, blue_error, red_error, 0.0, 0.0], rel=1e-5)
    assert sums.sum() / counts.sum() == pytest.approx(ab_rmse(pred, truth), rel=1e-6)
    with pytest.raises(ValueError, match="bands"):
        ab_error_by_lightness(pred, truth, bands=((0, 50), (60, 100)))


def test_histogram_divergence_is_scipy_jensen_shannon() -> None:
    rng = np.random.default_rng(1)
    first, second = rng.integers(0, 256, (2, 9, 11, 3), dtype=np.uint8)
    h1, h2 = colour_histograms(first), colour_histograms(second)
    assert h1.shape == (3, 256) and h1.sum(axis=1) == pytest.approx([1, 1, 1])
    expected = np.mean([jensenshannon(h1[c], h2[c]) ** 2 for c in range(3)])  # natural log
    assert histogram_divergence(h1, h2) == pytest.approx(expected, rel=1e-9)
    assert histogram_divergence(h1, h1) == 0.0


# --------------------------------------------------------------------------- temporal


def _texture(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth colourful texture (DIS needs structure to track)."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 2.5), None, 0, 255, cv2.NORM_MINMAX)


def _panning_clip(count: int = 8, step: int = 2) -> list[np.ndarray]:
    """Frames of a camera panning right over a texture: content moves left ``step`` px/frame."""
    wide = _texture(48, 64 + step * count)
    return [np.ascontiguousarray(wide[:, i * step:i * step + 64]) for i in range(count)]


def _tinted(frame: np.ndarray, channel: int, amount: int = 60) -> np.ndarray:
    shifted = frame.astype(np.int16)
    shifted[..., channel] += amount
    return np.clip(shifted, 0, 255).astype(np.uint8)


def _light(frame: np.ndarray) -> np.ndarray:
    from vidcolor.color.frames import lightness

    return lightness(frame)


def test_truth_flow_follows_a_pan() -> None:
    first, second = _panning_clip(2, step=2)
    flow = truth_flow(_light(first), _light(second), scale=1.0)
    # pixel x of frame t shows what x + 2 showed in frame t-1
    interior = (slice(8, -8), slice(8, -8))
    grid_x = np.arange(64, dtype=np.float32)[None, :].repeat(48, 0)
    assert np.median((flow.map_x - grid_x)[interior]) == pytest.approx(2.0, abs=0.2)
    assert np.median(np.abs(flow.map_y - np.arange(48)[:, None])[interior]) < 0.2
    assert flow.mask[interior].mean() > 0.9  # interior pixels are compared
    assert flow.mask[:, -1].sum() == 0  # their source lies outside frame t-1
    assert flow.valid == int(flow.mask.sum())
    # the warp follows the pan: the truth's own warp error is far below the unwarped difference
    unwarped = TruthFlow(None, None, flow.mask, flow.valid)
    assert warp_error(first, second, flow) < 0.1 * warp_error(first, second, unwarped)
    still = truth_flow(_light(first), _light(first))
    assert still.map_x is None and still.valid == first.shape[0] * first.shape[1]
    assert warp_error(first, first, still) == 0.0


def test_warp_error_without_valid_pixels_is_undefined() -> None:
    frame = np.zeros((2, 2, 3), np.uint8)
    assert warp_error(frame, frame, TruthFlow(None, None, np.zeros((2, 2), np.uint8), 0)) is None


def test_static_truth_flickering_result() -> None:
    truth = _texture()
    frames = [truth] * 8
    scorer = SequenceScorer(["flicker"])
    for i, frame in enumerate(frames):
        scorer.add(frame, {"flicker": _tinted(frame, i % 2 * 2)})  # red, blue, red, ...
    metrics = scorer.summary()["metrics"]
    floor = metrics["truth"]
    assert floor["warp_error"] == 0.0
    assert floor["cdc"] == 0.0 and floor["cdc_1"] == 0.0
    assert metrics["grey"]["warp_error"] == 0.0 and metrics["grey"]["cdc"] == 0.0
    flicker = metrics["flicker"]
    assert flicker["warp_error"] > 0.05  # two channels of about 60/255 change every frame
    assert flicker["cdc_1"] > 0.1  # frames i and i+1 differ, i and i+2 (or i+4) match
    assert flicker["cdc_2"] == 0.0 and flicker["cdc_4"] == 0.0
    assert flicker["cdc"] == pytest.approx(flicker["cdc_1"] / 3)


def test_identity_clip_scores_perfect_and_matches_truth_floor() -> None:
    clip = _panning_clip(7)
    scorer = SequenceScorer(["same"])
    for frame in clip:
        scorer.add(frame, {"same": frame.copy()})
    summary = scorer.summary()
    json.dumps(summary, allow_nan=False)  # plain JSON
    same, truth = summary["metrics"]["same"], summary["metrics"]["truth"]
    assert same["frames"] == summary["frames"] == 7
    assert same["ab_rmse"] == 0.0 and same["pa"] == 0.0
    assert same["psnr"] == "inf" and truth["psnr"] == "inf"
    assert same["auc"] == 1.0 and same["auc_rebalanced"] == 1.0
    assert all(same[f"ab_l{lo}_{hi}"] in (0.0, None) for lo, hi in LIGHTNESS_BANDS)
    # Exact: "same" and "truth" are equal bytes scored along the one truth flow per frame, and
    # warp error (integer sum of squares / integer mask count) and CDC (integer histograms)
    # use no float kernel whose result could depend on where the arrays lie
    for key in ("warp_error", "cdc_1", "cdc_2", "cdc_4", "cdc"):
        assert same[key] == truth[key], key
    # colourfulness: float32 planes through cv2.meanStdDev, an IPP kernel (conftest.py)
    assert same["colourfulness"] == pytest.approx(truth["colourfulness"], rel=SAME_FIGURE_REL)
    assert truth["warp_error"] > 0.0  # a moving truth: the floor is not 0
    assert summary["series"]["warp_error"]["same"][0] is None
    assert summary["series"]["psnr"]["same"] == ["inf"] * 7
    assert set(truth) == {key for key, _, _ in SUMMARY_METRICS}
    assert summary["candidates"] == ["grey", "same", "truth"]
    # the grey baseline is worse on every per-frame measure
    grey = summary["metrics"]["grey"]
    assert grey["ab_rmse"] > 0.1 and grey["psnr"] < 40 and grey["auc"] < 1.0


def test_grey_baseline_by_hand() -> None:
    truth = np.array([[[255, 0, 0], [255, 255, 255]], [[0, 0, 0], [0, 0, 255]]], np.uint8)
    grey = comparison_row(truth, {})["grey"]
    assert np.all(grey[..., 0] == grey[..., 1]) and np.all(grey[..., 1] == grey[..., 2])
    assert grey[0, 1, 0] == 255 and grey[1, 0, 0] == 0  # white and black stay
    red_grey, blue_grey = int(grey[0, 0, 0]), int(grey[1, 1, 0])
    scorer = SequenceScorer()
    scorer.add(truth, {})
    metrics = scorer.summary()["metrics"]["grey"]
    # αβ of a grey pixel is (0, 0); red: (-1/2, 1) / (1/3 + ε); blue: (1, 0) / (1/3 + ε)
    red_error = math.hypot(-0.5, 1.0) / (1 / 3 + 1e-4)
    blue_error = 1.0 / (1 / 3 + 1e-4)
    assert metrics["ab_rmse"] == pytest.approx((red_error + blue_error) / 4, rel=1e-6)
    assert metrics["ab_l40_60"] == pytest.approx(red_error, rel=1e-6)  # red: L 53.2
    assert metrics["ab_l20_40"] == pytest.approx(blue_error, rel=1e-6)  # blue: L 32.3
    assert metrics["ab_l0_20"] == 0.0 and metrics["ab_l80_100"] == 0.0
    assert metrics["ab_l60_80"] is None  # no truth pixel there
    squared = ((255 - red_grey) ** 2 + 2 * red_grey**2 + 2 * blue_grey**2 + (255 - blue_grey) ** 2)
    mse = squared / (12 * 255**2)
    assert metrics["psnr"] == pytest.approx(-10 * math.log10(mse), rel=1e-9)
    assert metrics["colourfulness"] == 0.0
    assert scorer.summary()["metrics"]["truth"]["colourfulness"] == pytest.approx(
        colourfulness(truth))


def _colourful_clip(count: int = 5) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A truth clip with flat regions and edges (PA has consistent pixels) and a noisy result."""
    rng = np.random.default_rng(3)
    truths, results = [], []
    for i in range(count):
        truth = _texture(seed=i)
        truth[10:30, 5 + i:25 + i] = (200, 30, 40)  # a flat red patch that moves
        truth[30:, 40:] = (20, 20, 160)
        result = np.clip(truth.astype(np.int16) + rng.integers(-25, 26, truth.shape), 0, 255)
        truths.append(truth)
        results.append(result.astype(np.uint8))
    return truths, results


def test_streaming_equals_whole_clip_functions() -> None:
    truths, results = _colourful_clip()
    scorer = SequenceScorer(["noisy"])
    for truth, result in zip(truths, results, strict=True):
        scorer.add(truth, {"noisy": result})
    summary = scorer.summary()
    metrics = summary["metrics"]["noisy"]
    # Two computations of each figure. The αβ / ab error figures go through cv2.magnitude,
    # whose float32 result may move by an ulp with its inputs' addresses: SAME_FIGURE_REL
    # (conftest.py). PSNR (integer sums of squares) and PA (numpy comparisons of the same
    # Lab values) differ only in the float64 order of their last steps: 1e-12 and 1e-9.
    assert metrics["ab_rmse"] == pytest.approx(ab_rmse(results, truths), rel=SAME_FIGURE_REL)
    assert metrics["psnr"] == pytest.approx(psnr(results, truths), rel=1e-12)
    assert 0.0 < metrics["pa"] == pytest.approx(perceivable_artifacts(results, truths), rel=1e-9)
    assert metrics["auc"] == pytest.approx(ab_auc(results, truths), rel=SAME_FIGURE_REL)
    rebalanced = ab_auc(results, truths, prior="ground_truth")
    assert metrics["auc_rebalanced"] == pytest.approx(rebalanced, rel=SAME_FIGURE_REL)
    assert metrics["auc_rebalanced"] != pytest.approx(metrics["auc"], rel=1e-4)
    assert summary["cumulative"]["image_errors"]["noisy"] == pytest.approx(
        per_image_ab_errors(results, truths).tolist(), rel=SAME_FIGURE_REL)
    # per-band errors, weighted by their pixel counts, add up to the overall αβ error
    pixels = summary["band_pixels"]
    assert sum(pixels) == 5 * 48 * 64
    pooled = sum(metrics[f"ab_l{lo}_{hi}"] * n
                 for (lo, hi), n in zip(LIGHTNESS_BANDS, pixels, strict=True) if n)
    assert pooled / sum(pixels) == pytest.approx(metrics["ab_rmse"], rel=1e-9)
    # CDC as the whole-list function computes it
    whole = cdc(results)
    for key in ("cdc_1", "cdc_2", "cdc_4", "cdc"):
        assert metrics[key] == pytest.approx(whole[key], rel=1e-12), key
    # the per-pixel histogram holds every pixel of every frame
    counts = summary["cumulative"]["pixel_error_counts"]["noisy"]
    assert sum(counts) == 5 * 48 * 64 and counts[0] < sum(counts)


def test_streaming_rebalanced_auc_with_a_training_prior() -> None:
    truths, results = _colourful_clip(3)
    prior = np.random.default_rng(0).random(len(ab_gamut())) + 0.01
    scorer = SequenceScorer(["noisy"], prior=prior)
    for truth, result in zip(truths, results, strict=True):
        scorer.add(truth, {"noisy": result})
    summary = scorer.summary()
    assert summary["settings"]["auc_rebalanced_by"] == "prior"
    assert summary["metrics"]["noisy"]["auc_rebalanced"] == pytest.approx(
        ab_auc(results, truths, prior=prior), rel=SAME_FIGURE_REL)  # cv2.magnitude: conftest
    with pytest.raises(ValueError, match="prior"):
        SequenceScorer(["x"], prior=np.ones(5))


def test_short_clip_and_temporal_off() -> None:
    clip = _panning_clip(3)
    scorer = SequenceScorer(["same"])
    assert scorer.summary()["metrics"]["same"]["ab_rmse"] is None  # nothing scored yet
    for frame in clip:
        scorer.add(frame, {"same": frame})
    metrics = scorer.summary()["metrics"]["same"]
    assert metrics["cdc_1"] is not None and metrics["cdc_2"] is not None
    assert metrics["cdc_4"] is None and metrics["cdc"] is None  # needs 5 frames
    off = SequenceScorer(["same"], temporal=False)
    for frame in clip:
        off.add(frame, {"same": frame})
    metrics = off.summary()["metrics"]["same"]
    assert metrics["warp_error"] is None and metrics["cdc"] is None
    assert metrics["ab_rmse"] == 0.0


def test_scorer_keeps_a_bounded_window() -> None:
    scorer = SequenceScorer(["same"])
    for frame in _panning_clip(9, step=1):
        scorer.add(frame, {"same": frame})
    metrics = scorer.metrics("same")
    windows = {m.dilation: len(m.histograms) for m in metrics if isinstance(m, CdcAt)}
    assert windows == {1: 1, 2: 2, 4: 4}  # only what each CDC_d needs
    (warp,) = [m for m in metrics if isinstance(m, WarpError)]
    assert warp.previous is not None and warp.previous.shape == (48, 64, 3)


def test_scorer_input_checks() -> None:
    truth = np.zeros((4, 5, 3), np.uint8)
    scorer = SequenceScorer(["model-a", "model-b"])
    with pytest.raises(ValueError, match="model-b: frame shape"):
        scorer.add(truth, {"model-a": truth, "model-b": np.zeros((4, 6, 3), np.uint8)})
    with pytest.raises(TypeError, match="model-a: expected a uint8"):
        scorer.add(truth, {"model-a": truth / 255.0, "model-b": truth})
    with pytest.raises(TypeError, match="truth: expected a uint8"):
        scorer.add(truth.astype(np.float32), {"model-a": truth, "model-b": truth})
    with pytest.raises(ValueError, match="missing \\['model-b'\\]"):
        scorer.add(truth, {"model-a": truth})
    with pytest.raises(ValueError, match="unexpected \\['other'\\]"):
        scorer.add(truth, {"model-a": truth, "model-b": truth, "other": truth})
    assert scorer.frames == 0  # nothing was half-added
    scorer.add(truth, {"model-a": truth, "model-b": truth})
    bigger = np.zeros((6, 5, 3), np.uint8)
    with pytest.raises(ValueError, match="frame size"):
        scorer.add(bigger, {"model-a": bigger, "model-b": bigger})
    with pytest.raises(ValueError, match="reserved"):
        SequenceScorer(["grey"])
    with pytest.raises(ValueError, match="unique"):
        SequenceScorer(["a", "a"])


def test_error_histogram_bins_and_overflow() -> None:
    from vidcolor.metrics import AB_ERROR_HIST_BINS, AB_ERROR_HIST_MAX
    from vidcolor.metrics.image import error_histogram

    width = AB_ERROR_HIST_MAX / AB_ERROR_HIST_BINS
    errors = np.array([0.0, 0.5 * width, 1.5 * width, AB_ERROR_HIST_MAX - 0.5 * width,
                       AB_ERROR_HIST_MAX + 3.0], dtype=np.float32)
    counts = error_histogram(errors)
    assert counts.shape == (AB_ERROR_HIST_BINS,) and counts.sum() == 5
    assert counts[0] == 2 and counts[1] == 1 and counts[-1] == 2  # the overflow joins the last


@pytest.mark.parametrize("shape", [(1, 1, 3), (4, 5, 3), (40, 9, 3)])
def test_tiny_moving_frames(shape: tuple[int, int, int]) -> None:
    # DIS refuses images under 12 pixels a side: the flow works on an enlarged copy
    rng = np.random.default_rng(0)
    scorer = SequenceScorer(["same"])
    for _ in range(3):
        frame = rng.integers(0, 256, shape, dtype=np.uint8)
        scorer.add(frame, {"same": frame})
    metrics = scorer.summary()["metrics"]
    # (random frames may leave no pixel unmasked: then both are None). Exact: the same bytes
    # along the one truth flow; integer sums of squares and integer histograms.
    assert metrics["same"]["warp_error"] == metrics["truth"]["warp_error"]
    assert metrics["same"]["cdc_1"] == metrics["truth"]["cdc_1"] > 0.0


# --------------------------------------------------------------------------- one list, one path


def test_metric_list_is_the_summary() -> None:
    from vidcolor.metrics import METRICS, metric_list, metric_named

    scorer = SequenceScorer(["x"])
    frame = _texture()
    scorer.add(frame, {"x": frame})
    summary = scorer.summary()
    for name in summary["candidates"]:
        assert list(summary["metrics"][name]) == [metric.key for metric in METRICS]
    assert tuple((m.key, m.label, m.better) for m in METRICS) == SUMMARY_METRICS
    assert len({m.key for m in METRICS}) == len({m.label for m in METRICS}) == len(METRICS)
    assert {m.better for m in METRICS} == {"lower", "higher", ""}
    assert metric_named("warp_error").temporal and not metric_named("psnr").temporal
    # each scorer candidate gets metrics of its own
    assert all(a is not b for a, b in zip(metric_list(), metric_list(), strict=True))
    with pytest.raises(KeyError, match="no metric"):
        metric_named("nope")


def test_functions_are_the_scorer_on_one_pair() -> None:
    truths, results = _colourful_clip(1)
    truth, result = truths[0], results[0]
    scorer = SequenceScorer(["noisy"])
    scorer.add(truth, {"noisy": result})
    metrics = scorer.summary()["metrics"]["noisy"]
    # the same metric objects on the same pair: PSNR and PA use no float kernel that depends on
    # where the arrays lie, so they are equal; the αβ and Lab errors go through cv2.magnitude
    assert metrics["psnr"] == psnr(result, truth)
    assert metrics["pa"] == perceivable_artifacts(result, truth)
    assert metrics["ab_rmse"] == pytest.approx(ab_rmse(result, truth), rel=SAME_FIGURE_REL)
    assert metrics["auc"] == pytest.approx(ab_auc(result, truth), rel=SAME_FIGURE_REL)
    sums, counts = ab_error_by_lightness(result, truth)
    for (low, high), total, count in zip(LIGHTNESS_BANDS, sums, counts, strict=True):
        expected = metrics[f"ab_l{low}_{high}"]
        assert (expected is None) if not count else \
            expected == pytest.approx(total / count, rel=SAME_FIGURE_REL)
    assert metrics["colourfulness"] == pytest.approx(colourfulness(result),
                                                     rel=SAME_FIGURE_REL)


def test_one_flow_setup_for_metrics_and_temporal_stage() -> None:
    import vidcolor.flow
    import vidcolor.inference.temporal as temporal_stage
    import vidcolor.metrics.temporal as temporal_metrics

    assert not hasattr(temporal_stage, "FLOW_PRESET")
    assert temporal_stage.dis_flow is temporal_metrics.dis_flow is vidcolor.flow.dis_flow
