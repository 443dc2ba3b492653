"""Dense output of the per-sample loop: every output time of a solve at once, from the
steps that passed output times (recorded by ``integrate_adaptive``)."""

from __future__ import annotations

import math
from typing import Any, TypeGuard

import torch
from torch import Tensor

from ._solver import AbstractExplicitRK, AbstractSolver, StepResult

__all__ = ["FLUSH", "Passed", "flush_outputs", "outputs"]

FLUSH = 32
"""Recorded steps kept before they are turned into outputs when no graph holds them
anyway (see :func:`flush_outputs`)."""

Passed = tuple[StepResult, Tensor, Tensor, Tensor]
"""An accepted step that passed output times: the step, its start and end times and the
index of the next output time after it, each ``(batch, 1)``."""


def outputs(
    solver: AbstractSolver,
    y0: Tensor,
    ts: Tensor,
    recs: list[Passed],
    start: Tensor | None = None,
    buf: Tensor | None = None,
) -> Tensor:
    """The solution at every output time ``(n_times, batch, dim)`` by dense output of the
    recorded steps, all at once. What no sample reached stays NaN.

    See :func:`_dense_rows`; a fixed ~35 kernels per solve instead of ~20 per step that
    passes an output time plus a scatter of the pieces, and a small graph for the
    backward pass. ``buf`` and ``start`` are what :func:`flush_outputs` left, if it ran.
    """
    batch, dim = y0.shape
    n_times = ts.shape[1]
    if buf is not None:
        if recs:
            buf = flush_outputs(solver, y0, ts, recs, start, buf)[0]
        return torch.cat([y0[None], buf.view(n_times - 1, batch, dim)])
    if not recs:
        return torch.cat([y0[None], y0.new_full((n_times - 1, batch, dim), math.nan)])
    val, reached = _dense_rows(solver, y0, ts, recs, None)
    if not bool(reached.all()):  # once per solve
        val = torch.where(reached, val, math.nan)
    return torch.cat([y0[None], val.view(n_times - 1, batch, dim)])


def flush_outputs(
    solver: AbstractSolver,
    y0: Tensor,
    ts: Tensor,
    recs: list[Passed],
    start: Tensor | None,
    buf: Tensor | None,
) -> tuple[Tensor, Tensor]:
    """Write the outputs the recorded steps passed into ``buf`` ``((n_times - 1) · batch,
    dim)``, NaN elsewhere when new; return it and the next-output index after them.

    Without a graph to keep, the records need not outlive their outputs: flushing every
    few records bounds the memory of a long forward-only solve (the stages of every
    recorded step would otherwise be held until the end).
    """
    with torch.no_grad():
        val, reached = _dense_rows(solver, y0, ts, recs, start)
        buf = torch.where(reached, val, math.nan if buf is None else buf)
    return buf, recs[-1][3]


def _dense_rows(
    solver: AbstractSolver, y0: Tensor, ts: Tensor, recs: list[Passed], start: Tensor | None
) -> tuple[Tensor, Tensor]:
    """The values at output times ``1 ... n_times - 1`` as rows ``(k - 1) · batch +
    sample`` of a ``((n_times - 1) · batch, dim)`` tensor, and which rows the recorded
    steps reached (at or after ``start``, the next-output index before the first
    record, when given).

    Each output of each sample comes from the first recorded step whose next-output
    index passed it (one batched ``searchsorted``). Each step contributes one row per
    sample to each table of its dense output polynomial (``y0``, ``C_0 ... C_P-1``,
    ``y1``; see :meth:`AbstractSolver.dense_coefficients`) and :class:`_GatherHorner`
    evaluates every output from them at once.
    """
    batch = y0.shape[0]
    n_times = ts.shape[1]
    n_rec = len(recs)
    device = y0.device
    with torch.no_grad():
        after = torch.cat([r[3] for r in recs], 1)
        k = torch.arange(1, n_times, device=device).expand(batch, -1).contiguous()
        which = torch.searchsorted(after, k, right=True)  # (batch, n_times - 1)
        passed = which < n_rec
        if start is not None:
            passed &= k >= start
        reached = passed.T.reshape(-1, 1)
        rows = which.clamp_(max=n_rec - 1).mul_(batch)
        rows = rows.add_(torch.arange(batch, device=device)[:, None]).T.reshape(-1)
        t0 = torch.stack([r[1] for r in recs]).view(-1, 1).index_select(0, rows)
        t1 = torch.stack([r[2] for r in recs]).view(-1, 1).index_select(0, rows)
        h_all = torch.cat([_step_column(r[0].h, y0) for r in recs])
        h = h_all.index_select(0, rows)
        tgt = ts[:, 1:].T.reshape(-1, 1)
        # Rows of unreached outputs point at some step: keep their (unused) theta finite.
        theta = ((tgt - t0) / h.clamp_min(torch.finfo(h.dtype).tiny)).clamp_(0.0, 1.0)
        # An output at (or past) its step's end is that step's y1 exactly: its row reads
        # the second half of the [y0; y1] table at theta 0 (cheaper than a masked select).
        at_end = tgt >= t1
        theta.masked_fill_(at_end, 0.0)
        rows_start = torch.where(at_end[:, 0], rows + n_rec * batch, rows)
    # The recorded steps as one step of a batch n_rec times larger (dense output is row-wise):
    # one table per coefficient of their polynomials, one row per (step, sample).
    steps = [r[0] for r in recs]
    stages = [st.stages for st in steps]
    f1s = [st.f1 for st in steps]
    if _all(stages):
        s_all = torch.cat(stages, 1)
        # Stage solvers (explicit Runge–Kutta) return f1 as their last (FSAL) stage, or
        # the last before the continuous extension's stages from complete_dense.
        extra = len(solver.tableau.dense_c) if isinstance(solver, AbstractExplicitRK) else 0
        f0_all, f1_all = s_all[0], (s_all[-1 - extra] if _all(f1s) else None)
    else:
        s_all = None
        f0_all = torch.cat([st.f0 for st in steps])
        f1_all = torch.cat(f1s) if _all(f1s) else None
    ends = torch.cat([st.y0 for st in steps] + [st.y1 for st in steps])
    merged = StepResult(
        y0=ends[: n_rec * batch], y1=ends[n_rec * batch :],
        y_err=None, f0=f0_all, f1=f1_all, h=h_all, stages=s_all,
    )  # fmt: skip
    poly = solver.dense_coefficients(merged).unbind(0)
    val: Tensor = _GatherHorner.apply(rows, rows_start, theta, ends, *poly)  # type: ignore[no-untyped-call]
    return val, reached


class _GatherHorner(torch.autograd.Function):
    """``ends[rows_start] + Σ_p θ^(p+1) C_p[rows]``: the dense output of every requested
    time from per-step tables ``(n, dim)`` (``ends`` holds the steps' start states, then
    their end states, read at θ = 0 by outputs that fall on a step's end).

    Written as one function so that the forward reuses two buffers of the output's size
    (a gather per coefficient into a scratch buffer, Horner in place) instead of
    allocating ~2 (P + 2) of them: on the CPU a fresh allocation of this size is paged in
    anew by the allocator each time, which cost more than the arithmetic (the dense output
    took 1.3–2.1 ms of a 5 ms solve before, 0.6 ms after). The backward is the transpose:
    one ``index_add`` per table. ``rows``, ``rows_start`` and ``theta`` carry no gradient
    (step times are not differentiated).
    """

    @staticmethod
    def forward(
        rows: Tensor, rows_start: Tensor, theta: Tensor, ends: Tensor, *coeffs: Tensor
    ) -> Tensor:
        out = torch.index_select(coeffs[-1], 0, rows)
        tmp = torch.empty_like(out)
        for c in coeffs[-2::-1]:
            torch.addcmul(torch.index_select(c, 0, rows, out=tmp), out, theta, out=out)
        torch.addcmul(torch.index_select(ends, 0, rows_start, out=tmp), out, theta, out=out)
        return out

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        # (A separate setup_context lets torch.func.grad differentiate through it.)
        rows, rows_start, theta, ends, *coeffs = inputs
        ctx.save_for_backward(rows, rows_start, theta)
        ctx.save_for_forward(rows, rows_start, theta)
        ctx.sizes = (ends.shape[0], coeffs[0].shape[0])

    @staticmethod
    def jvp(ctx: Any, *tangents: Tensor | None) -> Tensor:
        # Forward mode (torch.func.jvp, torch.autograd.forward_ad): the output is linear
        # in the tables, so its tangent is the same Horner sum over the tables' tangents
        # (out of place, absent tangents are zero).
        rows, rows_start, theta = ctx.saved_tensors
        _, _, _, d_ends, *d_coeffs = tangents
        out: Tensor | None = None
        for d in reversed(d_coeffs):
            if out is not None:
                out = out * theta
            if d is not None:
                part = d.index_select(0, rows)
                out = part if out is None else out + part
        if out is not None:
            out = out * theta
        if d_ends is not None:
            part = d_ends.index_select(0, rows_start)
            out = part if out is None else out + part
        if out is None:
            # (Never from solve: a tangent reaching no table would not call jvp.)
            raise RuntimeError("bug in neurosym.ode: dense-output jvp without tangents")
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        rows, rows_start, theta = ctx.saved_tensors
        n_ends, n = ctx.sizes
        needs = ctx.needs_input_grad
        dim = grad.shape[1]
        grads: list[Tensor | None] = [None, None, None]
        grads.append(
            grad.new_zeros(n_ends, dim).index_add_(0, rows_start, grad) if needs[3] else None
        )
        w = grad
        for p in range(len(needs) - 4):
            w = w * theta
            grads.append(grad.new_zeros(n, dim).index_add_(0, rows, w) if needs[4 + p] else None)
        return tuple(grads)


def _all(xs: list[Tensor | None]) -> TypeGuard[list[Tensor]]:
    return all(x is not None for x in xs)


def _step_column(h: Tensor | float, like: Tensor) -> Tensor:
    return h if isinstance(h, Tensor) else like.new_full((like.shape[0], 1), h)
