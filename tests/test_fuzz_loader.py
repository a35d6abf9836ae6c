"""A seeded, time-bounded fuzz test of the model-file loader (see tests/fuzzing.py for the seed
and the budget). Each case takes a file saved by mlpc (a random network, sometimes with its
optimizer and extra arrays) and damages it: bit flips, truncation, inserted or deleted bytes,
edits of the zip records (declared sizes, compression method), of the .npy headers (shape,
dtype), of the JSON header (values replaced by any JSON, keys dropped or added, deep nesting),
and of the entries (renamed, dropped, duplicated, added, deflated). Oracles: mlpc.load,
mlpc.load_optimizer and mlpc.load_extra raise ModelFileError and nothing else; a network they
return is complete (its forward pass runs) and, when the damage left every value intact, equal
to the saved one.
"""
import io
import json
import os
import struct
import sys
import warnings
import zipfile

import numpy as np
import pytest

import mlpc
from mlpc.serialize import ModelFileError, load_extra

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzing  # noqa: E402
from fuzzing import random_net  # noqa: E402


def saved_files(r, tmp_path, count=6):
    """[(bytes, net)] of files saved by mlpc from random networks."""
    files = []
    for i in range(count):
        net, width = random_net(r)
        path = tmp_path / f"base{i}.npz"
        opt = None
        if r.random() < 0.5:
            opt = [mlpc.SGD(net, 0.1, momentum=0.9), mlpc.Adam(net), mlpc.RMSProp(net)][i % 3]
            net.train_step(r.normal(size=(4, width)), r.integers(0, net.out_features, 4),
                           mlpc.SoftmaxCrossEntropy(), opt)
        extra = {"mean": r.normal(size=width)} if r.random() < 0.5 else None
        net.save(path, optimizer=opt, extra=extra)
        files.append((path.read_bytes(), net))
    return files


# -- damage ------------------------------------------------------------------------------------
JSON_VALUES = [None, True, 0, -1, 1, 2 ** 31, 2 ** 64, 10 ** 400, 1e308, -0.0, 0.5, "", "x",
               "float32", "Linear", [], [1], {}, {"type": "Linear"}, [[[]]], "\u00e9\u2603"]


def json_value(r):
    v = JSON_VALUES[int(r.integers(len(JSON_VALUES)))]
    if r.random() < 0.05:   # deep nesting
        depth = int(r.integers(100, 5000))
        return json.loads("[" * depth + "]" * depth) if depth < 900 else "[" * depth
    return v


def mutate_json(r, node):
    """Replace, drop or add one value somewhere in the JSON tree `node` (in place)."""
    path = [node]
    while isinstance(path[-1], (dict, list)) and path[-1] and r.random() < 0.7:
        container = path[-1]
        key = r.choice(list(container)) if isinstance(container, dict) else \
            int(r.integers(len(container)))
        child = container[key]
        if not isinstance(child, (dict, list)) or not child:
            break
        path.append(child)
    container = path[-1]
    if isinstance(container, dict):
        keys = list(container)
        what = int(r.integers(3))
        if what == 0 and keys:
            del container[r.choice(keys)]
        elif what == 1 and keys:
            container[r.choice(keys)] = json_value(r)
        else:
            container[str(r.choice(["type", "layers", "junk", "in_features", "bias", "p"]))] = \
                json_value(r)
    elif isinstance(container, list):
        if container and r.random() < 0.5:
            container[int(r.integers(len(container)))] = json_value(r)
        else:
            container.append(json_value(r))


def read_members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def write_members(members, compression=zipfile.ZIP_STORED):
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", compression) as zf:
        warnings.simplefilter("ignore")   # duplicate names are one of the damages
        for name, payload in members:
            zf.writestr(name, payload)
    return out.getvalue()


def npy_bytes(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(array), allow_pickle=False)
    return buf.getvalue()


def edit_npy_header(r, payload):
    """The .npy header of an entry rewritten with another shape or dtype (data as it was)."""
    if not payload.startswith(b"\x93NUMPY\x01\x00") or b"\n" not in payload:
        return payload[::-1]   # not (or no longer) a .npy entry
    end = payload.index(b"\n") + 1
    header = payload[10:end].decode("latin1")
    choices = [("'shape': (", "'shape': (0, "), ("'shape': (", "'shape': (3, "),
               ("'shape': (", "'shape': (99999999999, "), ("<f4", "<f8"), ("<f8", "<f4"),
               ("<f", "|O"), ("<f", "<c"), ("<f", ">f"), ("False", "True"), ("'descr'", "'d'"),
               ("<u8", "<i8"), ("<U", "<S")]
    a, b = choices[int(r.integers(len(choices)))]
    header = header.replace(a, b, 1)
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + \
        payload[end:]


def damage(r, data):
    kind = int(r.integers(9))
    if kind == 0:   # bit flips anywhere
        b = bytearray(data)
        for _ in range(int(r.integers(1, 4))):
            b[int(r.integers(len(b)))] ^= 1 << int(r.integers(8))
        return bytes(b)
    if not data:
        return data
    if kind == 1:   # truncation
        return data[:int(r.integers(len(data)))]
    if kind == 2:   # bytes inserted or deleted
        at = int(r.integers(len(data)))
        return data[:at] + r.bytes(int(r.integers(1, 9))) + data[at:] if r.random() < 0.5 \
            else data[:at] + data[at + int(r.integers(1, 9)):]
    if kind == 3:   # a size field of a zip record changed
        b = bytearray(data)
        records = [i for i in range(len(b) - 30) if b[i:i + 4] in (b"PK\x01\x02", b"PK\x03\x04")]
        if not records:
            return bytes(b)
        at = records[int(r.integers(len(records)))]
        field = [18, 22, 20, 24][int(r.integers(4))] if b[at + 2] == 3 else \
            [20, 24][int(r.integers(2))]
        b[at + field:at + field + 4] = struct.pack("<I", int(r.integers(2 ** 32)))
        return bytes(b)
    try:
        members = read_members(data)
    except Exception:   # noqa: BLE001 - damaged already: damage it further byte-wise
        return damage(r, data[:-1]) if len(data) > 1 else b""
    if not members:
        return data
    i = int(r.integers(len(members)))
    name, payload = members[i]
    if kind == 4:   # the JSON header edited
        for j, (n, p) in enumerate(members):
            if n == "header.npy":
                try:
                    header = json.loads(str(np.load(io.BytesIO(p))))
                except Exception:   # noqa: BLE001 - damaged already
                    header = {}
                for _ in range(int(r.integers(1, 3))):
                    mutate_json(r, header)
                try:
                    text = json.dumps(header)
                except (RecursionError, ValueError):
                    text = "[" * 5000
                members[j] = (n, npy_bytes(np.array(text)))
        return write_members(members)
    if kind == 5:   # an entry's .npy header edited
        members[i] = (name, edit_npy_header(r, payload))
        return write_members(members)
    if kind == 6:   # an entry renamed, dropped or duplicated
        what = int(r.integers(4))
        if what == 0:
            members[i] = (name[:-4] + ["", ".txt", "x.npy", "/"][int(r.integers(4))], payload)
        elif what == 1:
            del members[i]
        elif what == 2:
            members.append((name, payload))
        else:
            members[i] = ([n for n, _ in members][int(r.integers(len(members)))], payload)
        return write_members(members)
    if kind == 7:   # an entry added
        extra = [np.zeros(3), np.zeros((2, 2), np.float32), np.array("x"), np.zeros(4, np.uint64),
                 np.array([1 + 2j])][int(r.integers(5))]
        name = str(r.choice(["junk", "param/9.weight", "buffer/0.running_var", "rng/0",
                             "optimizer/state", "extra/mean", "extra/new", "header"]))
        members.append((name + ".npy", npy_bytes(extra)))
        return write_members(members)
    # the same entries, deflated, and perhaps one payload replaced by random bytes
    if r.random() < 0.5:
        members[i] = (name, r.bytes(len(payload)))
    return write_members(members, zipfile.ZIP_DEFLATED)


def check_loaded(net, saved, data, original, r):
    assert isinstance(net, mlpc.Sequential)
    x = r.normal(size=(3, net.in_features))
    y = net(x)
    assert y.shape == (3, net.out_features)
    if data == original:
        a, b = net.state_dict(), saved.state_dict()
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_fuzz_loader(tmp_path):
    seed = fuzzing.seed()
    files = saved_files(np.random.default_rng([seed, 2 ** 32]), tmp_path)
    path = tmp_path / "fuzzed.npz"

    def case(r, i):
        original, saved = files[int(r.integers(len(files)))]
        data = original
        for _ in range(int(r.integers(1, 3))):
            data = damage(r, data)
        path.write_bytes(data)
        try:
            net = mlpc.load(path)
        except ModelFileError:
            net = None
        if net is not None:
            check_loaded(net, saved, data, original, r)
        target = net if net is not None else saved
        for fn in (lambda: mlpc.load_optimizer(path, target), lambda: load_extra(path)):
            try:
                fn()
            except ModelFileError:
                pass

    assert fuzzing.run("loader fuzz", case, seed) > 0


if __name__ == "__main__":   # python tests/test_fuzz_loader.py: the fuzzer alone, with its report
    sys.exit(pytest.main([__file__, "-q", "-s"]))
