"""Duplicate filter and credit test on small hand-made arrays."""

from __future__ import annotations

import numpy as np
from conftest import credit_screen
from hypothesis import given, settings
from hypothesis import strategies as st

from vidcolor.extract import (
    CreditRule,
    DuplicateFilter,
    chroma_level,
    frame_mse,
    is_credit_frame,
    kmeans2,
    resize_frame,
)


def test_dedup_compares_with_last_accepted_not_previous() -> None:
    keep = DuplicateFilter(threshold=20)
    # a slow ramp: each step is 2 grey levels (MSE 4 to the previous frame)
    decisions = [keep(np.full((4, 4, 3), 2 * i, np.uint8))[0] for i in range(8)]
    # accumulated drift passes the threshold at 3 steps (MSE 36 > 20) from the last accepted
    assert decisions == [True, False, False, True, False, False, True, False]


def test_dedup_threshold_is_strict() -> None:
    keep = DuplicateFilter(threshold=25)
    assert keep(np.zeros((2, 2, 3), np.uint8)) == (True, None)
    assert keep(np.full((2, 2, 3), 5, np.uint8)) == (False, 25.0)
    assert keep(np.full((2, 2, 3), 6, np.uint8)) == (True, 36.0)


@given(st.integers(0, 255), st.integers(0, 255))
def test_mse_of_flat_frames(a: int, b: int) -> None:
    assert frame_mse(np.full((3, 3, 3), a, np.uint8), np.full((3, 3, 3), b, np.uint8)) == (
        a - b) ** 2


def test_credit_screen_detected_through_the_fade() -> None:
    for fade in (1.0, 0.6, 0.3, 0.1):
        assert is_credit_frame(credit_screen(fade)), fade


def test_not_credits() -> None:
    sky = np.zeros((64, 64, 3), np.uint8)
    sky[...] = (110, 170, 240)  # light sky blue: saturation far below 250/255
    assert not is_credit_frame(sky)
    blue_wall_with_character = credit_screen()
    blue_wall_with_character[20:80, 20:60] = (200, 50, 40)  # large red figure: blue < 80 %
    assert not is_credit_frame(blue_wall_with_character)
    black = np.zeros((64, 64, 3), np.uint8)
    assert not is_credit_frame(black)
    yellow_text_on_blue = credit_screen()
    yellow_text_on_blue[credit_screen()[..., 0] > 128] = (255, 230, 0)
    assert not is_credit_frame(yellow_text_on_blue)


def test_rule_thresholds_are_honoured() -> None:
    frame = credit_screen()
    assert not is_credit_frame(frame, CreditRule(blue_min_share=0.99))
    assert not is_credit_frame(frame, CreditRule(blue_hue=(100.0, 180.0)))


def test_kmeans2_separates_two_colours() -> None:
    pixels = np.array([[0, 0, 250]] * 90 + [[250, 250, 250]] * 10, dtype=float)
    centroids, counts = kmeans2(pixels)
    assert sorted(counts.tolist()) == [10, 90]
    assert {tuple(c) for c in centroids.round()} == {(0, 0, 250), (250, 250, 250)}


def test_resize_and_chroma() -> None:
    assert resize_frame(np.zeros((7, 5, 3), np.uint8), 16).shape == (16, 16, 3)
    grey = np.repeat(np.arange(64, dtype=np.uint8).reshape(8, 8, 1), 3, axis=2)
    assert chroma_level(grey) == 0
    assert chroma_level(credit_screen()) > 100


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
def test_flat_frames_are_never_credits(r: int, g: int, b: int) -> None:
    """A single flat colour has no text cluster, so it can never pass as a credit screen."""
    assert not is_credit_frame(np.full((16, 16, 3), (r, g, b), np.uint8))


def test_prefilter_never_rejects_what_clustering_accepts() -> None:
    """The cheap brightness bound only skips frames that k-means would reject anyway."""
    from vidcolor.extract import _too_bright_for_credits, credit_clusters

    rng = np.random.default_rng(7)
    skipped = accepted = 0
    for _ in range(300):
        frame = credit_screen(fade=float(rng.uniform(0.05, 1.0)), side=48)
        side = int(rng.integers(0, 40))  # a patch of any colour, up to 70 % of the frame
        frame[:side, :side] = rng.integers(0, 256, size=3)
        pixels = frame.reshape(-1, 3).astype(np.float64)
        if _too_bright_for_credits(pixels, CreditRule()):
            skipped += 1
            assert not credit_clusters(pixels)
        accepted += credit_clusters(pixels)
    assert skipped > 20 and accepted > 20  # both sides of the bound were exercised
