"""``vidcolor shots``: the shot list, the stills to paint and the simulated colourists' hints."""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import VIDEO_MEAN_LEVELS, save_tiny_run

from vidcolor._cli.main import cli
from vidcolor.color.frames import lightness
from vidcolor.demo.drawing import CREDIT_BLUE, CREDIT_TEXT
from vidcolor.demo.episode import iter_episode_frames
from vidcolor.demo.generate import generate_episode
from vidcolor.inference.hints import find_hints, plan_hints
from vidcolor.inference.options import RenderOptions
from vidcolor.inference.shots import DARK_LIGHTNESS, shot_frames
from vidcolor.inference.sources import open_source
from vidcolor.series import SERIES_FILE, SeriesLook
from vidcolor.shotlist import (
    COLUMNS,
    HINT_SHOT_LIST,
    SHOT_LIST,
    export_hints,
    export_stills,
    list_shots,
    read_shot_table,
    run_look,
    still_name,
)
from vidcolor.video.decode import iter_frames

#: The demo episode of these tests (small and short: the whole file runs in seconds).
EPISODE = {"seed": 3, "episode": 1, "seconds": 4.0, "width": 64, "height": 48,
           "fps": Fraction(12)}


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo's colour episode and its grey twin (with fades and credits)."""
    folder = tmp_path_factory.mktemp("episode")
    colour, bw = folder / "colour.mkv", folder / "bw.mkv"
    generate_episode(colour, bw, audio=False, **EPISODE)  # type: ignore[arg-type]
    return colour, bw


@pytest.fixture(scope="module")
def truth_frames(episode: tuple[Path, Path]) -> list[np.ndarray]:
    return [frame.rgb for frame in iter_frames(episode[0])]


@pytest.fixture(scope="module")
def credit_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding only a series look with the demo's credit colours."""
    run = tmp_path_factory.mktemp("credit_run")
    SeriesLook(np.zeros((0, 3), np.float32), np.zeros(0, np.float32),
               np.full(101, 150.0, np.float32), credit_background=CREDIT_BLUE,
               credit_text=CREDIT_TEXT).save(run / SERIES_FILE)
    return run


def _invoke(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _table(path: Path) -> list[dict[str, int | str]]:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and tuple(rows[0]) == COLUMNS
    return [{key: value if key == "kind" else int(value) for key, value in row.items()}
            for row in rows]


def _story_middles(rows: list[dict[str, int | str]]) -> list[int]:
    return [int(row["middle"]) for row in rows if row["kind"] == "story"]


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    code = cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(image, code)


def test_shot_list_partitions_the_frames_at_the_renders_shot_starts(
        episode: tuple[Path, Path], tmp_path: Path) -> None:
    bw = episode[1]
    code, out, err = _invoke("-q", "shots", bw, "-o", tmp_path / "stills")
    assert code == 0, err
    rows = _table(tmp_path / "stills" / SHOT_LIST)
    works = list(shot_frames(open_source(bw)))
    assert [row["first"] for row in rows] == [w.index for w in works if w.shot_start]
    assert rows[0]["first"] == 0 and rows[-1]["last"] == len(works) - 1
    for number, row in enumerate(rows, start=1):
        first, last = int(row["first"]), int(row["last"])
        assert row["shot"] == number and first <= last
        assert row["frames"] == last - first + 1 and row["middle"] == first + (last - first) // 2
        if number > 1:
            assert first == int(rows[number - 2]["last"]) + 1
        dark = float(works[int(row["middle"])].thumb.mean()) < DARK_LIGHTNESS  # type: ignore
        assert (row["kind"] == "dark") == dark
    kinds = {row["kind"] for row in rows}
    assert kinds == {"story", "dark"}, kinds  # the demo fades in and out; no look: no credits
    assert f"{len(rows)} shots" in out
    # one grey still per story shot, named by its middle frame: the input's L at full size
    middles = _story_middles(rows)
    grey = tmp_path / "stills" / "grey"
    assert sorted(p.name for p in grey.iterdir()) == [still_name(m) for m in middles]
    for middle in middles:
        still = _read(grey / still_name(middle))
        assert still.shape == (EPISODE["height"], EPISODE["width"], 3)
        assert np.array_equal(still[..., 0], still[..., 2])
        assert np.abs(lightness(still) - works[middle].lightness).max() < 0.5
    assert not (tmp_path / "stills" / "auto").exists()
    assert read_shot_table(tmp_path / "stills" / SHOT_LIST) == list_shots(bw)


def test_credit_screens_get_no_still_and_no_hint(episode: tuple[Path, Path], credit_run: Path,
                                                 tmp_path: Path) -> None:
    colour, bw = episode
    look = run_look(credit_run)
    shots = list_shots(bw, look)
    credits = [s for s in shots if s.kind == "credits"]
    assert credits
    flags = [frame.is_credit for frame in iter_episode_frames(**EPISODE)]  # type: ignore[arg-type]
    for shot in shots:
        if shot.kind != "dark":
            assert (shot.kind == "credits") == flags[shot.middle], shot
    export_hints(bw, colour, tmp_path / "hints", run=credit_run)
    story = [s.middle for s in shots if s.kind == "story"]
    assert sorted(find_hints(tmp_path / "hints")) == story
    maps = plan_hints(open_source(bw), tmp_path / "hints", look)  # render takes them all
    maps.close()
    assert sorted(maps.hints) == story


def test_truth_export_writes_one_whole_frame_hint_per_story_shot(
        episode: tuple[Path, Path], truth_frames: list[np.ndarray], tmp_path: Path) -> None:
    colour, bw = episode
    hints = tmp_path / "hints"
    code, _, err = _invoke("-q", "shots", bw, "--truth", colour, "-o", hints)
    assert code == 0, err
    middles = _story_middles(_table(hints / HINT_SHOT_LIST))
    assert len(middles) >= 3
    found = find_hints(hints, len(truth_frames))
    assert sorted(found) == middles
    assert all(found[m].name == still_name(m) for m in middles)
    for middle in middles:
        hint = _read(found[middle])
        assert hint.shape == truth_frames[middle].shape  # RGB: no alpha
        assert np.array_equal(hint, truth_frames[middle])
    maps = plan_hints(open_source(bw), hints)
    maps.close()
    assert sorted(maps.hints) == middles
    assert not any(hint.strokes for hint in maps.hints.values())


def test_stroke_hints_are_a_few_discs_of_the_truths_colours(
        episode: tuple[Path, Path], truth_frames: list[np.ndarray], tmp_path: Path) -> None:
    colour, bw = episode
    strokes = tmp_path / "strokes"
    code, _, err = _invoke("-q", "shots", bw, "--truth", colour, "--strokes", "-o", strokes)
    assert code == 0, err
    middles = _story_middles(_table(strokes / HINT_SHOT_LIST))
    found = find_hints(strokes, len(truth_frames))
    assert sorted(found) == middles
    for middle in middles:
        rgba = _read(found[middle])
        assert rgba.shape == (*truth_frames[middle].shape[:2], 4)
        painted = rgba[..., 3] > 0
        assert 0 < painted.mean() < 0.1
        assert np.array_equal(rgba[painted][:, :3], truth_frames[middle][painted])
        assert not rgba[~painted].any()
    maps = plan_hints(open_source(bw), strokes)
    maps.close()
    assert sorted(maps.hints) == middles and all(h.strokes for h in maps.hints.values())
    # the same seed puts the discs in the same places
    again = tmp_path / "again"
    export_hints(bw, colour, again, strokes=True)
    assert all(found[m].read_bytes() == (again / still_name(m)).read_bytes() for m in middles)


def test_a_truth_of_another_length_is_one_clean_error(episode: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    bw = episode[1]
    short = tmp_path / "short.mkv"
    count = generate_episode(short, audio=False, **{**EPISODE, "seconds": 3.0})  # type: ignore
    code, _, err = _invoke("-q", "shots", bw, "--truth", short, "-o", tmp_path / "hints")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"{count} frames" in lines[0] and "48" in lines[0], err
    assert not (tmp_path / "hints").exists()


def test_bad_outputs_and_options_are_refused(episode: tuple[Path, Path], tmp_path: Path
                                             ) -> None:
    colour, bw = episode
    taken = tmp_path / "taken.csv"
    taken.write_text("not a folder")
    code, _, err = _invoke("-q", "shots", bw, "-o", taken)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "not a folder" in err
    assert taken.read_text() == "not a folder"
    code, _, err = _invoke("shots", bw, "--strokes", "-o", tmp_path / "out")
    assert code == 2 and "--strokes needs --truth" in err
    code, _, err = _invoke("-q", "shots", tmp_path / "missing.mkv", "-o", tmp_path / "out")
    assert code == 1 and len(err.strip().splitlines()) == 1
    code, out, _ = _invoke("shots", "--help")
    assert code == 0 and " shots [OPTIONS] INPUT" in out


def test_an_existing_shot_list_is_replaced(episode: tuple[Path, Path], tmp_path: Path) -> None:
    stills = tmp_path / "stills"
    stills.mkdir()
    (stills / SHOT_LIST).write_text("old\n")
    shots = export_stills(episode[1], stills)
    assert read_shot_table(stills / SHOT_LIST) == shots


def test_auto_stills_are_the_frames_the_render_paints(episode: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    from vidcolor.inference.render import render

    bw = episode[1]
    run = save_tiny_run(tmp_path / "runs" / "plain")
    options = RenderOptions(size=64, workers=0, batch_size=8)
    shots = export_stills(bw, tmp_path / "stills", run, options=options)
    middles = [s.middle for s in shots if s.kind == "story"]
    auto = tmp_path / "stills" / "auto"
    assert sorted(p.name for p in auto.iterdir()) == [still_name(m) for m in middles]
    assert [p.name for p in (tmp_path / "stills").iterdir() if p.name.startswith(".")] == []
    rendered = [f.rgb for f in iter_frames(render(bw, [run], tmp_path / "bw.colorized.mkv",
                                                  options=options))]
    for middle in middles:
        still = _read(auto / still_name(middle))
        difference = np.abs(still.astype(np.int16) - rendered[middle]).mean()
        assert difference <= VIDEO_MEAN_LEVELS, (middle, difference)
        assert np.ptp(still.astype(np.int16), axis=2).max() > 12  # coloured, not grey
