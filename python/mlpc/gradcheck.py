"""Gradient checking: backpropagation against high-order finite differences, in float64.

Two questions, two modes. "Is this gradient right?": the directional check (the default)
compares, per tensor, the analytic directional derivative gᵀv with a finite-difference estimate
along a few seeded random directions v; it costs a few passes per tensor, whatever the tensor's
size, and is exact to round-off. "Where is it wrong?": the elementwise check (`entries=`)
compares single entries; a tensor that fails the directional check is also searched by halving
(directional checks on halves of its entries) until the wrong entries are named.

The estimate along a line φ(t) = J(θ + t v): central 4th-order differences at steps h, h/2
and h/4, combined by Richardson extrapolation (6th order); the difference of the two
extrapolations (or, where the differences do not shrink as h⁴, their whole spread), plus the
round-off 16 ε_mach max|φ| / h amplified by the stencil, bounds the error δ of the estimate.
The steps shrink until δ is far below tol·|n| or round-off dominates. A derivative disagrees
only when |a − n| exceeds both δ and tol·(|a| + |n|); the reported error is
|a − n| / max(|a| + |n|, δ/tol), the relative error, except that a difference within the finite
differences' own error counts at most tol, and 0 when both a and n are within δ of zero. Steps
never cross a kink (a ReLU-family input changing sign: the core compares every such input with
the unperturbed pass, and the step shrinks); where no step avoids one, the entry sits at a
kink, and if its one-sided derivatives disagree it is reported as a kink, not an error.
"""
from __future__ import annotations

import time
from collections import namedtuple
from typing import Any, Callable, Optional, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core

ULP = np.finfo(np.float64).eps
STENCIL = np.array([-2.0, -1.0, -0.5, -0.25, 0.25, 0.5, 1.0, 2.0])   # t in units of h


def _scatter_projection():
    """The projection of (φ at STENCIL·h, φ(0)) onto what a polynomial of degree 6 leaves
    unexplained, scaled so that its norm estimates the values' round-off (2 degrees of
    freedom)."""
    s = np.append(STENCIL, 0.0)
    V = np.vander(s, 7)
    return (np.eye(len(s)) - V @ np.linalg.pinv(V)).T / np.sqrt(len(s) - 7)


_SCATTER = _scatter_projection()
FIRST_STEP = 1e-2      # h relative to a tensor's RMS value: truncation ~h⁶, round-off ~ε/h
SMALLEST_STEP = 1e-9   # below this the round-off swamps the estimate: an unavoidable kink
ROUNDS = 6             # step reductions tried (kinks, strong curvature)
# a network's cost is made of O(1) quantities (scores, probabilities), so its round-off is at
# least that of 1, even where the cost itself is 0 (a softmax over one class)
COST_FLOOR = 1.0
KINK_SAMPLE = 256      # entries checked one by one in a tensor whose directions meet kinks
LOCATE_BELOW = 64      # halving stops at this many entries, then checks each of them

Entry = namedtuple("Entry", "index analytic numeric error")
Entry.__doc__ = """A derivative that disagrees: its index (an entry of the tensor, or ("direction",
d) for a directional check), the analytic and the numeric value and the error."""
Kink = namedtuple("Kink", "index analytic left right")
Kink.__doc__ = """A derivative at a kink: the one-sided numeric derivatives left and right differ,
and backpropagation gives one branch (at 0 mlpc takes the derivative of the branch x <= 0:
relu′(0) = 0, leaky_relu′(0) = slope)."""


class GradcheckResult(dict):
    """{tensor name: max error} of a gradient check, and what a student needs to act on it:

    - `passed`: no error exceeds `tol`;
    - `failures`: {name: [Entry(index, analytic, numeric, error), ...]} worst first, for the
      tensors that fail (located down to single entries);
    - `kinks`: {name: [Kink(index, analytic, left, right), ...]}: derivatives at a ReLU-family
      kink, where the one-sided differences disagree (not errors);
    - `unresolved`: {name: count}: derivatives whose finite differences never settled at any
      step (a cost too ill-conditioned for float64), not held against the gradient;
    - `mode` ("directional" or "elementwise"), `tol`, `evaluations` (cost evaluations),
      `seconds`.
    """

    def __init__(self, errors, tol, mode):
        super().__init__(errors)
        self.tol, self.mode = tol, mode
        self.failures, self.kinks, self.unresolved = {}, {}, {}
        self.evaluations, self.seconds = 0, 0.0

    @property
    def passed(self):
        return all(v <= self.tol for v in self.values())

    def _lines(self):
        verdict = "passed" if self.passed else "FAILED"
        lines = [f"gradcheck {verdict} ({self.mode}, tol {self.tol:g}, {self.evaluations} "
                 f"evaluations, {self.seconds:.2f} s)"]
        width = max((len(k) for k in self), default=0)
        for name, err in self.items():
            mark = "" if err <= self.tol else "   <- wrong"
            kinks = f"   ({len(self.kinks[name])} at kinks)" if self.kinks.get(name) else ""
            if self.unresolved.get(name):
                kinks += f"   ({self.unresolved[name]} unresolved)"
            lines.append(f"  {name:<{width}}  {err:.1e}{mark}{kinks}")
        for name, entries in self.failures.items():
            lines.append(f"  worst entries of {name}:")
            for e in entries[:5]:
                lines.append(f"    {name}{_index_str(e.index)}: analytic {e.analytic:.8e}, "
                             f"numeric {e.numeric:.8e}, error {e.error:.1e}")
        for name, kinks in self.kinks.items():
            for k in kinks[:3]:
                lines.append(f"  {name}{_index_str(k.index)} is at a kink, not an error: "
                             f"analytic {k.analytic:.6e}, one-sided {k.left:.6e} / {k.right:.6e}")
        return lines

    def __repr__(self):
        return "\n".join(self._lines())

    def _repr_html_(self):
        import html
        return "<pre>" + html.escape(repr(self)) + "</pre>"


def _index_str(index):
    if isinstance(index, tuple) and index and index[0] == "direction":
        return f" along direction {index[1]}"
    return "[" + ", ".join(str(i) for i in index) + "]"


# -- one line function per direction --------------------------------------------------------
def _estimate(phi, base, h, floor):
    """(numeric derivative, its error bound, the least round-off of such a bound, the round-off
    seen in the values' scatter, whether the differences converge as they should, left, right)
    of φ at 0 from φ at STENCIL·h (phi (m, 8), base φ(0), h (m,)); `floor`: the least magnitude
    whose round-off the values carry.

    Central 4th-order differences D(s) = (8(φ(s) − φ(−s)) − (φ(2s) − φ(−2s)))/(12 s) at
    s = h, h/2, h/4; Richardson's (16 D(s/2) − D(s))/15 cancels their h⁴ term. The estimate is
    that of the two finer steps; the difference of the two extrapolations bounds its truncation
    error, unless the differences of D do not shrink as h⁴ (16 times per halving): then the
    step is too large to tell, and the bound says so."""
    m2, m1, mh, mq, pq, ph, p1, p2 = phi.T
    d_h = (8 * (p1 - m1) - (p2 - m2)) / (12 * h)
    d_half = (8 * (ph - mh) - (p1 - m1)) / (6 * h)
    d_quarter = (8 * (pq - mq) - (ph - mh)) / (3 * h)
    coarse = d_half + (d_half - d_h) / 15
    numeric = d_quarter + (d_quarter - d_half) / 15
    # the estimate weighs the values by Σ|c| ≈ 6.6/h. The values' round-off is at least 16 ulps
    # of the cost, and at least what they scatter about a polynomial through them: a cost that
    # cancels digits (batch normalization of two examples) carries far more than 16 ulps.
    magnitude = np.maximum(np.maximum(np.abs(phi).max(axis=1), abs(base)), floor)
    scatter = np.linalg.norm(np.column_stack([phi, np.broadcast_to(base, h.shape)]) @
                             _SCATTER, axis=1)
    round_off = 8 * 16 * ULP * magnitude / h
    scattered = 8 * 3 * scatter / h
    first, second = d_h - d_half, d_half - d_quarter
    asymptotic = np.abs(first) >= 4 * np.abs(second)
    truncation = np.where(asymptotic, np.abs(numeric - coarse), np.abs(first) + np.abs(second))
    # the differences shrink 16 times per halving, as the h⁴ term says: the steps are small
    # enough for the extrapolation to mean what it says
    settled = (first * second > 0) & (np.abs(first) >= 8 * np.abs(second)) & \
        (np.abs(first) <= 32 * np.abs(second))
    right = (4 * pq - ph - 3 * base) / (h / 2)   # one-sided, 2nd order, steps h/4 and h/2
    left = (3 * base - 4 * mq + mh) / (h / 2)
    return (numeric, truncation + np.maximum(round_off, scattered), round_off, scattered,
            settled, left, right)


def _line_check(costs_along, directions, analytic, tol, floor, first_step):
    """Compare analytic directional derivatives (m,) with finite differences along
    `directions` (start, index, value) of a tensor. Steps shrink (up to ROUNDS times) for the
    directions whose estimate crosses a kink, is not yet credible or cannot yet tell a
    difference of tol, until round-off dominates; each keeps its credible estimate with the
    smallest bound. Returns (error, numeric, kink mask, left, right (each (m,)), evaluations,
    unresolved mask: no credible estimate at any step)."""
    start, index, value = directions
    m = len(start) - 1
    h = np.full(m, first_step)
    numeric, left, right = np.zeros(m), np.zeros(m), np.zeros(m)
    bound = np.full(m, np.inf)   # stays infinite where no step gives a credible estimate
    kink, ever_clear = np.zeros(m, dtype=bool), np.zeros(m, dtype=bool)
    todo = np.arange(m)
    evaluations = 0
    for round_ in range(ROUNDS + 1):
        base, phi, radius, crossed = costs_along(*_subset(start, index, value, todo),
                                                 h[todo, None] * STENCIL)
        evaluations += phi.size + 2
        n, b, noise, scattered, settled, lo, hi = _estimate(phi, base, h[todo], floor)
        clear = ~crossed.any(axis=1)
        on_kink = (crossed & 2).any(axis=1)   # an input exactly on its kink moved
        ever_clear[todo] |= clear
        # an estimate counts if its differences converge, agree to far below tol, or are
        # round-off; before that the steps are too large for the function's curvature
        agree = b <= tol / 2 * np.abs(n)
        rounding = noise >= b / 4   # the bound is mostly round-off: smaller steps do worse
        credible = clear & (settled | agree | rounding)
        better = credible & (b < bound[todo])
        numeric[todo[better]], bound[todo[better]] = n[better], b[better]
        resolved = credible & ((b <= tol / 1000 * np.abs(n)) | rounding |
                               (agree & (scattered >= b / 2)))
        last = (round_ == ROUNDS) | (h[todo] <= SMALLEST_STEP)
        never_clear = ~ever_clear[todo] & last & ~resolved
        # no step avoids the kink: the one-sided derivatives tell a kink from a smooth point
        left[todo], right[todo] = lo, hi
        at_kink = never_clear & (on_kink | (np.abs(hi - lo) > np.maximum(
            2 * noise, tol * (np.abs(hi) + np.abs(lo)))))
        kink[todo[at_kink]] = True
        smooth = never_clear & ~at_kink
        numeric[todo[smooth]], bound[todo[smooth]] = n[smooth], b[smooth]
        going = ~resolved & ~last
        # the next step keeps the farthest point (2h) at 2/3 of the way to the nearest kink
        nearest = radius.min(axis=1)[going] / 3
        h[todo[going]] = np.maximum(np.where(clear[going], h[todo[going]] / 8,
                                             np.minimum(h[todo[going]] / 4, nearest)),
                                    SMALLEST_STEP)
        todo = todo[going]
        if not len(todo):
            break
    diff = np.abs(analytic - numeric)
    denom = np.maximum(np.abs(analytic) + np.abs(numeric), bound / tol)
    error = np.where(diff == 0, 0.0, diff / np.where(denom > 0, denom, 1.0))
    # both at the differences' noise level: zero as far as finite differences can tell
    error[(np.abs(analytic) <= bound) & (np.abs(numeric) <= bound) | kink] = 0.0
    return error, numeric, kink, left, right, evaluations, np.isinf(bound) & ~kink


def _subset(start, index, value, todo):
    """The directions `todo` of (start, index, value)."""
    if len(todo) == len(start) - 1:
        return start, index, value
    counts = start[todo + 1] - start[todo]
    rows = np.repeat(start[todo] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + \
        np.arange(counts.sum())
    return np.concatenate([[0], np.cumsum(counts)]), index[rows], value[rows]


def _random_directions(size, scale, count, rng, entries=None):
    """`count` dense directions over `entries` (default all) of a tensor, and their values
    (count, len(entries)). The values have random signs and magnitudes in [scale/2, 3 scale/2]:
    no entry weighs little (a wrong one cannot hide behind a small weight) and no two weigh
    exactly alike (a wrong gradient cannot cancel out as [e, −e] would against [1, 1])."""
    entries = np.arange(size) if entries is None else np.asarray(entries)
    k = len(entries)
    signs = 2.0 * rng.integers(0, 2, size=(count, k)) - 1.0
    value = scale * signs * rng.uniform(0.5, 1.5, size=(count, k))
    return (np.arange(count + 1) * k, np.tile(entries, count), value.reshape(-1)), value


def _unit_directions(entries, scale):
    return np.arange(len(entries) + 1), np.asarray(entries), np.full(len(entries), scale)


# -- checking one tensor ---------------------------------------------------------------------
class _Tensor:
    """One flat tensor to check: its gradient, a scale for its steps, and the costs along
    directions in it."""

    def __init__(self, name, shape, values, grad, costs_along, floor, first_step):
        self.name, self.shape, self.floor, self.first_step = name, shape, floor, first_step
        self.grad = np.asarray(grad, dtype=np.float64).reshape(-1)
        self.unresolved = 0   # derivatives no step estimated credibly (not held against it)
        rms = float(np.sqrt(np.mean(np.square(values)))) if np.size(values) else 0.0
        self.scale = rms if rms > 0 and np.isfinite(rms) else 1.0
        self.costs_along = costs_along

    def directional(self, count, rng, tol, entries=None):
        directions, values = _random_directions(self.grad.size, self.scale, count, rng, entries)
        picked = slice(None) if entries is None else entries
        analytic = values @ self.grad[picked]
        error, numeric, kink, left, right, n, unresolved = _line_check(
            self.costs_along, directions, analytic, tol, self.floor, self.first_step)
        self.unresolved += int(unresolved.sum())
        fails = [Entry(("direction", int(d)), float(analytic[d]), float(numeric[d]),
                       float(error[d])) for d in np.argsort(-error) if error[d] > tol]
        kinks = [Kink(("direction", int(d)), float(analytic[d]), float(left[d]),
                      float(right[d])) for d in np.flatnonzero(kink)]
        return float(error.max(initial=0.0)), fails, kinks, n

    def elementwise(self, entries, tol):
        entries = np.asarray(entries, dtype=np.intp)
        analytic = self.grad[entries] * self.scale
        error, numeric, kink, left, right, n, unresolved = _line_check(
            self.costs_along, _unit_directions(entries, self.scale), analytic, tol, self.floor,
            self.first_step)
        self.unresolved += int(unresolved.sum())
        s = self.scale
        unravel = [tuple(int(i) for i in np.unravel_index(e, self.shape)) for e in entries]
        order = np.argsort(-error)
        fails = [Entry(unravel[j], float(analytic[j] / s), float(numeric[j] / s),
                       float(error[j])) for j in order if error[j] > tol]
        kinks = [Kink(unravel[j], float(analytic[j] / s), float(left[j] / s),
                      float(right[j] / s)) for j in np.flatnonzero(kink)]
        return float(error.max(initial=0.0)), fails, kinks, n

    def locate(self, rng, tol):
        """Entries that disagree, found by halving: a directional check on each half of the
        suspects keeps the worse half until few are left, which are checked one by one."""
        suspects = rng.permutation(self.grad.size)
        n = 0
        while len(suspects) > LOCATE_BELOW:
            halves = np.array_split(suspects, 2)
            errors = []
            for half in halves:
                err, _, _, k = self.directional(1, rng, tol, entries=half)
                errors.append(err)
                n += k
            # follow the worse half while it stands out; if neither does, check a sample
            if max(errors) <= tol and max(errors) < 10 * min(errors):
                suspects = suspects[:LOCATE_BELOW]
                break
            suspects = halves[int(np.argmax(errors))]
        _, fails, kinks, k = self.elementwise(np.sort(suspects), tol)
        return fails, kinks, n + k


def _check(tensors, tol, entries, directions, seed):
    """Run the check over `tensors` (a list of _Tensor); returns a GradcheckResult."""
    began = time.perf_counter()
    elementwise = entries is not None
    result = GradcheckResult({}, tol, "elementwise" if elementwise else "directional")
    seeds = np.random.SeedSequence(seed).spawn(len(tensors))
    for tensor, tensor_seed in zip(tensors, seeds):
        rng = np.random.default_rng(tensor_seed)
        if elementwise:
            err, fails, kinks, n = tensor.elementwise(_entries(entries, tensor.grad.size, rng),
                                                      tol)
        else:
            err, fails, kinks, n = tensor.directional(directions, rng, tol)
            if fails:   # name the entries, not only the directions
                entry_fails, entry_kinks, k = tensor.locate(rng, tol)
                fails = entry_fails or fails
                err = max([err] + [e.error for e in entry_fails])
                kinks = kinks + entry_kinks
                n += k
            elif kinks:   # directions through a kink prove nothing: check entries instead
                entry_err, fails, kinks, k = tensor.elementwise(
                    _entries(KINK_SAMPLE, tensor.grad.size, rng), tol)
                err = max(err, entry_err)
                n += k
        result[tensor.name] = err
        result.evaluations += n
        if fails:
            result.failures[tensor.name] = fails
        if kinks:
            result.kinks[tensor.name] = kinks
        if tensor.unresolved:
            result.unresolved[tensor.name] = tensor.unresolved
    result.seconds = time.perf_counter() - began
    return result


def _entries(entries, size, rng):
    if isinstance(entries, str):
        if entries != "all":
            raise ValueError(f"entries must be 'all' or a number of entries per tensor, got "
                             f"{entries!r}")
        return np.arange(size)
    if isinstance(entries, bool) or not isinstance(entries, (int, np.integer)) or entries < 1:
        raise ValueError(f"entries must be 'all' or a positive int, got {entries!r}")
    if entries >= size:
        return np.arange(size)
    return np.sort(rng.choice(size, size=int(entries), replace=False))


def _check_options(tol, directions, eps):
    if eps is not None and not (isinstance(eps, (int, float, np.floating)) and 0 < eps < 1):
        raise ValueError(f"eps (the first step, relative to a tensor's RMS value) must be a "
                         f"number in (0, 1), got {eps!r}")
    if not (isinstance(tol, (int, float, np.floating)) and 0 < tol < 1):
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    if isinstance(directions, bool) or not isinstance(directions, (int, np.integer)) or \
            directions < 1:
        raise ValueError(f"directions must be a positive int, got {directions!r}")


# -- the public checks -----------------------------------------------------------------------
def gradcheck(net: Any, loss_fn: Any, x: ArrayLike, y: ArrayLike, eps: Optional[float] = None, *,
              entries: Union[None, str, int] = None, directions: int = 3, tol: float = 1e-7,
              seed: int = 0) -> GradcheckResult:
    """Check backpropagation of J = loss + λΣ‖W‖² on the batch (x, y) against finite
    differences, for every parameter tensor and for the input, on a float64 copy of `net` in
    its current mode (the network is not changed; dropout layers keep their masks fixed).

    Default: the directional check, `directions` seeded random directions per tensor; a tensor
    that fails is searched by halving until its wrong entries are named. entries="all" or K:
    the elementwise check of every entry, or of K seeded random entries per tensor.

    Returns a GradcheckResult: {name: max error} (see the module docstring for the error and
    the criterion), passed, failures (worst entries), kinks; its repr is a readable report.
    A correct network gives errors of about 1e-11 (1e-9 to 1e-8 for tensors before ReLU-like
    units, whose kinks limit the steps) and passes at tol = 1e-7; a wrong gradient shows 1e-6
    and more. Cost: 8 passes per direction and tensor (more where kinks shrink the steps), e.g.
    0.3 s of CPU time for a 784-100-10 ReLU network on a batch of 256. eps: the first
    finite-difference step relative to each tensor's RMS value (default 1e-2; the steps shrink
    from there as needed)."""
    _check_options(tol, directions, eps)
    first_step = FIRST_STEP if eps is None else float(eps)
    net64 = net.copy("float64")
    core = net64._core
    x = np.array(x, dtype=np.float64)
    kind = loss_fn.kind
    dropout = [layer._index for _, layer in net64.named_layers() if hasattr(layer, "mask")]
    rng_states = {i: core.rng_state(i) for i in dropout}

    def replay():
        for i, state in rng_states.items():
            core.set_rng_state(i, state)

    replay()
    net64.cost(x, y, loss_fn)
    net64.zero_grad()
    analytic_dx = net64.backward()
    tensors = []

    def along(tensor_index):
        def costs_along(start, index, value, steps):
            replay()
            return _core.line_costs(core, x, y, kind, tensor_index, start, index, value, steps)
        return costs_along

    for name, layer in net64.named_layers():
        for k, pname in enumerate(layer.param_names):
            value = layer._param(pname)
            tensors.append(_Tensor(f"{name}.{pname}", value.shape, value,
                                   np.array(layer._param(pname, grad=True)),
                                   along(layer._tensor + k), COST_FLOOR, first_step))
    tensors.append(_Tensor("input", x.shape, x, analytic_dx, along(len(core.tensors())),
                           COST_FLOOR, first_step))
    return _check(tensors, tol, entries, directions, seed)


def function_gradcheck(f: Callable[[NDArray[Any]], Any], grad_f: Callable[[NDArray[Any]], Any],
                       x: ArrayLike, eps: Optional[float] = None, *,
                       entries: Union[None, str, int] = None, directions: int = 3,
                       tol: float = 1e-7, seed: int = 0) -> GradcheckResult:
    """The same check for a scalar NumPy function f(x) and its gradient grad_f(x) (an array
    shaped like x), e.g. a student's loss and its hand-derived derivative. Returns a
    GradcheckResult with the one name "x"; x is not modified."""
    _check_options(tol, directions, eps)
    x = np.array(x, dtype=np.float64)
    analytic = np.asarray(grad_f(x.copy()), dtype=np.float64)
    if analytic.shape != x.shape:
        raise ValueError(f"grad_f returned shape {analytic.shape}, expected {x.shape}")

    def value(point):
        v = np.asarray(f(point.reshape(x.shape)), dtype=np.float64)
        if v.shape not in ((), (1,)):
            raise ValueError(f"f must return a scalar, got an array of shape {v.shape}")
        return float(v.reshape(()))

    flat = x.reshape(-1)

    def costs_along(start, index, value_, steps):
        base = value(flat.copy())
        phi = np.empty(steps.shape)
        for d in range(len(start) - 1):
            idx, v = index[start[d]:start[d + 1]], value_[start[d]:start[d + 1]]
            for k, t in enumerate(steps[d]):
                point = flat.copy()
                point[idx] += t * v
                phi[d, k] = value(point)
        return base, phi, np.full(steps.shape, np.inf), np.zeros(steps.shape, dtype=bool)

    first_step = FIRST_STEP if eps is None else float(eps)
    return _check([_Tensor("x", x.shape, x, analytic, costs_along, 0.0, first_step)], tol,
                  entries, directions, seed)
