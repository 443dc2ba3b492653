"""``solve(..., compile=True)``: one step of an explicit Runge–Kutta method, field and
error norm included, compiled by ``torch.compile`` and reused across solves.

The step loops stay in Python (their host reads decide acceptance and outputs); what is
compiled is the straight-line tensor code of a step: every stage of the tableau, the
field at each stage, the solution, the error estimate and its scaled norm. Inductor
fuses the elementwise work between the field's matrix products into a few generated
kernels (C++ on the CPU, Triton on a GPU) and differentiates the whole as one graph.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar, final

import torch
from torch import Tensor

from neurosym.errors import ConfigurationError

from ._solver import AbstractExplicitRK, AbstractSolver, Field, StepResult

__all__ = [
    "CompiledFixedStep",
    "CompiledStep",
    "clear_compiled_steps",
    "compiled_fixed_step",
    "compiled_step",
]

_CACHE: OrderedDict[tuple[object, ...], CompiledStep | CompiledFixedStep] = OrderedDict()
_CACHE_SIZE = 8
_T = TypeVar("_T")


def clear_compiled_steps() -> None:
    """Drop every cached compiled step (and the field each one holds)."""
    _CACHE.clear()


@final
class CompiledStep:
    """A compiled ``(t, y, f0, h) -> (step, error ratio)`` for one field and solver.

    ``h`` must be a tensor (``(batch, 1)`` or 0-d): a Python float would be baked into
    the compiled code and recompile it at every new step size.
    """

    __slots__ = ("_fn", "evals")

    def __init__(
        self,
        f: Field,
        solver: AbstractExplicitRK,
        rtol_s: float,
        check_f1: bool,
        dynamic: bool = False,
    ) -> None:
        from ._integrate import _error_ratio

        def step(
            t: Tensor, y: Tensor, f0: Tensor, h: Tensor, atol_s: Tensor, zero: Tensor
        ) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None, Tensor]:
            res = solver.step(f, t, y, f0, h)
            with torch.no_grad():
                ratio = _error_ratio(res, (rtol_s, atol_s, zero), check_f1)
            return res.y1, res.f1, res.y_err, res.stages, ratio

        self._fn: Callable[..., tuple[Tensor, Tensor | None, Tensor | None, Tensor | None, Tensor]]
        # dynamic: batch sizes symbolic (compaction shrinks the batch; torch still
        # specialises sizes 0 and 1);
        # static shapes otherwise (faster code, recompiled only for new shapes).
        self._fn = torch.compile(step, dynamic=dynamic)
        # Field evaluations per step (the first stage is the given f0).
        self.evals = solver.tableau.stages - 1

    def __call__(
        self, t: Tensor, y: Tensor, f0: Tensor, h: Tensor, tol: tuple[float, Tensor, Tensor]
    ) -> tuple[StepResult, Tensor]:
        y1, f1, y_err, stages, ratio = _run(self._fn, t, y, f0, h, tol[1], tol[2])
        res = StepResult(y0=y, y1=y1, y_err=y_err, f0=f0, f1=f1, h=h, stages=stages)
        return res, ratio


def compiled_step(
    f: Field,
    solver: AbstractSolver,
    tol: tuple[float, Tensor, Tensor],
    check_f1: bool,
    dynamic: bool = False,
) -> CompiledStep:
    """The cached compiled step of ``f`` under ``solver`` (built on first use; the few
    most recent are kept, see :func:`clear_compiled_steps`)."""
    rk = _explicit(solver)
    key = (f, rk, tol[0], float(tol[1]), check_f1, tol[1].dtype, tol[1].device, dynamic)
    got = _cached(key, lambda: CompiledStep(f, rk, tol[0], check_f1, dynamic))
    if not isinstance(got, CompiledStep):
        raise RuntimeError("bug in neurosym.ode: compiled step cache mixed up")
    return got


@final
class CompiledFixedStep:
    """A compiled fixed step ``(t, y, f0, h) -> (y1, f(t1, y1) or None)``; ``f0`` is
    ``None`` for a method without a first-same-as-last stage (its first evaluation is
    compiled in too)."""

    __slots__ = ("_fn", "evals")

    def __init__(self, f: Field, solver: AbstractExplicitRK) -> None:
        def step(
            t: Tensor, y: Tensor, f0: Tensor | None, h: Tensor
        ) -> tuple[Tensor, Tensor | None]:
            res = solver.step(f, t, y, f(t, y) if f0 is None else f0, h)
            return res.y1, res.f1

        self._fn: Callable[..., tuple[Tensor, Tensor | None]] = torch.compile(step, dynamic=False)
        self.evals = solver.tableau.stages - (1 if solver.provides_f1 else 0)

    def __call__(
        self, t: Tensor, y: Tensor, f0: Tensor | None, h: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        return _run(self._fn, t, y, f0, h)


def compiled_fixed_step(f: Field, solver: AbstractSolver) -> CompiledFixedStep:
    """The cached compiled fixed step of ``f`` under ``solver``."""
    rk = _explicit(solver)
    got = _cached((f, rk, "fixed"), lambda: CompiledFixedStep(f, rk))
    if not isinstance(got, CompiledFixedStep):
        raise RuntimeError("bug in neurosym.ode: compiled step cache mixed up")
    return got


def _explicit(solver: AbstractSolver) -> AbstractExplicitRK:
    # solve() refuses compile=True for other solvers; reaching here otherwise is a bug.
    if not isinstance(solver, AbstractExplicitRK):
        raise RuntimeError("bug in neurosym.ode: compile=True needs an explicit RK solver")
    return solver


def _cached(
    key: tuple[object, ...], build: Callable[[], CompiledStep | CompiledFixedStep]
) -> CompiledStep | CompiledFixedStep:
    got = _CACHE.get(key)
    if got is None:
        got = build()
        _CACHE[key] = got
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return got


def _run(fn: Callable[..., _T], *args: object) -> _T:
    """Call a compiled function; a missing C++ compiler is a configuration error."""
    try:
        return fn(*args)
    except Exception as err:
        # (torch wraps it: InductorError / BackendCompilerFailed around InvalidCxxCompiler.)
        if "InvalidCxxCompiler" in f"{type(err).__name__}: {err}":
            raise ConfigurationError(
                "compile=True: torch.compile found no working C++ compiler to build the "
                "step (on the CPU it needs one, e.g. g++); solve without compile=True"
            ) from err
        raise
