"""Experiments 1-4 (init_histograms, constant_init, batchnorm_cifar, slow_learning), the registry
and the command line: statistics against theory and independent NumPy computations, figures
checked headless for their panels."""

import json
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


def test_init_figures_have_one_panel_per_init_and_layer():
    r = EXPERIMENTS["init_histograms"](quick=True, layers=3, inits=("sigma=0.01", "he"),
                                       grad="all", batch=20)
    figs = r.figures()
    assert set(figs) == {f"{a}_{k}" for a in ("tanh", "relu")
                         for k in ("activations", "grad_weight", "grad_output",
                                   "grad_preactivation")}
    for name, fig in figs.items():
        assert len(fig.axes) == 2 * 3
        if "grad" in name:
            assert all(ax.get_yscale() == "log" for ax in fig.axes)
    assert all("zeros:" in ax.get_title() for ax in figs["relu_activations"].axes)
    assert all("sat." in ax.get_title() for ax in figs["tanh_activations"].axes)
    assert set(r.figures(grad="output")) == {"tanh_activations", "tanh_grad_output",
                                             "relu_activations", "relu_grad_output"}


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
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 2 * L
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
    assert len(figs["eta0.5_activations"].axes) == 2 * 2 * 5     # (BN, no BN) × steps × layers
    assert len(figs["eta0.5_gradients"].axes) == 2 * 2 * 6       # ∂J/∂W of the 6 Linear layers
    assert len(figs["curves"].axes) == 2                         # loss, accuracy
    for fig in figs.values():
        assert "Fashion-MNIST" in fig._suptitle.get_text()


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


def test_cli_in_process_options(tmp_path, capsys):
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
