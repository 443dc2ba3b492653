"""Checkpointed backpropagation: memory of one output interval instead of the whole solve.

The forward pass keeps only the states at the requested times; the backward pass
re-runs each interval with autograd on and backpropagates through it. The recomputation
is deterministic, so it retraces the same steps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from ._integrate import RawSolution
from ._solver import Field
from ._status import Status

__all__ = ["solve_checkpointed"]

Runner = Callable[[Field, Tensor, Tensor], RawSolution]


def solve_checkpointed(run: Runner, f: Field, y0: Tensor, ts: Tensor) -> RawSolution:
    """Solve interval by interval under :func:`torch.utils.checkpoint.checkpoint`.

    Args:
        run: solves ``f`` from a state over a ``(batch, 2)`` time grid.
        f: the vector field.
        y0: initial states ``(batch, dim)``.
        ts: increasing output times ``(batch, T)``.

    Returns:
        The raw solution with statistics summed over the intervals; a sample that fails
        in one interval keeps its first failure status.
    """
    outs = [y0]
    y = y0
    status = torch.zeros(y0.shape[0], dtype=torch.long, device=y0.device)
    t_final = ts[:, 0].clone()
    steps = nfe = 0
    acc = torch.zeros_like(status)
    rej = torch.zeros_like(status)
    for i in range(ts.shape[1] - 1):
        grid = ts[:, i : i + 2]
        first: list[RawSolution] = []

        def interval(
            y_start: Tensor, grid: Tensor = grid, first: list[RawSolution] = first
        ) -> Tensor:
            raw = run(f, y_start, grid)
            if not first:
                first.append(raw)
            return raw.ys[-1]

        if torch.is_grad_enabled():
            y_next = checkpoint(interval, y, use_reentrant=False)
        else:
            y_next = interval(y)
        raw = first[0]
        ok = status == int(Status.SUCCESS)
        status = torch.where(ok, raw.status, status)
        t_final = torch.where(ok & (raw.status == int(Status.SUCCESS)), grid[:, 1], t_final)
        t_final = torch.where(ok & (raw.status != int(Status.SUCCESS)), raw.t_final, t_final)
        steps += raw.steps
        nfe += raw.nfe
        acc = acc + raw.accepted
        rej = rej + raw.rejected
        y = y_next
        outs.append(y_next)
    return RawSolution(
        ys=torch.stack(outs),
        status=status,
        t_final=t_final,
        y_final=y,
        steps=steps,
        nfe=nfe,
        accepted=acc,
        rejected=rej,
        event_t=None,
    )
