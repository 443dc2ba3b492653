"""Gradients: direct backprop, adjoint, checkpointing and event times, in float64."""

from __future__ import annotations

import math

import pytest
import torch

from neurosym import ode

F64 = torch.float64


class _Linear(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([[-0.3, 0.8], [-0.9, -0.2]], dtype=F64))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(y @ self.w.T) + 0.1 * t


T = torch.tensor([0.0, 0.4, 1.0], dtype=F64)


@pytest.mark.parametrize("mode", ["direct", "adjoint", "checkpoint"])
def test_gradcheck(mode: str) -> None:
    field = _Linear()

    def fn(y0: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            field.w.copy_(w.detach())

        def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return torch.tanh(y @ w.T) + 0.1 * t

        return ode.solve(
            f,
            y0,
            T,
            rtol=1e-11,
            atol=1e-12,
            adjoint=mode == "adjoint",
            adjoint_params=(w,),
            checkpoint=mode == "checkpoint",
        ).ys

    y0 = torch.tensor([[0.5, -0.2], [0.1, 0.9]], dtype=F64, requires_grad=True)
    w = field.w.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (y0, w), atol=1e-6, rtol=1e-4)


def test_gradcheck_rodas3_direct() -> None:
    def fn(y0: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return ode.solve(lambda t, y: -k * y * y, y0, T, method="rodas3", steps=40).ys

    y0 = torch.tensor([[0.5], [1.5]], dtype=F64, requires_grad=True)
    k = torch.tensor(0.7, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (y0, k))


def _mlp_grads(**kwargs: object) -> list[torch.Tensor]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)
    ).double()

    class Field(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return self.net(y)

    y0 = torch.randn(5, 3, dtype=F64, requires_grad=True)
    t = torch.linspace(0.0, 1.0, 4, dtype=F64)
    sol = ode.solve(Field(), y0, t, rtol=1e-9, atol=1e-10, **kwargs)  # type: ignore[arg-type]
    (sol.ys**2).sum().backward()
    assert y0.grad is not None
    return [y0.grad, *(p.grad for p in net.parameters() if p.grad is not None)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"adjoint": True},
        {"adjoint": True, "adjoint_seminorm": False},
        {"checkpoint": True},
        {"step_control": "joint"},
    ],
    ids=["adjoint-seminorm", "adjoint-full-norm", "checkpoint", "joint-direct"],
)
def test_gradients_agree_with_direct_backprop(kwargs: dict[str, object]) -> None:
    direct = _mlp_grads()
    other = _mlp_grads(**kwargs)
    assert len(direct) == len(other) == 5
    for d, o in zip(direct, other):
        assert torch.allclose(d, o, rtol=1e-5, atol=1e-7)


def test_event_time_and_its_gradient_match_closed_form() -> None:
    # y' = -k y, y(0) = y0; the event y = c fires at t* = ln(y0 / c) / k.
    k = torch.tensor(0.8, dtype=F64, requires_grad=True)
    y0 = torch.tensor([[2.0], [3.0], [0.4]], dtype=F64, requires_grad=True)
    c = 0.5
    sol = ode.solve(
        lambda t, y: -k * y,
        y0,
        torch.tensor([0.0, 5.0], dtype=F64),
        event=lambda t, y: y[:, 0] - c,
        rtol=1e-10,
        atol=1e-12,
    )
    assert sol.event_t is not None
    expected = torch.log(y0.detach()[:, 0] / c) / 0.8
    assert torch.allclose(sol.event_t[:2], expected[:2], rtol=1e-7)
    assert torch.isnan(sol.event_t[2])  # starts below c: no crossing
    assert torch.allclose(sol.y_final[:2, 0], torch.full((2,), c, dtype=F64), atol=1e-8)
    sol.event_t[:2].sum().backward()
    assert y0.grad is not None and k.grad is not None
    # dt*/dy0 = 1 / (k y0); dt*/dk = -ln(y0/c) / k².
    assert torch.allclose(y0.grad[:2, 0], 1 / (0.8 * y0.detach()[:2, 0]), rtol=1e-5)
    expected_dk = float(-(torch.log(y0.detach()[:2, 0] / c) / 0.64).sum())
    assert math.isclose(float(k.grad), expected_dk, rel_tol=1e-5)


@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
def test_torch_func_grad_through_solve_equals_autograd(step_control: str) -> None:
    # torch.func.grad with functional_call (the stateless form used for ensembles and
    # meta-learning) differentiates the direct solve like torch.autograd does.
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)
    ).double()
    y0 = torch.randn(4, 3, dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, 5, dtype=torch.float64)

    def loss(params: dict[str, torch.Tensor]) -> torch.Tensor:
        def field(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(net, params, (y,))

        sol = ode.solve(field, y0, t, rtol=1e-8, atol=1e-10, step_control=step_control)
        return sol.ys.square().sum()

    params = {k: v.detach().clone() for k, v in net.named_parameters()}
    got = torch.func.grad(loss)(params)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    want = torch.autograd.grad(loss(leaves), list(leaves.values()))
    for name, w in zip(leaves, want, strict=True):
        torch.testing.assert_close(got[name], w, rtol=1e-12, atol=1e-12)
