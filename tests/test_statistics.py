"""The recorder's C statistics (_core.moments, Net.snapshot) against float64 NumPy.

Sizes are chosen around the kernels' blocking (runs of 16 lanes x 8 values, chunks of 256
slots, tables for fewer than 255 bins) so every remainder path runs."""
import numpy as np
import pytest

import mlpc
from mlpc import _core

TOL = {np.float32: 1e-7, np.float64: 1e-12}
SIZES = (1, 2, 7, 127, 128, 129, 255, 256, 257, 1000, 4099, 100003)


def numpy_histogram(x, bins, lo, hi):
    """[below lo, bin 0 .. bin bins-1, above hi]: bin i holds lo + i w <= v < lo + (i + 1) w,
    hi in the last bin; NaN nowhere."""
    inside = x[(x >= lo) & (x <= hi)]
    b = np.floor((inside - lo) * (bins / (hi - lo))).astype(np.int64)
    counts = np.bincount(np.minimum(b, bins - 1), minlength=bins)
    return np.concatenate([[np.sum(x < lo)], counts, [np.sum(x > hi)]])


def check_moments(stats, x, tol, saturation=0.99):
    x = np.asarray(x, dtype=np.float64).ravel()
    mean, std, zero_fraction, norm, lo, hi, saturated = stats
    spread = x.std() + abs(x.mean())
    assert abs(mean - x.mean()) <= tol * spread
    assert abs(std - x.std()) <= tol * spread
    assert zero_fraction == np.mean(x == 0)
    assert norm == pytest.approx(np.sqrt(np.sum(x * x)), rel=tol, abs=1e-300)
    assert (lo, hi) == (x.min(), x.max())                  # exact: the values themselves
    assert saturated == np.mean(np.abs(x) > saturation)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
def test_moments_and_histogram_equal_numpy(dtype, n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    x[rng.random(n) < 0.3] = 0                            # ReLU-like exact zeros
    saturation = rng.uniform(0.3, 2.0)
    x[rng.random(n) < 0.05] = dtype(saturation)           # exactly at the threshold: not above
    stats, counts = _core.moments(x, 20, -2.0, 2.5, saturation)
    check_moments(stats, x, TOL[dtype], saturation)
    assert counts.sum() == n
    np.testing.assert_array_equal(counts, numpy_histogram(x.astype(np.float64), 20, -2.0, 2.5))
    assert counts.dtype == np.int64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_moments_of_a_tiny_spread_around_a_large_mean(dtype):
    """E[x²] − E[x]² would cancel to garbage here; the shifted sums do not."""
    x = (1000 + 1e-2 * np.random.default_rng(0).standard_normal(5000)).astype(dtype)
    stats, _ = _core.moments(x)
    xd = x.astype(np.float64)
    assert stats[1] == pytest.approx(xd.std(), rel=1e-6)
    assert stats[0] == pytest.approx(xd.mean(), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_histogram_edges_outside_values_nan_and_inf(dtype):
    lo, hi, bins = -1.0, 1.0, 4
    above, below = np.nextafter(dtype(hi), dtype(2)), np.nextafter(dtype(lo), dtype(-2))
    x = np.array([lo, hi, -0.5, 0.0, 0.5, -0.0, above, below, np.nan, np.inf, -np.inf, 0.25,
                  0.999], dtype=dtype)
    stats, counts = _core.moments(x, bins, lo, hi)
    # lo opens bin 0, hi closes the last bin; edges belong to the bin they open; below lo
    # (and -inf) first, above hi (and inf) last, NaN nowhere
    np.testing.assert_array_equal(counts, [2, 1, 1, 3, 3, 2])
    assert np.isnan(stats[0]) and np.isnan(stats[1])     # NaN and inf reach the moments
    assert stats[2] == pytest.approx(2 / 13)              # 0.0 and -0.0 are zeros
    assert (stats[4], stats[5]) == (-np.inf, np.inf)      # min and max skip NaN
    assert stats[6] == pytest.approx(7 / 13)     # |v| > 0.99: ±1, ±inf, above, below, 0.999


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bins", [1, 254, 255, 256, 1000])
def test_histogram_of_many_bins(dtype, bins):
    """Fewer than 255 bins count into interleaved tables, more straight into the output."""
    x = np.random.default_rng(bins).uniform(-1.2, 1.2, 3001).astype(dtype)
    _, counts = _core.moments(x, bins, -1.0, 1.0)
    np.testing.assert_array_equal(counts, numpy_histogram(x.astype(np.float64), bins, -1, 1))


def test_moments_of_values_in_one_bin():
    """All values in one bin (tiny gradients): the interleaved tables still add up."""
    x = np.full(1001, 1e-7, dtype=np.float32)
    stats, counts = _core.moments(x, 10, -5, 5)
    assert counts[6] == 1001 and counts.sum() == 1001
    assert stats[1] == pytest.approx(0, abs=1e-20) and stats[2] == 0


def test_moments_bad_arguments():
    with pytest.raises(ValueError, match="lo < hi"):
        _core.moments(np.ones(3), 5, 1.0, 1.0)
    with pytest.raises(ValueError, match="got 5, -inf, 1$"):
        _core.moments(np.ones(3), 5, -np.inf, 1.0)
    for lo, hi in ((-np.inf, 1.0), (0.0, np.inf), (-1e308, 1e308), (0.0, np.nan)):
        with pytest.raises(ValueError, match="finite lo < hi"):
            _core.moments(np.ones(3), 5, lo, hi)
    with pytest.raises(ValueError):
        _core.moments(np.ones(3), -1, 0.0, 1.0)
    with pytest.raises(TypeError):
        _core.moments(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="saturation"):
        _core.moments(np.ones(3), 0, 0.0, 0.0, np.nan)
    stats, counts = _core.moments(np.ones((2, 3)))       # any shape; no histogram without bins
    assert stats == (1.0, 0.0, 0.0, pytest.approx(np.sqrt(6)), 1.0, 1.0, 1.0) and counts is None
    stats, _ = _core.moments(np.full(5, np.nan))
    assert np.isnan(stats[4]) and np.isnan(stats[5]) and stats[6] == 0   # no number: no min


# -- Net.snapshot ----------------------------------------------------------------------------------
def trained_net(dtype):
    rng = np.random.default_rng(0)
    net = mlpc.Sequential(mlpc.Linear(5, 7), mlpc.BatchNorm(7), mlpc.ReLU(), mlpc.Linear(7, 3),
                          seed=0, dtype=dtype)
    X, y = rng.standard_normal((9, 5)), rng.integers(0, 3, 9)
    net.train_step(X, y, mlpc.SoftmaxCrossEntropy(), mlpc.SGD(net, 0.1))
    return net


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_snapshot_reads_every_kind_of_source(dtype):
    net = trained_net(dtype)
    core = net._core
    arrays = {(_core.SOURCE_OUTPUT, 2): net[2].output,
              (_core.SOURCE_GRAD_OUTPUT, 1): net[1].grad_output,
              (_core.SOURCE_PARAM, 0): net[0].weight,
              (_core.SOURCE_GRAD, 3): core.grad(3)}              # BatchNorm β
    which = np.array(list(arrays), dtype=np.int64)
    ranges = np.array([[-1, 1], [np.nan, np.nan], [-0.5, 0.5], [0, 0]], dtype=np.float64)
    stats, counts = core.snapshot(which, ranges, 8)
    assert stats.shape == (4, 7) and counts.shape == (2, 10)  # histograms for rows 0 and 2
    tol = TOL[np.dtype(dtype).type]
    for row, x in enumerate(arrays.values()):
        check_moments(stats[row], x, tol)
    np.testing.assert_array_equal(counts[0], numpy_histogram(
        np.asarray(net[2].output, np.float64).ravel(), 8, -1, 1))
    np.testing.assert_array_equal(counts[1], numpy_histogram(
        np.asarray(net[0].weight, np.float64).ravel(), 8, -0.5, 0.5))


def test_snapshot_before_a_forward_pass_gives_nan():
    net = mlpc.Sequential(mlpc.Linear(4, 3), mlpc.ReLU(), seed=0)
    which = np.array([[_core.SOURCE_OUTPUT, 1], [_core.SOURCE_PARAM, 0]], dtype=np.int64)
    stats, counts = net._core.snapshot(which, np.array([[0, 1], [0, 1]], np.float64), 4)
    assert np.isnan(stats[0]).all() and not np.isnan(stats[1]).any()
    np.testing.assert_array_equal(counts[0], 0)


@pytest.mark.parametrize("which, ranges, bins, error, match", [
    ([[_core.SOURCE_OUTPUT, 4]], [[0, 1]], 5, ValueError, "out of range"),
    ([[_core.SOURCE_GRAD, 6]], [[0, 1]], 5, ValueError, "out of range"),
    ([[9, 0]], [[0, 1]], 5, ValueError, "out of range"),
    ([[-1, 0]], [[0, 1]], 5, ValueError, "negative"),
    ([[_core.SOURCE_OUTPUT, 0]], [[0, 1]], 0, ValueError, "bins"),
    ([[_core.SOURCE_OUTPUT, 0]], [[-np.inf, 1]], 5, ValueError, "out of range"),
    ([[_core.SOURCE_OUTPUT, 0]], [[-1e308, 1e308]], 5, ValueError, "out of range"),
    ([[_core.SOURCE_OUTPUT, 0]], [[0, 1], [0, 1]], 5, ValueError, r"expected shape \(1, 2\)"),
    ([0, 0], [[0, 1]], 5, ValueError, r"expected shape \(K, 2\)"),
    ([["a", "b"]], [[0, 1]], 5, TypeError, "real numbers"),
])
def test_snapshot_rejects_bad_sources(which, ranges, bins, error, match):
    net = trained_net("float32")
    with pytest.raises(error, match=match):
        net._core.snapshot(which, ranges, bins)


def test_output_gradients_exist_only_after_the_backward_pass_of_the_batch():
    """After a forward pass alone the output-gradient buffers hold the previous batch's values
    (or zeros): the view is None and a snapshot gives NaN, not those stale numbers."""
    net = trained_net("float64")
    core = net._core
    which = np.array([[_core.SOURCE_GRAD_OUTPUT, 1], [_core.SOURCE_OUTPUT, 1]], dtype=np.int64)
    no_range = np.full((2, 2), np.nan)
    assert not np.isnan(core.snapshot(which, no_range, 1)[0]).any()     # after train_step
    net(np.ones((4, 5)))
    assert net[1].grad_output is None and net[1].output is not None
    stats, _ = core.snapshot(which, no_range, 1)
    assert np.isnan(stats[0]).all() and not np.isnan(stats[1]).any()
    net.backward(np.ones((4, 3)))
    check_moments(core.snapshot(which, no_range, 1)[0][0], net[1].grad_output, 1e-12)
    net.eval()                                   # a mode switch drops the passes
    assert net[1].grad_output is None and net[1].output is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_snapshot_of_an_update_is_the_moments_of_w_minus_w_before(dtype):
    """UPDATE reads the parameters and a copy taken before the step: its moments are those of
    the difference (rounded to the tensor's dtype, as NumPy rounds it), summed in float64."""
    rng = np.random.default_rng()
    net = trained_net(dtype)
    core = net._core
    before = core.flat(False).copy()
    X, y = rng.standard_normal((9, 5)), rng.integers(0, 3, 9)
    net.train_step(X, y, mlpc.SoftmaxCrossEntropy(), mlpc.Adam(net, rng.uniform(1e-4, 1e-1)))
    which = np.array([[_core.SOURCE_UPDATE, t] for t in range(len(core.tensors()))], np.int64)
    no_range = np.full((len(which), 2), np.nan)
    saturation = rng.uniform(1e-4, 1e-2)
    stats, _ = core.snapshot(which, no_range, 1, saturation, before)
    start = 0
    for t in range(len(which)):
        w = np.asarray(core.param(t)).ravel()
        delta = (w - before[start:start + w.size]).astype(np.float64)   # in the tensor's dtype
        start += w.size
        check_moments(stats[t], delta, TOL[np.dtype(dtype).type], saturation)
    assert np.isnan(core.snapshot(which, no_range, 1)[0]).all()     # no copy: no update
    with pytest.raises(ValueError, match="histogram"):
        core.snapshot(which[:1], np.array([[-1.0, 1.0]]), 4, 0.99, before)
    with pytest.raises(ValueError, match=r"before: expected shape \(\d+,\)"):
        core.snapshot(which, no_range, 1, 0.99, before[:-1])
