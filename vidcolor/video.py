"""Video input and output with PyAV.

Reading streams RGB frames with their presentation timestamps, so memory stays flat however long
the file is. Writing produces H.264 at the source's exact frame rate (a
:class:`~fractions.Fraction`, never rounded) and timestamps, with audio carried over from a
source file (stream-copied where the container accepts the codec, re-encoded otherwise) or
generated samples. Outputs are written under
a temporary name and renamed when complete (:func:`vidcolor.fsutil.atomic_path`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from vidcolor.background import prefetch as prefetch_items
from vidcolor.errors import InputError, OutputError
from vidcolor.fsutil import STORAGE_ERRNOS, atomic_path, storage_error

log = logging.getLogger(__name__)

#: Audio codecs each container family takes as a stream copy; anything else is re-encoded.
_COPYABLE_AUDIO = {
    ".mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
    ".m4v": {"aac", "mp3", "alac", "ac3", "eac3"},
    ".mov": {"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le"},
    ".mkv": None,  # Matroska takes any codec
    ".webm": {"opus", "vorbis"},
    ".avi": {"mp3", "ac3", "pcm_s16le"},
}
_REENCODE_AUDIO = {".webm": "libopus", ".avi": "mp3"}  # default: aac


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


@dataclass
class Frame:
    """One decoded frame: its decode-order index, timestamp and RGB pixels (H×W×3 uint8)."""

    index: int
    pts: int | None
    time: float
    rgb: np.ndarray


_SPECIAL_FILES = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def check_input_file(path: str | os.PathLike[str], *, folder_ok: bool = False) -> bool:
    """Refuse what cannot be read as an input file, before anything opens it.

    Every reader of a video or image calls this first. A FIFO, a device (``/dev/zero``,
    ``/dev/stdin`` on a pipe or terminal) or a socket is refused: opening one can block
    forever or never end, and an input is read more than once (probed, then decoded). ``stat``
    itself never blocks.

    Args:
        path: the input.
        folder_ok: accept a directory (where a folder of images is an input).

    Returns:
        True for a directory (only with ``folder_ok``), False for a regular file.

    Raises:
        InputError: missing, unreachable (permissions, a symlink loop, a name too long), a
            directory where a file is needed, or not a regular file.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such file{' or folder' if folder_ok else ''}") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise InputError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})"
                         ) from None
    if stat.S_ISDIR(mode):
        if folder_ok:
            return True
        raise InputError(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(mode):
        what = next((name for test, name in _SPECIAL_FILES if test(mode)), "a special file")
        raise InputError(f"{path}: is {what}, not a regular file; save the input to a file "
                         "first")
    return False


def _open(path: str | os.PathLike[str]) -> av.container.InputContainer:
    path = Path(path)
    check_input_file(path)
    try:
        return av.open(str(path))
    except av.error.EOFError as exc:
        raise InputError(f"{path}: ends before any frame (empty or cut off)") from exc
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable video ({_reason(exc)})") from exc


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(";")[0].strip() or type(exc).__name__


def _video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    if not container.streams.video:
        what = "an audio-only file" if container.streams.audio else "a file without video"
        container.close()
        raise InputError(f"{path}: {what}; no video stream to read")
    return container.streams.video[0]


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


def _declared_length(container: av.container.InputContainer, stream: av.VideoStream
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
    container = _open(path)
    with container:
        stream = _video_stream(container, path)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            raise InputError(f"{path}: the video stream declares no frame rate")
        rate = Fraction(rate)
        duration, frames = _declared_length(container, stream)
        exact = frames is not None
        count = frames if frames is not None else int(round((duration or 0.0) * rate))
        codec = stream.codec_context
        rotation = 0
        try:
            first = next(container.decode(stream), None)
        except av.error.FFmpegError as exc:
            raise InputError(f"{path}: cannot decode the first frame ({_reason(exc)})") from exc
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


def iter_frames(path: str | os.PathLike[str], *, skip_errors: bool = False,
                size: tuple[int, int] | None = None, prefetch: int = 8) -> Iterator[Frame]:
    """Decode a video's frames one at a time as RGB.

    With ``size = (width, height)`` frames are scaled (area averaging) in the same FFmpeg pass
    that converts them to RGB, which is several times cheaper than converting the full frame
    and resizing it afterwards. One conversion context serves the whole stream.

    Every frame comes out at one size: without ``size``, that of the first frame (what
    :func:`probe` reports). A stream whose resolution changes part-way (broadcast MPEG-TS,
    joined recordings) has its later frames scaled to the first frame's size, and a warning
    says so. Timestamps that go back (a joined stream restarting its clock) are shifted to
    follow on from the frames before them, also with a warning, so ``pts`` always increases.

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
    container = _open(path)
    frames = _decode_frames(path, container, skip_errors, size)
    return prefetch_items(frames, prefetch, "vidcolor-decode") if prefetch > 0 else frames


def _decode_frames(path: Path, container: av.container.InputContainer, skip_errors: bool,
                   size: tuple[int, int] | None) -> Iterator[Frame]:
    with container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        declared, declared_frames = _declared_length(container, stream)
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
                problem = f"damaged after frame {index} ({_reason(exc)})"
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


class _AudioCarrier:
    """Feeds the audio of a source file, or generated samples, into an output container.

    Audio is muxed in step with the video (``advance(t)`` up to the time of the last video frame)
    so the muxer interleaves without buffering a whole file.
    """

    def __init__(self, output: av.container.OutputContainer, ext: str,
                 source: Path | None, samples: tuple[np.ndarray, int] | None) -> None:
        self.output = output
        self._in: av.container.InputContainer | None = None
        self._packets: Iterator[av.Packet] | None = None
        self._resampler: av.AudioResampler | None = None
        self._decoded: Iterator[av.AudioFrame] | None = None
        self.stream = None
        self._done = False
        if source is not None:
            self._open_source(source, ext)
        elif samples is not None:
            data, rate = samples
            data = np.atleast_2d(np.asarray(data, dtype=np.float32))
            self.stream = output.add_stream(_REENCODE_AUDIO.get(ext, "aac"), rate=int(rate))
            self.stream.layout = "stereo" if data.shape[0] == 2 else "mono"
            self._decoded = self._chunks(data, int(rate))
            self._resampler = self._make_resampler()

    def _open_source(self, source: Path, ext: str) -> None:
        container = _open(source)
        if not container.streams.audio:
            container.close()
            return
        in_audio = container.streams.audio[0]
        self._in = container
        copyable = _COPYABLE_AUDIO.get(ext, {"aac", "mp3"})
        if copyable is None or in_audio.codec_context.name in copyable:
            self.stream = self.output.add_stream_from_template(in_audio)
            self._packets = (p for p in container.demux(in_audio) if p.dts is not None)
            self._source_stream = in_audio
        else:
            codec = _REENCODE_AUDIO.get(ext, "aac")
            log.info("%s: re-encoding %s audio as %s for this container", source,
                     in_audio.codec_context.name, codec)
            rate = in_audio.codec_context.sample_rate or 44100
            self.stream = self.output.add_stream(codec, rate=rate)
            self.stream.layout = "stereo" if in_audio.codec_context.channels >= 2 else "mono"
            self._decoded = container.decode(in_audio)
            self._resampler = self._make_resampler()

    def _make_resampler(self) -> av.AudioResampler:
        ctx = self.stream.codec_context
        fmt = ctx.format.name if ctx.format else "fltp"
        return av.AudioResampler(format=fmt, layout=ctx.layout.name, rate=ctx.sample_rate)

    @staticmethod
    def _chunks(data: np.ndarray, rate: int) -> Iterator[av.AudioFrame]:
        layout = "stereo" if data.shape[0] == 2 else "mono"
        step = 1024
        for start in range(0, data.shape[1], step):
            chunk = np.ascontiguousarray(data[:, start:start + step])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            yield frame

    def advance(self, until: float | None) -> None:
        """Mux audio up to ``until`` seconds (everything when ``None``)."""
        if self.stream is None or self._done:
            return
        if self._packets is not None:
            for packet in self._packets:
                packet.stream = self.stream
                time = float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
                self.output.mux(packet)
                if until is not None and time > until:
                    return
        elif self._decoded is not None:
            for frame in self._decoded:
                time = frame.time  # read before the resampler and encoder retime the stream
                frame.pts = None
                for out in self._resampler.resample(frame):
                    self.output.mux(self.stream.encode(out))
                if until is not None and time is not None and time > until:
                    return
            for out in self._resampler.resample(None):
                self.output.mux(self.stream.encode(out))
            self.output.mux(self.stream.encode(None))
        self._done = True

    def close(self) -> None:
        if self._in is not None:
            self._in.close()


#: Chroma samplings a written video can have (:class:`VideoWriter`).
CHROMA = ("420", "444")
#: x264's constant rate factor range: 0 is lossless, 51 the smallest file.
CRF_RANGE = (0, 51)


class VideoWriter:
    """Write RGB frames as an H.264 video at an exact frame rate, with optional audio.

    Even sizes use yuv420p unless ``chroma`` is ``"444"``. libx264 cannot encode odd sizes in
    4:2:0, so those use yuv444p to keep the exact resolution (a warning says so). The file
    appears under ``path`` only when the ``with`` block ends without an exception.

    Args:
        path: output file; its extension picks the container (.mp4, .mkv, .mov, .avi, ...).
        frame_rate: frames per second, kept exact.
        width, height: frame size in pixels.
        time_base: the timestamps' unit (defaults to ``1 / frame_rate``); pass the source
            stream's time base to keep its timestamps.
        audio_from: a file whose first audio stream is carried over.
        audio: generated audio as ``(samples, sample_rate)``; samples float32 (channels, n).
        crf: x264 constant rate factor (lower is better quality; 0 is lossless).
        rotation: display rotation in degrees (counter-clockwise, as :func:`probe` reports it)
            stored in the container, so a copy of a rotated source plays the same way up.
        chroma: ``"420"`` (colour at half resolution: plays everywhere) or ``"444"`` (colour
            at full resolution: thin ink lines stay black beside a coloured fill; needs a
            player with H.264 High 4:4:4 support, e.g. VLC, mpv, ffmpeg).
        name: the file errors name (default: ``path``); a staged part of an output names the
            output the user asked for.

    Raises:
        OutputError: the output folder is missing or not writable, the storage refuses the
            write (full disk, ``ulimit -f``: the temporary file is removed and an earlier file
            under ``path`` is left as it was), or encoding fails.
    """

    def __init__(self, path: str | os.PathLike[str], frame_rate: Fraction | int | float,
                 width: int, height: int, *, time_base: Fraction | None = None,
                 audio_from: str | os.PathLike[str] | None = None,
                 audio: tuple[np.ndarray, int] | None = None, crf: int = 18,
                 rotation: int = 0, chroma: str = "420",
                 name: str | os.PathLike[str] | None = None) -> None:
        if chroma not in CHROMA:
            raise ValueError(f"chroma must be one of {', '.join(CHROMA)}, got {chroma!r}")
        self.path = Path(path)
        self.name = Path(name) if name is not None else self.path
        if width < 2 or height < 2:
            raise OutputError(f"{self.name}: cannot encode a {width}x{height} video")
        self.frame_rate = Fraction(frame_rate).limit_denominator(1_000_000)
        self.width, self.height = int(width), int(height)
        self.time_base = Fraction(time_base) if time_base else 1 / self.frame_rate
        self._audio_from = Path(audio_from) if audio_from is not None else None
        self._audio = audio
        self._crf = crf
        self._rotation = int(rotation) % 360
        self._chroma = chroma
        self._atomic = atomic_path(self.path)
        self._count = 0
        self._last_pts: int | None = None

    def _error(self, doing: str, exc: BaseException) -> OutputError:
        """The one-line error for a failed write: a storage refusal (PyAV raises it as an
        ``av.error.OSError``) as such, anything else as ``doing`` and why; naming ``self.name``."""
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
            return storage_error(self.name, exc)
        if isinstance(exc, OutputError):
            return OutputError(f"{self.name}: {str(exc).removeprefix(f'{self.path}: ')}")
        return OutputError(f"{self.name}: {doing} ({_reason(exc)})")

    def __enter__(self) -> VideoWriter:
        try:
            self._tmp = self._atomic.__enter__()
        except OutputError as exc:
            raise self._error("cannot start writing", exc) from exc
        ext = self.path.suffix.lower()
        try:
            self._out = av.open(str(self._tmp), "w")
            stream = self._out.add_stream("libx264", rate=self.frame_rate)
            stream.width, stream.height = self.width, self.height
            odd = self.width % 2 or self.height % 2
            if odd:
                log.warning("%s: odd size %dx%d; encoding yuv444p to keep it exact", self.name,
                            self.width, self.height)
            stream.pix_fmt = "yuv444p" if odd or self._chroma == "444" else "yuv420p"
            stream.codec_context.time_base = self.time_base
            stream.time_base = self.time_base
            stream.options = {"crf": str(self._crf), "preset": "veryfast"}
            if self._rotation:
                stream.set_display_rotation(self._rotation)
            if ext == ".avi":  # AVI stores no presentation times: B-frames would shift them
                stream.options["bf"] = "0"
            self._stream = stream
            self._carrier = _AudioCarrier(self._out, ext, self._audio_from, self._audio)
        except (av.error.FFmpegError, ValueError) as exc:  # ValueError: codec not in container
            err = self._error("cannot start writing", exc)
            self._abort(err)
            raise err from exc
        except BaseException as exc:
            self._abort(exc)
            raise
        return self

    def write(self, rgb: np.ndarray, pts: int | None = None) -> None:
        """Encode one RGB frame (H×W×3 uint8) at ``pts`` (in ``time_base``; default: next)."""
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise OutputError(f"{self.name}: frame of shape {rgb.shape} {rgb.dtype}, expected "
                              f"({self.height}, {self.width}, 3) uint8")
        if pts is None:
            pts = 0 if self._last_pts is None else self._last_pts + round(
                1 / (self.frame_rate * self.time_base))
        if self._last_pts is not None and pts <= self._last_pts:
            raise OutputError(f"{self.name}: timestamps must increase ({pts} after "
                              f"{self._last_pts})")
        # Converted to the encoder's pixel format here: left to the encoder, PyAV's conversion
        # made x264 encode identical frames differently now and then on a loaded machine
        # (5 variants in 40 runs); converted first, 40 of 40 were identical at that time, but
        # a later measurement found 1 variant in 150 encodes of a 64×48 clip (none in 80 at
        # 128×96 or more): x264's bitstream is not promised, so tests compare decoded pictures
        # within a tolerance (tests/test_video.py).
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
            format=self._stream.pix_fmt)
        frame.pts = pts
        frame.time_base = self.time_base
        try:
            for packet in self._stream.encode(frame):
                self._out.mux(packet)
            self._carrier.advance(float(pts * self.time_base))
        except av.error.FFmpegError as exc:
            raise self._error("encoding failed", exc) from exc
        self._last_pts = pts
        self._count += 1

    @property
    def frames_written(self) -> int:
        """How many frames were written so far."""
        return self._count

    def _abort(self, exc: BaseException) -> None:
        for closer in (getattr(self, "_carrier", None), getattr(self, "_out", None)):
            if closer is not None:
                with contextlib.suppress(Exception):  # already failing: keep the first error
                    closer.close()
        self._atomic.__exit__(type(exc), exc, exc.__traceback__)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None:
            self._abort(exc)
            return
        try:
            if self._count == 0:
                raise OutputError(f"{self.name}: no frames were written")
            for packet in self._stream.encode(None):
                self._out.mux(packet)
            self._carrier.advance(None)
            self._carrier.close()
            self._out.close()  # writes the trailer: a full disk often shows only here
        except av.error.FFmpegError as exc2:
            err = self._error("finishing the file failed", exc2)
            self._abort(err)
            raise err from exc2
        except BaseException as exc2:
            self._abort(exc2)
            raise
        try:
            self._atomic.__exit__(None, None, None)  # synced, then renamed onto path
        except OutputError as exc2:
            raise self._error("publishing failed", exc2) from exc2
