"""The answers of a compiled program for a batch, and how to pick values out of them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, final

import torch

from neurosym.errors import ConfigurationError, LimitError

__all__ = ["QueryResult"]

_EPS = 1e-12

# log P(var = values[b]) for each batch element b, given int64 values (the carry plan)
LogProb = Callable[[torch.Tensor], torch.Tensor]


@final
@dataclass(frozen=True)
class QueryResult:
    """The answers to a goal for a batch: ``values[b, i]`` is the probability of
    ``answers[i]`` for batch element ``b``.

    ``plan`` says how they were computed: ``"circuit"`` (the grounded BDD),
    ``"convolution"`` or ``"carry"`` (a recognised sum of neural digits; see
    ``Program.plan``), or ``"top-k"`` (the exact probability of the disjunction of each
    answer's ``k`` most probable proofs, a lower bound, when the exact BDD would exceed
    ``max_nodes``). A ``"carry"`` result whose goal leaves Z free does not list its
    answers (there can be 10^15 of them): ask it for the values you need with
    :meth:`select`, :meth:`log_prob` or :meth:`nll`.
    """

    _answers: list[str] | None
    _bindings: list[dict[str, Any]] | None
    _values: torch.Tensor | None
    plan: Literal["circuit", "convolution", "carry", "top-k"] = "circuit"
    _index: dict[tuple[str, Any], int] = field(default_factory=dict, repr=False)
    _log_prob: tuple[str, LogProb] | None = field(default=None, repr=False)
    _dense: tuple[str, int, torch.Tensor] | None = field(default=None, repr=False)

    def _listed(self) -> None:
        if self._values is None:
            var = self._log_prob[0] if self._log_prob else "Z"
            raise LimitError(
                f"this result does not list its answers (plan {self.plan!r}: {var} has too "
                f"many values); use .select({var!r}, values), .log_prob({var!r}, values) or "
                f".nll({var!r}, targets)",
                limit="answers",
            )

    @property
    def answers(self) -> list[str]:
        """The answers, as ground text (raises ``LimitError`` for an unlisted result)."""
        self._listed()
        assert self._answers is not None  # listed results carry all three
        return self._answers

    @property
    def bindings(self) -> list[dict[str, Any]]:
        """Each answer's variable bindings."""
        self._listed()
        assert self._bindings is not None
        return self._bindings

    @property
    def values(self) -> torch.Tensor:
        """``(batch, len(answers))`` probabilities."""
        self._listed()
        assert self._values is not None
        return self._values

    def column(self, var: str, value: Any) -> int | None:
        """The column of the answer binding ``var`` to ``value`` (None if no answer)."""
        if not self._index:
            for i, b in enumerate(self.bindings):
                for k, v in b.items():
                    self._index[(k, v)] = i
        return self._index.get((var, value))

    def _columns(self, var: str, values: torch.Tensor) -> torch.Tensor:
        """Columns of ``var = values[i]`` (``len(answers)`` where there is no answer)."""
        n = self.values.shape[1]
        if self._dense is not None and self._dense[0] == var:
            _, low, cols = self._dense
            shifted = values.to(cols.device) - low
            inside = (shifted >= 0) & (shifted < len(cols))
            return torch.where(inside, cols[shifted.clamp(0, len(cols) - 1)], n)
        return torch.tensor(
            [c if (c := self.column(var, v)) is not None else n for v in values.tolist()],
            dtype=torch.long,
        )

    def select(self, var: str, values: Sequence[Any]) -> torch.Tensor:
        """Probabilities of ``var = v`` for each ``v`` in ``values``: ``(batch, len(values))``,
        zero where no answer binds that value."""
        if self._values is None:
            assert self._log_prob is not None  # unlisted results compute on demand
            self._check_var(var)
            if not values:
                raise ConfigurationError(f"select({var!r}, values) needs at least one value")
            cols = [self._lazy(torch.tensor(int(v), dtype=torch.long)).exp() for v in values]
            return torch.stack(cols, dim=1)
        n = self.values.shape[1]
        if self._dense is not None and all(isinstance(v, int) for v in values):
            index = self._columns(var, torch.tensor(list(values), dtype=torch.long))
        else:
            index = torch.tensor(
                [c if (c := self.column(var, v)) is not None else n for v in values],
                dtype=torch.long,
            )
        padded = torch.cat([self.values, torch.zeros_like(self.values[:, :1])], dim=1)
        return padded.index_select(1, index.to(self.values.device))

    def _check_var(self, var: str) -> None:
        assert self._log_prob is not None
        if var != self._log_prob[0]:
            raise ConfigurationError(
                f"this result gives the distribution of {self._log_prob[0]!r}, not {var!r}"
            )

    def _lazy(self, values: torch.Tensor) -> torch.Tensor:
        assert self._log_prob is not None
        batch = self._log_prob[1]
        return batch(values)

    def log_prob(self, var: str, values: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """``log P(var = values[b])`` for each batch element ``b``: ``(batch,)``.

        ``values`` are the values themselves (integers, one per batch element), not
        indices into a domain. Exact in log space under the ``"carry"`` plan (no
        underflow for long sums); elsewhere the log of :meth:`select`'s probability
        (``-inf`` where it is 0)."""
        values = _as_int64(values)
        if self._log_prob is not None:
            self._check_var(var)
            return self._lazy(values)
        return torch.log(self._picked(var, values))

    def _picked(self, var: str, values: torch.Tensor) -> torch.Tensor:
        index = self._columns(var, values).to(self.values.device)
        padded = torch.cat([self.values, torch.zeros_like(self.values[:, :1])], dim=1)
        return padded.gather(1, index.view(-1, 1)).squeeze(1)

    def nll(
        self, var: str, targets: torch.Tensor, domain: Sequence[Any] | None = None
    ) -> torch.Tensor:
        """Mean negative log-likelihood of ``var = domain[targets[b]]`` over the batch, or
        of ``var = targets[b]`` without a domain (then ``targets`` are the values, as an
        integer tensor: int64 holds a 15-digit sum exactly, a float does not).

        A probability is clamped at 1e-12 before the log (a zero would give an infinite
        loss), except under the ``"carry"`` plan, whose log-probability is exact and
        only clamped at the log of the dtype's smallest normal number (a long sum's
        probability is often below 1e-12 early in training, and its gradient matters)."""
        if domain is not None:
            if self._log_prob is not None:
                targets = torch.as_tensor(list(domain))[targets.long().cpu()]
            else:
                probs = self.select(var, domain)
                picked = probs.gather(1, targets.long().view(-1, 1).to(probs.device)).squeeze(1)
                return -torch.log(picked.clamp_min(_EPS)).mean()
        values = _as_int64(targets)
        if self._log_prob is not None:
            logp = self.log_prob(var, values)
            return -logp.clamp_min(math.log(torch.finfo(logp.dtype).tiny)).mean()
        return -torch.log(self._picked(var, values).clamp_min(_EPS)).mean()


def _as_int64(values: torch.Tensor | Sequence[int]) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        if values.dtype.is_floating_point or values.dtype.is_complex:
            raise ConfigurationError(
                f"values of a variable must be an integer tensor (int64), got {values.dtype}: "
                "a float cannot hold a long sum exactly (2**53 < 10**16); pass "
                "torch.tensor(..., dtype=torch.long)"
            )
        return values.long()
    return torch.tensor(list(values), dtype=torch.long)
