"""Applying a series' look at render: neutral ink and highlights, the chroma ceiling, the
credit screens' colours and the palette's regions (:class:`vidcolor.series.SeriesLook`, learnt
by :mod:`vidcolor.series.learn`).

Pure numpy, run per frame in render's worker processes (no torch).
"""

from __future__ import annotations

import numpy as np

from vidcolor.color import linear_to_srgb, srgb_to_linear
from vidcolor.color.frames import lightness_of_luminance, luminance_of_lightness, rgb_to_lab_frame
from vidcolor.extract import credit_signature
from vidcolor.series import PALETTE_ROWS, SeriesLook, height_band

#: A region takes a palette colour when the colour gathers at least this much of its predicted
#: distribution (kernel-weighted, :func:`palette_support`).
PALETTE_MIN_SUPPORT = 0.25
#: How much the palette's layout (:func:`layout_prior`) weighs beside the network's evidence.
LAYOUT_WEIGHT = 1.0
#: ... in full for a region of at least this share of the frame, less for smaller ones.
LAYOUT_FULL_SHARE = 0.1
#: A grey frame's text may be this much darker (L units) than the credits' text at its
#: background's brightness (thin text at a low resolution keeps less of its own colour) ...
CREDIT_TEXT_BELOW = 12.0
#: ... or this much lighter (encoding noise; quantisation of deep fades).
CREDIT_TEXT_ABOVE = 6.0
#: How far a credit screen's background may spread (5-95 % of its luminance, relative to its
#: level) and still be flat (:func:`credit_fade`).
CREDIT_SPREAD = 0.4


def apply_ceiling(light: np.ndarray, ab: np.ndarray, ceiling: np.ndarray) -> np.ndarray:
    """Scale each pixel's ab down to the chroma ceiling of its L (a new array)."""
    index = np.clip(np.rint(light), 0, 100).astype(np.intp)
    limit = ceiling[index]
    chroma = np.hypot(ab[..., 0], ab[..., 1])
    scale = np.minimum(1.0, limit / np.maximum(chroma, 1e-6)).astype(np.float32)
    return ab * scale[..., None]


def apply_look(light: np.ndarray, ab: np.ndarray, look: SeriesLook) -> np.ndarray:
    """The series' neutrals: pixels of a neutral lightness take the series' typical ab there
    (its ink or highlight tint); the others keep their hue with chroma at most the ceiling."""
    out = apply_ceiling(light, ab, look.chroma_ceiling)
    index = np.clip(np.rint(light), 0, 100).astype(np.intp)
    neutral = look.neutral[index]
    if neutral.any():
        out[neutral] = look.typical_ab[index[neutral]]
    return out


def credit_fade(light: np.ndarray, look: SeriesLook, *, min_share: float = 0.8
                ) -> float | None:
    """Whether a grey frame shows the series' credit screen, and how faded it is.

    In a grey twin a credit screen is a flat background of luminance ``Y_b`` (times a fade
    factor ``f``) holding most pixels, with text of luminance ``Y_t`` (times the same ``f``).
    The frame is one when its :func:`credit_signature` has a dark share over ``min_share``, a
    flat background, and text whose lightness is the credits' at this background's.

    Returns:
        The fade factor ``f`` (1: full brightness), or None when the frame is not a credit
        screen of this series (or the series has no credit colours).
    """
    grey = look.credit_grey_signature()
    if grey is None:
        return None
    signature = credit_signature(light)
    if signature is None or signature.share <= min_share:
        return None
    # flat: the background's 5-95 % spread of luminance within 40 % of its level (a clean
    # twin's is within 1 %; a film print's grain spreads a faded screen's to 25 %)
    if signature.spread > CREDIT_SPREAD * signature.background + 0.002:
        return None
    full, _text, low, high = grey
    text_light = float(lightness_of_luminance(signature.text))
    lowest = float(lightness_of_luminance(signature.background * low)) - CREDIT_TEXT_BELOW
    highest = float(lightness_of_luminance(signature.background * high)) + CREDIT_TEXT_ABOVE
    if not lowest <= text_light <= highest:
        return None
    fade = signature.background / full
    return fade if fade <= 1.3 else None


def paint_credits(light: np.ndarray, look: SeriesLook, fade: float) -> np.ndarray:
    """The ab of a credit screen: each pixel a mix of the credit colours that has its L.

    In linear RGB a pixel is ``f ((1 - α) c_b + α c_t)``; α follows from its luminance and the
    credits' grey signature (:meth:`SeriesLook.credit_grey_signature`), so the colour's L is the
    pixel's own.

    Returns:
        ``(H, W, 2)`` float32 ab.
    """
    grey = look.credit_grey_signature()
    assert grey is not None and look.credit_background is not None
    assert look.credit_text is not None
    back = srgb_to_linear(np.asarray(look.credit_background) / 255.0)
    text = srgb_to_linear(np.asarray(look.credit_text) / 255.0)
    back_y, text_y = grey[0], grey[1]
    y = luminance_of_lightness(light)
    alpha = np.clip((y / fade - back_y) / (text_y - back_y), 0.0, 1.0)[..., None]
    linear = np.clip(fade * ((1 - alpha) * back + alpha * text), 0.0, 1.0)
    rgb = np.rint(linear_to_srgb(linear) * 255.0).astype(np.uint8)
    return rgb_to_lab_frame(rgb)[..., 1:]


def palette_support(region_probs: np.ndarray, region_light: np.ndarray, bins: np.ndarray,
                    palette: np.ndarray, *, light_tolerance: float = 6.0, sigma: float = 8.0
                    ) -> np.ndarray:
    """How much each region's predicted distribution supports each palette colour.

    Colour k's support in region r is the predicted mass near its ab,
    ``Σ_q P_r(q) exp(-|ab_k - ab_q|² / 2σ²)``; colours whose lightness is more than
    ``light_tolerance`` from the region's get -1 (they cannot be its colour).

    Returns:
        ``(R, K)`` float32.
    """
    distance = ((palette[:, None, 1:] - bins[None, :, :]) ** 2).sum(-1)  # (K, Q)
    kernel = np.exp(-distance / (2 * sigma * sigma)).astype(np.float32)
    support = np.asarray(region_probs, np.float32) @ kernel.T  # (R, K)
    fits = np.abs(region_light[:, None] - palette[None, :, 0]) <= light_tolerance
    return np.where(fits, support, np.float32(-1.0))


def region_bands(labels: np.ndarray, count: int) -> np.ndarray:
    """``(R, PALETTE_ROWS)``: how many pixels of each region lie in each band of the frame's
    height (the regions' sizes and layout, for :func:`layout_prior`).

    >>> region_bands(np.array([[0, 0], [1, 1], [1, 1], [1, 0]] * 2), 2)[:, :4].tolist()
    [[2, 0, 0, 1], [0, 2, 2, 1]]
    """
    height = labels.shape[0]
    band = height_band((np.arange(height) + 0.5) / height)
    index = np.asarray(labels, np.intp) * PALETTE_ROWS + band[:, None]
    return np.bincount(index.ravel(), minlength=count * PALETTE_ROWS).reshape(count,
                                                                            PALETTE_ROWS)


def layout_prior(support: np.ndarray, bands: np.ndarray, look: SeriesLook) -> np.ndarray:
    """What the series' layout says of each region's palette colour, in log units.

    Two things the network may not see in its window: **where** a colour is painted (a
    region's mean log-density of its pixels' heights under the colour's learnt
    :attr:`SeriesLook.palette_rows`: floors are low, skies high), and **with what** (the frame's
    other regions: ``Σ_j c_j log P(k | j) / Σ_j c_j``, where ``c_j`` is the area the other
    regions give colour j by their support and position, and ``P(k | j)`` the learnt
    :attr:`SeriesLook.palette_together`: a sky comes with grass, a lab wall with its floor).
    A series whose colours go anywhere with anything learns flat densities and gets ~0. The
    prior counts in full for a region, and for a colour, of at least :data:`LAYOUT_FULL_SHARE`
    of the frame (the colour's learnt extent), in proportion for smaller ones: characters and
    props move anywhere, with anything, and what a few training episodes happened to show of
    them is chance (on the demo, an undamped prior turned a green character red and a yellow
    one grey).

    Args:
        support: ``(R, K)`` :func:`palette_support` (-1: the colour does not fit).
        bands: ``(R, PALETTE_ROWS)`` :func:`region_bands`.
        look: the series' look; without a learnt layout the prior is 0.

    Returns:
        ``(R, K)`` float32 log prior (0 where a colour does not fit).
    """
    fits = support >= 0
    if not look.has_layout or not len(support):
        return np.zeros(support.shape, np.float32)
    counts = np.asarray(bands, np.float64)
    size = counts.sum(axis=1)
    position = (counts / np.maximum(size, 1.0)[:, None]) @ np.log(look.palette_rows).T.astype(
        np.float64)
    shifted = np.where(fits, position, -np.inf)
    top = shifted.max(axis=1, keepdims=True)
    first = np.where(fits, np.maximum(support, 0.0) * np.exp(shifted - np.where(
        np.isfinite(top), top, 0.0)), 0.0)
    first /= np.maximum(first.sum(axis=1, keepdims=True), 1e-12)
    mass = first * size[:, None]  # the area each region gives each colour
    context = mass.sum(axis=0)[None, :] - mass  # ... and what the other regions give
    weight = context.sum(axis=1, keepdims=True)
    together = (context @ np.log(look.palette_together.astype(np.float64))) / np.maximum(
        weight, 1e-12)
    # the layout is the large regions' business: a small one (a character, a prop) may stand
    # anywhere, with anything, whatever a few training episodes happened to show
    share = np.minimum(size / max(float(size.sum()), 1.0) / LAYOUT_FULL_SHARE, 1.0)
    extent = np.minimum(look.palette_extent / LAYOUT_FULL_SHARE, 1.0)
    prior = LAYOUT_WEIGHT * share[:, None] * extent[None, :] * (
        position + np.where(weight > 0, together, 0.0))
    return np.where(fits, prior, 0.0).astype(np.float32)


def weigh_support(support: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """The palette support after a log prior: ``s_k e^{p_k} / (Σ_j s_j e^{p_j} + r)`` times
    ``Σ_j s_j + r``, where ``r`` is the predicted mass near no fitting colour (which the layout
    says nothing of: prior 0). A prior of 0 leaves the support as it is; a colour the layout
    rules out passes its mass to the others in proportion.

    >>> support = np.array([[0.07, 0.83, -1.0]], np.float32)
    >>> def show(weighed): return [round(float(v), 2) for v in weighed[0]]
    >>> show(weigh_support(support, np.zeros((1, 3), np.float32)))
    [0.07, 0.83, -1.0]
    >>> show(weigh_support(support, np.array([[0.0, -4.6, 0.0]], np.float32)))
    [0.39, 0.05, -1.0]
    """
    fits = support >= 0
    held = np.where(fits, support, 0.0).astype(np.float64)
    rest = np.clip(1.0 - held.sum(axis=1, keepdims=True), 0.0, None)
    weighed = held * np.exp(np.where(fits, prior, 0.0).astype(np.float64))
    total = weighed.sum(axis=1, keepdims=True) + rest
    scaled = weighed / np.maximum(total, 1e-12) * (held.sum(axis=1, keepdims=True) + rest)
    return np.where(fits, scaled, -1.0).astype(np.float32)


def choose_palette(region_probs: np.ndarray, region_light: np.ndarray, bins: np.ndarray,
                   palette: np.ndarray, fallback: np.ndarray, *, light_tolerance: float = 6.0,
                   sigma: float = 8.0, min_support: float = PALETTE_MIN_SUPPORT,
                   bands: np.ndarray | None = None, look: SeriesLook | None = None
                   ) -> np.ndarray:
    """Each region's colour: the palette colour its predicted distribution supports best.

    For region r with mean predicted distribution ``P_r`` over the ab bins and lightness
    ``L_r``, the palette colours of a fitting lightness are candidates
    (:func:`palette_support`); the best-supported one wins when its support reaches
    ``min_support``; otherwise (no palette colour fits the lightness, or the network sees none
    of them) the region keeps ``fallback`` (its predicted colour).

    Args:
        region_probs: ``(R, Q)`` mean predicted distribution of each region.
        region_light: ``(R,)`` each region's lightness (median L).
        bins: ``(Q, 2)`` ab bin centres.
        palette: ``(K, 3)`` Lab palette.
        fallback: ``(R, 2)`` the regions' predicted ab.
        bands, look: the regions' :func:`region_bands` and the series' look: the support is
            weighed by the palette's learnt layout (:func:`layout_prior`) when both are given.

    Returns:
        ``(R, 2)`` float32 ab.
    """
    if not len(palette) or not len(region_probs):
        return np.asarray(fallback, np.float32)
    support = palette_support(region_probs, region_light, bins, palette,
                              light_tolerance=light_tolerance, sigma=sigma)
    if bands is not None and look is not None:
        support = weigh_support(support, layout_prior(support, bands, look))
    best = support.argmax(axis=1)
    chosen = support[np.arange(len(best)), best] >= min_support
    result = np.asarray(fallback, np.float32).copy()
    result[chosen] = palette[best[chosen], 1:]
    return result
