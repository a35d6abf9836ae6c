"""Bad and unusual inputs: clear Python exceptions (never a crash), and the right answer for
array-likes, other dtypes and non-contiguous views."""
import math

import numpy as np
import pytest

import mlpc

DTYPES = ["float32", "float64"]


def small_net(dtype="float64", seed=0):
    return mlpc.Sequential(mlpc.Linear(4, 5), mlpc.Tanh(), mlpc.Linear(5, 3), dtype=dtype,
                           seed=seed)


def reference_output(net, X):
    """NumPy recomputation of small_net in float64."""
    X = np.asarray(X, dtype=np.float64)
    W1, b1, W2, b2 = (np.asarray(v, dtype=np.float64) for _, v, _ in net.named_parameters())
    return np.tanh(X @ W1.T + b1) @ W2.T + b2


X4 = np.random.default_rng(0).normal(size=(6, 4))


# ------------------------------------------------------------------------------------------
# Shapes
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4,), (2, 3, 4), (), (1, 1, 1, 4)])
def test_wrong_ndim(shape):
    net = small_net()
    with pytest.raises(ValueError, match=r"expected shape \(N, 4\), got \(" +
                       ", ".join(str(s) for s in shape)):
        net(np.ones(shape))


@pytest.mark.parametrize("width", [3, 5, 1])
def test_wrong_width_names_expected_and_given_shape(width):
    net = small_net()
    with pytest.raises(ValueError) as info:
        net(np.ones((7, width)))
    msg = str(info.value)
    assert "(N, 4)" in msg and f"(7, {width})" in msg


def test_empty_batch():
    net = small_net()
    with pytest.raises(ValueError, match="empty"):
        net(np.ones((0, 4)))
    lazy = mlpc.Sequential(mlpc.ReLU())
    with pytest.raises(ValueError):
        lazy(np.ones((0, 4)))
    with pytest.raises(ValueError):
        lazy(np.ones((3, 0)))
    with pytest.raises(ValueError):
        mlpc.SoftmaxCrossEntropy()(np.ones((0, 3)), np.zeros(0, dtype=int))
    # the network still works afterwards
    np.testing.assert_allclose(net(X4), reference_output(net, X4), rtol=1e-13)


def test_wrong_output_gradient_and_target_shapes():
    net = small_net()
    net(X4)
    with pytest.raises(ValueError, match=r"\(6, 3\).*\(6, 4\)"):
        net.backward(np.ones((6, 4)))
    with pytest.raises(ValueError, match=r"\(5, 3\)"):
        net.backward(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"\(6,\)"):
        net.loss(mlpc.SoftmaxCrossEntropy(), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match=r"\(6, 3\)"):
        net.loss(mlpc.BinaryCrossEntropy(), np.zeros((6, 2)))
    with pytest.raises(ValueError, match=r"\(6, 3\)"):
        net.loss(mlpc.MSELoss(), np.zeros(6))
    with pytest.raises(ValueError):
        mlpc.MSELoss()(np.zeros((4, 2)), np.zeros((2, 4)))
    with pytest.raises(ValueError):
        mlpc.softmax(np.zeros(()))      # a vector is one row of scores; a 0-d value has no classes


def test_single_output_accepts_flat_targets():
    net = mlpc.Sequential(mlpc.Linear(4, 1), dtype="float64", seed=0)
    y = np.array([0, 1, 1, 0, 1, 0], dtype=float)
    a = net.cost(X4, y, mlpc.BinaryCrossEntropy())
    b = net.cost(X4, y[:, None], mlpc.BinaryCrossEntropy())
    assert a == b


# ------------------------------------------------------------------------------------------
# Types
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    np.array([["a", "b", "c", "d"]]),
    [["a", "b", "c", "d"]],
    np.array([[object(), 1, 2, 3]], dtype=object),
    np.array([[1, 2, 3, 4]], dtype=object),           # object arrays are refused, even of numbers
    np.array([[1 + 2j, 0, 0, 0]]),
    None,
    {"a": 1},
    b"\x00\x01\x02\x03",
], ids=["str-array", "str-list", "object", "object-numbers", "complex", "none", "dict", "bytes"])
def test_non_numeric_inputs_raise_type_error(bad):
    net = small_net()
    with pytest.raises(TypeError):
        net(bad)
    net(X4)
    with pytest.raises(TypeError):
        net.backward(np.full((6, 3), "x"))
    with pytest.raises(TypeError):
        mlpc.Tanh().function(np.array(["1.0"]))


def test_non_numeric_targets_raise_type_error():
    net = small_net()
    net(X4)
    with pytest.raises(TypeError):
        net.loss(mlpc.SoftmaxCrossEntropy(), np.array(list("abcdef")))
    with pytest.raises(TypeError, match="integers"):
        net.loss(mlpc.SoftmaxCrossEntropy(), np.array([0j, 1, 2, 0, 1, 2]))
    with pytest.raises(ValueError, match="whole numbers"):   # whole-number floats are labels
        net.loss(mlpc.SoftmaxCrossEntropy(), np.array([0.0, 1.0, 2.5, 0.0, 1.0, 2.0]))
    with pytest.raises(TypeError):
        net.loss(mlpc.MSELoss(), np.full((6, 3), "x"))
    with pytest.raises(TypeError):
        mlpc.MSELoss()(np.array([["a"]]), np.zeros((1, 1)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_lists_and_other_dtypes_are_accepted(dtype):
    net = small_net(dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-13, atol=1e-14)
    expected = net(X4.astype(dtype))
    np.testing.assert_array_equal(net(X4.tolist()), expected)     # list of lists
    np.testing.assert_array_equal(net(tuple(map(tuple, X4))), expected)
    # float64 into float32 and back, ints and bools: converted once to the network's dtype
    other = X4.astype("float32" if dtype == "float64" else "float64")
    np.testing.assert_array_equal(net(other), net(other.astype(dtype)))
    ints = np.arange(24).reshape(6, 4) - 12
    np.testing.assert_allclose(net(ints), reference_output(net, ints), **tol)
    np.testing.assert_allclose(net(ints.tolist()), reference_output(net, ints), **tol)
    bools = ints > 0
    np.testing.assert_allclose(net(bools), reference_output(net, bools), **tol)
    # targets as lists; int labels of any integer dtype; a list dY
    y = [0, 2, 1, 1, 0, 2]
    net(X4)
    c1 = net.loss(mlpc.SoftmaxCrossEntropy(), y)
    c2 = net.loss(mlpc.SoftmaxCrossEntropy(), np.array(y, dtype=np.uint8))
    assert c1 == c2
    dx1 = net.backward(np.ones((6, 3)).tolist())
    dx2 = net.backward(np.ones((6, 3), dtype=dtype))
    np.testing.assert_array_equal(dx1, dx2)
    assert mlpc.MSELoss()([[1.0, 2.0]], [[0.0, 0.0]]) == 2.5


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_and_transposed_views(dtype):
    net = small_net(dtype, seed=3)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-13, atol=1e-14)
    big = np.random.default_rng(1).normal(size=(12, 9)).astype(dtype)
    views = {
        "strided rows and columns": big[::2, 1::2],          # (6, 4)
        "transposed": np.ascontiguousarray(big[:4, :6]).T,     # (6, 4), F-ordered
        "fortran": np.asfortranarray(big[:6, :4]),
        "negative strides": big[5::-1, 3::-1],
        "broadcast": np.broadcast_to(big[0, :4], (6, 4)),
    }
    for name, X in views.items():
        assert not X.flags.c_contiguous, name
        np.testing.assert_allclose(net(X), reference_output(net, X), **tol, err_msg=name)
        np.testing.assert_array_equal(net(X), net(np.ascontiguousarray(X)), err_msg=name)
    # the converted input stays valid for backward: dW = dYᵀ X of the view
    X = views["transposed"]
    net(X)
    dy = np.ones((6, 3), dtype=dtype)[:, ::-1]
    dy_strided = np.ones((6, 6), dtype=dtype)[:, ::2]
    net.zero_grad()
    net.backward(dy_strided)
    g1 = np.array(next(net.named_parameters())[2])
    net.zero_grad()
    net.backward(np.ascontiguousarray(dy))
    np.testing.assert_array_equal(g1, next(net.named_parameters())[2])
    # targets and labels as views
    labels = np.array([0, 9, 2, 9, 1, 9, 2, 9, 0, 9, 1, 9])[::2]
    net(X)
    assert net.loss(mlpc.SoftmaxCrossEntropy(), labels) == \
        net.loss(mlpc.SoftmaxCrossEntropy(), np.ascontiguousarray(labels))
    s = big[:6, :3]
    assert mlpc.MSELoss()(s.T.T, big[6:, 6:].T.T) == mlpc.MSELoss()(s.copy(), big[6:, 6:].copy())
    f, df = mlpc.Tanh().function(big.T)
    np.testing.assert_allclose(f, np.tanh(big.T), rtol=1e-6)


def test_input_array_is_not_modified():
    net = small_net()
    X = X4.copy()
    net(X)
    net.backward(np.ones((6, 3)))
    np.testing.assert_array_equal(X, X4)


# ------------------------------------------------------------------------------------------
# Sizes
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dims", [(10**12, 10**6), (10**9, 10**9), (2**31, 2), (3, 2**40)])
def test_huge_declared_sizes_raise_memory_error(dims):
    with pytest.raises(MemoryError):
        mlpc.Sequential(mlpc.Linear(*dims))
    # nothing was left half-built: a normal network still works
    net = small_net()
    np.testing.assert_allclose(net(X4), reference_output(net, X4), rtol=1e-13)


# ------------------------------------------------------------------------------------------
# Labels and call order
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("labels", [[0, 1, 2, 3, 0, 1], [0, 1, -1, 2, 0, 1],
                                    [0, 1, 2, 0, 1, 10**12]])
def test_labels_out_of_range(labels):
    net = small_net()
    before = {n: np.array(v) for n, v, _ in net.named_parameters()}
    net(X4)
    with pytest.raises(ValueError, match="label"):
        net.loss(mlpc.SoftmaxCrossEntropy(), labels)
    with pytest.raises(ValueError, match="label"):
        mlpc.SoftmaxCrossEntropy()(np.zeros((6, 3)), labels)
    with pytest.raises(ValueError, match="label"):
        net.cost(X4, labels, mlpc.SoftmaxCrossEntropy())
    opt = mlpc.SGD(net, lr=0.1)
    with pytest.raises(ValueError, match="label"):
        net.train_step(X4, labels, mlpc.SoftmaxCrossEntropy(), opt)
    for n, v, _ in net.named_parameters():        # no update happened
        np.testing.assert_array_equal(v, before[n])
    # labels are only for softmax cross-entropy
    net(X4)
    with pytest.raises(ValueError):
        net.loss(mlpc.BinaryCrossEntropy(), np.array([0, 1, 2, 0, 1, 2]))


def test_label_and_target_errors_name_the_value():
    net = small_net()
    with pytest.raises(ValueError, match=r"class labels must be in \[0, 3\) .* got 7 at row 4"):
        net.cost(X4, [0, 1, 2, 0, 7, 1], mlpc.SoftmaxCrossEntropy())
    one = mlpc.Sequential(mlpc.Linear(4, 1), seed=0)
    for bad in (-1.0, 1.5, np.nan):
        with pytest.raises(ValueError, match=r"binary cross-entropy targets must be in \[0, 1\]"):
            one.cost(X4, np.full(6, bad), mlpc.BinaryCrossEntropy())
    rows = np.full((6, 3), 1 / 3)
    assert np.isfinite(net.cost(X4, rows, mlpc.SoftmaxCrossEntropy()))     # a distribution
    rows[2] = [0.5, 0.5, 0.5]
    with pytest.raises(ValueError, match=r"probability rows must sum to 1 \(within 1%\), row 2 "
                                         r"sums to 1.5"):
        net.cost(X4, rows, mlpc.SoftmaxCrossEntropy())
    soft = mlpc.softmax(np.random.default_rng(1).standard_normal((6, 3))).astype(np.float16)
    assert np.isfinite(net.cost(X4, soft, mlpc.SoftmaxCrossEntropy()))   # rounded rows pass
    rows[2] = [1.5, -0.5, 0.0]
    with pytest.raises(ValueError, match=r"probability-row targets must be in \[0, 1\]"):
        mlpc.SoftmaxCrossEntropy()(np.zeros((6, 3)), rows)
    assert np.isfinite(net.cost(X4, 5 * np.ones((6, 3)), mlpc.MSELoss()))   # any real target


def test_a_refused_train_step_changes_nothing():
    """A bad label or a batch of one into batch normalization is refused before the gradients
    are zeroed, the running statistics move or a dropout mask is drawn."""
    net = mlpc.Sequential(mlpc.Linear(4, 5), mlpc.Dropout(0.5, seed=1), mlpc.BatchNorm(5),
                          mlpc.ReLU(), mlpc.Linear(5, 3), seed=0)
    loss, opt = mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1)
    net.train_step(X4, [0, 1, 2, 0, 1, 2], loss, opt)
    state = net.state_dict()
    grads = [np.array(g) for _, _, g in net.named_parameters()]
    rng = net._core.rng_state(net[1]._index)
    for X, y, error in ((X4, [0, 1, 2, 0, 1, 9], "class labels"), (X4[:1], [0], "more than one")):
        with pytest.raises(ValueError, match=error):
            net.train_step(X, y, loss, opt)
        with pytest.raises(ValueError, match=error):
            net.cost(X, y, loss)
        for k, v in net.state_dict().items():
            np.testing.assert_array_equal(v, state[k], err_msg=k)
        for g, (_, _, now) in zip(grads, net.named_parameters()):
            np.testing.assert_array_equal(now, g)
        assert net._core.rng_state(net[1]._index) == rng


def test_backward_without_a_gradient_needs_the_loss_of_this_batch():
    """backward() starts from the loss gradient; after a new forward pass (or a backward from a
    given dY) there is none for this batch, and using the old one would be a wrong answer."""
    net, loss = small_net(), mlpc.MSELoss()
    net(X4)
    with pytest.raises(RuntimeError, match="needs the loss of the current batch"):
        net.backward()
    net.cost(X4, np.zeros((6, 3)), loss)
    net(X4[:3])
    with pytest.raises(RuntimeError, match="needs the loss of the current batch"):
        net.backward()
    net.cost(X4[:3], np.zeros((3, 3)), loss)
    dx = net.backward()
    np.testing.assert_array_equal(net.backward(), dx)      # the same loss gradient again
    net.backward(np.ones((3, 3)))
    with pytest.raises(RuntimeError, match="needs the loss"):
        net.backward()


def test_one_network_from_two_threads_raises_instead_of_crashing():
    """Run in a child process: a crash would otherwise take the test run down with it."""
    import subprocess
    import sys
    code = """
import threading, numpy as np, mlpc
net = mlpc.Sequential(mlpc.Linear(64, 128), mlpc.ReLU(), mlpc.Linear(128, 10), seed=0)
opt, loss = mlpc.SGD(net, 0.01), mlpc.SoftmaxCrossEntropy()
refused = []
def work(k):
    r = np.random.default_rng(k)
    for i in range(200):
        n = int(r.integers(1, 1500))
        try:
            if i % 2: net(r.standard_normal((n, 64)))
            else: net.train_step(r.standard_normal((n, 64)), r.integers(0, 10, n), loss, opt)
        except RuntimeError as e:
            assert "in use by another thread" in str(e), e
            refused.append(1)
ts = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
[t.start() for t in ts]; [t.join() for t in ts]
out = net(np.ones((3, 64)))
assert np.isfinite(out).all()
print("ok", len(refused))
"""
    import os
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0 and r.stdout.startswith("ok"), (r.returncode, r.stderr[-2000:])


def test_backward_and_loss_before_forward():
    net = small_net()
    with pytest.raises(RuntimeError, match="forward"):
        net.backward(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="forward"):
        net.backward()
    with pytest.raises(RuntimeError, match="forward"):
        net.loss(mlpc.MSELoss(), np.zeros((2, 3)))
    # a failed forward (batch norm with one example) leaves no pass to backpropagate
    bn = mlpc.Sequential(mlpc.Linear(4, 3), mlpc.BatchNorm(3))
    with pytest.raises(ValueError):
        bn(np.ones((1, 4)))
    with pytest.raises(RuntimeError):
        bn.backward(np.ones((1, 3)))


def test_nan_and_inf_inputs_are_computed_through():
    net = small_net()
    X = X4.copy()
    X[1, 2] = np.nan
    X[3, 0] = np.inf
    out = net(X)
    assert np.all(np.isnan(out[1]))
    assert np.all(np.isfinite(out[[0, 2, 4, 5]]))
    np.testing.assert_allclose(out[[0, 2, 4, 5]], reference_output(net, X4[[0, 2, 4, 5]]),
                               rtol=1e-13)
    dx = net.backward(np.ones((6, 3)))
    assert dx.shape == (6, 4)
    cost = net.loss(mlpc.MSELoss(), np.zeros((6, 3)))
    assert math.isnan(cost)
    f, df = mlpc.Sigmoid().function(np.array([np.nan, np.inf, -np.inf]))
    assert math.isnan(f[0]) and f[1] == 1.0 and f[2] == 0.0


# ------------------------------------------------------------------------------------------
# Layer arguments
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: mlpc.Linear(-1, 3), lambda: mlpc.Linear(3, 0), lambda: mlpc.Linear(2.5, 3),
    lambda: mlpc.Linear("3", 3), lambda: mlpc.Linear(True, 3), lambda: mlpc.Linear(3, -7),
    lambda: mlpc.Dropout(1), lambda: mlpc.Dropout(1.0), lambda: mlpc.Dropout(-0.1),
    lambda: mlpc.Dropout(1.5), lambda: mlpc.Dropout(float("nan")),
    lambda: mlpc.Linear(3, 3, init="glorot"), lambda: mlpc.Linear(3, 3, init="relu"),
    lambda: mlpc.Linear(3, 3, init=("orthogonal", float("inf"))),
    lambda: mlpc.GLU("softmax"), lambda: mlpc.GLU("Sigmoid"), lambda: mlpc.GELU("exact"),
    lambda: mlpc.PReLU(0), lambda: mlpc.PReLU(2, init=float("nan")),
    lambda: mlpc.ELU(float("inf")), lambda: mlpc.Swish(float("nan")),
    lambda: mlpc.LeakyReLU(float("-inf")),
    lambda: mlpc.BatchNorm(0), lambda: mlpc.BatchNorm(3, eps=-1e-5),
    lambda: mlpc.BatchNorm(3, momentum=1.5), lambda: mlpc.BatchNorm(3, momentum=-0.1),
    lambda: mlpc.LayerNorm(-2), lambda: mlpc.LayerNorm(3, eps=float("nan")),
    lambda: mlpc.Residual(),
    lambda: mlpc.Sequential(),
    lambda: mlpc.Sequential(mlpc.Linear(3, 4), mlpc.Linear(5, 2)),
    lambda: mlpc.Sequential(mlpc.Linear(3, 4), mlpc.BatchNorm(5)),
    lambda: mlpc.Sequential(mlpc.Linear(3, 4), mlpc.PReLU(3)),
    lambda: mlpc.Sequential(mlpc.Linear(3, 5), mlpc.GLU()),
], ids=lambda f: None)
def test_bad_layer_arguments_raise_value_error(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize("make", [
    lambda: mlpc.LeakyReLU("steep"), lambda: mlpc.Dropout("half"), lambda: mlpc.ELU(None),
    lambda: mlpc.Sequential(mlpc.Linear(3, 3), "relu"), lambda: mlpc.Residual(np.tanh),
    lambda: mlpc.Sequential(mlpc.Linear(3, 3), l2="big"),
])
def test_bad_argument_types_raise_type_error(make):
    with pytest.raises(TypeError):
        make()


def test_unknown_activation_name():
    with pytest.raises(KeyError):
        mlpc.ACTIVATIONS["relu6"]
    with pytest.raises(ValueError, match="softmax"):
        mlpc.GLU(act="softmax")


def test_residual_width_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as info:
        mlpc.Sequential(mlpc.Linear(3, 3), mlpc.Residual(mlpc.Linear(3, 4), mlpc.ReLU()))
    msg = str(info.value)
    assert "(N, 3)" in msg and "(N, 4)" in msg
    with pytest.raises(ValueError) as info:        # lazily built: at the first forward
        mlpc.Sequential(mlpc.Residual(mlpc.GLU()))(np.ones((2, 6)))
    msg = str(info.value)
    assert "(N, 6)" in msg and "(N, 3)" in msg


@pytest.mark.parametrize("dtype", ["float16", "int32", "float", "foo", "complex128", "f2", 3])
def test_wrong_dtype_names(dtype):
    if dtype == "float":               # numpy's "float" is float64: accepted
        assert mlpc.Sequential(mlpc.Linear(2, 2), dtype=dtype).dtype == "float64"
        return
    with pytest.raises(ValueError, match="float32 or float64"):
        mlpc.Sequential(mlpc.Linear(2, 2), dtype=dtype)


def test_dtype_spellings_accepted():
    for spelling, name in [("float32", "float32"), (np.float32, "float32"), ("f4", "float32"),
                           (np.dtype("float64"), "float64"), ("double", "float64")]:
        assert mlpc.Sequential(mlpc.Linear(2, 2), dtype=spelling).dtype == name


def test_bad_state_dict_values():
    net = small_net()
    state = net.state_dict()
    state["0.bias"] = np.array(["a"] * 5)
    with pytest.raises(TypeError):
        net.load_state_dict(state)


def test_bad_optimizer_arguments():
    net = small_net()
    for make in [lambda: mlpc.SGD(net, lr=-0.1), lambda: mlpc.SGD(net, lr=float("nan")),
                 lambda: mlpc.SGD(net, lr=0.1, nesterov=True),
                 lambda: mlpc.Adam(net, betas=(0.9, 1.0)), lambda: mlpc.RMSProp(net, alpha=1.0)]:
        with pytest.raises(ValueError):
            make()
    with pytest.raises(TypeError):
        mlpc.SGD(object(), lr=0.1)


def test_training_mode_must_be_a_bool():
    net = small_net()
    for mode in ("no", "", None, 0.5, 2, -1, [True], np.array([1, 0])):
        with pytest.raises(TypeError, match="training mode must be True or False"):
            net.train(mode)
        with pytest.raises(TypeError, match="training mode must be True or False"):
            net.training = mode
        assert net.training is True                         # unchanged
    for mode, expected in ((False, False), (1, True), (0, False), (np.bool_(False), False),
                           (np.int64(1), True), (True, True)):
        assert net.train(mode).training is expected
        net.training = not expected
        net.training = mode
        assert net.training is expected


@pytest.mark.parametrize("make", [
    lambda seed: mlpc.Dropout(0.5, seed=seed), lambda seed: mlpc.Linear(3, 2, seed=seed),
    lambda seed: mlpc.Sequential(mlpc.Linear(3, 2), seed=seed),
    lambda seed: mlpc.Sequential(mlpc.ReLU(), seed=seed), lambda seed: mlpc.manual_seed(seed),
], ids=["Dropout", "Linear", "Sequential", "lazy-Sequential", "manual_seed"])
def test_seeds_must_be_ints_at_least_zero(make):
    for seed in (1.5, "a", True, [1, 2], 3.0):
        with pytest.raises(TypeError, match=r"seed must be an int >= 0 or None, got "):
            make(seed)
    with pytest.raises(ValueError, match=r"seed must be an int >= 0 or None, got -1"):
        make(-1)
    for seed in (None, 0, 7, np.int64(7), np.uint8(7), 2**70):
        make(seed)
    mlpc.manual_seed(None)


def test_seeds_given_as_numpy_ints_act_like_ints():
    a = mlpc.Sequential(mlpc.Linear(3, 4, seed=np.int64(5)), mlpc.Dropout(0.5, seed=np.int32(6)),
                        seed=np.uint16(7))
    b = mlpc.Sequential(mlpc.Linear(3, 4, seed=5), mlpc.Dropout(0.5, seed=6), seed=7)
    np.testing.assert_array_equal(a(np.ones((4, 3))), b(np.ones((4, 3))))


def test_set_num_threads_takes_an_int_at_least_one():
    before = mlpc.get_num_threads()
    try:
        for n in (2.7, "x", None, True, 2.0):
            with pytest.raises(TypeError, match=r"set_num_threads takes an int >= 1, got"):
                mlpc.set_num_threads(n)
        for n in (0, -3):
            with pytest.raises(ValueError, match=f"set_num_threads takes an int >= 1, got {n}"):
                mlpc.set_num_threads(n)
        assert mlpc.get_num_threads() == before
        mlpc.set_num_threads(np.int32(2))
        assert mlpc.get_num_threads() == 2
        mlpc.set_num_threads(2**40)           # more than the pool takes: capped, not an error
        assert mlpc.get_num_threads() == 256
    finally:
        mlpc.set_num_threads(before)


@pytest.mark.parametrize("value", ["abc", "0", "2.5", ""])
def test_a_bad_mlpc_num_threads_is_named_and_ignored(value):
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), MLPC_NUM_THREADS=value)
    env.pop("OPENBLAS_NUM_THREADS", None)
    r = subprocess.run([sys.executable, "-c", "import mlpc; print(mlpc.get_num_threads())"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == str(len(os.sched_getaffinity(0)))   # the default
    assert f"MLPC_NUM_THREADS must be an int >= 1, got {value!r}" in r.stderr


def test_an_unbuilt_network_says_it_is_not_built():
    net = mlpc.Sequential(mlpc.ReLU(), mlpc.PReLU())
    for call in (lambda: list(net.named_parameters()), net.state_dict, net.parameters,
                 lambda: list(net.named_buffers())):
        with pytest.raises(RuntimeError, match="the network is not built yet: its input width "
                                               "is unknown until the first forward pass"):
            call()
    net(np.ones((2, 3)))
    assert [name for name, _, _ in net.named_parameters()] == ["1.weight"]


@pytest.mark.parametrize("where", ["0.weight", "0.bias", "1.running_var"])
def test_a_copy_to_float32_refuses_values_float32_cannot_hold(where):
    """A finite float64 value beyond FLT_MAX would become inf in the copy: refused, naming the
    tensor; infinities already there, and values that fit, copy as they are."""
    rng = np.random.default_rng()
    net = mlpc.Sequential(mlpc.Linear(3, 4), mlpc.BatchNorm(4), dtype="float64",
                          seed=int(rng.integers(1 << 30)))
    net(rng.standard_normal((5, 3)))
    layer, name = where.split(".")
    target = getattr(net[int(layer)], name)
    target.flat[int(rng.integers(target.size))] = 10.0 ** rng.uniform(39, 308)
    with pytest.raises(ValueError, match=where.replace(".", r"\.")):
        net.copy(dtype="float32")
    target[...] = np.float32(3e38)                 # fits
    target.flat[0] = np.inf                        # already infinite
    top = float(np.finfo(np.float32).max)
    target.flat[-1] = top * (1 + 1e-8)             # beyond FLT_MAX, but rounds to it, not to inf
    copy = net.copy(dtype="float32")
    assert np.isinf(getattr(copy[int(layer)], name).flat[0])
    assert getattr(copy[int(layer)], name).flat[-1] == np.float32(top)
