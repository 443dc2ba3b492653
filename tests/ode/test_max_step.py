"""``max_step``: the largest step of an adaptive solve.

A narrow pulse ``y' = exp(-((t - 1/2) / w)²)`` starting where the field is ~0 is the
classic case: the error estimate sees nothing, the steps grow over the pulse and the
solve returns 0 with every sample "successful". Its integral has the closed form
``w √π / 2 · (erf(1/(2w)) + erf(1/(2w)))``.
"""

from __future__ import annotations

import math

import pytest
import torch

from neurosym import ode
from neurosym.errors import ConfigurationError

W = 2e-3
PULSE = W * math.sqrt(math.pi) / 2 * 2 * math.erf(0.5 / W)


def pulse(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.exp(-(((t - 0.5) / W) ** 2)).expand_as(y)


@pytest.mark.parametrize("step_control", ["joint", "per_sample"])
def test_max_step_bounds_every_step_and_catches_a_narrow_pulse(step_control: str) -> None:
    y0 = torch.zeros(2, 1, dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    free = ode.solve(pulse, y0, t, rtol=1e-8, atol=1e-10, step_control=step_control)
    assert float(free.ys[-1].abs().max()) < 1e-6 * PULSE  # stepped over: the reason
    sol = ode.solve(pulse, y0, t, rtol=1e-8, atol=1e-10, step_control=step_control, max_step=1e-3)
    torch.testing.assert_close(sol.ys[-1], torch.full_like(y0, PULSE), rtol=1e-6, atol=0)
    # steps of at most 1e-3 over [0, 1]: 1000 at least
    assert int(sol.stats.accepted_per_sample.min()) >= 1000


@pytest.mark.parametrize("step_control", ["joint", "per_sample"])
def test_max_step_bounds_dense_output_error_where_the_estimate_vanishes(
    step_control: str,
) -> None:
    # Rodas3 is exact at its steps on y' = -k y² (its estimate vanishes, its steps grow):
    # bounded steps bound its cubic Hermite output between them.
    k = 0.7
    y0 = torch.tensor([[0.5], [1.2], [2.0]], dtype=torch.float64)
    ts = torch.linspace(0.0, 1.0, 5, dtype=torch.float64)
    exact = y0 / (1 + k * y0 * ts[:, None, None])
    kw = {"method": "rodas3", "rtol": 1e-8, "atol": 1e-10, "step_control": step_control}
    free = ode.solve(lambda t, y: -k * y * y, y0, ts, **kw)
    bounded = ode.solve(lambda t, y: -k * y * y, y0, ts, max_step=0.05, **kw)
    assert float((free.ys - exact).abs().max()) > 1e-3
    assert float((bounded.ys - exact).abs().max()) < 2e-6


def test_max_step_is_checked() -> None:
    y0, t = torch.ones(1, 1), torch.tensor([0.0, 1.0])
    with pytest.raises(ConfigurationError, match="max_step must be a positive number"):
        ode.solve(lambda s, y: -y, y0, t, max_step=0.0)
    with pytest.raises(ConfigurationError, match="fixed steps are set by dt/steps"):
        ode.solve(lambda s, y: -y, y0, t, method="rk4", steps=4, max_step=0.1)


class Growth(torch.nn.Module):
    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y


def test_neural_ode_passes_max_step_on() -> None:
    node = ode.NeuralODE(Growth(), max_step=0.01)  # y' = y: y(1) = e
    sol = node(torch.ones(1, 1, dtype=torch.float64), torch.tensor([0.0, 1.0]).double())
    assert int(sol.stats.accepted_per_sample[0]) >= 100
    torch.testing.assert_close(sol.ys[-1, 0, 0], torch.tensor(math.e).double(), rtol=1e-6, atol=0)


def test_max_step_bounds_the_adjoints_backward_solve_too() -> None:
    # y' = c · pulse(t): y(1) = c · PULSE, so dy(1)/dc = PULSE. The backward solve starts
    # where the adjoint field is ~0 as well: unbounded, it steps over the pulse.
    c = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    y0 = torch.zeros(2, 1, dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    sol = ode.solve(
        lambda s, y: c * pulse(s, y), y0, t, rtol=1e-8, atol=1e-10, max_step=1e-3,
        adjoint=True, adjoint_params=[c],
    )  # fmt: skip
    torch.testing.assert_close(sol.ys[-1], torch.full_like(y0, 1.5 * PULSE), rtol=1e-6, atol=0)
    (grad,) = torch.autograd.grad(sol.ys[-1, 0, 0], c)
    torch.testing.assert_close(grad, torch.tensor(PULSE).double(), rtol=1e-6, atol=0)
