"""The scenes (shots) of the demo series: each planned from the episode's random generator (a
location, one to three of the cast, how each moves) and drawn at any time into the scene."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vidcolor.demo.cast import CAST, LOCATIONS, Location
from vidcolor.demo.drawing import draw_background, draw_character


@dataclass
class Actor:
    """A member of the cast in a scene: where it starts and how it moves, turns and breathes."""

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
        """Where it is ``t`` seconds into the scene: ``(x, y, size, angle)``, bouncing between
        the frame's sides and between the heights ``low`` and ``high``."""
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


@dataclass(frozen=True)
class Scene:
    """A scene: its location, its actors and the background drawn once for it."""

    location: Location
    actors: list[Actor]
    background: np.ndarray
    width: int
    height: int

    def render(self, t: float) -> np.ndarray:
        """The drawing at ``t`` seconds into the scene: the actors posed over the background."""
        image = self.background.copy()
        low = self.height * (self.location.horizon - 0.2)
        high = self.height * 0.84
        for actor in self.actors:
            x, y, size, angle = actor.pose(t, self.width, low,
                                           min(high, self.height - actor.size * 0.45))
            draw_character(image, actor.name, x, y, size, angle)
        return image


def plan_scene(rng: np.random.Generator, width: int, height: int) -> Scene:
    """The next scene of an episode, drawn from ``rng``: a location and one to three actors."""
    location = LOCATIONS[int(rng.integers(len(LOCATIONS)))]
    count = int(rng.integers(1, 4))
    names = rng.choice(len(CAST), size=count, replace=False)
    actors = []
    for index in names:
        size = float(rng.uniform(0.24, 0.36)) * height
        speed = float(rng.uniform(0.35, 0.8)) * width  # px per second
        direction = float(rng.uniform(-0.5, 0.5)) + (0 if rng.random() < 0.5 else math.pi)
        actors.append(Actor(
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
    return Scene(location, actors, draw_background(location, width, height), width, height)
