"""Terminal events: locate ``event(t, y) = 0`` on the dense output, differentiably."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.autograd.forward_ad as fwAD
from torch import Tensor

from ._functorch import transforms_active
from ._solver import AbstractSolver, Field, StepResult

__all__ = ["EventFn", "event_state", "locate_root"]

EventFn = Callable[[Tensor, Tensor], Tensor]
"""``event(t, y)`` with ``t`` of shape ``(batch, 1)`` and ``y`` of shape ``(batch, dim)``,
returning ``(batch,)``; the solve of a sample stops where it changes sign."""


def locate_root(
    solver: AbstractSolver,
    step: StepResult,
    t0: Tensor,
    event: EventFn,
    g0: Tensor,
) -> Tensor:
    """Bisect for the sign change of ``event`` inside an accepted step, for all samples.

    Args:
        solver: the solver whose dense output is searched.
        step: the accepted step.
        t0: step start times ``(batch, 1)``.
        event: the event function.
        g0: ``event`` at the step start, ``(batch,)``.

    Returns:
        The normalised positions ``theta`` in ``[0, 1]``, ``(batch, 1)``, of the roots
        (meaningful only for samples whose event changed sign in this step).
    """
    with torch.no_grad():
        lo = torch.zeros_like(t0)
        hi = torch.ones_like(t0)
        s0 = torch.sign(g0)[:, None]
        # One halving per mantissa bit reaches the resolution of the dtype.
        for _ in range(round(-math.log2(torch.finfo(t0.dtype).eps)) + 1):
            mid = 0.5 * (lo + hi)
            g = event(t0 + mid * step.h, solver.interpolate(step, mid)).reshape(-1, 1)
            same = torch.sign(g) == s0
            lo = torch.where(same, mid, lo)
            hi = torch.where(same, hi, mid)
        return hi


def _slope(event: EventFn, f: Field, t: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``g`` and ``dg/dt = ∂g/∂t + ∂g/∂y · f`` at ``(t, y)`` (a vanishing ``dg/dt`` is
    replaced by the smallest normal number), ``(batch,)`` each, and ``f``; all detached."""
    # torch.func.vjp rather than requires_grad_ + autograd.grad: it also runs inside
    # torch.func transforms (grad, jvp, vmap), where requires_grad_ is refused.
    with torch.enable_grad():
        out = torch.func.vjp(lambda tt, yy: event(tt, yy).reshape(-1), t.detach(), y.detach())
        gg, pull = out[0], out[1]
        gt, gy = pull(torch.ones_like(gg))
    fe = f(t, y.detach()).detach()
    gdot = (gy * fe).sum(-1) + gt[:, 0]
    tiny = torch.finfo(gdot.dtype).tiny
    gdot = torch.where(gdot.abs() > tiny, gdot, torch.full_like(gdot, tiny))
    return gg.detach(), gdot.detach(), fe


def _newton_on_steps(
    f: Field, solver: AbstractSolver, step: StepResult, t0: Tensor, t_star: Tensor, event: EventFn
) -> Tensor:
    """One Newton step on ``g`` from ``t_star``, with the state from a step of the method
    itself (not its dense output); kept inside the step, since a tangential crossing has
    ``dg/dt ~ 0``."""
    with torch.no_grad():
        y = solver.step(f, t0, step.y0.detach(), step.f0.detach(), t_star - t0).y1
        g, gdot, _ = _slope(event, f, t_star, y)
        ends = torch.cat([t0, t0 + step.h], 1)
        lo, hi = ends.amin(1, keepdim=True), ends.amax(1, keepdim=True)
        return (t_star - (g / gdot)[:, None]).clamp(lo, hi)


def event_state(
    f: Field,
    solver: AbstractSolver,
    step: StepResult,
    t0: Tensor,
    theta: Tensor,
    event: EventFn,
) -> tuple[Tensor, Tensor]:
    """The event time and state, with gradients by the implicit function theorem.

    With ``g(t*, y(t*)) = 0``, ``dt*/dp = -(∂g/∂y · dy/dp) / (∂g/∂t + ∂g/∂y · f)``. The
    returned time has the located value and exactly this derivative; the state gains the
    ``f · dt*`` term so that it moves with the event time.

    A dense output well below the method's order (Dopri8's quartic,
    ``solver.clamps_to_outputs``) puts the root only to its own accuracy; there one
    Newton step on states from steps of the method itself (two extra steps per event)
    moves the time and the state onto the method's accuracy.

    Args:
        f: the vector field.
        solver: the solver of the step.
        step: the accepted step holding the root.
        t0: step start times ``(batch, 1)``.
        theta: root positions from :func:`locate_root`, ``(batch, 1)``.
        event: the event function.

    Returns:
        Event times ``(batch,)`` and states ``(batch, dim)``.
    """
    t_star = (t0 + theta * step.h).detach()
    if solver.clamps_to_outputs:
        t_star = _newton_on_steps(f, solver, step, t0.detach(), t_star, event)
        y_e = solver.step(f, t0, step.y0, step.f0, (t_star - t0).detach()).y1
    else:
        y_e = solver.interpolate(step, theta)
    if not (torch.is_grad_enabled() and y_e.requires_grad) and not _forward_mode(y_e):
        return t_star[:, 0], y_e
    g = event(t_star, y_e).reshape(-1)
    _, gdot, fe = _slope(event, f, t_star, y_e)
    t_e = t_star[:, 0] - (g - g.detach()) / gdot
    y_event = y_e + fe * (t_e - t_star[:, 0])[:, None]
    return t_e, y_event


def _forward_mode(y: Tensor) -> bool:
    """Whether ``y`` may carry a forward-mode tangent (``torch.func.jvp``/``jacfwd``, or
    ``torch.autograd.forward_ad``), which ``requires_grad`` does not tell."""
    return transforms_active() or fwAD.unpack_dual(y).tangent is not None  # type: ignore[no-untyped-call]
