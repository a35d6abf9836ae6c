"""The threads table: one training step of B1-B5 on 1 thread against 2 (or --threads N) threads
of mlpc's pool, idle and with a CPU-bound process busy on one core.

    python benchmarks/bench_threads.py [--loaded] [--rounds R] [--threads N]
    python benchmarks/bench_step.py --threads-table [--loaded]        (the same table)

Per network it prints the median over interleaved rounds (1 thread, N threads, 1 thread, ...)
of the wall time per step and of the process CPU time per step (all threads: the pool's spinning
shows there), the speed-up wall(1) / wall(N), and the CPU time of the calling thread with N
threads (its share of the blocks, the passes too small to cut, and its waits for the workers up
to the 50 µs spin; on a machine shared with other work, where wall times mostly measure the
others, it shows how much of a step the workers took over). --loaded starts
`python -c "while True: pass"` pinned to the first CPU of this process for the whole run. The networks and batches are
bench_step.py's (B1-B5 of the performance issue; SGD, softmax cross-entropy).

Nothing is asserted: the figures depend on the machine and its load (give `uptime` with them).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import mlpc
from bench_step import BATCHES, NETWORKS, batch, mlpc_net, openblas_kernels   # the same networks


def round_time(step, seconds):
    """(wall, process CPU, calling thread's CPU) seconds per step over at least `seconds`."""
    step()
    steps, w0, c0, t0 = 0, time.perf_counter(), time.process_time(), time.thread_time()
    while True:
        step()
        steps += 1
        wall = time.perf_counter() - w0
        if wall >= seconds:
            return (wall / steps, (time.process_time() - c0) / steps,
                    (time.thread_time() - t0) / steps)


def table(threads, rounds, seconds):
    rows = []
    for name, (widths, act, bn, dtype) in NETWORKS.items():
        for N in BATCHES[name]:
            net = mlpc_net(widths, act, bn, dtype)
            opt, loss = mlpc.SGD(net, 0.01), mlpc.SoftmaxCrossEntropy()
            X, y = batch(widths, N, dtype)
            times = {1: [], threads: []}
            for _ in range(rounds):
                for n in (1, threads):      # interleaved, so both see the same machine
                    mlpc.set_num_threads(n)
                    times[n].append(round_time(lambda: net.train_step(X, y, loss, opt), seconds))
            med = {n: tuple(statistics.median(t[i] for t in ts) for i in range(3))
                   for n, ts in times.items()}
            rows.append((name + (" f64" if dtype == "float64" else ""), N, med[1], med[threads]))
    return rows


def busy_process():
    """A CPU-bound Python process pinned to the first CPU this process may use."""
    cpu = min(os.sched_getaffinity(0))
    return subprocess.Popen([sys.executable, "-c",
                             f"import os; os.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2, help="threads compared with one (default 2)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds per network")
    p.add_argument("--seconds", type=float, default=0.3, help="length of one round")
    p.add_argument("--loaded", action="store_true",
                   help="run with a CPU-bound process busy on one core")
    args = p.parse_args(argv)
    before = mlpc.get_num_threads()
    busy = busy_process() if args.loaded else None
    try:
        if busy:
            time.sleep(0.5)
        rows = table(args.threads, args.rounds, args.seconds)
    finally:
        if busy:
            busy.kill()
            busy.wait()
        mlpc.set_num_threads(before)
    T = args.threads
    setting = "a busy process pinned to one core" if args.loaded else "no busy process started"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"mlpc {mlpc.__version__}, {openblas_kernels()}, {len(os.sched_getaffinity(0))} CPUs available, {setting}; "
          f"load average {load}; median of {args.rounds} rounds\n")
    print(f"| network | batch | wall 1 thr | wall {T} thr | speed-up | CPU 1 thr | CPU {T} thr "
          f"| caller CPU {T} thr |")
    print("|---|---|---|---|---|---|---|---|")
    for name, N, (w1, c1, _), (wn, cn, tn) in rows:
        print(f"| {name} | {N} | {1e3 * w1:.3f} ms | {1e3 * wn:.3f} ms | {w1 / wn:.2f} | "
              f"{1e3 * c1:.3f} ms | {1e3 * cn:.3f} ms | {1e3 * tn:.3f} ms |")


if __name__ == "__main__":
    main()
