"""Learning a series' look from its colour frames: palette, chroma ceiling, neutral lightness,
credit colours (:class:`vidcolor.series.SeriesLook`, the module docstring there).

:func:`look_of_frames` streams the training frames once; :func:`learn_credits` and
:func:`learn_credit_grey` read the credit frames' colours and grey signatures. Used when a
dataset is built (:func:`vidcolor.dataset.look.learn_look`); render only applies the result
(:mod:`vidcolor.series.apply`). Pure numpy/OpenCV/SciPy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np
from scipy import ndimage

from vidcolor.color import AB_LIMIT
from vidcolor.color.frames import lightness_of_luminance, rgb_to_lab_frame
from vidcolor.color.grey import GreyModel, model_lightness
from vidcolor.series import PALETTE_ROWS, SeriesLook, height_band, luminance_of_codes

#: Palette peaks: histogram bins of this size (L, a, b units)...
_BIN = 2.0
#: ... and a peak must hold at least this share of the flat pixels.
PALETTE_MIN_SHARE = 0.0002
#: The palette's layout (:func:`palette_layout`): this share of each colour's density over
#: bands of the frame's height is spread uniformly (no band is impossible) ...
LAYOUT_UNIFORM = 0.05
#: ... and a frame shows a colour when this share of its flat pixels are near it.
LAYOUT_MIN_SHARE = 0.005
#: Peaks closer than this (ΔE, CIE76) are one colour.
PALETTE_MERGE_DELTA_E = 3.0
#: A pixel is flat when its 3×3 neighbourhood varies by at most this much (L; a and b).
FLAT_L_RANGE, FLAT_AB_RANGE = 3.0, 4.0
#: The chroma ceiling is this percentile of the training chroma at each L...
CEILING_PERCENTILE = 90.0
#: ... where at least this many pixels were seen (elsewhere: no ceiling).
CEILING_MIN_PIXELS = 200
_NO_CEILING = float(AB_LIMIT * np.sqrt(2.0))
#: A lightness where 90 % of the training pixels have less chroma than this is neutral.
NEUTRAL_CHROMA = 15.0
#: Only the dark end (ink, deep shadows) and the light end (highlights) can be neutral: mid
#: tones keep their predicted hue (under the ceiling), whatever most pixels of their L are.
NEUTRAL_DARK, NEUTRAL_LIGHT = 25, 85
#: Credit frames whose background has at least this share of the brightest's luminance show
#: the credit colours unfaded.
CREDIT_FULL = 0.9
#: The text/background ratio is learnt from credit frames at least this bright (L of the
#: background): deeper in a fade, 8-bit quantisation moves it.
CREDIT_RATIO_MIN_LIGHT = 10.0


def flat_mask(lab: np.ndarray) -> np.ndarray:
    """Pixels whose 3×3 neighbourhood varies little: inside fills, not on edges or texture."""
    kernel = np.ones((3, 3), np.uint8)
    spread = cv2.morphologyEx(lab, cv2.MORPH_GRADIENT, kernel)  # max - min per channel
    return ((spread[..., 0] <= FLAT_L_RANGE) & (spread[..., 1] <= FLAT_AB_RANGE)
            & (spread[..., 2] <= FLAT_AB_RANGE))


class _Accumulator:
    """Streams frames into a Lab histogram of flat pixels and an (L, chroma) histogram."""

    def __init__(self, sample_per_frame: int, seed: int = 0,
                 grey: GreyModel | None = None) -> None:
        self.grey = None if grey is None or grey.name == "luminance" else grey
        self.hist = np.zeros((51, 111, 111), np.int64)  # L, a, b in bins of 2 units
        self.chroma = np.zeros((101, 161), np.int64)  # integer L x integer chroma
        self.ab = np.zeros((2, 101, 221), np.int64)  # integer L x integer a (b), -110..110
        self.samples: list[np.ndarray] = []  # per frame: sampled flat pixels' Lab ...
        self.rows: list[np.ndarray] = []  # ... and their height in the frame (0 top, 1 bottom)
        self.sample_per_frame = sample_per_frame
        self.rng = np.random.default_rng(seed)
        self.frames = 0

    def add(self, rgb: np.ndarray) -> None:
        lab = rgb_to_lab_frame(rgb)
        if self.grey is not None:  # the lightness render sees: that of the model's grey
            lab[..., 0] = model_lightness(rgb, self.grey)
        mask = flat_mask(lab)
        flat = lab[mask]
        if len(flat):
            index = np.clip(np.rint(flat / _BIN).astype(np.int64) + (0, 55, 55), 0,
                            np.asarray(self.hist.shape) - 1)
            flat_index = np.ravel_multi_index(index.T, self.hist.shape)
            self.hist += np.bincount(flat_index, minlength=self.hist.size).reshape(
                self.hist.shape)
            take = min(len(flat), self.sample_per_frame)
            chosen = self.rng.choice(len(flat), take, replace=False)
            rows = (np.nonzero(mask)[0][chosen].astype(np.float32) + 0.5) / mask.shape[0]
            self.samples.append(flat[chosen])
            self.rows.append(rows)
        light = np.clip(np.rint(lab[..., 0]), 0, 100).astype(np.int64).ravel()
        chroma = np.clip(np.rint(np.hypot(lab[..., 1], lab[..., 2])), 0, 160).astype(np.int64)
        self.chroma += np.bincount(light * 161 + chroma.ravel(),
                                   minlength=self.chroma.size).reshape(self.chroma.shape)
        for channel in (0, 1):
            value = np.clip(np.rint(lab[..., 1 + channel]), -110, 110).astype(np.int64) + 110
            self.ab[channel] += np.bincount(light * 221 + value.ravel(),
                                            minlength=101 * 221).reshape(101, 221)
        self.frames += 1


def extract_palette(frames: Iterable[np.ndarray], *, min_share: float = PALETTE_MIN_SHARE,
                    sample_per_frame: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """The fill colours of RGB frames: peaks of the Lab histogram of their flat pixels.

    Args:
        frames: RGB uint8 frames.
        min_share: smallest share of the flat pixels a colour must gather.
        sample_per_frame: flat pixels kept per frame to refine the peaks.

    Returns:
        ``(palette (K, 3) Lab float32, share (K,))``, most frequent first.
    """
    accumulator = _Accumulator(sample_per_frame)
    for rgb in frames:
        accumulator.add(rgb)
    return _palette_of(accumulator, min_share)


def _palette_of(acc: _Accumulator, min_share: float) -> tuple[np.ndarray, np.ndarray]:
    total = int(acc.hist.sum())
    if total == 0:
        return np.zeros((0, 3), np.float32), np.zeros(0, np.float32)
    smooth = ndimage.gaussian_filter(acc.hist.astype(np.float32), 1.0)
    mass = ndimage.uniform_filter(acc.hist.astype(np.float32), 3) * 27.0
    peaks = (smooth == ndimage.maximum_filter(smooth, 3)) & (mass >= min_share * total)
    centres = (np.argwhere(peaks) - (0, 55, 55)).astype(np.float32) * _BIN
    samples = np.concatenate(acc.samples).astype(np.float32)
    colours, shares = [], []
    for centre in centres[np.argsort(-mass[peaks])]:
        for _ in range(3):  # mean shift towards the pixels around the peak
            near = samples[np.linalg.norm(samples - centre, axis=1) < 4.0]
            if not len(near):
                break
            centre = near.mean(axis=0)
        if any(np.linalg.norm(centre - kept) < PALETTE_MERGE_DELTA_E for kept in colours):
            continue
        colours.append(centre)
        shares.append(float((np.linalg.norm(samples - centre, axis=1) < 4.0).mean()))
    order = np.argsort(shares)[::-1]
    return (np.asarray(colours, np.float32)[order].reshape(-1, 3),
            np.asarray(shares, np.float32)[order])


def palette_layout(samples: Sequence[np.ndarray], rows: Sequence[np.ndarray],
                   palette: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each palette colour is painted in a frame, with which others, and how widely.

    Each frame's sampled flat pixels are assigned to the palette colour within 4 ΔE (if any).

    Args:
        samples: per frame, sampled flat pixels ``(n, 3)`` Lab.
        rows: per frame, their height in the frame ``(n,)`` (0 top, 1 bottom).
        palette: ``(K, 3)`` Lab.

    Returns:
        ``(rows (K, PALETTE_ROWS), together (K, K), extent (K,))``: each colour's density over
        bands of the frame's height (mean 1; :data:`LAYOUT_UNIFORM` of it uniform, so no band
        is impossible); ``together[j, k]``, the share of the frames showing colour j (on at
        least :data:`LAYOUT_MIN_SHARE` of their flat pixels) that show k too, Laplace-smoothed;
        and each colour's extent, the median share of the flat pixels it covers in the frames
        that show it (a background's is large, a character's small).

    >>> palette = np.array([[80.0, -7, -19], [68, -41, 44]], np.float32)
    >>> sky = np.tile(palette[:1], (50, 1)); grass = np.tile(palette[1:], (50, 1))
    >>> top, bottom = np.full(50, 0.2), np.full(50, 0.9)
    >>> density, together, extent = palette_layout(
    ...     [np.vstack([sky, grass]), sky], [np.concatenate([top, bottom]), top], palette)
    >>> bool(density[0, 1] > 1 > density[0, -1]), [[round(float(v), 2) for v in row]
    ...                                            for row in together], extent.tolist()
    (True, [[1.0, 0.5], [0.67, 1.0]], [0.75, 0.5])
    """
    count = len(palette)
    density = np.zeros((count, PALETTE_ROWS), np.float64)
    shown = np.zeros((len(samples), count), bool)
    covered = np.zeros((len(samples), count), np.float64)
    for frame, (lab, height) in enumerate(zip(samples, rows, strict=True)):
        if not len(lab) or not count:
            continue
        distance = np.linalg.norm(lab[:, None, :] - palette[None, :, :], axis=2)
        nearest = distance.argmin(axis=1)
        near = distance[np.arange(len(lab)), nearest] < 4.0
        band = height_band(np.asarray(height))
        np.add.at(density, (nearest[near], band[near]), 1.0)
        covered[frame] = np.bincount(nearest[near], minlength=count) / len(lab)
        shown[frame] = covered[frame] >= LAYOUT_MIN_SHARE
    totals = density.sum(axis=1, keepdims=True)
    empirical = np.where(totals > 0, density / np.maximum(totals, 1.0), 1.0 / PALETTE_ROWS)
    density = PALETTE_ROWS * ((1 - LAYOUT_UNIFORM) * empirical + LAYOUT_UNIFORM / PALETTE_ROWS)
    both = shown.T.astype(np.float64) @ shown.astype(np.float64)  # (K, K) frames with j and k
    together = (both + 1.0) / (np.diag(both)[:, None] + 2.0)
    np.fill_diagonal(together, 1.0)
    extent = np.array([np.median(covered[shown[:, k], k]) if shown[:, k].any() else 0.0
                       for k in range(count)])
    return density.astype(np.float32), together.astype(np.float32), extent.astype(np.float32)


def chroma_ceiling(histogram: np.ndarray, percentile: float = CEILING_PERCENTILE,
                   min_pixels: int = CEILING_MIN_PIXELS) -> np.ndarray:
    """The ``percentile`` of chroma at each integer L from an (L, chroma) count histogram.

    L values seen in fewer than ``min_pixels`` pixels get no ceiling; a seen one takes the
    largest ceiling of its seen L ± 2 neighbours, so it never bites on a lightness next to a
    colourful one.
    """
    counts = histogram.astype(np.float64)
    seen = counts.sum(axis=1) >= min_pixels
    ceiling = np.full(counts.shape[0], -np.inf)
    for light in np.flatnonzero(seen):
        cumulative = np.cumsum(counts[light]) / counts[light].sum()
        ceiling[light] = float(np.searchsorted(cumulative, percentile / 100.0)) + 1.0
    # the largest of the seen neighbours' ceilings; unseen lightness: no ceiling
    widened = ndimage.maximum_filter1d(ceiling, 5, mode="nearest")
    return np.where(seen, widened, _NO_CEILING).astype(np.float32)


def typical_ab(histograms: np.ndarray, chroma: np.ndarray, *,
               neutral_chroma: float = NEUTRAL_CHROMA, min_pixels: int = CEILING_MIN_PIXELS
               ) -> tuple[np.ndarray, np.ndarray]:
    """The series' usual ab at each integer L, and the lightness it keeps neutral.

    Args:
        histograms: ``(2, 101, 221)`` counts of integer a and b (-110..110) per integer L.
        chroma: ``(101, 161)`` counts of integer chroma per integer L.
        neutral_chroma: a lightness below :data:`NEUTRAL_DARK` or above :data:`NEUTRAL_LIGHT`
            is neutral when 90 % of its pixels have less chroma than this (ink, deep shadows,
            white highlights: painted without colour, or with one tint).
        min_pixels: lightness seen in fewer pixels is never neutral.

    Returns:
        ``(typical (101, 2) float32: the median a and b, neutral (101,) bool)``.
    """
    typical = np.zeros((101, 2), np.float32)
    neutral = np.zeros(101, bool)
    for light in range(101):
        seen = chroma[light].sum()
        if seen < min_pixels:
            continue
        for channel in (0, 1):
            cumulative = np.cumsum(histograms[channel, light]) / seen
            typical[light, channel] = float(np.searchsorted(cumulative, 0.5)) - 110.0
        p90 = float(np.searchsorted(np.cumsum(chroma[light]) / seen, 0.9))
        extreme = light < NEUTRAL_DARK or light > NEUTRAL_LIGHT  # ink/shadows, highlights
        neutral[light] = extreme and p90 < neutral_chroma
    return typical, neutral


def learn_credits(backgrounds: Sequence[Sequence[float]], texts: Sequence[Sequence[float]]
                  ) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """The credit screens' colours at full brightness: the median over the brightest frames.

    Fades darken both colours together, so only the frames whose background is nearly as bright
    as the brightest (within :data:`CREDIT_FULL` of the 95th percentile of the background's
    linear luminance, which one stray frame cannot move) show them as painted: in a series whose
    credits fade in and out, most credit frames are faded. Returns None without credit frames.
    """
    if not len(backgrounds):
        return None
    back = np.asarray(backgrounds, np.float64)
    text = np.asarray(texts, np.float64)
    luminance = luminance_of_codes(back)
    bright = luminance >= CREDIT_FULL * np.percentile(luminance, 95)
    return (tuple(np.median(back[bright], axis=0).round(2).tolist()),
            tuple(np.median(text[bright], axis=0).round(2).tolist()))


def learn_credit_grey(backgrounds: Sequence[float], texts: Sequence[float]
                      ) -> tuple[float, float, float, float] | None:
    """The credit screens' grey signature from their frames' :func:`credit_signature`.

    Args:
        backgrounds, texts: each credit frame's background and text luminance (Y), fades
            included.

    Returns:
        ``(background Y, text Y)`` at full brightness (the median over the frames within
        :data:`CREDIT_FULL` of the brightest, as :func:`learn_credits`) and the 5th and 95th
        percentiles of the text/background ratio over the frames whose background is at least
        :data:`CREDIT_RATIO_MIN_LIGHT` light (all frames when none is); None without frames.

    >>> learn_credit_grey([0.08, 0.04, 0.08], [0.88, 0.44, 0.87])
    (0.08, 0.875, 10.8875, 11.0)
    """
    back = np.asarray(backgrounds, np.float64)
    text = np.asarray(texts, np.float64)
    keep = np.isfinite(back) & np.isfinite(text) & (back > 0) & (text > back)
    back, text = back[keep], text[keep]
    if not len(back):
        return None
    bright = back >= CREDIT_FULL * np.percentile(back, 95)
    ratio = text / back
    lit = lightness_of_luminance(back) >= CREDIT_RATIO_MIN_LIGHT
    reliable = ratio[lit] if lit.any() else ratio
    return (round(float(np.median(back[bright])), 6), round(float(np.median(text[bright])), 6),
            round(float(np.percentile(reliable, 5)), 4),
            round(float(np.percentile(reliable, 95)), 4))


def look_of_frames(frames: Iterable[np.ndarray],
                   credits: tuple[Sequence[float], Sequence[float]] | None = None,
                   grey: GreyModel | None = None) -> SeriesLook:
    """The look of colour frames (RGB uint8): palette, chroma ceiling, neutral lightness; the
    credit colours (background, text) as given. Everything the look keys by lightness is keyed
    by the lightness of the frames' grey under ``grey`` (None: their own L, the luminance
    model), the lightness render reads from the black and white."""
    accumulator = _Accumulator(sample_per_frame=4000, grey=grey)
    for rgb in frames:
        accumulator.add(rgb)
    palette, share = _palette_of(accumulator, PALETTE_MIN_SHARE)
    typical, neutral = typical_ab(accumulator.ab, accumulator.chroma)
    background, text = credits if credits is not None else (None, None)
    rows, together, extent = palette_layout(accumulator.samples, accumulator.rows, palette)
    return SeriesLook(palette, share, chroma_ceiling(accumulator.chroma), typical, neutral,
                      None if background is None else tuple(float(v) for v in background),
                      None if text is None else tuple(float(v) for v in text),
                      frames=accumulator.frames, palette_rows=rows, palette_together=together,
                      palette_extent=extent)
