"""A whole season in one command: many inputs, one or several devices, or one shard of many.

:func:`plan` turns the command's inputs into episodes: each video is one, a folder of images is
one, a folder of videos gives one per video; ``--shard I/N`` keeps a deterministic 1/N of them
(the episodes sorted by their absolute path, every N-th from I — the same share whatever the
order of the arguments, so a SLURM job array or a Kubernetes Indexed Job splits a season with
no coordination). :func:`render_batch` renders them with the models loaded once — in this
process, or in one worker process per device (``--devices cuda:0,cuda:1``), each taking the next
episode from a shared queue. An episode whose output already carries a record of the same
models and options is skipped; an interrupted one continues (:mod:`vidcolor.inference.sinks`);
a failing one is reported and the rest go on. The outcome of every episode is returned and
written to ``season.json`` beside the outputs.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vidcolor.errors import InputError, OptionError, VidcolorError
from vidcolor.fsutil import write_json_atomic
from vidcolor.inference.options import RenderOptions
from vidcolor.inference.sources import IMAGE_EXTENSIONS

log = logging.getLogger(__name__)

#: Files taken as videos when a folder of videos is given.
VIDEO_EXTENSIONS = (".mkv", ".mp4", ".avi", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".ts",
                    ".m2ts", ".vob", ".wmv", ".flv", ".ogv")


@dataclass
class Episode:
    """One input to render and where its output goes."""

    input: Path
    output: Path | None  # None: beside the input (the default name)


@dataclass
class EpisodeResult:
    """What became of one episode.

    Attributes:
        status: ``done``, ``skipped`` (already rendered with the same models and options) or
            ``failed``.
        frames: frames rendered (0 when skipped or failed).
        seconds: wall time of the render.
        message: the error of a failed episode.
    """

    input: str
    output: str
    status: str
    frames: int = 0
    seconds: float = 0.0
    device: str = ""
    message: str = ""


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``.

    Raises:
        OptionError: not of that form.

    >>> parse_shard("1/3")
    (1, 3)
    """
    index, sep, count = str(text).partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        shard = (-1, 0)
    if not sep or not 0 <= shard[0] < shard[1]:
        raise OptionError(f"--shard must be I/N with 0 <= I < N (e.g. 0/4), got {text!r}")
    return shard


def _expand(path: Path) -> list[Path]:
    """A video or an image folder is one episode; a folder of videos is one per video."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    videos = [p for p in files if p.suffix.lower() in VIDEO_EXTENSIONS
              and ".colorized" not in p.name]
    if videos:
        return videos
    if any(p.suffix.lower() in IMAGE_EXTENSIONS for p in files):
        return [path]
    raise InputError(f"{path}: neither videos ({', '.join(VIDEO_EXTENSIONS[:4])}, ...) nor "
                     "images in this folder")


def plan(inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str] | None,
         shard: tuple[int, int] | None = None) -> list[Episode]:
    """The episodes of a render command, in order.

    Args:
        inputs: videos, image folders, folders of videos.
        output: with one episode, the output path (or None: beside it); with several, an
            output folder (or None: each output beside its input).
        shard: ``(I, N)``: keep the I-th of N shares (episodes sorted by absolute path).

    Raises:
        InputError: an input does not exist or a folder holds nothing to render.
    """
    from vidcolor.inference.render import default_output

    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        paths += _expand(path)
    unique: dict[str, Path] = {}
    for path in paths:
        unique.setdefault(str(path.resolve()), path)
    paths = list(unique.values())
    if shard is not None:
        index, count = shard
        ordered = sorted(paths, key=lambda p: str(p.resolve()))
        paths = ordered[index::count]
    if output is None:
        return [Episode(path, None) for path in paths]
    out = Path(output)
    if len(paths) == 1 and not (len(inputs) > 1 or shard is not None or out.is_dir()):
        return [Episode(paths[0], out)]
    return [Episode(path, out / default_output(path).name) for path in paths]


def record_path(output: Path) -> Path:
    """The record beside an output saying what made it (``<output>.vidcolor.json``)."""
    return output.with_name(output.name + ".vidcolor.json")


def _device_options(options: RenderOptions, device: str, devices: int) -> RenderOptions:
    from dataclasses import replace

    workers = options.workers
    if workers is None:  # share the cores between the device workers
        workers = max(0, (os.cpu_count() or 2) // devices - 1)
    return replace(options, device=device, workers=workers)


def render_batch(episodes: Sequence[Episode], models: Sequence[str | os.PathLike[str]] | None,
                 options: RenderOptions, *, devices: Sequence[str] = (),
                 keep_going: bool = True, side_by_side: bool = False,
                 runs_dir: str | os.PathLike[str] = "runs", progress: bool = False
                 ) -> list[EpisodeResult]:
    """Render every episode; return what became of each, in the episodes' order.

    Args:
        episodes: from :func:`plan`.
        models: run folders or checkpoints (None: every run under ``runs_dir``).
        options: the render options.
        devices: with two or more, one worker process per device takes episodes from a shared
            queue (each with its own models); else everything runs here on ``options.device``.
        keep_going: after a failed episode, render the others (else stop at the first).
        side_by_side: write review videos.
        runs_dir: where to look for runs.
        progress: show progress bars (single process only).

    Raises:
        CheckpointError, DeviceError: the models cannot be loaded (nothing can be rendered).
        VidcolorError: the first failure when ``keep_going`` is off.
    """
    if len(devices) > 1:
        return _render_on_devices(episodes, models, options, list(devices), keep_going,
                                  side_by_side, runs_dir)
    if devices:
        options = _device_options(options, devices[0], 1) if options.device == "auto" \
            else options
    from vidcolor.inference.render import Renderer

    renderer = Renderer.from_runs(models, options, runs_dir)
    results = []
    with renderer:
        for episode in episodes:
            result = _render_one(renderer, episode, side_by_side, progress, options.device)
            results.append(result)
            if result.status == "failed" and not keep_going:
                raise VidcolorError(result.message)
    return results


def _render_one(renderer: Any, episode: Episode, side_by_side: bool, progress: bool,
                device: str) -> EpisodeResult:
    from vidcolor.inference.render import default_output

    output = episode.output or default_output(episode.input)
    started = time.perf_counter()
    try:
        key = renderer.key_for(episode.input, side_by_side)
        record = record_path(output)
        if output.exists() and record.is_file() and \
                json.loads(record.read_text()).get("key") == key:
            done = json.loads(record.read_text())
            log.info("%s: already rendered with these models and options; skipped", output)
            return EpisodeResult(str(episode.input), str(output), "skipped",
                                 int(done.get("frames", 0)), 0.0, device)
        renderer.render(episode.input, output, side_by_side=side_by_side, progress=progress)
    except VidcolorError as exc:
        log.error("%s: %s", episode.input, exc)
        return EpisodeResult(str(episode.input), str(output), "failed", device=device,
                             message=str(exc))
    return EpisodeResult(str(episode.input), str(output), "done", renderer.last_frames,
                         round(time.perf_counter() - started, 3), device)


def _device_worker(device: str, models: list[str] | None, options: RenderOptions,
                   side_by_side: bool, runs_dir: str, tasks: Any, results: Any) -> None:
    """One device's worker process: load the models, render queued episodes until None."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    try:
        from vidcolor.inference.render import Renderer

        renderer = Renderer.from_runs(models, options, runs_dir)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a failure
        results.put(("fatal", device, f"{device}: {exc}"))
        return
    with renderer:
        while True:
            task = tasks.get()
            if task is None:
                break
            index, episode = task
            try:
                result = _render_one(renderer, episode, side_by_side, False, device)
            except Exception:  # noqa: BLE001 - a bug must not lose the other episodes
                result = EpisodeResult(str(episode.input), str(episode.output), "failed",
                                       device=device, message=traceback.format_exc(limit=2))
            results.put(("result", index, result))


def _render_on_devices(episodes: Sequence[Episode], models: Sequence[Any] | None,
                       options: RenderOptions, devices: list[str], keep_going: bool,
                       side_by_side: bool, runs_dir: str | os.PathLike[str]
                       ) -> list[EpisodeResult]:
    context = multiprocessing.get_context("spawn")
    tasks, results = context.Queue(), context.Queue()
    for index, episode in enumerate(episodes):
        tasks.put((index, episode))
    for _ in devices:
        tasks.put(None)
    model_list = None if not models else [str(m) for m in models]
    workers = [context.Process(target=_device_worker, name=f"vidcolor-{device}",
                               args=(device, model_list,
                                     _device_options(options, device, len(devices)),
                                     side_by_side, str(runs_dir), tasks, results))
               for device in devices]
    for worker in workers:
        worker.start()
    outcome: dict[int, EpisodeResult] = {}
    fatal: list[str] = []
    try:
        while len(outcome) < len(episodes) and len(fatal) < len(devices):
            kind, key, value = results.get()
            if kind == "fatal":
                fatal.append(value)
                continue
            outcome[key] = value
            log.info("%s: %s on %s (%d frames, %.1f s)", value.input, value.status,
                     value.device, value.frames, value.seconds)
            if value.status == "failed" and not keep_going:
                raise VidcolorError(value.message)
        if len(fatal) == len(devices):
            raise VidcolorError(f"no device could load the models: {'; '.join(fatal)}")
    finally:
        for worker in workers:
            if worker.is_alive() and len(outcome) < len(episodes):
                worker.terminate()
            worker.join()
    return [outcome.get(i, EpisodeResult(str(e.input), str(e.output or ""), "failed",
                                         message="not rendered (its device failed)"))
            for i, e in enumerate(episodes)]


def write_season(results: Sequence[EpisodeResult], folder: Path) -> Path:
    """``season.json`` in ``folder``: every episode's outcome, and the totals."""
    done = [r for r in results if r.status == "done"]
    frames, seconds = sum(r.frames for r in done), sum(r.seconds for r in done)
    path = folder / "season.json"
    write_json_atomic(path, {
        "episodes": [asdict(r) for r in results],
        "done": len(done), "skipped": sum(r.status == "skipped" for r in results),
        "failed": sum(r.status == "failed" for r in results),
        "frames": frames, "seconds": round(seconds, 3),
        "frames_per_second": round(frames / seconds, 2) if seconds else None})
    return path


def format_season(results: Sequence[EpisodeResult]) -> str:
    """A table of the episodes (frames, time, fps, status) and the summary line."""
    lines = [f"{'episode':40s} {'status':8s} {'frames':>7s} {'seconds':>8s} {'fps':>6s}"]
    for r in results:
        fps = f"{r.frames / r.seconds:.1f}" if r.status == "done" and r.seconds else ""
        name = Path(r.input).name
        lines.append(f"{name[:40]:40s} {r.status:8s} {r.frames:7d} {r.seconds:8.1f} {fps:>6s}")
        if r.status == "failed":
            lines.append(f"    {r.message.strip().splitlines()[-1] if r.message else ''}")
    counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed")}
    lines.append(f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed")
    return "\n".join(lines)
