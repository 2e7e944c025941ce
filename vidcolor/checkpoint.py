"""Self-describing training checkpoints: safetensors for tensors, JSON for everything else.

A run directory holds one pair of files per finished epoch::

    RUN/epoch-0003.safetensors   model.*  (state dict), optim.state.<param>.<key> (Adam moments),
                                 bins, prior, weights, rng.torch, rng.cuda, rng.numpy, rng.python,
                                 rng.rank.<r> (each DDP rank's torch [+ CUDA] state)
    RUN/epoch-0003.json          format, arch, variant, width, num_bins, head, epoch, config,
                                 version, optimiser param groups and scalar state, RNG scalars,
                                 metrics, and the size and SHA-256 of the safetensors file
    RUN/latest.json              {"checkpoint": "epoch-0003.json", "epoch": 3}

The tensor file is written first and the JSON last, each atomically, so a JSON descriptor only
exists for a complete checkpoint; :func:`find_latest` picks the highest epoch with a descriptor.
Nothing is unpickled and no code runs on load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidcolor import __version__
from vidcolor.errors import CheckpointError, DeviceError
from vidcolor.fsutil import atomic_path, write_json_atomic

log = logging.getLogger(__name__)

FORMAT = "vidcolor-checkpoint"
FORMAT_VERSION = 1
_EPOCH_RE = re.compile(r"^epoch-(\d{4,})\.json$")


@dataclass
class CheckpointInfo:
    """What a checkpoint says about itself.

    Attributes:
        arch: ``"plain"`` or ``"residual"``.
        variant: ``"rebalance"``, ``"no-rebalance"``, ``"dropout"`` or ``"l2"``.
        width: channel multiplier.
        bins: ab bin centres (Q, 2) float32, or None for the ``l2`` variant.
        prior: empirical bin distribution of the training split (Q,), or None for ``l2``.
        weights: rebalancing weights (Q,), or None for ``l2``.
        epoch: number of finished epochs.
        config: the full training configuration (``TrainConfig`` as a dict).
        version: vidcolor version that wrote it.
        path: the checkpoint's ``.safetensors`` file.
        num_bins: Q the network was built with.
        head: ``"histogram"`` (bin logits) or ``"ab"`` (ab directly).
        metrics: the epoch's ``train_loss`` / ``test_loss``.
    """

    arch: str
    variant: str
    width: float
    bins: np.ndarray | None
    prior: np.ndarray | None
    weights: np.ndarray | None
    epoch: int
    config: dict[str, Any]
    version: str
    path: Path
    num_bins: int = 0
    head: str = "histogram"
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class Checkpoint:
    """A loaded checkpoint: its description, its tensors (on CPU) and its raw JSON."""

    info: CheckpointInfo
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``auto``/``cpu``/``cuda``/``cuda:N`` into a device that exists.

    Raises:
        DeviceError: CUDA requested but not available.
    """
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise DeviceError(f"unknown device {name!r}; use auto, cpu or cuda") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} requested but CUDA is not available on this "
                              "machine; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device {name!r} requested but only "
                              f"{torch.cuda.device_count()} CUDA device(s) exist")
    elif dev.type != "cpu":
        raise DeviceError(f"unsupported device {name!r}; use auto, cpu or cuda")
    return dev


def checkpoint_name(epoch: int) -> str:
    """File stem of the checkpoint of ``epoch`` (1-based): ``epoch-0003``."""
    return f"epoch-{epoch:04d}"


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(epoch, JSON path) of every checkpoint descriptor in ``run_dir``, by epoch."""
    run = Path(run_dir)
    if not run.is_dir():
        return []
    found = []
    for path in run.iterdir():
        match = _EPOCH_RE.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def find_latest(run_dir: str | Path) -> Path | None:
    """JSON descriptor of the highest finished epoch in ``run_dir``, or None if there is none."""
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    """Restore the RNG states captured by :func:`capture_rng`."""
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
    """Restore this rank's state saved by :func:`save_checkpoint`; False where none was saved."""
    state = tensors.get(f"rng.rank.{rank}")
    if state is None:
        return False
    state = state.to(torch.uint8)
    cpu_size = torch.get_rng_state().numel()
    torch.set_rng_state(state[:cpu_size].clone())
    if device.type == "cuda" and state.numel() > cpu_size:
        torch.cuda.set_rng_state(state[cpu_size:].clone(), device)
    return True


def save_checkpoint(run_dir: str | Path, info: CheckpointInfo, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None,
                    rank_states: list[torch.Tensor] | None = None) -> Path:
    """Write epoch ``info.epoch``'s checkpoint into ``run_dir`` atomically.

    Args:
        run_dir: the run directory (must exist).
        info: description; ``path`` is ignored (set from ``run_dir`` and the epoch).
        model: the network (not wrapped in DistributedDataParallel).
        optimizer: its optimiser, or None to store weights only.
        rank_states: under DDP, every rank's :func:`rank_rng_state`, by rank.

    Returns:
        The JSON descriptor's path.

    Raises:
        OutputError: the run directory cannot be written.
    """
    from safetensors.torch import save_file

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
    with atomic_path(tensor_path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
        # on disk before the (fsynced) descriptor that vouches for it is renamed into place
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "arch": info.arch,
        "variant": info.variant, "width": info.width, "num_bins": info.num_bins,
        "head": info.head, "epoch": info.epoch, "config": _jsonable(info.config),
        "version": info.version or __version__, "metrics": _jsonable(info.metrics),
        "optimizer": optim_meta, "rng": rng_scalars,
        "tensors": tensor_path.name, "tensors_bytes": tensor_path.stat().st_size,
        "tensors_sha256": _sha256(tensor_path),
    }
    write_json_atomic(json_path, meta)
    write_json_atomic(run / "latest.json", {"checkpoint": json_path.name, "epoch": info.epoch})
    return json_path


def _descriptor_path(path: str | Path) -> Path:
    """JSON descriptor for a run directory, a ``.json`` or a ``.safetensors`` path."""
    path = Path(path)
    if path.is_dir():
        latest = find_latest(path)
        if latest is None:
            raise CheckpointError(f"{path}: no checkpoint in this run directory "
                                  "(no epoch-NNNN.json)")
        return latest
    if path.suffix == ".safetensors":
        path = path.with_suffix(".json")
    elif path.suffix != ".json":
        raise CheckpointError(f"{path}: not a vidcolor checkpoint (expected a run directory, "
                              "a .json or a .safetensors file)")
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    return path


def load_checkpoint(path: str | Path, *, verify: bool = True) -> Checkpoint:
    """Read and validate a checkpoint (tensors stay on the CPU).

    Args:
        path: a run directory (its latest checkpoint), or a checkpoint's ``.json`` or
            ``.safetensors`` file.
        verify: check the tensor file's SHA-256 against the descriptor.

    Raises:
        CheckpointError: not a vidcolor checkpoint, missing, truncated or corrupt.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    json_path = _descriptor_path(path)
    try:
        meta = json.loads(json_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{json_path}: corrupt checkpoint descriptor ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{json_path}: not a vidcolor checkpoint")
    format_version = meta.get("format_version", 0)
    if not isinstance(format_version, int):
        raise CheckpointError(f"{json_path}: incomplete checkpoint descriptor (format_version "
                              f"{format_version!r})")
    if format_version > FORMAT_VERSION:
        raise CheckpointError(f"{json_path}: written by a newer vidcolor "
                              f"({meta.get('version')}); upgrade vidcolor")
    tensor_name = meta.get("tensors")
    # a bare file name beside the descriptor: never a path that leads elsewhere
    if (not isinstance(tensor_name, str) or not tensor_name.endswith(".safetensors")
            or Path(tensor_name).name != tensor_name or "\\" in tensor_name):
        raise CheckpointError(f"{json_path}: incomplete checkpoint descriptor (tensors "
                              f"{tensor_name!r})")
    tensor_path = json_path.with_name(tensor_name)
    if not tensor_path.is_file():
        raise CheckpointError(f"{tensor_path}: checkpoint tensors missing")
    if tensor_path.stat().st_size != meta.get("tensors_bytes"):
        raise CheckpointError(f"{tensor_path}: truncated or altered checkpoint "
                              f"({tensor_path.stat().st_size} bytes, expected "
                              f"{meta.get('tensors_bytes')})")
    if verify and _sha256(tensor_path) != meta.get("tensors_sha256"):
        raise CheckpointError(f"{tensor_path}: corrupt checkpoint (checksum mismatch)")
    try:
        tensors = load_file(str(tensor_path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{tensor_path}: corrupt checkpoint ({exc})") from exc

    def array(key: str) -> np.ndarray | None:
        return tensors[key].numpy() if key in tensors else None

    try:
        info = CheckpointInfo(
            arch=str(meta["arch"]), variant=str(meta["variant"]), width=float(meta["width"]),
            bins=array("bins"), prior=array("prior"), weights=array("weights"),
            epoch=int(meta["epoch"]), config=dict(meta["config"]), version=str(meta["version"]),
            path=tensor_path, num_bins=int(meta["num_bins"]), head=str(meta["head"]),
            metrics=dict(meta.get("metrics") or {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{json_path}: incomplete checkpoint descriptor ({exc})") from exc
    return Checkpoint(info=info, tensors=tensors, meta=meta)


def model_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The model's state dict out of a checkpoint's tensors."""
    return {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}


def build_from_checkpoint(ckpt: Checkpoint) -> nn.Module:
    """Rebuild the network a checkpoint describes and load its weights (CPU, train mode).

    Raises:
        CheckpointError: the weights do not fit the described network.
    """
    from vidcolor.models import build_model

    info = ckpt.info
    try:
        model = build_model(info.arch, info.variant, info.width, info.num_bins)
    except ValueError as exc:
        raise CheckpointError(f"{info.path}: {exc}") from exc
    try:
        model.load_state_dict(model_state(ckpt.tensors), strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{info.path}: weights do not match a {info.arch} network of "
                              f"width {info.width} ({first})") from exc
    return model


def optimizer_state(ckpt: Checkpoint) -> dict[str, Any]:
    """Rebuild an optimiser state dict from a checkpoint's tensors and JSON.

    Raises:
        CheckpointError: the checkpoint holds no optimiser state.
    """
    meta = ckpt.meta.get("optimizer")
    if not meta:
        raise CheckpointError(f"{ckpt.info.path}: holds no optimiser state; cannot resume")
    state: dict[int, dict[str, Any]] = {}
    for key, value in ckpt.tensors.items():
        if key.startswith("optim.state."):
            pid, name = key[len("optim.state."):].split(".", 1)
            state.setdefault(int(pid), {})[name] = value
    for pid, scalars in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(scalars)
    groups = []
    for group in meta["param_groups"]:
        group = dict(group)
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    return {"state": state, "param_groups": groups}


def load_model(path: str | Path, device: str | torch.device = "cpu"
               ) -> tuple[nn.Module, CheckpointInfo]:
    """Load a trained network for inference.

    Args:
        path: a run directory (its latest checkpoint), or a checkpoint ``.json`` /
            ``.safetensors`` file.
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.

    Returns:
        ``(model, info)``: the network in eval mode on ``device``, and its description.

    Raises:
        CheckpointError: not a vidcolor checkpoint, missing, truncated or corrupt.
        DeviceError: the device is not available.
    """
    dev = resolve_device(device)
    ckpt = load_checkpoint(path)
    model = build_from_checkpoint(ckpt).to(dev).eval()
    return model, ckpt.info
