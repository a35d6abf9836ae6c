"""Sequential: the network container over one C network."""
import copy

import numpy as np

from . import _core
from ._seed import draw_seed
from .layers import Layer
from .blocks import BatchNorm, Residual

_DTYPES = {"float32": _core.FLOAT32, "float64": _core.FLOAT64}


def _dtype_name(dtype):
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in _DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return name


class Sequential(Layer):
    """Layers applied in order, computed by one C network.

    net = mlpc.Sequential(mlpc.Linear(784, 100), mlpc.ReLU(), mlpc.Linear(100, 10),
                          dtype="float32", l2=0.0, seed=None)

    The network is built as soon as its input width is known: at construction when the first
    layer fixes it (Linear, BatchNorm, LayerNorm), else at the first forward pass. `seed` seeds
    every layer given no seed of its own; without it they draw from `mlpc.manual_seed`'s source.
    `l2` adds λ Σ‖W‖²_F over the weight matrices (not biases) to the cost (`penalty()`,
    `cost()`, `train_step`) and 2λW to their gradients in `backward`.
    """

    def __init__(self, *layers, dtype="float32", l2=0.0, seed=None):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential takes mlpc layers; argument {i} is "
                                f"{type(layer).__name__}")
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        self.layers = list(layers)
        self.dtype = _dtype_name(dtype)
        self.seed = seed
        self._core = None
        self._standalone = False   # made by a layer's own __call__
        self._training = True
        self._l2 = 0.0
        self.l2 = l2
        self.in_features = layers[0].in_features
        if self.in_features is not None:
            self._build(self.in_features)

    # -- building -------------------------------------------------------------------------------
    def _specs(self, width, specs, seeds):
        for layer in self.layers:
            width = layer._specs(width, specs, seeds)
        self._index = len(specs) - 1
        return width

    def _nodes(self):
        for layer in self.layers:
            yield layer
            if isinstance(layer, (Residual, Sequential)):
                yield from Sequential._nodes(layer)

    def _seeds(self):
        return int(self._seed_rng.integers(0, 2**63 - 1)) if self._seed_rng else draw_seed()

    def _build(self, width):
        self._seed_rng = np.random.default_rng(self.seed) if self.seed is not None else None
        specs = []
        self.out_features = self._specs(width, specs, self._seeds)
        core = _core.Net(_DTYPES[self.dtype], specs)
        core.l2 = self._l2
        core.training = self._training
        tensor_of_spec = {}
        for t, (spec, _, _, _) in enumerate(core.tensors()):
            tensor_of_spec.setdefault(spec, t)
        self._core = core
        self._net = self
        for node in self._nodes():
            node._bind(self, tensor_of_spec)

    def _bind(self, net, tensor_of_spec):   # nested in another Sequential
        self._net = net

    def _ensure_core(self):
        if self._core is not None:
            return self._core
        if self._net is not None and self._net is not self:
            return self._net._ensure_core()
        raise RuntimeError("the network is not built yet: its input width is set by the first "
                           "forward pass (or start with a Linear, BatchNorm or LayerNorm)")

    def _clone(self, dtype):
        """A new network of the same architecture and state, in `dtype`."""
        def clone(layer):
            c = copy.copy(layer)
            c.__dict__.update(_net=None, _tensor=None, _index=None)
            if isinstance(layer, (Residual, Sequential)):
                c.layers = [clone(child) for child in layer.layers]
                if isinstance(layer, Sequential):
                    c._core = None
            return c
        layers = [clone(layer) for layer in self.layers]
        new = Sequential(*layers, dtype=dtype, l2=self.l2, seed=0)
        if new._core is None:
            new._build(self.in_features)
        new.load_state_dict(self.state_dict())
        new.training = self.training
        for layer_old, layer_new in zip(self._nodes(), new._nodes()):
            if hasattr(layer_old, "mask"):
                new._core.set_rng_state(layer_new._index, self._core.rng_state(layer_old._index))
        return new

    def copy(self, dtype=None):
        """An independent copy (parameters, running statistics, dropout generators, mode),
        optionally in another dtype."""
        if self._core is None:
            raise RuntimeError("copy() needs a built network (run a forward pass first)")
        return self._clone(self.dtype if dtype is None else _dtype_name(dtype))

    # -- computing ------------------------------------------------------------------------------
    def forward(self, x):
        """The network's output for a batch x of shape (N, in_features), as a new array.
        Any array-like is converted once to a C-contiguous array of the network's dtype.
        NaN or infinite inputs are computed through (IEEE arithmetic), never rejected."""
        return self._core_for(x).forward(x)

    __call__ = forward

    def _core_for(self, x):
        """The C network, built now from x's width if the layers left it open."""
        if self._core is None:
            shape = np.shape(x)
            if len(shape) != 2 or 0 in shape:
                raise ValueError(f"input: expected shape (N, in_features), got {shape}")
            self.in_features = shape[1]
            self._build(shape[1])
        return self._core

    def backward(self, grad_output=None):
        """Backpropagate ∂J/∂output (shape (N, out)) from the last forward pass; fills every
        parameter gradient (accumulating, plus 2λW for l2) and returns ∂J/∂x. With no argument,
        starts from the gradient the last `loss()`/`cost()` left."""
        return self._ensure_core().backward(grad_output, True)

    def loss(self, loss_fn, targets):
        """The loss of the last forward pass (computed in the core); leaves its gradient for
        backward()."""
        return self._ensure_core().loss(loss_fn.kind, targets)

    def cost(self, x, targets, loss_fn):
        """J = loss(forward(x), targets) + λ Σ‖W‖²; leaves the loss gradient for backward().
        The targets are checked before the forward pass runs."""
        return self._core_for(x).cost(x, targets, loss_fn.kind)

    def penalty(self):
        """λ Σ‖W‖²_F over the weight matrices."""
        return self._ensure_core().penalty()

    def train_step(self, x, targets, loss_fn, optimizer):
        """Zero the gradients, forward, loss, backward and update in one C call; returns the cost
        (loss + penalty) before the update."""
        return optimizer._train_step(self._core_for(x), x, targets, loss_fn)

    def zero_grad(self):
        self._ensure_core().zero_grad()

    def grad_norm(self):
        """The global L2 norm of all parameter gradients."""
        return self._ensure_core().grad_norm()

    def predict_proba(self, x):
        """Class probabilities in eval mode: softmax of the outputs (sigmoid for one output)."""
        with _mode(self, False):
            scores = self.forward(x)
        if scores.shape[1] == 1:
            return 1.0 / (1.0 + np.exp(-scores))
        return _core.softmax(scores)

    def predict(self, x):
        """Class indices in eval mode (argmax of the outputs; output > 0 for one output)."""
        with _mode(self, False):
            scores = self.forward(x)
        if scores.shape[1] == 1:
            return (scores[:, 0] > 0).astype(np.int64)
        return np.argmax(scores, axis=1)

    # -- modes -----------------------------------------------------------------------------------
    @property
    def training(self):
        if self._net is not None and self._net is not self:
            return self._net.training
        return self._training

    @training.setter
    def training(self, mode):
        if self._net is not None and self._net is not self:
            self._net.training = mode
            return
        self._training = bool(mode)
        if self._core is not None:
            self._core.training = self._training

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    @property
    def l2(self):
        return self._l2

    @l2.setter
    def l2(self, value):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"l2 must be a number, got {value!r}") from None
        if not (value >= 0 and np.isfinite(value)):
            raise ValueError(f"l2 must be a finite number >= 0, got {value!r}")
        self._l2 = value
        if self._core is not None:
            self._core.l2 = value

    # -- parameters and state --------------------------------------------------------------------
    def named_layers(self, prefix=""):
        """(name, layer) for every layer that computes (containers are opened): "0", "2.1" ..."""
        for i, layer in enumerate(self.layers):
            if isinstance(layer, (Residual, Sequential)):
                yield from Sequential.named_layers(layer, f"{prefix}{i}.")
            else:
                yield f"{prefix}{i}", layer

    def named_parameters(self, prefix=""):
        """(name, value, grad) in layer order; names like PyTorch's state_dict keys ("0.weight").
        value and grad share memory with the C network: writing to value changes the network."""
        for name, layer in self.named_layers(prefix):
            yield from layer.named_parameters(name + ".")

    def named_buffers(self, prefix=""):
        """(name, array) of the running statistics of batch-norm layers."""
        for name, layer in self.named_layers(prefix):
            if isinstance(layer, BatchNorm):
                yield name + ".running_mean", layer.running_mean
                yield name + ".running_var", layer.running_var

    @property
    def num_params(self):
        return self._ensure_core().num_params

    def state_dict(self):
        """Copies of every parameter and buffer, by name."""
        state = {name: np.array(value) for name, value, _ in self.named_parameters()}
        state.update((name, np.array(value)) for name, value in self.named_buffers())
        return state

    def load_state_dict(self, state):
        """Load parameters and buffers by name; every name and shape is checked before anything
        is written, so a mismatch leaves the network as it was."""
        targets = {name: value for name, value, _ in self.named_parameters()}
        targets.update(self.named_buffers())
        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets))
        if missing or unexpected:
            raise KeyError(f"state dict does not match the network: missing {missing}, "
                           f"unexpected {unexpected}")
        arrays = {}
        for name, target in targets.items():
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(f"{name}: expected shape {target.shape}, got {value.shape}")
            if value.dtype.kind not in "biuf":
                raise TypeError(f"{name}: expected real numbers, got dtype {value.dtype}")
            arrays[name] = value
        for name, value in arrays.items():
            targets[name][...] = value

    # -- containers ------------------------------------------------------------------------------
    @property
    def output(self):
        return self.layers[-1].output

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        inner = "\n".join(f"  ({i}): " + repr(l).replace("\n", "\n  ")
                          for i, l in enumerate(self.layers))
        extra = f"dtype={self.dtype}" + (f", l2={self.l2}" if self.l2 else "")
        return f"Sequential(\n{inner}\n)  # {extra}"

    # -- saving and converting (python/mlpc/serialize.py) ---------------------------------------
    def save(self, path, optimizer=None, extra=None):
        """Write the network (and optionally an optimizer's state) to an .npz file; mlpc.load
        reads it back. See mlpc.serialize for the format."""
        from .serialize import save
        save(self, path, optimizer=optimizer, extra=extra)

    def to_torch(self):
        """An equivalent torch.nn.Sequential (needs PyTorch); see mlpc.serialize.to_torch."""
        from .serialize import to_torch
        return to_torch(self)


class _mode:
    """Context manager: run in a mode, then restore the previous one."""

    def __init__(self, net, training):
        self.net, self.training = net, training

    def __enter__(self):
        self.previous = self.net.training
        self.net.training = self.training

    def __exit__(self, *exc):
        self.net.training = self.previous
