"""Tests of the command line (mlpc.cli): end to end in a subprocess on the bundled data, and
in-process on tiny MNIST/CIFAR-10 files written here. The reported test accuracy is checked
against a NumPy forward pass over the arrays of the saved file."""
import gzip
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import mlpc
from mlpc import cli, data, serialize

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(mlpc.__file__)))


def run(*args, timeout=120):
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "mlpc", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def reported_accuracy(stdout):
    m = re.search(r"test accuracy ([0-9.]+)%", stdout)
    assert m, stdout
    return float(m.group(1))


def numpy_accuracy(model_path, X, y):
    """Accuracy of a Linear-BatchNorm-ReLU-Dropout-Linear model file, in NumPy only."""
    with np.load(model_path, allow_pickle=False) as f:
        a = {k: f[k].astype(np.float64) for k in f.files if k != "header"}
    x = (X.astype(np.float64) - a["extra/input_mean"]) / a["extra/input_std"]
    h = x @ a["param/0.weight"].T + a["param/0.bias"]
    h = (h - a["buffer/1.running_mean"]) / np.sqrt(a["buffer/1.running_var"] + 1e-5)
    h = np.maximum(h * a["param/1.weight"] + a["param/1.bias"], 0)
    scores = h @ a["param/4.weight"].T + a["param/4.bias"]
    return 100.0 * np.mean(np.argmax(scores, axis=1) == y)


def test_train_then_evaluate_end_to_end(tmp_path):
    out = tmp_path / "run"
    r = run("train", "--data", "fashion-mnist", "--layers", "784,32,10", "--bn", "--dropout",
            "0.1", "--opt", "adam", "--lr", "1e-3", "--epochs", "1", "--batch-size", "100",
            "--seed", "0", "--validation", "500", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "epoch 1/1" in r.stderr and "/s" in r.stderr          # one progress line an epoch
    accuracy = reported_accuracy(r.stdout)
    assert accuracy > 60
    assert (out / "model.npz").is_file() and (out / "history.json").is_file()
    try:
        import matplotlib  # noqa: F401
        assert (out / "curves.png").stat().st_size > 1000
    except ImportError:
        assert "no plot" in r.stdout
    history = json.loads((out / "history.json").read_text())
    assert len(history["step_cost"]) == 55 and len(history["val_cost"]) == 1

    _, (X_test, y_test) = data.load_fashion_mnist()
    assert accuracy == pytest.approx(numpy_accuracy(out / "model.npz", X_test, y_test), abs=0.006)

    r = run("evaluate", str(out / "model.npz"), "--data", "fashion-mnist")
    assert r.returncode == 0, r.stderr
    assert reported_accuracy(r.stdout) == accuracy
    assert "1000 examples" in r.stdout


def test_demo_shows_a_falling_cost():
    r = run("demo", "--epochs", "2")
    assert r.returncode == 0, r.stderr
    m = re.search(r"training cost fell from ([0-9.]+) to ([0-9.]+)", r.stdout)
    assert m and float(m.group(2)) < float(m.group(1))
    assert reported_accuracy(r.stdout) > 75
    assert "epoch 2/2" in r.stderr


def test_help_documents_every_option():
    r = run("--help")
    assert r.returncode == 0
    for word in ("train", "evaluate", "demo"):
        assert word in r.stdout
    r = run("train", "--help")
    for option in ("--data", "--layers", "--act", "--bn", "--dropout", "--opt", "--lr",
                   "--momentum", "--weight-decay", "--l2", "--epochs", "--batch-size", "--seed",
                   "--dtype", "--validation", "--patience", "--out", "--quiet", "fashion-mnist",
                   "cifar10:PATH", "mnist:PATH"):
        assert option in r.stdout, option
    assert "MODEL" in run("evaluate", "--help").stdout


# -- in-process runs on tiny files -----------------------------------------------------------------
def idx_bytes(array):
    array = np.asarray(array, dtype=np.uint8)
    header = (0x0800 | array.ndim).to_bytes(4, "big") + \
        b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def write_tiny_mnist(folder, n_train=120, n_test=40, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir()
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": np.arange(n_train) % 10,
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": np.arange(n_test) % 10}
    for name, a in arrays.items():
        (folder / (name + ".gz")).write_bytes(gzip.compress(idx_bytes(a)))
    return folder


def write_tiny_cifar(folder, per_batch=6, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        y = rng.integers(0, 10, per_batch).astype(np.uint8)
        x = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        (folder / (name + ".bin")).write_bytes(np.column_stack([y, x]).tobytes())
    return folder


def test_mnist_path(tmp_path, capsys):
    folder = write_tiny_mnist(tmp_path / "mnist")
    out = tmp_path / "run"
    rc = cli.main(["train", "--data", f"mnist:{folder}", "--layers", "784,16,10", "--epochs",
                   "2", "--batch-size", "32", "--opt", "sgd", "--out", str(out), "--quiet"])
    assert rc == 0
    text = capsys.readouterr()
    assert text.err == "" and text.out.count("\n") == 1      # --quiet: only the result
    accuracy = reported_accuracy(text.out)
    assert cli.main(["evaluate", str(out / "model.npz"), "--data", f"mnist:{folder}"]) == 0
    assert reported_accuracy(capsys.readouterr().out) == accuracy


def test_cifar10_path(tmp_path, capsys):
    folder = write_tiny_cifar(tmp_path / "cifar")
    out = tmp_path / "run"
    rc = cli.main(["train", "--data", f"cifar10:{folder}", "--validation", "4", "--layers",
                   "3072,8,10", "--act", "tanh", "--epochs", "1", "--batch-size", "8",
                   "--dtype", "float64", "--patience", "1", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr()
    assert "26 training, 4 validation, 6 test" in text.out and "val_cost" in text.err
    net = serialize.load(out / "model.npz")
    assert net.dtype == "float64" and net.in_features == 3072
    assert type(serialize.load_optimizer(out / "model.npz", net)).__name__ == "Adam"
    assert cli.main(["evaluate", str(out / "model.npz"), "--data", f"cifar10:{folder}"]) == 0
    assert "6 examples" in capsys.readouterr().out


@pytest.mark.parametrize("argv, code, message", [
    (["train", "--data", "imagenet"], 2, "unknown dataset"),
    (["train", "--data", "mnist"], 2, "mnist:PATH"),
    (["train", "--data", "cifar10:/nonexistent/folder"], 1, "error"),
    (["train", "--data", "fashion-mnist", "--layers", "700,10"], 2, "inputs of width 784"),
    (["train", "--data", "fashion-mnist", "--layers", "784,5"], 2, "10 classes"),
    (["train", "--data", "fashion-mnist", "--layers", "784,x"], 2, "comma-separated"),
    (["train", "--data", "fashion-mnist", "--act", "nope"], 2, "unknown activation"),
    (["train", "--data", "fashion-mnist", "--patience", "2"], 2, "validation"),
    (["train", "--data", "fashion-mnist", "--opt", "adam", "--momentum", "0.5"], 2,
     "--momentum applies to sgd and rmsprop, not adam"),
    (["evaluate", "/nonexistent/model.npz", "--data", "fashion-mnist"], 1, "no such model"),
    (["train", "--data", "fashion-mnist", "--layers", "784,32,10", "--opt", "sgd", "--lr", "1e9",
      "--epochs", "1", "--quiet"], 1, "training stopped at step"),    # no traceback
])
def test_errors(argv, code, message, capsys):
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert message in err and err.startswith("mlpc ")


def test_argument_parsing_errors(capsys):
    for argv in (["train", "--data", "fashion-mnist", "--dropout", "1.5"],
                 ["train", "--data", "fashion-mnist", "--batch-size", "0"],
                 ["train"], ["frobnicate"]):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
    capsys.readouterr()
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().out
