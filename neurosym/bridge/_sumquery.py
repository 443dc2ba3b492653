"""A recognised sum of neural digits as a query: its answers in the circuit's order, the
column maps, and the :class:`QueryResult` of a batch (see :mod:`._structure`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, final

import torch

from neurosym.errors import ConfigurationError

from ._result import QueryResult
from ._structure import SumPlan
from ._sums import SumEvaluator, map_assignment

__all__ = ["SumQuery"]


@final
@dataclass(frozen=True)
class SumQuery:
    """A goal recognised as a sum of neural digits, ready to evaluate."""

    plan: SumPlan
    evaluator: SumEvaluator
    answers: list[str]
    bindings: list[dict[str, Any]]
    columns: torch.Tensor  # convolution: the answers' offsets from plan.low, answer order
    dense: torch.Tensor  # convolution: offset from plan.low -> answer column (or n)

    @classmethod
    def build(cls, plan: SumPlan, text: Callable[[dict[str, Any]], str]) -> SumQuery:
        """Answers sorted by their text (``text`` renders bindings as the goal's answer),
        as the grounded circuit lists them."""
        ev = SumEvaluator(plan)
        empty = torch.zeros(0, dtype=torch.long)
        if plan.var is None:
            assert plan.bound is not None  # the Z position is a variable or an integer
            if plan.kind == "convolution":
                hit = plan.bound in plan.support
                cols = torch.tensor([plan.bound - plan.low] if hit else [], dtype=torch.long)
            else:  # reachable iff some combination of possible outcomes makes it
                ones = [[1.0] * len(t.values) for t in plan.terms]
                hit = map_assignment(plan, ones, plan.bound) is not None
                cols = empty
            return cls(plan, ev, [text({})] if hit else [], [{}] if hit else [], cols, empty)
        if plan.kind == "carry":
            return cls(plan, ev, [], [], empty, empty)  # not listed: too many
        var = plan.var
        order = sorted(plan.support, key=lambda v: text({var: v}))
        dense = torch.full((plan.high - plan.low + 1,), len(order), dtype=torch.long)
        for i, v in enumerate(order):
            dense[v - plan.low] = i
        offsets = torch.tensor([v - plan.low for v in order], dtype=torch.long)
        return cls(plan, ev, [text({var: v}) for v in order], [{var: v} for v in order],
                   offsets, dense)  # fmt: skip

    def result(self, probs: list[torch.Tensor], batch: int) -> QueryResult:
        """The result for a batch, from each term's ``(batch, domain)`` distribution."""
        plan, ev = self.plan, self.evaluator
        if plan.kind == "convolution":
            dist = ev.distribution(probs)
            values = dist.index_select(1, self.columns.to(dist.device))
            dense = None if plan.var is None else (plan.var, plan.low, self.dense)
            return QueryResult(self.answers, self.bindings, values, "convolution", _dense=dense)
        if plan.var is None:
            assert plan.bound is not None
            z = torch.full((batch,), plan.bound, dtype=torch.long)
            values = ev.log_prob(probs, z).exp().view(batch, -1)[:, : len(self.answers)]
            return QueryResult(self.answers, self.bindings, values, "carry")

        def log_prob(z: torch.Tensor) -> torch.Tensor:
            if z.dim() == 0:
                z = z.expand(batch)
            if z.shape != (batch,):
                raise ConfigurationError(
                    f"give one value per batch element: expected shape ({batch},), "
                    f"got {tuple(z.shape)}"
                )
            return ev.log_prob(probs, z)

        return QueryResult(None, None, None, "carry", _log_prob=(plan.var, log_prob))
