"""Layers: descriptions that a Sequential turns into one C network.

A layer holds its configuration; once placed in a `Sequential` its parameters live in that
network's memory and `layer.weight`, `layer.output`, `layer.grad_output` are NumPy views of it.
A layer belongs to the last network built from it (building a new network from the same layer
objects carries their current values over: parameters, batch-norm running statistics, dropout
generator states), and sits at one place in it: weight sharing is not supported.
"""
from __future__ import annotations

import copy
from typing import Any, Iterator, Optional

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from . import _registry
from ._choices import check_choice
from . import _seed
from . import init as _init


def _check_features(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _check_number(name, value, lo=None, hi=None, hi_open=False):
    try:
        value = float(value)
    except OverflowError:   # an int beyond float range (10**400): not finite
        value = np.inf
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(value) or (lo is not None and value < lo) or \
            (hi is not None and (value >= hi if hi_open else value > hi)):
        bounds = f"[{lo}, {hi}{')' if hi_open else ']'}" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be finite{' and in ' + bounds if lo is not None else ''}, "
                         f"got {value!r}")
    return value


def _undo_log(objects):
    """A function that puts every attribute of `objects`, and the package-wide seed source, back
    as they are now: a build or call that fails runs it, so that it changes nothing."""
    saved = [(obj, dict(obj.__dict__)) for obj in objects]
    seed_state = _seed.source_state()

    def undo():
        for obj, attributes in saved:
            obj.__dict__.clear()
            obj.__dict__.update(attributes)
        _seed.set_source_state(seed_state)
    return undo


class Layer:
    """Base class. Subclasses describe themselves as core layer specs in `_specs`."""

    param_names: tuple[str, ...] = ()   # names of this layer's tensors, in the core's order
    in_features: Any = None   # input width (an int) when the layer fixes it, else None

    def __init__(self) -> None:
        self._net: Any = None   # the Sequential this layer belongs to
        self._index = None    # index of this layer's (last) spec in the core network
        self._tensor = None   # index of its first tensor in the core network

    # -- building ---------------------------------------------------------------------------
    def _specs(self, width, specs, seeds):
        """Append this layer's core specs for input rows of `width`; return the output width.
        `seeds()` draws a seed for layers that need one and were given none."""
        raise NotImplementedError

    def _carried(self):
        """Copies of the values this layer holds in its network (None if it has none), taken
        before a new network is built from it: building renumbers `_index`, which locates them."""
        if self._net is None:
            return None
        return {name: np.array(self._param(name)) for name in self.param_names}

    def _bind(self, net, tensor_of_spec, carried):
        """Join the newly built `net`: take the values `carried` from the previous network, or
        initialize them."""
        self._net = net
        self._tensor = tensor_of_spec.get(self._index)
        if carried is None:
            self._initialize()
        else:
            self._restore(carried)

    def _restore(self, carried):
        for name in self.param_names:
            self._param(name)[...] = carried[name]

    def _initialize(self):
        pass

    def _hyperparameters(self):
        """{name: value} of the numbers this layer hands the core, which rounds them to the
        network's dtype (checked there when the network is built)."""
        return {}

    def _leaves(self):
        yield self

    def _children(self):
        """The layers inside a container (Residual, Sequential, which hold them in `layers`)."""
        return ()

    def _holds_values(self):
        """Whether the network keeps values for this layer (parameters, running statistics, a
        generator): such a layer can sit at one place only. A layer without any (ReLU, Tanh,
        GLU ...) computes the same wherever it is, so one object may serve several places."""
        return bool(self._names()) or bool(self._children())

    def _tree(self):
        """This layer and every layer inside it, depth first."""
        yield self
        for child in self._children():
            yield from child._tree()

    def _copy(self):
        """A copy sharing no layer object with this one (a container's layers are copied too) that
        still refers to this layer's network: a network built from it carries this layer's
        values over and leaves this layer where it is."""
        duplicate = copy.copy(self)
        if self._children():
            duplicate.layers = [child._copy() for child in self._children()]
        return duplicate

    # -- parameters ---------------------------------------------------------------------------
    def _core_net(self):
        if self._net is None:
            if self.in_features is None:
                raise RuntimeError(f"{type(self).__name__} is not part of a network yet, or its "
                                   f"network is not built yet: place it in a mlpc.Sequential, "
                                   f"which is built once its input width is known (at the first "
                                   f"forward pass, or at once when the first layer has "
                                   f"in_features)")
            _registry.Sequential(self)
        return self._net._ensure_core()

    def _param(self, name, grad=False):
        k = self.param_names.index(name)
        core = self._core_net()
        return core.grad(self._tensor + k) if grad else core.param(self._tensor + k)

    def _names(self):
        return self.__dict__.get("param_names", type(self).param_names)

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("_") and name in self._names():
            return self._param(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_") and name != "param_names" and name in self._names():
            view = self._param(name)
            value = np.asarray(value)
            if value.shape != view.shape:
                raise ValueError(f"{type(self).__name__}.{name}: expected shape {view.shape}, "
                                 f"got {value.shape}")
            view[...] = value
        else:
            object.__setattr__(self, name, value)

    def named_parameters(self, prefix: str = ""
                         ) -> Iterator[tuple[str, NDArray[Any], NDArray[Any]]]:
        """(name, value, grad) for this layer's tensors, value and grad sharing the core's memory."""
        if not self.param_names:
            return
        for name in self.param_names:
            yield prefix + name, self._param(name), self._param(name, grad=True)

    def parameters(self) -> list[NDArray[Any]]:
        return [value for _, value, _ in self.named_parameters()]

    # -- what the last passes left ----------------------------------------------------------
    @property
    def output(self) -> Optional[NDArray[Any]]:
        """This layer's output in the last forward pass: a read-only view (None before one)."""
        return None if self._net is None or self._net._core is None else \
            self._net._core.output(self._index)

    @property
    def grad_output(self) -> Optional[NDArray[Any]]:
        """∂J/∂output from the backward pass of the last forward's batch: a read-only view
        (None until that backward pass has run)."""
        return None if self._net is None or self._net._core is None else \
            self._net._core.grad_output(self._index)

    @property
    def training(self) -> bool:
        return True if self._net is None else self._net.training

    # -- standalone use -------------------------------------------------------------------------
    def __call__(self, x: ArrayLike) -> NDArray[Any]:
        """Apply this layer alone (through a one-layer network of x's dtype). A layer that
        belongs to a larger network runs as a copy, so that network is left as it was."""
        x = np.asarray(x)
        dtype = "float64" if x.dtype == np.float64 else "float32"
        net = self._net
        alone = net is not None and net._standalone and net.layers[0] is self   # its own network
        if alone and net.dtype == dtype and \
                not (self.in_features is None and x.ndim == 2 and net.in_features != x.shape[1]):
            return net.forward(x)
        # a layer of another network runs as a copy (a copy of a container copies its layers
        # too), so that network keeps all its layers
        layer = self if net is None or alone else self._copy()
        undo = _undo_log(layer._tree())
        try:
            net = _registry.Sequential(layer, dtype=dtype)   # built now, or at its first forward
            net._standalone = True
            return net.forward(x)
        except BaseException:   # a failed call leaves the layer in the network it was in
            undo()
            raise

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Linear(Layer):
    """Dense layer y = x Wᵀ + b with W of shape (out_features, in_features)."""

    in_features = None

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: Any = "he_normal", seed: Optional[int] = None) -> None:
        super().__init__()
        self.in_features = _check_features("in_features", in_features)
        self.out_features = _check_features("out_features", out_features)
        self.has_bias = bool(bias)
        _init.resolve(init)   # fail now, not when the network is built
        self.init = init
        self.seed = _seed.check_seed(seed, "Linear")
        self.param_names = ("weight", "bias") if self.has_bias else ("weight",)

    def _specs(self, width, specs, seeds):
        if width != self.in_features:
            raise ValueError(f"Linear({self.in_features}, {self.out_features}) receives rows of "
                             f"width {width}: expected in_features = {width}")
        self._index = len(specs)
        specs.append({"kind": _core.LAYER_LINEAR, "in": width, "out": self.out_features,
                      "option": int(self.has_bias)})
        return self.out_features

    def _hyperparameters(self):
        return {"init": _init.resolve(self.init)[1]}

    def _initialize(self):
        seed = self.seed if self.seed is not None else self._net._seeds()
        self._param("weight")[...] = _init.weight(self.init, self.out_features, self.in_features,
                                                  seed)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.has_bias}, init={self.init!r}")


def _elementwise(layer: Layer, x: ArrayLike, units: int) -> NDArray[Any]:
    """An elementwise layer applied on its own to an array of any shape (a list, a vector, a 0-d
    value, a stack of matrices): rows (N, units) go through the layer as they are; any other
    array is computed as rows of `units` values (its last axis when units > 1) and given back in
    its own shape."""
    x = np.asarray(x)
    if x.ndim == 2:
        return Layer.__call__(layer, x)
    if units > 1 and (x.ndim == 0 or x.shape[-1] != units):
        raise ValueError(f"{type(layer).__name__}({layer.extra_repr()}) has one parameter per "
                         f"unit: expected an array whose last axis has {units} units, got shape "
                         f"{x.shape}")
    if x.size == 0:   # nothing to compute; a network cannot be built for zero rows
        return np.empty(x.shape, dtype=np.float64 if x.dtype == np.float64 else np.float32)
    return Layer.__call__(layer, x.reshape(-1, units)).reshape(x.shape)


class Activation(Layer):
    """An elementwise activation; subclasses fix the function. Called on its own it takes an
    array of any shape: `mlpc.ReLU()([-1.0, 2.0])`."""

    act = _core.ACT_IDENTITY
    alpha = 0.0

    def _specs(self, width, specs, seeds):
        self._index = len(specs)
        specs.append({"kind": _core.LAYER_ACTIVATION, "in": width, "out": width, "act": self.act,
                      "alpha": float(self.alpha), "option": int(bool(self.param_names))})
        return width

    def __call__(self, x: ArrayLike) -> NDArray[Any]:
        return _elementwise(self, x, 1)

    def function(self, x: ArrayLike) -> tuple[NDArray[Any], NDArray[Any]]:
        """(f(x), f'(x)) elementwise, straight from the C kernels (float64 unless x is float32)."""
        return _core.activation(self.act, x, float(self.alpha))


class Identity(Activation):
    """f(x) = x"""

    act = _core.ACT_IDENTITY


class Step(Activation):
    """binary step: 1 for x > 0 else 0; derivative 0"""

    act = _core.ACT_STEP


class Sigmoid(Activation):
    """σ(x) = 1/(1 + e^−x), range (0, 1)"""

    act = _core.ACT_SIGMOID


class Tanh(Activation):
    """tanh(x), range (−1, 1)"""

    act = _core.ACT_TANH


class ReLU(Activation):
    """max(0, x); derivative 0 at 0"""

    act = _core.ACT_RELU


class SELU(Activation):
    """λx for x > 0 else λα(eˣ − 1), λ = 1.0507009873554805, α = 1.6732632423543772"""

    act = _core.ACT_SELU


class Softplus(Activation):
    """log(1 + eˣ), computed stably"""

    act = _core.ACT_SOFTPLUS


class SiLU(Activation):
    """x σ(x) (swish with β = 1)"""

    act = _core.ACT_SILU


class Softsign(Activation):
    """x/(1 + |x|)"""

    act = _core.ACT_SOFTSIGN


class LeakyReLU(Activation):
    """x for x > 0 else negative_slope · x."""

    act = _core.ACT_LEAKY_RELU

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.alpha = self.negative_slope = _check_number("negative_slope", negative_slope)

    def _hyperparameters(self):
        return {"negative_slope": self.alpha}

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Activation):
    """x for x > 0 else α(eˣ − 1)."""

    act = _core.ACT_ELU

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = _check_number("alpha", alpha)

    def _hyperparameters(self):
        return {"alpha": self.alpha}

    def extra_repr(self):
        return f"alpha={self.alpha}"


class GELU(Activation):
    """x Φ(x) with the exact erf form; approximate="tanh" gives 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate = check_choice("approximate", approximate,
                                                      ("none", "tanh"))
        self.act = _core.ACT_GELU if approximate == "none" else _core.ACT_GELU_TANH

    def extra_repr(self):
        return "" if self.approximate == "none" else "approximate='tanh'"


class Swish(Activation):
    """x σ(βx); learnable=True makes β a parameter ("beta") trained with the rest."""

    act = _core.ACT_SWISH

    def __init__(self, beta: float = 1.0, learnable: bool = False) -> None:
        super().__init__()
        self.alpha = self.initial_beta = _check_number("beta", beta)
        self.learnable = bool(learnable)
        self.param_names = ("beta",) if self.learnable else ()

    def _hyperparameters(self):
        return {"beta": self.initial_beta}

    def function(self, x: ArrayLike) -> tuple[NDArray[Any], NDArray[Any]]:
        beta = float(self.beta[0]) if self.learnable and self._net is not None else self.alpha
        return _core.activation(self.act, x, beta)

    def extra_repr(self):
        return f"beta={self.initial_beta}" + (", learnable=True" if self.learnable else "")


class PReLU(Layer):
    """x for x > 0 else a·x with a learnable slope a ("weight"): one shared slope
    (num_parameters=1) or one per unit (num_parameters = the layer's width)."""

    param_names = ("weight",)

    def __init__(self, num_parameters: int = 1, init: float = 0.25) -> None:
        super().__init__()
        self.num_parameters = _check_features("num_parameters", num_parameters)
        self.init = _check_number("init", init)

    def _hyperparameters(self):
        return {"init": self.init}

    def _specs(self, width, specs, seeds):
        if self.num_parameters not in (1, width):
            raise ValueError(f"PReLU(num_parameters={self.num_parameters}) after a layer of "
                             f"width {width}: expected 1 or {width}")
        self._index = len(specs)
        specs.append({"kind": _core.LAYER_PRELU, "in": width, "out": width,
                      "option": int(self.num_parameters == 1), "alpha": self.init})
        return width

    def __call__(self, x: ArrayLike) -> NDArray[Any]:
        return _elementwise(self, x, self.num_parameters)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}, init={self.init}"


class GLU(Layer):
    """Gated linear unit on rows [u | v] of width 2M: output act(u) ⊙ v, width M.

    With the Linear before it, Sequential(Linear(n, 2m), GLU()) computes the notes'
    act(xW + b) ⊙ (xV + c): W, b are the first m rows of that Linear, V, c the last m.
    (torch.nn.GLU gates the other half: a ⊙ σ(b).) act: "sigmoid" (GLU), "relu" (ReGLU),
    "gelu" (GEGLU), "silu"/"swish" (SwiGLU)."""

    _ACTS = {"sigmoid": _core.ACT_SIGMOID, "relu": _core.ACT_RELU, "gelu": _core.ACT_GELU,
             "silu": _core.ACT_SILU, "swish": _core.ACT_SILU, "tanh": _core.ACT_TANH,
             "identity": _core.ACT_IDENTITY}

    def __init__(self, act: str = "sigmoid") -> None:
        super().__init__()
        self.act = check_choice("act", act, self._ACTS,
                                f"a gate activation, one of {sorted(self._ACTS)}")

    def _specs(self, width, specs, seeds):
        if width % 2:
            raise ValueError(f"{type(self).__name__} needs an even input width [u | v], got {width}")
        self._index = len(specs)
        specs.append({"kind": _core.LAYER_GATED, "in": width, "out": width // 2,
                      "act": self._ACTS[self.act]})
        return width // 2

    def extra_repr(self):
        return f"act={self.act!r}"


class ReGLU(GLU):
    """relu(u) ⊙ v"""

    def __init__(self) -> None:
        super().__init__("relu")

    def extra_repr(self):
        return ""


class GEGLU(ReGLU):
    """gelu(u) ⊙ v"""

    def __init__(self) -> None:
        GLU.__init__(self, "gelu")


class SwiGLU(ReGLU):
    """silu(u) ⊙ v"""

    def __init__(self) -> None:
        GLU.__init__(self, "silu")

ACTIVATIONS = {
    "identity": Identity, "step": Step, "sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU,
    "leaky_relu": LeakyReLU, "elu": ELU, "selu": SELU, "gelu": GELU, "softplus": Softplus,
    "silu": SiLU, "swish": Swish, "softsign": Softsign, "prelu": PReLU,
}
