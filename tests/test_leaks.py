"""No leaks: 10⁴ rounds of the main calls (successful and refused) leave the reference counts of
the objects they touch, the memory traced by tracemalloc (NumPy reports its arrays there) and the
resident set flat. A leaked reference or array per call would grow by 10⁴."""
import gc
import os
import sys
import tempfile
import tracemalloc

import numpy as np
import pytest

import mlpc
from mlpc import _core

ROUNDS = 10_000
# the sanitizer pass (.ci/sanitize) runs the same calls elsewhere in the suite, ten times slower
pytestmark = pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                                reason="counts and totals are checked in the normal run")


def resident_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def test_the_main_calls_leak_nothing():
    rng = np.random.default_rng()
    net = mlpc.Sequential(mlpc.Linear(6, 8), mlpc.BatchNorm(8), mlpc.ReLU(), mlpc.Dropout(0.2),
                          mlpc.Linear(8, 3), seed=int(rng.integers(2**31)))
    opt = mlpc.Adam(net, 1e-3)
    loss = mlpc.SoftmaxCrossEntropy()
    X = rng.standard_normal((5, 6))
    X32 = X.astype(np.float32)           # the network's dtype: kept as a copy by forward
    y = rng.integers(0, 3, 5)
    Y = np.eye(3)[y]
    dY = rng.standard_normal((5, 3))
    bad = np.array([0, 1, 2, 3, 0])       # a label out of range: refused
    state = net.state_dict()
    core, opt_core = net._ensure_core(), opt._core
    watched = [net, core, opt, opt_core, loss, X, X32, y, Y, dY, bad, opt_core.state]

    def one_round(i):
        net(X)
        net(X32)
        net.backward(dY)
        net.cost(X32, y, loss)
        net.backward()
        net.train_step(X, y, loss, opt)
        net.train_step(X32, Y, loss, opt)
        opt.step()
        loss(dY, y)
        loss.backward()
        mlpc.softmax(dY)
        for call in (lambda: net.train_step(X, bad, loss, opt), lambda: net(X[:, :2]),
                     lambda: core.__init__(_core.FLOAT32, [])):
            try:
                call()
            except (ValueError, RuntimeError):
                pass
        if i % 10 == 0:   # the Python-heavy calls, 10³ times
            net.load_state_dict(net.state_dict())
            opt.load_state_dict(opt.state_dict())
            net.predict(X)

    for i in range(200):   # caches, buffers and the private batch copy reach their size
        one_round(i)
    counts = [sys.getrefcount(o) for o in watched]
    resident = resident_bytes()
    tracemalloc.start()
    try:
        for i in range(50):
            one_round(i)
        gc.collect()   # the standard library's reference cycles (ast, json) are no leak
        before = tracemalloc.get_traced_memory()[0]
        for i in range(ROUNDS):
            one_round(i)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert [sys.getrefcount(o) for o in watched] == counts
    assert grown < 64 * 1024, f"{grown} bytes more traced after {ROUNDS} rounds"
    assert resident_bytes() - resident < 16 << 20
    net.load_state_dict(state)


def test_save_and_load_leak_nothing():
    rng = np.random.default_rng()
    net = mlpc.Sequential(mlpc.Linear(4, 5), mlpc.Tanh(), mlpc.Linear(5, 2), seed=0)
    opt = mlpc.SGD(net, 0.1, momentum=0.9)
    X, y = rng.standard_normal((3, 4)), rng.integers(0, 2, 3)
    net.train_step(X, y, mlpc.SoftmaxCrossEntropy(), opt)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.npz")

        def one_round():
            mlpc.save(net, path, optimizer=opt)
            loaded = mlpc.load(path)
            mlpc.load_optimizer(path, loaded)
            assert np.array_equal(loaded(X), net(X))

        for _ in range(20):
            one_round()
        counts = [sys.getrefcount(o) for o in (net, opt, X)]
        tracemalloc.start()
        try:
            one_round()
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(150):
                one_round()
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert [sys.getrefcount(o) for o in (net, opt, X)] == counts
        assert grown < 64 * 1024, f"{grown} bytes more traced after 150 saves and loads"
