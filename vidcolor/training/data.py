"""The training frames as the network sees them: a dataset of uint8 crops (with the grey level
of the dataset's grey model), a seeded per-epoch sampler that shares them among DDP processes,
and DataLoaders whose workers' errors keep their one-line message.

The shuffle order comes from ``seed + epoch`` and every crop/mirror from ``(seed, epoch,
frame)``, so the data stream does not depend on worker processes or on where a run was
interrupted.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from vidcolor.color.grey import GreyModel, grey_of_rgb
from vidcolor.errors import DatasetError, VidcolorError


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"{path}: cannot read frame (missing or not an image)")
    return np.ascontiguousarray(image[:, :, ::-1])


def even_subset(paths: list[Path], limit: int | None) -> list[Path]:
    """At most ``limit`` of ``paths``, evenly spaced (all of them with None)."""
    if limit is None or limit >= len(paths):
        return paths
    index = np.linspace(0, len(paths) - 1, limit).round().astype(int)
    return [paths[i] for i in index]


class FrameDataset(torch.utils.data.Dataset):
    """Frames as uint8 (3, crop, crop) tensors, or (4, crop, crop) with a grey model other
    than luminance: RGB and the grey level the model gives each pixel.

    Items are addressed by ``(frame index, augmentation seed)``; with a seed the frame gets a
    random crop and mirror drawn from it, with ``None`` the central crop (``crop`` None: the
    largest central multiple of 8).
    """

    def __init__(self, paths: list[Path], crop: int | None, grey: GreyModel | None = None
                 ) -> None:
        self.paths = paths
        self.crop = crop
        self.grey = None if grey is None or grey.name == "luminance" else grey

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, item: tuple[int, int | None]) -> torch.Tensor:
        index, seed = item
        image = _read_rgb(self.paths[index])
        height, width = image.shape[:2]
        if self.crop is None:
            ch, cw = height - height % 8, width - width % 8
        else:
            if self.crop > min(height, width):
                raise DatasetError(f"{self.paths[index]}: frame {width}x{height} is smaller "
                                   f"than --crop {self.crop}")
            ch = cw = self.crop
        if seed is None:
            top, left, mirror = (height - ch) // 2, (width - cw) // 2, False
        else:
            rng = np.random.default_rng(seed)
            top = int(rng.integers(0, height - ch + 1))
            left = int(rng.integers(0, width - cw + 1))
            mirror = bool(rng.integers(0, 2))
        image = image[top:top + ch, left:left + cw]
        if mirror:
            image = image[:, ::-1]
        if self.grey is not None:
            image = np.dstack([image, grey_of_rgb(image, self.grey)])
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()


class EpochSampler(torch.utils.data.Sampler):
    """This process's share of a seeded permutation, with per-item augmentation seeds.

    Yields ``(frame index, seed)``; the permutation depends on ``seed + epoch`` only, and the
    augmentation seed on ``(seed, epoch, frame)``, like :class:`DistributedSampler` with
    ``set_epoch`` (the last, partial round is padded from the start).
    """

    def __init__(self, size: int, seed: int, rank: int = 0, world: int = 1,
                 shuffle: bool = True) -> None:
        self.size, self.seed, self.rank, self.world = size, seed, rank, world
        self.shuffle = shuffle
        self.epoch = 0
        self.per_rank = math.ceil(size / world)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order and augmentation to produce."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.per_rank

    def __iter__(self) -> Iterator[tuple[int, int | None]]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        order += order[: self.per_rank * self.world - self.size]
        for index in order[self.rank::self.world]:
            seed = (self.seed * 1_000_003 + self.epoch) * 10_000_019 + index if self.shuffle \
                else None
            yield index, seed


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # pragma: no cover - optional speed-up only
        pass


#: Loader workers start from a fork server, not a fork of this process: a forked child that
#: calls ``cv2.setNumThreads`` deadlocks once the parent has used OpenCV's thread pool (as an
#: evaluation or a render in the same process does).
_WORKER_CONTEXT = "forkserver"


def make_loader(dataset: FrameDataset, sampler: EpochSampler, batch_size: int, workers: int,
                pin: bool, persistent: bool = True) -> torch.utils.data.DataLoader:
    """A DataLoader of ``dataset`` in ``sampler``'s order, its workers started from a fork
    server with one thread each."""
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
        pin_memory=pin, persistent_workers=persistent and workers > 0,
        worker_init_fn=_worker_init, prefetch_factor=4 if workers > 0 else None,
        multiprocessing_context=_WORKER_CONTEXT if workers > 0 else None,
        # a private generator keeps the DataLoader from drawing on the global torch RNG
        generator=torch.Generator().manual_seed(0))


def _unwrap_worker_error(exc: VidcolorError) -> VidcolorError:
    """The one-line error a DataLoader worker raised, out of the traceback torch wraps it in.

    A worker's exception reaches the main process re-created as ``type(exc)("Caught ... in
    DataLoader worker process N.\nOriginal Traceback ...\n<module>.<Type>: <message>")``.
    """
    text = str(exc)
    if not text.startswith("Caught ") or "DataLoader worker" not in text:
        return exc
    last = text.rstrip().splitlines()[-1]
    prefix = f"{type(exc).__module__}.{type(exc).__qualname__}: "
    return type(exc)(last[len(prefix):] if last.startswith(prefix) else last)


def batches(loader: torch.utils.data.DataLoader) -> Iterator[torch.Tensor]:
    """Iterate ``loader``; a vidcolor error from a worker keeps its one-line message."""
    try:
        yield from loader
    except VidcolorError as exc:
        raise _unwrap_worker_error(exc) from exc


def check_crop(paths: list[Path], crop: int) -> None:
    """Refuse a crop larger than the frames up front (before the prior is counted)."""
    height, width = _read_rgb(paths[0]).shape[:2]
    if crop > min(height, width):
        raise DatasetError(f"{paths[0]}: frame {width}x{height} is smaller than --crop {crop}")

