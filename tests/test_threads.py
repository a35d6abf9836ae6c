"""The worker pool: results do not depend on the number of threads, two Python threads train
side by side as they would one after the other, a forked child trains, and a network large
enough for every pass to be cut into several blocks still computes the right gradients."""
import multiprocessing
import platform
import threading

import numpy as np
import pytest

import mlpc


@pytest.fixture
def threads():
    """Sets the pool's threads for a test and restores them afterwards."""
    before = mlpc.get_num_threads()
    yield mlpc.set_num_threads
    mlpc.set_num_threads(before)


def fresh_seed():
    return int(np.random.SeedSequence().entropy % 2**32)


def mlp(sizes, dtype, seed, act=mlpc.ReLU, batchnorm=False, dropout=0.0):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(mlpc.Linear(a, b))
        if i < len(sizes) - 2:
            if batchnorm:
                layers.append(mlpc.BatchNorm(b))
            layers.append(act())
            if dropout:
                layers.append(mlpc.Dropout(dropout))
    return mlpc.Sequential(*layers, dtype=dtype, seed=seed)


# The performance issue's networks with batch norm and dropout, and B4 (cut along k at batch
# 100, its dW by columns).
NETWORKS = {
    "B1": ([3072, 50, 10, 10, 10, 10, 10], 100, "float32", mlpc.ReLU),
    "B2": ([500] + [500] * 10 + [10], 100, "float32", mlpc.Tanh),
    "B3": ([784, 1024, 1024, 10], 256, "float32", mlpc.ReLU),
    "B4": ([784, 100, 10], 100, "float32", mlpc.ReLU),
    "B5": ([784, 1024, 1024, 10], 256, "float64", mlpc.ReLU),
}


def train(sizes, N, dtype, act, seed, steps=20, opt=lambda net: mlpc.SGD(net, 0.01, momentum=0.9)):
    net = mlp(sizes, dtype, seed, act=act, batchnorm=True, dropout=0.2)
    optimizer = opt(net)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], N)
    costs = [net.train_step(X, y, mlpc.SoftmaxCrossEntropy(), optimizer) for _ in range(steps)]
    return [p.copy() for p in net.parameters()], costs, optimizer.last_grad_norm


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_twenty_steps_are_bit_identical_for_one_two_and_four_threads(name, threads):
    sizes, N, dtype, act = NETWORKS[name]
    seed = fresh_seed()
    results = {}
    for n in (1, 2, 4):
        threads(n)
        results[n] = train(sizes, N, dtype, act, seed)
    params1, costs1, norm1 = results[1]
    assert np.isfinite(costs1).all()
    for n in (2, 4):
        params, costs, norm = results[n]
        assert costs == costs1, (name, seed, n)
        assert norm == norm1, (name, seed, n)
        for a, b in zip(params1, params):
            np.testing.assert_array_equal(a, b, err_msg=f"{name}, seed {seed}, {n} threads")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_few_rows_skip_gemm_the_same_on_any_number_of_threads(dtype, threads):
    """Up to 8 rows, a wide layer's forward pass is mlpc's own dot products, cut by output units
    among the threads (linear.inc, blas.c); past 8 rows it is GEMM. Against float64 NumPy, and
    bit for bit across 1, 2 and 4 threads, also in a training step."""
    rng = np.random.default_rng()
    seed = fresh_seed()
    n_in, n_out = int(rng.integers(700, 1300)), int(rng.integers(900, 1400))
    biases = rng.standard_normal(n_out), rng.standard_normal(7)

    def network():
        net = mlp([n_in, n_out, 7], dtype, seed)
        net[0].bias, net[2].bias = biases
        return net

    W, b, W2, b2 = (np.asarray(p, np.float64) for p in network().parameters())
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-11, atol=1e-11)
    for N in (1, 2, 3, 5, 8, 9):
        X = rng.standard_normal((N, n_in)).astype(dtype)
        y = rng.integers(0, 7, N)
        results = {}
        for n in (1, 2, 4):
            threads(n)
            net = network()
            out = net(X)
            cost = net.train_step(X, y, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.01))
            results[n] = out, cost, [p.copy() for p in net.parameters()]
        hidden = np.maximum(X.astype(np.float64) @ W.T + b, 0)
        np.testing.assert_allclose(results[1][0], hidden @ W2.T + b2, **tol, err_msg=f"N = {N}")
        for n in (2, 4):
            np.testing.assert_array_equal(results[n][0], results[1][0],
                                          err_msg=f"N = {N}, {n} threads")
            assert results[n][1] == results[1][1], (N, n)
            for a, c in zip(results[1][2], results[n][2]):
                np.testing.assert_array_equal(a, c, err_msg=f"N = {N}, {n} threads")


def test_clipping_and_adam_are_bit_identical_across_threads(threads):
    """The gradient norm is summed over fixed blocks: clipping by it does not move either."""
    seed = fresh_seed()
    opt = lambda net: mlpc.Adam(net, 1e-3, clip_norm=0.5)  # noqa: E731
    results = []
    for n in (1, 3):
        threads(n)
        results.append(train([784, 1024, 10], 256, "float32", mlpc.ReLU, seed, steps=5, opt=opt))
    (p1, c1, g1), (p3, c3, g3) = results
    assert c1 == c3 and g1 == g3, seed
    for a, b in zip(p1, p3):
        np.testing.assert_array_equal(a, b, err_msg=f"seed {seed}")


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="the FE_ rounding constants here are x86's")
def test_blocks_run_in_the_callers_rounding_mode(threads):
    """The workers are started in round-to-nearest; then the caller switches to rounding
    downward (fesetround, as a library loaded later might): 2 threads must still give 1 thread's
    bits, so the workers' blocks must run in the caller's mode."""
    import ctypes
    import ctypes.util
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    FE_TONEAREST, FE_DOWNWARD = 0, 0x400
    sizes, N, dtype, act = NETWORKS["B3"]
    seed = fresh_seed()
    threads(2)
    train(sizes, N, dtype, act, seed, steps=1)      # the workers exist, in round-to-nearest
    results = {}
    try:
        assert libm.fesetround(FE_DOWNWARD) == 0
        for n in (2, 1):
            threads(n)
            results[n] = train(sizes, N, dtype, act, seed, steps=3)
    finally:
        libm.fesetround(FE_TONEAREST)
    nearest = train(sizes, N, dtype, act, seed, steps=3)
    assert results[2][1] == results[1][1], seed
    assert results[1][1] != nearest[1], "rounding downward changed nothing: the test tests nothing"
    for a, b in zip(results[1][0], results[2][0]):
        np.testing.assert_array_equal(a, b, err_msg=f"seed {seed}")


def test_two_python_threads_give_what_two_sequential_runs_give(threads):
    threads(2)
    seeds = [fresh_seed(), fresh_seed()]
    sizes, N, dtype, act = NETWORKS["B3"]
    sequential = [train(sizes, N, dtype, act, s, steps=8) for s in seeds]
    together = [None, None]

    def work(k):
        together[k] = train(sizes, N, dtype, act, seeds[k], steps=8)

    workers = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for (pa, ca, _), (pb, cb, _) in zip(sequential, together):
        assert ca == cb, seeds
        for a, b in zip(pa, pb):
            np.testing.assert_array_equal(a, b, err_msg=f"seeds {seeds}")


def _train_in_child(queue, seed):
    sizes, N, dtype, act = NETWORKS["B3"]
    params, costs, _ = train(sizes, N, dtype, act, seed, steps=3)
    queue.put((costs, [p.sum() for p in params]))


def test_a_forked_child_trains_with_the_pool(threads):
    threads(2)
    seed = fresh_seed()
    sizes, N, dtype, act = NETWORKS["B3"]
    params, costs, _ = train(sizes, N, dtype, act, seed, steps=3)   # the parent's pool is running
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_train_in_child, args=(queue, seed))
    child.start()
    child_costs, child_sums = queue.get(timeout=120)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert child_costs == costs
    assert child_sums == [p.sum() for p in params]


def test_set_num_threads_is_read_back_and_the_default_follows_the_affinity(threads):
    import os
    threads(3)
    assert mlpc.get_num_threads() == 3
    assert mlpc._core.default_num_threads() == len(os.sched_getaffinity(0))


torch = None
try:
    import torch
except ImportError:
    pass


@pytest.mark.skipif(torch is None, reason="needs PyTorch")
def test_gradients_of_a_network_cut_into_many_blocks_match_torch(threads):
    """Every kind of pass in several blocks (products along both sides and, for the first
    layer, along k; batch norm by columns; layer norm and PReLU by rows with partial sums)
    against torch in float64."""
    threads(4)
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    N, D, H1, H2, K = 300, 1600, 300, 800, 10
    net = mlpc.Sequential(mlpc.Linear(D, H1), mlpc.BatchNorm(H1), mlpc.PReLU(H1),
                          mlpc.Linear(H1, H2), mlpc.LayerNorm(H2), mlpc.Tanh(),
                          mlpc.Linear(H2, K), dtype="float64", seed=seed)
    tnet = torch.nn.Sequential(torch.nn.Linear(D, H1), torch.nn.BatchNorm1d(H1),
                               torch.nn.PReLU(H1), torch.nn.Linear(H1, H2),
                               torch.nn.LayerNorm(H2), torch.nn.Tanh(),
                               torch.nn.Linear(H2, K)).double()
    tparams = dict(tnet.named_parameters())
    for name, value, _ in net.named_parameters():
        value[...] += rng.normal(scale=0.1, size=value.shape)   # γ, β and slopes away from 1, 0
        with torch.no_grad():
            tparams[name].copy_(torch.from_numpy(value.reshape(tparams[name].shape)))
    X = rng.standard_normal((N, D))
    y = rng.integers(0, K, N)
    net.zero_grad()
    cost = net.cost(X, y, mlpc.SoftmaxCrossEntropy())
    net.backward()
    tloss = torch.nn.functional.cross_entropy(tnet(torch.from_numpy(X)), torch.from_numpy(y))
    tloss.backward()
    assert abs(cost - tloss.item()) <= 1e-12 * abs(tloss.item()), seed
    for name, _, grad in net.named_parameters():
        expected = tparams[name].grad.numpy().reshape(grad.shape)
        # (the bias before batch norm has a zero gradient: rounding noise against a floor)
        scale = max(np.abs(expected).max(), 1e-6)
        assert np.abs(grad - expected).max() <= 1e-10 * scale, (name, seed)


_COUNT_MALLOC = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdatomic.h>
static _Atomic long calls;
long mlpc_test_malloc_calls(void) { return calls; }
void *malloc(size_t n)
{
    static void *(*next)(size_t);
    if (!next) next = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    calls++;
    return next(n);
}
void *realloc(void *p, size_t n)
{
    static void *(*next)(void *, size_t);
    if (!next) next = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    calls++;
    return next(p, n);
}
"""

_STEADY_STEPS = """
import ctypes, numpy as np, mlpc
calls = ctypes.CDLL(None).mlpc_test_malloc_calls
calls.restype = ctypes.c_long
X = np.random.default_rng(0).standard_normal((256, 784)).astype(np.float32)
y = np.arange(256) % 10
before = 0   # bound before counting: a new global there may grow the module's dict (a malloc)
for n in (1, 2, 4):
    mlpc.set_num_threads(n)
    # clipping: the update a pass of its own; plain SGD: inside the backward pass, and 784-100
    # cut along k
    net = mlpc.Sequential(mlpc.Linear(784, 512), mlpc.BatchNorm(512), mlpc.ReLU(),
                          mlpc.Dropout(0.1), mlpc.Linear(512, 10), seed=0)
    small = mlpc.Sequential(mlpc.Linear(784, 100), mlpc.ReLU(), mlpc.Linear(100, 10), seed=0)
    runs = [(net, mlpc.Adam(net, 1e-3, clip_norm=1.0)), (small, mlpc.SGD(small, 0.01))]
    loss = mlpc.SoftmaxCrossEntropy()
    for model, opt in runs:
        for _ in range(5):
            model.train_step(X, y, loss, opt)
    before = calls()
    for _ in range(10):
        for model, opt in runs:
            model.train_step(X, y, loss, opt)
    print(n, calls() - before)
"""


def test_a_steady_state_step_calls_no_malloc(tmp_path):
    """malloc and realloc counted by a preloaded shim over 10 steps after 5 warm-up steps, on
    1, 2 and 4 threads."""
    import os
    import shutil
    import subprocess
    import sys
    import sysconfig
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if not shutil.which(cc):
        pytest.skip("needs a C compiler")
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("ASan replaces malloc: the counting shim cannot be preloaded beside it")
    src, lib = tmp_path / "count.c", tmp_path / "libcount.so"
    src.write_text(_COUNT_MALLOC)
    subprocess.run([cc, "-O2", "-shared", "-fPIC", str(src), "-o", str(lib), "-ldl"], check=True)
    env = dict(os.environ, LD_PRELOAD=str(lib), PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-c", _STEADY_STEPS], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["1", "0", "2", "0", "4", "0"], r.stdout
