"""sRGB <-> CIE Lab of torch batches ``(..., 3, H, W)`` (CPU or CUDA, differentiable).

:func:`rgb_to_lab` and :func:`lab_to_rgb` match ``skimage.color.rgb2lab``/``lab2rgb`` with
:mod:`vidcolor.color`'s constants; training and the colour metrics use them.
:func:`network_input` makes the network's input batch: ``L × L_SCALE``, the one place that
scaling happens. Render's worker processes never import this module (it imports torch).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from vidcolor.color import (
    D65_WHITE,
    L_SCALE,
    LAB_EPSILON,
    LAB_INV_THRESHOLD,
    LAB_KAPPA,
    LAB_OFFSET,
    LINEAR_THRESHOLD,
    SRGB_THRESHOLD,
    XYZ_FROM_RGB,
)

__all__ = [
    "network_input",
    "rgb_to_lab",
    "lab_to_rgb",
    "rgb_to_xyz",
    "xyz_to_lab",
    "lab_to_xyz",
    "xyz_to_rgb",
]

def network_input(lightness_frames: list[np.ndarray] | np.ndarray, size: int | tuple[int, int],
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """The network's input batch ``(N, 1, h, w)``: each frame's L resized to ``size``, × L_SCALE.

    Args:
        lightness_frames: (H, W) L arrays (0–100); sizes may differ.
        size: the network's input side (square) or ``(h, w)``; multiples of 8.
        device: where the batch goes.
    """
    height, width = (size, size) if isinstance(size, int) else size
    small = [frame if frame.shape == (height, width) else
             cv2.resize(np.asarray(frame, np.float32), (width, height),
                        interpolation=cv2.INTER_AREA) for frame in lightness_frames]
    batch = torch.from_numpy(np.stack(small).astype(np.float32)[:, None])
    return batch.to(device) * L_SCALE


def _working(tensor: torch.Tensor) -> tuple[torch.Tensor, torch.dtype]:
    """Return ``tensor`` as a float tensor to compute in, and the dtype to return."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dim() < 3 or tensor.shape[-3] != 3:
        raise ValueError(
            f"expected a tensor of shape (..., 3, H, W) with 3 channels, got {tuple(tensor.shape)}"
        )
    if tensor.dtype == torch.uint8:
        return tensor.to(torch.float32) / 255.0, torch.float32
    if not tensor.is_floating_point():
        raise TypeError(f"expected a floating-point or uint8 tensor, got {tensor.dtype}")
    if tensor.dtype in (torch.float16, torch.bfloat16):
        return tensor.to(torch.float32), tensor.dtype
    return tensor, tensor.dtype


def _mix(tensor: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 matrix to the channel axis (-3) of ``tensor``."""
    return torch.einsum("ij,...jhw->...ihw", matrix, tensor)


def _constant(values: tuple, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(values, dtype=like.dtype, device=like.device)


def rgb_to_xyz(rgb: torch.Tensor) -> torch.Tensor:
    """Convert sRGB in [0, 1] to CIE XYZ (D65), undoing the sRGB companding.

    Args:
        rgb: Tensor of shape ``(..., 3, H, W)``, float in [0, 1].

    Returns:
        XYZ tensor of the same shape and (floating) dtype.
    """
    work, dtype = _working(rgb)
    linear = torch.where(work > SRGB_THRESHOLD,
                         ((work.clamp_min(SRGB_THRESHOLD) + 0.055) / 1.055) ** 2.4,
                         work / 12.92)
    return _mix(linear, _constant(XYZ_FROM_RGB, work)).to(dtype)


def xyz_to_lab(xyz: torch.Tensor) -> torch.Tensor:
    """Convert CIE XYZ (D65) to CIE Lab.

    Args:
        xyz: Tensor of shape ``(..., 3, H, W)``.

    Returns:
        Lab tensor, L in [0, 100], a and b roughly in [-128, 127].
    """
    work, dtype = _working(xyz)
    white = _constant(D65_WHITE, work).view(3, 1, 1)
    scaled = work / white
    # cube root of the clamped value avoids NaN gradients on the unused branch
    f = torch.where(scaled > LAB_EPSILON, scaled.clamp_min(LAB_EPSILON) ** (1.0 / 3.0),
                    LAB_KAPPA * scaled + LAB_OFFSET)
    fx, fy, fz = f.unbind(dim=-3)
    lab = torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-3)
    return lab.to(dtype)


def lab_to_xyz(lab: torch.Tensor) -> torch.Tensor:
    """Convert CIE Lab to CIE XYZ (D65); negative Z is clamped to 0 as skimage does.

    Args:
        lab: Tensor of shape ``(..., 3, H, W)``.

    Returns:
        XYZ tensor of the same shape and dtype.
    """
    work, dtype = _working(lab)
    light, a, b = work.unbind(dim=-3)
    fy = (light + 16.0) / 116.0
    fx = a / 500.0 + fy
    fz = (fy - b / 200.0).clamp_min(0.0)
    f = torch.stack((fx, fy, fz), dim=-3)
    xyz = torch.where(f > LAB_INV_THRESHOLD, f**3, (f - LAB_OFFSET) / LAB_KAPPA)
    white = _constant(D65_WHITE, work).view(3, 1, 1)
    return (xyz * white).to(dtype)


def xyz_to_rgb(xyz: torch.Tensor) -> torch.Tensor:
    """Convert CIE XYZ (D65) to sRGB, applying the companding and clipping to [0, 1].

    Args:
        xyz: Tensor of shape ``(..., 3, H, W)``.

    Returns:
        sRGB tensor in [0, 1], same shape and dtype.
    """
    work, dtype = _working(xyz)
    matrix = torch.linalg.inv(torch.tensor(XYZ_FROM_RGB, dtype=torch.float64))
    linear = _mix(work, matrix.to(dtype=work.dtype, device=work.device))
    rgb = torch.where(linear > LINEAR_THRESHOLD,
                      1.055 * linear.clamp_min(LINEAR_THRESHOLD) ** (1.0 / 2.4) - 0.055,
                      12.92 * linear)
    return rgb.clamp(0.0, 1.0).to(dtype)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """Convert sRGB to CIE Lab (D65), matching ``skimage.color.rgb2lab``.

    Args:
        rgb: Tensor of shape ``(N, 3, H, W)`` (or any ``(..., 3, H, W)``), float in [0, 1] or
            uint8 in [0, 255].

    Returns:
        Lab tensor of the same shape: channel 0 is L in [0, 100], channels 1 and 2 are a and b.
        The dtype is the input's (float32 for uint8 input).

    Raises:
        TypeError: ``rgb`` is not a float or uint8 tensor.
        ValueError: the channel axis (-3) does not have 3 entries.

    Example:
        >>> import torch
        >>> lab = rgb_to_lab(torch.ones(1, 3, 2, 2))
        >>> [round(v) for v in lab[0, :, 0, 0].tolist()]  # white (ab ~0.005 off 0, as in skimage)
        [100, 0, 0]
    """
    return xyz_to_lab(rgb_to_xyz(rgb))


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Convert CIE Lab (D65) to sRGB in [0, 1], matching ``skimage.color.lab2rgb``.

    Out-of-gamut colours are clipped per channel to [0, 1] (after clamping negative Z to 0,
    as skimage does).

    Args:
        lab: Tensor of shape ``(N, 3, H, W)`` (or any ``(..., 3, H, W)``), float.

    Returns:
        sRGB tensor in [0, 1], same shape and dtype.

    Raises:
        TypeError: ``lab`` is not a floating-point tensor.
        ValueError: the channel axis (-3) does not have 3 entries.
    """
    if isinstance(lab, torch.Tensor) and lab.dtype == torch.uint8:
        raise TypeError("lab_to_rgb expects a floating-point Lab tensor, got uint8")
    return xyz_to_rgb(lab_to_xyz(lab))
