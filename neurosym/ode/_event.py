"""Terminal events: locate ``event(t, y) = 0`` on the dense output, differentiably."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

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
    y_e = solver.interpolate(step, theta)
    if not (torch.is_grad_enabled() and y_e.requires_grad):
        return t_star[:, 0], y_e
    g = event(t_star, y_e).reshape(-1)
    with torch.enable_grad():
        tt = t_star.clone().requires_grad_(True)
        yy = y_e.detach().requires_grad_(True)
        gg = event(tt, yy).reshape(-1)
        gt, gy = torch.autograd.grad(gg.sum(), (tt, yy), allow_unused=True)
    fe = f(t_star, y_e.detach()).detach()
    gdot = (gy * fe).sum(-1) if gy is not None else torch.zeros_like(g)
    if gt is not None:
        gdot = gdot + gt[:, 0]
    tiny = torch.finfo(gdot.dtype).tiny
    gdot = torch.where(gdot.abs() > tiny, gdot, torch.full_like(gdot, tiny))
    t_e = t_star[:, 0] - (g - g.detach()) / gdot.detach()
    y_event = y_e + fe * (t_e - t_star[:, 0])[:, None]
    return t_e, y_event
