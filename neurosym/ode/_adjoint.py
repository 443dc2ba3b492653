"""The adjoint method: gradients by solving the adjoint ODE backwards, jointly over the batch.

For ``dy/dt = f(t, y; θ)`` and a loss ``L(y(t_1), ..., y(t_T))`` the adjoint
``a = ∂L/∂y`` obeys ``da/dt = -aᵀ ∂f/∂y`` between output times and jumps by
``∂L/∂y(t_i)`` at each; ``dL/dθ = ∫ aᵀ ∂f/∂θ dt`` (Pontryagin; Chen et al. 2018).

The state ``y`` is re-integrated backwards alongside ``a``. The whole batch shares one
step size, so the parameter integral is a quadrature riding on the Runge–Kutta stages:
each stage is one vector–Jacobian product whose parameter part is already summed over
the batch — never one copy of the parameter gradient per sample. With the seminorm
(Kidger, Chen & Lyons 2021) the parameter part is left out of the error control.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from neurosym.errors import ConfigurationError, SolverError

from ._adaptive_solvers import Dopri5
from ._controller import PIDController
from ._integrate import RawSolution, _stretched
from ._solver import AbstractExplicitRK, AbstractSolver, Field, combined_error

__all__ = ["solve_adjoint"]

Runner = Callable[[Field, Tensor, Tensor], RawSolution]


class _Holder:
    raw: RawSolution | None = None


def solve_adjoint(
    f: Field,
    y0: Tensor,
    ts: Tensor,
    *,
    run: Runner,
    solver: AbstractSolver,
    params: tuple[Tensor, ...],
    rtol: float,
    atol: float,
    max_steps: int,
    seminorm: bool,
    max_step: float | None = None,
) -> RawSolution:
    """Solve forward without a graph; differentiate by the adjoint method.

    Args:
        f: the vector field.
        y0: initial states ``(batch, dim)``.
        ts: increasing output times ``(batch, T)``, equal rows.
        run: the forward solve.
        solver: the forward solver; an explicit adaptive one is reused backwards,
            otherwise Dopri5 is used.
        params: tensors to differentiate besides ``y0``.
        rtol: relative tolerance of the backward solve.
        atol: absolute tolerance of the backward solve.
        max_steps: step attempts allowed per backward interval.
        seminorm: leave the parameter adjoint out of the error control.
        max_step: the largest step of the backward solve too, or ``None``.

    Returns:
        The raw solution; its ``ys`` carry the adjoint backward.

    Raises:
        ConfigurationError: for an implicit solver.
    """
    if solver.implicit:
        raise ConfigurationError(
            f"adjoint=True does not support the implicit {solver.name!r}: differentiate it by "
            "direct backprop (adjoint=False) or checkpoint=True"
        )
    back = (
        solver
        if isinstance(solver, AbstractExplicitRK) and solver.error_order is not None
        else Dopri5()
    )
    holder = _Holder()
    h_max = math.inf if max_step is None else max_step
    cfg = (f, run, back, rtol, atol, max_steps, seminorm, holder, h_max)
    ys: Tensor = _AdjointFunction.apply(cfg, y0, ts, *params)  # type: ignore[no-untyped-call]
    raw = holder.raw
    if raw is None:
        raise RuntimeError("bug in neurosym.ode: the adjoint forward did not run")
    return RawSolution(
        ys=ys,
        status=raw.status,
        t_final=raw.t_final,
        y_final=ys[-1],
        steps=raw.steps,
        nfe=raw.nfe,
        accepted=raw.accepted,
        rejected=raw.rejected,
        event_t=None,
    )


class _AdjointFunction(torch.autograd.Function):
    @staticmethod
    def forward(cfg: Any, y0: Tensor, ts: Tensor, *params: Tensor) -> Tensor:
        f, run, _back, _rtol, _atol, _max, _semi, holder, _h_max = cfg
        with torch.no_grad():
            raw = run(f, y0, ts)
        holder.raw = raw
        out: Tensor = raw.ys
        return out

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        # (A separate setup_context lets torch.func.grad differentiate through it.)
        cfg, _y0, ts, *params = inputs
        ctx.cfg = cfg
        ctx.save_for_backward(output, ts, *params)

    @staticmethod
    def jvp(ctx: Any, *tangents: Any) -> Any:
        raise ConfigurationError(
            "adjoint=True is reverse mode only; forward mode (torch.autograd.forward_ad, "
            "torch.func.jvp, jacfwd) differentiates a direct solve: use adjoint=False"
        )

    @staticmethod
    def backward(ctx: Any, grad_ys: Tensor) -> Any:
        if torch.is_grad_enabled():
            # (create_graph=True: the adjoint's gradient would come back detached and a
            # second derivative would fail later, far from the cause.)
            raise ConfigurationError(
                "adjoint=True gives first derivatives only: its backward solve is not "
                "differentiated again (create_graph=True, higher-order gradients). Use "
                "adjoint=False, whose direct backpropagation differentiates to any order"
            )
        f, _run, back, rtol, atol, max_steps, seminorm, _holder, h_max = ctx.cfg
        ys, ts, *params = ctx.saved_tensors
        times = [float(x) for x in ts[0].tolist()]
        y = ys[-1]
        a = grad_ys[-1].clone()
        g = [torch.zeros_like(p) for p in params]
        h: float | None = None
        for i in range(len(times) - 1, 0, -1):
            y, a, g, h = _backward_interval(
                f, back, params, y, a, g, times[i], times[i - 1], h, rtol, atol, max_steps,
                seminorm, h_max,
            )  # fmt: skip
            # Restart from the stored forward state: it is more accurate than the
            # backwards-reconstructed one.
            y = ys[i - 1]
            a = a + grad_ys[i - 1]
        return (None, a, None, *g)


def _aug(
    f: Field, params: list[Tensor], t: Tensor, y: Tensor, a: Tensor
) -> tuple[Tensor, Tensor, list[Tensor]]:
    """dy/ds, da/ds and the batch-summed dθ/ds in reversed time s = -t."""
    with torch.enable_grad():
        yy = y.detach().requires_grad_(True)
        out = f(t, yy)
        grads = torch.autograd.grad(
            out, (yy, *params), grad_outputs=a, allow_unused=True, retain_graph=False
        )
    gy = grads[0] if grads[0] is not None else torch.zeros_like(y)
    gp = [gr if gr is not None else torch.zeros_like(p) for gr, p in zip(grads[1:], params)]
    return -out.detach(), gy, gp


def _combine(kp: list[list[Tensor]], n: int, w: tuple[float, ...], h: float) -> Tensor:
    out = torch.zeros_like(kp[0][n])
    for j, wj in enumerate(w):
        if wj != 0.0:
            out = out + (h * wj) * kp[j][n]
    return out


def _backward_interval(
    f: Field,
    solver: AbstractExplicitRK,
    params: list[Tensor],
    y: Tensor,
    a: Tensor,
    g: list[Tensor],
    t_from: float,
    t_to: float,
    h0: float | None,
    rtol: float,
    atol: float,
    max_steps: int,
    seminorm: bool,
    h_max: float = math.inf,
) -> tuple[Tensor, Tensor, list[Tensor], float]:
    tab = solver.tableau
    s_count = tab.stages
    b_err, b_low = tab.b_err, tab.b_err_low
    if b_err is None:
        raise RuntimeError("bug in neurosym.ode: backward solver without error estimate")
    span = t_from - t_to
    h = min(h0 if h0 is not None else span / 10, span, h_max)
    ctrl = PIDController()
    state = ctrl.init(y.new_ones(1, 1))
    eo = solver.error_order if solver.error_order is not None else 4
    batch = y.shape[0]
    t_cur = t_from
    first: tuple[Tensor, Tensor, list[Tensor]] | None = None
    for _ in range(max_steps):
        if t_cur <= t_to:
            return y, a, g, h
        h = min(_stretched(h, t_cur - t_to), h_max)
        tt = y.new_full((batch, 1), t_cur)
        if first is None:
            first = _aug(f, params, tt, y, a)
        ky, ka, kp = [first[0]], [first[1]], [first[2]]
        for i in range(1, s_count):
            row = tab.a[i - 1]
            yi, ai = y, a
            for j, c in enumerate(row):
                if c != 0.0:
                    yi = yi + (h * c) * ky[j]
                    ai = ai + (h * c) * ka[j]
            d = _aug(f, params, tt - tab.c[i] * h, yi, ai)
            ky.append(d[0])
            ka.append(d[1])
            kp.append(d[2])
        y_new, a_new = y, a
        ey = torch.zeros_like(y)
        ea = torch.zeros_like(a)
        for j in range(s_count):
            if tab.b[j] != 0.0:
                y_new = y_new + (h * tab.b[j]) * ky[j]
                a_new = a_new + (h * tab.b[j]) * ka[j]
            if b_err[j] != 0.0:
                ey = ey + (h * b_err[j]) * ky[j]
                ea = ea + (h * b_err[j]) * ka[j]
        dg = [_combine(kp, n, tab.b, h) for n in range(len(g))]

        def ratio_of(err: Tensor, x0: Tensor, x1: Tensor, low: Tensor | None) -> Tensor:
            scale = atol + rtol * torch.maximum(x0.abs(), x1.abs())
            r = (err / scale).square().mean(-1, keepdim=True).sqrt()
            if low is not None:  # DOP853's combined estimate, as in the forward solve
                r = combined_error(r, (low / scale).square().mean(-1, keepdim=True).sqrt())
            return r.amax()

        ey_low = ea_low = None
        if b_low is not None:
            ey_low = _combine([[k] for k in ky], 0, b_low, h)
            ea_low = _combine([[k] for k in ka], 0, b_low, h)
        ratio = torch.maximum(ratio_of(ey, y, y_new, ey_low), ratio_of(ea, a, a_new, ea_low))
        if not seminorm and g:
            g_new = [gn + dgn for gn, dgn in zip(g, dg)]
            eg = torch.cat([_combine(kp, n, b_err, h).reshape(-1) for n in range(len(g))])
            flat_g = torch.cat([x.reshape(-1) for x in g])
            flat_new = torch.cat([x.reshape(-1) for x in g_new])
            eg_low = (
                None
                if b_low is None
                else torch.cat([_combine(kp, n, b_low, h).reshape(-1) for n in range(len(g))])
            )
            ratio = torch.maximum(
                ratio,
                ratio_of(
                    eg[None], flat_g[None], flat_new[None], None if eg_low is None else eg_low[None]
                ),
            )
        r = float(ratio)
        accept = math.isfinite(r) and r <= 1.0
        if accept:
            y, a = y_new, a_new
            g = [gn + dgn for gn, dgn in zip(g, dg)]
            t_cur = t_to if h >= t_cur - t_to else t_cur - h
            first = (ky[-1], ka[-1], kp[-1]) if tab.fsal else None
        rt = y.new_full((1, 1), r if math.isfinite(r) else math.inf)
        acc_t = torch.tensor([[accept]], device=y.device)
        h_t, state = ctrl.adapt(y.new_full((1, 1), h), rt, acc_t, state, eo)
        h = float(h_t)
        if h <= 4 * torch.finfo(y.dtype).eps * max(abs(t_cur), 1.0):
            break
    raise SolverError(
        f"the adjoint (backward) solve from t={t_from:.6g} to t={t_to:.6g} stopped at "
        f"t={t_cur:.6g}: step size underflow or max_steps={max_steps}; loosen rtol/atol or use "
        "adjoint=False"
    )
