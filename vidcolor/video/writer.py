"""Writing RGB frames as an H.264 video at an exact frame rate, with optional audio
(:class:`VideoWriter`).

The output appears under its name only when complete (:func:`vidcolor.fsutil.atomic_path`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from vidcolor.errors import OutputError
from vidcolor.fsutil import STORAGE_ERRNOS, atomic_path, storage_error
from vidcolor.video.audio import AudioCarrier
from vidcolor.video.inputs import error_reason

log = logging.getLogger(__name__)

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
        rotation: display rotation in degrees (counter-clockwise, as
            :func:`~vidcolor.video.probe.probe` reports it) stored in the container, so a copy
            of a rotated source plays the same way up.
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
        return OutputError(f"{self.name}: {doing} ({error_reason(exc)})")

    def __enter__(self) -> VideoWriter:
        try:
            self._tmp = self._atomic.__enter__()
        except OutputError as exc:
            raise self._error("cannot start writing", exc) from exc
        ext = self.path.suffix.lower()
        # ValueError: the audio codec is not one the container takes
        with self._dropped_on_failure("cannot start writing", (av.error.FFmpegError, ValueError)):
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
            self._carrier = AudioCarrier(self._out, ext, self._audio_from, self._audio)
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

    @contextlib.contextmanager
    def _dropped_on_failure(self, doing: str, errors: tuple[type[BaseException], ...]
                            ) -> Iterator[None]:
        """Run the block; if it fails, close what is open, drop the temporary file and raise:
        one of ``errors`` as the one-line error for ``doing`` (:meth:`_error`), anything else
        as it is."""
        try:
            yield
        except errors as exc:
            err = self._error(doing, exc)
            self._abort(err)
            raise err from exc
        except BaseException as exc:
            self._abort(exc)
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None:
            self._abort(exc)
            return
        with self._dropped_on_failure("finishing the file failed", (av.error.FFmpegError,)):
            if self._count == 0:
                raise OutputError(f"{self.name}: no frames were written")
            for packet in self._stream.encode(None):
                self._out.mux(packet)
            self._carrier.advance(None)
            self._carrier.close()
            self._out.close()  # writes the trailer: a full disk often shows only here
        try:
            self._atomic.__exit__(None, None, None)  # synced, then renamed onto path
        except OutputError as exc2:
            raise self._error("publishing failed", exc2) from exc2
