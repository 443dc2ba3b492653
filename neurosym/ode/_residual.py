"""Residual stacks read as integrators: ``LMResBlock`` (linear multistep, Lu et al. 2018)
and ``MomentumResBlock`` (momentum residual networks, Sander et al. 2021).

A ResNet ``x_{n+1} = x_n + h f_n(x_n)`` is forward Euler on ``dx/dt = f(t, x)``. LM-ResNet
(Lu, Zhong, Li & Dong 2018) takes a linear two-step method instead::

    x_{n+1} = (1 - k_n) x_n + k_n x_{n-1} + h f_n(x_n)

with a learnable ``k_n``. What it integrates, by Taylor expansion: for the general
two-term form ``x_{n+1} = (1 - k) x_n + k x_{n-1} + c h f(x_n)`` and an exact solution of
``x' = f`` (so ``f(x(t)) = x'(t)``), the local error is::

    x(t+h) - (1-k) x(t) - k x(t-h) - c h x'(t)
        = h (1 + k - c) x' + h²/2 (1 - k) x'' + h³/6 (1 + k) x''' + O(h^4)

- Lu et al.'s ``c = 1``: consistent with ``x' = f`` only at ``k = 0`` (Euler, first
  order). For ``k ≠ 0`` it is a first-order method for the *rescaled* equation
  ``(1 + k) x' = f`` (their "modified equation" reading). No ``k`` makes it second order.
- ``c = 1 + k`` (``scaling="consistent"``): consistent with ``x' = f`` for every ``k``,
  a ResNet at ``k = 0``, and second order exactly when ``1 - k = 0``: ``k = 1``, the
  explicit midpoint ("leapfrog") rule ``x_{n+1} = x_{n-1} + 2h f(x_n)``, whose ``h³``
  term ``(1 + k)/6 = 1/3`` does not vanish. Leapfrog is zero-stable but its parasitic
  root ``ζ ≈ -(1 - hλ)`` grows for decaying modes (``λ < 0``), so it suits short
  horizons or oscillatory fields; ``k`` in ``(-1, 1)`` is strictly stable.

The two-step Adams–Bashforth method is second order too, but it needs ``f(x_{n-1})``
and is a ResNet for no coefficient, so it is not offered. The first step has no
``x_{-1}``: it is an Euler step, whose local error ``O(h²)`` keeps the global order 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, final

import torch
from torch import Tensor, nn

from neurosym.errors import ConfigurationError

__all__ = ["LMResBlock", "MomentumResBlock"]


def _fields(
    fields: nn.Module | Sequence[nn.Module], depth: int | None
) -> tuple[nn.ModuleList, int]:
    if isinstance(fields, nn.Module) and not isinstance(fields, nn.ModuleList):
        if depth is None or not (isinstance(depth, int) and depth >= 1):
            raise ConfigurationError(
                f"one shared field needs depth= (a positive int), got depth={depth!r}; "
                "or pass a sequence of fields, one per step"
            )
        return nn.ModuleList([fields]), depth
    mods = list(fields)
    if not mods or not all(isinstance(m, nn.Module) for m in mods):
        raise ConfigurationError("fields must be an nn.Module or a non-empty sequence of them")
    if depth is not None and depth != len(mods):
        raise ConfigurationError(f"depth={depth} but {len(mods)} fields were given")
    return nn.ModuleList(mods), len(mods)


@final
class LMResBlock(nn.Module):
    """A linear-multistep residual stack (LM-ResNet): ``depth`` steps of size ``t_end/depth``.

    Step 0 is ``x_1 = x_0 + h f_0(t_0, x_0)``; step ``n >= 1`` is
    ``x_{n+1} = (1 - k_n) x_n + k_n x_{n-1} + c_n h f_n(t_n, x_n)`` with ``c_n = 1``
    (``scaling="lu"``, Lu et al. 2018) or ``c_n = 1 + k_n`` (``scaling="consistent"``:
    consistent with ``x' = f`` for every ``k``, second order at ``k = 1``). With all
    ``k_n = 0`` both are exactly a ResNet. See the module docstring for the derivation.

    Args:
        fields: one field ``f(t, x)`` shared by every step (weight-tied, an ODE
            discretisation; needs ``depth``) or a sequence, one per step.
        depth: the number of steps when one field is shared.
        t_end: the total time; the step is ``h = t_end / depth``.
        k: the initial value of every ``k_n``.
        learn_k: make ``k_1 ... k_{depth-1}`` learnable parameters (else fixed).
        scaling: ``"lu"`` or ``"consistent"`` (see above).

    Raises:
        ConfigurationError: for a missing or non-positive depth, a non-positive
            ``t_end`` or an unknown scaling.

    Example:
        >>> A = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
        >>> class Lin(torch.nn.Module):
        ...     def forward(self, t, x):
        ...         return x @ A.T
        >>> block = LMResBlock(Lin(), depth=4, k=0.0)
        >>> x = torch.tensor([[1.0, 0.0]])
        >>> euler = x
        >>> for _ in range(4):
        ...     euler = euler + 0.25 * Lin()(None, euler)
        >>> torch.equal(block(x), euler)
        True
    """

    def __init__(
        self,
        fields: nn.Module | Sequence[nn.Module],
        *,
        depth: int | None = None,
        t_end: float = 1.0,
        k: float = 0.0,
        learn_k: bool = True,
        scaling: Literal["lu", "consistent"] = "lu",
    ) -> None:
        super().__init__()
        self.fields, self.depth = _fields(fields, depth)
        if not t_end > 0:
            raise ConfigurationError(f"t_end must be positive, got {t_end!r}")
        if scaling not in ("lu", "consistent"):
            raise ConfigurationError(f"scaling must be 'lu' or 'consistent', got {scaling!r}")
        self.t_end = float(t_end)
        self.scaling: Literal["lu", "consistent"] = scaling
        init = torch.full((max(self.depth - 1, 0),), float(k))
        self.k: Tensor
        if learn_k:
            self.k = nn.Parameter(init)
        else:
            self.register_buffer("k", init)

    def _field(self, n: int) -> nn.Module:
        return self.fields[0] if len(self.fields) == 1 else self.fields[n]

    def forward(self, x: Tensor) -> Tensor:
        """Apply the ``depth`` steps to ``x`` ``(batch, dim)``."""
        h = self.t_end / self.depth
        prev = x
        cur: Tensor = x + h * self._field(0)(x.new_zeros(x.shape[0], 1), x)
        for n in range(1, self.depth):
            k = self.k[n - 1].to(x.dtype)
            t = x.new_full((x.shape[0], 1), n * h)
            step: Tensor = h * self._field(n)(t, cur)
            if self.scaling == "consistent":
                step = (1 + k) * step
            prev, cur = cur, (1 - k) * cur + k * prev + step
        return cur


@final
class MomentumResBlock(nn.Module):
    """A momentum residual stack (Sander, Ablin, Blondel & Peyré 2021), invertible.

    Each step is ``v ← γ v + (1 - γ) f_n(t_n, x)`` then ``x ← x + v``, with
    ``t_n = n / depth``. Given the outputs ``(x, v)`` the inputs are recovered exactly (up
    to rounding) by :meth:`inverse`: ``x ← x - v``, ``v ← (v - (1 - γ) f_n(t_n, x)) / γ``,
    so activations need not be stored (this module still lets autograd store them). At
    ``γ = 0`` it is a ResNet; as ``γ → 1`` it is a second-order ODE, ``ε x'' + x' = f``.

    Args:
        fields: one shared field ``f(t, x)`` (needs ``depth``) or a sequence, one per step.
        depth: the number of steps when one field is shared.
        gamma: the momentum ``γ`` in ``[0, 1)``; :meth:`inverse` needs ``γ > 0``.

    Raises:
        ConfigurationError: for a missing depth or ``γ`` outside ``[0, 1)``.

    Example:
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> from neurosym.ode import MLPField
        >>> block = MomentumResBlock(MLPField(2, (8,)), depth=3, gamma=0.9).double()
        >>> x0 = torch.randn(4, 2, dtype=torch.float64)
        >>> x, v = block.flow(x0)
        >>> xr, vr = block.inverse(x, v)
        >>> torch.allclose(xr, x0, atol=1e-12), torch.allclose(vr, torch.zeros_like(x0), atol=1e-12)
        (True, True)
    """

    def __init__(
        self,
        fields: nn.Module | Sequence[nn.Module],
        *,
        depth: int | None = None,
        gamma: float = 0.9,
    ) -> None:
        super().__init__()
        self.fields, self.depth = _fields(fields, depth)
        if not 0.0 <= gamma < 1.0:
            raise ConfigurationError(f"gamma must be in [0, 1), got {gamma!r}")
        self.gamma = float(gamma)

    def _f(self, n: int, x: Tensor) -> Tensor:
        field = self.fields[0] if len(self.fields) == 1 else self.fields[n]
        out: Tensor = field(x.new_full((x.shape[0], 1), n / self.depth), x)
        return out

    def flow(self, x: Tensor, v: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Map ``(x, v)`` (``v`` defaults to zeros) through the stack; return ``(x, v)``."""
        v = torch.zeros_like(x) if v is None else v
        for n in range(self.depth):
            v = self.gamma * v + (1.0 - self.gamma) * self._f(n, x)
            x = x + v
        return x, v

    def inverse(self, x: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Recover the inputs ``(x, v)`` of :meth:`flow` from its outputs.

        Raises:
            ConfigurationError: when ``gamma == 0`` (the velocity is then forgotten).
        """
        if self.gamma == 0.0:
            raise ConfigurationError(
                "gamma=0 forgets the velocity, so the stack is not invertible; use gamma > 0"
            )
        for n in reversed(range(self.depth)):
            x = x - v
            v = (v - (1.0 - self.gamma) * self._f(n, x)) / self.gamma
        return x, v

    def forward(self, x: Tensor) -> Tensor:
        """Apply the stack from zero velocity and return the final ``x``."""
        return self.flow(x)[0]
