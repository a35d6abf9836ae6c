"""Assertions for users' own test suites, on the machinery of mlpc.gradcheck (same defaults:
the directional check at tol = 1e-7; entries="all" or K for the elementwise one).

    from mlpc.testing import assert_gradients_close, check_function_gradient
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from numpy.typing import ArrayLike, NDArray

from .gradcheck import GradcheckResult, function_gradcheck, gradcheck


def assert_gradients_close(net: Any, loss_fn: Any, x: ArrayLike, y: ArrayLike, tol: float = 1e-7,
                           eps: Optional[float] = None, **options: Any) -> GradcheckResult:
    """mlpc.gradcheck(net, loss_fn, x, y, eps, tol=tol, **options), raising AssertionError with its
    report (the failing tensors and their worst entries) unless it passed. Returns the result."""
    result = gradcheck(net, loss_fn, x, y, eps, tol=tol, **options)
    if not result.passed:
        raise AssertionError(repr(result))
    return result


def check_function_gradient(f: Callable[[NDArray[Any]], Any], grad_f: Callable[[NDArray[Any]], Any],
                            x: ArrayLike, tol: float = 1e-7, eps: Optional[float] = None,
                            **options: Any) -> GradcheckResult:
    """Check grad_f(x) (an array shaped like x) against finite differences of the scalar f(x),
    e.g. a student's NumPy loss and its derivative, as mlpc.gradcheck checks a network (options:
    entries, directions, seed). Raises AssertionError naming the worst entries unless it
    passes; returns the result ({"x": max error})."""
    result = function_gradcheck(f, grad_f, x, eps, tol=tol, **options)
    if not result.passed:
        raise AssertionError(repr(result))
    return result
