"""Normalization, dropout and residual connections: the lectures' remedies for vanishing and
exploding gradients and for overfitting. Each behaves differently in training and eval mode
(`net.train()`, `net.eval()`), except LayerNorm and Residual."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from numpy.typing import NDArray

from . import _core
from ._seed import check_seed
from .layers import Layer, _check_features, _check_number


class _Normalization(Layer):
    """What batch and layer normalization share: standardize, then y = γ x̂ + β per unit
    (γ = "weight", β = "bias", when affine); they differ in the axis the statistics run over."""

    _kind: int

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = True) -> None:
        super().__init__()
        self.in_features = self.num_features = _check_features("num_features", num_features)
        self.eps = _check_number("eps", eps, 0.0)
        self.affine = bool(affine)
        self.param_names = ("weight", "bias") if self.affine else ()

    def _hyperparameters(self):
        return {"eps": self.eps, "momentum": getattr(self, "momentum", 0.0)}

    def _specs(self, width, specs, seeds):
        if width != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) receives rows of width "
                             f"{width}: expected num_features = {width}")
        self._index = len(specs)
        specs.append({"kind": self._kind, "in": width, "out": width, "option": int(self.affine),
                      "alpha": self.eps, "momentum": getattr(self, "momentum", 0.0)})
        return width

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}"


class BatchNorm(_Normalization):
    """Batch normalization (Ioffe & Szegedy 2015), per unit over the mini-batch.

    Training mode: x̂ = (x − μ_B)/√(σ²_B + eps) with the batch mean and the biased batch variance
    (divided by N), then y = γ x̂ + β. The running averages are updated as
    running = (1 − momentum)·running + momentum·batch statistic, i.e. momentum is 1 − α of the
    notes' μ̄ ← α μ̄ + (1 − α) μ_B; the UNBIASED batch variance (× N/(N − 1)) goes into
    running_var, as in PyTorch. Eval mode normalizes with running_mean and running_var.
    The backward pass is the full derivation through μ_B and σ²_B. A batch of one in training mode
    raises ValueError (its variance is zero)."""

    _kind = _core.LAYER_BATCHNORM

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True) -> None:
        super().__init__(num_features, eps, affine)
        self.momentum = _check_number("momentum", momentum, 0.0, 1.0)

    def _holds_values(self):
        return True   # running statistics, even without parameters

    def _carried(self):
        carried = super()._carried()
        if carried is not None:
            carried["running_stats"] = [np.array(s) for s in
                                        self._core_net().running_stats(self._index)]
        return carried

    def _restore(self, carried):
        super()._restore(carried)
        self.running_mean[...], self.running_var[...] = carried["running_stats"]

    @property
    def running_mean(self) -> NDArray[Any]:
        return self._core_net().running_stats(self._index)[0]

    @property
    def running_var(self) -> NDArray[Any]:
        return self._core_net().running_stats(self._index)[1]

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}")


class LayerNorm(_Normalization):
    """Layer normalization (Ba et al. 2016): each example normalized over its own units,
    x̂ = (x − mean)/√(var + eps) (biased variance, as in PyTorch), y = γ x̂ + β. Same in training
    and eval. The notes' form ψ(√(n−1)/s · diag(v)(z − z̄1) + u) with s = ‖z − z̄1‖₂ divides by
    the sample standard deviation (ddof = 1) instead: √(n−1)/s = √((n−1)/n)/√(biased variance),
    so it is this layer with γ = √((n−1)/n)·v, β = u (and eps = 0)."""

    _kind = _core.LAYER_LAYERNORM


class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014). Training mode: each unit is kept with probability
    1 − p and the kept ones are scaled by 1/(1 − p); the mask (`layer.mask`) is kept for backward.
    Eval mode: the identity. Scaling at training time is equivalent to the notes' "multiply the
    weights by 1 − p at test time": both make the expected training output equal the test output.
    Masks come from the core's seeded generator: the same seed gives the same masks."""

    def __init__(self, p: float = 0.5, seed: Optional[int] = None) -> None:
        super().__init__()
        p = _check_number("p", p, 0.0)
        if p >= 1:
            why = "p = 1 drops every unit" if p == 1 else \
                "p is a probability, not a percentage: Dropout(0.2) drops 20% of the units"
            raise ValueError(f"dropout probability must be in [0, 1), got {p:g}: {why}")
        self.p = p
        self.seed = check_seed(seed, "Dropout")

    def _hyperparameters(self):
        return {"p": self.p}

    def _specs(self, width, specs, seeds):
        self._index = len(specs)
        seed = self.seed if self.seed is not None else seeds()
        specs.append({"kind": _core.LAYER_DROPOUT, "in": width, "out": width, "alpha": self.p,
                      "seed": int(seed) & (2**64 - 1)})
        return width

    def _holds_values(self):
        return True   # its generator, even without parameters

    def _carried(self):
        carried = super()._carried()
        if carried is not None:   # the mask stream goes on where it was, like the parameters
            carried["rng"] = self._core_net().rng_state(self._index)
        return carried

    def _restore(self, carried):
        super()._restore(carried)
        self._core_net().set_rng_state(self._index, carried["rng"])

    @property
    def mask(self) -> Optional[NDArray[Any]]:
        """The last training-mode forward's mask, (N, width) of that batch: 0 or 1/(1 − p) per
        unit. None before a training-mode forward, and after an eval-mode forward of a larger
        batch (which regrows the network's buffers); an eval pass leaves it otherwise."""
        return None if self._net is None or self._net._core is None else \
            self._net._core.mask(self._index)

    def extra_repr(self):
        return f"p={self.p}"


class Residual(Layer):
    """A skip connection around a block: output = x + block(x). The block's output width must
    equal its input width. Gradients flow through both paths."""

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        if not layers:
            raise ValueError("Residual needs at least one layer in its block")
        for layer in layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"Residual takes mlpc layers, got {type(layer).__name__}")
        self.layers = list(layers)
        self.in_features = layers[0].in_features

    def _specs(self, width, specs, seeds):
        first = len(specs)
        out = width
        self._place_index = []     # the core layer of each place (a shared ReLU has several)
        for layer in self.layers:
            out = layer._specs(out, specs, seeds)
            self._place_index.append(layer._index)
        if out != width:
            raise ValueError(f"Residual: the block maps (N, {width}) to (N, {out}); "
                             f"x + block(x) needs both of shape (N, {width})")
        self._index = len(specs)
        specs.append({"kind": _core.LAYER_RESIDUAL, "in": width, "out": width, "skip": first})
        return width

    def _bind(self, net, tensor_of_spec, carried):
        self._net = net

    def _children(self):
        return self.layers

    def _leaves(self):
        for layer in self.layers:
            yield from layer._leaves()

    def named_parameters(self, prefix=""):
        for i, layer in enumerate(self.layers):
            yield from layer.named_parameters(f"{prefix}{i}.")

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self):
        inner = "\n".join(f"  ({i}): " + repr(l).replace("\n", "\n  ") for i, l in enumerate(self.layers))
        return f"Residual(\n{inner}\n)"
