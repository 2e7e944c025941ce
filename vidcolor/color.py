"""The one colour module: sRGB <-> CIE Lab for single frames (numpy/OpenCV) and batches (torch).

Every conversion in vidcolor goes through here, with one set of constants: scikit-image's
``rgb2lab``/``lab2rgb`` (D65 white, 2° observer, sRGB companding, the same XYZ matrix and the same
piecewise constants), so a network trained on targets made here, the frames render writes and the
figures evaluate prints all agree with skimage.

Two flavours of the same maths:

* **Frames** (numpy + OpenCV, no torch, cheap enough for every frame of a video):
  :func:`lightness` (L of an RGB uint8 frame), :func:`rgb_to_lab_frame`, :func:`lab_to_rgb_uint8`
  (L + ab back to RGB, desaturating out-of-gamut colours so that L stays the input's),
  :func:`grey_rgb` and :func:`upsample_ab`. These run in render's worker processes, which never
  import torch.
* **Grey models** (numpy): :func:`grey_of_rgb` makes the grey level a black-and-white copy of a
  colour frame has, the way it was made (:data:`GREY_MODELS`): vidcolor's own ``luminance``
  (the colour's CIE L kept) or the luma an archive's transfer gives (``bt601``, ``bt709``).
* **Batches** (torch, CPU or CUDA, differentiable): :func:`rgb_to_lab` and :func:`lab_to_rgb` on
  ``(..., 3, H, W)`` tensors, used by training and by the colour metrics.

The network sees ``L × L_SCALE`` (0–1) and predicts a and b limited to ``±AB_LIMIT``
(SPEC §4): :func:`network_input` is the one place that scaling happens.

References: thesis 5.1.1 (Lab colour space); scikit-image ``skimage/color/colorconv.py``;
ITU-R BT.601 and BT.709 (luma weights).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:  # torch is imported lazily: worker processes never need it
    import torch

__all__ = [
    "L_SCALE",
    "AB_LIMIT",
    "XYZ_FROM_RGB",
    "D65_WHITE",
    "srgb_to_linear",
    "linear_to_srgb",
    "lab_f",
    "lightness",
    "GREY_MODELS",
    "check_grey_model",
    "grey_of_rgb",
    "luminance_of_lightness",
    "lightness_of_luminance",
    "rgb_to_lab_frame",
    "lab_to_rgb_uint8",
    "lab_to_linear",
    "linear_to_lab",
    "grey_rgb",
    "upsample_ab",
    "network_input",
    "rgb_to_lab",
    "lab_to_rgb",
    "rgb_to_xyz",
    "xyz_to_lab",
    "lab_to_xyz",
    "xyz_to_rgb",
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
# D65 reference white, 2° observer (skimage xyz_tristimulus_values("D65", "2")).
D65_WHITE = (0.95047, 1.0, 1.08883)

_LAB_EPSILON = 0.008856  # threshold of the cube-root branch (skimage's constant)
_LAB_KAPPA = 7.787  # slope of the linear branch
_LAB_OFFSET = 16.0 / 116.0
_LAB_INV_THRESHOLD = 0.2068966  # cbrt(_LAB_EPSILON), threshold of the inverse branch
_SRGB_THRESHOLD = 0.04045
_LINEAR_THRESHOLD = 0.0031308


# --------------------------------------------------------------------------- shared formulas


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """Undo the sRGB companding of values in [0, 1] (float64 in, float64 out).

    >>> [round(float(v), 4) for v in srgb_to_linear(np.array([0.0, 0.5, 1.0]))]
    [0.0, 0.214, 1.0]
    """
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > _SRGB_THRESHOLD, ((values + 0.055) / 1.055) ** 2.4, values / 12.92)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Apply the sRGB companding to linear values in [0, 1] (float32 stays float32)."""
    linear = np.asarray(linear)
    if linear.dtype != np.float32:
        linear = linear.astype(np.float64)
    kind = linear.dtype.type
    return np.where(linear <= _LINEAR_THRESHOLD, linear * kind(12.92),
                    kind(1.055) * np.power(np.maximum(linear, kind(0.0)), kind(1 / 2.4))
                    - kind(0.055))


def lab_f(t: np.ndarray) -> np.ndarray:
    """The Lab companding function ``f`` (cube root above ε, linear below), numpy."""
    return np.where(t > _LAB_EPSILON, np.cbrt(t), _LAB_KAPPA * t + _LAB_OFFSET)


def _lab_f_inverse(t: np.ndarray) -> np.ndarray:
    return np.where(t > _LAB_INV_THRESHOLD, t * t * t,
                    (t - np.float32(_LAB_OFFSET)) / np.float32(_LAB_KAPPA))


#: sRGB code value (0-255) -> linear value, the table every frame conversion uses.
_LINEAR_LUT = srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
_XYZ_MATRIX = np.asarray(XYZ_FROM_RGB, dtype=np.float64)
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_MATRIX).astype(np.float32)
#: Rows of XYZ_FROM_RGB divided by the white point: linear RGB -> (X/Xn, Y/Yn, Z/Zn).
_XYZ_NORMALISED = (_XYZ_MATRIX / np.asarray(D65_WHITE)[:, None]).astype(np.float32)
_Y_ROW = _XYZ_NORMALISED[1:2]
_LAB_SLOPE = 116.0 * _LAB_KAPPA  # L = 116 (7.787 Y + 16/116) - 16 on the linear branch


# --------------------------------------------------------------------------- frames (numpy)


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
    low = y <= _LAB_EPSILON
    if low.any():
        light[low] = _LAB_SLOPE * y[low]
    return light


def lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L (0–100, float32) of an RGB uint8 frame ``(H, W, 3)``.

    The formula of :func:`rgb_to_lab` (agrees to ~1e-4), computed with a 256-entry linearisation
    table and OpenCV: about 2.5 ms at 704×528 on one core.

    >>> float(lightness(np.full((1, 1, 3), 255, np.uint8))[0, 0])
    100.0
    """
    linear = cv2.LUT(_as_rgb_uint8(rgb), _LINEAR_LUT)
    return _lightness_of_y(cv2.transform(linear, _Y_ROW))


GREY_MODELS: tuple[str, ...] = ("luminance", "bt601", "bt709")
"""How a black-and-white copy turns colour into grey (:func:`grey_of_rgb`); the first is
vidcolor's own and the default everywhere."""

# Linear luminance at which the encoded grey level steps from g to g + 1 (rounding thresholds).
_GREY_STEPS = srgb_to_linear((np.arange(255, dtype=np.float64) + 0.5) / 255.0).astype(np.float32)
_LUMINANCE_WEIGHTS = np.asarray(XYZ_FROM_RGB[1], dtype=np.float32)
#: Luma weights of R', G', B' (the encoded, gamma values), per grey model.
_LUMA_WEIGHTS = {
    "bt601": np.asarray((0.299, 0.587, 0.114), dtype=np.float64),
    "bt709": np.asarray((0.2126, 0.7152, 0.0722), dtype=np.float64),
}


def check_grey_model(model: str) -> str:
    """Return ``model`` if it is one of :data:`GREY_MODELS`.

    Raises:
        ValueError: an unknown model; the message names the choices.

    >>> check_grey_model("bt601")
    'bt601'
    """
    if model not in GREY_MODELS:
        raise ValueError(f"unknown grey model {model!r}; choose one of {', '.join(GREY_MODELS)}")
    return model


def grey_of_rgb(rgb: np.ndarray, model: str) -> np.ndarray:
    """The grey level (uint8) a black-and-white copy of ``rgb`` made with ``model`` has.

    * ``luminance``: the relative luminance Y of the linearised sRGB values (this module's
      constants), encoded back with the sRGB curve and rounded, so the grey has the colour's
      CIE L up to rounding. vidcolor's own twins, and what render assumes.
    * ``bt601``: luma Y' = 0.299 R' + 0.587 G' + 0.114 B' on the encoded values, full range:
      ``ffmpeg -vf format=gray``, OpenCV ``COLOR_RGB2GRAY``, most telecine and archive copies.
    * ``bt709``: luma Y' = 0.2126 R' + 0.7152 G' + 0.0722 B' on the encoded values.

    Luma is rounded to nearest (halves up) and clipped to 0–255. All models leave greys
    (R = G = B) as they are; they differ on colours: luma weighs the encoded values, so a
    saturated colour's luma is not its lightness.

    Args:
        rgb: ``(H, W, 3)`` (or any ``(..., 3)``) uint8 sRGB values.
        model: one of :data:`GREY_MODELS`.

    Returns:
        ``(H, W)`` (``(...)``) uint8 grey levels.

    Raises:
        ValueError: an unknown model, or the last axis is not 3 channels.
        TypeError: ``rgb`` is not uint8.

    Example:
        >>> blue = np.array([[[0, 0, 255]]], np.uint8)
        >>> [int(grey_of_rgb(blue, model)[0, 0]) for model in GREY_MODELS]
        [76, 29, 18]
        >>> int(grey_of_rgb(np.array([255, 0, 0], np.uint8), "bt601"))
        76
    """
    check_grey_model(model)
    rgb = np.asarray(rgb)
    if rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"expected (..., 3) RGB values, got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise TypeError(f"expected uint8 RGB values, got {rgb.dtype}")
    if model == "luminance":
        luminance = _LINEAR_LUT[rgb] @ _LUMINANCE_WEIGHTS
        return np.searchsorted(_GREY_STEPS, luminance).astype(np.uint8)
    luma = np.floor(rgb @ _LUMA_WEIGHTS[model] + 0.5)
    return np.clip(luma, 0, 255).astype(np.uint8)


def rgb_to_lab_frame(rgb: np.ndarray) -> np.ndarray:
    """CIE Lab ``(H, W, 3)`` float32 of an RGB uint8 frame (skimage's formula, numpy/OpenCV).

    About 10 ms at 704×528 on one core; agrees with :func:`rgb_to_lab` to ~1e-3.

    >>> lab = rgb_to_lab_frame(np.array([[[255, 0, 0]]], np.uint8))
    >>> [round(float(v)) for v in lab[0, 0]]
    [53, 80, 67]
    """
    linear = cv2.LUT(_as_rgb_uint8(rgb), _LINEAR_LUT)
    xyz = cv2.transform(linear, _XYZ_NORMALISED)
    f = cv2.pow(xyz, 1.0 / 3.0)
    low = xyz <= _LAB_EPSILON
    if low.any():
        f[low] = np.float32(_LAB_KAPPA) * xyz[low] + np.float32(_LAB_OFFSET)
    fx, fy, fz = cv2.split(f)
    lab = np.empty_like(xyz)
    lab[..., 0] = np.float32(116.0) * fy - np.float32(16.0)
    lab[..., 1] = np.float32(500.0) * (fx - fy)
    lab[..., 2] = np.float32(200.0) * (fy - fz)
    return lab


def _y_of_lightness(light: np.ndarray) -> np.ndarray:
    return _lab_f_inverse((np.asarray(light, np.float32) + np.float32(16.0)) / np.float32(116.0))


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


def _clipped_linear(fy: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray,
                    scale: np.ndarray | np.float32) -> list[np.ndarray]:
    """Per-channel clipped linear RGB of Lab pixels (1-D arrays) with ab scaled by ``scale``.

    ``fy`` = (L + 16) / 116 and ``y`` its Y; skimage's formula (negative Z clamped to 0).
    """
    x = _lab_f_inverse(fy + a * (scale / np.float32(500.0))) * np.float32(D65_WHITE[0])
    z = _lab_f_inverse(np.maximum(fy - b * (scale / np.float32(200.0)), np.float32(0.0)))
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
    weights = np.asarray(XYZ_FROM_RGB[1], np.float32)
    return weights[0] * channels[0] + weights[1] * channels[1] + weights[2] * channels[2]


def lab_to_rgb_uint8(light: np.ndarray, ab: np.ndarray | None, *, tolerance: float = 0.5,
                     steps: int = 7) -> np.ndarray:
    """Recombine L ``(H, W)`` with ab ``(H, W, 2)`` (None: grey) into an RGB uint8 frame.

    OpenCV's float Lab→RGB (sRGB, D65; agrees with :func:`lab_to_rgb` to ~0.1 RGB level) clips
    out-of-gamut colours per channel, which changes their lightness (up to ~20 L units for
    saturated colours at extreme L). Those pixels instead get their ab scaled down (bisection,
    ``steps`` halvings) until the clipped colour's L is within ``tolerance`` of the input's: the
    output's lightness is the input's, the hue is kept, only chroma gives way.

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
            y = _lab_f_inverse(fy)
            y_low = _y_of_lightness(lum_k - tolerance)
            y_high = _y_of_lightness(lum_k + tolerance)
            channels = _clipped_linear(fy, y, a, b, np.float32(1.0))
            got = _y_of(channels)
            off = np.nonzero((got < y_low) | (got > y_high))[0]
            if len(off):
                fy_o, y_o, a_o, b_o = fy[off], y[off], a[off], b[off]
                y_low, y_high = y_low[off], y_high[off]
                low = np.zeros(len(off), np.float32)
                high = np.ones(len(off), np.float32)
                for _ in range(steps):
                    middle = (low + high) * np.float32(0.5)
                    got = _y_of(_clipped_linear(fy_o, y_o, a_o, b_o, middle))
                    ok = (got >= y_low) & (got <= y_high)
                    low = np.where(ok, middle, low)
                    high = np.where(ok, high, middle)
                for channel, fixed in zip(channels, _clipped_linear(fy_o, y_o, a_o, b_o, low),
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
    xyz = np.stack([_lab_f_inverse(f) for f in (fx, fy, fz)], axis=-1) * np.asarray(D65_WHITE)
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


def network_input(lightness_frames: list[np.ndarray] | np.ndarray, size: int | tuple[int, int],
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """The network's input batch ``(N, 1, h, w)``: each frame's L resized to ``size``, × L_SCALE.

    Args:
        lightness_frames: (H, W) L arrays (0–100); sizes may differ.
        size: the network's input side (square) or ``(h, w)``; multiples of 8.
        device: where the batch goes.
    """
    import torch

    height, width = (size, size) if isinstance(size, int) else size
    small = [frame if frame.shape == (height, width) else
             cv2.resize(np.asarray(frame, np.float32), (width, height),
                        interpolation=cv2.INTER_AREA) for frame in lightness_frames]
    batch = torch.from_numpy(np.stack(small).astype(np.float32)[:, None])
    return batch.to(device) * L_SCALE


def _working(tensor: torch.Tensor) -> tuple[torch.Tensor, torch.dtype]:
    """Return ``tensor`` as a float tensor to compute in, and the dtype to return."""
    import torch

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
    import torch

    return torch.einsum("ij,...jhw->...ihw", matrix, tensor)


def _constant(values: tuple, like: torch.Tensor) -> torch.Tensor:
    import torch

    return torch.tensor(values, dtype=like.dtype, device=like.device)


def rgb_to_xyz(rgb: torch.Tensor) -> torch.Tensor:
    """Convert sRGB in [0, 1] to CIE XYZ (D65), undoing the sRGB companding.

    Args:
        rgb: Tensor of shape ``(..., 3, H, W)``, float in [0, 1].

    Returns:
        XYZ tensor of the same shape and (floating) dtype.
    """
    import torch

    work, dtype = _working(rgb)
    linear = torch.where(work > _SRGB_THRESHOLD,
                         ((work.clamp_min(_SRGB_THRESHOLD) + 0.055) / 1.055) ** 2.4,
                         work / 12.92)
    return _mix(linear, _constant(XYZ_FROM_RGB, work)).to(dtype)


def xyz_to_lab(xyz: torch.Tensor) -> torch.Tensor:
    """Convert CIE XYZ (D65) to CIE Lab.

    Args:
        xyz: Tensor of shape ``(..., 3, H, W)``.

    Returns:
        Lab tensor, L in [0, 100], a and b roughly in [-128, 127].
    """
    import torch

    work, dtype = _working(xyz)
    white = _constant(D65_WHITE, work).view(3, 1, 1)
    scaled = work / white
    # cube root of the clamped value avoids NaN gradients on the unused branch
    f = torch.where(scaled > _LAB_EPSILON, scaled.clamp_min(_LAB_EPSILON) ** (1.0 / 3.0),
                    _LAB_KAPPA * scaled + _LAB_OFFSET)
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
    import torch

    work, dtype = _working(lab)
    light, a, b = work.unbind(dim=-3)
    fy = (light + 16.0) / 116.0
    fx = a / 500.0 + fy
    fz = (fy - b / 200.0).clamp_min(0.0)
    f = torch.stack((fx, fy, fz), dim=-3)
    xyz = torch.where(f > _LAB_INV_THRESHOLD, f**3, (f - _LAB_OFFSET) / _LAB_KAPPA)
    white = _constant(D65_WHITE, work).view(3, 1, 1)
    return (xyz * white).to(dtype)


def xyz_to_rgb(xyz: torch.Tensor) -> torch.Tensor:
    """Convert CIE XYZ (D65) to sRGB, applying the companding and clipping to [0, 1].

    Args:
        xyz: Tensor of shape ``(..., 3, H, W)``.

    Returns:
        sRGB tensor in [0, 1], same shape and dtype.
    """
    import torch

    work, dtype = _working(xyz)
    matrix = torch.linalg.inv(torch.tensor(XYZ_FROM_RGB, dtype=torch.float64))
    linear = _mix(work, matrix.to(dtype=work.dtype, device=work.device))
    rgb = torch.where(linear > _LINEAR_THRESHOLD,
                      1.055 * linear.clamp_min(_LINEAR_THRESHOLD) ** (1.0 / 2.4) - 0.055,
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
    import torch

    if isinstance(lab, torch.Tensor) and lab.dtype == torch.uint8:
        raise TypeError("lab_to_rgb expects a floating-point Lab tensor, got uint8")
    return xyz_to_rgb(lab_to_xyz(lab))
