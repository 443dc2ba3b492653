"""Dense output: polynomials through the data of one accepted step.

Both interpolants take the normalised position ``theta = (t - t0) / h`` in ``[0, 1]``
with shape ``(batch, 1)``, so each sample may sit at its own point of its own step.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["hermite_cubic", "quartic_with_midpoint"]


def hermite_cubic(
    y0: Tensor, y1: Tensor, f0: Tensor, f1: Tensor, h: Tensor, theta: Tensor
) -> Tensor:
    """Cubic Hermite interpolation from both ends' values and slopes (third order).

    Args:
        y0: values at the start of the step, ``(batch, dim)``.
        y1: values at the end of the step.
        f0: derivative at the start.
        f1: derivative at the end.
        h: step sizes, ``(batch, 1)``.
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


def quartic_with_midpoint(
    y0: Tensor, y1: Tensor, ymid: Tensor, f0: Tensor, f1: Tensor, h: Tensor, theta: Tensor
) -> Tensor:
    """Quartic through both ends, both slopes and a midpoint value (fourth order).

    With a fifth-order midpoint value (Shampine 1986 for Dormand–Prince) this is the
    classical free dense output of the 5(4) pair.

    Args:
        y0: values at the start of the step, ``(batch, dim)``.
        y1: values at the end of the step.
        ymid: values at the middle of the step.
        f0: derivative at the start.
        f1: derivative at the end.
        h: step sizes, ``(batch, 1)``.
        theta: positions in the step, ``(batch, 1)``.

    Returns:
        The interpolated values, ``(batch, dim)``.
    """
    # p(θ) = aθ⁴ + bθ³ + cθ² + dθ + y0, solved by hand from the five conditions.
    d = h * f0
    u = y1 - y0 - d
    v = h * f1 - d
    w = ymid - y0 - 0.5 * d
    a = 16 * w + 2 * v - 8 * u
    b = v - 2 * u - 2 * a
    c = u - a - b
    return y0 + theta * (d + theta * (c + theta * (b + theta * a)))
