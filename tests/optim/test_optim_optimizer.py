"""PhysicalHeavyBall against torch's own SGD (the reference implementation)."""

from __future__ import annotations

import pytest
import torch

from neurosym.errors import ConfigurationError
from neurosym.optim import PhysicalHeavyBall


def quadratic(dim: int = 100, kappa: float = 100.0, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
    eig = torch.logspace(0, float(torch.log10(torch.tensor(kappa))), dim, dtype=torch.float64)
    a = q @ torch.diag(eig) @ q.T
    b = torch.randn(dim, generator=g, dtype=torch.float64)
    x0 = torch.randn(dim, generator=g, dtype=torch.float64)
    return a, b, x0


def run(opt_factory: object, a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    x = x0.clone().requires_grad_(True)
    opt = opt_factory([x])  # type: ignore[operator]
    path = []
    for _ in range(200):
        opt.zero_grad()
        (0.5 * x @ a @ x - b @ x).backward()
        opt.step()
        path.append(x.detach().clone())
    return torch.stack(path)


@pytest.mark.parametrize("nesterov", [False, True], ids=["heavy-ball", "nesterov"])
@pytest.mark.parametrize(
    ("dt", "damping", "mass"), [(0.05, 3.0, 1.0), (0.08, 1.0, 1.0), (0.2, 6.0, 4.0)]
)
def test_iterates_equal_torch_sgd(nesterov: bool, dt: float, damping: float, mass: float) -> None:
    a, b, x0 = quadratic()
    ours = run(
        lambda p: PhysicalHeavyBall(p, dt=dt, damping=damping, mass=mass, nesterov=nesterov),
        a, b, x0,
    )  # fmt: skip
    ref = run(
        lambda p: torch.optim.SGD(
            p, lr=dt**2 / mass, momentum=1 - damping * dt / mass, nesterov=nesterov
        ),
        a, b, x0,
    )  # fmt: skip
    assert torch.max(torch.abs(ours - ref)).item() < 1e-12
    assert torch.linalg.norm(ours[-1] - ours[-2]).item() < torch.linalg.norm(ours[1] - ours[0])


def test_closure_and_velocity_state() -> None:
    x = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    opt = PhysicalHeavyBall([x], dt=0.1, damping=1.0)

    def closure() -> float:
        opt.zero_grad()
        loss = (0.5 * x**2).sum()
        loss.backward()
        return float(loss.detach())

    assert opt.step(closure) == pytest.approx(2.0)
    # v1 = -(dt/m) ∇f = -0.2; x1 = x0 + dt·v1 = 1.98, by hand.
    assert opt.state[x]["velocity"].item() == pytest.approx(-0.2)
    assert x.item() == pytest.approx(1.98)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dt": 0.0, "damping": 1.0}, "dt must be"),
        ({"dt": 0.1, "damping": -1.0}, "damping must be"),
        ({"dt": 0.1, "damping": 1.0, "mass": -2.0}, "mass must be"),
        ({"dt": 0.5, "damping": 4.0}, "damping·dt/mass must be < 2"),
    ],
    ids=["dt", "damping", "mass", "momentum-below-minus-one"],
)
def test_bad_settings_raise(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        PhysicalHeavyBall([torch.zeros(1, requires_grad=True)], **kwargs)
