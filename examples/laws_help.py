"""Do laws help a neural ODE extrapolate? Train from a short window, roll out 5x longer.

Two systems, each learned by a black-box field (a residual MLP over the states, nothing of
the equations given) from a noisy short window, in three variants:

* ``none``: the laws are written but not used (a plain neural ODE);
* ``penalty``: the laws as differentiable penalties, on the trajectory and on states drawn
  around the data (collocation);
* ``hard``: the laws by construction (``HybridODE(..., hard="all")``).

Systems and laws (``der(...)`` is the time derivative along the learned field):

* damped oscillator ``x'' + 0.2 x' + x = 0`` from ``(x, v) = (2, 0)`` and ``(0, 1.5)``,
  train window ``[0, 3]``, rollout ``[0, 15]``; law ``der(0.5*v^2 + 0.5*x^2) <= 0``
  (energy never grows);
* logistic growth ``x' = x (1 - x)`` from ``x = 0.05`` and ``0.1``, train window
  ``[0, 3]``, rollout ``[0, 15]``; laws ``x <= 1`` and ``if x >= 1 then der(x) <= 0``.

For each: the extrapolation RMSE against the noiseless truth over the part of the rollout
after the window, the share of rollout times where a law is violated and by how much, and
for the hard variant whether any law was violated at *any* state where the solver evaluated
the field. Run ``python examples/laws_help.py`` (3 seeds), ``--quick`` for a smoke test.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

# Run from a checkout: prefer this repository's neurosym over an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import neurosym as ns
from neurosym.bridge import HybridODE

F64 = torch.float64

SYSTEMS: dict[str, dict[str, Any]] = {
    "oscillator": {
        "truth": "state x, v. der(x) = v. der(v) = -x - 0.2 * v.",
        "learner": "state x, v.\nlaw dissipative: der(0.5*v^2 + 0.5*x^2) <= 0.",
        "y0": [[2.0, 0.0], [0.0, 1.5]],
        "box": [(-2.5, 2.5), (-2.5, 2.5)],
    },
    "logistic": {
        "truth": "state x. der(x) = x * (1 - x).",
        "learner": "state x.\nlaw capacity: x <= 1.\nlaw saturates: if x >= 1 then der(x) <= 0.",
        "y0": [[0.05], [0.1]],
        "box": [(0.0, 1.5)],
    },
}
VARIANTS = ("none", "penalty", "hard")


def make_data(
    system: str, *, t_end: float, noise: float, seed: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Times, noisy observations and the noiseless truth on ``[0, t_end]`` (dt = 0.1)."""
    spec = SYSTEMS[system]
    truth = HybridODE(ns.parse(spec["truth"]), residual=False)
    t = torch.linspace(0, t_end, round(t_end / 0.1) + 1, dtype=F64)
    y0 = torch.tensor(spec["y0"], dtype=F64)
    with torch.no_grad():
        clean = truth.solve(y0, t, rtol=1e-10, atol=1e-12).ys
    g = torch.Generator().manual_seed(seed)
    scale = clean.reshape(-1, clean.shape[-1]).std(0)
    noisy = clean + noise * scale * torch.randn(clean.shape, generator=g, dtype=F64)
    return t, noisy, clean


def train(
    system: str, variant: str, t: Tensor, data: Tensor, *, iters: int, seed: int, weight: float
) -> HybridODE:
    """Fit a black-box field to the window by trajectory MSE (+ law penalties)."""
    spec = SYSTEMS[system]
    kb = ns.parse(spec["learner"])
    model = HybridODE(kb, hidden=(32,), hard="all" if variant == "hard" else (), seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(seed + 1000)
    lo = torch.tensor([b[0] for b in spec["box"]], dtype=F64)
    hi = torch.tensor([b[1] for b in spec["box"]], dtype=F64)
    for _ in range(iters):
        opt.zero_grad()
        pred = model.solve(data[0], t, method="rk4", dt=0.1).ys
        loss = ((pred - data) ** 2).mean()
        if variant == "penalty":
            colloc = lo + (hi - lo) * torch.rand(256, len(lo), generator=g, dtype=F64)
            pens = model.law_penalty(torch.cat([pred.reshape(-1, len(lo)), colloc]))
            loss = loss + weight * sum(pens.values(), torch.zeros((), dtype=F64))
        loss.backward()
        opt.step()
    return model


def evaluate(model: HybridODE, t_long: Tensor, clean: Tensor, t_window: float) -> dict[str, float]:
    """Extrapolation error after the window, law violations on the rollout, and (for hard
    laws) the worst violation at any state the solver evaluated the field at."""
    y0 = clean[0]
    with torch.no_grad():
        sol = model.solve(y0, t_long, method="rk4", dt=0.1)
        after = t_long > t_window + 1e-9
        rmse = float(((sol.ys[after] - clean[after]) ** 2).mean().sqrt())
        report = model.report(sol, tol=1e-9)
        worst_any_step = 0.0
        if model.hard:
            with model.recording() as seen:
                model.solve(y0, t_long, method="rk4", dt=0.1)
            for v in model.law_violations(torch.cat(seen)).values():
                worst_any_step = max(worst_any_step, float(v.max()))
    return {
        "rmse": rmse,
        "violated_share": max(s.fraction_violated for s in report.laws),
        "worst_violation": max(0.0, *(-s.worst for s in report.laws)),
        "worst_any_step": worst_any_step,
        "report": str(report),
    }


def _mean_sd(xs: Sequence[float]) -> str:
    if len(xs) == 1:
        return f"{xs[0]:.3g}"
    return f"{statistics.mean(xs):.3g} ± {statistics.stdev(xs):.2g}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument(
        "--noise", type=float, default=0.01, help="sd as a share of each state's sd"
    )
    parser.add_argument("--weight", type=float, default=1.0, help="penalty weight")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--quick", action="store_true", help="1 seed, 20 iterations")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.iters = 1, 20
    torch.set_num_threads(1)
    window, horizon = 3.0, 15.0
    results: dict[str, Any] = {}
    print(
        f"train on [0, {window}], roll out to {horizon}; "
        f"{args.seeds} seed(s), {args.iters} iterations"
    )
    print(f"{'system':<11} {'variant':<8} {'extrapolation RMSE':>22} {'violated share':>16} "
          f"{'worst violation':>16} {'hard: worst at any step':>24}")  # fmt: skip
    for system in args.systems:
        for variant in VARIANTS:
            rows = []
            start = time.perf_counter()
            for seed in range(args.seeds):
                t, noisy, _ = make_data(system, t_end=window, noise=args.noise, seed=seed)
                t_long, _, clean = make_data(system, t_end=horizon, noise=0.0, seed=seed)
                model = train(
                    system, variant, t, noisy, iters=args.iters, seed=seed, weight=args.weight
                )
                rows.append(evaluate(model, t_long, clean, window))
            seconds = (time.perf_counter() - start) / args.seeds
            key = f"{system}/{variant}"
            results[key] = {
                "rmse": [r["rmse"] for r in rows],
                "violated_share": [r["violated_share"] for r in rows],
                "worst_violation": [r["worst_violation"] for r in rows],
                "worst_any_step": [r["worst_any_step"] for r in rows],
                "seconds": seconds,
            }
            r = results[key]
            hard = _mean_sd(r["worst_any_step"]) if variant == "hard" else "-"
            print(f"{system:<11} {variant:<8} {_mean_sd(r['rmse']):>22} "
                  f"{_mean_sd(r['violated_share']):>16} {_mean_sd(r['worst_violation']):>16} "
                  f"{hard:>24}")  # fmt: skip
            if variant == "hard" and math.isfinite(r["rmse"][0]):
                results[key]["example_report"] = rows[0]["report"]
    return results


if __name__ == "__main__":
    main()
