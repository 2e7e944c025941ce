"""Tests of ``vidcolor render --review``: the output and its review video from one pass.

The model is an untrained tiny network saved with the training stage's checkpoint writer; the
clips are made on the fly (:func:`conftest.write_clip`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import assert_same_video_frames, cartoon_frames, save_tiny_run, write_clip

from vidcolor._cli.main import cli
from vidcolor.errors import OptionError
from vidcolor.inference.options import RenderOptions
from vidcolor.inference.render import render
from vidcolor.video.decode import iter_frames
from vidcolor.video.probe import probe

SIZE = 32  # network input size: tiny and fast
WIDTH, HEIGHT, FRAMES = 64, 48, 12
#: refined regions, shots and temporal voting (whose per-frame view the review shows)
OPTIONS = {"refine": "felzenszwalb", "size": SIZE, "batch_size": 2, "workers": 0,
           "sequence": ("shots", "temporal")}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding an untrained histogram model (colours made visible)."""
    return save_tiny_run(tmp_path_factory.mktemp("runs") / "plain")


def _scenes(count: int = FRAMES, every: int = 4) -> list[np.ndarray]:
    """:func:`conftest.cartoon_frames` with a hard cut to a differently lit scene every
    ``every`` frames (so the temporal stage has shots, and segments end at cuts)."""
    return [255 - frame if (index // every) % 2 else frame
            for index, frame in enumerate(cartoon_frames(count, WIDTH, HEIGHT))]


@pytest.fixture
def clips(tmp_path: Path) -> tuple[Path, Path]:
    """The grey clip (with audio) and its colour 'truth' (the same frames, tinted)."""
    frames = _scenes()
    grey = write_clip(tmp_path / "bw.mkv", frames, fps=24, audio=True)
    tinted = [(frame * np.array([1.0, 0.8, 0.6])).astype(np.uint8) for frame in frames]
    truth = write_clip(tmp_path / "colour.mkv", tinted, fps=24, audio=False)
    return grey, truth


def _render(clip: Path, run: Path, output: Path, **kwargs: object) -> Path:
    return render(clip, [run], output, options=RenderOptions(**OPTIONS),  # type: ignore[arg-type]
                  **kwargs)


def _count_predicted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the frames the network sees (each call appends its batch size)."""
    from vidcolor.inference.colorizer import Colorizer

    real = Colorizer.predict
    seen: list[int] = []

    def counted(self: Colorizer, lightness: list, *args: object, **kwargs: object) -> object:
        seen.append(len(lightness))
        return real(self, lightness, *args, **kwargs)

    monkeypatch.setattr(Colorizer, "predict", counted)
    return seen


def _assert_same_frames(a: Path, b: Path) -> None:
    """The same frames, timestamps and pictures: x264 need not give the same bitstream for the
    same frames twice (tests/test_video.py measures it), so pictures are compared within
    :data:`conftest.VIDEO_MEAN_LEVELS`; every frame of the clip moves, so a wrong or lost frame
    still fails."""
    first, second = list(iter_frames(a)), list(iter_frames(b))
    assert len(first) == len(second) == FRAMES
    assert [f.pts for f in first] == [f.pts for f in second]
    assert_same_video_frames([f.rgb for f in first], [f.rgb for f in second])


def test_one_pass_writes_the_plain_output_and_the_review(
        tmp_path: Path, run: Path, clips: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    clip, truth = clips
    plain = _render(clip, run, tmp_path / "plain.mkv")
    old_review = _render(clip, run, tmp_path / "old_review.mkv", truth=truth)  # --truth alone
    seen = _count_predicted(monkeypatch)
    out = _render(clip, run, tmp_path / "out.mkv", review=tmp_path / "review.mkv", truth=truth)
    assert sum(seen) == FRAMES  # one pass: the network saw each frame once
    # Keeping the per-frame view only adds a colouring beside the result (the vote reads the
    # predicted distributions, never the kept view), so the output's RGB arrays are the plain
    # render's; they are compared after x264, which may encode the same frames differently.
    _assert_same_frames(out, plain)
    assert probe(out).has_audio and probe(out).width == WIDTH
    # the review: grey | result | per-frame | truth, every frame; and it is what the two-pass
    # way (`--truth` with the review as the output) wrote, for the same reason
    info = probe(tmp_path / "review.mkv")
    assert (info.width, info.height, info.frame_count) == (4 * WIDTH, HEIGHT, FRAMES)
    _assert_same_frames(tmp_path / "review.mkv", old_review)
    # each output carries the record its one-output render would: either command keeps it
    records = {name: json.loads((tmp_path / f"{name}.mkv.vidcolor.json").read_text())
               for name in ("plain", "out", "old_review", "review")}
    assert records["out"]["key"] == records["plain"]["key"]
    assert records["review"]["key"] == records["old_review"]["key"]
    assert records["out"]["frames"] == records["review"]["frames"] == FRAMES
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_up_to_date_outputs_are_kept_and_a_missing_review_is_made_again(
        tmp_path: Path, run: Path, clips: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    clip, truth = clips
    out, review = tmp_path / "out.mkv", tmp_path / "review.mkv"
    _render(clip, run, out, review=review, truth=truth)
    stamps = (out.stat().st_mtime_ns, review.stat().st_mtime_ns)
    first_review = [f.rgb for f in iter_frames(review)]
    seen = _count_predicted(monkeypatch)
    _render(clip, run, out, review=review, truth=truth)
    assert seen == [] and (out.stat().st_mtime_ns, review.stat().st_mtime_ns) == stamps
    review.unlink()  # the output is up to date, its review is missing: only the review is made
    _render(clip, run, out, review=review, truth=truth)
    assert sum(seen) == FRAMES and out.stat().st_mtime_ns == stamps[0]
    assert_same_video_frames([f.rgb for f in iter_frames(review)], first_review)
    # another truth is another review (its record differs): the output is still kept
    _render(clip, run, out, review=review, truth=clip)
    assert out.stat().st_mtime_ns == stamps[0] and review.stat().st_mtime_ns != stamps[1]
    with pytest.raises(OptionError, match="overwrite the output"):
        _render(clip, run, out, review=out)
    with pytest.raises(OptionError, match="one of them"):
        _render(clip, run, out, review=review, side_by_side=True)


def test_an_interrupted_render_with_review_resumes_exactly(
        tmp_path: Path, run: Path, clips: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from vidcolor.inference import sinks
    from vidcolor.inference.colorizer import Colorizer

    monkeypatch.setattr(sinks, "SEGMENT_SECONDS", 4 / 24)  # a segment every 4 frames (a shot)
    clip, truth = clips
    whole = _render(clip, run, tmp_path / "whole.mkv", review=tmp_path / "whole_review.mkv",
                    truth=truth)
    real = Colorizer.predict
    calls: list[int] = []

    def interrupted(self: Colorizer, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 6:  # in the last batch: earlier segments are finished
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Colorizer, "predict", interrupted)
    out, review = tmp_path / "out.mkv", tmp_path / "review.mkv"
    with pytest.raises(KeyboardInterrupt):
        _render(clip, run, out, review=review, truth=truth)
    assert not out.exists() and not review.exists()  # neither appears half-written
    assert [p.name for p in tmp_path.rglob("*") if ".part" in p.name] == []
    monkeypatch.setattr(Colorizer, "predict", real)
    seen = _count_predicted(monkeypatch)
    _render(clip, run, out, review=review, truth=truth)
    assert sum(seen) < FRAMES  # the finished segments of both were not computed again
    _assert_same_frames(out, whole)
    _assert_same_frames(review, tmp_path / "whole_review.mkv")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bw.mkv", "colour.mkv", "out.mkv", "out.mkv.vidcolor.json", "review.mkv",
        "review.mkv.vidcolor.json", "whole.mkv", "whole.mkv.vidcolor.json",
        "whole_review.mkv", "whole_review.mkv.vidcolor.json"]


def test_cli_review_and_usage_errors(tmp_path: Path, run: Path, clips: tuple[Path, Path],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    clip, truth = clips
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    common = ["-m", str(run), "--size", str(SIZE), "--workers", "0"]
    result = runner.invoke(cli, ["-q", "render", clip.name, "-o", "out.mkv",
                                 "--review", "review.mkv", "--truth", truth.name, *common])
    assert result.exit_code == 0, result.output
    assert probe(tmp_path / "out.mkv").width == WIDTH
    info = probe(tmp_path / "review.mkv")  # grey | result | per-frame | truth (the defaults)
    assert (info.width, info.frame_count) == (4 * WIDTH, FRAMES)
    season = tmp_path / "season"
    season.mkdir()
    write_clip(season / "ep1.mkv", _scenes(2), audio=False)
    write_clip(season / "ep2.mkv", _scenes(2), audio=False)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for bad, message in (
            ([clip.name, truth.name, "--review", "r.mkv"], "--review needs a single input"),
            (["season", "--review", "r.mkv"], "--review needs a single input"),
            ([clip.name, "--shard", "0/1", "--review", "r.mkv"], "single input"),
            ([clip.name, "--side-by-side", "--review", "r.mkv"], "one of them"),
            ([clip.name, "-o", "same.mkv", "--review", "same.mkv"], "overwrite the output")):
        result = runner.invoke(cli, ["render", *bad, *common])
        assert result.exit_code == 2 and message in result.output, (bad, result.output)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written
