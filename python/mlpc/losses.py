"""Losses, averaged over the batch, computed by the C core in the scores' dtype.

cost = loss_fn(scores, targets) returns a float; loss_fn.backward() returns ∂cost/∂scores.
All are exact for every finite logit up to the dtype's largest value (costs summed in double;
only a float64 cost beyond 1.8e308 overflows to inf): see the comment atop csrc/core/loss.inc.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core


class Loss:
    kind: int

    def __init__(self) -> None:
        self._grad: Optional[NDArray[Any]] = None

    def __call__(self, scores: ArrayLike, targets: ArrayLike) -> float:
        cost, self._grad = _core.loss(self.kind, scores, targets)
        return cost

    forward = __call__

    def backward(self) -> NDArray[Any]:
        """∂cost/∂scores of the last call."""
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward() needs a call first")
        return self._grad

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SoftmaxCrossEntropy(Loss):
    """C = (1/N) Σₙ −log softmax(sₙ)[yₙ] for int labels y (N,), or −(1/N) Σₙ Σₖ yₙₖ log pₙₖ for
    one-hot or probability rows (N, K). ∂C/∂s = (softmax(s) − Y)/N."""

    kind = _core.LOSS_SOFTMAX_CROSS_ENTROPY


class BinaryCrossEntropy(Loss):
    """Sigmoid + binary cross-entropy on logits, for multi-label targets in [0, 1] of shape
    (N, K): C = −(1/N) Σ [y log σ(s) + (1 − y) log(1 − σ(s))], ∂C/∂s = (σ(s) − y)/N."""

    kind = _core.LOSS_BINARY_CROSS_ENTROPY


class MSELoss(Loss):
    """The quadratic cost C = 1/(2N) Σₙ ‖yₙ − ŷₙ‖², ∂C/∂ŷ = (ŷ − y)/N. (PyTorch's MSELoss divides
    by N·K and has no ½.)"""

    kind = _core.LOSS_MSE


def softmax(scores: ArrayLike) -> NDArray[Any]:
    """Softmax probabilities over the last axis: of a (K,) vector, of each row of a (N, K) array,
    or of any (..., K) array."""
    s = np.asarray(scores)
    if s.ndim == 2:
        return _core.softmax(s)
    if s.ndim == 0 or s.size == 0:
        raise ValueError(f"softmax: expected scores with a non-empty last axis (the classes), got "
                         f"shape {s.shape}")
    return _core.softmax(s.reshape(-1, s.shape[-1])).reshape(s.shape)
