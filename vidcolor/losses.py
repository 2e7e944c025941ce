"""Training losses (SPEC §4, thesis 5.3 and 7.1): pure functions on tensors.

* :func:`rebalanced_cross_entropy`: per-pixel cross-entropy between a soft-encoded target
  histogram and the predicted softmax, times the rebalancing weight ``w[q*]`` of the target's
  arg-max bin ``q*`` (all ones without rebalancing), averaged over pixels;
* :func:`ab_l2_loss`: the Euclidean loss of the ``l2`` variant on ab directly.

Both are computed in float32 even under mixed precision (softmax of 261 bins in bf16 is too
coarse).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def rebalanced_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                             weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over pixels of ``-w[argmax q] · Σ_q q · log softmax(z)_q``.

    Args:
        logits: (N,Q,h,w) predicted bin logits.
        target: (N,Q,h,w) soft-encoded target histograms (each pixel sums to 1).
        weights: (Q,) rebalancing weights, or None for no rebalancing.

    Returns:
        A scalar tensor (float32).

    Example:
        >>> logits = torch.zeros(1, 4, 1, 1)
        >>> target = torch.tensor([1.0, 0, 0, 0]).view(1, 4, 1, 1)
        >>> round(rebalanced_cross_entropy(logits, target).item(), 4)  # log 4
        1.3863
    """
    if logits.shape != target.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} differ")
    log_probs = F.log_softmax(logits.float(), dim=1)
    target = target.float()
    per_pixel = -(target * log_probs).sum(dim=1)  # (N,h,w)
    if weights is not None:
        per_pixel = per_pixel * weights.float()[target.argmax(dim=1)]
    return per_pixel.mean()


def ab_l2_loss(pred_ab: torch.Tensor, target_ab: torch.Tensor) -> torch.Tensor:
    """Euclidean loss of the L2 variant: mean over pixels of ``½ ‖ab_pred − ab_true‖²``.

    The ab values are divided by 110 first so that the loss has the same order of magnitude
    as the histogram losses (Caffe's EuclideanLoss on the network's scaled output).

    Args:
        pred_ab: (N,2,h,w) predicted ab.
        target_ab: (N,2,h,w) true ab.

    Returns:
        A scalar tensor (float32).
    """
    if pred_ab.shape != target_ab.shape:
        raise ValueError(f"prediction {tuple(pred_ab.shape)} and target "
                         f"{tuple(target_ab.shape)} differ")
    diff = (pred_ab.float() - target_ab.float()) / 110.0
    return 0.5 * diff.pow(2).sum(dim=1).mean()
