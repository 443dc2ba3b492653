"""Explanations of a trajectory of learned dynamics: which if-then laws fire when, which laws
bind or break, what the learned field does as equations, and what follows from them (the
equilibrium's eigenvalues, damping ratio, natural frequency, period)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, final

import numpy as np
import sympy

from neurosym.errors import ConfigurationError

from ._equations import linearise, rule_text
from ._report import TrajectoryReport, _fmt

__all__ = ["DynamicsExplanation", "Linearisation", "linear_analysis"]


@final
@dataclass(frozen=True)
class Linearisation:
    """What the linearisation of a field at an equilibrium says.

    Attributes:
        at: the equilibrium, by state name.
        jacobian: the ``(D, D)`` Jacobian there, as nested lists of floats.
        eigenvalues: its eigenvalues.
        stable: every eigenvalue has a negative real part.
        damping_ratio: for the slowest-decaying complex pair, ``-Re λ / |λ|``; for a real
            spectrum ``>= 1`` is reported from the two slowest modes when there are two
            (``None`` otherwise).
        natural_frequency: ``|λ|`` of that pair (rad per time unit), or ``None``.
        period: ``2π / |Im λ|`` of that pair, or ``None`` without oscillation.
    """

    at: Mapping[str, float]
    jacobian: tuple[tuple[float, ...], ...]
    eigenvalues: tuple[complex, ...]
    stable: bool
    damping_ratio: float | None
    natural_frequency: float | None
    period: float | None

    def __str__(self) -> str:
        point = ", ".join(f"{k} = {v:g}" for k, v in self.at.items())
        eig = ", ".join(_complex(z) for z in self.eigenvalues)
        stable = "stable" if self.stable else "not stable"
        lines = [f"at the equilibrium ({point}): eigenvalues {eig} ({stable})"]
        if self.damping_ratio is not None:
            regime = (
                "critically damped"
                if abs(self.damping_ratio - 1) <= 1e-9  # 1 to rounding of the Jacobian
                else "underdamped"
                if self.damping_ratio < 1
                else "overdamped"
            )
            lines.append(f"damping ratio {self.damping_ratio:.4g} ({regime})")
        if self.natural_frequency is not None:
            lines.append(f"natural frequency {self.natural_frequency:.4g} rad per time unit")
        if self.period is not None:
            lines.append(f"period of the oscillation {self.period:.4g} time units")
        return "; ".join(lines)


def _complex(z: complex) -> str:
    if abs(z.imag) < 1e-12:
        return f"{z.real:.4g}"
    return f"{z.real:.4g} {'+' if z.imag >= 0 else '-'} {abs(z.imag):.4g}i"


def _equilibrium(equations: Sequence[sympy.Eq], names: Sequence[str]) -> dict[str, float]:
    """The equilibrium Newton's method reaches from the origin (the origin itself when it is
    one); the field is rarely exactly zero at the origin once it has been learned."""
    syms = [sympy.Symbol(n) for n in names]
    rhs = sympy.Matrix([eq.rhs for eq in equations])
    jac = rhs.jacobian(sympy.Matrix(syms))
    x = np.zeros(len(names))
    for _ in range(50):
        subs = dict(zip(syms, (float(v) for v in x)))
        f = np.array([float(v) for v in rhs.subs(subs)], dtype=float)
        if np.max(np.abs(f)) < 1e-12:
            break
        j = np.array(jac.subs(subs).tolist(), dtype=float)
        try:
            x = x - np.linalg.solve(j, f)
        except np.linalg.LinAlgError:
            break
    return dict(zip(names, (float(v) for v in x)))


def linear_analysis(
    equations: Sequence[sympy.Eq], *, at: Mapping[str, float] | None = None
) -> Linearisation:
    """Eigenvalues, damping ratio, natural frequency and period at an equilibrium ``at``
    (default: the one Newton's method reaches from the origin).

    Example:
        >>> import sympy
        >>> from neurosym.lang._sympy import DER
        >>> x, v = sympy.symbols("x v")
        >>> lin = linear_analysis([sympy.Eq(DER(x), v), sympy.Eq(DER(v), -x - 0.2 * v)])
        >>> round(lin.damping_ratio, 6), round(lin.natural_frequency, 6), lin.stable
        (0.1, 1.0, True)

    Raises:
        ConfigurationError: ``at`` is not an equilibrium, or symbols other than states.
    """
    names = [str(eq.lhs.args[0]) for eq in equations]
    point = _equilibrium(equations, names) if at is None else {k: float(v) for k, v in at.items()}
    jac = linearise(equations, at=point)
    a = np.array(jac.tolist(), dtype=float)
    # A double eigenvalue (critical damping) is only known to about sqrt(eps) * |λ|: numpy
    # may return it as a pair with imaginary parts ~1e-8, which is not an oscillation.
    noise = 1e-7 * max(1.0, float(np.max(np.abs(a), initial=0.0)))
    eig = [
        complex(z) if abs(z.imag) > noise else complex(z.real, 0.0) for z in np.linalg.eigvals(a)
    ]
    eig.sort(key=lambda z: (-z.real, abs(z.imag)))
    pairs = [z for z in eig if z.imag > 0]
    zeta = omega = period = None
    if pairs:
        z = max(pairs, key=lambda w: w.real)  # the slowest-decaying oscillation
        omega = abs(z)
        zeta = -z.real / omega if omega > 0 else None
        period = 2 * math.pi / z.imag
    elif len(eig) == 2:
        # Two real modes r1, r2 of x'' + 2ζω x' + ω² x: ω² = r1 r2, 2ζω = -(r1 + r2).
        r1, r2 = eig[0].real, eig[1].real
        if r1 * r2 > 0:
            omega = math.sqrt(r1 * r2)
            zeta = -(r1 + r2) / (2 * omega)
    return Linearisation(
        at=point,
        jacobian=tuple(tuple(float(x) for x in row) for row in a),
        eigenvalues=tuple(eig),
        stable=all(z.real < 0 for z in eig),
        damping_ratio=zeta,
        natural_frequency=omega,
        period=period,
    )


@final
@dataclass(frozen=True)
class DynamicsExplanation:
    """An explanation of one trajectory of a :class:`~neurosym.bridge.HybridODE`.

    ``str()`` renders it for people; the fields are there for programs.

    Attributes:
        states: the state names.
        known: the known equations with the params' current values.
        params: the params' current values.
        report: where each law holds, fires, binds or is violated.
        distilled: equations distilled from the whole learned field, if given.
        linear: the linearisation of the distilled (or, without learned terms, the known)
            field at the equilibrium, when there is one to analyse.
    """

    states: tuple[str, ...]
    known: tuple[sympy.Eq, ...]
    params: Mapping[str, float]
    report: TrajectoryReport
    distilled: tuple[sympy.Eq, ...] | None = None
    linear: Linearisation | None = None
    notes: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        t0, t1 = self.report.ts[0], self.report.ts[-1]
        out = [f"dynamics of {', '.join(self.states)} over t in [{t0:.3g}, {t1:.3g}]"]
        out.append("known equations (params as they are now):")
        out.extend(f"  {line}" for line in _show(self.known))
        if self.params:
            out.append("params: " + ", ".join(f"{k} = {v:.4g}" for k, v in self.params.items()))
        rules = [
            s for s in self.report.laws if s.active != ((self.report.ts[0], self.report.ts[-1]),)
        ]
        if rules:
            out.append("if-then laws (rules on the behaviour):")
            for s in rules:
                out.append(f"  {s.name} fires on {_fmt(s.active)}: {s.text}")
        out.append("laws:")
        for s in self.report.laws:
            how = "hard, holds by construction" if s.hard else "penalty"
            if s.holds:
                state = "holds" + (f"; tight on {_fmt(s.tight)}" if s.tight else "")
            else:
                state = f"violated on {_fmt(s.violated)}, by up to {-s.worst:.3g}"
            out.append(f"  {s.name} ({how}): {state}")
        if self.distilled is not None:
            out.append("what the learned field does, distilled:")
            out.extend(f"  {line}" for line in _show(self.distilled))
        if self.linear is not None:
            out.append(str(self.linear))
        out.extend(self.notes)
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        lin = self.linear
        return {
            "states": list(self.states),
            "known": [str(e) for e in self.known],
            "params": dict(self.params),
            "report": self.report.to_dict(),
            "distilled": None if self.distilled is None else [str(e) for e in self.distilled],
            "linear": None
            if lin is None
            else {
                "at": dict(lin.at),
                "eigenvalues": [[z.real, z.imag] for z in lin.eigenvalues],
                "stable": lin.stable,
                "damping_ratio": lin.damping_ratio,
                "natural_frequency": lin.natural_frequency,
                "period": lin.period,
            },
        }


def _show(equations: Sequence[sympy.Eq]) -> list[str]:
    """``der(x) = ...`` lines: in the rule language where it can spell them (learned
    terms such as ``nn_force_net(x, v)`` it cannot), else as sympy prints them."""
    try:
        return [ln for ln in rule_text(equations, digits=5).splitlines() if ln.startswith("der(")]
    except ConfigurationError:
        return [f"der({eq.lhs.args[0]}) = {sympy.sstr(sympy.N(eq.rhs, 5))}" for eq in equations]


def _has_learned(equations: Sequence[sympy.Eq]) -> bool:
    for eq in equations:
        names = {str(s) for s in eq.rhs.free_symbols}
        names |= {type(f).__name__ for f in eq.rhs.atoms(sympy.core.function.AppliedUndef)}
        if any(n.startswith("nn_") for n in names):
            return True
    return False


def explain_dynamics(
    model: Any,
    report: TrajectoryReport,
    *,
    distilled: Sequence[sympy.Eq] | None,
    at: Mapping[str, float] | None,
) -> DynamicsExplanation:
    """Assemble the explanation (used by :meth:`HybridODE.explain`)."""
    known = tuple(model.known_equations())
    notes: list[str] = []
    linear = None
    source = tuple(distilled) if distilled is not None else None
    if source is None and model.residual is None and not _has_learned(known):
        source = known
    if source is not None:
        try:
            linear = linear_analysis(source, at=at)
        except ConfigurationError as e:
            notes.append(f"no linearisation: {e}")
    return DynamicsExplanation(
        states=tuple(model.states),
        known=known,
        params=model.param_table(),
        report=report,
        distilled=None if distilled is None else tuple(distilled),
        linear=linear,
        notes=tuple(notes),
    )
