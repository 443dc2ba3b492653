"""Classical fixed-step explicit Runge–Kutta methods: Euler, midpoint, Heun, RK4.

They have no error estimate, so :func:`~neurosym.ode.solve` needs ``dt=`` or ``steps=``.
"""

from __future__ import annotations

from typing import ClassVar, final

from ._solver import AbstractExplicitRK, ButcherTableau

__all__ = ["RK4", "Euler", "Heun", "Midpoint"]


@final
class Euler(AbstractExplicitRK):
    """Forward Euler, order 1: one residual block ``y + h f(t, y)`` per step.

    Example:
        >>> Euler().order
        1
    """

    order: ClassVar[int] = 1
    error_order: ClassVar[int | None] = None
    name: ClassVar[str] = "euler"
    tableau: ClassVar[ButcherTableau] = ButcherTableau(c=(0.0,), a=(), b=(1.0,))


@final
class Midpoint(AbstractExplicitRK):
    """The explicit midpoint rule, order 2."""

    order: ClassVar[int] = 2
    error_order: ClassVar[int | None] = None
    name: ClassVar[str] = "midpoint"
    tableau: ClassVar[ButcherTableau] = ButcherTableau(c=(0.0, 0.5), a=((0.5,),), b=(0.0, 1.0))


@final
class Heun(AbstractExplicitRK):
    """Heun's method (explicit trapezoidal rule), order 2."""

    order: ClassVar[int] = 2
    error_order: ClassVar[int | None] = None
    name: ClassVar[str] = "heun"
    tableau: ClassVar[ButcherTableau] = ButcherTableau(c=(0.0, 1.0), a=((1.0,),), b=(0.5, 0.5))


@final
class RK4(AbstractExplicitRK):
    """The classical fourth-order Runge–Kutta method."""

    order: ClassVar[int] = 4
    error_order: ClassVar[int | None] = None
    name: ClassVar[str] = "rk4"
    tableau: ClassVar[ButcherTableau] = ButcherTableau(
        c=(0.0, 0.5, 0.5, 1.0),
        a=((0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
        b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
    )
