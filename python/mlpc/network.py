"""Sequential: the network container over one C network."""
from __future__ import annotations

import os
from typing import (TYPE_CHECKING, Any, BinaryIO, Iterator, Literal, Mapping, Optional, Union,
                    overload)

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import _core
from . import _registry
from ._limits import in_dtype
from ._seed import check_seed, draw_seed
from .layers import Layer, _undo_log
from .blocks import BatchNorm, Residual
from .losses import Loss

if TYPE_CHECKING:   # annotations only: optim and serialize come after this module
    from .optim import Optimizer
    from .summary import Summary

_DTYPES = {"float32": _core.FLOAT32, "float64": _core.FLOAT64}


def _dtype_name(dtype):
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in _DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return name


def _check_mode(mode):
    """The training mode as a bool. Anything truthy used to count, so train("no") meant True:
    only bools, NumPy bools and the ints 0 and 1 are modes."""
    if isinstance(mode, (bool, np.bool_)) or \
            (isinstance(mode, (int, np.integer)) and mode in (0, 1)):
        return bool(mode)
    raise TypeError(f"the training mode must be True or False, got {mode!r}")


def _places(layers, prefix=""):
    """(place, layer) for every layer object in a tree of layers; places named like "2.1"."""
    for i, layer in enumerate(layers):
        yield f"{prefix}{i}", layer
        yield from _places(layer._children(), f"{prefix}{i}.")


def _check_distinct(layers):
    """A layer that holds values (parameters, running statistics, a generator) can sit at one
    place only: its views name one place in the core, so a second place would get values no
    view reaches. A layer without values (ReLU) may serve several places; its `output` is that
    of the last."""
    first_place = {}
    for place, layer in _places(layers):
        first = first_place.setdefault(id(layer), place)
        if first != place and layer._holds_values():
            raise ValueError(f"layer {place} is the same object as layer {first} "
                             f"({type(layer).__name__}({layer.extra_repr()})), which holds "
                             f"values of its own: create a separate layer for each place "
                             f"(weight sharing is not supported)")


def _check_running_statistic(name, value):
    """Batch-norm running statistics a network can use: eval mode divides by
    sqrt(running_var + eps), so a negative variance would give NaN outputs without an error.
    Parameters are not checked: a diverged run is a legitimate state to inspect."""
    variance = name.endswith(".running_var")
    bad = ~np.isfinite(value) | (value < 0) if variance else ~np.isfinite(value)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"buffer {name!r} holds {value.flat[i]} at index {i}, expected finite "
                         f"values" + (" >= 0" if variance else ""))


class Sequential(Layer):
    """Layers applied in order, computed by one C network.

    net = mlpc.Sequential(mlpc.Linear(784, 100), mlpc.ReLU(), mlpc.Linear(100, 10),
                          dtype="float32", l2=0.0, seed=None)

    The network is built as soon as its input width is known: at construction when the first
    layer fixes it (Linear, BatchNorm, LayerNorm), else at the first forward pass. `seed` seeds
    every layer given no seed of its own; without it they draw from `mlpc.manual_seed`'s source.
    Each layer object may appear once (a layer taken from another network brings its values
    along); building fails as a whole, leaving every layer as it was.
    `l2` adds λ Σ‖W‖²_F over the weight matrices (not biases) to the cost (`penalty()`,
    `cost()`, `train_step`) and 2λW to their gradients in `backward`.
    """

    def __init__(self, *layers: Layer, dtype: DTypeLike = "float32", l2: float = 0.0,
                 seed: Optional[int] = None) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential takes mlpc layers; argument {i} is "
                                f"{type(layer).__name__}")
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        _check_distinct(layers)
        self.layers = list(layers)
        self.dtype = _dtype_name(dtype)
        self.seed = check_seed(seed, "Sequential")
        self._core: Any = None
        self._standalone = False   # made by a layer's own __call__
        self._training = True
        self._l2 = 0.0
        self.l2 = l2
        self.in_features = layers[0].in_features
        if self.in_features is not None:
            self._build(self.in_features)

    # -- building -------------------------------------------------------------------------------
    def _specs(self, width, specs, seeds):
        self.in_features = width   # the widths it is built for, as a network or as a block
        self._place_index = []     # the core layer of each place (a shared ReLU has several)
        for layer in self.layers:
            width = layer._specs(width, specs, seeds)
            self._place_index.append(layer._index)
        self._index = len(specs) - 1
        self.out_features = width
        return width

    def _children(self):
        return self.layers

    def _nodes(self):
        """Every layer inside this network, depth first."""
        for layer in self.layers:
            yield from layer._tree()

    def _seeds(self):
        return int(self._seed_rng.integers(0, 2**63 - 1)) if self._seed_rng else draw_seed()

    def _build(self, width):
        """Build the C network for rows of `width` and move every layer into it, with the values
        it held in its previous network. All or nothing: if building fails, this network and
        every layer are left exactly as they were (previous networks are only read)."""
        nodes = list(self._nodes())
        undo = _undo_log([self, *nodes])
        try:
            self._build_core(width, nodes)
        except BaseException:
            undo()
            raise

    def _build_core(self, width, nodes):
        for place, layer in _places(self.layers):
            for name, value in layer._hyperparameters().items():
                in_dtype(f"layer {place} ({type(layer).__name__}) {name}", value, self.dtype)
        carried = [node._carried() for node in nodes]   # read before _specs renumbers _index
        self._seed_rng = np.random.default_rng(self.seed) if self.seed is not None else None
        specs = []
        self._specs(width, specs, self._seeds)
        try:
            core = _core.Net(_DTYPES[self.dtype], specs)
        except OverflowError as e:   # a width past 64 bits: too large, like one past memory
            raise MemoryError(f"cannot build a network this large: {e}") from None
        self._out_widths = [spec["out"] for spec in specs]   # of each core layer (summary())
        core.l2 = self._l2
        core.training = self._training
        tensor_of_spec = {}
        for t, (spec, _, _, _) in enumerate(core.tensors()):
            tensor_of_spec.setdefault(spec, t)
        self._core = core
        self._net = self
        for node, values in zip(nodes, carried):
            node._bind(self, tensor_of_spec, values)

    def _bind(self, net, tensor_of_spec, carried):   # a block of another Sequential
        self._net = net
        self._core = None   # its layers' values live in `net` now: a core of its own is stale

    def _outer(self):
        """The network this one is a block of, or None when it is a network of its own."""
        return self._net if self._net is not None and self._net is not self else None

    def _ensure_core(self):
        if self._core is not None:
            return self._core
        if self._outer() is not None:
            return self._outer()._ensure_core()
        raise RuntimeError("the network is not built yet: its input width is unknown until the "
                           "first forward pass (or a first layer with in_features: Linear, "
                           "BatchNorm, LayerNorm)")

    def _clone(self, dtype):
        """A new network of the same architecture and state, in `dtype`: built from copies of the
        layers, which carry this network's values over (parameters, running statistics, dropout
        generator states) and leave this network as it was."""
        new = Sequential(*[layer._copy() for layer in self.layers], dtype=dtype, l2=self.l2,
                         seed=0)
        if new._core is None:
            new._build(self.in_features)
        new.training = self.training
        return new

    def copy(self, dtype: Optional[DTypeLike] = None) -> Sequential:
        """An independent copy (parameters, running statistics, dropout generators, mode),
        optionally in another dtype."""
        if self._core is None and self._outer() is None:
            raise RuntimeError("copy() needs a built network (run a forward pass first)")
        computed_in = (self._outer() or self).dtype   # a block computes in its network's dtype
        target = computed_in if dtype is None else _dtype_name(dtype)
        if np.finfo(target).max < np.finfo(computed_in).max:   # narrowing: finite values may overflow
            values = [(name, value) for name, value, _ in self.named_parameters()]
            for name, value in values + list(self.named_buffers()):
                in_dtype(f"copy(dtype={target!r}): {name}", value, target, overflow_only=True)
        return self._clone(target)

    # copy.deepcopy gives copy(); pickle goes through the model file format (mlpc.serialize)
    def __deepcopy__(self, memo):
        if self._core is None and self._outer() is None:   # not built: no values to copy yet
            new = Sequential(*[layer._copy() for layer in self.layers], dtype=self.dtype,
                             l2=self.l2, seed=self.seed)
            new.training = self.training
            return new
        return self.copy()

    def __copy__(self):   # shallow, as copy.copy would be without __reduce_ex__ below
        duplicate = object.__new__(type(self))
        duplicate.__dict__.update(self.__dict__)
        return duplicate

    def __reduce_ex__(self, protocol):
        return _registry.reduce_network(self)

    # -- computing ------------------------------------------------------------------------------
    def forward(self, x: ArrayLike) -> NDArray[Any]:
        """The network's output for a batch x of shape (N, in_features), as a new array.
        Any array-like is converted once to a C-contiguous array of the network's dtype.
        NaN or infinite inputs are computed through (IEEE arithmetic), never rejected.
        A block of a larger network computes alone, as a copy (like any layer of a network)."""
        core = self._core   # set only on a network of its own (a block's is None)
        if core is not None:
            return core.forward(x)
        if self._outer() is not None:
            return Layer.__call__(self, x)
        return self._core_for(x).forward(x)

    __call__ = forward

    def _core_for(self, x):
        """The C network, built now from x's width if the layers left it open."""
        if self._outer() is not None:   # building would take its layers from that network
            raise RuntimeError("this Sequential is a block of a larger network: compute with "
                               "that network")
        if self._core is None:
            shape = np.shape(x)
            if len(shape) != 2 or 0 in shape:
                raise ValueError(f"input: expected shape (N, in_features), got {shape}")
            self._build(shape[1])
        return self._core

    @overload
    def backward(self, grad_output: Optional[ArrayLike] = None,
                 input_grad: Literal[True] = True) -> NDArray[Any]: ...

    @overload
    def backward(self, grad_output: Optional[ArrayLike], input_grad: Literal[False]) -> None: ...

    @overload
    def backward(self, grad_output: Optional[ArrayLike] = None, *,
                 input_grad: Literal[False]) -> None: ...

    def backward(self, grad_output: Optional[ArrayLike] = None,
                 input_grad: bool = True) -> Optional[NDArray[Any]]:
        """Backpropagate ∂J/∂output (shape (N, out)) from the last forward pass; fills every
        parameter gradient (accumulating, plus 2λW for l2) and returns ∂J/∂x. With no argument,
        starts from the gradient the last `loss()`/`cost()` left. input_grad=False skips ∂J/∂x
        (the first layer's input-gradient product and its copy) and returns None."""
        if not isinstance(input_grad, (bool, np.bool_)):
            raise TypeError(f"input_grad must be True or False, got {input_grad!r}")
        return self._ensure_core().backward(grad_output, bool(input_grad))

    def loss(self, loss_fn: Loss, targets: ArrayLike) -> float:
        """The loss of the last forward pass (computed in the core); leaves its gradient for
        backward()."""
        return self._ensure_core().loss(loss_fn.kind, targets)

    def cost(self, x: ArrayLike, targets: ArrayLike, loss_fn: Loss) -> float:
        """J = loss(forward(x), targets) + λ Σ‖W‖²; leaves the loss gradient for backward().
        The targets are checked before the forward pass runs."""
        return self._core_for(x).cost(x, targets, loss_fn.kind)

    def penalty(self) -> float:
        """λ Σ‖W‖²_F over the weight matrices."""
        return self._ensure_core().penalty()

    def train_step(self, x: ArrayLike, targets: ArrayLike, loss_fn: Loss,
                   optimizer: Optimizer) -> float:
        """Zero the gradients, forward, loss, backward and update in one C call; returns the cost
        (loss + penalty) before the update."""
        # every mlpc optimizer has _train_step (optim imports this module, so no isinstance
        # against its class here: an import per call cost a quarter of a small step)
        step = getattr(optimizer, "_train_step", None)
        if step is None:
            raise TypeError(f"train_step takes a mlpc optimizer, got {type(optimizer).__name__}")
        return step(self._core or self._core_for(x), x, targets, loss_fn)

    def zero_grad(self) -> None:
        self._ensure_core().zero_grad()

    def grad_norm(self) -> float:
        """The global L2 norm of all parameter gradients."""
        return self._ensure_core().grad_norm()

    def predict_proba(self, x: ArrayLike) -> NDArray[Any]:
        """Class probabilities in eval mode: softmax of the outputs (sigmoid for one output)."""
        with _mode(self, False):
            scores = self.forward(x)
        if scores.shape[1] == 1:
            return _core.activation(_core.ACT_SIGMOID, scores, 0.0)[0]   # stable for any s
        return _core.softmax(scores)

    def predict(self, x: ArrayLike) -> NDArray[np.int64]:
        """Class indices in eval mode (argmax of the outputs, the first maximum or NaN; output
        > 0 for one output), as int64."""
        if self._outer() is not None:   # a block computes alone, through forward
            with _mode(self, False):
                scores = self.forward(x)
            if scores.shape[1] == 1:
                return (scores[:, 0] > 0).astype(np.int64)
            return np.argmax(scores, axis=1)
        if not self._training:           # already in eval mode: no toggling
            return self._core_for(x).predict(x)
        with _mode(self, False):
            return self._core_for(x).predict(x)

    # -- modes -----------------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        if self._outer() is not None:
            return self._outer().training
        return self._training

    @training.setter
    def training(self, mode: bool) -> None:
        mode = _check_mode(mode)
        if self._outer() is not None:
            self._outer().training = mode
            return
        self._training = mode
        if self._core is not None:
            self._core.training = self._training

    def train(self, mode: bool = True) -> Sequential:
        self.training = mode
        return self

    def eval(self) -> Sequential:
        return self.train(False)

    @property
    def l2(self) -> float:
        return self._l2

    @l2.setter
    def l2(self, value: float) -> None:
        try:
            value = float(value)
        except OverflowError:   # an int beyond float range (10**400): not finite
            value = np.inf
        except (TypeError, ValueError):
            raise TypeError(f"l2 must be a number, got {value!r}") from None
        if not (value >= 0 and np.isfinite(value)):
            raise ValueError(f"l2 must be a finite number >= 0, got {value!r}")
        in_dtype("l2", value, self.dtype)
        self._l2 = value
        if self._core is not None:
            self._core.l2 = value

    # -- parameters and state --------------------------------------------------------------------
    def named_layers(self, prefix: str = "") -> Iterator[tuple[str, Layer]]:
        """(name, layer) for every layer that computes (containers are opened): "0", "2.1" ..."""
        for i, layer in enumerate(self.layers):
            if isinstance(layer, (Residual, Sequential)):
                yield from Sequential.named_layers(layer, f"{prefix}{i}.")  # type: ignore[arg-type]
            else:
                yield f"{prefix}{i}", layer

    def named_parameters(self, prefix: str = ""
                         ) -> Iterator[tuple[str, NDArray[Any], NDArray[Any]]]:
        """(name, value, grad) in layer order; names like PyTorch's state_dict keys ("0.weight").
        value and grad share memory with the C network: writing to value changes the network."""
        self._ensure_core()   # an unbuilt network says so, not that its layers are in none
        for name, layer in self.named_layers(prefix):
            yield from layer.named_parameters(name + ".")

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, NDArray[Any]]]:
        """(name, array) of the running statistics of batch-norm layers."""
        self._ensure_core()
        for name, layer in self.named_layers(prefix):
            if isinstance(layer, BatchNorm):
                yield name + ".running_mean", layer.running_mean
                yield name + ".running_var", layer.running_var

    @property
    def num_params(self) -> int:
        return self._ensure_core().num_params

    def state_dict(self) -> dict[str, NDArray[Any]]:
        """Copies of every parameter and buffer, by name."""
        state = {name: np.array(value) for name, value, _ in self.named_parameters()}
        state.update((name, np.array(value)) for name, value in self.named_buffers())
        return state

    def load_state_dict(self, state: Mapping[str, ArrayLike]) -> None:
        """Load parameters and buffers by name; every name and shape is checked before anything
        is written, so a mismatch leaves the network as it was. Running statistics must be
        finite (and variances >= 0) in the network's dtype, as mlpc.load requires."""
        targets = {name: value for name, value, _ in self.named_parameters()}
        targets.update(self.named_buffers())
        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets))
        if missing or unexpected:
            raise KeyError(f"state dict does not match the network: missing {missing}, "
                           f"unexpected {unexpected}")
        arrays = {}
        buffers = dict(self.named_buffers())
        for name, target in targets.items():
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(f"{name}: expected shape {target.shape}, got {value.shape}")
            if value.dtype.kind not in "biuf":
                raise TypeError(f"{name}: expected real numbers, got dtype {value.dtype}")
            if name in buffers:
                with np.errstate(over="ignore"):   # checked as stored: 1e39 is inf in float32
                    value = value.astype(target.dtype)
                _check_running_statistic(name, value)
            arrays[name] = value
        for name, value in arrays.items():
            targets[name][...] = value

    # -- containers ------------------------------------------------------------------------------
    @property
    def output(self) -> Optional[NDArray[Any]]:
        return self.layers[-1].output

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): " + repr(l).replace("\n", "\n  ")
                          for i, l in enumerate(self.layers))
        extra = f"dtype={self.dtype}" + (f", l2={self.l2}" if self.l2 else "")
        return f"Sequential(\n{inner}\n)  # {extra}"

    def summary(self) -> "Summary":
        """A table of the layers (name, type, output shape, parameter count, trainable) and the
        totals, like Keras's model.summary(): printed as text, shown as HTML in a notebook
        (mlpc.summary.Summary; its rows and totals are attributes too)."""
        return _registry.Summary(self)

    def _repr_html_(self) -> str:
        """The notebook's view of a network: its summary table (the text repr stays the
        PyTorch-like tree)."""
        if self._core is None and self._outer() is None:
            import html
            return f"<pre>{html.escape(repr(self))}</pre>"
        return self.summary()._repr_html_()

    # -- saving and converting (python/mlpc/serialize.py) ---------------------------------------
    def save(self, path: Union[str, os.PathLike[str], BinaryIO],
             optimizer: Optional[Optimizer] = None,
             extra: Optional[Mapping[str, ArrayLike]] = None) -> None:
        """Write the network (and optionally an optimizer's state) to an .npz file; mlpc.load
        reads it back. See mlpc.serialize for the format."""
        _registry.save(self, path, optimizer=optimizer, extra=extra)

    def to_torch(self) -> Any:
        """An equivalent torch.nn.Sequential (needs PyTorch); see mlpc.serialize.to_torch."""
        return _registry.to_torch(self)


def layers_with_outputs(container, prefix=""):
    """(name, layer, core index) for every layer with an output of its own, in the order they
    compute: the leaves of net.named_layers(), and each Residual (its sum x + block(x)) after
    its block. The index is that of the place: one ReLU object may serve several."""
    for i, (layer, index) in enumerate(zip(container.layers, container._place_index)):
        name = f"{prefix}{i}"
        if isinstance(layer, (Residual, Sequential)):
            yield from layers_with_outputs(layer, name + ".")
            if isinstance(layer, Residual):
                yield name, layer, index
        else:
            yield name, layer, index


class _mode:
    """Context manager: run in a mode, then restore the previous one."""

    def __init__(self, net, training):
        self.net, self.training = net, training

    def __enter__(self):
        self.previous = self.net.training
        self.net.training = self.training

    def __exit__(self, *exc):
        self.net.training = self.previous


_registry.Sequential = Sequential   # for a layer called alone (mlpc.layers)
