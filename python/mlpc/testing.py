"""Assertions for users' own test suites.

    from mlpc.testing import assert_gradients_close, check_function_gradient
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .gradcheck import _relative_error, _round_off, gradcheck, numerical_gradient


def assert_gradients_close(net: Any, loss_fn: Any, x: ArrayLike, y: ArrayLike,
                           tol: float = 1e-7, eps: float = 1e-6) -> dict[str, float]:
    """Fail (AssertionError naming the parameters) if any max relative error of
    mlpc.gradcheck exceeds tol."""
    errors = gradcheck(net, loss_fn, x, y, eps)
    bad = {k: v for k, v in errors.items() if not v < tol}
    assert not bad, f"gradient check failed (tol {tol}): {bad}"
    return errors


def check_function_gradient(f: Callable[[NDArray[Any]], float],
                            grad_f: Callable[[NDArray[Any]], ArrayLike], x: Any,
                            tol: float = 1e-7, eps: float = 1e-6) -> float:
    """Check grad_f(x) (an array shaped like x) against central differences of the scalar f(x),
    e.g. a student's NumPy loss and its derivative. Returns the max relative error."""
    x = np.array(x, dtype=np.float64)
    analytic = np.asarray(grad_f(x.copy()), dtype=np.float64)
    if analytic.shape != x.shape:
        raise ValueError(f"grad_f returned shape {analytic.shape}, expected {x.shape}")
    numeric = numerical_gradient(lambda: f(x), x, eps)
    round_off = _round_off(f(x.copy()), eps)
    err = float(np.max(_relative_error(analytic, numeric, eps, round_off), initial=0.0))
    assert err < tol, f"gradient check failed: max relative error {err:.3g} >= {tol}"
    return err
