"""The one inference path: trained networks + decoding + network size -> ab for a batch of L frames.

:class:`Colorizer` holds the loaded models on their device. :meth:`Colorizer.predict` takes a
batch of full-resolution L frames, squashes each to the network's square input (like the
training frames), runs every model once and returns, per frame, the decoded ab of each model at
the network's output resolution (1/4 of the input), and - when asked - the models' mean colour
distribution over the ab bins. What happens next (upsampling, refinement, ensemble mean,
temporal stabilisation, Lab->RGB) is the render pipeline's per-frame and sequence stages
(:mod:`vidcolor.inference.pipeline`); render, evaluate and the benchmarks all go through it.

:meth:`Colorizer.colorize` is the short path for library users: L frames in, full-resolution
ab out (bicubic upsampling and the ensemble mean, no refinement).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vidcolor.checkpoint.layout import CheckpointInfo, find_latest
from vidcolor.checkpoint.model import load_model
from vidcolor.color.frames import upsample_ab
from vidcolor.color.grey import GreyModel
from vidcolor.color.tensors import network_input
from vidcolor.errors import CheckpointError, InputError
from vidcolor.inference.ensemble import check_histogram_ensemble, mean_ab, mean_histogram
from vidcolor.quantize import decode_logits, decode_probs, parse_decode

log = logging.getLogger(__name__)

DEFAULT_SIZE = 224


@dataclass
class ColorModel:
    """A loaded network with what inference needs to know about it."""

    name: str
    model: torch.nn.Module
    info: CheckpointInfo
    bins: torch.Tensor | None

    @property
    def head(self) -> str:
        """``"histogram"`` (bin logits) or ``"ab"`` (ab directly)."""
        return str(getattr(self.model, "head", self.info.head))


@dataclass
class Prediction:
    """The network's answer for one frame.

    Attributes:
        ab: decoded ab ``(h, w, 2)`` float32 at the network's output resolution, one per model
            (one in all for a histogram ensemble).
        probs: the mean predicted distribution ``(h, w, Q)`` (float16) of the histogram models,
            when the pipeline asked for it (palette, temporal voting); else None.
    """

    ab: list[np.ndarray]
    probs: np.ndarray | None = None


def find_runs(runs_dir: str | Path = "runs") -> list[Path]:
    """Run directories under ``runs_dir`` that hold at least one finished checkpoint, by name."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    return sorted(path for path in root.iterdir()
                  if path.is_dir() and find_latest(path) is not None)


def _common_grey(names: Sequence[str], greys: Sequence[GreyModel]) -> GreyModel:
    """The first model's grey model; a warning where the others were trained on another."""
    if not greys:
        return GreyModel.named("luminance")
    for name, grey in zip(names[1:], greys[1:], strict=True):
        if grey != greys[0]:
            log.warning("%s was trained on greys made as %s, %s as %s; the output keeps the "
                        "input's grey as %s", name, grey.describe(), names[0],
                        greys[0].describe(), greys[0].describe())
    return greys[0]


def load_models(paths: Sequence[str | Path], device: torch.device) -> list[ColorModel]:
    """Load each run directory's latest checkpoint (or each checkpoint file) onto ``device``.

    Raises:
        CheckpointError: a path is not a vidcolor checkpoint.
    """
    loaded = []
    for path in paths:
        model, info = load_model(path, device)
        bins = None if info.bins is None else torch.as_tensor(info.bins, dtype=torch.float32,
                                                              device=device)
        loaded.append(ColorModel(name=str(path), model=model, info=info, bins=bins))
    return loaded


def wrap_model(model: torch.nn.Module, bins: np.ndarray | None, name: str = "model"
               ) -> ColorModel:
    """Wrap an in-memory network (e.g. a freshly trained one) for a :class:`Colorizer`."""
    device = next(model.parameters()).device
    info = CheckpointInfo(
        arch=str(getattr(model, "arch", "")), variant=str(getattr(model, "variant", "")),
        width=float(getattr(model, "width", 1.0)), bins=bins, prior=None, weights=None,
        epoch=0, config={}, version="", path=Path(name),
        num_bins=0 if bins is None else len(bins), head=str(getattr(model, "head", "histogram")))
    tensor = None if bins is None else torch.as_tensor(bins, dtype=torch.float32, device=device)
    return ColorModel(name=name, model=model.eval(), info=info, bins=tensor)


class Colorizer:
    """Loaded models + decoding + network size: L frames in, ab out.

    Args:
        models: the networks, all on one device (:func:`load_models`, :func:`wrap_model`).
        size: the network's input side (the whole frame squashed to a square, multiple of 8).
        decode: ``expectation``, ``mode``, ``annealed`` or ``annealed:T`` (histogram heads).
        ensemble: ``None`` (one model), ``"mean"`` (each model's ab, averaged later, after
            refinement) or ``"histogram"`` (the mean distribution is decoded once).
        debias: a network trained with class-rebalanced cross-entropy (each pixel's loss times
            the weight ``w(q)`` of its true colour) predicts ``p̂(q) ∝ p(q|x)·w(q)``: rare,
            saturated colours are favoured up to ``max w / min w`` times. With ``debias`` = s
            its logits get ``- s · log w(q)`` (the checkpoint's weights) before decoding and
            voting: 0 keeps the prediction, 1 undoes the rebalancing entirely.

    Raises:
        InputError: no model.
        OptionError/ValueError: a bad decoding.
        CheckpointError: a histogram ensemble of models with different gamuts or an ab head;
            from :meth:`predict`, a network whose output is not finite.
    """

    def __init__(self, models: Sequence[ColorModel], *, size: int = DEFAULT_SIZE,
                 decode: str = "expectation", ensemble: str | None = None,
                 debias: float = 0.0) -> None:
        if not models:
            raise InputError("no model to colourise with")
        self.models = list(models)
        self.size = size
        self.decode_method, self.temperature = parse_decode(decode)
        self.ensemble = ensemble
        self.device = next(self.models[0].model.parameters()).device
        self._log_weights = {
            index: float(debias) * torch.log(torch.as_tensor(
                m.info.weights, dtype=torch.float32, device=self.device)).view(1, -1, 1, 1)
            for index, m in enumerate(self.models)
            if debias and m.head == "histogram" and m.info.weights is not None}
        histogram_models = [m for m in self.models if m.head == "histogram"]
        if ensemble == "histogram":
            check_histogram_ensemble([m.name for m in self.models],
                                     [m.head for m in self.models],
                                     [None if m.bins is None else m.bins.cpu().numpy()
                                      for m in self.models])
        self._dist_models = histogram_models
        if histogram_models:
            reference = histogram_models[0].bins
            same = all(m.bins is not None and m.bins.shape == reference.shape
                       and torch.equal(m.bins, reference) for m in histogram_models)
            if not same:  # only models on one gamut can share a distribution
                self._dist_models = histogram_models[:1]

    @property
    def grey(self) -> GreyModel:
        """The grey model the networks were trained on (the first model's; a warning where
        the others differ)."""
        return _common_grey([m.name for m in self.models], [m.info.grey for m in self.models])

    @property
    def bins(self) -> np.ndarray | None:
        """The ab bin centres ``(Q, 2)`` of :attr:`Prediction.probs`, or None (no histogram)."""
        if not self._dist_models:
            return None
        bins = self._dist_models[0].bins
        return None if bins is None else bins.cpu().numpy()

    @torch.inference_mode()
    def predict(self, lightness: Sequence[np.ndarray], *, with_probs: bool = False,
                with_ab: bool = True) -> list[Prediction]:
        """Run the networks on a batch of frames.

        Args:
            lightness: each frame's full-resolution L ``(H, W)`` in 0-100; sizes may differ.
            with_probs: also return the mean predicted distribution (histogram models).
            with_ab: decode each model's ab (False, with ``with_probs``: ``ab`` is empty, for
                a stage that colours the frames from the distributions itself).

        Returns:
            One :class:`Prediction` per frame, in order.
        """
        batch = network_input(list(lightness), self.size, self.device)
        outputs: dict[int, torch.Tensor] = {}
        per_model_ab: list[torch.Tensor] = []
        for index, model in enumerate(self.models):
            outputs[index] = model.model(batch).float()
            if index in self._log_weights:
                outputs[index] = outputs[index] - self._log_weights[index]
        self._check_finite(outputs)
        probs = None
        if self.ensemble == "histogram" or (with_probs and self._dist_models):
            members = [outputs[i] for i, m in enumerate(self.models) if m in self._dist_models]
            probs = mean_histogram([torch.softmax(out, dim=1) for out in members])
        if with_ab and self.ensemble == "histogram":
            assert probs is not None
            per_model_ab.append(decode_probs(probs, self._dist_models[0].bins,
                                             self.decode_method, self.temperature))
        elif with_ab:
            for index, model in enumerate(self.models):
                output = outputs[index]
                per_model_ab.append(output if model.head == "ab" else decode_logits(
                    output, model.bins, self.decode_method, self.temperature))
        ab_np = [ab.permute(0, 2, 3, 1).cpu().numpy() for ab in per_model_ab]
        probs_np = None
        if with_probs and probs is not None:
            probs_np = probs.permute(0, 2, 3, 1).to(torch.float16).cpu().numpy()
        return [Prediction(ab=[np.ascontiguousarray(ab[i]) for ab in ab_np],
                           probs=None if probs_np is None else probs_np[i])
                for i in range(len(lightness))]

    def _check_finite(self, outputs: dict[int, torch.Tensor]) -> None:
        """Stop at a network whose output is not finite (it would paint black frames).

        One host synchronisation per batch, which reading the result back costs anyway.

        Raises:
            CheckpointError: naming the model.
        """
        finite = torch.stack([torch.isfinite(out).all() for out in outputs.values()])
        if bool(finite.all()):
            return
        name = self.models[int((~finite).nonzero()[0, 0])].name
        raise CheckpointError(f"{name}: the network computed values that are not finite "
                              "(NaN or inf) for these frames; its weights are unusable")

    def colorize(self, lightness: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Full-resolution ab ``(H, W, 2)`` of each frame: bicubic upsampling + ensemble mean.

        The library's one-call path (no refinement, no temporal stage): what ``vidcolor render``
        writes with ``--refine none`` and without ``--temporal``.
        """
        result = []
        for light, prediction in zip(lightness, self.predict(lightness), strict=True):
            result.append(mean_ab([upsample_ab(ab, light.shape) for ab in prediction.ab]))
        return result
