"""net.summary() and the notebook repr: parameter counts against named_parameters, shapes
against a forward pass."""
import numpy as np
import pytest

import mlpc


def random_net(rng):
    width = int(rng.integers(2, 9))
    layers, w = [], width
    for _ in range(int(rng.integers(1, 4))):
        out = int(rng.integers(2, 12))
        layers += [mlpc.Linear(w, out, bias=bool(rng.integers(2))), mlpc.BatchNorm(out),
                   mlpc.ReLU()]
        w = out
    layers += [mlpc.Residual(mlpc.Linear(w, w), mlpc.Tanh()), mlpc.LayerNorm(w),
               mlpc.Linear(w, 3)]
    return mlpc.Sequential(*layers), width


def test_summary_counts_and_shapes():
    rng = np.random.default_rng()
    net, width = random_net(rng)
    s = net.summary()
    by_layer = {}
    for name, value, _ in net.named_parameters():
        layer = name.rsplit(".", 1)[0]
        by_layer[layer] = by_layer.get(layer, 0) + value.size
    names = [row[0] for row in s.rows]
    leaves = [name for name, _ in net.named_layers()]
    assert [n for n in names if n in leaves] == leaves          # every layer, in order
    assert {row[0]: row[3] for row in s.rows if row[3]} == by_layer
    assert s.trainable == sum(by_layer.values()) == net.num_params
    buffers = sum(b.size for _, b in net.named_buffers())
    assert s.non_trainable == buffers and s.total == net.num_params + buffers
    net(rng.standard_normal((4, width)))
    for name, layer in net.named_layers():
        row = s.rows[names.index(name)]
        assert row[2] == f"(N, {layer.output.shape[1]})"
        assert row[4] == ("yes" if by_layer.get(name) else "-")
    text = str(s)
    assert text.splitlines()[0].split() == ["layer", "type", "output", "shape", "params",
                                            "trainable"]
    assert f"Total params: {s.total:,}" in text and "Residual" in text
    page = net._repr_html_()
    assert page.startswith("<table>") and page.count("<tr>") == len(s.rows) + 1
    assert f"{s.total:,}" in page


def test_summary_of_an_unbuilt_network_says_why():
    net = mlpc.Sequential(mlpc.ReLU(), mlpc.Linear(4, 2))
    with pytest.raises(RuntimeError, match="not built"):
        net.summary()
    assert net._repr_html_().startswith("<pre>Sequential(")
