"""diagnose_run: momentum and regimes recovered from iterates; advice derived by the rules."""

from __future__ import annotations

import numpy as np
import pytest

import neurosym as ns
from neurosym.errors import ConfigurationError
from neurosym.optim import (
    ADVICE_RULES,
    DampingRegime,
    damping_regime,
    diagnose_run,
    nesterov_parameters,
    optimal_heavy_ball,
)


def run(method: str, lam: np.ndarray, lr: float, beta: float, steps: int, seed: int) -> np.ndarray:
    """A run on a rotated quadratic with its minimum away from 0 (written out here)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(lam.size, lam.size)))
    a = q @ np.diag(lam) @ q.T
    xstar = rng.normal(size=lam.size)
    x = prev = rng.normal(size=lam.size)
    out = [x]
    for _ in range(steps):
        look = x + beta * (x - prev) if method == "nesterov" else x
        prev, x = x, x + beta * (x - prev) - lr * a @ (look - xstar)
        out.append(x)
    return np.array(out)


@pytest.mark.parametrize("method", ["heavy_ball", "nesterov"])
def test_momentum_is_recovered_from_iterates_alone(method: str) -> None:
    rng = np.random.default_rng(7)
    for seed in range(25):
        lam = rng.uniform(0.5, 20.0, size=4)
        beta = float(rng.uniform(0.05, 0.95))
        lr = float(rng.uniform(0.2, 1.0)) / lam.max()
        xs = run(method, lam, lr, beta, steps=40, seed=seed)
        d = diagnose_run(iterates=xs, method=method)  # type: ignore[arg-type]
        assert d.momentum == pytest.approx(beta, abs=1e-6), (seed, beta)
        assert d.fit_residual is not None and d.fit_residual < 1e-8
        # With the learning rate, the Hessian's spectrum comes back too.
        d = diagnose_run(iterates=xs, lr=lr, method=method)  # type: ignore[arg-type]
        assert d.curvatures is not None
        assert np.allclose(sorted(d.curvatures), np.sort(lam), rtol=1e-5)


def test_regimes_per_direction_match_damping_regime() -> None:
    lam = np.array([0.5, 3.0, 40.0])
    lr, beta = 0.02, 0.6
    d = diagnose_run(iterates=run("heavy_ball", lam, lr, beta, 30, 0))
    assert d.regimes == tuple(damping_regime(lr, beta, float(x)) for x in lam)


@pytest.mark.parametrize(
    ("lr", "beta", "codes", "observed"),
    [
        (0.01, 0.1, ["raise_momentum", "use_critical_damping"], "overdamped"),
        (0.01, 0.97, ["lower_momentum", "use_critical_damping"], "oscillating"),
        (0.06, 0.5, ["lower_lr"], "diverging"),  # αλ = 3.6 > 2(1 + β)
    ],
    ids=["creeping", "ringing", "unstable"],
)
def test_advice(lr: float, beta: float, codes: list[str], observed: str) -> None:
    lam = np.array([1.0, 5.0, 60.0])
    d = diagnose_run(iterates=run("heavy_ball", lam, lr, beta, 30, 1), lr=lr)
    assert [a.code for a in d.advice] == codes
    assert observed in d.observations
    assert all(a.text in str(d) for a in d.advice)


def test_advice_at_polyak_optimum_is_to_keep_it_and_suggested_matches() -> None:
    lam = np.array([1.0, 7.0, 60.0])
    lr, beta = optimal_heavy_ball(1.0, 60.0)
    d = diagnose_run(iterates=run("heavy_ball", lam, lr, beta, 30, 2), lr=lr)
    assert [a.code for a in d.advice] == ["keep"]
    assert d.suggested is not None
    assert d.suggested.lr == pytest.approx(lr, rel=1e-6)
    assert d.suggested.momentum == pytest.approx(beta, rel=1e-6)
    assert d.regimes[0] is DampingRegime.CRITICAL and d.regimes[-1] is DampingRegime.CRITICAL


def test_advice_comes_with_the_engines_proof() -> None:
    lam = np.array([1.0, 100.0])
    lr, beta = nesterov_parameters(1.0, 100.0)
    d = diagnose_run(iterates=run("nesterov", lam, lr, beta, 30, 3), lr=lr, method="nesterov")
    assert d.momentum == pytest.approx(beta, abs=1e-6)
    for advice in d.advice:
        assert f"advice({advice.code})" in advice.explanation
        assert "by rule" in advice.explanation and "observed(" in advice.explanation


def test_from_a_loss_curve() -> None:
    k = np.arange(200)
    ringing = np.exp(-0.02 * k) * (1.1 + np.cos(0.7 * k))
    assert [a.code for a in diagnose_run(losses=ringing).advice] == ["lower_momentum"]
    creeping = 0.999**k
    d = diagnose_run(losses=creeping)
    assert [a.code for a in d.advice] == ["raise_lr"] and d.rate == pytest.approx(0.999)
    rising = 1.05**k
    assert [a.code for a in diagnose_run(losses=rising).advice] == ["lower_lr"]
    assert [a.code for a in diagnose_run(losses=0.5 ** k[:40]).advice] == []


def test_the_rules_check_clean_and_bad_input_raises() -> None:
    kb = ns.parse(ADVICE_RULES + "observed(run).\n")
    assert [d for d in kb.check() if d.severity is ns.Severity.ERROR] == []
    with pytest.raises(ConfigurationError, match=r"iterates=\.\.\. or losses="):
        diagnose_run()
    with pytest.raises(ConfigurationError, match="at least 8 iterates"):
        diagnose_run(iterates=np.zeros((5, 4)))


def test_the_docs_show_the_rules_in_use() -> None:
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "optim.md"
    assert ADVICE_RULES in doc.read_text(encoding="utf-8")
