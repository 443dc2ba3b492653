"""lyapunov_check: energy along the continuous heavy ball, against the closed-form solution."""

from __future__ import annotations

import math

import pytest
import torch

from neurosym.optim import lyapunov_check


def spring(k: float):  # type: ignore[no-untyped-def]
    return lambda x: 0.5 * k * (x**2).sum(-1)


def test_underdamped_energy_matches_the_closed_form() -> None:
    k, gamma = 4.0, 0.5
    check = lyapunov_check(spring(k), torch.tensor([1.0]), damping=gamma, t_end=8.0, points=81)
    assert check.ok and check.max_increase <= 0
    w = math.sqrt(k - gamma**2 / 4)
    for t, e in zip(check.times.tolist(), check.energy.tolist()):
        decay = math.exp(-gamma * t / 2)
        x = decay * (math.cos(w * t) + gamma / (2 * w) * math.sin(w * t))
        v = -decay * (k / w) * math.sin(w * t)  # x' of the line above, simplified by hand
        assert e == pytest.approx(0.5 * v * v + 0.5 * k * x * x, abs=1e-7)


def test_anti_damping_fails_and_no_damping_conserves() -> None:
    assert not lyapunov_check(spring(1.0), torch.ones(3), damping=-0.2).ok
    free = lyapunov_check(spring(1.0), torch.ones(3), damping=0.0, t_end=20.0)
    assert free.ok
    assert float(free.energy.max() - free.energy.min()) < 1e-6


def test_nonconvex_double_well_with_mass() -> None:
    def well(x: torch.Tensor) -> torch.Tensor:
        return ((x**2 - 1) ** 2).sum(-1)

    check = lyapunov_check(
        well, torch.tensor([0.1, -1.8]), v0=torch.tensor([2.0, 0.0]), damping=0.3, mass=2.0
    )
    assert check.ok
    assert check.energy[-1] < check.energy[0]
