"""Tests of mlpc.Recorder: every statistic is recomputed by NumPy from independent float64 copies
of the same layer outputs, output gradients and parameters, taken by a callback beside it."""
import numpy as np
import pytest

import mlpc
from mlpc import data
from mlpc.recorder import Recorder
from mlpc.training import Callback, fit


def small_problem(n=50, dim=6, classes=3, seed=0):
    X, y = data.gaussian_inputs(n, dim, classes, seed=seed)
    return np.asarray(X, dtype=np.float64), np.asarray(y)


class Copier(Callback):
    """Independent copies of outputs, output gradients, parameter gradients at chosen steps;
    the update is the parameters minus those the copier saw after the step before (or at the
    start), taken in the parameters' dtype."""

    def __init__(self, net, steps):
        self.net, self.steps, self.copies = net, steps, {}

    def _params(self):
        return {name: np.array(value) for name, value, _ in self.net.named_parameters()}

    def on_train_begin(self, fit):
        self.previous = self._params()

    def on_step_end(self, step, info):
        params = self._params()
        if step in self.steps:
            c = {}
            for name, layer in self.net.named_layers():
                c[(name, "output")] = np.array(layer.output, dtype=np.float64)
                c[(name, "grad_output")] = np.array(layer.grad_output, dtype=np.float64)
            for name, value, grad in self.net.named_parameters():
                c[(name, "grad")] = np.array(grad, dtype=np.float64)
                c[(name, "param")] = np.array(value, dtype=np.float64)
                c[(name, "update")] = (params[name] - self.previous[name]).astype(np.float64)
            self.copies[step] = c
        self.previous = params


def numpy_histogram(x, bins, lo, hi):
    """Bin i holds lo + i w <= v < lo + (i + 1) w, hi in the last bin, outside not counted."""
    x = x[(x >= lo) & (x <= hi)]
    b = np.floor((x - lo) * (bins / (hi - lo))).astype(np.int64)
    return np.bincount(np.minimum(b, bins - 1), minlength=bins)


def assert_moments(m, i, x, tol, saturation=0.99):
    spread = x.std() + abs(x.mean())
    assert abs(m["mean"][i] - x.mean()) <= tol * spread
    assert abs(m["std"][i] - x.std()) <= tol * spread
    assert m["zero_fraction"][i] == np.mean(x == 0)
    np.testing.assert_allclose(m["norm"][i], np.sqrt(np.sum(x * x)), rtol=tol)
    assert (m["min"][i], m["max"][i]) == (x.min(), x.max())
    assert m["saturation"][i] == np.mean(np.abs(x) > saturation)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-7)])
def test_recorder_statistics_equal_numpy(dtype, tol):
    """float64 tensors are summed in double; float32 ones in float32 runs of 8 values, then in
    double: their moments agree with float64 NumPy to float32 precision of the spread."""
    X, y = small_problem(60, dim=6)
    net = mlpc.Sequential(mlpc.Linear(6, 12), mlpc.BatchNorm(12), mlpc.ReLU(),
                          mlpc.Linear(12, 3), seed=0, dtype=dtype)
    steps = (0, 3, 7)
    saturation = np.random.default_rng().uniform(0.2, 1.5)
    rec = Recorder(steps=steps, what="all", bins=20, range=(-2.0, 2.0), keep_values=True,
                   saturation=saturation)
    copier = Copier(net, steps)
    fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1, momentum=0.9), X, y, epochs=3,
        batch_size=20, seed=0, callbacks=[rec, copier], progress=False)
    assert rec.recorded_steps == list(steps)
    assert rec.recorded_epochs == [0, 1, 2]
    keys = rec.keys()
    assert ("0", "output") in keys and ("1.weight", "grad") in keys and ("3.bias", "param") in keys
    assert ("3.weight", "update") in keys
    assert set(keys) == set(copier.copies[0])
    edges = np.linspace(-2, 2, 21)
    for key in keys:
        m = rec.moments(*key)
        for i, step in enumerate(steps):
            assert_moments(m, i, copier.copies[step][key], tol, saturation)
        if key[1] == "update":                         # moments only
            assert rec.counts(*key) is None
            continue
        counts = rec.counts(*key)
        outside = rec.out_of_range(*key)
        assert counts.shape == (3, 20) and outside.shape == (3, 2)
        for i, step in enumerate(steps):
            x = copier.copies[step][key]
            np.testing.assert_array_equal(counts[i], numpy_histogram(x.ravel(), 20, -2, 2))
            assert tuple(outside[i]) == (np.sum(x < -2), np.sum(x > 2))
            assert counts[i].sum() + outside[i].sum() == x.size
            c, e = rec.histogram(*key, index=i)
            np.testing.assert_array_equal(c, counts[i])
            np.testing.assert_array_equal(e, edges)
            np.testing.assert_array_equal(rec.values(*key, index=i), x)
    # ReLU zeros are seen as zeros
    assert rec.moments("2", "output")["zero_fraction"][0] > 0.2


def test_recorder_every_step_layers_ranges_and_standalone():
    X, y = small_problem(40)
    net = mlpc.Sequential(mlpc.Linear(6, 8), mlpc.Tanh(), mlpc.Linear(8, 3), seed=0)
    rec = Recorder(what="output", layers=(mlpc.Linear,), range="auto")
    fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=2, batch_size=10,
        callbacks=[rec], progress=False)
    assert rec.recorded_steps == list(range(8))
    assert rec.keys() == [("0", "output"), ("2", "output")]
    assert rec.moments("0")["mean"].shape == (8,)
    with pytest.raises(ValueError):
        rec.values("0")                       # keep_values was off
    with pytest.raises(KeyError):
        rec.moments("1")

    rec = Recorder(what=("output", "grad_output"), layers=("1",),
                   range={"output": (-1, 1)})
    net.train_step(X[:10], y[:10], mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1))
    out, grad = np.array(net[1].output, np.float64), np.array(net[1].grad_output, np.float64)
    rec.record(net)
    assert rec.keys() == [("1", "output"), ("1", "grad_output")]
    assert rec.moments("1")["std"][0] == pytest.approx(out.std(), rel=1e-9)
    assert rec.moments("1", "grad_output")["mean"][0] == pytest.approx(grad.mean(), rel=1e-9,
                                                                        abs=1e-15)
    np.testing.assert_array_equal(rec.counts("1")[0], numpy_histogram(out.ravel(), 50, -1, 1))
    assert rec.counts("1", "grad_output") is None        # no range for gradients
    with pytest.raises(ValueError):
        Recorder(what=("activations",))
    with pytest.raises(ValueError):
        Recorder(range=(1, 0))


def test_recorder_moments_only_at_every_step_past_its_first_allocation():
    """The default quantities, moments only, every step of a run longer than the storage first
    allocated (16 snapshots): every snapshot still equals NumPy's numbers for its step."""
    X, y = small_problem(200, dim=6)
    net = mlpc.Sequential(mlpc.Linear(6, 10), mlpc.LayerNorm(10), mlpc.Tanh(),
                          mlpc.Dropout(0.3), mlpc.Linear(10, 3), seed=1)
    checked = (0, 15, 16, 17, 39)
    rec, copier = Recorder(), Copier(net, checked)
    fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.Adam(net, 0.01), X, y, epochs=4, batch_size=20,
        seed=0, callbacks=[rec, copier], progress=False)
    assert rec.recorded_steps == list(range(40))
    assert rec.recorded_epochs == [s // 10 for s in range(40)]
    names = [n for n, _ in net.named_layers()]
    expected = []
    for name, layer in net.named_layers():
        expected += [(name, "output"), (name, "grad_output")]
        expected += [(f"{name}.{p}", "grad") for p in layer.param_names]
    assert rec.keys() == expected and len(names) == 5
    for key in rec.keys():
        m = rec.moments(*key)
        assert m["mean"].shape == (40,)
        assert rec.counts(*key) is None
        for step in checked:
            assert_moments(m, step, copier.copies[step][key], 1e-7)
    with pytest.raises(ValueError, match="range"):
        rec.histogram("0", "output")


def test_recorder_keys_met_later_are_padded_and_clear_forgets():
    """record() by hand on two different layer selections: a key first seen at the second
    snapshot has NaN moments (and zero counts) for the first one."""
    X, y = small_problem(40)
    net = mlpc.Sequential(mlpc.Linear(6, 8), mlpc.ReLU(), mlpc.Linear(8, 3), seed=0)
    loss, opt = mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1)
    rec = Recorder(what="output", range=(-3, 3), bins=6)
    before = Recorder(what=("output", "param"), layers=("2",))
    before.record(net)                      # no forward pass yet: outputs are NaN, params are not
    assert np.isnan(before.moments("2")["mean"][0])
    w = np.array(net[2].weight, dtype=np.float64)
    assert before.moments("2.weight", "param")["std"][0] == pytest.approx(w.std(), rel=1e-7)
    net.train_step(X[:10], y[:10], loss, opt)
    rec.layers = ("0",)
    rec.record(net)
    out0 = np.array(net[0].output, np.float64)
    net.train_step(X[10:20], y[10:20], loss, opt)
    rec.layers = None
    rec.record(net)                         # the new selection takes effect
    assert rec.keys() == [("0", "output"), ("1", "output"), ("2", "output")]
    m = rec.moments("1")
    assert np.isnan(m["mean"][0]) and not np.isnan(m["mean"][1])
    np.testing.assert_array_equal(rec.counts("1")[0], np.zeros(6, np.int64))
    np.testing.assert_array_equal(rec.counts("0")[0], numpy_histogram(out0.ravel(), 6, -3, 3))
    assert rec.recorded_steps == [0, 1]
    rec.clear()
    assert rec.keys() == [] and rec.recorded_steps == []
    rec.record(net)
    assert rec.moments("2")["mean"].shape == (1,)


def test_recorder_auto_range_is_fixed_at_the_first_snapshot():
    X, y = small_problem(40)
    net = mlpc.Sequential(mlpc.Linear(6, 8), mlpc.Tanh(), mlpc.Linear(8, 3), seed=0)
    rec = Recorder(what=("output", "grad"), range="auto", bins=7, keep_values=True)
    fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.5), X, y, epochs=1, batch_size=10,
        callbacks=[rec], progress=False)
    for key in rec.keys():
        first = rec.values(*key, index=0).astype(np.float64)
        lo, hi = rec.ranges[key]
        assert (lo, hi) == (first.min(), first.max())
        np.testing.assert_array_equal(rec.edges(*key), np.linspace(lo, hi, 8))
        for i in range(4):
            x = rec.values(*key, index=i).astype(np.float64).ravel()
            np.testing.assert_array_equal(rec.counts(*key)[i], numpy_histogram(x, 7, lo, hi))
        assert rec.counts(*key)[0].sum() == first.size      # the first snapshot fits its range


def test_recorder_that_selects_nothing_records_empty_snapshots():
    X, y = small_problem(20)
    net = mlpc.Sequential(mlpc.Linear(6, 8), mlpc.ReLU(), mlpc.Linear(8, 3), seed=0)
    rec = Recorder(what="grad", layers=(mlpc.ReLU,))        # a ReLU has no parameters
    fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=1, batch_size=10,
        callbacks=[rec], progress=False)
    assert rec.recorded_steps == [0, 1] and rec.keys() == []


def test_recorder_layer_selection_by_one_name_class_or_index_and_residual_sums():
    X, y = small_problem(20, dim=8)
    layers = [mlpc.Linear(8, 8)]
    for _ in range(6):
        layers += [mlpc.Tanh(), mlpc.Linear(8, 8)]
    net = mlpc.Sequential(*layers, mlpc.Residual(mlpc.Linear(8, 8), mlpc.ReLU()),
                          mlpc.Linear(8, 3), seed=0)
    net.train_step(X, y, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1))
    for layers, keys in (("10", ["10"]), (10, ["10"]), (mlpc.ReLU, ["13.1"]),
                         (mlpc.Residual, ["13"]), (("13", 0), ["0", "13"])):
        rec = Recorder(what="output", layers=layers)
        rec.record(net)
        assert [name for name, _ in rec.keys()] == keys, layers
    # the Residual's output is its sum x + block(x), and so is its gradient's moments' source
    rec = Recorder(what=("output", "grad_output"), layers=mlpc.Residual)
    rec.record(net)
    x = np.asarray(net[12].output, np.float64)
    s = x + np.asarray(net[13][1].output, np.float64)
    np.testing.assert_allclose(np.asarray(net[13].output), s, rtol=1e-6)
    assert_moments(rec.moments("13"), 0, s, 1e-6)
    assert_moments(rec.moments("13", "grad_output"), 0,
                   np.asarray(net[13].grad_output, np.float64), 1e-7)


def test_recorder_rejects_bad_arguments():
    with pytest.raises(TypeError, match="iterable of ints"):
        Recorder(steps="12")
    for bad in ([0.7, 1.9], [-1], [True]):
        with pytest.raises(ValueError, match="int >= 0"):
            Recorder(steps=bad)
    assert Recorder(steps=np.arange(3))._select(2)
    with pytest.raises(TypeError, match="layer classes"):
        Recorder(layers=[1.5])
    with pytest.raises(TypeError, match="layer classes"):
        Recorder(layers=np.ndarray)
    with pytest.raises(TypeError, match="expected a mlpc.Sequential"):
        Recorder().record("x")
    net = mlpc.Sequential(mlpc.Linear(6, 8), mlpc.ReLU(), mlpc.Linear(8, 3), seed=0)
    with pytest.raises(ValueError, match="no layer named 3, x; the network's layers are 0, 1, 2"):
        Recorder(layers=("1", 3, "x", mlpc.BatchNorm)).record(net)
    with pytest.raises(ValueError, match="bins"):
        Recorder(bins=0)
    with pytest.raises(TypeError):
        Recorder(range=5)
    with pytest.raises(ValueError):
        Recorder(range={"activations": (0, 1)})
    with pytest.raises(ValueError):
        Recorder(range=(0, float("inf")))


def test_recorder_reads_each_place_of_a_shared_activation():
    X, y = small_problem(20)
    relu = mlpc.ReLU()
    net = mlpc.Sequential(mlpc.Linear(6, 8), relu, mlpc.Linear(8, 8), relu, mlpc.Linear(8, 3),
                          seed=0, dtype="float64")
    copier = Copier(net, {0})
    rec = Recorder(what="output", layers=mlpc.ReLU)
    fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y, epochs=1, batch_size=20,
        callbacks=[rec, copier], progress=False)
    W = {i: np.asarray(copier.copies[0][(str(i), "output")]) for i in (0, 2)}
    assert rec.keys() == [("1", "output"), ("3", "output")]
    assert_moments(rec.moments("1"), 0, np.maximum(W[0], 0), 1e-12)
    assert_moments(rec.moments("3"), 0, np.maximum(W[2], 0), 1e-12)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-6)])
def test_gradient_and_update_to_data_ratios_over_real_steps(dtype, tol):
    """ratio(name, "grad") = std(∂J/∂W)/std(W) and ratio(name, "update") = std(W_t − W_{t−1})/
    std(W_t), recomputed by NumPy from copies of the parameters taken after every step, for an
    optimizer whose update is not a multiple of the gradient (Adam with weight decay)."""
    rng = np.random.default_rng()
    X, y = small_problem(80, dim=6, seed=int(rng.integers(1000)))
    net = mlpc.Sequential(mlpc.Linear(6, 9), mlpc.Tanh(), mlpc.Linear(9, 3), dtype=dtype)
    steps = tuple(sorted(rng.choice(8, 3, replace=False)))
    rec, copier = Recorder(steps=steps, what="all"), Copier(net, steps)
    opt = mlpc.AdamW(net, lr=rng.uniform(1e-3, 1e-1), weight_decay=0.1)
    fit(net, mlpc.SoftmaxCrossEntropy(), opt, X, y, epochs=2, batch_size=20, seed=0,
        callbacks=[rec, copier], progress=False)
    assert rec.parameter_names() == ["0.weight", "0.bias", "2.weight", "2.bias"]
    def rel(x):        # the moments' error bound, tol x (std + |mean|), relative to the std
        return tol * (1 + abs(x.mean()) / x.std())

    for name in rec.parameter_names():
        for i, step in enumerate(steps):
            c = copier.copies[step]
            w, g, dw = c[(name, "param")], c[(name, "grad")], c[(name, "update")]
            assert rec.ratio(name, "grad")[i] == pytest.approx(g.std() / w.std(),
                                                               rel=rel(g) + rel(w))
            assert rec.ratio(name, "update")[i] == pytest.approx(dw.std() / w.std(),
                                                                 rel=rel(dw) + rel(w))
            assert np.abs(dw).max() > 0
    with pytest.raises(ValueError, match="'grad' or 'update'"):
        rec.ratio("0.weight", "output")


def test_record_outside_fit_takes_the_parameters_before_the_step():
    X, y = small_problem(20)
    net = mlpc.Sequential(mlpc.Linear(6, 4), mlpc.ReLU(), mlpc.Linear(4, 3), seed=0)
    opt = mlpc.SGD(net, 0.5, momentum=0.9)
    rec = Recorder(what=("param", "update"))
    for k in range(2):
        before = net._core.flat(False).copy()
        w0 = np.array(net[0].weight, np.float64)
        net.train_step(X, y, mlpc.SoftmaxCrossEntropy(), opt)
        rec.record(net, before=before)
    dw = np.array(net[0].weight, np.float64) - w0
    assert rec.moments("0.weight", "update")["std"][1] == pytest.approx(dw.std(), rel=1e-6)
    rec.record(net)                                   # without the copy: no update
    assert np.isnan(rec.moments("0.weight", "update")["std"][2])
    with pytest.raises(ValueError, match="flat parameters"):
        rec.record(net, before=before[:3])
    with pytest.raises(ValueError, match="moments only"):
        Recorder(range={"update": (-1, 1)})
    with pytest.raises(ValueError, match="saturation"):
        Recorder(saturation=-1)
