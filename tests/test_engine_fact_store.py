"""A consultation reads the facts its rules can use, not every fact of the knowledge base.

The compiled facts are kept per predicate and brought up to date as facts come and go; an
evaluation takes the relations of the predicates its rules reach, shared copy on write; the
static checks know which predicates have facts without reading them. The first tests count
what a consultation reads (no timing): many unrelated facts must not change it. The others
check that none of this changes an answer, a value, a proof or a why-not against a fresh
knowledge base made from the same statements.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import neurosym as ns
import neurosym.engine._base as base_module
from neurosym.engine import BaseFacts, compile_kb, evaluate, goal_rule
from neurosym.engine._store import Relation, Store
from neurosym.kb import KnowledgeBase

ZOO = """
rule z1: mammal(X) :- has_hair(X).
rule z2: mammal(X) :- gives_milk(X).
rule z3: bird(X) :- has_feathers(X).
rule z5: carnivore(X) :- mammal(X), eats_meat(X).
rule z10: tiger(X) :- carnivore(X), colour(X, tawny), has_black_stripes(X).
rule z13: ostrich(X) :- bird(X), not flies(X), long_neck(X).
rule s2: species(X, tiger) :- tiger(X).
rule s3: species(X, ostrich) :- ostrich(X).
dynamic has_hair/1, gives_milk/1, has_feathers/1, eats_meat/1, colour/2,
        has_black_stripes/1, flies/1, long_neck/1.
"""
ANIMALS = [
    ["has_hair", "eats_meat", "colour tawny", "has_black_stripes"],
    ["has_feathers", "long_neck"],
    ["has_feathers", "flies", "long_neck"],
    ["gives_milk"],
]


def _observations(i: int) -> tuple[str, list[str]]:
    animal = f"a{i}"
    obs = [o.split() for o in ANIMALS[i % len(ANIMALS)]]
    names = [f"o{j}" for j in range(len(obs))]
    text = " ".join(f"rule {n}: {o[0]}({', '.join([animal, *o[1:]])})." for n, o in zip(names, obs))
    return text, names


def _catalogue(n: int) -> str:
    return "".join(f"catalogue(item_{i}, {i}).\n" for i in range(n))


def _consult(kb: KnowledgeBase, i: int, how: str) -> list[tuple[str, object]]:
    text, names = _observations(i)
    kb.add(text)
    goal = f"species(a{i}, S)"
    if how == "forward":
        answers = ns.infer(kb).query(goal)
    else:
        answers = ns.query(kb, goal, method="backward")
    for n in names:
        kb.remove(n)
    return [(a.fact, a.value) for a in answers]


class _Reads:
    """Counts, while active, what a consultation reads of the facts: fact statements
    compiled, tuples put into relations or copied, and reads of ``kb.facts``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts: Counter[str] = Counter()
        self.on = False
        counts = self.counts
        fact_key, init, copy = base_module.fact_key, Relation.__init__, Relation.copy
        add, relation_of = Relation.add, base_module.relation_of
        facts = KnowledgeBase.facts.fget
        assert facts is not None

        def counted_fact_key(f: Any) -> Any:
            counts["facts compiled"] += self.on
            return fact_key(f)

        def counted_init(rel: Relation, tuples: Any = ()) -> None:
            init(rel, tuples)
            counts["tuples into relations"] += self.on * len(rel)

        def counted_relation_of(tuples: set[Any]) -> Relation:
            counts["tuples into relations"] += self.on * len(tuples)
            return relation_of(tuples)

        def counted_copy(rel: Relation) -> Relation:
            counts["tuples copied"] += self.on * len(rel)
            return copy(rel)

        def counted_add(rel: Relation, t: Any) -> bool:
            counts["tuples added"] += self.on
            return add(rel, t)

        def counted_facts(kb: KnowledgeBase) -> Any:
            counts["kb.facts read"] += self.on
            return facts(kb)

        monkeypatch.setattr(base_module, "fact_key", counted_fact_key)
        monkeypatch.setattr(Relation, "__init__", counted_init)
        monkeypatch.setattr(base_module, "relation_of", counted_relation_of)
        monkeypatch.setattr(Relation, "copy", counted_copy)
        monkeypatch.setattr(Relation, "add", counted_add)
        monkeypatch.setattr(KnowledgeBase, "facts", property(counted_facts))

    def during(self, kb: KnowledgeBase, how: str, rounds: range) -> Counter[str]:
        self.counts.clear()
        self.on = True
        try:
            for i in rounds:
                _consult(kb, i, how)
        finally:
            self.on = False
        return Counter(self.counts)


@pytest.mark.parametrize("how", ["forward", "backward"])
def test_unrelated_facts_do_not_change_what_a_consultation_reads(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _Reads(monkeypatch)
    seen = []
    for extra in (100, 10_000):
        kb = ns.parse(ZOO + _catalogue(extra))
        kb.check()
        for i in range(8):  # the first consultations compile the rules, plans and checks
            _consult(kb, i, how)
        seen.append(reads.during(kb, how, range(8, 16)))
    small, large = seen
    assert large == small
    # what is read is the observations (a few per consultation), not the catalogue
    assert large["kb.facts read"] == 0
    assert 0 < large["facts compiled"] <= 2 * 8 * 4
    assert large["tuples into relations"] + large["tuples copied"] < 100


def test_an_evaluation_shares_the_relations_of_unchanged_predicates() -> None:
    kb = ns.parse("q(X) :- p(X). p(a). p(b). r(c).")
    first = evaluate(compile_kb(kb))
    kb.add("rule extra: other(z).")
    second = evaluate(compile_kb(kb))
    # p is read in place, by both; r and other are no rule's: not in the store at all
    assert second.store.relations["p/1"] is first.store.relations["p/1"]
    assert set(second.store.relations) == {"p/1", "q/1"}
    assert second.relation("other/1") is not None and ("z",) in second.relation("other/1")
    assert set(second.complete().relations) == {"p/1", "q/1", "r/1", "other/1"}
    assert second.store.relations["r/1"] is first.complete().relations["r/1"]


def test_a_rule_concluding_a_predicate_with_facts_copies_it_first() -> None:
    kb = ns.parse("q(a). q(X) :- p(X). p(b).")
    program = compile_kb(kb)
    shared = program.facts.by_pred["q/1"].relation(False)
    model = evaluate(program)
    assert set(model.store.relations["q/1"]) == {("a",), ("b",)}
    assert set(shared) == {("a",)}  # the knowledge base's facts are as they were
    assert [a.fact for a in ns.query(kb, "q(X)")] == ["q(a)", "q(b)"]
    store = Store()
    store.share("q/1", shared)
    store.get("q/1").add(("c",))
    assert ("c",) not in shared


def test_a_model_keeps_the_facts_of_its_moment() -> None:
    kb = ns.parse("q(X) :- p(X). p(a). " + _catalogue(3))
    model = ns.infer(kb, semantics="cf")
    kb.add("rule more: catalogue(item_9, 9). rule p2: p(b).")
    kb.remove("more")
    kb.add("catalogue(item_8, 8).")
    assert [a.fact for a in model.facts("catalogue")] == [
        "catalogue(item_0, 0)", "catalogue(item_1, 1)", "catalogue(item_2, 2)",
    ]  # fmt: skip
    assert model.value("catalogue(item_1, 1)") == 1.0
    assert not model.holds("catalogue(item_8, 8)")
    assert [a.fact for a in model.query("q(X)")] == ["q(a)"]
    now = ns.infer(kb, semantics="cf")
    assert now.holds("catalogue(item_8, 8)") and now.holds("q(b)")


def test_facts_no_rule_reaches_are_in_the_model() -> None:
    kb = ns.parse("q(X) :- p(X). p(a). 0.5 :: c(x). 0.0 :: c(y). :- c(x), p(a).")
    for semantics in ("boolean", "cf", "prob", "fuzzy-godel"):
        model = ns.infer(kb, semantics=semantics)
        assert model.holds("c(x)") and not model.holds("c(y)")
        assert [a.fact for a in model.facts()] == ["c(x)", "p(a)", "q(a)"]
        assert len(model.violations) == 1
        assert [a.fact for a in ns.query(kb, "c(X)", semantics=semantics)] == ["c(x)"]
        assert model.stats["facts"] >= 3
    assert "c(x)" in str(ns.why_not(kb, "c(x)"))


def test_base_facts_snapshots_equal_a_fresh_compile() -> None:
    kb = ns.parse("p(a). 0.5 :: p(a). -0.5 :: p(b). r(c, 1).")
    facts = BaseFacts.of_statements(kb.facts)
    assert facts.size(valued=True) == 3 and facts.size(valued=False) == 2
    changed = facts.changed([(-1, kb.facts[0]), (-1, kb.facts[3])])
    assert facts.size(valued=False) == 2  # the snapshot before is unchanged
    assert dict(changed.weights()) == {("p/1", ("a",)): [0.5], ("p/1", ("b",)): [-0.5]}
    assert changed.preds() == {"p/1"} and changed.size(valued=False) == 1


def test_changes_that_empty_a_predicate_equal_a_fresh_compile() -> None:
    kb = ns.parse("p(a). r(c). 0.5 :: s(x). -1.0 :: t(y).")
    p, r, s, t = kb.facts
    r2 = ns.parse("r(d).").facts[0]
    facts = BaseFacts.of_statements(kb.facts)
    assert facts.preds() == {"p/1", "r/1", "s/1", "t/1"}
    for changes in [
        [(-1, r)],
        [(-1, r), (+1, r)],
        [(-1, r), (+1, r2), (-1, r2)],
        [(-1, s), (-1, r), (+1, r2), (-1, t)],
        [(+1, r2), (-1, r), (-1, r2), (+1, r)],
        [(-1, t), (-1, p), (-1, r2)],
    ]:
        statements = list(kb.facts)
        for step, f in changes:
            if step > 0:
                statements.append(f)
            else:  # by identity; a fact not there is left alone, as changed() does
                statements = [g for g in statements if g is not f]
        fresh, new = BaseFacts.of_statements(statements), facts.changed(changes)
        assert dict(new.weights()) == dict(fresh.weights())
        assert dict(new.sources()) == dict(fresh.sources())
        assert new.preds() == fresh.preds()
        for valued in (False, True):
            assert new.size(valued) == fresh.size(valued)
        assert new.odd == fresh.odd
    assert dict(facts.weights()) == dict(BaseFacts.of_statements(kb.facts).weights())


def test_a_light_snapshot_equals_the_full_one() -> None:
    kb = ns.parse('p(a). 0.5 :: p(a). p(b). r(c, 1). 1.0 :: s(x). t("s", 2.5). u(1, 2, 3).')
    light, full = BaseFacts.of_few(kb.facts), BaseFacts.of_statements(kb.facts)
    assert light.preds() == full.preds() and light.among({"p/1", "zz/0"}) == ["p/1"]
    for valued in (False, True):
        assert light.size(valued) == full.size(valued) == 6
        assert set(light.relation("p/1", valued) or ()) == {("a",), ("b",)}
        assert light.relation("zz/0", valued) is None
    rel = light.relation("r/2", False)
    store = Store()
    assert light.share_into(store, frozenset({"p/1", "r/2", "zz/0"}), valued=False) == 3
    assert store.relations["r/2"] is rel and store.shared == {"p/1", "r/2"}
    assert light._by_pred is None  # no table made so far
    # the tables are made when asked for, from the same statements, keeping the relations
    assert dict(light.weights()) == dict(full.weights())
    assert dict(light.sources()) == dict(full.sources())
    assert light.by_pred["r/2"].relation(False) is rel
    out = [(-1, kb.facts[0]), (-1, kb.facts[1])]
    changed = light.changed(out)
    assert dict(changed.weights()) == dict(full.changed(out).weights())
    assert changed.size(False) == 5 and light.size(False) == 6


def test_a_snapshot_whose_tables_were_read_makes_the_next_one_full() -> None:
    kb = ns.parse(ZOO)

    def light_after(semantics: str, i: int) -> bool:
        text, names = _observations(i)
        kb.add(text)
        ns.infer(kb, semantics=semantics).query(f"species(a{i}, S)")
        facts = compile_kb(kb).facts  # the snapshot the consultation used
        for n in names:
            kb.remove(n)
        return facts._light is not None

    # boolean consultations read relations only: light; a valued one reads the tables
    # (its weights), so the snapshot after it is made with them, until one is not read
    assert [light_after("boolean", i) for i in range(3)] == [True, True, True]
    assert [light_after("cf", i) for i in (4, 5, 6)] == [True, False, False]
    assert [light_after("boolean", i) for i in (8, 9)] == [False, True]


@pytest.mark.parametrize("weight", ["0.0 :: ", "-0.5 :: ", "1.5 :: ", "t(0.5) :: "])
def test_facts_that_may_not_hold_make_a_full_snapshot(weight: str) -> None:
    kb = ns.parse(f"p(a). {weight}p(b).")
    light = BaseFacts.of_few(kb.facts)
    assert light._light is None  # the tables from the start
    assert dict(light.weights()) == dict(BaseFacts.of_statements(kb.facts).weights())
    assert light.relation("p/1", True) is light.by_pred["p/1"].relation(True)


# ------------------------------------------------------------------ against a fresh KB

PROGRAM = """
rule m: q(X) :- p(X), not s(X).
rule n: 0.8 :: t(X, Y) :- q(X), e(X, Y).
rule k: s(X) :- e(X, X).
rule r1: reach(X, Y) :- e(X, Y).
rule r2: reach(X, Z) :- reach(X, Y), e(Y, Z).
rule d: degree(X, N) :- p(X), N is count { Y : e(X, Y) }.
dynamic p/1, s/1, e/2.
"""
CONSTANTS = "abc"
RELATED = [
    *(f"p({c})" for c in CONSTANTS),
    *(f"0.6 :: p({c})" for c in CONSTANTS),
    "0.0 :: p(a)",
    "q(b)",  # a fact of a predicate that a rule concludes too
    *(f"e({x}, {y})" for x in CONSTANTS for y in CONSTANTS),
    "0.3 :: e(a, b)",
    "s(c)",
]
UNRELATED = ["u(1)", "u(2)", "0.4 :: u(3)", "v(a, b)", "catalogue(item_1, 1)"]
GOALS = ["t(X, Y)", "q(X)", "t(a, Y)", "s(X)", "u(X)", "q(X), not s(X)", "reach(a, Y)",
         "degree(X, N)"]  # fmt: skip

_op = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(RELATED + UNRELATED)),
    st.tuples(st.just("remove"), st.integers(0, 30)),
    st.tuples(
        st.just("ask"),
        st.sampled_from(GOALS),
        st.sampled_from(["boolean", "cf", "prob", "fuzzy-product"]),
        st.sampled_from(["backward", "forward", "infer"]),
    ),
)


def _results(kb: KnowledgeBase, goal: str, semantics: str, how: str) -> Iterator[object]:
    if how == "infer":
        model = ns.infer(kb, semantics=semantics)
        yield sorted((a.fact, a.value) for a in model.facts())
        answers = model.query(goal) if "," not in goal else []
    else:
        answers = ns.query(kb, goal, semantics=semantics, method=how)  # type: ignore[arg-type]
    for a in answers:
        yield a.fact, round(float(a.value), 9), a.explain().to_json()
    if "," not in goal and semantics == "boolean":
        yield ns.why_not(kb, goal.replace("X", "a")).to_json()
    yield sorted((d.code, d.message) for d in kb.check())


@settings(derandomize=True, max_examples=80, deadline=None)
@given(st.lists(_op, min_size=1, max_size=25))
# q has facts and a rule; its derived facts must not stay in the knowledge base's q
@example([("add", "q(b)"), ("add", "p(a)"), ("ask", "q(X)", "boolean", "infer"),
          ("remove", 1), ("ask", "q(X)", "boolean", "infer"),
          ("ask", "q(X)", "cf", "backward")])  # fmt: skip
# a fact with weight 0 leaves the store of a valued run, not the knowledge base
@example([("add", "0.0 :: p(a)"), ("add", "p(a)"), ("ask", "q(X)", "prob", "forward"),
          ("remove", 1), ("ask", "q(X)", "boolean", "backward")])  # fmt: skip
@pytest.mark.parametrize("unrelated", [60, 0])
def test_interleaved_changes_give_a_fresh_kbs_answers(
    unrelated: int, ops: list[tuple[Any, ...]]
) -> None:
    # 60 unrelated facts: enough that the facts are brought up to date, not rebuilt; none:
    # rebuilt from scratch whenever the changes are as many as the facts (light snapshots)
    kb = ns.parse(PROGRAM + _catalogue(unrelated))
    live: list[str] = []
    kept: list[tuple[ns.Model, object]] = []
    for step, op in enumerate(ops):
        if op[0] == "add":
            name = f"f{step}"
            kb.add(f"rule {name}: {op[1]}.")
            live.append(name)
        elif op[0] == "remove":
            if live:
                kb.remove(live.pop(op[1] % len(live)))
        else:
            _, goal, semantics, how = op
            fresh = KnowledgeBase(kb.statements)  # the same statements, nothing kept
            got = list(_results(kb, goal, semantics, how))
            assert got == list(_results(fresh, goal, semantics, how))
            # a model read only later must still show the facts of its moment
            kept.append((ns.infer(kb, semantics=semantics), got[0] if how == "infer" else None))
    for model, facts in kept:
        if facts is not None:
            assert sorted((a.fact, a.value) for a in model.facts()) == facts


def test_goal_rules_see_the_same_facts() -> None:
    kb = ns.parse(PROGRAM + "p(a). e(a, b).")
    program = compile_kb(kb)
    g = goal_rule("t(X, Y)", program)
    assert g.rule.index == len(program.rules)
    assert dict(program.base) == {("p/1", ("a",)): [None], ("e/2", ("a", "b")): [None]}
