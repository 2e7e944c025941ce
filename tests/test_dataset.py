"""build-dataset: dedup, credits, split, manifest, incremental runs, bad input."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import episode_frames, moving_square_frames, write_clip

from vidcolor.dataset.build import build_dataset
from vidcolor.dataset.reader import load_split, read_manifest
from vidcolor.dataset.records import DatasetParams
from vidcolor.errors import DatasetError, InputError, OutputError


@pytest.fixture
def episodes(tmp_path: Path) -> list[Path]:
    return [write_clip(tmp_path / f"ep{i}.mkv", episode_frames(i)) for i in range(3)]


def rows_of(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_build_stores_one_frame_per_drawing_and_drops_credits(tmp_path: Path,
                                                              episodes: list[Path]) -> None:
    out = tmp_path / "ds"
    report = build_dataset(episodes, out, params=DatasetParams(size=32))
    manifest = read_manifest(out)
    assert [e.status for e in report.episodes] == ["added"] * 3
    # 20 drawings each held for 2 frames; all stored, none twice; 8 credit frames dropped
    for ep in report.episodes:
        # 48 decoded = 8 credit frames (each fade step differs) + 20 drawings held twice
        assert (ep.decoded, ep.stored, ep.duplicates, ep.credits) == (48, 20, 20, 8)
    excluded = rows_of(out / "excluded.csv")
    assert {r["reason"] for r in excluded} == {"credits"}
    assert all(int(r["frame_index"]) < 4 or int(r["frame_index"]) >= 44 for r in excluded)
    assert len(manifest) == 60
    for row in manifest:
        image = cv2.imread(str(out / row["path"]))
        assert image.shape == (32, 32, 3)
        assert 4 <= int(row["frame_index"]) < 44
    # held drawings: consecutive stored frames of an episode always differ by MSE > 20
    assert all(float(r["mse"]) > 20 for r in manifest if r["mse"])
    splits = {r["episode"]: r["split"] for r in manifest}
    assert splits == {"ep0": "test", "ep1": "train", "ep2": "train"}
    meta = json.loads((out / "meta.json").read_text())
    assert meta["params"] == {"size": 32, "dedup_threshold": 20.0, "credit_filter": True}
    assert meta["vidcolor_version"]
    assert len(load_split(out, "train")) == 40 and len(load_split(out, "test")) == 20


def test_pngs_are_lossless(tmp_path: Path, episodes: list[Path]) -> None:
    from vidcolor.video.decode import iter_frames

    out = tmp_path / "ds"
    build_dataset(episodes[:1], out, params=DatasetParams(size=32))
    row = read_manifest(out)[0]
    stored = cv2.cvtColor(cv2.imread(str(out / row["path"])), cv2.COLOR_BGR2RGB)
    decoded = [f for f in iter_frames(episodes[0], size=(32, 32))
               if f.index == int(row["frame_index"])][0]
    # Exact: the frame decoded again the way the dataset decoded it (H.264 decoding is
    # bit-exact; then the same swscale conversion, integer arithmetic), so any difference
    # is the storage's
    assert np.array_equal(stored, decoded.rgb)


def test_incremental_and_parameter_guard(tmp_path: Path, episodes: list[Path]) -> None:
    out = tmp_path / "ds"
    build_dataset(episodes[:2], out, params=DatasetParams(size=32), test_episodes=["ep1"])
    report = build_dataset(episodes, out, params=DatasetParams(size=32))
    assert [e.status for e in report.episodes] == ["unchanged", "unchanged", "added"]
    splits = {r["episode"]: r["split"] for r in read_manifest(out)}
    assert splits == {"ep0": "train", "ep1": "test", "ep2": "train"}
    with pytest.raises(DatasetError, match="other parameters: size 32"):
        build_dataset(episodes, out, params=DatasetParams(size=64))
    with pytest.raises(DatasetError, match="test episodes"):
        build_dataset(episodes, out, params=DatasetParams(size=32), test_episodes=["0"])


def test_interrupted_episode_leaves_dataset_consistent(tmp_path: Path, episodes: list[Path],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import vidcolor.dataset.episode as episode_module

    out = tmp_path / "ds"
    build_dataset(episodes[:1], out, params=DatasetParams(size=32))
    before = (out / "manifest.csv").read_bytes()
    real = episode_module.credit_colours
    calls = {"n": 0}

    def interrupt_midway(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(episode_module, "credit_colours", interrupt_midway)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(episodes, out, params=DatasetParams(size=32))
    assert (out / "manifest.csv").read_bytes() == before
    assert sorted(p.name for p in (out / "frames").iterdir()) == ["ep0"]
    monkeypatch.setattr(episode_module, "credit_colours", real)
    report = build_dataset(episodes, out, params=DatasetParams(size=32))
    assert [e.status for e in report.episodes] == ["unchanged", "added", "added"]
    assert len(read_manifest(out)) == 60


def test_greyscale_episode_is_reported_not_used(tmp_path: Path, episodes: list[Path]) -> None:
    grey = [np.repeat(f.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
            for f in episode_frames(1)]
    bw = write_clip(tmp_path / "ep1_bw.mkv", grey)
    report = build_dataset([episodes[0], bw], tmp_path / "ds", params=DatasetParams(size=32))
    assert [e.status for e in report.episodes] == ["added", "skipped-greyscale"]
    assert "greyscale" in report.episodes[1].message
    assert {r["episode"] for r in read_manifest(tmp_path / "ds")} == {"ep0"}
    again = build_dataset([episodes[0], bw], tmp_path / "ds", params=DatasetParams(size=32))
    assert [e.status for e in again.episodes] == ["unchanged", "skipped-greyscale"]
    assert again.episodes[1].decoded == 0  # remembered, not decoded again


def test_bad_inputs(tmp_path: Path, episodes: list[Path]) -> None:
    out = tmp_path / "ds"
    build_dataset(episodes[:1], out, params=DatasetParams(size=32))
    before = (out / "manifest.csv").read_bytes()
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(os.urandom(4096))
    long_clip = write_clip(tmp_path / "long.mkv", episode_frames(2, holds=6), audio=False)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(long_clip.read_bytes()[: long_clip.stat().st_size // 2])
    for bad, message in [(tmp_path / "none.mkv", "none.mkv: no such file"),
                         (junk, "junk.mkv: not a readable video"),
                         (cut, "cut.mkv: .*--skip-errors")]:
        with pytest.raises(InputError, match=message):
            build_dataset([episodes[0], bad], out, params=DatasetParams(size=32))
        assert (out / "manifest.csv").read_bytes() == before
        assert sorted(p.name for p in (out / "frames").iterdir()) == ["ep0"]
    report = build_dataset([episodes[0], junk, cut], out, params=DatasetParams(size=32),
                           skip_errors=True)
    assert [e.status for e in report.episodes] == ["unchanged", "skipped-error", "added"]
    assert 0 < report.episodes[2].stored < 20


def test_odd_and_tiny_resolutions(tmp_path: Path) -> None:
    odd = write_clip(tmp_path / "odd.mkv", moving_square_frames(12, width=33, height=17))
    tiny = write_clip(tmp_path / "tiny.mkv",
                      [np.full((2, 2, 3), (i * 20, 100, 50), np.uint8) for i in range(6)])
    build_dataset([odd, tiny], tmp_path / "ds", params=DatasetParams(size=32))
    frames = load_split(tmp_path / "ds", "train")
    assert frames and all(cv2.imread(str(p)).shape == (32, 32, 3) for p in frames)


def test_unwritable_output(tmp_path: Path, episodes: list[Path]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="file"):
        build_dataset(episodes, blocker / "ds")


def test_load_split_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no dataset folder"):
        load_split(tmp_path / "nothing", "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="meta.json: missing"):
        load_split(tmp_path / "empty", "train")


def test_demo_series_dedup_and_credit_filter(tmp_path: Path) -> None:
    """On the demo series: one frame per held drawing, >= 90 % of credits dropped, no story."""
    from fractions import Fraction

    from vidcolor.demo.episode import iter_episode_frames
    from vidcolor.demo.generate import generate_series

    settings = {"seconds": 8.0, "width": 256, "height": 192, "fps": Fraction(24)}
    series = generate_series(tmp_path / "demo", seed=3, episodes=2, **settings)
    out = tmp_path / "ds"
    build_dataset(series.colour_paths, out)
    manifest = read_manifest(out)
    excluded = rows_of(out / "excluded.csv")
    for number, info in enumerate(series.episodes):
        drawings = [f.drawing_id for f in iter_episode_frames(seed=3, episode=number,
                                                               **settings)]
        credits = set(info.credit_frames)
        stored = [int(r["frame_index"]) for r in manifest if r["episode"] == info.name]
        dropped = {int(r["frame_index"]) for r in excluded if r["episode"] == info.name}
        story_drawings = {drawings[i] for i in range(len(drawings)) if i not in credits}
        stored_story = [drawings[i] for i in stored if i not in credits]
        # one frame per held drawing: no drawing stored twice, and none lost (the demo moves
        # each drawing by more than the threshold)
        assert len(stored_story) == len(set(stored_story))
        assert set(stored_story) == story_drawings
        assert dropped <= credits, "a story frame was dropped as credits"
        credit_survivors = dropped | (set(stored) & credits)
        assert len(dropped) >= 0.9 * len(credit_survivors)


def test_zero_frame_and_audio_only_videos_are_refused(tmp_path: Path) -> None:
    import av
    from conftest import tone

    empty = tmp_path / "empty.mkv"
    with av.open(str(empty), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height = 64, 48
        container.start_encoding()  # header only, no frames
    sound = tmp_path / "sound.m4a"
    samples, rate = tone(0.5)
    with av.open(str(sound), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    for bad, message in [(empty, "empty.mkv: ends before any frame"),
                         (sound, "sound.m4a: an audio-only file")]:
        with pytest.raises(InputError, match=message):
            build_dataset([bad], tmp_path / "ds")
    assert not (tmp_path / "ds" / "manifest.csv").exists()


def test_rip_whose_subtitles_outlast_the_video_is_built_whole(tmp_path: Path) -> None:
    """A MakeMKV-style rip (subtitles and audio longer than the video) needs no option."""
    from conftest import write_rip

    rip = write_rip(tmp_path / "ep0.mkv", episode_frames(0))
    report = build_dataset([rip], tmp_path / "ds", params=DatasetParams(size=32))
    assert [(e.status, e.decoded, e.stored) for e in report.episodes] == [("added", 48, 20)]


# --------------------------------------------------------------------------- verification


def _built(tmp_path: Path, episodes: list[Path]) -> Path:
    out = tmp_path / "ds"
    build_dataset(episodes, out, params=DatasetParams(size=32))
    return out


def test_truncated_manifest_is_refused_by_load_split(tmp_path: Path,
                                                     episodes: list[Path]) -> None:
    """A manifest cut short is an error naming what is missing, never a smaller split."""
    out = _built(tmp_path, episodes)
    lines = (out / "manifest.csv").read_text().splitlines(keepends=True)
    (out / "manifest.csv").write_text("".join(lines[:28]))  # 27 of the 60 frames
    with pytest.raises(DatasetError, match="manifest.csv lists 7 of the 20 frames of episode "
                                           "'ep1'.*build-dataset"):
        load_split(out, "train")


def test_missing_frames_and_unrecorded_rows_are_refused(tmp_path: Path,
                                                        episodes: list[Path]) -> None:
    out = _built(tmp_path, episodes)
    for png in sorted((out / "frames" / "ep2").iterdir())[:3]:
        png.unlink()
    with pytest.raises(DatasetError, match=r"3 of the 20 frames of episode 'ep2' are missing"):
        load_split(out, "test")  # the whole dataset is checked, whichever split is asked for
    meta = json.loads((out / "meta.json").read_text())
    del meta["episodes"]["ep1"]
    (out / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="episode 'ep1', which meta.json does not record"):
        load_split(out, "train")


def test_rerun_repairs_what_is_missing(tmp_path: Path, episodes: list[Path]) -> None:
    out = _built(tmp_path, episodes)
    complete = {r["path"] for r in read_manifest(out)}
    (out / "frames" / "ep1" / sorted(os.listdir(out / "frames" / "ep1"))[5]).unlink()
    lines = (out / "manifest.csv").read_text().splitlines(keepends=True)
    (out / "manifest.csv").write_text("".join(line for line in lines if "frames/ep2/" not in line
                                              or line.endswith("000010.png\n")))
    report = build_dataset(episodes[:2], out, params=DatasetParams(size=32))  # ep2 not given
    statuses = {e.episode: e.status for e in report.episodes}
    assert statuses == {"ep0": "unchanged", "ep1": "repaired", "ep2": "repaired"}
    assert "missing" in report.episodes[1].message
    assert {r["path"] for r in read_manifest(out)} == complete
    assert len(load_split(out, "train")) == 40
    again = build_dataset(episodes, out, params=DatasetParams(size=32))
    assert [e.status for e in again.episodes] == ["unchanged"] * 3


def test_damaged_episode_whose_source_is_gone_is_named(tmp_path: Path,
                                                       episodes: list[Path]) -> None:
    out = _built(tmp_path, episodes)
    (out / "frames" / "ep2" / sorted(os.listdir(out / "frames" / "ep2"))[0]).unlink()
    episodes[2].unlink()
    with pytest.raises(DatasetError, match="ep2.*missing.*ep2.mkv is gone"):
        build_dataset(episodes[:2], out, params=DatasetParams(size=32))


def test_build_stopped_between_its_writes_is_repaired(tmp_path: Path,
                                                      episodes: list[Path]) -> None:
    """A crash after the manifest but before meta.json leaves rows meta does not vouch for."""
    out = _built(tmp_path, episodes[:1])
    meta = (out / "meta.json").read_text()
    build_dataset(episodes[:2], out, params=DatasetParams(size=32))
    (out / "meta.json").write_text(meta)  # as if the process died before writing it
    (out / "frames" / ".ep2.partial").mkdir()  # and a staging folder of a killed build
    report = build_dataset(episodes[:2], out, params=DatasetParams(size=32))
    assert [e.status for e in report.episodes] == ["unchanged", "added"]
    assert sorted(p.name for p in (out / "frames").iterdir()) == ["ep0", "ep1"]
    assert len(load_split(out, "train")) == 20


def test_unknown_test_episode_is_refused_before_anything_is_written(
        tmp_path: Path, episodes: list[Path]) -> None:
    out = tmp_path / "ds"
    with pytest.raises(DatasetError, match="--test-episodes: unknown episode 'ep7'.*ep0, ep1"):
        build_dataset(episodes[:2], out, params=DatasetParams(size=32),
                      test_episodes=["ep1", "ep7"])
    assert not out.exists()
    build_dataset(episodes[:2], out, params=DatasetParams(size=32), test_episodes=["ep1"])
    # naming an episode the dataset already holds is fine when adding others
    report = build_dataset(episodes[2:], out, params=DatasetParams(size=32),
                           test_episodes=["ep1"])
    assert [e.status for e in report.episodes] == ["added"]


def test_failed_build_leaves_nothing_behind(tmp_path: Path, episodes: list[Path]) -> None:
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(b"not a video" * 100)
    out = tmp_path / "ds"
    with pytest.raises(InputError, match="junk.mkv"):
        build_dataset([episodes[0], junk], out, params=DatasetParams(size=32),
                      test_episodes=["ep0"])
    assert (out / "frames" / "ep0").is_dir()  # the finished episode stays: a re-run resumes
    with pytest.raises(InputError, match="junk.mkv"):
        build_dataset([junk], tmp_path / "new", params=DatasetParams(size=32))
    assert not (tmp_path / "new").exists()
    existing = tmp_path / "empty"
    existing.mkdir()
    with pytest.raises(InputError, match="junk.mkv"):
        build_dataset([junk], existing, params=DatasetParams(size=32))
    assert list(existing.iterdir()) == []


def test_all_greyscale_input_is_an_error(tmp_path: Path) -> None:
    grey = [np.repeat(f.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
            for f in episode_frames(1)]
    bw = [write_clip(tmp_path / f"bw{i}.mkv", grey) for i in range(2)]
    with pytest.raises(DatasetError, match="no colour frames.*greyscale.*bw0, bw1"):
        build_dataset(bw, tmp_path / "ds", params=DatasetParams(size=32))
    assert not (tmp_path / "ds").exists()


# --------------------------------------------------------------------------- credit colours


def test_excluded_frames_record_the_credit_colours(tmp_path: Path,
                                                   episodes: list[Path]) -> None:
    from vidcolor.dataset.records import read_excluded

    out = _built(tmp_path, episodes[:1])
    rows = rows_of(out / "excluded.csv")
    assert len(rows) == 8 and all(r["background_rgb"] and r["text_rgb"] for r in rows)
    frames = read_excluded(out)
    full = [f for f in frames if f.frame_index in (3, 44)]  # the unfaded credit screens
    assert len(full) == 2
    for frame in full:
        red, green, blue = frame.background_rgb
        assert red < 20 and 20 < green < 60 and blue > 235  # (0, 40, 255) through H.264
        assert min(frame.text_rgb) > 150
    # faded screens keep the hue: the background stays the blue one
    assert all(f.background_rgb[2] > f.background_rgb[0] for f in frames)
    # and each has its grey signature: text about 11 times the background's luminance (a
    # (0, 40, 255) background has Y 0.09, white text 1), fades scaling both
    for frame in frames:
        assert frame.grey_background_y is not None and frame.grey_text_y is not None
        assert 5 < frame.grey_text_y / frame.grey_background_y < 15
    assert all(0.07 < f.grey_background_y < 0.12 for f in full)
    assert min(f.grey_background_y for f in frames) < 0.5 * full[0].grey_background_y


def test_old_excluded_csv_without_colours_is_read_and_extended(tmp_path: Path,
                                                               episodes: list[Path]) -> None:
    from vidcolor.dataset.records import read_excluded

    out = _built(tmp_path, episodes[:1])
    rows = rows_of(out / "excluded.csv")
    old_fields = ["episode", "source", "frame_index", "pts", "time", "reason"]
    with open(out / "excluded.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, old_fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    old = read_excluded(out)
    assert len(old) == 8 and all(f.background_rgb is None and f.text_rgb is None for f in old)
    build_dataset(episodes[:2], out, params=DatasetParams(size=32))
    frames = read_excluded(out)
    assert sum(f.background_rgb is None for f in frames if f.episode == "ep0") == 8
    assert all(f.background_rgb is not None for f in frames if f.episode == "ep1")
    assert all(f.grey_background_y is None for f in frames if f.episode == "ep0")
    assert all(f.grey_background_y is not None for f in frames if f.episode == "ep1")


# --------------------------------------------------------------------------- concurrency

ROOT = Path(__file__).resolve().parents[1]


def _build_process(out: Path, episodes: list[Path], *extra: str,
                   slow: float = 0.0) -> subprocess.Popen:
    """``vidcolor build-dataset`` in a process of its own, each frame slowed by ``slow`` s."""
    code = ("import sys, time\n"
            "from vidcolor.extract import DuplicateFilter\n"
            "real = DuplicateFilter.__call__\n"
            f"DuplicateFilter.__call__ = lambda *a: (time.sleep({slow}), real(*a))[1]\n"
            "from vidcolor._cli.main import cli\n"
            "cli(sys.argv[1:], prog_name='vidcolor')\n")
    return subprocess.Popen(
        [sys.executable, "-c", code, "-q", "build-dataset", *map(str, episodes), "-o", str(out),
         "--size", "32", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def _wait_for(condition, process: subprocess.Popen, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _complete(out: Path, stored: int) -> None:
    from vidcolor.dataset.reader import verify_dataset

    rows = verify_dataset(out)
    assert len(rows) == stored and all((out / r["path"]).is_file() for r in rows)
    assert not [p for p in (out / "frames").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("wait", [False, True])
def test_two_builds_into_one_folder(tmp_path: Path, episodes: list[Path], wait: bool) -> None:
    """The second build is refused with one line, or waits and finds the dataset complete."""
    out = tmp_path / "ds"
    first = _build_process(out, episodes, slow=0.02)
    _wait_for(lambda: (out / "frames" / ".ep0.partial").is_dir(), first)
    second = _build_process(out, episodes, *(["--wait", "120"] if wait else []))
    second_out, second_err = second.communicate(timeout=180)
    first_out, first_err = first.communicate(timeout=180)
    assert first.returncode == 0, first_err
    if wait:
        assert second.returncode == 0, second_err
    else:
        assert second.returncode == 1
        lines = second_err.strip().splitlines()
        assert len(lines) == 1 and "is building it" in lines[0] and str(out) in lines[0], lines
    _complete(out, 60)
    report = build_dataset(episodes, out, params=DatasetParams(size=32))
    assert [e.status for e in report.episodes] == ["unchanged"] * 3


def test_killed_build_resumes_complete(tmp_path: Path, episodes: list[Path]) -> None:
    out = tmp_path / "ds"
    build = _build_process(out, episodes, slow=0.02)
    _wait_for(lambda: (out / "frames" / ".ep1.partial").is_dir(), build)
    build.send_signal(signal.SIGKILL)
    build.communicate()
    from vidcolor.dataset.reader import verify_dataset

    # what the killed build finished is a consistent dataset; its staging folder is left over
    assert {r["episode"] for r in verify_dataset(out)} == {"ep0"}
    assert (out / "frames" / ".ep1.partial").is_dir()
    report = build_dataset(episodes, out, params=DatasetParams(size=32))
    assert [e.status for e in report.episodes] == ["unchanged", "added", "added"]
    _complete(out, 60)


def test_dot_named_episodes_never_touch_the_dataset_or_each_other(tmp_path: Path,
                                                                  episodes: list[Path]) -> None:
    """``...mkv`` has the stem ``..``: as a folder name it was the dataset itself, and adding
    it deleted the whole dataset; ``..mkv`` was the frames folder; ``.hidden.mkv`` was taken
    for a staging folder and deleted on the next build. Leading dots are dropped."""
    import shutil

    from vidcolor.dataset.reader import load_split, read_meta

    out = _built(tmp_path, episodes[:2])
    odd = tmp_path / "odd"
    odd.mkdir()
    dots = shutil.copy(episodes[2], odd / "...mkv")
    hidden = shutil.copy(episodes[2], odd / ".hidden.mkv")
    before = sorted(p.name for p in (out / "frames").iterdir())
    build_dataset([*episodes[:2], dots, hidden], out, params=DatasetParams(size=32))
    build_dataset([*episodes[:2], dots, hidden], out, params=DatasetParams(size=32))  # again
    names = sorted(read_meta(out)["episodes"])
    assert names == ["ep0", "ep1", "episode", "hidden"]
    assert sorted(p.name for p in (out / "frames").iterdir()) == sorted([*before, "episode",
                                                                          "hidden"])
    assert all(any((out / "frames" / name).iterdir()) for name in names)
    assert len(load_split(out, "train")) > 0  # the dataset verifies against its frames


def test_an_episode_name_in_meta_json_never_becomes_a_path_outside(tmp_path: Path,
                                                                   episodes: list[Path]) -> None:
    """meta.json is read back as untrusted input: an episode key such as ``./../../victim``
    made a re-run delete and fill a folder outside the dataset."""
    out = _built(tmp_path, episodes[:1])
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    meta = json.loads((out / "meta.json").read_text())
    meta["episodes"]["./../../victim"] = meta["episodes"].pop("ep0")
    (out / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="victim.*not a plain folder name"):
        build_dataset(episodes[:1], out, params=DatasetParams(size=32))
    assert [p.name for p in victim.iterdir()] == ["keep.txt"]


def test_credit_signatures_are_measured_on_the_grey_models_grey(tmp_path: Path,
                                                                 episodes: list[Path]) -> None:
    """A series whose black and white is BT.601 luma: a credit frame's grey signature is that
    of its luma grey (the blue background is darker in luma), as render will measure it on
    the grey twin; with luminance, that of the colour's own L."""
    from vidcolor.color.frames import lightness
    from vidcolor.color.grey import grey_lightness, grey_of_rgb
    from vidcolor.extract import credit_signature
    from vidcolor.video.decode import iter_frames

    frames = {f.index: f.rgb for f in iter_frames(episodes[0], size=(32, 32))}
    for grey in ("bt601", "luminance"):
        out = tmp_path / grey
        build_dataset(episodes[:1], out, params=DatasetParams(size=32), grey=grey)
        for row in rows_of(out / "excluded.csv"):
            rgb = frames[int(row["frame_index"])]
            light = lightness(rgb) if grey == "luminance" else \
                grey_lightness()[grey_of_rgb(rgb, grey)]
            want = credit_signature(light)
            assert want is not None
            assert float(row["grey_background_y"]) == pytest.approx(want.background, abs=2e-6)
            assert float(row["grey_text_y"]) == pytest.approx(want.text, abs=2e-6)
    first = rows_of(tmp_path / "bt601" / "excluded.csv")[0]
    assert float(first["grey_background_y"]) < float(
        rows_of(tmp_path / "luminance" / "excluded.csv")[0]["grey_background_y"])
