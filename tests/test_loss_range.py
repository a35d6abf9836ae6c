"""The losses are exact for every finite logit, up to the dtype's largest finite value (issue 11,
item 2). Oracles: closed forms (tied logits give log K) and the shift invariance of softmax — a
row c + d, with c huge and d small offsets exactly representable beside c, has the softmax and
the cross-entropy of d alone, which the NumPy reference computes at small scale."""
import math
import os
import sys

import numpy as np
import pytest

import mlpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

DTYPES = ["float32", "float64"]
CE, BCE, MSE = mlpc.SoftmaxCrossEntropy(), mlpc.BinaryCrossEntropy(), mlpc.MSELoss()


def eps(dtype):
    return float(np.finfo(dtype).eps)


def magnitudes(dtype, rng, count):
    """count random magnitudes log-uniform from 1 up to the dtype's largest finite value."""
    top = math.log2(float(np.finfo(dtype).max))
    m = 2.0 ** rng.uniform(0, top, count)
    return np.concatenate([m.astype(dtype), [np.finfo(dtype).max]]).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tied_logits_give_log_k_at_every_magnitude(dtype):
    rng = np.random.default_rng()
    for c in magnitudes(dtype, rng, 30):
        for sign in (1, -1):
            N, K = int(rng.integers(1, 5)), int(rng.integers(2, 40))
            s = np.full((N, K), sign * c, dtype=dtype)
            p = mlpc.softmax(s)
            assert p.dtype == np.dtype(dtype)
            np.testing.assert_allclose(p, 1.0 / K, rtol=4 * eps(dtype), err_msg=f"c = {c}")
            y = rng.integers(0, K, N)
            assert CE(s, y) == pytest.approx(math.log(K), rel=1e-15, abs=0), f"c = {sign * c}"
            expected = (1.0 / K - np.eye(K)[y]) / N
            np.testing.assert_allclose(CE.backward(), expected, rtol=8 * eps(dtype),
                                       atol=4 * eps(dtype) / N)
            T = rng.dirichlet(np.ones(K), N).astype(dtype)    # soft targets
            total = T.astype(np.float64).sum() / N              # Σ t, as the float rows sum
            assert CE(s, T) == pytest.approx(math.log(K) * total, rel=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
def test_near_tied_logits_match_the_softmax_of_their_offsets(dtype):
    """s = c + j·ulp(c): the offsets j·ulp(c) (small integers j) are exact beside c, and softmax
    only sees them. At c ≈ 1e17 in float64 (ulp 16) they are e^-16 apart: 1e15-scale logits
    summed to 0.97 before the fix."""
    rng = np.random.default_rng()
    info = np.finfo(dtype)
    for _ in range(60):
        # binades from where ulp ≈ 1 (the interesting ones) up to the largest
        e = int(rng.choice([rng.integers(info.nmant - 2, info.nmant + 6),
                            rng.integers(info.nmant, info.maxexp - 1)]))
        c = np.ldexp(1.0 + rng.integers(0, 2**20) / 2**21, e)   # mantissa in [1, 1.5)
        ulp = math.ldexp(1.0, e - info.nmant)
        N, K = int(rng.integers(1, 4)), int(rng.integers(2, 12))
        j = rng.integers(-4, 5, (N, K))
        s = (np.float64(c) + j * ulp).astype(dtype)
        d = j * ulp                                              # the offsets, exact
        assert np.array_equal(s.astype(np.float64) - np.float64(c), d)
        sign = rng.choice([1, -1])
        s, d = (sign * s).astype(dtype), sign * d
        with np.errstate(over="ignore", under="ignore"):
            p_ref, logp_ref = ref.softmax(d), ref.log_softmax(d)
        np.testing.assert_allclose(mlpc.softmax(s), p_ref, rtol=8 * eps(dtype),
                                   atol=float(info.tiny) * 4, err_msg=f"c = {c}, j = {j}")
        y = rng.integers(0, K, N)
        expected = -logp_ref[np.arange(N), y].mean()
        assert CE(s, y) == pytest.approx(expected, rel=1e-13, abs=1e-300), f"c = {c}, j = {j}"
        np.testing.assert_allclose(CE.backward(), (p_ref - np.eye(K)[y]) / N,
                                   rtol=8 * eps(dtype), atol=4 * eps(dtype) / N)


def test_the_examples_of_the_issue():
    big = np.full((1, 3), 1e17)
    np.testing.assert_allclose(mlpc.softmax(big), [[1 / 3] * 3], rtol=1e-15)
    assert CE(big, [0]) == pytest.approx(math.log(3), rel=1e-15)
    rows = mlpc.softmax(1e15 + np.random.default_rng().integers(-3, 4, (50, 7)).astype(float))
    np.testing.assert_allclose(rows.sum(1), 1, rtol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logits_at_the_largest_finite_value(dtype):
    M = float(np.finfo(dtype).max)
    s = np.array([[M, -M, M], [-M, -M, -M], [M, -M, -M]], dtype=dtype)
    expected = np.array([[0.5, 0, 0.5], [1 / 3] * 3, [1, 0, 0]], dtype=dtype)   # rounded
    np.testing.assert_array_equal(mlpc.softmax(s), expected)
    assert CE(s[:1], [0]) == pytest.approx(math.log(2), rel=1e-15)
    assert CE(s[2:], [0]) == 0.0
    g = CE.backward()
    assert np.isfinite(g).all()
    # the label's logit 2M below the max: the cost 2M + log 2 is finite in double for float32
    # logits, and beyond DBL_MAX for float64 ones (inf is its correct rounding, never NaN)
    expected = 2 * M + math.log(2) if dtype == "float32" else math.inf
    assert CE(s[:1], [1]) == expected
    # a target of 0 on a logit infinitely far below costs nothing (not 0 · inf = NaN)
    assert CE(s[2:], np.array([[1, 0, 0]], dtype=dtype)) == 0.0
    assert CE(s[:1], np.array([[0.5, 0, 0.5]], dtype=dtype)) == pytest.approx(math.log(2))
    assert np.isfinite(CE.backward()).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_is_exact_for_huge_logits(dtype):
    """For |s| ≥ 64, log(1 + e^-|s|) = e^-|s| to double precision: the cost is s (1 − y) + e^-s
    for s > 0 and −s y + e^s for s < 0 (the former max(s, 0) − s y lost the digits of 1 − y for y
    near 1 to cancellation: 1e17 (1 − y) to 6 digits for y = 1 − 1e-10)."""
    rng = np.random.default_rng()
    for c in magnitudes(dtype, rng, 40):
        if c < 64:
            continue
        # one output each: at c = DBL_MAX a sum of several such costs exceeds DBL_MAX
        for y in [0, 1, 0.5, 1 - 1e-7, rng.uniform(), 1 - rng.uniform() * 1e-6]:
            y = np.full((1, 1), y, dtype)
            yd = float(y[0, 0])
            for sign in (1, -1):
                s = np.full((1, 1), sign * c, dtype=dtype)
                sd = float(s[0, 0])
                expected = (sd * (1 - yd) if sign > 0 else -sd * yd) + math.exp(-abs(sd))
                assert BCE(s, y) == pytest.approx(expected, rel=1e-15), f"s = {sd}, y = {yd}"
                np.testing.assert_allclose(BCE.backward(), (sign > 0) - yd,
                                           rtol=4 * eps(dtype), atol=4 * eps(dtype))


def test_mse_is_exact_at_the_largest_float32_value():
    M = float(np.finfo(np.float32).max)
    pred = np.array([[M, -M]], dtype=np.float32)
    assert MSE(pred, np.array([[-M, M]], dtype=np.float32)) == pytest.approx(4 * M * M,
                                                                             rel=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_network_cost_and_train_step_use_the_exact_losses(dtype):
    """Exploding activations: a Linear whose bias puts every logit at 1e17 (or at the largest
    float32)."""
    c = 1e17 if dtype == "float64" else float(np.finfo(np.float32).max)
    net = mlpc.Sequential(mlpc.Linear(2, 4), dtype=dtype, seed=0)
    net[0].weight[...] = 0
    net[0].bias[...] = c
    X, y = np.ones((3, 2)), np.array([0, 3, 1])
    assert net.cost(X, y, CE) == pytest.approx(math.log(4), rel=1e-15)
    np.testing.assert_allclose(net.predict_proba(X), 0.25, rtol=4 * eps(dtype))
    opt = mlpc.SGD(net, 0.0)
    assert net.train_step(X, y, CE, opt) == pytest.approx(math.log(4), rel=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
def test_predict_proba_of_one_output_is_stable_for_huge_scores(dtype):
    import warnings
    M = float(np.finfo(dtype).max)
    net = mlpc.Sequential(mlpc.Linear(1, 1), dtype=dtype, seed=0)
    net[0].weight[...] = 1
    net[0].bias[...] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no overflow in exp
        p = net.predict_proba(np.array([[-M], [-1e4], [0], [1e4], [M]]))
    np.testing.assert_array_equal(p.ravel(), [0, 0, 0.5, 1, 1])
