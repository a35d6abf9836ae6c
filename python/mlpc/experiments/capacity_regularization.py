"""Experiment 5: capacity and regularization of a 2-layer ReLU network on a 2-D toy problem.

The notes (DD2424 lecture 4, "Effect of the number of hidden nodes in a 2 layer network"):
a network x → ReLU(W₁x + b₁) → W₂h + b₂ → softmax with m = 3, 20, 30, 100 hidden units and no
regularization (the boundary gets more complex with m; the result also depends on the random
initialization), then m = 100 with L2 regularization λ = 0, 0.001, 0.01, 0.1 on
J = Σ_{(x,y)∈D} l(x, y, Θ) + λ Σ‖W‖²_F (smoother boundaries for larger λ):
"do not use size of neural network as a regularizer — use stronger regularization".

The notes' J sums the loss over the training set while mlpc's cost averages it, so with
sum_loss=True (default) the network gets l2 = λ/N_train, which is the same minimizer.
"""
import numpy as np

import mlpc
from mlpc import data as _data
from mlpc._choices import check_choice
from . import Result, boolean, choice, dtype, integer, list_of, merge_params, number

NAME = "capacity_regularization"

_OPTIMIZERS = {"adam": mlpc.Adam, "sgd": mlpc.SGD}


def _dataset(name, n, noise, classes, seed):
    if name == "spirals":
        return _data.spirals(n, classes=classes, noise=noise, seed=seed)
    if name == "moons":
        return _data.moons(n, noise=noise, seed=seed)
    raise ValueError(f"dataset must be 'spirals' or 'moons', got {name!r}")


def weight_norm(net):
    """Σ‖W‖²_F over the weight matrices (what the L2 penalty multiplies), from the core's views."""
    return float(sum(float(np.sum(np.square(value))) for name, value, _ in net.named_parameters()
                     if name.endswith("weight")))


def train_two_layer(X, y, hidden, l2=0.0, steps=3000, lr=0.01, optimizer="adam",
                    momentum=0.9, seed=0, num_classes=None, dtype="float64"):
    """A Linear(2, m) → ReLU → Linear(m, K) network trained by full-batch steps of mlpc;
    returns (net, costs)."""
    optimizer = check_choice("optimizer", optimizer, _OPTIMIZERS, f"one of {sorted(_OPTIMIZERS)}")
    K = int(num_classes or (int(np.max(y)) + 1))
    net = mlpc.Sequential(mlpc.Linear(X.shape[1], hidden), mlpc.ReLU(), mlpc.Linear(hidden, K),
                          dtype=dtype, l2=l2, seed=seed)
    opt = mlpc.Adam(net, lr=lr) if optimizer == "adam" else mlpc.SGD(net, lr=lr, momentum=momentum)
    loss_fn = mlpc.SoftmaxCrossEntropy()
    costs = np.array([net.train_step(X, y, loss_fn, opt) for _ in range(steps)])
    return net, costs


class CapacityResult(Result):
    """stats["runs"]: one entry per configuration, keyed "m=<m>,init=<k>" (capacity rows) and
    "m=<m>,lambda=<λ>" (regularization row): hidden, lam, l2 (mlpc's l2), init_seed,
    train_accuracy, val_accuracy, final_cost, weight_norm (Σ‖W‖²_F), loss (the data term).
    stats["rows"]: {"capacity_init<k>": [keys], "regularization": [keys]} in panel order.
    data["predict"][key]: the trained network's predict (for redrawing); data["costs"][key]: the
    cost at every training step."""

    def figures(self):
        return {"hidden": self.plot_hidden(), "l2": self.plot_l2()}

    def _panels(self, rows, title):
        from mlpc.plot import _grid, decision_boundary
        n_cols = max(len(r) for r in rows)
        fig, axes = _grid(len(rows) * n_cols, n_cols, panel_size=(3.2, 3.0))
        Xtr, ytr = self.data["X_train"], self.data["y_train"]
        res = self.params["resolution"]
        for i, keys in enumerate(rows):
            for j, key in enumerate(keys):
                run = self.stats["runs"][key]
                ax = axes[i * n_cols + j]
                label = (f"m = {run['hidden']}" if run["lam"] is None
                         else f"m = {run['hidden']}, λ = {run['lam']:g}")
                decision_boundary(self.data["predict"][key], Xtr, ytr, ax=ax, resolution=res,
                                  title=f"{label}\ntrain {100 * run['train_accuracy']:.1f}%, "
                                        f"val {100 * run['val_accuracy']:.1f}%")
                ax.title.set_fontsize(9)
                ax.tick_params(labelsize=7)
                if len(rows) > 1 and j == 0:
                    ax.set_ylabel(f"random init {i + 1}\nx₂")
        fig.suptitle(title)
        fig.tight_layout()
        return fig

    def plot_hidden(self):
        rows = [keys for name, keys in self.stats["rows"].items() if name.startswith("capacity")]
        return self._panels(rows, "hidden units m, no regularization (one row per random init)")

    def plot_l2(self):
        m = self.params["l2_hidden"]
        return self._panels([self.stats["rows"]["regularization"]],
                            f"m = {m} hidden units, L2 regularization λ")


DEFAULTS = dict(
    dataset="spirals",              # or "moons"
    n_train=200,
    n_val=200,
    noise=0.4,
    classes=3,                      # spiral arms
    hidden_sizes=(3, 20, 30, 100),  # m, no regularization
    init_seeds=(0, 1),              # offsets added to seed: one row of panels per initialization
    l2_hidden=100,                  # m of the regularization row
    lambdas=(0.0, 0.001, 0.01, 0.1),
    sum_loss=True,                  # λ on the summed loss as in the notes (mlpc l2 = λ/n_train)
    steps=3000,                     # full-batch updates
    lr=0.01,
    optimizer="adam",               # or "sgd" (with momentum)
    momentum=0.9,
    dtype="float64",
    resolution=150,                 # decision-boundary grid points per axis
)
QUICK = dict(n_train=100, n_val=100, steps=700, resolution=60)
KINDS = dict(dataset=choice("spirals", "moons"), n_train=integer(1), n_val=integer(1),
             noise=number(at_least=0), classes=integer(2), hidden_sizes=list_of(integer(1)),
             init_seeds=list_of(integer(0)), l2_hidden=integer(1),
             lambdas=list_of(number(at_least=0)), sum_loss=boolean, steps=integer(1),
             lr=number(above=0), optimizer=choice(*_OPTIMIZERS),
             momentum=number(at_least=0, below=1), dtype=dtype, resolution=integer(2))


def run(quick=False, seed=0, **params):
    """Train the 2-layer ReLU network for every hidden size m (once per init seed, no
    regularization) and for m = l2_hidden with every λ; record accuracies and weight norms
    (parameters: DEFAULTS). The data are drawn with `seed`, the networks initialized with
    seed + init_seeds[i]. sum_loss=False uses λ directly as mlpc's l2 on the mean loss.
    Returns a CapacityResult."""
    p = merge_params(NAME, DEFAULTS, QUICK, quick, params, kinds=KINDS, seed=seed)
    (dataset, n_train, n_val, noise, classes, hidden_sizes, init_seeds, l2_hidden, lambdas,
     sum_loss, steps, lr, optimizer, momentum, dtype, resolution) = (p[k] for k in DEFAULTS)
    X, y = _dataset(dataset, n_train + n_val, noise, classes, seed)
    Xtr, ytr, Xv, yv = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    K = int(y.max()) + 1
    runs, rows, predict, costs_of = {}, {}, {}, {}

    def fit(key, hidden, lam, init_seed):
        l2 = 0.0 if not lam else (lam / n_train if sum_loss else lam)
        net, costs = train_two_layer(Xtr, ytr, hidden, l2=l2, steps=steps, lr=lr,
                                     optimizer=optimizer, momentum=momentum, seed=init_seed,
                                     num_classes=K, dtype=dtype)
        penalty = net.penalty()
        runs[key] = {"hidden": int(hidden), "lam": None if lam is None else float(lam),
                     "l2": l2, "init_seed": int(init_seed),
                     "train_accuracy": float(np.mean(net.predict(Xtr) == ytr)),
                     "val_accuracy": float(np.mean(net.predict(Xv) == yv)),
                     "final_cost": float(costs[-1]),
                     "loss": float(net.cost(Xtr, ytr, mlpc.SoftmaxCrossEntropy()) - penalty),
                     "weight_norm": weight_norm(net)}
        predict[key] = net.predict
        costs_of[key] = costs
        return key

    for k in init_seeds:
        rows[f"capacity_init{k}"] = [fit(f"m={m},init={k}", m, None, seed + k)
                                     for m in hidden_sizes]
    rows["regularization"] = [fit(f"m={l2_hidden},lambda={lam:g}", l2_hidden, lam,
                                  seed + init_seeds[0]) for lam in lambdas]
    p.update(quick=bool(quick), seed=seed)
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()}
    accuracy = {key: {"train": r["train_accuracy"], "val": r["val_accuracy"]}
                for key, r in runs.items()}
    stats = {"runs": runs, "rows": rows, "accuracy": accuracy}
    return CapacityResult(NAME, params, stats,
                          {"X_train": Xtr, "y_train": ytr, "X_val": Xv, "y_val": yv,
                           "predict": predict, "costs": costs_of})
