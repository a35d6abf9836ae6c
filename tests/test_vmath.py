"""The vectorized activations (csrc/core/vmath.inc) against extended-precision NumPy, in ulp.

Inputs cover the whole range: random bit patterns (every exponent, denormals), a dense draw
over the region where the functions bend, tiny values, and the specials. The reference is
computed in np.longdouble (64-bit mantissa on x86: 11 bits beyond float64), so its own error
is far below the bounds. The bounds are the ones stated in vmath.inc and the README.
"""
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
    "gelu_tanh": (lambda: mlpc.GELU(approximate="tanh"), lambda x: x * sig(gelu_z(x)),
                  lambda x: sig(gelu_z(x)) * (1 + x * sig(-gelu_z(x)) * 2 * C *
                                              (1 + 3 * L(0.044715) * x * x))),
}
# stated maximum errors in ulp of the result: (function, derivative)
BOUNDS = {"sigmoid": (3, 5), "tanh": (3, 5), "softplus": (3, 3), "elu": (2, 2), "selu": (3, 2),
          "silu": (4, 5), "gelu_tanh": (3, 5)}


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
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "elu", "softplus", "gelu_tanh", "relu",
                                  "leaky_relu"])
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
