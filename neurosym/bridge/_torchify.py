"""sympy expressions as torch functions, through an explicit whitelist.

``sympy.lambdify`` builds Python source and runs ``exec`` on it; expressions here may come
from untrusted rule files, so :class:`TorchExpr` walks the sympy tree once and composes
closures over a fixed table of torch operations instead. Anything outside the table is a
clear error that names it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, final

import sympy
import torch
from torch import Tensor

from neurosym.errors import ConfigurationError

__all__ = ["TORCH_FUNCTIONS", "TorchExpr"]

_Fn = Callable[[Mapping[str, Tensor]], Tensor | float]

TORCH_FUNCTIONS: Mapping[type, Callable[..., Tensor]] = MappingProxyType(
    {
        sympy.sin: torch.sin,
        sympy.cos: torch.cos,
        sympy.tan: torch.tan,
        sympy.asin: torch.asin,
        sympy.acos: torch.acos,
        sympy.atan: torch.atan,
        sympy.sinh: torch.sinh,
        sympy.cosh: torch.cosh,
        sympy.tanh: torch.tanh,
        sympy.exp: torch.exp,
        sympy.log: torch.log,
        sympy.Abs: torch.abs,
        sympy.sign: torch.sign,
    }
)
"""The sympy functions with a torch counterpart (the whitelist); Min/Max, powers and
undefined functions (neural terms) are handled by :class:`TorchExpr` itself."""


def _as_tensor(x: Tensor | float, like: Tensor) -> Tensor:
    return x if isinstance(x, Tensor) else torch.full_like(like, x)


@final
class TorchExpr:
    """A sympy expression compiled to a torch function of named tensors.

    Args:
        expr: the expression.
        functions: torch callables for the *undefined* sympy functions the expression
            may call (e.g. ``nn_force_net(x, v)`` → a module taking a ``(..., 2)`` tensor);
            each receives its arguments stacked on the last axis and must return a tensor
            of the arguments' shape without that axis (or with a trailing axis of size 1).

    Example:
        >>> import sympy, torch
        >>> x, k = sympy.symbols("x k")
        >>> f = TorchExpr(-k * x + sympy.sin(x) ** 2)
        >>> f.symbols
        ('k', 'x')
        >>> round(float(f({"x": torch.tensor(0.5), "k": torch.tensor(2.0)})), 6)
        -0.770151

    Raises:
        ConfigurationError: a function with no torch counterpart (named), or an undefined
            function with no callable given.
    """

    __slots__ = ("_fn", "expr", "symbols")

    def __init__(
        self,
        expr: sympy.Expr,
        *,
        functions: Mapping[str, Callable[[Tensor], Tensor]] | None = None,
    ) -> None:
        self.expr = expr
        self.symbols: tuple[str, ...] = tuple(sorted(s.name for s in expr.free_symbols))
        self._fn = self._build(expr, functions or {})

    def __call__(self, values: Mapping[str, Tensor]) -> Tensor:
        """Evaluate on tensors named by symbol (broadcast together)."""
        out = self._fn(values)
        if isinstance(out, Tensor):
            return out
        like = next(iter(values.values()), None)
        return torch.tensor(out) if like is None else torch.full_like(like, out)

    def __repr__(self) -> str:
        return f"TorchExpr({self.expr})"

    def _build(self, e: sympy.Basic, functions: Mapping[str, Callable[[Tensor], Tensor]]) -> _Fn:
        if isinstance(e, sympy.Symbol):
            name = e.name

            def symbol(v: Mapping[str, Tensor]) -> Tensor:
                try:
                    return v[name]
                except KeyError:
                    raise ConfigurationError(
                        f"no value for symbol {name!r}; the expression {self.expr} needs "
                        f"{', '.join(self.symbols)}"
                    ) from None

            return symbol
        if e.is_Number or e in (sympy.pi, sympy.E):
            c = float(e)
            return lambda v: c
        args = [self._build(a, functions) for a in e.args]
        if isinstance(e, sympy.Add):
            return lambda v: _fold(args, v, operator.add)
        if isinstance(e, sympy.Mul):
            return lambda v: _fold(args, v, operator.mul)
        if isinstance(e, sympy.Pow):
            base, exp = args
            p = e.args[1]
            if p == sympy.Rational(1, 2):
                return lambda v: _sqrt(base(v))
            if p.is_Integer:
                n = int(p)
                return lambda v: _ipow(base(v), n)
            return lambda v: _pow(base(v), exp(v))
        if isinstance(e, sympy.Min | sympy.Max):
            pick = torch.minimum if isinstance(e, sympy.Min) else torch.maximum

            def extremum(v: Mapping[str, Tensor]) -> Tensor | float:
                vals = [a(v) for a in args]
                like = next((x for x in vals if isinstance(x, Tensor)), None)
                if like is None:
                    return min(vals) if isinstance(e, sympy.Min) else max(vals)
                out = _as_tensor(vals[0], like)
                for x in vals[1:]:
                    out = pick(out, _as_tensor(x, like))
                return out

            return extremum
        func = e.func
        if func in TORCH_FUNCTIONS:
            op = TORCH_FUNCTIONS[func]
            (arg,) = args

            def apply(v: Mapping[str, Tensor]) -> Tensor | float:
                a = arg(v)
                if isinstance(a, Tensor):
                    return op(a)
                # A constant argument (sympy keeps sin(2) unevaluated): computed in float64
                # and kept a Python float, so it takes the dtype of the tensors it meets.
                return float(op(torch.tensor(a, dtype=torch.float64)))

            return apply
        if isinstance(e, sympy.core.function.AppliedUndef):
            name = str(func)
            if name not in functions:
                raise ConfigurationError(
                    f"the expression {self.expr} calls {name}(...), but no torch module was "
                    f"given for it; pass functions={{{name!r}: module}}"
                )
            module = functions[name]

            def call(v: Mapping[str, Tensor]) -> Tensor:
                xs = [a(v) for a in args]
                like = next(x for x in xs if isinstance(x, Tensor))
                out = module(torch.stack([_as_tensor(x, like) for x in xs], dim=-1))
                return out.squeeze(-1) if out.dim() == like.dim() + 1 else out

            return call
        raise ConfigurationError(
            f"{func} in {self.expr} has no torch counterpart; supported: +, -, *, /, powers, "
            "min, max, " + ", ".join(sorted(str(f) for f in TORCH_FUNCTIONS))
        )


def _fold(
    args: Sequence[_Fn], v: Mapping[str, Tensor], op: Callable[[Any, Any], Any]
) -> Tensor | float:
    out: Tensor | float = args[0](v)
    for a in args[1:]:
        out = op(out, a(v))
    return out


def _sqrt(x: Tensor | float) -> Tensor | float:
    # Constants too as torch computes them: nan for sqrt(1 - pi), never a complex number.
    return torch.sqrt(x) if isinstance(x, Tensor) else _pow(x, 0.5)


def _ipow(x: Tensor | float, n: int) -> Tensor | float:
    return x**n if isinstance(x, Tensor) else _pow(x, float(n))  # 0.0 ** -1 is inf, not raise


def _pow(a: Tensor | float, b: Tensor | float) -> Tensor | float:
    if isinstance(a, Tensor):
        return torch.pow(a, b)  # a Python exponent keeps the base's precision
    if isinstance(b, Tensor):
        return torch.pow(a, b)
    # As torch does for tensors: nan for a negative base and a fractional exponent
    # (sympy keeps (-1)**(1/3) unevaluated; Python's ** would give a complex number).
    return float(torch.pow(torch.tensor(a, dtype=torch.float64), b))
