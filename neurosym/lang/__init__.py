"""The rule language: grammar, typed AST, parser, printer, diagnostics, sympy arithmetic.

Example:
    >>> from neurosym.lang import parse_text, format_program
    >>> print(format_program(parse_text("mammal(X):-has_hair(X).")), end="")
    mammal(X) :- has_hair(X).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._ast import (
    AGGREGATE_OPS,
    COMPARISON_OPS,
    FUNCTION_NAMES,
    Aggregate,
    Assign,
    Atom,
    BinOp,
    BodyItem,
    Call,
    Comparison,
    Const,
    Constraint,
    Der,
    Derivative,
    DynamicDecl,
    Expr,
    Fact,
    FixedWeight,
    Include,
    Law,
    LearnableWeight,
    ListTerm,
    Literal_,
    Neg,
    NeuralDecl,
    NnRef,
    Number,
    ParamDecl,
    Program,
    Query,
    Rule,
    StateDecl,
    Statement,
    String,
    Term,
    Var,
    Weight,
)
from ._diagnostics import TERMINAL_WORDS
from ._format import format_source
from ._parser import parse_body_text, parse_expr_text, parse_text
from ._printer import format_atom, format_body_item, format_expr, format_program, format_statement

if TYPE_CHECKING:
    from ._sympy import FUNCTIONS, to_sympy

__all__ = [
    "AGGREGATE_OPS",
    "COMPARISON_OPS",
    "FUNCTIONS",
    "FUNCTION_NAMES",
    "TERMINAL_WORDS",
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
    "format_atom",
    "format_body_item",
    "format_expr",
    "format_program",
    "format_source",
    "format_statement",
    "parse_body_text",
    "parse_expr_text",
    "parse_text",
    "to_sympy",
]


def __getattr__(name: str) -> Any:
    # sympy takes a third of a second to import; load it only when arithmetic is converted,
    # so that `neurosym check` starts fast.
    if name in {"FUNCTIONS", "to_sympy"}:
        from . import _sympy

        return getattr(_sympy, name)
    raise AttributeError(f"module 'neurosym.lang' has no attribute {name!r}")
