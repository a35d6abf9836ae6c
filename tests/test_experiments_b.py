"""Experiments 5-8 (capacity_regularization, convergence, gradient_bounds, activations), run
with quick=True and checked against closed forms, the pure-NumPy reference (tests/reference.py)
and NumPy linear algebra — never against mlpc's own output."""
import math
import os
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import mlpc  # noqa: E402
from mlpc import schedules  # noqa: E402
from mlpc.experiments import (activations, capacity_regularization, convergence,  # noqa: E402
                              gradient_bounds)

sys.path.insert(0, os.path.dirname(__file__))
import reference as ref  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


_trapz = getattr(np, "trapezoid", None) or np.trapz      # NumPy 2 renamed it


def panels(fig):
    return len(fig.axes)


# ============================================================================================
# 6. convergence
# ============================================================================================

@pytest.fixture(scope="module")
def conv():
    return convergence.run(quick=True, seed=3)


def test_quadratic_problem_has_the_chosen_hessian():
    lam = [2.0, 0.5, 0.1]
    X, y, H, U, w_star = convergence.quadratic_problem(lam, n_samples=11, seed=5)
    N = X.shape[0]
    np.testing.assert_allclose(X.T @ X / N, H, atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(H), sorted(lam), atol=1e-12)
    np.testing.assert_allclose(U.T @ U, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(H @ U, U * np.array(lam), atol=1e-12)
    # the MSE cost of the linear model is ½ (w − w*)ᵀ H (w − w*)
    w = w_star + np.array([0.3, -1.0, 2.0])
    cost, _ = ref.mse(X @ w[:, None], y)
    assert cost == pytest.approx(0.5 * (w - w_star) @ H @ (w - w_star), rel=1e-12)


def test_gradient_descent_path_is_plain_gd():
    lam = [1.0, 0.2]
    X, y, H, U, w_star = convergence.quadratic_problem(lam, seed=1)
    w0 = w_star + np.array([1.0, -2.0])
    path, costs, lrs = convergence.gradient_descent(X, y, w0, 0.7, 25)
    w = w0.copy()
    for t in range(25):
        c, dy = ref.mse(X @ w[:, None], y)
        assert costs[t] == pytest.approx(c, rel=1e-10, abs=1e-300)
        w = w - 0.7 * (dy.T @ X)[0]                    # ∂C/∂w = (∂C/∂ŷ)ᵀ X
        np.testing.assert_allclose(path[t + 1], w, rtol=0, atol=1e-12)
    assert np.all(lrs == 0.7)


def test_contraction_matches_theory(conv):
    lam = np.asarray(conv.params["eigenvalues"], dtype=np.float64)
    assert len(conv.stats["eigendirections"]) == len(conv.params["eta_factors"])
    for f, run in zip(conv.params["eta_factors"], conv.stats["eigendirections"].values()):
        eta = f / lam.max()
        alpha = np.asarray(run["alpha"])
        t = np.arange(alpha.shape[0])[:, None]
        theory = (1.0 - eta * lam)[None, :] ** t * np.asarray(conv.stats["alpha0"])[None, :]
        scale = max(1.0, float(np.abs(theory).max()))
        assert np.max(np.abs(alpha - theory)) <= 1e-10 * scale, f
        # the error E − E* = ½ Σ λᵢ αᵢ² and the converges flag
        np.testing.assert_allclose(run["error"], 0.5 * (theory ** 2 * lam).sum(axis=1),
                                   rtol=1e-9, atol=1e-14)
        assert run["converges"] == (f < 2.0)


def test_alpha_is_the_projection_on_the_eigenvectors(conv):
    # α(t) = Uᵀ (w_t − w*): recompute from the independent GD recursion of the notes
    lam = np.asarray(conv.params["eigenvalues"], dtype=np.float64)
    U = np.asarray(conv.stats["eigenvectors"])
    H = U @ np.diag(lam) @ U.T
    w_star = np.asarray(conv.stats["w_star"])
    run = conv.stats["eigendirections"]["eta=1.9/lambda_max"]
    w = w_star + U @ np.asarray(conv.stats["alpha0"])
    for a in run["alpha"]:
        np.testing.assert_allclose(a, U.T @ (w - w_star), atol=1e-10)
        w = w - run["eta"] * H @ (w - w_star)


def test_divergence_beyond_two_over_lambda_max():
    r = convergence.run(quick=True, eta_factors=(1.99, 2.01, 2.5), steps=40)
    runs = list(r.stats["eigendirections"].values())
    below, above, far = (np.asarray(x["error"]) for x in runs)
    assert below[-1] < below[0]
    assert above[-1] > above[0] and far[-1] > 1e3 * far[0]
    # the λ_max direction grows like |1 − ηλ_max|ᵗ = 1.5ᵗ at η = 2.5/λ_max
    lam = np.asarray(r.params["eigenvalues"])
    k = int(np.argmax(lam))
    alpha = np.abs(np.asarray(runs[2]["alpha"])[:, k])
    np.testing.assert_allclose(alpha, 1.5 ** np.arange(41), rtol=1e-9)
    assert [x["converges"] for x in runs] == [True, False, False]


def test_condition_number_slowdown(conv):
    tol = conv.params["cond_tol"]
    steps = []
    for kappa, run in zip(conv.params["condition_numbers"], conv.stats["condition"].values()):
        assert run["eta"] == 1.0
        slow = 1.0 - 1.0 / kappa
        # after step 1 (the λ_max direction is solved exactly) ‖w − w*‖/‖w₀ − w*‖ = slowᵗ/√2
        expected = 1 if slow == 0 else math.ceil(math.log(tol * math.sqrt(2)) / math.log(slow))
        assert abs(run["steps_to_tol"] - expected) <= 1
        ratio = np.asarray(run["ratio"])[1:60]
        np.testing.assert_allclose(ratio, slow ** np.arange(1, 60) / math.sqrt(2),
                                   rtol=1e-8, atol=1e-13)
        steps.append(run["steps_to_tol"])
    assert steps == sorted(steps) and steps[-1] > 10 * max(steps[0], 1)


def test_momentum_path_is_the_notes_recursion(conv):
    z = conv.stats["zigzag"]
    lam = np.asarray(z["eigenvalues"])
    H = np.diag(lam)
    for key in ("gd", "momentum"):
        run = z[key]
        path = np.asarray(run["path"])            # w − w*
        # independent recursion: Δw(τ) = −η ∇E + μ Δw(τ−1), w += Δw
        state = {}
        w = [path[0].copy()]
        for t in range(1, len(path)):
            (w_new,), state = ref.sgd_step([w[-1]], [H @ w[-1]], state, run["eta"],
                                           momentum=run["momentum"])
            w.append(w_new)
        np.testing.assert_allclose(path, np.array(w), rtol=0, atol=1e-10)
    assert z["momentum"]["momentum"] == conv.params["momentum"] == 0.9
    # plain GD near 2/λ_max zig-zags across the valley at every step; momentum ends closer
    assert z["gd"]["sign_changes"] >= 0.9 * (len(z["gd"]["path"]) - 1)
    assert z["momentum"]["error"][-1] < 0.1 * z["gd"]["error"][-1]


def test_schedules_follow_their_formulas():
    def cyclical(t, lo, hi, n_s):
        r = t % (2 * n_s)
        return lo + (hi - lo) * (r / n_s if r <= n_s else 2 - r / n_s)

    T = 60
    sched = {"linear": schedules.linear(0.9, 0.05, 40),
             "power": schedules.power(0.9, 5, -1.0),
             "exponential": schedules.exponential(0.9, 0.1, 30),
             "cyclical": schedules.cyclical(0.05, 0.9, 12)}
    formulas = {"linear": lambda t: ref.lr_linear(t, 0.9, 0.05, 40),
                "power": lambda t: ref.lr_power(t, 0.9, 5, -1.0),
                "exponential": lambda t: ref.lr_exponential(t, 0.9, 0.1, 30),
                "cyclical": lambda t: cyclical(t, 0.05, 0.9, 12)}
    r = convergence.run(quick=True, schedules=sched, schedule_steps=T)
    lam = np.asarray(r.params["eigenvalues"])
    for name, run in r.stats["schedules"].items():
        expected = np.array([formulas[name](t) for t in range(T)])
        np.testing.assert_allclose(run["lr"], expected, rtol=1e-12, atol=1e-15)
        # with a varying rate each direction contracts by Πₜ (1 − ηₜ λᵢ)
        alpha = np.cumprod(1 - expected[:, None] * lam[None, :], axis=0)
        err = np.concatenate([[0.5 * lam.sum()], 0.5 * (alpha ** 2 * lam).sum(axis=1)])
        np.testing.assert_allclose(run["error"], err, rtol=1e-8, atol=1e-14)


def test_default_schedules_are_the_four_of_the_notes(conv):
    assert list(conv.stats["schedules"]) == ["linear", "power", "exponential", "cyclical"]
    lr = np.asarray(conv.stats["schedules"]["cyclical"]["lr"])
    assert lr.max() == pytest.approx(conv.params["schedule_lr"])


def test_convergence_figures(conv):
    figs = conv.plot()
    assert {k: panels(f) for k, f in figs.items()} == {
        "eigendirections": len(conv.params["eta_factors"]), "condition": 1, "zigzag": 2,
        "schedules": 2}
    ax = figs["schedules"].axes[0]
    assert len(ax.lines) == 4
    np.testing.assert_allclose(ax.lines[0].get_ydata(), conv.stats["schedules"]["linear"]["lr"])


# ============================================================================================
# 7. gradient bounds
# ============================================================================================

@pytest.fixture(scope="module")
def bounds():
    return gradient_bounds.run(quick=True, seed=1)


def _sigma_range(A):
    """σ_min, σ_max of A: R^cols -> R^rows (σ_min = 0 if A cannot be injective)."""
    s = np.linalg.svd(A, compute_uv=False)
    return (s[-1] if A.shape[0] >= A.shape[1] else 0.0), s[0]


def _reference_bounds(net, X, y, act):
    """Forward/backward in NumPy (tests/reference.py) and the notes' product bounds."""
    Ws = [np.array(v, dtype=np.float64) for n, v, _ in net.named_parameters()]
    L = len(Ws) - 1
    hs, zs = [X], []
    for W in Ws[:-1]:
        zs.append(ref.linear_forward(hs[-1], W))
        hs.append(ref.activation_forward(act, zs[-1]))
    _, dy = ref.softmax_cross_entropy(ref.linear_forward(hs[-1], Ws[-1]), y)
    grads = [None] * (L + 1)
    g = dy
    for k in range(L, -1, -1):
        dx, grads[k], _ = ref.linear_backward(g, hs[k], Ws[k])
        if k:
            g = ref.activation_backward(act, dx, zs[k - 1])
    gprime = [np.abs(ref.ACTIVATIONS[act][1](z)) for z in zs]
    out = []
    for k in range(L + 1):
        x_lo, x_hi = _sigma_range(hs[k].T)
        lo = hi = np.linalg.norm(dy)
        for l in range(k + 1, L + 1):
            w_lo, w_hi = _sigma_range(Ws[l].T)
            lo, hi = lo * gprime[l - 1].min() * w_lo, hi * gprime[l - 1].max() * w_hi
        out.append((np.linalg.norm(grads[k]), x_lo * lo, x_hi * hi))
    return np.array(out)


def test_gradient_norms_between_the_bounds(bounds):
    assert list(bounds.stats["bounds"]) == ["sigmoid", "tanh", "relu"]
    for act, r in bounds.stats["bounds"].items():
        actual, lower, upper = (np.asarray(r[k]) for k in ("actual", "lower", "upper"))
        assert len(actual) == bounds.params["depth"] + 1
        assert np.all(lower <= actual * (1 + 1e-9)), act
        assert np.all(actual <= upper * (1 + 1e-9)), act
        assert np.all(upper > 0) and np.all(actual > 0)
    # sigmoid's g′ ≤ 1/4 makes the gradient vanish toward the input; the relu lower bound is 0
    sig = bounds.stats["bounds"]["sigmoid"]["actual"]
    assert sig[0] < 1e-2 * sig[-1]
    assert bounds.stats["bounds"]["relu"]["lower"][0] == 0.0


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
def test_gradient_bounds_against_numpy_backprop(bounds, act):
    p = bounds.params
    net = gradient_bounds.build_mlp(p["n_in"], p["width"], p["depth"], p["n_out"], act,
                                    init_scale=p["init_scale"], seed=p["seed"])
    X, y = bounds.data["X"], bounds.data["targets"]
    expected = _reference_bounds(net, X, y, act)
    r = bounds.stats["bounds"][act]
    got = np.column_stack([r["actual"], r["lower"], r["upper"]])
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-300)
    assert np.all(expected[:, 1] <= expected[:, 0] * (1 + 1e-9))
    assert np.all(expected[:, 0] <= expected[:, 2] * (1 + 1e-9))


@pytest.mark.parametrize("act,scale", [("tanh", 3.0), ("relu", 2.0), ("sigmoid", 0.3)])
def test_bounds_hold_when_exploding_or_vanishing(act, scale):
    r = gradient_bounds.run(quick=True, depth=4, activations=(act,), init_scale=scale,
                            loss="mse")
    b = r.stats["bounds"][act]
    for actual, lower, upper in zip(b["actual"], b["lower"], b["upper"]):
        assert lower <= actual * (1 + 1e-9) and actual <= upper * (1 + 1e-9)


def test_marchenko_pastur_support_and_distribution(bounds):
    mp = bounds.stats["marchenko_pastur"]
    rows, cols = mp["shape"]
    q = rows / cols
    a, b = 1 - math.sqrt(q), 1 + math.sqrt(q)
    np.testing.assert_allclose(mp["edges"], [a, b], rtol=1e-12)
    s = np.sort(np.asarray(mp["singular_values"]))
    assert len(s) == rows
    assert s[0] > a - 0.1 and s[-1] < b + 0.1
    # independent MP law for the eigenvalues x = s² of WWᵀ (entries N(0, 1/cols)):
    # density √((b² − x)(x − a²)) / (2π q x) on [a², b²]; compare CDFs (Kolmogorov distance)
    def mp(x):
        return np.sqrt(np.clip((b * b - x) * (x - a * a), 0, None)) / (2 * math.pi * q * x)

    x = np.linspace(a * a, b * b, 20001)
    dens = mp(x)
    cdf = np.concatenate([[0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(x))])
    assert cdf[-1] == pytest.approx(1.0, abs=1e-3)
    empirical = np.arange(1, len(s) + 1) / len(s)
    assert np.max(np.abs(np.interp(s ** 2, x, cdf) - empirical)) < 0.08
    # the module's singular-value density is the same law: ∫ g(s) ds = 1 and g(s) = f(s²)·2s
    grid = np.linspace(a, b, 20001)
    g = gradient_bounds.marchenko_pastur_density(grid, rows, cols)
    assert _trapz(g, grid) == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(g, 2 * grid * mp(grid ** 2), rtol=1e-12, atol=1e-12)


def test_marchenko_pastur_density_tall_matrix():
    # rows > cols: the singular values of a 400 × 100 N(0, 1/100) matrix lie in √4 ± 1
    rng = np.random.default_rng(0)
    W = rng.standard_normal((400, 100)) / 10.0
    s = np.linalg.svd(W, compute_uv=False)
    a, b = gradient_bounds.marchenko_pastur_edges(400, 100)
    assert (a, b) == pytest.approx((1.0, 3.0))
    assert s.min() > a - 0.1 and s.max() < b + 0.1
    grid = np.linspace(a, b, 4001)
    assert _trapz(gradient_bounds.marchenko_pastur_density(grid, 400, 100), grid) == \
        pytest.approx(1.0, abs=2e-3)


def test_orthogonal_init_singular_values_are_one(bounds):
    o = bounds.stats["orthogonal"]
    s = np.asarray(o["singular_values"])
    assert len(s) == min(o["shape"])
    np.testing.assert_allclose(s, 1.0, rtol=0, atol=1e-12)
    O = bounds.data["O"]
    np.testing.assert_allclose(O @ O.T, np.eye(O.shape[0]), atol=1e-12)


def test_gradient_bounds_figures(bounds):
    figs = bounds.plot()
    assert {k: panels(f) for k, f in figs.items()} == {"bounds": 3, "singular_values": 2}
    ax = figs["bounds"].axes[0]
    actual = [l for l in ax.lines if "mlpc" in l.get_label()][0]
    np.testing.assert_allclose(actual.get_ydata(), bounds.stats["bounds"]["sigmoid"]["actual"])


# ============================================================================================
# 8. activations
# ============================================================================================

@pytest.fixture(scope="module")
def acts():
    return activations.run(quick=True, gated=True)


def _numpy_activation(name, x):
    """(f, f′) from the reference, PReLU with a = 0.25 and the gated units with v = 1."""
    if name == "prelu":
        return np.where(x > 0, x, 0.25 * x), np.where(x > 0, 1.0, 0.25)
    name = ref.GATED.get(name, name)
    f, df = ref.ACTIVATIONS[name]
    return f(x), df(x)


def test_activation_curves_equal_numpy_formulas(acts):
    fig = acts.plot()["gallery"]
    names = list(mlpc.ACTIVATIONS) + ["glu", "reglu", "geglu", "swiglu"]
    assert list(acts.stats) == names
    assert panels(fig) == len(names)
    x = np.linspace(acts.params["x_min"], acts.params["x_max"], acts.params["n_points"])
    for ax, name in zip(fig.axes, names):
        assert ax.get_title().splitlines()[0] == name
        f_line, df_line = ax.lines[0], ax.lines[1]
        np.testing.assert_allclose(f_line.get_xdata(), x)
        f, df = _numpy_activation(name, x)
        np.testing.assert_allclose(f_line.get_ydata(), f, rtol=1e-12, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(df_line.get_ydata(), df, rtol=1e-12, atol=1e-12,
                                   err_msg=name)


def test_activation_derivatives_match_finite_differences(acts):
    x = acts.data["x"]
    h = 1e-6
    for name in acts.stats:
        f = lambda t: _numpy_activation(name, t)[0]  # noqa: E731
        numeric = (f(x + h) - f(x - h)) / (2 * h)
        smooth = np.abs(x) > 1e-3 if name in ("step", "relu", "leaky_relu", "elu", "selu",
                                              "prelu", "reglu", "softsign") else slice(None)
        np.testing.assert_allclose(acts.data["df"][name][smooth], numeric[smooth], rtol=1e-6,
                                   atol=1e-6, err_msg=name)
        assert acts.stats[name]["max_derivative_error"] < 1e-6, name


def test_activation_ranges(acts):
    s = acts.stats
    assert s["tanh"]["range"] == "(−1, 1)" and s["sigmoid"]["range"] == "(0, 1)"
    for name, st in s.items():
        lo, hi = st["bounds"]
        assert st["within_range"] and lo <= st["observed_min"] and st["observed_max"] <= hi, name
    # the minima of GELU and SiLU quoted in the notes (−0.17…, −0.278…)
    assert s["gelu"]["observed_min"] == pytest.approx(-0.17, abs=5e-3)
    assert s["silu"]["observed_min"] == pytest.approx(-0.278, abs=5e-3)


# ============================================================================================
# 5. capacity and regularization
# ============================================================================================

@pytest.fixture(scope="module")
def capacity():
    return capacity_regularization.run(quick=True)


def test_capacity_grows_with_hidden_units(capacity):
    runs = capacity.stats["runs"]
    Xtr, ytr = capacity.data["X_train"], capacity.data["y_train"]
    Xv, yv = capacity.data["X_val"], capacity.data["y_val"]
    for k in capacity.params["init_seeds"]:
        acc = {}
        for m in capacity.params["hidden_sizes"]:
            key = f"m={m},init={k}"
            pred = capacity.data["predict"][key]
            acc[m] = np.mean(pred(Xtr) == ytr)
            assert runs[key]["train_accuracy"] == pytest.approx(acc[m])
            assert runs[key]["val_accuracy"] == pytest.approx(np.mean(pred(Xv) == yv))
        assert acc[100] > acc[3] + 0.1
        assert acc[100] >= acc[20] >= acc[3]


def test_different_init_gives_a_different_network(capacity):
    runs = capacity.stats["runs"]
    assert runs["m=100,init=0"]["weight_norm"] != runs["m=100,init=1"]["weight_norm"]


def test_l2_shrinks_the_weights(capacity):
    runs = [capacity.stats["runs"][k] for k in capacity.stats["rows"]["regularization"]]
    lambdas = capacity.params["lambdas"]
    assert [r["lam"] for r in runs] == lambdas
    norms = [r["weight_norm"] for r in runs]
    assert all(a > b for a, b in zip(norms, norms[1:])), norms
    # the notes' J sums the loss: mlpc's mean-loss l2 is λ/N_train
    for r in runs:
        assert r["l2"] == pytest.approx(r["lam"] / capacity.params["n_train"])
    # the fit gets worse (larger data loss) as λ grows
    assert runs[-1]["loss"] > runs[0]["loss"]


def test_weight_norm_is_the_sum_of_squared_weights():
    net = mlpc.Sequential(mlpc.Linear(2, 5), mlpc.ReLU(), mlpc.Linear(5, 3), seed=0,
                          dtype="float64")
    Ws = [np.array(net[0].weight), np.array(net[2].weight)]
    assert capacity_regularization.weight_norm(net) == pytest.approx(
        ref.l2_penalty(Ws, 1.0)[0], rel=1e-12)


def test_capacity_figures(capacity):
    figs = capacity.plot()
    n = len(capacity.params["hidden_sizes"])
    assert panels(figs["hidden"]) == n * len(capacity.params["init_seeds"])
    assert panels(figs["l2"]) == len(capacity.params["lambdas"])
    first = capacity.stats["runs"]["m=3,init=0"]
    title = figs["hidden"].axes[0].get_title()
    assert "m = 3" in title and f"train {100 * first['train_accuracy']:.1f}%" in title
    assert f"val {100 * first['val_accuracy']:.1f}%" in title
    assert "λ = 0.1" in figs["l2"].axes[-1].get_title()


# ============================================================================================
# all four: parameters, JSON, files
# ============================================================================================

@pytest.mark.parametrize("module", [capacity_regularization, convergence, gradient_bounds,
                                    activations])
def test_unknown_parameter_is_rejected(module):
    with pytest.raises(TypeError):
        module.run(quick=True, no_such_parameter=1)


def test_list_parameters_take_one_value():
    # a single string or number used to be iterated: "tanh" -> 't', 'a', ...; 5 -> TypeError
    r = gradient_bounds.run(quick=True, activations="tanh", depth=2, width=8, n_in=8, batch=4,
                            mp_shape=(4, 8), orthogonal_shape=(4, 8))
    assert r.params["activations"] == ["tanh"] and list(r.stats["bounds"]) == ["tanh"]
    r = activations.run(quick=True, names="tanh")
    assert r.params["names"] == ["tanh"] and list(r.stats) == ["tanh"]
    r = capacity_regularization.run(quick=True, hidden_sizes=5, init_seeds=0, lambdas=0.01,
                                    steps=3, n_train=20, n_val=20)
    assert r.params["hidden_sizes"] == [5] and r.params["lambdas"] == [0.01]
    assert set(r.stats["runs"]) == {"m=5,init=0", "m=100,lambda=0.01"}
    r = convergence.run(quick=True, eigenvalues=0.5, eta_factors=1.0, condition_numbers=10,
                        steps=3, cond_steps=50, zigzag_steps=3, schedule_steps=3)
    assert list(r.stats["condition"]) == ["kappa=10"]
    assert r.stats["eigenvalues"].tolist() == [0.5]


def test_cli_takes_one_value_for_a_list(tmp_path):
    from mlpc.experiments.__main__ import main as cli_main
    sizes = ["depth=1", "width=8", "n_in=8", "batch=4", "mp_shape=(4,8)",
             "orthogonal_shape=(4,8)"]
    args = [a for size in sizes for a in ("--set", size)]
    assert cli_main(["gradient_bounds", "--quick", "--out", str(tmp_path), "--set",
                     "activations=tanh", "--dpi", "30"] + args) == 0
    import json
    doc = json.loads((tmp_path / "gradient_bounds.json").read_text())
    assert doc["params"]["activations"] == ["tanh"] and list(doc["stats"]["bounds"]) == ["tanh"]


@pytest.mark.parametrize("module,params,error,message", [
    (gradient_bounds, dict(depth=-1), ValueError,
     r"^gradient_bounds: depth must be an int >= 0, got -1$"),
    (gradient_bounds, dict(activations=["tanh", "prelu"]), ValueError,
     r"activations\[1\] must be one of .*got 'prelu'"),
    (gradient_bounds, dict(mp_shape=(10,)), ValueError, "mp_shape must be a list of 2 values"),
    (convergence, dict(condition_numbers=(0,)), ValueError,
     r"condition_numbers\[0\] must be a finite number >= 1, got 0"),
    (convergence, dict(cond_tol=0), ValueError,
     r"^convergence: cond_tol must be a finite number in \(0, 1\), got 0$"),
    (convergence, dict(eigenvalues=(1.0, -1.0)), ValueError, r"eigenvalues\[1\] must be"),
    (convergence, dict(schedules={"x": 0.1}), ValueError, "schedules must be None or"),
    (capacity_regularization, dict(hidden_sizes=[3, 0]), ValueError,
     r"hidden_sizes\[1\] must be an int >= 1, got 0"),
    (capacity_regularization, dict(dataset="circles"), ValueError,
     "dataset must be one of 'spirals', 'moons', got 'circles'"),
    (capacity_regularization, dict(sum_loss="yes"), TypeError, "sum_loss must be True or False"),
    (activations, dict(names="nope"), ValueError, "names must be one of .*got 'nope'"),
    (activations, dict(x_min=1.0, x_max=-1.0), ValueError, "x_min must be < x_max"),
    (activations, dict(n_points=1), ValueError, "n_points must be an int >= 2, got 1"),
])
def test_bad_parameters_are_named_before_training(no_training, module, params, error, message):
    from mlpc.experiments import ParameterError
    with pytest.raises(error, match=message) as info:
        module.run(quick=True, **params)
    assert isinstance(info.value, ParameterError)


def test_save_writes_json_and_pngs(tmp_path, bounds):
    import json
    paths = bounds.save(tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["gradient_bounds.json", "gradient_bounds_bounds.png",
                     "gradient_bounds_singular_values.png"]
    data = json.loads((tmp_path / "gradient_bounds.json").read_text())
    assert data["params"]["depth"] == bounds.params["depth"]
    assert len(data["stats"]["bounds"]["tanh"]["actual"]) == bounds.params["depth"] + 1


def test_results_are_json_serializable(conv, acts, capacity):
    import json
    for r in (conv, acts, capacity):
        json.loads(r.to_json())
