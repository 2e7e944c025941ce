"""Where a black-and-white copy's frame lies on its colour original's: bars, scale and crop.

A film transfer or another master of the same footage rarely shows exactly the colour's frame:
it is zoomed and cropped a few percent, letterboxed or pillarboxed, of another resolution or
pixel aspect. :class:`Framing` is that mapping, a scale per axis and a shift: the colour's point
``(x, y)`` shows at ``(scale_x * x + shift_x, scale_y * y + shift_y)`` of the black and white,
in pixels counted from the top-left corner of the top-left pixel (so resizing an image just
scales its coordinates; OpenCV counts from that pixel's centre, :meth:`Framing.matrix`
converts). :func:`find_bars` finds the black and white's bars, :func:`find_framing` the mapping
that maximises the correlation of the two pictures, :func:`warp_to_colour` resamples the black
and white onto the colour's pixels.

The search, chosen for flat cartoon frames:

1. The bars (rows and columns at the edges that stay near black in every frame, as ffmpeg's
   ``cropdetect`` finds them) give three *plain* framings: the colour's frame stretched onto
   the black and white's picture (a copy of another resolution or pixel aspect, letterboxed or
   pillarboxed), and fitted to the picture's width or its height with the same pixel aspect (a
   matte that hides part of the colour's picture). The bars never take part in a correlation.
2. Coarse, exhaustive: on a few matched frames at most 96 pixels wide, zooms of 0.80 to 1.25
   about each plain framing, 1 % apart; for each, the central three quarters of the black and
   white resampled to that zoom slides over the colour's grey by normalised cross-correlation
   (``cv2.matchTemplate``, ``TM_CCOEFF_NORMED``), the frames' maps summed; the best zoom and
   position win. It cannot stop in a local optimum, which the gradient step alone, started
   from the plain framing, can: it finds zooms of 0.85 to 1.2 with crops of up to 30 pixels on
   a 240x180 cartoon scene, but stops 15 pixels short of a crop of 25 pixels at the same scale
   (a cartoon's flat fills give the correlation wide plateaus); this search finds all of them
   within 0.02 pixels. Normalised correlation is indifferent to the two copies' different grey
   models as long as they order the fills alike (the same premise as the frame offset's).
3. Fine: Gauss-Newton on the four parameters, i.e. ECC / Lucas-Kanade restricted to a scale
   per axis and a shift (``cv2.findTransformECC`` has no such motion model: its affine one
   fits a rotation and a shear too, which a transfer does not have), on the same frames at the
   search size (at most 320 pixels wide), blurred by 2 then 0.7 pixels, over the colour pixels
   whose footprint lies in the black and white's picture; the grey relation is refit as a line
   at each step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["BAR_LEVEL", "ZOOMS", "Framing", "find_bars", "find_framing", "warp_to_colour"]

#: A row or column at an edge of the black and white with at most 2 % of its pixels (over the
#: frames looked at) brighter than this is a bar.
BAR_LEVEL = 40
#: Zooms about the nominal framing the coarse search tries: 0.80 to 1.25, 1 % apart, the
#: nearest 1 first (so a tie keeps the plainer framing).
ZOOMS = tuple(sorted((float(np.exp(step * np.log(1.01))) for step in range(-22, 23)),
                     key=lambda zoom: abs(np.log(zoom))))
_BAR_SHARE = 0.02
#: Longest side of the frames the coarse search compares.
_COARSE_SIDE = 96
#: Share of the resampled black and white (per axis) slid over the colour.
_TEMPLATE_SHARE = 0.75
#: Blurs (pixels) of the fine search's rounds, and its steps per round.
_BLURS = (2.0, 0.7)
_STEPS = 15


@dataclass(frozen=True)
class Framing:
    """The colour's point ``(x, y)`` shows at ``(scale[0] * x + shift[0], scale[1] * y +
    shift[1])`` of the black and white (pixels counted from the top-left pixel's corner)."""

    scale: tuple[float, float] = (1.0, 1.0)
    shift: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def stretch(cls, size: tuple[int, int], picture: tuple[float, float, float, float]
                ) -> Framing:
        """A colour frame of ``size`` (width, height) stretched onto ``picture`` (x0, y0, x1,
        y1) of the black and white."""
        x0, y0, x1, y1 = picture
        return cls(((x1 - x0) / size[0], (y1 - y0) / size[1]), (float(x0), float(y0)))

    def rescaled(self, colour_factor: tuple[float, float], bw_factor: tuple[float, float]
                 ) -> Framing:
        """The same mapping between the two images resized by these factors (per axis).

        >>> Framing((2.0, 2.0), (4.0, 0.0)).rescaled((0.5, 0.5), (0.25, 0.25))
        Framing(scale=(1.0, 1.0), shift=(1.0, 0.0))
        """
        return Framing(
            (self.scale[0] * bw_factor[0] / colour_factor[0],
             self.scale[1] * bw_factor[1] / colour_factor[1]),
            (self.shift[0] * bw_factor[0], self.shift[1] * bw_factor[1]))

    def matrix(self, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
        """The 2x3 matrix from colour pixel centres (counted from ``origin``) to black-and-white
        ones as OpenCV counts them, for ``cv2.warpAffine(..., WARP_INVERSE_MAP)``."""
        (sx, sy), (tx, ty) = self.scale, self.shift
        return np.array([[sx, 0.0, tx + sx * (origin[0] + 0.5) - 0.5],
                         [0.0, sy, ty + sy * (origin[1] + 0.5) - 0.5]])

    def distance(self, other: Framing, size: tuple[int, int]) -> float:
        """The most (black-and-white pixels) the two framings move a corner of a colour frame
        of ``size`` apart."""
        return max(abs((self.scale[axis] - other.scale[axis]) * edge
                       + self.shift[axis] - other.shift[axis])
                   for axis in (0, 1) for edge in (0, size[axis]))

    def overlap(self, size: tuple[int, int], picture: tuple[float, float, float, float],
                margin: float = 0.0) -> tuple[int, int, int, int]:
        """The colour pixels (x0, y0, x1, y1 of a frame of ``size``) whose footprint lies in
        ``picture`` of the black and white shrunk by ``margin`` pixels; empty when x1 <= x0.

        >>> Framing((0.5, 0.5), (0.0, 9.0)).overlap((128, 72), (0, 9, 64, 45))
        (0, 0, 128, 72)
        >>> Framing((1.06, 1.06), (-5.0, -1.0)).overlap((96, 72), (0, 0, 96, 72))
        (5, 1, 95, 68)
        """
        box = []
        for axis in (0, 1):
            scale, shift = self.scale[axis], self.shift[axis]
            low = int(np.ceil((picture[axis] + margin - shift) / scale - 1e-9))
            high = int(np.floor((picture[axis + 2] - margin - shift) / scale + 1e-9))
            box.append((max(0, low), min(size[axis], high)))
        return box[0][0], box[1][0], box[0][1], box[1][1]

    def describe(self) -> str:
        """E.g. ``scale 1.060, shift (-5.0, -1.0) px``; ``scale 1.063 x 1.056`` where the two
        axes differ."""
        sx, sy = self.scale
        scale = f"{sx:.4g}" if abs(sx - sy) < 5e-4 * sx else f"{sx:.4g} x {sy:.4g}"
        shift_x, shift_y = (round(value, 1) + 0.0 for value in self.shift)  # no "-0.0"
        return f"scale {scale}, shift ({shift_x:.1f}, {shift_y:.1f}) px"


def find_bars(frames: np.ndarray, level: int = BAR_LEVEL) -> tuple[int, int, int, int]:
    """The picture of black-and-white frames inside their black bars.

    A row (column) is a bar where at most 2 % of its pixels over all ``frames`` are brighter
    than ``level``; the bars are the runs of such rows (columns) from each edge. Frames that are
    dark almost throughout (bars over more than 60 % of an axis) are taken as having none.

    Args:
        frames: ``(T, H, W)`` uint8 grey frames (a few dozen, spread out, suffice).
        level: the brightest grey level a bar may show.

    Returns:
        ``(x0, y0, x1, y1)``: the picture is ``frames[:, y0:y1, x0:x1]``.

    >>> frames = np.full((3, 10, 8), 200, np.uint8)
    >>> frames[:, :2] = 0; frames[:, 9:] = 12
    >>> find_bars(frames)
    (0, 2, 8, 9)
    """
    bright = np.asarray(frames) > level
    box = []
    for axis, length in ((1, bright.shape[2]), (2, bright.shape[1])):
        lit = bright.mean(axis=(0, axis)) > _BAR_SHARE
        first = int(np.argmax(lit)) if lit.any() else length
        last = length - int(np.argmax(lit[::-1])) if lit.any() else 0
        box.append((first, last) if last - first >= 0.4 * length else (0, length))
    (x0, x1), (y0, y1) = box
    return x0, y0, x1, y1


def warp_to_colour(image: np.ndarray, framing: Framing, box: tuple[int, int, int, int]
                   ) -> np.ndarray:
    """The black-and-white ``image`` resampled (bilinear) onto the colour pixels of ``box``
    (x0, y0, x1, y1, e.g. from :meth:`Framing.overlap`)."""
    x0, y0, x1, y1 = box
    return cv2.warpAffine(image, framing.matrix((x0, y0)), (x1 - x0, y1 - y0),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def find_framing(colour: Sequence[np.ndarray], bw: Sequence[np.ndarray],
                 picture: tuple[int, int, int, int]) -> Framing:
    """The framing of black-and-white frames on their colour ones (see the module's
    docstring for the search).

    Args:
        colour: grey versions (any grey model) of a few colour frames, ``(h, w)`` uint8.
        bw: the black-and-white frames that show them, ``(H, W)`` uint8 (any size).
        picture: ``(x0, y0, x1, y1)`` of ``bw`` inside its bars (:func:`find_bars`).

    Returns:
        The :class:`Framing` that maximises their correlation, within zooms of 0.8 to 1.25 of
        the colour stretched onto ``picture`` or fitted to its width or height, and shifts of
        an eighth of a frame or so.
    """
    framing = _coarse(colour, bw, picture)
    for blur in _BLURS:
        framing = _refine(colour, bw, picture, framing, blur)
    return framing


def _coarse(colour: Sequence[np.ndarray], bw: Sequence[np.ndarray],
            picture: tuple[int, int, int, int]) -> Framing:
    """The best zoom of :data:`ZOOMS` and its shift about each of three plain framings of the
    colour on ``picture``: stretched onto it, and fitted to its width or to its height (the
    same pixel aspect: a matte that hides part of the colour's picture), by template matching
    on frames at most :data:`_COARSE_SIDE` pixels wide."""
    height, width = colour[0].shape
    factor = min(1.0, _COARSE_SIDE / max(width, height))
    size = (max(16, round(width * factor)), max(16, round(height * factor)))
    small_colour = [cv2.resize(frame, size, interpolation=cv2.INTER_AREA).astype(np.float32)
                    for frame in colour]
    x0, y0, x1, y1 = picture
    stretch = ((x1 - x0) / width, (y1 - y0) / height)
    bases = [stretch]
    for side in sorted(stretch):
        if abs(np.log(side / max(stretch))) > 0.01 and (side, side) not in bases:
            bases.append((side, side))
    best: tuple[float, Framing] = (-np.inf, Framing.stretch((width, height), picture))
    for base in bases:
        # the picture at the colour's small scale under this base
        base_size = (max(8, round((x1 - x0) / base[0] * factor)),
                     max(8, round((y1 - y0) / base[1] * factor)))
        small_bw = [cv2.resize(frame[y0:y1, x0:x1], base_size, interpolation=cv2.INTER_AREA)
                    .astype(np.float32) for frame in bw]
        for zoom in ZOOMS:
            score, found, zooms = _match_zoom(small_colour, small_bw, zoom)
            if score > best[0] + 1e-6:
                # small bw x' = zoom (x_small - found); bw x = x0 + x' (x1 - x0) / base_size
                scale = [(x1 - x0, y1 - y0)[axis] * zooms[axis] / base_size[axis] * factor
                         for axis in (0, 1)]
                shift = [picture[axis] - scale[axis] * found[axis] / factor for axis in (0, 1)]
                best = (score, Framing((scale[0], scale[1]), (shift[0], shift[1])))
    return best[1]


def _match_zoom(colour: Sequence[np.ndarray], bw: Sequence[np.ndarray], zoom: float
                ) -> tuple[float, tuple[float, float], tuple[float, float]]:
    """The mean best normalised correlation of the middle of ``bw`` resampled by ``1 / zoom``
    with ``colour``, where it lies (the small bw's origin on the colour, colour pixels) and the
    zoom per axis the resampling made."""
    size = colour[0].shape[::-1]
    bw_size = bw[0].shape[::-1]
    resampled_size = (max(4, round(bw_size[0] / zoom)), max(4, round(bw_size[1] / zoom)))
    template = [round(_TEMPLATE_SHARE * min(resampled, side))
                for resampled, side in zip(resampled_size, size, strict=True)]
    corner = [(resampled - part) // 2
              for resampled, part in zip(resampled_size, template, strict=True)]
    total = 0.0
    for frame, other in zip(colour, bw, strict=True):
        resampled = cv2.resize(other, resampled_size, interpolation=cv2.INTER_LINEAR)
        part = resampled[corner[1]:corner[1] + template[1], corner[0]:corner[0] + template[0]]
        total = total + cv2.matchTemplate(frame, part, cv2.TM_CCOEFF_NORMED)
    total = np.nan_to_num(np.asarray(total), nan=-1.0)
    found_y, found_x = np.unravel_index(int(np.argmax(total)), total.shape)
    zooms = (bw_size[0] / resampled_size[0], bw_size[1] / resampled_size[1])
    # colour pixel p shows resampled pixel p - found + corner, i.e. small bw pixel
    # zoom (p - found + corner): the small bw's origin lies at found - corner
    return (float(total[found_y, found_x]) / len(colour),
            (float(found_x - corner[0]), float(found_y - corner[1])), zooms)


def _refine(colour: Sequence[np.ndarray], bw: Sequence[np.ndarray],
            picture: tuple[int, int, int, int], start: Framing, blur: float) -> Framing:
    """Gauss-Newton steps from ``start`` on frames blurred by ``blur`` pixels; ``start`` where
    they go astray."""
    height, width = colour[0].shape
    colour = [cv2.GaussianBlur(frame.astype(np.float32), (0, 0), blur) for frame in colour]
    bw = [cv2.GaussianBlur(frame.astype(np.float32), (0, 0), blur) for frame in bw]
    slopes = [(cv2.Sobel(frame, cv2.CV_32F, 1, 0, ksize=3, scale=0.125),
               cv2.Sobel(frame, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)) for frame in bw]
    params = np.array([start.scale[0], start.shift[0], start.scale[1], start.shift[1]])
    for _ in range(_STEPS):
        framing = Framing((params[0], params[2]), (params[1], params[3]))
        box = framing.overlap((width, height), picture, margin=1.0 + 2 * blur)
        if box[2] - box[0] < 8 or box[3] - box[1] < 8:
            return start
        xs, ys = np.meshgrid(np.arange(box[0], box[2]) + 0.5, np.arange(box[1], box[3]) + 0.5)
        normal, rhs = np.zeros((4, 4)), np.zeros(4)
        for frame, other, (slope_x, slope_y) in zip(colour, bw, slopes, strict=True):
            moved = warp_to_colour(other, framing, box).ravel()
            along_x = warp_to_colour(slope_x, framing, box)
            along_y = warp_to_colour(slope_y, framing, box)
            reference = frame[box[1]:box[3], box[0]:box[2]].ravel()
            design = np.stack([reference, np.ones_like(reference)], axis=1)
            tone = np.linalg.lstsq(design, moved, rcond=None)[0]
            residual = design @ tone - moved
            jacobian = np.stack([along_x * xs, along_x, along_y * ys, along_y],
                                axis=-1).reshape(-1, 4).astype(np.float64)
            normal += jacobian.T @ jacobian
            rhs += jacobian.T @ residual
        step = np.linalg.solve(normal + 1e-9 * np.trace(normal) * np.eye(4), rhs)
        params = params + step
        if not np.isfinite(params).all() or not (
                0.5 < params[0] / start.scale[0] < 2 and 0.5 < params[2] / start.scale[1] < 2):
            return start
        if abs(step[0]) * width + abs(step[1]) + abs(step[2]) * height + abs(step[3]) < 0.01:
            break
    return Framing((float(params[0]), float(params[2])), (float(params[1]), float(params[3])))
