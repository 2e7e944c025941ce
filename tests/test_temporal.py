"""Tests of shot boundaries and temporal stabilisation (vidcolor.inference.shots / temporal)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidcolor.checkpoint.layout import CheckpointInfo
from vidcolor.checkpoint.write import save_checkpoint
from vidcolor.inference.options import RenderOptions
from vidcolor.inference.render import render
from vidcolor.inference.shots import Shots
from vidcolor.inference.stages import FrameWork, StageContext
from vidcolor.inference.temporal import WINDOW, Temporal
from vidcolor.models import build_model
from vidcolor.quantize import ab_gamut

SIZE = 32


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    bins = ab_gamut()
    model = build_model("residual", "rebalance", 0.05, len(bins))
    with torch.no_grad():  # an untrained head predicts near-grey; make the colours visible
        for param in model.parameters():
            param.mul_(3.0)
    folder = tmp_path_factory.mktemp("run")
    save_checkpoint(folder, CheckpointInfo(arch="residual", variant="rebalance", width=0.05,
                                           bins=bins, prior=None, weights=None, epoch=1,
                                           config={}, version="", path=folder,
                                           num_bins=len(bins), head="histogram"), model)
    return folder


def _scene(kind: int, step: int, brightness: float = 1.0) -> np.ndarray:
    """Grey frames of three differently drawn scenes, each with a disc moving right."""
    frame = np.full((72, 96), (200, 90, 140)[kind], np.uint8)
    if kind == 1:
        frame[:, :30] = 40
    elif kind == 2:
        frame[45:] = 230
    cv2.circle(frame, (12 + 2 * step, 36), 9, (60, 200, 20)[kind], -1)
    cv2.circle(frame, (12 + 2 * step, 36), 9, 0, 1)
    frame = np.rint(frame * brightness).astype(np.uint8)
    return np.repeat(frame[..., None], 3, axis=2)


def _clip() -> list[np.ndarray]:
    """Scene A, a hard cut to scene B, a fade through black, scene C (42 frames)."""
    frames = [_scene(0, i) for i in range(10)]  # 0-9
    frames += [_scene(1, i) for i in range(10)]  # 10-19: after a hard cut
    frames += [_scene(1, 10 + i, 1 - (i + 1) / 6) for i in range(6)]  # 20-25: fade out
    frames += [_scene(2, 0, 0.0)]  # 26: black
    frames += [_scene(2, i, (i + 1) / 5) for i in range(5)]  # 27-31: fade in
    frames += [_scene(2, 5 + i) for i in range(10)]  # 32-41
    return frames


def _write(folder: Path, frames: list[np.ndarray], first: int = 0) -> Path:
    folder.mkdir()
    for index, frame in enumerate(frames, start=first):
        cv2.imwrite(str(folder / f"{index:04d}.png"), frame)
    return folder


def _read(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: cv2.imread(str(p)) for p in sorted(folder.glob("*.png"))}


def test_shots_mark_cuts_and_darkness() -> None:
    from vidcolor.color.frames import lightness
    from vidcolor.inference.pipeline import thumbnail

    stage = Shots()
    starts = []
    for index, frame in enumerate(_clip()):
        light = lightness(frame)
        work = FrameWork(index=index, key=index, pts=None, lightness=light,
                         thumb=thumbnail(light), shot_start=index == 0)
        if stage.push(work)[0].shot_start:
            starts.append(index)
    assert starts[:2] == [0, 10]  # the hard cut
    assert 26 in starts and 27 in starts  # black, and the first frame after it
    assert not set(range(1, 10)) & set(starts)  # motion is not a cut
    assert not set(range(33, 42)) & set(starts)


@pytest.mark.parametrize("first", [10, 27])
def test_nothing_crosses_a_cut_or_a_fade(tmp_path: Path, run: Path, first: int) -> None:
    """Rendering the video from the cut on gives exactly the frames after the cut of the whole.

    One frame per network batch: the part starts at frame 10 or 27, so with larger batches its
    frames would reach the network in other batches than in the whole render, and oneDNN does
    not promise a frame the same output in another batch. With batches of one, both renders
    run the same primitive on the same bytes in this process (deterministic), and the stages
    after the network are the same per-pixel and per-shot code: the frames compare exactly.
    """
    frames = _clip()
    options = RenderOptions(size=SIZE, batch_size=1, workers=0)  # temporal on by default
    whole = render(_write(tmp_path / "all", frames), [run], tmp_path / "out_all",
                   options=options)
    part = render(_write(tmp_path / "part", frames[first:], first), [run],
                  tmp_path / "out_part", options=options)
    rendered, after = _read(whole), _read(part)
    assert len(after) == len(frames) - first
    for name, image in after.items():
        np.testing.assert_array_equal(image, rendered[name], err_msg=name)
    # the frames before the cut are coloured, so a carried colour would have shown
    assert any(np.ptp(rendered[f"{i:04d}.png"].astype(int), axis=2).max() > 6
               for i in range(first))


def _context(palette: np.ndarray | None = None) -> tuple[StageContext, np.ndarray]:
    bins = ab_gamut()
    options = RenderOptions(palette=palette is not None)
    look = None
    if palette is not None:
        from vidcolor.series import SeriesLook

        look = SeriesLook(palette, np.ones(len(palette), np.float32),
                          np.full(101, 200.0, np.float32))
    return StageContext(options, look, bins, views=True), bins


def _peaked(bins: np.ndarray, ab: tuple[float, float], mass: float = 0.7) -> np.ndarray:
    """A distribution with ``mass`` on the bin nearest ``ab``, the rest spread evenly."""
    probs = np.full(len(bins), (1.0 - mass) / (len(bins) - 1), np.float32)
    probs[np.argmin(np.linalg.norm(bins - np.asarray(ab), axis=1))] = mass
    return probs


def _static_frames(count: int, per_frame: list[np.ndarray]) -> list[FrameWork]:
    """Frames of one still picture (two regions) whose region distributions vary."""
    light = np.full((24, 32), 50.0, np.float32)
    light[:, 16:] = 80.0
    labels = (light > 60).astype(np.int32)
    frames = []
    for index in range(count):
        probs = np.stack([per_frame[index % len(per_frame)], per_frame[0]])
        frames.append(FrameWork(index=index, key=index, pts=None, lightness=light,
                                thumb=light, labels=labels, region_probs=probs,
                                region_ab=np.zeros((2, 2), np.float32),
                                region_light=np.array([50.0, 80.0], np.float32),
                                shot_start=index == 0))
    return frames


def _run_stage(stage: Temporal, frames: list[FrameWork]) -> tuple[list[FrameWork], int]:
    out, held = [], 0
    for frame in frames:
        out += stage.push(frame)
        held = max(held, frame.index + 1 - len(out))
    return out + stage.flush(), held


def test_votes_give_a_flickering_region_one_colour() -> None:
    context, bins = _context()
    reddish, yellowish = _peaked(bins, (50.0, 30.0)), _peaked(bins, (20.0, 60.0))
    frames = _static_frames(60, [reddish, yellowish, reddish])  # per-frame: two colours
    out, held = _run_stage(Temporal(context), frames)
    assert [w.index for w in out] == list(range(60))
    assert held <= WINDOW  # bounded memory: at most the opening window is held
    colours = np.array([w.region_ab[0] for w in out])
    assert np.abs(np.diff(colours, axis=0)).max() < 1e-4  # stable from the first frame on
    per_frame = np.array([w.views["per-frame"][0] for w in out])
    assert per_frame.shape == colours.shape


def test_palette_vote_picks_the_colour_every_frame_supports() -> None:
    bins = ab_gamut()
    palette = np.array([[50.0, 60.0, 40.0], [50.0, -40.0, 30.0], [50.0, 10.0, 35.0],
                        [80.0, 0.0, 0.0]], np.float32)  # red, green, and a brown between
    context, _ = _context(palette)
    red, green = _peaked(bins, (60.0, 40.0), 0.6), _peaked(bins, (-40.0, 30.0), 0.6)
    frames = _static_frames(40, [red, red, green])  # red twice as often as green
    out, _ = _run_stage(Temporal(context), frames)
    colours = np.array([w.region_ab[0] for w in out])
    np.testing.assert_allclose(colours, np.tile([60.0, 40.0], (40, 1)))  # never brown


def test_an_object_appearing_over_another_keeps_its_own_colour() -> None:
    """A new object of the background's lightness, on pixels the flow links to the
    background, does not inherit the background's vote when its own prediction contradicts
    it; the background, tracked whole, keeps its colour."""
    context, bins = _context()
    red, green = _peaked(bins, (60.0, 40.0), 0.95), _peaked(bins, (-40.0, 30.0), 0.95)
    light = np.full((24, 32), 50.0, np.float32)
    light[:, 16:] = 80.0
    frames = []
    for index in range(20):
        labels = (light > 60).astype(np.int32)
        probs = [red, _peaked(bins, (0.0, 0.0), 0.95)]
        if index >= 10:  # a green square drawn inside the red area, same lightness
            labels[8:14, 4:10] = 2
            probs.append(green)
        frames.append(FrameWork(index=index, key=index, pts=None, lightness=light,
                                thumb=light, labels=labels, region_probs=np.stack(probs),
                                region_ab=np.zeros((len(probs), 2), np.float32),
                                region_light=np.full(len(probs), 50.0, np.float32),
                                shot_start=index == 0))
    out, _ = _run_stage(Temporal(context), frames)
    for work in out[10:]:
        assert np.linalg.norm(work.region_ab[2] - (-40.0, 30.0)) < 12, work.index
        assert np.linalg.norm(work.region_ab[0] - (60.0, 40.0)) < 12, work.index


_RED_GREEN = np.array([[50.0, 60.0, 40.0], [50.0, -40.0, 30.0], [80.0, 0.0, 0.0]], np.float32)


def _two_regions(index: int, labels: np.ndarray, probs: list[np.ndarray]) -> FrameWork:
    light = np.where(labels == 1, 80.0, 50.0).astype(np.float32)
    return FrameWork(index=index, key=index, pts=None, lightness=light, thumb=light,
                     labels=labels, region_probs=np.stack(probs),
                     region_ab=np.zeros((len(probs), 2), np.float32),
                     region_light=np.array([80.0 if r == 1 else 50.0 for r in range(len(probs))],
                                           np.float32),
                     shot_start=index == 0)


def test_a_new_object_does_not_take_the_palette_colour_of_what_it_appears_over() -> None:
    """Broad predictions of two colours overlap (Bhattacharyya 0.45 here), so the
    distributions alone do not tell a new green object from the red area it appears on; the
    palette does: its own frame picks green and does not support red."""
    context, bins = _context(_RED_GREEN)
    red, green = _peaked(bins, (60.0, 40.0), 0.6), _peaked(bins, (-40.0, 30.0), 0.6)
    grey = _peaked(bins, (0.0, 0.0), 0.6)
    base = np.zeros((24, 32), np.int32)
    base[:, 16:] = 1
    frames = []
    for index in range(WINDOW + 16):
        labels, probs = base.copy(), [red, grey]
        if index >= WINDOW + 6:  # a green square drawn inside the red area, same lightness
            labels[8:14, 4:10] = 2
            probs.append(green)
        frames.append(_two_regions(index, labels, probs))
    out, _ = _run_stage(Temporal(context), frames)
    for work in out[WINDOW + 6:]:  # after the opening window: no future to vote with
        np.testing.assert_allclose(work.region_ab[2], (-40.0, 30.0), err_msg=str(work.index))
        np.testing.assert_allclose(work.region_ab[0], (60.0, 40.0), err_msg=str(work.index))


def test_a_region_cut_down_by_an_occluder_keeps_its_vote() -> None:
    """A region whose pixels mostly go on into one region (its continuation, even if most of
    it is hidden now) keeps its vote when one frame's prediction says another colour."""
    context, bins = _context(_RED_GREEN)
    red, green = _peaked(bins, (60.0, 40.0), 0.6), _peaked(bins, (-40.0, 30.0), 0.6)
    grey = _peaked(bins, (0.0, 0.0), 0.6)
    base = np.zeros((24, 32), np.int32)
    base[:, 16:] = 1
    frames = [_two_regions(index, base, [green, grey]) for index in range(WINDOW + 6)]
    hidden = base.copy()
    hidden[:, 6:16] = 1  # the grey area covers 60 % of the green one
    frames.append(_two_regions(WINDOW + 6, hidden, [red, grey]))  # and the network says red
    out, _ = _run_stage(Temporal(context), frames)
    np.testing.assert_allclose(out[-1].region_ab[0], (-40.0, 30.0))


def test_without_views_the_cells_vote_skips_the_models_ab_and_colours_the_same(run: Path
                                                                               ) -> None:
    """With ``--refine none`` the vote is each cell's colour: the network's own decoded ab are
    not computed (unless the per-frame view is kept), and the frames do not change."""
    from vidcolor.inference.colorizer import Colorizer, load_models
    from vidcolor.inference.pipeline import Pipeline, SourceFrame

    colorizer = Colorizer(load_models([run], torch.device("cpu")), size=SIZE,
                          decode="annealed:0.38")
    calls = []
    predict = colorizer.predict
    colorizer.predict = lambda *a, **k: calls.append(k["with_ab"]) or predict(*a, **k)
    options = RenderOptions(refine="none")
    frames = [SourceFrame(i, None, rgb) for i, rgb in enumerate(_clip()[:20])]
    rendered = {views: [w.rgb for w in Pipeline(colorizer, options, views=views).run(frames)]
                for views in (False, True)}
    assert calls and not calls[0] and calls[-1]  # views off: no ab decoded; on: decoded
    assert len(rendered[False]) == 20
    # Exact: the same colorizer on the same frames in the same batches (the default size, from
    # frame 0) in this process gives the same distributions; the vote reads only those
    for plain, kept in zip(rendered[False], rendered[True], strict=True):
        np.testing.assert_array_equal(plain, kept)
