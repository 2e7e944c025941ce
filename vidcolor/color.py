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

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    "GREY_SPACES",
    "GreyModel",
    "check_grey_model",
    "as_grey_model",
    "grey_model_from_dict",
    "grey_of_rgb",
    "grey_lightness",
    "model_lightness",
    "colour_on_grey",
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
vidcolor's own and the default everywhere. A :class:`GreyModel` may also be ``fitted``."""
GREY_SPACES: tuple[str, ...] = ("encoded", "linear")
"""The colour values a grey model weighs: the encoded R'G'B' or linear light."""
#: The most knots a fitted model's tone curve may have.
MAX_TONE_KNOTS = 257

# Linear luminance at which the encoded grey level steps from g to g + 1 (rounding thresholds).
_GREY_STEPS = srgb_to_linear((np.arange(255, dtype=np.float64) + 0.5) / 255.0).astype(np.float32)
_LUMINANCE_WEIGHTS = np.asarray(XYZ_FROM_RGB[1], dtype=np.float32)
#: Luma weights of R', G', B' (the encoded, gamma values), per grey model.
_LUMA_WEIGHTS = {
    "bt601": np.asarray((0.299, 0.587, 0.114), dtype=np.float64),
    "bt709": np.asarray((0.2126, 0.7152, 0.0722), dtype=np.float64),
}
#: Regula falsi steps on L when a colour is solved onto a grey (most pixels stop earlier).
_SOLVE_STEPS = 8


@dataclass(frozen=True)
class GreyModel:
    """How a black-and-white copy turns colour into grey: ``grey = tone(weights · colour)``.

    Attributes:
        name: one of :data:`GREY_MODELS`, or ``fitted`` (learnt from a pair,
            :mod:`vidcolor.greyfit`).
        space: ``encoded`` (R'G'B' in 0–1, as luma weighs them) or ``linear`` (linear light).
        weights: ``(r, g, b)`` weights, each >= 0, summing to 1.
        tone: ``((v, level), ...)`` knots of the tone curve from the weighted value ``v``
            (0–1) to the grey level (0–255), linear between knots; both columns increase
            strictly, ``v`` from 0 to 1. Empty for the named models, whose tone is the sRGB
            curve (``luminance``) or the identity (luma).
    """

    name: str
    space: str
    weights: tuple[float, float, float]
    tone: tuple[tuple[float, float], ...] = ()

    @classmethod
    def named(cls, name: str) -> GreyModel:
        """The model of a name in :data:`GREY_MODELS`.

        Raises:
            ValueError: an unknown name (the message names the choices).
        """
        check_grey_model(name)
        if name == "luminance":
            return cls(name, "linear", tuple(float(w) for w in XYZ_FROM_RGB[1]))
        return cls(name, "encoded", tuple(float(w) for w in _LUMA_WEIGHTS[name]))

    def to_dict(self) -> dict[str, Any]:
        """The model as JSON-able data (:func:`grey_model_from_dict` reads it back).

        >>> GreyModel.named("bt601").to_dict()
        {'name': 'bt601'}
        """
        if self.name in GREY_MODELS:
            return {"name": self.name}
        return {"name": self.name, "space": self.space, "weights": list(self.weights),
                "tone": [list(knot) for knot in self.tone]}

    def describe(self) -> str:
        """A short human description (for logs and warnings)."""
        if self.name in GREY_MODELS:
            return self.name
        weights = "/".join(f"{w:.3f}" for w in self.weights)
        return f"fitted ({self.space} RGB weights {weights}, {len(self.tone)}-knot tone curve)"

    def tone_knots(self) -> tuple[np.ndarray, np.ndarray]:
        """The tone curve as ``(v, level)`` float64 arrays (the identity for luma models)."""
        if self.tone:
            knots = np.asarray(self.tone, dtype=np.float64)
            return knots[:, 0], knots[:, 1]
        if self.name == "luminance":
            v = srgb_to_linear(np.linspace(0.0, 1.0, MAX_TONE_KNOTS))
            return v, np.linspace(0.0, 255.0, MAX_TONE_KNOTS)
        return np.array([0.0, 1.0]), np.array([0.0, 255.0])


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


def as_grey_model(model: str | GreyModel) -> GreyModel:
    """A :class:`GreyModel` of a name or a model.

    Raises:
        ValueError: an unknown name.
    """
    return model if isinstance(model, GreyModel) else GreyModel.named(model)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def grey_model_from_dict(data: object) -> GreyModel:
    """Read back a grey model written by :meth:`GreyModel.to_dict`, checking every field.

    Raises:
        ValueError: a short message saying which field is wrong (callers name the file).

    >>> grey_model_from_dict({"name": "bt709"}).weights
    (0.2126, 0.7152, 0.0722)
    >>> grey_model_from_dict({"name": "fitted", "space": "encoded", "weights": [0, 1, 0],
    ...                       "tone": [[0, 0], [1, 255]]}).describe()
    'fitted (encoded RGB weights 0.000/1.000/0.000, 2-knot tone curve)'
    """
    if not isinstance(data, dict):
        raise ValueError(f"grey model {_short(data)} is not a mapping")
    name = data.get("name")
    if name in GREY_MODELS:
        if set(data) != {"name"}:
            raise ValueError(f"grey model {name} has unexpected fields "
                             f"{sorted(map(str, set(data) - {'name'}))}")
        return GreyModel.named(name)
    if name != "fitted":
        raise ValueError(f"grey model name {_short(name)} is not one of "
                         f"{', '.join(GREY_MODELS)}, fitted")
    unknown = set(data) - {"name", "space", "weights", "tone"}
    if unknown:
        raise ValueError(f"grey model has unexpected fields {sorted(map(str, unknown))}")
    space, weights, tone = data.get("space"), data.get("weights"), data.get("tone")
    if space not in GREY_SPACES:
        raise ValueError(f"grey model space {_short(space)} is not one of "
                         f"{', '.join(GREY_SPACES)}")
    if not (isinstance(weights, list) and len(weights) == 3
            and all(_is_number(w) and w >= 0 for w in weights)
            and abs(sum(weights) - 1.0) <= 1e-6):
        raise ValueError(f"grey model weights {_short(weights)} are not 3 numbers >= 0 "
                         "summing to 1")
    if not (isinstance(tone, list) and 2 <= len(tone) <= MAX_TONE_KNOTS
            and all(isinstance(k, list) and len(k) == 2 and all(map(_is_number, k))
                    for k in tone)):
        raise ValueError(f"grey model tone {_short(tone)} is not a list of 2 to "
                         f"{MAX_TONE_KNOTS} [value, level] pairs of numbers")
    v, level = np.asarray(tone, np.float64).T
    if not (v[0] == 0 and v[-1] == 1 and (np.diff(v) > 0).all() and (np.diff(level) > 0).all()
            and level[0] >= 0 and level[-1] <= 255):
        raise ValueError("grey model tone must rise strictly from value 0 to 1 and level "
                         "0-255")
    return GreyModel("fitted", space, tuple(float(w) for w in weights),
                     tuple((float(a), float(b)) for a, b in tone))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def grey_of_rgb(rgb: np.ndarray, model: str | GreyModel) -> np.ndarray:
    """The grey level (uint8) a black-and-white copy of ``rgb`` made with ``model`` has.

    * ``luminance``: the relative luminance Y of the linearised sRGB values (this module's
      constants), encoded back with the sRGB curve and rounded, so the grey has the colour's
      CIE L up to rounding. vidcolor's own twins, and what render assumes.
    * ``bt601``: luma Y' = 0.299 R' + 0.587 G' + 0.114 B' on the encoded values, full range:
      ``ffmpeg -vf format=gray``, OpenCV ``COLOR_RGB2GRAY``, most telecine and archive copies.
    * ``bt709``: luma Y' = 0.2126 R' + 0.7152 G' + 0.0722 B' on the encoded values.
    * a fitted :class:`GreyModel`: its tone curve of its weighted (encoded or linear) values.

    Luma is rounded to nearest (halves up) and clipped to 0–255. All named models leave greys
    (R = G = B) as they are; they differ on colours: luma weighs the encoded values, so a
    saturated colour's luma is not its lightness.

    Args:
        rgb: ``(H, W, 3)`` (or any ``(..., 3)``) uint8 sRGB values.
        model: one of :data:`GREY_MODELS`, or a :class:`GreyModel`.

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
    model = as_grey_model(model)
    rgb = np.asarray(rgb)
    if rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"expected (..., 3) RGB values, got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise TypeError(f"expected uint8 RGB values, got {rgb.dtype}")
    if model.name == "luminance":
        luminance = _LINEAR_LUT[rgb] @ _LUMINANCE_WEIGHTS
        return np.searchsorted(_GREY_STEPS, luminance).astype(np.uint8)
    if model.name in _LUMA_WEIGHTS:
        luma = np.floor(rgb @ _LUMA_WEIGHTS[model.name] + 0.5)
        return np.clip(luma, 0, 255).astype(np.uint8)
    values = (_LINEAR_LUT[rgb] if model.space == "linear" else rgb / 255.0) \
        @ np.asarray(model.weights, np.float64)
    return _rounded_level(_tone(values, model))


def _tone(values: np.ndarray, model: GreyModel) -> np.ndarray:
    """Grey levels (float) of weighted values under ``model``'s tone curve."""
    v, level = model.tone_knots()
    return np.interp(values, v, level)


def _rounded_level(level: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(level + 0.5), 0, 255).astype(np.uint8)


def grey_lightness() -> np.ndarray:
    """L (float32, ``(256,)``) of each grey level, exactly as :func:`lightness` gives it for a
    grey frame: the network's input for a grey image (render) and a grey model's grey
    (training).

    >>> [round(float(v), 2) for v in grey_lightness()[[0, 128, 255]]]
    [0.0, 53.59, 100.0]
    """
    return _GREY_LIGHTNESS.copy()


def model_lightness(rgb: np.ndarray, model: str | GreyModel) -> np.ndarray:
    """L ``(H, W)`` of the black and white ``model`` makes of a colour frame: what render reads
    from such a grey. For ``luminance``, the frame's own L (:func:`lightness`).

    >>> blue = np.array([[[30, 60, 220]]], np.uint8)
    >>> [round(float(model_lightness(blue, m)[0, 0]), 1) for m in ("luminance", "bt601")]
    [35.3, 29.3]
    """
    model = as_grey_model(model)
    if model.name == "luminance":
        return lightness(rgb)
    return _GREY_LIGHTNESS[grey_of_rgb(rgb, model)]


_GREY_LIGHTNESS = lightness(np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2))[0]


def _level_of_lightness(light: np.ndarray) -> np.ndarray:
    """The (unrounded) grey level 0–255 whose L is ``light``: the inverse of
    :func:`grey_lightness`, float64."""
    y = np.clip(luminance_of_lightness(light).astype(np.float64), 0.0, 1.0)
    return linear_to_srgb(y) * 255.0


def colour_on_grey(light: np.ndarray, ab: np.ndarray | None,
                   model: str | GreyModel = "luminance") -> np.ndarray:
    """The output frame: colours ``ab`` solved onto the input grey of L ``light`` under
    ``model``, so that the model gives the input's grey back.

    The one composition of render's output and of ``scripts/warp_floor.py``'s ceiling.

    * ``luminance``: :func:`lab_to_rgb_uint8` (the input's L kept, chroma yields where the
      colour is out of gamut).
    * any other model (luma or fitted): the input grey ``g`` (the grey level of ``light``)
      becomes the model's weighted value ``v`` (its tone curve inverted). Each pixel's colour
      is first found along its ``ab``: the L (regula falsi) at which the colour ``Lab(L, a, b)``
      has the value ``v``; its chroma (the colour minus its value, in the model's space, as
      Cb/Cr are for luma) is then put on ``v`` exactly, scaled down where it would leave the
      gamut. For a luma model this is the input's Y' with the colour's Cb and Cr. Rounding
      to 8 bits picks, where needed, the neighbouring code values that keep the grey.

    Args:
        light: ``(H, W)`` L of the grey input (0–100).
        ab: ``(H, W, 2)`` the colours' a and b; None: grey.
        model: the grey model the input was made with.

    Returns:
        ``(H, W, 3)`` uint8 RGB.

    Example:
        >>> light = lightness(np.full((1, 1, 3), 120, np.uint8))  # a grey input, level 120
        >>> blue = np.array([[[20.0, -60.0]]], np.float32)
        >>> rgb = colour_on_grey(light, blue, "bt601")
        >>> rgb.tolist(), int(grey_of_rgb(rgb, "bt601")[0, 0])
        ([[[77, 121, 230]]], 120)
    """
    model = as_grey_model(model)
    if model.name == "luminance":
        # L within 0.5 of the input's: a colour out of gamut at that L keeps more chroma than
        # an exact L allows. Exact L (0.05) brings every pixel within one grey level, but
        # costs the demo's defaults 0.17 dB (35.18 -> 35.01, seed 0) and one whole-frame hint
        # per shot 0.3 dB: the truth's colours are in gamut, and for them both agree
        return lab_to_rgb_uint8(light, ab)
    lum = np.asarray(light, dtype=np.float32)
    if lum.ndim != 2:
        raise ValueError(f"lightness must be (H, W), got shape {lum.shape}")
    if ab is not None and np.shape(ab) != (*lum.shape, 2):
        raise ValueError(f"ab must be {(*lum.shape, 2)}, got {np.shape(ab)}")
    level = _level_of_lightness(lum).ravel()
    tone_v, tone_level = model.tone_knots()
    value = np.interp(level, tone_level, tone_v)  # (N,) the model's weighted value
    if ab is None:
        colour = np.repeat(value[:, None], 3, axis=1)
    else:
        chroma = _chroma_of(np.asarray(ab, np.float32).reshape(-1, 2), level, model)
        colour = value[:, None] + chroma
        # mostly the solved colour itself; out of the cube where no L reached the grey
        out = np.nonzero(((colour < 0.0) | (colour > 1.0)).any(axis=1))[0]
        colour[out] = value[out, None] + _gamut_scale(value[out], chroma[out])[:, None] \
            * chroma[out]
    colour = np.clip(colour, 0.0, 1.0)
    encoded = colour if model.space == "encoded" else linear_to_srgb(colour)
    codes = encoded * 255.0
    rgb = np.rint(codes).astype(np.uint8)
    _keep_grey(rgb, codes, np.clip(np.rint(level), 0, 255), model)
    return rgb.reshape(*lum.shape, 3)


def _chroma_of(ab: np.ndarray, level: np.ndarray, model: GreyModel) -> np.ndarray:
    """``(N, 3)`` the chroma (colour minus its value, model space) of each pixel's colour
    ``ab`` at the L where its value is that of grey ``level``. Solved once per distinct
    (grey, a, b) to 1/64 of a level and of an ab unit (far below what shows): a cartoon's
    fills share them."""
    steps = np.rint(np.clip(ab, -511.0, 511.0) * 64.0).astype(np.int64) + (512 * 64)
    key = (np.rint(level * 64.0).astype(np.int64) << 32) | (steps[:, 0] << 16) | steps[:, 1]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])  # runs along the rows first
    distinct, inverse = np.unique(key[starts], return_inverse=True)
    inverse = np.repeat(inverse.ravel(), np.diff(np.r_[starts, len(key)]))
    a = ((distinct >> 16) & 0xFFFF).astype(np.float32) / np.float32(64.0) - np.float32(512.0)
    b = (distinct & 0xFFFF).astype(np.float32) / np.float32(64.0) - np.float32(512.0)
    tone_v, tone_level = model.tone_knots()
    value = np.interp((distinct >> 32) / 64.0, tone_level, tone_v)
    weights = np.asarray(model.weights, np.float64)
    found = _colour_of_value(a, b, value, weights, model.space)
    return (found - (found @ weights)[:, None])[inverse]


def _model_space(light: np.ndarray, a: np.ndarray, b: np.ndarray, space: str) -> np.ndarray:
    """``(N, 3)`` float32 clipped colour of Lab pixels in a grey model's space."""
    fy = (light + np.float32(16.0)) / np.float32(116.0)
    linear = np.stack(_clipped_linear(fy, _lab_f_inverse(fy), a, b, np.float32(1.0)), axis=1)
    return linear if space == "linear" else linear_to_srgb(linear)


def _colour_of_value(a: np.ndarray, b: np.ndarray, value: np.ndarray, weights: np.ndarray,
                     space: str) -> np.ndarray:
    """The colour ``Lab(L, a, b)`` (model space) whose weighted value is ``value``: L found in
    0–100 by regula falsi with the Illinois step (where none reaches it, the nearer end)."""
    weights32, value32 = weights.astype(np.float32), value.astype(np.float32)

    def miss(light: np.ndarray) -> np.ndarray:
        return _model_space(light, a, b, space) @ weights32 - value32

    low, high = np.zeros(len(a), np.float32), np.full(len(a), 100.0, np.float32)
    miss_low, miss_high = miss(low), miss(high)
    light = np.where(miss_low >= 0, low, high)  # no root: the nearer end
    bracket = (miss_low < 0) & (miss_high > 0)
    for _ in range(_SOLVE_STEPS):
        if not bracket.any():
            break
        span = miss_high - miss_low
        guess = np.where(bracket, low - miss_low * (high - low) / np.where(span > 0, span, 1),
                         light)
        light = np.where(bracket, guess, light)
        got = miss(light)
        below = bracket & (got < 0)
        above = bracket & (got >= 0)
        # Illinois: halve the end that stays, so that the bracket closes from both sides
        miss_high = np.where(below, miss_high * np.float32(0.5), np.where(above, got, miss_high))
        miss_low = np.where(above, miss_low * np.float32(0.5), np.where(below, got, miss_low))
        low, high = np.where(below, light, low), np.where(above, light, high)
        bracket &= np.abs(got) > 1e-5
    return _model_space(light, a, b, space).astype(np.float64)


def _gamut_scale(value: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """The largest factor in [0, 1] of ``chroma`` that keeps ``value + factor × chroma`` in
    the unit cube (``value`` in [0, 1])."""
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(chroma > 1e-12, (1.0 - value[:, None]) / chroma,
                        np.where(chroma < -1e-12, value[:, None] / -chroma, np.inf))
    return np.clip(room.min(axis=1), 0.0, 1.0)


def _keep_grey(rgb: np.ndarray, codes: np.ndarray, target: np.ndarray,
               model: GreyModel) -> None:
    """Where rounding moved a pixel's grey off ``target``, try the 8 floor/ceil roundings of
    its code values and keep the one whose grey is nearest (in place, ``(N, 3)``)."""
    off = np.nonzero(grey_of_rgb(rgb, model) != target)[0]
    if not len(off):
        return
    floor = np.floor(codes[off])
    corners = np.array([[(k >> c) & 1 for c in range(3)] for k in range(8)], np.float64)
    candidates = np.clip(floor[:, None, :] + corners[None], 0, 255).astype(np.uint8)
    miss = np.abs(grey_of_rgb(candidates, model).astype(np.int16) - target[off, None])
    nearest = np.abs(candidates - codes[off, None, :]).sum(axis=2)
    best = np.argmin(miss * 1024.0 + nearest, axis=1)  # the grey first, then the nearest
    better = miss[np.arange(len(off)), best] < np.abs(
        grey_of_rgb(rgb[off], model).astype(np.int16) - target[off])
    rgb[off[better]] = candidates[np.arange(len(off)), best][better]


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
