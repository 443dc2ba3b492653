"""The solver interface, Butcher tableaux and the generic explicit Runge–Kutta step."""

from __future__ import annotations

import abc
import dataclasses
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, final

import torch
from torch import Tensor

from ._interpolation import hermite_coefficients, hermite_cubic

__all__ = [
    "AbstractExplicitRK",
    "AbstractSolver",
    "ButcherTableau",
    "Field",
    "StepResult",
    "axpy",
    "combined_error",
]

Field = Callable[[Tensor, Tensor], Tensor]
"""A vector field ``f(t, y)``: ``t`` of shape ``(batch, 1)``, ``y`` of shape ``(batch, dim)``."""


@final
@dataclass(frozen=True, slots=True, eq=False)
class StepResult:
    """One attempted step for a whole batch.

    Attributes:
        y0: state at the start, ``(batch, dim)``.
        y1: proposed state at the end.
        y_err: embedded error estimate (``None`` for solvers without one).
        f0: vector field at the start.
        f1: vector field at the end (``None`` when the solver does not provide it).
        h: step sizes, ``(batch, 1)``, or one float shared by the batch.
        stages: stage derivatives ``(stages, batch, dim)`` for solver-specific dense
            output, or ``None``; :meth:`AbstractSolver.complete_dense` appends the extra
            stages of a continuous extension that needs them.
        y_err_low: a second, lower-order error estimate, or ``None``: when present the
            error norm is DOP853's combination of both (see :func:`combined_error`).
    """

    y0: Tensor
    y1: Tensor
    y_err: Tensor | None
    f0: Tensor
    f1: Tensor | None
    h: Tensor | float
    stages: Tensor | None = None
    y_err_low: Tensor | None = None


def combined_error(r: Tensor, r_low: Tensor) -> Tensor:
    """DOP853's error norm ``r² / √(r² + 0.01 r_low²)`` (0 where both are 0).

    ``r`` and ``r_low`` are the scaled norms of the fifth- and third-order estimates
    (each ``h`` times a combination of the stages): the third-order one is large where
    the fifth-order one underestimates the error, and the result is ``O(h^8)`` (Hairer,
    Nørsett & Wanner, Solving ODEs I, and Hairer's ``dop853.f``). Hairer writes it as
    ``|h| err5 / √(n (err5 + 0.01 err3))`` over sums of squares without ``h``; with ``h``
    inside both estimates and RMS norms the two agree.
    """
    den = r.square().add_(r_low.square(), alpha=0.01)
    den = torch.where(den > 0, den, 1.0)
    return r.square().div_(den.sqrt_())


class AbstractSolver(abc.ABC):
    """A one-step method. Subclasses are final and configured, never overridden.

    Attributes:
        order: the order of the propagated solution.
        error_order: the order of the embedded estimate, or ``None`` for fixed-step
            methods (the step controller uses it for its exponent).
        dense_order: the order of the dense output between step ends (3 for the cubic
            Hermite). When it is at most half of ``order`` the adaptive loop clamps steps
            to end on the output times instead of interpolating (see ``clamps_to_outputs``).
        name: the alias used in messages.
    """

    order: ClassVar[int]
    error_order: ClassVar[int | None]
    dense_order: ClassVar[int] = 3
    name: ClassVar[str]
    implicit: ClassVar[bool] = False

    @property
    @abc.abstractmethod
    def provides_f1(self) -> bool:
        """Whether :meth:`step` returns ``f`` at the end of the step (reused next step)."""

    @abc.abstractmethod
    def step(self, f: Field, t: Tensor, y: Tensor, f0: Tensor, h: Tensor) -> StepResult:
        """Attempt one step of size ``h`` (shape ``(batch, 1)``) from ``(t, y)``.

        Args:
            f: the vector field.
            t: current times, ``(batch, 1)``.
            y: current states, ``(batch, dim)``.
            f0: ``f(t, y)``, already evaluated.
            h: step sizes, ``(batch, 1)``; each sample may have its own.

        Returns:
            The proposed step; the caller decides acceptance.
        """

    @property
    def clamps_to_outputs(self) -> bool:
        """Whether adaptive steps end exactly on output times instead of interpolating.

        True when the dense output is at most half the method's order (Dopri8's quartic
        against its eighth-order steps): interpolating there would lose most of the
        accuracy the steps achieve, so each output time becomes a step end instead.
        """
        return self.dense_order <= self.order // 2

    def complete_dense(self, f: Field, t: Tensor, step: StepResult) -> StepResult:
        """The step made ready for its dense output: the extra stages of a continuous
        extension that needs them, evaluated with ``f`` (DOP853's three).

        The loops call it only for steps whose dense output they use, so the extra field
        evaluations are paid only there. For every other solver it returns ``step``
        unchanged; calling it again on a completed step changes nothing.

        Args:
            f: the vector field.
            t: the step's start times, ``(batch, 1)``.
            step: an accepted step.

        Returns:
            The step with every stage its dense output reads.
        """
        return step

    def interpolate(self, step: StepResult, theta: Tensor) -> Tensor:
        """Dense output inside an accepted step at positions ``theta`` ``(batch, 1)``.

        Args:
            step: the accepted step.
            theta: normalised positions in ``[0, 1]``.

        Returns:
            The interpolated states ``(batch, dim)``.

        Raises:
            NotImplementedError: for a solver without a derivative at the step's end.
        """
        if step.f1 is None:
            raise NotImplementedError(f"{self.name} has no dense output (no f at step end)")
        return hermite_cubic(step.y0, step.y1, step.f0, step.f1, step.h, theta)

    def dense_coefficients(self, step: StepResult) -> Tensor:
        """The dense output of an accepted step as a polynomial in ``theta``.

        Args:
            step: the accepted step.

        Returns:
            ``C`` of shape ``(P, batch, dim)`` with ``y(θ) = y0 + Σ_p θ^(p+1) C[p]``.

        Raises:
            NotImplementedError: for a solver without a derivative at the step's end.
        """
        if step.f1 is None:
            raise NotImplementedError(f"{self.name} has no dense output (no f at step end)")
        return hermite_coefficients(step.y0, step.y1, step.f0, step.f1, step.h)

    def interpolate_many(self, step: StepResult, theta: Tensor) -> Tensor:
        """Dense output at several positions per sample.

        Args:
            step: the accepted step.
            theta: normalised positions ``(batch, m)`` in ``[0, 1]``.

        Returns:
            The interpolated states ``(batch, m, dim)``.
        """
        cols = [self.interpolate(step, theta[:, j : j + 1]) for j in range(theta.shape[1])]
        return torch.stack(cols, 1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@final
@dataclass(frozen=True, slots=True)
class ButcherTableau:
    """Coefficients of an explicit Runge–Kutta method.

    Attributes:
        c: the nodes, one per stage (``c[0] == 0``).
        a: the strictly lower triangular matrix, row ``i`` holding ``i`` entries.
        b: the weights of the propagated solution.
        b_err: weights of the error estimate (solution minus embedded solution), or
            ``None``.
        c_mid: weights giving the solution at the middle of the step, for a quartic dense
            output, or ``None`` for cubic Hermite.
        dense: the method's own continuous extension, as rows ``P[j]`` with
            ``y(θ) = y0 + h Σ_j θ^(j+1) Σ_i P[j][i] k_i`` (overrides ``c_mid``), or
            ``None``. With ``dense_c`` its rows weigh the extra stages too.
        b_err_low: weights of a second, lower-order error estimate combined with
            ``b_err`` as DOP853 does (:func:`combined_error`), or ``None``.
        dense_c: nodes of extra stages that only the continuous extension uses
            (evaluated by :meth:`AbstractSolver.complete_dense`), or empty.
        dense_a: their rows of ``a``, row ``i`` weighing the ``stages + i`` stages
            before it.
    """

    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    b_err: tuple[float, ...] | None = None
    c_mid: tuple[float, ...] | None = None
    dense: tuple[tuple[float, ...], ...] | None = None
    b_err_low: tuple[float, ...] | None = None
    dense_c: tuple[float, ...] = ()
    dense_a: tuple[tuple[float, ...], ...] = ()

    def __post_init__(self) -> None:
        s = len(self.c)
        if len(self.a) != s - 1 or any(len(r) != i + 1 for i, r in enumerate(self.a)):
            raise ValueError("a tableau's a must have rows of length 1, 2, ..., s-1")
        for name in ("b", "b_err", "c_mid", "b_err_low"):
            v = getattr(self, name)
            if v is not None and len(v) != s:
                raise ValueError(f"a tableau's {name} must have {s} entries, got {len(v)}")
        if self.b_err_low is not None and self.b_err is None:
            raise ValueError("a tableau's b_err_low needs b_err (it is combined with it)")
        n_extra = len(self.dense_c)
        if len(self.dense_a) != n_extra or any(len(r) != s + i for i, r in enumerate(self.dense_a)):
            raise ValueError(
                f"a tableau's dense_a must have {n_extra} rows of length {s}, {s + 1}, ..."
            )
        if n_extra and self.dense is None:
            raise ValueError("a tableau's dense_c needs dense rows that weigh its stages")
        if self.dense is not None and any(len(r) != s + n_extra for r in self.dense):
            raise ValueError(f"a tableau's dense rows must have {s + n_extra} entries each")

    @property
    def stages(self) -> int:
        """The number of stages."""
        return len(self.c)

    @property
    def fsal(self) -> bool:
        """First same as last: the last stage is evaluated at the new solution."""
        s = self.stages
        return (
            s > 1
            and self.c[-1] == 1.0
            and tuple(self.a[-1]) == tuple(self.b[: s - 1])
            and (self.b[-1] == 0.0)
        )


def _dense_matrix(tab: ButcherTableau) -> tuple[tuple[float, ...], ...] | None:
    """Rows ``P[j]`` with ``y(θ) = y0 + h Σ_j θ^(j+1) Σ_i P[j][i] k_i`` inside a step.

    The quartic through a midpoint value (when the tableau has ``c_mid``) or the cubic
    Hermite through both ends (first-same-as-last tableaux) are linear in the stages, so
    the dense output is one small matrix product over the stage buffer, for any number
    of output times at once. ``None`` when the method has neither.
    """
    if tab.dense is not None:
        return tab.dense
    s = tab.stages
    if not tab.fsal:
        return None
    e0 = [1.0] + [0.0] * (s - 1)
    el = [0.0] * (s - 1) + [1.0]
    d = e0
    u = [bi - e for bi, e in zip(tab.b, e0)]  # (y1 - y0 - h f0) / h
    v = [x - e for x, e in zip(el, e0)]  # (h f1 - h f0) / h
    if tab.c_mid is None:
        cub = [vi - 2 * ui for ui, vi in zip(u, v)]
        quad = [3 * ui - vi for ui, vi in zip(u, v)]
        return (tuple(d), tuple(quad), tuple(cub))
    w = [m - 0.5 * e for m, e in zip(tab.c_mid, e0)]  # (ymid - y0 - h f0 / 2) / h
    qa = [16 * wi + 2 * vi - 8 * ui for ui, vi, wi in zip(u, v, w)]
    qb = [vi - 2 * ui - 2 * ai for ui, vi, ai in zip(u, v, qa)]
    qc = [ui - ai - bi for ui, ai, bi in zip(u, qa, qb)]
    return (tuple(d), tuple(qc), tuple(qb), tuple(qa))


_Row = tuple[int, float, tuple[tuple[int, float], ...]]


def _sparse_row(row: tuple[float, ...]) -> _Row:
    nz = [(j, c) for j, c in enumerate(row) if c != 0.0]
    if not nz:
        # A stage at the step's start state: y + h · 0 · k0.
        return (0, 0.0, ())
    pivot, p = max(nz, key=lambda jc: abs(jc[1]))
    return (pivot, p, tuple((j, c / p) for j, c in nz if j != pivot))


def axpy(y: Tensor, h: Tensor | float, x: Tensor) -> Tensor:
    """``y + h * x`` in one kernel, for a per-sample ``(batch, 1)`` or a shared step."""
    if isinstance(h, Tensor):
        return torch.addcmul(y, h, x)
    return torch.add(y, x, alpha=h)


class AbstractExplicitRK(AbstractSolver):
    """An explicit Runge–Kutta method given by its :class:`ButcherTableau`.

    Stage inputs are chains over the nonzero tableau coefficients, the solution and
    error estimate share one matrix product over the stacked stages (fused tableau
    stages), and the dense output is one product of a small weight matrix with the same
    stages. The step size may be a ``(batch, 1)`` tensor or, when the whole batch shares
    it, a Python float (one kernel fewer per stage, no broadcasting).
    """

    tableau: ClassVar[ButcherTableau]

    def __init__(self) -> None:
        tab = self.tableau
        rows = [tab.b] + [r for r in (tab.b_err, tab.b_err_low) if r is not None]
        self._out = torch.tensor(rows, dtype=torch.float64)
        dense = _dense_matrix(tab)
        self._dense = None if dense is None else torch.tensor(dense, dtype=torch.float64)
        self._dense_list = dense
        self._dense_cols = () if dense is None else tuple(zip(*dense, strict=True))
        self._c = torch.tensor([tab.c], dtype=torch.float64)
        self._cache: dict[
            tuple[torch.dtype, torch.device], tuple[Tensor, Tensor, Tensor | None]
        ] = {}
        self._fsal = tab.fsal
        # Per stage: its row of a as a pivot (the largest coefficient) and the others
        # relative to it; the same for b.
        self._rows = tuple(_sparse_row(row) for row in tab.a)
        self._b = _sparse_row(tab.b)
        self._extra = tuple(_sparse_row(row) for row in tab.dense_a)

    @staticmethod
    def _chain(y: Tensor, h: Tensor | float, ks: list[Tensor], row: _Row) -> Tensor:
        # y + h Σ c k as (Σ (c/p) k) at the scale of the slopes, then one fused
        # y + (h p) · sum: one rounding at the scale of y (as a matrix product would),
        # and no tensor-scalar multiply (it costs twice a fused kernel on CPU).
        pivot, p, rest = row
        comb = ks[pivot]
        for j, r in rest:
            comb = torch.add(comb, ks[j], alpha=r)
        if isinstance(h, Tensor):
            return torch.addcmul(y, h, comb, value=p)
        return torch.add(y, comb, alpha=h * p)

    def _coeffs(self, like: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        key = (like.dtype, like.device)
        got = self._cache.get(key)
        if got is None:
            dense = None if self._dense is None else self._dense.to(like)
            got = (self._out.to(like), self._c.to(like), dense)
            if not torch.compiler.is_compiling():
                # (A traced solve makes fake tensors here: they must not outlive it.)
                self._cache[key] = got
        return got

    @property
    def provides_f1(self) -> bool:
        """Whether the last stage is the vector field at the new state (FSAL)."""
        return self._fsal

    def step(self, f: Field, t: Tensor, y: Tensor, f0: Tensor, h: Tensor | float) -> StepResult:
        """Attempt one explicit Runge–Kutta step (see :meth:`AbstractSolver.step`).

        ``h`` may also be a Python float shared by the batch.
        """
        tab = self.tableau
        s = tab.stages
        out, c, _ = self._coeffs(y)
        batch, dim = y.shape
        # All stage times in one kernel, (batch, stages).
        t_all = torch.addcmul(t, h, c) if isinstance(h, Tensor) else torch.add(t, c, alpha=h)
        # Each stage input is a short chain over the nonzero coefficients of its row: on
        # CPU this measured faster than a matrix product over a preallocated stage buffer
        # (98 vs 120 µs per Dopri5 step at batch 20 x 2, 153 vs 166 µs at 512 x 16, with
        # a trivial field), and it needs no in-place writes under autograd.
        t_cols = t_all.chunk(s, 1)
        ks = [f0]
        for i in range(1, s):
            ks.append(f(t_cols[i], self._chain(y, h, ks, self._rows[i - 1])))
        if self._dense is None and tab.b_err is None:
            # Fixed-step methods (RK4...): nothing needs the stages after the step.
            y1 = self._chain(y, h, ks, self._b)
            return StepResult(y0=y, y1=y1, y_err=None, f0=f0, f1=None, h=h)
        stack = torch.stack(ks)
        res = (out @ stack.view(s, -1)).view(-1, batch, dim)
        f1 = ks[-1]
        y1 = axpy(y, h, res[0])
        y_err = h * res[1] if tab.b_err is not None else None
        return StepResult(
            y0=y,
            y1=y1,
            y_err=y_err,
            f0=f0,
            f1=f1 if self._fsal else None,
            h=h,
            stages=stack,
            y_err_low=h * res[2] if tab.b_err_low is not None else None,
        )

    def complete_dense(self, f: Field, t: Tensor, step: StepResult) -> StepResult:
        """Evaluate the tableau's ``dense_c`` stages, if any (see
        :meth:`AbstractSolver.complete_dense`)."""
        tab = self.tableau
        stages = step.stages
        if not self._extra or stages is None or stages.shape[0] > tab.stages:
            return step
        h, y = step.h, step.y0
        ks = list(stages.unbind(0))
        for c, row in zip(tab.dense_c, self._extra):
            ks.append(f(t + h * c, self._chain(y, h, ks, row)))
        new = torch.stack(ks[tab.stages :])
        return dataclasses.replace(step, stages=torch.cat([stages, new]))

    def _dense_stages(self, step: StepResult, n: int) -> Tensor:
        # The dense rows weigh n stages (more than the step's with dense_c).
        stages = step.stages
        if stages is None or stages.shape[0] != n:
            raise RuntimeError(
                f"bug in neurosym.ode: dense output of a {self.name} step without its "
                "extra stages (call complete_dense first)"
            )
        return stages

    def interpolate(self, step: StepResult, theta: Tensor) -> Tensor:
        """Dense output: quartic through a midpoint value when the tableau has one, else
        cubic Hermite (see :meth:`AbstractSolver.interpolate`)."""
        return self.interpolate_many(step, theta)[:, 0]

    def dense_coefficients(self, step: StepResult) -> Tensor:
        """``h · (D · stages)``: one small matrix product (see
        :meth:`AbstractSolver.dense_coefficients`)."""
        dense = self._coeffs(step.y0)[2]
        if dense is None or step.stages is None:
            return super().dense_coefficients(step)
        stages = self._dense_stages(step, dense.shape[1])
        s, batch, dim = stages.shape
        q = (dense @ stages.view(s, -1)).view(-1, batch, dim)
        return q * step.h

    def interpolate_shared(self, step: StepResult, thetas: list[float]) -> Tensor:
        """Dense output at positions shared by the whole batch.

        With a Python-float step size this is one ``addmm`` over the stages: the weights
        ``h Σ_p θ^(p+1) D[p]`` of every position are computed on the host.

        Args:
            step: the accepted step.
            thetas: normalised positions in ``[0, 1]``.

        Returns:
            ``(len(thetas), batch, dim)``.
        """
        dense = self._dense_list
        if dense is None or step.stages is None or isinstance(step.h, Tensor):
            theta = step.y0.new_tensor(thetas).expand(step.y0.shape[0], -1)
            return self.interpolate_many(step, theta).transpose(0, 1)
        s, batch, dim = self._dense_stages(step, len(dense[0])).shape
        h = step.h
        weights = []
        for th in thetas:
            # h θ^(p+1) per power, then one dot product per stage (columns of D).
            scaled = [h * th ** (p + 1) for p in range(len(dense))]
            weights.append([sum(map(operator.mul, scaled, col)) for col in self._dense_cols])
        w = step.y0.new_tensor(weights)
        vals = torch.addmm(step.y0.reshape(1, -1), w, step.stages.reshape(s, -1))
        return vals.view(len(thetas), batch, dim)

    def interpolate_many(self, step: StepResult, theta: Tensor) -> Tensor:
        """Dense output at ``theta`` ``(batch, m)`` as one product over the stages.

        Returns:
            ``(batch, m, dim)``.
        """
        dense = self._coeffs(step.y0)[2]
        if dense is None or step.stages is None:
            return super().interpolate_many(step, theta)
        stages = self._dense_stages(step, dense.shape[1])
        s, batch, dim = stages.shape
        # y(θ) = y0 + h Σ_p θ^(p+1) Q_p with Q = dense · stages (one small matrix product),
        # evaluated by Horner for all m positions at once (no batched product over the
        # batch, which measured ~170 µs per step at 512 x 16).
        q = (dense @ stages.reshape(s, -1)).view(-1, batch, 1, dim)
        th = theta[..., None]
        comb = q[-1]
        for j in range(q.shape[0] - 2, -1, -1):
            comb = torch.addcmul(q[j], th, comb)
        comb = comb * th
        h = step.h[:, :, None] if isinstance(step.h, Tensor) else step.h
        return axpy(step.y0[:, None], h, comb)
