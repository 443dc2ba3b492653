"""Evaluating a grounded BDD with torch: exact probabilities, batched, differentiable.

``P(node) = p(var) * P(high) + (1 - p(var)) * P(low)``, evaluated level by level: every
node of one level (its longest path to a terminal) is computed by one gather and one
fused multiply-add over the batch, so the cost is a handful of tensor operations per
level, not per node.
"""

from __future__ import annotations

from typing import final

import torch

from neurosym.engine import BDD

__all__ = ["Circuit"]


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
        row = {0: 0, 1: 1}
        for i, u in enumerate(order):
            row[u] = i + 2
        level = {0: 0, 1: 0}
        for u in order:
            _, lo, hi = bdd.node(u)
            level[u] = 1 + max(level[lo], level[hi])
        self.vars = sorted({bdd.node(u)[0] for u in order})
        var_pos = {v: i for i, v in enumerate(self.vars)}
        by_level: dict[int, list[int]] = {}
        for u in order:
            by_level.setdefault(level[u], []).append(u)
        self.levels: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []
        for lvl in sorted(by_level):
            nodes = by_level[lvl]
            self.levels.append(
                (
                    torch.tensor([row[u] for u in nodes]),
                    torch.tensor([var_pos[bdd.node(u)[0]] for u in nodes]),
                    torch.tensor([row[bdd.node(u)[1]] for u in nodes]),
                    torch.tensor([row[bdd.node(u)[2]] for u in nodes]),
                )
            )
        self.rows = len(order) + 2
        self.roots = torch.tensor([row[r] for r in roots], dtype=torch.long)

    def __call__(self, probs: torch.Tensor) -> torch.Tensor:
        """Root probabilities, shape ``(batch, len(roots))``.

        Args:
            probs: ``(len(self.vars), batch)``: the probability of each variable in
                ``self.vars`` order.
        """
        batch = probs.shape[1] if probs.dim() == 2 else 1
        p = torch.zeros(self.rows, batch, dtype=probs.dtype, device=probs.device)
        p = p.index_fill(0, torch.tensor([1], device=probs.device), 1.0)
        for rows, var, lo, hi in self.levels:
            dev = probs.device
            q = probs.index_select(0, var.to(dev))
            low = p.index_select(0, lo.to(dev))
            high = p.index_select(0, hi.to(dev))
            p = p.index_copy(0, rows.to(dev), low + q * (high - low))
        return p.index_select(0, self.roots.to(probs.device)).transpose(0, 1)
