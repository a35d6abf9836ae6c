"""Memory safety of the C wrapper against hostile or careless callers: the batch a forward pass
keeps, spec values whose conversion runs code, re-initialisation of live objects, and sizes that
are checked before any copy. Crashes are probed in a child process, so that a regression fails
one test instead of taking the run down."""
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

import mlpc
from mlpc import _core

DTYPES = ["float32", "float64"]
TOL = {"float32": 1e-5, "float64": 1e-12}


def run_child(code, timeout=120):
    """Runs code in a fresh interpreter with this one's import path; returns its stdout."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, env=env, timeout=timeout)
    assert r.returncode == 0, f"child exited with {r.returncode}:\n{r.stderr[-3000:]}"
    return r.stdout


# ------------------------------------------------------------------------------------------
# The batch of a separate forward pass (issue 11, item 3)
# ------------------------------------------------------------------------------------------

def linear_net(dtype, rng):
    net = mlpc.Sequential(mlpc.Linear(4, 3), dtype=dtype, seed=int(rng.integers(2**31)))
    net.zero_grad()
    return net


def grad(layer, name):
    return dict((n, g) for n, _, g in layer.named_parameters())[name]


def linear_grads(net, X, dY):
    """NumPy: y = X Wᵀ + b gives ∂W = dYᵀ X, ∂b = Σ dY, ∂X = dY W."""
    W = np.asarray(net[0].weight, dtype=np.float64)
    X, dY = np.asarray(X, np.float64), np.asarray(dY, np.float64)
    return dY.T @ X, dY.sum(0), dY @ W


@pytest.mark.parametrize("dtype", DTYPES)
def test_changing_the_batch_between_forward_and_backward_changes_nothing(dtype):
    rng = np.random.default_rng()
    net = linear_net(dtype, rng)
    X = rng.standard_normal((7, 4)).astype(dtype)   # C-contiguous, the network's dtype
    X0 = X.copy()
    dY = rng.standard_normal((7, 3))
    net(X)
    X[:] = rng.standard_normal(X.shape)              # the caller reuses its buffer
    dX = net.backward(dY)
    dW, db, dX_ref = linear_grads(net, X0, dY)
    np.testing.assert_allclose(grad(net[0], "weight"), dW, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(grad(net[0], "bias"), db, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(dX, dX_ref, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_changing_the_batch_between_cost_and_backward_changes_nothing(dtype):
    rng = np.random.default_rng()
    net = mlpc.Sequential(mlpc.Linear(4, 3), dtype=dtype, seed=int(rng.integers(2**31)))
    net.zero_grad()
    X = rng.standard_normal((6, 4)).astype(dtype)
    y = rng.integers(0, 3, 6)
    X0 = X.copy()
    net.cost(X, y, mlpc.SoftmaxCrossEntropy())
    X *= -3
    net.backward()
    W = np.asarray(net[0].weight, np.float64)
    s = X0.astype(np.float64) @ W.T + np.asarray(net[0].bias, np.float64)
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    dS = (p - np.eye(3)[y]) / len(y)
    np.testing.assert_allclose(grad(net[0], "weight"), dS.T @ X0, rtol=TOL[dtype], atol=TOL[dtype])


def test_resizing_the_batch_between_forward_and_backward_reads_no_freed_memory():
    """X.resize moves its data and frees the old block: backward must not read that block (an
    ASan build reports heap-use-after-free if it does). A PReLU first reads its input."""
    rng = np.random.default_rng()
    net = mlpc.Sequential(mlpc.PReLU(), mlpc.Linear(4, 3), dtype="float64", seed=0)
    X = rng.standard_normal((5, 4))
    X0 = X.copy()
    dY = rng.standard_normal((5, 3))
    net(X)
    net.zero_grad()
    X.resize((4000, 4), refcheck=False)
    X[:] = 7.0
    dX = net.backward(dY)
    a = float(net[0].weight[0])
    H = np.where(X0 > 0, X0, a * X0)
    W = np.asarray(net[1].weight)
    np.testing.assert_allclose(grad(net[1], "weight"), dY.T @ H, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dX, np.where(X0 > 0, 1, a) * (dY @ W), rtol=1e-12, atol=1e-12)


def test_backward_after_train_step_needs_a_forward_pass():
    """train_step reads the caller's batch during the call only, so no later call can read it."""
    rng = np.random.default_rng()
    net = mlpc.Sequential(mlpc.Linear(4, 3), seed=0)
    opt = mlpc.SGD(net, 0.1)
    X = rng.standard_normal((5, 4)).astype(np.float32)
    net.train_step(X, rng.integers(0, 3, 5), mlpc.SoftmaxCrossEntropy(), opt)
    assert net.output is not None and net.output.shape == (5, 3)   # outputs stay readable
    with pytest.raises(RuntimeError, match="forward pass"):
        net.backward(np.ones((5, 3)))
    net(X)
    assert net.backward(np.ones((5, 3))).shape == (5, 4)


def peak_bytes_of(call):
    """Peak bytes traced (NumPy reports its array memory to tracemalloc) during call()."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        call()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_the_batch_is_copied_once_and_train_step_does_not_copy_it():
    rng = np.random.default_rng()
    net = mlpc.Sequential(mlpc.Linear(256, 2), dtype="float64", seed=0)
    opt = mlpc.SGD(net, 0.01)
    loss = mlpc.SoftmaxCrossEntropy()
    X, y = rng.standard_normal((2000, 256)), rng.integers(0, 2, 2000)   # 4 MB
    for _ in range(2):   # the first calls grow the network's buffers
        net.train_step(X, y, loss, opt)
        net(X)
    # train_step: the caller's array itself, no copy
    assert peak_bytes_of(lambda: net.train_step(X, y, loss, opt)) < X.nbytes / 4
    # forward keeps a copy, made the first time ...
    net.train_step(X, y, loss, opt)
    assert peak_bytes_of(lambda: net(X)) < X.nbytes * 1.25
    # ... and reused for the next batch of the same shape
    assert peak_bytes_of(lambda: net(X)) < X.nbytes / 4
    # a converted batch (float32 into float64) is already private: one conversion, no copy
    assert peak_bytes_of(lambda: net(X.astype(np.float32))) < X.nbytes * 1.25 + X.nbytes / 2


def test_a_batch_that_views_a_buffer_is_copied():
    """np.frombuffer arrays do not own their memory: the bytearray behind them may change."""
    rng = np.random.default_rng()
    net = linear_net("float64", rng)
    X0 = rng.standard_normal((3, 4))
    buf = bytearray(X0.tobytes())
    net(memoryview(buf).cast("d", (3, 4)))
    buf[:] = bytes(len(buf))
    dY = rng.standard_normal((3, 3))
    net.backward(dY)
    np.testing.assert_allclose(grad(net[0], "weight"), dY.T @ X0, rtol=1e-12)


# ------------------------------------------------------------------------------------------
# Spec values whose conversion runs Python code (item 4)
# ------------------------------------------------------------------------------------------

EVIL_SPECS = """
    import numpy as np
    from mlpc import _core
    def linear(i, o):
        return {"kind": _core.LAYER_LINEAR, "in": i, "out": o, "option": 1}
    class Evil:
        def __init__(self, value, attack):
            self.value, self.attack = value, attack
        def __index__(self):
            self.attack()
            return self.value
        __float__ = lambda self: float(self.__index__())
"""


def test_a_spec_value_that_empties_the_spec_list_does_not_crash():
    out = run_child(EVIL_SPECS + """
    specs = [linear(4, 5) for _ in range(3)] + [linear(5, 5) for _ in range(3)]
    specs[0] = dict(specs[0], out=Evil(5, specs.clear))
    specs[1]["in"] = Evil(5, lambda: None)
    specs[1:] = [linear(5, 5)] + specs[2:]
    for k in range(1, 6):
        specs[k]["in"] = 5
    try:
        net = _core.Net(_core.FLOAT64, specs)
    except (ValueError, TypeError) as e:
        print("refused", e)
    else:
        print("built", net.num_params)
    """)
    assert out.startswith(("refused", "built"))


def test_spec_values_that_mutate_the_list_and_clear_the_dict_do_not_crash():
    out = run_child(EVIL_SPECS + """
    results = []
    for trial in range(20):
        specs = [linear(4, 4) for _ in range(8)]
        # each attack frees what the parser may still hold: list items, the dict being read
        # and the value being converted
        attacks = [specs.clear, lambda: specs.extend(linear(4, 4) for _ in range(50)),
                   lambda: specs.__setitem__(slice(None), []), lambda: specs.reverse(),
                   lambda: [d.clear() for d in specs]]
        for k, key in enumerate(["in", "out", "option", "kind", "alpha", "seed"]):
            d = specs[k]
            d[key] = Evil(d.get(key, 0), attacks[(k + trial) % len(attacks)])
        try:
            _core.Net(_core.FLOAT32, specs)
            results.append("built")
        except (ValueError, TypeError) as e:
            results.append("refused")
    print("ok", results.count("built"), results.count("refused"))
    """)
    assert out.startswith("ok")


def test_the_network_is_built_from_the_specs_as_they_were_when_the_call_began():
    out = run_child(EVIL_SPECS + """
    specs = [linear(4, 3)]
    specs[0]["out"] = Evil(3, lambda: specs.append(linear(99, 1)))
    net = _core.Net(_core.FLOAT64, specs)
    print(net.num_params, len(net.tensors()))
    """)
    assert out.split() == ["15", "2"]


# ------------------------------------------------------------------------------------------
# Re-initialisation of live objects (item 5)
# ------------------------------------------------------------------------------------------

def test_a_live_core_network_refuses_init_again():
    net = mlpc.Sequential(mlpc.Linear(4, 3), seed=0)
    core = net._ensure_core()
    weight = net[0].weight.copy()
    with pytest.raises(RuntimeError, match="already initialized"):
        core.__init__(_core.FLOAT64, [{"kind": _core.LAYER_LINEAR, "in": 9, "out": 9}])
    assert core.dtype == "float32" and core.num_params == 15
    np.testing.assert_array_equal(net[0].weight, weight)


def test_a_live_core_optimizer_refuses_init_again():
    net = mlpc.Sequential(mlpc.Linear(4, 3), seed=0)
    opt = mlpc.Adam(net, 0.01)
    core = opt._core
    state = core.state
    other = mlpc.Sequential(mlpc.Linear(2, 2), seed=0)
    with pytest.raises(RuntimeError, match="already initialized"):
        core.__init__(other._ensure_core(), _core.OPT_SGD, 0.5)
    assert core.state is state and core.net is net._ensure_core()
    assert core.kind == _core.OPT_ADAM and core.lr == 0.01
    # an optimizer that was never initialized is initialized once, then refuses
    fresh = _core.Optimizer.__new__(_core.Optimizer)
    with pytest.raises(RuntimeError, match="not initialized"):
        fresh.step()
    fresh.__init__(net._ensure_core(), _core.OPT_SGD, 0.1)
    with pytest.raises(RuntimeError, match="already initialized"):
        fresh.__init__(net._ensure_core(), _core.OPT_SGD, 0.1)


def test_an_init_that_runs_code_cannot_initialize_twice():
    """__float__ of lr runs during Optimizer.__init__ and initializes the same object first."""
    net = mlpc.Sequential(mlpc.Linear(4, 3), seed=0)._ensure_core()
    opt = _core.Optimizer.__new__(_core.Optimizer)

    class Sneaky:
        def __float__(self):
            opt.__init__(net, _core.OPT_SGD, 0.25)
            return 0.5

    with pytest.raises(RuntimeError, match="already initialized"):
        opt.__init__(net, _core.OPT_ADAM, Sneaky())
    assert opt.lr == 0.25 and opt.kind == _core.OPT_SGD


def test_init_of_an_optimizer_and_network_stepping_in_another_thread_is_refused():
    """Deterministic: the main thread calls __init__ while the stepping thread is known to be
    inside step() (the GIL is released during the update of a large network)."""
    out = run_child("""
    import threading, numpy as np, mlpc
    from mlpc import _core
    net = mlpc.Sequential(mlpc.Linear(1000, 1000), seed=0)
    opt = mlpc.Adam(net, 1e-3)
    other = mlpc.Sequential(mlpc.Linear(2, 2), seed=0)._ensure_core()
    inside, stop = threading.Event(), threading.Event()
    def work():
        while not stop.is_set():
            inside.set()
            opt._core.step()
    t = threading.Thread(target=work)
    t.start()
    inside.wait()
    refused = 0
    for _ in range(100):
        for obj, args in ((opt._core, (other, _core.OPT_SGD, 0.1)),
                          (net._ensure_core(), (_core.FLOAT64, [{"kind": 0, "in": 2, "out": 2}]))):
            try:
                obj.__init__(*args)
            except RuntimeError as e:
                assert "already initialized" in str(e), e
                refused += 1
    stop.set()
    t.join()
    assert np.isfinite(net[0].weight).all()
    print("refused", refused)
    """)
    assert out.split() == ["refused", "200"]


# ------------------------------------------------------------------------------------------
# Sizes checked from the shape, before any conversion (item 8)
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_a_huge_zero_stride_batch_is_refused_before_any_copy(dtype):
    net = mlpc.Sequential(mlpc.Linear(1, 2), dtype=dtype, seed=0)
    opt = mlpc.SGD(net, 0.1)
    huge = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(2**31, 1), strides=(0, 0))
    wide = np.broadcast_to(np.zeros((1, 1), dtype=np.float32), (2**31 + 5, 1))
    calls = [lambda: net(huge), lambda: net(wide),
             lambda: net.cost(huge, [0], mlpc.SoftmaxCrossEntropy()),
             lambda: net.train_step(wide, [0], mlpc.SoftmaxCrossEntropy(), opt)]
    for call in calls:
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match=r"at most 2147483647 rows.*\(21474836\d\d, 1\)"):
                call()
            assert tracemalloc.get_traced_memory()[1] < 1 << 20   # no copy was made
        finally:
            tracemalloc.stop()
    assert net(np.ones((2, 1))).shape == (2, 2)


@pytest.mark.parametrize("kind", [7, -1, 1 << 20])
def test_a_core_train_step_with_an_unknown_loss_changes_nothing(kind):
    """The C train_step refuses a loss kind it does not know before the forward pass, which
    would move the batch-norm running statistics and the dropout stream."""
    rng = np.random.default_rng()
    net = mlpc.Sequential(mlpc.Linear(4, 8), mlpc.BatchNorm(8), mlpc.ReLU(), mlpc.Dropout(0.5),
                          mlpc.Linear(8, 3), seed=int(rng.integers(1 << 30)))
    opt = mlpc.SGD(net, 0.1)
    X = rng.standard_normal((5, 4)).astype(np.float32)
    net.train_step(X, rng.integers(0, 3, 5), mlpc.SoftmaxCrossEntropy(), opt)
    mean, var = net[1].running_mean.copy(), net[1].running_var.copy()
    stream = net._core.rng_state(3)
    params = [p.copy() for p in net.parameters()]
    with pytest.raises(ValueError):
        net._core.train_step(X, np.zeros((5, 3), np.float32), kind, opt._core)
    np.testing.assert_array_equal(net[1].running_mean, mean)
    np.testing.assert_array_equal(net[1].running_var, var)
    assert net._core.rng_state(3) == stream
    for a, b in zip(net.parameters(), params):
        np.testing.assert_array_equal(a, b)
