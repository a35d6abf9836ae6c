"""Time mlpc.gradcheck on the README's example (784-100-10 ReLU network, batch of 256).

    PYTHONPATH=python python benchmarks/bench_gradcheck.py [--rounds R] [--sample S]

Prints, as medians over R rounds with the contenders interleaved round by round, thread CPU
time beside wall time:

  directional     mlpc.gradcheck(net, loss, X, y): the default check of every tensor
  elementwise     per entry, mlpc.gradcheck(..., entries=S) divided by the entries it checked
  central diffs   per entry, the former method: (J(w + ε) − J(w − ε))/(2ε) with one net.cost
                  call from Python per evaluation, on S entries of the first weight matrix

and the per-entry figures extrapolated to all 280 214 entries (parameters and input).
Nothing is asserted: timings depend on the machine and its load.
"""
import argparse
import statistics
import time

import numpy as np

import mlpc


def timed(fn):
    wall, cpu = time.perf_counter(), time.thread_time()
    out = fn()
    return time.perf_counter() - wall, time.thread_time() - cpu, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sample", type=int, default=100)
    args = parser.parse_args()

    mlpc.manual_seed(0)
    net = mlpc.Sequential(mlpc.Linear(784, 100), mlpc.ReLU(), mlpc.Linear(100, 10))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 784)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    loss_fn = mlpc.SoftmaxCrossEntropy()
    net64, x64 = net.copy("float64"), X.astype(np.float64)
    entries = sum(v.size for _, v, _ in net64.named_parameters()) + x64.size
    w = net64[0].weight.reshape(-1)

    def central_differences():
        for i in range(args.sample):
            old = w[i]
            w[i] = old + 1e-6
            plus = net64.cost(x64, y, loss_fn)
            w[i] = old - 1e-6
            minus = net64.cost(x64, y, loss_fn)
            w[i] = old
            _ = (plus - minus) / 2e-6

    rows = {"directional": [], "elementwise": [], "central diffs": []}
    checked = None
    for _ in range(args.rounds):
        wall, cpu, result = timed(lambda: mlpc.gradcheck(net, loss_fn, X, y))
        rows["directional"].append((wall, cpu, result))
        wall, cpu, elementwise = timed(lambda: mlpc.gradcheck(net, loss_fn, X, y,
                                                              entries=args.sample))
        checked = sum(min(args.sample, v.size) for _, v, _ in net64.named_parameters()) + \
            min(args.sample, x64.size)
        rows["elementwise"].append((wall / checked, cpu / checked, elementwise))
        wall, cpu, _ = timed(central_differences)
        rows["central diffs"].append((wall / args.sample, cpu / args.sample, None))

    print(f"README example, {entries} entries, {args.rounds} rounds (medians), "
          f"{mlpc.get_num_threads()} thread(s)")
    for name, values in rows.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        if name == "directional":
            result = values[-1][2]
            print(f"  {name:14s} {wall:8.3f} s wall  {cpu:8.3f} s CPU   max error "
                  f"{max(result.values()):.1e}, {result.evaluations} evaluations, "
                  f"passed: {result.passed}")
        else:
            print(f"  {name:14s} {wall * 1e3:8.3f} ms wall {cpu * 1e3:8.3f} ms CPU per entry  "
                  f"-> all entries: {wall * entries:7.0f} s wall {cpu * entries:7.0f} s CPU")


if __name__ == "__main__":
    main()
