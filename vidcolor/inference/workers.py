"""The render's worker processes: the pool and the job each frame's stages run as.

The frame stages (:class:`vidcolor.inference.stages.FrameStage`) run in spawned worker
processes. What a worker unpickles — this module's functions, the stage objects and the
:class:`~vidcolor.inference.stages.FrameWork` — must not import torch (a worker would spend
seconds and hundreds of MB loading it for nothing): so this module, the stages and what they
import are numpy/OpenCV only, and the package's ``__init__`` imports nothing.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

import cv2

if TYPE_CHECKING:
    from vidcolor.inference.stages import FrameStage, FrameWork


def _worker_init() -> None:
    # One thread per worker (the pool is the parallelism); Ctrl-C is the parent's to handle:
    # it cancels the pool, so the workers ignore SIGINT instead of each printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)


def available_cpus() -> int:
    """The cores this process may run on: its CPU affinity (a SLURM allocation, a container's
    cpuset), not every core of the machine."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 2


def make_pool(workers: int) -> ProcessPoolExecutor | None:
    """A process pool for the frame stages (spawned: no torch or CUDA state is inherited)."""
    if workers <= 0:
        return None
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init)


def run_frame_stages(stages: Sequence[FrameStage], work: FrameWork) -> FrameWork:
    """Run consecutive frame stages on one frame: the job a worker process gets."""
    for stage in stages:
        work = stage.apply(work)
    return work
