"""Property tests: every way of differentiating ``ode.solve`` against closed forms.

Hypothesis draws a configuration (method, step control, shared or per-sample times,
increasing or decreasing, 2-6 output times, batch 1-4, dim 1-3, ``dt0``, an event that
may fire, ``checkpoint``, ``compact``) on fields with independent closed forms, with
``s = t - t0`` the time since each sample's start:

* linear ``y' = A y``: ``y = expm(A s) y0``, ``dy/dy0 = expm(A s)``;
* Riccati ``y' = -k y²`` (``y0 > 0``, increasing ``t`` only): ``y = y0 / D`` with
  ``D = 1 + k y0 s``, ``dy/dy0 = 1 / D²``, ``dy/dk = -y0² s / D²``; the event
  ``y = c`` (``c < y0``) fires at ``s* = (1/c - 1/y0) / k``: ``ds*/dy0 = 1 / (k y0²)``,
  ``ds*/dk = -s* / k``;
* logistic ``y' = r (y - y²)`` (``0 < y0 < 1``): with ``u = exp(r s)`` and
  ``D = 1 - y0 + y0 u``, ``y = y0 u / D``, ``dy/dy0 = u / D²``,
  ``dy/dr = y0 (1 - y0) s u / D²``; the event ``y = c`` fires at
  ``s* = ln(c (1 - y0) / (y0 (1 - c))) / r``: ``ds*/dy0 = -1 / (r y0 (1 - y0))``,
  ``ds*/dr = -s* / r``;
* a time-dependent ``y' = w cos(t) y``: ``y = y0 exp(w (sin t - sin t0))``,
  ``dy/dy0 = exp(w (sin t - sin t0))``, ``dy/dw = y (sin t - sin t0)``.

For each configuration the values, reverse mode (``torch.autograd.grad``, and the
adjoint where it runs), forward mode (``torch.func.jvp``, ``torch.autograd.forward_ad``),
``jacrev``, ``jacfwd`` and ``hessian`` (second derivatives wrt ``y0``) must agree with
the closed form, and with each other to round-off where they differentiate the same
steps; ``vmap`` over initial states must equal the unmapped solve of the flattened batch
under joint control. Combinations that do not run must raise ``ConfigurationError``
(never another exception).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
import torch.autograd.forward_ad as fwad
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from torch import Tensor

from neurosym import ode
from neurosym.errors import ConfigurationError

F64 = torch.float64
ADAPTIVE = ["bosh3", "dopri5", "tsit5", "dopri8", "dop853", "rodas3"]
FIXED = ["euler", "midpoint", "heun", "rk4"]
# Fixed steps over the whole span, and the closed-form tolerance that buys.
FIXED_STEPS = {"euler": 1500, "midpoint": 300, "heun": 300, "rk4": 60}
FIXED_TOL = {"euler": 5e-3, "midpoint": 2e-4, "heun": 2e-4, "rk4": 2e-6}
# Third-order methods at tight tolerances take thousands of steps (rodas3 a Jacobian each).
TOLERANCES = {"bosh3": {"rtol": 1e-8, "atol": 1e-10}, "rodas3": {"rtol": 1e-6, "atol": 1e-8}}
# FUZZ_SCALE=10 runs ten times the examples (a longer hunt); FUZZ_SHRINK=0 skips shrinking.
SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
# FUZZ_RANDOM=1 draws new examples each run (CI keeps the fixed, derandomized ones).
DERANDOMIZE = os.environ.get("FUZZ_RANDOM", "0") != "1"
PHASES = (
    tuple(Phase) if os.environ.get("FUZZ_SHRINK", "1") == "1" else (Phase.explicit, Phase.generate)
)
# (torch's forward-mode decompositions, loaded on first use, script themselves.)
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)


@dataclass(frozen=True)
class Case:
    field: str  # linear | riccati | logistic | cosine
    method: str
    control: str
    per_sample: bool
    reverse: bool
    n_times: int
    batch: int
    dim: int
    dt0: float | None
    use_dt: bool  # fixed steps: dt= instead of steps=
    event_c: float | None
    checkpoint: bool
    compact: bool
    seed: int

    @property
    def fixed(self) -> bool:
        return self.method in FIXED

    @property
    def closed_tol(self) -> float:
        if self.fixed:
            return FIXED_TOL[self.method]
        return {"bosh3": 2e-5, "rodas3": 2e-4}.get(self.method, 1e-6)

    def options(self, span: float) -> dict[str, object]:
        opts: dict[str, object] = {"method": self.method}
        if self.fixed:
            n = FIXED_STEPS[self.method]
            if self.use_dt:
                opts["dt"] = span / n
            else:
                opts["steps"] = n
        else:
            opts.update(TOLERANCES.get(self.method, {"rtol": 1e-10, "atol": 1e-12}))
            if self.dt0 is not None:
                opts["dt0"] = self.dt0
        opts["step_control"] = self.control
        if self.compact:
            opts["compact"] = True
        if self.checkpoint:
            opts["checkpoint"] = True
        return opts


@st.composite
def cases(draw: st.DrawFn, *, events: bool = True, mapped: bool = False) -> Case:
    # mapped: mostly configurations that run under vmap (a quarter drawn from all)
    mapped = mapped and draw(st.integers(0, 3)) > 0
    method = draw(st.sampled_from([m for m in ADAPTIVE + FIXED if not mapped or m != "rodas3"]))
    fields = ["linear", "logistic", "cosine"]
    if method != "rodas3":  # exact on the pure quadratic: see the module docstring
        fields.append("riccati")
    field = draw(st.sampled_from(fields))
    reverse = False if field == "riccati" else draw(st.booleans())
    adaptive = method not in FIXED
    per_sample = not (mapped and adaptive) and draw(st.booleans())
    controls = ["auto"] + ([] if mapped and adaptive else ["per_sample"]) + (
        [] if per_sample else ["joint"])  # fmt: skip
    control = draw(st.sampled_from(controls))
    compact = control != "joint" and not mapped and draw(st.booleans())
    event_c = None
    if events and adaptive and field in ("riccati", "logistic") and draw(st.booleans()):
        event_c = draw(st.floats(0.2, 0.8))
    checkpoint = event_c is None and draw(st.booleans())
    return Case(
        field=field,
        method=method,
        control=control,
        per_sample=per_sample,
        reverse=reverse,
        n_times=draw(st.integers(2, 6)),
        batch=draw(st.integers(1, 4)),
        dim=draw(st.integers(1, 3)),
        dt0=draw(st.sampled_from([None, None, 1e-3, 0.05])) if adaptive else None,
        use_dt=draw(st.booleans()),
        event_c=event_c,
        checkpoint=checkpoint,
        compact=compact,
        seed=draw(st.integers(0, 2**16)),
    )


@dataclass
class Problem:
    y0: Tensor  # (B, D)
    t: Tensor  # (T,) or (B, T), as passed to solve
    times: Tensor  # (B, T)
    p: Tensor  # (D,) parameter (unused by the linear field)
    A: Tensor  # (D, D)
    span: float


def problem(case: Case) -> Problem:
    g = torch.Generator().manual_seed(case.seed)

    def u(*shape: int, lo: float = 0.0, hi: float = 1.0) -> Tensor:
        return lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=F64)

    b, d, n = case.batch, case.dim, case.n_times
    if case.field in ("riccati",):
        y0 = u(b, d, lo=0.5, hi=2.0)
    elif case.field == "logistic":
        y0 = u(b, d, lo=0.15, hi=0.85)
    else:
        y0 = u(b, d, lo=-1.5, hi=1.5)
    p = {
        "riccati": lambda: u(d, lo=0.3, hi=1.5),
        "logistic": lambda: u(d, lo=0.5, hi=2.0),
        "cosine": lambda: u(d, lo=-1.5, hi=1.5),
        "linear": lambda: torch.zeros(d, dtype=F64),
    }[case.field]()
    a = u(d, d, lo=-1.0, hi=1.0) - 0.3 * torch.eye(d, dtype=F64)
    rows = 1 if not case.per_sample else b
    start = u(rows, 1, lo=-0.5, hi=0.5)
    span = u(rows, 1, lo=0.4, hi=1.5)
    inner = torch.sort(u(rows, n - 2, lo=0.05, hi=0.95), dim=1).values
    frac = torch.cat([torch.zeros(rows, 1, dtype=F64), inner, torch.ones(rows, 1, dtype=F64)], 1)
    times = start + (-span if case.reverse else span) * frac
    t = times if case.per_sample else times[0]
    return Problem(y0, t, times.expand(b, n).contiguous(), p, a, float(span.max()))


def make_field(case: Case, pr: Problem, p: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
    if case.field == "linear":
        a = pr.A
        return lambda t, y: y @ a.T
    if case.field == "riccati":
        return lambda t, y: -p * y * y
    if case.field == "logistic":
        return lambda t, y: p * (y - y * y)
    return lambda t, y: p * torch.cos(t) * y


def second_derivative(case: Case, pr: Problem) -> Tensor:
    """``d²y_i/dy0_i²`` ``(T, B, D)`` (every other second derivative wrt ``y0`` vanishes):
    ``-2 k s / D³`` (Riccati), ``-2 u (u - 1) / D³`` (logistic), 0 (linear, cosine)."""
    s = (pr.times - pr.times[:, :1]).T[:, :, None]
    y0, p = pr.y0[None], pr.p
    if case.field == "riccati":
        return -2 * p * s / (1 + p * y0 * s) ** 3
    if case.field == "logistic":
        e = torch.exp(p * s)
        return -2 * e * (e - 1) / (1 - y0 + y0 * e) ** 3
    return torch.zeros_like(s * y0)


def closed_form(case: Case, pr: Problem) -> tuple[Tensor, Tensor, Tensor]:
    """Values ``(T, B, D)``, Jacobians wrt ``y0`` per sample ``(T, B, D, D)`` and
    derivatives wrt the parameter per component ``(T, B, D)``."""
    s = (pr.times - pr.times[:, :1]).T[:, :, None]  # (T, B, 1)
    y0, p = pr.y0[None], pr.p
    eye = torch.eye(case.dim, dtype=F64)
    if case.field == "linear":
        phi = torch.linalg.matrix_exp((pr.A * s[..., None]).contiguous())  # (T, B, D, D)
        ys = (phi @ pr.y0[None, :, :, None])[..., 0]
        return ys, phi, torch.zeros_like(ys)
    if case.field == "riccati":
        den = 1 + p * y0 * s
        ys, dy0, dp = y0 / den, 1 / den**2, -(y0**2) * s / den**2
    elif case.field == "logistic":
        e = torch.exp(p * s)
        den = 1 - y0 + y0 * e
        ys, dy0, dp = y0 * e / den, e / den**2, y0 * (1 - y0) * s * e / den**2
    else:
        ds = (torch.sin(pr.times) - torch.sin(pr.times[:, :1])).T[:, :, None]
        e = torch.exp(p * ds)
        ys, dy0, dp = y0 * e, e, y0 * e * ds
    return ys, dy0[..., None] * eye, dp


def closed_event(case: Case, pr: Problem) -> tuple[Tensor, Tensor, Tensor]:
    """Event times ``(B,)`` (NaN where the event does not fire inside the span) and their
    derivatives wrt ``y0[:, 0]`` and ``p[0]``."""
    c = case.event_c
    assert c is not None
    y0, p = pr.y0[:, 0], pr.p[0]
    if case.field == "riccati":
        s = (1 / c - 1 / y0) / p
        ds_y0, ds_p = 1 / (p * y0**2), -s / p
    else:
        s = torch.log(c * (1 - y0) / (y0 * (1 - c))) / p
        ds_y0, ds_p = -1 / (p * y0 * (1 - y0)), -s / p
    width = pr.times[:, -1] - pr.times[:, 0]
    fires = (s * width.sign() > 0) & (s.abs() < width.abs())
    nan = torch.full_like(s, math.nan)
    return torch.where(fires, pr.times[:, 0] + s, nan), ds_y0, ds_p


def near_edge(case: Case, pr: Problem) -> bool:
    """Whether an event lands within a small distance of the span's ends or an output
    time (where whether it fired there is a coin toss of round-off)."""
    if case.event_c is None:
        return False
    c = case.event_c
    y0, p = pr.y0[:, 0], pr.p[0]
    if case.field == "riccati":
        s = (1 / c - 1 / y0) / p
    else:
        s = torch.log(c * (1 - y0) / (y0 * (1 - c))) / p
    t_star = pr.times[:, 0] + s
    return bool(((pr.times - t_star[:, None]).abs() < 1e-3).any())


def check_close(got: Tensor, want: Tensor, tol: float, what: str) -> None:
    torch.testing.assert_close(
        got, want, rtol=tol, atol=tol, equal_nan=True, msg=lambda m: f"{what}: {m}"
    )


def check_refused(run: Callable[[], object], what: str) -> None:
    try:
        run()
    except ConfigurationError:
        return
    raise AssertionError(f"{what}: expected ConfigurationError, the call ran")


@settings(
    max_examples=SCALE * 40,
    deadline=None,
    derandomize=DERANDOMIZE,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(case=cases())
def test_every_derivative_matches_the_closed_form(case: Case) -> None:
    pr = problem(case)
    if near_edge(case, pr):
        return
    opts = case.options(pr.span)
    ys_cf, jac_cf, dp_cf = closed_form(case, pr)
    tol = case.closed_tol
    event = None
    if case.event_c is not None:
        c = case.event_c
        event = lambda t, y: y[:, 0] - c  # noqa: E731
        et_cf, et_dy0, et_dp = closed_event(case, pr)
        fired = ~torch.isnan(et_cf)
        # after the event the entries are NaN
        after = fired[None, :] & (
            (pr.times.T - et_cf[None, :]) * (pr.times.T[-1] - pr.times.T[0]) > 0
        )
        ys_cf = torch.where(after[..., None], math.nan, ys_cf)

    def run(y0: Tensor, p: Tensor, **extra: object) -> ode.Solution:
        return ode.solve(make_field(case, pr, p), y0, pr.t, event=event, **opts, **extra)  # type: ignore[arg-type]

    # values
    y0 = pr.y0.clone().requires_grad_(True)
    p = pr.p.clone().requires_grad_(True)
    sol = run(y0, p)
    check_close(sol.ys.detach(), ys_cf, tol, "values")
    valid = ~torch.isnan(ys_cf)

    # reverse mode: a random cotangent over the valid entries (and the event times)
    g = torch.Generator().manual_seed(case.seed + 1)
    w = torch.randn(ys_cf.shape, generator=g, dtype=F64)
    v_y0 = torch.randn(pr.y0.shape, generator=g, dtype=F64)
    v_p = torch.randn(pr.p.shape, generator=g, dtype=F64)
    loss = (w * torch.where(valid, sol.ys, 0.0)).sum()
    we = torch.randn(case.batch, generator=g, dtype=F64)
    if event is not None:
        assert sol.event_t is not None
        check_close(sol.event_t.detach(), et_cf, tol, "event times")
        loss = loss + (we * torch.where(fired, sol.event_t, 0.0)).sum()
    gy0, gp = torch.autograd.grad(loss, (y0, p), allow_unused=True)
    gp = torch.zeros_like(pr.p) if gp is None else gp
    wv = torch.where(valid, w, 0.0)
    want_gy0 = torch.einsum("tbi,tbij->bj", wv, jac_cf)
    want_gp = torch.einsum("tbi,tbi->i", wv, dp_cf)
    if event is not None:
        e_w = torch.where(fired, we, 0.0)
        want_gy0[:, 0] += e_w * et_dy0
        want_gp[0] += (e_w * et_dp).sum()
    check_close(gy0, want_gy0, 10 * tol, "reverse mode, y0")
    check_close(gp, want_gp, 10 * tol, "reverse mode, parameter")

    # forward mode, y0 and parameter together: <w, J v> must equal <J^T w, v> to round-off
    want_tan = torch.einsum("tbij,bj->tbi", jac_cf, v_y0) + dp_cf * v_p
    if case.checkpoint and case.method == "rodas3":
        # its Jacobians' jacfwd (torch.func) under checkpoint's hooks cannot nest in forward_ad
        with fwad.dual_level():
            check_refused(
                lambda: run(fwad.make_dual(pr.y0, v_y0), pr.p), "rodas3 checkpoint forward_ad"
            )
        with torch.no_grad():  # the tangents from torch.func.jvp instead
            _, tan = torch.func.jvp(lambda y, q: run(y, q).ys, (pr.y0, pr.p), (v_y0, v_p))
        e_tan = None
    else:
        with fwad.dual_level():
            fsol = run(fwad.make_dual(pr.y0, v_y0), fwad.make_dual(pr.p, v_p))
            tan = fwad.unpack_dual(fsol.ys).tangent
            e_tan = None if fsol.event_t is None else fwad.unpack_dual(fsol.event_t).tangent
    assert tan is not None
    check_close(torch.where(valid, tan, math.nan), ys_cf * 0 + want_tan, 10 * tol, "forward_ad")
    same_steps = float((w * torch.where(valid, tan, 0.0)).sum())
    pairing = float((gy0 * v_y0).sum() + (gp * v_p).sum())
    if event is not None:
        if e_tan is None:  # a NaN constant: nothing fired
            assert not bool(fired.any()), "forward_ad: event time without a tangent"
            e_tan = torch.zeros_like(et_cf)
        want_et = torch.where(fired, et_dy0 * v_y0[:, 0] + et_dp * v_p[0], math.nan)
        check_close(torch.where(fired, e_tan, math.nan), want_et, 10 * tol, "forward_ad event")
        same_steps += float((we * torch.where(fired, e_tan, 0.0)).sum())
    assert abs(same_steps - pairing) <= 1e-9 * (1 + abs(pairing)), (same_steps, pairing)

    # torch.func.jvp: the same tangent as forward_ad (checkpoint runs in forward mode)
    def ys_of(y: Tensor, q: Tensor) -> Tensor:
        return run(y, q).ys

    _, jtan = torch.func.jvp(ys_of, (pr.y0, pr.p), (v_y0, v_p))
    check_close(jtan, tan, 1e-10, "torch.func.jvp against forward_ad")

    # jacrev wrt y0: refused with checkpoint
    def ys_y0(y: Tensor) -> Tensor:
        return torch.nan_to_num(run(y, pr.p).ys, nan=0.0)

    full_cf = torch.einsum("tbij,bc->tbicj", jac_cf, torch.eye(case.batch, dtype=F64))
    full_cf = torch.where(valid[..., None, None], full_cf, 0.0)
    if case.checkpoint:
        check_refused(lambda: torch.func.jacrev(ys_y0)(pr.y0), "jacrev with checkpoint")
        jr = None
    else:
        jr = torch.func.jacrev(ys_y0)(pr.y0)
        check_close(jr, full_cf, 10 * tol, "jacrev")
        jv = torch.einsum("tbicj,cj->tbi", jr, v_y0)
        with fwad.dual_level():
            tan_y0 = fwad.unpack_dual(run(fwad.make_dual(pr.y0, v_y0), pr.p).ys).tangent
        assert tan_y0 is not None
        check_close(jv, torch.nan_to_num(tan_y0, nan=0.0), 1e-9, "jacrev against forward_ad")

    # jacfwd (a vmap): per-sample loops, compaction, events and adaptive rodas3 are refused
    refused = not case.fixed and (
        case.control == "per_sample"
        or case.per_sample
        or case.compact
        or event is not None
        or case.method == "rodas3"
    )
    refused = refused or (case.fixed and (case.compact or event is not None))
    if refused:
        check_refused(lambda: torch.func.jacfwd(ys_y0)(pr.y0), "jacfwd")
    else:
        jf = torch.func.jacfwd(ys_y0)(pr.y0)
        check_close(jf, full_cf, 10 * tol, "jacfwd")
        if jr is not None and (case.fixed or case.control == "joint" or case.method != "rodas3"):
            # the same (joint) steps: round-off apart
            check_close(jf, jr, 1e-9, "jacfwd against jacrev")
        if not case.checkpoint and case.batch * case.dim <= 6:
            # hessian (jacfwd of jacrev) of <w, ys>: diagonal for these fields
            hess = torch.func.hessian(lambda y: (wv * ys_y0(y)).sum())(pr.y0)
            want_h = torch.diag_embed((wv * second_derivative(case, pr)).sum(0))
            want_h = torch.einsum("bij,bc->bicj", want_h, torch.eye(case.batch, dtype=F64))
            check_close(hess, want_h, 100 * tol, "hessian")

    # adjoint: reverse mode only, shared t, no events or checkpoint
    if event is None and not case.checkpoint and not case.per_sample:
        q = pr.p.clone().requires_grad_(True)
        y0a = pr.y0.clone().requires_grad_(True)
        try:
            asol = run(y0a, q, adjoint=True, adjoint_params=[q])
        except ConfigurationError:
            assert case.method == "rodas3", "adjoint refused"
            return
        ga_y0, ga_p = torch.autograd.grad((w * asol.ys).sum(), (y0a, q), allow_unused=True)
        ga_p = torch.zeros_like(pr.p) if ga_p is None else ga_p
        check_close(ga_y0, want_gy0, 10 * tol, "adjoint, y0")
        check_close(ga_p, want_gp, 10 * tol, "adjoint, parameter")
        with fwad.dual_level():
            check_refused(
                lambda: run(fwad.make_dual(pr.y0, v_y0), pr.p, adjoint=True),
                "adjoint under forward_ad",
            )
        check_refused(
            lambda: torch.func.jacrev(lambda y: run(y, pr.p, adjoint=True).ys)(pr.y0),
            "adjoint under jacrev",
        )


@settings(
    max_examples=SCALE * 30,
    deadline=None,
    derandomize=DERANDOMIZE,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=cases(events=False, mapped=True), members=st.integers(1, 3))
def test_vmap_over_initial_states_equals_the_flat_joint_solve(case: Case, members: int) -> None:
    pr = problem(case)
    opts = case.options(pr.span)
    g = torch.Generator().manual_seed(case.seed + 2)
    y0s = pr.y0 + 0.05 * torch.rand((members, *pr.y0.shape), generator=g, dtype=F64)
    f = make_field(case, pr, pr.p)

    def one(y: Tensor) -> Tensor:
        return ode.solve(f, y, pr.t, **opts).ys  # type: ignore[arg-type]

    refused = case.compact or (
        not case.fixed
        and (case.control == "per_sample" or case.per_sample or case.method == "rodas3")
    )
    if refused:
        check_refused(lambda: torch.func.vmap(one)(y0s), "vmap")
        return
    mapped = torch.func.vmap(one)(y0s)
    flat_opts = dict(opts)
    if not case.fixed:
        flat_opts["step_control"] = "joint"
    t_flat = pr.t.repeat(members, 1) if case.per_sample else pr.t
    flat = ode.solve(f, y0s.reshape(-1, case.dim), t_flat, **flat_opts).ys  # type: ignore[arg-type]
    as_flat = mapped.permute(1, 0, 2, 3).reshape(flat.shape)
    check_close(as_flat, flat, 1e-12, "vmap against the flattened joint solve")
    for m in range(members):
        one_pr = Problem(y0s[m], pr.t, pr.times, pr.p, pr.A, pr.span)
        check_close(mapped[m], closed_form(case, one_pr)[0], case.closed_tol, "vmap values")


def test_rodas3_backpropagates_through_checkpointed_intervals() -> None:
    # Regression: rodas3's Jacobians (torch.func.jacrev) raised torch's "saved tensor
    # hooks" RuntimeError inside checkpoint=True's recomputed intervals. y' = -k y has
    # y = y0 exp(-k t): dy/dy0 = exp(-k t), dy/dk = -t y.
    k = torch.tensor(0.8, dtype=F64, requires_grad=True)
    y0 = torch.tensor([[1.0], [-0.5]], dtype=F64, requires_grad=True)
    ts = torch.tensor([0.0, 0.4, 1.0], dtype=F64)
    sol = ode.solve(lambda t, y: -k * y, y0, ts, method="rodas3", checkpoint=True, rtol=1e-8)
    gy0, gk = torch.autograd.grad(sol.ys[-1].sum(), (y0, k))
    e = math.exp(-0.8)
    torch.testing.assert_close(gy0, torch.full_like(y0, e), rtol=1e-5, atol=0)
    torch.testing.assert_close(gk, torch.tensor(-0.5 * e, dtype=F64), rtol=1e-5, atol=0)
    # forward mode: torch.func.jvp runs; torch.autograd.forward_ad is refused clearly
    _, tan = torch.func.jvp(
        lambda y: ode.solve(lambda t, x: -0.8 * x, y, ts, method="rodas3", checkpoint=True).ys,
        (y0.detach(),),
        (torch.ones_like(y0),),
    )
    torch.testing.assert_close(tan[-1], torch.full_like(y0, e), rtol=1e-5, atol=0)
    with fwad.dual_level(), pytest.raises(ConfigurationError, match="checkpoint=False"):
        ode.solve(
            lambda t, x: -0.8 * x, fwad.make_dual(y0.detach(), torch.ones_like(y0)), ts,
            method="rodas3", checkpoint=True,
        )  # fmt: skip


def test_dop853_event_step_keeps_its_dense_output_differentiable() -> None:
    # Regression: the step where an event fired got DOP853's extra dense-output stages
    # evaluated under no_grad, and that completed step served the output times it passed
    # and the event state: values right, reverse-mode derivatives silently wrong (here by 45%).
    # y' = -y: y(t) = y0 exp(-t), dy(t)/dy0 = exp(-t); the event y = c fires at
    # t* = ln(y0 / c): dt*/dy0 = 1 / y0.
    y0 = torch.tensor([[1.0], [1.2]], dtype=F64, requires_grad=True)
    ts = torch.tensor([0.0, 0.5, 2.0], dtype=F64)
    sol = ode.solve(
        lambda t, y: -y, y0, ts, method="dop853", rtol=1e-6, atol=1e-9,
        event=lambda t, y: y[:, 0] - 0.55, step_control="per_sample",
    )  # fmt: skip
    assert sol.event_t is not None
    want_t = torch.log(y0.detach()[:, 0] / 0.55)
    torch.testing.assert_close(sol.event_t.detach(), want_t, rtol=0, atol=1e-6)
    (gy,) = torch.autograd.grad(sol.ys[1].sum(), y0, retain_graph=True)
    torch.testing.assert_close(gy, torch.full_like(y0, math.exp(-0.5)), rtol=1e-6, atol=0)
    (ge,) = torch.autograd.grad(sol.event_t.sum(), y0)
    torch.testing.assert_close(ge, 1.0 / y0.detach(), rtol=1e-6, atol=0)
