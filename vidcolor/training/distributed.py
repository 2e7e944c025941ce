"""Training on several processes (``torchrun``, DistributedDataParallel): the process's rank
and world read from the environment torchrun sets, and the few collectives the trainer needs.

``WORLD_SIZE`` > 1 turns DDP on: NCCL on CUDA (each process on ``cuda:LOCAL_RANK``), gloo on
the CPU. Without it every function here is a no-op for one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from vidcolor.checkpoint.state import rank_rng_state
from vidcolor.errors import DeviceError


@dataclass
class DistInfo:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """Whether training runs on several processes (DDP)."""
        return self.world > 1

    @property
    def main(self) -> bool:
        """Whether this is rank 0, the process that writes."""
        return self.rank == 0


def init_distributed(device_name: str) -> DistInfo:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1), once.

    Raises:
        DeviceError: ``--device cuda`` without CUDA.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    import torch.distributed as dist

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        use_cuda = device_name != "cpu" and torch.cuda.is_available()
        if device_name == "cuda" and not torch.cuda.is_available():
            raise DeviceError("--device cuda requested but CUDA is not available")
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(rank=rank, world=world, local_rank=local_rank)


def all_reduce_sum(values: list[float], dist_info: DistInfo, device: torch.device
                   ) -> list[float]:
    """``values`` summed over all processes (a collective); themselves without DDP."""
    if not dist_info.enabled:
        return values
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def gather_rng_states(dist_info: DistInfo, device: torch.device) -> list[torch.Tensor] | None:
    """Every rank's RNG state, by rank (a collective: all ranks call it); None without DDP."""
    if not dist_info.enabled:
        return None
    import torch.distributed as dist

    states: list[torch.Tensor | None] = [None] * dist_info.world
    dist.all_gather_object(states, rank_rng_state(device))
    return [state for state in states if state is not None]



def finish_distributed(dist_info: DistInfo) -> None:
    """Wait for every process, then leave the process group (nothing without DDP)."""
    if not dist_info.enabled:
        return
    import torch.distributed as dist

    dist.barrier()
    dist.destroy_process_group()
