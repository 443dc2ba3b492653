"""A heterogeneous batch: a few fast samples among slow ones, where step control matters.

Batch 512 of an MLP 16-64-16 field whose speed is set per sample by a factor carried in
the state (column 16, constant in time): ``dy/dt = s · net(y)`` with ``s = 1`` for 504
samples and ``s = 16`` for 8 of them (dopri5, rtol 1e-5, atol 1e-6, 10 output times on
[0, 1]). Joint control (and torchdiffeq, which steps the batch as one state) makes every
sample take the fast samples' steps; per-sample control lets the slow ones finish early
but still steps them (zero-length) until the last sample is done; ``compact=True`` drops
them from the batch. Run: ``python benchmarks/ode_hetero_bench.py``; prints best-of times
and ratios to torchdiffeq from one process.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import best_of

from neurosym import ode


class Scaled(nn.Module):
    """``dy/dt = s · net(y)`` on the first 16 columns; ``s`` (column 16) is constant."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 16))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        s = y[:, 16:]
        return torch.cat([s * self.net(y[:, :16]), torch.zeros_like(s)], 1)


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    field = Scaled()
    batch, fast = 512, 8
    scale = torch.ones(batch, 1)
    scale[:fast] = 16.0
    y0 = torch.cat([torch.randn(batch, 16), scale], 1)
    t = torch.linspace(0.0, 1.0, 10)
    rtol, atol = 1e-5, 1e-6
    print(f"load average before: {os.getloadavg()}")

    def ours(**kw: object) -> Callable[[], object]:
        def go() -> object:
            with torch.no_grad():
                return ode.solve(field, y0, t, rtol=rtol, atol=atol, **kw).ys  # type: ignore[arg-type]

        return go

    fns: dict[str, Callable[[], object]] = {
        "neurosym (auto: joint)": ours(),
        "neurosym per_sample": ours(step_control="per_sample"),
        "neurosym per_sample compact": ours(step_control="per_sample", compact=True),
    }
    if importlib.util.find_spec("torchdiffeq") is not None:
        import torchdiffeq

        def tdq() -> object:
            with torch.no_grad():
                return torchdiffeq.odeint(field, y0, t, rtol=rtol, atol=atol, method="dopri5")

        fns["torchdiffeq"] = tdq
    if importlib.util.find_spec("torchode") is not None:
        import torchode as to

        term = to.ODETerm(field)
        step = to.Dopri5(term=term)
        ctrl = to.IntegralController(atol=atol, rtol=rtol, term=term)
        solver = to.AutoDiffAdjoint(step, ctrl)
        problem = to.InitialValueProblem(y0=y0, t_eval=t.expand(batch, -1))

        def tode() -> object:
            with torch.no_grad():
                return solver.solve(problem).ys

        fns["torchode"] = tode
    for name, kw in (
        ("auto", {}),
        ("per_sample", {"step_control": "per_sample"}),
        ("compact", {"step_control": "per_sample", "compact": True}),
    ):
        with torch.no_grad():
            st = ode.solve(field, y0, t, rtol=rtol, atol=atol, **kw).stats  # type: ignore[arg-type]
        acc = st.accepted_per_sample
        print(
            f"  {name:12s} loop steps {st.steps:4d}, field calls {st.nfe:4d}, accepted steps "
            f"per sample: slow {int(acc[fast:].max())}, fast {int(acc[:fast].max())}"
        )
    times = best_of(fns)
    print(f"load average after: {os.getloadavg()}")
    base = times.get("torchdiffeq")
    for name, sec in times.items():
        ratio = f"{sec / base:6.2f}x torchdiffeq" if base else ""
        print(f"  {name:30s} {sec * 1e3:8.2f} ms  {ratio}")


if __name__ == "__main__":
    main()
