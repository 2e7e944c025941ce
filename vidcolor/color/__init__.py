"""The one colour package: sRGB <-> CIE Lab for single frames (numpy/OpenCV) and batches (torch).

Every conversion in vidcolor goes through here, with one set of constants: scikit-image's
``rgb2lab``/``lab2rgb`` (D65 white, 2° observer, sRGB companding, the same XYZ matrix and the same
piecewise constants), so a network trained on targets made here, the frames render writes and the
figures evaluate prints all agree with skimage.

This module holds those constants and the formulas every flavour shares; the conversions live
in three modules, by what they work on:

* :mod:`vidcolor.color.frames` (numpy + OpenCV, no torch, cheap enough for every frame of a
  video): :func:`~vidcolor.color.frames.lightness` (L of an RGB uint8 frame),
  :func:`~vidcolor.color.frames.rgb_to_lab_frame`, :func:`~vidcolor.color.frames.lab_to_rgb_uint8`
  (L + ab back to RGB, desaturating out-of-gamut colours so that L stays the input's),
  :func:`~vidcolor.color.frames.grey_rgb` and :func:`~vidcolor.color.frames.upsample_ab`. These
  run in render's worker processes, which never import torch.
* :mod:`vidcolor.color.grey` (numpy): the grey models.
  :func:`~vidcolor.color.grey.grey_of_rgb` makes the grey level a black-and-white copy of a
  colour frame has, the way it was made (:data:`~vidcolor.color.grey.GREY_MODELS`): vidcolor's
  own ``luminance`` (the colour's CIE L kept) or the luma an archive's transfer gives
  (``bt601``, ``bt709``); :func:`~vidcolor.color.grey.colour_on_grey` solves colours back onto
  such a grey.
* :mod:`vidcolor.color.tensors` (torch, CPU or CUDA, differentiable):
  :func:`~vidcolor.color.tensors.rgb_to_lab` and :func:`~vidcolor.color.tensors.lab_to_rgb` on
  ``(..., 3, H, W)`` tensors, used by training and by the colour metrics.

The network sees ``L × L_SCALE`` (0–1) and predicts a and b limited to ``±AB_LIMIT``
(SPEC §4): :func:`vidcolor.color.tensors.network_input` is the one place that scaling happens.

References: thesis 5.1.1 (Lab colour space); scikit-image ``skimage/color/colorconv.py``;
ITU-R BT.601 and BT.709 (luma weights).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "L_SCALE",
    "AB_LIMIT",
    "XYZ_FROM_RGB",
    "D65_WHITE",
    "LAB_EPSILON",
    "LAB_KAPPA",
    "LAB_OFFSET",
    "LAB_INV_THRESHOLD",
    "SRGB_THRESHOLD",
    "LINEAR_THRESHOLD",
    "LINEAR_LUT",
    "srgb_to_linear",
    "linear_to_srgb",
    "lab_f",
    "lab_f_inverse",
]

L_SCALE = 0.01
"""The network's input is ``L × L_SCALE`` (L in 0–100, so 0–1)."""
AB_LIMIT = 110.0
"""a and b are limited to [-AB_LIMIT, AB_LIMIT] (quantisation range and the L2 head's scale)."""

# sRGB (linear) -> XYZ, as in skimage.color.colorconv.xyz_from_rgb.
XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
Y_WEIGHTS = np.asarray(XYZ_FROM_RGB[1], np.float64)
"""Luminance Y of linear sRGB: the middle row of :data:`XYZ_FROM_RGB`."""
Y_WEIGHTS_F32 = Y_WEIGHTS.astype(np.float32)
""":data:`Y_WEIGHTS` for float32 products."""
# D65 reference white, 2° observer (skimage xyz_tristimulus_values("D65", "2")).
D65_WHITE = (0.95047, 1.0, 1.08883)

LAB_EPSILON = 0.008856  # threshold of the cube-root branch (skimage's constant)
LAB_KAPPA = 7.787  # slope of the linear branch
LAB_OFFSET = 16.0 / 116.0
LAB_INV_THRESHOLD = 0.2068966  # cbrt(LAB_EPSILON), threshold of the inverse branch
SRGB_THRESHOLD = 0.04045
LINEAR_THRESHOLD = 0.0031308


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """Undo the sRGB companding of values in [0, 1] (float64 in, float64 out).

    >>> [round(float(v), 4) for v in srgb_to_linear(np.array([0.0, 0.5, 1.0]))]
    [0.0, 0.214, 1.0]
    """
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > SRGB_THRESHOLD, ((values + 0.055) / 1.055) ** 2.4, values / 12.92)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Apply the sRGB companding to linear values in [0, 1] (float32 stays float32)."""
    linear = np.asarray(linear)
    if linear.dtype != np.float32:
        linear = linear.astype(np.float64)
    kind = linear.dtype.type
    return np.where(linear <= LINEAR_THRESHOLD, linear * kind(12.92),
                    kind(1.055) * np.power(np.maximum(linear, kind(0.0)), kind(1 / 2.4))
                    - kind(0.055))


def lab_f(t: np.ndarray) -> np.ndarray:
    """The Lab companding function ``f`` (cube root above ε, linear below), numpy."""
    return np.where(t > LAB_EPSILON, np.cbrt(t), LAB_KAPPA * t + LAB_OFFSET)


def lab_f_inverse(t: np.ndarray) -> np.ndarray:
    """The inverse of :func:`lab_f` (cube above its threshold, linear below), numpy float32."""
    return np.where(t > LAB_INV_THRESHOLD, t * t * t,
                    (t - np.float32(LAB_OFFSET)) / np.float32(LAB_KAPPA))


#: sRGB code value (0-255) -> linear value, the table every frame conversion uses.
LINEAR_LUT = srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
