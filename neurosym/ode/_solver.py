"""The solver interface, Butcher tableaux and the generic explicit Runge–Kutta step."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, final

import torch
from torch import Tensor

from ._interpolation import hermite_cubic, quartic_with_midpoint

__all__ = [
    "AbstractExplicitRK",
    "AbstractSolver",
    "ButcherTableau",
    "Field",
    "StepResult",
]

Field = Callable[[Tensor, Tensor], Tensor]
"""A vector field ``f(t, y)``: ``t`` of shape ``(batch, 1)``, ``y`` of shape ``(batch, dim)``."""


@final
@dataclass(frozen=True, slots=True, eq=False)
class StepResult:
    """One attempted step for a whole batch.

    Attributes:
        y0: state at the start, ``(batch, dim)``.
        y1: proposed state at the end.
        y_err: embedded error estimate (``None`` for solvers without one).
        f0: vector field at the start.
        f1: vector field at the end (``None`` when the solver does not provide it).
        h: step sizes, ``(batch, 1)``.
        stages: stage derivatives ``(stages, batch, dim)`` for solver-specific dense
            output, or ``None``.
    """

    y0: Tensor
    y1: Tensor
    y_err: Tensor | None
    f0: Tensor
    f1: Tensor | None
    h: Tensor
    stages: Tensor | None = None


class AbstractSolver(abc.ABC):
    """A one-step method. Subclasses are final and configured, never overridden.

    Attributes:
        order: the order of the propagated solution.
        error_order: the order of the embedded estimate, or ``None`` for fixed-step
            methods (the step controller uses it for its exponent).
        name: the alias used in messages.
    """

    order: ClassVar[int]
    error_order: ClassVar[int | None]
    name: ClassVar[str]
    implicit: ClassVar[bool] = False

    @property
    @abc.abstractmethod
    def provides_f1(self) -> bool:
        """Whether :meth:`step` returns ``f`` at the end of the step (reused next step)."""

    @abc.abstractmethod
    def step(self, f: Field, t: Tensor, y: Tensor, f0: Tensor, h: Tensor) -> StepResult:
        """Attempt one step of size ``h`` (shape ``(batch, 1)``) from ``(t, y)``.

        Args:
            f: the vector field.
            t: current times, ``(batch, 1)``.
            y: current states, ``(batch, dim)``.
            f0: ``f(t, y)``, already evaluated.
            h: step sizes, ``(batch, 1)``; each sample may have its own.

        Returns:
            The proposed step; the caller decides acceptance.
        """

    def interpolate(self, step: StepResult, theta: Tensor) -> Tensor:
        """Dense output inside an accepted step at positions ``theta`` ``(batch, 1)``.

        Args:
            step: the accepted step.
            theta: normalised positions in ``[0, 1]``.

        Returns:
            The interpolated states ``(batch, dim)``.

        Raises:
            NotImplementedError: for a solver without a derivative at the step's end.
        """
        if step.f1 is None:
            raise NotImplementedError(f"{self.name} has no dense output (no f at step end)")
        return hermite_cubic(step.y0, step.y1, step.f0, step.f1, step.h, theta)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _lower(rows: Sequence[Sequence[float]], s: int) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(r) + (0.0,) * (s - len(r)) for r in rows)


@final
@dataclass(frozen=True, slots=True)
class ButcherTableau:
    """Coefficients of an explicit Runge–Kutta method.

    Attributes:
        c: the nodes, one per stage (``c[0] == 0``).
        a: the strictly lower triangular matrix, row ``i`` holding ``i`` entries.
        b: the weights of the propagated solution.
        b_err: weights of the error estimate (solution minus embedded solution), or
            ``None``.
        c_mid: weights giving the solution at the middle of the step, for a quartic dense
            output, or ``None`` for cubic Hermite.
    """

    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    b_err: tuple[float, ...] | None = None
    c_mid: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        s = len(self.c)
        if len(self.a) != s - 1 or any(len(r) != i + 1 for i, r in enumerate(self.a)):
            raise ValueError("a tableau's a must have rows of length 1, 2, ..., s-1")
        for name in ("b", "b_err", "c_mid"):
            v = getattr(self, name)
            if v is not None and len(v) != s:
                raise ValueError(f"a tableau's {name} must have {s} entries, got {len(v)}")

    @property
    def stages(self) -> int:
        """The number of stages."""
        return len(self.c)

    @property
    def fsal(self) -> bool:
        """First same as last: the last stage is evaluated at the new solution."""
        s = self.stages
        return (
            s > 1
            and self.c[-1] == 1.0
            and tuple(self.a[-1]) == tuple(self.b[: s - 1])
            and (self.b[-1] == 0.0)
        )


class AbstractExplicitRK(AbstractSolver):
    """An explicit Runge–Kutta method given by its :class:`ButcherTableau`.

    The stage combinations are one matrix product each over a preallocated stage buffer,
    and the solution and error estimate share one product (fused tableau stages).
    """

    tableau: ClassVar[ButcherTableau]

    def __init__(self) -> None:
        tab = self.tableau
        s = tab.stages
        self._a = torch.tensor(_lower(tab.a, s), dtype=torch.float64)
        rows = [tab.b] + ([tab.b_err] if tab.b_err is not None else [])
        rows += [tab.c_mid] if tab.c_mid is not None else []
        self._out = torch.tensor(rows, dtype=torch.float64)
        self._cache: dict[tuple[torch.dtype, torch.device], tuple[Tensor, Tensor]] = {}
        self._fsal = tab.fsal

    def _coeffs(self, like: Tensor) -> tuple[Tensor, Tensor]:
        key = (like.dtype, like.device)
        got = self._cache.get(key)
        if got is None:
            got = (self._a.to(like), self._out.to(like))
            self._cache[key] = got
        return got

    @property
    def provides_f1(self) -> bool:
        """Whether the last stage is the vector field at the new state (FSAL)."""
        return self._fsal

    def step(self, f: Field, t: Tensor, y: Tensor, f0: Tensor, h: Tensor) -> StepResult:
        """Attempt one explicit Runge–Kutta step (see :meth:`AbstractSolver.step`)."""
        tab = self.tableau
        s = tab.stages
        a, out = self._coeffs(y)
        batch, dim = y.shape
        # Under autograd a list avoids in-place writes into a tensor the graph references.
        k = None if torch.is_grad_enabled() else y.new_empty((s, batch * dim))
        ks: list[Tensor] = [f0]
        if k is not None:
            k[0] = f0.reshape(-1)
        for i in range(1, s):
            if k is not None:
                comb = (a[i - 1, :i] @ k[:i]).view(batch, dim)
            else:
                comb = torch.einsum("s,sbd->bd", a[i - 1, :i], torch.stack(ks))
            yi = torch.addcmul(y, h, comb)
            ki = f(t + tab.c[i] * h, yi)
            ks.append(ki)
            if k is not None:
                k[i] = ki.reshape(-1)
        stack = k.view(s, batch, dim) if k is not None else torch.stack(ks)
        res = (
            torch.einsum("rs,sbd->rbd", out, stack) if k is None else (out @ k).view(-1, batch, dim)
        )
        y1 = torch.addcmul(y, h, res[0])
        y_err = h * res[1] if tab.b_err is not None else None
        return StepResult(
            y0=y,
            y1=y1,
            y_err=y_err,
            f0=f0,
            f1=ks[-1] if self._fsal else None,
            h=h,
            stages=res[2] if tab.c_mid is not None else None,
        )

    def interpolate(self, step: StepResult, theta: Tensor) -> Tensor:
        """Dense output: quartic through a midpoint value when the tableau has one."""
        if step.stages is not None and step.f1 is not None:
            ymid = torch.addcmul(step.y0, step.h, step.stages)
            return quartic_with_midpoint(step.y0, step.y1, ymid, step.f0, step.f1, step.h, theta)
        return super().interpolate(step, theta)
