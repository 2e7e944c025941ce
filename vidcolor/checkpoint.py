"""Self-describing training checkpoints: safetensors for tensors, JSON for everything else.

A run directory holds one pair of files per kept epoch::

    RUN/epoch-0003.safetensors   model.*  (state dict), optim.state.<param>.<key> (Adam moments),
                                 bins, prior, weights, rng.torch, rng.cuda, rng.numpy, rng.python,
                                 rng.rank.<r> (each DDP rank's torch [+ CUDA] state)
    RUN/epoch-0003.json          format, arch, variant, width, num_bins, head, grey (the
                                 grey model of the network's input; absent: luminance),
                                 epoch, config, version, optimiser param groups and scalar
                                 state, learning-rate scheduler state, RNG scalars, metrics,
                                 and the size and SHA-256 of the safetensors file
    RUN/latest.json              {"checkpoint": "epoch-0003.json", "epoch": 3}
    RUN/best.json                {"checkpoint": "epoch-0002.json", "epoch": 2, "test_loss": ...}

The tensor file is written first and the JSON last, each atomically, so a JSON descriptor only
exists for a complete checkpoint; :func:`find_latest` picks the highest epoch with a descriptor
(what ``latest.json`` names), :func:`find_best` what ``best.json`` names: the epoch of the
lowest test loss. Only the latest few epochs and the best are kept (:func:`prune_checkpoints`);
an old epoch loses its descriptor before its tensors, so a crash never leaves a descriptor
without tensors. Nothing read back is trusted: every field of a descriptor, and every tensor's
name, dtype, shape and values (finite, in range) against the network the descriptor describes
(sized first on the meta device, so a forged size allocates nothing), is checked on load
(:class:`CheckpointError` naming the file and the field); a resume takes the optimiser's and
scheduler's state only when complete and of the run's options. Nothing is unpickled and no code
runs on load.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import math
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
from vidcolor.color.grey import GreyModel, grey_model_from_dict
from vidcolor.errors import CheckpointError, DeviceError
from vidcolor.fsutil import atomic_path, read_regular, write_json_atomic

log = logging.getLogger(__name__)

FORMAT = "vidcolor-checkpoint"
FORMAT_VERSION = 1
_EPOCH_RE = re.compile(r"^epoch-(\d{4,})\.json$")
_TENSORS_RE = re.compile(r"^epoch-(\d{4,})\.safetensors$")
#: Files that name a run's latest and best checkpoints.
POINTERS = ("latest.json", "best.json")
HEADS = ("histogram", "ab")


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
        grey: the grey model the network's input was made with (the training dataset's;
            luminance for runs that predate the record).
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
    grey: GreyModel = field(default_factory=lambda: GreyModel.named("luminance"))


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


def _read_pointer(path: Path) -> Path | None:
    """The descriptor a ``latest.json``/``best.json`` names, or None if it is absent or bad
    (a pointer is a regular file of a few bytes: a pipe or a huge file is not read)."""
    try:
        if not path.is_file() or path.stat().st_size > 4096:
            return None
        name = json.loads(path.read_text())["checkpoint"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    if not isinstance(name, str) or not _EPOCH_RE.match(name):
        return None
    return path.with_name(name)


def find_best(run_dir: str | Path) -> Path | None:
    """JSON descriptor of the epoch with the lowest test loss (``best.json``), or None."""
    target = _read_pointer(Path(run_dir) / "best.json")
    return target if target is not None and target.is_file() else None


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
    """Restore the RNG states captured by :func:`capture_rng`.

    Raises:
        KeyError, TypeError, ValueError, RuntimeError: a state is missing or malformed.
    """
    numpy_state, python_state = scalars["numpy"], scalars["python"]
    if not (isinstance(numpy_state, list) and len(numpy_state) == 4
            and numpy_state[0] == "MT19937" and _is_int(numpy_state[1])
            and 0 <= numpy_state[1] <= 624 and _is_int(numpy_state[2])
            and _is_number(numpy_state[3])):
        raise ValueError(f"rng.numpy is {numpy_state!r}")
    if not (isinstance(python_state, list) and len(python_state) == 2 and python_state[0] == 3
            and (python_state[1] is None or _is_number(python_state[1]))):
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
        rank_states: under DDP, every rank's :func:`rank_rng_state`, by rank.
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
        "tensors_sha256": _sha256(tensor_path),
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
    return float(loss) if _is_number(loss) else None


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
             if (target := _read_pointer(run / name)) is not None}
    removed = []
    for epoch, descriptor in found:
        if descriptor.name not in kept:
            descriptor.unlink(missing_ok=True)
            descriptor.with_suffix(".safetensors").unlink(missing_ok=True)
            removed.append(epoch)
    for path in run.iterdir():  # tensors a crash left without their descriptor
        if _TENSORS_RE.match(path.name) and not path.with_suffix(".json").exists():
            path.unlink(missing_ok=True)
    if removed:
        log.debug("%s: removed the checkpoints of epochs %s", run, removed)
    return removed


def _descriptor_path(path: str | Path) -> Path:
    """JSON descriptor for a run directory, a ``.json``/``.safetensors`` file or a pointer.

    A run directory gives its latest checkpoint; ``latest.json`` and ``best.json`` give the
    checkpoint they name.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder")
    if path.is_dir():
        latest = find_latest(path)
        if latest is None:
            raise CheckpointError(f"{path}: no checkpoint in this run directory "
                                  "(no epoch-NNNN.json)")
        return latest
    if path.name in POINTERS:
        target = _read_pointer(path)
        if target is None:
            raise CheckpointError(f"{path}: damaged (it should name an epoch-NNNN.json)")
        if not target.is_file():
            raise CheckpointError(f"{path}: names {target.name}, which is missing")
        return target
    if path.suffix == ".safetensors":
        path = path.with_suffix(".json")
    elif path.suffix != ".json":
        raise CheckpointError(f"{path}: not a vidcolor checkpoint (expected a run directory, "
                              "a .json or a .safetensors file)")
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint descriptor missing")
    return path


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(
        value)


#: A descriptor is a few kB; anything far larger is not one (and is not read into memory).
_MAX_DESCRIPTOR_BYTES = 16 << 20
#: Adam's state per parameter: a step count and two moments of the parameter's shape.
ADAM_STATE = ("step", "exp_avg", "exp_avg_sq")
_TENSOR_KEY_RE = re.compile(r"^(?:model\.[\w.]+|bins|prior|weights|optim\.state\.(\d+)\.(\w+)"
                            r"|rng\.(?:torch|cuda|numpy|python|rank\.\d+))$")


def _validate_descriptor(json_path: Path, meta: dict[str, Any]) -> None:
    """Check every field of a descriptor's JSON; CheckpointError names the file and field."""
    from vidcolor.models import MAX_NUM_BINS, MAX_WIDTH, VARIANTS

    def bad(name: str, rule: str) -> CheckpointError:
        field, _, key = name.partition(".")  # metrics.<key>: one metric
        value = meta[field][key] if key else meta.get(field)
        return CheckpointError(f"{json_path}: invalid checkpoint descriptor: {name} is "
                               f"{value!r} ({rule})")

    arch = meta.get("arch")
    metrics = meta.get("metrics")
    optimizer = meta.get("optimizer")
    checks = [
        ("arch", arch in VARIANTS, f"must be one of {', '.join(VARIANTS)}"),
        ("variant", meta.get("variant") in VARIANTS.get(arch, ()),
         f"must be one of {', '.join(VARIANTS.get(arch, ()))}"),
        ("width", _is_number(meta.get("width")) and 0 < meta["width"] <= MAX_WIDTH,
         f"must be a positive number, at most {MAX_WIDTH:g}"),
        ("head", meta.get("head") in HEADS, f"must be one of {', '.join(HEADS)}"),
        # the ab head has no bins: its num_bins is unused, and 0 where a writer said "none"
        ("num_bins", _is_int(meta.get("num_bins")) and (
            0 if meta.get("head") == "ab" else 1) <= meta["num_bins"] <= MAX_NUM_BINS,
         f"must be an integer >= {0 if meta.get('head') == 'ab' else 1}, at most "
         f"{MAX_NUM_BINS}"),
        ("head", (meta.get("head") == "ab") == (meta.get("variant") == "l2"),
         "the l2 variant predicts ab, the others histograms"),
        ("epoch", _is_int(meta.get("epoch")) and meta.get("epoch", 0) >= 1,
         "must be an integer >= 1"),
        ("config", isinstance(meta.get("config"), dict), "must be a mapping"),
        ("version", isinstance(meta.get("version"), str), "must be a string"),
        ("metrics", metrics is None or isinstance(metrics, dict),
         "must be a mapping of numbers"),
        ("tensors_bytes", _is_int(meta.get("tensors_bytes")) and meta["tensors_bytes"] > 0,
         "must be a positive integer"),
        ("tensors_sha256", isinstance(meta.get("tensors_sha256"), str)
         and re.fullmatch(r"[0-9a-f]{64}", meta["tensors_sha256"]) is not None,
         "must be a SHA-256 in hex"),
        ("optimizer", optimizer is None or (
            isinstance(optimizer, dict) and isinstance(optimizer.get("class"), str)
            and isinstance(optimizer.get("param_groups"), list)
            and all(isinstance(g, dict) for g in optimizer["param_groups"])
            and isinstance(optimizer.get("scalars", {}), dict)
            and all(re.fullmatch(r"\d+", pid) and isinstance(values, dict)
                    for pid, values in optimizer.get("scalars", {}).items())),
         "must be null or a mapping with a class, a list of param_groups and scalars by "
         "parameter"),
        ("scheduler", isinstance(meta.get("scheduler"), (dict, type(None))),
         "must be null or a mapping"),
    ]
    for key, value in (metrics or {}).items():
        if not (value is None or _is_number(value)):
            checks.append((f"metrics.{key}", False, "must be a finite number or null"))
    named = _EPOCH_RE.match(json_path.name)
    if named:
        checks.append(("epoch", meta.get("epoch") == int(named.group(1)),
                       f"but the file is {json_path.name}"))
    for name, ok, rule in checks:
        if not ok:
            raise bad(name, rule)
    try:
        descriptor_grey(meta)
    except ValueError as exc:  # the message shows the field, not a whole tone table
        raise CheckpointError(f"{json_path}: invalid checkpoint descriptor: {exc}") from None


def read_descriptor(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The JSON descriptor of a checkpoint (see :func:`load_checkpoint` for ``path``), checked
    field by field; the tensors are not read.

    Raises:
        CheckpointError: no such checkpoint, not a vidcolor checkpoint, or a bad field.
    """
    json_path = _descriptor_path(path)
    try:
        raw = read_regular(json_path, _MAX_DESCRIPTOR_BYTES)
    except ValueError as exc:  # a pipe would block, a device never end, a huge file fill memory
        raise CheckpointError(f"{json_path}: {exc}: not a checkpoint descriptor") from None
    except OSError as exc:
        raise CheckpointError(f"{json_path}: corrupt checkpoint descriptor ({exc})") from exc
    if raw is None:
        raise CheckpointError(f"{json_path}: checkpoint descriptor missing")
    try:
        meta = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{json_path}: corrupt checkpoint descriptor ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{json_path}: not a vidcolor checkpoint")
    format_version = meta.get("format_version", 0)
    if not _is_int(format_version):
        raise CheckpointError(f"{json_path}: incomplete checkpoint descriptor (format_version "
                              f"{format_version!r})")
    if format_version > FORMAT_VERSION:
        raise CheckpointError(f"{json_path}: written by a newer vidcolor "
                              f"({meta.get('version')}); upgrade vidcolor")
    _validate_descriptor(json_path, meta)
    return json_path, meta


def _network_spec(json_path: Path, meta: dict[str, Any]) -> nn.Module:
    """The described network on the meta device (shapes and dtypes, no memory), after
    checking that the tensor file is of a size this network's checkpoint can have."""
    from vidcolor.models import build_model

    spec = build_model(meta["arch"], meta["variant"], meta["width"], meta["num_bins"],
                       device="meta")
    weights = spec.state_dict().values()
    weight_bytes = sum(t.numel() * t.element_size() for t in weights)
    # weights, Adam's two moments and step counts, the gamut's three arrays, RNG states
    most = 3 * weight_bytes + 16 * len(weights) + 32 * meta["num_bins"] + (16 << 20)
    if not weight_bytes < meta["tensors_bytes"] <= most:
        raise CheckpointError(
            f"{json_path}: tensors_bytes is {meta['tensors_bytes']}, but a {meta['arch']} "
            f"network of width {meta['width']:g} has {weight_bytes} bytes of weights (its "
            f"checkpoint holds {weight_bytes + 1} to {most} bytes)")
    return spec


def _expected_tensor(key: str, model: dict[str, torch.Tensor], params: list[torch.Tensor],
                     num_bins: int) -> tuple[tuple[torch.dtype, ...], tuple[int, ...] | None]:
    """The dtypes a checkpoint tensor may have and its shape (None: any 1-D or 2-D size).

    Raises:
        KeyError: no such tensor belongs in a checkpoint of this network.
    """
    match = _TENSOR_KEY_RE.match(key)
    if match is None:
        raise KeyError(key)
    floats = (torch.float32, torch.float64)
    if key.startswith("model."):
        spec = model[key[len("model."):]]
        return (spec.dtype,), tuple(spec.shape)
    if key in ("bins", "prior", "weights"):
        return floats, (num_bins, 2) if key == "bins" else (num_bins,)
    if match.group(1) is not None:  # optim.state.<parameter>.<name>
        pid, name = int(match.group(1)), match.group(2)
        if pid >= len(params) or name not in ADAM_STATE:
            raise KeyError(key)
        return (torch.float32,), () if name == "step" else tuple(params[pid].shape)
    if key in ("rng.numpy", "rng.python"):
        return (torch.int64,), (624,) if key == "rng.numpy" else (625,)
    return (torch.uint8,), None  # rng.torch, rng.cuda, rng.rank.<r>: opaque generator bytes


def _validate_tensors(path: Path, meta: dict[str, Any], tensors: dict[str, torch.Tensor],
                      spec: nn.Module) -> None:
    """Check every tensor's name, dtype, shape and values against the described network."""
    model = spec.state_dict()
    params = list(spec.parameters())
    missing = sorted(f"model.{k}" for k in model if f"model.{k}" not in tensors)
    if missing:
        raise CheckpointError(f"{path}: weights do not match a {meta['arch']} network of width "
                              f"{meta['width']:g}: tensor {missing[0]} is missing"
                              f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}")
    if meta["head"] == "histogram" and "bins" not in tensors:
        raise CheckpointError(f"{path}: a histogram checkpoint without its bins tensor")
    for key, tensor in tensors.items():
        try:
            dtypes, shape = _expected_tensor(key, model, params, meta["num_bins"])
        except KeyError:
            raise CheckpointError(f"{path}: unexpected tensor {key!r} (not part of a "
                                  f"{meta['arch']} network of width {meta['width']:g})"
                                  ) from None
        if tensor.dtype not in dtypes:
            raise CheckpointError(f"{path}: tensor {key} is {tensor.dtype}, expected "
                                  f"{' or '.join(str(d) for d in dtypes)}")
        if shape is not None and tuple(tensor.shape) != shape:
            raise CheckpointError(f"{path}: tensor {key} has shape {tuple(tensor.shape)}, "
                                  f"expected {shape} (num_bins {meta['num_bins']}, width "
                                  f"{meta['width']:g})")
        if shape is None and tensor.dim() != (2 if key == "rng.cuda" else 1):
            raise CheckpointError(f"{path}: tensor {key} has shape {tuple(tensor.shape)}")
        problem = _value_problem(key, tensor)
        if problem:
            raise CheckpointError(f"{path}: tensor {key} {problem}")


def _value_problem(key: str, tensor: torch.Tensor) -> str | None:
    """What is wrong with the values of a tensor of the right dtype and shape, or None."""
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        return "holds values that are not finite (NaN or inf)"
    bounds = {"prior": (0, 1), "bins": (-128, 128), "rng.numpy": (0, 2**32 - 1),
              "rng.python": (0, 2**32)}.get(key)
    if bounds is None and (key == "weights" or key.endswith((
            ".running_var", ".num_batches_tracked", ".step", ".exp_avg_sq"))):
        bounds = (0, math.inf)  # counts, variances and rebalancing weights
    if bounds is None or tensor.numel() == 0:
        return None
    smallest, largest = tensor.min().item(), tensor.max().item()
    if key == "weights" and smallest <= 0:
        return f"holds {smallest}: rebalancing weights must be positive"
    if not bounds[0] <= smallest <= largest <= bounds[1]:
        return f"holds values from {smallest} to {largest}, outside [{bounds[0]}, {bounds[1]}]"
    return None


def load_checkpoint(path: str | Path, *, verify: bool = True) -> Checkpoint:
    """Read and validate a checkpoint (tensors stay on the CPU).

    Nothing in it is trusted: the descriptor's fields are checked first, the network it
    describes is sized on the meta device (no memory) and must match the tensor file's size,
    and every tensor's name, dtype, shape and values (finite, in range) are checked against
    that network before anything is built from them.

    Args:
        path: a run directory (its latest checkpoint), its ``latest.json`` or ``best.json``,
            or a checkpoint's ``.json`` or ``.safetensors`` file.
        verify: check the tensor file's SHA-256 against the descriptor.

    Raises:
        CheckpointError: no such file, not a vidcolor checkpoint, a descriptor field of the
            wrong type or range, tensors missing, truncated, corrupt, of the wrong dtype or
            shape, or holding values that are not finite or out of range.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    json_path, meta = read_descriptor(path)
    tensor_name = meta.get("tensors")
    # a bare file name beside the descriptor: never a path that leads elsewhere
    if (not isinstance(tensor_name, str) or not tensor_name.endswith(".safetensors")
            or Path(tensor_name).name != tensor_name or "\\" in tensor_name):
        raise CheckpointError(f"{json_path}: incomplete checkpoint descriptor (tensors "
                              f"{tensor_name!r})")
    spec = _network_spec(json_path, meta)
    tensor_path = json_path.with_name(tensor_name)
    if not tensor_path.is_file():
        raise CheckpointError(f"{tensor_path}: checkpoint tensors missing")
    if tensor_path.stat().st_size != meta["tensors_bytes"]:
        raise CheckpointError(f"{tensor_path}: truncated or altered checkpoint "
                              f"({tensor_path.stat().st_size} bytes, expected "
                              f"{meta.get('tensors_bytes')})")
    if verify and _sha256(tensor_path) != meta.get("tensors_sha256"):
        raise CheckpointError(f"{tensor_path}: corrupt checkpoint (checksum mismatch)")
    try:
        tensors = load_file(str(tensor_path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{tensor_path}: corrupt checkpoint ({exc})") from exc

    _validate_tensors(tensor_path, meta, tensors, spec)

    def array(key: str) -> np.ndarray | None:
        return tensors[key].numpy() if key in tensors else None

    info = CheckpointInfo(
        arch=meta["arch"], variant=meta["variant"], width=float(meta["width"]),
        bins=array("bins"), prior=array("prior"), weights=array("weights"),
        epoch=meta["epoch"], config=dict(meta["config"]), version=meta["version"],
        path=tensor_path, num_bins=meta["num_bins"], head=meta["head"],
        metrics=dict(meta.get("metrics") or {}), grey=descriptor_grey(meta))
    return Checkpoint(info=info, tensors=tensors, meta=meta)


def descriptor_grey(meta: dict[str, Any]) -> GreyModel:
    """The grey model of a checked descriptor (luminance where it records none)."""
    return grey_model_from_dict(meta.get("grey", {"name": "luminance"}))


def read_grey_model(path: str | Path) -> GreyModel:
    """The grey model a run's (or a checkpoint's) network was trained on, from its descriptor
    alone (the tensors are not read).

    Raises:
        CheckpointError: as :func:`read_descriptor`.
    """
    return descriptor_grey(read_descriptor(path)[1])


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


def _same(stored: Any, fresh: Any) -> bool:
    """Whether a value read back equals the one the run's options give, type included."""
    if isinstance(fresh, (list, tuple)):
        return (isinstance(stored, (list, tuple)) and len(stored) == len(fresh)
                and all(_same(s, f) for s, f in zip(stored, fresh, strict=True)))
    if isinstance(fresh, (int, float)) and not isinstance(fresh, bool):
        return _is_number(stored) and stored == fresh
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
    return _is_number(value) and value > 0


def restore_training_state(ckpt: Checkpoint, optimizer: torch.optim.Optimizer,
                           scheduler: torch.optim.lr_scheduler.LRScheduler | None) -> None:
    """Load a checkpoint's optimiser (and scheduler) state into fresh ones, after checking it.

    A resume is exact or refused: every parameter needs its whole Adam state; the
    hyperparameters must be the run's (``optimizer`` and ``scheduler`` are built from its
    options), and only the progress fields (learning rate, steps taken) are taken over.

    Args:
        ckpt: the loaded checkpoint (its tensors already checked by :func:`load_checkpoint`).
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
                if name != "step" or not _is_number(value) or value < 0:
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
                {"last_epoch": lambda v: _is_int(v) and v == ckpt.info.epoch,
                 "_step_count": lambda v: _is_int(v) and v >= 1,
                 "_last_lr": lambda v: isinstance(v, list) and len(v) == len(groups)
                 and all(_positive(x) for x in v)}))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: {exc}; cannot resume exactly") from exc


def load_model(path: str | Path, device: str | torch.device = "cpu"
               ) -> tuple[nn.Module, CheckpointInfo]:
    """Load a trained network for inference.

    Args:
        path: a run directory (its latest checkpoint), its ``latest.json`` or ``best.json``,
            or a checkpoint ``.json`` / ``.safetensors`` file.
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
