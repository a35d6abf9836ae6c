"""Every activation on its own is elementwise on any array — lists, 0-d values, vectors, stacks of
matrices — and mlpc.softmax works over the last axis of any array; compared with the NumPy
reference (tests/reference.py)."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import reference as ref  # noqa: E402

import mlpc  # noqa: E402

CASES = [   # (a new layer, its NumPy reference)
    (mlpc.Identity, ref.identity), (mlpc.Step, ref.step), (mlpc.Sigmoid, ref.sigmoid),
    (mlpc.Tanh, ref.tanh), (mlpc.ReLU, ref.relu),
    (lambda: mlpc.LeakyReLU(0.2), lambda x: ref.leaky_relu(x, 0.2)),
    (lambda: mlpc.ELU(0.7), lambda x: ref.elu(x, 0.7)), (mlpc.SELU, ref.selu),
    (mlpc.GELU, ref.gelu), (lambda: mlpc.GELU("tanh"), ref.gelu_tanh),
    (mlpc.Softplus, ref.softplus), (mlpc.SiLU, ref.silu),
    (lambda: mlpc.Swish(1.7), lambda x: ref.swish(x, 1.7)), (mlpc.Softsign, ref.softsign),
    # a fresh PReLU per dtype: one called in float32 keeps its float32 slope in float64
    (lambda: mlpc.PReLU(init=0.3), lambda x: ref.leaky_relu(x, 0.3)),
]
TOL = {np.float32: dict(rtol=2e-6, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-12)}


def random_shape(rng):
    return [(), (int(rng.integers(1, 9)),),
            tuple(int(n) for n in rng.integers(1, 5, size=int(rng.integers(3, 5))))][
        int(rng.integers(3))]


@pytest.mark.parametrize("make, reference", CASES, ids=[repr(make()) for make, _ in CASES])
def test_an_activation_on_any_shape_matches_numpy(make, reference):
    rng = np.random.default_rng()
    for dtype in (np.float32, np.float64):
        shape = random_shape(rng)
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        layer = make()
        out = layer(x)
        assert out.shape == x.shape and out.dtype == dtype
        np.testing.assert_allclose(out, reference(x.astype(np.float64)), **TOL[dtype])
    values = [float(v) for v in rng.standard_normal(4)]
    np.testing.assert_allclose(make()(values), reference(np.array(values)), **TOL[np.float64])


def test_the_readme_examples_and_rows_still_go_through_as_rows():
    np.testing.assert_array_equal(mlpc.ReLU()([-1.0, 2.0]), [0.0, 2.0])
    assert mlpc.Tanh()(0.5).shape == () and np.isclose(mlpc.Tanh()(0.5), np.tanh(0.5))
    relu = mlpc.ReLU()
    x = np.random.default_rng().standard_normal((5, 3))
    np.testing.assert_array_equal(relu(x), np.maximum(x, 0))
    assert relu.output.shape == (5, 3)
    assert mlpc.Sigmoid()(np.zeros((2, 0, 3))).shape == (2, 0, 3)


def test_a_per_unit_prelu_runs_along_the_last_axis():
    rng = np.random.default_rng()
    layer = mlpc.PReLU(4, init=0.1)
    x = rng.standard_normal((2, 3, 4))
    np.testing.assert_allclose(layer(x), ref.leaky_relu(x, 0.1), rtol=1e-12)
    with pytest.raises(ValueError, match=r"last axis has 4 units, got shape \(2, 3, 5\)"):
        layer(rng.standard_normal((2, 3, 5)))


def numpy_softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_softmax_over_the_last_axis_of_any_array():
    rng = np.random.default_rng()
    for shape in [(int(rng.integers(1, 12)),), (3, 5), (2, 3, int(rng.integers(2, 7)))]:
        s = rng.standard_normal(shape) * 4
        np.testing.assert_allclose(mlpc.softmax(s), numpy_softmax(s), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(mlpc.softmax([1.0, 2.0, 3.0]), numpy_softmax(np.array([1.0, 2, 3])))
    with pytest.raises(ValueError, match=r"non-empty last axis.*got shape \(\)"):
        mlpc.softmax(1.0)
