"""Grounding a goal once into a reusable probabilistic circuit (a BDD whose variables are
constants, learnable weights, or outcomes of neural predicates).

The structure of the provenance does not depend on the probabilities: only which events
exist and how they combine. So a goal is grounded symbolically, once per query shape,
with the engine's own evaluation; the BDD it leaves behind is then evaluated with torch
tensors for every batch (see :mod:`._circuit`).

A neural predicate ``nn(net, [X], D, [d0, ..., dk]) :: digit(X, D)`` is a categorical
choice among k+1 outcomes, not k+1 independent events. It is encoded exactly with binary
variables by stick breaking: outcome j holds when variables 0..j-1 are false and variable
j is true, and variable j has the conditional probability p_j / (1 - p_0 - ... - p_{j-1}).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, final

from neurosym.engine import BDD, AbstractSemiring
from neurosym.errors import EngineError

__all__ = ["LeafSource", "NeuralOutcome", "ParamRef", "StructuralProbability"]


@dataclass(frozen=True, slots=True)
class ParamRef:
    """Stands for a learnable weight (by parameter name) where the engine expects one."""

    name: str
    initial: float


@dataclass(frozen=True, slots=True)
class NeuralOutcome:
    """Stands for outcome ``index`` of ``net`` on input ``key`` (``size`` outcomes)."""

    net: str
    key: str
    index: int
    size: int


# What a BDD variable stands for:
#   ("const", p)                        a fixed probability
#   ("param", name)                     sigmoid(the parameter's logit)
#   ("stick", net, key, j)              conditional probability of outcome j
LeafSource = tuple[Any, ...]


@final
class StructuralProbability(AbstractSemiring[int]):
    """The exact probability semiring, recording what each BDD variable stands for."""

    name = "prob"
    idempotent = True

    def __init__(self, *, max_nodes: int = 2_000_000) -> None:
        self.bdd = BDD(max_nodes=max_nodes)
        self.sources: list[LeafSource] = []
        self._sticks: dict[tuple[str, str], list[int]] = {}

    def _var(self, source: LeafSource) -> int:
        node = self.bdd.var(0.5)  # the probability is supplied at evaluation time
        self.sources.append(source)
        assert len(self.sources) == self.bdd.var_count  # one source per variable
        return node

    def _leaf(self, weight: Any) -> int:
        if isinstance(weight, ParamRef):
            return self._var(("param", weight.name))
        if isinstance(weight, NeuralOutcome):
            return self._outcome(weight)
        p = float(weight)
        if not 0.0 <= p <= 1.0:
            raise EngineError(
                f"weight {p:g} is outside [0, 1]: under probability semantics weights are "
                "probabilities (negative weights mean something only under semantics='cf')"
            )
        return self._var(("const", p))

    def _outcome(self, o: NeuralOutcome) -> int:
        chain = self._sticks.get((o.net, o.key))
        if chain is None:  # the last outcome needs no variable of its own
            chain = [self._var(("stick", o.net, o.key, j)) for j in range(o.size - 1)]
            self._sticks[(o.net, o.key)] = chain
        node = 1
        for j in range(min(o.index, o.size - 1)):
            node = self.bdd.and_(node, self.bdd.not_(chain[j]))
        if o.index < o.size - 1:
            node = self.bdd.and_(node, chain[o.index])
        return node

    def zero(self) -> int:
        return 0

    def one(self) -> int:
        return 1

    def fact(self, weight: Any) -> int:
        return 1 if weight is None else self._leaf(weight)

    def event(self, weight: Any) -> int | None:
        return None if weight is None else self._leaf(weight)

    def rule(self, event: int | None, premise: int) -> int:
        return premise if event is None else self.bdd.and_(premise, event)

    def times(self, a: int, b: int) -> int:
        return self.bdd.and_(a, b)

    def plus_all(self, values: Any) -> int:
        acc = 0
        for v in values:
            acc = self.bdd.or_(acc, v)
        return acc

    def negate(self, a: int) -> int:
        return self.bdd.not_(a)

    def report(self, a: int) -> float:
        return float(a)  # structure only: the numbers come from the circuit
