"""Equations of motion as sympy: to rule-language text, and linearised at an equilibrium.

The rule text is produced by building the rule language's own AST from the sympy tree and
printing it with the canonical printer, so what is printed is what ``neurosym.parse``
reads back; anything without a rule-language spelling is a :class:`ConfigurationError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import sympy

from neurosym.errors import ConfigurationError
from neurosym.lang import BinOp, Call, Const, Expr, Neg, Number, Var, format_expr
from neurosym.lang._sympy import DER, FUNCTIONS

__all__ = ["damping_ratio", "equation_parts", "linearise", "rule_text", "to_rule_expr"]

_STATE_NAME = re.compile(r"[a-z][A-Za-z0-9_]*")  # the grammar's NAME: states are lowercase
_NAMES = {f: name for name, f in FUNCTIONS.items() if name != "sqrt"}


def _number(value: sympy.Expr, digits: int | None) -> Expr:
    # Negative numbers are Number nodes with a negative value: the printer writes them
    # as "-0.2" (the parser reads that back as a negation of 0.2, the same value).
    if value.is_Integer:
        return Number(int(value))
    if value.is_Rational and digits is None:
        p, q = int(value.p), int(value.q)
        frac = BinOp("/", Number(abs(p)), Number(q))
        return Neg(frac) if p < 0 else frac
    if value.is_Rational or value.is_Float or value in (sympy.pi, sympy.E):
        x = float(value)
        if not math.isfinite(x):
            raise ConfigurationError(f"{value} has no rule-language spelling (not finite)")
        if digits is not None:
            x = float(f"{x:.{digits}g}")
        return Number(x)
    raise ConfigurationError(
        f"the number {value} ({type(value).__name__}) has no rule-language spelling"
    )


def _term_key(term: sympy.Expr, order: Sequence[sympy.Symbol]) -> tuple[object, ...]:
    """Monomials of the ordered symbols first (by degree, earlier symbols first), then the
    rest (functions, other symbols) by their text."""
    degrees = dict.fromkeys(order, 0)
    monomial = True
    for f in sympy.Mul.make_args(term):
        base, exp = f.as_base_exp()
        if base in degrees and exp.is_Integer:
            degrees[base] += int(exp)
        elif not f.is_Number:
            monomial = False
    ds = [degrees[s] for s in order]
    return (not monomial, sum(ds), [-d for d in ds], str(term))


def to_rule_expr(
    e: sympy.Expr, *, digits: int | None = None, order: Sequence[sympy.Symbol] = ()
) -> Expr:
    """The rule-language AST of a sympy expression (for :func:`neurosym.lang.format_expr`).

    Args:
        e: a sympy expression of +, *, integer and rational powers, numbers, symbols and
            the functions of the rule language (sin, cos, exp, log, sqrt, abs, min, ...).
        digits: round floats to this many significant digits (default: exact).
        order: symbols that order the terms of a sum: by total degree, then the earlier
            symbols first (default: sympy's order).

    Raises:
        ConfigurationError: for anything else (named).
    """
    if isinstance(e, sympy.Symbol):
        name = e.name
        if not (name.isascii() and name.isidentifier()):
            raise ConfigurationError(f"the symbol {name!r} is not a rule-language name")
        return Var(name) if name[0].isupper() or name[0] == "_" else Const(name)
    if e.is_Number or e in (sympy.pi, sympy.E):
        return _number(e, digits)
    if isinstance(e, sympy.Add):
        terms = list(e.as_ordered_terms())
        if order:
            terms.sort(key=lambda t: _term_key(t.as_coeff_Mul()[1], order))
        out = to_rule_expr(terms[0], digits=digits)
        for t in terms[1:]:
            coeff, rest = t.as_coeff_Mul()
            if coeff.is_negative:
                out = BinOp("-", out, to_rule_expr(-coeff * rest, digits=digits))
            else:
                out = BinOp("+", out, to_rule_expr(t, digits=digits))
        return out
    if isinstance(e, sympy.Mul):
        coeff, rest = e.as_coeff_Mul()
        if coeff == -1:
            return Neg(to_rule_expr(rest, digits=digits))
        num, den = sympy.fraction(rest) if coeff == 1 else (rest, sympy.Integer(1))
        factors = [coeff] if coeff != 1 else []
        factors += list(sympy.Mul.make_args(num))
        node = to_rule_expr(factors[0], digits=digits)
        for f in factors[1:]:
            node = BinOp("*", node, to_rule_expr(f, digits=digits))
        if den != 1:
            node = BinOp("/", node, to_rule_expr(den, digits=digits))
        return node
    if isinstance(e, sympy.Pow):
        base, p = e.args
        if p == sympy.Rational(1, 2):
            return Call("sqrt", (to_rule_expr(base, digits=digits),))
        if p.is_Rational and p < 0:
            return BinOp("/", Number(1), to_rule_expr(base**-p, digits=digits))
        if p.is_Rational:
            return BinOp("^", to_rule_expr(base, digits=digits), _number(p, None))
        raise ConfigurationError(
            f"{e} has a non-rational exponent; the distilled equations use integer or "
            "rational powers only"
        )
    if e.func in _NAMES:
        return Call(_NAMES[e.func], tuple(to_rule_expr(a, digits=digits) for a in e.args))
    raise ConfigurationError(
        f"{e.func} in {e} has no rule-language spelling; supported: +, -, *, /, rational "
        f"powers, numbers, symbols and {', '.join(sorted(FUNCTIONS))}"
    )


def equation_parts(
    equations: Sequence[sympy.Eq],
) -> tuple[tuple[sympy.Symbol, ...], tuple[sympy.Expr, ...]]:
    """States and right-hand sides of ``Eq(der(x), rhs)`` equations.

    Raises:
        ConfigurationError: an equation whose left side is not ``der(symbol)``.
    """
    states, rhs = [], []
    for eq in equations:
        lhs = eq.lhs if isinstance(eq, sympy.Eq) else None
        if lhs is None or lhs.func != DER or not isinstance(lhs.args[0], sympy.Symbol):
            raise ConfigurationError(f"expected an equation Eq(der(x), rhs), got {eq!r}")
        states.append(lhs.args[0])
        rhs.append(eq.rhs)
    return tuple(states), tuple(rhs)


def rule_text(equations: Sequence[sympy.Eq], *, digits: int | None = None) -> str:
    """Rule-language text ``state ... . der(x) = ... .`` of ``Eq(der(x), rhs)`` equations.

    Symbols of the right-hand sides that are not states must be declared by the caller
    (e.g. as ``param``) for ``neurosym.parse(...).check()`` to pass.

    Example:
        >>> import sympy
        >>> x, v = sympy.symbols("x v")
        >>> print(rule_text([sympy.Eq(DER(x), v), sympy.Eq(DER(v), -x - 0.2 * v)]))
        state x, v.
        der(x) = v.
        der(v) = -x - 0.2 * v.

    Raises:
        ConfigurationError: a state whose name is not a lowercase rule-language name, or a
            right-hand side with no rule-language spelling (see :func:`to_rule_expr`).
    """
    states, rhs = equation_parts(equations)
    for s in states:
        if not _STATE_NAME.fullmatch(s.name):
            raise ConfigurationError(
                f"the state {s.name!r} is not a rule-language state name (a lowercase ASCII "
                "letter, then letters, digits and '_'); rename it, e.g. with sympy's subs"
            )
    lines = ["state " + ", ".join(s.name for s in states) + "."]
    for s, r in zip(states, rhs):
        text = format_expr(to_rule_expr(r, digits=digits, order=states))
        lines.append(f"der({s.name}) = {text}.")
    return "\n".join(lines)


def linearise(
    equations: Sequence[sympy.Eq], *, at: Mapping[str, float] | None = None
) -> sympy.Matrix:
    """The Jacobian of the right-hand sides at an equilibrium.

    Args:
        equations: ``Eq(der(x_i), f_i)``, one per state.
        at: the equilibrium, by state name (default: the origin).

    Returns:
        The ``(D, D)`` sympy matrix ``∂f_i/∂x_j`` at ``at``.

    Raises:
        ConfigurationError: ``at`` misses a state, or is not an equilibrium (the field is
            not ~0 there), or the right-hand sides use symbols other than the states.

    Example:
        >>> x, v = sympy.symbols("x v")
        >>> linearise([sympy.Eq(DER(x), v), sympy.Eq(DER(v), -4 * x - v)])
        Matrix([
        [ 0,  1],
        [-4, -1]])
    """
    states, rhs = equation_parts(equations)
    names = [s.name for s in states]
    point = dict.fromkeys(names, 0.0) if at is None else dict(at)
    if set(point) != set(names):
        raise ConfigurationError(
            f"at= must give a value for each state {names}, got {sorted(point)}"
        )
    other = {s.name for r in rhs for s in r.free_symbols} - set(names)
    if other:
        raise ConfigurationError(
            f"the right-hand sides use {', '.join(sorted(other))}, which are not states; "
            "substitute parameter values first"
        )
    subs = {s: sympy.Float(point[s.name]) for s in states}
    field = np.array([float(r.subs(subs)) for r in rhs])
    scale = max(1.0, max(abs(float(v)) for v in point.values()))
    if np.max(np.abs(field)) > 1e-6 * scale:
        raise ConfigurationError(
            f"{point} is not an equilibrium: the field there is {field.tolist()}; pass the "
            "equilibrium as at={...}"
        )
    jac = sympy.Matrix(rhs).jacobian(sympy.Matrix(states))
    return jac.subs(subs)


def damping_ratio(equations: Sequence[sympy.Eq], *, at: Mapping[str, float] | None = None) -> float:
    """The damping ratio ζ of the linearisation at an equilibrium.

    For two states, ζ = -tr J / (2 √det J), which for a complex pair λ equals -Re λ / |λ|
    and extends to the overdamped case (ζ > 1) through λ² + 2ζω λ + ω² = 0. For more
    states it is -Re λ / |λ| of the least damped complex pair.

    Example:
        >>> x, v = sympy.symbols("x v")
        >>> damping_ratio([sympy.Eq(DER(x), v), sympy.Eq(DER(v), -x - 0.2 * v)])
        0.1

    Raises:
        ConfigurationError: no oscillatory mode (det J <= 0 for two states, no complex
            pair otherwise), or the errors of :func:`linearise`.
    """
    jac = np.array(linearise(equations, at=at).evalf(), dtype=np.float64)
    if jac.shape == (2, 2):
        det = float(np.linalg.det(jac))
        if det <= 0:
            raise ConfigurationError(
                f"the linearisation has det J = {det:.3g} <= 0 (a saddle or degenerate "
                "point): no damping ratio"
            )
        return float(round(-np.trace(jac) / (2.0 * math.sqrt(det)), 15))
    lam = np.linalg.eigvals(jac)
    pairs = lam[lam.imag > 1e-12 * max(1.0, float(np.max(np.abs(lam))))]
    if pairs.size == 0:
        raise ConfigurationError(f"the eigenvalues {lam.tolist()} have no complex pair")
    least = pairs[np.argmax(pairs.real)]
    return float(-least.real / abs(least))
