"""Running trained networks on frames: L in, full-resolution ab out (SPEC §4).

Per frame: the luminance is resized to the network's input size (the whole frame, squashed to a
square like the training frames), the batch goes through each model on the chosen device, the
prediction (bin logits or ab) is decoded to ab, and ab is upsampled to the frame's own size with
bicubic interpolation (or left small for the renderer's workers to upsample). The caller
recombines it with the frame's full-resolution L (:func:`vidcolor.render.lab_to_rgb_uint8`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from vidcolor import checkpoint
from vidcolor.ensemble import check_histogram_ensemble, mean_histogram
from vidcolor.errors import InputError
from vidcolor.quantize import decode_logits, decode_probs

log = logging.getLogger(__name__)

DEFAULT_SIZE = 224


@dataclass
class ColorModel:
    """A loaded network with what inference needs to know about it."""

    name: str
    model: torch.nn.Module
    info: checkpoint.CheckpointInfo
    bins: torch.Tensor | None

    @property
    def head(self) -> str:
        """``"histogram"`` (bin logits) or ``"ab"`` (ab directly)."""
        return str(getattr(self.model, "head", self.info.head))


def find_runs(runs_dir: str | Path = "runs") -> list[Path]:
    """Run directories under ``runs_dir`` that hold at least one finished checkpoint, by name."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    return sorted(path for path in root.iterdir()
                  if path.is_dir() and checkpoint.find_latest(path) is not None)


def load_models(paths: Sequence[str | Path], device: torch.device) -> list[ColorModel]:
    """Load each run directory's latest checkpoint (or each checkpoint file) onto ``device``.

    Raises:
        CheckpointError: a path is not a vidcolor checkpoint.
    """
    loaded = []
    for path in paths:
        model, info = checkpoint.load_model(path, device)
        bins = None if info.bins is None else torch.as_tensor(info.bins, dtype=torch.float32,
                                                              device=device)
        loaded.append(ColorModel(name=str(path), model=model, info=info, bins=bins))
    return loaded


def wrap_model(model: torch.nn.Module, bins: np.ndarray | None, name: str = "model"
               ) -> ColorModel:
    """Wrap an in-memory network (e.g. a freshly built one) for :func:`colorize_batch`."""
    device = next(model.parameters()).device
    info = checkpoint.CheckpointInfo(
        arch=str(getattr(model, "arch", "")), variant=str(getattr(model, "variant", "")),
        width=float(getattr(model, "width", 1.0)), bins=bins, prior=None, weights=None,
        epoch=0, config={}, version="", path=Path(name),
        num_bins=0 if bins is None else len(bins), head=str(getattr(model, "head", "histogram")))
    tensor = None if bins is None else torch.as_tensor(bins, dtype=torch.float32, device=device)
    return ColorModel(name=name, model=model.eval(), info=info, bins=tensor)


def luminance_of(rgb_frames: Sequence[np.ndarray], device: torch.device | None = None
                 ) -> list[np.ndarray]:
    """CIE L (0-100, float32) of RGB uint8 frames (on the CPU, OpenCV; ``device`` is unused)."""
    from vidcolor.color import lightness

    return [lightness(rgb) for rgb in rgb_frames]


def network_input(luminance: Sequence[np.ndarray], size: int, device: torch.device
                  ) -> torch.Tensor:
    """Resize each frame's L to ``size`` × ``size`` and stack as the network input ``L × 0.01``."""
    if size < 8 or size % 8:
        raise InputError(f"--size must be a positive multiple of 8, got {size}")
    small = [cv2.resize(lum, (size, size), interpolation=cv2.INTER_AREA) for lum in luminance]
    batch = torch.from_numpy(np.stack(small)[:, None]).to(device)
    return batch * 0.01


def _to_numpy(ab_small: torch.Tensor, shapes: Sequence[tuple[int, int]] | None
              ) -> list[np.ndarray]:
    """(N, 2, h, w) ab on any device -> N (h, w, 2) float32 arrays, upsampled when ``shapes``."""
    from vidcolor.color import upsample_ab

    small = ab_small.float().permute(0, 2, 3, 1).cpu().numpy()
    if shapes is None:
        return list(small)
    return [upsample_ab(ab, shape) for ab, shape in zip(small, shapes, strict=True)]


@torch.inference_mode()
def colorize_batch(models: Sequence[ColorModel], luminance: Sequence[np.ndarray], *,
                   size: int = DEFAULT_SIZE, decode: str = "expectation",
                   temperature: float = 0.38, ensemble: str | None = None,
                   upsample: bool = True) -> list[list[np.ndarray]]:
    """Predict full-resolution ab for a batch of frames with one or several models.

    Args:
        models: the networks (all on the same device).
        luminance: each frame's full-resolution L (H, W) in 0-100; sizes may differ.
        size: network input size (square, multiple of 8).
        decode: ``expectation``, ``annealed`` or ``mode`` (histogram heads).
        temperature: the annealing temperature.
        ensemble: ``"histogram"`` averages the models' softmax distributions before decoding
            (one ab per frame); anything else returns every model's own ab.
        upsample: upsample ab to each frame's size (bicubic, :func:`vidcolor.render.upsample_ab`);
            False returns it at the network's output size (h, w, 2) — the renderer upsamples in
            its worker processes.

    Returns:
        ``result[frame][model]`` = (H, W, 2) float32 ab (or (h, w, 2) without ``upsample``); one
        model entry per frame for a histogram ensemble.

    Raises:
        CheckpointError: a histogram ensemble of models with different gamuts or an ab head.
    """
    if not models:
        raise InputError("no model to colourise with")
    device = next(models[0].model.parameters()).device
    batch = network_input(luminance, size, device)
    shapes = [lum.shape for lum in luminance]
    targets = shapes if upsample else None
    predictions: list[list[np.ndarray]] = []
    if ensemble == "histogram":
        check_histogram_ensemble([m.name for m in models], [m.head for m in models],
                                 [None if m.bins is None else m.bins.cpu().numpy()
                                  for m in models])
        probs = mean_histogram([torch.softmax(m.model(batch).float(), dim=1) for m in models])
        predictions.append(_to_numpy(decode_probs(probs, models[0].bins, decode, temperature),
                                     targets))
    else:
        for model in models:
            output = model.model(batch).float()
            if model.head == "ab":
                ab_small = output
            else:
                ab_small = decode_logits(output, model.bins, decode, temperature)
            predictions.append(_to_numpy(ab_small, targets))
    return [[per_model[index] for per_model in predictions] for index in range(len(shapes))]


def lab_to_rgb_uint8(luminance: np.ndarray, ab: np.ndarray | None,
                     device: torch.device | None = None) -> np.ndarray:
    """Recombine full-resolution L (H, W) with ab (H, W, 2) (None: grey) into RGB uint8.

    See :func:`vidcolor.render.lab_to_rgb_uint8` (CPU, OpenCV; ``device`` is unused): colours
    outside the sRGB gamut are desaturated rather than clipped, so the output's L is the input's.
    """
    from vidcolor.color import lab_to_rgb_uint8 as convert

    return convert(luminance, ab)
