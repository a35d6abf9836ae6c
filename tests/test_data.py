"""Tests for mlpc.data: file loaders, preprocessing and synthetic data.

The real datasets are looked up in $MLPC_SHARED_DATA, else in ../shared/data
next to the repository; tests that need them are skipped when they are absent.
"""

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from mlpc import data

# ---------------------------------------------------------------------------
# helpers: tiny IDX and CIFAR-10 files
# ---------------------------------------------------------------------------

IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(array, magic=None):
    """IDX encoding of a uint8 array (magic 0x000008NN unless given)."""
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def write_file(path, payload, gz=False):
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def fake_mnist(rng, n_train=5, n_test=3):
    return {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_mnist(folder, arrays, gz=False, dotted=False):
    folder.mkdir(parents=True, exist_ok=True)
    for key, array in arrays.items():
        name = IDX_NAMES[key]
        if dotted:
            name = name.replace("-idx", ".idx")
        write_file(folder / (name + (".gz" if gz else "")), idx_bytes(array), gz=gz)
    return folder


def fake_cifar(rng, per_batch=3):
    """Six batches of (uint8 (per_batch, 3072), int64 labels): five training, one test."""
    return [
        (rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8), rng.integers(0, 10, per_batch))
        for _ in range(6)
    ]


CIFAR_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def write_cifar_python(folder, batches):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (x, y) in zip(CIFAR_NAMES, batches):
        record = {b"batch_label": name.encode(), b"labels": [int(v) for v in y], b"data": x,
                  b"filenames": [b"f%d.png" % i for i in range(len(y))]}
        with open(folder / name, "wb") as f:
            pickle.dump(record, f, protocol=2)
    return folder


def write_cifar_binary(folder, batches):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (x, y) in zip(CIFAR_NAMES, batches):
        rows = np.column_stack([np.asarray(y, dtype=np.uint8), x])
        (folder / (name + ".bin")).write_bytes(rows.tobytes())
    return folder


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ---------------------------------------------------------------------------
# IDX / MNIST loaders on small files
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dotted", [False, True])
def test_load_mnist_round_trip(tmp_path, rng, gz, dotted):
    arrays = fake_mnist(rng)
    write_mnist(tmp_path, arrays, gz=gz, dotted=dotted)
    (X_train, y_train), (X_test, y_test) = data.load_mnist(tmp_path)

    assert X_train.dtype == np.float32 and X_train.shape == (5, 784)
    assert X_test.dtype == np.float32 and X_test.shape == (3, 784)
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert X_train.min() >= 0.0 and X_train.max() <= 1.0
    # exact pixels back: k/255 in float32 times 255 rounds to k
    np.testing.assert_array_equal(np.rint(X_train * 255).astype(np.uint8),
                                  arrays["train_images"].reshape(5, 784))
    np.testing.assert_array_equal(np.rint(X_test * 255).astype(np.uint8),
                                  arrays["test_images"].reshape(3, 784))
    np.testing.assert_array_equal(y_train, arrays["train_labels"])
    np.testing.assert_array_equal(y_test, arrays["test_labels"])
    np.testing.assert_array_equal(X_train, arrays["train_images"].reshape(5, 784).astype(np.float32) / 255)


def test_fashion_mnist_with_path_reads_idx(tmp_path, rng):
    arrays = fake_mnist(rng)
    write_mnist(tmp_path, arrays, gz=True)
    (X_train, y_train), _ = data.load_fashion_mnist(tmp_path)
    np.testing.assert_array_equal(y_train, arrays["train_labels"])
    assert X_train.shape == (5, 784)


def test_read_idx_generic(tmp_path, rng):
    a = rng.integers(0, 256, (2, 3, 4, 5), dtype=np.uint8)
    p = write_file(tmp_path / "a.idx", idx_bytes(a))
    out = data.read_idx(p)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4, 5)
    np.testing.assert_array_equal(out, a)
    out[0, 0, 0, 0] = 7  # writable
    # big-endian int32 payload (type 0x0C) comes back in native order
    b = np.array([[1, -2, 70000]], dtype=">i4")
    header = (0x0C02).to_bytes(4, "big") + (1).to_bytes(4, "big") + (3).to_bytes(4, "big")
    p = write_file(tmp_path / "b.idx", header + b.tobytes())
    np.testing.assert_array_equal(data.read_idx(p), [[1, -2, 70000]])


def test_missing_file_names_file_and_folder(tmp_path, rng):
    arrays = fake_mnist(rng)
    write_mnist(tmp_path, arrays, gz=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as err:
        data.load_mnist(tmp_path)
    assert "t10k-labels-idx1-ubyte" in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        data.load_mnist(tmp_path / "nowhere")


def _corrupt_cases(arrays):
    """(description, key to replace, payload, expected message fragment)."""
    imgs, lbls = arrays["train_images"], arrays["train_labels"]
    full = idx_bytes(imgs)
    return [
        ("truncated images", "train_images", full[:-10], "truncated"),
        ("truncated header", "train_images", full[:10], "header"),
        ("trailing bytes", "train_images", full + b"\0", "trailing"),
        ("labels in images file", "train_images", idx_bytes(lbls), "0x00000803"),
        ("images in labels file", "train_labels", idx_bytes(imgs), "0x00000801"),
        ("bad magic", "train_images", b"\x12\x34" + full[2:], "magic"),
        ("wrong image size", "train_images", idx_bytes(imgs[:, :27, :]), "28x28"),
        ("count mismatch", "train_labels", idx_bytes(lbls[:-1]), "labels"),
        ("label out of range", "train_labels", idx_bytes(np.full_like(lbls, 10)), "label 10"),
        ("empty file", "train_images", b"", "too short"),
    ]


@pytest.mark.parametrize("case", range(10))
@pytest.mark.parametrize("gz", [False, True])
def test_corrupt_idx_raises_value_error(tmp_path, rng, case, gz):
    arrays = fake_mnist(rng)
    write_mnist(tmp_path, arrays, gz=gz)
    what, key, payload, fragment = _corrupt_cases(arrays)[case]
    bad = write_file(tmp_path / (IDX_NAMES[key] + (".gz" if gz else "")), payload, gz=gz)
    with pytest.raises(ValueError) as err:
        data.load_mnist(tmp_path)
    message = str(err.value)
    assert fragment in message, what
    assert bad.name in message, what


def test_truncated_gzip_stream(tmp_path, rng):
    arrays = fake_mnist(rng)
    write_mnist(tmp_path, arrays, gz=True)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:-20])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz"):
        data.load_mnist(tmp_path)


# ---------------------------------------------------------------------------
# CIFAR-10 on small files
# ---------------------------------------------------------------------------

def _expected_cifar(batches, validation):
    X_all = np.concatenate([b[0] for b in batches[:5]]).astype(np.float64)
    y_all = np.concatenate([b[1] for b in batches[:5]])
    n = len(X_all) - validation
    return (X_all[:n], y_all[:n]), (X_all[n:], y_all[n:]), (batches[5][0].astype(np.float64), batches[5][1])


@pytest.mark.parametrize("fmt", ["python", "binary"])
@pytest.mark.parametrize("use_parent", [False, True])
def test_load_cifar10_round_trip(tmp_path, rng, fmt, use_parent):
    batches = fake_cifar(rng)
    sub = "cifar-10-batches-py" if fmt == "python" else "cifar-10-batches-bin"
    writer = write_cifar_python if fmt == "python" else write_cifar_binary
    writer(tmp_path / sub, batches)
    path = tmp_path if use_parent else tmp_path / sub

    (Xtr, ytr), (Xva, yva), (Xte, yte) = data.load_cifar10(path, validation=4, standardize=False)
    (etr, eytr), (eva, eyva), (ete, eyte) = _expected_cifar(batches, 4)
    assert Xtr.shape == (11, 3072) and Xva.shape == (4, 3072) and Xte.shape == (3, 3072)
    assert Xtr.dtype == np.float32 and ytr.dtype == np.int64
    for X, e in ((Xtr, etr), (Xva, eva), (Xte, ete)):
        np.testing.assert_array_equal(np.rint(X * 255), e)
    for y, e in ((ytr, eytr), (yva, eyva), (yte, eyte)):
        np.testing.assert_array_equal(y, e)


def test_cifar10_python_and_binary_agree(tmp_path, rng):
    batches = fake_cifar(rng)
    a = data.load_cifar10(write_cifar_python(tmp_path / "py", batches), validation=2)
    b = data.load_cifar10(write_cifar_binary(tmp_path / "bin", batches), validation=2)
    for (Xa, ya), (Xb, yb) in zip(a, b):
        np.testing.assert_array_equal(Xa, Xb)
        np.testing.assert_array_equal(ya, yb)


def test_cifar10_standardized_with_training_statistics(tmp_path, rng):
    batches = fake_cifar(rng, per_batch=4)
    write_cifar_binary(tmp_path, batches)
    out = data.load_cifar10(tmp_path, validation=5, dtype=np.float64)
    (etr, _), (eva, _), (ete, _) = _expected_cifar(batches, 5)
    mean, std = etr.mean(axis=0), etr.std(axis=0)
    std[std == 0] = 1.0
    for (X, _), e in zip(out, (etr, eva, ete)):
        assert X.dtype == np.float64
        np.testing.assert_allclose(X, (e - mean) / std, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out[0][0].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out[0][0].std(axis=0), 1, atol=1e-12)
    # float32 default agrees within float32 rounding
    X32 = data.load_cifar10(tmp_path, validation=5)[2][0]
    assert X32.dtype == np.float32
    np.testing.assert_allclose(X32, (ete - mean) / std, rtol=1e-5, atol=1e-5)


def test_cifar10_missing_file_named(tmp_path, rng):
    write_cifar_python(tmp_path, fake_cifar(rng))
    (tmp_path / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="test_batch"):
        data.load_cifar10(tmp_path, validation=2)
    (tmp_path / "data_batch_1").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        data.load_cifar10(tmp_path, validation=2)


def test_cifar10_corrupt_files(tmp_path, rng):
    batches = fake_cifar(rng)
    binary = write_cifar_binary(tmp_path / "bin", batches)
    p = binary / "data_batch_3.bin"
    p.write_bytes(p.read_bytes()[:-1])
    with pytest.raises(ValueError, match="data_batch_3.bin"):
        data.load_cifar10(binary, validation=2)

    python = write_cifar_python(tmp_path / "py", batches)
    (python / "data_batch_2").write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="data_batch_2"):
        data.load_cifar10(python, validation=2)
    with open(python / "data_batch_2", "wb") as f:
        pickle.dump({b"data": batches[1][0][:, :100], b"labels": list(batches[1][1])}, f)
    with pytest.raises(ValueError, match="3072"):
        data.load_cifar10(python, validation=2)


def test_cifar10_bad_validation(tmp_path, rng):
    write_cifar_binary(tmp_path, fake_cifar(rng))
    with pytest.raises(ValueError, match="validation"):
        data.load_cifar10(tmp_path, validation=15)
    with pytest.raises(ValueError):
        data.load_cifar10(tmp_path, validation=-1)
    with pytest.raises(TypeError):
        data.load_cifar10(tmp_path, validation=0.5)


# ---------------------------------------------------------------------------
# real datasets and the bundled subset
# ---------------------------------------------------------------------------

def shared_data_root():
    env = os.environ.get("MLPC_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def real_folder(name):
    folder = shared_data_root() / name
    if not (folder / "train-labels-idx1-ubyte.gz").exists() and not (folder / "train-labels-idx1-ubyte").exists():
        pytest.skip(f"{name} not found under {shared_data_root()} (set MLPC_SHARED_DATA)")
    return folder


@pytest.fixture(scope="module")
def real_fashion():
    return data.load_fashion_mnist(real_folder("fashion-mnist"))


@pytest.fixture(scope="module")
def real_mnist():
    return data.load_mnist(real_folder("mnist"))


def test_real_fashion_mnist(real_fashion):
    (X_train, y_train), (X_test, y_test) = real_fashion
    assert X_train.shape == (60000, 784) and X_train.dtype == np.float32
    assert X_test.shape == (10000, 784)
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)


def test_real_mnist(real_mnist):
    (X_train, y_train), (X_test, y_test) = real_mnist
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    # counts from the data's SOURCE.md
    np.testing.assert_array_equal(
        np.bincount(y_train), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    np.testing.assert_array_equal(
        np.bincount(y_test), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])


def real_cifar_folder():
    root = shared_data_root()
    for folder in (root / "cifar-10", root / "cifar10", root):
        for sub in ("", "cifar-10-batches-py", "cifar-10-batches-bin"):
            if (folder / sub / "data_batch_1").exists() or (folder / sub / "data_batch_1.bin").exists():
                return folder / sub
    pytest.skip(f"CIFAR-10 not found under {root} (set MLPC_SHARED_DATA)")


def test_real_cifar10():
    (Xtr, ytr), (Xva, yva), (Xte, yte) = data.load_cifar10(real_cifar_folder())
    assert Xtr.shape == (45000, 3072) and Xva.shape == (5000, 3072) and Xte.shape == (10000, 3072)
    np.testing.assert_allclose(Xtr.mean(axis=0, dtype=np.float64), 0, atol=1e-4)
    np.testing.assert_allclose(Xtr.std(axis=0, dtype=np.float64), 1, atol=1e-4)
    np.testing.assert_array_equal(np.bincount(yte), [1000] * 10)
    assert len(ytr) + len(yva) == 50000 and np.bincount(np.concatenate([ytr, yva])).tolist() == [5000] * 10


def test_bundled_subset_is_stratified():
    (X_train, y_train), (X_test, y_test) = data.load_fashion_mnist()
    assert X_train.shape == (6000, 784) and X_train.dtype == np.float32
    assert X_test.shape == (1000, 784) and y_train.dtype == np.int64
    assert 0.0 <= X_train.min() and X_train.max() <= 1.0
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [600] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [100] * 10)


def test_bundled_subset_file():
    path = Path(data.__file__).resolve().parent / "_bundled" / "fashion_mnist_subset.npz"
    assert path.stat().st_size < 5_000_000
    assert (path.parent / "FASHION_MNIST_LICENSE.txt").is_file()
    with np.load(path) as f:
        for split, n in (("train", 60000), ("test", 10000)):
            idx = f[f"idx_{split}"]
            assert f[f"x_{split}"].dtype == np.uint8
            assert len(np.unique(idx)) == len(idx) and idx.min() >= 0 and idx.max() < n


def test_bundled_subset_matches_real_files(real_fashion):
    path = Path(data.__file__).resolve().parent / "_bundled" / "fashion_mnist_subset.npz"
    bundled = data.load_fashion_mnist()
    with np.load(path) as f:
        indices = (f["idx_train"], f["idx_test"])
    for (X_sub, y_sub), (X_all, y_all), idx in zip(bundled, real_fashion, indices):
        np.testing.assert_array_equal(X_sub, X_all[idx])
        np.testing.assert_array_equal(y_sub, y_all[idx])


# ---------------------------------------------------------------------------
# standardize / Standardize
# ---------------------------------------------------------------------------

def test_standardize_uses_training_statistics(rng):
    X_train = rng.normal(3.0, 2.0, (50, 4)) * [1, 10, 0.1, 1]
    X_train[:, 3] = 7.25  # zero variance
    X_test = rng.normal(0.0, 5.0, (20, 4))
    S_train, S_test = data.standardize(X_train, X_test)

    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[3] = 1.0
    np.testing.assert_allclose(S_train, (X_train - mean) / std, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(S_test, (X_test - mean) / std, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(S_train[:, :3].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(S_train[:, :3].std(axis=0), 1, rtol=1e-12)
    assert not np.isnan(S_train).any()
    np.testing.assert_array_equal(S_train[:, 3], 0.0)
    # one argument gives one array
    assert isinstance(data.standardize(X_train), np.ndarray)


def test_standardize_constant_column_with_rounding_mean():
    X = np.full((3, 2), 0.1)  # the float mean of three 0.1 is not exactly 0.1
    X[:, 1] = [1.0, 2.0, 4.0]
    s = data.Standardize().fit(X)
    assert s.std_[0] == 1.0 and s.mean_[0] == 0.1
    np.testing.assert_array_equal(s.transform(X)[:, 0], 0.0)


def test_standardize_class(rng):
    X = rng.integers(0, 256, (30, 5)).astype(np.uint8)
    s = data.Standardize()
    with pytest.raises(RuntimeError):
        s.transform(X)
    Z = s.fit_transform(X)
    assert Z.dtype == np.float64
    np.testing.assert_allclose(s.mean_, X.mean(axis=0))
    np.testing.assert_allclose(s.std_, X.std(axis=0))
    np.testing.assert_allclose(s.inverse_transform(Z), X, atol=1e-12)
    Z32 = s.transform(X.astype(np.float32))
    assert Z32.dtype == np.float32
    np.testing.assert_allclose(Z32, Z, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(N, 5\).*\(30, 4\)"):
        s.transform(X[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        data.Standardize().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(ValueError):
        data.Standardize().fit(np.zeros((0, 3)))


def test_standardize_chunked_matches_numpy(rng, monkeypatch):
    monkeypatch.setattr(data.Standardize, "_CHUNK_ELEMENTS", 7)  # many small chunks
    X = rng.normal(5.0, 3.0, (101, 3)).astype(np.float32)
    s = data.Standardize().fit(X)
    np.testing.assert_allclose(s.mean_, X.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(s.std_, X.astype(np.float64).std(axis=0), rtol=1e-12)


# ---------------------------------------------------------------------------
# one_hot, train_val_split, minibatches
# ---------------------------------------------------------------------------

def test_one_hot():
    y = np.array([2, 0, 1, 2])
    out = data.one_hot(y)
    np.testing.assert_array_equal(out, np.eye(3)[y])
    assert out.dtype == np.float64
    out = data.one_hot([1, 0], num_classes=4, dtype=np.float32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 1, 0, 0], [1, 0, 0, 0]])
    with pytest.raises(ValueError, match="0..2"):
        data.one_hot([0, 3], num_classes=3)
    with pytest.raises(ValueError):
        data.one_hot([-1, 0])
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        data.one_hot([[0, 1], [1, 0]])
    with pytest.raises(TypeError):
        data.one_hot([0.5, 1.0])


def test_train_val_split_sizes_and_content(rng):
    X = np.arange(200, dtype=np.float64).reshape(100, 2)
    y = np.arange(100) % 3
    (Xt, yt), (Xv, yv) = data.train_val_split(X, y, 0.2, seed=0)
    assert len(Xt) == 80 and len(Xv) == 20 and len(yt) == 80 and len(yv) == 20
    rows = np.concatenate([Xt[:, 0], Xv[:, 0]]) // 2
    np.testing.assert_array_equal(np.sort(rows), np.arange(100))  # a partition
    np.testing.assert_array_equal(yt, (Xt[:, 0] // 2).astype(int) % 3)  # X and y stay paired
    (Xt, _), (Xv, _) = data.train_val_split(X, y, val_size=7, seed=0)
    assert len(Xt) == 93 and len(Xv) == 7
    (_, yt), _ = data.train_val_split(X, y)  # default 10%
    assert len(yt) == 90


def test_train_val_split_deterministic(rng):
    X = rng.normal(size=(60, 3))
    y = rng.integers(0, 4, 60)
    a = data.train_val_split(X, y, 0.25, seed=5)
    b = data.train_val_split(X, y, 0.25, seed=5)
    c = data.train_val_split(X, y, 0.25, seed=6)
    np.testing.assert_array_equal(a[1][0], b[1][0])
    assert not np.array_equal(a[1][0], c[1][0])


def test_train_val_split_stratified():
    y = np.repeat([0, 1, 2], [500, 300, 200])
    X = np.arange(1000)
    (_, yt), (_, yv) = data.train_val_split(X, y, 0.1, seed=3, stratify=True)
    np.testing.assert_array_equal(np.bincount(yv), [50, 30, 20])
    np.testing.assert_array_equal(np.bincount(yt), [450, 270, 180])
    # uneven quotas still give exactly val_size in total
    (_, yt), (_, yv) = data.train_val_split(X, y, val_size=7, seed=3, stratify=True)
    assert len(yv) == 7 and np.all(np.abs(np.bincount(yv, minlength=3) - 7 * np.array([.5, .3, .2])) < 1)


def test_train_val_split_errors():
    X, y = np.zeros((10, 2)), np.zeros(10, dtype=int)
    with pytest.raises(ValueError, match=r"\(10, 2\).*\(9,\)"):
        data.train_val_split(X, y[:9])
    with pytest.raises(ValueError):
        data.train_val_split(X, y, 1.5)
    with pytest.raises(ValueError):
        data.train_val_split(X, y, val_size=10)
    with pytest.raises(ValueError):
        data.train_val_split(X, y, 0.5, val_size=3)
    with pytest.raises(ValueError):
        data.train_val_split(X, y, 0.01)  # rounds to an empty validation part
    with pytest.raises(TypeError):
        data.train_val_split(X, y, val_size=2.5)


@pytest.mark.parametrize("shuffle", [False, True])
def test_minibatches_cover_every_example_once(shuffle):
    X = np.arange(23 * 2).reshape(23, 2)
    y = np.arange(23)
    batches = list(data.minibatches(X, y, 5, shuffle=shuffle, seed=0))
    assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 3]
    seen = np.concatenate([b[1] for b in batches])
    np.testing.assert_array_equal(np.sort(seen), y)
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0] // 2, yb)  # rows stay paired
    assert shuffle == (not np.array_equal(seen, y))


def test_minibatches_seed_and_errors():
    X, y = np.zeros((10, 2)), np.arange(10)
    a = [b[1] for b in data.minibatches(X, y, 4, seed=1)]
    b = [b[1] for b in data.minibatches(X, y, 4, seed=1)]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    g = np.random.default_rng(0)
    first = np.concatenate([b[1] for b in data.minibatches(X, y, 4, seed=g)])
    second = np.concatenate([b[1] for b in data.minibatches(X, y, 4, seed=g)])
    assert not np.array_equal(first, second)  # a shared Generator reshuffles each epoch
    assert len(list(data.minibatches(X, y, 100))) == 1
    with pytest.raises(ValueError):  # raised at the call, not at the first next()
        data.minibatches(X, y, 0)
    with pytest.raises(TypeError):
        data.minibatches(X, y, 2.0)
    with pytest.raises(ValueError, match=r"\(10, 2\).*\(9,\)"):
        data.minibatches(X, y[:9], 2)


# ---------------------------------------------------------------------------
# synthetic data
# ---------------------------------------------------------------------------

GENERATORS = [
    ("gaussian_inputs", lambda seed: data.gaussian_inputs(101, 7, num_classes=4, seed=seed), 4, 7),
    ("spirals", lambda seed: data.spirals(101, classes=4, seed=seed), 4, 2),
    ("moons", lambda seed: data.moons(101, seed=seed), 2, 2),
    ("blobs", lambda seed: data.blobs(101, centers=5, seed=seed), 5, 2),
]


@pytest.mark.parametrize("name,make,classes,dim", GENERATORS, ids=[g[0] for g in GENERATORS])
def test_generators_shapes_and_determinism(name, make, classes, dim):
    X, y = make(0)
    assert X.shape == (101, dim) and X.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    assert y.min() >= 0 and y.max() < classes
    X2, y2 = make(0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = make(1)
    assert not np.array_equal(X, X3)
    if name != "gaussian_inputs":  # balanced classes, sizes differ by at most one
        counts = np.bincount(y, minlength=classes)
        assert counts.sum() == 101 and counts.max() - counts.min() <= 1
        assert np.any(np.diff(y) < 0)  # rows are shuffled, not sorted by class


def test_generator_geometry():
    X, y = data.moons(200, noise=0.0, seed=0)
    upper = X[y == 0]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    X, y = data.spirals(300, classes=3, noise=0.0, seed=0)
    assert np.hypot(X[:, 0], X[:, 1]).max() <= 1.0 + 1e-12
    centres = np.array([[0.0, 0.0], [100.0, 100.0]])
    X, y = data.blobs(1000, centers=centres, std=0.5, seed=0)
    for k in range(2):
        np.testing.assert_allclose(X[y == k].mean(axis=0), centres[k], atol=0.1)
        np.testing.assert_allclose(X[y == k].std(axis=0), 0.5, rtol=0.15)
    X, _ = data.gaussian_inputs(20000, 3, seed=0)
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=0.03)
    np.testing.assert_allclose(X.std(axis=0), 1, atol=0.03)


def test_generator_argument_errors():
    with pytest.raises(ValueError):
        data.spirals(0)
    with pytest.raises(TypeError):
        data.moons(10.5)
    with pytest.raises(ValueError):
        data.moons(10, noise=-1)
    with pytest.raises(ValueError, match=r"\(k, 2\)"):
        data.blobs(10, centers=np.zeros((3, 3)))
