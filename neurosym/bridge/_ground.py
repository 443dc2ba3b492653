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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, final

from neurosym.engine import BDD, AbstractSemiring
from neurosym.errors import EngineError

__all__ = [
    "LeafSource",
    "NeuralOutcome",
    "ParamRef",
    "StructuralProbability",
    "StructuralTopK",
    "TopKUnsupported",
]


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


class TopKUnsupported(Exception):
    """Raised inside the top-k grounding for what it cannot represent (negation)."""


_TopKValue = tuple[tuple[float, frozenset[int]], ...]


@final
class StructuralTopK(AbstractSemiring[_TopKValue]):
    """The ``k`` most probable proofs of every fact, over leaves that stand for constants,
    learnable weights and neural outcomes (the fallback when the exact BDD is too large).

    A value is at most ``k`` proofs, each a set of leaf ids with its prior score: the
    product of the leaves' probabilities as known at grounding time (a constant's
    weight, a learnable weight's current value, ``1/size`` for a neural outcome, whose
    probability depends on the input). Two different outcomes of one network on one input
    exclude each other, so a proof holding both is dropped. Conjunction joins proofs
    pairwise and alternatives merge; only the ``k`` best survive, ties broken by the leaf
    ids (deterministic). Negation is not represented (:class:`TopKUnsupported`).
    """

    name = "prob-top-k"
    idempotent = True

    def __init__(self, k: int, prior: Callable[[Any], float]) -> None:
        self.k = k
        self.prior = prior
        self.leaves: list[Any] = []  # the weight object of each leaf id
        self._scores: list[float] = []
        self._choice: dict[int, tuple[str, str, int]] = {}  # outcome leaf -> (net, key, index)
        self._outcomes: dict[NeuralOutcome, int] = {}

    def _leaf(self, weight: Any) -> int:
        if isinstance(weight, NeuralOutcome):
            hit = self._outcomes.get(weight)
            if hit is not None:
                return hit
        leaf = len(self.leaves)
        self.leaves.append(weight)
        self._scores.append(self.prior(weight))
        if isinstance(weight, NeuralOutcome):
            self._outcomes[weight] = leaf
            self._choice[leaf] = (weight.net, weight.key, weight.index)
        return leaf

    def _score(self, leaves: frozenset[int]) -> float:
        chosen: dict[tuple[str, str], int] = {}
        score = 1.0
        for leaf in leaves:
            c = self._choice.get(leaf)
            if c is not None and chosen.setdefault((c[0], c[1]), c[2]) != c[2]:
                return 0.0  # two outcomes of one categorical: impossible
            score *= self._scores[leaf]
        return score

    def _best(self, proofs: dict[frozenset[int], float]) -> _TopKValue:
        ranked = sorted(proofs.items(), key=lambda item: (-item[1], sorted(item[0])))
        return tuple((p, leaves) for leaves, p in ranked[: self.k])

    def zero(self) -> _TopKValue:
        return ()

    def one(self) -> _TopKValue:
        return ((1.0, frozenset()),)

    def fact(self, weight: Any) -> _TopKValue:
        if weight is None:
            return self.one()
        leaf = self._leaf(weight)
        return ((self._scores[leaf], frozenset({leaf})),)

    def event(self, weight: Any) -> int | None:
        return None if weight is None else self._leaf(weight)

    def rule(self, event: int | None, premise: _TopKValue) -> _TopKValue:
        if event is None:
            return premise
        return self.times(premise, ((self._scores[event], frozenset({event})),))

    def times(self, a: _TopKValue, b: _TopKValue) -> _TopKValue:
        out: dict[frozenset[int], float] = {}
        for _, la in a:
            for _, lb in b:
                leaves = la | lb
                if leaves not in out:
                    score = self._score(leaves)
                    if score > 0.0:
                        out[leaves] = score
        return self._best(out)

    def plus_all(self, values: Sequence[_TopKValue]) -> _TopKValue:
        out: dict[frozenset[int], float] = {}
        for v in values:
            for p, leaves in v:
                out[leaves] = p
        return self._best(out)

    def negate(self, a: _TopKValue) -> _TopKValue:
        raise TopKUnsupported("the top-k fallback does not compile negation")

    def report(self, a: _TopKValue) -> float:
        return float(len(a))  # structure only: the numbers come from the circuit
