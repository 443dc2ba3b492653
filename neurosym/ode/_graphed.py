"""A step loop captured as a CUDA graph (``solve(..., cuda_graph=True)``).

On a GPU the cost of a small solve is launching kernels, not running them: a Dopri5 step
is about a hundred small kernels besides the network's. Here one loop iteration is
written over static buffers (every tensor it reads or writes keeps its address), captured
as a CUDA graph, and replayed: one launch per step, the completion flag read at
iterations 0, 1, 2, 4, 8 and then every ``check_every``. The captured loop is kept for
the next solve of the same field (the same object, its parameters at the same
addresses), shapes, method, controller and tolerances: capturing costs more than a short
solve. A field that reads tensors replaced since (rather than updated in place) must not
reuse it: :func:`clear_cuda_graphs` drops them all.

The iteration is the accelerators' path of :func:`integrate_adaptive` (no host reads:
masked steps, underflow applied unread, every output time interpolated and masked) with
the outputs scattered into a preallocated buffer instead of a list. It records no
autograd graph, so it runs only under ``torch.no_grad()``. Without capture
(``capture=False``) the same iteration runs eagerly, which is how it is tested on
machines without a GPU.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import Tensor

from neurosym.errors import ConfigurationError

from ._controller import AbstractStepController, ControllerState
from ._integrate import (
    _STRETCH,
    Counted,
    RawSolution,
    _error_covers_f1,
    _error_ratio,
    _finite_rows,
    _initial_step,
    _tolerance,
    underflow_status,
)
from ._solver import AbstractExplicitRK, Field
from ._status import Status

__all__ = ["clear_cuda_graphs", "graph_unsupported", "integrate_graphed"]

# Outputs after the first that one step may interpolate (all of them, masked).
MAX_OUTPUTS = 16


def graph_unsupported(solver: object, n_times: int, *, event: bool, grad: bool) -> str | None:
    """Why a solve cannot run as a captured loop, or ``None`` when it can."""
    if grad:
        return "it records no autograd graph: call it under torch.no_grad()"
    if event:
        return "events need host reads inside the step: drop event="
    if not (isinstance(solver, AbstractExplicitRK) and solver.provides_f1):
        return "it needs an explicit Runge-Kutta method with FSAL (bosh3, dopri5, tsit5, dop853)"
    if solver.clamps_to_outputs:
        return "it needs a method with dense output between steps (bosh3, dopri5, tsit5, dop853)"
    if n_times - 1 > MAX_OUTPUTS:
        return f"it interpolates at most {MAX_OUTPUTS} output times after the first"
    return None


class _Loop:
    """The static buffers of one problem shape, the iteration over them and, once
    captured, its CUDA graph."""

    def __init__(
        self,
        f: Field,
        y0: Tensor,
        ts: Tensor,
        solver: AbstractExplicitRK,
        controller: AbstractStepController,
        rtol: float,
        atol: float,
        max_steps: int,
        joint: bool,
    ) -> None:
        eo = solver.error_order
        if eo is None:
            raise RuntimeError("bug in neurosym.ode: captured loop given a fixed-step solver")
        self.f = f  # held so that its id is not reused while the graph is cached
        self.fc = fc = Counted(f)
        self.solver, self.controller = solver, controller
        self.rtol, self.atol, self.joint = rtol, atol, joint
        check_f1 = not _error_covers_f1(solver)
        batch, dim = y0.shape
        n_times = ts.shape[1]
        device = y0.device
        long = torch.long
        self.ts = ts = ts.contiguous().clone()
        t_end = ts[:, -1:]
        self.t = t = ts[:, :1].clone()
        self.y = y = y0.clone()
        self.f0 = f0 = torch.empty_like(y0)
        self.active = active = torch.empty((batch, 1), dtype=torch.bool, device=device)
        self.status = status = torch.empty((batch,), dtype=long, device=device)
        self.h = h = torch.empty_like(t)
        self.prev1, self.prev2 = prev1, prev2 = torch.empty_like(t), torch.empty_like(t)
        self.next_idx = next_idx = torch.empty((batch, 1), dtype=long, device=device)
        self.steps_b = steps_b = torch.empty_like(next_idx)
        self.acc_b = acc_b = torch.empty_like(next_idx)
        # Outputs as rows (time index * batch + sample), plus one row that masked writes hit.
        self.out = out = y0.new_empty((n_times * batch + 1, dim))
        self.garbage = garbage = n_times * batch
        rows = torch.arange(batch, device=device)[:, None]
        j = torch.arange(max(n_times - 1, 1), device=device)
        eps4 = 4 * torch.finfo(y0.dtype).eps
        t_end_abs = t_end.abs().clamp_min(1.0)
        tiny = torch.finfo(y0.dtype).tiny
        one = y0.new_ones(())
        self.tol = tol = _tolerance(y0, rtol, atol)

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
            # Every step's dense output is evaluated (masked): DOP853's extra stages too.
            res = solver.complete_dense(fc, t, res)
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
            new_status, under = underflow_status(under, ratio_own, one, status, joint)
            still = still & ~under
            maxed = still & (steps_b >= max_steps)
            status.copy_(torch.where(maxed[:, 0], int(Status.MAX_STEPS), new_status))
            active.copy_(still & ~maxed)
            remaining = t_end - t
            h.copy_(torch.where(h_new * _STRETCH >= remaining, remaining, h_new))

        self.iteration = iteration
        self.graph: torch.cuda.CUDAGraph | None = None
        self.calls_per_iteration = 0

    def reset(self, y0: Tensor, ts: Tensor, dt0: float | None) -> None:
        """Load a new problem of the same shape into the buffers (eagerly)."""
        fc, t, y = self.fc, self.t, self.y
        self.ts.copy_(ts)
        t_end = self.ts[:, -1:]
        t.copy_(self.ts[:, :1])
        y.copy_(y0)
        self.f0.copy_(fc(t, y))
        self.active.copy_(_finite_rows(y, self.f0))
        self.status.copy_(
            torch.where(self.active[:, 0], int(Status.SUCCESS), int(Status.NONFINITE))
        )
        if dt0 is None:
            h = _initial_step(fc, t, y, self.f0, self.solver.order, self.tol, t_end - t)
        else:
            h = torch.full_like(t, dt0)
        if self.joint:
            h = torch.where(self.active, h, math.inf).amin().expand_as(h)
        remaining = t_end - t
        self.h.copy_(torch.where(h * _STRETCH >= remaining, remaining, h))
        ctrl = self.controller.init(self.h)
        self.prev1.copy_(ctrl.prev1)
        self.prev2.copy_(ctrl.prev2)
        self.next_idx.fill_(1)
        self.steps_b.zero_()
        self.acc_b.zero_()
        self.out.fill_(math.nan)
        self.out[: y0.shape[0]] = y0


# Captured loops by field and problem shape (the graph replays kernels on fixed
# addresses: the field's parameters and these buffers), the least recently used dropped.
_CACHE: OrderedDict[tuple[object, ...], _Loop] = OrderedDict()
_CACHE_SIZE = 4


def clear_cuda_graphs() -> None:
    """Drop every cached captured loop (and the GPU memory it holds)."""
    _CACHE.clear()


def _key(f: Field, y0: Tensor, ts: Tensor, rest: tuple[object, ...]) -> tuple[object, ...]:
    params: tuple[int, ...] = ()
    if isinstance(f, torch.nn.Module):
        params = tuple(q.data_ptr() for q in f.parameters())
    return (id(f), params, tuple(y0.shape), y0.dtype, y0.device, tuple(ts.shape), *rest)


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
    cache: bool | None = None,
) -> RawSolution:
    """Integrate with error control as :func:`integrate_adaptive` does, one iteration
    per graph replay (see the module docstring; arguments as there). The loop is cached
    for the next solve of the same field and shapes (``cache``, default: when
    capturing)."""
    rest = (type(solver), repr(controller), rtol, atol, max_steps, joint)
    key = _key(f, y0, ts, rest)
    if cache is None:
        cache = capture
    loop = _CACHE.get(key) if cache else None
    if loop is None:
        loop = _Loop(f, y0, ts, solver, controller, rtol, atol, max_steps, joint)
        if cache:
            _CACHE[key] = loop
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    loop.fc.n = 0
    loop.reset(y0, ts, dt0)
    it = 0
    if capture and loop.graph is None:
        # Warm-up iterations on a side stream (real steps: they advance the state), then
        # capture one iteration; replaying the graph runs the next.
        device = y0.device
        stream = torch.cuda.Stream(device=device)  # type: ignore[no-untyped-call]
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            for _ in range(2):
                loop.iteration()
                it += 1
        torch.cuda.current_stream(device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        before = loop.fc.n
        try:
            with torch.cuda.graph(graph):
                loop.iteration()
        except RuntimeError as err:
            _CACHE.pop(key, None)
            raise ConfigurationError(
                "cuda_graph=True: the step could not be captured as a CUDA graph; the field "
                "must use tensor operations on the device only (no host reads, no tensors "
                f"made from Python values inside it): {err}"
            ) from err
        loop.calls_per_iteration = loop.fc.n - before
        loop.fc.n = before
        loop.graph = graph
    run = loop.graph.replay if capture and loop.graph is not None else loop.iteration
    next_check = it
    while True:
        if it >= next_check:
            if not bool(loop.active.any()):
                break
            next_check = it + min(max(it, 1), check_every)
        run()
        it += 1
        if capture:
            loop.fc.n += loop.calls_per_iteration
    batch, dim = y0.shape
    return RawSolution(
        ys=loop.out[: loop.garbage].view(-1, batch, dim).clone(),
        status=loop.status.clone(),
        t_final=loop.t[:, 0].clone(),
        y_final=loop.y.clone(),
        steps=it,
        nfe=loop.fc.n,
        accepted=loop.acc_b[:, 0].clone(),
        rejected=(loop.steps_b - loop.acc_b)[:, 0],
        event_t=None,
    )
