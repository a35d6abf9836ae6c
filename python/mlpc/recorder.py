"""mlpc.Recorder: per-layer statistics of activations and gradients at chosen training steps.

    rec = mlpc.Recorder(range=(-5, 5))
    mlpc.fit(net, loss_fn, opt, X, y, epochs=3, callbacks=[rec])
    rec.moments("2", "output")["std"]          # one entry per recorded step
    counts, edges = rec.histogram("2", "output", index=-1)
    rec.ratio("0.weight", "update")            # std(ΔW)/std(W) of every recorded step

Every method takes (name, quantity, index) in that order: a layer or parameter name, then
"output", "grad_output", "grad", "param" or "update", then a snapshot.

A snapshot is one C call (``Net.snapshot``) that computes the moments and histograms of every
recorded tensor straight from the network's buffers, and the results go into preallocated
arrays; nothing is copied unless keep_values=True.
"""
from __future__ import annotations

import math

from typing import Any, Optional

import numpy as np

from . import _core
from ._choices import check_choice, check_choices
from .layers import Layer
from .network import Sequential, layers_with_outputs
from .training import Callback, _check_int

__all__ = ["Recorder"]

_KIND = {"output": _core.SOURCE_OUTPUT, "grad_output": _core.SOURCE_GRAD_OUTPUT,
         "param": _core.SOURCE_PARAM, "grad": _core.SOURCE_GRAD, "update": _core.SOURCE_UPDATE}
_PER_TENSOR = ("grad", "param", "update")


# axis and title text of each recorded quantity
_QUANTITY_TEXT = {"output": "output", "grad_output": "∂J/∂output", "param": "parameter value",
                  "grad": "parameter gradient ∂J/∂θ",
                  "update": "parameter update ΔW"}


class _Plan:
    """What one network's snapshot reads: keys, the core's (kind, index) of each, and getters
    of the arrays themselves (for keep_values and "auto" ranges)."""

    def __init__(self, net, recorder):
        core = net._ensure_core()
        what = recorder.what
        self.net, self.core, self.what, self.layers = net, core, what, recorder.layers
        self.keys, which, self.getters = [], [], []
        view = {"output": core.output, "grad_output": core.grad_output,
                "param": core.param, "grad": core.grad, "update": self._update}
        self.flat = core.flat(False)
        self.before = None                  # the flat parameters before the step recorded

        def add(key, quantity, index):
            self.keys.append(key)
            which.append((_KIND[quantity], index))
            self.getters.append(lambda: view[quantity](index))

        named = list(layers_with_outputs(net))
        names = [name for name, _, _ in named]
        unknown = [str(sel) for sel in recorder.layers or () if not isinstance(sel, type) and
                   str(sel) not in names]
        if unknown:
            raise ValueError(f"Recorder(layers=...): no layer named {', '.join(unknown)}; the "
                             f"network's layers are {', '.join(names)}")
        for name, layer, index in named:
            if not recorder._wanted(name, layer):
                continue
            for q in ("output", "grad_output"):
                if q in what:
                    add((name, q), q, index)
            for k, pname in enumerate(layer.param_names):
                for q in _PER_TENSOR:
                    if q in what:
                        add((f"{name}.{pname}", q), q, layer._tensor + k)
        self.which = np.array(which, dtype=np.int64).reshape(-1, 2)
        self.ranges = None           # (K, 2) float64 once every key's range is known

    def _update(self, index):
        """W − W_before of tensor `index` (None without the parameters before the step)."""
        if self.before is None:
            return None
        w = self.core.param(index)
        start = (w.__array_interface__["data"][0] -
                 self.flat.__array_interface__["data"][0]) // w.itemsize
        return w - self.before[start:start + w.size].reshape(w.shape)


class Recorder(Callback):
    """Snapshots of per-layer statistics at chosen training steps.

    Recorder(steps=None, what=("output", "grad_output", "grad"), layers=None, bins=50,
             range=None, saturation=0.99, keep_values=False)

    steps: the steps (counted from 0 within fit) to record: an iterable of ints, a callable
    step -> bool, or None for every step.
    what: quantities to record, or "all" for every one (what training_health and the
    gradient:data and update:data ratios need): "output" (layer.output, the activations of
    the batch just trained), "grad_output" (layer.grad_output, ∂J/∂output of that batch), "grad" (each
    parameter's gradient), "param" (each parameter's value after the update) and "update"
    (ΔW = W after − W before the step just taken: exact, from the copy of the parameters fit
    takes before every step; record(net, before=...) outside fit).
    layers: None for every layer, or one or several names ("0", "2.1") and/or layer classes; a
    name the network does not have is an error. The layers are those of net.named_layers()
    plus each Residual, whose output is its sum x + block(x).
    For each (name, quantity) the core computes in C: mean, std (population), zero fraction
    (exact zeros), L2 norm, min and max (skipping NaN), the saturation fraction (|v| >
    `saturation`, 0.99 by default: a tanh or sigmoid·2−1 unit on its flat tail), and, when a
    range is given, counts in `bins` equal bins over [lo, hi] (bin i holds lo + i·w <= v <
    lo + (i+1)·w, w = (hi − lo)/bins, hi itself in the last bin) with the values below lo and
    above hi counted apart (out_of_range), so that the counts add up to the tensor's size
    (less its NaNs). Updates get moments only.
    range: (lo, hi) for every quantity, a dict {quantity: (lo, hi)}, or "auto" (each tensor's
    [min, max] at its first snapshot, then fixed); None (default): moments only.
    keep_values=True also keeps a copy of every recorded array.
    Layer names are those of net.named_layers() ("0", "1", ...), parameter names those of
    net.named_parameters() ("0.weight"). A layer's output before any forward pass is recorded
    as NaN moments.

    Results, every method taking (name, quantity, index): recorded_steps, recorded_epochs,
    keys() -> [(name, quantity)], moments(name, quantity) -> {"mean", "std", "zero_fraction",
    "norm", "min", "max", "saturation": arrays over snapshots}, ratio(name, quantity) ->
    std(quantity)/std(W) of a parameter ("grad": gradient:data, "update": update:data),
    histogram(name, quantity, index=-1) -> (counts, edges), counts(name, quantity) -> (S, bins),
    out_of_range(name, quantity) -> (S, 2) counts below lo and above hi, values(name, quantity,
    index=-1) (needs keep_values), plot(names=None, quantity="output", index=-1) (needs
    keep_values; the old order plot(quantity, index) still works).
    It can also be used without fit: record(net, step, before=flat_params_before) after a
    train_step.
    """

    QUANTITIES = ("output", "grad_output", "grad", "param", "update")
    STATS = ("mean", "std", "zero_fraction", "norm", "min", "max", "saturation")

    def __init__(self, steps: Any = None, what: Any = ("output", "grad_output", "grad"),
                 layers: Any = None, bins: int = 50, range: Any = None,
                 saturation: float = 0.99, keep_values: bool = False) -> None:
        if steps is None or callable(steps):
            self._select = steps
        else:
            if isinstance(steps, (str, bytes)) or not hasattr(steps, "__iter__"):
                raise TypeError(f"steps must be None, a callable, or an iterable of ints, got "
                                f"{steps!r}")
            chosen = set()
            for s in steps:
                if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
                    raise ValueError(f"steps: every step is an int >= 0 (counted from 0 within "
                                     f"fit), got {s!r}")
                chosen.add(int(s))
            self._select = chosen.__contains__
        self.what = check_choices("what", what, self.QUANTITIES,
                                  f"one of {', '.join(map(repr, self.QUANTITIES))}, 'all' or several",
                                  {"all": self.QUANTITIES})
        if isinstance(layers, (str, int, type)):
            layers = (layers,)
        if layers is not None:
            layers = tuple(layers)
            for sel in layers:
                ok = isinstance(sel, type) and issubclass(sel, Layer) or \
                    isinstance(sel, (str, int)) and not isinstance(sel, bool)
                if not ok:
                    raise TypeError(f"layers: names (\"0\", \"2.1\"), indices or layer classes, "
                                    f"got {sel!r}")
        self.layers = layers
        self.bins = _check_int("bins", bins, 1)
        if self.bins >= 2 ** 31 - 3:
            raise ValueError(f"bins must be < 2**31 - 3, got {bins}")
        try:
            self.saturation = float(saturation)
        except (TypeError, ValueError):
            raise TypeError(f"saturation must be a number, got {saturation!r}") from None
        if not math.isfinite(self.saturation) or self.saturation < 0:
            raise ValueError(f"saturation must be a finite number >= 0, got {saturation!r}")
        if range is None:
            self._range: Any = None
        elif isinstance(range, str):        # checked as a string: an array (lo, hi) is no "auto"
            self._range = check_choice("range", range, ("auto",),
                                       "None, 'auto', a pair (lo, hi) or a dict of pairs")
        elif isinstance(range, dict):
            self._range = {q: self._check_range(r) for q, r in range.items()}
            for q in self._range:
                if q not in self.QUANTITIES:
                    raise ValueError(f"range: unknown quantity {q!r}")
                if q == "update":
                    raise ValueError("range: updates are recorded as moments only")
        else:
            self._range = self._check_range(range)
        self.keep_values = bool(keep_values)
        self.net: Optional[Sequential] = None
        self._plan: Optional[_Plan] = None
        self.clear()

    @staticmethod
    def _check_range(r):
        try:
            lo, hi = (float(v) for v in r)
        except (TypeError, ValueError):
            raise TypeError(f"a range is a pair (lo, hi), got {r!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ValueError(f"a range needs finite lo < hi, got {r!r}")
        return lo, hi

    def clear(self):
        """Forget every snapshot (the histogram ranges chosen by "auto" too)."""
        self.recorded_steps = []
        self.recorded_epochs = []
        self.ranges = {}
        self._column = {}                        # key -> column of _stats
        self._hist_column = {}                   # key -> column of _counts (keys with a range)
        self._stats = np.full((0, 0, len(self.STATS)), np.nan)
        self._counts = np.zeros((0, 0, self.bins + 2), np.int64)   # under, bins..., over
        self._values = {}
        if self._plan is not None:
            self._plan.ranges = None             # columns and ranges are chosen anew

    # -- what to read --------------------------------------------------------------------------
    def _wanted(self, name, layer):
        if self.layers is None:
            return True
        for sel in self.layers:
            if isinstance(sel, type) and isinstance(layer, sel):
                return True
            if isinstance(sel, (str, int)) and str(sel) == name:
                return True
        return False

    def _range_for(self, key, get):
        """The histogram range of a key (None: moments only), fixed at its first snapshot;
        "auto" waits for a snapshot that has values."""
        if key in self.ranges:
            return self.ranges[key]
        if key[1] == "update":
            self.ranges[key] = None
            return None
        r = self._range
        if isinstance(r, dict):
            r = r.get(key[1])
        elif r == "auto":
            x = get()
            if x is None:
                return None
            finite = x[np.isfinite(x)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
            if not hi > lo:
                lo, hi = lo - 0.5, hi + 0.5
            r = (lo, hi)
        self.ranges[key] = r
        return r

    def _prepare(self, plan):
        """The plan's (K, 2) float64 ranges (NaN rows: no histogram) and its storage columns;
        keys seen for the first time get new columns, NaN/zero for the snapshots before."""
        if plan.ranges is not None:
            return plan.ranges
        ranges = [self._range_for(key, get) or (math.nan, math.nan)
                  for key, get in zip(plan.keys, plan.getters)]
        ranges = np.array(ranges, dtype=np.float64).reshape(-1, 2)
        hist = [key for key, (lo, hi) in zip(plan.keys, ranges) if lo < hi]
        new = [k for k in plan.keys if k not in self._column]
        new_hist = [k for k in hist if k not in self._hist_column]
        S = self._stats.shape[0]
        if new:
            self._stats = np.concatenate(
                [self._stats, np.full((S, len(new), len(self.STATS)), np.nan)], 1)
            for k in new:
                self._column[k] = len(self._column)
                if self.keep_values:
                    self._values[k] = [None] * len(self.recorded_steps)
        if new_hist:
            self._counts = np.concatenate(
                [self._counts, np.zeros((S, len(new_hist), self.bins + 2), np.int64)], 1)
            for k in new_hist:
                self._hist_column[k] = len(self._hist_column)
        plan.columns = _as_index([self._column[k] for k in plan.keys])
        plan.hist_columns = _as_index([self._hist_column[k] for k in hist])
        if all(k in self.ranges for k in plan.keys):
            plan.ranges = ranges
        return ranges

    # -- recording ---------------------------------------------------------------------------
    def on_train_begin(self, fit):
        self.net = fit.net
        self._plan = _Plan(fit.net, self)

    def on_step_end(self, step, info):
        if self._select is None or self._select(step):
            self._record(self._plan, step, info.get("epoch"), info.get("params_before"))

    def record(self, net: Sequential, step: Optional[int] = None, epoch: Optional[int] = None,
               before: Any = None) -> None:
        """Take a snapshot of `net` as the last forward/backward left it. before: the flat
        parameters before the step (a copy of net._core.flat(False) taken before train_step),
        for the "update" quantity; without it updates are NaN."""
        if not isinstance(net, Sequential):
            raise TypeError(f"record: expected a mlpc.Sequential, got {type(net).__name__}")
        plan = self._plan
        if plan is None or plan.net is not net or plan.core is not net._core or \
                plan.what != self.what or plan.layers != self.layers:
            plan = self._plan = _Plan(net, self)
        self.net = net
        if before is not None:
            before = np.asarray(before)
            if before.shape != plan.flat.shape:
                raise ValueError(f"record: before must be the flat parameters, shape "
                                 f"{plan.flat.shape}, got {before.shape}")
        self._record(plan, len(self.recorded_steps) if step is None else int(step), epoch, before)

    def _record(self, plan, step, epoch, before=None):
        ranges = self._prepare(plan)
        plan.before = before
        if plan.keys:
            stats, counts = plan.core.snapshot(plan.which, ranges, self.bins, self.saturation,
                                               before)
        else:                                               # nothing selected
            stats = np.empty((0, len(self.STATS)))
            counts = np.empty((0, self.bins + 2), np.int64)
        s = len(self.recorded_steps)
        if s == self._stats.shape[0]:                       # grow by doubling
            grow = max(16, s)
            self._stats = np.concatenate(
                [self._stats, np.full((grow,) + self._stats.shape[1:], np.nan)])
            self._counts = np.concatenate(
                [self._counts, np.zeros((grow,) + self._counts.shape[1:], np.int64)])
        self._stats[s, plan.columns] = stats
        self._counts[s, plan.hist_columns] = counts
        if self.keep_values:
            for values in self._values.values():
                values.append(None)
            for key, get in zip(plan.keys, plan.getters):
                x = get()
                self._values[key][s] = None if x is None else np.array(x)
        plan.before = None                                  # valid for this step only
        self.recorded_steps.append(step)
        self.recorded_epochs.append(epoch)

    # -- results -----------------------------------------------------------------------------
    def keys(self) -> list[tuple[str, str]]:
        """The recorded (name, quantity) pairs, in layer order."""
        return list(self._column)

    def _series(self, name, quantity):
        key = (str(name), check_choice("quantity", quantity, self.QUANTITIES))
        if key not in self._column:
            raise KeyError(f"{key} was not recorded; recorded: {self.keys()}")
        return key

    def moments(self, name: Any, quantity: str = "output") -> dict[str, np.ndarray]:
        """{"mean", "std", "zero_fraction", "norm", "min", "max", "saturation"}: float64 arrays,
        one entry a snapshot."""
        key = self._series(name, quantity)
        a = self._stats[:len(self.recorded_steps), self._column[key]]
        return {stat: a[:, i].copy() for i, stat in enumerate(self.STATS)}

    def ratio(self, name: str, quantity: str = "update") -> np.ndarray:
        """std(quantity)/std(W) per snapshot for the parameter `name` ("0.weight"): "grad" gives
        the gradient:data ratio, "update" the update:data ratio std(ΔW)/std(W) of the step just
        taken (W after it; Karpathy's guide: about 1e-3). Needs "param" and that quantity
        recorded; NaN where std(W) is 0."""
        check_choice("ratio: quantity", quantity, ("grad", "update"))
        top = self.moments(name, quantity)["std"]
        bottom = self.moments(name, "param")["std"]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1), np.nan)

    def parameter_names(self) -> list[str]:
        """The parameters with recorded moments, in layer order ("0.weight", "0.bias", ...)."""
        return list(dict.fromkeys(n for n, q in self._column if q in _PER_TENSOR))

    def layer_names(self, quantity: str = "output") -> list[str]:
        """The layers whose `quantity` ("output" or "grad_output") was recorded, in order."""
        quantity = check_choice("quantity", quantity, self.QUANTITIES)
        return [n for n, q in self._column if q == quantity]

    def edges(self, name: Any, quantity: str = "output") -> Optional[np.ndarray]:
        """The bin edges (bins + 1,) of this series' histograms, None without a range."""
        r = self.ranges.get(self._series(name, quantity))
        return None if r is None else np.linspace(r[0], r[1], self.bins + 1)

    def counts(self, name: Any, quantity: str = "output") -> Optional[np.ndarray]:
        """int64 array (snapshots, bins) of histogram counts (None without a range)."""
        key = self._series(name, quantity)
        if key not in self._hist_column:
            return None
        return self._counts[:len(self.recorded_steps), self._hist_column[key], 1:-1].copy()

    def out_of_range(self, name: Any, quantity: str = "output") -> Optional[np.ndarray]:
        """int64 array (snapshots, 2): the values below lo and above hi of each histogram (None
        without a range); with counts() they add up to the tensor's size, less its NaNs."""
        key = self._series(name, quantity)
        if key not in self._hist_column:
            return None
        return self._counts[:len(self.recorded_steps), self._hist_column[key]][:, [0, -1]]

    def histogram(self, name: Any, quantity: str = "output",
                  index: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """(counts, edges) of one snapshot (index into recorded_steps)."""
        key = self._series(name, quantity)
        if key not in self._hist_column:
            raise ValueError("no histograms were recorded: give Recorder a range")
        counts, edges = self.counts(name, quantity), self.edges(name, quantity)
        assert counts is not None and edges is not None
        return counts[index], edges

    def _rows(self, start, stop):
        """{key: (moments (stop − start, STATS), counts (stop − start, bins + 2) with under- and
        overflow first and last, or None)} of snapshots start..stop, as views."""
        return {key: (self._stats[start:stop, col],
                      self._counts[start:stop, self._hist_column[key]]
                      if key in self._hist_column else None)
                for key, col in self._column.items()}

    def to_tensorboard(self, logdir: Any) -> str:
        """Write every snapshot to a new TensorBoard event file in logdir (mlpc.tensorboard:
        std of every key, saturation and zero fraction of layer outputs, gradient:data and
        update:data ratios, histograms of the keys with a range). Returns the file's path."""
        from .tensorboard import EventWriter, write_snapshots
        with EventWriter(logdir) as writer:
            write_snapshots(writer, self)
        return writer.path

    def values(self, name: Any, quantity: str = "output", index: int = -1) -> Any:
        """The recorded array of one snapshot (needs keep_values=True)."""
        key = self._series(name, quantity)
        if not self.keep_values:
            raise ValueError("values were not kept: use Recorder(keep_values=True)")
        return self._values[key][index]

    def plot(self, names: Any = None, quantity: Any = "output", index: int = -1,
             **kwargs: Any) -> Any:
        """Histograms of the recorded layers (`names`: one or several, None for all) at one
        snapshot, in the (name, quantity, index) order of every method; mlpc.plot.
        layer_histograms, needs keep_values=True. The old order plot(quantity, index) still
        works: a quantity is never a layer name. Returns the Figure."""
        from .plot import layer_histograms
        if isinstance(names, str) and names in self.QUANTITIES:     # plot("grad", 3)
            if isinstance(quantity, (int, np.integer)):
                index = int(quantity)
            quantity, names = names, None
        quantity = check_choice("quantity", quantity, self.QUANTITIES)
        if isinstance(names, (str, int)):
            names = (names,)
        wanted = None if names is None else {str(n) for n in names}
        values = {name: self.values(name, q, index) for name, q in self.keys()
                  if q == quantity and (wanted is None or name in wanted)}
        if not values:
            raise ValueError(f"no {quantity!r} was recorded" +
                             (f" for {sorted(wanted)}" if wanted else ""))
        what = _QUANTITY_TEXT.get(quantity, quantity)
        kwargs.setdefault("title", f"{what} at step {self.recorded_steps[index]}")
        kwargs.setdefault("labels", [f"{'layer ' if quantity in ('output', 'grad_output') else ''}"
                                     f"{name}" for name in values])
        kwargs.setdefault("xlabel", what)
        return layer_histograms(values, **kwargs)

    def __repr__(self):
        return (f"Recorder({len(self.recorded_steps)} snapshots, what={self.what}, "
                f"bins={self.bins}, keep_values={self.keep_values})")


def _as_index(columns):
    """A slice when the columns are consecutive (a cheap copy into storage), else the list."""
    first = columns[0] if columns else 0
    if columns == list(range(first, first + len(columns))):
        return slice(first, first + len(columns))
    return columns
