"""Residual colourisation CNN (Futschik's thesis 6.3, SPEC §5): 16.6 M parameters at width 1.

::

    conv0 64 -> res1 [top: 128, 256 s2        | shortcut: 3×3 64→256 s2]
             -> res2 [top: 256, 256           | identity]
             -> res3 [top: 512 s2, 512 d2, 256 d2 | shortcut: 3×3 256→256 s2]
             -> res4 [top: 512 d2, 512 d2     | shortcut: 3×3 256→512]
             -> conv5 [256, 512 d2, 512] -> pred 1×1 (Q logits), output at 1/4 resolution

Every conv that feeds a sum (last conv of each top branch, each shortcut conv) and the last conv5
conv are followed by BatchNorm with a learnable per-channel affine (Caffe's ``BatchNorm`` +
``Scale`` layers, "BN&S" in Table 6.2); the other convs are followed by ReLU, and each sum by a
ReLU. conv5 has no shortcut into pred (it caused artefacts on dark frames). Xavier init (7.2).

Resolving Table 6.2's conv5 inconsistency: its parameter column prints 1179.6 k for conv5_1,
2359.2 k for conv5_2 and 1179.6 k for conv5_3, which no chain ending in the 512 channels pred
expects (160.2 k = 512 × 313) can give layer by layer. We take the channel column as printed
(512→256, 256→512 dil 2, 512→512): its per-layer counts are 1179.6 k, 1179.6 k and 2359.3 k,
the same 4718.4 k in total as the table, so the network's total is the anchor 16.6 M
(16.58 M conv weights + BN with Q = 261; 16.60 M with Q = 313).
"""

from __future__ import annotations

import torch
from torch import nn

from vidcolor.models.plain import scaled


def _conv(in_ch: int, out_ch: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=dilation, dilation=dilation)


def _conv_relu(in_ch: int, out_ch: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(_conv(in_ch, out_ch, stride, dilation), nn.ReLU(inplace=True))


def _conv_bn(in_ch: int, out_ch: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """Conv followed by BatchNorm with per-channel scale and shift (BN&S)."""
    return nn.Sequential(_conv(in_ch, out_ch, stride, dilation), nn.BatchNorm2d(out_ch))


class ResidualBlock(nn.Module):
    """``relu(top(x) + shortcut(x))``; ``shortcut`` is a BN&S conv or the identity."""

    def __init__(self, top: nn.Module, shortcut: nn.Module | None) -> None:
        super().__init__()
        self.top = top
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.top(x) + self.shortcut(x))


class ResidualColorNet(nn.Module):
    """Residual CNN mapping ``L × 0.01`` (N,1,H,W) to logits (N,Q,H/4,W/4).

    Args:
        num_bins: Q, the number of ab bins.
        width: channel multiplier (1.0 = the thesis's network).
        variant: ``rebalance`` or ``no-rebalance`` (the graph is the same; the loss differs).
    """

    arch = "residual"
    head = "histogram"

    def __init__(self, num_bins: int, width: float = 1.0, variant: str = "rebalance") -> None:
        super().__init__()
        self.num_bins = num_bins
        self.width = width
        self.variant = variant
        c64, c128, c256, c512 = (scaled(c, width) for c in (64, 128, 256, 512))
        self.conv0 = _conv_relu(1, c64)
        self.res1 = ResidualBlock(
            nn.Sequential(_conv_relu(c64, c128), _conv_bn(c128, c256, stride=2)),
            _conv_bn(c64, c256, stride=2))
        self.res2 = ResidualBlock(
            nn.Sequential(_conv_relu(c256, c256), _conv_bn(c256, c256)), None)
        self.res3 = ResidualBlock(
            nn.Sequential(_conv_relu(c256, c512, stride=2), _conv_relu(c512, c512, dilation=2),
                          _conv_bn(c512, c256, dilation=2)),
            _conv_bn(c256, c256, stride=2))
        self.res4 = ResidualBlock(
            nn.Sequential(_conv_relu(c256, c512, dilation=2), _conv_bn(c512, c512, dilation=2)),
            _conv_bn(c256, c512))
        self.conv5 = nn.Sequential(_conv_relu(c512, c256), _conv_relu(c256, c512, dilation=2),
                                   _conv_bn(c512, c512), nn.ReLU(inplace=True))
        self.pred = nn.Conv2d(c512, num_bins, 1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        """Predict bin logits at 1/4 of the input resolution."""
        x = self.conv0(lightness)
        x = self.res4(self.res3(self.res2(self.res1(x))))
        return self.pred(self.conv5(x))


def residual(num_bins: int, width: float = 1.0, variant: str = "rebalance") -> ResidualColorNet:
    """Factory: the residual network for ``variant`` at ``width`` with ``num_bins`` outputs."""
    return ResidualColorNet(num_bins=num_bins, width=width, variant=variant)
