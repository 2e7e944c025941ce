"""The inputs the metrics take: RGB images checked, paired and converted.

Image metrics take one image ``(H, W, 3)``, a batch ``(N, H, W, 3)`` or a sequence of
``(H, W, 3)`` arrays (sizes may differ), RGB as ``uint8`` (0–255) or float in [0, 1]. Float
values a hair outside [0, 1] (interpolation) are clipped; values clearly outside raise
``ValueError``. Frame metrics and the streaming scorer take ``uint8`` frames only
(:func:`uint8_frame`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["ImageInput", "to_float_rgb", "checked_rgb", "image_pairs", "uint8_frame"]

ImageInput = np.ndarray | Sequence[np.ndarray]
"""One image ``(H, W, 3)``, a batch ``(N, H, W, 3)`` or a sequence of ``(H, W, 3)`` images."""

_RANGE_SLACK = 0.01  # float RGB within [-slack, 1 + slack] is clipped, beyond is an error


def to_float_rgb(image: np.ndarray) -> np.ndarray:
    """Return one RGB image ``(H, W, 3)`` as float64 in [0, 1].

    Args:
        image: ``uint8`` (0–255) or float (0–1) array of shape ``(H, W, 3)``.

    Returns:
        Float64 array ``(H, W, 3)`` in [0, 1].

    Raises:
        ValueError: wrong shape, or float values clearly outside [0, 1].
        TypeError: an unsupported dtype.

    Example:
        >>> to_float_rgb(np.array([[[255, 0, 51]]], np.uint8)).tolist()
        [[[1.0, 0.0, 0.2]]]
    """
    array = checked_rgb(image)
    return array.astype(np.float64) / 255.0 if array.dtype == np.uint8 else array


def checked_rgb(image: np.ndarray) -> np.ndarray:
    """One RGB image as given if uint8, else as float64 clipped to [0, 1]; checks shape/range.

    Raises:
        ValueError: wrong shape, or float values clearly outside [0, 1].
        TypeError: an unsupported dtype.
    """
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {array.shape}")
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"expected uint8 or float RGB, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if array.size and (
        not np.all(np.isfinite(array))
        or array.min() < -_RANGE_SLACK
        or array.max() > 1.0 + _RANGE_SLACK
    ):
        raise ValueError(
            "float RGB must be finite and in [0, 1] "
            f"(got range [{array.min():.4g}, {array.max():.4g}]; pass 0–255 values as uint8)"
        )
    return np.clip(array, 0.0, 1.0)


def _image_list(images: ImageInput) -> list[np.ndarray]:
    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            return [images]
        if images.ndim == 4:
            return list(images)
        raise ValueError(f"expected (H, W, 3) or (N, H, W, 3), got shape {images.shape}")
    return list(images)


def image_pairs(pred: ImageInput, true: ImageInput) -> list[tuple[np.ndarray, np.ndarray]]:
    """Matched pairs of checked images, both uint8 or both float64 [0, 1].

    Raises:
        ValueError: different counts, no images, a pair of different shapes, bad values.
        TypeError: an unsupported dtype.
    """
    preds, trues = _image_list(pred), _image_list(true)
    if len(preds) != len(trues):
        raise ValueError(f"got {len(preds)} predicted images but {len(trues)} ground truths")
    if not preds:
        raise ValueError("no images to compare")
    pairs = []
    for index, (p, t) in enumerate(zip(preds, trues, strict=True)):
        p_checked, t_checked = checked_rgb(p), checked_rgb(t)
        if p_checked.shape != t_checked.shape:
            raise ValueError(
                f"image {index}: prediction shape {p_checked.shape} != ground truth "
                f"{t_checked.shape}"
            )
        if p_checked.dtype != t_checked.dtype:  # mixed: compare in float
            p_checked, t_checked = to_float_rgb(p_checked), to_float_rgb(t_checked)
        pairs.append((p_checked, t_checked))
    return pairs


def uint8_frame(rgb: np.ndarray, what: str = "frame") -> np.ndarray:
    """A uint8 ``(H, W, 3)`` frame, contiguous.

    Raises:
        TypeError: not uint8 (the message names ``what``).
        ValueError: not ``(H, W, 3)`` (the message names ``what``).
    """
    array = np.asarray(rgb)
    if array.dtype != np.uint8:
        raise TypeError(f"{what}: expected a uint8 RGB frame, got dtype {array.dtype}")
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"{what}: expected an RGB frame of shape (H, W, 3), got {array.shape}")
    return np.ascontiguousarray(array)
