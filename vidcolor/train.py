"""Training of the colourisation networks (SPEC §6, thesis ch. 7), single process or DDP.

:func:`train` runs Adam (lr 1e-3, β 0.9/0.999, × 0.3 every 15 epochs by ``StepLR``) on random
crops and mirrors of the dataset's 256×256 training frames, with an effective batch of
micro-batch × accumulation (× processes under ``torchrun``). It reads as named steps, in the
shape of the torchvision references: :func:`setup` (data, model, optimiser, scheduler, resume
point), then per epoch :func:`train_one_epoch`, :func:`test_loss` and :func:`save`.

Frames travel to the device as uint8 and are turned into Lab there. The network's input is the
L of the grey the render will see: the dataset's grey model (:class:`vidcolor.color.GreyModel`)
applied to the colour frame, as grey RGB, then its L (:func:`vidcolor.color.grey_lightness`);
for the ``luminance`` model that is the colour's own L, computed as it always was. The target
is ab at 1/4 resolution (area average), soft-encoded over the gamut bins, each pixel weighted by the
rebalancing weight of its arg-max bin. The prior is counted once over the training split at
1/4 resolution and stored in every checkpoint.

Determinism: the shuffle order comes from ``seed + epoch`` and every crop/mirror from
``(seed, epoch, frame)``, so the data stream does not depend on worker processes or on where a
run was interrupted; dropout draws from the global torch RNG (seeded per rank under DDP),
which checkpoints save and restore for every rank, with the optimiser's and the scheduler's
state. On the CPU a resumed run therefore reproduces an uninterrupted one exactly.

:func:`evaluate` compares a trained model with the all-grey baseline on a split.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidcolor import __version__
from vidcolor.checkpoint import (
    Checkpoint,
    CheckpointInfo,
    build_from_checkpoint,
    find_latest,
    load_checkpoint,
    rank_rng_state,
    read_descriptor,
    resolve_device,
    restore_rank_rng,
    restore_rng,
    restore_training_state,
    save_checkpoint,
)
from vidcolor.color.grey import GreyModel, grey_of_rgb
from vidcolor.devices import parse_device
from vidcolor.errors import (
    CheckpointError,
    DatasetError,
    DeviceError,
    OptionError,
    OutputError,
    TrainingError,
    VidcolorError,
)
from vidcolor.fsutil import ensure_writable_dir, exclusive, write_bytes_atomic
from vidcolor.models import (
    MAX_WIDTH,
    VARIANTS,
    activations_per_pixel,
    build_model,
    count_parameters,
    uses_rebalancing,
)

log = logging.getLogger(__name__)

#: Options that define the network; a resumed run must keep them.
_IDENTITY = ("arch", "variant", "width")
#: Options a resumed run may change.
_RESUMABLE = ("epochs", "device", "workers", "keep_checkpoints")
#: Facts a checkpoint's config records beside the options.
_RECORDED = ("dataset", "dataset_test_episodes", "world_size")
#: Largest ``--workers``: each loader process holds its own torch (a few hundred MB).
MAX_WORKERS = 64
#: Largest seed: torch seeds are 64-bit and the trainer adds epochs and ranks to it.
MAX_SEED = 2**63 - 1
#: More epochs than anyone trains for: a larger --epochs is a typo that would run forever.
MAX_EPOCHS = 100_000


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of a training run (defaults: the thesis's), checked when made.

    Attributes:
        arch: a network of :data:`vidcolor.models.ARCHITECTURES` (``plain``, ``residual``).
        variant: one of its variants: ``rebalance``, ``no-rebalance``, ``dropout`` (plain) or
            ``l2`` (plain).
        width: channel multiplier (1.0 = thesis size; 0.125 for CPU demos).
        epochs: total number of epochs.
        batch_size: micro-batch per process.
        accumulate: micro-batches per optimiser step (effective batch = batch_size × accumulate
            × processes).
        crop: side of the random square crops (multiple of 8, at most the frame size).
        lr: Adam learning rate.
        lr_step: epochs between learning-rate drops (``StepLR``'s ``step_size``).
        lr_gamma: learning-rate factor at each drop (``StepLR``'s ``gamma``).
        seed: seed of initialisation, shuffling, augmentation and dropout.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (:func:`vidcolor.devices.parse_device`).
        workers: DataLoader worker processes (0 loads in the main process).
        max_images: use at most this many training frames (evenly spaced), None for all.
        max_test_images: use at most this many test frames for the per-epoch test loss.
        rebalance_lambda: λ of the rebalancing weights.
        keep_checkpoints: epoch checkpoints kept besides the best one (the latest ones).

    Raises:
        OptionError: an option of the wrong type or out of range, named as on the command line
            (a usage error; a ``ValueError`` too).
    """

    arch: str = "plain"
    variant: str = "rebalance"
    width: float = 1.0
    epochs: int = 30
    batch_size: int = 16
    accumulate: int = 3
    crop: int = 224
    lr: float = 1e-3
    lr_step: int = 15
    lr_gamma: float = 0.3
    seed: int = 0
    device: str = "auto"
    workers: int = 2
    max_images: int | None = None
    max_test_images: int | None = None
    rebalance_lambda: float = 0.5
    keep_checkpoints: int = 2

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every option's type and range (numbers finite); run when the config is made
        (it is frozen: everything downstream trusts it).

        Raises:
            OptionError: naming the first bad option (a ``ValueError`` too).
        """
        for spec in fields(self):
            value = getattr(self, spec.name)
            if not _of_type(value, str(spec.type)):
                raise OptionError(f"--{spec.name.replace('_', '-')} must be "
                                  f"{_TYPE_NAMES[str(spec.type)]}, got {value!r}")
        if self.arch not in VARIANTS:
            raise OptionError(f"unknown architecture {self.arch!r}")
        if self.variant not in VARIANTS[self.arch]:
            raise OptionError(f"--variant {self.variant} is not available for --arch "
                              f"{self.arch} (choose {', '.join(VARIANTS[self.arch])})")
        parse_device(self.device)
        checks = [
            (0 < self.width <= MAX_WIDTH, f"--width must be positive, at most {MAX_WIDTH:g}"),
            (1 <= self.epochs <= MAX_EPOCHS, f"--epochs must be from 1 to {MAX_EPOCHS}"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (self.accumulate >= 1, "--accumulate must be at least 1"),
            (self.crop >= 8 and self.crop % 8 == 0, "--crop must be a positive multiple of 8"),
            (self.lr > 0, "--lr must be positive"),
            (1 <= self.lr_step <= MAX_EPOCHS, f"--lr-step must be from 1 to {MAX_EPOCHS}"),
            (self.lr_gamma > 0, "--lr-gamma must be positive"),
            (0 <= self.workers <= MAX_WORKERS, f"--workers must be from 0 to {MAX_WORKERS}"),
            (0 <= self.seed <= MAX_SEED, f"--seed must be from 0 to 2**63-1 ({MAX_SEED})"),
            (self.max_images is None or self.max_images >= 1, "--max-images must be >= 1"),
            (self.max_test_images is None or self.max_test_images >= 1,
             "--max-test-images must be >= 1"),
            (0 <= self.rebalance_lambda <= 1, "rebalance_lambda must be from 0 to 1"),
            (self.keep_checkpoints >= 1, "--keep-checkpoints must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise OptionError(message)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a stored dict; unknown keys are an error that names them.

        Raises:
            OptionError: an unknown key, or a value :meth:`validate` refuses.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise OptionError(f"unknown training option(s): {', '.join(unknown)}")
        return cls(**data)


_TYPE_NAMES = {"str": "a string", "int": "an integer", "float": "a finite number",
               "int | None": "an integer"}


def _of_type(value: Any, annotation: str) -> bool:
    """Whether ``value`` is of a :class:`TrainConfig` field's type (floats finite)."""
    if annotation == "int | None" and value is None:
        return True
    if isinstance(value, bool):
        return False
    if annotation == "float":
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, str if annotation == "str" else int)


def stored_config(run_dir: str | Path) -> dict[str, Any]:
    """The configuration recorded in a run's latest checkpoint (for ``--resume``), checked.

    Raises:
        CheckpointError: no checkpoint, a corrupt one, or a configuration that cannot be
            resumed (naming the file and the option).
    """
    latest = find_latest(run_dir)
    if latest is None:
        raise CheckpointError(f"{run_dir}: nothing to resume (no epoch-NNNN.json checkpoint)")
    return _checked_config(*read_descriptor(latest))


def _checked_config(json_path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """A descriptor's ``config``: valid options, recorded facts of the right types, and the
    network the descriptor describes."""
    stored = meta["config"]

    def bad(problem: str) -> CheckpointError:
        return CheckpointError(f"{json_path}: invalid checkpoint descriptor: config {problem}")

    try:
        TrainConfig.from_dict({k: v for k, v in stored.items() if k not in _RECORDED})
    except (TypeError, ValueError) as exc:
        raise bad(f"({exc})") from exc
    for key in _IDENTITY:
        if stored.get(key) != meta[key]:
            raise bad(f"says {key} {stored.get(key)!r}, the checkpoint {meta[key]!r}")
    episodes = stored.get("dataset_test_episodes")
    world = stored.get("world_size", 1)
    for key, ok in (("dataset", isinstance(stored.get("dataset"), (str, type(None)))),
                    ("dataset_test_episodes", episodes is None or (
                        isinstance(episodes, list) and all(isinstance(e, str) for e in episodes))),
                    ("world_size", isinstance(world, int) and not isinstance(world, bool)
                     and world >= 1)):
        if not ok:
            raise bad(f"{key} is {stored.get(key)!r}")
    return stored


def check_memory(config: TrainConfig, device: torch.device, num_bins: int) -> None:
    """Refuse a network and batch that cannot fit the memory of ``device``, before any work.

    The estimate sizes the network on the meta device (nothing allocated): 16 bytes per
    parameter (weights, gradients, Adam's two moments) and 4 bytes per value its layers
    output for the batch (kept for the backward pass).

    Raises:
        OptionError: naming ``--width``, or ``--batch-size`` and ``--crop``.
    """
    spec = build_model(config.arch, config.variant, config.width, num_bins, device="meta")
    parameters = count_parameters(spec)
    model_bytes = 16 * parameters
    batch_bytes = 4 * activations_per_pixel(spec) * config.batch_size * config.crop ** 2
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit, where = ram, f"this machine's {ram / 2**30:.1f} GiB of memory"
    if device.type == "cuda":
        limit = torch.cuda.get_device_properties(device).total_memory
        where = f"the GPU's {limit / 2**30:.1f} GiB"
    if model_bytes > limit or 4 * parameters > ram:  # the weights are built in RAM first
        raise OptionError(f"--width {config.width:g}: a {config.arch} network of "
                          f"{parameters:,} parameters needs about {model_bytes / 2**30:.1f} GiB "
                          f"to train, more than {where}; use a smaller --width")
    if model_bytes + batch_bytes > limit:
        raise OptionError(f"--batch-size {config.batch_size} with --crop {config.crop}: "
                          f"training needs about {(model_bytes + batch_bytes) / 2**30:.1f} GiB, "
                          f"more than {where}; use a smaller --batch-size (and a larger "
                          "--accumulate for the same effective batch) or --crop")


def default_run_dir(arch: str, variant: str = "rebalance") -> Path:
    """``./runs/<arch>`` for the default variant, ``./runs/<arch>-<variant>`` otherwise."""
    return Path("runs") / (arch if variant == "rebalance" else f"{arch}-{variant}")


# --------------------------------------------------------------------------- data


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"{path}: cannot read frame (missing or not an image)")
    return np.ascontiguousarray(image[:, :, ::-1])


def _even_subset(paths: list[Path], limit: int | None) -> list[Path]:
    if limit is None or limit >= len(paths):
        return paths
    index = np.linspace(0, len(paths) - 1, limit).round().astype(int)
    return [paths[i] for i in index]


class FrameDataset(torch.utils.data.Dataset):
    """Frames as uint8 (3, crop, crop) tensors, or (4, crop, crop) with a grey model other
    than luminance: RGB and the grey level the model gives each pixel.

    Items are addressed by ``(frame index, augmentation seed)``; with a seed the frame gets a
    random crop and mirror drawn from it, with ``None`` the central crop (``crop`` None: the
    largest central multiple of 8).
    """

    def __init__(self, paths: list[Path], crop: int | None, grey: GreyModel | None = None
                 ) -> None:
        self.paths = paths
        self.crop = crop
        self.grey = None if grey is None or grey.name == "luminance" else grey

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, item: tuple[int, int | None]) -> torch.Tensor:
        index, seed = item
        image = _read_rgb(self.paths[index])
        height, width = image.shape[:2]
        if self.crop is None:
            ch, cw = height - height % 8, width - width % 8
        else:
            if self.crop > min(height, width):
                raise DatasetError(f"{self.paths[index]}: frame {width}x{height} is smaller "
                                   f"than --crop {self.crop}")
            ch = cw = self.crop
        if seed is None:
            top, left, mirror = (height - ch) // 2, (width - cw) // 2, False
        else:
            rng = np.random.default_rng(seed)
            top = int(rng.integers(0, height - ch + 1))
            left = int(rng.integers(0, width - cw + 1))
            mirror = bool(rng.integers(0, 2))
        image = image[top:top + ch, left:left + cw]
        if mirror:
            image = image[:, ::-1]
        if self.grey is not None:
            image = np.dstack([image, grey_of_rgb(image, self.grey)])
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()


class EpochSampler(torch.utils.data.Sampler):
    """This process's share of a seeded permutation, with per-item augmentation seeds.

    Yields ``(frame index, seed)``; the permutation depends on ``seed + epoch`` only, and the
    augmentation seed on ``(seed, epoch, frame)``, like :class:`DistributedSampler` with
    ``set_epoch`` (the last, partial round is padded from the start).
    """

    def __init__(self, size: int, seed: int, rank: int = 0, world: int = 1,
                 shuffle: bool = True) -> None:
        self.size, self.seed, self.rank, self.world = size, seed, rank, world
        self.shuffle = shuffle
        self.epoch = 0
        self.per_rank = math.ceil(size / world)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order and augmentation to produce."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.per_rank

    def __iter__(self) -> Iterator[tuple[int, int | None]]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        order += order[: self.per_rank * self.world - self.size]
        for index in order[self.rank::self.world]:
            seed = (self.seed * 1_000_003 + self.epoch) * 10_000_019 + index if self.shuffle \
                else None
            yield index, seed


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # pragma: no cover - optional speed-up only
        pass


#: Loader workers start from a fork server, not a fork of this process: a forked child that
#: calls ``cv2.setNumThreads`` deadlocks once the parent has used OpenCV's thread pool (as an
#: evaluation or a render in the same process does).
_WORKER_CONTEXT = "forkserver"


def _loader(dataset: FrameDataset, sampler: EpochSampler, batch_size: int, workers: int,
            pin: bool, persistent: bool = True) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
        pin_memory=pin, persistent_workers=persistent and workers > 0,
        worker_init_fn=_worker_init, prefetch_factor=4 if workers > 0 else None,
        multiprocessing_context=_WORKER_CONTEXT if workers > 0 else None,
        # a private generator keeps the DataLoader from drawing on the global torch RNG
        generator=torch.Generator().manual_seed(0))


def _unwrap_worker_error(exc: VidcolorError) -> VidcolorError:
    """The one-line error a DataLoader worker raised, out of the traceback torch wraps it in.

    A worker's exception reaches the main process re-created as ``type(exc)("Caught ... in
    DataLoader worker process N.\nOriginal Traceback ...\n<module>.<Type>: <message>")``.
    """
    text = str(exc)
    if not text.startswith("Caught ") or "DataLoader worker" not in text:
        return exc
    last = text.rstrip().splitlines()[-1]
    prefix = f"{type(exc).__module__}.{type(exc).__qualname__}: "
    return type(exc)(last[len(prefix):] if last.startswith(prefix) else last)


def _batches(loader: torch.utils.data.DataLoader) -> Iterator[torch.Tensor]:
    """Iterate ``loader``; a vidcolor error from a worker keeps its one-line message."""
    try:
        yield from loader
    except VidcolorError as exc:
        raise _unwrap_worker_error(exc) from exc


def _check_crop(paths: list[Path], crop: int) -> None:
    """Refuse a crop larger than the frames up front (before the prior is counted)."""
    height, width = _read_rgb(paths[0]).shape[:2]
    if crop > min(height, width):
        raise DatasetError(f"{paths[0]}: frame {width}x{height} is smaller than --crop {crop}")


# --------------------------------------------------------------------------- targets


def lab_batch(rgb_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 RGB (N,3,H,W) on any device -> (network input ``L × L_SCALE``, ab at 1/4 size).

    A fourth channel is each pixel's grey level under the dataset's grey model
    (:class:`FrameDataset`): the input is then the L of that grey, as render computes it.
    """
    from vidcolor.color import L_SCALE
    from vidcolor.color.grey import grey_lightness
    from vidcolor.color.tensors import rgb_to_lab

    lab = rgb_to_lab(rgb_uint8[:, :3].float() / 255.0)
    if rgb_uint8.shape[1] == 4:
        table = torch.from_numpy(grey_lightness()).to(rgb_uint8.device)
        lightness = table[rgb_uint8[:, 3:].long()] * L_SCALE
    else:
        lightness = lab[:, :1] * L_SCALE
    ab_small = F.avg_pool2d(lab[:, 1:], kernel_size=4, stride=4)
    return lightness, ab_small


def compute_loss(model: nn.Module, rgb_uint8: torch.Tensor, bins: torch.Tensor | None,
                 weights: torch.Tensor | None, head: str, autocast: bool,
                 channels_last: bool) -> torch.Tensor:
    """Loss of ``model`` on one uint8 batch already on the model's device.

    Only the network runs under ``autocast`` (bf16); the Lab conversion, the soft encoding and
    the loss stay in float32, so the returned scalar is float32 either way.
    """
    from vidcolor.losses import ab_l2_loss, rebalanced_cross_entropy
    from vidcolor.quantize import soft_encode

    lightness, ab_small = lab_batch(rgb_uint8)
    if channels_last:
        lightness = lightness.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device_type=lightness.device.type, dtype=torch.bfloat16,
                        enabled=autocast):
        output = model(lightness)
    # the losses cast to float32 themselves; outside autocast, so nothing is cast back to bf16
    if head == "ab":
        return ab_l2_loss(output, ab_small)
    assert bins is not None
    target = soft_encode(ab_small, bins)
    return rebalanced_cross_entropy(output, target, weights)


@dataclass(frozen=True)
class Accel:
    """How training runs on a device; shared by :func:`train` and ``scripts/bench_train.py``.

    On CUDA: bf16 autocast (no GradScaler: bf16 has float32's exponent range), channels_last
    model and inputs, pinned host batches copied with ``non_blocking``, and cuDNN autotuning
    (every training batch has the same shape). On the CPU all are off by default; a test can
    switch ``autocast``/``channels_last`` on to run the CUDA path's logic on the CPU.
    """

    device: torch.device
    autocast: bool = False
    channels_last: bool = False
    pin_memory: bool = False

    @classmethod
    def for_device(cls, device: torch.device) -> Accel:
        """The settings training uses on ``device``."""
        cuda = device.type == "cuda"
        return cls(device, autocast=cuda, channels_last=cuda, pin_memory=cuda)

    def setup(self) -> None:
        """Set the process-wide backend flags (cuDNN autotuning on CUDA)."""
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True

    def place_model(self, model: nn.Module) -> nn.Module:
        """Move ``model`` to the device (channels_last when enabled)."""
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def to_device(self, batch: torch.Tensor) -> torch.Tensor:
        """Copy a host batch to the device (asynchronously from pinned memory)."""
        return batch.to(self.device, non_blocking=self.pin_memory and batch.is_pinned())


def micro_step(net: nn.Module, batch: torch.Tensor, bins: torch.Tensor | None,
               weights: torch.Tensor | None, head: str, accel: Accel,
               scale: float = 1.0) -> torch.Tensor:
    """Forward and backward of one micro-batch; gradients accumulate into ``.grad``.

    Args:
        net: the model (or its DDP wrapper) in training mode.
        batch: uint8 RGB (N,3,H,W) on the host or the device.
        bins, weights, head: as for :func:`compute_loss`.
        accel: device settings.
        scale: factor of the loss before ``backward`` (1 / micro-batches per step).

    Returns:
        The unscaled float32 loss, detached and still on the device (no synchronisation).
    """
    loss = compute_loss(net, accel.to_device(batch), bins, weights, head,
                        autocast=accel.autocast, channels_last=accel.channels_last)
    (loss * scale).backward()
    return loss.detach()


# --------------------------------------------------------------------------- distributed


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device_name: str) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    import torch.distributed as dist

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        use_cuda = device_name != "cpu" and torch.cuda.is_available()
        if device_name == "cuda" and not torch.cuda.is_available():
            raise DeviceError("--device cuda requested but CUDA is not available")
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return _Dist(rank=rank, world=world, local_rank=local_rank)


def _all_reduce_sum(values: list[float], dist_info: _Dist, device: torch.device) -> list[float]:
    if not dist_info.enabled:
        return values
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def _gather_rng_states(dist_info: _Dist, device: torch.device) -> list[torch.Tensor] | None:
    """Every rank's RNG state, by rank (a collective: all ranks call it); None without DDP."""
    if not dist_info.enabled:
        return None
    import torch.distributed as dist

    states: list[torch.Tensor | None] = [None] * dist_info.world
    dist.all_gather_object(states, rank_rng_state(device))
    return [state for state in states if state is not None]


# --------------------------------------------------------------------------- prior


def compute_prior(paths: list[Path], bins: np.ndarray, device: torch.device, *, workers: int,
                  dist_info: _Dist | None = None, progress: bool = True) -> np.ndarray:
    """Empirical bin distribution of ``paths`` (whole frames, ab at 1/4 resolution).

    Under DDP each process counts its share and the counts are summed.
    """
    from vidcolor import progress as progress_mod
    from vidcolor.quantize import PriorAccumulator

    dist_info = dist_info or _Dist()
    dataset = FrameDataset(paths, crop=None)
    sampler = EpochSampler(len(paths), 0, dist_info.rank, dist_info.world, shuffle=False)
    loader = _loader(dataset, sampler, 16, workers, pin=False, persistent=False)
    accumulator = PriorAccumulator(bins)
    with progress_mod.bar(total=len(sampler), desc="prior", unit="img",
                          enabled=progress and dist_info.main) as bar, torch.no_grad():
        for batch in _batches(loader):
            _, ab_small = lab_batch(batch.to(device))
            accumulator.add(ab_small.float())
            bar.update(batch.shape[0])
    counts = accumulator.counts.astype(np.float64)
    if dist_info.enabled:
        import torch.distributed as dist

        tensor = torch.from_numpy(counts).to(device)
        dist.all_reduce(tensor)
        counts = tensor.cpu().numpy()
    if counts.sum() <= 0:
        raise DatasetError("the training split has no pixels to count colours from")
    return counts / counts.sum()


# --------------------------------------------------------------------------- training
# The torchvision-reference shape: setup() builds a TrainingRun (data, model, optimiser,
# scheduler, resume point); train() runs train_one_epoch(), test_loss() and save() per epoch.


@dataclass
class Targets:
    """What the loss compares the network's output with (SPEC §4)."""

    head: str
    num_bins: int
    bins_np: np.ndarray
    prior: np.ndarray | None
    weights_np: np.ndarray | None
    bins: torch.Tensor | None  # on the device, histogram head only
    weights: torch.Tensor | None  # on the device, rebalanced variants only


@dataclass
class TrainingRun:
    """What the steps of a training run share; built by :func:`setup`."""

    config: TrainConfig
    run_dir: Path
    dataset_dir: Path
    dataset_test_episodes: list[str]
    dist: _Dist
    accel: Accel
    model: nn.Module  # the network itself (what is saved)
    net: nn.Module  # what is trained: the network or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.StepLR
    targets: Targets
    sampler: EpochSampler
    loader: torch.utils.data.DataLoader
    test_loader: torch.utils.data.DataLoader | None
    start_epoch: int
    progress: bool
    grey: GreyModel = field(default_factory=lambda: GreyModel.named("luminance"))


def _copy_series_look(dataset: Path, run_dir: Path) -> None:
    """The dataset's ``series.json`` (palette, neutrals, credit colours) travels with the run,
    so that render finds it beside the checkpoints."""
    from vidcolor.series import SERIES_FILE

    source, target = dataset / SERIES_FILE, run_dir / SERIES_FILE
    if source.is_file():
        data = source.read_bytes()
        if not target.is_file() or target.read_bytes() != data:  # else renders stay current
            write_bytes_atomic(target, data)


def setup(config: TrainConfig, dataset_dir: str | Path | None, run_dir: Path, *,
          resume: bool, switch_dataset: bool, dist_info: _Dist, progress: bool) -> TrainingRun:
    """Data, model, optimiser, scheduler and resume point of a run (see :func:`train`)."""
    from vidcolor.quantize import ab_gamut

    config, ckpt = _prepare_run(config, run_dir, resume)
    dataset = _resolve_dataset(dataset_dir, ckpt, switch_dataset)
    device = resolve_device(config.device)
    if device.type == "cuda" and dist_info.enabled:
        device = torch.device("cuda", dist_info.local_rank)
    try:
        check_memory(config, device, ckpt.info.num_bins if ckpt else len(ab_gamut()))
    except OptionError as exc:
        if ckpt is None:
            raise
        raise CheckpointError(f"{ckpt.info.path}: the run's stored options cannot train on "
                              f"{device} ({exc})") from exc
    if dist_info.main:
        ensure_writable_dir(run_dir)
        _copy_series_look(dataset, run_dir)
    train_paths, test_paths, test_episodes = _split_paths(dataset, config, ckpt,
                                                          switch_dataset)
    grey = _grey_model(dataset, ckpt, switch_dataset)
    model, targets, start_epoch = _model_and_targets(config, ckpt, train_paths, device,
                                                     dist_info, progress)
    accel = Accel.for_device(device)
    accel.setup()
    model = accel.place_model(model)
    optimizer, scheduler = _optimizer(config, model, ckpt, dist_info, device)
    net: nn.Module = model
    if dist_info.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    sampler = EpochSampler(len(train_paths), config.seed, dist_info.rank, dist_info.world)
    loader = _loader(FrameDataset(train_paths, crop=config.crop, grey=grey), sampler,
                     config.batch_size, config.workers, pin=accel.pin_memory)
    test_loader = None
    if test_paths:
        test_sampler = EpochSampler(len(test_paths), 0, dist_info.rank, dist_info.world,
                                    shuffle=False)
        test_loader = _loader(FrameDataset(test_paths, crop=None, grey=grey), test_sampler,
                              config.batch_size, config.workers, pin=accel.pin_memory)
    if dist_info.main:
        _trim_log(run_dir / "log.jsonl", start_epoch)
        log.info("%s %s width %g: %s parameters, %d training / %d test frames, effective "
                 "batch %d, %s, grey model %s", config.arch, config.variant, config.width,
                 f"{count_parameters(model):,}", len(train_paths), len(test_paths),
                 config.batch_size * config.accumulate * dist_info.world, device,
                 grey.describe())
    if start_epoch >= config.epochs:
        log.info("%s: already trained for %d epochs", run_dir, start_epoch)
    return TrainingRun(config, run_dir, dataset.resolve(), test_episodes, dist_info, accel,
                       model, net, optimizer, scheduler, targets, sampler, loader, test_loader,
                       start_epoch, progress, grey)


def _prepare_run(config: TrainConfig, run_dir: Path, resume: bool
                 ) -> tuple[TrainConfig, Checkpoint | None]:
    """Check the run directory; on resume load its latest checkpoint and merge configs."""
    latest = find_latest(run_dir) if run_dir.is_dir() else None
    if not resume:
        if latest is not None:
            raise OutputError(f"{run_dir}: already holds checkpoints ({latest.name}); use "
                              f"--resume {run_dir} to continue it or -o to pick another run")
        return config, None
    if latest is None:
        raise CheckpointError(f"{run_dir}: nothing to resume (no epoch-NNNN.json checkpoint)")
    ckpt = load_checkpoint(latest)
    stored = _checked_config(latest, ckpt.meta)
    for key in _IDENTITY:
        if getattr(config, key) != stored.get(key):
            raise CheckpointError(
                f"{ckpt.info.path}: run was trained with --{key} {stored.get(key)}, not "
                f"{getattr(config, key)}; resume it with the same --{key} or start a new run")
    try:
        options = {k: v for k, v in stored.items() if k not in _RECORDED}
        merged = TrainConfig.from_dict(
            {**options, **{k: getattr(config, k) for k in _RESUMABLE}})
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{ckpt.info.path}: unusable stored configuration ({exc})") from exc
    return merged, ckpt


def _resolve_dataset(given: str | Path | None, ckpt: Checkpoint | None,
                     switch: bool) -> Path:
    """The dataset to train on: ``given`` (default ``./dataset``), or on resume the run's own.

    Raises:
        DatasetError: on resume, ``given`` is another dataset than the run's and ``switch``
            is not set.
    """
    if ckpt is None:
        return Path(given) if given is not None else Path("dataset")
    stored = ckpt.info.config.get("dataset")
    if given is None:
        if not isinstance(stored, str):
            raise CheckpointError(f"{ckpt.info.path}: the run records no dataset; pass "
                                  "--dataset")
        return Path(stored)
    if isinstance(stored, str) and str(Path(given).resolve()) != stored:
        if not switch:
            raise DatasetError(
                f"{Path(given).resolve()}: the run {ckpt.info.path.parent} was trained on "
                f"{stored}; drop --dataset to keep its dataset, or add --switch-dataset to "
                "train on this one (its test episodes may have been the run's training "
                "episodes)")
        log.warning("%s: switching the run from dataset %s to %s", ckpt.info.path.parent,
                    stored, Path(given).resolve())
    return Path(given)


def _split_paths(dataset: Path, config: TrainConfig, ckpt: Checkpoint | None, switch: bool
                 ) -> tuple[list[Path], list[Path], list[str]]:
    """Training and test frames (limited as configured) and the dataset's test episodes.

    On resume the test episodes must be those the run was trained with, unless ``switch``.
    """
    from vidcolor.dataset.reader import load_split, read_meta

    train_paths = _even_subset(load_split(dataset, "train"), config.max_images)
    _check_crop(train_paths, config.crop)
    test_episodes = list(read_meta(dataset).get("test_episodes") or [])
    recorded = ckpt.info.config.get("dataset_test_episodes") if ckpt is not None else None
    if recorded is not None and sorted(recorded) != sorted(test_episodes) and not switch:
        raise DatasetError(f"{dataset}: its test episodes are now {test_episodes}, the run "
                           f"was trained with {recorded} held out; add --switch-dataset to "
                           "train on it anyway")
    try:
        test_paths = _even_subset(load_split(dataset, "test"), config.max_test_images)
    except DatasetError as exc:
        log.warning("no test-split loss: %s", exc)
        test_paths = []
    return train_paths, test_paths, test_episodes


def _grey_model(dataset: Path, ckpt: Checkpoint | None, switch: bool) -> GreyModel:
    """The dataset's grey model; on resume it must be the run's (unless ``switch``).

    Raises:
        DatasetError: on resume, the dataset's grey model is not the run's.
    """
    from vidcolor.dataset.reader import read_grey_model

    grey = read_grey_model(dataset)
    if ckpt is not None and ckpt.info.grey != grey:
        if not switch:
            raise DatasetError(f"{dataset}: its grey model is now {grey.describe()}, the run "
                               f"was trained on {ckpt.info.grey.describe()}; build the dataset "
                               "with the run's --grey, or add --switch-dataset to train on it "
                               "anyway")
        log.warning("%s: switching the run from grey model %s to %s", ckpt.info.path.parent,
                    ckpt.info.grey.describe(), grey.describe())
    return grey


def _model_and_targets(config: TrainConfig, ckpt: Checkpoint | None, train_paths: list[Path],
                       device: torch.device, dist_info: _Dist, progress: bool
                       ) -> tuple[nn.Module, Targets, int]:
    """The network (fresh or resumed), its loss targets and the first epoch to train."""
    from vidcolor.quantize import ab_gamut, rebalance_weights

    torch.manual_seed(config.seed)
    np.random.seed(config.seed % 2**32)
    random.seed(config.seed)
    bins_np = ab_gamut()
    if ckpt is not None and ckpt.info.bins is not None:  # the run's own gamut
        bins_np = np.asarray(ckpt.info.bins, dtype=np.float32)
    model = build_model(config.arch, config.variant, config.width, int(bins_np.shape[0]))
    head = model.head
    if dist_info.rank:
        # the same initial weights on every rank (DDP also broadcasts them), but each rank
        # draws its own dropout masks
        torch.manual_seed(config.seed + dist_info.rank)
    start_epoch = 0
    if ckpt is not None:
        model = build_from_checkpoint(ckpt)
        prior, weights_np = ckpt.info.prior, ckpt.info.weights
        start_epoch = ckpt.info.epoch
        if weights_np is None and uses_rebalancing(config.variant):
            raise CheckpointError(f"{ckpt.info.path}: holds no rebalancing weights (tensor "
                                  "weights); cannot resume")
    elif head == "histogram":
        prior = compute_prior(train_paths, bins_np, device, workers=config.workers,
                              dist_info=dist_info, progress=progress)
        weights_np = rebalance_weights(prior, config.rebalance_lambda)
    else:
        prior = weights_np = None
    bins_t = torch.from_numpy(bins_np).to(device) if head == "histogram" else None
    weights_t = None
    if head == "histogram" and uses_rebalancing(config.variant):
        weights_t = torch.from_numpy(np.asarray(weights_np, dtype=np.float32)).to(device)
    targets = Targets(head, int(bins_np.shape[0]), bins_np, prior, weights_np, bins_t,
                      weights_t)
    return model, targets, start_epoch


def _optimizer(config: TrainConfig, model: nn.Module, ckpt: Checkpoint | None,
               dist_info: _Dist, device: torch.device
               ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.StepLR]:
    """Adam and its StepLR schedule, with their state and the RNGs restored on resume."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999))
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step,
                                                gamma=config.lr_gamma)
    if ckpt is None:
        return optimizer, scheduler
    path, epoch = ckpt.info.path, ckpt.info.epoch
    stored_schedule = ckpt.meta.get("scheduler") is not None
    restore_training_state(ckpt, optimizer, scheduler if stored_schedule else None)
    if not stored_schedule:  # written before the scheduler was: its steps, from its closed form
        for group in optimizer.param_groups:
            group["initial_lr"] = config.lr
            group["lr"] = config.lr * config.lr_gamma ** ((epoch - 1) // config.lr_step)
        scheduler = torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=config.lr_step, gamma=config.lr_gamma, last_epoch=epoch - 1)
    try:
        restore_rng(ckpt.tensors, ckpt.meta["rng"])
        if dist_info.enabled and not restore_rank_rng(ckpt.tensors, dist_info.rank, device):
            # saved by another number of processes: a fresh, distinct stream per rank
            torch.manual_seed(config.seed + dist_info.rank + 7919 * epoch)
    except (KeyError, TypeError, ValueError, RuntimeError, OverflowError) as exc:
        raise CheckpointError(f"{path}: random-number state missing or damaged "
                              f"({type(exc).__name__}: {exc}); cannot resume") from exc
    return optimizer, scheduler


def train_one_epoch(run: TrainingRun, epoch: int) -> dict[str, float | None]:
    """One pass over this process's share of the training frames (0-based ``epoch``).

    Micro-batches accumulate gradients in groups of ``accumulate`` (the last group of an
    epoch may be smaller, and is scaled by its own size); under DDP gradients are all-reduced
    only on the micro-batch that ends a group.

    Returns:
        ``train_loss`` (mean over all processes' frames), ``seconds``, ``images_per_s``.
    """
    from vidcolor import progress as progress_mod

    config, dist_info, targets = run.config, run.dist, run.targets
    run.sampler.set_epoch(epoch)
    run.net.train()
    steps = math.ceil(len(run.sampler) / config.batch_size)
    started = time.perf_counter()
    # summed on the device: no host synchronisation per micro-batch
    loss_sum = torch.zeros((), dtype=torch.float64, device=run.accel.device)
    seen = 0
    run.optimizer.zero_grad(set_to_none=True)
    bar = progress_mod.bar(total=len(run.sampler) * dist_info.world,
                           desc=f"epoch {epoch + 1}/{config.epochs}", unit="img",
                           enabled=run.progress and dist_info.main)
    try:
        for step, batch in enumerate(_batches(run.loader)):
            group_start = step - step % config.accumulate
            group_size = min(config.accumulate, steps - group_start)
            last_of_group = step + 1 == group_start + group_size
            context = (run.net.no_sync() if dist_info.enabled and not last_of_group
                       else contextlib.nullcontext())
            with context:
                loss = micro_step(run.net, batch, targets.bins, targets.weights, targets.head,
                                  run.accel, scale=1.0 / group_size)
            if last_of_group:
                run.optimizer.step()
                run.optimizer.zero_grad(set_to_none=True)
            loss_sum += loss.double() * batch.shape[0]
            seen += batch.shape[0]
            bar.update(batch.shape[0] * dist_info.world)
    except torch.OutOfMemoryError as exc:
        raise _oom_error(config) from exc
    finally:
        bar.close()
    total_loss = float(loss_sum)  # also waits for the device to finish the epoch
    seconds = time.perf_counter() - started
    total_loss, seen_all = _all_reduce_sum([total_loss, float(seen)], dist_info,
                                           run.accel.device)
    return {"train_loss": total_loss / max(seen_all, 1.0), "seconds": round(seconds, 3),
            "images_per_s": round(seen_all / seconds, 2) if seconds > 0 else None}


def test_loss(run: TrainingRun) -> float | None:
    """Mean loss over the (whole, uncropped) test frames; None without a test split."""
    if run.test_loader is None:
        return None
    model, accel, targets = run.model, run.accel, run.targets
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=accel.device)
    count = 0
    try:
        with torch.no_grad():
            for batch in _batches(run.test_loader):
                loss = compute_loss(model, accel.to_device(batch), targets.bins, targets.weights,
                                    targets.head, accel.autocast, accel.channels_last)
                total += loss.double() * batch.shape[0]
                count += batch.shape[0]
    except torch.OutOfMemoryError as exc:
        raise _oom_error(run.config) from exc
    finally:
        model.train(was_training)
    summed, seen = _all_reduce_sum([float(total), float(count)], run.dist, accel.device)
    return summed / seen if seen else None


test_loss.__test__ = False  # a training step, not a test for pytest to collect


def save(run: TrainingRun, epoch: int, metrics: dict[str, Any]) -> None:
    """Checkpoint finished ``epoch`` (1-based), log its metrics, prune old checkpoints.

    A collective under DDP (every rank's RNG state is gathered); rank 0 writes.
    """
    rank_states = _gather_rng_states(run.dist, run.accel.device)
    if not run.dist.main:
        return
    config, targets = run.config, run.targets
    config_record = {**asdict(config), "dataset": str(run.dataset_dir),
                     "dataset_test_episodes": run.dataset_test_episodes,
                     "world_size": run.dist.world}
    info = CheckpointInfo(
        arch=config.arch, variant=config.variant, width=config.width,
        bins=targets.bins_np if targets.head == "histogram" else None,
        prior=None if targets.prior is None else np.asarray(targets.prior, dtype=np.float64),
        weights=None if targets.weights_np is None else np.asarray(targets.weights_np,
                                                                   np.float64),
        epoch=epoch, config=config_record, version=__version__, path=run.run_dir,
        num_bins=targets.num_bins, head=targets.head, metrics=metrics, grey=run.grey)
    # the log first (a line of an epoch whose checkpoint is missing is dropped on resume);
    # when the checkpoint cannot be written (a full disk), the log goes back as it was
    log_path = run.run_dir / "log.jsonl"
    previous = [line for line, _ in _read_log_lines(log_path)]
    _write_log(log_path, [*previous, json.dumps(metrics)])
    try:
        save_checkpoint(run.run_dir, info, run.model, run.optimizer, rank_states,
                        scheduler=run.scheduler, keep=config.keep_checkpoints)
    except BaseException:
        with contextlib.suppress(VidcolorError, OSError):
            _write_log(log_path, previous)
        raise
    log.info("epoch %d/%d: train loss %.4f, test loss %s, %.1f img/s", epoch, config.epochs,
             metrics["train_loss"],
             "-" if metrics["test_loss"] is None else f"{metrics['test_loss']:.4f}",
             metrics["images_per_s"] or 0.0)


def _oom_error(config: TrainConfig) -> DeviceError:
    smaller = max(1, config.batch_size // 2)
    return DeviceError(
        f"out of GPU memory with --batch-size {config.batch_size}; try --batch-size {smaller} "
        f"--accumulate {config.accumulate * config.batch_size // smaller} (same effective batch)")


@contextlib.contextmanager
def _run_lock(run_dir: Path, dist_info: _Dist) -> Iterator[None]:
    """Hold the run folder's lock on rank 0; remove the folder if this run made it in vain."""
    if not dist_info.main:
        yield
        return
    ensure_writable_dir(run_dir.parent if str(run_dir.parent) else Path("."))
    created = not run_dir.exists()
    with exclusive(run_dir, "training it"):
        try:
            yield
        except BaseException:
            if created and run_dir.is_dir() and find_latest(run_dir) is None:
                from vidcolor.series import SERIES_FILE

                for name in (SERIES_FILE, "log.jsonl"):  # what this run wrote before failing
                    (run_dir / name).unlink(missing_ok=True)
                if not any(run_dir.iterdir()):
                    run_dir.rmdir()
            raise


def train(config: TrainConfig, dataset_dir: str | Path | None = None,
          run_dir: str | Path | None = None, *, resume: bool = False,
          switch_dataset: bool = False, progress: bool = True) -> Path:
    """Train (or, with ``resume``, continue training) a network; checkpoint every epoch.

    Per epoch: :func:`train_one_epoch`, :func:`test_loss`, a StepLR step, :func:`save`. The
    run folder is locked for the whole run (a second trainer into it stops with one line).

    Args:
        config: hyperparameters; on resume only ``epochs``, ``device``, ``workers`` and
            ``keep_checkpoints`` are taken from it, the rest from the run
            (``arch``/``variant``/``width`` must match).
        dataset_dir: dataset directory (``meta.json``, ``manifest.csv``, ``frames/``); default
            ``./dataset``, and on resume the dataset the run recorded.
        run_dir: output run directory; default ``runs/<arch>[-<variant>]``.
        resume: continue the run in ``run_dir`` from its latest checkpoint.
        switch_dataset: on resume, train on ``dataset_dir`` although the run was trained on
            another dataset (or on other test episodes).
        progress: show a progress bar (rank 0 only).

    Returns:
        The run directory.

    Raises:
        DatasetError: the dataset is missing, incomplete, has no training frames, or on
            resume is another than the run's (without ``switch_dataset``).
        CheckpointError: resuming from a missing/corrupt checkpoint or another architecture.
        DeviceError: CUDA requested but absent, or out of GPU memory.
        OutputError: the run directory cannot be written, holds checkpoints already (without
            ``resume``), or another process is training into it.
    """
    run_path = (Path(run_dir) if run_dir is not None
                else default_run_dir(config.arch, config.variant))
    dist_info = _init_distributed(config.device)
    with _run_lock(run_path, dist_info):
        run = setup(config, dataset_dir, run_path, resume=resume,
                    switch_dataset=switch_dataset, dist_info=dist_info, progress=progress)
        for epoch in range(run.start_epoch, run.config.epochs):
            lr = run.scheduler.get_last_lr()[0]
            epoch_metrics = train_one_epoch(run, epoch)
            metrics = {"epoch": epoch + 1, "train_loss": epoch_metrics["train_loss"],
                       "test_loss": test_loss(run), "lr": lr,
                       "seconds": epoch_metrics["seconds"],
                       "images_per_s": epoch_metrics["images_per_s"]}
            _check_finite(run, epoch + 1, metrics)
            run.scheduler.step()
            save(run, epoch + 1, metrics)
    if dist_info.enabled:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return run_path


def _check_finite(run: TrainingRun, epoch: int, metrics: dict[str, Any]) -> None:
    """Stop a run whose loss or weights are no longer finite, before it saves the epoch."""
    losses = [metrics[key] for key in ("train_loss", "test_loss") if metrics[key] is not None]
    state = [t for t in run.model.state_dict().values() if t.is_floating_point()]
    if all(math.isfinite(loss) for loss in losses) and bool(
            torch.stack([torch.isfinite(t).all() for t in state]).all()):
        return
    kept = (f"its checkpoints stop at epoch {epoch - 1}" if epoch > 1
            else "no checkpoint was written")
    raise TrainingError(f"{run.run_dir}: training diverged in epoch {epoch} (train loss "
                        f"{metrics['train_loss']}, test loss {metrics['test_loss']}): the "
                        f"network's weights are no longer finite numbers; nothing was saved "
                        f"for this epoch ({kept}); train again with a smaller --lr")


#: A training log holds one short line per epoch; far larger is not one.
_MAX_LOG_BYTES = 64 << 20


def _read_log_lines(log_path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Each line of a run's log with its entry: a JSON object of numbers (``epoch`` an
    integer >= 1; ``null`` where there is none).

    Raises:
        CheckpointError: naming the file, the line and the field that is wrong.
    """
    if not log_path.is_file():
        return []
    try:
        if log_path.stat().st_size > _MAX_LOG_BYTES:
            raise CheckpointError(f"{log_path}: {log_path.stat().st_size} bytes: too large "
                                  "for a training log")
        text = log_path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{log_path}: unreadable training log ({exc})") from exc
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            entry = None
        if not isinstance(entry, dict):
            raise CheckpointError(f"{log_path}: line {number} is not a JSON object; delete "
                                  "the line or the file")
        epoch = entry.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
            raise CheckpointError(f"{log_path}: line {number}: epoch is {epoch!r} (must be "
                                  "an integer >= 1)")
        for key, value in entry.items():
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, (int, float)) or not math.isfinite(value)):
                raise CheckpointError(f"{log_path}: line {number}: {key} is {value!r} "
                                      "(must be a finite number or null)")
        lines.append((line, entry))
    return lines


def _trim_log(log_path: Path, keep_epochs: int) -> None:
    """Drop log lines of epochs after ``keep_epochs`` (left by an interrupted run)."""
    if keep_epochs == 0:  # a new run: whatever is there logs no checkpoint
        _write_log(log_path, [])
        return
    lines = _read_log_lines(log_path)
    kept = [line for line, entry in lines if entry["epoch"] <= keep_epochs]
    if len(kept) < len(lines):
        _write_log(log_path, kept)


def _write_log(log_path: Path, lines: list[str]) -> None:
    """Write the log's lines atomically (it is small: one line per epoch); none: no log."""
    if lines:
        write_bytes_atomic(log_path, "".join(f"{line}\n" for line in lines).encode())
    else:
        log_path.unlink(missing_ok=True)


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """The per-epoch metrics of a run (``RUN/log.jsonl``).

    Raises:
        CheckpointError: a line is not a JSON object of numbers.
    """
    return [entry for _, entry in _read_log_lines(Path(run_dir) / "log.jsonl")]
