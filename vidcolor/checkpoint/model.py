"""The network a checkpoint describes, rebuilt with its weights: for a resume
(:func:`build_from_checkpoint`) and for inference (:func:`load_model`)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from vidcolor.checkpoint.layout import Checkpoint, CheckpointInfo
from vidcolor.checkpoint.read import load_checkpoint
from vidcolor.devices import resolve_device
from vidcolor.errors import CheckpointError


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

