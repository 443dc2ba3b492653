"""Distillation of a learned vector field, and discovery from data, as sparse sympy equations.

``distill`` evaluates a field (a torch module or callable ``f(t, y)``) at given states, so
the derivatives are exact, and fits a sparse combination of library terms to them.
``discover`` starts from sampled trajectories instead and builds the regression from the
weak form (default) or Savitzky–Golay derivatives (see :mod:`._sparse`). Both return
equations ``Eq(der(x_i), rhs_i)`` that print as rule-language text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias, final

import numpy as np
import sympy
import torch
from numpy.typing import NDArray
from torch import Tensor

from neurosym.errors import ConfigurationError
from neurosym.lang._sympy import DER
from neurosym.ode import NeuralODE

from ._equations import rule_text
from ._library import Library, as_symbols
from ._sparse import Array, default_width, savgol, sparse_regression, weak_form
from ._torchify import TorchExpr

__all__ = ["Distilled", "discover", "distill"]

StatesLike: TypeAlias = Tensor | NDArray[np.float64] | Sequence[Tensor | NDArray[np.float64]]


@final
@dataclass(frozen=True, slots=True, eq=False)
class Distilled:
    """A sparse symbolic model of a vector field.

    Attributes:
        names: the state names, in column order.
        terms: the library terms (sympy), in row order of :attr:`coefficients`.
        coefficients: ``(J, D)`` array; column ``i`` gives ``der(names[i])``.
        residual: ``(D,)`` relative residual ``‖b - G ξ‖ / ‖b‖`` of each state's fit.
        threshold: ``(D,)`` STLSQ threshold used for each state (a share of ``‖b‖``).
        equations: ``Eq(der(x_i), rhs_i)``, one per state.
    """

    names: tuple[str, ...]
    terms: tuple[sympy.Expr, ...]
    coefficients: Array
    residual: Array
    threshold: Array
    equations: tuple[sympy.Eq, ...]

    @property
    def library(self) -> tuple[str, ...]:
        """The library's term names."""
        return tuple(str(t) for t in self.terms)

    def to_rules(self, *, digits: int | None = None) -> str:
        """Rule-language text ``state ...`` and ``der(x) = ...`` that ``neurosym.parse`` reads.

        Args:
            digits: round coefficients to this many significant digits (default: exact).
        """
        return rule_text(self.equations, digits=digits)

    @property
    def field(self) -> Callable[[Tensor, Tensor], Tensor]:
        """The distilled field ``f(t, y)`` for :func:`neurosym.ode.solve` (``y``: ``(B, D)``)."""
        exprs = [TorchExpr(eq.rhs) for eq in self.equations]
        names = self.names

        def f(t: Tensor, y: Tensor) -> Tensor:
            values = {n: y[..., i] for i, n in enumerate(names)}
            return torch.stack([e(values).expand(y.shape[:-1]) for e in exprs], dim=-1)

        return f


def _equations(
    names: Sequence[str], terms: Sequence[sympy.Expr], coef: Array
) -> tuple[sympy.Eq, ...]:
    out = []
    for i, n in enumerate(names):
        rhs = sympy.Add(*(sympy.Float(float(c)) * t for c, t in zip(coef[:, i], terms) if c != 0.0))
        out.append(sympy.Eq(DER(sympy.Symbol(n)), rhs))
    return tuple(out)


def _build(
    names: tuple[str, ...],
    library: Library,
    g: Array,
    b: Array,
    threshold: float | None,
    ridge: float,
    select: Literal["bic", "residual"],
) -> Distilled:
    if not ridge >= 0:
        raise ConfigurationError(f"ridge must be >= 0, got {ridge}")
    if threshold is not None and not threshold >= 0:
        raise ConfigurationError(f"threshold must be >= 0 (a share of ‖b‖), got {threshold}")
    coef, used = sparse_regression(g, b, threshold=threshold, ridge=ridge, select=select)
    res = np.linalg.norm(b - g @ coef, axis=0) / np.maximum(np.linalg.norm(b, axis=0), 1e-300)
    eqs = _equations(names, library.terms, coef)
    return Distilled(names, library.terms, coef, res, used, eqs)


def _as_array(x: object, what: str) -> Array:
    if isinstance(x, Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    arr = np.asarray(x, dtype=np.float64)
    return arr


def _names_and_library(
    dim: int, names: Sequence[str] | None, library: Library | None
) -> tuple[tuple[str, ...], Library]:
    syms = as_symbols(names if names is not None else [f"x{i}" for i in range(dim)])
    if len(syms) != dim:
        raise ConfigurationError(f"the states have {dim} columns but names= gives {len(syms)}")
    lib = library if library is not None else Library.polynomial(syms, degree=2)
    unknown = lib.symbols - {s.name for s in syms}
    if unknown:
        raise ConfigurationError(
            f"the library uses {', '.join(sorted(unknown))}, which are not states "
            f"({', '.join(s.name for s in syms)})"
        )
    return tuple(s.name for s in syms), lib


def distill(
    model_or_field: NeuralODE | Callable[[Tensor, Tensor], Tensor],
    states: Tensor | NDArray[np.float64],
    *,
    names: Sequence[str] | None = None,
    library: Library | None = None,
    t: float = 0.0,
    threshold: float | None = None,
    ridge: float = 0.0,
) -> Distilled:
    """Fit sparse symbolic equations to a learned vector field.

    The field is evaluated at ``states`` (no differentiation of data: the field gives the
    derivatives), then each ``der(x_i)`` is fitted by STLSQ over the library.

    Args:
        model_or_field: a :class:`~neurosym.ode.NeuralODE` (its field is used) or any
            callable ``f(t, y)`` taking ``t`` ``(N, 1)`` and ``y`` ``(N, D)``.
        states: where to evaluate the field, ``(N, D)`` (e.g. the training states).
        names: state names (default ``x0, x1, ...``).
        library: candidate terms (default: polynomials of degree 2 with a constant).
        t: the time at which the field is evaluated (for autonomous fields it is unused).
        threshold: the STLSQ threshold as a share of ``‖der(x_i)‖``; ``None`` sweeps a grid
            and keeps the sparsest support whose relative residual is within 10% of the
            best one's (the field's values are exact, so what is left is the network's own
            error, which an information criterion would happily fit with extra terms).
        ridge: ridge penalty on the normalised columns during thresholding.

    Returns:
        The :class:`Distilled` model.

    Raises:
        ConfigurationError: states not ``(N, D)``, names or library not matching, too
            few states for the library, or a field output of the wrong shape.

    Example:
        >>> import torch
        >>> y = torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> field = lambda t, y: torch.stack([y[:, 1], -y[:, 0] - 0.2 * y[:, 1]], dim=1)
        >>> print(distill(field, y, names=["x", "v"]).to_rules(digits=6))
        state x, v.
        der(x) = 1.0 * v.
        der(v) = -1.0 * x - 0.2 * v.
    """
    f = model_or_field.field if isinstance(model_or_field, NeuralODE) else model_or_field
    if not callable(f):
        raise ConfigurationError(
            f"expected a NeuralODE or a callable f(t, y), got {type(f).__name__}"
        )
    y = torch.as_tensor(states).detach()
    if y.ndim != 2:
        raise ConfigurationError(f"states must be (N, D), got shape {tuple(y.shape)}")
    dtype = y.dtype if y.is_floating_point() else torch.float64
    params = list(f.parameters()) if isinstance(f, torch.nn.Module) else []
    if params:
        dtype = params[0].dtype
    y = y.to(dtype)
    with torch.no_grad():
        out = f(torch.full((y.shape[0], 1), float(t), dtype=dtype), y)
    if not isinstance(out, Tensor) or tuple(out.shape) != tuple(y.shape):
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ConfigurationError(f"the field returned {shape} for states {tuple(y.shape)}")
    names_, lib = _names_and_library(y.shape[1], names, library)
    y64 = _as_array(y, "states")
    g = lib.evaluate({n: y64[:, i] for i, n in enumerate(names_)})
    return _build(names_, lib, g, _as_array(out, "field"), threshold, ridge, "residual")


def _trajectories(states: StatesLike, t: object) -> tuple[list[Array], list[Array]]:
    xs = (
        [_as_array(s, "states") for s in states]
        if isinstance(states, list | tuple)
        else [_as_array(states, "states")]
    )
    ts_in = t if isinstance(t, list | tuple) else [t] * len(xs)
    if len(ts_in) != len(xs):
        raise ConfigurationError(f"{len(xs)} trajectories but {len(ts_in)} time arrays")
    ts = [_as_array(tt, "t") for tt in ts_in]
    for x in xs:
        if x.ndim != 2 or x.shape[1] != xs[0].shape[1]:
            raise ConfigurationError(
                f"each trajectory must be (T, D) with the same D, got {x.shape}"
            )
    return xs, ts


def discover(
    states: StatesLike,
    t: Tensor | NDArray[np.float64] | Sequence[Tensor | NDArray[np.float64]],
    *,
    names: Sequence[str] | None = None,
    library: Library | None = None,
    method: Literal["weak", "savgol"] = "weak",
    width: int | None = None,
    threshold: float | None = None,
    ridge: float = 0.0,
) -> list[sympy.Eq]:
    """Discover sparse equations ``der(x_i) = rhs_i`` directly from sampled trajectories.

    Args:
        states: a ``(T, D)`` array or tensor, or a list of them (several trajectories).
        t: the ``(T,)`` sample times (one array shared by all, or one per trajectory).
        names: state names (default ``x0, x1, ...``).
        library: candidate terms (default: polynomials of degree 2 with a constant).
        method: ``"weak"`` (integral form against test functions; default, best with
            noise) or ``"savgol"`` (Savitzky–Golay derivatives; needs uniform ``t``).
        width: window in samples. Default for ``"weak"``: 0.2 of the data's median
            period (from the spectrum), odd, at least 7; for ``"savgol"``: 9 (see
            docs/distill.md for how these were chosen).
        threshold: STLSQ threshold (share of the target norm); ``None`` sweeps with BIC.
        ridge: ridge penalty during thresholding.

    Returns:
        One ``sympy.Eq(der(x_i), rhs_i)`` per state.

    Raises:
        ConfigurationError: shapes that do not match, unordered ``t``, too few samples.

    Example:
        >>> from neurosym.ode import damped_oscillator
        >>> tr = damped_oscillator(noise=0.01, seed=0)
        >>> eqs = discover(tr.states, tr.t, names=tr.names)
        >>> [sorted(map(str, e.rhs.free_symbols)) for e in eqs]
        [['v'], ['v', 'x']]
    """
    xs, ts = _trajectories(states, t)
    names_, lib = _names_and_library(xs[0].shape[1], names, library)
    if method == "weak":
        thetas = [lib.evaluate({n: x[:, i] for i, n in enumerate(names_)}) for x in xs]
        g, b = weak_form(ts, thetas, xs, width=width or default_width(ts, xs))
    elif method == "savgol":
        gs, bs = [], []
        for x, tt in zip(xs, ts):
            smooth, dx = savgol(tt, x, width=width or 9)
            gs.append(lib.evaluate({n: smooth[:, i] for i, n in enumerate(names_)}))
            bs.append(dx)
        g, b = np.concatenate(gs), np.concatenate(bs)
    else:
        raise ConfigurationError(f"method must be 'weak' or 'savgol', got {method!r}")
    return list(_build(names_, lib, g, b, threshold, ridge, "bic").equations)
