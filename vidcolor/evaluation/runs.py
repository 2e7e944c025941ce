"""``vidcolor evaluate RUN...``: trained runs scored on a dataset split, rendered as render would.

:func:`evaluate_runs` turns the split's frames grey (:func:`grey_input`: each truth frame's own
L, a = b = 0, as uint8 RGB: what a grey episode would hold) and renders them through the very
pipeline ``vidcolor render`` uses, with the same
:class:`~vidcolor.inference.options.RenderOptions`; every renderer advances in lockstep and the
frames are scored against the truth (:func:`vidcolor.evaluation.scoring.score_frames`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidcolor.background import prefetch
from vidcolor.color.frames import grey_rgb, lightness
from vidcolor.evaluation.scoring import check_report_dir, score_frames
from vidcolor.inference.options import RenderOptions
from vidcolor.inference.pipeline import SourceFrame
from vidcolor.inference.sources import read_image


def _even_subset(items: list[Path], limit: int | None) -> list[Path]:
    if limit is None or limit >= len(items):
        return items
    index = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in index]


def grey_input(truth_rgb: np.ndarray) -> np.ndarray:
    """The grey frame a black-and-white twin of ``truth_rgb`` holds: its L, a = b = 0."""
    return grey_rgb(lightness(truth_rgb))


def _split_frames(paths: Sequence[Path]) -> Iterator[np.ndarray]:
    for path in paths:
        yield read_image(path)[0]


def _result_names(runs: Sequence[str | os.PathLike[str]], ensemble: str | None) -> list[str]:
    names = [str(run) for run in runs]
    if ensemble is not None and len(names) > 1:
        return [f"{ensemble}({' + '.join(names)})"]
    return names


def evaluate_runs(runs: Sequence[str | os.PathLike[str]], options: RenderOptions, *,
                  dataset_dir: str | os.PathLike[str] = "dataset", split: str = "test",
                  max_images: int | None = None, report_dir: str | os.PathLike[str] | None
                  = None, progress: bool = False) -> dict[str, Any]:
    """Render a split's grey frames with ``runs`` and ``options``; score against the truth.

    Args:
        runs: run folders or checkpoint files. With ``options.ensemble`` they are one result;
            without, each is rendered and scored on its own.
        options: the render options (refinement, ensemble, decoding, sequence stages, ...).
        dataset_dir: the dataset folder.
        split: ``"test"`` or ``"train"``.
        max_images: score at most this many frames (evenly spaced, in order).
        report_dir: write a report folder there (``report.json``, pictures, ``index.html``).
        progress: show a progress bar.

    Returns:
        The summary (:meth:`vidcolor.metrics.SequenceScorer.summary` + ``meta``).

    Raises:
        DatasetError, CheckpointError, DeviceError, OptionError.
    """
    from vidcolor.dataset.reader import load_split
    from vidcolor.inference.render import Renderer

    if report_dir is not None:
        check_report_dir(report_dir)
    paths = _even_subset(load_split(dataset_dir, split), max_images)
    groups = [list(runs)] if options.ensemble is not None else [[run] for run in runs]
    renderers = [Renderer.from_runs(group, options) for group in groups]
    names = [name for group in groups for name in _result_names(group, options.ensemble)]
    frames = (_run_lockstep(renderers, names, paths))
    meta = {"mode": "runs", "runs": [str(r) for r in runs], "dataset": str(dataset_dir),
            "split": split, "options": options.describe()}
    return score_frames(frames, _names_with_views(renderers, names), len(paths), meta,
                        report_dir, progress,
                        title=f"vidcolor evaluate: {split} split of {dataset_dir}")


def _names_with_views(renderers: Sequence[Any], names: Sequence[str]) -> list[str]:
    result = []
    for renderer, name in zip(renderers, names, strict=True):
        result.append(name)
        result += [f"{name} [{view}]" for view in renderer.view_names()]
    return result


def _run_lockstep(renderers: Sequence[Any], names: Sequence[str], paths: Sequence[Path]
                  ) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """(truth, {result name: rgb}) per frame, every renderer's pipeline advancing together."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        streams = []
        for renderer in renderers:
            stack.enter_context(renderer)
            grey = (SourceFrame(key=index, pts=None, rgb=grey_input(truth))
                    for index, truth in enumerate(_split_frames(paths)))
            streams.append(renderer.pipeline(views=True).run(grey))
        truths = prefetch(_split_frames(paths), 8, "vidcolor-truth")
        try:
            for truth, works in zip(truths, zip(*streams, strict=True), strict=True):
                results: dict[str, np.ndarray] = {}
                for renderer, name, work in zip(renderers, names, works, strict=True):
                    assert work.rgb is not None
                    results[name] = work.rgb
                    for view in renderer.view_names():
                        results[f"{name} [{view}]"] = work.view_rgb[view]
                yield truth, results
        finally:
            truths.close()
            for stream in streams:
                stream.close()
