"""Tests of vidcolor.inference.ensemble: mean of ab, mean of histograms, the gamut check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidcolor.errors import CheckpointError
from vidcolor.inference.ensemble import check_histogram_ensemble, mean_ab, mean_histogram


def test_mean_of_one_model_is_that_model() -> None:
    ab = np.random.default_rng(0).normal(0, 30, (5, 6, 2)).astype(np.float32)
    np.testing.assert_array_equal(mean_ab([ab]), ab)


def test_mean_ab_numpy_and_torch() -> None:
    np.testing.assert_allclose(mean_ab([np.full((2, 2), 10.0), np.full((2, 2), -30.0)]), -10.0)
    out = mean_ab([torch.ones(1, 2, 3, 3), torch.zeros(1, 2, 3, 3), torch.full((1, 2, 3, 3), 2.0)])
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out, torch.ones(1, 2, 3, 3))


def test_mean_ab_does_not_modify_inputs() -> None:
    first, second = np.ones(3), np.full(3, 3.0)
    mean_ab([first, second])
    assert first.tolist() == [1.0, 1.0, 1.0]


def test_mean_histogram_stays_a_distribution() -> None:
    probs = [torch.softmax(torch.randn(2, 7, 4, 4), dim=1) for _ in range(3)]
    out = mean_histogram(probs)
    torch.testing.assert_close(out.sum(1), torch.ones(2, 4, 4))


def test_shape_mismatch_and_empty() -> None:
    with pytest.raises(ValueError, match="different shapes"):
        mean_ab([np.zeros((2, 2)), np.zeros((3, 2))])
    with pytest.raises(ValueError, match="nothing"):
        mean_histogram([])


def test_histogram_ensemble_needs_same_gamut() -> None:
    bins = np.arange(20, dtype=np.float32).reshape(10, 2)
    check_histogram_ensemble(["a", "b"], ["histogram", "histogram"], [bins, bins.copy()])
    with pytest.raises(CheckpointError, match="gamut"):
        check_histogram_ensemble(["a", "b"], ["histogram", "histogram"], [bins, bins[:8]])
    with pytest.raises(CheckpointError, match="ab directly"):
        check_histogram_ensemble(["a", "b"], ["histogram", "ab"], [bins, None])
