"""pickle.dumps(net) and pickle.dumps(optimizer) through the model file format, in memory.

The references are the original objects: after a round trip every parameter, buffer, generator
state and mode must be bit-identical, and the copy must go on computing (and training) exactly as
the original does from there on."""
import io
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import mlpc


def random_net(rng):
    """A fresh random architecture with every kind of state: parameters, running statistics,
    a dropout stream, a residual block and a nested Sequential."""
    width = int(rng.integers(3, 9))
    dtype = str(rng.choice(["float32", "float64"]))
    act = [mlpc.ReLU, mlpc.Tanh, mlpc.GELU, mlpc.SiLU][int(rng.integers(4))]
    return mlpc.Sequential(
        mlpc.Linear(5, width), mlpc.BatchNorm(width), act(), mlpc.Dropout(float(rng.uniform(0.1, 0.5))),
        mlpc.Residual(mlpc.Linear(width, width), mlpc.LayerNorm(width)),
        mlpc.Sequential(mlpc.Linear(width, width), mlpc.PReLU(width)),
        mlpc.Linear(width, 3), dtype=dtype, l2=float(rng.uniform(0, 0.01)),
        seed=int(rng.integers(2**32)))


def train(net, opt, rng, steps=3):
    for _ in range(steps):
        X = rng.normal(size=(8, 5))
        net.train_step(X, rng.integers(0, 3, 8), mlpc.SoftmaxCrossEntropy(), opt)


def assert_same_network(a, b):
    assert type(b) is mlpc.Sequential and b is not a
    assert (b.dtype, b.l2, b.training, repr(b)) == (a.dtype, a.l2, a.training, repr(a))
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        assert sb[name].dtype == sa[name].dtype
        np.testing.assert_array_equal(sb[name], sa[name], err_msg=name)


@pytest.mark.parametrize("trial", range(3))
def test_a_network_round_trips_bit_exactly_and_computes_on_the_same(trial):
    rng = np.random.default_rng()
    net = random_net(rng)
    train(net, mlpc.SGD(net, lr=0.05, momentum=0.9), rng)
    net.train(bool(rng.integers(2)))
    twin = pickle.loads(pickle.dumps(net, protocol=int(rng.integers(2, pickle.HIGHEST_PROTOCOL + 1))))
    assert_same_network(net, twin)
    X = rng.normal(size=(6, 5))
    np.testing.assert_array_equal(twin(X), net(X))     # dropout masks continue the same stream
    net.eval(), twin.eval()
    np.testing.assert_array_equal(twin(X), net(X))     # running statistics


def test_an_optimizer_round_trips_with_its_network_and_trains_on_the_same():
    rng = np.random.default_rng()
    net = random_net(rng)
    opt = mlpc.Adam(net, lr=1e-2, weight_decay=1e-3, clip_norm=2.0,
                    schedule=mlpc.schedules.cosine(1e-2, 50))
    train(net, opt, rng)
    net2, opt2 = pickle.loads(pickle.dumps((net, opt)))
    assert opt2.net is net2 and type(opt2) is mlpc.Adam
    assert opt2.state_dict().keys() == opt.state_dict().keys()
    for key, value in opt.state_dict().items():
        np.testing.assert_array_equal(opt2.state_dict()[key], value, err_msg=key)
    assert opt2.schedule == opt.schedule
    seed = int(rng.integers(2**32))
    train(net, opt, np.random.default_rng(seed))
    train(net2, opt2, np.random.default_rng(seed))
    assert_same_network(net, net2)
    # an optimizer alone brings its network along
    alone = pickle.loads(pickle.dumps(opt))
    assert_same_network(net, alone.net)


def test_a_block_pickles_alone_and_an_unbuilt_network_says_why_not():
    net = mlpc.Sequential(mlpc.Linear(4, 4), mlpc.Sequential(mlpc.Linear(4, 2), mlpc.Tanh()),
                          dtype="float64")
    block = pickle.loads(pickle.dumps(net[1]))
    X = np.random.default_rng().normal(size=(3, 4))
    np.testing.assert_array_equal(block(X), net[1](X))
    with pytest.raises(TypeError, match="unbuilt.*forward pass"):
        pickle.dumps(mlpc.Sequential(mlpc.ReLU()))


def test_a_damaged_pickle_is_a_model_file_error_not_a_broken_network():
    net = mlpc.Sequential(mlpc.Linear(4, 3))
    reconstruct, (data,) = net.__reduce_ex__(4)
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0xFF
    with pytest.raises(mlpc.ModelFileError):
        reconstruct(bytes(damaged))
    with pytest.raises(mlpc.ModelFileError):
        mlpc.load(io.BytesIO(b"not a zip"))


def _output_and_train(net, X):
    """Runs in a worker process: the network arrived pickled and goes back pickled."""
    out = net(X)
    opt = mlpc.SGD(net, lr=0.1)
    net.train_step(X, np.zeros(len(X), dtype=np.int64), mlpc.SoftmaxCrossEntropy(), opt)
    return out, net


def test_multiprocessing_ships_networks_both_ways():
    rng = np.random.default_rng()
    nets = [mlpc.Sequential(mlpc.Linear(5, 4), mlpc.ReLU(), mlpc.Linear(4, 3),
                            seed=int(rng.integers(2**32))) for _ in range(2)]
    X = rng.normal(size=(4, 5))
    expected = [net(X) for net in nets]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        results = list(pool.map(_output_and_train, nets, [X, X]))
    for net, want, (out, trained) in zip(nets, expected, results):
        np.testing.assert_array_equal(out, want)
        _output_and_train(net, X)                       # the same step here
        assert_same_network(net, trained)
