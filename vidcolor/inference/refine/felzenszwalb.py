"""Felzenszwalb–Huttenlocher graph segmentation (scikit-image): :func:`segment_felzenszwalb`.
"""

from __future__ import annotations

import numpy as np

from vidcolor.inference.refine.grey import normalize_luminance

#: Felzenszwalb defaults (the thesis gives none). On min-max normalised L of a 704x528 cartoon
#: these give ~90 regions per frame (flat areas bounded by the drawn lines; sigma 0.5 only
#: smooths codec noise, min_size 50 px merges specks) at ~400 ms per frame on one core
#: (scikit-image's graph build + sort + union-find); ``working_scale=0.5`` takes ~80 ms.
FELZENSZWALB_SCALE = 100.0
FELZENSZWALB_SIGMA = 0.5
FELZENSZWALB_MIN_SIZE = 50


def segment_felzenszwalb(luminance: np.ndarray, *, scale: float = FELZENSZWALB_SCALE,
                         sigma: float = FELZENSZWALB_SIGMA,
                         min_size: int = FELZENSZWALB_MIN_SIZE) -> np.ndarray:
    """Segment a grey image with Felzenszwalb–Huttenlocher (scikit-image).

    The image is min-max normalised to [0, 1] first, like
    :func:`~vidcolor.inference.refine.regiongrow.segment_regiongrow`.

    Args:
        luminance: (H, W) grey image, any numeric range.
        scale: higher means larger regions.
        sigma: Gaussian pre-smoothing.
        min_size: smallest region (px), enforced by merging.

    Returns:
        (H, W) int32 labels 0..K-1.

    >>> image = np.zeros((20, 20)); image[:, 10:] = 1.0
    >>> labels = segment_felzenszwalb(image, min_size=10)
    >>> bool(labels[0, 0] != labels[0, 19]), bool(labels[0, 0] == labels[19, 0])
    (True, True)
    """
    from skimage.segmentation import felzenszwalb

    norm = normalize_luminance(luminance).astype(np.float64)
    labels = felzenszwalb(norm, scale=scale, sigma=sigma, min_size=min_size, channel_axis=None)
    return labels.astype(np.int32, copy=False)
