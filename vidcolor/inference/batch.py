"""A whole season in one command: many inputs, one or several devices, or one shard of many.

:func:`plan` turns the command's inputs into episodes: each video is one, a folder of images is
one, a season folder gives one per video and per folder of images in it; ``--shard I/N`` keeps
a deterministic 1/N of them (the episodes sorted by their absolute path, every N-th from I — the
same share whatever the order of the arguments, so a SLURM job array or a Kubernetes Indexed Job
splits a season with no coordination). :func:`render_batch` renders them with the models loaded
once — in this process (the default), or in one worker process per device (``--devices
cuda:0,cuda:1``), each taking the next episode from a shared queue. An episode whose output
already carries a record of the same models and options (``<output>.vidcolor.json``), and is
still the output that record describes (:func:`finished_record`), is skipped;
an interrupted one continues (:mod:`vidcolor.inference.sinks`); a failing one is reported and
the rest go on. The outcome of every episode is returned; the CLI prints it
(:func:`format_season`) and writes it into the output folder (:func:`write_season`:
``season.json``, or ``season-I-of-N.json`` for a shard), where ``vidcolor evaluate --season``
reads it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vidcolor.devices import parse_device
from vidcolor.errors import InputError, OptionError, OutputError, VidcolorError
from vidcolor.fsutil import ensure_writable_dir, write_json_atomic
from vidcolor.inference.options import RenderOptions
from vidcolor.inference.pipeline import available_cpus
from vidcolor.inference.records import (  # noqa: F401 - re-exported
    FINGERPRINT_BYTES,
    finished_record,
    output_fingerprint,
    record_path,
)
from vidcolor.inference.sources import IMAGE_EXTENSIONS

log = logging.getLogger(__name__)

#: Files taken as videos when a folder of videos is given.
VIDEO_EXTENSIONS = (".mkv", ".mp4", ".avi", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".ts",
                    ".m2ts", ".vob", ".wmv", ".flv", ".ogv")


@dataclass
class Episode:
    """One input to render and where its output goes."""

    input: Path
    output: Path | None  # None: beside the input (the default name); plan() always sets it


@dataclass
class EpisodeResult:
    """What became of one episode.

    Attributes:
        status: ``done``, ``skipped`` (already rendered with the same models and options) or
            ``failed``.
        frames: frames rendered (skipped: those of the render that made the output, from its
            record; failed: 0).
        seconds: wall time of the render (skipped: that of the render that made the output).
        device: where it ran (``cpu``, ``cuda:0``; empty when its worker died first).
        message: the error of a failed episode.
    """

    input: str
    output: str
    status: str
    frames: int = 0
    seconds: float = 0.0
    device: str = ""
    message: str = ""


#: The most shares ``--shard`` splits a season into (more would be shards of no episode).
MAX_SHARDS = 100_000


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
    if not sep or not 0 <= shard[0] < shard[1] <= MAX_SHARDS:
        raise OptionError(f"--shard must be I/N with 0 <= I < N <= {MAX_SHARDS} (e.g. 0/4), "
                          f"got {str(text)[:40]!r}")
    return shard


def _expand(path: Path) -> list[Path]:
    """The episodes of one input: a video or an image folder is one; a season folder (videos
    and/or sub-folders of images; not recursive) gives one per video and per image sub-folder.
    Outputs of earlier renders (``*.colorized*``) and hidden entries are left out."""
    if not path.is_dir():
        return [path]
    entries = sorted(p for p in path.iterdir()
                     if not p.name.startswith(".") and ".colorized" not in p.name)
    videos = [p for p in entries if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS]
    if any(p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS for p in entries) and not videos:
        return [path]  # a folder of images: one episode
    folders = [p for p in entries if p.is_dir() and _holds_images(p)]
    if videos or folders:
        return sorted(videos + folders)
    raise InputError(f"{path}: neither videos ({', '.join(VIDEO_EXTENSIONS[:4])}, ...), nor "
                     "images, nor folders of images in this folder")


def _holds_images(folder: Path) -> bool:
    try:
        return any(p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                   for p in folder.iterdir())
    except OSError:
        return False


def is_batch(inputs: Sequence[str | os.PathLike[str]], shard: tuple[int, int] | None = None
             ) -> bool:
    """Whether a render command's ``-o`` names an output folder rather than one output: several
    inputs, a shard, or a season folder (a folder of videos or of image folders).

    Raises:
        InputError: an input does not exist or a folder holds nothing to render.
    """
    from vidcolor.inference.outputs import check_name_length

    for item in inputs:
        check_name_length(Path(item), error=InputError)
    if len(inputs) != 1 or shard is not None:
        return True
    path = Path(inputs[0])
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    return _expand(path) != [path]


def plan(inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str] | None,
         shard: tuple[int, int] | None = None) -> list[Episode]:
    """The episodes of a render command, in order, each with its output path.

    Args:
        inputs: videos, image folders, season folders (videos and/or image folders).
        output: for a single input (:func:`is_batch` false), its output path — for a folder
            of images the output folder; a video or image given an existing folder goes into
            it under the default name. For a batch, the output folder: each episode's output
            is ``<folder>/<default name>`` (``ep01.colorized.mkv``). None: each output beside
            its input (:func:`~vidcolor.inference.outputs.default_output`).
        shard: ``(I, N)``: keep the I-th of N shares: the episodes sorted by their input's
            absolute path, every N-th from I — the same share whatever the order or the
            spelling of the arguments.

    Raises:
        InputError: an input does not exist or a folder holds nothing to render.
        OutputError: two episodes would write the same output (same names in two folders),
            or an episode's output is another input of the command.
    """
    from vidcolor.inference.outputs import (
        check_name_length,
        check_output_folder,
        check_replaceable,
        default_output,
    )

    batch = is_batch(inputs, shard)
    if batch and output is not None:  # before any work: the folder and its season file
        check_output_folder(Path(output))
        check_replaceable(Path(output) / season_name(shard), "the season file")
    elif output is not None:
        check_name_length(Path(output))
    unique: dict[str, Path] = {}
    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        for episode in _expand(path):
            unique.setdefault(str(episode.resolve()), episode)
    paths = list(unique.values())
    out = None if output is None else Path(output)
    if out is None:
        outputs = [default_output(path) for path in paths]
    elif not batch and (paths[0].is_dir() or not out.is_dir()):
        outputs = [out]
    else:
        outputs = [out / default_output(path).name for path in paths]
    writers: dict[str, Path] = {}
    for path, target in zip(paths, outputs, strict=True):
        other = writers.setdefault(str(target.resolve()), path)
        if other is not path:
            raise OutputError(f"{target}: both {other} and {path} would be rendered to it; "
                              "rename one or render them into separate folders")
        if str(target.resolve()) in unique:  # e.g. `render a.mkv a.colorized.mkv`
            raise OutputError(f"{target}: rendering {path} would overwrite {target}, an input "
                              "of this command; render them into another folder (-o)")
    episodes = [Episode(path, target) for path, target in zip(paths, outputs, strict=True)]
    if shard is not None:
        index, count = shard
        episodes = sorted(episodes, key=lambda e: str(e.input.resolve()))[index::count]
    return episodes


#: The least memory of one ``--devices`` worker process (an interpreter with torch and the
#: models loaded).
DEVICE_WORKER_BYTES = 512 << 20


def parse_devices(text: str) -> list[str]:
    """``--devices``: ``cuda:0,cuda:1`` (or ``cpu,cpu``) -> the list; ``all`` -> every GPU.

    Each device is checked here, in the calling process, so that a missing GPU is one clear
    line before any worker starts.

    Raises:
        OptionError: a malformed list, ``all`` without CUDA, or a device that does not exist.

    >>> parse_devices("cpu, cpu")
    ['cpu', 'cpu']
    """
    from vidcolor.errors import DeviceError

    if text.strip() == "all":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not count:
            raise OptionError("--devices all: no CUDA device is visible (without --devices "
                              "the render runs in this process, on the CPU)")
        return [f"cuda:{index}" for index in range(count)]
    devices = [item.strip() for item in text.split(",") if item.strip()]
    if not devices:
        raise OptionError(f"--devices needs a list such as cuda:0,cuda:1 or 'all', got "
                          f"{text[:40]!r}")
    from vidcolor.inference.options import machine_memory

    if len(devices) * DEVICE_WORKER_BYTES > machine_memory():
        raise OptionError(f"--devices lists {len(devices)} devices: one worker process each "
                          f"(models loaded, about {DEVICE_WORKER_BYTES >> 20} MiB) does not "
                          "fit in this machine's memory; list fewer")
    for item in devices:
        parse_device(item, "--devices: each device", auto=False)
    if any(item != "cpu" for item in devices):
        from vidcolor.devices import resolve_device

        for item in devices:
            try:
                resolve_device(item)
            except DeviceError as exc:
                raise OptionError(f"--devices: {exc}") from None
    return devices


def _device_options(options: RenderOptions, device: str, devices: int) -> RenderOptions:
    """The options of one of ``devices`` worker processes.

    A GPU worker gets (unless ``--workers`` says) its share of the cores for the per-frame
    worker processes. A CPU worker keeps the options as they are: with the parent's torch
    thread count (:func:`_device_worker`) it then sets the very thread count the single-process
    path sets (:meth:`Renderer.__enter__ <vidcolor.inference.render.Renderer.__enter__>` leaves
    the pool's cores to the pool), so it computes the same frames. CPU "devices" stand in for
    GPUs in tests; several of them only contend for the same cores.
    """
    from dataclasses import replace

    workers = options.workers
    if workers is None and device != "cpu":  # share the cores between the device workers
        workers = max(0, available_cpus() // devices - 1)
    return replace(options, device=device, workers=workers)


def render_batch(episodes: Sequence[Episode], models: Sequence[str | os.PathLike[str]] | None,
                 options: RenderOptions, *, devices: Sequence[str] = (),
                 keep_going: bool = True, side_by_side: bool = False,
                 skip_errors: bool = False, runs_dir: str | os.PathLike[str] = "runs",
                 progress: bool = False) -> list[EpisodeResult]:
    """Render every episode; return what became of each, in the episodes' order.

    Args:
        episodes: from :func:`plan` (their output folders are created).
        models: run folders or checkpoints (None: every run under ``runs_dir``).
        options: the render options.
        devices: with two or more, one worker process per device takes episodes from a shared
            queue (each with its own models, and this process's torch thread count so that
            CPU results equal a single-process render's); with one, it replaces
            ``options.device``; empty: everything runs here on ``options.device`` (the CPU
            unless CUDA is there).
        keep_going: after a failed episode, render the others; else stop at the first failure:
            the result list then holds the episodes finished by then, the failure among them
            (on several devices the episodes still running are stopped, resumable).
        side_by_side: write review videos.
        skip_errors: render the readable frames of a damaged video instead of failing it.
        runs_dir: where to look for runs.
        progress: show progress bars (single process only).

    Returns:
        One :class:`EpisodeResult` per episode (per episode finished, after a stop).

    Raises:
        InputError, CheckpointError, DeviceError: the models cannot be loaded (nothing can be
            rendered); on several devices, a :class:`VidcolorError` naming each device's error.
    """
    for folder in {episode.output.parent for episode in episodes if episode.output}:
        ensure_writable_dir(folder)  # the output folder of a batch
    if len(devices) > 1:
        return _render_on_devices(episodes, models, options, list(devices), keep_going,
                                  side_by_side, skip_errors, runs_dir)
    if devices:
        from dataclasses import replace

        options = replace(options, device=devices[0])
    from vidcolor.inference.render import Renderer

    renderer = Renderer.from_runs(models, options, runs_dir)
    results = []
    with renderer:
        for episode in episodes:
            result = _render_one(renderer, episode, side_by_side, skip_errors, progress)
            results.append(result)
            if result.status == "failed" and not keep_going:
                break
    return results


def _render_one(renderer: Any, episode: Episode, side_by_side: bool, skip_errors: bool,
                progress: bool) -> EpisodeResult:
    """Render one episode, or skip it when its record says it is already done; a failure is
    returned, not raised (the other episodes go on)."""
    from vidcolor.inference.outputs import default_output

    output = episode.output or default_output(episode.input)
    device = str(renderer.colorizer.device)
    started = time.perf_counter()
    try:
        done = finished_record(output, renderer.key_for(episode.input, side_by_side))
        if done is not None:
            log.info("%s: already rendered with these models and options; skipped", output)
            return EpisodeResult(str(episode.input), str(output), "skipped", done["frames"],
                                 done["seconds"], device)
        renderer.render(episode.input, output, side_by_side=side_by_side, progress=progress,
                        skip_errors=skip_errors)
    except Exception as exc:  # noqa: BLE001 - one bad episode must not lose the season
        message = str(exc) if isinstance(exc, VidcolorError) else \
            f"{type(exc).__name__}: {exc} (a bug? --debug shows where)"
        if str(episode.input) not in message:
            message = f"{episode.input}: {message}"
        log.error("%s", message)
        log.debug("%s failed", episode.input, exc_info=True)
        return EpisodeResult(str(episode.input), str(output), "failed", device=device,
                             message=message)
    return EpisodeResult(str(episode.input), str(output), "done", renderer.last_frames,
                         round(time.perf_counter() - started, 3), device)


def _device_worker(device: str, models: list[str] | None, options: RenderOptions,
                   side_by_side: bool, skip_errors: bool, runs_dir: str, threads: int,
                   log_level: int,
                   tasks: Any, results: Any) -> None:
    """One device's worker process: load the models, render queued episodes until None."""
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    # a spawned process has no logging set up: log as the parent does (-q, -v), to stderr
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(f"[{device}] %(message)s"))
    root = logging.getLogger("vidcolor")
    root.handlers[:] = [handler]
    root.setLevel(log_level)
    root.propagate = False
    # A spawned process starts with torch's default thread count; take the parent's, so a CPU
    # worker computes exactly what the single-process path computes.
    torch.set_num_threads(threads)
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
            results.put(("started", index, device))
            results.put(("result", index, _render_one(renderer, episode, side_by_side, skip_errors,
                                                         False)))


def _render_on_devices(episodes: Sequence[Episode], models: Sequence[Any] | None,
                       options: RenderOptions, devices: list[str], keep_going: bool,
                       side_by_side: bool, skip_errors: bool,
                       runs_dir: str | os.PathLike[str]) -> list[EpisodeResult]:
    import queue

    import torch

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
                                     side_by_side, skip_errors, str(runs_dir),
                                     torch.get_num_threads(),
                                     logging.getLogger("vidcolor").getEffectiveLevel(),
                                     tasks, results))
               for device in devices]
    for worker in workers:
        worker.start()
    outcome: dict[int, EpisodeResult] = {}
    running: dict[int, str] = {}  # episode -> device, started and not finished
    fatal: list[str] = []
    stopped = False
    try:
        while len(outcome) < len(episodes) and len(fatal) < len(devices) and not stopped:
            try:
                kind, key, value = results.get(timeout=1.0)
            except queue.Empty:
                if not any(worker.is_alive() for worker in workers):
                    break  # every worker is gone (killed?): what is left was not rendered
                continue
            if kind == "fatal":
                log.error("%s", value)
                fatal.append(value)
            elif kind == "started":
                running[key] = value
            else:
                running.pop(key, None)
                outcome[key] = value
                log.info("%s: %s on %s (%d frames, %.1f s)", value.input, value.status,
                         value.device, value.frames, value.seconds)
                stopped = value.status == "failed" and not keep_going
        if len(fatal) == len(devices):
            raise VidcolorError(f"no device could load the models: {'; '.join(fatal)}")
    finally:
        for worker in workers:
            if worker.is_alive() and (stopped or len(outcome) < len(episodes)):
                worker.terminate()
            worker.join()
    if stopped:
        return [outcome[i] for i in sorted(outcome)]
    lost = {index: f"{running[index]} stopped while rendering it" if index in running
            else "not rendered: every device worker stopped" for index in range(len(episodes))
            if index not in outcome}
    return [outcome.get(index) or EpisodeResult(
        str(episode.input), str(episode.output or ""), "failed", message=lost[index])
        for index, episode in enumerate(episodes)]


def season_name(shard: tuple[int, int] | None = None) -> str:
    """The season file of a run: ``season.json``, or ``season-I-of-N.json`` for a shard (the
    tasks of a job array share one output folder; each writes its own file)."""
    return "season.json" if shard is None else f"season-{shard[0]}-of-{shard[1]}.json"


def write_season(results: Sequence[EpisodeResult], folder: Path,
                 shard: tuple[int, int] | None = None) -> Path:
    """Write every episode's outcome and the totals into ``folder`` (:func:`season_name`).

    ``frames``/``seconds`` of the totals count the episodes rendered by this run; a skipped
    episode's own entry carries the frames and seconds of the render that made its output.
    """
    done = [r for r in results if r.status == "done"]
    frames, seconds = sum(r.frames for r in done), sum(r.seconds for r in done)
    path = folder / season_name(shard)
    write_json_atomic(path, {
        "episodes": [asdict(r) for r in results],
        "done": len(done), "skipped": sum(r.status == "skipped" for r in results),
        "failed": sum(r.status == "failed" for r in results),
        "frames": frames, "seconds": round(seconds, 3),
        "frames_per_second": round(frames / seconds, 2) if seconds else None,
        "shard": None if shard is None else f"{shard[0]}/{shard[1]}"})
    return path


def format_season(results: Sequence[EpisodeResult]) -> str:
    """A table of the episodes (status, frames, seconds, fps) and the summary line.

    A skipped episode shows the frames and seconds of the render that made its output.
    """
    lines = [f"{'episode':40s} {'status':8s} {'frames':>7s} {'seconds':>8s} {'fps':>6s}"]
    for r in results:
        fps = f"{r.frames / r.seconds:.1f}" if r.status != "failed" and r.seconds else ""
        name = Path(r.input).name
        lines.append(f"{name[:40]:40s} {r.status:8s} {r.frames:7d} {r.seconds:8.1f} {fps:>6s}")
        if r.status == "failed":
            lines.append(f"    {r.message.strip().splitlines()[-1] if r.message else ''}")
    counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed")}
    lines.append(f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed")
    return "\n".join(lines)
