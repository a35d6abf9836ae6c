"""mlpc.sklearn: scikit-learn's own estimator checks, and the estimators inside Pipeline,
GridSearchCV and cross_val_score with two worker processes.

Every check of sklearn.utils.estimator_checks runs on four configurations. Expected to fail
(xfail, not strict: they may pass): in float32 (mlpc's default dtype),
check_methods_sample_order_invariance and check_methods_subset_invariance compare outputs with
rtol 1e-7, but a float32 matrix product rounds a row differently depending on its position in
the batch (OpenBLAS's kernels for the last rows of a block), so outputs agree only to float32
precision (~5e-7 relative). The float64 configuration passes them. Two more are skipped by
scikit-learn itself when their dependency is missing, not by us:
check_classifier_data_not_an_array / check_regressor_data_not_an_array (they need pandas) and
check_array_api_input (it needs SCIPY_ARRAY_API=1 and an array API library)."""
import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import mlpc  # noqa: E402
from mlpc.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

ESTIMATORS = [
    MLPClassifier(),
    MLPRegressor(),
    MLPClassifier(hidden_layer_sizes=(20, 10), batchnorm=True, dropout=0.1, optimizer="sgd",
                  learning_rate_init=0.01),
    MLPRegressor(activation="tanh", batchnorm=True, dtype="float64", early_stopping=True),
]
FLOAT32_ROUNDING = ("float32 outputs depend on a row's position in the batch at float32 "
                    "rounding level (~5e-7 relative); the check asks for 1e-7")
EXPECTED_FAILED_CHECKS = {"check_methods_sample_order_invariance": FLOAT32_ROUNDING,
                          "check_methods_subset_invariance": FLOAT32_ROUNDING}


def expected_failures(estimator):
    return EXPECTED_FAILED_CHECKS if estimator.dtype == "float32" else {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def blobs(rng, n=240, k=3, d=5):
    """k Gaussian clusters far enough apart to be learnable; labels as strings, as users have."""
    centres = rng.normal(size=(k, d)) + 8 * np.eye(k, d)   # at least ~8 apart
    y = rng.integers(0, k, n)
    X = centres[y] + rng.normal(size=(n, d))
    return X * 10 + 3, np.array(["cat", "dog", "owl"])[y]   # unscaled: the pipeline scales


def numpy_forward(net, X):
    """Linear → ReLU → Linear from the network's weights, in NumPy (float64)."""
    s = net.state_dict()
    h = np.maximum(X @ s["0.weight"].T.astype(np.float64) + s["0.bias"], 0)
    return h @ s["2.weight"].T.astype(np.float64) + s["2.bias"]


def test_classifier_attributes_and_outputs_against_numpy():
    rng = np.random.default_rng()
    X, y = blobs(rng)
    X = (X - X.mean(0)) / X.std(0)
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, learning_rate_init=1e-2,
                        random_state=int(rng.integers(99)))
    with pytest.warns(sklearn.exceptions.ConvergenceWarning, match="max_iter = 30"):
        clf.fit(X, y)
    assert list(clf.classes_) == ["cat", "dog", "owl"]
    assert clf.n_iter_ == len(clf.loss_curve_) == 30 and clf.t_ == 30 * len(X)
    assert isinstance(clf.net_, mlpc.Sequential) and clf.net_.out_features == 3
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    scores = numpy_forward(clf.net_, X)
    p = np.exp(scores - scores.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X), p, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(p, 1)])
    assert clf.score(X, y) == np.mean(clf.predict(X) == y) > 0.9
    clf.partial_fit(X[:50], y[:50])                 # one more epoch on a part
    assert clf.n_iter_ == 31 and len(clf.loss_curve_) == 31
    with pytest.raises(ValueError, match="'bat'.*row 0.*not among the classes"):
        clf.partial_fit(X[:2], np.array(["bat", "cat"]))
    assert clf.get_params()["hidden_layer_sizes"] == (16,)
    assert clf.set_params(alpha=0.5).alpha == 0.5


def test_regressor_fits_a_linear_map_and_partial_fit_needs_no_classes():
    rng = np.random.default_rng()
    X = rng.normal(size=(300, 4))
    W = rng.normal(size=(4, 2))
    Y = X @ W
    reg = MLPRegressor(hidden_layer_sizes=(32,), activation="identity", max_iter=300,
                       learning_rate_init=1e-2, dtype="float64", random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (300, 2)
    assert reg.score(X, Y) > 0.99                    # R² of the exact linear map
    one = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2).partial_fit(X, Y[:, 0])
    assert one.predict(X).shape == (300,) and one.n_iter_ == 1


def test_bad_settings_are_named_when_fitting():
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="activation must be one of .*'tanh'.*got 'tnah'"):
        MLPClassifier(activation="tnah").fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be positive ints"):
        MLPClassifier(hidden_layer_sizes=(10, 0)).fit(X, y)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        MLPClassifier(optimizer="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="dropout probability"):
        MLPClassifier(dropout=1.0).fit(X, y)


def test_pipeline_grid_search_and_cross_validation_in_two_processes():
    rng = np.random.default_rng()
    X, y = blobs(rng)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=40, random_state=0))
    search = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(8,), (32,)],
                                 "mlpclassifier__alpha": [1e-4, 1e-2]}, cv=3, n_jobs=2)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        search.fit(X, y)
    assert search.best_score_ > 0.8
    assert isinstance(search.best_estimator_[-1].net_, mlpc.Sequential)
    scores = cross_val_score(make_pipeline(StandardScaler(), MLPRegressor(max_iter=40)),
                             X, (y == "dog").astype(float), cv=3, n_jobs=2)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
