"""Experiment 7: the singular-value bounds on the gradient of a deep MLP (CMPT 726 notes).

The notes' network: z₁ = W₀x, h_l = ψ(z_l), z_{l+1} = W_l h_l, ŷ = W_L h_L (L hidden layers,
weights W₀ … W_L). Backpropagation gives ∂L/∂z_l = diag(g′(z_l)) W_lᵀ ∂L/∂z_{l+1} (with
∂L/∂z_{L+1} = ∂L/∂ŷ), and from ‖Ay‖ ≤ σ_max(A)‖y‖ and ‖Ay‖ ≥ σ_min(A)‖y‖:

    σ_min(x) Π_{l=1..L} σ_min(diag g′(z_l)) σ_min(W_lᵀ) ‖∂L/∂ŷ‖
        ≤ ‖∂L/∂W₀‖ ≤
    σ_max(x) Π_{l=1..L} σ_max(diag g′(z_l)) σ_max(W_lᵀ) ‖∂L/∂ŷ‖.

For a batch of N inputs (rows of X) the same chain acts on the stacked gradients: ∂L/∂W₀ =
(∂L/∂Z₁)ᵀ X, diag(g′(z_l)) becomes the diagonal of all N·n_l derivatives (singular values
|g′| over the batch), W_lᵀ acts on every row, and ‖·‖ is the Frobenius norm. Here σ_min(A) is
the smallest singular value of A as a map (A: R^cols → R^rows), i.e. 0 when A has fewer rows
than columns: Xᵀ needs N ≤ n₀ and W_lᵀ needs n_l ≥ n_{l+1} for a non-zero lower bound. The
same argument bounds ‖∂L/∂W_k‖ for every k with the layer's input matrix H_k (h_k, or X) and
the product over l = k+1 … L: the experiment evaluates all of them ("layer by layer").

Everything the bounds use is read from the core: z_l is the Linear layer's output view,
g′(z_l) comes from `Activation.function` (the C kernel), ∂L/∂ŷ is the last layer's
grad_output, and ‖∂L/∂W_k‖ is the norm of the parameter's gradient view. Singular values are
NumPy's.

Also: the singular values of a random N(0, 1/n) matrix (n = its number of columns) against the
Marchenko–Pastur law (support 1 ± √(rows/cols) for rows ≤ cols), and of an orthogonal
initialization (all exactly 1).
"""
import math

import numpy as np

import mlpc
from mlpc import init as _init
from . import (Result, boolean, choice, elementwise_activation, initializer, integer, list_of,
               merge_params, number, optional)

NAME = "gradient_bounds"


def sigma_range(A):
    """(σ_min, σ_max) of A as a map R^cols → R^rows: σ_min = 0 when rows < cols."""
    A = np.asarray(A, dtype=np.float64)
    s = np.linalg.svd(A, compute_uv=False)
    s_max = float(s[0]) if s.size else 0.0
    s_min = float(s[-1]) if A.shape[0] >= A.shape[1] and s.size else 0.0
    return s_min, s_max


def marchenko_pastur_edges(rows, cols):
    """Support [a, b] of the singular values of a rows × cols matrix of N(0, 1/cols) entries."""
    q = rows / cols
    return abs(math.sqrt(q) - 1.0), math.sqrt(q) + 1.0


def marchenko_pastur_density(s, rows, cols):
    """Limiting density of the singular values of a rows × cols matrix of N(0, 1/cols)
    entries (the non-zero ones, min(rows, cols) of them).

    For q = rows/cols ≤ 1 the eigenvalues x = s² of WWᵀ follow the Marchenko–Pastur law
    √((b − x)(x − a)) / (2π q x) on [a, b] = [(1 − √q)², (1 + √q)²]; the singular-value density
    is that at s² times 2s. For rows > cols, Wᵀ has N(0, (rows/cols)/rows) entries: the
    singular values are √q times those of the q' = 1/q law."""
    s = np.asarray(s, dtype=np.float64)
    q = rows / cols
    if q > 1:
        r = math.sqrt(q)
        return marchenko_pastur_density(s / r, cols, rows) / r
    a, b = (1 - math.sqrt(q)) ** 2, (1 + math.sqrt(q)) ** 2
    x = s ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.sqrt(np.clip((b - x) * (x - a), 0.0, None)) / (2 * math.pi * q * x)
        g = np.where((x > a) & (x < b), 2 * s * f, 0.0)
    return g


def build_mlp(n_in, width, depth, n_out, activation, init_scale=1.0, init=None, bias=False,
              seed=0, dtype="float64"):
    """Linear(n_in, width) → act → [Linear(width, width) → act] × (depth − 1) → Linear(width,
    n_out): depth = L hidden layers, L + 1 weight matrices W₀ … W_L. Weights N(0, init_scale²/
    fan_in) unless `init` (any mlpc initializer) is given."""
    act_cls = mlpc.ACTIVATIONS.get(activation)
    if act_cls is None or not issubclass(act_cls, mlpc.Activation):
        raise ValueError(f"activation must be an elementwise activation of mlpc.ACTIVATIONS "
                         f"(not prelu), got {activation!r}")
    layers = []
    fan_ins = [n_in] + [width] * depth
    fan_outs = [width] * depth + [n_out]
    for k, (fi, fo) in enumerate(zip(fan_ins, fan_outs)):
        layers.append(mlpc.Linear(fi, fo, bias=bias,
                                  init=init or _init.normal(init_scale / math.sqrt(fi))))
        if k < depth:
            layers.append(act_cls())
    return mlpc.Sequential(*layers, dtype=dtype, seed=seed)


def gradient_and_bounds(net, X, targets, loss_fn):
    """Forward/backward one batch; for every weight matrix W_k return the actual ‖∂L/∂W_k‖_F
    and the notes' lower and upper product bounds, with the factors they are made of."""
    net.zero_grad()
    net.cost(X, targets, loss_fn)
    net.backward()
    linears = [layer for layer in net.layers if isinstance(layer, mlpc.Linear)]
    acts = [layer for layer in net.layers if not isinstance(layer, mlpc.Linear)]
    L = len(acts)                                 # hidden layers; weights W_0 .. W_L
    grads = {name: g for name, _, g in net.named_parameters()}
    names = [n for n, _, _ in net.named_parameters() if n.endswith("weight")]
    dy = linears[-1].grad_output                  # ∂L/∂ŷ (N, n_out), the core's view
    dy_norm = float(np.linalg.norm(dy))
    # factors of layer l = 1..L: diag(g'(z_l)) and W_l^T
    g_min, g_max, w_min, w_max = [], [], [], []
    for l in range(1, L + 1):
        z = linears[l - 1].output                 # z_l = W_{l-1} h_{l-1}: the Linear's output view
        _, gprime = acts[l - 1].function(np.asarray(z))
        a = np.abs(gprime)
        g_min.append(float(a.min()))
        g_max.append(float(a.max()))
        lo, hi = sigma_range(np.asarray(linears[l].weight).T)
        w_min.append(lo)
        w_max.append(hi)
    layers = []
    for k in range(L + 1):
        H = X if k == 0 else acts[k - 1].output   # input of W_k: x, or h_k (the activation's view)
        x_min, x_max = sigma_range(np.asarray(H, dtype=np.float64).T)
        prod_lo = float(np.prod([g_min[l - 1] * w_min[l - 1] for l in range(k + 1, L + 1)]))
        prod_hi = float(np.prod([g_max[l - 1] * w_max[l - 1] for l in range(k + 1, L + 1)]))
        layers.append({"weight": names[k],
                       "actual": float(np.linalg.norm(grads[names[k]])),
                       "lower": x_min * prod_lo * dy_norm, "upper": x_max * prod_hi * dy_norm,
                       "input_sigma_min": x_min, "input_sigma_max": x_max,
                       "product_lower": prod_lo, "product_upper": prod_hi})
    return {"layers": layers, "dy_norm": dy_norm, "gprime_min": g_min, "gprime_max": g_max,
            "weight_sigma_min": w_min, "weight_sigma_max": w_max}


class GradientBoundsResult(Result):
    """stats["bounds"][activation]: layers (per W_k: actual, lower, upper, input singular
    values, product factors), dy_norm, gprime_min/max and weight_sigma_min/max per hidden layer,
    and actual/lower/upper as lists over k = 0..L.
    stats["marchenko_pastur"]: shape, edges (a, b), singular values, min, max.
    stats["orthogonal"]: shape, singular values, max_abs_deviation from 1."""

    def figures(self):
        return {"bounds": self.plot_bounds(), "singular_values": self.plot_singular_values()}

    def plot_bounds(self):
        from mlpc.plot import _grid
        runs = self.stats["bounds"]
        fig, axes = _grid(len(runs), len(runs), panel_size=(4.0, 3.4))
        for ax, (act, r) in zip(axes, runs.items()):
            k = np.arange(len(r["actual"]))
            lower = np.asarray(r["lower"], dtype=np.float64)
            ax.fill_between(k, np.where(lower > 0, lower, np.nan), r["upper"], color="C0",
                            alpha=0.15)
            ax.plot(k, r["upper"], "v--", color="C0", ms=4, label="upper bound")
            ax.plot(k, np.where(lower > 0, lower, np.nan), "^--", color="C2", ms=4,
                    label="lower bound")
            ax.plot(k, r["actual"], "o-", color="C3", ms=4, label="‖∂L/∂W_k‖ (mlpc)")
            ax.set_yscale("log")
            zero = int(np.sum(lower <= 0))
            note = f"\n(lower bound 0 at {zero} of {len(k)} layers)" if zero else ""
            ax.set_title(f"{act}{note}", fontsize=9)
            ax.set_xlabel("weight matrix W_k (k = 0: input layer)")
            ax.grid(True, alpha=0.3)
        axes[0].set_ylabel("Frobenius norm")
        axes[0].legend(fontsize=7)
        p = self.params
        fig.suptitle(f"gradient norms between the singular-value bounds: depth {p['depth']}, "
                     f"width {p['width']}, N = {p['batch']}, weights N(0, {p['init_scale']:g}²/n)")
        fig.tight_layout()
        return fig

    def plot_singular_values(self):
        from mlpc.plot import _grid
        mp, orth = self.stats["marchenko_pastur"], self.stats["orthogonal"]
        fig, axes = _grid(2, 2, panel_size=(4.6, 3.4))
        s = np.asarray(mp["singular_values"])
        rows, cols = mp["shape"]
        a, b = mp["edges"]
        axes[0].hist(s, bins=40, density=True, alpha=0.6, label="N(0, 1/n) init")
        grid = np.linspace(max(0.0, a - 0.1), b + 0.1, 400)
        axes[0].plot(grid, marchenko_pastur_density(grid, rows, cols), "k", lw=1.2,
                     label="Marchenko–Pastur")
        for edge in (a, b):
            axes[0].axvline(edge, color="0.4", ls=":", lw=0.8)
        axes[0].set_title(f"{rows}×{cols} Gaussian: support [{a:.3f}, {b:.3f}]", fontsize=9)
        axes[0].set_xlabel("singular value")
        axes[0].set_ylabel("density")
        axes[0].legend(fontsize=7)
        so = np.asarray(orth["singular_values"])
        axes[1].hist(so, bins=41, range=(0.0, max(2.0, b + 0.1)), alpha=0.6, color="C1")
        axes[1].set_title(f"{orth['shape'][0]}×{orth['shape'][1]} orthogonal init: all 1 "
                          f"(max |σ − 1| = {orth['max_abs_deviation']:.1e})", fontsize=9)
        axes[1].set_xlabel("singular value")
        axes[1].set_ylabel("count")
        fig.tight_layout()
        return fig


DEFAULTS = dict(
    depth=10,                        # hidden layers L (weights W_0 .. W_L)
    width=100,
    n_in=100,
    n_out=10,
    batch=32,                        # keep ≤ n_in for a non-zero σ_min(X)
    activations=("sigmoid", "tanh", "relu"),
    init_scale=1.0,                  # weights N(0, init_scale²/fan_in)
    init=None,                       # or any mlpc initializer (overrides init_scale)
    bias=False,
    loss="cross_entropy",            # random labels; or "mse" with N(0, 1) targets
    mp_shape=(250, 500),             # the N(0, 1/cols) matrix against Marchenko–Pastur
    orthogonal_shape=(250, 500),
)
QUICK = dict(depth=6, width=50, n_in=50, batch=16, mp_shape=(100, 200),
             orthogonal_shape=(100, 200))
# depth 0 is allowed: one weight matrix W_0, whose bound is σ(x)‖∂L/∂ŷ‖ alone
KINDS = dict(depth=integer(0), width=integer(1), n_in=integer(1), n_out=integer(1),
             batch=integer(1), activations=list_of(elementwise_activation),
             init_scale=number(above=0), init=optional(initializer), bias=boolean,
             loss=choice("cross_entropy", "mse"), mp_shape=list_of(integer(1), length=2),
             orthogonal_shape=list_of(integer(1), length=2))


def run(quick=False, seed=0, **params):
    """For each activation: a depth-L MLP, one batch of N(0, 1) inputs with random labels
    (or targets), the actual ‖∂L/∂W_k‖ and both bounds for every k; then the singular values
    of a mp_shape N(0, 1/cols) matrix and of an orthogonal_shape orthogonal initialization,
    both drawn by mlpc's core initializers (parameters: DEFAULTS). Returns a
    GradientBoundsResult."""
    p = merge_params(NAME, DEFAULTS, QUICK, quick, params, kinds=KINDS, seed=seed)
    (depth, width, n_in, n_out, batch, activations, init_scale, init, bias, loss, mp_shape,
     orthogonal_shape) = (p[k] for k in DEFAULTS)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, n_in))
    if loss == "cross_entropy":
        loss_fn, targets = mlpc.SoftmaxCrossEntropy(), rng.integers(0, n_out, size=batch)
    else:                                                           # "mse" (KINDS checked it)
        loss_fn, targets = mlpc.MSELoss(), rng.standard_normal((batch, n_out))

    bounds = {}
    for act in activations:
        net = build_mlp(n_in, width, depth, n_out, act, init_scale=init_scale, init=init,
                        bias=bias, seed=seed)
        r = gradient_and_bounds(net, X, targets, loss_fn)
        for key in ("actual", "lower", "upper"):
            r[key] = [layer[key] for layer in r["layers"]]
        bounds[act] = r

    rows, cols = mp_shape
    W = _init.weight("lecun_normal", rows, cols, seed=seed)       # N(0, 1/fan_in), fan_in = cols
    s = np.linalg.svd(W, compute_uv=False)
    mp = {"shape": [rows, cols], "edges": list(marchenko_pastur_edges(rows, cols)),
          "singular_values": s, "min": float(s.min()), "max": float(s.max())}
    O = _init.weight(_init.orthogonal(1.0), *orthogonal_shape, seed=seed)
    so = np.linalg.svd(O, compute_uv=False)
    orth = {"shape": list(orthogonal_shape), "singular_values": so,
            "max_abs_deviation": float(np.max(np.abs(so - 1.0)))}

    p.update(quick=bool(quick), seed=seed, init=None if init is None else repr(init))
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()}
    return GradientBoundsResult(NAME, params, {"bounds": bounds, "marchenko_pastur": mp,
                                               "orthogonal": orth},
                                {"X": X, "targets": targets, "W": W, "O": O})
