"""Cost of recording per-layer statistics at every step (mlpc.Recorder), as a share of the step.

    python benchmarks/bench_recorder.py [--epochs 3] [--repeats 5]

Two networks, both float32, batch 100, plain SGD, one BLAS thread:
  lecture  the batch-norm experiment's network, 3072-50-10-10-10-10-10 with BatchNorm before
           every ReLU, on 5000 CIFAR-shaped standardized Gaussian inputs;
  mnist    784-100-100-10 with BatchNorm, on the bundled Fashion-MNIST subset (6000 images).
Each case trains with mlpc.fit (train_metrics="steps", no progress bar) and times the recorder's
on_step_end: the figure is the median over repeats of (time recording) / (time of the rest of
the fit), both in thread CPU time (time.thread_time: steady on a loaded machine; one BLAS
thread, so the fit's work is this thread's), "step" the fastest time of one step without the recording. "values/step" is how many
numbers a snapshot reads (an update reads W and the copy of W before the step).
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
    ('what="all" (+ params, updates): moments', dict(what="all")),
    ("ReLU outputs + their grads: + histograms",
     dict(what=("output", "grad_output"), layers=(mlpc.ReLU,), range=(-5, 5))),
]


class Timed(mlpc.Callback):
    """Forwards to a recorder and adds up the time spent in it."""

    def __init__(self, recorder):
        self.recorder, self.seconds = recorder, 0.0

    def on_train_begin(self, fit):
        self.recorder.on_train_begin(fit)

    def on_step_end(self, step, info):
        start = time.thread_time()
        self.recorder.on_step_end(step, info)
        self.seconds += time.thread_time() - start


def train(make_net, X, y, epochs, recorder):
    """(seconds of the whole fit, seconds spent recording)."""
    net = make_net()
    opt = mlpc.SGD(net, lr=0.05)
    timed = Timed(recorder)
    start = time.thread_time()
    mlpc.fit(net, mlpc.SoftmaxCrossEntropy(), opt, X, y, epochs=epochs, batch_size=100, seed=0,
             callbacks=[timed], progress=False, train_metrics="steps")
    return time.thread_time() - start, timed.seconds


def values_per_step(make_net, X, y, what, layers):
    net = make_net()
    net.train_step(X[:100], y[:100], mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, lr=0.0))
    n = 0
    for _, layer in net.named_layers():
        if isinstance(layer, layers or object):
            n += sum(layer.output.size for q in ("output", "grad_output") if q in what)
            size = sum(g.size for _, _, g in layer.named_parameters())
            n += size * (("grad" in what) + ("param" in what) + 2 * ("update" in what))
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
    print(f"{'network':8s} {'recorded at every step':41s} {'values/step':>11s} "
          f"{'step':>8s} {'overhead':>9s}")
    for name, make_net, X, y in setups:
        steps = args.epochs * -(-len(y) // 100)
        train(make_net, X, y, 1, mlpc.Recorder(steps=()))      # warm-up
        for label, kwargs in CASES:
            shares, steps_ms = [], []
            for _ in range(args.repeats):
                total, recording = train(make_net, X, y, args.epochs, mlpc.Recorder(**kwargs))
                shares.append(recording / (total - recording))
                steps_ms.append(1e3 * (total - recording) / steps)
            what = mlpc.Recorder(what=kwargs.get("what", mlpc.Recorder().what)).what
            n = values_per_step(make_net, X, y, what, kwargs.get("layers"))
            print(f"{name:8s} {label:41s} {n:11d} {min(steps_ms):6.3f}ms "
                  f"{100 * statistics.median(shares):8.1f}%")


if __name__ == "__main__":
    main()
