"""Static analysis findings that the golden error files do not already pin down."""

from __future__ import annotations

import pytest

import neurosym as ns
from neurosym.kb._strata import strata


def codes(text: str) -> list[tuple[str, str, int, int]]:
    out = []
    for d in ns.parse(text).check():
        assert d.span is not None
        out.append((d.code, d.severity.value, d.span.line, d.span.column))
    return out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # `==` binds a variable whose other side is bound, like `is`.
        ("p(1).\nq(X, Y) :- p(X), Y == X.\n", []),
        # `_` under not means "there is none": safe.
        ("p(1). r(1, 2).\nlone(X) :- p(X), not r(X, _).\n", []),
        # `_` in a head would match anything.
        ("p(1).\nq(X, _) :- p(X).\n", [("unsafe-variable", "error", 2, 6)]),
        # A singleton is a warning; `_Name` silences it.
        ("p(1, 2).\nq(X) :- p(X, Y).\n", [("singleton-variable", "warning", 2, 14)]),
        ("p(1, 2).\nq(X) :- p(X, _Y).\n", []),
        # Negative weights are only meaningful for certainty factors.
        ("-0.4 :: p.\n", [("negative-weight", "warning", 1, 1)]),
        # The template of an aggregate must occur in its body.
        (
            "p(1).\nn(N) :- N is count { Z : p(_) }.\n",
            [("unsafe-variable", "error", 2, 22)],
        ),
        # Variables of a comparison must be bound.
        ("p(1).\nq(X) :- p(X), Y > 2.\n", [("unsafe-variable", "error", 2, 15)]),
        # A neural predicate's inputs and output are arguments of its head.
        (
            "nn(net, [I], D, [0, 1]) :: digit(I, E).\n",
            [("neural-head", "error", 1, 14)],
        ),
        # Dynamics use lowercase names; der twice is an error.
        ("state x.\nder(x) = X.\n", [("undeclared-state", "error", 2, 10)]),
        ("state x.\nder(x) = x.\nder(x) = 1.\n", [("duplicate-derivative", "error", 3, 1)]),
        # A law over an unknown symbol gets a did-you-mean.
        ("state pos.\nlaw b: poss >= 0.\n", [("undeclared-state", "error", 2, 8)]),
        # Recursion through positive literals alone is fine (with a base case).
        (
            "e(a, b).\np(X, Y) :- e(X, Y).\np(X, Y) :- p(X, Z), e(Z, Y).\n",
            [],
        ),
    ],
    ids=[
        "eq-binds",
        "anonymous-under-not",
        "anonymous-in-head",
        "singleton",
        "underscore-singleton",
        "negative-weight",
        "aggregate-template",
        "comparison-unbound",
        "neural-head",
        "dynamics-variable",
        "der-twice",
        "law-symbol",
        "positive-recursion",
    ],
)
def test_findings(text: str, expected: list[tuple[str, str, int, int]]) -> None:
    assert codes(text) == expected


def test_did_you_mean_for_law_symbol() -> None:
    (d,) = ns.parse("state pos.\nlaw b: poss >= 0.\n").check()
    assert d.hint == "did you mean 'pos'?"


def test_errors_and_warnings_are_distinguished() -> None:
    diags = ns.parse("p(1, 2).\nq(X) :- p(X, Y), r(X).\n").check()
    assert [(d.code, d.is_error) for d in diags] == [
        ("singleton-variable", False),
        ("undefined-predicate", True),
    ]


def test_strata_put_negated_predicates_lower() -> None:
    kb = ns.parse(
        "bird(a). penguin(b).\n"
        "flies(X) :- bird(X), not penguin(X).\n"
        "grounded(X) :- bird(X), not flies(X).\n"
    )
    layers = strata(kb.rules)
    level = {p: i for i, layer in enumerate(layers) for p in layer}
    assert level["penguin/1"] < level["flies/1"] < level["grounded/1"]
    assert level["bird/1"] == 0
