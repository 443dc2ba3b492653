"""sympy → torch through the whitelist agrees with sympy's own numeric evaluation."""

from __future__ import annotations

import math

import pytest
import sympy
import torch

from neurosym.bridge._torchify import TorchExpr
from neurosym.errors import ConfigurationError

x, y, k = sympy.symbols("x y k")

CASES = {
    "polynomial": 3 * x**2 * y - 0.5 * y**3 + 2,
    "rational": (x + 1) / (y**2 + 1),
    "sqrt": sympy.sqrt(x**2 + y**2),
    "real power": (x**2 + 1) ** sympy.Rational(3, 2) + sympy.Abs(y) ** 0.7,
    "trig": sympy.sin(x) * sympy.cos(y) - sympy.tan(x / 4) + sympy.atan(y),
    "hyperbolic": sympy.tanh(x) + sympy.sinh(y / 3) - sympy.cosh(x / 5),
    "exp log": sympy.exp(-(x**2)) + sympy.log(1 + y**2),
    "min max": sympy.Min(x, y, 0.3) + sympy.Max(x * y, -1),
    "pi": sympy.pi * x - sympy.E,
    "sign": sympy.sign(x - y) * k,
}


@pytest.mark.parametrize("name", list(CASES))
def test_agrees_with_sympy(name: str) -> None:
    expr = CASES[name]
    g = torch.Generator().manual_seed(0)
    xs = torch.rand(20, generator=g, dtype=torch.float64) * 2 - 1
    ys = torch.rand(20, generator=g, dtype=torch.float64) * 2 - 1
    f = TorchExpr(expr)
    out = f({"x": xs, "y": ys, "k": torch.full_like(xs, 1.5)})
    for i in range(20):
        ref = float(expr.subs({x: float(xs[i]), y: float(ys[i]), k: 1.5}).evalf())
        assert math.isclose(float(out[i]), ref, rel_tol=1e-12, abs_tol=1e-12)


def test_gradients_flow() -> None:
    a = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    out = TorchExpr(sympy.sin(x) * x**2)({"x": a})
    out.backward()
    assert a.grad is not None
    assert math.isclose(float(a.grad), math.cos(0.7) * 0.49 + 2 * 0.7 * math.sin(0.7))


def test_neural_terms_call_the_given_module() -> None:
    nn_f = sympy.Function("nn_f")
    expr = -x + nn_f(x, y)
    with pytest.raises(ConfigurationError, match="nn_f"):
        TorchExpr(expr)
    f = TorchExpr(expr, functions={"nn_f": lambda z: z.sum(-1, keepdim=True) * 2})
    out = f({"x": torch.tensor([1.0, 2.0]), "y": torch.tensor([3.0, 4.0])})
    assert out.tolist() == [-1 + 8, -2 + 12]


def test_unsupported_function_is_named() -> None:
    with pytest.raises(ConfigurationError, match="gamma"):
        TorchExpr(sympy.gamma(x))


def test_missing_symbol_is_named() -> None:
    with pytest.raises(ConfigurationError, match="'y'"):
        TorchExpr(x + y)({"x": torch.tensor(1.0)})


def test_constant_expression_broadcasts() -> None:
    out = TorchExpr(sympy.Integer(3))({"x": torch.zeros(4)})
    assert out.tolist() == [3.0] * 4
