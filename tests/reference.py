"""Independent pure-NumPy reference implementation of mlpc's layers, losses and optimizers.

This module deliberately does NOT import ``mlpc``.  Every function is written directly from
the formula quoted in its docstring (lecture notes in /work/shared/lectures/ and the published
equations of the optimizers / PyTorch documentation), as plainly as possible.

Conventions
-----------
* Everything is computed in float64.  Inputs of any float dtype (e.g. float32) are converted
  with ``np.asarray(x, dtype=np.float64)`` first, so results are float64 arrays.
* Batched data are row-major: ``x`` has shape (N, features), one example per row.
* Dense layer weights have PyTorch layout ``W`` (out, in): ``y = x Wᵀ + b``.
* Kinks: the "x > 0" rule is used everywhere.  The linear / positive branch is taken only for
  x > 0 strictly, so at x == 0 the forward value and the derivative come from the other
  (negative) branch:  step(0) = 0, relu'(0) = 0, leaky_relu'(0) = negative_slope,
  elu'(0) = alpha, selu'(0) = λα, prelu'(0) = a.
* Losses are averaged over the batch size N only (summed over the class / output axis).
* Pure functions: inputs are never modified; optimizers return new parameter lists and a new
  state dict.
"""

import math

import numpy as np

__all__ = [
    # helpers
    "as_f64", "one_hot", "relative_error", "numerical_gradient",
    # dense
    "linear_forward", "linear_backward",
    # activations
    "identity", "d_identity", "step", "d_step", "sigmoid", "d_sigmoid", "tanh", "d_tanh",
    "relu", "d_relu", "leaky_relu", "d_leaky_relu", "elu", "d_elu", "selu", "d_selu",
    "gelu", "d_gelu", "gelu_tanh", "d_gelu_tanh", "softplus", "d_softplus", "silu", "d_silu",
    "swish", "d_swish", "softsign", "d_softsign", "ACTIVATIONS",
    "activation_forward", "activation_backward",
    "SELU_LAMBDA", "SELU_ALPHA",
    "prelu_forward", "prelu_backward", "swish_backward_beta",
    "GATED", "gated_forward", "gated_backward",
    # losses and regularisation
    "softmax", "log_softmax", "softmax_cross_entropy", "binary_cross_entropy_with_logits",
    "mse", "l2_penalty",
    # normalisation, dropout, residual
    "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_compact", "batchnorm_eval",
    "batchnorm_running_update", "layernorm_forward", "layernorm_backward",
    "dropout_forward", "dropout_backward", "residual_forward", "residual_backward",
    # optimizers
    "sgd_step", "adagrad_step", "rmsprop_step", "adam_step", "adamw_step",
    # small helpers
    "clip_grad_norm", "clip_grad_value", "lr_linear", "lr_power", "lr_exponential",
]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def as_f64(x):
    """Return ``x`` as a float64 ndarray (a copy only if a conversion is needed)."""
    return np.asarray(x, dtype=np.float64)


def one_hot(labels, num_classes):
    """Y[n, k] = 1 if labels[n] == k else 0, shape (N, K), float64."""
    labels = np.asarray(labels).astype(np.int64)
    Y = np.zeros((labels.shape[0], num_classes), dtype=np.float64)
    Y[np.arange(labels.shape[0]), labels] = 1.0
    return Y


def relative_error(a, b, floor=1e-300):
    """Norm-wise relative error  max|a − b| / max(max|a|, max|b|, floor).

    Used to compare an analytic gradient with a numerical one (or two implementations).
    """
    a = as_f64(a)
    b = as_f64(b)
    num = np.max(np.abs(a - b)) if a.size else 0.0
    den = max(np.max(np.abs(a)) if a.size else 0.0, np.max(np.abs(b)) if b.size else 0.0, floor)
    return float(num / den)


def numerical_gradient(f, x, eps=1e-6):
    """Central finite differences of a scalar function f at x.

    ∂f/∂x_i ≈ ( f(x + eps·e_i) − f(x − eps·e_i) ) / (2 eps),  for every entry i of x.

    ``f`` takes an array shaped like x and returns a scalar; x is copied to float64 and not
    modified.  Returns a float64 array of x's shape.
    """
    x = np.array(x, dtype=np.float64)  # private copy
    grad = np.zeros_like(x)
    flat_x = x.reshape(-1)            # view onto x
    flat_g = grad.reshape(-1)
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + eps
        f_plus = float(f(x))
        flat_x[i] = old - eps
        f_minus = float(f(x))
        flat_x[i] = old
        flat_g[i] = (f_plus - f_minus) / (2.0 * eps)
    return grad


# --------------------------------------------------------------------------------------------
# Dense (fully connected) layer
# --------------------------------------------------------------------------------------------

def linear_forward(x, W, b=None):
    """Dense layer on a batch:  Y = X Wᵀ + 1 bᵀ.

    x: (N, in), W: (out, in), b: (out,) or None.  Returns Y (N, out).
    (Row-major form of the notes' s = W x + b applied to every example.)
    """
    x = as_f64(x)
    W = as_f64(W)
    y = x @ W.T
    if b is not None:
        y = y + as_f64(b)[None, :]
    return y


def linear_backward(dy, x, W):
    """Backward of Y = X Wᵀ + b, given G = ∂J/∂Y (N, out):

    ∂J/∂X = G W            (N, in)
    ∂J/∂W = Gᵀ X           (out, in)   (notes: g xᵀ summed over the batch)
    ∂J/∂b = Gᵀ 1_N         (out,)

    Returns (dx, dW, db).  No 1/N factor here: a batch-mean loss already puts 1/N into G.
    """
    dy = as_f64(dy)
    x = as_f64(x)
    W = as_f64(W)
    dx = dy @ W
    dW = dy.T @ x
    db = dy.sum(axis=0)
    return dx, dW, db


# --------------------------------------------------------------------------------------------
# Activations: f(x, **params) and the elementwise derivative df(x, **params) = dy/dx
# --------------------------------------------------------------------------------------------

SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772


def identity(x):
    """f(x) = x."""
    return as_f64(x).copy()


def d_identity(x):
    """f'(x) = 1."""
    return np.ones_like(as_f64(x))


def step(x):
    """Binary step: f(x) = 1 if x > 0 else 0  (so f(0) = 0)."""
    x = as_f64(x)
    return np.where(x > 0, 1.0, 0.0)


def d_step(x):
    """f'(x) = 0 everywhere (the derivative at the jump is taken as 0)."""
    return np.zeros_like(as_f64(x))


def sigmoid(x):
    """σ(x) = 1 / (1 + e^{−x}), evaluated without overflow:

    x ≥ 0:  1 / (1 + e^{−|x|});   x < 0:  e^{−|x|} / (1 + e^{−|x|}).
    """
    x = as_f64(x)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def d_sigmoid(x):
    """σ'(x) = σ(x)(1 − σ(x))."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x):
    """tanh(x) = (e^x − e^{−x}) / (e^x + e^{−x})  (np.tanh)."""
    return np.tanh(as_f64(x))


def d_tanh(x):
    """tanh'(x) = 1 − tanh(x)²."""
    t = np.tanh(as_f64(x))
    return 1.0 - t * t


def relu(x):
    """ReLU(x) = max(0, x) = x·1[x > 0]."""
    x = as_f64(x)
    return np.where(x > 0, x, 0.0)


def d_relu(x):
    """ReLU'(x) = 1 if x > 0 else 0  (so ReLU'(0) = 0)."""
    x = as_f64(x)
    return np.where(x > 0, 1.0, 0.0)


def leaky_relu(x, negative_slope=0.01):
    """LeakyReLU(x) = x if x > 0 else negative_slope·x."""
    x = as_f64(x)
    return np.where(x > 0, x, negative_slope * x)


def d_leaky_relu(x, negative_slope=0.01):
    """LeakyReLU'(x) = 1 if x > 0 else negative_slope  (so the value at 0 is negative_slope)."""
    x = as_f64(x)
    return np.where(x > 0, 1.0, negative_slope)


def elu(x, alpha=1.0):
    """ELU(x) = x if x > 0 else α(e^x − 1)   (notes, Clevert et al. 2015)."""
    x = as_f64(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def d_elu(x, alpha=1.0):
    """ELU'(x) = 1 if x > 0 else α e^x   (so ELU'(0) = α)."""
    x = as_f64(x)
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def selu(x, lam=SELU_LAMBDA, alpha=SELU_ALPHA):
    """SELU(x) = λ·x if x > 0 else λ·α(e^x − 1),  λ = 1.0507009873554805, α = 1.6732632423543772."""
    x = as_f64(x)
    return lam * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def d_selu(x, lam=SELU_LAMBDA, alpha=SELU_ALPHA):
    """SELU'(x) = λ if x > 0 else λ α e^x   (so SELU'(0) = λα)."""
    x = as_f64(x)
    return lam * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _Phi(x):
    """Standard normal CDF  Φ(x) = ½ (1 + erf(x / √2))."""
    return 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))


def _phi(x):
    """Standard normal PDF  φ(x) = e^{−x²/2} / √(2π)."""
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def gelu(x):
    """Exact GELU(x) = x Φ(x) = ½ x (1 + erf(x/√2))."""
    x = as_f64(x)
    return x * _Phi(x)


def d_gelu(x):
    """GELU'(x) = Φ(x) + x φ(x)."""
    x = as_f64(x)
    return _Phi(x) + x * _phi(x)


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


def gelu_tanh(x):
    """tanh-approximate GELU:  ½ x (1 + tanh(u)),  u = √(2/π) (x + 0.044715 x³)."""
    x = as_f64(x)
    u = _GELU_C * (x + _GELU_A * x ** 3)
    return 0.5 * x * (1.0 + np.tanh(u))


def d_gelu_tanh(x):
    """d/dx of ½ x (1 + tanh u):  ½ (1 + tanh u) + ½ x (1 − tanh² u) · √(2/π)(1 + 3·0.044715 x²)."""
    x = as_f64(x)
    u = _GELU_C * (x + _GELU_A * x ** 3)
    t = np.tanh(u)
    du = _GELU_C * (1.0 + 3.0 * _GELU_A * x * x)
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du


def softplus(x, beta=1.0):
    """Softplus(x) = (1/β) log(1 + e^{βx}), written stably as

    (1/β) [ max(βx, 0) + log1p(e^{−|βx|}) ].

    (No PyTorch-style 'threshold' switch to the identity; the difference above βx = 20 is
    < 2.1e-9 absolute.)
    """
    x = as_f64(x)
    z = beta * x
    return (np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))) / beta


def d_softplus(x, beta=1.0):
    """Softplus'(x) = σ(βx)."""
    return sigmoid(beta * as_f64(x))


def silu(x):
    """SiLU(x) = x σ(x)  (= Swish with β = 1)."""
    x = as_f64(x)
    return x * sigmoid(x)


def d_silu(x):
    """SiLU'(x) = σ(x) + x σ(x)(1 − σ(x)) = σ(x)(1 + x(1 − σ(x)))."""
    x = as_f64(x)
    s = sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def swish(x, beta=1.0):
    """Swish_β(x) = x σ(βx)   (Ramachandran et al. 2018)."""
    x = as_f64(x)
    return x * sigmoid(beta * x)


def d_swish(x, beta=1.0):
    """∂Swish_β/∂x = σ(βx) + β x σ(βx)(1 − σ(βx))."""
    x = as_f64(x)
    s = sigmoid(beta * x)
    return s + beta * x * s * (1.0 - s)


def softsign(x):
    """Softsign(x) = x / (1 + |x|)."""
    x = as_f64(x)
    return x / (1.0 + np.abs(x))


def d_softsign(x):
    """Softsign'(x) = 1 / (1 + |x|)²."""
    x = as_f64(x)
    return 1.0 / (1.0 + np.abs(x)) ** 2


ACTIVATIONS = {
    "identity": (identity, d_identity),
    "step": (step, d_step),
    "sigmoid": (sigmoid, d_sigmoid),
    "tanh": (tanh, d_tanh),
    "relu": (relu, d_relu),
    "leaky_relu": (leaky_relu, d_leaky_relu),
    "elu": (elu, d_elu),
    "selu": (selu, d_selu),
    "gelu": (gelu, d_gelu),
    "gelu_tanh": (gelu_tanh, d_gelu_tanh),
    "softplus": (softplus, d_softplus),
    "silu": (silu, d_silu),
    "swish": (swish, d_swish),
    "softsign": (softsign, d_softsign),
}


def activation_forward(name, x, **params):
    """h = f(x) elementwise for the activation ``name`` of ACTIVATIONS."""
    return ACTIVATIONS[name][0](x, **params)


def activation_backward(name, dy, x, **params):
    """∂J/∂x = ∂J/∂h ⊙ f'(x)  (the notes' G ⊙ Ind(s > 0) generalised to any f)."""
    return as_f64(dy) * ACTIVATIONS[name][1](x, **params)


# ---- PReLU ---------------------------------------------------------------------------------

def prelu_forward(x, a):
    """PReLU(x) = x if x > 0 else a·x, with a of shape (M,) (one slope per unit / column of
    x (N, M)) or (1,) (one slope shared by all units)."""
    x = as_f64(x)
    a = as_f64(a)
    return np.where(x > 0, x, a * x)


def prelu_backward(dy, x, a):
    """Backward of PReLU.

    ∂J/∂x = dy · (1 if x > 0 else a)
    ∂J/∂a_j = Σ_n dy_nj · x_nj · 1[x_nj ≤ 0]      (per unit, a shape (M,))
    ∂J/∂a   = Σ_n Σ_j dy_nj · x_nj · 1[x_nj ≤ 0]  (shared, a shape (1,))
    Returns (dx, da) with da shaped like a.
    """
    dy = as_f64(dy)
    x = as_f64(x)
    a = as_f64(a)
    dx = dy * np.where(x > 0, 1.0, a)
    contrib = dy * np.where(x > 0, 0.0, x)
    if a.size == 1:
        da = np.full(a.shape, contrib.sum())
    else:
        da = contrib.sum(axis=0).reshape(a.shape)
    return dx, da


# ---- learnable Swish β ---------------------------------------------------------------------

def swish_backward_beta(dy, x, beta):
    """Gradient w.r.t. a (shared, scalar) Swish β:

    ∂Swish_β(x)/∂β = x² σ(βx)(1 − σ(βx)),   so   ∂J/∂β = Σ dy · x² σ(βx)(1 − σ(βx)).
    Returns a Python float.
    """
    dy = as_f64(dy)
    x = as_f64(x)
    s = sigmoid(beta * x)
    return float(np.sum(dy * x * x * s * (1.0 - s)))


# ---- gated linear units --------------------------------------------------------------------

GATED = {"glu": "sigmoid", "reglu": "relu", "geglu": "gelu", "swiglu": "silu"}


def _gate_act(act):
    """Accept a gated-unit name (glu/reglu/geglu/swiglu) or an activation name."""
    name = GATED.get(act, act)
    return ACTIVATIONS[name]


def gated_forward(x, act):
    """Gated unit on x (N, 2M):  u = x[:, :M],  v = x[:, M:],  out = act(u) ⊙ v   (N, M).

    act: 'glu' (σ), 'reglu' (ReLU), 'geglu' (exact GELU), 'swiglu' (SiLU), or any
    ACTIVATIONS name.  NOTE: the gate is the FIRST half here (notes: GLU = σ(xW+b) ⊙ (xV+c));
    torch.nn.functional.glu uses the opposite order (first half ⊙ σ(second half)).
    """
    x = as_f64(x)
    f, _ = _gate_act(act)
    M = x.shape[-1] // 2
    u = x[..., :M]
    v = x[..., M:]
    return f(u) * v


def gated_backward(dy, x, act):
    """Backward of out = act(u) ⊙ v:

    ∂J/∂u = dy ⊙ v ⊙ act'(u),   ∂J/∂v = dy ⊙ act(u);   dx = [∂J/∂u, ∂J/∂v]  (N, 2M).
    """
    dy = as_f64(dy)
    x = as_f64(x)
    f, df = _gate_act(act)
    M = x.shape[-1] // 2
    u = x[..., :M]
    v = x[..., M:]
    du = dy * v * df(u)
    dv = dy * f(u)
    return np.concatenate([du, dv], axis=-1)


# --------------------------------------------------------------------------------------------
# Losses and regularisation
# --------------------------------------------------------------------------------------------

def softmax(s):
    """Row-wise softmax  p_j = e^{s_j − max s} / Σ_k e^{s_k − max s}  (stable; the shift by the
    row max does not change the value)."""
    s = as_f64(s)
    z = s - np.max(s, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax(s):
    """Row-wise log p_j = (s_j − max s) − log Σ_k e^{s_k − max s}  (finite for any finite s)."""
    s = as_f64(s)
    z = s - np.max(s, axis=-1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


def softmax_cross_entropy(s, y):
    """Softmax + cross-entropy (log-likelihood) cost, mean over the batch.

    s: logits (N, K).  y: int labels (N,) or probability rows (N, K) (Y = one_hot(y) for labels).
    C  = −(1/N) Σ_n Σ_k Y_nk log p_nk,   p = softmax(s)    (log p via log_softmax)
    ∂C/∂s = (p − Y) / N                 (notes: G_batch = −(Y − P), with the 1/n_b factor)
    Returns (cost: float, dS: (N, K)).
    """
    s = as_f64(s)
    N, K = s.shape
    y_arr = np.asarray(y)
    if y_arr.ndim == 1:
        Y = one_hot(y_arr, K)
    else:
        Y = as_f64(y_arr)
    logp = log_softmax(s)
    cost = -np.sum(Y * logp) / N
    p = softmax(s)
    dS = (p - Y) / N
    return float(cost), dS


def binary_cross_entropy_with_logits(s, y):
    """Sigmoid outputs z = σ(s) with the cross-entropy cost (notes, many-output form):

    C = −(1/N) Σ_n Σ_k [ y log σ(s) + (1 − y) log(1 − σ(s)) ]
    computed stably with log σ(s) = −softplus(−s) and log(1 − σ(s)) = −softplus(s).
    ∂C/∂s = (σ(s) − y) / N.
    Mean over the batch N only (summed over the K outputs; PyTorch's 'mean' divides by N·K).
    Returns (cost: float, dS).
    """
    s = as_f64(s)
    y = as_f64(y)
    N = s.shape[0]
    log_sig = -softplus(-s)
    log_one_minus_sig = -softplus(s)
    cost = -np.sum(y * log_sig + (1.0 - y) * log_one_minus_sig) / N
    dS = (sigmoid(s) - y) / N
    return float(cost), dS


def mse(yhat, y):
    """Quadratic cost  C = 1/(2N) Σ_n ‖y_n − ŷ_n‖²,   ∂C/∂ŷ = (ŷ − y)/N.

    (Notes: C = (y − z)²/2 per example, averaged over the batch.  Not PyTorch's MSELoss,
    which is Σ(ŷ − y)²/(N·K).)  Returns (cost: float, dYhat).
    """
    yhat = as_f64(yhat)
    y = as_f64(y)
    N = yhat.shape[0]
    diff = yhat - y
    cost = np.sum(diff * diff) / (2.0 * N)
    return float(cost), diff / N


def l2_penalty(Ws, lam):
    """R = λ Σ_i ‖W_i‖²_F,   ∂R/∂W_i = 2 λ W_i   (notes: J = L + λ Σ‖W_i‖², ∂J/∂W += 2λW).

    Returns (penalty: float, [gradients]).
    """
    Ws = [as_f64(W) for W in Ws]
    value = lam * sum(float(np.sum(W * W)) for W in Ws)
    grads = [2.0 * lam * W for W in Ws]
    return float(value), grads


# --------------------------------------------------------------------------------------------
# Batch normalisation
# --------------------------------------------------------------------------------------------

def batchnorm_forward(x, gamma=None, beta=None, eps=1e-5):
    """Batch normalisation, training mode, on x (N, M) (statistics per column / unit):

    μ_b = (1/n) Σ_i s_i,   v_b = (1/n) Σ_i (s_i − μ_b)²   (biased, divide by n)
    ŝ_i = (v_b + ε)^{−1/2} ⊙ (s_i − μ_b)
    s̃_i = γ ⊙ ŝ_i + β
    gamma/beta None mean γ = 1, β = 0.  Returns (y, cache).
    """
    x = as_f64(x)
    N, M = x.shape
    g = np.ones(M) if gamma is None else as_f64(gamma)
    b = np.zeros(M) if beta is None else as_f64(beta)
    mu = np.sum(x, axis=0) / N
    var = np.sum((x - mu) ** 2, axis=0) / N
    xhat = (x - mu) / np.sqrt(var + eps)
    y = g * xhat + b
    cache = {"x": x, "mu": mu, "var": var, "eps": eps, "xhat": xhat, "gamma": g}
    return y, cache


def batchnorm_backward(dy, cache):
    """Backward of batch norm, the full chain-rule derivation of the DD2424 notes.

    With G = ∂J/∂s̃ (N, M):
      ∂J/∂γ = Σ_i G_i ⊙ ŝ_i,       ∂J/∂β = Σ_i G_i
      ∂J/∂ŝ_i = G_i ⊙ γ
    and, with σ₁ = (v_b + ε)^{−1/2}, σ₂ = (v_b + ε)^{−3/2} (vectors over units):
      ∂J/∂v_b = −½ Σ_i ∂J/∂ŝ_i ⊙ σ₂ ⊙ (s_i − μ_b)
      ∂J/∂μ_b = −Σ_i ∂J/∂ŝ_i ⊙ σ₁          (+ ∂J/∂v_b · ∂v_b/∂μ_b, which is 0)
      ∂J/∂s_i = ∂J/∂ŝ_i ⊙ σ₁ + (2/n) ∂J/∂v_b ⊙ (s_i − μ_b) + (1/n) ∂J/∂μ_b
    (= the assignment's G₁ − (1/n)(G₁1)1ᵀ − (1/n) D ⊙ (c1ᵀ), G₁ = G ⊙ σ₁, G₂ = G ⊙ σ₂,
    D = S − μ1ᵀ, c = (G₂ ⊙ D)1.)
    Returns (dx, dgamma, dbeta).
    """
    dy = as_f64(dy)
    x = cache["x"]
    mu = cache["mu"]
    var = cache["var"]
    eps = cache["eps"]
    xhat = cache["xhat"]
    gamma = cache["gamma"]
    n = x.shape[0]

    dgamma = np.sum(dy * xhat, axis=0)
    dbeta = np.sum(dy, axis=0)

    dxhat = dy * gamma
    sigma1 = (var + eps) ** -0.5
    sigma2 = (var + eps) ** -1.5
    D = x - mu

    dJ_dv = -0.5 * np.sum(dxhat * sigma2 * D, axis=0)
    dJ_dmu = -np.sum(dxhat * sigma1, axis=0)
    dx = dxhat * sigma1 + (2.0 / n) * dJ_dv * D + dJ_dmu / n
    return dx, dgamma, dbeta


def batchnorm_backward_compact(dy, cache):
    """Backward of batch norm, the compact closed form (Ioffe & Szegedy simplified):

    ∂J/∂x = γ / (n √(v + ε)) · ( n G − Σ_i G_i − x̂ ⊙ Σ_i (G_i ⊙ x̂_i) ),
    ∂J/∂γ = Σ_i G_i ⊙ x̂_i,   ∂J/∂β = Σ_i G_i.
    Returns (dx, dgamma, dbeta).
    """
    dy = as_f64(dy)
    xhat = cache["xhat"]
    var = cache["var"]
    eps = cache["eps"]
    gamma = cache["gamma"]
    n = xhat.shape[0]
    sum_dy = np.sum(dy, axis=0)
    sum_dy_xhat = np.sum(dy * xhat, axis=0)
    dx = gamma / (n * np.sqrt(var + eps)) * (n * dy - sum_dy - xhat * sum_dy_xhat)
    return dx, sum_dy_xhat, sum_dy


def batchnorm_eval(x, running_mean, running_var, gamma=None, beta=None, eps=1e-5):
    """Batch norm, evaluation mode: y = γ ⊙ (x − running_mean) / √(running_var + ε) + β."""
    x = as_f64(x)
    M = x.shape[1]
    g = np.ones(M) if gamma is None else as_f64(gamma)
    b = np.zeros(M) if beta is None else as_f64(beta)
    return g * (x - as_f64(running_mean)) / np.sqrt(as_f64(running_var) + eps) + b


def batchnorm_running_update(running_mean, running_var, x, momentum=0.1):
    """Running statistics update (PyTorch convention):

    running_mean ← (1 − momentum)·running_mean + momentum·μ_b
    running_var  ← (1 − momentum)·running_var  + momentum·v_b·n/(n − 1)   (UNBIASED batch var)
    x: the layer input batch (N, M), N > 1.  Returns (new_mean, new_var).
    """
    x = as_f64(x)
    n = x.shape[0]
    if n < 2:
        raise ValueError("batch norm running variance needs N > 1")
    mu = np.sum(x, axis=0) / n
    var_unbiased = np.sum((x - mu) ** 2, axis=0) / (n - 1)
    new_mean = (1.0 - momentum) * as_f64(running_mean) + momentum * mu
    new_var = (1.0 - momentum) * as_f64(running_var) + momentum * var_unbiased
    return new_mean, new_var


# --------------------------------------------------------------------------------------------
# Layer normalisation
# --------------------------------------------------------------------------------------------

def layernorm_forward(x, gamma=None, beta=None, eps=1e-5):
    """Layer normalisation on x (N, d), per example i over its d features:

    μ_i = (1/d) Σ_k s_ik,   σ_i² = (1/d) Σ_k (s_ik − μ_i)²   (biased)
    ŝ_i = (s_i − μ_i) / √(σ_i² + ε),   s̃_i = γ ⊙ ŝ_i + β    (γ, β of shape (d,))
    Returns (y, cache).
    """
    x = as_f64(x)
    N, d = x.shape
    g = np.ones(d) if gamma is None else as_f64(gamma)
    b = np.zeros(d) if beta is None else as_f64(beta)
    mu = np.sum(x, axis=1, keepdims=True) / d
    var = np.sum((x - mu) ** 2, axis=1, keepdims=True) / d
    xhat = (x - mu) / np.sqrt(var + eps)
    y = g * xhat + b
    cache = {"x": x, "mu": mu, "var": var, "eps": eps, "xhat": xhat, "gamma": g}
    return y, cache


def layernorm_backward(dy, cache):
    """Backward of layer norm: the batch-norm chain rule applied per example over features.

    ∂J/∂γ = Σ_i G_i ⊙ ŝ_i,  ∂J/∂β = Σ_i G_i,  ∂J/∂ŝ_i = G_i ⊙ γ, and for each example i
      ∂J/∂σ_i² = −½ (σ_i² + ε)^{−3/2} Σ_k ∂J/∂ŝ_ik (s_ik − μ_i)
      ∂J/∂μ_i  = −(σ_i² + ε)^{−1/2} Σ_k ∂J/∂ŝ_ik
      ∂J/∂s_ik = ∂J/∂ŝ_ik (σ_i² + ε)^{−1/2} + (2/d) ∂J/∂σ_i² (s_ik − μ_i) + (1/d) ∂J/∂μ_i
    Returns (dx, dgamma, dbeta).
    """
    dy = as_f64(dy)
    x = cache["x"]
    mu = cache["mu"]
    var = cache["var"]
    eps = cache["eps"]
    xhat = cache["xhat"]
    gamma = cache["gamma"]
    d = x.shape[1]

    dgamma = np.sum(dy * xhat, axis=0)
    dbeta = np.sum(dy, axis=0)

    dxhat = dy * gamma
    D = x - mu
    dJ_dvar = -0.5 * (var + eps) ** -1.5 * np.sum(dxhat * D, axis=1, keepdims=True)
    dJ_dmu = -((var + eps) ** -0.5) * np.sum(dxhat, axis=1, keepdims=True)
    dx = dxhat * (var + eps) ** -0.5 + (2.0 / d) * dJ_dvar * D + dJ_dmu / d
    return dx, dgamma, dbeta


# --------------------------------------------------------------------------------------------
# Dropout and residual connections
# --------------------------------------------------------------------------------------------

def dropout_forward(x, mask, p):
    """Inverted dropout with a given 0/1 keep-mask (mask ~ Bernoulli(1 − p)):

    y = x ⊙ mask / (1 − p).   For p == 1 everything is dropped: y = 0.
    """
    x = as_f64(x)
    mask = as_f64(mask)
    if p >= 1.0:
        return np.zeros_like(x)
    return x * mask / (1.0 - p)


def dropout_backward(dy, mask, p):
    """∂J/∂x = dy ⊙ mask / (1 − p)   (0 when p == 1)."""
    dy = as_f64(dy)
    mask = as_f64(mask)
    if p >= 1.0:
        return np.zeros_like(dy)
    return dy * mask / (1.0 - p)


def residual_forward(x, block_fn):
    """Residual connection: y = x + F(x)."""
    x = as_f64(x)
    return x + as_f64(block_fn(x))


def residual_backward(dy, block_backward_fn):
    """∂J/∂x = dy + (∂F/∂x)ᵀ dy, with block_backward_fn(dy) returning the block's input
    gradient."""
    dy = as_f64(dy)
    return dy + as_f64(block_backward_fn(dy))


# --------------------------------------------------------------------------------------------
# Optimizers: one step, pure functions over lists of arrays.
#   new_params, new_state = xxx_step(params, grads, state, lr, ...)
#   state: None or {} for a fresh optimizer; otherwise the dict returned by the previous step.
# --------------------------------------------------------------------------------------------

def _prep(params, grads):
    params = [as_f64(p) for p in params]
    grads = [as_f64(g) for g in grads]
    if len(params) != len(grads):
        raise ValueError("params and grads must have the same length")
    return params, grads


def _state_list(state, key, params, init=0.0):
    """A copy of state[key] (list of arrays), or arrays filled with ``init`` if absent."""
    if state and key in state:
        return [as_f64(a).copy() for a in state[key]]
    return [np.full_like(p, init) for p in params]


def sgd_step(params, grads, state, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
    """SGD, optionally with momentum / Nesterov momentum and coupled weight decay.

    Weight decay (PyTorch-style, coupled):  g ← ∇E + wd·w.
    momentum == 0:         w ← w − η g.
    momentum > 0 (lecture-notes form, state['delta'] = Δw, initially 0):
        Δw(τ) = −η g + μ Δw(τ−1),   w ← w + Δw(τ).
      (Equals PyTorch's buf = μ buf + g, w −= η buf whenever η is constant: Δw = −η buf.)
    nesterov=True (PyTorch definition, state['buf'], first step buf = g):
        buf ← μ buf + g,   g' = g + μ buf,   w ← w − η g'.
    Returns (new_params, new_state).
    """
    params, grads = _prep(params, grads)
    grads = [g + weight_decay * w for g, w in zip(grads, params)]
    new_state = {"t": (state.get("t", 0) if state else 0) + 1}
    if momentum == 0.0:
        new_params = [w - lr * g for w, g in zip(params, grads)]
    elif nesterov:
        bufs = _state_list(state, "buf", params)
        new_params = []
        new_bufs = []
        for w, g, buf in zip(params, grads, bufs):
            buf = momentum * buf + g
            g_nest = g + momentum * buf
            new_params.append(w - lr * g_nest)
            new_bufs.append(buf)
        new_state["buf"] = new_bufs
    else:
        deltas = _state_list(state, "delta", params)
        new_params = []
        new_deltas = []
        for w, g, delta_prev in zip(params, grads, deltas):
            delta = -lr * g + momentum * delta_prev
            new_params.append(w + delta)
            new_deltas.append(delta)
        new_state["delta"] = new_deltas
    return new_params, new_state


def adagrad_step(params, grads, state, lr=0.01, eps=1e-10, weight_decay=0.0,
                 lr_decay=0.0, initial_accumulator_value=0.0):
    """AdaGrad (Duchi et al. 2011; PyTorch's definition).

    t ← t + 1;  g ← ∇E + wd·w;  η_t = η / (1 + (t − 1)·lr_decay)
    G ← G + g²            (state['sum'], initially initial_accumulator_value)
    w ← w − η_t g / (√G + ε)
    Returns (new_params, new_state).
    """
    params, grads = _prep(params, grads)
    t = (state.get("t", 0) if state else 0) + 1
    sums = _state_list(state, "sum", params, init=initial_accumulator_value)
    clr = lr / (1.0 + (t - 1) * lr_decay)
    new_params = []
    new_sums = []
    for w, g, G in zip(params, grads, sums):
        g = g + weight_decay * w
        G = G + g * g
        new_params.append(w - clr * g / (np.sqrt(G) + eps))
        new_sums.append(G)
    return new_params, {"t": t, "sum": new_sums}


def rmsprop_step(params, grads, state, lr=0.01, alpha=0.99, eps=1e-8, momentum=0.0,
                 weight_decay=0.0, centered=False):
    """RMSProp (Hinton's lecture 6e; PyTorch's definition).

    g ← ∇E + wd·w
    v ← α v + (1 − α) g²                     (state['square_avg'], initially 0)
    centered: ḡ ← α ḡ + (1 − α) g,  denom = √(v − ḡ²) + ε;   else denom = √v + ε
    momentum > 0:  buf ← μ buf + g / denom,  w ← w − η buf   (state['buf'], initially 0)
    momentum = 0:  w ← w − η g / denom
    Returns (new_params, new_state).
    """
    params, grads = _prep(params, grads)
    t = (state.get("t", 0) if state else 0) + 1
    vs = _state_list(state, "square_avg", params)
    gavgs = _state_list(state, "grad_avg", params)
    bufs = _state_list(state, "buf", params)
    new_params, new_vs, new_gavgs, new_bufs = [], [], [], []
    for w, g, v, gavg, buf in zip(params, grads, vs, gavgs, bufs):
        g = g + weight_decay * w
        v = alpha * v + (1.0 - alpha) * g * g
        if centered:
            gavg = alpha * gavg + (1.0 - alpha) * g
            denom = np.sqrt(v - gavg * gavg) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum > 0.0:
            buf = momentum * buf + g / denom
            w = w - lr * buf
        else:
            w = w - lr * g / denom
        new_params.append(w)
        new_vs.append(v)
        new_gavgs.append(gavg)
        new_bufs.append(buf)
    new_state = {"t": t, "square_avg": new_vs}
    if centered:
        new_state["grad_avg"] = new_gavgs
    if momentum > 0.0:
        new_state["buf"] = new_bufs
    return new_params, new_state


def _adam_core(params, grads, state, lr, beta1, beta2, eps, amsgrad):
    """Adam update (Kingma & Ba 2015, Algorithm 1; PyTorch's amsgrad variant) on given grads.

    t ← t + 1  (t = 1 on the first step)
    m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²
    m̂ = m / (1 − β₁ᵗ)
    amsgrad: v_max ← max(v_max, v),  v̂ = v_max / (1 − β₂ᵗ);   else v̂ = v / (1 − β₂ᵗ)
    w ← w − η m̂ / (√v̂ + ε)
    """
    t = (state.get("t", 0) if state else 0) + 1
    ms = _state_list(state, "m", params)
    vs = _state_list(state, "v", params)
    vmaxs = _state_list(state, "v_max", params)
    bc1 = 1.0 - beta1 ** t
    bc2 = 1.0 - beta2 ** t
    new_params, new_ms, new_vs, new_vmaxs = [], [], [], []
    for w, g, m, v, vmax in zip(params, grads, ms, vs, vmaxs):
        m = beta1 * m + (1.0 - beta1) * g
        v = beta2 * v + (1.0 - beta2) * g * g
        m_hat = m / bc1
        if amsgrad:
            vmax = np.maximum(vmax, v)
            v_hat = vmax / bc2
        else:
            v_hat = v / bc2
        new_params.append(w - lr * m_hat / (np.sqrt(v_hat) + eps))
        new_ms.append(m)
        new_vs.append(v)
        new_vmaxs.append(vmax)
    new_state = {"t": t, "m": new_ms, "v": new_vs}
    if amsgrad:
        new_state["v_max"] = new_vmaxs
    return new_params, new_state


def adam_step(params, grads, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
              weight_decay=0.0, amsgrad=False):
    """Adam with coupled (L2) weight decay, PyTorch's torch.optim.Adam:

    g ← ∇E + wd·w, then
    t ← t + 1;  m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²
    m̂ = m/(1 − β₁ᵗ);  v̂ = v/(1 − β₂ᵗ)  (amsgrad: v_max ← max(v_max, v), v̂ = v_max/(1 − β₂ᵗ))
    w ← w − η m̂ / (√v̂ + ε)
    Returns (new_params, new_state) with state keys t, m, v (and v_max for amsgrad).
    """
    params, grads = _prep(params, grads)
    grads = [g + weight_decay * w for g, w in zip(grads, params)]
    return _adam_core(params, grads, state, lr, beta1, beta2, eps, amsgrad)


def adamw_step(params, grads, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
               weight_decay=1e-2, amsgrad=False):
    """AdamW (Loshchilov & Hutter 2019), PyTorch order: decoupled decay first,

    w ← w − η λ w,   then the plain Adam step on the unmodified gradient g = ∇E.
    Returns (new_params, new_state).
    """
    params, grads = _prep(params, grads)
    params = [w - lr * weight_decay * w for w in params]
    return _adam_core(params, grads, state, lr, beta1, beta2, eps, amsgrad)


# --------------------------------------------------------------------------------------------
# Gradient clipping and learning-rate schedules (small helpers)
# --------------------------------------------------------------------------------------------

def clip_grad_norm(grads, max_norm, eps=1e-6):
    """Clip by global L2 norm (PyTorch clip_grad_norm_):

    total = √(Σ_i ‖g_i‖²);  c = min(1, max_norm / (total + eps));  g_i ← c g_i.
    Returns (clipped grads, total).
    """
    grads = [as_f64(g) for g in grads]
    total = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    coef = min(1.0, max_norm / (total + eps))
    return [g * coef for g in grads], total


def clip_grad_value(grads, clip_value):
    """Clip each entry to [−clip_value, clip_value]."""
    return [np.clip(as_f64(g), -clip_value, clip_value) for g in grads]


def lr_linear(tau, eta0, etaK, K):
    """Linear schedule (notes): η(τ) = (1 − τ/K) η₀ + (τ/K) η_K for τ ≤ K, then η_K."""
    if tau >= K:
        return float(etaK)
    return (1.0 - tau / K) * eta0 + (tau / K) * etaK


def lr_power(tau, eta0, s, c):
    """Power-law schedule (notes): η(τ) = η₀ (1 + τ/s)^c."""
    return eta0 * (1.0 + tau / s) ** c


def lr_exponential(tau, eta0, c, s):
    """Exponential decay (notes): η(τ) = η₀ c^{τ/s}."""
    return eta0 * c ** (tau / s)
