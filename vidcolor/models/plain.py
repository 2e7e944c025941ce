"""Plain colourisation CNN: Zhang et al.'s network as used by Futschik (thesis 6.2, SPEC §5).

Eight blocks of 3×3 conv + ReLU with BatchNorm after blocks 1–7, no pooling: strides take the
input to 1/8, a 4×4 transposed conv brings it back to 1/4, and a 1×1 ``pred`` conv gives Q bin
logits per pixel. At width 1.0 with Q = 313 this is the thesis's 32.23 M parameters (Table 6.1's
parameter column matches 512 channels in conv7 and 256 in conv8, Zhang's original, although its
channel column prints 256/128); with Q = 261 it is 32.22 M.

Variants (thesis 7.1):

* ``rebalance`` / ``no-rebalance``: the same graph (rebalancing lives in the loss);
* ``dropout``: a dropout layer after each of the 8 blocks, rate rising linearly 0.1 → 0.3;
* ``l2``: the ``pred`` layer gives 2 channels, ``tanh × 110`` = ab directly (``head = "ab"``).

Sources: R. Zhang, P. Isola, A. Efros, "Colorful Image Colorization", ECCV 2016;
D. Futschik, "Colorization of black-and-white images using deep neural networks", 2018.
"""

from __future__ import annotations

import torch
from torch import nn

#: Per block: (number of 3×3 convs, output channels at width 1, stride of the last conv, dilation).
PLAIN_BLOCKS: tuple[tuple[int, int, int, int], ...] = (
    (2, 64, 2, 1),
    (2, 128, 2, 1),
    (3, 256, 2, 1),
    (3, 512, 1, 1),
    (3, 512, 1, 2),
    (3, 512, 1, 2),
    (3, 512, 1, 1),
)
#: conv8: a 4×4 transposed conv (×2 up) then two 3×3 convs, all with this many channels.
CONV8_CHANNELS = 256
#: Maximum ab magnitude of the L2 head (tanh × AB_SCALE).
AB_SCALE = 110.0


def scaled(channels: int, width: float) -> int:
    """Channel count of a layer at width multiplier ``width`` (at least 1)."""
    return max(1, int(round(channels * width)))


class PlainColorNet(nn.Module):
    """Plain CNN mapping ``L × 0.01`` (N,1,H,W) to logits (N,Q,H/4,W/4) or ab (N,2,H/4,W/4).

    Args:
        num_bins: Q, the number of ab bins (ignored by the ``l2`` variant except for bookkeeping).
        width: channel multiplier (1.0 = the thesis's network).
        variant: ``rebalance``, ``no-rebalance``, ``dropout`` or ``l2``.
    """

    arch = "plain"

    def __init__(self, num_bins: int, width: float = 1.0, variant: str = "rebalance") -> None:
        super().__init__()
        self.num_bins = num_bins
        self.width = width
        self.variant = variant
        self.head = "ab" if variant == "l2" else "histogram"
        n_blocks = len(PLAIN_BLOCKS) + 1
        drop_rates = [0.1 + 0.2 * i / (n_blocks - 1) for i in range(n_blocks)]
        blocks: list[nn.Module] = []
        in_ch = 1
        for index, (n_convs, out, stride, dilation) in enumerate(PLAIN_BLOCKS):
            out_ch = scaled(out, width)
            layers: list[nn.Module] = []
            for conv in range(n_convs):
                last = conv == n_convs - 1
                layers += [nn.Conv2d(in_ch, out_ch, 3, stride=stride if last else 1,
                                     padding=dilation, dilation=dilation),
                           nn.ReLU(inplace=True)]
                in_ch = out_ch
            layers.append(nn.BatchNorm2d(out_ch))
            if variant == "dropout":
                layers.append(nn.Dropout(drop_rates[index]))
            blocks.append(nn.Sequential(*layers))
        c8 = scaled(CONV8_CHANNELS, width)
        conv8: list[nn.Module] = [nn.ConvTranspose2d(in_ch, c8, 4, stride=2, padding=1),
                                  nn.ReLU(inplace=True)]
        for _ in range(2):
            conv8 += [nn.Conv2d(c8, c8, 3, padding=1), nn.ReLU(inplace=True)]
        if variant == "dropout":
            conv8.append(nn.Dropout(drop_rates[-1]))
        blocks.append(nn.Sequential(*conv8))
        self.features = nn.Sequential(*blocks)
        self.pred = nn.Conv2d(c8, 2 if self.head == "ab" else num_bins, 1)
        self._init_weights()

    def _init_weights(self) -> None:
        if self.pred.weight.is_meta:  # shapes only (a size check): nothing to draw
            return
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
        nn.init.xavier_uniform_(self.pred.weight)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        """Predict logits (histogram head) or ab (ab head) at 1/4 of the input resolution."""
        out = self.pred(self.features(lightness))
        if self.head == "ab":
            return torch.tanh(out) * AB_SCALE
        return out


def plain(num_bins: int, width: float = 1.0, variant: str = "rebalance") -> PlainColorNet:
    """Factory: the plain network for ``variant`` at ``width`` with ``num_bins`` outputs."""
    return PlainColorNet(num_bins=num_bins, width=width, variant=variant)
