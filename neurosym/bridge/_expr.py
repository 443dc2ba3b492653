"""Fuzzy, certainty-factor and relaxed Boolean semantics compiled: an expression DAG
evaluated with torch. The relaxed Boolean semantics ignores weights as the engine's Boolean
semantics does, takes a neural outcome's probability as its truth degree, and joins with
min and max (Gödel's operations, which agree with Boolean logic on 0 and 1).

Under these semantics a value is not a probability of a Boolean function but the result
of the semiring's operations applied along the provenance (see
:mod:`neurosym.engine._semiring`). The grounding therefore records the operations
themselves, as a hash-consed DAG whose leaves are weights, learnable weights and neural
outcomes (an outcome's truth degree is the network's output for it, directly); the DAG is
then evaluated node by node with torch tensors over the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, final

import torch

from neurosym.engine import AbstractSemiring
from neurosym.errors import ConfigurationError, LimitError

from ._ground import NeuralOutcome, ParamRef

__all__ = ["ExprGraph", "StructuralExpr", "StructuralLattice", "evaluate_expr"]

Node = tuple[Any, ...]


@final
class ExprGraph:
    """Nodes ``(op, *args)``; children always have smaller ids than their parents."""

    def __init__(self) -> None:
        self.nodes: list[Node] = [("zero",), ("one",)]
        self._ids: dict[Node, int] = {("zero",): 0, ("one",): 1}

    def make(self, node: Node) -> int:
        hit = self._ids.get(node)
        if hit is None:
            hit = self._ids[node] = len(self.nodes)
            self.nodes.append(node)
        return hit


@final
class StructuralExpr(AbstractSemiring[int]):
    """Records a fuzzy or CF computation as an :class:`ExprGraph` (values are node ids)."""

    idempotent = True  # node identity: the same expression is the same value

    def __init__(self, name: str) -> None:
        self.name = name
        self.graph = ExprGraph()

    def zero(self) -> int:
        return 0

    def one(self) -> int:
        return 1

    def _leaf(self, weight: Any) -> int:
        if self.name == "boolean" and not isinstance(weight, NeuralOutcome):
            return 1  # relaxed Boolean: weights do not count, as in the engine
        if isinstance(weight, ParamRef):
            return self.graph.make(("param", weight.name))
        if isinstance(weight, NeuralOutcome):
            return self.graph.make(("outcome", weight.net, weight.key, weight.index))
        return self.graph.make(("const", float(weight)))

    def fact(self, weight: Any) -> int:
        return 1 if weight is None else self._leaf(weight)

    def event(self, weight: Any) -> int | None:
        if weight is None or (self.name == "boolean" and not isinstance(weight, NeuralOutcome)):
            return None
        return self._leaf(weight)

    def rule(self, event: int | None, premise: int) -> int:
        return self.graph.make(("rule", event, premise))

    def times(self, a: int, b: int) -> int:
        if a == 1:
            return b
        if b == 1:
            return a
        return self.graph.make(("times", min(a, b), max(a, b)))

    def plus_all(self, values: Sequence[int]) -> int:
        kept = sorted(v for v in values if v != 0)
        if not kept:
            return 0
        if len(kept) == 1:
            return kept[0]
        return self.graph.make(("plus", tuple(kept)))

    def negate(self, a: int) -> int:
        return self.graph.make(("neg", a))

    def report(self, a: int) -> float:
        return float(a)

    def solve_component(self, keys: list[Any], valuer: Any) -> None:
        """A recursive component as one fixpoint node (called by the engine's valuer):
        each fact becomes a variable, its equation is built once over the variables,
        and the facts' values are the fixpoint's components (:func:`evaluate_expr`
        iterates it with tensors, as the engine iterates with numbers)."""
        comp = len(self.graph.nodes)
        variables = tuple(self.graph.make(("var", comp, i)) for i in range(len(keys)))
        for k, v in zip(keys, variables):
            valuer.values[k] = v
        exprs = tuple(valuer.value_of(k) for k in keys)
        fix = self.graph.make(("fix", comp, variables, exprs))
        for i, k in enumerate(keys):
            valuer.values[k] = self.graph.make(("proj", fix, i))


Proofs = frozenset[frozenset[int]]


@final
class StructuralLattice(AbstractSemiring[Proofs]):
    """Recursive programs under min/max semantics (``"fuzzy-godel"``, relaxed ``"boolean"``):
    a value is the antichain of its proofs, each the set of :class:`ExprGraph` nodes whose
    minimum it takes; the value is the maximum over proofs.

    Min and max are idempotent and absorb (``max(a, min(a, b)) = a``), so a proof that
    contains another adds nothing and is dropped, and going around a cycle repeats a
    node: the set of minimal proofs stops changing after finitely many rounds, which is
    the engine's fixpoint. (Under the product or Łukasiewicz t-norm, or certainty factors,
    a cycle reinforces the value without end: those are not representable this way.)
    ``max_proofs`` bounds the proofs of one value (``LimitError`` beyond).
    """

    idempotent = True

    def __init__(self, name: str, *, max_proofs: int = 10_000) -> None:
        self.name = name
        self.expr = StructuralExpr(name)
        self.graph = self.expr.graph
        self.max_proofs = max_proofs

    def _minimal(self, proofs: set[frozenset[int]]) -> Proofs:
        kept: list[frozenset[int]] = []
        for p in sorted(proofs, key=len):
            if not any(q <= p for q in kept):
                kept.append(p)
        if len(kept) > self.max_proofs:
            raise LimitError(
                f"a value has more than {self.max_proofs:,} minimal proofs under "
                f"{self.name!r}; bind more of the goal's arguments",
                limit="proofs",
            )
        return frozenset(kept)

    @staticmethod
    def _proof(nodes: set[int] | frozenset[int]) -> frozenset[int] | None:
        if 0 in nodes:
            return None  # min with 0: this proof is worth nothing
        return frozenset(nodes - {1})

    def zero(self) -> Proofs:
        return frozenset()

    def one(self) -> Proofs:
        return frozenset({frozenset()})

    def _single(self, node: int) -> Proofs:
        p = self._proof({node})
        return frozenset() if p is None else frozenset({p})

    def fact(self, weight: Any) -> Proofs:
        return self._single(self.expr.fact(weight))

    def event(self, weight: Any) -> int | None:
        return self.expr.event(weight)

    def rule(self, event: int | None, premise: Proofs) -> Proofs:
        return premise if event is None else self.times(premise, self._single(event))

    def times(self, a: Proofs, b: Proofs) -> Proofs:
        out: set[frozenset[int]] = set()
        for pa in a:
            for pb in b:
                out.add(pa | pb)
        return self._minimal(out)

    def plus_all(self, values: Sequence[Proofs]) -> Proofs:
        out: set[frozenset[int]] = set()
        for v in values:
            out |= v
        return self._minimal(out)

    def negate(self, a: Proofs) -> Proofs:
        if not a:
            return self.one()
        if frozenset() in a:
            return self.zero()
        return self._single(self.expr.negate(self.node(a)))

    def node(self, a: Proofs) -> int:
        """The value as one :class:`ExprGraph` node: max over proofs of min over nodes."""
        terms = []
        for p in sorted(a, key=sorted):
            acc = 1
            for u in sorted(p):
                acc = self.expr.times(acc, u)
            terms.append(acc)
        return self.expr.plus_all(terms)

    def report(self, a: Proofs) -> float:
        return float(len(a))  # structure only


def _tnorm(name: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if name in {"fuzzy-godel", "cf", "boolean"}:
        return torch.minimum(a, b)
    if name == "fuzzy-product":
        return a * b
    return (a + b - 1.0).clamp_min(0.0)


def _plus(name: str, xs: list[torch.Tensor]) -> torch.Tensor:
    stacked = torch.stack(xs)
    if name in {"fuzzy-godel", "boolean"}:
        return stacked.max(dim=0).values
    if name == "fuzzy-product":
        return 1.0 - torch.prod(1.0 - stacked, dim=0)
    if name == "fuzzy-lukasiewicz":
        return stacked.sum(dim=0).clamp_max(1.0)
    # EMYCIN: positive and negative evidence separately, then the mixed formula.
    pos = 1.0 - torch.prod(1.0 - stacked.clamp_min(0.0), dim=0)
    neg = -(1.0 - torch.prod(1.0 + stacked.clamp_max(0.0), dim=0))
    denom = 1.0 - torch.minimum(pos.abs(), neg.abs())
    mixed = (pos + neg) / denom.clamp_min(1e-12)
    both = (pos != 0) & (neg != 0)
    return torch.where(both, torch.where(denom <= 1e-12, torch.zeros_like(mixed), mixed), pos + neg)


def _children(node: Node) -> list[int]:
    op = node[0]
    if op == "times":
        return list(node[1:])
    if op == "plus":
        return list(node[1])
    if op in ("neg", "proj"):
        return [node[1]]
    if op == "rule":
        return [x for x in node[1:] if x is not None]
    if op == "fix":
        return [*node[2], *node[3]]
    return []


def evaluate_expr(
    graph: ExprGraph,
    roots: list[int],
    name: str,
    leaf: Any,
    batch: int,
    dtype: torch.dtype,
    device: torch.device,
    *,
    threshold: float = 0.0,
) -> torch.Tensor:
    """Root values ``(batch, len(roots))``; ``leaf(node)`` gives a leaf's ``(batch,)`` values.

    A ``("fix", comp, vars, exprs)`` node is a recursive component's least fixpoint: the
    values of ``vars`` start at 0 and are replaced by those of ``exprs`` until no value
    moves by more than 1e-12 (4 ulp in float32), at most 10,000 rounds, as the engine
    iterates; ``("proj", fix, i)`` reads one of them. Gradients flow through the rounds.
    """
    needed: set[int] = set()
    stack = list(roots)
    while stack:
        u = stack.pop()
        if u in needed:
            continue
        needed.add(u)
        stack.extend(_children(graph.nodes[u]))
    order = sorted(needed)
    # Nodes that depend on a component's variables are evaluated inside its rounds.
    dependent: set[int] = set()
    for u in order:
        node = graph.nodes[u]
        if node[0] == "var" or (
            node[0] not in ("fix", "proj") and any(c in dependent for c in _children(node))
        ):
            dependent.add(u)
    value: dict[int, torch.Tensor] = {}

    def compute(u: int) -> torch.Tensor:
        node = graph.nodes[u]
        op = node[0]
        if op == "zero":
            return torch.zeros(batch, dtype=dtype, device=device)
        if op == "one":
            return torch.ones(batch, dtype=dtype, device=device)
        if op in {"const", "param", "outcome"}:
            return leaf(node)  # type: ignore[no-any-return]
        if op == "times":
            return _tnorm(name, value[node[1]], value[node[2]])
        if op == "plus":
            return _plus(name, [value[c] for c in node[1]])
        if op == "neg":
            x = value[node[1]]
            return 1.0 - x.clamp_min(0.0) if name == "cf" else 1.0 - x
        if op == "rule":
            event, premise = node[1], value[node[2]]
            if name == "cf":
                w = value[event] if event is not None else torch.ones_like(premise)
                return torch.where(premise > threshold, w * premise, torch.zeros_like(premise))
            return premise if event is None else _tnorm(name, value[event], premise)
        if op == "proj":
            return value[node[1]][node[2]]
        if op == "fix":
            return fixpoint(node)
        raise ConfigurationError(f"neurosym bug: unknown expression node {op!r}")

    def fixpoint(node: Node) -> torch.Tensor:
        _, _, variables, exprs = node
        inner: set[int] = set()
        todo = list(exprs)
        while todo:
            u = todo.pop()
            if u in inner or u not in dependent:
                continue
            inner.add(u)
            todo.extend(_children(graph.nodes[u]))
        steps = sorted(u for u in inner if graph.nodes[u][0] != "var")
        tol = max(1e-12, 4 * torch.finfo(dtype).eps)
        x = torch.zeros(len(variables), batch, dtype=dtype, device=device)
        for _ in range(10_000):
            for i, v in enumerate(variables):
                value[v] = x[i]
            for u in steps:
                value[u] = compute(u)
            new = torch.stack([value[e] for e in exprs])
            done = bool(((new - x).abs() <= tol).all())
            x = new
            if done:
                break
        return x

    for u in order:
        if u not in dependent:
            value[u] = compute(u)
    if not roots:
        return torch.zeros(batch, 0, dtype=dtype, device=device)
    return torch.stack([value[r] for r in roots], dim=1)
