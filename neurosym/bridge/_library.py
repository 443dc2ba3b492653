"""Candidate-term libraries for sparse regression: sympy terms evaluated on data.

A library is an ordered tuple of sympy expressions over the state symbols (monomials,
products, any user term such as ``sin(x)``). Terms are evaluated through the explicit
torch whitelist of :class:`~neurosym.bridge._torchify.TorchExpr`, never through
``lambdify``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import final

import numpy as np
import sympy
import torch
from numpy.typing import NDArray

from neurosym.errors import ConfigurationError

from ._torchify import TorchExpr

__all__ = ["Library", "as_symbols"]


def as_symbols(names: Iterable[str | sympy.Symbol]) -> tuple[sympy.Symbol, ...]:
    """State names or symbols as a tuple of distinct ``sympy.Symbol``."""
    out: list[sympy.Symbol] = []
    for n in names:
        if isinstance(n, sympy.Symbol):
            out.append(n)
        elif isinstance(n, str) and n.isidentifier():
            out.append(sympy.Symbol(n))
        else:
            raise ConfigurationError(
                f"a state name must be an identifier string or a sympy.Symbol, got {n!r}"
            )
    if len(set(out)) != len(out):
        raise ConfigurationError(f"state names must be distinct, got {[s.name for s in out]}")
    return tuple(out)


@final
@dataclass(frozen=True, slots=True)
class Library:
    """An ordered set of candidate terms (sympy expressions) for sparse regression.

    Args:
        terms: the candidate terms; numbers are allowed (``1`` is the constant term).
            Duplicates are an error.

    Example:
        >>> import sympy
        >>> x, v = sympy.symbols("x v")
        >>> lib = Library.polynomial([x, v], degree=2) + Library((sympy.sin(x),))
        >>> lib.names
        ('1', 'x', 'v', 'x**2', 'v*x', 'v**2', 'sin(x)')
        >>> import torch
        >>> lib.evaluate({"x": torch.tensor([2.0]), "v": torch.tensor([3.0])})[0, :6]
        array([1., 2., 3., 4., 6., 9.])

    Raises:
        ConfigurationError: no terms, a duplicate term, or a term that is not a sympy
            expression.
    """

    terms: tuple[sympy.Expr, ...]

    def __post_init__(self) -> None:
        terms = tuple(sympy.Integer(t) if isinstance(t, int) else t for t in self.terms)
        for t in terms:
            if not isinstance(t, sympy.Expr):
                raise ConfigurationError(
                    f"library terms must be sympy expressions, got {t!r} ({type(t).__name__})"
                )
        if not terms:
            raise ConfigurationError("a library needs at least one term")
        if len(set(terms)) != len(terms):
            dup = sorted({str(t) for t in terms if terms.count(t) > 1})
            raise ConfigurationError(f"duplicate library terms: {', '.join(dup)}")
        object.__setattr__(self, "terms", terms)

    @classmethod
    def polynomial(
        cls, states: Sequence[str | sympy.Symbol], degree: int = 2, *, constant: bool = True
    ) -> Library:
        """All monomials of the states up to ``degree`` (graded, in the states' order).

        Args:
            states: state names or symbols.
            degree: the highest total degree (>= 1).
            constant: include the constant term ``1``.

        Returns:
            The library.

        Raises:
            ConfigurationError: for a degree below 1 or bad state names.
        """
        if not isinstance(degree, int) or degree < 1:
            raise ConfigurationError(f"degree must be an int >= 1, got {degree!r}")
        syms = as_symbols(states)
        terms: list[sympy.Expr] = [sympy.Integer(1)] if constant else []
        for d in range(1, degree + 1):
            for combo in itertools.combinations_with_replacement(syms, d):
                terms.append(sympy.Mul(*combo))
        return cls(tuple(terms))

    def __add__(self, other: Library) -> Library:
        if not isinstance(other, Library):
            return NotImplemented
        return Library(self.terms + tuple(t for t in other.terms if t not in self.terms))

    def __len__(self) -> int:
        return len(self.terms)

    @property
    def names(self) -> tuple[str, ...]:
        """The terms as text (sympy's printing)."""
        return tuple(str(t) for t in self.terms)

    @property
    def symbols(self) -> frozenset[str]:
        """Names of the symbols the terms use."""
        return frozenset(s.name for t in self.terms for s in t.free_symbols)

    def evaluate(
        self, values: Mapping[str, torch.Tensor | NDArray[np.float64]]
    ) -> NDArray[np.float64]:
        """Evaluate every term on samples: ``(N,)`` arrays by name → an ``(N, K)`` matrix.

        Raises:
            ConfigurationError: a symbol without values, samples of unequal length, or a
                function outside the torch whitelist.
        """
        tensors = {
            k: torch.as_tensor(v, dtype=torch.float64).reshape(-1) for k, v in values.items()
        }
        lengths = {int(v.shape[0]) for v in tensors.values()}
        if len(lengths) != 1:
            raise ConfigurationError(f"all states need the same number of samples, got {lengths}")
        missing = self.symbols - set(tensors)
        if missing:
            raise ConfigurationError(
                f"the library uses {', '.join(sorted(missing))} but no values were given for "
                f"them; values were given for {', '.join(sorted(tensors))}"
            )
        (n,) = lengths
        cols = []
        with torch.no_grad():
            for t in self.terms:
                col = TorchExpr(t)(tensors) if t.free_symbols else None
                if col is None:
                    col = torch.full((n,), float(t), dtype=torch.float64)
                cols.append(col.to(torch.float64).reshape(n))
        out: NDArray[np.float64] = torch.stack(cols, dim=1).numpy()
        return out
