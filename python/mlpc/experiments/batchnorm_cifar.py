"""Experiment 3: batch normalization on the notes' 6-layer network (DD2424 lecture 4).

The network 3072 → 50 → 10 → 10 → 10 → 10 → 10 (five hidden ReLU layers, He init, standardized
inputs) is trained with plain mini-batch gradient descent (batch 100) on CIFAR-10 (45,000 training
images) with and without batch normalization — BN after each hidden Linear, before the ReLU, as in
the notes — for η = 0.01 and η = 0.5. At update steps 0, 1000, 2000 and 4000 the activations and
gradients of every layer are recorded by an mlpc.Recorder (the mini-batch of that step, before its
update): the hidden activations h_l (ReLU outputs), the pre-activations (the BN output, or the
Linear output without BN), ∂J/∂W_l of every Linear, ∂J/∂h_l and ∂J/∂(pre-activation). Loss and
accuracy on a fixed training subset and on the validation set are evaluated (in eval mode, BN with
its running statistics) every `eval_every` steps.

`data` is a CIFAR-10 folder (read with mlpc.data.load_cifar10, standardized by the training
statistics), or ((X_train, y_train), (X_val, y_val)) arrays; without it the experiment runs on the
bundled Fashion-MNIST subset (784 inputs, 5,000 training / 1,000 validation images, standardized)
and says so in its figure titles.
"""
import os

import numpy as np

from .._choices import check_choice
from . import (ParameterValueError, Result, choice, dtype, initializer, integer, list_of,
               merge_params, number, optional, sample_values)

NAME = "batchnorm_cifar"

DEFAULTS = dict(
    data=None,                     # CIFAR-10 folder, ((Xtr, ytr), (Xval, yval)), or None
    hidden=(50, 10, 10, 10, 10),
    num_classes=10,
    lrs=(0.01, 0.5),
    batch=100,
    steps=4000,
    hist_steps=(0, 1000, 2000, 4000),
    eval_every=200,
    eval_size=5000,                # training examples used for the training loss/accuracy curve
    val_size=None,                 # validation examples (None: 5000 for CIFAR-10, 1000 bundled)
    train_size=None,               # use only this many training examples (None: all)
    init="he_normal",
    bn_momentum=0.1,
    dtype="float32",
    grad="weight",                 # gradients drawn: "weight", "output" or "preactivation"
    max_values=20000,              # values kept per layer for the histograms
    bins=40,
)
QUICK = dict(steps=40, hist_steps=(0, 40), eval_every=10, eval_size=500, val_size=500,
             train_size=1000, max_values=3000, bins=25)

_GRAD_TEXT = {"weight": "∂J/∂W_l entries", "output": "∂J/∂h_l entries",
              "preactivation": "∂J/∂(pre-activation) entries"}
_RUNS = (("bn", "BN", True), ("no_bn", "no BN", False))


def _data_kind(key, value):
    """Kind of `data`: None, a folder, or ((X_train, y_train), (X_val, y_val)[, name])."""
    if value is None or isinstance(value, (str, os.PathLike)) or \
            isinstance(value, (tuple, list)) and len(value) in (2, 3):
        return value
    raise ParameterValueError(f"{key} must be None, a CIFAR-10 folder or ((X_train, y_train), "
                              f"(X_val, y_val)), got {value!r}")


KINDS = dict(data=_data_kind, hidden=list_of(integer(1)), num_classes=integer(2),
             lrs=list_of(number(above=0)), batch=integer(1), steps=integer(1),
             hist_steps=list_of(integer(0)), eval_every=integer(1), eval_size=integer(1),
             val_size=optional(integer(1)), train_size=optional(integer(1)), init=initializer,
             bn_momentum=number(at_least=0, at_most=1), dtype=dtype, grad=choice(*_GRAD_TEXT),
             max_values=optional(integer(1)), bins=integer(1))


def _check_histogram_steps(p):
    """The update steps drawn: those of hist_steps <= steps (so the lecture's steps can be kept
    with a shorter run); at least one must remain."""
    steps = sorted(set(s for s in p["hist_steps"] if s <= p["steps"]))
    if not steps:
        raise ParameterValueError(f"{NAME}: hist_steps must include a step <= steps = "
                                  f"{p['steps']}, got {p['hist_steps']}")
    return steps


def load_data(data, val_size=None, train_size=None, seed=0):
    """((Xtr, ytr), (Xval, yval), name) for the experiment's `data` argument."""
    import mlpc.data
    if data is None:
        (X, y), _ = mlpc.data.load_fashion_mnist()
        (Xtr, ytr), (Xval, yval) = mlpc.data.train_val_split(
            X, y, val_size=val_size or 1000, seed=seed, stratify=True)
        Xtr, Xval = mlpc.data.standardize(Xtr, Xval)
        name = "bundled Fashion-MNIST subset (no CIFAR-10 folder given)"
    elif isinstance(data, (tuple, list)):
        (Xtr, ytr), (Xval, yval) = data[0], data[1]
        name = data[2] if len(data) > 2 else "given data"
    else:
        (Xtr, ytr), (Xval, yval), _ = mlpc.data.load_cifar10(
            data, validation=5000 if val_size is None else val_size)
        name = "CIFAR-10"
    if train_size is not None and train_size < len(ytr):
        idx = np.sort(np.random.default_rng(seed).choice(len(ytr), train_size, replace=False))
        Xtr, ytr = Xtr[idx], ytr[idx]
    if val_size is not None and val_size < len(yval):
        Xval, yval = Xval[:val_size], yval[:val_size]
    return (np.asarray(Xtr), np.asarray(ytr)), (np.asarray(Xval), np.asarray(yval)), name


def build_network(in_features, hidden=(50, 10, 10, 10, 10), num_classes=10, batchnorm=True,
                  init="he_normal", bn_momentum=0.1, dtype="float32", seed=0):
    """Linear → [BatchNorm] → ReLU per hidden layer, then Linear; the Linear layers get the same
    seeds with and without BN, so both networks start from the same weights."""
    import mlpc
    mods, n = [], in_features
    for l, h in enumerate(hidden):
        mods.append(mlpc.Linear(n, h, init=init, seed=seed * 1000 + l))
        if batchnorm:
            mods.append(mlpc.BatchNorm(h, momentum=bn_momentum))
        mods.append(mlpc.ReLU())
        n = h
    mods.append(mlpc.Linear(n, num_classes, init=init, seed=seed * 1000 + len(hidden)))
    return mlpc.Sequential(*mods, dtype=dtype)


def _evaluate(net, loss_fn, X, y):
    net.eval()
    scores = net.forward(X)
    loss = loss_fn(scores, y)
    acc = float(np.mean(np.argmax(scores, axis=1) == y))
    net.train()
    return float(loss), acc


def _snapshot(recorder, net, step, keep, max_values, rng):
    """Per-layer statistics (and values for the histograms) of the last forward/backward, by a
    mlpc.Recorder: h_l are the ReLU outputs, the pre-activations the outputs of the layer
    before each ReLU (BN or Linear), and ∂J/∂W_l the gradients of the Linear weights."""
    import mlpc
    recorder.record(net, step)
    layers = net.layers
    relus = [str(i) for i, m in enumerate(layers) if isinstance(m, mlpc.ReLU)]
    pre = [str(int(name) - 1) for name in relus]
    series = {
        "activation": [(name, "output") for name in relus],
        "preactivation": [(name, "output") for name in pre],
        "grad_weight": [(f"{i}.weight", "grad") for i, m in enumerate(layers)
                        if isinstance(m, mlpc.Linear)],
        "grad_output": [(name, "grad_output") for name in relus],
        "grad_preactivation": [(name, "grad_output") for name in pre],
    }
    stats = {}
    for quantity, keys in series.items():
        moments = [recorder.moments(*key) for key in keys]
        stats[quantity] = {stat: [float(m[stat][-1]) for m in moments]
                           for stat in mlpc.Recorder.STATS}
    values = {k: [sample_values(recorder.values(*key), max_values, rng) for key in series[k]]
              for k in ("activation", "grad_" + keep)}
    return stats, values


def _train(net, p, train, val, seed):
    import mlpc
    import mlpc.data
    (Xtr, ytr), (Xval, yval) = train, val
    rng = np.random.default_rng(seed)
    eval_idx = rng.choice(len(ytr), min(p["eval_size"], len(ytr)), replace=False)
    Xev, yev = Xtr[eval_idx], ytr[eval_idx]
    loss_fn = mlpc.SoftmaxCrossEntropy()
    opt = mlpc.SGD(net, lr=p["lr"])
    order = np.random.default_rng(seed + 1)          # the same batch order for every run
    batches = iter(())
    hist = sorted(set(s for s in p["hist_steps"] if s <= p["steps"]))
    out = {"eval_steps": [], "train_loss": [], "train_accuracy": [], "val_loss": [],
           "val_accuracy": [], "step_loss": [], "layers": {}}
    values = {}
    snap_rng = np.random.default_rng(seed + 2)
    recorder = mlpc.Recorder(what=("output", "grad_output", "grad"), keep_values=True)
    net.train()
    for s in range(p["steps"] + 1):
        if s % p["eval_every"] == 0 or s == p["steps"]:
            for part, (Xe, ye) in (("train", (Xev, yev)), ("val", (Xval, yval))):
                loss, acc = _evaluate(net, loss_fn, Xe, ye)
                out[f"{part}_loss"].append(loss)
                out[f"{part}_accuracy"].append(acc)
            out["eval_steps"].append(s)
        if s < p["steps"] or s in hist:
            try:
                xb, yb = next(batches)
            except StopIteration:
                batches = mlpc.data.minibatches(Xtr, ytr, p["batch"], shuffle=True, seed=order)
                xb, yb = next(batches)
            if s < p["steps"]:
                out["step_loss"].append(float(net.train_step(xb, yb, loss_fn, opt)))
            else:                                     # last histogram step: no update after it
                net.zero_grad()
                net.cost(xb, yb, loss_fn)
                net.backward()
            if s in hist:
                out["layers"][str(s)], values[s] = _snapshot(recorder, net, s, p["grad"],
                                                             p["max_values"], snap_rng)
    out["final_val_accuracy"] = out["val_accuracy"][-1]
    return out, values


def run(quick=False, seed=0, **params):
    """Train the four networks (η in lrs × with/without BN); returns a BatchNormResult.

    stats = {"dataset": name, "in_features", "train_size", "val_size", "runs": {"eta=0.01":
    {"bn": run, "no_bn": run}, ...}} where run = {"eval_steps", "train_loss", "train_accuracy",
    "val_loss", "val_accuracy" (per evaluation), "step_loss" (per update), "final_val_accuracy",
    "layers": {"<step>": {"activation"|"preactivation"|"grad_weight"|"grad_output"|
    "grad_preactivation": {mean, std, zero_fraction, norm: [per layer]}}}}."""
    p = merge_params(NAME, DEFAULTS, QUICK, quick, params, kinds=KINDS, seed=seed)
    p["hist_steps"] = _check_histogram_steps(p)
    train, val, dataset = load_data(p["data"], p["val_size"], p["train_size"], seed)
    if isinstance(p["data"], (tuple, list)):
        p["data"] = "<arrays>"
    elif p["data"] is not None:
        p["data"] = str(p["data"])
    Xtr = np.asarray(train[0], dtype=p["dtype"])
    Xval = np.asarray(val[0], dtype=p["dtype"])
    train, val = (Xtr, train[1]), (Xval, val[1])
    runs, data = {}, {}
    for lr in p["lrs"]:
        key = f"eta={lr:g}"
        runs[key], data[key] = {}, {}
        for run_key, _, bn in _RUNS:
            net = build_network(Xtr.shape[1], p["hidden"], p["num_classes"], bn, p["init"],
                                p["bn_momentum"], p["dtype"], seed)
            out, values = _train(net, dict(p, lr=lr), train, val, seed)
            runs[key][run_key], data[key][run_key] = out, values
    stats = {"dataset": dataset, "in_features": int(Xtr.shape[1]), "train_size": len(Xtr),
             "val_size": len(Xval), "runs": runs}
    p.update(seed=seed, quick=bool(quick))
    return BatchNormResult(NAME, p, stats, data)


class BatchNormResult(Result):
    """Figures per learning rate η: "eta<η>_activations" and "eta<η>_gradients" (histogram grids,
    one row per (BN / no BN, update step), one column per layer; non-zero values only, the zero
    fraction in the titles; log y for gradients) and "curves" (loss and accuracy, training and
    validation, with and without BN, one column per η)."""

    def _where(self):
        d = self.stats["dataset"]
        return d if d == "CIFAR-10" else f"{d}, {self.stats['in_features']} inputs"

    def _rows(self, key, quantity):
        rows, labels, stats = [], [], []
        for run_key, label, _ in _RUNS:
            for s in self.params["hist_steps"]:
                rows.append(self.data[key][run_key][s][quantity])
                stats.append(self.stats["runs"][key][run_key]["layers"][str(s)][quantity])
                labels.append(f"{label}, step {s}")
        return rows, labels, stats

    def histogram_figure(self, lr, what="activations"):
        """Histograms of |values| on one log axis for every panel (zeros counted in the titles;
        a panel of nothing but zeros says so), one row per (BN or not, step), one column per
        layer; right of them the std (log scale) and the zero fraction per layer."""
        from .. import plot
        what = check_choice("what", what, ("activations", "gradients"))
        key = f"eta={float(lr):g}"
        if what == "activations":
            rows, labels, stats = self._rows(key, "activation")
            text, symbol = "activations h_l (ReLU outputs)", "h_l"
            cols = [f"hidden layer {l + 1}" for l in range(len(rows[0]))]
        else:
            g = self.params["grad"]
            rows, labels, stats = self._rows(key, "grad_" + g)
            text = f"gradients {_GRAD_TEXT[g]}"
            symbol = {"weight": "∂J/∂W_l", "output": "∂J/∂h_l", "preactivation": "∂J/∂s_l"}[g]
            cols = [f"{'Linear' if g == 'weight' else 'hidden'} layer {l + 1}"
                    for l in range(len(rows[0]))]
        strips = [(f"std of {symbol}", [s["std"] for s in stats], "log"),
                  ("zeros", [s["zero_fraction"] for s in stats], "fraction")]
        return plot.histogram_grid(
            rows, row_labels=labels, col_labels=cols, bins=self.params["bins"], magnitude=True,
            sharex="all", xlabel=symbol, strips=strips, panel_size=(2.3, 1.6),
            title=f"η = {float(lr):g}: {text} at update steps {self.params['hist_steps']}, "
                  f"with and without batch norm ({self._where()})\nhistograms of |{symbol}| "
                  f"on one log axis (zeros counted in the titles); right: std and zero "
                  f"fraction per layer")

    def curves_figure(self):
        from .. import plot
        lrs = self.params["lrs"]
        fig = plot.new_figure((5.2 * len(lrs), 7))
        axes = fig.subplots(2, len(lrs), squeeze=False)
        for j, lr in enumerate(lrs):
            runs = self.stats["runs"][f"eta={lr:g}"]
            history = {"epoch": runs["bn"]["eval_steps"]}
            for run_key, label, _ in _RUNS:
                for part in ("train", "val"):
                    for metric in ("loss", "accuracy"):
                        history[f"{label} {part}_{metric}"] = runs[run_key][f"{part}_{metric}"]
            plot.training_curves(history, keys=("loss", "accuracy"), axes=axes[:, j],
                                 xlabel="update step")
            for ax, metric in zip(axes[:, j], ("loss", "accuracy")):
                ax.set_title(f"η = {lr:g}: {metric}")
                # lines come as BN train, BN val, no BN train, no BN val
                for line, color, style in zip(ax.get_lines(), ("C0", "C0", "C3", "C3"),
                                              ("-", "--", "-", "--")):
                    line.set_color(color)
                    line.set_linestyle(style)
                ax.legend(fontsize=8)
        fig.suptitle(f"With and without batch normalization ({self._where()})")
        fig.tight_layout()
        return fig

    def figures(self):
        figs = {}
        for lr in self.params["lrs"]:
            figs[f"eta{lr:g}_activations"] = self.histogram_figure(lr, "activations")
            figs[f"eta{lr:g}_gradients"] = self.histogram_figure(lr, "gradients")
        figs["curves"] = self.curves_figure()
        return figs
