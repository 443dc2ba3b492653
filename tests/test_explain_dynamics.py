"""Explanations of dynamics: linearisation numbers against closed forms, and what fires when."""

from __future__ import annotations

import json
import math

import pytest
import sympy
import torch

import neurosym as ns
from neurosym.bridge import HybridODE, linear_analysis
from neurosym.lang._sympy import DER

x, v = sympy.symbols("x v")


def _osc(zeta: float, omega: float, shift: float = 0.0) -> list[sympy.Eq]:
    return [
        sympy.Eq(DER(x), v),
        sympy.Eq(DER(v), -(omega**2) * (x - shift) - 2 * zeta * omega * v),
    ]


@pytest.mark.parametrize(("zeta", "omega"), [(0.1, 1.0), (0.3, 2.0), (0.9, 0.5)])
def test_underdamped_numbers_are_the_closed_forms(zeta: float, omega: float) -> None:
    lin = linear_analysis(_osc(zeta, omega))
    assert lin.damping_ratio == pytest.approx(zeta, rel=1e-12)
    assert lin.natural_frequency == pytest.approx(omega, rel=1e-12)
    assert lin.period == pytest.approx(2 * math.pi / (omega * math.sqrt(1 - zeta**2)), rel=1e-12)
    assert lin.stable


def test_overdamped_ratio_from_two_real_modes() -> None:
    lin = linear_analysis(_osc(2.0, 1.5))
    assert lin.period is None
    assert lin.damping_ratio == pytest.approx(2.0, rel=1e-12)
    assert lin.natural_frequency == pytest.approx(1.5, rel=1e-12)


def test_the_equilibrium_is_found_when_it_is_not_the_origin() -> None:
    lin = linear_analysis(_osc(0.25, 1.0, shift=1.5))
    assert lin.at == pytest.approx({"x": 1.5, "v": 0.0})
    assert lin.damping_ratio == pytest.approx(0.25, rel=1e-12)


def test_an_unstable_focus_is_reported() -> None:
    lin = linear_analysis([sympy.Eq(DER(x), v), sympy.Eq(DER(v), -x + 0.1 * v)])
    assert not lin.stable
    assert lin.damping_ratio == pytest.approx(-0.05, rel=1e-9)


def test_explain_a_known_trajectory() -> None:
    kb = ns.parse(
        "state x, v. param c = 0.4. der(x) = v. der(v) = -4 * x - c * v.\n"
        "law slow: if x > 0.5 then der(x) <= 10.\n"
        "law energy: der(0.5*v^2 + 2*x^2) <= 0."
    )
    model = HybridODE(kb, residual=False)
    t = torch.linspace(0, 3, 31, dtype=torch.float64)
    sol = model.solve(torch.tensor([[1.0, 0.0]], dtype=torch.float64), t, rtol=1e-10, atol=1e-12)
    ex = model.explain(sol)
    # No learned terms: the known field is linearised. x'' + 0.4 x' + 4 x: ω = 2, ζ = 0.1.
    assert ex.linear is not None
    assert ex.linear.damping_ratio == pytest.approx(0.1)
    assert ex.linear.natural_frequency == pytest.approx(2.0)
    # x(t) = e^{-0.2t}(cos ωd t + 0.2/ωd sin ωd t), ωd = sqrt(3.96): x > 0.5 until the
    # first crossing, near t = 0.53 (so the grid times 0 .. 0.5).
    slow = ex.report["slow"]
    assert slow.active[0] == (0.0, 0.5)
    assert ex.report["energy"].holds
    text = str(ex)
    assert "slow fires on [0, 0.5]" in text
    assert "damping ratio 0.1 (underdamped)" in text
    json.dumps(ex.to_dict())


def test_learned_terms_are_not_linearised_without_distilled_equations() -> None:
    kb = ns.parse("state x. der(x) = -x + nn(f, [x]).")
    model = HybridODE(kb, seed=0)
    sol = model.solve(torch.tensor([[1.0]], dtype=torch.float64), torch.linspace(0, 1, 5))
    ex = model.explain(sol)
    assert ex.linear is None
    assert "nn_f(x)" in str(ex)
    distilled = [sympy.Eq(DER(x), -2 * x)]
    ex2 = model.explain(sol, distilled=distilled)
    assert ex2.linear is not None and ex2.linear.eigenvalues == (complex(-2.0),)
