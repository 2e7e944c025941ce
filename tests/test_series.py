"""Tests of vidcolor.series: the palette, chroma ceiling and credit look learnt from a series."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import write_clip

from vidcolor.color import linear_to_srgb, srgb_to_linear
from vidcolor.color.frames import lightness, rgb_to_lab_frame
from vidcolor.dataset.look import learn_look
from vidcolor.errors import DatasetError
from vidcolor.series import SeriesLook
from vidcolor.series.apply import apply_ceiling, choose_palette, credit_fade, paint_credits
from vidcolor.series.learn import chroma_ceiling, extract_palette, learn_credit_grey, learn_credits

#: The fills of the synthetic series (sRGB).
FILLS = [(200, 40, 40), (40, 150, 60), (250, 210, 60), (120, 90, 200), (170, 210, 240),
         (230, 170, 180)]
INK = (20, 18, 24)


def _series_frame(index: int, width: int = 96, height: int = 72) -> np.ndarray:
    """Flat fills bounded by ink lines, moving a little from frame to frame."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[: height // 2] = FILLS[4]
    frame[height // 2:] = FILLS[5]
    cv2.line(frame, (0, height // 2), (width, height // 2), INK, 3, cv2.LINE_AA)
    for k, colour in enumerate(FILLS[:4]):
        centre = (12 + 22 * k + index % 5, 18 + 30 * (k % 2))
        cv2.circle(frame, centre, 10, colour, -1, cv2.LINE_AA)
        cv2.circle(frame, centre, 10, INK, 2, cv2.LINE_AA)
    return frame


def _lab(colours: list[tuple[int, int, int]]) -> np.ndarray:
    return rgb_to_lab_frame(np.asarray([colours], np.uint8))[0]


def test_palette_is_found_in_a_built_dataset(tmp_path: Path) -> None:
    from vidcolor.dataset.build import build_dataset

    episodes = [write_clip(tmp_path / f"ep{e}.mkv", [_series_frame(i + 7 * e) for i in range(14)],
                           audio=False) for e in range(3)]
    build_dataset(episodes, tmp_path / "dataset", test_episodes=["ep0"])
    look = learn_look(tmp_path / "dataset")
    known = _lab(FILLS)
    for colour, lab in zip(FILLS, known, strict=True):
        nearest = np.linalg.norm(look.palette - lab, axis=1).min()
        assert nearest <= 3.0, (colour, nearest, look.palette.round(1).tolist())
    ink = _lab([INK])[0]
    for colour, share in zip(look.palette, look.palette_share, strict=True):
        if np.linalg.norm(known - colour, axis=1).min() > 3.0 and \
                np.linalg.norm(colour - ink) > 6.0:
            assert share <= 0.01, (colour.round(1).tolist(), share)  # no extra real colour
    assert look.frames == 28  # the training episodes only
    # dark (ink) pixels are neutral in the series; the red fill's lightness is colourful
    red_light = int(round(float(known[0][0])))
    neutral_dark = [light for light in range(25) if look.neutral[light]]
    assert neutral_dark and not look.neutral[red_light]
    assert max(look.chroma_ceiling[neutral_dark]) < 25 < 50 < look.chroma_ceiling[red_light]
    for light in neutral_dark:  # the ink's own tint, not grey
        assert np.linalg.norm(look.typical_ab[light] - ink[1:]) < 6, light


def test_palette_of_frames_ignores_edges_and_small_specks() -> None:
    frames = [_series_frame(i) for i in range(6)]
    palette, share = extract_palette(frames)
    assert np.isclose(share.sum(), share.sum()) and (np.diff(share) <= 0).all()
    assert len(palette) <= len(FILLS) + 2  # fills (+ ink) but no edge blends


def test_neutral_lightness_takes_the_series_tint() -> None:
    from vidcolor.series.apply import apply_look
    from vidcolor.series.learn import typical_ab

    chroma = np.zeros((101, 161), np.int64)
    ab = np.zeros((2, 101, 221), np.int64)
    chroma[6, 5] = 1000  # ink: chroma 5, tinted (a 3, b -4)
    ab[0, 6, 110 + 3] = ab[1, 6, 110 - 4] = 1000
    chroma[50, 60] = 1000  # a colourful fill
    ab[0, 50, 110 + 60] = ab[1, 50, 110] = 1000
    typical, neutral = typical_ab(ab, chroma)
    assert neutral[6] and not neutral[50] and not neutral[90]  # 90: never seen
    np.testing.assert_allclose(typical[6], [3.0, -4.0])
    look = SeriesLook(np.zeros((0, 3), np.float32), np.zeros(0, np.float32),
                      np.full(101, 200.0, np.float32), typical, neutral)
    out = apply_look(np.array([[6.0, 50.0]], np.float32),
                     np.array([[[40.0, 40.0], [40.0, 40.0]]], np.float32), look)
    np.testing.assert_allclose(out, [[[3.0, -4.0], [40.0, 40.0]]])


def test_ceiling_keeps_neutral_what_the_series_keeps_neutral() -> None:
    histogram = np.zeros((101, 161), np.int64)
    histogram[5, 0:3] = 1000  # dark pixels: chroma 0-2
    histogram[50, 60] = 1000  # mid pixels: chroma 60
    ceiling = chroma_ceiling(histogram)
    assert ceiling[5] <= 4.0 and ceiling[50] >= 60.0
    assert ceiling[90] > 150  # never seen: no ceiling
    light = np.array([[5.0, 50.0]], np.float32)
    ab = np.array([[[30.0, 40.0], [30.0, 40.0]]], np.float32)  # chroma 50 each
    out = apply_ceiling(light, ab, ceiling)
    assert np.hypot(*out[0, 0]) <= 4.0 + 1e-4
    np.testing.assert_allclose(out[0, 1], ab[0, 1])
    np.testing.assert_allclose(out[0, 0, 0] / out[0, 0, 1], 0.75, rtol=1e-5)  # hue kept


def _credit_card(fade: float, width: int = 96, height: int = 72) -> np.ndarray:
    card = np.empty((height, width, 3), np.uint8)
    card[:] = (0, 30, 255)
    cv2.putText(card, "THE END", (12, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (238, 242, 255), 2,
                cv2.LINE_AA)
    return np.rint(card * fade).astype(np.uint8)


def _grey(rgb: np.ndarray) -> np.ndarray:
    from vidcolor.demo.twins import bw_frame

    return bw_frame(rgb)


def test_credit_screens_are_detected_in_grey_and_painted_in_their_colours() -> None:
    look = SeriesLook(np.zeros((0, 3), np.float32), np.zeros(0, np.float32),
                      np.full(101, 200.0, np.float32), credit_background=(0.0, 30.0, 255.0),
                      credit_text=(238.0, 242.0, 255.0))
    from vidcolor.color import srgb_to_linear

    def luminance(rgb: np.ndarray) -> float:
        return float(srgb_to_linear(rgb / 255.0) @ np.array([0.212671, 0.715160, 0.072169]))

    for fade in (1.0, 0.6):
        card = _credit_card(fade)
        light = lightness(_grey(card))
        found = credit_fade(light, look)
        expected = luminance(card[0, 0]) / luminance(_credit_card(1.0)[0, 0])
        assert found is not None and abs(found - expected) < 0.05 * expected, (found, expected)
        ab = paint_credits(light, look, found)
        truth = rgb_to_lab_frame(card)[..., 1:]
        background = np.all(card == card[0, 0], axis=2)
        assert np.abs(ab[background] - truth[background]).max() < 6.0
    for story in (_series_frame(0), np.full((72, 96, 3), 128, np.uint8)):
        assert credit_fade(lightness(_grey(story)), look) is None
    assert credit_fade(lightness(_grey(_credit_card(1.0))),
                       SeriesLook(look.palette, look.palette_share, look.chroma_ceiling)) is None


def test_choose_palette_takes_the_supported_colour_of_the_right_lightness() -> None:
    bins = np.array([[0.0, 0.0], [60.0, 40.0], [-40.0, 30.0]], np.float32)
    palette = np.array([[50.0, 62.0, 44.0], [50.0, -40.0, 27.0], [90.0, 60.0, 40.0]],
                       np.float32)
    probs = np.array([[0.2, 0.7, 0.1],   # reddish, L 50: the red fill
                      [0.2, 0.1, 0.7],   # greenish, L 50: the green fill
                      [0.9, 0.05, 0.05],  # grey: no palette colour supported: keep fallback
                      [0.1, 0.8, 0.1]],  # reddish but L 70: no palette colour that light
                     np.float32)
    light = np.array([50.0, 51.0, 50.0, 70.0], np.float32)
    fallback = np.full((4, 2), 7.0, np.float32)
    out = choose_palette(probs, light, bins, palette, fallback)
    np.testing.assert_allclose(out, [[62, 44], [-40, 27], [7, 7], [7, 7]])


def test_look_round_trip_and_damage(tmp_path: Path) -> None:
    neutral = np.zeros(101, bool)
    neutral[:8] = True
    look = SeriesLook(np.array([[50.0, 10.0, -5.0]], np.float32), np.array([0.5], np.float32),
                      np.arange(101, dtype=np.float32), np.full((101, 2), 2.5, np.float32),
                      neutral, credit_background=(0.0, 30.0, 255.0),
                      credit_text=(238.0, 242.0, 255.0), frames=3,
                      credit_grey=(0.08, 0.87, 10.4, 11.3))
    look.save(tmp_path / "series.json")
    again = SeriesLook.load(tmp_path / "series.json")
    np.testing.assert_allclose(again.palette, look.palette)
    np.testing.assert_allclose(again.chroma_ceiling, look.chroma_ceiling)
    assert again.credit_background == look.credit_background and again.frames == 3
    assert again.credit_grey == look.credit_grey
    np.testing.assert_array_equal(again.neutral, neutral)
    np.testing.assert_allclose(again.typical_ab, 2.5)
    (tmp_path / "bad.json").write_text('{"format": "vidcolor-series", "palette": [[1, 2]]}')
    with pytest.raises(DatasetError, match="bad.json"):
        SeriesLook.load(tmp_path / "bad.json")
    data = json.loads((tmp_path / "series.json").read_text())
    for grey in ([0.08, 0.87, 10.4], [0.9, 0.8, 2, 3], [0.08, 0.87, 11, 10], [0.08, "x", 1, 2],
                 [0.08, 0.87, float("nan"), 11]):
        (tmp_path / "bad.json").write_text(json.dumps({**data, "credit_grey": grey}))
        with pytest.raises(DatasetError, match="bad.json"):
            SeriesLook.load(tmp_path / "bad.json")
    for layout in ({"palette_rows": [[1.0] * 8], "palette_together": [[1.0]],
                    "palette_extent": [2.0]},  # an extent over 1
                   {"palette_rows": [[1.0] * 7], "palette_together": [[1.0]],
                    "palette_extent": [0.5]},  # 7 bands
                   {"palette_rows": [[0.0] * 8], "palette_together": [[1.0]],
                    "palette_extent": [0.5]}):  # a zero density (log of it: -inf)
        (tmp_path / "bad.json").write_text(json.dumps({**data, **layout}))
        with pytest.raises(DatasetError, match="layout"):
            SeriesLook.load(tmp_path / "bad.json")
    good = {"palette_rows": [[1.0] * 8], "palette_together": [[1.0]], "palette_extent": [0.5]}
    (tmp_path / "good.json").write_text(json.dumps({**data, **good}))
    assert SeriesLook.load(tmp_path / "good.json").has_layout


def test_credit_colours_are_learnt_at_full_brightness() -> None:
    """Credits that fade in and out are mostly faded: the colours come from the brightest
    frames, not from the median frame (which the demo's credits put at 3/4 of the brightness)."""
    fade = np.concatenate([np.linspace(0.1, 1.0, 10), np.ones(2), np.linspace(1.0, 0.1, 10)])
    back, text = np.array([0.0, 30.0, 255.0]), np.array([238.0, 242.0, 255.0])
    # a fade darkens in linear light; stored colours are sRGB
    faded = [tuple(255 * linear_to_srgb(srgb_to_linear(c / 255) * f)) for f in fade
             for c in (back, text)]
    learnt = learn_credits(faded[0::2], faded[1::2])
    assert learnt is not None
    assert np.allclose(learnt[0], back, atol=1.5) and np.allclose(learnt[1], text, atol=1.5)
    assert learn_credits([], []) is None


def test_demo_credits_are_found_in_grey_when_the_learnt_text_colour_is_off() -> None:
    """The grey signature is learnt from the credit frames' own lightness, so a text colour
    that anti-aliasing pulled towards the background (as k-means gave on another machine:
    Y_t/Y_b 8.6 where the grey frames show 10.9) misses no credit frame, faded or not."""
    from fractions import Fraction

    from vidcolor.color.frames import lab_to_rgb_uint8
    from vidcolor.demo.drawing import CREDIT_BLUE
    from vidcolor.demo.episode import iter_episode_frames
    from vidcolor.demo.twins import bw_frame
    from vidcolor.extract import credit_signature

    frames = list(iter_episode_frames(seconds=4.0, fps=Fraction(12)))
    credit = [f for f in frames if f.is_credit]
    assert len(credit) >= 10 and len(credit) < len(frames)
    signatures = [credit_signature(lightness(f.rgb)) for f in credit]
    grey = learn_credit_grey([s.background for s in signatures], [s.text for s in signatures])
    assert grey is not None
    off_text = (199.0, 214.0, 252.0)  # the text colour learnt on the failing machine
    base = SeriesLook(np.zeros((0, 3), np.float32), np.zeros(0, np.float32),
                      np.full(101, 200.0, np.float32), credit_background=CREDIT_BLUE,
                      credit_text=off_text)
    learnt = SeriesLook(base.palette, base.palette_share, base.chroma_ceiling,
                        credit_background=CREDIT_BLUE, credit_text=off_text, credit_grey=grey)
    for look in (learnt, base):  # with the learnt signature, and from the colours alone
        for frame in frames:
            light = lightness(bw_frame(frame.rgb))
            fade = credit_fade(light, look)
            assert (fade is not None) == frame.is_credit, frame
            if fade is None:
                continue
            painted = lab_to_rgb_uint8(light, paint_credits(light, look, fade))
            error = np.mean((painted.astype(float) - frame.rgb) ** 2) / 255.0 ** 2
            assert -10 * np.log10(max(error, 1e-10)) >= 30.0, frame


def _layout_frames() -> list[np.ndarray]:
    """A meadow (sky over grass) and a lab (mint wall over a grey floor): sky and mint, and
    grass and floor... differ in hue, sky and mint share a lightness."""
    frames = []
    for index in range(12):
        frame = np.empty((72, 96, 3), np.uint8)
        if index % 2:
            frame[:44], frame[44:] = (165, 208, 240), (112, 182, 82)  # sky, grass
        else:
            frame[:48], frame[48:] = (172, 216, 192), (204, 204, 192)  # mint wall, floor
        cv2.circle(frame, (20 + 5 * index, 40), 6, (200, 40, 40), -1)  # a character anywhere
        frames.append(frame)
    return frames


def test_the_palette_layout_overrules_a_network_that_sees_a_sky_as_a_wall() -> None:
    """Where a colour is painted and with what is learnt with the palette: a region at the top
    of a frame whose bottom is grass is sky, not the lab's mint wall of the same lightness,
    even when the network's evidence says mint (as one training seed's did on the demo)."""
    from vidcolor.quantize import ab_gamut
    from vidcolor.series.apply import region_bands
    from vidcolor.series.learn import look_of_frames

    look = look_of_frames(_layout_frames())
    assert look.has_layout and len(look.palette) >= 4
    lab = {name: rgb_to_lab_frame(np.array([[rgb]], np.uint8))[0, 0] for name, rgb in
           (("sky", (165, 208, 240)), ("mint", (172, 216, 192)), ("grass", (112, 182, 82)))}
    index = {name: int(np.argmin(np.linalg.norm(look.palette - value, axis=1)))
             for name, value in lab.items()}
    bins = ab_gamut(10)

    def near(colour: str, mass: float) -> np.ndarray:
        probs = np.full(len(bins), (1 - mass) / len(bins), np.float32)
        probs[np.argmin(np.linalg.norm(bins - lab[colour][1:], axis=1))] += mass
        return probs

    labels = np.zeros((72, 96), np.int32)
    labels[44:] = 1  # the sky region above the grass region
    probs = np.stack([0.85 * near("mint", 1.0) + 0.15 * near("sky", 1.0), near("grass", 0.9)])
    light = np.array([lab["sky"][0], lab["grass"][0]], np.float32)
    fallback = np.zeros((2, 2), np.float32)
    alone = choose_palette(probs, light, bins, look.palette, fallback)
    assert np.allclose(alone[0], look.palette[index["mint"], 1:])  # the network alone: mint
    weighed = choose_palette(probs, light, bins, look.palette, fallback,
                             bands=region_bands(labels, 2), look=look)
    assert np.allclose(weighed[0], look.palette[index["sky"], 1:])
    assert np.allclose(weighed[1], look.palette[index["grass"], 1:])
    # where the network is sure of mint on a lab frame (the floor below), the layout agrees
    probs[1] = near("mint", 0.0)  # the bottom region gives no context
    assert np.allclose(choose_palette(probs[:1], light[:1], bins, look.palette, fallback[:1],
                                      bands=region_bands(labels[:44], 1), look=look)[0],
                       look.palette[index["mint"], 1:])
    # a look without a layout (learnt by an older vidcolor) chooses by the network alone
    old = SeriesLook.from_json({key: value for key, value in look.to_json().items()
                                if not key.startswith(("palette_rows", "palette_together",
                                                       "palette_extent"))})
    assert not old.has_layout
    np.testing.assert_allclose(choose_palette(probs, light, bins, old.palette, fallback,
                                              bands=region_bands(labels, 2), look=old),
                               choose_palette(probs, light, bins, old.palette, fallback))


def test_the_look_is_learnt_in_the_lightness_of_the_grey_model() -> None:
    """A series whose black and white is BT.601 luma: the palette is keyed by the lightness
    render reads from such a grey (pure-ish blue is darker in luma than in L), so a blue
    region of the grey finds the blue palette colour at its own lightness."""
    from vidcolor.color.grey import GreyModel, grey_lightness, grey_of_rgb
    from vidcolor.series.learn import look_of_frames

    blue, yellow = (30, 60, 220), (235, 215, 60)
    frame = np.zeros((64, 64, 3), np.uint8)
    frame[:, :32], frame[:, 32:] = blue, yellow
    model = GreyModel.named("bt601")
    by_luma = look_of_frames([frame] * 3, grey=model)
    by_l = look_of_frames([frame] * 3)
    pixel = np.array([[blue]], np.uint8)
    luma_light = float(grey_lightness()[grey_of_rgb(pixel, model)][0, 0])
    own_light = float(rgb_to_lab_frame(pixel)[0, 0, 0])
    assert own_light - luma_light > 5  # the two lightnesses differ for this blue
    blue_ab = rgb_to_lab_frame(pixel)[0, 0, 1:]
    for look, light in ((by_luma, luma_light), (by_l, own_light)):
        found = look.palette[np.argmin(np.linalg.norm(look.palette[:, 1:] - blue_ab, axis=1))]
        assert abs(found[0] - light) < 1.5 and np.linalg.norm(found[1:] - blue_ab) < 3
