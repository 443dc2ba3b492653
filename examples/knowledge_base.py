"""Load a knowledge base, check it, and look at it as a graph.

Run ``python examples/knowledge_base.py`` (or ``--quick``, the same here: it takes a
second) from the repository root. It loads ``rules/family.rules`` (which includes
``family_people.rules``), adds facts from a CSV table, reports the static checks, and uses
networkx to answer structural questions: which predicates each derived predicate depends
on, which rules are recursive, and in which order strata would be evaluated.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import networkx as nx

# Run from a checkout: prefer this repository's neurosym over an installed one.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import neurosym as ns  # noqa: E402


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the walkthrough; returns what it printed, for the tests."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", default=str(ROOT / "rules" / "family.rules"))
    ap.add_argument("--quick", action="store_true", help="(accepted for uniformity)")
    ap.add_argument("--graph-out", default=None, help="also write the graph (.graphml/.dot/.json)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "hobbies.csv"
        table.write_text("person,hobby,hours\nagnes,chess,3\nhelen,rowing,5.5\n")
        kb = ns.load(args.rules, facts={"hobby": table})
    print(kb)

    diagnostics = kb.check()
    for d in diagnostics:
        print(d.render())
    errors = sum(d.is_error for d in diagnostics)
    print(f"check: {errors} errors, {len(diagnostics) - errors} warnings")

    g = kb.graph
    predicates = [n for n, d in g.nodes(data=True) if d["kind"] == "predicate"]
    derived = sorted(n for n in predicates if g.in_degree(n) > 0)
    print(f"graph: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges")
    depends: dict[str, list[str]] = {}
    for p in derived:
        base = sorted(a for a in nx.ancestors(g, p) if g.nodes[a]["kind"] == "predicate" and a != p)
        depends[p] = base
        print(f"  {p} depends on {', '.join(base) or 'nothing'}")
    recursive = sorted(p for p in derived if any(p in c for c in nx.simple_cycles(nx.DiGraph(g))))
    print(f"recursive predicates: {', '.join(recursive) or 'none'}")
    if args.graph_out:
        kb.write_graph(args.graph_out)
        print(f"wrote {args.graph_out}")
    return {"errors": errors, "depends": depends, "recursive": recursive}


if __name__ == "__main__":
    main()
