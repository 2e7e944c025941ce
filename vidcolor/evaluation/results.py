"""``vidcolor evaluate RESULT... --truth TRUTH``: rendered files scored against their colour
original.

:func:`evaluate_results` reads the rendered videos, images or folders and the truth in lockstep
and scores them (:func:`vidcolor.evaluation.scoring.score_frames`); different kinds, rates or
frame counts are refused (``align`` compares the frames they have in common).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidcolor.background import prefetch
from vidcolor.errors import InputError
from vidcolor.evaluation.scoring import check_report_dir, score_frames
from vidcolor.inference.sources import Source, open_source

log = logging.getLogger(__name__)


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
    from vidcolor.inference.outputs import check_same_rate

    if report_dir is not None:
        check_report_dir(report_dir)
    truth_source = open_source(truth)
    sources = [open_source(path) for path in results]
    for source in sources:
        if (source.kind == "video") != (truth_source.kind == "video"):
            raise InputError(f"{source.path}: a {source.kind} cannot be compared with "
                             f"{truth_source.path} (a {truth_source.kind})")
        check_same_rate(source, truth_source)
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
    return score_frames(frames, names, count, meta, report_dir, progress,
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
