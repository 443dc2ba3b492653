"""Fit a neural ODE to a spiral, torchdiffeq's classic demo, with ``neurosym.ode``.

The true dynamics are ``dy/dt = (y**3) A``; a small MLP field learns them from windows of
a trajectory. Run ``python examples/ode_spiral.py --quick`` for a few-second check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

# Run from a checkout: prefer this repository's neurosym over an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from neurosym import ode

TRUE_A = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]])


class Cubic(nn.Module):
    """The learned field: an MLP applied to ``y**3``."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 50), nn.Tanh(), nn.Linear(50, 2))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(y**3)


def main(argv: list[str] | None = None) -> float:
    """Train and return the final loss.

    Args:
        argv: command-line arguments (``--quick``, ``--iters``, ``--seed``).

    Returns:
        The last training loss.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few iterations only")
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    iters = 10 if args.quick else args.iters
    n_times = 200 if args.quick else 1000
    t = torch.linspace(0.0, 25.0, n_times)
    y_true = ode.solve(
        lambda _t, y: (y**3) @ TRUE_A, torch.tensor([[2.0, 0.0]]), t, rtol=1e-7, atol=1e-9
    ).ys[:, 0]
    field = ode.NFECounter(Cubic())
    model = ode.NeuralODE(
        field, rtol=1e-5 if args.quick else 1e-7, atol=1e-6 if args.quick else 1e-9
    )
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    window, batch = 10, 20
    loss_value = float("nan")
    for it in range(1, iters + 1):
        start = torch.randint(0, n_times - window, (batch,))
        y0 = y_true[start]
        # Per-sample output times: each window keeps its own absolute times.
        ts = t[start[:, None] + torch.arange(window)]
        target = y_true[start[:, None] + torch.arange(window)].transpose(0, 1)
        opt.zero_grad()
        pred = ode.solve(model.field, y0, ts, rtol=model.rtol, atol=model.atol).ys
        loss = (pred - target).abs().mean()
        loss.backward()
        opt.step()
        loss_value = float(loss.detach())
        if it % max(1, iters // 5) == 0:
            print(f"iter {it:4d}  loss {loss_value:.4f}  nfe so far {field.nfe}")
    return loss_value


if __name__ == "__main__":
    main()
