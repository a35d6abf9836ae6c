"""Cost of recording per-layer statistics at every step (mlpc.Recorder) relative to the step.

    python benchmarks/bench_recorder.py [--epochs 3] [--width 100]
"""
import argparse
import time

import numpy as np

import mlpc


def run(recorder, X, y, width, epochs):
    net = mlpc.Sequential(mlpc.Linear(784, width), mlpc.BatchNorm(width), mlpc.ReLU(),
                          mlpc.Linear(width, width), mlpc.BatchNorm(width), mlpc.ReLU(),
                          mlpc.Linear(width, 10), seed=0)
    opt = mlpc.SGD(net, lr=0.05)
    callbacks = [recorder] if recorder else []
    start = time.perf_counter()
    mlpc.fit(net, mlpc.SoftmaxCrossEntropy(), opt, X, y, epochs=epochs, batch_size=100, seed=0,
             callbacks=callbacks, progress=False, train_metrics="steps")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--width", type=int, default=100)
    args = parser.parse_args()
    (X, y), _ = mlpc.data.load_fashion_mnist()
    cases = [("no recorder", None),
             ("outputs, moments", mlpc.Recorder(what=("output",))),
             ("outputs + histograms", mlpc.Recorder(what=("output",), range=(-5, 5))),
             ("outputs + grads, moments", mlpc.Recorder(what=("output", "grad_output"))),
             ("outputs + grads + param grads", mlpc.Recorder())]
    run(None, X, y, args.width, 1)    # warm-up
    base = None
    print(f"{'recording every step':32s} {'seconds':>8s} {'overhead':>9s}")
    for name, rec in cases:
        t = min(run(rec, X, y, args.width, args.epochs) for _ in range(3))
        base = base or t
        print(f"{name:32s} {t:8.3f} {100 * (t / base - 1):8.1f}%")


if __name__ == "__main__":
    main()
