"""Shared fixtures: tiny videos made on the fly with PyAV (no binary fixtures)."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import resource
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from vidcolor.training.config import TrainConfig

#: Relative tolerance for a figure computed twice from the same frames (two scoring runs, or
#: the streaming scorer beside the whole-clip function). Bit-identity is not promised:
#: ``cv2.magnitude`` (the per-pixel αβ / ab error behind αβ error, AuC and the per-band
#: errors) runs through IPP, whose result moves by a float32 ulp for some relative alignments
#: of its two inputs, and numpy gives each new array its own address (seen: the grey AuC of
#: test_evaluate, 0.49600984036515 in one run, 0.49600984033022544 in the other). A pixel
#: moves by ~1e-7 of its value and the sums are float64, so a figure moves by at most ~1e-7
#: relative; 1e-6 allows for that, while another frame, pairing or option moves these figures
#: by 1e-3 or more.
SAME_FIGURE_REL = 1e-6


def assert_same_figures(first: dict, second: dict, what: str = "") -> None:
    """Every figure of two summaries' metric dicts equal within :data:`SAME_FIGURE_REL`
    (non-numbers - None, ``"inf"`` - exactly), and the same keys."""
    assert first.keys() == second.keys(), what
    for key, value in first.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert value == pytest.approx(second[key], rel=SAME_FIGURE_REL, abs=1e-12), \
                f"{what} {key}"
        else:  # newer pytest refuses approx() of a string with a relative tolerance
            assert value == second[key], f"{what} {key}"


#: Mean absolute difference (levels, per frame) allowed between two encodes of the same frames.
#: x264 (through PyAV) does not always encode identical frames identically: tiny frames with
#: content at the border sometimes come out as another bitstream (test_video says how often).
#: Each encode is within x264's coding error of the frames (at crf 18 on the test clips up to
#: ~2.1 levels on average over a frame), so two encodes differ by at most about twice that;
#: measured between such variants: up to 1.2 (single values by up to ~30). A resumed render's
#: segments are new encodes, so its decoded frames are held to this, not to bit-identity.
VIDEO_MEAN_LEVELS = 3.0


def _mean_levels(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.abs(first.astype(np.int16) - second.astype(np.int16)).mean())


def assert_same_video_frames(got: Sequence[np.ndarray], want: Sequence[np.ndarray]) -> None:
    """Decoded frames of two encodes of the same frames (or an encode and its frames): the
    same count and size, each frame within :data:`VIDEO_MEAN_LEVELS` of its reference, and
    nearer it than the reference's neighbours. The test clips move every frame, so that last
    check fails a wrong, lost or repeated frame whatever the tolerance."""
    assert len(got) == len(want)
    for index, (frame, reference) in enumerate(zip(got, want, strict=True)):
        assert frame.shape == reference.shape, index
        own = _mean_levels(frame, reference)
        assert own <= VIDEO_MEAN_LEVELS, (index, own)
        for other in (index - 1, index + 1):
            if 0 <= other < len(want):
                assert own < _mean_levels(frame, want[other]), (index, other)


def tone(seconds: float, rate: int = 16000) -> tuple[np.ndarray, int]:
    """A quiet 440 Hz mono tone as float32 (1, n) samples."""
    t = np.arange(int(seconds * rate)) / rate
    return (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], rate


def write_clip(path: Path, frames: Sequence[np.ndarray], fps: Fraction | int = 24,
               audio: bool = True) -> Path:
    """Write RGB frames as a video (with a tone when ``audio``) and return the path."""
    from vidcolor.video.writer import VideoWriter

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


def credit_screen(fade: float = 1.0, side: int = 96) -> np.ndarray:
    """A credits card: white "THE END" on blue (``side``×``side``), faded to ``fade``."""
    import cv2

    frame = np.zeros((side, side, 3), np.uint8)
    frame[...] = (0, 40, 255)
    cv2.putText(frame, "THE END", (10, side // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                (255, 255, 255), 2)
    return (frame * fade).round().astype(np.uint8)


def episode_frames(seed: int, holds: int = 2) -> list[np.ndarray]:
    """Credits faded in, a story of held drawings, credits faded out (64×48)."""
    import cv2

    fades = [0.25, 0.5, 0.75, 1.0]
    opening = [cv2.resize(credit_screen(f), (64, 48)) for f in fades]
    story = moving_square_frames(count=20 * holds, hold=holds)
    for frame in story:
        frame[40:46, seed * 6:seed * 6 + 6] = (250, 250, 0)
    closing = [cv2.resize(credit_screen(f), (64, 48)) for f in reversed(fades)]
    return opening + story + closing


def write_rip(path: Path, frames: list[np.ndarray], subtitles_until: float = 9.0,
              audio_seconds: float = 6.0, strip_tags: bool = False) -> Path:
    """An MKV like a MakeMKV rip (:func:`vidcolor.demo.rip.write_rip`: video at 24 fps, then
    subtitles and a tone that outlast it). ``strip_tags`` renames the per-stream ``DURATION``
    tags that FFmpeg writes, as muxers that write no statistics tags leave them out.
    """
    from vidcolor.demo.rip import write_rip as write

    write(path, frames, *tone(audio_seconds), subtitles_until=subtitles_until)
    if strip_tags:
        data = path.read_bytes()
        assert data.count(b"DURATION") == 3
        path.write_bytes(data.replace(b"DURATION", b"XURATION"))
    return path


@pytest.fixture(autouse=True)
def _vidcolor_logger_restored() -> Iterator[None]:
    """Give every test the ``vidcolor`` logger as it found it: a CLI run in the test process
    gives it its own handler and stops propagation (``_cli.main._setup_logging``), which hid
    later tests' log lines from ``caplog``."""
    logger = logging.getLogger("vidcolor")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


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


def save_tiny_run(run: Path, seed: int = 0, grid: int | None = 10) -> Path:
    """A tiny untrained histogram run in ``run`` (plain, width 0.05, ab grid of ``grid`` units:
    None is the gamut's default), drawn with ``seed``, its parameters scaled up so that the
    colours show (an untrained head predicts near-grey)."""
    import torch

    from vidcolor.checkpoint.layout import CheckpointInfo
    from vidcolor.checkpoint.write import save_checkpoint
    from vidcolor.models import build_model
    from vidcolor.quantize import ab_gamut

    torch.manual_seed(seed)
    bins = ab_gamut() if grid is None else ab_gamut(grid)
    network = build_model("plain", "rebalance", 0.05, len(bins))
    with torch.no_grad():
        for param in network.parameters():
            param.mul_(3.0)
    run.mkdir(parents=True)
    save_checkpoint(run, CheckpointInfo(arch="plain", variant="rebalance", width=0.05, bins=bins,
                                        prior=None, weights=None, epoch=1, config={},
                                        version="", path=run, num_bins=len(bins),
                                        head="histogram"), network)
    return run


def save_model(run: Path, arch: str, variant: str = "rebalance", grid: int = 10,
               seed: int = 0) -> Path:
    """A tiny untrained ``arch``/``variant`` run in ``run`` (width 0.05; a histogram head over an
    ab grid of ``grid`` units, or the ab head of ``l2``), drawn with ``seed``, its parameters
    scaled up so that the colours show."""
    import torch

    from vidcolor.checkpoint.layout import CheckpointInfo
    from vidcolor.checkpoint.write import save_checkpoint
    from vidcolor.models import build_model
    from vidcolor.quantize import ab_gamut

    torch.manual_seed(seed)
    bins = None if variant == "l2" else ab_gamut(grid)
    model = build_model(arch, variant, 0.05, 0 if bins is None else len(bins)) if bins is not None \
        else build_model(arch, variant, 0.05)
    with torch.no_grad():  # an untrained head predicts near-grey; make the colours visible
        for param in model.parameters():
            param.mul_(3.0)
    run.mkdir(parents=True, exist_ok=True)
    info = CheckpointInfo(arch=arch, variant=variant, width=0.05, bins=bins, prior=None,
                          weights=None, epoch=1, config={}, version="", path=run,
                          num_bins=0 if bins is None else len(bins),
                          head="ab" if variant == "l2" else "histogram")
    save_checkpoint(run, info, model)
    return run


#: ``vidcolor train`` options for a tiny, quick run on the CPU.
TINY = ["--width", "0.0625", "--crop", "32", "--batch-size", "4", "--accumulate", "2",
        "--workers", "0", "--device", "cpu"]

#: The columns of a dataset's ``manifest.csv``, as :func:`make_dataset` writes them.
MANIFEST_FIELDS = ["path", "episode", "source", "frame_index", "pts", "time", "mse", "split"]


def _frame(rng: np.random.Generator, size: int) -> np.ndarray:
    """A flat-shaded 'cartoon' frame: coloured rectangles whose colour goes with brightness."""
    palette = np.array([[200, 40, 40], [40, 160, 60], [50, 70, 210], [230, 210, 60]], np.uint8)
    image = np.full((size, size, 3), 235, np.uint8)
    for _ in range(4):
        y, x = rng.integers(0, size - 8, 2)
        h, w = rng.integers(8, size // 2, 2)
        image[y:y + h, x:x + w] = palette[rng.integers(len(palette))]
    return image


def make_dataset(root: Path, train: int = 8, test: int = 3, size: int = 48) -> Path:
    """Write the dataset layout vidcolor.dataset.reader.load_split reads (meta, manifest, PNGs).

    Training frames belong to episode ``ep``, test frames to ``eptest``; ``meta.json`` records
    both with their frame counts, as a build does.
    """
    import cv2

    rng = np.random.default_rng(1)
    rows = []
    for i in range(train + test):
        episode = "ep" if i < train else "eptest"
        rel = f"frames/{episode}/{i:06d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / rel), _frame(rng, size)[:, :, ::-1])
        rows.append({"path": rel, "episode": episode, "source": f"{episode}.mkv",
                     "frame_index": i, "pts": i, "time": i / 24, "mse": 100.0,
                     "split": "train" if i < train else "test"})
    with open(root / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    episodes = {name: {"stored": count, "split": split, "source": f"{name}.mkv", "bytes": 1000,
                       "mtime": 0}
                for name, count, split in (("ep", train, "train"), ("eptest", test, "test"))
                if count}
    params = {"size": size, "credit_filter": False, "dedup_threshold": 0.0}
    (root / "meta.json").write_text(json.dumps({"params": params, "version": "test",
                                                "test_episodes": ["eptest"],
                                                "episodes": episodes}))
    return root


def train_config(**overrides) -> TrainConfig:
    """A :class:`TrainConfig` for a tiny, quick CPU run (residual, width 0.0625, one epoch,
    crop 32), with ``overrides`` on top."""
    from vidcolor.training.config import TrainConfig

    base = dict(arch="residual", width=0.0625, epochs=1, batch_size=4, accumulate=2, crop=32,
                workers=0, device="cpu")
    base.update(overrides)
    return TrainConfig(**base)


def cartoon_frames(count: int = 8, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """Grey flat areas with dark outlines; a disc moving across (RGB, R = G = B)."""
    import cv2

    frames = []
    for index in range(count):
        grey = np.full((height, width), 200, np.uint8)
        grey[:, : width // 3] = 120
        cv2.circle(grey, (12 + 4 * index, height // 2), 10, 60, -1)
        cv2.circle(grey, (12 + 4 * index, height // 2), 10, 0, 1)
        frames.append(np.repeat(grey[..., None], 3, axis=2))
    return frames


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """``ulimit -f`` for this process, as on a full disk: a write past ``limit`` bytes fails
    with EFBIG (Python ignores SIGXFSZ). Only the soft limit is set, so it is lifted again."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
