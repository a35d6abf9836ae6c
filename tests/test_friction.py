"""Friction removed: labels as people have them (whole-number floats, a column), messages that
say what to do (Dropout(20), a file that is not a model, torch tensors, MLPC_NUM_THREADS), and
the command line refusing mistakes before it trains."""
import os
import subprocess
import sys

import numpy as np
import pytest

import mlpc
from mlpc import cli

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(mlpc.__file__)))


def numpy_cross_entropy(scores, labels):
    s = scores - scores.max(axis=1, keepdims=True)
    log_p = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    return -np.mean(log_p[np.arange(len(labels)), labels])


def problem(rng, n=40, d=5, k=4):
    net = mlpc.Sequential(mlpc.Linear(d, 8), mlpc.ReLU(), mlpc.Linear(8, k), dtype="float64",
                          seed=int(rng.integers(2**31)))
    return net, rng.standard_normal((n, d)), rng.integers(0, k, n)


# -- labels ----------------------------------------------------------------------------------------
def test_whole_number_float_labels_are_labels():
    rng = np.random.default_rng()
    net, X, y = problem(rng)
    loss = mlpc.SoftmaxCrossEntropy()
    expected = numpy_cross_entropy(net(X), y)
    for floats in (y.astype(np.float64), y.astype(np.float32), list(map(float, y))):
        assert np.isclose(net.cost(X, floats, loss), expected, rtol=1e-12)
        assert np.isclose(loss(net(X), floats), expected, rtol=1e-12)
    twin = net.copy()
    mlpc.fit(net, loss, mlpc.SGD(net, 0.1), X, y, epochs=2, batch_size=8, seed=1)
    mlpc.fit(twin, loss, mlpc.SGD(twin, 0.1), X, y.astype(float), epochs=2, batch_size=8, seed=1)
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(twin.state_dict()[name], value)


def test_the_first_label_that_is_not_a_whole_number_is_named():
    rng = np.random.default_rng()
    net, X, y = problem(rng)
    loss = mlpc.SoftmaxCrossEntropy()
    row = int(rng.integers(len(y)))
    for bad in (y[row] + 0.25, np.nan, 4.0, -1.0):
        labels = y.astype(float)
        labels[row] = bad
        match = rf"float class labels must be whole numbers in \[0, 4\) .* got {bad:g} at row {row}"
        with pytest.raises(ValueError, match=match):
            net.cost(X, labels, loss)
        with pytest.raises(ValueError, match="y: " + match):
            mlpc.fit(net, loss, mlpc.SGD(net, 0.1), X, labels, epochs=1)


def test_labels_in_a_column_are_told_the_shape_expected():
    rng = np.random.default_rng()
    net, X, y = problem(rng)
    loss = mlpc.SoftmaxCrossEntropy()
    match = r"class labels must have shape \(40,\), got a column of shape \(40, 1\).*ravel"
    with pytest.raises(ValueError, match=match):
        net.cost(X, y[:, None], loss)
    with pytest.raises(ValueError, match=match):
        mlpc.fit(net, loss, mlpc.SGD(net, 0.1), X, y[:, None], epochs=1)


# -- messages --------------------------------------------------------------------------------------
def test_dropout_says_p_is_a_probability():
    with pytest.raises(ValueError, match=r"got 20: p is a probability, not a percentage"):
        mlpc.Dropout(20)
    with pytest.raises(ValueError, match="got 1: p = 1 drops every unit"):
        mlpc.Dropout(1.0)


def test_loading_a_file_that_is_not_a_model_gives_no_numpy_advice(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_bytes(b"a text file, not a zip")
    with pytest.raises(mlpc.ModelFileError) as info:
        mlpc.load(path)
    assert "not a readable mlpc model file" in str(info.value)
    assert "allow_pickle" not in str(info.value)


def test_torch_tensors_numpy_cannot_read_are_explained():
    torch = pytest.importorskip("torch")
    net = mlpc.Sequential(mlpc.Linear(3, 2))
    with pytest.raises(TypeError, match=r"got Tensor \(NumPy cannot convert it: .*requires grad"
                                        r".*t\.detach\(\)\.cpu\(\)\.numpy\(\)"):
        net(torch.ones(2, 3, requires_grad=True))
    with pytest.raises(TypeError, match=r"got Tensor \(NumPy cannot convert it: .*BFloat16.*"
                                        r"t\.float\(\) first for bfloat16"):
        net.cost(torch.ones(2, 3, dtype=torch.bfloat16), [0, 1], mlpc.SoftmaxCrossEntropy())
    np.testing.assert_allclose(net(torch.ones(2, 3)), net(np.ones((2, 3))))   # plain tensors


def test_the_thread_warning_points_at_the_users_import(tmp_path):
    script = tmp_path / "my_experiment.py"
    script.write_text("import sys\n\nimport mlpc  # line 3\n")
    env = {**os.environ, "MLPC_NUM_THREADS": "two",
           "PYTHONPATH": PACKAGE_PARENT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    run = subprocess.run([sys.executable, "-W", "always", str(script)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"{script}:3: RuntimeWarning: MLPC_NUM_THREADS must be an int >= 1, got 'two'" \
        in run.stderr, run.stderr


def test_an_optimizer_shows_every_setting_that_changes_its_update():
    net = mlpc.Sequential(mlpc.Linear(3, 2))
    plain = mlpc.SGD(net, lr=0.1, momentum=0.9)
    assert repr(plain) == "SGD(lr=0.1, momentum=0.9, nesterov=False)"
    opt = mlpc.Adam(net, lr=1e-3, weight_decay=0.01, decay_all=True, clip_norm=5.0,
                    clip_value=0.5, schedule=mlpc.schedules.cosine(1e-3, 100))
    text = repr(opt)
    for part in ("weight_decay=0.01", "decay_all=True", "clip_norm=5.0", "clip_value=0.5",
                 "schedule=cosine("):
        assert part in text, text


# -- the command line ------------------------------------------------------------------------------
def never_train(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("training started before the arguments were checked")
    monkeypatch.setattr("mlpc.training.fit", refuse)


@pytest.mark.parametrize("argv, message", [
    (["--layers", "784,100"], "ends with 100 outputs but the data has 10 classes: end it with 10"),
    (["--layers", "784,32,12"], "ends with 12 outputs"),
    (["--out", "{file}/run"], "--out {file}/run: cannot write there"),
])
def test_the_cli_refuses_mistakes_before_training(argv, message, tmp_path, monkeypatch, capsys):
    never_train(monkeypatch)
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    argv = [a.format(file=a_file) for a in argv]
    assert cli.main(["train", "--data", "fashion-mnist", "--quiet", *argv]) == 2
    assert message.format(file=a_file) in capsys.readouterr().err


def test_the_cli_refuses_zero_epochs(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--data", "fashion-mnist", "--epochs", "0"])
    assert info.value.code == 2 and "expected an int >= 1, got 0" in capsys.readouterr().err
