"""The reasoning API: answers, proofs, why-not, constraints, limits, the commands."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest

import neurosym as ns
from neurosym.cli import main
from neurosym.engine import compile_kb, evaluate, goal_rule
from neurosym.engine._magic import magic_rewrite

ZOO = """
has_hair(tiger). 0.9 :: eats_meat(tiger). has_hair(zebra). has_stripes(zebra).
rule mammal: mammal(X) :- has_hair(X).
rule carnivore: 0.95 :: carnivore(X) :- mammal(X), eats_meat(X).
bird(tweety). bird(pingu). penguin(pingu).
flies(X) :- bird(X), not penguin(X).
:- penguin(X), flies(X).
:- mammal(X), has_stripes(X).
"""


def test_answers_bindings_and_values() -> None:
    kb = ns.parse(ZOO, file="zoo.rules")
    (a,) = ns.query(kb, "carnivore(X)", semantics="cf")
    assert (a.fact, a.bindings, a.value) == (
        "carnivore(tiger)",
        {"X": "tiger"},
        pytest.approx(0.855),
    )
    assert a.to_json() == {"fact": "carnivore(tiger)", "bindings": {"X": "tiger"}, "value": a.value}
    assert [x.fact for x in ns.query(kb, "flies(X)")] == ["flies(tweety)"]
    assert ns.query(kb, "flies(pingu)") == []


def test_proof_tree_names_rules_sources_bindings_and_values() -> None:
    kb = ns.parse(ZOO, file="zoo.rules")
    proof = ns.query(kb, "carnivore(X)", semantics="cf")[0].explain()
    assert (proof.fact, proof.rule, proof.source, proof.weight) == (
        "carnivore(tiger)", "carnivore", "zoo.rules:4:1", 0.95,
    )  # fmt: skip
    assert proof.bindings == (("X", "tiger"),)
    assert [p.fact for p in proof.premises] == ["mammal(tiger)", "eats_meat(tiger)"]
    assert proof.premises[1].kind == "fact" and proof.premises[1].weight == 0.9
    assert proof.premises[1].source == "zoo.rules:2:18"
    text = proof.render()
    assert text.splitlines()[0] == (
        "carnivore(tiger) = 0.855  by rule carnivore (zoo.rules:4:1), X = tiger, weight 0.95"
    )
    data = json.loads(json.dumps(proof.to_json()))
    assert data["premises"][0]["premises"][0]["fact"] == "has_hair(tiger)"
    g = proof.to_graph()
    assert isinstance(g, nx.DiGraph) and g.number_of_nodes() == 4 and nx.is_tree(g)


def test_negated_premises_are_shown() -> None:
    kb = ns.parse(ZOO)
    proof = ns.query(kb, "flies(X)")[0].explain()
    assert proof.negated == (("penguin(tweety)", False),)
    assert "not penguin(tweety): penguin(tweety) does not hold" in proof.render()


def test_model_api() -> None:
    kb = ns.parse(ZOO)
    m = ns.infer(kb, semantics="cf")
    assert m.holds("mammal(zebra)") and not m.holds("flies(pingu)")
    assert [a.fact for a in m.query("mammal(X)")] == ["mammal(tiger)", "mammal(zebra)"]
    assert [a.fact for a in m.facts("carnivore")] == ["carnivore(tiger)"]
    assert m.explain("mammal(zebra)").rule == "mammal"
    with pytest.raises(ns.ConfigurationError, match="not ground"):
        m.value("mammal(X)")


def test_constraint_violations_with_bindings() -> None:
    (v,) = ns.infer(ns.parse(ZOO, file="zoo.rules")).violations
    assert v.bindings == {"X": "zebra"}
    assert v.constraint == ":- mammal(X), has_stripes(X)." and v.source == "zoo.rules:8:1"


def test_why_not_names_the_failing_premise_and_near_misses() -> None:
    kb = ns.parse(ZOO + "temp(ann, 37.5).\nfever(P) :- temp(P, T), T > 38.\n", file="k.rules")
    w = ns.why_not(kb, "flies(pingu)")
    assert not w.holds
    (f,) = w.failures
    assert (f.premise, f.reason) == ("not penguin(X)", "penguin(pingu) holds")
    (f,) = ns.why_not(kb, "fever(ann)").failures
    assert (f.premise, f.reason) == ("T > 38", "37.5 > 38 is false")
    (f,) = ns.why_not(kb, "carnivore(zebra)").failures
    assert f.premise == "eats_meat(X)" and f.near_misses == ("eats_meat(tiger)",)
    note = ns.why_not(kb, "flys(tweety)").notes[0]
    assert "did you mean 'flies'?" in note
    assert ns.why_not(kb, "flies(tweety)").holds


def test_runaway_recursion_stops_at_a_named_limit() -> None:
    kb = ns.parse("nat(0).\nrule succ: nat(Y) :- nat(X), Y is X + 1.\n")
    with pytest.raises(ns.LimitError) as info:
        ns.infer(kb, limits=ns.Limits(max_facts=500))
    assert info.value.limit == "max_facts" and info.value.rule == "succ"
    assert "rule succ kept firing" in str(info.value)
    with pytest.raises(ns.LimitError) as info:
        ns.infer(kb, limits=ns.Limits(max_rounds=50))
    assert info.value.limit == "max_rounds"


def test_arithmetic_errors_say_where() -> None:
    kb = ns.parse("v(a, 0).\nrule inv: inv(X, Y) :- v(X, V), Y is 1 / V.\n")
    with pytest.raises(ns.EvaluationError, match=r"1 / 0 in rule inv: division by zero"):
        ns.infer(kb)


def test_aggregates() -> None:
    kb = ns.parse(
        "person(a). person(b). person(c). parent(a, x). parent(a, y). parent(b, z).\n"
        "age(x, 4). age(y, 8). age(z, 6).\n"
        "kids(P, N) :- person(P), N is count { C : parent(P, C) }.\n"
        "total(P, S) :- person(P), S is sum { A, C : parent(P, C), age(C, A) }.\n"
        "oldest(P, M) :- person(P), M is max { A : parent(P, C), age(C, A) }.\n"
        "mean_age(M) :- M is mean { A, C : age(C, A) }.\n"
    )
    m = ns.infer(kb)
    assert [a.fact for a in m.facts("kids")] == ["kids(a, 2)", "kids(b, 1)", "kids(c, 0)"]
    assert [a.fact for a in m.facts("total")] == ["total(a, 12)", "total(b, 6)", "total(c, 0)"]
    # max over no solutions gives no answer (c has no children)
    assert [a.fact for a in m.facts("oldest")] == ["oldest(a, 8)", "oldest(b, 6)"]
    assert m.holds("mean_age(6.0)")


def test_left_and_right_recursion_give_the_same_model() -> None:
    edges = "".join(f"e(n{i}, n{i + 1}).\n" for i in range(40))
    left = ns.parse(edges + "p(X, Y) :- e(X, Y).\np(X, Z) :- p(X, Y), e(Y, Z).\n")
    right = ns.parse(edges + "p(X, Y) :- e(X, Y).\np(X, Z) :- e(X, Y), p(Y, Z).\n")
    ml, mr = ns.infer(left), ns.infer(right)
    assert [a.fact for a in ml.facts("p")] == [a.fact for a in mr.facts("p")]
    assert len(ml.facts("p")) == 40 * 41 // 2


def test_backward_chaining_touches_only_what_the_goal_needs() -> None:
    edges = "".join(f"e(n{i}, n{i + 1}).\n" for i in range(60))
    kb = ns.parse(edges + "p(X, Y) :- e(X, Y).\np(X, Z) :- p(X, Y), e(Y, Z).\n")
    program = compile_kb(kb)
    qrule = goal_rule("p(n50, Y)", program).rule
    backward = evaluate(magic_rewrite(program, qrule)).store
    derived_backward = sum(len(r) for p, r in backward.relations.items() if p.startswith("p/2@"))
    forward = evaluate(program).store.get("p/2")
    assert derived_backward == 10  # p(n50, n51..n60): nothing about n0..n49
    assert len(forward) == 60 * 61 // 2
    assert [a.fact for a in ns.query(kb, "p(n58, Y)")] == ["p(n58, n59)", "p(n58, n60)"]


def test_cyclic_left_recursion_terminates_backward() -> None:
    kb = ns.parse("e(a, b). e(b, a). e(b, c).\np(X, Y) :- p(X, Z), e(Z, Y).\np(X, Y) :- e(X, Y).\n")
    assert [a.fact for a in ns.query(kb, "p(a, Y)")] == ["p(a, a)", "p(a, b)", "p(a, c)"]


def test_kb_with_errors_is_refused() -> None:
    with pytest.raises(ns.KnowledgeBaseError, match="pp/1 is used but"):
        ns.infer(ns.parse("p(a). q(X) :- pp(X)."))


def test_unsafe_goal_is_refused() -> None:
    with pytest.raises(ns.ConfigurationError, match="unsafe goal"):
        ns.query(ns.parse("p(a)."), "X > 3")


# --------------------------------------------------------------------- commands


def _rules(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "k.rules"
    f.write_text(text)
    return f


def test_query_command_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _rules(tmp_path, ZOO)
    assert main(["query", str(f), "carnivore(X)", "--semantics", "cf", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["fact"] == "carnivore(tiger)" and row["bindings"] == {"X": "tiger"}
    assert row["value"] == pytest.approx(0.855)
    assert main(["query", str(f), "flies(X)", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"fact": "flies(tweety)", "bindings": {"X": "tweety"}, "value": True}
    ]


def test_query_command_text_with_explanations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _rules(tmp_path, ZOO)
    assert main(["query", str(f), "mammal(X)", "--explain"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "mammal(tiger) = true"
    assert out[1].startswith("    mammal(tiger) = true  by rule mammal")
    assert main(["query", str(f), "flies(pingu)"]) == 0
    assert capsys.readouterr().out == "no answers to flies(pingu)\n"


def test_query_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _rules(tmp_path, ZOO)
    assert main(["query", str(f), "carnivore(X"]) == 2
    assert "unbalanced parenthesis" in capsys.readouterr().err
    bad = _rules(tmp_path, "p(a). q(X) :- pp(X).")
    assert main(["query", str(bad), "q(X)"]) == 1
    loop = _rules(tmp_path, "nat(0). nat(Y) :- nat(X), Y is X / 0.")
    assert main(["query", str(loop), "nat(X)"]) == 1
    assert "division by zero" in capsys.readouterr().err


def test_explain_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _rules(tmp_path, ZOO)
    assert main(["explain", str(f), "flies(pingu)"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flies(pingu) is not concluded.")
    assert "premise not penguin(X) fails: penguin(pingu) holds" in out
    assert main(["explain", str(f), "flies(tweety)", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["holds"] is True


def test_demo_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "species(stripes, tiger)" in out and "How was stripes identified?" in out
    assert "Why is rex not a tiger?" in out and "refer(" in out
