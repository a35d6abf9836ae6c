"""Batch normalization, layer normalization, dropout, residual connections and the
training/eval modes, against tests/reference.py, closed forms and statistics."""
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
    actual = np.asarray(actual)
    assert actual.dtype == np.dtype(dtype)
    np.testing.assert_allclose(actual.astype(np.float64), expected, **dict(TOL[dtype], **override))


def data(shape, dtype, seed=0, scale=1.0, shift=0.0):
    r = np.random.default_rng(seed)
    return (r.normal(size=shape) * scale + shift).astype(dtype)


def grads(net):
    return {name: np.array(grad) for name, _, grad in net.named_parameters()}


# ------------------------------------------------------------------------------------------
# Batch normalization
# ------------------------------------------------------------------------------------------

def bn_net(M, dtype, eps=1e-5, momentum=0.1, affine=True, seed=0):
    net = mlpc.Sequential(mlpc.BatchNorm(M, eps=eps, momentum=momentum, affine=affine),
                          dtype=dtype)
    if affine:
        net[0].weight = data((M,), dtype, seed + 1, 0.5, 1.0)
        net[0].bias = data((M,), dtype, seed + 2)
    return net


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_training_forward_backward(dtype, affine):
    N, M, eps = 8, 5, 1e-5
    net = bn_net(M, dtype, eps=eps, affine=affine)
    x = data((N, M), dtype, 3, scale=[0.5, 1, 2, 4, 0.1], shift=[0, 3, -1, 10, 0.2])
    gamma = np.array(net[0].weight) if affine else None
    beta = np.array(net[0].bias) if affine else None
    y = net(x)
    ry, cache = ref.batchnorm_forward(x, gamma, beta, eps)
    close(y, ry, dtype)
    if not affine:               # x̂ per unit: mean 0, variance v/(v + eps)
        v = x.astype(np.float64).var(axis=0)
        np.testing.assert_allclose(y.astype(np.float64).mean(axis=0), 0, atol=1e-6)
        np.testing.assert_allclose(y.astype(np.float64).var(axis=0), v / (v + eps), rtol=1e-5)
    dy = data((N, M), dtype, 4)
    net.zero_grad()
    dx = net.backward(dy)
    rdx, rdg, rdb = ref.batchnorm_backward(dy, cache)
    close(dx, rdx, dtype)
    close(dx, ref.batchnorm_backward_compact(dy, cache)[0], dtype)
    # the input gradient of a batch-normalized unit sums to zero over the batch
    np.testing.assert_allclose(dx.astype(np.float64).sum(axis=0), 0,
                               atol=1e-5 if dtype == "float32" else 1e-12)
    if affine:
        g = grads(net)
        close(g["0.weight"], rdg, dtype)
        close(g["0.bias"], rdb, dtype)
    else:
        assert list(net.named_parameters()) == []


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_eval_forward_backward(dtype):
    N, M, eps = 6, 4, 1e-3
    net = bn_net(M, dtype, eps=eps, momentum=0.3)
    for k in range(4):
        net(data((10, M), dtype, 10 + k, 2.0, 1.5))
    rm, rv = np.array(net[0].running_mean), np.array(net[0].running_var)
    assert not np.allclose(rm, 0) and not np.allclose(rv, 1)
    gamma, beta = np.array(net[0].weight), np.array(net[0].bias)
    net.eval()
    x = data((N, M), dtype, 20, 2.0, 1.0)
    y = net(x)
    close(y, ref.batchnorm_eval(x, rm, rv, gamma, beta, eps), dtype)
    # eval passes leave the running statistics alone
    np.testing.assert_array_equal(net[0].running_mean, rm)
    np.testing.assert_array_equal(net[0].running_var, rv)
    # backward: the statistics are constants, y is affine in x
    dy = data((N, M), dtype, 21)
    net.zero_grad()
    dx = net.backward(dy)
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    inv = 1 / np.sqrt(rv.astype(np.float64) + eps)
    close(dx, dy64 * gamma * inv, dtype)
    g = grads(net)
    close(g["0.weight"], np.sum(dy64 * (x64 - rm) * inv, axis=0), dtype)
    close(g["0.bias"], dy64.sum(axis=0), dtype)
    # a row's output does not depend on the rest of the batch
    np.testing.assert_array_equal(net(x[:1])[0], y[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.1, 0.35])
def test_batchnorm_running_statistics_closed_form(dtype, momentum):
    """After batches B₁..B_k: running_mean = Σᵢ m(1 − m)^{k−i} μ(Bᵢ) (from 0) and
    running_var = (1 − m)^k + Σᵢ m(1 − m)^{k−i} s²(Bᵢ) (from 1), s² the unbiased variance."""
    M = 3
    net = bn_net(M, dtype, momentum=momentum)
    np.testing.assert_array_equal(net[0].running_mean, 0.0)
    np.testing.assert_array_equal(net[0].running_var, 1.0)
    sizes = [5, 9, 2, 17, 4, 8]
    batches = [data((n, M), dtype, 30 + i, scale=[1, 3, 0.2], shift=[i, -2, 0.5])
               for i, n in enumerate(sizes)]
    rm_iter, rv_iter = np.zeros(M), np.ones(M)
    for xb in batches:
        net(xb)
        rm_iter, rv_iter = ref.batchnorm_running_update(rm_iter, rv_iter, xb, momentum)
    k, m = len(batches), momentum
    w = np.array([m * (1 - m) ** (k - 1 - i) for i in range(k)])
    mu = np.array([b.astype(np.float64).mean(axis=0) for b in batches])
    s2 = np.array([b.astype(np.float64).var(axis=0, ddof=1) for b in batches])
    rm_closed = w @ mu
    rv_closed = (1 - m) ** k + w @ s2
    np.testing.assert_allclose(rm_iter, rm_closed, rtol=1e-13, atol=1e-15)
    close(net[0].running_mean, rm_closed, dtype)
    close(net[0].running_var, rv_closed, dtype)
    # momentum 0 freezes them, momentum 1 keeps only the last batch
    frozen = bn_net(M, dtype, momentum=0.0)
    last = bn_net(M, dtype, momentum=1.0)
    for xb in batches:
        frozen(xb)
        last(xb)
    np.testing.assert_array_equal(frozen[0].running_mean, 0.0)
    np.testing.assert_array_equal(frozen[0].running_var, 1.0)
    close(last[0].running_mean, mu[-1], dtype)
    close(last[0].running_var, s2[-1], dtype)


def test_batchnorm_batch_of_one():
    net = mlpc.Sequential(mlpc.Linear(3, 4), mlpc.BatchNorm(4), dtype="float64")
    with pytest.raises(ValueError, match="more than one example"):
        net(np.ones((1, 3)))
    net(np.random.default_rng(0).normal(size=(2, 3)))        # two are enough
    net.eval()
    assert net(np.ones((1, 3))).shape == (1, 4)               # eval: running statistics
    net.train()
    with pytest.raises(ValueError):
        net.train_step(np.ones((1, 3)), np.zeros((1, 4)), mlpc.MSELoss(), mlpc.SGD(net, lr=0.1))


def test_batchnorm_buffers_and_state():
    net = mlpc.Sequential(mlpc.Linear(3, 4), mlpc.BatchNorm(4), dtype="float64")
    net(np.random.default_rng(0).normal(size=(5, 3)))
    names = dict(net.named_buffers())
    np.testing.assert_array_equal(names["1.running_mean"], net[1].running_mean)
    # writeable views
    net[1].running_var[...] = 4.0
    net.eval()
    x = np.random.default_rng(1).normal(size=(3, 3))
    h = x @ net[0].weight.T + net[0].bias
    np.testing.assert_allclose(net(x), (h - net[1].running_mean) / np.sqrt(4.0 + 1e-5),
                               rtol=1e-13, atol=1e-14)
    with pytest.raises(AttributeError):
        mlpc.LayerNorm(3).running_mean


# ------------------------------------------------------------------------------------------
# Layer normalization
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_forward_backward(dtype, affine):
    N, M, eps = 5, 7, 1e-5
    net = mlpc.Sequential(mlpc.LayerNorm(M, eps=eps, affine=affine), dtype=dtype)
    gamma = beta = None
    if affine:
        gamma, beta = data((M,), dtype, 1, 0.5, 1.0), data((M,), dtype, 2)
        net[0].weight, net[0].bias = gamma, beta
    x = data((N, M), dtype, 3, scale=np.array([[0.1], [1], [3], [10], [0.5]]),
             shift=np.array([[0], [5], [-2], [1], [100]]))
    y = net(x)
    ry, cache = ref.layernorm_forward(x, gamma, beta, eps)
    close(y, ry, dtype)
    if not affine:
        np.testing.assert_allclose(y.astype(np.float64).mean(axis=1), 0, atol=1e-6)
    dy = data((N, M), dtype, 4)
    net.zero_grad()
    dx = net.backward(dy)
    rdx, rdg, rdb = ref.layernorm_backward(dy, cache)
    close(dx, rdx, dtype, atol=1e-5 if dtype == "float32" else 1e-12)
    if affine:
        g = grads(net)
        close(g["0.weight"], rdg, dtype)
        close(g["0.bias"], rdb, dtype)
    # the same in eval mode, and for a single example
    net.eval()
    np.testing.assert_array_equal(net(x), y)
    close(net(x[2:3]), ry[2:3], dtype)


def test_layernorm_and_the_notes_form():
    """The notes: h = ψ(√(n−1)/s · diag(v)(z − z̄1) + u) with z̄ the mean of the n units and
    s = ‖z − z̄1‖₂, i.e. √(n−1)/s = 1/(sample std, ddof = 1). mlpc's LayerNorm divides by the
    biased std (ddof = 0, like PyTorch and the other notes' σ² = (1/M)Σ(a − μ)²), so it equals
    the notes' form with γ = √((n−1)/n)·v (and eps → 0); with γ = v the two differ by exactly
    √(n/(n−1))."""
    n, N = 6, 4
    z = data((N, n), "float64", 7, 2.0, 1.0)
    v = data((n,), "float64", 8, 0.3, 1.0)
    u = data((n,), "float64", 9)
    zbar = z.mean(axis=1, keepdims=True)
    s = np.linalg.norm(z - zbar, axis=1, keepdims=True)
    np.testing.assert_allclose(np.sqrt(n - 1) / s, 1 / z.std(axis=1, ddof=1, keepdims=True),
                               rtol=1e-14)
    for psi, act in [(np.tanh, mlpc.Tanh()), (lambda a: np.maximum(a, 0), mlpc.ReLU())]:
        notes = psi(np.sqrt(n - 1) / s * v * (z - zbar) + u)
        net = mlpc.Sequential(mlpc.LayerNorm(n, eps=0.0), act, dtype="float64")
        net[0].weight, net[0].bias = np.sqrt((n - 1) / n) * v, u
        np.testing.assert_allclose(net(z), notes, rtol=1e-13, atol=1e-14)
        # with the default eps the difference is O(eps/var)
        net_eps = mlpc.Sequential(mlpc.LayerNorm(n), act, dtype="float64")
        net_eps[0].weight, net_eps[0].bias = np.sqrt((n - 1) / n) * v, u
        np.testing.assert_allclose(net_eps(z), notes, rtol=1e-5, atol=1e-5)
    # γ = v, β = 0, identity ψ: the ratio is the constant √(n/(n−1))
    net = mlpc.Sequential(mlpc.LayerNorm(n, eps=0.0), dtype="float64")
    net[0].weight, net[0].bias = v, np.zeros(n)
    np.testing.assert_allclose(net(z), np.sqrt(n / (n - 1)) * (np.sqrt(n - 1) / s * v * (z - zbar)),
                               rtol=1e-13, atol=1e-14)


# ------------------------------------------------------------------------------------------
# Gradient check through normalization, residual connections and dropout
# ------------------------------------------------------------------------------------------

def mixed_net(seed, dropout=False, l2=0.01):
    # no bias in a Linear right before a BatchNorm: the normalization subtracts it again, its
    # gradient is exactly 0 and central differences only see round-off (tested separately)
    return mlpc.Sequential(
        mlpc.Linear(4, 6, bias=False), mlpc.BatchNorm(6), mlpc.Tanh(),
        mlpc.Residual(mlpc.Linear(6, 6), mlpc.LayerNorm(6), mlpc.GELU(), mlpc.Linear(6, 6)),
        mlpc.SiLU(),
        *([mlpc.Dropout(0.3)] if dropout else []),
        mlpc.Linear(6, 5, bias=False), mlpc.LayerNorm(5), mlpc.Softplus(),
        mlpc.Residual(mlpc.Linear(5, 5, bias=False), mlpc.BatchNorm(5)),
        mlpc.Linear(5, 3),
        dtype="float64", l2=l2, seed=seed)


# any seed passes: the directional check is exact to round-off (see test_gradcheck.py)
GRADCHECK_SEEDS = [int(s) % 2 ** 31 for s in np.random.SeedSequence().generate_state(2)]


@pytest.mark.parametrize("seed", GRADCHECK_SEEDS)
@pytest.mark.parametrize("loss", ["labels", "mse"])
def test_gradcheck_normalization_residual_mix(seed, loss):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(5, 4))
    if loss == "labels":
        loss_fn, y = mlpc.SoftmaxCrossEntropy(), rng.integers(0, 3, size=5)
    else:
        loss_fn, y = mlpc.MSELoss(), rng.normal(size=(5, 3))
    net = mixed_net(seed)
    errors = mlpc.gradcheck(net, loss_fn, X, y, eps=1e-5)
    assert {"1.weight", "1.bias", "3.1.weight", "3.1.bias", "8.1.weight", "8.1.bias",
            "input"} <= set(errors)
    bad = {k: e for k, e in errors.items() if not e < 1e-7}
    assert not bad, bad
    net.eval()        # the running statistics are constants: a different, affine function
    errors = mlpc.gradcheck(net, loss_fn, X, y, eps=1e-5)
    bad = {k: e for k, e in errors.items() if not e < 1e-7}
    assert not bad, bad


def test_bias_before_batchnorm_gets_no_gradient():
    """BN(xWᵀ + b) does not depend on b in training mode: ∂J/∂b = 0 (up to round-off)."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    net = mlpc.Sequential(mlpc.Linear(4, 5), mlpc.BatchNorm(5), mlpc.Tanh(), mlpc.Linear(5, 3),
                          dtype="float64", seed=0)
    out = net(X)
    net[0].bias = np.full(5, 3.0)
    np.testing.assert_allclose(net(X), out, rtol=1e-12, atol=1e-12)
    net.cost(X, y, mlpc.SoftmaxCrossEntropy())
    net.zero_grad()
    net.backward()
    np.testing.assert_allclose(grads(net)["0.bias"], 0.0, atol=1e-15)
    assert np.max(np.abs(grads(net)["0.weight"])) > 1e-3


def test_gradcheck_with_dropout_replays_masks():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)
    net = mixed_net(1, dropout=True)
    net(X)
    errors = mlpc.gradcheck(net, mlpc.SoftmaxCrossEntropy(), X, y, eps=1e-5)
    bad = {k: e for k, e in errors.items() if not e < 1e-7}
    assert not bad, bad


# ------------------------------------------------------------------------------------------
# Dropout
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_p0_and_eval_are_identity(dtype):
    x = data((6, 5), dtype, 1)
    dy = data((6, 5), dtype, 2)
    net = mlpc.Sequential(mlpc.Dropout(0.0), dtype=dtype)
    np.testing.assert_array_equal(net(x), x)
    np.testing.assert_array_equal(net[0].mask, 1.0)
    np.testing.assert_array_equal(net.backward(dy), dy)
    net = mlpc.Sequential(mlpc.Dropout(0.7, seed=1), dtype=dtype)
    assert not np.array_equal(net(x), x)
    net.eval()
    np.testing.assert_array_equal(net(x), x)
    np.testing.assert_array_equal(net.backward(dy), dy)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_mask_values_and_backward(dtype, p):
    x = data((40, 30), dtype, 3)
    dy = data((40, 30), dtype, 4)
    net = mlpc.Sequential(mlpc.Dropout(p, seed=11), dtype=dtype)
    y = net(x)
    mask = np.array(net[0].mask)
    assert mask.shape == x.shape and mask.dtype == np.dtype(dtype)
    scale = np.dtype(dtype).type(1 / (1 - p))
    assert set(np.unique(mask)) == {0, scale}
    np.testing.assert_array_equal(y, x * mask)
    np.testing.assert_allclose(y, ref.dropout_forward(x, mask != 0, p), rtol=1e-6)
    np.testing.assert_array_equal(net.backward(dy), dy * mask)
    np.testing.assert_allclose(net.backward(dy), ref.dropout_backward(dy, mask != 0, p),
                               rtol=1e-6)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_statistics(p):
    """On 10⁶ units the keep rate is within 3 standard errors √(p(1 − p)/n) of 1 − p, and the
    mean output is within 3 standard errors of the mean input (inverted dropout keeps E[y] = x):
    y − x = x(m − 1) has variance E[x²] p/(1 − p)."""
    n_rows, n_cols = 1000, 1000
    n = n_rows * n_cols
    x = np.random.default_rng(0).uniform(0.0, 2.0, size=(n_rows, n_cols)).astype(np.float32)
    net = mlpc.Sequential(mlpc.Dropout(p, seed=2024), dtype="float32")
    y = net(x).astype(np.float64)
    keep = np.count_nonzero(net[0].mask) / n
    assert abs(keep - (1 - p)) < 3 * np.sqrt(p * (1 - p) / n)
    x64 = x.astype(np.float64)
    se = np.sqrt(np.mean(x64 ** 2) * p / (1 - p) / n)
    assert abs(y.mean() - x64.mean()) < 3 * se
    # rows and columns are not special: keep rates per column are spread binomially
    per_col = np.count_nonzero(net[0].mask, axis=0) / n_rows
    assert abs(per_col.std() - np.sqrt(p * (1 - p) / n_rows)) < 0.1 * np.sqrt(p * (1 - p) / n_rows)


def test_dropout_same_seed_same_masks():
    x = np.ones((20, 10))
    a = mlpc.Sequential(mlpc.Dropout(0.4, seed=9), dtype="float64")
    b = mlpc.Sequential(mlpc.Dropout(0.4, seed=9), dtype="float64")
    c = mlpc.Sequential(mlpc.Dropout(0.4, seed=10), dtype="float64")
    first_a, first_b, first_c = a(x), b(x), c(x)
    np.testing.assert_array_equal(first_a, first_b)
    assert not np.array_equal(first_a, first_c)
    second_a, second_b = a(x), b(x)
    np.testing.assert_array_equal(second_a, second_b)
    assert not np.array_equal(first_a, second_a)           # a new mask every pass
    # Sequential(seed=) seeds layers given no seed of their own
    d = mlpc.Sequential(mlpc.Linear(10, 10), mlpc.Dropout(0.4), dtype="float64", seed=3)
    e = mlpc.Sequential(mlpc.Linear(10, 10), mlpc.Dropout(0.4), dtype="float64", seed=3)
    np.testing.assert_array_equal(d(x), e(x))
    np.testing.assert_array_equal(d[1].mask, e[1].mask)


# ------------------------------------------------------------------------------------------
# Residual connections
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_residual_forward_backward(dtype):
    N, M = 5, 4
    net = mlpc.Sequential(mlpc.Linear(3, M), mlpc.Residual(mlpc.Linear(M, M), mlpc.Tanh(),
                                                           mlpc.Linear(M, M)),
                          mlpc.Linear(M, 2), dtype=dtype, seed=1)
    p = {n: np.array(v, dtype=np.float64) for n, v, _ in net.named_parameters()}
    assert sorted(p) == ["0.bias", "0.weight", "1.0.bias", "1.0.weight", "1.2.bias",
                         "1.2.weight", "2.bias", "2.weight"]
    x = data((N, 3), dtype, 2)
    out = net(x)
    h0 = ref.linear_forward(x, p["0.weight"], p["0.bias"])
    a = ref.linear_forward(h0, p["1.0.weight"], p["1.0.bias"])
    t = np.tanh(a)
    block = ref.linear_forward(t, p["1.2.weight"], p["1.2.bias"])
    h1 = ref.residual_forward(h0, lambda _: block)
    np.testing.assert_allclose(h1, h0 + block, rtol=1e-15)
    close(net[1].output, h1, dtype)
    close(out, ref.linear_forward(h1, p["2.weight"], p["2.bias"]), dtype)

    dy = data((N, 2), dtype, 3)
    net.zero_grad()
    dx = net.backward(dy)
    dh1, dW2, db2 = ref.linear_backward(dy, h1, p["2.weight"])
    dt, dWb2, dbb2 = ref.linear_backward(dh1, t, p["1.2.weight"])
    da = dt * (1 - t ** 2)
    dh0_block, dWb0, dbb0 = ref.linear_backward(da, h0, p["1.0.weight"])
    dh0 = ref.residual_backward(dh1, lambda _: dh0_block)   # both paths
    dX, dW0, db0 = ref.linear_backward(dh0, x, p["0.weight"])
    close(dx, dX, dtype)
    g = grads(net)
    for name, expected in [("0.weight", dW0), ("0.bias", db0), ("1.0.weight", dWb0),
                           ("1.0.bias", dbb0), ("1.2.weight", dWb2), ("1.2.bias", dbb2),
                           ("2.weight", dW2), ("2.bias", db2)]:
        close(g[name], expected, dtype)
    close(net[0].grad_output, dh0, dtype)


def test_residual_gradient_flows_through_both_paths():
    M = 4
    x = data((3, M), "float64", 5)
    dy = data((3, M), "float64", 6)
    net = mlpc.Sequential(mlpc.Residual(mlpc.Linear(M, M), mlpc.Tanh()), dtype="float64",
                          seed=0)
    W, b = np.array(net[0][0].weight), np.array(net[0][0].bias)
    np.testing.assert_allclose(net(x), x + np.tanh(x @ W.T + b), rtol=1e-14)
    dx = net.backward(dy)
    t = np.tanh(x @ W.T + b)
    np.testing.assert_allclose(dx, dy + (dy * (1 - t ** 2)) @ W, rtol=1e-13)
    # with the block's weights and bias zeroed the block gives 0 and passes dY·0: dX = dY
    net[0][0].weight = np.zeros((M, M))
    net[0][0].bias = np.zeros(M)
    np.testing.assert_array_equal(net(x), x)
    np.testing.assert_array_equal(net.backward(dy), dy)
    # nested: x + (z + tanh z), z = Wx + b
    nested = mlpc.Sequential(mlpc.Residual(mlpc.Linear(M, M), mlpc.Residual(mlpc.Tanh())),
                             dtype="float64", seed=1)
    W, b = np.array(nested[0][0].weight), np.array(nested[0][0].bias)
    z = x @ W.T + b
    np.testing.assert_allclose(nested(x), x + z + np.tanh(z), rtol=1e-14)
    np.testing.assert_allclose(nested.backward(dy), dy + (dy * (2 - np.tanh(z) ** 2)) @ W,
                               rtol=1e-13)


# ------------------------------------------------------------------------------------------
# Modes
# ------------------------------------------------------------------------------------------

def test_train_and_eval_modes():
    net = mlpc.Sequential(mlpc.Linear(3, 4), mlpc.BatchNorm(4), mlpc.ReLU(),
                          mlpc.Residual(mlpc.Linear(4, 4), mlpc.Dropout(0.5), mlpc.LayerNorm(4)),
                          mlpc.Dropout(0.2), mlpc.Linear(4, 2))
    leaves = [layer for _, layer in net.named_layers()]
    assert len(leaves) == 8
    assert net.training and all(layer.training for layer in leaves)
    assert net[3].training
    assert net.eval() is net
    assert not net.training and not any(layer.training for layer in leaves)
    assert not net[3].training
    assert net.train() is net
    assert net.training and all(layer.training for layer in leaves)
    net.train(False)
    assert not any(layer.training for layer in leaves)
    net.training = True
    assert all(layer.training for layer in leaves)
    # the mode survives a copy, and predict restores it
    net.eval()
    assert not net.copy().training
    net.train()
    net.predict(np.ones((2, 3)))
    assert net.training
    assert mlpc.BatchNorm(3).training           # a layer on its own


def test_modes_change_batchnorm_and_dropout_behaviour():
    x = data((8, 3), "float64", 1)
    net = mlpc.Sequential(mlpc.BatchNorm(3), mlpc.Dropout(0.5, seed=0), dtype="float64")
    y_train = net(x)
    assert np.any(y_train == 0)
    net.eval()
    rm, rv = np.array(net[0].running_mean), np.array(net[0].running_var)
    np.testing.assert_allclose(net(x), (x - rm) / np.sqrt(rv + 1e-5), rtol=1e-13)
    net.train()
    y2 = net(x)
    assert not np.array_equal(y2, y_train)       # a new dropout mask
    rng_net = net.copy()
    np.testing.assert_array_equal(rng_net(x), net(x))


# ------------------------------------------------------------------------------------------
# Why batch normalization: a badly initialized deep tanh network
# ------------------------------------------------------------------------------------------

def deep_tanh(batchnorm, width=100, depth=10):
    layers = []
    for _ in range(depth):
        layers.append(mlpc.Linear(width, width, init=mlpc.init.normal(1.0)))
        if batchnorm:
            layers.append(mlpc.BatchNorm(width))
        layers.append(mlpc.Tanh())
    return mlpc.Sequential(*layers, dtype="float64", seed=0)


def test_batchnorm_keeps_a_badly_initialized_deep_net_unit_variance():
    X = np.random.default_rng(0).normal(size=(256, 100))
    with_bn = deep_tanh(True)
    with_bn(X)
    bns = [layer for _, layer in with_bn.named_layers() if isinstance(layer, mlpc.BatchNorm)]
    assert len(bns) == 10
    for i, layer in enumerate(bns):
        np.testing.assert_array_equal(layer.weight, 1.0)
        np.testing.assert_array_equal(layer.bias, 0.0)
        s = layer.output
        np.testing.assert_allclose(s.var(axis=0), 1.0, atol=1e-3, err_msg=f"layer {i}")
        np.testing.assert_allclose(s.mean(axis=0), 0.0, atol=1e-10)
    tanhs = [layer for _, layer in with_bn.named_layers() if isinstance(layer, mlpc.Tanh)]
    assert all(np.mean(np.abs(t.output)) < 0.7 for t in tanhs)   # not saturated

    without = deep_tanh(False)
    without(X)
    tanhs = [layer for _, layer in without.named_layers() if isinstance(layer, mlpc.Tanh)]
    pre = [layer for _, layer in without.named_layers() if isinstance(layer, mlpc.Linear)]
    for i, (lin, t) in enumerate(zip(pre, tanhs)):
        assert lin.output.var() > 50, f"layer {i}"      # N(0, 1) weights: variance ≈ fan-in·E[h²]
        if i >= 2:
            assert np.mean(np.abs(t.output)) > 0.9, f"layer {i}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_mask_survives_eval_passes(dtype):
    """The mask is the last training-mode forward's: an eval pass of a smaller batch leaves it as
    it was (it used to show the first rows), one of a larger batch regrows the buffers and leaves
    None (it used to show zeros of the new shape), never another batch's shape."""
    r = np.random.default_rng()
    n = int(r.integers(2, 20))
    net = mlpc.Sequential(mlpc.Linear(3, 7), mlpc.Dropout(0.5), dtype=dtype)
    assert net[1].mask is None
    y = net(data((n, 3), dtype, int(r.integers(1 << 30))))
    mask = np.array(net[1].mask)
    np.testing.assert_array_equal(y, net[1].output)
    net.eval()
    net(data((1, 3), dtype))
    np.testing.assert_array_equal(net[1].mask, mask)
    net(data((n + 1, 3), dtype))
    assert net[1].mask is None
    net.train()
    net(data((n, 3), dtype))
    assert net[1].mask.shape == (n, 7)
