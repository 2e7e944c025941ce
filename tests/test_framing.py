"""The framing of a black-and-white copy on its colour original (vidcolor.framing), on hand-made
arrays: cartoon-like scenes (flat shapes with dark outlines) seen through two framings."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidcolor.framing import Framing, find_bars, find_framing, warp_to_colour

#: The colour's frame and where it lies in the scene (the scene reaches beyond it, so that a
#: copy may show more than the colour does).
SIZE, ORIGIN = (240, 180), (40, 30)


def _scene(seed: int, width: int = 320, height: int = 240) -> np.ndarray:
    """Flat grey shapes with dark outlines on a light ground."""
    rng = np.random.default_rng(seed)
    scene = np.full((height, width), 215, np.uint8)
    for _ in range(14):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        level = int(rng.integers(60, 200))
        if rng.random() < 0.5:
            radius = int(rng.integers(10, 45))
            cv2.circle(scene, centre, radius, level, -1)
            cv2.circle(scene, centre, radius, 20, 2)
        else:
            corner = (centre[0] + int(rng.integers(15, 80)), centre[1] + int(rng.integers(15, 60)))
            cv2.rectangle(scene, centre, corner, level, -1)
            cv2.rectangle(scene, centre, corner, 20, 2)
    return scene


def _views(framing: Framing, size: tuple[int, int], seeds: range = range(4),
           bars: tuple[int, int] = (0, 0)) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The colour's grey and the copy's (``size``, ``bars`` rows at top and bottom black) of
    a few scenes, the copy showing colour point p at ``framing``'s image of it."""
    colour, copies = [], []
    (sx, sy), (tx, ty) = framing.scale, framing.shift
    # scene pixel centre -> copy pixel centre, as OpenCV counts: x' + .5 = s (x + .5 - o) + t
    matrix = np.array([[sx, 0, sx * (0.5 - ORIGIN[0]) + tx - 0.5],
                       [0, sy, sy * (0.5 - ORIGIN[1]) + ty - 0.5]])
    for seed in seeds:
        scene = _scene(seed)
        colour.append(scene[ORIGIN[1]:ORIGIN[1] + SIZE[1], ORIGIN[0]:ORIGIN[0] + SIZE[0]])
        copy = cv2.warpAffine(scene, matrix, size, flags=cv2.INTER_LINEAR)
        copy[:bars[0]], copy[size[1] - bars[1]:] = 0, 0
        copies.append(copy)
    return colour, copies


FRAMINGS = {
    "same": (Framing(), SIZE, (0, 0)),
    "zoomed in, off-centre": (Framing((1.06, 1.06), (-9.0, -3.5)), SIZE, (0, 0)),
    "zoomed out": (Framing((0.95, 0.95), (10.0, 6.0)), SIZE, (0, 0)),
    "anamorphic, smaller": (Framing((0.75, 0.62), (-4.0, 2.0)), (176, 112), (0, 0)),
    "letterboxed, larger": (Framing((1.5, 1.5), (0.0, 30.0)), (360, 330), (30, 30)),
    # the gradient step alone, from the plain framing, stops 15 px short of this one
    "cropped aside": (Framing((1.0, 1.0), (-25.0, 0.0)), SIZE, (0, 0)),
}


@pytest.mark.parametrize("name", list(FRAMINGS))
def test_find_framing_recovers_the_framing(name: str) -> None:
    truth, size, bars = FRAMINGS[name]
    colour, copies = _views(truth, size, bars=bars)
    picture = find_bars(np.stack(copies))
    assert picture == (0, bars[0], size[0], size[1] - bars[1])
    found = find_framing(colour, copies, picture)
    assert found.scale == pytest.approx(truth.scale, rel=0.005)
    assert found.shift == pytest.approx(truth.shift, abs=0.5)
    assert found.distance(truth, SIZE) < 0.5
    # resampled onto the colour, the copy is the colour (outlines, fills) where it shows it
    box = found.overlap(SIZE, picture, margin=1.0)
    back = warp_to_colour(copies[0], found, box).astype(int)
    inside = colour[0][box[1]:box[3], box[0]:box[2]].astype(int)
    assert np.median(np.abs(back - inside)) <= 1


def test_find_bars_ignores_dark_pictures_and_specks() -> None:
    frames = np.full((5, 40, 60), 30, np.uint8)  # dark throughout: no bars
    assert find_bars(frames) == (0, 0, 60, 40)
    frames[:, 4:36, 3:] = 180
    frames[:, 1, 10] = 255  # a bright speck in a bar row does not make it picture
    assert find_bars(frames) == (3, 4, 60, 36)


def test_framing_rescaled_and_described() -> None:
    framing = Framing((1.0625, 1.0556), (-5.0, -1.0))
    doubled = framing.rescaled((0.5, 0.5), (0.5, 0.5))
    assert doubled.scale == pytest.approx(framing.scale) and doubled.shift == (-2.5, -0.5)
    assert framing.describe() == "scale 1.062 x 1.056, shift (-5.0, -1.0) px"
    assert Framing().describe() == "scale 1, shift (0.0, 0.0) px"
    assert Framing.stretch((128, 72), (0, 9, 96, 63)) == Framing((0.75, 0.75), (0.0, 9.0))


@pytest.mark.parametrize("colour_bars", [24, 30])
def test_find_framing_with_bars_in_the_colour(colour_bars: int) -> None:
    """The colour letterboxed too: a copy boxed alike (the same framing), and a copy of its
    picture alone (240x120: the colour's picture fitted to the copy's width)."""
    if colour_bars == 24:
        truth, size, bars = Framing(), SIZE, (24, 24)
    else:
        truth, size, bars = Framing((1.0, 1.0), (0.0, -30.0)), (240, 120), (0, 0)
    colour, copies = _views(truth, size, bars=bars)
    for frame in colour:
        frame[:colour_bars], frame[SIZE[1] - colour_bars:] = 0, 0
    found = find_framing(colour, copies, find_bars(np.stack(copies)))
    assert found.distance(truth, SIZE) < 0.1
