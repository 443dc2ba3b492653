"""``compile=True``: the torch.compile'd step gives the eager step's solve.

The reference is the same solve without compilation; inductor may reorder floating-point
operations, so values agree to rounding (float64) and step counts exactly.
"""

from __future__ import annotations

import pytest
import torch

from neurosym import ode
from neurosym.errors import ConfigurationError

F64 = torch.float64
# torch.compile raises these inside torch while it traces (not shown to users, whose
# warnings are not errors; not ours to fix).
pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings(
        "ignore:The .grad attribute of a Tensor that is not a leaf:UserWarning"
    ),
]


class _Field(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)
        ).double()

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(y) - 0.5 * y


FIELD = _Field()
Y0 = torch.linspace(-1.0, 1.0, 15, dtype=F64).view(5, 3)
T = torch.linspace(0.0, 2.0, 7, dtype=F64)


@pytest.mark.parametrize("step_control", ["joint", "per_sample"])
def test_compiled_solve_equals_eager(step_control: str) -> None:
    kw = {"rtol": 1e-9, "atol": 1e-11, "step_control": step_control}
    with torch.no_grad():
        want = ode.solve(FIELD, Y0, T, **kw)  # type: ignore[arg-type]
        got = ode.solve(FIELD, Y0, T, compile=True, **kw)  # type: ignore[arg-type]
        again = ode.solve(FIELD, Y0 * 0.5, T, compile=True, **kw)  # type: ignore[arg-type]
        want_again = ode.solve(FIELD, Y0 * 0.5, T, **kw)  # type: ignore[arg-type]
    torch.testing.assert_close(got.ys, want.ys, rtol=0, atol=1e-12)
    torch.testing.assert_close(again.ys, want_again.ys, rtol=0, atol=1e-12)
    assert got.stats.nfe == want.stats.nfe
    assert torch.equal(got.stats.accepted_per_sample, want.stats.accepted_per_sample)
    assert torch.equal(got.stats.rejected_per_sample, want.stats.rejected_per_sample)


def test_compiled_gradients_equal_eager() -> None:
    params = list(FIELD.parameters())
    y0 = Y0.clone().requires_grad_(True)
    grads = []
    for compile in (False, True):
        sol = ode.solve(FIELD, y0, T, rtol=1e-9, atol=1e-11, step_control="joint", compile=compile)
        loss = sol.ys.square().sum()
        grads.append(torch.autograd.grad(loss, [y0, *params]))
    for g_eager, g_compiled in zip(*grads, strict=True):
        torch.testing.assert_close(g_compiled, g_eager, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("method", "fixed"),
    [("rk4", {"steps": 30}), ("dopri5", {"dt": 0.05}), ("euler", {"steps": 12})],
    ids=["rk4_steps", "dopri5_dt", "euler"],
)
def test_compiled_fixed_steps_equal_eager(method: str, fixed: dict[str, object]) -> None:
    # Fixed steps: RK4 has no FSAL stage (its first evaluation is compiled in), Dopri5
    # carries f(t1, y1) to the next step; per-sample times give a tensor step size.
    kw = {"method": method, **fixed}
    with torch.no_grad():
        want = ode.solve(FIELD, Y0, T, **kw)  # type: ignore[arg-type]
        got = ode.solve(FIELD, Y0, T, compile=True, **kw)  # type: ignore[arg-type]
    torch.testing.assert_close(got.ys, want.ys, rtol=0, atol=1e-12)
    assert got.stats.nfe == want.stats.nfe
    tb = T.expand(5, -1) * torch.linspace(0.5, 1.5, 5, dtype=F64)[:, None]
    with torch.no_grad():
        want_b = ode.solve(FIELD, Y0, tb, **kw)  # type: ignore[arg-type]
        got_b = ode.solve(FIELD, Y0, tb, compile=True, **kw)  # type: ignore[arg-type]
    torch.testing.assert_close(got_b.ys, want_b.ys, rtol=0, atol=1e-12)


def test_compile_refuses_an_implicit_method() -> None:
    with pytest.raises(ConfigurationError, match="compile=True compiles the step"):
        ode.solve(FIELD, Y0, T, method="rodas3", compile=True)


def test_a_missing_cpp_compiler_is_a_configuration_error() -> None:
    import torch._inductor.config as inductor

    field = torch.nn.Linear(3, 3).double()  # a new field object: nothing cached for it
    with (
        inductor.patch({"cpp.cxx": ("/nonexistent/g++",), "fx_graph_cache": False}),
        pytest.raises(ConfigurationError, match="no working C\\+\\+ compiler"),
    ):
        ode.solve(lambda t, y: field(y), Y0, T, compile=True)
    ode.clear_compiled_steps()


def _oscillators(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # x'' = -w² x with w carried in the state (column 2), so the batch can be cut.
    w = y[:, 2:3]
    return torch.cat([y[:, 1:2], -(w**2) * y[:, :1], torch.zeros_like(w)], 1)


def test_compiled_step_with_compaction_equals_eager() -> None:
    # Compaction shrinks the batch 8 -> 4 -> 2 -> 1: the compiled step takes dynamic
    # shapes (three graphs here, torch specialising the small sizes, instead of one per
    # size) and the solve equals the eager one.
    w = torch.tensor([0.5, 0.7, 0.9, 1.1, 1.3, 1.5, 1.7, 9.0], dtype=F64)
    y0 = torch.stack([torch.ones_like(w), torch.zeros_like(w), w], 1)
    t = torch.linspace(0.0, 2.0, 5, dtype=F64)
    kw = {"rtol": 1e-9, "atol": 1e-11, "compact": True}
    with torch.no_grad():
        want = ode.solve(_oscillators, y0, t, **kw)  # type: ignore[arg-type]
        got = ode.solve(_oscillators, y0, t, compile=True, **kw)  # type: ignore[arg-type]
    torch.testing.assert_close(got.ys, want.ys, rtol=0, atol=1e-12)
    torch.testing.assert_close(got.ys[..., 0], torch.cos(w * t[:, None]), rtol=0, atol=1e-7)
    assert torch.equal(got.stats.accepted_per_sample, want.stats.accepted_per_sample)
