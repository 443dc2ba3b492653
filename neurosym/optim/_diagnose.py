"""Diagnose a run from its iterates or its loss curve, with advice given by readable rules.

From iterates, a run near a minimum follows a linear recurrence (exactly, on a quadratic):
``x_{k+1} − x_k = β(x_k − x_{k−1}) − αA x_k + c`` for heavy ball, and
``x_{k+1} = (I − αA)(x_k + β(x_k − x_{k−1})) + c`` for Nesterov. A least-squares fit
recovers the momentum ``β`` and the matrix ``αA``, whose eigenvalues give the damping regime
of every eigen-direction, without knowing the gradient or the learning rate. From a loss curve
alone only its shape is seen: rising, ringing, or creeping.

What the run shows becomes facts ``observed(...)``; the advice is derived from them by the
rules in :data:`ADVICE_RULES` with :func:`neurosym.infer`, so each piece of advice comes with
the proof of why it was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, final

import numpy as np
import numpy.typing as npt

from neurosym.errors import ConfigurationError

from ._params import DampingRegime, Hyperparameters, Method, _method, optimal_heavy_ball

__all__ = ["ADVICE_RULES", "Advice", "Diagnosis", "diagnose_run"]

ADVICE_RULES: Final = """\
% Advice on a run's learning rate and momentum, from what the run showed.
rule unstable_step: advice(lower_lr) :- observed(diverging).
rule ringing: advice(lower_momentum) :- observed(oscillating), not observed(diverging).
rule creeping: advice(raise_momentum) :-
    observed(overdamped), not observed(oscillating), not observed(diverging).
rule smooth_but_slow: advice(raise_lr) :-
    observed(slow), not observed(oscillating), not observed(diverging).
rule curvature_known: advice(use_critical_damping) :-
    observed(curvature_range), not observed(critical), not observed(diverging).
rule well_damped: advice(keep) :- observed(critical), not observed(diverging).
"""

_TEXT: Final = {
    "lower_lr": "lower the learning rate: a direction is unstable (the step overshoots)",
    "lower_momentum": (
        "lower the momentum (more damping): the run rings, so directions are under-damped"
    ),
    "raise_momentum": ("raise the momentum (less damping): directions are over-damped and creep"),
    "raise_lr": "raise the learning rate: the loss falls smoothly but slowly",
    "keep": "keep the setting: the slowest directions are critically damped",
    "use_critical_damping": (
        "use the critically damped setting for the estimated curvature range (see suggested)"
    ),
}


@final
@dataclass(frozen=True)
class Advice:
    """One piece of advice: its code, a sentence, and the engine's proof of it."""

    code: str
    text: str
    explanation: str

    def __str__(self) -> str:
        return self.text


@final
@dataclass(frozen=True)
class Diagnosis:
    """What a run shows, and what to change.

    Attributes:
        observations: the facts given to the rules: ``diverging``, ``oscillating``,
            ``overdamped``, ``critical``, ``slow``, ``curvature_range``.
        advice: the conclusions of :data:`ADVICE_RULES`, each with its proof.
        momentum: the momentum recovered from iterates (``None`` from a loss curve).
        regimes: the damping regime of each eigen-direction, from the smallest effective
            step ``αλ`` up (iterates only). The observations ``oscillating`` and
            ``overdamped`` describe the directions with the largest spectral radius, which
            set the pace.
        radius: the largest spectral radius of the fitted iteration (iterates only).
        rate: the loss's geometric rate per step over the second half of the curve.
        curvatures: the Hessian's eigenvalues, when iterates and ``lr`` are given.
        suggested: the optimal heavy-ball setting for those curvatures, if known.
        fit_residual: relative residual of the linear-recurrence fit (small on a quadratic).
    """

    observations: tuple[str, ...]
    advice: tuple[Advice, ...]
    momentum: float | None = None
    regimes: tuple[DampingRegime, ...] = ()
    radius: float | None = None
    rate: float | None = None
    curvatures: tuple[float, ...] | None = None
    suggested: Hyperparameters | None = None
    fit_residual: float | None = None

    def __str__(self) -> str:
        lines = [f"observed: {', '.join(self.observations) or 'nothing unusual'}"]
        lines += [f"- {a.text}" for a in self.advice]
        return "\n".join(lines)


def _regime(b: complex, c: float) -> DampingRegime:
    disc = b * b - 4.0 * c
    roots = np.roots([1.0, -b, c])
    if np.max(np.abs(roots)) >= 1.0:
        return DampingRegime.UNSTABLE
    # Looser than damping_regime's 1e-9: b and c here come out of a least-squares fit.
    if abs(disc) <= 1e-6 * max(abs(b) ** 2, 4.0 * abs(c)):
        return DampingRegime.CRITICAL
    return DampingRegime.OVERDAMPED if disc.real > 0 else DampingRegime.UNDERDAMPED


def _fit(
    xs: npt.NDArray[np.float64], method: Method
) -> tuple[float, npt.NDArray[np.float64], float]:
    """Fit the method's recurrence to the iterates; returns ``β``, ``S`` and the residual.

    Heavy ball and gradient descent: ``x_{k+1} − x_k = β(x_k − x_{k−1}) + S x_k + c`` with
    ``S = −αA``; ``β`` has a closed form once ``S`` and ``c`` are projected out (variable
    projection), so directions the run never excites do not bias it. Nesterov:
    ``x_{k+1} = S y_k + c`` with ``y_k = x_k + β(x_k − x_{k−1})`` and ``S = I − αA``, whose
    residual is minimised over ``β`` by a grid and a golden-section refinement.
    """
    n, d = xs.shape
    if n < d + 4:
        raise ConfigurationError(
            f"diagnosing from iterates needs at least {d + 4} iterates of dimension {d}, "
            f"got {n}; record more steps or project the iterates onto a few directions"
        )
    x_next, x, x_prev = xs[2:], xs[1:-1], xs[:-2]
    step, target = x - x_prev, x_next - x
    ones = np.ones((n - 2, 1))
    norm = float(np.linalg.norm(target)) or 1.0

    def project_out(
        z: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        design = np.hstack([z, ones])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        return y - design @ coef, coef

    if method != "nesterov":
        r_target, _ = project_out(x, target)
        r_step, _ = project_out(x, step)
        denom = float(np.sum(r_step * r_step))
        beta = 0.0 if method == "gd" or denom == 0 else float(np.sum(r_step * r_target) / denom)
        resid, coef = project_out(x, target - beta * step)
        return beta, coef[:d].T, float(np.linalg.norm(resid)) / norm

    def misfit(b: float) -> float:
        return float(np.linalg.norm(project_out(x + b * step, x_next)[0]))

    grid = np.linspace(-0.99, 0.999, 400)
    i = int(np.argmin([misfit(b) for b in grid]))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(60):  # golden section: the bracket shrinks to ~1e-14
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if misfit(a) <= misfit(b):
            hi = b
        else:
            lo = a
    beta = float((lo + hi) / 2.0)
    resid, coef = project_out(x + beta * step, x_next)
    return beta, coef[:d].T, float(np.linalg.norm(resid)) / norm


def _loss_shape(losses: npt.NDArray[np.float64]) -> tuple[set[str], float | None]:
    seen: set[str] = set()
    if not np.all(np.isfinite(losses)) or losses[-1] > losses[0]:
        seen.add("diverging")
        return seen, None
    diffs = np.diff(losses)
    flips = int(np.sum(np.sign(diffs[1:]) * np.sign(diffs[:-1]) < 0))
    if flips >= max(2, len(diffs) // 10):
        seen.add("oscillating")
    tail = losses[len(losses) // 2 :]
    rate = None
    if np.all(tail > 0) and len(tail) >= 2:
        slope = np.polyfit(np.arange(len(tail)), np.log(tail), 1)[0]
        rate = float(np.exp(slope))
        if rate > 0.99:
            seen.add("slow")
    return seen, rate


def _advise(observed: set[str]) -> tuple[Advice, ...]:
    from neurosym.explain import infer
    from neurosym.kb import parse

    facts = "".join(f"observed({o}).\n" for o in sorted(observed | {"run"}))
    model = infer(parse(ADVICE_RULES + facts, file="optim-advice.rules"))
    out = []
    for answer in model.facts("advice"):
        code = answer.fact[len("advice(") : -1]
        out.append(Advice(code, _TEXT[code], str(answer.explain())))
    return tuple(out)


def diagnose_run(
    *,
    iterates: npt.ArrayLike | None = None,
    losses: npt.ArrayLike | None = None,
    lr: float | None = None,
    method: Method = "heavy_ball",
) -> Diagnosis:
    """Diagnose the damping of a run and advise how to move lr and momentum.

    Args:
        iterates: parameter vectors ``(steps + 1, dim)``, consecutive; at least
            ``dim + 4`` of them. Best taken near the end of a run, where the loss is
            close to quadratic.
        losses: the loss per step (used when no iterates are given, and for the rate).
        lr: the learning rate used; with iterates it turns the fitted dynamics into
            curvatures, and a suggested critically damped setting.
        method: how the run was made, ``"heavy_ball"``, ``"nesterov"`` or ``"gd"``.

    Returns:
        A :class:`Diagnosis`; ``str()`` of it reads as a short report.

    Raises:
        ConfigurationError: neither iterates nor losses, too few iterates, or a bad method.

    Example:
        >>> from neurosym.optim import quadratic_run
        >>> xs = quadratic_run("heavy_ball", [1.0, 2.0, 50.0], lr=0.02, momentum=0.95, steps=40)
        >>> d = diagnose_run(iterates=xs, lr=0.02)
        >>> round(d.momentum, 6), [r.value for r in d.regimes]
        (0.95, ['underdamped', 'underdamped', 'underdamped'])
        >>> [a.code for a in d.advice]
        ['lower_momentum', 'use_critical_damping']
        >>> [round(c, 6) for c in d.curvatures]
        [1.0, 2.0, 50.0]
    """
    method = _method(method)
    if iterates is None and losses is None:
        raise ConfigurationError("diagnose_run needs iterates=... or losses=... (or both)")
    observed: set[str] = set()
    rate = None
    if losses is not None:
        shape, rate = _loss_shape(np.asarray(losses, dtype=np.float64).reshape(-1))
        observed |= shape
    if iterates is None:
        return Diagnosis(tuple(sorted(observed)), _advise(observed), rate=rate)

    xs = np.asarray(iterates, dtype=np.float64)
    if xs.ndim == 1:
        xs = xs[:, None]
    if not np.all(np.isfinite(xs)):
        observed.add("diverging")
        return Diagnosis(tuple(sorted(observed)), _advise(observed), rate=rate)
    beta, S, residual = _fit(xs, method)
    # Per eigen-direction: b_i and c_i of z² − b z + c.
    if method == "nesterov":
        shrink = np.sort(np.linalg.eigvals(S).real)[::-1]
        bs, cs = (1.0 + beta) * shrink, beta * shrink
        steps = 1.0 - shrink
    elif method == "heavy_ball":
        steps = np.sort(-np.linalg.eigvals(S).real)  # αλ_i, slowest first
        bs, cs = 1.0 + beta - steps, np.full_like(steps, beta)
    else:
        steps = np.sort(-np.linalg.eigvals(S).real)
        bs, cs = 1.0 - steps, np.zeros_like(steps)
    regimes = tuple(_regime(complex(b), float(c)) for b, c in zip(bs, cs))
    radii = [float(np.max(np.abs(np.roots([1.0, -b, c])))) for b, c in zip(bs, cs)]
    radius = max(radii)
    # The directions with the largest radius set the pace; their regime is the one to fix.
    limiting = {r for r, rad in zip(regimes, radii) if rad >= radius * (1 - 1e-6)}
    if DampingRegime.UNSTABLE in limiting:
        observed.add("diverging")
    if DampingRegime.CRITICAL in limiting:
        observed.add("critical")  # at Polyak's optimum the extremes are critical, the rest ring
    elif DampingRegime.UNDERDAMPED in limiting:
        observed.add("oscillating")
    elif DampingRegime.OVERDAMPED in limiting:
        observed.add("overdamped")
    if radius > 0.99:
        observed.add("slow")
    curvatures = suggested = None
    if lr is not None:
        curvatures = tuple(float(s) / lr for s in steps)
        if min(curvatures) > 0:
            suggested = optimal_heavy_ball(min(curvatures), max(curvatures))
            observed.add("curvature_range")
    return Diagnosis(
        tuple(sorted(observed)),
        _advise(observed),
        momentum=beta,
        regimes=regimes,
        radius=radius,
        rate=rate,
        curvatures=curvatures,
        suggested=suggested,
        fit_residual=residual,
    )
