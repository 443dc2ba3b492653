"""Variables of terms, expressions and bodies, for the safety analysis."""

from __future__ import annotations

from collections.abc import Iterator

from neurosym.errors import Span
from neurosym.lang import (
    Aggregate,
    Assign,
    BinOp,
    BodyItem,
    Call,
    Comparison,
    Der,
    Expr,
    ListTerm,
    Literal_,
    Neg,
    NnRef,
    Var,
)

__all__ = ["aggregates", "body_var_occurrences", "expr_vars", "occurrences", "subexpressions"]


def occurrences(e: Expr, *, into_aggregates: bool = True) -> Iterator[Var]:
    """Every variable occurrence in a term or expression, in textual order."""
    if isinstance(e, Var):
        yield e
    elif isinstance(e, ListTerm):
        item: Expr
        for item in e.items:
            yield from occurrences(item, into_aggregates=into_aggregates)
    elif isinstance(e, BinOp):
        yield from occurrences(e.left, into_aggregates=into_aggregates)
        yield from occurrences(e.right, into_aggregates=into_aggregates)
    elif isinstance(e, Neg):
        yield from occurrences(e.operand, into_aggregates=into_aggregates)
    elif isinstance(e, Call):
        for a in e.args:
            yield from occurrences(a, into_aggregates=into_aggregates)
    elif isinstance(e, Der):
        yield from occurrences(e.expr, into_aggregates=into_aggregates)
    elif isinstance(e, NnRef):
        for i in e.inputs or ():
            yield from occurrences(i, into_aggregates=into_aggregates)
    elif isinstance(e, Aggregate) and into_aggregates:
        for t in e.template:
            yield from occurrences(t)
        yield from body_var_occurrences(e.body)


def body_var_occurrences(body: tuple[BodyItem, ...]) -> Iterator[Var]:
    """Every variable occurrence in a body, aggregates included."""
    for item in body:
        if isinstance(item, Literal_):
            for a in item.atom.args:
                yield from occurrences(a)
        elif isinstance(item, Comparison):
            yield from occurrences(item.left)
            yield from occurrences(item.right)
        elif isinstance(item, Assign):
            yield item.var
            yield from occurrences(item.expr)


def expr_vars(e: Expr, *, into_aggregates: bool = False) -> dict[str, Span | None]:
    """Named (non-anonymous) variables of an expression with their first span."""
    out: dict[str, Span | None] = {}
    for v in occurrences(e, into_aggregates=into_aggregates):
        if not v.anonymous:
            out.setdefault(v.name, v.span)
    return out


def aggregates(e: Expr) -> Iterator[Aggregate]:
    """The aggregates inside an arithmetic expression (not nested inside one another)."""
    if isinstance(e, Aggregate):
        yield e
    elif isinstance(e, BinOp):
        yield from aggregates(e.left)
        yield from aggregates(e.right)
    elif isinstance(e, Neg):
        yield from aggregates(e.operand)
    elif isinstance(e, Call):
        for a in e.args:
            yield from aggregates(a)
    elif isinstance(e, Der):
        yield from aggregates(e.expr)


def subexpressions(e: Expr) -> Iterator[Expr]:
    """``e`` and every expression inside it, pre-order (into aggregates' templates and the
    arithmetic of their bodies): the one walk the analyses filter by node type."""
    stack: list[Expr] = [e]
    while stack:
        x = stack.pop()
        yield x
        children: list[Expr] = []
        if isinstance(x, BinOp):
            children = [x.left, x.right]
        elif isinstance(x, Neg):
            children = [x.operand]
        elif isinstance(x, Call):
            children = list(x.args)
        elif isinstance(x, Der):
            children = [x.expr]
        elif isinstance(x, NnRef):
            children = list(x.inputs or ())
        elif isinstance(x, ListTerm):
            children = list(x.items)
        elif isinstance(x, Aggregate):
            children = list(x.template)
            for item in x.body:
                if isinstance(item, Assign):
                    children.append(item.expr)
                elif isinstance(item, Comparison):
                    children.extend((item.left, item.right))
        stack.extend(reversed(children))
