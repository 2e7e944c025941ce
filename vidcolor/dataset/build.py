"""Building a dataset (:func:`build_dataset`): locked, incremental and resumable by episode,
split by episode, repairing what disagrees with ``meta.json``.

The build holds an exclusive lock beside the folder, plans the repair of the episodes that
disagree with ``meta.json`` (:mod:`vidcolor.dataset.repair`), extracts each new or damaged
episode (:mod:`vidcolor.dataset.episode`) and after each rewrites ``excluded.csv``,
``manifest.csv`` and ``meta.json`` together (:func:`_commit`), and finally learns the series'
look again when its training episodes changed (:mod:`vidcolor.dataset.look`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vidcolor import __version__
from vidcolor.color.grey import GreyModel, as_grey_model
from vidcolor.dataset.episode import (
    EpisodeReport,
    _extract_episode,
    _write_error,
    check_episode_file,
)
from vidcolor.dataset.look import _learn_look
from vidcolor.dataset.records import (
    _DATASET_ENTRIES,
    EXCLUDED_FIELDS,
    MANIFEST_FIELDS,
    DatasetParams,
    _grey_of_meta,
    _is_folder,
    _printable,
    _read_csv,
    _read_meta,
    _same_source,
    _shown,
    _source_identity,
    _write_csv,
    episode_name,
)
from vidcolor.dataset.repair import _plan_regrey, _plan_repairs, _remove_strays
from vidcolor.errors import DatasetError, InputError, OutputError
from vidcolor.extract import CreditRule
from vidcolor.fsutil import ensure_writable_dir, exclusive, write_json_atomic

log = logging.getLogger(__name__)

DEFAULT_CREDIT_RULE = CreditRule()
DEFAULT_PARAMS = DatasetParams()


@dataclass
class BuildReport:
    """Summary of one ``build_dataset`` call."""

    output: Path
    episodes: list[EpisodeReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def decoded(self) -> int:
        return sum(e.decoded for e in self.episodes)


def build_dataset(episodes: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str],
                  *, params: DatasetParams = DEFAULT_PARAMS,
                  test_episodes: Sequence[str] | None = None, skip_errors: bool = False,
                  credit_rule: CreditRule = DEFAULT_CREDIT_RULE, progress_bar: bool = False,
                  wait: float = 0.0, grey: str | GreyModel | None = None) -> BuildReport:
    """Extract, filter and store the frames of whole episodes, split by episode.

    Args:
        episodes: video files, one per episode.
        output: dataset folder; created if missing, extended if it holds a dataset built with
            the same ``params``, and repaired where it disagrees with its ``meta.json``.
        params: frame size, duplicate threshold, whether to drop credit screens.
        test_episodes: episode names (file stems) or 0-based indices into ``episodes`` held out
            for testing; default: the first episode (or the test set already recorded).
        skip_errors: skip unreadable files and keep the frames before damage in truncated ones,
            with a warning, instead of stopping with an error.
        credit_rule: thresholds of the credit test.
        progress_bar: draw a progress bar per episode.
        wait: seconds to wait for another build of the same folder to finish (0: stop at once).
        grey: how the series' black and white is made from its colour (a name of
            :data:`vidcolor.color.grey.GREY_MODELS` or a fitted
            :class:`~vidcolor.color.grey.GreyModel`, :mod:`vidcolor.greyfit`), recorded for
            training and render; None keeps the dataset's own (luminance for a new one).
            Another model than the recorded one replaces it, with a warning (the stored
            frames are colour and stay).

    Returns:
        A :class:`BuildReport`.

    Raises:
        InputError: a bad episode file (unless ``skip_errors``).
        DatasetError: the folder holds a dataset built with other parameters, episodes clash,
            a test episode is unknown, a damaged episode's source is gone, or no episode gave
            colour frames.
        OutputError: the folder cannot be written, or another build holds it.
    """
    started = time.perf_counter()
    paths = [Path(p) for p in episodes]
    if not paths:
        raise DatasetError("no episode files given")
    if not skip_errors:  # fail before any work rather than after hours of it
        for path in paths:
            check_episode_file(path)
    given: dict[str, Path] = {}
    first: dict[str, tuple[str, Path]] = {}
    for path in paths:
        name = episode_name(path)
        # names that differ only in case are one folder on some file systems
        other_name, other = first.setdefault(name.casefold(), (name, path))
        if other is path:
            given[name] = path
        elif os.path.realpath(other) != os.path.realpath(path):
            raise DatasetError(f"{_printable(path)}: episode name {name!r} clashes with "
                               f"{_printable(other)} ({other_name!r}); rename one of the files")
    output = Path(output)
    _check_output(output)
    ensure_writable_dir(output.parent)
    with exclusive(output, "building it", wait=wait):
        created = not output.exists()
        frames_created = not (output / "frames").exists()
        output = ensure_writable_dir(output)
        try:
            report = _build(given, output, params, test_episodes, skip_errors, credit_rule,
                            progress_bar, None if grey is None else as_grey_model(grey))
        except BaseException:
            _remove_if_nothing_stored(output, created, frames_created)
            raise
    report.seconds = time.perf_counter() - started
    return report


def _check_output(output: Path) -> None:
    """Refuse, before anything is written, an output that is a file or lies under one.

    Raises:
        OutputError: naming the output.
    """
    try:
        mode = output.stat().st_mode
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        raise OutputError(f"{output}: cannot be the dataset folder "
                          f"({getattr(exc, 'strerror', None) or exc})") from None
    if not stat.S_ISDIR(mode):
        raise OutputError(f"{output}: exists and is not a folder; give another --output")


def _check_new_folder(output: Path) -> None:
    """A folder without ``meta.json`` becomes a dataset only if it holds nothing but what a
    build writes (a build that stopped before its first episode was recorded): a build
    rewrites and deletes in it.

    Raises:
        OutputError: it holds something else.
    """
    try:
        foreign = sorted(entry.name for entry in os.scandir(output)
                         if not entry.name.startswith(".") and entry.name not in _DATASET_ENTRIES)
    except OSError as exc:
        raise OutputError(f"{output}: cannot list the folder ({exc.strerror or exc})") from None
    if foreign:
        raise OutputError(f"{output}: not a vidcolor dataset and not empty (it holds "
                          f"{_shown(foreign[0])}); give a new or empty --output folder")


def _remove_if_nothing_stored(output: Path, created: bool, frames_created: bool) -> None:
    """After a failed build, remove the folders it made if no episode was stored in them."""
    try:
        meta = _read_meta(output)
    except DatasetError:
        return
    if meta is not None and meta.get("episodes"):
        return
    if created:
        shutil.rmtree(output, ignore_errors=True)
    elif frames_created:
        shutil.rmtree(output / "frames", ignore_errors=True)


def _resolve_test_episodes(names: list[str], test_episodes: Sequence[str] | None,
                           stored: list[str] | None, known: Iterable[str]) -> list[str]:
    """Test episodes from names or 0-based indices into ``names``; default: the first episode.

    A name must be one of ``names`` (the episodes given) or of ``known`` (those the dataset
    already holds).
    """
    if not test_episodes:
        return stored if stored is not None else names[:1]
    known = set(names) | set(known)
    resolved = []
    for item in test_episodes:
        if item.isdigit():
            index = int(item)
            if index >= len(names):
                raise DatasetError(f"--test-episodes: index {index} but only {len(names)} "
                                   "episodes were given")
            resolved.append(names[index])
            continue
        name = episode_name(item)
        if name not in known:
            raise DatasetError(f"--test-episodes: unknown episode {item!r}; the episodes are "
                               f"{', '.join(sorted(known))}")
        resolved.append(name)
    return resolved


def _build(given: dict[str, Path], output: Path, params: DatasetParams,
           test_episodes: Sequence[str] | None, skip_errors: bool, credit_rule: CreditRule,
           progress_bar: bool, grey: GreyModel | None = None) -> BuildReport:
    """:func:`build_dataset` once the folder is locked and its arguments checked."""
    meta, tests = _open_meta(output, params, given, test_episodes)
    recorded = _grey_of_meta(meta)
    regrey = _record_grey(meta, grey)

    manifest = _read_csv(output / "manifest.csv")
    excluded = _read_csv(output / "excluded.csv")
    work, repairs = _plan_repairs(output, meta, manifest, excluded, given)
    again = _plan_regrey(output, meta, work, recorded, grey) \
        if grey is not None and grey != recorded else {}
    listed = len(manifest) + len(excluded)
    manifest = [r for r in manifest if r.get("episode") in meta["episodes"]]
    excluded = [r for r in excluded if r.get("episode") in meta["episodes"]]
    rewrite = bool(repairs) or regrey or len(manifest) + len(excluded) != listed
    frames_root = _frames_folder(output)
    _remove_strays(frames_root, meta["episodes"])

    report = BuildReport(output=output)
    for name, path in work.items():
        known = _known_episode(name, path, meta)
        if known is not None:
            report.episodes.append(known)
            continue
        episode, rows, dropped = _extract_or_skip(path, name, frames_root, params, credit_rule,
                                                  skip_errors, progress_bar, meta)
        report.episodes.append(episode)
        if episode.status == "skipped-error":
            continue
        if episode.status == "skipped-greyscale":  # remembered, so a re-run does not decode it
            meta.setdefault("greyscale", {})[name] = _source_identity(path)
            write_json_atomic(output / "meta.json", meta)
            continue
        if name in repairs:
            episode.status, episode.message = "repaired", repairs[name]
        elif name in again:
            episode.status, episode.message = "re-extracted", again[name]
        split = "test" if name in tests else "train"
        for row in rows:
            row["split"] = split
        manifest = [r for r in manifest if r["episode"] != name] + rows
        excluded = [r for r in excluded if r["episode"] != name] + dropped
        meta["episodes"][name] = {**_source_identity(path), "stored": episode.stored,
                                  "decoded": episode.decoded, "credits": episode.credits,
                                  "split": split}
        _commit(output, excluded, manifest, meta)
    if not meta["episodes"]:
        raise DatasetError(f"{output}: no colour frames stored: {_why_empty(report)}")
    if rewrite or not (output / "meta.json").exists():
        _commit(output, excluded, manifest, meta)
    _learn_look(output, meta, progress_bar)
    return report


def _open_meta(output: Path, params: DatasetParams, given: dict[str, Path],
               test_episodes: Sequence[str] | None) -> tuple[dict, list[str]]:
    """The dataset's ``meta.json`` (a new record for a new dataset), checked against the
    build's arguments, and the test episodes.

    Raises:
        OutputError: a folder without ``meta.json`` holds something a build did not write.
        DatasetError: the dataset was built with other parameters or test episodes, or a
            given episode's name differs only in case from one it holds.
    """
    meta = _read_meta(output)
    if meta is None:
        _check_new_folder(output)
    elif meta["params"] != asdict(params):
        differ = ", ".join(f"{key} {_shown(meta['params'].get(key))} (given {value!r})"
                           for key, value in asdict(params).items()
                           if meta["params"].get(key) != value)
        raise DatasetError(f"{output}: dataset was built with other parameters: {differ}; "
                           "use the same ones or another --output folder")
    stored_names = {name.casefold(): name for name in (meta or {}).get("episodes", {})}
    for name, path in given.items():
        other = stored_names.get(name.casefold(), name)
        if other != name:
            raise DatasetError(f"{_printable(path)}: episode name {name!r} differs only in case "
                               f"from the dataset's episode {other!r}; rename the file")
    stored_test = meta["test_episodes"] if meta else None
    tests = _resolve_test_episodes(list(given), test_episodes, stored_test,
                                   meta.get("episodes", {}) if meta else ())
    if stored_test is not None and sorted(tests) != sorted(stored_test):
        raise DatasetError(f"{output}: dataset holds test episodes {stored_test}, given "
                           f"{tests}; use the same ones or another --output folder")
    if meta is None:
        meta = {"format": 1, "params": asdict(params), "test_episodes": tests, "episodes": {}}
    meta.setdefault("episodes", {})
    meta["vidcolor_version"] = __version__
    return meta, tests


def _known_episode(name: str, path: Path, meta: dict) -> EpisodeReport | None:
    """The report of an episode the dataset already holds from this very file, or skipped
    before as greyscale; None when it is to be extracted.

    Raises:
        DatasetError: the dataset holds another episode of that name.
    """
    done = meta["episodes"].get(name)
    if done is not None and _same_source(path, done):
        return EpisodeReport(name, str(path), status="unchanged", stored=done["stored"])
    if _same_source(path, meta.get("greyscale", {}).get(name)):
        message = f"{path}: greyscale episode (no chroma), skipped as before"
        log.warning("%s", message)
        return EpisodeReport(name, str(path), status="skipped-greyscale", message=message)
    if done is not None:
        raise DatasetError(f"{_printable(path)}: the dataset already holds a different "
                           f"episode {name!r} (from {done['source']}); rename the file")
    return None


def _extract_or_skip(path: Path, name: str, frames_root: Path, params: DatasetParams,
                     credit_rule: CreditRule, skip_errors: bool, progress_bar: bool, meta: dict
                     ) -> tuple[EpisodeReport, list[dict], list[dict]]:
    """:func:`~vidcolor.dataset.episode._extract_episode` of a file checked first; with
    ``skip_errors`` a bad file is a ``skipped-error`` report with no rows, and a warning.

    Raises:
        InputError: a bad episode file (unless ``skip_errors``).
    """
    try:
        check_episode_file(path)  # with --skip-errors, not checked before
        return _extract_episode(path, name, frames_root, params, credit_rule, skip_errors,
                                progress_bar, _grey_of_meta(meta))
    except InputError as exc:
        if not skip_errors:
            raise
        log.warning("skipping %s", exc)
        return EpisodeReport(name, _printable(path), status="skipped-error",
                             message=str(exc)), [], []


def _record_grey(meta: dict, grey: GreyModel | None) -> bool:
    """Record ``grey`` in ``meta`` (None: keep the record; none at all means luminance);
    whether the record changed."""
    if grey is None:
        return False
    before = meta.get("grey")
    meta["grey"] = grey.to_dict()
    return meta["grey"] != before


def _commit(output: Path, excluded: list[dict], manifest: list[dict], meta: dict) -> None:
    """Rewrite ``excluded.csv``, ``manifest.csv`` and ``meta.json`` (last: it vouches for the
    rest), each atomically.

    When one cannot be written (a full disk), those already rewritten are put back from hard
    links to their previous versions (a rename needs no space), so the three still agree.

    Raises:
        OutputError: a write failed; the dataset is as it was.
    """
    writes = [(output / "excluded.csv", lambda t: _write_csv(t, EXCLUDED_FIELDS, excluded)),
              (output / "manifest.csv", lambda t: _write_csv(t, MANIFEST_FIELDS, manifest)),
              (output / "meta.json", lambda t: write_json_atomic(t, meta))]
    backups = [target.with_name(f".{target.name}.previous") for target, _ in writes]
    written: list[tuple[Path, Path | None]] = []  # (file, its previous version or None)
    try:
        for (target, write), backup in zip(writes, backups, strict=True):
            with contextlib.suppress(FileNotFoundError):
                backup.unlink()
            try:
                os.link(target, backup)
                previous: Path | None | bool = backup
            except FileNotFoundError:
                previous = None  # there was none: putting it back is removing the new one
            except OSError:
                previous = False  # no hard links here: it cannot be put back
            write(target)
            if previous is not False:
                written.append((target, previous))  # type: ignore[arg-type]
    except BaseException:
        for target, previous in reversed(written):
            with contextlib.suppress(OSError):
                if previous is None:
                    target.unlink()
                else:
                    os.replace(previous, target)
        raise
    finally:
        for backup in backups:
            with contextlib.suppress(OSError):
                backup.unlink()


def _frames_folder(output: Path) -> Path:
    """``output/frames``, created if missing.

    Raises:
        OutputError: it cannot be created.
        DatasetError: it is not a folder of its own (a file, or a link out of the dataset).
    """
    frames_root = output / "frames"
    try:
        frames_root.mkdir(exist_ok=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise _write_error(frames_root, exc) from None
    if not _is_folder(frames_root):
        raise DatasetError(f"{frames_root}: not a folder (a file or a link); a dataset keeps its "
                           "frames in a folder of its own")
    return frames_root


def _why_empty(report: BuildReport) -> str:
    greyscale = [e.episode for e in report.episodes if e.status == "skipped-greyscale"]
    failed = [e.episode for e in report.episodes if e.status == "skipped-error"]
    reasons = []
    if greyscale:
        reasons.append(f"greyscale (no chroma): {', '.join(greyscale)}")
    if failed:
        reasons.append(f"unreadable: {', '.join(failed)}")
    return "every episode was " + "; ".join(reasons) + (
        "; a dataset needs colour episodes" if greyscale else "")
