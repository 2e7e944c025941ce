"""Drawing the demo series' pictures with OpenCV: the characters, the locations' backgrounds
and the credit cards.

Shapes are polygons in local coordinates (a character is about 1 unit tall, origin at its
centre), filled and outlined with anti-aliasing at sub-pixel precision.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from vidcolor.demo.cast import CAST, Character, Location

CREDIT_BLUE: tuple[int, int, int] = (0, 30, 255)
"""Background of the credits: HSV saturation 255/255, hue about 233 degrees."""
CREDIT_TEXT: tuple[int, int, int] = (238, 242, 255)
"""Text of the credits: white with a faint blue tint (hue about 226 degrees, saturation 17)."""
OUTLINE: tuple[int, int, int] = (25, 20, 30)


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


def draw_character(image: np.ndarray, name: str, x: float, y: float, size: float,
                    angle: float) -> None:
    """Draw the character ``name`` onto ``image``, centred at ``(x, y)``, ``size`` px tall,
    turned by ``angle`` radians."""
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    rotation = np.array([[cos_a, sin_a], [-sin_a, cos_a]]) * size
    outline = max(1, round(size / 22))
    for points, colour in _PARTS[name]:
        # Eyes get a thin outline and pupils none, so that the faces stay readable when small.
        width = outline if colour not in (_WHITE, _BLACK) else (1 if colour == _WHITE else 0)
        _draw_polygon(image, points @ rotation + (x, y), colour, width)


def _rect(x: float, y: float, w: float, h: float) -> np.ndarray:
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])


def draw_background(location: Location, width: int, height: int) -> np.ndarray:
    """A location's background: its two colours split at the horizon, and its prop."""
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


def credit_card(lines: list[str], width: int, height: int) -> np.ndarray:
    """A credit screen: ``lines`` of text centred on :data:`CREDIT_BLUE`."""
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


def faded(card: np.ndarray, alpha: float) -> np.ndarray:
    """``card`` darkened towards black: ``alpha`` 1 keeps it, 0 is black."""
    return np.round(card.astype(np.float32) * alpha).astype(np.uint8)
