"""An ensemble of neural ODE fields: one ``torch.func.vmap``-ed solve against a loop.

``members`` MLP fields ``MLPField(2, (32,), time_input=False)`` (stacked with
``torch.func.stack_module_state``, called by ``functional_call``) from one batch of 64
initial states, dopri5 rtol 1e-5 atol 1e-6, 10 output times on [0, 1], forward and
backward of a squared loss. Rows: neurosym under ``vmap`` (one solve for all members,
joint step control over them), neurosym member by member, torchdiffeq member by member
(its ``odeint`` does not run under ``vmap``: the row says so when it fails). Run:
``python benchmarks/ode_vmap_bench.py [--members 8]``; prints best-of times and ratios to
torchdiffeq's loop from one process.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import best_of

from neurosym import ode


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=8)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    members = [ode.MLPField(2, (32,), time_input=False) for _ in range(args.members)]
    params, buffers = torch.func.stack_module_state(members)  # type: ignore[arg-type]
    base = copy.deepcopy(members[0]).to("meta")
    y0 = torch.randn(64, 2)
    t = torch.linspace(0.0, 1.0, 10)
    rtol, atol = 1e-5, 1e-6

    def one(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> torch.Tensor:
        def field(tt: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(base, (p, b), (tt, y))  # type: ignore[no-any-return]

        return ode.solve(field, y0, t, rtol=rtol, atol=atol).ys

    def mapped() -> None:
        torch.func.vmap(one)(params, buffers).pow(2).sum().backward()

    def loop() -> None:
        for m in members:
            ode.solve(m, y0, t, rtol=rtol, atol=atol).ys.pow(2).sum().backward()

    fns: dict[str, Callable[[], object]] = {"neurosym vmap": mapped, "neurosym loop": loop}
    if importlib.util.find_spec("torchdiffeq") is not None:
        import torchdiffeq

        def td_loop() -> None:
            for m in members:
                out = torchdiffeq.odeint(m, y0, t, rtol=rtol, atol=atol, method="dopri5")
                out.pow(2).sum().backward()

        fns["torchdiffeq loop"] = td_loop

        def td_one(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> torch.Tensor:
            def field(tt: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                return torch.func.functional_call(base, (p, b), (tt, y))  # type: ignore[no-any-return]

            return torchdiffeq.odeint(field, y0, t, rtol=rtol, atol=atol, method="dopri5")

        try:
            torch.func.vmap(td_one)(params, buffers)
            print("torchdiffeq under vmap: runs")
        except Exception as exc:
            print(f"torchdiffeq under vmap: fails ({type(exc).__name__}: {str(exc)[:80]})")
    print(f"{args.members} members, batch 64, load average before: {os.getloadavg()}")
    times = best_of(fns)
    base_t = times.get("torchdiffeq loop")
    for k, s in times.items():
        ratio = f"{s / base_t:5.2f}x" if base_t else ""
        print(f"  {k:18s} {s * 1e3:8.2f} ms  {ratio}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
