"""Where finished frames go: a video, one image, or a folder of images — resumably.

A render writes under a **staging folder** beside its output, named after the output and a key
of everything that decides the output's pixels (input, models, options; :func:`staging_dir`):

* a video is written in segments (``seg-NNNNNN.mp4``, each a closed H.264 stream of whole
  shots where possible, recorded in ``segments.json`` once complete); at the end the segments'
  packets are joined, with the source's audio, into the output (:func:`assemble`);
* a folder's images are written into the staging folder one by one, then moved into place;
* a single image is written atomically.

An interrupted render (Ctrl-C, a crash, SIGKILL) leaves its staging folder; the same command
continues after the last finished segment (or image) instead of starting over. Stale staging
folders and partial files of the same output made with other options are removed on the next
run. The output itself only ever appears complete, under its final name.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidcolor.errors import OutputError
from vidcolor.fsutil import (
    STORAGE_ERRNOS,
    atomic_path,
    ensure_writable_dir,
    read_json_object,
    storage_error,
    write_bytes_atomic,
    write_json_atomic,
)
from vidcolor.inference.sources import ALPHA_EXTENSIONS, Source
from vidcolor.inference.stages import FrameWork

log = logging.getLogger(__name__)

#: A video segment is closed at the first shot boundary after this many seconds of frames...
SEGMENT_SECONDS = 10.0
#: ... or, inside a long shot, after this many times as many (a resume then re-runs the shot).
SEGMENT_CAP = 10
_STAGING_MARK = ".vidcolor-"


def staging_dir(output: Path, key: str) -> Path:
    """The staging folder of ``output`` for the render identified by ``key``."""
    return output.parent / f".{output.name}{_STAGING_MARK}{key}"


def clean_stale(output: Path, keep: Path | None) -> None:
    """Remove other renders' staging folders and partial files of ``output`` (lock held)."""
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        return
    prefix = f".{output.name}{_STAGING_MARK}"
    partial = f".{output.stem}."
    for path in parent.iterdir():
        if path.name.startswith(prefix) and path != keep:
            log.info("%s: removing the staging folder of an earlier render with other "
                     "options", path)
            shutil.rmtree(path, ignore_errors=True)
        elif (path.name.startswith(partial) and f".part{output.suffix}" in path.name
              and path.is_file()):
            log.info("%s: removing a partial file left by an interrupted render", path)
            with contextlib.suppress(OSError):
                path.unlink()


def _clean_staging(staging: Path) -> None:
    """Make ``staging`` and leave in it only what a resume can use: every entry that is not a
    plain file (a folder where an image, a segment or a record goes) and every partial file is
    removed (the staging folder is vidcolor's own, named after the render's key).

    Raises:
        OutputError: the staging folder cannot be made or written.
    """
    if staging.is_symlink() or (staging.exists() and not staging.is_dir()):
        with contextlib.suppress(OSError):
            staging.unlink()  # a file under the staging folder's name
    ensure_writable_dir(staging)
    for entry in staging.iterdir():
        if (entry.name.startswith(".") and ".part" in entry.name) or entry.is_symlink() \
                or not entry.is_file():
            log.info("%s: removing what an interrupted render left", entry)
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()


class Sink:
    """Receives finished frames in order; knows where an interrupted render stopped.

    Attributes:
        resume_at: frames already finished by an earlier, interrupted run of the same render.
        warmup_from: the frame the pipeline must start at to reproduce frame ``resume_at``
            exactly (the start of its shot when sequence stages carry state; else resume_at).
    """

    resume_at = 0
    warmup_from = 0

    def write(self, work: FrameWork, rgb: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def finish(self) -> None:
        """Publish the output (all frames written)."""

    def close(self) -> None:
        """Release open files (after success or failure; the staging folder stays)."""


def _write_image(target: Path, rgb: np.ndarray, alpha: np.ndarray | None) -> None:
    """Encode in memory, then write the bytes atomically: ``cv2.imwrite`` can report success
    when the storage refused its bytes (a full disk), and a truncated image looked finished."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if alpha is not None and alpha.shape == rgb.shape[:2] \
            and target.suffix.lower() in ALPHA_EXTENSIONS:
        bgr = np.dstack([bgr, alpha])
    try:
        ok, data = cv2.imencode(target.suffix.lower(), bgr)
    except cv2.error as exc:
        raise OutputError(f"{target}: cannot encode this image as {target.suffix} "
                          f"({str(exc).strip().splitlines()[-1]})") from None
    if not ok:
        raise OutputError(f"{target}: cannot encode this image as {target.suffix}")
    write_bytes_atomic(target, data.tobytes())


class ImageSink(Sink):
    """One image, written atomically."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self._frame: tuple[np.ndarray, np.ndarray | None] | None = None

    def write(self, work: FrameWork, rgb: np.ndarray) -> None:
        self._frame = (rgb, work.alpha)

    def finish(self) -> None:
        assert self._frame is not None
        _write_image(self.output, *self._frame)


class FolderSink(Sink):
    """A folder of images: staged one by one, moved into the output folder at the end."""

    def __init__(self, output: Path, staging: Path, names: list[str], stateless: bool) -> None:
        self.output, self.staging, self.names = output, staging, names
        _clean_staging(staging)
        done = 0
        while done < len(names) and (staging / names[done]).is_file():
            done += 1
        self.resume_at = self.warmup_from = done
        if done and not stateless:
            # a shot's frames depend on the shot's start: re-run from there (from the first
            # frame when the record is missing or damaged)
            start = read_json_object(staging / "shots.json").get(str(done), 0)
            self.warmup_from = start if type(start) is int and 0 <= start <= done else 0
        self._shot_start = self.warmup_from
        self._stateless = stateless

    def write(self, work: FrameWork, rgb: np.ndarray) -> None:
        if work.shot_start:
            self._shot_start = work.index
        if work.index < self.resume_at:
            return
        _write_image(self.staging / str(work.key), rgb, work.alpha)
        if not self._stateless:
            write_json_atomic(self.staging / "shots.json", {str(work.index + 1):
                                                            self._shot_start})

    def finish(self) -> None:
        ensure_writable_dir(self.output)
        for name in self.names:
            staged, target = self.staging / name, self.output / name
            try:
                try:
                    os.replace(staged, target)
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
                    # the output folder is another file system (a mount point): copy
                    write_bytes_atomic(target, staged.read_bytes())
                    staged.unlink()
            except OSError as exc:
                raise OutputError(f"{target}: cannot put the rendered image in place "
                                  f"({exc.strerror or exc}); the images not yet moved stay in "
                                  f"{self.staging}") from exc
        shutil.rmtree(self.staging, ignore_errors=True)


def _synced_digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a finished file, flushed to disk (a crash after the record that
    names it is written must not leave the record pointing at unwritten data)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
        os.fsync(handle.fileno())
    return path.stat().st_size, digest.hexdigest()


def _intact(seg: Any, staging: Path) -> bool:
    """Whether a ``segments.json`` entry is well formed and its file is the one recorded
    (a segment cut short or overwritten by a crash, a full disk or a bad sector is redone;
    joining it would fail on every later run)."""
    fields = ("first", "end", "next_shot_start")
    if not isinstance(seg, dict) or not isinstance(seg.get("file"), str) or \
            not all(type(seg.get(name)) is int for name in fields) or \
            not 0 <= seg["first"] < seg["end"] or not 0 <= seg["next_shot_start"] <= seg["end"]:
        return False
    try:
        path = staging / seg["file"]
        if path.parent != staging or not path.is_file():
            return False
        return (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest()) == \
            (seg.get("bytes"), seg.get("sha256"))
    except (OSError, ValueError):  # a name too long, a NUL in it
        return False


class VideoSink(Sink):
    """A video written as closed H.264 segments under ``staging``, joined by :meth:`finish`.

    Args:
        output: the final video file.
        source: the input (frame rate, time base, rotation, audio).
        staging: the staging folder (:func:`staging_dir`).
        panels: frames are ``panels`` times the source's width (review videos).
        stateless: no sequence stage carries state from frame to frame (segments may end
            anywhere and a resume needs no warm-up).
    """

    def __init__(self, output: Path, source: Source, staging: Path, panels: int,
                 stateless: bool, chroma: str = "420", crf: int = 18) -> None:
        self.output, self.source, self.staging = output, source, staging
        self.chroma, self.crf = chroma, crf
        info = source.video
        assert info is not None
        self.info = info
        self.width = info.width * panels
        self.stateless = stateless
        self.extension = ".avi" if output.suffix.lower() == ".avi" else ".mp4"
        _clean_staging(staging)
        record = read_json_object(staging / "segments.json").get("segments")
        self.segments: list[dict[str, Any]] = self._contiguous(
            record if isinstance(record, list) else [], staging)
        if self.segments:
            last = self.segments[-1]
            self.resume_at, self.warmup_from = int(last["end"]), int(last["next_shot_start"])
        self.segment_frames = max(1, round(SEGMENT_SECONDS * float(info.frame_rate)))
        self._writer: Any = None
        self._first = self.resume_at
        self._count = 0
        self._shot_start = self.warmup_from

    @staticmethod
    def _contiguous(segments: list[Any], staging: Path) -> list[dict[str, Any]]:
        """The recorded segments from frame 0 on that follow on and are intact; a resume
        redoes the first one that is not (and everything after it)."""
        kept: list[dict[str, Any]] = []
        for seg in segments:
            if not _intact(seg, staging) or seg["first"] != (kept[-1]["end"] if kept else 0):
                break
            kept.append(seg)
        return kept

    def write(self, work: FrameWork, rgb: np.ndarray) -> None:
        if work.shot_start:
            self._shot_start = work.index
        if work.index < self.resume_at:
            return
        if self._writer is not None:
            boundary = self.stateless or work.shot_start
            if (boundary and self._count >= self.segment_frames) or \
                    self._count >= SEGMENT_CAP * self.segment_frames:
                self._close_segment(next_shot_start=work.index if boundary
                                    else self._shot_start)
        if self._writer is None:
            self._open_segment(work.index)
        self._writer.write(rgb, pts=work.pts)
        self._count += 1

    def _open_segment(self, first: int) -> None:
        from vidcolor.video import VideoWriter

        self._first, self._count = first, 0
        name = f"seg-{first:06d}{self.extension}"
        self._writer = VideoWriter(self.staging / name, self.info.frame_rate, self.width,
                                   self.info.height, time_base=self.info.time_base,
                                   rotation=self.info.rotation, chroma=self.chroma,
                                   crf=self.crf, name=self.output)  # errors name the output
        self._writer.__enter__()

    def _close_segment(self, next_shot_start: int) -> None:
        writer, self._writer = self._writer, None
        writer.__exit__(None, None, None)
        end = self._first + self._count
        size, digest = _synced_digest(writer.path)  # on disk before the record names it
        self.segments.append({"file": writer.path.name, "first": self._first, "end": end,
                              "next_shot_start": next_shot_start, "bytes": size,
                              "sha256": digest})
        write_json_atomic(self.staging / "segments.json", {"segments": self.segments})

    def finish(self) -> None:
        if self._writer is not None:
            self._close_segment(next_shot_start=self._first + self._count)
        if not self.segments:
            raise OutputError(f"{self.output}: no frames were written")
        assemble([self.staging / seg["file"] for seg in self.segments], self.output,
                 self.info.frame_rate, audio_from=self.source.path)
        shutil.rmtree(self.staging, ignore_errors=True)

    def close(self) -> None:
        if self._writer is not None:  # an unfinished segment: dropped, redone on resume
            writer, self._writer = self._writer, None
            with contextlib.suppress(Exception):
                writer.__exit__(OutputError, OutputError("interrupted"), None)


def assemble(segments: list[Path], output: Path, frame_rate: Fraction, *,
             audio_from: Path | None = None) -> None:
    """Join H.264 segment files into ``output`` (packets copied, not re-encoded) with audio.

    Each segment is a closed stream with the source's timestamps, so the packets follow on.
    AVI stores no timestamps: its packets are numbered in order.

    Raises:
        OutputError: a segment cannot be read or the output cannot be written.
    """
    import av

    from vidcolor.video import _AudioCarrier

    avi = output.suffix.lower() == ".avi"
    with atomic_path(output) as tmp:
        inputs = []
        try:
            inputs = [av.open(str(path)) for path in segments]
            out = av.open(str(tmp), "w")
            try:
                template = inputs[0].streams.video[0]
                stream = out.add_stream_from_template(template)
                stream.time_base = template.time_base
                stream.codec_context.framerate = frame_rate  # Matroska stores it
                carrier = _AudioCarrier(out, output.suffix.lower(), audio_from, None)
                count = 0
                for container in inputs:
                    source = container.streams.video[0]
                    for packet in container.demux(source):
                        if packet.size == 0:
                            continue
                        if avi:
                            packet.pts = packet.dts = count
                        time = float(packet.pts * packet.time_base) if packet.pts is not None \
                            else None
                        packet.stream = stream
                        out.mux(packet)
                        count += 1
                        if time is not None:
                            carrier.advance(time)
                carrier.advance(None)
                carrier.close()
            finally:
                out.close()
        except av.error.FFmpegError as exc:
            if getattr(exc, "errno", None) in STORAGE_ERRNOS:  # a full disk, ulimit -f
                raise storage_error(output, exc) from exc  # type: ignore[arg-type]
            raise OutputError(f"{output}: joining the rendered segments failed ({exc})") from exc
        finally:
            for container in inputs:
                container.close()
