"""Experiment 1: activations and gradients of a deep network at initialization (DD2424 lecture 4).

A network of `layers` hidden layers of `width` units (10 × 500 in the notes) gets a batch of
inputs drawn from N(0, 1) (dimension 500); a final Linear + softmax cross-entropy on random labels
provides a gradient. For each activation (tanh, relu) and each initialization

    sigma=0.01   W ~ N(0, 0.01²)           (too small: activations and gradients vanish)
    sigma=1      W ~ N(0, 1)               (too large: tanh saturates, relu explodes)
    xavier       W ~ N(0, 1/n_in)          (the notes' "Xavier", mlpc's "lecun_normal")
    glorot       W ~ N(0, 2/(n_in+n_out))  (Glorot & Bengio, mlpc's "xavier_normal")
    he           W ~ N(0, 2/n_in)          (He et al., right for relu)

one forward and one backward pass are made and the core's buffers are read: each hidden layer's
activations h_l (`layer.output` of the activation layer), ∂J/∂h_l (its `grad_output`), ∂J/∂z_l
(the `grad_output` of the Linear before it) and ∂J/∂W_l (that Linear's weight gradient).
Statistics per layer come from the core's `moments`. Any mlpc.init name or ("normal", σ) pair is
accepted in `inits` too. With n_in = n_out (the notes' set-up) Glorot equals Xavier.
"""
import numpy as np

from .._choices import check_choice, check_choices
from . import (Figures, ParameterValueError, Result, activation, boolean, dtype, integer,
               layer_stats, list_of, merge_params, number, optional, sample_values, stats_table)

NAME = "init_histograms"

DEFAULTS = dict(
    layers=10,              # hidden layers
    width=500,              # units per hidden layer
    input_dim=500,          # dimension of the N(0, 1) inputs
    batch=1000,             # number of inputs
    num_classes=10,         # outputs of the final Linear (random labels)
    activations=("tanh", "relu"),
    inits=("sigma=0.01", "sigma=1", "xavier", "glorot", "he"),
    grad="weight",          # gradients drawn: "weight" (∂J/∂W_l), "output" (∂J/∂h_l),
                            # "preactivation" (∂J/∂z_l), "both" (weight + output) or "all"
    per_example=None,       # None: gradients of the batch's mean loss J; k: gradients of the
                            # loss of each of the first k examples alone (batch 1, as in the
                            # notes' backward pass for one example), pooled
    bias=True,              # biases start at zero either way
    dtype="float64",
    saturation=0.99,        # |h| above this counts as saturated (bounded activations)
    max_values=30000,       # values kept per layer for the histograms (zero fraction exact)
    bins=50,
)
# quick: fewer layers and inputs, float32, no Glorot (it equals Xavier when n_in = n_out)
QUICK = dict(layers=4, batch=100, dtype="float32",
             inits=("sigma=0.01", "sigma=1", "xavier", "he"), max_values=5000, bins=30)

_ALIASES = {"xavier": "lecun_normal", "glorot": "xavier_normal", "he": "he_normal",
            "lecun": "lecun_normal"}
_LABELS = {"xavier": "Xavier\nσ=1/√n_in", "glorot": "Glorot\nσ=√(2/(n_in+n_out))",
           "he": "He\nσ=√(2/n_in)"}
# activations whose outputs are bounded, and the |h| that counts as saturated for them
_BOUNDED = {"tanh", "sigmoid", "softsign"}


def resolve_init(name):
    """The mlpc initializer for an experiment init name ("sigma=0.01", "xavier", "he", ...)."""
    if isinstance(name, str) and name.startswith("sigma="):
        return ("normal", float(name[len("sigma="):]))
    if isinstance(name, str):
        return _ALIASES.get(name, name)
    return tuple(name)


def init_label(name):
    if not isinstance(name, str):           # a (name, value) pair, kept as a list: unhashable
        return str(name)
    if name.startswith("sigma="):
        return "σ=" + name[len("sigma="):]
    return _LABELS.get(name, name)


_KEYS = ("grad_weight", "grad_output", "grad_preactivation")
_GRAD_TEXT = {"weight": "∂J/∂W_l entries", "output": "∂J/∂h_l entries",
              "preactivation": "∂J/∂z_l entries (z_l = W_l h_(l-1) + b_l)"}


def _grad_kinds(grad):
    """"weight", "output", "preactivation", "both" (weight + output), "all", or a sequence."""
    what = f"one of {', '.join(_GRAD_TEXT)}, 'both', 'all' or a sequence of them"
    grad = check_choices("grad", grad, _GRAD_TEXT, what,
                         {"both": ("weight", "output"), "all": tuple(_GRAD_TEXT)})
    if not grad:
        raise ValueError(f"grad must be {what}, got {grad!r}")
    return grad


def _init_kind(key, value):
    """Kind of one entry of `inits`: "sigma=<σ>", an alias above, an mlpc.init name or a
    (name, value) pair (kept as a list, as JSON has no tuples)."""
    from mlpc import init
    try:
        init.resolve(resolve_init(value))
    except (TypeError, ValueError):
        raise ParameterValueError(
            f"{key} must be 'sigma=<σ>', {', '.join(_ALIASES)}, an mlpc.init name or a "
            f"(name, value) pair, got {value!r}") from None
    return value if isinstance(value, str) else list(value)


def _grad_kind(key, value):
    try:
        _grad_kinds(value)
    except (TypeError, ValueError):
        raise ParameterValueError(f"{key} must be one of {', '.join(_GRAD_TEXT)}, 'both', 'all' "
                                  f"or a list of the first three, got {value!r}") from None
    return value if isinstance(value, str) else list(value)


# num_classes >= 2: with one class the loss is 0 and every gradient drawn would be 0
KINDS = dict(layers=integer(1), width=integer(1), input_dim=integer(1), batch=integer(1),
             num_classes=integer(2), activations=list_of(activation),
             inits=list_of(_init_kind), grad=_grad_kind, per_example=optional(integer(1)),
             bias=boolean, dtype=dtype,
             saturation=number(above=0, below=1), max_values=optional(integer(1)),
             bins=integer(1))


def _saturation_of(act, values, level):
    """Fraction of saturated units: |h| > level for tanh/softsign, h < 1-level or h > level for
    sigmoid; None for unbounded activations."""
    if act == "sigmoid":
        v = np.asarray(values)
        return float(np.mean((v > level) | (v < 1 - level)))
    if act in _BOUNDED:
        return float(np.mean(np.abs(values) > level))
    return None


def build_network(activation, init, layers=10, width=500, input_dim=500, num_classes=10,
                  bias=True, dtype="float64", seed=0):
    """Sequential(Linear, act, ..., Linear(width, num_classes)); every Linear has the given init
    and its own seed derived from `seed`, so different inits reuse the same random draws."""
    import mlpc
    act_cls = mlpc.ACTIVATIONS[activation]
    init = resolve_init(init)
    mods, n_in = [], input_dim
    for l in range(layers):
        mods += [mlpc.Linear(n_in, width, bias=bias, init=init, seed=seed * 1000 + l), act_cls()]
        n_in = width
    mods.append(mlpc.Linear(n_in, num_classes, bias=bias, init=init, seed=seed * 1000 + layers))
    return mlpc.Sequential(*mods, dtype=dtype)


def _gradients(linears, acts):
    """{key: [per layer]} of the core's views after a backward pass: ∂J/∂W_l (the Linear's
    weight gradient), ∂J/∂h_l (the activation's grad_output), ∂J/∂z_l (the Linear's)."""
    return {"grad_weight": [dict((n, g) for n, _, g in lin.named_parameters())["weight"]
                            for lin in linears],
            "grad_output": [a.grad_output for a in acts],
            "grad_preactivation": [lin.grad_output for lin in linears]}


def _per_example_gradients(net, loss_fn, X, y, count):
    """The gradients of _gradients for each of the first `count` examples alone (a forward and
    backward pass of batch 1 each), stacked per layer: (count, ...) arrays. ∂l/∂W_l = g_lᵀ
    h_(l-1)ᵀ of one example is zero wherever unit l is inactive or input h_(l-1) is 0, which
    the batch's sum over examples hides."""
    linears, acts = net.layers[0:-1:2], net.layers[1::2]
    pooled = {k: [[] for _ in acts] for k in _KEYS}
    for i in range(min(count, len(X))):
        net.forward(X[i:i + 1])
        net.loss(loss_fn, y[i:i + 1])
        net.zero_grad()
        net.backward()
        for k, per_layer in _gradients(linears, acts).items():
            for l, g in enumerate(per_layer):
                pooled[k][l].append(np.array(g))        # a copy: the views change next pass
    return {k: [np.stack(gs) for gs in per_layer] for k, per_layer in pooled.items()}


def run(quick=False, seed=0, **params):
    """Run the experiment; returns an InitHistogramsResult (see the module docstring).

    stats[act][init] = {"activation": {mean, std, zero_fraction, norm, saturated_fraction: [per
    layer]}, "grad_weight": {...}, "grad_output": {...}, "grad_preactivation": {...}, "loss": J}
    (saturated_fraction for bounded activations only); data holds the values for the histograms
    (a random subset of `max_values` per layer that keeps the zero fraction exact)."""
    import mlpc
    import mlpc.data

    p = merge_params(NAME, DEFAULTS, QUICK, quick, params, kinds=KINDS, seed=seed)
    keep = ["grad_" + g for g in _grad_kinds(p["grad"])]

    X, y = mlpc.data.gaussian_inputs(p["batch"], p["input_dim"], p["num_classes"], seed=seed)
    loss_fn = mlpc.SoftmaxCrossEntropy()
    rng = np.random.default_rng(seed)
    stats, data = {}, {}
    for act in p["activations"]:
        stats[act], data[act] = {}, {}
        level = p["saturation"] if act in _BOUNDED else None
        for init in p["inits"]:
            net = build_network(act, init, p["layers"], p["width"], p["input_dim"],
                                p["num_classes"], p["bias"], p["dtype"], seed)
            net.forward(X)
            loss = net.loss(loss_fn, y)
            net.zero_grad()
            net.backward()
            # leaves: Linear 0, act 1, Linear 2, act 3, ..., final Linear
            linears, acts = net.layers[0:-1:2], net.layers[1::2]
            rows = {k: [] for k in ("activation",) + _KEYS}
            values = {k: [] for k in ("activation",) + _KEYS}
            for a in acts:                       # before any per-example pass overwrites h_l
                h = a.output
                s = layer_stats(h)
                if level is not None:
                    s["saturated_fraction"] = _saturation_of(act, h, level)
                rows["activation"].append(s)
                values["activation"].append(sample_values(h, p["max_values"], rng))
            if p["per_example"]:
                grads = _per_example_gradients(net, loss_fn, X, y, p["per_example"])
            else:
                grads = _gradients(linears, acts)
            for k in _KEYS:
                for g in grads[k]:
                    rows[k].append(layer_stats(g))
                    if k in keep:
                        values[k].append(sample_values(g, p["max_values"], rng))
            stats[act][str(init)] = {k: stats_table(v) for k, v in rows.items()}
            stats[act][str(init)]["loss"] = float(loss)
            data[act][str(init)] = {k: v for k, v in values.items() if v}
    p["seed"] = seed
    p["quick"] = bool(quick)
    return InitHistogramsResult(NAME, p, stats, data)


class InitHistogramsResult(Result):
    """Figures: "<act>_activations" and "<act>_grad_<kind>" (kind: weight, output,
    preactivation, as chosen by `grad`) for every activation: histogram grids with one row per
    init and one column per layer, and beside them per layer the std (log scale) and the
    fraction of zeros (relu) or of saturated units (bounded activations). Bounded activations
    are drawn on their value range (tanh: -1 to 1) in every panel; relu activations and all
    gradients as magnitudes |v| on one log axis shared by every panel, so where a histogram
    sits tells its scale (zeros, which a log axis cannot show, are counted in the titles)."""

    def _grid(self, act, key, title, magnitude, xlabel, value_range=None):
        p, inits = self.params, self.params["inits"]
        rows = [self.data[act][str(i)][key] for i in inits]
        stats = [self.stats[act][str(i)][key] for i in inits]
        strips = [(f"std of {xlabel}", [s["std"] for s in stats], "log")]
        if key == "activation" and act in _BOUNDED:
            strips.append(("saturated", [s["saturated_fraction"] for s in stats], "fraction"))
        else:
            strips.append(("zeros", [s["zero_fraction"] for s in stats], "fraction"))
        from .. import plot
        return plot.histogram_grid(
            rows, row_labels=[init_label(i) for i in inits],
            col_labels=[f"layer {l + 1}" for l in range(p["layers"])], title=title,
            bins=p["bins"], magnitude=magnitude, sharex="all", range=value_range,
            xlabel=xlabel, strips=strips)

    def _setup(self):
        p = self.params
        return f"{p['layers']} × {p['width']} units, {p['batch']} inputs ~ N(0,1)"

    def activation_figure(self, act):
        bounded = act in _BOUNDED
        value_range = {"sigmoid": (0.0, 1.0)}.get(act, (-1.0, 1.0)) if bounded else None
        scale = "h_l over its range" if bounded else \
            "|h_l| on one log axis (zeros counted in the titles)"
        return self._grid(act, "activation",
                          f"{act}: activations h_l at each layer ({self._setup()})\n"
                          f"histograms of {scale}; right: std and "
                          f"{'saturated' if bounded else 'zero'} fraction per layer",
                          magnitude=not bounded, xlabel="h_l", value_range=value_range)

    def gradient_view(self):
        """Which gradients were drawn, in words (the batch's or single examples')."""
        k = self.params.get("per_example")
        if k:
            return (f"per-example view: gradients of the loss of {k} single examples "
                    f"(batch 1), pooled")
        return f"batch view: gradients of the mean loss J over the batch of {self.params['batch']}"

    def gradient_figure(self, act, grad="weight"):
        grad = check_choice("grad", grad, tuple(_GRAD_TEXT))
        key = "grad_" + grad
        inits = self.params["inits"]
        if key not in self.data[act][str(inits[0])]:
            raise ValueError(f"the run kept no {key} values (run with grad={grad!r})")
        loss = "l" if self.params.get("per_example") else "J"     # one example's loss, or J
        symbol = {"weight": "W_l", "output": "h_l", "preactivation": "z_l"}[grad]
        symbol = f"∂{loss}/∂{symbol}"
        what = _GRAD_TEXT[grad].replace("∂J", f"∂{loss}")
        return self._grid(act, key,
                          f"{act}: gradients {what} at each layer ({self._setup()})\n"
                          f"{self.gradient_view()}; histograms of |{symbol}| on one log axis "
                          f"(zeros counted in the titles)",
                          magnitude=True, xlabel=symbol)

    def figures(self, grad=None):
        grads = _grad_kinds(self.params["grad"] if grad is None else grad)
        figs = {}
        for act in self.params["activations"]:
            figs[f"{act}_activations"] = self.activation_figure(act)
            for g in grads:
                figs[f"{act}_grad_{g}"] = self.gradient_figure(act, g)
        return figs

    def plot(self, grad=None):
        return Figures(self.figures(grad))
