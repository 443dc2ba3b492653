"""Step-size controllers: how the next step size follows from the error ratio."""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import final

import torch
from torch import Tensor

from neurosym.errors import ConfigurationError

__all__ = ["AbstractStepController", "ControllerState", "PIController", "PIDController"]


@final
@dataclass(frozen=True, slots=True, eq=False)
class ControllerState:
    """Error ratios of the last two accepted steps of each sample, ``(batch, 1)`` each."""

    prev1: Tensor
    prev2: Tensor


class AbstractStepController(abc.ABC):
    """Chooses the next step size of every sample from its error ratio."""

    @abc.abstractmethod
    def init(self, like: Tensor) -> ControllerState:
        """The state before the first step, for step sizes shaped like ``like``."""

    @abc.abstractmethod
    def adapt(
        self,
        h: Tensor,
        ratio: Tensor,
        accept: Tensor,
        state: ControllerState,
        error_order: int,
    ) -> tuple[Tensor, ControllerState]:
        """The next step sizes.

        Args:
            h: step sizes just attempted, ``(batch, 1)``.
            ratio: error norms divided by the tolerance (accept when ``<= 1``; ``inf`` for
                a non-finite step), ``(batch, 1)``.
            accept: which samples accepted, ``(batch, 1)`` boolean.
            state: the controller's state.
            error_order: the order of the embedded error estimate.

        Returns:
            The next step sizes and the new state.
        """


@final
class PIDController(AbstractStepController):
    """A PID step-size controller (Söderlind 2003, in the parametrisation of diffrax).

    ``h_next = h · safety · r_n^(-β1/k) · r_{n-1}^(-β2/k) · r_{n-2}^(-β3/k)`` with
    ``β1 = p + i + d``, ``β2 = -(p + 2d)``, ``β3 = d`` and ``k = error_order + 1``. The
    default ``(p, i, d) = (0, 1, 0)`` is the classical integral (I) controller.

    Args:
        pcoeff: proportional coefficient.
        icoeff: integral coefficient.
        dcoeff: derivative coefficient.
        safety: safety factor below 1.
        factor_min: smallest shrink factor per step (also used after a non-finite step).
        factor_max: largest growth factor per step.

    Raises:
        ConfigurationError: for a safety factor outside ``(0, 1]`` or bad factor bounds.
    """

    def __init__(
        self,
        *,
        pcoeff: float = 0.0,
        icoeff: float = 1.0,
        dcoeff: float = 0.0,
        safety: float = 0.9,
        factor_min: float = 0.2,
        factor_max: float = 10.0,
    ) -> None:
        if not 0.0 < safety <= 1.0:
            raise ConfigurationError(f"safety must be in (0, 1], got {safety!r}")
        if not 0.0 < factor_min < 1.0 < factor_max:
            raise ConfigurationError(
                "need 0 < factor_min < 1 < factor_max, got "
                f"factor_min={factor_min!r}, factor_max={factor_max!r}"
            )
        self.pcoeff = pcoeff
        self.icoeff = icoeff
        self.dcoeff = dcoeff
        self.safety = safety
        self.factor_min = factor_min
        self.factor_max = factor_max

    def __repr__(self) -> str:
        return (
            f"PIDController(pcoeff={self.pcoeff}, icoeff={self.icoeff}, dcoeff={self.dcoeff}, "
            f"safety={self.safety}, factor_min={self.factor_min}, factor_max={self.factor_max})"
        )

    def init(self, like: Tensor) -> ControllerState:
        """Start with neutral history (ratios of 1)."""
        one = torch.ones_like(like)
        return ControllerState(one, one)

    def adapt(
        self,
        h: Tensor,
        ratio: Tensor,
        accept: Tensor,
        state: ControllerState,
        error_order: int,
    ) -> tuple[Tensor, ControllerState]:
        """See :meth:`AbstractStepController.adapt`."""
        b1, b2, b3 = self._betas(error_order)
        # Non-finite ratios arrive as inf (NaN is mapped to inf here): inf^(-b1) = 0 is
        # then raised to factor_min, the prescribed shrink after a non-finite step. A zero
        # error (e.g. a constant solution) would ask for an infinite step: clamp it.
        if b2 == 0.0 and b3 == 0.0 and b1 > 0.0:
            # The I controller shrinks a rejected step by itself (r > 1 and safety < 1
            # give factor < 1), so one clamp bounds both cases. safety · r^(-b1) is
            # (r · safety^(-1/b1))^(-b1), and a zero ratio gives inf, clamped: 5 kernels.
            scale = self.safety ** (-1.0 / b1)
            factor = torch.nan_to_num(ratio, nan=math.inf).mul_(scale).pow_(-b1)
            return h * factor.clamp_(self.factor_min, self.factor_max), state
        r = torch.nan_to_num(ratio, nan=math.inf).clamp_min(1e-10)
        factor = r.pow(-b1).mul_(self.safety)
        if b2 == 0.0 and b3 == 0.0:
            return h * factor.clamp_(self.factor_min, self.factor_max), state
        if b2 != 0.0:
            factor = factor * state.prev1.pow(-b2)
        if b3 != 0.0:
            factor = factor * state.prev2.pow(-b3)
        upper = torch.where(accept, self.factor_max, 1.0)
        factor = torch.minimum(factor.clamp_min(self.factor_min), upper)
        factor = torch.where(torch.isfinite(r), factor, self.factor_min)
        new_state = ControllerState(
            torch.where(accept, r, state.prev1), torch.where(accept, state.prev1, state.prev2)
        )
        return h * factor, new_state

    def _betas(self, error_order: int) -> tuple[float, float, float]:
        k = error_order + 1.0
        b1 = (self.pcoeff + self.icoeff + self.dcoeff) / k
        b2 = -(self.pcoeff + 2 * self.dcoeff) / k
        b3 = self.dcoeff / k
        return b1, b2, b3

    def adapt_float(
        self,
        h: float,
        ratio: float,
        accept: bool,
        history: tuple[float, float],
        error_order: int,
    ) -> tuple[float, tuple[float, float]]:
        """:meth:`adapt` for one step size shared by a batch, on Python floats.

        Args:
            h: the step size just attempted.
            ratio: its error ratio (``inf`` or NaN for a non-finite step).
            accept: whether it was accepted.
            history: ratios of the last two accepted steps.
            error_order: the order of the embedded error estimate.

        Returns:
            The next step size and the new history.
        """
        b1, b2, b3 = self._betas(error_order)
        if not math.isfinite(ratio):
            return h * self.factor_min, history
        r = max(ratio, 1e-10)
        if b2 == 0.0 and b3 == 0.0 and b1 > 0.0:
            # The same rounding as the tensor path of adapt.
            factor = (ratio * self.safety ** (-1.0 / b1)) ** -b1 if ratio > 0.0 else math.inf
            factor = min(max(factor, self.factor_min), self.factor_max if accept else 1.0)
            return h * factor, ((r, history[0]) if accept else history)
        factor = self.safety * r**-b1
        if b2 != 0.0:
            factor *= history[0] ** -b2
        if b3 != 0.0:
            factor *= history[1] ** -b3
        factor = min(max(factor, self.factor_min), self.factor_max if accept else 1.0)
        return h * factor, ((r, history[0]) if accept else history)


@final
class PIController(AbstractStepController):
    """A PI controller: a :class:`PIDController` without the derivative term.

    The defaults ``(p, i) = (0.4, 0.3)`` are the PI.4.3 of Söderlind (2003), smoother
    than the I controller on problems at the edge of stability.

    Args:
        pcoeff: proportional coefficient.
        icoeff: integral coefficient.
        safety: safety factor below 1.
        factor_min: smallest shrink factor per step.
        factor_max: largest growth factor per step.

    Raises:
        ConfigurationError: as :class:`PIDController`.
    """

    def __init__(
        self,
        *,
        pcoeff: float = 0.4,
        icoeff: float = 0.3,
        safety: float = 0.9,
        factor_min: float = 0.2,
        factor_max: float = 10.0,
    ) -> None:
        self._pid = PIDController(
            pcoeff=pcoeff,
            icoeff=icoeff,
            dcoeff=0.0,
            safety=safety,
            factor_min=factor_min,
            factor_max=factor_max,
        )

    def __repr__(self) -> str:
        p = self._pid
        return f"PIController(pcoeff={p.pcoeff}, icoeff={p.icoeff}, safety={p.safety})"

    def init(self, like: Tensor) -> ControllerState:
        """See :meth:`PIDController.init`."""
        return self._pid.init(like)

    def adapt(
        self,
        h: Tensor,
        ratio: Tensor,
        accept: Tensor,
        state: ControllerState,
        error_order: int,
    ) -> tuple[Tensor, ControllerState]:
        """See :meth:`AbstractStepController.adapt`."""
        return self._pid.adapt(h, ratio, accept, state, error_order)

    def adapt_float(
        self,
        h: float,
        ratio: float,
        accept: bool,
        history: tuple[float, float],
        error_order: int,
    ) -> tuple[float, tuple[float, float]]:
        """See :meth:`PIDController.adapt_float`."""
        return self._pid.adapt_float(h, ratio, accept, history, error_order)
