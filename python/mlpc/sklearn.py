"""scikit-learn estimators over mlpc networks (needs scikit-learn: pip install "mlpc[sklearn]").

    from mlpc.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(100,), max_iter=20, random_state=0).fit(X, y)
    clf.predict(X_test), clf.predict_proba(X_test), clf.score(X_test, y_test)

The names and constructor arguments follow sklearn.neural_network's MLPClassifier and
MLPRegressor where they mean the same thing, plus mlpc's own (batchnorm, dropout, optimizer,
dtype). Training is mlpc.fit: one C call per mini-batch. Differences from scikit-learn's:
- alpha is mlpc's L2 λ: the cost is mean loss + λ Σ‖W‖² (scikit-learn adds α/(2·batch) Σ‖W‖²).
- Stopping: training ends after `max_iter` epochs or once the epoch's mean training cost
  (the validation cost with early_stopping=True, restoring the best weights) has not improved
  by `tol` for `n_iter_no_change` epochs: mlpc.EarlyStopping with patience n_iter_no_change.
- The classifier always has one output per class (softmax cross-entropy), two for two classes.
- Weights are Glorot-uniform ("xavier_uniform"), as scikit-learn's; the output layer is linear.
"""
from __future__ import annotations

import warnings
from typing import Any, Optional, Union

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import optim
from ._choices import check_choice
from .blocks import BatchNorm, Dropout
from .layers import ACTIVATIONS, Linear, Sigmoid
from .losses import MSELoss, SoftmaxCrossEntropy
from .network import Sequential, _mode
from .training import EarlyStopping, fit as _fit

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn's activation names, and every elementwise activation of mlpc by its own name
_ACTIVATIONS = {**{name: cls for name, cls in ACTIVATIONS.items() if name != "prelu"},
                "logistic": Sigmoid}

# scikit-learn's solvers by their names, and mlpc's other optimizers; "sgd" is scikit-learn's
# default SGD (momentum 0.9, Nesterov)
_OPTIMIZERS = {"adam": (optim.Adam, {}), "adamw": (optim.AdamW, {}),
               "sgd": (optim.SGD, {"momentum": 0.9, "nesterov": True}),
               "rmsprop": (optim.RMSProp, {}), "adagrad": (optim.AdaGrad, {})}


class _BaseMLP(BaseEstimator):
    """What both estimators share: the parameters, the network, the fit loop."""

    def __init__(self, hidden_layer_sizes: Union[int, tuple[int, ...]] = (100,),
                 activation: str = "relu", *, alpha: float = 1e-4,
                 batch_size: Union[int, str] = "auto", learning_rate_init: float = 1e-3,
                 max_iter: int = 200, shuffle: bool = True, random_state: Any = None,
                 tol: float = 1e-4, verbose: bool = False, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 10,
                 batchnorm: bool = False, dropout: float = 0.0, optimizer: str = "adam",
                 dtype: str = "float32") -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.batchnorm = batchnorm
        self.dropout = dropout
        self.optimizer = optimizer
        self.dtype = dtype

    # -- the network and its optimizer -----------------------------------------------------------
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if np.isscalar(sizes) else list(sizes)
        for h in sizes:
            if isinstance(h, (bool, np.bool_)) or not isinstance(h, (int, np.integer)) or h < 1:
                raise ValueError(f"hidden_layer_sizes must be positive ints, got "
                                 f"{self.hidden_layer_sizes!r}")
        return [int(h) for h in sizes]

    def _build(self, n_in, n_out, rng):
        activation = check_choice("activation", self.activation, _ACTIVATIONS,
                                  f"one of {sorted(_ACTIVATIONS)}")
        optimizer = check_choice("optimizer", self.optimizer, _OPTIMIZERS,
                                 f"one of {sorted(_OPTIMIZERS)}")
        layers, width = [], n_in
        for h in self._hidden_sizes():
            layers.append(Linear(width, h, init="xavier_uniform"))
            if self.batchnorm:
                layers.append(BatchNorm(h))
            layers.append(_ACTIVATIONS[activation]())
            if self.dropout:
                layers.append(Dropout(self.dropout))
            width = h
        layers.append(Linear(width, n_out, init="xavier_uniform"))
        self.net_ = Sequential(*layers, dtype=self.dtype, l2=self.alpha,
                               seed=int(rng.randint(2**31)))
        cls, options = _OPTIMIZERS[optimizer]
        self.optimizer_ = cls(self.net_, lr=self.learning_rate_init, **options)
        self._rng = rng   # partial_fit goes on drawing from it
        self.loss_curve_ = []
        self.n_iter_ = 0
        self.t_ = 0

    def _batch_size(self, n):
        if isinstance(self.batch_size, str) and self.batch_size == "auto":
            return min(200, n)
        if isinstance(self.batch_size, (bool, np.bool_)) or \
                not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise ValueError(f"batch_size must be 'auto' or an int >= 1, got {self.batch_size!r}")
        return min(int(self.batch_size), n)   # as scikit-learn: a larger batch is the whole set

    def _train(self, X, targets, epochs, rng, stratify=None, stop_early=True):
        """Epochs of mlpc.fit on (X, targets), appending to loss_curve_ and n_iter_."""
        validation_data = None
        if stop_early and self.early_stopping:
            X, X_val, targets, y_val = train_test_split(
                X, targets, test_size=self.validation_fraction, stratify=stratify,
                random_state=int(rng.randint(2**31)))
            validation_data = (X_val, y_val)
        callbacks = []
        if stop_early:
            callbacks.append(EarlyStopping(
                monitor="val_cost" if validation_data is not None else "train_cost",
                patience=self.n_iter_no_change, min_delta=self.tol,
                restore_best=validation_data is not None))
        history = _fit(self.net_, self._loss, self.optimizer_, X, targets, epochs=epochs,
                       batch_size=self._batch_size(len(X)), shuffle=bool(self.shuffle),
                       seed=int(rng.randint(2**31)), validation_data=validation_data,
                       callbacks=callbacks, progress=bool(self.verbose), train_metrics="steps")
        costs = [float(c) for c in history.as_dict()["train_cost"]]
        self.loss_curve_ += costs
        self.n_iter_ += len(costs)
        self.t_ += len(costs) * len(X)
        self.net_.eval()
        if stop_early and len(costs) == epochs and epochs > 0:
            warnings.warn(f"{type(self).__name__}: max_iter = {self.max_iter} epochs reached "
                          f"and the optimization has not converged yet", ConvergenceWarning)

    def _validate(self, X, y, reset=True, **kwargs):
        return validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32), **kwargs)

    def _outputs(self, X):
        """The network's outputs in eval mode, as float64."""
        check_is_fitted(self, "net_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        with _mode(self.net_, False):
            return self.net_(X).astype(np.float64)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multilayer perceptron classifier: hidden layers Linear [→ BatchNorm] → activation
    [→ Dropout], then a Linear layer with one output per class, trained with softmax
    cross-entropy by mlpc.fit. Fitted attributes: classes_, net_ (the mlpc.Sequential),
    optimizer_, loss_curve_ (mean training cost per epoch), n_iter_ (epochs run), t_ (examples
    seen), n_features_in_."""

    _loss = SoftmaxCrossEntropy()

    def fit(self, X: Any, y: Any) -> MLPClassifier:
        X, y = self._validate(X, y)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"MLPClassifier needs at least 2 classes to learn, y holds 1 class "
                             f"({self.classes_[0]!r})")
        rng = check_random_state(self.random_state)
        self._build(X.shape[1], len(self.classes_), rng)
        self._train(X, labels, self.max_iter, rng, stratify=labels)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch over (X, y). The first call needs `classes`, every label there can be."""
        first = not hasattr(self, "net_")
        X, y = self._validate(X, y, reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("the first call to partial_fit needs classes= (every label "
                                 "y can hold)")
            self.classes_ = np.unique(classes)
            if len(self.classes_) < 2:
                raise ValueError(f"MLPClassifier needs at least 2 classes, got classes="
                                 f"{classes!r}")
            self._build(X.shape[1], len(self.classes_), check_random_state(self.random_state))
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={classes!r} differs from the classes of the first call "
                             f"to partial_fit, {self.classes_!r}")
        labels = np.searchsorted(self.classes_, y)
        unknown = np.flatnonzero((labels >= len(self.classes_)) |
                                 (self.classes_[np.minimum(labels, len(self.classes_) - 1)] != y))
        if unknown.size:
            raise ValueError(f"y holds the label {y[unknown[0]]!r} (row {unknown[0]}), which is "
                             f"not among the classes {self.classes_!r}")
        self._train(X, labels, 1, self._rng, stop_early=False)
        return self

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """Class probabilities (N, n_classes): the softmax of the outputs, columns in classes_
        order."""
        scores = self._outputs(X)
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        return p / p.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X: Any) -> NDArray[np.float64]:
        return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> NDArray[Any]:
        scores = self._outputs(X)
        return self.classes_[np.argmax(scores, axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer perceptron regressor: the hidden layers of MLPClassifier, then a Linear
    layer with one output per target, trained with mlpc.MSELoss (½ the squared error, mean over
    the batch). y of shape (N,) or (N, n_targets). Fitted attributes as MLPClassifier's, without
    classes_."""

    _loss = MSELoss()

    def fit(self, X: Any, y: Any) -> MLPRegressor:
        X, y = self._validate(X, y, multi_output=True, y_numeric=True)
        rng = check_random_state(self.random_state)
        self._build(X.shape[1], 1 if y.ndim == 1 else y.shape[1], rng)
        self._train(X, y, self.max_iter, rng)
        return self

    def partial_fit(self, X: Any, y: Any) -> MLPRegressor:
        """One epoch over (X, y)."""
        first = not hasattr(self, "net_")
        X, y = self._validate(X, y, reset=first, multi_output=True, y_numeric=True)
        if first:
            self._build(X.shape[1], 1 if y.ndim == 1 else y.shape[1],
                        check_random_state(self.random_state))
        self._train(X, y, 1, self._rng, stop_early=False)
        return self

    def predict(self, X: Any) -> NDArray[np.float64]:
        out = self._outputs(X)
        return out[:, 0] if self.net_.out_features == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
