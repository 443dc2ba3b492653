"""The typed, immutable syntax tree of a ``.rules`` text.

Every node is a frozen, slotted dataclass and carries the :class:`~neurosym.errors.Span`
it was parsed from. Spans take no part in equality or hashing, so two trees that say the
same thing compare equal wherever they came from; this is what makes
``parse(print(ast)) == ast`` a meaningful property.

Terms (arguments of atoms): :class:`Var`, :class:`Const`, :class:`Number`,
:class:`String`, :class:`ListTerm`. Arithmetic (comparisons, ``is``, dynamics) adds
:class:`BinOp`, :class:`Neg`, :class:`Call`, :class:`Der`, :class:`NnRef` and
:class:`Aggregate` on top of the terms.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from neurosym.errors import Span

__all__ = [
    "AGGREGATE_OPS",
    "COMPARISON_OPS",
    "FUNCTION_NAMES",
    "Aggregate",
    "Assign",
    "Atom",
    "BinOp",
    "BodyItem",
    "Call",
    "Comparison",
    "Const",
    "Constraint",
    "Der",
    "Derivative",
    "DynamicDecl",
    "Expr",
    "Fact",
    "FixedWeight",
    "Include",
    "Law",
    "LearnableWeight",
    "ListTerm",
    "Literal_",
    "Neg",
    "NeuralDecl",
    "NnRef",
    "Number",
    "ParamDecl",
    "Program",
    "Query",
    "Rule",
    "StateDecl",
    "Statement",
    "String",
    "Term",
    "Var",
    "Weight",
]

AggregateOp: TypeAlias = Literal["count", "sum", "min", "max", "mean"]
ComparisonOp: TypeAlias = Literal["<", "<=", ">", ">=", "==", "!="]
ArithOp: TypeAlias = Literal["+", "-", "*", "/", "^"]

AGGREGATE_OPS: frozenset[str] = frozenset({"count", "sum", "min", "max", "mean"})
COMPARISON_OPS: frozenset[str] = frozenset({"<", "<=", ">", ">=", "==", "!="})
FUNCTION_NAMES: frozenset[str] = frozenset(
    {"sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log",
     "sqrt", "abs", "sign", "min", "max"}
)  # fmt: skip
"""The functions arithmetic may call (see :data:`neurosym.lang.FUNCTIONS`)."""
ARITH_OPS: frozenset[str] = frozenset({"+", "-", "*", "/", "^"})


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _check_name(kind: str, name: str, *, upper: bool) -> None:
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ValueError(
            f"{kind} name must be ASCII letters, digits and '_', starting with a letter "
            f"or '_', got {name!r}"
        )
    first = name[0]
    if upper and not (first.isupper() or first == "_"):
        raise ValueError(f"a variable starts with an uppercase letter or '_', got {name!r}")
    if not upper and not first.islower():
        raise ValueError(f"a {kind} starts with a lowercase letter, got {name!r}")


# ---------------------------------------------------------------------------- terms


@dataclass(frozen=True, slots=True)
class Var:
    """A logic variable, ``X`` or ``_tmp``; ``_`` alone is anonymous."""

    name: str
    span: Span | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_name("variable", self.name, upper=True)

    @property
    def anonymous(self) -> bool:
        return self.name == "_"


@dataclass(frozen=True, slots=True)
class Const:
    """A symbolic constant (``tiger``); in dynamics, the name of a state or parameter."""

    name: str
    span: Span | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_name("constant", self.name, upper=False)


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric literal; ``int`` stays ``int`` so ``3`` and ``3.0`` print as written."""

    value: int | float
    span: Span | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise TypeError(f"Number holds an int or float, got {type(self.value).__name__}")
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise ValueError(f"a number literal must be finite, got {self.value!r}")


@dataclass(frozen=True, slots=True)
class String:
    """A double-quoted string literal (the value, with escapes already decoded)."""

    value: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ListTerm:
    """A list ``[a, 1, X]`` of terms."""

    items: tuple[Term, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


Term: TypeAlias = "Var | Const | Number | String | ListTerm"

# ------------------------------------------------------------------------ arithmetic


@dataclass(frozen=True, slots=True)
class BinOp:
    """``left op right`` for ``+ - * / ^``."""

    op: ArithOp
    left: Expr
    right: Expr
    span: Span | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in ARITH_OPS:
            raise ValueError(f"unknown arithmetic operator {self.op!r}")


@dataclass(frozen=True, slots=True)
class Neg:
    """Unary minus of anything but a number literal (``-3`` is ``Number(-3)``)."""

    operand: Expr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Call:
    """A function in arithmetic: ``sqrt(X)``, ``exp(-k*t)``."""

    func: str
    args: tuple[Expr, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Der:
    """``der(expr)``: the time derivative of an expression (in laws)."""

    expr: Expr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class NnRef:
    """``nn(net)`` or ``nn(net, [x, v])`` inside a ``der`` right-hand side: a learned term."""

    net: str
    inputs: tuple[Expr, ...] | None = None
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Aggregate:
    """``count { C : parent(P, C) }``: an aggregate over the solutions of a body."""

    op: AggregateOp
    template: tuple[Expr, ...]
    body: tuple[BodyItem, ...]
    span: Span | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in AGGREGATE_OPS:
            raise ValueError(f"unknown aggregate {self.op!r}")
        if not self.body:
            raise ValueError("an aggregate needs a body")


Expr: TypeAlias = "Term | BinOp | Neg | Call | Der | NnRef | Aggregate"

# --------------------------------------------------------------------------- literals


@dataclass(frozen=True, slots=True)
class Atom:
    """``predicate(arg, ...)``; zero arguments for propositions such as ``raining``."""

    predicate: str
    args: tuple[Term, ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_name("predicate", self.predicate, upper=False)

    @property
    def arity(self) -> int:
        return len(self.args)

    @property
    def key(self) -> tuple[str, int]:
        """``(predicate, arity)``: predicates with different arities are different."""
        return (self.predicate, len(self.args))


@dataclass(frozen=True, slots=True)
class Literal_:
    """A body atom, possibly under stratified negation (``not penguin(X)``)."""

    atom: Atom
    negated: bool = False
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Comparison:
    """``left op right`` with ``< <= > >= == !=``."""

    op: ComparisonOp
    left: Expr
    right: Expr
    span: Span | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in COMPARISON_OPS:
            raise ValueError(f"unknown comparison {self.op!r}")


@dataclass(frozen=True, slots=True)
class Assign:
    """``Var is expr``: bind a variable to the value of an arithmetic expression."""

    var: Var
    expr: Expr
    span: Span | None = field(default=None, compare=False, repr=False)


BodyItem: TypeAlias = "Literal_ | Comparison | Assign"

# ---------------------------------------------------------------------------- weights


@dataclass(frozen=True, slots=True)
class FixedWeight:
    """``0.9 :: ...``: a fixed weight (probability, certainty factor or truth degree)."""

    value: float
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class LearnableWeight:
    """``t(0.5) :: ...``: a weight to be learned, starting at ``initial``."""

    initial: float
    span: Span | None = field(default=None, compare=False, repr=False)


Weight: TypeAlias = "FixedWeight | LearnableWeight"

# ------------------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Include:
    """``include "common.rules".`` (resolved relative to the including file)."""

    path: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Fact:
    """A fact, possibly weighted: ``0.9 :: eats_meat(tiger).``"""

    atom: Atom
    weight: Weight | None = None
    name: str | None = None
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Rule:
    """``head :- body.`` (or ``if body then head with w.``), possibly named and weighted.

    ``spelling`` records which of the two surface forms was written, so the printer can
    give it back; it has no effect on meaning.
    """

    head: Atom
    body: tuple[BodyItem, ...]
    weight: Weight | None = None
    name: str | None = None
    spelling: Literal["prolog", "expert"] = "prolog"
    span: Span | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.body:
            raise ValueError("a rule needs a body; write a fact instead")


@dataclass(frozen=True, slots=True)
class NeuralDecl:
    """``nn(net, [X], D, [0, 1]) :: digit(X, D).``: a neural predicate."""

    net: str
    inputs: tuple[Term, ...]
    output: Term
    domain: tuple[Term, ...]
    head: Atom
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Constraint:
    """``:- body.``: an integrity constraint; the body must never hold."""

    body: tuple[BodyItem, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Query:
    """``?- body.``"""

    body: tuple[BodyItem, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class StateDecl:
    """``state x, v.``: state variables of the dynamics."""

    names: tuple[str, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class DynamicDecl:
    """``dynamic symptom/2, observed/1.``: predicates whose facts come and go at run time
    (asserted and retracted), defined even while they have no facts."""

    predicates: tuple[tuple[str, int], ...]
    span: Span | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, arity in self.predicates:
            _check_name("predicate", name, upper=False)
            if isinstance(arity, bool) or not isinstance(arity, int) or arity < 0:
                raise ValueError(f"the arity of {name} must be a non-negative int, got {arity!r}")


@dataclass(frozen=True, slots=True)
class ParamDecl:
    """``param k = 1.0.`` or ``param k = t(1.0).`` (learnable)."""

    name: str
    value: float
    learnable: bool = False
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Derivative:
    """``der(x) = expr.``: the known part of the vector field of state ``x``."""

    state: str
    expr: Expr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Law:
    """``law name: [if conds then] relation.``: a law the learned dynamics must obey."""

    name: str
    relation: Comparison
    conditions: tuple[Comparison, ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)


Statement: TypeAlias = (
    "Include | Fact | Rule | NeuralDecl | Constraint | Query | StateDecl | DynamicDecl | ParamDecl"
    " | Derivative | Law"
)


@dataclass(frozen=True, slots=True)
class Program:
    """A parsed file: its statements in order, and the file name used in spans."""

    statements: tuple[Statement, ...]
    file: str = field(default="<string>", compare=False)
