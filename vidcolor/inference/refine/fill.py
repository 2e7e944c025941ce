"""The fill: each region painted with one colour, the centroid of the larger cluster of a
2-means on its predicted ab (:func:`region_colours`, :func:`fill_regions`)."""

from __future__ import annotations

import numpy as np


def compact_labels(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..K-1 in order of value, so that every label is used (O(N), no sort).

    >>> compact_labels(np.array([[5, 5], [9, 2]])).tolist()
    [[1, 1], [2, 0]]
    """
    flat, _ = _flat_labels(labels)
    return flat.reshape(np.shape(labels)).astype(np.int32, copy=False)


def _flat_labels(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Flat labels renumbered 0..K-1 (in order of value) and K."""
    flat = np.asarray(labels).ravel()
    if flat.size == 0:
        return flat.astype(np.intp), 0
    if flat.min() < 0:
        raise ValueError("labels must be non-negative")
    flat = flat.astype(np.intp, copy=False)
    present = np.bincount(flat) > 0
    if present.all():
        return flat, len(present)
    lookup = np.cumsum(present) - 1
    return lookup[flat], int(present.sum())


def region_colours(ab: np.ndarray, labels: np.ndarray, *, iterations: int = 10,
                   full_iterations: int = 1) -> np.ndarray:
    """The colour of each region: the centroid of the larger cluster of a 2-means on its ab.

    All regions are clustered at once with ``np.bincount`` (no per-region loop, no
    scikit-learn call). Initialisation is deterministic: the two centroids start one standard
    deviation either side of the region's mean along its principal axis of ab; then Lloyd
    steps (stopping when no pixel changes cluster): at most ``iterations`` on a 2x2-strided
    subsample, then at most ``full_iterations`` on all pixels. An empty cluster keeps its
    previous centroid; on equal sizes the first cluster wins.

    Each Lloyd step is one pass over the pixels: the assignment is a half-plane test
    (gathered per-region line coefficients), and both clusters' sums come from one
    ``bincount`` on ``2 * label + cluster``.

    Args:
        ab: (H, W, 2) predicted a, b.
        labels: (H, W) non-negative integer region labels.
        iterations: Lloyd iterations on the subsample (on all pixels for images under 4x4).
        full_iterations: Lloyd iterations on all pixels after the subsample's.

    Returns:
        (K, 2) float32: the ab of each region, in the order of :func:`compact_labels` (for
        compact labels, row k is label k's colour).

    >>> ab = np.zeros((2, 3, 2)); ab[0, 0] = (90, 90)
    >>> region_colours(ab, np.zeros((2, 3), int)).tolist()
    [[0.0, 0.0]]
    """
    ab = np.asarray(ab)
    if ab.ndim != 3 or ab.shape[2] != 2 or ab.shape[:2] != np.shape(labels):
        raise ValueError(f"ab must be (H, W, 2) matching labels {np.shape(labels)}, "
                         f"got {ab.shape}")
    flat_labels, regions = _flat_labels(labels)
    if regions == 0:
        return np.zeros((0, 2), np.float32)
    a = np.ascontiguousarray(ab[..., 0], dtype=np.float32).ravel()
    b = np.ascontiguousarray(ab[..., 1], dtype=np.float32).ravel()

    def region_sum(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(flat_labels, weights=weights, minlength=regions)

    count = region_sum()
    sum_a, sum_b = region_sum(a), region_sum(b)
    mean_a, mean_b = sum_a / count, sum_b / count
    # Second moments about the mean from raw moments (float64 sums; ab is bounded by ~110).
    var_a = np.maximum(region_sum(a * a) / count - mean_a * mean_a, 0.0)
    var_b = np.maximum(region_sum(b * b) / count - mean_b * mean_b, 0.0)
    cov = region_sum(a * b) / count - mean_a * mean_b
    # Largest eigenvalue and its eigenvector of [[var_a, cov], [cov, var_b]].
    half_trace, det = (var_a + var_b) / 2, var_a * var_b - cov * cov
    eigen = half_trace + np.sqrt(np.maximum(half_trace * half_trace - det, 0.0))
    tiny = np.abs(cov) <= 1e-9 * np.maximum(half_trace, 1e-12)
    axis_a = np.where(~tiny, eigen - var_b, np.where(var_a >= var_b, 1.0, 0.0))
    axis_b = np.where(~tiny, cov, np.where(var_a >= var_b, 0.0, 1.0))
    norm = np.hypot(axis_a, axis_b)
    norm[norm == 0] = 1.0
    spread = np.sqrt(np.maximum(eigen, 0.0)) / norm
    centres = np.stack([np.stack([mean_a - spread * axis_a, mean_b - spread * axis_b], 1),
                        np.stack([mean_a + spread * axis_a, mean_b + spread * axis_b], 1)])
    # Lloyd on every 4th pixel (a 2x2 stride: the predicted ab is a smooth bicubic upsampling,
    # so this subsample shows each region's colour distribution) until no sample changes
    # cluster (at most ``iterations`` steps), then at most ``full_iterations`` steps on every
    # pixel (default 1), so that the centroids are those of full-resolution clusters. A full
    # step costs ~7 ms at 704x528, a subsample step ~2 ms.
    if ab.shape[0] >= 4 and ab.shape[1] >= 4:
        grid = np.arange(flat_labels.size).reshape(ab.shape[:2])[::2, ::2].ravel()
        _lloyd(flat_labels[grid], a[grid], b[grid], centres, regions, iterations)
        in_second = _lloyd(flat_labels, a, b, centres, regions, full_iterations)
    else:
        in_second = _lloyd(flat_labels, a, b, centres, regions, iterations)
    size_second = np.bincount(flat_labels, weights=in_second, minlength=regions)
    larger = np.where(size_second > count - size_second, 1, 0)
    return centres[larger, np.arange(regions)].astype(np.float32)


def fill_regions(ab: np.ndarray, labels: np.ndarray, **options: int) -> np.ndarray:
    """Paint each region with its :func:`region_colours` colour (the thesis's flood fill).

    Returns:
        (H, W, 2) float32, constant within each region.

    >>> ab = np.zeros((2, 3, 2)); ab[0, 0] = (90, 90)
    >>> fill_regions(ab, np.zeros((2, 3), int))[:, :, 0].tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    flat, _ = _flat_labels(labels)
    return region_colours(ab, labels, **options).take(flat, axis=0).reshape(np.shape(ab))


def _lloyd(labels: np.ndarray, a: np.ndarray, b: np.ndarray, centres: np.ndarray, regions: int,
           iterations: int) -> np.ndarray:
    """Lloyd steps of per-region 2-means, updating ``centres`` (2, regions, 2) in place.

    Returns the final assignment (True: second cluster). An empty cluster keeps its centre.
    """
    in_second = np.zeros(labels.shape, dtype=bool)
    base = 2 * labels
    for step in range(iterations):
        # Nearer to the second centre  <=>  (c2 - c1) . x > (|c2|^2 - |c1|^2) / 2
        direction = (centres[1] - centres[0]).astype(np.float32)
        offset = (((centres[1] ** 2).sum(1) - (centres[0] ** 2).sum(1)) / 2).astype(np.float32)
        score = a * direction[:, 0].take(labels)
        score += b * direction[:, 1].take(labels)
        new_second = score > offset.take(labels)
        if step > 0 and np.array_equal(new_second, in_second):
            break
        in_second = new_second
        pair_labels = base + in_second
        size = np.bincount(pair_labels, minlength=2 * regions).reshape(regions, 2)
        pair_a = np.bincount(pair_labels, weights=a, minlength=2 * regions).reshape(regions, 2)
        pair_b = np.bincount(pair_labels, weights=b, minlength=2 * regions).reshape(regions, 2)
        for cluster in (0, 1):
            has = size[:, cluster] > 0
            centres[cluster][has, 0] = pair_a[has, cluster] / size[has, cluster]
            centres[cluster][has, 1] = pair_b[has, cluster] / size[has, cluster]
    return in_second
