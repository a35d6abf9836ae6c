"""Build the Fashion-MNIST subset bundled with mlpc.

    python benchmarks/make_fashion_subset.py SOURCE_FOLDER [--out PATH] [--seed N]

SOURCE_FOLDER holds the four original Fashion-MNIST IDX files (gzip or not).
The script picks, with a fixed seed, 600 training images per class (6000) and
100 test images per class (1000), without replacement, and stores them in the
original file order as uint8 arrays in an .npz (np.savez_compressed):

    x_train (6000, 28, 28) uint8    y_train (6000,) uint8    idx_train (6000,) int64
    x_test  (1000, 28, 28) uint8    y_test  (1000,) uint8    idx_test  (1000,) int64

idx_* are the row numbers of the chosen images in the original train / t10k
files, so the subset can be checked against them.  Re-running with the same
source and seed gives the same arrays.

The default output is python/mlpc/_bundled/fashion_mnist_subset.npz.
"""

import argparse
import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "python" / "mlpc" / "_bundled" / "fashion_mnist_subset.npz"
SEED = 20170828  # the date of the Fashion-MNIST paper (arXiv:1708.07747)
TRAIN_PER_CLASS = 600
TEST_PER_CLASS = 100


def _load_data_module():
    """Load python/mlpc/data.py by path, so this works without building mlpc._core."""
    spec = importlib.util.spec_from_file_location("_mlpc_data", ROOT / "python" / "mlpc" / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stratified_indices(labels, per_class, rng):
    """Sorted indices of ``per_class`` examples of every class, drawn without replacement."""
    chosen = [
        rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False)
        for c in np.unique(labels)
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="folder with the four Fashion-MNIST IDX files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output .npz (default {DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"selection seed (default {SEED})")
    args = parser.parse_args()

    data = _load_data_module()
    source = args.source.expanduser()
    x_train = data.read_idx(data._find_idx_file(source, "train-images-idx3-ubyte", "Fashion-MNIST"))
    y_train = data.read_idx(data._find_idx_file(source, "train-labels-idx1-ubyte", "Fashion-MNIST"))
    x_test = data.read_idx(data._find_idx_file(source, "t10k-images-idx3-ubyte", "Fashion-MNIST"))
    y_test = data.read_idx(data._find_idx_file(source, "t10k-labels-idx1-ubyte", "Fashion-MNIST"))

    rng = np.random.default_rng(args.seed)
    idx_train = stratified_indices(y_train, TRAIN_PER_CLASS, rng)
    idx_test = stratified_indices(y_test, TEST_PER_CLASS, rng)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        x_train=x_train[idx_train], y_train=y_train[idx_train], idx_train=idx_train,
        x_test=x_test[idx_test], y_test=y_test[idx_test], idx_test=idx_test,
    )
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes): "
          f"{len(idx_train)} train + {len(idx_test)} test images, seed {args.seed}")
    for name, y in (("train", y_train[idx_train]), ("test", y_test[idx_test])):
        print(f"  {name} per class: {np.bincount(y, minlength=10).tolist()}")


if __name__ == "__main__":
    main()
