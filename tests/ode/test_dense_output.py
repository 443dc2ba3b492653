"""Output times between steps: Dopri8 lands on them, the others interpolate (DOP853's
own tests are in test_dop853.py).

The damped oscillator x'' + 0.2 x' + x = 0 has the closed form
x(t) = e^(-t/10) (x0 cos ωt + (v0 + x0/10)/ω sin ωt) with ω = √0.99.
"""

from __future__ import annotations

import math

import pytest
import torch
from damped_oscillator import Y0, W
from damped_oscillator import exact as _exact
from damped_oscillator import osc as _osc

from neurosym import ode

F64 = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-12}


def test_closed_form_is_right() -> None:
    # The reference itself: x(0) = x0, v(0) = v0, and x'' + 0.2 x' + x = 0 by differences.
    t = torch.tensor([[0.0, 1.0 - 1e-4, 1.0, 1.0 + 1e-4]], dtype=F64).expand(3, -1)
    z = _exact(Y0, t)
    assert torch.allclose(z[0], Y0, atol=1e-15)
    x, v = z[..., 0], z[..., 1]
    acc = (x[3] - 2 * x[2] + x[1]) / 1e-8
    assert torch.allclose((x[3] - x[1]) / 2e-4, v[2], atol=1e-7)
    assert torch.allclose(acc + 0.2 * v[2] + x[2], torch.zeros(3, dtype=F64), atol=1e-6)


@pytest.mark.parametrize("check_every", [1, 8])
@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
def test_dopri8_outputs_match_closed_form(step_control: str, check_every: int) -> None:
    # check_every=8 runs the masked loop of accelerators (per-sample control) on CPU;
    # joint control on CPU takes the host loop, and the tensor loop with an event below.
    t = torch.linspace(0.0, 10.0, 52, dtype=F64)
    sol = ode.solve(
        _osc, Y0, t, method="dopri8", step_control=step_control, check_every=check_every, **TOL
    )
    err = (sol.ys - _exact(Y0, t.expand(3, -1))).abs()
    assert sol.ok
    # Interpolating with the quartic gave ~3e-7 here; the steps are good to ~1e-12.
    assert float(err[1:-1].max()) < 1e-9
    assert float(err[-1].max()) < 1e-9


def test_dopri8_per_sample_times_each_land_on_their_own() -> None:
    # Each row its own grid (different spans and spacings, none shared with the others).
    t = torch.stack(
        [torch.linspace(0.0, s, 40, dtype=F64) ** p for s, p in ((6.0, 1), (3.0, 2), (2.0, 3))]
    )
    sol = ode.solve(_osc, Y0, t, method="dopri8", **TOL)
    assert sol.ok
    assert torch.allclose(sol.t_final, t[:, -1])
    assert float((sol.ys - _exact(Y0, t)).abs().max()) < 1e-9


def test_dopri8_backwards_in_time() -> None:
    t = torch.linspace(4.0, -1.0, 30, dtype=F64)
    y_start = _exact(Y0, torch.full((3, 1), 4.0, dtype=F64))[0]
    sol = ode.solve(_osc, y_start, t, method="dopri8", **TOL)
    assert float((sol.ys - _exact(Y0, t.expand(3, -1))).abs().max()) < 1e-9


@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
def test_dopri8_steps_grow_only_with_denser_outputs(step_control: str) -> None:
    def steps(n: int) -> int:
        t = torch.linspace(0.0, 10.0, n, dtype=F64)
        return ode.solve(_osc, Y0, t, method="dopri8", step_control=step_control, **TOL).stats.steps

    bare, sparse, dense = steps(2), steps(4), steps(201)
    # About 32 natural steps of ~0.3: two interior outputs cost at most a step each...
    assert bare <= sparse <= bare + 2
    # ...and 200 intervals of 0.05 need one step each, plus at most one for the
    # automatically chosen first step (smaller than 0.05).
    assert 200 <= dense <= 201


@pytest.mark.parametrize("method", ["bosh3", "dopri5", "tsit5", "dop853", "rodas3"])
def test_other_solvers_still_interpolate(method: str) -> None:
    y0 = Y0[:1]

    def run(n: int) -> ode.Solution:
        t = torch.linspace(0.0, 10.0, n, dtype=F64)
        return ode.solve(_osc, y0, t, method=method, rtol=1e-7, atol=1e-9)

    bare, dense = run(2), run(41)
    assert not ode.METHODS[method]().clamps_to_outputs
    assert dense.stats.steps == bare.stats.steps
    assert torch.equal(dense.ys[-1], bare.ys[-1])
    t = torch.linspace(0.0, 10.0, 41, dtype=F64)[None]
    assert float((dense.ys - _exact(y0, t)).abs().max()) < 1e-4


def test_dense_order_decides_clamping() -> None:
    assert ode.Dopri8.dense_order == 4 and ode.Dopri8().clamps_to_outputs
    assert ode.Dopri5.dense_order == 4 and ode.Tsit5.dense_order == 4
    assert not ode.Tsit5().clamps_to_outputs


@pytest.mark.parametrize("mode", ["direct", "adjoint", "checkpoint"])
def test_dopri8_gradients_through_intermediate_outputs(mode: str) -> None:
    # d x(t)/d x0 of the oscillator is e^(-t/10) (cos ωt + sin ωt / (10 ω)), at every t.
    t = torch.linspace(0.0, 5.0, 12, dtype=F64)
    y0 = Y0.clone().requires_grad_(True)
    sol = ode.solve(
        _osc,
        y0,
        t,
        method="dopri8",
        adjoint=mode == "adjoint",
        adjoint_params=(),
        checkpoint=mode == "checkpoint",
        **TOL,
    )
    w = torch.linspace(0.5, 1.5, 12, dtype=F64)
    (sol.ys[..., 0] * w[:, None]).sum().backward()
    assert y0.grad is not None
    e = torch.exp(-0.1 * t)
    dx_dx0 = e * (torch.cos(W * t) + torch.sin(W * t) / (10 * W))
    dx_dv0 = e * torch.sin(W * t) / W
    expect = torch.stack([(w * dx_dx0).sum(), (w * dx_dv0).sum()]).expand(3, -1)
    assert torch.allclose(y0.grad, expect, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
def test_dopri8_event_time_on_the_steps_accuracy(step_control: str) -> None:
    # x = 0 at ωt* = atan2(-x0, (v0 + x0/10)/ω) (mod π); bisection on the quartic alone
    # was ~1e-7 off. Sample 1 starts on x = 0 and fires at its next zero, t* = π/ω.
    t = torch.linspace(0.0, 10.0, 21, dtype=F64)
    sol = ode.solve(
        _osc, Y0, t, method="dopri8", event=lambda t, y: y[:, 0], step_control=step_control, **TOL
    )
    a, b = Y0[:, 0], (Y0[:, 1] + 0.1 * Y0[:, 0]) / W
    first = torch.atan2(-a, b) / W
    expect = torch.where(first > 1e-12, first, first + math.pi / W)
    assert sol.event_t is not None
    assert float((sol.event_t - expect).abs().max()) < 1e-9
    at = _exact(Y0, expect[:, None])[0]
    assert float((sol.y_final - at).abs().max()) < 1e-9
    # Outputs before the event are step ends too.
    before = t[:, None] < expect[None]
    assert float((sol.ys - _exact(Y0, t.expand(3, -1))).abs().amax(-1)[before].max()) < 1e-9


def test_dopri8_event_time_gradient_matches_closed_form() -> None:
    # y' = -k y reaches c at t* = ln(y0 / c) / k: dt*/dy0 = 1 / (k y0), dt*/dk = -t*/k.
    k = torch.tensor(0.8, dtype=F64, requires_grad=True)
    y0 = torch.tensor([[2.0], [3.0]], dtype=F64, requires_grad=True)
    sol = ode.solve(
        lambda t, y: -k * y,
        y0,
        torch.linspace(0.0, 5.0, 11, dtype=F64),
        method="dopri8",
        event=lambda t, y: y[:, 0] - 0.5,
        **TOL,
    )
    assert sol.event_t is not None
    t_star = torch.log(y0.detach()[:, 0] / 0.5) / 0.8
    assert float((sol.event_t.detach() - t_star).abs().max()) < 1e-10
    sol.event_t.sum().backward()
    assert y0.grad is not None and k.grad is not None
    assert torch.allclose(y0.grad[:, 0], 1 / (0.8 * y0.detach()[:, 0]), rtol=1e-8)
    assert math.isclose(float(k.grad), float(-(t_star / 0.8).sum()), rel_tol=1e-8)


def test_tsit5_continuous_extension_meets_the_order_conditions() -> None:
    """b(θ) of Tsitouras' interpolant, read back from the solver's dense rows, satisfies the
    eight order conditions of order <= 4 at every θ (scaled as θ^q / γ) and is b at 1."""
    import numpy as np

    tab = ode.Tsit5.tableau
    s = tab.stages
    c = np.array(tab.c)
    a = np.zeros((s, s))
    for i, row in enumerate(tab.a):
        a[i + 1, : len(row)] = row
    dense = ode.Tsit5()._dense
    assert dense is not None
    rows = dense.numpy()  # P[j][i]: coefficient of θ^(j+1) in b_i(θ)
    ac = a @ c
    for th in np.linspace(0.05, 1.0, 20):
        w = sum(rows[j] * th ** (j + 1) for j in range(rows.shape[0]))
        conditions = [
            (w.sum(), th), (w @ c, th**2 / 2), (w @ c**2, th**3 / 3), (w @ ac, th**3 / 6),
            (w @ c**3, th**4 / 4), (w @ (c * ac), th**4 / 8), (w @ (a @ c**2), th**4 / 12),
            (w @ (a @ ac), th**4 / 24),
        ]  # fmt: skip
        for got, want in conditions:
            assert got == pytest.approx(want, abs=1e-13)
    w1 = rows.sum(axis=0)
    np.testing.assert_allclose(w1, tab.b, atol=1e-14)


def test_tsit5_interpolates_at_the_accuracy_of_its_steps() -> None:
    # Between steps the fourth-order interpolant errs about as much as the steps do
    # (the cubic Hermite used before erred ~100x more at rtol 1e-10).
    tol = {"rtol": 1e-10, "atol": 1e-12}
    t_end = torch.linspace(0.0, 10.0, 2, dtype=F64)
    t = torch.linspace(0.0, 10.0, 201, dtype=F64)
    y0 = Y0[:1]
    end = ode.solve(_osc, y0, t_end, method="tsit5", **tol).ys[-1]
    at_end = float((end - _exact(y0, t_end[None])[-1]).abs().max())
    sol = ode.solve(_osc, y0, t, method="tsit5", **tol)
    interior = float((sol.ys - _exact(y0, t[None])).abs().max())
    assert interior < 5 * max(at_end, 1e-11), (interior, at_end)
