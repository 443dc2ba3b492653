"""Evaluating a grounded BDD with torch: exact probabilities, batched, differentiable.

``P(node) = q(var) * P(high) + r(var) * P(low)`` with ``r = 1 - q`` supplied separately
(computed without cancellation, so a confident network keeps its gradient in float32),
evaluated level by level (a node's level is its longest path to a terminal). Each level is
a tensor of its own: a level gathers its children from the lower levels it needs, so the
cost follows the circuit's edges, not levels times the whole table.
"""

from __future__ import annotations

from typing import final

import torch

from neurosym.engine import BDD

__all__ = ["Circuit"]

# (source level, indices in it) pieces, then the permutation into this level's order
_Gather = tuple[list[tuple[int, torch.Tensor]], torch.Tensor | None]


def _gather_plan(where: list[tuple[int, int]]) -> _Gather:
    """How to collect values found at ``(level, position)`` into one tensor, in order."""
    by_level: dict[int, list[int]] = {}
    for k, (lvl, _) in enumerate(where):
        by_level.setdefault(lvl, []).append(k)
    parts: list[tuple[int, torch.Tensor]] = []
    order: list[int] = []
    for lvl in sorted(by_level):
        ks = by_level[lvl]
        parts.append((lvl, torch.tensor([where[k][1] for k in ks], dtype=torch.long)))
        order.extend(ks)
    perm = None
    if order != list(range(len(order))):
        inverse = [0] * len(order)
        for pos, k in enumerate(order):
            inverse[k] = pos
        perm = torch.tensor(inverse, dtype=torch.long)
    return parts, perm


def _collect(levels: list[torch.Tensor], plan: _Gather) -> torch.Tensor:
    parts, perm = plan
    pieces = [levels[lvl].index_select(0, idx.to(levels[lvl].device)) for lvl, idx in parts]
    out = pieces[0] if len(pieces) == 1 else torch.cat(pieces)
    return out if perm is None else out.index_select(0, perm.to(out.device))


@final
class Circuit:
    """The part of a BDD below some roots, laid out for level-by-level evaluation."""

    def __init__(self, bdd: BDD, roots: list[int]) -> None:
        seen: set[int] = set()
        stack = [r for r in roots if r > 1]
        while stack:
            u = stack.pop()
            if u in seen:
                continue
            seen.add(u)
            _, lo, hi = bdd.node(u)
            for c in (lo, hi):
                if c > 1 and c not in seen:
                    stack.append(c)
        order = sorted(seen)  # children have smaller numbers than their parents
        level: dict[int, int] = {0: 0, 1: 0}
        for u in order:
            _, lo, hi = bdd.node(u)
            level[u] = 1 + max(level[lo], level[hi])
        where: dict[int, tuple[int, int]] = {0: (0, 0), 1: (0, 1)}
        by_level: dict[int, list[int]] = {}
        for u in order:
            by_level.setdefault(level[u], []).append(u)
        self.vars = sorted({bdd.node(u)[0] for u in order})
        var_pos = {v: i for i, v in enumerate(self.vars)}
        self.plan: list[tuple[torch.Tensor, _Gather, _Gather]] = []
        for lvl in sorted(by_level):
            nodes = by_level[lvl]
            for i, u in enumerate(nodes):
                where[u] = (lvl, i)
            self.plan.append(
                (
                    torch.tensor([var_pos[bdd.node(u)[0]] for u in nodes], dtype=torch.long),
                    _gather_plan([where[bdd.node(u)[1]] for u in nodes]),
                    _gather_plan([where[bdd.node(u)[2]] for u in nodes]),
                )
            )
        self.roots = _gather_plan([where[r] for r in roots]) if roots else None
        self.size = len(order)

    def __call__(self, q: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """Root probabilities, shape ``(batch, len(roots))``.

        Args:
            q: ``(len(self.vars), batch)``: each variable's probability, ``self.vars`` order.
            r: the same shape: ``1 - q``, computed by the caller without cancellation.
        """
        batch = q.shape[1]
        terminals = torch.zeros(2, batch, dtype=q.dtype, device=q.device)
        terminals = terminals.index_fill(0, torch.tensor([1], device=q.device), 1.0)
        levels = [terminals]
        for var, low_plan, high_plan in self.plan:
            idx = var.to(q.device)
            low = _collect(levels, low_plan)
            high = _collect(levels, high_plan)
            levels.append(r.index_select(0, idx) * low + q.index_select(0, idx) * high)
        if self.roots is None:
            return torch.zeros(batch, 0, dtype=q.dtype, device=q.device)
        return _collect(levels, self.roots).transpose(0, 1)
