"""Rodas3: an L-stable, stiffly accurate Rosenbrock method of order 3(2) for stiff problems.

Rosenbrock methods replace the Newton iterations of an implicit Runge–Kutta method by
one linear solve per stage with the Jacobian ``J = ∂f/∂y``, so a step is a fixed sequence
of differentiable tensor operations: direct backpropagation through it is exact.

Coefficients (Sandu et al. 1997, "Benchmarking stiff ODE solvers for atmospheric
chemistry problems II: Rosenbrock solvers", in the formulation of Hairer & Wanner,
Solving ODEs II, IV.7)::

    (I/(hγ) - J) K_i = f(t + α_i h, y + Σ_j a_ij K_j) + Σ_j (c_ij/h) K_j + h γ_i ∂f/∂t
    y_new = y + Σ m_i K_i,   error = Σ e_i K_i
"""

from __future__ import annotations

from typing import ClassVar, final

import torch
import torch.autograd.forward_ad as fwAD
from torch import Tensor

from neurosym.errors import ConfigurationError

from ._functorch import transforms_active
from ._solver import AbstractSolver, Field, StepResult

__all__ = ["Rodas3"]

_GAMMA = 0.5
_ALPHA = (0.0, 0.0, 1.0, 1.0)
_GAMMAS = (0.5, 1.5, 0.0, 0.0)
_A = ((), (0.0,), (2.0, 0.0), (2.0, 0.0, 1.0))
_C = ((), (4.0,), (1.0, -1.0), (1.0, -1.0, -8.0 / 3.0))
_M = (2.0, 0.0, 1.0, 1.0)
_E = (0.0, 0.0, 0.0, 1.0)


def jacobians(f: Field, t: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Batched ``∂f/∂y`` ``(batch, dim, dim)`` and ``∂f/∂t`` ``(batch, dim)``.

    Rows of ``f`` do not interact, so the Jacobian of the batch sum ``Σ_b f(t_b, y_b)``
    holds every sample's Jacobian at once: one reverse-mode pass per state dimension,
    vectorised by ``torch.func.jacrev``.

    Args:
        f: the vector field.
        t: times ``(batch, 1)``.
        y: states ``(batch, dim)``.

    Returns:
        The state Jacobians and the time derivatives.
    """

    def summed(tt: Tensor, yy: Tensor) -> Tensor:
        return f(tt, yy).sum(0)

    # A sample whose state is NaN/inf (one that failed: its steps are masked) must not
    # reach the others through the batch sum: forward mode (below) propagates terms such
    # as ``y · 0`` (matmul's tangent for a weight without one), NaN in that sample's row,
    # into every entry of the summed Jacobian. Its Jacobian is taken at 0 instead.
    y = torch.where(torch.isfinite(y).all(-1, keepdim=True), y, torch.zeros_like(y))
    try:
        jt, jy = torch.func.jacrev(summed, argnums=(0, 1))(t, y)
    except RuntimeError as e:
        # Inside checkpoint=True's recomputed region torch.utils.checkpoint holds
        # saved-tensor hooks, which torch.func's reverse mode refuses (before it
        # evaluates anything); forward mode runs there and gives the same Jacobian,
        # differentiable by the backward pass as well.
        if "saved tensor hooks" not in str(e):
            raise
        if fwAD._current_level >= 0 and not transforms_active():
            # (torch.autograd.forward_ad does not nest: jacfwd cannot run under it.)
            raise ConfigurationError(
                "rodas3 with checkpoint=True does not run under torch.autograd.forward_ad: "
                "its Jacobians need torch.func, which torch.utils.checkpoint blocks in "
                "reverse mode and forward_ad in forward mode. Use checkpoint=False "
                "(checkpointing saves memory of the backward pass only) or torch.func.jvp"
            ) from e
        jt, jy = torch.func.jacfwd(summed, argnums=(0, 1))(t, y)
    return jy.permute(1, 0, 2), jt[..., 0].transpose(0, 1)


@final
class Rodas3(AbstractSolver):
    """Rodas3, 4 stages, order 3 with an embedded order-2 estimate; L-stable.

    Use it for stiff problems (explicit solvers then need tiny steps for stability, not
    accuracy). Each step evaluates the batched Jacobian once and factorises one
    ``(dim, dim)`` matrix per sample; dense output is cubic Hermite.

    Example:
        >>> Rodas3().order
        3
    """

    order: ClassVar[int] = 3
    error_order: ClassVar[int | None] = 2
    name: ClassVar[str] = "rodas3"
    implicit: ClassVar[bool] = True

    @property
    def provides_f1(self) -> bool:
        """Rodas3 evaluates ``f`` at the new state for dense output and the next step."""
        return True

    def step(self, f: Field, t: Tensor, y: Tensor, f0: Tensor, h: Tensor) -> StepResult:
        """Attempt one Rodas3 step (see :meth:`AbstractSolver.step`)."""
        dim = y.shape[1]
        live = h > 0
        hh = torch.where(live, h, torch.ones_like(h))
        jac, ft = jacobians(f, t, y)
        eye = torch.eye(dim, dtype=y.dtype, device=y.device)
        lhs = eye / (hh * _GAMMA)[:, :, None] - jac
        lu, piv = torch.linalg.lu_factor(lhs)
        ks: list[Tensor] = []
        fi = f0
        for i in range(4):
            if i > 0 and (_A[i] != _A[i - 1] + (0.0,) or _ALPHA[i] != _ALPHA[i - 1]):
                yi = y
                for a, k in zip(_A[i], ks):
                    if a != 0.0:
                        yi = yi + a * k
                fi = f(t + _ALPHA[i] * hh, yi)
            rhs = fi
            for c, k in zip(_C[i], ks):
                if c != 0.0:
                    rhs = rhs + (c / hh) * k
            if _GAMMAS[i] != 0.0:
                rhs = rhs + (_GAMMAS[i] * hh) * ft
            ks.append(torch.linalg.lu_solve(lu, piv, rhs[:, :, None])[:, :, 0])
        y1 = y
        err = torch.zeros_like(y)
        for m, e, k in zip(_M, _E, ks):
            if m != 0.0:
                y1 = y1 + m * k
            if e != 0.0:
                err = err + e * k
        y1 = torch.where(live, y1, y)
        err = torch.where(live, err, torch.zeros_like(err))
        f1 = f(t + hh, y1)
        return StepResult(y0=y, y1=y1, y_err=err, f0=f0, f1=f1, h=h)
