"""Laws on dynamics as margins: ``law name: [if conds then] relation.`` compiled to sympy and
then to torch, evaluated on states and on the vector field at those states.

A law holds at a state where its *margin* is non-negative: ``a <= b`` has margin ``b - a``,
``a >= b`` has ``a - b``, ``a == b`` has ``-|a - b|``. ``der(e)`` is the time derivative of
``e`` along the field, by the chain rule: ``Σ_i ∂e/∂x_i · f_i(x)``. An if-then law binds only
where every condition holds (condition margins > 0, or >= 0 for non-strict ones).

Each law is one of four *kinds*, which decide how it can be made hard (always true by
construction) instead of a penalty:

===============  =====================================  ====================================
kind             form                                   hard guarantee
===============  =====================================  ====================================
``bound``        ``x >= c`` / ``x <= c`` on a state or  reparametrisation: the solver works
                 a param, ``c`` free of states          in ``u = log(±(x − c))``
``rate``         ``[if …] then der(x) <= c`` / ``>=``   the field's component is clamped
``dissipation``  ``der(E) <= 0`` (or ``>= 0``)          the field is projected onto the half
                                                        space where ``∇E · f <= 0``
``general``      anything else                          none: a penalty only
===============  =====================================  ====================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, final

import sympy
import torch
from torch import Tensor

from neurosym.errors import ConfigurationError
from neurosym.lang import Comparison, Law, format_statement
from neurosym.lang._sympy import DER, to_sympy

from ._torchify import TorchExpr

__all__ = ["CompiledLaw", "LawKind", "compile_law", "field_symbol"]

LawKind = Literal["bound", "rate", "dissipation", "general"]


def field_symbol(state: str) -> sympy.Symbol:
    """The symbol standing for ``f_state``, the field's component of a state, in margins."""
    return sympy.Symbol(f"der__{state}")


@final
@dataclass(frozen=True, eq=False)
class CompiledLaw:
    """A law as margins over states, params and field values.

    Attributes:
        name: the law's name.
        text: the law as written in the rule language.
        margin: sympy margin of the relation (holds where ``>= 0``; ``> 0`` when strict).
        strict: the relation is ``<`` or ``>``.
        conditions: sympy margins of the if-conditions and their strictness.
        kind: see the module docstring.
        target: for ``bound``/``rate`` laws, the state (or param) bounded; for
            ``dissipation``, ``""``.
        sense: ``+1`` for a lower bound (``x >= c``, ``der(E) >= 0``), ``-1`` for an upper one.
        limit: for ``bound``/``rate`` laws, the sympy bound ``c``; for ``dissipation`` the
            energy ``E``.
    """

    name: str
    text: str
    margin: sympy.Expr
    strict: bool
    conditions: tuple[tuple[sympy.Expr, bool], ...]
    kind: LawKind
    target: str
    sense: int
    limit: sympy.Expr | None
    _margin_fn: TorchExpr
    _condition_fns: tuple[tuple[TorchExpr, bool], ...]

    def evaluate(self, values: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Margin and mask of where the law binds (its conditions hold), broadcast together.

        ``values`` names every state, param and field symbol (:func:`field_symbol`).
        """
        margin = self._margin_fn(values)
        active = torch.ones_like(margin, dtype=torch.bool)
        for fn, strict in self._condition_fns:
            c = fn(values)
            active = active & ((c > 0) if strict else (c >= 0))
        return margin, active

    def violation(self, values: Mapping[str, Tensor]) -> Tensor:
        """How much the law is violated where it binds: ``relu(-margin)``, 0 elsewhere."""
        margin, active = self.evaluate(values)
        return torch.where(active, torch.relu(-margin), torch.zeros_like(margin))


def _margin(c: Comparison, symbols: Mapping[str, sympy.Symbol]) -> tuple[sympy.Expr, bool]:
    left, right = to_sympy(c.left, symbols=symbols), to_sympy(c.right, symbols=symbols)
    if c.op in ("<", "<="):
        return right - left, c.op == "<"
    if c.op in (">", ">="):
        return left - right, c.op == ">"
    if c.op == "==":
        return -sympy.Abs(left - right), False
    return sympy.Abs(left - right), True


def _chain_rule(e: sympy.Expr, states: Sequence[sympy.Symbol]) -> sympy.Expr:
    def der(arg: sympy.Expr) -> sympy.Expr:
        if arg.has(DER):
            raise ConfigurationError(f"der(...) inside der(...) is not supported: der({arg})")
        return sympy.Add(*(sympy.diff(arg, x) * field_symbol(x.name) for x in states))

    return e.replace(
        lambda a: isinstance(a, sympy.Expr) and a.func == DER, lambda a: der(a.args[0])
    )


def compile_law(law: Law, *, states: Sequence[str], params: Sequence[str]) -> CompiledLaw:
    """Compile a law of a knowledge base.

    Raises:
        ConfigurationError: a symbol that is neither a state nor a param (named), nested
            ``der``, or a function with no torch counterpart.
    """
    table = {n: sympy.Symbol(n) for n in (*states, *params)}
    state_syms = [table[s] for s in states]
    raw, strict = _margin(law.relation, table)
    margin = _chain_rule(raw, state_syms)
    conds = tuple(
        (_chain_rule(m, state_syms), s) for m, s in (_margin(c, table) for c in law.conditions)
    )
    allowed = set(table) | {field_symbol(s).name for s in states}
    for expr in (margin, *(m for m, _ in conds)):
        unknown = sorted(s.name for s in expr.free_symbols if s.name not in allowed)
        if unknown:
            raise ConfigurationError(
                f"law {law.name}: {', '.join(unknown)} is neither a state nor a param; "
                f"states: {', '.join(states) or 'none'}; params: {', '.join(params) or 'none'}"
            )
    kind, target, sense, limit = _classify(law, table, states, params)
    return CompiledLaw(
        name=law.name,
        text=format_statement(law),
        margin=margin,
        strict=strict,
        conditions=conds,
        kind=kind,
        target=target,
        sense=sense,
        limit=limit,
        _margin_fn=TorchExpr(margin),
        _condition_fns=tuple((TorchExpr(m), s) for m, s in conds),
    )


def _classify(
    law: Law, table: Mapping[str, sympy.Symbol], states: Sequence[str], params: Sequence[str]
) -> tuple[LawKind, str, int, sympy.Expr | None]:
    rel = law.relation
    if rel.op in ("==", "!="):
        return "general", "", 0, None
    left, right = to_sympy(rel.left, symbols=table), to_sympy(rel.right, symbols=table)
    sense = 1 if rel.op in (">", ">=") else -1
    state_set = {table[s] for s in states}
    # Put the interesting side on the left: "0 <= x" reads as "x >= 0".
    if not (isinstance(left, sympy.Symbol) or left.func == DER) and (
        isinstance(right, sympy.Symbol) or right.func == DER
    ):
        left, right, sense = right, left, -sense
    if right.free_symbols & state_set or right.has(DER):
        return "general", "", 0, None
    is_bound_target = isinstance(left, sympy.Symbol) and (
        left.name in states or (left.name in params and not right.free_symbols)
    )
    if isinstance(left, sympy.Symbol) and not law.conditions and is_bound_target:
        return "bound", left.name, sense, right
    if left.func == DER:
        inner = left.args[0]
        if isinstance(inner, sympy.Symbol) and inner.name in states:
            return "rate", inner.name, sense, right
        if right == 0 and not law.conditions and not inner.has(DER) and rel.op not in ("<", ">"):
            return "dissipation", "", sense, inner
    return "general", "", 0, None
