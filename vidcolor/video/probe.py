"""What a video file declares about its first video stream (:func:`probe`).

The stream's own declared length (:func:`declared_length`), and for a Matroska file whose
streams declare none, the size its header promises (:func:`matroska_shortfall`): decoding
(:mod:`vidcolor.video.decode`) judges against both whether a file is cut off.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from vidcolor.errors import InputError
from vidcolor.video.inputs import error_reason, first_video_stream, open_input


@dataclass(frozen=True)
class VideoInfo:
    """What a video file declares about its first video stream.

    ``duration`` is the video stream's own length (never another stream's: a rip's subtitles
    or audio often outlast its video), None where the file does not declare it.
    ``frame_count`` is exact when the container states it (``frame_count_exact``), otherwise an
    estimate from duration × frame rate, and 0 when the length is unknown.
    """

    path: Path
    width: int
    height: int
    frame_rate: Fraction
    time_base: Fraction
    duration: float | None
    frame_count: int
    frame_count_exact: bool
    rotation: int
    has_audio: bool
    codec: str
    pix_fmt: str


def _tag(stream: av.stream.Stream, name: str) -> str | None:
    """A stream's metadata tag ``name``, also as Matroska's ``NAME-<language>`` variant."""
    for key, value in stream.metadata.items():
        if key.upper().split("-", 1)[0] == name:
            return value
    return None


def _clock_seconds(text: str | None) -> float | None:
    """Seconds of a Matroska ``DURATION`` tag (``HH:MM:SS.nnnnnnnnn``), None if unparsable.

    >>> _clock_seconds("01:02:03.500000000"), _clock_seconds("soon")
    (3723.5, None)
    """
    match = re.fullmatch(r"\s*(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)\s*", text or "")
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def declared_length(container: av.container.InputContainer, stream: av.VideoStream
                     ) -> tuple[float | None, int | None]:
    """The video stream's own declared (seconds, frames); None for what the file leaves out.

    Seconds come from the stream's duration, else its ``DURATION`` tag (Matroska video streams
    carry no duration; FFmpeg, mkvmerge and MakeMKV write the tag), else the container's
    duration, but only when the video is the file's only stream: otherwise the container's is
    the longest stream's, and a rip's subtitles or audio often outlast its video. Frames come
    from the stream's frame count or its ``NUMBER_OF_FRAMES`` tag.
    """
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    else:
        # Matroska's DURATION tag and the container's duration are end times, not lengths:
        # a stream that starts at 5 s and lasts 2 s is tagged 00:00:07 (checked with FFmpeg's
        # muxer), so the stream's start is taken off
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        seconds = _clock_seconds(_tag(stream, "DURATION"))
        if seconds is None and container.duration is not None and len(container.streams) == 1:
            seconds = container.duration / av.time_base
        if seconds is not None:
            seconds = max(seconds - start, 0.0)
    frames = int(stream.frames) if stream.frames else None
    if frames is None:
        tagged = (_tag(stream, "NUMBER_OF_FRAMES") or "").strip()
        frames = int(tagged) if tagged.isdigit() and int(tagged) > 0 else None
    return seconds, frames


_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_MATROSKA_SEGMENT = b"\x18\x53\x80\x67"


def _ebml_vint(data: bytes, pos: int) -> tuple[int | None, int]:
    """An EBML variable-length size at ``pos``: (value, or None for "unknown"; next position)."""
    first = data[pos]
    length = 9 - first.bit_length() if first else 9
    if length > 8 or pos + length > len(data):
        raise ValueError("bad EBML size")
    value = first & (0xFF >> length)
    for byte in data[pos + 1:pos + length]:
        value = (value << 8) | byte
    unknown = value == (1 << (7 * length)) - 1
    return (None if unknown else value), pos + length


def matroska_shortfall(path: str | os.PathLike[str]) -> int:
    """Bytes a Matroska/WebM file lacks of the size its Segment header declares (0: complete).

    A cut-off Matroska file keeps its header, which states the Segment's size, so the cut shows
    even where no stream declares its length. Files of other formats, streamed Matroska (size
    unknown) and unparsable headers give 0.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
            size = os.fstat(handle.fileno()).st_size
        if not head.startswith(_EBML_MAGIC):
            return 0
        header_size, pos = _ebml_vint(head, 4)
        if header_size is None:
            return 0
        pos += header_size
        if head[pos:pos + 4] != _MATROSKA_SEGMENT:
            return 0
        segment_size, pos = _ebml_vint(head, pos + 4)
    except (OSError, ValueError, IndexError):
        return 0
    if segment_size is None:
        return 0
    return max(0, pos + segment_size - size)


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's metadata (and its first frame, for rotation).

    Raises:
        InputError: missing file, not a video, no video stream, or no decodable frame.
    """
    path = Path(path)
    container = open_input(path)
    with container:
        stream = first_video_stream(container, path)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            raise InputError(f"{path}: the video stream declares no frame rate")
        rate = Fraction(rate)
        duration, frames = declared_length(container, stream)
        exact = frames is not None
        count = frames if frames is not None else int(round((duration or 0.0) * rate))
        codec = stream.codec_context
        rotation = 0
        try:
            first = next(container.decode(stream), None)
        except av.error.FFmpegError as exc:
            raise InputError(f"{path}: cannot decode the first frame ({error_reason(exc)})"
                             ) from exc
        if first is None:
            raise InputError(f"{path}: the video stream has no frames")
        rotation = int(getattr(first, "rotation", 0) or 0)
        # the first frame's size, not the codec's: that is the size iter_frames yields
        return VideoInfo(
            path=path, width=first.width, height=first.height, frame_rate=rate,
            time_base=Fraction(stream.time_base or Fraction(1, 1000)), duration=duration,
            frame_count=count, frame_count_exact=exact, rotation=rotation,
            has_audio=bool(container.streams.audio), codec=codec.name,
            pix_fmt=codec.pix_fmt or "",
        )
