"""Tests of vidcolor.inference.refine: segmentation rules (SPEC §7), the 2-means region fill,
the registry and the Regions stage."""

from __future__ import annotations

import numpy as np
import pytest

from vidcolor.inference.refine.felzenszwalb import segment_felzenszwalb
from vidcolor.inference.refine.fill import fill_regions, region_colours
from vidcolor.inference.refine.grey import normalize_luminance
from vidcolor.inference.refine.regiongrow import REGION_MIN_PATCH, segment_regiongrow
from vidcolor.inference.refine.registry import (
    SEGMENTATIONS,
    Parameter,
    Segmentation,
    refine_methods,
    segment,
)
from vidcolor.inference.stages import FrameWork, Paint, Regions


def _same_partition(labels: np.ndarray, expected: np.ndarray) -> bool:
    """True when two label images describe the same regions (label values may differ)."""
    pairs = {(int(a), int(b)) for a, b in zip(labels.ravel(), expected.ravel(), strict=True)}
    return len(pairs) == len(np.unique(labels)) == len(np.unique(expected))


def test_normalize_luminance_range_and_constant() -> None:
    out = normalize_luminance(np.array([[5.0, 7.0], [9.0, 5.0]]))
    assert out.min() == 0.0 and out.max() == 1.0
    assert not normalize_luminance(np.full((3, 3), 42.0)).any()


def test_regiongrow_two_halves_first_seed_top_left() -> None:
    image = np.zeros((16, 20))
    image[:, 10:] = 100.0
    labels = segment_regiongrow(image)
    expected = (np.arange(20) >= 10)[None, :].repeat(16, 0).astype(int)
    assert _same_partition(labels, expected)
    assert labels[0, 0] == 0  # the first seed is (0, 0), so its region is label 0


def test_regiongrow_threshold_is_strict_three_fifty_firsts() -> None:
    # Normalised values 0, 3/51 - tiny, 3/51 + tiny, 1: the threshold is |L - mean| < 3/51.
    below, above = 3 / 51 - 1e-3, 3 / 51 + 1e-3
    image = np.zeros((12, 40))
    image[:, 10:20] = below
    image[:, 30:] = 1.0
    labels = segment_regiongrow(image)
    # The mean shifts towards `below` once those pixels join, and stays within threshold.
    assert labels[0, 0] == labels[0, 15]
    image[:, 10:20] = above
    labels = segment_regiongrow(image)
    assert labels[0, 0] != labels[0, 15]
    assert labels[0, 0] != labels[0, 35]


def test_regiongrow_uses_four_neighbourhood() -> None:
    # Two bright squares touching only at a corner are separate regions under 4-connectivity.
    image = np.zeros((24, 24))
    image[:12, :12] = 1.0
    image[12:, 12:] = 1.0
    labels = segment_regiongrow(image)
    assert labels[0, 0] != labels[23, 23]
    assert labels[0, 23] != labels[23, 0]
    assert len(np.unique(labels)) == 4


def test_regiongrow_ignores_features_within_four_pixels() -> None:
    # A 3-px wide dark stripe: no pixel in it is farther than 4 px from the grown background,
    # so it never gets a seed of its own; its pixels join the nearest region.
    image = np.ones((20, 30))
    image[:, 14:17] = 0.0
    labels = segment_regiongrow(image)
    assert len(np.unique(labels)) <= 2
    # A 12-px wide stripe holds pixels > 4 px from the background: it is seeded.
    image = np.ones((20, 40))
    image[:, 14:26] = 0.0
    labels = segment_regiongrow(image)
    assert labels[10, 20] != labels[0, 0]
    assert len(np.unique(labels[:, 14:26][:, 3:-3])) == 1


def test_regiongrow_min_patch_keeps_small_flat_patches_of_another_grey() -> None:
    # The 3-px dark stripe above is a flat patch of another grey: with min_patch a region of
    # its own, not half of each side's.
    image = np.ones((20, 30))
    image[:, 14:17] = 0.0
    labels = segment_regiongrow(image, min_patch=REGION_MIN_PATCH)
    assert len(np.unique(labels[:, 14:17])) == 1
    assert labels[10, 15] not in (labels[10, 5], labels[10, 25])
    # ... and so is a white eye 7 px across in a grey face, which without it joins the face.
    image = np.full((40, 40), 0.5)
    rows, cols = np.indices(image.shape)
    eye = np.hypot(rows - 20, cols - 20) <= 3.5
    image[eye] = 1.0
    labels = segment_regiongrow(image, min_patch=REGION_MIN_PATCH)
    assert len(np.unique(labels[eye])) == 1 and labels[20, 20] != labels[0, 0]
    assert len(np.unique(labels)) == 2
    assert len(np.unique(segment_regiongrow(image))) == 1
    # ... but not when smaller than min_patch pixels
    assert len(np.unique(segment_regiongrow(image, min_patch=int(eye.sum()) + 1))) == 1
    # A strip of the fill's own grey cut off by a 2-px line stays with the fill it would join
    # (a patch is kept only when its grey differs from that region's), and is not seeded.
    image = np.full((20, 34), 0.5)
    image[:, 30:32] = 0.0
    labels = segment_regiongrow(image, min_patch=REGION_MIN_PATCH)
    assert labels[10, 33] == labels[10, 0]
    assert segment_regiongrow(image)[10, 33] == labels[10, 33]


def test_regiongrow_every_pixel_labelled_and_fast() -> None:
    import time

    rng = np.random.default_rng(0)
    image = np.kron(rng.integers(0, 5, (12, 16)), np.ones((30, 30))) * 20.0
    image += rng.normal(0, 0.3, image.shape)
    start = time.perf_counter()
    labels = segment_regiongrow(image)
    elapsed = time.perf_counter() - start
    assert labels.shape == image.shape and labels.min() >= 0
    assert elapsed < 5.0  # 360x480; typically ~0.1 s


def test_felzenszwalb_separates_flat_areas() -> None:
    image = np.zeros((40, 40))
    image[10:30, 10:30] = 1.0
    labels = segment_felzenszwalb(image, min_size=20)
    assert labels[20, 20] != labels[0, 0]
    assert labels[0, 0] == labels[39, 39]


def test_segment_dispatch() -> None:
    assert segment(np.zeros((4, 4)), "none") is None
    with pytest.raises(ValueError, match="unknown refinement"):
        segment(np.zeros((4, 4)), "watershed")


def test_fill_regions_single_colour_per_region_larger_cluster() -> None:
    labels = np.zeros((4, 6), dtype=int)
    labels[:, 3:] = 7
    ab = np.zeros((4, 6, 2))
    ab[:, :3] = (40.0, -20.0)
    ab[0, 0] = (-90.0, 90.0)  # an outlier: the smaller cluster, ignored
    ab[:, 3:] = (-10.0, 5.0)
    ab[:2, 3:] = (60.0, 60.0)  # 6 vs 6: a tie goes to the first cluster, still one colour
    out = fill_regions(ab, labels)
    assert out.dtype == np.float32 and out.shape == ab.shape
    for region in (0, 7):
        colours = out[labels == region]
        assert np.all(colours == colours[0])
    np.testing.assert_allclose(out[1, 1], (40.0, -20.0), atol=1e-4)
    assert tuple(out[0, 4]) in {(-10.0, 5.0), (60.0, 60.0)}


def test_fill_regions_random_labels_every_region_constant() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 30, (30, 40))
    ab = rng.normal(0, 40, (30, 40, 2))
    out = fill_regions(ab, labels)
    for region in np.unique(labels):
        colours = out[labels == region]
        assert np.ptp(colours, axis=0).max() == 0.0
        # The fill lies inside the region's colour range (a centroid of its own pixels).
        lo, hi = ab[labels == region].min(0), ab[labels == region].max(0)
        assert np.all(colours[0] >= lo - 1e-3) and np.all(colours[0] <= hi + 1e-3)


def test_fill_regions_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        fill_regions(np.zeros((4, 4, 3)), np.zeros((4, 4), int))


def test_regions_stage_shares_the_segmentation_and_averages_models() -> None:
    image = np.zeros((16, 16), np.float32)
    image[:, 8:] = 80.0
    first = np.full((4, 4, 2), 10.0, np.float32)  # network-size ab, upsampled by the stage
    second = np.full((4, 4, 2), 30.0, np.float32)
    work = FrameWork(index=0, key=0, pts=None, lightness=image, ab_small=[first, second])
    work = Paint().apply(Regions("regiongrow", {}).apply(work))
    assert work.labels is not None and int(work.labels.max()) == 1
    assert work.region_ab is not None and work.region_ab.shape == (2, 2)
    np.testing.assert_allclose(work.ab, 20.0, atol=1e-4)
    # without refinement, Paint upsamples the models' mean ab
    plain = Paint().apply(FrameWork(index=0, key=0, pts=None, lightness=image,
                                    ab_small=[first, second]))
    assert plain.labels is None
    np.testing.assert_allclose(plain.ab, 20.0, atol=1e-3)


def test_registry_gives_the_choices_and_checks_options() -> None:
    assert refine_methods() == ("none", "regiongrow", "felzenszwalb")
    SEGMENTATIONS["felzenszwalb"].check({"scale": 50, "working_scale": 0.5})
    with pytest.raises(ValueError, match="do not apply"):
        SEGMENTATIONS["regiongrow"].check({"scale": 50})
    with pytest.raises(ValueError, match="working-scale"):
        SEGMENTATIONS["regiongrow"].check({"working_scale": 2.0})
    labels = segment(np.tile([0.0] * 6 + [9.0] * 6, (8, 1)), "felzenszwalb", min_size=1,
                     sigma=0)
    assert labels is not None and sorted(np.unique(labels).tolist()) == [0, 1]
    assert segment(np.zeros((4, 4)), "none") is None


def test_parameters_are_declared_and_checked_against_their_declaration() -> None:
    felzenszwalb = SEGMENTATIONS["felzenszwalb"]
    assert felzenszwalb.defaults == {"scale": 100.0, "sigma": 0.5, "min_size": 50}
    assert felzenszwalb.scaling == {"scale": 2, "sigma": 1, "min_size": 2}
    assert felzenszwalb.integers == frozenset({"min_size"})
    assert [felzenszwalb.flag(p) for p in felzenszwalb.parameters] == [
        "--fz-scale", "--fz-sigma", "--fz-min-size"]
    regiongrow = SEGMENTATIONS["regiongrow"]
    assert regiongrow.flag(regiongrow.parameters[0]) is None  # no options on the command line
    assert regiongrow.integers == frozenset({"min_patch", "max_iterations"})
    for options, message in (({"scale": 0}, "scale must be a number above 0"),
                             ({"min_size": 0}, "min_size must be a whole number of at least 1"),
                             ({"min_size": 2.5}, "whole number"),
                             ({"sigma": -1.0}, "sigma must be a non-negative number"),
                             ({"sigma": float("nan")}, "sigma"), ({"sigma": True}, "sigma")):
        with pytest.raises(ValueError, match=message):
            felzenszwalb.check(options)
    felzenszwalb.check({"scale": 1e-3, "sigma": 0, "min_size": 3.0})


def test_a_registered_segmentation_is_segmented_with_its_parameters(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One function and one registration: a --refine choice whose declared parameters are
    checked, scaled at a working scale, and passed to the function."""
    seen: list[dict] = []

    def columns(luminance: np.ndarray, *, width: int = 2) -> np.ndarray:
        seen.append({"width": width})
        return np.arange(np.shape(luminance)[1])[None, :].repeat(len(luminance), 0) // width

    monkeypatch.setitem(SEGMENTATIONS, "columns", Segmentation(
        "columns", columns, (Parameter("width", int, 2, "column width, px", minimum=1,
                                       scaling=1),), label="Columns", flag_prefix="col"))
    assert refine_methods()[-1] == "columns"
    labels = segment(np.zeros((4, 8)), "columns", clean_film=False, width=4)
    assert labels is not None and labels.max() == 1 and seen[-1] == {"width": 4}
    segment(np.zeros((4, 8)), "columns", clean_film=False, working_scale=0.5, width=4)
    assert seen[-1] == {"width": 2}  # a length: halved at half the resolution
    with pytest.raises(ValueError, match="width must be a whole number of at least 1"):
        SEGMENTATIONS["columns"].check({"width": 0})


def test_region_colours_follow_compact_labels() -> None:
    ab = np.zeros((2, 4, 2), np.float32)
    ab[:, 2:] = 40.0
    labels = np.array([[7, 7, 3, 3], [7, 7, 3, 3]])  # compact order: 3 -> 0, 7 -> 1
    np.testing.assert_allclose(region_colours(ab, labels), [[40.0, 40.0], [0.0, 0.0]])
