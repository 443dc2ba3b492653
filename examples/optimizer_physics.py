"""Optimisers as damped oscillators on a 2-D quadratic with condition number 100.

Gradient descent, heavy ball (over-, critically and under-damped, and at Polyak's
optimum) and Nesterov run on
``f(x) = (x₁² + 100·x₂²)/2``. For each the script prints the physical knobs (mass,
damping, time step), the damping regime of the slow direction, the worst spectral radius
and how many iterations the loss needs to *stay* below 1e-6; then it diagnoses the
under-damped run from its iterates alone. ``--plot out.png`` draws the slow direction's
phase portrait and the loss curves (``pip install 'neurosym[viz]'``).

Run: ``python examples/optimizer_physics.py`` (``--quick`` for a few-second check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

# Run from a checkout: prefer this repository's neurosym over an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from neurosym import optim
from neurosym._io import atomic_open
from neurosym.errors import OptionalDependencyError

MU, L = 1.0, 100.0


def settings() -> dict[str, tuple[Any, float, float]]:
    """Name → (method, lr, momentum). Heavy ball at lr = 1/L with three momenta, the slow
    direction over-, critically (β = (1 − √(lr·μ))², a double root) and under-damped;
    then Polyak's optimum and Nesterov."""
    lr = 1.0 / L
    critical = (1.0 - np.sqrt(lr * MU)) ** 2
    polyak = optim.optimal_heavy_ball(MU, L)
    nest = optim.nesterov_parameters(MU, L)
    return {
        "gradient descent": ("gd", lr, 0.0),
        "heavy ball, over-damped": ("heavy_ball", lr, 0.5),
        "heavy ball, critical": ("heavy_ball", lr, float(critical)),
        "heavy ball, under-damped": ("heavy_ball", lr, 0.95),
        "heavy ball, Polyak optimum": ("heavy_ball", polyak.lr, polyak.momentum),
        "Nesterov": ("nesterov", nest.lr, nest.momentum),
    }


def plot(runs: dict[str, np.ndarray], lrs: dict[str, float], path: str) -> None:
    """Phase portrait of the slow direction and loss curves, written atomically."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise OptionalDependencyError(
            "plotting needs matplotlib: pip install 'neurosym[viz]'"
        ) from exc
    fig, (phase, curves) = plt.subplots(1, 2, figsize=(11, 4.5))
    try:
        for name, xs in runs.items():
            dt = np.sqrt(lrs[name])  # mass 1: one iteration spans √lr of physical time
            velocity = np.diff(xs[:, 0]) / dt
            style = "--" if name == "Nesterov" else "-"  # it overlays critical heavy ball
            phase.plot(xs[1:, 0], velocity, style, lw=1, label=name)
            loss = 0.5 * (MU * xs[:, 0] ** 2 + L * xs[:, 1] ** 2)
            curves.semilogy(loss, style, lw=1, label=name)
        phase.set_xlabel("x₁ (slow direction)")
        phase.set_ylabel("velocity (x₁,k − x₁,k−1)/√lr")
        phase.set_title("phase space")
        curves.axhline(1e-6, color="grey", ls=":", lw=1)
        curves.set_ylim(1e-12, 10.0)
        curves.set_xlabel("iteration")
        curves.set_ylabel("loss")
        curves.set_title("loss (dotted: the 1e-6 target)")
        curves.legend(fontsize=7)
        fig.tight_layout()
        suffix = Path(path).suffix.lstrip(".") or "png"
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format=suffix, dpi=120)
    finally:
        plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the comparison and return the numbers it printed.

    Returns:
        ``iterations`` (name → count), ``regimes`` (name → regime of the slow direction),
        ``physical`` (name → (mass, damping, dt)), ``diagnosis`` (advice codes and the
        recovered momentum of the under-damped run) and ``plot`` (the path or ``None``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short trajectories for the plot")
    parser.add_argument("--plot", default=None, help="write the figure to this image file")
    args = parser.parse_args(argv)
    steps = 120 if args.quick else 400
    lam = np.array([MU, L])
    x0 = 1.0 / np.sqrt(lam)  # each direction starts with loss 1/2

    result: dict[str, Any] = {"iterations": {}, "regimes": {}, "physical": {}}
    runs, lrs = {}, {}
    print(f"f(x) = (x1² + 100·x2²)/2, start {x0.round(3).tolist()}; target: loss stays < 1e-6")
    print(f"{'':26s} {'lr':>7s} {'mom.':>6s} {'damping':>8s} {'dt':>6s} {'slow dir.':>12s} "
          f"{'radius':>7s} {'iters':>6s}")  # fmt: skip
    for name, (method, lr, beta) in settings().items():
        phys = optim.to_physical(lr, beta, method=method)
        regime = optim.damping_regime(lr, beta, MU, method=method)
        radius = float(np.max(optim.spectral_radius(lr, beta, lam, method=method)))
        n = optim.iterations_to_tolerance(method, lam, lr=lr, momentum=beta, x0=x0)
        result["iterations"][name] = n
        result["regimes"][name] = regime.value
        result["physical"][name] = (phys.mass, phys.damping, phys.dt)
        runs[name] = optim.quadratic_run(method, lam, lr=lr, momentum=beta, x0=x0, steps=steps)
        lrs[name] = lr
        print(f"{name:26s} {lr:7.4f} {beta:6.3f} {phys.damping:8.3f} {phys.dt:6.3f} "
              f"{regime.value:>12s} {radius:7.4f} {n!s:>6s}")  # fmt: skip
    print(
        f"the oscillator's critical damping for the slow direction: 2√(mμ) = {2 * np.sqrt(MU):.3f}"
    )

    method, lr, beta = settings()["heavy ball, under-damped"]
    diagnosis = optim.diagnose_run(iterates=runs["heavy ball, under-damped"][:40], lr=lr)
    print(f"\nthe under-damped run, diagnosed from its iterates: momentum "
          f"{diagnosis.momentum:.6f} (true {beta}), curvatures "
          f"{[round(c, 4) for c in diagnosis.curvatures or ()]}")  # fmt: skip
    print(diagnosis)
    print(diagnosis.advice[0].explanation)
    result["diagnosis"] = {
        "momentum": diagnosis.momentum,
        "advice": [a.code for a in diagnosis.advice],
        "suggested": diagnosis.suggested,
    }
    result["plot"] = None
    if args.plot:
        plot(runs, lrs, args.plot)
        result["plot"] = args.plot
        print(f"wrote {args.plot}")
    return result


if __name__ == "__main__":
    main()
