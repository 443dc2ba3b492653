"""The top-down evaluator (boolean backward chaining on rules that do not recurse) against
the magic-sets rewrite evaluated bottom-up, and against the whole model, on generated
programs: negation, comparisons, arithmetic, constants and repeated variables in heads,
facts of derived predicates, rules that never fire, predicates without arguments."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurosym as ns
from neurosym.engine import compile_kb, evaluate, goal_rule, magic_rewrite
from neurosym.engine._topdown import solve_top_down
from neurosym.errors import LimitError

CONSTS = ["a", "b", "c", "d"]


def _program(seed: int) -> str:
    """Layers l0..l3 over base facts e/2, f/1, n/2 (numbers); each layer reads only lower
    ones, so nothing recurses."""
    rng = random.Random(seed)
    c = lambda: rng.choice(CONSTS)  # noqa: E731
    lines = [f"e({c()}, {c()})." for _ in range(rng.randint(2, 10))]
    lines += [f"f({c()})." for _ in range(rng.randint(0, 3))]
    lines += [f"n({c()}, {rng.randint(0, 5)})." for _ in range(rng.randint(1, 5))]
    lines += ["0.0 :: f(d).", "0.5 :: f(b)."]  # boolean: a zero weight does not hold
    lines.append("flag :- f(a).")
    for i in range(4):
        lower = [f"l{j}" for j in range(i)] + ["e"]
        low = lambda lower=lower: rng.choice(lower)  # noqa: E731
        bodies = [
            f"{low()}(X, Y)",
            f"{low()}(X, Z), {low()}(Z, Y)",
            f"{low()}(X, Y), not {low()}(Y, X)",
            f"{low()}(X, Y), f(X)",
            f"{low()}(X, Y), X != Y",
            f"{low()}(X, Y), not f(Y), not {low()}(Y, _)",
            f"{low()}(X, X), Y == X",
            f"n(X, N), n(Y, M), M is N + 1, {low()}(X, Y)",
            f"{low()}(X, Y), flag",
            f"{low()}(X, Y), not flag",
        ]
        heads = [f"l{i}(X, Y)", f"l{i}(X, Y)", f"l{i}(Y, X)", f"l{i}(X, {c()})"]
        for _ in range(rng.randint(1, 3)):
            head = rng.choice(heads)
            body = rng.choice(bodies)
            lines.append(f"{head} :- {body}.")
        if rng.random() < 0.3:
            lines.append(f"l{i}({c()}, {c()}).")  # a fact of a derived predicate
        if rng.random() < 0.3:
            lines.append(f"0.0 :: l{i}(X, Y) :- e(Y, X).")  # never fires under boolean
        lines.append(f"same{i}(X) :- l{i}(X, X).")
    return "\n".join(lines) + "\n"


def _goals(rng: random.Random) -> list[str]:
    c = lambda: rng.choice(CONSTS)  # noqa: E731
    out = ["flag", "same3(X)"]
    for i in range(4):
        out += [f"l{i}(X, Y)", f"l{i}({c()}, Y)", f"l{i}(X, {c()})", f"l{i}({c()}, {c()})"]
    out += ["l3(X, Y), not l1(X, Y)", "l2(X, X)", "l3(X, Y), X != a", "e(X, Y), l2(Y, Z)"]
    return out


def _magic(kb: ns.KnowledgeBase, goal: str) -> set[tuple[object, ...]]:
    program = compile_kb(kb)
    g = goal_rule(goal, program)
    rel = evaluate(magic_rewrite(program, g.rule)).store.relations.get(g.rule.head.pred)
    return set(rel.tuples) if rel is not None else set()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_top_down_equals_magic_sets_on_generated_programs(seed: int) -> None:
    kb = ns.parse(_program(seed))
    assert not [d for d in kb.check() if d.is_error]
    program = compile_kb(kb)
    for goal in _goals(random.Random(seed)):
        g = goal_rule(goal, program)
        found = solve_top_down(program, g.rule)
        assert found is not None, goal
        assert found == _magic(kb, goal), goal
        forward = [a.fact for a in ns.query(kb, goal, method="forward")]
        assert [a.fact for a in ns.query(kb, goal)] == forward


def test_recursive_and_aggregated_goals_are_left_to_magic_sets() -> None:
    kb = ns.parse(
        "e(a, b). e(b, c). p(X, Y) :- e(X, Y). p(X, Z) :- p(X, Y), e(Y, Z).\n"
        "q(X) :- e(X, _). n(X, N) :- q(X), N is count { Y : e(X, Y) }.\n"
    )
    program = compile_kb(kb)
    for goal in ("p(a, X)", "n(X, N)", "q(X), p(X, Y)"):
        assert solve_top_down(program, goal_rule(goal, program).rule) is None
    assert solve_top_down(program, goal_rule("q(X)", program).rule) == {("a",), ("b",)}
    # and answered all the same, by the rewrite
    assert [a.fact for a in ns.query(kb, "p(a, X)")] == ["p(a, b)", "p(a, c)"]
    assert [a.fact for a in ns.query(kb, "n(X, N)")] == ["n(a, 1)", "n(b, 1)"]


def test_top_down_answers_explain_themselves() -> None:
    kb = ns.parse(
        "has_hair(rex). eats_meat(rex).\n"
        "rule z1: mammal(X) :- has_hair(X).\n"
        "rule z5: carnivore(X) :- mammal(X), eats_meat(X).\n"
    )
    (answer,) = ns.query(kb, "carnivore(X)")
    assert answer.fact == "carnivore(rex)" and answer.value is True
    proof = answer.explain()
    assert proof.fact == "carnivore(rex)"
    assert sorted(p.fact for p in proof.premises) == ["eats_meat(rex)", "mammal(rex)"]


def test_top_down_keeps_the_fact_limit() -> None:
    facts = " ".join(f"e(n{i})." for i in range(40))
    kb = ns.parse(facts + " pair(X, Y) :- e(X), e(Y).")
    with pytest.raises(LimitError) as info:
        ns.query(kb, "pair(X, Y)", limits=ns.Limits(max_facts=1000))
    assert info.value.limit == "max_facts"
    assert len(ns.query(kb, "pair(n1, Y)", limits=ns.Limits(max_facts=1000))) == 40


@pytest.mark.parametrize(
    "goal", ["p(X, Y)", "p(a, X, X)", "p(_, X, _, 3)", "q", "p(2.5, _Y, b)", "p(X, [a])"]
)
def test_plain_goals_compile_as_the_compiler_does(goal: str) -> None:
    from neurosym.engine._compile import _Compiler, compile_body
    from neurosym.lang import parse_body_text

    items = parse_body_text(goal)
    c = _Compiler("goal")
    assert compile_body(items, "goal") == ((c.item(items[0]),), c.slots)


@pytest.mark.parametrize("goal", ["p(X, Y)", "r(a, X, X)", "p(_, 3)", "q", "s(X), X > 1"])
def test_goal_rules_name_the_predicates_they_read(goal: str) -> None:
    from neurosym.kb._graph import body_predicates
    from neurosym.lang import parse_body_text

    kb = ns.parse("p(a, b). q. r(a, b, b). p(c, 3). s(2).")
    rule = goal_rule(goal, compile_kb(kb)).rule
    expected = {(f"{n}/{a}", pol) for n, a, pol in body_predicates(parse_body_text(goal))}
    assert rule.deps == expected
