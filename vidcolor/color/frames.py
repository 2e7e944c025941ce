"""sRGB <-> CIE Lab of single frames, with numpy and OpenCV (no torch).

Cheap enough for every frame of a video: :func:`lightness` (L of an RGB uint8 frame),
:func:`rgb_to_lab_frame`, :func:`lab_to_rgb_uint8` (L + ab back to RGB, desaturating
out-of-gamut colours so that L stays the input's), :func:`grey_rgb` and :func:`upsample_ab`, and
the L <-> Y conversions (:func:`luminance_of_lightness`, :func:`lightness_of_luminance`). These
run in render's worker processes, which never import torch. The constants and the companding
formulas are :mod:`vidcolor.color`'s, shared with the torch batches
(:mod:`vidcolor.color.tensors`), with which these agree to ~1e-3.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidcolor.color import (
    D65_WHITE,
    LAB_EPSILON,
    LAB_KAPPA,
    LAB_OFFSET,
    LINEAR_LUT,
    XYZ_FROM_RGB,
    Y_WEIGHTS_F32,
    lab_f,
    lab_f_inverse,
    linear_to_srgb,
)

__all__ = [
    "lightness",
    "luminance_of_lightness",
    "lightness_of_luminance",
    "rgb_to_lab_frame",
    "lab_to_rgb_uint8",
    "lab_to_linear",
    "linear_to_lab",
    "grey_rgb",
    "upsample_ab",
]

_XYZ_MATRIX = np.asarray(XYZ_FROM_RGB, dtype=np.float64)
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_MATRIX).astype(np.float32)
#: Rows of XYZ_FROM_RGB divided by the white point: linear RGB -> (X/Xn, Y/Yn, Z/Zn).
_XYZ_NORMALISED = (_XYZ_MATRIX / np.asarray(D65_WHITE)[:, None]).astype(np.float32)
_Y_ROW = _XYZ_NORMALISED[1:2]
_LAB_SLOPE = 116.0 * LAB_KAPPA  # L = 116 (7.787 Y + 16/116) - 16 on the linear branch


def _as_rgb_uint8(rgb: np.ndarray) -> np.ndarray:
    rgb = np.ascontiguousarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB frame, got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise TypeError(f"expected a uint8 RGB frame, got {rgb.dtype}")
    return rgb


def _lightness_of_y(y: np.ndarray) -> np.ndarray:
    """L of a float32 image of relative luminance Y."""
    light = cv2.pow(y, 1.0 / 3.0) * np.float32(116.0) - np.float32(16.0)
    low = y <= LAB_EPSILON
    if low.any():
        light[low] = _LAB_SLOPE * y[low]
    return light


def lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L (0–100, float32) of an RGB uint8 frame ``(H, W, 3)``.

    The formula of :func:`~vidcolor.color.tensors.rgb_to_lab` (agrees to ~1e-4), computed with a
    256-entry linearisation table and OpenCV: about 2.5 ms at 704×528 on one core.

    >>> float(lightness(np.full((1, 1, 3), 255, np.uint8))[0, 0])
    100.0
    """
    linear = cv2.LUT(_as_rgb_uint8(rgb), LINEAR_LUT)
    return _lightness_of_y(cv2.transform(linear, _Y_ROW))


def rgb_to_lab_frame(rgb: np.ndarray) -> np.ndarray:
    """CIE Lab ``(H, W, 3)`` float32 of an RGB uint8 frame (skimage's formula, numpy/OpenCV).

    About 10 ms at 704×528 on one core; agrees with :func:`~vidcolor.color.tensors.rgb_to_lab`
    to ~1e-3.

    >>> lab = rgb_to_lab_frame(np.array([[[255, 0, 0]]], np.uint8))
    >>> [round(float(v)) for v in lab[0, 0]]
    [53, 80, 67]
    """
    linear = cv2.LUT(_as_rgb_uint8(rgb), LINEAR_LUT)
    xyz = cv2.transform(linear, _XYZ_NORMALISED)
    f = cv2.pow(xyz, 1.0 / 3.0)
    low = xyz <= LAB_EPSILON
    if low.any():
        f[low] = np.float32(LAB_KAPPA) * xyz[low] + np.float32(LAB_OFFSET)
    fx, fy, fz = cv2.split(f)
    lab = np.empty_like(xyz)
    lab[..., 0] = np.float32(116.0) * fy - np.float32(16.0)
    lab[..., 1] = np.float32(500.0) * (fx - fy)
    lab[..., 2] = np.float32(200.0) * (fy - fz)
    return lab


def _y_of_lightness(light: np.ndarray) -> np.ndarray:
    return lab_f_inverse((np.asarray(light, np.float32) + np.float32(16.0)) / np.float32(116.0))


def luminance_of_lightness(light: np.ndarray | float) -> np.ndarray:
    """Relative luminance Y (0–1, float32) of CIE L values: the inverse of L = f(Y).

    >>> float(luminance_of_lightness(100.0))
    1.0
    """
    return np.asarray(_y_of_lightness(np.asarray(light, np.float32)), np.float32)


def lightness_of_luminance(y: np.ndarray | float) -> np.ndarray:
    """CIE L (float32) of relative luminance values Y (0–1).

    >>> round(float(lightness_of_luminance(0.18)), 2)
    49.5
    """
    values = np.atleast_1d(np.asarray(y, np.float32))
    return _lightness_of_y(np.ascontiguousarray(values)).reshape(np.shape(y))


def clipped_linear(fy: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray,
                    scale: np.ndarray | np.float32) -> list[np.ndarray]:
    """Per-channel clipped linear RGB of Lab pixels (1-D arrays) with ab scaled by ``scale``.

    ``fy`` = (L + 16) / 116 and ``y`` its Y; skimage's formula (negative Z clamped to 0). Shared
    with the grey models' solver (:mod:`vidcolor.color.grey`).
    """
    x = lab_f_inverse(fy + a * (scale / np.float32(500.0))) * np.float32(D65_WHITE[0])
    z = lab_f_inverse(np.maximum(fy - b * (scale / np.float32(200.0)), np.float32(0.0)))
    z *= np.float32(D65_WHITE[2])
    channels = []
    for channel in range(3):
        m = _RGB_FROM_XYZ[channel]
        linear = m[0] * x + m[1] * y + m[2] * z
        channels.append(np.clip(linear, 0.0, 1.0, out=linear))
    return channels


def _y_of(channels: list[np.ndarray]) -> np.ndarray:
    """Y of linear RGB channels. Clipping sRGB to [0, 1] is clipping linear RGB to [0, 1] (the
    companding is monotone and fixes 0 and 1), so a clipped colour's lightness needs no gamma."""
    weights = Y_WEIGHTS_F32
    return weights[0] * channels[0] + weights[1] * channels[1] + weights[2] * channels[2]


def lab_to_rgb_uint8(light: np.ndarray, ab: np.ndarray | None, *, tolerance: float = 0.5,
                     steps: int = 7) -> np.ndarray:
    """Recombine L ``(H, W)`` with ab ``(H, W, 2)`` (None: grey) into an RGB uint8 frame.

    OpenCV's float Lab→RGB (sRGB, D65; agrees with :func:`~vidcolor.color.tensors.lab_to_rgb` to
    ~0.1 RGB level) clips out-of-gamut colours per channel, which changes their lightness (up to
    ~20 L units for saturated colours at extreme L). Those pixels instead get their ab scaled down
    (bisection, ``steps`` halvings) until the clipped colour's L is within ``tolerance`` of the
    input's: the output's lightness is the input's, the hue is kept, only chroma gives way.

    >>> grey = lab_to_rgb_uint8(np.full((1, 1), 50.0, np.float32), None)
    >>> grey[0, 0].tolist()
    [119, 119, 119]
    """
    lum = np.asarray(light, dtype=np.float32)
    if lum.ndim != 2:
        raise ValueError(f"lightness must be (H, W), got shape {lum.shape}")
    lab = np.empty((*lum.shape, 3), dtype=np.float32)
    lab[..., 0] = lum
    if ab is None:
        lab[..., 1:] = 0.0
    else:
        if np.shape(ab) != (*lum.shape, 2):
            raise ValueError(f"ab must be {(*lum.shape, 2)}, got {np.shape(ab)}")
        lab[..., 1:] = ab
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    if ab is not None:
        # Only a pixel with a clipped channel can have lost lightness: test those alone.
        red, green, blue = cv2.split(rgb)
        clipped = (cv2.min(cv2.min(red, green), blue) <= 0.0) \
            | (cv2.max(cv2.max(red, green), blue) >= 1.0)
        if clipped.any():
            # Recomputed with the exact formula (OpenCV's clipping differs for extreme
            # colours), ab scaled down only where needed.
            pixels = lab[clipped]  # (K, 3)
            lum_k, a, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
            fy = (lum_k + np.float32(16.0)) / np.float32(116.0)
            y = lab_f_inverse(fy)
            y_low = _y_of_lightness(lum_k - tolerance)
            y_high = _y_of_lightness(lum_k + tolerance)
            channels = clipped_linear(fy, y, a, b, np.float32(1.0))
            got = _y_of(channels)
            off = np.nonzero((got < y_low) | (got > y_high))[0]
            if len(off):
                fy_o, y_o, a_o, b_o = fy[off], y[off], a[off], b[off]
                y_low, y_high = y_low[off], y_high[off]
                low = np.zeros(len(off), np.float32)
                high = np.ones(len(off), np.float32)
                for _ in range(steps):
                    middle = (low + high) * np.float32(0.5)
                    got = _y_of(clipped_linear(fy_o, y_o, a_o, b_o, middle))
                    ok = (got >= y_low) & (got <= y_high)
                    low = np.where(ok, middle, low)
                    high = np.where(ok, high, middle)
                for channel, fixed in zip(channels, clipped_linear(fy_o, y_o, a_o, b_o, low),
                                          strict=True):
                    channel[off] = fixed
            rgb[clipped] = linear_to_srgb(np.stack(channels, axis=1))
    return np.rint(rgb * np.float32(255.0)).astype(np.uint8)


def lab_to_linear(lab: np.ndarray) -> np.ndarray:
    """Linear RGB ``(..., 3)`` (clipped to [0, 1]) of Lab colours ``(..., 3)`` (skimage's formula).

    >>> lab_to_linear(np.array([100.0, 0.0, 0.0])).round(3).tolist()
    [1.0, 1.0, 1.0]
    """
    lab = np.asarray(lab, np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx, fz = fy + lab[..., 1] / 500.0, np.maximum(fy - lab[..., 2] / 200.0, 0.0)
    xyz = np.stack([lab_f_inverse(f) for f in (fx, fy, fz)], axis=-1) * np.asarray(D65_WHITE)
    return np.clip(xyz @ np.linalg.inv(_XYZ_MATRIX).T, 0.0, 1.0)


def linear_to_lab(linear: np.ndarray) -> np.ndarray:
    """Lab ``(..., 3)`` of linear RGB colours ``(..., 3)`` in [0, 1] (skimage's formula).

    >>> [round(float(v)) for v in linear_to_lab(np.array([1.0, 0.0, 0.0]))]
    [53, 80, 67]
    """
    xyz = np.asarray(linear, np.float64) @ _XYZ_NORMALISED.astype(np.float64).T
    fx, fy, fz = (lab_f(xyz[..., channel]) for channel in range(3))
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def grey_rgb(light: np.ndarray) -> np.ndarray:
    """The grey RGB uint8 frame of lightness ``light`` (a = b = 0): the all-grey baseline."""
    return lab_to_rgb_uint8(light, None)


def grey_u8(light: np.ndarray) -> np.ndarray:
    """L (0–100) as an 8-bit grey image (``round(2.55 L)``, halves up, clipped to 0–255): what
    optical flow and shot detection look at. Not a display conversion (that is
    :func:`grey_rgb`): L is linear in the 0–255 code here, not sRGB-encoded.

    >>> grey_u8(np.array([0.0, 50.0, 100.0, 101.0], np.float32)).tolist()
    [0, 128, 255, 255]
    """
    return np.clip(np.asarray(light) * 2.55 + 0.5, 0, 255).astype(np.uint8)


def upsample_ab(ab: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bicubic upsampling of ab ``(h, w, C)`` to the frame's ``(H, W)`` (half-pixel centres).

    Matches ``torch.nn.functional.interpolate(mode="bicubic", align_corners=False)`` (same cubic
    kernel, a = -0.75) to ~1e-3 ab units. Works for any channel count.
    """
    ab = np.ascontiguousarray(ab, dtype=np.float32)
    if ab.shape[:2] == tuple(shape):
        return ab
    return cv2.resize(ab, (int(shape[1]), int(shape[0])), interpolation=cv2.INTER_CUBIC)


# --------------------------------------------------------------------------- batches (torch)
