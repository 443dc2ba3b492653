"""The knowledge base as a networkx ``MultiDiGraph``, and its export.

Nodes (attribute ``kind``):

- ``predicate`` — ``"name/arity"``: ``name``, ``arity``, ``facts`` (count), ``neural``;
- ``rule`` — ``"rule:<name>"`` or ``"rule:<file>:<line>:<col>"``: ``name``, ``weight``
  (absent when unweighted), ``learnable``, ``source``, ``text``;
- ``neural`` — ``"nn:<net>"``: ``net``, ``domain_size``;
- ``constraint`` / ``query`` — ``"constraint:<file>:<line>:<col>"``, ``text``;
- ``state`` / ``param`` — ``"state:x"``, ``"param:k"`` (``value``, ``learnable``);
- ``law`` — ``"law:<name>"``, ``text``.

Edges: body predicate → rule (``polarity``: ``positive``, ``negative`` or ``aggregate``),
rule → head predicate (``role="head"``), neural network → predicate (``role="neural"``),
predicate → constraint/query, symbol → state (``role="der"``: appears in its ``der``), and
state/param → law (``role="law"``).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from neurosym._io import atomic_write_text
from neurosym.errors import ConfigurationError, Span
from neurosym.lang import (
    Assign,
    BodyItem,
    Comparison,
    Const,
    Expr,
    FixedWeight,
    LearnableWeight,
    Literal_,
    NnRef,
    Rule,
    format_statement,
)

from ._vars import aggregates, subexpressions

if TYPE_CHECKING:
    from ._kb import KnowledgeBase

__all__ = ["body_predicates", "build_graph", "expr_names", "rule_id", "write_graph"]


def _where(span: Span | None) -> str:
    return span.start_str() if span is not None else "<unknown>"


def rule_id(rule: Rule) -> str:
    """The graph node id of a rule: its name, or where it was written."""
    return f"rule:{rule.name}" if rule.name else f"rule:{_where(rule.span)}"


def body_predicates(body: tuple[BodyItem, ...]) -> Iterator[tuple[str, int, str]]:
    """``(predicate, arity, polarity)`` for every atom a body mentions, aggregates included."""
    for item in body:
        if isinstance(item, Literal_):
            yield (
                item.atom.predicate,
                item.atom.arity,
                "negative" if item.negated else "positive",
            )
        elif isinstance(item, Assign | Comparison):
            exprs = (item.expr,) if isinstance(item, Assign) else (item.left, item.right)
            for e in exprs:
                for agg in aggregates(e):
                    for name, arity, _ in body_predicates(agg.body):
                        yield name, arity, "aggregate"


def expr_names(e: Expr) -> Iterator[tuple[str, Span | None]]:
    """Lowercase symbol names in an arithmetic expression (states and parameters)."""
    return ((x.name, x.span) for x in subexpressions(e) if isinstance(x, Const))


def _nets(e: Expr) -> Iterator[str]:
    return (x.net for x in subexpressions(e) if isinstance(x, NnRef))


def build_graph(kb: KnowledgeBase) -> nx.MultiDiGraph:
    """Build the graph of a knowledge base (see the module docstring for its schema)."""
    g = nx.MultiDiGraph()
    fact_counts = Counter(f.atom.key for f in kb.facts)
    neural_keys = {d.head.key for d in kb.neural}

    def pred(name: str, arity: int) -> str:
        node = f"{name}/{arity}"
        if node not in g:
            g.add_node(
                node,
                kind="predicate",
                name=name,
                arity=arity,
                facts=fact_counts.get((name, arity), 0),
                neural=(name, arity) in neural_keys,
            )
        return node

    for key in fact_counts:
        pred(*key)
    for rule in kb.rules:
        rid = rule_id(rule)
        attrs: dict[str, Any] = {
            "kind": "rule",
            "name": rule.name or "",
            "source": _where(rule.span),
            "text": format_statement(rule),
            "learnable": isinstance(rule.weight, LearnableWeight),
        }
        if isinstance(rule.weight, FixedWeight):
            attrs["weight"] = rule.weight.value
        elif isinstance(rule.weight, LearnableWeight):
            attrs["weight"] = rule.weight.initial
        g.add_node(rid, **attrs)
        for name, arity, polarity in body_predicates(rule.body):
            g.add_edge(pred(name, arity), rid, polarity=polarity)
        g.add_edge(rid, pred(*rule.head.key), role="head")
    for decl in kb.neural:
        nid = f"nn:{decl.net}"
        g.add_node(nid, kind="neural", net=decl.net, domain_size=len(decl.domain))
        g.add_edge(nid, pred(*decl.head.key), role="neural")
    for kind, items in (("constraint", kb.constraints), ("query", kb.queries)):
        for s in items:
            cid = f"{kind}:{_where(s.span)}"
            g.add_node(cid, kind=kind, text=format_statement(s))
            for name, arity, polarity in body_predicates(s.body):
                g.add_edge(pred(name, arity), cid, polarity=polarity)
    _dynamics(kb, g)
    return g


def _dynamics(kb: KnowledgeBase, g: nx.MultiDiGraph) -> None:
    for name in kb.states:
        g.add_node(f"state:{name}", kind="state", name=name)
    for p in kb.params:
        g.add_node(f"param:{p.name}", kind="param", name=p.name, value=p.value,
                   learnable=p.learnable)  # fmt: skip
    symbols = {n: f"state:{n}" for n in kb.states}
    symbols.update({p.name: f"param:{p.name}" for p in kb.params})
    for d in kb.derivatives:
        target = f"state:{d.state}"
        if target not in g:
            g.add_node(target, kind="state", name=d.state, declared=False)
        for name, _ in expr_names(d.expr):
            if name in symbols:
                g.add_edge(symbols[name], target, role="der")
        for net in _nets(d.expr):
            if f"nn:{net}" not in g:
                g.add_node(f"nn:{net}", kind="neural", net=net, domain_size=0)
            g.add_edge(f"nn:{net}", target, role="der")
    for law in kb.laws:
        lid = f"law:{law.name}"
        g.add_node(lid, kind="law", name=law.name, text=format_statement(law))
        for comp in (*law.conditions, law.relation):
            for e in (comp.left, comp.right):
                for name, _ in expr_names(e):
                    if name in symbols:
                        g.add_edge(symbols[name], lid, role="law")


# ---------------------------------------------------------------------- export


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPES = {
    "predicate": "ellipse",
    "rule": "box",
    "neural": "hexagon",
    "constraint": "octagon",
    "query": "diamond",
    "state": "doublecircle",
    "param": "note",
    "law": "component",
}


def to_dot(g: nx.MultiDiGraph) -> str:
    """Graphviz DOT text of the graph (no pydot or pygraphviz needed)."""
    lines = ["digraph knowledge_base {", "  rankdir=LR;", "  node [fontname=Helvetica];"]
    for node, data in g.nodes(data=True):
        kind = data.get("kind", "")
        label = node if kind != "rule" else (data.get("name") or data.get("source", node))
        if kind == "rule" and "weight" in data:
            label = f"{label}\\n{data['weight']:g}"
        shape = _DOT_SHAPES.get(kind, "ellipse")
        lines.append(f"  {_dot_id(node)} [label={_dot_id(label)}, shape={shape}];")
    for u, v, data in g.edges(data=True):
        style = ""
        if data.get("polarity") == "negative":
            style = ' [style=dashed, arrowhead=tee, label="not"]'
        elif data.get("polarity") == "aggregate":
            style = ' [style=dotted, label="agg"]'
        lines.append(f"  {_dot_id(u)} -> {_dot_id(v)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_graph(g: nx.MultiDiGraph, path: str | os.PathLike[str]) -> None:
    """Write ``g`` by the suffix of ``path``: ``.graphml``, ``.dot``/``.gv`` or ``.json``.

    Raises:
        ConfigurationError: another suffix (``.png`` is drawn by :mod:`neurosym.viz`).
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".graphml":
        text = "\n".join(nx.generate_graphml(g)) + "\n"
    elif suffix in {".dot", ".gv"}:
        text = to_dot(g)
    elif suffix == ".json":
        text = json.dumps(nx.node_link_data(g, edges="edges"), indent=1, sort_keys=True) + "\n"
    else:
        raise ConfigurationError(
            f"cannot write a graph as {suffix or 'a file without suffix'!r}: "
            "use .graphml, .dot, .json, or .png/.svg/.pdf (drawn with neurosym.viz)"
        )
    atomic_write_text(path, text)
