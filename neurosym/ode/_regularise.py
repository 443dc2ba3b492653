"""Kinetic-energy and Jacobian regularisers of a neural ODE (Finlay et al. 2020).

"How to train your neural ODE" (Finlay, Jacobsen, Nurbekyan & Oberman, ICML 2020)
penalises ``∫ ‖f(t, y)‖² dt`` (kinetic energy: straight, constant-speed trajectories) and
``∫ ‖∂f/∂y‖_F² dt`` (a smooth flow): both make the learned dynamics easy to integrate, so
an adaptive solver takes fewer steps. The integrals are computed by the solver itself,
by augmenting the state with one column per regulariser, so they cost one extra
vector–Jacobian product per field call (Jacobian term) or nothing (kinetic term).

The Frobenius norm is estimated by Hutchinson's trick, ``‖J‖_F² = E ‖εᵀ J‖²`` for noise
``ε`` with identity covariance; one ``ε`` per sample is drawn *once per solve*, so the
augmented field is an ordinary smooth ODE the step-size controller can trust.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, final

import torch
from torch import Tensor, nn

from neurosym.errors import ConfigurationError

from ._solution import Stats
from ._solver import Field

__all__ = ["Regularisation", "RegularisedField", "draw_noise"]


@final
@dataclass(frozen=True, slots=True, eq=False)
class Regularisation:
    """The regularisation integrals of one solve, per sample.

    Attributes:
        kinetic: ``∫ ‖f‖² dt`` per sample, shape ``(batch,)``, or ``None`` when not asked.
        jacobian: Hutchinson estimate of ``∫ ‖∂f/∂y‖_F² dt`` per sample, shape
            ``(batch,)``, or ``None`` when not asked.
        stats: the work the (augmented) solve did.
    """

    kinetic: Tensor | None
    jacobian: Tensor | None
    stats: Stats

    def total(self, *, kinetic: float = 0.0, jacobian: float = 0.0) -> Tensor:
        """The batch mean of ``kinetic * KE + jacobian * JF``, the term to add to a loss.

        Raises:
            ConfigurationError: when a weight is non-zero for a term that was not computed.
        """
        out: Tensor | None = None
        for name, weight, value in (
            ("kinetic", kinetic, self.kinetic),
            ("jacobian", jacobian, self.jacobian),
        ):
            if weight == 0.0:
                continue
            if value is None:
                raise ConfigurationError(
                    f"a {name} weight of {weight} was given but the {name} integral was not "
                    f"computed: pass {name}=True when solving"
                )
            term = weight * value.mean()
            out = term if out is None else out + term
        if out is None:
            return torch.zeros(())
        return out


def draw_noise(
    like: Tensor,
    *,
    generator: torch.Generator | None = None,
    kind: Literal["gaussian", "rademacher"] = "gaussian",
) -> Tensor:
    """Hutchinson noise shaped like ``like``: standard normal or random signs (±1).

    Both have identity covariance, so ``E ‖εᵀ J‖² = ‖J‖_F²``; Rademacher noise has the
    lower variance.

    Raises:
        ConfigurationError: for an unknown ``kind``.
    """
    if kind == "gaussian":
        return torch.randn(like.shape, generator=generator, dtype=like.dtype, device=like.device)
    if kind == "rademacher":
        bits = torch.randint(0, 2, like.shape, generator=generator, device=like.device)
        return (2 * bits - 1).to(like.dtype)
    raise ConfigurationError(f"noise kind must be 'gaussian' or 'rademacher', got {kind!r}")


@final
class RegularisedField(nn.Module):
    """A field on the augmented state ``[y, ∫‖f‖², ∫‖εᵀ∂f/∂y‖²]`` (columns as asked).

    Solve it from :meth:`initial` and read the integrals back with :meth:`split`; a
    regulariser column starts at zero, so its value at the end is the integral over the
    solve. ``NeuralODE`` users wrap their field with it; :meth:`ODEBlock.regularised`
    does it for you.

    Args:
        field: the vector field ``f(t, y)`` on states of width ``dim``.
        dim: the width of ``y`` (the augmented state has ``dim + n_reg`` columns).
        kinetic: integrate the kinetic energy ``‖f‖²`` (summed over the state).
        jacobian: integrate the Hutchinson estimate ``‖εᵀ ∂f/∂y‖²``.
        noise: the Hutchinson noise ``ε``, shape ``(batch, dim)``, fixed for the solve
            (see :func:`draw_noise`); required when ``jacobian``.

    Raises:
        ConfigurationError: when neither term is asked for, or the noise is missing or
            has the wrong width.

    Example:
        >>> from neurosym.ode import solve
        >>> reg = RegularisedField(lambda t, y: -y, 1)
        >>> y0 = torch.full((1, 1), 2.0, dtype=torch.float64)  # rtol 1e-8 needs float64
        >>> t = torch.tensor([0.0, 1.0], dtype=torch.float64)
        >>> sol = solve(reg, reg.initial(y0), t, rtol=1e-8, atol=1e-10)
        >>> y1, ke, _ = reg.split(sol.ys[-1])
        >>> round(float(ke[0]), 6)  # ∫ 4 e^{-2t} dt over [0, 1] = 2 (1 - e^{-2})
        1.729329
    """

    def __init__(
        self,
        field: Field,
        dim: int,
        *,
        kinetic: bool = True,
        jacobian: bool = False,
        noise: Tensor | None = None,
    ) -> None:
        super().__init__()
        if not (kinetic or jacobian):
            raise ConfigurationError("ask for at least one of kinetic=True or jacobian=True")
        if dim < 1:
            raise ConfigurationError(f"dim must be positive, got {dim}")
        if jacobian and noise is None:
            raise ConfigurationError(
                "jacobian=True needs the Hutchinson noise: pass noise=draw_noise(y0, ...)"
            )
        if noise is not None and (noise.ndim != 2 or noise.shape[1] != dim):
            raise ConfigurationError(
                f"noise must have shape (batch, {dim}), got {tuple(noise.shape)}"
            )
        if not callable(field):
            raise ConfigurationError(f"field must be callable, got {type(field).__name__}")
        self.field = field
        self.dim = dim
        self.kinetic = kinetic
        self.jacobian = jacobian
        self.noise = noise
        self.n_reg = int(kinetic) + int(jacobian)

    def initial(self, y0: Tensor) -> Tensor:
        """The augmented initial state: ``y0`` followed by ``n_reg`` zero columns."""
        return torch.cat([y0, y0.new_zeros(y0.shape[0], self.n_reg)], dim=-1)

    def split(self, z: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Split an augmented state into ``(y, kinetic, jacobian)`` (``None`` if not asked)."""
        y = z[..., : self.dim]
        col = self.dim
        ke = je = None
        if self.kinetic:
            ke = z[..., col]
            col += 1
        if self.jacobian:
            je = z[..., col]
        return y, ke, je

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        """Evaluate ``[f, ‖f‖², ‖εᵀ∂f/∂y‖²]`` on the augmented state ``z``."""
        y = z[:, : self.dim]
        parts: list[Tensor]
        if not self.jacobian:
            f: Tensor = self.field(t, y)
            parts = [f, (f * f).sum(-1, keepdim=True)]
            return torch.cat(parts, dim=-1)
        assert self.noise is not None  # checked in __init__
        # Keep a graph only when something upstream can receive a gradient: the state, or
        # the field's parameters (a plain callable is assumed to have some).
        field = self.field
        outer = torch.is_grad_enabled() and (
            y.requires_grad
            or not isinstance(field, nn.Module)
            or any(p.requires_grad for p in field.parameters())
        )
        with torch.enable_grad():
            # A state without a graph (the input itself, or evaluation under no_grad) is
            # made a leaf so the vector-Jacobian product has something to differentiate.
            y_in = y if y.requires_grad else y.detach().requires_grad_(True)
            f = self.field(t, y_in)
            (vjp,) = torch.autograd.grad(f, y_in, self.noise, create_graph=outer)
        if not outer:
            f, vjp = f.detach(), vjp.detach()
        parts = [f]
        if self.kinetic:
            parts.append((f * f).sum(-1, keepdim=True))
        parts.append((vjp * vjp).sum(-1, keepdim=True))
        return torch.cat(parts, dim=-1)
