"""The answers of a compiled program for a batch, and how to pick values out of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, final

import torch

__all__ = ["QueryResult"]

_EPS = 1e-12


@final
@dataclass(frozen=True)
class QueryResult:
    """The answers to a goal for a batch: ``values[b, i]`` is the probability of
    ``answers[i]`` for batch element ``b``."""

    answers: list[str]
    bindings: list[dict[str, Any]]
    values: torch.Tensor
    _index: dict[tuple[str, Any], int] = field(default_factory=dict, repr=False)

    def column(self, var: str, value: Any) -> int | None:
        """The column of the answer binding ``var`` to ``value`` (None if no answer)."""
        if not self._index:
            for i, b in enumerate(self.bindings):
                for k, v in b.items():
                    self._index[(k, v)] = i
        return self._index.get((var, value))

    def select(self, var: str, values: Sequence[Any]) -> torch.Tensor:
        """Probabilities of ``var = v`` for each ``v`` in ``values``: ``(batch, len(values))``,
        zero where no answer binds that value."""
        n = self.values.shape[1]
        index = torch.tensor(
            [c if (c := self.column(var, v)) is not None else n for v in values],
            dtype=torch.long,
            device=self.values.device,
        )
        padded = torch.cat([self.values, torch.zeros_like(self.values[:, :1])], dim=1)
        return padded.index_select(1, index)

    def nll(self, var: str, targets: torch.Tensor, domain: Sequence[Any]) -> torch.Tensor:
        """Mean negative log-likelihood of ``var = domain[targets[b]]`` over the batch."""
        probs = self.select(var, domain)
        picked = probs.gather(1, targets.long().view(-1, 1)).squeeze(1)
        return -torch.log(picked.clamp_min(_EPS)).mean()
