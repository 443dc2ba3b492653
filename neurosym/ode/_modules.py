"""Continuous-depth modules: ``NeuralODE``, ``MLPField`` and an NFE counter."""

from __future__ import annotations

from typing import Literal, final

import torch
from torch import Tensor, nn

from neurosym.errors import ConfigurationError

from ._solution import Solution
from ._solve import MethodName, StepControl, resolve_method, solve
from ._solver import AbstractSolver

__all__ = ["MLPField", "NFECounter", "NeuralODE"]


@final
class MLPField(nn.Module):
    """A multilayer perceptron vector field ``f(t, y)``, optionally with time as an input.

    Args:
        dim: state dimension.
        hidden: widths of the hidden layers, e.g. ``(64,)``.
        time_input: append ``t`` to the input of the first layer.
        activation: ``"tanh"`` (smooth, the usual choice for ODE fields) or ``"softplus"``.

    Raises:
        ConfigurationError: for a non-positive size or an unknown activation.

    Example:
        >>> f = MLPField(2, (16,))
        >>> f(torch.zeros(3, 1), torch.zeros(3, 2)).shape
        torch.Size([3, 2])
    """

    def __init__(
        self,
        dim: int,
        hidden: tuple[int, ...] | int = (64,),
        *,
        time_input: bool = True,
        activation: Literal["tanh", "softplus"] = "tanh",
    ) -> None:
        super().__init__()
        widths = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        if dim < 1 or any(w < 1 for w in widths):
            raise ConfigurationError(f"sizes must be positive, got dim={dim}, hidden={hidden}")
        acts = {"tanh": nn.Tanh, "softplus": nn.Softplus}
        if activation not in acts:
            raise ConfigurationError(f"activation must be 'tanh' or 'softplus', got {activation!r}")
        self.time_input = time_input
        sizes = (dim + int(time_input), *widths, dim)
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(acts[activation]())
        self.net = nn.Sequential(*layers)

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        """Evaluate the field at times ``t`` ``(batch, 1)`` (or a scalar) and states ``y``."""
        if self.time_input:
            tt = (
                t.to(y.dtype).expand(y.shape[0], 1)
                if t.numel() > 1
                else t.reshape(1, 1).to(y.dtype).expand(y.shape[0], 1)
            )
            y = torch.cat([y, tt], dim=-1)
        out: Tensor = self.net(y)
        return out


@final
class NFECounter(nn.Module):
    """Wraps a field and counts its evaluations (``.nfe``; reset with :meth:`reset`).

    Args:
        field: the wrapped vector field module.
    """

    def __init__(self, field: nn.Module) -> None:
        super().__init__()
        self.field = field
        self.nfe = 0

    def reset(self) -> None:
        """Set the count back to zero."""
        self.nfe = 0

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        """Count one evaluation and delegate."""
        self.nfe += 1
        out: Tensor = self.field(t, y)
        return out


@final
class NeuralODE(nn.Module):
    """An ``nn.Module`` that integrates a learned field: ``forward(y0, t) -> Solution``.

    Args:
        field: the vector field module ``f(t, y)``.
        method: solver alias or object.
        rtol: relative tolerance.
        atol: absolute tolerance.
        adjoint: differentiate by the adjoint method (memory independent of steps).
        checkpoint: differentiate by recomputing each output interval.
        step_control: ``"auto"``, ``"per_sample"`` or ``"joint"`` (see
            :func:`~neurosym.ode.solve`).
        max_steps: step attempts allowed per sample.
        throw: raise on failure (else inspect ``Solution.status``).
        compact: step only the samples still going (see :func:`~neurosym.ode.solve`;
            the field must compute each row from that row alone).
        steps: fixed steps over the whole span (any method) instead of adaptive ones.
        dt: the largest fixed step, instead of ``steps``.
        max_step: the largest adaptive step (see :func:`~neurosym.ode.solve`).

    Raises:
        ConfigurationError: for a fixed-step method without ``steps`` or ``dt``, or both.

    Example:
        >>> node = NeuralODE(MLPField(2, (8,)))
        >>> node(torch.zeros(4, 2), torch.linspace(0, 1, 3)).ys.shape
        torch.Size([3, 4, 2])
    """

    def __init__(
        self,
        field: nn.Module,
        *,
        method: MethodName | AbstractSolver = "dopri5",
        rtol: float = 1e-6,
        atol: float = 1e-8,
        adjoint: bool = False,
        checkpoint: bool = False,
        step_control: StepControl = "auto",
        max_steps: int = 10_000,
        throw: bool = True,
        compact: bool = False,
        steps: int | None = None,
        dt: float | None = None,
        max_step: float | None = None,
    ) -> None:
        super().__init__()
        if steps is not None and dt is not None:
            raise ConfigurationError("pass either steps or dt for fixed steps, not both")
        solver = resolve_method(method)
        if solver.error_order is None and steps is None and dt is None:
            raise ConfigurationError(
                f"{solver.name} is a fixed-step solver: pass steps= or dt= to NeuralODE, or "
                "choose an adaptive method such as 'dopri5'"
            )
        self.steps = steps
        self.dt = dt
        self.max_step = max_step
        self.field = field
        self.method = method
        self.rtol = rtol
        self.atol = atol
        self.adjoint = adjoint
        self.checkpoint = checkpoint
        self.step_control: StepControl = step_control
        self.max_steps = max_steps
        self.throw = throw
        self.compact = compact

    def forward(self, y0: Tensor, t: Tensor) -> Solution:
        """Solve from ``y0`` ``(batch, dim)`` over the times ``t``."""
        return solve(
            self.field,
            y0,
            t,
            method=self.method,
            rtol=self.rtol,
            atol=self.atol,
            adjoint=self.adjoint,
            checkpoint=self.checkpoint,
            step_control=self.step_control,
            max_steps=self.max_steps,
            throw=self.throw,
            compact=self.compact,
            steps=self.steps,
            dt=self.dt,
            max_step=self.max_step,
        )
