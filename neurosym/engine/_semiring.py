"""Semantics of weights as semirings over provenance.

The engine first finds every ground rule instance that can fire (a boolean fixpoint),
then gives each derived fact the value

    value(fact) = ⊕ over its instances ( rule weight ⊗ ⊗ body values ⊗ ⊗ negate(neg. body) )

in the semiring the user chose. ``⊕`` is given the whole list of alternatives at once
(:meth:`AbstractSemiring.plus_all`) because EMYCIN's combination of certainty factors is
defined on positive and negative evidence separately, not pairwise.

=================  =========  ===============  ===================  ===================
semantics          ⊗ (and)    ⊕ (alternatives)  rule weight w         not p
=================  =========  ===============  ===================  ===================
boolean            and        or               ignored (w > 0)      not p
cf (MYCIN)         min        EMYCIN combine   w · premise if the   1 − max(0, cf(p))
                                               premise > threshold
prob               and of     or of events     an independent       not (exact)
                   events     (exact via BDD)  event per instance
fuzzy-godel        min        max              min(w, ·)            1 − v
fuzzy-product      a·b        a + b − ab       w · ·                1 − v
fuzzy-lukasiewicz  max(0,     min(1, a + b)    max(0, w + · − 1)    1 − v
                   a+b−1)
=================  =========  ===============  ===================  ===================

In a recursive program the values are the least fixpoint of these equations (each ground
instance contributes once). With an idempotent ⊕ (boolean, Gödel, probability) that is the
usual meaning; with a non-idempotent ⊕ (certainty factors, product and Łukasiewicz
co-norms) evidence reinforces itself around a cycle, as those calculi imply.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Generic, Literal, TypeVar, final

from neurosym.errors import ConfigurationError, EngineError

from ._bdd import BDD

__all__ = [
    "SEMANTICS",
    "AbstractSemiring",
    "Boolean",
    "CertaintyFactor",
    "Fuzzy",
    "Probability",
    "SemanticsName",
    "TopKProbability",
    "resolve_semantics",
]

V = TypeVar("V")

SemanticsName = Literal[
    "boolean", "cf", "prob", "fuzzy-godel", "fuzzy-product", "fuzzy-lukasiewicz"
]


class AbstractSemiring(abc.ABC, Generic[V]):
    """How weights combine. Subclasses are final; extend by wrapping."""

    name: str
    #: ⊕ is idempotent (a ⊕ a = a): recursion cannot reinforce a value.
    idempotent: bool

    @abc.abstractmethod
    def zero(self) -> V: ...

    @abc.abstractmethod
    def one(self) -> V: ...

    @abc.abstractmethod
    def fact(self, weight: float | None) -> V:
        """The value of a base fact with this weight (``None``: unweighted)."""

    def event(self, weight: float | None) -> Any:
        """A token for one ground rule instance, made once per instance (default: the
        weight itself; the probability semantics makes an independent event)."""
        return weight

    @abc.abstractmethod
    def rule(self, event: Any, premise: V) -> V:
        """The value a rule instance contributes, given its event and premise (body ⊗)."""

    @abc.abstractmethod
    def times(self, a: V, b: V) -> V: ...

    @abc.abstractmethod
    def plus_all(self, values: Sequence[V]) -> V:
        """Combine alternative derivations of one fact."""

    @abc.abstractmethod
    def negate(self, a: V) -> V: ...

    @abc.abstractmethod
    def report(self, a: V) -> bool | float:
        """The value shown to the user (a float, or a bool under boolean semantics)."""

    def is_zero(self, a: V) -> bool:
        return bool(a == self.zero())

    def close(self, a: V, b: V) -> bool:
        """Values equal for the fixpoint test (floats within 1e-12)."""
        if isinstance(a, float) and isinstance(b, float):
            return abs(a - b) <= 1e-12
        return bool(a == b)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _check_unit(weight: float, what: str, semantics: str) -> float:
    if not 0.0 <= weight <= 1.0:
        raise EngineError(
            f"{what} weight {weight:g} is outside [0, 1]: under {semantics} semantics weights "
            "are probabilities or truth degrees (negative weights mean something only "
            "under semantics='cf')"
        )
    return float(weight)


@final
class Boolean(AbstractSemiring[bool]):
    """Classic Datalog: a fact holds or it does not; a positive weight means true."""

    name = "boolean"
    idempotent = True

    def zero(self) -> bool:
        return False

    def one(self) -> bool:
        return True

    def fact(self, weight: float | None) -> bool:
        return weight is None or weight > 0

    def rule(self, weight: float | None, premise: bool) -> bool:
        return premise and (weight is None or weight > 0)

    def times(self, a: bool, b: bool) -> bool:
        return a and b

    def plus_all(self, values: Sequence[bool]) -> bool:
        return any(values)

    def negate(self, a: bool) -> bool:
        return not a

    def report(self, a: bool) -> bool:
        return bool(a)


@final
class CertaintyFactor(AbstractSemiring[float]):
    """MYCIN/EMYCIN certainty factors in [-1, 1].

    Args:
        threshold: a rule fires only when its premise's certainty exceeds this (MYCIN used
            0.2; the default 0 lets any positive premise fire).

    Example:
        >>> CertaintyFactor().plus_all([0.6, 0.5])  # 0.6 + 0.5 - 0.6*0.5
        0.8
        >>> round(CertaintyFactor().plus_all([0.6, -0.4]), 4)  # (a+b) / (1 - min(|a|,|b|))
        0.3333
    """

    name = "cf"
    idempotent = False

    def __init__(self, *, threshold: float = 0.0) -> None:
        if not 0.0 <= threshold < 1.0:
            raise ConfigurationError(f"threshold must lie in [0, 1), got {threshold!r}")
        self.threshold = float(threshold)

    def zero(self) -> float:
        return 0.0

    def one(self) -> float:
        return 1.0

    def fact(self, weight: float | None) -> float:
        return 1.0 if weight is None else float(weight)

    def rule(self, weight: float | None, premise: float) -> float:
        if premise <= self.threshold:
            return 0.0
        return premise * (1.0 if weight is None else float(weight))

    def times(self, a: float, b: float) -> float:
        return min(a, b)

    def plus_all(self, values: Sequence[float]) -> float:
        pos, neg = 0.0, 0.0
        for v in values:
            if v > 0:
                pos = pos + v - pos * v
            elif v < 0:
                neg = neg + v + neg * v
        if pos == 0.0 or neg == 0.0:
            return pos + neg
        denominator = 1.0 - min(abs(pos), abs(neg))
        # Certain evidence both ways (+1 against -1) cancels to 0; within rounding of it the
        # ratio below is 0/0 and its sign depends on the order of the sums, so it cancels too.
        return 0.0 if denominator <= _CONFLICT else (pos + neg) / denominator

    def negate(self, a: float) -> float:
        return 1.0 - max(0.0, a)

    def report(self, a: float) -> float:
        return float(a)

    def __repr__(self) -> str:
        return f"CertaintyFactor(threshold={self.threshold})"


_CONFLICT = 1e-12
"""Within this of total conflict (+1 against -1), certainty factors cancel to 0."""

_TNORMS = ("godel", "product", "lukasiewicz")


@final
class Fuzzy(AbstractSemiring[float]):
    """Fuzzy truth degrees in [0, 1] with a t-norm and its dual co-norm.

    Args:
        tnorm: ``"godel"`` (min/max), ``"product"`` (a·b / a+b−ab) or ``"lukasiewicz"``
            (max(0, a+b−1) / min(1, a+b)).
    """

    idempotent = False

    def __init__(self, tnorm: Literal["godel", "product", "lukasiewicz"] = "godel") -> None:
        if tnorm not in _TNORMS:
            raise ConfigurationError(f"unknown t-norm {tnorm!r}; choose one of {_TNORMS}")
        self.tnorm = tnorm
        self.name = f"fuzzy-{tnorm}"
        self.idempotent = tnorm == "godel"

    def zero(self) -> float:
        return 0.0

    def one(self) -> float:
        return 1.0

    def fact(self, weight: float | None) -> float:
        return 1.0 if weight is None else _check_unit(weight, "a fact", self.name)

    def rule(self, weight: float | None, premise: float) -> float:
        if weight is None:
            return premise
        return self.times(_check_unit(weight, "a rule", self.name), premise)

    def times(self, a: float, b: float) -> float:
        if self.tnorm == "godel":
            return min(a, b)
        if self.tnorm == "product":
            return a * b
        return max(0.0, a + b - 1.0)

    def plus_all(self, values: Sequence[float]) -> float:
        if self.tnorm == "godel":
            return max(values, default=0.0)
        acc = 0.0
        for v in values:
            acc = acc + v - acc * v if self.tnorm == "product" else min(1.0, acc + v)
        return acc

    def negate(self, a: float) -> float:
        return 1.0 - a

    def report(self, a: float) -> float:
        return float(a)

    def __repr__(self) -> str:
        return f"Fuzzy({self.tnorm!r})"


@final
class Probability(AbstractSemiring[int]):
    """ProbLog's distribution semantics, exact: values are BDD nodes of the provenance.

    Every weighted fact and every ground instance of a weighted rule (one event per
    grounding of all the rule's variables) is an independent event; a derived fact's
    probability is that of the disjunction of its proofs, computed exactly on a BDD.
    Negation is exact too (``not p`` is the complement of p's formula).

    Args:
        max_nodes: the BDD size beyond which a :class:`~neurosym.LimitError` is raised.
    """

    name = "prob"
    idempotent = True

    def __init__(self, *, max_nodes: int = 2_000_000) -> None:
        self.max_nodes = max_nodes
        self.bdd = BDD(max_nodes=max_nodes)

    def fresh(self) -> Probability:
        """A new instance with an empty BDD (each inference run gets its own)."""
        return Probability(max_nodes=self.max_nodes)

    def zero(self) -> int:
        return 0

    def one(self) -> int:
        return 1

    def fact(self, weight: float | None) -> int:
        if weight is None:
            return 1
        return self.bdd.var(_check_unit(weight, "a fact", "prob"))

    def event(self, weight: float | None) -> int | None:
        if weight is None:
            return None
        return self.bdd.var(_check_unit(weight, "a rule", "prob"))

    def rule(self, event: int | None, premise: int) -> int:
        if event is None:
            return premise
        return self.bdd.and_(premise, event)

    def times(self, a: int, b: int) -> int:
        return self.bdd.and_(a, b)

    def plus_all(self, values: Sequence[int]) -> int:
        acc = 0
        for v in values:
            acc = self.bdd.or_(acc, v)
        return acc

    def negate(self, a: int) -> int:
        return self.bdd.not_(a)

    def report(self, a: int) -> float:
        p = self.bdd.probability(a)
        return min(1.0, max(0.0, p)) if math.isfinite(p) else p

    def __repr__(self) -> str:
        return f"Probability(max_nodes={self.max_nodes})"


Proof = tuple[float, frozenset[int]]  # (probability, events) of one proof


@final
class TopKProbability(AbstractSemiring[tuple[Proof, ...]]):
    """The top-k-proofs approximation of :class:`Probability` for large programs.

    A value is the (at most) ``k`` most probable proofs, each a set of independent events;
    a conjunction joins proofs pairwise, alternatives are merged, and only the ``k`` most
    probable survive. The reported probability is the exact probability of the disjunction
    of the kept proofs (a lower bound of the true value, equal to it when a fact has at most
    ``k`` proofs). ``not p`` is taken as an independent event with probability
    ``1 - P(p)``: exact when ``p`` shares no events with the rest of the proof.

    Args:
        k: how many proofs each fact keeps.

    Example:
        >>> import neurosym as ns
        >>> kb = ns.parse("0.6 :: rain. 0.5 :: spr. 0.8 :: cloudy. "
        ...               "wet :- rain, spr. wet :- rain, cloudy.")
        >>> round(ns.infer(kb, semantics=TopKProbability(k=1)).value("wet"), 4)  # best proof
        0.48
        >>> round(ns.infer(kb, semantics=TopKProbability(k=2)).value("wet"), 4)  # both: exact
        0.54
    """

    name = "prob-top-k"
    idempotent = True

    def __init__(self, k: int = 10) -> None:
        if not isinstance(k, int) or k < 1:
            raise ConfigurationError(f"top-k needs k >= 1, got {k!r}")
        self.k = k
        self._probs: list[float] = []
        self._negations: dict[tuple[Proof, ...], int] = {}

    def fresh(self) -> TopKProbability:
        return TopKProbability(self.k)

    def _event(self, p: float) -> int:
        self._probs.append(p)
        return len(self._probs) - 1

    def _weight(self, events: frozenset[int]) -> float:
        w = 1.0
        for e in events:
            w *= self._probs[e]
        return w

    def zero(self) -> tuple[Proof, ...]:
        return ()

    def one(self) -> tuple[Proof, ...]:
        return ((1.0, frozenset()),)

    def fact(self, weight: float | None) -> tuple[Proof, ...]:
        if weight is None:
            return self.one()
        p = _check_unit(weight, "a fact", "prob")
        return ((p, frozenset({self._event(p)})),)

    def event(self, weight: float | None) -> int | None:
        if weight is None:
            return None
        return self._event(_check_unit(weight, "a rule", "prob"))

    def _best(self, proofs: dict[frozenset[int], float]) -> tuple[Proof, ...]:
        ranked = sorted(proofs.items(), key=lambda item: (-item[1], sorted(item[0])))
        return tuple((p, events) for events, p in ranked[: self.k])

    def rule(self, event: int | None, premise: tuple[Proof, ...]) -> tuple[Proof, ...]:
        if event is None:
            return premise
        return self.times(premise, ((self._probs[event], frozenset({event})),))

    def times(self, a: tuple[Proof, ...], b: tuple[Proof, ...]) -> tuple[Proof, ...]:
        out: dict[frozenset[int], float] = {}
        for _, ea in a:
            for _, eb in b:
                events = ea | eb
                if events not in out:
                    out[events] = self._weight(events)
        return self._best(out)

    def plus_all(self, values: Sequence[tuple[Proof, ...]]) -> tuple[Proof, ...]:
        out: dict[frozenset[int], float] = {}
        for v in values:
            for p, events in v:
                out[events] = p
        return self._best(out)

    def negate(self, a: tuple[Proof, ...]) -> tuple[Proof, ...]:
        if not a:
            return self.one()
        event = self._negations.get(a)
        if event is None:
            event = self._negations[a] = self._event(1.0 - self.report(a))
        return ((self._probs[event], frozenset({event})),)

    def report(self, a: tuple[Proof, ...]) -> float:
        bdd = BDD()
        nodes: dict[int, int] = {}
        root = 0
        for _, events in a:
            term = 1
            for e in sorted(events):
                if e not in nodes:
                    nodes[e] = bdd.var(self._probs[e])
                term = bdd.and_(term, nodes[e])
            root = bdd.or_(root, term)
        return bdd.probability(root)

    def __repr__(self) -> str:
        return f"TopKProbability(k={self.k})"


def _factories() -> Mapping[str, Any]:
    return MappingProxyType(
        {
            "boolean": Boolean,
            "cf": CertaintyFactor,
            "prob": Probability,
            "fuzzy-godel": lambda: Fuzzy("godel"),
            "fuzzy-product": lambda: Fuzzy("product"),
            "fuzzy-lukasiewicz": lambda: Fuzzy("lukasiewicz"),
        }
    )


SEMANTICS: Mapping[str, Any] = _factories()
"""The semantics by name (read-only)."""


def resolve_semantics(semantics: SemanticsName | AbstractSemiring[Any]) -> AbstractSemiring[Any]:
    """A fresh semiring object for one run.

    Raises:
        ConfigurationError: an unknown name or a non-semiring object.
    """
    if isinstance(semantics, Probability | TopKProbability):
        return semantics.fresh()
    if isinstance(semantics, AbstractSemiring):
        return semantics
    if isinstance(semantics, str) and semantics in SEMANTICS:
        made: AbstractSemiring[Any] = SEMANTICS[semantics]()
        return made
    raise ConfigurationError(
        f"unknown semantics {semantics!r}; choose one of {', '.join(SEMANTICS)} "
        "or pass a semiring object (e.g. neurosym.engine.CertaintyFactor(threshold=0.2))"
    )
