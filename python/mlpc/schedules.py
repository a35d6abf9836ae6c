"""Learning-rate schedules.

A *schedule* is any callable ``step -> lr``: it receives the number of
parameter updates done so far (``0`` for the first update) and returns the
learning rate to use for the next update.  Anything in mlpc that takes a
schedule also accepts a plain function or lambda, e.g.
``lambda t: 0.1 / (1 + t)``, and a bare number means a constant rate
(see :func:`as_schedule`).

The classes here are ready-made schedules with a readable ``repr`` and their
parameters stored as attributes of the same name (``sched.lr0``,
``sched.n_s``, ...).  Each is available under a lower-case name, which is the
intended spelling::

    >>> from mlpc import schedules
    >>> s = schedules.cyclical(1e-5, 1e-1, n_s=500)
    >>> s
    cyclical(lr_min=1e-05, lr_max=0.1, n_s=500)
    >>> s(500)
    0.1
    >>> schedules.values(s, 2000).shape
    (2000,)

Formulas (``t`` is the step):

==============  ===========================================================
constant        ``lr``
step            ``lr * gamma ** (t // step_size)``
linear          ``(1 - t/K) lr0 + (t/K) lr_end`` for ``t <= K``, then ``lr_end``
power           ``lr0 * (1 + t/s) ** c``   (``c < 0`` decays)
exponential     ``lr0 * c ** (t/s)``       (``0 < c < 1`` decays)
cosine          linear warm-up, then half-cosine from ``lr_max`` to ``lr_min``
cyclical        triangular wave between ``lr_min`` and ``lr_max``,
                half-period ``n_s`` (Smith 2017)
==============  ===========================================================
"""
from __future__ import annotations


import decimal
import math
import numbers

from typing import Any, Callable, Union

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Schedule",
    "constant",
    "step",
    "linear",
    "power",
    "exponential",
    "cosine",
    "cyclical",
    "values",
    "as_schedule",
]


# --------------------------------------------------------------------------
# argument checking
# --------------------------------------------------------------------------

def _is_number(value):
    """A real number given as a Python or NumPy number, Decimal, Fraction, or a 0-d array or
    tensor (np.load gives those); not bool (lr=True is always a mistake) nor str, which float()
    would also take."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        return False
    if isinstance(value, (numbers.Real, decimal.Decimal)):
        return True
    shape, kind = getattr(value, "shape", None), getattr(getattr(value, "dtype", None), "kind", "")
    return shape is not None and len(shape) == 0 and (kind in "iuf" if kind else
                                                      hasattr(value, "__float__"))


def _real(name, value):
    """Return ``value`` as a float, rejecting non-numbers, NaN and infinity."""
    if not _is_number(value):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        value = float(value)
    except OverflowError:   # an int beyond float range (10**400)
        value = math.inf
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _nonnegative(name, value):
    value = _real(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def _positive(name, value):
    value = _real(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def _count(name, value):
    """A positive length in steps; kept as int when given as one so reprs stay exact."""
    _positive(name, value)
    if isinstance(value, numbers.Integral):
        return int(value)
    return float(value)


def _check_step(step):
    """Validate the step argument of a schedule call and return it unchanged."""
    if isinstance(step, bool) or not isinstance(step, numbers.Real):
        raise TypeError(f"step must be a non-negative number, got {step!r}")
    if not step >= 0:  # also catches NaN
        raise ValueError(f"step must be >= 0, got {step!r}")
    if isinstance(step, numbers.Integral):
        return int(step)
    return float(step)


# --------------------------------------------------------------------------
# schedules
# --------------------------------------------------------------------------

class Schedule:
    """Base class: a callable ``step -> lr`` with a readable repr.

    Subclasses set ``_params`` (names of the constructor arguments, stored as
    attributes of the same name) and implement ``_lr(t)`` for a validated
    ``t >= 0``.
    """

    _name = "schedule"
    _params: tuple[str, ...] = ()

    def __call__(self, step: int) -> float:
        """Learning rate after ``step`` updates (``step >= 0``)."""
        return float(self._lr(_check_step(step)))

    def _lr(self, t):
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self._params)
        return f"{self._name}({args})"

    def __eq__(self, other):
        if type(self) is not type(other):
            return NotImplemented
        return all(getattr(self, p) == getattr(other, p) for p in self._params)

    def __hash__(self):
        return hash((type(self),) + tuple(getattr(self, p) for p in self._params))


class Constant(Schedule):
    """The same learning rate ``lr`` at every step."""

    _name = "constant"
    _params = ("lr",)

    def __init__(self, lr: float) -> None:
        self.lr = _nonnegative("lr", lr)

    @property
    def lr0(self):
        return self.lr

    def _lr(self, t):
        return self.lr


class Step(Schedule):
    """Step decay: ``lr * gamma ** (t // step_size)``.

    The rate is multiplied by ``gamma`` every ``step_size`` updates.
    """

    _name = "step"
    _params = ("lr", "step_size", "gamma")

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.lr = _nonnegative("lr", lr)
        self.step_size = _count("step_size", step_size)
        self.gamma = _positive("gamma", gamma)

    @property
    def lr0(self):
        return self.lr

    def _lr(self, t):
        return self.lr * self.gamma ** (t // self.step_size)


class Linear(Schedule):
    """Linear interpolation from ``lr0`` to ``lr_end`` over ``K`` steps.

    ``lr_t = (1 - t/K) lr0 + (t/K) lr_end`` for ``t <= K``; afterwards the
    rate stays at ``lr_end`` (the "linear" schedule of the lecture notes,
    where ``lr_end`` is written eta_K).
    """

    _name = "linear"
    _params = ("lr0", "lr_end", "K")

    def __init__(self, lr0: float, lr_end: float, K: int) -> None:
        self.lr0 = _nonnegative("lr0", lr0)
        self.lr_end = _nonnegative("lr_end", lr_end)
        self.K = _count("K", K)

    def _lr(self, t):
        if t >= self.K:
            return self.lr_end
        frac = t / self.K
        return (1.0 - frac) * self.lr0 + frac * self.lr_end


class Power(Schedule):
    """Power law: ``lr0 * (1 + t/s) ** c``.

    ``c`` must be negative for a decaying rate (``c = -1`` gives the classic
    ``lr0 / (1 + t/s)``); ``c = 0`` is constant and ``c > 0`` grows.  ``s``
    sets the time scale: the rate has fallen by a factor ``2**c`` at
    ``t = s``.
    """

    _name = "power"
    _params = ("lr0", "s", "c")

    def __init__(self, lr0: float, s: float, c: float) -> None:
        self.lr0 = _nonnegative("lr0", lr0)
        self.s = _positive("s", s)
        self.c = _real("c", c)

    def _lr(self, t):
        return self.lr0 * (1.0 + t / self.s) ** self.c


class Exponential(Schedule):
    """Exponential decay: ``lr0 * c ** (t/s)``.

    The rate is multiplied by ``c`` every ``s`` steps, smoothly in between;
    ``0 < c < 1`` decays, ``c = 1`` is constant.
    """

    _name = "exponential"
    _params = ("lr0", "c", "s")

    def __init__(self, lr0: float, c: float, s: float) -> None:
        self.lr0 = _nonnegative("lr0", lr0)
        self.c = _positive("c", c)
        self.s = _positive("s", s)

    def _lr(self, t):
        return self.lr0 * self.c ** (t / self.s)


class Cosine(Schedule):
    """Linear warm-up followed by cosine annealing.

    * ``0 <= t < warmup``: linear ramp from ``lr_min`` to ``lr_max``
      (from 0 with the default ``lr_min=0``; note step 0 then has rate
      ``lr_min``);
    * ``warmup <= t <= T``: ``lr_min + (lr_max - lr_min) (1 + cos(pi u)) / 2``
      with ``u = (t - warmup) / (T - warmup)``, i.e. from ``lr_max`` down to
      ``lr_min``;
    * ``t > T``: ``lr_min``.
    """

    _name = "cosine"
    _params = ("lr_max", "T", "lr_min", "warmup")

    def __init__(self, lr_max: float, T: int, lr_min: float = 0.0, warmup: int = 0) -> None:
        self.lr_max = _nonnegative("lr_max", lr_max)
        self.T = _count("T", T)
        self.lr_min = _nonnegative("lr_min", lr_min)
        if self.lr_min > self.lr_max:
            raise ValueError(
                f"lr_min must be <= lr_max, got lr_min={self.lr_min!r} > lr_max={self.lr_max!r}")
        self.warmup = _nonnegative("warmup", warmup)
        if isinstance(warmup, numbers.Integral):
            self.warmup = int(warmup)
        # warmup == T would leave no annealing phase and divide by zero.
        if self.warmup >= self.T:
            raise ValueError(f"warmup must be < T, got warmup={self.warmup!r}, T={self.T!r}")

    @property
    def lr0(self):
        return self(0)

    def _lr(self, t):
        if t >= self.T:
            return self.lr_min
        if t < self.warmup:
            w = t / self.warmup
        else:
            u = (t - self.warmup) / (self.T - self.warmup)
            w = 0.5 * (1.0 + math.cos(math.pi * u))
        # Interpolating (rather than lr_min + w * span) makes the peak exactly lr_max.
        return (1.0 - w) * self.lr_min + w * self.lr_max


class Cyclical(Schedule):
    """Triangular cyclical learning rate (Smith 2017, as in DD2424).

    The rate climbs linearly from ``lr_min`` to ``lr_max`` in ``n_s`` steps,
    falls back to ``lr_min`` in the next ``n_s`` steps, and repeats; one cycle
    is ``2 n_s`` steps.  With ``l = floor(t / (2 n_s))``::

        lr_t = lr_min + (t - 2 l n_s) / n_s * (lr_max - lr_min)        if 2l n_s <= t <= (2l+1) n_s
        lr_t = lr_max - (t - (2l+1) n_s) / n_s * (lr_max - lr_min)     if (2l+1) n_s <= t <= 2(l+1) n_s
    """

    _name = "cyclical"
    _params = ("lr_min", "lr_max", "n_s")

    def __init__(self, lr_min: float, lr_max: float, n_s: int) -> None:
        self.lr_min = _nonnegative("lr_min", lr_min)
        self.lr_max = _nonnegative("lr_max", lr_max)
        if self.lr_min > self.lr_max:
            raise ValueError(
                f"lr_min must be <= lr_max, got lr_min={self.lr_min!r} > lr_max={self.lr_max!r}")
        self.n_s = _count("n_s", n_s)

    @property
    def lr0(self):
        return self.lr_min

    def cycle(self, step):
        """Index ``l`` of the cycle that ``step`` falls in."""
        return int(_check_step(step) // (2 * self.n_s))

    def _lr(self, t):
        l = t // (2 * self.n_s)
        r = t - 2 * l * self.n_s  # position inside the current cycle, in [0, 2 n_s)
        # Written as an interpolation (not lr_min + f * span) so the corners
        # hit lr_min and lr_max exactly.
        if r <= self.n_s:
            f = r / self.n_s
        else:
            f = 1.0 - (r - self.n_s) / self.n_s
        return (1.0 - f) * self.lr_min + f * self.lr_max


# Lower-case names are the public spelling (``schedules.cyclical(...)``); they
# are the classes themselves so ``isinstance(s, schedules.cyclical)`` works.
constant = Constant
step = Step
linear = Linear
power = Power
exponential = Exponential
cosine = Cosine
cyclical = Cyclical


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def as_schedule(lr: Union[float, Callable[[int], float]]) -> Callable[[int], float]:
    """Turn ``lr`` into a schedule: numbers become :func:`constant`, callables pass through.

    This is how the rest of mlpc interprets a learning-rate argument, so any
    callable ``step -> lr`` is a valid schedule.
    """
    if callable(lr):
        return lr
    if isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        return Constant(lr)
    raise TypeError(
        f"a learning rate must be a number or a callable step -> lr, got {type(lr).__name__}")


def values(sched: Union[float, Callable[[int], float]], steps: int) -> NDArray[np.float64]:
    """Learning rates ``sched(0), ..., sched(steps - 1)`` as a float64 NumPy array.

    ``sched`` may be any callable ``step -> lr`` (or a number, see
    :func:`as_schedule`).
    """
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"steps must be an integer, got {steps!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps!r}")
    sched = as_schedule(sched)
    # Plain callables may not be vectorised, so evaluate one step at a time.
    return np.array([float(sched(t)) for t in range(int(steps))], dtype=np.float64)
