"""Every C kernel of mlpc against the independent pure-NumPy reference (tests/reference.py) and
against closed forms, in float32 and float64.

float32 results are compared with the float64 reference evaluated on the same (float32-rounded)
inputs, with rtol 1e-5 / atol 1e-6; float64 results with rtol = atol = 1e-12.
"""
import os
import sys

import numpy as np
import pytest

import mlpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

DTYPES = ["float32", "float64"]
TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-12)}


def close(actual, expected, dtype, **override):
    tol = dict(TOL[dtype], **override)
    actual = np.asarray(actual)
    assert actual.dtype == np.dtype(dtype), f"dtype {actual.dtype}, expected {dtype}"
    np.testing.assert_allclose(actual.astype(np.float64), expected, **tol)


def data(shape, dtype, seed=0, scale=1.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(dtype)


def grads(net):
    return {name: np.array(grad) for name, _, grad in net.named_parameters()}


# ------------------------------------------------------------------------------------------
# Dense layer
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_backward(dtype, bias):
    N, n_in, n_out = 6, 7, 5
    x = data((N, n_in), dtype, 1)
    W = data((n_out, n_in), dtype, 2, 0.5)
    b = data((n_out,), dtype, 3)
    dy = data((N, n_out), dtype, 4)
    net = mlpc.Sequential(mlpc.Linear(n_in, n_out, bias=bias), dtype=dtype)
    lin = net[0]
    assert lin.weight.shape == (n_out, n_in)
    lin.weight = W
    if bias:
        assert lin.bias.shape == (n_out,)
        lin.bias = b
    else:
        assert not hasattr(lin, "bias") or "bias" not in lin.param_names
    y = net(x)
    close(y, ref.linear_forward(x, W, b if bias else None), dtype)

    net.zero_grad()
    dx = net.backward(dy)
    rdx, rdW, rdb = ref.linear_backward(dy, x, W)
    g = grads(net)
    assert sorted(g) == (["0.bias", "0.weight"] if bias else ["0.weight"])
    close(dx, rdx, dtype)
    close(g["0.weight"], rdW, dtype)
    if bias:
        close(g["0.bias"], rdb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_bias_broadcast_and_zero_input(dtype):
    """y = x Wᵀ + b: a zero input gives b in every row; the bias gradient is Σₙ dy."""
    net = mlpc.Sequential(mlpc.Linear(3, 4), dtype=dtype)
    net[0].bias = np.arange(4.0)
    y = net(np.zeros((5, 3)))
    close(y, np.tile(np.arange(4.0), (5, 1)), dtype)
    net.zero_grad()
    net.backward(np.ones((5, 4)))
    close(grads(net)["0.bias"], np.full(4, 5.0), dtype)


# ------------------------------------------------------------------------------------------
# Activations
# ------------------------------------------------------------------------------------------

# (id, factory, reference name, reference parameters)
ACTS = [
    ("identity", mlpc.Identity, "identity", {}),
    ("step", mlpc.Step, "step", {}),
    ("sigmoid", mlpc.Sigmoid, "sigmoid", {}),
    ("tanh", mlpc.Tanh, "tanh", {}),
    ("relu", mlpc.ReLU, "relu", {}),
    ("leaky_relu", mlpc.LeakyReLU, "leaky_relu", {}),
    ("leaky_relu_0.2", lambda: mlpc.LeakyReLU(0.2), "leaky_relu", {"negative_slope": 0.2}),
    ("elu", mlpc.ELU, "elu", {}),
    ("elu_0.5", lambda: mlpc.ELU(0.5), "elu", {"alpha": 0.5}),
    ("selu", mlpc.SELU, "selu", {}),
    ("gelu", mlpc.GELU, "gelu", {}),
    ("gelu_tanh", lambda: mlpc.GELU(approximate="tanh"), "gelu_tanh", {}),
    ("softplus", mlpc.Softplus, "softplus", {}),
    ("silu", mlpc.SiLU, "silu", {}),
    ("swish_1", mlpc.Swish, "swish", {"beta": 1.0}),
    ("swish_1.7", lambda: mlpc.Swish(1.7), "swish", {"beta": 1.7}),
    ("softsign", mlpc.Softsign, "softsign", {}),
]


def act_inputs(dtype):
    """A grid over [-8, 8] with the kink 0 itself, plus tails where naive formulas overflow."""
    grid = np.linspace(-8, 8, 161)           # contains 0.0 exactly
    tails = np.array([-40.0, -20.0, -12.5, 12.5, 20.0, 40.0])
    return np.concatenate([grid, tails]).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,factory,rname,params", ACTS, ids=[a[0] for a in ACTS])
def test_activation_function(name, factory, rname, params, dtype):
    x = act_inputs(dtype)
    f, df = factory().function(x)
    close(f, ref.ACTIVATIONS[rname][0](x, **params), dtype)
    close(df, ref.ACTIVATIONS[rname][1](x, **params), dtype)
    # any shape, elementwise
    f2, df2 = factory().function(x[:160].reshape(4, 5, 8))
    assert f2.shape == (4, 5, 8)
    np.testing.assert_array_equal(f2.reshape(-1), f[:160])
    np.testing.assert_array_equal(df2.reshape(-1), df[:160])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,factory,rname,params", ACTS, ids=[a[0] for a in ACTS])
def test_activation_layer_in_network(name, factory, rname, params, dtype):
    """Forward through a one-layer network, and backward with dY = ones gives f'(x);
    a random dY gives dY ⊙ f'(x)."""
    x = act_inputs(dtype)[:160].reshape(10, 16)
    net = mlpc.Sequential(factory(), dtype=dtype)
    y = net(x)
    close(y, ref.activation_forward(rname, x, **params), dtype)
    dx = net.backward(np.ones_like(x))
    close(dx, ref.ACTIVATIONS[rname][1](x, **params), dtype)
    dy = data(x.shape, dtype, 5)
    dx = net.backward(dy)
    close(dx, ref.activation_backward(rname, dy, x, **params), dtype)


def test_activation_names_map_to_classes():
    for name, cls in mlpc.ACTIVATIONS.items():
        assert isinstance(cls(), mlpc.Layer), name
    for name in ("relu", "tanh", "sigmoid", "gelu", "silu", "swish", "softplus", "elu", "selu",
                 "leaky_relu", "identity", "step", "softsign", "prelu"):
        assert name in mlpc.ACTIVATIONS


def test_activation_kink_conventions():
    """The "x > 0" rule at the kinks: step(0) = 0, relu'(0) = 0, leaky'(0) = slope, elu'(0) = α."""
    z = np.zeros(1)
    assert mlpc.Step().function(z)[0][0] == 0.0
    assert mlpc.ReLU().function(z)[1][0] == 0.0
    assert mlpc.LeakyReLU(0.3).function(z)[1][0] == 0.3
    assert mlpc.ELU(0.7).function(z)[1][0] == 0.7


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,factory,rname,params", ACTS, ids=[a[0] for a in ACTS])
def test_activation_keeps_nan(name, factory, rname, params, dtype):
    """NaN in, NaN out: a comparison with NaN is false, so a kink must not turn it into a
    plausible 0 (a NaN input row would then give finite scores)."""
    f, _ = factory().function(np.array([np.nan, 1.0], dtype=dtype))
    assert np.isnan(f[0]) and not np.isnan(f[1])


def test_nan_input_row_gives_nan_scores():
    net = mlpc.Sequential(mlpc.Linear(4, 3), mlpc.ReLU(), mlpc.Linear(3, 2), seed=0)
    y = net(np.array([[np.nan, 1, 2, 3], [0, 1, 2, 3]], dtype=np.float32))
    assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()


# ------------------------------------------------------------------------------------------
# PReLU, learnable Swish, gated units
# ------------------------------------------------------------------------------------------

def away_from_zero(shape, dtype, seed):
    r = np.random.default_rng(seed)
    return (r.uniform(0.05, 3.0, size=shape) * r.choice([-1.0, 1.0], size=shape)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("per_unit", [False, True])
def test_prelu(dtype, per_unit):
    N, M = 7, 5
    x = away_from_zero((N, M), dtype, 1)
    net = mlpc.Sequential(mlpc.PReLU(M if per_unit else 1, init=0.25), dtype=dtype)
    net(x)                               # builds the network (width from the input)
    layer = net[0]
    assert layer.weight.shape == ((M,) if per_unit else (1,))
    assert np.all(layer.weight == np.float32(0.25))      # the initial slope
    a = np.array([0.1, -0.3, 0.7, 0.2, 1.5] if per_unit else [0.4]).astype(dtype)
    layer.weight = a
    y = net(x)
    close(y, ref.prelu_forward(x, a), dtype)
    dy = data((N, M), dtype, 2)
    net.zero_grad()
    dx = net.backward(dy)
    rdx, rda = ref.prelu_backward(dy, x, a)
    close(dx, rdx, dtype)
    g = grads(net)
    assert list(g) == ["0.weight"]
    close(g["0.weight"], rda, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_swish_learnable_beta(dtype):
    N, M, beta = 6, 4, 1.3
    x = data((N, M), dtype, 3, 2.0)
    net = mlpc.Sequential(mlpc.Swish(beta, learnable=True), dtype=dtype)
    net(x)
    layer = net[0]
    assert layer.beta.shape == (1,) and layer.beta[0] == np.dtype(dtype).type(beta)
    y = net(x)
    close(y, ref.swish(x, beta=beta), dtype)
    dy = data((N, M), dtype, 4)
    net.zero_grad()
    dx = net.backward(dy)
    close(dx, ref.activation_backward("swish", dy, x, beta=beta), dtype)
    g = grads(net)
    assert list(g) == ["0.beta"]
    close(g["0.beta"], [ref.swish_backward_beta(dy, x, beta)], dtype)
    # a changed β is used by the next pass and by .function
    layer.beta = np.array([0.6])
    close(net(x), ref.swish(x, beta=0.6), dtype)
    close(layer.function(x)[0], ref.swish(x, beta=0.6), dtype)
    # a fixed-β Swish has no parameters
    fixed = mlpc.Sequential(mlpc.Linear(3, 3), mlpc.Swish(2.0))
    assert [n for n, _, _ in fixed.named_parameters()] == ["0.weight", "0.bias"]


GATED = [("glu", mlpc.GLU, "glu"), ("reglu", mlpc.ReGLU, "reglu"), ("geglu", mlpc.GEGLU, "geglu"),
         ("swiglu", mlpc.SwiGLU, "swiglu"), ("glu_tanh", lambda: mlpc.GLU("tanh"), "tanh"),
         ("glu_identity", lambda: mlpc.GLU("identity"), "identity")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,factory,rname", GATED, ids=[g[0] for g in GATED])
def test_gated_units(name, factory, rname, dtype):
    N, M = 6, 4
    x = away_from_zero((N, 2 * M), dtype, 7)
    net = mlpc.Sequential(factory(), dtype=dtype)
    y = net(x)
    assert y.shape == (N, M)
    close(y, ref.gated_forward(x, rname), dtype)
    dy = data((N, M), dtype, 8)
    dx = net.backward(dy)
    assert dx.shape == (N, 2 * M)
    close(dx, ref.gated_backward(dy, x, rname), dtype)


def test_glu_gates_first_half():
    """The notes' GLU: σ(first half) ⊙ second half (not torch's order)."""
    u, v = np.array([[2.0]]), np.array([[3.0]])
    y = mlpc.GLU()(np.hstack([u, v]))
    assert y[0, 0] == pytest.approx(3.0 / (1 + np.exp(-2.0)), rel=1e-15)


def test_gated_unit_needs_even_width():
    with pytest.raises(ValueError, match="even"):
        mlpc.Sequential(mlpc.Linear(3, 5), mlpc.GLU())


# ------------------------------------------------------------------------------------------
# Losses
# ------------------------------------------------------------------------------------------

def loss_case(kind, dtype, N=7, K=4, seed=0):
    r = np.random.default_rng(seed)
    s = (r.normal(size=(N, K)) * 2).astype(dtype)
    if kind == "labels":
        return s, r.integers(0, K, size=N), mlpc.SoftmaxCrossEntropy(), ref.softmax_cross_entropy
    if kind == "probs":
        return (s, r.dirichlet(np.ones(K), size=N).astype(dtype), mlpc.SoftmaxCrossEntropy(),
                ref.softmax_cross_entropy)
    if kind == "bce":
        return (s, r.uniform(size=(N, K)).astype(dtype), mlpc.BinaryCrossEntropy(),
                ref.binary_cross_entropy_with_logits)
    return s, r.normal(size=(N, K)).astype(dtype), mlpc.MSELoss(), ref.mse


LOSS_KINDS = ["labels", "probs", "bce", "mse"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,K", [(kind, 4) for kind in LOSS_KINDS] +
                         [(kind, K) for kind in ("labels", "probs") for K in (64, 65, 200)])
def test_loss_value_and_gradient(kind, dtype, K):
    """K around 64 for softmax, which takes its exponentials 64 at a time (loss.inc)."""
    seed = int(np.random.default_rng().integers(1 << 31))
    s, y, loss_fn, reference = loss_case(kind, dtype, K=K, seed=seed)
    cost = loss_fn(s, y)
    rcost, rgrad = reference(s, y)
    assert isinstance(cost, float)
    assert cost == pytest.approx(rcost, rel=1e-6 if dtype == "float32" else 1e-13)
    close(loss_fn.backward(), rgrad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_loss_through_network(kind, dtype):
    """net.loss after a forward pass gives the same value, and net.backward() starts from the
    loss gradient: through an Identity network dX = ∂C/∂s."""
    s, y, loss_fn, reference = loss_case(kind, dtype, seed=3)
    net = mlpc.Sequential(mlpc.Identity(), dtype=dtype)
    net(s)
    rcost, rgrad = reference(s, y)
    assert net.loss(loss_fn, y) == pytest.approx(rcost, rel=1e-6 if dtype == "float32" else 1e-13)
    close(net.backward(), rgrad, dtype)


def test_loss_backward_before_call_raises():
    with pytest.raises(RuntimeError):
        mlpc.MSELoss().backward()


def test_one_hot_rows_equal_int_labels():
    s = data((5, 3), "float64", 1)
    labels = np.array([0, 2, 1, 1, 0])
    a = mlpc.SoftmaxCrossEntropy()
    b = mlpc.SoftmaxCrossEntropy()
    assert a(s, labels) == pytest.approx(b(s, ref.one_hot(labels, 3)), rel=1e-15)
    np.testing.assert_allclose(a.backward(), b.backward(), rtol=1e-15, atol=1e-17)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_closed_form(dtype):
    """C = −(1/N) Σ log p_{n,yₙ} and ∂C/∂s = (p − Y)/N with p = e^s / Σ e^s (direct formula)."""
    N, K = 6, 5
    s = data((N, K), dtype, 11)
    y = np.array([0, 4, 2, 2, 1, 3])
    e = np.exp(s.astype(np.float64))
    p = e / e.sum(axis=1, keepdims=True)
    Y = np.eye(K)[y]
    loss_fn = mlpc.SoftmaxCrossEntropy()
    cost = loss_fn(s, y)
    assert cost == pytest.approx(-np.mean(np.log(p[np.arange(N), y])),
                                 rel=1e-6 if dtype == "float32" else 1e-13)
    close(loss_fn.backward(), (p - Y) / N, dtype)
    close(mlpc.softmax(s), p, dtype)
    # gradient rows sum to zero
    np.testing.assert_allclose(loss_fn.backward().astype(np.float64).sum(axis=1), 0,
                               atol=1e-7 if dtype == "float32" else 1e-16)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_bce_one_layer_closed_form(dtype):
    """One dense layer + sigmoid + BCE: per example ∂C/∂w = x(σ(a) − y), ∂C/∂b = σ(a) − y (the
    notes), averaged over the batch: ∂C/∂w = Σₙ xₙ(σ(aₙ) − yₙ)/N, ∂C/∂b = Σₙ (σ(aₙ) − yₙ)/N."""
    N, d = 9, 4
    x = data((N, d), dtype, 21)
    y = (np.random.default_rng(22).uniform(size=N) > 0.5).astype(np.float64)
    w = data((1, d), dtype, 23)
    b = np.array([0.3], dtype=dtype)
    net = mlpc.Sequential(mlpc.Linear(d, 1), dtype=dtype)
    net[0].weight, net[0].bias = w, b
    net.zero_grad()
    cost = net.cost(x, y, mlpc.BinaryCrossEntropy())
    net.backward()
    x64 = x.astype(np.float64)
    a = x64 @ w[0].astype(np.float64) + float(b[0])
    sig = 1 / (1 + np.exp(-a))
    expected_cost = -np.mean(y * np.log(sig) + (1 - y) * np.log(1 - sig))
    assert cost == pytest.approx(expected_cost, rel=1e-6 if dtype == "float32" else 1e-12)
    g = grads(net)
    close(g["0.weight"], ((sig - y)[:, None] * x64).sum(axis=0, keepdims=True) / N, dtype)
    close(g["0.bias"], [np.sum(sig - y) / N], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mse_closed_form(dtype):
    """C = 1/(2N) Σ‖ŷ − y‖², ∂C/∂ŷ = (ŷ − y)/N: not PyTorch's mean over N·K."""
    yhat = np.array([[1.0, 2.0], [3.0, 5.0]], dtype=dtype)
    y = np.array([[0.0, 2.0], [1.0, 1.0]], dtype=dtype)
    loss_fn = mlpc.MSELoss()
    assert loss_fn(yhat, y) == (1 + 0 + 4 + 16) / 4
    close(loss_fn.backward(), np.array([[0.5, 0.0], [1.0, 2.0]]), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_losses_stable_for_huge_logits(dtype):
    """Logits ±1e4: finite costs equal to the exact limits, gradients equal to the limits."""
    s = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype)
    N = 3
    ce = mlpc.SoftmaxCrossEntropy()
    # label 0 at the max: −log p = 0;  label 1: −log p = 2e4;  label 2 at the max: 0
    cost = ce(s, np.array([0, 1, 2]))
    assert np.isfinite(cost)
    assert cost == pytest.approx((0 + 2e4 + 0) / N, rel=1e-12)
    g = ce.backward()
    assert np.all(np.isfinite(g))
    p = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 1]], dtype=np.float64)
    Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64)
    exact = dict(atol=1e-15, rtol=1e-7 if dtype == "float32" else 1e-12)   # 1/3 in float32
    close(g, (p - Y) / N, dtype, **exact)
    # probability rows: half/half between the max and the min
    cost = ce(s[:1], np.array([[0.5, 0.5, 0.0]], dtype=dtype))
    assert cost == pytest.approx(0.5 * 0 + 0.5 * 2e4, rel=1e-12)

    bce = mlpc.BinaryCrossEntropy()
    sb = np.array([[1e4, -1e4, 1e4, -1e4]], dtype=dtype)
    yb = np.array([[1.0, 0.0, 0.0, 1.0]], dtype=dtype)
    # right and confident: 0; wrong and confident: |s| each
    cost = bce(sb, yb)
    assert np.isfinite(cost) and cost == pytest.approx(2e4, rel=1e-12)
    close(bce.backward(), np.array([[0.0, 0.0, 1.0, -1.0]]), dtype, **exact)
    # the same through a network
    net = mlpc.Sequential(mlpc.Identity(), dtype=dtype)
    net(sb)
    assert net.loss(bce, yb) == pytest.approx(2e4, rel=1e-12)
    assert np.all(np.isfinite(net.backward()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_small_costs_are_relatively_accurate(dtype):
    """Confident right answers have tiny costs log(1 + e^−|s|): computed with log1p they keep
    full relative accuracy (log(1 + x) would round 1 + x and lose it)."""
    s = np.array([[20.0, -20.0, 40.0, -40.0, 8.0]], dtype=dtype)
    y = np.array([[1.0, 0.0, 1.0, 0.0, 1.0]], dtype=dtype)
    bce = mlpc.BinaryCrossEntropy()
    for j in range(s.shape[1]):
        cost = bce(s[:, j:j + 1], y[:, j:j + 1])
        exact = np.log1p(np.exp(-abs(float(s[0, j]))))
        assert cost == pytest.approx(exact, rel=1e-12, abs=0), (s[0, j], cost, exact)
        rcost = ref.binary_cross_entropy_with_logits(s[:, j:j + 1], y[:, j:j + 1])[0]
        assert cost == pytest.approx(rcost, rel=1e-12, abs=0)


# ------------------------------------------------------------------------------------------
# L2 penalty
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_l2_penalty_and_gradient(dtype):
    lam = 0.05
    net = mlpc.Sequential(mlpc.Linear(4, 5), mlpc.Tanh(), mlpc.PReLU(5), mlpc.LayerNorm(5),
                          mlpc.Linear(5, 3, bias=False), dtype=dtype, l2=lam, seed=3)
    # make biases and the non-matrix parameters large: they must not enter the penalty
    net[0].bias = np.full(5, 10.0)
    net[2].weight = np.full(5, 7.0)
    net[3].weight = np.full(5, 3.0)
    net[3].bias = np.full(5, -2.0)
    W1, W2 = np.array(net[0].weight), np.array(net[4].weight)
    rpen, rgrads = ref.l2_penalty([W1, W2], lam)
    assert net.penalty() == pytest.approx(rpen, rel=1e-6 if dtype == "float32" else 1e-13)
    x = data((6, 4), dtype, 1)
    dy = data((6, 3), dtype, 2)

    net.l2 = 0.0
    assert net.penalty() == 0.0
    net(x)
    net.zero_grad()
    net.backward(dy)
    plain = grads(net)
    net.l2 = lam
    net(x)
    net.zero_grad()
    net.backward(dy)
    reg = grads(net)
    for name in plain:
        if name in ("0.weight", "4.weight"):
            W = W1 if name == "0.weight" else W2
            close(reg[name], plain[name].astype(np.float64) + 2 * lam * W.astype(np.float64),
                  dtype)
        else:
            np.testing.assert_array_equal(reg[name], plain[name], err_msg=name)
    # cost = loss + penalty
    y = np.array([0, 1, 2, 0, 1, 2])
    loss = mlpc.SoftmaxCrossEntropy()(net(x), y)
    assert net.cost(x, y, mlpc.SoftmaxCrossEntropy()) == pytest.approx(
        loss + rpen, rel=1e-6 if dtype == "float32" else 1e-13)


def test_l2_gradient_closed_form_single_layer():
    """One linear layer, dY given: ∂J/∂W = dYᵀX + 2λW, ∂J/∂b = Σ dY (no decay)."""
    lam = 0.3
    net = mlpc.Sequential(mlpc.Linear(3, 2), dtype="float64", l2=lam, seed=1)
    W = np.array(net[0].weight)
    x = data((4, 3), "float64", 5)
    dy = data((4, 2), "float64", 6)
    net(x)
    net.zero_grad()
    net.backward(dy)
    g = grads(net)
    close(g["0.weight"], dy.T @ x + 2 * lam * W, "float64")
    close(g["0.bias"], dy.sum(axis=0), "float64")
    assert net.penalty() == pytest.approx(lam * np.sum(W * W), rel=1e-14)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_l2_must_be_finite_nonnegative(bad):
    with pytest.raises(ValueError):
        mlpc.Sequential(mlpc.Linear(2, 2), l2=bad)


# ------------------------------------------------------------------------------------------
# Initializers
# ------------------------------------------------------------------------------------------

ROWS, COLS = 300, 700          # (out, in): fan_in 700, fan_out 300; 210 000 draws
NORMAL_INITS = [
    ("he_normal", np.sqrt(2 / COLS)),
    ("kaiming_normal", np.sqrt(2 / COLS)),
    ("xavier_normal", np.sqrt(2 / (COLS + ROWS))),
    ("glorot_normal", np.sqrt(2 / (COLS + ROWS))),
    ("lecun_normal", np.sqrt(1 / COLS)),
    (mlpc.init.normal(0.37), 0.37),
    (("normal", 2.5), 2.5),
]
UNIFORM_INITS = [
    ("he_uniform", np.sqrt(6 / COLS)),
    ("kaiming_uniform", np.sqrt(6 / COLS)),
    ("xavier_uniform", np.sqrt(6 / (COLS + ROWS))),
    ("glorot_uniform", np.sqrt(6 / (COLS + ROWS))),
    ("lecun_uniform", np.sqrt(3 / COLS)),
    (mlpc.init.uniform(0.8), 0.8),
]


def _id(init):
    return init if isinstance(init, str) else f"{init[0]}({init[1]})"


@pytest.mark.parametrize("init,std", NORMAL_INITS, ids=[_id(i) for i, _ in NORMAL_INITS])
def test_normal_initializers(init, std):
    w = mlpc.init.weight(init, ROWS, COLS, seed=123)
    assert w.shape == (ROWS, COLS) and w.dtype == np.float64
    n = w.size
    # mean within 5 standard errors of 0, std within 5 standard errors (σ/√(2n)) of theory
    assert abs(w.mean()) < 5 * std / np.sqrt(n)
    assert abs(w.std() - std) < 5 * std / np.sqrt(2 * n)
    # Gaussian shape: fraction within one σ is 0.6827 (standard error √(p(1 − p)/n))
    frac = np.mean(np.abs(w) < std)
    assert abs(frac - 0.682689) < 5 * np.sqrt(0.6827 * 0.3173 / n)
    # and through a layer, whose weight is (out, in): fan_in = in_features
    net = mlpc.Sequential(mlpc.Linear(COLS, ROWS, init=init, seed=9), dtype="float64")
    wl = net[0].weight
    assert wl.shape == (ROWS, COLS)
    assert abs(wl.std() - std) < 5 * std / np.sqrt(2 * n)
    np.testing.assert_array_equal(net[0].bias, 0.0)


@pytest.mark.parametrize("init,bound", UNIFORM_INITS, ids=[_id(i) for i, _ in UNIFORM_INITS])
def test_uniform_initializers(init, bound):
    w = mlpc.init.weight(init, ROWS, COLS, seed=7)
    n = w.size
    assert np.all(np.abs(w) <= bound)
    # the extremes reach the bound: P(max < a(1 − 1e-3)) = (1 − 5e-4)^n ≈ e^-105
    assert w.max() > bound * (1 - 1e-3) and w.min() < -bound * (1 - 1e-3)
    std = bound / np.sqrt(3)
    assert abs(w.mean()) < 5 * std / np.sqrt(n)
    # the std of a sample std of U(−a, a) is ≈ 0.447 σ/√n
    assert abs(w.std() - std) < 5 * 0.45 * std / np.sqrt(n)
    net = mlpc.Sequential(mlpc.Linear(COLS, ROWS, init=init, seed=2), dtype="float64")
    assert np.all(np.abs(net[0].weight) <= bound)
    assert abs(net[0].weight.std() - std) < 5 * 0.45 * std / np.sqrt(n)


def test_constant_and_zero_initializers():
    np.testing.assert_array_equal(mlpc.init.weight("zeros", 3, 4, seed=0), 0.0)
    np.testing.assert_array_equal(mlpc.init.weight(mlpc.init.constant(0.5), 3, 4, seed=0), 0.5)
    net = mlpc.Sequential(mlpc.Linear(4, 3, init=("constant", -2.0)))
    np.testing.assert_array_equal(net[0].weight, -2.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(40, 90), (90, 40), (50, 50)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal_initializer(shape, gain, dtype):
    out_f, in_f = shape
    net = mlpc.Sequential(mlpc.Linear(in_f, out_f, init=mlpc.init.orthogonal(gain), seed=4),
                          dtype=dtype)
    W = np.array(net[0].weight, dtype=np.float64)
    assert W.shape == shape
    gram = W @ W.T if out_f <= in_f else W.T @ W
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(shape)), atol=tol * gain ** 2)


def test_initializer_determinism_and_dtypes():
    a = mlpc.init.weight("he_normal", 20, 30, seed=99)
    b = mlpc.init.weight("he_normal", 20, 30, seed=99)
    c = mlpc.init.weight("he_normal", 20, 30, seed=100)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    for init in ["he_normal", "xavier_uniform", "lecun_normal", mlpc.init.orthogonal(1.5),
                 mlpc.init.normal(0.1)]:
        n32 = mlpc.Sequential(mlpc.Linear(30, 20, init=init, seed=5), dtype="float32")
        n64 = mlpc.Sequential(mlpc.Linear(30, 20, init=init, seed=5), dtype="float64")
        again = mlpc.Sequential(mlpc.Linear(30, 20, init=init, seed=5), dtype="float64")
        np.testing.assert_array_equal(n64[0].weight, again[0].weight)
        assert n32[0].weight.dtype == np.float32 and n64[0].weight.dtype == np.float64
        # float32 weights are the float64 weights rounded
        np.testing.assert_array_equal(n32[0].weight, n64[0].weight.astype(np.float32))
        np.testing.assert_array_equal(n64[0].weight,
                                      mlpc.init.weight(init, 20, 30, seed=5))


@pytest.mark.parametrize("bad", ["he", "normal_", ("normal", -1.0), ("uniform", -0.5),
                                 ("normal", float("nan")), 3, None])
def test_bad_initializers(bad):
    with pytest.raises(ValueError):
        mlpc.Linear(3, 3, init=bad)
