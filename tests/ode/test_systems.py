"""System generators against scipy's solve_ivp; their equations, noise; the lynx–hare table."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import sympy
import torch

from neurosym import ConfigurationError, ode

scipy_integrate = pytest.importorskip("scipy.integrate")

ROOT = Path(__file__).resolve().parents[2]


def _osc(t: float, y: np.ndarray) -> list[float]:
    return [y[1], -(1.5**2) * y[0] - 2 * 0.3 * 1.5 * y[1]]


def _lv(t: float, y: np.ndarray) -> list[float]:
    return [1.1 * y[0] - 0.4 * y[0] * y[1], 0.1 * y[0] * y[1] - 0.4 * y[1]]


def _pendulum(t: float, y: np.ndarray) -> list[float]:
    return [y[1], -2.0 * math.sin(y[0]) - 0.1 * y[1]]


def _lorenz(t: float, y: np.ndarray) -> list[float]:
    return [10 * (y[1] - y[0]), y[0] * (28 - y[2]) - y[1], y[0] * y[1] - 8 / 3 * y[2]]


CASES: dict[
    str, tuple[Callable[..., ode.Trajectory], dict[str, object], Callable[..., list[float]]]
] = {
    "oscillator": (ode.damped_oscillator, {"zeta": 0.3, "omega": 1.5, "y0": (1.0, -0.5)}, _osc),
    "lotka_volterra": (
        ode.lotka_volterra,
        {"alpha": 1.1, "beta": 0.4, "delta": 0.1, "gamma": 0.4, "y0": (10.0, 5.0)},
        _lv,
    ),
    "pendulum": (ode.pendulum, {"g_over_l": 2.0, "damping": 0.1, "y0": (2.5, 0.0)}, _pendulum),
    "lorenz": (ode.lorenz, {"y0": (1.0, 1.0, 1.0), "t_end": 3.0, "dt": 0.01}, _lorenz),
}


@pytest.mark.parametrize("name", list(CASES))
def test_generator_matches_solve_ivp(name: str) -> None:
    gen, kwargs, rhs = CASES[name]
    tr = gen(**kwargs)
    t = tr.t.numpy()
    ref = scipy_integrate.solve_ivp(
        rhs, (t[0], t[-1]), list(kwargs["y0"]), t_eval=t, rtol=1e-10, atol=1e-12, method="DOP853"
    )
    assert ref.success
    assert tr.states.dtype == torch.float64 and tr.states.shape == (len(t), len(tr.names))
    scale = np.abs(ref.y.T).max()
    np.testing.assert_allclose(tr.clean.numpy(), ref.y.T, rtol=0, atol=1e-8 * scale)
    assert torch.equal(tr.states, tr.clean)  # noise=0 by default


@pytest.mark.parametrize("name", list(CASES))
def test_equations_are_the_field_that_was_integrated(name: str) -> None:
    gen, kwargs, rhs = CASES[name]
    tr = gen(**kwargs)
    syms = [sympy.Symbol(n) for n in tr.names]
    assert [eq.lhs for eq in tr.equations] == [sympy.Function("der")(s) for s in syms]
    rng = np.random.default_rng(0)
    for _ in range(5):
        point = rng.normal(size=len(syms))
        got = [float(eq.rhs.subs(dict(zip(syms, point)))) for eq in tr.equations]
        np.testing.assert_allclose(got, rhs(0.0, point), rtol=1e-12, atol=1e-12)


def test_noise_is_relative_to_each_states_sd_and_seeded() -> None:
    kw = {"zeta": 0.0, "t_end": 50.0, "dt": 0.05, "noise": 0.05}
    a = ode.damped_oscillator(**kw, seed=3)
    b = ode.damped_oscillator(**kw, seed=3)
    c = ode.damped_oscillator(**kw, seed=4)
    assert torch.equal(a.states, b.states) and not torch.equal(a.states, c.states)
    ratio = (a.states - a.clean).std(dim=0) / a.clean.std(dim=0)
    # 1001 samples: the sample sd of the noise is 0.05 within a few percent (sd ~2.2%).
    np.testing.assert_allclose(ratio.numpy(), [0.05, 0.05], rtol=0.1)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ConfigurationError, match="y0 needs 3 values"):
        ode.lorenz(y0=(1.0, 2.0))
    with pytest.raises(ConfigurationError, match="dt"):
        ode.pendulum(dt=-0.1)
    with pytest.raises(ConfigurationError, match="noise"):
        ode.damped_oscillator(noise=-0.01)


def test_lynx_hare_table() -> None:
    with (ROOT / "data" / "lynx_hare.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["year"]) for r in rows] == list(range(1900, 1921))
    hare = np.array([float(r["hare"]) for r in rows])
    lynx = np.array([float(r["lynx"]) for r in rows])
    # Spot values of the published table (thousands of pelts) and its peak years.
    assert (hare[0], lynx[0], hare[3], lynx[4], hare[20], lynx[20]) == (
        30.0, 4.0, 77.4, 59.4, 24.7, 8.6,
    )  # fmt: skip
    assert (
        1900 + int(np.argmax(hare[:10])) == 1903 and 1900 + 10 + int(np.argmax(hare[10:])) == 1913
    )
    assert (
        1900 + int(np.argmax(lynx[:10])) == 1904 and 1900 + 10 + int(np.argmax(lynx[10:])) == 1915
    )
