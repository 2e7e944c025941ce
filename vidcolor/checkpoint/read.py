"""Reading a checkpoint that nothing vouches for: every field of its descriptor, and every
tensor's name, dtype, shape and values (finite, in range) against the network the descriptor
describes (sized first on the meta device, so a forged size allocates nothing), are checked
before anything is built from them; :class:`CheckpointError` names the file and the field.
Nothing is unpickled and no code runs on load."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidcolor.checkpoint.layout import (
    ADAM_STATE,
    EPOCH_RE,
    FORMAT,
    FORMAT_VERSION,
    HEADS,
    POINTERS,
    Checkpoint,
    CheckpointInfo,
    find_latest,
    is_int,
    is_number,
    read_pointer,
    sha256,
)
from vidcolor.color.grey import GreyModel, grey_model_from_dict
from vidcolor.errors import CheckpointError
from vidcolor.fsutil import read_regular


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
        target = read_pointer(path)
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


#: A descriptor is a few kB; anything far larger is not one (and is not read into memory).
_MAX_DESCRIPTOR_BYTES = 16 << 20
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
        ("width", is_number(meta.get("width")) and 0 < meta["width"] <= MAX_WIDTH,
         f"must be a positive number, at most {MAX_WIDTH:g}"),
        ("head", meta.get("head") in HEADS, f"must be one of {', '.join(HEADS)}"),
        # the ab head has no bins: its num_bins is unused, and 0 where a writer said "none"
        ("num_bins", is_int(meta.get("num_bins")) and (
            0 if meta.get("head") == "ab" else 1) <= meta["num_bins"] <= MAX_NUM_BINS,
         f"must be an integer >= {0 if meta.get('head') == 'ab' else 1}, at most "
         f"{MAX_NUM_BINS}"),
        ("head", (meta.get("head") == "ab") == (meta.get("variant") == "l2"),
         "the l2 variant predicts ab, the others histograms"),
        ("epoch", is_int(meta.get("epoch")) and meta.get("epoch", 0) >= 1,
         "must be an integer >= 1"),
        ("config", isinstance(meta.get("config"), dict), "must be a mapping"),
        ("version", isinstance(meta.get("version"), str), "must be a string"),
        ("metrics", metrics is None or isinstance(metrics, dict),
         "must be a mapping of numbers"),
        ("tensors_bytes", is_int(meta.get("tensors_bytes")) and meta["tensors_bytes"] > 0,
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
        if not (value is None or is_number(value)):
            checks.append((f"metrics.{key}", False, "must be a finite number or null"))
    named = EPOCH_RE.match(json_path.name)
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
    if not is_int(format_version):
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
    if verify and sha256(tensor_path) != meta.get("tensors_sha256"):
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

