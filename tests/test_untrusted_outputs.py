"""Outputs under hostile conditions (issue 18): a full disk, outputs changed since their render,
records and season files edited by hand, output paths that cannot work, options no machine can
run. Each must end in one line (or a usage error) with nothing already written lost.

Tiny inputs (64×48, 8 frames), one tiny untrained model, ``--size 32``, ``--workers 0``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import file_size_limit, moving_square_frames, save_tiny_run, write_clip

from vidcolor._cli.main import cli
from vidcolor.errors import InputError, OptionError, OutputError
from vidcolor.evaluation.results import evaluate_results
from vidcolor.evaluation.runs import grey_input
from vidcolor.evaluation.season import evaluate_season
from vidcolor.inference import batch, options, sinks
from vidcolor.inference.colorizer import Colorizer, load_models
from vidcolor.report.writer import write_files_atomic
from vidcolor.video.decode import iter_frames

FAST = ["--refine", "none", "--no-temporal", "--size", "32", "--workers", "0"]


@pytest.fixture(autouse=True, scope="module")
def _opencv_single_thread() -> Iterator[None]:
    """OpenCV single-threaded (see tests/test_report.py: a later fork must not deadlock)."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(threads)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_run(tmp_path_factory.mktemp("runs") / "plain")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A grey 12 fps clip, its colour truth at 12 and at 25 fps, one image, a folder of four."""
    root = tmp_path_factory.mktemp("inputs")
    colour = moving_square_frames(8)
    grey = [grey_input(frame) for frame in colour]
    folder = root / "frames"
    folder.mkdir()
    for index, frame in enumerate(grey[:4]):
        cv2.imwrite(str(folder / f"{index:03d}.png"), frame)
    cv2.imwrite(str(root / "one.png"), grey[0])
    return {"video": write_clip(root / "bw.mkv", grey, fps=12, audio=False),
            "truth": write_clip(root / "colour.mkv", colour, fps=12, audio=False),
            "truth25": write_clip(root / "colour25.mkv", colour, fps=25, audio=False),
            "image": root / "one.png", "folder": folder}




def _run(*args: object) -> Result:
    return CliRunner().invoke(cli, ["-q", *map(str, args)])


def _render(source: Path, output: Path, model: Path, *extra: object) -> Result:
    return _run("render", source, "-o", output, "-m", model, *FAST, *extra)


def _one_line(result: Result, code: int, *words: str) -> str:
    """The command failed with ``code`` and one ``vidcolor: error:`` line holding ``words``."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception,
                                                                      SystemExit)
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    if code == 2 and not lines[-1].startswith("vidcolor: error:"):
        line = lines[-1]  # click's usage error: "Error: ..."
    else:
        assert len(lines) == 1, lines
        line = lines[0]
        assert line.startswith("vidcolor: error: "), line
    for word in words:
        assert word in line, (word, line)
    return line


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and folder (None) under ``folder``, hidden ones included."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*"))}


def _frames(path: Path) -> int:
    return sum(1 for _ in iter_frames(path))


# --------------------------------------------------------------------------- a full disk


def test_an_image_cut_short_by_the_storage_is_never_published(tmp_path: Path) -> None:
    """cv2.imwrite reports success when its last buffered write fails at close (a full disk):
    a truncated PNG appeared under the final name. The image is now encoded in memory first."""
    noise = np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8)
    size = len(cv2.imencode(".png", cv2.cvtColor(noise, cv2.COLOR_RGB2BGR))[1])
    limit = size // 4096 * 4096  # the last, partial stdio buffer is what fails
    assert 0 < limit < size
    target = tmp_path / "frame.png"
    with file_size_limit(limit), pytest.raises(OutputError, match="frame.png: cannot write"):
        sinks._write_image(target, noise, None)
    assert list(tmp_path.iterdir()) == []
    sinks._write_image(target, noise, None)
    assert cv2.imread(str(target)).shape == (48, 64, 3)


@pytest.mark.parametrize("kind", ["image", "folder", "video"])
def test_a_render_onto_a_full_disk_is_one_line_then_resumes(tmp_path: Path, model: Path,
                                                           inputs: dict[str, Path],
                                                           kind: str) -> None:
    output = tmp_path / {"image": "out.png", "folder": "out", "video": "out.mkv"}[kind]
    with file_size_limit(1500):
        result = _render(inputs[kind], output, model)
    _one_line(result, 1, "cannot write")
    assert not output.exists() and not batch.record_path(output).exists()
    for path in tmp_path.rglob("*"):  # staging kept for a resume: only complete files
        assert path.is_dir() or (path.stat().st_size > 0 and ".part" not in path.name), path
    result = _render(inputs[kind], output, model)
    assert result.exit_code == 0, result.output
    if kind == "folder":
        assert sorted(p.name for p in output.iterdir()) == sorted(
            p.name for p in inputs["folder"].iterdir())
        assert all(cv2.imread(str(p)) is not None for p in output.iterdir())
    elif kind == "video":
        assert _frames(output) == 8
    else:
        assert cv2.imread(str(output)).shape == (48, 64, 3)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(("kind", "taken"), [("folder", "000.png"), ("video", "segments.json")])
def test_a_damaged_staging_folder_is_cleaned_not_fatal(tmp_path: Path, model: Path,
                                                       inputs: dict[str, Path], kind: str,
                                                       taken: str) -> None:
    output = tmp_path / ("out" if kind == "folder" else "out.mkv")
    with file_size_limit(1500):
        _one_line(_render(inputs[kind], output, model), 1, "cannot write")
    (staging,) = [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    (staging / taken / "inside").mkdir(parents=True)  # a folder where a file goes
    (staging / f".{taken}.x.part.png").write_bytes(b"half")
    result = _render(inputs[kind], output, model)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [output.name, batch.record_path(output).name])
    if kind == "video":
        assert _frames(output) == 8
    else:
        assert len(list(output.iterdir())) == 4


def test_a_report_on_a_full_disk_keeps_the_previous_report(tmp_path: Path,
                                                           inputs: dict[str, Path]) -> None:
    sizes = tmp_path / "sizes"  # the second report's file sizes
    evaluate_results([inputs["truth"]], inputs["truth"], report_dir=sizes)
    limit = (sizes / "per_frame.png").stat().st_size - 1
    assert (sizes / "error_curves.png").stat().st_size < limit  # written before it: fits
    report = tmp_path / "report"
    evaluate_results([inputs["video"]], inputs["truth"], report_dir=report)
    before = _tree(report)
    assert {"index.html", "report.json", "sheet.png", "error_curves.png"} <= set(before)
    with file_size_limit(limit), pytest.raises(OutputError, match="per_frame.png: cannot"):
        evaluate_results([inputs["truth"]], inputs["truth"], report_dir=report)
    assert _tree(report) == before  # all or nothing: the earlier report is whole


def test_report_files_are_written_all_or_none(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_bytes(b"old b")
    with file_size_limit(3000), pytest.raises(OutputError, match="c.html: cannot write"):
        write_files_atomic(tmp_path, [("a.png", b"a" * 100), ("b.json", b"b" * 100),
                                      ("c.html", b"c" * 5000)])
    assert _tree(tmp_path) == {"b.json": b"old b"}
    (tmp_path / "c.html").mkdir()
    with pytest.raises(OutputError, match="c.html: exists and cannot be replaced"):
        write_files_atomic(tmp_path, [("a.png", b"a"), ("c.html", b"c")])
    assert not (tmp_path / "a.png").exists()


# --------------------------------------------------------------------------- up to date?


@pytest.mark.parametrize("kind", ["video", "folder"])
def test_an_output_changed_since_its_render_is_rendered_again(tmp_path: Path, model: Path,
                                                              inputs: dict[str, Path],
                                                              kind: str) -> None:
    output = tmp_path / ("out.mkv" if kind == "video" else "out")
    assert _render(inputs[kind], output, model).exit_code == 0
    result = _render(inputs[kind], output, model)
    assert result.output.startswith("up to date")
    victim = output if kind == "video" else output / "001.png"
    whole = victim.read_bytes()
    victim.write_bytes(whole[: len(whole) // 2])  # cut short after the render
    result = _render(inputs[kind], output, model)
    assert result.exit_code == 0 and result.output.startswith("wrote"), result.output
    assert victim.read_bytes() == whole if kind == "folder" else _frames(output) == 8


@pytest.mark.parametrize("damage", [
    {"frames": "eight"}, {"seconds": float("nan")}, {"frames": -1}, {"seconds": [1]},
    {"frames": True}, {"output": None}, {"output": {"bytes": "x"}}])
def test_a_hand_edited_record_means_rendering_again(tmp_path: Path, model: Path,
                                                   inputs: dict[str, Path], damage: dict
                                                   ) -> None:
    output = tmp_path / "out.mkv"
    assert _render(inputs["video"], output, model).exit_code == 0
    record = batch.record_path(output)
    data = json.loads(record.read_text())
    assert data["output"]["bytes"] == output.stat().st_size
    record.write_text(json.dumps({**data, **damage}))
    assert batch.finished_record(output, data["key"]) is None
    result = _render(inputs["video"], output, model)
    assert result.exit_code == 0 and result.output.startswith("wrote"), result.output
    assert batch.finished_record(output, data["key"])["frames"] == 8


def test_a_record_that_is_not_an_object_or_a_folder(tmp_path: Path, model: Path,
                                                   inputs: dict[str, Path]) -> None:
    output = tmp_path / "out.mkv"
    batch.record_path(output).write_text("[1, 2]")
    assert _render(inputs["video"], output, model).exit_code == 0
    other = tmp_path / "other.mkv"
    batch.record_path(other).mkdir()
    _one_line(_render(inputs["video"], other, model), 1, "other.mkv.vidcolor.json",
              "is a folder")
    assert not other.exists()


# --------------------------------------------------------------------------- output paths


def test_outputs_that_cannot_be_replaced_are_refused_before_any_work(
        tmp_path: Path, model: Path, inputs: dict[str, Path]) -> None:
    folder = tmp_path / "out"
    (folder / "001.png").mkdir(parents=True)  # an image's name taken by a folder
    (folder / "001.png" / "keep").write_bytes(b"x")
    _one_line(_render(inputs["folder"], folder, model), 1, "001.png", "is a folder")
    assert _tree(folder) == {"001.png": None, "001.png/keep": b"x"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging, no record


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_a_read_only_earlier_output_is_refused(tmp_path: Path, model: Path,
                                              inputs: dict[str, Path]) -> None:
    output = tmp_path / "out.png"
    output.write_bytes(b"precious")
    output.chmod(0o444)
    _one_line(_render(inputs["image"], output, model), 1, "out.png", "read-only")
    assert output.read_bytes() == b"precious"


def test_output_folders_that_are_files_are_refused_before_any_work(
        tmp_path: Path, model: Path, inputs: dict[str, Path]) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"keep")
    two = [inputs["video"], inputs["folder"]]
    _one_line(_run("render", *two, "-o", blocker, "-m", model, *FAST), 1, "file",
              "not a folder")
    _one_line(_run("render", *two, "-o", blocker / "sub", "-m", model, *FAST), 1,
              "file/sub", "not a folder")
    season = tmp_path / "season"
    (season / "season.json").mkdir(parents=True)
    _one_line(_run("render", *two, "-o", season, "-m", model, *FAST), 1, "season.json",
              "is a folder")
    assert [p.name for p in season.iterdir()] == ["season.json"]
    for report in (blocker, blocker / "report"):
        _one_line(_run("evaluate", inputs["video"], "--truth", inputs["truth"], "-o", report),
                  1, str(report), "not a folder")
    assert blocker.read_bytes() == b"keep"


def test_names_and_paths_too_long(tmp_path: Path, model: Path, inputs: dict[str, Path]
                                  ) -> None:
    long_input = tmp_path / f"{'a' * 247}.mkv"  # fits; its default output would not
    long_input.write_bytes(inputs["video"].read_bytes())
    _one_line(_run("render", long_input, "-m", model, *FAST), 1, ".colorized.mkv",
              "the name is 261 bytes", "at most 228")
    assert sorted(tmp_path.iterdir()) == [long_input]
    assert _render(long_input, tmp_path / "short.mkv", model).exit_code == 0
    deep = tmp_path.joinpath(*["d" * 200] * 21)  # over PATH_MAX (4096), never made
    _one_line(_render(inputs["video"], deep / "out.mkv", model), 1, "the path is",
              "bytes, more than the system's")
    _one_line(_render(deep / ".." / "bw.mkv", tmp_path / "x.mkv", model), 1, "the path is")
    _one_line(_run("evaluate", inputs["video"], "--truth", inputs["truth"], "-o",
                   deep / "report"), 1, "the path is")


# --------------------------------------------------------------------------- evaluate


def test_evaluate_refuses_results_at_another_frame_rate(inputs: dict[str, Path]) -> None:
    with pytest.raises(InputError, match=r"bw.mkv: 12 fps, but the truth .*colour25.mkv is "
                                         r"25 fps"):
        evaluate_results([inputs["video"]], inputs["truth25"])
    _one_line(_run("evaluate", inputs["video"], "--truth", inputs["truth25"], "--align"), 1,
              "12 fps", "25 fps")
    assert evaluate_results([inputs["video"]], inputs["truth"])["frames"] == 8


def test_a_review_refuses_a_truth_at_another_frame_rate(tmp_path: Path, model: Path,
                                                        inputs: dict[str, Path]) -> None:
    _one_line(_render(inputs["video"], tmp_path / "out.mkv", model, "--truth",
                      inputs["truth25"]), 1, "12 fps", "25 fps")
    assert list(tmp_path.iterdir()) == []


def _season_file(folder: Path, **entry: object) -> None:
    base = {"input": "/elsewhere/bw.mkv", "output": "bw.colorized.mkv", "status": "done",
            "frames": 8, "seconds": 1.5, "device": "cpu", "message": ""}
    folder.mkdir(exist_ok=True)
    (folder / "season.json").write_text(json.dumps({"episodes": [{**base, **entry}]}))


@pytest.mark.parametrize(("entry", "field"), [
    ({"frames": "8"}, "frames"), ({"seconds": float("nan")}, "seconds"),
    ({"frames": 1e300}, "frames"), ({"status": "great"}, "status"), ({"input": 3}, "input"),
    ({"output": ".."}, "output"), ({"input": "a\0b"}, "input"), ({"device": None}, "device")])
def test_a_hand_edited_season_file_is_one_line(tmp_path: Path, entry: dict, field: str
                                               ) -> None:
    _season_file(tmp_path / "out", **entry)
    with pytest.raises(InputError, match=f"season.json: episode 1: {field}"):
        evaluate_season(tmp_path / "out")
    _one_line(_run("evaluate", "--season", tmp_path / "out"), 1, "season.json", field)


def test_names_in_a_season_file_stay_inside_their_folders(tmp_path: Path,
                                                          inputs: dict[str, Path]) -> None:
    season, truth, report = tmp_path / "out", tmp_path / "truth", tmp_path / "report"
    truth.mkdir()
    (truth / "ep.mkv").write_bytes(inputs["truth"].read_bytes())
    victim = tmp_path / "victim.mkv"  # named by an edited output: never read
    victim.write_bytes(inputs["video"].read_bytes())
    _season_file(season, input="x/ep_bw.mkv", output="../victim.mkv")
    (row,) = evaluate_season(season, truth)["episodes"]
    assert row["output"] == str(season / "victim.mkv") and "victim.mkv" in row["error"]
    # an episode named as a file of the season report gets a folder of its own
    (truth / "index.html.mkv").write_bytes(inputs["truth"].read_bytes())
    _season_file(season, input="x/index.html", output="ep.mkv")
    (season / "ep.mkv").write_bytes(inputs["video"].read_bytes())
    (row,) = evaluate_season(season, truth, report_dir=report)["episodes"]
    assert row["metrics"] and row["report"] == "episode-001"
    assert (report / "index.html").is_file() and (report / "episode-001" / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "report", "truth",
                                                          "victim.mkv"]


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(("flags", "named"), [
    (["--size", "1048576"], "--size 1048576"),
    (["--batch-size", str(2**70)], f"--batch-size {2**70}"),
    (["--workers", "10000"], "--workers 10000"),
    (["--size", "4096", "--batch-size", "1"], "--size 4096 is more than 4 times"),
    (["--refine", "felzenszwalb", "--fz-min-size", str(2**70)], "min_size"),
    (["--refine", "felzenszwalb", "--fz-scale", "inf"], "scale"),
    (["--shard", f"1/{2**70}"], "--shard"),
    (["--devices", ",".join(["cpu"] * 100_000)], "--devices lists 100000 devices")])
def test_options_no_machine_can_run_are_usage_errors(tmp_path: Path, model: Path,
                                                     inputs: dict[str, Path], flags: list,
                                                     named: str) -> None:
    result = _run("render", inputs["video"], "-o", tmp_path / "out.mkv", "-m", model,
                  "--no-temporal", *flags)
    _one_line(result, 2, named)
    assert list(tmp_path.iterdir()) == []


def test_the_memory_estimate_names_the_options(model: Path, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    import torch

    colorizer = Colorizer(load_models([model], torch.device("cpu")), size=32)
    options.check_memory(colorizer, options.RenderOptions(), workers=1)  # the defaults fit
    monkeypatch.setattr(options, "machine_memory", lambda: 64 << 20)  # a 64 MiB machine
    options.check_memory(colorizer, options.RenderOptions(size=32, batch_size=1), workers=0)
    with pytest.raises(OptionError, match=r"--size 512 with --batch-size 8 and --workers 0 "
                                          r"needs about .* GiB of memory; this machine has "
                                          r"0.0625 GiB"):
        options.check_memory(colorizer, options.RenderOptions(size=512), workers=0)
    with pytest.raises(OptionError, match="--workers 2"):
        options.check_memory(colorizer, options.RenderOptions(size=32, batch_size=1), workers=2)


def test_a_default_size_is_kept_for_tiny_inputs(tmp_path: Path, model: Path) -> None:
    tiny = write_clip(tmp_path / "tiny.mkv", [np.full((6, 8, 3), v, np.uint8) for v in
                                              (50, 90, 130)], fps=Fraction(12), audio=False)
    result = _run("render", tiny, "-o", tmp_path / "out.mkv", "-m", model, "--refine", "none",
                  "--no-temporal", "--workers", "0")  # --size 224 on 8x6 pixels
    assert result.exit_code == 0, result.output
    assert _frames(tmp_path / "out.mkv") == 3
