"""Repair before a build: the episodes whose records disagree with ``meta.json`` are dropped
from it to be extracted again (:func:`_plan_repairs`, from
:func:`~vidcolor.dataset.reader.dataset_problems`), so are all of them when the grey model
changes (:func:`_plan_regrey`), and folders a crashed build left in ``frames/`` are removed
(:func:`_remove_strays`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from vidcolor.color.grey import GreyModel
from vidcolor.dataset.episode import _remove_frames_folder
from vidcolor.dataset.reader import dataset_problems
from vidcolor.dataset.records import _excluded_frame, _is_folder, _same_source
from vidcolor.errors import DatasetError, OutputError

log = logging.getLogger(__name__)


def _plan_repairs(output: Path, meta: dict, manifest: list[dict[str, str]],
                  excluded: list[dict[str, str]], given: dict[str, Path]
                  ) -> tuple[dict[str, Path], dict[str, str]]:
    """Drop the episodes that disagree with ``meta.json``, or whose records are damaged, from
    it, to extract them again.

    Returns:
        The episodes to process (the given ones, then damaged ones that were not given, from
        the source recorded for them) and ``{episode: what was wrong}`` for the damaged ones.

    Raises:
        DatasetError: a damaged episode's recorded source is gone or has changed.
    """
    problems = dataset_problems(output, meta, manifest)
    for number, row in enumerate(excluded, start=1):
        name = row.get("episode")
        if name in meta["episodes"] and name not in problems:
            try:
                _excluded_frame(row)
            except ValueError as exc:
                problems[name] = f"excluded.csv: row {number} is damaged ({exc})"
    work = dict(given)
    repairs = {}
    for name, problem in problems.items():
        record = meta["episodes"].pop(name, None)
        if record is None:  # rows without a record: dropped, nothing to re-extract
            log.warning("%s: %s; dropping them", output, problem)
            continue
        repairs[name] = problem
        if name not in work:
            source = Path(str(record.get("source", "")))
            if not _same_source(source, record):
                raise DatasetError(f"{output}: {problem}, and its source {source} "
                                   "is gone or has changed; give the episode's file again to "
                                   "repair it")
            work[name] = source
        log.warning("%s: %s; extracting it again", output, problem)
    return work, repairs


def _plan_regrey(output: Path, meta: dict, work: dict[str, Path], recorded: GreyModel,
                 grey: GreyModel) -> dict[str, str]:
    """Drop every held episode from ``meta`` (into ``work``) to extract it again: its credit
    screens' signatures were measured on the old model's grey. Returns ``{episode: why}``.

    The stored frames are colour and come out the same; an episode whose recorded source is
    gone or has changed, and was not given, keeps its old signatures, with a warning (a given
    file of another source is the build's usual error, not replaced here).
    """
    change = f"the grey model changes from {recorded.describe()} to {grey.describe()}"
    again = {}
    for name, record in list(meta["episodes"].items()):
        source = work.get(name, Path(str(record.get("source", ""))))
        if not _same_source(source, record):
            if name not in work:
                log.warning("%s: %s, but episode %s's source %s is gone or has changed: its "
                            "credit signatures stay the old model's (give its file to measure "
                            "them again)", output, change, name, source)
            continue
        work[name] = source
        meta["episodes"].pop(name)
        again[name] = f"{change}: extracted again"
    if again:
        log.warning("%s: %s; extracting %d episode(s) again to measure their credit screens' "
                    "grey", output, change, len(again))
    return again


def _remove_strays(frames_root: Path, episodes: dict) -> None:
    """Remove staging folders and frame folders no finished episode owns (left by a crash)."""
    try:
        children = list(frames_root.iterdir())
    except OSError as exc:
        raise OutputError(f"{frames_root}: cannot list the folder ({exc.strerror or exc})"
                          ) from None
    for child in children:
        if _is_folder(child) and (child.name.startswith(".") or child.name not in episodes):
            try:
                _remove_frames_folder(child)
            except OutputError as exc:
                log.warning("%s; left as it is", exc)
