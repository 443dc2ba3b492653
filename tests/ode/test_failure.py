"""Failure as data, stiff problems and input validation."""

from __future__ import annotations

import math

import pytest
import torch

from neurosym import ode
from neurosym.errors import ConfigurationError, SolverError

F64 = torch.float64


def _blowup(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # y' = y²: y(t) = y0 / (1 - y0 t), which blows up at t = 1/y0 for y0 > 0.
    return y * y


Y0 = torch.tensor([[-1.0], [1.0], [-0.5], [0.25]], dtype=F64)
T = torch.linspace(0.0, 2.0, 5, dtype=F64)


def test_diverging_sample_raises_with_indices_and_time() -> None:
    with pytest.raises(SolverError) as info:
        ode.solve(_blowup, Y0, T, rtol=1e-6, atol=1e-8)
    msg = str(info.value)
    assert "[1]" in msg
    assert "time reached: 1" in msg  # blows up at t = 1
    sol = info.value.solution
    assert isinstance(sol, ode.Solution)
    assert sol.failed() == [1]


@pytest.mark.parametrize("step_control", ["auto", "per_sample", "joint"])
def test_diverging_sample_partial_solution(step_control: str) -> None:
    # Under joint control too only the diverging sample fails: near the blow-up its steps
    # are accepted (no sample's own error exceeds 1 when the step underflows), so the
    # culprit is the sample with the largest error, not the whole batch.
    sol = ode.solve(_blowup, Y0, T, rtol=1e-8, atol=1e-10, throw=False, step_control=step_control)
    assert sol.status[1] != ode.Status.SUCCESS
    assert abs(float(sol.t_final[1]) - 1.0) < 1e-2
    good = [0, 2, 3]
    assert sol.success[good].all()
    exact = Y0[good, 0] / (1 - Y0[good, 0] * T[:, None])
    assert torch.allclose(sol.ys[:, good, 0], exact, rtol=1e-6)
    # The failed sample has values before the blow-up and NaN after it.
    assert torch.allclose(sol.ys[:2, 1, 0], 1 / (1 - T[:2]), rtol=1e-5)
    assert torch.isnan(sol.ys[3:, 1, 0]).all()


def test_nan_steps_are_rejected_and_retried() -> None:
    # y' = -sqrt(y), y = (1 - t/2)²: an oversized first step makes a stage negative (NaN).
    sol = ode.solve(
        lambda t, y: -torch.sqrt(y),
        torch.ones(1, 1, dtype=F64),
        torch.tensor([0.0, 1.5], dtype=F64),
        dt0=1.9,
        rtol=1e-8,
        atol=1e-10,
    )
    assert sol.ok
    assert sol.stats.rejected >= 1
    assert abs(float(sol.ys[-1, 0, 0]) - 0.25**2) < 1e-6


def test_nonfinite_status_when_field_is_always_nan() -> None:
    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.where(t > 0.5, torch.full_like(y, math.nan), -y)

    sol = ode.solve(
        f, torch.ones(2, 1, dtype=F64), torch.tensor([0.0, 1.0], dtype=F64), throw=False
    )
    assert (sol.status == ode.Status.NONFINITE).all()
    assert (sol.t_final <= 0.5 + 1e-9).all()


def test_joint_mode_isolates_the_failing_sample() -> None:
    sol = ode.solve(_blowup, Y0, T, step_control="joint", throw=False)
    assert sol.failed() == [1]
    exact = Y0[[0, 2, 3], 0] / (1 - Y0[[0, 2, 3], 0] * T[:, None])
    assert torch.allclose(sol.ys[:, [0, 2, 3], 0], exact, rtol=1e-5)


def _vdp(mu: float) -> ode.solve.__class__:  # type: ignore[name-defined]
    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x, v = y[:, :1], y[:, 1:]
        return torch.cat([v, mu * (1 - x * x) * v - x], -1)

    return f


MU = 1000.0
VDP_T = torch.linspace(0.0, 2000.0, 401, dtype=F64)


@pytest.fixture(scope="module")
def vdp_solution() -> ode.Solution:
    return ode.solve(
        _vdp(MU), torch.tensor([[2.0, 0.0]], dtype=F64), VDP_T, method="rodas3", rtol=1e-5
    )


def test_stiff_van_der_pol_solved_by_rodas3(vdp_solution: ode.Solution) -> None:
    sol = vdp_solution
    assert sol.ok
    x = sol.ys[:, 0, 0]
    assert float(x.abs().max()) <= 2.0 + 1e-3
    # Relaxation oscillation: half-period ≈ (3 - 2 ln 2) μ / 2 for large μ, first zero
    # crossing of x after ≈ (3/2 - ln 2) μ ≈ 807.
    crossings = VDP_T[1:][(x[1:] * x[:-1]) < 0]
    assert len(crossings) == 2
    half = (3 - 2 * math.log(2)) * MU / 2
    assert abs(float(crossings[0]) - half) < 0.05 * half
    assert abs(float(crossings[1] - crossings[0]) - half) < 0.05 * half
    assert sol.stats.accepted < 2000


def test_stiff_van_der_pol_matches_scipy_radau(vdp_solution: ode.Solution) -> None:
    integrate = pytest.importorskip("scipy.integrate")

    def rhs(t: float, y: list[float]) -> list[float]:
        return [y[1], MU * (1 - y[0] ** 2) * y[1] - y[0]]

    ref = integrate.solve_ivp(
        rhs, (0.0, 2000.0), [2.0, 0.0], method="Radau", rtol=1e-9, atol=1e-10,
        t_eval=VDP_T.numpy(),
    )  # fmt: skip
    x_ref = torch.tensor(ref.y[0], dtype=F64)
    err = (vdp_solution.ys[:, 0, 0] - x_ref).abs()
    assert float(err.median()) < 1e-3
    assert float(err.max()) < 5e-2  # at the fast jumps the interpolant dominates


def test_stiff_van_der_pol_refused_by_dopri5() -> None:
    with pytest.raises(SolverError) as info:
        ode.solve(
            _vdp(MU), torch.tensor([[2.0, 0.0]], dtype=F64), VDP_T, method="dopri5", max_steps=500
        )
    msg = str(info.value)
    assert "MAX_STEPS" in msg
    assert "stiff" in msg
    assert "method='rodas3'" in msg


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"method": "rk45"}, "unknown method 'rk45'; expected one of bosh3, dop853, dopri5"),
        ({"method": "rk4"}, "rk4 is a fixed-step solver: pass dt= or steps="),
        ({"rtol": -1.0}, "rtol must be a positive number, got -1.0"),
        ({"dt": 0.1, "steps": 4}, "either dt or steps"),
        ({"max_steps": 0}, "max_steps must be a positive int"),
        ({"max_steps": True}, "max_steps must be a positive int"),
        ({"steps": True, "method": "rk4"}, "steps must be a positive int"),
        ({"step_control": "shared"}, "step_control must be 'auto', 'per_sample' or 'joint'"),
        ({"adjoint": True, "checkpoint": True}, "not both"),
    ],
)
def test_bad_options(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigurationError, match=None) as info:
        ode.solve(lambda t, y: -y, torch.ones(2, 1), torch.tensor([0.0, 1.0]), **kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)


@pytest.mark.parametrize(
    ("y0", "t", "needle"),
    [
        (torch.ones(3), torch.tensor([0.0, 1.0]), "y0 must have shape (batch, dim), got (3,)"),
        (torch.ones(2, 1), torch.tensor([0.0, 1.0, 0.5]), "strictly increasing or strictly"),
        (torch.ones(2, 1), torch.tensor([0.0]), "at least two times"),
        (torch.ones(2, 1), torch.zeros(3, 2), "per-sample t has batch 3 but y0 has batch 2"),
        (torch.ones(2, 1, dtype=torch.long), torch.tensor([0.0, 1.0]), "floating-point"),
    ],
)
def test_bad_inputs(y0: torch.Tensor, t: torch.Tensor, needle: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ode.solve(lambda t, y: -y, y0, t)
    assert needle in str(info.value)


def test_joint_needs_shared_times() -> None:
    t = torch.tensor([[0.0, 1.0], [0.0, 2.0]])
    with pytest.raises(ConfigurationError, match="joint"):
        ode.solve(lambda t, y: -y, torch.ones(2, 1), t, step_control="joint")


# (torch's forward-mode decompositions, loaded on first use, script themselves.)
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_rodas3_checkpoint_nan_sample_fails_alone() -> None:
    # rodas3 under checkpoint=True takes its Jacobians in forward mode, of the batch sum;
    # matmul's tangent term y·0 was NaN in the non-finite sample's row and, summed, made
    # every sample's Jacobian NaN: all samples failed with NONFINITE.
    a = torch.tensor([[0.8]])
    y0 = torch.tensor([[math.nan], [1.0]])
    t = torch.tensor([0.0, 0.05])
    sol = ode.solve(
        lambda t, y: y @ a.T, y0, t, method="rodas3", checkpoint=True, rtol=1e-3, atol=1e-5,
        throw=False,
    )  # fmt: skip
    assert sol.status.tolist() == [int(ode.Status.NONFINITE), int(ode.Status.SUCCESS)]
    assert abs(float(sol.ys[-1, 1, 0]) - math.exp(0.8 * 0.05)) < 1e-4


@pytest.mark.parametrize("check_every", [0, -1, 1.5, True])
def test_check_every_must_be_a_positive_int(check_every: object) -> None:
    with pytest.raises(ConfigurationError, match="check_every must be a positive int"):
        ode.solve(
            lambda t, y: -y, torch.ones(2, 1), torch.tensor([0.0, 1.0]),
            check_every=check_every,  # type: ignore[arg-type]
        )  # fmt: skip


@pytest.mark.parametrize("shape", [(0, 1), (2, 0)])
def test_empty_y0_is_refused(shape: tuple[int, int]) -> None:
    with pytest.raises(ConfigurationError, match="at least one sample"):
        ode.solve(lambda t, y: -y, torch.ones(shape), torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize(
    ("field", "needle"),
    [
        (lambda t, y: y[:, :1], "must return the shape of y, (batch, dim) = (2, 2), got (2, 1)"),
        (lambda t, y: y.sum(), "got ()"),
        (lambda t, y: (-y).tolist(), "must return a tensor, got list"),
    ],
)
@pytest.mark.parametrize("kwargs", [{}, {"method": "rk4", "steps": 2}, {"method": "rodas3"}])
def test_field_of_the_wrong_shape_is_refused(
    field: object, needle: str, kwargs: dict[str, object]
) -> None:
    # (A (batch, 1) field broadcast against (batch, 2) states: a silently wrong solution.)
    with pytest.raises(ConfigurationError) as info:
        ode.solve(field, torch.ones(2, 2), torch.tensor([0.0, 1.0]), **kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_event_must_return_one_value_per_sample() -> None:
    # A scalar event (here a sum over the batch) located one time for mixed samples.
    with pytest.raises(ConfigurationError, match="one value per sample"):
        ode.solve(
            lambda t, y: -y, torch.tensor([[1.0], [2.0]]), torch.tensor([0.0, 2.0]),
            event=lambda t, y: (y - 0.5).sum(),
        )  # fmt: skip


def test_adjoint_params_single_tensor_is_refused() -> None:
    k = torch.tensor(0.5, requires_grad=True)
    with pytest.raises(ConfigurationError, match="sequence of tensors"):
        ode.solve(
            lambda t, y: -k * y, torch.ones(2, 1), torch.tensor([0.0, 1.0]), adjoint=True,
            adjoint_params=k,  # type: ignore[arg-type]
        )  # fmt: skip


def test_adjoint_params_that_need_no_grad_are_skipped() -> None:
    # As for a module's parameters; before, the backward pass raised torch's "One of the
    # differentiated Tensors does not require grad".
    k = torch.tensor(0.5, dtype=F64)
    y0 = torch.ones(2, 1, dtype=F64, requires_grad=True)
    sol = ode.solve(
        lambda t, y: -k * y, y0, torch.tensor([0.0, 1.0], dtype=F64), adjoint=True,
        adjoint_params=[k],
    )  # fmt: skip
    (g,) = torch.autograd.grad(sol.ys[-1].sum(), [y0])
    assert torch.allclose(g, torch.full_like(g, math.exp(-0.5)), rtol=1e-6)


def test_half_precision_is_refused_for_adaptive_solves_and_runs_fixed_steps() -> None:
    y0, t = torch.ones(2, 1, dtype=torch.float16), torch.tensor([0.0, 1.0])
    with pytest.raises(ConfigurationError, match="adaptive solves need float32 or float64"):
        ode.solve(lambda s, y: -y, y0, t)
    # RK4, 8 steps of y' = -y: e^-1 to the half precision's rounding (eps 9.8e-4)
    sol = ode.solve(lambda s, y: -y, y0, t.half(), method="rk4", steps=8)
    assert sol.ys.dtype == torch.float16
    assert abs(float(sol.ys[-1, 0, 0]) - math.exp(-1.0)) < 2e-3
