"""A small reduced ordered binary decision diagram (ROBDD) for exact probabilities.

Under the probability semantics every weighted fact and every ground instance of a
weighted rule is an independent event (ProbLog's distribution semantics). The provenance
of a derived fact is a boolean formula over those events; its probability is computed
exactly on the BDD of the formula by one pass over its nodes (Shannon expansion):
``P(node) = p(var) P(high) + (1 - p(var)) P(low)``.

Nodes are integers: 0 is false, 1 is true; node ``n >= 2`` is ``(var, low, high)``.
Variables are ordered by their number (the order they were created in).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import final

from neurosym.errors import LimitError

__all__ = ["BDD"]

FALSE, TRUE = 0, 1


@final
class BDD:
    """A BDD manager: unique table, operation caches, event probabilities.

    Example:
        >>> b = BDD()
        >>> x, y = b.var(0.5), b.var(0.5)
        >>> b.probability(b.or_(x, y))
        0.75
    """

    def __init__(self, *, max_nodes: int = 2_000_000) -> None:
        self.max_nodes = max_nodes
        self._nodes: list[tuple[int, int, int]] = [(-1, 0, 0), (-1, 1, 1)]
        self._unique: dict[tuple[int, int, int], int] = {}
        self._probs: list[float] = []
        self._and: dict[tuple[int, int], int] = {}
        self._or: dict[tuple[int, int], int] = {}
        self._not: dict[int, int] = {}
        self._pcache: dict[int, float] = {FALSE: 0.0, TRUE: 1.0}

    def __len__(self) -> int:
        return len(self._nodes)

    @property
    def var_count(self) -> int:
        """How many variables (events) exist; the last one made is ``var_count - 1``."""
        return len(self._probs)

    def node(self, u: int) -> tuple[int, int, int]:
        """``(variable, low, high)`` of a node (``(-1, u, u)`` for the terminals 0 and 1).
        A node's children always have smaller numbers than the node itself."""
        return self._nodes[u]

    def var(self, probability: float) -> int:
        """A fresh independent event with the given probability; returns its node."""
        v = len(self._probs)
        self._probs.append(float(probability))
        return self._mk(v, FALSE, TRUE)

    def _mk(self, v: int, low: int, high: int) -> int:
        if low == high:
            return low
        key = (v, low, high)
        node = self._unique.get(key)
        if node is None:
            node = len(self._nodes)
            if node >= self.max_nodes:
                raise LimitError(
                    f"exact probability needs more than {self.max_nodes:,} BDD nodes; raise "
                    "Probability(max_nodes=...), query a narrower goal (backward chaining "
                    "grounds only what the goal needs), or approximate with "
                    "semantics=neurosym.engine.TopKProbability(k=10)",
                    limit="bdd_nodes",
                )
            self._nodes.append(key)
            self._unique[key] = node
        return node

    def _top(self, u: int) -> int:
        v = self._nodes[u][0]
        return v if v >= 0 else 1 << 62

    def and_(self, a: int, b: int) -> int:
        if a == FALSE or b == FALSE:
            return FALSE
        if a == TRUE:
            return b
        if b == TRUE or a == b:
            return a
        return self._apply(a, b, self._and, self.and_)

    def or_(self, a: int, b: int) -> int:
        if a == TRUE or b == TRUE:
            return TRUE
        if a == FALSE:
            return b
        if b == FALSE or a == b:
            return a
        return self._apply(a, b, self._or, self.or_)

    def _apply(
        self, a: int, b: int, cache: dict[tuple[int, int], int], op: Callable[[int, int], int]
    ) -> int:
        """Shannon expansion of a binary operation on the top variable of ``a`` and ``b``."""
        key = (a, b) if a < b else (b, a)
        hit = cache.get(key)
        if hit is not None:
            return hit
        va, vb = self._top(a), self._top(b)
        v = min(va, vb)
        a0, a1 = (self._nodes[a][1], self._nodes[a][2]) if va == v else (a, a)
        b0, b1 = (self._nodes[b][1], self._nodes[b][2]) if vb == v else (b, b)
        result = self._mk(v, op(a0, b0), op(a1, b1))
        cache[key] = result
        return result

    def not_(self, a: int) -> int:
        if a <= TRUE:
            return 1 - a
        hit = self._not.get(a)
        if hit is None:
            v, low, high = self._nodes[a]
            hit = self._mk(v, self.not_(low), self.not_(high))
            self._not[a] = hit
        return hit

    def probability(self, root: int) -> float:
        """Exact probability that the formula at ``root`` holds (iterative, memoised)."""
        cache = self._pcache
        stack = [root]
        while stack:
            u = stack[-1]
            if u in cache:
                stack.pop()
                continue
            v, low, high = self._nodes[u]
            if low in cache and high in cache:
                p = self._probs[v]
                cache[u] = p * cache[high] + (1.0 - p) * cache[low]
                stack.pop()
            else:
                if low not in cache:
                    stack.append(low)
                if high not in cache:
                    stack.append(high)
        return cache[root]
