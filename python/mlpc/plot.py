"""Reusable matplotlib figures for mlpc experiments.

matplotlib is imported lazily, inside the functions, so ``import mlpc`` stays
cheap and works without it.  Every function returns the
:class:`matplotlib.figure.Figure` it drew on; pass ``ax``/``axes`` to draw
into existing axes, otherwise a new figure is created.  Nothing here calls
``plt.show()`` -- call it yourself or ``fig.savefig(...)``.

On a machine without a display (no ``$DISPLAY``/``$WAYLAND_DISPLAY``, not in
Jupyter, and no backend chosen by the user) the non-interactive ``Agg``
backend is selected, so scripts can save figures on headless servers.
Under Jupyter's inline backend figures are made outside pyplot (see
:func:`new_figure`), so a figure that is a cell's value is shown once.
"""

import math
import os
import sys
from typing import Any, Optional

import numpy as np

__all__ = [
    "layer_histograms",
    "histogram_grid",
    "training_curves",
    "decision_boundary",
    "activation_gallery",
    "line_plot",
    "training_health",
    "new_figure",
]


# --------------------------------------------------------------------------
# backend and figure plumbing
# --------------------------------------------------------------------------

def _in_jupyter():
    # A running kernel has always imported ipykernel; plain IPython has not.
    return "ipykernel" in sys.modules


def _backend_chosen(matplotlib):
    """True if the user (rc file, MPLBACKEND, matplotlib.use) already picked a backend."""
    if os.environ.get("MPLBACKEND"):
        return True
    get = getattr(matplotlib.rcParams, "_get_backend_or_none", None)
    if get is not None:  # matplotlib >= 3.7
        return get() is not None
    from matplotlib import rcsetup
    sentinel = getattr(rcsetup, "_auto_backend_sentinel", None)
    return dict.__getitem__(matplotlib.rcParams, "backend") is not sentinel


def _pyplot():
    """Import and return ``matplotlib.pyplot``, choosing Agg when there is no display."""
    import matplotlib

    # macOS and Windows have native GUI backends that need no $DISPLAY, so the
    # headless test only makes sense on X11/Wayland systems.
    headless = (
        sys.platform not in ("darwin", "win32")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    )
    if headless and not _in_jupyter() and not _backend_chosen(matplotlib):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _inline_backend():
    """True under Jupyter's inline backend, which shows every figure pyplot knows at the end of
    the cell -- and IPython shows a returned Figure once more as the cell's value."""
    import matplotlib
    return _in_jupyter() and "inline" in str(matplotlib.get_backend()).lower()


def new_figure(figsize):
    """A new Figure, known to pyplot (so ``plt.show()`` shows it) except under Jupyter's inline
    backend: there it is made outside pyplot, so a figure returned as a cell's last value is
    shown once, not twice (``display(fig)`` shows it from anywhere in a cell)."""
    plt = _pyplot()
    if _inline_backend():
        from matplotlib.figure import Figure
        # importing the backend registers IPython's PNG display of figures (pyplot imports it
        # only when it makes its first figure)
        import matplotlib_inline.backend_inline  # noqa: F401
        return Figure(figsize=figsize)
    return plt.figure(figsize=figsize)


def _axes_list(axes, n):
    """Flatten user-supplied axes and check there are at least ``n`` of them."""
    flat = list(np.ravel(np.asarray(axes, dtype=object)))
    if len(flat) < n:
        raise ValueError(f"need {n} axes, got {len(flat)}")
    return flat[:n]


def _grid(n, ncols, axes=None, panel_size=(2.8, 2.3)):
    """Figure with ``n`` panels in rows of ``ncols``; returns ``(fig, [ax] * n)``.

    Grid cells beyond ``n`` are removed so ``len(fig.axes) == n``.
    """
    if axes is not None:
        flat = _axes_list(axes, n)
        return flat[0].figure, flat
    ncols = max(1, min(int(ncols), n))
    nrows = max(1, math.ceil(n / ncols))
    fig = new_figure((panel_size[0] * ncols, panel_size[1] * nrows))
    flat = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in flat[n:]:
        fig.delaxes(ax)
    return fig, flat[:n]


def _fixed_grid(nrows, ncols, panel, title, title_lines, label_lines, strips=0):
    """A figure of nrows × ncols panels laid out once by fixed margins (matplotlib's
    tight_layout costs seconds on grids of 50 panels), and `strips` summary panels right of
    them: stacked in one column (each spanning a share of the rows) when there are enough
    rows, else side by side. `title_lines`: lines of the panel titles to leave room for;
    `label_lines`: lines of the row labels left of the first column. Returns (fig, grid of
    axes, [strip axes])."""
    head = 0.15 * title_lines + 0.1                      # inches above each panel for its title
    top = 0.15 + 0.25 * (title.count("\n") + 1 if title else 0)   # inches for the figure title
    left = 0.45 + 0.16 * label_lines
    stacked = strips <= nrows
    extra = (1 if stacked else strips) if strips else 0
    ratio = 1.5 if strips else 1.0                       # strips a little wider, for a legend
    width = panel[0] * (ncols + ratio * extra) + left + 0.15 + 0.35 * extra
    height = (panel[1] + head + 0.2) * nrows + 0.35 + top
    fig = new_figure((width, height))
    gs = fig.add_gridspec(nrows, ncols + extra, width_ratios=[1.0] * ncols + [ratio] * extra,
                          left=left / width, right=1 - 0.15 / width, bottom=0.5 / height,
                          top=1 - (top + head) / height, wspace=0.45,
                          hspace=(head + 0.3) / panel[1])
    grid = np.array([[fig.add_subplot(gs[i, j]) for j in np.arange(ncols)]
                     for i in np.arange(nrows)], dtype=object)
    if stacked:
        cuts = np.linspace(0, nrows, strips + 1).round().astype(int)
        strip_axes = [fig.add_subplot(gs[a:b, ncols]) for a, b in zip(cuts[:-1], cuts[1:])]
    else:
        strip_axes = [fig.add_subplot(gs[:, ncols + k]) for k in np.arange(strips)]
    return fig, grid, strip_axes


def _flat(values):
    """Any array-like (or object with ``.numpy()``) as a 1-D float array."""
    if not isinstance(values, np.ndarray) and callable(getattr(values, "numpy", None)):
        values = values.numpy()
    return np.asarray(values, dtype=np.float64).ravel()


def _prepare(values, nonzero, magnitude=False):
    """One panel's data: ``(data, note, state)``. ``note`` goes into the title; ``state`` is
    None, or the text drawn instead of a histogram when nothing is left to bin ("all zeros",
    "all = 0.5", "no finite values", "empty").

    Non-finite values are dropped because ``np.histogram`` cannot bin them
    (exploding-gradient runs produce inf/NaN); the count is reported. ``magnitude`` bins |v| on
    a log axis, which has no place for exact zeros: they are dropped as with ``nonzero``.
    """
    data = _flat(values)
    size = data.size
    notes = []
    finite = np.isfinite(data)
    if not finite.all():
        notes.append(f"{int((~finite).sum())} non-finite dropped")
        data = data[finite]
    if nonzero or magnitude:
        is_zero = data == 0
        frac = float(is_zero.mean()) if data.size else 0.0
        notes.insert(0, f"zeros: {100 * frac:.1f}%")
        data = data[~is_zero]
    if magnitude:
        data = np.abs(data)
    state = None
    if size == 0:
        state = "empty"
    elif not finite.any():
        state = "no finite values"
    elif data.size == 0:
        state = "all zeros"
    elif data.min() == data.max():
        value = data[0]
        state = "all zeros" if value == 0 else f"all {'|v| ' if magnitude else ''}= {value:.3g}"
    return data, ", ".join(notes), state


def _shared_range(datasets):
    """Common (min, max) over several 1-D arrays, or None if all are empty."""
    nonempty = [d for d in datasets if d.size]
    if not nonempty:
        return None
    return (min(float(d.min()) for d in nonempty), max(float(d.max()) for d in nonempty))


def _edges(data, bins, hist_range, magnitude):
    """Bin edges: ``bins`` equal bins over ``hist_range`` (or the data's range), equal in
    log10 when ``magnitude``; an explicit sequence of edges is used as given."""
    if np.ndim(bins):
        return np.asarray(bins, dtype=np.float64)
    lo, hi = hist_range if hist_range is not None else (float(data.min()), float(data.max()))
    if magnitude:
        if lo == hi:
            return np.logspace(math.log10(lo) - 0.5, math.log10(hi) + 0.5, int(bins) + 1)
        edges = np.logspace(math.log10(lo), math.log10(hi), int(bins) + 1)
        # 10**log10(v) may miss v by an ulp: the smallest and largest values must stay inside
        edges[0], edges[-1] = lo, hi
        return edges
    if lo == hi:  # np.histogram needs a non-empty interval
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, int(bins) + 1)


def _short_number(x, _pos=None):
    """A tick label that needs no offset text: 0.005, -2e-5, 3e+12 -> '3e12'."""
    text = f"{x:.2g}"
    mantissa, e, exponent = text.partition("e")
    return mantissa + (f"e{int(exponent)}" if e else "")


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(x, _pos=None):
    """A log-axis tick label as plain text, 10⁻⁸: matplotlib's default mathtext labels cost
    most of a grid's drawing time."""
    if x <= 0:
        return ""
    exponent = round(math.log10(x))
    if abs(math.log10(x) - exponent) > 1e-6:
        return ""
    return "10" + str(exponent).translate(_SUPERSCRIPT)


def _title(ax, text, fontsize=8):
    """A panel title at a fixed height (matplotlib otherwise measures every tick label of the
    axes to place it, most of the time a grid of 50 panels takes to draw)."""
    ax.set_title(text, fontsize=fontsize, y=1.0)


def _state_panel(ax, text, title):
    """A panel with nothing to bin: the state in words, no axes to misread."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("0.94")
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=10,
            color="0.25")
    if title:
        _title(ax, title)


def _hist_panel(ax, data, bins, log, hist_range, title, magnitude=False, state=None,
                color="C0", xticks=True):
    """One histogram, drawn as a single filled step patch (a bar per bin is dozens of artists
    per panel: seconds per grid). Without `xticks` (a panel above others with the same x-axis)
    only a grey line at |v| = 1 (magnitudes) or 0 marks the scale: every tick costs
    milliseconds to draw."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator
    if state is not None:
        _state_panel(ax, state, title)
        return
    edges = _edges(data, bins, hist_range, magnitude)
    counts, _ = np.histogram(data, bins=edges)
    baseline = 0.5 if log else 0.0       # a log axis has no 0: empty bins sit below the view
    ax.stairs(np.maximum(counts, baseline), edges, fill=True, baseline=baseline, color=color)
    if magnitude:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(numticks=4))
        ax.xaxis.set_major_formatter(FuncFormatter(_power_of_ten))
        ax.xaxis.set_minor_locator(NullLocator())
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=3, steps=[1, 2, 5, 10]))
        ax.xaxis.set_major_formatter(FuncFormatter(_short_number))
    if not xticks:
        ax.xaxis.set_major_locator(NullLocator())
    if magnitude or edges[0] < 0 < edges[-1]:
        ax.axvline(1.0 if magnitude else 0.0, color="0.55", linewidth=0.7, zorder=0)
    if magnitude:                        # a little room beyond the outer bins
        pad = (edges[-1] / edges[0]) ** 0.02
        ax.set_xlim(edges[0] / pad, edges[-1] * pad)
    else:
        pad = 0.02 * (edges[-1] - edges[0])
        ax.set_xlim(edges[0] - pad, edges[-1] + pad)
    if log:
        ax.set_yscale("log")
        ax.set_ylim(baseline, max(1.0, counts.max()) * 2)
        ax.yaxis.set_major_locator(LogLocator(numticks=3))
        ax.yaxis.set_major_formatter(FuncFormatter(_power_of_ten))
        ax.yaxis.set_minor_locator(NullLocator())
    else:                                # few ticks: each one costs milliseconds to draw
        ax.yaxis.set_major_locator(MaxNLocator(nbins=2, integer=True))
    if title:
        _title(ax, title)
    ax.tick_params(labelsize=7)


def _panel_title(label, note):
    return f"{label}\n{note}" if note and label else (label or note)


def _sharing(sharex):
    """sharex as one of None (every panel its own range), "row" or "all"."""
    from ._choices import check_choice   # here: plot.py also loads as a file of its own
    if sharex is None or isinstance(sharex, (bool, np.bool_)):
        return "row" if sharex else None
    return check_choice("sharex", sharex, ("row", "all"), "False, True, 'row' or 'all'")


def _axis_text(xlabel, magnitude):
    xlabel = xlabel or "value"
    return f"|{xlabel}| (log scale)" if magnitude else xlabel


# --------------------------------------------------------------------------
# histograms
# --------------------------------------------------------------------------

def layer_histograms(values, title=None, bins=50, log=False, nonzero=False, labels=None,
                     ncols=5, range=None, sharex=False, magnitude=False, xlabel=None,
                     axes=None):
    """One histogram per layer, laid out in a grid.

    Parameters
    ----------
    values : list of array-like, or dict label -> array-like
        One entry per layer (activations, gradients, weights...); each is
        flattened.  A dict supplies the panel labels through its keys.
    title : str, optional
        Figure title.
    bins : int or sequence
        Number of bins, or the bin edges.
    log : bool
        Log-scale y-axis (as for the gradient histograms in the notes).
    nonzero : bool
        Drop exact zeros (e.g. dead ReLU units) and show the zero fraction
        in each panel title.
    labels : list of str, optional
        Panel titles; default ``"layer 1" .. "layer L"``.
    ncols : int
        Panels per row.
    range : (float, float), optional
        Histogram range for every panel.
    sharex : bool or "all"
        Use one common range (and bins) for all panels, so the shrinking or
        growing spread across layers is visible at a glance.
    magnitude : bool
        Histogram of ``|v|`` on a log x-axis (log-spaced bins), so values of
        1e-8 and 1e12 both show where they are; zeros are dropped and counted
        in the title (they have no place on a log axis).
    xlabel : str, optional
        The quantity, written under every panel (default ``"value"``).
    axes : sequence of Axes, optional
        Draw into these (at least one per layer) instead of a new figure.

    A panel with nothing to bin (all zeros, one constant value, no finite
    values) says so in words instead of drawing empty axes.

    Returns
    -------
    matplotlib.figure.Figure
        With exactly one axes per layer when the function created it.
    """
    if isinstance(values, dict):
        if labels is None:
            labels = [str(k) for k in values]
        values = list(values.values())
    values = list(values)
    n = len(values)
    if n == 0:
        raise ValueError("values must contain at least one array")
    if labels is None:
        labels = [f"layer {i + 1}" for i in np.arange(n)]
    if len(labels) != n:
        raise ValueError(f"got {len(labels)} labels for {n} arrays")

    prepared = [_prepare(v, nonzero, magnitude) for v in values]
    hist_range = range
    if hist_range is None and _sharing(sharex):
        hist_range = _shared_range([d for d, _, state in prepared if state is None])

    fig, axs = _grid(n, ncols, axes)
    for ax, (data, note, state), label in zip(axs, prepared, labels):
        _hist_panel(ax, data, bins, log, hist_range, _panel_title(label, note), magnitude,
                    state)
        if state is None:
            ax.set_xlabel(_axis_text(xlabel, magnitude), fontsize=8)
            ax.set_ylabel("count" + (" (log scale)" if log else ""), fontsize=8)
    if title:
        fig.suptitle(title)
    if axes is None:
        fig.tight_layout()
    return fig


def histogram_grid(rows, row_labels=None, col_labels=None, title=None, bins=50, log=False,
                   nonzero=False, range=None, sharex=False, magnitude=False, xlabel=None,
                   strips=None, panel_size=(2.3, 1.8), axes=None):
    """Histograms in a grid: one row per condition, one column per layer.

    Made for the initialisation experiments (e.g. rows = sigma 0.01 / Xavier /
    He, columns = layers 1..10).

    Parameters
    ----------
    rows : list of list of array-like
        ``rows[i][j]`` is the data for condition ``i``, layer ``j``.  Rows may
        have different lengths; missing cells are left out.
    row_labels : list of str, optional
        Written as the y-label of each row's first panel.
    col_labels : list of str, optional
        Panel titles (every row); default ``"layer 1" ..``.
    title, bins, log, nonzero, range, magnitude, xlabel
        As in :func:`layer_histograms` (``xlabel`` under the bottom row).
    sharex : False, True or "row", "all"
        ``"row"`` (or True): panels of a row share one range and bins;
        ``"all"``: every panel of the grid does, so the x position alone
        tells a vanishing 1e-8 from an exploding 1e12 (best with
        ``magnitude=True``); the x tick labels are then written under the
        bottom row only, and a grey line in every panel marks |v| = 1 (or 0).
    strips : list of (label, values, scale), optional
        Per-layer summaries, one panel each right of the grid with one line
        over the layers per row (in that row's colour, which its histograms
        share): ``values[i][j]`` is the number for row ``i``, layer ``j``
        (e.g. the std, or the fraction of zeros); scale is ``"log"`` (a log
        y-axis, for stds and norms), ``"fraction"`` (0 to 100%) or
        ``"linear"``.
    panel_size : (float, float)
        Inches per panel.
    axes : 2-D array of Axes, optional
        Draw into ``axes[i][j]``; must cover every cell that has data (and,
        when ``strips`` are given, the first row holds one more axes per
        strip after the layers).

    Returns
    -------
    matplotlib.figure.Figure
        With exactly one axes per (row, layer) cell, then one per strip, when
        the function created it.
    """
    from ._choices import check_choice   # here: plot.py also loads as a file of its own
    rows = [list(r) for r in rows]
    nrows = len(rows)
    if nrows == 0:
        raise ValueError("rows must contain at least one row")
    ncols = max(len(r) for r in rows)
    if ncols == 0:
        raise ValueError("rows are all empty")
    if row_labels is not None and len(row_labels) != nrows:
        raise ValueError(f"got {len(row_labels)} row labels for {nrows} rows")
    if col_labels is None:
        col_labels = [f"layer {j + 1}" for j in np.arange(ncols)]
    if len(col_labels) < ncols:
        raise ValueError(f"got {len(col_labels)} column labels for {ncols} columns")
    strips = list(strips or ())
    for label, values, scale in strips:
        if len(values) != nrows or any(len(v) != len(r) for v, r in zip(values, rows)):
            raise ValueError(f"strip {label!r} needs one value per panel of each row")
        check_choice("strip scale", scale, ("log", "fraction", "linear"))
    share = _sharing(sharex)

    prepared = [[_prepare(v, nonzero, magnitude) for v in r] for r in rows]
    if axes is None:
        lines = 1 + any(note for r in prepared for _, note, _ in r)
        label_lines = 1 + max((str(t).count("\n") + 1 for t in row_labels or ()), default=0)
        fig, grid, strip_axes = _fixed_grid(nrows, ncols, panel_size, title, lines,
                                            label_lines, len(strips))
        for i, r in enumerate(rows):
            for ax in grid[i, len(r):]:
                fig.delaxes(ax)
    else:
        grid = np.asarray(axes, dtype=object).reshape(nrows, -1)
        if grid.shape[1] < ncols + len(strips):
            raise ValueError(f"need {ncols + len(strips)} axes per row, got {grid.shape[1]}")
        fig = grid.flat[0].figure
        strip_axes = list(grid[0, ncols:ncols + len(strips)])

    def shared(cells):
        return _shared_range([d for d, _, state in cells if state is None])

    # with strips, each row has its own colour, shared by its line in the strips
    colors = [f"C{i % 10}" if strips else "C0" for i in np.arange(nrows)]
    everywhere = shared([c for r in prepared for c in r]) if share == "all" else None
    # the lowest panel with a histogram in each column: its x-axis gets the ticks and label
    lowest = [max((i for i, r in enumerate(prepared) if len(r) > j and r[j][2] is None),
                  default=None) for j in np.arange(ncols)]
    ylabel = "count" + (" (log)" if log else "")
    for i, cells in enumerate(prepared):
        hist_range = range if range is not None else \
            everywhere if share == "all" else shared(cells) if share == "row" else None
        for j, (data, note, state) in enumerate(cells):
            # with one x-axis for the whole grid, tick labels under each column only
            _hist_panel(grid[i, j], data, bins, log, hist_range,
                        _panel_title(col_labels[j], note), magnitude, state, colors[i],
                        xticks=share != "all" or lowest[j] == i)
        if row_labels is not None and cells:
            counted = cells[0][2] is None
            grid[i, 0].set_ylabel(f"{row_labels[i]}" + (f"\n{ylabel}" if counted else ""),
                                  fontsize=9)
    names = [str(t).split("\n")[0] for t in row_labels] if row_labels is not None else \
        [f"row {i + 1}" for i in np.arange(nrows)]
    stacked = len({ax.get_subplotspec().colspan.start for ax in strip_axes}) == 1
    for k, (ax, (label, values, scale)) in enumerate(zip(strip_axes, strips)):
        # stacked strips: "layer" under the lowest only (the next one's title sits there)
        _strip_panel(ax, values, label, scale, names, colors, legend=k == 0,
                     xlabel=not stacked or k == len(strips) - 1)
    for j, i in enumerate(lowest):       # the quantity under each column (if nothing is below)
        if i is not None and not any(len(r) > j for r in rows[i + 1:]):
            grid[i, j].set_xlabel(_axis_text(xlabel, magnitude), fontsize=8)
    if title:
        fig.suptitle(title, y=1 - 0.1 / fig.get_figheight(), va="top")
    return fig


def _strip_panel(ax, values, label, scale, names, colors, legend, xlabel=True):
    """A per-layer summary: one line over layers 1..L per row of the grid."""
    from matplotlib.ticker import (FuncFormatter, LogLocator, MaxNLocator, NullLocator,
                                   PercentFormatter)
    nothing = True
    for row, name, color in zip(values, names, colors):
        row = np.asarray(row, dtype=np.float64)
        if scale == "log":
            row = np.where(row > 0, row, np.nan)       # zeros have no place on a log axis
        nothing &= not np.isfinite(row).any()
        ax.plot(np.arange(1, len(row) + 1), row, marker="o", markersize=3, color=color,
                label=name)
    if scale == "log":
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(numticks=6))
        ax.yaxis.set_major_formatter(FuncFormatter(_power_of_ten))
        ax.yaxis.set_minor_locator(NullLocator())
        if nothing:
            ax.text(0.5, 0.5, "all zeros", transform=ax.transAxes, ha="center", va="center",
                    fontsize=9, color="0.25")
    elif scale == "fraction":
        ax.set_ylim(-0.05, 1.05)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.set_xlim(0.5, max(len(v) for v in values) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    ax.grid(True, alpha=0.3)
    _title(ax, label, fontsize=9)
    if xlabel:
        ax.set_xlabel("layer", fontsize=8)
    ax.tick_params(labelsize=7)
    if legend:
        ax.legend(fontsize=6, loc="best", framealpha=0.7)


# --------------------------------------------------------------------------
# training curves
# --------------------------------------------------------------------------

def _series_for(history, key):
    """``[(label, 1-D array)]`` for entries named ``key`` or ``<prefix>_<key>``."""
    found = []
    for name, value in history.items():
        name = str(name)
        if name == key:
            label = key
        elif name.endswith("_" + key):
            label = name[: -len(key) - 1]
        else:
            continue
        if value is None:
            continue
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim != 1 or arr.size == 0:
            continue  # scalars like "best_val_loss" are not curves
        found.append((label, arr))
    return found


def training_curves(history_or_dict, keys=("cost", "loss", "accuracy"), axes=None, title=None,
                    xlabel=None):
    """Loss / accuracy curves, one panel per metric in ``keys``.

    Parameters
    ----------
    history_or_dict : dict or object with ``as_dict()``
        Maps names to per-epoch (or per-step) sequences.  For each metric
        ``k`` the entries ``k`` and ``<anything>_k`` (``train_loss``,
        ``val_loss``, ``test_loss``...) go into one panel, labelled by the
        prefix.  Metrics with no entries get no panel.
    keys : sequence of str
        Metrics to plot, in panel order.
    axes : sequence of Axes, optional
        One per panel that will be drawn.
    title : str, optional
        Figure title.
    xlabel : str, optional
        Default ``"epoch"``.

    Series of different lengths in one panel (per-step training loss next to
    per-epoch validation loss) are stretched onto the shortest series'
    axis, so point ``i`` of a length-``n`` series sits at
    ``(i + 1) * n_min / n``.  If the dict has an ``"epoch"`` entry of the
    right length it is used as x for series of that length.

    Returns
    -------
    matplotlib.figure.Figure
    """
    history = history_or_dict
    if hasattr(history, "as_dict"):
        history = history.as_dict()
    if not hasattr(history, "items"):
        raise TypeError("expected a dict or an object with an as_dict() method, "
                        f"got {type(history_or_dict).__name__}")
    if isinstance(keys, str):
        keys = (keys,)

    panels = [(k, s) for k in keys for s in [_series_for(history, k)] if s]
    if not panels:
        raise ValueError(f"no series for {tuple(keys)} in keys {sorted(map(str, history))}")
    epochs = history.get("epoch")
    epochs = None if epochs is None else np.asarray(epochs, dtype=np.float64).ravel()

    fig, axs = _grid(len(panels), len(panels), axes, panel_size=(4.5, 3.3))
    for ax, (key, series) in zip(axs, panels):
        n_min = min(len(a) for _, a in series)
        for label, arr in series:
            n = len(arr)
            if epochs is not None and len(epochs) == n:
                x = epochs
            else:
                x = (np.arange(n) + 1.0) * n_min / n
            ax.plot(x, arr, label=label, marker="o" if n <= 30 else None, markersize=3)
        ax.set_xlabel(xlabel or "epoch")
        ax.set_ylabel(key)
        ax.set_title(key)
        ax.grid(True, alpha=0.3)
        if len(series) > 1 or series[0][0] != key:
            ax.legend()
    if title:
        fig.suptitle(title)
    if axes is None:
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------
# decision boundary
# --------------------------------------------------------------------------

def _classes_of(Z, m):
    """Class indices (m,) from what a decision_boundary `predict` returned for m points: (m, K)
    with K > 1 -> argmax; one column or a float vector -> probabilities of class 1 at 0.5 when
    all in [0, 1], class indices when all whole numbers >= 0, scores at 0 otherwise; an
    integer vector -> class indices. (astype(int) alone truncated every probability below 1 to
    class 0.)"""
    if Z.ndim not in (1, 2) or Z.shape[0] != m or Z.size == 0:
        raise ValueError(f"predict must return ({m},) class indices or ({m}, K) scores for the "
                         f"{m} grid points, got shape {Z.shape}")
    whole = Z.dtype == bool or np.issubdtype(Z.dtype, np.integer)
    if not (whole or np.issubdtype(Z.dtype, np.floating)):
        raise ValueError(f"predict must return numbers, got dtype {Z.dtype}")
    if not whole and not np.all(np.isfinite(Z)):
        raise ValueError("predict returned NaN or infinite values")
    if Z.ndim == 2 and Z.shape[1] > 1:
        return Z.argmax(axis=1)                      # scores, probabilities or one-hot rows
    Z = Z.ravel()
    if not whole:
        if np.all((Z >= 0) & (Z <= 1)):
            return (Z > 0.5).astype(np.int64)        # probability of class 1
        if not np.all((Z >= 0) & (Z == np.round(Z))):
            return (Z > 0).astype(np.int64)          # a score (logit) of class 1
    classes = Z.astype(np.int64)                     # class indices (as ints, or whole floats)
    if classes.min() < 0:
        raise ValueError(f"predict returned the class index {classes.min()}; class indices "
                         f"are >= 0")
    return classes


def decision_boundary(predict, X, y, ax=None, resolution=200, title=None, margin=0.1,
                      xlabel="x₁", ylabel="x₂"):
    """Predicted classes over the plane, with the training points on top.

    Parameters
    ----------
    predict : callable
        Maps an ``(M, 2)`` float array to ``M`` class indices.  Other outputs
        are read as (see ``_classes_of``):

        - ``(M, K)`` scores or probabilities, ``K > 1``: the argmax;
        - one column ``(M, 1)`` or a float vector ``(M,)``: a binary
          classifier's output.  If every value is in [0, 1] it is the
          probability of class 1, thresholded at 0.5 (``predict_proba`` of a
          one-output network); otherwise, if every value is a whole number
          >= 0, class indices (e.g. ``2.0``); otherwise a score (logit),
          thresholded at 0 (class 1 where it is > 0);
        - an integer or bool vector ``(M,)``: class indices (>= 0).
    X : array-like, shape (N, 2)
        Input points; their bounding box, padded by ``margin`` times its size,
        is the plotted region.
    y : array-like, shape (N,)
        Integer class labels (one-hot ``(N, K)`` is accepted too).
    ax : Axes, optional
    resolution : int
        Grid points per axis.
    title : str, optional
    xlabel, ylabel : str
        Names of the two input features.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib
    from matplotlib.colors import BoundaryNorm, ListedColormap

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (N, 2), got {X.shape}")
    y = np.asarray(y)
    if y.ndim == 2:
        y = y.argmax(axis=1)
    y = y.astype(int).ravel()
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    resolution = int(resolution)
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2, got {resolution}")

    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = margin * np.where(hi > lo, hi - lo, 1.0)  # keep a visible box for degenerate data
    gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    xx, yy = np.meshgrid(gx, gy)
    grid_points = np.column_stack([xx.ravel(), yy.ravel()])

    Z = _classes_of(np.asarray(predict(grid_points)), len(grid_points)).reshape(xx.shape)

    n_classes = int(max(Z.max(), y.max() if y.size else 0)) + 1
    base = matplotlib.colormaps["tab10" if n_classes <= 10 else "tab20"]
    cmap = ListedColormap([base(k % base.N) for k in np.arange(n_classes)])
    # Class k occupies the interval [k - 0.5, k + 0.5), so colours match between
    # the filled regions and the points.
    norm = BoundaryNorm(np.arange(n_classes + 1) - 0.5, n_classes)

    if ax is None:
        fig = new_figure((5, 4.5))
        ax = fig.subplots()
    else:
        fig = ax.figure
    ax.contourf(xx, yy, Z, levels=np.arange(n_classes + 1) - 0.5, cmap=cmap, norm=norm,
                alpha=0.3)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, norm=norm, s=14, edgecolors="k",
               linewidths=0.4)
    ax.set_xlim(gx[0], gx[-1])
    ax.set_ylim(gy[0], gy[-1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return fig


# --------------------------------------------------------------------------
# activation functions
# --------------------------------------------------------------------------

def activation_gallery(names, xs, ys, dys, formulas=None, ncols=4, axes=None, title=None):
    """One panel per activation function showing f(x) and f'(x).

    Parameters
    ----------
    names : list of str
        Panel titles.
    xs : array-like or list of array-like
        Inputs: one array shared by all panels, or one per activation.
    ys, dys : list of array-like
        Function values and derivatives per activation; an entry of ``dys``
        (or ``dys`` itself) may be None to draw the function only.
    formulas : list or dict of str, optional
        Extra title line per activation (matplotlib mathtext such as
        ``r"$\\max(0, x)$"`` works); a dict is keyed by name.
    ncols : int
        Panels per row.
    axes : sequence of Axes, optional
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = list(names)
    n = len(names)
    if n == 0:
        raise ValueError("names must not be empty")
    if len(ys) != n:
        raise ValueError(f"got {len(ys)} ys for {n} names")
    if dys is None:
        dys = [None] * n
    if len(dys) != n:
        raise ValueError(f"got {len(dys)} dys for {n} names")
    # A flat numeric xs is one shared input grid; otherwise one grid per panel.
    if isinstance(xs, np.ndarray):
        shared = xs.ndim == 1
    else:
        shared = len(xs) > 0 and all(np.isscalar(v) for v in xs)
    xs_list = [xs] * n if shared else list(xs)
    if len(xs_list) != n:
        raise ValueError(f"got {len(xs_list)} xs for {n} names")
    if isinstance(formulas, dict):
        formulas = [formulas.get(name) for name in names]
    elif formulas is not None and len(formulas) != n:
        raise ValueError(f"got {len(formulas)} formulas for {n} names")

    fig, axs = _grid(n, ncols, axes, panel_size=(3.2, 2.7))
    for i, ax in enumerate(axs):
        x = _flat(xs_list[i])
        ax.plot(x, _flat(ys[i]), label="f(x)")
        if dys[i] is not None:
            ax.plot(x, _flat(dys[i]), label="f'(x)", linestyle="--")
        ax.axhline(0, color="0.6", linewidth=0.6)
        ax.axvline(0, color="0.6", linewidth=0.6)
        heading = names[i]
        if formulas is not None and formulas[i]:
            heading = f"{heading}\n{formulas[i]}"
        ax.set_title(heading, fontsize=10)
        ax.set_xlabel("x", fontsize=8)
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title)
    if axes is None:
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------
# generic
# --------------------------------------------------------------------------

def line_plot(x, ys, title=None, xlabel=None, ylabel=None, log=False, ax=None):
    """Several named curves on one axes (e.g. learning-rate schedules).

    Parameters
    ----------
    x : array-like or None
        Shared x values; None means ``0 .. len(y) - 1`` for each curve.
    ys : dict label -> array-like
    title, xlabel, ylabel : str, optional
    log : bool
        Log-scale y-axis.
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        fig = new_figure((6, 4))
        ax = fig.subplots()
    else:
        fig = ax.figure
    for label, y in ys.items():
        y = _flat(y)
        xv = np.arange(len(y)) if x is None else _flat(x)
        ax.plot(xv, y, label=str(label))
    if log:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if len(ys) > 1:
        ax.legend()
    ax.grid(True, alpha=0.3)
    return fig


# --------------------------------------------------------------------------
# training health (the diagnostics of Karpathy's "makemore part 3")
# --------------------------------------------------------------------------

_UPDATE_GUIDE = 1e-3


def _health_layers(recorder, layers):
    """The layers drawn: those given, else the activation layers whose outputs were recorded
    (every recorded layer when there are none)."""
    recorded = recorder.layer_names("output")
    if layers is not None:
        names = [str(n) for n in ([layers] if isinstance(layers, (str, int)) else layers)]
        missing = [n for n in names if n not in recorded]
        if missing:
            raise ValueError(f"training_health: no recorded output for layer(s) "
                             f"{', '.join(missing)}; recorded: {', '.join(recorded)}")
        return names
    from .layers import Activation
    net = recorder.net
    kinds = dict(net.named_layers()) if net is not None else {}
    active = [n for n in recorded if isinstance(kinds.get(n), Activation)]
    return active or recorded


def _layer_label(recorder, name):
    net = recorder.net
    layer = dict(net.named_layers()).get(name) if net is not None else None
    return f"layer {name}" + (f" ({type(layer).__name__})" if layer is not None else "")


def _not_recorded(ax, what):
    ax.text(0.5, 0.5, f"not recorded:\n{what}", ha="center", va="center",
            transform=ax.transAxes, fontsize=9, color="0.35")
    ax.set_xticks([])
    ax.set_yticks([])


def _final_histogram(ax, recorder, names, quantity, colors, index):
    """Each layer's histogram at snapshot `index`, as a line (counts per unit width, so
    ranges of different widths compare), from the recorder's counts or kept values."""
    drawn, occupied = 0, []
    for name in names:
        counts = recorder.counts(name, quantity) if (name, quantity) in recorder.keys() else None
        if counts is not None:
            edges = recorder.edges(name, quantity)
            c = counts[index].astype(np.float64)
        elif recorder.keep_values and (name, quantity) in recorder.keys() and \
                recorder.values(name, quantity, index) is not None:
            x = _flat(recorder.values(name, quantity, index))
            x = x[np.isfinite(x)]
            if x.size == 0:
                continue
            lo, hi = (x.min(), x.max()) if x.max() > x.min() else (x.min() - 0.5, x.max() + 0.5)
            c, edges = np.histogram(x, 50, (lo, hi))
            c = c.astype(np.float64)
        else:
            continue
        centres = 0.5 * (edges[:-1] + edges[1:])
        total = c.sum()
        density = c / (total * np.diff(edges)) if total > 0 else c
        ax.plot(centres, density, color=colors[name], lw=1.2)
        drawn += 1
        used = np.flatnonzero(c)
        if used.size:
            occupied.append((edges[used[0]], edges[used[-1] + 1], used.size, len(c)))
    if occupied:
        lo = min(o[0] for o in occupied)
        hi = max(o[1] for o in occupied)
        ax.set_xlim(lo, hi)                         # the bins the values fill, not the range
        fewest = min(o[2] for o in occupied)
        if fewest < 5:
            ax.text(0.02, 0.97, f"values fill only {fewest} of {occupied[0][3]} bins:\n"
                    f"give {quantity} a narrower range", transform=ax.transAxes, va="top",
                    fontsize=8, color="C3")
    return drawn


def training_health(recorder: Any, layers: Any = None, index: int = -1,
                    figsize: tuple[float, float] = (15, 8.5), title: Optional[str] = None) -> Any:
    """One figure of the training-health panels of Karpathy's "makemore part 3", from a
    Recorder of any run (record with what="all" and a range for every panel):

      1 activation std per layer over the recorded steps (layer outputs)
      2 saturation per layer: the fraction of outputs with |h| > recorder.saturation (tanh-like
        units on their flat tails pass almost no gradient); for ReLU layers the fraction of
        outputs exactly 0 instead (inactive units, the ReLU's flat part)
      3 gradient std per layer: std of ∂J/∂h (the layer's output gradient)
      4 update:data ratio std(ΔW)/std(W) per weight matrix, log axis, with the 1e-3 guide
        (well above: the step is too large, far below: the layer barely learns)
      5 and 6 the histograms of activations and of their gradients at snapshot `index` (the
        last by default), one line per layer, as densities

    layers: layer names to draw (default: the activation layers, else every recorded layer);
    the colour of a layer is the same in every panel, named in one legend beside the figure.
    A panel whose quantity was not recorded says what to record instead of staying blank.
    Returns the Figure (6 axes)."""
    from .recorder import Recorder
    if not isinstance(recorder, Recorder):
        raise TypeError(f"training_health takes a mlpc.Recorder, got {type(recorder).__name__}")
    if not recorder.recorded_steps:
        raise ValueError("training_health: the recorder has no snapshots yet (pass it to fit's "
                         "callbacks, or call recorder.record(net) after a step)")
    names = _health_layers(recorder, layers)
    plt = _pyplot()
    fig = new_figure(figsize)
    axes = list(fig.subplots(2, 3).ravel())
    steps = np.asarray(recorder.recorded_steps)
    cmap = plt.get_cmap("viridis" if len(names) > 10 else "tab10")
    colors = {n: cmap(i / max(len(names) - 1, 1) if len(names) > 10 else i)
              for i, n in enumerate(names)}
    keys = set(recorder.keys())
    marker = "o" if len(steps) <= 30 else None

    def series(ax, quantity, stat, ylabel, log=False, percent=False):
        drawn = [n for n in names if (n, quantity) in keys]
        if not drawn:
            _not_recorded(ax, f'Recorder(what=(..., "{quantity}"))')
            return
        for n in drawn:
            y = recorder.moments(n, quantity)[stat]
            ax.plot(steps, 100 * y if percent else y, color=colors[n], marker=marker, ms=3,
                    lw=1.2)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)

    axes[0].set_title("activation std per layer")
    series(axes[0], "output", "std", "std of layer output h")
    from .layers import ReLU
    kinds = dict(recorder.net.named_layers()) if recorder.net is not None else {}
    if names and all(isinstance(kinds.get(n), ReLU) for n in names):
        # a ReLU does not saturate; its flat part is h = 0, where no gradient passes
        axes[1].set_title("inactive units: h = 0 (ReLU)")
        series(axes[1], "output", "zero_fraction", "outputs exactly 0 (%)", percent=True)
    else:
        axes[1].set_title(f"saturation: |h| > {recorder.saturation:g}")
        series(axes[1], "output", "saturation", "saturated outputs (%)", percent=True)
    axes[2].set_title("gradient std per layer")
    series(axes[2], "grad_output", "std", "std of ∂J/∂h", log=True)

    ax = axes[3]
    ax.set_title("update:data ratio per weight matrix")
    weights = [p for p in recorder.parameter_names() if p.endswith("weight") and
               (p, "update") in keys and (p, "param") in keys]
    if weights:
        wcolors = plt.get_cmap("plasma")(np.linspace(0.05, 0.85, len(weights)))
        for p, c in zip(weights, wcolors):
            ratio = recorder.ratio(p, "update")
            ax.plot(steps, np.where(ratio > 0, ratio, np.nan), color=c, lw=1.2, marker=marker,
                    ms=3, label=p)
        ax.axhline(_UPDATE_GUIDE, color="k", ls="--", lw=1, label="1e-3 guide")
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("std(ΔW) / std(W)")
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(fontsize=8, ncol=2 if len(weights) > 5 else 1, loc="best")
    else:
        _not_recorded(ax, 'Recorder(what="all")\n(needs "param" and "update")')

    step = recorder.recorded_steps[index]
    for ax, quantity, label in ((axes[4], "output", "layer output h"),
                                (axes[5], "grad_output", "∂J/∂h")):
        ax.set_title(f"{label} histograms at step {step}")
        if _final_histogram(ax, recorder, names, quantity, colors, index):
            ax.xaxis.set_major_locator(plt.MaxNLocator(5))
            ax.set_xlabel(label)
            ax.set_ylabel("density")
            ax.grid(True, alpha=0.3)
        else:
            _not_recorded(ax, "histograms: Recorder(range=...)\nor keep_values=True")

    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=colors[n], lw=2.5) for n in names]
    ncol = min(len(names), 6)
    fig.suptitle(title or "training health", fontsize=13, y=0.995)
    fig.legend(handles, [_layer_label(recorder, n) for n in names], loc="upper center",
               bbox_to_anchor=(0.5, 0.965), ncol=ncol, fontsize=10, frameon=False,
               title="colour = layer (panels 1-3, 5, 6)", title_fontsize=9)
    rows = -(-len(names) // ncol)
    # fixed margins: tight_layout would take a second measuring every label
    fig.subplots_adjust(left=0.065, right=0.985, bottom=0.07, top=0.89 - 0.03 * rows,
                        wspace=0.3, hspace=0.38)
    return fig
