"""Conversions, optimal settings, spectral radius and damping regimes, against closed forms
and numpy eigenvalues of the explicit iteration matrix."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosym.errors import ConfigurationError
from neurosym.optim import (
    DampingRegime,
    damping_regime,
    from_physical,
    iterations_to_tolerance,
    nesterov_parameters,
    optimal_heavy_ball,
    quadratic_run,
    spectral_radius,
    to_physical,
)


def iteration_matrix(method: str, lr: float, beta: float, lam: np.ndarray) -> np.ndarray:
    """The 2d×2d map (x_k, x_{k-1}) -> (x_{k+1}, x_k), written out by hand."""
    d = lam.size
    A, eye = np.diag(lam), np.eye(d)
    if method == "gd":
        beta = 0.0
    if method == "nesterov":
        top = np.hstack([(1 + beta) * (eye - lr * A), -beta * (eye - lr * A)])
    else:
        top = np.hstack([(1 + beta) * eye - lr * A, -beta * eye])
    return np.vstack([top, np.hstack([eye, np.zeros((d, d))])])


def test_heavy_ball_conversion_by_hand() -> None:
    m, gamma, dt, hess = to_physical(0.04, 0.8)
    assert (m, dt, hess) == (1.0, pytest.approx(0.2), 0.0)
    assert gamma == pytest.approx(1.0)  # m(1 - β)/h = 0.2/0.2
    m, gamma, dt, hess = to_physical(0.04, 0.8, mass=4.0)
    assert dt == pytest.approx(0.4) and gamma == pytest.approx(2.0)
    assert to_physical(0.04, 0.8, method="nesterov").hessian_damping == pytest.approx(0.16)
    assert from_physical(1.0, 3.0, 0.05) == pytest.approx((0.0025, 0.85))


@settings(max_examples=60, deadline=None)
@given(
    lr=st.floats(1e-6, 10.0),
    beta=st.floats(-0.9, 0.999),
    mass=st.floats(0.01, 100.0),
    method=st.sampled_from(["heavy_ball", "nesterov"]),
)
def test_conversions_are_inverse(lr: float, beta: float, mass: float, method: str) -> None:
    phys = to_physical(lr, beta, mass=mass, method=method)  # type: ignore[arg-type]
    back = from_physical(phys.mass, phys.damping, phys.dt, method=method)  # type: ignore[arg-type]
    assert back.lr == pytest.approx(lr, rel=1e-12)
    assert back.momentum == pytest.approx(beta, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: to_physical(-1.0, 0.5), "lr must be"),
        (lambda: to_physical(0.1, 0.5, mass=0.0), "mass must be"),
        (lambda: to_physical(0.1, 0.5, method="adam"), "method must be one of"),  # type: ignore[arg-type]
        (lambda: to_physical(0.1, 0.5, method="gd"), "momentum 0"),
        (lambda: from_physical(1.0, 1.0, 0.0), "dt must be"),
        (lambda: optimal_heavy_ball(10.0, 1.0), "mu <= L"),
        (lambda: nesterov_parameters(0.0, 1.0), "mu must be"),
        (lambda: damping_regime(0.1, 0.5, 1.0, rtol=-1.0), "rtol"),
    ],
    ids=["lr", "mass", "method", "gd-momentum", "dt", "mu>L", "mu=0", "rtol"],
)
def test_bad_arguments_raise(call: object, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        call()  # type: ignore[operator]


@pytest.mark.parametrize("kappa", [4.0, 100.0, 1e4])
def test_optimal_heavy_ball_closed_form_and_optimality(kappa: float) -> None:
    mu, L = 2.0, 2.0 * kappa
    lr, beta = optimal_heavy_ball(mu, L)
    assert lr == pytest.approx(4 / (math.sqrt(L) + math.sqrt(mu)) ** 2)
    q = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    assert beta == pytest.approx(q**2)
    lam = np.array([mu, L])

    def worst(lr_: float, b_: float) -> float:
        return float(np.abs(np.linalg.eigvals(iteration_matrix("heavy_ball", lr_, b_, lam))).max())

    # The worst-case rate is √β = q, and every nearby setting is worse (Polyak's optimum).
    assert worst(lr, beta) == pytest.approx(q, abs=1e-6)
    for dl, db in [(1.01, 1), (0.99, 1), (1, 1.01), (1, 0.99), (1.01, 0.99)]:
        assert worst(lr * dl, min(beta * db, 0.9999)) > worst(lr, beta) + 1e-6


def test_nesterov_parameters_closed_form() -> None:
    lr, beta = nesterov_parameters(1.0, 100.0)
    assert lr == pytest.approx(0.01) and beta == pytest.approx(9 / 11)


@pytest.mark.parametrize("method", ["gd", "heavy_ball", "nesterov"])
def test_spectral_radius_matches_iteration_matrix_eigenvalues(method: str) -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        lr, beta = rng.uniform(0.001, 0.5), rng.uniform(0.0, 0.99)
        lam = rng.uniform(0.1, 10.0, size=3)
        ours = spectral_radius(lr, beta, lam, method=method)  # type: ignore[arg-type]
        eig = np.abs(np.linalg.eigvals(iteration_matrix(method, lr, beta, lam)))
        assert float(np.max(ours)) == pytest.approx(float(eig.max()), rel=1e-6)
    assert isinstance(spectral_radius(0.1, 0.5, 1.0), float)


def test_regime_agrees_with_the_discriminant_on_random_cases() -> None:
    rng = np.random.default_rng(1)
    n = 10_000
    lrs, betas = rng.uniform(0.0, 1.0, n), rng.uniform(0.0, 1.0, n)
    lams = rng.uniform(0.0, 5.0, n)
    seen = set()
    for lr, beta, lam in zip(lrs, betas, lams):
        b = 1 + beta - lr * lam  # z² − b z + β, by hand
        disc = b * b - 4 * beta
        radius = max(abs(r) for r in np.roots([1.0, -b, beta]))
        expected = (
            DampingRegime.UNSTABLE
            if radius >= 1
            else DampingRegime.OVERDAMPED
            if disc > 0
            else DampingRegime.UNDERDAMPED
        )
        got = damping_regime(float(lr), float(beta), float(lam))
        assert got is expected, (lr, beta, lam)
        seen.add(got)
    assert seen == {DampingRegime.UNSTABLE, DampingRegime.OVERDAMPED, DampingRegime.UNDERDAMPED}


def test_critical_damping_of_the_continuous_limit() -> None:
    # γ = 2√(mλ) is critical for the oscillator; its discretisation is critical to O(dt).
    lam, dt = 4.0, 1e-3
    lr, beta = from_physical(1.0, 2 * math.sqrt(lam), dt)
    b = 1 + beta - lr * lam
    # b² − 4β = dt²(γ² − 4λ) + 2γλ·dt³ + O(dt⁴), by expanding b = 2 − γdt − λdt².
    assert abs(b * b - 4 * beta) == pytest.approx(2 * 4 * lam * dt**3, rel=1e-2)
    assert damping_regime(lr, beta, lam, rtol=1e-5) is DampingRegime.CRITICAL
    assert damping_regime(*from_physical(1.0, 3.0, dt), lam) is DampingRegime.UNDERDAMPED
    assert damping_regime(*from_physical(1.0, 5.0, dt), lam) is DampingRegime.OVERDAMPED


def test_polyak_optimum_is_critical_at_both_ends() -> None:
    lr, beta = optimal_heavy_ball(1.0, 100.0)
    assert damping_regime(lr, beta, 1.0) is DampingRegime.CRITICAL
    assert damping_regime(lr, beta, 100.0) is DampingRegime.CRITICAL
    assert damping_regime(lr, beta, 10.0) is DampingRegime.UNDERDAMPED
    # Stable while αλ < 2(1 + β), i.e. λ < 101 here.
    assert damping_regime(lr, beta, 100.9) is DampingRegime.OVERDAMPED
    assert damping_regime(lr, beta, 101.1) is DampingRegime.UNSTABLE
    assert damping_regime(lr, beta, 0.5) is DampingRegime.OVERDAMPED


def test_iterations_on_the_kappa_100_quadratic() -> None:
    lam = [1.0, 100.0]
    assert iterations_to_tolerance("gd", lam, lr=0.01) == 653
    assert iterations_to_tolerance("nesterov", lam, **nesterov_parameters(1, 100)._asdict()) == 84
    hb = iterations_to_tolerance("heavy_ball", lam, **optimal_heavy_ball(1, 100)._asdict())
    assert hb is not None and abs(hb - 56) <= 2


def test_iterations_scale_as_kappa_and_its_square_root() -> None:
    kappas = np.logspace(1, 4, 4)
    counts: dict[str, list[float]] = {"gd": [], "nesterov": [], "heavy_ball": []}
    for kappa in kappas:
        lam = [1.0, float(kappa)]
        settings_ = {
            "gd": {"lr": 1 / kappa},
            "nesterov": nesterov_parameters(1, kappa)._asdict(),
            "heavy_ball": optimal_heavy_ball(1, kappa)._asdict(),
        }
        for method, kw in settings_.items():
            n = iterations_to_tolerance(method, lam, **kw)  # type: ignore[arg-type]
            assert n is not None
            counts[method].append(n)
    slope = {m: np.polyfit(np.log(kappas), np.log(c), 1)[0] for m, c in counts.items()}
    assert slope["gd"] == pytest.approx(1.0, abs=0.1)
    assert slope["nesterov"] == pytest.approx(0.5, abs=0.1)
    assert slope["heavy_ball"] == pytest.approx(0.5, abs=0.1)


def test_the_harness_counts_until_the_loss_stays_below() -> None:
    # An under-damped run dips below the target and comes back: first crossing is earlier.
    lam, lr, beta, tol = np.array([1.0, 100.0]), 0.01, 0.97, 1e-6
    xs = quadratic_run("heavy_ball", lam, lr=lr, momentum=beta, steps=3000)
    loss = 0.5 * (lam * xs**2).sum(axis=1)
    first = int(np.argmax(loss < tol))
    stays = int(np.nonzero(loss >= tol)[0].max()) + 1
    assert first < stays
    assert iterations_to_tolerance("heavy_ball", lam, lr=lr, momentum=beta, tol=tol) == stays


def test_the_harness_gives_up_on_a_divergent_run() -> None:
    assert iterations_to_tolerance("gd", [1.0, 100.0], lr=0.03, max_iter=1000) is None
    with pytest.raises(ConfigurationError, match="x0 has shape"):
        iterations_to_tolerance("gd", [1.0, 100.0], lr=0.01, x0=[1.0])
