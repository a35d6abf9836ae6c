"""The network container: determinism, parameter and activation views, gradients accumulation,
state dicts, copies, lazy building, standalone layers, predict, train_step."""
import os
import sys

import numpy as np
import pytest

import mlpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

DTYPES = ["float32", "float64"]


def make_net(seed=0, dtype="float64", **kw):
    return mlpc.Sequential(mlpc.Linear(4, 6), mlpc.Tanh(), mlpc.Linear(6, 5), mlpc.PReLU(5),
                           mlpc.Linear(5, 3), dtype=dtype, seed=seed, **kw)


def batch(n=7, d=4, seed=0, dtype="float64"):
    r = np.random.default_rng(seed)
    return r.normal(size=(n, d)).astype(dtype), r.integers(0, 3, size=n)


def params(net):
    return {name: np.array(value) for name, value, _ in net.named_parameters()}


def grads(net):
    return {name: np.array(grad) for name, _, grad in net.named_parameters()}


def run(net, X, y):
    net.zero_grad()
    cost = net.cost(X, y, mlpc.SoftmaxCrossEntropy())
    dx = net.backward()
    return cost, dx, grads(net)


# ------------------------------------------------------------------------------------------
# Determinism
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_same_seed_gives_bit_identical_networks(dtype):
    X, y = batch(dtype=dtype)
    a, b = make_net(5, dtype), make_net(5, dtype)
    for name, value in params(a).items():
        np.testing.assert_array_equal(value, params(b)[name])
    ca, dxa, ga = run(a, X, y)
    cb, dxb, gb = run(b, X, y)
    assert ca == cb
    np.testing.assert_array_equal(a(X), b(X))
    np.testing.assert_array_equal(dxa, dxb)
    for name in ga:
        np.testing.assert_array_equal(ga[name], gb[name])
    # a different seed gives different weights and outputs
    c = make_net(6, dtype)
    assert not np.array_equal(params(a)["0.weight"], params(c)["0.weight"])
    assert not np.array_equal(a(X), c(X))


def test_manual_seed_gives_bit_identical_networks():
    X, y = batch()
    mlpc.manual_seed(123)
    a = mlpc.Sequential(mlpc.Linear(4, 6), mlpc.ReLU(), mlpc.Linear(6, 3), mlpc.Dropout(0.3),
                        dtype="float64")
    mlpc.manual_seed(123)
    b = mlpc.Sequential(mlpc.Linear(4, 6), mlpc.ReLU(), mlpc.Linear(6, 3), mlpc.Dropout(0.3),
                        dtype="float64")
    mlpc.manual_seed(124)
    c = mlpc.Sequential(mlpc.Linear(4, 6), mlpc.ReLU(), mlpc.Linear(6, 3), mlpc.Dropout(0.3),
                        dtype="float64")
    np.testing.assert_array_equal(a[0].weight, b[0].weight)
    np.testing.assert_array_equal(a(X), b(X))            # includes the dropout masks
    np.testing.assert_array_equal(a[3].mask, b[3].mask)
    ga, gb = run(a, X, y)[2], run(b, X, y)[2]
    for name in ga:
        np.testing.assert_array_equal(ga[name], gb[name])
    assert not np.array_equal(a[0].weight, c[0].weight)
    # a layer's own seed wins over the package-wide source
    mlpc.manual_seed(1)
    d = mlpc.Sequential(mlpc.Linear(4, 6, seed=42))
    mlpc.manual_seed(2)
    e = mlpc.Sequential(mlpc.Linear(4, 6, seed=42))
    np.testing.assert_array_equal(d[0].weight, e[0].weight)


# ------------------------------------------------------------------------------------------
# Parameters
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_named_parameters_names_shapes_dtype(dtype):
    net = mlpc.Sequential(mlpc.Linear(4, 5), mlpc.ReLU(), mlpc.Linear(5, 3, bias=False),
                          mlpc.Residual(mlpc.Linear(3, 3), mlpc.Tanh(), mlpc.PReLU(3)),
                          mlpc.BatchNorm(3), mlpc.Swish(learnable=True), mlpc.LayerNorm(3),
                          dtype=dtype)
    got = [(n, v.shape, v.dtype, g.shape, g.dtype) for n, v, g in net.named_parameters()]
    expected = [("0.weight", (5, 4)), ("0.bias", (5,)), ("2.weight", (3, 5)),
                ("3.0.weight", (3, 3)), ("3.0.bias", (3,)), ("3.2.weight", (3,)),
                ("4.weight", (3,)), ("4.bias", (3,)), ("5.beta", (1,)),
                ("6.weight", (3,)), ("6.bias", (3,))]
    assert [g[0] for g in got] == [e[0] for e in expected]
    for (name, shape, vdt, gshape, gdt), (_, eshape) in zip(got, expected):
        assert shape == eshape and gshape == eshape, name
        assert vdt == np.dtype(dtype) and gdt == np.dtype(dtype), name
    assert net.num_params == sum(int(np.prod(s)) for _, s in expected)
    assert [n for n, _ in net.named_layers()] == ["0", "1", "2", "3.0", "3.1", "3.2", "4", "5",
                                                   "6"]
    assert [n for n, _ in net.named_buffers()] == ["4.running_mean", "4.running_var"]
    assert len(net) == 7 and net[3][1].__class__ is mlpc.Tanh
    assert net.dtype == dtype and net.in_features == 4 and net.out_features == 3
    # starting values: BN/LN γ = 1, β = 0, PReLU 0.25, Swish β = 1, biases 0
    p = params(net)
    np.testing.assert_array_equal(p["4.weight"], 1.0)
    np.testing.assert_array_equal(p["4.bias"], 0.0)
    np.testing.assert_array_equal(p["3.2.weight"], np.float32(0.25))
    np.testing.assert_array_equal(p["5.beta"], 1.0)
    np.testing.assert_array_equal(p["0.bias"], 0.0)


def test_parameter_views_share_memory():
    net = make_net(1)
    X, y = batch()
    out0 = net(X)
    name, value, grad = next(net.named_parameters())
    assert name == "0.weight"
    value[0, 0] += 1.0                          # writing through the view changes the network
    out1 = net(X)
    assert not np.array_equal(out0, out1)
    np.testing.assert_array_equal(net[0].weight, value)
    value[0, 0] -= 1.0
    np.testing.assert_array_equal(net(X), out0)
    # setting the attribute writes in place: earlier views see it
    net[0].weight = np.zeros((6, 4))
    np.testing.assert_array_equal(value, 0.0)
    with pytest.raises(ValueError, match="shape"):
        net[0].weight = np.zeros((4, 6))
    # gradient views are live
    run(net, X, y)
    first = np.array(grad)
    net.zero_grad()
    np.testing.assert_array_equal(grad, 0.0)
    net.cost(X, y, mlpc.SoftmaxCrossEntropy())
    net.backward()
    np.testing.assert_array_equal(grad, first)


def test_zero_grad_and_accumulation():
    net = make_net(2, l2=0.01)
    X, y = batch()
    _, _, g1 = run(net, X, y)
    assert all(np.any(g != 0) for g in g1.values())
    net.cost(X, y, mlpc.SoftmaxCrossEntropy())
    net.backward()                              # no zero_grad: accumulates (penalty included)
    g2 = grads(net)
    for name in g1:
        np.testing.assert_allclose(g2[name], 2 * g1[name], rtol=1e-14, atol=1e-17)
    net.zero_grad()
    for name, g in grads(net).items():
        np.testing.assert_array_equal(g, 0.0)
    # backward with an explicit dY accumulates too
    net(X)
    dy = np.ones((7, 3))
    net.backward(dy)
    g3 = grads(net)
    net.backward(dy)
    for name, g in grads(net).items():
        np.testing.assert_allclose(g, 2 * g3[name], rtol=1e-14, atol=1e-17)
    # grad_norm is the global L2 norm
    assert net.grad_norm() == pytest.approx(
        np.sqrt(sum(np.sum(g ** 2) for g in grads(net).values())), rel=1e-13)


# ------------------------------------------------------------------------------------------
# Activation views
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_outputs_and_output_gradients(dtype):
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    net = mlpc.Sequential(mlpc.Linear(4, 6), mlpc.Tanh(), mlpc.Linear(6, 5), mlpc.PReLU(5),
                          mlpc.Linear(5, 3), dtype=dtype, seed=3)
    assert net[0].output is None                # no forward pass yet
    X, y = batch(dtype=dtype)
    out = net(X)
    p = params(net)
    a1 = ref.linear_forward(X, p["0.weight"], p["0.bias"])
    h1 = ref.tanh(a1)
    a2 = ref.linear_forward(h1, p["2.weight"], p["2.bias"])
    h2 = ref.prelu_forward(a2, p["3.weight"])
    s = ref.linear_forward(h2, p["4.weight"], p["4.bias"])
    for layer, expected in zip(net, [a1, h1, a2, h2, s]):
        view = layer.output
        assert view.shape == expected.shape and view.dtype == np.dtype(dtype)
        assert not view.flags.writeable
        np.testing.assert_allclose(view, expected, **tol)
    np.testing.assert_array_equal(out, net[4].output)
    np.testing.assert_array_equal(net.output, out)
    # the network returns a copy: changing it leaves the layer's output alone
    out[...] = 0
    assert np.any(net[4].output != 0)

    loss_fn = mlpc.SoftmaxCrossEntropy()
    net.loss(loss_fn, y)
    net.zero_grad()
    dx = net.backward()
    _, ds = ref.softmax_cross_entropy(s, y)
    dh2, dW3, db3 = ref.linear_backward(ds, h2, p["4.weight"])
    da2, da = ref.prelu_backward(dh2, a2, p["3.weight"])
    dh1, dW2, db2 = ref.linear_backward(da2, h1, p["2.weight"])
    da1 = ref.activation_backward("tanh", dh1, a1)
    dX, dW1, db1 = ref.linear_backward(da1, X, p["0.weight"])
    for layer, expected in zip(net, [da1, dh1, da2, dh2, ds]):
        view = layer.grad_output
        assert not view.flags.writeable
        np.testing.assert_allclose(view, expected, **tol)
    np.testing.assert_allclose(dx, dX, **tol)
    g = grads(net)
    for name, expected in [("0.weight", dW1), ("0.bias", db1), ("2.weight", dW2),
                           ("2.bias", db2), ("3.weight", da), ("4.weight", dW3), ("4.bias", db3)]:
        np.testing.assert_allclose(g[name], expected, **tol, err_msg=name)


def test_output_views_follow_the_batch_size():
    net = make_net(0)
    X, _ = batch(n=7)
    net(X)
    assert net[1].output.shape == (7, 6)
    X2, _ = batch(n=20, seed=1)
    net(X2)                                     # a larger batch grows the buffers
    assert net[1].output.shape == (20, 6)
    np.testing.assert_allclose(net[1].output, np.tanh(X2 @ net[0].weight.T + net[0].bias),
                               rtol=1e-12, atol=1e-13)
    old_view = net[1].output
    net(X[:2])
    assert net[1].output.shape == (2, 6)
    assert old_view.shape == (20, 6)            # an old view stays valid (its memory is kept)


# ------------------------------------------------------------------------------------------
# Prediction, repr
# ------------------------------------------------------------------------------------------

def test_predict_and_predict_proba():
    net = mlpc.Sequential(mlpc.Linear(4, 6), mlpc.ReLU(), mlpc.Dropout(0.5), mlpc.Linear(6, 3),
                          dtype="float64", seed=4)
    X, _ = batch()
    assert net.training
    proba = net.predict_proba(X)
    assert net.training                         # mode restored
    net.eval()
    scores = net(X)                             # eval mode: dropout is the identity
    net.train()
    np.testing.assert_allclose(proba, ref.softmax(scores), rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(net.predict(X), np.argmax(scores, axis=1))
    np.testing.assert_array_equal(net.predict_proba(X), proba)     # deterministic
    net.eval()
    net.predict(X)
    assert not net.training                     # eval mode restored too
    # one output: sigmoid probabilities and a threshold at 0
    one = mlpc.Sequential(mlpc.Linear(4, 1), dtype="float64", seed=1)
    s = one(X)
    np.testing.assert_allclose(one.predict_proba(X), ref.sigmoid(s), rtol=1e-14)
    np.testing.assert_array_equal(one.predict(X), (s[:, 0] > 0).astype(int))


def test_repr_mentions_layers():
    net = mlpc.Sequential(mlpc.Linear(4, 6), mlpc.ReLU(), mlpc.Residual(mlpc.Linear(6, 6)),
                          mlpc.Dropout(0.2), mlpc.Linear(6, 2), dtype="float64", l2=0.1)
    text = repr(net)
    for part in ["Sequential", "Linear(in_features=4, out_features=6", "ReLU()", "Residual",
                 "Dropout(p=0.2)", "float64", "l2=0.1"]:
        assert part in text, part


# ------------------------------------------------------------------------------------------
# State dicts and copies
# ------------------------------------------------------------------------------------------

def bn_net(seed=0, dtype="float64"):
    return mlpc.Sequential(mlpc.Linear(4, 5), mlpc.BatchNorm(5), mlpc.ReLU(), mlpc.Linear(5, 3),
                           dtype=dtype, seed=seed)


def test_state_dict_round_trip():
    a = bn_net(0)
    X, y = batch()
    for _ in range(3):
        a(X)                                    # running statistics move
    state = a.state_dict()
    assert set(state) == {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                          "1.running_var", "3.weight", "3.bias"}
    assert not np.allclose(state["1.running_mean"], 0)
    # copies, not views
    state["0.weight"][...] = 0
    assert np.any(a[0].weight != 0)
    state = a.state_dict()
    b = bn_net(1)
    a.eval(), b.eval()                          # eval passes leave the running statistics
    assert not np.array_equal(a(X), b(X))
    b.load_state_dict(state)
    np.testing.assert_array_equal(a(X), b(X))
    for name, value in b.state_dict().items():
        np.testing.assert_array_equal(value, state[name])


def test_load_state_dict_wrong_shape_changes_nothing():
    a = bn_net(0)
    before = a.state_dict()
    bad = bn_net(1).state_dict()
    bad["3.weight"] = np.zeros((4, 5))          # the last entry checked, after the others
    with pytest.raises(ValueError, match=r"3\.weight.*\(3, 5\).*\(4, 5\)"):
        a.load_state_dict(bad)
    for name, value in a.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    missing = bn_net(1).state_dict()
    del missing["1.running_var"]
    with pytest.raises(KeyError, match="running_var"):
        a.load_state_dict(missing)
    extra = dict(bn_net(1).state_dict(), foo=np.zeros(1))
    with pytest.raises(KeyError, match="foo"):
        a.load_state_dict(extra)
    for name, value in a.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_copy_and_dtype_conversion():
    a = mlpc.Sequential(mlpc.Linear(4, 6), mlpc.BatchNorm(6), mlpc.Tanh(), mlpc.Dropout(0.3),
                        mlpc.Linear(6, 3), dtype="float64", l2=0.05, seed=2)
    X, y = batch()
    a(X)
    b = a.copy()
    assert b.dtype == "float64" and b.l2 == 0.05 and b.training
    for name, value in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[name], value)
    # same dropout stream: the next training pass is identical
    np.testing.assert_array_equal(a(X), b(X))
    # independent
    b[0].weight[...] = 0
    assert np.any(a[0].weight != 0)
    # float32 copy: parameters rounded, outputs equal within float32 accuracy
    c = a.copy("float32")
    assert c.dtype == "float32" and c[0].weight.dtype == np.float32
    for name, value in a.state_dict().items():
        np.testing.assert_array_equal(c.state_dict()[name], value.astype(np.float32))
    a.eval(), c.eval()
    np.testing.assert_allclose(c(X), a(X), rtol=1e-5, atol=1e-5)
    d = c.copy("float64")
    assert d.dtype == "float64"
    assert not d.training                       # the mode is copied
    for name, value in c.state_dict().items():
        np.testing.assert_array_equal(d.state_dict()[name], value.astype(np.float64))


# ------------------------------------------------------------------------------------------
# Building
# ------------------------------------------------------------------------------------------

def test_lazy_build_when_the_first_layer_is_an_activation():
    net = mlpc.Sequential(mlpc.ReLU(), mlpc.PReLU(5), mlpc.Linear(5, 2, seed=0), dtype="float64")
    assert net.in_features is None
    with pytest.raises(RuntimeError, match="not built"):
        net.num_params
    X = np.random.default_rng(0).normal(size=(3, 5))
    out = net(X)
    assert net.in_features == 5 and net.out_features == 2
    assert net.num_params == 5 + 10 + 2
    W, b = net[2].weight, net[2].bias
    h = ref.prelu_forward(ref.relu(X), net[1].weight)
    np.testing.assert_allclose(out, ref.linear_forward(h, W, b), rtol=1e-13)
    # the width is now fixed
    with pytest.raises(ValueError, match=r"\(N, 5\)"):
        net(np.ones((3, 4)))
    # a layer that fixes the width builds at construction
    assert mlpc.Sequential(mlpc.Linear(3, 2)).num_params == 8
    assert mlpc.Sequential(mlpc.BatchNorm(3)).num_params == 6
    assert mlpc.Sequential(mlpc.LayerNorm(3), mlpc.ReLU()).num_params == 6


@pytest.mark.parametrize("dtype", DTYPES)
def test_standalone_layer_call(dtype):
    x = np.array([[-1.5, 0.0, 2.0], [3.0, -0.5, 0.25]], dtype=dtype)
    y = mlpc.ReLU()(x)
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    t = mlpc.Tanh()
    np.testing.assert_allclose(t(x), np.tanh(x), rtol=1e-6 if dtype == "float32" else 1e-15)
    # the same layer on rows of another width and dtype
    x2 = np.linspace(-2, 2, 10).reshape(2, 5)
    np.testing.assert_allclose(t(x2), np.tanh(x2), rtol=1e-15)
    # layers with parameters
    lin = mlpc.Linear(3, 2, seed=0)
    np.testing.assert_allclose(lin(x), ref.linear_forward(x, lin.weight, lin.bias),
                               rtol=1e-5 if dtype == "float32" else 1e-13)
    np.testing.assert_allclose(mlpc.GLU()(x2[:, :4]), ref.gated_forward(x2[:, :4], "glu"),
                               rtol=1e-14)
    assert mlpc.ReLU().output is None
    with pytest.raises(RuntimeError, match="not part of a network"):
        mlpc.PReLU().weight


def test_layers_can_be_rebuilt_into_a_new_network_keeping_values():
    l1, l2 = mlpc.Linear(4, 3, seed=0), mlpc.Linear(3, 2, seed=1)
    a = mlpc.Sequential(l1, mlpc.ReLU(), l2, dtype="float64")
    l1.weight[...] = 0.5
    b = mlpc.Sequential(l1, mlpc.Tanh(), l2, dtype="float32")
    np.testing.assert_array_equal(b[0].weight, np.float32(0.5))
    assert a is not b
    # batch-norm running statistics travel with the layer too
    bn = mlpc.BatchNorm(3)
    c = mlpc.Sequential(l1, bn, dtype="float64")
    c(np.random.default_rng(0).normal(size=(5, 4)) + 2.0)
    rm, rv = np.array(bn.running_mean), np.array(bn.running_var)
    assert not np.allclose(rm, 0)
    d = mlpc.Sequential(l1, bn, mlpc.ReLU(), dtype="float64")
    np.testing.assert_array_equal(d[1].running_mean, rm)
    np.testing.assert_array_equal(d[1].running_var, rv)


# ------------------------------------------------------------------------------------------
# train_step
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_train_step_equals_the_pieces(dtype):
    X, y = batch(n=9, dtype=dtype)
    loss_fn = mlpc.SoftmaxCrossEntropy()
    a = make_net(7, dtype, l2=0.01)
    b = make_net(7, dtype, l2=0.01)
    opt_a = mlpc.SGD(a, lr=0.1, momentum=0.9)
    opt_b = mlpc.SGD(b, lr=0.1, momentum=0.9)
    for step in range(3):
        Xs, ys = X[step:step + 6], y[step:step + 6]
        cost_a = a.train_step(Xs, ys, loss_fn, opt_a)
        b.zero_grad()
        b.forward(Xs)
        cost_b = b.loss(loss_fn, ys) + b.penalty()
        b.backward()
        opt_b.step()
        assert cost_a == cost_b
        for name, value in params(a).items():
            np.testing.assert_array_equal(value, params(b)[name], err_msg=name)
        for name, g in grads(a).items():
            np.testing.assert_array_equal(g, grads(b)[name], err_msg=name)
    assert opt_a.step_count == opt_b.step_count == 3


def test_sgd_step_matches_reference():
    """One plain SGD step from the pieces: w ← w − η ∇J, against the reference optimizer."""
    X, y = batch()
    net = make_net(3, l2=0.02)
    before = params(net)
    opt = mlpc.SGD(net, lr=0.05)
    cost = net.train_step(X, y, mlpc.SoftmaxCrossEntropy(), opt)
    g = grads(net)
    names = list(before)
    new, _ = ref.sgd_step([before[n] for n in names], [g[n] for n in names], None, lr=0.05)
    for n, expected in zip(names, new):
        np.testing.assert_allclose(params(net)[n], expected, rtol=1e-14, atol=1e-16)
    # the cost reported is the cost before the update, with the penalty
    probe = make_net(3, l2=0.02)
    assert cost == pytest.approx(probe.cost(X, y, mlpc.SoftmaxCrossEntropy()), rel=1e-14)


def test_calling_a_layer_of_a_network_leaves_the_network_as_it_was():
    net = mlpc.Sequential(mlpc.Linear(3, 4), mlpc.Tanh(), mlpc.Linear(4, 2), dtype="float64",
                          seed=1)
    x = np.random.default_rng(0).standard_normal((5, 3))
    before = net(x)
    W, b = np.array(net[0].weight), np.array(net[0].bias)
    y = net[0](x)                                    # the first layer alone
    np.testing.assert_allclose(y, x @ W.T + b, rtol=1e-12)
    assert net[0]._net is net                        # still part of its network
    net[0].weight[...] += 1.0                        # and its weights are still the network's
    assert not np.allclose(net(x), before)


# ------------------------------------------------------------------------------------------
# Layers and the networks they belong to
# ------------------------------------------------------------------------------------------

def layer_state(net):
    """Every attribute of the network and of every layer in it (the views' indices included)."""
    return [(layer, dict(layer.__dict__)) for layer in [net, *net._nodes()]]


def assert_layer_state(saved):
    for layer, attributes in saved:
        assert layer.__dict__ == attributes, type(layer).__name__


@pytest.mark.parametrize("make", [
    lambda l: mlpc.Sequential(l, mlpc.Tanh(), l, seed=0),
    lambda l: mlpc.Sequential(mlpc.Linear(4, 4), mlpc.Residual(l), l),
    lambda l: mlpc.Sequential(mlpc.Linear(4, 4), mlpc.Residual(mlpc.Tanh(), l),
                              mlpc.Sequential(mlpc.ReLU(), l)),
    lambda l: mlpc.Residual(l, l)(np.ones((2, 4))),
], ids=["twice", "in-a-residual", "in-two-blocks", "twice-in-a-residual"])
def test_the_same_layer_at_two_places_is_refused(make):
    with pytest.raises(ValueError, match=r"is the same object as layer .*Linear\(in_features=4.*"
                                         r"create a separate layer.*weight sharing"):
        make(mlpc.Linear(4, 4, seed=1))


def test_a_layer_without_values_may_serve_several_places_others_may_not():
    """One ReLU object at two places computes ReLU at both (a common notebook habit); a layer
    with values of its own (parameters, running statistics, a generator) is refused."""
    relu = mlpc.ReLU()
    net = mlpc.Sequential(mlpc.Linear(4, 4), relu, mlpc.Linear(4, 4), relu, seed=0,
                          dtype="float64")
    X = np.random.default_rng(0).standard_normal((5, 4))
    (W1, b1), (W2, b2) = [(np.asarray(net[i].weight), np.asarray(net[i].bias)) for i in (0, 2)]
    expected = np.maximum(np.maximum(X @ W1.T + b1, 0) @ W2.T + b2, 0)
    np.testing.assert_allclose(net(X), expected, rtol=1e-12)
    for shared in (mlpc.BatchNorm(4, affine=False), mlpc.Dropout(0.5, seed=1),
                   mlpc.PReLU()):
        with pytest.raises(ValueError, match="holds values of its own"):
            mlpc.Sequential(mlpc.Linear(4, 4), shared, mlpc.Linear(4, 4), shared)
    block = mlpc.Sequential(mlpc.Linear(4, 4), mlpc.Tanh())
    with pytest.raises(ValueError, match="layer 1 is the same object as layer 0"):
        mlpc.Sequential(block, block)


def test_moving_a_batch_norm_carries_its_own_running_statistics():
    rng = np.random.default_rng(0)
    net = mlpc.Sequential(mlpc.BatchNorm(4), mlpc.Linear(4, 4), mlpc.BatchNorm(4), seed=0,
                          dtype="float64")
    for _ in range(20):
        net(rng.standard_normal((16, 4)) * 3 + 5)
    first = [np.array(s) for s in (net[0].running_mean, net[0].running_var)]
    last = [np.array(s) for s in (net[2].running_mean, net[2].running_var)]
    assert not np.allclose(first[0], last[0])
    moved = mlpc.Sequential(net[2], dtype="float64")
    np.testing.assert_array_equal(moved[0].running_mean, last[0])
    np.testing.assert_array_equal(moved[0].running_var, last[1])
    np.testing.assert_array_equal(net[0].running_mean, first[0])   # net[0] stays in net


def test_moving_a_dropout_continues_its_mask_stream():
    X = np.random.default_rng(0).standard_normal((8, 4))
    net = mlpc.Sequential(mlpc.Linear(4, 6), mlpc.Dropout(0.5), mlpc.Linear(6, 3), seed=0,
                          dtype="float64")
    net(X)
    expected = net.copy()
    moved = mlpc.Sequential(*net.layers, dtype="float64")
    np.testing.assert_array_equal(moved(X), expected(X))       # the same next mask
    np.testing.assert_array_equal(moved[1].mask, expected[1].mask)


def test_a_layer_of_a_network_called_alone_uses_its_values_and_leaves_the_network():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((8, 4)) * 2 + 3
    net = mlpc.Sequential(mlpc.Linear(4, 4), mlpc.BatchNorm(4), mlpc.Dropout(0.5),
                          mlpc.Residual(mlpc.Linear(4, 4), mlpc.Tanh()),
                          mlpc.Sequential(mlpc.Linear(4, 4), mlpc.ReLU()), seed=0,
                          dtype="float64")
    for _ in range(5):
        net(X)
    net.eval()
    saved, state = layer_state(net), net.state_dict()
    mean, var = np.array(net[1].running_mean), np.array(net[1].running_var)
    H = net[0](X)
    # batch norm alone (a new network is in training mode: batch statistics, the running ones
    # updated from the network's, not from zeros)
    gamma, beta = np.array(net[1].weight), np.array(net[1].bias)
    np.testing.assert_allclose(net[1](H), ref.batchnorm_forward(H, gamma, beta)[0], rtol=1e-10,
                               atol=1e-12)
    # dropout alone: the network's next mask
    expected = net.copy().train()
    expected(X)
    np.testing.assert_array_equal(net[2](H), H * expected[2].mask)
    # a residual block and a nested network alone: their layers stay in the network
    W, b = np.array(net[3][0].weight), np.array(net[3][0].bias)
    np.testing.assert_allclose(net[3](H), H + np.tanh(H @ W.T + b), rtol=1e-12)
    net[4][0].weight[...] = 0.5
    np.testing.assert_allclose(net[4](H), np.maximum(H @ (0.5 * np.ones((4, 4))) +
                                                     net[4][0].bias, 0), rtol=1e-12)
    assert_layer_state(saved)
    state["4.0.weight"][...] = 0.5
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, state[name], err_msg=name)
    np.testing.assert_array_equal(net[1].running_mean, mean)
    np.testing.assert_array_equal(net[1].running_var, var)


def test_a_failed_construction_leaves_every_layer_as_it_was():
    X = np.random.default_rng(0).standard_normal((5, 4))
    old = mlpc.Sequential(mlpc.Linear(4, 4), mlpc.ReLU(), mlpc.Linear(4, 3), seed=0)
    old(X)
    saved = layer_state(old)
    with pytest.raises(ValueError, match="even input width"):
        mlpc.Sequential(mlpc.Linear(4, 3), mlpc.Tanh(), old[1], mlpc.GLU())
    assert_layer_state(saved)
    assert old[1].output.shape == (5, 4)
    # building at the first forward pass: the same, and the network stays unbuilt
    lazy = mlpc.Sequential(mlpc.Tanh(), old[1], old[2])
    with pytest.raises(ValueError, match="width 5"):
        lazy(np.ones((2, 5)))
    assert_layer_state(saved)
    assert lazy._core is None and lazy.in_features is None
    # a layer called alone on a bad input stays in the network it was in, values exact
    lin = mlpc.Linear(3, 2, seed=0)
    lin(np.ones((2, 3)))
    saved = layer_state(lin._net)
    with pytest.raises(ValueError, match=r"\(2, 5\)"):
        lin(np.ones((2, 5), dtype=np.float32))
    assert_layer_state(saved)
    assert lin.weight.dtype == np.float64


def test_a_failed_construction_draws_no_seeds():
    mlpc.manual_seed(3)
    with pytest.raises(ValueError):
        mlpc.Sequential(mlpc.Linear(4, 4), mlpc.Dropout(0.2), mlpc.Linear(5, 2))
    a = mlpc.Sequential(mlpc.Linear(4, 4), mlpc.Dropout(0.2))
    mlpc.manual_seed(3)
    b = mlpc.Sequential(mlpc.Linear(4, 4), mlpc.Dropout(0.2))
    np.testing.assert_array_equal(a[0].weight, b[0].weight)
    np.testing.assert_array_equal(a(np.ones((3, 4))), b(np.ones((3, 4))))


def test_deepcopy_is_copy():
    import copy
    net = mlpc.Sequential(mlpc.Linear(4, 6), mlpc.BatchNorm(6), mlpc.Dropout(0.3),
                          mlpc.Linear(6, 3), dtype="float64", seed=2)
    X, _ = batch()
    net(X)
    twin = copy.deepcopy(net)
    assert twin is not net and twin[0] is not net[0] and twin[0]._net is twin
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(twin.state_dict()[name], value)
    np.testing.assert_array_equal(twin(X), net(X))      # the dropout stream too


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,value", [("1.running_var", -1.0), ("1.running_var", np.nan),
                                        ("1.running_mean", np.inf), ("1.running_var", 1e39)])
def test_load_state_dict_refuses_unusable_running_statistics(dtype, name, value):
    """A negative running variance made every eval output NaN; load_state_dict now refuses what
    mlpc.load refuses (1e39 only in float32, where it is inf)."""
    a = bn_net(0, dtype)
    before = a.state_dict()
    bad = bn_net(1, dtype).state_dict()
    bad[name] = np.array(bad[name], dtype=np.float64)
    bad[name][int(np.random.default_rng().integers(5))] = value
    if dtype == "float64" and value == 1e39:
        a.load_state_dict(bad)
        return
    with pytest.raises(ValueError, match=rf"{name}.*expected finite values"):
        a.load_state_dict(bad)
    for key, v in a.state_dict().items():
        np.testing.assert_array_equal(v, before[key])


@pytest.mark.parametrize("make", [
    lambda v, d: mlpc.Sequential(mlpc.Linear(3, 4), mlpc.LeakyReLU(v), dtype=d),
    lambda v, d: mlpc.Sequential(mlpc.Linear(3, 4), mlpc.ELU(v), dtype=d),
    lambda v, d: mlpc.Sequential(mlpc.Linear(3, 4), mlpc.Swish(v), dtype=d),
    lambda v, d: mlpc.Sequential(mlpc.Linear(3, 4), mlpc.PReLU(init=v), dtype=d),
    lambda v, d: mlpc.Sequential(mlpc.Linear(3, 4, init=("constant", v)), dtype=d),
    lambda v, d: mlpc.Sequential(mlpc.Linear(3, 4, init=("uniform", v)), dtype=d),
    lambda v, d: mlpc.Sequential(mlpc.Linear(3, 4), dtype=d, l2=v),
    lambda v, d: mlpc.Sequential(mlpc.LayerNorm(3, eps=v), dtype=d),
], ids=["leaky_relu", "elu", "swish", "prelu", "constant_init", "uniform_init", "l2",
        "layernorm_eps"])
def test_hyper_parameters_beyond_float32_are_refused_in_float32(make):
    """LeakyReLU(1e39) gave −inf outputs and init=("constant", 1e39) inf weights in float32
    networks; the same values are fine in float64, but not in its float32 copy."""
    big = float(np.finfo(np.float32).max) * float(np.random.default_rng().uniform(1.01, 1e6))
    with pytest.raises(ValueError, match="does not fit a float32 network"):
        make(big, "float32")
    net = make(big, "float64")
    with pytest.raises(ValueError, match="does not fit a float32 network"):
        net.copy(dtype="float32")


def test_standalone_layer_call_checks_the_dtype():
    x = np.ones((2, 3))
    np.testing.assert_array_equal(mlpc.LeakyReLU(1e39)(-x), -1e39 * x)
    with pytest.raises(ValueError, match="does not fit a float32 network"):
        mlpc.LeakyReLU(1e39)(x.astype(np.float32))
