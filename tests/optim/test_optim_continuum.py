"""continuum_limit reproduces the published ODEs, written here independently in sympy."""

from __future__ import annotations

import cmath
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp

from neurosym.errors import ConfigurationError
from neurosym.optim import (
    GRAD_F,
    HEAVY_BALL,
    LM_RESNET,
    NAG_C,
    NESTEROV,
    RESNET,
    X_K,
    X_KM1,
    UpdateRule,
    continuum_limit,
)

t = sp.Symbol("t", positive=True)
s, mu, h, kn = sp.symbols("s mu h k_n", positive=True)
X = sp.Function("X")(t)
dX, ddX = X.diff(t), X.diff(t, 2)
grad = sp.Function("grad_f")(X)
hess = sp.Function("hess_f")(X)
field = sp.Function("f")(X)


def same(a: sp.Expr, b: sp.Expr) -> bool:
    return bool(sp.simplify(a - b) == 0)


# Polyak / Su–Boyd–Candès low resolution, and Shi, Du, Jordan & Su (2018) high resolution.
LOW_SC = ddX + 2 * sp.sqrt(mu) * dX + grad
HB_HIGH = ddX + 2 * sp.sqrt(mu) * dX + (1 + sp.sqrt(mu * s)) * grad
NAG_SC_HIGH = ddX + 2 * sp.sqrt(mu) * dX + sp.sqrt(s) * hess * dX + (1 + sp.sqrt(mu * s)) * grad
SBC = ddX + 3 / t * dX + grad
NAG_C_HIGH = ddX + 3 / t * dX + sp.sqrt(s) * hess * dX + (1 + 3 * sp.sqrt(s) / (2 * t)) * grad


@pytest.mark.parametrize(
    ("rule", "low", "high"),
    [(HEAVY_BALL, LOW_SC, HB_HIGH), (NESTEROV, LOW_SC, NAG_SC_HIGH)],
    ids=["heavy-ball", "nag-sc"],
)
def test_strongly_convex_forms(rule: UpdateRule, low: sp.Expr, high: sp.Expr) -> None:
    limit = continuum_limit(rule)
    assert same(limit.low, low)
    assert same(limit.high, high)
    assert limit.derivative_order == 2
    assert limit.equation("high") == sp.Eq(limit.high, 0)


def test_nag_c_is_su_boyd_candes() -> None:
    limit = continuum_limit(NAG_C)
    assert same(limit.low, SBC)
    # With t_k = k√s the high-resolution form carries an extra −3√s/(2t²)·X' ...
    assert same(limit.high, NAG_C_HIGH - 3 * sp.sqrt(s) / (2 * t**2) * dX)
    # ... which vanishes when t_k = (k + 1/2)√s: Shi et al.'s form exactly.
    shifted = continuum_limit(replace(NAG_C, offset=sp.Rational(1, 2)))
    assert same(shifted.low, SBC)
    assert same(shifted.high, NAG_C_HIGH)


def test_resnet_is_an_euler_step() -> None:
    limit = continuum_limit(RESNET)
    assert same(limit.low, dX - field)
    assert limit.derivative_order == 1
    # The modified equation of forward Euler: X' + (h/2) X'' = f(X).
    assert same(limit.high, dX + h / 2 * ddX - field)


def test_lm_resnet_modified_equation() -> None:
    # Lu, Zhong, Li & Dong (2018): (1 + k_n) u' + (1 − k_n) Δt/2 u'' = f(u), ours scaled so
    # that u' has coefficient 1.
    limit = continuum_limit(LM_RESNET)
    published = (1 + kn) * dX + (1 - kn) * h / 2 * ddX - field
    assert same((1 + kn) * limit.high, published)
    assert same((1 + kn) * limit.low, (1 + kn) * dX - field)


def test_a_users_rule_fixed_momentum_on_the_gradient_flow_time_scale() -> None:
    # Heavy ball with a fixed β read at t = k·s: (1−β)X' + s(1+β)/2 X'' + ∇f = 0, by hand.
    beta = sp.Symbol("beta", positive=True)
    rule = UpdateRule("fixed β", X_K - s * GRAD_F(X_K) + beta * (X_K - X_KM1), s)
    limit = continuum_limit(rule)
    assert same(limit.low, dX + grad / (1 - beta))
    assert same(limit.high, dX + grad / (1 - beta) + s * (1 + beta) / (2 * (1 - beta)) * ddX)


def test_gradient_descent_modified_equation() -> None:
    limit = continuum_limit(UpdateRule("gd", X_K - s * GRAD_F(X_K), s))
    assert same(limit.low, dX + grad)
    assert same(limit.high, dX + grad + s / 2 * ddX)


def test_bad_rules_raise() -> None:
    with pytest.raises(ConfigurationError, match="sympy expression"):
        UpdateRule("text", "x_k - s*grad_f(x_k)", s)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="written in X_K"):
        UpdateRule("other symbol", sp.Symbol("x") - s * GRAD_F(sp.Symbol("x")), sp.sqrt(s))
    with pytest.raises(ConfigurationError, match="exactly one symbol"):
        UpdateRule("two", X_K - s * GRAD_F(X_K), sp.sqrt(s * mu))
    # Gradient descent read at t = k·s²: the gradient term is O(√h), no series in h.
    with pytest.raises(ConfigurationError, match="fractional powers"):
        continuum_limit(UpdateRule("gd", X_K - s * GRAD_F(X_K), s**2))
    # A step that does not shrink with s: the gradient dominates, X has no derivative.
    with pytest.raises(ConfigurationError, match="no derivative of X"):
        continuum_limit(UpdateRule("unit step", X_K - GRAD_F(X_K), s))
    with pytest.raises(ConfigurationError, match="resolution"):
        continuum_limit(RESNET).equation("medium")  # type: ignore[arg-type]


def characteristic_roots(lhs: sp.Expr, values: dict[sp.Symbol, float]) -> list[complex]:
    """Roots r of the derived ODE on f = λx²/2 (or f(X) = aX), with X(t) = exp(rt)."""
    r, lam = sp.symbols("r lam")
    linear = lhs.subs({grad: lam * X, hess: lam, field: lam * X})
    poly = sp.expand(sp.simplify(linear.subs(X, sp.exp(r * t)).doit() / sp.exp(r * t)))
    coeffs = sp.Poly(poly.subs({**values, lam: values[sp.Symbol("lam")]}), r).all_coeffs()
    return [complex(z) for z in np.roots([complex(c) for c in coeffs])]


@pytest.mark.parametrize(
    ("rule", "one_step"),
    [
        # The iteration on f = λx²/2 applied to the mode x_k = z^k, z = e^{rh}, over z^k.
        (HEAVY_BALL, lambda z, b, st, lam: z - (1 + b) + b / z + st * lam),
        (NESTEROV, lambda z, b, st, lam: z - (1 + b) * (1 - st * lam) + b * (1 - st * lam) / z),
    ],
    ids=["heavy-ball", "nag-sc"],
)
def test_high_resolution_is_a_higher_order_model_of_the_iteration(
    rule: UpdateRule, one_step: Callable[[complex, float, float, float], complex]
) -> None:
    # Put each ODE's exact modes e^{rt} into the discrete iteration and measure the residual
    # per unit s: the low-resolution ODE leaves O(√s), the high-resolution one O(s).
    # (Numerical, independent of the symbolic comparison above.)
    limit = continuum_limit(rule)
    lam_value, mu_value = 2.0, 0.5
    errors: dict[str, list[float]] = {"low": [], "high": []}
    steps = [1e-2, 2.5e-3]
    for st in steps:
        values = {s: st, mu: mu_value, sp.Symbol("lam"): lam_value}
        beta = (1 - (mu_value * st) ** 0.5) / (1 + (mu_value * st) ** 0.5)
        for name, lhs in (("low", limit.low), ("high", limit.high)):
            roots = characteristic_roots(lhs, values)
            residual = max(
                abs(one_step(cmath.exp(z * st**0.5), beta, st, lam_value)) for z in roots
            )
            errors[name].append(residual / st)
    # s divided by 4 (h by 2): the low-resolution residual halves, the high-resolution one quarters.
    assert errors["high"][0] < errors["low"][0] / 5
    assert errors["low"][0] / errors["low"][1] == pytest.approx(2.0, rel=0.15)
    assert errors["high"][0] / errors["high"][1] == pytest.approx(4.0, rel=0.15)
