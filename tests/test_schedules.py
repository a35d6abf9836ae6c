"""Learning-rate schedules against their formulas, computed independently here."""

import math

import numpy as np
import pytest

from mlpc import schedules


# --------------------------------------------------------------------------
# formulas
# --------------------------------------------------------------------------

def test_constant():
    s = schedules.constant(0.05)
    assert [s(t) for t in (0, 1, 10, 10**6)] == [0.05] * 4
    assert s.lr == 0.05 and s.lr0 == 0.05


def test_step_decay():
    s = schedules.step(0.1, step_size=3, gamma=0.5)
    # t // 3 = 0,0,0,1,1,1,2,...
    expected = {0: 0.1, 2: 0.1, 3: 0.05, 5: 0.05, 6: 0.025, 9: 0.0125}
    for t, lr in expected.items():
        assert s(t) == pytest.approx(lr, rel=1e-12)


def test_step_default_gamma():
    s = schedules.step(1.0, step_size=10)
    assert s(9) == 1.0
    assert s(10) == pytest.approx(0.1)
    assert s(25) == pytest.approx(0.01)


def test_linear_matches_notes():
    s = schedules.linear(lr0=0.1, lr_end=0.01, K=100)
    # (1 - t/K) * 0.1 + (t/K) * 0.01
    assert s(0) == pytest.approx(0.1)
    assert s(25) == pytest.approx(0.75 * 0.1 + 0.25 * 0.01)
    assert s(50) == pytest.approx(0.055)
    assert s(100) == pytest.approx(0.01)
    # kept fixed at eta_K after K steps
    assert s(101) == pytest.approx(0.01)
    assert s(10_000) == pytest.approx(0.01)


def test_power_law():
    s = schedules.power(lr0=0.2, s=10, c=-1)
    assert s(0) == pytest.approx(0.2)
    assert s(10) == pytest.approx(0.1)        # 0.2 * 2**-1
    assert s(30) == pytest.approx(0.05)       # 0.2 * 4**-1
    s2 = schedules.power(lr0=1.0, s=4, c=-0.5)
    assert s2(12) == pytest.approx(0.5)       # (1 + 3)**-0.5
    assert s2(5) == pytest.approx(1 / 1.5)    # (1 + 1.25)**-0.5 = 1/sqrt(2.25)


def test_exponential_decay():
    s = schedules.exponential(lr0=0.1, c=0.5, s=10)
    assert s(0) == pytest.approx(0.1)
    assert s(10) == pytest.approx(0.05)
    assert s(20) == pytest.approx(0.025)
    assert s(5) == pytest.approx(0.1 / math.sqrt(2))


def test_cosine_without_warmup():
    s = schedules.cosine(lr_max=1.0, T=100, lr_min=0.0)
    assert s(0) == pytest.approx(1.0)
    assert s(50) == pytest.approx(0.5)                                   # cos(pi/2) = 0
    assert s(25) == pytest.approx(0.5 * (1 + math.sqrt(2) / 2))          # cos(pi/4)
    assert s(100) == pytest.approx(0.0, abs=1e-15)
    assert s(150) == 0.0


def test_cosine_with_warmup_and_floor():
    s = schedules.cosine(lr_max=0.1, T=110, lr_min=0.01, warmup=10)
    # warm-up: lr_min -> lr_max linearly over 10 steps
    assert s(0) == pytest.approx(0.01)
    assert s(5) == pytest.approx(0.055)
    assert s(10) == pytest.approx(0.1)
    # annealing over the remaining 100 steps
    assert s(60) == pytest.approx(0.055)
    assert s(35) == pytest.approx(0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert s(110) == pytest.approx(0.01)
    assert s(500) == pytest.approx(0.01)


def test_cosine_warmup_from_zero_by_default():
    s = schedules.cosine(lr_max=0.4, T=20, warmup=4)
    assert [s(t) for t in range(5)] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_cyclical_key_points_over_two_cycles():
    lo, hi, n_s = 1e-5, 1e-1, 100
    s = schedules.cyclical(lo, hi, n_s)
    mid = (lo + hi) / 2
    expected = {
        0: lo,
        n_s // 2: mid,
        n_s: hi,
        3 * n_s // 2: mid,
        2 * n_s: lo,          # end of cycle 0 / start of cycle 1
        5 * n_s // 2: mid,
        3 * n_s: hi,
        7 * n_s // 2: mid,
        4 * n_s: lo,          # end of cycle 1
    }
    for t, lr in expected.items():
        assert s(t) == pytest.approx(lr, rel=1e-12, abs=1e-15), t
    assert s(n_s) == hi and s(3 * n_s) == hi   # peaks are exact
    assert s(0) == lo and s(4 * n_s) == lo


def test_cyclical_full_array_two_cycles():
    lo, hi, n_s = 0.001, 0.01, 7
    steps = 4 * n_s + 1
    # Independent construction: a triangle wave built from |.| and mod.
    t = np.arange(steps)
    phase = (t % (2 * n_s)) / n_s                 # in [0, 2)
    tri = 1.0 - np.abs(phase - 1.0)               # 0 -> 1 -> 0
    expected = lo + tri * (hi - lo)
    got = schedules.values(schedules.cyclical(lo, hi, n_s), steps)
    assert got.shape == (steps,) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_cyclical_cycle_index():
    s = schedules.cyclical(0.0, 1.0, 5)
    assert [s.cycle(t) for t in (0, 9, 10, 19, 20)] == [0, 0, 1, 1, 2]


def test_values_shape_and_plain_callables():
    np.testing.assert_allclose(
        schedules.values(schedules.step(1.0, 2, 0.5), 6), [1, 1, 0.5, 0.5, 0.25, 0.25])
    # any callable step -> lr is a schedule
    np.testing.assert_allclose(schedules.values(lambda t: 1.0 / (1 + t), 4),
                               [1.0, 0.5, 1 / 3, 0.25])
    assert schedules.values(schedules.constant(0.1), 0).shape == (0,)


def test_as_schedule():
    s = schedules.as_schedule(0.3)
    assert isinstance(s, schedules.constant) and s(7) == 0.3
    f = lambda t: 0.1  # noqa: E731
    assert schedules.as_schedule(f) is f
    c = schedules.cyclical(0.1, 0.2, 3)
    assert schedules.as_schedule(c) is c
    with pytest.raises(TypeError):
        schedules.as_schedule("0.1")


def test_numpy_integer_steps():
    s = schedules.linear(1.0, 0.0, 10)
    assert s(np.int64(5)) == pytest.approx(0.5)
    assert isinstance(s(np.int64(5)), float)


# --------------------------------------------------------------------------
# repr / attributes
# --------------------------------------------------------------------------

def test_repr_and_attributes():
    s = schedules.cyclical(1e-5, 1e-1, n_s=500)
    assert repr(s) == "cyclical(lr_min=1e-05, lr_max=0.1, n_s=500)"
    assert (s.lr_min, s.lr_max, s.n_s) == (1e-5, 0.1, 500)
    assert repr(schedules.step(0.1, 30)) == "step(lr=0.1, step_size=30, gamma=0.1)"
    assert repr(schedules.linear(0.1, 0.01, 1000)) == "linear(lr0=0.1, lr_end=0.01, K=1000)"
    p = schedules.power(0.1, 100, -0.5)
    assert (p.lr0, p.s, p.c) == (0.1, 100.0, -0.5)
    e = schedules.exponential(0.1, 0.96, 1000)
    assert (e.lr0, e.c, e.s) == (0.1, 0.96, 1000.0)
    c = schedules.cosine(0.1, 1000, warmup=100)
    assert repr(c) == "cosine(lr_max=0.1, T=1000, lr_min=0.0, warmup=100)"
    # the repr evaluates back to an equal schedule
    for sched in (s, c, p, e):
        assert eval(repr(sched), vars(schedules)) == sched


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: schedules.constant(-0.1),
    lambda: schedules.step(-1.0, 10),
    lambda: schedules.linear(-0.1, 0.01, 10),
    lambda: schedules.linear(0.1, -0.01, 10),
    lambda: schedules.power(-0.1, 10, -1),
    lambda: schedules.exponential(-0.1, 0.5, 10),
    lambda: schedules.cosine(-0.1, 100),
    lambda: schedules.cyclical(-1e-5, 0.1, 10),
])
def test_negative_lr_rejected(make):
    with pytest.raises(ValueError, match=">= 0"):
        make()


@pytest.mark.parametrize("size", [0, -5])
def test_step_size_must_be_positive(size):
    with pytest.raises(ValueError, match="step_size"):
        schedules.step(0.1, size)


@pytest.mark.parametrize("n_s", [0, -1])
def test_n_s_must_be_positive(n_s):
    with pytest.raises(ValueError, match="n_s"):
        schedules.cyclical(1e-5, 1e-1, n_s)


def test_lr_min_above_lr_max_rejected():
    with pytest.raises(ValueError, match="lr_min must be <= lr_max"):
        schedules.cyclical(0.2, 0.1, 10)
    with pytest.raises(ValueError, match="lr_min must be <= lr_max"):
        schedules.cosine(0.1, 100, lr_min=0.2)


def test_other_parameter_errors():
    with pytest.raises(ValueError, match="K"):
        schedules.linear(0.1, 0.0, 0)
    with pytest.raises(ValueError, match="s must be > 0"):
        schedules.power(0.1, 0, -1)
    with pytest.raises(ValueError, match="c must be > 0"):
        schedules.exponential(0.1, 0.0, 10)
    with pytest.raises(ValueError, match="T"):
        schedules.cosine(0.1, 0)
    with pytest.raises(ValueError, match="warmup"):
        schedules.cosine(0.1, 100, warmup=100)
    with pytest.raises(ValueError, match="warmup"):
        schedules.cosine(0.1, 100, warmup=-1)
    with pytest.raises(ValueError, match="finite"):
        schedules.constant(float("nan"))
    with pytest.raises(TypeError):
        schedules.constant("0.1")


@pytest.mark.parametrize("sched", [
    schedules.constant(0.1),
    schedules.step(0.1, 5),
    schedules.linear(0.1, 0.0, 5),
    schedules.power(0.1, 5, -1),
    schedules.exponential(0.1, 0.5, 5),
    schedules.cosine(0.1, 5),
    schedules.cyclical(0.0, 0.1, 5),
])
def test_negative_step_rejected(sched):
    with pytest.raises(ValueError, match="step must be >= 0"):
        sched(-1)
    with pytest.raises(TypeError):
        sched("3")


def test_values_validation():
    with pytest.raises(ValueError, match="steps"):
        schedules.values(schedules.constant(0.1), -1)
    with pytest.raises(TypeError):
        schedules.values(schedules.constant(0.1), 2.5)
