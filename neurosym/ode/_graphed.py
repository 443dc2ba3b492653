"""A step loop captured as a CUDA graph (``solve(..., cuda_graph=True)``).

On a GPU the cost of a small solve is launching kernels, not running them: a Dopri5 step
is about a hundred small kernels besides the network's. Here one loop iteration is
written over static buffers (every tensor it reads or writes keeps its address), captured
once as a CUDA graph, and replayed: one launch per step, the completion flag read at
iterations 0, 1, 2, 4, 8 and then every ``check_every``.

The iteration is the accelerators' path of :func:`integrate_adaptive` (no host reads:
masked steps, underflow applied unread, every output time interpolated and masked) with
the outputs scattered into a preallocated buffer instead of a list. It records no
autograd graph, so it runs only under ``torch.no_grad()``. Without capture
(``capture=False``) the same iteration runs eagerly, which is how it is tested on
machines without a GPU.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._controller import AbstractStepController, ControllerState
from ._integrate import (
    Counted,
    RawSolution,
    _error_covers_f1,
    _error_ratio,
    _finite_rows,
    _initial_step,
    _tolerance,
)
from ._solver import AbstractExplicitRK, Field
from ._status import Status

__all__ = ["graph_unsupported", "integrate_graphed"]

# Outputs after the first that one step may interpolate (all of them, masked).
MAX_OUTPUTS = 16


def graph_unsupported(solver: object, n_times: int, *, event: bool, grad: bool) -> str | None:
    """Why a solve cannot run as a captured loop, or ``None`` when it can."""
    if grad:
        return "it records no autograd graph: call it under torch.no_grad()"
    if event:
        return "events need host reads inside the step: drop event="
    if not (isinstance(solver, AbstractExplicitRK) and solver.provides_f1):
        return "it needs an explicit Runge-Kutta method with FSAL (bosh3, dopri5, tsit5)"
    if solver.clamps_to_outputs:
        return "it needs a method with dense output between steps (bosh3, dopri5, tsit5)"
    if n_times - 1 > MAX_OUTPUTS:
        return f"it interpolates at most {MAX_OUTPUTS} output times after the first"
    return None


def integrate_graphed(
    f: Field,
    y0: Tensor,
    ts: Tensor,
    *,
    solver: AbstractExplicitRK,
    controller: AbstractStepController,
    rtol: float,
    atol: float,
    dt0: float | None,
    max_steps: int,
    joint: bool,
    check_every: int,
    capture: bool = True,
) -> RawSolution:
    """Integrate with error control as :func:`integrate_adaptive` does, one iteration
    per graph replay (see the module docstring; arguments as there)."""
    fc = Counted(f)
    eo = solver.error_order
    if eo is None:
        raise RuntimeError("bug in neurosym.ode: captured loop given a fixed-step solver")
    check_f1 = not _error_covers_f1(solver)
    batch, dim = y0.shape
    n_times = ts.shape[1]
    device = y0.device
    long = torch.long
    ts = ts.contiguous()
    t_end = ts[:, -1:]
    # The state the iteration reads and overwrites in place.
    t = ts[:, :1].clone()
    y = y0.clone()
    f0 = fc(t, y).clone()
    active = _finite_rows(y, f0)
    status = torch.where(active[:, 0], int(Status.SUCCESS), int(Status.NONFINITE)).to(long)
    if dt0 is None:
        h = _initial_step(fc, t, y, f0, solver.order, rtol, atol, t_end - t)
    else:
        h = torch.full_like(t, dt0)
    if joint:
        h = torch.where(active, h, math.inf).amin().expand_as(h)
    h = torch.minimum(h, t_end - t).clone()
    ctrl0 = controller.init(h)
    prev1, prev2 = ctrl0.prev1.clone(), ctrl0.prev2.clone()
    next_idx = torch.ones((batch, 1), dtype=long, device=device)
    steps_b = torch.zeros_like(next_idx)
    acc_b = torch.zeros_like(next_idx)
    # Outputs as rows (time index * batch + sample), plus one row that masked writes hit.
    out = y0.new_full((n_times * batch + 1, dim), math.nan)
    out[:batch] = y0
    garbage = n_times * batch
    rows = torch.arange(batch, device=device)[:, None]
    window = max(n_times - 1, 1)
    j = torch.arange(window, device=device)
    eps4 = 4 * torch.finfo(y0.dtype).eps
    t_end_abs = t_end.abs().clamp_min(1.0)
    tiny = torch.finfo(y0.dtype).tiny
    one = y0.new_ones(())
    tol = _tolerance(y0, rtol, atol)
    clamp = solver.clamps_to_outputs

    def iteration() -> None:
        h_step = h * active
        res = solver.step(fc, t, y, f0, h_step)
        ratio_own = _error_ratio(res, tol, check_f1)
        if joint:
            ratio = torch.where(active, ratio_own, 0.0).amax().expand_as(ratio_own)
        else:
            ratio = ratio_own
        accept = (ratio <= one) & active
        last = h_step >= t_end - t
        t_new = torch.where(last, t_end, t + h_step)
        new_idx = torch.where(accept, torch.searchsorted(ts, t_new, right=True), next_idx)
        valid = j < new_idx - next_idx
        idx = (next_idx + j).clamp_(max=n_times - 1)
        tgt = ts.gather(1, idx)
        theta = ((tgt - t) / h_step.clamp_min(tiny)).clamp_(0.0, 1.0)
        at_end = (tgt >= t_new)[..., None]
        val = torch.where(at_end, res.y1[:, None], solver.interpolate_many(res, theta))
        flat = torch.where(valid, idx * batch + rows, garbage)
        out.index_copy_(0, flat.reshape(-1), val.reshape(-1, dim))
        next_idx.copy_(new_idx)
        y.copy_(torch.where(accept, res.y1, y))
        if res.f1 is None:
            raise RuntimeError("bug in neurosym.ode: captured loop needs an FSAL method")
        f0.copy_(torch.where(accept, res.f1, f0))
        t.copy_(torch.where(accept, t_new, t))
        steps_b.add_(active)
        acc_b.add_(accept)
        h_new, ctrl = controller.adapt(h, ratio, accept, ControllerState(prev1, prev2), eo)
        prev1.copy_(ctrl.prev1)
        prev2.copy_(ctrl.prev2)
        still = active & ~(accept & last)
        under = still & (h_new <= torch.maximum(t.abs(), t_end_abs).mul_(eps4))
        if joint:
            culprit = under & (ratio_own > one)
            under = culprit | (under & ~culprit.any())
        code = torch.where(torch.isinf(ratio_own), int(Status.NONFINITE), int(Status.DT_UNDERFLOW))
        new_status = torch.where(under[:, 0], code[:, 0], status)
        still = still & ~under
        maxed = still & (steps_b >= max_steps)
        status.copy_(torch.where(maxed[:, 0], int(Status.MAX_STEPS), new_status))
        active.copy_(still & ~maxed)
        h.copy_(torch.minimum(h_new, t_end - t))

    if clamp:
        raise RuntimeError("bug in neurosym.ode: captured loop given a method that clamps")
    run = iteration
    calls_per_iteration = 0
    done = 0
    if capture:
        # Warm-up iterations on a side stream (real steps: they advance the state), then
        # capture one iteration; replaying it runs the next.
        stream = torch.cuda.Stream(device=device)  # type: ignore[no-untyped-call]
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            for _ in range(2):
                iteration()
                done += 1
        torch.cuda.current_stream(device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        before = fc.n
        with torch.cuda.graph(graph):
            iteration()
        calls_per_iteration = fc.n - before
        fc.n = before
        run = graph.replay
    it = done
    next_check = it
    while True:
        if it >= next_check:
            if not bool(active.any()):
                break
            next_check = it + min(max(it, 1), check_every)
        run()
        it += 1
        if capture:
            fc.n += calls_per_iteration
    return RawSolution(
        ys=out[:garbage].view(n_times, batch, dim).clone(),
        status=status,
        t_final=t[:, 0],
        y_final=y,
        steps=it,
        nfe=fc.n,
        accepted=acc_b[:, 0],
        rejected=(steps_b - acc_b)[:, 0],
        event_t=None,
    )
