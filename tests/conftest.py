"""Shared fixtures: tiny videos made on the fly with PyAV (no binary fixtures)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest


def tone(seconds: float, rate: int = 16000) -> tuple[np.ndarray, int]:
    """A quiet 440 Hz mono tone as float32 (1, n) samples."""
    t = np.arange(int(seconds * rate)) / rate
    return (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], rate


def write_clip(path: Path, frames: Sequence[np.ndarray], fps: Fraction | int = 24,
               audio: bool = True) -> Path:
    """Write RGB frames as a video (with a tone when ``audio``) and return the path."""
    from vidcolor.video import VideoWriter

    height, width = frames[0].shape[:2]
    sound = tone(len(frames) / float(fps)) if audio else None
    with VideoWriter(path, Fraction(fps), width, height, audio=sound) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def moving_square_frames(count: int = 24, width: int = 64, height: int = 48,
                         hold: int = 1) -> list[np.ndarray]:
    """A red square sliding over a green-blue gradient; each drawing repeated ``hold`` times."""
    frames = []
    ramp = np.linspace(40, 200, width, dtype=np.float32)
    for i in range(count):
        step = i // hold
        frame = np.zeros((height, width, 3), np.uint8)
        frame[..., 1] = ramp.astype(np.uint8)
        frame[..., 2] = 120
        x = (step * 4) % (width - 12)
        frame[10:22, x:x + 12] = (220, 30, 30)
        frames.append(frame)
    return frames


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Run a test with one torch thread (small tensors: threads only add overhead)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def make_clip(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_clip(name, frames=None, fps=24, audio=True)`` writes a clip in tmp_path."""

    def make(name: str = "clip.mp4", frames: Sequence[np.ndarray] | None = None,
             fps: Fraction | int = 24, audio: bool = True) -> Path:
        return write_clip(tmp_path / name, frames or moving_square_frames(), fps, audio)

    return make
