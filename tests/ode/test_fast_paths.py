"""The fast paths agree with their reference formulations.

- The stage form of the dense output equals the closed-form interpolants it replaces.
- Joint step control on host floats (CPU) equals the tensor loop, failures included.
- Fixed steps: ``steps=`` is the total, a float step equals a per-sample tensor step.
"""

from __future__ import annotations

import math

import pytest
import torch

from neurosym import ode
from neurosym.ode._controller import ControllerState
from neurosym.ode._interpolation import hermite_cubic

F64 = torch.float64


def _quartic_with_midpoint(
    y0: torch.Tensor,
    y1: torch.Tensor,
    ymid: torch.Tensor,
    f0: torch.Tensor,
    f1: torch.Tensor,
    h: torch.Tensor,
    theta: torch.Tensor,
) -> torch.Tensor:
    # The quartic through both ends, both slopes and the midpoint, solved by hand.
    d = h * f0
    u = y1 - y0 - d
    v = h * f1 - d
    w = ymid - y0 - 0.5 * d
    a = 16 * w + 2 * v - 8 * u
    b = v - 2 * u - 2 * a
    c = u - a - b
    return y0 + theta * (d + theta * (c + theta * (b + theta * a)))


def _field(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.sin(y) * t - y * y


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
@pytest.mark.parametrize("method", ["bosh3", "dopri5", "tsit5", "dopri8"])
def test_stage_dense_output_equals_closed_form(method: str, grad: bool) -> None:
    solver = ode.METHODS[method]()
    assert isinstance(solver, ode.AbstractExplicitRK)
    gen = torch.Generator().manual_seed(0)
    y = torch.randn(5, 3, dtype=F64, generator=gen)
    t = torch.rand(5, 1, dtype=F64, generator=gen)
    h = 0.3 * torch.rand(5, 1, dtype=F64, generator=gen)
    with torch.set_grad_enabled(grad):
        res = solver.step(_field, t, y, _field(t, y), h)
    assert res.stages is not None and res.f1 is not None
    theta = torch.rand(5, 4, dtype=F64, generator=gen)
    got = solver.interpolate_many(res, theta)
    tab = solver.tableau
    for j in range(4):
        th = theta[:, j : j + 1]
        if tab.dense is not None:
            # the method's own continuous extension: y0 + h Σ_p θ^(p+1) (P[p] · stages)
            rows = torch.tensor(tab.dense, dtype=F64)
            ref = y + h * sum(
                th ** (p + 1) * torch.einsum("s,sbd->bd", rows[p], res.stages)
                for p in range(rows.shape[0])
            )
        elif tab.c_mid is not None:
            w = torch.tensor(tab.c_mid, dtype=F64)
            ymid = y + h * torch.einsum("s,sbd->bd", w, res.stages)
            ref = _quartic_with_midpoint(y, res.y1, ymid, res.f0, res.f1, h, th)
        else:
            ref = hermite_cubic(y, res.y1, res.f0, res.f1, h, th)
        torch.testing.assert_close(got[:, j], ref, rtol=0, atol=1e-14)
    torch.testing.assert_close(solver.interpolate(res, torch.ones(5, 1, dtype=F64)), res.y1)


@pytest.mark.parametrize("method", ["rk4", "dopri5", "dopri8"])
def test_float_step_equals_tensor_step(method: str) -> None:
    solver = ode.METHODS[method]()
    assert isinstance(solver, ode.AbstractExplicitRK)
    y = torch.randn(4, 2, dtype=F64, generator=torch.Generator().manual_seed(1))
    t = torch.zeros(4, 1, dtype=F64)
    a = solver.step(_field, t, y, _field(t, y), 0.1)
    b = solver.step(_field, t, y, _field(t, y), torch.full((4, 1), 0.1, dtype=F64))
    torch.testing.assert_close(a.y1, b.y1, rtol=0, atol=1e-15)


class _Wrapped(ode.AbstractStepController):
    """The PID controller behind a wrapper: the solve then takes the tensor loop."""

    def __init__(self) -> None:
        self.inner = ode.PIDController()

    def init(self, like: torch.Tensor) -> ControllerState:
        return self.inner.init(like)

    def adapt(
        self,
        h: torch.Tensor,
        ratio: torch.Tensor,
        accept: torch.Tensor,
        state: ControllerState,
        error_order: int,
    ) -> tuple[torch.Tensor, ControllerState]:
        return self.inner.adapt(h, ratio, accept, state, error_order)


def _blowup(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return y * y


Y0 = torch.tensor([[-1.0], [1.0], [-0.5], [0.25]], dtype=F64)
T = torch.linspace(0.0, 2.0, 5, dtype=F64)


def _both(f: object, y0: torch.Tensor, t: torch.Tensor, **kw: object) -> list[ode.Solution]:
    return [
        ode.solve(f, y0, t, step_control="joint", throw=False, controller=c, **kw)  # type: ignore[arg-type]
        for c in (ode.PIDController(), _Wrapped())
    ]


def _assert_same(host: ode.Solution, tensor: ode.Solution, *, nfe: bool = True) -> None:
    torch.testing.assert_close(host.ys, tensor.ys, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert host.status.tolist() == tensor.status.tolist()
    torch.testing.assert_close(host.t_final, tensor.t_final, rtol=1e-12, atol=1e-12)
    assert host.stats.accepted_per_sample.tolist() == tensor.stats.accepted_per_sample.tolist()
    assert host.stats.rejected_per_sample.tolist() == tensor.stats.rejected_per_sample.tolist()
    if nfe:
        assert host.stats.nfe == tensor.stats.nfe


def _smooth(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.cos(3 * t) * torch.tanh(y) - 0.5 * y


def test_joint_host_loop_equals_tensor_loop() -> None:
    y0 = torch.randn(6, 3, dtype=F64, generator=torch.Generator().manual_seed(2))
    t = torch.linspace(0.0, 3.0, 7, dtype=F64)
    host, tensor = _both(_smooth, y0, t, rtol=1e-8, atol=1e-10)
    assert host.ok
    _assert_same(host, tensor)


def test_joint_host_loop_isolates_failure_like_tensor_loop() -> None:
    host, tensor = _both(_blowup, Y0, T)
    assert host.failed() == [1]
    _assert_same(host, tensor)


def test_joint_host_loop_nonfinite_initial_sample() -> None:
    y0 = Y0.clone()
    y0[2, 0] = math.nan
    host, tensor = _both(lambda t, y: -y, y0, T)
    assert host.failed() == [2]
    assert host.status[2] == ode.Status.NONFINITE
    assert torch.isnan(host.ys[1:, 2]).all()
    _assert_same(host, tensor)


def test_joint_host_loop_max_steps() -> None:
    host, tensor = _both(lambda t, y: -y, Y0, T, max_steps=3)
    assert (host.status == ode.Status.MAX_STEPS).all()
    _assert_same(host, tensor)


def test_joint_host_loop_gradcheck() -> None:
    def fn(y0: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return ode.solve(
            lambda t, y: -k * torch.tanh(y), y0, T, rtol=1e-11, atol=1e-12, step_control="joint"
        ).ys

    y0 = torch.tensor([[0.5], [1.5]], dtype=F64, requires_grad=True)
    k = torch.tensor(0.7, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (y0, k), atol=1e-6, rtol=1e-4)


def test_steps_is_the_total_over_all_intervals() -> None:
    t = torch.linspace(0.0, 1.0, 10, dtype=F64)
    sol = ode.solve(lambda t, y: -y, Y0, t, method="rk4", steps=100)
    assert sol.stats.steps == 100
    assert sol.stats.nfe == 400
    torch.testing.assert_close(sol.ys[:, :, 0], Y0[:, 0] * torch.exp(-t)[:, None])


def test_fixed_step_shared_and_per_sample_times_agree() -> None:
    t = torch.linspace(0.0, 1.0, 4, dtype=F64)
    shared = ode.solve(_field, Y0, t, method="dopri5", dt=0.05)
    per = ode.solve(_field, Y0, t.expand(4, -1), method="dopri5", dt=0.05)
    torch.testing.assert_close(shared.ys, per.ys, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(
    ("where", "value"),
    [("y1", math.inf), ("y1", math.nan), ("err", math.nan), ("err", math.inf), ("f1", math.nan)],
)
def test_fused_error_ratio_flags_non_finite(where: str, value: float) -> None:
    from neurosym.ode._integrate import _error_ratio, _tolerance

    y = torch.ones(3, 2, dtype=F64)
    parts = {"y1": y.clone(), "err": torch.full_like(y, 1e-9), "f1": y.clone()}
    parts[where][1, 0] = value
    res = ode.StepResult(y0=y, y1=parts["y1"], y_err=parts["err"], f0=y, f1=parts["f1"], h=0.1)
    r = _error_ratio(res, _tolerance(y, 1e-6, 1e-8), check_f1=True)[:, 0]
    assert math.isinf(float(r[1])) and float(r[1]) > 0
    assert torch.isfinite(r[[0, 2]]).all() and (r[[0, 2]] < 1).all()
    # The plain RMS of err / (atol + rtol |y|) on the healthy rows.
    torch.testing.assert_close(r[0], torch.tensor(1e-9 / (1e-8 + 1e-6), dtype=F64))


@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
def test_unmasked_fast_path_equals_masked_loop(step_control: str) -> None:
    # check_every > 1 takes the accelerator loop (always masked, no per-step host reads);
    # on CPU with check_every=1 the loop skips masks when the whole batch moves together.
    rates = torch.tensor([[0.1], [1.0], [10.0], [-1.0]], dtype=F64)

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -rates * y * y * y + torch.cos(t)

    y0 = torch.tensor([[1.0], [0.5], [2.0], [1.5]], dtype=F64)
    t = torch.linspace(0.0, 3.0, 7, dtype=F64)
    sols = [
        ode.solve(
            f,
            y0,
            t,
            rtol=1e-7,
            atol=1e-9,
            step_control=step_control,
            check_every=k,
            throw=False,
            controller=_Wrapped(),
        )
        for k in (1, 5)
    ]
    assert sols[0].failed() == [3]  # y' = y³ + cos t blows up
    # The same steps and values; only idle iterations after the end may differ.
    _assert_same(*sols, nfe=False)


@pytest.mark.parametrize("method", ["bosh3", "dopri5", "tsit5", "dopri8", "rodas3"])
def test_dense_coefficients_are_the_interpolant(method: str) -> None:
    # The polynomial y0 + Σ θ^(p+1) C_p that the per-sample loop evaluates at the end
    # must be the solver's own dense output at every θ.
    solver = ode.METHODS[method]()
    gen = torch.Generator().manual_seed(1)
    y = torch.randn(5, 3, dtype=F64, generator=gen)
    t = torch.rand(5, 1, dtype=F64, generator=gen)
    h = 0.3 * torch.rand(5, 1, dtype=F64, generator=gen)
    res = solver.step(_field, t, y, _field(t, y), h)
    coeffs = solver.dense_coefficients(res)
    for th in (0.0, 0.25, 0.6, 1.0):
        theta = torch.full((5, 1), th, dtype=F64)
        poly = y + sum(theta ** (p + 1) * c for p, c in enumerate(coeffs))
        torch.testing.assert_close(poly, solver.interpolate(res, theta), rtol=0, atol=5e-14)
    torch.testing.assert_close(y + coeffs.sum(0), res.y1, rtol=0, atol=5e-14)


@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
def test_last_step_stretches_over_a_sliver(step_control: str) -> None:
    # A zero field with factor_max just above 1 keeps h ≈ dt0. With dt0 = 0.33 the third
    # step would end at 0.99: it is stretched by 3% onto the end instead of leaving a
    # 0.01 step. With dt0 = 0.3 the end is 33% past the third step: four steps.
    ctrl = ode.PIDController(factor_max=1.0001)
    t = torch.tensor([0.0, 1.0], dtype=F64)

    def steps(dt0: float) -> int:
        sol = ode.solve(
            lambda t, y: torch.zeros_like(y), torch.ones(2, 1, dtype=F64), t,
            dt0=dt0, controller=ctrl, step_control=step_control,
        )  # fmt: skip
        assert torch.equal(sol.t_final, torch.ones(2, dtype=F64))
        return sol.stats.steps

    assert steps(0.33) == 3
    assert steps(0.3) == 4


@pytest.mark.parametrize("per_sample_t", [False, True], ids=["shared_t", "per_sample_t"])
def test_forward_only_outputs_in_chunks_equal_all_at_once(
    per_sample_t: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without a graph the recorded steps are turned into outputs every FLUSH records;
    # with chunks of two the values, the NaN of a sample that blew up and the statuses
    # must be those of one evaluation at the end.
    import neurosym.ode._integrate as integrate

    rate = torch.tensor([[0.5], [1.0], [2.0], [4.0], [1.5]], dtype=F64)

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # Oscillators of different frequencies (different steps); the last row blows up.
        osc = torch.cat([y[:, 1:], -(rate**2) * y[:, :1]], 1)
        return torch.where(rate == 1.5, y * y, osc)

    y0 = torch.tensor([[1.0, 0.0], [0.5, 1.0], [-1.0, 0.3], [0.2, 0.2], [1.0, 1.0]], dtype=F64)
    t = torch.linspace(0.0, 6.0, 31, dtype=F64)
    if per_sample_t:
        t = t * torch.linspace(0.8, 1.2, 5, dtype=F64)[:, None]

    def run() -> ode.Solution:
        with torch.no_grad():
            return ode.solve(
                f, y0, t, rtol=1e-8, atol=1e-10, throw=False, step_control="per_sample"
            )

    ref = run()
    calls = []
    flush = integrate.flush_outputs

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return flush(*args, **kwargs)

    monkeypatch.setattr(integrate, "FLUSH", 2)
    monkeypatch.setattr(integrate, "flush_outputs", counted)
    got = run()
    assert len(calls) > 5
    assert ref.failed() == got.failed() == [4]
    assert torch.equal(torch.isnan(ref.ys), torch.isnan(got.ys))
    assert torch.isnan(got.ys[-1, 4]).all() and not torch.isnan(got.ys[:, :4]).any()
    torch.testing.assert_close(got.ys, ref.ys, rtol=0, atol=1e-14, equal_nan=True)


@pytest.mark.parametrize("float_h", [True, False], ids=["float_h", "tensor_h"])
@pytest.mark.parametrize("method", ["bosh3", "dopri5", "tsit5", "dopri8"])
def test_shared_positions_dense_output_equals_per_sample(method: str, float_h: bool) -> None:
    # The joint loop's one-addmm dense output at positions shared by the batch must be
    # the per-sample stage form at those positions.
    solver = ode.METHODS[method]()
    assert isinstance(solver, ode.AbstractExplicitRK)
    gen = torch.Generator().manual_seed(2)
    y = torch.randn(5, 3, dtype=F64, generator=gen)
    t = torch.rand(5, 1, dtype=F64, generator=gen)
    h: float | torch.Tensor = 0.2 if float_h else torch.full((5, 1), 0.2, dtype=F64)
    res = solver.step(_field, t, y, _field(t, y), h)
    thetas = [0.0, 0.3, 0.75, 1.0]
    got = solver.interpolate_shared(res, thetas)
    ref = solver.interpolate_many(res, torch.tensor(thetas, dtype=F64).expand(5, -1))
    assert got.shape == (4, 5, 3)
    torch.testing.assert_close(got, ref.transpose(0, 1), rtol=0, atol=5e-14)


def test_gathered_horner_equals_its_definition_and_gradchecks() -> None:
    # The dense output's gather + in-place Horner against the plain formula
    # ends[rows_start] + θ C0[rows] + θ² C1[rows] + θ³ C2[rows], with repeated rows (two
    # outputs in one step) and rows read at a step's end (θ = 0 from the y1 half).
    from neurosym.ode._dense import _GatherHorner

    gen = torch.Generator().manual_seed(3)
    n, dim = 4, 3
    ends = torch.randn(2 * n, dim, dtype=F64, generator=gen, requires_grad=True)
    coeffs = [torch.randn(n, dim, dtype=F64, generator=gen, requires_grad=True) for _ in range(3)]
    rows = torch.tensor([0, 0, 2, 3, 1, 3])
    rows_start = torch.tensor([0, 0, 2, 3 + n, 1, 3])
    theta = torch.tensor([[0.2], [0.7], [0.5], [0.0], [1.0], [0.3]], dtype=F64)
    got = _GatherHorner.apply(rows, rows_start, theta, ends, *coeffs)
    want = ends[rows_start] + sum(theta ** (p + 1) * c[rows] for p, c in enumerate(coeffs))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-15)
    assert torch.equal(got[3], ends[3 + n])  # an output on a step's end is its y1 exactly
    assert torch.autograd.gradcheck(
        lambda e, a, b, c: _GatherHorner.apply(rows, rows_start, theta, e, a, b, c),
        (ends, *coeffs),
    )
