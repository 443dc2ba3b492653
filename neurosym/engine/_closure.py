"""Transitive closures as graph reachability, for the recursive components that are one.

A recursive component of one binary predicate ``p`` whose recursive rules all have one
of the shapes

- ``p(X, Z) :- p(X, Y), e(Y, Z).`` (recursion on the left, ``e`` from a lower component),
- ``p(X, Z) :- e(X, Y), p(Y, Z).`` (on the right),
- ``p(X, Z) :- p(X, Y), p(Y, Z).`` (on both sides; then no rule of the other shapes),

and whose other rules do not mention ``p`` (they give the base ``B``), has for least
model ``F* ∘ B ∘ E*`` (``E``: the union of the left rules' ``e``, ``F`` of the right
rules'), or the transitive closure ``B+`` with the doubly recursive rule. Semi-naive
evaluation reaches it in as many rounds as the longest path (300 for a 300-node chain),
each round paying a join's fixed costs. Here it is one pass over the graph: each node's
reachable set is a Python integer used as a bit set, computed once per strongly
connected component in reverse topological order (Tarjan), where one ``|`` merges a
whole row of the closure. The rows are then unpacked into pairs by numpy.

Boolean semantics without recorded instances only (as for :mod:`._vector`); the answers
are the same as the joins' (a test compares them on generated graphs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._compile import CLit, CRule
from ._store import Store

__all__ = ["ClosureShape", "closure_shape", "run_closure"]

_MAX_BITS = 1 << 31  # rows x nodes: at most 256 MB of bit sets, else the joins are used
_CHUNK = 1 << 23  # unpacked bits per numpy step (8 MB)


@dataclass(frozen=True)
class ClosureShape:
    pred: str
    base: tuple[int, ...]  # places of the rules that do not mention pred
    left: tuple[str, ...]  # edge predicates of left-recursive rules
    right: tuple[str, ...]  # edge predicates of right-recursive rules
    double: bool
    labels: tuple[str, ...]  # of the recursive rules (for limit messages)


def _var_pair(lit: CLit) -> tuple[int, int] | None:
    """The two variables of a binary literal ``q(A, B)``, or ``None``."""
    if len(lit.atom.args) != 2:
        return None
    (v0, a), (v1, b) = lit.atom.args
    return (a, b) if v0 and v1 and a != b else None


def closure_shape(
    rules: Sequence[CRule], places: Sequence[int], members: set[str]
) -> ClosureShape | None:
    """The closure a recursive component computes, or ``None`` when it is not one."""
    if len(members) != 1:
        return None
    (pred,) = members
    if not pred.endswith("/2"):
        return None
    base: list[int] = []
    left: list[str] = []
    right: list[str] = []
    double = False
    labels: list[str] = []
    for rule, place in zip(rules, places):
        lits = [i for i in rule.body if isinstance(i, CLit)]
        if not any(d == pred for d, _ in rule.deps):
            base.append(place)
            continue
        if len(rule.body) != 2 or len(lits) != 2 or any(i.negated for i in lits) or rule.guards:
            return None
        head = rule.head.args
        if not (head[0][0] and head[1][0]) or head[0][1] == head[1][1]:
            return None
        x, z = head[0][1], head[1][1]
        first, second = lits
        if second.atom.pred == pred and first.atom.pred != pred:
            first, second = second, first  # the recursive literal first
        p1, p2 = _var_pair(first), _var_pair(second)
        if p1 is None or p2 is None:
            return None
        if second.atom.pred == pred:  # p(X, Y), p(Y, Z) in either order
            if p1[0] == x:
                y, ok = p1[1], p2 == (p1[1], z)
            else:
                y, ok = p2[1], p2[0] == x and p1 == (p2[1], z)
            if not ok or y in (x, z):
                return None
            double = True
        elif p1[0] == x and p2 == (p1[1], z) and p1[1] != z:
            left.append(second.atom.pred)
        elif p1[1] == z and p2 == (x, p1[0]) and p1[0] != x:
            right.append(second.atom.pred)
        else:
            return None
        labels.append(rule.label)
    if double and (left or right):
        return None
    if not (double or left or right):
        return None
    return ClosureShape(pred, tuple(base), tuple(left), tuple(right), double, tuple(labels))


def _propagate(succ: list[list[int]], init: list[int]) -> list[int]:
    """The least ``P`` with ``P[v] = init[v] | P[w]`` for every edge ``v -> w``: one value
    per strongly connected component (Tarjan, iterative), successors first."""
    n = len(succ)
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    done = [False] * n
    out = [0] * n
    stack: list[int] = []
    counter = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, 0)]
        while work:
            v, i = work[-1]
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            children = succ[v]
            if i < len(children):
                work[-1] = (v, i + 1)
                w = children[i]
                if index[w] < 0:
                    work.append((w, 0))
                elif on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
                continue
            work.pop()
            if work and low[v] < low[work[-1][0]]:
                low[work[-1][0]] = low[v]
            if low[v] != index[v]:
                continue
            members = []
            while True:
                m = stack.pop()
                on_stack[m] = False
                members.append(m)
                if m == v:
                    break
            acc = 0
            for m in members:
                acc |= init[m]
                for w in succ[m]:
                    if done[w]:
                        acc |= out[w]
            for m in members:
                out[m] = acc
                done[m] = True
    return out


def run_closure(shape: ClosureShape, store: Store, check: Callable[[int], None]) -> int | None:
    """Add the closure's new facts to ``store`` (which holds the base ``B`` already);
    returns how many, or ``None`` when the bit sets would be too large (the caller then
    uses the joins). ``check(n)`` is called with the count before anything is added."""
    ids: dict[Any, int] = {}
    values: list[Any] = []

    def edges(preds: Sequence[str]) -> list[tuple[int, int]]:
        out = []
        for p in preds:
            rel = store.relations.get(p)
            for a, b in rel.tuples if rel is not None else ():
                ia = ids.get(a)
                if ia is None:
                    ia = ids[a] = len(values)
                    values.append(a)
                ib = ids.get(b)
                if ib is None:
                    ib = ids[b] = len(values)
                    values.append(b)
                out.append((ia, ib))
        return out

    base = edges([shape.pred])
    left, right = edges(shape.left), edges(shape.right)
    n = len(values)
    if n == 0:
        return 0
    sources = {a for a, _ in base} | {a for a, _ in right}
    if len(sources) * n > _MAX_BITS:
        return None
    rows = [0] * n
    if shape.double:
        succ: list[list[int]] = [[] for _ in range(n)]
        for a, b in base:
            rows[a] |= 1 << b
            succ[a].append(b)
        rows = _propagate(succ, rows)
    else:
        if left:
            succ = [[] for _ in range(n)]
            for a, b in left:
                succ[a].append(b)
            reach = _propagate(succ, [1 << v for v in range(n)])
            for a, b in base:
                rows[a] |= reach[b]
        else:
            for a, b in base:
                rows[a] |= 1 << b
        if right:
            succ = [[] for _ in range(n)]
            for a, b in right:
                succ[a].append(b)
            rows = _propagate(succ, rows)
    for a, b in base:  # already in the store
        rows[a] &= ~(1 << b)
    order = [v for v in range(n) if rows[v]]
    added = sum(rows[v].bit_count() for v in order)
    check(added)
    if not added:
        return 0
    objects = np.empty(n, dtype=object)
    objects[:] = values
    width = (n + 7) // 8
    step = max(1, _CHUNK // (width * 8))
    target = store.get(shape.pred)
    for start in range(0, len(order), step):
        part = order[start : start + step]
        packed = np.frombuffer(
            b"".join(rows[v].to_bytes(width, "little") for v in part), dtype=np.uint8
        ).reshape(len(part), width)
        bits = np.unpackbits(packed, axis=1, bitorder="little")[:, :n]
        r, c = np.nonzero(bits)
        pairs = np.empty((len(r), 2), dtype=object)
        pairs[:, 0] = objects[np.asarray(part, dtype=np.int64)[r]]
        pairs[:, 1] = objects[c]
        target.extend_lazy(pairs)
    return added
