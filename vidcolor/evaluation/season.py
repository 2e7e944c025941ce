"""``vidcolor evaluate --season``: the report on a whole season render.

:func:`evaluate_season` reads the season files a render wrote (:func:`read_season`, every entry
checked), pairs each episode with its colour original by name (:func:`truth_for`), scores it
with :func:`vidcolor.evaluation.results.evaluate_results` and sums the season up; the table and
the page are :mod:`vidcolor.report.season`'s.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vidcolor.errors import InputError
from vidcolor.evaluation.results import evaluate_results
from vidcolor.evaluation.scoring import check_report_dir
from vidcolor.report.season import SEASON_KEYS, SEASON_TEXT, write_season_report
from vidcolor.report.writer import INDEX_HTML, REPORT_JSON

log = logging.getLogger(__name__)


#: Name endings that mark a black-and-white twin (any case); stripped to find its colour original.
BW_SUFFIXES = ("_bw", "-bw", "_grey", "-grey", "_gray", "-gray")


def episode_name(path: str | os.PathLike[str]) -> str:
    """An episode's name: a video's or image's stem, a folder's name.

    >>> episode_name("season/ep02_bw.mkv"), episode_name("season/ep03_bw")
    ('ep02_bw', 'ep03_bw')
    """
    from vidcolor.inference.batch import VIDEO_EXTENSIONS
    from vidcolor.inference.sources import IMAGE_EXTENSIONS

    path = Path(path)
    known = path.suffix.lower() in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS
    try:
        folder = path.is_dir()
    except OSError:  # a name read from a season file, too long for the system
        folder = False
    return path.stem if known and not folder else path.name


def colour_name(name: str) -> str:
    """The name of an episode's colour original: without a trailing ``_bw``, ``-bw``,
    ``_grey``, ``-grey``, ``_gray`` or ``-gray``.

    >>> colour_name("ep02_bw"), colour_name("Ep03-Grey"), colour_name("ep04")
    ('ep02', 'Ep03', 'ep04')
    """
    for suffix in BW_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def truth_for(episode_input: str | os.PathLike[str], truth_dir: str | os.PathLike[str]
              ) -> Path | None:
    """The colour original of an episode in ``truth_dir``, paired by name.

    The rule: an entry of ``truth_dir`` (a video, an image, or a folder of images; any
    extension; names compared without case) named as the episode without its black-and-white
    ending (``ep02_bw.mkv`` -> ``ep02.*``, see :func:`colour_name`); where there is none, one
    named as the episode itself (``bw/ep02.mkv`` -> ``colour/ep02.*``). The episode's own file
    and earlier outputs (``*.colorized*``) never count.

    Returns:
        The path, or None when ``truth_dir`` holds no such entry.

    Raises:
        InputError: ``truth_dir`` is not a folder, or several entries fit (e.g. ``ep02.mkv``
            and ``ep02.mp4``).
    """
    folder = Path(truth_dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder (--truth with --season is the folder of the "
                         "colour originals)")
    own = episode_name(episode_input)
    wanted = [colour_name(own).lower(), own.lower()]
    source = Path(episode_input).resolve()
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")
               and ".colorized" not in p.name and p.resolve() != source]
    for name in dict.fromkeys(wanted):
        found = sorted(p for p in entries if episode_name(p).lower() == name)
        if len(found) > 1:
            raise InputError(f"{Path(episode_input).name}: several colour originals fit in "
                             f"{folder}: {', '.join(p.name for p in found)}")
        if found:
            return found[0]
    return None


def read_season(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The episodes a render wrote into ``folder``: ``season.json`` and the shards'
    ``season-I-of-N.json`` merged (an output in several files: the newest file's entry), sorted
    by episode name. Every entry is checked (:func:`_season_entry`): a season file is read
    back from disk, and may have been edited or damaged.

    Raises:
        InputError: no season file there, or a damaged one (naming the file and the field).
    """
    import json

    folder = Path(folder)
    try:
        files = sorted(folder.glob("season*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    except OSError as exc:
        raise InputError(f"{folder}: cannot read the season files ({exc.strerror or exc})") \
            from None
    if not files:
        raise InputError(f"{folder}: no season.json here; render the season with "
                         f"`vidcolor render ... -o {folder}` first")
    episodes: dict[str, dict[str, Any]] = {}
    for path in files:
        try:
            if path.stat().st_size > MAX_SEASON_BYTES:
                raise ValueError(f"{path.stat().st_size} bytes, more than any season")
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a season file of vidcolor render ({exc})") from None
        entries = data.get("episodes") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise InputError(f"{path}: not a season file of vidcolor render (no list of "
                             "episodes)")
        for index, item in enumerate(entries):
            entry = _season_entry(item, f"{path}: episode {index + 1}")
            episodes[Path(entry["output"]).name] = entry
    return sorted(episodes.values(), key=lambda e: (episode_name(e["input"]), e["input"]))


#: A season file larger than this is not one (about 100 000 episodes).
MAX_SEASON_BYTES = 64 << 20
#: The fields of a season file's episode: (name, type) — see batch.EpisodeResult.
_SEASON_FIELDS = (("input", str), ("output", str), ("status", str), ("frames", int),
                  ("seconds", float), ("device", str), ("message", str))


def _season_entry(item: Any, where: str) -> dict[str, Any]:
    """One episode of a season file, checked: each field of its type, counts and times finite
    and not negative, and an output name that stays inside the season folder.

    Raises:
        InputError: naming ``where`` and the field.
    """
    import math

    if not isinstance(item, dict):
        raise InputError(f"{where}: not an object")
    entry: dict[str, Any] = {}
    for name, kind in _SEASON_FIELDS:
        value = item.get(name, "" if kind is str and name in ("device", "message") else None)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) or \
                (kind is not str and not (math.isfinite(value) and 0 <= value < 2**53)):
            raise InputError(f"{where}: {name} must be {_KIND_NAMES[kind]}, got {value!r:.80}")
        if kind is str and "\0" in value:
            raise InputError(f"{where}: {name} holds a NUL character")
        entry[name] = value
    if entry["status"] not in ("done", "skipped", "failed"):
        raise InputError(f"{where}: status must be done, skipped or failed, got "
                         f"{entry['status']!r:.80}")
    if not entry["input"]:
        raise InputError(f"{where}: input is empty")
    output = Path(entry["output"] or entry["input"]).name
    if output in ("", ".", ".."):
        raise InputError(f"{where}: output {entry['output']!r:.80} names no file of the "
                         "season folder")
    entry["output"] = output  # a bare name: the output is looked up in the season folder
    return entry


_KIND_NAMES = {str: "a string", int: "a whole number from 0", float: "a number from 0"}


def evaluate_season(folder: str | os.PathLike[str], truth_dir: str | os.PathLike[str] | None
                    = None, *, align: bool = False,
                    report_dir: str | os.PathLike[str] | None = None, progress: bool = False
                    ) -> dict[str, Any]:
    """The season report: every episode a render wrote into ``folder`` with its frames, render
    time and frames/s, and each one with a colour original in ``truth_dir`` scored by
    :func:`evaluate_results` (pairs by :func:`truth_for`).

    Args:
        folder: the render's output folder (``season.json``, from ``vidcolor render ... -o``).
        truth_dir: the folder of colour originals; None: the render columns only.
        align: as in :func:`evaluate_results`.
        report_dir: write ``report.json``, ``season.txt``, ``index.html`` and one report folder
            per scored episode (:func:`vidcolor.report.writer.write_report`) there.
        progress: show progress bars.

    Returns:
        ``episodes`` (each: ``episode``, ``input``, ``output``, ``status``, ``device``,
        ``frames``, ``seconds``, ``fps``, ``message``, ``truth``, ``metrics`` — ``{"grey" |
        "result" | "truth": {metric: value}}`` of the summary, or None — ``error`` where
        scoring failed, and ``report``: its report's folder in ``report_dir``, its name where
        that is safe, else ``episode-NNN``) and ``totals`` (counts, frames, seconds, fps, and
        the frame-weighted means of :data:`SEASON_KEYS` over the scored episodes).

    Raises:
        InputError: no season file in ``folder``, ``truth_dir`` not a folder.
    """
    folder = Path(folder)
    if report_dir is not None:
        check_report_dir(report_dir)
    entries = read_season(folder)
    if truth_dir is not None and not Path(truth_dir).is_dir():
        raise InputError(f"{truth_dir}: not a folder (--truth with --season is the folder of "
                         "the colour originals)")
    names = _unique_episode_names([entry["input"] for entry in entries])
    episodes = []
    for index, (entry, name) in enumerate(zip(entries, names, strict=True)):
        output = folder / entry["output"]  # a bare name (read_season): inside the folder
        frames, seconds = entry["frames"], entry["seconds"]
        row: dict[str, Any] = {
            "episode": name, "input": entry["input"], "output": str(output),
            "status": entry["status"], "device": entry["device"], "frames": frames,
            "seconds": seconds, "fps": round(frames / seconds, 2) if seconds else None,
            "message": entry["message"], "truth": None, "metrics": None, "error": None,
            "report": _report_folder_name(name, index)}
        episodes.append(row)
        if truth_dir is None or entry["status"] == "failed":
            continue
        try:
            truth = truth_for(entry["input"], truth_dir)
            if truth is None:
                continue
            row["truth"] = str(truth)
            target = None if report_dir is None else Path(report_dir) / row["report"]
            summary = evaluate_results([output], truth, align=align, report_dir=target,
                                       progress=progress)
        except InputError as exc:
            row["error"] = str(exc)
            log.error("%s: %s", name, exc)
            continue
        metrics = summary["metrics"]
        result = next(n for n in summary["candidates"] if n not in ("grey", "truth"))
        row["metrics"] = {"grey": metrics["grey"], "result": metrics[result],
                          "truth": metrics["truth"]}
        row["scored_frames"] = summary["frames"]
    report = {"mode": "season", "season": str(folder),
              "truth": None if truth_dir is None else str(truth_dir),
              "episodes": episodes, "totals": _season_totals(episodes)}
    if report_dir is not None:
        write_season_report(Path(report_dir), report)
    return report


def _unique_episode_names(inputs: Sequence[str]) -> list[str]:
    """Episode names, made unique (and safe as folder names) where two folders share one."""
    names = [episode_name(path) for path in inputs]
    unique = [name if names.count(name) == 1 else f"{Path(path).parent.name}-{name}"
              for name, path in zip(names, inputs, strict=True)]
    return [name if unique.count(name) == 1 else f"{name}-{index}"
            for index, name in enumerate(unique)]


def _report_folder_name(name: str, index: int) -> str:
    """The folder of an episode's report inside the season report: its name where that is a
    plain visible name that no file of the season report uses, else ``episode-NNN``."""
    reserved = (INDEX_HTML, REPORT_JSON, SEASON_TEXT)
    if name and not name.startswith(".") and "/" not in name and "\0" not in name \
            and name not in reserved and len(os.fsencode(name)) <= 200:
        return name
    return f"episode-{index + 1:03d}"


def _season_totals(episodes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    rendered = [e for e in episodes if e["status"] != "failed"]
    frames = sum(e["frames"] for e in rendered)
    seconds = sum(e["seconds"] for e in rendered)
    scored = [e for e in episodes if e["metrics"]]
    means: dict[str, dict[str, float | None]] = {}
    for candidate in ("grey", "result", "truth"):
        means[candidate] = {}
        for key in SEASON_KEYS:
            pairs = [(e["metrics"][candidate].get(key), e["scored_frames"]) for e in scored]
            pairs = [(float(v), n) for v, n in pairs if isinstance(v, (int, float))]
            weight = sum(n for _, n in pairs)
            means[candidate][key] = sum(v * n for v, n in pairs) / weight if weight else None
    return {"episodes": len(episodes),
            **{status: sum(e["status"] == status for e in episodes)
               for status in ("done", "skipped", "failed")},
            "scored": len(scored), "frames": frames, "seconds": round(seconds, 3),
            "fps": round(frames / seconds, 2) if seconds else None, "metrics": means}
