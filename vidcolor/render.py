"""Colourising a video, an image or a folder of images with trained models (SPEC §4, §7).

The stage streams, in a pipeline with bounded queues, so memory stays bounded however long the
video is::

    decode + L (thread) -> batched network (main) -> upsample ab, refine, Lab->RGB
    (worker processes, bounded in flight) -> encode (main, in order)

The network's ab leaves the device at its own (1/4) resolution; the per-frame CPU work
(:func:`finish_frame`: bicubic upsampling, segmentation + fill, ensemble mean, Lab→RGB with
lightness-preserving desaturation) runs in worker processes while the network works on the next
batch. The segmentation depends only on L, so it is computed once per frame and shared by the
models of an ensemble. The colour maths is numpy + OpenCV (about 2 ms for L and 5-40 ms for
Lab→RGB at 704×528 on one core, instead of ~25 and ~50 ms with the torch CPU code).

The output keeps the source's resolution, frame count, frame rate and timestamps and carries its
audio over; each frame's L is the source's own full-resolution L. Outputs appear under their
final name only when complete (videos via :class:`vidcolor.video.VideoWriter`, images one by
one through :func:`vidcolor.fsutil.atomic_path`); an error or Ctrl-C leaves nothing behind.

torch is imported lazily so that worker processes (which need this module and
:mod:`vidcolor.refine` only) start fast.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidcolor import progress as progress_mod
from vidcolor.background import prefetch
from vidcolor.color import grey_rgb, lab_to_rgb_uint8, upsample_ab
from vidcolor.color import lightness as frame_luminance
from vidcolor.ensemble import ENSEMBLE_METHODS
from vidcolor.errors import InputError, OutputError, VidcolorError
from vidcolor.fsutil import atomic_path, ensure_writable_dir
from vidcolor.refine import REFINE_METHODS, refine_and_combine

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
#: Image formats that can hold an alpha channel: read with it, and written back with it.
_ALPHA_EXTENSIONS = (".png", ".tif", ".tiff", ".webp")
VIDEO_OUTPUT_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".m4v")
#: A frame counts as colour when more than this fraction of pixels has an RGB spread > 12 levels.
_COLOUR_FRACTION = 0.005


@dataclass
class _Item:
    """One frame on its way through the pipeline."""

    key: int | str  # frame index (video) or file name (images)
    pts: int | None
    rgb: np.ndarray | None
    luminance: np.ndarray | None = None
    alpha: np.ndarray | None = None  # an image's own alpha channel, put back on the output


def finish_frame(luminance: np.ndarray, abs_small: Sequence[np.ndarray], refine: str,
                 options: dict[str, Any] | None = None) -> np.ndarray:
    """One frame's CPU work after the network: upsample, refine + combine, Lab→RGB.

    This is the job the worker processes run (numpy/OpenCV only, no torch): each model's ab
    (at the network's output size, or already full size) is upsampled bicubically to the
    frame's size; with a refinement the segmentation of L is computed once and shared by all
    models; their ab are averaged and recombined with the frame's own L.

    Args:
        luminance: (H, W) full-resolution L (0-100).
        abs_small: (h, w, 2) ab of each model (one for a single model or a histogram ensemble).
        refine: ``"none"``, ``"regiongrow"`` or ``"felzenszwalb"``.
        options: keyword arguments of the segmentation (see :func:`vidcolor.refine.segment`).

    Returns:
        (H, W, 3) RGB uint8.
    """
    shape = (int(luminance.shape[0]), int(luminance.shape[1]))
    full = [upsample_ab(ab, shape) for ab in abs_small]
    ab = refine_and_combine(luminance, full, refine, **(options or {}))
    return lab_to_rgb_uint8(luminance, ab)


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


def _to_uint8(image: np.ndarray) -> np.ndarray | None:
    """8-bit version of a 16-bit or float image (None for other depths)."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return np.rint(image / 257.0).astype(np.uint8)
    if image.dtype in (np.float32, np.float64):
        return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    return None


def _read_image(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB uint8 (H, W, 3) of an image, and its alpha channel (uint8) when it has one.

    Formats that can carry alpha are read unchanged (grey, 16-bit and float images are
    converted to 8-bit RGB here); the others (JPEG: its EXIF orientation applied) as colour.
    """
    if path.suffix.lower() in _ALPHA_EXTENSIONS:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise InputError(f"{path}: not a readable image")
        eight_bit = _to_uint8(image)
        if eight_bit is not None and (eight_bit.ndim == 2 or eight_bit.shape[2] in (1, 3, 4)):
            if eight_bit.ndim == 2 or eight_bit.shape[2] == 1:
                return cv2.cvtColor(eight_bit, cv2.COLOR_GRAY2RGB), None
            if eight_bit.shape[2] == 4:
                return (cv2.cvtColor(eight_bit, cv2.COLOR_BGRA2RGB),
                        np.ascontiguousarray(eight_bit[..., 3]))
            return cv2.cvtColor(eight_bit, cv2.COLOR_BGR2RGB), None
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"{path}: not a readable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), None


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
    if path.name in ("", ".", ".."):  # "." or "..": name the folder itself
        path = path.resolve()
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
        where = output if output.is_dir() else parent
        if not os.access(where, os.W_OK | os.X_OK):
            raise OutputError(f"{output}: output folder {where} is not writable")
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


def _source_items(path: Path, kind: str) -> Generator[_Item, None, None]:
    if kind == "video":
        from vidcolor.video import iter_frames

        for frame in iter_frames(path, prefetch=0):  # the caller prefetches
            yield _Item(key=frame.index, pts=frame.pts, rgb=frame.rgb)
    else:
        for image in ([path] if kind == "image" else _folder_images(path)):
            rgb, alpha = _read_image(image)
            yield _Item(key=image.name, pts=None, rgb=rgb, alpha=alpha)


def _batches(items: Iterator[_Item], size: int) -> Iterator[list[_Item]]:
    batch: list[_Item] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _with_luminance(items: Iterator[_Item]) -> Iterator[_Item]:
    for item in items:
        assert item.rgb is not None
        item.luminance = frame_luminance(item.rgb)
        yield item


def _validate(refine: str, ensemble: str | None, size: int, batch_size: int,
              options: dict[str, Any]) -> None:
    if refine not in REFINE_METHODS:
        raise InputError(f"unknown --refine {refine!r}; choose one of {', '.join(REFINE_METHODS)}")
    if ensemble is not None and ensemble not in ENSEMBLE_METHODS:
        raise InputError(f"unknown --ensemble {ensemble!r}; choose one of "
                         f"{', '.join(ENSEMBLE_METHODS)}")
    if size < 8 or size % 8:
        raise InputError(f"--size must be a positive multiple of 8, got {size}")
    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {batch_size}")
    allowed = {"regiongrow": {"threshold", "min_distance", "max_iterations", "working_scale"},
               "felzenszwalb": {"scale", "sigma", "min_size", "working_scale"}}.get(refine, set())
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise InputError(f"segmentation option(s) {', '.join(unknown)} do not apply to "
                         f"--refine {refine}")
    working_scale = options.get("working_scale", 1.0)
    if not 0 < working_scale <= 1:
        raise InputError(f"--working-scale must be in (0, 1], got {working_scale}")


def _worker_init() -> None:
    # One thread per worker (the pool is the parallelism); Ctrl-C is the parent's to handle:
    # it cancels the pool, so the workers ignore SIGINT instead of each printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)


class _Sink:
    """Where finished frames go: a video writer, one image file, or a folder of images.

    A folder's images are staged in a hidden ``.part`` folder and moved into place only when
    every image is written, so an error or Ctrl-C leaves the output folder as it was.
    """

    def __init__(self, kind: str, output: Path, input_path: Path, width_factor: int) -> None:
        self.kind, self.output, self.input_path = kind, output, input_path
        self.width_factor = width_factor
        self._writer: Any = None
        self._stack = contextlib.ExitStack()
        self._staging: Path | None = None

    def __enter__(self) -> _Sink:
        if self.kind == "video":
            from vidcolor.video import VideoWriter, probe

            info = probe(self.input_path)
            self._writer = self._stack.enter_context(VideoWriter(
                self.output, info.frame_rate, info.width * self.width_factor, info.height,
                time_base=info.time_base, audio_from=self.input_path, rotation=info.rotation))
        elif self.kind == "folder":
            # A new folder is staged beside it and renamed into place; an existing one gets a
            # staging folder inside it (same file system: the final moves are renames).
            where = self.output if self.output.is_dir() else self.output.parent
            ensure_writable_dir(where)
            try:
                self._staging = Path(tempfile.mkdtemp(prefix=f".{self.output.name}.",
                                                      suffix=".part", dir=where))
            except OSError as exc:
                raise OutputError(f"{self.output}: cannot write in {where} "
                                  f"({exc.strerror or exc})") from exc
        return self

    def write(self, item: _Item, rgb: np.ndarray) -> None:
        if self.kind == "video":
            self._writer.write(rgb, pts=item.pts)
            return
        if self.kind == "image":
            target = self.output
        else:
            assert self._staging is not None
            target = self._staging / str(item.key)
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if (item.alpha is not None and item.alpha.shape == rgb.shape[:2]
                and target.suffix.lower() in _ALPHA_EXTENSIONS):
            bgr = np.dstack([bgr, item.alpha])
        with atomic_path(target) as tmp:
            if not cv2.imwrite(str(tmp), bgr):
                raise OutputError(f"{target}: cannot write this image")

    def _publish(self) -> None:
        """Move the staged images into the output folder."""
        assert self._staging is not None
        if self._staging.parent != self.output:
            try:
                os.rename(self._staging, self.output)  # a new folder: all at once
                return
            except OSError:  # created meanwhile: move the images one by one
                ensure_writable_dir(self.output)
        for staged in sorted(self._staging.iterdir()):
            os.replace(staged, self.output / staged.name)
        self._staging.rmdir()

    def __exit__(self, *exc: Any) -> None:
        try:
            self._stack.__exit__(*exc)
            if self._staging is not None and exc[0] is None:
                self._publish()
        finally:
            if self._staging is not None and self._staging.exists():
                shutil.rmtree(self._staging, ignore_errors=True)


def render(input_path: str | os.PathLike[str], models: Sequence[str | os.PathLike[str]] | None
           = None, output: str | os.PathLike[str] | None = None, *, refine: str = "none",
           ensemble: str | None = None, decode: str = "expectation", size: int = 224,
           batch_size: int = 8, device: str = "auto", side_by_side: bool = False,
           truth: str | os.PathLike[str] | None = None, workers: int | None = None,
           progress: bool = False, runs_dir: str | os.PathLike[str] = "runs",
           loaded_models: Sequence[Any] | None = None,
           refine_options: dict[str, Any] | None = None) -> Path:
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
        workers: worker processes for the per-frame CPU work (ab upsampling, refinement, Lab→RGB).
            None: CPU count - 1 (at least 1) with a refinement; without one, CPU count - 1 on
            machines with more than 2 cores, else 0. 0: inline, in this process.
        progress: show a progress bar.
        runs_dir: where to look for runs when ``models`` is None.
        loaded_models: already loaded :class:`vidcolor.infer.ColorModel` objects to use instead
            of ``models`` (library use and tests).
        refine_options: segmentation options (:func:`vidcolor.refine.segment`), e.g.
            ``{"scale": 100, "sigma": 0.5, "min_size": 50}`` for Felzenszwalb or
            ``{"working_scale": 0.5}``.

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
    _validate(refine, ensemble, size, batch_size, dict(refine_options or {}))
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
        # Refinement: every core but the one running decode/network/encode. Without it the
        # per-frame colour maths is light (~10 ms): workers only pay off on larger machines.
        cpus = os.cpu_count() or 2
        workers = max(1, cpus - 1) if refine != "none" else (cpus - 1 if cpus > 2 else 0)
    pool: ProcessPoolExecutor | None = None
    torch_threads = torch.get_num_threads()
    if workers > 0:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init)
        if dev.type == "cpu":
            # Leave the workers their cores: oversubscribed OpenMP threads spin and the whole
            # render gets several times slower on small machines.
            torch.set_num_threads(max(1, min(torch_threads, (os.cpu_count() or 2) - workers)))
    options = dict(refine_options or {})
    truth_items: Generator[_Item, None, None] | None = None
    if truth_path is not None:
        truth_items = _source_items(truth_path, truth_kind)
    warned_colour = False
    pending: collections.deque[tuple[_Item, Future[np.ndarray] | np.ndarray]] = \
        collections.deque()
    # Bounded in flight: enough to keep every worker busy while the network runs a batch.
    max_pending = 2 * max(workers, 1) + batch_size

    def finish(sink: _Sink, bar: Any, limit: int) -> None:
        while len(pending) > limit:
            item, job = pending.popleft()
            rgb = job.result() if isinstance(job, Future) else job
            if side_by_side:
                rgb = _compose(item, rgb, truth_items)
            sink.write(item, rgb)
            bar.update(1)

    written = 0
    # decoding and each frame's L run in a thread, ahead of the network
    frames = prefetch(_with_luminance(_source_items(input_path, kind)), 2 * batch_size,
                      "vidcolor-decode")
    try:
        with _Sink(kind, output, input_path, panels) as sink, \
                progress_mod.bar(total=total, desc="render", unit="frame",
                                 enabled=progress) as bar:
            for batch in _batches(frames, batch_size):
                coloured = None if warned_colour else next(
                    (item for item in batch if item.rgb is not None and _is_colour(item.rgb)),
                    None)
                if coloured is not None:
                    where = input_path / str(coloured.key) if kind == "folder" else input_path
                    log.warning("%s: colour input; only its luminance is used", where)
                    warned_colour = True
                lums = [item.luminance for item in batch]
                for item in batch:
                    item.rgb = None  # only L is needed from here on
                with torch.inference_mode():
                    abs_per_frame = infer.colorize_batch(
                        color_models, lums, size=size, decode=decode_method,
                        temperature=temperature, ensemble=ensemble, upsample=False)
                for item, abs_ in zip(batch, abs_per_frame, strict=True):
                    if pool is not None:
                        pending.append((item, pool.submit(finish_frame, item.luminance, abs_,
                                                          refine, options)))
                    else:
                        pending.append((item, finish_frame(item.luminance, abs_, refine,
                                                           options)))
                    written += 1
                finish(sink, bar, max_pending)
            finish(sink, bar, 0)
    except BrokenProcessPool as exc:
        raise VidcolorError(f"{input_path}: a refinement worker process died ({exc}); "
                            "re-run with --workers 0 to see why") from exc
    finally:
        frames.close()
        if truth_items is not None:
            truth_items.close()  # its video file
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(torch_threads)
    log.info("%s: %d frames written", output, written)
    return output


def _compose(item: _Item, result: np.ndarray, truth_items: Iterator[_Item] | None
             ) -> np.ndarray:
    """The review frame: grey input | result [| ground truth]."""
    assert item.luminance is not None
    panels = [grey_rgb(item.luminance), result]
    if truth_items is not None:
        truth = next(truth_items, None)
        if truth is None:
            raise InputError(f"the ground truth has fewer frames than the input (ends before "
                             f"frame {item.key})")
        rgb = truth.rgb
        assert rgb is not None
        if rgb.shape != result.shape:
            rgb = cv2.resize(rgb, (result.shape[1], result.shape[0]),
                             interpolation=cv2.INTER_AREA)
        panels.append(rgb)
    return np.concatenate(panels, axis=1)
