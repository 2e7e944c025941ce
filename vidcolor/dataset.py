"""The training dataset: frames of whole episodes, deduplicated, credit-filtered, split by episode.

Layout of a dataset folder (default ``./dataset``)::

    meta.json       parameters, version, test set, finished episodes (source, size, mtime,
                    stored/decoded/credit counts, split), greyscale episodes that were skipped
    manifest.csv    one row per stored frame: path,episode,source,frame_index,pts,time,mse,split
    excluded.csv    dropped credit frames, for review: episode,source,frame_index,pts,time,
                    reason,background_rgb,text_rgb (the credit screen's two colours, "R G B"),
                    grey_background_y,grey_text_y (its grey signature: the luminance of its
                    background and text, :func:`vidcolor.extract.credit_signature`)
    frames/<episode>/<frame_index>.png   256×256 RGB, lossless

One writer at a time: building holds an exclusive lock beside the folder
(:func:`vidcolor.fsutil.exclusive`), so a second build into the same folder waits or stops with
one line. Building is incremental and resumable at episode granularity: an episode's frames are
written to a hidden staging folder that is renamed into place when the episode is complete, and
only then are the excluded list, the manifest and the metadata rewritten (each atomically, the
metadata last). ``meta.json`` is therefore the record of what is complete: every build first
checks it against the manifest and the frames on disk (:func:`dataset_problems`) and extracts
again the episodes that disagree, and :func:`load_split` refuses a dataset that disagrees.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vidcolor import __version__, progress
from vidcolor.color import lightness
from vidcolor.errors import DatasetError, InputError, VidcolorError
from vidcolor.extract import (
    DEDUP_THRESHOLD,
    CreditRule,
    DuplicateFilter,
    chroma_level,
    credit_colours,
    credit_signature,
)
from vidcolor.fsutil import ensure_writable_dir, exclusive, write_bytes_atomic, write_json_atomic
from vidcolor.video import iter_frames, probe

log = logging.getLogger(__name__)

MANIFEST_FIELDS = ["path", "episode", "source", "frame_index", "pts", "time", "mse", "split"]
EXCLUDED_FIELDS = ["episode", "source", "frame_index", "pts", "time", "reason",
                   "background_rgb", "text_rgb", "grey_background_y", "grey_text_y"]
#: Below this mean channel spread (0–255) over all kept frames, an episode is taken as greyscale.
GREYSCALE_CHROMA = 2.0
DEFAULT_CREDIT_RULE = CreditRule()


@dataclass(frozen=True)
class DatasetParams:
    """Parameters that decide a dataset's content; a dataset only grows with the same ones."""

    size: int = 256
    dedup_threshold: float = DEDUP_THRESHOLD
    credit_filter: bool = True


@dataclass
class EpisodeReport:
    """What building did with one episode."""

    episode: str
    source: str
    decoded: int = 0
    stored: int = 0
    duplicates: int = 0
    credits: int = 0
    status: str = "added"  # added | repaired | unchanged | skipped-greyscale | skipped-error
    message: str = ""


@dataclass
class BuildReport:
    """Summary of one ``build_dataset`` call."""

    output: Path
    episodes: list[EpisodeReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def decoded(self) -> int:
        return sum(e.decoded for e in self.episodes)


@dataclass(frozen=True)
class ExcludedFrame:
    """A frame the credit filter dropped (a row of ``excluded.csv``).

    ``background_rgb`` and ``text_rgb`` are the credit screen's two k-means colours (the
    background is the blue cluster); ``grey_background_y`` and ``grey_text_y`` the luminance
    of its background and text (:func:`vidcolor.extract.credit_signature` of its L). Each is
    None in datasets built before it was recorded.
    """

    episode: str
    source: str
    frame_index: int
    time: float
    reason: str
    background_rgb: tuple[int, int, int] | None
    text_rgb: tuple[int, int, int] | None
    grey_background_y: float | None = None
    grey_text_y: float | None = None


#: What :func:`episode_name` makes: a folder name that stays inside ``frames/``.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def episode_name(path: str | os.PathLike[str]) -> str:
    """The episode name of a video file: its stem, made safe as a folder name.

    Leading dots are dropped: a name of ``.`` or ``..`` would be the frames folder or the
    dataset itself, and a hidden name would look like a staging folder.

    >>> [episode_name(p) for p in ("ep 1.mkv", "...mkv", "..mkv", ".hidden.mkv", "a/b.c.mkv")]
    ['ep_1', 'episode', 'episode', 'hidden', 'b.c']
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem).lstrip(".") or "episode"


def _read_meta(output: Path) -> dict | None:
    meta_path = output / "meta.json"
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{meta_path}: unreadable dataset metadata ({exc})") from exc
    if not isinstance(meta, dict) or "params" not in meta:
        raise DatasetError(f"{meta_path}: not a vidcolor dataset")
    if not isinstance(meta.get("episodes", {}), dict):
        raise DatasetError(f"{meta_path}: damaged dataset metadata (episodes is not a mapping)")
    for name in meta.get("episodes", {}):
        # an episode's name becomes the folder frames/<name>: it must stay inside it
        if not _SAFE_NAME.fullmatch(name):
            raise DatasetError(f"{meta_path}: damaged dataset metadata (episode name {name!r} "
                               "is not a plain folder name)")
    return meta


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    try:
        with open(path, newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: unreadable ({exc})") from exc


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n", restval="",
                            extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_bytes_atomic(path, buffer.getvalue().encode())


def _rgb_text(colour: np.ndarray) -> str:
    """A colour as ``excluded.csv`` stores it: ``"R G B"``, integers 0–255."""
    return " ".join(str(int(v)) for v in np.clip(np.round(colour), 0, 255))


def _parse_rgb(text: str | None) -> tuple[int, int, int] | None:
    """``"0 30 255"`` -> ``(0, 30, 255)``; empty or malformed -> None.

    >>> _parse_rgb("0 30 255"), _parse_rgb(""), _parse_rgb(None)
    ((0, 30, 255), None, None)
    """
    parts = (text or "").split()
    if len(parts) != 3 or not all(p.isdigit() and int(p) <= 255 for p in parts):
        return None
    red, green, blue = (int(p) for p in parts)
    return red, green, blue


def _parse_luminance(text: str | None) -> float | None:
    """``"0.0823"`` -> 0.0823; empty, malformed or outside (0, 1] -> None.

    >>> [_parse_luminance(text) for text in ("0.0823", "nan", "2", "", None)]
    [0.0823, None, None, None, None]
    """
    try:
        value = float(text or "")
    except ValueError:
        return None
    return value if 0.0 < value <= 1.0 else None


def read_excluded(dataset_dir: str | os.PathLike[str]) -> list[ExcludedFrame]:
    """The credit frames a dataset's build dropped, with their colours where recorded.

    Reads ``excluded.csv`` of any version: files written before the colour columns existed
    give ``background_rgb = text_rgb = None``.

    Raises:
        DatasetError: the file is unreadable or lacks its basic columns.
    """
    path = Path(dataset_dir) / "excluded.csv"
    rows = _read_csv(path)
    needed = {"episode", "source", "frame_index", "time", "reason"}
    if rows and needed - set(rows[0]):
        raise DatasetError(f"{path}: incomplete list of excluded frames (columns "
                           f"{sorted(needed - set(rows[0]))} missing)")
    try:
        return [ExcludedFrame(episode=row["episode"], source=row["source"],
                              frame_index=int(row["frame_index"]), time=float(row["time"]),
                              reason=row["reason"],
                              background_rgb=_parse_rgb(row.get("background_rgb")),
                              text_rgb=_parse_rgb(row.get("text_rgb")),
                              grey_background_y=_parse_luminance(row.get("grey_background_y")),
                              grey_text_y=_parse_luminance(row.get("grey_text_y")))
                for row in rows]
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: damaged row ({exc})") from exc


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


def _source_identity(path: Path) -> dict:
    stat = path.stat()
    return {"source": str(path.resolve()), "bytes": stat.st_size, "mtime": int(stat.st_mtime)}


def _same_source(path: Path, record: dict | None) -> bool:
    if record is None or not path.is_file():
        return False
    return {k: record.get(k) for k in ("source", "bytes", "mtime")} == _source_identity(path)


def dataset_problems(root: Path, meta: dict, manifest: list[dict[str, str]]) -> dict[str, str]:
    """Where ``meta.json``, ``manifest.csv`` and the frames on disk disagree, by episode.

    ``meta.json`` records every finished episode with its number of stored frames and its
    split; the manifest must list exactly that many rows for it, with that split, and each
    listed file must exist. Manifest rows of an episode ``meta.json`` does not record are a
    problem too (a build stopped between the two writes).

    Returns:
        ``{episode: what is wrong}``; empty when the three agree.
    """
    episodes: dict = meta.get("episodes", {})
    rows_of: dict[str, list[dict[str, str]]] = {}
    for row in manifest:
        rows_of.setdefault(row.get("episode") or "", []).append(row)
    problems = {name: f"manifest.csv lists {len(rows)} frames of episode {name!r}, which "
                      "meta.json does not record"
                for name, rows in rows_of.items() if name not in episodes}
    for name, record in episodes.items():
        rows = rows_of.get(name, [])
        stored = record.get("stored") if isinstance(record, dict) else None
        if not isinstance(stored, int):
            problems[name] = f"meta.json records no frame count for episode {name!r}"
        elif len(rows) != stored:
            problems[name] = (f"manifest.csv lists {len(rows)} of the {stored} frames of "
                              f"episode {name!r}")
        elif any(row.get("split") != record.get("split") for row in rows):
            problems[name] = (f"manifest.csv puts frames of episode {name!r} in another split "
                              f"than meta.json ({record.get('split')})")
        else:
            missing = [row["path"] for row in rows
                       if not row.get("path") or not (root / row["path"]).is_file()]
            if missing:
                problems[name] = (f"{len(missing)} of the {stored} frames of episode {name!r} "
                                  f"are missing (first: {missing[0]})")
    return problems


def build_dataset(episodes: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str],
                  *, params: DatasetParams = DatasetParams(),
                  test_episodes: Sequence[str] | None = None, skip_errors: bool = False,
                  credit_rule: CreditRule = DEFAULT_CREDIT_RULE, progress_bar: bool = False,
                  wait: float = 0.0) -> BuildReport:
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
            if not path.is_file():
                raise InputError(f"{path}: no such file" if not path.exists()
                                 else f"{path}: not a file")
    names = [episode_name(p) for p in paths]
    seen: dict[str, Path] = {}
    for name, path in zip(names, paths, strict=True):
        if name in seen and seen[name].resolve() != path.resolve():
            raise DatasetError(f"{path}: episode name {name!r} clashes with {seen[name]}; "
                               "rename one of the files")
        seen[name] = path
    output = Path(output)
    ensure_writable_dir(output.parent if str(output.parent) else Path("."))
    with exclusive(output, "building it", wait=wait):
        created = not output.exists()
        frames_created = not (output / "frames").exists()
        output = ensure_writable_dir(output)
        try:
            report = _build(dict(zip(names, paths, strict=True)), output, params, test_episodes,
                            skip_errors, credit_rule, progress_bar)
        except BaseException:
            _remove_if_nothing_stored(output, created, frames_created)
            raise
    report.seconds = time.perf_counter() - started
    return report


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


def _build(given: dict[str, Path], output: Path, params: DatasetParams,
           test_episodes: Sequence[str] | None, skip_errors: bool, credit_rule: CreditRule,
           progress_bar: bool) -> BuildReport:
    """:func:`build_dataset` once the folder is locked and its arguments checked."""
    meta = _read_meta(output)
    if meta is not None and meta["params"] != asdict(params):
        differ = ", ".join(f"{key} {meta['params'].get(key)!r} (given {value!r})"
                           for key, value in asdict(params).items()
                           if meta["params"].get(key) != value)
        raise DatasetError(f"{output}: dataset was built with other parameters: {differ}; "
                           "use the same ones or another --output folder")
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

    manifest = _read_csv(output / "manifest.csv")
    excluded = _read_csv(output / "excluded.csv")
    work, repairs = _plan_repairs(output, meta, manifest, given)
    listed = len(manifest) + len(excluded)
    manifest = [r for r in manifest if r.get("episode") in meta["episodes"]]
    excluded = [r for r in excluded if r.get("episode") in meta["episodes"]]
    rewrite = bool(repairs) or len(manifest) + len(excluded) != listed
    frames_root = output / "frames"
    frames_root.mkdir(exist_ok=True)
    _remove_strays(frames_root, meta["episodes"])

    report = BuildReport(output=output)
    for name, path in work.items():
        done = meta["episodes"].get(name)
        if done is not None and _same_source(path, done):
            report.episodes.append(EpisodeReport(name, str(path), status="unchanged",
                                                 stored=done.get("stored", 0)))
            continue
        if _same_source(path, meta.get("greyscale", {}).get(name)):
            message = f"{path}: greyscale episode (no chroma), skipped as before"
            log.warning("%s", message)
            report.episodes.append(EpisodeReport(name, str(path), status="skipped-greyscale",
                                                 message=message))
            continue
        if done is not None:
            raise DatasetError(f"{path}: the dataset already holds a different episode "
                               f"{name!r} (from {done.get('source')}); rename the file")
        try:
            episode, rows, dropped = _extract_episode(path, name, frames_root, params,
                                                      credit_rule, skip_errors, progress_bar)
        except InputError as exc:
            if not skip_errors:
                raise
            log.warning("skipping %s", exc)
            report.episodes.append(EpisodeReport(name, str(path), status="skipped-error",
                                                 message=str(exc)))
            continue
        report.episodes.append(episode)
        if episode.status == "skipped-greyscale":  # remembered, so a re-run does not decode it
            meta.setdefault("greyscale", {})[name] = _source_identity(path)
            write_json_atomic(output / "meta.json", meta)
            continue
        if name in repairs:
            episode.status, episode.message = "repaired", repairs[name]
        split = "test" if name in tests else "train"
        for row in rows:
            row["split"] = split
        manifest = [r for r in manifest if r["episode"] != name] + rows
        excluded = [r for r in excluded if r["episode"] != name] + dropped
        meta["episodes"][name] = {**_source_identity(path), "stored": episode.stored,
                                  "decoded": episode.decoded, "credits": episode.credits,
                                  "split": split}
        _write_csv(output / "excluded.csv", EXCLUDED_FIELDS, excluded)
        _write_csv(output / "manifest.csv", MANIFEST_FIELDS, manifest)
        write_json_atomic(output / "meta.json", meta)  # last: it vouches for the rest
    if not meta["episodes"]:
        raise DatasetError(f"{output}: no colour frames stored: {_why_empty(report)}")
    if rewrite or not (output / "meta.json").exists():
        _write_csv(output / "excluded.csv", EXCLUDED_FIELDS, excluded)
        _write_csv(output / "manifest.csv", MANIFEST_FIELDS, manifest)
        write_json_atomic(output / "meta.json", meta)
    _learn_look(output, meta, progress_bar)
    return report


def _learn_look(output: Path, meta: dict, progress_bar: bool) -> None:
    """(Re)learn the series look (``series.json``) when the training episodes or the way it is
    learnt changed."""
    from vidcolor.series import LOOK_VERSION, SERIES_FILE, learn_look

    episodes = {name: [info.get("bytes"), info.get("mtime")]
                for name, info in sorted(meta["episodes"].items())
                if info.get("split") == "train"}
    path = output / SERIES_FILE
    if not episodes:
        return
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
            if stored.get("episodes") == episodes and stored.get("version") == LOOK_VERSION:
                return
        except (OSError, ValueError):
            pass  # damaged: learn it again
    look = learn_look(output, progress=progress_bar)
    write_json_atomic(path, {**look.to_json(), "episodes": episodes})


def _plan_repairs(output: Path, meta: dict, manifest: list[dict[str, str]],
                  given: dict[str, Path]) -> tuple[dict[str, Path], dict[str, str]]:
    """Drop the episodes that disagree with ``meta.json`` from it, to extract them again.

    Returns:
        The episodes to process (the given ones, then damaged ones that were not given, from
        the source recorded for them) and ``{episode: what was wrong}`` for the damaged ones.

    Raises:
        DatasetError: a damaged episode's recorded source is gone or has changed.
    """
    work = dict(given)
    repairs = {}
    for name, problem in dataset_problems(output, meta, manifest).items():
        record = meta["episodes"].pop(name, None)
        if record is None:  # rows without a record: dropped, nothing to re-extract
            log.warning("%s: %s; dropping them", output, problem)
            continue
        repairs[name] = problem
        if name not in work:
            source = Path(str(record.get("source", "")))
            if not _same_source(source, record):
                raise DatasetError(f"{output}: {problem}, and its source {source} is gone or "
                                   "has changed; give the episode's file again to repair it")
            work[name] = source
        log.warning("%s: %s; extracting it again", output, problem)
    return work, repairs


def _remove_strays(frames_root: Path, episodes: dict) -> None:
    """Remove staging folders and frame folders no finished episode owns (left by a crash)."""
    for child in frames_root.iterdir():
        if child.is_dir() and (child.name.startswith(".") or child.name not in episodes):
            shutil.rmtree(child, ignore_errors=True)


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


def _extract_episode(path: Path, name: str, frames_root: Path, params: DatasetParams,
                     rule: CreditRule, skip_errors: bool, progress_bar: bool
                     ) -> tuple[EpisodeReport, list[dict], list[dict]]:
    info = probe(path)
    staging = frames_root / f".{name}.partial"
    final = frames_root / name
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    report = EpisodeReport(name, str(path))
    rows: list[dict] = []
    dropped: list[dict] = []
    dedup = DuplicateFilter(params.dedup_threshold)
    chroma = 0.0
    pending: list[Future] = []
    # PNG encoding releases the GIL: two writer threads overlap it with decoding.
    with ThreadPoolExecutor(max_workers=2) as writers, progress.bar(
            total=info.frame_count or None, desc=name, unit="frame",
            enabled=progress_bar) as bar:
        try:
            for frame in iter_frames(path, skip_errors=skip_errors,
                                     size=(params.size, params.size)):
                report.decoded += 1
                bar.update()
                small = frame.rgb
                accepted, mse = dedup(small)
                if not accepted:
                    report.duplicates += 1
                    continue
                where = {"episode": name, "source": str(path), "frame_index": frame.index,
                         "pts": "" if frame.pts is None else frame.pts,
                         "time": f"{frame.time:.6f}"}
                colours = credit_colours(small, rule) if params.credit_filter else None
                if colours is not None:
                    report.credits += 1
                    signature = credit_signature(lightness(small))
                    dropped.append({**where, "reason": "credits",
                                    "background_rgb": _rgb_text(colours[0]),
                                    "text_rgb": _rgb_text(colours[1]),
                                    "grey_background_y": "" if signature is None
                                    else f"{signature.background:.6f}",
                                    "grey_text_y": "" if signature is None
                                    else f"{signature.text:.6f}"})
                    continue
                if chroma < GREYSCALE_CHROMA:  # once colour is seen, the answer is known
                    chroma = max(chroma, chroma_level(small))
                file_name = f"{frame.index:06d}.png"
                pending.append(writers.submit(_write_png, staging / file_name, small))
                rows.append({"path": f"frames/{name}/{file_name}", **where,
                             "mse": "" if mse is None else f"{mse:.3f}"})
                if len(pending) > 32:
                    pending.pop(0).result()
            for job in pending:
                job.result()
        except BaseException:
            for job in pending:
                job.cancel()
            writers.shutdown(wait=True)
            shutil.rmtree(staging, ignore_errors=True)
            raise
    report.stored = len(rows)
    if rows and chroma < GREYSCALE_CHROMA:
        shutil.rmtree(staging, ignore_errors=True)
        report.status = "skipped-greyscale"
        report.message = (f"{path}: greyscale episode (no chroma); it cannot teach colours "
                          "and is not used")
        log.warning("%s", report.message)
        return report, [], []
    if not rows:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(f"{path}: no story frames left after filtering")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staging, final)
    return report, rows, dropped


#: Lossless PNG settings chosen by measurement on 256×256 frames (real and cartoon): the "up"
#: filter with zlib's RLE strategy at level 1 encodes about twice as fast as the defaults, at
#: about the same size.
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY,
              cv2.IMWRITE_PNG_STRATEGY_RLE, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]


def _write_png(target: Path, rgb) -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), PNG_PARAMS)
    if not ok:
        raise VidcolorError(f"{target}: PNG encoding failed")
    target.write_bytes(data.tobytes())


def _load(root: Path) -> tuple[dict, list[dict[str, str]]]:
    """A finished dataset's metadata and manifest rows (not yet checked against each other)."""
    meta = read_meta(root)
    manifest = root / "manifest.csv"
    if not manifest.exists():
        _missing(manifest)
    rows = _read_csv(manifest)
    if rows and set(MANIFEST_FIELDS) - set(rows[0]):
        raise DatasetError(f"{manifest}: incomplete manifest (columns "
                           f"{sorted(set(MANIFEST_FIELDS) - set(rows[0]))} missing)")
    return meta, rows


def read_meta(dataset_dir: str | os.PathLike[str]) -> dict:
    """A dataset's ``meta.json`` (parameters, test episodes, finished episodes).

    Raises:
        DatasetError: no dataset there, or its metadata is missing or unreadable.
    """
    root = Path(dataset_dir)
    if not root.is_dir():
        raise DatasetError(f"{root}: no dataset folder (build one with `vidcolor build-dataset`)")
    meta = _read_meta(root)
    if meta is None:
        _missing(root / "meta.json")
    return meta


def read_manifest(dataset_dir: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The manifest rows of a finished dataset.

    Raises:
        DatasetError: no dataset there, or its manifest is missing or incomplete.
    """
    return _load(Path(dataset_dir))[1]


def _missing(path: Path) -> None:
    raise DatasetError(f"{path}: missing; the dataset is incomplete (re-run "
                       "`vidcolor build-dataset`)")


def verify_dataset(dataset_dir: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Check that a dataset's ``meta.json``, ``manifest.csv`` and frames agree.

    Returns:
        The manifest rows.

    Raises:
        DatasetError: missing or incomplete dataset; the message names what is missing.
    """
    root = Path(dataset_dir)
    meta, rows = _load(root)
    problems = dataset_problems(root, meta, rows)
    if problems:
        first = next(iter(problems.values()))
        more = f" (and {len(problems) - 1} more episodes)" if len(problems) > 1 else ""
        raise DatasetError(f"{root}: incomplete dataset: {first}{more}; re-run "
                           "`vidcolor build-dataset` into it to repair it")
    return rows


def load_split(dataset_dir: str | os.PathLike[str], split: str) -> list[Path]:
    """Absolute paths of the PNG frames of one split (``"train"`` or ``"test"``).

    The whole dataset is checked first (:func:`verify_dataset`): a manifest that lists fewer
    frames than ``meta.json`` records, or frames missing on disk, are an error, never a quietly
    smaller split.

    Raises:
        DatasetError: missing/incomplete dataset, or an empty split.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    root = Path(dataset_dir).resolve()
    paths = [root / row["path"] for row in verify_dataset(root) if row["split"] == split]
    if not paths:
        raise DatasetError(f"{root}: the dataset has no {split} frames")
    return paths
