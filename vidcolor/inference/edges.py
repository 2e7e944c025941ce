"""Anti-aliased edges painted as blends of the two fills they separate (part of refinement).

A drawn cartoon edge is anti-aliased: the pixels of the ramp between a fill and the ink (or
another fill) are linear-light mixes of the two colours, so their lightness lies between the
two regions'. Painting each ramp pixel with the colour of whichever segment it fell into gives
it one colour or the other — and when the segment boundary moves by a pixel from one frame to
the next, the ramp flickers between them. Instead, a pixel that lies between two regions of
different lightness within :data:`RADIUS` pixels takes the linear-RGB blend of their colours
whose luminance is its own (the blend's share ``α`` follows from ``Y = α Y_a + (1 - α) Y_b``):
it depends on which regions are near, not on the exact position of the boundary, and it is how
the ramp was drawn.

Pure numpy/OpenCV: runs in the worker processes.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidcolor.color import Y_WEIGHTS
from vidcolor.color.frames import lab_to_linear, linear_to_lab

#: Ramps are looked for within this many pixels of a region boundary.
RADIUS = 2
#: Two regions whose lightness differs by less than this are not an edge to unmix (L units).
MIN_STEP = 4.0
_SCALE = 65536.0  # a region's key: round(100 L) * _SCALE + label (exact in float64)


def unmix_edges(light: np.ndarray, labels: np.ndarray, region_light: np.ndarray,
                colours: np.ndarray, radius: int = RADIUS) -> np.ndarray:
    """Full-resolution ab of region colours, with anti-aliased ramps blended.

    Args:
        light: ``(H, W)`` L of the frame.
        labels: ``(H, W)`` compact region labels.
        region_light: ``(R,)`` each region's lightness.
        colours: ``(R, 2)`` each region's ab.
        radius: how far from a pixel its two regions are looked for.

    Returns:
        ``(H, W, 2)`` float32 ab: the region colours, and on a ramp between a lighter region a
        and a darker region b (``L_b < L < L_a``) the ab of the linear-RGB mix of a and b with
        the pixel's luminance.

    >>> light = np.array([[10.0, 30.0, 50.0]], np.float32)
    >>> labels = np.array([[0, 0, 1]])
    >>> ab = unmix_edges(light, labels, np.array([10.0, 50.0]),
    ...                  np.array([[0.0, 0.0], [60.0, 40.0]]), radius=1)
    >>> ab[0, 0].tolist(), [round(float(v)) for v in ab[0, 1]], ab[0, 2].tolist()
    ([0.0, 0.0], [37, 23], [60.0, 40.0])
    """
    colours = np.asarray(colours, np.float32)
    painted = colours[labels]
    if len(colours) < 2:
        return painted
    region_light = np.asarray(region_light, np.float64)
    key = np.rint(region_light * 100.0)[labels] * _SCALE + labels
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    brightest, darkest = cv2.dilate(key, kernel), cv2.erode(key, kernel)
    light_a, light_b = np.floor(brightest / _SCALE) / 100.0, np.floor(darkest / _SCALE) / 100.0
    ramp = (light_a - light_b >= MIN_STEP) & (light > light_b) & (light < light_a)
    if not ramp.any():
        return painted
    region_a = np.mod(brightest[ramp], _SCALE).astype(np.intp)
    region_b = np.mod(darkest[ramp], _SCALE).astype(np.intp)
    linear = lab_to_linear(np.column_stack([region_light, colours]))  # (R, 3)
    luminance = linear @ Y_WEIGHTS
    pixel = lab_to_linear(np.column_stack([light[ramp], np.zeros((int(ramp.sum()), 2))]))
    pixel_y = pixel @ Y_WEIGHTS
    y_a, y_b = luminance[region_a], luminance[region_b]
    alpha = np.clip((pixel_y - y_b) / np.maximum(y_a - y_b, 1e-9), 0.0, 1.0)[:, None]
    mix = alpha * linear[region_a] + (1.0 - alpha) * linear[region_b]
    painted[ramp] = linear_to_lab(mix)[:, 1:]
    return painted
