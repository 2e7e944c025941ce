"""Fit a grey model from a pair: the same footage in colour and in black and white.

An archive's black-and-white copy was made from its colour some way: a luma (BT.601/709) of
the encoded values, a film stock's own response (orthochromatic stock is nearly blind to red),
a tone curve of its own. :func:`fit_grey_model` learns it as a
:class:`~vidcolor.color.grey.GreyModel` — weights on the colour channels (encoded or linear light,
whichever fits better) and a monotone tone curve of a few knots — from matched pixels;
:func:`frame_offset` finds by how many frames the two copies are shifted (the offset that
maximises the correlation of their small frames), :mod:`vidcolor.framing` where the black and
white's frame lies on the colour's (bars, scale, crop); :func:`fit_grey_pair` is the I/O edge
that reads two videos, matches their frames and pixels, keeps the flat pixels the two share
(where chroma subsampling and compression leave the colour alone) and fits. A pair whose frames
do not correlate under their best framing, or whose best fit leaves too large a residual, is
refused: it is not the same footage.

The fit, in each space: the weights (non-negative, summing to 1) are searched on a grid of
their simplex (0.05, then 0.01 apart), each scored by the residual of its best tone curve (knots
evenly spaced in encoded terms, a small second-difference penalty that favours the named
models' tones, made monotone by pool-adjacent-violators); then two least-squares steps alternate
from there: the weights against the curve's inverse of the grey, each pixel weighed by the
curve's slope so that the residual is in grey levels, and the curve. The grid matters: with a
cartoon's few colours a bent curve can make up for wrong weights, and the alternating steps
alone stop in such a valley (an orthochromatic-like twin of the demo: red 0.136 for
0.03).
"""

from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass

import cv2
import numpy as np

from vidcolor.color import srgb_to_linear
from vidcolor.color.grey import GREY_MODELS, GREY_SPACES, GreyModel, grey_of_rgb
from vidcolor.errors import InputError
from vidcolor.framing import Framing, find_bars, find_framing, warp_to_colour

log = logging.getLogger(__name__)

__all__ = ["GreyFit", "MAX_RESIDUAL", "MIN_CORRELATION", "NAMED_SLACK", "fit_grey_model",
           "frame_offset", "fit_grey_pair"]

#: Knots of a fitted tone curve.
TONE_KNOTS = 33
#: A pair whose small frames correlate less than this at the best offset is not one footage.
MIN_CORRELATION = 0.9
#: A fit that leaves more than this RMS residual (grey levels) is refused.
MAX_RESIDUAL = 8.0
#: A named grey model is taken over the fit when its RMS residual is within this of the fit's
#: (grey levels: the order of what compressing the two copies moves).
NAMED_SLACK = 1.0
#: Weight of the tone curve's second-difference penalty, per pixel.
_SMOOTHNESS = 0.01
_ITERATIONS = 8
#: Pixels the grid search of the weights looks at.
_SEARCH_PIXELS = 20_000
#: Side of the small frames the offset search compares.
_SMALL = (32, 24)
#: Longest side of the frames the offset and framing are searched on.
_SEARCH_SIDE = 320
#: Matched frames the framing is searched on.
_FRAMING_FRAMES = 4
#: A framing within this (pixels) of the black and white stretched onto the colour's frame is
#: taken as that: the same pixels as before framings were searched.
_SNAP = 0.5
#: Grey levels a pixel's 5x5 neighbourhood may span (any channel) to count as flat.
_FLAT_RANGE = 10


@dataclass(frozen=True)
class GreyFit:
    """What :func:`fit_grey_pair` found.

    Attributes:
        model: the fitted grey model.
        residual: RMS difference (grey levels) between the black and white and the model's
            grey of the colour, over the fitted pixels.
        offset: black-and-white frame ``i + offset`` shows colour frame ``i``.
        correlation: of the two copies' small frames at that offset (1: identical).
        frames: matched frames the pixels came from.
        pixels: pixels fitted.
        scale, shift: the black and white's framing on the colour, in each one's own pixels:
            colour point ``(x, y)`` shows at ``(scale[0] * x + shift[0], scale[1] * y +
            shift[1])`` of the black and white (:class:`~vidcolor.framing.Framing`; a copy
            zoomed 6 % and cropped has a scale of 1.06 and a negative shift, one letterboxed
            a positive vertical shift, one of another size the ratio of the sizes).
    """

    model: GreyModel
    residual: float
    offset: int
    correlation: float
    frames: int
    pixels: int
    scale: tuple[float, float] = (1.0, 1.0)
    shift: tuple[float, float] = (0.0, 0.0)

    @property
    def framing(self) -> Framing:
        """:attr:`scale` and :attr:`shift` as a :class:`~vidcolor.framing.Framing`."""
        return Framing(self.scale, self.shift)


def _features(rgb: np.ndarray, space: str) -> np.ndarray:
    """``(N, 3)`` float64 values of uint8 colours in ``space`` (0–1)."""
    values = rgb.astype(np.float64) / 255.0
    return srgb_to_linear(values) if space == "linear" else values


def _knots(space: str) -> np.ndarray:
    """Tone knots evenly spaced in encoded terms (dense near black in linear light)."""
    encoded = np.linspace(0.0, 1.0, TONE_KNOTS)
    return srgb_to_linear(encoded) if space == "linear" else encoded


def _hats(values: np.ndarray, knots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the knot below each value and the fraction towards the next."""
    index = np.clip(np.searchsorted(knots, values, side="right") - 1, 0, len(knots) - 2)
    fraction = np.clip((values - knots[index]) / (knots[index + 1] - knots[index]), 0.0, 1.0)
    return index, fraction


def _pool_adjacent_violators(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The non-decreasing sequence nearest ``values`` in weighted least squares."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for value, weight in zip(values, weights, strict=True):
        blocks.append([float(value), float(weight), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, weight_, count = blocks.pop()
            previous = blocks[-1]
            total = previous[1] + weight_
            previous[0] = (previous[0] * previous[1] + mean * weight_) / total
            previous[1], previous[2] = total, previous[2] + count
    return np.concatenate([np.full(int(count), mean) for mean, _, count in blocks])


def _fit_tone(values: np.ndarray, grey: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Levels at ``knots`` of the smooth monotone curve through (values, grey), strictly
    increasing within 0–255."""
    count = len(knots)
    index, fraction = _hats(values, knots)
    rest = 1 - fraction
    beside = np.bincount(index, fraction * rest, count - 1)
    gram = np.diag(np.bincount(index, rest * rest, count)
                   + np.bincount(index + 1, fraction * fraction, count)) \
        + np.diag(beside, 1) + np.diag(beside, -1)
    rhs = np.bincount(index, (1 - fraction) * grey, count) \
        + np.bincount(index + 1, fraction * grey, count)
    second = np.diff(np.eye(count), n=2, axis=0)
    penalty = _SMOOTHNESS * len(values) * second.T @ second
    levels = np.linalg.solve(gram + penalty + 1e-9 * np.eye(count), rhs)
    levels = _pool_adjacent_violators(np.clip(levels, 0.0, 255.0), np.diag(gram) + 1e-6)
    # strictly increasing (the tone is inverted when colours are solved onto a grey)
    return levels * (1.0 - count * 1e-5) + np.arange(count) * 1e-3


def _fit_weights(features: np.ndarray, target: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Weights >= 0 summing to 1 minimising sum(slope² (w·x - target)²): the best of the
    unconstrained solutions on each face of the simplex."""
    best, best_cost = np.array([1.0, 0.0, 0.0]), np.inf
    for size in (3, 2, 1):
        for channels in itertools.combinations(range(3), size):
            last = features[:, channels[-1]]
            free = np.zeros(0)
            if size > 1:
                design = np.stack([features[:, c] - last for c in channels[:-1]], axis=1)
                free = np.linalg.lstsq(design * slope[:, None], (target - last) * slope,
                                       rcond=None)[0]
            weights = np.zeros(3)
            weights[list(channels[:-1])] = free
            weights[channels[-1]] = 1.0 - free.sum()
            if (weights < -1e-12).any():
                continue
            cost = float(np.sum(((features @ weights - target) * slope) ** 2))
            if cost < best_cost:
                best, best_cost = np.clip(weights, 0.0, None), cost
    return best / best.sum()


def _tone_residual(features: np.ndarray, grey: np.ndarray, knots: np.ndarray,
                   weights: np.ndarray) -> float:
    """RMS residual (levels) of the best tone curve for ``weights``."""
    values = features @ weights
    levels = _fit_tone(values, grey, knots)
    return float(np.sqrt(np.mean((np.interp(values, knots, levels) - grey) ** 2)))


def _simplex(step: float, centre: np.ndarray | None = None, reach: float = 1.0
             ) -> list[np.ndarray]:
    """Weights >= 0 summing to 1 on a grid ``step`` apart, within ``reach`` of ``centre``."""
    points = []
    for red in np.arange(0.0, 1.0 + 1e-9, step):
        for green in np.arange(0.0, 1.0 + 1e-9 - red, step):
            weights = np.array([red, green, max(0.0, 1.0 - red - green)])
            if centre is None or np.abs(weights - centre).max() <= reach + 1e-9:
                points.append(weights)
    return points


def _search_weights(features: np.ndarray, grey: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """The weights (on a grid of the simplex, 0.05 then 0.01 apart) whose best tone curve
    fits best: the alternating fit alone can stop in a wrong valley when a cartoon's few
    colours let a bent curve make up for wrong weights."""
    best = min(_simplex(0.05), key=lambda w: _tone_residual(features, grey, knots, w))
    return min(_simplex(0.01, best, 0.05),
               key=lambda w: _tone_residual(features, grey, knots, w))


def _fit_space(rgb: np.ndarray, grey: np.ndarray, space: str) -> tuple[GreyModel, float]:
    features = _features(rgb, space)
    knots = _knots(space)
    sample = np.random.default_rng(0).permutation(len(rgb))[:_SEARCH_PIXELS]
    weights = _search_weights(features[sample], grey[sample], knots)
    levels = _fit_tone(features @ weights, grey, knots)
    unclipped = (grey > 1) & (grey < 254)  # a clipped grey says little about the weights
    for _ in range(_ITERATIONS):
        target = np.interp(grey, levels, knots)
        index, _fraction = _hats(target, knots)
        slope = (levels[index + 1] - levels[index]) / (knots[index + 1] - knots[index])
        weights = _fit_weights(features[unclipped], target[unclipped], slope[unclipped])
        levels = _fit_tone(features @ weights, grey, knots)
    model = GreyModel("fitted", space, tuple(float(w) for w in weights),
                      tuple((float(v), float(level)) for v, level in zip(knots, levels,
                                                                         strict=True)))
    predicted = np.interp(features @ weights, knots, levels)
    return model, float(np.sqrt(np.mean((predicted - grey) ** 2)))


def fit_grey_model(rgb: np.ndarray, grey: np.ndarray,
                   spaces: tuple[str, ...] = GREY_SPACES) -> tuple[GreyModel, float]:
    """The grey model that best turns colours ``rgb`` into ``grey``.

    Args:
        rgb: ``(N, 3)`` (or ``(..., 3)``) uint8 colours.
        grey: ``(N,)`` (or ``(...)``) uint8 grey levels of the same pixels.
        spaces: the colour spaces to try (:data:`vidcolor.color.grey.GREY_SPACES`).

    Returns:
        ``(model, residual)``: the fitted :class:`~vidcolor.color.grey.GreyModel` of the space
        that fits best, and its RMS residual in grey levels; or the named model
        (:data:`~vidcolor.color.grey.GREY_MODELS`) that explains the pixels within
        :data:`NAMED_SLACK` levels of it. A fit is never exact (its weights are 0.01 apart,
        its tone curve has 33 knots) and it learns the copies' compression too: on the
        demo's BT.601 twin (the pair episode02) it left 0.21 levels where BT.601 leaves 0.93
        (the twin's encode shifts its greys by 0.76 levels), but its ceiling on episode01
        (``scripts/warp_floor.py --grey-pair``) was 38.95 dB against BT.601's 39.38. Where
        the copy is a luma or the luminance, the exact model is the better choice.

    Raises:
        ValueError: shapes that do not match, or fewer than 16 pixels.

    Example:
        >>> colours = np.random.default_rng(0).integers(0, 256, (5000, 3), dtype=np.uint8)
        >>> model, residual = fit_grey_model(colours, grey_of_rgb(colours, "bt601"))
        >>> model.space, [round(w, 2) for w in model.weights], residual < 0.5
        ('encoded', [0.3, 0.59, 0.11], True)
    """
    rgb = np.asarray(rgb, np.uint8).reshape(-1, 3)
    grey = np.asarray(grey).reshape(-1).astype(np.float64)
    if len(rgb) != len(grey):
        raise ValueError(f"{len(rgb)} colours but {len(grey)} grey levels")
    if len(rgb) < 16:
        raise ValueError(f"{len(rgb)} pixels are too few to fit a grey model")
    fitted, residual = min((_fit_space(rgb, grey, space) for space in spaces),
                           key=lambda fit: fit[1])
    named = [(GreyModel.named(name), _named_residual(rgb, grey, name)) for name in GREY_MODELS]
    model, named_residual = min(named, key=lambda fit: fit[1])
    if named_residual <= residual + NAMED_SLACK:
        return model, named_residual
    return fitted, residual


def _named_residual(rgb: np.ndarray, grey: np.ndarray, name: str) -> float:
    return float(np.sqrt(np.mean((grey_of_rgb(rgb, name).astype(np.float64) - grey) ** 2)))


def _correlation(first: np.ndarray, second: np.ndarray) -> float:
    first, second = first - first.mean(), second - second.mean()
    norm = float(np.sqrt((first * first).sum() * (second * second).sum()))
    return float((first * second).sum() / norm) if norm > 0 else 0.0


def frame_offset(colour: np.ndarray, grey: np.ndarray, max_offset: int = 12
                 ) -> tuple[int, float]:
    """By how many frames ``grey`` is shifted against ``colour``.

    Each offset is scored by the correlation of the overlapping small frames plus that of
    their changes from frame to frame (which pins the offset down where the pictures move);
    the best score wins, the smaller shift on a tie.

    Args:
        colour: ``(T, h, w)`` small grey versions of the colour frames (any grey model).
        grey: ``(T', h, w)`` the black-and-white frames at the same size.
        max_offset: the largest shift tried, either way.

    Returns:
        ``(offset, correlation)``: ``grey[i + offset]`` shows ``colour[i]``; the correlation
        of the overlapping frames at that offset.

    Raises:
        ValueError: no offset leaves two frames in common.

    >>> frames = np.random.default_rng(1).random((20, 6, 8))
    >>> frame_offset(frames[2:], frames, max_offset=4)
    (2, 1.0)
    """
    colour, grey = np.asarray(colour, np.float64), np.asarray(grey, np.float64)
    best: tuple[float, int, float] | None = None
    for offset in sorted(range(-max_offset, max_offset + 1), key=abs):
        start, stop = max(0, -offset), min(len(colour), len(grey) - offset)
        if stop - start < 2:
            continue
        first, second = colour[start:stop], grey[start + offset:stop + offset]
        still = _correlation(first, second)
        score = still + _correlation(np.diff(first, axis=0), np.diff(second, axis=0))
        if best is None or score > best[0] + 1e-9:
            best = (score, offset, still)
    if best is None:
        raise ValueError("no frame offset leaves two frames in common")
    return best[1], round(best[2], 6)


def _flat(*images: np.ndarray) -> np.ndarray:
    """Pixels whose 5x5 neighbourhood spans at most :data:`_FLAT_RANGE` levels in every
    channel of every image (the interiors of fills)."""
    kernel = np.ones((5, 5), np.uint8)
    flat = None
    for image in images:
        spread = cv2.dilate(image, kernel) - cv2.erode(image, kernel)
        spread = spread.max(axis=2) if spread.ndim == 3 else spread
        flat = spread <= _FLAT_RANGE if flat is None else flat & (spread <= _FLAT_RANGE)
    assert flat is not None
    return flat


@dataclass(frozen=True)
class _Match:
    """How two videos' frames match: colour frame ``i`` (``start <= i < stop``) is shown by
    black-and-white frame ``i + offset`` decoded at ``bw_size`` (None: its own), the colour's
    pixels in ``box`` by its pixels under ``framing`` (None: the same pixels)."""

    offset: int
    correlation: float
    start: int
    stop: int
    framing: Framing
    bw_size: tuple[int, int] | None
    decode_framing: Framing | None
    box: tuple[int, int, int, int]


def _search_frames(path: str | os.PathLike[str], size: tuple[int, int], max_frames: int
                   ) -> np.ndarray:
    """``(T, h, w)`` BT.601 greys of the first ``max_frames`` frames, scaled to at most
    :data:`_SEARCH_SIDE` pixels wide and high."""
    from vidcolor.video.decode import iter_frames

    factor = min(1.0, _SEARCH_SIDE / max(size))
    small = (max(8, round(size[0] * factor)), max(8, round(size[1] * factor)))
    return np.stack([grey_of_rgb(frame.rgb, "bt601") for frame in itertools.islice(
        iter_frames(path, size=None if small == size else small), max_frames)])


def _small_pairs(colour: np.ndarray, bw: np.ndarray, framing: Framing,
                 picture: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The colour frames and the black and white resampled onto them, over the pixels both
    show, at :data:`_SMALL` (for :func:`frame_offset`)."""
    box = framing.overlap(colour.shape[:0:-1], picture, margin=1.0)
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        box = (0, 0, colour.shape[2], colour.shape[1])
    x0, y0, x1, y1 = box
    small_colour = np.stack([cv2.resize(frame[y0:y1, x0:x1], _SMALL, interpolation=cv2.INTER_AREA)
                             for frame in colour])
    small_bw = np.stack([cv2.resize(warp_to_colour(frame, framing, box), _SMALL,
                                    interpolation=cv2.INTER_AREA) for frame in bw])
    return small_colour, small_bw


def _framing_frames(colour: np.ndarray, offset: int, bw_count: int) -> list[int]:
    """The :data:`_FRAMING_FRAMES` colour frames (with a match at ``offset``) with the most
    detail, one from each stretch of the overlap."""
    start, stop = max(0, -offset), min(len(colour), bw_count - offset)
    stretches = np.array_split(np.arange(start, stop), min(_FRAMING_FRAMES, stop - start))
    return [int(part[np.argmax([colour[i].std() for i in part])]) for part in stretches]


def _match_frames(colour: np.ndarray, bw: np.ndarray, pair: str, max_offset: int
                  ) -> tuple[int, float, Framing, tuple[int, int, int, int]]:
    """The frame offset, correlation and framing (on these search-size frames) of a pair, and
    the black and white's picture inside its bars; the offset is found again once the framing
    is known, and the framing again where that moves it."""
    picture = find_bars(bw[np.linspace(0, len(bw) - 1, min(len(bw), 60)).astype(int)])
    framing = Framing.stretch(colour.shape[:0:-1], picture)
    try:
        offset, correlation = frame_offset(*_small_pairs(colour, bw, framing, picture),
                                           max_offset)
        for _ in range(2):
            chosen = _framing_frames(colour, offset, len(bw))
            framing = find_framing(colour[chosen], bw[[i + offset for i in chosen]], picture)
            found, correlation = frame_offset(*_small_pairs(colour, bw, framing, picture),
                                              max_offset)
            if found == offset:
                break
            offset = found
    except ValueError as exc:
        raise InputError(f"{pair}: cannot be matched ({exc})") from None
    return offset, correlation, framing, picture


def _match_pair(colour_path: str | os.PathLike[str], bw_path: str | os.PathLike[str],
                pair: str, max_frames: int, max_offset: int) -> _Match:
    """How the pair's frames match (:class:`_Match`), found on their first ``max_frames``
    frames at the search size; a pair that does not correlate under its best framing is
    refused."""
    from vidcolor.video.probe import probe

    colour_info, bw_info = probe(colour_path), probe(bw_path)
    size, bw_size = (colour_info.width, colour_info.height), (bw_info.width, bw_info.height)
    colour = _search_frames(colour_path, size, max_frames)
    bw = _search_frames(bw_path, bw_size, max_frames)
    offset, correlation, framing, picture = _match_frames(colour, bw, pair, max_offset)
    if correlation < MIN_CORRELATION:
        raise InputError(f"{pair}: not the same footage (their frames correlate {correlation:.2f}"
                         f" at best, below {MIN_CORRELATION}); give a colour video and its own "
                         "black-and-white copy")
    start, stop = max(0, -offset), min(len(colour), len(bw) - offset)
    colour_factor = (size[0] / colour.shape[2], size[1] / colour.shape[1])
    bw_factor = (bw_size[0] / bw.shape[2], bw_size[1] / bw.shape[1])
    framing = framing.rescaled(colour_factor, bw_factor)
    stretched = Framing.stretch(size, (0, 0, *bw_size))
    if framing.distance(stretched, size) <= _SNAP:
        # today's pairs: the same pixels as ever (those the bars, if any, hide aside)
        box = _picture_box(Framing(), size, picture, (size[0] / bw.shape[2],
                                                      size[1] / bw.shape[1]))
        return _Match(offset, correlation, start, stop, stretched,
                      None if bw_size == size else size, None, box)
    # a much larger black and white is scaled down by FFmpeg (area) first, against aliasing
    decode = (round(bw_size[0] / framing.scale[0]) if framing.scale[0] > 1.25 else bw_size[0],
              round(bw_size[1] / framing.scale[1]) if framing.scale[1] > 1.25 else bw_size[1])
    decode_framing = framing.rescaled((1.0, 1.0), (decode[0] / bw_size[0],
                                                   decode[1] / bw_size[1]))
    box = _picture_box(decode_framing, size, picture, (decode[0] / bw.shape[2],
                                                       decode[1] / bw.shape[1]))
    return _Match(offset, correlation, start, stop, framing,
                  None if decode == bw_size else decode, decode_framing, box)


def _picture_box(framing: Framing, size: tuple[int, int], picture: tuple[int, int, int, int],
                 to_decoded: tuple[float, float]) -> tuple[int, int, int, int]:
    """The colour pixels (of a frame of ``size``) that the black and white's ``picture``
    (search pixels; ``to_decoded`` scales them to the decoded frame's, which ``framing`` maps
    onto) shows, a search pixel and one more inside the bars' edge; the whole frame where
    there are no bars and the framing covers it."""
    x0, y0, x1, y1 = picture
    scaled = (x0 * to_decoded[0], y0 * to_decoded[1], x1 * to_decoded[0], y1 * to_decoded[1])
    if framing == Framing() and x0 == 0 and y0 == 0 and \
            round(scaled[2]) == size[0] and round(scaled[3]) == size[1]:
        return 0, 0, size[0], size[1]
    return framing.overlap(size, scaled, margin=1.0 + max(to_decoded))


def _matched_pixels(colour_path: str | os.PathLike[str], bw_path: str | os.PathLike[str],
                    match: _Match, fit_frames: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The flat pixels (colours and greys) of ``fit_frames`` matched frames, evenly spaced,
    over the colour pixels the black and white shows."""
    from vidcolor.video.decode import iter_frames

    start, stop, offset = match.start, match.stop, match.offset
    wanted = set(np.linspace(start, stop - 1, min(fit_frames, stop - start)).round().astype(int))
    x0, y0, x1, y1 = match.box
    colours, greys = [], []
    colour_frames = itertools.islice(iter_frames(colour_path), start, stop)
    bw_frames = itertools.islice(iter_frames(bw_path, size=match.bw_size), start + offset, None)
    for index, (colour, bw) in enumerate(zip(colour_frames, bw_frames, strict=False), start):
        if index not in wanted:
            continue
        grey = grey_of_rgb(bw.rgb, "bt601")
        if match.decode_framing is not None:
            grey = warp_to_colour(grey, match.decode_framing, match.box)
        else:
            grey = grey[y0:y1, x0:x1]
        rgb = colour.rgb[y0:y1, x0:x1]
        flat = _flat(rgb, grey)
        if flat.mean() < 0.05:  # grain everywhere: the flattest half
            spread = cv2.dilate(grey, np.ones((5, 5), np.uint8)) - cv2.erode(
                grey, np.ones((5, 5), np.uint8))
            flat = spread <= np.median(spread)
        colours.append(rgb[flat])
        greys.append(grey[flat])
    return colours, greys


def fit_grey_pair(colour_path: str | os.PathLike[str], bw_path: str | os.PathLike[str], *,
                  max_frames: int = 300, max_offset: int = 12, fit_frames: int = 24,
                  max_pixels: int = 200_000, seed: int = 0) -> GreyFit:
    """Fit the grey model that made the black-and-white video ``bw_path`` from the colour
    video ``colour_path`` (the same footage).

    The first ``max_frames`` frames of each, at most 320 pixels wide, give their offset
    (:func:`frame_offset`) and the black and white's framing on the colour
    (:func:`vidcolor.framing.find_framing`: its bars, scale and crop); then ``fit_frames``
    matched frames, evenly spaced, give the flat pixels of the part of the colour frame the
    black and white shows (at most ``max_pixels``, drawn with ``seed``) to
    :func:`fit_grey_model`. A framing within half a pixel of the plain one (the black and
    white stretched onto the colour's frame) is taken as that one.

    Raises:
        InputError: a video cannot be read, or the pair does not match (its frames do not
            correlate at any offset under their best framing, or the best fit leaves a residual
            over :data:`MAX_RESIDUAL` levels); one line naming both files.
    """
    pair = f"{colour_path} and {bw_path}"
    match = _match_pair(colour_path, bw_path, pair, max_frames, max_offset)
    colours, greys = _matched_pixels(colour_path, bw_path, match, fit_frames)
    if not colours:
        raise InputError(f"{pair}: no frames in common to fit a grey model from")
    rgb, grey = np.concatenate(colours), np.concatenate(greys)
    if len(rgb) > max_pixels:
        keep = np.random.default_rng(seed).choice(len(rgb), max_pixels, replace=False)
        rgb, grey = rgb[keep], grey[keep]
    try:
        model, residual = fit_grey_model(rgb, grey)
    except ValueError as exc:
        raise InputError(f"{pair}: cannot fit a grey model ({exc})") from None
    if residual > MAX_RESIDUAL:
        raise InputError(f"{pair}: not the same footage, or not a grey model of it (the best "
                         f"fit leaves {residual:.1f} grey levels RMS, more than {MAX_RESIDUAL:g})")
    log.info("grey model fitted from %s: %s, residual %.2f levels RMS, offset %d frames, "
             "framing %s", pair, model.describe(), residual, match.offset,
             match.framing.describe())
    return GreyFit(model, residual, match.offset, match.correlation, len(colours), len(rgb),
                   match.framing.scale, match.framing.shift)
