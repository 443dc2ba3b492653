"""Neural ODE core: batched ODE solvers with per-sample step control, failure as data,
stiff solvers, adjoints, events, continuous-depth modules and networks read as
differential equations (residual stacks as integrators, regularisers, a solver-swap check).

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
from ._compiled import clear_compiled_steps
from ._controller import AbstractStepController, PIController, PIDController
from ._dop853 import Dop853
from ._dopri8 import Dopri8
from ._fixed_solvers import RK4, Euler, Heun, Midpoint
from ._graph import GraphODE
from ._graphed import clear_cuda_graphs
from ._modules import MLPField, NeuralODE, NFECounter
from ._odeblock import ODEBlock, SolverSetting
from ._regularise import Regularisation, RegularisedField, draw_noise
from ._residual import LMResBlock, MomentumResBlock
from ._rosenbrock import Rodas3
from ._solution import Solution, Stats
from ._solve import METHODS, solve
from ._solver import AbstractExplicitRK, AbstractSolver, ButcherTableau, StepResult
from ._status import Status
from ._swap import SolverSwapReport, solver_swap_check
from ._systems import Trajectory, damped_oscillator, lorenz, lotka_volterra, pendulum

__all__ = [
    "METHODS",
    "RK4",
    "AbstractExplicitRK",
    "AbstractSolver",
    "AbstractStepController",
    "Bosh3",
    "ButcherTableau",
    "Dop853",
    "Dopri5",
    "Dopri8",
    "Euler",
    "GraphODE",
    "Heun",
    "LMResBlock",
    "MLPField",
    "Midpoint",
    "MomentumResBlock",
    "NFECounter",
    "NeuralODE",
    "ODEBlock",
    "PIController",
    "PIDController",
    "Regularisation",
    "RegularisedField",
    "Rodas3",
    "Solution",
    "SolverSetting",
    "SolverSwapReport",
    "Stats",
    "Status",
    "StepResult",
    "Trajectory",
    "Tsit5",
    "clear_compiled_steps",
    "clear_cuda_graphs",
    "damped_oscillator",
    "draw_noise",
    "lorenz",
    "lotka_volterra",
    "pendulum",
    "solve",
    "solver_swap_check",
]
