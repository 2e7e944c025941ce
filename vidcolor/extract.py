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
import functools
import warnings
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vidcolor.color.frames import luminance_of_lightness

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


@functools.cache
def _threadpools() -> Any:
    """threadpoolctl's view of the loaded thread pools (introspecting them costs milliseconds)."""
    import sklearn.cluster  # noqa: F401 - loads the OpenMP runtime the controller must see
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def kmeans2(pixels: np.ndarray, iterations: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Two-means clustering of N×C float pixels with scikit-learn's ``KMeans``; deterministic.

    Starts from the darkest and brightest pixels (by channel sum), one initialisation, at most
    ``iterations`` Lloyd iterations, on one thread. Why scikit-learn, and why one thread, by
    measurement (``PYTHONPATH=. python scripts/bench_dataset.py --kmeans``, 64×64 samples,
    2-core CPU shared with other work): on the demo frames that reach clustering (88 of 709
    deduplicated frames; the prefilter skips the rest) it costs 1.0 ms per frame against 1.1 ms
    for the hand-written NumPy 2-means it replaced, on frames of random colours (all 10
    iterations) 1.5 ms against 4.0 ms, with the same 88 of 88 credit decisions; so the library
    routine replaced the hand-written one. With its default OpenMP threads a call took 1.9 to
    42 ms inside a build (it waits for a thread on the other core, which decoding and PNG
    writing keep busy); held to one thread it never waits.

    >>> centroids, counts = kmeans2(np.array([[0., 0, 250]] * 9 + [[250., 250, 250]]))
    >>> centroids.round().tolist(), counts.tolist()
    ([[0.0, 0.0, 250.0], [250.0, 250.0, 250.0]], [9, 1])

    Returns:
        ``(centroids 2×C, counts 2)``; a frame of one colour gives one empty cluster.
    """
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    pixels = np.asarray(pixels, dtype=np.float64)
    brightness = pixels.sum(axis=1)
    start = np.stack([pixels[brightness.argmin()], pixels[brightness.argmax()]])
    if np.all(pixels == start[0]):
        return start, np.array([len(pixels), 0])  # one colour: nothing to split
    with warnings.catch_warnings(), _threadpools().limit(limits=1, user_api="openmp"):
        # fewer distinct colours than clusters is an answer here, not a problem
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = KMeans(n_clusters=2, init=start, n_init=1, max_iter=iterations, tol=0.0,
                        algorithm="lloyd").fit(pixels)
    return fitted.cluster_centers_, np.bincount(fitted.labels_, minlength=2)


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

    >>> blue = np.zeros((32, 32, 3), np.uint8); blue[...] = (0, 40, 255)
    >>> blue[14:18, 8:24] = 255
    >>> is_credit_frame(blue), is_credit_frame(np.full((32, 32, 3), 128, np.uint8))
    (True, False)
    """
    return credit_colours(rgb, rule) is not None


def credit_colours(rgb: np.ndarray, rule: CreditRule = CreditRule()
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """The (background, text) colours of a credit screen, or None when the frame is not one.

    The frame is sampled on a ``rule.sample_side``² grid (nearest pixels: no blending of text
    and background) before clustering; credits are large flat areas, so this loses nothing.
    The colours are the two k-means centroids (RGB, 0–255 floats), the blue cluster first.

    >>> blue = np.zeros((32, 32, 3), np.uint8); blue[...] = (0, 40, 255)
    >>> blue[14:18, 8:24] = 255
    >>> [c.round().tolist() for c in credit_colours(blue)]
    [[0.0, 40.0, 255.0], [255.0, 255.0, 255.0]]
    """
    rows, cols = _sample_grid(rgb.shape[0], rgb.shape[1], rule.sample_side)
    pixels = rgb[rows[:, None], cols].reshape(-1, 3)
    if _too_bright_for_credits(pixels, rule):  # most story frames: no float copy, no k-means
        return None
    return _credit_pair(pixels.astype(np.float64), rule)


@functools.lru_cache(maxsize=16)
def _sample_grid(height: int, width: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the credit test's nearest-pixel sample of a frame size."""
    rows = np.linspace(0, height - 1, min(height, side)).astype(np.intp)
    cols = np.linspace(0, width - 1, min(width, side)).astype(np.intp)
    return rows, cols


def credit_clusters(pixels: np.ndarray, rule: CreditRule = CreditRule()) -> bool:
    """The k-means part of the credit test on N×3 RGB pixels (0–255), without prefiltering."""
    return _credit_pair(pixels, rule) is not None


def _credit_pair(pixels: np.ndarray, rule: CreditRule) -> tuple[np.ndarray, np.ndarray] | None:
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
            return centroids[blue], centroids[white]
    return None


def chroma_level(rgb: np.ndarray, step: int = 4) -> float:
    """Mean spread between a frame's colour channels (0 for a grey frame), in 0–255 units.

    Measured on every ``step``-th pixel in each direction: enough to tell colour from grey.
    """
    as_int = rgb[::step, ::step].astype(np.int16)
    return float(np.mean(as_int.max(axis=2) - as_int.min(axis=2)))


@dataclass(frozen=True)
class CreditSignature:
    """How a frame's lightness splits into a flat background and what stands on it.

    The frame is sampled on a 64×64 grid and its linear luminance split in two (2-means).
    ``share``: the darker cluster's share of the samples; ``background``: its median luminance;
    ``spread``: its 5–95th percentile range; ``text``: the 90th percentile of the brighter
    cluster (the text's own luminance, above its anti-aliased edges).
    """

    share: float
    background: float
    spread: float
    text: float

    @property
    def ratio(self) -> float:
        return self.text / self.background


def credit_signature(light: np.ndarray) -> CreditSignature | None:
    """The :class:`CreditSignature` of a frame's lightness ``(H, W)`` (None: one flat colour).

    The one measurement of a credit screen in grey: build-dataset records it for every credit
    frame it drops (from the colour frame's L), and render compares a grey frame's with what
    the series learnt from them (:func:`vidcolor.series.apply.credit_fade`).

    >>> light = np.full((32, 32), 30.0, np.float32); light[12:20, 4:28] = 95.0
    >>> signature = credit_signature(light)
    >>> round(signature.share, 2), round(signature.ratio, 1)
    (0.81, 14.1)
    """
    rows, cols = _sample_grid(light.shape[0], light.shape[1], CreditRule.sample_side)
    y = luminance_of_lightness(light[np.ix_(rows, cols)]).ravel()
    low, high = float(y.min()), float(y.max())
    if high <= 1e-4 or high - low <= 1e-6:
        return None
    split = (low + high) / 2
    for _ in range(10):
        dark, bright = y[y <= split], y[y > split]
        if not len(dark) or not len(bright):
            return None
        new = (dark.mean() + bright.mean()) / 2
        if new == split:
            break
        split = new
    dark, bright = y[y <= split], y[y > split]
    if not len(dark) or not len(bright):
        return None
    background = float(np.median(dark))
    if background <= 1e-4:
        return None
    return CreditSignature(len(dark) / len(y), background,
                           float(np.percentile(dark, 95) - np.percentile(dark, 5)),
                           float(np.percentile(bright, 90)))
