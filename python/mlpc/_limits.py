"""The one check of a hyper-parameter against the network's dtype.

The core computes in the network's dtype: every hyper-parameter (a LeakyReLU slope, an
initializer's value, a learning rate, weight decay, eps ...) is rounded to it. In float32 a
value beyond 3.4e38 becomes inf (LeakyReLU(1e39) would give −inf outputs, SGD(lr=1e39) inf
parameters after one step) and a non-zero value below 1.4e-45 becomes 0 (Adam's eps=1e-46
would divide 0 by 0): both are refused here, at construction when the dtype is known, or when
the network is built.
"""
import numpy as np


def in_dtype(name, value, dtype, overflow_only=False):
    """`value` (a number or an array) as `dtype` holds it; ValueError when that rounding makes
    a finite value infinite or (unless overflow_only: values, not settings) a non-zero value
    zero."""
    value = np.asarray(value, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        rounded = value.astype(dtype)
    bad = np.isinf(rounded) & np.isfinite(value)
    if not overflow_only:
        bad |= ~np.isfinite(rounded) | ((rounded == 0) & (value != 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        info = np.finfo(dtype)
        raise ValueError(f"{name} = {float(value.flat[i])!r} does not fit a "
                         f"{np.dtype(dtype).name} network: it would become "
                         f"{float(rounded.flat[i])} (its finite "
                         f"non-zero magnitudes run from {info.smallest_subnormal:.3g} to "
                         f"{info.max:.3g}); use a value in that range or a float64 network")
    return rounded
