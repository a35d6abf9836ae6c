"""Datasets and data utilities for mlpc (pure Python + NumPy).

Loaders
    ``read_idx``            one IDX file (the MNIST container format) as an ndarray
    ``load_mnist``          MNIST from its four IDX files (gzip or not)
    ``load_fashion_mnist``  Fashion-MNIST from its IDX files, or a bundled subset
    ``load_cifar10``        CIFAR-10 ("python" or "binary" version), 45k/5k split,
                            standardized with the training statistics

Preprocessing
    ``one_hot``, ``train_val_split``, ``standardize``, ``Standardize``, ``minibatches``

Synthetic data (seeded through ``np.random.default_rng(seed)``)
    ``gaussian_inputs``, ``spirals``, ``moons``, ``blobs``

Every loader returns NumPy arrays: inputs as a float matrix with one example
per row, labels as int64.  Nothing here imports the C extension.
"""

from __future__ import annotations

import gzip
import numbers
import pickle
import zlib
from pathlib import Path

from typing import Any, Iterator, Optional, overload

import numpy as np
from numpy.typing import NDArray

# array-likes are annotated Any: the functions take anything np.asarray does, checked at run time

Split = tuple[NDArray[Any], NDArray[Any]]

__all__ = [
    "FASHION_MNIST_CLASSES",
    "CIFAR10_CLASSES",
    "read_idx",
    "load_mnist",
    "load_fashion_mnist",
    "load_cifar10",
    "one_hot",
    "train_val_split",
    "standardize",
    "Standardize",
    "minibatches",
    "gaussian_inputs",
    "spirals",
    "moons",
    "blobs",
]

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)

_BUNDLED_DIR = Path(__file__).resolve().parent / "_bundled"
_FASHION_SUBSET = _BUNDLED_DIR / "fashion_mnist_subset.npz"


# --------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------

def _check_int(name, value, minimum=None):
    """Return ``value`` as an int; TypeError if it is not an integer, ValueError if too small."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, given {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, given {value}")
    return value


def _check_nonnegative_real(name, value):
    """Return ``value`` as a float >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, given {type(value).__name__} {value!r}")
    value = float(value)
    if not value >= 0.0 or not np.isfinite(value):
        raise ValueError(f"{name} must be finite and >= 0, given {value}")
    return value


def _check_labels(y, name="y"):
    """Return ``y`` as a 1-D integer array (int64 unless already integer)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D with shape (N,), given shape {y.shape}")
    if y.size == 0 and y.dtype.kind not in "iu":
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, given dtype {y.dtype}")
    return y


def _check_xy(X, y):
    """Return (X, y) as arrays, X with at least 1 dimension, y 1-D with len(X) entries."""
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 1:
        raise ValueError(f"X must have at least 1 dimension (N, ...), given shape {X.shape}")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D with shape (N,), given shape {y.shape}")
    if len(X) != len(y):
        raise ValueError(
            f"X and y must have the same number of rows: X has shape {X.shape}, y has shape {y.shape}"
        )
    return X, y


def _split_counts(n, parts):
    """Split ``n`` into ``parts`` counts that differ by at most one (earlier parts get more)."""
    base, extra = divmod(n, parts)
    return np.array([base + (i < extra) for i in range(parts)], dtype=np.int64)


# --------------------------------------------------------------------------
# IDX files (MNIST, Fashion-MNIST)
# --------------------------------------------------------------------------

# IDX type codes (third byte of the magic number) -> big-endian NumPy dtype.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (count, rows, cols)
_IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (count,)


def _read_maybe_gzip(path):
    """Return the bytes of ``path``, decompressing it when it starts with the gzip magic."""
    with open(path, "rb") as f:
        is_gzip = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        if not is_gzip:
            return f.read()
        try:
            with gzip.GzipFile(fileobj=f, mode="rb") as g:
                return g.read()
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({e})") from e


def _read_idx_with_magic(path):
    """Read an IDX file; return ``(magic, array)``. See :func:`read_idx`."""
    path = Path(path)
    raw = _read_maybe_gzip(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes is too short for an IDX header (4-byte magic number)")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or type_code not in _IDX_TYPES:
        raise ValueError(
            f"{path}: not an IDX file: magic number 0x{magic:08X}, expected 0x0000TTNN "
            f"with type TT in {{{', '.join(f'{t:02X}' for t in _IDX_TYPES)}}}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{path}: truncated header: {ndim} dimensions need {header} header bytes, file holds {len(raw)}"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[type_code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    given = len(raw) - header
    if given != expected:
        what = "truncated" if given < expected else "has trailing bytes"
        raise ValueError(
            f"{path}: file {what}: header says shape {dims} ({expected} data bytes), "
            f"but the file holds {given} data bytes"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return magic, array.astype(dtype.newbyteorder("="))  # native order, writable copy


def read_idx(path):
    """Read one IDX file (gzip-compressed or not) and return its contents as an ndarray.

    The IDX format is a 4-byte big-endian magic number ``0x0000TTNN`` (TT the
    element type, 0x08 = unsigned byte; NN the number of dimensions), NN
    big-endian int32 sizes, then the data in row-major order.  MNIST images
    are ``0x00000803`` (count, rows, cols) and labels ``0x00000801`` (count,).

    Returns a native-byte-order array with the shape of the header: uint8 for
    the MNIST files (other IDX element types give int8/int16/int32/float32/float64).

    Raises
    ------
    FileNotFoundError
        if ``path`` does not exist.
    ValueError
        naming the file, if the magic number is unknown, the data are not as
        long as the header says (truncated or trailing bytes), or the gzip
        stream is corrupt.
    """
    return _read_idx_with_magic(path)[1]


_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _find_idx_file(folder, stem, dataset):
    """Locate ``stem`` in ``folder``: plain or ``.gz``, ``-idx`` or ``.idx`` spelling."""
    dotted = stem.replace("-idx", ".idx", 1)
    candidates = [stem, stem + ".gz", dotted, dotted + ".gz"]
    for name in candidates:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"{dataset}: file '{stem}' not found in folder '{folder}' "
        f"(looked for {', '.join(repr(c) for c in candidates)})"
    )


def _check_folder(path, dataset):
    folder = Path(path).expanduser()
    if not folder.exists():
        raise FileNotFoundError(f"{dataset}: folder '{folder}' does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"{dataset}: '{folder}' is not a folder (give the folder holding the files)")
    return folder


def _read_idx_images(path):
    """Read an IDX image file and check it holds 28x28 unsigned-byte images."""
    magic, images = _read_idx_with_magic(path)
    if magic != _IDX_IMAGES_MAGIC:
        raise ValueError(
            f"{path}: magic number 0x{magic:08X}, expected 0x{_IDX_IMAGES_MAGIC:08X} "
            f"(unsigned-byte images of shape (count, rows, cols))"
        )
    if images.shape[1:] != (28, 28):
        raise ValueError(f"{path}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28")
    return images


def _read_idx_labels(path, num_classes=10):
    """Read an IDX label file and check it holds unsigned bytes in 0..num_classes-1."""
    magic, labels = _read_idx_with_magic(path)
    if magic != _IDX_LABELS_MAGIC:
        raise ValueError(
            f"{path}: magic number 0x{magic:08X}, expected 0x{_IDX_LABELS_MAGIC:08X} "
            f"(unsigned-byte labels of shape (count,))"
        )
    if labels.size and labels.max() >= num_classes:
        raise ValueError(f"{path}: label {int(labels.max())} found, expected labels 0..{num_classes - 1}")
    return labels


def _images_to_float(images):
    """(N, 28, 28) uint8 -> (N, 784) float32 in [0, 1]."""
    X = images.reshape(len(images), -1).astype(np.float32)
    X /= np.float32(255.0)
    return X


def _load_idx_pair(folder, images_key, labels_key, dataset):
    images_path = _find_idx_file(folder, _IDX_FILES[images_key], dataset)
    labels_path = _find_idx_file(folder, _IDX_FILES[labels_key], dataset)
    images = _read_idx_images(images_path)
    labels = _read_idx_labels(labels_path)
    if len(images) != len(labels):
        raise ValueError(
            f"{dataset}: '{images_path.name}' holds {len(images)} images but "
            f"'{labels_path.name}' holds {len(labels)} labels (in '{folder}')"
        )
    return _images_to_float(images), labels.astype(np.int64)


def _load_idx_dataset(path, dataset):
    folder = _check_folder(path, dataset)
    train = _load_idx_pair(folder, "train_images", "train_labels", dataset)
    test = _load_idx_pair(folder, "test_images", "test_labels", dataset)
    return train, test


def load_mnist(path: Any) -> tuple[Split, Split]:
    """Load MNIST from the folder ``path`` holding its four IDX files.

    The files are ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each optionally
    gzip-compressed (``.gz``) and also accepted in the ``train-images.idx3-ubyte``
    spelling.

    Returns
    -------
    ((X_train, y_train), (X_test, y_test))
        ``X`` float32 of shape (N, 784), pixels scaled to [0, 1], one
        row-major 28x28 image per row; ``y`` int64 of shape (N,) in 0..9.
        For MNIST N is 60000 (train) and 10000 (test).

    Raises
    ------
    FileNotFoundError
        naming the missing file and the folder.
    ValueError
        naming the file and the problem: wrong magic number, images that are
        not 28x28, a byte count that does not match the header (truncated
        file), labels outside 0..9, or image and label counts that differ.
    """
    return _load_idx_dataset(path, "MNIST")


def load_fashion_mnist(path: Any = None) -> tuple[Split, Split]:
    """Load Fashion-MNIST (Zalando, MIT license), or the bundled subset if ``path`` is None.

    With ``path`` this reads the four IDX files exactly like :func:`load_mnist`
    (60000 training and 10000 test images).  Without it, it returns the
    stratified subset shipped with mlpc: 6000 training images (600 per class)
    and 1000 test images (100 per class), chosen with a fixed seed from the
    original files (see ``_bundled/FASHION_MNIST_LICENSE.txt``).

    Class names are in ``FASHION_MNIST_CLASSES``.

    Returns
    -------
    ((X_train, y_train), (X_test, y_test))
        ``X`` float32 (N, 784) in [0, 1]; ``y`` int64 (N,) in 0..9.
    """
    if path is not None:
        return _load_idx_dataset(path, "Fashion-MNIST")
    if not _FASHION_SUBSET.is_file():
        raise FileNotFoundError(
            f"bundled Fashion-MNIST subset '{_FASHION_SUBSET}' is missing from the installation; "
            "pass the folder of the original files as load_fashion_mnist(path)"
        )
    with np.load(_FASHION_SUBSET, allow_pickle=False) as f:
        x_train, y_train, x_test, y_test = (f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    return (
        (_images_to_float(x_train), y_train.astype(np.int64)),
        (_images_to_float(x_test), y_test.astype(np.int64)),
    )


# --------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------

_CIFAR_DIM = 3 * 32 * 32  # 3072: 1024 red, then 1024 green, then 1024 blue, each row-major
_CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
_CIFAR_TEST = "test_batch"


def _find_cifar_folder(path):
    """Return ``(folder, binary)`` for a CIFAR-10 folder or a parent of one."""
    folder = _check_folder(path, "CIFAR-10")
    for candidate in (folder, folder / "cifar-10-batches-py", folder / "cifar-10-batches-bin"):
        if (candidate / "data_batch_1").is_file():
            return candidate, False
        if (candidate / "data_batch_1.bin").is_file():
            return candidate, True
    raise FileNotFoundError(
        f"CIFAR-10: file 'data_batch_1' (python version) or 'data_batch_1.bin' (binary version) "
        f"not found in folder '{folder}' nor in its subfolders 'cifar-10-batches-py' / 'cifar-10-batches-bin'"
    )


def _read_cifar_pickle(path):
    """One batch of the python version: a pickled dict with b'data' and b'labels'."""
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except FileNotFoundError:
        raise
    except Exception as e:  # unpickling garbage can raise almost anything
        raise ValueError(f"{path}: not a readable CIFAR-10 pickle ({type(e).__name__}: {e})") from e
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: expected a pickled dict, found {type(batch).__name__}")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"{path}: the dict lacks the keys b'data' and/or b'labels'")
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _CIFAR_DIM:
        raise ValueError(
            f"{path}: b'data' must be uint8 of shape (N, {_CIFAR_DIM}), given {data.dtype} {data.shape}"
        )
    if labels.shape != (len(data),) or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(
            f"{path}: b'labels' must hold {len(data)} integers, given {labels.dtype} {labels.shape}"
        )
    return data, labels.astype(np.int64)


def _read_cifar_binary(path):
    """One batch of the binary version: records of 1 label byte + 3072 pixel bytes."""
    raw = np.fromfile(path, dtype=np.uint8)
    record = 1 + _CIFAR_DIM
    if raw.size == 0 or raw.size % record:
        raise ValueError(
            f"{path}: {raw.size} bytes is not a whole number of {record}-byte records "
            f"(1 label byte + {_CIFAR_DIM} pixel bytes); the file is truncated or not CIFAR-10"
        )
    rows = raw.reshape(-1, record)
    return rows[:, 1:].copy(), rows[:, 0].astype(np.int64)


def _read_cifar_batch(folder, name, binary):
    path = folder / (name + ".bin" if binary else name)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10: file '{path.name}' not found in folder '{folder}'")
    data, labels = (_read_cifar_binary if binary else _read_cifar_pickle)(path)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: labels must be in 0..9, found {labels.min()}..{labels.max()}")
    return data, labels


def load_cifar10(path: Any, validation: int = 5000, standardize: bool = True,
                 dtype: Any = np.float32) -> tuple[Split, Split, Split]:
    """Load CIFAR-10 with the lecture's set-up: 45,000 train / 5,000 validation / 10,000 test.

    ``path`` is the folder holding the batches, or a parent of
    ``cifar-10-batches-py`` (python version: pickles ``data_batch_1`` ..
    ``data_batch_5``, ``test_batch``) or ``cifar-10-batches-bin`` (binary
    version: ``data_batch_1.bin`` .. ``data_batch_5.bin``, ``test_batch.bin``,
    records of 1 label byte + 3072 pixel bytes).  Both give the same arrays.

    The last ``validation`` images of the training batches (the end of
    ``data_batch_5``) form the validation set; the rest is the training set.
    With ``standardize=True`` each of the 3072 input dimensions is shifted and
    scaled by the mean and (population) standard deviation of the *training*
    set, and the same statistics are applied to validation and test data.
    With ``standardize=False`` pixels are scaled to [0, 1]; use
    :class:`Standardize` yourself to keep the statistics (e.g. to show images).

    Returns
    -------
    ((X_train, y_train), (X_val, y_val), (X_test, y_test))
        ``X`` of ``dtype`` (float32 by default; the full set takes ~0.7 GB in
        float32) and shape (N, 3072), each row ordered as 1024 red, 1024 green
        then 1024 blue values of the 32x32 image in row-major order; ``y``
        int64 (N,) in 0..9 (names in ``CIFAR10_CLASSES``).

    Security: the python version is a set of pickles, and unpickling can run
    arbitrary code.  Only load files you trust (e.g. the official archive with
    a verified checksum), or use the binary version.

    Raises
    ------
    FileNotFoundError
        naming the missing batch file and the folder.
    ValueError
        naming the file, for a truncated or malformed batch; or for a bad
        ``validation`` size.
    """
    validation = _check_int("validation", validation, minimum=0)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating type, given {dtype}")
    folder, binary = _find_cifar_folder(path)
    batches = [_read_cifar_batch(folder, name, binary) for name in _CIFAR_TRAIN]
    X_all = np.concatenate([b[0] for b in batches])
    y_all = np.concatenate([b[1] for b in batches])
    del batches
    X_test, y_test = _read_cifar_batch(folder, _CIFAR_TEST, binary)
    n_train = len(X_all) - validation
    if n_train < 1:
        raise ValueError(f"validation={validation} leaves no training images (the batches hold {len(X_all)})")

    X_train, X_val = X_all[:n_train], X_all[n_train:]
    y_train, y_val = y_all[:n_train], y_all[n_train:]
    if standardize:
        scaler = Standardize().fit(X_train)
        convert = lambda X: scaler.transform(X, dtype=dtype)  # noqa: E731
    else:
        def convert(X):
            out = X.astype(dtype)
            out /= dtype.type(255.0)
            return out
    return (
        (convert(X_train), y_train),
        (convert(X_val), y_val),
        (convert(X_test), y_test),
    )


# --------------------------------------------------------------------------
# preprocessing
# --------------------------------------------------------------------------

def one_hot(y: Any, num_classes: Optional[int] = None,
            dtype: Any = np.float64) -> NDArray[Any]:
    """Return the one-hot matrix of integer labels ``y``: shape (N, num_classes).

    ``num_classes`` defaults to ``max(y) + 1``.  Labels must lie in
    ``0 .. num_classes - 1``.
    """
    y = _check_labels(y)
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    num_classes = _check_int("num_classes", num_classes, minimum=0)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"labels must be in 0..{num_classes - 1} for num_classes={num_classes}, "
            f"given labels in {y.min()}..{y.max()}"
        )
    out = np.zeros((len(y), num_classes), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out


def _stratified_val_indices(y, n_val, rng):
    """Pick ``n_val`` indices keeping each class's share (largest-remainder rounding)."""
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    quota = counts * (n_val / len(y))
    take = np.floor(quota).astype(np.int64)
    short = n_val - int(take.sum())
    # hand the remaining slots to the classes with the largest remainders (ties: first class)
    take[np.argsort(-(quota - take), kind="stable")[:short]] += 1
    chosen = [
        rng.choice(np.flatnonzero(inverse == c), size=int(take[c]), replace=False)
        for c in range(len(classes))
    ]
    return np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)


def train_val_split(X: Any, y: Any, val_fraction: Optional[float] = None, *,
                    val_size: Optional[int] = None, seed: Any = None,
                    stratify: bool = False) -> tuple[Split, Split]:
    """Split ``(X, y)`` at random into a training and a validation part.

    Give the validation size either as ``val_fraction`` (0 < f < 1, rounded to
    the nearest count) or as ``val_size`` (a count); with neither, 10% is used.
    ``seed`` (int, None or ``np.random.Generator``) makes the split
    reproducible.  With ``stratify=True`` every class keeps (up to rounding)
    its share in both parts.  Both parts keep the original order of the rows.

    Returns
    -------
    ((X_train, y_train), (X_val, y_val))
        new arrays (copies), rows taken from ``X`` and ``y``.
    """
    X, y = _check_xy(X, y)
    n = len(y)
    if val_fraction is not None and val_size is not None:
        raise ValueError("give either val_fraction or val_size, not both")
    if val_size is not None:
        n_val = _check_int("val_size", val_size, minimum=1)
        if n_val >= n:
            raise ValueError(f"val_size must be smaller than the number of examples ({n}), given {n_val}")
    else:
        frac = 0.1 if val_fraction is None else val_fraction
        if isinstance(frac, bool) or not isinstance(frac, numbers.Real):
            raise TypeError(f"val_fraction must be a number, given {type(frac).__name__} {frac!r}")
        if not 0.0 < frac < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), given {frac}")
        n_val = int(np.floor(frac * n + 0.5))
        if not 0 < n_val < n:
            raise ValueError(
                f"val_fraction={frac} of {n} examples gives {n_val} validation examples; "
                "both parts must be non-empty"
            )
    rng = np.random.default_rng(seed)
    if stratify:
        val_idx = _stratified_val_indices(y, n_val, rng)
    else:
        val_idx = rng.choice(n, size=n_val, replace=False)
    is_val = np.zeros(n, dtype=bool)
    is_val[val_idx] = True
    return (X[~is_val], y[~is_val]), (X[is_val], y[is_val])


class Standardize:
    """Per-feature standardization ``(X - mean_) / std_`` fitted on training data.

    Statistics are taken over the rows (axis 0): ``mean_`` and ``std_`` have
    shape ``X.shape[1:]`` and are float64 (accumulated in float64 in chunks,
    so large uint8 or float32 inputs are not copied to float64 whole).
    ``std_`` is the population standard deviation (ddof=0).  A feature whose
    training values are all equal gets ``std_ = 1`` and ``mean_`` equal to that
    value, so it maps to exactly 0 instead of NaN.

    Example::

        scaler = Standardize().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    """

    _CHUNK_ELEMENTS = 1 << 22  # about 32 MB of float64 temporaries per chunk

    def __init__(self):
        self.mean_ = None
        self.std_ = None

    def __repr__(self):
        shape = None if self.mean_ is None else self.mean_.shape
        return f"Standardize(fitted={self.mean_ is not None}, features={shape})"

    def fit(self, X):
        """Compute ``mean_`` and ``std_`` from the rows of ``X``; return ``self``."""
        X = np.asarray(X)
        if X.ndim < 1 or len(X) == 0:
            raise ValueError(f"X must have shape (N, ...) with N >= 1, given shape {X.shape}")
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must be numeric, given dtype {X.dtype}")
        rows = max(1, self._CHUNK_ELEMENTS // max(1, int(np.prod(X.shape[1:]))))
        chunks = [X[i:i + rows] for i in range(0, len(X), rows)]
        if X.dtype.kind == "f" and not all(np.isfinite(c).all() for c in chunks):
            raise ValueError("X contains NaN or infinity")
        mean = sum(c.sum(axis=0, dtype=np.float64) for c in chunks) / len(X)
        sq = sum(np.square(c - mean).sum(axis=0) for c in chunks)
        std = np.sqrt(sq / len(X))
        first = X[0]
        varies = np.zeros(X.shape[1:], dtype=bool)
        for c in chunks:
            varies |= (c != first).any(axis=0)
        constant = ~varies
        mean = np.where(constant, first.astype(np.float64), mean)
        std = np.where(constant, 1.0, std)
        self.mean_, self.std_ = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        return self

    def _check_transform_input(self, X, dtype):
        if self.mean_ is None:
            raise RuntimeError("Standardize is not fitted yet: call fit(X) first")
        X = np.asarray(X)
        if X.ndim < 1 or X.shape[1:] != self.mean_.shape:
            expected = "(N" + "".join(f", {d}" for d in self.mean_.shape) + ")"
            raise ValueError(f"X must have shape {expected} as in fit, given shape {X.shape}")
        if dtype is None:
            dtype = X.dtype if X.dtype.kind == "f" else np.float64
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"dtype must be a floating type, given {dtype}")
        return X, dtype

    def transform(self, X, dtype=None):
        """Return ``(X - mean_) / std_`` as a new array.

        The result has ``dtype`` if given, else ``X``'s dtype when it is
        floating, else float64.
        """
        X, dtype = self._check_transform_input(X, dtype)
        out = X.astype(dtype, copy=True)
        out -= self.mean_.astype(dtype)
        out /= self.std_.astype(dtype)
        return out

    def fit_transform(self, X, dtype=None):
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X, dtype=dtype)

    def inverse_transform(self, X, dtype=None):
        """Return ``X * std_ + mean_`` as a new array (undoes :meth:`transform`)."""
        X, dtype = self._check_transform_input(X, dtype)
        out = X.astype(dtype, copy=True)
        out *= self.std_.astype(dtype)
        out += self.mean_.astype(dtype)
        return out


@overload
def standardize(X_train: Any, /) -> NDArray[Any]: ...
@overload
def standardize(X_train: Any, other: Any, /,
                *others: Any) -> tuple[NDArray[Any], ...]: ...
def standardize(X_train: Any, *others: Any) -> Any:
    """Standardize ``X_train`` and any further arrays with ``X_train``'s statistics.

    Fits a :class:`Standardize` on ``X_train`` only and applies it to every
    argument.  Returns the standardized ``X_train`` alone when no other array
    is given, else a tuple ``(X_train_std, *others_std)``::

        X_train, X_val, X_test = standardize(X_train, X_val, X_test)
    """
    scaler = Standardize().fit(X_train)
    out = tuple(scaler.transform(X) for X in (X_train, *others))
    return out[0] if not others else out


def minibatches(X: Any, y: Any, batch_size: int, shuffle: bool = True,
                seed: Any = None) -> Iterator[Split]:
    """Iterate over ``(X_batch, y_batch)`` pairs covering every example once.

    The last batch holds the remaining ``N % batch_size`` examples when that
    is not zero (it is yielded, not dropped).  With ``shuffle=True`` the order
    is a random permutation drawn from ``np.random.default_rng(seed)``: pass
    one ``np.random.Generator`` and reuse it to get a new order every epoch (an
    int seed gives the same order every call).  Without shuffling the batches
    are views of consecutive rows.

    Arguments are checked when ``minibatches`` is called, not at the first
    ``next()``.
    """
    X, y = _check_xy(X, y)
    batch_size = _check_int("batch_size", batch_size, minimum=1)
    order = np.random.default_rng(seed).permutation(len(y)) if shuffle else None

    def batches():
        for start in range(0, len(y), batch_size):
            if order is None:
                yield X[start:start + batch_size], y[start:start + batch_size]
            else:
                idx = order[start:start + batch_size]
                yield X[idx], y[idx]

    return batches()


# --------------------------------------------------------------------------
# synthetic data
# --------------------------------------------------------------------------

def _shuffled(X, y, rng):
    order = rng.permutation(len(y))
    return X[order], y[order]


def gaussian_inputs(n: int, dim: int, num_classes: int = 10, seed: Any = None) -> Split:
    """Return ``(X, y)``: X float64 (n, dim) of independent N(0, 1) entries, y int64
    (n,) uniform random labels in 0..num_classes-1 (no relation to X).

    Useful to study activations and gradients at initialization.
    """
    n = _check_int("n", n, minimum=1)
    dim = _check_int("dim", dim, minimum=1)
    num_classes = _check_int("num_classes", num_classes, minimum=1)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dim))
    y = rng.integers(0, num_classes, size=n, dtype=np.int64)
    return X, y


def spirals(n: int, classes: int = 3, noise: float = 0.2, seed: Any = None) -> Split:
    """Return ``(X, y)``: ``classes`` interleaved spiral arms in 2-D, ``n`` points in all.

    Arm ``k`` has radius ``r`` running 0..1 and angle ``4k .. 4(k+1)`` radians
    plus N(0, noise^2) jitter; point = ``(r sin t, r cos t)``.  The classes
    differ in size by at most one; rows are shuffled.  X float64 (n, 2),
    y int64 (n,).
    """
    n = _check_int("n", n, minimum=1)
    classes = _check_int("classes", classes, minimum=1)
    noise = _check_nonnegative_real("noise", noise)
    rng = np.random.default_rng(seed)
    X_parts, y_parts = [], []
    for k, count in enumerate(_split_counts(n, classes)):
        r = np.linspace(0.0, 1.0, count)
        t = np.linspace(4.0 * k, 4.0 * (k + 1), count) + noise * rng.standard_normal(count)
        X_parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        y_parts.append(np.full(count, k, dtype=np.int64))
    return _shuffled(np.concatenate(X_parts), np.concatenate(y_parts), rng)


def moons(n: int, noise: float = 0.1, seed: Any = None) -> Split:
    """Return ``(X, y)``: two interleaving half circles in 2-D, ``n`` points in all.

    Class 0 is the upper half circle of radius 1 around (0, 0); class 1 the
    lower one around (1, 0.5).  Gaussian noise of std ``noise`` is added to
    each coordinate; class 0 has ``n // 2`` points; rows are shuffled.
    X float64 (n, 2), y int64 (n,).
    """
    n = _check_int("n", n, minimum=1)
    noise = _check_nonnegative_real("noise", noise)
    rng = np.random.default_rng(seed)
    n_upper = n // 2
    t_upper = np.linspace(0.0, np.pi, n_upper)
    t_lower = np.linspace(0.0, np.pi, n - n_upper)
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    lower = np.column_stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)])
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n_upper, np.int64), np.ones(n - n_upper, np.int64)])
    return _shuffled(X, y, rng)


def blobs(n: int, centers: Any = 3, std: float = 1.0, seed: Any = None) -> Split:
    """Return ``(X, y)``: isotropic Gaussian blobs in 2-D, ``n`` points in all.

    ``centers`` is either a number of blobs, whose centres are drawn uniformly
    from the square [-10, 10]^2, or an array of shape (k, 2) of centres.
    Each point is its centre plus N(0, std^2) noise per coordinate; label =
    index of the centre.  Blob sizes differ by at most one; rows are shuffled.
    X float64 (n, 2), y int64 (n,).
    """
    n = _check_int("n", n, minimum=1)
    std = _check_nonnegative_real("std", std)
    rng = np.random.default_rng(seed)
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        k = _check_int("centers", centers, minimum=1)
        centres = rng.uniform(-10.0, 10.0, size=(k, 2))
    else:
        centres = np.asarray(centers, dtype=np.float64)
        if centres.ndim != 2 or centres.shape[1] != 2 or len(centres) == 0:
            raise ValueError(f"centers must be an int or an array of shape (k, 2), given shape {centres.shape}")
    y = np.repeat(np.arange(len(centres), dtype=np.int64), _split_counts(n, len(centres)))
    X = centres[y] + std * rng.standard_normal((n, 2))
    return _shuffled(X, y, rng)
