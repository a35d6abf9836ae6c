"""Optimizers: Python handles over C state, updating all parameters in one fused pass.

    opt = mlpc.Adam(net, lr=1e-3)
    cost = net.train_step(X, y, loss_fn, opt)      # or: forward, loss, backward, opt.step()

Weight decay is coupled (added to the gradient, as λ·w) in SGD, AdaGrad, RMSProp and Adam, and
decoupled in AdamW (w ← w − η λ w before the Adam step). By default it applies to weight
matrices only, not to biases and normalization parameters, like the notes' regularizer;
decay_all=True applies it to every tensor. Gradient clipping (clip_norm: global L2 norm;
clip_value: each entry) runs inside the fused step. A schedule (any callable step → lr) sets
opt.lr before every step.

Each rule takes only the options it uses (AdaGrad(momentum=0.9) is a TypeError). Every setting is
an attribute (opt.momentum, opt.betas, opt.clip_norm, ...) that is checked when assigned, as the
constructor checks it, and written through to the C config; assigning anything else raises
AttributeError.
"""
from __future__ import annotations

import inspect
import numbers
from collections.abc import Mapping

from typing import Any, Callable, Optional, Union

import numpy as np

from . import _core
from . import _registry
from ._choices import check_choice
from ._limits import in_dtype
from .losses import Loss
from .network import Sequential
from .schedules import _real, as_schedule

ScheduleLike = Union[float, Callable[[int], float], None]


# -- checks, one per kind of setting: shared by the constructors, attribute assignment and
#    load_state_dict, so the three cannot drift apart ---------------------------------------------
def _positive(name, value, allow_zero=True):
    """A finite real number >= 0 (> 0 unless allow_zero). As in mlpc.schedules, bool and str are
    refused, not converted: lr=True would be a rate of 1.0 and lr="0.1" is a slip."""
    value = _real(name, value)
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, "
                         f"got {value!r}")
    return value


def _nonzero(name, value):
    """A finite real number > 0: eps, which the update divides by where a gradient entry and its
    moment are both 0 (eps = 0 gives 0/0 = NaN there)."""
    return _positive(name, value, allow_zero=False)


def _fraction(name, value):
    """A decay factor (momentum μ, RMSProp's α, Adam's β) in [0, 1): at 1 or above the remembered
    term never fades and the iteration diverges."""
    value = _real(name, value)
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return value


def _flag(name, value):
    """True or False only: any truthy object (nesterov="no") would otherwise switch it on."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _bound(name, value):
    """A clipping bound; None or 0 turns the clipping off."""
    return 0.0 if value is None else _positive(name, value)


def _step_count(name, value):
    """A number of updates; the C config keeps it as an unsigned 64-bit integer. A whole float
    (3.0, as JSON may give back) is that int."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)) and \
            float(value).is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if not 0 <= value < 2 ** 64:
        raise ValueError(f"{name} must be an int in [0, 2**64), got {value!r}")
    return int(value)


def _betas(betas):
    """Adam's (β₁, β₂) as the C config fields beta1 and beta2."""
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise TypeError(f"betas must be a pair of numbers, got {betas!r}") from None
    return {"beta1": _fraction("betas[0]", b1), "beta2": _fraction("betas[1]", b2)}


def _check_net(who, net):
    if not isinstance(net, Sequential):
        raise TypeError(f"{who} takes a mlpc.Sequential, got {type(net).__name__}")
    if net._outer() is not None:   # its parameters live in that network, with all the others
        raise ValueError(f"{who}: this Sequential is a block of a larger network; use that "
                         f"network")
    return net


def _scheduled_lr(schedule, step, dtype):
    """The schedule's rate for the next update, checked like lr itself: a schedule that returns
    "0.1", True or NaN is an error, not a rate."""
    return _check_field("lr", schedule(step), dtype,
                        name=f"lr (the schedule's value at step {step})")


# The C config fields, which are also the state_dict keys, each with its check.
_CHECKS = {"lr": _positive, "momentum": _fraction, "alpha": _fraction, "beta1": _fraction,
           "beta2": _fraction, "eps": _nonzero, "weight_decay": _positive, "nesterov": _flag,
           "amsgrad": _flag, "decay_all": _flag, "clip_norm": _bound, "clip_value": _bound}


def _check_field(field, value, dtype, name=None):
    """A config field checked as given, then as the update sees it: the core rounds every
    setting to the network's dtype, where lr = 1e39 is inf and β₂ = 1 − 1e-10 is 1."""
    name = name or field
    check = _CHECKS[field]
    value = check(name, value)
    if check is not _flag:
        rounded = float(in_dtype(name, value, dtype))
        check(f"{name} in {dtype} (rounded to {rounded!r})", rounded)
    return value
_COMMON = ("weight_decay", "decay_all", "clip_norm", "clip_value")   # fields every rule uses


def _setting(field, doc):
    """An attribute for one C config field: read from it; written to it after the constructor's
    check (with the other settings, as SGD's nesterov needs momentum > 0)."""
    def get(self):
        return self._config()[field]

    def set(self, value):
        self._configure({field: value})
    return property(get, set, doc=doc)


def _arguments(function):
    return [name for name, p in inspect.signature(function).parameters.items()
            if name not in ("self", "net", "fields") and p.kind is not p.VAR_KEYWORD]


class Optimizer:
    """Base class: the C state, the settings, lr/schedule handling, state_dict."""

    _kind: int
    _fields: tuple[str, ...] = ()    # the C config fields the rule uses besides lr and _COMMON: repr, state_dict
    _squares: tuple[int, ...] = ()   # rows of the state holding sums or averages of g²: never negative
    _attributes = ("net", "_core", "_schedule")   # the only plain attributes (see __setattr__)

    def __init__(self, net: Any, lr: float, fields: dict[str, Any], schedule: ScheduleLike = None,
                 clip_norm: Optional[float] = None, clip_value: Optional[float] = None,
                 decay_all: bool = False, **unknown: Any) -> None:
        if unknown:
            self._refuse(unknown)
        self.net = _check_net(type(self).__name__, net)
        config = self._checked({"lr": lr, **fields, "decay_all": decay_all,
                                "clip_norm": clip_norm, "clip_value": clip_value}, net.dtype)
        self._core = _core.Optimizer(net._ensure_core(), self._kind, **config)
        self.schedule = schedule

    @classmethod
    def _refuse(cls, unknown):
        # an option the rule does not use would be accepted and then have no effect
        takes = dict.fromkeys(_arguments(cls.__init__) + _arguments(Optimizer.__init__))
        raise TypeError(f"{cls.__name__} does not use {', '.join(map(repr, unknown))}; "
                        f"it takes {', '.join(takes)}")

    # -- settings --------------------------------------------------------------------------------
    @classmethod
    def _config_fields(cls):
        return ("lr",) + cls._fields + _COMMON

    @classmethod
    def _checked(cls, config, dtype):
        """config (C field → value) with every value checked for a network of `dtype`, then
        their combination."""
        config = {field: _check_field(field, value, dtype) for field, value in config.items()}
        cls._check_combination(config)
        return config

    @classmethod
    def _check_combination(cls, config):
        """Constraints between settings (see SGD)."""

    def _config(self):
        """The current settings, C field → value (flags as bool)."""
        values = {field: getattr(self._core, field) for field in self._config_fields()}
        return {field: bool(v) if _CHECKS[field] is _flag else v for field, v in values.items()}

    def _configure(self, changes):
        """Write changes (C field → value) to the C config, checked with the other settings; a
        refused change writes nothing."""
        config = self._checked({**self._config(), **changes}, self.net.dtype)
        for field in changes:
            setattr(self._core, field, config[field])

    weight_decay = _setting("weight_decay", "λ >= 0")
    decay_all = _setting("decay_all", "True: weight decay on every tensor, not only weights")
    clip_norm = _setting("clip_norm", "> 0: clip the global gradient norm; 0 (or None): off")
    clip_value = _setting("clip_value", "> 0: clamp each gradient entry; 0 (or None): off")

    def __setattr__(self, name: str, value: Any) -> None:
        # Without this, adam.momentum = 0.9 or opt.weight_decy = 0 would make a Python attribute
        # that no update ever reads.
        cls = type(self)
        if name not in self._attributes and not isinstance(getattr(cls, name, None), property):
            settings = [n for n in dir(cls)
                        if isinstance(getattr(cls, n), property) and getattr(cls, n).fset]
            raise AttributeError(f"{cls.__name__} has no setting {name!r}; its settings are "
                                 f"{', '.join(settings)}")
        super().__setattr__(name, value)   # a read-only property (step_count) refuses itself

    # -- learning rate -------------------------------------------------------------------------
    @property
    def lr(self) -> float:
        return self._core.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._core.lr = _check_field("lr", value, self.net.dtype)

    @property
    def schedule(self) -> Optional[Callable[[int], float]]:
        return self._schedule

    @schedule.setter
    def schedule(self, schedule: ScheduleLike) -> None:
        schedule = None if schedule is None else as_schedule(schedule)
        if schedule is not None:   # a schedule that gives a bad rate now is refused, not installed
            self._core.lr = _scheduled_lr(schedule, self._core.step_count, self.net.dtype)
        self._schedule = schedule

    def _scheduled(self, update, *args):
        """update(*args) at the schedule's rate; a refused update (a bad label, a bad rate)
        leaves opt.lr as it was, like everything else."""
        if self._schedule is None:
            return update(*args)
        previous = self._core.lr
        try:
            self._core.lr = _scheduled_lr(self._schedule, self._core.step_count, self.net.dtype)
            return update(*args)
        except BaseException:
            self._core.lr = previous
            raise

    @property
    def step_count(self) -> int:
        return self._core.step_count

    @property
    def last_grad_norm(self) -> float:
        """The global gradient norm at the last step, before clipping."""
        return self._core.last_grad_norm

    # -- stepping --------------------------------------------------------------------------------
    def step(self) -> None:
        """One update from the gradients as they are."""
        self._scheduled(self._core.step)

    def zero_grad(self) -> None:
        self.net.zero_grad()

    def _train_step(self, core_net, x, targets, loss_fn):
        if not isinstance(loss_fn, Loss):
            raise TypeError(f"train_step takes a mlpc loss (mlpc.SoftmaxCrossEntropy, ...), "
                            f"got {type(loss_fn).__name__}")
        return self._scheduled(core_net.train_step, x, targets, loss_fn.kind, self._core)

    # -- saving ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain numbers and NumPy arrays: the step count, hyper-parameters, state buffers.
        nesterov is in every rule's dict (always False outside SGD): saved files keep one
        format."""
        d = {"type": type(self).__name__, "step": int(self._core.step_count),
             "state": np.array(self._core.state), "nesterov": False}
        d.update(self._config())
        return d

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        """Restore what state_dict gave. Every field is checked as the constructor checks it,
        and nothing is applied unless all of them pass."""
        name = type(self).__name__
        if not isinstance(d, Mapping):
            raise TypeError(f"load_state_dict takes a dict, got {type(d).__name__}")
        kind = d.get("type")
        if kind is None or isinstance(kind, str) and kind != name:     # another rule's, or none
            raise ValueError(f"expected the state dict of a {name} (type {name!r}), got type "
                             f"{kind!r}")
        check_choice(f"{name} state dict: type", kind, (name,))        # not a string at all
        expected = {"type", "step", "state", "nesterov", *self._config_fields()}
        missing, unexpected = sorted(expected - set(d)), sorted(set(d) - expected)
        if missing or unexpected:
            raise KeyError(f"{name} state dict: missing {missing}, unexpected {unexpected}")
        if "nesterov" not in self._fields and _flag("nesterov", d["nesterov"]):
            raise ValueError(f"{name} has no Nesterov variant, got nesterov=True")
        config = self._checked({field: d[field] for field in self._config_fields()},
                               self.net.dtype)
        step = _step_count("step", d["step"])
        state = self._checked_state(d["state"])
        c = self._core   # everything checked: from here on nothing can fail
        c.state[...] = state
        c.step_count = step
        for field, value in config.items():
            setattr(c, field, value)

    def _checked_state(self, state):
        """The state buffers in the C state's dtype: right shape, real, finite, and no negative
        sums of squares (their square roots would be NaN)."""
        expected = self._core.state
        state = np.asarray(state)
        if state.shape != expected.shape:
            raise ValueError(f"optimizer state: expected shape {expected.shape}, got {state.shape}")
        if state.dtype.kind not in "iuf":
            raise TypeError(f"optimizer state: expected real numbers, got dtype {state.dtype}")
        with np.errstate(over="ignore"):   # checked after the cast: 1e300 is inf in float32
            state = state.astype(expected.dtype)
        if not np.isfinite(state).all():
            raise ValueError(f"optimizer state: expected finite values, got "
                             f"{state[~np.isfinite(state)][0]}")
        for row in self._squares:
            if (state[row] < 0).any():
                raise ValueError(f"optimizer state: row {row} holds squared gradients, expected "
                                 f"values >= 0, got {state[row].min()}")
        return state

    def __reduce_ex__(self, protocol):   # pickle: through the optimizer file format
        return _registry.reduce_optimizer(self)

    def __repr__(self) -> str:
        """Every setting that changes the update: the rule's own, then weight decay, clipping and
        the schedule when they are on (decay_all when weight decay is)."""
        config = self._config()
        shown = list(("lr",) + self._fields)
        if config["weight_decay"]:
            shown += ["weight_decay"] + (["decay_all"] if config["decay_all"] else [])
        shown += [n for n in ("clip_norm", "clip_value") if config[n]]
        args = [f"{n}={config[n]}" for n in shown]
        if self._schedule is not None:
            args.append(f"schedule={self._schedule!r}")
        return f"{type(self).__name__}({', '.join(args)})"


class SGD(Optimizer):
    """Gradient descent with momentum in the notes' form: Δw(τ) = −η ∇E + μ Δw(τ−1), w += Δw.
    PyTorch keeps b = μ b + ∇E and steps w −= η b; with a constant η the two are the same
    (Δw = −η b). nesterov=True steps w += μ Δw(τ) − η ∇E (PyTorch's Nesterov for constant η) and
    needs momentum > 0."""

    _kind = _core.OPT_SGD
    _fields = ("momentum", "nesterov")
    momentum = _setting("momentum", "μ in [0, 1)")
    nesterov = _setting("nesterov", "Nesterov momentum (needs momentum > 0)")

    def __init__(self, net: Any, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, **options: Any) -> None:
        super().__init__(net, lr, dict(momentum=momentum, nesterov=nesterov,
                                       weight_decay=weight_decay), **options)

    @classmethod
    def _check_combination(cls, config):
        # with μ = 0 the C update is plain gradient descent and ignores nesterov
        if config["nesterov"] and config["momentum"] == 0:
            raise ValueError("SGD: Nesterov momentum (nesterov=True) needs momentum > 0")


class AdaGrad(Optimizer):
    """G += g²; w −= η g/(√G + eps)  (Duchi et al. 2011)."""

    _kind = _core.OPT_ADAGRAD
    _fields = ("eps",)
    _squares = (0,)
    eps = _setting("eps", "> 0, added to √G")

    def __init__(self, net: Any, lr: float = 0.01, eps: float = 1e-10, weight_decay: float = 0.0,
                 **options: Any) -> None:
        super().__init__(net, lr, dict(eps=eps, weight_decay=weight_decay), **options)


class RMSProp(Optimizer):
    """v = α v + (1 − α) g²; w −= η g/(√v + eps), or with momentum μ: b = μ b + g/(√v + eps),
    w −= η b (PyTorch's definition; no Nesterov variant)."""

    _kind = _core.OPT_RMSPROP
    _fields = ("alpha", "eps", "momentum")
    _squares = (0,)
    alpha = _setting("alpha", "smoothing constant α in [0, 1)")
    eps = _setting("eps", "> 0, added to √v")
    momentum = _setting("momentum", "μ in [0, 1)")

    def __init__(self, net: Any, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 momentum: float = 0.0, weight_decay: float = 0.0, **options: Any) -> None:
        super().__init__(net, lr, dict(alpha=alpha, eps=eps, momentum=momentum,
                                       weight_decay=weight_decay), **options)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): m = β₁m + (1 − β₁)g, v = β₂v + (1 − β₂)g², with the exact bias
    corrections m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ); w −= η m̂/(√v̂ + eps). amsgrad uses max v."""

    _kind = _core.OPT_ADAM
    _fields = ("beta1", "beta2", "eps", "amsgrad")
    _squares = (1, 2)
    eps = _setting("eps", "> 0, added to √v̂")
    amsgrad = _setting("amsgrad", "True: use the running maximum of v")

    def __init__(self, net: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 **options: Any) -> None:
        super().__init__(net, lr, dict(**_betas(betas), eps=eps, weight_decay=weight_decay,
                                       amsgrad=amsgrad), **options)

    @property
    def betas(self) -> tuple[float, float]:
        """(β₁, β₂), each in [0, 1)."""
        return (self._core.beta1, self._core.beta2)

    @betas.setter
    def betas(self, betas: tuple[float, float]) -> None:
        self._configure(_betas(betas))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): w ← w − η λ w, then Adam."""

    _kind = _core.OPT_ADAMW

    def __init__(self, net: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, amsgrad: bool = False,
                 **options: Any) -> None:
        super().__init__(net, lr, betas, eps, weight_decay, amsgrad, **options)


def clip_grad_norm(net: Any, max_norm: float) -> float:
    """Rescale all gradients so their global L2 norm is at most max_norm; returns the norm
    before clipping."""
    _check_net("clip_grad_norm", net)
    max_norm = _positive("max_norm", max_norm, allow_zero=False)
    core = net._ensure_core()
    norm = core.grad_norm()
    if norm > max_norm:
        grads = core.flat(True)
        grads *= max_norm / norm
    return norm


def clip_grad_value(net: Any, clip: float) -> None:
    """Clamp every gradient entry to [−clip, clip]."""
    _check_net("clip_grad_value", net)
    clip = _positive("clip", clip, allow_zero=False)
    grads = net._ensure_core().flat(True)
    np.clip(grads, -clip, clip, out=grads)
