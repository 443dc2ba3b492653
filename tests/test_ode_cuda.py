"""The ODE core on a CUDA device: the same answers as on the CPU, failure as data, gradients,
and no host-device synchronisation per step.

The device tests are skipped where no CUDA device is present (CI has none); run them on a
GPU machine with ``python -m pytest -q tests/test_ode_cuda.py``. The loop that makes no
host reads (the accelerators' loop) is also checked on the CPU, against the host loop.
The CPU runs are the oracle: the device must reproduce them to float64 round-off (same
tableaus, same step decisions).
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from neurosym import ode
from neurosym.errors import ConfigurationError, SolverError

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CUDA = torch.device("cuda")
ADAPTIVE = ["bosh3", "dopri5", "tsit5", "dopri8", "dop853"]


def _field(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A nonlinear, non-autonomous field with samples on different time scales."""
    return torch.stack([y[:, 1], -y[:, 0] - 0.1 * y[:, 1] + 0.3 * torch.sin(t[:, 0])], dim=1)


def _y0(device: torch.device) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (torch.randn(6, 2, generator=g, dtype=torch.float64) * 2.0).to(device)


@needs_cuda
@pytest.mark.parametrize("method", [*ADAPTIVE, "rodas3"])
@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
def test_cuda_matches_cpu(method: str, step_control: str) -> None:
    t = torch.linspace(0.0, 5.0, 7, dtype=torch.float64)
    cpu = ode.solve(_field, _y0(torch.device("cpu")), t, method=method, rtol=1e-8, atol=1e-10,
                    step_control=step_control)  # fmt: skip
    gpu = ode.solve(_field, _y0(CUDA), t.to(CUDA), method=method, rtol=1e-8, atol=1e-10,
                    step_control=step_control)  # fmt: skip
    assert gpu.ys.device.type == "cuda"
    assert gpu.ok
    torch.testing.assert_close(gpu.ys.cpu(), cpu.ys, rtol=1e-9, atol=1e-10)


@needs_cuda
@pytest.mark.parametrize("method", ["euler", "midpoint", "heun", "rk4"])
def test_cuda_fixed_step_matches_cpu(method: str) -> None:
    t = torch.linspace(0.0, 2.0, 5, dtype=torch.float64)
    cpu = ode.solve(_field, _y0(torch.device("cpu")), t, method=method, steps=64)
    gpu = ode.solve(_field, _y0(CUDA), t.to(CUDA), method=method, steps=64)
    torch.testing.assert_close(gpu.ys.cpu(), cpu.ys, rtol=1e-12, atol=1e-12)


@needs_cuda
def test_cuda_exponential_decay_closed_form() -> None:
    y0 = torch.ones(4, 1, dtype=torch.float64, device=CUDA)
    rates = torch.tensor([[0.5], [1.0], [2.0], [4.0]], dtype=torch.float64, device=CUDA)
    t = torch.linspace(0.0, 1.0, 5, dtype=torch.float64, device=CUDA)
    sol = ode.solve(lambda t, y: -rates * y, y0, t, rtol=1e-10, atol=1e-12)
    exact = torch.exp(-rates.view(1, 4, 1) * t.view(5, 1, 1))
    torch.testing.assert_close(sol.ys, exact, rtol=1e-8, atol=1e-10)


@needs_cuda
def test_cuda_diverging_sample_is_data() -> None:
    """Sample 1 blows up in finite time (y' = y^2 from y0 = 2, singular at t = 0.5); the
    others decay. throw=False returns them finished and marks only sample 1."""
    y0 = torch.tensor([[0.5], [2.0], [1.0]], dtype=torch.float64, device=CUDA)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64, device=CUDA)

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        sign = torch.tensor([[-1.0], [1.0], [-1.0]], dtype=y.dtype, device=y.device)
        return sign * y * y

    sol = ode.solve(f, y0, t, throw=False, max_steps=2000)
    assert sol.failed() == [1]
    # y' = -y^2: y(1) = y0 / (1 + y0)
    torch.testing.assert_close(sol.ys[-1, 0, 0].cpu(), torch.tensor(0.5 / 1.5, dtype=torch.float64))
    with pytest.raises(SolverError, match="1"):
        ode.solve(f, y0, t, max_steps=2000)


@needs_cuda
@pytest.mark.parametrize("adjoint", [False, True])
def test_cuda_gradients_match_cpu(adjoint: bool) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    y0 = torch.randn(5, 3, dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, 4, dtype=torch.float64)
    grads = []
    for device in ("cpu", "cuda"):
        m = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 3)).double().to(device)
        m.load_state_dict(net.state_dict())

        def f(t: torch.Tensor, y: torch.Tensor, m: nn.Module = m) -> torch.Tensor:
            return m(y)  # type: ignore[no-any-return]

        sol = ode.solve(f, y0.to(device), t.to(device), rtol=1e-9, atol=1e-11,
                        adjoint=adjoint, adjoint_params=list(m.parameters()))  # fmt: skip
        (sol.ys**2).sum().backward()
        grads.append([p.grad.detach().cpu() for p in m.parameters()])  # type: ignore[union-attr]
    for g_cpu, g_gpu in zip(*grads):
        torch.testing.assert_close(g_gpu, g_cpu, rtol=1e-7, atol=1e-9)


def _count_syncs(**kw: object) -> tuple[int, int]:
    """(host-device synchronisations, step iterations) of one solve of a fast oscillator."""
    a = torch.tensor([[0.0, -20.0], [20.0, 0.0]], device=CUDA)
    y0 = torch.randn(64, 2, device=CUDA)
    t = torch.linspace(0.0, 10.0, 3, device=CUDA)
    with torch.no_grad():
        ode.solve(lambda t, y: y @ a, y0, t, rtol=1e-6, atol=1e-7, **kw)  # type: ignore[arg-type]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "a prototype feature"
            torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sol = ode.solve(lambda t, y: y @ a, y0, t, rtol=1e-6, atol=1e-7, **kw)  # type: ignore[arg-type]
        finally:
            torch.cuda.set_sync_debug_mode(0)
    syncs = [w for w in caught if "called a synchronizing" in str(w.message)]
    return len(syncs), sol.stats.steps


@needs_cuda
def test_cuda_step_loop_reads_the_device_only_every_check_every_steps() -> None:
    every, steps = _count_syncs(check_every=1)
    rarely, steps8 = _count_syncs(check_every=8)
    assert steps >= 200 and steps8 >= steps
    assert every >= steps  # the host loop reads at least once per step
    assert rarely <= steps8 // 8 + 30, (rarely, steps8)  # completion checks + setup only


# The loop without host reads (what runs on accelerators) can run on the CPU too, by
# asking for check_every > 1: it must give what the host-reading loop gives.


@pytest.mark.parametrize("method", ADAPTIVE)
@pytest.mark.parametrize("n_times", [2, 7, 40])
def test_no_host_read_loop_matches_host_loop_on_cpu(method: str, n_times: int) -> None:
    y0 = _y0(torch.device("cpu"))
    t = torch.linspace(0.0, 5.0, n_times, dtype=torch.float64)
    a = ode.solve(_field, y0, t, method=method, rtol=1e-8, atol=1e-10)
    b = ode.solve(_field, y0, t, method=method, rtol=1e-8, atol=1e-10, check_every=8)
    torch.testing.assert_close(b.ys, a.ys, rtol=1e-12, atol=1e-12)
    assert b.stats.accepted == a.stats.accepted and b.stats.rejected == a.stats.rejected
    # it overshoots completion by at most max(steps/2, 8) - 1 iterations
    assert a.stats.steps <= b.stats.steps <= a.stats.steps + max(a.stats.steps // 2, 8)


# The captured loop's iteration, run eagerly (capture=False), against the accelerators'
# loop of integrate_adaptive: the same arithmetic, so the same numbers and statistics.


def _diverging(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # sample 1 blows up at t = 0.5 (y' = y^2 from 2); the others decay (y' = -y^2)
    sign = torch.tensor([[-1.0], [1.0], [-1.0]], dtype=y.dtype, device=y.device)
    return sign * y * y


@pytest.mark.parametrize("method", ["bosh3", "dopri5", "tsit5", "dop853"])
@pytest.mark.parametrize("joint", [False, True])
@pytest.mark.parametrize("n_times", [2, 7, 17])
def test_graphed_iteration_matches_adaptive_loop(method: str, joint: bool, n_times: int) -> None:
    from neurosym.ode._graphed import integrate_graphed
    from neurosym.ode._integrate import integrate_adaptive
    from neurosym.ode._solve import resolve_method

    y0 = _y0(torch.device("cpu"))
    ts = torch.linspace(0.0, 5.0, n_times, dtype=torch.float64).expand(6, -1)
    kw = dict(solver=resolve_method(method), controller=ode.PIDController(), rtol=1e-7,
              atol=1e-9, dt0=None, max_steps=10_000, joint=joint, check_every=8)  # fmt: skip
    with torch.no_grad():
        a = integrate_adaptive(_field, y0, ts, event=None, **kw)  # type: ignore[arg-type]
        b = integrate_graphed(_field, y0, ts, capture=False, **kw)  # type: ignore[arg-type]
    # same steps; the eager loop interpolates once at the end, the captured one per step
    # (DOP853's power-basis rows reach ~500, so the evaluation orders differ more)
    torch.testing.assert_close(b.ys, a.ys, rtol=0, atol=1e-12 if method == "dop853" else 1e-13)
    assert torch.equal(b.status, a.status)
    assert torch.equal(b.accepted, a.accepted) and torch.equal(b.rejected, a.rejected)
    if not joint:
        assert (b.steps, b.nfe) == (a.steps, a.nfe)
    elif method != "dop853":  # on the CPU the reference is the host-float joint loop: it
        # stops at once (and evaluates DOP853's extra stages only for steps with outputs)
        calls = resolve_method(method).tableau.stages - 1  # type: ignore[attr-defined]
        assert 0 <= b.steps - a.steps <= 8 and b.nfe - a.nfe == calls * (b.steps - a.steps)


def test_graphed_iteration_failure_as_data() -> None:
    from neurosym.ode._graphed import integrate_graphed
    from neurosym.ode._solve import resolve_method

    y0 = torch.tensor([[0.5], [2.0], [1.0]], dtype=torch.float64)
    ts = torch.tensor([[0.0, 1.0]] * 3, dtype=torch.float64)
    with torch.no_grad():
        raw = integrate_graphed(_diverging, y0, ts, solver=resolve_method("dopri5"),  # type: ignore[arg-type]
                                controller=ode.PIDController(), rtol=1e-6, atol=1e-8,
                                dt0=None, max_steps=300, joint=False, check_every=8,
                                capture=False)  # fmt: skip
    assert raw.status[0] == 0 and raw.status[2] == 0 and raw.status[1] != 0
    # y' = -y^2: y(1) = y0 / (1 + y0)
    torch.testing.assert_close(raw.ys[-1, [0, 2], 0], torch.tensor([0.5 / 1.5, 0.5],
                               dtype=torch.float64), rtol=1e-5, atol=0)  # fmt: skip
    assert abs(float(raw.t_final[1]) - 0.5) < 1e-3  # stopped at the singularity, t = 0.5


def test_cuda_graph_refused_with_reasons() -> None:
    y0 = torch.ones(2, 1)
    t = torch.tensor([0.0, 1.0])
    with pytest.raises(ConfigurationError, match="CUDA device"):
        ode.solve(lambda t, y: -y, y0, t, cuda_graph=True)


@needs_cuda
def test_cuda_graph_refusals_on_device() -> None:
    y0 = torch.ones(2, 1, device=CUDA)
    t = torch.linspace(0.0, 1.0, 3, device=CUDA)
    with pytest.raises(ConfigurationError, match="no_grad"):
        ode.solve(lambda t, y: -y, y0, t, cuda_graph=True)
    with torch.no_grad(), pytest.raises(ConfigurationError, match="dense output"):
        ode.solve(lambda t, y: -y, y0, t, method="dopri8", cuda_graph=True)
    with torch.no_grad(), pytest.raises(ConfigurationError, match="at most 16"):
        ode.solve(lambda t, y: -y, y0, torch.linspace(0.0, 1.0, 30, device=CUDA), cuda_graph=True)


@needs_cuda
@pytest.mark.parametrize("method", ["bosh3", "dopri5", "tsit5", "dop853"])
@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
def test_cuda_graph_matches_eager_loop(method: str, step_control: str) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 4)).double().to(CUDA)
    y0 = torch.randn(64, 4, dtype=torch.float64, device=CUDA)

    def field(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return net(y)  # type: ignore[no-any-return]

    t = torch.linspace(0.0, 3.0, 9, dtype=torch.float64, device=CUDA)
    with torch.no_grad():
        a = ode.solve(field, y0, t, method=method, rtol=1e-7, atol=1e-9,
                      step_control=step_control)  # fmt: skip
        b = ode.solve(field, y0, t, method=method, rtol=1e-7, atol=1e-9,
                      step_control=step_control, cuda_graph=True)  # fmt: skip
    torch.testing.assert_close(b.ys, a.ys, rtol=1e-12, atol=1e-12)
    assert b.stats.accepted == a.stats.accepted and b.stats.rejected == a.stats.rejected
    assert b.ok
    # the captured loop is reused for new initial states of the same shape
    y1 = torch.randn(64, 4, dtype=torch.float64, device=CUDA)
    with torch.no_grad():
        c = ode.solve(field, y1, t, method=method, rtol=1e-7, atol=1e-9,
                      step_control=step_control)  # fmt: skip
        d = ode.solve(field, y1, t, method=method, rtol=1e-7, atol=1e-9,
                      step_control=step_control, cuda_graph=True)  # fmt: skip
    torch.testing.assert_close(d.ys, c.ys, rtol=1e-12, atol=1e-12)


@needs_cuda
def test_cuda_graph_failure_as_data() -> None:
    y0 = torch.tensor([[0.5], [2.0], [1.0]], dtype=torch.float64, device=CUDA)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64, device=CUDA)
    sign = torch.tensor([[-1.0], [1.0], [-1.0]], dtype=torch.float64, device=CUDA)

    def diverging(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # capturable
        return sign * y * y

    with torch.no_grad():
        sol = ode.solve(diverging, y0, t, throw=False, max_steps=300, cuda_graph=True)
    assert sol.failed() == [1]
    torch.testing.assert_close(sol.ys[-1, [0, 2], 0].cpu(), torch.tensor([0.5 / 1.5, 0.5],
                               dtype=torch.float64), rtol=1e-5, atol=0)  # fmt: skip


def test_graphed_loop_is_reused_for_new_problems_of_the_same_shape() -> None:
    from neurosym.ode import _graphed
    from neurosym.ode._solve import resolve_method

    ts = torch.linspace(0.0, 5.0, 7, dtype=torch.float64).expand(6, -1)
    kw = dict(solver=resolve_method("dopri5"), controller=ode.PIDController(), rtol=1e-7,
              atol=1e-9, dt0=None, max_steps=10_000, joint=False, check_every=8,
              capture=False)  # fmt: skip
    y_a = _y0(torch.device("cpu"))
    y_b = torch.flip(y_a, dims=[0]) * 0.5
    _graphed.clear_cuda_graphs()
    with torch.no_grad():
        fresh = [_graphed.integrate_graphed(_field, y, ts, **kw) for y in (y_a, y_b)]  # type: ignore[arg-type]
        assert len(_graphed._CACHE) == 0
        cached = [_graphed.integrate_graphed(_field, y, ts, cache=True, **kw)  # type: ignore[arg-type]
                  for y in (y_a, y_b, y_a)]  # fmt: skip
    assert len(_graphed._CACHE) == 1
    for got, want in zip(cached, [*fresh, fresh[0]]):
        assert torch.equal(got.ys, want.ys) and torch.equal(got.status, want.status)
        assert (got.steps, got.nfe) == (want.steps, want.nfe)
    _graphed.clear_cuda_graphs()
    assert len(_graphed._CACHE) == 0


# Last: a failed capture may leave the device unusable for what follows it.
@needs_cuda
def test_cuda_graph_reports_a_field_it_cannot_capture() -> None:
    y0 = torch.ones(3, 1, device=CUDA)
    t = torch.linspace(0.0, 1.0, 3, device=CUDA)

    def host_made(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -torch.tensor([[1.0], [2.0], [3.0]], device=y.device) * y

    with torch.no_grad(), pytest.raises(ConfigurationError, match="could not be captured"):
        ode.solve(host_made, y0, t, cuda_graph=True)


@needs_cuda
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf:UserWarning")
@pytest.mark.parametrize("step_control", ["per_sample", "joint"])
def test_cuda_compiled_step_matches_eager(step_control: str) -> None:
    # compile=True on the device (Triton kernels): the eager device solve is the oracle,
    # gradients included.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2)).double().to(CUDA)

    def field(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return net(y) - 0.2 * y

    t = torch.linspace(0.0, 2.0, 5, dtype=torch.float64, device=CUDA)
    grads = []
    sols = []
    for compile in (False, True):
        y0 = _y0(CUDA).requires_grad_(True)
        sol = ode.solve(field, y0, t, rtol=1e-8, atol=1e-10, step_control=step_control,
                        compile=compile)  # fmt: skip
        sols.append(sol)
        grads.append(torch.autograd.grad(sol.ys.square().sum(), [y0, *net.parameters()]))
    torch.testing.assert_close(sols[1].ys, sols[0].ys, rtol=0, atol=1e-11)
    assert sols[1].stats.nfe == sols[0].stats.nfe
    for g_eager, g_compiled in zip(*grads, strict=True):
        torch.testing.assert_close(g_compiled, g_eager, rtol=1e-9, atol=1e-11)


@needs_cuda
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_cuda_solves_under_torch_func_match_the_cpu() -> None:
    # Under vmap the joint host-float loop runs on the device too (one read per step):
    # the mapped device solve equals the CPU's, and so do jacfwd / vmap(jacrev) Jacobians.
    y0s = torch.randn(3, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    t = torch.linspace(0.0, 2.0, 5, dtype=torch.float64)
    outs = []
    for dev in (torch.device("cpu"), CUDA):

        def run(y0: torch.Tensor, dev: torch.device = dev) -> torch.Tensor:
            return ode.solve(_field, y0, t.to(dev), rtol=1e-9, atol=1e-11).ys

        mapped = torch.func.vmap(run)(y0s.to(dev))
        jac = torch.func.vmap(torch.func.jacrev(lambda y, r=run: r(y[None])[-1, 0]))(y0s[0].to(dev))
        fwd = torch.func.jacfwd(lambda y, r=run: r(y)[-1])(y0s[0].to(dev))
        outs.append((mapped.cpu(), jac.cpu(), fwd.cpu()))
    for cpu, gpu in zip(*outs, strict=True):
        torch.testing.assert_close(gpu, cpu, rtol=0, atol=1e-11)
