"""Saving and loading networks and optimizers; conversion to and from PyTorch.

    net.save("model.npz")                      # or mlpc.save(net, "model.npz", optimizer=opt)
    net = mlpc.load("model.npz")
    opt = mlpc.load_optimizer("model.npz", net)

File format (version 1)
    A NumPy .npz archive (a zip of .npy files, readable with np.load(path, allow_pickle=False)
    from any language with a zip and .npy reader). Entries:

    header              0-d unicode array: JSON {"format": "mlpc", "version": 1,
                        "dtype": "float32"|"float64", "l2": float, "in_features": int,
                        "training": bool, "layers": [layer, ...], "parameters": {name: shape},
                        "buffers": {name: shape}, "rng": [layer names], "extra": [names],
                        "optimizer": {...} (only when saved with one)}
                        where a layer is {"type": "Linear", "in_features": 784, ...}: the class
                        name and its constructor arguments; Residual and a nested Sequential
                        have "layers": [...].
    param/NAME          every parameter, named as in net.named_parameters() ("0.weight"), in the
                        network's dtype
    buffer/NAME         batch-norm running statistics ("3.running_mean", "3.running_var")
    rng/NAME            uint64 (4,): a dropout layer's generator state (its next masks)
    optimizer/state     the optimizer's state buffers (moments), when saved with one
    extra/NAME          arrays the caller attached (the command line stores its input
                        standardization there)

Loading checks the description before it inflates any data: it reads the JSON header and
the .npy header of every entry (shape and dtype), refuses entries the header does not describe
and sizes the architecture does not need, and only then reads the arrays it uses (load never
reads extra/ or optimizer/ data). A hostile archive (a "zip bomb" whose entries inflate to
gigabytes) thus costs no more memory or time than its own size: declared sizes beyond
deflate's 1032:1 ratio, compression methods other than stored and deflated, and a JSON header
over 4 M characters are refused outright. A file that is not a zip, is truncated or corrupted
(zip CRC), has a non-.npy or duplicate entry, JSON that is invalid or nested too deeply, an
unknown layer type or argument, missing or unexpected entries, a wrong shape or dtype, running
statistics a network cannot use (a negative, NaN or infinite variance, a NaN or infinite mean;
the check load_state_dict makes), an all-zero generator state, or an architecture too large to
build, raises ModelFileError (a ValueError; also a KeyError for missing or unexpected
entries) naming what is wrong, never another exception, a crash or a half-loaded network: the
network is built fresh and filled only once every check has passed. load_optimizer does the
same for optimizer files (an unknown type, a bad setting or step count, a non-finite state). Parameters are not checked for NaN or inf: a
diverged run is a legitimate state to save and inspect. Loading never unpickles.
Writing goes to a temporary file in the same folder, created with the usual permissions (mode
0666 less the umask, as np.savez would), renamed over `path`, so an interrupted save leaves no
torn file behind. The round trip is bit-exact.
"""
from __future__ import annotations

import io
import json
import math
import os
import secrets
import sys
import zipfile

from typing import Any, BinaryIO, Mapping, Optional, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _registry
from . import layers as _layers
from . import blocks as _blocks
from . import optim as _optim
from .network import Sequential

PathOrFile = Union[str, "os.PathLike[str]", BinaryIO]

__all__ = ["save", "load", "save_optimizer", "load_optimizer", "load_extra", "ModelFileError",
           "to_torch", "from_torch", "FORMAT_VERSION"]

FORMAT_VERSION = 1


class ModelFileError(ValueError, KeyError):
    """A model or optimizer file that cannot be loaded: not an mlpc file, truncated, corrupted,
    or not matching its own description. A ValueError (and a KeyError, for code that catches
    missing keys)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


# -- layer descriptions ----------------------------------------------------------------------------
_SIMPLE = {cls.__name__: cls for cls in (
    _layers.Identity, _layers.Step, _layers.Sigmoid, _layers.Tanh, _layers.ReLU, _layers.SELU,
    _layers.Softplus, _layers.SiLU, _layers.Softsign, _layers.ReGLU, _layers.GEGLU,
    _layers.SwiGLU)}

# type name -> (class, {json key: attribute of the layer})
_WITH_ARGS = {
    "Linear": (_layers.Linear, {"in_features": "in_features", "out_features": "out_features",
                                "bias": "has_bias", "init": "init"}),
    "LeakyReLU": (_layers.LeakyReLU, {"negative_slope": "negative_slope"}),
    "ELU": (_layers.ELU, {"alpha": "alpha"}),
    "GELU": (_layers.GELU, {"approximate": "approximate"}),
    "Swish": (_layers.Swish, {"beta": "initial_beta", "learnable": "learnable"}),
    "PReLU": (_layers.PReLU, {"num_parameters": "num_parameters", "init": "init"}),
    "GLU": (_layers.GLU, {"act": "act"}),
    "BatchNorm": (_blocks.BatchNorm, {"num_features": "num_features", "eps": "eps",
                                      "momentum": "momentum", "affine": "affine"}),
    "LayerNorm": (_blocks.LayerNorm, {"num_features": "num_features", "eps": "eps",
                                      "affine": "affine"}),
    "Dropout": (_blocks.Dropout, {"p": "p"}),
}
_CONTAINERS = {"Residual": _blocks.Residual, "Sequential": Sequential}


def _json_value(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)):
        return [_json_value(v) for v in value]
    raise TypeError(f"cannot describe {value!r} in JSON")


def _describe(layer, where):
    t = type(layer)
    name = t.__name__
    if _SIMPLE.get(name) is t:
        return {"type": name}
    if name in _WITH_ARGS and _WITH_ARGS[name][0] is t:
        return {"type": name, **{key: _json_value(getattr(layer, attr))
                                 for key, attr in _WITH_ARGS[name][1].items()}}
    if _CONTAINERS.get(name) is t:
        return {"type": name, "layers": [_describe(child, f"{where}.{i}")
                                         for i, child in enumerate(layer.layers)]}
    raise TypeError(f"cannot save layer {where} of type {name}: only mlpc's own layer classes "
                    f"can be described in the file")


def _build_layer(desc, where):
    if not isinstance(desc, dict) or not isinstance(desc.get("type"), str):
        raise ModelFileError(f"layer {where}: expected an object with a 'type', got {desc!r:.80}")
    name = desc["type"]
    args = {k: v for k, v in desc.items() if k != "type"}
    try:
        if name in _SIMPLE:
            _expect_keys(args, (), where, name)
            return _SIMPLE[name]()
        if name in _WITH_ARGS:
            cls, keys = _WITH_ARGS[name]
            _expect_keys(args, tuple(keys), where, name)
            if name == "Linear" and isinstance(args["init"], list):
                args["init"] = tuple(args["init"])
            return cls(**args)
        if name in _CONTAINERS:
            _expect_keys(args, ("layers",), where, name)
            children = args["layers"]
            if not isinstance(children, list) or not children:
                raise ModelFileError(f"layer {where}: 'layers' must be a non-empty list")
            return _CONTAINERS[name](*[_build_layer(c, f"{where}.{i}")
                                       for i, c in enumerate(children)])
    except ModelFileError:
        raise
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"layer {where} ({name}): invalid arguments {args!r:.200}: {e}") \
            from None
    raise ModelFileError(f"layer {where}: unknown layer type {name!r}")


def _expect_keys(args, keys, where, name):
    missing = sorted(set(keys) - set(args))
    unexpected = sorted(set(args) - set(keys))
    if missing or unexpected:
        raise ModelFileError(f"layer {where} ({name}): missing arguments {missing}, "
                             f"unexpected arguments {unexpected}")


def _count_parameters(descs):
    """Elements of parameters + buffers the described layers will allocate, or None when a
    width is set by the data (activations do not state theirs)."""
    total = 0
    for d in descs:
        t = d["type"]
        if t == "Linear":
            total += d["in_features"] * d["out_features"] + (d["out_features"] if d["bias"] else 0)
        elif t == "PReLU":
            total += d["num_parameters"]
        elif t == "Swish":
            total += 1 if d["learnable"] else 0
        elif t in ("BatchNorm", "LayerNorm"):
            total += (2 * d["num_features"] if d["affine"] else 0) + \
                (2 * d["num_features"] if t == "BatchNorm" else 0)
        elif t in _CONTAINERS:
            total += _count_parameters(d["layers"])
    return total


# -- files -----------------------------------------------------------------------------------------
def _create_temp(path, directory):
    """A new, empty file in `directory` (so os.replace onto `path` is atomic): (fd, name).
    Created with mode 0o666 so the umask applies, as for any file the user writes; mkstemp's
    0600 would survive the rename and hide the model from the rest of a shared machine."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".mlpc-{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue   # a name already taken: draw another, as mkstemp does
        # the OS error would name the temporary file, which the caller has never heard of
        except FileNotFoundError:
            raise FileNotFoundError(f"cannot save to {path}: folder {directory} does not "
                                    f"exist") from None
        except NotADirectoryError:
            raise NotADirectoryError(f"cannot save to {path}: {directory} is not a folder (a "
                                     f"part of it is a file)") from None
    raise FileExistsError(f"cannot save to {path}: no free temporary file name in {directory}")


def _write_npz(path, arrays):
    if hasattr(path, "write"):   # a binary file object (pickling writes to memory)
        np.savez(path, **arrays)
        return
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path}: it is a folder (give a file name)")
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = _create_temp(path, directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# A hostile archive may declare entries far larger than the file (a zip bomb: 1 MiB of deflated
# zeros inflates to 1 GiB), so nothing is inflated before its size is known to be needed: each
# entry's .npy header (its first bytes) gives shape and dtype, checked against the JSON
# architecture before any data is read. Deflate cannot inflate one byte to more than 1032, so a
# declared size beyond that ratio is a lie, refused at once; the JSON header itself is capped.
_DEFLATE_RATIO = 1032
_HEADER_BYTES = 1 << 24     # the JSON header describes layers, not values: 4 M characters


class _Entry:
    """One archive member: its zip record and what its .npy header declares."""

    __slots__ = ("info", "shape", "dtype")

    def __init__(self, info, shape, dtype):
        self.info, self.shape, self.dtype = info, shape, dtype


def _starts_with(source, prefix):
    """Whether the file (a path or a file object) begins with `prefix`."""
    try:
        if hasattr(source, "read"):
            source.seek(0)
            return source.read(len(prefix)) == prefix
        with open(source, "rb") as f:
            return f.read(len(prefix)) == prefix
    except (OSError, ValueError):
        return False


class _Archive:
    """An open .npz whose entries' .npy headers are read (name -> _Entry, without ".npy"), and
    whose data is inflated only by read(name). A context manager (it closes the zip)."""

    def __init__(self, path, what):
        self.path, self.what = path, what
        if not hasattr(path, "read"):
            path = os.fspath(path)
            if not os.path.exists(path):
                raise FileNotFoundError(f"no such {what} file: {path!r}")
        try:
            self.zip = zipfile.ZipFile(path)
        except (IsADirectoryError, PermissionError):
            raise
        except Exception as e:   # BadZipFile, OSError, EOFError, ValueError...
            if _starts_with(path, np.lib.format.MAGIC_PREFIX):
                raise self.error("a single .npy array, not an .npz archive") from None
            raise self._corrupt(e) from None
        try:
            self.entries = self._entries()
            self.header = self._json_header()
        except BaseException:
            self.zip.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zip.close()

    def error(self, message):
        return ModelFileError(f"{self.path}: {message}")

    def _corrupt(self, e):
        if isinstance(e, ModelFileError):
            return e
        return self.error(f"not a readable mlpc {self.what} file (truncated or corrupted?): "
                          f"{type(e).__name__}: {e}")

    def _entries(self):
        entries = {}
        for info in self.zip.infolist():
            name = info.filename
            if not name.endswith(".npy"):
                raise self.error(f"entry {name!r} is not a .npy array: not an mlpc {self.what} "
                                 f"file")
            if name[:-4] in entries:
                raise self.error(f"entry {name!r} appears twice")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.error(f"entry {name!r} uses zip compression method "
                                 f"{info.compress_type}; mlpc files are stored or deflated")
            ratio = _DEFLATE_RATIO if info.compress_type == zipfile.ZIP_DEFLATED else 1
            if info.file_size > ratio * info.compress_size:
                raise self.error(f"entry {name!r} declares {info.file_size} bytes, more than its "
                                 f"{info.compress_size} compressed bytes can hold (corrupted)")
            entries[name[:-4]] = self._npy_header(info)
        if "header" not in entries:
            raise self.error(f"no 'header' entry: not an mlpc {self.what} file")
        return entries

    def _npy_header(self, info):
        """The entry's shape and dtype from its .npy header, reading nothing else."""
        name = info.filename[:-4]
        try:
            with self.zip.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version not in ((1, 0), (2, 0)):
                    raise ValueError(f".npy format version {version}")
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
                offset = f.tell()
        except Exception as e:   # a bad .npy header, a bad zip record, inflate errors...
            raise self.error(f"entry {name!r}: not a readable .npy array: "
                             f"{type(e).__name__}: {e}") from None
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
            raise self.error(f"entry {name!r} holds dtype {dtype}: mlpc files hold plain "
                             f"numbers and never unpickle")
        nbytes = math.prod(shape) * dtype.itemsize
        if offset + nbytes != info.file_size:
            raise self.error(f"entry {name!r}: its .npy header describes {shape} {dtype} "
                             f"({nbytes} bytes of data), the entry holds "
                             f"{info.file_size - offset} (truncated or corrupted?)")
        return _Entry(info, shape, dtype)

    def read(self, name):
        """The entry's array, inflated and CRC-checked."""
        try:
            with self.zip.open(self.entries[name].info) as f:
                a = np.lib.format.read_array(f, allow_pickle=False)
                if f.read(1):   # also completes the CRC check
                    raise ValueError("data beyond the array")
        except Exception as e:
            raise self.error(f"entry {name!r} cannot be read (truncated or corrupted?): "
                             f"{type(e).__name__}: {e}") from None
        return a

    def _json_header(self):
        entry = self.entries["header"]
        if entry.dtype.kind != "U" or entry.shape != ():
            raise self.error(f"the header must be a unicode string, got {entry.dtype} "
                             f"{entry.shape}")
        if entry.dtype.itemsize > _HEADER_BYTES:
            raise self.error(f"the header holds {entry.dtype.itemsize // 4} characters, more "
                             f"than an architecture needs ({_HEADER_BYTES // 4} at most)")
        text = self.read("header")
        del self.entries["header"]   # the others are the data
        try:
            header = json.loads(str(text))
        except RecursionError:
            raise self.error("the header is nested too deeply") from None
        except ValueError as e:   # also UnicodeError and numbers of too many digits
            raise self.error(f"the header is not valid JSON: {e}") from None
        if not isinstance(header, dict):
            raise self.error("the header must be a JSON object")
        return header

    def section(self, prefix):
        """{name: _Entry} of the entries named prefix + name."""
        return {k[len(prefix):]: v for k, v in self.entries.items() if k.startswith(prefix)}


def _check_header(path, header, fmt):
    if header.get("format") != fmt:
        raise ModelFileError(f"{path}: format {header.get('format')!r}, expected {fmt!r}")
    version = header.get("version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {version!r}; this mlpc reads version "
                             f"{FORMAT_VERSION}")


def _check_arrays(path, kind, found, expected, dtype):
    """found: name -> array or _Entry from the file; expected: name -> shape. Checks keys,
    shapes, dtype."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        raise ModelFileError(f"{path}: {kind} entries do not match the architecture: missing "
                             f"{missing}, unexpected {unexpected}")
    for name, shape in expected.items():
        a = found[name]
        if a.shape != tuple(shape):
            raise ModelFileError(f"{path}: {kind} {name!r} has shape {a.shape}, expected "
                                 f"{tuple(shape)}")
        if a.dtype != np.dtype(dtype):
            raise ModelFileError(f"{path}: {kind} {name!r} has dtype {a.dtype}, expected {dtype}")


def _check_rng_states(path, rngs):
    """The core refuses an all-zero xoshiro state (its generator would stay at zero); checked
    here, before anything is built, to name the file and the entry."""
    for name, state in rngs.items():
        if not state.any():
            raise ModelFileError(f"{path}: rng {name!r} is all zeros, expected a generator "
                                 f"state with at least one non-zero word")


# -- networks --------------------------------------------------------------------------------------
def _optimizer_description(optimizer):
    d = optimizer.state_dict()
    state = d.pop("state")
    desc = {k: _json_value(v) for k, v in d.items()}
    desc["nesterov"] = bool(optimizer._core.nesterov)
    desc["decay_all"] = bool(optimizer._core.decay_all)
    return desc, np.array(state)


def save(net: Sequential, path: PathOrFile, optimizer: Optional[_optim.Optimizer] = None,
         extra: Optional[Mapping[str, Any]] = None) -> None:
    """Write `net` (architecture, dtype, l2, mode, parameters, running statistics, dropout
    generator states) to the .npz file `path`, optionally with `optimizer`'s state and `extra`
    arrays ({name: array}, read back with load_extra). Format: see the module docstring."""
    if not isinstance(net, Sequential):
        raise TypeError(f"save() takes a mlpc.Sequential, got {type(net).__name__}")
    if net._outer() is not None:
        if optimizer is not None:
            raise ValueError("save(): this Sequential is a block of a larger network, whose "
                             "optimizer covers that network: save the larger network")
        net = net.copy()   # a block's values live in its larger network: save them alone
    if net._core is None:
        raise RuntimeError("save() needs a built network (run a forward pass first)")
    layers = [_describe(layer, str(i)) for i, layer in enumerate(net.layers)]
    arrays = {}
    parameters, buffers, rng = {}, {}, []
    for name, value, _ in net.named_parameters():
        arrays["param/" + name] = np.array(value)
        parameters[name] = list(value.shape)
    for name, value in net.named_buffers():
        arrays["buffer/" + name] = np.array(value)
        buffers[name] = list(value.shape)
    for name, layer in net.named_layers():
        if isinstance(layer, _blocks.Dropout):
            arrays["rng/" + name] = np.array(net._core.rng_state(layer._index), dtype=np.uint64)
            rng.append(name)
    header = {"format": "mlpc", "version": FORMAT_VERSION, "dtype": net.dtype, "l2": net.l2,
              "in_features": int(net.in_features), "training": bool(net.training),
              "layers": layers, "parameters": parameters, "buffers": buffers, "rng": rng,
              "extra": []}
    if optimizer is not None:
        if not isinstance(optimizer, _optim.Optimizer) or optimizer.net is not net:
            raise ValueError("optimizer must be a mlpc optimizer made for this network")
        header["optimizer"], arrays["optimizer/state"] = _optimizer_description(optimizer)
    for name, value in (extra or {}).items():
        value = np.asarray(value)
        if value.dtype.kind not in "biuf":
            raise TypeError(f"extra[{name!r}]: expected a numeric array, got dtype {value.dtype}")
        arrays["extra/" + str(name)] = value
        header["extra"].append(str(name))
    arrays["header"] = np.array(json.dumps(header))
    _write_npz(path, arrays)


def _check_model_header(path, header):
    _check_header(path, header, "mlpc")
    dtype = header.get("dtype")
    if dtype not in ("float32", "float64"):
        raise ModelFileError(f"{path}: dtype {dtype!r}, expected 'float32' or 'float64'")
    l2 = header.get("l2")
    if isinstance(l2, bool) or not isinstance(l2, (int, float)) or not (0 <= l2 < math.inf) \
            or not l2 <= sys.float_info.max:   # 10**400 is an int no float can hold
        raise ModelFileError(f"{path}: l2 must be a finite number >= 0, got {l2!r:.40}")
    width = header.get("in_features")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ModelFileError(f"{path}: in_features must be a positive int, got {width!r}")
    if not isinstance(header.get("training"), bool):
        raise ModelFileError(f"{path}: 'training' must be true or false")
    for key, kind in (("layers", list), ("parameters", dict), ("buffers", dict), ("rng", list),
                      ("extra", list)):
        if not isinstance(header.get(key), kind):
            raise ModelFileError(f"{path}: header entry {key!r} must be a {kind.__name__}")
    if not header["layers"]:
        raise ModelFileError(f"{path}: no layers")
    for key in ("rng", "extra"):
        if not all(isinstance(name, str) for name in header[key]):
            raise ModelFileError(f"{path}: header entry {key!r} must list names")


def _check_model_entries(archive, header):
    """Every entry is one the header describes: param/, buffer/ and rng/ entries (matched with
    their declarations by load), extra/NAME for each name in "extra", optimizer/state when the
    header describes an optimizer. Only names and .npy headers have been read so far."""
    for key in archive.entries:
        kind, _, name = key.partition("/")
        if not (kind in ("param", "buffer", "rng") or
                (kind == "extra" and name in header["extra"]) or
                (key == "optimizer/state" and "optimizer" in header)):
            raise archive.error(f"unexpected entry {key!r}")


def load(path: PathOrFile) -> Sequential:
    """The network saved at `path` (see save), built fresh, with the saved mode (train/eval).
    Raises FileNotFoundError, or ModelFileError (a ValueError) naming what is wrong."""
    with _Archive(path, "model") as archive:
        header = archive.header
        _check_model_header(path, header)
        _check_model_entries(archive, header)
        dtype = header["dtype"]
        params, buffers, rngs = (archive.section(p) for p in ("param/", "buffer/", "rng/"))
        # the file must agree with its own header before anything is allocated
        for kind, found, declared, dt in (("parameter", params, header["parameters"], dtype),
                                          ("buffer", buffers, header["buffers"], dtype)):
            if not all(isinstance(s, list) and all(isinstance(n, int) and not isinstance(n, bool)
                                                    and n >= 0 for n in s)
                       for s in declared.values()):
                raise ModelFileError(f"{path}: malformed {kind} shapes in the header")
            _check_arrays(path, kind, found, declared, dt)
        _check_arrays(path, "rng", rngs, {name: (4,) for name in header["rng"]}, np.uint64)
        net = _build_network(path, header)
        # the fresh network must have exactly the parameters the file describes
        fresh = {name: value.shape for name, value, _ in net.named_parameters()}
        _check_arrays(path, "parameter", params, fresh, dtype)
        _check_arrays(path, "buffer", buffers, {n: v.shape for n, v in net.named_buffers()},
                      dtype)
        dropout = {name: layer for name, layer in net.named_layers()
                   if isinstance(layer, _blocks.Dropout)}
        _check_arrays(path, "rng", rngs, {name: (4,) for name in dropout}, np.uint64)
        # every entry is one the network needs, of the size it needs: only now is data inflated
        values = {name: archive.read("param/" + name) for name in params}
        values.update((name, archive.read("buffer/" + name)) for name in buffers)
        states = {name: archive.read("rng/" + name) for name in rngs}
    _check_rng_states(path, states)
    try:   # checks the running statistics as it checks any state dict
        net.load_state_dict(values)
    except ValueError as e:
        raise ModelFileError(f"{path}: {e}") from None
    for name, layer in dropout.items():
        net._core.set_rng_state(layer._index, [int(v) for v in states[name]])
    net.training = header["training"]
    return net


def _build_network(path, header):
    """The network the header's layers describe, built (not yet filled)."""
    try:
        layers = [_build_layer(d, str(i)) for i, d in enumerate(header["layers"])]
        expected = _count_parameters(header["layers"])
    except RecursionError:
        raise ModelFileError(f"{path}: layers nested too deeply") from None
    stored = sum(math.prod(s) for s in header["parameters"].values()) + \
        sum(math.prod(s) for s in header["buffers"].values())
    if expected != stored:
        raise ModelFileError(f"{path}: the architecture has {expected} parameter and buffer "
                             f"values, the file holds {stored}")
    try:
        net = Sequential(*layers, dtype=header["dtype"], l2=header["l2"], seed=0)
        if net._core is None:
            net.in_features = header["in_features"]
            net._build(net.in_features)
    except RecursionError:
        raise ModelFileError(f"{path}: layers nested too deeply") from None
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: the layers do not form a network: {e}") from None
    except (MemoryError, OverflowError) as e:
        # Layers with parameters cannot be oversized here (their sizes were matched against the
        # arrays the file holds), but the width of parameter-free layers comes from the header
        # alone. No fixed width limit: a wide input is legitimate, and the real bounds are the
        # core's (int sizes, MemoryError beyond them; OverflowError past 64 bits) and memory.
        raise ModelFileError(f"{path}: cannot build a network this large (in_features "
                             f"{header['in_features']}): {type(e).__name__}: {e}") from None
    if net.in_features != header["in_features"]:
        raise ModelFileError(f"{path}: in_features {header['in_features']} does not match the "
                             f"first layer's {net.in_features}")
    return net


def load_extra(path: PathOrFile) -> dict[str, NDArray[Any]]:
    """The `extra` arrays saved with a model ({name: array})."""
    with _Archive(path, "model") as archive:
        _check_model_header(path, archive.header)
        _check_model_entries(archive, archive.header)
        extra = archive.section("extra/")
        for name, entry in extra.items():
            if entry.dtype.kind not in "biuf":
                raise archive.error(f"extra {name!r} has dtype {entry.dtype}, expected numbers")
        return {name: archive.read("extra/" + name) for name in extra}


def _reason(e):
    """An exception's message; a KeyError's without the quotes str() adds."""
    return e.args[0] if isinstance(e, KeyError) and len(e.args) == 1 else str(e)


# -- optimizers ------------------------------------------------------------------------------------
_OPTIMIZERS = {cls.__name__: cls for cls in (_optim.SGD, _optim.AdaGrad, _optim.RMSProp,
                                              _optim.Adam, _optim.AdamW)}


def save_optimizer(optimizer: _optim.Optimizer, path: PathOrFile) -> None:
    """Write an optimizer's type, hyper-parameters, step count and state to the .npz `path`
    (its schedule, a Python callable, is not saved)."""
    if not isinstance(optimizer, _optim.Optimizer):
        raise TypeError(f"expected a mlpc optimizer, got {type(optimizer).__name__}")
    desc, state = _optimizer_description(optimizer)
    header = {"format": "mlpc-optimizer", "version": FORMAT_VERSION, "optimizer": desc}
    _write_npz(path, {"header": np.array(json.dumps(header)), "optimizer/state": state})


def load_optimizer(path: PathOrFile, net: Sequential) -> _optim.Optimizer:
    """A new optimizer for `net` with the type, hyper-parameters, step count and state saved
    at `path` (by save_optimizer, or by save(..., optimizer=...)). Set its schedule again if
    it had one. Raises FileNotFoundError, or ModelFileError naming what is wrong (also for a
    file whose optimizer does not fit `net`)."""
    _optim._check_net("load_optimizer", net)
    with _Archive(path, "optimizer") as archive:
        header = archive.header
        # an optimizer file, or a model file saved with its optimizer
        if header.get("format") == "mlpc":
            _check_model_header(path, header)
            _check_model_entries(archive, header)
        else:
            _check_header(path, header, "mlpc-optimizer")
            unexpected = sorted(set(archive.entries) - {"optimizer/state"})
            if unexpected:
                raise archive.error(f"unexpected entries {unexpected} in an optimizer file")
        desc = header.get("optimizer")
        if not isinstance(desc, dict):
            raise ModelFileError(f"{path}: no optimizer state in this file")
        # files written before the flags were bools hold them as 0/1
        desc = {k: bool(v) if k in ("nesterov", "amsgrad", "decay_all") and
                isinstance(v, int) and v in (0, 1) else v for k, v in desc.items()}
        entry = archive.entries.get("optimizer/state")
        if entry is None:
            raise ModelFileError(f"{path}: the optimizer's state array is missing")
        opt = _optimizer_from(path, desc, net)
        expected = opt._core.state
        if entry.shape != expected.shape or entry.dtype != expected.dtype:
            raise ModelFileError(f"{path}: optimizer state of shape {entry.shape} and dtype "
                                 f"{entry.dtype}; this network's {desc['type']} needs "
                                 f"{expected.shape} {expected.dtype}")
        state = archive.read("optimizer/state")
    try:
        opt.load_state_dict({**desc, "state": state})
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise ModelFileError(f"{path}: invalid optimizer state: {_reason(e)}") from None
    return opt


def _optimizer_from(path, desc, net):
    """A new optimizer of the described type and settings for `net`."""
    name = desc.get("type")
    if not isinstance(name, str) or name not in _OPTIMIZERS:
        raise ModelFileError(f"{path}: unknown optimizer type {name!r:.80}")
    try:
        kwargs = {"clip_norm": desc["clip_norm"] or None, "clip_value": desc["clip_value"] or None,
                  "decay_all": desc["decay_all"], "weight_decay": desc["weight_decay"]}
        if name == "SGD":
            kwargs.update(momentum=desc["momentum"], nesterov=desc["nesterov"])
        elif name == "AdaGrad":
            kwargs.update(eps=desc["eps"])
        elif name == "RMSProp":
            kwargs.update(alpha=desc["alpha"], eps=desc["eps"], momentum=desc["momentum"])
        else:
            kwargs.update(betas=(desc["beta1"], desc["beta2"]), eps=desc["eps"],
                          amsgrad=desc["amsgrad"])
        return _OPTIMIZERS[name](net, desc["lr"], **kwargs)
    except KeyError as e:
        raise ModelFileError(f"{path}: the optimizer description lacks {e}") from None
    except (TypeError, ValueError, OverflowError) as e:
        raise ModelFileError(f"{path}: invalid optimizer description: {e}") from None


# -- pickling --------------------------------------------------------------------------------------
# pickle.dumps(net) writes the model file above into memory and pickle.loads reads it back with
# every check load() makes: values and mode round-trip bit-exactly, and a tampered pickle of a
# network is a ModelFileError rather than a half-built network. An optimizer pickles as its
# network (pickle's memo keeps them together) plus its state file and its schedule.
def _file_bytes(write, obj):
    buffer = io.BytesIO()
    write(obj, buffer)
    return buffer.getvalue()


def reduce_network(net):
    """Sequential.__reduce_ex__: (reconstructor, arguments)."""
    if net._core is None and net._outer() is None:
        raise TypeError("an unbuilt mlpc.Sequential cannot be pickled (it holds no values yet): "
                        "run a forward pass first, or pickle the layers' constructor arguments")
    return _network_from_bytes, (_file_bytes(save, net),)


def _network_from_bytes(data):
    return load(io.BytesIO(data))


def reduce_optimizer(optimizer):
    """Optimizer.__reduce_ex__: (reconstructor, arguments)."""
    return _optimizer_from_bytes, (optimizer.net, _file_bytes(save_optimizer, optimizer),
                                   optimizer.schedule)


def _optimizer_from_bytes(net, data, schedule):
    optimizer = load_optimizer(io.BytesIO(data), net)
    if schedule is not None:
        lr = optimizer.lr             # the rate of the last step; the schedule sets the next one
        optimizer.schedule = schedule
        optimizer.lr = lr
    return optimizer


# -- PyTorch ---------------------------------------------------------------------------------------
def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("to_torch/from_torch need PyTorch: pip install torch") from None
    return torch


_TORCH_RESIDUAL = None


def _residual_class(torch):
    """A torch module computing x + block(x) (torch.nn has none); from_torch recognizes it."""
    global _TORCH_RESIDUAL
    if _TORCH_RESIDUAL is None:
        class Residual(torch.nn.Module):
            """x + block(x), the mlpc.Residual of to_torch."""

            def __init__(self, *modules):
                super().__init__()
                self.block = torch.nn.Sequential(*modules)

            def forward(self, x):
                return x + self.block(x)

        Residual.__module__ = __name__
        Residual.__qualname__ = "TorchResidual"
        _TORCH_RESIDUAL = Residual
    return _TORCH_RESIDUAL


def to_torch(net: Sequential) -> Any:
    """A torch.nn.Sequential computing the same function, with copies of the parameters and
    running statistics, in the network's dtype and mode. Supported: Linear, the activations
    torch has (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, PReLU, ELU, SELU, GELU, Softplus, SiLU,
    Swish with beta 1 and not learnable, Softsign), BatchNorm (BatchNorm1d), LayerNorm, Dropout,
    Residual (a small module x + block(x)) and nested Sequential. Others raise TypeError.
    Dropout masks come from torch's generator, not mlpc's."""
    torch = _torch()
    nn = torch.nn
    if not isinstance(net, Sequential):
        raise TypeError(f"to_torch takes a mlpc.Sequential, got {type(net).__name__}")
    net._ensure_core()
    dtype = torch.float32 if net.dtype == "float32" else torch.float64

    def tensor(a):
        return torch.tensor(np.array(a), dtype=dtype)

    def convert(layer, where):
        t = type(layer)
        simple = {_layers.Identity: nn.Identity, _layers.Sigmoid: nn.Sigmoid,
                  _layers.Tanh: nn.Tanh, _layers.ReLU: nn.ReLU, _layers.SELU: nn.SELU,
                  _layers.SiLU: nn.SiLU, _layers.Softsign: nn.Softsign,
                  _layers.Softplus: nn.Softplus}
        if t in simple:
            return simple[t]()
        if t is _layers.Linear:
            m = nn.Linear(layer.in_features, layer.out_features, bias=layer.has_bias, dtype=dtype)
            with torch.no_grad():
                m.weight.copy_(tensor(layer.weight))
                if layer.has_bias:
                    m.bias.copy_(tensor(layer.bias))
            return m
        if t is _layers.LeakyReLU:
            return nn.LeakyReLU(layer.negative_slope)
        if t is _layers.ELU:
            return nn.ELU(layer.alpha)
        if t is _layers.GELU:
            return nn.GELU(approximate=layer.approximate)
        if t is _layers.Swish and not layer.learnable and layer.initial_beta == 1.0:
            return nn.SiLU()
        if t is _layers.PReLU:
            m = nn.PReLU(layer.num_parameters, dtype=dtype)
            with torch.no_grad():
                m.weight.copy_(tensor(layer.weight))
            return m
        if t is _blocks.BatchNorm:
            m = nn.BatchNorm1d(layer.num_features, eps=layer.eps, momentum=layer.momentum,
                               affine=layer.affine, dtype=dtype)
            with torch.no_grad():
                if layer.affine:
                    m.weight.copy_(tensor(layer.weight))
                    m.bias.copy_(tensor(layer.bias))
                m.running_mean.copy_(tensor(layer.running_mean))
                m.running_var.copy_(tensor(layer.running_var))
            return m
        if t is _blocks.LayerNorm:
            m = nn.LayerNorm(layer.num_features, eps=layer.eps, elementwise_affine=layer.affine,
                             dtype=dtype)
            if layer.affine:
                with torch.no_grad():
                    m.weight.copy_(tensor(layer.weight))
                    m.bias.copy_(tensor(layer.bias))
            return m
        if t is _blocks.Dropout:
            return nn.Dropout(layer.p)
        if t is _blocks.Residual:
            return _residual_class(torch)(*[convert(c, f"{where}.{i}")
                                            for i, c in enumerate(layer.layers)])
        if t is Sequential:
            return nn.Sequential(*[convert(c, f"{where}.{i}") for i, c in enumerate(layer.layers)])
        raise TypeError(f"layer {where} ({layer!r}) has no PyTorch equivalent in to_torch")

    module = nn.Sequential(*[convert(layer, str(i)) for i, layer in enumerate(net.layers)])
    module.train(net.training)
    return module


def from_torch(module: Any, dtype: Optional[str] = None, l2: float = 0.0) -> Sequential:
    """A mlpc.Sequential computing the same function as a torch module: a torch.nn.Sequential
    (nested ones are flattened) or a single module of the kinds to_torch produces — Linear,
    Identity, Sigmoid, Tanh, ReLU, LeakyReLU, PReLU, ELU, SELU, GELU, Softplus (beta 1),
    SiLU, Softsign, BatchNorm1d (with running statistics), LayerNorm (over one dimension),
    Dropout, Flatten is not. Parameters and running statistics are copied; dtype defaults to
    the module's (float32 or float64); the mode follows module.training."""
    torch = _torch()
    nn = torch.nn
    if not isinstance(module, nn.Module):
        raise TypeError(f"from_torch takes a torch.nn.Module, got {type(module).__name__}")
    if dtype is None:
        p = next(iter(module.parameters()), None)
        dtype = "float64" if p is not None and p.dtype == torch.float64 else "float32"
    copies = []   # (mlpc layer, {mlpc attribute: numpy array})

    def arr(t):
        return t.detach().cpu().double().numpy()

    def convert(m, where):
        t = type(m)
        simple = {nn.Identity: _layers.Identity, nn.Sigmoid: _layers.Sigmoid,
                  nn.Tanh: _layers.Tanh, nn.ReLU: _layers.ReLU, nn.SELU: _layers.SELU,
                  nn.SiLU: _layers.SiLU, nn.Softsign: _layers.Softsign}
        if t in simple:
            return [simple[t]()]
        if t is nn.Softplus:
            if m.beta != 1:
                raise TypeError(f"module {where}: Softplus(beta={m.beta}) is not supported "
                                f"(mlpc's Softplus has beta 1)")
            return [_layers.Softplus()]
        if t is nn.Linear:
            layer = _layers.Linear(m.in_features, m.out_features, bias=m.bias is not None)
            values = {"weight": arr(m.weight)}
            if m.bias is not None:
                values["bias"] = arr(m.bias)
            copies.append((layer, values))
            return [layer]
        if t is nn.LeakyReLU:
            return [_layers.LeakyReLU(m.negative_slope)]
        if t is nn.ELU:
            return [_layers.ELU(m.alpha)]
        if t is nn.GELU:
            return [_layers.GELU(approximate=m.approximate)]
        if t is nn.PReLU:
            layer = _layers.PReLU(m.num_parameters)
            copies.append((layer, {"weight": arr(m.weight)}))
            return [layer]
        if t is nn.BatchNorm1d:
            if not m.track_running_stats or m.running_mean is None or m.momentum is None:
                raise TypeError(f"module {where}: BatchNorm1d needs track_running_stats=True and "
                                f"a momentum (mlpc keeps exponential running averages)")
            layer = _blocks.BatchNorm(m.num_features, eps=m.eps, momentum=m.momentum,
                                      affine=m.affine)
            values = {"running_mean": arr(m.running_mean), "running_var": arr(m.running_var)}
            if m.affine:
                values.update(weight=arr(m.weight), bias=arr(m.bias))
            copies.append((layer, values))
            return [layer]
        if t is nn.LayerNorm:
            if len(m.normalized_shape) != 1:
                raise TypeError(f"module {where}: LayerNorm over {m.normalized_shape}: mlpc "
                                f"normalizes over the last dimension only")
            affine = m.weight is not None
            if affine and m.bias is None:
                raise TypeError(f"module {where}: LayerNorm(bias=False) is not supported")
            layer = _blocks.LayerNorm(m.normalized_shape[0], eps=m.eps, affine=affine)
            if affine:
                copies.append((layer, {"weight": arr(m.weight), "bias": arr(m.bias)}))
            return [layer]
        if t is nn.Dropout:
            return [_blocks.Dropout(m.p)]
        if _TORCH_RESIDUAL is not None and t is _TORCH_RESIDUAL:
            return [_blocks.Residual(*[layer for i, c in enumerate(m.block)
                                       for layer in convert(c, f"{where}.{i}")])]
        if t is nn.Sequential:
            return [layer for i, c in enumerate(m) for layer in convert(c, f"{where}.{i}")]
        raise TypeError(f"module {where} ({t.__name__}) has no mlpc equivalent in from_torch")

    layers = convert(module, "module")
    if not layers:
        raise ValueError("the torch module has no layers")
    net = Sequential(*layers, dtype=dtype, l2=l2, seed=0)
    if net._core is None:
        first = next((c for c in module.modules() if isinstance(c, nn.Linear)), None)
        if first is None:
            raise ValueError("the input width is unknown: the module has no Linear, BatchNorm1d "
                             "or LayerNorm to fix it")
        net.in_features = first.in_features
        net._build(net.in_features)
    for layer, values in copies:
        for name, value in values.items():
            if name in ("running_mean", "running_var"):
                getattr(layer, name)[...] = value
            else:
                setattr(layer, name, value)
    net.training = module.training
    return net


# what Sequential and the optimizers call (mlpc.network and mlpc.optim come before this module)
_registry.save, _registry.to_torch = save, to_torch
_registry.reduce_network, _registry.reduce_optimizer = reduce_network, reduce_optimizer
