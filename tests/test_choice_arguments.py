"""Arguments that must be one of a few strings, given something that is not a string.

`x not in ("eval", "steps")` on a NumPy array raised NumPy's "truth value of an array is
ambiguous" (naming no argument), or accepted np.array(["eval"]) as "eval"; a list or an array as
the key of a lookup table raised "unhashable type". Every entry point below must instead raise a
TypeError or ValueError that names the argument, and warn about nothing on the way."""
import io
import warnings

import numpy as np
import pytest

import mlpc
from mlpc import init, plot
from mlpc.progress import ProgressBar
from mlpc.recorder import Recorder

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")   # before pyplot is imported anywhere in this process
import matplotlib.pyplot as plt  # noqa: E402  (imported here: no warning of an import counts)
pytest.importorskip("sklearn")
import mlpc.sklearn  # noqa: E402
import mlpc.experiments  # noqa: E402
from mlpc.experiments import (batchnorm_cifar, capacity_regularization,  # noqa: E402
                              constant_init, init_histograms)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def small_net():
    return mlpc.Sequential(mlpc.Linear(3, 4), mlpc.ReLU(), mlpc.Linear(4, 2), seed=0)


X = np.random.default_rng(0).normal(size=(8, 3))
Y = np.arange(8) % 2


def fit_with(value):
    net = small_net()
    mlpc.fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, Y, epochs=1,
             progress=False, train_metrics=value)


def load_optimizer_type(value):
    opt = mlpc.SGD(small_net(), 0.1)
    opt.load_state_dict({**opt.state_dict(), "type": value})


def sklearn_fit(**params):
    mlpc.sklearn.MLPClassifier(4, max_iter=1, **params).fit(X, Y)


def init_histograms_result():
    return init_histograms.InitHistogramsResult("init_histograms", {"grad": "weight"}, {}, {})


def batchnorm_result():
    return batchnorm_cifar.BatchNormResult("batchnorm_cifar", {"grad": "weight"}, {}, {})


def structure_distance(value):
    constant_init.structure_distance(np.eye(2), value)


def train_two_layer(value):
    capacity_regularization.train_two_layer(X, Y, 3, steps=1, optimizer=value)


def run_experiment(value):
    mlpc.experiments.run(value, quick=True)


# entry point -> (call with the value, the argument's name in the message, what is not a
# string for (c): None where None is the argument's valid default, one valid string: None where
# a sequence of valid strings is itself valid)
ENTRIES = {
    "fit(train_metrics)": (fit_with, "train_metrics", None, "eval"),
    "EarlyStopping(monitor)": (lambda v: mlpc.EarlyStopping(monitor=v), "monitor", None, "val_accuracy"),
    "EarlyStopping(mode)": (lambda v: mlpc.EarlyStopping(mode=v), "mode", None, "min"),
    "GELU(approximate)": (lambda v: mlpc.GELU(approximate=v), "approximate", None, "tanh"),
    "GLU(act)": (lambda v: mlpc.GLU(v), "act", None, "relu"),
    "Optimizer.load_state_dict(type)": (load_optimizer_type, "type", 3, "SGD"),
    "Linear(init=(name, value))": (lambda v: mlpc.Linear(3, 2, init=(v, 0.1)), "init", None, "constant"),
    "init.resolve((name, value))": (lambda v: init.resolve((v, 0.1)), "initializer", None, "constant"),
    "ProgressBar(mode)": (lambda v: ProgressBar(3, stream=io.StringIO(), mode=v), "mode", 3, "lines"),
    "plot.layer_histograms(sharex)":
        (lambda v: plot.layer_histograms({"a": np.arange(5.0)}, sharex=v), "sharex", 3, "row"),
    "plot.histogram_grid(sharex)":
        (lambda v: plot.histogram_grid([[np.arange(5.0)]], sharex=v), "sharex", 3, "row"),
    "plot.histogram_grid(strips scale)":
        (lambda v: plot.histogram_grid([[np.arange(5.0)]], strips=[("s", [[1.0]], v)]),
         "strip scale", None, "log"),
    "Recorder(what)": (lambda v: Recorder(what=v), "what", None, None),
    "Recorder(range)": (lambda v: Recorder(range=v), "range", 3, "auto"),
    "Recorder.moments(quantity)": (lambda v: Recorder().moments("0", v), "quantity", None, "output"),
    "Recorder.values(quantity)": (lambda v: Recorder().values("0", v), "quantity", None, "output"),
    "Recorder.histogram(quantity)": (lambda v: Recorder().histogram("0", v), "quantity", None, "output"),
    "Recorder.edges(quantity)": (lambda v: Recorder().edges("0", v), "quantity", None, "output"),
    "Recorder.counts(quantity)": (lambda v: Recorder().counts("0", v), "quantity", None, "output"),
    "Recorder.out_of_range(quantity)":
        (lambda v: Recorder().out_of_range("0", v), "quantity", None, "output"),
    "Recorder.ratio(quantity)": (lambda v: Recorder().ratio("0.weight", v), "quantity", None, "grad"),
    "Recorder.layer_names(quantity)": (lambda v: Recorder().layer_names(v), "quantity", None, "output"),
    "Recorder.plot(quantity)": (lambda v: Recorder().plot(None, v), "quantity", None, "output"),
    "MLPClassifier(activation)": (lambda v: sklearn_fit(activation=v), "activation", None, "relu"),
    "MLPClassifier(optimizer)": (lambda v: sklearn_fit(optimizer=v), "optimizer", None, "adam"),
    "experiments.run(name)": (run_experiment, "name", None, "constant_init"),
    "constant_init.structure_distance(position)": (structure_distance, "position", None, "first"),
    "capacity_regularization.train_two_layer(optimizer)":
        (train_two_layer, "optimizer", None, "sgd"),
    "InitHistogramsResult.figures(grad)":
        (lambda v: init_histograms_result().figures(grad=v), "grad", 3, None),
    "InitHistogramsResult.gradient_figure(grad)":
        (lambda v: init_histograms_result().gradient_figure("relu", v), "grad", None, "weight"),
    "BatchNormResult.histogram_figure(what)":
        (lambda v: batchnorm_result().histogram_figure(0.1, v), "what", None, "activations"),
}

# (a) an array of strings (each one of the allowed values where that makes sense: the array is
# the mistake), (b) an array holding one valid string (which `x not in (...)` took for the
# string), (c) a list of one valid string, (d) None or an int
KINDS = {
    "array": lambda valid: np.array(["eval", "steps", "min", "tanh", "output", "row"]),
    "array_of_one": lambda valid: np.array([valid]),
    "list": lambda valid: [valid],
    "none_or_int": None,
}


def refused(call, value, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises((TypeError, ValueError)) as info:
            call(value)
    message = str(info.value)
    assert name in message, message
    assert "ambiguous" not in message and "unhashable" not in message, message
    return info.value


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("entry", list(ENTRIES))
def test_a_non_string_is_refused_by_name(entry, kind):
    call, name, not_a_string, valid = ENTRIES[entry]
    if kind in ("array_of_one", "list") and valid is None:
        pytest.skip("a sequence of valid strings is a valid value here")
    value = not_a_string if kind == "none_or_int" else KINDS[kind](valid)
    refused(call, value, name)


@pytest.mark.parametrize("value", [np.array(["eval", "steps"]), ["eval"], None, 3])
def test_fit_train_metrics_is_a_type_error_showing_what_was_given(value):
    error = refused(fit_with, value, "train_metrics")
    assert isinstance(error, TypeError)
    assert str(error).startswith("train_metrics must be 'eval' or 'steps', got "
                                 f"{type(value).__name__} ")


def test_a_missing_optimizer_type_is_still_told_as_another_optimizer():
    error = refused(load_optimizer_type, None, "type")
    assert isinstance(error, ValueError) and "expected the state dict of a SGD" in str(error)


@pytest.mark.parametrize("call,value,message", [
    (fit_with, "mean", "train_metrics must be 'eval' or 'steps', got 'mean'"),
    (lambda v: mlpc.EarlyStopping(mode=v), "up", "mode must be 'auto', 'min' or 'max', got 'up'"),
    (lambda v: mlpc.GELU(approximate=v), "erf", "approximate must be 'none' or 'tanh', got 'erf'"),
    (lambda v: ProgressBar(1, mode=v), "tty",
     "mode must be 'notebook', 'terminal' or 'lines', got 'tty'"),
    (lambda v: plot.histogram_grid([[np.arange(3.0)]], sharex=v), "columns",
     "sharex must be False, True, 'row' or 'all', got 'columns'"),
    (lambda v: Recorder().ratio("0.weight", v), "param",
     "ratio: quantity must be 'grad' or 'update', got 'param'"),
    (lambda v: sklearn_fit(activation=v), "tnah", "activation must be one of ['elu', "),
    (load_optimizer_type, "Adam", "expected the state dict of a SGD (type 'SGD'), got type 'Adam'"),
])
def test_another_string_is_the_value_error_it_was(call, value, message):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError) as info:
            call(value)
    assert str(info.value).startswith(message), str(info.value)


def test_an_unknown_experiment_name_is_still_a_key_error():
    with pytest.raises(KeyError, match="unknown experiment 'nope'"):
        run_experiment("nope")


def test_valid_values_still_work_and_numpy_strings_become_plain_strings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gelu = mlpc.GELU(np.str_("tanh"))
        assert gelu.approximate == "tanh" and type(gelu.approximate) is str
        assert mlpc.GLU("relu").act == "relu"
        stop = mlpc.EarlyStopping(np.str_("val_accuracy"))
        assert (stop.monitor, stop.mode) == ("val_accuracy", "max")
        assert mlpc.EarlyStopping("train_cost", mode="max").mode == "max"
        assert ProgressBar(1, stream=io.StringIO()).mode == "lines"
        assert Recorder(what="all").what == Recorder.QUANTITIES
        assert Recorder(what=np.array(["output", "grad"])).what == ("output", "grad")
        assert Recorder(range="auto")._range == "auto"
        assert Recorder().layer_names() == []
        fit_with("steps")
        opt = mlpc.SGD(small_net(), 0.1)
        opt.load_state_dict(opt.state_dict())


def test_a_numeric_array_is_a_range_not_a_comparison_with_auto():
    # range == "auto" on an array (lo, hi) compared elementwise: a valid range was refused
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Recorder(range=np.array([-2.0, 2.0]))._range == (-2.0, 2.0)


@pytest.mark.parametrize("sharex,expected", [(False, None), (None, None), (True, "row"),
                                             (np.True_, "row"), (np.False_, None),
                                             ("row", "row"), ("all", "all")])
def test_sharex_values(sharex, expected):
    assert plot._sharing(sharex) == expected


def test_the_helper():
    from mlpc._choices import check_choice
    assert check_choice("x", "b", ("a", "b")) == "b"
    with pytest.raises(TypeError, match=r"^x must be 'a', 'b' or 'c', got ndarray array\("):
        check_choice("x", np.array(["a", "b"]), ("a", "b", "c"))
    with pytest.raises(ValueError, match=r"^x must be 'a' or 'b', got 'z'$"):
        check_choice("x", np.str_("z"), ("a", "b"))
    with pytest.raises(TypeError, match=r"^x must be one of a, b, got list \['a'\]$"):
        check_choice("x", ["a"], {"a": 1, "b": 2}, "one of a, b")
