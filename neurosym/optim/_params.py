"""Learning rate and momentum as mass, damping and time step; the best of them on a quadratic.

Heavy ball (Polyak 1964) with learning rate ``α`` and momentum ``β``,
``x_{k+1} = x_k − α∇f(x_k) + β(x_k − x_{k−1})``, is the damped oscillator
``m x'' + γ x' + ∇f(x) = 0`` discretised with step ``h``: divide the update by ``h²/m`` and
read ``(x_{k+1} − 2x_k + x_{k−1})/h²`` as ``x''`` and ``(x_k − x_{k−1})/h`` as ``x'``. Hence

    α = h²/m,   β = 1 − γh/m      and back      h = √(αm),   γ = m(1 − β)/h.

Nesterov's update evaluates the gradient at the look-ahead point ``x_k + β(x_k − x_{k−1})``;
with the same mapping its oscillator carries one more term, a Hessian-driven damping
``βh ∇²f(x) x'`` (Shi, Du, Jordan & Su 2018): that is the ``hessian_damping`` of
:class:`PhysicalParameters`.
"""

from __future__ import annotations

import enum
import math
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from neurosym.errors import ConfigurationError

__all__ = [
    "DampingRegime",
    "Hyperparameters",
    "Method",
    "PhysicalParameters",
    "damping_regime",
    "from_physical",
    "nesterov_parameters",
    "optimal_heavy_ball",
    "spectral_radius",
    "to_physical",
]

Method = Literal["gd", "heavy_ball", "nesterov"]
_METHODS = ("gd", "heavy_ball", "nesterov")


class Hyperparameters(NamedTuple):
    """A learning rate and a momentum (``torch.optim.SGD(lr=..., momentum=...)``)."""

    lr: float
    momentum: float


class PhysicalParameters(NamedTuple):
    """Mass, damping and time step of the oscillator ``m x'' + γ x' + ∇f(x) = 0``.

    ``hessian_damping`` is the coefficient ``c`` of the extra term ``c ∇²f(x) x'`` that
    Nesterov's look-ahead gradient adds (0 for heavy ball and gradient descent).
    """

    mass: float
    damping: float
    dt: float
    hessian_damping: float = 0.0


def _method(method: str) -> Method:
    if method not in _METHODS:
        raise ConfigurationError(
            f"method must be one of {', '.join(map(repr, _METHODS))}, got {method!r}"
        )
    return method  # type: ignore[return-value]


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigurationError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def to_physical(
    lr: float, momentum: float, *, mass: float = 1.0, method: Method = "heavy_ball"
) -> PhysicalParameters:
    """The oscillator that an SGD-with-momentum setting discretises.

    Args:
        lr: learning rate ``α > 0``.
        momentum: momentum ``β`` (0 is gradient descent).
        mass: the mass ``m`` to express the oscillator with (only ``α/m`` is determined).
        method: ``"heavy_ball"`` (also ``"gd"``) or ``"nesterov"``.

    Returns:
        ``PhysicalParameters(mass, damping=m(1−β)/h, dt=h=√(αm), hessian_damping)``
        where ``hessian_damping`` is ``βh`` for Nesterov and 0 otherwise.

    Raises:
        ConfigurationError: a non-positive ``lr`` or ``mass``, or an unknown method.

    Example:
        >>> [round(v, 12) for v in to_physical(0.01, 0.9)]
        [1.0, 1.0, 0.1, 0.0]
        >>> [round(v, 12) for v in to_physical(0.01, 0.9, method="nesterov")]
        [1.0, 1.0, 0.1, 0.09]
        >>> [round(v, 12) for v in from_physical(*to_physical(0.01, 0.9)[:3])]
        [0.01, 0.9]
    """
    method = _method(method)
    lr = _positive("lr", lr)
    mass = _positive("mass", mass)
    if method == "gd" and momentum != 0:
        raise ConfigurationError(f"gradient descent has momentum 0, got {momentum!r}")
    dt = math.sqrt(lr * mass)
    damping = mass * (1.0 - momentum) / dt
    return PhysicalParameters(mass, damping, dt, momentum * dt if method == "nesterov" else 0.0)


def from_physical(
    mass: float, damping: float, dt: float, *, method: Method = "heavy_ball"
) -> Hyperparameters:
    """The learning rate and momentum that discretise ``m x'' + γ x' + ∇f(x) = 0`` with step ``dt``.

    ``lr = dt²/m`` and ``momentum = 1 − γ·dt/m``, for heavy ball and Nesterov alike (Nesterov
    adds the Hessian damping ``momentum·dt`` of its own, see :func:`to_physical`).

    Raises:
        ConfigurationError: a non-positive mass or step, or an unknown method.

    Example:
        >>> [round(v, 12) for v in from_physical(1.0, 2.0, 0.1)]
        [0.01, 0.8]
    """
    _method(method)
    mass = _positive("mass", mass)
    dt = _positive("dt", dt)
    return Hyperparameters(dt * dt / mass, 1.0 - damping * dt / mass)


def _condition(mu: float, L: float) -> tuple[float, float]:
    mu = _positive("mu", mu)
    L = _positive("L", L)
    if mu > L:
        raise ConfigurationError(
            f"the curvature range needs mu <= L, got mu={mu!r} > L={L!r}; swap them"
        )
    return mu, L


def optimal_heavy_ball(mu: float, L: float) -> Hyperparameters:
    """Polyak's optimal heavy ball on a quadratic whose Hessian spectrum lies in ``[mu, L]``.

    ``lr = 4/(√L + √μ)²`` and ``momentum = ((√κ − 1)/(√κ + 1))²`` with ``κ = L/μ``: the
    slowest and the fastest mode are then both critically damped (a double root of the
    characteristic polynomial), and every mode contracts at ``√momentum`` per step.

    Raises:
        ConfigurationError: ``mu`` or ``L`` not positive, or ``mu > L``.

    Example:
        >>> lr, momentum = optimal_heavy_ball(1.0, 100.0)  # 4/11², (9/11)²
        >>> round(lr * 121, 12), round(momentum * 121, 12)
        (4.0, 81.0)
    """
    mu, L = _condition(mu, L)
    root = math.sqrt(L / mu)
    return Hyperparameters(
        4.0 / (math.sqrt(L) + math.sqrt(mu)) ** 2, ((root - 1) / (root + 1)) ** 2
    )


def nesterov_parameters(mu: float, L: float) -> Hyperparameters:
    """Nesterov's constant-step setting for an ``L``-smooth, ``μ``-strongly convex function.

    ``lr = 1/L`` and ``momentum = (√κ − 1)/(√κ + 1)`` (Nesterov 2004, scheme 2.2.19).

    Raises:
        ConfigurationError: ``mu`` or ``L`` not positive, or ``mu > L``.

    Example:
        >>> nesterov_parameters(1.0, 100.0)
        Hyperparameters(lr=0.01, momentum=0.8181818181818182)
    """
    mu, L = _condition(mu, L)
    root = math.sqrt(L / mu)
    return Hyperparameters(1.0 / L, (root - 1) / (root + 1))


def _coefficients(
    lr: float, momentum: float, lam: npt.NDArray[np.float64], method: Method
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``(b, c)`` of the characteristic polynomial ``z² − b z + c`` of one eigen-direction."""
    if method == "nesterov":
        shrink = 1.0 - lr * lam
        return (1.0 + momentum) * shrink, momentum * shrink
    beta = 0.0 if method == "gd" else momentum
    return 1.0 + beta - lr * lam, np.full_like(lam, beta)


def spectral_radius(
    lr: float,
    momentum: float,
    curvature: float | npt.ArrayLike,
    *,
    method: Method = "heavy_ball",
) -> float | npt.NDArray[np.float64]:
    """The spectral radius of the iteration matrix on the eigen-direction of curvature ``λ``.

    On ``f(x) = λx²/2`` heavy ball is ``x_{k+1} = (1 + β − αλ)x_k − βx_{k−1}``, Nesterov is
    ``x_{k+1} = (1 + β)(1 − αλ)x_k − β(1 − αλ)x_{k−1}``; the radius is the largest modulus
    of a root of ``z² − bz + c``. Below 1 the iteration converges, at rate ``radius`` per step.

    Args:
        lr, momentum: the optimiser's setting.
        curvature: one eigenvalue ``λ`` of the Hessian, or an array of them.
        method: ``"gd"`` (momentum ignored), ``"heavy_ball"`` or ``"nesterov"``.

    Returns:
        A float for a scalar curvature, else an array of the curvature's shape.

    Example:
        >>> lr, beta = optimal_heavy_ball(1.0, 100.0)
        >>> [round(float(r), 6) for r in spectral_radius(lr, beta, [1.0, 30.0, 100.0])]
        [0.818182, 0.818182, 0.818182]
    """
    method = _method(method)
    lam = np.asarray(curvature, dtype=np.float64)
    b, c = _coefficients(lr, momentum, lam, method)
    disc = (b * b - 4.0 * c).astype(np.complex128)
    root = np.sqrt(disc)
    radius = np.maximum(np.abs((b + root) / 2.0), np.abs((b - root) / 2.0))
    return float(radius) if radius.ndim == 0 else radius


class DampingRegime(enum.Enum):
    """How one eigen-direction of the iteration moves."""

    OVERDAMPED = "overdamped"  # two distinct real roots: creeps without oscillating
    CRITICAL = "critical"  # a double root: the fastest non-oscillating decay
    UNDERDAMPED = "underdamped"  # complex roots: oscillates while it decays
    UNSTABLE = "unstable"  # a root of modulus >= 1: does not converge


def damping_regime(
    lr: float,
    momentum: float,
    curvature: float,
    *,
    method: Method = "heavy_ball",
    rtol: float = 1e-9,
) -> DampingRegime:
    """The damping regime of the eigen-direction with curvature ``λ``.

    The characteristic polynomial ``z² − bz + c`` (see :func:`spectral_radius`) has
    discriminant ``b² − 4c``: positive is over-damped, zero (within ``rtol·max(b², 4|c|)``)
    critically damped, negative under-damped; any root of modulus ``>= 1`` is unstable.
    A negative real root (``b < 0``) is still classed by the discriminant: the iterate
    flips sign each step because the step overshoots, not because the mass swings.

    Raises:
        ConfigurationError: an unknown method or a negative ``rtol``.

    Example:
        >>> lr, beta = optimal_heavy_ball(1.0, 100.0)
        >>> [damping_regime(lr, beta, lam).value for lam in (1.0, 10.0, 100.0, 130.0)]
        ['critical', 'underdamped', 'critical', 'unstable']
        >>> damping_regime(0.01, 0.2, 1.0).value
        'overdamped'
    """
    method = _method(method)
    if rtol < 0:
        raise ConfigurationError(f"rtol must be >= 0, got {rtol!r}")
    lam = np.asarray(float(curvature), dtype=np.float64)
    b_arr, c_arr = _coefficients(lr, momentum, lam, method)
    b, c = float(b_arr), float(c_arr)
    if float(spectral_radius(lr, momentum, lam, method=method)) >= 1.0:
        return DampingRegime.UNSTABLE
    disc = b * b - 4.0 * c
    if abs(disc) <= rtol * max(b * b, 4.0 * abs(c)):
        return DampingRegime.CRITICAL
    return DampingRegime.OVERDAMPED if disc > 0 else DampingRegime.UNDERDAMPED
