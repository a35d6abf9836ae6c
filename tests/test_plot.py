"""Headless checks of the plotting helpers: panel counts, histogram contents, options."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")  # before pyplot is imported anywhere in this process
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import StepPatch  # noqa: E402

from mlpc import plot  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _stairs(ax):
    """The one filled step patch a histogram panel draws: (values, edges, baseline)."""
    (patch,) = [p for p in ax.patches if isinstance(p, StepPatch)]
    return patch.get_data()


def bar_heights(ax):
    values, _, baseline = _stairs(ax)
    # on a log axis empty bins are drawn at the baseline (below the view), not at 0
    return np.where(values <= (baseline or 0), 0, values)


def bar_edges(ax):
    return _stairs(ax)[1]


@pytest.fixture
def layers():
    rng = np.random.default_rng(0)
    # ReLU-like data: roughly half exact zeros, different scale per layer
    return [np.maximum(0.0, rng.normal(0, 10.0 ** -k, size=(40, 25))) for k in range(7)]


# --------------------------------------------------------------------------
# layer_histograms
# --------------------------------------------------------------------------

def test_layer_histograms_panel_count_and_labels(layers):
    fig = plot.layer_histograms(layers, title="acts", ncols=3)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == len(layers)          # 3x3 grid, two unused cells removed
    assert [ax.get_title() for ax in fig.axes] == [f"layer {i}" for i in range(1, 8)]
    assert fig._suptitle.get_text() == "acts"


def test_layer_histograms_counts_match_numpy(layers):
    fig = plot.layer_histograms(layers, bins=30)
    for ax, data in zip(fig.axes, layers):
        counts, edges = np.histogram(data.ravel(), bins=30)
        np.testing.assert_array_equal(bar_heights(ax), counts)
        # bar x positions carry rounding from matplotlib's alignment arithmetic
        np.testing.assert_allclose(bar_edges(ax), edges, atol=1e-9 * np.ptp(edges))


def test_layer_histograms_nonzero_drops_zeros(layers):
    fig = plot.layer_histograms(layers, nonzero=True, bins=20)
    for ax, data in zip(fig.axes, layers):
        flat = data.ravel()
        nz = flat[flat != 0]
        heights = bar_heights(ax)
        assert heights.sum() == nz.size < flat.size
        np.testing.assert_array_equal(heights, np.histogram(nz, bins=20)[0])
        zero_pct = 100 * np.mean(flat == 0)
        assert f"zeros: {zero_pct:.1f}%" in ax.get_title()


def test_layer_histograms_log_axis(layers):
    fig = plot.layer_histograms(layers[:2], log=True)
    assert all(ax.get_yscale() == "log" for ax in fig.axes)
    fig = plot.layer_histograms(layers[:2])
    assert all(ax.get_yscale() == "linear" for ax in fig.axes)


def test_layer_histograms_range_sharex_and_labels(layers):
    data = [np.array([0.0, 1.0, 2.0]), np.array([5.0, 6.0])]
    fig = plot.layer_histograms(data, labels=["a", "b"], bins=4, sharex=True)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    counts, edges = np.histogram(data[1], bins=4, range=(0.0, 6.0))
    np.testing.assert_array_equal(bar_heights(fig.axes[1]), counts)
    np.testing.assert_allclose(bar_edges(fig.axes[1]), edges)
    lo, hi = fig.axes[0].get_xlim()
    assert fig.axes[1].get_xlim() == (lo, hi) and lo <= 0.0 and hi >= 6.0

    fig = plot.layer_histograms(data, bins=3, range=(-1, 8))
    np.testing.assert_array_equal(bar_heights(fig.axes[0]),
                                  np.histogram(data[0], bins=3, range=(-1, 8))[0])


def test_layer_histograms_dict_and_existing_axes(layers):
    fig, axs = plt.subplots(1, 3)
    out = plot.layer_histograms({"W1": layers[0], "W2": layers[1]}, axes=axs)
    assert out is fig
    assert axs[0].get_title() == "W1" and axs[1].get_title() == "W2"
    assert len(axs[2].patches) == 0   # caller's spare axes untouched


def test_layer_histograms_drops_non_finite():
    fig = plot.layer_histograms([np.array([1.0, 2.0, np.inf, np.nan])], bins=2)
    assert bar_heights(fig.axes[0]).sum() == 2
    assert "2 non-finite dropped" in fig.axes[0].get_title()


def test_layer_histograms_bad_labels(layers):
    with pytest.raises(ValueError):
        plot.layer_histograms(layers[:2], labels=["only one"])
    with pytest.raises(ValueError):
        plot.layer_histograms([])


# --------------------------------------------------------------------------
# histogram_grid
# --------------------------------------------------------------------------

def test_histogram_grid_panels_and_counts(layers):
    rows = [layers[:4], layers[3:7], layers[1:5]]
    fig = plot.histogram_grid(rows, ["small", "xavier", "he"], ["L1", "L2", "L3", "L4"],
                              bins=15, nonzero=True, log=True)
    assert len(fig.axes) == 12
    grid = np.array(fig.axes).reshape(3, 4)
    for i, row in enumerate(rows):
        for j, data in enumerate(row):
            flat = data.ravel()
            np.testing.assert_array_equal(bar_heights(grid[i, j]),
                                          np.histogram(flat[flat != 0], bins=15)[0])
            assert grid[i, j].get_yscale() == "log"
    assert [grid[i, 0].get_ylabel().split("\n")[0] for i in range(3)] == ["small", "xavier", "he"]
    assert grid[0, 2].get_title().startswith("L3")


def test_histogram_grid_ragged_rows(layers):
    fig = plot.histogram_grid([layers[:3], layers[:1]], ["a", "b"], ["1", "2", "3"])
    assert len(fig.axes) == 4


# --------------------------------------------------------------------------
# training_curves
# --------------------------------------------------------------------------

def test_training_curves_loss_and_accuracy():
    hist = {"train_loss": [2.0, 1.5, 1.0], "val_loss": [2.1, 1.7, 1.4],
            "train_accuracy": [0.3, 0.5, 0.7], "val_accuracy": [0.3, 0.4, 0.6]}
    fig = plot.training_curves(hist)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 2
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), [2.0, 1.5, 1.0])
    np.testing.assert_allclose(loss_ax.lines[0].get_xdata(), [1, 2, 3])
    labels = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert labels == ["train", "val"]


def test_training_curves_loss_only_and_as_dict():
    class History:
        def as_dict(self):
            return {"train_loss": np.linspace(1, 0, 10), "best_epoch": 3}

    fig = plot.training_curves(History())
    assert len(fig.axes) == 1
    assert fig.axes[0].get_ylabel() == "loss"


def test_training_curves_mixed_lengths():
    # per-step train loss (4 steps per epoch) next to per-epoch val loss
    fig = plot.training_curves({"train_loss": np.ones(12), "val_loss": np.ones(3)})
    train, val = fig.axes[0].lines
    np.testing.assert_allclose(val.get_xdata(), [1, 2, 3])
    assert train.get_xdata()[-1] == pytest.approx(3.0)
    assert train.get_xdata()[0] == pytest.approx(0.25)


def test_training_curves_nothing_to_plot():
    with pytest.raises(ValueError, match="no series"):
        plot.training_curves({"foo": [1, 2]})


# --------------------------------------------------------------------------
# decision_boundary
# --------------------------------------------------------------------------

def test_decision_boundary_simple_rule():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 2))
    y = (X[:, 0] > 0).astype(int)
    calls = []

    def predict(Z):
        calls.append(Z.shape)
        return (Z[:, 0] > 0).astype(int)

    fig = plot.decision_boundary(predict, X, y, resolution=50, title="sign")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert calls == [(2500, 2)]
    assert ax.get_title() == "sign"
    assert len(ax.collections) >= 2        # filled contour + scatter
    x0, x1 = ax.get_xlim()
    assert x0 < X[:, 0].min() and x1 > X[:, 0].max()


def test_decision_boundary_lambda_and_given_ax():
    X = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    y = np.array([0, 1, 0, 1])
    fig, ax = plt.subplots()
    out = plot.decision_boundary(lambda Z: (Z[:, 0] > 0).astype(int), X, y, ax=ax)
    assert out is fig and len(fig.axes) == 1


def test_decision_boundary_accepts_scores_and_checks_shape():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    y = np.array([0, 1, 2])
    scores = lambda Z: np.stack([-Z[:, 0], Z[:, 1], Z[:, 0] - 1.5], axis=1)  # noqa: E731
    fig = plot.decision_boundary(scores, X, y, resolution=20)
    assert len(fig.axes) == 1
    with pytest.raises(ValueError):
        plot.decision_boundary(lambda Z: Z[:, 0], np.zeros((3, 3)), y)


def _regions(fig):
    """The vertices of the filled region of each class (one path per contour level)."""
    return [p.vertices for p in fig.axes[0].collections[0].get_paths()]


def test_decision_boundary_binary_probabilities_and_scores():
    # one output: predict_proba is sigmoid(z) in one column; it used to be truncated by
    # astype(int), colouring the whole plane class 0
    import mlpc
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = mlpc.Sequential(mlpc.Linear(2, 1), seed=0)
    expected = _regions(plot.decision_boundary(net.predict, X, y, resolution=30))
    assert all(len(v) > 0 for v in expected)            # both classes occur on the grid
    for predict in (net.predict_proba,                              # (M, 1) probabilities
                    lambda Z: net.predict_proba(Z)[:, 0],           # (M,) probabilities
                    lambda Z: np.array(net.forward(Z))[:, 0],       # (M,) scores: at 0
                    lambda Z: np.array(net.forward(Z)),             # (M, 1) scores
                    lambda Z: net.predict(Z).astype(float)):        # float class indices
        got = _regions(plot.decision_boundary(predict, X, y, resolution=30))
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e)


def test_decision_boundary_float_class_indices_and_bad_predictions():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    y = np.array([0, 1, 2])
    three = lambda Z: np.digitize(Z[:, 0], [0.5, 1.5])  # noqa: E731
    expected = _regions(plot.decision_boundary(three, X, y, resolution=20))
    got = _regions(plot.decision_boundary(lambda Z: three(Z).astype(float), X, y,
                                          resolution=20))
    assert len(got) == len(expected) == 3
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    with pytest.raises(ValueError, match="class index -1"):
        plot.decision_boundary(lambda Z: three(Z) - 1, X, y, resolution=20)
    with pytest.raises(ValueError, match="NaN"):
        plot.decision_boundary(lambda Z: np.full(len(Z), np.nan), X, y, resolution=20)
    with pytest.raises(ValueError, match=r"\(400,\) class indices.*got shape \(3,\)"):
        plot.decision_boundary(lambda Z: np.zeros(3), X, y, resolution=20)


# --------------------------------------------------------------------------
# activation_gallery / line_plot
# --------------------------------------------------------------------------

def test_activation_gallery():
    x = np.linspace(-3, 3, 61)
    names = ["relu", "tanh", "sigmoid", "identity", "leaky_relu"]
    sig = 1 / (1 + np.exp(-x))
    ys = [np.maximum(0, x), np.tanh(x), sig, x, np.where(x > 0, x, 0.01 * x)]
    dys = [(x > 0).astype(float), 1 - np.tanh(x) ** 2, sig * (1 - sig), np.ones_like(x),
           np.where(x > 0, 1.0, 0.01)]
    fig = plot.activation_gallery(names, x, ys, dys,
                                  formulas=[r"$\max(0, x)$", None, None, "x", None], ncols=3)
    assert len(fig.axes) == 5
    for ax, name, y, dy in zip(fig.axes, names, ys, dys):
        assert ax.get_title().startswith(name)
        np.testing.assert_allclose(ax.lines[0].get_ydata(), y)
        np.testing.assert_allclose(ax.lines[1].get_ydata(), dy)
        assert ax.get_legend() is not None
    assert r"$\max(0, x)$" in fig.axes[0].get_title()


def test_activation_gallery_per_panel_x():
    xs = [np.linspace(-1, 1, 5), np.linspace(-2, 2, 9)]
    fig = plot.activation_gallery(["a", "b"], xs, [xs[0], xs[1] ** 2], [None, 2 * xs[1]])
    assert len(fig.axes) == 2
    assert len(fig.axes[1].lines[0].get_xdata()) == 9


def test_line_plot():
    x = np.arange(5)
    fig = plot.line_plot(x, {"a": x ** 2, "b": x + 1.0}, title="t", xlabel="step",
                         ylabel="lr", log=True)
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and len(ax.lines) == 2
    assert ax.get_yscale() == "log"
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("t", "step", "lr")


# --------------------------------------------------------------------------
# backend selection
# --------------------------------------------------------------------------

def _probe(tmp_path, env_updates, drop=()):
    """Load plot.py standalone in a fresh interpreter and report the backend."""
    code = textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("plot_probe", {plot.__file__!r})
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        print("lazy" if "matplotlib" not in sys.modules else "eager")
        import matplotlib
        print("chosen" if mod._backend_chosen(matplotlib) else "auto")
        print(mod._pyplot().get_backend().lower())
    """)
    env = {k: v for k, v in os.environ.items() if k not in drop}
    # Keep a user matplotlibrc from choosing the backend for us.
    env.update({"MPLCONFIGDIR": str(tmp_path)}, **env_updates)
    env.pop("MATPLOTLIBRC", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="headless rule is X11/Wayland only")
def test_pyplot_picks_agg_without_display(tmp_path):
    lazy, chosen, backend = _probe(tmp_path, {},
                                   drop=("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND"))
    assert lazy == "lazy"          # importing the module does not import matplotlib
    if chosen == "chosen":
        pytest.skip("the installed matplotlibrc already selects a backend")
    assert backend == "agg"


def test_pyplot_respects_explicit_backend(tmp_path):
    _, chosen, backend = _probe(tmp_path, {"MPLBACKEND": "svg"}, drop=("DISPLAY",))
    assert chosen == "chosen"
    assert backend == "svg"
