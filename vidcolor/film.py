"""A film-print simulator: the wear an archive's black-and-white print adds to a clean grey frame.

A grey twin made from colour (:func:`vidcolor.demo.twins.bw_frame`) is a clean digital grey: flat
regions, stable from frame to frame. A scanned film print is not. :func:`film_frame` adds, to
one grey frame, what time and the projector did to the print, in the order they happen:

* **flicker** — exposure that varies from frame to frame (uneven development, a lamp): a gain
  and an offset that drift smoothly over a few frames;
* **grain** — the emulsion's silver grains, new in every frame: Gaussian noise, strongest in
  the mid-tones (its standard deviation is ``2 sqrt(t (1 - t))`` times :attr:`FilmWear.grain`
  at grey ``255 t``, as a binomial count of grains), blurred to a grain of about
  :attr:`FilmWear.grain_size` px;
* **dust** — specks of dirt on single frames, dark (on the print) or bright (on the negative);
* **scratches** — thin vertical lines left by the projector's gate, each at a (slowly drifting)
  column for some frames;
* **weave** — the print's position in the gate: a sub-pixel to 2 px translation per frame, a
  smooth random walk.

Everything is a function of ``(seed, index)`` only (no state is carried from frame to frame),
so any frame can be made alone, in any order, in a pool, and the same call gives the same
frame. Smooth quantities (flicker, weave) are value noise: seeded random knots every few frames,
interpolated with a smoothstep, so they are bounded by their knots. Each kind of wear draws from
its own random stream, so switching one off leaves the others' draws as they were.

Numpy and OpenCV only, vectorised: a 320x240 frame takes a few milliseconds.

>>> grey = np.full((24, 32), 128, np.uint8)
>>> worn = film_frame(grey, 0, seed=1)
>>> worn.shape, worn.dtype, bool(np.array_equal(worn, film_frame(grey, 0, seed=1)))
((24, 32), dtype('uint8'), True)
>>> bool(np.array_equal(film_frame(grey, 0, seed=1, wear=NO_WEAR), grey))
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace

import cv2
import numpy as np

__all__ = [
    "FilmWear",
    "MAX_WEAVE",
    "NO_WEAR",
    "Seed",
    "WEAR_KINDS",
    "film_frame",
    "flicker_gain_offset",
    "weave_offset",
]

WEAR_KINDS: tuple[str, ...] = ("grain", "flicker", "weave", "dust", "scratches")
"""The kinds of wear, each switched off by a strength of 0 in :class:`FilmWear`."""
MAX_WEAVE = 2.0
"""The largest gate weave :class:`FilmWear` accepts (px, each axis)."""

# Value-noise periods (frames between knots) and weights of the two octaves of each smooth
# quantity: a slow drift plus a faster wobble; the weights sum to 1, so each quantity is
# bounded by its strength.
_SLOW, _FAST = 12, 3
_SLOW_WEIGHT = 0.7
# Stream tags: one random stream per kind of wear (and per use).
_TAG_GRAIN, _TAG_FLICKER, _TAG_WEAVE, _TAG_DUST, _TAG_SCRATCH = 101, 102, 103, 104, 105
# Scratches are born in blocks of frames; one lives at most _SCRATCH_LIFE[1] frames.
_SCRATCH_BLOCK = 16
_SCRATCH_LIFE = (6, 48)
# Pixels of the reference frame size the dust density is given for.
_DUST_AREA = 320 * 240


@dataclass(frozen=True)
class FilmWear:
    """How worn the print is: one strength per kind of wear; 0 switches that kind off.

    Attributes:
        grain: standard deviation of the grain at mid-grey, in grey levels (0-255).
        grain_size: blur of the grain (Gaussian sigma, px); 0 keeps it per pixel.
        flicker: largest relative change of exposure: the gain stays within ``1 ± flicker``
            and the offset within ``± flicker * 64`` grey levels.
        weave: largest gate weave, px (horizontal; vertical is 0.6 of it); at most
            :data:`MAX_WEAVE`.
        dust: mean number of dust specks per frame on a 320x240 frame (scaled with the area).
        scratches: mean number of scratches that appear per frame (each lasts 6-48 frames).
    """

    grain: float = 4.0
    grain_size: float = 0.7
    flicker: float = 0.03
    weave: float = 0.8
    dust: float = 3.0
    scratches: float = 0.05

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"film wear {item.name} must be a non-negative number, "
                                 f"got {value!r}")
        if self.weave > MAX_WEAVE:
            raise ValueError(f"film wear weave must be at most {MAX_WEAVE} px, got {self.weave}")
        if self.flicker >= 1:
            raise ValueError(f"film wear flicker must be below 1, got {self.flicker}")

    def without(self, *kinds: str) -> FilmWear:
        """The same wear with the given kinds (names in :data:`WEAR_KINDS`) switched off.

        Raises:
            ValueError: an unknown kind.

        >>> FilmWear().without("grain", "dust").grain
        0.0
        """
        unknown = sorted(set(kinds) - set(WEAR_KINDS))
        if unknown:
            raise ValueError(f"unknown film wear {', '.join(unknown)}; the kinds are "
                             f"{', '.join(WEAR_KINDS)}")
        return replace(self, **dict.fromkeys(kinds, 0.0))

    def as_dict(self) -> dict[str, float]:
        """The strengths by name (for a manifest)."""
        return {key: float(value) for key, value in asdict(self).items()}


NO_WEAR = FilmWear().without(*WEAR_KINDS)
"""Every kind switched off: :func:`film_frame` returns the frame unchanged."""

Seed = int | Sequence[int]
"""A film seed: an int, or a sequence of ints (e.g. ``(series seed, episode)``)."""


def _rng(seed: Seed, tag: int, index: int) -> np.random.Generator:
    """The random stream of one kind of wear (``tag``) at one frame or block (``index``)."""
    entropy = [seed] if isinstance(seed, (int, np.integer)) else list(seed)
    # SeedSequence takes non-negative ints only: negative seeds wrap (two's complement).
    words = [int(value) % 2**64 for value in (*entropy, tag, index)]
    return np.random.default_rng(np.random.SeedSequence(words))


def _value_noise(seed: Seed, tag: int, index: int, period: int, count: int) -> np.ndarray:
    """``count`` smooth values in [-1, 1] at frame ``index``: knots every ``period`` frames."""
    knot, phase = divmod(int(index), period)
    t = phase / period
    t = t * t * (3 - 2 * t)  # smoothstep: no kink at the knots
    before = _rng(seed, tag, knot).uniform(-1.0, 1.0, count)
    after = _rng(seed, tag, knot + 1).uniform(-1.0, 1.0, count)
    return (1 - t) * before + t * after


def _smooth(seed: Seed, tag: int, index: int, count: int) -> np.ndarray:
    """Two octaves of value noise (slow drift and faster wobble), bounded by [-1, 1]."""
    slow = _value_noise(seed, tag, index, _SLOW, count)
    fast = _value_noise(seed, tag + 1000, index, _FAST, count)
    return _SLOW_WEIGHT * slow + (1 - _SLOW_WEIGHT) * fast


def weave_offset(index: int, seed: Seed = 0, wear: FilmWear | None = None) -> tuple[float, float]:
    """The gate weave of frame ``index``: the image's ``(dx, dy)`` shift in px.

    Bounded by ``wear.weave`` horizontally and 0.6 of it vertically (so by :data:`MAX_WEAVE`).

    >>> all(abs(dx) <= 0.8 and abs(dy) <= 0.48 for dx, dy in map(weave_offset, range(50)))
    True
    """
    wear = FilmWear() if wear is None else wear
    if wear.weave == 0:
        return 0.0, 0.0
    dx, dy = _smooth(seed, _TAG_WEAVE, index, 2) * (wear.weave, 0.6 * wear.weave)
    return float(dx), float(dy)


def flicker_gain_offset(index: int, seed: Seed = 0,
                        wear: FilmWear | None = None) -> tuple[float, float]:
    """The exposure flicker of frame ``index``: ``grey * gain + offset`` (grey levels).

    >>> flicker_gain_offset(3, wear=NO_WEAR)
    (1.0, 0.0)
    """
    wear = FilmWear() if wear is None else wear
    if wear.flicker == 0:
        return 1.0, 0.0
    gain, offset = _smooth(seed, _TAG_FLICKER, index, 2)
    return float(1 + wear.flicker * gain), float(wear.flicker * 64 * offset)


def _grain(shape: tuple[int, int], seed: Seed, index: int, size: float) -> np.ndarray:
    """Unit-variance grain: white Gaussian noise blurred to ``size`` px, new per frame."""
    noise = _rng(seed, _TAG_GRAIN, index).standard_normal(shape, dtype=np.float32)
    if size <= 0:
        return noise
    radius = max(1, math.ceil(3 * size))
    kernel = cv2.getGaussianKernel(2 * radius + 1, size, cv2.CV_32F)
    noise = cv2.sepFilter2D(noise, -1, kernel, kernel, borderType=cv2.BORDER_REFLECT)
    # A separable blur scales white noise's standard deviation by sum(k^2) (both axes).
    return noise / float((kernel**2).sum())


def _dust(shape: tuple[int, int], seed: Seed, index: int, density: float
          ) -> tuple[np.ndarray, np.ndarray]:
    """Coverage (0-1, float32) of the dark and of the bright specks of one frame."""
    height, width = shape
    rng = _rng(seed, _TAG_DUST, index)
    count = int(rng.poisson(density * height * width / _DUST_AREA))
    masks = np.zeros((2, height, width), np.uint8)  # drawn anti-aliased at 0-255
    if count == 0:
        return np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    centres = rng.uniform((0, 0), (width, height), (count, 2))
    axes = rng.uniform(0.5, 2.2, (count, 2))
    angles = rng.uniform(0, 180, count)
    bright = rng.random(count) < 0.3
    opacity = rng.uniform(0.6, 1.0, count)
    scale = 16  # cv2 draws with 4 sub-pixel bits
    for centre, axis, angle, is_bright, alpha in zip(centres, axes, angles, bright, opacity,
                                                     strict=True):
        cv2.ellipse(masks[int(is_bright)], tuple(np.rint(centre * scale).astype(int).tolist()),
                    tuple(np.rint(axis * scale).astype(int).tolist()), float(angle), 0, 360,
                    round(255 * float(alpha)), -1, cv2.LINE_AA, 4)
    coverage = masks * np.float32(1 / 255)
    return coverage[0], coverage[1]


def _scratches(shape: tuple[int, int], seed: Seed, index: int, rate: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """Coverage (0-1) of the dark and of the bright scratches on frame ``index``.

    Scratches are born in blocks of :data:`_SCRATCH_BLOCK` frames (a Poisson number per block,
    each with its first frame, lifetime, column, drift, polarity and strength), so that the
    scratches alive at a frame come from the few blocks that can still reach it.
    """
    height, width = shape
    coverage = np.zeros((2, height, width), np.float32)
    columns = np.arange(width, dtype=np.float32)
    rows = np.arange(height, dtype=np.float32)
    first_block = max(0, (index - _SCRATCH_LIFE[1]) // _SCRATCH_BLOCK)
    for block in range(first_block, index // _SCRATCH_BLOCK + 1):
        rng = _rng(seed, _TAG_SCRATCH, block)
        count = int(rng.poisson(rate * _SCRATCH_BLOCK))
        if count == 0:
            continue
        born = block * _SCRATCH_BLOCK + rng.integers(0, _SCRATCH_BLOCK, count)
        life = rng.integers(_SCRATCH_LIFE[0], _SCRATCH_LIFE[1] + 1, count)
        column = rng.uniform(0.03, 0.97, count) * width
        drift = rng.normal(0.0, 0.15, count)  # px per frame
        bright = rng.random(count) < 0.6
        strength = rng.uniform(0.25, 0.7, count)
        thickness = rng.uniform(0.35, 0.8, count)  # Gaussian sigma across, px
        period = rng.uniform(0.5, 2.0, count) * height
        phase = rng.uniform(0, 2 * math.pi, count)
        age = index - born
        for k in np.flatnonzero((age >= 0) & (age < life)):
            centre = column[k] + drift[k] * age[k]
            across = np.exp(-0.5 * ((columns - centre) / thickness[k]) ** 2)
            # Stronger and weaker along its length, and a little from frame to frame.
            along = strength[k] * (0.75 + 0.25 * np.sin(2 * math.pi * rows / period[k]
                                                         + phase[k] + 0.7 * age[k]))
            layer = coverage[int(bright[k])]
            np.maximum(layer, np.outer(along, across), out=layer)
    return coverage[0], coverage[1]


def film_frame(grey: np.ndarray, index: int, seed: Seed = 0,
               wear: FilmWear | None = None) -> np.ndarray:
    """Frame ``index`` of a film print of a clean grey frame.

    Flicker, grain, dust and scratches are applied in that order, then the weave moves the
    whole frame (bilinear, edges replicated), and the result is rounded to uint8.

    Args:
        grey: ``(H, W)`` uint8 grey frame, or ``(H, W, 3)`` with R = G = B (the channels'
            mean is taken).
        index: the frame's index in its video: the grain, dust and flicker of each frame
            differ, scratches last for some frames, weave and flicker drift smoothly.
        seed: an int or a sequence of ints (e.g. ``(series seed, episode)``); the output is a
            function of ``(grey, index, seed, wear)`` only.
        wear: the strengths (:class:`FilmWear`); None for the defaults, :data:`NO_WEAR`
            returns the frame unchanged.

    Returns:
        The worn frame, uint8, in the shape of ``grey`` (R = G = B for three channels).

    Raises:
        ValueError: ``grey`` is not ``(H, W)`` or ``(H, W, 3)`` uint8, or ``index`` < 0.

    >>> flat = np.full((48, 64), 100, np.uint8)
    >>> worn = film_frame(flat, 7, seed=3, wear=FilmWear().without("dust", "scratches"))
    >>> bool(95 < worn.mean() < 105), bool(worn.std() > 1)
    (True, True)
    """
    grey = np.asarray(grey)
    if grey.dtype != np.uint8 or not (grey.ndim == 2 or (grey.ndim == 3
                                                         and grey.shape[2] == 3)):
        raise ValueError(f"grey must be an (H, W) or (H, W, 3) uint8 frame, got "
                         f"{grey.dtype} {grey.shape}")
    if index < 0:
        raise ValueError(f"frame index must be non-negative, got {index}")
    wear = FilmWear() if wear is None else wear
    if all(getattr(wear, kind) == 0 for kind in WEAR_KINDS):
        return grey.copy()
    level = grey.astype(np.float32) if grey.ndim == 2 else grey.mean(axis=2, dtype=np.float32)
    shape = (level.shape[0], level.shape[1])

    gain, offset = flicker_gain_offset(index, seed, wear)
    if wear.flicker > 0:
        level = level * gain + offset
    if wear.grain > 0:
        t = np.clip(level * (1 / 255), 0.0, 1.0)
        sigma = (2 * wear.grain) * np.sqrt(t * (1 - t))
        level = level + sigma * _grain(shape, seed, index, wear.grain_size)
    for kind, draw in (("dust", _dust), ("scratches", _scratches)):
        strength = getattr(wear, kind)
        if strength > 0:
            dark, bright = draw(shape, seed, index, strength)
            level = level * (1 - dark) + 10.0 * dark  # ink-dark dirt
            level = level * (1 - bright) + 245.0 * bright  # clear, scratched emulsion
    dx, dy = weave_offset(index, seed, wear)
    if dx or dy:
        matrix = np.float32([[1, 0, dx], [0, 1, dy]])
        level = cv2.warpAffine(level, matrix, (shape[1], shape[0]), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
    out = np.clip(np.rint(level), 0, 255).astype(np.uint8)
    return out if grey.ndim == 2 else np.repeat(out[..., None], 3, axis=2)

