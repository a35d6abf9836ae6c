"""Optimizers: Python handles over C state, updating all parameters in one fused pass.

    opt = mlpc.Adam(net, lr=1e-3)
    cost = net.train_step(X, y, loss_fn, opt)      # or: forward, loss, backward, opt.step()

Weight decay is coupled (added to the gradient, as λ·w) in SGD, AdaGrad, RMSProp and Adam, and
decoupled in AdamW (w ← w − η λ w before the Adam step). By default it applies to weight
matrices only, not to biases and normalization parameters, like the notes' regularizer;
decay_all=True applies it to every tensor. Gradient clipping (clip_norm: global L2 norm;
clip_value: each entry) runs inside the fused step. A schedule (any callable step → lr) sets
opt.lr before every step.
"""
import numpy as np

from . import _core
from .schedules import as_schedule


def _positive(name, value, allow_zero=True):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, "
                         f"got {value!r}")
    return value


_COMMON = ("weight_decay", "clip_norm", "clip_value", "decay_all", "nesterov")


class Optimizer:
    """Base class: the C state, lr/schedule handling, state_dict."""

    _kind = None
    _hyper = ()    # names of the float hyper-parameters shown in repr and saved in state_dict

    def __init__(self, net, lr, schedule=None, clip_norm=None, clip_value=None, decay_all=False,
                 **hyper):
        from .network import Sequential
        if not isinstance(net, Sequential):
            raise TypeError(f"an optimizer takes a mlpc.Sequential, got {type(net).__name__}")
        self.net = net
        core_net = net._ensure_core()
        self._core = _core.Optimizer(core_net, self._kind, _positive("lr", lr), **hyper,
                                     decay_all=bool(decay_all),
                                     clip_norm=_positive("clip_norm", clip_norm or 0),
                                     clip_value=_positive("clip_value", clip_value or 0))
        self.schedule = schedule

    # -- learning rate -------------------------------------------------------------------------
    @property
    def lr(self):
        return self._core.lr

    @lr.setter
    def lr(self, value):
        self._core.lr = _positive("lr", value)

    @property
    def schedule(self):
        return self._schedule

    @schedule.setter
    def schedule(self, schedule):
        schedule = None if schedule is None else as_schedule(schedule)
        if schedule is not None:   # a schedule that gives a bad rate now is refused, not installed
            self.lr = schedule(self._core.step_count)
        self._schedule = schedule

    def _apply_schedule(self):
        if self._schedule is not None:
            self.lr = self._schedule(self._core.step_count)

    @property
    def step_count(self):
        return self._core.step_count

    @property
    def last_grad_norm(self):
        """The global gradient norm at the last step, before clipping."""
        return self._core.last_grad_norm

    # -- stepping --------------------------------------------------------------------------------
    def step(self):
        """One update from the gradients as they are."""
        self._apply_schedule()
        self._core.step()

    def zero_grad(self):
        self.net.zero_grad()

    def _train_step(self, core_net, x, targets, loss_fn):
        self._apply_schedule()
        return core_net.train_step(x, targets, loss_fn.kind, self._core)

    # -- saving ----------------------------------------------------------------------------------
    def state_dict(self):
        """Plain numbers and NumPy arrays: the step count, hyper-parameters, state buffers."""
        c = self._core
        d = {"type": type(self).__name__, "step": int(c.step_count), "lr": c.lr,
             "state": np.array(c.state)}
        for name in self._hyper + _COMMON:
            d[name] = getattr(c, name)
        return d

    def load_state_dict(self, d):
        c = self._core
        if d.get("type") != type(self).__name__:
            raise ValueError(f"state dict of a {d.get('type')}, not a {type(self).__name__}")
        state = np.asarray(d["state"])
        if state.shape != c.state.shape:
            raise ValueError(f"optimizer state: expected shape {c.state.shape}, got {state.shape}")
        c.state[...] = state
        c.step_count = int(d["step"])
        c.lr = float(d["lr"])
        for name in self._hyper + _COMMON:
            setattr(c, name, d[name])

    def __repr__(self):
        args = ", ".join(f"{n}={getattr(self._core, n)}" for n in ("lr",) + self._hyper)
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent with momentum in the notes' form: Δw(τ) = −η ∇E + μ Δw(τ−1), w += Δw.
    PyTorch keeps b = μ b + ∇E and steps w −= η b; with a constant η the two are the same
    (Δw = −η b). nesterov=True steps w += μ Δw(τ) − η ∇E (PyTorch's Nesterov for constant η)."""

    _kind = _core.OPT_SGD
    _hyper = ("momentum",)

    def __init__(self, net, lr, momentum=0.0, nesterov=False, weight_decay=0.0, **options):
        momentum = _positive("momentum", momentum)
        if nesterov and momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        super().__init__(net, lr, momentum=momentum, nesterov=bool(nesterov),
                         weight_decay=_positive("weight_decay", weight_decay), **options)


class AdaGrad(Optimizer):
    """G += g²; w −= η g/(√G + eps)  (Duchi et al. 2011)."""

    _kind = _core.OPT_ADAGRAD
    _hyper = ("eps",)

    def __init__(self, net, lr=0.01, eps=1e-10, weight_decay=0.0, **options):
        super().__init__(net, lr, eps=_positive("eps", eps),
                         weight_decay=_positive("weight_decay", weight_decay), **options)


class RMSProp(Optimizer):
    """v = α v + (1 − α) g²; w −= η g/(√v + eps), or with momentum μ: b = μ b + g/(√v + eps),
    w −= η b (PyTorch's definition)."""

    _kind = _core.OPT_RMSPROP
    _hyper = ("alpha", "eps", "momentum")

    def __init__(self, net, lr=0.01, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0,
                 **options):
        alpha = _positive("alpha", alpha)
        if alpha >= 1:
            raise ValueError(f"alpha must be in [0, 1), got {alpha}")
        super().__init__(net, lr, alpha=alpha, eps=_positive("eps", eps),
                         momentum=_positive("momentum", momentum),
                         weight_decay=_positive("weight_decay", weight_decay), **options)


def _betas(betas):
    try:
        b1, b2 = (float(b) for b in betas)
    except (TypeError, ValueError):
        raise TypeError(f"betas must be a pair of numbers, got {betas!r}") from None
    if not (0 <= b1 < 1 and 0 <= b2 < 1):
        raise ValueError(f"betas must be in [0, 1), got {betas!r}")
    return b1, b2


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): m = β₁m + (1 − β₁)g, v = β₂v + (1 − β₂)g², with the exact bias
    corrections m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ); w −= η m̂/(√v̂ + eps). amsgrad uses max v."""

    _kind = _core.OPT_ADAM
    _hyper = ("beta1", "beta2", "eps", "amsgrad")

    def __init__(self, net, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, **options):
        b1, b2 = _betas(betas)
        super().__init__(net, lr, beta1=b1, beta2=b2, eps=_positive("eps", eps),
                         weight_decay=_positive("weight_decay", weight_decay),
                         amsgrad=bool(amsgrad), **options)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): w ← w − η λ w, then Adam."""

    _kind = _core.OPT_ADAMW

    def __init__(self, net, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
                 amsgrad=False, **options):
        super().__init__(net, lr, betas, eps, weight_decay, amsgrad, **options)


def clip_grad_norm(net, max_norm):
    """Rescale all gradients so their global L2 norm is at most max_norm; returns the norm
    before clipping."""
    max_norm = _positive("max_norm", max_norm, allow_zero=False)
    core = net._ensure_core()
    norm = core.grad_norm()
    if norm > max_norm:
        grads = core.flat(True)
        grads *= max_norm / norm
    return norm


def clip_grad_value(net, clip):
    """Clamp every gradient entry to [−clip, clip]."""
    clip = _positive("clip", clip, allow_zero=False)
    grads = net._ensure_core().flat(True)
    np.clip(grads, -clip, clip, out=grads)
