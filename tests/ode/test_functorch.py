"""``ode.solve`` under ``torch.func`` transforms and to higher orders.

Expectations are closed forms: the Riccati decay ``y' = -k y²`` has
``y(t) = y0 / (1 + k y0 t)``, so ``∂y/∂y0 = 1 / (1 + k y0 t)²``,
``∂²y/∂y0² = -2 k t / (1 + k y0 t)³`` and ``∂/∂k ∂y/∂y0 = -2 y0 t / (1 + k y0 t)³``;
a linear field ``y' = A y`` has ``y(t) = exp(A t) y0``. Mapped solves are also compared
with the same solve of the flattened batch under joint step control, which they equal.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor, nn

from neurosym import ode
from neurosym.errors import ConfigurationError, SolverError

K = 0.7
T_END = 1.0
A = torch.tensor([[-0.5, 1.0], [-1.0, -0.3]], dtype=torch.float64)
TS = torch.linspace(0.0, T_END, 5, dtype=torch.float64)
TIGHT = {"rtol": 1e-10, "atol": 1e-12}


def riccati(t: Tensor, y: Tensor) -> Tensor:
    return -K * y * y


def linear(t: Tensor, y: Tensor) -> Tensor:
    return y @ A.T


def options(method: str) -> dict[str, object]:
    return {"method": method, "steps": 200} if method in ("rk4", "euler") else {
        "method": method, **TIGHT}  # fmt: skip


METHODS = ["dopri5", "tsit5", "bosh3", "dopri8", "dop853", "rk4"]


@pytest.mark.parametrize("method", METHODS)
def test_vmap_over_initial_states_equals_the_flattened_joint_solve(method: str) -> None:
    y0s = torch.randn(3, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    opts = options(method)
    mapped = torch.func.vmap(lambda y0: ode.solve(linear, y0, TS, **opts).ys)(y0s)
    assert mapped.shape == (3, 5, 4, 2)
    control = {} if "steps" in opts else {"step_control": "joint"}
    flat = ode.solve(linear, y0s.reshape(12, 2), TS, **opts, **control).ys
    as_flat = mapped.permute(1, 0, 2, 3).reshape(5, 12, 2)
    torch.testing.assert_close(as_flat, flat, rtol=0, atol=1e-13)
    exact = torch.stack([y0s @ torch.linalg.matrix_exp(A * float(t)).T for t in TS], 1)
    tol = 1e-6 if method in ("bosh3", "rk4") else 1e-8
    torch.testing.assert_close(mapped, exact, rtol=0, atol=tol)


def test_vmap_with_checkpointed_backprop() -> None:
    y0s = torch.randn(2, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    got = torch.func.vmap(lambda y0: ode.solve(linear, y0, TS, checkpoint=True, **TIGHT).ys)(y0s)
    exact = torch.stack([y0s @ torch.linalg.matrix_exp(A * float(t)).T for t in TS], 1)
    torch.testing.assert_close(got, exact, rtol=0, atol=1e-8)


class Field(nn.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2)).double()

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        return self.net(y)


def test_vmap_over_an_ensemble_of_fields_matches_each_member() -> None:
    members = [Field(seed) for seed in range(3)]
    params, buffers = torch.func.stack_module_state(members)  # type: ignore[arg-type]
    base = copy.deepcopy(members[0]).to("meta")
    y0 = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))

    def one(p: dict[str, Tensor], b: dict[str, Tensor]) -> Tensor:
        def field(t: Tensor, y: Tensor) -> Tensor:
            return torch.func.functional_call(base, (p, b), (t, y))  # type: ignore[no-any-return]

        return ode.solve(field, y0, TS, **TIGHT).ys

    got = torch.func.vmap(one)(params, buffers)
    (got**2).sum().backward()
    for i, member in enumerate(members):
        want = ode.solve(member, y0, TS, **TIGHT).ys
        torch.testing.assert_close(got[i], want.detach(), rtol=0, atol=1e-8)
        (want**2).sum().backward()
        for name, p in member.named_parameters():
            torch.testing.assert_close(params[name].grad[i], p.grad, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("method", ["dopri5", "dop853", "rk4"])
def test_vmap_of_jacrev_gives_each_samples_jacobian(method: str) -> None:
    opts = options(method)

    def end_state(y0: Tensor) -> Tensor:
        return ode.solve(riccati, y0[None], TS, **opts).ys[-1, 0]

    y0s = torch.tensor([[0.5, 1.2], [2.0, 0.3], [1.0, 1.5]], dtype=torch.float64)
    jac = torch.func.vmap(torch.func.jacrev(end_state))(y0s)
    want = torch.diag_embed(1.0 / (1.0 + K * y0s * T_END) ** 2)
    torch.testing.assert_close(jac, want, rtol=0, atol=1e-7)


# (torch's forward-mode decompositions, loaded on first use, script themselves.)
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("method", ["dopri5", "rk4"])
def test_jacfwd_and_hessian_of_the_flow(method: str) -> None:
    opts = options(method)
    y0 = torch.tensor([0.5, 1.2, 2.0], dtype=torch.float64)

    def end_state(y: Tensor) -> Tensor:
        return ode.solve(riccati, y[:, None], TS, **opts).ys[-1, :, 0]

    denom = 1.0 + K * y0 * T_END
    jac = torch.func.jacfwd(end_state)(y0)
    torch.testing.assert_close(jac, torch.diag(1.0 / denom**2), rtol=0, atol=1e-7)
    hess = torch.func.hessian(lambda y: end_state(y).sum())(y0)
    torch.testing.assert_close(hess, torch.diag(-2.0 * K * T_END / denom**3), rtol=0, atol=1e-6)


@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
@pytest.mark.parametrize("method", ["dopri5", "tsit5", "dop853"])
def test_forward_mode_matches_the_closed_form(step_control: str, method: str) -> None:
    y0 = torch.tensor([[0.5], [1.2], [2.0]], dtype=torch.float64)
    v = torch.tensor([[1.0], [2.0], [-1.0]], dtype=torch.float64)
    want = v / (1.0 + K * y0 * TS[:, None, None]) ** 2

    def run(y: Tensor) -> Tensor:
        return ode.solve(riccati, y, TS, method=method, step_control=step_control, **TIGHT).ys

    _, tangent = torch.func.jvp(run, (y0,), (v,))
    torch.testing.assert_close(tangent, want, rtol=0, atol=1e-8)
    with torch.autograd.forward_ad.dual_level():
        out = run(torch.autograd.forward_ad.make_dual(y0, v))
        dual = torch.autograd.forward_ad.unpack_dual(out).tangent
    assert dual is not None
    torch.testing.assert_close(dual, want, rtol=0, atol=1e-8)


@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
@pytest.mark.parametrize("method", ["dopri5", "dop853", "rk4"])
def test_second_derivatives_by_direct_backprop(step_control: str, method: str) -> None:
    k = torch.tensor(K, dtype=torch.float64, requires_grad=True)
    y0 = torch.tensor([[0.5], [1.2]], dtype=torch.float64, requires_grad=True)
    opts = options(method)
    control = {} if "steps" in opts else {"step_control": step_control}
    sol = ode.solve(lambda t, y: -k * y * y, y0, TS, **opts, **control)
    (g,) = torch.autograd.grad(sol.ys[-1].sum(), y0, create_graph=True)
    (gk,) = torch.autograd.grad(g.sum(), k)
    y = y0.detach()
    want = (-2.0 * y * T_END / (1.0 + K * y * T_END) ** 3).sum()
    torch.testing.assert_close(gk, want, rtol=0, atol=1e-7)


def test_event_time_derivative_under_every_mode() -> None:
    # The event y = 0.4 fires at t* = 1/(0.4 k) - 1/(k y0): dt*/dy0 = 1/(k y0²).
    y0 = torch.tensor([[0.5], [1.2], [2.0]], dtype=torch.float64)
    want = 1.0 / (K * y0[:, 0] ** 2)

    def event_time(y: Tensor) -> Tensor:
        sol = ode.solve(
            riccati, y, torch.tensor([0.0, 5.0], dtype=torch.float64),
            event=lambda t, x: x[:, 0] - 0.4, **TIGHT,
        )  # fmt: skip
        assert sol.event_t is not None
        return sol.event_t

    torch.testing.assert_close(
        torch.func.grad(lambda y: event_time(y).sum())(y0)[:, 0], want, rtol=0, atol=1e-7
    )
    _, tangent = torch.func.jvp(event_time, (y0,), (torch.ones_like(y0),))
    torch.testing.assert_close(tangent, want, rtol=0, atol=1e-7)
    with torch.autograd.forward_ad.dual_level():
        out = event_time(torch.autograd.forward_ad.make_dual(y0, torch.ones_like(y0)))
        dual = torch.autograd.forward_ad.unpack_dual(out).tangent
    assert dual is not None
    torch.testing.assert_close(dual, want, rtol=0, atol=1e-7)


def test_adjoint_refuses_second_derivatives_with_a_clear_error() -> None:
    k = torch.tensor(K, dtype=torch.float64, requires_grad=True)
    y0 = torch.tensor([[0.5], [1.2]], dtype=torch.float64, requires_grad=True)
    sol = ode.solve(lambda t, y: -k * y * y, y0, TS, adjoint=True, adjoint_params=[k])
    with pytest.raises(ConfigurationError, match="first derivatives only"):
        torch.autograd.grad(sol.ys[-1].sum(), y0, create_graph=True)
    # a first derivative still works
    (g,) = torch.autograd.grad(
        ode.solve(lambda t, y: -k * y * y, y0, TS, adjoint=True, adjoint_params=[k], **TIGHT)
        .ys[-1].sum(), y0,
    )  # fmt: skip
    torch.testing.assert_close(g, 1.0 / (1.0 + K * y0.detach() * T_END) ** 2, rtol=0, atol=1e-7)


def test_adjoint_refuses_forward_mode_with_a_clear_error() -> None:
    y0 = torch.tensor([[0.5], [1.2]], dtype=torch.float64)
    with (
        torch.autograd.forward_ad.dual_level(),
        pytest.raises(ConfigurationError, match="reverse mode only"),
    ):
        dual = torch.autograd.forward_ad.make_dual(y0, torch.ones_like(y0))
        ode.solve(riccati, dual, TS, adjoint=True)


Y0 = torch.tensor([[0.5, 1.0]], dtype=torch.float64)


@pytest.mark.parametrize(
    ("transform", "kwargs", "message"),
    [
        ("grad", {"adjoint": True}, "adjoint=True does not run inside torch.func"),
        ("vmap", {"adjoint": True}, "adjoint=True does not run inside torch.func"),
        ("grad", {"checkpoint": True}, "checkpoint=True does not run inside torch.func.grad"),
        ("vmap", {"step_control": "per_sample"}, "step_control='per_sample' is not supported"),
        ("vmap", {"method": "rodas3"}, "joint loop of explicit methods"),
        ("vmap", {"controller": ode.PIController(), "method": "rodas3"}, "got method 'rodas3'"),
        ("vmap", {"event": lambda t, y: y[:, 0]}, "events is not supported"),
        ("vmap", {"compact": True}, "compact=True is not supported"),
        ("vmap", {"compile": True}, "compile=True is not supported"),
    ],
)
def test_unsupported_combinations_are_refused_clearly(
    transform: str, kwargs: dict[str, object], message: str
) -> None:
    def run(y: Tensor) -> Tensor:
        return ode.solve(linear, y, TS, **kwargs).ys

    with pytest.raises(ConfigurationError, match=message):
        if transform == "grad":
            torch.func.grad(lambda y: run(y).sum())(Y0)
        else:
            torch.func.vmap(run)(Y0[None].expand(2, 1, 2))


def test_mapped_times_are_refused() -> None:
    times = torch.stack([TS, 2 * TS])
    with pytest.raises(ConfigurationError, match="t cannot be mapped"):
        torch.func.vmap(lambda t: ode.solve(linear, Y0, t).ys)(times)


def test_failure_under_vmap_is_data_or_a_clear_error() -> None:
    # y' = y² blows up at t = 1 / y0: the sample starting at 2 does inside [0, 1].
    y0s = torch.tensor([[[0.5], [0.25]], [[2.0], [0.1]]], dtype=torch.float64)
    ts = torch.tensor([0.0, 1.0], dtype=torch.float64)

    def status(y0: Tensor) -> Tensor:
        return ode.solve(lambda t, y: y * y, y0, ts, throw=False, max_steps=500).status

    got = torch.func.vmap(status)(y0s)
    assert got[0].tolist() == [0, 0]
    assert got[1, 0] != 0 and got[1, 1] == 0
    with pytest.raises(SolverError, match=r"under torch.func.vmap failed for 1 of 4 sample"):
        torch.func.vmap(lambda y0: ode.solve(lambda t, y: y * y, y0, ts, max_steps=500).ys)(y0s)


def test_vmap_returns_a_whole_solution() -> None:
    # Solution is a pytree: its tensors come back mapped, its counts are static.
    y0s = torch.tensor([[[1.0]], [[2.0]], [[0.5]]], dtype=torch.float64)
    sol = torch.func.vmap(lambda y0: ode.solve(riccati, y0, TS, **TIGHT))(y0s)
    assert isinstance(sol, ode.Solution)
    assert sol.ys.shape == (3, 5, 1, 1) and sol.status.shape == (3, 1)
    assert sol.ts.shape == (3, 5) and sol.event_t is None
    exact = y0s[:, None] / (1 + K * y0s[:, None] * TS[None, :, None, None])
    torch.testing.assert_close(sol.ys, exact, rtol=0, atol=1e-8)
    assert sol.status.eq(0).all() and sol.stats.nfe > 0
