"""The lecture experiments, reproduced: each is a function returning a result object.

    from mlpc.experiments import EXPERIMENTS
    result = EXPERIMENTS["init_histograms"](quick=True, seed=0)
    result.stats["tanh"]["sigma=0.01"]["activation"]["std"]     # per-layer numbers
    result.plot()                                                  # {suffix: Figure}
    result.save("figures")        # figures/init_histograms.json, init_histograms_*.png

or from the shell: ``python -m mlpc.experiments NAME|all [--quick] [--seed S] [--out DIR]``.

Every experiment is ``run(quick=False, seed=0, **params) -> Result``: the defaults are the
lecture's parameters and every one of them can be changed by keyword; ``quick=True`` shrinks the
sizes so a run takes a second or two (for tests and notebooks). The modules are imported only
when their experiment runs, so ``import mlpc.experiments`` is cheap and needs no matplotlib.

This module also holds the small helpers the experiments share (parameter merging, per-layer
statistics from the core's ``moments``, value sampling for histograms).
"""
import importlib

import numpy as np

from .result import Result

__all__ = ["EXPERIMENTS", "Result", "run", "merge_params", "as_list", "layer_stats", "stats_table",
           "sample_values", "histogram_figure"]

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
    """EXPERIMENTS[name](quick=quick, seed=seed, **params)."""
    try:
        fn = EXPERIMENTS[name]
    except KeyError:
        raise KeyError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}") \
            from None
    return fn(quick=quick, seed=seed, **params)


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------

def merge_params(name, defaults, quick_defaults, quick, given):
    """The parameters of one run: the lecture's `defaults`, replaced by `quick_defaults` when
    quick, replaced by the caller's `given` keywords. Unknown keywords raise TypeError."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise TypeError(f"{name}: unknown parameter(s) {', '.join(unknown)}; "
                        f"accepted: {', '.join(defaults)}")
    params = dict(defaults)
    if quick:
        params.update(quick_defaults)
    params.update(given)
    return params


def as_list(value):
    """A parameter that takes several values, as a list: a single string or number becomes a
    one-element list (so activations="tanh" and lrs=0.5 work as well as tuples)."""
    if isinstance(value, (str, bytes, int, float)) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)


def layer_stats(values, saturation=None):
    """Statistics of one layer's values from the core's `moments`: mean, std, fraction of exact
    zeros, L2 norm; plus the fraction with |value| > saturation when `saturation` is given."""
    from .. import _core
    values = np.asarray(values)
    (mean, std, zero_fraction, norm), _ = _core.moments(values)
    out = {"mean": float(mean), "std": float(std), "zero_fraction": float(zero_fraction),
           "norm": float(norm)}
    if saturation is not None:
        out["saturated_fraction"] = float(np.mean(np.abs(values) > saturation)) \
            if values.size else 0.0
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


def histogram_figure(rows, row_labels=None, col_labels=None, title=None, panel=(2.3, 1.9),
                     title_lines=2, **kwargs):
    """mlpc.plot.histogram_grid on a figure laid out once by fixed margins (matplotlib's
    tight_layout costs seconds on grids of 50 log-scale panels). `title_lines`: lines of the
    panel titles to leave room for. Returns the Figure (one axes per cell with data)."""
    from .. import plot
    plt = plot._pyplot()
    nrows, ncols = len(rows), max(len(r) for r in rows)
    head = 0.16 * title_lines + 0.1                      # inches above each panel for its title
    top = 0.2 + 0.25 * (title.count("\n") + 1 if title else 0)    # inches for the figure title
    width, height = panel[0] * ncols + 0.8, (panel[1] + head + 0.1) * nrows + 0.3 + top
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    for i, r in enumerate(rows):
        for ax in axes[i, len(r):]:
            fig.delaxes(ax)
    plot.histogram_grid(rows, row_labels=row_labels, col_labels=col_labels, title=title,
                        axes=axes, **kwargs)
    fig.subplots_adjust(left=0.75 / width, right=1 - 0.15 / width, bottom=0.35 / height,
                        top=1 - (top + head) / height, wspace=0.4,
                        hspace=(head + 0.4) / panel[1])
    if kwargs.get("log"):
        from matplotlib.ticker import NullLocator
        for ax in fig.axes:
            if not any(getattr(patch, "get_height", lambda: 0)() > 0 for patch in ax.patches):
                ax.set_yscale("linear")   # an empty panel cannot be log-scaled (matplotlib warns)
            else:                         # minor log ticks: unreadable on small panels, and slow
                ax.yaxis.set_minor_locator(NullLocator())
    return fig
