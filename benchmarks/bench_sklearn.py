"""mlpc.sklearn.MLPClassifier against sklearn.neural_network.MLPClassifier on the bundled
Fashion-MNIST subset (6,000 training, 1,000 test images): the same architecture, optimizer,
learning rate, batch size and number of epochs, no L2, no early stopping, one BLAS thread each.

    python benchmarks/bench_sklearn.py [--hidden 100] [--epochs 20] [--rounds 3] [--dtype float32]

Prints, per round (contenders interleaved), the fit's wall time and thread CPU time, and the
test accuracy of each; then the medians and their ratio."""
import argparse
import statistics
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLP
from threadpoolctl import threadpool_limits

import mlpc
from mlpc.sklearn import MLPClassifier


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", default="100", help="hidden layer sizes, comma-separated")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = p.parse_args()
    hidden = tuple(int(h) for h in args.hidden.split(","))

    (X, y), (X_test, y_test) = mlpc.data.load_fashion_mnist()
    X, X_test = mlpc.data.standardize(X, X_test)
    X, X_test = X.astype(args.dtype), X_test.astype(args.dtype)
    common = dict(hidden_layer_sizes=hidden, activation="relu", alpha=0.0,
                  batch_size=args.batch_size, learning_rate_init=args.lr, max_iter=args.epochs,
                  tol=0.0, n_iter_no_change=args.epochs + 1, shuffle=True)
    contenders = {
        "mlpc": lambda seed: MLPClassifier(**common, optimizer="adam", dtype=args.dtype,
                                           random_state=seed),
        "sklearn": lambda seed: SkMLP(**common, solver="adam", random_state=seed),
    }
    print(f"Fashion-MNIST subset: {len(X)} train, {len(X_test)} test; 784-"
          f"{'-'.join(map(str, hidden))}-10 ReLU, Adam lr {args.lr}, batch {args.batch_size}, "
          f"{args.epochs} epochs, {args.dtype}, one BLAS thread")
    results = {name: [] for name in contenders}
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlpc.set_num_threads(1)
        for r in range(args.rounds):
            for name, make in contenders.items():
                clf = make(r)
                wall, cpu = time.perf_counter(), time.thread_time()
                clf.fit(X, y)
                wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
                acc = clf.score(X_test, y_test)
                results[name].append((wall, cpu, acc))
                print(f"round {r}  {name:8s} fit {wall:7.2f} s wall  {cpu:7.2f} s thread CPU  "
                      f"test accuracy {acc:.4f}  ({clf.n_iter_} epochs)")
    med = {name: [statistics.median(v[i] for v in rows) for i in range(3)]
           for name, rows in results.items()}
    print()
    for name, (wall, cpu, acc) in med.items():
        print(f"median  {name:8s} fit {wall:7.2f} s wall  {cpu:7.2f} s thread CPU  "
              f"test accuracy {acc:.4f}")
    print(f"sklearn / mlpc fit time: {med['sklearn'][0] / med['mlpc'][0]:.2f}x wall, "
          f"{med['sklearn'][1] / med['mlpc'][1]:.2f}x thread CPU")


if __name__ == "__main__":
    main()
