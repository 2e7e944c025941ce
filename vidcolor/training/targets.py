"""What the loss compares the network's output with (SPEC §4): the ab gamut's bins, the prior
(counted once over the training split at 1/4 resolution, stored in every checkpoint) and the
rebalancing weights, on the device."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vidcolor.errors import DatasetError
from vidcolor.training.data import EpochSampler, FrameDataset, batches, make_loader
from vidcolor.training.distributed import DistInfo
from vidcolor.training.step import lab_batch


@dataclass
class Targets:
    """What the loss compares the network's output with (SPEC §4)."""

    head: str
    num_bins: int
    bins_np: np.ndarray
    prior: np.ndarray | None
    weights_np: np.ndarray | None
    bins: torch.Tensor | None  # on the device, histogram head only
    weights: torch.Tensor | None  # on the device, rebalanced variants only


def compute_prior(paths: list[Path], bins: np.ndarray, device: torch.device, *, workers: int,
                  dist_info: DistInfo | None = None, progress: bool = True) -> np.ndarray:
    """Empirical bin distribution of ``paths`` (whole frames, ab at 1/4 resolution).

    Under DDP each process counts its share and the counts are summed.
    """
    from vidcolor import progress as progress_mod
    from vidcolor.quantize import PriorAccumulator

    dist_info = dist_info or DistInfo()
    dataset = FrameDataset(paths, crop=None)
    sampler = EpochSampler(len(paths), 0, dist_info.rank, dist_info.world, shuffle=False)
    loader = make_loader(dataset, sampler, 16, workers, pin=False, persistent=False)
    accumulator = PriorAccumulator(bins)
    with progress_mod.bar(total=len(sampler), desc="prior", unit="img",
                          enabled=progress and dist_info.main) as bar, torch.no_grad():
        for batch in batches(loader):
            _, ab_small = lab_batch(batch.to(device))
            accumulator.add(ab_small.float())
            bar.update(batch.shape[0])
    counts = accumulator.counts.astype(np.float64)
    if dist_info.enabled:
        import torch.distributed as dist

        tensor = torch.from_numpy(counts).to(device)
        dist.all_reduce(tensor)
        counts = tensor.cpu().numpy()
    if counts.sum() <= 0:
        raise DatasetError("the training split has no pixels to count colours from")
    return counts / counts.sum()

