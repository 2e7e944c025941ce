"""The training state a checkpoint carries besides the weights, for an exact resume: the
random-number states (every DDP rank's too) and the optimiser's and scheduler's state, taken
only when complete and of the run's options."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from vidcolor.checkpoint.layout import ADAM_STATE, Checkpoint, is_int, is_number
from vidcolor.errors import CheckpointError


def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The torch, CUDA, NumPy and Python RNG states as (tensors, JSON scalars)."""
    tensors = {"rng.torch": torch.get_rng_state().clone()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    name, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    version, internal, gauss_next = random.getstate()
    tensors["rng.python"] = torch.tensor(internal, dtype=torch.int64)
    scalars = {"numpy": [name, int(pos), int(has_gauss), float(cached)],
               "python": [version, gauss_next]}
    return tensors, scalars


def restore_rng(tensors: dict[str, torch.Tensor], scalars: dict[str, Any]) -> None:
    """Restore the RNG states captured by :func:`capture_rng`.

    Raises:
        KeyError, TypeError, ValueError, RuntimeError: a state is missing or malformed.
    """
    numpy_state, python_state = scalars["numpy"], scalars["python"]
    if not (isinstance(numpy_state, list) and len(numpy_state) == 4
            and numpy_state[0] == "MT19937" and is_int(numpy_state[1])
            and 0 <= numpy_state[1] <= 624 and is_int(numpy_state[2])
            and is_number(numpy_state[3])):
        raise ValueError(f"rng.numpy is {numpy_state!r}")
    if not (isinstance(python_state, list) and len(python_state) == 2 and python_state[0] == 3
            and (python_state[1] is None or is_number(python_state[1]))):
        raise ValueError(f"rng.python is {python_state!r}")
    torch.set_rng_state(tensors["rng.torch"].to(torch.uint8))
    if "rng.cuda" in tensors and torch.cuda.is_available():
        states = list(tensors["rng.cuda"].to(torch.uint8))
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
    name, pos, has_gauss, cached = scalars["numpy"]
    np.random.set_state((name, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss,
                         cached))
    version, gauss_next = scalars["python"]
    random.setstate((version, tuple(int(v) for v in tensors["rng.python"].tolist()), gauss_next))


def rank_rng_state(device: torch.device) -> torch.Tensor:
    """This process's torch RNG state, and its CUDA device's where it trains on one.

    Under DistributedDataParallel each rank draws its own dropout masks, so a resumed
    run needs every rank's state, not only rank 0's (:func:`capture_rng`).
    """
    state = torch.get_rng_state()
    if device.type == "cuda":
        state = torch.cat([state, torch.cuda.get_rng_state(device)])
    return state


def restore_rank_rng(tensors: dict[str, torch.Tensor], rank: int, device: torch.device) -> bool:
    """Restore this rank's state saved by
    :func:`~vidcolor.checkpoint.write.save_checkpoint`; False where none was saved."""
    state = tensors.get(f"rng.rank.{rank}")
    if state is None:
        return False
    state = state.to(torch.uint8)
    cpu_size = torch.get_rng_state().numel()
    torch.set_rng_state(state[:cpu_size].clone())
    if device.type == "cuda" and state.numel() > cpu_size:
        torch.cuda.set_rng_state(state[cpu_size:].clone(), device)
    return True


def _same(stored: Any, fresh: Any) -> bool:
    """Whether a value read back equals the one the run's options give, type included."""
    if isinstance(fresh, (list, tuple)):
        return (isinstance(stored, (list, tuple)) and len(stored) == len(fresh)
                and all(_same(s, f) for s, f in zip(stored, fresh, strict=True)))
    if isinstance(fresh, (int, float)) and not isinstance(fresh, bool):
        return is_number(stored) and stored == fresh
    return type(stored) is type(fresh) and stored == fresh


def _checked_state(where: str, stored: dict[str, Any], fresh: dict[str, Any],
                   progress: dict[str, Any]) -> dict[str, Any]:
    """``fresh`` (what the run's options give) with ``stored``'s progress fields.

    Every field of ``fresh`` that ``stored`` holds must equal it, but for those of
    ``progress`` (name -> check), which must be present and pass their check; fields
    ``fresh`` does not know are dropped.

    Raises:
        ValueError: naming the first field that is missing or wrong.
    """
    merged = dict(fresh)
    for key, want in fresh.items():
        if key in progress:
            if key not in stored or not progress[key](stored[key]):
                raise ValueError(f"{where}.{key} is {stored.get(key, 'missing')!r}")
            merged[key] = stored[key]
        elif key in stored and not _same(stored[key], want):
            raise ValueError(f"{where}.{key} is {stored[key]!r}, but the run's options give "
                             f"{want!r}")
    return merged


def _positive(value: Any) -> bool:
    return is_number(value) and value > 0


def restore_training_state(ckpt: Checkpoint, optimizer: torch.optim.Optimizer,
                           scheduler: torch.optim.lr_scheduler.LRScheduler | None) -> None:
    """Load a checkpoint's optimiser (and scheduler) state into fresh ones, after checking it.

    A resume is exact or refused: every parameter needs its whole Adam state; the
    hyperparameters must be the run's (``optimizer`` and ``scheduler`` are built from its
    options), and only the progress fields (learning rate, steps taken) are taken over.

    Args:
        ckpt: the loaded checkpoint (its tensors already checked by
            :func:`~vidcolor.checkpoint.read.load_checkpoint`).
        optimizer: a fresh Adam over the rebuilt network's parameters.
        scheduler: a fresh scheduler of ``optimizer``, or None to leave it alone (a
            checkpoint written before schedulers were stored).

    Raises:
        CheckpointError: the state is missing, incomplete or does not fit.
    """
    path, meta = ckpt.info.path, ckpt.meta.get("optimizer")
    if not meta:
        raise CheckpointError(f"{path}: holds no optimiser state (optimizer is null); cannot "
                              "resume exactly")
    try:
        if meta["class"] != type(optimizer).__name__:
            raise ValueError(f"optimizer.class is {meta['class']!r}, not "
                             f"{type(optimizer).__name__}")
        fresh = optimizer.state_dict()
        if len(meta["param_groups"]) != len(fresh["param_groups"]):
            raise ValueError(f"optimizer.param_groups holds {len(meta['param_groups'])} "
                             f"groups, not {len(fresh['param_groups'])}")
        groups = [_checked_state(f"optimizer.param_groups[{index}]", stored, group,
                                 {"lr": _positive})
                  for index, (stored, group) in enumerate(zip(
                      meta["param_groups"], fresh["param_groups"], strict=True))]
        state: dict[int, dict[str, Any]] = {}
        for key, value in ckpt.tensors.items():
            if key.startswith("optim.state."):
                pid, name = key[len("optim.state."):].split(".", 1)
                state.setdefault(int(pid), {})[name] = value
        for pid, scalars in meta.get("scalars", {}).items():
            for name, value in scalars.items():
                if name != "step" or not is_number(value) or value < 0:
                    raise ValueError(f"optimizer.scalars.{pid}.{name} is {value!r}")
                state.setdefault(int(pid), {})[name] = value
        params = [pid for group in fresh["param_groups"] for pid in group["params"]]
        for pid in params:
            lacking = [name for name in ADAM_STATE if name not in state.get(pid, {})]
            if lacking:
                raise ValueError(f"the optimiser state of parameter {pid} lacks "
                                 f"{', '.join(lacking)}")
        if set(state) - set(params):
            raise ValueError(f"optimiser state for unknown parameter(s) "
                             f"{sorted(set(state) - set(params))}")
        for group in groups:
            group["betas"] = tuple(group["betas"])
        optimizer.load_state_dict({"state": state, "param_groups": groups})
        if scheduler is not None:
            stored = ckpt.meta.get("scheduler")
            if not isinstance(stored, dict):
                raise ValueError("scheduler is missing")
            scheduler.load_state_dict(_checked_state(
                "scheduler", stored, scheduler.state_dict(),
                {"last_epoch": lambda v: is_int(v) and v == ckpt.info.epoch,
                 "_step_count": lambda v: is_int(v) and v >= 1,
                 "_last_lr": lambda v: isinstance(v, list) and len(v) == len(groups)
                 and all(_positive(x) for x in v)}))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: {exc}; cannot resume exactly") from exc

