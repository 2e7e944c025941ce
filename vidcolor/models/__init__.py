"""Colourisation networks, one architecture per module, their registry and :func:`build_model`.

``plain`` is Zhang et al.'s network (32.2 M parameters), ``residual`` Futschik's residual
network (16.6 M). Both take ``L × 0.01`` (N,1,H,W), H and W multiples of 8, and predict at 1/4
resolution; ``model.head`` says whether the output is bin logits (``"histogram"``) or ab
(``"ab"``, the plain ``l2`` variant).

Architectures are registered in :data:`ARCHITECTURES` (name -> :class:`Architecture`: its
factory, its variants and a one-line description); ``vidcolor train``'s ``--arch`` and
``--variant`` choices and help, the checks of a training configuration and of a checkpoint, and
:func:`build_model` all read it. Adding a network is one module with a factory
``factory(num_bins, width, variant) -> nn.Module`` plus one :func:`register_architecture` line
below. This module imports no torch (the factories are named by their import path and imported
when a network is built): the command line reads the registry for its help without loading
torch.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class Architecture:
    """A registered network.

    Attributes:
        name: the ``--arch`` value (also the default run folder, ``runs/<name>``).
        factory: ``"module:function"``, the function building the network
            (``function(num_bins=, width=, variant=) -> nn.Module``), imported when it is built.
        variants: the loss/graph variants it supports (thesis 7.1), the default first.
        description: a few words for ``--arch``'s help (``"Zhang, 32.2 M"``).
    """

    name: str
    factory: str
    variants: tuple[str, ...]
    description: str

    def build(self, **kwargs: Any) -> nn.Module:
        """Call the factory (this imports its module, and torch)."""
        module, function = self.factory.split(":")
        return getattr(importlib.import_module(module), function)(**kwargs)


#: The networks, by ``--arch`` name.
ARCHITECTURES: dict[str, Architecture] = {}


def register_architecture(architecture: Architecture) -> Architecture:
    """Add a network to :data:`ARCHITECTURES` (its name becomes an ``--arch`` choice)."""
    ARCHITECTURES[architecture.name] = architecture
    return architecture


register_architecture(Architecture("plain", "vidcolor.models.plain:plain",
                                   ("rebalance", "no-rebalance", "dropout", "l2"),
                                   "Zhang, 32.2 M"))
register_architecture(Architecture("residual", "vidcolor.models.residual:residual",
                                   ("rebalance", "no-rebalance"), "16.6 M"))


class _Variants(Mapping[str, tuple[str, ...]]):
    """The variants of each registered architecture (a live view of the registry)."""

    def __getitem__(self, arch: str) -> tuple[str, ...]:
        return ARCHITECTURES[arch].variants

    def __iter__(self) -> Iterator[str]:
        return iter(ARCHITECTURES)

    def __len__(self) -> int:
        return len(ARCHITECTURES)


#: Variants each architecture supports (thesis 7.1): ``VARIANTS[arch]``.
VARIANTS: Mapping[str, tuple[str, ...]] = _Variants()


def all_variants() -> tuple[str, ...]:
    """Every variant of any architecture, in registry order (``--variant``'s choices).

    >>> all_variants()
    ('rebalance', 'no-rebalance', 'dropout', 'l2')
    """
    return tuple(dict.fromkeys(v for arch in ARCHITECTURES.values() for v in arch.variants))


#: Largest channel multiplier: a plain network of width 64 has 132 G parameters already (a
#: bound that keeps every layer's size a number torch can hold, checked before memory is).
MAX_WIDTH = 64.0
#: Largest number of ab bins: every point of a 1-unit grid over [-110, 110]².
MAX_NUM_BINS = 221 * 221

__all__ = ["ARCHITECTURES", "MAX_NUM_BINS", "MAX_WIDTH", "VARIANTS", "Architecture",
           "PlainColorNet", "ResidualColorNet", "activations_per_pixel", "all_variants",
           "build_model", "count_parameters", "register_architecture", "uses_rebalancing"]

_LAZY = {"PlainColorNet": "vidcolor.models.plain", "ResidualColorNet": "vidcolor.models.residual"}


def __getattr__(name: str) -> Any:
    """The network classes, imported (with torch) on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_model(arch: str, variant: str = "rebalance", width: float = 1.0,
                num_bins: int = 261, *, device: str | torch.device | None = None) -> nn.Module:
    """Build an untrained network.

    Args:
        arch: a name in :data:`ARCHITECTURES` (``"plain"``, ``"residual"``).
        variant: one of ``VARIANTS[arch]``.
        width: channel multiplier in (0, :data:`MAX_WIDTH`]; 1.0 is the thesis's size.
        num_bins: Q, the number of ab bins of the gamut (at most :data:`MAX_NUM_BINS`).
        device: where to create the weights; ``"meta"`` gives their shapes and dtypes without
            allocating memory (to check a size before building it for real).

    Returns:
        The network (training mode), with attributes ``arch``, ``variant``, ``width``, ``head``.

    Raises:
        ValueError: unknown architecture or variant, a width that is not in (0, MAX_WIDTH] or
            a number of bins that is not in [0, MAX_NUM_BINS].

    Example:
        >>> spec = build_model("plain", width=64.0, device="meta")  # nothing allocated
        >>> count_parameters(spec) > 10**11
        True
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of "
                         f"{', '.join(ARCHITECTURES)}")
    if variant not in VARIANTS[arch]:
        raise ValueError(f"architecture {arch!r} has no variant {variant!r}; choose one of "
                         f"{', '.join(VARIANTS[arch])}")
    if not (isinstance(width, (int, float)) and math.isfinite(width)
            and 0 < width <= MAX_WIDTH):
        raise ValueError(f"width must be a number in (0, {MAX_WIDTH:g}], got {width}")
    if isinstance(num_bins, bool) or not isinstance(num_bins, int) or not (
            0 <= num_bins <= MAX_NUM_BINS):
        raise ValueError(f"num_bins must be an integer in [0, {MAX_NUM_BINS}], got {num_bins!r}")
    import torch

    architecture = ARCHITECTURES[arch]
    if device is None:
        return architecture.build(num_bins=num_bins, width=width, variant=variant)
    with torch.device(device):
        return architecture.build(num_bins=num_bins, width=width, variant=variant)


def uses_rebalancing(variant: str) -> bool:
    """Whether the loss of ``variant`` weights pixels by class rebalancing."""
    return variant in ("rebalance", "dropout")


def count_parameters(model: nn.Module) -> int:
    """Number of learnable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def activations_per_pixel(model: nn.Module) -> int:
    """Values every layer of ``model`` outputs per input pixel in a forward pass (batch 1).

    What training keeps for the backward pass grows as this times batch × crop². On a
    :func:`build_model` spec on the meta device nothing is allocated or computed, so the
    network may be of any size.
    """
    import torch

    side = 64
    total = 0

    def count(_module: nn.Module, _inputs: object, output: object) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel()

    leaves = [module for module in model.modules() if not list(module.children())]
    hooks = [module.register_forward_hook(count) for module in leaves]
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            model(torch.empty(1, 1, side, side, device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return math.ceil(total / (side * side))
