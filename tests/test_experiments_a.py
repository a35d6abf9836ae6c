"""Experiments 1-4 (init_histograms, constant_init, batchnorm_cifar, slow_learning), the registry
and the command line: statistics against theory and independent NumPy computations, figures
checked headless for their panels."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")  # before pyplot is imported anywhere in this process
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import reference as ref  # noqa: E402

import mlpc  # noqa: E402
import mlpc.data  # noqa: E402
import mlpc.experiments as experiments  # noqa: E402
from mlpc.experiments import EXPERIMENTS  # noqa: E402
from mlpc.experiments import batchnorm_cifar, constant_init, init_histograms  # noqa: E402
from mlpc.experiments import slow_learning  # noqa: E402
from mlpc.experiments.__main__ import main as cli_main  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------------------------
# registry and shared helpers
# --------------------------------------------------------------------------------------------

def test_registry_lists_all_eight_and_imports_lazily():
    assert set(EXPERIMENTS) == {"init_histograms", "constant_init", "batchnorm_cifar",
                                "slow_learning", "capacity_regularization", "convergence",
                                "gradient_bounds", "activations"}
    assert all(callable(f) for f in EXPERIMENTS.values())
    # a missing module fails when its experiment runs, not when the registry is built
    missing = experiments._lazy("nope", "no_such_experiment_module")
    with pytest.raises(ModuleNotFoundError):
        missing(quick=True)


def test_parameters_quick_and_overrides():
    p = experiments.merge_params("x", {"a": 1, "b": 2}, {"a": 10}, True, {"b": 3})
    assert p == {"a": 10, "b": 3}
    p = experiments.merge_params("x", {"a": 1, "b": 2}, {"a": 10}, True, {"a": 5})
    assert p == {"a": 5, "b": 2}
    assert experiments.merge_params("x", {"a": 1}, {"a": 10}, False, {}) == {"a": 1}
    with pytest.raises(TypeError, match="unknown parameter"):
        EXPERIMENTS["slow_learning"](quick=True, no_such_parameter=1)


def test_parameter_kinds_check_and_normalize():
    k = experiments
    assert k.integer(1)("n", np.int64(3)) == 3 and type(k.integer(1)("n", np.int64(3))) is int
    with pytest.raises(ValueError, match=r"^n must be an int >= 1, got 0$"):
        k.integer(1)("n", 0)
    for bad in (1.5, True, "3", None):
        with pytest.raises(TypeError, match="n must be an int >= 1"):
            k.integer(1)("n", bad)
    assert k.number(above=0, below=1)("t", 0.5) == 0.5
    for bad in (0, 1, math.nan, math.inf):
        with pytest.raises(ValueError, match=r"t must be a finite number in \(0, 1\)"):
            k.number(above=0, below=1)("t", bad)
    with pytest.raises(ValueError, match=r"m must be a finite number in \[0, 1\)"):
        k.number(at_least=0, below=1)("m", 1)
    assert k.boolean("b", np.bool_(False)) is False and k.boolean("b", 1) is True
    with pytest.raises(TypeError, match="b must be True or False, got 'no'"):
        k.boolean("b", "no")
    with pytest.raises(ValueError, match="c must be one of 'a', 'b', got 'z'"):
        k.choice("a", "b")("c", "z")
    assert k.optional(k.integer(0))("o", None) is None
    assert k.dtype("d", np.float32) == "float32"
    # one value is a list of one; a bad entry is named by its index
    assert k.list_of(k.integer(1))("h", 5) == [5]
    assert k.list_of(k.choice("tanh", "relu"))("a", "tanh") == ["tanh"]
    assert k.list_of(k.number())("l", (1, 2.5)) == [1.0, 2.5]
    with pytest.raises(ValueError, match=r"^h\[1\] must be an int >= 1, got 0$"):
        k.list_of(k.integer(1))("h", [3, 0])
    with pytest.raises(ValueError, match=r"h must be a non-empty list, got \[\]"):
        k.list_of(k.integer(1))("h", [])
    with pytest.raises(ValueError, match="s must be a list of 2 values, got 5"):
        k.list_of(k.integer(1), length=2)("s", 5)


def test_every_experiment_checks_every_parameter():
    import importlib
    for name, module in experiments._MODULES.items():
        m = importlib.import_module(f"mlpc.experiments.{module}")
        assert set(m.KINDS) == set(m.DEFAULTS), name
        # the lecture's and the quick defaults pass their own checks
        experiments.merge_params(name, m.DEFAULTS, m.QUICK, False, {}, kinds=m.KINDS)
        experiments.merge_params(name, m.DEFAULTS, m.QUICK, True, {}, kinds=m.KINDS)


@pytest.mark.parametrize("name,params,error,message", [
    ("init_histograms", dict(layers=0), ValueError,
     r"^init_histograms: layers must be an int >= 1, got 0$"),
    ("init_histograms", dict(inits="sigma=abc"), ValueError, "inits must be 'sigma=<σ>'"),
    ("batchnorm_cifar", dict(eval_every=0), ValueError, "eval_every must be an int >= 1, got 0"),
    ("batchnorm_cifar", dict(hist_steps=(100,)), ValueError, "hist_steps must include a step"),
    ("slow_learning", dict(epochs=-5), ValueError, "epochs must be an int >= 1, got -5"),
    ("slow_learning", dict(runs=("quad", 2.0, 2.0)), ValueError,
     r"runs\[0\]\[0\] must be one of 'quadratic', 'cross_entropy', got 'quad'"),
    ("slow_learning", dict(y=2.0), ValueError,
     r"y must be in \[0, 1\] for a cross_entropy run"),
    ("constant_init", dict(activation="foo"), ValueError,
     "constant_init: activation must be one of 'identity', .*got 'foo'"),
    ("constant_init", dict(activation="prelu"), ValueError, "activation must be one of"),
    ("constant_init", dict(layers=1.5), TypeError, "layers must be an int >= 2, got 1.5"),
    ("constant_init", dict(seed=-1), ValueError,
     r"^constant_init: seed must be an int >= 0, got -1$"),
    ("init_histograms", dict(seed=1.5), TypeError, "init_histograms: seed must be an int >= 0"),
    ("slow_learning", dict(quick="no"), TypeError, "slow_learning: quick must be True or False"),
])
def test_bad_parameters_are_named_before_training(no_training, name, params, error, message):
    params = dict(params)
    quick, seed = params.pop("quick", True), params.pop("seed", 0)
    with pytest.raises(error, match=message) as info:
        EXPERIMENTS[name](quick=quick, seed=seed, **params)
    assert isinstance(info.value, experiments.ParameterError)


def test_list_parameters_take_one_value():
    r = EXPERIMENTS["init_histograms"](quick=True, activations="relu", inits="he", layers=2,
                                       width=20, input_dim=20, batch=30)
    assert r.params["activations"] == ["relu"] and r.params["inits"] == ["he"]
    assert set(r.stats) == {"relu"} and set(r.stats["relu"]) == {"he"}
    r = EXPERIMENTS["slow_learning"](quick=True, runs=("quadratic", 2.0, 2.0), epochs=5)
    assert list(r.stats["runs"]) == [slow_learning.run_label("quadratic", 2.0, 2.0)]


def test_init_histograms_draws_a_name_value_pair_init():
    # a pair is kept as a list (JSON); its panel label used to look it up in a dict
    r = EXPERIMENTS["init_histograms"](quick=True, activations="tanh", inits=[("normal", 0.1)],
                                       layers=2, width=20, input_dim=20, batch=30)
    assert r.params["inits"] == [["normal", 0.1]]
    fig = r.figures()["tanh_activations"]
    assert "['normal', 0.1]" in fig.axes[0].get_ylabel()


def test_sample_values_keeps_the_zero_fraction():
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal(100_000), 0.0)
    s = experiments.sample_values(x, 1000, np.random.default_rng(1))
    assert s.size == 1000
    assert abs(np.mean(s == 0) - np.mean(x == 0)) <= 1e-3
    assert np.isin(s[s != 0], x).all()
    small = experiments.sample_values(x[:10], 1000, rng)
    np.testing.assert_array_equal(small, x[:10])


# --------------------------------------------------------------------------------------------
# 1. init_histograms
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def init_result():
    return EXPERIMENTS["init_histograms"](quick=True, seed=0)


def _numpy_init_run(act, init, layers, width, input_dim, batch, num_classes, seed):
    """The experiment's network computed in NumPy from the same initial weights."""
    net = init_histograms.build_network(act, init, layers, width, input_dim, num_classes,
                                        True, "float64", seed)
    params = [np.array(v) for _, v, _ in net.named_parameters()]   # W, b, W, b, ...
    Ws, bs = params[0::2], params[1::2]
    X, y = mlpc.data.gaussian_inputs(batch, input_dim, num_classes, seed=seed)
    f, df = (ref.tanh, ref.d_tanh) if act == "tanh" else (ref.relu, ref.d_relu)
    hs, zs = [X], []
    for W, b in zip(Ws[:-1], bs[:-1]):
        zs.append(ref.linear_forward(hs[-1], W, b))
        hs.append(f(zs[-1]))
    loss, g = ref.softmax_cross_entropy(ref.linear_forward(hs[-1], Ws[-1], bs[-1]), y)
    dW, dh, dz = [None] * layers, [None] * layers, [None] * layers
    g, _, _ = ref.linear_backward(g, hs[-1], Ws[-1])                # ∂J/∂h_L
    for l in reversed(range(layers)):
        dh[l] = g
        dz[l] = g * df(zs[l])
        g, dW[l], _ = ref.linear_backward(dz[l], hs[l], Ws[l])
    return loss, hs[1:], dW, dh, dz


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_init_statistics_match_numpy(act):
    cfg = dict(layers=3, width=40, input_dim=30, batch=16, num_classes=5)
    r = EXPERIMENTS["init_histograms"](activations=(act,), inits=("sigma=0.5", "he"),
                                       dtype="float64", seed=3, **cfg)
    for init in ("sigma=0.5", "he"):
        loss, hs, dW, dh, dz = _numpy_init_run(act, init, seed=3, **cfg)
        s = r.stats[act][init]
        assert s["loss"] == pytest.approx(loss, rel=1e-12)
        for l in range(cfg["layers"]):
            a = s["activation"]
            assert a["mean"][l] == pytest.approx(hs[l].mean(), rel=1e-9, abs=1e-14)
            assert a["std"][l] == pytest.approx(hs[l].std(), rel=1e-9)
            assert a["zero_fraction"][l] == pytest.approx(np.mean(hs[l] == 0), abs=1e-12)
            if act == "tanh":
                assert a["saturated_fraction"][l] == pytest.approx(
                    np.mean(np.abs(hs[l]) > 0.99), abs=1e-12)
            for key, ref_values in (("grad_weight", dW), ("grad_output", dh),
                                    ("grad_preactivation", dz)):
                assert s[key]["norm"][l] == pytest.approx(np.linalg.norm(ref_values[l]),
                                                          rel=1e-9)
                assert s[key]["std"][l] == pytest.approx(ref_values[l].std(), rel=1e-9)


def test_tanh_small_sigma_shrinks_by_sigma_sqrt_n(init_result):
    std = np.array(init_result.stats["tanh"]["sigma=0.01"]["activation"]["std"])
    expected = 0.01 * np.sqrt(500)                    # ≈ 0.224; tanh(z) ≈ z for small z
    assert std[0] == pytest.approx(expected, rel=0.06)  # inputs ~ N(0, 1)
    np.testing.assert_allclose(std[1:4] / std[:3], expected, rtol=0.05)


def test_tanh_xavier_keeps_the_scale_and_sigma_1_saturates(init_result):
    xavier = np.array(init_result.stats["tanh"]["xavier"]["activation"]["std"])
    assert xavier.min() > 0.2 and xavier.max() < 1.0
    assert xavier.max() / xavier.min() < 3.0          # same order of magnitude at every layer
    small = np.array(init_result.stats["tanh"]["sigma=0.01"]["activation"]["std"])
    assert small[-1] / small[0] < 0.3 ** (len(small) - 1)   # while σ = 0.01 vanishes
    sat = np.array(init_result.stats["tanh"]["sigma=1"]["activation"]["saturated_fraction"])
    assert (sat > 0.5).all()
    assert (np.array(init_result.stats["tanh"]["xavier"]["activation"]["saturated_fraction"])
            < 0.1).all()


def test_relu_he_keeps_the_variance_xavier_halves_it(init_result):
    he = np.array(init_result.stats["relu"]["he"]["activation"]["std"]) ** 2
    xavier = np.array(init_result.stats["relu"]["xavier"]["activation"]["std"]) ** 2
    he_ratio, xavier_ratio = he[1:] / he[:-1], xavier[1:] / xavier[:-1]
    assert np.all((he_ratio > 0.7) & (he_ratio < 1.4))
    assert np.mean(he_ratio) == pytest.approx(1.0, abs=0.12)
    assert np.all((xavier_ratio > 0.35) & (xavier_ratio < 0.7))
    assert np.mean(xavier_ratio) == pytest.approx(0.5, abs=0.08)
    zeros = np.array(init_result.stats["relu"]["he"]["activation"]["zero_fraction"])
    np.testing.assert_allclose(zeros, 0.5, atol=0.06)  # half of the units are off


def _histogram_panels(fig):
    """The panels that draw a histogram (or an 'all zeros' state), not the per-layer strips."""
    return [ax for ax in fig.axes if ax.get_title().startswith(("layer", "Linear", "hidden"))]


def test_init_figures_have_one_panel_per_init_and_layer():
    r = EXPERIMENTS["init_histograms"](quick=True, layers=3, inits=("sigma=0.01", "he"),
                                       grad="all", batch=20)
    figs = r.figures()
    assert set(figs) == {f"{a}_{k}" for a in ("tanh", "relu")
                         for k in ("activations", "grad_weight", "grad_output",
                                   "grad_preactivation")}
    for name, fig in figs.items():
        assert len(fig.axes) == 2 * 3 + 2                   # + the std and fraction strips
        panels = _histogram_panels(fig)
        assert len(panels) == 2 * 3
        assert [ax.get_title().split("\n")[0] for ax in panels] == ["layer 1", "layer 2",
                                                                     "layer 3"] * 2
        std, fraction = [ax for ax in fig.axes if ax not in panels]
        assert std.get_yscale() == "log" and std.get_title().startswith("std of")
        assert fraction.get_title() == ("saturated" if name == "tanh_activations" else "zeros")
        assert fraction.get_xlabel() == "layer"          # under the lower of the stacked two
        assert [t.get_text() for t in std.get_legend().get_texts()] == ["σ=0.01", "He"]
        # one x-axis for all panels: tick labels under the bottom row only
        assert len({ax.get_xlim() for ax in panels}) == 1
        assert [len(ax.get_xticks()) > 0 for ax in panels] == [False] * 3 + [True] * 3
        if name != "tanh_activations":       # magnitudes on a log axis
            assert all(ax.get_xscale() == "log" for ax in panels)
            assert all("zeros:" in ax.get_title() for ax in panels)
            assert panels[-1].get_xlabel().startswith("|")
        else:                                # tanh: h_l on [-1, 1]
            assert all(ax.get_xscale() == "linear" for ax in panels)
            lo, hi = panels[0].get_xlim()
            assert lo < -1 < 1 < hi
        # the strips draw the per-layer numbers of the stats, one line per init
        act, kind = name.split("_", 1)
        key = "activation" if kind == "activations" else kind
        for line, init in zip(std.get_lines(), r.params["inits"]):
            np.testing.assert_allclose(line.get_ydata(), r.stats[act][init][key]["std"])
        fractions = "saturated_fraction" if name == "tanh_activations" else "zero_fraction"
        for line, init in zip(fraction.get_lines(), r.params["inits"]):
            np.testing.assert_allclose(line.get_ydata(), r.stats[act][init][key][fractions])
    assert "batch view" in figs["relu_grad_weight"]._suptitle.get_text()
    assert set(r.figures(grad="output")) == {"tanh_activations", "tanh_grad_output",
                                             "relu_activations", "relu_grad_output"}


def _numpy_per_example_weight_gradients(net, X, y):
    """∂l/∂W_l of each example alone for a Linear-ReLU-...-Linear network, by NumPy backprop:
    a list per layer of (N, out, in) arrays."""
    params = [dict((n, v) for n, v, _ in lin.named_parameters()) for lin in net.layers[::2]]
    Ws = [np.array(p["weight"], dtype=np.float64) for p in params]
    bs = [np.array(p["bias"], dtype=np.float64) for p in params]
    grads = [[] for _ in Ws[:-1]]
    for x, label in zip(X.astype(np.float64), y):
        hs, zs = [x], []
        for W, b in zip(Ws[:-1], bs[:-1]):
            zs.append(W @ hs[-1] + b)
            hs.append(np.maximum(zs[-1], 0.0))
        s = Ws[-1] @ hs[-1] + bs[-1]
        p = np.exp(s - s.max())
        p /= p.sum()
        g = p - np.eye(len(p))[label]                        # ∂l/∂s
        g = Ws[-1].T @ g                                     # ∂l/∂h_L
        for l in range(len(Ws) - 2, -1, -1):
            g = g * (zs[l] > 0)                              # ∂l/∂z_l
            grads[l].append(np.outer(g, hs[l]))              # ∂l/∂W_l = g h_(l-1)ᵀ
            g = Ws[l].T @ g
    return [np.stack(gl) for gl in grads]


def test_init_histograms_per_example_gradients_match_numpy():
    rng = np.random.default_rng()
    layers, width, k = int(rng.integers(2, 4)), int(rng.integers(8, 20)), int(rng.integers(2, 6))
    seed = int(rng.integers(0, 1000))
    params = dict(activations="relu", inits="he", layers=layers, width=width, input_dim=7,
                  batch=12, num_classes=3, dtype="float64", seed=seed)
    r = EXPERIMENTS["init_histograms"](per_example=k, **params)
    net = init_histograms.build_network("relu", "he", layers, width, 7, 3, True, "float64", seed)
    X, y = mlpc.data.gaussian_inputs(12, 7, 3, seed=seed)
    expected = _numpy_per_example_weight_gradients(net, X[:k], y[:k])
    got = r.stats["relu"]["he"]["grad_weight"]
    np.testing.assert_allclose(got["zero_fraction"], [np.mean(g == 0) for g in expected])
    np.testing.assert_allclose(got["std"], [g.std() for g in expected], rtol=1e-9)
    np.testing.assert_allclose(got["norm"], [np.linalg.norm(g) for g in expected], rtol=1e-9)
    # one example's ∂l/∂W = g hᵀ is zero wherever the unit or its input is off: deeper layers
    # (ReLU inputs) have about 3/4 zeros, which the batch's summed gradient hides
    assert min(got["zero_fraction"][1:]) > 0.4
    batch = EXPERIMENTS["init_histograms"](**params).stats["relu"]["he"]["grad_weight"]
    assert max(batch["zero_fraction"][1:]) < min(got["zero_fraction"][1:])
    fig = r.gradient_figure("relu")
    assert f"per-example view: gradients of the loss of {k} single examples (batch 1)" in \
        fig._suptitle.get_text()
    assert _histogram_panels(fig)[-1].get_xlabel() == "|∂l/∂W_l| (log scale)"
    # the activations still come from the whole batch
    a = EXPERIMENTS["init_histograms"](**params).stats["relu"]["he"]["activation"]
    np.testing.assert_array_equal(r.stats["relu"]["he"]["activation"]["std"], a["std"])


# --------------------------------------------------------------------------------------------
# 2. constant_init
# --------------------------------------------------------------------------------------------

def test_structure_distance():
    col = np.outer(np.ones(4), [1.0, 2.0, 3.0])       # constant columns
    assert constant_init.structure_distance(col, "first") == 0.0
    assert constant_init.structure_distance(col.T, "last") == 0.0
    assert constant_init.structure_distance(np.full((3, 3), 0.7), "middle") < 1e-15
    W = np.diag([1.0, -1.0])                          # mean 0: the whole matrix is the residual
    assert constant_init.structure_distance(W, "middle") == pytest.approx(1.0)


def test_constant_init_structure_holds_random_init_does_not():
    r = EXPERIMENTS["constant_init"](quick=True, seed=1)
    L = r.params["layers"]
    const = np.array(r.stats["constant"]["distance"])
    assert const.shape == (L, r.params["steps"] + 1)
    assert const.max() < 1e-12
    assert np.array(r.stats["random"]["distance"])[:, -1].min() > 0.1
    # the final matrices checked directly: W_1 = 1 vᵀ, W_l = a_t 1 1ᵀ, W_L = u 1ᵀ
    Ws = r.data["constant"]
    c = r.params["value"]
    assert np.ptp(Ws[0], axis=0).max() < 1e-12 and np.ptp(Ws[0], axis=1).max() > 1e-6
    for l, W in enumerate(Ws[1:-1]):
        assert np.ptp(W) < 1e-12
        assert W[0, 0] == pytest.approx(r.stats["constant"]["a_t"][l][-1], abs=1e-14)
        assert abs(W[0, 0] - c) > 1e-6                # they did move
    assert np.ptp(Ws[-1], axis=1).max() < 1e-12 and np.ptp(Ws[-1], axis=0).max() > 1e-6
    fig = r.figures()["distance"]
    assert len(fig.axes) == 2                         # constant init, random init
    for ax, kind in zip(fig.axes, ("constant", "random")):
        lines = ax.get_lines()
        assert len(lines) == L and kind in ax.get_title()
        assert len({line.get_marker() for line in lines}) == L      # told apart by markers
        assert [t.get_text().split()[0] for t in ax.get_legend().get_texts()] == \
            [f"W_{l + 1}" for l in range(L)]
        assert ax.get_xlabel() == "gradient step t" and ax.get_ylabel()
    assert fig.axes[0].get_yscale() == "log"


# --------------------------------------------------------------------------------------------
# 3. batchnorm_cifar
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bn_result():
    return EXPERIMENTS["batchnorm_cifar"](quick=True, seed=0)


def test_batchnorm_preactivations_have_unit_variance(bn_result):
    s = bn_result.stats
    assert s["in_features"] == 784 and "Fashion-MNIST" in s["dataset"]
    steps = bn_result.params["hist_steps"]
    for eta, runs in s["runs"].items():
        bn = runs["bn"]["layers"]
        # step 0: γ = 1, β = 0, so every unit has batch variance v/(v + eps) ≈ 1 and mean 0
        np.testing.assert_allclose(bn["0"]["preactivation"]["std"], 1.0, atol=1e-3)
        np.testing.assert_allclose(bn["0"]["preactivation"]["mean"], 0.0, atol=1e-5)
        for step in steps[1:]:
            std = np.array(bn[str(step)]["preactivation"]["std"])
            assert np.all((std > 0.6) & (std < 1.6))
        # without BN the pre-activations are on the network's own scale
        no_bn = np.array(runs["no_bn"]["layers"]["0"]["preactivation"]["std"])
        assert np.max(np.abs(no_bn - 1.0)) > 0.05
        # ReLU: about half of the BN-normalized units are off
        np.testing.assert_allclose(bn["0"]["activation"]["zero_fraction"], 0.5, atol=0.1)


def test_batchnorm_training_records(bn_result):
    p = bn_result.params
    hidden = len(p["hidden"])
    for eta, runs in bn_result.stats["runs"].items():
        for run in runs.values():
            n_eval = p["steps"] // p["eval_every"] + 1
            assert run["eval_steps"] == list(range(0, p["steps"] + 1, p["eval_every"]))
            for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
                assert len(run[k]) == n_eval
            assert len(run["step_loss"]) == p["steps"]
            assert set(run["layers"]) == {str(s) for s in p["hist_steps"]}
            for layer in run["layers"].values():
                assert len(layer["activation"]["std"]) == hidden
                assert len(layer["grad_weight"]["norm"]) == hidden + 1
        # with BN and η = 0.5 the network learns within the quick run
        if eta == "eta=0.5":
            bn = runs["bn"]
            assert bn["train_loss"][-1] < 0.7 * bn["train_loss"][0]
            assert bn["val_accuracy"][-1] > 0.4


def test_batchnorm_matches_numpy_at_step_0():
    """The BN network's first mini-batch recomputed with the NumPy reference."""
    rng = np.random.default_rng(5)
    Xtr = rng.standard_normal((60, 12)).astype(np.float64)
    ytr = rng.integers(0, 3, 60)
    data = ((Xtr, ytr), (Xtr[:10], ytr[:10]), "toy data")
    r = EXPERIMENTS["batchnorm_cifar"](data=data, hidden=(6, 5), num_classes=3, lrs=(0.1,),
                                       batch=60, steps=2, hist_steps=(0,), eval_every=1,
                                       eval_size=60, dtype="float64", seed=2)
    assert r.stats["dataset"] == "toy data"
    # one batch = the whole training set (in some order: statistics do not depend on it)
    net = batchnorm_cifar.build_network(12, (6, 5), 3, True, "he_normal", 0.1, "float64", 2)
    linears = [m for m in net.layers if isinstance(m, mlpc.Linear)]
    Ws, bs = [np.array(m.weight) for m in linears], [np.array(m.bias) for m in linears]
    h, pre_std = Xtr, []
    for W, b in zip(Ws[:-1], bs[:-1]):
        z, _ = ref.batchnorm_forward(ref.linear_forward(h, W, b))
        pre_std.append(z.std())
        h = ref.relu(z)
    layers = r.stats["runs"]["eta=0.1"]["bn"]["layers"]["0"]
    np.testing.assert_allclose(layers["preactivation"]["std"], pre_std, rtol=1e-9)
    loss, _ = ref.softmax_cross_entropy(ref.linear_forward(h, Ws[-1], bs[-1]), ytr)
    assert r.stats["runs"]["eta=0.1"]["bn"]["step_loss"][0] == pytest.approx(loss, rel=1e-9)


def test_batchnorm_figures():
    r = EXPERIMENTS["batchnorm_cifar"](quick=True, lrs=(0.5,), hist_steps=(0, 40))
    figs = r.figures()
    assert set(figs) == {"eta0.5_activations", "eta0.5_gradients", "curves"}
    # (BN, no BN) × steps × layers, and the std and zero-fraction strips
    assert len(figs["eta0.5_activations"].axes) == 2 * 2 * 5 + 2
    assert len(_histogram_panels(figs["eta0.5_activations"])) == 2 * 2 * 5
    gradients = _histogram_panels(figs["eta0.5_gradients"])
    assert len(gradients) == 2 * 2 * 6                           # ∂J/∂W of the 6 Linear layers
    assert len(figs["curves"].axes) == 2                         # loss, accuracy
    for fig in figs.values():
        assert "Fashion-MNIST" in fig._suptitle.get_text()
    # without BN, η = 0.5 kills the network: its gradients after training are exactly zero,
    # drawn as a labelled state instead of empty axes
    dead = r.stats["runs"]["eta=0.5"]["no_bn"]["layers"]["40"]["grad_weight"]["zero_fraction"]
    last_row = gradients[-6:]
    for ax, zeros in zip(last_row, dead):
        texts = [t.get_text() for t in ax.texts]
        assert ("all zeros" in texts) == (zeros == 1.0)
        if zeros == 1.0:
            assert not len(ax.get_xticks()) and not len(ax.get_yticks())


# --------------------------------------------------------------------------------------------
# 4. slow_learning
# --------------------------------------------------------------------------------------------

def test_slow_learning_gradients_are_the_closed_forms():
    r = EXPERIMENTS["slow_learning"](quick=True)
    x, y, eta = r.params["x"], r.params["y"], r.params["lr"]
    assert len(r.stats["runs"]) == 3
    for label, run in r.stats["runs"].items():
        w, b = np.array(run["w"]), np.array(run["b"])
        assert (w[0], b[0]) in ((0.6, 0.9), (2.0, 2.0))
        z = w * x + b
        a = ref.sigmoid(z)
        if label.startswith("quadratic"):
            grad_z = (a - y) * a * (1 - a)                  # (a − y) σ′(z)
            cost = (a - y) ** 2 / 2
        else:
            grad_z = a - y                                   # σ′ cancels
            cost = -(y * np.log(a) + (1 - y) * np.log(1 - a))
        np.testing.assert_allclose(run["grad_w"], grad_z * x, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(run["grad_b"], grad_z, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(run["cost"], cost, rtol=1e-10)
        np.testing.assert_allclose(run["sigma_prime"], a * (1 - a), rtol=1e-10)
        # plain gradient descent: w_{t+1} = w_t − η ∂C/∂w
        np.testing.assert_allclose(w[1:], w[:-1] - eta * np.array(run["grad_w"])[:-1],
                                   rtol=1e-12, atol=1e-15)
    slow = r.stats["runs"][slow_learning.run_label("quadratic", 2.0, 2.0)]
    fast = r.stats["runs"][slow_learning.run_label("cross_entropy", 2.0, 2.0)]
    assert slow["sigma_prime"][0] == pytest.approx(ref.d_sigmoid(np.array(4.0)), rel=1e-12)
    assert slow["cost"][50] > 0.95 * slow["cost"][0]        # stuck on the plateau
    assert fast["cost"][50] < 0.1 * fast["cost"][0]         # learns at once
    fig = r.figures()["curves"]
    assert len(fig.axes) == 3
    assert all(len(ax.get_lines()) == 3 for ax in fig.axes)


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------

def test_cli_writes_json_and_figures(tmp_path):
    package_root = os.path.dirname(os.path.dirname(mlpc.__file__))
    env = dict(os.environ, PYTHONPATH=package_root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("MPLBACKEND", None)      # the command chooses Agg itself
    out = tmp_path / "tmp"
    proc = subprocess.run([sys.executable, "-m", "mlpc.experiments", "init_histograms",
                           "--quick", "--out", str(out)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "init_histograms.json").read_text())
    assert doc["name"] == "init_histograms" and doc["params"]["quick"] is True
    assert set(doc["stats"]) == {"tanh", "relu"}
    pngs = sorted(p.name for p in out.glob("init_histograms_*.png"))
    assert pngs == sorted(f"init_histograms_{a}_{k}.png" for a in ("tanh", "relu")
                          for k in ("activations", "grad_weight"))
    assert all((out / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_cli_in_process_options(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)                   # the default --out is ./figures
    assert cli_main(["--list"]) == 0
    assert "batchnorm_cifar" in capsys.readouterr().out
    assert cli_main(["slow_learning", "--quick", "--out", str(tmp_path), "--set", "epochs=20",
                     "--dpi", "40"]) == 0
    doc = json.loads((tmp_path / "slow_learning.json").read_text())
    assert doc["params"]["epochs"] == 20
    assert len(doc["stats"]["runs"]["quadratic, (w, b) = (2, 2)"]["cost"]) == 20
    assert (tmp_path / "slow_learning_curves.png").is_file()
    with pytest.raises(SystemExit):
        cli_main(["slow_learning", "--data", "somewhere"])
    with pytest.raises(SystemExit):
        cli_main(["no_such_experiment"])
    assert not (tmp_path / "figures").exists()


def test_cli_failed_run_leaves_no_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "new" / "deeper"
    assert cli_main(["batchnorm_cifar", "--quick", "--out", str(out), "--data",
                     str(tmp_path / "missing")]) == 2
    assert cli_main(["slow_learning", "--quick", "--set", "epochs=0"]) == 2     # ./figures
    capsys.readouterr()
    assert sorted(tmp_path.iterdir()) == []                  # neither folder was created
    assert cli_main(["slow_learning", "--quick", "--out", str(out), "--set", "epochs=3"]) == 0
    assert (out / "slow_learning.json").is_file()            # created when saving


def _one_error_line(capsys, name):
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err           # one line, no traceback
    assert err.startswith(f"mlpc.experiments {name}: error: ")
    return err


def test_cli_bad_parameter_is_one_line(tmp_path, capsys):
    assert cli_main(["slow_learning", "--quick", "--out", str(tmp_path), "--set",
                     "epoch=5"]) == 2
    err = _one_error_line(capsys, "slow_learning")
    assert "unknown parameter(s) epoch; accepted: runs, lr, epochs" in err
    assert cli_main(["init_histograms", "--quick", "--out", str(tmp_path), "--set",
                     "layers=0"]) == 2
    assert "layers must be an int >= 1, got 0" in _one_error_line(capsys, "init_histograms")
    assert cli_main(["batchnorm_cifar", "--quick", "--out", str(tmp_path), "--data",
                     str(tmp_path / "missing")]) == 2
    assert "missing" in _one_error_line(capsys, "batchnorm_cifar")
    assert not list(tmp_path.iterdir())                      # nothing was written


def test_cli_bad_output_folder_is_one_line(tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me")
    for out in (a_file, a_file / "below"):
        assert cli_main(["slow_learning", "--quick", "--out", str(out)]) == 2
        assert str(a_file) in _one_error_line(capsys, "slow_learning")
    assert cli_main(["all", "--quick", "--out", str(a_file)]) == 2     # before any run
    _one_error_line(capsys, "all")
    assert a_file.read_text() == "keep me"


@pytest.mark.parametrize("args,message", [
    (["--dpi", "-5"], "argument --dpi: must be a number > 0, got '-5'"),
    (["--dpi", "0"], "argument --dpi: must be a number > 0"),
    (["--seed", "-1"], "argument --seed: must be an int >= 0, got '-1'"),
    (["--set", "seed=1"], "give seed as --seed"),
    (["--set", "quick=True"], "give quick as --quick"),
    (["--set", "epochs"], "--set expects KEY=VALUE, got 'epochs'"),
])
def test_cli_bad_options_are_usage_errors(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        cli_main(["slow_learning", "--quick", "--out", str(tmp_path)] + args)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
