"""Tests of vidcolor.quantize: gamut bins, soft encoding, prior, rebalancing, decoding."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vidcolor.color.tensors import rgb_to_lab
from vidcolor.quantize import (
    DEFAULT_TEMPERATURE,
    GRID,
    PriorAccumulator,
    ab_gamut,
    decode_logits,
    decode_probs,
    nearest_bin,
    parse_decode,
    rebalance_weights,
    soft_encode,
)

BINS = ab_gamut()
BINS_T = torch.from_numpy(BINS)
Q = len(BINS)

rgb_batches = arrays(
    np.float32, (1, 3, 3, 4), elements=st.floats(0.0, 1.0, allow_nan=False, width=32)
)


def _ab_of(rgb: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(rgb))[:, 1:]


def test_gamut_size_and_convention() -> None:
    assert GRID == 10
    assert BINS.shape == (261, 2)
    assert BINS.dtype == np.float32
    assert np.all(BINS % GRID == 0)
    assert np.abs(BINS).max() <= 110
    assert len({tuple(b) for b in BINS.tolist()}) == Q
    order = np.lexsort((BINS[:, 1], BINS[:, 0]))
    assert np.array_equal(order, np.arange(Q))
    assert [0.0, 0.0] in BINS.tolist()


def test_gamut_contains_every_reached_bin() -> None:
    # The cube's corners, edges and a coarse lattice all land on gamut bins.
    levels = np.linspace(0.0, 1.0, 18, dtype=np.float32)
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing="ij")).reshape(1, 3, -1, 1)
    ab = _ab_of(rgb).reshape(2, -1).T.numpy()
    grid_points = np.round(ab / GRID) * GRID
    assert {tuple(p) for p in grid_points.tolist()} <= {tuple(b) for b in BINS.tolist()}


def test_gamut_is_cached_and_fast() -> None:
    start = time.perf_counter()
    again = ab_gamut()
    assert time.perf_counter() - start < 0.1
    assert np.array_equal(again, BINS)
    again[0] = 999  # callers get a copy
    assert ab_gamut()[0, 0] != 999


def test_gamut_other_grid_and_bad_grid() -> None:
    coarse = ab_gamut(20)
    assert 0 < len(coarse) < Q and np.all(coarse % 20 == 0)
    for bad in (0, -10, 2.5, True):
        with pytest.raises(ValueError, match="grid"):
            ab_gamut(bad)


@settings(max_examples=40, deadline=None)
@given(rgb_batches)
def test_soft_encoding_sums_to_one_over_five_bins(rgb: np.ndarray) -> None:
    encoded = soft_encode(_ab_of(rgb), BINS_T)
    assert encoded.shape == (1, Q, 3, 4)
    assert torch.allclose(encoded.sum(dim=1), torch.ones(1, 3, 4), atol=1e-5)
    assert ((encoded > 0).sum(dim=1) <= 5).all()
    assert (encoded >= 0).all()


@settings(max_examples=40, deadline=None)
@given(rgb_batches)
def test_expectation_of_soft_encoding_recovers_in_gamut_colour(rgb: np.ndarray) -> None:
    ab = _ab_of(rgb).double()
    decoded = decode_probs(soft_encode(ab, BINS), BINS)
    assert decoded.dtype == torch.float64
    assert (decoded - ab).norm(dim=1).max() < 5.0


def test_soft_encoding_of_a_bin_centre_is_symmetric() -> None:
    ab = torch.tensor([20.0, -30.0]).view(1, 2, 1, 1)
    encoded = soft_encode(ab, BINS)[0, :, 0, 0]
    top = encoded.topk(5)
    centre = BINS.tolist().index([20.0, -30.0])
    assert top.indices[0] == centre
    ratio = float(np.exp(-(10.0**2) / (2 * 5.0**2)))  # neighbours at distance 10
    assert torch.allclose(
        top.values, torch.tensor([1, ratio, ratio, ratio, ratio]) / (1 + 4 * ratio)
    )


def test_soft_encoding_far_outside_gamut_is_finite() -> None:
    ab = torch.tensor([1e4, -1e4]).view(1, 2, 1, 1)
    encoded = soft_encode(ab, BINS)
    assert torch.isfinite(encoded).all()
    assert torch.allclose(encoded.sum(), torch.tensor(1.0))


def test_soft_encode_big_batch_matches_cdist() -> None:
    torch.manual_seed(0)
    ab = torch.randn(48, 2, 56, 56) * 40  # 150k pixels: more than one chunk
    start = time.perf_counter()
    encoded = soft_encode(ab, BINS_T)
    elapsed = time.perf_counter() - start
    assert elapsed < 10.0
    points = ab.permute(0, 2, 3, 1).reshape(-1, 2)[::997]
    dist = torch.cdist(points.double(), BINS_T.double())
    expected_idx = dist.topk(5, largest=False).indices
    flat = encoded.permute(0, 2, 3, 1).reshape(-1, Q)[::997]
    got_idx = flat.topk(5).indices
    assert torch.equal(got_idx.sort(dim=1).values, expected_idx.sort(dim=1).values)


def test_soft_encode_argument_checks() -> None:
    ab = torch.zeros(1, 2, 2, 2)
    with pytest.raises(ValueError, match="neighbours"):
        soft_encode(ab, BINS, neighbours=0)
    with pytest.raises(ValueError, match="sigma"):
        soft_encode(ab, BINS, sigma=0.0)
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        soft_encode(torch.zeros(2, 2, 2), BINS)
    with pytest.raises(ValueError, match=r"\(Q, 2\)"):
        soft_encode(ab, np.zeros((3, 3)))


def test_nearest_bin_matches_rounding() -> None:
    ab = torch.tensor([[3.0, -4.0], [14.9, 26.0], [-86.0, 81.0]]).T.reshape(1, 2, 3, 1)
    index = nearest_bin(ab, BINS)
    assert index.shape == (1, 3, 1) and index.dtype == torch.long
    assert BINS[index.view(-1).numpy()].tolist() == [[0, 0], [10, 30], [-90, 80]]


def test_prior_accumulator_counts_nearest_bins() -> None:
    acc = PriorAccumulator(BINS)
    zero = BINS.tolist().index([0.0, 0.0])
    red = BINS.tolist().index([80.0, 70.0])
    ab = torch.zeros(2, 2, 2, 2)
    ab[0, 0, 0, 0], ab[0, 1, 0, 0] = 81.0, 68.0
    acc.add(ab)
    acc.add(torch.zeros(1, 2, 2, 2), mask=torch.tensor([[[True, False], [False, False]]]))
    assert acc.total == 9
    prior = acc.prior
    assert prior.shape == (Q,) and np.isclose(prior.sum(), 1.0)
    assert np.isclose(prior[zero], 8 / 9) and np.isclose(prior[red], 1 / 9)
    other = PriorAccumulator(BINS)
    other.add(torch.zeros(1, 2, 1, 1))
    acc.merge(other)
    assert acc.total == 10


def test_empty_prior_raises() -> None:
    with pytest.raises(ValueError, match="no pixels"):
        _ = PriorAccumulator(BINS).prior


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, 12, elements=st.floats(0.0, 1e6, allow_nan=False)).filter(
        lambda p: p.sum() > 0
    ),
    st.floats(0.01, 1.0),
)
def test_rebalance_weights_invariants(prior: np.ndarray, lam: float) -> None:
    weights = rebalance_weights(prior, lam)
    p = prior / prior.sum()
    assert np.all(np.isfinite(weights)) and np.all(weights > 0)
    assert np.isclose((p * weights).sum(), 1.0)
    # rarer classes never get smaller weights
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(weights[order]) <= 1e-9 * weights.max())


def test_rebalance_weights_known_values() -> None:
    weights = rebalance_weights(np.array([0.75, 0.25, 0.0, 0.0]), lam=0.5)
    raw = 1 / (0.5 * np.array([0.75, 0.25, 0.0, 0.0]) + 0.5 / 4)
    assert np.allclose(weights, raw / (raw[0] * 0.75 + raw[1] * 0.25))
    assert np.allclose(rebalance_weights(np.array([3.0, 1.0]), lam=1.0), 1.0)
    for bad_prior in (np.array([-1.0, 2.0]), np.zeros(3), np.array([[1.0]])):
        with pytest.raises(ValueError):
            rebalance_weights(bad_prior)
    with pytest.raises(ValueError, match="lam"):
        rebalance_weights(np.ones(3), lam=0.0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, Q - 1), min_size=1, max_size=6))
def test_mode_of_one_hot_returns_the_bin(indices: list[int]) -> None:
    index = torch.tensor(indices)
    probs = torch.nn.functional.one_hot(index, Q).float().T.reshape(1, Q, 1, -1)
    expected = BINS_T[index].T.reshape(1, 2, 1, -1)
    assert torch.equal(decode_probs(probs, BINS, "mode"), expected)
    assert torch.allclose(decode_probs(probs, BINS, "expectation"), expected)
    assert torch.allclose(decode_probs(probs, BINS, "annealed", 0.38), expected)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_annealed_approaches_mode_as_temperature_falls(seed: int) -> None:
    logits = torch.randn(1, Q, 2, 3, generator=torch.Generator().manual_seed(seed)) * 3
    # a clear winner per pixel (ties have no limit mode)
    logits.scatter_add_(1, logits.argmax(dim=1, keepdim=True), torch.ones(1, 1, 2, 3))
    probs = torch.softmax(logits, dim=1)
    mode = decode_probs(probs, BINS, "mode")
    assert torch.allclose(decode_probs(probs, BINS, "annealed", 1e-3), mode, atol=1e-3)
    assert torch.allclose(
        decode_probs(probs, BINS, "annealed", 1.0), decode_probs(probs, BINS), atol=1e-3
    )
    # logits give the same answers as their softmax
    for method, temperature in (("expectation", 1.0), ("annealed", 0.38), ("mode", 1.0)):
        assert torch.allclose(
            decode_logits(logits, BINS, method, temperature),
            decode_probs(probs, BINS, method, temperature),
            atol=1e-3,
        )


def test_annealed_handles_zero_probabilities() -> None:
    probs = torch.zeros(1, Q, 1, 1)
    probs[0, 3] = 0.7
    probs[0, 5] = 0.3
    ab = decode_probs(probs, BINS, "annealed", 0.38)
    assert torch.isfinite(ab).all()
    w3, w5 = 0.7 ** (1 / 0.38), 0.3 ** (1 / 0.38)
    expected = (w3 * BINS_T[3] + w5 * BINS_T[5]) / (w3 + w5)
    assert torch.allclose(ab[0, :, 0, 0], expected, atol=1e-4)


def test_decode_argument_checks() -> None:
    probs = torch.full((1, Q, 1, 1), 1.0 / Q)
    with pytest.raises(ValueError, match="decode method"):
        decode_probs(probs, BINS, "median")
    with pytest.raises(ValueError, match="temperature"):
        decode_probs(probs, BINS, "annealed", 0.0)
    with pytest.raises(ValueError, match="Q=261"):
        decode_logits(torch.zeros(1, 10, 1, 1), BINS)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("expectation", ("expectation", DEFAULT_TEMPERATURE)),
        ("mode", ("mode", DEFAULT_TEMPERATURE)),
        ("annealed", ("annealed", 0.38)),
        ("annealed:0.3", ("annealed", 0.3)),
        (" Annealed:1e-1 ", ("annealed", 0.1)),
    ],
)
def test_parse_decode(value: str, expected: tuple[str, float]) -> None:
    assert parse_decode(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("median", "unknown decode method"),
        ("", "unknown decode method"),
        ("mode:0.3", "takes no temperature"),
        ("annealed:", "not a number"),
        ("annealed:hot", "not a number"),
        ("annealed:0", "positive"),
        ("annealed:-1", "positive"),
        ("annealed:inf", "positive"),
        ("annealed:nan", "positive"),
    ],
)
def test_parse_decode_rejects(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_decode(value)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    ab = torch.randn(2, 2, 8, 8, generator=torch.Generator().manual_seed(2)) * 40
    encoded = soft_encode(ab.cuda(), BINS)
    assert encoded.is_cuda
    assert torch.allclose(encoded.cpu(), soft_encode(ab, BINS), atol=1e-5)
    # Two devices round the distances differently: a pixel may get another bin only where the
    # two bins are equally near within float32 rounding (random ab: practically never)
    on_gpu, on_cpu = nearest_bin(ab.cuda(), BINS).cpu(), nearest_bin(ab, BINS)
    points = ab.permute(0, 2, 3, 1).double()
    bins = torch.as_tensor(BINS).double()
    near_gpu = (points - bins[on_gpu]).norm(dim=-1)
    near_cpu = (points - bins[on_cpu]).norm(dim=-1)
    assert (on_gpu != on_cpu).float().mean() <= 0.01
    assert torch.allclose(near_gpu, near_cpu, rtol=0, atol=1e-3)
    decoded = decode_probs(encoded, BINS, "annealed", 0.38)
    assert decoded.is_cuda
    assert torch.allclose(decoded.cpu(), decode_probs(soft_encode(ab, BINS), BINS, "annealed"))
    acc = PriorAccumulator(BINS)
    acc.add(ab.cuda())
    assert acc.total == 128


@pytest.mark.slow
def test_gamut_matches_skimage_over_all_srgb_colours() -> None:
    from skimage.color import rgb2lab

    levels = np.arange(256, dtype=np.uint8)
    green, blue = np.meshgrid(levels, levels, indexing="ij")
    reached: set[tuple[int, int]] = set()
    for red in range(256):
        lab = rgb2lab(np.stack([np.full_like(green, red), green, blue], axis=-1))
        indices = np.unique(np.round(lab[..., 1:] / GRID).astype(int).reshape(-1, 2), axis=0)
        reached.update(map(tuple, indices.tolist()))
    assert {tuple(p) for p in (BINS / GRID).astype(int).tolist()} == reached
