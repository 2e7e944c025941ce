"""Tests of vidcolor.metrics on small hand-made images."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage.color import rgb2lab

from vidcolor.metrics import (
    ab_auc,
    ab_rmse,
    alpha_beta,
    consistency_ratio,
    cumulative_error_curve,
    per_image_ab_errors,
    perceivable_artifacts,
    psnr,
)
from vidcolor.quantize import ab_gamut

images = arrays(np.uint8, (5, 6, 3), elements=st.integers(0, 255))


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
