"""Experiment 4: slow learning of a sigmoid neuron with the quadratic cost ("Improving the way
neural networks learn", after Nielsen ch. 3).

One neuron a = σ(z), z = w x + b, learns to map x = 1 to y = 0 by gradient descent (η = 0.15,
300 epochs of the single example):

    quadratic cost from (w, b) = (0.6, 0.9)   C = (a − y)²/2,  ∂C/∂w = (a − y) σ′(z) x
    quadratic cost from (w, b) = (2.0, 2.0)   σ′(z) ≈ σ′(4) ≈ 0.018: learning starts very slowly
    cross-entropy  from (w, b) = (2.0, 2.0)   C = −[y ln a + (1−y) ln(1−a)],  ∂C/∂w = (a − y) x

Built with mlpc: Sequential(Linear(1, 1), Sigmoid()) + MSELoss (which is ½‖ŷ − y‖² per example)
for the quadratic cost, and Sequential(Linear(1, 1)) + BinaryCrossEntropy (sigmoid + cross-entropy
on the logit z, exactly the neuron above) for the cross-entropy; plain SGD. Per epoch the weights
before the step, the cost, the gradients (from the core's parameter gradients), z and a (the
layers' outputs) and σ′(z) (from the C sigmoid kernel) are recorded.
"""
import numpy as np

from . import (ParameterValueError, Result, choice, dtype, integer, list_of, merge_params,
               number)

NAME = "slow_learning"

DEFAULTS = dict(
    runs=(("quadratic", 0.6, 0.9), ("quadratic", 2.0, 2.0), ("cross_entropy", 2.0, 2.0)),
    lr=0.15,
    epochs=300,
    x=1.0,
    y=0.0,
    dtype="float64",
)
QUICK: dict[str, object] = {}        # 300 steps of one neuron take milliseconds

_COSTS = ("quadratic", "cross_entropy")


def _run_kind(key, value):
    """Kind of one entry of `runs`: (cost, w, b), as a tuple."""
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise ParameterValueError(f"{key} must be a (cost, w, b) triple, got {value!r}")
    cost, w, b = value
    return (choice(*_COSTS)(f"{key}[0]", cost), number()(f"{key}[1]", w),
            number()(f"{key}[2]", b))


def _runs_kind(key, value):
    """Kind of `runs`: (cost, w, b) triples; one triple alone is one run."""
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], str):
        value = [value]
    return list_of(_run_kind)(key, value)


KINDS = dict(runs=_runs_kind, lr=number(above=0), epochs=integer(1), x=number(), y=number(),
             dtype=dtype)


def _check_target(p):
    """The cross-entropy's target is a probability: check it before the first run, not when the
    core refuses it at the cross-entropy run's first step."""
    if any(cost == "cross_entropy" for cost, _, _ in p["runs"]) and not 0 <= p["y"] <= 1:
        raise ParameterValueError(f"{NAME}: y must be in [0, 1] for a cross_entropy run, "
                                  f"got {p['y']!r}")


def run_label(cost, w, b):
    return f"{'quadratic' if cost == 'quadratic' else 'cross-entropy'}, (w, b) = ({w:g}, {b:g})"


def _train(cost, w0, b0, p):
    import mlpc
    lin = mlpc.Linear(1, 1)
    if cost == "quadratic":
        net, loss_fn = mlpc.Sequential(lin, mlpc.Sigmoid(), dtype=p["dtype"]), mlpc.MSELoss()
    else:
        net, loss_fn = mlpc.Sequential(lin, dtype=p["dtype"]), mlpc.BinaryCrossEntropy()
    lin.weight[...] = w0
    lin.bias[...] = b0
    opt = mlpc.SGD(net, lr=p["lr"])
    X = np.array([[p["x"]]], dtype=p["dtype"])
    Y = np.array([[p["y"]]], dtype=p["dtype"])
    sigmoid = mlpc.Sigmoid()
    grads = {name: g for name, _, g in net.named_parameters()}
    rec = {k: [] for k in ("w", "b", "cost", "grad_w", "grad_b", "z", "a", "sigma_prime")}
    for _ in range(p["epochs"]):
        rec["w"].append(float(lin.weight[0, 0]))
        rec["b"].append(float(lin.bias[0]))
        rec["cost"].append(float(net.train_step(X, Y, loss_fn, opt)))
        rec["grad_w"].append(float(grads["0.weight"][0, 0]))     # ∂C/∂w of this step
        rec["grad_b"].append(float(grads["0.bias"][0]))
        z = np.array(lin.output, dtype=np.float64)                # the neuron's z = w x + b
        a, da = sigmoid.function(z)                               # σ(z), σ′(z) (C kernels)
        if cost == "quadratic":
            a = np.asarray(net[1].output, dtype=np.float64)      # the network's own σ(z)
        rec["z"].append(float(z[0, 0]))
        rec["a"].append(float(a[0, 0]))
        rec["sigma_prime"].append(float(da[0, 0]))
    rec = {k: np.array(v) for k, v in rec.items()}
    rec["final"] = [float(lin.weight[0, 0]), float(lin.bias[0])]
    return rec


def run(quick=False, seed=0, **params):
    """Returns a SlowLearningResult; stats["runs"][label] = {w, b (before each step), cost,
    grad_w, grad_b, z, a, sigma_prime: [per epoch], final: [w, b]} with labels like
    "quadratic, (w, b) = (2, 2)". (seed is accepted for uniformity; nothing is random.)"""
    p = merge_params(NAME, DEFAULTS, QUICK, quick, params, kinds=KINDS, seed=seed)
    _check_target(p)
    runs = {}
    for cost, w0, b0 in p["runs"]:
        runs[run_label(cost, w0, b0)] = _train(cost, w0, b0, p)
    p.update(seed=seed, quick=bool(quick))
    return SlowLearningResult(NAME, p, {"runs": runs})


class SlowLearningResult(Result):
    """Figure "curves": three panels against the epoch: the cost, ∂C/∂w and σ′(z)."""

    def figures(self):
        from .. import plot
        runs = self.stats["runs"]
        epochs = np.arange(self.params["epochs"])
        fig = plot.new_figure((13.5, 3.9))
        axes = fig.subplots(1, 3)
        plot.line_plot(epochs, {k: r["cost"] for k, r in runs.items()}, ax=axes[0],
                       title="cost C", xlabel="epoch", ylabel="C")
        plot.line_plot(epochs, {k: r["grad_w"] for k, r in runs.items()}, ax=axes[1],
                       title="∂C/∂w: (a−y)σ′(z)x (quadratic), (a−y)x (cross-entropy)",
                       xlabel="epoch", ylabel="∂C/∂w")
        plot.line_plot(epochs, {k: r["sigma_prime"] for k, r in runs.items()}, ax=axes[2],
                       title="σ′(z): the factor that slows the quadratic cost",
                       xlabel="epoch", ylabel="σ′(z)")
        for ax in axes:
            ax.title.set_fontsize(10)
            ax.legend(fontsize=8)
        fig.suptitle(f"One sigmoid neuron learning x = {self.params['x']:g} → "
                     f"y = {self.params['y']:g} (η = {self.params['lr']:g})")
        fig.tight_layout()
        return {"curves": fig}
