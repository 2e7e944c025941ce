"""Real-footage reliability of ``vidcolor render`` (issue 11, the render side).

No output may replace an input of the command; a SIGKILLed render resumes exactly and leaves
nothing behind; stale staging folders of other options are removed; two renders of one output
do not interleave; a damaged image is one error line, with nothing printed by the C decoders.

The kill and lock tests run ``python -m vidcolor`` in processes of their own (the worktree's
code, through PYTHONPATH). Their clip runs at 2 frames/s, so the default segment rule
(:data:`vidcolor.inference.sinks.SEGMENT_SECONDS` of frames, closed at the next cut) closes a
segment every 20 frames: hard cuts every 10 frames, 120 frames, six segments.

Every render here runs the network in batches of :data:`BATCH` frames. A resumed render
starts at a segment end, a multiple of 20, so its batches are the very batches of the
uninterrupted render: the same primitive on the same bytes, which oneDNN computes alike from
run to run on one machine with one thread count (both renders are subprocesses of this one,
with its environment). A frame in another batch has no such promise (the default batch of 8
would split the frames 16-23 one way and 20-27 the other). So the encoder gets the same frames;
the decoded videos are still compared within a tolerance, since x264 does not always encode
identical frames identically (``conftest.assert_same_video_frames``; test_render checks the
frames handed to the encoder exactly, in-process).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import assert_same_video_frames, save_model, write_clip

from vidcolor._cli.main import cli
from vidcolor.errors import InputError
from vidcolor.inference.sources import read_image
from vidcolor.video.decode import iter_frames
from vidcolor.video.probe import probe

ROOT = Path(__file__).resolve().parents[1]
FPS = 2
FRAMES = 120
SIZE = 32  # network input size: tiny and fast
BATCH = 10  # frames per network batch: divides every resume point (see the module docstring)


def _frames(count: int = FRAMES, every: int = 10, width: int = 96, height: int = 72
            ) -> list[np.ndarray]:
    """A grey cartoon (flat areas, outlined disc moving across), inverted every ``every``
    frames: a hard cut the shot detector sees."""
    frames = []
    for index in range(count):
        grey = np.full((height, width), 200, np.uint8)
        grey[:, : width // 3] = 120
        x = 10 + (3 * index) % (width - 20)
        cv2.circle(grey, (x, height // 2), 9, 60, -1)
        cv2.circle(grey, (x, height // 2), 9, 0, 1)
        if (index // every) % 2:
            grey = 255 - grey
        frames.append(np.repeat(grey[..., None], 3, axis=2))
    return frames


def _command(clip: Path, run: Path, output: Path, *extra: str, quiet: bool = True
             ) -> list[str]:
    """``vidcolor render`` of ``clip`` (``quiet``: errors only; else the log says what it
    does, e.g. that it continues an interrupted render)."""
    return [sys.executable, "-m", "vidcolor", *(["-q"] if quiet else []), "render", str(clip),
            "-m", str(run), "-o", str(output), "--workers", "0", "--size", str(SIZE),
            "--batch-size", str(BATCH), *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _vidcolor(*args: str, cwd: Path | None = None, timeout: float = 120
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vidcolor", *args], cwd=cwd or ROOT,
                          env=_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny untrained model, the 120-frame clip with audio, and its uninterrupted render."""
    root = tmp_path_factory.mktemp("media")
    run = save_model(root / "runs" / "plain", "plain")
    clip = write_clip(root / "clip.mkv", _frames(), fps=FPS, audio=True)
    reference = root / "reference.mkv"
    done = subprocess.run(_command(clip, run, reference), cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return {"root": root, "run": run, "clip": clip, "reference": reference}


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error: "), stderr
    return lines[0]


def _assert_same_video(result: Path, reference: Path) -> None:
    """Same frames (the same network batches, see the module docstring; decoded, within
    x264's own variation), same timestamps, and the same audio."""
    got, want = list(iter_frames(result)), list(iter_frames(reference))
    assert [f.pts for f in got] == [f.pts for f in want]
    assert len(got) == FRAMES
    assert_same_video_frames([f.rgb for f in got], [f.rgb for f in want])
    assert probe(result).has_audio
    assert _audio_samples(result) == _audio_samples(reference) > 0


def _audio_samples(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(frame.samples for frame in container.decode(container.streams.audio[0]))


# ------------------------------------------------------------------ outputs never replace inputs

@pytest.fixture
def small(tmp_path: Path, media: dict[str, Path]) -> dict[str, Path]:
    """A short clip, its truth, and a copy of the model, in a folder of their own."""
    clip = write_clip(tmp_path / "bw.mkv", _frames(6), fps=24, audio=False)
    truth = write_clip(tmp_path / "truth.mkv", _frames(6)[::-1], fps=24, audio=False)
    run = tmp_path / "runs" / "x"
    shutil.copytree(media["run"], run)
    return {"clip": clip, "truth": truth, "run": run}


@pytest.mark.parametrize("target", ["truth", "input", "tensors", "descriptor", "hard link",
                                    "dotted path"])
def test_output_never_replaces_an_input(small: dict[str, Path], target: str) -> None:
    clip, truth, run = small["clip"], small["truth"], small["run"]
    model = ["-m", str(run)]
    if target == "truth":
        output = truth
    elif target == "input":
        output = clip
    elif target == "tensors":
        output = run / "epoch-0001.safetensors"
    elif target == "descriptor":  # the model given as its descriptor file
        output = run / "epoch-0001.json"
        model = ["-m", str(output)]
    elif target == "hard link":  # another name of the input
        output = clip.with_name("linked.mkv")
        os.link(clip, output)
    else:
        output = clip.parent / "runs" / ".." / clip.name
    protected = [clip, truth, *sorted(run.iterdir())]
    before = {path: path.read_bytes() for path in protected}
    listing = sorted(p.relative_to(clip.parent) for p in clip.parent.rglob("*"))
    result = CliRunner().invoke(cli, ["render", str(clip), *model, "--truth", str(truth),
                                      "-o", str(output), "--size", str(SIZE), "--workers", "0",
                                      "--no-palette", "--no-neutral", "--no-credits"])
    assert result.exit_code == 1, result.output
    line = _one_error_line(result.stderr)
    assert "would overwrite" in line and "an input of this command" in line, line
    assert result.stdout == ""
    assert {path: path.read_bytes() for path in protected} == before
    assert sorted(p.relative_to(clip.parent) for p in clip.parent.rglob("*")) == listing


def test_image_and_folder_outputs_never_replace_inputs(tmp_path: Path,
                                                       media: dict[str, Path]) -> None:
    """Also where a video's output is the default name inside an output folder (``-o
    FOLDER``) that happens to be the truth, and where a folder's output folder is its truth."""
    frames = tmp_path / "frames"
    truth = tmp_path / "out" / "frames.colorized"
    for folder in (frames, truth):
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / "a.png"), _frames(1)[0])
    image = frames / "a.png"
    video = write_clip(tmp_path / "bw.mkv", _frames(4), fps=24, audio=False)
    video_truth = write_clip(tmp_path / "out" / "bw.colorized.mkv", _frames(4), fps=24,
                             audio=False)
    cases = [[str(image), "-o", str(image)],
             [str(image), "--truth", str(truth / "a.png"), "-o", str(truth / "a.png")],
             [str(frames), "--truth", str(truth), "-o", str(truth)],
             [str(video), "--truth", str(video_truth), "-o", str(tmp_path / "out")]]
    inputs = [*tmp_path.rglob("*.png"), video, video_truth]
    before = {path: path.read_bytes() for path in inputs}
    listing = sorted(tmp_path.rglob("*"))
    for args in cases:
        result = CliRunner().invoke(cli, ["-q", "render", *args, "-m", str(media["run"]),
                                          "--size", str(SIZE), "--workers", "0"])
        assert result.exit_code == 1, (args, result.output)
        assert "would overwrite" in _one_error_line(result.stderr)
    assert {path: path.read_bytes() for path in inputs} == before
    assert sorted(tmp_path.rglob("*")) == listing


@pytest.mark.parametrize("command", ["render", "evaluate"])
def test_bad_option_values_are_usage_errors(tmp_path: Path, media: dict[str, Path],
                                            command: str) -> None:
    """Exit 2 with click's usage message naming the option, before any model is loaded or
    anything is written."""
    clip = write_clip(tmp_path / "bw.mkv", _frames(4), fps=24, audio=False)
    bad = [["--decode", "bogus"], ["--decode", "annealed:0"], ["--decode", "annealed:nan"],
           ["--size", "0"], ["--size", "30"], ["--size", "abc"], ["--device", "gpu"],
           ["--device", "cuda:x"], ["--batch-size", "0"], ["--workers", "-1"],
           ["--working-scale", "0"], ["--working-scale", "2"], ["--fz-scale", "0"],
           ["--fz-min-size", "0"], ["--ensemble", "median"], ["--debias", "1.5"],
           ["--debias", "-0.1"], ["--debias", "nan"]]
    if command == "render":
        bad += [["--shard", "2/2"], ["--shard", "x"], ["--devices", "cuda:x"], ["--chroma", "422"],
                ["--crf", "52"]]
        base = ["render", str(clip), "-m", str(media["run"]), "-o", str(tmp_path / "o.mkv")]
    else:
        base = ["evaluate", str(media["run"]), "--dataset", str(tmp_path / "nodataset")]
    for args in bad:
        result = CliRunner().invoke(cli, [*base, *args])
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert lines[0].startswith("Usage: ") and lines[-1].startswith("Error: "), lines
        assert args[0] in lines[-1] or args[1] in lines[-1], (args, lines[-1])
        assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bw.mkv"]


# ------------------------------------------------------------------ killed renders

def _staging(output: Path) -> list[Path]:
    return sorted(output.parent.glob(f".{output.name}.vidcolor-*"))


def _segments(output: Path) -> list[dict]:
    """The finished segments the staging folder records (none while it has no record)."""
    for folder in _staging(output):
        try:
            return json.loads((folder / "segments.json").read_text())["segments"]
        except (OSError, ValueError, KeyError):
            return []
    return []


def _wait_until(condition, process: subprocess.Popen, seconds: float = 90.0) -> bool:
    """Poll ``condition`` until true (True) or the process ends first (False)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)
    return True


#: ``vidcolor`` whose render waits at frame N (argv[2]) until a file (argv[1]) exists: the
#: state it has reached then is certain (the lock held, N // 20 segments recorded).
_HELD_RENDER = """\
import sys, time
from pathlib import Path
from vidcolor.inference import sinks
real = sinks.VideoSink.write
go, frame = Path(sys.argv[1]), int(sys.argv[2])
def held(self, work, rgb):
    deadline = time.monotonic() + 120
    while work.index == frame and not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    real(self, work, rgb)
sinks.VideoSink.write = held
from vidcolor._cli.main import cli
cli(sys.argv[3:], prog_name="vidcolor")
"""


def _held(go: Path, frame: int, command: list[str]) -> subprocess.Popen:
    """``command`` (a ``_command``) run so that it waits at ``frame`` until ``go`` exists."""
    return subprocess.Popen([sys.executable, "-c", _HELD_RENDER, str(go), str(frame),
                             *command[3:]], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_sigkilled_render_resumes_exactly_and_leaves_nothing(tmp_path: Path,
                                                             media: dict[str, Path]) -> None:
    """Three SIGKILLs at seeded random points (the 2nd and 3rd kill resumed runs), then the
    same command to the end: it continues after the finished segments (its log says so), and
    the output has the frames, timestamps and audio of an uninterrupted render; no staging
    folder, partial file or lock file is left."""
    rng = random.Random(11)
    output = tmp_path / "out.mkv"
    command = _command(media["clip"], media["run"], output)
    kills = 0
    for _ in range(3):
        done = len(_segments(output))
        # segments to wait for (0: kill before this run finishes one); at most 4 of the 6, so
        # that the kill lands before the end
        target = min(4, done + rng.choice([0, 1, 1, 2]))
        delay = rng.uniform(0.0, 0.15)
        process = subprocess.Popen(command, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        if _wait_until(lambda: _staging(output) and len(_segments(output)) >= target,  # noqa: B023
                       process):
            time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        _, err = process.communicate(timeout=120)
        if process.returncode == -signal.SIGKILL:
            assert not output.exists()  # the output only ever appears complete
            assert len(_staging(output)) == 1
        else:
            assert process.returncode == 0, err
    assert kills >= 2, "the renders finished before they could be killed"
    resume_at = max([int(seg["end"]) for seg in _segments(output)], default=0)
    assert resume_at >= 20
    finished = subprocess.run(_command(media["clip"], media["run"], output, quiet=False),
                              cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=180)
    assert finished.returncode == 0, finished.stderr
    # the finished segments were not computed again
    assert f"continuing after {resume_at} frames already rendered" in finished.stderr
    _assert_same_video(output, media["reference"])
    # no staging folder, partial file or lock file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv", "out.mkv.vidcolor.json"]


def test_stale_staging_of_other_options_is_removed(tmp_path: Path,
                                                  media: dict[str, Path]) -> None:
    """A killed render with other options (--refine none) left its staging folder, and a render
    killed while joining its segments a partial file: the next render removes both (and keeps
    another output's staging folder). The resume of the same options: the kill test."""
    output = tmp_path / "out.mkv"
    process = _held(tmp_path / "never", 30, _command(media["clip"], media["run"], output,
                                                     "--refine", "none"))
    assert _wait_until(lambda: len(_segments(output)) >= 1, process), process.communicate()
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    stale = _staging(output)
    assert len(stale) == 1 and (stale[0] / "seg-000000.mp4").is_file()
    partial = tmp_path / ".out.k2j4x9.part.mkv"  # what a render killed while joining leaves
    partial.write_bytes(b"half a video")
    other = tmp_path / ".other.mkv.vidcolor-0123456789abcdef"  # another output's: kept
    other.mkdir()
    finished = subprocess.run(_command(media["clip"], media["run"], output, quiet=False),
                              cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=180)
    assert finished.returncode == 0, finished.stderr
    assert "earlier render with other options" in finished.stderr
    assert "partial file left by an interrupted render" in finished.stderr
    assert "continuing after" not in finished.stderr  # nothing of the other render reused
    _assert_same_video(output, media["reference"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".other.mkv.vidcolor-0123456789abcdef", "out.mkv", "out.mkv.vidcolor.json"]


def test_damaged_segment_is_rendered_again_not_joined(tmp_path: Path,
                                                      media: dict[str, Path]) -> None:
    """A staged segment whose bytes changed after it was recorded (a crash before the data
    reached the disk, a full disk, a bad sector): the resume redoes it instead of failing to
    join it on every run."""
    output = tmp_path / "out.mkv"
    process = _held(tmp_path / "never", 70, _command(media["clip"], media["run"], output))
    assert _wait_until(lambda: len(_segments(output)) >= 3, process), process.communicate()
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    segments = _segments(output)
    second = _staging(output)[0] / segments[1]["file"]
    second.write_bytes(bytes(second.stat().st_size))  # same size, zeros
    finished = subprocess.run(_command(media["clip"], media["run"], output, quiet=False),
                              cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=180)
    assert finished.returncode == 0, finished.stderr
    # the intact segments around the damaged one are kept; it and the rest are rendered
    kept = sum(seg["end"] - seg["first"] for n, seg in enumerate(segments) if n != 1)
    assert f"{kept} frames already rendered are kept; rendering the other 2 pieces" \
        in finished.stderr
    _assert_same_video(output, media["reference"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv", "out.mkv.vidcolor.json"]


@pytest.mark.parametrize("record", [
    {"segments": [{"file": 3, "first": 0, "end": 20, "next_shot_start": 20}]},
    {"segments": [{"first": 0, "end": 20}]},
    {"segments": [{"file": "../clip.mkv", "first": 0, "end": 20, "next_shot_start": 20}]},
    {"segments": [{"file": "seg-000000.mp4", "first": "0", "end": 20,
                   "next_shot_start": 20}]},
    {"segments": "seg-000000.mp4"},
    {"segments": [None]},
    [1, 2],
])
def test_malformed_segment_record_starts_over(tmp_path: Path, media: dict[str, Path],
                                              record: object) -> None:
    from vidcolor.inference.sinks import VideoSink
    from vidcolor.inference.sources import open_source

    staging = tmp_path / ".out.mkv.vidcolor-0123456789abcdef"
    staging.mkdir()
    (staging / "seg-000000.mp4").write_bytes(b"x")
    (tmp_path / "clip.mkv").write_bytes(b"x")  # not a segment, though it exists
    (staging / "segments.json").write_text(json.dumps(record))
    sink = VideoSink(tmp_path / "out.mkv", open_source(media["clip"]), staging, 1, True)
    assert (sink.todo, sink.segments) == ([(0, 0, None)], [])


@pytest.mark.parametrize("shots", ['{"2": "x"}', '{"2": [1]}', '{"2": 5}', "[[", '{"2": -1}'])
def test_damaged_shot_record_of_a_folder_warms_up_from_the_start(tmp_path: Path,
                                                                 shots: str) -> None:
    from vidcolor.inference.sinks import FolderSink

    staging = tmp_path / ".out.vidcolor-0123456789abcdef"
    staging.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(staging / name), _frames(1)[0])
    (staging / "shots.json").write_text(shots)
    sink = FolderSink(tmp_path / "out", staging, ["a.png", "b.png", "c.png"], stateless=False)
    assert sink.todo == [(0, 2, None)]  # frames 0-1 warm up, frame 2 on is written


# ------------------------------------------------------------------ two renders, one output



def test_second_render_of_one_output_fails_cleanly(tmp_path: Path,
                                                   media: dict[str, Path]) -> None:
    output = tmp_path / "out.mkv"
    go = tmp_path / "go"
    command = _command(media["clip"], media["run"], output)
    first = _held(go, 10, command)
    try:
        assert _wait_until(lambda: (tmp_path / ".out.mkv.lock").exists() and _staging(output),
                           first), first.communicate()
        second = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True,
                                timeout=120)
        staged = _staging(output)
    finally:
        go.touch()
    out, err = first.communicate(timeout=180)
    assert second.returncode == 1
    line = _one_error_line(second.stderr)
    assert str(output) in line and "is rendering it" in line, line
    assert len(staged) == 1  # the second render touched nothing of the first's
    assert first.returncode == 0, err
    _assert_same_video(output, media["reference"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["go", "out.mkv",
                                                          "out.mkv.vidcolor.json"]


# ------------------------------------------------------------------ damaged images

@pytest.mark.parametrize("ext, keep", [(".png", 0.5), (".png", -4), (".jpg", 0.5)])
def test_damaged_image_in_a_folder_is_one_line_and_no_output(tmp_path: Path,
                                                             media: dict[str, Path],
                                                             ext: str, keep: float) -> None:
    """A good image and a cut-off one (mid-file, or only the end marker's last bytes)."""
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / f"a{ext}"), _frames(1)[0])
    noisy = np.random.default_rng(0).integers(0, 256, (72, 96, 3), dtype=np.uint8)
    cv2.imwrite(str(folder / f"b{ext}"), noisy)
    data = (folder / f"b{ext}").read_bytes()
    cut = int(len(data) * keep) if keep > 0 else len(data) + int(keep)
    (folder / f"b{ext}").write_bytes(data[:cut])
    result = _vidcolor("-q", "render", str(folder), "-m", str(media["run"]), "--size",
                       str(SIZE), "--workers", "0", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    line = _one_error_line(result.stderr)
    assert f"b{ext}" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]  # no output, no staging


def _image_bytes(ext: str) -> bytes:
    noisy = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(ext, noisy)
    assert ok
    return encoded.tobytes()


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".webp", ".bmp"])
def test_read_image_refuses_every_cut_quietly(tmp_path: Path, ext: str,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    """Cut anywhere - in the header, the data or the end marker - the file is refused with an
    InputError naming it, and nothing reaches the process's stderr (capfd sees C output)."""
    data = _image_bytes(ext)
    good = tmp_path / f"good{ext}"
    good.write_bytes(data)
    assert read_image(good)[0].shape == (48, 64, 3)
    cuts = sorted({1, 8, 30, 100, len(data) // 3, len(data) // 2, *range(len(data) - 20,
                                                                         len(data))})
    for cut in cuts:
        path = tmp_path / f"cut{cut}{ext}"
        path.write_bytes(data[:cut])
        with pytest.raises(InputError, match=f"cut{cut}{ext}: ") as caught:
            read_image(path)
        assert "0x" not in str(caught.value)  # no object repr in the message
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


# ------------------------------------------------------------------ damaged videos

def test_truncated_video_is_refused_or_rendered_as_far_as_it_goes(
        tmp_path: Path, media: dict[str, Path]) -> None:
    """A truncated video is refused with one line naming how far it reads; with --skip-errors
    those frames are rendered (render had no such option, though its message advised it)."""
    whole = write_clip(tmp_path / "whole.mkv", _frames(48), fps=12, audio=False)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    whole.unlink()
    result = CliRunner().invoke(cli, ["-q", "render", str(cut), "-m", str(media["run"]),
                                      "-o", str(tmp_path / "out.mkv"), "--size", str(SIZE),
                                      "--workers", "0", "--refine", "none"])
    assert result.exit_code == 1, result.output
    line = _one_error_line(result.stderr)
    assert "cut.mkv: truncated" in line and "pass --skip-errors to render them" in line, line
    readable = int(re.search(r"only its first (\d+) frames are readable", line).group(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mkv"]  # no output, no staging
    result = CliRunner().invoke(cli, ["-q", "render", str(cut), "-m", str(media["run"]),
                                      "-o", str(tmp_path / "out.mkv"), "--size", str(SIZE),
                                      "--workers", "0", "--refine", "none", "--skip-errors"])
    assert result.exit_code == 0, result.output
    assert len(list(iter_frames(tmp_path / "out.mkv"))) == readable
