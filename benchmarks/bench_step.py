"""Time one training step of mlpc against its matrix products alone (NumPy) and PyTorch.

    PYTHONPATH=python python benchmarks/bench_step.py [--threads N] [--repeat R] [--warmup W]

For two float32 ReLU networks (3072-50-10-10-10-10-10 at batch 100, 784-1024-1024-10 at
batch 256) it prints the median time per step of

  mlpc fwd+bwd   net.zero_grad(); net.cost(X, y, SoftmaxCrossEntropy()); net.backward()
  mlpc step      net.train_step(X, y, loss, SGD(lr=0.01))   (one fused C call, with the update)
  NumPy GEMMs    the 3 matrix products per Linear layer alone, float32, preallocated outputs:
                 forward x Wᵀ, weight gradient dyᵀ x, input gradient dy W
  mlpc/GEMMs     (mlpc fwd+bwd) / (NumPy GEMMs): the overhead of everything that is not a GEMM
                 (bias, activations, softmax, copies, Python/C boundary) and BLAS differences
  torch step     forward, CrossEntropyLoss, backward, SGD step in PyTorch (if importable)

Threads: --threads N sets mlpc.set_num_threads(N), NumPy's BLAS threads (threadpoolctl when
installed, otherwise OPENBLAS_NUM_THREADS/OMP_NUM_THREADS set before NumPy is imported, which
only works if the variables were not already set) and torch.set_num_threads(N).
Nothing is asserted: timings depend on the machine and its load.
"""
import argparse
import os
import statistics
import sys
import time

NETWORKS = [
    ("3072-50-10x5", [3072, 50, 10, 10, 10, 10, 10], 100),
    ("784-1024-1024-10", [784, 1024, 1024, 10], 256),
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="threads for mlpc, NumPy and torch")
    p.add_argument("--repeat", type=int, default=50, help="timed repetitions per measurement")
    p.add_argument("--warmup", type=int, default=5, help="untimed repetitions first")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pause", type=float, default=0.5,
                   help="seconds of rest before each measurement (idle other thread pools)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    p.add_argument("--threads-table", action="store_true",
                   help="print the table of 1 against 2 threads instead (bench_threads.py)")
    p.add_argument("--loaded", action="store_true",
                   help="with --threads-table: a CPU-bound process busy on one core")
    return p.parse_args(argv)


ARGS = parse_args()
PAUSE = ARGS.pause
_ENV_THREADS = {}
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _ENV_THREADS[var] = os.environ.get(var)
    os.environ.setdefault(var, str(ARGS.threads))

import numpy as np  # noqa: E402  (after the thread variables)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import mlpc  # noqa: E402

try:
    import threadpoolctl
except ImportError:
    threadpoolctl = None

if ARGS.no_torch:
    torch = None
else:
    try:
        import torch
    except ImportError:
        torch = None


def median_time(fn, repeat, warmup):
    """Median wall time of fn() in seconds, over `repeat` calls after `warmup` calls.

    Starts with a pause: BLAS / OpenMP worker threads of the library measured before keep
    spinning for a while after their last job, and with several threads on few cores they
    would steal the CPU from this measurement."""
    time.sleep(PAUSE)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def mlpc_net(sizes, seed):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(mlpc.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(mlpc.ReLU())
    return mlpc.Sequential(*layers, dtype="float32", seed=seed)


def bench_mlpc(sizes, X, y, repeat, warmup, seed):
    net = mlpc_net(sizes, seed)
    loss = mlpc.SoftmaxCrossEntropy()

    def fwd_bwd():
        net.zero_grad()
        net.cost(X, y, loss)
        net.backward()

    t_fb = median_time(fwd_bwd, repeat, warmup)
    opt = mlpc.SGD(net, lr=0.01)
    t_step = median_time(lambda: net.train_step(X, y, loss, opt), repeat, warmup)
    return t_fb, t_step


def bench_numpy_gemms(sizes, N, repeat, warmup, seed):
    """x Wᵀ (N,out), dyᵀ x (out,in), dy W (N,in) for every Linear layer, float32."""
    rng = np.random.default_rng(seed)
    work = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        x = rng.standard_normal((N, a), dtype=np.float32)
        W = rng.standard_normal((b, a), dtype=np.float32)
        dy = rng.standard_normal((N, b), dtype=np.float32)
        work.append((x, W, dy, np.empty((N, b), np.float32), np.empty((b, a), np.float32),
                     np.empty((N, a), np.float32)))

    def gemms():
        for x, W, dy, out, dW, dx in work:
            np.matmul(x, W.T, out=out)
            np.matmul(dy.T, x, out=dW)
            np.matmul(dy, W, out=dx)

    return median_time(gemms, repeat, warmup)


def bench_torch(sizes, X, y, repeat, warmup, seed):
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).float()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt = torch.from_numpy(X)
    yt = torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()

    return median_time(step, repeat, warmup)


def gemm_flops(sizes, N):
    return sum(3 * 2 * N * a * b for a, b in zip(sizes[:-1], sizes[1:]))


def numpy_threads_note():
    if threadpoolctl is not None:
        threadpoolctl.threadpool_limits(ARGS.threads)
        info = [f"{d.get('internal_api')}={d.get('num_threads')}"
                for d in threadpoolctl.threadpool_info()]
        return "threadpoolctl: " + ", ".join(info)
    preset = _ENV_THREADS["OPENBLAS_NUM_THREADS"]
    if preset is not None and preset != str(ARGS.threads):
        return (f"threadpoolctl not installed; OPENBLAS_NUM_THREADS={preset} was already set, "
                f"so NumPy uses {preset} thread(s), not {ARGS.threads}")
    return (f"threadpoolctl not installed; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}"
            " set before importing NumPy")


def main():
    args = ARGS
    if args.threads_table:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import bench_threads
        bench_threads.main(["--loaded"] if args.loaded else [])
        return
    mlpc.set_num_threads(args.threads)
    note = numpy_threads_note()
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"mlpc {mlpc.__version__}: {mlpc.get_num_threads()} thread(s); NumPy {np.__version__}: "
          f"{note}; torch: "
          + (f"{torch.__version__}, {torch.get_num_threads()} thread(s)" if torch is not None
             else "not available"))
    print(f"float32, median of {args.repeat} repetitions after {args.warmup} warm-up; "
          f"times in ms per step\n")

    header = ("network", "batch", "thr", "mlpc fwd+bwd", "mlpc step", "NumPy GEMMs",
              "mlpc/GEMMs", "GEMM GFLOP/s", "torch step", "torch/mlpc step")
    rows = []
    rng = np.random.default_rng(args.seed)
    for name, sizes, N in NETWORKS:
        X = rng.standard_normal((N, sizes[0]), dtype=np.float32)
        y = rng.integers(0, sizes[-1], size=N).astype(np.int64)
        t_fb, t_step = bench_mlpc(sizes, X, y, args.repeat, args.warmup, args.seed)
        t_np = bench_numpy_gemms(sizes, N, args.repeat, args.warmup, args.seed)
        t_torch = (bench_torch(sizes, X, y, args.repeat, args.warmup, args.seed)
                   if torch is not None else None)
        rows.append((name, str(N), str(args.threads), f"{1e3 * t_fb:.3f}", f"{1e3 * t_step:.3f}",
                     f"{1e3 * t_np:.3f}", f"{t_fb / t_np:.2f}",
                     f"{gemm_flops(sizes, N) / t_np / 1e9:.1f}",
                     f"{1e3 * t_torch:.3f}" if t_torch is not None else "-",
                     f"{t_torch / t_step:.2f}" if t_torch is not None else "-"))

    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths)))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))


if __name__ == "__main__":
    main()
