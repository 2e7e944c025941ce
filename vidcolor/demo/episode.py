"""An episode of the demo series as frames, generated deterministically from the seed
(:func:`iter_episode_frames`): opening credits, scenes of held drawings, closing credits."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from vidcolor.demo.drawing import credit_card, faded
from vidcolor.demo.scenes import Scene, plan_scene
from vidcolor.extract import frame_mse

MIN_DRAWING_MSE = 60.0  # twice the dedup threshold plus margin: codec and resizing blur
"""Consecutive different drawings of a scene differ by at least this mean squared error."""
CREDIT_SECONDS = 2.0
"""Length of the opening and of the closing credits (shorter for very short episodes)."""


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


def check_episode_args(seconds: float, width: int, height: int, fps: Fraction) -> Fraction:
    """``fps`` as a Fraction, after checking that an episode of this size and length can be
    made; ValueError otherwise."""
    fps = Fraction(fps)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if width < 32 or height < 24:
        raise ValueError(f"frame size must be at least 32x24, got {width}x{height}")
    if episode_frame_count(seconds, fps) < 10:
        raise ValueError(f"an episode needs at least 10 frames; {seconds} s at {fps} fps is "
                         "too short")
    return fps


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
    fps = check_episode_args(seconds, width, height, fps)
    rng = _episode_rng(seed, episode)
    count = episode_frame_count(seconds, fps)
    credits = _credit_length(count, fps)
    fade = max(1, min(round(0.4 * fps), credits // 3))
    scene = 0
    title = credit_card([f"EPISODE {episode + 1}", "THE SHAPES SHOW"], width, height)
    drawing_id = yield from _credit_frames(title, credits, fade, fade_in=True, drawing_id=0,
                                           scene=scene)
    story = count - 2 * credits
    produced = 0
    while produced < story:
        length = _scene_length(rng, fps, remaining=story - produced)
        scene += 1
        drawing_id = yield from _scene_frames(plan_scene(rng, width, height), length, rng, fps,
                                              drawing_id=drawing_id, scene_index=scene)
        produced += length
    closing = credit_card(["THE END", "MADE WITH VIDCOLOR"], width, height)
    yield from _credit_frames(closing, credits, fade, fade_in=False, drawing_id=drawing_id,
                              scene=scene + 1)


def _credit_frames(card: np.ndarray, credits: int, fade: int, *, fade_in: bool, drawing_id: int,
                   scene: int) -> Generator[DemoFrame, None, int]:
    """The ``credits`` frames of a credit screen, faded in from (or out to) black over ``fade``
    frames; each fade step is a drawing of its own. Returns the next free drawing id."""
    card.flags.writeable = False
    previous_alpha: float | None = None
    for k in range(credits):
        step = k if fade_in else credits - 1 - k
        # Never fully black: every credit frame shows the blue (alpha > 0).
        alpha = (step + 1) / (fade + 1) if step < fade else 1.0
        if previous_alpha is not None and alpha != previous_alpha:
            drawing_id += 1
        if alpha < 1.0:
            frame = faded(card, alpha)
            frame.flags.writeable = False
        else:
            frame = card
        yield DemoFrame(frame, True, drawing_id, scene)
        previous_alpha = alpha
    return drawing_id + 1


def _scene_length(rng: np.random.Generator, fps: Fraction, *, remaining: int) -> int:
    """Frames of the next scene: 1.5 to 4 seconds, at least 6 frames, and all of the story that
    is left (``remaining`` frames) when less than 6 frames would follow it."""
    length = int(rng.integers(round(1.5 * fps), round(4 * fps) + 1))
    length = max(length, 6)
    if remaining - length < 6:
        length = remaining
    return length


def _hold_length(rng: np.random.Generator, left: int) -> int:
    """How many frames the next drawing is held: 2 or 3 (animation on twos and threes), never
    leaving a lone frame for the scene's last drawing; ``left`` frames of the scene remain."""
    hold = min(int(rng.integers(2, 4)), left)
    if left - hold == 1:  # never leave a lone frame for the last drawing
        hold = left if left <= 3 else 2
    return hold


def _scene_frames(scene: Scene, length: int, rng: np.random.Generator, fps: Fraction, *,
                  drawing_id: int, scene_index: int) -> Generator[DemoFrame, None, int]:
    """The ``length`` frames of a scene, each drawing held for 2 or 3 frames. Returns the next
    free drawing id."""
    previous: np.ndarray | None = None
    clock = 0.0
    done = 0
    while done < length:
        hold = _hold_length(rng, length - done)
        frame, clock = _distinct_drawing(scene, clock, previous, fps)
        frame.flags.writeable = False
        for _ in range(hold):
            yield DemoFrame(frame, False, drawing_id, scene_index)
        drawing_id += 1
        previous = frame
        clock += hold / float(fps)
        done += hold
    return drawing_id


def _distinct_drawing(scene: Scene, clock: float, previous: np.ndarray | None, fps: Fraction
                      ) -> tuple[np.ndarray, float]:
    """The scene's drawing at ``clock`` seconds, moved on a frame at a time (at most 6) until it
    differs from ``previous`` by more than :data:`MIN_DRAWING_MSE`; and the clock it was drawn
    at."""
    frame = scene.render(clock)
    for _ in range(6):
        if previous is None or frame_mse(frame, previous) > MIN_DRAWING_MSE:
            break
        clock += 1.0 / float(fps)
        frame = scene.render(clock)
    return frame, clock
