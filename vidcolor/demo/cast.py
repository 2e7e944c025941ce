"""Who and where: the recurring cast of the demo series and its locations, each always in its
own colours."""

from __future__ import annotations

from dataclasses import dataclass


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
