"""Training of the colourisation networks (SPEC §6, thesis ch. 7), single process or DDP.

:func:`train` runs Adam (lr 1e-3, β 0.9/0.999, × 0.3 every 15 epochs by ``StepLR``) on random
crops and mirrors of the dataset's 256×256 training frames, with an effective batch of
micro-batch × accumulation (× processes under ``torchrun``). It reads as named steps, in the
shape of the torchvision references: :func:`vidcolor.training.setup.setup` (data, model,
optimiser, scheduler, resume point), then per epoch :func:`train_one_epoch`,
:func:`test_loss` and :func:`save`.

Determinism: dropout draws from the global torch RNG (seeded per rank under DDP), which
checkpoints save and restore for every rank, with the optimiser's and the scheduler's state;
the data stream is seeded apart (:mod:`vidcolor.training.data`). On the CPU a resumed run
therefore reproduces an uninterrupted one exactly.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidcolor import __version__
from vidcolor.checkpoint.layout import CheckpointInfo, find_latest
from vidcolor.checkpoint.write import save_checkpoint
from vidcolor.errors import DeviceError, TrainingError, VidcolorError
from vidcolor.fsutil import ensure_writable_dir, exclusive
from vidcolor.training.config import TrainConfig, default_run_dir
from vidcolor.training.data import batches
from vidcolor.training.distributed import (
    DistInfo,
    all_reduce_sum,
    finish_distributed,
    gather_rng_states,
    init_distributed,
)
from vidcolor.training.run_log import read_log_lines, write_log
from vidcolor.training.setup import TrainingRun, setup
from vidcolor.training.step import compute_loss, micro_step

log = logging.getLogger(__name__)


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
        for step, batch in enumerate(batches(run.loader)):
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
    total_loss, seen_all = all_reduce_sum([total_loss, float(seen)], dist_info,
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
            for batch in batches(run.test_loader):
                loss = compute_loss(model, accel.to_device(batch), targets.bins, targets.weights,
                                    targets.head, accel.autocast, accel.channels_last)
                total += loss.double() * batch.shape[0]
                count += batch.shape[0]
    except torch.OutOfMemoryError as exc:
        raise _oom_error(run.config) from exc
    finally:
        model.train(was_training)
    summed, seen = all_reduce_sum([float(total), float(count)], run.dist, accel.device)
    return summed / seen if seen else None


test_loss.__test__ = False  # a training step, not a test for pytest to collect


def save(run: TrainingRun, epoch: int, metrics: dict[str, Any]) -> None:
    """Checkpoint finished ``epoch`` (1-based), log its metrics, prune old checkpoints.

    A collective under DDP (every rank's RNG state is gathered); rank 0 writes.
    """
    rank_states = gather_rng_states(run.dist, run.accel.device)
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
    previous = [line for line, _ in read_log_lines(log_path)]
    write_log(log_path, [*previous, json.dumps(metrics)])
    try:
        save_checkpoint(run.run_dir, info, run.model, run.optimizer, rank_states,
                        scheduler=run.scheduler, keep=config.keep_checkpoints)
    except BaseException:
        with contextlib.suppress(VidcolorError, OSError):
            write_log(log_path, previous)
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
def _run_lock(run_dir: Path, dist_info: DistInfo) -> Iterator[None]:
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
    dist_info = init_distributed(config.device)
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
    finish_distributed(dist_info)
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

