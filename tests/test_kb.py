"""Knowledge bases: includes, fact tables, run-time changes, the graph and its exports."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest

import neurosym as ns
from neurosym.lang import Const, Number, String


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------- includes


def test_includes_resolve_relative_to_the_including_file(tmp_path: Path) -> None:
    _write(tmp_path / "kb" / "main.rules", 'include "sub/birds.rules".\nflies(X) :- bird(X).\n')
    _write(tmp_path / "kb" / "sub" / "birds.rules", 'include "more.rules".\nbird(robin).\n')
    _write(tmp_path / "kb" / "sub" / "more.rules", "bird(wren).\n")
    kb = ns.load(tmp_path / "kb" / "main.rules")
    birds = sorted(f.atom.args[0].name for f in kb.facts)  # type: ignore[union-attr]
    assert birds == ["robin", "wren"]
    assert [Path(f).name for f in kb.files] == ["main.rules", "birds.rules", "more.rules"]
    # Statements keep the file they came from.
    wren = next(f for f in kb.facts if f.atom.args[0] == Const("wren"))
    assert wren.span is not None and wren.span.file.endswith("more.rules")
    assert kb.check() == []


def test_a_diamond_is_read_once(tmp_path: Path) -> None:
    _write(tmp_path / "main.rules", 'include "a.rules".\ninclude "b.rules".\n')
    _write(tmp_path / "a.rules", 'include "common.rules".\n')
    _write(tmp_path / "b.rules", 'include "common.rules".\n')
    _write(tmp_path / "common.rules", "p(1).\n")
    assert len(ns.load(tmp_path / "main.rules").facts) == 1


def test_include_cycle_is_reported_at_the_include_line(tmp_path: Path) -> None:
    _write(tmp_path / "a.rules", 'p.\ninclude "b.rules".\n')
    _write(tmp_path / "b.rules", 'q.\n\ninclude "a.rules".\n')
    with pytest.raises(ns.IncludeError) as info:
        ns.load(tmp_path / "a.rules")
    (diag,) = info.value.diagnostics
    assert diag.span is not None
    assert (Path(diag.span.file).name, diag.span.line, diag.span.column) == ("b.rules", 3, 1)
    assert "include cycle" in diag.message and "a.rules -> " in diag.message
    assert isinstance(info.value, ImportError)  # the built-in it also is


def test_missing_top_level_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ns.KnowledgeBaseError, match="no such rule file"):
        ns.load(tmp_path / "nope.rules")


def test_parse_resolves_includes_against_base_dir(tmp_path: Path) -> None:
    _write(tmp_path / "x.rules", "p(1).\n")
    kb = ns.parse('include "x.rules".\nq(X) :- p(X).\n', base_dir=tmp_path)
    assert len(kb.facts) == 1 and len(kb.rules) == 1


def _secret(tmp_path: Path) -> Path:
    # A file outside the knowledge base's directory whose first line is not valid rules:
    # had it been read, a syntax error would quote it.
    return _write(tmp_path / "private" / "secret.rules", "TOP SECRET token 1234\n")


@pytest.mark.parametrize(
    "target",
    ["../private/secret.rules", "{root}/private/secret.rules", "sub/../../private/secret.rules"],
    ids=["relative", "absolute", "dotdot_inside"],
)
def test_an_include_cannot_leave_the_rule_directory(tmp_path: Path, target: str) -> None:
    _secret(tmp_path)
    path = target.format(root=tmp_path.as_posix())
    main = _write(tmp_path / "kb" / "main.rules", f'p(a).\ninclude "{path}".\n')
    with pytest.raises(ns.IncludeError) as info:
        ns.load(main)
    (diag,) = info.value.diagnostics
    assert diag.span is not None and (diag.span.line, diag.span.column) == (2, 1)
    assert "leaves the rule directory" in diag.message
    assert "include_roots" in (diag.hint or "")
    assert "SECRET" not in str(info.value)
    # Allowed once its directory is named.
    with pytest.raises(ns.RuleSyntaxError, match="SECRET"):
        ns.load(main, include_roots=[tmp_path / "private"])


def test_a_symbolic_link_out_of_the_rule_directory_is_refused(tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "link.rules").symlink_to(secret)
    main = _write(tmp_path / "kb" / "main.rules", 'include "link.rules".\n')
    with pytest.raises(ns.IncludeError, match="leaves the rule directory"):
        ns.load(main)


def test_nested_includes_stay_under_the_top_files_directory(tmp_path: Path) -> None:
    # A file included from a subdirectory may include its siblings' parent (still under
    # the top file's directory) but not beyond it.
    _write(tmp_path / "kb" / "main.rules", 'include "sub/a.rules".\n')
    _write(tmp_path / "kb" / "sub" / "a.rules", 'include "../shared.rules".\n')
    _write(tmp_path / "kb" / "shared.rules", "p(1).\n")
    assert len(ns.load(tmp_path / "kb" / "main.rules").facts) == 1
    _write(tmp_path / "kb" / "shared.rules", 'include "../outside.rules".\n')
    _write(tmp_path / "outside.rules", "q(1).\n")
    with pytest.raises(ns.IncludeError, match="leaves the rule directory"):
        ns.load(tmp_path / "kb" / "main.rules")


def test_parse_confines_includes_to_base_dir(tmp_path: Path) -> None:
    _secret(tmp_path)
    (tmp_path / "kb").mkdir()
    with pytest.raises(ns.IncludeError, match="leaves the rule directory"):
        ns.parse('include "../private/secret.rules".\n', base_dir=tmp_path / "kb")


# ---------------------------------------------------------------------- fact tables


def test_csv_facts_with_header_and_typed_numbers(tmp_path: Path) -> None:
    table = _write(tmp_path / "people.csv", "name,age,height,city\nann,40,1.75,New York\n")
    kb = ns.load(_write(tmp_path / "k.rules", "old(P) :- person(P, A, _, _), A > 30.\n"),
                 facts={"person": table})  # fmt: skip
    (fact,) = kb.facts
    assert fact.atom.args == (Const("ann"), Number(40), Number(1.75), String("New York"))
    assert isinstance(fact.atom.args[1], Number) and type(fact.atom.args[1].value) is int
    assert fact.span is not None and fact.span.line == 2
    assert kb.check() == []


def test_tsv_without_header(tmp_path: Path) -> None:
    table = _write(tmp_path / "parent.tsv", "ann\tbob\nbob\tcid\n")
    kb = ns.parse("", facts={"parent": table})
    assert [tuple(a.name for a in f.atom.args) for f in kb.facts] == [  # type: ignore[union-attr]
        ("ann", "bob"),
        ("bob", "cid"),
    ]


def test_explicit_header_choice(tmp_path: Path) -> None:
    # Both rows look like data; the caller knows the first is a header.
    table = _write(tmp_path / "edges.csv", "src,dst\na,b\n")
    assert len(ns.parse("", facts={"edge": table}).facts) == 2
    assert len(ns.parse("", facts={"edge": ns.FactSource(table, header=True)}).facts) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\nc\n", r"rows\.csv:2:1: row has 1 cells, the rows before it have 2"),
        ("a,b\nc,\n", r"rows\.csv:2:3: empty cell"),
    ],
    ids=["ragged", "empty-cell"],
)
def test_bad_tables_name_the_position(tmp_path: Path, content: str, message: str) -> None:
    table = _write(tmp_path / "rows.csv", content)
    with pytest.raises(ns.FactsFileError, match=message):
        ns.parse("", facts={"r": table})


def test_missing_table(tmp_path: Path) -> None:
    with pytest.raises(ns.FactsFileError, match="not found"):
        ns.parse("", facts={"r": tmp_path / "none.csv"})


# ------------------------------------------------------------------ run-time changes


def test_add_and_remove_rules_at_run_time() -> None:
    kb = ns.parse("bird(tweety).\n")
    assert "flies/1" not in kb.graph
    kb.add("rule can_fly: flies(X) :- bird(X).")
    assert "flies/1" in kb.graph  # the graph follows the change
    removed = kb.remove("can_fly")
    assert removed.name == "can_fly"  # type: ignore[union-attr]
    assert "flies/1" not in kb.graph and kb.rules == ()
    with pytest.raises(ns.KnowledgeBaseError, match="no rule named 'nope'"):
        kb.remove("nope")


def test_add_remove_loop_does_not_grow() -> None:
    kb = ns.parse("p(a).")
    for i in range(50):
        kb.add(f"rule obs: seen(x{i}).")
        kb.remove("obs")
    assert len(kb.sources) == 1 and len(kb) == 1


def test_added_text_gets_diagnostics_with_its_own_name() -> None:
    kb = ns.parse("p(a).")
    kb.add("q(X) :- pp(X).")
    (diag,) = kb.check()
    assert diag.render().startswith("<added 1>:1:9: error: pp/1 is used but")
    assert "did you mean 'p'?" in diag.render()


# --------------------------------------------------------------------------- graph

GRAPH_KB = """
has_hair(tiger). eats_meat(tiger). bird(tweety). penguin(pingu).
mammal(X) :- has_hair(X).
rule carnivore: 0.9 :: carnivore(X) :- mammal(X), eats_meat(X).
flies(X) :- bird(X), not penguin(X).
n(N) :- N is count { X : bird(X) }.
nn(net, [I], D, [0, 1]) :: digit(I, D).
:- penguin(X), flies(X).
state x, v. param k = 1.0.
der(x) = v. der(v) = -k * x + nn(force).
law energy: der(0.5 * v^2 + 0.5 * k * x^2) <= 0.
"""


def test_graph_nodes_and_edges_match_the_rules() -> None:
    g = ns.parse(GRAPH_KB, file="g.rules").graph
    assert isinstance(g, nx.MultiDiGraph)
    assert g.nodes["has_hair/1"] == {
        "kind": "predicate", "name": "has_hair", "arity": 1, "facts": 1, "neural": False,
    }  # fmt: skip
    rule = g.nodes["rule:carnivore"]
    assert (rule["kind"], rule["weight"], rule["source"]) == ("rule", 0.9, "g.rules:4:1")
    assert set(g.predecessors("rule:carnivore")) == {"mammal/1", "eats_meat/1"}
    assert list(g.successors("rule:carnivore")) == ["carnivore/1"]
    flies_rule = "rule:g.rules:5:1"
    polarity = {u: d["polarity"] for u, _, d in g.in_edges(flies_rule, data=True)}
    assert polarity == {"bird/1": "positive", "penguin/1": "negative"}
    count_rule = "rule:g.rules:6:1"
    assert [d["polarity"] for _, _, d in g.in_edges(count_rule, data=True)] == ["aggregate"]
    assert g.nodes["digit/2"]["neural"] is True
    assert g.has_edge("nn:net", "digit/2")
    (constraint,) = [n for n, d in g.nodes(data=True) if d["kind"] == "constraint"]
    assert set(g.predecessors(constraint)) == {"penguin/1", "flies/1"}
    # Dynamics: v and x feed der(v); the learned force too; the law reads x, v and k.
    assert set(g.predecessors("state:v")) == {"param:k", "state:x", "nn:force"}
    assert set(g.predecessors("law:energy")) == {"state:x", "state:v", "param:k"}


@pytest.mark.parametrize("suffix", [".graphml", ".json", ".dot"])
def test_graph_exports(tmp_path: Path, suffix: str) -> None:
    kb = ns.parse(GRAPH_KB, file="g.rules")
    out = tmp_path / f"kb{suffix}"
    kb.write_graph(out)
    if suffix == ".graphml":
        back = nx.read_graphml(out)
        assert set(back.nodes) == set(kb.graph.nodes)
        assert back.number_of_edges() == kb.graph.number_of_edges()
        assert float(back.nodes["rule:carnivore"]["weight"]) == 0.9
    elif suffix == ".json":
        data = json.loads(out.read_text())
        back = nx.node_link_graph(data, edges="edges")
        assert set(back.nodes) == set(kb.graph.nodes)
        assert back.number_of_edges() == kb.graph.number_of_edges()
    else:
        text = out.read_text()
        assert text.startswith("digraph knowledge_base {")
        assert '"penguin/1" -> "rule:g.rules:5:1" [style=dashed' in text
        assert text.count(" -> ") == kb.graph.number_of_edges()


def test_unknown_graph_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ns.ConfigurationError, match=r"use \.graphml, \.dot, \.json"):
        ns.parse("p.").write_graph(tmp_path / "g.xyz")
    assert not (tmp_path / "g.xyz").exists()


def test_png_drawing(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from neurosym.viz import draw_graph

    out = tmp_path / "kb.png"
    draw_graph(ns.parse(GRAPH_KB).graph, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dynamic_predicates_are_defined_without_facts() -> None:
    text = "dynamic symptom/2, observed/0.\nill(P) :- symptom(P, fever).\nalert :- observed.\n"
    kb = ns.parse(text, file="k.rules")
    assert kb.dynamic == {("symptom", 2), ("observed", 0)}
    assert kb.check() == []  # no undefined predicate, no unreachable rule
    assert list(ns.query(kb, "ill(P)")) == []
    kb.add("rule s1: symptom(ann, fever).")
    assert [a.fact for a in ns.query(kb, "ill(P)")] == ["ill(ann)"]
    kb.remove("s1")
    assert kb.check() == [] and list(ns.query(kb, "ill(P)")) == []
    # Without the declaration the same rules do not check.
    codes = [d.code for d in ns.parse(text.split("\n", 1)[1]).check()]
    assert codes.count("undefined-predicate") == 2


def test_dynamic_declarations_print_and_parse_back() -> None:
    from neurosym.lang import DynamicDecl, format_statement, parse_text

    (decl,) = parse_text("dynamic  symptom/2 ,observed/0 .").statements
    assert decl == DynamicDecl((("symptom", 2), ("observed", 0)))
    assert format_statement(decl) == "dynamic symptom/2, observed/0."
    assert parse_text(format_statement(decl)).statements == (decl,)


def test_dynamic_declaration_errors() -> None:
    kb = ns.parse("dynamic symptom/2.\nill(P) :- symptom(P).\n", file="k.rules")
    (d,) = kb.check()
    assert d.code == "arity-mismatch"
    assert "declared dynamic with 2" in d.message and str(d).startswith("k.rules:2:11:")
    with pytest.raises(ns.RuleSyntaxError, match="name/arity"):
        ns.parse("dynamic symptom*2.")
    with pytest.raises(ns.RuleSyntaxError, match=r"unexpected '\('"):
        ns.parse("dynamic(x).")  # a reserved word, like state and param
