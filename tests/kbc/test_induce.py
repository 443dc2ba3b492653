"""Rule induction from templates: template parsing, the layered noisy-or scores against a
brute-force reference and against the engine, learning, explanations."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

import neurosym as ns
from neurosym.errors import ConfigurationError, RuleSyntaxError
from neurosym.kbc import (
    InducedRule,
    InducedRules,
    TripleDataset,
    explain_prediction,
    induce_rules,
    layered_kb,
    load_templates,
    parse_templates,
)

# ---------------------------------------------------------------------------- templates


def test_ntp_and_rule_language_spellings_agree() -> None:
    ntp = parse_templates(
        "3  #1(X, Y) :- #1(Y, X).\n\n20   #1(X, Y) :-\n     #2(X, Z),\n     #3(Z, Y).\n"
        "1 #1(X, Y) :- #2(X, Z), #3(Z, W), #4(W, Y)."
    )
    mine = parse_templates(
        "% symmetry\n3 P(X, Y) :- P(Y, X).\n20 P(X, Y) :- Q(X, Z), R(Z, Y).\n"
        "P(A, B) :- Q(A, C), R(C, D), S(D, B)."
    )
    assert [t.count for t in ntp] == [t.count for t in mine] == [3, 20, 1]
    assert [t.path for t in ntp] == [t.path for t in mine]
    assert [t.path for t in ntp] == [
        ((-1, True),),
        ((0, False), (1, False)),
        ((0, False), (1, False), (2, False)),
    ]
    assert ntp[1].span.line == 3 and ntp[1].span.column == 1


def test_reversed_atoms_and_repeated_variables() -> None:
    (t,) = parse_templates("P(X, Y) :- Q(Z, X), Q(Z, Y).")
    assert t.variables == ("Q",)
    assert t.path == ((0, True), (0, False))


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("#1(X, Y) :- #2(X, Z).", "t.nlt:1:13", "does not lead from X to Y"),
        ("3 #1(X, Y) :- #2(X, Z), #3(W, Y).", "t.nlt:1:15", "does not lead from X to Y"),
        ("\n  2 #1(X, Y) :- #2(X Z).", "t.nlt:2:22", "expected ','"),
        ("#1(X, X) :- #2(X, X).", "t.nlt:1:1", "two different variables"),
        ("#1(X, Y) :- p(X, Y).", "t.nlt:1:13", "unexpected character 'p'"),
        ("#1(X, Y) :- #2(X, Y)", "t.nlt:1:21", "expected ',' or '.'"),
        ("0 #1(X, Y) :- #2(X, Y).", "t.nlt:1:1", "count must be at least 1"),
        ("#1(X, Y, Z) :- #2(X, Y).", "t.nlt:1:8", "template atoms are binary"),
    ],
    ids=["dangling", "broken-chain", "missing-comma", "same-head-vars", "constant", "no-dot",
         "zero-count", "ternary"],
)  # fmt: skip
def test_template_errors_name_file_line_col(text: str, where: str, words: str) -> None:
    with pytest.raises(RuleSyntaxError) as err:
        parse_templates(text, file="t.nlt")
    first = str(err.value).splitlines()[0]
    assert first.startswith(where + ": error: ")
    assert words in first


def test_load_templates_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such templates file"):
        load_templates(tmp_path / "none.nlt")
    f = tmp_path / "a.nlt"
    f.write_text("2  #1(X, Y) :- #2(Y, X).\n")
    (t,) = load_templates(f)
    assert str(t) == "#1(X, Y) :- #2(Y, X)." and t.span.file == str(f)


# ---------------------------------------------------------------- scores: brute force


def _random_dataset(seed: int, n: int = 7, density: float = 0.25) -> TripleDataset:
    rng = np.random.default_rng(seed)
    rows = [
        (f"e{i}", r, f"e{j}")
        for r in ("p", "q", "s")
        for i in range(n)
        for j in range(n)
        if rng.random() < density
    ]
    return TripleDataset.from_triples("rand", train=rows, entities=[f"e{i}" for i in range(n)])


RULES = (
    InducedRule(0.6, "p", (("q", False), ("s", False)), "p1"),
    InducedRule(0.3, "p", (("p", True),), "p2"),
    InducedRule(0.25, "p", (("q", False), ("p", False), ("s", True)), "p3"),
    InducedRule(0.4, "s", (("q", True),), "s1"),
    InducedRule(0.5, "s", (("p", False), ("s", False)), "s2"),
)


def _brute(rules: InducedRules, ds: TripleDataset, depth: int) -> dict[tuple[str, str, str], float]:
    """The layered noisy-or, from its definition: every grounding by enumeration."""
    ents = ds.entities
    given = {t: 1.0 for t in ds.triples("train")}
    known = dict(given)
    heads = {r.head for r in rules.rules}
    for _ in range(depth):
        new = {k: v for k, v in known.items() if k[1] not in heads}
        for h in heads:
            for x, y in itertools.product(ents, ents):
                keep = 1.0 - given.get((x, h, y), 0.0)
                for rule in rules.for_head(h):
                    for mid in itertools.product(ents, repeat=len(rule.body) - 1):
                        path = (x, *mid, y)
                        value = rule.weight
                        for i, (q, rev) in enumerate(rule.body):
                            a, b = (path[i + 1], path[i]) if rev else (path[i], path[i + 1])
                            value *= known.get((a, q, b), 0.0)
                        keep *= 1.0 - value
                if keep < 1.0:
                    new[(x, h, y)] = 1.0 - keep
        known = new
    return known


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_layered_scores_match_brute_force(seed: int, depth: int) -> None:
    ds = _random_dataset(seed)
    rules = InducedRules(RULES, ds.relations)
    want = _brute(rules, ds, depth)
    for rel in ("p", "s"):
        got = rules.scores(ds, rel, depth=depth)
        for (i, x), (j, y) in itertools.product(enumerate(ds.entities), repeat=2):
            assert got[i, j] == pytest.approx(want.get((x, rel, y), 0.0), abs=1e-12)
    # a relation without rules keeps its facts
    q = rules.scores(ds, "q", depth=depth)
    q_idx = ds.relation_index["q"]
    facts = {(h, t) for h, r, t in ds.train.tolist() if r == q_idx}
    assert {(int(a), int(b)) for a, b in zip(*np.nonzero(q), strict=True)} == facts


def test_depth_one_is_the_closed_form_noisy_or() -> None:
    # p(a, d) has two groundings of a 0.5-rule (Z = b, Z = c): 1 - 0.5^2
    ds = TripleDataset.from_triples(
        "t",
        train=[("a", "q", "b"), ("a", "q", "c"), ("b", "s", "d"), ("c", "s", "d"), ("d", "p", "a")],
    )
    rules = InducedRules((InducedRule(0.5, "p", (("q", False), ("s", False)), "r"),), ds.relations)
    e = ds.entity_index
    assert rules.scores(ds, "p")[e["a"], e["d"]] == pytest.approx(0.75)
    assert rules.scores(ds, "p")[e["d"], e["a"]] == 1.0  # a training fact
    with pytest.raises(ConfigurationError, match="unknown relation"):
        rules.scores(ds, "nope")
    with pytest.raises(ConfigurationError, match="depth must be at least 1"):
        rules.scores(ds, "p", depth=0)


# ------------------------------------------------------------------- the engine agrees


@pytest.mark.parametrize("depth", [1, 2])
def test_engine_computes_the_scores(depth: int) -> None:
    ds = _random_dataset(3, n=6)
    rules = InducedRules(RULES, ds.relations)
    model = ns.infer(layered_kb(rules, ds, depth=depth), semantics="fuzzy-product")
    for rel in ("p", "s"):
        got = rules.scores(ds, rel, depth=depth)
        for (i, x), (j, y) in itertools.product(enumerate(ds.entities), repeat=2):
            assert model.value(f"{rel}_{depth}({x}, {y})") == pytest.approx(got[i, j], abs=1e-9)


def test_at_depth_one_the_exact_probability_agrees() -> None:
    ds = _random_dataset(4, n=6)
    rules = InducedRules(RULES, ds.relations)
    model = ns.infer(layered_kb(rules, ds, depth=1), semantics="prob")
    got = rules.scores(ds, "p", depth=1)
    for (i, x), (j, y) in itertools.product(enumerate(ds.entities), repeat=2):
        assert model.value(f"p_1({x}, {y})") == pytest.approx(got[i, j], abs=1e-9)


def test_text_parses_and_names_survive() -> None:
    ds = TripleDataset.from_triples(
        "t", train=[("São Tomé", "q", "b"), ("b", "s", "c"), ("c", "p", "b")]
    )
    rules = InducedRules(
        (InducedRule(0.9312, "p", (("q", False), ("s", False)), "p_r1"),), ds.relations
    )
    assert rules.text() == "rule p_r1: 0.9312 :: p(X, Y) :- q(X, Z), s(Z, Y).\n"
    kb = ns.parse(rules.text())
    assert len(kb.rules) == 1
    answers = ns.query(layered_kb(rules, ds), 'p_1("São Tomé", Y)', semantics="prob")
    assert [(a.bindings["Y"], a.value) for a in answers] == [("c", pytest.approx(0.9312))]


def test_rules_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="not one of the relations"):
        InducedRules((InducedRule(0.5, "p", (("x", False),), "r"),), ("p",))
    with pytest.raises(ConfigurationError, match="outside"):
        InducedRules((InducedRule(0.0, "p", (("p", True),), "r"),), ("p",))


# -------------------------------------------------------------------------- learning


def _family(n: int = 14) -> TripleDataset:
    people = [f"p{i}" for i in range(n)]
    rows = [(people[i], "parent", people[i + 1]) for i in range(n - 1)]
    rows += [(people[i + 1], "child", people[i]) for i in range(n - 1)]
    rows += [(people[i], "grandparent", people[i + 2]) for i in range(n - 2)]
    return TripleDataset.from_triples("family", train=rows)


TEMPLATES = "2 #1(X, Y) :- #2(Y, X).\n2 #1(X, Y) :- #2(X, Z), #3(Z, Y).\n1 #1(X, Y) :- #2(X, Y)."


def test_learner_finds_the_chain_and_the_inverse() -> None:
    ds = _family()
    rules = induce_rules(ds, parse_templates(TEMPLATES), seed=0, epochs=40, batch_size=8, lr=0.2)
    top = {r.head: r for r in rules.rules if r.name.endswith("_r1")}
    assert top["grandparent"].body in (
        (("parent", False), ("parent", False)),
        (("child", True), ("child", True)),
        (("parent", False), ("child", True)),
        (("child", True), ("parent", False)),
    )
    assert top["parent"].body == (("child", True),)
    assert top["child"].body == (("parent", True),)
    assert all(r.weight > 0.8 for r in top.values())
    # never the trivial p :- p
    assert not any(r.body == ((r.head, False),) for r in rules.rules)
    # the same seed gives the same rules
    assert (
        induce_rules(ds, parse_templates(TEMPLATES), seed=0, epochs=40, batch_size=8, lr=0.2)
        == rules
    )


def test_a_fact_does_not_prove_itself() -> None:
    # On a 2-cycle a <-> b, p(X, Y) :- p(X, Z), p(Z, W), p(W, Y) proves p(a, b) only
    # through p(a, b) itself (Z = b, W = a); hidden from its own proof, it never fires
    # and its weight never rises from the start (0.05) to the threshold.
    (t,) = parse_templates("1 #1(X, Y) :- #1(X, Z), #1(Z, W), #1(W, Y).")
    cycle = TripleDataset.from_triples("cyc", train=[("a", "p", "b"), ("b", "p", "a")])
    assert induce_rules(cycle, [t], epochs=50, batch_size=1, lr=0.2, hide=0.0).rules == ()
    # On a 4-clique every edge also has proofs through the other nodes: the rule is found.
    nodes = "abcd"
    clique = TripleDataset.from_triples(
        "k4", train=[(x, "p", y) for x in nodes for y in nodes if x != y]
    )
    (rule,) = induce_rules(clique, [t], epochs=50, batch_size=1, lr=0.2, hide=0.0).rules
    assert rule.body == (("p", False),) * 3 and rule.weight >= 0.1


def test_learner_options_are_checked() -> None:
    ds = _family(5)
    t = parse_templates(TEMPLATES)
    with pytest.raises(ConfigurationError, match="no templates"):
        induce_rules(ds, [])
    with pytest.raises(ConfigurationError, match="unknown head relation"):
        induce_rules(ds, t, heads=["sibling"])
    with pytest.raises(ConfigurationError, match="hide is a probability"):
        induce_rules(ds, t, hide=1.5)
    with pytest.raises(ConfigurationError, match="epochs >= 1"):
        induce_rules(ds, t, epochs=0)
    many = TripleDataset.from_triples("m", train=[("a", f"r{i}", "b") for i in range(30)])
    with pytest.raises(ConfigurationError, match="instantiations"):
        induce_rules(many, parse_templates("#1(X, Y) :- #2(X, Z), #3(Z, W), #4(W, Y)."))


# ----------------------------------------------------------------------- explanations


@pytest.mark.parametrize("depth", [1, 2])
def test_explanation_lists_every_grounding_and_agrees_with_the_engine(depth: int) -> None:
    ds = _random_dataset(5, n=6, density=0.3)
    rules = InducedRules(RULES, ds.relations)
    kb = layered_kb(rules, ds, depth=depth)
    scores = rules.scores(ds, "p", depth=depth)
    checked = 0
    for (i, x), (j, y) in itertools.product(enumerate(ds.entities), repeat=2):
        if scores[i, j] == 0.0 or scores[i, j] == 1.0:
            continue
        e = explain_prediction(rules, ds, (x, "p", y), depth=depth, kb=kb)
        assert e.proof is not None and e.score == pytest.approx(scores[i, j])
        assert e.proof.value == pytest.approx(e.score, abs=1e-9)
        assert e.proof.alternatives == len(e.groundings)
        # the groundings combine by noisy-or into the score
        keep = math.prod(1.0 - float(g.contribution or 0.0) for g in e.groundings)
        assert 1.0 - keep == pytest.approx(e.score, abs=1e-9)
        # the engine's proof is one of the strongest groundings
        best = e.groundings[0].contribution
        assert e.proof.contribution == pytest.approx(best, abs=1e-9)
        same = {
            (g.rule, tuple(sorted(g.bindings)), tuple(p.fact for p in g.premises))
            for g in e.groundings
            if g.contribution == pytest.approx(best, abs=1e-12)
        }
        engine = (
            e.proof.rule,
            tuple(sorted(e.proof.bindings)),
            tuple(p.fact for p in e.proof.premises),
        )
        assert engine in same
        checked += 1
    assert checked >= 5
    assert "supporting grounding" in e.render()


def test_explanation_of_an_unsupported_fact() -> None:
    ds = TripleDataset.from_triples("t", train=[("a", "q", "b"), ("c", "p", "a")])
    rules = InducedRules((InducedRule(0.5, "p", (("q", True),), "r"),), ds.relations)
    e = explain_prediction(rules, ds, ("a", "p", "c"))
    assert e.proof is None and e.groundings == () and e.score == 0.0
    assert "no induced rule supports it" in e.render()
    with pytest.raises(ConfigurationError, match="unknown entity"):
        explain_prediction(rules, ds, ("zz", "p", "c"))
