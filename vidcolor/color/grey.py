"""Grey models: how a black-and-white copy turns colour into grey, and colour back onto it.

:func:`grey_of_rgb` makes the grey level a black-and-white copy of a colour frame has, the way it
was made (:data:`GREY_MODELS`): vidcolor's own ``luminance`` (the colour's CIE L kept) or the
luma an archive's transfer gives (``bt601``, ``bt709``), or a :class:`GreyModel` fitted to a
pair (:mod:`vidcolor.greyfit`). :func:`model_lightness` is the L render reads from such a grey,
and :func:`colour_on_grey` solves predicted colours onto the input grey so that the model gives
it back: render's output. numpy only (render's workers run it).

References: ITU-R BT.601 and BT.709 (luma weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from vidcolor.color import (
    LINEAR_LUT,
    Y_WEIGHTS,
    Y_WEIGHTS_F32,
    lab_f_inverse,
    linear_to_srgb,
    srgb_to_linear,
)
from vidcolor.color.frames import (
    clipped_linear,
    lab_to_rgb_uint8,
    lightness,
    luminance_of_lightness,
)

__all__ = [
    "GREY_MODELS",
    "GREY_SPACES",
    "MAX_TONE_KNOTS",
    "GreyModel",
    "check_grey_model",
    "as_grey_model",
    "grey_model_from_dict",
    "grey_of_rgb",
    "grey_lightness",
    "model_lightness",
    "colour_on_grey",
]

GREY_MODELS: tuple[str, ...] = ("luminance", "bt601", "bt709")
"""How a black-and-white copy turns colour into grey (:func:`grey_of_rgb`); the first is
vidcolor's own and the default everywhere. A :class:`GreyModel` may also be ``fitted``."""
GREY_SPACES: tuple[str, ...] = ("encoded", "linear")
"""The colour values a grey model weighs: the encoded R'G'B' or linear light."""
#: The most knots a fitted model's tone curve may have.
MAX_TONE_KNOTS = 257

# Linear luminance at which the encoded grey level steps from g to g + 1 (rounding thresholds).
_GREY_STEPS = srgb_to_linear((np.arange(255, dtype=np.float64) + 0.5) / 255.0).astype(np.float32)
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
            return cls(name, "linear", tuple(float(w) for w in Y_WEIGHTS))
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
        luminance = LINEAR_LUT[rgb] @ Y_WEIGHTS_F32
        return np.searchsorted(_GREY_STEPS, luminance).astype(np.uint8)
    if model.name in _LUMA_WEIGHTS:
        luma = np.floor(rgb @ _LUMA_WEIGHTS[model.name] + 0.5)
        return np.clip(luma, 0, 255).astype(np.uint8)
    values = (LINEAR_LUT[rgb] if model.space == "linear" else rgb / 255.0) \
        @ np.asarray(model.weights, np.float64)
    return _rounded_level(_tone(values, model))


def _tone(values: np.ndarray, model: GreyModel) -> np.ndarray:
    """Grey levels (float) of weighted values under ``model``'s tone curve."""
    v, level = model.tone_knots()
    return np.interp(values, v, level)


def _rounded_level(level: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(level + 0.5), 0, 255).astype(np.uint8)


def grey_lightness() -> np.ndarray:
    """L (float32, ``(256,)``) of each grey level, exactly as
    :func:`~vidcolor.color.frames.lightness` gives it for a grey frame: the network's input for
    a grey image (render) and a grey model's grey (training).

    >>> [round(float(v), 2) for v in grey_lightness()[[0, 128, 255]]]
    [0.0, 53.59, 100.0]
    """
    return _GREY_LIGHTNESS.copy()


def model_lightness(rgb: np.ndarray, model: str | GreyModel) -> np.ndarray:
    """L ``(H, W)`` of the black and white ``model`` makes of a colour frame: what render reads
    from such a grey. For ``luminance``, the frame's own L
    (:func:`~vidcolor.color.frames.lightness`).

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

    * ``luminance``: :func:`~vidcolor.color.frames.lab_to_rgb_uint8` (the input's L kept, chroma
      yields where the colour is out of gamut).
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
    linear = np.stack(clipped_linear(fy, lab_f_inverse(fy), a, b, np.float32(1.0)), axis=1)
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

