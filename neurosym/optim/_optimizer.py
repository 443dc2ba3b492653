"""A torch optimiser configured by mass, damping and time step instead of lr and momentum."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, final

import torch
from torch.optim import Optimizer

from neurosym.errors import ConfigurationError

__all__ = ["PhysicalHeavyBall"]


def _check(name: str, value: float, *, positive: bool) -> float:
    ok = isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or (value <= 0 if positive else value < 0):
        bound = "> 0" if positive else ">= 0"
        raise ConfigurationError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


@final
class PhysicalHeavyBall(Optimizer):
    """Integrate ``m x'' + γ x' + ∇f(x) = 0`` with step ``dt``: heavy ball in physical units.

    Each step is one semi-implicit Euler step of the damped oscillator, the velocity first::

        v ← (1 − γ·dt/m) v − (dt/m) ∇f(x)
        x ← x + dt · v

    which is ``torch.optim.SGD(lr=dt²/m, momentum=1 − γ·dt/m)`` with the velocity kept in
    physical units (``v = −(dt/m)·momentum_buffer``). With ``nesterov=True`` the position
    moves by the look-ahead velocity, ``x ← x + dt·((1 − γ·dt/m) v − (dt/m)∇f(x))``, as
    ``SGD(..., nesterov=True)`` does.

    Args:
        params: the parameters (or parameter groups) to optimise.
        dt: time step ``> 0``.
        damping: damping coefficient ``γ >= 0`` (critical damping on curvature ``λ`` is
            ``2√(mλ)``; ``γ·dt/m`` must stay below 2 or the momentum is below −1).
        mass: mass ``m > 0``.
        nesterov: use the look-ahead (Nesterov) position update.

    Raises:
        ConfigurationError: a non-positive step or mass, a negative damping, or
            ``γ·dt/m >= 2``.

    Example:
        >>> import torch
        >>> x = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
        >>> opt = PhysicalHeavyBall([x], dt=0.1, damping=2.0)   # critical for f = x²/2
        >>> for _ in range(300):
        ...     opt.zero_grad()
        ...     (0.5 * x**2).sum().backward()
        ...     _ = opt.step()
        >>> abs(x.item()) < 1e-3
        True
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        *,
        dt: float,
        damping: float,
        mass: float = 1.0,
        nesterov: bool = False,
    ) -> None:
        dt = _check("dt", dt, positive=True)
        damping = _check("damping", damping, positive=False)
        mass = _check("mass", mass, positive=True)
        if damping * dt / mass >= 2.0:
            raise ConfigurationError(
                f"damping·dt/mass must be < 2 (momentum 1 − γ·dt/m > −1), got "
                f"{damping * dt / mass!r}; take a smaller dt or less damping"
            )
        defaults = {"dt": dt, "damping": damping, "mass": mass, "nesterov": bool(nesterov)}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Take one step; ``closure`` (optional) re-evaluates the loss and returns it."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            dt, mass = group["dt"], group["mass"]
            keep = 1.0 - group["damping"] * dt / mass  # the momentum β
            kick = dt / mass
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(p)
                v = state["velocity"]
                v.mul_(keep).add_(p.grad, alpha=-kick)
                if group["nesterov"]:
                    p.add_(v * keep - kick * p.grad, alpha=dt)
                else:
                    p.add_(v, alpha=dt)
        return loss
