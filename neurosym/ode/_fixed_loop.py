"""The fixed-step loop: equal steps between output times, landing on each of them."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._compiled import compiled_fixed_step
from ._integrate import Counted, RawSolution
from ._solver import AbstractExplicitRK, AbstractSolver, Field
from ._status import Status

__all__ = ["integrate_fixed", "steps_by_count"]


def _split_steps(widths: Tensor, steps: int) -> list[int]:
    """``steps`` steps over the intervals, in proportion to their widths (largest
    remainders round up), at least one per interval."""
    frac = (widths / widths.sum(1, keepdim=True)).amax(0).tolist()
    ideal = [x * steps for x in frac]
    counts = [max(1, math.floor(x)) for x in ideal]
    order = sorted(range(len(ideal)), key=lambda i: counts[i] - ideal[i])
    for i in order[: max(0, steps - sum(counts))]:
        counts[i] += 1
    return counts


def steps_by_count(steps: int | None, n_intervals: int) -> list[int] | None:
    """The steps per interval when they follow from the counts alone (one interval, or
    at most one step per interval), else ``None`` (they depend on the widths)."""
    if steps is None:
        return None
    if n_intervals == 1:
        return [steps]
    return [1] * n_intervals if steps <= n_intervals else None


def integrate_fixed(
    f: Field,
    y0: Tensor,
    ts: Tensor,
    *,
    solver: AbstractSolver,
    dt: float | None,
    steps: int | None,
    compile: bool = False,
) -> RawSolution:
    """Integrate with fixed steps, landing exactly on every requested time.

    Each interval between requested times is split into equal steps shared by the batch:
    the fewest no longer than ``dt``, or, with ``steps``, ``steps`` in total distributed
    in proportion to the intervals' widths (at least one each).

    Args:
        f: the vector field.
        y0: initial states ``(batch, dim)``.
        ts: increasing output times per sample, ``(batch, T)``.
        solver: any solver (an embedded error estimate is ignored).
        dt: the largest step, or ``None`` when ``steps`` is given.
        steps: the number of steps over the whole span, or ``None``.
        compile: run each step through a compiled step (an explicit Runge–Kutta
            solver; see :mod:`neurosym.ode._compiled`).

    Returns:
        The raw solution; samples with non-finite values get ``NONFINITE``.
    """
    fc = Counted(f)
    batch = y0.shape[0]
    n_intervals = ts.shape[1] - 1
    # Traced by torch.compile or torch.export, the loop reads no value: it applies when
    # the steps per interval follow from the counts alone (one interval, or at most one
    # step per interval: the usual sampler grid t = linspace(0, 1, steps + 1)); else the
    # widths are read below (a graph break under torch.compile, refused by export).
    by_count = steps_by_count(steps, n_intervals) if torch.compiler.is_compiling() else None
    traced = by_count is not None
    with torch.no_grad():
        widths = ts[:, 1:] - ts[:, :-1]
        if by_count is not None:
            counts_list = by_count
        elif steps is not None:
            counts_list = _split_steps(widths, steps)
        else:
            # The small slack keeps an interval that is a whole number of steps from
            # rounding up.
            step = float(dt if dt is not None else 1.0)
            counts = torch.ceil(widths / step - 1e-6).clamp_min(1).amax(0)
            counts_list = [int(c) for c in counts.tolist()]
    # Shared times (the usual case): the step is a Python float, one kernel per stage.
    shared = batch == 1 or ts.stride(0) == 0
    times = ts[0].tolist() if shared and not traced else None
    rk = solver if isinstance(solver, AbstractExplicitRK) and times is not None else None
    fsal = solver.provides_f1
    y = y0
    out = [y0]
    total = 0
    f0: Tensor | None = None
    # With compile=True each step runs compiled (one tensor step size per interval: a
    # float would be compiled in as a constant).
    step_fn = compiled_fixed_step(f, solver) if compile else None
    for i, n in enumerate(counts_list):
        h_t = (widths[:, i : i + 1] / n).detach()
        h = (times[i + 1] - times[i]) / n if times is not None else 0.0
        t0 = ts[:, i : i + 1]
        h_c = (y0.new_tensor(h) if rk is not None else h_t) if step_fn is not None else h_t
        for j in range(n):
            if step_fn is not None:
                if fsal and f0 is None:
                    f0 = fc(t0, y)
                y, f1 = step_fn(t0 + j * h_c, y, f0, h_c)
                fc.n += step_fn.evals
                f0 = f1 if fsal else None
                continue
            t = t0 + j * h if rk is not None else t0 + j * h_t
            if f0 is None:
                f0 = fc(t, y)
            res = rk.step(fc, t, y, f0, h) if rk is not None else solver.step(fc, t, y, f0, h_t)
            y = res.y1
            f0 = res.f1 if fsal else None
        total += n
        out.append(y)
    ys = torch.stack(out)
    with torch.no_grad():
        finite = torch.isfinite(ys).all(0).all(-1)
    status = torch.where(finite, int(Status.SUCCESS), int(Status.NONFINITE)).to(torch.long)
    n_steps = torch.full((batch,), total, dtype=torch.long, device=y0.device)
    return RawSolution(
        ys=ys,
        status=status,
        t_final=ts[:, -1].detach(),
        y_final=y,
        steps=total,
        nfe=fc.n,
        accepted=n_steps,
        rejected=torch.zeros_like(n_steps),
        event_t=None,
    )
