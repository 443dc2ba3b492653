"""Knowledge bases: loading (includes, fact tables), the networkx graph, static analysis."""

from __future__ import annotations

from ._facts import FactSource, read_facts
from ._graph import to_dot, write_graph
from ._kb import KnowledgeBase, load, parse

__all__ = ["FactSource", "KnowledgeBase", "load", "parse", "read_facts", "to_dot", "write_graph"]
