"""Range restriction: every variable must be bound by a positive literal before use.

A variable is *bound* by a positive body literal, by ``X is expr`` once every variable of
``expr`` is bound, and by ``X == expr`` in the same way. Head variables, variables under
``not`` (``_`` excepted: ``not parent(P, _)`` means "has no child"), variables of
comparisons, and variables on the right of ``is`` must all be bound; otherwise the rule
would range over an infinite or undefined set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from neurosym.errors import Severity, Span
from neurosym.lang import (
    Assign,
    Atom,
    BodyItem,
    Comparison,
    Expr,
    Literal_,
    Var,
)

from ._vars import aggregates, body_var_occurrences, expr_vars, occurrences

__all__ = ["Finding", "body_safety", "singletons"]

# (code, message, span, severity, hint)
Finding = tuple[str, str, "Span | None", Severity, "str | None"]


def _positive_vars(body: tuple[BodyItem, ...]) -> set[str]:
    out: set[str] = set()
    for item in body:
        if isinstance(item, Literal_) and not item.negated:
            for a in item.atom.args:
                out.update(v.name for v in occurrences(a) if not v.anonymous)
    return out


def _closure(body: tuple[BodyItem, ...], bound: set[str]) -> set[str]:
    """Grow ``bound`` with what ``is`` and ``==`` bind, to a fixpoint."""
    bound = set(bound)
    changed = True
    while changed:
        changed = False
        for item in body:
            target: Var | None = None
            expr: Expr | None = None
            if isinstance(item, Assign):
                target, expr = item.var, item.expr
            elif isinstance(item, Comparison) and item.op == "==":
                if isinstance(item.left, Var) and item.left.name not in bound:
                    target, expr = item.left, item.right
                elif isinstance(item.right, Var) and item.right.name not in bound:
                    target, expr = item.right, item.left
            if target is None or expr is None or target.name in bound:
                continue
            if set(expr_vars(expr)) <= bound:
                bound.add(target.name)
                changed = True
    return bound


def body_safety(
    body: tuple[BodyItem, ...],
    *,
    outer: set[str] | None = None,
    head: Atom | None = None,
    what: str = "rule",
) -> tuple[set[str], list[Finding]]:
    """Check a body (and the head it must bind); return the bound variables and findings."""
    findings: list[Finding] = []
    bound = _closure(body, _positive_vars(body) | (outer or set()))
    for item in body:
        if isinstance(item, Literal_) and item.negated:
            for a in item.atom.args:
                for v in occurrences(a):
                    if not v.anonymous and v.name not in bound:
                        findings.append(_unsafe(v, f"under 'not' in this {what}", item.atom))
        elif isinstance(item, Comparison):
            for e in (item.left, item.right):
                for name, span in expr_vars(e).items():
                    if name not in bound:
                        findings.append(_unsafe_name(name, span, f"in a comparison in this {what}"))
                findings.extend(_aggregate_safety(e, bound, what))
        elif isinstance(item, Assign):
            for name, span in expr_vars(item.expr).items():
                if name not in bound:
                    findings.append(
                        _unsafe_name(name, span, f"on the right of 'is' in this {what}")
                    )
            findings.extend(_aggregate_safety(item.expr, bound, what))
    # A variable that an `is` would bind is reported there (its right side), not again here.
    assigned = {item.var.name for item in body if isinstance(item, Assign)}
    if head is not None:
        for a in head.args:
            for v in occurrences(a):
                if v.anonymous:
                    findings.append(
                        ("unsafe-variable", "'_' cannot appear in a head: it would match anything",
                         v.span, Severity.ERROR, "name the value, or drop the argument")
                    )  # fmt: skip
                elif v.name not in bound and v.name not in assigned:
                    findings.append(_unsafe(v, f"in the head of this {what}", None))
    return bound, findings


def _aggregate_safety(e: Expr, bound: set[str], what: str) -> Iterator[Finding]:
    for agg in aggregates(e):
        inner_bound, inner = body_safety(agg.body, outer=bound, what="aggregate")
        yield from inner
        for t in agg.template:
            for name, span in expr_vars(t).items():
                if name not in inner_bound:
                    yield (
                        "unsafe-variable",
                        f"variable {name} of the aggregate's template does not occur in its body",
                        span,
                        Severity.ERROR,
                        f"write e.g. {agg.op} {{ {name} : p(..., {name}) }}",
                    )


def _unsafe(v: Var, where: str, atom: Atom | None) -> Finding:
    return _unsafe_name(v.name, v.span, where)


def _unsafe_name(name: str, span: Span | None, where: str) -> Finding:
    return (
        "unsafe-variable",
        f"variable {name} {where} is not bound by a positive literal",
        span,
        Severity.ERROR,
        f"add a positive goal that binds {name} (e.g. p(..., {name})) before it is used",
    )


def singletons(head: Atom | None, body: tuple[BodyItem, ...]) -> Iterator[Finding]:
    """Variables that occur once in a clause: usually a typo (write ``_X`` if meant)."""
    occ: list[Var] = []
    if head is not None:
        for a in head.args:
            occ.extend(occurrences(a))
    occ.extend(body_var_occurrences(body))
    counts = Counter(v.name for v in occ)
    for v in occ:
        if counts[v.name] == 1 and not v.name.startswith("_"):
            yield (
                "singleton-variable",
                f"variable {v.name} occurs only once in this clause",
                v.span,
                Severity.WARNING,
                f"if that is intended, write _ or _{v.name}",
            )
