"""Modules and the public surface."""

from __future__ import annotations

import pytest
import torch

from neurosym import ode
from neurosym.errors import ConfigurationError

EXPECTED = {
    "METHODS", "RK4", "AbstractExplicitRK", "AbstractSolver", "AbstractStepController",
    "Bosh3", "ButcherTableau", "Dop853", "Dopri5", "Dopri8", "Euler", "GraphODE", "Heun",
    "MLPField", "Midpoint",
    "NFECounter", "NeuralODE", "ODEBlock", "PIController", "PIDController", "Rodas3",
    "Solution", "Stats", "Status", "StepResult", "Tsit5", "solve",
    # networks as differential equations
    "LMResBlock", "MomentumResBlock", "Regularisation", "RegularisedField", "SolverSetting",
    "SolverSwapReport", "draw_noise", "solver_swap_check", "clear_compiled_steps",
        "clear_cuda_graphs",
    # data generators
    "Trajectory", "damped_oscillator", "lorenz", "lotka_volterra", "pendulum",
}  # fmt: skip


def test_public_names_are_exactly_the_intended_ones() -> None:
    assert set(ode.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(ode, name) is not None


def test_methods_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        ode.METHODS["mine"] = ode.Dopri5  # type: ignore[index]
    assert "mine" not in ode.METHODS


def test_neural_ode_counts_evaluations_and_trains() -> None:
    torch.manual_seed(0)
    field = ode.NFECounter(ode.MLPField(2, (16,)))
    node = ode.NeuralODE(field, rtol=1e-5, atol=1e-6)
    y0 = torch.randn(8, 2)
    t = torch.linspace(0.0, 1.0, 3)
    sol = node(y0, t)
    assert sol.ys.shape == (3, 8, 2)
    assert field.nfe == sol.stats.nfe > 0
    target = y0 * 0.5
    opt = torch.optim.Adam(node.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = ((node(y0, t).ys[-1] - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


def test_ode_block_with_adjoint_matches_direct() -> None:
    torch.manual_seed(1)
    field = ode.MLPField(3, (8,), time_input=False).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    grads = []
    for adjoint in (False, True):
        block = ode.ODEBlock(field, rtol=1e-9, atol=1e-10, adjoint=adjoint)
        field.zero_grad()
        block(x).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in field.parameters()]))  # type: ignore[union-attr]
    assert torch.allclose(grads[0], grads[1], rtol=1e-5, atol=1e-8)


class NegField(torch.nn.Module):
    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -y


def test_neural_ode_takes_fixed_steps() -> None:
    # y' = -y with 4 Euler steps of 0.25 over [0, 1]: (1 - 1/4)^4 exactly, and 0.75^2
    # at the middle output (the steps split by the intervals' widths).
    node = ode.NeuralODE(NegField(), method="euler", steps=4)
    sol = node(torch.ones(2, 1, dtype=torch.float64), torch.tensor([0.0, 0.5, 1.0]).double())
    torch.testing.assert_close(sol.ys[:, 0, 0], torch.tensor([1.0, 0.75**2, 0.75**4]).double())
    assert sol.stats.nfe == 4
    with pytest.raises(ConfigurationError, match="fixed-step solver: pass steps= or dt="):
        ode.NeuralODE(NegField(), method="rk4")
    with pytest.raises(ConfigurationError, match="not both"):
        ode.NeuralODE(NegField(), method="rk4", steps=4, dt=0.1)
