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


def _scaled_rows(rng):
    """Three conditions whose scale shrinks, stays, grows by a random factor per layer, as
    under a too small, a right and a too large init (relu-like: about half exact zeros)."""
    layers = int(rng.integers(3, 6))
    factors = (10.0 ** -rng.uniform(1, 3), 1.0, 10.0 ** rng.uniform(1, 3))
    return [[np.maximum(0.0, rng.normal(0, f ** l, size=200)) for l in range(layers)]
            for f in factors]


def test_histogram_grid_magnitudes_on_one_shared_log_axis():
    rng = np.random.default_rng()
    rows = _scaled_rows(rng)
    bins = int(rng.integers(5, 30))
    fig = plot.histogram_grid(rows, ["small", "right", "large"], magnitude=True, sharex="all",
                              bins=bins, xlabel="h_l")
    L = len(rows[0])
    assert len(fig.axes) == 3 * L
    nonzero = [np.abs(v[v != 0]) for r in rows for v in r]
    lo = min(v.min() for v in nonzero)
    hi = max(v.max() for v in nonzero)
    edges = np.logspace(np.log10(lo), np.log10(hi), bins + 1)
    edges[0], edges[-1] = lo, hi          # the extreme values are counted, not lost to rounding
    for ax, values, flat in zip(fig.axes, nonzero, [v for r in rows for v in r]):
        assert ax.get_xscale() == "log"
        np.testing.assert_allclose(bar_edges(ax), edges, rtol=1e-12)
        np.testing.assert_array_equal(bar_heights(ax), np.histogram(values, bins=edges)[0])
        assert f"zeros: {100 * np.mean(flat == 0):.1f}%" in ax.get_title()
    assert len({ax.get_xlim() for ax in fig.axes}) == 1          # one x-axis for all
    # tick labels under the bottom row only; the quantity named there
    assert all(len(ax.get_xticks()) == 0 for ax in fig.axes[:-L])
    assert all(len(ax.get_xticks()) > 0 for ax in fig.axes[-L:])
    assert all(ax.get_xlabel() == "|h_l| (log scale)" for ax in fig.axes[-L:])
    assert all(ax.get_title().startswith(f"layer {j + 1}")
               for i in range(3) for j, ax in enumerate(fig.axes[i * L:(i + 1) * L]))
    assert [fig.axes[i * L].get_ylabel() for i in range(3)] == \
        ["small\ncount", "right\ncount", "large\ncount"]


def test_histogram_grid_row_and_independent_ranges():
    rows = _scaled_rows(np.random.default_rng())
    fig = plot.histogram_grid(rows, sharex="row", bins=10)
    L = len(rows[0])
    for i, r in enumerate(rows):
        axes = fig.axes[i * L:(i + 1) * L]
        lo, hi = min(v.min() for v in r), max(v.max() for v in r)
        for ax in axes:
            np.testing.assert_allclose(bar_edges(ax), np.linspace(lo, hi, 11))
    assert len({ax.get_xlim() for ax in fig.axes}) == 3           # one per row
    fig = plot.histogram_grid(rows, bins=10)
    for ax, v in zip(fig.axes, [v for r in rows for v in r]):
        np.testing.assert_allclose(bar_edges(ax), np.histogram_bin_edges(v, bins=10))
    with pytest.raises(ValueError, match="sharex"):
        plot.histogram_grid(rows, sharex="columns")


def test_empty_zero_and_constant_panels_are_labelled_states():
    values = [np.zeros((5, 4)), np.full(7, 0.25), np.array([np.nan, np.inf]), np.array([]),
              np.array([0.0, 1.0, 2.0])]
    for kwargs in (dict(nonzero=True), dict(magnitude=True), dict(log=True)):
        fig = plot.layer_histograms(values, **kwargs)
        states = [[t.get_text() for t in ax.texts] for ax in fig.axes]
        expected = ["all zeros", "all |v| = 0.25" if "magnitude" in kwargs else "all = 0.25",
                    "no finite values", "empty"]
        assert states[:4] == [[e] for e in expected]
        for ax in fig.axes[:4]:                      # no axes to misread, no histogram
            assert len(ax.get_xticks()) == len(ax.get_yticks()) == 0
            assert not ax.patches and not ax.get_xlabel()
        assert states[4] == [] and bar_heights(fig.axes[4]).sum() > 0
    # a grid: the all-zero row of a dead network
    rows = [[np.array([1.0, 2.0, 3.0]), np.arange(4.0)], [np.zeros(3), np.zeros(4)]]
    fig = plot.histogram_grid(rows, ["alive", "dead"], nonzero=True, sharex="all")
    assert [t.get_text() for t in fig.axes[2].texts] == ["all zeros"]
    assert fig.axes[2].get_ylabel() == "dead"                    # no "count" of nothing
    assert len(fig.axes[0].get_xticks()) > 0                     # ticks where there is data


def test_histogram_grid_strips_one_line_per_row():
    rng = np.random.default_rng()
    rows = _scaled_rows(rng)
    L = len(rows[0])
    std = [[float(np.std(v)) for v in r] for r in rows]
    zeros = [[float(np.mean(v == 0)) for v in r] for r in rows]
    fig = plot.histogram_grid(rows, ["σ=0.01", "He\nσ=√(2/n)", "σ=1"], magnitude=True,
                              strips=[("std of h_l", std, "log"), ("zeros", zeros, "fraction")])
    assert len(fig.axes) == 3 * L + 2
    std_ax, zero_ax = fig.axes[-2:]
    assert std_ax.get_yscale() == "log" and std_ax.get_title() == "std of h_l"
    assert zero_ax.get_yscale() == "linear" and zero_ax.get_ylim()[0] < 0 < 1 < \
        zero_ax.get_ylim()[1]
    assert zero_ax.get_xlabel() == "layer"       # under the lower of the two stacked strips
    for ax, values in ((std_ax, std), (zero_ax, zeros)):
        lines = ax.get_lines()
        assert len(lines) == 3
        for line, row, i in zip(lines, values, range(3)):
            np.testing.assert_allclose(line.get_xdata(), np.arange(1, L + 1))
            np.testing.assert_allclose(line.get_ydata(), row)
            # each row's histograms share its line's colour
            hist_color = fig.axes[i * L].patches[0].get_facecolor()
            np.testing.assert_allclose(matplotlib.colors.to_rgba(line.get_color())[:3],
                                       hist_color[:3])
    assert [t.get_text() for t in std_ax.get_legend().get_texts()] == ["σ=0.01", "He", "σ=1"]
    with pytest.raises(ValueError, match="one value per panel"):
        plot.histogram_grid(rows, strips=[("std", std[:2], "log")])
    with pytest.raises(ValueError, match="strip scale"):
        plot.histogram_grid(rows, strips=[("std", std, "cubic")])


def _overlaps(boxes):
    return [(a, b) for k, a in enumerate(boxes) for b in boxes[k + 1:] if a.overlaps(b)]


def test_tick_labels_do_not_overlap_and_need_no_offset_text():
    """Gradients of 1e-5 and of 1e4 in one grid: every tick label is readable on its own (no
    '1e-5' offset text in a corner) and no two labels of one axis overlap."""
    rng = np.random.default_rng()
    rows = [[rng.normal(0, 10.0 ** e, 500) for e in (-5, -2, 1, 4)] for _ in range(2)]
    for kwargs in (dict(magnitude=True, sharex="all"), dict(sharex="row"), dict(log=True)):
        fig = plot.histogram_grid(rows, ["a", "b"], **kwargs)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
                assert not _overlaps([t.get_window_extent(renderer) for t in labels])
                assert axis.get_offset_text().get_text() == ""


def test_recorder_plot_names_layer_and_quantity():
    import mlpc
    net = mlpc.Sequential(mlpc.Linear(4, 6), mlpc.ReLU(), mlpc.Linear(6, 3), seed=0)
    rec = mlpc.Recorder(what=("output", "grad"), keep_values=True)
    rng = np.random.default_rng()
    X, y = rng.normal(size=(16, 4)), rng.integers(0, 3, 16)
    mlpc.fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, lr=0.1), X, y, epochs=1,
             batch_size=8, callbacks=[rec], progress=False)
    fig = rec.plot(quantity="output")
    assert [ax.get_title() for ax in fig.axes] == ["layer 0", "layer 1", "layer 2"]
    assert all(ax.get_xlabel() == "output" and ax.get_ylabel() == "count" for ax in fig.axes)
    assert fig._suptitle.get_text().startswith("output at step")
    fig = rec.plot(quantity="grad")
    assert [ax.get_title() for ax in fig.axes] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all("gradient" in ax.get_xlabel() for ax in fig.axes)


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
