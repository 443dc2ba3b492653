"""Neural ODE core: batched ODE solvers with per-sample step control, failure as data,
stiff solvers, adjoints, events and continuous-depth modules.

The public surface is re-exported here; implementation lives in private modules.

Example:
    >>> import torch
    >>> from neurosym import ode
    >>> sol = ode.solve(lambda t, y: -y, torch.ones(3, 2), torch.linspace(0.0, 1.0, 5))
    >>> tuple(sol.ys.shape), sol.ok
    ((5, 3, 2), True)
"""

from __future__ import annotations

from ._adaptive_solvers import Bosh3, Dopri5, Tsit5
from ._controller import AbstractStepController, PIController, PIDController
from ._dopri8 import Dopri8
from ._fixed_solvers import RK4, Euler, Heun, Midpoint
from ._graph import GraphODE
from ._modules import MLPField, NeuralODE, NFECounter, ODEBlock
from ._rosenbrock import Rodas3
from ._solution import Solution, Stats
from ._solve import METHODS, solve
from ._solver import AbstractExplicitRK, AbstractSolver, ButcherTableau, StepResult
from ._status import Status

__all__ = [
    "METHODS",
    "RK4",
    "AbstractExplicitRK",
    "AbstractSolver",
    "AbstractStepController",
    "Bosh3",
    "ButcherTableau",
    "Dopri5",
    "Dopri8",
    "Euler",
    "GraphODE",
    "Heun",
    "MLPField",
    "Midpoint",
    "NFECounter",
    "NeuralODE",
    "ODEBlock",
    "PIController",
    "PIDController",
    "Rodas3",
    "Solution",
    "Stats",
    "Status",
    "StepResult",
    "Tsit5",
    "solve",
]
