"""Writing a run's checkpoints: each epoch's tensors and descriptor atomically (tensors first,
so a descriptor only exists for a complete checkpoint), the ``latest.json`` / ``best.json``
pointers, and the pruning that keeps the latest few epochs and the best."""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidcolor import __version__
from vidcolor.checkpoint.layout import (
    FORMAT,
    FORMAT_VERSION,
    POINTERS,
    TENSORS_RE,
    CheckpointInfo,
    checkpoint_name,
    find_best,
    is_number,
    list_checkpoints,
    read_pointer,
    sha256,
)
from vidcolor.checkpoint.state import capture_rng
from vidcolor.fsutil import atomic_path, write_json_atomic

log = logging.getLogger(__name__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def save_checkpoint(run_dir: str | Path, info: CheckpointInfo, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None,
                    rank_states: list[torch.Tensor] | None = None, *,
                    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
                    keep: int | None = None) -> Path:
    """Write epoch ``info.epoch``'s checkpoint into ``run_dir`` atomically.

    Then ``latest.json`` names it, ``best.json`` too when its ``test_loss`` metric is the
    lowest so far, and with ``keep`` the older epochs are pruned (:func:`prune_checkpoints`).

    Args:
        run_dir: the run directory (must exist).
        info: description; ``path`` is ignored (set from ``run_dir`` and the epoch).
        model: the network (not wrapped in DistributedDataParallel).
        optimizer: its optimiser, or None to store weights only.
        rank_states: under DDP, every rank's
            :func:`~vidcolor.checkpoint.state.rank_rng_state`, by rank.
        scheduler: the learning-rate scheduler, whose state is stored for an exact resume.
        keep: keep this many latest epochs (and the best); None keeps every epoch.

    Returns:
        The JSON descriptor's path.

    Raises:
        OutputError: the run directory cannot be written, or the storage refused a write
            (full disk, ``ulimit -f``): the run is left as it was, but for a pointer file.
    """
    run = Path(run_dir)
    stem = checkpoint_name(info.epoch)
    tensor_path, json_path = run / f"{stem}.safetensors", run / f"{stem}.json"
    tensors: dict[str, torch.Tensor] = {
        f"model.{k}": v.detach().to("cpu").contiguous().clone()
        for k, v in model.state_dict().items()}
    for key, array in (("bins", info.bins), ("prior", info.prior), ("weights", info.weights)):
        if array is not None:
            tensors[key] = torch.from_numpy(np.ascontiguousarray(array))
    optim_meta: dict[str, Any] | None = None
    if optimizer is not None:
        state = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for pid, pstate in state["state"].items():
            for key, value in pstate.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optim.state.{pid}.{key}"] = value.detach().to("cpu").contiguous()
                else:
                    scalars.setdefault(str(pid), {})[key] = value
        optim_meta = {"class": type(optimizer).__name__,
                      "param_groups": _jsonable(state["param_groups"]), "scalars": scalars}
    rng_tensors, rng_scalars = capture_rng()
    tensors.update(rng_tensors)
    for rank, state in enumerate(rank_states or []):
        tensors[f"rng.rank.{rank}"] = state.to("cpu").contiguous()
    _write_tensors(tensor_path, tensors)
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "arch": info.arch,
        "variant": info.variant, "width": info.width, "num_bins": info.num_bins,
        "head": info.head, "grey": info.grey.to_dict(), "epoch": info.epoch,
        "config": _jsonable(info.config),
        "version": info.version or __version__, "metrics": _jsonable(info.metrics),
        "optimizer": optim_meta, "rng": rng_scalars,
        "scheduler": None if scheduler is None else _jsonable(scheduler.state_dict()),
        "tensors": tensor_path.name, "tensors_bytes": tensor_path.stat().st_size,
        "tensors_sha256": sha256(tensor_path),
    }
    try:
        write_json_atomic(json_path, meta)
    except BaseException:
        tensor_path.unlink(missing_ok=True)  # no descriptor vouches for them
        raise
    write_json_atomic(run / "latest.json", {"checkpoint": json_path.name, "epoch": info.epoch})
    test_loss = info.metrics.get("test_loss")
    if isinstance(test_loss, (int, float)) and math.isfinite(test_loss):
        best = _best_loss(run)
        if best is None or test_loss < best:
            write_json_atomic(run / "best.json", {"checkpoint": json_path.name,
                                                  "epoch": info.epoch, "test_loss": test_loss})
    if keep is not None:
        prune_checkpoints(run, keep)
    return json_path


def _write_tensors(tensor_path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Write a safetensors file atomically; its I/O errors become :class:`OutputError`."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    with atomic_path(tensor_path) as tmp:
        mode = tmp.stat().st_mode & 0o777  # what atomic_path gave it: the umask's default
        try:
            save_file(tensors, str(tmp), metadata={"format": FORMAT})
        except SafetensorError as exc:  # not an OSError: "... (os error 27)" in its text
            code = re.search(r"os error (\d+)", str(exc))
            reason = os.strerror(int(code.group(1))) if code else str(exc)
            raise OSError(int(code.group(1)) if code else errno.EIO, reason,
                          str(tensor_path)) from exc
        os.chmod(tmp, mode)  # safetensors writes a new file, readable by its owner only
        # on disk before the (fsynced) descriptor that vouches for it is renamed into place
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())


def _best_loss(run: Path) -> float | None:
    """The test loss ``best.json`` records, if it names a checkpoint that still exists."""
    if find_best(run) is None:
        return None
    loss = json.loads((run / "best.json").read_text()).get("test_loss")
    return float(loss) if is_number(loss) else None


def prune_checkpoints(run_dir: str | Path, keep: int) -> list[int]:
    """Delete all but the ``keep`` latest epochs, the best one and those the pointers name.

    Crash-safe: a descriptor is removed before its tensors (a descriptor never outlives them),
    and tensors whose descriptor is already gone (a crash in between) are removed too.

    Returns:
        The epochs removed.

    Raises:
        ValueError: ``keep`` < 1.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    run = Path(run_dir)
    found = list_checkpoints(run)
    kept = {path.name for _, path in found[-keep:]}
    kept |= {target.name for name in POINTERS
             if (target := read_pointer(run / name)) is not None}
    removed = []
    for epoch, descriptor in found:
        if descriptor.name not in kept:
            descriptor.unlink(missing_ok=True)
            descriptor.with_suffix(".safetensors").unlink(missing_ok=True)
            removed.append(epoch)
    for path in run.iterdir():  # tensors a crash left without their descriptor
        if TENSORS_RE.match(path.name) and not path.with_suffix(".json").exists():
            path.unlink(missing_ok=True)
    if removed:
        log.debug("%s: removed the checkpoints of epochs %s", run, removed)
    return removed

