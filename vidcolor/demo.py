"""A synthetic cartoon series, generated deterministically from a seed, for demos and tests.

The series needs no downloaded media. Every episode is a colour video with an audio track and a
black-and-white twin (the same frames reduced to grey, written as R = G = B: by default each
pixel's luminance, or the luma an archive's copy has, see :data:`vidcolor.color.GREY_MODELS`;
optionally worn like a film print, :mod:`vidcolor.film`, while the colour stays clean).

What is in it, and why:

* A recurring cast of five characters, flat-coloured shapes with dark outlines, each always in its
  own colours. Two of them, the red round "Rosso" and the green tall "Verde", have the same
  luminance (Lab L within 0.1), so their colour cannot be told from the grey level alone; the
  shape tells them apart, which is what a network has to learn.
* Four locations as flat backgrounds: a meadow (light, weakly saturated sky over grass) and three
  interiors with coloured walls.
* Motion (translation with bounces, scaling, rotation), scene cuts, and held drawings: each
  drawing is shown for 2 or 3 identical frames, as animation "on twos and threes". Consecutive
  drawings are nudged apart until their mean squared difference exceeds :data:`MIN_DRAWING_MSE`,
  so a dedup threshold of 20 keeps exactly one frame per drawing.
* Opening and closing credits: a saturated blue screen (RGB :data:`CREDIT_BLUE`, HSV saturation
  255, hue 233 degrees) with centred white text, faded in from and out to black. Story frames
  never show large saturated-blue areas, so a credit filter can drop every credit frame and no
  story frame.

:func:`iter_episode_frames` is the pure generator (frames as arrays, no files);
:func:`generate_episode` writes one episode (any length, e.g. for a memory benchmark) and
:func:`generate_series` writes a whole series plus ``manifest.json``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from vidcolor import fsutil, progress
from vidcolor.color import check_grey_model, grey_of_rgb
from vidcolor.errors import OutputError
from vidcolor.extract import frame_mse
from vidcolor.film import FilmWear, film_frame

log = logging.getLogger(__name__)

__all__ = [
    "AUDIO_RATE",
    "CAST",
    "CREDIT_BLUE",
    "CREDIT_TEXT",
    "DemoFrame",
    "EpisodeInfo",
    "LOCATIONS",
    "MIN_DRAWING_MSE",
    "SeriesInfo",
    "bw_frame",
    "episode_audio",
    "episode_frame_count",
    "episode_credit_ranges",
    "generate_episode",
    "generate_series",
    "iter_episode_frames",
    "luminance_grey",
]

CREDIT_BLUE: tuple[int, int, int] = (0, 30, 255)
"""Background of the credits: HSV saturation 255/255, hue about 233 degrees."""
CREDIT_TEXT: tuple[int, int, int] = (238, 242, 255)
"""Text of the credits: white with a faint blue tint (hue about 226 degrees, saturation 17)."""
OUTLINE: tuple[int, int, int] = (25, 20, 30)
MIN_DRAWING_MSE = 60.0  # twice the dedup threshold plus margin: codec and resizing blur
"""Consecutive different drawings of a scene differ by at least this mean squared error."""
AUDIO_RATE = 22050
CREDIT_SECONDS = 2.0
"""Length of the opening and of the closing credits (shorter for very short episodes)."""


@dataclass(frozen=True)
class Character:
    """A member of the cast: a name, a shape and its fixed colour."""

    name: str
    shape: str
    colour: tuple[int, int, int]


CAST: tuple[Character, ...] = (
    Character("rosso", "round", (210, 45, 40)),
    Character("verde", "tall", (40, 126, 63)),  # same luminance as rosso: ambiguous in grey
    Character("giallo", "star", (245, 205, 50)),
    Character("viola", "diamond", (140, 80, 190)),
    Character("arancio", "fish", (245, 140, 40)),
)
AMBIGUOUS_PAIR: tuple[str, str] = ("rosso", "verde")
"""Two characters with equal grey level and different hues."""


@dataclass(frozen=True)
class Location:
    """A flat background: a wall or sky above a floor or grass line, and a prop."""

    name: str
    upper: tuple[int, int, int]
    lower: tuple[int, int, int]
    horizon: float  # fraction of the height where the lower colour begins
    prop: str


LOCATIONS: tuple[Location, ...] = (
    Location("meadow", (165, 208, 240), (112, 182, 82), 0.62, "sun_tree"),
    Location("kitchen", (240, 222, 150), (150, 100, 62), 0.70, "window"),
    Location("bedroom", (232, 172, 182), (122, 122, 134), 0.72, "picture"),
    Location("lab", (172, 216, 192), (204, 204, 192), 0.68, "shelf"),
)


class DemoFrame(NamedTuple):
    """One generated frame.

    Attributes:
        rgb: ``(height, width, 3)`` uint8 RGB frame (read-only; held frames share one array).
        is_credit: whether the frame belongs to the opening or closing credits.
        drawing_id: index of the drawing within the episode; equal for the frames of one held
            drawing (and for the static part of a credit screen), different otherwise.
        scene: index of the shot within the episode (the opening credits are shot 0, the
            closing credits the last); a new value is a hard cut.
    """

    rgb: np.ndarray
    is_credit: bool
    drawing_id: int
    scene: int = 0


@dataclass(frozen=True)
class EpisodeInfo:
    """One written episode of a series.

    Attributes:
        name: e.g. ``"episode01"``.
        colour_path: the colour video.
        bw_path: its black-and-white twin (grey as R = G = B, see :func:`bw_frame`).
        frame_count: number of frames in each of the two videos.
        credit_ranges: inclusive ``(first, last)`` frame index ranges of the credits.
    """

    name: str
    colour_path: Path
    bw_path: Path
    frame_count: int
    credit_ranges: tuple[tuple[int, int], ...]

    @property
    def credit_frames(self) -> list[int]:
        """Frame indices of every credit frame."""
        return [i for first, last in self.credit_ranges for i in range(first, last + 1)]


@dataclass(frozen=True)
class SeriesInfo:
    """What :func:`generate_series` wrote.

    Attributes:
        outdir: the output directory.
        manifest_path: ``outdir/manifest.json``.
        seed, width, height, fps: the generation parameters.
        episodes: one :class:`EpisodeInfo` per episode.
    """

    outdir: Path
    manifest_path: Path
    seed: int
    width: int
    height: int
    fps: Fraction
    episodes: list[EpisodeInfo] = field(default_factory=list)

    @property
    def colour_paths(self) -> list[Path]:
        """The colour episodes, in order."""
        return [episode.colour_path for episode in self.episodes]

    @property
    def bw_paths(self) -> list[Path]:
        """The black-and-white twins, in order."""
        return [episode.bw_path for episode in self.episodes]


# --------------------------------------------------------------------------------------------
# Colour helpers


def luminance_grey(rgb: np.ndarray) -> np.ndarray:
    """Reduce sRGB colours to grey with the same luminance (and so the same Lab L).

    :func:`vidcolor.color.grey_of_rgb` with the ``luminance`` model: the relative luminance
    ``Y`` of the linearised sRGB values is encoded back with the sRGB curve and rounded, so the
    grey has the colour's Lab L up to rounding.

    Args:
        rgb: ``(..., 3)`` uint8 sRGB values.

    Returns:
        ``(...)`` uint8 grey levels.

    Example:
        >>> int(luminance_grey(np.array([255, 255, 255], np.uint8)))
        255
    """
    return grey_of_rgb(np.asarray(rgb, dtype=np.uint8), "luminance")


def bw_frame(rgb: np.ndarray, grey: str = "luminance") -> np.ndarray:
    """The black-and-white twin of an RGB frame: its grey level as R = G = B.

    Args:
        rgb: ``(height, width, 3)`` uint8 RGB frame.
        grey: the grey model (:data:`vidcolor.color.GREY_MODELS`); the default
            ``luminance`` keeps each pixel's Lab L (:func:`luminance_grey`).

    Returns:
        ``(height, width, 3)`` uint8 grey frame.

    Raises:
        ValueError: an unknown grey model.
    """
    level = grey_of_rgb(np.asarray(rgb, dtype=np.uint8), grey)
    return np.repeat(level[..., None], 3, axis=2)


# --------------------------------------------------------------------------------------------
# Shapes (local coordinates: the character is about 1 unit tall, origin at its centre)


def _ellipse(cx: float, cy: float, rx: float, ry: float, points: int = 28) -> np.ndarray:
    angles = np.linspace(0.0, 2.0 * math.pi, points, endpoint=False)
    return np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], axis=1)


def _star(radius_out: float, radius_in: float, points: int = 5) -> np.ndarray:
    angles = np.arange(2 * points) * math.pi / points - math.pi / 2
    radii = np.where(np.arange(2 * points) % 2 == 0, radius_out, radius_in)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


_WHITE = (250, 250, 250)
_BLACK = (20, 20, 20)


def _eyes(y: float, spread: float, size: float) -> list[tuple[np.ndarray, tuple[int, int, int]]]:
    parts = []
    for x in (-spread, spread):
        parts.append((_ellipse(x, y, size, size * 1.2, 16), _WHITE))
        parts.append((_ellipse(x + size * 0.25, y + size * 0.2, size * 0.4, size * 0.5, 12),
                      _BLACK))
    return parts


def _character_parts(character: Character) -> list[tuple[np.ndarray, tuple[int, int, int]]]:
    """Polygons (local coordinates) and fill colours of a character, back to front."""
    c = character.colour
    if character.shape == "round":
        parts = [(_ellipse(-0.33, -0.38, 0.14, 0.14), c), (_ellipse(0.33, -0.38, 0.14, 0.14), c),
                 (_ellipse(0.0, 0.0, 0.45, 0.45, 40), c)]
        return parts + _eyes(-0.08, 0.16, 0.1)
    if character.shape == "tall":
        body = np.array([[-0.22, 0.5], [0.22, 0.5], [0.26, -0.2], [0.0, -0.5], [-0.26, -0.2]])
        return [(body, c)] + _eyes(-0.12, 0.1, 0.075)
    if character.shape == "star":
        return [(_star(0.5, 0.22), c)] + _eyes(-0.02, 0.09, 0.065)
    if character.shape == "diamond":
        body = np.array([[0.0, -0.5], [0.38, 0.0], [0.0, 0.5], [-0.38, 0.0]])
        return [(body, c)] + _eyes(-0.05, 0.12, 0.08)
    if character.shape == "fish":
        tail = np.array([[0.25, 0.0], [0.55, -0.25], [0.55, 0.25]])
        return [(tail, c), (_ellipse(-0.05, 0.0, 0.38, 0.25, 36), c)] + [
            (_ellipse(-0.2, -0.05, 0.07, 0.08, 16), _WHITE),
            (_ellipse(-0.22, -0.04, 0.035, 0.045, 12), _BLACK)]
    raise ValueError(f"unknown shape {character.shape!r}")


_PARTS = {character.name: _character_parts(character) for character in CAST}
_SHIFT = 4  # sub-pixel bits for cv2 drawing
_SCALE = 1 << _SHIFT


def _draw_polygon(image: np.ndarray, points: np.ndarray, colour: tuple[int, int, int],
                  outline: int) -> None:
    pts = [np.round(points * _SCALE).astype(np.int32)]
    cv2.fillPoly(image, pts, colour, cv2.LINE_AA, _SHIFT)
    if outline > 0:
        cv2.polylines(image, pts, True, OUTLINE, outline, cv2.LINE_AA, _SHIFT)


def _draw_character(image: np.ndarray, name: str, x: float, y: float, size: float,
                    angle: float) -> None:
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    rotation = np.array([[cos_a, sin_a], [-sin_a, cos_a]]) * size
    outline = max(1, round(size / 22))
    for points, colour in _PARTS[name]:
        # Eyes get a thin outline and pupils none, so that the faces stay readable when small.
        width = outline if colour not in (_WHITE, _BLACK) else (1 if colour == _WHITE else 0)
        _draw_polygon(image, points @ rotation + (x, y), colour, width)


def _rect(x: float, y: float, w: float, h: float) -> np.ndarray:
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])


def _draw_background(location: Location, width: int, height: int) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    horizon = round(location.horizon * height)
    image[:horizon] = location.upper
    image[horizon:] = location.lower
    line = max(1, round(height / 96))
    cv2.line(image, (0, horizon), (width, horizon), OUTLINE, line, cv2.LINE_AA)
    unit = height / 10
    if location.prop == "sun_tree":
        sun = _ellipse(width - 1.6 * unit, 1.5 * unit, 0.8 * unit, 0.8 * unit, 32)
        _draw_polygon(image, sun, (250, 220, 90), line)
        trunk = np.array([[0.9, 0], [1.4, 0], [1.4, 2.2], [0.9, 2.2]]) * unit + (0, horizon -
                                                                                  2.2 * unit)
        _draw_polygon(image, trunk, (120, 80, 45), line)
        _draw_polygon(image, _ellipse(1.15 * unit, horizon - 3.0 * unit, 1.2 * unit, 1.3 * unit),
                      (46, 110, 52), line)
    elif location.prop == "window":
        frame = np.array([[0, 0], [2.6, 0], [2.6, 2.2], [0, 2.2]]) * unit + (width * 0.62, unit)
        _draw_polygon(image, frame, (175, 214, 236), line * 2)
        cv2.line(image, (round(width * 0.62 + 1.3 * unit), round(unit)),
                 (round(width * 0.62 + 1.3 * unit), round(3.2 * unit)), OUTLINE, line)
    elif location.prop == "picture":
        frame = _rect(width * 0.15, 1.2 * unit, 2.0 * unit, 1.5 * unit)
        _draw_polygon(image, frame, (250, 240, 200), line * 2)
        _draw_polygon(image, _ellipse(width * 0.15 + unit, 1.95 * unit, 0.4 * unit, 0.4 * unit),
                      (235, 120, 150), line)
    elif location.prop == "shelf":
        shelf = _rect(width * 0.5, 2.4 * unit, 3.2 * unit, 0.3 * unit)
        _draw_polygon(image, shelf, (140, 96, 60), line)
        for k, colour in enumerate(((230, 230, 240), (200, 170, 120), (250, 250, 250))):
            jar = np.array([[0, 0], [0.6, 0], [0.6, 0.9], [0, 0.9]]) * unit + (
                width * 0.5 + (0.3 + 1.0 * k) * unit, 1.5 * unit)
            _draw_polygon(image, jar, colour, line)
    return image


# --------------------------------------------------------------------------------------------
# Episode planning


def episode_frame_count(seconds: float, fps: Fraction) -> int:
    """Number of frames of an episode of ``seconds`` at ``fps``."""
    return max(1, round(seconds * fps))


def _credit_length(frame_count: int, fps: Fraction) -> int:
    return max(2, min(round(CREDIT_SECONDS * fps), frame_count // 5))


def episode_credit_ranges(seconds: float, fps: Fraction) -> tuple[tuple[int, int], ...]:
    """Inclusive frame ranges of the opening and closing credits of an episode."""
    count = episode_frame_count(seconds, fps)
    credits = _credit_length(count, fps)
    return ((0, credits - 1), (count - credits, count - 1))


def _check_args(seconds: float, width: int, height: int, fps: Fraction) -> Fraction:
    fps = Fraction(fps)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if width < 32 or height < 24:
        raise ValueError(f"frame size must be at least 32x24, got {width}x{height}")
    if episode_frame_count(seconds, fps) < 10:
        raise ValueError(f"an episode needs at least 10 frames; {seconds} s at {fps} fps is "
                         "too short")
    return fps


@dataclass
class _Actor:
    name: str
    x0: float
    y0: float
    vx: float
    vy: float
    size: float
    scale_amp: float
    scale_freq: float
    angle0: float
    spin: float

    def pose(self, t: float, width: int, low: float, high: float) -> tuple[float, float,
                                                                             float, float]:
        margin = self.size * 0.5
        x = _bounce(self.x0 + self.vx * t, margin, width - margin)
        y = _bounce(self.y0 + self.vy * t, low, high)
        size = self.size * (1.0 + self.scale_amp * math.sin(2 * math.pi * self.scale_freq * t))
        return x, y, size, self.angle0 + self.spin * t


def _bounce(value: float, low: float, high: float) -> float:
    """Fold ``value`` into ``[low, high]`` like a ball bouncing between two walls."""
    span = high - low
    if span <= 0:
        return (low + high) / 2
    phase = (value - low) % (2 * span)
    return low + (phase if phase <= span else 2 * span - phase)


def _plan_scene(rng: np.random.Generator, width: int, height: int) -> tuple[Location,
                                                                            list[_Actor]]:
    location = LOCATIONS[int(rng.integers(len(LOCATIONS)))]
    count = int(rng.integers(1, 4))
    names = rng.choice(len(CAST), size=count, replace=False)
    actors = []
    for index in names:
        size = float(rng.uniform(0.24, 0.36)) * height
        speed = float(rng.uniform(0.35, 0.8)) * width  # px per second
        direction = float(rng.uniform(-0.5, 0.5)) + (0 if rng.random() < 0.5 else math.pi)
        actors.append(_Actor(
            name=CAST[int(index)].name,
            x0=float(rng.uniform(0.15, 0.85)) * width,
            y0=float(rng.uniform(0.45, 0.8)) * height,
            vx=speed * math.cos(direction),
            vy=speed * math.sin(direction) * 0.3,
            size=size,
            scale_amp=float(rng.uniform(0.0, 0.2)),
            scale_freq=float(rng.uniform(0.2, 0.8)),
            angle0=float(rng.uniform(-0.3, 0.3)),
            spin=float(rng.choice([0.0, 0.0, rng.uniform(-2.5, 2.5)])),
        ))
    return location, actors


def _render_scene(location: Location, background: np.ndarray, actors: list[_Actor], t: float,
                  width: int, height: int) -> np.ndarray:
    image = background.copy()
    low = height * (location.horizon - 0.2)
    high = height * 0.84
    for actor in actors:
        x, y, size, angle = actor.pose(t, width, low, min(high, height - actor.size * 0.45))
        _draw_character(image, actor.name, x, y, size, angle)
    return image


def _credit_card(lines: list[str], width: int, height: int) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    image[:] = CREDIT_BLUE
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = height / 240
    thickness = max(1, round(height / 96))
    line_height = height / 7
    top = height / 2 - line_height * (len(lines) - 1) / 2
    for k, text in enumerate(lines):
        fitted = scale
        (w, h), _ = cv2.getTextSize(text, font, fitted, thickness)
        if w > width * 0.9:
            fitted = scale * width * 0.9 / w
            (w, h), _ = cv2.getTextSize(text, font, fitted, thickness)
        origin = (round((width - w) / 2), round(top + k * line_height + h / 2))
        cv2.putText(image, text, origin, font, fitted, CREDIT_TEXT, thickness, cv2.LINE_AA)
    return image


def _faded(card: np.ndarray, alpha: float) -> np.ndarray:
    return np.round(card.astype(np.float32) * alpha).astype(np.uint8)


def _episode_rng(seed: int, episode: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(episode), 0x51DE]))


def iter_episode_frames(*, seed: int = 0, episode: int = 0, seconds: float = 20.0,
                        width: int = 256, height: int = 192,
                        fps: Fraction = Fraction(24)) -> Iterator[DemoFrame]:
    """Generate the frames of one episode, deterministically, without writing anything.

    Args:
        seed: series seed; the same ``(seed, episode)`` always gives the same frames.
        episode: episode index (0-based).
        seconds: episode length, credits included.
        width, height: frame size in pixels (at least 32x24).
        fps: frame rate; drawings are held for 2 or 3 frames at any rate.

    Yields:
        :class:`DemoFrame` ``(rgb, is_credit, drawing_id)`` for each of
        :func:`episode_frame_count` frames.

    Raises:
        ValueError: the size or length is too small, or ``fps`` is not positive.

    Example:
        >>> frames = list(iter_episode_frames(seconds=1.0, width=64, height=48, fps=Fraction(12)))
        >>> len(frames), frames[0].rgb.shape, frames[0].is_credit
        (12, (48, 64, 3), True)
    """
    fps = _check_args(seconds, width, height, fps)
    rng = _episode_rng(seed, episode)
    count = episode_frame_count(seconds, fps)
    credits = _credit_length(count, fps)
    fade = max(1, min(round(0.4 * fps), credits // 3))
    drawing_id = 0
    scene = 0

    def credit_frames(card: np.ndarray, fade_in: bool) -> Iterator[DemoFrame]:
        nonlocal drawing_id
        card.flags.writeable = False
        previous_alpha: float | None = None
        for k in range(credits):
            step = k if fade_in else credits - 1 - k
            # Never fully black: every credit frame shows the blue (alpha > 0).
            alpha = (step + 1) / (fade + 1) if step < fade else 1.0
            if previous_alpha is not None and alpha != previous_alpha:
                drawing_id += 1
            if alpha < 1.0:
                frame = _faded(card, alpha)
                frame.flags.writeable = False
            else:
                frame = card
            yield DemoFrame(frame, True, drawing_id, scene)
            previous_alpha = alpha
        drawing_id += 1

    title = [f"EPISODE {episode + 1}", "THE SHAPES SHOW"]
    yield from credit_frames(_credit_card(title, width, height), fade_in=True)

    story = count - 2 * credits
    produced = 0
    while produced < story:
        remaining = story - produced
        length = int(rng.integers(round(1.5 * fps), round(4 * fps) + 1))
        length = max(length, 6)
        if remaining - length < 6:
            length = remaining
        location, actors = _plan_scene(rng, width, height)
        background = _draw_background(location, width, height)
        scene += 1
        previous: np.ndarray | None = None
        clock = 0.0
        done = 0
        while done < length:
            hold = min(int(rng.integers(2, 4)), length - done)
            if length - done - hold == 1:  # never leave a lone frame for the last drawing
                hold = length - done if length - done <= 3 else 2
            frame = _render_scene(location, background, actors, clock, width, height)
            for _ in range(6):
                if previous is None or frame_mse(frame, previous) > MIN_DRAWING_MSE:
                    break
                clock += 1.0 / float(fps)
                frame = _render_scene(location, background, actors, clock, width, height)
            frame.flags.writeable = False
            for _ in range(hold):
                yield DemoFrame(frame, False, drawing_id, scene)
            drawing_id += 1
            previous = frame
            clock += hold / float(fps)
            done += hold
        produced += length

    closing = ["THE END", "MADE WITH VIDCOLOR"]
    scene += 1
    yield from credit_frames(_credit_card(closing, width, height), fade_in=False)


# --------------------------------------------------------------------------------------------
# Audio and files


def episode_audio(*, seed: int = 0, episode: int = 0, seconds: float = 20.0,
                  rate: int = AUDIO_RATE) -> np.ndarray:
    """A quiet, deterministic chord for an episode.

    Args:
        seed, episode: pick the chord (a major triad on a root between A3 and G#4).
        seconds: duration.
        rate: sample rate in Hz.

    Returns:
        ``(2, samples)`` float32 stereo samples in ``[-0.3, 0.3]``.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(episode), 0xA0D1]))
    root = 220.0 * 2.0 ** (int(rng.integers(12)) / 12)
    samples = max(1, round(seconds * rate))
    t = np.arange(samples, dtype=np.float64) / rate
    chord = sum(0.08 * np.sin(2 * math.pi * root * 2 ** (semitones / 12) * t)
                for semitones in (0, 4, 7))
    # A gentle 2 Hz tremolo so that the track is not a flat drone.
    left = chord * (0.8 + 0.2 * np.sin(2 * math.pi * 2.0 * t))
    right = chord * (0.8 + 0.2 * np.cos(2 * math.pi * 2.0 * t))
    return np.stack([left, right]).astype(np.float32)


def generate_episode(colour_path: str | os.PathLike[str],
                     bw_path: str | os.PathLike[str] | None = None, *, seed: int = 0,
                     episode: int = 0, seconds: float = 20.0, width: int = 256,
                     height: int = 192, fps: Fraction = Fraction(24), audio: bool = True,
                     grey: str = "luminance", film: FilmWear | None = None,
                     progress: bool = False) -> int:
    """Write one episode (and optionally its black-and-white twin) as video files.

    Frames are generated on the fly, so memory use does not grow with ``seconds``: this is
    also the way to make a long episode for a memory benchmark.

    Args:
        colour_path: output colour video (container from the extension, e.g. ``.mkv``).
        bw_path: output black-and-white twin, or None for none.
        seed, episode, seconds, width, height, fps: as in :func:`iter_episode_frames`.
        audio: add the episode's chord (:func:`episode_audio`) as an audio track.
        grey: how the twin is made grey (:func:`bw_frame`, :data:`vidcolor.color.GREY_MODELS`).
        film: wear the twin like a film print (:func:`vidcolor.film.film_frame`, seeded with
            ``(seed, episode)`` and the frame's index); None (default) keeps it clean. The
            colour video is the same either way.
        progress: show a progress bar.

    Returns:
        The number of frames written to each file.

    Raises:
        OutputError: a file cannot be written.
        ValueError: invalid size, length, frame rate or grey model.
    """
    from vidcolor.video.writer import VideoWriter

    fps = _check_args(seconds, width, height, fps)
    check_grey_model(grey)
    count = episode_frame_count(seconds, fps)
    duration = float(count / fps)
    sound = (episode_audio(seed=seed, episode=episode, seconds=duration), AUDIO_RATE) \
        if audio else None
    writers = [VideoWriter(colour_path, fps, width, height, audio=sound)]
    if bw_path is not None:
        writers.append(VideoWriter(bw_path, fps, width, height, audio=sound))
    written = 0
    bw_cache: tuple[np.ndarray, np.ndarray] | None = None
    with writers[0] as colour_writer, \
            (writers[1] if len(writers) > 1 else _NullWriter()) as bw_writer, \
            _progress_bar(count, Path(colour_path).name, progress) as bar:
        for index, frame in enumerate(iter_episode_frames(
                seed=seed, episode=episode, seconds=seconds, width=width, height=height,
                fps=fps)):
            colour_writer.write(frame.rgb)
            if bw_path is not None:
                if bw_cache is None or bw_cache[0] is not frame.rgb:  # held frames share one
                    bw_cache = (frame.rgb, bw_frame(frame.rgb, grey))
                twin = bw_cache[1] if film is None else film_frame(bw_cache[1], index,
                                                                   (seed, episode), film)
                bw_writer.write(twin)
            written += 1
            bar.update(1)
    return written


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    """A progress bar for ``total`` frames (a tqdm from :func:`vidcolor.progress.bar`)."""
    return progress.bar(total=total, desc=desc, unit="frame", enabled=enabled)


class _NullWriter:
    def __enter__(self) -> _NullWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, rgb: np.ndarray) -> None:  # pragma: no cover - never called
        return None


def generate_series(outdir: str | os.PathLike[str], *, seed: int = 0, episodes: int = 4,
                    seconds: float = 20.0, width: int = 256, height: int = 192,
                    fps: Fraction = Fraction(24), grey: str = "luminance",
                    film: FilmWear | None = None, progress: bool = False) -> SeriesInfo:
    """Write a synthetic cartoon series: colour episodes, their black-and-white twins, a manifest.

    Files: ``episodeNN.mkv`` (colour, with audio), ``episodeNN_bw.mkv`` (its grey twin, same
    audio) and ``manifest.json`` (parameters, grey model, film wear, files, credit frame
    ranges, cast, locations).

    Args:
        outdir: output directory (created if needed).
        seed: the whole series is a function of the seed and the other arguments.
        episodes: number of episodes.
        seconds: length of each episode, credits included.
        width, height: frame size.
        fps: frame rate.
        grey: how the twins are made grey (:data:`vidcolor.color.GREY_MODELS`); the default
            ``luminance`` keeps each pixel's Lab L, ``bt601``/``bt709`` make the luma an
            archive's black-and-white copy has.
        film: wear the twins like a film print (:class:`vidcolor.film.FilmWear`: grain,
            flicker, weave, dust, scratches; seeded by ``seed`` and the episode); None (the
            default) keeps them clean. The colour episodes are the same either way.
        progress: show progress bars.

    Returns:
        A :class:`SeriesInfo` listing the files and the credit frames of each episode.

    Raises:
        OutputError: ``outdir`` cannot be created or written.
        ValueError: invalid counts, size, length, frame rate or grey model.

    Example:
        >>> info = generate_series("demo", episodes=2, seconds=5)  # doctest: +SKIP
        >>> info.colour_paths  # doctest: +SKIP
        [PosixPath('demo/episode01.mkv'), PosixPath('demo/episode02.mkv')]
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    fps = _check_args(seconds, width, height, fps)
    check_grey_model(grey)
    if os.path.lexists(outdir) and not os.path.isdir(outdir):
        raise OutputError(f"{outdir}: exists and is not a folder; give another output folder")
    directory = fsutil.ensure_writable_dir(outdir)
    info = SeriesInfo(outdir=directory, manifest_path=directory / "manifest.json", seed=seed,
                      width=width, height=height, fps=fps)
    credit_ranges = episode_credit_ranges(seconds, fps)
    for index in range(episodes):
        name = f"episode{index + 1:02d}"
        colour_path = directory / f"{name}.mkv"
        bw_path = directory / f"{name}_bw.mkv"
        log.info("writing %s and %s", colour_path, bw_path.name)
        try:
            count = generate_episode(colour_path, bw_path, seed=seed, episode=index,
                                     seconds=seconds, width=width, height=height, fps=fps,
                                     grey=grey, film=film, progress=progress)
        except OSError as exc:
            raise OutputError(f"{colour_path}: cannot write ({exc.strerror or exc})") from exc
        info.episodes.append(EpisodeInfo(name, colour_path, bw_path, count, credit_ranges))
    manifest = {
        "generator": "vidcolor.demo",
        "seed": seed,
        "width": width,
        "height": height,
        "fps": str(fps),
        "seconds": seconds,
        "audio_rate": AUDIO_RATE,
        "grey": grey,
        "film": None if film is None else film.as_dict(),
        "episodes": [{
            "name": episode.name,
            "colour": episode.colour_path.name,
            "bw": episode.bw_path.name,
            "frame_count": episode.frame_count,
            "credit_ranges": [list(r) for r in episode.credit_ranges],
        } for episode in info.episodes],
        "cast": [{"name": c.name, "shape": c.shape, "rgb": list(c.colour)} for c in CAST],
        "ambiguous_pair": list(AMBIGUOUS_PAIR),
        "locations": [location.name for location in LOCATIONS],
    }
    fsutil.write_json_atomic(info.manifest_path, manifest)
    return info
