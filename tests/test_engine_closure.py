"""Recursive components that are transitive closures are computed as graph reachability
(``engine._closure``); the facts must be those of the tuple-at-a-time joins and of a
brute-force closure, on generated graphs with cycles and self-loops, whatever the side
the recursion is written on."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurosym as ns
from neurosym.engine import compile_kb, evaluate
from neurosym.engine._closure import closure_shape
from neurosym.engine._forward import components_of

RECURSIVE = {
    "left": ["p(X, Z) :- p(X, Y), e(Y, Z)."],
    "left, literals swapped": ["p(X, Z) :- e(Y, Z), p(X, Y)."],
    "right": ["p(X, Z) :- e(X, Y), p(Y, Z)."],
    "both sides": ["p(X, Z) :- p(X, Y), p(Y, Z)."],
    "both sides, swapped": ["p(X, Z) :- p(Y, Z), p(X, Y)."],
    "left and right, two edge relations": [
        "p(X, Z) :- p(X, Y), e(Y, Z).",
        "p(X, Z) :- f(X, Y), p(Y, Z).",
    ],
}


def _brute(base: set[tuple[str, str]], left: set[tuple[str, str]], right: set[tuple[str, str]],
           double: bool) -> set[tuple[str, str]]:  # fmt: skip
    """Apply the rules to everything until nothing changes."""
    p = set(base)
    while True:
        new = set(p)
        new |= {(x, z) for x, y in p for y2, z in left if y == y2}
        new |= {(x, z) for x, y in right for y2, z in p if y == y2}
        if double:
            new |= {(x, z) for x, y in p for y2, z in p if y == y2}
        if new == p:
            return p
        p = new


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    kind=st.sampled_from(sorted(RECURSIVE)),
    base=st.sampled_from(["p(X, Y) :- e(X, Y).", "p(X, Y) :- e(X, Y), X != c.", "p(a, b)."]),
)
def test_closures_equal_the_joins_and_brute_force(seed: int, kind: str, base: str) -> None:
    rng = random.Random(seed)
    nodes = [f"n{i}" for i in range(rng.randint(1, 9))] + ["a", "b", "c"]
    e = {(rng.choice(nodes), rng.choice(nodes)) for _ in range(rng.randint(0, 14))}
    f = {(rng.choice(nodes), rng.choice(nodes)) for _ in range(rng.randint(0, 6))}
    text = "".join(f"e({x}, {y}).\n" for x, y in sorted(e))
    text += "".join(f"f({x}, {y}).\n" for x, y in sorted(f)) + "f(a, a).\ne(z, z).\n"
    text += base + "\n" + "\n".join(RECURSIVE[kind]) + "\nq(X) :- p(X, X).\n"
    program = compile_kb(ns.parse(text))
    comps = components_of(program.rules)
    (members,) = [m for m, rec in comps if rec]
    rules = [r for r in program.rules if r.head.pred in members]
    assert closure_shape(rules, [r.index for r in rules], members) is not None
    fast = evaluate(program).store
    slow = evaluate(program, record=True).store  # recording keeps to the joins
    as_sets = lambda s: {p: set(r.tuples) for p, r in s.relations.items() if len(r)}  # noqa: E731
    assert as_sets(fast) == as_sets(slow)
    e |= {("z", "z")}
    f |= {("a", "a")}
    if base.startswith("p(a"):
        b0 = {("a", "b")}
    else:
        b0 = {(x, y) for x, y in e if "!=" not in base or x != "c"}
    left = e if kind.startswith("left") else set()
    right = (e if kind == "right" else f) if "right" in kind else set()
    double = kind.startswith("both")
    expected = _brute(b0, left, right, double)
    assert set(fast.relations["p/2"].tuples) == expected


def test_a_300_node_chain_closes_whichever_side_recurses() -> None:
    chain = "".join(f"e(n{i}, n{i + 1}).\n" for i in range(300))
    for rule in ("p(X, Z) :- p(X, Y), e(Y, Z).", "p(X, Z) :- e(X, Y), p(Y, Z).",
                 "p(X, Z) :- p(X, Y), p(Y, Z)."):  # fmt: skip
        model = ns.infer(ns.parse(chain + "p(X, Y) :- e(X, Y).\n" + rule))
        assert len(model.facts("p")) == 301 * 300 // 2
        assert model.holds("p(n0, n300)") and not model.holds("p(n300, n0)")


@pytest.mark.parametrize(
    "rules",
    [
        "p(X, Z) :- p(X, Y), e(Y, Z), X != Z.",  # a filter
        "p(X, Z) :- p(X, Y), e(Y, Z). p(X, Z) :- p(X, Y), p(Y, Z).",  # mixed shapes
        "p(X, Y) :- p(Y, X).",  # symmetric
        "p(X, X) :- p(X, Y), e(Y, X).",
        "p(X, Z) :- p(X, Y), t(Y, Y, Z).",
    ],
)
def test_other_recursions_are_not_taken_for_closures(rules: str) -> None:
    kb = ns.parse("e(a, b). e(b, c). t(a, a, b). p(X, Y) :- e(X, Y).\n" + rules)
    program = compile_kb(kb)
    (members,) = [m for m, rec in components_of(program.rules) if rec]
    mine = [r for r in program.rules if r.head.pred in members]
    assert closure_shape(mine, [r.index for r in mine], members) is None


def test_a_closure_past_the_fact_limit_stops() -> None:
    chain = "".join(f"e(n{i}, n{i + 1}).\n" for i in range(60))
    kb = ns.parse(chain + "p(X, Y) :- e(X, Y).\nrule step: p(X, Z) :- p(X, Y), e(Y, Z).\n")
    with pytest.raises(ns.LimitError) as info:
        ns.infer(kb, limits=ns.Limits(max_facts=1000))
    assert info.value.limit == "max_facts" and info.value.rule == "step"
