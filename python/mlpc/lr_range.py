"""mlpc.lr_find: the learning-rate range test (Smith 2017; fastai's and Lightning's lr_find).

    result = mlpc.lr_find(net, loss_fn, opt, X, y)
    result.suggested_lr           # the rule below
    result.plot()                 # loss against lr, log axis, the suggestion marked
    lrs, losses, lr = result      # or unpack it

On a copy of the network and of the optimizer (state included; `net` and `opt` are left
bit-identical), train num_steps mini-batches with the learning rate rising exponentially from
start_lr to end_lr: lr_k = start_lr · (end_lr/start_lr)^(k/(num_steps − 1)). The loss of step k
is the batch cost train_step returns (before its update). The losses are smoothed by an
exponential moving average with bias correction (s_k = avg_k/(1 − β^(k+1)), avg_k = β avg_{k−1}
+ (1 − β) loss_k, β = `smoothing`), and the test stops early once the smoothed loss exceeds
`diverge` times its lowest value so far, or a cost is not finite.

Suggested lr (the "steepest descent" rule, as Lightning's): the lr at which the smoothed loss
falls fastest against log lr — the most negative np.gradient(s, log10 lr) — among the steps
before the smoothed loss's minimum, leaving out the first `skip_start` steps (the average is
still settling there). None when fewer than 3 steps are left to choose from.
"""
import math
from typing import Any, Iterator, Optional

import numpy as np

from .losses import Loss
from .network import Sequential
from .optim import Optimizer
from .training import _check_data, _check_finite, _check_int, _check_targets

__all__ = ["lr_find", "LRFindResult"]


def _positive(name, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


class LRFindResult:
    """lrs, losses (raw batch costs), smoothed, suggested_lr; plot(ax=None); unpacks as
    (lrs, losses, suggested_lr)."""

    def __init__(self, lrs: np.ndarray, losses: np.ndarray, smoothed: np.ndarray,
                 suggested_lr: Optional[float], stopped_early: bool) -> None:
        self.lrs, self.losses, self.smoothed = lrs, losses, smoothed
        self.suggested_lr = suggested_lr
        self.stopped_early = stopped_early

    def __iter__(self) -> Iterator[Any]:
        return iter((self.lrs, self.losses, self.suggested_lr))

    def plot(self, ax: Any = None) -> Any:
        """Loss against learning rate on a log axis: the raw batch costs faint, the smoothed
        curve, and the suggested lr as a dashed line. Returns the Figure."""
        from .plot import new_figure
        if ax is None:
            fig = new_figure((6, 4))
            ax = fig.subplots()
        else:
            fig = ax.figure
        ax.plot(self.lrs, self.losses, color="C0", alpha=0.3, lw=1, label="batch cost")
        ax.plot(self.lrs, self.smoothed, color="C0", lw=2, label="smoothed")
        if self.suggested_lr is not None:
            ax.axvline(self.suggested_lr, color="C3", ls="--", lw=1.2,
                       label=f"suggested lr {self.suggested_lr:.2g} (steepest descent)")
        ax.set_xscale("log")
        if len(self.losses):               # the divergence at the end must not flatten the rest
            lo = min(self.losses.min(), self.smoothed.min())
            hi = min(max(self.losses.max(), self.smoothed.max()), 2 * self.smoothed[0] - lo)
            if hi > lo:
                ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("training cost")
        ax.set_title("learning-rate range test" +
                     (" (stopped at divergence)" if self.stopped_early else ""))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=9)
        fig.tight_layout()
        return fig

    def __repr__(self):
        lr = "None" if self.suggested_lr is None else f"{self.suggested_lr:.3g}"
        span = f", lr {self.lrs[0]:.2g} .. {self.lrs[-1]:.2g}" if len(self.lrs) else ""
        return f"LRFindResult({len(self.lrs)} steps{span}, suggested_lr={lr})"


def _suggest(lrs, smoothed, skip_start):
    stop = int(np.argmin(smoothed)) + 1
    if stop - skip_start < 3:
        return None
    window = slice(skip_start, stop)
    slope = np.gradient(smoothed[window], np.log10(lrs[window]))
    return float(lrs[window][int(np.argmin(slope))])


def lr_find(net: Sequential, loss_fn: Loss, optimizer: Optimizer, X: Any, y: Any,
            start_lr: float = 1e-7, end_lr: float = 10.0, num_steps: int = 200,
            batch_size: int = 100, smoothing: float = 0.9, diverge: float = 4.0,
            skip_start: int = 10, seed: Any = None) -> "LRFindResult":
    """The learning-rate range test on a copy of `net` and `optimizer` (see the module
    docstring); returns an LRFindResult. X, y as for fit; batches are drawn from one shuffled
    pass after another (np.random.default_rng(seed))."""
    if not isinstance(net, Sequential):
        raise TypeError(f"lr_find: expected a mlpc.Sequential, got {type(net).__name__}")
    if not isinstance(loss_fn, Loss):
        raise TypeError(f"lr_find: expected a mlpc loss, got {type(loss_fn).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"lr_find: expected a mlpc optimizer, got {type(optimizer).__name__}")
    if optimizer.net is not net:
        raise ValueError("lr_find: the optimizer was made for another network")
    start_lr, end_lr = _positive("start_lr", start_lr), _positive("end_lr", end_lr)
    if not end_lr > start_lr:
        raise ValueError(f"lr_find: need start_lr < end_lr, got {start_lr:g} and {end_lr:g}")
    num_steps = _check_int("num_steps", num_steps, 2)
    batch_size = _check_int("batch_size", batch_size, 1)
    skip_start = _check_int("skip_start", skip_start, 0)
    diverge = _positive("diverge", diverge)
    smoothing = float(smoothing)
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}")
    X, y = _check_data(net, X, y)
    _check_targets(net, loss_fn, y, "y")
    _check_finite(X, "X")
    _check_finite(y, "y")

    trial = net.copy()
    trial.train()
    rule: Any = type(optimizer)              # each rule's constructor takes (net, lr, ...)
    trial_opt = rule(trial, optimizer.lr)
    trial_opt.load_state_dict(optimizer.state_dict())
    rng = np.random.default_rng(seed)
    n = len(X)
    order, at = rng.permutation(n), 0
    sweep = start_lr * (end_lr / start_lr) ** (np.arange(num_steps) / (num_steps - 1))
    losses: list[float] = []
    smoothed: list[float] = []
    avg, best, stopped = 0.0, math.inf, False
    for k, lr in enumerate(sweep):
        if at + batch_size > n and at > 0:
            order, at = rng.permutation(n), 0
        idx = order[at:at + batch_size]
        at += batch_size
        trial_opt.lr = lr
        cost = trial.train_step(X.take(idx, axis=0), y.take(idx, axis=0), loss_fn, trial_opt)
        if not math.isfinite(cost):
            stopped = True
            break
        avg = smoothing * avg + (1 - smoothing) * cost
        s = avg / (1 - smoothing ** (k + 1))
        losses.append(cost)
        smoothed.append(s)
        best = min(best, s)
        if s > diverge * best:
            stopped = True
            break
    lrs, cost, smooth = sweep[:len(losses)], np.array(losses), np.array(smoothed)
    suggestion = _suggest(lrs, smooth, skip_start) if len(lrs) else None
    return LRFindResult(lrs, cost, smooth, suggestion, stopped)
