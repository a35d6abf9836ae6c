"""The vectorized activations (csrc/core/vmath.inc) against extended-precision NumPy, in ulp.

Inputs cover the whole range: random bit patterns (every exponent, denormals), a dense draw
over the region where the functions bend, tiny values, and the specials. The reference is
computed in np.longdouble (64-bit mantissa on x86: 11 bits beyond float64), so its own error
is far below the bounds. The bounds are the ones stated in vmath.inc and the README.
"""
import math

import numpy as np
import pytest

import mlpc

L = np.longdouble
DTYPES = [np.float32, np.float64]
C = np.sqrt(L(2) / L(np.pi))
SELU_L, SELU_A = L(1.0507009873554805), L(1.6732632423543772)


def inputs(dtype, rng):
    ut = np.uint32 if dtype == np.float32 else np.uint64
    bits = rng.integers(0, np.iinfo(ut).max, size=1 << 17, dtype=ut, endpoint=True).view(dtype)
    dense = rng.uniform(-50, 50, 1 << 16).astype(dtype)
    tiny = (rng.uniform(-1, 1, 1 << 14) * 10.0 ** rng.uniform(-320, 0, 1 << 14)).astype(dtype)
    x = np.concatenate([bits, dense, tiny])
    return x[np.isfinite(x)]


def sig(x):
    return 1 / (1 + np.exp(-x))


# The normal distribution in long double (NumPy has no erf): φ from e^{−x²/2} with x² split so that
# its rounding does not count (it would be amplified x²/2-fold, 750-fold at x = 38.7), Φ(−u) by
# the series Φ(−u) = ½ − φ(u) Σ u^{2k+1}/(2k+1)!! below u = 2 (positive terms; ½ − … loses at
# most 5 of long double's 11 extra bits), by the continued fraction
# Φ(−u) = φ(u)/(u + 1/(u + 2/(u + 3/(u + …)))) above (200 levels: converged from u = 2 on).
# test_the_normal_reference_agrees_with_math_erfc checks it where double is enough.
SQRT_2PI = np.sqrt(2 * L("3.14159265358979323846264338327950288"))


def gauss(x):
    """e^{−x²/2}; x² = hi² + lo (x + hi), hi = x to 24 bits: hi² is exact in long double"""
    a = np.minimum(abs(np.asarray(x, dtype=L)), L(1e4))    # beyond, e^{−x²/2} is 0 anyway
    hi = a.astype(np.float32).astype(L)
    lo = a - hi
    return np.exp(-(hi * hi) / 2) * np.exp(-(lo * (a + hi)) / 2)


def npdf(x):
    return gauss(x) / SQRT_2PI


def normal_tail(u):
    """Φ(−u) for u ≥ 0"""
    u = np.asarray(u, dtype=L)
    out = np.empty_like(u)
    small = u < 2
    s = us = u[small]
    term = us.copy()
    for k in range(1, 120):
        term = term * us * us / (2 * k + 1)
        s = s + term
    out[small] = L(0.5) - npdf(us) * s
    ub = u[~small]
    t = np.zeros_like(ub)
    for k in range(200, 0, -1):
        t = k / (ub + t)
    out[~small] = npdf(ub) / (ub + t)
    return out


def ncdf(x):
    x = np.asarray(x, dtype=L)
    t = normal_tail(abs(x))
    return np.where(x < 0, t, 1 - t)


def gelu_z(x):
    return 2 * C * (x + L(0.044715) * x ** 3)


# name: (layer, f, f', "condition" |x f'/f|-like scale of the argument rounding or None)
FUNCS = {
    "sigmoid": (mlpc.Sigmoid, sig, lambda x: sig(x) * sig(-x)),
    "tanh": (mlpc.Tanh, np.tanh, lambda x: 4 * np.exp(-2 * abs(x)) / (1 + np.exp(-2 * abs(x))) ** 2),
    "softplus": (mlpc.Softplus, lambda x: np.logaddexp(x, L(0)), sig),
    "elu": (mlpc.ELU, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
            lambda x: np.where(x > 0, 1, np.exp(np.minimum(x, 0)))),
    "selu": (mlpc.SELU, lambda x: SELU_L * np.where(x > 0, x, SELU_A * np.expm1(np.minimum(x, 0))),
             lambda x: SELU_L * np.where(x > 0, 1, SELU_A * np.exp(np.minimum(x, 0)))),
    "silu": (mlpc.SiLU, lambda x: x * sig(x), lambda x: sig(x) * (1 + x * sig(-x))),
    "gelu": (mlpc.GELU, lambda x: x * ncdf(x), lambda x: ncdf(x) + x * npdf(x)),
    "gelu_tanh": (lambda: mlpc.GELU(approximate="tanh"), lambda x: x * sig(gelu_z(x)),
                  lambda x: sig(gelu_z(x)) * (1 + x * sig(-gelu_z(x)) * 2 * C *
                                              (1 + 3 * L(0.044715) * x * x))),
}
# stated maximum errors in ulp of the result: (function, derivative)
BOUNDS = {"sigmoid": (3, 5), "tanh": (3, 5), "softplus": (3, 3), "elu": (2, 2), "selu": (3, 2),
          "silu": (4, 5), "gelu": (4, 5), "gelu_tanh": (3, 5)}


def ulp_error(y, ref, dtype, slack=None):
    """|y − ref| in ulp of ref (in dtype); `slack` adds an allowance in units of eps·|slack|."""
    r = ref.astype(dtype)
    err = abs(y.astype(L) - ref)
    if slack is not None:
        err = np.maximum(err - np.finfo(dtype).eps * abs(slack), 0)
    e = err / np.spacing(abs(r)).astype(L)
    e[(y == r)] = 0   # equal infinities and zeros
    return e


def sum_of_terms(name, x):
    """The magnitude the derivative's terms cancel from: its rounding error is relative to it."""
    if name == "silu":
        return 4 * (abs(sig(x)) + abs(x * sig(x) * sig(-x)))
    if name == "gelu":
        return 4 * (ncdf(x) + abs(x * npdf(x)))
    if name == "gelu_tanh":
        z = gelu_z(x)
        return 4 * (sig(z) + abs(x * sig(z) * sig(-z) * 2 * C * (1 + 3 * L(0.044715) * x * x)))
    return None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(FUNCS))
def test_activation_within_stated_ulp(name, dtype):
    rng = np.random.default_rng()
    x = inputs(dtype, rng)
    layer, f, df = FUNCS[name]
    y, d = layer().function(x)
    xl = x.astype(L)
    with np.errstate(all="ignore"):
        ref, dref = f(xl), df(xl)
        # a product x·g(x) whose g is denormal keeps g's absolute error (times |x|), and the
        # GELU-tanh argument z = c(x + 0.044715x³) is itself rounded: both are allowances
        # every float implementation needs, not errors of the exponential
        tiny = np.finfo(dtype).tiny
        products = name in ("silu", "gelu_tanh")
        keep = np.isfinite(ref) & ((abs(ref) >= tiny * np.maximum(abs(xl), 1)) | (not products))
        slack = abs(gelu_z(xl) * ref) * 2 if name == "gelu_tanh" else None
        e = ulp_error(y, ref, dtype, slack)[keep]
        dslack = sum_of_terms(name, xl)
        if name == "gelu_tanh":
            dslack = dslack + 2 * abs(gelu_z(xl) * dref)
        dkeep = np.isfinite(dref) & ((abs(dref) >= tiny * np.maximum(abs(xl), 1)) | (not products))
        de = ulp_error(d, dref, dtype, dslack)[dkeep]
    fb, db = BOUNDS[name]
    worst = np.argmax(e)
    assert e.max() <= fb, f"{name}: {e.max():.2f} ulp at x = {x[keep][worst]!r}"
    worst = np.argmax(de)
    assert de.max() <= db, f"{name}': {de.max():.2f} ulp at x = {x[dkeep][worst]!r}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_specials(dtype):
    inf, nan = np.inf, np.nan
    big = np.finfo(dtype).max
    x = np.array([-inf, -big, -0.0, 0.0, big, inf, nan], dtype=dtype)
    y = {name: FUNCS[name][0]().function(x)[0] for name in FUNCS}
    np.testing.assert_array_equal(y["tanh"], [-1, -1, -0.0, 0, 1, 1, nan])
    assert np.signbit(y["tanh"][2])
    np.testing.assert_array_equal(y["sigmoid"], [0, 0, 0.5, 0.5, 1, 1, nan])
    np.testing.assert_array_equal(y["softplus"], [0, 0, np.log(2).astype(dtype),
                                                  np.log(2).astype(dtype), big, inf, nan])
    np.testing.assert_array_equal(y["elu"], [-1, -1, 0, 0, big, inf, nan])
    for name in FUNCS:
        assert np.isnan(y[name][-1]) and np.isnan(FUNCS[name][0]().function(x)[1][-1]), name


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer", [mlpc.SiLU, lambda: mlpc.Swish(1.7), lambda: mlpc.Swish(-1.3),
                                   mlpc.GELU, lambda: mlpc.GELU(approximate="tanh")],
                         ids=["silu", "swish+", "swish-", "gelu", "gelu_tanh"])
def test_the_x_sigma_family_keeps_its_limits(layer, dtype):
    """x s(βx) with s → 0 on one side and 1 on the other: at ±inf, at ±FLT_MAX / ±DBL_MAX and
    where βx overflows the dtype, f goes to (a signed) 0 or to x, f' to 0 or 1 — never
    inf · 0 = NaN."""
    layer = layer()
    beta = float(getattr(layer, "alpha", 1.0)) if isinstance(layer, mlpc.Swish) else 1.0
    big = np.finfo(dtype).max
    x = np.array([-np.inf, -big, -big / 1.5, big / 1.5, big, np.inf], dtype=dtype)
    f, g = layer.function(x)
    on = np.sign(beta) * x > 0                   # the side where s(βx) → 1
    np.testing.assert_array_equal(f, np.where(on, x, 0))
    np.testing.assert_array_equal(g, np.where(on, 1, 0).astype(dtype))
    assert not np.isnan(f).any() and not np.isnan(g).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "elu", "softplus", "gelu", "gelu_tanh",
                                  "relu", "leaky_relu"])
def test_any_range_gives_the_same_bits(name, dtype):
    """Elementwise kernels have no alignment or tail effects: a slice starting anywhere gives
    the bits the whole buffer gives (the worker pool splits a pass into row blocks)."""
    layer = FUNCS[name][0] if name in FUNCS else {"relu": mlpc.ReLU,
                                                  "leaky_relu": mlpc.LeakyReLU}[name]
    x = np.random.default_rng().standard_normal(1000).astype(dtype) * 5
    y, d = layer().function(x)
    for start in (1, 3, 7, 13):
        ys, ds = layer().function(x[start:start + 517])
        np.testing.assert_array_equal(ys, y[start:start + 517])
        np.testing.assert_array_equal(ds, d[start:start + 517])


def test_the_normal_reference_agrees_with_math_erfc():
    """½ erfc(t) = Φ(−√2 t): the long double reference against libm's double erfc, over the
    range where erfc(t) is a normal double (√2 t rounded in long double moves Φ by at most
    x² 2^−64 ≈ 1e−16 there; erfc itself is good to about an ulp)."""
    t = np.concatenate([np.linspace(-5, 26, 3001), np.linspace(1.3, 1.5, 201)])   # u = 2 seam
    ref = np.array([math.erfc(v) / 2 for v in t])
    got = ncdf(-np.sqrt(L(2)) * t.astype(L))
    np.testing.assert_allclose(got.astype(np.float64), ref, rtol=1e-15, atol=0)
    # and φ against libm's exp where x²/2 is exact in double
    x = np.arange(-37.5, 37.5, 0.125)               # e^{−x²/2} a normal double
    np.testing.assert_allclose(npdf(x).astype(np.float64),
                               np.exp(-x * x / 2) / math.sqrt(2 * math.pi), rtol=4e-16, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_left_tail_keeps_its_relative_accuracy(dtype):
    """GELU(x) = x Φ(x) and GELU'(x) = Φ(x) + x φ(x) for x ≪ 0, down to where they underflow:
    Φ(x) is taken as ½ erfc(−x/√2), e^{−x²/2} from x² split exactly, not as ½(1 + erf(x/√2)),
    which has only an absolute error of eps/2 (x = −8: Φ ≈ 6e−16) and is 0 below x ≈ −8.3
    (computed in double, for float32 too), where the true values are still normal numbers."""
    lo = -14.7 if dtype == np.float32 else -38.8                 # past the last nonzero value
    x = np.concatenate([np.linspace(lo, -3, 20001), -np.geomspace(3, -lo, 2001)]).astype(dtype)
    f, g = mlpc.GELU().function(x)
    xl = x.astype(L)
    e = ulp_error(f, xl * ncdf(xl), dtype)
    de = ulp_error(g, ncdf(xl) + xl * npdf(xl), dtype)
    assert e.max() <= BOUNDS["gelu"][0], f"{e.max():.2f} ulp at x = {x[np.argmax(e)]!r}"
    # in this tail the derivative's terms do not cancel (−x φ dominates): no allowance
    assert de.max() <= BOUNDS["gelu"][1], f"{de.max():.2f} ulp at x = {x[np.argmax(de)]!r}"
    tiny = np.finfo(dtype).tiny
    assert (abs(f[x > (-13 if dtype == np.float32 else -37)]) >= tiny).all()   # still normal there
    assert f[0] == 0 and np.signbit(f[0]) and g[0] == 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_geglu_is_gelu_times_the_gate_to_the_bit(dtype):
    """The gated units run the activation loops above a row at a time: GEGLU's output and
    gradients are GELU's f(u) and f'(u) (here from .function) times v and dy, bit for bit, also
    in the far left tail where f(u) is denormal."""
    rng = np.random.default_rng(5)
    N, M = 7, 37                                     # a row length no vector width divides
    u = rng.standard_normal((N, M)) * 6
    u[0, :5] = [-9.5, -13.0, -14.3, -30.0, -38.5]
    x = np.concatenate([u, rng.standard_normal((N, M))], axis=1).astype(dtype)
    u, v = x[:, :M], x[:, M:]
    dy = rng.standard_normal((N, M)).astype(dtype)
    net = mlpc.Sequential(mlpc.GEGLU(), dtype=dtype)
    y = net.forward(x)
    dx = net.backward(dy)
    f, g = mlpc.GELU().function(u)
    np.testing.assert_array_equal(y, f * v)
    np.testing.assert_array_equal(dx[:, :M], dy * v * g)
    np.testing.assert_array_equal(dx[:, M:], dy * f)
