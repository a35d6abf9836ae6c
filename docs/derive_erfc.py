"""Derives the coefficients of the normal tail in csrc/core/vmath.inc (R(vnormal_tail)).

For u ≥ 0 the upper tail of the standard normal is written Φ(−u) = e^{−u²/2} / D(u) with

    D(u) = e^{−u²/2} / Φ(−u) = 2 + √(2π) u + u N(u)/Q(u),

D being √(2π) times the reciprocal of Mills' ratio: D(0) = 2 and D(u) − √(2π) u → 0 like
√(2π)/u, so the rational u N/Q, deg Q = deg N + 1, tends to −2 and follows D over the whole
range where e^{−u²/2} is not yet 0 in the dtype: u in [0, 14.625] for float32, [0, 38.75] for
float64 (the C code clamps u there). This shape is chosen for the rounding. A rational fitted to
Φ's own factor e^{u²/2} Φ(−u) is evaluated with about one ulp of error per degree at large u,
where all the terms of Horner's rule grow together; in D that error is weighted by |u N/Q| / D,
which goes like 1/u, and near 0 the sum is dominated by the exact 2. So the fit minimizes the
largest error of u N/Q *relative to D* (the relative error it causes in Φ):

1. q0 = 1 is fixed; the other coefficients solve the linearized least-squares problem
   min Σ wᵢ (uᵢ N(uᵢ) − (D(uᵢ) − 2 − √(2π) uᵢ) Q(uᵢ))² / (D(uᵢ) Q₋(uᵢ))²  on Chebyshev points,
   Q₋ being the previous iterate's denominator (Sanathanan-Koerner: the weight makes the residual
   the error of u N/Q relative to D), and the weights wᵢ are multiplied by that error after each
   solve (Lawson's iteration), which drives the least-squares solution towards the minimax one.
2. The coefficients are then rounded to the dtype one at a time, highest degree first, the ones
   not yet rounded refitted after each rounding, so that they absorb its error.
3. The rounded rational is checked on a dense grid against mpmath's erfc at 50 digits.

The N coefficients come out all negative and the Q ones all positive, so Horner's rule on u ≥ 0
adds terms of one sign (no cancellation) in N and in Q. Run it with `python docs/derive_erfc.py`
(mpmath; under a minute): it prints the C lines pasted into vmath.inc, the largest error of each
fit and the two-part √(2π).
"""
import sys

import mpmath as mp

mp.mp.dps = 50

# dtype: (significand bits, upper end of u, degree of N; Q has one more)
FITS = {"float": (24, mp.mpf("14.625"), 4), "double": (53, mp.mpf("38.75"), 9)}
SQRT_2PI = mp.sqrt(2 * mp.pi)


def D(u):
    """e^{−u²/2} / Φ(−u)"""
    return 2 / (mp.erfc(u / mp.sqrt(2)) * mp.exp(u * u / 2))


def nu(u):
    """D − √(2π) u"""
    return D(u) - SQRT_2PI * u


def horner(c, u):
    s = mp.mpf(0)
    for a in reversed(c):
        s = s * u + a
    return s


def fit(us, gs, ds, n, m, fixed, iters):
    """ν(u) − 2 = u N(u)/Q(u), N of degree n, Q of degree m, the coefficients in `fixed`
    ({("n"|"q", j): value}) held; gs = ν − 2 and ds = D on the nodes us. Returns (N, Q, the
    largest error relative to D on the nodes)."""
    free = [(k, j) for k, deg in (("n", n), ("q", m)) for j in range(deg + 1)
            if (k, j) not in fixed]

    def column(k, j, u, g):         # the residual u N − g Q is linear in the coefficients
        return u ** (j + 1) if k == "n" else -g * u ** j

    w = [mp.mpf(1)] * len(us)
    qprev = [mp.mpf(1)] * len(us)
    for _ in range(iters):
        A = mp.matrix(len(us), len(free))
        rhs = mp.matrix(len(us), 1)
        for i, (u, g) in enumerate(zip(us, gs)):
            s = mp.sqrt(w[i]) / (ds[i] * qprev[i])
            for col, (k, j) in enumerate(free):
                A[i, col] = s * column(k, j, u, g)
            rhs[i] = -s * sum(v * column(k, j, u, g) for (k, j), v in fixed.items())
        sol = mp.qr_solve(A, rhs)[0]
        coef = dict(fixed)
        coef.update({kj: sol[col] for col, kj in enumerate(free)})
        N = [coef[("n", j)] for j in range(n + 1)]
        Q = [coef[("q", j)] for j in range(m + 1)]
        errs = []
        for i, (u, g) in enumerate(zip(us, gs)):
            qprev[i] = horner(Q, u)
            errs.append(abs(u * horner(N, u) / qprev[i] - g) / ds[i])
        w = [wi * e for wi, e in zip(w, errs)]
        total = sum(w)
        w = [wi * len(w) / total for wi in w]
    return N, Q, max(errs)


def to_dtype(x, bits):
    with mp.workprec(bits):
        return +x                        # round to nearest with `bits` significant bits


def derive(name):
    bits, U, n = FITS[name]
    m = n + 1
    npts = 12 * (n + m)
    us = [U / 2 * (1 - mp.cos(mp.pi * (i + mp.mpf(1) / 2) / npts)) for i in range(npts)]
    us = us + [U]               # u = 0 is exact by construction
    gs = [nu(u) - 2 for u in us]
    ds = [D(u) for u in us]
    fixed = {("q", 0): mp.mpf(1)}
    N, Q, err = fit(us, gs, ds, n, m, fixed, 16)
    order = [(k, j) for j in range(m, -1, -1) for k in ("n", "q") if (k, j) not in fixed
             and not (k == "n" and j > n)]
    for k, j in order:
        fixed[(k, j)] = to_dtype((N if k == "n" else Q)[j], bits)
        if len(fixed) < n + m + 2:
            N, Q, _ = fit(us, gs, ds, n, m, fixed, 6)
    N = [fixed[("n", j)] for j in range(n + 1)]
    Q = [fixed[("q", j)] for j in range(m + 1)]
    grid = [U * i / 20000 for i in range(20001)]
    rounded = max(abs(2 + u * horner(N, u) / horner(Q, u) - nu(u)) / D(u) for u in grid)
    return N, Q, err, rounded, bits


def c_lines(var, c, bits):
    """Horner's rule in C, highest degree first; 9 (17) digits give the float (double) back"""
    def lit(a):
        return mp.nstr(a, 9 if bits == 24 else 17, min_fixed=-4, max_fixed=4)
    lines = [f"        {var} = (real){lit(c[-1])};"]
    lines += [f"        {var} = {var} * u + (real){lit(a)};" for a in reversed(c[:-1])]
    return lines


def main():
    for name in (sys.argv[1:] or FITS):
        N, Q, err, rounded, bits = derive(name)
        print(f"/* {name}: N/Q of degree {len(N) - 1}/{len(Q) - 1}; error of the fit (relative "
              f"to D) {mp.nstr(err, 3)}, with the coefficients rounded {mp.nstr(rounded, 3)} "
              f"= {mp.nstr(rounded * 2 ** (bits - 1), 3)} ulp of 1 */")
        print("\n".join(c_lines("n", N, bits) + c_lines("q", Q, bits)))
        # √(2π) in two parts, the first with half the significand so that it times the high half
        # of u (vmath.inc's uh) is exact
        half = 12 if bits == 24 else 26
        hi = to_dtype(SQRT_2PI, half)
        lo = to_dtype(SQRT_2PI - hi, bits)
        print(f"/* {name}: √(2π) = {mp.nstr(hi, 17)} + {mp.nstr(lo, 17)} */")


if __name__ == "__main__":
    main()
