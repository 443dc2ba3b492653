"""``parse(print(ast)) == ast``: the printer and the parser are inverse on every tree."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import exprs, programs, statements

from neurosym.lang import (
    Aggregate,
    Assign,
    BinOp,
    Const,
    Constraint,
    Der,
    Derivative,
    Expr,
    Fact,
    FixedWeight,
    Include,
    Law,
    LearnableWeight,
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
    Var,
    format_expr,
    format_program,
    format_statement,
    parse_expr_text,
    parse_text,
)

ROUNDTRIP = settings(max_examples=300, deadline=None)

# The language section of DESIGN.md, verbatim.
DESIGN_EXAMPLE = """\
% comments start with % or #
include "common.rules".

% facts; a lowercase name is a constant or predicate, Uppercase or _ starts a variable
has_hair(tiger).
temperature(ann, 39.2).
name(ann, "Ann Smith").
raining.

% weighted facts and rules: W :: ...  (W in [0,1]; certainty-factor semantics allows [-1,1])
0.9 :: eats_meat(tiger).

% rules: head :- body.   Body items are joined by "," ; "not" is stratified negation
mammal(X) :- has_hair(X).
carnivore(X) :- mammal(X), eats_meat(X).
flies(X) :- bird(X), not penguin(X).

% named rules (names appear in explanations; unnamed ones get file:line)
rule fever: 0.8 :: fever(P) :- temperature(P, T), T > 38.0.

% the same rule in expert-system spelling
rule fever2: if temperature(P, T) and T > 38.0 then fever(P) with 0.8.

% arithmetic: comparisons  < <= > >= == !=  and assignment with "is"
bmi(P, B) :- weight(P, W), height(P, H), B is W / H^2.

% aggregates: count, sum, min, max, mean. count and sum over no solutions are 0;
% min, max and mean over no solutions give no answer
children(P, N) :- person(P), N is count { C : parent(P, C) }.

% learnable weight (initial value 0.5), and a neural predicate whose probabilities
% come from a torch module registered under the name digit_net
t(0.5) :: likes(X, Y) :- friend(X, Y).
nn(digit_net, [Img], D, [0,1,2,3,4,5,6,7,8,9]) :: digit(Img, D).

% integrity constraint: this body must never hold
:- fever(P), hypothermia(P).

% queries
?- carnivore(X).

% dynamics: state variables, parameters, known terms and laws on learned dynamics
state x, v.
param k = 1.0.
der(x) = v.                        % known part of the vector field
der(v) = -k * x + nn(force_net).   % known part plus a learned part
law dissipative: der(0.5*v^2 + 0.5*k*x^2) <= 0.
law bounded: x >= -10.
"""


def _assert_roundtrip(program: Program) -> str:
    text = format_program(program)
    back = parse_text(text)
    assert back == program, text
    # repr shows what == forgives: 3 vs 3.0 (spans are repr=False, so they do not count).
    assert repr(back) == repr(program), text
    assert format_program(back) == text
    return text


@ROUNDTRIP
@given(programs)
def test_print_then_parse_gives_the_same_tree(program: Program) -> None:
    _assert_roundtrip(program)


@ROUNDTRIP
@given(programs)
def test_formatting_is_idempotent(program: Program) -> None:
    once = format_program(program)
    assert format_program(parse_text(once)) == once


@settings(max_examples=200, deadline=None)
@given(exprs(dynamics=True))
def test_expressions_roundtrip_alone(expr: Expr) -> None:
    text = format_expr(expr)
    assert parse_expr_text(text) == expr, text


@settings(max_examples=100, deadline=None)
@given(st.lists(statements, min_size=1, max_size=3), st.sampled_from(["", "\n\n", "  % c\n"]))
def test_layout_and_comments_do_not_change_the_tree(stmts: list[object], separator: str) -> None:
    program = Program(tuple(stmts))  # type: ignore[arg-type]
    text = separator.join(format_statement(s) for s in program.statements)
    assert parse_text(text) == program, text


def test_design_example_parses_into_every_construct() -> None:
    program = parse_text(DESIGN_EXAMPLE, file="design.rules")
    kinds = {type(s) for s in program.statements}
    assert kinds == {
        Include,
        Fact,
        Rule,
        NeuralDecl,
        Constraint,
        Query,
        StateDecl,
        ParamDecl,
        Derivative,
        Law,
    }
    assert len(program.statements) == 23
    assert program.statements[0] == Include("common.rules")
    assert all(s.span is not None and s.span.file == "design.rules" for s in program.statements)


def test_design_example_roundtrips() -> None:
    program = parse_text(DESIGN_EXAMPLE)
    text = _assert_roundtrip(program)
    assert "%" not in text  # comments are not part of the tree


def _by_text(source: str) -> object:
    (statement,) = parse_text(source).statements
    return statement


@pytest.mark.parametrize(
    ("source", "check"),
    [
        pytest.param(
            "rule fever: 0.8 :: fever(P) :- temperature(P, T), T > 38.0.",
            lambda s: s.name == "fever" and s.weight == FixedWeight(0.8) and s.spelling == "prolog",
            id="named-weighted-prolog-rule",
        ),
        pytest.param(
            "rule fever2: if temperature(P, T) and T > 38.0 then fever(P) with 0.8.",
            lambda s: s.name == "fever2" and s.spelling == "expert" and len(s.body) == 2,
            id="named-expert-rule",
        ),
        pytest.param(
            "if p then q.",
            lambda s: isinstance(s, Rule) and s.weight is None and s.spelling == "expert",
            id="unweighted-expert-rule",
        ),
        pytest.param(
            "t(0.5) :: likes(X, Y) :- friend(X, Y).",
            lambda s: s.weight == LearnableWeight(0.5),
            id="learnable-rule",
        ),
        pytest.param(
            "rule r: t(2) :: p.",
            lambda s: isinstance(s, Fact) and s.name == "r" and s.weight == LearnableWeight(2.0),
            id="named-learnable-fact",
        ),
        pytest.param(
            "-0.5 :: p(a).",
            lambda s: s.weight == FixedWeight(-0.5),
            id="negative-weight",
        ),
        pytest.param(
            "flies(X) :- bird(X), not penguin(X).",
            lambda s: s.body[1] == Literal_(s.body[1].atom, negated=True),
            id="negation",
        ),
        pytest.param(
            "children(P, N) :- person(P), N is count { C : parent(P, C) }.",
            lambda s: isinstance(s.body[1], Assign) and isinstance(s.body[1].expr, Aggregate),
            id="aggregate",
        ),
        pytest.param(
            "param k = 2.",
            lambda s: s == ParamDecl("k", 2.0) and isinstance(s.value, float),
            id="param-int-stored-as-float",
        ),
        pytest.param(
            "param k = t(-1).",
            lambda s: s == ParamDecl("k", -1.0, learnable=True),
            id="learnable-param",
        ),
        pytest.param(
            "der(v) = -k * x + nn(force_net).",
            lambda s: (
                s
                == Derivative(
                    "v", BinOp("+", BinOp("*", Neg(Const("k")), Const("x")), NnRef("force_net"))
                )
            ),
            id="derivative-with-nn",
        ),
        pytest.param(
            "der(x) = nn(f, [x, V]) - der(v).",
            lambda s: (
                s
                == Derivative("x", BinOp("-", NnRef("f", (Const("x"), Var("V"))), Der(Const("v"))))
            ),
            id="derivative-nn-inputs-and-der",
        ),
        pytest.param(
            "law e: if x > 0 and v < 1 then der(x) <= 0.",
            lambda s: len(s.conditions) == 2 and isinstance(s.relation.left, Der),
            id="conditional-law",
        ),
        pytest.param(
            "p(X) :- X is -3.",
            lambda s: s.body[0].expr == Number(-3),
            id="minus-number-is-a-number",
        ),
        pytest.param(
            "p(X) :- X is -(3).",
            lambda s: s.body[0].expr == Neg(Number(3)),
            id="minus-parenthesised-number-is-neg",
        ),
    ],
)
def test_hand_written_constructs_parse_and_roundtrip(source: str, check: object) -> None:
    statement = _by_text(source)
    assert check(statement)  # type: ignore[operator]
    _assert_roundtrip(Program((statement,)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        pytest.param(Neg(Number(3)), "-(3)", id="neg-number"),
        pytest.param(Number(-3), "-3", id="negative-number"),
        pytest.param(BinOp("^", Number(-2), Number(2)), "(-2)^2", id="negative-base"),
        pytest.param(BinOp("^", Number(2), Number(-2)), "2^-2", id="negative-exponent"),
        pytest.param(Number(-0.0), "-0.0", id="negative-zero"),
        pytest.param(Number(1e300), "1e+300", id="exponent"),
    ],
)
def test_number_normal_forms(expr: object, text: str) -> None:
    assert format_expr(expr) == text  # type: ignore[arg-type]
    assert repr(parse_expr_text(text)) == repr(expr)
