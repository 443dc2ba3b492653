"""Accuracy at output times between steps, against a closed form (no timings).

The damped oscillator x'' + 0.2 x' + x = 0 from (1, 0) over [0, 10] at rtol 1e-10, atol
1e-12 in float64, with 2 to 201 equally spaced output times: the largest error at the
interior output times and at the end, the step count and the vector-field calls; then
the error of a terminal event's time (x = 0). Run: ``python benchmarks/dense_output_bench.py``
(``--methods dopri8 dop853 --outputs 2 10 200 --step-control joint`` for the DOP853
comparison in docs/ode.md).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

# Run from a checkout: prefer this repository's neurosym over an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from neurosym import ode

F64 = torch.float64
W = math.sqrt(0.99)


def _field(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.stack([y[:, 1], -y[:, 0] - 0.2 * y[:, 1]], -1)


def _exact(t: torch.Tensor) -> torch.Tensor:
    e = torch.exp(-0.1 * t)
    x = e * (torch.cos(W * t) + 0.1 / W * torch.sin(W * t))
    return torch.stack([x, -e / W * torch.sin(W * t)], -1)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--methods", nargs="+", default=["dopri8", "dop853", "dopri5", "tsit5"])
    parser.add_argument("--outputs", nargs="+", type=int, default=[2, 5, 52, 201])
    parser.add_argument("--step-control", choices=["per_sample", "joint"], default="per_sample")
    args = parser.parse_args(argv)
    ctl = {"step_control": args.step_control}
    y0 = torch.tensor([[1.0, 0.0]], dtype=F64)
    tol = {"rtol": 1e-10, "atol": 1e-12}
    out: dict[str, float] = {}
    print("| method | outputs | interior error | end error | steps | nfe |")
    print("| --- | --- | --- | --- | --- | --- |")
    for method in args.methods:
        for n in args.outputs:
            t = torch.linspace(0.0, 10.0, n, dtype=F64)
            sol = ode.solve(_field, y0, t, method=method, **ctl, **tol)
            err = (sol.ys[:, 0] - _exact(t)).abs().amax(-1)
            mid = float(err[1:-1].max()) if n > 2 else math.nan
            out[f"{method}/{n}"] = mid
            print(
                f"| {method} | {n} | {mid:.1e} | {float(err[-1]):.1e} | "
                f"{sol.stats.steps} | {sol.stats.nfe} |"
            )
    t = torch.linspace(0.0, 10.0, 21, dtype=F64)
    t_zero = (math.atan2(-1.0, 0.1 / W) + math.pi) / W
    for method in args.methods:
        sol = ode.solve(_field, y0, t, method=method, event=lambda t, y: y[:, 0], **ctl, **tol)
        assert sol.event_t is not None
        e = abs(float(sol.event_t[0]) - t_zero)
        out[f"{method}/event"] = e
        print(f"{method} event x = 0: time error {e:.1e}, nfe {sol.stats.nfe}")
    return out


if __name__ == "__main__":
    main()
