"""The performance paths against the NumPy reference: a few examples through mlpc's own dot
products (forward) and GEMV / the outer product (backward), a train_step that overwrites the gradients instead of zeroing them, the optimizer's
chunked update with its gradient norm, batch norm's row-wise column passes, predict's argmax in C,
backward(input_grad=False). float32 and float64, fresh random data each run."""
import os
import sys

import numpy as np
import pytest

import mlpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

DTYPES = ["float32", "float64"]
TOL = {"float32": dict(rtol=2e-5, atol=2e-6), "float64": dict(rtol=1e-12, atol=1e-12)}
LOSS = mlpc.SoftmaxCrossEntropy()


def close(actual, expected, dtype):
    actual = np.asarray(actual)
    assert actual.dtype == np.dtype(dtype)
    np.testing.assert_allclose(actual.astype(np.float64), expected, **TOL[dtype])


def close_sums(actual, expected, dtype, n):
    """Sums of n products of unit-scale terms: their rounding grows like √n ulp."""
    actual = np.asarray(actual)
    assert actual.dtype == np.dtype(dtype)
    atol = max(TOL[dtype]["atol"], 8 * np.sqrt(n) * np.finfo(dtype).eps)
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=TOL[dtype]["rtol"],
                               atol=atol)


def grads(net):
    return {name: np.array(g) for name, _, g in net.named_parameters()}


def params(net):
    return {name: np.array(v) for name, v, _ in net.named_parameters()}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N", [1, 3])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("n_in", [1, 7, 16, 33, 64, 95, 299, "random"])
def test_linear_small_batches_against_reference(dtype, N, bias, n_in):
    """N = 1 takes the few-row dot kernel for y (linear.inc: four vectors of lanes, then single
    vectors, then a scalar tail: the widths reach each part alone and together), GEMV for dx and
    the outer product (or GER when accumulating) for dW."""
    rng = np.random.default_rng()
    n_in = int(rng.integers(1, 300)) if n_in == "random" else n_in
    n_out = int(rng.integers(1, 40))
    x = rng.standard_normal((N, n_in)).astype(dtype)
    dy = rng.standard_normal((N, n_out)).astype(dtype)
    net = mlpc.Sequential(mlpc.Linear(n_in, n_out, bias=bias), dtype=dtype,
                          seed=int(rng.integers(1 << 30)))
    W = np.array(net[0].weight)
    b = np.array(net[0].bias) if bias else np.zeros(n_out)
    close_sums(net(x), ref.linear_forward(x, W, b), dtype, n_in)
    if not bias:
        return
    rdx, rdW, rdb = ref.linear_backward(dy, x, W)
    net.zero_grad()
    close(net.backward(dy), rdx, dtype)
    close(grads(net)["0.weight"], rdW, dtype)
    close(grads(net)["0.bias"], rdb, dtype)
    net.backward(dy)          # separate backward calls accumulate
    close(grads(net)["0.weight"], 2 * rdW, dtype)
    close(grads(net)["0.bias"], 2 * rdb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_row_of_a_few_gives_the_bits_it_gives_alone(dtype):
    """Up to 8 rows through a layer too large for OpenBLAS's small-matrix GEMM (over 2^20
    multiply-adds) skip GEMM: each example's dot products are summed in the same tree alone, in
    a pair or as the odd one out, so its output bits do not depend on the batch around it."""
    rng = np.random.default_rng()
    n_in, n_out = int(rng.integers(1050, 1300)), int(rng.integers(1000, 1200))
    net = mlpc.Sequential(mlpc.Linear(n_in, n_out), dtype=dtype, seed=int(rng.integers(1 << 30)))
    net[0].bias = rng.standard_normal(n_out)
    for N in (2, 3, 5, 8):
        X = rng.standard_normal((N, n_in)).astype(dtype)
        Y = net(X)
        for i in range(N):
            np.testing.assert_array_equal(Y[i], net(X[i:i + 1])[0], err_msg=f"row {i} of {N}")
        W, b = np.array(net[0].weight), np.array(net[0].bias)
        close_sums(Y, ref.linear_forward(X, W, b), dtype, n_in)


def wide_net(dtype, seed, l2=0.0):
    """Over 3 optimizer chunks (4096 values), with tensors that cross chunk boundaries and
    per-unit gradients (batch norm γ, β; PReLU slopes) that a train_step must overwrite.
    (train_step updates each chunk inside the backward pass, once its gradients are final.)"""
    return mlpc.Sequential(mlpc.Linear(37, 150), mlpc.BatchNorm(150), mlpc.PReLU(150),
                           mlpc.Linear(150, 41), mlpc.Tanh(), mlpc.Linear(41, 9),
                           dtype=dtype, seed=seed, l2=l2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N", [1, 2, 7])
@pytest.mark.parametrize("l2", [0.0, 1e-3])
@pytest.mark.parametrize("make_opt", [lambda n: mlpc.Adam(n, lr=0.01, weight_decay=1e-2),
                                      lambda n: mlpc.SGD(n, lr=0.1, momentum=0.9),
                                      lambda n: mlpc.RMSProp(n, lr=0.01)],
                         ids=["adam", "sgd", "rmsprop"])
def test_train_step_overwrites_what_pieces_accumulate(dtype, N, l2, make_opt):
    rng = np.random.default_rng()
    seed = int(rng.integers(1 << 30))
    fused, pieces = wide_net(dtype, seed, l2), wide_net(dtype, seed, l2)
    if N == 1:   # batch norm in training mode needs two examples
        fused.eval(), pieces.eval()
    opt_f, opt_p = make_opt(fused), make_opt(pieces)
    for step in range(3):
        X = rng.standard_normal((N, 37)).astype(dtype)
        y = rng.integers(0, 9, N)
        # stale gradients from a separate call: train_step must not add to them
        pieces.zero_grad()
        c_p = pieces.cost(X, y, LOSS)
        pieces.backward(input_grad=False)
        expected = grads(pieces)
        norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in expected.values()))
        fused.cost(X, y, LOSS)
        fused.backward()
        c_f = fused.train_step(X, y, LOSS, opt_f)
        opt_p.step()
        assert c_f == pytest.approx(c_p, rel=1e-6 if dtype == "float32" else 1e-14)
        for name, g in grads(fused).items():
            np.testing.assert_array_equal(g, expected[name], err_msg=name)
        # the norm summed inside the update is the exact norm of the gradients
        assert opt_f.last_grad_norm == pytest.approx(norm, rel=1e-13)
        assert opt_f.last_grad_norm == fused.grad_norm()
        for name, v in params(fused).items():
            np.testing.assert_array_equal(v, params(pieces)[name], err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clipped_norm_over_many_chunks(dtype):
    rng = np.random.default_rng()
    net = wide_net(dtype, int(rng.integers(1 << 30)))
    opt = mlpc.SGD(net, lr=0.01, clip_norm=1e-3, clip_value=0.5)
    X, y = rng.standard_normal((5, 37)).astype(dtype) * 3, rng.integers(0, 9, 5)
    twin = net.copy()
    twin.cost(X, y, LOSS)
    twin.zero_grad()
    twin.cost(X, y, LOSS)
    twin.backward()
    g = np.concatenate([v.ravel().astype(np.float64) for v in grads(twin).values()])
    net.train_step(X, y, LOSS, opt)
    assert opt.last_grad_norm == pytest.approx(np.linalg.norm(g), rel=1e-12)
    assert net.grad_norm() == pytest.approx(1e-3, rel=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_wider_than_a_column_block(dtype):
    """Batch norm's passes walk rows a block of 256 columns at a time: 300 columns span two."""
    rng = np.random.default_rng()
    N, M = int(rng.integers(2, 9)), 300
    x = (rng.standard_normal((N, M)) * rng.uniform(0.1, 10, M) + rng.uniform(-5, 5, M))
    x = x.astype(dtype)
    dy = rng.standard_normal((N, M)).astype(dtype)
    net = mlpc.Sequential(mlpc.BatchNorm(M), dtype=dtype)
    gamma = rng.uniform(0.5, 2, M).astype(dtype)
    beta = rng.standard_normal(M).astype(dtype)
    net[0].weight, net[0].bias = gamma, beta
    yr, cache = ref.batchnorm_forward(x, gamma, beta)
    close(net(x), yr, dtype)
    net.zero_grad()
    dx = net.backward(dy)
    rdx, rdg, rdb = ref.batchnorm_backward(dy, cache)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else TOL[dtype]
    np.testing.assert_allclose(dx, rdx, **tol)
    g = grads(net)
    np.testing.assert_allclose(g["0.weight"], rdg, **tol)
    np.testing.assert_allclose(g["0.bias"], rdb, **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [1, 2, 7])
def test_predict_is_argmax_in_any_mode(dtype, K):
    rng = np.random.default_rng()
    net = mlpc.Sequential(mlpc.Linear(4, K), dtype=dtype, seed=int(rng.integers(1 << 30)))
    x = rng.standard_normal((20, 4)).astype(dtype)
    x[3] = np.nan                       # a NaN row: np.argmax takes the first NaN
    scores = net.eval()(x)
    expected = (scores[:, 0] > 0).astype(np.int64) if K == 1 else np.argmax(scores, axis=1)
    labels = net.predict(x)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, expected)
    net.train()
    np.testing.assert_array_equal(net.predict(x), expected)
    assert net.training


def test_backward_without_input_gradient():
    rng = np.random.default_rng()
    net = mlpc.Sequential(mlpc.Linear(5, 6), mlpc.ReLU(), mlpc.Linear(6, 3), dtype="float64",
                          seed=int(rng.integers(1 << 30)))
    X, y = rng.standard_normal((4, 5)), rng.integers(0, 3, 4)
    net.zero_grad()
    net.cost(X, y, LOSS)
    dx = net.backward()
    full = grads(net)
    net.zero_grad()
    net.cost(X, y, LOSS)
    assert net.backward(input_grad=False) is None
    for name, g in grads(net).items():
        np.testing.assert_array_equal(g, full[name])
    assert dx.shape == (4, 5)
    with pytest.raises(TypeError, match="input_grad"):
        net.backward(input_grad="no")
