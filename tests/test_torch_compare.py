"""Optional comparisons with PyTorch (skipped when torch is not installed).

The same float64 weights are loaded into a torch.nn.Sequential and a mlpc.Sequential of the same
layout (layer indices, hence parameter names "0.weight" ..., coincide), then forward outputs,
losses, gradients, running statistics and several optimizer steps are compared to ~1e-10.

Conventions that differ and are accounted for here:
  * mlpc's MSELoss is 1/(2N) Σ‖ŷ − y‖²; torch's MSELoss (mean) is 1/(N·K) Σ (ŷ − y)²  → ratio K/2.
  * mlpc's BinaryCrossEntropy averages over N and sums over K; torch's mean is over N·K → ratio K.
  * mlpc's weight decay spares biases and normalization parameters unless decay_all=True;
    torch's weight_decay applies to every parameter, so decay_all=True is used against it.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import mlpc  # noqa: E402

TOL = 1e-10
torch.set_num_threads(1)

D_IN, K, N = 10, 4, 24


# elementwise layers: name -> (mlpc layer, torch module) factory
_ELEMENTWISE = {
    "relu": lambda: (mlpc.ReLU(), torch.nn.ReLU()),
    "tanh": lambda: (mlpc.Tanh(), torch.nn.Tanh()),
    "gelu": lambda: (mlpc.GELU(), torch.nn.GELU()),
    "gelu_tanh": lambda: (mlpc.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
    "sigmoid": lambda: (mlpc.Sigmoid(), torch.nn.Sigmoid()),
    "elu": lambda: (mlpc.ELU(0.7), torch.nn.ELU(0.7)),
    "selu": lambda: (mlpc.SELU(), torch.nn.SELU()),
    "softplus": lambda: (mlpc.Softplus(), torch.nn.Softplus()),
    "silu": lambda: (mlpc.SiLU(), torch.nn.SiLU()),
    "leaky_relu": lambda: (mlpc.LeakyReLU(0.05), torch.nn.LeakyReLU(0.05)),
    "softsign": lambda: (mlpc.Softsign(), torch.nn.Softsign()),
    "prelu": lambda: (mlpc.PReLU(), torch.nn.PReLU()),
}


def _pairs(spec):
    """(mlpc layer, torch module) for the names in spec."""
    out = []
    width = D_IN
    for item in spec:
        kind, arg = item if isinstance(item, tuple) else (item, None)
        if kind == "linear":
            out.append((mlpc.Linear(width, arg), torch.nn.Linear(width, arg)))
            width = arg
        elif kind == "batchnorm":
            out.append((mlpc.BatchNorm(width), torch.nn.BatchNorm1d(width)))
        elif kind == "layernorm":
            out.append((mlpc.LayerNorm(width), torch.nn.LayerNorm(width)))
        else:
            out.append(_ELEMENTWISE[kind]())
    return out


MAIN = [("linear", 16), "relu", "batchnorm", ("linear", 12), "layernorm", "tanh",
        ("linear", 8), "gelu", ("linear", K)]
# a bias right before batch norm has a zero gradient in exact arithmetic (rounding noise only)
BIAS_BEFORE_BN = [("linear", 16), "batchnorm", "relu", ("linear", K)]


def build(spec=MAIN, seed=0):
    """A mlpc and a torch network with identical float64 parameters (γ, β randomized too)."""
    pairs = _pairs(spec)
    net = mlpc.Sequential(*[p[0] for p in pairs], dtype="float64", seed=seed)
    tnet = torch.nn.Sequential(*[p[1] for p in pairs]).double()
    rng = np.random.default_rng(seed + 100)
    tparams = dict(tnet.named_parameters())
    assert set(tparams) == {n for n, _, _ in net.named_parameters()}
    for name, value, _ in net.named_parameters():
        if not name.endswith(".weight") or not isinstance(
                net[int(name.split(".")[0])], mlpc.Linear):
            value[...] = rng.normal(scale=0.5, size=value.shape) + (
                1.0 if name.endswith(".weight") else 0.0)
        with torch.no_grad():
            tparams[name].copy_(torch.from_numpy(np.array(value)))
    return net, tnet


def data(seed=1, n=N):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, D_IN)), rng.integers(0, K, size=n)


def to_np(t):
    return t.detach().cpu().numpy()


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-300))


def assert_close(a, b, tol=TOL, what=""):
    err = rel(a, b)
    assert err <= tol, f"{what}: relative error {err:.3e}"


def assert_same_grads(net, tnet, factor=1.0, tol=TOL):
    """Each gradient to tol relative to the largest gradient entry of the network."""
    tparams = dict(tnet.named_parameters())
    scale = max(np.max(np.abs(g)) for _, _, g in net.named_parameters())
    for name, _, grad in net.named_parameters():
        err = np.max(np.abs(grad - factor * to_np(tparams[name].grad))) / scale
        assert err <= tol, f"{name}: error {err:.3e} (relative to the largest gradient entry)"


def assert_same_params(net, tnet, tol=TOL):
    tparams = dict(tnet.named_parameters())
    for name, value, _ in net.named_parameters():
        assert_close(value, to_np(tparams[name]), tol, name)


def torch_grads(tnet, X, y, loss_fn=None):
    xt = torch.from_numpy(X).requires_grad_(True)
    tnet.zero_grad()
    out = tnet(xt)
    loss = (loss_fn or torch.nn.CrossEntropyLoss())(out, torch.from_numpy(y))
    loss.backward()
    return out, loss, xt


# --------------------------------------------------------------------------------------------
# forward and backward
# --------------------------------------------------------------------------------------------

def test_forward_train_and_eval():
    net, tnet = build()
    X, _ = data()
    assert_close(net(X), to_np(tnet(torch.from_numpy(X))), what="train forward")
    # the running statistics after one training batch (torch: unbiased variance, momentum 0.1)
    for name, value in net.named_buffers():
        assert_close(value, to_np(dict(tnet.named_buffers())[name]), what=name)
    net.eval()
    tnet.eval()
    X2, _ = data(seed=7, n=5)
    assert_close(net(X2), to_np(tnet(torch.from_numpy(X2))), what="eval forward")


@pytest.mark.parametrize("spec", [MAIN, BIAS_BEFORE_BN], ids=["main", "bias_before_bn"])
def test_cross_entropy_gradients(spec):
    net, tnet = build(spec)
    X, y = data()
    cost = net.cost(X, y, mlpc.SoftmaxCrossEntropy())
    dX = net.backward()
    out, loss, xt = torch_grads(tnet, X, y)
    assert cost == pytest.approx(loss.item(), rel=TOL)
    assert_close(dX, to_np(xt.grad), what="input gradient")
    assert_same_grads(net, tnet)
    if spec is MAIN:   # every tensor on its own too
        tparams = dict(tnet.named_parameters())
        for name, _, grad in net.named_parameters():
            assert_close(grad, to_np(tparams[name].grad), what=name)


@pytest.mark.parametrize("act", ["gelu_tanh", "sigmoid", "elu", "selu", "softplus", "silu",
                                 "leaky_relu", "softsign", "prelu"])
def test_activation_gradients(act):
    net, tnet = build([("linear", 9), act, ("linear", K)], seed=3)
    X, y = data(seed=4)
    X *= 2.0
    cost = net.cost(X, y, mlpc.SoftmaxCrossEntropy())
    dX = net.backward()
    _, loss, xt = torch_grads(tnet, X, y)
    assert cost == pytest.approx(loss.item(), rel=TOL)
    assert_close(dX, to_np(xt.grad), what="input gradient")
    assert_same_grads(net, tnet)


def test_mse_and_bce_conventions():
    net, tnet = build([("linear", 7), "tanh", ("linear", K)], seed=5)
    X, _ = data(seed=6)
    rng = np.random.default_rng(8)
    Y = rng.normal(size=(N, K))
    cost = net.cost(X, Y, mlpc.MSELoss())
    net.backward()
    _, loss, _ = torch_grads(tnet, X, Y, torch.nn.MSELoss())
    assert cost == pytest.approx(K / 2 * loss.item(), rel=TOL)
    assert_same_grads(net, tnet, factor=K / 2)

    T = rng.uniform(size=(N, K))
    net.zero_grad()
    cost = net.cost(X, T, mlpc.BinaryCrossEntropy())
    net.backward()
    _, loss, _ = torch_grads(tnet, X, T, torch.nn.BCEWithLogitsLoss())
    assert cost == pytest.approx(K * loss.item(), rel=TOL)
    assert_same_grads(net, tnet, factor=K)


def test_float32_forward_close():
    net, tnet = build()
    net32 = net.copy(dtype="float32")
    X, _ = data()
    out = net32(X.astype(np.float32))
    assert out.dtype == np.float32
    assert_close(out, to_np(tnet(torch.from_numpy(X))), tol=1e-5, what="float32 forward")


# --------------------------------------------------------------------------------------------
# optimizer steps
# --------------------------------------------------------------------------------------------

OPTIMIZERS = [
    ("sgd_momentum", lambda n: mlpc.SGD(n, lr=0.05, momentum=0.9),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    ("sgd_nesterov_wd", lambda n: mlpc.SGD(n, lr=0.05, momentum=0.9, nesterov=True,
                                           weight_decay=1e-2, decay_all=True),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    ("adam", lambda n: mlpc.Adam(n, lr=0.01),
     lambda p: torch.optim.Adam(p, lr=0.01)),
    ("adam_amsgrad_wd", lambda n: mlpc.Adam(n, lr=0.01, betas=(0.8, 0.9), amsgrad=True,
                                            weight_decay=0.05, decay_all=True),
     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.9), amsgrad=True, weight_decay=0.05)),
    ("adamw", lambda n: mlpc.AdamW(n, lr=0.01, weight_decay=0.1, decay_all=True),
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
    ("rmsprop_momentum", lambda n: mlpc.RMSProp(n, lr=0.005, alpha=0.9, momentum=0.5),
     lambda p: torch.optim.RMSprop(p, lr=0.005, alpha=0.9, momentum=0.5)),
    ("adagrad", lambda n: mlpc.AdaGrad(n, lr=0.05),
     lambda p: torch.optim.Adagrad(p, lr=0.05)),
]


@pytest.mark.parametrize("name,make_mlpc,make_torch", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_optimizer_steps(name, make_mlpc, make_torch):
    net, tnet = build()
    opt = make_mlpc(net)
    topt = make_torch(tnet.parameters())
    loss_fn = mlpc.SoftmaxCrossEntropy()
    tloss = torch.nn.CrossEntropyLoss()
    for step in range(6):
        X, y = data(seed=10 + step)
        cost = net.train_step(X, y, loss_fn, opt)
        topt.zero_grad()
        loss = tloss(tnet(torch.from_numpy(X)), torch.from_numpy(y))
        loss.backward()
        topt.step()
        assert cost == pytest.approx(loss.item(), rel=TOL)
        assert_same_params(net, tnet)
    for name_, value in net.named_buffers():
        assert_close(value, to_np(dict(tnet.named_buffers())[name_]), what=name_)


def test_adamw_default_spares_biases_unlike_torch_decay_all():
    """mlpc's default decays Linear weights only: equal to torch with two parameter groups."""
    net, tnet = build()
    opt = mlpc.AdamW(net, lr=0.01, weight_decay=0.1)
    linear = {f"{i}.weight" for i, layer in enumerate(net.layers) if isinstance(layer, mlpc.Linear)}
    decay = [p for n, p in tnet.named_parameters() if n in linear]
    rest = [p for n, p in tnet.named_parameters() if n not in linear]
    topt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                              {"params": rest, "weight_decay": 0.0}], lr=0.01)
    for step in range(4):
        X, y = data(seed=20 + step)
        net.train_step(X, y, mlpc.SoftmaxCrossEntropy(), opt)
        topt.zero_grad()
        torch.nn.CrossEntropyLoss()(tnet(torch.from_numpy(X)), torch.from_numpy(y)).backward()
        topt.step()
        assert_same_params(net, tnet)


def test_clip_grad_norm_like_torch():
    """torch divides by (total + 1e-6); mlpc rescales to exactly max_norm."""
    net, tnet = build()
    X, y = data()
    net.cost(X, y, mlpc.SoftmaxCrossEntropy())
    net.backward()
    torch_grads(tnet, X, y)
    total = mlpc.clip_grad_norm(net, 0.1)
    ttotal = torch.nn.utils.clip_grad_norm_(tnet.parameters(), 0.1)
    assert total == pytest.approx(ttotal.item(), rel=TOL)
    assert_same_grads(net, tnet, tol=1e-5 / total + TOL)
