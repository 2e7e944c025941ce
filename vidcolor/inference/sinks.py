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
from collections.abc import Callable
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


#: A piece of the input still to render: (warm-up frame, first frame to write, end or None for
#: the end of the input). The pipeline starts at the warm-up frame (a shot start, or any frame
#: when no stage carries state) to reproduce the first frame exactly.
Todo = tuple[int, int, "int | None"]


class Sink:
    """Receives finished frames in order; knows what an earlier run of the same render left.

    Attributes:
        todo: the pieces of the input still to render (:data:`Todo`), in order; by default
            the whole input.
        kept_frames: frames already finished by an earlier run (an interrupted one; with hints,
            the shots whose hints did not change).
    """

    todo: list[Todo] = [(0, 0, None)]
    kept_frames = 0

    def piece_of(self, index: int) -> Todo | None:
        """The piece of :attr:`todo` that frame ``index`` is written in; None: the frame only
        warms the stages up."""
        return next((piece for piece in self.todo if piece[1] <= index
                     and (piece[2] is None or index < piece[2])), None)

    def wants(self, index: int) -> bool:
        """Whether frame ``index`` is to be written."""
        return self.piece_of(index) is not None

    def write(self, work: FrameWork, rgb: np.ndarray) -> None:  # pragma: no cover
        """Take every frame the pipeline produces, in order (those it does not
        :meth:`wants` only tell where shots start)."""
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
        warmup = done
        if done and not stateless:
            # a shot's frames depend on the shot's start: re-run from there (from the first
            # frame when the record is missing or damaged)
            start = read_json_object(staging / "shots.json").get(str(done), 0)
            warmup = start if type(start) is int and 0 <= start <= done else 0
        self.todo, self.kept_frames = [(warmup, done, None)], done
        self._shot_start = warmup
        self._stateless = stateless

    def write(self, work: FrameWork, rgb: np.ndarray) -> None:
        if work.shot_start:
            self._shot_start = work.index
        if not self.wants(work.index):
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
            not 0 <= seg["first"] < seg["end"] or not 0 <= seg["next_shot_start"] <= seg["end"] \
            or type(seg.get("starts_shot")) is not bool or not isinstance(seg.get("hints"), str):
        return False
    try:
        path = staging / seg["file"]
        if path.parent != staging or not path.is_file():
            return False
        return (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest()) == \
            (seg.get("bytes"), seg.get("sha256"))
    except (OSError, ValueError):  # a name too long, a NUL in it
        return False


def _no_hints(first: int, end: int) -> str:
    return ""


class VideoSink(Sink):
    """A video written as closed H.264 segments under ``staging``, joined by :meth:`finish`.

    Each segment records the frames it holds and the digest of the hints that decided them
    (``hints``: :meth:`~vidcolor.inference.hints.HintMaps.span_digest`). A later run of the
    same render (same input, models and options: the staging folder is named by their key)
    keeps every intact segment whose hints are unchanged and renders only the rest: after an
    interruption, what was not finished; after a hint was added or changed, that hint's shots.
    With ``hints`` the segments are closed at every shot boundary and kept after the output is
    joined, for the next change of hints (a second copy of the video on disk).

    Args:
        output: the final video file.
        source: the input (frame rate, time base, rotation, audio).
        staging: the staging folder (:func:`staging_dir`).
        panels: frames are ``panels`` times the source's width (review videos).
        stateless: no sequence stage carries state from frame to frame (segments may end
            anywhere and a resume needs no warm-up).
        hints: the digest of the hints deciding a range of frames, when rendering with hints.
    """

    def __init__(self, output: Path, source: Source, staging: Path, panels: int,
                 stateless: bool, chroma: str = "420", crf: int = 18,
                 hints: Callable[[int, int], str] | None = None) -> None:
        self.output, self.source, self.staging = output, source, staging
        self.chroma, self.crf = chroma, crf
        info = source.video
        assert info is not None
        self.info = info
        self.width = info.width * panels
        self.stateless = stateless
        self.keep = hints is not None
        self.hints = hints or _no_hints
        self.extension = ".avi" if output.suffix.lower() == ".avi" else ".mp4"
        _clean_staging(staging)
        record = read_json_object(staging / "segments.json").get("segments")
        self.segments: list[dict[str, Any]] = self._reusable(
            record if isinstance(record, list) else [], staging, self.hints)
        self.todo = self._gaps(self.segments)
        self.kept_frames = sum(seg["end"] - seg["first"] for seg in self.segments)
        # with hints, a segment per shot, so that a changed hint redoes its shot only
        self.segment_frames = max(1, round(SEGMENT_SECONDS * float(info.frame_rate)))
        self.boundary_frames = 1 if self.keep else self.segment_frames
        self._writer: Any = None
        self._first = self._count = 0
        self._shot_start = self.todo[0][0]

    @staticmethod
    def _reusable(segments: list[Any], staging: Path, hints: Callable[[int, int], str]
                  ) -> list[dict[str, Any]]:
        """The recorded segments that are intact, do not overlap, and whose hints are those of
        this render; the files of the others are removed (their frames are rendered again)."""
        kept: list[dict[str, Any]] = []
        for seg in sorted((seg for seg in segments if _intact(seg, staging)),
                          key=lambda seg: seg["first"]):
            if (not kept or seg["first"] >= kept[-1]["end"]) and \
                    seg["hints"] == hints(seg["first"], seg["end"]):
                kept.append(seg)
        names = {seg["file"] for seg in kept}
        for path in staging.glob("seg-*"):
            if path.name not in names:
                with contextlib.suppress(OSError):
                    path.unlink()
        return kept

    @staticmethod
    def _gaps(kept: list[dict[str, Any]]) -> list[Todo]:
        """What the kept segments leave to render, each piece warmed up from its shot's start."""
        todo: list[Todo] = []
        end = warmup = 0
        for seg in kept:
            if seg["first"] > end:
                todo.append((warmup, end, seg["first"]))
            end, warmup = seg["end"], seg["next_shot_start"]
        todo.append((warmup, end, None))
        return todo

    def write(self, work: FrameWork, rgb: np.ndarray) -> None:
        if work.shot_start:
            self._shot_start = work.index
        piece = self.piece_of(work.index)
        if piece is None:
            return
        if self._writer is not None:
            boundary = self.stateless or work.shot_start
            if (boundary and self._count >= self.boundary_frames) or \
                    self._count >= SEGMENT_CAP * self.segment_frames:
                self._close_segment(next_shot_start=work.index if boundary
                                    else self._shot_start)
        if self._writer is None:
            self._open_segment(work.index, starts_shot=self.stateless or work.shot_start)
        self._writer.write(rgb, pts=work.pts)
        self._count += 1
        if piece[2] is not None and work.index + 1 == piece[2]:
            # the next frames are kept: close here, saying where the next frame's shot starts
            after = next(seg for seg in self.segments if seg["first"] == piece[2])
            self._close_segment(next_shot_start=piece[2] if after["starts_shot"]
                                else self._shot_start)

    def _open_segment(self, first: int, starts_shot: bool) -> None:
        from vidcolor.video.writer import VideoWriter

        self._first, self._count, self._starts_shot = first, 0, starts_shot
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
                              "next_shot_start": next_shot_start,
                              "starts_shot": self._starts_shot,
                              "hints": self.hints(self._first, end), "bytes": size,
                              "sha256": digest})
        self.segments.sort(key=lambda seg: seg["first"])
        write_json_atomic(self.staging / "segments.json", {"segments": self.segments})

    def finish(self) -> None:
        if self._writer is not None:
            self._close_segment(next_shot_start=self._first + self._count)
        if not self.segments:
            raise OutputError(f"{self.output}: no frames were written")
        if any(seg["first"] != (self.segments[n - 1]["end"] if n else 0)
               for n, seg in enumerate(self.segments)):
            raise OutputError(f"{self.output}: the rendered segments in {self.staging} do not "
                              "follow on; render it again")
        assemble([self.staging / seg["file"] for seg in self.segments], self.output,
                 self.info.frame_rate, audio_from=self.source.path)
        if not self.keep:
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

    from vidcolor.video.audio import AudioCarrier

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
                carrier = AudioCarrier(out, output.suffix.lower(), audio_from, None)
                count, last_dts = 0, None
                for container in inputs:
                    source = container.streams.video[0]
                    for packet in container.demux(source):
                        if packet.size == 0:
                            continue
                        if avi:
                            packet.pts = packet.dts = count
                        elif packet.dts is not None and last_dts is not None and \
                                packet.dts <= last_dts:
                            # a segment shorter than the encoder's B-frame delay (a shot of a
                            # frame or two) has no delay: the next one's decoding clock starts
                            # before its own ends; decoding times only need to keep order
                            packet.dts = last_dts + 1
                        if packet.dts is not None:
                            last_dts = packet.dts
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
