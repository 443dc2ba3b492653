"""Arithmetic of the rule language as sympy expressions, built node by node.

Rule files are untrusted, so their text never reaches ``sympy.sympify`` (which calls
``eval``): every sympy object here is constructed from an AST node, and function names go
through the explicit :data:`FUNCTIONS` table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import sympy

from neurosym.errors import ConfigurationError

from . import _ast as A

__all__ = ["FUNCTIONS", "to_sympy"]

FUNCTIONS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {
        "sin": sympy.sin,
        "cos": sympy.cos,
        "tan": sympy.tan,
        "asin": sympy.asin,
        "acos": sympy.acos,
        "atan": sympy.atan,
        "sinh": sympy.sinh,
        "cosh": sympy.cosh,
        "tanh": sympy.tanh,
        "exp": sympy.exp,
        "log": sympy.log,
        "sqrt": sympy.sqrt,
        "abs": sympy.Abs,
        "sign": sympy.sign,
        "min": sympy.Min,
        "max": sympy.Max,
    }
)
"""The functions arithmetic may call, by name (the whitelist)."""

DER = sympy.Function("der")
"""``der(e)`` in laws becomes this undefined sympy function applied to ``e``."""


def to_sympy(e: A.Expr, *, symbols: Mapping[str, sympy.Symbol] | None = None) -> sympy.Expr:
    """Build the sympy expression of an arithmetic AST node.

    Variables and constants become ``sympy.Symbol`` of the same name (or the given
    ``symbols``); ``nn(net)`` becomes an undefined function ``nn_net`` of its inputs (of
    nothing when it has none, a symbol ``nn_net``).

    Example:
        >>> from neurosym.lang import parse_expr_text
        >>> to_sympy(parse_expr_text("W / H^2"))
        W/H**2

    Raises:
        ConfigurationError: an unknown function or a wrong number of arguments, a string
            or list in arithmetic, or an aggregate (which has no closed form).
    """
    table = dict(symbols or {})

    def sym(name: str) -> sympy.Symbol:
        if name not in table:
            table[name] = sympy.Symbol(name)
        return table[name]

    def go(x: A.Expr) -> sympy.Expr:
        if isinstance(x, A.Number):
            if isinstance(x.value, int):
                return sympy.Integer(x.value)
            return sympy.Float(x.value)
        if isinstance(x, A.Var | A.Const):
            return sym(x.name)
        if isinstance(x, A.BinOp):
            a, b = go(x.left), go(x.right)
            if x.op == "+":
                return sympy.Add(a, b)
            if x.op == "-":
                return sympy.Add(a, sympy.Mul(sympy.Integer(-1), b))
            if x.op == "*":
                return sympy.Mul(a, b)
            if x.op == "/":
                return sympy.Mul(a, sympy.Pow(b, sympy.Integer(-1)))
            return sympy.Pow(a, b)
        if isinstance(x, A.Neg):
            return sympy.Mul(sympy.Integer(-1), go(x.operand))
        if isinstance(x, A.Call):
            if x.func not in FUNCTIONS:
                raise ConfigurationError(
                    f"unknown function {x.func!r} in arithmetic; "
                    f"the functions are {', '.join(sorted(FUNCTIONS))}"
                )
            variadic = x.func in {"min", "max"}
            if (variadic and not x.args) or (not variadic and len(x.args) != 1):
                wanted = "at least one argument" if variadic else "exactly one argument"
                raise ConfigurationError(f"{x.func}(...) takes {wanted}, got {len(x.args)}")
            return FUNCTIONS[x.func](*(go(a) for a in x.args))
        if isinstance(x, A.Der):
            return DER(go(x.expr))
        if isinstance(x, A.NnRef):
            if not x.inputs:
                return sym(f"nn_{x.net}")
            return sympy.Function(f"nn_{x.net}")(*(go(i) for i in x.inputs))
        kind = type(x).__name__
        raise ConfigurationError(f"{kind} has no arithmetic value and no sympy form")

    return go(e)
