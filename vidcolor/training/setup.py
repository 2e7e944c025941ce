"""The first step of a training run: data, model, optimiser, scheduler and resume point,
gathered in a :class:`TrainingRun` that the per-epoch steps share (:mod:`vidcolor.training.loop`).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vidcolor.checkpoint.layout import Checkpoint
from vidcolor.checkpoint.model import build_from_checkpoint
from vidcolor.checkpoint.state import restore_rank_rng, restore_rng, restore_training_state
from vidcolor.color.grey import GreyModel
from vidcolor.devices import resolve_device
from vidcolor.errors import CheckpointError, DatasetError, OptionError
from vidcolor.fsutil import ensure_writable_dir, write_bytes_atomic
from vidcolor.models import build_model, count_parameters, uses_rebalancing
from vidcolor.training.config import TrainConfig, check_memory
from vidcolor.training.data import EpochSampler, FrameDataset, check_crop, even_subset, make_loader
from vidcolor.training.distributed import DistInfo
from vidcolor.training.resume import prepare_run, resolve_dataset
from vidcolor.training.run_log import trim_log
from vidcolor.training.step import Accel
from vidcolor.training.targets import Targets, compute_prior

log = logging.getLogger(__name__)


@dataclass
class TrainingRun:
    """What the steps of a training run share; built by :func:`setup`."""

    config: TrainConfig
    run_dir: Path
    dataset_dir: Path
    dataset_test_episodes: list[str]
    dist: DistInfo
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
          resume: bool, switch_dataset: bool, dist_info: DistInfo, progress: bool) -> TrainingRun:
    """Data, model, optimiser, scheduler and resume point of a run (see
    :func:`~vidcolor.training.loop.train`)."""
    from vidcolor.quantize import ab_gamut

    config, ckpt = prepare_run(config, run_dir, resume)
    dataset = resolve_dataset(dataset_dir, ckpt, switch_dataset)
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
    loader = make_loader(FrameDataset(train_paths, crop=config.crop, grey=grey), sampler,
                         config.batch_size, config.workers, pin=accel.pin_memory)
    test_loader = None
    if test_paths:
        test_sampler = EpochSampler(len(test_paths), 0, dist_info.rank, dist_info.world,
                                    shuffle=False)
        test_loader = make_loader(FrameDataset(test_paths, crop=None, grey=grey), test_sampler,
                                  config.batch_size, config.workers, pin=accel.pin_memory)
    if dist_info.main:
        trim_log(run_dir / "log.jsonl", start_epoch)
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


def _split_paths(dataset: Path, config: TrainConfig, ckpt: Checkpoint | None, switch: bool
                 ) -> tuple[list[Path], list[Path], list[str]]:
    """Training and test frames (limited as configured) and the dataset's test episodes.

    On resume the test episodes must be those the run was trained with, unless ``switch``.
    """
    from vidcolor.dataset.reader import load_split, read_meta

    train_paths = even_subset(load_split(dataset, "train"), config.max_images)
    check_crop(train_paths, config.crop)
    test_episodes = list(read_meta(dataset).get("test_episodes") or [])
    recorded = ckpt.info.config.get("dataset_test_episodes") if ckpt is not None else None
    if recorded is not None and sorted(recorded) != sorted(test_episodes) and not switch:
        raise DatasetError(f"{dataset}: its test episodes are now {test_episodes}, the run "
                           f"was trained with {recorded} held out; add --switch-dataset to "
                           "train on it anyway")
    try:
        test_paths = even_subset(load_split(dataset, "test"), config.max_test_images)
    except DatasetError as exc:
        log.warning("no test-split loss: %s", exc)
        test_paths = []
    return train_paths, test_paths, test_episodes


def _grey_model(dataset: Path, ckpt: Checkpoint | None, switch: bool) -> GreyModel:
    """The dataset's grey model; on resume it must be the run's (unless ``switch``).

    Raises:
        DatasetError: on resume, the dataset's grey model is not the run's.
    """
    from vidcolor.dataset.reader import dataset_grey_model

    grey = dataset_grey_model(dataset)
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
                       device: torch.device, dist_info: DistInfo, progress: bool
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
               dist_info: DistInfo, device: torch.device
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

