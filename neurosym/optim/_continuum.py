"""The ODE that an update rule approximates, derived symbolically (sympy).

An update rule writes ``x_{k+1}`` in terms of ``x_k``, ``x_{k−1}`` (and ``x_{k−2}``), the
step index ``k`` and a gradient ``∇f`` or vector field ``f`` evaluated at combinations of
them. Reading ``x_k = X(t)`` with ``t = (k + offset)·h`` and expanding every
``x_{k+j} = X(t + jh)`` and every ``∇f(X + δ)`` in Taylor series, the residual
``x_{k+1} − update`` becomes a power series in ``h``:

- its lowest-order coefficient, scaled so that the highest derivative of ``X`` has
  coefficient 1, is the **low-resolution** ODE (Su, Boyd & Candès 2014 for Nesterov;
  ``X' = f(X)`` for a residual network);
- keeping the next order as well (``O(h)`` after the scaling) gives the **high-resolution**
  ODE (Shi, Du, Jordan & Su 2018), or the *modified equation* of a numerical scheme
  (Lu, Zhong, Li & Dong 2018 for LM-ResNet).

The derivation runs on a scalar coordinate; every term that survives to the high-resolution
order is linear in the derivatives of ``X``, so ``hess_f(X)·X'`` reads as the
Hessian-vector product ``∇²f(X)X'`` in any dimension. Rules are sympy objects built in
Python; no text is ever parsed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, final

import sympy

from neurosym.errors import ConfigurationError

__all__ = [
    "GRAD_F",
    "HEAVY_BALL",
    "HESS_F",
    "JAC_F",
    "LM_RESNET",
    "NAG_C",
    "NESTEROV",
    "RESNET",
    "VECTOR_FIELD",
    "X_K",
    "X_KM1",
    "X_KM2",
    "ContinuumLimit",
    "K",
    "T",
    "UpdateRule",
    "X",
    "continuum_limit",
]

# The symbols an update rule is written with.
X_K = sympy.Symbol("x_k")
X_KM1 = sympy.Symbol("x_km1")
X_KM2 = sympy.Symbol("x_km2")
K = sympy.Symbol("k", positive=True)
GRAD_F = sympy.Function("grad_f")  # ∇f
VECTOR_FIELD = sympy.Function("f")  # a residual block's field

# The symbols the derived ODE is written with.
T = sympy.Symbol("t", positive=True)
X = sympy.Function("X")
HESS_F = sympy.Function("hess_f")  # ∇²f
JAC_F = sympy.Function("jac_f")  # the Jacobian of f
_THIRD = {GRAD_F: sympy.Function("d3f"), VECTOR_FIELD: sympy.Function("d2field")}
_FIRST = {GRAD_F: HESS_F, VECTOR_FIELD: JAC_F}

_ORDER = 5  # Taylor terms kept: enough for two orders beyond any leading term used here


@final
@dataclass(frozen=True)
class UpdateRule:
    """An iteration ``x_{k+1} = update`` written with sympy symbols.

    Attributes:
        name: a label for printing.
        update: ``x_{k+1}`` as an expression in :data:`X_K`, :data:`X_KM1`,
            :data:`X_KM2`, :data:`K`, ``GRAD_F(...)`` / ``VECTOR_FIELD(...)`` and parameters.
        time_step: the time ``h`` one iteration spans, in the rule's parameters
            (``sqrt(s)`` for accelerated methods with step size ``s``, ``s`` for a
            gradient flow reading); it must contain exactly one symbol.
        offset: iteration ``k`` sits at time ``t = (k + offset)·h``.

    Raises:
        ConfigurationError: ``update`` or ``time_step`` is not a sympy expression, or
            ``update`` does not use :data:`X_K`, or ``time_step`` does not contain exactly
            one symbol.
    """

    name: str
    update: sympy.Expr
    time_step: sympy.Expr
    offset: sympy.Expr = field(default=sympy.Integer(0))

    def __post_init__(self) -> None:
        for what in ("update", "time_step", "offset"):
            value = getattr(self, what)
            if not isinstance(value, sympy.Expr):
                raise ConfigurationError(
                    f"UpdateRule.{what} must be a sympy expression, got "
                    f"{type(value).__name__}: build it from sympy symbols, not text"
                )
        if X_K not in self.update.free_symbols:
            raise ConfigurationError(
                f"UpdateRule.update must be written in X_K (the symbol x_k), and X_KM1, X_KM2 "
                f"for earlier iterates; got {self.update!r}"
            )
        if len(self.time_step.free_symbols) != 1:
            raise ConfigurationError(
                f"UpdateRule.time_step must contain exactly one symbol (the step size), got "
                f"{self.time_step!r}"
            )


_S, _MU, _KN, _H = sympy.symbols("s mu k_n h", positive=True)

# Heavy ball with Shi et al.'s momentum (1 − √(μs))/(1 + √(μs)), time step √s.
_BETA_SC = (1 - sympy.sqrt(_MU * _S)) / (1 + sympy.sqrt(_MU * _S))
HEAVY_BALL = UpdateRule(
    "heavy ball",
    X_K - _S * GRAD_F(X_K) + _BETA_SC * (X_K - X_KM1),
    sympy.sqrt(_S),
)
# Nesterov's method for strongly convex functions (NAG-SC), one-line form.
_LOOK = X_K + _BETA_SC * (X_K - X_KM1)
NESTEROV = UpdateRule("Nesterov (NAG-SC)", _LOOK - _S * GRAD_F(_LOOK), sympy.sqrt(_S))
# Nesterov's method for convex functions (NAG-C): momentum (k − 1)/(k + 2).
_LOOK_C = X_K + (K - 1) / (K + 2) * (X_K - X_KM1)
NAG_C = UpdateRule("Nesterov (NAG-C)", _LOOK_C - _S * GRAD_F(_LOOK_C), sympy.sqrt(_S))
# A residual block: one forward Euler step.
RESNET = UpdateRule("ResNet", X_K + _H * VECTOR_FIELD(X_K), _H)
# LM-ResNet (Lu et al. 2018): u_{n+1} = (1 − k_n) u_n + k_n u_{n−1} + Δt f(u_n).
LM_RESNET = UpdateRule("LM-ResNet", (1 - _KN) * X_K + _KN * X_KM1 + _H * VECTOR_FIELD(X_K), _H)


@final
@dataclass(frozen=True)
class ContinuumLimit:
    """The ODEs an update rule approximates, each as an expression ``lhs`` of ``lhs = 0``.

    ``low`` is the leading order (the highest derivative has coefficient 1); ``high`` adds
    the next order in the time step (the high-resolution ODE, or the modified equation).
    ``derivative_order`` is the order of the ODE (2 for momentum methods, 1 for ResNet).
    """

    rule: UpdateRule
    low: sympy.Expr
    high: sympy.Expr
    derivative_order: int

    def equation(self, resolution: Literal["low", "high"] = "low") -> sympy.Eq:
        """``Eq(lhs, 0)`` at the given resolution."""
        if resolution not in ("low", "high"):
            raise ConfigurationError(f"resolution must be 'low' or 'high', got {resolution!r}")
        return sympy.Eq(self.low if resolution == "low" else self.high, 0)


def _shift(jets: list[sympy.Symbol], j: int, h: sympy.Symbol) -> sympy.Expr:
    return sympy.Add(
        *(sympy.Integer(j) ** n * h**n / math.factorial(n) * d for n, d in enumerate(jets))
    )


def continuum_limit(rule: UpdateRule) -> ContinuumLimit:
    """Derive the low- and high-resolution ODEs of an update rule by Taylor expansion.

    Args:
        rule: an :class:`UpdateRule`, e.g. :data:`HEAVY_BALL`, :data:`NESTEROV`,
            :data:`NAG_C`, :data:`RESNET`, :data:`LM_RESNET` or one of your own.

    Returns:
        A :class:`ContinuumLimit` in ``X(t)``, its ``t``-derivatives, ``grad_f(X)``,
        ``hess_f(X)`` (or ``f(X)``, ``jac_f(X)``) and the rule's parameters, with the time
        step written back in the rule's own parameters (``sqrt(s)``).

    Raises:
        ConfigurationError: the residual vanishes to every order kept, its leading order
            holds no derivative of ``X``, or it has fractional powers of the time step (the
            rule approximates no ODE at this time scaling), or the time step cannot be
            solved for its symbol.

    Example:
        >>> limit = continuum_limit(RESNET)
        >>> limit.equation("low")
        Eq(-f(X(t)) + Derivative(X(t), t), 0)
        >>> limit.high
        h*Derivative(X(t), (t, 2))/2 - f(X(t)) + Derivative(X(t), t)
    """
    h = sympy.Dummy("h", positive=True)
    (param,) = rule.time_step.free_symbols
    solutions = [v for v in sympy.solve(sympy.Eq(rule.time_step, h), param) if v.is_positive]
    if len(solutions) != 1:
        raise ConfigurationError(
            f"cannot solve time_step {rule.time_step} = h for {param} uniquely; "
            "write the time step as a monotone expression of one positive symbol"
        )
    (param_of_h,) = solutions
    jets = [sympy.Dummy(f"X{n}") for n in range(_ORDER)]
    deltas = {GRAD_F: [sympy.Dummy(f"g{n}") for n in range(4)]}
    deltas[VECTOR_FIELD] = [sympy.Dummy(f"f{n}") for n in range(4)]

    update = rule.update.subs(K, T / h - rule.offset).subs(param, param_of_h)
    update = update.subs({X_K: jets[0], X_KM1: _shift(jets, -1, h), X_KM2: _shift(jets, -2, h)})

    def taylor(call: sympy.Expr) -> sympy.Expr:
        (arg,) = call.args
        delta = sympy.expand(arg - jets[0])
        derivs = deltas[call.func]
        return sympy.Add(*(d * delta**n / math.factorial(n) for n, d in enumerate(derivs)))

    update = update.replace(lambda e: getattr(e, "func", None) in deltas, taylor)
    residual = _shift(jets, 1, h) - update
    series = sympy.expand(sympy.series(residual, h, 0, _ORDER).removeO())
    raw = [series.coeff(h, n) for n in range(_ORDER)]
    if sympy.expand(series - sum(c * h**n for n, c in enumerate(raw))) != 0:
        raise ConfigurationError(
            f"the residual of {rule.name!r} has fractional powers of the time step "
            f"{rule.time_step}: it is not a series in h; choose time_step so that the rule's "
            "coefficients are smooth in it (e.g. sqrt(s) for momentum methods)"
        )
    coeffs = [sympy.simplify(c) for c in raw]
    lead = next((n for n, c in enumerate(coeffs) if c != 0), None)
    if lead is None or lead + 1 >= _ORDER:
        raise ConfigurationError(
            f"the residual of {rule.name!r} vanishes to order h^{_ORDER - 1}: no ODE at this "
            "time scaling; choose another time_step"
        )
    c0, c1 = coeffs[lead], coeffs[lead + 1]
    orders = [n for n, d in enumerate(jets) if n and c0.has(d)]
    if not orders:
        raise ConfigurationError(
            f"the leading order of {rule.name!r}, {c0}, holds no derivative of X: the rule "
            "does not approximate an ODE at this time scaling; choose another time_step"
        )
    order = max(orders)
    a0, a1 = c0.coeff(jets[order]), c1.coeff(jets[order])
    low = sympy.expand(c0 / a0)
    high = sympy.expand(low + h * (c1 / a0 - c0 * a1 / a0**2))

    names = {jets[0]: X(T)}
    names.update({d: sympy.Derivative(X(T), (T, n)) for n, d in enumerate(jets) if n})
    for fn, ds in deltas.items():
        names[ds[0]] = fn(X(T))
        names[ds[1]] = _FIRST[fn](X(T))
        names[ds[2]] = _THIRD[fn](X(T))
        names[ds[3]] = sympy.Function(f"d4_{fn.__name__}")(X(T))

    def tidy(e: sympy.Expr) -> sympy.Expr:
        # One coefficient per derivative and gradient term, each simplified on its own.
        collected = sympy.collect(
            sympy.expand(e.subs(h, rule.time_step)), list(names), evaluate=False
        )
        return sympy.Add(*(sympy.factor(c) * term for term, c in collected.items())).subs(names)

    return ContinuumLimit(rule, tidy(low), tidy(high), order)
