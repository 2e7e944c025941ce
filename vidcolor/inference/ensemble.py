"""Combining several models' predictions (SPEC §7, thesis 8.4.2).

- ``mean``: average the models' ab (after each model's refinement). Inconsistent regions cancel
  towards grey, consistent ones stay; the thesis's best video is the mean of the segmented and
  filled outputs of all variants. Works for any mix of heads (the L2-ab variant joins in).
- ``histogram``: average the predicted colour distributions (softmax probabilities) before
  decoding, the alternative the thesis names but did not try. Needs every model to predict over
  the same ab gamut.

Pure numpy / array-API functions; they work on numpy arrays and on torch tensors alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

from vidcolor.errors import CheckpointError

ENSEMBLE_METHODS = ("mean", "histogram")

ArrayT = TypeVar("ArrayT")


def _average(items: Sequence[ArrayT], what: str) -> ArrayT:
    if len(items) == 0:
        raise ValueError(f"nothing to average: no {what} given")
    shapes = {tuple(item.shape) for item in items}  # type: ignore[attr-defined]
    if len(shapes) != 1:
        raise ValueError(f"cannot average {what} of different shapes: {sorted(shapes)}")
    if len(items) == 1:
        return items[0]
    total = items[0] + 0  # a copy, whatever the array type
    for item in items[1:]:
        total = total + item
    return total / len(items)


def mean_ab(abs_per_model: Sequence[ArrayT]) -> ArrayT:
    """Average several models' ab predictions of the same frame(s).

    Args:
        abs_per_model: arrays of equal shape (numpy or torch), e.g. (H, W, 2) or (N, 2, H, W).

    Returns:
        Their element-wise mean (the single input itself when there is one).

    >>> mean_ab([np.array([10.0, -20.0]), np.array([30.0, 20.0])]).tolist()
    [20.0, 0.0]
    """
    return _average(abs_per_model, "ab predictions")


def mean_histogram(probs_per_model: Sequence[ArrayT]) -> ArrayT:
    """Average several models' predicted colour distributions (probabilities, not logits).

    Args:
        probs_per_model: (N, Q, h, w) softmax outputs over the same Q bins.

    Returns:
        (N, Q, h, w) mean distribution; still sums to 1 over Q.

    >>> mean_histogram([np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])]).tolist()
    [[0.5, 0.5]]
    """
    return _average(probs_per_model, "colour distributions")


def check_histogram_ensemble(names: Sequence[str], heads: Sequence[str],
                             bins: Sequence[Any]) -> None:
    """Check that models can be combined by averaging their histograms.

    Args:
        names: a display name per model (its checkpoint path).
        heads: each model's ``head`` ("histogram" or "ab").
        bins: each model's (Q, 2) bin centres, or None for an ab head.

    Raises:
        CheckpointError: a model predicts ab directly, or the models' gamuts differ.
    """
    for name, head in zip(names, heads, strict=True):
        if head != "histogram":
            raise CheckpointError(
                f"{name}: predicts ab directly (head {head!r}), so it has no colour histogram to "
                "average; use --ensemble mean")
    reference = np.asarray(bins[0])
    for name, other in zip(names[1:], bins[1:], strict=True):
        other = np.asarray(other)
        if other.shape != reference.shape or not np.allclose(other, reference):
            raise CheckpointError(
                f"{name}: its ab gamut ({len(other)} bins) differs from {names[0]}'s "
                f"({len(reference)} bins); --ensemble histogram needs models trained on the same "
                "gamut, use --ensemble mean")
