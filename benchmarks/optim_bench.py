"""Iterations vs condition number for gradient descent, Nesterov and optimal heavy ball.

On ``f(x) = (μ·x₁² + L·x₂²)/2`` with ``μ = 1`` and ``κ = L`` from 10 to 10⁴, count the
iterations until the loss *stays* below the target (``iterations_to_tolerance``; the start
gives each direction loss ½) for gradient descent at ``lr = 1/L``, Nesterov's
strongly-convex setting and Polyak's optimal heavy ball; print the table and the log-log
slopes of iterations against κ (theory: 1 for gradient descent, ½ for the accelerated
methods). Also times ``continuum_limit`` on the bundled update rules.

Run: ``python benchmarks/optim_bench.py`` (``--points N`` κ values, ``--tol``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

# Run from a checkout: prefer this repository's neurosym over an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from neurosym import optim


def sweep(kappas: np.ndarray, tol: float) -> dict[str, list[int]]:
    counts: dict[str, list[int]] = {"gd": [], "nesterov": [], "heavy_ball": []}
    for kappa in kappas:
        lam = [1.0, float(kappa)]
        runs = {
            "gd": optim.Hyperparameters(1.0 / kappa, 0.0),
            "nesterov": optim.nesterov_parameters(1.0, kappa),
            "heavy_ball": optim.optimal_heavy_ball(1.0, kappa),
        }
        for method, (lr, beta) in runs.items():
            n = optim.iterations_to_tolerance(method, lam, lr=lr, momentum=beta, tol=tol)  # type: ignore[arg-type]
            if n is None:
                raise RuntimeError(f"{method} did not settle at kappa={kappa}")
            counts[method].append(n)
    return counts


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=7, help="κ values, log-spaced")
    parser.add_argument("--tol", type=float, default=1e-6)
    args = parser.parse_args(argv)
    kappas = np.logspace(1, 4, args.points)
    t0 = time.perf_counter()
    counts = sweep(kappas, args.tol)
    seconds = time.perf_counter() - t0
    print(f"iterations until the loss stays below {args.tol:g} (2-D quadratic, μ = 1, L = κ)")
    print(f"{'kappa':>9s} {'GD (1/L)':>10s} {'Nesterov':>10s} {'heavy ball*':>12s}")
    for i, kappa in enumerate(kappas):
        print(f"{kappa:9.1f} {counts['gd'][i]:10d} {counts['nesterov'][i]:10d} "
              f"{counts['heavy_ball'][i]:12d}")  # fmt: skip
    slopes = {m: float(np.polyfit(np.log(kappas), np.log(c), 1)[0]) for m, c in counts.items()}
    print(
        "log-log slope of iterations vs kappa: "
        + ", ".join(f"{m} {s:.3f}" for m, s in slopes.items())
    )
    print(f"(sweep took {seconds:.2f} s; * Polyak's optimal lr and momentum)")

    timings = {}
    for rule in (optim.HEAVY_BALL, optim.NESTEROV, optim.NAG_C, optim.RESNET, optim.LM_RESNET):
        t0 = time.perf_counter()
        optim.continuum_limit(rule)
        timings[rule.name] = time.perf_counter() - t0
    print("continuum_limit seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    return {"kappas": kappas.tolist(), "counts": counts, "slopes": slopes, "symbolic": timings}


if __name__ == "__main__":
    main()
