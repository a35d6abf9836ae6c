"""A seeded, time-bounded fuzz test of the public API (see tests/fuzzing.py for the seed and the
budget). Each case builds a random network (layers, widths, dtype, hyper-parameters) and makes
random calls, valid and malformed. Oracles:

- a refused call raises only a documented exception (TypeError, ValueError — which includes
  KeyError-like ModelFileError — KeyError for state-dict names, MemoryError, and RuntimeError
  only where documented: a network not built yet, backward or loss without a forward pass);
- a refused call changes nothing: parameters, gradients, running statistics, dropout streams,
  the mode, and the optimizer's settings, state and step count compare equal before and after;
- an accepted forward pass matches a NumPy float64 recomputation from the layers' values.
"""
import math
import os
import sys

import numpy as np
import pytest

import mlpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzing  # noqa: E402
from fuzzing import number, random_net  # noqa: E402
import reference as ref  # noqa: E402

REFUSALS = (TypeError, ValueError, KeyError, MemoryError)

# numbers and non-numbers a hyper-parameter may be given
JUNK = [None, "0.1", "", True, False, [0.1], (0.1, 0.2), {}, object(), 1j, b"1", np.array([1.0]),
        float("nan"), float("inf"), -float("inf"), 10 ** 400, -(10 ** 400), 2 ** 64, -1, -1e-3,
        0, 0.0, 1e-46, 1e-300, 1e39, 1e308, 0.5, 0.999, 1.0, 1.5, 3, np.float32(0.1),
        np.int64(2), np.float64("nan"), np.array(0.25)]


def junk(r):
    return JUNK[int(r.integers(len(JUNK)))]


# -- the NumPy recomputation -----------------------------------------------------------------------
ACT = {mlpc.Identity: "identity", mlpc.Sigmoid: "sigmoid", mlpc.Tanh: "tanh", mlpc.ReLU: "relu",
       mlpc.SELU: "selu", mlpc.Softplus: "softplus", mlpc.SiLU: "silu",
       mlpc.Softsign: "softsign", mlpc.Step: "step"}


def f64(a):
    return np.asarray(a, dtype=np.float64)


def reference_forward(layers, x, training, seen=None):
    """The network's output in float64; `seen` (a list) collects each layer's largest value."""
    seen = [] if seen is None else seen
    for layer in layers:
        seen.append(float(np.abs(x).max(initial=0.0)))
        t = type(layer)
        if t is mlpc.Linear:
            x = x @ f64(layer.weight).T + (f64(layer.bias) if layer.has_bias else 0.0)
        elif t in ACT:
            x = ref.activation_forward(ACT[t], x)
        elif t is mlpc.LeakyReLU:
            x = ref.leaky_relu(x, layer.negative_slope)
        elif t is mlpc.ELU:
            x = ref.elu(x, layer.alpha)
        elif t is mlpc.GELU:
            x = ref.gelu(x) if layer.approximate == "none" else ref.gelu_tanh(x)
        elif t is mlpc.Swish:
            x = ref.swish(x, float(layer.beta[0]) if layer.learnable else layer.initial_beta)
        elif t is mlpc.PReLU:
            x = ref.prelu_forward(x, f64(layer.weight))
        elif isinstance(layer, mlpc.GLU):
            x = ref.gated_forward(x, layer.act)
        elif t is mlpc.BatchNorm:
            g, b = (f64(layer.weight), f64(layer.bias)) if layer.affine else (None, None)
            x = ref.batchnorm_forward(x, g, b, layer.eps)[0] if training else \
                ref.batchnorm_eval(x, f64(layer.running_mean), f64(layer.running_var), g, b,
                                   layer.eps)
        elif t is mlpc.LayerNorm:
            g, b = (f64(layer.weight), f64(layer.bias)) if layer.affine else (None, None)
            x = ref.layernorm_forward(x, g, b, layer.eps)[0]
        elif t is mlpc.Dropout:
            x = x * f64(layer.mask) if training and layer.p > 0 else x
        elif t is mlpc.Residual:
            x = x + reference_forward(layer.layers, x, training, seen)
        elif t is mlpc.Sequential:
            x = reference_forward(layer.layers, x, training, seen)
        else:
            raise AssertionError(f"no reference for {t.__name__}")
    return x


def has(net, cls):
    return any(isinstance(layer, cls) for _, layer in net.named_layers())


def check_forward(net, x, training, eval_stats):
    """Forward x (in the mode) and compare with the recomputation. eval_stats: the running
    statistics as they were before the pass (eval mode uses them; training mode moves them)."""
    y = net(x)
    xd = f64(np.asarray(x).astype(net.dtype))
    seen = []
    with np.errstate(all="ignore"):   # huge parameters after a huge step overflow here too
        expected = reference_forward(net.layers, xd, training, seen)
    assert y.shape == expected.shape and y.dtype == np.dtype(net.dtype)
    if not all(np.isfinite(v).all() for v in net.state_dict().values()):
        return   # NaN parameters (a step on NaN targets): IEEE rules, Step(NaN) is NaN
    if max(seen, default=0.0) > math.sqrt(np.finfo(net.dtype).max):
        return   # values whose squares overflow the dtype (a huge step): inf and NaN are right
    # finite in the dtype: an output near or past its largest value (a float32 copy of float64
    # weights of 1e18) overflows there, rightly, though float64 holds it
    finite = np.abs(expected) < float(np.finfo(net.dtype).max) / 2
    assert (np.isfinite(y) == finite).all() or not finite.all(), "non-finite outputs"
    scale = 1.0 + np.abs(expected[finite]).max(initial=0.0)
    tol = 1e-7 if net.dtype == "float64" else 2e-2
    err = np.abs(y[finite] - expected[finite]).max(initial=0.0)
    assert err <= tol * scale, f"forward differs from NumPy by {err:.3g} (scale {scale:.3g})"


# -- the state a refused call must leave ----------------------------------------------------------
def snapshot(net, opt):
    core = net._ensure_core()
    state = {k: np.array(v) for k, v in net.state_dict().items()}
    state.update({"grad:" + n: np.array(g) for n, _, g in net.named_parameters()})
    state["training"] = net.training
    state["l2"] = net.l2
    state["rng"] = [tuple(core.rng_state(layer._index)) for _, layer in net.named_layers()
                    if isinstance(layer, mlpc.Dropout)]
    if opt is not None:
        d = opt.state_dict()
        state.update({"opt:" + k: np.array(v) for k, v in d.items()})
        state["schedule"] = opt.schedule
    return state


def same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray):
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"a refused call changed {k}")
        else:
            assert a[k] == b[k] or a[k] is b[k], f"a refused call changed {k}"


def refused(net, opt, call, allowed=REFUSALS):
    """Run call(); if it raises, the exception must be allowed and nothing may have changed.
    Returns whether it was refused."""
    before = snapshot(net, opt)
    try:
        call()
    except allowed:
        same(before, snapshot(net, opt))
        return True
    return False


# -- random calls ----------------------------------------------------------------------------------
def bad_input(r, width, dtype):
    n = int(r.integers(1, 5))
    return [np.zeros((n, width + 1)), np.zeros((n,)), np.zeros((0, width)), np.zeros((n, 0)),
            np.zeros((1, n, width)), [["a"] * width] * n, None, "x", np.zeros((n, width), complex),
            np.full((n, width), None, dtype=object), np.zeros((n, width), "U3"),
            np.zeros((n, width), "datetime64[s]"), [[1.0] * width, [1.0]], 3.0,
            np.zeros((n, width), np.float16)[:, ::-1]][int(r.integers(15))]


def bad_targets(r, n, k):
    return [np.full(n, k), np.full(n, -1), np.zeros(n + 1, np.int64), np.zeros(n, float) + 0.5,
            np.zeros((n, k + 1)), np.zeros((n, k)) + np.nan, None, "y", np.zeros((n, k), complex),
            [0] * (n + 2), np.zeros((n, 1, k)), np.array([2 ** 63 - 1] * n),
            np.zeros(n, "U1")][int(r.integers(13))]


def make_optimizer(r, net, junk_args):
    cls = [mlpc.SGD, mlpc.Adam, mlpc.AdamW, mlpc.RMSProp, mlpc.AdaGrad][int(r.integers(5))]
    options = {"SGD": ["momentum", "nesterov", "weight_decay"],
               "Adam": ["betas", "eps", "weight_decay", "amsgrad"],
               "AdamW": ["betas", "eps", "weight_decay", "amsgrad"],
               "RMSProp": ["alpha", "eps", "momentum", "weight_decay"],
               "AdaGrad": ["eps", "weight_decay"]}[cls.__name__] + \
        ["clip_norm", "clip_value", "decay_all", "schedule"]
    kwargs = {"lr": number(r, 1e-4, 0.1)}
    if junk_args:
        for name in r.choice(options + ["lr", "bogus"], size=int(r.integers(1, 3)), replace=False):
            kwargs[str(name)] = junk(r)
    return cls, kwargs


def check_settings(opt, dtype):
    """What an accepted optimizer holds satisfies the documented constraints."""
    finfo = np.finfo(dtype)
    for field, value in opt._config().items():
        if isinstance(value, bool):
            continue
        assert math.isfinite(value) and value >= 0, (field, value)
        assert value == 0 or finfo.smallest_subnormal <= value <= finfo.max, (field, value)
        if field in ("momentum", "alpha", "beta1", "beta2"):
            assert np.asarray(value, dtype) < 1, (field, value)
    if "eps" in opt._config():
        assert np.asarray(opt.eps, dtype) > 0


def one_case(r, i):
    net, width = random_net(r)
    k = net.out_features
    dtype = net.dtype
    n = int(r.integers(2, 6))
    x = r.normal(size=(n, width)) * 10 ** r.uniform(-1, 1)
    cls, kwargs = make_optimizer(r, net, junk_args=r.random() < 0.3)
    opt = None
    try:
        opt = cls(net, **kwargs)
    except REFUSALS:
        pass
    if opt is not None:
        check_settings(opt, dtype)
    else:
        opt = mlpc.SGD(net, lr=0.01)
    loss = [mlpc.SoftmaxCrossEntropy(), mlpc.MSELoss(), mlpc.BinaryCrossEntropy()][
        int(r.integers(3))]
    for _ in range(int(r.integers(2, 6))):
        op = int(r.integers(14))
        if op == 0:   # a valid forward, checked against NumPy
            training = bool(r.random() < 0.5)
            net.train(training)
            check_forward(net, x, training and not (has(net, mlpc.BatchNorm) and n < 2), None)
        elif op == 1:
            assert refused(net, opt, lambda: net(bad_input(r, width, dtype))) or True
        elif op == 2:   # a training step, valid or not
            y = r.integers(0, k, n) if isinstance(loss, mlpc.SoftmaxCrossEntropy) else \
                r.uniform(0, 1, (n, k))
            if r.random() < 0.5:
                y = bad_targets(r, n, k)
            net.train()
            refused(net, opt, lambda: net.train_step(x, y, loss, opt))
        elif op == 3:   # backward with a gradient of any shape
            net(x)
            dy = [r.normal(size=(n, k)), r.normal(size=(n, k + 1)), r.normal(size=(n + 1, k)),
                  None, "dy", np.zeros((n, k), complex)][int(r.integers(6))]
            refused(net, opt, lambda: net.backward(dy), REFUSALS + (RuntimeError,))
        elif op == 4:   # a setting assigned any value
            name = str(r.choice(["lr", "weight_decay", "clip_norm", "clip_value", "decay_all",
                                 "schedule"] + list(opt._fields)))
            value = junk(r)
            if not refused(net, opt, lambda: setattr(opt, name, value),
                           REFUSALS + (AttributeError,)):
                check_settings(opt, dtype)
        elif op == 5:   # an optimizer state dict with one field replaced
            d = opt.state_dict()
            key = str(r.choice(list(d) + ["bogus"]))
            d[key] = junk(r) if r.random() < 0.7 else np.full_like(d["state"], np.nan)
            if not refused(net, opt, lambda: opt.load_state_dict(d)):
                check_settings(opt, dtype)
        elif op == 6:   # a network state dict with one entry replaced
            d = net.state_dict()
            if d:
                key = str(r.choice(list(d) + ["bogus"]))
                shape = d[key].shape if key in d else (2,)
                d[key] = [np.zeros(shape + (1,)), np.full(shape, -1.0), np.full(shape, np.nan),
                          np.full(shape, "a"), None, np.full(shape, 1e39),
                          np.zeros(shape, complex)][int(r.integers(7))]
                if key.endswith("running_var") or not isinstance(d[key], np.ndarray) or \
                        d[key].dtype.kind not in "f" or d[key].shape != shape:
                    refused(net, opt, lambda: net.load_state_dict(d))
        elif op == 7:   # mode, l2 and schedule given anything
            what = int(r.integers(3))
            value = junk(r)
            call = [lambda: net.train(value), lambda: setattr(net, "l2", value),
                    lambda: setattr(opt, "schedule", value)][what]
            if not refused(net, opt, call) and what == 1:
                assert math.isfinite(net.l2) and net.l2 >= 0
        elif op == 8:   # a layer built with any argument
            ctor = [lambda v: mlpc.Linear(v, 3), lambda v: mlpc.Linear(3, 3, init=v),
                    lambda v: mlpc.Linear(3, 3, init=("normal", v)), mlpc.LeakyReLU, mlpc.ELU,
                    mlpc.Swish, lambda v: mlpc.PReLU(init=v), lambda v: mlpc.PReLU(v),
                    mlpc.Dropout, mlpc.BatchNorm, lambda v: mlpc.BatchNorm(3, eps=v),
                    lambda v: mlpc.BatchNorm(3, momentum=v), lambda v: mlpc.LayerNorm(3, eps=v),
                    mlpc.GELU, mlpc.GLU, lambda v: mlpc.Sequential(mlpc.Linear(3, 3), dtype=v),
                    lambda v: mlpc.Sequential(mlpc.Linear(3, 3), seed=v)][int(r.integers(17))]
            value = junk(r)
            try:
                layer = ctor(value)
                if isinstance(layer, mlpc.Layer) and not isinstance(layer, mlpc.Sequential):
                    layer(np.ones((2, 3), dtype))   # builds it in this dtype, or refuses
            except REFUSALS + (RuntimeError,):
                pass
        elif op == 9:   # cost with any targets
            y = bad_targets(r, n, k) if r.random() < 0.7 else r.integers(0, k, n)
            refused(net, opt, lambda: net.cost(x, y, loss))
        elif op == 10:   # a copy computes what the original does
            try:   # refused when a setting does not fit float32
                other = net.copy(dtype=["float32", "float64"][int(r.integers(2))])
            except ValueError as e:
                assert "does not fit a float32 network" in str(e)
            else:
                net.eval(), other.eval()
                check_forward(other, x, False, None)
        elif op == 12:   # a schedule that returns anything: a step it refuses changes nothing
            value = junk(r)
            try:
                opt.schedule = lambda t: value if t >= opt.step_count else 0.01
            except REFUSALS:
                continue
            y = r.integers(0, k, n) if isinstance(loss, mlpc.SoftmaxCrossEntropy) else \
                r.uniform(0, 1, (n, k))
            net.train()
            if not refused(net, opt, lambda: net.train_step(x, y, loss, opt)):
                check_settings(opt, dtype)
            opt.schedule = None
        elif op == 13:   # fit given one malformed argument: refused before the first step
            y = r.integers(0, k, n) if isinstance(loss, mlpc.SoftmaxCrossEntropy) else \
                r.uniform(0, 1, (n, k))
            args = dict(X=x, y=y, epochs=1, batch_size=2, progress=False)
            key = str(r.choice(["X", "y", "epochs", "batch_size", "validation_data",
                                "train_metrics", "eval_batch_size"]))
            args[key] = junk(r) if key not in ("X", "y") else \
                (bad_input(r, width, dtype) if key == "X" else bad_targets(r, n, k))
            if key == "epochs" and isinstance(args[key], (int, np.integer)) and args[key] > 3:
                args[key] = -1   # a valid huge count would just train that long
            try:
                refused(net, opt, lambda: mlpc.fit(net, loss, opt, **args))
            except FloatingPointError:
                pass   # accepted, trained and diverged: documented, and not a refusal
        else:   # predictions in eval mode leave the mode
            mode = net.training
            p = net.predict_proba(x)
            assert p.shape == (n, k) and net.training == mode
            if k > 1:
                finite = np.isfinite(p).all(axis=1)
                np.testing.assert_allclose(p[finite].sum(axis=1), 1, rtol=1e-3)


def test_fuzz_public_api():
    assert fuzzing.run("API fuzz", one_case, fuzzing.seed()) > 0


if __name__ == "__main__":   # python tests/test_fuzz_api.py: the fuzzer alone, with its report
    sys.exit(pytest.main([__file__, "-q", "-s"]))
