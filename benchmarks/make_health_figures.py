"""Generate the README's training-health and learning-rate figures into docs/figures/.

    python benchmarks/make_health_figures.py [--out docs/figures] [--dpi 80] [--colors 128]

    training_health.png  mlpc.plot.training_health of the README's run: 784-100-100-10 tanh
                         network (He-normal init, too large for tanh), SGD lr 0.1, batch 20,
                         one epoch of the bundled Fashion-MNIST subset, recorded every 5 steps
    lr_find.png          mlpc.lr_find on 784-100-10 ReLU with SGD momentum 0.9

Seeded and single-threaded: the files come out byte-identical on a given machine and
matplotlib version. Takes a few seconds.
"""
import argparse
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_INPLACE = os.path.join(HERE, "..", "python")
if glob.glob(os.path.join(_INPLACE, "mlpc", "_core*")):    # an in-place build of this checkout
    sys.path.insert(0, _INPLACE)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import mlpc  # noqa: E402
from mlpc import data  # noqa: E402
from make_figures import save_small  # noqa: E402


def health_figure():
    (X, y), _ = data.load_fashion_mnist()
    X = data.standardize(X)
    net = mlpc.Sequential(mlpc.Linear(784, 100), mlpc.Tanh(), mlpc.Linear(100, 100), mlpc.Tanh(),
                          mlpc.Linear(100, 10), seed=0)
    rec = mlpc.Recorder(what="all", steps=range(0, 300, 5),
                        range={"output": (-1, 1), "grad_output": (-0.02, 0.02)})
    mlpc.fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, lr=0.1), X, y, epochs=1,
             batch_size=20, seed=0, callbacks=[rec], progress=False)
    return mlpc.plot.training_health(
        rec, title="training health: 784-100-100-10 tanh, He init, SGD lr 0.1 (Fashion-MNIST)")


def lr_find_figure():
    (X, y), _ = data.load_fashion_mnist()
    X = data.standardize(X)
    net = mlpc.Sequential(mlpc.Linear(784, 100), mlpc.ReLU(), mlpc.Linear(100, 10), seed=0)
    opt = mlpc.SGD(net, lr=0.1, momentum=0.9)
    return mlpc.lr_find(net, mlpc.SoftmaxCrossEntropy(), opt, X, y, seed=0).plot()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(HERE, "..", "docs", "figures"))
    parser.add_argument("--dpi", type=int, default=80)
    parser.add_argument("--colors", type=int, default=128,
                        help="palette size of the PNGs (0: full colour)")
    args = parser.parse_args(argv)
    mlpc.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for name, make in (("training_health", health_figure), ("lr_find", lr_find_figure)):
        fig = make()
        path = os.path.join(args.out, f"{name}.png")
        save_small(fig, path, args.dpi, args.colors)
        plt.close(fig)
        print(path)


if __name__ == "__main__":
    main()
