"""mlpc.gradcheck and mlpc.testing: correct networks pass, wrong gradients are caught and located.

The random networks are drawn from a seed that is new on every run (printed with any failure, so
a failing case can be rebuilt): depth 1-6, widths 1-40, every activation including the gated
ones, BatchNorm, LayerNorm, Dropout and Residual blocks, L2 on and off, every loss. Each passes
the default (directional) check at tol = 1e-7 and, when small enough, the elementwise check of
every entry; ReLU-family units may put entries on a kink, which are reported, never failed.
"""
import contextlib
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest

import mlpc
from mlpc import _core
from mlpc.gradcheck import function_gradcheck
from mlpc.testing import assert_gradients_close, check_function_gradient

TOL = 1e-7
NETS = 320
ELEMENTWISE_BELOW = 400     # parameters + input entries for the every-entry check


def fresh_seed():
    return int.from_bytes(os.urandom(8), "little")


SMOOTH = {
    "identity": mlpc.Identity, "sigmoid": mlpc.Sigmoid, "tanh": mlpc.Tanh, "gelu": mlpc.GELU,
    "gelu_tanh": lambda: mlpc.GELU(approximate="tanh"), "softplus": mlpc.Softplus,
    "silu": mlpc.SiLU, "swish": lambda: mlpc.Swish(1.5),
    "swish_learnable": lambda: mlpc.Swish(0.7, learnable=True), "softsign": mlpc.Softsign,
    "elu": mlpc.ELU,
}
KINKED = {
    "relu": mlpc.ReLU, "leaky_relu": lambda: mlpc.LeakyReLU(0.1), "elu_0.5": lambda: mlpc.ELU(0.5),
    "selu": mlpc.SELU, "prelu": mlpc.PReLU, "prelu_per_unit": "per unit", "step": mlpc.Step,
}
GATED = {"glu": mlpc.GLU, "reglu": mlpc.ReGLU, "geglu": mlpc.GEGLU, "swiglu": mlpc.SwiGLU,
         "glu_tanh": lambda: mlpc.GLU("tanh")}
UNITS = list(SMOOTH) + list(KINKED) + list(GATED)
LOSSES = ["labels", "probs", "bce", "mse"]


def unit(name, width):
    if name == "prelu_per_unit":
        return mlpc.PReLU(width, init=0.3)
    return {**SMOOTH, **KINKED}[name]()


def loss_and_targets(kind, rng, n, k):
    if kind == "labels":
        return mlpc.SoftmaxCrossEntropy(), rng.integers(0, k, size=n)
    if kind == "probs":
        return mlpc.SoftmaxCrossEntropy(), rng.dirichlet(np.ones(k), size=n)
    if kind == "bce":
        return mlpc.BinaryCrossEntropy(), rng.uniform(size=(n, k))
    return mlpc.MSELoss(), rng.normal(size=(n, k))


def random_case(rng, units=None):
    """(net, loss_fn, X, y, units used): a random float64 network and batch."""
    depth = int(rng.integers(1, 7))
    width = d_in = int(rng.integers(1, 41))
    loss = LOSSES[rng.integers(len(LOSSES))]
    k = int(rng.integers(2 if loss == "labels" else 1, 6))
    layers, used = [], []
    for _ in range(depth - 1):
        name = units[rng.integers(len(units))] if units else UNITS[rng.integers(len(UNITS))]
        used.append(name)
        w = int(rng.integers(1, 41))
        bias = bool(rng.integers(2))
        if name in GATED:
            layers += [mlpc.Linear(width, 2 * w, bias=bias), GATED[name]()]
        else:
            layers.append(mlpc.Linear(width, w, bias=bias))
            norm = rng.integers(4)
            if (norm == 2 and w < 3) or width == 1:
                # degenerate, as below: a layer normalization of 1 or 2 units, or any
                # normalization of x·w + b for a single input x (it sees little but x's sign)
                norm = 0
            if norm == 1:
                layers.append(mlpc.BatchNorm(w, affine=bool(rng.integers(2))))
            elif norm == 2:
                layers.append(mlpc.LayerNorm(w, affine=bool(rng.integers(2))))
            layers.append(unit(name, w))
        if rng.integers(3) == 0:
            layers.append(mlpc.Dropout(float(rng.uniform(0.1, 0.5))))
        if rng.integers(4) == 0:
            inner = "tanh" if name in GATED else name
            block = [mlpc.Linear(w, w), unit(inner, w)] + ([mlpc.LayerNorm(w)]
                                                             if w >= 3 and rng.integers(2)
                                                             else [])
            layers.append(mlpc.Residual(*block))
        width = w
    layers.append(mlpc.Linear(width, k, bias=bool(rng.integers(2))))
    net = mlpc.Sequential(*layers, dtype="float64", l2=float(rng.choice([0.0, 0.01])),
                          seed=int(rng.integers(2 ** 31)))
    if rng.integers(5) == 0:
        net.eval()
    # batch normalization of two examples (or layer normalization of two units) outputs ±1
    # whatever its input (up to eps): its cost is so ill-conditioned that no finite difference
    # in float64 is exact; three and more are fine
    n = int(rng.integers(3 if net.training and any(isinstance(layer, mlpc.BatchNorm) for _, layer
                                                   in net.named_layers()) else 2, 9))
    X = rng.normal(size=(n, d_in))
    loss_fn, y = loss_and_targets(loss, rng, n, k)
    return net, loss_fn, X, y, used


def names(net):
    return [name for name, _, _ in net.named_parameters()] + ["input"]


def test_random_correct_networks_pass():
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    worst, elementwise = 0.0, 0
    for i in range(NETS):
        net, loss_fn, X, y, used = random_case(rng)
        where = f"run seed {seed}, network {i} ({used}, {type(loss_fn).__name__}):\n{net!r}\n"
        result = mlpc.gradcheck(net, loss_fn, X, y, tol=TOL, seed=int(rng.integers(2 ** 31)))
        assert isinstance(result, dict) and list(result) == names(net), where
        assert result.passed, where + repr(result)
        worst = max(worst, max(result.values()))
        if result.kinks:
            assert set(used) & (set(KINKED) | {"reglu"}), where + repr(result)
        if net.num_params + X.size <= ELEMENTWISE_BELOW:
            elementwise += 1
            result = mlpc.gradcheck(net, loss_fn, X, y, entries="all", tol=TOL)
            assert result.passed, where + repr(result)
    print(f"{NETS} random networks (seed {seed}): worst directional error {worst:.2e}; "
          f"{elementwise} also checked entry by entry")
    assert elementwise > NETS // 10


def test_smooth_networks_are_exact_to_round_off():
    """Without kinks, the directional check's error of a correct network is ~1e-10, far below
    the tolerance: the median over random smooth networks is below 1e-9."""
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(40):
        net, loss_fn, X, y, _ = random_case(rng, units=list(SMOOTH))
        errors += list(mlpc.gradcheck(net, loss_fn, X, y).values())
    assert np.median(errors) < 1e-9, seed


def test_gradcheck_through_step():
    """The step's derivative is 0 everywhere but at 0: nothing before it gets a gradient, and
    the cost is locally constant in those parameters."""
    rng = np.random.default_rng(fresh_seed())
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 2, size=5)
    net = mlpc.Sequential(mlpc.Linear(3, 4), mlpc.Step(), mlpc.Linear(4, 2), dtype="float64")
    result = mlpc.gradcheck(net, mlpc.SoftmaxCrossEntropy(), X, y)
    assert result.passed, result
    assert result["0.weight"] == result["0.bias"] == result["input"] == 0.0


def test_gradcheck_leaves_the_network_unchanged():
    rng = np.random.default_rng(fresh_seed())
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    net = mlpc.Sequential(mlpc.Linear(4, 5), mlpc.BatchNorm(5), mlpc.Tanh(), mlpc.Dropout(0.3),
                          mlpc.Linear(5, 3), dtype="float64", l2=0.01)
    net.cost(X, y, mlpc.SoftmaxCrossEntropy())
    net.backward()
    before = {n: (np.array(v), np.array(g)) for n, v, g in net.named_parameters()}
    buffers = {n: np.array(b) for n, b in net.named_buffers()}
    streams = net._core.rng_state(net[3]._index)
    mlpc.gradcheck(net, mlpc.SoftmaxCrossEntropy(), X, y, entries=5)
    for n, v, g in net.named_parameters():
        np.testing.assert_array_equal(v, before[n][0])
        np.testing.assert_array_equal(g, before[n][1])
    for n, b in net.named_buffers():
        np.testing.assert_array_equal(b, buffers[n])
    assert net._core.rng_state(net[3]._index) == streams and net.training


def test_a_float32_network_is_checked_in_float64():
    rng = np.random.default_rng(fresh_seed())
    X, y = rng.normal(size=(4, 5)), rng.normal(size=(4, 2))
    net32 = mlpc.Sequential(mlpc.Linear(5, 6), mlpc.GELU(), mlpc.Linear(6, 2))
    result = mlpc.gradcheck(net32, mlpc.MSELoss(), X.astype(np.float32), y)
    assert result.passed and max(result.values()) < 1e-8, result
    assert net32.dtype == "float32"


def test_dropout_masks_stay_fixed():
    """Every perturbed evaluation draws the masks of the analytic pass: with fresh masks the
    finite differences would be of a different function and the check would fail."""
    rng = np.random.default_rng(fresh_seed())
    X, y = rng.normal(size=(8, 6)), rng.integers(0, 3, size=8)
    net = mlpc.Sequential(mlpc.Linear(6, 10), mlpc.Tanh(), mlpc.Dropout(0.5), mlpc.Linear(10, 3),
                          dtype="float64")
    result = assert_gradients_close(net, mlpc.SoftmaxCrossEntropy(), X, y, entries="all")
    assert max(result.values()) < 1e-8, result


# ------------------------------------------------------------------------------------------
# kinks and zeros
# ------------------------------------------------------------------------------------------

def test_entries_at_a_relu_kink_are_reported_not_failed():
    """An input row of zeros puts every unit of a bias-free ReLU layer exactly at 0 for that
    example: its input entries sit on kinks (one-sided derivatives differ), whose analytic
    derivative is the branch x <= 0 (zero)."""
    rng = np.random.default_rng(fresh_seed())
    X, y = rng.normal(size=(4, 3)), rng.integers(0, 2, size=4)
    X[2] = 0.0
    net = mlpc.Sequential(mlpc.Linear(3, 5, bias=False), mlpc.ReLU(), mlpc.Linear(5, 2),
                          dtype="float64")
    for entries in (None, "all"):
        result = mlpc.gradcheck(net, mlpc.SoftmaxCrossEntropy(), X, y, entries=entries)
        assert result.passed, result
        kinks = result.kinks["input"]
        assert {k.index for k in kinks} <= {(2, 0), (2, 1), (2, 2)} and kinks
        for k in kinks:
            assert k.analytic == 0.0 and abs(k.left - k.right) > 1e-6
        assert "kink, not an error" in repr(result)


def test_an_exact_zero_gradient_passes():
    """A bias before batch normalization has gradient 0 (up to round-off); its finite
    differences are pure round-off, which the check must not call an error."""
    rng = np.random.default_rng(fresh_seed())
    X, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    net = mlpc.Sequential(mlpc.Linear(4, 6), mlpc.BatchNorm(6), mlpc.Tanh(),
                          mlpc.Dropout(0.4), mlpc.Linear(6, 3), dtype="float64")
    for entries in (None, "all"):
        result = assert_gradients_close(net, mlpc.SoftmaxCrossEntropy(), X, y, entries=entries)
        assert result["0.bias"] == 0.0


def test_small_but_wrong_gradients_are_still_caught():
    """A function whose values are all tiny has a tiny round-off too: a gradient off by 2
    fails."""
    x = np.random.default_rng(fresh_seed()).standard_normal(5)
    check_function_gradient(lambda v: 1e-9 * np.sum(v ** 2), lambda v: 2e-9 * v, x)
    with pytest.raises(AssertionError, match="FAILED"):
        check_function_gradient(lambda v: 1e-9 * np.sum(v ** 2), lambda v: 1e-9 * v, x)


# ------------------------------------------------------------------------------------------
# wrong gradients are caught and located
# ------------------------------------------------------------------------------------------

def test_one_wrong_entry_of_a_student_gradient_is_named():
    """A hand-written gradient of a 50×30 matrix off by 1e-4 (relative) in one entry. (The
    directional check weighs errors against the whole tensor's gradient: an entry at least as
    large as the gradient's RMS value; the elementwise check finds any.)"""
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    A, W = rng.normal(size=(50, 30)), rng.normal(size=(50, 30))

    def loss(w):
        return np.sum(np.log1p(np.exp(w * A))) + 0.5 * np.sum(w ** 2)

    def grad(w):
        return A / (1 + np.exp(-w * A)) + w

    def wrong(w):
        g = grad(w)
        g[i, j] *= 1 + 1e-4
        return g

    g = grad(W)
    big = np.flatnonzero(np.abs(g).ravel() >= np.sqrt(np.mean(g ** 2)))
    i, j = (int(k) for k in np.unravel_index(rng.choice(big), g.shape))
    assert check_function_gradient(loss, grad, W).passed
    with pytest.raises(AssertionError, match=re.escape(f"x[{i}, {j}]")) as info:
        check_function_gradient(loss, wrong, W)
    report = str(info.value)
    assert "FAILED" in report and "analytic" in report and "numeric" in report, seed
    result = function_gradcheck(loss, wrong, W)
    worst = result.failures["x"][0]
    assert worst.index == (i, j), seed
    assert worst.error == pytest.approx(1e-4 / (2 + 1e-4), rel=1e-3)
    assert worst.analytic == pytest.approx(wrong(W)[i, j], rel=1e-12)
    # the elementwise check finds it too
    result = function_gradcheck(loss, wrong, W, entries="all")
    assert [e.index for e in result.failures["x"]] == [(i, j)]


@pytest.fixture
def perturbed_backward(monkeypatch):
    """A test-only network whose backward pass alters one entry of one gradient afterwards."""
    where = {}
    original = mlpc.Sequential.backward

    def backward(self, grad_output=None):
        dx = original(self, grad_output)
        if not where:
            return dx
        if where["tensor"] == "input":
            dx[where["index"]] *= 1 + where["by"]
        else:
            grad = dict((n, g) for n, _, g in self.named_parameters())[where["tensor"]]
            grad[where["index"]] *= 1 + where["by"]
        return dx

    monkeypatch.setattr(mlpc.Sequential, "backward", backward)
    return where


def test_a_perturbed_network_gradient_is_caught_and_located(perturbed_backward):
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    for _ in range(12):
        X, y = rng.normal(size=(6, 7)), rng.integers(0, 4, size=6)
        net = mlpc.Sequential(mlpc.Linear(7, 12), mlpc.Tanh(), mlpc.Linear(12, 9),
                              mlpc.LayerNorm(9), mlpc.SiLU(), mlpc.Linear(9, 4), dtype="float64",
                              l2=0.01, seed=int(rng.integers(2 ** 31)))
        perturbed_backward.clear()
        net.cost(X, y, mlpc.SoftmaxCrossEntropy())
        dx = net.backward()
        grads = {n: np.array(g) for n, _, g in net.named_parameters()}
        grads["input"] = dx
        name = list(grads)[rng.integers(len(grads))]
        g = grads[name]
        big = np.flatnonzero(np.abs(g).ravel() >= np.sqrt(np.mean(g ** 2)))
        index = np.unravel_index(rng.choice(big), g.shape)
        perturbed_backward.update(tensor=name, index=index, by=1e-3)
        with pytest.raises(AssertionError, match=re.escape(name)):
            assert_gradients_close(net, mlpc.SoftmaxCrossEntropy(), X, y)
        result = mlpc.gradcheck(net, mlpc.SoftmaxCrossEntropy(), X, y)
        assert set(result.failures) == {name}, (seed, result)
        assert result.failures[name][0].index == tuple(int(i) for i in index), (seed, result)
        assert result.failures[name][0].error == pytest.approx(1e-3 / (2 + 1e-3), rel=1e-2)
        assert result[name] >= result.failures[name][0].error


def test_a_scaled_gradient_fails_every_parameter(monkeypatch):
    rng = np.random.default_rng(fresh_seed())
    X, y = rng.normal(size=(4, 4)), rng.integers(0, 3, size=4)
    net = mlpc.Sequential(mlpc.Linear(4, 5), mlpc.Tanh(), mlpc.Linear(5, 3), dtype="float64")
    original = mlpc.Sequential.backward

    def scaled_backward(self, grad_output=None):
        dx = original(self, grad_output)
        for _, _, grad in self.named_parameters():
            grad *= 1.01
        return dx

    monkeypatch.setattr(mlpc.Sequential, "backward", scaled_backward)
    result = mlpc.gradcheck(net, mlpc.SoftmaxCrossEntropy(), X, y)
    assert not result.passed and set(result.failures) == {"0.weight", "0.bias", "2.weight",
                                                          "2.bias"}
    assert result["0.weight"] == pytest.approx(0.01 / 2.01, rel=1e-3)   # |1.01a − a|/(2.01|a|)
    assert result["input"] < TOL                                          # dX was not scaled


def test_check_function_gradient_on_mlpc_losses():
    """Each loss's own backward() against finite differences of its value."""
    rng = np.random.default_rng(fresh_seed())
    for kind in LOSSES:
        loss_fn, y = loss_and_targets(kind, rng, 5, 4)
        s = rng.normal(size=(5, 4))

        def grad(v):
            loss_fn(v, y)
            return loss_fn.backward()

        result = check_function_gradient(lambda v: loss_fn(v, y), grad, s, entries="all")
        assert max(result.values()) < 1e-8, (kind, result)


# ------------------------------------------------------------------------------------------
# the result and the arguments
# ------------------------------------------------------------------------------------------

def test_the_result_reads_as_a_report():
    rng = np.random.default_rng(fresh_seed())
    X, y = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    net = mlpc.Sequential(mlpc.Linear(2, 3), mlpc.Sigmoid(), mlpc.Linear(3, 1), dtype="float64")
    result = mlpc.gradcheck(net, mlpc.MSELoss(), X, y)
    text = repr(result)
    assert text.startswith("gradcheck passed (directional, tol 1e-07")
    for name in names(net):
        assert re.search(rf"^  {re.escape(name)} +\d\.\de[-+]\d\d$", text, re.M), text
    assert text in result._repr_html_()
    assert result.mode == "directional" and result.evaluations > 0 and result.seconds >= 0
    assert dict(result) == {k: result[k] for k in names(net)}


def test_bad_arguments_are_refused():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    net = mlpc.Sequential(mlpc.Linear(2, 1), dtype="float64")
    for bad in ({"entries": "some"}, {"entries": 0}, {"entries": 2.5}, {"tol": 0},
                {"tol": "1e-7"}, {"directions": 0}, {"eps": 2.0}):
        with pytest.raises(ValueError):
            mlpc.gradcheck(net, mlpc.MSELoss(), X, y, **bad)
    with pytest.raises(ValueError, match="shape"):
        check_function_gradient(lambda v: np.sum(v), lambda v: np.ones(v.size), X)
    with pytest.raises(ValueError, match="scalar"):
        check_function_gradient(lambda v: v, lambda v: np.ones_like(v), X)


def test_line_costs_evaluates_the_perturbed_points():
    """The core's loop against perturbing by hand and calling net.cost; the tensor and the
    input come back bit for bit; bad arguments raise."""
    rng = np.random.default_rng(fresh_seed())
    X, y = rng.normal(size=(4, 3)), rng.integers(0, 2, size=4)
    net = mlpc.Sequential(mlpc.Linear(3, 4), mlpc.ReLU(), mlpc.Linear(4, 2), dtype="float64")
    loss_fn = mlpc.SoftmaxCrossEntropy()
    W = net[0].weight
    # one ReLU input exactly on its kink (a zero bias, 0.5 − 0.5 and 0 · w), which index 1, W[0, 1],
    # moves: the case bit 2 reports
    X[0], W[0, :2] = [1.0, 1.0, 0.0], [0.5, -0.5]
    W0, X0 = W.copy(), X.copy()
    start, index, value = np.array([0, 2, 3]), np.array([1, 7, 4]), np.array([0.5, -1.0, 2.0])
    steps = rng.normal(size=(2, 3))   # large enough to move some ReLU inputs across 0
    base, costs, radius, crossed = _core.line_costs(net._core, X, y, loss_fn.kind, 0, start,
                                                    index, value, steps)
    np.testing.assert_array_equal(W, W0)
    np.testing.assert_array_equal(X, X0)
    assert base == net.cost(X, y, loss_fn)
    for d in range(2):
        for k in range(3):
            W[...] = W0
            flat = W.reshape(-1)
            sl = slice(start[d], start[d + 1])
            flat[index[sl]] += steps[d, k] * value[sl]
            assert costs[d, k] == net.cost(X, y, loss_fn)
            z = np.array(net[0].output)
            W[...] = W0
            net(X)
            z0 = np.array(net[0].output)
            assert crossed[d, k] & 1 == bool(np.any((z > 0) != (z0 > 0)))
            assert bool(crossed[d, k] & 2) == bool(np.any((z0 == 0) & (z != z0)))   # ReLU
    assert radius.shape == crossed.shape == (2, 3)
    assert (crossed[0] & 2).all()   # the pinned input, moved along every step of direction 0
    with pytest.raises(ValueError):
        _core.line_costs(net._core, X, y, loss_fn.kind, 0, start, np.array([1, 7, 12]), value,
                         steps)
    with pytest.raises(IndexError):
        _core.line_costs(net._core, X, y, loss_fn.kind, 9, start, index, value, steps)
    with pytest.raises(ValueError):
        _core.line_costs(net._core, X, y, loss_fn.kind, 0, np.array([0, 2]), index, value, steps)


# ------------------------------------------------------------------------------------------
# the README example
# ------------------------------------------------------------------------------------------

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_gradcheck_example():
    """(code, shown output) of the README's gradient-check example."""
    text = README.read_text()
    section = text[text.index("### Gradient checking"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    return code, shown


def test_the_readme_example_is_what_it_shows():
    code, shown = readme_gradcheck_example()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {})
    printed = out.getvalue()
    row = re.compile(r"^  (\S+) +(\d\.\de[-+]\d\d)$", re.M)
    assert printed.splitlines()[0].startswith("gradcheck passed (directional, tol 1e-07")
    assert shown.splitlines()[0].startswith("gradcheck passed (directional, tol 1e-07")
    got, claimed = dict(row.findall(printed)), dict(row.findall(shown))
    assert list(got) == list(claimed) == ["0.weight", "0.bias", "2.weight", "2.bias", "input"]
    for name in got:   # the same magnitude as shown (round-off differs between machines)
        assert float(got[name]) < 1e-8 and float(claimed[name]) < 1e-8
        assert abs(np.log10(float(got[name]) / float(claimed[name]))) < 2, printed
