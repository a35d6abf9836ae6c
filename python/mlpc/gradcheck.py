"""Gradient checking: analytic gradients against central finite differences, in float64."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _round_off(value, eps):
    """The smallest derivative central differences of a function with value `value` can tell
    from zero: J is computed to about 16 ulps of |J|, and (J(w + eps) − J(w − eps))/(2 eps)
    divides that by eps."""
    return 16 * np.finfo(np.float64).eps * abs(float(value)) / eps


def _relative_error(a, n, eps, round_off):
    """The course convention |a − n| / max(eps, |a| + |n|), elementwise, except for entries
    where both gradients are below the round-off of the central differences: there the
    derivative is zero as far as finite differences can tell (a bias before batch
    normalization: exactly 0 analytically, pure round-off ~1e-10 numerically, which the
    convention alone would call an error of ~1e-4), and the entry agrees. Every other entry,
    however small, is held to the convention."""
    agree = (np.abs(a) <= round_off) & (np.abs(n) <= round_off)
    return np.where(agree, 0.0, np.abs(a - n) / np.maximum(eps, np.abs(a) + np.abs(n)))


def gradcheck(net: Any, loss_fn: Any, x: ArrayLike, y: ArrayLike,
              eps: float = 1e-6) -> dict[str, float]:
    """Max relative error per parameter (and "input") between backpropagation and central
    differences (J(w + eps) − J(w − eps))/(2 eps) of J = loss + λΣ‖W‖², on a float64 copy of
    `net` in its current mode; entries where both gradients are below the differences'
    round-off, 16 ε_mach |J|/eps, count as equal (zero as far as the differences can tell). Dropout layers replay the same masks for every evaluation.
    Returns {name: max error}; the network itself is not changed."""
    net64 = net.copy("float64")
    core = net64._core
    x = np.array(x, dtype=np.float64)
    dropout = [layer._index for _, layer in net64.named_layers() if hasattr(layer, "mask")]
    rng = {i: core.rng_state(i) for i in dropout}

    def cost():
        for i, state in rng.items():
            core.set_rng_state(i, state)
        return net64.cost(x, y, loss_fn)

    round_off = _round_off(cost(), eps)
    net64.zero_grad()
    analytic_dx = net64.backward()
    errors = {}
    for name, value, grad in net64.named_parameters():
        analytic = grad.copy()
        numeric = numerical_gradient(lambda: cost(), value, eps)
        errors[name] = float(np.max(_relative_error(analytic, numeric, eps, round_off),
                                    initial=0.0))
    numeric_dx = numerical_gradient(lambda: cost(), x, eps)
    errors["input"] = float(np.max(_relative_error(analytic_dx, numeric_dx, eps, round_off),
                                   initial=0.0))
    return errors


def numerical_gradient(f: Callable[[], float], x: NDArray[Any],
                       eps: float = 1e-6) -> NDArray[Any]:
    """Central differences of a scalar function f() that reads the array x (changed in place and
    restored): ∂f/∂xᵢ ≈ (f(x + eps eᵢ) − f(x − eps eᵢ))/(2 eps)."""
    grad = np.zeros(x.shape, dtype=np.float64)
    flat = x.reshape(-1)
    out = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        out[i] = (plus - minus) / (2 * eps)
    return grad
