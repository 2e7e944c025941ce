"""Colourising a video, an image or a folder of images with trained models (SPEC §4, §7).

The stage streams: frames are decoded, batched, colourised on the GPU (or CPU), refined and
written one batch at a time, so memory stays bounded however long the video is. Refinement
(segmentation + flood fill) runs in worker processes while the network works on the next
batch; the segmentation depends only on L, so it is computed once per frame and shared by the
models of an ensemble.

The output keeps the source's resolution, frame count, frame rate and timestamps and carries its
audio over; each frame's L is the source's own full-resolution L. Outputs appear under their
final name only when complete (videos via :class:`vidcolor.video.VideoWriter`, images one by
one through :func:`vidcolor.fsutil.atomic_path`).

torch is imported lazily so that worker processes (which import :mod:`vidcolor.refine` only)
start fast.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidcolor import progress as progress_mod
from vidcolor.ensemble import ENSEMBLE_METHODS, mean_ab
from vidcolor.errors import InputError, OutputError
from vidcolor.fsutil import atomic_path, ensure_writable_dir
from vidcolor.refine import REFINE_METHODS, refine_and_combine

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_OUTPUT_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".m4v")
#: A frame counts as colour when more than this fraction of pixels has an RGB spread > 12 levels.
_COLOUR_FRACTION = 0.005


@dataclass
class _Item:
    """One frame on its way through the pipeline."""

    key: int | str  # frame index (video) or file name (images)
    pts: int | None
    rgb: np.ndarray
    luminance: np.ndarray | None = None


def _input_kind(path: Path) -> str:
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        return "folder"
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return "image"
    return "video"


def _folder_images(folder: Path) -> list[Path]:
    images = sorted(p for p in folder.iterdir()
                    if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        raise InputError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
    return images


def _read_image(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"{path}: not a readable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _is_colour(rgb: np.ndarray) -> bool:
    """True when a frame has visible chroma (a grey video decodes to R ≈ G ≈ B)."""
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 65536)))
    sample = rgb[::step, ::step].astype(np.int16)
    spread = sample.max(axis=2) - sample.min(axis=2)
    return float((spread > 12).mean()) > _COLOUR_FRACTION


def default_output(input_path: str | os.PathLike[str]) -> Path:
    """``<stem>.colorized.<ext>`` next to the input (a folder: ``<name>.colorized``).

    A video whose container cannot hold H.264 (e.g. .webm) gets ``.mkv``.
    """
    path = Path(input_path)
    if path.is_dir():
        return path.with_name(f"{path.name}.colorized")
    ext = path.suffix
    if path.suffix.lower() not in IMAGE_EXTENSIONS + VIDEO_OUTPUT_EXTENSIONS:
        ext = ".mkv"
    return path.with_name(f"{path.stem}.colorized{ext}")


def _check_output(input_path: Path, output: Path, kind: str) -> None:
    def same(a: Path, b: Path) -> bool:
        with contextlib.suppress(OSError):
            if a.exists() and b.exists() and os.path.samefile(a, b):
                return True
        return a.resolve() == b.resolve()

    if same(input_path, output):
        raise OutputError(f"{output}: the output would overwrite the input; choose another -o")
    if kind == "folder":
        if output.exists() and not output.is_dir():
            raise OutputError(f"{output}: exists and is not a folder (images go into a folder)")
        parent = output.parent if str(output.parent) else Path(".")
        if not parent.is_dir():
            raise OutputError(f"{output}: output folder {parent} does not exist")
        return
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{output}: output folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{output}: output folder {parent} is not writable")
    if output.is_dir():
        raise OutputError(f"{output}: is a folder; give a file name for the output")
    if kind == "video" and output.suffix.lower() not in VIDEO_OUTPUT_EXTENSIONS:
        raise OutputError(f"{output}: cannot write H.264 video as {output.suffix or 'no'} file; "
                          f"use one of {', '.join(VIDEO_OUTPUT_EXTENSIONS)}")
    if kind == "image" and output.suffix.lower() not in IMAGE_EXTENSIONS:
        raise OutputError(f"{output}: not an image file name; use one of "
                          f"{', '.join(IMAGE_EXTENSIONS)}")


def _source_items(path: Path, kind: str) -> Iterator[_Item]:
    if kind == "video":
        from vidcolor.video import iter_frames

        for frame in iter_frames(path):
            yield _Item(key=frame.index, pts=frame.pts, rgb=frame.rgb)
    else:
        for image in ([path] if kind == "image" else _folder_images(path)):
            yield _Item(key=image.name, pts=None, rgb=_read_image(image))


def _batches(items: Iterator[_Item], size: int) -> Iterator[list[_Item]]:
    batch: list[_Item] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _validate(refine: str, ensemble: str | None, size: int, batch_size: int) -> None:
    if refine not in REFINE_METHODS:
        raise InputError(f"unknown --refine {refine!r}; choose one of {', '.join(REFINE_METHODS)}")
    if ensemble is not None and ensemble not in ENSEMBLE_METHODS:
        raise InputError(f"unknown --ensemble {ensemble!r}; choose one of "
                         f"{', '.join(ENSEMBLE_METHODS)}")
    if size < 8 or size % 8:
        raise InputError(f"--size must be a positive multiple of 8, got {size}")
    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {batch_size}")


def _worker_init() -> None:
    cv2.setNumThreads(1)


class _Sink:
    """Where finished frames go: a video writer, one image file, or a folder of images."""

    def __init__(self, kind: str, output: Path, input_path: Path, width_factor: int) -> None:
        self.kind, self.output, self.input_path = kind, output, input_path
        self.width_factor = width_factor
        self._writer: Any = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> _Sink:
        if self.kind == "video":
            from vidcolor.video import VideoWriter, probe

            info = probe(self.input_path)
            self._writer = self._stack.enter_context(VideoWriter(
                self.output, info.frame_rate, info.width * self.width_factor, info.height,
                time_base=info.time_base, audio_from=self.input_path))
        elif self.kind == "folder":
            ensure_writable_dir(self.output)
        return self

    def write(self, item: _Item, rgb: np.ndarray) -> None:
        if self.kind == "video":
            self._writer.write(rgb, pts=item.pts)
            return
        target = self.output if self.kind == "image" else self.output / str(item.key)
        with atomic_path(target) as tmp:
            if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
                raise OutputError(f"{target}: cannot write this image")

    def __exit__(self, *exc: Any) -> None:
        self._stack.__exit__(*exc)


def render(input_path: str | os.PathLike[str], models: Sequence[str | os.PathLike[str]] | None
           = None, output: str | os.PathLike[str] | None = None, *, refine: str = "none",
           ensemble: str | None = None, decode: str = "expectation", size: int = 224,
           batch_size: int = 8, device: str = "auto", side_by_side: bool = False,
           truth: str | os.PathLike[str] | None = None, workers: int | None = None,
           progress: bool = False, runs_dir: str | os.PathLike[str] = "runs",
           loaded_models: Sequence[Any] | None = None) -> Path:
    """Colourise a video, an image or a folder of images.

    Args:
        input_path: a video, one image, or a folder of images. Colour input is accepted: only
            its luminance is used (a warning says so).
        models: run directories (their latest checkpoint) or checkpoint files; None means every
            trained run under ``runs_dir``.
        output: output video/image/folder; None means ``<stem>.colorized.<ext>`` beside the input.
        refine: ``"none"``, ``"regiongrow"`` or ``"felzenszwalb"`` (segmentation + fill).
        ensemble: None (first model only when several), ``"mean"`` (average the refined ab) or
            ``"histogram"`` (average the distributions before decoding; same gamut needed).
        decode: ``expectation``, ``mode``, ``annealed`` or ``annealed:T``.
        size: the network's input size (square, multiple of 8).
        batch_size: frames per network batch.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        side_by_side: write the grey input, the result (and ``truth``) next to each other.
        truth: ground-truth video/image/folder, shown as a third panel (implies side_by_side).
        workers: refinement worker processes (None: CPU count - 1, at least 1; 0: inline).
        progress: show a progress bar.
        runs_dir: where to look for runs when ``models`` is None.
        loaded_models: already loaded :class:`vidcolor.infer.ColorModel` objects to use instead
            of ``models`` (library use and tests).

    Returns:
        The output path.

    Raises:
        InputError: missing/unreadable input or bad option values.
        OutputError: the output folder is missing or unwritable, or it would overwrite the input.
        CheckpointError: a model is not a vidcolor checkpoint, or gamuts differ under
            ``ensemble="histogram"``.
        DeviceError: the device is not available.
    """
    import torch

    from vidcolor import infer
    from vidcolor.checkpoint import resolve_device
    from vidcolor.quantize import parse_decode

    input_path = Path(input_path)
    _validate(refine, ensemble, size, batch_size)
    try:
        decode_method, temperature = parse_decode(decode)
    except ValueError as exc:
        raise InputError(f"--decode: {exc}") from None
    kind = _input_kind(input_path)
    output = Path(output) if output is not None else default_output(input_path)
    _check_output(input_path, output, kind)
    if kind == "video":
        from vidcolor.video import probe

        info = probe(input_path)
        total: int | None = info.frame_count
    else:
        total = 1 if kind == "image" else len(_folder_images(input_path))
    truth_path = Path(truth) if truth is not None else None
    truth_kind = ""
    if truth_path is not None:
        side_by_side = True
        truth_kind = _input_kind(truth_path)
        if (truth_kind == "video") != (kind == "video"):
            raise InputError(f"{truth_path}: the ground truth must be the same kind of input "
                             f"as {input_path} ({kind})")

    dev = resolve_device(device)
    if loaded_models is not None:
        color_models = list(loaded_models)
    else:
        if not models:
            models = infer.find_runs(runs_dir)
            if not models:
                raise InputError(f"no trained model under {Path(runs_dir)}; train one with "
                                 "`vidcolor train` or pass -m RUN_OR_CHECKPOINT")
            log.info("models: %s", ", ".join(str(m) for m in models))
        color_models = infer.load_models(models, dev)
    if not color_models:
        raise InputError("no model to colourise with")
    if len(color_models) > 1 and ensemble is None:
        log.warning("%d models given; using %s only (pass --ensemble to combine them)",
                    len(color_models), color_models[0].name)
        color_models = color_models[:1]
    if ensemble == "histogram":
        from vidcolor.ensemble import check_histogram_ensemble

        check_histogram_ensemble([m.name for m in color_models], [m.head for m in color_models],
                                 [None if m.bins is None else m.bins.cpu().numpy()
                                  for m in color_models])
    panels = 1 + int(side_by_side) + int(truth_path is not None)

    if workers is None:
        workers = max(1, (os.cpu_count() or 2) - 1)
    pool: ProcessPoolExecutor | None = None
    torch_threads = torch.get_num_threads()
    if refine != "none" and workers > 0:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init)
        if dev.type == "cpu":
            # Leave the workers their cores: oversubscribed OpenMP threads spin and the whole
            # render gets several times slower on small machines.
            torch.set_num_threads(max(1, min(torch_threads, (os.cpu_count() or 2) - workers)))
    truth_items = _source_items(truth_path, truth_kind) if truth_path is not None else None
    warned_colour = False
    pending: collections.deque[tuple[_Item, Future[np.ndarray] | np.ndarray]] = \
        collections.deque()
    max_pending = 2 * max(workers, 1) + batch_size

    def finish(sink: _Sink, bar: Any, limit: int) -> None:
        while len(pending) > limit:
            item, job = pending.popleft()
            ab = job.result() if isinstance(job, Future) else job
            rgb = infer.lab_to_rgb_uint8(item.luminance, ab, dev)
            if side_by_side:
                rgb = _compose(item, rgb, truth_items, infer, dev)
            sink.write(item, rgb)
            bar.update(1)

    written = 0
    try:
        with _Sink(kind, output, input_path, panels) as sink, \
                progress_mod.bar(total=total, desc="render", unit="frame",
                                 enabled=progress) as bar:
            for batch in _batches(_source_items(input_path, kind), batch_size):
                if not warned_colour and _is_colour(batch[0].rgb):
                    log.warning("%s: colour input; only its luminance is used",
                                input_path)
                    warned_colour = True
                lums = infer.luminance_of([item.rgb for item in batch], dev)
                for item, lum in zip(batch, lums, strict=True):
                    item.luminance = lum
                with torch.inference_mode():
                    abs_per_frame = infer.colorize_batch(
                        color_models, lums, size=size, decode=decode_method,
                        temperature=temperature, ensemble=ensemble)
                for item, abs_ in zip(batch, abs_per_frame, strict=True):
                    if refine == "none":
                        pending.append((item, mean_ab(abs_)))
                    elif pool is not None:
                        pending.append((item, pool.submit(refine_and_combine, item.luminance,
                                                          abs_, refine)))
                    else:
                        pending.append((item, refine_and_combine(item.luminance, abs_, refine)))
                    written += 1
                finish(sink, bar, max_pending)
            finish(sink, bar, 0)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(torch_threads)
    log.info("%s: %d frames written", output, written)
    return output


def _compose(item: _Item, result: np.ndarray, truth_items: Iterator[_Item] | None,
             infer: Any, device: Any) -> np.ndarray:
    """The review frame: grey input | result [| ground truth]."""
    panels = [infer.lab_to_rgb_uint8(item.luminance, None, device), result]
    if truth_items is not None:
        truth = next(truth_items, None)
        if truth is None:
            raise InputError(f"the ground truth has fewer frames than the input (ends before "
                             f"frame {item.key})")
        rgb = truth.rgb
        if rgb.shape != result.shape:
            rgb = cv2.resize(rgb, (result.shape[1], result.shape[0]),
                             interpolation=cv2.INTER_AREA)
        panels.append(rgb)
    return np.concatenate(panels, axis=1)

