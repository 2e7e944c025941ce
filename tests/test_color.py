"""Tests of vidcolor.color: RGB <-> Lab against scikit-image."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage.color import lab2rgb, rgb2lab

from vidcolor.color.tensors import lab_to_rgb, rgb_to_lab

unit_floats = st.floats(0.0, 1.0, allow_nan=False, width=32)
rgb_arrays = arrays(np.float32, (4, 5, 3), elements=unit_floats)


def _to_tensor(image: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(dtype)


def _to_image(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].double().numpy().transpose(1, 2, 0)


@settings(max_examples=60, deadline=None)
@given(rgb_arrays, st.sampled_from([torch.float32, torch.float64]))
def test_rgb_to_lab_matches_skimage(image: np.ndarray, dtype: torch.dtype) -> None:
    lab = rgb_to_lab(_to_tensor(image, dtype))
    assert lab.dtype == dtype
    delta_e = np.linalg.norm(_to_image(lab) - rgb2lab(image.astype(np.float64)), axis=-1)
    assert delta_e.max() < 0.5


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        (3, 4, 3),
        elements=st.floats(-110.0, 110.0, allow_nan=False),
    )
)
def test_lab_to_rgb_matches_skimage(lab_ab: np.ndarray) -> None:
    lab = lab_ab.copy()
    lab[..., 0] = (lab_ab[..., 0] + 110.0) / 2.2  # L in [0, 100]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skimage warns about out-of-gamut (clipped) colours
        expected = lab2rgb(lab)
    got = _to_image(lab_to_rgb(_to_tensor(lab, torch.float64)))
    assert got.min() >= 0.0 and got.max() <= 1.0
    np.testing.assert_allclose(got, expected, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(rgb_arrays)
def test_round_trip_float32(image: np.ndarray) -> None:
    rgb = _to_tensor(image, torch.float32)
    back = lab_to_rgb(rgb_to_lab(rgb))
    assert torch.allclose(back, rgb, atol=2e-4)


def test_known_values() -> None:
    rgb = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]).T.reshape(1, 3, 3, 1)
    lab = rgb_to_lab(rgb)[0, :, :, 0].T
    expected = torch.tensor([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0], [53.24, 80.09, 67.20]])
    assert torch.allclose(lab, expected, atol=0.02)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_keeps_dtype(dtype: torch.dtype) -> None:
    rgb = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    lab = rgb_to_lab(rgb.to(dtype))
    assert lab.dtype == dtype
    assert torch.allclose(lab.float(), rgb_to_lab(rgb), atol=1.0)
    assert lab_to_rgb(lab).dtype == dtype


def test_uint8_input_and_unbatched_shape() -> None:
    rgb = torch.randint(0, 256, (3, 2, 2), dtype=torch.uint8)
    lab = rgb_to_lab(rgb)
    assert lab.shape == (3, 2, 2) and lab.dtype == torch.float32
    assert torch.allclose(lab, rgb_to_lab(rgb.float() / 255.0))


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="3 channels"):
        rgb_to_lab(torch.zeros(1, 4, 2, 2))
    with pytest.raises(TypeError):
        rgb_to_lab(torch.zeros(1, 3, 2, 2, dtype=torch.int32))
    with pytest.raises(TypeError):
        rgb_to_lab(np.zeros((1, 3, 2, 2)))


def test_gradients_are_finite() -> None:
    rgb = torch.tensor([0.0, 0.02, 1.0]).view(1, 3, 1, 1).repeat(1, 1, 2, 2).requires_grad_()
    lab_to_rgb(rgb_to_lab(rgb)).sum().backward()
    assert torch.isfinite(rgb.grad).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    rgb = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    lab = rgb_to_lab(rgb.cuda())
    assert lab.is_cuda
    assert torch.allclose(lab.cpu(), rgb_to_lab(rgb), atol=1e-3)
    assert torch.allclose(lab_to_rgb(lab).cpu(), lab_to_rgb(rgb_to_lab(rgb)), atol=1e-4)
