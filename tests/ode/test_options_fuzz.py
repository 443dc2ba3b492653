"""Property tests: random combinations of every option of ``ode.solve`` and ``NeuralODE``.

Hypothesis draws a whole call — method, tolerances, ``dt0``, ``dt``/``steps``,
``max_steps`` (down to 1), ``step_control``, a controller, ``throw``, an event that may
fire, ``adjoint`` (with or without ``adjoint_params``), ``checkpoint``, ``check_every``
(1-16), ``cuda_graph`` (refused on the CPU), ``compact``, ``max_step`` (below or above
the span and ``dt0``), shared or per-sample times (2-6 entries, either direction, with
repeated entries or mixed directions that must be refused), NaN/inf in ``y0``, batch
1-4, dim 1-3, float32/float64 — on fields with closed forms:

* ``linear``: ``y' = A y``, ``y = expm(A s) y0`` with ``s = t - t0`` per sample;
* ``decay``: ``y' = -k y`` (``A = -k I``);
* ``module``: an ``nn.Module`` holding ``A`` as a parameter (the adjoint's default
  parameters).

Properties: (1) a call returns a ``Solution`` or raises ``ConfigurationError`` /
``SolverError``, nothing else; (2) a fully successful solve has shapes ``(T, batch,
dim)``, ``nfe >= 1``, at least ``ceil(span / max_step)`` accepted steps per sample under
``max_step``, and values within a generous bound of the closed form; (3) with
``throw=False`` a non-finite sample fails alone, the others still match; (4) the same call
twice gives identical results. ``NeuralODE`` construction + forward is fuzzed the same way.
``compile=True`` is left out (seconds per graph). ``FUZZ_SCALE=10 FUZZ_RANDOM=1`` for a
longer hunt with fresh examples.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from neurosym import ode
from neurosym.errors import ConfigurationError, SolverError

ADAPTIVE = ["bosh3", "dopri5", "tsit5", "dopri8", "dop853", "rodas3"]
FIXED = ["euler", "midpoint", "heun", "rk4"]
ORDER = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}
DTYPES = {"f32": torch.float32, "f64": torch.float64}
OK = (ConfigurationError, SolverError)
# (torch's forward-mode decompositions, loaded on first use by rodas3, script themselves.)
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)

# FUZZ_SCALE=10 runs ten times the examples (a longer hunt); FUZZ_RANDOM=1 draws fresh
# examples (CI keeps the fixed, derandomized ones).
SCALE = int(os.environ.get("FUZZ_SCALE", "1"))


def _settings(n: int) -> settings:
    return settings(
        max_examples=max(1, int(n * SCALE)),
        deadline=None,
        derandomize=os.environ.get("FUZZ_RANDOM", "0") != "1",
        suppress_health_check=[HealthCheck.too_slow],
    )


def _matrix(dim: int, seed: int, dtype: torch.dtype) -> Tensor:
    """A fixed matrix of spectral norm 0.8 (solutions grow at most like e^(0.8 s))."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, generator=g, dtype=torch.float64)
    a = 0.8 * a / torch.linalg.matrix_norm(a, ord=2).clamp_min(1e-12)
    return a.to(dtype)


class LinearModule(nn.Module):
    def __init__(self, a: Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a.clone())

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        return y @ self.a.T


@dataclass
class Case:
    field: str  # linear | decay | module
    method: str
    dtype: str
    batch: int
    dim: int
    times: list[list[float]]  # one row (shared) or one per sample
    shared: bool
    y0: list[list[float]]
    bad_sample: int | None  # index whose y0 is non-finite
    bad_value: float
    k: float
    rtol: float
    atol: float
    dt0: float | None
    dt: float | None
    steps: int | None
    max_steps: int
    step_control: str
    controller: str | None  # None | "pid" | "pi"
    throw: bool
    event_c: float | None
    adjoint: bool
    adjoint_params: bool
    adjoint_seminorm: bool
    checkpoint: bool
    check_every: int | None
    cuda_graph: bool
    compact: bool
    max_step: float | None
    grad: bool  # y0 requires grad
    param_grad: bool  # the field's tensor (k or A) requires grad


@st.composite
def _times(draw: st.DrawFn, batch: int) -> tuple[list[list[float]], bool]:
    shared = draw(st.sampled_from([True, True, False]))
    n = draw(st.integers(2, 6))
    rows = 1 if shared else batch
    reverse = draw(st.booleans())
    out = []
    for _ in range(rows):
        t0 = draw(st.sampled_from([0.0, 0.5, -1.0, 3.0]))
        span = draw(st.sampled_from([0.05, 0.3, 1.0, 2.0]))
        # Increments: mostly distinct, sometimes a repeated entry (must be refused).
        w = [
            draw(
                st.sampled_from([1.0, 1.0, 2.0, 0.1, 0.0 if draw(st.integers(0, 9)) == 7 else 1.0])
            )
            for _ in range(n - 1)
        ]
        total = sum(w) or 1.0
        ts = [t0]
        for wi in w:
            ts.append(ts[-1] + span * wi / total)
        if reverse:
            ts = [t0 - (x - t0) for x in ts]
        out.append(ts)
    if not shared and batch > 1 and draw(st.integers(0, 9)) == 7:
        out[-1] = [2 * out[-1][0] - x for x in out[-1]]  # mixed directions: refused
    return out, shared


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A call; combinations that must be refused are drawn, but rarely (1 in 8)."""

    def rare() -> bool:
        return draw(st.integers(0, 7)) == 5

    fld = draw(st.sampled_from(["linear", "decay", "module"]))
    fixed = draw(st.integers(0, 3)) == 2
    method = (
        draw(st.sampled_from(FIXED + ADAPTIVE))
        if fixed or rare()
        else draw(st.sampled_from(ADAPTIVE))
    )
    dtype = draw(st.sampled_from(["f32", "f64"]))
    batch = draw(st.integers(1, 4))
    dim = draw(st.integers(1, 3))
    times, shared = draw(_times(batch))
    y0 = [
        [draw(st.sampled_from([1.0, -0.5, 2.0, 0.3, -1.7])) for _ in range(dim)]
        for _ in range(batch)
    ]
    bad = draw(st.sampled_from([None, None, None, *range(batch)]))
    bad_value = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    tight = {"f32": [1e-3, 1e-5], "f64": [1e-3, 1e-6, 1e-8]}[dtype]
    rtol = draw(st.sampled_from(tight))
    atol = rtol * draw(st.sampled_from([1e-2, 1.0]))
    dt = steps = None
    if fixed:
        if draw(st.booleans()):
            dt = draw(st.sampled_from([1e-3, 0.01, 0.05, 0.5, 5.0]))
        else:
            steps = draw(st.sampled_from([1, 2, 7, 50, 400]))
        if rare():  # both: refused
            dt, steps = 0.1, 10
    step_control = draw(st.sampled_from(["auto", "auto", "per_sample", "joint"]))
    if step_control == "joint" and not shared and not rare():
        step_control = "auto"
    adjoint = draw(st.integers(0, 7)) == 5
    checkpoint = draw(st.integers(0, 7)) == 4
    if adjoint and checkpoint and not rare():
        checkpoint = False
    event_c = draw(st.sampled_from([None, None, 0.9, 0.5, 1.2, -0.2]))
    if event_c is not None and (fixed or adjoint or checkpoint) and not rare():
        event_c = None
    compact = draw(st.integers(0, 5)) == 3
    check_every = draw(st.sampled_from([None, None, 1, 2, 5, 16]))
    if compact and (check_every not in (None, 1) or step_control == "joint") and not rare():
        check_every = None
        step_control = "per_sample"
    max_step = draw(st.sampled_from([None, None, None, 0.02, 0.04, 0.25, 1.0, 50.0]))
    if fixed and not rare():
        max_step = None
    return Case(
        field=fld,
        method=method,
        dtype=dtype,
        batch=batch,
        dim=dim,
        times=times,
        shared=shared,
        y0=y0,
        bad_sample=bad,
        bad_value=bad_value,
        k=draw(st.sampled_from([0.1, 0.7, 1.5])),
        rtol=rtol,
        atol=atol,
        dt0=draw(st.sampled_from([None, None, 1e-4, 0.01, 0.3, 10.0])),
        dt=dt,
        steps=steps,
        max_steps=draw(st.sampled_from([10_000, 10_000, 500, 1, 2, 3])),
        step_control=step_control,
        controller=draw(st.sampled_from([None, None, "pid", "pi"])),
        throw=draw(st.booleans()),
        event_c=event_c,
        adjoint=adjoint,
        adjoint_params=draw(st.booleans()),
        adjoint_seminorm=draw(st.booleans()),
        checkpoint=checkpoint,
        check_every=check_every,
        cuda_graph=draw(st.integers(0, 19)) == 7,
        compact=compact,
        max_step=max_step,
        grad=draw(st.integers(0, 3)) == 2,
        param_grad=draw(st.integers(0, 3)) == 2,
    )


def _build(case: Case) -> tuple[Any, Tensor, Tensor, Tensor, list[Tensor]]:
    """The field, y0, t, the matrix A of the closed form and candidate adjoint params."""
    dtype = DTYPES[case.dtype]
    if case.field == "decay":
        k = torch.tensor(case.k, dtype=dtype, requires_grad=case.param_grad)
        a = -case.k * torch.eye(case.dim, dtype=dtype)

        def f(t: Tensor, y: Tensor) -> Tensor:
            return -k * y

        params = [k]
    elif case.field == "linear":
        a = _matrix(case.dim, case.dim, dtype)
        am = a.clone().requires_grad_(case.param_grad)

        def f(t: Tensor, y: Tensor) -> Tensor:
            return y @ am.T

        params = [am]
    else:
        a = _matrix(case.dim, 10 + case.dim, dtype)
        mod = LinearModule(a)
        f = mod  # type: ignore[assignment]
        params = list(mod.parameters())
    y0 = torch.tensor(case.y0, dtype=dtype)
    if case.bad_sample is not None:
        y0[case.bad_sample, 0] = case.bad_value
    if case.grad:
        y0.requires_grad_(True)
    t = torch.tensor(case.times if not case.shared else case.times[0], dtype=dtype)
    return f, y0, t, a, params


def _kwargs(case: Case, params: list[Tensor]) -> dict[str, Any]:
    controller = {None: None, "pid": ode.PIDController(), "pi": ode.PIController()}[case.controller]
    event = None
    if case.event_c is not None:
        c = case.event_c

        def event(t: Tensor, y: Tensor) -> Tensor:
            return y[:, 0] - c

    return dict(
        method=case.method,
        rtol=case.rtol,
        atol=case.atol,
        dt0=case.dt0,
        dt=case.dt,
        steps=case.steps,
        max_steps=case.max_steps,
        step_control=case.step_control,
        controller=controller,
        throw=case.throw,
        event=event,
        adjoint=case.adjoint,
        adjoint_params=params if case.adjoint_params else None,
        adjoint_seminorm=case.adjoint_seminorm,
        checkpoint=case.checkpoint,
        check_every=case.check_every,
        cuda_graph=case.cuda_graph,
        compact=case.compact,
        max_step=case.max_step,
    )


def _exact(a: Tensor, y0: Tensor, s: Tensor) -> Tensor:
    """``expm(A s) y0`` for s ``(T, batch)``: ``(T, batch, dim)`` in float64."""
    a64, y64 = a.double(), y0.detach().double()
    m = torch.linalg.matrix_exp(
        (a64 * s.double()[..., None, None]).contiguous()
    )  # (T, batch, dim, dim)
    return (m @ y64[None, :, :, None])[..., 0]


def _rows_times(t: Tensor, batch: int) -> Tensor:
    return (t.expand(batch, -1) if t.ndim == 1 else t).double()  # (batch, T)


def _bound(case: Case, row: list[float], scale: float) -> float:
    """A generous bound on the error against the closed form, for a sample with output
    times ``row``."""
    big = abs(row[-1] - row[0])
    growth = math.exp(2 * 0.8 * big + 0.2) * (1 + 0.8 * big)
    lo = 1e-9 if case.dtype == "f64" else 2e-4
    if case.dt is not None or case.steps is not None:
        p = ORDER.get(case.method, 3)
        widths = [abs(b - a) for a, b in itertools.pairwise(row)]
        if case.dt is not None:
            h = case.dt
        else:
            assert case.steps is not None
            # Each interval gets at least its share of the steps (and at least one).
            h = max(w / max(1, math.floor(case.steps * w / big)) for w in widths)
        lh = 0.8 * min(h, max(widths))
        return growth * scale * (lh**p + lo) + lo * scale
    return growth * scale * (200 * case.rtol + 200 * case.atol / scale) + 50 * lo * scale


def _identical(a: Tensor | None, b: Tensor | None) -> bool:
    if a is None or b is None:
        return a is b
    return bool(
        torch.equal(
            torch.nan_to_num(a.detach(), 7.0, 8.0, 9.0), torch.nan_to_num(b.detach(), 7.0, 8.0, 9.0)
        )
    )


def _detached(sol: ode.Solution) -> ode.Solution:
    return ode.Solution(
        ts=sol.ts,
        ys=sol.ys.detach(),
        status=sol.status,
        stats=sol.stats,
        t_final=sol.t_final.detach(),
        y_final=sol.y_final.detach(),
        event_t=None if sol.event_t is None else sol.event_t.detach(),
    )


def _refused_reason(case: Case) -> str | None:
    """Combinations that the rules say must be refused (with ConfigurationError)."""
    if case.cuda_graph:
        return "cuda_graph on the CPU"
    for row in case.times:
        d = [b - a for a, b in itertools.pairwise(row)]
        if any(x == 0 for x in d):
            return "repeated time"
    signs = {x > 0 for row in case.times for x in (b - a for a, b in itertools.pairwise(row))}
    if len(signs) > 1:
        return "mixed directions"
    if case.dt is not None and case.steps is not None:
        return "dt and steps"
    if case.max_step is not None and (case.dt is not None or case.steps is not None):
        return "max_step with fixed steps"
    return None


def _check_solution(case: Case, sol: ode.Solution, y0: Tensor, t: Tensor, a: Tensor) -> None:
    n_t = t.shape[-1]
    assert isinstance(sol, ode.Solution)
    sol = _detached(sol)
    assert sol.ys.shape == (n_t, case.batch, case.dim), sol.ys.shape
    assert sol.status.shape == (case.batch,)
    assert sol.stats.nfe >= 1
    rows = _rows_times(t, case.batch)  # (batch, T)
    s = (rows - rows[:, :1]).T  # (T, batch)
    exact = _exact(a, y0, s)
    ys = sol.ys.detach().double()
    finite = torch.isfinite(y0.detach()).all(-1)
    good = sol.success & finite
    if case.bad_sample is not None:
        assert not bool(sol.success[case.bad_sample]), "a non-finite y0 sample reported SUCCESS"
    for b in range(case.batch):
        if not bool(good[b]):
            continue
        scale = float(y0[b].detach().abs().max()) + 1e-3
        bound = _bound(case, case.times[0 if case.shared else b], scale)
        mask = torch.ones(n_t, dtype=torch.bool)
        if sol.event_t is not None and bool(torch.isfinite(sol.event_t[b])):
            te = float(sol.event_t[b]) - float(rows[b, 0])
            # Values up to the event; the state there is on the event surface.
            sb = s[:, b]
            mask = sb.abs() < abs(te) - 1e-9
            ye = _exact(a, y0[b : b + 1], torch.tensor([[te]], dtype=torch.float64))[0, 0]
            err_e = float((sol.y_final[b].detach().double() - ye).abs().max())
            assert err_e <= bound * 10, f"state at the event off by {err_e:.3g} (bound {bound:.3g})"
            assert abs(float(sol.y_final[b, 0]) - case.event_c) <= bound * 10  # type: ignore[operator]
            after = sb.abs() > abs(te) + 1e-6
            assert bool(ys[after, b].isnan().all()), "values after a terminal event must be NaN"
        err = float((ys[mask, b] - exact[mask, b]).abs().max()) if bool(mask.any()) else 0.0
        assert err <= bound, f"sample {b}: error {err:.3g} > bound {bound:.3g}"
    if case.max_step is not None:
        for b in range(case.batch):
            if not bool(good[b]):
                continue
            span = abs(float(sol.t_final[b]) - float(rows[b, 0]))
            need = math.ceil(span / case.max_step - 1e-6)
            got = int(sol.stats.accepted_per_sample[b])
            assert got >= need, (
                f"sample {b}: {got} accepted steps over {span} with max_step {case.max_step}"
            )


def assert_case_holds(case: Case) -> None:
    f, y0, t, a, params = _build(case)
    kwargs = _kwargs(case, params)
    refused = _refused_reason(case)
    try:
        sol = ode.solve(f, y0, t, **kwargs)
    except ConfigurationError:
        return
    except SolverError as err:
        assert refused is None, f"{refused} must be a ConfigurationError: {err}"
        assert case.throw
        sol = err.solution
        assert isinstance(sol, ode.Solution)
        assert not sol.ok
        return
    assert refused is None, f"{refused} must be refused"
    assert case.throw is False or sol.ok
    _check_solution(case, sol, y0, t, a)
    # Determinism: the same call again.
    f2, y02, t2, _, params2 = _build(case)
    again = ode.solve(f2, y02, t2, **_kwargs(case, params2))
    for name in ("ys", "status", "t_final", "y_final", "event_t"):
        assert _identical(getattr(sol, name), getattr(again, name)), f"{name} differs between runs"
    assert sol.stats.nfe == again.stats.nfe and sol.stats.steps == again.stats.steps
    assert torch.equal(sol.stats.accepted_per_sample, again.stats.accepted_per_sample)
    if not case.throw and case.bad_sample is not None:
        # Failure stays per sample: the finite samples end as they do without the bad one.
        clean = Case(**{**case.__dict__, "bad_sample": None})
        f3, y03, t3, _, params3 = _build(clean)
        ref = ode.solve(f3, y03, t3, **_kwargs(clean, params3))
        keep = [i for i in range(case.batch) if i != case.bad_sample]
        assert sol.status[keep].tolist() == ref.status[keep].tolist(), (
            f"statuses of the finite samples {sol.status.tolist()} against "
            f"{ref.status.tolist()} without the non-finite one"
        )
    # Backward through whatever the solve differentiates.
    if sol.ok and sol.ys.requires_grad:
        with contextlib.suppress(OK):
            sol.ys.sum().backward()


@_settings(220)
@given(cases())
def test_solve_options(case: Case) -> None:
    try:
        assert_case_holds(case)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{case}") from err
    except OK:
        raise
    except Exception as err:
        raise AssertionError(f"{type(err).__name__}: {err}\n{case}") from err


@_settings(150)
@given(cases())
def test_neural_ode_options(case: Case) -> None:
    dtype = DTYPES[case.dtype]
    mod = LinearModule(_matrix(case.dim, 10 + case.dim, dtype))
    y0 = torch.tensor(case.y0, dtype=dtype)
    if case.bad_sample is not None:
        y0[case.bad_sample, 0] = case.bad_value
    t = torch.tensor(case.times if not case.shared else case.times[0], dtype=dtype)
    try:
        node = ode.NeuralODE(
            mod,
            method=case.method,  # type: ignore[arg-type]
            rtol=case.rtol,
            atol=case.atol,
            adjoint=case.adjoint,
            checkpoint=case.checkpoint,
            step_control=case.step_control,  # type: ignore[arg-type]
            max_steps=case.max_steps,
            throw=case.throw,
            compact=case.compact,
            steps=case.steps,
            dt=case.dt,
            max_step=case.max_step,
        )
        sol = node(y0, t)
    except OK:
        return
    except Exception as err:
        raise AssertionError(f"{type(err).__name__}: {err}\n{case}") from err
    case2 = Case(**{**case.__dict__, "field": "module", "cuda_graph": False, "event_c": None})
    _check_solution(case2, sol, y0, t, mod.a.detach())


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
