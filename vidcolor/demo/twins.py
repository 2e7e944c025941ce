"""The black-and-white twin of a colour frame: its grey level as R = G = B (by default each
pixel's luminance, or the luma an archive's copy has, see
:data:`vidcolor.color.grey.GREY_MODELS`)."""

from __future__ import annotations

import numpy as np

from vidcolor.color.grey import grey_of_rgb


def luminance_grey(rgb: np.ndarray) -> np.ndarray:
    """Reduce sRGB colours to grey with the same luminance (and so the same Lab L).

    :func:`vidcolor.color.grey.grey_of_rgb` with the ``luminance`` model: the relative luminance
    ``Y`` of the linearised sRGB values is encoded back with the sRGB curve and rounded, so the
    grey has the colour's Lab L up to rounding.

    Args:
        rgb: ``(..., 3)`` uint8 sRGB values.

    Returns:
        ``(...)`` uint8 grey levels.

    Example:
        >>> int(luminance_grey(np.array([255, 255, 255], np.uint8)))
        255
    """
    return grey_of_rgb(np.asarray(rgb, dtype=np.uint8), "luminance")


def bw_frame(rgb: np.ndarray, grey: str = "luminance") -> np.ndarray:
    """The black-and-white twin of an RGB frame: its grey level as R = G = B.

    Args:
        rgb: ``(height, width, 3)`` uint8 RGB frame.
        grey: the grey model (:data:`vidcolor.color.grey.GREY_MODELS`); the default
            ``luminance`` keeps each pixel's Lab L (:func:`luminance_grey`).

    Returns:
        ``(height, width, 3)`` uint8 grey frame.

    Raises:
        ValueError: an unknown grey model.
    """
    level = grey_of_rgb(np.asarray(rgb, dtype=np.uint8), grey)
    return np.repeat(level[..., None], 3, axis=2)
