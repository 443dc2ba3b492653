"""Dense output from the end values and slopes of one accepted step.

Explicit Runge–Kutta methods use the equivalent stage form in
``AbstractExplicitRK.interpolate_many``; this cubic Hermite serves the other solvers. It
takes the normalised position ``theta = (t - t0) / h`` in ``[0, 1]`` with shape
``(batch, 1)``, so each sample may sit at its own point of its own step.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["hermite_coefficients", "hermite_cubic"]


def hermite_cubic(
    y0: Tensor, y1: Tensor, f0: Tensor, f1: Tensor, h: Tensor | float, theta: Tensor
) -> Tensor:
    """Cubic Hermite interpolation from both ends' values and slopes (third order).

    Args:
        y0: values at the start of the step, ``(batch, dim)``.
        y1: values at the end of the step.
        f0: derivative at the start.
        f1: derivative at the end.
        h: step sizes, ``(batch, 1)``, or one float.
        theta: positions in the step, ``(batch, 1)``.

    Returns:
        The interpolated values, ``(batch, dim)``.
    """
    d = h * f0
    u = y1 - y0 - d
    v = h * f1 - d
    b = v - 2 * u
    c = 3 * u - v
    return y0 + theta * (d + theta * (c + theta * b))


def hermite_coefficients(
    y0: Tensor, y1: Tensor, f0: Tensor, f1: Tensor, h: Tensor | float
) -> Tensor:
    """The cubic Hermite of :func:`hermite_cubic` as ``(3, batch, dim)`` coefficients ``C``
    with ``y(θ) = y0 + θ C[0] + θ² C[1] + θ³ C[2]``."""
    d = h * f0
    u = y1 - y0 - d
    v = h * f1 - d
    return torch.stack([d, 3 * u - v, v - 2 * u])
