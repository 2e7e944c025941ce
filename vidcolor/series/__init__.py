"""What a series' colour episodes teach besides the network: its look.

Cartoons are painted from a small palette of flat fills with black ink, and their credits have
colours of their own. :func:`vidcolor.dataset.look.learn_look` reads a dataset's training
frames (and the credit frames the filter set aside) and learns three things from them
(:mod:`vidcolor.series.learn`), stored as ``series.json`` with the dataset and copied into every
run trained on it; render applies them (:mod:`vidcolor.series.apply`):

* the **palette** (:func:`~vidcolor.series.learn.extract_palette`): the fill colours, found as
  the peaks of the 3-D Lab histogram of *flat* pixels (a 3×3 neighbourhood within 3 L units and
  4 ab units: fills, not edges, ink anti-aliasing or texture), each refined to the mean of the
  pixels around it; regions take them (:func:`~vidcolor.series.apply.choose_palette`);
* the **chroma ceiling** (:func:`~vidcolor.series.learn.chroma_ceiling`): for every lightness L,
  the 99th percentile of the training pixels' chroma ``sqrt(a² + b²)`` — ink (L < ~15) and white
  highlights come out near 0, so render keeps them neutral instead of tinting them
  (:func:`~vidcolor.series.apply.apply_look`);
* the **credit look** (:func:`~vidcolor.series.learn.learn_credits`): the background and text
  colours of the credit screens (``excluded.csv``), so render can paint the credits it detects
  in a grey episode (:func:`~vidcolor.series.apply.credit_fade`,
  :func:`~vidcolor.series.apply.paint_credits`).

This module holds the look itself (:class:`SeriesLook`) and its file. Pure numpy; no torch, and
no reading of datasets (the dataset module reads them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vidcolor.color import Y_WEIGHTS, srgb_to_linear
from vidcolor.errors import DatasetError
from vidcolor.fsutil import read_json, write_json_atomic

SERIES_FILE = "series.json"
#: Version of how a look is learnt: a dataset whose ``series.json`` has another is relearnt.
LOOK_VERSION = 3
#: The layout of the palette (:func:`~vidcolor.series.learn.palette_layout`): bands of the
#: frame's height.
PALETTE_ROWS = 8


def height_band(height: np.ndarray) -> np.ndarray:
    """The band of the frame's height (0 top ... PALETTE_ROWS - 1 bottom) of positions given
    as fractions of it."""
    return np.minimum((height * PALETTE_ROWS).astype(np.intp), PALETTE_ROWS - 1)


def luminance_of_codes(rgb: Any) -> np.ndarray:
    """Relative luminance Y (float64) of sRGB colours given as code values (0–255, ``(..., 3)``).

    >>> float(luminance_of_codes((255, 255, 255)))
    1.0
    """
    return srgb_to_linear(np.asarray(rgb) / 255.0) @ Y_WEIGHTS


@dataclass
class SeriesLook:
    """A series' palette, chroma ceiling and credit colours (see the module docstring).

    Attributes:
        palette: ``(K, 3)`` Lab fill colours, most frequent first.
        palette_share: ``(K,)`` the share of flat training pixels near each colour.
        chroma_ceiling: ``(101,)`` the chroma ceiling at each integer L (0–100).
        typical_ab: ``(101, 2)`` the median ab at each integer L.
        neutral: ``(101,)`` the lightness values the series keeps neutral (chroma below
            :data:`~vidcolor.series.learn.NEUTRAL_CHROMA` for 90 % of the pixels): there a
            pixel takes the typical ab.
        credit_background, credit_text: sRGB (0–255) of the credit screens at full
            brightness, or None when the dataset recorded no credit colours.
        credit_grey: the credit screens' grey signature learnt from the credit frames' own
            lightness (:func:`~vidcolor.series.learn.learn_credit_grey`): ``(background Y at
            full brightness, text Y at full brightness, lowest and highest text/background
            ratio)``; None for a dataset that did not record it (then
            :meth:`credit_grey_signature` derives one from the credit colours).
        frames: how many training frames were read.
        palette_rows, palette_together, palette_extent: the palette's layout
            (:func:`~vidcolor.series.learn.palette_layout`): each colour's density over bands
            of the frame's height ``(K, PALETTE_ROWS)``, the share of the frames showing colour
            j that show k too ``(K, K)``, and the share of the flat pixels each colour
            typically covers ``(K,)``; empty for a series learnt before they were (then regions
            choose without them).
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
        back_y = float(luminance_of_codes(self.credit_background))
        text_y = float(luminance_of_codes(self.credit_text))
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
