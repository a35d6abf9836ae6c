"""The fit loop, its history, callbacks, and evaluation.

    history = mlpc.fit(net, loss_fn, opt, X, y, epochs=5, batch_size=100, seed=0,
                       validation_data=(X_val, y_val))
    history.plot()
    cost, accuracy = mlpc.evaluate(net, loss_fn, X_test, y_test)

Mini-batches
    Every epoch draws a new order of the training examples, ``rng.permutation(N)`` from one
    ``rng = np.random.default_rng(seed)`` made at the start of ``fit`` (shuffle=False keeps the
    given order), and cuts it into consecutive batches of ``batch_size``. The last, partial batch
    (N % batch_size examples) is used, not dropped — except that a remainder of ONE example is
    joined to the batch before it when the network has a BatchNorm layer (a batch of one has no
    variance). Each batch is one ``net.train_step``: zero_grad, forward, loss, backward and the
    optimizer's update in a single C call.

What History records
    Per step: ``cost`` (loss + l2 penalty of the batch, before the update, as train_step returns
    it), ``lr`` (the learning rate of that update, after the schedule) and ``grad_norm`` (the
    global gradient norm before clipping, ``opt.last_grad_norm``).
    Per epoch, with train_metrics="eval" (the default): ``train_cost`` and ``train_accuracy``
    evaluated in EVAL mode on the whole training set after the epoch's last update (the same
    numbers ``evaluate(net, loss_fn, X, y)`` gives then: dropout off, batch norm on running
    statistics); with train_metrics="steps": the mean over the epoch's steps of the batch costs
    and accuracies (weighted by batch size; training-mode outputs, parameters changing along
    the epoch — cheaper, no extra pass). ``val_cost``/``val_accuracy`` on validation_data in eval
    mode; ``time``: wall-clock seconds of the epoch including its evaluation. Costs always
    include the l2 penalty (the notes' J = L + λΣ‖W‖²). Accuracy is recorded for
    classification only: SoftmaxCrossEntropy (int labels, or one-hot/probability rows compared
    by argmax) and BinaryCrossEntropy (each output thresholded at 0 against targets thresholded
    at 0.5; the fraction of correct entries); None for MSELoss.

Non-finite costs
    Before each step fit copies the flat parameter block (``net._core.flat(False)``), the batch
    norm running statistics and the dropout generators into one of two preallocated buffers
    (one memory copy of the parameters per step). X, y and the validation data are checked for
    NaN and infinity (and labels against the output width) before the first step, so a
    non-finite cost comes from the network. When a step returns a NaN or infinite cost, the
    state before that step produced it: fit restores the state before the step before (the last
    that gave a finite cost). When only the gradient norm is non-finite, the update used bad
    gradients: fit restores the state before that step (unless it holds non-finite values).
    Either way it raises FloatingPointError naming the failing step and the restored state.
    Divergence that stays finite (float64 parameters can grow to 1e176 with finite costs) is
    caught the same way: a cost above ``DIVERGENCE`` (1e6) times max(1, the first step's cost
    in this fit call) is treated as a non-finite cost.
    The optimizer's internal
    state (momenta, step count) is NOT rolled back: make a new optimizer (or load a saved state)
    before training further.

Callbacks
    Any object with some of these methods (subclass Callback to get no-op defaults):
    ``on_train_begin(fit)`` with the FitState (net, loss_fn, optimizer, history, epochs, ...);
    ``on_step_end(step, info)`` after every update, step counted from 0 within this fit call,
    info = {"epoch", "batch", "batch_size", "cost", "lr", "grad_norm", "params_before"}
    (params_before: a read-only copy of the flat parameter block before this update, the one
    fit keeps against non-finite costs; parameters minus it is the update just made);
    layer.output and layer.grad_output still hold that batch's values. Returning True stops
    training after this step (the epoch's metrics are still computed);
    ``on_epoch_end(epoch, logs)``, epoch counted from 0, logs = the epoch's History entry;
    returning True stops training;
    ``on_train_end(fit)`` after the last epoch (not when fit raises).
    Callbacks run in the order given.
"""
from __future__ import annotations

import math
import time

from typing import Any, Iterable, Optional

import numpy as np
from numpy.typing import NDArray

# array-likes are annotated Any: the functions take anything np.asarray does, checked at run time

from ._choices import check_choice
from .blocks import BatchNorm, Dropout
from .losses import Loss, SoftmaxCrossEntropy, BinaryCrossEntropy
from .network import Sequential, _mode
from .optim import Optimizer
from .progress import ProgressBar, enabled as _progress_enabled


__all__ = ["fit", "evaluate", "History", "FitState", "Callback", "EarlyStopping"]


# -- checking inputs -------------------------------------------------------------------------------
def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_net(net, loss_fn):
    if not isinstance(net, Sequential):
        raise TypeError(f"expected a mlpc.Sequential, got {type(net).__name__}")
    if not isinstance(loss_fn, Loss):
        raise TypeError(f"expected a mlpc loss (SoftmaxCrossEntropy, BinaryCrossEntropy, MSELoss), "
                        f"got {type(loss_fn).__name__}")


def _check_data(net, X, y, what="X"):
    """X as a C-contiguous array of the network's dtype (converted once), y as an array."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{what}: expected shape (N, in_features) with N >= 1, got {X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected real numbers, got dtype {X.dtype}")
    net._core_for(X[:1])                     # builds the network if its width was open
    if net.in_features is not None and X.shape[1] != net.in_features:
        raise ValueError(f"{what}: the network takes rows of width {net.in_features}, "
                         f"got shape {X.shape}")
    X = np.ascontiguousarray(X, dtype=net.dtype)
    y = np.asarray(y)
    if y.ndim == 0 or len(y) != len(X):
        raise ValueError(f"{what} has {len(X)} rows but its targets have shape {y.shape}")
    return X, y


def _check_targets(net, loss_fn, y, what="targets"):
    """Targets checked against the network's output width before anything runs: a bad label
    found by the core in the middle of an epoch would stop fit with the network half trained."""
    K = net.out_features
    if isinstance(loss_fn, SoftmaxCrossEntropy) and y.ndim == 1:
        if y.dtype.kind == "f":   # a CSV or pandas float column: whole numbers are labels
            bad = np.flatnonzero(~((y == np.floor(y)) & (y >= 0) & (y < K)))
            if bad.size:
                raise ValueError(f"{what}: float class labels must be whole numbers in [0, {K}) "
                                 f"for a network with {K} outputs, got {y[bad[0]]:g} at row "
                                 f"{bad[0]}")
            return
        if y.dtype.kind not in "biu":
            raise TypeError(f"{what}: class labels must be integers, got dtype {y.dtype} (or give "
                            f"one-hot/probability rows of shape ({len(y)}, {K}))")
        bad = np.flatnonzero((y < 0) | (y >= K))
        if bad.size:
            raise ValueError(f"{what}: class labels must be in [0, {K}) for a network with {K} "
                             f"outputs, got {y[bad[0]]} at row {bad[0]}")
        return
    if isinstance(loss_fn, SoftmaxCrossEntropy) and y.ndim == 2 and y.shape[1] == 1 and K > 1:
        raise ValueError(f"{what}: class labels must have shape ({len(y)},), got a column of "
                         f"shape {y.shape} (y.ravel() gives the labels); rows of shape "
                         f"({len(y)}, {K}) would be one-hot or probability targets")
    if not (y.ndim == 2 and y.shape[1] == K) and not (y.ndim == 1 and K == 1):
        raise ValueError(f"{what}: expected shape ({len(y)}, {K}) for a network with {K} "
                         f"outputs, got {y.shape}")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected real numbers, got dtype {y.dtype}")


def _check_finite(X, what):
    bad = np.argwhere(~np.isfinite(X))
    if bad.size:
        raise ValueError(f"{what} holds NaN or infinity (first at {tuple(int(i) for i in bad[0])}): "
                         f"training on it would only stop at that batch")


def _accuracy_kind(loss_fn, y):
    if isinstance(loss_fn, SoftmaxCrossEntropy):
        if y.ndim == 1:
            return "labels"
        return "argmax" if y.ndim == 2 else None
    if isinstance(loss_fn, BinaryCrossEntropy):
        return "threshold"
    return None


def _correct(scores, y, kind):
    """(number correct, number counted) for one batch of scores."""
    if kind == "labels":
        return int(np.count_nonzero(np.argmax(scores, axis=1) == y)), len(y)
    if kind == "argmax":
        return int(np.count_nonzero(np.argmax(scores, axis=1) == np.argmax(y, axis=1))), len(y)
    yb = y.reshape(scores.shape)
    return int(np.count_nonzero((scores > 0) == (yb > 0.5))), scores.size


# -- evaluation ------------------------------------------------------------------------------------
def evaluate(net: Sequential, loss_fn: Loss, X: Any, y: Any,
             batch_size: int = 1000) -> tuple[float, Optional[float]]:
    """(cost, accuracy) of the network on (X, y) in eval mode, in batches of batch_size.

    cost = the mean loss over all N examples + the l2 penalty (what net.cost(X, y, loss_fn)
    gives in eval mode); accuracy as described in the module docstring, None when the loss is
    not a classification loss. The network's previous mode (train/eval) is restored."""
    _check_net(net, loss_fn)
    batch_size = _check_int("batch_size", batch_size, 1)
    X, y = _check_data(net, X, y)
    _check_targets(net, loss_fn, y)
    return _evaluate(net, loss_fn, X, y, batch_size, _accuracy_kind(loss_fn, y))


def _evaluate(net, loss_fn, X, y, batch_size, kind):
    n = len(X)
    total, correct, counted = 0.0, 0, 0
    with _mode(net, False):
        for start in range(0, n, batch_size):
            xb, yb = X[start:start + batch_size], y[start:start + batch_size]
            scores = net.forward(xb)
            total += net.loss(loss_fn, yb) * len(xb)
            if kind is not None:
                c, k = _correct(scores, yb, kind)
                correct += c
                counted += k
        cost = total / n + net.penalty()
    return cost, (correct / counted if kind is not None else None)


# -- history ---------------------------------------------------------------------------------------
class History:
    """What fit recorded (see the module docstring for the exact definitions).

    history.step_cost / step_lr / step_grad_norm: lists, one entry per update.
    history.epoch_logs: one dict per epoch ({"epoch", "train_cost", "train_accuracy",
    "val_cost", "val_accuracy", "time"}, None where not measured).
    history.as_dict(): float64 arrays "epoch" (1, 2, ...), "train_cost", "train_accuracy",
    "val_cost", "val_accuracy", "time", "step_cost", "step_lr", "step_grad_norm" (only the
    series that were measured); history["val_cost"] is the same array.
    """

    EPOCH_KEYS = ("train_cost", "train_accuracy", "val_cost", "val_accuracy", "time")

    def __init__(self):
        self.step_cost = []
        self.step_lr = []
        self.step_grad_norm = []
        self.epoch_logs = []

    def _add_step(self, cost, lr, grad_norm):
        self.step_cost.append(cost)
        self.step_lr.append(lr)
        self.step_grad_norm.append(grad_norm)

    def as_dict(self) -> dict[str, NDArray[Any]]:
        d = {"epoch": np.arange(1, len(self.epoch_logs) + 1, dtype=np.float64)}
        for key in self.EPOCH_KEYS:
            values = [logs.get(key) for logs in self.epoch_logs]
            if values and all(v is not None for v in values):
                d[key] = np.array(values, dtype=np.float64)
        d["step_cost"] = np.array(self.step_cost, dtype=np.float64)
        d["step_lr"] = np.array(self.step_lr, dtype=np.float64)
        d["step_grad_norm"] = np.array(self.step_grad_norm, dtype=np.float64)
        return d

    def __getitem__(self, key):
        d = self.as_dict()
        if key not in d:
            raise KeyError(f"{key!r} was not recorded; recorded: {sorted(d)}")
        return d[key]

    def __len__(self) -> int:
        return len(self.epoch_logs)

    @property
    def last(self):
        """The last epoch's logs (an empty dict before any)."""
        return dict(self.epoch_logs[-1]) if self.epoch_logs else {}

    def plot(self, keys: Iterable[str] = ("cost", "accuracy"), **kwargs: Any) -> Any:
        """Cost and accuracy curves (mlpc.plot.training_curves): training and validation per
        epoch, with the per-step costs stretched over the same epoch axis. Returns the Figure."""
        from .plot import training_curves
        return training_curves(self, keys=keys, **kwargs)

    def __repr__(self):
        last = self.last
        shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items()
                          if v is not None and k != "epoch")
        return f"History({len(self.epoch_logs)} epochs, {len(self.step_cost)} steps" + \
            (f"; last: {shown})" if shown else ")")


class FitState:
    """What callbacks see of a running fit: net, loss_fn, optimizer, history, epochs,
    batch_size, num_examples, steps_per_epoch, validation_data (None or (X, y)), accuracy (the
    kind of accuracy measured, or None), epoch and step (current, from 0), stop (set it to True
    to stop after the current step)."""

    net: Sequential
    loss_fn: Loss
    optimizer: Optimizer
    history: History
    epochs: int
    batch_size: int
    num_examples: int
    steps_per_epoch: int
    validation_data: Optional[tuple[NDArray[Any], NDArray[Any]]]
    accuracy: Optional[str]
    epoch: int
    step: int
    stop: bool

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)

    def __repr__(self):
        return (f"FitState(epoch={self.epoch}, step={self.step}, epochs={self.epochs}, "
                f"steps_per_epoch={self.steps_per_epoch})")


# -- protection against non-finite costs and divergence --------------------------------------------
DIVERGENCE = 1e6   # a cost above this many times the first step's (or 1) means divergence


class _Snapshots:
    """Two alternating copies of the network's state (parameters, running statistics, dropout
    generators), taken before each step: one np.copyto of the flat parameter block a step."""

    def __init__(self, net):
        core = net._ensure_core()
        self.core = core
        self.flat = core.flat(False)
        self.buffers = [view for _, view in net.named_buffers()]
        self.dropout = [layer._index for _, layer in net.named_layers()
                        if isinstance(layer, Dropout)]
        self.params = [np.empty_like(self.flat), np.empty_like(self.flat)]
        self.readonly = [p.view() for p in self.params]     # what callbacks see of them
        for view in self.readonly:
            view.flags.writeable = False
        self.buffer_copies = [[np.empty_like(b) for b in self.buffers] for _ in range(2)]
        self.rng = [None, None]
        self.steps = [None, None]

    def save(self, step):
        k = step % 2
        np.copyto(self.params[k], self.flat)
        for dst, src in zip(self.buffer_copies[k], self.buffers):
            np.copyto(dst, src)
        if self.dropout:
            self.rng[k] = [self.core.rng_state(i) for i in self.dropout]
        self.steps[k] = step

    def _finite(self, k):
        return bool(np.isfinite(self.params[k]).all()) and \
            all(np.isfinite(b).all() for b in self.buffer_copies[k])

    def restore(self, step, cost_finite):
        """Restore the last good state; returns the step whose starting state was restored.

        A non-finite cost at `step` was measured on the state saved before `step`, so that state
        is not good: the one before step - 1 (the last to give a finite cost) is. A finite cost
        with a non-finite gradient condemns the update only: the state before `step` is good,
        unless it holds non-finite values itself."""
        k = step % 2
        earlier = self.steps[1 - k] == step - 1 and self._finite(1 - k)
        if earlier and not (cost_finite and self._finite(k)):
            k = 1 - k
        np.copyto(self.flat, self.params[k])
        for dst, src in zip(self.buffers, self.buffer_copies[k]):
            np.copyto(dst, src)
        if self.dropout:
            for i, state in zip(self.dropout, self.rng[k]):
                self.core.set_rng_state(i, state)
        return self.steps[k]


# -- the loop --------------------------------------------------------------------------------------
def _batch_bounds(n, batch_size, has_batchnorm):
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if has_batchnorm and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def _call(callbacks, method, *args):
    stop = False
    for cb in callbacks:
        fn = getattr(cb, method, None)
        if fn is not None and fn(*args):
            stop = True
    return stop


def fit(net: Sequential, loss_fn: Loss, optimizer: Optimizer, X: Any, y: Any,
        epochs: int = 1, batch_size: int = 100, shuffle: bool = True, seed: Any = None,
        validation_data: Optional[tuple[Any, Any]] = None, schedule: Any = None,
        callbacks: Iterable[Any] = (), progress: Optional[bool] = None,
        train_metrics: str = "eval", eval_batch_size: int = 1000) -> History:
    """Train `net` with mini-batch gradient descent; returns a History.

    net, loss_fn, optimizer: a Sequential, a loss, an optimizer made for this net.
    X (N, in_features), y (N,) int labels or (N, K) targets. epochs, batch_size: ints.
    shuffle, seed: a new permutation per epoch from np.random.default_rng(seed).
    validation_data: (X_val, y_val), evaluated in eval mode after every epoch.
    schedule: if given, becomes optimizer.schedule (any callable step -> lr, or a number).
    callbacks: Callback objects (EarlyStopping, Recorder, your own).
    progress: None or True (the same) = a progress bar: live in a Jupyter notebook (an output
    updated in place) and on a terminal (stderr, redrawn with "\\r"), one line per epoch on
    stderr when it is a pipe or a file; False = nothing (mlpc.progress says exactly how).
    train_metrics: "eval" (default) evaluates the training set in eval mode after each epoch;
    "steps" averages the epoch's batch costs and accuracies instead (no extra pass).
    eval_batch_size: batch size of those evaluations.

    Training runs in training mode; the network's previous mode is restored at the end. A NaN or
    infinite cost, or one above 1e6 × max(1, the first step's cost), raises FloatingPointError
    with the network restored (module docstring).
    """
    _check_net(net, loss_fn)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"expected a mlpc optimizer, got {type(optimizer).__name__}")
    epochs = _check_int("epochs", epochs, 0)
    batch_size = _check_int("batch_size", batch_size, 1)
    eval_batch_size = _check_int("eval_batch_size", eval_batch_size, 1)
    train_metrics = check_choice("train_metrics", train_metrics, ("eval", "steps"))
    X, y = _check_data(net, X, y)
    _check_targets(net, loss_fn, y, "y")
    if optimizer.net is not net:
        raise ValueError("the optimizer was made for another network")
    if validation_data is not None:
        try:
            X_val, y_val = validation_data
        except (TypeError, ValueError):
            raise TypeError("validation_data must be a pair (X_val, y_val)") from None
        X_val, y_val = _check_data(net, X_val, y_val, "validation X")
        _check_targets(net, loss_fn, y_val, "validation y")
        validation_data = (X_val, y_val)
    checked = [("X", X), ("y", y)]
    if validation_data is not None:
        checked += [("validation X", X_val), ("validation y", y_val)]
    for what, array in checked:
        _check_finite(array, what)
    if schedule is not None:
        optimizer.schedule = schedule
    callbacks = list(callbacks)
    show = _progress_enabled(progress)

    n = len(X)
    kind = _accuracy_kind(loss_fn, y)
    has_bn = any(isinstance(layer, BatchNorm) for _, layer in net.named_layers())
    bounds = _batch_bounds(n, batch_size, has_bn)
    rng = np.random.default_rng(seed)
    history = History()
    state = FitState(net=net, loss_fn=loss_fn, optimizer=optimizer, history=history,
                     epochs=epochs, batch_size=batch_size, num_examples=n,
                     steps_per_epoch=len(bounds), validation_data=validation_data,
                     accuracy=kind, epoch=0, step=0, stop=False)
    snapshots = _Snapshots(net)
    core = net._ensure_core()
    last = net.layers[-1]
    step_accuracy = kind is not None and (show or train_metrics == "steps")
    previous_mode = net.training
    bar = None
    net.train()
    try:
        _call(callbacks, "on_train_begin", state)
        step = 0
        for epoch in range(epochs):
            state.epoch = epoch
            start_time = time.perf_counter()
            order = rng.permutation(n) if shuffle else None
            if show:
                bar = ProgressBar(n, prefix=f"epoch {epoch + 1}/{epochs}")
            cost_sum, seen, correct, counted = 0.0, 0, 0, 0
            for b, (lo, hi) in enumerate(bounds):
                state.step = step
                if order is None:
                    xb, yb = X[lo:hi], y[lo:hi]
                else:
                    idx = order[lo:hi]
                    xb, yb = X.take(idx, axis=0), y.take(idx, axis=0)
                snapshots.save(step)
                cost = net.train_step(xb, yb, loss_fn, optimizer)
                grad_norm = optimizer.last_grad_norm
                if step == 0:
                    first_cost = cost
                # a cost that stays finite while it grows without bound is as bad as inf
                bad_cost = not math.isfinite(cost) or \
                    cost > DIVERGENCE * max(abs(first_cost), 1.0)
                if bad_cost or not math.isfinite(grad_norm):
                    restored = snapshots.restore(step, not bad_cost)
                    what = f"cost is {cost}" if not math.isfinite(cost) else \
                        f"cost is {cost:.6g}, more than {DIVERGENCE:g} times the first step's " \
                        f"cost {first_cost:.6g} (or 1): the run diverges" if bad_cost else \
                        f"gradient norm is {grad_norm} (cost {cost})"
                    raise FloatingPointError(
                        f"training stopped at step {step} (epoch {epoch + 1}, batch {b + 1} of "
                        f"{len(bounds)}): the {what}. The network is restored to its state "
                        f"before step {restored}, the last good one; the optimizer's state is "
                        f"not (make a new "
                        f"optimizer before resuming). Try a smaller learning rate, gradient "
                        f"clipping, or check the inputs for NaN/inf.")
                m = hi - lo
                cost_sum += cost * m
                seen += m
                if step_accuracy:
                    c, k = _correct(core.output(last._index), yb, kind)
                    correct += c
                    counted += k
                history._add_step(cost, optimizer.lr, grad_norm)
                info = {"epoch": epoch, "batch": b, "batch_size": m, "cost": cost,
                        "lr": optimizer.lr, "grad_norm": grad_norm,
                        "params_before": snapshots.readonly[step % 2]}
                stop = _call(callbacks, "on_step_end", step, info) or state.stop
                if bar is not None:
                    bar.update(m, cost=cost_sum / seen,
                               accuracy=correct / counted if counted else None)
                step += 1
                if stop:
                    state.stop = True
                    break
            state.step = step
            if bar is not None:
                bar.stop_clock()
            logs: dict[str, Any] = {"epoch": epoch}
            if train_metrics == "eval":
                logs["train_cost"], logs["train_accuracy"] = _evaluate(
                    net, loss_fn, X, y, eval_batch_size, kind)
            else:
                logs["train_cost"] = cost_sum / seen
                logs["train_accuracy"] = correct / counted if counted else None
            if validation_data is not None:
                logs["val_cost"], logs["val_accuracy"] = _evaluate(
                    net, loss_fn, validation_data[0], validation_data[1], eval_batch_size, kind)
            else:
                logs["val_cost"] = logs["val_accuracy"] = None
            logs["time"] = time.perf_counter() - start_time
            history.epoch_logs.append(logs)
            if bar is not None:
                bar.metrics = {}
                bar.close(**{k: logs[k] for k in ("train_cost", "train_accuracy", "val_cost",
                                                  "val_accuracy")})
                bar = None
            if _call(callbacks, "on_epoch_end", epoch, dict(logs)) or state.stop:
                state.stop = True
                break
        _call(callbacks, "on_train_end", state)
    finally:
        if bar is not None:
            bar.close()
        net.training = previous_mode
    return history


# -- callbacks -------------------------------------------------------------------------------------
class Callback:
    """Base class of fit's callbacks: override the hooks you need (all do nothing here).

    on_train_begin(fit)        fit: the FitState (net, optimizer, history, epochs, ...)
    on_step_end(step, info)    after each update; return True to stop after this step
    on_epoch_end(epoch, logs)  after each epoch's evaluation; return True to stop
    on_train_end(fit)          after the last epoch
    """

    def on_train_begin(self, fit: FitState) -> None:
        pass

    def on_step_end(self, step: int, info: dict[str, Any]) -> Optional[bool]:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> Optional[bool]:
        pass

    def on_train_end(self, fit: FitState) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when `monitor` (an epoch log: "val_cost", "val_accuracy", "train_cost", ...) has not
    improved by more than min_delta for `patience` epochs. mode "min"/"max" ("auto": max for
    accuracies, min otherwise). With restore_best=True the network ends training with the
    parameters and running statistics of its best epoch (copied with state_dict when the
    monitored value improves; restored at the end, whether training stopped early or not).

    After fit: best_value, best_epoch (from 0), stopped_epoch (None if it did not stop)."""

    def __init__(self, monitor: str = "val_cost", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best: bool = True) -> None:
        monitored = tuple(k for k in History.EPOCH_KEYS if k != "time")
        self.monitor = monitor = check_choice("monitor", monitor, monitored,
                                              "one of " + ", ".join(monitored))
        self.patience = _check_int("patience", patience, 0)
        self.min_delta = abs(float(min_delta))
        mode = check_choice("mode", mode, ("auto", "min", "max"))
        if mode == "auto":
            mode = "max" if monitor.endswith("accuracy") else "min"
        self.mode = mode
        self.restore_best = bool(restore_best)
        self._reset()

    def _reset(self):
        self.best_value = None
        self.best_epoch = None
        self.best_state = None
        self.stopped_epoch = None
        self.last_epoch = None
        self.wait = 0

    def on_train_begin(self, fit):
        if self.monitor.startswith("val_") and fit.validation_data is None:
            raise ValueError(f"EarlyStopping(monitor={self.monitor!r}) needs validation_data")
        if self.monitor.endswith("accuracy") and fit.accuracy is None:
            raise ValueError(f"EarlyStopping(monitor={self.monitor!r}): no accuracy is measured "
                             f"for {type(fit.loss_fn).__name__}")
        self._reset()
        self.net = fit.net

    def _improved(self, value):
        if not math.isfinite(value):
            return False
        if self.best_value is None:
            return True
        if self.mode == "min":
            return value < self.best_value - self.min_delta
        return value > self.best_value + self.min_delta

    def on_epoch_end(self, epoch, logs):
        value = logs.get(self.monitor)
        if value is None:
            raise KeyError(f"EarlyStopping: {self.monitor!r} is not in the epoch logs")
        self.last_epoch = epoch
        if self._improved(value):
            self.best_value, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_state = self.net.state_dict()
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self, fit):
        if self.restore_best and self.best_state is not None and \
                self.best_epoch != self.last_epoch:
            self.net.load_state_dict(self.best_state)

    def __repr__(self):
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
                f"mode={self.mode!r}, restore_best={self.restore_best})")
