"""Decoding a video's frames one at a time as RGB (:func:`iter_frames`).

Memory stays flat however long the file is; every frame comes out at one size with increasing
timestamps, and a file that turns out damaged or cut off part-way says so.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from vidcolor.background import prefetch as prefetch_items
from vidcolor.errors import InputError
from vidcolor.video.inputs import error_reason, first_video_stream, open_input
from vidcolor.video.probe import declared_length, matroska_shortfall

log = logging.getLogger(__name__)


@dataclass
class Frame:
    """One decoded frame: its decode-order index, timestamp and RGB pixels (H×W×3 uint8)."""

    index: int
    pts: int | None
    time: float
    rgb: np.ndarray


def iter_frames(path: str | os.PathLike[str], *, skip_errors: bool = False,
                size: tuple[int, int] | None = None, prefetch: int = 8) -> Iterator[Frame]:
    """Decode a video's frames one at a time as RGB.

    With ``size = (width, height)`` frames are scaled (area averaging) in the same FFmpeg pass
    that converts them to RGB, which is several times cheaper than converting the full frame
    and resizing it afterwards. One conversion context serves the whole stream.

    Every frame comes out at one size: without ``size``, that of the first frame (what
    :func:`~vidcolor.video.probe.probe` reports). A stream whose resolution changes part-way
    (broadcast MPEG-TS, joined recordings) has its later frames scaled to the first frame's
    size, and a warning says so. Timestamps that go back (a joined stream restarting its clock)
    are shifted to follow on from the frames before them, also with a warning, so ``pts``
    always increases.

    Decoding runs in a background thread ``prefetch`` frames ahead of the caller (FFmpeg
    releases the GIL), so it overlaps with whatever the caller does with each frame; memory
    stays bounded by the queue. ``prefetch=0`` decodes in the caller's thread.

    A file that turns out damaged part-way (a decode error, or fewer frames than its header
    promises by more than a second) raises :class:`InputError` after the good frames, unless
    ``skip_errors`` is set, in which case a warning is logged and iteration stops there. Callers
    that must not keep the frames of a damaged file stage them until iteration ends.

    Raises:
        InputError: missing, unreadable, damaged or frameless video.
    """
    path = Path(path)
    container = open_input(path)
    frames = _decode_frames(path, container, skip_errors, size)
    return prefetch_items(frames, prefetch, "vidcolor-decode") if prefetch > 0 else frames


def _decode_frames(path: Path, container: av.container.InputContainer, skip_errors: bool,
                   size: tuple[int, int] | None) -> Iterator[Frame]:
    with container:
        stream = first_video_stream(container, path)
        stream.thread_type = "AUTO"
        declared, declared_frames = declared_length(container, stream)
        rate = Fraction(stream.average_rate or stream.guessed_rate or 25)
        # one reformatter for the whole stream keeps FFmpeg's scaling context (its filters are
        # computed once, not per frame: half the conversion time at 320x240 -> 256x256)
        reformatter = VideoReformatter()
        convert: dict = {"format": "rgb24"}
        if size is not None:
            convert.update(width=int(size[0]), height=int(size[1]), interpolation="AREA")
        first_size: tuple[int, int] | None = None
        rescaled = False
        time_base = Fraction(stream.time_base or Fraction(1, 1000))
        step = max(1, round(1 / (rate * time_base)))  # one frame in time_base units
        shift, shift_seconds = 0, 0.0  # added to the times of frames after a clock reset
        last_pts: int | None = None
        index = 0
        last_time = 0.0
        problem = None
        decoder = container.decode(stream)
        while True:
            try:
                frame = next(decoder)
            except StopIteration:
                break
            except (av.error.FFmpegError, ValueError) as exc:
                problem = f"damaged after frame {index} ({error_reason(exc)})"
                break
            pts = frame.pts
            if pts is not None:
                if last_pts is not None and pts + shift <= last_pts:
                    if not shift:
                        log.warning("%s: the timestamps go back at frame %d; the frames from "
                                    "there on are retimed to follow on", path, index)
                    shift = last_pts + step - pts
                    shift_seconds = float(shift * time_base)
                pts += shift
                last_pts = pts
            last_time = (float(frame.time) + shift_seconds if frame.time is not None
                         else index / float(rate))
            options = convert
            frame_size = (frame.width, frame.height)
            if first_size is None:
                first_size = frame_size
            elif frame_size != first_size and size is None:
                if not rescaled:
                    log.warning("%s: the resolution changes at frame %d (%dx%d after %dx%d); "
                                "later frames are scaled to %dx%d", path, index, *frame_size,
                                *first_size, *first_size)
                    rescaled = True
                options = dict(convert, width=first_size[0], height=first_size[1],
                               interpolation="AREA")
            rgb = reformatter.reformat(frame, **options).to_ndarray()
            yield Frame(index=index, pts=pts, time=last_time, rgb=rgb)
            index += 1
        if problem is None and index == 0:
            raise InputError(f"{path}: the video stream has no decodable frames")
        if problem is None:
            problem = _truncation(path, stream, declared, declared_frames, index, last_time,
                                  rate)
        if problem is not None:
            if not skip_errors:
                raise InputError(f"{path}: {problem}; pass --skip-errors to keep the "
                                 f"{index} frames before the damage")
            log.warning("%s: %s; keeping the %d frames before it", path, problem, index)


def _truncation(path: Path, stream: av.VideoStream, declared: float | None,
                declared_frames: int | None, decoded: int, last_time: float, rate: Fraction
                ) -> str | None:
    """Why a file that decoded without error is cut off, or None where it is complete.

    Judged on the video stream alone: its declared length against the time of its last frame
    (more than a second and two frames short), its declared frame count against the frames
    decoded, and where it declares neither, the Matroska Segment size against the file size.
    """
    slack = 1.0 + 2 / rate
    start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
    if declared is not None and declared - (last_time - start) > slack:
        return f"truncated: decoding stopped at {last_time:.2f} s of a declared {declared:.2f} s"
    if declared_frames is not None and declared_frames - decoded > slack * rate:
        return f"truncated: {decoded} of a declared {declared_frames} frames decoded"
    if declared is None and declared_frames is None:
        shortfall = matroska_shortfall(path)
        if shortfall:
            return (f"truncated: the file ends {shortfall} bytes short of the size its header "
                    "declares")
    return None

