"""Tests of mlpc.training: fit, History, callbacks (EarlyStopping), evaluate, progress.

Numbers are checked against independent recomputations: the pure-NumPy reference
(tests/reference.py) replays the same mini-batch schedule."""
import io
import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import reference as ref  # noqa: E402

import mlpc  # noqa: E402
from mlpc import data  # noqa: E402
from mlpc.training import fit, evaluate, History, Callback, EarlyStopping  # noqa: E402
from mlpc.progress import ProgressBar, enabled, where  # noqa: E402


# -- helpers ---------------------------------------------------------------------------------------
def ref_mlp(state, X, relu_layers=(0,), n_linear=2):
    """Reference forward of Linear(0) -> ReLU -> Linear(2) stacks (names "0", "2", ...)."""
    h = X
    for k in range(n_linear):
        name = str(2 * k)
        h = ref.linear_forward(h, state[name + ".weight"], state[name + ".bias"])
        if k < n_linear - 1:
            h = ref.relu(h)
    return h


def ref_cost_accuracy(state, X, y, l2=0.0):
    scores = ref_mlp(state, X)
    cost, _ = ref.softmax_cross_entropy(scores, y)
    penalty, _ = ref.l2_penalty([state["0.weight"], state["2.weight"]], l2)
    return cost + penalty, float(np.mean(np.argmax(scores, axis=1) == y))


def small_problem(n=50, dim=6, classes=3, seed=0):
    X, y = data.gaussian_inputs(n, dim, classes, seed=seed)
    return np.asarray(X, dtype=np.float64), np.asarray(y)


class StepLog(Callback):
    def __init__(self):
        self.calls = []
        self.infos = []

    def on_train_begin(self, fit):
        self.calls.append(("begin", fit.steps_per_epoch))

    def on_step_end(self, step, info):
        self.calls.append(("step", step))
        self.infos.append(dict(info))

    def on_epoch_end(self, epoch, logs):
        self.calls.append(("epoch", epoch))

    def on_train_end(self, fit):
        self.calls.append(("end",))


# -- the acceptance run ----------------------------------------------------------------------------
def test_fit_fashion_mnist_subset_over_80_percent():
    (X, y), (Xt, yt) = data.load_fashion_mnist()
    X, Xt = data.standardize(X, Xt)
    net = mlpc.Sequential(mlpc.Linear(784, 100), mlpc.ReLU(), mlpc.Linear(100, 10), seed=0)
    opt = mlpc.Adam(net, lr=1e-3)
    history = fit(net, mlpc.SoftmaxCrossEntropy(), opt, X, y, epochs=5, batch_size=100, seed=0,
                  validation_data=(Xt, yt), progress=False)
    # accuracy computed independently from the trained weights
    scores = ref_mlp(net.state_dict(), Xt)
    accuracy = np.mean(np.argmax(scores, axis=1) == yt)
    assert accuracy > 0.80
    assert history["val_accuracy"][-1] == pytest.approx(accuracy, abs=1e-12)
    assert history["train_cost"][-1] < history["train_cost"][0]
    assert len(history["step_cost"]) == 5 * 60

    # deterministic: the same seeds give the same run, bit for bit
    net2 = mlpc.Sequential(mlpc.Linear(784, 100), mlpc.ReLU(), mlpc.Linear(100, 10), seed=0)
    history2 = fit(net2, mlpc.SoftmaxCrossEntropy(), mlpc.Adam(net2, lr=1e-3), X, y, epochs=1,
                   batch_size=100, seed=0, progress=False)
    np.testing.assert_array_equal(history2["step_cost"], history["step_cost"][:60])


# -- History against a NumPy replay ----------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [True, False])
def test_history_matches_reference_replay(shuffle):
    X, y = small_problem(50)
    Xv, yv = small_problem(20, seed=1)
    l2, mu, seed, bs, epochs = 0.01, 0.9, 3, 16, 3
    net = mlpc.Sequential(mlpc.Linear(6, 8), mlpc.ReLU(), mlpc.Linear(8, 3), dtype="float64",
                          l2=l2, seed=1)
    state = net.state_dict()
    sched = lambda t: 0.1 / (1 + 0.5 * t)  # noqa: E731
    opt = mlpc.SGD(net, lr=1.0, momentum=mu)
    log = StepLog()
    history = fit(net, mlpc.SoftmaxCrossEntropy(), opt, X, y, epochs=epochs, batch_size=bs,
                  shuffle=shuffle, seed=seed, validation_data=(Xv, yv), schedule=sched,
                  callbacks=[log], progress=False)
    assert opt.schedule is sched

    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    params = [state[k].copy() for k in names]
    opt_state = None
    rng = np.random.default_rng(seed)
    t = 0
    costs, lrs, norms, sizes, epoch_rows = [], [], [], [], []
    for epoch in range(epochs):
        order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
        for start in range(0, len(X), bs):
            idx = order[start:start + bs]
            xb, yb = X[idx], y[idx]
            W1, b1, W2, b2 = params
            s1 = ref.linear_forward(xb, W1, b1)
            h = ref.relu(s1)
            s2 = ref.linear_forward(h, W2, b2)
            loss, dS = ref.softmax_cross_entropy(s2, yb)
            penalty, (gW1p, gW2p) = ref.l2_penalty([W1, W2], l2)
            dh, gW2, gb2 = ref.linear_backward(dS, h, W2)
            _, gW1, gb1 = ref.linear_backward(dh * ref.d_relu(s1), xb, W1)
            grads = [gW1 + gW1p, gb1, gW2 + gW2p, gb2]
            costs.append(loss + penalty)
            lrs.append(sched(t))
            norms.append(math.sqrt(sum(float(np.sum(g * g)) for g in grads)))
            sizes.append(len(idx))
            params, opt_state = ref.sgd_step(params, grads, opt_state, lr=sched(t), momentum=mu)
            t += 1
        st = dict(zip(names, params))
        epoch_rows.append(ref_cost_accuracy(st, X, y, l2) + ref_cost_accuracy(st, Xv, yv, l2))

    d = history.as_dict()
    np.testing.assert_allclose(d["step_cost"], costs, rtol=1e-10)
    np.testing.assert_allclose(d["step_lr"], lrs, rtol=1e-12)
    np.testing.assert_allclose(d["step_grad_norm"], norms, rtol=1e-10)
    assert [info["batch_size"] for info in log.infos] == sizes == [16, 16, 16, 2] * epochs
    rows = np.array(epoch_rows)
    np.testing.assert_allclose(d["train_cost"], rows[:, 0], rtol=1e-10)
    np.testing.assert_allclose(d["train_accuracy"], rows[:, 1])
    np.testing.assert_allclose(d["val_cost"], rows[:, 2], rtol=1e-10)
    np.testing.assert_allclose(d["val_accuracy"], rows[:, 3])
    np.testing.assert_array_equal(d["epoch"], [1, 2, 3])
    assert d["time"].shape == (3,) and np.all(d["time"] >= 0)
    for k, p in zip(names, params):
        np.testing.assert_allclose(net.state_dict()[k], p, rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(history["val_cost"], d["val_cost"])
    assert history.last["val_cost"] == d["val_cost"][-1]
    assert len(history) == 3


def test_train_metrics_steps_is_weighted_mean_of_step_costs():
    X, y = small_problem(50)
    net = mlpc.Sequential(mlpc.Linear(6, 8), mlpc.ReLU(), mlpc.Linear(8, 3), dtype="float64",
                          seed=2)
    log = StepLog()
    h = fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=2, batch_size=16,
            seed=0, train_metrics="steps", callbacks=[log], progress=False)
    sizes = np.array([i["batch_size"] for i in log.infos], dtype=float)
    costs = h["step_cost"]
    for e in range(2):
        sl = slice(4 * e, 4 * e + 4)
        assert h["train_cost"][e] == pytest.approx(np.sum(costs[sl] * sizes[sl]) / 50, rel=1e-12)
    assert np.all((h["train_accuracy"] >= 0) & (h["train_accuracy"] <= 1))


def test_batchnorm_remainder_of_one_joins_previous_batch():
    X, y = small_problem(33)
    net = mlpc.Sequential(mlpc.Linear(6, 8), mlpc.BatchNorm(8), mlpc.ReLU(), mlpc.Linear(8, 3),
                          seed=0)
    log = StepLog()
    fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=1, batch_size=16,
        callbacks=[log], progress=False)
    assert [i["batch_size"] for i in log.infos] == [16, 17]
    # without batch norm the batch of one is used as is
    net = mlpc.Sequential(mlpc.Linear(6, 8), mlpc.ReLU(), mlpc.Linear(8, 3), seed=0)
    log = StepLog()
    fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=1, batch_size=16,
        callbacks=[log], progress=False)
    assert [i["batch_size"] for i in log.infos] == [16, 16, 1]


# -- evaluate --------------------------------------------------------------------------------------
def test_evaluate_eval_mode_batches_and_restores_mode():
    X, y = small_problem(30)
    net = mlpc.Sequential(mlpc.Linear(6, 8), mlpc.BatchNorm(8), mlpc.ReLU(), mlpc.Dropout(0.5),
                          mlpc.Linear(8, 3), dtype="float64", l2=0.02, seed=0)
    fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=2, batch_size=10,
        progress=False)
    s = net.state_dict()
    h = ref.batchnorm_eval(ref.linear_forward(X, s["0.weight"], s["0.bias"]),
                           s["1.running_mean"], s["1.running_var"], s["1.weight"], s["1.bias"])
    scores = ref.linear_forward(ref.relu(h), s["4.weight"], s["4.bias"])
    loss, _ = ref.softmax_cross_entropy(scores, y)
    penalty, _ = ref.l2_penalty([s["0.weight"], s["4.weight"]], 0.02)
    for mode in (True, False):
        net.train(mode)
        cost, acc = evaluate(net, mlpc.SoftmaxCrossEntropy(), X, y, batch_size=7)
        assert net.training is mode
        assert cost == pytest.approx(loss + penalty, rel=1e-12)
        assert acc == np.mean(np.argmax(scores, axis=1) == y)


def test_accuracy_binary_cross_entropy_and_none_for_mse():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    Y = (rng.random((40, 3)) > 0.5).astype(float)
    net = mlpc.Sequential(mlpc.Linear(5, 3), dtype="float64", seed=0)
    cost, acc = evaluate(net, mlpc.BinaryCrossEntropy(), X, Y)
    s = net.state_dict()
    scores = ref.linear_forward(X, s["0.weight"], s["0.bias"])
    assert cost == pytest.approx(ref.binary_cross_entropy_with_logits(scores, Y)[0], rel=1e-12)
    assert acc == np.mean((scores > 0) == (Y > 0.5))
    cost, acc = evaluate(net, mlpc.MSELoss(), X, Y)
    assert acc is None and cost == pytest.approx(ref.mse(scores, Y)[0], rel=1e-12)
    h = fit(net, mlpc.MSELoss(), mlpc.SGD(net, 0.01), X, Y, epochs=1, progress=False)
    assert "train_accuracy" not in h.as_dict() and "train_cost" in h.as_dict()


def test_one_hot_targets_accuracy_by_argmax():
    X, y = small_problem(30)
    net = mlpc.Sequential(mlpc.Linear(6, 3), dtype="float64", seed=0)
    _, acc_labels = evaluate(net, mlpc.SoftmaxCrossEntropy(), X, y)
    _, acc_onehot = evaluate(net, mlpc.SoftmaxCrossEntropy(), X, ref.one_hot(y, 3))
    assert acc_labels == acc_onehot


def test_argument_errors():
    X, y = small_problem(20)
    net = mlpc.Sequential(mlpc.Linear(6, 3), seed=0)
    other = mlpc.Sequential(mlpc.Linear(6, 3), seed=0)
    loss = mlpc.SoftmaxCrossEntropy()
    with pytest.raises(ValueError, match="another network"):
        fit(net, loss, mlpc.SGD(other, 0.1), X, y, progress=False)
    with pytest.raises(ValueError, match="width 6"):
        fit(net, loss, mlpc.SGD(net, 0.1), X[:, :5], y, progress=False)
    with pytest.raises(ValueError, match="targets"):
        fit(net, loss, mlpc.SGD(net, 0.1), X, y[:-1], progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        fit(net, loss, mlpc.SGD(net, 0.1), X, y, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="train_metrics"):
        fit(net, loss, mlpc.SGD(net, 0.1), X, y, train_metrics="mean", progress=False)
    with pytest.raises(TypeError):
        fit(net, "ce", mlpc.SGD(net, 0.1), X, y, progress=False)


# -- non-finite costs ------------------------------------------------------------------------------
class Snapshots(Callback):
    """state_dict after every step (= before the next one), the first one before training."""

    def __init__(self, net):
        self.net = net
        self.states = [net.state_dict()]

    def on_step_end(self, step, info):
        self.states.append(self.net.state_dict())


def assert_state_equal(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_huge_learning_rate_stops_with_network_intact():
    """The cost of step k is measured on the state before step k: a non-finite cost means that
    state is bad, so the network goes back to the state before step k - 1, which gave a finite
    cost; a non-finite gradient alone condemns only the update of step k."""
    X, y = small_problem(64, dim=4)
    net = mlpc.Sequential(mlpc.Linear(4, 8), mlpc.ReLU(), mlpc.BatchNorm(8), mlpc.Dropout(0.3),
                          mlpc.Linear(8, 3), dtype="float64", seed=0)
    snaps = Snapshots(net)
    with pytest.raises(FloatingPointError, match=r"at step (\d+)") as info:
        fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, lr=1e30), X, y, epochs=5,
            batch_size=16, seed=1, callbacks=[snaps], progress=False)
    import re
    message = str(info.value)
    bad = int(re.search(r"at step (\d+)", message).group(1))
    assert bad == len(snaps.states) - 1          # the failing step reported no step_end
    restored = int(re.search(r"before step (\d+)", message).group(1))
    assert restored == (bad - 1 if "the cost is" in message else bad)
    assert all(np.isfinite(v).all() for v in snaps.states[restored].values())
    assert_state_equal(net.state_dict(), snaps.states[restored])
    assert net.training is True


def test_an_infinite_cost_restores_the_last_state_with_a_finite_cost():
    """Regression: weights that grow without turning NaN give an infinite MSE; the restored
    network must be the one before the last step whose cost was finite, not the one that gave
    the infinite cost."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 20)).astype(np.float32)
    Y = (X.sum(1, keepdims=True) * 1e3).astype(np.float32)
    net = mlpc.Sequential(mlpc.Linear(20, 16), mlpc.ReLU(), mlpc.Linear(16, 1), seed=0)
    snaps, log = Snapshots(net), StepLog()
    # (the divergence guard now stops the run before the cost reaches inf, the same way)
    with pytest.raises(FloatingPointError, match="the cost is (inf|.*the run diverges)") as info:
        fit(net, mlpc.MSELoss(), mlpc.SGD(net, lr=1.0), X, Y, epochs=10, batch_size=50,
            shuffle=False, callbacks=[snaps, log], progress=False)
    import re
    bad = int(re.search(r"at step (\d+)", str(info.value)).group(1))
    assert f"before step {bad - 1}" in str(info.value)
    assert_state_equal(net.state_dict(), snaps.states[bad - 1])
    # the restored network gives the finite cost that step bad - 1 reported
    lo = (bad - 1) % 6 * 50
    state = net.state_dict()
    h = np.maximum(X[lo:lo + 50] @ state["0.weight"].T + state["0.bias"], 0)
    out = h.astype(np.float64) @ state["2.weight"].T + state["2.bias"]
    cost = np.mean(np.sum((out - Y[lo:lo + 50]) ** 2, axis=1)) / 2
    assert np.isfinite(cost)
    np.testing.assert_allclose(cost, log.infos[bad - 1]["cost"], rtol=1e-4)


def test_bad_inputs_and_targets_are_refused_before_the_first_step():
    X, y = small_problem(48, dim=4)
    net = mlpc.Sequential(mlpc.Linear(4, 8), mlpc.ReLU(), mlpc.Linear(8, 3), seed=0)
    before = net.state_dict()
    loss, opt = mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1)
    X_nan = X.copy()
    X_nan[37, 2] = np.nan
    bad_y = y.copy()
    bad_y[45] = 7
    cases = [
        (dict(X=X_nan), ValueError, r"X holds NaN or infinity \(first at \(37, 2\)\)"),
        (dict(y=bad_y), ValueError, r"y: class labels must be in \[0, 3\) .* got 7 at row 45"),
        (dict(y=y.astype(float) + 0.5), ValueError,
         r"y: float class labels must be whole numbers in \[0, 3\) .* got \d\.5 at row 0"),
        (dict(y=y[:, None]), ValueError, r"y: class labels must have shape \(\d+,\), got a column"),
        (dict(y=y.astype(str)), TypeError, "class labels must be integers"),
        (dict(validation_data=(X, y + 3)), ValueError, "validation y: class labels"),
        (dict(validation_data=(X, np.eye(4)[y])), ValueError,
         r"validation y: expected shape \(48, 3\) .* got \(48, 4\)"),
        (dict(validation_data=(X_nan, y)), ValueError, "validation X holds NaN"),
    ]
    for change, error, match in cases:
        args = dict(X=X, y=y, validation_data=None) | change
        with pytest.raises(error, match=match):
            fit(net, loss, opt, args["X"], args["y"], epochs=1, batch_size=16,
                validation_data=args["validation_data"], progress=False)
        assert_state_equal(net.state_dict(), before)
    with pytest.raises(ValueError, match="at row 45"):
        evaluate(net, loss, X, bad_y)
    Y = np.ones((48, 3))
    Y[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"y holds NaN or infinity \(first at \(3, 1\)\)"):
        fit(net, mlpc.MSELoss(), opt, X, Y, progress=False)


# -- callbacks -------------------------------------------------------------------------------------
def test_callback_protocol_and_stopping():
    X, y = small_problem(40)
    net = mlpc.Sequential(mlpc.Linear(6, 3), seed=0)
    log = StepLog()
    h = fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=2, batch_size=20,
            callbacks=[log], progress=False)
    assert log.calls == [("begin", 2), ("step", 0), ("step", 1), ("epoch", 0), ("step", 2),
                         ("step", 3), ("epoch", 1), ("end",)]
    assert [i["epoch"] for i in log.infos] == [0, 0, 1, 1]
    assert [i["batch"] for i in log.infos] == [0, 1, 0, 1]
    assert [i["cost"] for i in log.infos] == list(h.step_cost)

    class StopAtStep(Callback):
        def on_step_end(self, step, info):
            return step == 2

    h = fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=5, batch_size=10,
            callbacks=[StopAtStep()], progress=False)
    assert len(h.step_cost) == 3 and len(h) == 1

    class StopAtEpoch(Callback):
        def on_epoch_end(self, epoch, logs):
            return epoch == 1

    h = fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=5, batch_size=10,
            callbacks=[StopAtEpoch()], progress=False)
    assert len(h) == 2 and len(h.step_cost) == 8


class EpochStates(Callback):
    def __init__(self, net):
        self.net = net
        self.states, self.val = [], []

    def on_epoch_end(self, epoch, logs):
        self.states.append(self.net.state_dict())
        self.val.append(logs["val_cost"])


def test_early_stopping_restores_best_weights():
    (X, y), (Xt, yt) = data.load_fashion_mnist()
    X, Xt = data.standardize(X, Xt)
    X, y, Xv, yv = X[:200], y[:200], Xt[:300], yt[:300]    # small: it overfits quickly
    net = mlpc.Sequential(mlpc.Linear(784, 64), mlpc.ReLU(), mlpc.Linear(64, 10),
                          dtype="float64", seed=0)
    states = EpochStates(net)
    stopper = EarlyStopping("val_cost", patience=2)
    h = fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.Adam(net, 3e-3), X, y, epochs=40,
            batch_size=20, seed=0, validation_data=(Xv, yv), callbacks=[states, stopper],
            progress=False)
    best = int(np.argmin(states.val))
    assert stopper.stopped_epoch is not None and stopper.stopped_epoch == best + 2
    assert len(h) == best + 3 < 40
    assert stopper.best_epoch == best and stopper.best_value == states.val[best]
    assert_state_equal(net.state_dict(), states.states[best])
    # the logged validation cost of the restored weights, recomputed independently
    cost, _ = ref_cost_accuracy(net.state_dict(), Xv, yv)
    assert cost == pytest.approx(states.val[best], rel=1e-10)


def test_early_stopping_arguments():
    X, y = small_problem(20)
    net = mlpc.Sequential(mlpc.Linear(6, 3), seed=0)
    with pytest.raises(ValueError, match="validation_data"):
        fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y,
            callbacks=[EarlyStopping()], progress=False)
    with pytest.raises(ValueError, match="monitor"):
        EarlyStopping("val_loss")
    assert EarlyStopping("val_accuracy").mode == "max"
    # monitoring the training cost needs no validation set; restore at the end
    stopper = EarlyStopping("train_cost", patience=100)
    fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=3,
        callbacks=[stopper], progress=False)
    assert stopper.stopped_epoch is None and stopper.best_epoch is not None


# -- history, plot, progress -----------------------------------------------------------------------
def test_history_plot_and_repr():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    X, y = small_problem(40)
    net = mlpc.Sequential(mlpc.Linear(6, 3), seed=0)
    h = fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=3, batch_size=10,
            validation_data=(X, y), progress=False)
    fig = h.plot()
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["cost", "accuracy"]
    plt.close(fig)
    assert "3 epochs" in repr(h) and "12 steps" in repr(h)
    assert isinstance(History().as_dict(), dict)


def test_progress_bar_output(capsys):
    X, y = small_problem(40)
    net = mlpc.Sequential(mlpc.Linear(6, 3), seed=0)
    loss = mlpc.SoftmaxCrossEntropy()
    fit(net, loss, mlpc.SGD(net, 0.1), X, y, epochs=2, batch_size=10, progress=True)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 2                       # not a terminal: one line per epoch
    assert lines[0].startswith("epoch 1/2") and lines[1].startswith("epoch 2/2")
    assert "cost" in lines[0] and "acc" in lines[0] and "/s" in lines[0] and "40/40" in lines[0]
    fit(net, loss, mlpc.SGD(net, 0.1), X, y, epochs=1, batch_size=10, progress=False)
    assert capsys.readouterr().err == ""
    fit(net, loss, mlpc.SGD(net, 0.1), X, y, epochs=2, batch_size=10)   # the default: on
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line[:9] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    with pytest.raises(TypeError, match="progress"):
        fit(net, loss, mlpc.SGD(net, 0.1), X, y, progress="yes")


def test_progress_bar_on_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(100, prefix="epoch 1/1", stream=stream, tty=True, interval=0.0)
    for _ in range(4):
        bar.update(25, cost=0.5, accuracy=0.75)
    bar.close(cost=0.25)
    text = stream.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n")
    assert "100/100" in text and "cost 0.25" in text and "acc 75.00%" in text
    assert enabled(True) and enabled(None) and not enabled(False) and not enabled(0)
    assert where(io.StringIO()) == "lines"
    assert ProgressBar(1, stream=io.StringIO()).mode == "lines"


@pytest.mark.parametrize("loss", ["cross-entropy", "mse"])
def test_finite_divergence_stops_with_the_network_restored(loss):
    """In float64, lr = 1e30 ran 20 steps to parameters of 1e176 without a word: only NaN and
    inf were caught. A cost above 1e6 × max(1, the first cost) now stops the run as inf does,
    with the state before the last step whose cost was acceptable."""
    r = np.random.default_rng()
    X, y = small_problem(64, dim=4)
    net = mlpc.Sequential(mlpc.Linear(4, 8), mlpc.Tanh(), mlpc.Linear(8, 3), dtype="float64",
                          seed=int(r.integers(1 << 30)))
    loss_fn, targets = (mlpc.SoftmaxCrossEntropy(), y) if loss == "cross-entropy" else \
        (mlpc.MSELoss(), np.eye(3)[y])
    snaps, log = Snapshots(net), StepLog()
    with pytest.raises(FloatingPointError, match="the run diverges") as info:
        fit(net, loss_fn, mlpc.SGD(net, lr=1e30), X, targets, epochs=20, batch_size=16,
            callbacks=[snaps, log], progress=False)
    import re
    bad = int(re.search(r"at step (\d+)", str(info.value)).group(1))
    assert f"before step {bad - 1}" in str(info.value)
    costs = [i["cost"] for i in log.infos]
    assert all(np.isfinite(costs)) and max(costs) <= 1e6 * max(costs[0], 1)
    assert_state_equal(net.state_dict(), snaps.states[bad - 1])
    assert max(np.abs(v).max() for v in net.state_dict().values()) < 1e6
