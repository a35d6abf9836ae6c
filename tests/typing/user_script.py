"""A user's script built from the README's examples: `mypy --strict` must accept it (see
mypy.ini beside it). It is type-checked, not run (the README test runs the README itself)."""
import numpy as np
from numpy.typing import NDArray

import mlpc
from mlpc import data
from mlpc.sklearn import MLPClassifier


def quick_start() -> float:
    mlpc.manual_seed(0)
    net = mlpc.Sequential(mlpc.Linear(784, 100), mlpc.ReLU(), mlpc.Linear(100, 10))
    loss_fn = mlpc.SoftmaxCrossEntropy()
    opt = mlpc.SGD(net, lr=0.1, momentum=0.9)
    X = np.random.randn(256, 784).astype(np.float32)
    y = np.random.randint(0, 10, 256)
    cost = 0.0
    for step in range(10):
        cost = net.train_step(X, y, loss_fn, opt)
    scores = net(X)
    cost = loss_fn(scores, y)
    net.zero_grad()
    dX = net.backward(loss_fn.backward())
    for name, value, grad in net.named_parameters():
        print(name, value.shape, np.linalg.norm(grad))
    output, grad_output = net[1].output, net[1].grad_output
    assert output is not None and grad_output is not None
    print(output.mean(), grad_output.std(), dX.shape)
    result = mlpc.gradcheck(net, loss_fn, X[:4], y[:4])
    errors: dict[str, float] = dict(result)
    assert result.passed
    print(max(errors.values()))
    return cost


def training_helpers() -> None:
    (X, y), (X_test, y_test) = data.load_fashion_mnist()
    (X, y), (X_val, y_val) = data.train_val_split(X, y, val_size=1000, seed=0, stratify=True)
    X, X_val, X_test = data.standardize(X, X_val, X_test)
    net = mlpc.Sequential(mlpc.Linear(784, 100), mlpc.BatchNorm(100), mlpc.ReLU(),
                          mlpc.Dropout(0.2), mlpc.Linear(100, 10), seed=0)
    loss_fn = mlpc.SoftmaxCrossEntropy()
    opt = mlpc.Adam(net, lr=1e-3, schedule=mlpc.schedules.cyclical(1e-5, 1e-2, n_s=500),
                    clip_norm=5.0)
    history = mlpc.fit(net, loss_fn, opt, X, y, epochs=5, batch_size=100, seed=0,
                       validation_data=(X_val, y_val),
                       callbacks=[mlpc.EarlyStopping(patience=3), mlpc.Recorder()])
    print(history.as_dict()["train_cost"], opt.lr, opt.last_grad_norm)
    cost, accuracy = mlpc.evaluate(net, loss_fn, X_test, y_test)
    labels: NDArray[np.int64] = net.predict(X_test)
    print(cost, accuracy, labels[:5], net.predict_proba(X_test).sum())
    for Xb, yb in data.minibatches(X, y, 100, seed=0):
        net.train_step(Xb, yb, loss_fn, opt)
    net.save("model.npz", optimizer=opt)
    again = mlpc.load("model.npz")
    opt2 = mlpc.load_optimizer("model.npz", again)
    print(again.state_dict().keys(), opt2.step_count, mlpc.Tanh()(np.zeros(3)))


def estimators() -> float:
    (X, y), (X_test, y_test) = data.load_fashion_mnist()
    clf = MLPClassifier(hidden_layer_sizes=(50,), max_iter=5, random_state=0).fit(X, y)
    print(clf.predict(X_test)[:3], clf.loss_curve_, clf.net_)
    score: float = clf.score(X_test, y_test)
    return score


def seeing_inside_training() -> None:
    (X, y), _ = data.load_fashion_mnist()
    X = data.standardize(X)
    net = mlpc.Sequential(mlpc.Linear(784, 100), mlpc.Tanh(), mlpc.Linear(100, 10), seed=0)
    print(net.summary())
    rec = mlpc.Recorder(what="all", range={"output": (-1, 1)}, saturation=0.9)
    mlpc.fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, lr=0.1), X, y, epochs=1,
             callbacks=[rec, mlpc.TensorBoard("runs/a", rec)], progress=False)
    fig = mlpc.plot.training_health(rec)
    ratio: NDArray[np.float64] = rec.ratio("0.weight", "update")
    saturated = rec.moments("1", "output")["saturation"]
    print(fig, ratio[-1], saturated[-1], rec.to_tensorboard("runs/b"))
    result = mlpc.lr_find(net, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1), X, y)
    lr = result.suggested_lr
    print(lr, result.plot())
