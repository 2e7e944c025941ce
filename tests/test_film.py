"""Tests of the film-print simulator (vidcolor.film)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidcolor.film import (
    MAX_WEAVE,
    NO_WEAR,
    WEAR_KINDS,
    FilmWear,
    film_frame,
    flicker_gain_offset,
    weave_offset,
)


def _only(kind: str, strength: float | None = None) -> FilmWear:
    """Every kind off but ``kind`` (at its default strength, or ``strength``)."""
    others = [other for other in WEAR_KINDS if other != kind]
    wear = FilmWear().without(*others)
    if strength is not None:
        wear = FilmWear(**{**wear.as_dict(), kind: strength})
    return wear


@pytest.fixture(scope="module")
def cartoon() -> np.ndarray:
    """A small hand-made grey "cartoon": flat areas of several levels and a dark outline."""
    image = np.full((72, 96), 200, np.uint8)
    image[48:] = 90
    cv2.circle(image, (40, 30), 16, 150, -1)
    cv2.circle(image, (40, 30), 16, 25, 2)
    cv2.rectangle(image, (64, 10), (86, 40), 235, -1)
    return image


def test_same_seed_and_index_same_frame_others_differ(cartoon: np.ndarray) -> None:
    worn = film_frame(cartoon, 5, seed=3)
    assert worn.shape == cartoon.shape and worn.dtype == np.uint8
    # exact: seeded numpy streams and OpenCV's fixed filters in one process
    assert np.array_equal(worn, film_frame(cartoon, 5, seed=3))
    assert np.array_equal(worn, film_frame(cartoon, 5, seed=(3,)))  # an int is a 1-tuple
    for other in (film_frame(cartoon, 5, seed=4), film_frame(cartoon, 6, seed=3),
                  film_frame(cartoon, 5, seed=(3, 1))):
        assert not np.array_equal(worn, other)
    # no state: frame 5 made after others, or alone, is the same frame
    for index in range(5):
        film_frame(cartoon, index, seed=3)
    assert np.array_equal(worn, film_frame(cartoon, 5, seed=3))


def test_three_channel_grey_gives_the_same_wear_as_r_g_b(cartoon: np.ndarray) -> None:
    rgb = np.repeat(cartoon[..., None], 3, axis=2)
    worn = film_frame(rgb, 2, seed=1)
    assert worn.shape == rgb.shape
    assert np.array_equal(worn[..., 0], film_frame(cartoon, 2, seed=1))
    assert np.array_equal(worn[..., 0], worn[..., 2])


def test_bad_input_is_refused(cartoon: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8"):
        film_frame(cartoon.astype(np.float32), 0)
    with pytest.raises(ValueError, match="uint8"):
        film_frame(np.zeros((4, 4, 2), np.uint8), 0)
    with pytest.raises(ValueError, match="non-negative"):
        film_frame(cartoon, -1)
    with pytest.raises(ValueError, match="weave"):
        FilmWear(weave=MAX_WEAVE + 0.1)
    with pytest.raises(ValueError, match="grain"):
        FilmWear(grain=-1.0)
    with pytest.raises(ValueError, match="unknown film wear"):
        FilmWear().without("mould")


def test_grain_differs_every_frame_with_the_strength_asked(cartoon: np.ndarray) -> None:
    grain = _only("grain")
    frames = [film_frame(cartoon, index, seed=0, wear=grain).astype(np.int32)
              for index in range(4)]
    for before, after in zip(frames, frames[1:], strict=False):
        assert np.mean(before != after) > 0.5  # most pixels change from frame to frame
    flat = np.full((96, 128), 128, np.uint8)  # mid-grey: the strength is the std there
    noise = film_frame(flat, 0, seed=0, wear=grain).astype(np.float64) - 128
    assert abs(noise.std() - grain.grain) < 0.15 * grain.grain
    assert abs(noise.mean()) < 0.3
    # the grain is blurred: neighbours are correlated (white noise would give ~0)
    correlation = np.corrcoef(noise[:, :-1].ravel(), noise[:, 1:].ravel())[0, 1]
    assert 0.2 < correlation < 0.9
    # strongest in the mid-tones, none in pure black and white
    extremes = np.zeros((8, 8), np.uint8), np.full((8, 8), 255, np.uint8)
    assert all(np.array_equal(film_frame(image, 1, wear=grain), image) for image in extremes)


def test_mean_level_is_kept_without_flicker(cartoon: np.ndarray) -> None:
    wear = FilmWear().without("flicker")
    shifts = [float(film_frame(cartoon, index, seed=seed, wear=wear).mean() - cartoon.mean())
              for seed in range(3) for index in range(0, 120, 6)]
    assert max(abs(shift) for shift in shifts) < 3.0  # one scratch or speck moves it a little
    assert abs(np.mean(shifts)) < 0.5


def test_flicker_is_a_smooth_bounded_gain_and_offset(cartoon: np.ndarray) -> None:
    wear = _only("flicker")
    pairs = np.array([flicker_gain_offset(index, 2, wear) for index in range(200)])
    assert np.all(np.abs(pairs[:, 0] - 1) <= wear.flicker + 1e-9)
    assert np.all(np.abs(pairs[:, 1]) <= wear.flicker * 64 + 1e-9)
    assert np.ptp(pairs[:, 0]) > wear.flicker  # it does vary
    steps = np.abs(np.diff(pairs[:, 0]))
    assert steps.max() < 0.5 * wear.flicker  # smoothly: no jump to anywhere in its range
    gain, offset = flicker_gain_offset(7, 2, wear)
    worn = film_frame(cartoon, 7, seed=2, wear=wear).astype(np.float64)
    expected = np.clip(cartoon * gain + offset, 0, 255)
    assert np.abs(worn - expected).max() <= 0.5 + 1e-6  # rounding only


def test_weave_is_bounded_by_two_pixels_and_moves_the_picture(cartoon: np.ndarray) -> None:
    strongest = _only("weave", MAX_WEAVE)
    offsets = np.array([weave_offset(index, seed, strongest)
                        for seed in range(3) for index in range(300)])
    assert np.abs(offsets).max() <= MAX_WEAVE + 1e-9
    assert np.abs(offsets[:, 0]).max() > 0.5 * MAX_WEAVE  # a real weave, not a tremor
    steps = np.abs(np.diff(offsets[:300], axis=0))  # a smooth walk, no jump across its range
    assert steps.max() < 0.4 * MAX_WEAVE and steps.mean() < 0.1 * MAX_WEAVE
    assert weave_offset(3, 0, NO_WEAR) == (0.0, 0.0)
    # the picture moves by the offset (phase correlation finds it within 0.25 px)
    worn = film_frame(cartoon, 11, seed=1, wear=strongest)
    (dx, dy), _ = cv2.phaseCorrelate(cartoon.astype(np.float64), worn.astype(np.float64))
    expected = weave_offset(11, 1, strongest)
    assert abs(dx - expected[0]) < 0.25 and abs(dy - expected[1]) < 0.25


def test_dust_is_on_single_frames_and_scratches_persist() -> None:
    flat = np.full((72, 96), 128, np.uint8)
    dust = _only("dust", 40.0)
    marks = [film_frame(flat, index, seed=0, wear=dust) != 128 for index in range(3)]
    assert all(mark.any() for mark in marks)
    assert np.mean(marks[0] & marks[1]) < 0.2 * np.mean(marks[0])  # new specks each frame
    scratches = _only("scratches", 0.5)
    columns = [np.abs(film_frame(flat, index, seed=0, wear=scratches).astype(np.int32)
                      - 128).mean(axis=0) > 3 for index in range(40, 43)]
    assert columns[0].any()
    assert np.mean(columns[0] & columns[1]) > 0.5 * np.mean(columns[0])  # the same lines
    # a scratch is a thin vertical line: far more rows than columns are touched
    one = film_frame(flat, 40, seed=0, wear=scratches) != 128
    assert one.any(axis=1).mean() > 0.9 and one.any(axis=0).mean() < 0.6


@pytest.mark.parametrize("kind", WEAR_KINDS)
def test_each_kind_switches_on_and_off(cartoon: np.ndarray, kind: str) -> None:
    strength = {"dust": 40.0, "scratches": 0.5}.get(kind)  # so that frame 20 surely has some
    alone = _only(kind, strength)
    assert not np.array_equal(film_frame(cartoon, 20, seed=1, wear=alone), cartoon)
    assert np.array_equal(film_frame(cartoon, 20, seed=1, wear=alone.without(kind)), cartoon)
    full = FilmWear(**{**FilmWear().as_dict(), **({kind: strength} if strength else {})})
    assert not np.array_equal(film_frame(cartoon, 20, seed=1, wear=full),
                              film_frame(cartoon, 20, seed=1, wear=full.without(kind)))


def test_no_wear_returns_the_frame_unchanged(cartoon: np.ndarray) -> None:
    worn = film_frame(cartoon, 9, seed=5, wear=NO_WEAR)
    assert np.array_equal(worn, cartoon) and worn is not cartoon


def test_segmentation_holds_on_a_film_print(cartoon: np.ndarray) -> None:
    from vidcolor.inference.refine.registry import segment

    def whole(labels: np.ndarray) -> bool:
        """The four flat areas, each one region (left and right of any scratch)."""
        return (labels[2, 2] == labels[2, 93] and labels[60, 2] == labels[60, 93]
                and int(labels.max()) + 1 <= 5)

    clean = segment(cartoon.astype(np.float32), "regiongrow")
    assert whole(clean) and int(clean.max()) + 1 == 4
    # a clean grey is segmented exactly as without the film cleaning
    assert np.array_equal(clean, segment(cartoon.astype(np.float32), "regiongrow",
                                         clean_film=False))
    wear = FilmWear(scratches=0.05, dust=0.0)  # dust specks are regions of their own
    prints = [film_frame(cartoon, index, seed=seed, wear=wear).astype(np.float32)
              for seed in range(2) for index in range(0, 60, 3)]
    held = [whole(segment(worn, "regiongrow")) for worn in prints]
    split = [not whole(segment(worn, "regiongrow", clean_film=False)) for worn in prints]
    assert np.mean(held) >= 0.9  # measured: 40 of 40
    assert np.mean(split) >= 0.5  # without the cleaning the scratches split it (31 of 40)


def test_the_shot_detector_sees_no_cut_in_a_film_prints_grain(tmp_path) -> None:
    """The film twin of the demo's first episode (grain, flicker, weave, dust, scratches):
    every shot start is a cut of the series, a dark frame or the frame after one. Without
    the blur before the detectors, HashDetector cut at frame 146, a big change of drawing
    the clean twin keeps below its threshold."""
    from vidcolor.demo.episode import iter_episode_frames
    from vidcolor.demo.generate import generate_episode
    from vidcolor.inference.shots import DARK_LIGHTNESS, shot_frames
    from vidcolor.inference.sources import open_source

    bw = tmp_path / "film_bw.mkv"
    generate_episode(tmp_path / "colour.mkv", bw, audio=False, seed=0, episode=0,
                     film=FilmWear())
    scenes = [frame.scene for frame in iter_episode_frames(seed=0, episode=0)]
    cuts = {index for index in range(1, len(scenes)) if scenes[index] != scenes[index - 1]}
    starts, dark = [], set()
    for work in shot_frames(open_source(bw)):
        if float(work.thumb.mean()) < DARK_LIGHTNESS:
            dark |= {work.index, work.index + 1}
        if work.shot_start:
            starts.append(work.index)
    assert len(starts) >= 8 and 146 not in starts
    assert set(starts) - {0} <= cuts | dark
