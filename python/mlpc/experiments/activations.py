"""Experiment 8: every activation of the core and its derivative, beside the notes' table.

DD2424 lecture 4 ("Many variations have been explored") tabulates each activation g with its
formula, derivative g′, range and order of continuity. Here f and f′ are evaluated on a grid by
the C kernels (`Activation.function(x)` returns both; PReLU, a layer with a learnable slope, and
the optional gated units are run through a one-layer network's forward and backward pass) and
drawn with `mlpc.plot.activation_gallery`, titled with the formula and range. The statistics
check each kernel's f′ against a central difference of its own f and report the range seen on
the grid.
"""
import math

import numpy as np

import mlpc
from . import (ParameterValueError, Result, boolean, choice, integer, list_of, merge_params,
               number, optional)

NAME = "activations"

_INF = math.inf
_SELU_LAMBDA, _SELU_ALPHA = 1.0507009873554805, 1.6732632423543772

# name: (formula, derivative, range as written, (lower, upper) numeric bounds, continuity)
TABLE = {
    "identity": (r"$x$", r"$1$", "(−∞, ∞)", (-_INF, _INF), "C^∞"),
    "step": (r"$1$ if $x>0$ else $0$", r"$0$", "{0, 1}", (0.0, 1.0), "C^−1"),
    "sigmoid": (r"$\sigma(x)=1/(1+e^{-x})$", r"$g(1-g)$", "(0, 1)", (0.0, 1.0), "C^∞"),
    "tanh": (r"$\tanh(x)$", r"$1-g^2$", "(−1, 1)", (-1.0, 1.0), "C^∞"),
    "relu": (r"$\max(0,x)$", r"$1[x>0]$", "[0, ∞)", (0.0, _INF), "C^0"),
    "leaky_relu": (r"$\max(0.01x,x)$", r"$0.01$ or $1$", "(−∞, ∞)", (-_INF, _INF), "C^0"),
    "elu": (r"$x$ ($x>0$), $\alpha(e^x-1)$, $\alpha=1$", r"$1$ or $\alpha e^x$", "(−α, ∞)",
            (-1.0, _INF), "C^1 (α = 1)"),
    "selu": (r"$\lambda x$ ($x\geq0$), $\lambda\alpha(e^x-1)$", r"$\lambda$ or $\lambda\alpha e^x$",
             "(−λα, ∞) ≈ (−1.758, ∞)", (-_SELU_LAMBDA * _SELU_ALPHA, _INF), "C^0"),
    "gelu": (r"$x\Phi(x)$", r"$\Phi(x)+x\phi(x)$", "(−0.17…, ∞)", (-0.17, _INF), "C^∞"),
    "softplus": (r"$\ln(1+e^x)$", r"$\sigma(x)$", "(0, ∞)", (0.0, _INF), "C^∞"),
    "silu": (r"$x\sigma(x)$", r"$\sigma(1+x(1-\sigma))$", "[−0.278…, ∞)", (-0.2785, _INF),
             "C^∞"),
    "swish": (r"$x\sigma(\beta x)$, $\beta=1$", r"$\sigma(1+\beta x(1-\sigma))$",
              "[−0.278…, ∞)", (-0.2785, _INF), "C^∞"),
    "softsign": (r"$x/(1+|x|)$", r"$1/(1+|x|)^2$", "(−1, 1)", (-1.0, 1.0), "C^1"),
    "prelu": (r"$\max(ax,x)$, $a=0.25$", r"$a$ or $1$", "(−∞, ∞)", (-_INF, _INF), "C^0"),
    # gated units on [u | v] with v = 1: the curve is act(u), the derivative ∂/∂u
    "glu": (r"$\sigma(u)\odot v$", r"$\sigma'(u)\,v$", "(0, 1) for v = 1", (0.0, 1.0), "C^∞"),
    "reglu": (r"$\max(0,u)\odot v$", r"$1[u>0]\,v$", "[0, ∞) for v = 1", (0.0, _INF), "C^0"),
    "geglu": (r"$u\Phi(u)\odot v$", r"$(\Phi(u)+u\phi(u))\,v$", "(−0.17…, ∞) for v = 1",
              (-0.17, _INF), "C^∞"),
    "swiglu": (r"$u\sigma(u)\odot v$", r"$\mathrm{silu}'(u)\,v$", "[−0.278…, ∞) for v = 1",
               (-0.2785, _INF), "C^∞"),
}
GATED = {"glu": mlpc.GLU, "reglu": mlpc.ReGLU, "geglu": mlpc.GEGLU, "swiglu": mlpc.SwiGLU}
# points where f is not differentiable (the finite-difference check skips a neighbourhood)
KINKS = {"step": 0.0, "relu": 0.0, "leaky_relu": 0.0, "elu": 0.0, "selu": 0.0, "prelu": 0.0,
         "reglu": 0.0, "softsign": 0.0}   # softsign: f′ continuous, f″ jumps (O(h) difference)


def evaluate(name, x):
    """(f(x), f'(x)) of the named activation from the C core, for a 1-D float64 grid x."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    if name in GATED:
        # [u | v] with u = x, v = 1: output act(u)·1, ∂/∂u = act'(u)
        net = mlpc.Sequential(GATED[name](), dtype="float64")
        f = net.forward(np.column_stack([x, np.ones_like(x)]))[:, 0]
        net.zero_grad()
        df = net.backward(np.ones((x.size, 1)))[:, 0]
        return np.array(f), np.array(df)
    layer = mlpc.ACTIVATIONS[name]()
    if isinstance(layer, mlpc.Activation):
        f, df = layer.function(x)
        return np.asarray(f, dtype=np.float64), np.asarray(df, dtype=np.float64)
    # a layer with parameters (PReLU): forward, then backward of ones gives f'(x) elementwise
    net = mlpc.Sequential(layer, dtype="float64")
    f = net.forward(x[:, None])[:, 0]
    net.zero_grad()
    df = net.backward(np.ones((x.size, 1)))[:, 0]
    return np.array(f), np.array(df)


class ActivationsResult(Result):
    """stats[name]: formula, derivative, range (as in the notes), bounds (numeric), continuity,
    observed_min/max on the grid, within_range, max_derivative_error (|f′ − central
    difference of f| away from kinks). data: x, f and df per name."""

    def figures(self):
        from mlpc.plot import activation_gallery
        names = list(self.stats)
        x = self.data["x"]
        formulas = [f"{self.stats[n]['formula']}\nf′ = {self.stats[n]['derivative']},  "
                    f"range {self.stats[n]['range']}" for n in names]
        fig = activation_gallery(names, x, [self.data["f"][n] for n in names],
                                 [self.data["df"][n] for n in names], formulas=formulas,
                                 ncols=self.params["ncols"])
        for ax in fig.axes:
            ax.title.set_fontsize(8.5)
        fig.suptitle("activations f (solid) and f′ (dashed), computed by mlpc's C kernels")
        fig.tight_layout()
        return {"gallery": fig}


DEFAULTS = dict(
    names=None,          # default: every name in mlpc.ACTIVATIONS (+ the gated units)
    gated=False,         # add GLU, ReGLU, GEGLU, SwiGLU (input [u | v] with v = 1)
    x_min=-5.0,
    x_max=5.0,
    n_points=1001,
    fd_step=1e-5,        # central-difference step of the derivative check
    ncols=4,
)
QUICK = dict(n_points=201)
KINDS = dict(names=optional(list_of(choice(*mlpc.ACTIVATIONS, *GATED))), gated=boolean,
             x_min=number(), x_max=number(), n_points=integer(2), fd_step=number(above=0),
             ncols=integer(1))


def run(quick=False, seed=0, **params):
    """Evaluate every activation on n_points in [x_min, x_max] through the C kernels, check f′
    against a central difference of f, and record the range seen (parameters: DEFAULTS).
    seed is accepted for uniformity (nothing is random). Returns an ActivationsResult."""
    p = merge_params(NAME, DEFAULTS, QUICK, quick, params, kinds=KINDS, seed=seed)
    names, gated, x_min, x_max, n_points, fd_step, ncols = (p[k] for k in DEFAULTS)
    if not x_min < x_max:
        raise ParameterValueError(f"{NAME}: x_min must be < x_max, got x_min={x_min:g}, "
                                  f"x_max={x_max:g}")
    if names is None:
        names = list(mlpc.ACTIVATIONS) + (list(GATED) if gated else [])
    x = np.linspace(x_min, x_max, n_points)
    stats, fs, dfs = {}, {}, {}
    for name in names:
        f, df = evaluate(name, x)
        fp, _ = evaluate(name, x + fd_step)
        fm, _ = evaluate(name, x - fd_step)
        numeric = (fp - fm) / (2 * fd_step)
        smooth = np.ones_like(x, dtype=bool)
        if name in KINKS:
            smooth = np.abs(x - KINKS[name]) > 10 * fd_step
        formula, derivative, rng, bounds, continuity = TABLE.get(
            name, (name, "", "?", (-_INF, _INF), "?"))
        lo, hi = float(np.min(f)), float(np.max(f))
        stats[name] = {"formula": formula, "derivative": derivative, "range": rng,
                       "bounds": [bounds[0], bounds[1]], "continuity": continuity,
                       "observed_min": lo, "observed_max": hi,
                       "within_range": bool(lo >= bounds[0] and hi <= bounds[1]),
                       "max_derivative_error": float(np.max(np.abs(df - numeric)[smooth]))}
        fs[name], dfs[name] = f, df
    p.update(quick=bool(quick), seed=seed, names=list(names))
    params = p
    return ActivationsResult(NAME, params, stats, {"x": x, "f": fs, "df": dfs})
