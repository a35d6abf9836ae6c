"""Experiment 2: the pathological constant initialization (DD2424 lecture 4).

L weight matrices, d hidden units per layer, C outputs, d-dimensional inputs, no biases, every
weight the same constant c. The notes state that after any number t of mini-batch gradient steps

    W_1 (d × d_in)         : each column is a (different) constant vector   W_1 = 1 vᵀ
    W_l, 2 ≤ l ≤ L−1 (d × d): W_l = a_t 1 1ᵀ
    W_L (C × d)            : each row is a (different) constant vector      W_L = u 1ᵀ

(all hidden units of a layer compute the same function and get the same update; the symmetry is
never broken). The experiment trains such a network with mini-batch gradient descent and measures,
for every matrix and every step, its relative distance from that structure,

    ‖W − P(W)‖_F / ‖W‖_F,   P = projection onto the structure (column means for W_1, row means
                              for W_L, the overall mean for the middle matrices),

which stays at rounding level (~1e-16 in float64), against the same network started from a small
random init N(0, σ²) (distance of order 1). The weights are read from the core's parameter views.
"""
import numpy as np

from .._choices import check_choice
from . import (Result, dtype, elementwise_activation, integer, merge_params, number,
               optional)

NAME = "constant_init"

DEFAULTS = dict(
    layers=5,            # L: number of weight matrices
    hidden=20,           # d: units per hidden layer
    input_dim=None,      # dimension of the inputs (None: d, as in the notes)
    num_classes=10,      # C
    value=0.1,           # the constant c of every weight
    activation="tanh",
    samples=500,         # training examples: N(0, 1) inputs, random labels
    batch=50,            # mini-batch size
    steps=100,           # gradient steps
    lr=0.1,
    random_std=0.01,     # the symmetry-breaking comparison: W ~ N(0, random_std²)
    dtype="float64",
)
QUICK = dict(steps=20, samples=200)
# layers >= 2: a first and a last matrix; the activation has no parameters, so the network's
# parameters are exactly W_1 .. W_L
KINDS = dict(layers=integer(2), hidden=integer(1), input_dim=optional(integer(1)),
             num_classes=integer(2), value=number(), activation=elementwise_activation,
             samples=integer(1), batch=integer(1), steps=integer(1), lr=number(above=0),
             random_std=number(above=0), dtype=dtype)


def structure_distance(W, position):
    """Relative Frobenius distance of W from its structure; position "first", "middle" or
    "last" (see the module docstring). 0 for a zero matrix."""
    position = check_choice("position", position, ("first", "middle", "last"))
    W = np.asarray(W, dtype=np.float64)
    if position == "first":
        P = np.broadcast_to(W.mean(axis=0, keepdims=True), W.shape)
    elif position == "last":
        P = np.broadcast_to(W.mean(axis=1, keepdims=True), W.shape)
    else:
        P = np.full_like(W, W.mean())
    norm = np.linalg.norm(W)
    return float(np.linalg.norm(W - P) / norm) if norm > 0 else 0.0


def positions(layers):
    return ["first"] + ["middle"] * (layers - 2) + ["last"]


def _train(p, init, X, y, seed):
    import mlpc
    L, d = p["layers"], p["hidden"]
    widths = [X.shape[1]] + [d] * (L - 1) + [p["num_classes"]]
    mods = []
    for l in range(L):
        mods.append(mlpc.Linear(widths[l], widths[l + 1], bias=False, init=init,
                                seed=seed * 1000 + l))
        if l < L - 1:
            mods.append(mlpc.ACTIVATIONS[p["activation"]]())
    net = mlpc.Sequential(*mods, dtype=p["dtype"])
    weights = [w for _, w, _ in net.named_parameters()]       # views of W_1 .. W_L
    pos = positions(L)
    loss_fn = mlpc.SoftmaxCrossEntropy()
    opt = mlpc.SGD(net, lr=p["lr"])
    rng = np.random.default_rng(seed)
    dist = [[structure_distance(W, q) for W, q in zip(weights, pos)]]
    middle_a = [[float(W.mean()) for W in weights[1:-1]]]
    costs = []
    batches = iter(())
    for _ in range(p["steps"]):
        try:
            xb, yb = next(batches)
        except StopIteration:
            batches = mlpc.data.minibatches(X, y, p["batch"], shuffle=True, seed=rng)
            xb, yb = next(batches)
        costs.append(float(net.train_step(xb, yb, loss_fn, opt)))
        dist.append([structure_distance(W, q) for W, q in zip(weights, pos)])
        middle_a.append([float(W.mean()) for W in weights[1:-1]])
    return {"distance": np.array(dist).T, "cost": np.array(costs),
            "a_t": np.array(middle_a).T, "final_weights": [np.array(W) for W in weights]}


def run(quick=False, seed=0, **params):
    """Train from the constant init and from a small random init; returns a ConstantInitResult.

    stats["constant"|"random"] = {"distance": [per layer: [per step 0..steps]], "cost": [per
    step], "max_distance": [per layer]}; stats["constant"]["a_t"]: the middle matrices' constant
    a_t per step. data holds the final weight matrices."""
    import mlpc.data

    p = merge_params(NAME, DEFAULTS, QUICK, quick, params, kinds=KINDS, seed=seed)
    input_dim = p["input_dim"] or p["hidden"]
    X, y = mlpc.data.gaussian_inputs(p["samples"], input_dim, p["num_classes"], seed=seed)
    stats, data = {}, {}
    for kind, init in (("constant", mlpc.init.constant(p["value"])),
                       ("random", mlpc.init.normal(p["random_std"]))):
        out = _train(p, init, X, y, seed)
        stats[kind] = {"distance": out["distance"], "cost": out["cost"],
                       "max_distance": out["distance"].max(axis=1)}
        if kind == "constant":
            stats[kind]["a_t"] = out["a_t"]
        data[kind] = out["final_weights"]
    stats["positions"] = positions(p["layers"])
    p.update(seed=seed, quick=bool(quick), input_dim=input_dim)
    return ConstantInitResult(NAME, p, stats, data)


class ConstantInitResult(Result):
    """Figure "distance": distance from the structure against the step, one curve (and marker)
    per matrix, in two panels with their own log y-axes: the constant init (at rounding level;
    exact zeros drawn at `floor`) and the small random init (far from the structure)."""

    floor = 1e-18
    markers = "osD^v<>px*"

    def figures(self):
        from .. import plot
        p = self.params
        L, steps = p["layers"], np.arange(p["steps"] + 1)
        fig = plot.new_figure((11, 4.3))
        axes = fig.subplots(1, 2)
        for ax, kind, text in zip(axes, ("constant", "random"),
                                  (f"constant init c = {p['value']}: the structure stays "
                                   f"(rounding level)",
                                   f"random init N(0, {p['random_std']}²): no structure")):
            dist = self.stats[kind]["distance"]
            # the largest distance in each label: curves that coincide are still told apart
            digits = 2 if kind == "constant" else 4
            ys = {f"W_{l + 1} (max {dist[l].max():.{digits}g})": np.maximum(dist[l], self.floor)
                  for l in range(L)}
            plot.line_plot(steps, ys, log=kind == "constant", xlabel="gradient step t", ax=ax,
                           title=text)
            every = max(1, len(steps) // 10)
            for l, line in enumerate(ax.get_lines()):   # markers tell overlapping layers apart
                line.set_marker(self.markers[l % len(self.markers)])
                line.set_markevery((l * every // max(L, 1), every))
                line.set_markersize(5)
                line.set_markerfacecolor("none")
            ax.legend(fontsize=7, title="matrix", title_fontsize=7)
            ax.title.set_fontsize(10)
        axes[0].set_ylabel("‖W − P(W)‖_F / ‖W‖_F  (log; 0 drawn at 1e-18)")
        axes[1].set_ylabel("‖W − P(W)‖_F / ‖W‖_F")
        fig.suptitle(f"Distance of each weight matrix from the symmetric structure P(W) "
                     f"({L} layers, d={p['hidden']}, {p['activation']}, no biases, "
                     f"{p['dtype']})", fontsize=11)
        fig.tight_layout()
        return {"distance": fig}
