"""The result of :func:`neurosym.ode.solve`: values, per-sample status and statistics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, final

import torch
import torch.utils._pytree as pytree
from torch import Tensor

from ._functorch import unwrapped
from ._status import Status

__all__ = ["Solution", "Stats"]


@final
@dataclass(frozen=True, slots=True)
class Stats:
    """Work done by a solve.

    Attributes:
        steps: iterations of the step loop (each one attempts a step for every active
            sample of the batch at once).
        accepted: accepted steps, summed over the batch.
        rejected: rejected steps, summed over the batch.
        nfe: calls of the vector field (each call evaluates the whole batch).
        accepted_per_sample: accepted steps of each sample, shape ``(batch,)``.
        rejected_per_sample: rejected steps of each sample, shape ``(batch,)``.
    """

    steps: int
    accepted: int
    rejected: int
    nfe: int
    accepted_per_sample: Tensor
    rejected_per_sample: Tensor


@final
@dataclass(frozen=True, slots=True, eq=False)
class Solution:
    """Values of an ODE solution at the requested times.

    Attributes:
        ts: the requested times, ``(T,)`` when shared or ``(batch, T)`` per sample.
        ys: the values, shape ``(T, batch, dim)``. Entries a sample did not reach
            (after a failure or a terminal event) are NaN.
        status: ``int64`` tensor of shape ``(batch,)`` holding :class:`Status` codes.
        stats: the work done.
        t_final: the time each sample reached, shape ``(batch,)``.
        y_final: the state at ``t_final``, shape ``(batch, dim)``.
        event_t: with an ``event``, the time it fired for each sample (NaN where it did
            not), differentiable through the implicit function theorem; else ``None``.
    """

    ts: Tensor
    ys: Tensor
    status: Tensor
    stats: Stats
    t_final: Tensor
    y_final: Tensor
    event_t: Tensor | None = None

    @property
    def success(self) -> Tensor:
        """Boolean tensor ``(batch,)``: which samples reached the end."""
        return self.status == int(Status.SUCCESS)

    @property
    def ok(self) -> bool:
        """Whether every sample succeeded."""
        return bool(torch.all(unwrapped(self.success)))

    def failed(self) -> list[int]:
        """Indices of the samples that did not succeed."""
        return [int(i) for i in torch.nonzero(~self.success).flatten()]

    def describe_failure(self) -> str:
        """A readable account of the failed samples, or ``""`` when all succeeded."""
        bad = self.failed()
        if not bad:
            return ""
        lines = []
        for code in Status:
            idx = [i for i in bad if int(self.status[i]) == int(code)]
            if not idx:
                continue
            shown = ", ".join(str(i) for i in idx[:10]) + (" ..." if len(idx) > 10 else "")
            reached = ", ".join(f"{float(self.t_final[i]):.6g}" for i in idx[:5])
            lines.append(
                f"{len(idx)} sample(s) [{shown}] failed with {code.name}: {code.message} "
                f"(time reached: {reached}{' ...' if len(idx) > 5 else ''})"
            )
        return "\n".join(lines)


# Both are pytrees (tensors as children, the integer statistics as static context), so a
# function under torch.func.vmap can return a Solution, and torch.export can export a
# module that returns one (NeuralODE).
_STATS_TENSORS = ("accepted_per_sample", "rejected_per_sample")
_STATS_INTS = ("steps", "accepted", "rejected", "nfe")
_SOLUTION_FIELDS = ("ts", "ys", "status", "stats", "t_final", "y_final", "event_t")


def _flatten_stats(s: Stats) -> tuple[list[Any], tuple[int, ...]]:
    return [getattr(s, n) for n in _STATS_TENSORS], tuple(getattr(s, n) for n in _STATS_INTS)


def _unflatten_stats(children: Iterable[Any], context: tuple[int, ...]) -> Stats:
    steps, accepted, rejected, nfe = context
    acc, rej = children
    return Stats(steps, accepted, rejected, nfe, acc, rej)


def _flatten_stats_keys(s: Stats) -> tuple[list[tuple[Any, Any]], tuple[int, ...]]:
    children, context = _flatten_stats(s)
    return [(pytree.GetAttrKey(n), c) for n, c in zip(_STATS_TENSORS, children)], context


def _fields(s: Solution) -> tuple[str, ...]:
    # event_t is left out when None (vmap returns tensors only); the context says so.
    return _SOLUTION_FIELDS if s.event_t is not None else _SOLUTION_FIELDS[:-1]


def _flatten_solution(s: Solution) -> tuple[list[Any], bool]:
    return [getattr(s, n) for n in _fields(s)], s.event_t is not None


def _unflatten_solution(children: Iterable[Any], _has_event: bool) -> Solution:
    return Solution(*children)


def _flatten_solution_keys(s: Solution) -> tuple[list[tuple[Any, Any]], bool]:
    keyed = [(pytree.GetAttrKey(n), getattr(s, n)) for n in _fields(s)]
    return keyed, s.event_t is not None


pytree.register_pytree_node(
    Stats,
    _flatten_stats,
    _unflatten_stats,
    serialized_type_name="neurosym.ode.Stats",
    to_dumpable_context=list,
    from_dumpable_context=tuple,
    flatten_with_keys_fn=_flatten_stats_keys,
)
pytree.register_pytree_node(
    Solution,
    _flatten_solution,
    _unflatten_solution,
    serialized_type_name="neurosym.ode.Solution",
    to_dumpable_context=lambda has_event: has_event,
    from_dumpable_context=bool,
    flatten_with_keys_fn=_flatten_solution_keys,
)
