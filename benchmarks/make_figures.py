"""Generate the README's key figures into docs/figures/.

    python benchmarks/make_figures.py [--out docs/figures] [--data CIFAR10_DIR] [--dpi 80]
                                      [--colors 128] [--quick]

Runs three lecture experiments with their full (lecture) parameters and keeps only these PNGs:

    init_histograms_tanh_activations.png  10 × 500 tanh network: activations per layer for
    init_histograms_relu_activations.png  σ = 0.01, σ = 1, Xavier, Glorot, He (and the same, relu)
    batchnorm_cifar_curves.png            loss / accuracy with and without BN, η = 0.01 and 0.5
    slow_learning_curves.png              quadratic vs cross-entropy cost of one sigmoid neuron

Without --data the batch-norm experiment runs on the bundled Fashion-MNIST subset (its titles say
so); with a CIFAR-10 folder it reproduces the notes' set-up. All experiments' figures and JSON
files are written by `python -m mlpc.experiments all --out DIR` instead.
Takes one to two minutes on one core (the batch-norm runs are 4 × 4000 SGD steps).
"""
import argparse
import glob
import io
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_INPLACE = os.path.join(HERE, "..", "python")
if glob.glob(os.path.join(_INPLACE, "mlpc", "_core*")):    # an in-place build of this checkout
    sys.path.insert(0, _INPLACE)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mlpc.experiments import EXPERIMENTS  # noqa: E402

# experiment -> the figures kept for the README (drawn alone: the others are not needed)
KEEP = {
    "init_histograms": lambda r: {f"{act}_activations": r.activation_figure(act)
                                  for act in ("tanh", "relu")},
    "batchnorm_cifar": lambda r: {"curves": r.curves_figure()},
    "slow_learning": lambda r: r.figures(),
}


def save_small(fig, path, dpi, colors):
    """Save as a palette PNG of `colors` colours (flat plots lose nothing visible; the files
    are about three times smaller than matplotlib's RGBA output)."""
    if not colors:
        fig.savefig(path, dpi=dpi)
        return
    from PIL import Image
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    buf.seek(0)
    image = Image.open(buf).convert("RGB")
    image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(HERE, "..", "docs", "figures"))
    parser.add_argument("--data", default=None, help="CIFAR-10 folder for batchnorm_cifar")
    parser.add_argument("--dpi", type=float, default=80)
    parser.add_argument("--colors", type=int, default=128,
                        help="palette size of the PNG files (0: matplotlib's RGBA PNG)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small sizes, to try the script")
    args = parser.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    total = 0
    for name, draw in KEEP.items():
        params = {"data": args.data} if name == "batchnorm_cifar" else {}
        start = time.perf_counter()
        result = EXPERIMENTS[name](quick=args.quick, seed=args.seed, **params)
        for suffix, fig in draw(result).items():
            path = os.path.join(args.out, f"{name}_{suffix}.png")
            save_small(fig, path, args.dpi, args.colors)
            plt.close(fig)
            size = os.path.getsize(path)
            total += size
            print(f"{os.path.relpath(path)}: {size / 1024:.0f} KB")
        print(f"  ({name}: {time.perf_counter() - start:.0f} s)")
    print(f"total {total / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
