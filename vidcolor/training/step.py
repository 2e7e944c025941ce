"""One micro-batch on the device: uint8 RGB in, Lab there (the network's input L and the ab
target at 1/4 resolution), the loss, forward and backward; and :class:`Accel`, how training
runs on a device (shared with ``scripts/bench_train.py``).

The network's input is the L of the grey the render will see: the dataset's grey model
(:class:`vidcolor.color.grey.GreyModel`) applied to the colour frame, as grey RGB, then its L
(:func:`vidcolor.color.grey.grey_lightness`); for the ``luminance`` model that is the colour's own
L. The target is ab at 1/4 resolution (area average), soft-encoded over the gamut bins, each
pixel weighted by the rebalancing weight of its arg-max bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def lab_batch(rgb_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 RGB (N,3,H,W) on any device -> (network input ``L × L_SCALE``, ab at 1/4 size).

    A fourth channel is each pixel's grey level under the dataset's grey model
    (:class:`~vidcolor.training.data.FrameDataset`): the input is then the L of that grey, as
    render computes it.
    """
    from vidcolor.color import L_SCALE
    from vidcolor.color.grey import grey_lightness
    from vidcolor.color.tensors import rgb_to_lab

    lab = rgb_to_lab(rgb_uint8[:, :3].float() / 255.0)
    if rgb_uint8.shape[1] == 4:
        table = torch.from_numpy(grey_lightness()).to(rgb_uint8.device)
        lightness = table[rgb_uint8[:, 3:].long()] * L_SCALE
    else:
        lightness = lab[:, :1] * L_SCALE
    ab_small = F.avg_pool2d(lab[:, 1:], kernel_size=4, stride=4)
    return lightness, ab_small


def compute_loss(model: nn.Module, rgb_uint8: torch.Tensor, bins: torch.Tensor | None,
                 weights: torch.Tensor | None, head: str, autocast: bool,
                 channels_last: bool) -> torch.Tensor:
    """Loss of ``model`` on one uint8 batch already on the model's device.

    Only the network runs under ``autocast`` (bf16); the Lab conversion, the soft encoding and
    the loss stay in float32, so the returned scalar is float32 either way.
    """
    from vidcolor.losses import ab_l2_loss, rebalanced_cross_entropy
    from vidcolor.quantize import soft_encode

    lightness, ab_small = lab_batch(rgb_uint8)
    if channels_last:
        lightness = lightness.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device_type=lightness.device.type, dtype=torch.bfloat16,
                        enabled=autocast):
        output = model(lightness)
    # the losses cast to float32 themselves; outside autocast, so nothing is cast back to bf16
    if head == "ab":
        return ab_l2_loss(output, ab_small)
    assert bins is not None
    target = soft_encode(ab_small, bins)
    return rebalanced_cross_entropy(output, target, weights)


@dataclass(frozen=True)
class Accel:
    """How training runs on a device; shared by :func:`~vidcolor.training.loop.train` and
    ``scripts/bench_train.py``.

    On CUDA: bf16 autocast (no GradScaler: bf16 has float32's exponent range), channels_last
    model and inputs, pinned host batches copied with ``non_blocking``, and cuDNN autotuning
    (every training batch has the same shape). On the CPU all are off by default; a test can
    switch ``autocast``/``channels_last`` on to run the CUDA path's logic on the CPU.
    """

    device: torch.device
    autocast: bool = False
    channels_last: bool = False
    pin_memory: bool = False

    @classmethod
    def for_device(cls, device: torch.device) -> Accel:
        """The settings training uses on ``device``."""
        cuda = device.type == "cuda"
        return cls(device, autocast=cuda, channels_last=cuda, pin_memory=cuda)

    def setup(self) -> None:
        """Set the process-wide backend flags (cuDNN autotuning on CUDA)."""
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True

    def place_model(self, model: nn.Module) -> nn.Module:
        """Move ``model`` to the device (channels_last when enabled)."""
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def to_device(self, batch: torch.Tensor) -> torch.Tensor:
        """Copy a host batch to the device (asynchronously from pinned memory)."""
        return batch.to(self.device, non_blocking=self.pin_memory and batch.is_pinned())


def micro_step(net: nn.Module, batch: torch.Tensor, bins: torch.Tensor | None,
               weights: torch.Tensor | None, head: str, accel: Accel,
               scale: float = 1.0) -> torch.Tensor:
    """Forward and backward of one micro-batch; gradients accumulate into ``.grad``.

    Args:
        net: the model (or its DDP wrapper) in training mode.
        batch: uint8 RGB (N,3,H,W) on the host or the device.
        bins, weights, head: as for :func:`compute_loss`.
        accel: device settings.
        scale: factor of the loss before ``backward`` (1 / micro-batches per step).

    Returns:
        The unscaled float32 loss, detached and still on the device (no synchronisation).
    """
    loss = compute_loss(net, accel.to_device(batch), bins, weights, head,
                        autocast=accel.autocast, channels_last=accel.channels_last)
    (loss * scale).backward()
    return loss.detach()

