"""The energy of the damped oscillator is a Lyapunov function: checked along a solution."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import final

import torch
from torch import Tensor

from neurosym.errors import ConfigurationError

__all__ = ["LyapunovCheck", "lyapunov_check"]


@final
@dataclass(frozen=True)
class LyapunovCheck:
    """The energy ``E = m|v|²/2 + f(x)`` along a solution of ``m x'' + γ x' + ∇f(x) = 0``.

    Attributes:
        times: output times ``(T,)``.
        energy: ``E`` at those times, ``(T,)``.
        max_increase: the largest rise ``E(t_{i+1}) − E(t_i)`` (≤ 0 when it never rises).
        tolerance: the rise allowed for solver error.
        ok: ``max_increase <= tolerance``.
    """

    times: Tensor
    energy: Tensor
    max_increase: float
    tolerance: float
    ok: bool


def lyapunov_check(
    objective: Callable[[Tensor], Tensor],
    x0: Tensor,
    *,
    damping: float,
    mass: float = 1.0,
    v0: Tensor | None = None,
    t_end: float = 10.0,
    points: int = 201,
    rtol: float = 1e-9,
    atol: float = 1e-11,
) -> LyapunovCheck:
    """Solve the continuous heavy ball and check that its energy never increases.

    Along ``m x'' + γ x' + ∇f(x) = 0`` the energy ``E = m|x'|²/2 + f(x)`` has
    ``dE/dt = −γ|x'|²``, so with ``γ >= 0`` it is non-increasing: the continuous
    system is stable without any step-size condition, and only the discretisation can break
    that. The check solves the ODE with :func:`neurosym.ode.solve` (Dopri5, tight
    tolerances, float64) and looks for a rise beyond solver error.

    Args:
        objective: ``f``, mapping ``(batch, dim)`` to ``(batch,)``; differentiable in torch.
        x0: start ``(dim,)``.
        damping: ``γ`` (a negative value pumps energy in; the check then fails).
        mass: ``m > 0``.
        v0: initial velocity (default 0).
        t_end: length of the solve.
        points: output times, evenly spaced.
        rtol, atol: solver tolerances.

    Raises:
        ConfigurationError: a non-positive mass, ``t_end`` or fewer than 2 points.
        SolverError: the solve failed.

    Example:
        >>> import torch
        >>> check = lyapunov_check(lambda x: 0.5 * (x**2).sum(-1), torch.ones(2), damping=0.3)
        >>> check.ok, check.max_increase <= 0
        (True, True)
        >>> lyapunov_check(lambda x: 0.5 * (x**2).sum(-1), torch.ones(2), damping=-0.3).ok
        False
    """
    from neurosym import ode

    if not (mass > 0 and math.isfinite(mass)) or not t_end > 0 or points < 2:
        raise ConfigurationError(
            f"need mass > 0, t_end > 0 and points >= 2, got {mass!r}, {t_end!r}, {points!r}"
        )
    x = x0.detach().to(torch.float64).reshape(-1)
    v = torch.zeros_like(x) if v0 is None else v0.detach().to(torch.float64).reshape(-1)
    dim = x.numel()

    def grad(xs: Tensor) -> Tensor:
        with torch.enable_grad():
            xs = xs.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(objective(xs).sum(), xs)
        return g

    def field(t: Tensor, y: Tensor) -> Tensor:
        pos, vel = y[:, :dim], y[:, dim:]
        return torch.cat([vel, (-damping * vel - grad(pos)) / mass], dim=1)

    times = torch.linspace(0.0, t_end, points, dtype=torch.float64)
    sol = ode.solve(field, torch.cat([x, v])[None], times, rtol=rtol, atol=atol)
    ys = sol.ys[:, 0]
    with torch.no_grad():
        energy = 0.5 * mass * (ys[:, dim:] ** 2).sum(-1) + objective(ys[:, :dim])
    rises = energy[1:] - energy[:-1]
    max_increase = float(rises.max())
    tolerance = 1e3 * (rtol * float(energy.abs().max()) + atol)
    return LyapunovCheck(times, energy, max_increase, tolerance, max_increase <= tolerance)
