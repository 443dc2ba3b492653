"""Convergence orders and analytic solutions of every solver."""

from __future__ import annotations

import math

import pytest
import torch

from neurosym import ode

ORDERS = {
    "euler": 1,
    "midpoint": 2,
    "heun": 2,
    "rk4": 4,
    "bosh3": 3,
    "dopri5": 5,
    "tsit5": 5,
    "dopri8": 8,
    "rodas3": 3,
}
# Step counts where the error is well above round-off yet in the asymptotic regime.
BASE_STEPS = {1: 64, 2: 32, 3: 16, 4: 8, 5: 8, 8: 4}

A = torch.tensor([[-0.5, 1.0], [-1.0, -0.5]], dtype=torch.float64)


def _linear(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return y @ A.T


def _time_linear(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return t * y


def _riccati(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -2 * t * y * y


# (problem, first step count): step counts where the error is in the asymptotic regime
# yet well above round-off. Dopri8 superconverges on constant-coefficient linear problems
# at coarse steps and meets round-off at fine ones, so it uses y' = t y.
LINEAR_CASES = {m: ("linear", n) for m, n in
                {"euler": 64, "midpoint": 32, "heun": 32, "rk4": 8, "bosh3": 16,
                 "rodas3": 16, "dopri5": 8, "tsit5": 8}.items()}  # fmt: skip
LINEAR_CASES["dopri8"] = ("time_linear", 4)
NONLINEAR_STEPS = {"euler": 16, "midpoint": 16, "heun": 16, "rk4": 16, "bosh3": 16,
                   "rodas3": 16, "dopri5": 32, "tsit5": 64}  # fmt: skip


def _slope(method: str, problem: str, n0: int) -> float:
    y0 = torch.tensor([[1.0, 0.5], [0.3, 0.8]], dtype=torch.float64)
    t = torch.tensor([0.0, 1.0 if problem != "riccati" else 2.0], dtype=torch.float64)
    if problem == "linear":
        f = _linear
        exact = y0 @ torch.linalg.matrix_exp(A).T
    elif problem == "time_linear":
        f = _time_linear
        exact = y0 * math.exp(0.5)
    else:
        f = _riccati
        exact = 1 / (1 / y0 + 4.0)
    hs, errs = [], []
    for k in range(3):
        n = n0 * 2**k
        sol = ode.solve(f, y0, t, method=method, steps=n)
        errs.append(float((sol.ys[-1] - exact).abs().max()))
        hs.append(1.0 / n)
    x = torch.log(torch.tensor(hs, dtype=torch.float64))
    e = torch.log(torch.tensor(errs, dtype=torch.float64))
    return float(((x - x.mean()) * (e - e.mean())).sum() / ((x - x.mean()) ** 2).sum())


@pytest.mark.parametrize("method", sorted(ORDERS))
def test_empirical_order_linear(method: str) -> None:
    problem, n0 = LINEAR_CASES[method]
    slope = _slope(method, problem, n0)
    assert abs(slope - ORDERS[method]) <= 0.3, f"{method} slope {slope:.3f}"


@pytest.mark.parametrize("method", sorted(NONLINEAR_STEPS))
def test_empirical_order_nonlinear_nonautonomous(method: str) -> None:
    slope = _slope(method, "riccati", NONLINEAR_STEPS[method])
    assert abs(slope - ORDERS[method]) <= 0.3, f"{method} slope {slope:.3f}"


@pytest.mark.parametrize("method", ["bosh3", "dopri5", "tsit5", "dopri8", "dop853", "rodas3"])
def test_exponential_decay_per_sample_rates_and_times(method: str) -> None:
    rates = torch.tensor([[0.5], [1.0], [3.0]], dtype=torch.float64)
    y0 = torch.tensor([[1.0], [2.0], [-1.0]], dtype=torch.float64)
    # Per-sample output times: each row its own grid.
    t = torch.stack([torch.linspace(0.0, s, 7, dtype=torch.float64) for s in (1.0, 2.0, 0.5)])
    sol = ode.solve(lambda t, y: -rates * y, y0, t, method=method, rtol=1e-8, atol=1e-10)
    exact = (y0 * torch.exp(-rates * t)).T[:, :, None]
    assert sol.ok
    assert torch.allclose(sol.ys, exact, rtol=1e-5, atol=1e-7)
    assert torch.allclose(sol.t_final, t[:, -1])


def test_harmonic_oscillator_energy_drift() -> None:
    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.stack([y[:, 1], -y[:, 0]], -1)

    y0 = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    t = torch.linspace(0.0, 20.0, 101, dtype=torch.float64)
    sol = ode.solve(f, y0, t, method="dopri5", rtol=1e-9, atol=1e-11)
    energy = 0.5 * (sol.ys**2).sum(-1)
    assert float((energy - energy[0]).abs().max()) < 1e-6
    exact = torch.stack([torch.cos(t), -torch.sin(t)], -1)
    assert torch.allclose(sol.ys[:, 0], exact, atol=1e-6)


def test_backwards_in_time() -> None:
    y1 = torch.tensor([[math.exp(-1.0)]], dtype=torch.float64)
    t = torch.tensor([1.0, 0.5, 0.0], dtype=torch.float64)
    sol = ode.solve(lambda t, y: -y, y1, t, rtol=1e-9, atol=1e-12)
    assert torch.allclose(sol.ys[:, 0, 0], torch.exp(-t), rtol=1e-7)
    assert float(sol.t_final[0]) == 0.0


def test_dense_output_does_not_step_onto_requested_times() -> None:
    y0 = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    few = ode.solve(_linear, y0, torch.tensor([0.0, 3.0], dtype=torch.float64), rtol=1e-8)
    t = torch.linspace(0.0, 3.0, 301, dtype=torch.float64)
    many = ode.solve(_linear, y0, t, rtol=1e-8)
    assert many.stats.accepted == few.stats.accepted
    exact = torch.stack([y0[0] @ torch.linalg.matrix_exp(A * s).T for s in t])
    assert torch.allclose(many.ys[:, 0], exact, atol=1e-6)
    assert torch.equal(many.ys[-1], few.ys[-1])


def test_auto_step_control_is_joint_on_cpu_with_shared_times() -> None:
    rates = torch.tensor([[0.3], [1.0], [2.0]], dtype=torch.float64)
    y0 = torch.ones(3, 1, dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, 7, dtype=torch.float64)

    def solve(t: torch.Tensor, mode: str) -> ode.Solution:
        return ode.solve(lambda s, y: -rates * y, y0, t, rtol=1e-7, atol=1e-9, step_control=mode)

    auto, joint, per = solve(t, "auto"), solve(t, "joint"), solve(t, "per_sample")
    assert torch.equal(auto.ys, joint.ys)
    # Joint: every sample takes the stiffest one's steps; per sample they differ.
    assert auto.stats.accepted_per_sample.tolist() == joint.stats.accepted_per_sample.tolist()
    assert len(set(auto.stats.accepted_per_sample.tolist())) == 1
    assert len(set(per.stats.accepted_per_sample.tolist())) == 3
    torch.testing.assert_close(
        auto.ys[..., 0], torch.exp(-rates[:, 0] * t[:, None]), rtol=1e-6, atol=0
    )
    # Per-sample times: joint control cannot apply, auto is per-sample control.
    tb = t.expand(3, -1) * torch.tensor([[1.0], [0.5], [2.0]], dtype=torch.float64)
    assert torch.equal(solve(tb, "auto").ys, solve(tb, "per_sample").ys)


def test_auto_step_control_retries_per_sample_when_steps_run_out() -> None:
    # One stiff sample (rate 2000) holds a shared step size near 1e-3: with 400 steps the
    # joint attempt runs every sample out of steps, per-sample control finishes the mild
    # one (~10 steps). Auto returns the per-sample outcome and counts both attempts' work.
    rates = torch.tensor([[1.0], [2000.0]], dtype=torch.float64)
    y0 = torch.ones(2, 1, dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)

    def solve(mode: str) -> ode.Solution:
        return ode.solve(
            lambda s, y: -rates * y, y0, t, rtol=1e-6, atol=1e-9, max_steps=400,
            step_control=mode, throw=False,
        )  # fmt: skip

    auto, joint, per = solve("auto"), solve("joint"), solve("per_sample")
    assert joint.status.tolist() == [ode.Status.MAX_STEPS] * 2
    assert per.status.tolist() == [ode.Status.SUCCESS, ode.Status.MAX_STEPS]
    assert auto.status.tolist() == per.status.tolist()
    torch.testing.assert_close(auto.ys, per.ys, rtol=0, atol=0, equal_nan=True)
    assert abs(float(auto.ys[-1, 0, 0]) - math.exp(-1.0)) < 1e-5
    assert auto.stats.nfe == joint.stats.nfe + per.stats.nfe
    assert auto.stats.steps == joint.stats.steps + per.stats.steps


@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
def test_per_sample_and_joint_agree(method: str) -> None:
    rates = torch.tensor([[0.1], [1.0], [10.0]], dtype=torch.float64)
    y0 = torch.ones(3, 1, dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, 5, dtype=torch.float64)
    per = ode.solve(
        lambda t, y: -rates * y,
        y0,
        t,
        method=method,
        rtol=1e-7,
        atol=1e-9,
        step_control="per_sample",
    )
    joint = ode.solve(
        lambda t, y: -rates * y, y0, t, method=method, rtol=1e-7, atol=1e-9, step_control="joint"
    )
    exact = torch.exp(-rates[:, 0] * t[:, None])
    assert torch.allclose(per.ys[..., 0], exact, rtol=1e-5)
    assert torch.allclose(joint.ys[..., 0], exact, rtol=1e-5)
    assert torch.allclose(per.ys, joint.ys, rtol=1e-5)
    # Joint: every sample took the same steps; per sample: the slow one took fewer.
    assert len(set(joint.stats.accepted_per_sample.tolist())) == 1
    acc = per.stats.accepted_per_sample
    assert int(acc[0]) < int(acc[2])


def test_controllers_reach_the_same_answer() -> None:
    y0 = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    t = torch.tensor([0.0, 2.0], dtype=torch.float64)
    exact = y0[0] @ torch.linalg.matrix_exp(2 * A).T
    for ctrl in (ode.PIController(), ode.PIDController(pcoeff=0.1, icoeff=0.3, dcoeff=0.1)):
        sol = ode.solve(_linear, y0, t, controller=ctrl, rtol=1e-8, atol=1e-10)
        assert torch.allclose(sol.ys[-1, 0], exact, atol=1e-7)


def test_float32_state() -> None:
    sol = ode.solve(lambda t, y: -y, torch.ones(4, 3), torch.tensor([0.0, 1.0]), rtol=1e-5)
    assert sol.ys.dtype == torch.float32
    assert torch.allclose(sol.ys[-1], torch.full((4, 3), math.exp(-1.0)), rtol=1e-4)
