"""The lecture experiments, reproduced: each is a function returning a result object.

    from mlpc.experiments import EXPERIMENTS
    result = EXPERIMENTS["init_histograms"](quick=True, seed=0)
    result.stats["tanh"]["sigma=0.01"]["activation"]["std"]     # per-layer numbers
    result.plot()                                                  # {suffix: Figure}
    result.save("figures")        # figures/init_histograms.json, init_histograms_*.png

or from the shell: ``python -m mlpc.experiments NAME|all [--quick] [--seed S] [--out DIR]``.

Every experiment is ``run(quick=False, seed=0, **params) -> Result``: the defaults are the
lecture's parameters and every one of them can be changed by keyword; ``quick=True`` shrinks the
sizes so a run, figures included, takes seconds (for tests and notebooks). The modules are
imported only when their experiment runs, so ``import mlpc.experiments`` is cheap and needs no
matplotlib.

This module also holds the small helpers the experiments share (parameter merging and checking,
per-layer statistics from the core's ``moments``, value sampling for histograms). A bad parameter
raises a ParameterValueError (a ValueError) or ParameterTypeError (a TypeError) before anything
runs: "init_histograms: layers must be an int >= 1, got 0".
"""
import importlib
import math
import numbers

import numpy as np

from .._choices import check_choice
from .result import Figures, Result

__all__ = ["EXPERIMENTS", "Result", "Figures", "run", "merge_params", "as_list", "layer_stats", "stats_table",
           "sample_values", "ParameterError", "ParameterValueError",
           "ParameterTypeError", "integer", "number", "boolean", "choice", "optional", "list_of",
           "dtype", "activation", "elementwise_activation", "initializer"]

# name -> module (inside mlpc.experiments) that defines run()
_MODULES = {
    "init_histograms": "init_histograms",
    "constant_init": "constant_init",
    "batchnorm_cifar": "batchnorm_cifar",
    "slow_learning": "slow_learning",
    "capacity_regularization": "capacity_regularization",
    "convergence": "convergence",
    "gradient_bounds": "gradient_bounds",
    "activations": "activations",
}


def _lazy(name, module):
    """A run function that imports its module on first call (a missing module fails then)."""
    def run(quick=False, seed=0, **params):
        return importlib.import_module(f"{__name__}.{module}").run(quick=quick, seed=seed,
                                                                    **params)
    run.__name__ = name
    run.__qualname__ = f"EXPERIMENTS[{name!r}]"
    run.__doc__ = (f"Run the {name!r} experiment (mlpc.experiments.{module}.run): "
                   f"run(quick=False, seed=0, **params) -> Result.")
    return run


EXPERIMENTS = {name: _lazy(name, module) for name, module in _MODULES.items()}


def run(name, quick=False, seed=0, **params):
    """EXPERIMENTS[name](quick=quick, seed=seed, **params); KeyError for an unknown name."""
    if isinstance(name, str) and name not in EXPERIMENTS:
        raise KeyError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    fn = EXPERIMENTS[check_choice("experiment name", name, EXPERIMENTS,
                                  "one of " + ", ".join(EXPERIMENTS))]     # not a string
    return fn(quick=quick, seed=seed, **params)


# --------------------------------------------------------------------------------------------
# parameter checking
# --------------------------------------------------------------------------------------------
# Every experiment module has KINDS = {parameter: kind} beside its DEFAULTS; merge_params checks
# each value with its kind before anything runs, so a bad value is named at once (not after
# minutes of training, nor as a KeyError from deep inside). A kind is a function
# kind(key, value) -> the value to use, raising ParameterValueError/ParameterTypeError with
# "<key> must be <what>, got <value>".

class ParameterError(Exception):
    """Mixed into the errors of a bad experiment parameter (unknown, wrong type, out of range),
    so the command line can report them as usage errors rather than as failed runs."""


class ParameterValueError(ParameterError, ValueError):
    """A parameter with an unusable value (layers=0)."""


class ParameterTypeError(ParameterError, TypeError):
    """An unknown parameter, or a value of the wrong type (layers=1.5, quick="no")."""


def _expected(key, what, value, error=ParameterValueError):
    return error(f"{key} must be {what}, got {value!r}")


def integer(minimum=None):
    """Kind: an int (NumPy ints too, not bools or floats) >= minimum."""
    what = "an int" + ("" if minimum is None else f" >= {minimum}")

    def check(key, value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise _expected(key, what, value, ParameterTypeError)
        if minimum is not None and value < minimum:
            raise _expected(key, what, value)
        return int(value)
    return check


def _range_text(above, at_least, below, at_most):
    lo, lo_open = (above, True) if above is not None else (at_least, False)
    hi, hi_open = (below, True) if below is not None else (at_most, False)
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f" {'<' if hi_open else '<='} {hi:g}"
    return ""


def number(above=None, at_least=None, below=None, at_most=None):
    """Kind: a finite real number (not a bool) within the given bounds, as a float."""
    what = "a finite number" + _range_text(above, at_least, below, at_most)

    def check(key, value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise _expected(key, what, value, ParameterTypeError)
        if not (math.isfinite(value) and (above is None or value > above)
                and (at_least is None or value >= at_least)
                and (below is None or value < below) and (at_most is None or value <= at_most)):
            raise _expected(key, what, value)
        return float(value)
    return check


def boolean(key, value):
    """Kind: True or False (NumPy bools and the ints 0 and 1 too, not strings: "no" is not
    False)."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral)
                                               and value in (0, 1)):
        return bool(value)
    raise _expected(key, "True or False", value, ParameterTypeError)


def choice(*options):
    """Kind: one of the given values (strings)."""
    what = "one of " + ", ".join(map(repr, options))

    def check(key, value):
        if not isinstance(value, str) or value not in options:
            raise _expected(key, what, value)
        return value
    return check


def optional(kind):
    """Kind: None, or a value of `kind`."""
    def check(key, value):
        return None if value is None else kind(key, value)
    return check


def list_of(kind, length=None):
    """Kind: several values of `kind`, as a list; one value alone is a list of one (as_list).
    The list must not be empty (the experiments loop over it, and draw a panel per value);
    `length`: the exact number of values."""
    what = "a non-empty list" if length is None else f"a list of {length} values"

    def check(key, value):
        values = as_list(value)
        if not values or (length is not None and len(values) != length):
            raise _expected(key, what, value)
        if len(values) == 1 and values[0] is value:      # one value given: name it as such
            return [kind(key, value)]
        return [kind(f"{key}[{i}]", v) for i, v in enumerate(values)]
    return check


def dtype(key, value):
    """Kind: float32 or float64 (a name or a NumPy dtype), as its name."""
    try:
        name = np.dtype(value).name
    except TypeError:
        name = None
    if name not in ("float32", "float64"):
        raise _expected(key, "'float32' or 'float64'", value)
    return name


def activation(key, value):
    """Kind: a name in mlpc.ACTIVATIONS."""
    from .. import ACTIVATIONS
    return choice(*ACTIVATIONS)(key, value)


def elementwise_activation(key, value):
    """Kind: a name in mlpc.ACTIVATIONS whose layer has no parameters (all but prelu)."""
    from .. import ACTIVATIONS, Activation
    return choice(*(n for n, cls in ACTIVATIONS.items() if issubclass(cls, Activation)))(
        key, value)


def initializer(key, value):
    """Kind: anything mlpc.init accepts (a name or a (name, value) pair); kept as given."""
    from .. import init
    try:
        init.resolve(value)
    except (TypeError, ValueError):
        raise _expected(key, f"an mlpc.init name ({', '.join(init.NAMES)}) or a (name, value) "
                             f"pair", value) from None
    return value


_SEED = integer(0)


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------

def merge_params(name, defaults, quick_defaults, quick, given, kinds=None, seed=0):
    """The parameters of one run: the lecture's `defaults`, replaced by `quick_defaults` when
    quick, replaced by the caller's `given` keywords. Unknown keywords raise a TypeError.

    `kinds` ({parameter: kind}, one for every default; see `integer`, `number`, `list_of`...)
    checks every value and gives the value to use (list parameters as lists); `quick` must be a
    bool and `seed` an int >= 0. A bad value raises ParameterValueError (a ValueError) or
    ParameterTypeError (a TypeError) naming the experiment, the parameter, what was expected and
    what was given: "init_histograms: layers must be an int >= 1, got 0"."""
    try:
        unknown = sorted(set(given) - set(defaults))
        if unknown:
            raise ParameterTypeError(f"unknown parameter(s) {', '.join(unknown)}; "
                                     f"accepted: {', '.join(defaults)}")
        boolean("quick", quick)
        _SEED("seed", seed)
        params = dict(defaults)
        if quick:
            params.update(quick_defaults)
        params.update(given)
        if kinds is not None:
            params = _checked(params, kinds)
    except ParameterError as e:
        raise type(e)(f"{name}: {e}") from None
    return params


def _checked(params, kinds):
    if set(kinds) != set(params):       # a module's table out of step with its DEFAULTS
        raise RuntimeError(f"parameter kinds {sorted(kinds)} do not match the parameters "
                           f"{sorted(params)}")
    return {key: kinds[key](key, value) for key, value in params.items()}


def as_list(value):
    """A parameter that takes several values, as a list: a single string or number becomes a
    one-element list (so activations="tanh" and lrs=0.5 work as well as tuples)."""
    single = (isinstance(value, (str, bytes, numbers.Number)) or not hasattr(value, "__iter__")
              or isinstance(value, np.ndarray) and value.ndim == 0)   # a 0-d array won't iterate
    return [value] if single else list(value)


def layer_stats(values, saturation=None):
    """Statistics of one layer's values from the core's `moments`: mean, std, fraction of exact
    zeros, L2 norm; plus the fraction with |value| > saturation when `saturation` is given."""
    from .. import _core
    values = np.asarray(values)
    stats, _ = _core.moments(values, 0, 0.0, 0.0, 0.99 if saturation is None else saturation)
    mean, std, zero_fraction, norm, _, _, saturated = stats
    out = {"mean": float(mean), "std": float(std), "zero_fraction": float(zero_fraction),
           "norm": float(norm)}
    if saturation is not None:
        out["saturated_fraction"] = float(saturated)
    return out


def stats_table(per_layer):
    """[{key: v}] per layer -> {key: [v per layer]} (the JSON layout of every experiment)."""
    keys = per_layer[0].keys() if per_layer else ()
    return {k: [d[k] for d in per_layer] for k in keys}


def sample_values(values, max_values, rng):
    """A flat float64 copy of `values`, or a random subset of `max_values` of them (for
    histograms) that keeps the exact fraction of zeros, so the zero fraction a histogram
    prints is that of the whole layer."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    if max_values is None or flat.size <= max_values:
        return flat.copy()
    zero = flat == 0
    n_zero = int(round(max_values * zero.mean()))
    nonzero_idx = np.flatnonzero(~zero)
    n_nonzero = min(max_values - n_zero, nonzero_idx.size)
    picked = flat[rng.choice(nonzero_idx, size=n_nonzero, replace=False)]
    return np.concatenate([np.zeros(n_zero), picked])
