"""``vidcolor render``: colourise videos, images and folders of images with trained models.

:class:`Renderer` loads the models once (a :class:`Colorizer`), owns the worker pool, and
renders one input at a time through the :class:`Pipeline` into a resumable sink
(:mod:`vidcolor.inference.sinks`). :func:`render` is the one-call library entry for one input.
With ``review`` one pass of the pipeline feeds two sinks: the output (the frames a plain render
writes) and a review video beside it (grey | result | per-frame | truth).

The output keeps the source's resolution, frame count, frame rate and timestamps and carries its
audio over; each frame's L is the source's own. A render holds a lock on its output (a second
render of the same output fails cleanly), never overwrites one of its inputs (the input, the
truth, the model files), and continues where an interrupted run of the same command stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vidcolor import __version__
from vidcolor import progress as progress_mod
from vidcolor.background import prefetch
from vidcolor.color.frames import grey_rgb
from vidcolor.errors import InputError, OptionError
from vidcolor.fsutil import exclusive, write_json_atomic
from vidcolor.inference.colorizer import Colorizer, find_runs, load_models
from vidcolor.inference.options import RenderOptions, check_memory, check_upscale
from vidcolor.inference.outputs import check_output, check_same_rate, default_output, same_file
from vidcolor.inference.pipeline import (
    Pipeline,
    SourceFrame,
    available_cpus,
    default_workers,
    make_pool,
)
from vidcolor.inference.sinks import (
    FolderSink,
    ImageSink,
    Sink,
    Todo,
    VideoSink,
    clean_stale,
    staging_dir,
)
from vidcolor.inference.sources import (
    Source,
    open_source,
    warn_if_colour,
)
from vidcolor.inference.stages import FrameWork
from vidcolor.series import SERIES_FILE, SeriesLook

if TYPE_CHECKING:
    from vidcolor.inference.hints import HintMaps

log = logging.getLogger(__name__)

def _identity(path: Path) -> dict[str, Any]:
    """What identifies a file's content cheaply: its path, size and modification time (a model
    held in memory only, with no file, by its name)."""
    if not path.is_file() and not path.is_dir():
        return {"path": str(path)}
    stat = path.stat()
    return {"path": str(path.resolve()), "bytes": stat.st_size, "mtime": stat.st_mtime_ns}


def _digest(path: Path) -> str:
    """The SHA-256 of a small file (a series look: copied again, it is still the same)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Renderer:
    """Loaded models, options and a worker pool, ready to render inputs one after another.

    Args:
        colorizer: the models (:meth:`from_runs` loads them).
        options: the validated render options.

    Use as a context manager (the worker pool is shut down on exit).
    """

    def __init__(self, colorizer: Colorizer, options: RenderOptions) -> None:
        self.colorizer = colorizer
        self.options = options.with_run_grey(colorizer.grey)
        self.workers = default_workers(options)
        check_memory(colorizer, options, self.workers)
        self.pool = None
        self.look_path, self.look = find_look(colorizer)
        self.last_frames = 0
        self.last_skipped = False
        wanted = [name for name in ("palette", "neutral", "credits") if getattr(options, name)]
        if wanted and self.look is None:
            log.warning("the models carry no series look (series.json: trained by an older "
                        "vidcolor?); --%s skipped", ", --".join(wanted))

    @classmethod
    def from_runs(cls, models: Sequence[str | os.PathLike[str]] | None,
                  options: RenderOptions, runs_dir: str | os.PathLike[str] = "runs"
                  ) -> Renderer:
        """Load ``models`` (run folders or checkpoints; None: every run under ``runs_dir``).

        Raises:
            InputError: no model found.
            CheckpointError: a model is not a vidcolor checkpoint.
            DeviceError: the device is not available.
        """
        from vidcolor.devices import resolve_device

        if not models:
            models = find_runs(runs_dir)
            if not models:
                raise InputError(f"no trained model under {Path(runs_dir)}; train one with "
                                 "`vidcolor train` or pass -m RUN_OR_CHECKPOINT")
            log.info("models: %s", ", ".join(str(m) for m in models))
        loaded = load_models(models, resolve_device(options.device))
        if len(loaded) > 1 and options.ensemble is None:
            log.warning("%d models given; using %s only (pass --ensemble to combine them)",
                        len(loaded), loaded[0].name)
            loaded = loaded[:1]
        return cls(Colorizer(loaded, size=options.size, decode=options.decode,
                             ensemble=options.ensemble, debias=options.debias), options)

    def __enter__(self) -> Renderer:
        import torch

        self._threads = torch.get_num_threads()
        self.pool = make_pool(self.workers)
        if self.pool is not None and self.colorizer.device.type == "cpu":
            # Leave the workers their cores: oversubscribed OpenMP threads spin and the whole
            # render gets several times slower on small machines.
            torch.set_num_threads(max(1, min(self._threads,
                                             available_cpus() - self.workers)))
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        torch.set_num_threads(self._threads)

    def model_files(self) -> list[Path]:
        """The checkpoint files of the models (protected from being overwritten)."""
        files = []
        for model in self.colorizer.models:
            tensors = Path(model.info.path)
            files += [tensors, tensors.with_suffix(".json")]
        return files

    def key(self, source: Source, panels: int, truth: Path | None,
            hints: str | None = None) -> str:
        """A digest of everything that decides the output's pixels (resume and skip records;
        ``hints``: the digest of the hint folder, :func:`~vidcolor.inference.hints.
        hints_digest`)."""
        record = {"version": __version__, "input": _identity(source.path),
                  "models": [_identity(Path(m.info.path)) for m in self.colorizer.models],
                  "look": None if self.look_path is None else _digest(self.look_path),
                  "options": self.options.describe(), "panels": panels,
                  "truth": None if truth is None else _identity(truth)}
        if hints is not None:
            record["hints"] = hints
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]

    def _panels(self, side_by_side: bool, truth: bool) -> tuple[list[str], int]:
        views = self.view_names() if side_by_side or truth else []
        return views, 1 + (1 + len(views) if side_by_side or truth else 0) + int(truth)

    def key_for(self, input_path: str | os.PathLike[str], side_by_side: bool = False) -> str:
        """The key :meth:`render` records for ``input_path`` (without a truth panel)."""
        return self.key(open_source(input_path), self._panels(side_by_side, False)[1], None)

    def render(self, input_path: str | os.PathLike[str],
               output: str | os.PathLike[str] | None = None, *, side_by_side: bool = False,
               truth: str | os.PathLike[str] | None = None,
               review: str | os.PathLike[str] | None = None, progress: bool = False,
               skip_errors: bool = False, hints: str | os.PathLike[str] | None = None
               ) -> Path:
        """Colourise one video, image or folder of images.

        When done, a record beside the output (``<output>.vidcolor.json``: the key of input,
        models and options, frames, seconds) says what made it; an output whose record has the
        same key is kept as it is (:attr:`last_skipped`). :attr:`last_frames` holds the number
        of frames rendered.

        Args:
            input_path: a video, one image, or a folder of images. Colour input is accepted:
                only its L is used (a warning says so).
            output: output video/image/folder; None: ``<stem>.colorized.<ext>`` beside it.
            side_by_side: make the output a review: grey input | result (| views) (| truth).
            truth: ground truth video/image/folder shown as the last panel of the review
                (without ``review``: implies ``side_by_side``).
            review: also write a review (grey | result | views (| truth)) here, from the same
                pass: each frame goes through the network and the stages once. The output is
                then exactly what a plain render writes, with the same record; the review has
                its own record (that of ``side_by_side`` to that path), staging and lock.
                Whichever of the two is up to date is kept; the other is rendered (an
                interrupted one continues).
            progress: show a progress bar.
            skip_errors: render the readable frames of a damaged video (a warning says how
                many) instead of refusing it.
            hints: a folder of keyframe hints (:mod:`vidcolor.inference.hints`): painted
                frames whose colours are carried through their shots.

        Returns:
            The output path.

        Raises:
            OptionError: ``review`` with ``side_by_side``, or a review onto the output.
            InputError, OutputError, CheckpointError, DeviceError.
        """
        started = time.perf_counter()
        if review is not None and side_by_side:
            raise OptionError("--review writes the review beside the output, --side-by-side "
                              "makes the output the review: give one of them")
        source = open_source(input_path)
        check_upscale(source, self.options.size)
        out = Path(output) if output is not None else default_output(source.path)
        review_path = None if review is None else Path(review)
        if review_path is not None and same_file(review_path, out):
            raise OptionError(f"{review_path}: the review would overwrite the output; give "
                              "--review another name")
        truth_source = None if truth is None else _open_truth(source, truth)
        hint_key = None
        if hints is not None:
            from vidcolor.inference.hints import hints_digest

            hint_key = hints_digest(hints)
        views, targets = self._targets(source, out, review_path, side_by_side, truth_source,
                                       hint_key)
        pending = self._pending(targets, source)
        self.last_skipped = not pending
        if not pending:
            return out
        if not any(target.panels > 1 for target in pending):
            views = []  # only the plain output is left to write: no views to keep
        with contextlib.ExitStack() as locks:
            maps = None
            if hints is not None:  # bad hints fail here, before anything is written
                from vidcolor.inference.hints import plan_hints

                maps = plan_hints(source, hints, self.look, progress)
                locks.callback(maps.close)
            for target in pending:
                locks.enter_context(exclusive(target.path, "rendering it"))
            self._write(source, pending, views, truth_source, progress, skip_errors, maps,
                        started)
        return out

    def _pending(self, targets: list[_Target], source: Source) -> list[_Target]:
        """The targets not yet rendered with this key (those that are keep their output)."""
        from vidcolor.inference.records import finished_record

        pending = []
        for target in targets:
            done = finished_record(target.path, target.key)
            if done is None:
                pending.append(target)
            else:
                log.info("%s: already rendered from %s with these models and options; kept",
                         target.path, source.path)
                self.last_frames = done["frames"]
        return pending

    def _targets(self, source: Source, out: Path, review: Path | None, side_by_side: bool,
                 truth: Source | None, hint_key: str | None) -> tuple[list[str], list[_Target]]:
        """The outputs of one render pass (the output, and the review when asked for) with
        their keys, checked; and the views the review shows."""
        truth_path = truth.path if truth else None
        if review is None:
            views, panels = self._panels(side_by_side, truth is not None)
            wanted = [(out, panels, truth_path)]
        else:
            views, panels = self._panels(True, truth is not None)
            wanted = [(out, 1, None), (review, panels, truth_path)]
        protected = [source.path, *([truth_path] if truth_path else []), *self.model_files()]
        images = [p.name for p in source.images] if source.kind == "folder" else []
        targets = []
        for path, count, shown_truth in wanted:
            key = self.key(source, count, shown_truth, hint_key)
            # a video's staging folder does not depend on the hints: its segments record the
            # hints that made them, so a change of hints re-renders only the shots it touches
            staging_key = self.key(source, count, shown_truth) \
                if hint_key is not None and source.kind == "video" else key
            targets.append(_Target(path, count, key, staging_key))
            check_output(path, source.kind, protected, images)
        return views, targets

    def _write(self, source: Source, pending: list[_Target], views: list[str],
               truth: Source | None, progress: bool, skip_errors: bool,
               maps: HintMaps | None, started: float) -> None:
        """Render into every pending target's sink (locks held), publish them and their
        records; a bad input removes what was staged (it would fail again)."""
        from vidcolor.inference.records import output_fingerprint, record_path

        try:
            for target in pending:
                target.staging = staging_dir(target.path, target.staging_key)
                clean_stale(target.path, target.staging)
                target.sink = self._sink(source, target.path, target.staging, target.panels,
                                         maps)
            self.last_frames = self._run(source, pending, views, truth, progress,
                                         skip_errors=skip_errors, hints=maps)
            for target in pending:
                assert target.sink is not None
                target.sink.finish()
                write_json_atomic(record_path(target.path), {
                    "key": target.key, "input": str(source.path),
                    "output": output_fingerprint(target.path), "frames": self.last_frames,
                    "seconds": round(time.perf_counter() - started, 3),
                    "options": self.options.describe(),
                    "models": [str(m.info.path) for m in self.colorizer.models]})
        except InputError:  # a bad input fails again: nothing worth resuming
            for target in pending:
                if target.sink is not None:
                    target.sink.close()
                if target.staging is not None:
                    shutil.rmtree(target.staging, ignore_errors=True)
            raise
        finally:
            for target in pending:
                if target.sink is not None:
                    target.sink.close()

    def view_names(self) -> list[str]:
        """The extra colourings the sequence stages show beside the result (e.g. per-frame)."""
        from vidcolor.inference.stages import SEQUENCE_STAGES, active_sequence

        names = active_sequence(self.options, self.colorizer.bins)
        views = (getattr(SEQUENCE_STAGES[name].load(), "view", None) for name in names)
        return [view for view in views if view]

    def pipeline(self, views: bool = False, hints: HintMaps | None = None) -> Pipeline:
        """A :class:`Pipeline` on this renderer's models, options and worker pool (``views``:
        keep the sequence stages' views, e.g. the per-frame colours beside the temporal;
        ``hints``: keyframe hints planned for the input)."""
        return Pipeline(self.colorizer, self.options, self.pool, self.look, views, hints)

    def _sink(self, source: Source, out: Path, staging: Path, panels: int,
              hints: HintMaps | None) -> Sink:
        stateless = not self.options.sequence
        if source.kind == "video":
            return VideoSink(out, source, staging, panels, stateless, self.options.chroma,
                             self.options.crf, hints=None if hints is None else
                             hints.span_digest)
        if source.kind == "folder":
            return FolderSink(out, staging, [p.name for p in source.images], stateless)
        return ImageSink(out)

    def _run(self, source: Source, targets: Sequence[_Target], views: list[str],
             truth: Source | None, progress: bool, skip_errors: bool = False,
             hints: HintMaps | None = None) -> int:
        """One pass of the pipeline feeding every target's sink; returns the frame count."""
        sinks: list[tuple[Sink, bool]] = []
        for target in targets:
            assert target.sink is not None
            sinks.append((target.sink, target.panels > 1))
        pipeline = self.pipeline(views=bool(views), hints=hints)
        # each sink reproduces the first frame of each piece it misses from a warm-up point (a
        # shot start, or any frame when no stage carries state): a frame depends only on the
        # frames of its own shot, so one pass over the pieces of every sink serves them all
        pieces = _merged([piece for sink, _ in sinks for piece in sink.todo])
        kept = sinks[0][0].kept_frames
        if kept and len(pieces) == 1:
            log.info("%s: continuing after %d frames already rendered", source.path, kept)
        elif kept:
            log.info("%s: %d frames already rendered are kept; rendering the other %d pieces",
                     source.path, kept, len(pieces))
        frames = _Counted(warn_if_colour(source.frames(skip=pieces[0][0],
                                                       skip_errors=skip_errors), source.path),
                          pieces[0][0])
        truth_frames = None if truth is None else _Counted(
            prefetch(truth.frames(skip=pieces[0][0]), 8, "vidcolor-truth"), pieces[0][0])
        written = kept
        try:
            with progress_mod.bar(total=source.count, initial=kept, desc="render",
                                  unit="frame", enabled=progress) as bar:
                for warmup, _, end in pieces:
                    if not frames.skip_to(warmup):
                        break
                    piece = frames if end is None else itertools.islice(frames, end - warmup)
                    for work in pipeline.run(piece, first_index=warmup):
                        truth_rgb = None
                        if truth_frames is not None:
                            found = truth_frames.skip_to(work.index) and \
                                next(truth_frames, None)
                            if not found:
                                raise InputError(
                                    f"{truth.path if truth else ''}: the ground truth has fewer "
                                    f"frames than the input (ends before frame {work.key})")
                            truth_rgb = found.rgb
                        for sink, review in sinks:
                            if review and sink.wants(work.index):
                                sink.write(work, compose(work, views, truth_rgb))
                            else:  # the plain output; a frame not wanted only tracks shots
                                assert work.rgb is not None
                                sink.write(work, work.rgb)
                        if sinks[0][0].wants(work.index):
                            written += 1
                            bar.update(1)
        finally:
            if truth_frames is not None:
                truth_frames.close()
        log.info("%s: %d frames", source.path, written)
        return written


def _merged(pieces: list[Todo]) -> list[Todo]:
    """The pieces of several sinks as one list in order: pieces whose frames (warm-up
    included) overlap or touch are one."""
    merged: list[Todo] = []
    for warmup, first, end in sorted(pieces, key=lambda piece: piece[1]):
        if merged and (merged[-1][2] is None or warmup <= merged[-1][2]):
            last = merged[-1]
            merged[-1] = (min(last[0], warmup), last[1],
                          None if end is None or last[2] is None else max(last[2], end))
        else:
            merged.append((warmup, first, end))
    return merged


class _Counted:
    """An iterator of frames that knows the index of the next one and can skip ahead."""

    def __init__(self, frames: Iterator[Any], position: int) -> None:
        self.frames, self.position = frames, position

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        frame = next(self.frames)
        self.position += 1
        return frame

    def skip_to(self, index: int) -> bool:
        """Drop frames up to ``index``; False when the input ends first."""
        while self.position < index:
            if next(self, None) is None:
                return False
        return True

    def close(self) -> None:
        close = getattr(self.frames, "close", None)
        if close is not None:
            close()


@dataclass
class _Target:
    """One output of a render pass: its path, panels (1: the plain output; more: a review), the
    key its record keeps and the key naming its staging folder, and while it is rendered its
    staging folder and sink."""

    path: Path
    panels: int
    key: str
    staging_key: str
    staging: Path | None = None
    sink: Sink | None = None


def _open_truth(source: Source, truth: str | os.PathLike[str]) -> Source:
    """The ground truth shown beside ``source``: the same kind of input at the same rate."""
    truth_source = open_source(truth)
    if (truth_source.kind == "video") != (source.kind == "video"):
        raise InputError(f"{truth_source.path}: the ground truth must be the same kind of input "
                         f"as {source.path} ({source.kind})")
    check_same_rate(source, truth_source)
    return truth_source


def find_look(colorizer: Colorizer) -> tuple[Path | None, SeriesLook | None]:
    """The series look (``series.json``) stored in the first model's run folder that has one.

    Raises:
        DatasetError: a damaged ``series.json``.
    """
    for model in colorizer.models:
        path = Path(model.info.path).parent / SERIES_FILE
        if path.is_file():
            return path, SeriesLook.load(path)
    return None, None


def compose(work: FrameWork, views: Sequence[str], truth: np.ndarray | None) -> np.ndarray:
    """The review frame: grey input | result | each view | ground truth (resized to fit)."""
    import cv2

    assert work.rgb is not None
    panels = [grey_rgb(work.lightness), _marked(work.rgb) if work.hinted else work.rgb]
    panels += [work.view_rgb[name] for name in views]
    if truth is not None:
        if truth.shape != work.rgb.shape:
            truth = cv2.resize(truth, (work.rgb.shape[1], work.rgb.shape[0]),
                               interpolation=cv2.INTER_AREA)
        panels.append(truth)
    return np.concatenate(panels, axis=1)


def _marked(rgb: np.ndarray) -> np.ndarray:
    """A review panel of a painted (hinted) frame: framed in yellow."""
    marked = rgb.copy()
    edge = max(2, min(rgb.shape[:2]) // 60)
    for region in (marked[:edge], marked[-edge:], marked[:, :edge], marked[:, -edge:]):
        region[...] = (255, 214, 0)
    return marked


def render(input_path: str | os.PathLike[str],
           models: Sequence[str | os.PathLike[str]] | None = None,
           output: str | os.PathLike[str] | None = None, *,
           options: RenderOptions | None = None, side_by_side: bool = False,
           truth: str | os.PathLike[str] | None = None,
           review: str | os.PathLike[str] | None = None, progress: bool = False,
           runs_dir: str | os.PathLike[str] = "runs", colorizer: Colorizer | None = None,
           hints: str | os.PathLike[str] | None = None) -> Path:
    """Colourise a video, an image or a folder of images (one call: load, render, close).

    Args:
        input_path: a video, one image, or a folder of images.
        models: run folders (latest checkpoint) or checkpoint files; None: every run under
            ``runs_dir``. Ignored when ``colorizer`` is given.
        output: output path; None: ``<stem>.colorized.<ext>`` beside the input.
        options: :class:`RenderOptions` (default: the defaults).
        side_by_side: write a review (grey | result | ... | truth).
        truth: ground truth shown as the last panel of the review (without ``review``:
            implies ``side_by_side``).
        review: also write a review (grey | result | per-frame (| truth)) here, in the same
            pass; the output stays exactly a plain render's.
        progress: show a progress bar.
        runs_dir: where to look for runs.
        colorizer: already loaded models (library use and tests).
        hints: a folder of keyframe hints (:mod:`vidcolor.inference.hints`).

    Returns:
        The output path.
    """
    options = options or RenderOptions()
    renderer = Renderer(colorizer, options) if colorizer is not None else \
        Renderer.from_runs(models, options, runs_dir)
    with renderer:
        return renderer.render(input_path, output, side_by_side=side_by_side, truth=truth,
                               review=review, progress=progress, hints=hints)


__all__ = ["Renderer", "render", "default_output", "check_output", "compose", "SourceFrame"]
