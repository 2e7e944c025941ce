"""Colourisation networks, one architecture per module, and the :func:`build_model` factory.

``plain`` is Zhang et al.'s network (32.2 M parameters), ``residual`` Futschik's residual
network (16.6 M). Both take ``L × 0.01`` (N,1,H,W), H and W multiples of 8, and predict at 1/4
resolution; ``model.head`` says whether the output is bin logits (``"histogram"``) or ab
(``"ab"``, the plain ``l2`` variant).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vidcolor.models.plain import PlainColorNet, plain
from vidcolor.models.residual import ResidualColorNet, residual

ARCHS = ("plain", "residual")
#: Variants each architecture supports (thesis 7.1).
VARIANTS: dict[str, tuple[str, ...]] = {
    "plain": ("rebalance", "no-rebalance", "dropout", "l2"),
    "residual": ("rebalance", "no-rebalance"),
}

#: Largest channel multiplier: a plain network of width 64 has 132 G parameters already (a
#: bound that keeps every layer's size a number torch can hold, checked before memory is).
MAX_WIDTH = 64.0
#: Largest number of ab bins: every point of a 1-unit grid over [-110, 110]².
MAX_NUM_BINS = 221 * 221

__all__ = ["ARCHS", "MAX_NUM_BINS", "MAX_WIDTH", "VARIANTS", "PlainColorNet", "ResidualColorNet",
           "activations_per_pixel", "build_model", "count_parameters", "uses_rebalancing"]


def build_model(arch: str, variant: str = "rebalance", width: float = 1.0,
                num_bins: int = 261, *, device: str | torch.device | None = None) -> nn.Module:
    """Build an untrained network.

    Args:
        arch: ``"plain"`` or ``"residual"``.
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
    if arch not in VARIANTS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    if variant not in VARIANTS[arch]:
        raise ValueError(f"architecture {arch!r} has no variant {variant!r}; choose one of "
                         f"{', '.join(VARIANTS[arch])}")
    if not (isinstance(width, (int, float)) and math.isfinite(width)
            and 0 < width <= MAX_WIDTH):
        raise ValueError(f"width must be a number in (0, {MAX_WIDTH:g}], got {width}")
    if isinstance(num_bins, bool) or not isinstance(num_bins, int) or not (
            0 <= num_bins <= MAX_NUM_BINS):
        raise ValueError(f"num_bins must be an integer in [0, {MAX_NUM_BINS}], got {num_bins!r}")
    factory = plain if arch == "plain" else residual
    if device is None:
        return factory(num_bins=num_bins, width=width, variant=variant)
    with torch.device(device):
        return factory(num_bins=num_bins, width=width, variant=variant)


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
