"""Cost of recording per-layer statistics at every step (mlpc.Recorder), as a share of the step.

    python benchmarks/bench_recorder.py [--epochs 3] [--repeats 5]

Two networks, both float32, batch 100, plain SGD, one BLAS thread:
  lecture  the batch-norm experiment's network, 3072-50-10-10-10-10-10 with BatchNorm before
           every ReLU, on 5000 CIFAR-shaped standardized Gaussian inputs;
  mnist    784-100-100-10 with BatchNorm, on the bundled Fashion-MNIST subset (6000 images).
Each case trains with mlpc.fit (train_metrics="steps", no progress bar), alternating with the
run without a recorder; the figure is the median over repeats of (time / time without) − 1.
"values/step" is how many numbers a snapshot scans.
"""
import argparse
import statistics
import time

import numpy as np

import mlpc


def lecture_net():
    widths = [3072, 50, 10, 10, 10, 10]
    mods = []
    for a, b in zip(widths, widths[1:]):
        mods += [mlpc.Linear(a, b, init="he_normal"), mlpc.BatchNorm(b), mlpc.ReLU()]
    return mlpc.Sequential(*mods, mlpc.Linear(10, 10), seed=0)


def mnist_net():
    return mlpc.Sequential(mlpc.Linear(784, 100), mlpc.BatchNorm(100), mlpc.ReLU(),
                           mlpc.Linear(100, 100), mlpc.BatchNorm(100), mlpc.ReLU(),
                           mlpc.Linear(100, 10), seed=0)


CASES = [
    ("outputs: moments", dict(what=("output",))),
    ("outputs + output grads: moments", dict(what=("output", "grad_output"))),
    ("outputs + output grads: + histograms", dict(what=("output", "grad_output"), range=(-5, 5))),
    ("default (+ param grads): moments", dict()),
    ("default: + histograms", dict(range=(-5, 5))),
]


def train(make_net, X, y, epochs, recorder):
    net = make_net()
    opt = mlpc.SGD(net, lr=0.05)
    start = time.perf_counter()
    mlpc.fit(net, mlpc.SoftmaxCrossEntropy(), opt, X, y, epochs=epochs, batch_size=100, seed=0,
             callbacks=[recorder] if recorder else [], progress=False, train_metrics="steps")
    return time.perf_counter() - start


def values_per_step(make_net, X, y, what):
    net = make_net()
    net.train_step(X[:100], y[:100], mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, lr=0.0))
    n = 0
    for _, layer in net.named_layers():
        n += sum(layer.output.size for q in ("output", "grad_output") if q in what)
    n += sum(g.size for _, _, g in net.named_parameters()) * ("grad" in what)
    return n


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    mlpc.set_num_threads(1)
    rng = np.random.default_rng(0)
    (Xf, yf), _ = mlpc.data.load_fashion_mnist()
    setups = [("lecture", lecture_net, rng.standard_normal((5000, 3072)).astype(np.float32),
               rng.integers(0, 10, 5000)),
              ("mnist", mnist_net, mlpc.data.standardize(Xf.astype(np.float32)), yf)]
    print(f"{'network':8s} {'recorded at every step':38s} {'values/step':>11s} "
          f"{'step':>8s} {'overhead':>9s}")
    for name, make_net, X, y in setups:
        steps = args.epochs * -(-len(y) // 100)
        train(make_net, X, y, 1, None)                         # warm-up
        for label, kwargs in CASES:
            ratios, base = [], []
            for _ in range(args.repeats):
                t0 = train(make_net, X, y, args.epochs, None)
                t1 = train(make_net, X, y, args.epochs, mlpc.Recorder(**kwargs))
                ratios.append(t1 / t0 - 1)
                base.append(t0)
            what = kwargs.get("what", ("output", "grad_output", "grad"))
            print(f"{name:8s} {label:38s} {values_per_step(make_net, X, y, what):11d} "
                  f"{1e3 * min(base) / steps:6.3f}ms {100 * statistics.median(ratios):8.1f}%")


if __name__ == "__main__":
    main()
