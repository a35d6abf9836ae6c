"""mlpc.lr_find: the network and optimizer are left bit-identical; the lr sweep, the smoothing
and the suggested lr follow the documented rule (recomputed here with NumPy)."""
import numpy as np
import pytest

import mlpc


def state(net, opt):
    s = {k: np.array(v) for k, v in net.state_dict().items()}
    s.update({f"opt.{k}": np.array(v) for k, v in opt.state_dict().items()})
    s["rng"] = np.array(net._core.rng_state(net[3]._index))
    s["training"] = np.array(net.training)
    return s


def test_lr_find_leaves_network_and_optimizer_bit_identical():
    rng = np.random.default_rng()
    X, y = rng.standard_normal((300, 8)), rng.integers(0, 4, 300)
    net = mlpc.Sequential(mlpc.Linear(8, 16), mlpc.BatchNorm(16), mlpc.ReLU(), mlpc.Dropout(0.2),
                          mlpc.Linear(16, 4))
    opt = mlpc.Adam(net, lr=1e-3)
    loss = mlpc.SoftmaxCrossEntropy()
    for k in range(3):                                   # optimizer state that is not zero
        net.train_step(X[:50], y[:50], loss, opt)
    net.eval()
    before = state(net, opt)
    result = mlpc.lr_find(net, loss, opt, X, y, num_steps=60, batch_size=32, seed=1)
    after = state(net, opt)
    assert before.keys() == after.keys()
    for key in before:
        assert before[key].tobytes() == after[key].tobytes(), key
    lrs, losses, suggested = result
    n = len(lrs)
    assert 3 <= n <= 60 and losses.shape == (n,)
    full = 1e-7 * (10 / 1e-7) ** (np.arange(60) / 59)
    np.testing.assert_allclose(lrs, full[:n], rtol=1e-12)
    assert suggested is None or lrs[0] <= suggested <= lrs[-1]


def test_lr_find_smoothing_divergence_and_suggestion_rule():
    rng = np.random.default_rng()
    X = rng.standard_normal((400, 5))
    y = (X @ rng.standard_normal((5, 3))).argmax(1)
    net = mlpc.Sequential(mlpc.Linear(5, 12), mlpc.Tanh(), mlpc.Linear(12, 3))
    opt = mlpc.SGD(net, lr=0.1, momentum=0.9)
    r = mlpc.lr_find(net, mlpc.SoftmaxCrossEntropy(), opt, X, y, start_lr=1e-4, end_lr=1e3,
                     num_steps=150, batch_size=40, smoothing=0.8, diverge=3.0, skip_start=5)
    beta = 0.8
    avg, smoothed = 0.0, []
    for k, c in enumerate(r.losses):
        avg = beta * avg + (1 - beta) * c
        smoothed.append(avg / (1 - beta ** (k + 1)))
    smoothed = np.array(smoothed)
    np.testing.assert_allclose(r.smoothed, smoothed, rtol=1e-12)
    # lr up to 1e3 diverges: the test stops once the smoothed cost exceeds 3x its minimum
    # (or the next cost is not finite), and not before
    assert r.stopped_early and len(r.lrs) == len(r.losses) < 150
    assert np.all(smoothed[:-1] <= 3 * np.minimum.accumulate(smoothed[:-1]))
    stop = int(np.argmin(smoothed)) + 1
    if stop - 5 < 3:                                 # too few steps before the minimum
        assert r.suggested_lr is None
    else:
        window = slice(5, stop)
        slope = np.gradient(smoothed[window], np.log10(r.lrs[window]))
        assert r.suggested_lr == r.lrs[window][np.argmin(slope)]
    assert "suggested_lr" in repr(r)


def test_lr_find_plot():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    rng = np.random.default_rng()
    X, y = rng.standard_normal((200, 4)), rng.integers(0, 2, 200)
    net = mlpc.Sequential(mlpc.Linear(4, 8), mlpc.ReLU(), mlpc.Linear(8, 2))
    r = mlpc.lr_find(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, num_steps=80)
    fig = r.plot()
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() and ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["batch cost", "smoothed"]
    assert r.suggested_lr is None or "suggested" in labels[-1]
    plt.close(fig)


def test_lr_find_rejects_bad_arguments():
    X, y = np.ones((10, 3)), np.zeros(10, dtype=int)
    net = mlpc.Sequential(mlpc.Linear(3, 2))
    other = mlpc.Sequential(mlpc.Linear(3, 2))
    loss = mlpc.SoftmaxCrossEntropy()
    with pytest.raises(ValueError, match="another network"):
        mlpc.lr_find(net, loss, mlpc.SGD(other, 0.1), X, y)
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        mlpc.lr_find(net, loss, mlpc.SGD(net, 0.1), X, y, start_lr=1, end_lr=0.1)
    with pytest.raises(ValueError, match="num_steps"):
        mlpc.lr_find(net, loss, mlpc.SGD(net, 0.1), X, y, num_steps=1)
    with pytest.raises(ValueError, match="smoothing"):
        mlpc.lr_find(net, loss, mlpc.SGD(net, 0.1), X, y, smoothing=1.0)
    with pytest.raises(TypeError, match="optimizer"):
        mlpc.lr_find(net, loss, "sgd", X, y)
