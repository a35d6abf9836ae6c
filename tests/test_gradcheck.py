"""Backpropagation against central finite differences (mlpc.gradcheck) on small random float64
networks through every activation, gated unit and loss, with and without biases and with an
L2 penalty; and the assertion helpers of mlpc.testing.

About the tolerance: mlpc.gradcheck reports max |a − n| / max(eps, |a| + |n|) per tensor. Central
differences of a cost J ≈ 1 carry a round-off of about 1e-16/eps ≈ 1e-11 (eps = 1e-5, which
balances round-off against the O(eps²) truncation), so an entry of the gradient smaller than about
1e-4 cannot be checked to 1e-7 by the convention alone, however right it is: gradcheck counts
entries where both gradients are within that round-off (16 ε_mach |J|/eps) as equal, so exact
zeros pass, but an entry of 1e-6 still shows a relative error near 1e-5. A wrong backward pass
gives errors of 1e-3 and more. The seeds below are fixed ones for which no gradient entry falls
into that round-off regime (and, for the kinked activations, no pre-activation lies within eps
of a kink); every configuration of a seed (4 losses × bias on/off × l2 on/off) must pass.
"""
import numpy as np
import pytest

import mlpc
from mlpc.testing import assert_gradients_close, check_function_gradient

TOL = 1e-7
EPS = 1e-5
N, D_IN, HIDDEN, K = 4, 4, 5, 3

ACTIVATIONS = {
    # smooth
    "identity": mlpc.Identity,
    "sigmoid": mlpc.Sigmoid,
    "tanh": mlpc.Tanh,
    "gelu": mlpc.GELU,
    "gelu_tanh": lambda: mlpc.GELU(approximate="tanh"),
    "softplus": mlpc.Softplus,
    "silu": mlpc.SiLU,
    "swish": lambda: mlpc.Swish(1.5),
    "swish_learnable": lambda: mlpc.Swish(0.7, learnable=True),
    "softsign": mlpc.Softsign,
    "elu": mlpc.ELU,                         # C¹ for α = 1
    # kinked at 0
    "relu": mlpc.ReLU,
    "leaky_relu": lambda: mlpc.LeakyReLU(0.1),
    "elu_0.5": lambda: mlpc.ELU(0.5),
    "selu": mlpc.SELU,
    "prelu": mlpc.PReLU,
    "prelu_per_unit": lambda: mlpc.PReLU(HIDDEN, init=0.3),
}
GATED = {"glu": mlpc.GLU, "reglu": mlpc.ReGLU, "geglu": mlpc.GEGLU, "swiglu": mlpc.SwiGLU,
         "glu_tanh": lambda: mlpc.GLU("tanh")}
KINKED = {"relu", "leaky_relu", "elu_0.5", "selu", "prelu", "prelu_per_unit", "reglu"}
LOSSES = ["labels", "probs", "bce", "mse"]
CONFIGS = [(bias, l2) for bias in (True, False) for l2 in (0.0, 0.01)]

# Fixed seeds (see the module docstring): several for the smooth units, one for the kinked ones.
SEEDS = {
    "identity": [0, 1, 2], "sigmoid": [1, 2, 6], "tanh": [0, 1, 4], "gelu": [0, 1, 6],
    "gelu_tanh": [0, 1, 6], "softplus": [1, 2, 5], "silu": [6, 7, 10], "swish": [0, 2, 3],
    "swish_learnable": [0, 2, 11], "softsign": [2, 6, 7], "elu": [1, 2, 3],
    "relu": [1], "leaky_relu": [1], "elu_0.5": [1], "selu": [0], "prelu": [1],
    "prelu_per_unit": [0],
    "glu": [8, 9, 14], "reglu": [8], "geglu": [6, 16, 17], "swiglu": [4, 6, 11],
    "glu_tanh": [7, 9, 11],
}


def loss_and_targets(kind, rng, n=N, k=K):
    if kind == "labels":
        return mlpc.SoftmaxCrossEntropy(), rng.integers(0, k, size=n)
    if kind == "probs":
        return mlpc.SoftmaxCrossEntropy(), rng.dirichlet(np.ones(k), size=n)
    if kind == "bce":
        return mlpc.BinaryCrossEntropy(), rng.uniform(size=(n, k))
    return mlpc.MSELoss(), rng.normal(size=(n, k))


def build_case(name, loss, seed, bias, l2):
    """(net, loss_fn, X, y) for one configuration."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D_IN))
    loss_fn, y = loss_and_targets(loss, rng)
    if name in GATED:
        layers = [mlpc.Linear(D_IN, 2 * HIDDEN, bias=bias), GATED[name](),
                  mlpc.Linear(HIDDEN, K, bias=bias)]
    else:
        layers = [mlpc.Linear(D_IN, HIDDEN, bias=bias), ACTIVATIONS[name](),
                  mlpc.Linear(HIDDEN, K, bias=bias)]
    net = mlpc.Sequential(*layers, dtype="float64", l2=l2, seed=100 + seed)
    return net, loss_fn, X, y


def expected_names(net):
    return {name for name, _, _ in net.named_parameters()} | {"input"}


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("name", list(ACTIVATIONS) + list(GATED))
def test_gradcheck_every_unit_and_loss(name, loss):
    for seed in SEEDS[name]:
        for bias, l2 in CONFIGS:
            net, loss_fn, X, y = build_case(name, loss, seed, bias, l2)
            errors = mlpc.gradcheck(net, loss_fn, X, y, eps=EPS)
            assert set(errors) == expected_names(net)
            if name in ("prelu", "prelu_per_unit"):
                assert "1.weight" in errors
            if name == "swish_learnable":
                assert "1.beta" in errors
            assert ("0.bias" in errors) == bias
            bad = {k: v for k, v in errors.items() if not v < TOL}
            assert not bad, f"{name} seed={seed} bias={bias} l2={l2}: {bad}"


DEEP_SEEDS = [1, 3]


@pytest.mark.parametrize("seed", DEEP_SEEDS)
def test_gradcheck_deep_mixed_network(seed):
    """Five dense layers through several different units, shared and per-unit PReLU, a learnable
    Swish and a gated unit, l2 > 0."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3, 4))
    y = rng.integers(0, 3, size=3)
    net = mlpc.Sequential(
        mlpc.Linear(4, 6), mlpc.Tanh(),
        mlpc.Linear(6, 6), mlpc.PReLU(6, init=0.2),
        mlpc.Linear(6, 8), mlpc.SwiGLU(),
        mlpc.Linear(4, 5), mlpc.Swish(1.2, learnable=True),
        mlpc.Linear(5, 3, bias=False),
        dtype="float64", l2=0.02, seed=seed)
    errors = assert_gradients_close(net, mlpc.SoftmaxCrossEntropy(), X, y, tol=TOL, eps=EPS)
    assert set(errors) == expected_names(net)


def test_gradcheck_through_step():
    """The step's derivative is 0 everywhere (away from 0): nothing before it gets a gradient,
    and finite differences agree (the cost is locally constant in those parameters)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 3))
    y = rng.integers(0, 2, size=5)
    net = mlpc.Sequential(mlpc.Linear(3, 4), mlpc.Step(), mlpc.Linear(4, 2), dtype="float64",
                          seed=1)
    errors = mlpc.gradcheck(net, mlpc.SoftmaxCrossEntropy(), X, y, eps=EPS)
    assert errors["0.weight"] == 0.0 and errors["0.bias"] == 0.0 and errors["input"] == 0.0
    assert errors["2.weight"] < TOL and errors["2.bias"] < TOL
    net.cost(X, y, mlpc.SoftmaxCrossEntropy())
    net.zero_grad()
    dx = net.backward()
    np.testing.assert_array_equal(dx, 0.0)
    g = {n: gr for n, _, gr in net.named_parameters()}
    np.testing.assert_array_equal(g["0.weight"], 0.0)
    np.testing.assert_array_equal(g["0.bias"], 0.0)
    assert np.any(g["2.weight"] != 0)


def test_gradcheck_leaves_the_network_unchanged():
    net, loss_fn, X, y = build_case("tanh", "labels", 0, True, 0.01)
    net.cost(X, y, loss_fn)
    net.backward()
    before = {n: (np.array(v), np.array(g)) for n, v, g in net.named_parameters()}
    out_before = net(X)
    net.eval()
    mlpc.gradcheck(net, loss_fn, X, y, eps=EPS)
    assert net.training is False
    for n, v, g in net.named_parameters():
        np.testing.assert_array_equal(v, before[n][0])
        np.testing.assert_array_equal(g, before[n][1])
    np.testing.assert_array_equal(net(X), out_before)


def test_gradcheck_of_a_float32_network_runs_in_float64():
    net32, loss_fn, X, y = build_case("sigmoid", "mse", 0, True, 0.0)
    net32 = net32.copy("float32")
    errors = mlpc.gradcheck(net32, loss_fn, X, y, eps=EPS)
    assert max(errors.values()) < TOL
    assert net32.dtype == "float32"


# ------------------------------------------------------------------------------------------
# mlpc.testing
# ------------------------------------------------------------------------------------------

def test_assert_gradients_close_passes_on_correct_gradients():
    net, loss_fn, X, y = build_case("gelu", "probs", 0, True, 0.01)
    errors = assert_gradients_close(net, loss_fn, X, y, tol=TOL, eps=EPS)
    assert set(errors) == expected_names(net)


def test_assert_gradients_close_catches_a_scaled_gradient(monkeypatch):
    """A backward pass whose parameter gradients come out 1% too large must be caught."""
    net, loss_fn, X, y = build_case("tanh", "labels", 0, True, 0.0)
    original = mlpc.Sequential.backward

    def scaled_backward(self, grad_output=None):
        dx = original(self, grad_output)
        for _, _, grad in self.named_parameters():
            grad *= 1.01
        return dx

    monkeypatch.setattr(mlpc.Sequential, "backward", scaled_backward)
    with pytest.raises(AssertionError, match="0.weight"):
        assert_gradients_close(net, loss_fn, X, y, tol=TOL, eps=EPS)
    errors = mlpc.gradcheck(net, loss_fn, X, y, eps=EPS)
    assert errors["0.weight"] == pytest.approx(0.01 / 2.01, rel=1e-3)   # |1.01a − a|/(2.01|a|)
    assert errors["input"] < TOL                                          # dX was not scaled


class ScaledMSE(mlpc.MSELoss):
    """A loss whose reported cost is scaled while its gradient is not: inconsistent."""

    scale = 1.5


def test_assert_gradients_close_catches_a_loss_with_inconsistent_gradient(monkeypatch):
    """A loss object subclass whose cost is scaled by 1.5 while the gradient left for backward
    is not: every gradient is off by the factor 1.5. (The C network reads only `loss_fn.kind`,
    so a Python subclass cannot change what the core computes; the scaling is applied where the
    network reports the loss, through monkeypatch.)"""
    net, _, X, y = build_case("sigmoid", "mse", 1, True, 0.0)
    original = mlpc.Sequential.cost

    def cost(self, x, targets, loss_fn):
        return original(self, x, targets, loss_fn) * getattr(loss_fn, "scale", 1.0)

    monkeypatch.setattr(mlpc.Sequential, "cost", cost)
    assert_gradients_close(net, mlpc.MSELoss(), X, y, tol=TOL, eps=EPS)   # consistent: passes
    with pytest.raises(AssertionError, match="gradient check failed"):
        assert_gradients_close(net, ScaledMSE(), X, y, tol=TOL, eps=EPS)
    errors = mlpc.gradcheck(net, ScaledMSE(), X, y, eps=EPS)
    assert min(errors.values()) == pytest.approx(0.5 / 2.5, rel=1e-4)


def test_check_function_gradient():
    x = np.random.default_rng(0).normal(size=(3, 4))
    err = check_function_gradient(lambda v: np.sum(np.sin(v) * v), lambda v: np.cos(v) * v +
                                  np.sin(v), x)
    assert err < 1e-7
    # a wrong derivative is caught
    with pytest.raises(AssertionError, match="gradient check failed"):
        check_function_gradient(lambda v: np.sum(np.sin(v) * v), lambda v: np.cos(v) * v, x)
    with pytest.raises(AssertionError):
        check_function_gradient(lambda v: np.sum(v ** 3), lambda v: 3.001 * v ** 2, x)
    # a gradient of the wrong shape
    with pytest.raises(ValueError, match="shape"):
        check_function_gradient(lambda v: np.sum(v), lambda v: np.ones(v.size), x)
    # x itself is not modified
    x0 = x.copy()
    check_function_gradient(lambda v: np.sum(v ** 2), lambda v: 2 * v, x)
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("kind", LOSSES)
def test_check_function_gradient_on_mlpc_losses(kind):
    """Each loss's own backward() against finite differences of its value."""
    rng = np.random.default_rng(3)
    loss_fn, y = loss_and_targets(kind, rng, n=5, k=4)
    s = rng.normal(size=(5, 4))

    def grad(v):
        loss_fn(v, y)
        return loss_fn.backward()

    assert check_function_gradient(lambda v: loss_fn(v, y), grad, s, eps=EPS) < TOL


def test_an_exact_zero_gradient_passes():
    """A bias before batch normalization has gradient exactly 0 (the normalization removes any
    shift); its finite differences are pure round-off, which the check must not call an error."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    net = mlpc.Sequential(mlpc.Linear(4, 6), mlpc.BatchNorm(6), mlpc.Tanh(),
                          mlpc.Dropout(0.4, seed=3), mlpc.Linear(6, 3), seed=0, dtype="float64")
    net.cost(X, y, mlpc.SoftmaxCrossEntropy())
    net.zero_grad()
    net.backward()
    bias_grad = dict((n, g) for n, _, g in net.named_parameters())["0.bias"]
    assert np.abs(bias_grad).max() < 1e-15
    errors = assert_gradients_close(net, mlpc.SoftmaxCrossEntropy(), X, y, tol=1e-7)
    assert errors["0.bias"] == 0.0
    # a gradient beyond the round-off is still held to the convention
    from mlpc.gradcheck import _relative_error
    assert _relative_error(np.array([0.0]), np.array([1e-6]), 1e-6, 1e-9)[0] == 1.0
    assert _relative_error(np.array([1e-9]), np.array([2e-9]), 1e-6, 1e-9)[0] > 0


def test_small_but_wrong_gradients_are_still_caught():
    """A function whose values are all tiny has a tiny round-off too: a gradient off by 2 fails."""
    x = np.random.default_rng(0).standard_normal(5)
    with pytest.raises(AssertionError, match="gradient check failed"):
        check_function_gradient(lambda v: 1e-9 * np.sum(v ** 2), lambda v: 1e-9 * v, x)
    check_function_gradient(lambda v: 1e-9 * np.sum(v ** 2), lambda v: 2e-9 * v, x)
