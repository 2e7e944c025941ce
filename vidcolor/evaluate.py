"""``vidcolor evaluate``: score what render writes, against the colour truth (SPEC §8 and more).

Two modes, one scorer (:class:`vidcolor.metrics.SequenceScorer`):

* :func:`evaluate_runs` — trained runs on a dataset split. The split's frames are turned grey
  (each truth frame's own L, a = b = 0, as uint8 RGB: what a grey episode would hold) and
  rendered through the very pipeline ``vidcolor render`` uses, with the same
  :class:`~vidcolor.inference.options.RenderOptions`; the figures are those of rendering those
  grey frames as a folder of images and comparing. Several runs without ``--ensemble`` are
  scored side by side; a sequence stage's views (e.g. the per-frame colours beside the
  temporal ones) are scored as results of their own.
* :func:`evaluate_results` — rendered videos, images or folders against their colour original.

Both return the scorer's summary (plus a ``meta`` entry saying what was scored) and can write a
report folder (:func:`vidcolor.report.write_report`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidcolor import progress as progress_mod
from vidcolor.background import prefetch
from vidcolor.color import grey_rgb, lightness
from vidcolor.errors import InputError
from vidcolor.inference.options import RenderOptions
from vidcolor.inference.pipeline import SourceFrame
from vidcolor.inference.sources import Source, open_source, read_image

log = logging.getLogger(__name__)

#: Rows of the report's comparison sheet (thesis Fig. 8.3).
SHEET_ROWS = 6


def _sheet_picks(count: int, rows: int = SHEET_ROWS) -> set[int]:
    if count <= 0:
        return set()
    return {int(i) for i in np.linspace(0, count - 1, min(rows, count)).round()}


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
    from vidcolor.dataset import load_split
    from vidcolor.inference.render import Renderer

    paths = _even_subset(load_split(dataset_dir, split), max_images)
    groups = [list(runs)] if options.ensemble is not None else [[run] for run in runs]
    renderers = [Renderer.from_runs(group, options) for group in groups]
    names = [name for group in groups for name in _result_names(group, options.ensemble)]
    frames = (_run_lockstep(renderers, names, paths))
    meta = {"mode": "runs", "runs": [str(r) for r in runs], "dataset": str(dataset_dir),
            "split": split, "options": options.describe()}
    return _score(frames, _names_with_views(renderers, names), len(paths), meta, report_dir,
                  progress, title=f"vidcolor evaluate: {split} split of {dataset_dir}")


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


def evaluate_results(results: Sequence[str | os.PathLike[str]], truth: str | os.PathLike[str],
                     *, align: bool = False, report_dir: str | os.PathLike[str] | None = None,
                     progress: bool = False) -> dict[str, Any]:
    """Score rendered videos, images or folders against their colour original.

    Args:
        results: the rendered outputs (each the same kind and frame count as ``truth``).
        truth: the colour original.
        align: compare the frames the inputs have in common when their counts differ (a
            warning says how many are left out) instead of failing.
        report_dir: write a report folder there.
        progress: show a progress bar.

    Returns:
        The summary (:meth:`vidcolor.metrics.SequenceScorer.summary` + ``meta``).

    Raises:
        InputError: unreadable inputs, different kinds, frame counts or sizes.
    """
    truth_source = open_source(truth)
    sources = [open_source(path) for path in results]
    for source in sources:
        if (source.kind == "video") != (truth_source.kind == "video"):
            raise InputError(f"{source.path}: a {source.kind} cannot be compared with "
                             f"{truth_source.path} (a {truth_source.kind})")
    counts = [_frame_count(source) for source in (truth_source, *sources)]
    if len(set(counts)) > 1:
        detail = ", ".join(f"{s.path} {c}" for s, c in zip((truth_source, *sources), counts,
                                                             strict=True))
        if not align:
            raise InputError(f"different frame counts ({detail}); pass --align to compare the "
                             "frames they have in common")
        log.warning("different frame counts (%s); comparing the first %d", detail, min(counts))
    count = min(counts)
    names = _unique_names([source.path for source in sources])
    frames = _lockstep_files(truth_source, sources, names, count)
    meta = {"mode": "results", "truth": str(truth_source.path),
            "results": {name: str(s.path) for name, s in zip(names, sources, strict=True)}}
    return _score(frames, names, count, meta, report_dir, progress,
                  title=f"vidcolor evaluate: against {truth_source.path.name}")


def _frame_count(source: Source) -> int:
    if source.kind != "video" or getattr(source.video, "frame_count_exact", False):
        return source.count
    return sum(1 for _ in source.frames())  # the header's figure is an estimate: count


def _unique_names(paths: Sequence[Path]) -> list[str]:
    names = [path.name for path in paths]
    if len(set(names)) == len(names):
        return names
    return [str(path) for path in paths]


def _lockstep_files(truth: Source, sources: Sequence[Source], names: Sequence[str], count: int
                    ) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    streams = [prefetch(source.frames(), 4, "vidcolor-result") for source in
               (truth, *sources)]
    try:
        for index, frames in enumerate(zip(*streams, strict=False)):
            if index >= count:
                break
            yield frames[0].rgb, {name: frame.rgb for name, frame in zip(names, frames[1:],
                                                                         strict=True)}
    finally:
        for stream in streams:
            stream.close()


def _score(frames: Iterator[tuple[np.ndarray, dict[str, np.ndarray]]], names: Sequence[str],
           count: int, meta: dict[str, Any], report_dir: str | os.PathLike[str] | None,
           progress: bool, title: str) -> dict[str, Any]:
    from vidcolor.metrics import SequenceScorer

    scorer = SequenceScorer(names)
    picks = _sheet_picks(count)
    sheet: list[tuple[str, dict[str, np.ndarray]]] = []
    with progress_mod.bar(total=count, desc="evaluate", unit="frame", enabled=progress) as bar:
        for index, (truth, results) in enumerate(frames):
            try:
                scorer.add(truth, results)
            except (ValueError, TypeError) as exc:
                raise InputError(f"frame {index}: {exc}") from None
            if index in picks:
                sheet.append((f"frame {index}", {"grey": grey_input(truth), **results,
                                                 "truth": truth}))
            bar.update(1)
    summary = scorer.summary()
    summary["meta"] = meta
    if report_dir is not None:
        from vidcolor.report import write_report

        write_report(Path(report_dir), summary, sheet, title=title)
    return summary
