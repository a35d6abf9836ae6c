"""Experiment 6: gradient descent on a quadratic error with a chosen Hessian spectrum.

The notes ("Improving the way neural networks learn", convergence): near a minimum w*,
E(w) = E(w*) + ½ (w − w*)ᵀ H (w − w*). Writing w − w* = Σᵢ αᵢ uᵢ in the eigenvectors of H,
gradient descent with rate η changes each coordinate independently,

    αᵢ(t) = (1 − η λᵢ)ᵗ αᵢ(0),

so it converges iff η < 2/λ_max, is fastest along u_max at η = 1/λ_max, and then crawls along
u_min at rate 1 − λ_min/λ_max = 1 − 1/κ (κ the condition number). Momentum
Δw(τ) = −η ∇E + μ Δw(τ−1) damps the zig-zag across an elongated bowl.

The quadratic is an mlpc network: a Linear(d, 1, bias=False) with MSELoss, on inputs X built so
that XᵀX/N = H and targets y = X w*, so the core's cost 1/(2N) ‖Xw − y‖² is exactly
½ (w − w*)ᵀ H (w − w*) and every step is mlpc.SGD's. The iterates are read from the layer's
weight view after each step.
"""
import math

import numpy as np

import mlpc
from mlpc import schedules as _schedules
from . import ParameterValueError, Result, integer, list_of, merge_params, number, optional

NAME = "convergence"


def _clean(value):
    """Parameters as JSON-friendly values (callables and schedules by their repr)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str, np.generic, np.ndarray)):
        return value
    return repr(value)


def quadratic_problem(eigenvalues, n_samples=None, rotate=True, seed=0):
    """(X, y, H, U, w_star): inputs with XᵀX/N = H = U diag(λ) Uᵀ and targets y = X w*.

    U is a random orthogonal matrix (rotate=True) or the identity (the bowl's axes are the
    coordinate axes); w* is drawn from N(0, 1)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if lam.ndim != 1 or lam.size == 0 or np.any(lam <= 0):
        raise ValueError(f"eigenvalues must be a non-empty list of positive numbers, "
                         f"got {eigenvalues!r}")
    d = lam.size
    n = max(d, int(n_samples or 2 * d))
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((d, d)))[0] if rotate else np.eye(d)
    Q = np.linalg.qr(rng.standard_normal((n, d)))[0]          # orthonormal columns
    X = math.sqrt(n) * Q @ np.diag(np.sqrt(lam)) @ U.T         # XᵀX/N = U diag(λ) Uᵀ
    H = U @ np.diag(lam) @ U.T
    w_star = rng.standard_normal(d)
    return X, (X @ w_star)[:, None], H, U, w_star


def gradient_descent(X, y, w0, lr, steps, momentum=0.0, schedule=None):
    """Run mlpc.SGD on the quadratic: returns (path (steps+1, d), costs (steps,), lrs (steps,)).

    path[t] is the weight after t updates, read from the core's weight view; costs[t] is the
    cost the core computed before update t; lrs[t] the learning rate that update used."""
    d = X.shape[1]
    layer = mlpc.Linear(d, 1, bias=False, init="zeros")
    net = mlpc.Sequential(layer, dtype="float64")
    layer.weight = np.asarray(w0, dtype=np.float64)[None, :]
    opt = mlpc.SGD(net, lr=lr, momentum=momentum, schedule=schedule)
    loss_fn = mlpc.MSELoss()
    path = np.empty((steps + 1, d))
    costs = np.empty(steps)
    lrs = np.empty(steps)
    path[0] = layer.weight[0]
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            costs[t] = net.train_step(X, y, loss_fn, opt)
            lrs[t] = opt.lr
            path[t + 1] = layer.weight[0]
    return path, costs, lrs


def _steps_to(ratio, tol):
    """First t with ratio[t] <= tol, or None."""
    hit = np.nonzero(ratio <= tol)[0]
    return int(hit[0]) if hit.size else None


def default_schedules(steps, lr_max):
    """The notes' schedules (linear, power law, exponential decay) and DD2424's cyclical one,
    scaled to `steps` updates and a largest rate lr_max."""
    return {
        "linear": _schedules.linear(lr0=lr_max, lr_end=0.05 * lr_max, K=max(1, steps // 2)),
        "power": _schedules.power(lr0=lr_max, s=max(1, steps // 20), c=-1.0),
        "exponential": _schedules.exponential(lr0=lr_max, c=0.1, s=max(1, steps // 2)),
        "cyclical": _schedules.cyclical(lr_min=0.05 * lr_max, lr_max=lr_max,
                                         n_s=max(1, steps // 8)),
    }


class ConvergenceResult(Result):
    """stats:
    - "eigendirections": per η (keyed "eta=<factor>/lambda_max"): eta, alpha (t × d measured
      αᵢ(t)), theory ((1 − ηλᵢ)ᵗ αᵢ(0)), max_abs_error, rates 1 − ηλᵢ, converges, error E − E*.
    - "condition": per κ: eigenvalues, eta = 1/λ_max, ratio ‖w−w*‖/‖w₀−w*‖ per step,
      steps_to_tol measured and theory (from the slow direction's rate 1 − 1/κ).
    - "zigzag": per method ("gd", "momentum"): path, eta, momentum, error, sign_changes of the
      steep coordinate; eigenvalues.
    - "schedules": per name: repr, lr (the rates the optimizer used at steps 0..T−1),
      error measured and theory (Πₜ (1 − ηₜλᵢ) per direction).
    """

    def figures(self):
        return {"eigendirections": self.plot_eigendirections(),
                "condition": self.plot_condition(),
                "zigzag": self.plot_zigzag(),
                "schedules": self.plot_schedules()}

    def plot_eigendirections(self):
        from mlpc.plot import _grid
        runs = self.stats["eigendirections"]
        lam = np.asarray(self.stats["eigenvalues"])
        fig, axes = _grid(len(runs), min(4, len(runs)), panel_size=(3.6, 3.0))
        for ax, (label, run) in zip(axes, runs.items()):
            alpha = np.abs(np.asarray(run["alpha"]))
            theory = np.abs(np.asarray(run["theory"]))
            t = np.arange(len(alpha))
            for i in range(alpha.shape[1]):
                line, = ax.plot(t, theory[:, i], lw=1, label=f"λ={lam[i]:g}")
                ax.plot(t, alpha[:, i], "o", ms=2.5, color=line.get_color())
            ax.set_yscale("log")
            state = "converges" if run["converges"] else "diverges"
            ax.set_title(f"η = {run['eta_factor']:g}/λ_max ({state})", fontsize=9)
            ax.set_xlabel("step t")
            ax.grid(True, alpha=0.3)
        axes[0].set_ylabel("|αᵢ(t)|: dots mlpc, lines (1−ηλᵢ)ᵗ|αᵢ(0)|")
        axes[0].legend(fontsize=7)
        fig.suptitle("distance to the minimum along each eigenvector of H")
        fig.tight_layout()
        return fig

    def plot_condition(self):
        from mlpc.plot import new_figure
        runs = self.stats["condition"]
        tol = self.params["cond_tol"]
        reached = [r["steps_to_tol"] or len(r["ratio"]) for r in runs.values()]
        end = int(min(max(len(r["ratio"]) for r in runs.values()), 1.15 * max(reached) + 2))
        fig = new_figure((6, 4))
        ax = fig.subplots()
        for run in runs.values():
            ratio = np.asarray(run["ratio"], dtype=np.float64)[:end]
            theory = np.asarray(run["ratio_theory"], dtype=np.float64)[:end]
            t = np.arange(len(ratio))
            line, = ax.plot(t, np.where(ratio > 0, ratio, np.nan),
                            label=f"κ = {run['kappa']:g}: {run['steps_to_tol']} steps "
                                  f"(theory {run['steps_theory']})")
            ax.plot(t, np.where(theory > 0, theory, np.nan), "--", lw=0.8,
                    color=line.get_color())
        ax.axhline(tol, color="0.5", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_ylim(tol * 1e-2, 2.0)
        ax.set_xlabel("step t")
        ax.set_ylabel("‖w − w*‖ / ‖w₀ − w*‖")
        ax.set_title("η = 1/λ_max: the slow direction contracts by 1 − 1/κ per step")
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        return fig

    def plot_zigzag(self):
        from mlpc.plot import _grid
        z = self.stats["zigzag"]
        lam = np.asarray(z["eigenvalues"])
        runs = [z["gd"], z["momentum"]]
        paths = [np.asarray(r["path"]) for r in runs]
        both = np.concatenate([p[np.all(np.isfinite(p), axis=1)] for p in paths])
        span = np.abs(both).max(axis=0) * 1.15 + 1e-12
        gx = np.linspace(-span[0], span[0], 200)
        gy = np.linspace(-span[1], span[1], 200)
        xx, yy = np.meshgrid(gx, gy)
        E = 0.5 * (lam[0] * xx ** 2 + lam[1] * yy ** 2)
        fig, axes = _grid(2, 2, panel_size=(4.8, 3.6))
        for ax, run, path in zip(axes, runs, paths):
            ax.contour(xx, yy, E, levels=12, colors="0.7", linewidths=0.6)
            ax.plot(path[:, 0], path[:, 1], "o-", ms=2.5, lw=1)
            ax.plot([0], [0], "k*", ms=9)
            ax.set_title(f"η = {run['eta']:g}, μ = {run['momentum']:g}: error "
                         f"{run['error'][-1]:.1e} after {len(path) - 1} steps", fontsize=9)
            ax.set_xlabel("w₁ − w₁* (λ = %g)" % lam[0])
            ax.set_ylabel("w₂ − w₂* (λ = %g)" % lam[1])
        fig.suptitle("gradient descent on an elongated bowl, without and with momentum")
        fig.tight_layout()
        return fig

    def plot_schedules(self):
        from mlpc.plot import _grid, line_plot
        runs = self.stats["schedules"]
        fig, axes = _grid(2, 2, panel_size=(4.8, 3.6))
        line_plot(None, {name: r["lr"] for name, r in runs.items()}, ax=axes[0],
                  title="learning-rate schedules", xlabel="step", ylabel="η")
        line_plot(None, {name: r["error"] for name, r in runs.items()}, ax=axes[1], log=True,
                  title="E − E* under each schedule", xlabel="step", ylabel="E(w) − E(w*)")
        fig.tight_layout()
        return fig


DEFAULTS = dict(
    eigenvalues=(1.0, 0.3, 0.1, 0.03),   # the Hessian spectrum of the main problem
    n_samples=16,                        # rows of X (XᵀX/N = H)
    eta_factors=(0.5, 1.0, 1.9, 2.1),    # η in units of 1/λ_max: < 2 converges, > 2 diverges
    steps=60,
    condition_numbers=(1, 10, 100),      # 2-D bowls λ = (1, 1/κ), run at η = 1/λ_max
    cond_tol=1e-6,
    cond_steps=2000,
    zigzag_eigenvalues=(0.01, 1.0),      # the elongated bowl (axis-aligned)
    zigzag_start=(-2.0, 1.0),            # w₀ − w* on it
    zigzag_eta_factor=1.9,               # plain GD close to 2/λ_max: zig-zags
    momentum=0.9,
    momentum_eta_factor=1.0,             # None: the same η as plain GD
    zigzag_steps=100,
    schedules=None,                      # {name: step -> lr}; None: default_schedules(...)
    schedule_steps=200,
    schedule_lr=1.0,                     # largest rate of the default schedules, × 1/λ_max
)
QUICK = dict(steps=30, condition_numbers=(1, 10, 30), cond_steps=600, schedule_steps=100)


def _schedules_kind(key, value):
    """Kind of `schedules`: {name: callable step -> lr}, at least one."""
    if isinstance(value, dict) and value and all(callable(f) for f in value.values()):
        return value
    raise ParameterValueError(f"{key} must be None or a non-empty dict {{name: callable step -> "
                              f"learning rate}}, got {value!r}")


# condition_numbers >= 1: the bowls λ = (1, 1/κ) are run at η = 1/λ_max = 1; cond_tol < 1:
# the distance ratio starts at 1
KINDS = dict(eigenvalues=list_of(number(above=0)), n_samples=optional(integer(1)),
             eta_factors=list_of(number(above=0)), steps=integer(1),
             condition_numbers=list_of(number(at_least=1)), cond_tol=number(above=0, below=1),
             cond_steps=integer(1), zigzag_eigenvalues=list_of(number(above=0), length=2),
             zigzag_start=list_of(number(), length=2), zigzag_eta_factor=number(above=0),
             momentum=number(at_least=0, below=1), momentum_eta_factor=optional(number(above=0)),
             zigzag_steps=integer(1), schedules=optional(_schedules_kind),
             schedule_steps=integer(1), schedule_lr=number(above=0))


def run(quick=False, seed=0, **params):
    """Gradient descent on quadratics, every update made by mlpc.SGD (parameters: DEFAULTS).

    eigenvalues: the Hessian spectrum of the main problem (its eigenvectors a random rotation
    drawn from seed); each run starts at αᵢ(0) = 1 along every eigenvector. eta_factors:
    learning rates in units of 1/λ_max. condition_numbers: 2-D bowls λ = (1, 1/κ) run at
    η = 1/λ_max until ‖w − w*‖ has shrunk by cond_tol (at most cond_steps steps). zigzag_*: the
    2-D bowl of the path figure, run with plain GD at zigzag_eta_factor/λ_max (close to the
    limit 2/λ_max: it zig-zags across the valley and crawls along it) and with momentum μ at
    momentum_eta_factor/λ_max (heavy ball is stable up to η = 2(1 + μ)/λ_max). schedules:
    {name: callable step -> lr} (default: linear, power, exponential, cyclical over
    schedule_steps with largest rate schedule_lr/λ_max), each driving SGD on the main problem.
    Returns a ConvergenceResult."""
    p = merge_params(NAME, DEFAULTS, QUICK, quick, params, kinds=KINDS, seed=seed)
    (eigenvalues, n_samples, eta_factors, steps, condition_numbers, cond_tol, cond_steps,
     zigzag_eigenvalues, zigzag_start, zigzag_eta_factor, momentum, momentum_eta_factor,
     zigzag_steps, schedules, schedule_steps, schedule_lr) = (p[k] for k in DEFAULTS)
    lam = np.asarray(eigenvalues, dtype=np.float64)
    lam_max = float(lam.max())
    X, y, H, U, w_star = quadratic_problem(lam, n_samples, rotate=True, seed=seed)
    alpha0 = np.ones(lam.size)
    w0 = w_star + U @ alpha0

    def error(path, lam_, U_, w_star_):
        a = (path - w_star_) @ U_
        with np.errstate(over="ignore", invalid="ignore"):
            return 0.5 * (a ** 2 * lam_).sum(axis=1)

    # -- 1. contraction along each eigenvector, and divergence beyond 2/λ_max ----------------
    eig_stats = {}
    for f in eta_factors:
        eta = f / lam_max
        path, costs, _ = gradient_descent(X, y, w0, eta, steps)
        alpha = (path - w_star) @ U                      # αᵢ(t) = uᵢᵀ (w_t − w*)
        t = np.arange(steps + 1)[:, None]
        rates = 1.0 - eta * lam
        theory = rates[None, :] ** t * alpha0[None, :]
        with np.errstate(invalid="ignore"):
            err = np.abs(alpha - theory)
        eig_stats[f"eta={f:g}/lambda_max"] = {
            "eta_factor": float(f), "eta": eta, "rates": rates,
            "converges": bool(np.all(np.abs(rates) < 1)),
            "alpha": alpha, "theory": theory,
            "max_abs_error": float(np.nanmax(err)),
            "max_scaled_error": float(np.nanmax(err) / max(1.0, float(np.nanmax(np.abs(theory))))),
            "error": error(path, lam, U, w_star), "cost": costs}

    # -- 2. condition number: η = 1/λ_max on bowls λ = (1, 1/κ) --------------------------------
    cond_stats = {}
    for kappa in condition_numbers:
        lam_k = np.array([1.0, 1.0 / kappa])
        Xk, yk, _, Uk, wk = quadratic_problem(lam_k, n_samples, rotate=True, seed=seed + 1)
        start = wk + Uk @ np.ones(2)
        path, _, _ = gradient_descent(Xk, yk, start, 1.0 / lam_k.max(), cond_steps)
        ratio = np.linalg.norm(path - wk, axis=1) / np.linalg.norm(start - wk)
        slow = 1.0 - 1.0 / kappa                          # rate along u_min
        t = np.arange(cond_steps + 1)
        # after step 1 only the slow coordinate is left: ‖w−w*‖/‖w₀−w*‖ = slowᵗ/√2
        ratio_theory = np.where(t == 0, 1.0, slow ** t / math.sqrt(2.0))
        steps_theory = 1 if slow == 0 else max(1, math.ceil(math.log(cond_tol * math.sqrt(2.0))
                                                          / math.log(slow)))
        cond_stats[f"kappa={kappa:g}"] = {
            "kappa": float(kappa), "eigenvalues": lam_k, "eta": 1.0 / lam_k.max(),
            "slow_rate": slow, "ratio": ratio, "ratio_theory": ratio_theory,
            "steps_to_tol": _steps_to(ratio, cond_tol), "steps_theory": steps_theory}

    # -- 3. the zig-zag on an elongated bowl, with and without momentum ------------------------
    lam_z = np.asarray(zigzag_eigenvalues, dtype=np.float64)
    Xz, yz, _, Uz, wz = quadratic_problem(lam_z, n_samples, rotate=False, seed=seed + 2)
    start = wz + np.asarray(zigzag_start, dtype=np.float64)
    eta_gd = zigzag_eta_factor / lam_z.max()
    eta_mom = (momentum_eta_factor if momentum_eta_factor is not None
               else zigzag_eta_factor) / lam_z.max()
    steep = int(np.argmax(lam_z))
    zig = {"eigenvalues": lam_z, "w_star": wz}
    for key, eta, mu in (("gd", eta_gd, 0.0), ("momentum", eta_mom, momentum)):
        path, _, _ = gradient_descent(Xz, yz, start, eta, zigzag_steps, momentum=mu)
        rel = path - wz
        s = np.sign(rel[:, steep])
        zig[key] = {"eta": eta, "momentum": mu, "path": rel,
                    "error": 0.5 * (rel ** 2 * lam_z).sum(axis=1),
                    "sign_changes": int(np.sum(s[1:] * s[:-1] < 0))}

    # -- 4. learning-rate schedules driving SGD on the main problem ----------------------------
    if schedules is None:
        schedules = default_schedules(schedule_steps, schedule_lr / lam_max)
    sched_stats = {}
    for name, sched in schedules.items():
        path, _, lrs = gradient_descent(X, y, w0, float(sched(0)), schedule_steps,
                                        schedule=sched)
        alpha = (path - w_star) @ U
        factors = np.vstack([np.ones(lam.size),
                             np.cumprod(1.0 - lrs[:, None] * lam[None, :], axis=0)])
        alpha_theory = factors * alpha0[None, :]
        sched_stats[name] = {
            "repr": repr(sched), "lr": lrs,
            "error": error(path, lam, U, w_star),
            "error_theory": 0.5 * (alpha_theory ** 2 * lam).sum(axis=1),
            "max_abs_alpha_error": float(np.max(np.abs(alpha - alpha_theory)))}

    p.update(quick=bool(quick), seed=seed)
    p["schedules"] = {k: repr(v) for k, v in schedules.items()}
    params = _clean(p)
    stats = {"eigenvalues": lam, "w_star": w_star, "eigenvectors": U, "alpha0": alpha0,
             "eigendirections": eig_stats, "condition": cond_stats, "zigzag": zig,
             "schedules": sched_stats}
    return ConvergenceResult(NAME, params, stats, {"X": X, "y": y, "H": H})
