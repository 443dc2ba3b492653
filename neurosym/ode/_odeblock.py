"""``ODEBlock``: a continuous-depth layer with any solver, NFE counts, augmentation and
regularisers; ``SolverSetting``: the solver configuration it runs with.

A residual block ``x + f(x)`` is one Euler step of ``dx/dt = f(x)`` (He et al. 2016; Lu
et al. 2018; Chen et al. 2018): an ``ODEBlock`` with ``method="euler", steps=1`` *is* a
residual block, and other solvers give other architectures of the same field.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, final

import torch
from torch import Tensor, nn

from neurosym.errors import ConfigurationError

from ._regularise import Regularisation, RegularisedField, draw_noise
from ._solution import Solution, Stats
from ._solve import MethodName, StepControl, resolve_method, solve
from ._solver import AbstractSolver, Field

__all__ = ["ODEBlock", "SolverSetting"]


@final
@dataclass(frozen=True, slots=True)
class SolverSetting:
    """How an :class:`ODEBlock` integrates: solver, tolerances or fixed steps.

    Args:
        method: solver alias or object.
        rtol: relative tolerance (adaptive solvers).
        atol: absolute tolerance (adaptive solvers).
        steps: fixed steps over the block's time span (any solver), instead of adaptive.
        dt: fixed step size, instead of ``steps``.
        step_control: ``"auto"``, ``"per_sample"`` or ``"joint"`` (adaptive solvers; see
            :func:`~neurosym.ode.solve`).
        max_steps: step attempts allowed per sample.

    Raises:
        ConfigurationError: for an unknown method, a fixed-step method without ``steps``
            or ``dt``, both ``steps`` and ``dt``, or non-positive numbers.

    Example:
        >>> SolverSetting("euler", steps=1).describe()
        'euler(steps=1)'
        >>> SolverSetting("dopri5", rtol=1e-3, atol=1e-4).describe()
        'dopri5(rtol=0.001, atol=0.0001)'
    """

    method: MethodName | AbstractSolver = "dopri5"
    rtol: float = 1e-5
    atol: float = 1e-6
    steps: int | None = None
    dt: float | None = None
    step_control: StepControl = "auto"
    max_steps: int = 10_000

    def __post_init__(self) -> None:
        solver = resolve_method(self.method)
        if self.steps is not None and self.dt is not None:
            raise ConfigurationError("pass either steps or dt, not both")
        if self.steps is not None and not (isinstance(self.steps, int) and self.steps >= 1):
            raise ConfigurationError(f"steps must be a positive int, got {self.steps!r}")
        for name in ("rtol", "atol", "dt"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigurationError(f"{name} must be positive, got {value!r}")
        if solver.error_order is None and self.steps is None and self.dt is None:
            raise ConfigurationError(
                f"{solver.name} is a fixed-step solver: pass steps= or dt=, or choose an "
                "adaptive method such as 'dopri5'"
            )

    @property
    def fixed(self) -> bool:
        """Whether the solve takes fixed steps."""
        return self.steps is not None or self.dt is not None

    def describe(self) -> str:
        """A short label such as ``'dopri5(rtol=1e-05, atol=1e-06)'`` or ``'rk4(steps=8)'``."""
        name = resolve_method(self.method).name
        if self.steps is not None:
            return f"{name}(steps={self.steps})"
        if self.dt is not None:
            return f"{name}(dt={self.dt})"
        return f"{name}(rtol={self.rtol}, atol={self.atol})"


@final
class ODEBlock(nn.Module):
    """A continuous-depth layer: maps ``x`` to ``y(T)`` of ``dy/dt = f(t, y)``, ``y(0) = x``.

    Every call counts the field's evaluations: :attr:`nfe_forward` (the last forward),
    :attr:`nfe_backward` (calls since it ended: the adjoint's or checkpointing's work in
    the backward pass; direct backprop replays the graph and calls the field 0 times) and
    :attr:`last_stats` (the solver's :class:`Stats`). The solver lives in
    :attr:`setting` and can be swapped for a while with :meth:`using`.

    With ``augment_dim=p`` (augmented neural ODE, Dupont, Doucet & Teh 2019) the state is
    padded with ``p`` zeros, the field works on ``dim + p`` columns, and the extra columns
    are dropped at the end: flows in the larger space can cross over in ``x``, which an
    ODE flow of ``x`` alone cannot (it is a homeomorphism; in 1-D it preserves order).

    Args:
        field: the vector field module ``f(t, y)``.
        t_end: the integration time (the "depth").
        method: solver alias or object.
        rtol: relative tolerance.
        atol: absolute tolerance.
        steps: fixed steps instead of adaptive ones (``method="euler", steps=1`` is a
            residual block).
        dt: fixed step size instead of ``steps``.
        step_control: ``"auto"``, ``"per_sample"`` or ``"joint"`` (see
            :func:`~neurosym.ode.solve`).
        max_steps: step attempts allowed per sample.
        adjoint: differentiate by the adjoint method.
        augment_dim: zero columns appended to the state before the solve.

    Raises:
        ConfigurationError: for a non-positive ``t_end``, a negative ``augment_dim``, or
            an invalid solver setting (see :class:`SolverSetting`).

    Example:
        >>> from neurosym.ode import MLPField
        >>> block = ODEBlock(MLPField(3, (8,), time_input=False))
        >>> block(torch.zeros(2, 3)).shape
        torch.Size([2, 3])
        >>> block.nfe_forward == block.last_stats.nfe > 0
        True
    """

    def __init__(
        self,
        field: nn.Module,
        *,
        t_end: float = 1.0,
        method: MethodName | AbstractSolver = "dopri5",
        rtol: float = 1e-5,
        atol: float = 1e-6,
        steps: int | None = None,
        dt: float | None = None,
        step_control: StepControl = "auto",
        max_steps: int = 10_000,
        adjoint: bool = False,
        augment_dim: int = 0,
    ) -> None:
        super().__init__()
        if not t_end > 0:
            raise ConfigurationError(f"t_end must be positive, got {t_end!r}")
        if not (isinstance(augment_dim, int) and augment_dim >= 0):
            raise ConfigurationError(f"augment_dim must be an int >= 0, got {augment_dim!r}")
        self.field = field
        self.t_end = float(t_end)
        self.setting = SolverSetting(
            method,
            rtol=rtol,
            atol=atol,
            steps=steps,
            dt=dt,
            step_control=step_control,
            max_steps=max_steps,
        )
        self.adjoint = adjoint
        self.augment_dim = augment_dim
        self.last_stats: Stats | None = None
        self.nfe_forward = 0
        self._calls = 0
        self._calls_at_forward_end = 0

    @property
    def nfe_total(self) -> int:
        """Field calls over the block's lifetime (forward, backward and failed solves)."""
        return self._calls

    @property
    def nfe_backward(self) -> int:
        """Field calls since the last forward ended (the backward pass's, after it ran)."""
        return self._calls - self._calls_at_forward_end

    @contextlib.contextmanager
    def using(self, setting: SolverSetting) -> Iterator[ODEBlock]:
        """Run with another solver setting inside a ``with`` block, then restore.

        Raises:
            ConfigurationError: when ``setting`` is not a :class:`SolverSetting`.
        """
        if not isinstance(setting, SolverSetting):
            raise ConfigurationError(
                f"setting must be a SolverSetting, got {type(setting).__name__}"
            )
        old = self.setting
        self.setting = setting
        try:
            yield self
        finally:
            self.setting = old

    def forward(self, x: Tensor) -> Tensor:
        """Integrate from ``x`` ``(batch, dim)`` and return the final state ``(batch, dim)``."""
        sol = self._solve(self.field, self._pad(x))
        return sol.ys[-1][:, : x.shape[1]]

    def regularised(
        self,
        x: Tensor,
        *,
        kinetic: bool = True,
        jacobian: bool = False,
        generator: torch.Generator | None = None,
        noise: Literal["gaussian", "rademacher"] = "gaussian",
    ) -> tuple[Tensor, Regularisation]:
        """Integrate from ``x`` and also return the regularisation integrals.

        The kinetic energy ``∫‖f‖² dt`` and the Hutchinson estimate of ``∫‖∂f/∂y‖_F² dt``
        (Finlay et al. 2020) are integrated alongside the state by the same solver; add
        ``reg.total(kinetic=λ_K, jacobian=λ_J)`` to the loss.

        Args:
            x: the input ``(batch, dim)``.
            kinetic: integrate the kinetic energy.
            jacobian: integrate the Jacobian Frobenius norm (one vector–Jacobian product
                per field call).
            generator: the random generator for the Hutchinson noise (seed it for
                reproducible runs).
            noise: ``"gaussian"`` or ``"rademacher"`` Hutchinson noise.

        Returns:
            ``(output, reg)``: the final state and the :class:`Regularisation`.
        """
        z0 = self._pad(x)
        eps = draw_noise(z0, generator=generator, kind=noise) if jacobian else None
        reg = RegularisedField(
            self.field, z0.shape[1], kinetic=kinetic, jacobian=jacobian, noise=eps
        )
        sol = self._solve(reg, reg.initial(z0))
        y, ke, je = reg.split(sol.ys[-1])
        return y[:, : x.shape[1]], Regularisation(kinetic=ke, jacobian=je, stats=sol.stats)

    def _pad(self, x: Tensor) -> Tensor:
        if x.ndim != 2:
            raise ConfigurationError(f"x must have shape (batch, dim), got {tuple(x.shape)}")
        if self.augment_dim == 0:
            return x
        return torch.cat([x, x.new_zeros(x.shape[0], self.augment_dim)], dim=-1)

    def _solve(self, field: Field, z0: Tensor) -> Solution:
        def counted(t: Tensor, y: Tensor) -> Tensor:
            self._calls += 1
            return field(t, y)

        s = self.setting
        t = torch.tensor([0.0, self.t_end], dtype=z0.dtype, device=z0.device)
        start = self._calls
        sol = solve(
            counted,
            z0,
            t,
            method=s.method,
            rtol=s.rtol,
            atol=s.atol,
            steps=s.steps,
            dt=s.dt,
            step_control=s.step_control,
            max_steps=s.max_steps,
            adjoint=self.adjoint,
            adjoint_params=tuple(p for p in self.field.parameters() if p.requires_grad)
            if self.adjoint
            else None,
        )
        self.nfe_forward = self._calls - start
        self._calls_at_forward_end = self._calls
        self.last_stats = sol.stats
        return sol
