"""What a series' colour episodes teach besides the network: its look.

Cartoons are painted from a small palette of flat fills with black ink, and their credits have
colours of their own. :func:`vidcolor.dataset.learn_look` reads a dataset's training frames (and
the credit frames the filter set aside) and learns three things from them
(:func:`look_of_frames`, :func:`learn_credits`), stored as ``series.json`` with the dataset and
copied into every run trained on it:

* the **palette** (:func:`extract_palette`): the fill colours, found as the peaks of the 3-D Lab
  histogram of *flat* pixels (a 3×3 neighbourhood within 3 L units and 4 ab units: fills, not
  edges, ink anti-aliasing or texture), each refined to the mean of the pixels around it;
* the **chroma ceiling** (:func:`chroma_ceiling`): for every lightness L, the 99th percentile of
  the training pixels' chroma ``sqrt(a² + b²)`` — ink (L < ~15) and white highlights come out
  near 0, so render keeps them neutral instead of tinting them;
* the **credit look** (:func:`learn_credits`): the background and text colours of the credit
  screens (``excluded.csv``), so render can paint the credits it detects in a grey episode
  (:func:`credit_fade`, :func:`paint_credits`).

Pure numpy/OpenCV; no torch, and no reading of datasets (the dataset module reads them).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from scipy import ndimage

from vidcolor.color import AB_LIMIT, XYZ_FROM_RGB, linear_to_srgb, srgb_to_linear
from vidcolor.color.frames import lightness_of_luminance, luminance_of_lightness, rgb_to_lab_frame
from vidcolor.color.grey import GreyModel, model_lightness
from vidcolor.errors import DatasetError
from vidcolor.extract import credit_signature
from vidcolor.fsutil import read_json, write_json_atomic

log = logging.getLogger(__name__)

SERIES_FILE = "series.json"
#: Version of how a look is learnt: a dataset whose ``series.json`` has another is relearnt.
LOOK_VERSION = 3
#: Palette peaks: histogram bins of this size (L, a, b units)...
_BIN = 2.0
#: ... and a peak must hold at least this share of the flat pixels.
PALETTE_MIN_SHARE = 0.0002
#: A region takes a palette colour when the colour gathers at least this much of its predicted
#: distribution (kernel-weighted, :func:`palette_support`).
PALETTE_MIN_SUPPORT = 0.25
#: The layout of the palette (:func:`palette_layout`): bands of the frame's height ...
PALETTE_ROWS = 8
#: ... this share of each colour's density spread uniformly (no band is impossible) ...
LAYOUT_UNIFORM = 0.05
#: ... and a frame shows a colour when this share of its flat pixels are near it.
LAYOUT_MIN_SHARE = 0.005
#: How much the palette's layout (:func:`layout_prior`) weighs beside the network's evidence.
LAYOUT_WEIGHT = 1.0
#: ... in full for a region of at least this share of the frame, less for smaller ones.
LAYOUT_FULL_SHARE = 0.1
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
#: A grey frame's text may be this much darker (L units) than the credits' text at its
#: background's brightness (thin text at a low resolution keeps less of its own colour) ...
CREDIT_TEXT_BELOW = 12.0
#: ... or this much lighter (encoding noise; quantisation of deep fades).
CREDIT_TEXT_ABOVE = 6.0
#: The text/background ratio is learnt from credit frames at least this bright (L of the
#: background): deeper in a fade, 8-bit quantisation moves it.
CREDIT_RATIO_MIN_LIGHT = 10.0
_Y_WEIGHTS = np.asarray(XYZ_FROM_RGB[1], np.float64)


@dataclass
class SeriesLook:
    """A series' palette, chroma ceiling and credit colours (see the module docstring).

    Attributes:
        palette: ``(K, 3)`` Lab fill colours, most frequent first.
        palette_share: ``(K,)`` the share of flat training pixels near each colour.
        chroma_ceiling: ``(101,)`` the chroma ceiling at each integer L (0–100).
        typical_ab: ``(101, 2)`` the median ab at each integer L.
        neutral: ``(101,)`` the lightness values the series keeps neutral (chroma below
            :data:`NEUTRAL_CHROMA` for 90 % of the pixels): there a pixel takes the typical ab.
        credit_background, credit_text: sRGB (0–255) of the credit screens at full
            brightness, or None when the dataset recorded no credit colours.
        credit_grey: the credit screens' grey signature learnt from the credit frames' own
            lightness (:func:`learn_credit_grey`): ``(background Y at full brightness, text Y
            at full brightness, lowest and highest text/background ratio)``; None for a
            dataset that did not record it (then :meth:`credit_grey_signature` derives one
            from the credit colours).
        frames: how many training frames were read.
        palette_rows, palette_together, palette_extent: the palette's layout
            (:func:`palette_layout`): each colour's density over bands of the frame's height
            ``(K, PALETTE_ROWS)``, the share of the frames showing colour j that show k too
            ``(K, K)``, and the share of the flat pixels each colour typically covers
            ``(K,)``; empty for a series learnt before they were (then regions choose without
            them).
    """

    palette: np.ndarray
    palette_share: np.ndarray
    chroma_ceiling: np.ndarray
    typical_ab: np.ndarray = field(default_factory=lambda: np.zeros((101, 2), np.float32))
    neutral: np.ndarray = field(default_factory=lambda: np.zeros(101, bool))
    credit_background: tuple[float, float, float] | None = None
    credit_text: tuple[float, float, float] | None = None
    frames: int = 0
    credit_grey: tuple[float, float, float, float] | None = None
    palette_rows: np.ndarray = field(
        default_factory=lambda: np.zeros((0, PALETTE_ROWS), np.float32))
    palette_together: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    palette_extent: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @property
    def has_layout(self) -> bool:
        """Whether the palette's layout was learnt (and fits the palette)."""
        count = len(self.palette)
        return count > 0 and self.palette_rows.shape == (count, PALETTE_ROWS) and \
            self.palette_together.shape == (count, count) and \
            self.palette_extent.shape == (count,)

    def credit_grey_signature(self) -> tuple[float, float, float, float] | None:
        """``(background Y, text Y, lowest ratio, highest ratio)`` of the credit screens in
        grey: the learnt :attr:`credit_grey`, or, for a series that has only credit colours,
        their luminances with the ratio range ``[Y_t/Y_b / 2, 1.25 Y_t/Y_b]`` (the k-means
        text colour is pulled towards the background by anti-aliasing). None without
        credits."""
        if self.credit_background is None or self.credit_text is None:
            return None
        if self.credit_grey is not None:
            return self.credit_grey
        back_y = float(srgb_to_linear(np.asarray(self.credit_background) / 255.0) @ _Y_WEIGHTS)
        text_y = float(srgb_to_linear(np.asarray(self.credit_text) / 255.0) @ _Y_WEIGHTS)
        if not 0 < back_y < text_y:
            return None
        return back_y, text_y, text_y / back_y / 2, text_y / back_y * 1.25

    def to_json(self) -> dict[str, Any]:
        return {"format": "vidcolor-series", "version": LOOK_VERSION, "frames": self.frames,
                "palette": [[round(float(v), 3) for v in colour] for colour in self.palette],
                "palette_share": [round(float(s), 6) for s in self.palette_share],
                "chroma_ceiling": [round(float(c), 3) for c in self.chroma_ceiling],
                "typical_ab": [[round(float(v), 2) for v in ab] for ab in self.typical_ab],
                "neutral": [bool(n) for n in self.neutral],
                "credit_background": self.credit_background, "credit_text": self.credit_text,
                "credit_grey": self.credit_grey,
                "palette_rows": [[round(float(v), 4) for v in row] for row in self.palette_rows],
                "palette_together": [[round(float(v), 4) for v in row]
                                     for row in self.palette_together],
                "palette_extent": [round(float(v), 4) for v in self.palette_extent]}

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "series.json") -> SeriesLook:
        """Rebuild from :meth:`to_json`'s dict, read back as untrusted: every field is checked
        for its type, shape and range (finite values a look can hold).

        Raises:
            DatasetError: a missing or malformed field (naming ``where`` and the field).
        """
        try:
            if data.get("format") != "vidcolor-series":
                raise ValueError("not a vidcolor series file")
            palette = _field(data, "palette", (None, 3), (0.0, -_AB_MAX, -_AB_MAX),
                             (100.0, _AB_MAX, _AB_MAX))
            count = len(palette)
            share = _field(data, "palette_share", (count,), 0.0, 1.0)
            ceiling = _field(data, "chroma_ceiling", (101,), 0.0, _CHROMA_MAX)
            typical = _field(data, "typical_ab", (101, 2), -_AB_MAX, _AB_MAX)
            neutral = _field(data, "neutral", (101,), dtype=bool)
            credits = [None if data.get(key) is None else
                       tuple(float(v) for v in _field(data, key, (3,), 0.0, 255.0, np.float64))
                       for key in ("credit_background", "credit_text")]
            grey = None
            if data.get("credit_grey") is not None:
                grey = tuple(float(v) for v in _field(data, "credit_grey", (4,),
                                                      dtype=np.float64))
                if not 0 < grey[0] < grey[1] or not 1 < grey[2] <= grey[3]:
                    raise ValueError("credit_grey must be (background Y, text Y, lowest "
                                     "ratio, highest ratio) with 0 < background < text")
            frames = data.get("frames", 0)
            if not isinstance(frames, int) or isinstance(frames, bool) or frames < 0:
                raise ValueError(f"frames {frames!r:.40} is not a count")
            rows = np.zeros((0, PALETTE_ROWS), np.float32)
            together = np.zeros((0, 0), np.float32)
            extent = np.zeros(0, np.float32)
            if any(data.get(key) not in (None, []) for key in _LAYOUT_FIELDS):
                try:
                    tiny = float(np.nextafter(np.float32(0), np.float32(1)))  # > 0
                    rows = _field(data, "palette_rows", (count, PALETTE_ROWS), tiny)
                    together = _field(data, "palette_together", (count, count), tiny, 1.0)
                    extent = _field(data, "palette_extent", (count,), 0.0, 1.0)
                except ValueError as exc:
                    raise ValueError(f"the palette's layout: {exc}") from None
            return cls(palette, share, ceiling, typical, neutral,
                       credits[0], credits[1],  # type: ignore[arg-type]
                       frames, grey,  # type: ignore[arg-type]
                       rows, together, extent)
        except ValueError as exc:
            raise DatasetError(f"{where}: damaged series file ({exc})") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        write_json_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SeriesLook:
        """Read a ``series.json`` (only a regular file: :func:`vidcolor.fsutil.read_json`).

        Raises:
            DatasetError: missing, unreadable or damaged.
        """
        data = read_json(path)
        if data is None:
            raise DatasetError(f"{path}: missing series file")
        if not isinstance(data, dict):
            raise DatasetError(f"{path}: damaged series file (not an object)")
        return cls.from_json(data, str(path))


#: A look's ab values and chroma lie within these (Lab of sRGB: |a|, |b| < 128).
_AB_MAX = 128.0
_CHROMA_MAX = float(_AB_MAX * np.sqrt(2.0))
_LAYOUT_FIELDS = ("palette_rows", "palette_together", "palette_extent")


def _field(data: dict[str, Any], key: str, shape: tuple[int | None, ...],
           low: float | tuple[float, ...] = -np.inf, high: float | tuple[float, ...] = np.inf,
           dtype: Any = np.float32) -> np.ndarray:
    """``data[key]`` read back as an array of ``shape`` (None: any length) whose values are
    finite and within ``[low, high]`` (not checked for ``dtype=bool``).

    Raises:
        ValueError: missing, not an array of numbers, another shape or values out of range;
            the message names ``key``.
    """
    if key not in data:
        raise ValueError(f"{key} is missing")
    try:
        with np.errstate(all="ignore"):  # an overflow gives inf, refused below
            array = np.asarray(data[key], dtype)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{key} is not an array of numbers") from None
    if array.size == 0 and None in shape:
        array = array.reshape([0 if size is None else size for size in shape])
    if array.ndim != len(shape) or any(want is not None and want != got
                                       for want, got in zip(shape, array.shape, strict=False)):
        wanted = "x".join("K" if size is None else str(size) for size in shape)
        raise ValueError(f"{key} has the shape {array.shape}, not ({wanted})")
    if dtype is not bool and not (np.all(np.isfinite(array)) and np.all(array >= low)
                                  and np.all(array <= high)):
        raise ValueError(f"{key} holds values that are not finite numbers in [{low}, {high}]")
    return array


# --------------------------------------------------------------------------- learning


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


def _band(height: np.ndarray) -> np.ndarray:
    """The band of the frame's height (0 top ... PALETTE_ROWS - 1 bottom) of positions given
    as fractions of it."""
    return np.minimum((height * PALETTE_ROWS).astype(np.intp), PALETTE_ROWS - 1)


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
        band = _band(np.asarray(height))
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
    luminance = srgb_to_linear(back / 255.0) @ _Y_WEIGHTS
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


# --------------------------------------------------------------------------- applying


def apply_ceiling(light: np.ndarray, ab: np.ndarray, ceiling: np.ndarray) -> np.ndarray:
    """Scale each pixel's ab down to the chroma ceiling of its L (a new array)."""
    index = np.clip(np.rint(light), 0, 100).astype(np.intp)
    limit = ceiling[index]
    chroma = np.hypot(ab[..., 0], ab[..., 1])
    scale = np.minimum(1.0, limit / np.maximum(chroma, 1e-6)).astype(np.float32)
    return ab * scale[..., None]


def apply_look(light: np.ndarray, ab: np.ndarray, look: SeriesLook) -> np.ndarray:
    """The series' neutrals: pixels of a neutral lightness take the series' typical ab there
    (its ink or highlight tint); the others keep their hue with chroma at most the ceiling."""
    out = apply_ceiling(light, ab, look.chroma_ceiling)
    index = np.clip(np.rint(light), 0, 100).astype(np.intp)
    neutral = look.neutral[index]
    if neutral.any():
        out[neutral] = look.typical_ab[index[neutral]]
    return out


#: How far a credit screen's background may spread (5-95 % of its luminance, relative to its
#: level) and still be flat (:func:`credit_fade`).
CREDIT_SPREAD = 0.4


def credit_fade(light: np.ndarray, look: SeriesLook, *, min_share: float = 0.8
                ) -> float | None:
    """Whether a grey frame shows the series' credit screen, and how faded it is.

    In a grey twin a credit screen is a flat background of luminance ``Y_b`` (times a fade
    factor ``f``) holding most pixels, with text of luminance ``Y_t`` (times the same ``f``).
    The frame is one when its :func:`credit_signature` has a dark share over ``min_share``, a
    flat background, and text whose lightness is the credits' at this background's.

    Returns:
        The fade factor ``f`` (1: full brightness), or None when the frame is not a credit
        screen of this series (or the series has no credit colours).
    """
    grey = look.credit_grey_signature()
    if grey is None:
        return None
    signature = credit_signature(light)
    if signature is None or signature.share <= min_share:
        return None
    # flat: the background's 5-95 % spread of luminance within 40 % of its level (a clean
    # twin's is within 1 %; a film print's grain spreads a faded screen's to 25 %)
    if signature.spread > CREDIT_SPREAD * signature.background + 0.002:
        return None
    full, _text, low, high = grey
    text_light = float(lightness_of_luminance(signature.text))
    lowest = float(lightness_of_luminance(signature.background * low)) - CREDIT_TEXT_BELOW
    highest = float(lightness_of_luminance(signature.background * high)) + CREDIT_TEXT_ABOVE
    if not lowest <= text_light <= highest:
        return None
    fade = signature.background / full
    return fade if fade <= 1.3 else None


def paint_credits(light: np.ndarray, look: SeriesLook, fade: float) -> np.ndarray:
    """The ab of a credit screen: each pixel a mix of the credit colours that has its L.

    In linear RGB a pixel is ``f ((1 - α) c_b + α c_t)``; α follows from its luminance and the
    credits' grey signature (:meth:`SeriesLook.credit_grey_signature`), so the colour's L is the
    pixel's own.

    Returns:
        ``(H, W, 2)`` float32 ab.
    """
    grey = look.credit_grey_signature()
    assert grey is not None and look.credit_background is not None
    assert look.credit_text is not None
    back = srgb_to_linear(np.asarray(look.credit_background) / 255.0)
    text = srgb_to_linear(np.asarray(look.credit_text) / 255.0)
    back_y, text_y = grey[0], grey[1]
    y = luminance_of_lightness(light)
    alpha = np.clip((y / fade - back_y) / (text_y - back_y), 0.0, 1.0)[..., None]
    linear = np.clip(fade * ((1 - alpha) * back + alpha * text), 0.0, 1.0)
    rgb = np.rint(linear_to_srgb(linear) * 255.0).astype(np.uint8)
    return rgb_to_lab_frame(rgb)[..., 1:]


def palette_support(region_probs: np.ndarray, region_light: np.ndarray, bins: np.ndarray,
                    palette: np.ndarray, *, light_tolerance: float = 6.0, sigma: float = 8.0
                    ) -> np.ndarray:
    """How much each region's predicted distribution supports each palette colour.

    Colour k's support in region r is the predicted mass near its ab,
    ``Σ_q P_r(q) exp(-|ab_k - ab_q|² / 2σ²)``; colours whose lightness is more than
    ``light_tolerance`` from the region's get -1 (they cannot be its colour).

    Returns:
        ``(R, K)`` float32.
    """
    distance = ((palette[:, None, 1:] - bins[None, :, :]) ** 2).sum(-1)  # (K, Q)
    kernel = np.exp(-distance / (2 * sigma * sigma)).astype(np.float32)
    support = np.asarray(region_probs, np.float32) @ kernel.T  # (R, K)
    fits = np.abs(region_light[:, None] - palette[None, :, 0]) <= light_tolerance
    return np.where(fits, support, np.float32(-1.0))


def region_bands(labels: np.ndarray, count: int) -> np.ndarray:
    """``(R, PALETTE_ROWS)``: how many pixels of each region lie in each band of the frame's
    height (the regions' sizes and layout, for :func:`layout_prior`).

    >>> region_bands(np.array([[0, 0], [1, 1], [1, 1], [1, 0]] * 2), 2)[:, :4].tolist()
    [[2, 0, 0, 1], [0, 2, 2, 1]]
    """
    height = labels.shape[0]
    band = _band((np.arange(height) + 0.5) / height)
    index = np.asarray(labels, np.intp) * PALETTE_ROWS + band[:, None]
    return np.bincount(index.ravel(), minlength=count * PALETTE_ROWS).reshape(count,
                                                                            PALETTE_ROWS)


def layout_prior(support: np.ndarray, bands: np.ndarray, look: SeriesLook) -> np.ndarray:
    """What the series' layout says of each region's palette colour, in log units.

    Two things the network may not see in its window: **where** a colour is painted (a
    region's mean log-density of its pixels' heights under the colour's learnt
    :attr:`SeriesLook.palette_rows`: floors are low, skies high), and **with what** (the frame's
    other regions: ``Σ_j c_j log P(k | j) / Σ_j c_j``, where ``c_j`` is the area the other
    regions give colour j by their support and position, and ``P(k | j)`` the learnt
    :attr:`SeriesLook.palette_together`: a sky comes with grass, a lab wall with its floor).
    A series whose colours go anywhere with anything learns flat densities and gets ~0. The
    prior counts in full for a region, and for a colour, of at least :data:`LAYOUT_FULL_SHARE`
    of the frame (the colour's learnt extent), in proportion for smaller ones: characters and
    props move anywhere, with anything, and what a few training episodes happened to show of
    them is chance (on the demo, an undamped prior turned a green character red and a yellow
    one grey).

    Args:
        support: ``(R, K)`` :func:`palette_support` (-1: the colour does not fit).
        bands: ``(R, PALETTE_ROWS)`` :func:`region_bands`.
        look: the series' look; without a learnt layout the prior is 0.

    Returns:
        ``(R, K)`` float32 log prior (0 where a colour does not fit).
    """
    fits = support >= 0
    if not look.has_layout or not len(support):
        return np.zeros(support.shape, np.float32)
    counts = np.asarray(bands, np.float64)
    size = counts.sum(axis=1)
    position = (counts / np.maximum(size, 1.0)[:, None]) @ np.log(look.palette_rows).T.astype(
        np.float64)
    shifted = np.where(fits, position, -np.inf)
    top = shifted.max(axis=1, keepdims=True)
    first = np.where(fits, np.maximum(support, 0.0) * np.exp(shifted - np.where(
        np.isfinite(top), top, 0.0)), 0.0)
    first /= np.maximum(first.sum(axis=1, keepdims=True), 1e-12)
    mass = first * size[:, None]  # the area each region gives each colour
    context = mass.sum(axis=0)[None, :] - mass  # ... and what the other regions give
    weight = context.sum(axis=1, keepdims=True)
    together = (context @ np.log(look.palette_together.astype(np.float64))) / np.maximum(
        weight, 1e-12)
    # the layout is the large regions' business: a small one (a character, a prop) may stand
    # anywhere, with anything, whatever a few training episodes happened to show
    share = np.minimum(size / max(float(size.sum()), 1.0) / LAYOUT_FULL_SHARE, 1.0)
    extent = np.minimum(look.palette_extent / LAYOUT_FULL_SHARE, 1.0)
    prior = LAYOUT_WEIGHT * share[:, None] * extent[None, :] * (
        position + np.where(weight > 0, together, 0.0))
    return np.where(fits, prior, 0.0).astype(np.float32)


def weigh_support(support: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """The palette support after a log prior: ``s_k e^{p_k} / (Σ_j s_j e^{p_j} + r)`` times
    ``Σ_j s_j + r``, where ``r`` is the predicted mass near no fitting colour (which the layout
    says nothing of: prior 0). A prior of 0 leaves the support as it is; a colour the layout
    rules out passes its mass to the others in proportion.

    >>> support = np.array([[0.07, 0.83, -1.0]], np.float32)
    >>> def show(weighed): return [round(float(v), 2) for v in weighed[0]]
    >>> show(weigh_support(support, np.zeros((1, 3), np.float32)))
    [0.07, 0.83, -1.0]
    >>> show(weigh_support(support, np.array([[0.0, -4.6, 0.0]], np.float32)))
    [0.39, 0.05, -1.0]
    """
    fits = support >= 0
    held = np.where(fits, support, 0.0).astype(np.float64)
    rest = np.clip(1.0 - held.sum(axis=1, keepdims=True), 0.0, None)
    weighed = held * np.exp(np.where(fits, prior, 0.0).astype(np.float64))
    total = weighed.sum(axis=1, keepdims=True) + rest
    scaled = weighed / np.maximum(total, 1e-12) * (held.sum(axis=1, keepdims=True) + rest)
    return np.where(fits, scaled, -1.0).astype(np.float32)


def choose_palette(region_probs: np.ndarray, region_light: np.ndarray, bins: np.ndarray,
                   palette: np.ndarray, fallback: np.ndarray, *, light_tolerance: float = 6.0,
                   sigma: float = 8.0, min_support: float = PALETTE_MIN_SUPPORT,
                   bands: np.ndarray | None = None, look: SeriesLook | None = None
                   ) -> np.ndarray:
    """Each region's colour: the palette colour its predicted distribution supports best.

    For region r with mean predicted distribution ``P_r`` over the ab bins and lightness
    ``L_r``, the palette colours of a fitting lightness are candidates
    (:func:`palette_support`); the best-supported one wins when its support reaches
    ``min_support``; otherwise (no palette colour fits the lightness, or the network sees none
    of them) the region keeps ``fallback`` (its predicted colour).

    Args:
        region_probs: ``(R, Q)`` mean predicted distribution of each region.
        region_light: ``(R,)`` each region's lightness (median L).
        bins: ``(Q, 2)`` ab bin centres.
        palette: ``(K, 3)`` Lab palette.
        fallback: ``(R, 2)`` the regions' predicted ab.
        bands, look: the regions' :func:`region_bands` and the series' look: the support is
            weighed by the palette's learnt layout (:func:`layout_prior`) when both are given.

    Returns:
        ``(R, 2)`` float32 ab.
    """
    if not len(palette) or not len(region_probs):
        return np.asarray(fallback, np.float32)
    support = palette_support(region_probs, region_light, bins, palette,
                              light_tolerance=light_tolerance, sigma=sigma)
    if bands is not None and look is not None:
        support = weigh_support(support, layout_prior(support, bands, look))
    best = support.argmax(axis=1)
    chosen = support[np.arange(len(best)), best] >= min_support
    result = np.asarray(fallback, np.float32).copy()
    result[chosen] = palette[best[chosen], 1:]
    return result
