"""The language layer: spans, sympy construction, goals, printer precedence, errors."""

from __future__ import annotations

import pytest
import sympy

import neurosym as ns
from neurosym.lang import (
    FUNCTION_NAMES,
    FUNCTIONS,
    Atom,
    BinOp,
    Const,
    Fact,
    Literal_,
    Neg,
    Number,
    Var,
    format_expr,
    parse_body_text,
    parse_expr_text,
    parse_text,
    to_sympy,
)


def test_spans_point_at_the_source() -> None:
    prog = parse_text("p(a).\n  q(X) :-\n     p(X).\n", file="s.rules")
    rule = prog.statements[1]
    assert rule.span is not None
    assert (rule.span.line, rule.span.column, rule.span.end_line) == (2, 3, 3)
    body = rule.body[0]  # type: ignore[union-attr]
    assert body.span is not None and (body.span.line, body.span.column) == (3, 6)
    assert body.span.file == "s.rules"


def test_equality_ignores_spans() -> None:
    assert parse_text("p(a).") == parse_text("\n\n   p( a ) .")
    assert Fact(Atom("p", (Const("a"),))) in {parse_text("p(a).").statements[0]}


def test_ast_validates_its_fields() -> None:
    with pytest.raises(ValueError, match="uppercase"):
        Var("x")
    with pytest.raises(ValueError, match="lowercase"):
        Atom("P")
    with pytest.raises(ValueError, match="finite"):
        Number(float("nan"))
    with pytest.raises(ValueError, match="unknown arithmetic operator"):
        BinOp("%", Number(1), Number(2))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("W / H^2", sympy.Symbol("W") / sympy.Symbol("H") ** 2),
        (
            "-k * x - c * v",
            -sympy.Symbol("k") * sympy.Symbol("x") - sympy.Symbol("c") * sympy.Symbol("v"),
        ),
        ("2^3^2", sympy.Integer(2) ** 9),  # right associative: 2^(3^2)
        ("(1 - 2) - 3", sympy.Integer(-4)),  # left associative
        ("sqrt(X) + exp(0)", sympy.sqrt(sympy.Symbol("X")) + 1),
        ("0.5 * v^2", sympy.Float(0.5) * sympy.Symbol("v") ** 2),
    ],
    ids=["bmi", "damping", "pow-right-assoc", "minus-left-assoc", "functions", "float"],
)
def test_arithmetic_becomes_sympy_by_construction(text: str, expected: sympy.Expr) -> None:
    assert sympy.simplify(to_sympy(parse_expr_text(text)) - expected) == 0


def test_sympy_function_table_is_the_whitelist() -> None:
    assert set(FUNCTIONS) == FUNCTION_NAMES
    with pytest.raises(ns.ConfigurationError, match="unknown function 'system'"):
        to_sympy(parse_expr_text('system("ls")'))


def test_negative_literals_and_parenthesised_negation() -> None:
    assert parse_expr_text("-3") == Number(-3)
    assert parse_expr_text("-(3)") == Neg(Number(3))
    assert parse_expr_text("(-3)^2") == BinOp("^", Number(-3), Number(2))
    assert format_expr(BinOp("^", Number(-3), Number(2))) == "(-3)^2"
    assert format_expr(BinOp("-", Var("X"), BinOp("-", Var("Y"), Var("Z")))) == "X - (Y - Z)"


def test_goals() -> None:
    lit, comp = parse_body_text("carnivore(X), X != tiger.")
    assert lit == Literal_(Atom("carnivore", (Var("X"),)))
    assert comp.op == "!="  # type: ignore[union-attr]
    with pytest.raises(ns.RuleSyntaxError, match="<goal>:1:"):
        parse_body_text("carnivore(X")


def test_rule_syntax_error_is_a_syntax_error() -> None:
    with pytest.raises(SyntaxError) as info:
        parse_text("p(a)\nq(b).", file="f.rules")
    err = info.value
    assert isinstance(err, ns.RuleSyntaxError)
    assert (err.filename, err.lineno, err.offset) == ("f.rules", 1, 5)
    assert str(err).splitlines()[0] == "f.rules:1:5: error: missing '.' at the end of the statement"


def test_non_string_input_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="takes the rule text as str"):
        parse_text(b"p.")  # type: ignore[arg-type]
