"""Tests of vidcolor.inference.hints: keyframe hints carried through their shot (render --hints)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import save_tiny_run

from vidcolor._cli.main import cli
from vidcolor.color.frames import rgb_to_lab_frame
from vidcolor.errors import InputError
from vidcolor.inference.hints import find_hints, plan_hints
from vidcolor.inference.options import RenderOptions
from vidcolor.inference.render import render
from vidcolor.inference.sources import open_source

WIDTH, HEIGHT = 64, 48
SHOT = 12  # frames of the first shot; a cut, then a second shot
RED = (210, 40, 40)


def _square_frames() -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """Shot 1: a dark square with an ink outline sliding right over a light background; shot 2 (a
    cut: another background): the same square standing still. Also each frame's square
    corner."""
    frames, corners = [], []
    for index in range(SHOT + 6):
        first = index < SHOT
        frame = np.full((HEIGHT, WIDTH, 3), 200 if first else 90, np.uint8)
        x = 4 + index if first else 30  # 1 px a frame: faster, the shot detector cuts here
        y = 14
        cv2.rectangle(frame, (x, y), (x + 16, y + 16), (20, 20, 20), -1)  # ink
        cv2.rectangle(frame, (x + 2, y + 2), (x + 14, y + 14), (120, 120, 120), -1)
        frames.append(frame)
        corners.append((x, y))
    return frames, corners


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hints")
    frames, corners = _square_frames()
    grey = root / "grey"
    grey.mkdir()
    for index, frame in enumerate(frames):
        cv2.imwrite(str(grey / f"{index:03d}.png"), frame)
    # the colourist paints frame 5 in strokes: a red blob inside the square, nothing else
    x, y = corners[5]
    stroke = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    cv2.circle(stroke, (x + 8, y + 8), 3, (*RED[::-1], 255), -1)
    hints = root / "hints"
    hints.mkdir()
    cv2.imwrite(str(hints / "5.png"), stroke)
    return {"grey": grey, "hints": hints, "run": save_tiny_run(root / "run"), "root": root}


def _hue_error(rgb: np.ndarray, box: tuple[int, int], colour: tuple[int, int, int]) -> float:
    """ab distance between the square's inside and ``colour`` (L differs: only ab counts)."""
    x, y = box
    inside = rgb_to_lab_frame(np.ascontiguousarray(rgb[y + 5:y + 12, x + 5:x + 12]))[..., 1:]
    want = rgb_to_lab_frame(np.array([[colour]], np.uint8))[0, 0, 1:]
    return float(np.linalg.norm(inside.reshape(-1, 2).mean(axis=0) - want))


def test_a_stroke_follows_its_region_through_the_shot_and_stops_at_the_cut(scene) -> None:
    options = RenderOptions(workers=0, size=32)
    out = render(scene["grey"], [scene["run"]], scene["root"] / "hinted", options=options,
                 hints=scene["hints"])
    plain = render(scene["grey"], [scene["run"]], scene["root"] / "plain", options=options)
    _, corners = _square_frames()
    for index, corner in enumerate(corners):
        hinted = cv2.cvtColor(cv2.imread(str(out / f"{index:03d}.png")), cv2.COLOR_BGR2RGB)
        if index < SHOT:  # every frame of the hinted shot: the square is red (within 10 ab)
            assert _hue_error(hinted, corner, RED) < 10, index
            # the background the stroke did not touch keeps the automatic colour
            auto = cv2.cvtColor(cv2.imread(str(plain / f"{index:03d}.png")), cv2.COLOR_BGR2RGB)
            assert np.abs(hinted[:4].astype(int) - auto[:4].astype(int)).max() <= 1, index
        else:  # after the cut: exactly the render without hints (same process, same batches,
            # and the hint stage hands unhinted frames through untouched: bit-identical)
            auto = cv2.imread(str(plain / f"{index:03d}.png"))
            assert np.array_equal(cv2.imread(str(out / f"{index:03d}.png")), auto), index
            assert _hue_error(cv2.cvtColor(auto, cv2.COLOR_BGR2RGB), corner, RED) > 20


def test_hint_maps_cover_the_square_only_within_its_shot(scene) -> None:
    maps = plan_hints(open_source(scene["grey"]), scene["hints"])
    try:
        _, corners = _square_frames()
        assert list(maps.shots.items()) == [(0, SHOT)]
        assert maps.hints[5].strokes
        for index, (x, y) in enumerate(corners[:SHOT]):
            found = maps.get(index)
            assert found is not None
            ab, cover = found
            assert cover[y + 8, x + 8] and not cover[2, 2] and not cover[HEIGHT - 2, 2]
        assert all(maps.get(index) is None for index in range(SHOT, len(corners)))
    finally:
        maps.close()


def test_a_whole_frame_hint_paints_every_region(scene, tmp_path) -> None:
    frames, corners = _square_frames()
    whole = np.array(frames[5])
    whole[...] = (60, 140, 220)  # the background blue
    x, y = corners[5]
    cv2.rectangle(whole, (x, y), (x + 16, y + 16), (20, 20, 20), -1)
    cv2.rectangle(whole, (x + 2, y + 2), (x + 14, y + 14), RED, -1)
    hints = tmp_path / "hints"
    hints.mkdir()
    cv2.imwrite(str(hints / "000005.png"), cv2.cvtColor(whole, cv2.COLOR_RGB2BGR))
    maps = plan_hints(open_source(scene["grey"]), hints)
    try:
        assert not maps.hints[5].strokes
        ab, cover = maps.get(8)
        assert cover[2:-2, :2].all()  # the background is hinted too
        blue = rgb_to_lab_frame(np.array([[(60, 140, 220)]], np.uint8))[0, 0, 1:]
        assert np.linalg.norm(ab[2, 1] - blue) < 3
    finally:
        maps.close()


@pytest.mark.parametrize("name, content, problem", [
    ("000099.png", "hint", "past the end"),
    ("notes.txt", "text", "not a hint"),
    ("000003.png", "cut", "not a readable image"),
    ("3.png", "twin", "a second hint"),
])
def test_bad_hints_are_one_line_and_nothing_is_written(scene, tmp_path, name, content,
                                                        problem) -> None:
    hints = tmp_path / "hints"
    hints.mkdir()
    good = (scene["hints"] / "5.png").read_bytes()
    (hints / "5.png").write_bytes(good)
    if content == "twin":
        (hints / "003.png").write_bytes(good)
    data = {"hint": good, "text": b"remember the red", "cut": good[: len(good) // 2],
            "twin": good}[content]
    (hints / name).write_bytes(data)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["-q", "render", str(scene["grey"]), "-m",
                                      str(scene["run"]), "-o", str(out), "--workers", "0",
                                      "--size", "32", "--hints", str(hints)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error: ") and problem in lines[0]
    assert not out.exists()


def test_a_hint_on_a_dark_frame_is_refused(tmp_path, scene) -> None:
    grey = tmp_path / "grey"
    grey.mkdir()
    frames, _ = _square_frames()
    for index, frame in enumerate(frames[:6]):
        cv2.imwrite(str(grey / f"{index:03d}.png"), frame if index != 3 else frame * 0)
    hints = tmp_path / "hints"
    hints.mkdir()
    (hints / "3.png").write_bytes((scene["hints"] / "5.png").read_bytes())
    with pytest.raises(InputError, match="frame 3 is dark"):
        plan_hints(open_source(grey), hints)


def test_find_hints_reads_any_padding_and_ignores_hidden_files(tmp_path) -> None:
    for name in ("7.png", "000012.jpg", ".DS_Store", ".shots.csv"):
        (tmp_path / name).write_bytes(b"x")
    assert {k: p.name for k, p in find_hints(tmp_path).items()} == {7: "7.png",
                                                                    12: "000012.jpg"}


BLUE = (40, 60, 210)


def _three_shots() -> list[np.ndarray]:
    """Three shots of 8 frames (another background each: clean cuts), the square sliding in each."""
    frames = []
    for shot, background in enumerate((200, 90, 160)):
        for index in range(8):
            frame = np.full((HEIGHT, WIDTH, 3), background, np.uint8)
            x, y = 4 + index + 6 * shot, 14
            cv2.rectangle(frame, (x, y), (x + 16, y + 16), (20, 20, 20), -1)
            cv2.rectangle(frame, (x + 2, y + 2), (x + 14, y + 14), (120, 120, 120), -1)
            frames.append(frame)
    return frames


def _paint(hints: Path, frame: int, colour: tuple[int, int, int], x: int) -> None:
    stroke = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    cv2.circle(stroke, (x + 8, 22), 3, (*colour[::-1], 255), -1)
    cv2.imwrite(str(hints / f"{frame}.png"), stroke)


def test_changing_one_hint_renders_only_its_shot_again(tmp_path, monkeypatch) -> None:
    from conftest import write_clip

    from vidcolor.inference.colorizer import Colorizer
    from vidcolor.video.decode import iter_frames

    clip = write_clip(tmp_path / "bw.mkv", _three_shots(), fps=8, audio=True)
    run = save_tiny_run(tmp_path / "run")
    hints = tmp_path / "hints"
    hints.mkdir()
    _paint(hints, 3, RED, 4 + 3)  # shot 1 (frames 0-7)
    _paint(hints, 19, RED, 4 + 3 + 12)  # shot 3 (frames 16-23)
    options = RenderOptions(workers=0, size=32)
    out = tmp_path / "out.mkv"
    render(clip, [run], out, options=options, hints=hints)
    (staging,) = [p for p in tmp_path.iterdir() if p.name.startswith(".out.mkv.vidcolor-")]
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in staging.glob("seg-*")}
    assert len(before) == 3  # a segment per shot, kept for the next change of hints
    first = [frame.rgb for frame in iter_frames(out)]

    predicted: list[int] = []
    real = Colorizer.predict

    def counted(self: Colorizer, lightness: list[np.ndarray], **kwargs: object) -> object:
        predicted.append(len(lightness))
        return real(self, lightness, **kwargs)

    monkeypatch.setattr(Colorizer, "predict", counted)
    _paint(hints, 19, BLUE, 4 + 3 + 12)  # the colourist changes shot 3's hint
    render(clip, [run], out, options=options, hints=hints)
    assert sum(predicted) == 8  # shot 3's frames only went through the network again
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in staging.glob("seg-*")}
    assert after.keys() == before.keys()
    for name in ("seg-000000.mp4", "seg-000008.mp4"):  # untouched: not even rewritten
        assert after[name] == before[name], name
    assert after["seg-000016.mp4"][1] != before["seg-000016.mp4"][1]
    second = [frame.rgb for frame in iter_frames(out)]
    assert len(second) == len(first) == 24
    # shots 1 and 2 are the same packets joined again, decoded by the same decoder: identical
    for index in range(16):
        assert np.array_equal(second[index], first[index]), index
    for index in range(16, 24):  # shot 3 now follows the blue hint
        corner = (4 + (index - 16) + 12, 14)
        assert _hue_error(second[index], corner, BLUE) < 15, index
        assert _hue_error(first[index], corner, RED) < 15, index

    predicted.clear()  # the same hints again: the output is up to date
    render(clip, [run], out, options=options, hints=hints)
    assert predicted == []



def _regions_frame(boxes: list[tuple[int, int, int]], hinted: list[bool],
                   colours: list[tuple[float, float]], origin: list[int] | None = None):
    """A carried frame of 96×128 whose region 0 is the background and region i the box
    ``(x, y, side)`` i-1, each with its lightness 30 + 10 i (the background 90)."""
    from vidcolor.inference.hints import _Frame

    labels = np.zeros((96, 128), np.int32)
    for number, (x, y, side) in enumerate(boxes, start=1):
        labels[y:y + side, x:x + side] = number
    light = np.array([90.0] + [30.0 + 10 * n for n in range(1, len(boxes) + 1)], np.float32)
    return _Frame(labels, light, np.array(colours, np.float32), np.array(hinted),
                  None if origin is None else np.array(origin))


def test_a_lost_hinted_region_is_found_again_by_grey_size_and_place() -> None:
    """The flow loses a drawing that jumps or comes out from behind another: no region of the
    next frame continues it. An unhinted region there of its grey, about its size and near it
    takes its hint; one of another grey, size or far away does not (nor does a region found
    once take a second lost one's colour)."""
    from vidcolor.inference.hints import _found

    red, green = (60.0, 40.0), (-50.0, 40.0)
    before = _regions_frame([(20, 30, 20), (90, 30, 16)], [True, True, True],
                            [(0.0, 0.0), red, green])
    # now: box 1 jumped 10 px (same grey, same size), box 2 jumped 6 px, but is of another
    # grey now (another object); the background continued from the background
    now = _regions_frame([(30, 30, 20), (96, 30, 16)], [True, False, False],
                         [(0.0, 0.0), (0.0, 0.0), (0.0, 0.0)], origin=[0, 0, 0])
    now.light[2] += 5.0
    lost = _found(before, now, None)
    assert now.hinted.tolist() == [True, True, False]
    assert now.colour[1].tolist() == list(red)
    assert len(lost.light) == 1 and lost.colour[0].tolist() == list(green)  # still lost
    # a frame later the green box's region turns up with its grey: found from the memory
    later = _regions_frame([(30, 30, 20), (100, 32, 16)], [True, True, False],
                           [(0.0, 0.0), red, (0.0, 0.0)], origin=[0, 1, 0])
    assert len(_found(now, later, lost).light) == 0 and later.hinted.all()
    assert later.colour[2].tolist() == list(green)
    # too far (half the frame away), or 1.7 times the size: not the same drawing
    for box in ((90, 60, 20), (22, 30, 26)):
        far = _regions_frame([box], [True, False], [(0.0, 0.0), (0.0, 0.0)], origin=[0, 0])
        _found(_regions_frame([(20, 30, 20)], [True, True], [(0.0, 0.0), red]), far, None)
        assert not far.hinted[1], box


def test_a_hinted_eye_keeps_its_own_colour_where_the_regions_swallow_it(tmp_path) -> None:
    # A grey face with a white eye 5 px across: no region-growing seed reaches the eye (every
    # pixel of it is within 4 px of the face), so without hints it joins the face. A whole-frame
    # hint paints the face red and the eye white: in the hinted shot the eye stays white (the
    # hinted shot's regions keep small flat patches), after the cut nothing changes.
    white, grey_frames = (255, 255, 255), tmp_path / "grey"
    grey_frames.mkdir()
    centres = []
    for index in range(SHOT + 6):
        first = index < SHOT
        frame = np.full((HEIGHT, WIDTH, 3), 200 if first else 90, np.uint8)
        x, y = (4 + index, 12) if first else (30, 12)
        cv2.rectangle(frame, (x, y), (x + 21, y + 21), (20, 20, 20), -1)  # ink
        cv2.rectangle(frame, (x + 2, y + 2), (x + 19, y + 19), (120, 120, 120), -1)
        cv2.circle(frame, (x + 14, y + 7), 2, (235, 235, 235), -1)  # off the face's centre
        cv2.imwrite(str(grey_frames / f"{index:03d}.png"), frame)
        centres.append((x + 14, y + 7))
        if index == 5:
            hint = frame.copy()
            hint[frame[..., 0] == 200] = (60, 140, 220)
            hint[frame[..., 0] == 120] = RED
            hint[frame[..., 0] == 235] = white
    hints = tmp_path / "hints"
    hints.mkdir()
    cv2.imwrite(str(hints / "5.png"), cv2.cvtColor(hint, cv2.COLOR_RGB2BGR))
    red = rgb_to_lab_frame(np.array([[RED]], np.uint8))[0, 0, 1:]
    options = RenderOptions(workers=0, size=32)
    run = save_tiny_run(tmp_path / "run")
    out = render(grey_frames, [run], tmp_path / "hinted", options=options, hints=hints)
    plain = render(grey_frames, [run], tmp_path / "plain", options=options)
    for index, (x, y) in enumerate(centres):
        rgb = cv2.cvtColor(cv2.imread(str(out / f"{index:03d}.png")), cv2.COLOR_BGR2RGB)
        lab = rgb_to_lab_frame(rgb)
        if index < SHOT:
            # white within 3 ab units (swallowed by the face it is pink, 10 ab units)
            assert np.linalg.norm(lab[y - 1:y + 2, x - 1:x + 2, 1:], axis=-1).max() < 3, index
            face = lab[y + 6:y + 11, x - 9:x - 2, 1:].reshape(-1, 2).mean(axis=0)
            assert np.linalg.norm(face - red) < 10, index
        else:
            assert np.array_equal(cv2.imread(str(out / f"{index:03d}.png")),
                                  cv2.imread(str(plain / f"{index:03d}.png"))), index
