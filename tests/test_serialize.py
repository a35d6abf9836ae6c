"""Tests of mlpc.serialize: the .npz model format, optimizer state, corrupted files, PyTorch.

Round trips must be bit-exact; every damaged file must raise a clear error (never crash, never
return a network with wrong values)."""
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import reference as ref  # noqa: E402

import mlpc  # noqa: E402
from mlpc import serialize  # noqa: E402
from mlpc.serialize import (save, load, save_optimizer, load_optimizer, load_extra,  # noqa: E402
                            ModelFileError)


def rich_net(dtype, seed=0):
    return mlpc.Sequential(
        mlpc.Linear(6, 10), mlpc.BatchNorm(10, eps=1e-4, momentum=0.2), mlpc.PReLU(),
        mlpc.Linear(10, 10, bias=False, init=mlpc.init.normal(0.3)), mlpc.PReLU(10, init=0.1),
        mlpc.LayerNorm(10, eps=1e-6), mlpc.LeakyReLU(0.2), mlpc.Dropout(0.3),
        mlpc.Residual(mlpc.Linear(10, 10), mlpc.Tanh(), mlpc.ELU(0.5)),
        mlpc.GELU("tanh"), mlpc.Swish(1.5, learnable=True), mlpc.Linear(10, 8), mlpc.SwiGLU(),
        mlpc.Linear(4, 8), mlpc.GLU("relu"), mlpc.SELU(), mlpc.Softplus(), mlpc.SiLU(),
        mlpc.Softsign(), mlpc.Sigmoid(), mlpc.Identity(), mlpc.BatchNorm(4, affine=False),
        mlpc.LayerNorm(4, affine=False), mlpc.Linear(4, 3), mlpc.Swish(0.5),
        dtype=dtype, l2=0.003, seed=seed)


def trained(net, steps=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(16, net.in_features))
    y = rng.integers(0, net.out_features, 16)
    opt = mlpc.Adam(net, lr=1e-2)
    for _ in range(steps):
        net.train_step(X, y, mlpc.SoftmaxCrossEntropy(), opt)
    return opt


def assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sorted(sa) == sorted(sb)
    for k in sa:
        assert sa[k].dtype == sb[k].dtype, k
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_bit_exact(tmp_path, dtype):
    net = rich_net(dtype)
    trained(net)
    net.eval()
    path = tmp_path / "model.npz"
    net.save(path)
    new = load(path)
    assert new.dtype == dtype and new.l2 == net.l2 and new.training is False
    assert repr(new) == repr(net)
    assert_same_state(net, new)
    X = np.random.default_rng(1).normal(size=(9, 6))
    np.testing.assert_array_equal(new(X), net(X))          # eval outputs identical
    # dropout generators were saved: training-mode outputs (same masks) identical too
    net.train()
    new.train()
    np.testing.assert_array_equal(new(X), net(X))
    np.testing.assert_array_equal(new[7].mask, net[7].mask)
    # no temporary file left behind
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_round_trip_open_width_and_nested(tmp_path):
    net = mlpc.Sequential(mlpc.ReLU(), mlpc.Linear(5, 4), mlpc.Tanh(), seed=0)
    net(np.ones((2, 5)))
    save(net, tmp_path / "m.npz")
    new = load(tmp_path / "m.npz")
    assert new.in_features == 5 and new.training is True
    assert_same_state(net, new)


def test_load_does_not_touch_the_global_seed_stream(tmp_path):
    net = mlpc.Sequential(mlpc.Linear(3, 2), seed=0)
    net.save(tmp_path / "m.npz")
    mlpc.manual_seed(5)
    a = mlpc.Linear(3, 2).weight.copy()
    mlpc.manual_seed(5)
    load(tmp_path / "m.npz")
    b = mlpc.Linear(3, 2).weight.copy()
    np.testing.assert_array_equal(a, b)


def test_file_contents_are_documented_npz(tmp_path):
    net = mlpc.Sequential(mlpc.Linear(4, 3), mlpc.BatchNorm(3), mlpc.Dropout(0.5), seed=0)
    net.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        files = set(f.files)
        header = json.loads(str(f["header"]))
        np.testing.assert_array_equal(f["param/0.weight"], net[0].weight)
    assert files == {"header", "param/0.weight", "param/0.bias", "param/1.weight",
                     "param/1.bias", "buffer/1.running_mean", "buffer/1.running_var", "rng/2"}
    assert header["format"] == "mlpc" and header["version"] == 1
    assert header["layers"][0] == {"type": "Linear", "in_features": 4, "out_features": 3,
                                   "bias": True, "init": "he_normal"}
    assert header["layers"][1]["type"] == "BatchNorm" and header["parameters"]["0.weight"] == [3, 4]


def test_extra_arrays_and_errors_on_save(tmp_path):
    net = mlpc.Sequential(mlpc.Linear(4, 3), seed=0)
    mean = np.arange(4.0)
    net.save(tmp_path / "m.npz", extra={"input_mean": mean})
    extra = load_extra(tmp_path / "m.npz")
    np.testing.assert_array_equal(extra["input_mean"], mean)

    class MyReLU(mlpc.ReLU):
        pass

    with pytest.raises(TypeError, match="MyReLU"):
        mlpc.Sequential(mlpc.Linear(4, 3), MyReLU(), seed=0).save(tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()
    with pytest.raises(FileNotFoundError):
        net.save(tmp_path / "missing_dir" / "m.npz")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nothing.npz")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits and umask")
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002], ids=oct)
def test_saved_files_get_umask_permissions(tmp_path, umask):
    # a temporary file made by mkstemp is 0600, and the rename kept that: others on a shared
    # machine could not read the model
    net = mlpc.Sequential(mlpc.Linear(4, 3), seed=0)
    old = os.umask(umask)
    try:
        net.save(tmp_path / "m.npz")
        np.savez(tmp_path / "plain.npz", a=np.zeros(3))
        (tmp_path / "old.npz").touch(mode=0o600)
        net.save(tmp_path / "old.npz")        # replacing a file: the new file's permissions
    finally:
        os.umask(old)
    for name in ("m.npz", "old.npz"):
        mode = (tmp_path / name).stat().st_mode & 0o777
        assert mode == 0o666 & ~umask == (tmp_path / "plain.npz").stat().st_mode & 0o777, name
    assert sorted(os.listdir(tmp_path)) == ["m.npz", "old.npz", "plain.npz"]


def test_save_errors_name_the_path_not_the_temporary_file(tmp_path):
    net = mlpc.Sequential(mlpc.Linear(4, 3), seed=0)
    target = tmp_path / "missing_dir" / "m.npz"
    with pytest.raises(FileNotFoundError) as info:
        net.save(target)
    message = str(info.value)
    assert message == f"cannot save to {target}: folder {tmp_path / 'missing_dir'} does not exist"
    assert ".mlpc-" not in message
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="cannot save to .*a_file.m.npz: .*a_file is "
                                                 "not a folder") as info:
        net.save(tmp_path / "a_file" / "m.npz")
    assert ".mlpc-" not in str(info.value)
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        net.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]     # no temporary left


def test_failed_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    net = mlpc.Sequential(mlpc.Linear(4, 3), seed=0)
    net.save(tmp_path / "m.npz")
    before = (tmp_path / "m.npz").read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(serialize.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        net.save(tmp_path / "m.npz")
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]
    assert (tmp_path / "m.npz").read_bytes() == before      # the old file is untouched


# -- optimizer state ------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda n: mlpc.SGD(n, 0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda n: mlpc.AdaGrad(n, 0.05, clip_norm=1.0),
    lambda n: mlpc.RMSProp(n, 0.01, alpha=0.9, momentum=0.5, clip_value=0.5),
    lambda n: mlpc.Adam(n, 1e-2, betas=(0.8, 0.99), amsgrad=True, decay_all=True,
                        weight_decay=1e-3),
    lambda n: mlpc.AdamW(n, 1e-2),
])
def test_optimizer_round_trip_continues_identically(tmp_path, make):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 6)), rng.integers(0, 3, 20)
    net = mlpc.Sequential(mlpc.Linear(6, 8), mlpc.ReLU(), mlpc.Linear(8, 3), dtype="float64",
                          seed=0)
    opt = make(net)
    loss = mlpc.SoftmaxCrossEntropy()
    for _ in range(3):
        net.train_step(X, y, loss, opt)
    save(net, tmp_path / "m.npz", optimizer=opt)
    save_optimizer(opt, tmp_path / "opt.npz")
    for source in ("m.npz", "opt.npz"):
        net2 = load(tmp_path / "m.npz")
        opt2 = load_optimizer(tmp_path / source, net2)
        assert type(opt2) is type(opt) and repr(opt2) == repr(opt)
        assert opt2.step_count == opt.step_count == 3
        a, b = opt.state_dict(), opt2.state_dict()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        for _ in range(2):
            net2.train_step(X, y, loss, opt2)
        ref_net = net.copy()
        ref_opt = make(ref_net)
        ref_opt.load_state_dict(opt.state_dict())
        for _ in range(2):
            ref_net.train_step(X, y, loss, ref_opt)
        assert_same_state(net2, ref_net)
    with pytest.raises(ModelFileError, match="no optimizer"):
        net.save(tmp_path / "plain.npz")
        load_optimizer(tmp_path / "plain.npz", net)
    other = mlpc.Sequential(mlpc.Linear(6, 3), dtype="float64", seed=0)
    with pytest.raises(ValueError, match="state"):
        load_optimizer(tmp_path / "opt.npz", other)


# -- damaged files --------------------------------------------------------------------------------
def read_entries(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def write_entries(path, entries):
    with open(path, "wb") as f:
        np.savez(f, **entries)


def header_of(entries):
    return json.loads(str(entries["header"]))


def with_header(entries, header):
    entries = dict(entries)
    entries["header"] = np.array(json.dumps(header))
    return entries


@pytest.fixture
def saved(tmp_path):
    net = mlpc.Sequential(mlpc.Linear(5, 7), mlpc.BatchNorm(7), mlpc.ReLU(), mlpc.Dropout(0.2),
                          mlpc.Linear(7, 3), seed=0)
    trained(net)
    path = tmp_path / "good.npz"
    net.save(path)
    return net, path, read_entries(path)


def expect_error(tmp_path, entries, match, exc=ValueError):
    bad = tmp_path / "bad.npz"
    write_entries(bad, entries)
    with pytest.raises(exc, match=match) as info:
        load(bad)
    assert isinstance(info.value, ValueError)
    return info.value


def test_truncated_files(saved, tmp_path):
    _, path, _ = saved
    data = path.read_bytes()
    for n in (0, 10, len(data) // 3, len(data) // 2, len(data) - 30):
        bad = tmp_path / f"trunc{n}.npz"
        bad.write_bytes(data[:n])
        with pytest.raises(ModelFileError, match="truncated or corrupted"):
            load(bad)


def test_every_flipped_byte_raises_or_loads_the_same_network(saved, tmp_path):
    net, path, _ = saved
    data = path.read_bytes()
    bad = tmp_path / "flip.npz"
    loaded = 0
    for off in range(0, len(data), 23):
        b = bytearray(data)
        b[off] ^= 0x5A
        bad.write_bytes(bytes(b))
        try:
            new = load(bad)
        except (ModelFileError, ValueError):
            continue
        loaded += 1        # a harmless byte (zip metadata): the network must be intact
        assert_same_state(net, new)
    assert loaded < len(range(0, len(data), 23)) // 2


def test_not_model_files(tmp_path):
    cases = {"random.npz": np.random.default_rng(0).bytes(500), "text.npz": b"hello world\n"}
    for name, payload in cases.items():
        (tmp_path / name).write_bytes(payload)
        with pytest.raises(ModelFileError):
            load(tmp_path / name)
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(ModelFileError, match="not an .npz"):
        load(tmp_path / "one.npy")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ModelFileError, match="header"):
        load(tmp_path / "plain.npz")
    np.savez(tmp_path / "obj.npz", header=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ModelFileError):
        load(tmp_path / "obj.npz")             # never unpickled


def test_wrong_keys(saved, tmp_path):
    _, _, entries = saved
    e = dict(entries)
    e["param/0.weights"] = e.pop("param/0.weight")
    err = expect_error(tmp_path, e, "missing .'0.weight'.*unexpected .'0.weights'.", KeyError)
    assert isinstance(err, KeyError)
    e = dict(entries)
    del e["buffer/1.running_var"]
    expect_error(tmp_path, e, "missing .'1.running_var'.", KeyError)
    e = dict(entries)
    e["param/9.weight"] = np.zeros(3, np.float32)
    expect_error(tmp_path, e, "unexpected .'9.weight'.", KeyError)
    e = dict(entries)
    e["junk"] = np.zeros(3)
    expect_error(tmp_path, e, "unexpected entry 'junk'")
    e = dict(entries)
    del e["rng/3"]
    expect_error(tmp_path, e, "rng", KeyError)
    # consistent header and arrays, but not what the architecture makes
    h = header_of(entries)
    e = dict(entries)
    e["param/0.gamma"] = e.pop("param/0.bias")
    h["parameters"]["0.gamma"] = h["parameters"].pop("0.bias")
    expect_error(tmp_path, with_header(e, h), "0.gamma", KeyError)


def test_wrong_shapes(saved, tmp_path):
    _, _, entries = saved
    e = dict(entries)
    e["param/0.weight"] = e["param/0.weight"].T.copy()
    expect_error(tmp_path, e, r"'0.weight' has shape \(5, 7\), expected \(7, 5\)")
    # header agrees with the wrong shape: the architecture does not
    h = header_of(entries)
    h["parameters"]["0.weight"] = [5, 7]
    expect_error(tmp_path, with_header(e, h), r"0.weight.*shape")
    e = dict(entries)
    e["buffer/1.running_mean"] = np.zeros(8, np.float32)
    expect_error(tmp_path, e, "running_mean' has shape")
    e = dict(entries)
    e["rng/3"] = np.zeros(3, np.uint64)
    expect_error(tmp_path, e, "rng '3' has shape")
    # an architecture asking for far more parameters than the file holds
    h = header_of(entries)
    h["layers"][0]["out_features"] = 10**6
    expect_error(tmp_path, with_header(entries, h), "parameter and buffer values")


def test_wrong_dtypes(saved, tmp_path):
    _, _, entries = saved
    e = dict(entries)
    e["param/4.bias"] = e["param/4.bias"].astype(np.float64)
    expect_error(tmp_path, e, "'4.bias' has dtype float64, expected float32")
    e = dict(entries)
    e["buffer/1.running_var"] = e["buffer/1.running_var"].astype(np.int32)
    expect_error(tmp_path, e, "dtype int32")
    h = header_of(entries)
    h["dtype"] = "float16"
    expect_error(tmp_path, with_header(entries, h), "dtype 'float16'")
    h["dtype"] = "float64"
    expect_error(tmp_path, with_header(entries, h), "expected float64")


def test_bad_headers(saved, tmp_path):
    _, _, entries = saved
    e = dict(entries)
    e["header"] = np.array("{not json")
    expect_error(tmp_path, e, "not valid JSON")
    e["header"] = np.array(3.0)
    expect_error(tmp_path, e, "unicode")
    for change, match in [
        (lambda h: h.update(version=2), "version 2"),
        (lambda h: h.update(format="other"), "format 'other'"),
        (lambda h: h.update(l2=-1), "l2"),
        (lambda h: h.update(in_features=0), "in_features"),
        (lambda h: h.update(in_features=6), "in_features 6"),
        (lambda h: h.update(training="yes"), "training"),
        (lambda h: h.update(layers=[]), "no layers"),
        (lambda h: h.pop("parameters"), "parameters"),
        (lambda h: h["layers"][2].update(type="Conv2d"), "unknown layer type 'Conv2d'"),
        (lambda h: h["layers"][2].update(type="os.system"), "unknown layer type"),
        (lambda h: h["layers"][2].update(slope=3), "unexpected arguments .'slope'."),
        (lambda h: h["layers"][1].pop("eps"), "missing arguments .'eps'."),
        (lambda h: h["layers"][3].update(p=1.5), r"layer 3 \(Dropout\): invalid"),
        (lambda h: h["layers"][0].update(in_features="5"), "layer 0 .Linear.: invalid"),
        (lambda h: h["layers"][0].update(init="magic"), "unknown initializer"),
        (lambda h: h["layers"].__setitem__(2, [1, 2]), "layer 2"),
        (lambda h: h["layers"].append({"type": "Linear", "in_features": 4, "out_features": 2,
                                       "bias": False, "init": "he_normal"}),
         "parameter and buffer values|do not form a network|receives rows"),
    ]:
        h = header_of(entries)
        change(h)
        expect_error(tmp_path, with_header(entries, h), match)


def test_all_zero_generator_state(saved, tmp_path):
    # the core refuses it with a plain ValueError that names neither the file nor the entry
    _, _, entries = saved
    e = dict(entries)
    e["rng/3"] = np.zeros(4, np.uint64)
    expect_error(tmp_path, e, r"bad.npz: rng '3' is all zeros", ModelFileError)


@pytest.mark.parametrize("name, value, match", [
    ("running_var", -1.0, "holds -1.0 at index 2, expected finite values >= 0"),
    ("running_var", np.nan, "holds nan at index 2, expected finite values >= 0"),
    ("running_var", np.inf, "holds inf at index 2, expected finite values >= 0"),
    ("running_mean", np.nan, "holds nan at index 2, expected finite values$"),
    ("running_mean", -np.inf, "holds -inf at index 2, expected finite values$"),
])
def test_unusable_running_statistics(saved, tmp_path, name, value, match):
    # eval mode divides by sqrt(running_var + eps): these loaded silently and gave NaN outputs
    _, _, entries = saved
    e = dict(entries)
    e[f"buffer/1.{name}"] = e[f"buffer/1.{name}"].copy()
    e[f"buffer/1.{name}"][2] = value
    expect_error(tmp_path, e, rf"bad.npz: buffer '1.{name}' " + match, ModelFileError)


def test_usable_unusual_values_still_load(saved, tmp_path):
    # a negative mean and a zero variance are real statistics; a NaN weight is the state of a
    # diverged run, which one may want to save and inspect
    net, _, entries = saved
    e = dict(entries)
    e["buffer/1.running_mean"] = np.full(7, -3.0, np.float32)
    e["buffer/1.running_var"] = np.zeros(7, np.float32)
    e["param/0.weight"] = e["param/0.weight"].copy()
    e["param/0.weight"][0, 0] = np.nan
    write_entries(tmp_path / "odd.npz", e)
    new = load(tmp_path / "odd.npz")
    assert np.isnan(new[0].weight[0, 0]) and (new[1].running_var == 0).all()


@pytest.mark.parametrize("width", [2**31, 10**12, 2**64])
def test_architecture_too_large_to_build(saved, tmp_path, width):
    # parameter-free layers take their width from the header alone: the core refused it with
    # MemoryError (OverflowError past 64 bits) instead of a ModelFileError
    _, _, entries = saved
    h = header_of(entries)
    h.update(layers=[{"type": "ReLU"}, {"type": "Tanh"}], in_features=width, parameters={},
             buffers={}, rng=[])
    expect_error(tmp_path, {"header": np.array(json.dumps(h))},
                 rf"bad.npz: cannot build a network this large \(in_features {width}\)",
                 ModelFileError)


# -- PyTorch ---------------------------------------------------------------------------------------
def test_torch_round_trip():
    torch = pytest.importorskip("torch")
    net = mlpc.Sequential(
        mlpc.Linear(6, 10), mlpc.BatchNorm(10, momentum=0.3), mlpc.ReLU(), mlpc.Dropout(0.2),
        mlpc.Linear(10, 10), mlpc.LayerNorm(10), mlpc.GELU("tanh"), mlpc.PReLU(10),
        mlpc.Residual(mlpc.Linear(10, 10), mlpc.Tanh()), mlpc.LeakyReLU(0.1), mlpc.ELU(0.7),
        mlpc.SELU(), mlpc.Softplus(), mlpc.SiLU(), mlpc.Softsign(), mlpc.Sigmoid(),
        mlpc.Swish(), mlpc.Identity(), mlpc.Linear(10, 3, bias=False),
        dtype="float64", seed=0)
    trained(net)
    net.eval()
    module = net.to_torch()
    assert isinstance(module, torch.nn.Sequential) and not module.training
    assert module[0].weight.dtype == torch.float64
    X = np.random.default_rng(2).normal(size=(12, 6))
    with torch.no_grad():
        out = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(out, net(X), rtol=1e-10, atol=1e-12)
    back = serialize.from_torch(module)
    assert back.dtype == "float64" and back.training is False
    assert_same_state(net, back)
    np.testing.assert_allclose(back(X), net(X), rtol=1e-12, atol=1e-14)

    # training mode without dropout: batch statistics and running averages agree with torch
    net2 = mlpc.Sequential(mlpc.Linear(6, 8), mlpc.BatchNorm(8), mlpc.ReLU(), mlpc.Linear(8, 3),
                           dtype="float64", seed=1)
    module2 = net2.to_torch()
    assert module2.training
    with torch.no_grad():
        out = module2(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(out, net2(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(module2[1].running_var.numpy(), net2[1].running_var, rtol=1e-12)


def test_from_torch_modules_and_errors():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(),
                           nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.GELU()),
                           nn.PReLU(), nn.Dropout(0.1), nn.Linear(8, 2))
    module.eval()
    with torch.no_grad():
        module[1].running_mean.uniform_(-1, 1)
        module[1].running_var.uniform_(0.5, 2)
    net = serialize.from_torch(module)
    assert net.dtype == "float32" and len(net) == 9 and net.training is False
    X = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    with torch.no_grad():
        out = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(net(X), out, rtol=1e-5, atol=1e-6)
    # against the NumPy reference as well
    s = net.state_dict()
    h = ref.batchnorm_eval(ref.linear_forward(X, s["0.weight"], s["0.bias"]),
                           s["1.running_mean"], s["1.running_var"], s["1.weight"], s["1.bias"])
    np.testing.assert_allclose(np.asarray(h, np.float32), net[1].output, rtol=1e-4, atol=1e-5)

    with pytest.raises(TypeError, match="Conv1d"):
        serialize.from_torch(nn.Sequential(nn.Linear(3, 3), nn.Conv1d(1, 1, 1)))
    with pytest.raises(TypeError, match="Softplus"):
        serialize.from_torch(nn.Sequential(nn.Linear(3, 3), nn.Softplus(beta=2)))
    with pytest.raises(TypeError, match="no PyTorch equivalent"):
        mlpc.Sequential(mlpc.Linear(3, 3), mlpc.Step(), seed=0).to_torch()
    with pytest.raises(TypeError, match="no PyTorch equivalent"):
        mlpc.Sequential(mlpc.Linear(3, 4), mlpc.GLU(), seed=0).to_torch()
    # float64 modules give float64 networks; dtype= overrides
    assert serialize.from_torch(nn.Linear(3, 2).double()).dtype == "float64"
    assert serialize.from_torch(nn.Linear(3, 2), dtype="float64").dtype == "float64"


def test_optimizer_flags_saved_as_ints_still_load(tmp_path):
    """Files written before the optimizer's flags were bools hold them as 0/1."""
    import json
    net = mlpc.Sequential(mlpc.Linear(4, 3), seed=0)
    opt = mlpc.Adam(net, 0.01, amsgrad=True)
    path = tmp_path / "m.npz"
    net.save(path, optimizer=opt)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    header = json.loads(str(arrays["header"]))
    header["optimizer"]["amsgrad"], header["optimizer"]["decay_all"] = 1, 0
    arrays["header"] = np.array(json.dumps(header))
    np.savez(path, **arrays)
    assert mlpc.load_optimizer(path, mlpc.load(path)).amsgrad is True


def test_a_block_of_a_larger_network_saves_alone(tmp_path):
    rng = np.random.default_rng(0)
    feat = mlpc.Sequential(mlpc.Linear(5, 8), mlpc.ReLU())
    full = mlpc.Sequential(feat, mlpc.Linear(8, 3), seed=0, dtype="float64")
    X = rng.standard_normal((4, 5))
    full.train_step(X, [0, 1, 2, 0], mlpc.SoftmaxCrossEntropy(), mlpc.SGD(full, 0.5))
    feat.save(tmp_path / "f.npz")
    alone = mlpc.load(tmp_path / "f.npz")
    W, b = np.asarray(full[0][0].weight), np.asarray(full[0][0].bias)
    np.testing.assert_allclose(alone(X), np.maximum(X @ W.T + b, 0), rtol=1e-12)
    with pytest.raises(ValueError, match="save the larger network"):
        feat.save(tmp_path / "g.npz", optimizer=mlpc.SGD(full, 0.1))


def test_deepcopy_of_a_network_not_built_yet_copies_the_architecture():
    import copy
    net = mlpc.Sequential(mlpc.ReLU(), mlpc.Tanh(), mlpc.Dropout(0.2, seed=3))
    twin = copy.deepcopy({"net": net})["net"]
    assert twin is not net and [type(l) for l in twin.layers] == [type(l) for l in net.layers]
    assert all(a is not b for a, b in zip(twin.layers, net.layers))
    X = np.ones((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(twin(X), net(X))      # same seed, same masks


# -- hostile archives (issue 11) -------------------------------------------------------------------
BOMB_BYTES = 200 << 20   # 200 MiB of zeros: about 200 KiB deflated


def write_bomb(path, entries, name, npy_shape, dtype="<f4", data_bytes=BOMB_BYTES):
    """`entries` as usual, plus a deflated entry `name` whose .npy header declares `npy_shape`
    and whose data is `data_bytes` of zeros (written in chunks: never in memory at once)."""
    import zipfile
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for key, value in entries.items():
            with zf.open(key + ".npy", "w") as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)
        with zf.open(name + ".npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": dtype, "fortran_order": False, "shape": npy_shape})
            chunk = bytes(1 << 20)
            for start in range(0, data_bytes, len(chunk)):
                f.write(chunk[:data_bytes - start])
    assert os.path.getsize(path) < BOMB_BYTES // 100


def peak_bytes(fn, *args):
    """(result or exception, tracemalloc's peak of traced memory during fn(*args))."""
    import tracemalloc
    tracemalloc.start()
    try:
        try:
            result = fn(*args)
        except Exception as e:   # noqa: BLE001 - the caller checks which
            result = e
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


SMALL = 8 << 20   # what loading the small model may take (its arrays are kilobytes)


@pytest.mark.parametrize("case", ["unknown entry", "declared shape", "data beyond the header",
                                  "unused extra"])
def test_zip_bomb_is_refused_before_inflating(saved, tmp_path, case):
    """An entry inflating to 200 MiB made load use 200 MiB (two: seconds and twice that) before
    any check: load read every entry first. Now each entry's .npy header is read and checked
    against the architecture, and data is inflated only for entries the network needs."""
    net, _, entries = saved
    entries = dict(entries)
    bad = tmp_path / "bomb.npz"
    n = BOMB_BYTES // 4
    if case == "unknown entry":
        write_bomb(bad, entries, "junk", (n,))
        match = "unexpected entry 'junk'"
    elif case == "declared shape":
        del entries["param/0.weight"]
        write_bomb(bad, entries, "param/0.weight", (n,))
        match = r"'0.weight' has shape \(52428800,\), expected \(7, 5\)"
    elif case == "data beyond the header":
        del entries["param/0.weight"]
        write_bomb(bad, entries, "param/0.weight", (7, 5))
        match = r"'param/0.weight': its .npy header describes \(7, 5\) float32 \(140 bytes"
    else:   # an entry the file declares, which load has no use for
        h = header_of(entries)
        h["extra"] = ["big"]
        write_bomb(bad, with_header(entries, h), "extra/big", (n,))
        match = None
    result, peak = peak_bytes(load, bad)
    if match is None:
        assert isinstance(result, mlpc.Sequential)
        assert_same_state(net, result)
    else:
        assert isinstance(result, ModelFileError), result
        assert __import__("re").search(match, str(result)), str(result)
    assert peak < SMALL, f"loading used {peak / 2**20:.0f} MiB"


def test_declared_size_beyond_deflate_ratio_is_refused(saved, tmp_path):
    """A zip record may declare any size; a stored entry holds exactly its compressed bytes and
    deflate cannot inflate one byte to more than 1032."""
    import zipfile
    _, path, _ = saved
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("param/0.weight.npy")
    # rewrite the uncompressed size (offset 24) in the entry's central directory record, whose
    # 46 fixed bytes precede the name; zipfile believes the central directory
    at = data.index(b"param/0.weight.npy", data.index(b"PK\x01\x02")) - 46
    assert data[at:at + 4] == b"PK\x01\x02"
    data[at + 24:at + 28] = (info.compress_size * 2000).to_bytes(4, "little")
    (tmp_path / "lie.npz").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="declares .* bytes, more than its"):
        load(tmp_path / "lie.npz")


def test_malformed_archives_raise_model_file_errors(saved, tmp_path):
    """A non-.npy entry gave AttributeError, a deeply nested header RecursionError."""
    import zipfile
    _, path, entries = saved
    bad = tmp_path / "bad.npz"
    bad.write_bytes(path.read_bytes())
    with zipfile.ZipFile(bad, "a") as zf:
        zf.writestr("notes.txt", b"hello")
    with pytest.raises(ModelFileError, match="entry 'notes.txt' is not a .npy array"):
        load(bad)
    depth = int(np.random.default_rng().integers(10**4, 10**5))
    for text in ["[" * depth + "]" * depth, '{"a": ' * depth + "1" + "}" * depth]:
        expect_error(tmp_path, {**entries, "header": np.array(text)}, "nested too deeply",
                     ModelFileError)
    h = header_of(entries)
    h["l2"] = 10**400
    expect_error(tmp_path, with_header(entries, h), "l2 must be a finite number >= 0",
                 ModelFileError)


def optimizer_file(tmp_path, dtype="float64"):
    net = mlpc.Sequential(mlpc.Linear(4, 5), mlpc.ReLU(), mlpc.Linear(5, 3), dtype=dtype, seed=0)
    opt = mlpc.Adam(net, lr=1e-2, clip_norm=1.0)
    rng = np.random.default_rng()
    net.train_step(rng.normal(size=(6, 4)), rng.integers(0, 3, 6), mlpc.SoftmaxCrossEntropy(),
                   opt)
    save_optimizer(opt, tmp_path / "opt.npz")
    return net, read_entries(tmp_path / "opt.npz")


@pytest.mark.parametrize("change,match", [
    (lambda h, e: e["optimizer/state"].__setitem__((0, 0), np.nan), "expected finite values"),
    (lambda h, e: h["optimizer"].update(surprise=1.0), r"unexpected \['surprise'\]"),
    (lambda h, e: h["optimizer"].update(type={}), "unknown optimizer type {}"),
    (lambda h, e: h["optimizer"].update(type=["Adam"]), "unknown optimizer type"),
    (lambda h, e: h["optimizer"].update(clip_norm=10**400), "clip_norm must be finite"),
    (lambda h, e: h["optimizer"].update(step=2**64), r"step must be an int in \[0, 2\*\*64\)"),
    (lambda h, e: h["optimizer"].update(step=-1), "step must be an int"),
    (lambda h, e: h["optimizer"].update(eps=0), "eps must be a finite number > 0"),
    (lambda h, e: h["optimizer"].pop("beta2"), "lacks 'beta2'"),
    (lambda h, e: e.__setitem__("junk", np.zeros(2)), r"unexpected entries \['junk'\]"),
], ids=["nan_state", "extra_key", "type_dict", "type_list", "clip_norm_huge", "step_2_64",
        "step_negative", "eps_zero", "missing_beta2", "junk_entry"])
def test_malformed_optimizer_files_raise_model_file_errors(tmp_path, change, match):
    """load_optimizer let ValueError, KeyError, TypeError and OverflowError escape: its
    load_state_dict ran outside the conversion to ModelFileError."""
    net, entries = optimizer_file(tmp_path)
    h = header_of(entries)
    entries = {k: np.array(v) for k, v in entries.items()}
    change(h, entries)
    write_entries(tmp_path / "bad.npz", with_header(entries, h))
    with pytest.raises(ModelFileError, match=match):
        load_optimizer(tmp_path / "bad.npz", net)


def test_optimizer_file_settings_must_fit_the_network_dtype(tmp_path):
    """weight_decay 1e308 in a float32 network made every parameter inf after one step."""
    net, entries = optimizer_file(tmp_path, "float32")
    h = header_of(entries)
    h["optimizer"]["weight_decay"] = 1e308
    write_entries(tmp_path / "bad.npz", with_header(entries, h))
    with pytest.raises(ModelFileError, match="weight_decay = 1e.308 does not fit a float32"):
        load_optimizer(tmp_path / "bad.npz", net)
    net, entries = optimizer_file(tmp_path, "float64")
    h = header_of(entries)
    h["optimizer"]["weight_decay"] = 1e308
    write_entries(tmp_path / "ok.npz", with_header(entries, h))
    assert load_optimizer(tmp_path / "ok.npz", net).weight_decay == 1e308
