"""A training run's options: :class:`TrainConfig` (the thesis's hyperparameters, checked when
made), the default run folder, and the memory check that refuses a run too large for the
device before any work."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from vidcolor.devices import parse_device
from vidcolor.errors import OptionError
from vidcolor.models import (
    MAX_WIDTH,
    VARIANTS,
    activations_per_pixel,
    build_model,
    count_parameters,
)

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

