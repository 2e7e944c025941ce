"""Keyframe hints: a colourist paints one frame of a shot, and the whole shot follows (``--hints``).

A hint folder holds colour images named by the frame they colour, counted from 0 (``000123.png``
is frame 123; any zero-padding; any size: scaled to the frame), painted in any paint program:

* a **whole frame** (no transparency): every region of the frame takes the hint's colour;
* **strokes** (alpha 0 where there is no hint): the regions the strokes lie in take their
  colour, the others keep the automatic colour.

Only the hint's chroma is used: a region keeps the input's grey (its L), as everywhere in render.

**Carrying a hint through its shot.** Before the render, one pass over the grey input
(:func:`plan_hints`) finds the shots (the render's own :class:`~vidcolor.inference.shots.Shots`)
and, for every shot with a hint, carries each hint's colours frame by frame forward and backward
through the shot on the grey thumbnails: dense optical flow (DIS, as the temporal stage) says
where each pixel of a frame came from in its neighbour, a pixel takes the hint colour found there
when its lightness matches (:data:`LIGHT_TOLERANCE`), and the result is snapped to the frame's
flat regions (the render's region growing on the thumbnail): a region more than half of whose
pixels carry a hint takes their median colour whole, the others none. Snapping is what keeps a
hint from drifting or bleeding into a neighbour over hundreds of frames. A hinted region no
region of the next frame continues (a held drawing that jumps, an object coming out from behind
another: the flow has nothing to match inside a flat fill) is remembered for a few frames and
found again in an unhinted region of its lightness, its size and near its place (:func:`_found`).
Nothing crosses a shot boundary. With several hints in a shot, each governs the frames nearer
to it.

**In the render.** The :class:`Hints` sequence stage runs last (after temporal voting): a region
(or, without a refinement, a cell of the network's grid) that the frame's hint map covers for
more than half of its pixels takes the hint's colour. A region the hints do not reach (new
content, a region the flow lost and did not find again) keeps its automatic colour. A shot
without a hint renders exactly as without ``--hints``.

**Finer regions where a hint can tell them apart.** The SPEC's region growing seeds no region
within 4 px of another, so an eye's white a few pixels across, or a thin ink line, joins the
region around it and takes its colour: the network alone cannot tell it apart. The hints are
carried on regions that keep such small flat patches of another grey
(:func:`~vidcolor.inference.refine.regiongrow.segment_regiongrow`'s ``min_patch``), a hinted
shot is segmented the same way by the render (:meth:`HintMaps.fine_segmentation`), and a render
region that still swallows a hinted patch of another colour and grey is split
(:func:`_paint_regions`). Shots without hints keep the SPEC's regions: with the patches on
everywhere, the demo's seeds 1 and 2 rendered without hints flickered twice as much (a
character's vote tipped from red to violet for eight frames).

**Memory.** The maps of one shot are kept (on disk, in a temporary folder) as int8 at thumbnail
size, about 150 kB a frame at 256×192; the pass holds one shot's grey thumbnails (50 kB a
frame), so memory grows with the longest hinted shot, not with the video.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vidcolor.color.frames import grey_u8
from vidcolor.errors import InputError
from vidcolor.flow import dis_flow, flow_between, source_maps, warp
from vidcolor.inference.stages import FrameWork, SequenceStage, StageContext

if TYPE_CHECKING:
    from vidcolor.inference.sources import Source
    from vidcolor.series import SeriesLook

log = logging.getLogger(__name__)

#: Hint file names: the frame number (any zero-padding) and an image extension.
HINT_NAME = re.compile(r"^(\d{1,9})\.(png|jpe?g|tiff?|webp|bmp)$", re.IGNORECASE)
#: A pixel follows the flow when its lightness matches there within this (L units).
LIGHT_TOLERANCE = 6.0
#: A pixel follows the flow only when the flow back returns within this (px, thumbnail).
ROUND_TRIP = 1.5
#: A region takes a hint when more than this share of its pixels carry it.
COVER = 0.5
#: ... and when it is where most of that region went, or holds at least this share of it.
MUTUAL = 0.5
#: A stroke hints a region when at least this many of its pixels (thumbnail) lie inside the
#: region (not on its border).
STROKE_PIXELS = 3
#: A hinted region the flow lost (no region of the next frame continues it) is found again,
#: for this many frames, in an unhinted region of its lightness (within this, L units), of its
#: size (within this factor), at most this share of the frame's diagonal away; regions smaller
#: than this (thumbnail pixels) are neither.
FOUND_FRAMES = 12
FOUND_LIGHT = 1.0
FOUND_SIZE = 1.4
FOUND_REACH = 0.08
FOUND_MIN_PIXELS = 30
#: A hinted patch inside a render region becomes a region of its own (:func:`_paint_regions`)
#: with at least this many pixels (thumbnail), this far in lightness (L units) from the region
#: and in colour (ab units) from the hint colour most of the region's hinted pixels carry.
SPLIT_PIXELS = 6
SPLIT_LIGHT = 6.0
SPLIT_COLOUR = 4.0
#: An aspect ratio this far (relative) from the frame's is warned about (the hint is scaled).
ASPECT_TOLERANCE = 0.02


@dataclass(frozen=True)
class Hint:
    """One painted frame: its file, its frame number, whether it is strokes, and the SHA-256 of
    its file (what makes a re-render redo its shot)."""

    frame: int
    path: Path
    strokes: bool
    digest: str = ""


def find_hints(folder: str | Path, frame_count: int | None = None) -> dict[int, Path]:
    """The hint files of ``folder`` by frame number (names checked; images read later).

    Hidden files (a desktop's ``.DS_Store``) are ignored; any other file is an error.

    Raises:
        InputError: the folder is missing, holds a file that is not a hint, two files for one
            frame, or a frame number past the end (``frame_count``, when known exactly).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such hint folder")
    hints: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        match = HINT_NAME.match(path.name)
        if match is None or not path.is_file():
            raise InputError(f"{path}: not a hint: a hint is an image named by the frame it "
                             "colours, counted from 0 (e.g. 000123.png)")
        frame = int(match.group(1))
        if frame in hints:
            raise InputError(f"{path}: a second hint for frame {frame} (also {hints[frame].name})")
        if frame_count is not None and frame >= frame_count:
            raise InputError(f"{path}: frame {frame} is past the end of the input "
                             f"({frame_count} frames, numbered from 0)")
        hints[frame] = path
    return hints


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hints_digest(folder: str | Path) -> str:
    """A digest of a hint folder's names and contents (the render's key: a changed hint makes
    the output out of date)."""
    digest = hashlib.sha256()
    for frame, path in sorted(find_hints(folder).items()):
        digest.update(f"{frame}:{path.name}:{_file_digest(path)}".encode())
    return digest.hexdigest()[:16]


def read_hint(path: Path, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, bool]:
    """A hint image at ``shape`` (H, W): its ab ``(H, W, 2)``, the pixels that carry a hint
    (alpha > 0), and whether it is strokes (it has transparent pixels).

    Raises:
        InputError: unreadable or damaged image.
    """
    from vidcolor.color.frames import rgb_to_lab_frame
    from vidcolor.inference.sources import read_image

    rgb, alpha = read_image(path)
    height, width = shape
    aspect, frame_aspect = rgb.shape[1] / rgb.shape[0], width / height
    if abs(aspect / frame_aspect - 1.0) > ASPECT_TOLERANCE:
        log.warning("%s: %dx%d is not the frame's aspect ratio (%dx%d); scaled to fit", path,
                    rgb.shape[1], rgb.shape[0], width, height)
    if rgb.shape[:2] != shape:
        rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        if alpha is not None:
            alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_NEAREST)
    mask = np.ones(shape, bool) if alpha is None else alpha > 0
    strokes = not bool(mask.all())
    return rgb_to_lab_frame(rgb)[..., 1:], mask, strokes


class HintMaps:
    """The hint map of every hinted frame: ``(ab (h, w, 2) float32, cover (h, w) bool)`` at
    thumbnail size, one file per hinted shot in a temporary folder (:func:`plan_hints`)."""

    def __init__(self, folder: Path, shots: dict[int, int], hints: dict[int, Hint],
                 starts: list[int] | None = None) -> None:
        self._folder = folder
        self.shots = shots  # first frame of each hinted shot -> its end (exclusive)
        self.hints = hints
        self.starts = sorted(starts if starts is not None else shots)  # every shot's first frame
        self._loaded: tuple[int, np.ndarray] | None = None

    def span_digest(self, first: int, end: int) -> str:
        """A digest of the hints that decide the frames ``first`` to ``end`` (exclusive): those
        of every shot the range touches, since a hint is carried through its whole shot ("" when
        there are none). A rendered piece of video whose digest is unchanged is reused as it is
        (:class:`~vidcolor.inference.sinks.VideoSink`)."""
        at = bisect.bisect_right(self.starts, first) - 1
        low = self.starts[at] if at >= 0 else 0
        after = bisect.bisect_right(self.starts, end - 1)
        high = self.starts[after] if after < len(self.starts) else None
        inside = [hint for frame, hint in sorted(self.hints.items())
                  if frame >= low and (high is None or frame < high)]
        if not inside:
            return ""
        return hashlib.sha256("".join(f"{hint.frame}:{hint.digest};" for hint in inside)
                              .encode()).hexdigest()[:16]

    def get(self, index: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The map of frame ``index``, or None where no hint reaches."""
        start = next((s for s, e in self.shots.items() if s <= index < e), None)
        if start is None:
            return None
        if self._loaded is None or self._loaded[0] != start:
            self._loaded = (start, np.load(self._folder / f"{start:09d}.npy"))
        packed = self._loaded[1][index - start]
        cover = packed[..., 2] > 0
        return packed[..., :2].astype(np.float32), cover

    def fine_segmentation(self, method: str) -> tuple[tuple[tuple[int, int], ...],
                                                      dict[str, int]]:
        """The hinted shots ``(first, end)`` and the options (areas in thumbnail pixels) that
        give the render's ``method`` there the finer regions the hints are carried on
        (:func:`_regions`): small flat patches between regions (an eye's white, an ink line)
        as regions of their own, which a hint colours and the network alone would not tell
        apart from their surroundings. Region growing only; other segmentations are left as
        they are."""
        from vidcolor.inference.refine.regiongrow import REGION_MIN_PATCH

        if method != "regiongrow":
            return (), {}
        return tuple(sorted(self.shots.items())), {"min_patch": REGION_MIN_PATCH}

    def stage(self, context: StageContext) -> SequenceStage:
        """The sequence stage that paints these hints (:class:`Hints`, built from a context
        whose ``hints`` are these): :func:`vidcolor.inference.stages.build_stages` asks the
        maps for it, so the stages module need not import this one."""
        return Hints(context)

    def close(self) -> None:
        import shutil

        shutil.rmtree(self._folder, ignore_errors=True)



@dataclass
class _Frame:
    """A frame of a hinted shot as the carrying sees it: its regions (thumbnail), each one's
    lightness, hint colour and whether it carries a hint."""

    labels: np.ndarray
    light: np.ndarray  # (R,) median L
    colour: np.ndarray  # (R, 2)
    hinted: np.ndarray  # (R,) bool
    origin: np.ndarray | None = None  # (R,) the region of the frame before it came from

    @cached_property
    def shape(self) -> tuple[np.ndarray, np.ndarray]:
        """Each region's pixel count and centroid ``(x, y)`` (computed once a frame: a frame
        is the ``now`` of one carrying step and the ``before`` of the next)."""
        count = len(self.light)
        flat = self.labels.ravel()
        size = np.bincount(flat, minlength=count).astype(np.float64)
        ys, xs = np.indices(self.labels.shape)
        centre = np.stack([np.bincount(flat, xs.ravel(), count),
                           np.bincount(flat, ys.ravel(), count)], axis=1)
        return size, centre / np.maximum(size, 1)[:, None]

    def packed(self) -> np.ndarray:
        """int8 ``(h, w, 3)``: a, b and the cover flag of every pixel."""
        colour = np.clip(np.rint(self.colour), -128, 127).astype(np.int8)
        return np.dstack([colour[self.labels], self.hinted[self.labels].astype(np.int8)])


def _region_median(labels: np.ndarray, values: np.ndarray, mask: np.ndarray, count: int
                   ) -> np.ndarray:
    """The median of ``values`` over each region's ``mask`` pixels (0 where it has none): a
    region's fill colour, not pulled by its eyes or its anti-aliased border as a mean is."""
    from scipy import ndimage

    picked = np.where(mask, labels, -1)
    return np.asarray(ndimage.median(values, picked, np.arange(count)), np.float32).reshape(-1) \
        if count else np.zeros(0, np.float32)


def _regions(thumb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The flat regions of a thumbnail (the render's region growing, with the small flat
    patches between regions as regions of their own: an eye's white carries its own hint) and
    their median L."""
    from vidcolor.inference.refine.regiongrow import REGION_MIN_PATCH
    from vidcolor.inference.refine.registry import segment

    labels = segment(thumb, "regiongrow", min_patch=REGION_MIN_PATCH)
    assert labels is not None
    count = int(labels.max()) + 1
    return labels, _region_median(labels, thumb, np.ones(labels.shape, bool), count)


def _seed(thumb: np.ndarray, ab: np.ndarray, mask: np.ndarray, strokes: bool) -> _Frame:
    """The hint frame's own regions: a whole-frame hint paints every region with the median of
    its inner pixels (its border left out); strokes paint the regions at least
    :data:`STROKE_PIXELS` of their inner pixels lie in (not those they only touch)."""
    labels, light = _regions(thumb)
    count = len(light)
    kernel = np.ones((3, 3), np.uint8)
    as_float = labels.astype(np.float32)
    inner = (cv2.erode(as_float, kernel) == as_float) & (cv2.dilate(as_float, kernel) == as_float)
    size = np.bincount(labels.ravel(), minlength=count)
    if strokes:
        carried = mask & inner
        hinted = np.bincount(labels[carried], minlength=count) >= np.minimum(STROKE_PIXELS, size)
    else:
        has_inner = np.bincount(labels[inner], minlength=count) > 0
        carried = np.where(has_inner[labels], inner, True)  # thin regions: all their pixels
        hinted = np.ones(count, bool)
    colour = np.stack([_region_median(labels, ab[..., c], carried, count) for c in range(2)],
                      axis=1)
    return _Frame(labels, light, colour, hinted & (size > 0))


def _step(flow: cv2.DISOpticalFlow, before: _Frame, before_grey: np.ndarray,
          now_grey: np.ndarray, now_light: np.ndarray) -> _Frame:
    """Carry the hints of the frame ``before`` to the frame ``now``, region to region.

    A pixel of ``now`` comes from where the flow says when the lightness matches there and the
    flow back from that point returns to it (within :data:`ROUND_TRIP` px): on flat cartoon
    fills the flow of content that just entered, or was uncovered, points anywhere, often at
    another object of the same grey. A region of ``now`` takes the hint of the region most of
    its pixels came from (more than :data:`COVER` of them), when their lightness matches and
    it continues that region (:data:`MUTUAL`).
    """
    back = flow_between(flow, now_grey, before_grey)  # where each pixel of now was in before
    ahead = flow_between(flow, before_grey, now_grey)  # where each pixel of before went in now
    map_x, map_y = source_maps(back)
    returned = warp(ahead, map_x, map_y, fill=(1e4, 1e4))
    source = warp(before.labels.astype(np.float32), map_x, map_y, nearest=True, fill=-1.0)
    warped = warp(before_grey, map_x, map_y)
    tolerance = LIGHT_TOLERANCE * 2.55
    ok = (source >= 0) & (np.hypot(*np.moveaxis(back + returned, -1, 0)) < ROUND_TRIP) & \
        (np.abs(warped.astype(np.float32) - now_grey.astype(np.float32)) < tolerance)
    # DIS fills a flat fill with the motion of whatever moves near it: where the flow fails
    # its checks, a pixel whose grey is unchanged in place comes from where it was (a still
    # background, the inside of a flat fill)
    still = ~ok & (np.abs(before_grey.astype(np.float32) - now_grey.astype(np.float32))
                   < tolerance)
    source = np.where(still, before.labels.astype(np.float32), source)
    ok |= still
    labels, light = _regions(now_light)
    count, sources = len(light), len(before.light)
    size = np.bincount(labels.ravel(), minlength=count)
    pairs = np.bincount(labels[ok].astype(np.intp) * sources + source[ok].astype(np.intp),
                        minlength=count * sources).reshape(count, sources)
    origin = pairs.argmax(axis=1)
    rows = np.arange(count)
    share = pairs[rows, origin] / np.maximum(size, 1)
    # the region is its origin's continuation: where most of the origin went, or a good part
    # of it (an object uncovered where another of its grey moved away is neither)
    before_size = np.bincount(before.labels.ravel(), minlength=sources)
    continues = (pairs.argmax(axis=0)[origin] == rows) | \
        (pairs[rows, origin] >= MUTUAL * before_size[origin])
    hinted = before.hinted[origin] & (share > COVER) & continues & \
        (np.abs(light - before.light[origin]) < LIGHT_TOLERANCE)
    return _Frame(labels, light, before.colour[origin].copy(), hinted, origin)


@dataclass
class _Lost:
    """Hinted regions no region of the next frame continued: an object the flow lost (a jump
    of a held drawing, an occlusion), kept a while to be found again."""

    light: np.ndarray  # (K,)
    size: np.ndarray  # (K,)
    centre: np.ndarray  # (K, 2) x, y
    colour: np.ndarray  # (K, 2)
    age: np.ndarray  # (K,) frames since lost

    def subset(self, keep: np.ndarray) -> _Lost:
        return _Lost(*(getattr(self, name)[keep] for name in _LOST_FIELDS))

    def joined(self, other: _Lost) -> _Lost:
        return _Lost(*(np.concatenate([getattr(self, name), getattr(other, name)])
                       for name in _LOST_FIELDS))


_LOST_FIELDS = ("light", "size", "centre", "colour", "age")


def _found(before: _Frame, now: _Frame, lost: _Lost | None) -> _Lost:
    """Give the unhinted regions of ``now`` (in place) the hint of a lost region of their
    lightness, size and place: of ``before`` (hinted, continued by no hinted region of ``now``)
    or of the frames before it (``lost``). Returns what stays lost. Each lost region is found
    at most once, by the nearest match (module constants ``FOUND_*``)."""
    size_b, centre_b = before.shape
    continued = np.zeros(len(before.light), bool)
    continued[now.origin[now.hinted]] = True
    gone = before.hinted & ~continued & (size_b >= FOUND_MIN_PIXELS)
    fresh = _Lost(before.light[gone], size_b[gone], centre_b[gone], before.colour[gone],
                  np.zeros(int(gone.sum()), np.int64))
    if lost is not None:
        older = lost.subset(lost.age < FOUND_FRAMES)
        older.age = older.age + 1
        fresh = fresh.joined(older)
    size_n, centre_n = now.shape
    reach = FOUND_REACH * float(np.hypot(*now.labels.shape))
    taken = np.zeros(len(fresh.light), bool)
    for region in np.flatnonzero(~now.hinted & (size_n >= FOUND_MIN_PIXELS)):
        if taken.all():
            break
        ratio = size_n[region] / fresh.size
        near = np.hypot(*(fresh.centre - centre_n[region]).T)
        match = (np.abs(fresh.light - now.light[region]) < FOUND_LIGHT) & \
            (ratio * FOUND_SIZE > 1) & (ratio < FOUND_SIZE) & (near < reach) & ~taken
        if match.any():
            best = np.flatnonzero(match)[np.argmin(near[match])]
            now.hinted[region] = True
            now.colour[region] = fresh.colour[best]
            taken[best] = True
    return fresh.subset(~taken)


def _carry(thumbs: list[np.ndarray], hints: dict[int, tuple[np.ndarray, np.ndarray, bool]]
           ) -> np.ndarray:
    """Every frame's map in one shot (``thumbs``: its L thumbnails; ``hints``: by position in
    the shot), packed as int8 ``(n, h, w, 3)``: a, b, cover."""
    flow = dis_flow()
    greys = [grey_u8(t) for t in thumbs]
    packed = np.zeros((len(thumbs), *thumbs[0].shape, 3), np.int8)
    frames = sorted(hints)
    for number, at in enumerate(frames):
        low = 0 if number == 0 else (frames[number - 1] + at) // 2 + 1
        high = len(thumbs) - 1 if number == len(frames) - 1 else (at + frames[number + 1]) // 2
        seed = _seed(thumbs[at], *hints[at])
        packed[at] = seed.packed()
        for direction, stop in ((1, high), (-1, low)):
            frame, lost = seed, None
            for index in range(at + direction, stop + direction, direction):
                if thumbs[index].shape != thumbs[index - direction].shape:
                    break
                now = _step(flow, frame, greys[index - direction], greys[index],
                            thumbs[index])
                lost = _found(frame, now, lost)
                frame = now
                packed[index] = frame.packed()
    return packed


def plan_hints(source: Source, folder: str | Path, look: SeriesLook | None = None,
               progress: bool = False) -> HintMaps:
    """One pass over ``source``: its shots, and each hint carried through its shot.

    Raises:
        InputError: a bad hint (:func:`find_hints`, :func:`read_hint`), or a hint for a dark
            frame or a credit screen (the render paints those itself).
    """
    from vidcolor import progress as progress_mod
    from vidcolor.inference.shots import shot_frames

    exact = source.kind != "video" or bool(getattr(source.video, "frame_count_exact", False))
    files = find_hints(folder, source.count if exact else None)
    if not files:
        raise InputError(f"{folder}: holds no hint (images named by frame number, e.g. "
                         "000123.png)")
    store = Path(tempfile.mkdtemp(prefix="vidcolor-hints-"))
    shots: dict[int, int] = {}
    hints: dict[int, Hint] = {}
    starts: list[int] = []
    try:
        with progress_mod.bar(total=source.count, desc="hints", unit="frame",
                              enabled=progress) as bar:
            for start, works in _shots(shot_frames(source), bar):
                starts.append(start)
                thumbs = [w.thumb for w in works]
                inside = {w.index - start: w for w in works if w.index in files}
                if not inside:
                    continue
                seeds = {}
                for at, work in inside.items():
                    _check_paintable(files[work.index], work, look)
                    ab, mask, strokes = read_hint(files[work.index], work.thumb.shape)
                    seeds[at] = (ab, mask, strokes)
                    hints[work.index] = Hint(work.index, files[work.index], strokes,
                                             _file_digest(files[work.index]))
                np.save(store / f"{start:09d}.npy", _carry(thumbs, seeds))
                shots[start] = start + len(works)
        missing = sorted(set(files) - set(hints))
        if missing:
            raise InputError(f"{files[missing[0]]}: frame {missing[0]} is past the end of the "
                             "input")
    except BaseException:
        import shutil

        shutil.rmtree(store, ignore_errors=True)
        raise
    log.info("%s: %d hints in %d shots", folder, len(hints), len(shots))
    return HintMaps(store, shots, hints, starts)


def _shots(works: Iterator[FrameWork], bar: object) -> Iterator[tuple[int, list[FrameWork]]]:
    """Group frames into shots: (first frame, the shot's frames with only their thumbnails)."""
    shot: list[FrameWork] = []
    for work in works:
        if work.shot_start and shot:
            yield shot[0].index, shot
            shot = []
        work.lightness = work.thumb  # the full frame is not needed: only its thumbnail is kept
        shot.append(work)
        bar.update(1)  # type: ignore[attr-defined]
    if shot:
        yield shot[0].index, shot


def frame_kind(thumb: np.ndarray, look: SeriesLook | None) -> str:
    """``dark`` (mean L below :data:`~vidcolor.inference.shots.DARK_LIGHTNESS`: a fade or a
    black gap), ``credits`` (a credit screen of ``look``, which render paints itself) or
    ``story``: only a story frame may carry a hint."""
    from vidcolor.inference.shots import DARK_LIGHTNESS

    if float(thumb.mean()) < DARK_LIGHTNESS:
        return "dark"
    if look is not None and look.credit_background is not None:
        from vidcolor.series.apply import credit_fade

        if credit_fade(thumb, look) is not None:
            return "credits"
    return "story"


def _check_paintable(path: Path, work: FrameWork, look: SeriesLook | None) -> None:
    assert work.thumb is not None
    kind = frame_kind(work.thumb, look)
    if kind == "dark":
        raise InputError(f"{path}: frame {work.index} is dark (a fade or a black gap): "
                         "nothing to paint there")
    if kind == "credits":
        raise InputError(f"{path}: frame {work.index} is a credit screen, which render "
                         "paints in the series' own credit colours; remove this hint")


class Hints(SequenceStage):
    """Give the regions a hint reaches the hint's colour (module docstring)."""

    def __init__(self, context: StageContext) -> None:
        assert context.hints is not None
        self.maps: HintMaps = context.hints

    def push(self, work: FrameWork) -> list[FrameWork]:
        found = self.maps.get(work.index)
        if found is None:
            return [work]
        ab, cover = found
        work.hinted = work.index in self.maps.hints
        if work.labels is not None and work.region_ab is not None:
            shape = work.labels.shape
            if ab.shape[:2] != shape:
                ab = cv2.resize(ab, shape[::-1], interpolation=cv2.INTER_NEAREST)
                cover = cv2.resize(cover.astype(np.uint8), shape[::-1],
                                   interpolation=cv2.INTER_NEAREST) > 0
            _paint_regions(work, ab, cover)
        elif work.ab_small:
            grid = work.ab_small[0].shape[:2]
            share = cv2.resize(cover.astype(np.float32), grid[::-1], interpolation=cv2.INTER_AREA)
            mean = cv2.resize(ab * cover[..., None], grid[::-1], interpolation=cv2.INTER_AREA)
            colour = mean / np.maximum(share, 1e-6)[..., None]
            current = np.mean(work.ab_small, axis=0)
            work.ab_small = [np.where((share > COVER)[..., None], colour, current
                                      ).astype(np.float32)]
        return [work]


def _paint_regions(work: FrameWork, ab: np.ndarray, cover: np.ndarray) -> None:
    """Give the frame's regions their hint colours (in place).

    The render's region growing leaves small shapes no seed reached (an eye's white a few
    pixels across) to the region around them; the hints' regions keep them (:func:`_regions`).
    Where pixels of a render region carry a hint colour other than the one most of its hinted
    pixels carry (by :data:`SPLIT_COLOUR` ab units or more), over at least
    :data:`SPLIT_PIXELS` of the thumbnail's pixels, and their lightness differs from the
    region's by :data:`SPLIT_LIGHT` or more (not the region's own fill shifted a pixel by the
    map's scaling), they become a region of their own with that colour. A region more than
    :data:`COVER` of whose remaining pixels the map covers takes the mean hint colour of those.
    """
    from vidcolor.inference.stages import region_lightness

    assert work.labels is not None and work.region_ab is not None
    assert work.region_light is not None and work.thumb is not None
    labels, count = work.labels, len(work.region_ab)
    # every (region, hint colour) piece of the covered pixels
    colour = np.rint(ab[cover]).astype(np.int64) + 128
    pieces, inverse, pixels = np.unique(labels[cover].astype(np.int64) * 65536
                                        + colour[:, 0] * 256 + colour[:, 1],
                                        return_inverse=True, return_counts=True)
    region = pieces // 65536
    piece_ab = np.stack([pieces // 256 % 256, pieces % 256], axis=1).astype(np.float64) - 128
    by_size = np.lexsort((-pixels, region))  # by region, the largest piece first
    regions, first = np.unique(region[by_size], return_index=True)
    main = np.zeros((count, 2))
    main[regions] = piece_ab[by_size[first]]
    light = np.bincount(inverse, work.lightness[cover], len(pieces)) / pixels
    split = (pixels >= SPLIT_PIXELS * labels.size / work.thumb.size) & \
        (np.abs(light - work.region_light[region]) >= SPLIT_LIGHT) & \
        (np.linalg.norm(piece_ab - main[region], axis=1) >= SPLIT_COLOUR)
    kept = np.where(split, 0, pixels).astype(np.float64)
    hits = np.bincount(region, kept, count)
    size = np.bincount(labels.ravel(), minlength=count) - np.bincount(region, pixels - kept,
                                                                      count)
    mean = np.stack([np.bincount(region, kept * piece_ab[:, c], count) for c in range(2)],
                    axis=1) / np.maximum(hits, 1e-9)[:, None]
    work.region_ab = np.where((hits > COVER * size)[:, None], mean,
                              work.region_ab).astype(np.float32)
    if not split.any():
        return
    new_label = np.full(len(pieces), -1, np.int64)
    new_label[split] = count + np.arange(int(split.sum()))
    moved = new_label[inverse]
    relabelled = labels.copy()
    relabelled[cover] = np.where(moved >= 0, moved, labels[cover])
    work.labels = relabelled
    work.region_ab = np.concatenate([work.region_ab, piece_ab[split]]).astype(np.float32)
    work.region_light = region_lightness(relabelled, work.lightness)
    parents = region[split]  # the views show a split piece in its region's colours
    work.views = {name: np.concatenate([view, view[parents]]) if view.ndim == 2 and
                  len(view) == count else view for name, view in work.views.items()}
