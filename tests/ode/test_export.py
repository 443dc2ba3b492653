"""Fixed-step solves traced whole: ``torch.export`` and ``torch.compile(fullgraph=True)``.

The use case is a sampler (flow matching, continuous normalising flows): a fixed grid
``t = linspace(0, 1, steps + 1)`` with one step per interval, exported with its network
for deployment. The eager solve is the oracle: the traced program must reproduce it.
``fullgraph`` runs use dynamo's ``eager`` backend (the graph capture is what is tested;
Inductor's code generation is torch's).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from neurosym import ode
from neurosym.errors import ConfigurationError, SolverError


class Sampler(nn.Module):
    def __init__(self, method: str, steps: int = 8, grid: int | None = None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2))
        self.method, self.steps = method, steps
        self.grid = steps + 1 if grid is None else grid

    def field(self, t: Tensor, y: Tensor) -> Tensor:
        return self.net(torch.cat([y, t.expand(y.shape[0], 1)], 1))

    def forward(self, y0: Tensor) -> Tensor:
        t = torch.linspace(0.0, 1.0, self.grid)
        return ode.solve(self.field, y0, t, method=self.method, steps=self.steps).ys


Y0 = torch.randn(5, 2, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("method", ["euler", "midpoint", "heun", "rk4", "dopri5"])
def test_exported_sampler_reproduces_the_eager_solve(method: str) -> None:
    model = Sampler(method)
    exported = torch.export.export(model, (Y0,))
    y_new = torch.randn(5, 2, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(exported.module()(y_new), model(y_new), rtol=0, atol=1e-6)


def test_two_output_times_with_many_steps_export() -> None:
    model = Sampler("rk4", steps=20, grid=2)
    exported = torch.export.export(model, (Y0,))
    torch.testing.assert_close(exported.module()(Y0), model(Y0), rtol=0, atol=1e-6)


def test_per_sample_times_given_as_an_input_export() -> None:
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))

    class Solve(nn.Module):
        def forward(self, y0: Tensor, t: Tensor) -> Tensor:
            return ode.solve(lambda s, y: net(y), y0, t, method="rk4", steps=3).ys

    t = torch.stack([torch.linspace(0.0, 1.0, 4) * (1 + i) for i in range(5)])
    exported = torch.export.export(Solve(), (Y0, t))
    torch.testing.assert_close(exported.module()(Y0, 2 * t), Solve()(Y0, 2 * t), rtol=0, atol=1e-6)


@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf:UserWarning")
@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_fullgraph_compile_and_its_gradients(method: str) -> None:
    model = Sampler(method)
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    y0 = Y0.clone().requires_grad_(True)
    out = compiled(y0)
    torch.testing.assert_close(out, model(Y0), rtol=0, atol=1e-6)
    grads = torch.autograd.grad(out.square().sum(), [y0, *model.parameters()])
    y1 = Y0.clone().requires_grad_(True)
    want = torch.autograd.grad(model(y1).square().sum(), [y1, *model.parameters()])
    for got, exp in zip(grads, want, strict=True):
        torch.testing.assert_close(got, exp, rtol=1e-5, atol=1e-6)


def test_a_traced_solve_asserts_what_it_cannot_check_by_value() -> None:
    class Blows(nn.Module):
        def forward(self, y0: Tensor, t: Tensor) -> Tensor:
            return ode.solve(lambda s, y: y * y, y0, t, method="euler", steps=4).ys

    t = torch.linspace(0.0, 1.0, 5)
    program = torch.export.export(Blows(), (torch.full((2, 1), 0.1), t)).module()
    # y' = y² from 0.1 stays finite over [0, 1]; from 1e30 it overflows: the eager solve
    # raises SolverError, the exported one its runtime assertion.
    small = torch.full((2, 1), 0.1)
    torch.testing.assert_close(program(small, t), Blows()(small, t))
    with pytest.raises(SolverError):
        Blows()(torch.full((2, 1), 1e30), t)
    with pytest.raises(RuntimeError, match="did not reach the end"):
        program(torch.full((2, 1), 1e30), t)
    with pytest.raises(RuntimeError, match="strictly increasing"):
        program(torch.full((2, 1), 0.1), t.flip(0))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "dopri5"},  # adaptive
        {"method": "rk4", "steps": 10},  # 10 steps over 4 intervals: by their widths
        {"method": "rk4", "dt": 0.1},
        {"method": "rk4", "steps": 4, "checkpoint": True},
    ],
)
def test_export_refuses_value_dependent_solves(kwargs: dict[str, object]) -> None:
    class Solve(nn.Module):
        def forward(self, y0: Tensor) -> Tensor:
            return ode.solve(lambda s, y: -y, y0, torch.linspace(0.0, 1.0, 5), **kwargs).ys

    with pytest.raises(ConfigurationError, match=r"torch\.export traces no decision made by value"):
        torch.export.export(Solve(), (Y0,))


def test_a_neural_ode_exports_with_its_solution_and_survives_save_and_load() -> None:
    # Solution and Stats are pytrees: the exported NeuralODE returns a Solution too.
    import io

    torch.manual_seed(0)
    node = ode.NeuralODE(ode.MLPField(2, (8,)), method="rk4", steps=4)
    t = torch.linspace(0.0, 1.0, 5)
    program = torch.export.export(node, (Y0, t))
    buf = io.BytesIO()
    torch.export.save(program, buf)
    buf.seek(0)
    loaded = torch.export.load(buf).module()
    with torch.no_grad():
        want = node(2 * Y0, t)
        got = loaded(2 * Y0, t)
    assert isinstance(got, ode.Solution)
    torch.testing.assert_close(got.ys, want.ys, rtol=0, atol=1e-6)
    torch.testing.assert_close(got.status, want.status)
    assert (got.stats.steps, got.stats.nfe, got.stats.accepted) == (4, 16, 4 * 5)
