"""Generate the README's key figures into docs/figures/.

    python benchmarks/make_figures.py [--out docs/figures] [--data CIFAR10_DIR] [--dpi 80]
                                      [--colors 128] [--quick] [--check]

Runs four lecture experiments with their full (lecture) parameters and keeps only these PNGs:

    init_histograms_tanh_activations.png  10 × 500 tanh network: activations per layer for
    init_histograms_relu_activations.png  σ = 0.01, σ = 1, Xavier, Glorot, He (and the same, relu)
    init_histograms_relu_grad_weight.png  relu: ∂l/∂W_l of 10 single examples (the per-example
                                          view of the notes: 50-75% exact zeros)
    constant_init_distance.png            constant vs random init: distance from the symmetry
    batchnorm_cifar_curves.png            loss / accuracy with and without BN, η = 0.01 and 0.5
    batchnorm_cifar_eta0.5_gradients.png  η = 0.5: ∂J/∂W_l per layer and step; without BN all zero
    slow_learning_curves.png              quadratic vs cross-entropy cost of one sigmoid neuron

Without --data the batch-norm experiment runs on the bundled Fashion-MNIST subset (its titles say
so); with a CIFAR-10 folder it reproduces the notes' set-up. All experiments' figures and JSON
files are written by `python -m mlpc.experiments all --out DIR` instead.
Takes about a minute on one core (the batch-norm runs are 4 × 4000 SGD steps).

The files are byte-identical on every run: the experiments are seeded, mlpc's results do not
depend on the thread count (its worker pool splits every pass the same way), and the PNGs carry
no time stamp. One thing differs between machines: OpenBLAS picks its matrix kernels by CPU
(AVX2 "Haswell", AVX-512 "SkylakeX", ...), and they round differently; the η = 0.5 batch-norm
run amplifies that round-off until its validation curve visibly moves. That is why
batchnorm_cifar_curves.png came out different from the committed file while the other figures
were identical (with OPENBLAS_CORETYPE=Haswell and =SkylakeX the η = 0.5 BN validation loss
differs by up to 0.45, the η = 0.01 curves by up to 0.02, the η = 0.5 run without BN by 1e-8).
So this script fixes the kernel to OpenBLAS's Haswell one on every x86-64 machine with AVX2
(OPENBLAS_CORETYPE, unless set); the figures then come out the same bytes given the same
matplotlib and Pillow.
--check regenerates them into a temporary folder and compares them with --out byte for byte
(exit status 1 if any differs).
"""
import argparse
import filecmp
import glob
import io
import os
import platform
import sys
import tempfile
import time


def _has_avx2():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx2" in f.read()
    except OSError:
        return False


# before mlpc (and its OpenBLAS) is loaded; see the module docstring
if platform.machine().lower() in ("x86_64", "amd64") and _has_avx2():
    os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

HERE = os.path.dirname(os.path.abspath(__file__))
_INPLACE = os.path.join(HERE, "..", "python")
if glob.glob(os.path.join(_INPLACE, "mlpc", "_core*")):    # an in-place build of this checkout
    sys.path.insert(0, _INPLACE)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mlpc.experiments import EXPERIMENTS  # noqa: E402

# experiment -> (its parameters besides the lecture's, the figures kept for the README; drawn
# alone: the others are not needed)
KEEP = {
    "init_histograms": (dict(per_example=10), lambda r: {
        "tanh_activations": r.activation_figure("tanh"),
        "relu_activations": r.activation_figure("relu"),
        "relu_grad_weight": r.gradient_figure("relu")}),
    "constant_init": ({}, lambda r: r.figures()),
    "batchnorm_cifar": ({}, lambda r: {"curves": r.curves_figure(),
                                       "eta0.5_gradients": r.histogram_figure(0.5, "gradients")}),
    "slow_learning": ({}, lambda r: r.figures()),
}


def save_small(fig, path, dpi, colors):
    """Save as a palette PNG of `colors` colours (flat plots lose nothing visible; the files
    are about three times smaller than matplotlib's RGBA output)."""
    if not colors:
        fig.savefig(path, dpi=dpi, metadata={"Software": None})   # no version in the file
        return
    from PIL import Image
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    buf.seek(0)
    image = Image.open(buf).convert("RGB")
    image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def generate(out, data=None, dpi=80, colors=128, seed=0, quick=False):
    """Write the figures of KEEP into `out`; returns their paths."""
    os.makedirs(out, exist_ok=True)
    paths = []
    for name, (params, draw) in KEEP.items():
        params = dict(params, data=data) if name == "batchnorm_cifar" else params
        start = time.perf_counter()
        result = EXPERIMENTS[name](quick=quick, seed=seed, **params)
        for suffix, fig in draw(result).items():
            path = os.path.join(out, f"{name}_{suffix}.png")
            save_small(fig, path, dpi, colors)
            plt.close(fig)
            paths.append(path)
            print(f"{os.path.relpath(path)}: {os.path.getsize(path) / 1024:.0f} KB")
        print(f"  ({name}: {time.perf_counter() - start:.0f} s)")
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(HERE, "..", "docs", "figures"))
    parser.add_argument("--data", default=None, help="CIFAR-10 folder for batchnorm_cifar")
    parser.add_argument("--dpi", type=float, default=80)
    parser.add_argument("--colors", type=int, default=128,
                        help="palette size of the PNG files (0: matplotlib's RGBA PNG)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small sizes, to try the script")
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary folder and compare with --out")
    args = parser.parse_args(argv)
    options = dict(data=args.data, dpi=args.dpi, colors=args.colors, seed=args.seed,
                   quick=args.quick)
    if not args.check:
        paths = generate(args.out, **options)
        print(f"total {sum(os.path.getsize(p) for p in paths) / 1024:.0f} KB")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        differ = []
        for path in generate(tmp, **options):
            committed = os.path.join(args.out, os.path.basename(path))
            same = os.path.isfile(committed) and filecmp.cmp(path, committed, shallow=False)
            print(f"{os.path.relpath(committed)}: {'same bytes' if same else 'DIFFERS'}")
            differ += [] if same else [committed]
    if differ:
        print(f"{len(differ)} figure(s) differ from a fresh run", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
