"""Data generators for classic dynamical systems, with their true equations as sympy.

Each generator integrates its system with :func:`~neurosym.ode.solve` (Dormand–Prince
5(4), ``rtol=1e-10``, ``atol=1e-12``) in float64 and returns a
:class:`Trajectory`: the sample times, the states (optionally with noise), the noise-free
states and the equations ``Eq(der(x), rhs)`` with the parameters substituted. The tests
check every generator against ``scipy.integrate.solve_ivp`` at the same tolerance.

Noise: ``noise=0.01`` ("1%") adds Gaussian noise of standard deviation 0.01 × the standard
deviation of each state over the noise-free trajectory, drawn from ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import final

import sympy
import torch
from torch import Tensor

from neurosym.errors import ConfigurationError

from ._solve import solve

__all__ = ["Trajectory", "damped_oscillator", "lorenz", "lotka_volterra", "pendulum"]

_DER = sympy.Function("der")  # the same undefined function as neurosym.lang's der (by name)


@final
@dataclass(frozen=True, slots=True, eq=False)
class Trajectory:
    """A sampled trajectory and the equations that produced it.

    Attributes:
        t: sample times ``(T,)``, float64.
        states: observed states ``(T, D)`` (noise-free states plus the requested noise).
        clean: noise-free states ``(T, D)``.
        names: the state names, in column order.
        equations: ``Eq(der(x_i), rhs_i)`` with the parameter values substituted.
    """

    t: Tensor
    states: Tensor
    clean: Tensor
    names: tuple[str, ...]
    equations: tuple[sympy.Eq, ...]


def _generate(
    field: Callable[[Tensor, Tensor], Tensor],
    names: tuple[str, ...],
    rhs: Sequence[sympy.Expr],
    y0: Sequence[float],
    t_end: float,
    dt: float,
    noise: float,
    seed: int,
) -> Trajectory:
    if len(y0) != len(names):
        raise ConfigurationError(f"y0 needs {len(names)} values ({', '.join(names)}), got {y0}")
    if not (t_end > 0 and dt > 0 and dt <= t_end):
        raise ConfigurationError(f"need 0 < dt <= t_end, got dt={dt}, t_end={t_end}")
    if not noise >= 0:
        raise ConfigurationError(f"noise must be >= 0 (a fraction of each state's sd), got {noise}")
    n = round(t_end / dt) + 1
    t = torch.arange(n, dtype=torch.float64) * dt
    start = torch.tensor([list(y0)], dtype=torch.float64)
    # dopri5, not dopri8: dopri8's values between its (long) steps come from a
    # lower-order interpolant, 3e-7 off the closed form of the oscillator at rtol=1e-10.
    sol = solve(field, start, t, method="dopri5", rtol=1e-10, atol=1e-12, max_steps=200_000)
    clean = sol.ys[:, 0, :].detach()
    states = clean
    if noise > 0:
        gen = torch.Generator().manual_seed(seed)
        eps = torch.randn(clean.shape, generator=gen, dtype=torch.float64)
        states = clean + noise * clean.std(dim=0) * eps
    syms = [sympy.Symbol(s) for s in names]
    eqs = tuple(sympy.Eq(_DER(s), r) for s, r in zip(syms, rhs))
    return Trajectory(t=t, states=states, clean=clean, names=names, equations=eqs)


def damped_oscillator(
    *,
    zeta: float = 0.1,
    omega: float = 1.0,
    y0: Sequence[float] = (1.0, 0.0),
    t_end: float = 20.0,
    dt: float = 0.1,
    noise: float = 0.0,
    seed: int = 0,
) -> Trajectory:
    """``x'' + 2ζω x' + ω² x = 0`` as ``der(x) = v, der(v) = -ω² x - 2ζω v``.

    Args:
        zeta: damping ratio ζ.
        omega: natural frequency ω.
        y0: initial ``(x, v)``.
        t_end: last sample time (samples at ``0, dt, ..., t_end``).
        dt: sample spacing.
        noise: noise sd as a fraction of each state's sd (``0.01`` is "1%").
        seed: seed of the noise.

    Example:
        >>> tr = damped_oscillator(t_end=1.0)
        >>> tr.names, tuple(tr.states.shape), tr.equations[1]
        (('x', 'v'), (11, 2), Eq(der(v), -0.2*v - 1.0*x))
    """
    w2, c = omega**2, 2 * zeta * omega

    def f(t: Tensor, y: Tensor) -> Tensor:
        return torch.stack([y[:, 1], -w2 * y[:, 0] - c * y[:, 1]], dim=1)

    x, v = sympy.symbols("x v")
    rhs = [v, -sympy.Float(w2) * x - sympy.Float(c) * v]
    return _generate(f, ("x", "v"), rhs, y0, t_end, dt, noise, seed)


def lotka_volterra(
    *,
    alpha: float = 1.0,
    beta: float = 0.5,
    delta: float = 0.2,
    gamma: float = 0.6,
    y0: Sequence[float] = (2.0, 1.0),
    t_end: float = 30.0,
    dt: float = 0.1,
    noise: float = 0.0,
    seed: int = 0,
) -> Trajectory:
    """Predator–prey: ``der(x) = α x - β x y``, ``der(y) = δ x y - γ y`` (prey x, predator y).

    Args: as :func:`damped_oscillator`, with the rates α, β, δ, γ.

    Example:
        >>> lotka_volterra(t_end=1.0).equations[0]
        Eq(der(x), -0.5*x*y + 1.0*x)
    """

    def f(t: Tensor, y: Tensor) -> Tensor:
        a, b = y[:, 0], y[:, 1]
        return torch.stack([alpha * a - beta * a * b, delta * a * b - gamma * b], dim=1)

    x, y = sympy.symbols("x y")
    rhs = [
        sympy.Float(alpha) * x - sympy.Float(beta) * x * y,
        sympy.Float(delta) * x * y - sympy.Float(gamma) * y,
    ]
    return _generate(f, ("x", "y"), rhs, y0, t_end, dt, noise, seed)


def pendulum(
    *,
    g_over_l: float = 1.0,
    damping: float = 0.0,
    y0: Sequence[float] = (1.0, 0.0),
    t_end: float = 20.0,
    dt: float = 0.1,
    noise: float = 0.0,
    seed: int = 0,
) -> Trajectory:
    """``der(theta) = omega``, ``der(omega) = -(g/L) sin(theta) - damping * omega``.

    Args: as :func:`damped_oscillator`, with ``g_over_l`` = g/L and a linear ``damping``.

    Example:
        >>> pendulum(t_end=1.0).equations[1]
        Eq(der(omega), -1.0*sin(theta))
    """

    def f(t: Tensor, y: Tensor) -> Tensor:
        th, om = y[:, 0], y[:, 1]
        return torch.stack([om, -g_over_l * torch.sin(th) - damping * om], dim=1)

    th, om = sympy.symbols("theta omega")
    rhs = [om, -sympy.Float(g_over_l) * sympy.sin(th) - sympy.Float(damping) * om]
    return _generate(f, ("theta", "omega"), rhs, y0, t_end, dt, noise, seed)


def lorenz(
    *,
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
    y0: Sequence[float] = (-8.0, 8.0, 27.0),
    t_end: float = 10.0,
    dt: float = 0.002,
    noise: float = 0.0,
    seed: int = 0,
) -> Trajectory:
    """Lorenz (1963): ``der(x) = σ(y - x)``, ``der(y) = x(ρ - z) - y``, ``der(z) = xy - βz``.

    Args: as :func:`damped_oscillator`, with σ, ρ, β.

    Example:
        >>> lorenz(t_end=0.01).equations[2]
        Eq(der(z), x*y - 2.66666666666667*z)
    """

    def f(t: Tensor, y: Tensor) -> Tensor:
        a, b, c = y[:, 0], y[:, 1], y[:, 2]
        return torch.stack([sigma * (b - a), a * (rho - c) - b, a * b - beta * c], dim=1)

    x, y, z = sympy.symbols("x y z")
    rhs = [
        sympy.Float(sigma) * y - sympy.Float(sigma) * x,
        sympy.Float(rho) * x - x * z - y,
        x * y - sympy.Float(beta) * z,
    ]
    return _generate(f, ("x", "y", "z"), rhs, y0, t_end, dt, noise, seed)
