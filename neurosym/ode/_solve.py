"""``solve``: the one entry point that checks options, picks the loop and reports failure."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from types import MappingProxyType
from typing import Literal

import torch
from torch import Tensor

from neurosym.errors import ConfigurationError, SolverError

from ._adaptive_solvers import Bosh3, Dopri5, Tsit5
from ._controller import AbstractStepController, PIDController
from ._dop853 import Dop853
from ._dopri8 import Dopri8
from ._event import EventFn
from ._fixed_loop import integrate_fixed, steps_by_count
from ._fixed_solvers import RK4, Euler, Heun, Midpoint
from ._functorch import grad_active, is_vmapped, transforms_active, unwrapped, vmap_active
from ._integrate import RawSolution, host_loop_applies, integrate_adaptive
from ._rosenbrock import Rodas3
from ._solution import Solution, Stats
from ._solver import AbstractExplicitRK, AbstractSolver, Field
from ._status import Status

__all__ = ["METHODS", "MethodName", "StepControl", "resolve_method", "solve"]

MethodName = Literal[
    "euler", "midpoint", "heun", "rk4", "bosh3", "dopri5", "tsit5", "dopri8", "dop853", "rodas3"
]

METHODS: MappingProxyType[str, type[AbstractSolver]] = MappingProxyType(
    {
        "euler": Euler,
        "midpoint": Midpoint,
        "heun": Heun,
        "rk4": RK4,
        "bosh3": Bosh3,
        "dopri5": Dopri5,
        "tsit5": Tsit5,
        "dopri8": Dopri8,
        "dop853": Dop853,
        "rodas3": Rodas3,
    }
)
"""Read-only mapping from method aliases to solver classes."""

STIFF_METHOD = "rodas3"

StepControl = Literal["auto", "per_sample", "joint"]
"""How adaptive solves choose step sizes in a batch (see :func:`solve`)."""


def resolve_method(method: str | AbstractSolver) -> AbstractSolver:
    """Turn a method alias or solver object into a solver object.

    Args:
        method: an alias from :data:`METHODS` or an :class:`AbstractSolver`.

    Returns:
        The solver; an alias always gives the same instance (solvers are stateless).

    Raises:
        ConfigurationError: for an unknown alias or a value of another type.
    """
    if isinstance(method, AbstractSolver):
        return method
    if isinstance(method, str):
        cls = METHODS.get(method.lower())
        if cls is None:
            raise ConfigurationError(
                f"unknown method {method!r}; expected one of {', '.join(sorted(METHODS))} "
                "or an AbstractSolver instance such as Dopri5()"
            )
        return _SHARED[cls]
    raise ConfigurationError(
        f"method must be a string alias or an AbstractSolver, got {type(method).__name__}"
    )


# Solvers hold only their constants (and tensors of them per dtype and device), so an
# alias resolves to one instance: building a tableau's tensors cost ~120 µs per solve.
# They are built here, eagerly: built inside a traced solve (torch.export), their tensors
# would be fake ones, unusable as the exported program's constants.
_SHARED: dict[type[AbstractSolver], AbstractSolver] = {cls: cls() for cls in METHODS.values()}


def _check_inputs(y0: object, t: object) -> tuple[Tensor, Tensor, bool]:
    """Validate ``y0`` and ``t``; return them (``t`` detached in ``y0``'s dtype) and
    whether the times decrease."""
    if not isinstance(y0, Tensor):
        raise ConfigurationError(f"y0 must be a torch.Tensor, got {type(y0).__name__}")
    if not isinstance(t, Tensor):
        raise ConfigurationError(f"t must be a torch.Tensor, got {type(t).__name__}")
    if y0.ndim != 2:
        raise ConfigurationError(
            f"y0 must have shape (batch, dim), got {tuple(y0.shape)}; "
            "for a single trajectory pass y0[None]"
        )
    if not y0.is_floating_point():
        raise ConfigurationError(f"y0 must be a floating-point tensor, got dtype {y0.dtype}")
    if y0.shape[0] == 0 or y0.shape[1] == 0:
        raise ConfigurationError(
            f"y0 must hold at least one sample of at least one dimension, got shape "
            f"{tuple(y0.shape)}"
        )
    if t.ndim not in (1, 2):
        raise ConfigurationError(f"t must have shape (T,) or (batch, T), got {tuple(t.shape)}")
    if t.ndim == 2 and t.shape[0] != y0.shape[0]:
        raise ConfigurationError(
            f"per-sample t has batch {t.shape[0]} but y0 has batch {y0.shape[0]}"
        )
    if t.shape[-1] < 2:
        raise ConfigurationError(f"t needs at least two times (start and end), got {t.shape[-1]}")
    if t.device != y0.device:
        raise ConfigurationError(f"t is on {t.device} but y0 is on {y0.device}")
    tt = t.detach().to(y0.dtype)
    if torch.compiler.is_compiling():
        # Traced (torch.compile, torch.export): no value can be read without a graph
        # break, so the direction is not chosen by value: t must increase, which the
        # graph asserts when it runs.
        d = tt[..., 1:] - tt[..., :-1]
        torch._assert_async(
            torch.isfinite(tt).all() & (d > 0).all(),
            "ode.solve under torch.compile/torch.export: t must be finite and strictly increasing",
        )
        return y0, tt, False
    if tt.ndim == 1 and tt.device.type == "cpu" and tt.shape[0] <= 64:
        # A short shared time vector on the CPU: checked in Python (~5 µs; the tensor
        # checks below cost ~50 µs of a solve that takes a few ms).
        vals = tt.tolist()
        if not all(math.isfinite(v) for v in vals):
            raise ConfigurationError("t contains NaN or infinite times")
        diffs = [b - a for a, b in itertools.pairwise(vals)]
        increasing, decreasing = all(d > 0 for d in diffs), all(d < 0 for d in diffs)
    else:
        if not bool(torch.isfinite(tt).all()):
            raise ConfigurationError("t contains NaN or infinite times")
        d = tt[..., 1:] - tt[..., :-1]
        increasing = bool((d > 0).all())
        decreasing = not increasing and bool((d < 0).all())
    if increasing:
        return y0, tt, False
    if decreasing:
        return y0, tt, True
    raise ConfigurationError(
        "t must be strictly increasing or strictly decreasing (the same way for every sample)"
    )


def _positive_int(value: object) -> bool:
    # (bool is an int to Python: steps=True is not a count.)
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_positive(name: str, value: float | int | None) -> None:
    if value is not None and not (isinstance(value, (int, float)) and value > 0):
        raise ConfigurationError(f"{name} must be a positive number, got {value!r}")


def solve(
    f: Field,
    y0: Tensor,
    t: Tensor,
    *,
    method: MethodName | AbstractSolver = "dopri5",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    dt0: float | None = None,
    dt: float | None = None,
    steps: int | None = None,
    max_steps: int = 10_000,
    step_control: StepControl = "auto",
    controller: AbstractStepController | None = None,
    throw: bool = True,
    event: EventFn | None = None,
    adjoint: bool = False,
    adjoint_params: Sequence[Tensor] | None = None,
    adjoint_seminorm: bool = True,
    checkpoint: bool = False,
    check_every: int | None = None,
    cuda_graph: bool = False,
    compact: bool = False,
    compile: bool = False,
    max_step: float | None = None,
) -> Solution:
    """Solve ``dy/dt = f(t, y)`` for a batch of initial states.

    Args:
        f: the vector field. It is called with ``t`` of shape ``(batch, 1)`` (each
            sample at its own time under per-sample step control) and ``y`` of shape
            ``(batch, dim)``, and returns ``(batch, dim)``; rows must not interact.
        y0: initial states ``(batch, dim)``.
        t: output times, ``(T,)`` shared or ``(batch, T)`` per sample, strictly
            increasing or decreasing; ``t[..., 0]`` is the initial time.
        method: a solver object or alias (see :data:`METHODS`).
        rtol: relative tolerance of adaptive solvers.
        atol: absolute tolerance of adaptive solvers.
        dt0: first step of adaptive solvers (default: chosen per sample).
        dt: fixed step size (fixed-step integration, any solver).
        steps: number of fixed steps over the whole span, instead of ``dt``.
        max_steps: step attempts allowed per sample before ``MAX_STEPS``.
        step_control: ``"per_sample"`` (each sample its own step size), ``"joint"``
            (one step size for the batch; needs shared ``t``) or ``"auto"`` (default):
            joint where it runs on host floats (CPU, shared ``t``, an explicit FSAL
            method, no event), measured faster there, with the batch solved again per
            sample if any sample ran out of ``max_steps``; per-sample everywhere else.
        controller: step-size controller (default :class:`PIDController`, an I
            controller).
        throw: raise :class:`SolverError` when a sample fails; with ``False`` the partial
            solution is returned and ``status`` says what happened.
        event: terminal event ``event(t, y) -> (batch,)``; a sample stops where it
            changes sign, and :attr:`Solution.event_t` holds the time.
        adjoint: compute gradients by solving the adjoint ODE backwards (memory
            independent of the number of steps).
        adjoint_params: tensors to differentiate with the adjoint (default: the
            parameters of ``f`` when it is an ``nn.Module``).
        adjoint_seminorm: leave the parameter adjoint out of the backward error control
            (Kidger et al. 2021); usually fewer backward steps.
        checkpoint: recompute each interval between output times in the backward pass
            (memory of one interval instead of the whole solve).
        check_every: the longest gap, in steps, between host reads of whether any sample
            is still going (default 1). With 1 the loop reads the device every step and
            skips the masking while the whole batch moves together; with more it makes
            no other host read inside a step (on a GPU that measured slower for
            launch-bound steps: see docs/ode.md).
        cuda_graph: capture one step of the loop as a CUDA graph and replay it (one
            launch per step instead of ~100 kernels; CUDA only, under
            ``torch.no_grad()``, an explicit FSAL method with dense output — bosh3,
            dopri5, tsit5 — at most 17 output times, no events, no adjoint). The
            field must be capturable: tensor operations only, no host reads. The
            captured loop is reused by the next solve of the same field and shapes
            (:func:`clear_cuda_graphs` drops them).
        compact: under per-sample control (the default with ``compact=True``), step only
            the samples still going: whenever they fall to half of the batch being
            stepped, the others are dropped from it, so a few slow samples no longer pay
            for the whole batch. The field is then called with fewer rows than ``y0``
            has: it must compute each row from that row alone (a field that holds
            per-sample tensors of the batch's size cannot be compacted).
        compile: compile one step (every stage with its field call, the solution, the
            error estimate and its norm) with ``torch.compile`` and reuse it for every
            step and for later solves of the same field object, solver, tolerances and
            shapes (explicit Runge–Kutta methods, adaptive or fixed steps; the first
            solve pays the compilation, ~10-30 s; on the CPU it needs a C++ compiler).
            :func:`clear_compiled_steps` drops the cached steps.
        max_step: the largest step of an adaptive solve (as scipy's ``max_step``): error
            control sees the steps, not the dense output between them, so where the
            error estimate is small but the solution between steps matters (or a
            feature narrower than a step could be stepped over), bound the steps (the
            adjoint's backward solve too). Not with ``cuda_graph=True``.

    Returns:
        The :class:`Solution`.

    Raises:
        ConfigurationError: for invalid inputs or options.
        SolverError: when ``throw`` and a sample did not reach the end; the message
            names the samples, the time reached and what to try, and ``.solution`` holds
            the partial solution.

    Example:
        >>> import torch
        >>> sol = solve(lambda t, y: -y, torch.ones(2, 1), torch.tensor([0.0, 1.0]))
        >>> round(float(sol.ys[-1, 0, 0]), 5)
        0.36788
    """
    # (The interpreter stack is read once per solve: mapped is passed down from here.)
    mapped = vmap_active()
    if isinstance(t, Tensor) and mapped and is_vmapped(t):
        raise ConfigurationError(
            f"t cannot be mapped {_MAPPED}: pass per-sample times t of shape (batch, T) "
            "instead, or map over y0 and the field only"
        )
    y0, tt, reverse = _check_inputs(y0, t)
    solver = resolve_method(method)
    for name, value in (
        ("rtol", rtol), ("atol", atol), ("dt0", dt0), ("dt", dt), ("max_step", max_step)
    ):  # fmt: skip
        _check_positive(name, value)
    if steps is not None and not _positive_int(steps):
        raise ConfigurationError(f"steps must be a positive int, got {steps!r}")
    if not _positive_int(max_steps):
        raise ConfigurationError(f"max_steps must be a positive int, got {max_steps!r}")
    if dt is not None and steps is not None:
        raise ConfigurationError("pass either dt or steps for fixed-step integration, not both")
    fixed = dt is not None or steps is not None
    if not fixed and y0.dtype in (torch.float16, torch.bfloat16):
        raise ConfigurationError(
            f"adaptive solves need float32 or float64 states, got {y0.dtype}: its rounding "
            f"(eps {torch.finfo(y0.dtype).eps:.1e}) swamps the error estimate, so the steps "
            "shrink until they underflow. Solve in float32 (y0.float()), or take fixed "
            "steps (dt= or steps=), which run in half precision"
        )
    if not fixed and solver.error_order is None:
        raise ConfigurationError(
            f"{solver.name} is a fixed-step solver: pass dt= or steps=, or choose an adaptive "
            "method such as 'dopri5'"
        )
    if step_control not in ("auto", "per_sample", "joint"):
        raise ConfigurationError(
            f"step_control must be 'auto', 'per_sample' or 'joint', got {step_control!r}"
        )
    if step_control == "joint" and tt.ndim == 2:
        raise ConfigurationError("step_control='joint' needs shared times t of shape (T,)")
    if compact and step_control == "joint":
        raise ConfigurationError(
            "compact=True drops finished samples from per-sample steps: use "
            "step_control='per_sample' (or 'auto')"
        )
    if max_step is not None and (fixed or cuda_graph):
        raise ConfigurationError(
            "max_step bounds adaptive steps: "
            + ("fixed steps are set by dt/steps" if fixed else "not with cuda_graph=True")
        )
    if adjoint and checkpoint:
        raise ConfigurationError("choose adjoint=True or checkpoint=True, not both")
    if adjoint and event is not None:
        raise ConfigurationError("events are differentiated by direct backprop: use adjoint=False")
    if adjoint and tt.ndim == 2:
        raise ConfigurationError("adjoint=True needs shared times t of shape (T,)")
    if checkpoint and event is not None:
        raise ConfigurationError("events are not supported with checkpoint=True")
    if event is not None and fixed:
        raise ConfigurationError("events need an adaptive solve: drop dt/steps")
    if check_every is not None and not _positive_int(check_every):
        raise ConfigurationError(f"check_every must be a positive int, got {check_every!r}")
    if check_every is None:
        # Measured on an H200 too (docs/ode.md): reading the device every step costs less
        # than the masked work of a loop that never reads it, when steps are launch-bound.
        check_every = 1
    if compile and (not isinstance(solver, AbstractExplicitRK) or cuda_graph):
        raise ConfigurationError(
            "compile=True compiles the step of an explicit Runge–Kutta method (euler, "
            "midpoint, heun, rk4, bosh3, dopri5, tsit5, dopri8, dop853), without "
            f"cuda_graph=True; got {solver.name!r}"
        )
    if compact and (check_every != 1 or cuda_graph):
        raise ConfigurationError(
            "compact=True reads how many samples are active every step: it needs "
            "check_every=1 and cuda_graph=False"
        )
    if cuda_graph:
        from ._graphed import graph_unsupported

        why = (
            f"it needs a CUDA device (y0 is on {y0.device})"
            if y0.device.type != "cuda"
            else "it is for adaptive solves: drop dt/steps"
            if fixed
            else "the adjoint and checkpointed backward passes are not captured"
            if adjoint or checkpoint
            else graph_unsupported(
                solver, tt.shape[-1], event=event is not None, grad=torch.is_grad_enabled()
            )
        )
        if why is not None:
            raise ConfigurationError(f"cuda_graph=True: {why}")
    if controller is None:
        controller = PIDController()
    if not isinstance(controller, AbstractStepController):
        raise ConfigurationError(
            f"controller must be an AbstractStepController, got {type(controller).__name__}"
        )
    by_value = adjoint or checkpoint or event is not None or compile or cuda_graph
    if _exporting() and (by_value or steps_by_count(steps, tt.shape[-1] - 1) is None):
        raise ConfigurationError(
            "torch.export traces no decision made by value: it exports fixed-step "
            "solves whose steps follow from t's length alone (steps=len(t) - 1, the "
            "sampler grid, or steps=N with two output times), without adjoint, "
            "checkpoint, events, compile or cuda_graph. Adaptive methods choose their "
            "steps by value: export the field alone, or solve with such fixed steps"
        )
    if mapped or transforms_active():
        why = _transform_unsupported(
            t, solver, controller, mapped=mapped, fixed=fixed, step_control=step_control,
            adjoint=adjoint, checkpoint=checkpoint, event=event, cuda_graph=cuda_graph,
            compact=compact, compile=compile,
        )  # fmt: skip
        if why is not None:
            raise ConfigurationError(why)
    # "auto": joint control where its host-float loop applies (docs/ode.md, Step control:
    # 0.44-0.52x torchdiffeq there against 0.53-0.63x per sample), with a per-sample retry
    # when the shared step size ran some sample out of steps.
    retry = (
        not mapped
        and step_control == "auto"
        and not compact
        and not fixed
        and not cuda_graph
        and tt.ndim == 1
        and host_loop_applies(solver, controller, y0.device, event)
    )
    # Under vmap the one adaptive loop is joint control on host floats (see _functorch).
    joint = step_control == "joint" or retry or mapped

    batch = y0.shape[0]
    ts = (-tt if reverse else tt).expand(batch, -1) if tt.ndim == 1 else (-tt if reverse else tt)
    g = _reversed(f) if reverse else f
    ev = _reversed_event(event) if (reverse and event is not None) else event

    def run(field: Field, y_init: Tensor, times: Tensor) -> RawSolution:
        if fixed:
            return integrate_fixed(
                field, y_init, times, solver=solver, dt=dt, steps=steps, compile=compile
            )
        if cuda_graph:
            from ._graphed import integrate_graphed

            return integrate_graphed(
                field,
                y_init,
                times,
                solver=solver,  # type: ignore[arg-type]  # checked by graph_unsupported
                controller=controller,
                rtol=rtol,
                atol=atol,
                dt0=dt0,
                max_steps=max_steps,
                joint=joint,
                check_every=check_every,
            )
        raw = adaptive(field, y_init, times, joint)
        if retry and bool(unwrapped(raw.status == int(Status.MAX_STEPS)).any()):
            # A shared step size held back by some samples ran out of steps: per-sample
            # control lets every other sample finish (the joint attempt's work counts).
            again = adaptive(field, y_init, times, False)
            raw = dataclasses.replace(again, steps=raw.steps + again.steps, nfe=raw.nfe + again.nfe)
        return raw

    def adaptive(field: Field, y_init: Tensor, times: Tensor, joint: bool) -> RawSolution:
        return integrate_adaptive(
            field,
            y_init,
            times,
            solver=solver,
            controller=controller,
            rtol=rtol,
            atol=atol,
            dt0=dt0,
            max_steps=max_steps,
            joint=joint,
            event=ev,
            check_every=check_every,
            compact=compact,
            compile=compile,
            max_step=max_step,
            mapped=mapped,
        )

    if adjoint:
        from ._adjoint import solve_adjoint

        raw = solve_adjoint(
            g,
            y0,
            ts,
            run=run,
            solver=solver,
            params=_adjoint_params(f, adjoint_params),
            rtol=rtol,
            atol=atol,
            max_steps=max_steps,
            seminorm=adjoint_seminorm,
            max_step=max_step,
        )
    elif checkpoint:
        from ._checkpoint import solve_checkpointed

        raw = solve_checkpointed(run, g, y0, ts)
    else:
        raw = run(g, y0, ts)
    sign = -1.0 if reverse else 1.0
    sol = Solution(
        ts=t,
        ys=raw.ys,
        status=raw.status,
        stats=Stats(
            steps=raw.steps,
            # (Fixed steps are all accepted: counted without reading the device, which
            # a traced solve cannot.)
            accepted=raw.steps * batch if fixed else int(unwrapped(raw.accepted).sum()),
            rejected=0 if fixed else int(unwrapped(raw.rejected).sum()),
            nfe=raw.nfe,
            accepted_per_sample=raw.accepted,
            rejected_per_sample=raw.rejected,
        ),
        t_final=sign * raw.t_final,
        y_final=raw.y_final,
        event_t=None if raw.event_t is None else sign * raw.event_t,
    )
    if throw and torch.compiler.is_compiling():
        # A traced graph cannot raise on a value: it asserts when it runs.
        torch._assert_async(
            sol.success.all(),
            f"ode.solve with method={solver.name!r} under torch.compile/torch.export: a "
            "sample did not reach the end (non-finite values); pass throw=False to get "
            "per-sample status",
        )
    elif throw and not sol.ok:
        if mapped:
            raise SolverError(_mapped_failure_message(sol, solver), sol)
        raise SolverError(_failure_message(sol, solver), sol)
    return sol


def _exporting() -> bool:
    is_exporting = getattr(torch.compiler, "is_exporting", None)  # (torch >= 2.4)
    return bool(is_exporting()) if is_exporting is not None else False


_MAPPED = "inside torch.func.vmap (and jacfwd, hessian, or a vmapped jacrev)"


def _transform_unsupported(
    t: Tensor,
    solver: AbstractSolver,
    controller: AbstractStepController,
    *,
    mapped: bool,
    fixed: bool,
    step_control: str,
    adjoint: bool,
    checkpoint: bool,
    event: EventFn | None,
    cuda_graph: bool,
    compact: bool,
    compile: bool,
) -> str | None:
    """Why a solve called inside a ``torch.func`` transform cannot run, or ``None``."""
    if adjoint:
        return (
            "adjoint=True does not run inside torch.func transforms (grad, vjp, jacrev, "
            "jacfwd, vmap): its backward pass differentiates the field with "
            "torch.autograd. Use adjoint=False (direct backpropagation works under every "
            "transform) or call the adjoint solve outside the transform"
        )
    if checkpoint and grad_active():
        return (
            "checkpoint=True does not run inside torch.func.grad, vjp or jacrev "
            "(torch.utils.checkpoint's saved-tensor hooks are not supported there): use "
            "checkpoint=False"
        )
    if not mapped:
        return None
    where = _MAPPED
    for name, on in (
        ("events", event is not None),
        ("cuda_graph=True", cuda_graph),
        ("compact=True", compact),
        ("compile=True", compile),
    ):
        if on:
            return f"{name} is not supported {where}"
    if fixed:
        return None
    if step_control == "per_sample":
        return (
            f"step_control='per_sample' is not supported {where}: a solve there takes one "
            "step size for every sample of every mapped slice (step_control='auto' or "
            "'joint'); batch the samples in y0 for per-sample steps"
        )
    if t.ndim == 2:
        return f"adaptive solves {where} need shared times t of shape (T,)"
    if not host_loop_applies(solver, controller, t.device, None, anywhere=True):
        able = [
            name
            for name in METHODS
            if resolve_method(name).error_order is not None
            and host_loop_applies(resolve_method(name), PIDController(), t.device, None)
        ]
        return (
            f"adaptive solves {where} run the joint loop of explicit methods that "
            f"evaluate f at the step's end ({', '.join(able)}) under a PI or PID "
            f"controller, got method {solver.name!r} with {type(controller).__name__}; "
            "fixed steps (dt= or steps=) work with every method"
        )
    return None


def _mapped_failure_message(sol: Solution, solver: AbstractSolver) -> str:
    # Under vmap the statuses are batched tensors: count them over every mapped slice.
    status = unwrapped(sol.status).flatten().tolist()
    counts = {code: status.count(int(code)) for code in Status if code != Status.SUCCESS}
    what = "; ".join(f"{n} {code.name} ({code.message})" for code, n in counts.items() if n)
    return (
        f"ode.solve with method={solver.name!r} under torch.func.vmap failed for "
        f"{len(status) - status.count(int(Status.SUCCESS))} of {len(status)} sample(s) "
        f"over all mapped slices: {what}.\nPass throw=False to get the partial solution "
        "with per-sample status."
    )


def _reversed(f: Field) -> Field:
    def g(s: Tensor, y: Tensor) -> Tensor:
        return -f(-s, y)

    return g


def _reversed_event(event: EventFn) -> EventFn:
    def g(s: Tensor, y: Tensor) -> Tensor:
        return event(-s, y)

    return g


def _adjoint_params(f: Field, given: Sequence[Tensor] | None) -> tuple[Tensor, ...]:
    if given is not None:
        if isinstance(given, Tensor):
            raise ConfigurationError(
                "adjoint_params must be a sequence of tensors (e.g. [k] or "
                "list(module.parameters())), got a single tensor"
            )
        params = tuple(given)
        for p in params:
            if not isinstance(p, Tensor):
                raise ConfigurationError(
                    f"adjoint_params must hold tensors, got {type(p).__name__}"
                )
        # As for a module's parameters: those that need no gradient get none (the
        # backward pass cannot differentiate them).
        return tuple(p for p in params if p.requires_grad)
    if isinstance(f, torch.nn.Module):
        return tuple(p for p in f.parameters() if p.requires_grad)
    return ()


def _failure_message(sol: Solution, solver: AbstractSolver) -> str:
    lines = [
        f"ode.solve with method={solver.name!r} failed for {len(sol.failed())} of "
        f"{sol.status.shape[0]} sample(s):",
        sol.describe_failure(),
    ]
    codes = {int(c) for c in sol.status.tolist()}
    if not solver.implicit and codes & {int(Status.MAX_STEPS), int(Status.DT_UNDERFLOW)}:
        bad = ~sol.success
        rej = int(sol.stats.rejected_per_sample[bad].sum())
        att = rej + int(sol.stats.accepted_per_sample[bad].sum())
        lines.append(
            f"If the problem is stiff (explicit solvers then crawl with tiny, often rejected "
            f"steps: {rej} of {att} steps of the failing samples were rejected), the problem "
            f"looks stiff: use method={STIFF_METHOD!r}."
        )
    lines.append("Pass throw=False to get the partial solution with per-sample status.")
    return "\n".join(lines)
