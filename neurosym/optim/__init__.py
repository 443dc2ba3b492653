"""Optimisers as damped oscillators: conversions, optimal settings, continuum limits and
diagnostics.

Gradient descent with momentum is ``m x'' + γ x' + ∇f(x) = 0`` discretised (Polyak 1964;
Qian 1999; Su, Boyd & Candès 2014): learning rate and momentum are mass, damping and time
step, and critical damping is the best momentum on a quadratic. A residual block is one
Euler step of ``X' = f(X)``. See docs/optim.md.

Example:
    >>> from neurosym import optim
    >>> lr, momentum = optim.optimal_heavy_ball(1.0, 100.0)
    >>> optim.damping_regime(lr, momentum, 1.0).value
    'critical'
"""

from __future__ import annotations

from ._continuum import (
    GRAD_F,
    HEAVY_BALL,
    HESS_F,
    JAC_F,
    LM_RESNET,
    NAG_C,
    NESTEROV,
    RESNET,
    VECTOR_FIELD,
    X_K,
    X_KM1,
    X_KM2,
    ContinuumLimit,
    K,
    T,
    UpdateRule,
    X,
    continuum_limit,
)
from ._diagnose import ADVICE_RULES, Advice, Diagnosis, diagnose_run
from ._lyapunov import LyapunovCheck, lyapunov_check
from ._optimizer import PhysicalHeavyBall
from ._params import (
    DampingRegime,
    Hyperparameters,
    PhysicalParameters,
    damping_regime,
    from_physical,
    nesterov_parameters,
    optimal_heavy_ball,
    spectral_radius,
    to_physical,
)
from ._quadratic import iterations_to_tolerance, quadratic_run

__all__ = [
    "ADVICE_RULES",
    "GRAD_F",
    "HEAVY_BALL",
    "HESS_F",
    "JAC_F",
    "LM_RESNET",
    "NAG_C",
    "NESTEROV",
    "RESNET",
    "VECTOR_FIELD",
    "X_K",
    "X_KM1",
    "X_KM2",
    "Advice",
    "ContinuumLimit",
    "DampingRegime",
    "Diagnosis",
    "Hyperparameters",
    "K",
    "LyapunovCheck",
    "PhysicalHeavyBall",
    "PhysicalParameters",
    "T",
    "UpdateRule",
    "X",
    "continuum_limit",
    "damping_regime",
    "diagnose_run",
    "from_physical",
    "iterations_to_tolerance",
    "lyapunov_check",
    "nesterov_parameters",
    "optimal_heavy_ball",
    "quadratic_run",
    "spectral_radius",
    "to_physical",
]
