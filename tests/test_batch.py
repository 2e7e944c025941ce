"""Tests of vidcolor.inference.batch (a whole season in one command) and the season report.

Tiny clips (64×48, 8 frames), one tiny untrained model, ``--size 32``, ``--workers 0``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import SAME_FIGURE_REL, moving_square_frames, save_tiny_run, write_clip

from vidcolor._cli.main import cli
from vidcolor.errors import InputError, OptionError, OutputError
from vidcolor.evaluation.results import evaluate_results
from vidcolor.evaluation.runs import grey_input
from vidcolor.evaluation.season import colour_name, evaluate_season, truth_for
from vidcolor.inference import batch
from vidcolor.inference.options import RenderOptions
from vidcolor.video.decode import iter_frames

SIZE = 32
FAST = ["--size", str(SIZE), "--workers", "0"]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained run (its parameters scaled up so that the colours show)."""
    return save_tiny_run(tmp_path_factory.mktemp("runs") / "plain")


def _grey(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [grey_input(frame) for frame in frames]


def _clip(path: Path, shift: int = 0, count: int = 8) -> Path:
    """A grey 64×48 clip (a sliding square; ``shift`` makes episodes differ)."""
    return write_clip(path, _grey(moving_square_frames(count + shift)[shift:]), audio=False)


def _image_folder(folder: Path, count: int = 4) -> Path:
    folder.mkdir(parents=True)
    for index, frame in enumerate(_grey(moving_square_frames(count))):
        cv2.imwrite(str(folder / f"{index:03d}.png"), frame)
    return folder


def _digest(path: Path) -> str:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def _season(folder: Path) -> dict:
    return json.loads((folder / "season.json").read_text())


def _render(*args: object) -> object:
    return CliRunner().invoke(cli, ["-q", "render", *map(str, args), *FAST])


# --------------------------------------------------------------------------- plan


def test_shards_cover_every_input_once_whatever_the_order(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    season, extra = tmp_path / "season", tmp_path / "extra"
    season.mkdir()
    extra.mkdir()
    videos = [season / f"ep{n:02d}_bw.mkv" for n in range(1, 8)] + [extra / "special.mp4"]
    for video in videos:
        video.write_bytes(b"")  # plan only looks at names
    (season / "ep01_bw.colorized.mkv").write_bytes(b"")  # an earlier output: not an episode
    frames = _image_folder(tmp_path / "frames", 1)
    everything = {str(p.resolve()) for p in [*videos, frames]}
    monkeypatch.chdir(tmp_path)
    spellings = [season, *videos[:2], Path("extra") / "special.mp4", Path("frames"), extra]
    shares = []
    for seed in range(4):
        inputs = list(spellings)
        random.Random(seed).shuffle(inputs)
        share = [[str(e.input.resolve()) for e in batch.plan(inputs, "out", (index, 3))]
                 for index in range(3)]
        assert sorted(sum(share, [])) == sorted(everything)  # each input exactly once
        assert [len(part) for part in share] == [3, 3, 3]
        shares.append(share)
    assert all(share == shares[0] for share in shares)  # the same split whatever the order
    assert batch.parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "-1/3", "1", "a/b", "1/0"):
        with pytest.raises(OptionError, match="--shard"):
            batch.parse_shard(bad)


def test_outputs_of_a_plan(tmp_path: Path) -> None:
    a, b = tmp_path / "a.mkv", tmp_path / "b.webm"
    a.write_bytes(b"")
    b.write_bytes(b"")
    frames = _image_folder(tmp_path / "frames", 1)
    out = tmp_path / "out"
    several = batch.plan([a, b, frames], out)
    assert [e.output for e in several] == [out / "a.colorized.mkv", out / "b.colorized.mkv",
                                           out / "frames.colorized"]
    assert [e.output for e in batch.plan([a, b], None)] == [
        tmp_path / "a.colorized.mkv", tmp_path / "b.colorized.mkv"]
    # one input: -o is its output, also when the folder of images' output folder exists
    out.mkdir()
    assert batch.plan([frames], out)[0].output == out
    assert batch.plan([a], tmp_path / "x.mp4")[0].output == tmp_path / "x.mp4"
    assert batch.plan([a], out)[0].output == out / "a.colorized.mkv"  # into an existing folder
    # a season folder is a batch even with one episode in it: -o is a folder
    season = tmp_path / "season"
    season.mkdir()
    (season / "ep01.mkv").write_bytes(b"")
    assert batch.is_batch([season]) and not batch.is_batch([a]) and not batch.is_batch([frames])
    assert batch.plan([season], tmp_path / "new")[0].output == tmp_path / "new" / \
        "ep01.colorized.mkv"
    # two episodes that would write the same file
    twin = tmp_path / "other" / "a.mkv"
    twin.parent.mkdir()
    twin.write_bytes(b"")
    with pytest.raises(OutputError, match="a.colorized.mkv: both"):
        batch.plan([a, twin], out)
    (tmp_path / "b.mkv").write_bytes(b"")
    with pytest.raises(OutputError, match="both"):  # .webm and .mkv both become .mkv
        batch.plan([b, tmp_path / "b.mkv"], None)
    with pytest.raises(InputError, match="no such file"):
        batch.plan([a, tmp_path / "missing.mkv"], out)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="neither videos"):
        batch.plan([empty], out)


# --------------------------------------------------------------------------- render


def test_two_videos_and_an_image_folder_then_skip_then_rerender(tmp_path: Path,
                                                                model: Path) -> None:
    a, b = _clip(tmp_path / "a.mp4"), _clip(tmp_path / "b.mkv", shift=3)
    frames = _image_folder(tmp_path / "frames")
    out = tmp_path / "out"
    result = _render(a, b, frames, "-o", out, "-m", model)
    assert result.exit_code == 0, result.output
    outputs = [out / "a.colorized.mp4", out / "b.colorized.mkv", out / "frames.colorized"]
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".json")) == \
        sorted(p.name for p in outputs)  # one output per episode, nothing else
    assert len(list(iter_frames(outputs[0]))) == len(list(iter_frames(outputs[1]))) == 8
    assert sorted(p.name for p in outputs[2].iterdir()) == ["000.png", "001.png", "002.png",
                                                            "003.png"]
    season = _season(out)
    assert (season["done"], season["skipped"], season["failed"], season["frames"]) == \
        (3, 0, 0, 20)
    assert [e["frames"] for e in season["episodes"]] == [8, 8, 4]
    assert all(e["status"] == "done" and e["seconds"] > 0 and e["device"] == "cpu"
               for e in season["episodes"])
    assert season["seconds"] == pytest.approx(sum(e["seconds"] for e in season["episodes"]),
                                              abs=2e-3)
    before = {p: _digest(p) for p in outputs}
    for p in outputs:
        assert batch.record_path(p).is_file()

    # the same command again renders nothing and changes no byte
    result = _render(a, b, frames, "-o", out, "-m", model)
    assert result.exit_code == 0, result.output
    season = _season(out)
    assert (season["done"], season["skipped"], season["frames"]) == (0, 3, 0)
    assert [e["frames"] for e in season["episodes"]] == [8, 8, 4]  # carried by the records
    assert {p: _digest(p) for p in outputs} == before
    assert "0 done, 3 skipped, 0 failed" in result.output

    # another option renders again; its record says so
    keys = [json.loads(batch.record_path(p).read_text())["key"] for p in outputs]
    result = _render(a, b, frames, "-o", out, "-m", model, "--decode", "mode", "--refine",
                     "none")
    assert result.exit_code == 0, result.output
    assert _season(out)["done"] == 3
    assert all(json.loads(batch.record_path(p).read_text())["key"] != key
               for p, key in zip(outputs, keys, strict=True))
    assert any(_digest(p) != before[p] for p in outputs)


def test_failed_episodes_are_reported_and_the_rest_go_on(tmp_path: Path, model: Path) -> None:
    season = tmp_path / "season"
    season.mkdir()
    _clip(season / "ep01_bw.mp4")
    (season / "ep02_bw.mkv").write_bytes(b"not a video" * 50)
    _clip(season / "ep03_bw.mkv", shift=2)
    good = _clip(tmp_path / "whole.mkv").read_bytes()
    (season / "ep04_bw.mkv").write_bytes(good[:200])  # cut off inside its header
    out = tmp_path / "out"
    result = _render(season, "-o", out, "-m", model)
    assert result.exit_code == 1
    assert "2 done, 0 skipped, 2 failed" in result.output
    assert "not a readable video" in result.output
    report = _season(out)
    assert [(Path(e["input"]).name, e["status"]) for e in report["episodes"]] == [
        ("ep01_bw.mp4", "done"), ("ep02_bw.mkv", "failed"), ("ep03_bw.mkv", "done"),
        ("ep04_bw.mkv", "failed")]
    assert (report["done"], report["failed"], report["frames"]) == (2, 2, 16)
    for entry in report["episodes"][1::2]:
        assert Path(entry["input"]).name in entry["message"]
        assert not Path(entry["output"]).exists()
    assert (out / "ep01_bw.colorized.mp4").is_file() and (out / "ep03_bw.colorized.mkv").is_file()

    stop = tmp_path / "stop"
    result = _render(season, "-o", stop, "-m", model, "--stop-on-error")
    assert result.exit_code == 1
    assert "stopped at the first failure" in result.output and "2 episode(s) not" in result.output
    assert [e["status"] for e in _season(stop)["episodes"]] == ["done", "failed"]
    assert not (stop / "ep03_bw.colorized.mkv").exists()


def test_two_cpu_workers_give_the_frames_of_one_process(tmp_path: Path, model: Path) -> None:
    """Two worker processes standing in for two GPUs. The episodes are image folders: PNGs
    compare exactly (libx264 with its automatic threads does not always encode identical
    frames identically, so decoded videos would not).

    Exact equality is what the code guarantees here, not luck: each folder is one network
    batch (3-5 frames, batch size 8) in either process, so the network runs the same
    primitive on the same input; a CPU device worker sets the parent's torch thread count
    (``batch._device_worker``); and oneDNN/MKL are run-to-run deterministic for a fixed
    primitive, thread count and machine. The stages after it are the same per-pixel code on
    the same bytes, and PNG is lossless."""
    inputs = [_image_folder(tmp_path / name, count) for name, count in
              (("ep01", 5), ("ep02", 3), ("ep03", 4))] + [_clip(tmp_path / "ep04.mkv")]
    options = RenderOptions(size=SIZE, workers=0)
    single = batch.render_batch(batch.plan(inputs, tmp_path / "one"), [model], options)
    several = batch.render_batch(batch.plan(inputs, tmp_path / "two"), [model], options,
                                 devices=["cpu", "cpu"])
    assert [r.status for r in single] == [r.status for r in several] == ["done"] * 4
    assert [r.frames for r in several] == [5, 3, 4, 8]
    assert {r.device for r in several} == {"cpu"}
    assert [Path(r.output).parent.name for r in several] == ["two"] * 4
    for one, two in zip(single[:3], several[:3], strict=True):
        names = sorted(p.name for p in Path(one.output).iterdir())
        assert names == sorted(p.name for p in Path(two.output).iterdir()) and names
        for name in names:
            np.testing.assert_array_equal(cv2.imread(str(Path(one.output) / name)),
                                          cv2.imread(str(Path(two.output) / name)))
    assert len(list(iter_frames(several[3].output))) == 8


def test_cpu_is_the_default_and_devices_all_needs_cuda(tmp_path: Path, model: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    a, b = _clip(tmp_path / "a.mkv"), _clip(tmp_path / "b.mkv", shift=1)
    result = _render(a, b, "-o", tmp_path / "out", "-m", model, "--devices", "all")
    assert result.exit_code == 2
    assert "--devices all: no CUDA device is visible" in result.output
    assert not (tmp_path / "out").exists()
    for bad in ("cuda:0,cuda:1", "cpu,gpu", ","):
        with pytest.raises(OptionError, match="--devices"):
            batch.parse_devices(bad)
    # a CPU device worker keeps the options of the single-process path (so its torch threads);
    # GPU workers share the cores for their per-frame workers
    defaults = RenderOptions(size=SIZE)
    assert batch._device_options(defaults, "cpu", 2) == replace(defaults, device="cpu")
    assert batch._device_options(defaults, "cuda:1", 2).workers == \
        max(0, (os.cpu_count() or 2) // 2 - 1)
    assert batch._device_options(replace(defaults, workers=3), "cuda:0", 2).workers == 3

    def no_workers(*args: object, **kwargs: object) -> None:
        raise AssertionError("without --devices everything runs in this process")

    monkeypatch.setattr(batch, "_render_on_devices", no_workers)
    result = _render(a, b, "-o", tmp_path / "out", "-m", model)
    assert result.exit_code == 0, result.output
    assert {e["device"] for e in _season(tmp_path / "out")["episodes"]} == {"cpu"}
    result = _render(a, b, "-o", tmp_path / "out", "-m", model, "--device", "cpu",
                     "--devices", "cpu")
    assert result.exit_code == 2 and "not both" in result.output


# --------------------------------------------------------------------------- season report


def test_truth_pairing_rule(tmp_path: Path) -> None:
    truth = tmp_path / "truth"
    truth.mkdir()
    for name in ("ep01.mkv", "ep02_bw.mkv", "ep02.mp4", "ep04.mkv", "ep04.mp4",
                 "ep01_bw.colorized.mkv"):
        (truth / name).write_bytes(b"")
    _image_folder(truth / "ep03", 1)
    assert colour_name("EP05-Grey") == "EP05" and colour_name("_bw") == "_bw"
    assert truth_for("season/ep01_bw.mkv", truth) == truth / "ep01.mkv"
    assert truth_for("season/ep01.mp4", truth) == truth / "ep01.mkv"  # the same name
    assert truth_for("season/ep02_bw.mkv", truth) == truth / "ep02.mp4"  # never the twin
    assert truth_for(truth / "ep02_bw.mkv", truth) == truth / "ep02.mp4"  # nor itself
    assert truth_for("season/ep03_grey", truth) == truth / "ep03"  # a folder of images
    assert truth_for("season/ep09_bw.mkv", truth) is None
    with pytest.raises(InputError, match="several colour originals fit"):
        truth_for("season/ep04_bw.mkv", truth)


def test_season_report_over_shards(tmp_path: Path, model: Path) -> None:
    season, truth, out = tmp_path / "season", tmp_path / "colour", tmp_path / "out"
    season.mkdir()
    truth.mkdir()
    for number, shift in ((1, 0), (2, 3)):
        colour = moving_square_frames(8 + shift)[shift:]
        write_clip(truth / f"ep0{number}.mkv", colour, audio=False)
        write_clip(season / f"ep0{number}_bw.mkv", _grey(colour), audio=False)
    _clip(season / "ep03_bw.mkv", shift=5)  # no colour original
    for shard in ("1/2", "0/2"):  # two tasks of a job array, one output folder
        result = _render(season, "-o", out, "-m", model, "--shard", shard)
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("season*.json")) == ["season-0-of-2.json",
                                                                 "season-1-of-2.json"]

    runner = CliRunner()
    result = runner.invoke(cli, ["-q", "evaluate", "--season", str(out), "--truth", str(truth),
                                 "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    episodes = {e["episode"]: e for e in report["episodes"]}
    assert sorted(episodes) == ["ep01_bw", "ep02_bw", "ep03_bw"]
    for name in ("ep01_bw", "ep02_bw"):
        entry = episodes[name]
        assert entry["truth"] == str(truth / f"{name[:4]}.mkv")
        direct = evaluate_results([out / f"{name}.colorized.mkv"], truth / f"{name[:4]}.mkv")
        result_name = f"{name}.colorized.mkv"
        for key in ("psnr", "ab_rmse", "colourfulness", "warp_error"):
            # the same scorer on the same files, twice: not bit-identical (the αβ error's
            # cv2.magnitude moves by an ulp with its arrays' addresses; conftest.py)
            assert entry["metrics"]["result"][key] == pytest.approx(
                direct["metrics"][result_name][key], rel=SAME_FIGURE_REL)
            assert entry["metrics"]["grey"][key] == pytest.approx(
                direct["metrics"]["grey"][key], rel=SAME_FIGURE_REL)
        assert entry["metrics"]["result"]["psnr"] > entry["metrics"]["grey"]["psnr"] - 20
    assert episodes["ep03_bw"]["metrics"] is None and episodes["ep03_bw"]["frames"] == 8
    assert all(e["fps"] == pytest.approx(e["frames"] / e["seconds"], rel=1e-2)
               for e in report["episodes"])
    totals = report["totals"]
    assert (totals["episodes"], totals["done"], totals["scored"], totals["frames"]) == \
        (3, 3, 2, 24)
    psnrs = [episodes[n]["metrics"]["result"]["psnr"] for n in ("ep01_bw", "ep02_bw")]
    assert totals["metrics"]["result"]["psnr"] == pytest.approx(sum(psnrs) / 2)  # 8 frames each

    report_dir = tmp_path / "report"
    result = runner.invoke(cli, ["-q", "evaluate", "--season", str(out), "--truth", str(truth),
                                 "-o", str(report_dir)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:5] == ["episode", "status", "frames", "seconds", "fps"]
    assert any(line.startswith("ep03_bw ") and line.split()[1:3] == ["done", "8"]
               for line in lines)
    assert "ep03_bw: no colour original in" in result.output
    assert any(line.startswith("season (3)") for line in lines)
    written = json.loads((report_dir / "report.json").read_text())["totals"]
    assert {k: v for k, v in written.items() if k != "metrics"} == \
        {k: v for k, v in totals.items() if k != "metrics"}
    assert written["metrics"]["result"]["ab_rmse"] == \
        pytest.approx(totals["metrics"]["result"]["ab_rmse"], rel=1e-6)
    assert (report_dir / "season.txt").read_text().startswith("episode")
    assert (report_dir / "ep01_bw" / "index.html").is_file()
    assert 'href="ep02_bw/index.html"' in (report_dir / "index.html").read_text()

    # without a truth folder: the render columns only; a damaged pairing fails that episode
    plain = evaluate_season(out)
    assert [e["metrics"] for e in plain["episodes"]] == [None] * 3
    (truth / "ep03.mkv").write_bytes(b"not a video")
    result = runner.invoke(cli, ["-q", "evaluate", "--season", str(out), "--truth", str(truth)])
    assert result.exit_code == 1 and "ep03_bw: not scored:" in result.output
    result = runner.invoke(cli, ["-q", "evaluate", "--season", str(tmp_path), "--truth",
                                 str(truth)])
    assert result.exit_code == 1 and "no season.json" in result.output


def test_an_episode_never_overwrites_another_input(tmp_path: Path) -> None:
    """`render a.mkv a.colorized.mkv`: the first episode's output is the second's input."""
    from vidcolor.errors import OutputError
    from vidcolor.inference.batch import plan

    first = tmp_path / "a.mkv"
    first.write_bytes(b"x")
    second = tmp_path / "a.colorized.mkv"
    second.write_bytes(b"y")
    with pytest.raises(OutputError, match="overwrite .*a.colorized.mkv, an input"):
        plan([first, second], None)
    assert second.read_bytes() == b"y"
