"""The adaptive step loops (fixed steps live in ``_fixed_loop``, the per-sample loop's
dense output in ``_dense``).

Two loops share the step and error helpers here (hence the one module):

- the tensor loop, for per-sample control and for joint control on accelerators or
  with events: each sample has its own time, step size, controller history and status,
  and acceptance is a mask applied with ``torch.where`` (skipped on CPU when the whole
  batch moves together). No per-sample Python loops; on an accelerator the host reads
  the device once per step (how many output times the step passed) and every
  ``check_every`` steps (whether any sample is still active);
- the host loop, for joint control on CPU: time, step size, controller and acceptance
  are Python floats.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import final

import torch
from torch import Tensor

from neurosym.errors import ConfigurationError

from ._compiled import compiled_step
from ._controller import (
    AbstractStepController,
    ControllerState,
    PIController,
    PIDController,
)
from ._dense import FLUSH, Passed, _dense_rows, flush_outputs, outputs
from ._event import EventFn, event_state, locate_root
from ._functorch import unwrapped
from ._solver import AbstractExplicitRK, AbstractSolver, Field, StepResult, combined_error
from ._status import Status

__all__ = ["Counted", "RawSolution", "host_loop_applies", "integrate_adaptive"]


@final
class Counted:
    """A vector field that counts its calls (the NFE statistic)."""

    __slots__ = ("f", "n")

    def __init__(self, f: Field) -> None:
        self.f = f
        self.n = 0

    def __call__(self, t: Tensor, y: Tensor) -> Tensor:
        self.n += 1
        out = self.f(t, y)
        if self.n == 1:
            # The first call is checked (later ones would cost every step): a field of
            # the wrong shape otherwise fails deep in a solver's tensor algebra, or
            # broadcasts into a silently wrong solution.
            if not isinstance(out, Tensor):
                raise ConfigurationError(
                    f"the vector field must return a tensor, got {type(out).__name__}"
                )
            if out.shape != y.shape:
                raise ConfigurationError(
                    f"the vector field must return the shape of y, (batch, dim) = "
                    f"{tuple(y.shape)}, got {tuple(out.shape)}"
                )
        return out


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


# A step that would leave a sliver of at most this fraction of itself before the end is
# stretched to land on the end: one step instead of two, for an error ratio at most
# 1.1^5 ≈ 1.6 times the controller's target (Hairer's DOPRI5 code stretches by 1%).
_STRETCH = 1.1


def underflow_status(
    under: Tensor, ratio_own: Tensor, one: Tensor, status: Tensor, joint: bool
) -> tuple[Tensor, Tensor]:
    """The status after a step-size underflow of the samples ``under`` ``(batch, 1)``, and
    which samples fail: under joint control only those that forced the shrinking (their
    own error too large, else the largest), the others go on. A non-finite error is
    ``NONFINITE``."""
    if joint:
        culprit = under & (ratio_own > one)
        worst = torch.where(under, ratio_own, -math.inf).amax()
        under = culprit | (under & ~culprit.any() & (ratio_own >= worst))
    code = torch.where(torch.isinf(ratio_own), int(Status.NONFINITE), int(Status.DT_UNDERFLOW))
    return torch.where(under[:, 0], code[:, 0], status), under


def _stretched(h: float, remaining: float) -> float:
    return remaining if h * _STRETCH >= remaining else h


def _error_ratio(res: StepResult, tol: tuple[float, Tensor, Tensor], check_f1: bool) -> Tensor:
    """RMS of error over tolerance per sample ``(batch, 1)``; ``inf`` where non-finite.

    Called under ``no_grad``. ``tol`` is ``(rtol √dim, atol √dim)`` from
    :func:`_tolerance`, so the RMS is a plain vector norm. One fused pass: a NaN in ``y1``
    reaches the ratio through the scale; an overflow to inf (which the scale would
    swallow) through ``+ inf · 0``, which is NaN. ``check_f1`` adds the same test for
    ``f`` at the new state when the error estimate does not weigh it. (Tensor-tensor
    kernels throughout: a Python scalar operand costs about twice as much on CPU.) A
    step with a second estimate (DOP853) gets the norm of both combined.
    """
    if res.y_err is None:
        raise RuntimeError("bug in neurosym.ode: adaptive step without an error estimate")
    rtol_s, atol_s, zero = tol
    m = torch.maximum(res.y0.abs(), res.y1.abs())
    scale = torch.add(atol_s, m, alpha=rtol_s)
    q = res.y_err / scale
    # (Out of place: in-place addcmul_ has no batching rule under torch.func.vmap.)
    q = torch.addcmul(q, m, zero)
    if check_f1 and res.f1 is not None:
        q = torch.addcmul(q, res.f1, zero)
    r = torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    if res.y_err_low is not None:
        r_low = torch.linalg.vector_norm(res.y_err_low / scale, dim=-1, keepdim=True)
        r = combined_error(r, r_low)
    # (Detached for forward-mode AD too, which no_grad does not stop: a tangent of the
    # error would reach the step sizes and the solution would be differentiated through
    # the step-size control.)
    return torch.nan_to_num_(r, nan=math.inf, posinf=math.inf).detach()


def _tolerance(y0: Tensor, rtol: float, atol: float) -> tuple[float, Tensor, Tensor]:
    root = math.sqrt(y0.shape[-1])
    return rtol * root, y0.new_tensor(atol * root), y0.new_zeros(())


def _finite_rows(y: Tensor, f: Tensor) -> Tensor:
    """``(batch, 1)``: whether a row of ``y`` and of ``f`` is finite (row sums are
    non-finite exactly then, up to overflow, and far cheaper than ``isfinite().all()``)."""
    return torch.isfinite(y.detach().sum(-1, keepdim=True) + f.detach().sum(-1, keepdim=True))


def _error_covers_f1(solver: AbstractSolver) -> bool:
    # The estimate of these pairs weighs the last (FSAL) stage, so a non-finite f(t1, y1)
    # already makes the ratio non-finite.
    if isinstance(solver, AbstractExplicitRK):
        b_err = solver.tableau.b_err
        return b_err is not None and b_err[-1] != 0.0
    return False


def _initial_step(
    f: Field,
    t: Tensor,
    y: Tensor,
    f0: Tensor,
    order: int,
    tol: tuple[float, Tensor, Tensor],
    span: Tensor,
) -> Tensor:
    # Hairer, Nørsett & Wanner, Solving ODEs I, II.4: one extra evaluation per batch. The
    # tolerances in tol are pre-scaled by √dim, so the RMS norms are plain vector norms.
    rtol_s, atol_s, _ = tol
    with torch.no_grad():
        y = y.detach()
        f0 = f0.detach()
        scale = torch.add(atol_s, y.abs(), alpha=rtol_s)
        d0 = torch.linalg.vector_norm(y / scale, dim=-1, keepdim=True)
        d1 = torch.linalg.vector_norm(f0 / scale, dim=-1, keepdim=True)
        h0 = torch.where(torch.minimum(d0, d1) < 1e-5, 1e-6, (d0 / d1).mul_(0.01))
        h0 = torch.minimum(h0, span)
        f1 = f(t + h0, torch.addcmul(y, h0, f0)).detach()
        d2 = torch.linalg.vector_norm((f1 - f0) / scale, dim=-1, keepdim=True) / h0
        dmax = torch.maximum(d1, d2)
        # (0.01 / dmax)^(1 / (order + 1)), or max(1e-6, h0 / 1000) when dmax is tiny.
        h1 = torch.where(
            dmax <= 1e-15, (h0 * 1e-3).clamp_min_(1e-6), (dmax * 100).pow_(-1.0 / (order + 1))
        )
        h = torch.minimum(h0 * 100, h1)
        return torch.where(h > 0, h, h0)  # also h0 where h is NaN


def host_loop_applies(
    solver: AbstractSolver,
    controller: AbstractStepController,
    device: torch.device,
    event: EventFn | None,
    *,
    anywhere: bool = False,
) -> bool:
    """Whether joint step control runs on host floats (:func:`_integrate_joint_cpu`):
    on the CPU (on any device with ``anywhere``: under ``torch.func.vmap``, where it is
    the one adaptive loop), without events, for an explicit FSAL Runge–Kutta method
    under a PI(D) controller. Elsewhere joint control is the tensor loop with one shared
    step size."""
    return (
        event is None
        and (anywhere or device.type == "cpu")
        and isinstance(solver, AbstractExplicitRK)
        and solver.provides_f1
        and isinstance(controller, (PIDController, PIController))
    )


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
    compact: bool = False,
    compile: bool = False,
    max_step: float | None = None,
    mapped: bool = False,
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
        compile: run each step through :func:`~neurosym.ode._compiled.compiled_step`
            (an explicit Runge–Kutta solver).
        compact: per-sample control, reading the device every step: whenever the active
            samples fall to half of the batch being stepped, drop the others from it (the
            field is then called on the active rows only; see :class:`_Compacted`).
        max_step: the largest step size, or ``None``.
        mapped: the solve runs under ``torch.func.vmap``, where joint control is the host
            loop on any device.

    Returns:
        The raw solution.
    """
    fc = Counted(f)
    grad_mode = torch.is_grad_enabled()
    eo = solver.error_order
    if eo is None:
        raise RuntimeError("bug in neurosym.ode: adaptive loop given a fixed-step solver")
    check_f1 = not _error_covers_f1(solver)
    clamp = solver.clamps_to_outputs
    if (
        joint
        and host_loop_applies(solver, controller, y0.device, event, anywhere=mapped)
        and isinstance(solver, AbstractExplicitRK)  # (for the type checker)
        and isinstance(controller, (PIDController, PIController))
    ):
        return _integrate_joint_cpu(
            fc, y0, ts, solver, controller, rtol, atol, dt0, max_steps, check_f1, eo, clamp,
            compile, max_step,
        )  # fmt: skip
    batch, _ = y0.shape
    n_times = ts.shape[1]
    long = torch.long
    ts = ts.contiguous()  # for searchsorted
    t = ts[:, :1].clone()
    t_end = ts[:, -1:]
    y = y0
    f0 = fc(t, y)
    with torch.no_grad():
        active = _finite_rows(y0, f0)
        status = torch.where(active[:, 0], int(Status.SUCCESS), int(Status.NONFINITE)).to(long)
        tol = _tolerance(y0, rtol, atol)
        # (Compaction changes the batch size: dynamic shapes, not a compilation per size.)
        step_fn = compiled_step(f, solver, tol, check_f1, compact) if compile else None
        if dt0 is None:
            h = _initial_step(fc, t, y, f0, solver.order, tol, t_end - t)
        else:
            h = torch.full_like(t, dt0)
        if joint:
            h = torch.where(active, h, math.inf).amin().expand_as(h).clone()
        remaining = t_end - t
        h = torch.where(h * _STRETCH >= remaining, remaining, h)
        if max_step is not None:
            h = h.clamp_max(max_step)
        eps4 = 4 * torch.finfo(y0.dtype).eps
        t_end_abs = t_end.abs().clamp_min(1.0)
        # A step underflows below 4 eps max(|t|, |t_end|, 1). When |t0| is below
        # max(|t_end|, 1) (e.g. any solve starting at 0) that bound is the same at every t
        # of the span, so it is computed once.
        floor = (t_end_abs * eps4) if bool((ts[:, :1].abs() <= t_end_abs).all()) else None
        # 0-d constants: comparisons against them are cheaper than against Python floats.
        one = y0.new_ones(())
    ctrl = controller.init(h)
    device = y0.device
    recs: list[Passed] = []
    buf: Tensor | None = None  # outputs of flushed records
    start: Tensor | None = None  # next-output index after them
    next_idx = torch.ones((batch, 1), dtype=long, device=device)
    idx_sum = batch
    steps_b = torch.zeros_like(next_idx)
    acc_b = torch.zeros_like(next_idx)
    event_t: Tensor | None = None
    g_prev: Tensor | None = None
    if event is not None:
        event_t = y0.new_full((batch,), math.nan)
        with torch.no_grad():
            g_prev = event(t, y.detach()).detach().reshape(-1)
        if g_prev.shape[0] != batch:
            raise ConfigurationError(
                f"event(t, y) must return one value per sample, shape ({batch},), got "
                f"{g_prev.numel()} value(s) for a batch of {batch}"
            )
    # Reading a flag is free on CPU: there (unless asked to check only every few steps,
    # as on accelerators) the loop skips the masking whenever the whole batch moves
    # together (all active, all accepted), the common case.
    host = check_every == 1
    # Elsewhere the loop never reads the device inside a step: completion is read at
    # iterations 0, 1, 2, 4, 8, then every ``check_every`` (a short solve wastes at most
    # about as many iterations as it took), underflow is applied without asking whether
    # any sample underflowed, and every step is recorded for the dense output instead of
    # reading whether it passed an output time.
    next_check = 0
    it = 0
    uniform = 0  # steps in which every sample was active and accepted
    # Set once samples have been dropped from the batch being stepped (compact=True).
    packed: _Compacted | None = None
    compact = compact and host and not joint
    while True:
        if host:
            n_active = int(active.sum())
            if n_active == 0:
                break
            if compact and 2 * n_active <= batch:
                if packed is None:
                    packed = _Compacted(y0, n_times)
                steps_b += uniform
                acc_b += uniform
                uniform = 0
                packed.store(solver, ts, recs, start, buf, status, t, y, steps_b, acc_b, event_t)
                keep = active[:, 0].nonzero()[:, 0]
                recs, buf = [], packed.outputs_of(keep)
                ts, t, y, f0, h, remaining, t_end = (
                    x.index_select(0, keep) for x in (ts, t, y, f0, h, remaining, t_end)
                )
                status, next_idx, steps_b, acc_b, active, t_end_abs = (
                    x.index_select(0, keep)
                    for x in (status, next_idx, steps_b, acc_b, active, t_end_abs)
                )
                start = next_idx
                idx_sum = int(next_idx.sum())
                if floor is not None:
                    floor = floor.index_select(0, keep)
                ctrl = ControllerState(
                    ctrl.prev1.index_select(0, keep), ctrl.prev2.index_select(0, keep)
                )
                if event_t is not None and g_prev is not None:
                    event_t, g_prev = event_t[keep], g_prev[keep]
                batch = n_active
        elif it >= next_check:
            if not bool(active.any()):
                break
            next_check = it + min(max(it, 1), check_every)
        it += 1
        # Finished and failed samples take zero steps, so they stay finite and cost nothing
        # numerically (and no NaN reaches the backward pass through torch.where).
        full = host and n_active == batch
        t_next: Tensor | None = None
        if clamp:
            # End the step on the next output time when it falls inside (the controller
            # keeps its own, unclamped step size in h).
            with torch.no_grad():
                t_next = ts.gather(1, next_idx.clamp(max=n_times - 1))
                h_try = torch.minimum(h, t_next - t)
        else:
            h_try = h
        h_step = h_try if full else h_try * active
        if step_fn is not None:
            res, ratio_own = step_fn(t, y, f0, h_step, tol)
            fc.n += step_fn.evals
        else:
            res = solver.step(fc, t, y, f0, h_step)
            with torch.no_grad():
                ratio_own = _error_ratio(res, tol, check_f1)
        with torch.no_grad():
            if joint:
                ratio = torch.where(active, ratio_own, 0.0).amax().expand_as(ratio_own)
            else:
                ratio = ratio_own
            accept = ratio <= one if full else (ratio <= one) & active
            all_accepted = full and bool(accept.all())
            if t_next is None:
                last = h_step >= remaining
                t_new = torch.where(last, t_end, t + h_step)
            else:
                hit = h_step >= t_next - t
                t_new = torch.where(hit, t_next, t + h_step)
                last = hit & (t_next >= t_end)
            limit = t_new
            cross: Tensor | None = None
            g_new: Tensor | None = None
            theta_e: Tensor | None = None
            if event is not None and g_prev is not None:
                g_new = event(t_new, res.y1.detach()).detach().reshape(-1)
                cross = accept[:, 0] & (g_prev != 0) & (torch.sign(g_prev) != torch.sign(g_new))
                if bool(cross.any()):
                    # In the caller's grad mode: the completed step (DOP853's extra stages)
                    # is the one recorded for the outputs and the event state below, so
                    # stages evaluated without a graph would drop their terms from the
                    # derivatives (reverse mode only: no_grad does not stop tangents).
                    with torch.set_grad_enabled(grad_mode):
                        res = solver.complete_dense(fc, t, res)
                    theta_e = locate_root(solver, res, t, event, g_prev)
                    limit = torch.where(cross[:, None], t + theta_e * h_step, t_new)
                else:
                    cross = None
            # Every requested time this step passed, for all samples at once (the index
            # never decreases, so its sum tells whether any sample passed one; without
            # host reads every step is recorded instead).
            passed = torch.searchsorted(ts, limit, right=True)
            new_idx = passed if all_accepted else torch.where(accept, passed, next_idx)
            new_sum = int(new_idx.sum()) if host else idx_sum + 1
        if new_sum > idx_sum:
            # Interpolated at the end, all at once (see _dense.outputs), or every FLUSH records
            # when there is no graph to keep.
            recs.append((solver.complete_dense(fc, t, res), t, t_new, new_idx))
            next_idx = new_idx
            idx_sum = new_sum
            if len(recs) >= FLUSH and not res.y1.requires_grad:
                buf, start = flush_outputs(solver, y, ts, recs, start, buf)
                recs = []
        t_old = t
        if all_accepted:
            y = res.y1
            f0 = res.f1 if res.f1 is not None else fc(t_new, y)
            t = t_new
        else:
            y = torch.where(accept, res.y1, y)
            if res.f1 is not None:
                f0 = torch.where(accept, res.f1, f0)
            else:
                f0 = fc(torch.where(accept, t_new, t), y)
            with torch.no_grad():
                t = torch.where(accept, t_new, t)
        with torch.no_grad():
            if all_accepted:
                uniform += 1  # added to both counters at the end
            else:
                steps_b += active
                acc_b += accept
            # Inactive samples get a meaningless h here; they never step again (h * active)
            # and the bound by the remaining span below keeps it finite.
            h_new, ctrl = controller.adapt(h_try, ratio, accept, ctrl, eo)
            # A step shortened to land on an output time does not shrink the next one.
            h = (
                torch.where(accept & (h_try < h), torch.maximum(h_new, h), h_new)
                if clamp
                else h_new
            )
            # All accepted (so all were active): the finished ones are those at the end.
            active = ~last if all_accepted else active & ~(accept & last)
        if cross is not None and theta_e is not None and event_t is not None:
            t_e, y_e = event_state(fc, solver, res, t_old, theta_e, event)  # type: ignore[arg-type]
            y = torch.where(cross[:, None], y_e, y)
            event_t = torch.where(cross, t_e, event_t)
            with torch.no_grad():
                t = torch.where(cross[:, None], t_e.detach()[:, None], t)
                active = active & ~cross[:, None]
        with torch.no_grad():
            if g_prev is not None and g_new is not None:
                g_prev = torch.where(accept[:, 0], g_new, g_prev)
            if floor is None:
                under = active & (h <= torch.maximum(t.abs(), t_end_abs).mul_(eps4))
            else:
                under = active & (h <= floor)
            if not host or bool(under.any()):
                status, under = underflow_status(under, ratio_own, one, status, joint)
                active = active & ~under
            if it >= max_steps:
                maxed = active & (steps_b >= max_steps - uniform)
                status = torch.where(maxed[:, 0], int(Status.MAX_STEPS), status)
                active = active & ~maxed
            remaining = t_end - t
            h = torch.where(h * _STRETCH >= remaining, remaining, h)
            if max_step is not None:
                h = h.clamp_max(max_step)
    steps_b += uniform
    acc_b += uniform
    if packed is not None:
        packed.store(solver, ts, recs, start, buf, status, t, y, steps_b, acc_b, event_t)
        return RawSolution(
            ys=packed.ys(),
            status=packed.status,
            t_final=packed.t[:, 0],
            y_final=packed.y,
            steps=it,
            nfe=fc.n,
            accepted=packed.acc[:, 0],
            rejected=(packed.steps - packed.acc)[:, 0],
            event_t=packed.event_t,
        )
    return RawSolution(
        ys=outputs(solver, y0, ts, recs, start, buf),
        status=status,
        t_final=t[:, 0],
        y_final=y,
        steps=it,
        nfe=fc.n,
        accepted=acc_b[:, 0],
        rejected=(steps_b - acc_b)[:, 0],
        event_t=event_t,
    )


class _Compacted:
    """The whole batch's results while the loop steps only some of its samples.

    ``rows`` are the samples being stepped (indices into the whole batch). Each time the
    loop drops samples, :meth:`store` turns its recorded steps into outputs and writes
    every sample it was stepping (finished ones included) into the whole-batch tensors;
    :meth:`outputs_of` starts the outputs of the next, smaller batch from what is known.
    Out-of-place ``index_copy`` throughout, so gradients flow to every piece.
    """

    def __init__(self, y0: Tensor, n_times: int) -> None:
        batch, dim = y0.shape
        device = y0.device
        self.y0 = y0
        self.n_out = n_times - 1
        self.rows = torch.arange(batch, device=device)
        self.out = y0.new_full((self.n_out * batch, dim), math.nan)
        self.status = torch.zeros(batch, dtype=torch.long, device=device)
        self.t = y0.new_zeros(batch, 1)
        self.y = y0
        self.steps = torch.zeros(batch, 1, dtype=torch.long, device=device)
        self.acc = torch.zeros_like(self.steps)
        self.event_t: Tensor | None = None

    def _flat(self, rows: Tensor) -> Tensor:
        # Output rows k · batch + sample of the given samples, for k = 1 ... n_times - 1.
        batch = self.y0.shape[0]
        ks = torch.arange(self.n_out, device=rows.device)[:, None] * batch
        return (ks + rows[None, :]).reshape(-1)

    def store(
        self,
        solver: AbstractSolver,
        ts: Tensor,
        recs: list[Passed],
        start: Tensor | None,
        buf: Tensor | None,
        status: Tensor,
        t: Tensor,
        y: Tensor,
        steps: Tensor,
        acc: Tensor,
        event_t: Tensor | None,
    ) -> None:
        """Write the stepped samples' outputs and final state into the whole batch."""
        rows = self.rows
        vals: Tensor | None = buf
        if recs:
            val, reached = _dense_rows(solver, y, ts, recs, start)
            vals = torch.where(reached, val, math.nan if buf is None else buf)
        if vals is not None:
            self.out = self.out.index_copy(0, self._flat(rows), vals)
        self.status = self.status.index_copy(0, rows, status)
        self.t = self.t.index_copy(0, rows, t)
        self.y = self.y.index_copy(0, rows, y)
        self.steps = self.steps.index_copy(0, rows, steps)
        self.acc = self.acc.index_copy(0, rows, acc)
        if event_t is not None:
            whole = event_t.new_full((self.y0.shape[0],), math.nan)
            self.event_t = (whole if self.event_t is None else self.event_t).index_copy(
                0, rows, event_t
            )

    def outputs_of(self, keep: Tensor) -> Tensor:
        """Keep the samples ``keep`` (indices into the stepped ones); return their outputs
        so far as the next batch's output buffer."""
        self.rows = self.rows.index_select(0, keep)
        return self.out.index_select(0, self._flat(self.rows))

    def ys(self) -> Tensor:
        batch, dim = self.y0.shape
        return torch.cat([self.y0[None], self.out.view(self.n_out, batch, dim)])


def _integrate_joint_cpu(
    fc: Counted,
    y0: Tensor,
    ts: Tensor,
    solver: AbstractExplicitRK,
    controller: PIDController | PIController,
    rtol: float,
    atol: float,
    dt0: float | None,
    max_steps: int,
    check_f1: bool,
    eo: int,
    clamp: bool,
    compile: bool,
    max_step: float | None = None,
) -> RawSolution:
    """Joint step control on the host: time, step size, acceptance and the controller are
    Python floats (one read of the batch's largest error ratio per step, free on CPU).

    Failure stays per sample: a sample that forces the step size to underflow is frozen
    (it takes zero steps from then on, its later outputs are NaN) and the others go on.
    """
    batch = y0.shape[0]
    times = [float(x) for x in unwrapped(ts[0]).tolist()]
    n_times = len(times)
    t, t_end = times[0], times[-1]
    long = torch.long
    y = y0
    f0 = fc(y0.new_full((batch, 1), t), y)
    with torch.no_grad():
        ok = _finite_rows(y0, f0)
        status = torch.where(ok[:, 0], int(Status.SUCCESS), int(Status.NONFINITE)).to(long)
        # None while every sample is active: then no masking at all.
        active: Tensor | None = None if bool(unwrapped(ok).all()) else ok
        # (stopped mask, time, steps, accepted) of samples frozen by a failure.
        stops: list[tuple[Tensor, float, int, int]] = []
        if active is not None:
            stops.append((~ok[:, 0], t, 0, 0))
            if not bool(unwrapped(ok).any()):
                return _joint_result(y0, [y0], n_times, status, t, y, 0, fc.n, 0, 0, stops)
        tol = _tolerance(y0, rtol, atol)
        step_fn = compiled_step(fc.f, solver, tol, check_f1) if compile else None
        if dt0 is None:
            tt = y0.new_full((batch, 1), t)
            h0 = _initial_step(fc, tt, y, f0, solver.order, tol, t_end - tt)
            h = float(unwrapped(torch.where(ok, h0, math.inf)).amin())
        else:
            h = dt0
    h_max = math.inf if max_step is None else max_step
    h = min(_stretched(h, t_end - t), h_max)
    eps4 = 4 * torch.finfo(y0.dtype).eps
    history = (1.0, 1.0)
    outs: list[Tensor] = [y0]
    it = acc = 0
    while True:
        if it >= max_steps:
            break
        it += 1
        h_try = h
        if clamp:
            # End the step on the next output time when it falls inside.
            t_next = times[len(outs)]
            hit = h >= t_next - t
            if hit:
                h_try = t_next - t
            last = hit and len(outs) == n_times - 1
            t_new = t_next if hit else t + h
        else:
            last = h >= t_end - t
            t_new = t_end if last else t + h
        # A bool mask times a Python float would be float32: scale in the state's dtype.
        h_step: Tensor | float = h_try if active is None else active.to(y0.dtype) * h_try
        t_col = y0.new_full((batch, 1), t)
        if step_fn is not None:
            # (A float step size would be compiled in as a constant: pass a tensor.)
            h_t = h_step if isinstance(h_step, Tensor) else y0.new_tensor(h_step)
            res, r_own = step_fn(t_col, y, f0, h_t, tol)
            res = dataclasses.replace(res, h=h_step)  # the float for the dense output
            fc.n += step_fn.evals
        else:
            res = solver.step(fc, t_col, y, f0, h_step)
            with torch.no_grad():
                r_own = _error_ratio(res, tol, check_f1)
        with torch.no_grad():
            live = r_own if active is None else torch.where(active, r_own, 0.0)
            ratio = float(unwrapped(live).amax())
        accept = ratio <= 1.0
        if accept:
            k0 = len(outs)
            k1 = k0
            while k1 < n_times and times[k1] <= t_new:
                k1 += 1
            if k1 > k0:
                interior = k1 - 1 if times[k1 - 1] >= t_new else k1
                if interior > k0:
                    thetas = [(times[k] - t) / h_try for k in range(k0, interior)]
                    res = solver.complete_dense(fc, t_col, res)
                    outs.extend(solver.interpolate_shared(res, thetas).unbind(0))
                if interior < k1:
                    outs.append(res.y1)
                if active is not None:
                    mask = active
                    outs[k0:] = [torch.where(mask, v, math.nan) for v in outs[k0:]]
            f1 = res.f1
            if f1 is None:
                raise RuntimeError("bug in neurosym.ode: FSAL solver returned no f1")
            if active is None:
                y, f0 = res.y1, f1
            else:
                y = torch.where(active, res.y1, y)
                f0 = torch.where(active, f1, f0)
            t = t_new
            acc += 1
            if last:
                break
        h_new, history = controller.adapt_float(h_try, ratio, accept, history, eo)
        # A step shortened to land on an output time does not shrink the next one.
        h = max(h_new, h) if (accept and h_try < h) else h_new
        if h <= eps4 * max(abs(t), abs(t_end), 1.0):
            with torch.no_grad():
                act = ok if active is None else active
                # The samples that forced the shrinking fail (their own error too large,
                # else the largest); the others go on.
                culprit = act & (r_own > 1.0)
                if not bool(unwrapped(culprit).any()):
                    culprit = act & (r_own >= torch.where(act, r_own, -math.inf).amax())
                code = torch.where(
                    torch.isinf(r_own), int(Status.NONFINITE), int(Status.DT_UNDERFLOW)
                )
                status = torch.where(culprit[:, 0], code[:, 0], status)
                stops.append((culprit[:, 0], t, it, acc))
                active = act & ~culprit
                if not bool(unwrapped(active).any()):
                    break
        h = min(_stretched(h, t_end - t), h_max)
    if t < t_end:
        with torch.no_grad():
            act = ok if active is None else active
            status = torch.where(act[:, 0], int(Status.MAX_STEPS), status)
    return _joint_result(y0, outs, n_times, status, t, y, it, fc.n, it, acc, stops)


def _joint_result(
    y0: Tensor,
    outs: list[Tensor],
    n_times: int,
    status: Tensor,
    t: float,
    y: Tensor,
    steps: int,
    nfe: int,
    it: int,
    acc: int,
    stops: list[tuple[Tensor, float, int, int]],
) -> RawSolution:
    batch = y0.shape[0]
    device = y0.device
    ys = torch.stack(outs + [y0.new_full(y0.shape, math.nan)] * (n_times - len(outs)))
    t_final = y0.new_full((batch,), t)
    steps_b = torch.full((batch,), it, dtype=torch.long, device=device)
    acc_b = torch.full((batch,), acc, dtype=torch.long, device=device)
    for mask, t_s, it_s, acc_s in stops:
        t_final = torch.where(mask, t_s, t_final)
        steps_b = torch.where(mask, it_s, steps_b)
        acc_b = torch.where(mask, acc_s, acc_b)
    return RawSolution(
        ys=ys,
        status=status,
        t_final=t_final.detach(),
        y_final=y,
        steps=steps,
        nfe=nfe,
        accepted=acc_b,
        rejected=steps_b - acc_b,
        event_t=None,
    )
