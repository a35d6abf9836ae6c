"""mlpc.plot.training_health, headless: six labelled panels, log axes where the quantities span
decades, the 1e-3 guide, one legend naming the layers, and panels whose quantity was not
recorded saying so."""
import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import mlpc  # noqa: E402


def recorded(what="all", range={"output": (-1, 1), "grad_output": (-0.05, 0.05)}, **kw):
    rng = np.random.default_rng()
    X, y = rng.standard_normal((60, 6)), rng.integers(0, 3, 60)
    net = mlpc.Sequential(mlpc.Linear(6, 10), mlpc.Tanh(), mlpc.Linear(10, 10), mlpc.Tanh(),
                          mlpc.Linear(10, 3))
    rec = mlpc.Recorder(what=what, range=range, **kw)
    mlpc.fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=2,
             batch_size=20, callbacks=[rec], progress=False)
    return rec


def texts(ax):
    return " ".join(t.get_text() for t in ax.texts)


def test_training_health_panels_labels_and_scales():
    rec = recorded()
    fig = mlpc.plot.training_health(rec)
    axes = fig.axes
    assert len(axes) == 6
    for ax in axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        assert "not recorded" not in texts(ax)
    assert axes[0].get_title() == "activation std per layer"
    assert "0.99" in axes[1].get_title()
    assert axes[2].get_yscale() == "log" and axes[3].get_yscale() == "log"
    # the activation panels draw the Tanh layers "1" and "3", with the recorder's numbers
    np.testing.assert_allclose(axes[0].lines[1].get_ydata(), rec.moments("3")["std"])
    np.testing.assert_allclose(axes[1].lines[0].get_ydata(),
                               100 * rec.moments("1")["saturation"])
    guide = [line for line in axes[3].lines if line.get_label() == "1e-3 guide"]
    assert len(guide) == 1 and set(guide[0].get_ydata()) == {1e-3}
    assert [t.get_text() for t in axes[3].get_legend().get_texts()] == \
        ["0.weight", "2.weight", "4.weight", "1e-3 guide"]
    np.testing.assert_allclose(axes[3].lines[0].get_ydata(), rec.ratio("0.weight", "update"))
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["layer 1 (Tanh)", "layer 3 (Tanh)"]
    assert "step 5" in axes[4].get_title() and len(axes[4].lines) == 2
    plt.close(fig)


def test_training_health_says_what_to_record():
    rec = recorded(what=("output", "grad_output"), range=None)
    fig = mlpc.plot.training_health(rec, layers=("0", "1"))
    axes = fig.axes
    assert len(axes) == 6
    assert "not recorded" in texts(axes[3]) and 'what="all"' in texts(axes[3])
    assert "range" in texts(axes[4]) and "range" in texts(axes[5])
    assert len(axes[0].lines) == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="no recorded output for layer"):
        mlpc.plot.training_health(rec, layers="7")
    with pytest.raises(ValueError, match="no snapshots"):
        mlpc.plot.training_health(mlpc.Recorder())
    with pytest.raises(TypeError, match="Recorder"):
        mlpc.plot.training_health({})


def test_training_health_of_relu_layers_shows_inactive_units():
    rng = np.random.default_rng()
    X, y = rng.standard_normal((40, 4)), rng.integers(0, 2, 40)
    net = mlpc.Sequential(mlpc.Linear(4, 8), mlpc.ReLU(), mlpc.Linear(8, 2))
    rec = mlpc.Recorder()
    mlpc.fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=1,
             batch_size=10, callbacks=[rec], progress=False)
    fig = mlpc.plot.training_health(rec)
    ax = fig.axes[1]
    assert "ReLU" in ax.get_title() and "0" in ax.get_ylabel()
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 100 * rec.moments("1")["zero_fraction"])
    plt.close(fig)


def test_training_health_draws_kept_values_without_a_range():
    rec = recorded(what=("output", "grad_output"), range=None, keep_values=True)
    fig = mlpc.plot.training_health(rec)
    for ax in fig.axes[4:]:
        assert len(ax.lines) == 2 and ax.get_ylabel() == "density"
        x = np.concatenate([ln.get_xdata() for ln in ax.lines])
        assert np.isfinite(x).all()
    plt.close(fig)
