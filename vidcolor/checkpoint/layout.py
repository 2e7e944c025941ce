"""What a checkpoint is and where its files lie: :class:`CheckpointInfo` and
:class:`Checkpoint`, the ``epoch-NNNN`` file names, and the ``latest.json`` / ``best.json``
pointers that name a run's latest and best epochs."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidcolor.color.grey import GreyModel

FORMAT = "vidcolor-checkpoint"
FORMAT_VERSION = 1

EPOCH_RE = re.compile(r"^epoch-(\d{4,})\.json$")
TENSORS_RE = re.compile(r"^epoch-(\d{4,})\.safetensors$")

#: Files that name a run's latest and best checkpoints.
POINTERS = ("latest.json", "best.json")
HEADS = ("histogram", "ab")

#: Adam's state per parameter: a step count and two moments of the parameter's shape.
ADAM_STATE = ("step", "exp_avg", "exp_avg_sq")


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
        match = EPOCH_RE.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def find_latest(run_dir: str | Path) -> Path | None:
    """JSON descriptor of the highest finished epoch in ``run_dir``, or None if there is none."""
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def read_pointer(path: Path) -> Path | None:
    """The descriptor a ``latest.json``/``best.json`` names, or None if it is absent or bad
    (a pointer is a regular file of a few bytes: a pipe or a huge file is not read)."""
    try:
        if not path.is_file() or path.stat().st_size > 4096:
            return None
        name = json.loads(path.read_text())["checkpoint"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    if not isinstance(name, str) or not EPOCH_RE.match(name):
        return None
    return path.with_name(name)


def find_best(run_dir: str | Path) -> Path | None:
    """JSON descriptor of the epoch with the lowest test loss (``best.json``), or None."""
    target = read_pointer(Path(run_dir) / "best.json")
    return target if target is not None and target.is_file() else None


def sha256(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer (a bool is not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (a bool is not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(
        value)

