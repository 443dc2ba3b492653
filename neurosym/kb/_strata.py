"""Stratification and reachability over the predicate dependency graph.

Negation and aggregation must not go through recursion: ``p :- not q. q :- p.`` has no
stratified meaning, so the cycle is reported with the literal that closes it. A rule that
can never fire (a positive body predicate that no fact, table, network or firing rule can
produce) is reported as unreachable.
"""

from __future__ import annotations

from collections.abc import Iterator

import networkx as nx

from neurosym.errors import Severity, Span
from neurosym.lang import Literal_, Rule

from ._graph import body_predicates, rule_id
from ._safety import Finding

__all__ = ["dependency_graph", "strata", "stratification_findings", "unreachable_findings"]


def _literal_span(rule: Rule, name: str, arity: int, polarity: str) -> Span | None:
    if polarity == "aggregate":
        for item in rule.body:
            if not isinstance(item, Literal_) and any(
                n == name and a == arity for n, a, _ in body_predicates((item,))
            ):
                return item.span
    for item in rule.body:
        if (
            isinstance(item, Literal_)
            and item.atom.key == (name, arity)
            and (polarity == "negative") == item.negated
        ):
            return item.span
    return rule.span


def dependency_graph(rules: tuple[Rule, ...]) -> nx.MultiDiGraph:
    """Predicate → predicate edges (body to head), with the polarity and the rule."""
    g = nx.MultiDiGraph()
    for rule in rules:
        head = f"{rule.head.predicate}/{rule.head.arity}"
        g.add_node(head)
        for name, arity, polarity in body_predicates(rule.body):
            g.add_edge(f"{name}/{arity}", head, polarity=polarity, rule=rule)
    return g


def stratification_findings(rules: tuple[Rule, ...]) -> Iterator[Finding]:
    g = dependency_graph(rules)
    component = {}
    for i, scc in enumerate(nx.strongly_connected_components(g)):
        for n in scc:
            component[n] = i
    reported: set[int] = set()
    for u, v, data in g.edges(data=True):
        if data["polarity"] == "positive" or component[u] != component[v]:
            continue
        c = component[u]
        if c in reported:
            continue
        reported.add(c)
        sub = g.subgraph([n for n in g if component[n] == c])
        back = nx.shortest_path(sub, v, u) if u != v else [v]
        cycle = " -> ".join([*back, v]) if u != v else f"{u} -> {u}"
        rule: Rule = data["rule"]
        name, arity = u.rsplit("/", 1)
        word = "negation" if data["polarity"] == "negative" else "aggregation"
        yield (
            "unstratified",
            f"{word} through recursion: {cycle} (in {rule_id(rule)[5:]})",
            _literal_span(rule, name, int(arity), data["polarity"]),
            Severity.ERROR,
            f"{u} depends on itself through {'not' if word == 'negation' else 'an aggregate'}"
            "; that has no stratified meaning: break the cycle",
        )


def strata(rules: tuple[Rule, ...]) -> list[set[str]]:
    """Predicates grouped by stratum, lowest first (assumes stratification holds)."""
    g = dependency_graph(rules)
    cond = nx.condensation(nx.DiGraph(g))
    level: dict[int, int] = {}
    for c in nx.topological_sort(cond):
        preds = list(cond.predecessors(c))
        lvl = 0
        for p in preds:
            neg = any(
                d["polarity"] != "positive"
                for u in cond.nodes[p]["members"]
                for v in cond.nodes[c]["members"]
                for d in (g.get_edge_data(u, v) or {}).values()
            )
            lvl = max(lvl, level[p] + (1 if neg else 0))
        level[c] = lvl
    out: list[set[str]] = [set() for _ in range(max(level.values(), default=-1) + 1)]
    for c, lvl in level.items():
        out[lvl].update(cond.nodes[c]["members"])
    return out


def unreachable_findings(rules: tuple[Rule, ...], base: set[tuple[str, int]]) -> Iterator[Finding]:
    """Rules that can never fire, given the predicates with facts, tables or networks."""
    heads = {r.head.key for r in rules}
    possible = set(base)
    changed = True
    while changed:
        changed = False
        for rule in rules:
            if rule.head.key in possible:
                continue
            needs = {(n, a) for n, a, pol in body_predicates(rule.body) if pol == "positive"}
            if needs <= possible:
                possible.add(rule.head.key)
                changed = True
    for rule in rules:
        missing = sorted(
            {
                f"{n}/{a}"
                for n, a, pol in body_predicates(rule.body)
                # Predicates nothing defines at all are reported as undefined instead.
                if pol == "positive" and (n, a) not in possible and (n, a) in heads
            }
        )
        if missing:
            yield (
                "unreachable-rule",
                f"this rule can never fire: nothing can produce {', '.join(missing)}",
                rule.span,
                Severity.WARNING,
                "add facts, or a non-recursive rule (a base case) for " + ", ".join(missing),
            )
