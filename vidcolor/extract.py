"""Frame extraction: the duplicate filter and the credit-screen test (SPEC §1–2, thesis 4.1.2–3).

Pure functions on RGB arrays; decoding and storage live in :mod:`vidcolor.video` and
:mod:`vidcolor.dataset`.

The duplicate filter compares each frame with the **last accepted** one, so slow motion
accumulates until it is worth a new frame. The credit test clusters a frame's colours with
k-means (k = 2) and asks whether they are a saturated blue background holding most pixels and a
white-ish text colour, judged on hue and saturation only, so fades to and from black still match.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import cv2
import numpy as np

#: Default duplicate threshold: accept a frame when its MSE to the last accepted one exceeds it.
DEDUP_THRESHOLD = 20.0


@dataclass(frozen=True)
class CreditRule:
    """The credit-screen thresholds of SPEC §2 (hue in degrees, saturation and share in 0–1).

    ``achromatic_saturation``: below it a centroid's hue is undefined (pure white or grey text),
    and the white-ish hue condition is taken as met.
    """

    blue_hue: tuple[float, float] = (190.0, 260.0)
    blue_min_saturation: float = 250 / 255
    white_hue: tuple[float, float] = (190.0, 250.0)
    white_max_saturation: float = 120 / 255
    blue_min_share: float = 0.80
    achromatic_saturation: float = 8 / 255
    sample_side: int = 64


def resize_frame(rgb: np.ndarray, size: int) -> np.ndarray:
    """Squash a frame to ``size × size`` (aspect not kept, as in the thesis), area-averaged.

    >>> resize_frame(np.zeros((48, 64, 3), np.uint8), 32).shape
    (32, 32, 3)
    """
    height, width = rgb.shape[:2]
    shrinking = height >= size and width >= size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(rgb, (size, size), interpolation=interpolation)


def frame_mse(frame: np.ndarray, reference: np.ndarray) -> float:
    """Mean squared difference of two equally sized uint8 frames, values 0–255.

    >>> frame_mse(np.full((2, 2, 3), 10, np.uint8), np.zeros((2, 2, 3), np.uint8))
    100.0
    """
    # cv2.norm sums the squares in one pass (no int32 temporaries); the sum is an integer, so
    # rounding removes its floating-point noise and the threshold comparison stays exact
    return round(cv2.norm(frame, reference, cv2.NORM_L2SQR)) / frame.size


class DuplicateFilter:
    """Accept a frame when its MSE to the last accepted frame exceeds ``threshold``.

    The first frame is always accepted.

    >>> keep = DuplicateFilter(threshold=20)
    >>> [keep(np.full((2, 2, 3), v, np.uint8))[0] for v in (0, 3, 5, 6)]
    [True, False, True, False]
    """

    def __init__(self, threshold: float = DEDUP_THRESHOLD) -> None:
        self.threshold = threshold
        self._last: np.ndarray | None = None

    def __call__(self, frame: np.ndarray) -> tuple[bool, float | None]:
        """Return ``(accepted, mse to the last accepted frame or None for the first)``."""
        if self._last is None:
            self._last = frame
            return True, None
        mse = frame_mse(frame, self._last)
        if mse > self.threshold:
            self._last = frame
            return True, mse
        return False, mse


def kmeans2(pixels: np.ndarray, iterations: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Two-means clustering of N×C float pixels; deterministic.

    Starts from the darkest and brightest pixels (by channel sum) and runs Lloyd iterations.

    Returns:
        ``(centroids 2×C, counts 2)``; an empty cluster keeps its start point and count 0.
    """
    brightness = pixels.sum(axis=1)
    centroids = np.stack([pixels[brightness.argmin()], pixels[brightness.argmax()]]).astype(
        np.float64)
    labels = np.zeros(len(pixels), dtype=np.intp)
    for _ in range(iterations):
        distance = ((pixels[:, None, :] - centroids[None]) ** 2).sum(axis=2)
        new_labels = distance.argmin(axis=1)
        if _ and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        for k in range(2):
            members = pixels[labels == k]
            if len(members):
                centroids[k] = members.mean(axis=0)
    counts = np.bincount(labels, minlength=2)
    return centroids, counts


def _hue_saturation(rgb: np.ndarray) -> tuple[float, float]:
    hue, saturation, _value = colorsys.rgb_to_hsv(*(np.clip(rgb, 0, 255) / 255.0))
    return hue * 360.0, saturation


def _within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _too_bright_for_credits(pixels: np.ndarray, rule: CreditRule) -> bool:
    """A necessary condition of the rule, checked before clustering (exact, not a heuristic).

    A blue centroid of saturation >= s has min(R, G) <= (1 - s) * 255. Its cluster holds a share
    > m of the pixels and the rest are at most 255, so the frame's mean R or mean G is below
    (1 - s) * 255 + (1 - m) * 255. A frame whose mean R and mean G both reach that bound cannot
    pass the test, and most story frames are such frames.
    """
    bound = 255.0 * ((1.0 - rule.blue_min_saturation) + (1.0 - rule.blue_min_share))
    mean_red, mean_green = pixels[:, 0].mean(), pixels[:, 1].mean()
    return bool(mean_red >= bound and mean_green >= bound)


def is_credit_frame(rgb: np.ndarray, rule: CreditRule = CreditRule()) -> bool:
    """Whether a frame is a credit screen: saturated blue background with white-ish text.

    The frame is sampled on a ``rule.sample_side``² grid (nearest pixels: no blending of text
    and background) before clustering; credits are large flat areas, so this loses nothing.

    >>> blue = np.zeros((32, 32, 3), np.uint8); blue[...] = (0, 40, 255)
    >>> blue[14:18, 8:24] = 255
    >>> is_credit_frame(blue), is_credit_frame(np.full((32, 32, 3), 128, np.uint8))
    (True, False)
    """
    height, width = rgb.shape[:2]
    rows = np.linspace(0, height - 1, min(height, rule.sample_side)).astype(np.intp)
    cols = np.linspace(0, width - 1, min(width, rule.sample_side)).astype(np.intp)
    pixels = rgb[np.ix_(rows, cols)].reshape(-1, 3).astype(np.float64)
    return not _too_bright_for_credits(pixels, rule) and credit_clusters(pixels, rule)


def credit_clusters(pixels: np.ndarray, rule: CreditRule = CreditRule()) -> bool:
    """The k-means part of the credit test on N×3 RGB pixels (0–255), without prefiltering."""
    centroids, counts = kmeans2(pixels)
    total = counts.sum()
    for blue, white in ((0, 1), (1, 0)):
        if counts[blue] <= rule.blue_min_share * total:
            continue
        blue_hue, blue_sat = _hue_saturation(centroids[blue])
        white_hue, white_sat = _hue_saturation(centroids[white])
        blue_ok = _within(blue_hue, rule.blue_hue) and blue_sat >= rule.blue_min_saturation
        white_ok = white_sat <= rule.white_max_saturation and (
            white_sat < rule.achromatic_saturation or _within(white_hue, rule.white_hue))
        if blue_ok and white_ok:
            return True
    return False


def chroma_level(rgb: np.ndarray, step: int = 4) -> float:
    """Mean spread between a frame's colour channels (0 for a grey frame), in 0–255 units.

    Measured on every ``step``-th pixel in each direction: enough to tell colour from grey.
    """
    as_int = rgb[::step, ::step].astype(np.int16)
    return float(np.mean(as_int.max(axis=2) - as_int.min(axis=2)))
