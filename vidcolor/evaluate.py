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

:func:`evaluate_season` reports on a whole season render (``vidcolor render ... -o FOLDER``):
every episode's frames, render time and frames/s from the render's ``season.json``, and each
episode that has a colour original (paired by name, :func:`truth_for`) scored by
:func:`evaluate_results`; one table, totals and frame-weighted means.
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
    return _score(frames, names, count, meta, report_dir, progress,
                  title=f"vidcolor evaluate: against {truth_source.path.name}")


def check_report_dir(report_dir: str | os.PathLike[str]) -> None:
    """Refuse a report folder (``-o``) that cannot be made, before any work.

    Raises:
        OutputError: it is a file, lies under a file, or cannot be written.
    """
    from vidcolor.inference.outputs import check_output_folder

    check_output_folder(Path(report_dir), "report folder")


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
    from vidcolor.report import SheetCollector, write_report

    scorer = SequenceScorer(names)
    # the report's comparison sheet is chosen after scoring (worst, best shot, ...)
    sheet = SheetCollector() if report_dir is not None else None
    with progress_mod.bar(total=count, desc="evaluate", unit="frame", enabled=progress) as bar:
        for index, (truth, results) in enumerate(frames):
            try:
                scorer.add(truth, results)
            except (ValueError, TypeError) as exc:
                raise InputError(f"frame {index}: {exc}") from None
            if sheet is not None:
                sheet.add(truth, results)
            bar.update(1)
    summary = scorer.summary()
    summary["meta"] = meta
    if report_dir is not None:
        assert sheet is not None
        write_report(Path(report_dir), summary, sheet.rows(summary), title=title)
    return summary


# --------------------------------------------------------------------------- season

#: Name endings that mark a black-and-white twin (any case); stripped to find its colour original.
BW_SUFFIXES = ("_bw", "-bw", "_grey", "-grey", "_gray", "-gray")
#: The summary keys of the season table's figures (:data:`vidcolor.metrics.METRICS`).
SEASON_KEYS = ("psnr", "ab_rmse", "colourfulness", "warp_error")
SEASON_TEXT = "season.txt"


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
            per scored episode (:func:`vidcolor.report.write_report`) there.
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
        _write_season_report(Path(report_dir), report)
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
    from vidcolor.report import INDEX_HTML, REPORT_JSON

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


def season_columns() -> list[tuple[str, str, str]]:
    """The season table's figure columns: ``(key, candidate, header)``, two per figure of
    :data:`SEASON_KEYS`: the result's, then the one it is read against (the truth's for
    temporal figures and those without a direction, else grey's)."""
    from vidcolor.metrics import metric_named
    from vidcolor.report import ARROWS

    columns = []
    for key in SEASON_KEYS:
        metric = metric_named(key)
        beside = "truth" if metric.temporal or not metric.better else "grey"
        columns += [(key, "result", metric.short + ARROWS[metric.better]),
                    (key, beside, beside)]
    return columns


def season_rows(report: dict[str, Any]) -> list[list[str]]:
    """The season table as text cells: a header, one row per episode, the season's row."""
    from vidcolor.report import format_value

    columns = season_columns()

    def cells(metrics: dict[str, Any] | None) -> list[str]:
        if not metrics:
            return [""] * len(columns)
        return [format_value(metrics[who].get(key)) for key, who, _ in columns]

    def seconds(value: float, show: bool) -> str:
        return f"{value:.1f}" if show else ""

    rows = [["episode", "status", "frames", "seconds", "fps",
             *(label for _, _, label in columns)]]
    for e in report["episodes"]:
        rendered = e["status"] != "failed"
        rows.append([e["episode"], e["status"], str(e["frames"]) if rendered else "",
                     seconds(e["seconds"], rendered), format_value(e["fps"]) if e["fps"] else "",
                     *cells(e["metrics"])])
    totals = report["totals"]
    rows.append([f"season ({totals['episodes']})", f"{totals['scored']} scored",
                 str(totals["frames"]), seconds(totals["seconds"], True),
                 format_value(totals["fps"]) if totals["fps"] else "",
                 *cells(totals["metrics"] if totals["scored"] else None)])
    return rows


def format_season_report(report: dict[str, Any]) -> str:
    """The season table as plain text, with the episodes' problems and a legend below."""
    rows = season_rows(report)
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        if index == len(rows) - 1:
            lines.append("  ".join("-" * width for width in widths))
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines + season_notes(report))


def season_notes(report: dict[str, Any]) -> list[str]:
    """What the season table leaves out: each episode's problem, and how to read it."""
    notes = []
    for e in report["episodes"]:
        if e["status"] == "failed":
            notes.append(f"{e['episode']}: render failed: {e['message'].strip()}")
        elif e["error"]:
            notes.append(f"{e['episode']}: not scored: {e['error']}")
        elif report["truth"] is not None and e["truth"] is None:
            notes.append(f"{e['episode']}: no colour original in {report['truth']}")
    totals = report["totals"]
    notes.append(f"{totals['done']} rendered by the last run, {totals['skipped']} skipped "
                 f"(already rendered), {totals['failed']} failed. Seconds and fps are those of "
                 "the render that made each output; the season row's figures are "
                 "frame-weighted means over the scored episodes.")
    return notes


def _write_season_report(folder: Path, report: dict[str, Any]) -> None:
    import html
    from urllib.parse import quote

    from vidcolor.fsutil import ensure_writable_dir
    from vidcolor.report import INDEX_HTML, REPORT_JSON, json_bytes, write_files_atomic

    ensure_writable_dir(folder)
    rows = season_rows(report)
    body = []
    for index, row in enumerate(rows[1:], start=1):
        name = html.escape(row[0])
        episode = report["episodes"][index - 1] if index < len(rows) - 1 else None
        if episode is not None and episode["metrics"]:
            link = html.escape(quote(f"{episode['report']}/{INDEX_HTML}"))
            name = f'<a href="{link}">{name}</a>'
        body.append(f"<tr><th>{name}</th>" + "".join(f"<td>{html.escape(cell)}</td>"
                                                    for cell in row[1:]) + "</tr>")
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in rows[0])
    title = f"vidcolor season report: {report['season']}"
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
            "th,td{border:1px solid #ccc;padding:.25em .6em}td{text-align:right}"
            "tbody th{text-align:left;font-weight:normal}</style></head>\n"
            f"<body><h1>{html.escape(title)}</h1><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
            + "".join(f"<p>{html.escape(note)}</p>" for note in season_notes(report)) +
            "</body></html>\n")
    write_files_atomic(folder, [
        (REPORT_JSON, json_bytes(report)),
        (SEASON_TEXT, (format_season_report(report) + "\n").encode("utf-8")),
        (INDEX_HTML, page.encode("utf-8"))])
