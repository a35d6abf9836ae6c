"""Time mlpc's training step against PyTorch and against the same matrix products alone.

    python benchmarks/bench_step.py [--quick] [--rounds R] [--tables B1,B2,...] [--no-torch]
    python benchmarks/bench_step.py --threads-table [--loaded]     (bench_threads.py: 1 vs 2 threads)

It imports the installed mlpc (or the one PYTHONPATH names: PYTHONPATH=python after an in-place
build). The header names the OpenBLAS kernels in use: where the environment sets OPENBLAS_CORETYPE
(and OPENBLAS_L2_SIZE), run it as `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python ...` to
time the kernels OpenBLAS picks for the CPU. Tables, all on one thread (mlpc.set_num_threads(1), torch.set_num_threads(1)):

  B1  3072-50-10-10-10-10-10, Linear → BatchNorm → ReLU, batch 100
  B2  500 → 10 hidden layers of 500 tanh → 10, batch 100
  B3  784-1024-1024-10 ReLU, batch 256
  B4  784-100-10 ReLU, batch 100, 10 and 1
  B5  B3 in float64
  inference   batch-1 net(x) in eval mode for B1-B5 (torch: eval, no_grad)
  overhead    a 2-2-2 network: net.train_step and net(x) against the bare C calls beneath them

Every step is SGD(lr=0.01) on softmax cross-entropy. "GEMMs" is the time of the matrix products
the step needs (x Wᵀ, dyᵀ x per layer, dy W for all but the first layer), called through mlpc's
own OpenBLAS with ctypes (its per-call overhead, measured on an empty product, is subtracted).
Contenders are interleaved round by round (each round times every contender once, in a rotated
order) and the median over rounds is reported, in thread CPU time (what this thread computed:
steadier on a shared machine) beside wall time. Nothing is asserted.
"""
import argparse
import ctypes
import os
import statistics
import time

import numpy as np

import mlpc

try:
    import torch
except ImportError:
    torch = None


# ---- timing ------------------------------------------------------------------------------------
def calibrate(fn, target):
    """Calls per sample so that one sample takes about `target` seconds."""
    fn()
    k = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        dt = time.perf_counter() - t0
        if dt >= target or k >= 1 << 20:
            return max(1, int(k * target / max(dt, 1e-9)))
        k *= 4


def interleaved(contenders, rounds, target):
    """{name: (cpu, wall)}: median seconds per call over `rounds` rounds, contenders interleaved."""
    names = list(contenders)
    counts = {n: calibrate(contenders[n], target) for n in names}
    samples = {n: ([], []) for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            fn, k = contenders[n], counts[n]
            c0, w0 = time.thread_time(), time.perf_counter()
            for _ in range(k):
                fn()
            w1, c1 = time.perf_counter(), time.thread_time()
            samples[n][0].append((c1 - c0) / k)
            samples[n][1].append((w1 - w0) / k)
    return {n: (statistics.median(c), statistics.median(w)) for n, (c, w) in samples.items()}


# ---- the networks ------------------------------------------------------------------------------
NETWORKS = {   # name: (widths, hidden activation, batch norm, dtype)
    "B1": ([3072, 50, 10, 10, 10, 10, 10], "relu", True, "float32"),
    "B2": ([500] * 12 + [10], "tanh", False, "float32"),
    "B3": ([784, 1024, 1024, 10], "relu", False, "float32"),
    "B4": ([784, 100, 10], "relu", False, "float32"),
    "B5": ([784, 1024, 1024, 10], "relu", False, "float64"),
}
BATCHES = {"B1": [100], "B2": [100], "B3": [256], "B4": [100, 10, 1], "B5": [256]}


def mlpc_net(widths, act, bn, dtype, seed=0):
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(mlpc.Linear(a, b))
        if i < len(widths) - 2:
            if bn:
                layers.append(mlpc.BatchNorm(b))
            layers.append(mlpc.ReLU() if act == "relu" else mlpc.Tanh())
    return mlpc.Sequential(*layers, dtype=dtype, seed=seed)


def torch_net(widths, act, bn, dtype):
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(widths) - 2:
            if bn:
                layers.append(torch.nn.BatchNorm1d(b))
            layers.append(torch.nn.ReLU() if act == "relu" else torch.nn.Tanh())
    return torch.nn.Sequential(*layers).to(getattr(torch, dtype))


def batch(widths, N, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, widths[0])).astype(dtype)
    y = rng.integers(0, widths[-1], size=N).astype(np.int64)
    return X, y


def mlpc_step(widths, act, bn, dtype, X, y):
    net = mlpc_net(widths, act, bn, dtype)
    loss, opt = mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, lr=0.01)
    return lambda: net.train_step(X, y, loss, opt)


def torch_step(widths, act, bn, dtype, X, y):
    model = torch_net(widths, act, bn, dtype)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss_fn(model(xt), yt).backward()
        opt.step()
    return step


def bundled_openblas():
    """The OpenBLAS mlpc links (the library bundled beside mlpc._core), or None."""
    path = os.path.join(os.path.dirname(mlpc.__file__), "libscipy_openblas.so")
    return ctypes.CDLL(path) if os.path.exists(path) else None


class Blas:
    """cblas_?gemm of the OpenBLAS mlpc links."""

    def __init__(self):
        self.lib = bundled_openblas()

    def gemms(self, widths, N, dtype):
        """A function running the step's GEMMs, and the ctypes overhead of that many calls."""
        if self.lib is None:
            return None, 0.0
        ct = ctypes.c_float if dtype == "float32" else ctypes.c_double
        fn = self.lib["scipy_cblas_" + ("sgemm" if dtype == "float32" else "dgemm")]
        I, P = ctypes.c_int, ctypes.c_void_p
        fn.argtypes = [I, I, I, I, I, I, ct, P, I, P, I, ct, P, I]
        fn.restype = None
        rng = np.random.default_rng(0)
        keep, calls = [], []
        RM, NT, T = 101, 111, 112
        for l, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            x, W, dy, out, dW, dx = (rng.standard_normal(s).astype(dtype) for s in
                                     [(N, a), (b, a), (N, b), (N, b), (b, a), (N, a)])
            keep += [x, W, dy, out, dW, dx]
            p = [v.ctypes.data for v in (x, W, dy, out, dW, dx)]
            calls.append((RM, NT, T, N, b, a, 1.0, p[0], a, p[1], a, 0.0, p[3], b))   # y = x Wᵀ
            calls.append((RM, T, NT, b, a, N, 1.0, p[2], b, p[0], a, 0.0, p[4], a))   # dW = dyᵀ x
            if l > 0:
                calls.append((RM, NT, NT, N, a, b, 1.0, p[2], b, p[1], a, 0.0, p[5], a))   # dx
        empty = (RM, NT, NT, 0, 0, 0, 1.0, None, 1, None, 1, 0.0, None, 1)

        def run():
            for c in calls:
                fn(*c)
        self.keep = keep

        def nothing():
            for _ in calls:
                fn(*empty)
        return run, nothing


def openblas_kernels():
    """Which kernels mlpc's OpenBLAS runs: its core name, and whether the environment chose it.
    OpenBLAS picks by CPU (SkylakeX, with AVX-512, on the developers' Zen 4), unless
    OPENBLAS_CORETYPE names a core; some machines set it (with OPENBLAS_L2_SIZE) for older
    OpenBLAS builds, and the Haswell kernels then take about 1.5x as long. Benchmark with
    `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_step.py`."""
    core, lib = "unknown", bundled_openblas()
    if lib is not None and hasattr(lib, "scipy_openblas_get_corename"):   # else another OpenBLAS
        fn = lib.scipy_openblas_get_corename
        fn.restype = ctypes.c_char_p
        core = fn().decode()
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return f"OpenBLAS {core} kernels" + (f" (forced by OPENBLAS_CORETYPE={forced})" if forced else "")


# ---- the tables --------------------------------------------------------------------------------
def print_table(title, header, rows):
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def ms(t):
    return f"{1e3 * t:.3f}"


def us(t):
    return f"{1e6 * t:.1f}"


def table_steps(names, rounds, target, blas):
    """B1-B5: the training step against torch's and against the GEMMs alone."""
    rows = []
    for name in names:
        widths, act, bn, dtype = NETWORKS[name]
        for N in BATCHES[name]:
            X, y = batch(widths, N, dtype)
            contenders = {"mlpc": mlpc_step(widths, act, bn, dtype, X, y)}
            if torch is not None:
                contenders["torch"] = torch_step(widths, act, bn, dtype, X, y)
            run, nothing = blas.gemms(widths, N, dtype)
            if run is not None:
                contenders["gemms"], contenders["ctypes"] = run, nothing
            t = interleaved(contenders, rounds, target)
            m = t["mlpc"]
            g = (t["gemms"][0] - t["ctypes"][0], t["gemms"][1] - t["ctypes"][1]) \
                if "gemms" in t else None
            tt = t.get("torch")
            rows.append([f"{name} {dtype} batch {N}", ms(m[0]), ms(m[1]),
                         ms(tt[0]) if tt else "-", ms(g[0]) if g else "-",
                         f"{m[0] / g[0]:.2f}" if g else "-",
                         f"{tt[0] / m[0]:.2f}" if tt else "-"])
    print_table("Training step, ms per step (thread CPU time; wall beside mlpc's)",
                ["network", "mlpc cpu", "mlpc wall", "torch cpu", "GEMMs cpu", "step / GEMMs",
                 "torch / mlpc"], rows)


def table_inference(names, rounds, target):
    """Batch-1 inference in eval mode: net(x) against torch's model(x) under no_grad."""
    rows = []
    for name in names:
        widths, act, bn, dtype = NETWORKS[name]
        X, _ = batch(widths, 1, dtype)
        net = mlpc_net(widths, act, bn, dtype).eval()
        contenders = {"mlpc": lambda: net(X)}
        if torch is not None:
            model = torch_net(widths, act, bn, dtype).eval()
            xt = torch.from_numpy(X)

            def infer():
                with torch.no_grad():
                    model(xt)
            contenders["torch"] = infer
        t = interleaved(contenders, rounds, target)
        tt = t.get("torch")
        rows.append([f"{name} {dtype}", us(t["mlpc"][0]), us(t["mlpc"][1]),
                     us(tt[0]) if tt else "-", f"{tt[0] / t['mlpc'][0]:.1f}" if tt else "-"])
    print_table("Batch-1 inference, µs per call (eval mode)",
                ["network", "mlpc cpu", "mlpc wall", "torch cpu", "torch / mlpc"], rows)


def table_overhead(rounds, target):
    """The Python layer's cost per call on a 2-2-2 network: the method against the bare C call."""
    net = mlpc.Sequential(mlpc.Linear(2, 2), mlpc.ReLU(), mlpc.Linear(2, 2), seed=0)
    loss, opt = mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, lr=0.01)
    X, y = batch([2, 2], 4, "float32")
    core, kind, ocore = net._core, loss.kind, opt._core
    t = interleaved({
        "train_step": lambda: net.train_step(X, y, loss, opt),
        "C train_step": lambda: core.train_step(X, y, kind, ocore),
        "net(x)": lambda: net(X),
        "C forward": lambda: core.forward(X),
    }, rounds, target)
    rows = [[what, us(t[what][0]), us(t[bare][0]), us(t[what][0] - t[bare][0])]
            for what, bare in [("train_step", "C train_step"), ("net(x)", "C forward")]]
    print_table("Per-call overhead on a 2-2-2 network, batch 4, µs (thread CPU time)",
                ["call", "mlpc.Sequential", "bare _core call", "Python layer"], rows)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="few short rounds (a smoke test)")
    p.add_argument("--rounds", type=int, default=None, help="rounds per table (default 15)")
    p.add_argument("--tables", default="B1,B2,B3,B4,B5,inference,overhead",
                   help="comma-separated subset of B1..B5, inference, overhead")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    p.add_argument("--threads-table", action="store_true",
                   help="instead: B1-B5 on 1 against 2 threads of mlpc's pool (bench_threads.py)")
    p.add_argument("--loaded", action="store_true",
                   help="with --threads-table: a CPU-bound process busy on one core")
    return p.parse_args(argv)


def main(argv=None):
    global torch
    args = parse_args(argv)
    if args.threads_table:
        import bench_threads   # beside this file
        bench_threads.main((["--loaded"] if args.loaded else [])
                           + (["--rounds", str(args.rounds)] if args.rounds else []))
        return
    if args.no_torch:
        torch = None
    rounds = args.rounds or (3 if args.quick else 15)
    target = 0.002 if args.quick else 0.02
    mlpc.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    tables = args.tables.split(",")
    load = os.getloadavg()
    print(f"mlpc {mlpc.__version__} from {os.path.dirname(mlpc.__file__)}; NumPy {np.__version__}; "
          f"torch {torch.__version__ if torch is not None else 'not available'}; "
          f"{openblas_kernels()}; one thread; median of {rounds} interleaved rounds; "
          f"load average {load[0]:.2f} {load[1]:.2f}")
    steps = [t for t in tables if t in NETWORKS]
    if steps:
        table_steps(steps, rounds, target, Blas())
    if "inference" in tables:
        table_inference(list(NETWORKS), rounds, target)
    if "overhead" in tables:
        table_overhead(rounds, target)


if __name__ == "__main__":
    main()
