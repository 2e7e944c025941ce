"""build-dataset and the dataset reader against hostile input (issue 18): names that are not
safe paths, outputs that are files, full disks, special files, and every file read back
hand-edited. Each failure is one error naming the file and the field; the dataset and the
folders beside it are left as they were."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import episode_frames, file_size_limit, write_clip

from vidcolor._cli.main import cli
from vidcolor.dataset.build import build_dataset
from vidcolor.dataset.reader import load_split, read_meta, verify_dataset
from vidcolor.dataset.records import MAX_NAME, DatasetParams, read_excluded
from vidcolor.errors import DatasetError, InputError, OutputError
from vidcolor.series import SeriesLook

SMALL = DatasetParams(size=32)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("clips")
    return [write_clip(folder / f"ep{i}.mkv", episode_frames(i), audio=False) for i in range(2)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, clips: list[Path]) -> Path:
    """A dataset of both clips (ep0 test, ep1 train), built once; tests take a copy."""
    out = tmp_path_factory.mktemp("built") / "ds"
    build_dataset(clips, out, params=SMALL)
    return out


@pytest.fixture
def dataset(tmp_path: Path, built: Path) -> Path:
    out = tmp_path / "work" / "ds"
    shutil.copytree(built, out, symlinks=True)
    return out


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A folder beside the dataset that nothing may read into the dataset, change or delete."""
    folder = tmp_path / "work" / "victim"
    folder.mkdir(parents=True)
    (folder / "keep.txt").write_text("mine")
    (folder / "000004.png").write_bytes(b"not a frame of the dataset")
    return folder


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: file bytes, link targets, folders (links not followed)."""
    if not folder.exists():
        return {}
    entries: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            entries[key] = "-> " + os.readlink(path)
        elif path.is_dir():
            entries[key] = "folder"
        else:
            entries[key] = path.read_bytes()
    return entries


def one_line(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error: "), result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, lines[0]


@contextlib.contextmanager
def no_hang(seconds: int = 60) -> Iterator[None]:
    """Fail the test instead of hanging it (a pipe read would block forever)."""
    def expire(*_args: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- names


def test_a_file_name_that_is_not_utf8_is_refused_or_skipped(tmp_path: Path, clips: list[Path],
                                                            dataset: Path) -> None:
    odd = tmp_path / os.fsdecode(b"ep\xff.mkv")
    shutil.copy(clips[1], odd)
    before = snapshot(dataset)
    with pytest.raises(InputError, match=r"ep\\xff.mkv: the file's path is not UTF-8"):
        build_dataset([clips[0], odd], dataset, params=SMALL)
    assert snapshot(dataset) == before
    report = build_dataset([clips[0], odd], dataset, params=SMALL, skip_errors=True)
    assert [e.status for e in report.episodes] == ["unchanged", "skipped-error"]
    for name in ("meta.json", "manifest.csv", "excluded.csv"):
        (dataset / name).read_bytes().decode("utf-8")  # still UTF-8 text
    assert len(verify_dataset(dataset)) == 40


def test_names_too_long_for_the_file_system_are_shortened_apart(tmp_path: Path,
                                                                clips: list[Path]) -> None:
    """A 251-character file name made a staging folder '.<name>.partial' of 256 bytes."""
    stems = ["a" * 247, "a" * 246 + "b"]  # the same first 237 characters
    paths = [shutil.copy(clip, tmp_path / f"{stem}.mkv") for clip, stem in zip(clips, stems,
                                                                               strict=True)]
    out = tmp_path / "ds"
    build_dataset(paths, out, params=SMALL)
    names = sorted(read_meta(out)["episodes"])
    assert len(names) == 2 and all(len(name) == MAX_NAME for name in names)
    assert names[0][:237] == names[1][:237] and names[0] != names[1]
    again = build_dataset(paths, out, params=SMALL)
    assert [e.status for e in again.episodes] == ["unchanged", "unchanged"]


@pytest.mark.parametrize("first, second", [("ep 1.mkv", "ep_1.mkv"), ("Ep1.mkv", "ep1.mkv"),
                                           (".ep1.mkv", "ep1.mkv"), ("a/x.mkv", "b/x.mkv")])
def test_names_that_meet_after_mapping_are_refused(tmp_path: Path, clips: list[Path],
                                                   first: str, second: str) -> None:
    paths = []
    for name, clip in ((first, clips[0]), (second, clips[1])):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        paths.append(shutil.copy(clip, tmp_path / name))
    with pytest.raises(DatasetError, match="clashes with"):
        build_dataset(paths, tmp_path / "ds", params=SMALL)
    assert not (tmp_path / "ds").exists()


def test_a_name_that_differs_only_in_case_from_a_stored_episode_is_refused(
        tmp_path: Path, clips: list[Path], dataset: Path) -> None:
    upper = shutil.copy(clips[1], tmp_path / "EP1.mkv")
    before = snapshot(dataset)
    with pytest.raises(DatasetError, match="'EP1' differs only in case .* 'ep1'"):
        build_dataset([clips[0], upper], dataset, params=SMALL)
    assert snapshot(dataset) == before
    same = build_dataset([clips[0], clips[1], clips[1]], dataset, params=SMALL)  # given twice
    assert [e.status for e in same.episodes] == ["unchanged", "unchanged"]


def test_paths_the_system_refuses_are_one_error(tmp_path: Path, clips: list[Path]) -> None:
    with pytest.raises(InputError, match="File name too long"):
        build_dataset([clips[0], tmp_path / ("b" * 300 + ".mkv")], tmp_path / "ds",
                      params=SMALL)
    deep = tmp_path.joinpath(*["d" * 200] * 24)  # over PATH_MAX (4096)
    with pytest.raises(OutputError, match="File name too long"):
        build_dataset(clips, deep / "ds", params=SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("command", ["build-dataset", "demo-data"])
def test_an_output_that_is_a_file_or_lies_under_one_is_one_line(tmp_path: Path,
                                                                clips: list[Path],
                                                                command: str) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("precious")
    for output in (blocker, blocker / "ds"):
        args = (["build-dataset", str(clips[0]), "-o", str(output), "--size", "32"]
                if command == "build-dataset" else
                ["demo-data", str(output), "--episodes", "1", "--seconds", "1", "--width", "64",
                 "--height", "48"])
        code, line = one_line(*args)
        # an existing file is a value that cannot work (exit 2); a path under one, a failure
        assert code == (2 if output == blocker else 1) and str(blocker) in line
        assert blocker.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_a_folder_that_is_not_a_dataset_is_not_written_into(tmp_path: Path,
                                                            clips: list[Path]) -> None:
    folder = tmp_path / "mine"
    (folder / "frames" / "holiday").mkdir(parents=True)
    (folder / "frames" / "holiday" / "000001.png").write_bytes(b"a photo")
    (folder / "notes.txt").write_text("mine")
    before = snapshot(folder)
    with pytest.raises(OutputError, match="not a vidcolor dataset and not empty.*notes.txt"):
        build_dataset(clips, folder, params=SMALL)
    assert snapshot(folder) == before


def test_only_folders_of_frames_are_ever_deleted(dataset: Path, clips: list[Path]) -> None:
    """A stray folder in frames/ that holds something vidcolor did not write is left alone,
    and so is a link there (never followed)."""
    stray = dataset / "frames" / "stray"
    stray.mkdir()
    (stray / "diary.txt").write_text("mine")
    outside = dataset.parent / "outside"
    outside.mkdir()
    (outside / "000001.png").write_bytes(b"mine too")
    (dataset / "frames" / ".ep9.partial").symlink_to(outside)
    report = build_dataset(clips, dataset, params=SMALL)
    assert [e.status for e in report.episodes] == ["unchanged", "unchanged"]
    assert (stray / "diary.txt").read_text() == "mine"
    assert (outside / "000001.png").read_bytes() == b"mine too"


# --------------------------------------------------------------------------- special files


def test_a_pipe_or_a_device_as_an_episode_never_blocks(tmp_path: Path, clips: list[Path],
                                                       dataset: Path) -> None:
    fifo = tmp_path / "fifo.mkv"
    os.mkfifo(fifo)
    before = snapshot(dataset)
    with no_hang():
        for special in (fifo, Path("/dev/zero")):
            with pytest.raises(InputError, match="not a regular file"):
                build_dataset([clips[0], special], dataset, params=SMALL)
            report = build_dataset([clips[0], special], dataset, params=SMALL,
                                   skip_errors=True)
            assert [e.status for e in report.episodes] == ["unchanged", "skipped-error"]
    assert snapshot(dataset) == before


@pytest.mark.parametrize("name", ["meta.json", "manifest.csv", "excluded.csv", "series.json"])
def test_a_pipe_in_place_of_a_record_never_blocks(dataset: Path, clips: list[Path],
                                                  name: str) -> None:
    (dataset / name).unlink()
    os.mkfifo(dataset / name)
    with no_hang():
        if name == "series.json":
            with pytest.raises(DatasetError, match="series.json: not a regular file"):
                SeriesLook.load(dataset / name)
            build_dataset(clips, dataset, params=SMALL)  # learnt again, in a file
            assert SeriesLook.load(dataset / name).palette.shape[1] == 3
            return
        with pytest.raises(DatasetError, match=f"{name}: not a regular file"):
            read_excluded(dataset) if name == "excluded.csv" else load_split(dataset, "train")
        with pytest.raises(DatasetError, match=f"{name}: not a regular file"):
            build_dataset(clips, dataset, params=SMALL)


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_dataset_that_is_a_symlink_loop_is_one_line(tmp_path: Path, command: str) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    for read in (read_meta, verify_dataset, lambda d: load_split(d, "train")):
        with pytest.raises(DatasetError, match="loop: cannot open the dataset folder"):
            read(loop)
    args = (["train", "--arch", "plain", "--epochs", "1", "-o", str(tmp_path / "run")]
            if command == "train" else ["evaluate", str(tmp_path / "run")])
    code, line = one_line(*args, "--dataset", str(loop))
    assert code == 1 and "loop: cannot open the dataset folder" in line, line


# --------------------------------------------------------------------------- full disks


def test_a_frame_the_storage_refuses_leaves_the_dataset_as_it_was(tmp_path: Path,
                                                                  clips: list[Path]) -> None:
    out = tmp_path / "ds"
    build_dataset(clips[:1], out, params=SMALL)
    before = snapshot(out)
    with file_size_limit(100), pytest.raises(OutputError,
                                              match=r"\.ep1\.partial/\d{6}\.png: cannot write"):
        build_dataset(clips, out, params=SMALL)
    assert snapshot(out) == before  # no staging folder or half-written frame left
    report = build_dataset(clips, out, params=SMALL)  # space again: it completes
    assert [e.status for e in report.episodes] == ["unchanged", "added"]
    assert len(verify_dataset(out)) == 40


def test_a_record_the_storage_refuses_puts_back_the_others(tmp_path: Path, clips: list[Path],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """excluded.csv and manifest.csv are rewritten before meta.json: when meta.json cannot be,
    they are put back, so the three still agree."""
    import vidcolor.dataset.build as build_module

    dataset = tmp_path / "ds"
    build_dataset(clips[:1], dataset, params=SMALL)
    before = snapshot(dataset)
    real = build_module.write_json_atomic

    def full_disk(target: Path, obj: object) -> None:
        if Path(target).name == "meta.json":
            raise OutputError(f"{target}: cannot write (No space left on device)")
        real(target, obj)

    monkeypatch.setattr(build_module, "write_json_atomic", full_disk)
    with pytest.raises(OutputError, match="meta.json: cannot write"):
        build_dataset(clips, dataset, params=SMALL)
    after = snapshot(dataset)
    for name in ("meta.json", "manifest.csv", "excluded.csv"):
        assert after[name] == before[name], name
    assert not [name for name in after if name.endswith(".previous")]
    assert len(verify_dataset(dataset)) == 20  # still valid: the three agree
    monkeypatch.setattr(build_module, "write_json_atomic", real)
    report = build_dataset(clips, dataset, params=SMALL)
    assert [e.status for e in report.episodes] == ["unchanged", "added"]
    assert len(verify_dataset(dataset)) == 40


# --------------------------------------------------------------------------- records read back


def _edit_json(name: str, change: Callable[[dict], object]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        data = json.loads((folder / name).read_text())
        change(data)
        (folder / name).write_text(json.dumps(data))
    return edit


def _edit_rows(name: str, change: Callable[[list[dict[str, str]]], list[dict[str, str]]]
               ) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        with open(folder / name, newline="") as handle:
            reader = csv.DictReader(handle)
            fields = list(reader.fieldnames or [])
            rows = list(reader)
        rows = change(rows)
        fields = [f for f in fields if any(f in row for row in rows)] if rows else fields
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        (folder / name).write_text(buffer.getvalue())
    return edit


def _set(key: str, value: object, episode: str | None = None) -> Callable[[dict], None]:
    def change(meta: dict) -> None:
        (meta["episodes"][episode] if episode else meta)[key] = value
    return change


def _row(episode: str, **values: str) -> Callable[[list[dict[str, str]]], list[dict[str, str]]]:
    """Change the first row of an episode."""
    def change(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        first = next(row for row in rows if row["episode"] == episode)
        first.update(values)
        return rows
    return change


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(data)


def _link_frame(folder: Path) -> None:
    frame = sorted((folder / "frames" / "ep1").iterdir())[0]
    frame.unlink()
    frame.symlink_to(folder.parent / "victim" / "000004.png")


def _link_episode(folder: Path) -> None:
    copy = folder.parent / "victim" / "ep1"
    shutil.copytree(folder / "frames" / "ep1", copy)
    shutil.rmtree(folder / "frames" / "ep1")
    (folder / "frames" / "ep1").symlink_to(copy)


#: Damage to a record that names one episode: the reader refuses the dataset naming the file
#: and field; a re-run repairs the episode from its source.
EPISODE_DAMAGE = {
    "stored -1": (_edit_json("meta.json", _set("stored", -1, "ep1")), "meta.json.*stored"),
    "stored text": (_edit_json("meta.json", _set("stored", "20", "ep1")), "meta.json.*stored"),
    "stored 1e9": (_edit_json("meta.json", _set("stored", 1e9, "ep1")), "meta.json.*stored"),
    "split val": (_edit_json("meta.json", _set("split", "val", "ep1")), "meta.json.*split"),
    "source a number": (_edit_json("meta.json", _set("source", 5, "ep1")), "meta.json.*source"),
    "bytes NaN": (_edit_json("meta.json", _set("bytes", float("nan"), "ep1")),
                  "meta.json.*bytes"),
    "path ../../victim": (_edit_rows("manifest.csv", _row(
        "ep1", path="frames/ep1/../../../victim/000004.png")), "manifest.csv.*'ep1'.*path"),
    "path absolute": (lambda folder: _edit_rows("manifest.csv", _row(
        "ep1", path=str(folder.parent / "victim" / "000004.png")))(folder),
        "manifest.csv.*'ep1'.*path"),
    "frame_index nan": (_edit_rows("manifest.csv", _row("ep1", frame_index="nan")),
                        "manifest.csv.*'ep1'.*frame_index 'nan'"),
    "frame_index -1": (_edit_rows("manifest.csv", _row("ep1", frame_index="-1")),
                       "manifest.csv.*frame_index '-1'"),
    "time NaN": (_edit_rows("manifest.csv", _row("ep1", time="NaN")),
                 "manifest.csv.*'ep1'.*time 'NaN'"),
    "a duplicate row": (_edit_rows("manifest.csv", lambda rows: [
        rows[-1] if row is rows[-2] else row for row in rows]), "manifest.csv lists frame.*twice"),
    "a frame linked out": (_link_frame, "frames of episode 'ep1' are missing"),
    "an episode folder linked out": (_link_episode, "frames/ep1 is not a folder"),
}


@pytest.mark.parametrize("damage", sorted(EPISODE_DAMAGE))
def test_damage_naming_one_episode_is_refused_then_repaired(dataset: Path, victim: Path,
                                                            clips: list[Path],
                                                            damage: str) -> None:
    edit, message = EPISODE_DAMAGE[damage]
    edit(dataset)
    outside = snapshot(victim)
    for read in (verify_dataset, lambda d: load_split(d, "train")):
        with pytest.raises(DatasetError, match=message):
            read(dataset)
    report = build_dataset(clips, dataset, params=SMALL)
    assert [e.status for e in report.episodes] == ["unchanged", "repaired"]
    rows = verify_dataset(dataset)
    assert len(rows) == 40
    root = dataset.resolve()
    assert all(path.parent.parent.parent == root and path.is_file() and not path.is_symlink()
               for path in load_split(dataset, "train") + load_split(dataset, "test"))
    assert snapshot(victim) == outside


#: Damage to the dataset as a whole: every reader and the build refuse it with one error
#: naming the file and what is wrong, and change nothing.
DATASET_DAMAGE = {
    "meta not JSON": (_write("meta.json", b"{not json"), "meta.json: not valid JSON"),
    "meta nested deep": (_write("meta.json", b"[" * 100_000), "meta.json: not valid JSON"),
    "meta not UTF-8": (_write("meta.json", b'{"params": "\xff"}'), "meta.json: not UTF-8"),
    "meta a list": (_write("meta.json", b"[]"), "meta.json: not a vidcolor dataset"),
    "params text": (_edit_json("meta.json", _set("params", "32")),
                    "meta.json: not a vidcolor dataset"),
    "params size text": (_edit_json("meta.json", lambda m: m["params"].update(size="32")),
                         "meta.json: .*params"),
    "test_episodes missing": (_edit_json("meta.json", lambda m: m.pop("test_episodes")),
                              "meta.json: .*test_episodes"),
    "test_episodes a path": (_edit_json("meta.json", _set("test_episodes", ["../x"])),
                             "meta.json: .*test_episodes"),
    "episodes a list": (_edit_json("meta.json", _set("episodes", [])),
                        "meta.json: .*episodes is not a mapping"),
    "an episode record a string": (_edit_json("meta.json", lambda m: m["episodes"].update(
        ep1="x")), "meta.json: .*record of episode 'ep1'"),
    "an episode named ../victim": (_edit_json("meta.json", lambda m: m["episodes"].update(
        {"../victim": m["episodes"].pop("ep1")})), "meta.json: .*'../victim'"),
    "greyscale a list": (_edit_json("meta.json", _set("greyscale", [1])),
                         "meta.json: .*greyscale"),
    "meta a folder": (lambda d: ((d / "meta.json").unlink(), (d / "meta.json").mkdir()),
                      "meta.json: not a regular file"),
    "manifest not UTF-8": (_write("manifest.csv", b"path,episode\n\xff\xfe,x\n"),
                           "manifest.csv: not UTF-8"),
    "frames a link": (lambda d: (shutil.rmtree(d / "frames"),
                                 (d / "frames").symlink_to(d.parent / "victim")), "frames"),
}


@pytest.mark.parametrize("damage", sorted(DATASET_DAMAGE))
def test_damage_to_the_whole_dataset_is_one_error_and_changes_nothing(
        dataset: Path, victim: Path, clips: list[Path], damage: str) -> None:
    edit, message = DATASET_DAMAGE[damage]
    edit(dataset)
    before, outside = snapshot(dataset), snapshot(victim)
    readers: list[Callable[[Path], object]] = [verify_dataset,
                                               lambda d: load_split(d, "train")]
    if "manifest" not in damage and "frames" not in damage:
        readers.append(read_meta)
    for read in readers:
        with pytest.raises(DatasetError, match=message):
            read(dataset)
    with pytest.raises(DatasetError, match=message):
        build_dataset(clips, dataset, params=SMALL)
    assert snapshot(dataset) == before
    assert snapshot(victim) == outside


def test_manifest_columns_missing_or_rows_of_unknown_episodes(dataset: Path, victim: Path,
                                                              clips: list[Path]) -> None:
    _edit_rows("manifest.csv", lambda rows: [{k: v for k, v in row.items() if k != "path"}
                                             for row in rows])(dataset)
    with pytest.raises(DatasetError, match=r"manifest.csv: incomplete manifest.*'path'"):
        load_split(dataset, "train")
    build_dataset(clips, dataset, params=SMALL)  # both episodes extracted again
    assert len(verify_dataset(dataset)) == 40
    _edit_rows("manifest.csv", lambda rows: [*rows, {**rows[0], "episode": "../victim",
                                                     "path": "../victim/000004.png"}])(dataset)
    with pytest.raises(DatasetError, match="episode '../victim', which meta.json does not"):
        load_split(dataset, "train")
    report = build_dataset(clips, dataset, params=SMALL)  # the stray row is dropped
    assert [e.status for e in report.episodes] == ["unchanged", "unchanged"]
    assert len(verify_dataset(dataset)) == 40
    assert sorted(p.name for p in victim.iterdir()) == ["000004.png", "keep.txt"]


@pytest.mark.parametrize("values, field", [({"frame_index": "x"}, "frame_index 'x'"),
                                           ({"time": "nan"}, "time 'nan'"),
                                           (None, "reason is missing")])
def test_a_damaged_excluded_row_is_named_then_repaired(dataset: Path, clips: list[Path],
                                                       values: dict | None, field: str) -> None:
    if values is None:  # a row cut short after its third field
        lines = (dataset / "excluded.csv").read_text().splitlines(keepends=True)
        number = next(i for i, line in enumerate(lines) if line.startswith("ep1,"))
        lines[number] = ",".join(lines[number].split(",")[:3]) + "\n"
        (dataset / "excluded.csv").write_text("".join(lines))
    else:
        _edit_rows("excluded.csv", _row("ep1", **values))(dataset)
    with pytest.raises(DatasetError, match=f"excluded.csv: damaged row .*{field}"):
        read_excluded(dataset)
    report = build_dataset(clips, dataset, params=SMALL)
    assert [e.status for e in report.episodes] == ["unchanged", "repaired"]
    assert len(read_excluded(dataset)) == 16


@pytest.mark.parametrize("change, field", [
    (lambda d: d.update(palette=[[float("nan"), 0, 0]]), "palette"),
    (lambda d: d.update(palette=[[50, 0]]), "palette has the shape"),
    (lambda d: d.update(palette="red"), "palette is not an array"),
    (lambda d: d.update(palette_share=[0.5] * (len(d["palette"]) + 1)), "palette_share"),
    (lambda d: d.update(typical_ab=[[float("nan"), 0]] * 101), "typical_ab"),
    (lambda d: d.update(chroma_ceiling=[-1.0] * 101), "chroma_ceiling"),
    (lambda d: d.update(chroma_ceiling=[1e39] * 101), "chroma_ceiling"),
    (lambda d: d.update(neutral=[True] * 3), "neutral"),
    (lambda d: d.update(credit_background="blue"), "credit_background"),
    (lambda d: d.update(credit_text=[1, 2, 1e9]), "credit_text"),
    (lambda d: d.update(credit_grey={"a": 1}), "credit_grey"),
    (lambda d: d.update(frames=-1), "frames"),
    (lambda d: d.update(frames="many"), "frames"),
    (lambda d: d.update(palette_extent={"x": 1}), "layout: palette_extent"),
    (lambda d: d.pop("chroma_ceiling"), "chroma_ceiling is missing"),
    (lambda d: d.update(format="vidcolor-dataset"), "not a vidcolor series file"),
])
def test_a_damaged_series_look_is_one_error_naming_the_field(dataset: Path, change, field: str
                                                             ) -> None:
    path = dataset / "series.json"
    _edit_json("series.json", change)(path.parent)
    with pytest.raises(DatasetError, match=f"series.json: damaged series file .*{field}"):
        SeriesLook.load(path)


def test_a_damaged_series_look_in_a_dataset_is_learnt_again(dataset: Path,
                                                            clips: list[Path]) -> None:
    for damage in (b"[" * 100_000, b"[1, 2]", b'{"episodes": 3}'):
        (dataset / "series.json").write_bytes(damage)
        build_dataset(clips, dataset, params=SMALL)
        assert SeriesLook.load(dataset / "series.json").palette.shape[1] == 3
