"""Runs on a quadratic: the harness that counts iterations until the loss stays small."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from neurosym.errors import ConfigurationError

from ._params import Method, _method

__all__ = ["iterations_to_tolerance", "quadratic_run"]

_SETTLED: Final = 1e-4  # stop once position and velocity are both this far below the target


def _start(lam: npt.NDArray[np.float64], x0: npt.ArrayLike | None) -> npt.NDArray[np.float64]:
    if x0 is None:
        if np.any(lam <= 0):
            raise ConfigurationError(
                f"the default start needs positive curvatures, got {lam.tolist()}; pass x0"
            )
        return 1.0 / np.sqrt(lam)  # every eigen-direction starts with loss 1/2
    x = np.array(x0, dtype=np.float64)
    if x.shape != lam.shape:
        raise ConfigurationError(
            f"x0 has shape {x.shape}, the curvatures {lam.shape}: give one start per direction"
        )
    return x


def quadratic_run(
    method: Method,
    curvatures: npt.ArrayLike,
    *,
    lr: float,
    momentum: float = 0.0,
    x0: npt.ArrayLike | None = None,
    steps: int,
) -> npt.NDArray[np.float64]:
    """Iterates of a method on ``f(x) = ½ Σ λ_i x_i²``, shape ``(steps + 1, dim)``.

    The start ``x0`` defaults to ``x_i = 1/√λ_i`` (loss ½ per direction), at rest.

    Every quadratic is of this form in its Hessian's eigenbasis, and the three methods
    commute with rotations, so the diagonal form loses nothing. ``x_{−1} = x_0`` (start at
    rest), as ``torch.optim.SGD`` does.

    Example:
        >>> quadratic_run("gd", [1.0, 4.0], lr=0.25, x0=[1.0, 1.0], steps=2).tolist()
        [[1.0, 1.0], [0.75, 0.0], [0.5625, 0.0]]
    """
    method = _method(method)
    lam = np.asarray(curvatures, dtype=np.float64)
    x = _start(lam, x0)
    beta = 0.0 if method == "gd" else float(momentum)
    out = np.empty((steps + 1, lam.size))
    out[0] = x
    prev = x.copy()
    for k in range(steps):
        look = x + beta * (x - prev) if method == "nesterov" else x
        new = x + beta * (x - prev) - lr * lam * look
        prev, x = x, new
        out[k + 1] = x
    return out


def iterations_to_tolerance(
    method: Method,
    curvatures: npt.ArrayLike,
    *,
    lr: float,
    momentum: float = 0.0,
    x0: npt.ArrayLike | None = None,
    tol: float = 1e-6,
    max_iter: int = 1_000_000,
) -> int | None:
    """How many iterations until the loss ``f(x_k) = ½ Σ λ_i x_{k,i}²`` *stays* below ``tol``.

    Counting the first crossing would flatter oscillating methods, whose loss dips below
    the target and comes back. The run goes on until both ``f(x_k)`` and the kinetic term
    ``½ Σ λ_i (x_k − x_{k−1})_i²`` are ``10⁴`` times below ``tol``, so a later return above
    the target is ruled out in practice; the answer is one past the last iterate at or above
    ``tol`` (0 when ``f(x_0) < tol``).

    Args:
        method: ``"gd"``, ``"heavy_ball"`` or ``"nesterov"``.
        curvatures: the Hessian's eigenvalues ``λ_i``.
        lr, momentum: the setting.
        x0: start, at rest; by default ``x_i = 1/√λ_i``, so every eigen-direction
            starts with loss ½ and none is favoured.
        tol: the loss target.
        max_iter: give up after this many iterations.

    Returns:
        The count, or ``None`` when the run has not settled within ``max_iter``
        (divergent or too slow).

    Raises:
        ConfigurationError: a non-positive ``tol`` or ``max_iter``, or an unknown method.

    Example:
        >>> iterations_to_tolerance("gd", [1.0, 100.0], lr=0.01)
        653
        >>> iterations_to_tolerance("heavy_ball", [1.0, 100.0], lr=4 / 121, momentum=81 / 121)
        56
    """
    method = _method(method)
    if not tol > 0 or max_iter < 1:
        raise ConfigurationError(f"tol must be > 0 and max_iter >= 1, got {tol!r}, {max_iter!r}")
    lam = np.asarray(curvatures, dtype=np.float64)
    x = _start(lam, x0)
    beta = 0.0 if method == "gd" else float(momentum)
    prev = x.copy()
    last_above = -1 if 0.5 * float(lam @ (x * x)) < tol else 0
    for k in range(1, max_iter + 1):
        look = x + beta * (x - prev) if method == "nesterov" else x
        prev, x = x, x + beta * (x - prev) - lr * lam * look
        loss = 0.5 * float(lam @ (x * x))
        if not loss < 1e100:  # diverging (or NaN): give up before numpy overflows
            return None
        if loss >= tol:
            last_above = k
        elif loss < tol * _SETTLED:
            step = x - prev
            if 0.5 * float(lam @ (step * step)) < tol * _SETTLED:
                return last_above + 1
    return None
