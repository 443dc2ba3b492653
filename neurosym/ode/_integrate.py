"""The step loops: adaptive (per-sample or joint step control) and fixed-step.

Everything is batched: each sample has its own time, step size, controller history and
status, and acceptance is a mask applied with ``torch.where``. There are no per-sample
Python loops; the host looks at the device only to decide whether to continue (every
``check_every`` steps) and whether a requested time was passed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import final

import torch
from torch import Tensor

from ._controller import AbstractStepController
from ._event import EventFn, event_state, locate_root
from ._solver import AbstractSolver, Field, StepResult
from ._status import Status

__all__ = ["Counted", "RawSolution", "integrate_adaptive", "integrate_fixed"]


@final
class Counted:
    """A vector field that counts its calls (the NFE statistic)."""

    __slots__ = ("f", "n")

    def __init__(self, f: Field) -> None:
        self.f = f
        self.n = 0

    def __call__(self, t: Tensor, y: Tensor) -> Tensor:
        self.n += 1
        return self.f(t, y)


@final
@dataclass(frozen=True, slots=True, eq=False)
class RawSolution:
    """What a step loop returns; :func:`solve` turns it into a :class:`Solution`."""

    ys: Tensor
    status: Tensor
    t_final: Tensor
    y_final: Tensor
    steps: int
    nfe: int
    accepted: Tensor
    rejected: Tensor
    event_t: Tensor | None


def _rms(x: Tensor) -> Tensor:
    return x.square().mean(-1, keepdim=True).sqrt()


def _error_ratio(res: StepResult, rtol: float, atol: float) -> Tensor:
    y0 = res.y0.detach()
    y1 = res.y1.detach()
    if res.y_err is None:
        raise RuntimeError("bug in neurosym.ode: adaptive step without an error estimate")
    scale = atol + rtol * torch.maximum(y0.abs(), y1.abs())
    r = _rms(res.y_err.detach() / scale)
    ok = torch.isfinite(r) & torch.isfinite(y1).all(-1, keepdim=True)
    if res.f1 is not None:
        ok = ok & torch.isfinite(res.f1.detach()).all(-1, keepdim=True)
    return torch.where(ok, r, torch.full_like(r, math.inf))


def _initial_step(
    f: Field, t: Tensor, y: Tensor, f0: Tensor, order: int, rtol: float, atol: float, span: Tensor
) -> Tensor:
    # Hairer, Nørsett & Wanner, Solving ODEs I, II.4: one extra evaluation per batch.
    with torch.no_grad():
        y = y.detach()
        f0 = f0.detach()
        scale = atol + rtol * y.abs()
        d0 = _rms(y / scale)
        d1 = _rms(f0 / scale)
        small = (d0 < 1e-5) | (d1 < 1e-5)
        h0 = torch.where(small, torch.full_like(d0, 1e-6), 0.01 * d0 / d1.clamp_min(1e-30))
        h0 = torch.minimum(h0, span)
        f1 = f(t + h0, y + h0 * f0).detach()
        d2 = _rms((f1 - f0) / scale) / h0
        dmax = torch.maximum(d1, d2)
        h1 = torch.where(
            dmax <= 1e-15,
            torch.maximum(torch.full_like(h0, 1e-6), h0 * 1e-3),
            (0.01 / dmax.clamp_min(1e-30)) ** (1.0 / (order + 1)),
        )
        h = torch.minimum(100 * h0, h1)
        return torch.where(torch.isfinite(h) & (h > 0), h, h0)


def _assemble(idxs: list[Tensor], hits: list[Tensor], vals: list[Tensor], n_times: int) -> Tensor:
    batch, dim = vals[0].shape
    flat = (torch.stack(idxs) * batch + torch.arange(batch, device=vals[0].device)).reshape(-1)
    sel = torch.stack(hits).reshape(-1)
    v = torch.stack(vals).reshape(-1, dim)
    out = v.new_full((n_times * batch, dim), math.nan)
    return out.index_copy(0, flat[sel], v[sel]).view(n_times, batch, dim)


def integrate_adaptive(
    f: Field,
    y0: Tensor,
    ts: Tensor,
    *,
    solver: AbstractSolver,
    controller: AbstractStepController,
    rtol: float,
    atol: float,
    dt0: float | None,
    max_steps: int,
    joint: bool,
    event: EventFn | None,
    check_every: int,
) -> RawSolution:
    """Integrate with error control from ``ts[:, 0]`` to ``ts[:, -1]`` (increasing).

    Args:
        f: the vector field.
        y0: initial states ``(batch, dim)``.
        ts: increasing output times per sample, ``(batch, T)``.
        solver: an adaptive solver.
        controller: the step-size controller.
        rtol: relative tolerance.
        atol: absolute tolerance.
        dt0: the first step size, or ``None`` to select it per sample.
        max_steps: step attempts allowed per sample.
        joint: one step size for the whole batch instead of one per sample.
        event: terminal event function or ``None``.
        check_every: steps between host checks of whether any sample is still active.

    Returns:
        The raw solution.
    """
    fc = Counted(f)
    batch, _ = y0.shape
    n_times = ts.shape[1]
    eo = solver.error_order
    if eo is None:
        raise RuntimeError("bug in neurosym.ode: adaptive loop given a fixed-step solver")
    long = torch.long
    t = ts[:, :1].clone()
    t_end = ts[:, -1:]
    y = y0
    f0 = fc(t, y)
    with torch.no_grad():
        ok0 = torch.isfinite(y0).all(-1) & torch.isfinite(f0).all(-1)
    status = torch.where(ok0, int(Status.SUCCESS), int(Status.NONFINITE)).to(long)
    active = ok0
    if dt0 is None:
        h = _initial_step(fc, t, y, f0, solver.order, rtol, atol, t_end - t)
    else:
        h = torch.full_like(t, dt0)
    if joint:
        h = torch.where(active[:, None], h, math.inf).amin().expand_as(h).clone()
    h = torch.minimum(h, t_end - t)
    ctrl = controller.init(h)
    idxs = [torch.zeros(batch, dtype=long, device=y0.device)]
    hits = [torch.ones(batch, dtype=torch.bool, device=y0.device)]
    vals = [y0]
    next_idx = torch.ones_like(idxs[0])
    steps_b = torch.zeros_like(next_idx)
    acc_b = torch.zeros_like(next_idx)
    rej_b = torch.zeros_like(next_idx)
    last_nonfinite = torch.zeros_like(active)
    event_t: Tensor | None = None
    g_prev: Tensor | None = None
    if event is not None:
        event_t = y0.new_full((batch,), math.nan)
        with torch.no_grad():
            g_prev = event(t, y.detach()).detach().reshape(-1)
    eps4 = 4 * torch.finfo(y0.dtype).eps
    it = 0
    while True:
        if it % check_every == 0 and not bool(active.any()):
            break
        it += 1
        act = active[:, None]
        # Finished and failed samples take zero steps, so they stay finite and cost nothing
        # numerically (and no NaN reaches the backward pass through torch.where).
        h_step = torch.where(act, h, 0.0)
        res = solver.step(fc, t, y, f0, h_step)
        with torch.no_grad():
            ratio_own = _error_ratio(res, rtol, atol)
            if joint:
                ratio = torch.where(act, ratio_own, 0.0).amax().expand_as(ratio_own)
            else:
                ratio = ratio_own
            accept = (ratio <= 1.0) & act
            t_new = torch.where(h_step >= t_end - t, t_end, t + h_step)
            limit = t_new
            cross: Tensor | None = None
            g_new: Tensor | None = None
            theta_e: Tensor | None = None
            if event is not None and g_prev is not None:
                g_new = event(t_new, res.y1.detach()).detach().reshape(-1)
                cross = accept[:, 0] & (g_prev != 0) & (torch.sign(g_prev) != torch.sign(g_new))
                if bool(cross.any()):
                    theta_e = locate_root(solver, res, t, event, g_prev)
                    limit = torch.where(cross[:, None], t + theta_e * h_step, t_new)
                else:
                    cross = None
            h_safe = torch.where(h_step > 0, h_step, 1.0)
        # Dense output for every requested time passed by this step.
        while True:
            with torch.no_grad():
                idxc = next_idx.clamp(max=n_times - 1)
                tgt = ts.gather(1, idxc[:, None])
                hit = accept[:, 0] & (next_idx < n_times) & (tgt[:, 0] <= limit[:, 0])
                if not bool(hit.any()):
                    break
                theta = ((tgt - t) / h_safe).clamp(0.0, 1.0)
            val = solver.interpolate(res, theta)
            val = torch.where(tgt >= t_new, res.y1, val)
            idxs.append(idxc)
            hits.append(hit)
            vals.append(val)
            next_idx = next_idx + hit
        y = torch.where(accept, res.y1, y)
        if res.f1 is not None:
            f0 = torch.where(accept, res.f1, f0)
        else:
            f0 = fc(torch.where(accept, t_new, t), y)
        with torch.no_grad():
            t = torch.where(accept, t_new, t)
            acc0 = accept[:, 0]
            steps_b += active
            acc_b += acc0
            rej_b += active & ~acc0
            h_next, ctrl = controller.adapt(h_step, ratio, accept, ctrl, eo)
            h = torch.where(act, h_next, h)
            active = active & ~(acc0 & (t[:, 0] >= t_end[:, 0]))
            nonfinite = ~torch.isfinite(ratio_own[:, 0])
            last_nonfinite = torch.where(
                acc0, False, torch.where(act[:, 0], nonfinite, last_nonfinite)
            )
        if cross is not None and theta_e is not None and event_t is not None:
            t_e, y_e = event_state(fc, solver, res, t_new - h_step, theta_e, event)  # type: ignore[arg-type]
            y = torch.where(cross[:, None], y_e, y)
            event_t = torch.where(cross, t_e, event_t)
            with torch.no_grad():
                t = torch.where(cross[:, None], t_e.detach()[:, None], t)
                active = active & ~cross
        with torch.no_grad():
            if g_prev is not None and g_new is not None:
                g_prev = torch.where(acc0, g_new, g_prev)
            scale = torch.maximum(t.abs(), t_end.abs()).clamp_min(1.0)
            under = active & (h[:, 0] <= eps4 * scale[:, 0])
            if joint:
                culprit = under & (ratio_own[:, 0] > 1.0)
                under = culprit | (under & ~culprit.any())
            code = torch.where(last_nonfinite, int(Status.NONFINITE), int(Status.DT_UNDERFLOW))
            status = torch.where(under, code, status)
            active = active & ~under
            maxed = active & (steps_b >= max_steps)
            status = torch.where(maxed, int(Status.MAX_STEPS), status)
            active = active & ~maxed
            h = torch.minimum(h, t_end - t)
    return RawSolution(
        ys=_assemble(idxs, hits, vals, n_times),
        status=status,
        t_final=t[:, 0],
        y_final=y,
        steps=it,
        nfe=fc.n,
        accepted=acc_b,
        rejected=rej_b,
        event_t=event_t,
    )


def integrate_fixed(
    f: Field,
    y0: Tensor,
    ts: Tensor,
    *,
    solver: AbstractSolver,
    dt: float | None,
    steps: int | None,
) -> RawSolution:
    """Integrate with fixed steps, landing exactly on every requested time.

    Each interval between requested times is split into the fewest equal steps no longer
    than ``dt`` (or than the whole span divided by ``steps``), shared by the batch.

    Args:
        f: the vector field.
        y0: initial states ``(batch, dim)``.
        ts: increasing output times per sample, ``(batch, T)``.
        solver: any solver (an embedded error estimate is ignored).
        dt: the largest step, or ``None`` when ``steps`` is given.
        steps: the number of steps over the whole span, or ``None``.

    Returns:
        The raw solution; samples with non-finite values get ``NONFINITE``.
    """
    fc = Counted(f)
    batch, _ = y0.shape
    n_times = ts.shape[1]
    with torch.no_grad():
        if steps is not None:
            target = (ts[:, -1] - ts[:, 0]) / steps
        else:
            target = torch.full_like(ts[:, 0], float(dt if dt is not None else 1.0))
        widths = ts[:, 1:] - ts[:, :-1]
        # The small slack keeps an interval that is a whole number of steps from rounding up.
        counts = torch.ceil(widths / target[:, None] - 1e-6).clamp_min(1).amax(0)
        counts_list = [int(c) for c in counts.tolist()]
    y = y0
    out = [y0]
    total = 0
    for i, n in enumerate(counts_list):
        h = (widths[:, i : i + 1] / n).detach()
        t0 = ts[:, i : i + 1]
        for j in range(n):
            t = t0 + j * h
            y = solver.step(fc, t, y, fc(t, y), h).y1
        total += n
        out.append(y)
    ys = torch.stack(out)
    with torch.no_grad():
        finite = torch.isfinite(ys).all(0).all(-1)
    status = torch.where(finite, int(Status.SUCCESS), int(Status.NONFINITE)).to(torch.long)
    n_steps = torch.full((batch,), total, dtype=torch.long, device=y0.device)
    del n_times
    return RawSolution(
        ys=ys,
        status=status,
        t_final=ts[:, -1].detach(),
        y_final=y,
        steps=total,
        nfe=fc.n,
        accepted=n_steps,
        rejected=torch.zeros_like(n_steps),
        event_t=None,
    )
