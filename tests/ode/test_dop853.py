"""Hairer's DOP853: its tableau, its order, its seventh-order dense output, and outputs
between steps that cost no extra steps.

Expectations are closed forms: the order conditions, ``exp(tA) y0`` for linear systems,
and the damped oscillator x'' + 0.2 x' + x = 0, whose solution is
x(t) = e^(-t/10) (x0 cos ωt + (v0 + x0/10)/ω sin ωt) with ω = √0.99. SciPy's DOP853 is
a sanity check only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from damped_oscillator import Y0, W
from damped_oscillator import exact as _exact
from damped_oscillator import osc as _osc

from neurosym import ode
from neurosym.ode._dop853 import _BHH, _E5, _NESTED_TO_POWER, _R5_8

F64 = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-12}
TAB = ode.Dop853.tableau


def _extended() -> tuple[np.ndarray, np.ndarray]:
    """``c`` and the strictly lower ``a`` over all 16 stages (13 + the 3 dense ones)."""
    rows = (*TAB.a, *TAB.dense_a)
    n = len(rows) + 1
    a = np.zeros((n, n))
    for i, row in enumerate(rows):
        a[i + 1, : len(row)] = row
    return np.array((*TAB.c, *TAB.dense_c)), a


# --- the tableau -----------------------------------------------------------------------


def test_shape_and_declared_orders() -> None:
    assert TAB.stages == 13 and TAB.fsal and len(TAB.dense_c) == 3
    solver = ode.Dop853()
    assert (solver.order, solver.error_order, solver.dense_order) == (8, 7, 7)
    assert not solver.clamps_to_outputs
    assert ode.METHODS["dop853"] is ode.Dop853


def test_row_sums_equal_the_nodes() -> None:
    c, a = _extended()
    np.testing.assert_allclose(a.sum(1), c, atol=1e-13)


def test_eighth_order_conditions() -> None:
    c, a = _extended()
    c, a = c[:13], a[:13, :13]
    b = np.array(TAB.b)
    assert b.sum() == pytest.approx(1.0, abs=1e-14)
    for k in range(8):  # quadrature: Σ b c^k = 1/(k+1)
        assert b @ c**k == pytest.approx(1 / (k + 1), abs=1e-13), k
    for k in range(7):  # Σ b a c^k = 1/((k+1)(k+2))
        assert b @ a @ c**k == pytest.approx(1 / ((k + 1) * (k + 2)), abs=1e-13), k
    ac = a @ c
    assert b @ (c * ac) == pytest.approx(1 / 8, abs=1e-13)
    assert b @ (a @ ac) == pytest.approx(1 / 24, abs=1e-13)
    # c³ times the tall tree of order 4 under one root: γ = 8 · 24
    assert b @ (c**3 * (a @ (a @ ac))) == pytest.approx(1 / 192, abs=1e-13)
    assert b @ (a @ (a @ (a @ (a @ (a @ ac))))) == pytest.approx(1 / math.factorial(8), abs=1e-14)


def test_embedded_estimates_are_fifth_and_third_order() -> None:
    c, a = _extended()
    c, a = c[:13], a[:13, :13]
    b = np.array(TAB.b)
    b5 = b - np.array(_E5)  # y_err = h Σ e5 k: solution minus a fifth-order one
    for k in range(5):
        assert b5 @ c**k == pytest.approx(1 / (k + 1), abs=1e-13), k
    assert abs(b5 @ c**5 - 1 / 6) > 1e-5  # and not sixth
    assert b5 @ (a @ (a @ c)) == pytest.approx(1 / 24, abs=1e-13)
    b3 = np.array(_BHH)
    assert np.array(TAB.b_err_low) == pytest.approx(b - b3, abs=0)
    for k in range(3):
        assert b3 @ c**k == pytest.approx(1 / (k + 1), abs=1e-14), k
    assert b3 @ a @ c == pytest.approx(1 / 6, abs=1e-14)
    assert abs(b3 @ c**3 - 1 / 4) > 1e-3
    assert TAB.b_err[-1] == 0.0 and TAB.b_err_low[-1] == 0.0  # type: ignore[index]


# --- the dense output's matrix ---------------------------------------------------------


def test_power_basis_matrix_is_the_expanded_nested_form() -> None:
    import sympy as sp

    th = sp.Symbol("theta")
    r = sp.symbols("r2:9")
    r2, r3, r4, r5, r6, r7, r8 = r
    nested = th * (r2 + (1 - th) * (r3 + th * (r4 + (1 - th) * (r5 + th * (r6 + (1 - th)
             * (r7 + th * r8))))))  # fmt: skip
    poly = sp.Poly(sp.expand(nested), th)
    assert poly.degree() == 7 and poly.coeff_monomial(1) == 0
    for p in range(7):
        coeff = poly.coeff_monomial(th ** (p + 1))
        assert tuple(int(coeff.coeff(x)) for x in r) == _NESTED_TO_POWER[p]


def test_dense_rows_reproduce_hairers_nested_interpolant() -> None:
    # Random stages and step: the solver's power-basis polynomial against the nested form
    # built from r1 ... r8 as dop853.f's CONTD8 evaluates it.
    g = torch.Generator().manual_seed(1)
    stages = torch.randn(16, 4, 3, generator=g, dtype=F64)
    y0 = torch.randn(4, 3, generator=g, dtype=F64)
    h = torch.tensor([[0.3], [0.7], [1.1], [0.05]], dtype=F64)
    b = torch.tensor(TAB.b, dtype=F64)
    y1 = y0 + h * torch.einsum("i,ibd->bd", b, stages[:13])
    step = ode.StepResult(y0=y0, y1=y1, y_err=None, f0=stages[0], f1=stages[12], h=h,
                          stages=stages)  # fmt: skip
    solver = ode.Dop853()
    ydiff = y1 - y0
    bspl = h * stages[0] - ydiff
    r = [ydiff, bspl, ydiff - h * stages[12] - bspl]
    r += [h * torch.einsum("i,ibd->bd", torch.tensor(d, dtype=F64), stages) for d in _R5_8]
    coeffs = solver.dense_coefficients(step)
    assert coeffs.shape == (7, 4, 3)
    for theta in (0.0, 0.13, 0.5, 0.77, 1.0):
        s, s1 = theta, 1 - theta
        nested = y0 + s * (r[0] + s1 * (r[1] + s * (r[2] + s1 * (r[3] + s * (r[4] + s1
                 * (r[5] + s * r[6]))))))  # fmt: skip
        power = y0 + sum(theta ** (p + 1) * coeffs[p] for p in range(7))
        torch.testing.assert_close(power, nested, rtol=1e-12, atol=1e-12)
        th = torch.full((4, 1), theta, dtype=F64)
        torch.testing.assert_close(solver.interpolate(step, th), nested, rtol=1e-12, atol=1e-12)
    # θ = 1 is the step's end
    torch.testing.assert_close(y0 + coeffs.sum(0), y1, rtol=1e-12, atol=1e-12)


def test_continuous_extension_meets_the_seventh_order_quadrature_conditions() -> None:
    c, _ = _extended()
    dense = ode.Dop853()._dense
    assert dense is not None
    rows = dense.numpy()
    for th in np.linspace(0.05, 1.0, 12):
        w = sum(rows[j] * th ** (j + 1) for j in range(rows.shape[0]))
        for k in range(7):  # Σ b_i(θ) c_i^k = θ^(k+1)/(k+1)
            assert w @ c**k == pytest.approx(th ** (k + 1) / (k + 1), abs=1e-12), (th, k)
    np.testing.assert_allclose(rows.sum(0), (*TAB.b, 0.0, 0.0, 0.0), atol=1e-12)


def test_dense_output_without_the_extra_stages_is_a_bug() -> None:
    solver = ode.Dop853()
    y0 = torch.tensor([[1.0, 0.0]], dtype=F64)
    h = torch.full((1, 1), 0.1, dtype=F64)
    step = solver.step(_osc, torch.zeros(1, 1, dtype=F64), y0, _osc(torch.zeros(1, 1), y0), h)
    assert step.stages is not None and step.stages.shape[0] == 13
    with pytest.raises(RuntimeError, match="complete_dense"):
        solver.dense_coefficients(step)
    done = solver.complete_dense(_osc, torch.zeros(1, 1, dtype=F64), step)
    assert done.stages is not None and done.stages.shape[0] == 16
    again = solver.complete_dense(_osc, torch.zeros(1, 1, dtype=F64), done)
    assert again is done
    # other solvers' steps come back unchanged
    d5 = ode.Dopri5()
    s5 = d5.step(_osc, torch.zeros(1, 1, dtype=F64), y0, _osc(torch.zeros(1, 1), y0), h)
    assert d5.complete_dense(_osc, torch.zeros(1, 1, dtype=F64), s5) is s5


# --- convergence orders ----------------------------------------------------------------

A = torch.tensor([[-0.5, 1.0], [-1.0, -0.5]], dtype=F64)


def _fit(hs: list[float], errs: list[float]) -> float:
    x = np.log(hs)
    e = np.log(errs)
    return float(((x - x.mean()) * (e - e.mean())).sum() / ((x - x.mean()) ** 2).sum())


@pytest.mark.parametrize("problem", ["time_linear", "logistic"])
def test_empirical_order_of_the_steps(problem: str) -> None:
    # Fixed steps: y' = t y (y = y0 e^(t²/2)) and y' = y (1 - y) (y = 1 / (1 + (1/y0 - 1)
    # e^(-t))), at step counts in the asymptotic regime and well above round-off. (On
    # y' = -2 t y² the error of both eighth-order pairs is erratic at these steps.)
    y0 = torch.tensor([[0.1, 0.5], [0.3, 0.8]], dtype=F64)
    if problem == "time_linear":
        f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = lambda t, y: t * y  # noqa: E731
        t_end, exact = 1.0, y0 * math.exp(0.5)
    else:
        f = lambda t, y: y * (1 - y)  # noqa: E731
        t_end, exact = 6.0, 1 / (1 + (1 / y0 - 1) * math.exp(-6.0))
    n0 = 4
    t = torch.tensor([0.0, t_end], dtype=F64)
    hs, errs = [], []
    for k in range(3):
        n = n0 * 2**k
        sol = ode.solve(f, y0, t, method="dop853", steps=n)
        errs.append(float((sol.ys[-1] - exact).abs().max()))
        hs.append(t_end / n)
    slope = _fit(hs, errs)
    assert abs(slope - 8) <= 0.3, f"slope {slope:.3f}"


def test_empirical_order_of_the_dense_output() -> None:
    # One step of y' = A y from y0: the interpolant errs by O(h^8) inside the step (a
    # seventh-order continuous extension), against exp(θ h A) y0.
    solver = ode.Dop853()
    y0 = torch.tensor([[1.0, 0.5]], dtype=F64)

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y @ A.T

    t0 = torch.zeros(1, 1, dtype=F64)
    hs = [0.8, 0.4, 0.2]
    for theta in (0.3, 0.6):
        errs = []
        for h in hs:
            ht = torch.full((1, 1), h, dtype=F64)
            step = solver.complete_dense(f, t0, solver.step(f, t0, y0, f(t0, y0), ht))
            got = solver.interpolate(step, torch.full((1, 1), theta, dtype=F64))
            want = y0 @ torch.linalg.matrix_exp(theta * h * A).T
            errs.append(float((got - want).abs().max()))
        slope = _fit(hs, errs)
        assert abs(slope - 8) <= 0.5, f"theta {theta}: slope {slope:.3f} ({errs})"


# --- outputs between steps -------------------------------------------------------------


@pytest.mark.parametrize("check_every", [1, 8])
@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
def test_outputs_between_steps_match_closed_form(step_control: str, check_every: int) -> None:
    # per-sample: the host loop (1) and the accelerators' masked loop (8); joint: the host
    # float loop on CPU (both check_every values take it).
    t = torch.linspace(0.0, 10.0, 201, dtype=F64)
    sol = ode.solve(_osc, Y0, t, method="dop853", step_control=step_control,
                    check_every=check_every, **TOL)  # fmt: skip
    assert sol.ok
    err = float((sol.ys - _exact(Y0, t.expand(3, -1))).abs().max())
    assert err < 1e-9, err


@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
def test_denser_outputs_take_no_extra_steps(step_control: str) -> None:
    def run(method: str, n: int) -> ode.Solution:
        t = torch.linspace(0.0, 10.0, n, dtype=F64)
        return ode.solve(_osc, Y0, t, method=method, step_control=step_control, **TOL)

    bare, dense = run("dop853", 2), run("dop853", 200)
    assert dense.stats.steps == bare.stats.steps
    assert dense.stats.accepted == bare.stats.accepted
    torch.testing.assert_close(dense.ys[-1], bare.ys[-1], rtol=0, atol=0)
    # Dopri8 lands on every output time instead.
    assert run("dopri8", 200).stats.steps > bare.stats.steps + 100


def test_per_sample_times_and_backwards_in_time() -> None:
    t = torch.stack(
        [torch.linspace(0.0, s, 40, dtype=F64) ** p for s, p in ((6.0, 1), (3.0, 2), (2.0, 3))]
    )
    sol = ode.solve(_osc, Y0, t, method="dop853", **TOL)
    assert sol.ok
    assert torch.allclose(sol.t_final, t[:, -1])
    assert float((sol.ys - _exact(Y0, t)).abs().max()) < 1e-9
    tb = torch.linspace(4.0, -1.0, 30, dtype=F64)
    y_start = _exact(Y0, torch.full((3, 1), 4.0, dtype=F64))[0]
    back = ode.solve(_osc, y_start, tb, method="dop853", **TOL)
    assert float((back.ys - _exact(Y0, tb.expand(3, -1))).abs().max()) < 1e-9


@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
def test_extra_stages_are_counted(step_control: str) -> None:
    # One sample, so that per-sample and joint steps coincide with the batch's. 12 calls
    # per step attempt (FSAL), 1 for f(t0), and 3 for each accepted step whose dense
    # output is used: with 2 outputs only the last step under per-sample control (its
    # record), none under joint control (the end is a step end); with 200 outputs every
    # accepted step (from dt0 = 0.2 on, each is longer than the spacing of 0.05).
    calls = 0

    def field(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        return _osc(t, y)

    for n in (2, 200):
        calls = 0
        t = torch.linspace(0.0, 10.0, n, dtype=F64)
        sol = ode.solve(field, Y0[:1], t, method="dop853", step_control=step_control,
                        dt0=0.2, **TOL)  # fmt: skip
        st = sol.stats
        assert st.nfe == calls
        recorded = st.accepted if n == 200 else (1 if step_control == "per_sample" else 0)
        assert st.nfe == 1 + 12 * st.steps + 3 * recorded, (n, st)


# --- comparison with SciPy -------------------------------------------------------------


def test_agrees_with_scipy_dop853() -> None:
    from scipy.integrate import solve_ivp

    t = torch.linspace(0.0, 10.0, 57, dtype=F64)
    y0 = Y0[2:]
    ours = ode.solve(_osc, y0, t, method="dop853", **TOL).ys[:, 0]
    ref = solve_ivp(
        lambda t, y: [y[1], -y[0] - 0.2 * y[1]], (0.0, 10.0), y0[0].numpy(),
        method="DOP853", dense_output=True, **TOL,
    )  # fmt: skip
    theirs = torch.from_numpy(ref.sol(t.numpy()).T)
    exact = _exact(y0, t[None])[:, 0]
    err_ours = float((ours - exact).abs().max())
    err_theirs = float((theirs - exact).abs().max())
    assert err_ours < 1e-9 and err_theirs < 1e-9
    assert err_ours < 10 * err_theirs + 1e-12, (err_ours, err_theirs)
    assert float((ours - theirs).abs().max()) < 1e-9


# --- gradients and events --------------------------------------------------------------


@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
def test_gradcheck_through_interpolated_outputs(step_control: str) -> None:
    # With a huge tolerance every step is accepted and grows by the controller's largest
    # factor, so the steps do not depend on the inputs and finite differences see a smooth
    # function: two steps (0.3, then to the end), outputs interpolated inside both.
    t = torch.tensor([0.0, 0.1, 0.25, 0.3, 0.8, 1.4, 2.0], dtype=F64)

    def outputs(y0: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        def field(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return torch.tanh(y @ w) + 0.1 * t

        sol = ode.solve(field, y0, t, method="dop853", dt0=0.3, rtol=1e6, atol=1e6,
                        step_control=step_control)  # fmt: skip
        assert sol.stats.steps == 2
        return sol.ys

    g = torch.Generator().manual_seed(3)
    y0 = torch.randn(2, 2, generator=g, dtype=F64, requires_grad=True)
    w = torch.randn(2, 2, generator=g, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(outputs, (y0, w), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("mode", ["direct", "adjoint", "checkpoint"])
def test_gradients_through_intermediate_outputs_match_closed_form(mode: str) -> None:
    # d x(t)/d x0 of the oscillator is e^(-t/10) (cos ωt + sin ωt / (10 ω)), at every t.
    t = torch.linspace(0.0, 5.0, 12, dtype=F64)
    y0 = Y0.clone().requires_grad_(True)
    sol = ode.solve(_osc, y0, t, method="dop853", adjoint=mode == "adjoint", adjoint_params=(),
                    checkpoint=mode == "checkpoint", **TOL)  # fmt: skip
    w = torch.linspace(0.5, 1.5, 12, dtype=F64)
    (sol.ys[..., 0] * w[:, None]).sum().backward()
    assert y0.grad is not None
    e = torch.exp(-0.1 * t)
    dx_dx0 = e * (torch.cos(W * t) + torch.sin(W * t) / (10 * W))
    dx_dv0 = e * torch.sin(W * t) / W
    expect = torch.stack([(w * dx_dx0).sum(), (w * dx_dv0).sum()]).expand(3, -1)
    assert torch.allclose(y0.grad, expect, rtol=1e-7, atol=1e-8)


def test_adjoint_parameter_gradients_agree_with_direct() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    net = net.double()

    def field(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return net(y)  # type: ignore[no-any-return]

    y0 = torch.tensor([[0.5, -0.3], [1.0, 0.2]], dtype=F64)
    t = torch.linspace(0.0, 2.0, 9, dtype=F64)
    grads = []
    for adjoint in (False, True):
        net.zero_grad()
        sol = ode.solve(field, y0, t, method="dop853", adjoint=adjoint,
                        adjoint_params=tuple(net.parameters()), **TOL)  # fmt: skip
        (sol.ys**2).sum().backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in net.parameters()]))  # type: ignore[union-attr]
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
def test_event_time_from_the_dense_output(step_control: str) -> None:
    # x = 0 at ωt* = atan2(-x0, (v0 + x0/10)/ω) (mod π), located on the seventh-order
    # interpolant; sample 1 starts on x = 0 and fires at its next zero, t* = π/ω.
    t = torch.linspace(0.0, 10.0, 21, dtype=F64)
    sol = ode.solve(_osc, Y0, t, method="dop853", event=lambda t, y: y[:, 0],
                    step_control=step_control, **TOL)  # fmt: skip
    a, b = Y0[:, 0], (Y0[:, 1] + 0.1 * Y0[:, 0]) / W
    first = torch.atan2(-a, b) / W
    expect = torch.where(first > 1e-12, first, first + math.pi / W)
    assert sol.event_t is not None
    assert float((sol.event_t - expect).abs().max()) < 1e-9
    at = _exact(Y0, expect[:, None])[0]
    assert float((sol.y_final - at).abs().max()) < 1e-9


# --- the captured loop's iteration -----------------------------------------------------


def test_graphed_iteration_matches_adaptive_loop() -> None:
    # Run eagerly (capture=False) on the CPU: the same arithmetic as the accelerators'
    # loop, which also completes (and counts) every step's extra stages.
    from neurosym.ode._graphed import graph_unsupported, integrate_graphed
    from neurosym.ode._integrate import integrate_adaptive

    solver = ode.Dop853()
    assert graph_unsupported(solver, 9, event=False, grad=False) is None
    ts = torch.linspace(0.0, 5.0, 9, dtype=F64).expand(3, -1)
    kw = dict(solver=solver, controller=ode.PIDController(), rtol=1e-9, atol=1e-11, dt0=None,
              max_steps=10_000, joint=False, check_every=8)  # fmt: skip
    with torch.no_grad():
        a = integrate_adaptive(_osc, Y0, ts, event=None, **kw)  # type: ignore[arg-type]
        b = integrate_graphed(_osc, Y0, ts, capture=False, **kw)  # type: ignore[arg-type]
    torch.testing.assert_close(b.ys, a.ys, rtol=0, atol=1e-13)
    assert (b.steps, b.nfe) == (a.steps, a.nfe)
    assert float((b.ys - _exact(Y0, ts)).abs().max()) < 1e-8
