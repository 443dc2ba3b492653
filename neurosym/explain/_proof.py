"""Proof trees (how a fact was concluded), rendered as text, JSON and networkx graphs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import networkx as nx

__all__ = ["Proof"]


def _fmt(value: bool | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:.4g}"


@dataclass(frozen=True, slots=True)
class Proof:
    """One step of a derivation and the steps below it.

    Attributes:
        fact: the conclusion, e.g. ``"carnivore(tiger)"``.
        value: its value under the run's semantics (``True`` under boolean semantics).
        kind: ``"fact"`` (given), ``"rule"`` (derived) or ``"absent"`` (a negated premise
            that does not hold, so ``not`` succeeds).
        rule: the rule's name, or ``file:line:col`` of an unnamed one.
        source: where the fact or rule was written (``file:line:col``).
        weight: the rule's or fact's weight, if any.
        bindings: the rule's variables in this step.
        premises: the proofs of the positive premises.
        negated: the negated premises: the fact, and its value (absent: false/0).
        contribution: the value this derivation alone gives (``value`` combines all the
            alternative derivations of ``fact``).
    """

    fact: str
    value: bool | float
    kind: Literal["fact", "rule", "absent"]
    rule: str | None = None
    source: str | None = None
    weight: float | None = None
    bindings: tuple[tuple[str, str], ...] = ()
    premises: tuple[Proof, ...] = ()
    negated: tuple[tuple[str, bool | float], ...] = ()
    contribution: bool | float | None = None
    alternatives: int = 1

    def steps(self) -> Iterator[Proof]:
        """Every step, depth first."""
        yield self
        for p in self.premises:
            yield from p.steps()

    def render(self) -> str:
        """The proof as an indented tree.

        Example (under certainty factors)::

            carnivore(tiger) = 0.855  by rule carnivore (zoo.rules:7:1), X = tiger
              mammal(tiger) = 1  by rule mammal (zoo.rules:5:1), X = tiger
                has_hair(tiger) = 1  fact (zoo.rules:1:1)
              eats_meat(tiger) = 0.9  fact (zoo.rules:2:1), weight 0.9
        """
        lines: list[str] = []
        self._render(lines, 0)
        return "\n".join(lines)

    def _render(self, lines: list[str], depth: int) -> None:
        pad = "  " * depth
        head = f"{pad}{self.fact} = {_fmt(self.value)}"
        where = f" ({self.source})" if self.source else ""
        if self.kind == "fact":
            text = f"{head}  fact{where}"
            if self.weight is not None:
                text += f", weight {self.weight:g}"
        else:
            if self.rule == self.source:
                text = f"{head}  by the rule at {self.source}"
            else:
                text = f"{head}  by rule {self.rule}{where}"
            if self.bindings:
                text += ", " + ", ".join(f"{k} = {v}" for k, v in self.bindings)
            if self.weight is not None:
                text += f", weight {self.weight:g}"
            if self.alternatives > 1:
                shown = ""
                if self.contribution is not None and not isinstance(self.contribution, bool):
                    shown = f"; this one gives {_fmt(self.contribution)}"
                text += f"  [{self.alternatives} derivations combined{shown}]"
        lines.append(text)
        for p in self.premises:
            p._render(lines, depth + 1)
        for fact, value in self.negated:
            state = "does not hold" if not value else f"holds to {_fmt(value)}"
            lines.append(f"{pad}  not {fact}: {fact} {state}")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (nested ``premises``)."""
        return {
            "fact": self.fact,
            "value": self.value,
            "kind": self.kind,
            "rule": self.rule,
            "source": self.source,
            "weight": self.weight,
            "bindings": dict(self.bindings),
            "negated": [{"fact": f, "value": v} for f, v in self.negated],
            "derivations": self.alternatives,
            "contribution": self.contribution,
            "premises": [p.to_json() for p in self.premises],
        }

    def to_graph(self) -> nx.DiGraph:
        """A networkx DiGraph: one node per step (id ``"0"``, ``"0.1"``, ...), edges from a
        conclusion to its premises; node attributes are the step's fields."""
        g = nx.DiGraph()

        def add(p: Proof, node: str) -> None:
            g.add_node(node, fact=p.fact, value=p.value, kind=p.kind, rule=p.rule or "",
                       source=p.source or "")  # fmt: skip
            for i, child in enumerate(p.premises):
                cid = f"{node}.{i}"
                add(child, cid)
                g.add_edge(node, cid)

        add(self, "0")
        return g

    def __str__(self) -> str:
        return self.render()
