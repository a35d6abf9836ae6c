"""Weight initializers, computed by the C core from a seed (the same seed gives the same weights
on every machine, in float32 and float64 alike).

An initializer is named by a string, or by a (name, value) pair for those that take a value::

    mlpc.Linear(500, 500, init="xavier_normal")
    mlpc.Linear(500, 500, init=mlpc.init.normal(0.01))     # == ("normal", 0.01)

====================  ===============================================  =====================
name                  distribution (fan_in = in_features, fan_out = out_features)
====================  ===============================================  =====================
zeros                 0
constant(value)       value everywhere
normal(std)           N(0, std²)
uniform(a)            U(−a, a)
xavier_normal         N(0, 2/(fan_in + fan_out))   Glorot & Bengio 2010   alias glorot_normal
xavier_uniform        U(±√(6/(fan_in + fan_out)))                         alias glorot_uniform
he_normal             N(0, 2/fan_in)               He et al. 2015         alias kaiming_normal
he_uniform            U(±√(6/fan_in))                                     alias kaiming_uniform
lecun_normal          N(0, 1/fan_in)   — what some lecture notes call "Xavier" (σ = 1/√n_in)
lecun_uniform         U(±√(3/fan_in))
orthogonal(gain)      gain · a random orthogonal matrix (rows or columns orthonormal)
====================  ===============================================  =====================
"""
import numpy as np

from . import _core
from ._seed import draw_seed

_KINDS = {
    "zeros": (_core.INIT_ZEROS, None),
    "constant": (_core.INIT_CONSTANT, 0.0),
    "normal": (_core.INIT_NORMAL, 1.0),
    "uniform": (_core.INIT_UNIFORM, 1.0),
    "xavier_normal": (_core.INIT_XAVIER_NORMAL, None),
    "xavier_uniform": (_core.INIT_XAVIER_UNIFORM, None),
    "he_normal": (_core.INIT_HE_NORMAL, None),
    "he_uniform": (_core.INIT_HE_UNIFORM, None),
    "lecun_normal": (_core.INIT_LECUN_NORMAL, None),
    "lecun_uniform": (_core.INIT_LECUN_UNIFORM, None),
    "orthogonal": (_core.INIT_ORTHOGONAL, 1.0),
}
_ALIASES = {"glorot_normal": "xavier_normal", "glorot_uniform": "xavier_uniform",
            "kaiming_normal": "he_normal", "kaiming_uniform": "he_uniform"}
NAMES = tuple(_KINDS) + tuple(_ALIASES)


def constant(value: float) -> tuple[str, float]:
    return ("constant", float(value))


def normal(std: float) -> tuple[str, float]:
    return ("normal", float(std))


def uniform(a: float) -> tuple[str, float]:
    return ("uniform", float(a))


def orthogonal(gain: float = 1.0) -> tuple[str, float]:
    return ("orthogonal", float(gain))


def resolve(init):
    """(core kind, value) for a name or a (name, value) pair; ValueError for anything else."""
    name, value = (init, None) if isinstance(init, str) else (tuple(init) + (None,))[:2] \
        if isinstance(init, (tuple, list)) else (None, None)
    name = _ALIASES.get(name, name) if isinstance(name, str) else None   # (array, 1): no key
    if name not in _KINDS:
        raise ValueError(f"unknown initializer {init!r}; choose one of {', '.join(NAMES)}")
    kind, default = _KINDS[name]
    value = default if value is None else value
    if value is not None and not np.isfinite(value):
        raise ValueError(f"initializer {name}: value must be finite, got {value!r}")
    if name in ("normal", "uniform") and value < 0:
        raise ValueError(f"initializer {name}: the scale must be >= 0, got {value}")
    return kind, float(value or 0.0)


def weight(init, rows, cols, seed=None):
    """A (rows, cols) float64 matrix drawn by the core: fan_in = cols, fan_out = rows."""
    kind, value = resolve(init)
    if seed is None:
        seed = draw_seed()
    return _core.init_weight(kind, int(rows), int(cols), value, int(seed) & (2**64 - 1))
