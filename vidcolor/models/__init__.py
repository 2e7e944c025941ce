"""Colourisation networks, one architecture per module, and the :func:`build_model` factory.

``plain`` is Zhang et al.'s network (32.2 M parameters), ``residual`` Futschik's residual
network (16.6 M). Both take ``L × 0.01`` (N,1,H,W), H and W multiples of 8, and predict at 1/4
resolution; ``model.head`` says whether the output is bin logits (``"histogram"``) or ab
(``"ab"``, the plain ``l2`` variant).
"""

from __future__ import annotations

from torch import nn

from vidcolor.models.plain import PlainColorNet, plain
from vidcolor.models.residual import ResidualColorNet, residual

ARCHS = ("plain", "residual")
#: Variants each architecture supports (thesis 7.1).
VARIANTS: dict[str, tuple[str, ...]] = {
    "plain": ("rebalance", "no-rebalance", "dropout", "l2"),
    "residual": ("rebalance", "no-rebalance"),
}

__all__ = ["ARCHS", "VARIANTS", "PlainColorNet", "ResidualColorNet", "build_model",
           "count_parameters", "uses_rebalancing"]


def build_model(arch: str, variant: str = "rebalance", width: float = 1.0,
                num_bins: int = 261) -> nn.Module:
    """Build an untrained network.

    Args:
        arch: ``"plain"`` or ``"residual"``.
        variant: one of ``VARIANTS[arch]``.
        width: channel multiplier (> 0); 1.0 is the thesis's size.
        num_bins: Q, the number of ab bins of the gamut.

    Returns:
        The network (training mode), with attributes ``arch``, ``variant``, ``width``, ``head``.

    Raises:
        ValueError: unknown architecture or variant, or a width that is not positive.
    """
    if arch not in VARIANTS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    if variant not in VARIANTS[arch]:
        raise ValueError(f"architecture {arch!r} has no variant {variant!r}; choose one of "
                         f"{', '.join(VARIANTS[arch])}")
    if not width > 0:
        raise ValueError(f"width must be positive, got {width}")
    factory = plain if arch == "plain" else residual
    return factory(num_bins=num_bins, width=width, variant=variant)


def uses_rebalancing(variant: str) -> bool:
    """Whether the loss of ``variant`` weights pixels by class rebalancing."""
    return variant in ("rebalance", "dropout")


def count_parameters(model: nn.Module) -> int:
    """Number of learnable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
