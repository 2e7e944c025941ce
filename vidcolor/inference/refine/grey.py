"""The grey image the regions are found on: min-max normalised (:func:`normalize_luminance`),
a film print's vertical scratches taken out (:func:`clean_for_segmentation`)."""

from __future__ import annotations

import numpy as np

#: A column is a scratch when over this share of its rows are brighter (or darker) by more than
#: :data:`SCRATCH_CONTRAST` than both pixels :data:`SCRATCH_REACH` px to each side: a drawn
#: vertical line rarely runs down nearly the whole frame, a scratch does
#: (:func:`remove_scratches`).
#: Measured: no column found on the demo's 3x480 clean twins, copying_is_not_theft (262 frames)
#: or Big Buck Bunny (180); a scratch on 75 % of the frames of the demo's film twin; on
#: Steamboat Willie's scan, the bright edge of the picture beside its pillarbox.
SCRATCH_ROWS = 0.7
SCRATCH_REACH = 4
SCRATCH_CONTRAST = 0.01
#: ... counting only the rows where it could show: a bright scratch is lost where the picture is
#: already within this of white, a dark one within this of black.
SCRATCH_HIDDEN = 0.1


def normalize_luminance(luminance: np.ndarray) -> np.ndarray:
    """Stretch a grey image to [0, 1] (min-max), as float32.

    The thesis normalises every frame so a fixed threshold also works on fades. A constant image
    maps to all zeros.

    >>> normalize_luminance(np.array([[10.0, 20.0], [30.0, 50.0]])).tolist()
    [[0.0, 0.25], [0.5, 1.0]]
    """
    values = np.asarray(luminance, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"luminance must be a 2-D array, got shape {values.shape}")
    low, high = float(values.min()), float(values.max())
    if high - low <= 0:
        return np.zeros_like(values)
    return (values - low) / (high - low)


def remove_scratches(norm: np.ndarray, *, reach: int = SCRATCH_REACH,
                     contrast: float = SCRATCH_CONTRAST,
                     rows: float = SCRATCH_ROWS) -> np.ndarray:
    """Replace vertical scratches by what their rows show beside them.

    A pixel is on a bright line when it is brighter by more than ``contrast`` than both pixels
    ``reach`` px to its left and right (a dark line: darker than both), which finds lines up to
    about ``2 reach - 1`` px wide. A column that is on a line of one kind on more than ``rows``
    of the rows where such a line could show (for a bright line, where its sides are below
    ``1 -`` :data:`SCRATCH_HIDDEN`; for a dark one, above it) is a scratch: a drawn line rarely
    runs down nearly the whole frame, a scratch does. Scratch columns and their neighbours (a
    sub-pixel scratch covers two) are interpolated, row by row, between the columns on either
    side, wherever they differ from that by more than ``contrast / 2``. A horizontal line
    crossing a scratch is on both sides too, so it stays.

    Args:
        norm: ``(H, W)`` grey image normalised to [0, 1] (:func:`normalize_luminance`).
        reach: how far each side the line test looks (px).
        contrast: the difference that counts, in the image's units.
        rows: the share of a column's rows a scratch covers.

    Returns:
        ``(H, W)`` float32, ``norm`` where no scratch was found.

    >>> image = np.full((20, 20), 0.5, np.float32); image[:, 7] = 0.9; image[4:6, :] = 0.0
    >>> cleaned = remove_scratches(image)
    >>> float(cleaned[:, 7].max()), float(cleaned[4, 7])
    (0.5, 0.0)
    """
    norm = np.asarray(norm, np.float32)
    height, width = norm.shape
    if width <= 2 * reach or height < 4:
        return norm
    # Find the scratches on every other row (a scratch runs down the whole frame).
    sample = np.pad(norm[::2], ((0, 0), (reach, reach)), mode="edge")
    left, centre, right = sample[:, :-2 * reach], norm[::2], sample[:, 2 * reach:]
    brighter = np.minimum(centre - left, centre - right) > contrast
    darker = np.minimum(left - centre, right - centre) > contrast
    # A bright scratch cannot show where the picture is already white, nor a dark one on black:
    # count the rows where it could.
    can_brighten = (np.maximum(left, right) < 1 - SCRATCH_HIDDEN).sum(axis=0)
    can_darken = (np.minimum(left, right) > SCRATCH_HIDDEN).sum(axis=0)
    enough = len(centre) * (1 - rows)
    scratch = ((brighter.sum(axis=0) > rows * can_brighten) & (can_brighten >= enough)) | (
        (darker.sum(axis=0) > rows * can_darken) & (can_darken >= enough))
    if not scratch.any():
        return norm
    near = scratch.copy()
    near[1:] |= scratch[:-1]
    near[:-1] |= scratch[1:]
    cleaned = norm.copy()
    # Each run of scratch columns [first, last]: interpolate between first - 1 and last + 1.
    edges = np.flatnonzero(np.diff(np.concatenate([[0], near.astype(np.int8), [0]])))
    for first, end in zip(edges[::2], edges[1::2], strict=True):
        before, after = max(first - 1, 0), min(end, width - 1)
        weight = (np.arange(first, end, dtype=np.float32) - before) / max(after - before, 1)
        between = norm[:, before, None] * (1 - weight) + norm[:, after, None] * weight
        part = norm[:, first:end]
        cleaned[:, first:end] = np.where(np.abs(part - between) > contrast / 2, between, part)
    return cleaned


def clean_for_segmentation(luminance: np.ndarray) -> np.ndarray:
    """The grey image the regions are found on: the min-max normalised grey without scratches.

    Vertical scratches (a film print's) are interpolated from the columns beside them
    (:func:`remove_scratches`); a grey without any is only normalised. Grain is left: region
    growing's threshold is far above it. Measured on the demo's film twin: a bilateral filter
    against the grain changed nothing (PSNR 28.67 dB with it, 28.69 without), and gating the
    cleaning on the frame's grain (a Laplacian noise estimate) left the scratches of a print
    without grain in, where they cut regions in two.

    Args:
        luminance: ``(H, W)`` grey image, any numeric range.

    Returns:
        ``(H, W)`` float32 in [0, 1].

    >>> image = np.zeros((24, 24), np.float32); image[:, 12:] = 100.0
    >>> bool(np.array_equal(clean_for_segmentation(image), normalize_luminance(image)))
    True
    """
    return remove_scratches(normalize_luminance(luminance))
