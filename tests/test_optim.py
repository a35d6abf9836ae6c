"""Optimizers (issue 4) against the pure-NumPy reference (tests/reference.py), closed forms on a
quadratic bowl, schedules, state_dict round trips, gradient clipping and fused train steps.

Gradients are produced by mlpc (cost + backward), copied, and fed both to the mlpc optimizer and
to the reference update rule, so only the update rules are compared.
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import reference as ref  # noqa: E402

import mlpc  # noqa: E402
from mlpc import schedules  # noqa: E402

RTOL = 1e-12
LOSS = mlpc.SoftmaxCrossEntropy()
D_IN, K = 6, 3


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def make_net(seed=0, dtype="float64", l2=0.0):
    """Linear weights and biases, BatchNorm γ/β (not decayed by default) and a PReLU slope."""
    return mlpc.Sequential(mlpc.Linear(D_IN, 8), mlpc.BatchNorm(8), mlpc.Tanh(),
                           mlpc.Linear(8, 7), mlpc.PReLU(), mlpc.Linear(7, K),
                           dtype=dtype, l2=l2, seed=seed)


def batches(n, N=12, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(N, D_IN)), rng.integers(0, K, size=N)) for _ in range(n)]


def params_of(net):
    return [np.array(v) for _, v, _ in net.named_parameters()]


def grads_of(net):
    return [np.array(g) for _, _, g in net.named_parameters()]


def backprop(net, X, y):
    """Fill the gradients of J = loss + penalty for one batch, from zero; returns copies."""
    net.zero_grad()
    net.cost(X, y, LOSS)
    net.backward()
    return grads_of(net)


def decay_mask(net):
    """True for the tensors weight decay applies to by default: Linear weight matrices."""
    linear = {name for name, layer in net.named_layers() if isinstance(layer, mlpc.Linear)}
    return [name.rsplit(".", 1)[0] in linear and name.endswith(".weight")
            for name, _, _ in net.named_parameters()]


class RefOptimizer:
    """A reference update rule over two parameter groups: decayed tensors and the rest."""

    def __init__(self, fn, mask, weight_decay=0.0, **hyper):
        self.fn, self.mask, self.wd, self.hyper = fn, list(mask), weight_decay, hyper
        self.state = {True: None, False: None}

    def step(self, params, grads, **override):
        hyper = dict(self.hyper, **override)
        out = [None] * len(params)
        for decayed in (True, False):
            idx = [i for i, m in enumerate(self.mask) if m == decayed]
            if not idx:
                continue
            new, self.state[decayed] = self.fn(
                [params[i] for i in idx], [grads[i] for i in idx], self.state[decayed],
                weight_decay=self.wd if decayed else 0.0, **hyper)
            for i, p in zip(idx, new):
                out[i] = p
        return out


def assert_params_close(actual, expected, rtol=RTOL):
    assert len(actual) == len(expected)
    for k, (a, b) in enumerate(zip(actual, expected)):
        err = ref.relative_error(a, b)
        assert err <= rtol, f"tensor {k}: relative error {err:.3e}"


# name, mlpc constructor, reference function, reference hyper-parameters
CASES = [
    ("sgd", lambda n, **o: mlpc.SGD(n, lr=0.1, **o), ref.sgd_step, dict(lr=0.1)),
    ("sgd_momentum", lambda n, **o: mlpc.SGD(n, lr=0.1, momentum=0.9, **o), ref.sgd_step,
     dict(lr=0.1, momentum=0.9)),
    ("sgd_nesterov", lambda n, **o: mlpc.SGD(n, lr=0.1, momentum=0.8, nesterov=True, **o),
     ref.sgd_step, dict(lr=0.1, momentum=0.8, nesterov=True)),
    ("sgd_weight_decay", lambda n, **o: mlpc.SGD(n, lr=0.1, momentum=0.9, weight_decay=0.05, **o),
     ref.sgd_step, dict(lr=0.1, momentum=0.9, weight_decay=0.05)),
    ("sgd_plain_weight_decay", lambda n, **o: mlpc.SGD(n, lr=0.1, weight_decay=0.05, **o),
     ref.sgd_step, dict(lr=0.1, weight_decay=0.05)),
    ("adagrad", lambda n, **o: mlpc.AdaGrad(n, lr=0.05, **o), ref.adagrad_step,
     dict(lr=0.05, eps=1e-10)),
    ("adagrad_weight_decay", lambda n, **o: mlpc.AdaGrad(n, lr=0.05, eps=1e-6, weight_decay=0.1,
                                                         **o),
     ref.adagrad_step, dict(lr=0.05, eps=1e-6, weight_decay=0.1)),
    ("rmsprop", lambda n, **o: mlpc.RMSProp(n, lr=0.01, alpha=0.9, **o), ref.rmsprop_step,
     dict(lr=0.01, alpha=0.9, eps=1e-8)),
    ("rmsprop_momentum", lambda n, **o: mlpc.RMSProp(n, lr=0.01, alpha=0.95, eps=1e-7,
                                                     momentum=0.7, **o),
     ref.rmsprop_step, dict(lr=0.01, alpha=0.95, eps=1e-7, momentum=0.7)),
    ("rmsprop_weight_decay", lambda n, **o: mlpc.RMSProp(n, lr=0.01, momentum=0.5,
                                                         weight_decay=0.2, **o),
     ref.rmsprop_step, dict(lr=0.01, alpha=0.99, eps=1e-8, momentum=0.5, weight_decay=0.2)),
    ("adam", lambda n, **o: mlpc.Adam(n, lr=0.01, **o), ref.adam_step,
     dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)),
    ("adam_betas", lambda n, **o: mlpc.Adam(n, lr=0.02, betas=(0.8, 0.9), eps=1e-6, **o),
     ref.adam_step, dict(lr=0.02, beta1=0.8, beta2=0.9, eps=1e-6)),
    ("adam_amsgrad", lambda n, **o: mlpc.Adam(n, lr=0.01, betas=(0.5, 0.6), amsgrad=True, **o),
     ref.adam_step, dict(lr=0.01, beta1=0.5, beta2=0.6, eps=1e-8, amsgrad=True)),
    ("adam_weight_decay", lambda n, **o: mlpc.Adam(n, lr=0.01, weight_decay=0.1, **o),
     ref.adam_step, dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1)),
    ("adamw", lambda n, **o: mlpc.AdamW(n, lr=0.01, weight_decay=0.1, **o), ref.adamw_step,
     dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1)),
    ("adamw_amsgrad", lambda n, **o: mlpc.AdamW(n, lr=0.01, betas=(0.7, 0.8), amsgrad=True, **o),
     ref.adamw_step, dict(lr=0.01, beta1=0.7, beta2=0.8, eps=1e-8, weight_decay=0.01,
                          amsgrad=True)),
]
CASE_IDS = [c[0] for c in CASES]


def run_against_reference(make_opt, fn, hyper, steps, decay_all=False, net=None):
    net = make_net() if net is None else net
    opt = make_opt(net, decay_all=decay_all) if decay_all else make_opt(net)
    hyper = dict(hyper)
    wd = hyper.pop("weight_decay", 0.0)
    mask = [True] * len(params_of(net)) if decay_all else decay_mask(net)
    reference = RefOptimizer(fn, mask, weight_decay=wd, **hyper)
    expected = params_of(net)
    for X, y in batches(steps):
        grads = backprop(net, X, y)
        opt.step()
        expected = reference.step(expected, grads)
        assert_params_close(params_of(net), expected)
    assert opt.step_count == steps
    return net, expected


# --------------------------------------------------------------------------------------------
# every optimizer against the reference
# --------------------------------------------------------------------------------------------

def test_decay_mask_is_linear_weights_only():
    net = make_net()
    names = [n for (n, _, _), m in zip(net.named_parameters(), decay_mask(net)) if m]
    assert names == ["0.weight", "3.weight", "5.weight"]


@pytest.mark.parametrize("steps", [1, 5])
@pytest.mark.parametrize("name,make_opt,fn,hyper", CASES, ids=CASE_IDS)
def test_matches_reference(name, make_opt, fn, hyper, steps):
    run_against_reference(make_opt, fn, hyper, steps)


@pytest.mark.parametrize("name,make_opt,fn,hyper",
                         [c for c in CASES if "weight_decay" in c[3] or c[0].startswith("adamw")],
                         ids=[c[0] for c in CASES
                              if "weight_decay" in c[3] or c[0].startswith("adamw")])
def test_decay_all_matches_reference(name, make_opt, fn, hyper):
    net, _ = run_against_reference(make_opt, fn, hyper, 4, decay_all=True)
    # and decay_all really differs from the default (biases, γ, β, PReLU slope decayed)
    default, _ = run_against_reference(make_opt, fn, hyper, 4)
    mask = decay_mask(net)
    for (n, a, _), (_, b, _), m in zip(net.named_parameters(), default.named_parameters(), mask):
        if not m:
            assert not np.allclose(a, b, rtol=1e-13, atol=0), n


def test_weight_decay_default_spares_biases_and_norm_parameters():
    """With zero gradients, only Linear weight matrices move under weight decay."""
    net = make_net()
    net(batches(1)[0][0])
    before = params_of(net)
    opt = mlpc.SGD(net, lr=0.1, weight_decay=0.5)
    net.zero_grad()
    opt.step()
    for (n, v, _), b, m in zip(net.named_parameters(), before, decay_mask(net)):
        if m:
            np.testing.assert_allclose(v, b * (1 - 0.1 * 0.5), rtol=1e-15, err_msg=n)
        else:
            np.testing.assert_array_equal(v, b, err_msg=n)


def test_momentum_notes_form_equals_pytorch_form():
    """Δw(τ) = −η g + μ Δw(τ−1), w += Δw  ==  b = μ b + g, w −= η b  (constant η)."""
    lr, mu = 0.05, 0.9
    net = make_net()
    opt = mlpc.SGD(net, lr=lr, momentum=mu)
    w = params_of(net)
    buf = [np.zeros_like(p) for p in w]
    for X, y in batches(6):
        g = backprop(net, X, y)
        opt.step()
        buf = [mu * b + gi for b, gi in zip(buf, g)]
        w = [p - lr * b for p, b in zip(w, buf)]
        assert_params_close(params_of(net), w)


def test_momentum_with_schedule_follows_notes_form():
    """With a changing η the two forms differ; mlpc keeps the notes' Δw = −η(τ) g + μ Δw."""
    sched = schedules.step(0.2, step_size=2, gamma=0.5)
    net = make_net()
    opt = mlpc.SGD(net, lr=1.0, momentum=0.9, schedule=sched)
    reference = RefOptimizer(ref.sgd_step, decay_mask(net), momentum=0.9)
    expected = params_of(net)
    for t, (X, y) in enumerate(batches(6)):
        g = backprop(net, X, y)
        opt.step()
        expected = reference.step(expected, g, lr=sched(t))
        assert_params_close(params_of(net), expected)


@pytest.mark.parametrize("make_opt", [lambda n: mlpc.SGD(n, lr=0.1, momentum=0.9),
                                      lambda n: mlpc.Adam(n, lr=0.01)], ids=["sgd", "adam"])
def test_float32_close_to_reference(make_opt):
    net = make_net(dtype="float32")
    opt = make_opt(net)
    fn, hyper = ((ref.sgd_step, dict(lr=0.1, momentum=0.9)) if isinstance(opt, mlpc.SGD)
                 else (ref.adam_step, dict(lr=0.01)))
    reference = RefOptimizer(fn, decay_mask(net), **hyper)
    expected = params_of(net)
    for X, y in batches(3):
        net.zero_grad()
        net.cost(X.astype(np.float32), y, LOSS)
        net.backward()
        g = grads_of(net)
        opt.step()
        expected = reference.step(expected, g)
    assert_params_close(params_of(net), expected, rtol=1e-5)


# --------------------------------------------------------------------------------------------
# quadratic bowl  E(w) = ½ (w − w*)ᵀ H (w − w*)
# --------------------------------------------------------------------------------------------

EIGS = np.array([0.05, 0.3, 1.0, 2.5])


def bowl(seed=3):
    """MSELoss (1/(2N)‖Xw − y‖²) on data with XᵀX/N = H = Q diag(EIGS) Qᵀ and y = X w*."""
    rng = np.random.default_rng(seed)
    d = EIGS.size
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    N = 2 * d
    # X = √N · [R; 0]-free construction: rows of √(N/2)·diag(√λ) Qᵀ stacked twice
    half = np.sqrt(N / 2) * (np.sqrt(EIGS)[:, None] * Q.T)
    X = np.vstack([half, -half])
    w_star = rng.normal(size=d)
    y = (X @ w_star)[:, None]
    H = Q @ np.diag(EIGS) @ Q.T
    np.testing.assert_allclose(X.T @ X / N, H, atol=1e-14)
    net = mlpc.Sequential(mlpc.Linear(d, 1, bias=False), dtype="float64", seed=seed)
    assert net[0].weight.shape == (1, d)   # a one-row weight matrix stays 2-D
    return net, X, y, w_star, Q, H


def test_bowl_gradient_is_H_times_offset():
    net, X, y, w_star, Q, H = bowl()
    w = np.array(net[0].weight[0])
    cost = net.cost(X, y, mlpc.MSELoss())
    net.backward()
    assert cost == pytest.approx(0.5 * (w - w_star) @ H @ (w - w_star), rel=1e-12)
    np.testing.assert_allclose(grads_of(net)[0][0], H @ (w - w_star), rtol=1e-12, atol=1e-14)


def test_bowl_plain_gd_contracts_each_eigendirection():
    net, X, y, w_star, Q, H = bowl()
    lr = 0.7   # factors 1 − ηλ = 0.965, 0.79, 0.3, −0.75
    opt = mlpc.SGD(net, lr=lr)
    c0 = Q.T @ (net[0].weight[0] - w_star)
    scale = np.max(np.abs(c0))
    loss = mlpc.MSELoss()
    for t in range(1, 21):
        net.zero_grad()
        net.cost(X, y, loss)
        net.backward()
        opt.step()
        c = Q.T @ (net[0].weight[0] - w_star)
        expected = (1 - lr * EIGS) ** t * c0
        assert np.max(np.abs(c - expected)) <= 1e-10 * scale, t


def test_bowl_plain_gd_diverges_above_two_over_lambda_max():
    loss = mlpc.MSELoss()
    lam_max = EIGS.max()
    for factor, diverges in ((2.1, True), (1.9, False)):
        net, X, y, w_star, Q, H = bowl()
        lr = factor / lam_max
        opt = mlpc.SGD(net, lr=lr)
        c0 = Q.T @ (net[0].weight[0] - w_star)
        for _ in range(60):
            net.zero_grad()
            net.cost(X, y, loss)
            net.backward()
            opt.step()
        c = Q.T @ (net[0].weight[0] - w_star)
        # the top direction is multiplied by 1 − η λ_max = 1 − factor per step
        assert c[-1] == pytest.approx((1 - factor) ** 60 * c0[-1], rel=1e-8)
        if diverges:
            assert abs(c[-1]) > 100 * abs(c0[-1])
        else:
            assert abs(c[-1]) < 0.01 * abs(c0[-1])


def test_momentum_effective_step_in_flat_region():
    """Constant gradient g: Δw(τ) = −η g (1 − μ^τ)/(1 − μ) → −η g/(1 − μ)."""
    lr, mu = 0.01, 0.9
    net = mlpc.Sequential(mlpc.Linear(3, 2), dtype="float64", seed=0)
    opt = mlpc.SGD(net, lr=lr, momentum=mu)
    rng = np.random.default_rng(0)
    const = [rng.normal(size=g.shape) for _, _, g in net.named_parameters()]
    prev = params_of(net)
    for t in range(1, 301):
        for (_, _, g), c in zip(net.named_parameters(), const):
            g[...] = c
        opt.step()
        now = params_of(net)
        for p, q, c in zip(now, prev, const):
            np.testing.assert_allclose(q - p, lr * c * (1 - mu ** t) / (1 - mu), rtol=1e-9)
        prev = now
    # after 300 steps (μ^300 ≈ 2e-14) the step is η g/(1 − μ) to 1e-12
    for (_, _, g), c in zip(net.named_parameters(), const):
        g[...] = c
    before = params_of(net)
    opt.step()
    for p, q, c in zip(params_of(net), before, const):
        np.testing.assert_allclose(q - p, lr / (1 - mu) * c, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# schedules
# --------------------------------------------------------------------------------------------

def test_schedule_sets_lr_before_each_step():
    net = mlpc.Sequential(mlpc.Linear(3, 2), dtype="float64", seed=0)
    opt = mlpc.SGD(net, lr=1.0)
    sched = schedules.step(0.1, step_size=2, gamma=0.5)
    opt.schedule = sched
    assert opt.schedule is sched
    assert opt.lr == sched(0)
    g = [np.full(gr.shape, 1.0) for _, _, gr in net.named_parameters()]
    for t in range(7):
        for (_, _, gr), c in zip(net.named_parameters(), g):
            gr[...] = c
        before = params_of(net)
        opt.step()
        assert opt.step_count == t + 1
        assert opt.lr == sched(t)
        for p, q in zip(params_of(net), before):
            np.testing.assert_allclose(q - p, sched(t), rtol=1e-12)


@pytest.mark.parametrize("cls", [mlpc.SGD, mlpc.Adam, mlpc.RMSProp, mlpc.AdaGrad, mlpc.AdamW])
def test_schedule_in_constructor_and_train_step(cls):
    sched = schedules.exponential(0.05, c=0.5, s=3)
    net = make_net()
    opt = cls(net, lr=1.0, schedule=sched)
    assert opt.lr == sched(0)
    for t, (X, y) in enumerate(batches(4)):
        net.train_step(X, y, LOSS, opt)
        assert opt.lr == sched(t)
    # any callable step -> lr
    opt.schedule = lambda t: 1e-3 * (t + 1)
    net.train_step(*batches(1)[0], LOSS, opt)
    assert opt.lr == pytest.approx(1e-3 * 5)
    opt.schedule = None
    opt.lr = 0.25
    net.train_step(*batches(1)[0], LOSS, opt)
    assert opt.lr == 0.25


# --------------------------------------------------------------------------------------------
# state_dict round trip
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make_opt", [
    lambda n: mlpc.Adam(n, lr=0.01, amsgrad=True, weight_decay=1e-3),
    lambda n: mlpc.SGD(n, lr=0.05, momentum=0.9),
    lambda n: mlpc.SGD(n, lr=1.0, momentum=0.9, nesterov=True,
                       schedule=schedules.cosine(0.1, T=20, lr_min=0.01)),
    lambda n: mlpc.RMSProp(n, lr=0.01, momentum=0.5),
], ids=["adam", "sgd_momentum", "sgd_nesterov_schedule", "rmsprop"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_state_dict_round_trip(make_opt, dtype):
    data = [(X.astype(dtype), y) for X, y in batches(20, seed=5)]
    net = make_net(seed=0, dtype=dtype, l2=1e-3)
    opt = make_opt(net)
    for X, y in data[:10]:
        net.train_step(X, y, LOSS, opt)
    net_state = net.state_dict()
    opt_state = opt.state_dict()
    costs = [net.train_step(X, y, LOSS, opt) for X, y in data[10:]]

    fresh = make_net(seed=123, dtype=dtype, l2=1e-3)
    fresh_opt = make_opt(fresh)
    fresh.load_state_dict(net_state)
    fresh_opt.load_state_dict(opt_state)
    assert fresh_opt.step_count == 10
    fresh_costs = [fresh.train_step(X, y, LOSS, fresh_opt) for X, y in data[10:]]
    assert fresh_costs == costs
    for (n, a, _), (_, b, _) in zip(net.named_parameters(), fresh.named_parameters()):
        np.testing.assert_array_equal(a, b, err_msg=n)
    for (n, a), (_, b) in zip(net.named_buffers(), fresh.named_buffers()):
        np.testing.assert_array_equal(a, b, err_msg=n)
    np.testing.assert_array_equal(opt.state_dict()["state"], fresh_opt.state_dict()["state"])


def test_state_dict_checks_type_and_shape():
    net = make_net()
    adam = mlpc.Adam(net)
    with pytest.raises(ValueError):
        mlpc.AdamW(net).load_state_dict(adam.state_dict())
    other = mlpc.Adam(mlpc.Sequential(mlpc.Linear(2, 2), dtype="float64"))
    with pytest.raises(ValueError):
        other.load_state_dict(adam.state_dict())


# --------------------------------------------------------------------------------------------
# gradient clipping
# --------------------------------------------------------------------------------------------

def filled(seed=0, scale=1.0):
    net = make_net(seed=seed)
    X, y = batches(1, seed=seed + 10)[0]
    net.zero_grad()
    net.cost(X * scale, y, LOSS)
    net.backward()
    return net


def global_norm(grads):
    return float(np.linalg.norm(np.concatenate([g.ravel() for g in grads])))


def test_clip_grad_norm_rescales_when_larger():
    net = filled()
    before = grads_of(net)
    total = global_norm(before)
    assert net.grad_norm() == pytest.approx(total, rel=1e-13)
    max_norm = total / 3
    returned = mlpc.clip_grad_norm(net, max_norm)
    assert returned == pytest.approx(total, rel=1e-13)
    after = grads_of(net)
    assert global_norm(after) == pytest.approx(max_norm, rel=1e-13)
    expected, ref_total = ref.clip_grad_norm(before, max_norm, eps=0.0)
    assert ref_total == pytest.approx(total, rel=1e-13)
    assert_params_close(after, expected, rtol=1e-14)


def test_clip_grad_norm_leaves_small_gradients():
    net = filled()
    before = grads_of(net)
    total = global_norm(before)
    assert mlpc.clip_grad_norm(net, 2 * total) == pytest.approx(total, rel=1e-13)
    for a, b in zip(grads_of(net), before):
        np.testing.assert_array_equal(a, b)


def test_clip_grad_value_clamps():
    net = filled()
    before = grads_of(net)
    clip = 0.5 * max(np.max(np.abs(g)) for g in before)
    mlpc.clip_grad_value(net, clip)
    for a, b in zip(grads_of(net), ref.clip_grad_value(before, clip)):
        np.testing.assert_array_equal(a, b)
    assert any(np.any(np.abs(g) == clip) for g in grads_of(net))


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_clip_functions_reject_bad_bounds(bad):
    net = filled()
    with pytest.raises(ValueError):
        mlpc.clip_grad_norm(net, bad)
    with pytest.raises(ValueError):
        mlpc.clip_grad_value(net, bad)


@pytest.mark.parametrize("options", [dict(clip_norm=None), dict(clip_value=None),
                                     dict(clip_norm=None, clip_value=None)],
                         ids=["norm", "value", "value_then_norm"])
@pytest.mark.parametrize("make_opt", [lambda n, **o: mlpc.SGD(n, lr=0.1, momentum=0.9, **o),
                                      lambda n, **o: mlpc.Adam(n, lr=0.01, **o)],
                         ids=["sgd", "adam"])
def test_fused_clipping_equals_manual(make_opt, options):
    fused = make_net()
    manual = make_net()
    data = batches(4)
    # bounds chosen from the first gradient so that clipping is active
    fused.zero_grad()
    fused.cost(*data[0], LOSS)
    fused.backward()
    grads0 = grads_of(fused)
    norm0 = global_norm(grads0)
    opts = {}
    if "clip_value" in options:
        opts["clip_value"] = 0.3 * max(np.max(np.abs(g)) for g in grads0)
    if "clip_norm" in options:
        opts["clip_norm"] = 0.2 * norm0
    opt_fused = make_opt(fused, **opts)
    opt_manual = make_opt(manual)
    for X, y in data:
        for net in (fused, manual):
            net.zero_grad()
            net.cost(X, y, LOSS)
            net.backward()
        raw = grads_of(fused)
        if "clip_value" in opts:
            mlpc.clip_grad_value(manual, opts["clip_value"])
        if "clip_norm" in opts:
            mlpc.clip_grad_norm(manual, opts["clip_norm"])
        opt_manual.step()
        opt_fused.step()
        assert opt_fused.last_grad_norm == pytest.approx(global_norm(raw), rel=1e-13)
        assert opt_manual.last_grad_norm == pytest.approx(
            global_norm(grads_of(manual)), rel=1e-13)
        assert_params_close(params_of(fused), params_of(manual), rtol=1e-14)
    # and clipping did change the result
    plain = make_net()
    opt_plain = make_opt(plain)
    for X, y in data:
        plain.train_step(X, y, LOSS, opt_plain)
    assert ref.relative_error(params_of(plain)[0], params_of(fused)[0]) > 1e-6


def test_fused_clip_norm_against_reference():
    net = make_net()
    opt = mlpc.Adam(net, lr=0.01, clip_norm=0.05)
    reference = RefOptimizer(ref.adam_step, decay_mask(net), lr=0.01)
    expected = params_of(net)
    for X, y in batches(3):
        raw = backprop(net, X, y)
        opt.step()
        clipped, total = ref.clip_grad_norm(raw, 0.05, eps=0.0)
        assert total > 0.05
        assert opt.last_grad_norm == pytest.approx(total, rel=1e-13)
        expected = reference.step(expected, clipped)
        assert_params_close(params_of(net), expected)


def test_last_grad_norm_from_train_step():
    net = make_net(l2=1e-2)
    twin = make_net(l2=1e-2)
    opt = mlpc.SGD(net, lr=0.1, clip_norm=1e-3)
    for X, y in batches(3):
        twin.load_state_dict(net.state_dict())
        twin.zero_grad()
        twin.cost(X, y, LOSS)
        twin.backward()
        net.train_step(X, y, LOSS, opt)
        assert opt.last_grad_norm == pytest.approx(global_norm(grads_of(twin)), rel=1e-12)
        # the gradients left in the network are the clipped ones
        assert net.grad_norm() == pytest.approx(1e-3, rel=1e-12)


# --------------------------------------------------------------------------------------------
# train_step == zero_grad + cost + backward + step
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make_opt", [lambda n: mlpc.Adam(n, lr=0.01, weight_decay=1e-2),
                                      lambda n: mlpc.SGD(n, lr=0.1, momentum=0.9)],
                         ids=["adam", "sgd"])
def test_train_step_equals_pieces(make_opt):
    fused = make_net(l2=1e-3)
    pieces = make_net(l2=1e-3)
    opt_f, opt_p = make_opt(fused), make_opt(pieces)
    for X, y in batches(6):
        c_f = fused.train_step(X, y, LOSS, opt_f)
        opt_p.zero_grad()
        c_p = pieces.cost(X, y, LOSS)
        pieces.backward()
        opt_p.step()
        assert c_f == pytest.approx(c_p, rel=1e-14)
        for (n, a, ga), (_, b, gb) in zip(fused.named_parameters(), pieces.named_parameters()):
            np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-300, err_msg=n)
            np.testing.assert_allclose(ga, gb, rtol=1e-14, atol=1e-300, err_msg=n)
    assert opt_f.step_count == opt_p.step_count == 6
    np.testing.assert_allclose(opt_f.state_dict()["state"], opt_p.state_dict()["state"],
                               rtol=1e-14, atol=1e-300)


def test_train_step_rejects_foreign_optimizer():
    a, b = make_net(), make_net()
    opt = mlpc.SGD(b, lr=0.1)
    X, y = batches(1)[0]
    with pytest.raises(ValueError):
        a.train_step(X, y, LOSS, opt)


# --------------------------------------------------------------------------------------------
# bad hyper-parameters
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("build,exc", [
    (lambda n: mlpc.SGD(n, lr=-0.1), ValueError),
    (lambda n: mlpc.SGD(n, lr=float("nan")), ValueError),
    (lambda n: mlpc.SGD(n, lr=float("inf")), ValueError),
    (lambda n: mlpc.SGD(n, lr="fast"), TypeError),
    (lambda n: mlpc.SGD(n, lr=None), TypeError),
    (lambda n: mlpc.SGD(n, lr=0.1, momentum=-0.5), ValueError),
    (lambda n: mlpc.SGD(n, lr=0.1, nesterov=True), ValueError),
    (lambda n: mlpc.SGD(n, lr=0.1, momentum=0.0, nesterov=True), ValueError),
    (lambda n: mlpc.SGD(n, lr=0.1, weight_decay=-1e-4), ValueError),
    (lambda n: mlpc.AdaGrad(n, lr=-1.0), ValueError),
    (lambda n: mlpc.AdaGrad(n, eps=-1e-10), ValueError),
    (lambda n: mlpc.RMSProp(n, alpha=1.0), ValueError),
    (lambda n: mlpc.RMSProp(n, alpha=-0.1), ValueError),
    (lambda n: mlpc.RMSProp(n, momentum=-0.9), ValueError),
    (lambda n: mlpc.Adam(n, lr=-1e-3), ValueError),
    (lambda n: mlpc.Adam(n, betas=(1.0, 0.999)), ValueError),
    (lambda n: mlpc.Adam(n, betas=(0.9, 1.0)), ValueError),
    (lambda n: mlpc.Adam(n, betas=(-0.1, 0.999)), ValueError),
    (lambda n: mlpc.Adam(n, betas=(0.9, 1.5)), ValueError),
    (lambda n: mlpc.Adam(n, betas=0.9), TypeError),
    (lambda n: mlpc.Adam(n, betas=(0.9,)), TypeError),
    (lambda n: mlpc.Adam(n, betas=("a", "b")), TypeError),
    (lambda n: mlpc.Adam(n, eps=-1.0), ValueError),
    (lambda n: mlpc.AdamW(n, weight_decay=-0.01), ValueError),
    (lambda n: mlpc.AdamW(n, betas=(0.9, 1.0)), ValueError),
    (lambda n: mlpc.Adam(n, clip_norm=-1.0), ValueError),
    (lambda n: mlpc.Adam(n, clip_value=-1.0), ValueError),
    (lambda n: mlpc.SGD(n.layers[0], lr=0.1), TypeError),
    (lambda n: mlpc.SGD([n], lr=0.1), TypeError),
    (lambda n: mlpc.Adam(None), TypeError),
    (lambda n: mlpc.Adam({"0.weight": np.zeros((2, 2))}), TypeError),
])
def test_bad_hyper_parameters(build, exc):
    net = make_net()
    with pytest.raises(exc):
        build(net)


def test_bad_lr_assignment():
    opt = mlpc.SGD(make_net(), lr=0.1)
    with pytest.raises(ValueError):
        opt.lr = -1.0
    with pytest.raises(TypeError):
        opt.lr = "x"
    assert opt.lr == 0.1
    with pytest.raises(ValueError):
        opt.schedule = lambda t: -1.0


# --------------------------------------------------------------------------------------------
# audit: flags, foreign options, load_state_dict, momentum, number types, settings, net types
# --------------------------------------------------------------------------------------------

def assert_same_state_dict(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def trained(make_opt, steps=3):
    """An optimizer (and its net) after a few steps, so that its state is not all zeros."""
    net = make_net()
    opt = make_opt(net)
    for X, y in batches(steps):
        net.train_step(X, y, LOSS, opt)
    return net, opt


@pytest.mark.parametrize("build", [
    lambda n: mlpc.SGD(n, 0.1, momentum=0.9, nesterov="no"),
    lambda n: mlpc.SGD(n, 0.1, momentum=0.9, nesterov=1),
    lambda n: mlpc.Adam(n, amsgrad="False"),
    lambda n: mlpc.AdamW(n, amsgrad=1),
    lambda n: mlpc.SGD(n, 0.1, weight_decay=0.1, decay_all="yes"),
    lambda n: mlpc.RMSProp(n, decay_all=1.0),
], ids=["nesterov_str", "nesterov_int", "amsgrad_str", "amsgrad_int", "decay_all_str",
        "decay_all_float"])
def test_flags_accept_only_bool(build):
    with pytest.raises(TypeError, match="must be True or False"):
        build(make_net())


def test_flags_accept_numpy_bool():
    net = make_net()
    assert mlpc.SGD(net, 0.1, momentum=0.9, nesterov=np.True_).nesterov is True
    assert mlpc.Adam(net, amsgrad=np.bool_(False), decay_all=np.True_)._core.decay_all == 1


@pytest.mark.parametrize("build,option,rule", [
    (lambda n: mlpc.AdaGrad(n, momentum=0.9), "momentum", "AdaGrad"),
    (lambda n: mlpc.AdaGrad(n, alpha=0.9), "alpha", "AdaGrad"),
    (lambda n: mlpc.Adam(n, nesterov=True), "nesterov", "Adam"),
    (lambda n: mlpc.Adam(n, momentum=0.9), "momentum", "Adam"),
    (lambda n: mlpc.AdamW(n, alpha=0.9), "alpha", "AdamW"),
    (lambda n: mlpc.RMSProp(n, momentum=0.9, nesterov=True), "nesterov", "RMSProp"),
    (lambda n: mlpc.RMSProp(n, beta1=0.9), "beta1", "RMSProp"),
    (lambda n: mlpc.SGD(n, 0.1, eps=1e-8), "eps", "SGD"),
    (lambda n: mlpc.SGD(n, 0.1, amsgrad=False), "amsgrad", "SGD"),
], ids=["adagrad_momentum", "adagrad_alpha", "adam_nesterov", "adam_momentum", "adamw_alpha",
        "rmsprop_nesterov", "rmsprop_beta1", "sgd_eps", "sgd_amsgrad"])
def test_options_a_rule_does_not_use_are_refused(build, option, rule):
    with pytest.raises(TypeError, match=f"{rule} does not use '{option}'"):
        build(make_net())


@pytest.mark.parametrize("make_opt,change,exc,field", [
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"lr": float("nan")}, ValueError, "lr"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"lr": -1.0}, ValueError, "lr"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"lr": "0.1"}, TypeError, "lr"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"momentum": 5.0}, ValueError, "momentum"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"momentum": 0.0, "nesterov": True}, ValueError,
     "nesterov"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"nesterov": "yes"}, TypeError, "nesterov"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"weight_decay": -1.0}, ValueError,
     "weight_decay"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"decay_all": 1}, TypeError, "decay_all"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"clip_norm": -1.0}, ValueError, "clip_norm"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"clip_value": float("inf")}, ValueError,
     "clip_value"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"step": -1}, ValueError, "step"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"step": 2.5}, TypeError, "step"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"step": True}, TypeError, "step"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"step": 2 ** 64}, ValueError, "step"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"lr": None}, TypeError, "lr"),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), {"extra": 1.0}, KeyError, "extra"),
    (lambda n: mlpc.AdaGrad(n, 0.1), {"eps": float("nan")}, ValueError, "eps"),
    (lambda n: mlpc.RMSProp(n, momentum=0.5), {"alpha": 1.0}, ValueError, "alpha"),
    (lambda n: mlpc.RMSProp(n, momentum=0.5), {"momentum": 1.5}, ValueError, "momentum"),
    (lambda n: mlpc.RMSProp(n, momentum=0.5), {"nesterov": True}, ValueError, "Nesterov"),
    (lambda n: mlpc.Adam(n, 0.01), {"beta2": 1.0}, ValueError, "beta2"),
    (lambda n: mlpc.Adam(n, 0.01), {"amsgrad": "False"}, TypeError, "amsgrad"),
    (lambda n: mlpc.Adam(n, 0.01), {"nesterov": True}, ValueError, "Nesterov"),
], ids=["lr_nan", "lr_negative", "lr_str", "momentum_5", "nesterov_without_momentum",
        "nesterov_str", "weight_decay_negative", "decay_all_int", "clip_norm_negative",
        "clip_value_inf", "step_negative", "step_float", "step_bool", "step_too_large", "lr_none",
        "unknown_key", "adagrad_eps_nan", "rmsprop_alpha_1", "rmsprop_momentum_1.5",
        "rmsprop_nesterov", "adam_beta2_1", "adam_amsgrad_str", "adam_nesterov"])
def test_load_state_dict_checks_every_field_and_changes_nothing(make_opt, change, exc, field):
    _, opt = trained(make_opt)
    good = opt.state_dict()
    # the bad dict also carries new state and step: none of it may be applied
    bad = {**good, "state": good["state"] + 1.0, "step": 7, **change}
    with pytest.raises(exc, match=field):
        opt.load_state_dict(bad)
    assert_same_state_dict(opt.state_dict(), good)


@pytest.mark.parametrize("field", ["lr", "step", "momentum", "nesterov", "type"])
def test_load_state_dict_missing_field_changes_nothing(field):
    _, opt = trained(lambda n: mlpc.SGD(n, 0.1, momentum=0.9))
    good = opt.state_dict()
    bad = {**good, "state": good["state"] + 1.0, "step": 7, "lr": 0.5}
    del bad[field]
    with pytest.raises((KeyError, ValueError), match=field):
        opt.load_state_dict(bad)
    assert_same_state_dict(opt.state_dict(), good)


@pytest.mark.parametrize("make_opt,state,exc", [
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), lambda s: np.full_like(s, np.nan), ValueError),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), lambda s: s.astype(str), TypeError),
    (lambda n: mlpc.AdaGrad(n, 0.1), lambda s: -np.abs(s) - 1.0, ValueError),
    (lambda n: mlpc.Adam(n, 0.01), lambda s: s * np.array([[1.0], [-1.0], [1.0]]) - 1e-3,
     ValueError),
], ids=["sgd_nan", "sgd_strings", "adagrad_negative_G", "adam_negative_v"])
def test_load_state_dict_checks_the_state_buffers(make_opt, state, exc):
    _, opt = trained(make_opt)
    good = opt.state_dict()
    with pytest.raises(exc, match="optimizer state"):
        opt.load_state_dict({**good, "state": state(good["state"])})
    assert_same_state_dict(opt.state_dict(), good)


def test_load_state_dict_needs_a_dict():
    _, opt = trained(lambda n: mlpc.SGD(n, 0.1))
    with pytest.raises(TypeError, match="dict"):
        opt.load_state_dict([("type", "SGD")])


@pytest.mark.parametrize("build", [
    lambda n: mlpc.SGD(n, 0.1, momentum=1.5),
    lambda n: mlpc.SGD(n, 0.1, momentum=1.0),
    lambda n: mlpc.SGD(n, 0.1, momentum=1.0, nesterov=True),
    lambda n: mlpc.RMSProp(n, momentum=1.5),
    lambda n: mlpc.RMSProp(n, momentum=1.0),
], ids=["sgd_1.5", "sgd_1", "sgd_nesterov_1", "rmsprop_1.5", "rmsprop_1"])
def test_momentum_must_be_below_one(build):
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        build(make_net())


@pytest.mark.parametrize("build", [
    lambda n: mlpc.SGD(n, "0.1"),
    lambda n: mlpc.SGD(n, True),
    lambda n: mlpc.SGD(n, np.array([0.1])),
    lambda n: mlpc.SGD(n, 0.1, momentum="0.9"),
    lambda n: mlpc.SGD(n, 0.1, weight_decay=False),
    lambda n: mlpc.Adam(n, eps="1e-8"),
    lambda n: mlpc.Adam(n, betas=("0.9", 0.999)),
    lambda n: mlpc.Adam(n, betas=(False, 0.999)),
    lambda n: mlpc.RMSProp(n, alpha="0.9"),
    lambda n: mlpc.Adam(n, clip_norm="1"),
    lambda n: mlpc.Adam(n, clip_value=True),
    lambda n: mlpc.SGD(n, 0.1, schedule=lambda t: "0.1"),
    lambda n: mlpc.SGD(n, 0.1, schedule=lambda t: True),
], ids=["lr_str", "lr_bool", "lr_array", "momentum_str", "weight_decay_bool", "eps_str",
        "betas_str", "betas_bool", "alpha_str", "clip_norm_str", "clip_value_bool",
        "schedule_str", "schedule_bool"])
def test_numbers_refuse_str_and_bool(build):
    with pytest.raises(TypeError, match="must be a real number"):
        build(make_net())


def test_numbers_accept_numpy_scalars():
    net = make_net()
    opt = mlpc.SGD(net, np.float32(0.5), momentum=np.float64(0.25), weight_decay=np.int64(0),
                   clip_norm=np.int32(2))
    assert (opt.lr, opt.momentum, opt.weight_decay, opt.clip_norm) == (0.5, 0.25, 0.0, 2.0)
    assert mlpc.Adam(net, betas=np.array([0.5, 0.75])).betas == (0.5, 0.75)


def test_bad_rate_from_a_schedule_or_assignment_changes_nothing():
    net = make_net()
    opt = mlpc.SGD(net, 0.1, schedule=lambda t: 0.1 if t < 2 else "0.01")
    for X, y in batches(2):
        net.train_step(X, y, LOSS, opt)
    before, params = opt.state_dict(), params_of(net)
    with pytest.raises(TypeError, match="schedule's value at step 2"):
        opt.step()
    with pytest.raises(TypeError, match="lr"):
        opt.lr = True
    with pytest.raises(TypeError):
        mlpc.clip_grad_norm(net, "1")
    with pytest.raises(TypeError):
        mlpc.clip_grad_value(net, True)
    assert_same_state_dict(opt.state_dict(), before)
    assert_params_close(params_of(net), params, rtol=0)


@pytest.mark.parametrize("make_opt,settings,make_same", [
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9),
     dict(momentum=0.5, nesterov=True, weight_decay=0.05, decay_all=True),
     lambda n: mlpc.SGD(n, 0.1, momentum=0.5, nesterov=True, weight_decay=0.05,
                        decay_all=True)),
    (lambda n: mlpc.AdaGrad(n, 0.05), dict(eps=1e-3, clip_norm=0.1),
     lambda n: mlpc.AdaGrad(n, 0.05, eps=1e-3, clip_norm=0.1)),
    (lambda n: mlpc.RMSProp(n, 0.01), dict(alpha=0.5, eps=1e-4, momentum=0.7, clip_value=0.01),
     lambda n: mlpc.RMSProp(n, 0.01, alpha=0.5, eps=1e-4, momentum=0.7, clip_value=0.01)),
    (lambda n: mlpc.Adam(n, 0.01), dict(betas=(0.5, 0.6), eps=1e-3, amsgrad=True),
     lambda n: mlpc.Adam(n, 0.01, betas=(0.5, 0.6), eps=1e-3, amsgrad=True)),
    (lambda n: mlpc.AdamW(n, 0.01), dict(weight_decay=0.2, clip_norm=0.05),
     lambda n: mlpc.AdamW(n, 0.01, weight_decay=0.2, clip_norm=0.05)),
], ids=["sgd", "adagrad", "rmsprop", "adam", "adamw"])
def test_settings_are_attributes_written_through(make_opt, settings, make_same):
    """Assigning a setting acts exactly as giving it to the constructor."""
    net, same = make_net(), make_net()
    opt, opt_same = make_opt(net), make_same(same)
    for name, value in settings.items():
        setattr(opt, name, value)
        assert getattr(opt, name) == value
    assert_same_state_dict(opt.state_dict(), opt_same.state_dict())
    for X, y in batches(3):
        net.train_step(X, y, LOSS, opt)
        same.train_step(X, y, LOSS, opt_same)
    assert_params_close(params_of(net), params_of(same), rtol=0)


@pytest.mark.parametrize("make_opt,name,value,exc", [
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), "momentum", 1.5, ValueError),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9, nesterov=True), "momentum", 0.0, ValueError),
    (lambda n: mlpc.SGD(n, 0.1), "nesterov", True, ValueError),
    (lambda n: mlpc.SGD(n, 0.1, momentum=0.9), "nesterov", "no", TypeError),
    (lambda n: mlpc.SGD(n, 0.1), "weight_decay", "0.1", TypeError),
    (lambda n: mlpc.SGD(n, 0.1), "clip_norm", -1.0, ValueError),
    (lambda n: mlpc.Adam(n), "betas", (0.5, 1.0), ValueError),
    (lambda n: mlpc.Adam(n), "betas", 0.5, TypeError),
    (lambda n: mlpc.Adam(n), "momentum", 0.9, AttributeError),
    (lambda n: mlpc.AdaGrad(n), "alpha", 0.9, AttributeError),
    (lambda n: mlpc.SGD(n, 0.1), "weight_decy", 0.1, AttributeError),
], ids=["momentum_1.5", "momentum_0_with_nesterov", "nesterov_without_momentum",
        "nesterov_str", "weight_decay_str", "clip_norm_negative", "betas_1", "betas_scalar",
        "adam_momentum", "adagrad_alpha", "misspelled"])
def test_bad_setting_assignment_changes_nothing(make_opt, name, value, exc):
    opt = make_opt(make_net())
    before = opt.state_dict()
    with pytest.raises(exc, match=name if exc is not AttributeError else None):
        setattr(opt, name, value)
    assert_same_state_dict(opt.state_dict(), before)
    assert name not in vars(opt)


@pytest.mark.parametrize("call", [
    lambda net, layer: mlpc.clip_grad_norm([1], 1.0),
    lambda net, layer: mlpc.clip_grad_norm(layer, 1.0),
    lambda net, layer: mlpc.clip_grad_value(None, 1.0),
    lambda net, layer: mlpc.clip_grad_value(layer, 1.0),
], ids=["norm_list", "norm_layer", "value_none", "value_layer"])
def test_clip_functions_name_the_expected_type(call):
    net = make_net()
    with pytest.raises(TypeError, match="takes a mlpc.Sequential"):
        call(net, net[0])


def test_train_step_names_a_foreign_loss():
    net = make_net()
    opt = mlpc.SGD(net, 0.1, schedule=lambda t: 0.1)
    before = opt.state_dict()
    with pytest.raises(TypeError, match="mlpc loss"):
        net.train_step(*batches(1)[0], object(), opt)
    assert_same_state_dict(opt.state_dict(), before)


def test_train_step_names_a_foreign_optimizer():
    net = make_net()
    with pytest.raises(TypeError, match="mlpc optimizer"):
        net.train_step(*batches(1)[0], LOSS, object())


def test_an_optimizer_for_a_block_of_a_network_is_refused():
    """A nested Sequential's parameters live in its outer network with all the others: an
    optimizer made for the block would update every parameter of the outer network."""
    inner = mlpc.Sequential(mlpc.ReLU(), mlpc.Linear(4, 4))
    outer = mlpc.Sequential(mlpc.Linear(3, 4), inner, mlpc.Linear(4, 2), seed=0)
    with pytest.raises(ValueError, match="block of a larger network"):
        mlpc.SGD(inner, 0.1)
    with pytest.raises(ValueError, match="block of a larger network"):
        mlpc.clip_grad_norm(inner, 1.0)
    mlpc.SGD(outer, 0.1)


def test_numbers_from_files_and_other_libraries_are_numbers():
    """np.load gives 0-d arrays, JSON may give 3.0 for a step; Decimal and one-element arrays
    are numbers too (bool and str stay refused)."""
    import decimal
    net = mlpc.Sequential(mlpc.Linear(3, 2), seed=0)
    assert mlpc.SGD(net, np.array(0.1)).lr == 0.1
    assert mlpc.SGD(net, decimal.Decimal("0.25")).lr == 0.25
    assert mlpc.Adam(net, np.float32(0.5), weight_decay=np.array(0.01)).weight_decay == \
        pytest.approx(0.01)
    opt = mlpc.SGD(net, 0.1)
    opt.load_state_dict({**opt.state_dict(), "step": 3.0})
    assert opt.state_dict()["step"] == 3
    for bad in (np.array([0.1]), np.array("0.1"), np.bool_(True)):
        with pytest.raises(TypeError):
            mlpc.SGD(net, bad)
    with pytest.raises(TypeError):
        opt.load_state_dict({**opt.state_dict(), "step": 2.5})


# --------------------------------------------------------------------------------------------
# issue 11: eps > 0, settings that do not fit the dtype, refused steps leave the schedule
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [mlpc.Adam, mlpc.AdamW, mlpc.AdaGrad, mlpc.RMSProp])
def test_eps_zero_is_refused(cls):
    """eps = 0 divides 0 by 0 wherever a gradient entry and its moment are both zero: the
    parameters of a unit that never receives a gradient became NaN after one step."""
    net = make_net()
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        cls(net, eps=0.0)
    opt = cls(net)
    with pytest.raises(ValueError, match="eps"):
        opt.eps = 0
    with pytest.raises(ValueError, match="eps"):
        opt.load_state_dict({**opt.state_dict(), "eps": 0.0})
    assert opt.eps > 0


F32_MAX = float(np.finfo(np.float32).max)


@pytest.mark.parametrize("build,field", [
    (lambda n, v: mlpc.SGD(n, lr=v), "lr"),
    (lambda n, v: mlpc.SGD(n, lr=0.1, weight_decay=v), "weight_decay"),
    (lambda n, v: mlpc.Adam(n, clip_value=v), "clip_value"),
    (lambda n, v: mlpc.RMSProp(n, clip_norm=v), "clip_norm"),
    (lambda n, v: mlpc.AdaGrad(n, eps=v), "eps"),
])
def test_settings_beyond_float32_are_refused_in_float32_networks(build, field):
    """A setting is rounded to the network's dtype: past float32's largest value it is inf
    (SGD(lr=1e39) made every parameter inf after one step). The same value is fine in float64."""
    big = F32_MAX * float(np.random.default_rng().uniform(1.01, 1e6))
    with pytest.raises(ValueError, match=f"{field} = .* does not fit a float32 network"):
        build(make_net(dtype="float32"), big)
    build(make_net(dtype="float64"), big)


def test_setting_rounding_to_a_bad_value_is_refused():
    """eps = 1e-46 is 0 in float32, β₂ = 1 − 1e-10 is 1: refused, though valid as given."""
    net = make_net(dtype="float32")
    with pytest.raises(ValueError, match="eps = 1e-46 does not fit a float32 network"):
        mlpc.Adam(net, eps=1e-46)
    with pytest.raises(ValueError, match=r"beta2 in float32 .* must be in \[0, 1\)"):
        mlpc.Adam(net, betas=(0.9, 1 - 1e-10))
    opt = mlpc.SGD(net, lr=0.1)
    with pytest.raises(ValueError, match="does not fit"):
        opt.lr = 1e39
    with pytest.raises(ValueError, match="does not fit"):
        opt.schedule = lambda t: 1e39
    with pytest.raises(ValueError, match="does not fit"):
        opt.load_state_dict({**opt.state_dict(), "weight_decay": 1e308})
    assert opt.lr == 0.1 and opt.weight_decay == 0 and opt.schedule is None
    mlpc.Adam(make_net(dtype="float64"), eps=1e-46, betas=(0.9, 1 - 1e-10))


@pytest.mark.parametrize("how", ["train_step", "step"])
def test_refused_step_leaves_the_schedule_and_lr(how):
    """A step refused for a bad label (or, for opt.step, a schedule value that is no rate)
    changes nothing: not opt.lr, not the step count, not the parameters."""
    r = np.random.default_rng()
    net = make_net()
    opt = mlpc.SGD(net, lr=0.5, schedule=lambda t: 0.5 / (1 + t) if t < 2 else -1.0)
    X, y = batches(1, seed=int(r.integers(1 << 30)))[0]
    net.train_step(X, y, LOSS, opt)
    lr, before = opt.lr, net.state_dict()
    if how == "train_step":
        with pytest.raises(ValueError):
            net.train_step(X, np.full_like(y, K), LOSS, opt)
    else:
        opt.step()   # step 1 is fine; step 2's rate is refused
        lr, before = opt.lr, net.state_dict()
        with pytest.raises(ValueError, match="schedule"):
            opt.step()
    assert opt.lr == lr and opt.step_count == (1 if how == "train_step" else 2)
    assert_same_state_dict(net.state_dict(), before)
