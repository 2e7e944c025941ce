"""Writing the demo series to files: an episode as a colour video with an audio track and its
black-and-white twin (:func:`generate_episode`), a whole series with its ``manifest.json``
(:func:`generate_series`)."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from vidcolor import fsutil, progress
from vidcolor.color.grey import check_grey_model
from vidcolor.demo.cast import AMBIGUOUS_PAIR, CAST, LOCATIONS
from vidcolor.demo.episode import (
    check_episode_args,
    episode_credit_ranges,
    episode_frame_count,
    iter_episode_frames,
)
from vidcolor.demo.twins import bw_frame
from vidcolor.errors import OutputError
from vidcolor.film import FilmWear, film_frame

log = logging.getLogger(__name__)

AUDIO_RATE = 22050


@dataclass(frozen=True)
class EpisodeInfo:
    """One written episode of a series.

    Attributes:
        name: e.g. ``"episode01"``.
        colour_path: the colour video.
        bw_path: its black-and-white twin (grey as R = G = B, see
            :func:`~vidcolor.demo.twins.bw_frame`).
        frame_count: number of frames in each of the two videos.
        credit_ranges: inclusive ``(first, last)`` frame index ranges of the credits.
    """

    name: str
    colour_path: Path
    bw_path: Path
    frame_count: int
    credit_ranges: tuple[tuple[int, int], ...]

    @property
    def credit_frames(self) -> list[int]:
        """Frame indices of every credit frame."""
        return [i for first, last in self.credit_ranges for i in range(first, last + 1)]


@dataclass(frozen=True)
class SeriesInfo:
    """What :func:`generate_series` wrote.

    Attributes:
        outdir: the output directory.
        manifest_path: ``outdir/manifest.json``.
        seed, width, height, fps: the generation parameters.
        episodes: one :class:`EpisodeInfo` per episode.
    """

    outdir: Path
    manifest_path: Path
    seed: int
    width: int
    height: int
    fps: Fraction
    episodes: list[EpisodeInfo] = field(default_factory=list)

    @property
    def colour_paths(self) -> list[Path]:
        """The colour episodes, in order."""
        return [episode.colour_path for episode in self.episodes]

    @property
    def bw_paths(self) -> list[Path]:
        """The black-and-white twins, in order."""
        return [episode.bw_path for episode in self.episodes]


def episode_audio(*, seed: int = 0, episode: int = 0, seconds: float = 20.0,
                  rate: int = AUDIO_RATE) -> np.ndarray:
    """A quiet, deterministic chord for an episode.

    Args:
        seed, episode: pick the chord (a major triad on a root between A3 and G#4).
        seconds: duration.
        rate: sample rate in Hz.

    Returns:
        ``(2, samples)`` float32 stereo samples in ``[-0.3, 0.3]``.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(episode), 0xA0D1]))
    root = 220.0 * 2.0 ** (int(rng.integers(12)) / 12)
    samples = max(1, round(seconds * rate))
    t = np.arange(samples, dtype=np.float64) / rate
    chord = sum(0.08 * np.sin(2 * math.pi * root * 2 ** (semitones / 12) * t)
                for semitones in (0, 4, 7))
    # A gentle 2 Hz tremolo so that the track is not a flat drone.
    left = chord * (0.8 + 0.2 * np.sin(2 * math.pi * 2.0 * t))
    right = chord * (0.8 + 0.2 * np.cos(2 * math.pi * 2.0 * t))
    return np.stack([left, right]).astype(np.float32)


def generate_episode(colour_path: str | os.PathLike[str],
                     bw_path: str | os.PathLike[str] | None = None, *, seed: int = 0,
                     episode: int = 0, seconds: float = 20.0, width: int = 256,
                     height: int = 192, fps: Fraction = Fraction(24), audio: bool = True,
                     grey: str = "luminance", film: FilmWear | None = None,
                     progress: bool = False) -> int:
    """Write one episode (and optionally its black-and-white twin) as video files.

    Frames are generated on the fly, so memory use does not grow with ``seconds``: this is
    also the way to make a long episode for a memory benchmark.

    Args:
        colour_path: output colour video (container from the extension, e.g. ``.mkv``).
        bw_path: output black-and-white twin, or None for none.
        seed, episode, seconds, width, height, fps: as in
            :func:`~vidcolor.demo.episode.iter_episode_frames`.
        audio: add the episode's chord (:func:`episode_audio`) as an audio track.
        grey: how the twin is made grey (:func:`~vidcolor.demo.twins.bw_frame`,
            :data:`vidcolor.color.grey.GREY_MODELS`).
        film: wear the twin like a film print (:func:`vidcolor.film.film_frame`, seeded with
            ``(seed, episode)`` and the frame's index); None (default) keeps it clean. The
            colour video is the same either way.
        progress: show a progress bar.

    Returns:
        The number of frames written to each file.

    Raises:
        OutputError: a file cannot be written.
        ValueError: invalid size, length, frame rate or grey model.
    """
    from vidcolor.video.writer import VideoWriter

    fps = check_episode_args(seconds, width, height, fps)
    check_grey_model(grey)
    count = episode_frame_count(seconds, fps)
    duration = float(count / fps)
    sound = (episode_audio(seed=seed, episode=episode, seconds=duration), AUDIO_RATE) \
        if audio else None
    writers = [VideoWriter(colour_path, fps, width, height, audio=sound)]
    if bw_path is not None:
        writers.append(VideoWriter(bw_path, fps, width, height, audio=sound))
    written = 0
    bw_cache: tuple[np.ndarray, np.ndarray] | None = None
    with writers[0] as colour_writer, \
            (writers[1] if len(writers) > 1 else _NullWriter()) as bw_writer, \
            _progress_bar(count, Path(colour_path).name, progress) as bar:
        for index, frame in enumerate(iter_episode_frames(
                seed=seed, episode=episode, seconds=seconds, width=width, height=height,
                fps=fps)):
            colour_writer.write(frame.rgb)
            if bw_path is not None:
                if bw_cache is None or bw_cache[0] is not frame.rgb:  # held frames share one
                    bw_cache = (frame.rgb, bw_frame(frame.rgb, grey))
                twin = bw_cache[1] if film is None else film_frame(bw_cache[1], index,
                                                                   (seed, episode), film)
                bw_writer.write(twin)
            written += 1
            bar.update(1)
    return written


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    """A progress bar for ``total`` frames (a tqdm from :func:`vidcolor.progress.bar`)."""
    return progress.bar(total=total, desc=desc, unit="frame", enabled=enabled)


class _NullWriter:
    def __enter__(self) -> _NullWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, rgb: np.ndarray) -> None:  # pragma: no cover - never called
        return None


def generate_series(outdir: str | os.PathLike[str], *, seed: int = 0, episodes: int = 4,
                    seconds: float = 20.0, width: int = 256, height: int = 192,
                    fps: Fraction = Fraction(24), grey: str = "luminance",
                    film: FilmWear | None = None, progress: bool = False) -> SeriesInfo:
    """Write a synthetic cartoon series: colour episodes, their black-and-white twins, a manifest.

    Files: ``episodeNN.mkv`` (colour, with audio), ``episodeNN_bw.mkv`` (its grey twin, same
    audio) and ``manifest.json`` (parameters, grey model, film wear, files, credit frame
    ranges, cast, locations).

    Args:
        outdir: output directory (created if needed).
        seed: the whole series is a function of the seed and the other arguments.
        episodes: number of episodes.
        seconds: length of each episode, credits included.
        width, height: frame size.
        fps: frame rate.
        grey: how the twins are made grey (:data:`vidcolor.color.grey.GREY_MODELS`); the default
            ``luminance`` keeps each pixel's Lab L, ``bt601``/``bt709`` make the luma an
            archive's black-and-white copy has.
        film: wear the twins like a film print (:class:`vidcolor.film.FilmWear`: grain,
            flicker, weave, dust, scratches; seeded by ``seed`` and the episode); None (the
            default) keeps them clean. The colour episodes are the same either way.
        progress: show progress bars.

    Returns:
        A :class:`SeriesInfo` listing the files and the credit frames of each episode.

    Raises:
        OutputError: ``outdir`` cannot be created or written.
        ValueError: invalid counts, size, length, frame rate or grey model.

    Example:
        >>> info = generate_series("demo", episodes=2, seconds=5)  # doctest: +SKIP
        >>> info.colour_paths  # doctest: +SKIP
        [PosixPath('demo/episode01.mkv'), PosixPath('demo/episode02.mkv')]
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    fps = check_episode_args(seconds, width, height, fps)
    check_grey_model(grey)
    directory = _output_folder(outdir)
    info = SeriesInfo(outdir=directory, manifest_path=directory / "manifest.json", seed=seed,
                      width=width, height=height, fps=fps)
    credit_ranges = episode_credit_ranges(seconds, fps)
    for index in range(episodes):
        name = f"episode{index + 1:02d}"
        colour_path = directory / f"{name}.mkv"
        bw_path = directory / f"{name}_bw.mkv"
        log.info("writing %s and %s", colour_path, bw_path.name)
        try:
            count = generate_episode(colour_path, bw_path, seed=seed, episode=index,
                                     seconds=seconds, width=width, height=height, fps=fps,
                                     grey=grey, film=film, progress=progress)
        except OSError as exc:
            raise OutputError(f"{colour_path}: cannot write ({exc.strerror or exc})") from exc
        info.episodes.append(EpisodeInfo(name, colour_path, bw_path, count, credit_ranges))
    fsutil.write_json_atomic(info.manifest_path, _manifest(info, seconds, grey, film))
    return info


def _output_folder(outdir: str | os.PathLike[str]) -> Path:
    """The series' folder, created if needed and checked writable.

    Raises:
        OutputError: ``outdir`` is a file, or cannot be created or written.
    """
    if os.path.lexists(outdir) and not os.path.isdir(outdir):
        raise OutputError(f"{outdir}: exists and is not a folder; give another output folder")
    return fsutil.ensure_writable_dir(outdir)


def _manifest(info: SeriesInfo, seconds: float, grey: str, film: FilmWear | None
              ) -> dict[str, Any]:
    """The content of ``manifest.json``: the parameters, grey model, film wear, files, credit
    frame ranges, cast and locations of a written series."""
    return {
        "generator": "vidcolor.demo",
        "seed": info.seed,
        "width": info.width,
        "height": info.height,
        "fps": str(info.fps),
        "seconds": seconds,
        "audio_rate": AUDIO_RATE,
        "grey": grey,
        "film": None if film is None else film.as_dict(),
        "episodes": [{
            "name": episode.name,
            "colour": episode.colour_path.name,
            "bw": episode.bw_path.name,
            "frame_count": episode.frame_count,
            "credit_ranges": [list(r) for r in episode.credit_ranges],
        } for episode in info.episodes],
        "cast": [{"name": c.name, "shape": c.shape, "rgb": list(c.colour)} for c in CAST],
        "ambiguous_pair": list(AMBIGUOUS_PAIR),
        "locations": [location.name for location in LOCATIONS],
    }
