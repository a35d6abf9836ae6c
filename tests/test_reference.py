"""Self-checks of tests/reference.py (the pure-NumPy reference that mlpc is tested against).

Every analytic derivative / backward pass is compared with central finite differences of its
own forward pass, closed forms are compared with naive textbook evaluations, and the
optimizers are checked against properties that follow from their published equations.
"""

import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

TOL = 1e-7  # relative error allowed between analytic and central-difference gradients


def rng(seed=0):
    return np.random.default_rng(seed)


def away_from_zero(r, shape, lo=1e-3, hi=4.0):
    """Samples with lo <= |x| <= hi and random sign (keeps relu-like kinks out of reach)."""
    mag = r.uniform(max(lo, 0.01), hi, size=shape)
    sign = r.choice([-1.0, 1.0], size=shape)
    return mag * sign


def check_grad(f, x, analytic, tol=TOL, eps=1e-6):
    num = ref.numerical_gradient(f, x, eps=eps)
    err = ref.relative_error(analytic, num)
    assert err < tol, f"relative error {err:.3e} >= {tol:g}"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def test_reference_does_not_import_mlpc():
    src = open(ref.__file__, encoding="utf-8").read()
    assert "import mlpc" not in src and "from mlpc" not in src


def test_numerical_gradient_known_function():
    x = rng(1).normal(size=(3, 4))
    num = ref.numerical_gradient(lambda z: np.sum(np.sin(z) * z ** 2), x)
    exact = np.cos(x) * x ** 2 + 2 * x * np.sin(x)
    assert ref.relative_error(num, exact) < 1e-8
    # the input is not modified
    x2 = x.copy()
    ref.numerical_gradient(lambda z: np.sum(z ** 3), x)
    assert np.array_equal(x, x2)


def test_relative_error_and_one_hot():
    assert ref.relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert abs(ref.relative_error([1.0, 2.0], [1.0, 2.2]) - 0.2 / 2.2) < 1e-15
    Y = ref.one_hot(np.array([2, 0]), 3)
    assert np.array_equal(Y, [[0, 0, 1], [1, 0, 0]])


# ---------------------------------------------------------------------------------------------
# dense layer
# ---------------------------------------------------------------------------------------------

def test_linear_forward_values_and_float32():
    x = np.array([[1.0, 2.0]], dtype=np.float32)
    W = np.array([[1.0, 0.0], [3.0, -1.0], [0.5, 0.5]], dtype=np.float32)
    b = np.array([0.0, 1.0, -1.0], dtype=np.float32)
    y = ref.linear_forward(x, W, b)
    assert y.dtype == np.float64
    assert np.array_equal(y, [[1.0, 2.0, 0.5]])
    assert np.array_equal(ref.linear_forward(x, W, None), [[1.0, 1.0, 1.5]])


def test_linear_backward_matches_finite_differences():
    r = rng(2)
    N, n_in, n_out = 5, 4, 3
    x, W, b = r.normal(size=(N, n_in)), r.normal(size=(n_out, n_in)), r.normal(size=n_out)
    R = r.normal(size=(N, n_out))  # J = Σ R ⊙ Y, so ∂J/∂Y = R
    dx, dW, db = ref.linear_backward(R, x, W)
    check_grad(lambda z: np.sum(R * ref.linear_forward(z, W, b)), x, dx)
    check_grad(lambda z: np.sum(R * ref.linear_forward(x, z, b)), W, dW)
    check_grad(lambda z: np.sum(R * ref.linear_forward(x, W, z)), b, db)


# ---------------------------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------------------------

EXPECTED_NAMES = {"identity", "step", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu",
                  "gelu", "gelu_tanh", "softplus", "silu", "swish", "softsign"}

ACT_CASES = [
    ("identity", {}), ("step", {}), ("sigmoid", {}), ("tanh", {}), ("relu", {}),
    ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {}), ("gelu", {}), ("gelu_tanh", {}),
    ("softplus", {}), ("softplus", {"beta": 2.0}), ("silu", {}), ("swish", {}),
    ("swish", {"beta": 1.7}), ("softsign", {}),
]


def test_activation_table_complete():
    assert set(ref.ACTIVATIONS) == EXPECTED_NAMES


@pytest.mark.parametrize("name,params", ACT_CASES)
def test_activation_derivative_matches_finite_differences(name, params):
    f, df = ref.ACTIVATIONS[name]
    x = away_from_zero(rng(3), (48,), hi=5.0)
    check_grad(lambda z: np.sum(f(z, **params)), x, df(x, **params))


@pytest.mark.parametrize("name,params", ACT_CASES)
def test_activation_float32_in_float64_out(name, params):
    f, df = ref.ACTIVATIONS[name]
    x = np.linspace(-3, 3, 7, dtype=np.float32)
    assert f(x, **params).dtype == np.float64
    assert df(x, **params).dtype == np.float64
    assert f(x, **params).shape == x.shape


def test_activation_backward_is_dy_times_derivative():
    x = away_from_zero(rng(4), (3, 5))
    dy = rng(5).normal(size=(3, 5))
    for name in ref.ACTIVATIONS:
        np.testing.assert_array_equal(ref.activation_backward(name, dy, x),
                                      dy * ref.ACTIVATIONS[name][1](x))


def test_activation_kink_conventions():
    z = np.array([0.0])
    assert ref.step(z)[0] == 0.0 and ref.step(np.array([1e-300]))[0] == 1.0
    assert ref.d_step(z)[0] == 0.0
    assert ref.relu(z)[0] == 0.0 and ref.d_relu(z)[0] == 0.0
    assert ref.d_leaky_relu(z)[0] == 0.01
    assert ref.d_leaky_relu(z, negative_slope=0.3)[0] == 0.3
    assert ref.d_elu(z)[0] == 1.0
    assert ref.d_elu(z, alpha=0.5)[0] == 0.5
    assert ref.d_selu(z)[0] == ref.SELU_LAMBDA * ref.SELU_ALPHA
    assert ref.d_relu(np.array([1e-300]))[0] == 1.0
    dx, _ = ref.prelu_backward(np.ones((1, 1)), np.zeros((1, 1)), np.array([0.25]))
    assert dx[0, 0] == 0.25


def test_activation_known_values():
    assert ref.sigmoid(np.array(0.0)) == 0.5
    assert abs(float(ref.gelu(np.array(1.0))) - 0.8413447460685429) < 1e-15
    assert abs(float(ref.gelu(np.array(-1.0))) + 0.15865525393145707) < 1e-15
    assert abs(float(ref.gelu_tanh(np.array(1.0))) - 0.8411919906082768) < 1e-15
    x = np.linspace(-4, 4, 101)
    assert np.max(np.abs(ref.gelu(x) - ref.gelu_tanh(x))) < 1e-3
    assert abs(float(ref.softplus(np.array(0.0))) - math.log(2.0)) < 1e-15
    np.testing.assert_allclose(ref.softplus(x), np.log1p(np.exp(x)), rtol=1e-14)
    np.testing.assert_allclose(ref.softplus(x, beta=2.0), np.log1p(np.exp(2 * x)) / 2, rtol=1e-14)
    np.testing.assert_allclose(ref.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(ref.silu(x), ref.swish(x, beta=1.0), rtol=0, atol=0)
    np.testing.assert_allclose(ref.selu(np.array([1.0, -1.0])),
                               [1.0507009873554805, 1.0507009873554805 * 1.6732632423543772
                                * (math.exp(-1) - 1)], rtol=1e-15)
    np.testing.assert_allclose(ref.softsign(np.array([3.0, -1.0])), [0.75, -0.5], rtol=0)
    np.testing.assert_allclose(ref.elu(np.array([-1.0, 2.0]), alpha=2.0),
                               [2 * (math.exp(-1) - 1), 2.0], rtol=1e-15)
    np.testing.assert_allclose(ref.leaky_relu(np.array([-2.0, 2.0])), [-0.02, 2.0], rtol=0)


def test_activations_finite_at_extremes():
    x = np.array([-1e4, -800.0, 800.0, 1e4])
    with np.errstate(all="raise", under="ignore"):
        for name, (f, df) in ref.ACTIVATIONS.items():
            assert np.all(np.isfinite(f(x))), name
            assert np.all(np.isfinite(df(x))), name
    np.testing.assert_array_equal(ref.sigmoid(x), [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(ref.softplus(x), [0.0, 0.0, 800.0, 1e4])


def test_prelu_per_unit_and_shared():
    r = rng(6)
    x = away_from_zero(r, (6, 4))
    dy = r.normal(size=(6, 4))
    for a in (r.uniform(0.05, 0.5, size=4), np.array([0.2])):
        y = ref.prelu_forward(x, a)
        np.testing.assert_array_equal(y, np.where(x > 0, x, a * x))
        dx, da = ref.prelu_backward(dy, x, a)
        assert da.shape == a.shape
        check_grad(lambda z: np.sum(dy * ref.prelu_forward(z, a)), x, dx)
        check_grad(lambda z: np.sum(dy * ref.prelu_forward(x, z)), a, da)


def test_swish_beta_gradient():
    r = rng(7)
    x = r.normal(size=(5, 3)) * 2
    dy = r.normal(size=(5, 3))
    for beta in (0.5, 1.0, 1.7):
        g = ref.swish_backward_beta(dy, x, beta)
        check_grad(lambda b: np.sum(dy * ref.swish(x, beta=b[0])), np.array([beta]),
                   np.array([g]))


@pytest.mark.parametrize("act,base", [("glu", "sigmoid"), ("reglu", "relu"),
                                      ("geglu", "gelu"), ("swiglu", "silu")])
def test_gated_units(act, base):
    r = rng(8)
    N, M = 4, 3
    x = away_from_zero(r, (N, 2 * M))
    dy = r.normal(size=(N, M))
    out = ref.gated_forward(x, act)
    f = ref.ACTIVATIONS[base][0]
    np.testing.assert_array_equal(out, f(x[:, :M]) * x[:, M:])
    np.testing.assert_array_equal(ref.gated_forward(x, base), out)
    dx = ref.gated_backward(dy, x, act)
    assert dx.shape == (N, 2 * M)
    check_grad(lambda z: np.sum(dy * ref.gated_forward(z, act)), x, dx)


# ---------------------------------------------------------------------------------------------
# losses and regularisation
# ---------------------------------------------------------------------------------------------

def test_softmax_rows_and_shift_invariance():
    s = rng(9).normal(size=(4, 5)) * 3
    p = ref.softmax(s)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(p, np.exp(s) / np.exp(s).sum(axis=1, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(ref.softmax(s + 1000.0), p, rtol=1e-13)
    np.testing.assert_allclose(ref.log_softmax(s), np.log(p), rtol=1e-13)


def test_softmax_cross_entropy_labels():
    r = rng(10)
    N, K = 6, 4
    s = r.normal(size=(N, K)) * 2
    y = r.integers(0, K, size=N)
    cost, dS = ref.softmax_cross_entropy(s, y)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    Y = np.eye(K)[y]
    assert abs(cost - (-np.mean(np.log(p[np.arange(N), y])))) < 1e-14
    np.testing.assert_allclose(dS, (p - Y) / N, rtol=1e-13, atol=1e-17)  # closed form p − y
    check_grad(lambda z: ref.softmax_cross_entropy(z, y)[0], s, dS)
    c2, d2 = ref.softmax_cross_entropy(s, Y)  # one-hot rows give the same thing
    assert c2 == cost
    np.testing.assert_array_equal(d2, dS)


def test_softmax_cross_entropy_soft_targets():
    r = rng(11)
    N, K = 5, 3
    s = r.normal(size=(N, K))
    Y = r.uniform(size=(N, K))
    Y /= Y.sum(axis=1, keepdims=True)
    cost, dS = ref.softmax_cross_entropy(s, Y)
    np.testing.assert_allclose(dS, (ref.softmax(s) - Y) / N, rtol=1e-14)
    check_grad(lambda z: ref.softmax_cross_entropy(z, Y)[0], s, dS)


def test_bce_with_logits():
    r = rng(12)
    N, K = 5, 3
    s = r.normal(size=(N, K)) * 2
    y = r.uniform(size=(N, K))
    cost, dS = ref.binary_cross_entropy_with_logits(s, y)
    z = 1 / (1 + np.exp(-s))
    naive = -np.sum(y * np.log(z) + (1 - y) * np.log(1 - z)) / N
    assert abs(cost - naive) < 1e-13 * abs(naive)
    np.testing.assert_allclose(dS, (z - y) / N, rtol=1e-14)  # closed form σ(a) − y
    check_grad(lambda t: ref.binary_cross_entropy_with_logits(t, y)[0], s, dS)


def test_mse():
    r = rng(13)
    yhat, y = r.normal(size=(4, 3)), r.normal(size=(4, 3))
    cost, d = ref.mse(yhat, y)
    assert abs(cost - np.sum((y - yhat) ** 2) / 8.0) < 1e-15
    np.testing.assert_allclose(d, (yhat - y) / 4, rtol=1e-15)
    check_grad(lambda t: ref.mse(t, y)[0], yhat, d)


def test_l2_penalty():
    r = rng(14)
    Ws = [r.normal(size=(3, 2)), r.normal(size=(2, 4))]
    lam = 0.03
    val, grads = ref.l2_penalty(Ws, lam)
    assert abs(val - lam * sum(np.sum(W ** 2) for W in Ws)) < 1e-15
    for i in range(2):
        def f(z, i=i):
            ws = list(Ws)
            ws[i] = z
            return ref.l2_penalty(ws, lam)[0]
        check_grad(f, Ws[i], grads[i])


def test_losses_stable_for_huge_logits():
    with np.errstate(all="raise", under="ignore"):  # exp(−2e4) → 0 is the exact limit
        s = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]])
        cost, dS = ref.softmax_cross_entropy(s, np.array([0, 0]))
        # exact limits: −log p = 0 for row 0, 2e4 for row 1; mean over N = 2
        assert cost == 1e4
        np.testing.assert_array_equal(dS, np.array([[0.0, 0.0, 0.0], [-1.0, 1.0, 0.0]]) / 2)
        cost, dS = ref.softmax_cross_entropy(-s, np.array([2, 2]))
        assert cost == 1e4 and np.all(np.isfinite(dS))
        np.testing.assert_array_equal(dS, np.array([[0.0, 1.0, -1.0], [1.0, 0.0, -1.0]]) / 2)

        s = np.array([[1e4, -1e4]])
        cost, dS = ref.binary_cross_entropy_with_logits(s, np.array([[1.0, 0.0]]))
        assert cost == 0.0
        np.testing.assert_array_equal(dS, [[0.0, 0.0]])
        cost, dS = ref.binary_cross_entropy_with_logits(s, np.array([[0.0, 1.0]]))
        assert cost == 2e4
        np.testing.assert_array_equal(dS, [[1.0, -1.0]])


# ---------------------------------------------------------------------------------------------
# batch norm and layer norm
# ---------------------------------------------------------------------------------------------

def _bn_data(seed=15, N=7, M=4):
    r = rng(seed)
    x = r.normal(size=(N, M)) * r.uniform(0.5, 3, size=M) + r.normal(size=M)
    gamma, beta = r.uniform(0.5, 2, size=M), r.normal(size=M)
    dy = r.normal(size=(N, M))
    return x, gamma, beta, dy


def test_batchnorm_forward_statistics():
    x, gamma, beta, _ = _bn_data()
    y, cache = ref.batchnorm_forward(x, None, None, eps=0.0)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose(y.var(axis=0), 1.0, rtol=1e-14)  # biased variance
    y, cache = ref.batchnorm_forward(x, gamma, beta, eps=1e-5)
    expect = gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) + beta
    np.testing.assert_allclose(y, expect, rtol=1e-14, atol=1e-15)


def test_batchnorm_backward_forms_agree_and_match_finite_differences():
    for seed, (N, M) in [(15, (7, 4)), (16, (3, 3)), (17, (32, 5))]:
        x, gamma, beta, dy = _bn_data(seed, N, M)
        eps = 1e-5
        _, cache = ref.batchnorm_forward(x, gamma, beta, eps)
        dx, dg, db = ref.batchnorm_backward(dy, cache)
        dx2, dg2, db2 = ref.batchnorm_backward_compact(dy, cache)
        assert ref.relative_error(dx, dx2) < 1e-12
        assert ref.relative_error(dg, dg2) < 1e-12
        assert ref.relative_error(db, db2) < 1e-12
        if N <= 7:
            check_grad(lambda z: np.sum(dy * ref.batchnorm_forward(z, gamma, beta, eps)[0]), x, dx)
            check_grad(lambda z: np.sum(dy * ref.batchnorm_forward(x, z, beta, eps)[0]), gamma, dg)
            check_grad(lambda z: np.sum(dy * ref.batchnorm_forward(x, gamma, z, eps)[0]), beta, db)
        # the gradient w.r.t. x is orthogonal to constants (shift invariance of BN)
        np.testing.assert_allclose(dx.sum(axis=0), 0.0, atol=1e-12)


def test_batchnorm_backward_forms_agree_for_batch_of_two():
    # With N = 2, x̂ = ±1 (up to eps) and ∂J/∂x nearly cancels to O(eps); compare the two
    # forms relative to the size of the individual terms dy·γ/√(v + ε) instead.
    x, gamma, beta, dy = _bn_data(16, 2, 3)
    _, cache = ref.batchnorm_forward(x, gamma, beta, 1e-5)
    dx, _, _ = ref.batchnorm_backward(dy, cache)
    dx2, _, _ = ref.batchnorm_backward_compact(dy, cache)
    scale = np.max(np.abs(dy * gamma / np.sqrt(cache["var"] + 1e-5)))
    assert np.max(np.abs(dx - dx2)) < 1e-12 * scale
    assert np.max(np.abs(dx)) < 1e-3 * scale


def test_batchnorm_eval_and_running_update():
    x, gamma, beta, _ = _bn_data()
    eps = 1e-5
    # eval with the batch's own (biased) stats equals training-mode output
    y_train, _ = ref.batchnorm_forward(x, gamma, beta, eps)
    y_eval = ref.batchnorm_eval(x, x.mean(0), x.var(0), gamma, beta, eps)
    np.testing.assert_allclose(y_eval, y_train, rtol=1e-13, atol=1e-14)
    rm0, rv0 = np.zeros(4), np.ones(4)
    rm, rv = ref.batchnorm_running_update(rm0, rv0, x, momentum=0.1)
    np.testing.assert_allclose(rm, 0.1 * x.mean(0), rtol=1e-14)
    np.testing.assert_allclose(rv, 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-14)  # unbiased
    assert np.array_equal(rm0, np.zeros(4)) and np.array_equal(rv0, np.ones(4))
    with pytest.raises(ValueError):
        ref.batchnorm_running_update(rm0, rv0, x[:1], momentum=0.1)


def test_layernorm():
    r = rng(18)
    N, d = 4, 6
    x = r.normal(size=(N, d)) * 3 + r.normal(size=(N, 1))
    gamma, beta = r.uniform(0.5, 2, size=d), r.normal(size=d)
    dy = r.normal(size=(N, d))
    eps = 1e-5
    y, cache = ref.layernorm_forward(x, None, None, eps=0.0)
    np.testing.assert_allclose(y.mean(axis=1), 0.0, atol=1e-15)
    np.testing.assert_allclose(y.var(axis=1), 1.0, rtol=1e-14)
    y, cache = ref.layernorm_forward(x, gamma, beta, eps)
    mu = x.mean(1, keepdims=True)
    expect = gamma * (x - mu) / np.sqrt(x.var(1, keepdims=True) + eps) + beta
    np.testing.assert_allclose(y, expect, rtol=1e-14, atol=1e-15)
    dx, dg, db = ref.layernorm_backward(dy, cache)
    check_grad(lambda z: np.sum(dy * ref.layernorm_forward(z, gamma, beta, eps)[0]), x, dx)
    check_grad(lambda z: np.sum(dy * ref.layernorm_forward(x, z, beta, eps)[0]), gamma, dg)
    check_grad(lambda z: np.sum(dy * ref.layernorm_forward(x, gamma, z, eps)[0]), beta, db)
    # layer norm of xᵀ (as batch norm over examples) gives the same numbers
    ybn, cbn = ref.batchnorm_forward(x.T, None, None, eps)
    yln, cln = ref.layernorm_forward(x, None, None, eps)
    np.testing.assert_allclose(ybn.T, yln, rtol=1e-14, atol=1e-15)
    assert ref.relative_error(ref.batchnorm_backward(dy.T, cbn)[0].T,
                              ref.layernorm_backward(dy, cln)[0]) < 1e-12


# ---------------------------------------------------------------------------------------------
# dropout and residual
# ---------------------------------------------------------------------------------------------

def test_dropout():
    r = rng(19)
    x = r.normal(size=(5, 4))
    p = 0.3
    mask = (r.uniform(size=x.shape) > p).astype(np.float64)
    y = ref.dropout_forward(x, mask, p)
    np.testing.assert_allclose(y, x * mask / 0.7, rtol=1e-15)
    dy = r.normal(size=x.shape)
    check_grad(lambda z: np.sum(dy * ref.dropout_forward(z, mask, p)), x,
               ref.dropout_backward(dy, mask, p))
    np.testing.assert_array_equal(ref.dropout_forward(x, np.ones_like(x), 0.0), x)
    np.testing.assert_array_equal(ref.dropout_forward(x, np.zeros_like(x), 1.0), 0 * x)


def test_residual():
    x = rng(20).normal(size=(3, 2))
    np.testing.assert_array_equal(ref.residual_forward(x, lambda z: 2 * z), 3 * x)
    np.testing.assert_array_equal(ref.residual_backward(x, lambda d: 2 * d), 3 * x)


# ---------------------------------------------------------------------------------------------
# optimizers
# ---------------------------------------------------------------------------------------------

def _params(seed=21):
    r = rng(seed)
    return [r.normal(size=(3, 4)), r.normal(size=5)]


def _grads_away_from_zero(seed=22):
    r = rng(seed)
    return [away_from_zero(r, (3, 4), lo=1e-2, hi=10), away_from_zero(r, (5,), lo=1e-2, hi=10)]


def test_adam_first_step_is_lr_sign_g():
    ws, gs = _params(), _grads_away_from_zero()
    lr = 1e-3
    for amsgrad in (False, True):
        new, state = ref.adam_step(ws, gs, None, lr=lr, amsgrad=amsgrad)
        assert state["t"] == 1
        for w, g, w1 in zip(ws, gs, new):
            np.testing.assert_allclose(w1 - w, -lr * np.sign(g), rtol=1e-5, atol=0)


def test_adam_constant_gradient_bias_correction():
    # with a constant g the bias-corrected moments are exactly g and g², every step moves
    # lr·g/(|g| + eps)
    ws, gs = _params(), _grads_away_from_zero()
    lr, state, cur = 0.01, None, ws
    for _ in range(10):
        cur, state = ref.adam_step(cur, gs, state, lr=lr)
    assert state["t"] == 10
    for w, g, w10 in zip(ws, gs, cur):
        np.testing.assert_allclose(w10, w - 10 * lr * g / (np.abs(g) + 1e-8), rtol=1e-12)


def test_adam_amsgrad_keeps_max_second_moment():
    w = [np.array([1.0, -1.0])]
    s_plain = s_ams = None
    wp = wa = w
    for g in ([np.array([10.0, 10.0])], [np.array([0.1, 0.1])], [np.array([0.1, 0.1])]):
        wp, s_plain = ref.adam_step(wp, g, s_plain, lr=0.1)
        wa, s_ams = ref.adam_step(wa, g, s_ams, lr=0.1, amsgrad=True)
    assert np.all(s_ams["v_max"][0] >= s_ams["v"][0])
    assert np.all(s_ams["v_max"][0] > s_plain["v"][0])
    assert np.all(np.abs(wa[0] - w[0]) < np.abs(wp[0] - w[0]))  # smaller steps with amsgrad
    # with increasing gradients amsgrad == adam
    wp = wa = w
    s_plain = s_ams = None
    for k in range(1, 4):
        g = [np.array([k * 1.0, -k * 2.0])]
        wp, s_plain = ref.adam_step(wp, g, s_plain, lr=0.1)
        wa, s_ams = ref.adam_step(wa, g, s_ams, lr=0.1, amsgrad=True)
    np.testing.assert_array_equal(wp[0], wa[0])


def test_adamw_decoupled_decay_vs_adam_coupled():
    ws = _params()
    zeros = [np.zeros_like(w) for w in ws]
    lr, wd = 0.01, 0.1
    new, _ = ref.adamw_step(ws, zeros, None, lr=lr, weight_decay=wd)
    for w, w1 in zip(ws, new):
        np.testing.assert_allclose(w1, w * (1 - lr * wd), rtol=1e-15)
    # Adam's coupled decay puts wd·w into the gradient: first step ≈ −lr·sign(w)
    new, _ = ref.adam_step(ws, zeros, None, lr=lr, weight_decay=wd)
    for w, w1 in zip(ws, new):
        np.testing.assert_allclose(w1 - w, -lr * np.sign(w), rtol=1e-5)
    # AdamW = decay then Adam on the raw gradient
    gs = _grads_away_from_zero()
    new, _ = ref.adamw_step(ws, gs, None, lr=lr, weight_decay=wd)
    for w, g, w1 in zip(ws, gs, new):
        np.testing.assert_allclose(w1, w * (1 - lr * wd) - lr * np.sign(g), rtol=1e-5)


def test_sgd_plain_and_weight_decay():
    ws, gs = _params(), _grads_away_from_zero()
    new, _ = ref.sgd_step(ws, gs, None, lr=0.1)
    for w, g, w1 in zip(ws, gs, new):
        np.testing.assert_allclose(w1, w - 0.1 * g, rtol=1e-15)
    new, _ = ref.sgd_step(ws, gs, None, lr=0.1, weight_decay=0.01)
    for w, g, w1 in zip(ws, gs, new):
        np.testing.assert_allclose(w1, w - 0.1 * (g + 0.01 * w), rtol=1e-15)


def test_sgd_momentum_lecture_form_equals_pytorch_buffer_form():
    r = rng(23)
    ws = _params()
    lr, mu, wd = 0.05, 0.9, 0.01
    cur, state = ws, None
    torch_w = [w.copy() for w in ws]
    bufs = None
    for _ in range(6):
        gs = [r.normal(size=w.shape) for w in ws]
        cur, state = ref.sgd_step(cur, gs, state, lr=lr, momentum=mu, weight_decay=wd)
        # torch.optim.SGD: g += wd·w; buf = g (first) / μ buf + g; w -= lr·buf
        gg = [g + wd * w for g, w in zip(gs, torch_w)]
        bufs = gg if bufs is None else [mu * b + g for b, g in zip(bufs, gg)]
        torch_w = [w - lr * b for w, b in zip(torch_w, bufs)]
    for a, b in zip(cur, torch_w):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_sgd_momentum_effective_learning_rate():
    # lecture: in a low-curvature region Δw → −η/(1 − μ) ∇E
    w = [np.zeros(3)]
    g = [np.array([1.0, -2.0, 0.5])]
    state = None
    for _ in range(400):
        w, state = ref.sgd_step(w, g, state, lr=0.01, momentum=0.9)
    np.testing.assert_allclose(state["delta"][0], -0.01 / 0.1 * g[0], rtol=1e-12)


def test_sgd_nesterov():
    ws, gs = _params(), _grads_away_from_zero()
    lr, mu = 0.1, 0.9
    new, state = ref.sgd_step(ws, gs, None, lr=lr, momentum=mu, nesterov=True)
    for w, g, w1 in zip(ws, gs, new):
        np.testing.assert_allclose(w1, w - lr * (1 + mu) * g, rtol=1e-14)
    new2, _ = ref.sgd_step(new, gs, state, lr=lr, momentum=mu, nesterov=True)
    for w1, g, w2 in zip(new, gs, new2):  # buf = (1 + μ)g, g' = g + μ(1 + μ)g
        np.testing.assert_allclose(w2, w1 - lr * (1 + mu + mu * mu) * g, rtol=1e-14)


def test_adagrad_constant_gradient():
    ws, gs = _params(), _grads_away_from_zero()
    lr, eps = 0.1, 1e-10
    cur, state = ws, None
    for _ in range(5):
        cur, state = ref.adagrad_step(cur, gs, state, lr=lr, eps=eps)
    for w, g, w5, G in zip(ws, gs, cur, state["sum"]):
        np.testing.assert_allclose(G, 5 * g * g, rtol=1e-15)
        expect = w - lr * sum(g / (math.sqrt(k) * np.abs(g) + eps) for k in range(1, 6))
        np.testing.assert_allclose(w5, expect, rtol=1e-13)


def test_rmsprop_first_steps():
    ws, gs = _params(), _grads_away_from_zero()
    lr, alpha, eps = 0.01, 0.99, 1e-8
    new, st = ref.rmsprop_step(ws, gs, None, lr=lr, alpha=alpha, eps=eps)
    for w, g, w1 in zip(ws, gs, new):
        np.testing.assert_allclose(w1, w - lr * g / (math.sqrt(1 - alpha) * np.abs(g) + eps),
                                   rtol=1e-14)
    # centered: v − ḡ² = α(1 − α) g²
    new, _ = ref.rmsprop_step(ws, gs, None, lr=lr, alpha=alpha, eps=eps, centered=True)
    for w, g, w1 in zip(ws, gs, new):
        np.testing.assert_allclose(
            w1, w - lr * g / (math.sqrt(alpha * (1 - alpha)) * np.abs(g) + eps), rtol=1e-12)
    # momentum: buf = μ buf + g/denom
    mu = 0.5
    w1, st = ref.rmsprop_step(ws, gs, None, lr=lr, alpha=alpha, eps=eps, momentum=mu)
    w2, st = ref.rmsprop_step(w1, gs, st, lr=lr, alpha=alpha, eps=eps, momentum=mu)
    for w, g, ww in zip(ws, gs, w2):
        d1 = math.sqrt(1 - alpha) * np.abs(g) + eps
        d2 = math.sqrt(1 - alpha ** 2) * np.abs(g) + eps  # v2 = (1 − α²) g²
        b1 = g / d1
        b2 = mu * b1 + g / d2
        np.testing.assert_allclose(ww, w - lr * b1 - lr * b2, rtol=1e-13)


OPTIMIZERS = [
    (ref.sgd_step, {"lr": 0.05}),
    (ref.sgd_step, {"lr": 0.05, "momentum": 0.9}),
    (ref.sgd_step, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (ref.adagrad_step, {"lr": 0.5}),
    (ref.rmsprop_step, {"lr": 0.01}),
    (ref.rmsprop_step, {"lr": 0.01, "momentum": 0.5, "centered": True}),
    (ref.adam_step, {"lr": 0.05}),
    (ref.adam_step, {"lr": 0.05, "amsgrad": True}),
    (ref.adamw_step, {"lr": 0.05}),
]


@pytest.mark.parametrize("step,kw", OPTIMIZERS)
def test_optimizers_minimise_quadratic_and_are_pure(step, kw):
    A = np.diag([1.0, 3.0, 10.0])
    loss = lambda w: 0.5 * w @ A @ w  # noqa: E731
    w0 = [np.array([1.0, -1.0, 0.5], dtype=np.float32)]
    cur, state = w0, None
    for _ in range(200):
        grads = [A @ cur[0].astype(np.float64)]
        frozen = [g.copy() for g in grads]
        prev_state = state
        prev_snapshot = None if state is None else {k: (v if np.isscalar(v) else
                                                         [a.copy() for a in v])
                                                     for k, v in state.items()}
        new, state = step(cur, grads, state, **kw)
        assert np.array_equal(grads[0], frozen[0])
        if prev_state is not None:
            for k, v in prev_snapshot.items():
                if np.isscalar(v):
                    assert prev_state[k] == v
                else:
                    assert all(np.array_equal(a, b) for a, b in zip(prev_state[k], v))
        cur = new
    assert cur[0].dtype == np.float64
    assert w0[0].dtype == np.float32 and np.array_equal(w0[0], [1.0, -1.0, 0.5])
    assert loss(cur[0]) < 0.05 * loss(w0[0].astype(np.float64))


# ---------------------------------------------------------------------------------------------
# clipping and schedules
# ---------------------------------------------------------------------------------------------

def test_clipping():
    gs = [np.array([3.0, 0.0]), np.array([[4.0]])]
    clipped, total = ref.clip_grad_norm(gs, 1.0)
    assert total == 5.0
    assert abs(math.sqrt(sum(np.sum(g * g) for g in clipped)) - 1.0) < 1e-6
    same, _ = ref.clip_grad_norm(gs, 10.0)
    assert all(np.array_equal(a, b) for a, b in zip(same, gs))
    cv = ref.clip_grad_value([np.array([-3.0, 0.5, 2.0])], 1.0)
    np.testing.assert_array_equal(cv[0], [-1.0, 0.5, 1.0])


def test_lr_schedules():
    assert ref.lr_linear(0, 0.1, 0.01, 100) == 0.1
    assert abs(ref.lr_linear(50, 0.1, 0.01, 100) - 0.055) < 1e-15
    assert ref.lr_linear(100, 0.1, 0.01, 100) == 0.01
    assert ref.lr_linear(500, 0.1, 0.01, 100) == 0.01
    assert abs(ref.lr_power(10, 0.1, 10, -0.5) - 0.1 / math.sqrt(2)) < 1e-15
    assert abs(ref.lr_exponential(20, 0.1, 0.5, 10) - 0.025) < 1e-15
