"""Lotka–Volterra on the Hudson Bay lynx and hare pelts, 1900–1920: four positive rates.

``rules/lynx_hare.rules`` states the model's form (prey grow and are eaten, predators grow
by eating and die) with four learnable rates, and laws that keep rates and populations
positive; those laws are hard here, so no optimiser step and no solver stage can leave
them. The rates and the initial populations are fitted to the pelt counts
(``data/lynx_hare.csv``, see ``data/README.md`` for the source) by least squares on the
logarithms of the counts (L-BFGS). Then the fitted model's cycle period (from the spacing of its
hare peaks over a long simulation) is compared with the data's (about 10 years).

A crude model of these data, as is well known: pelts are not populations, and the real
cycle is driven by more than one predator. Run ``python examples/lynx_hare.py``
(``--plot out.png`` for the figure, ``--quick`` for a smoke test).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

# Run from a checkout: prefer this repository's neurosym over an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import neurosym as ns
from neurosym.bridge import HybridODE

ROOT = Path(__file__).resolve().parents[1]

F64 = torch.float64


def read_pelts(path: Path) -> tuple[Tensor, Tensor]:
    """Years ``(T,)`` and counts ``(T, 2)`` (hare, lynx; thousands) from the CSV."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh)]
    years = torch.tensor([float(r["year"]) for r in rows], dtype=F64)
    counts = torch.tensor([[float(r["hare"]), float(r["lynx"])] for r in rows], dtype=F64)
    return years, counts


def peak_period(t: Tensor, x: Tensor) -> float:
    """Mean spacing of the local maxima of ``x(t)`` (NaN with fewer than two)."""
    inner = (x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])
    peaks = t[1:-1][inner]
    if len(peaks) < 2:
        return math.nan
    return float((peaks[-1] - peaks[0]) / (len(peaks) - 1))


def fit(years: Tensor, counts: Tensor, *, iters: int) -> tuple[HybridODE, Tensor, list[float]]:
    """Fit the rates and the log initial populations; returns the model, y0 and the loss curve."""
    model = HybridODE(ns.load(ROOT / "rules" / "lynx_hare.rules"), residual=False, hard="all")
    log_y0 = nn.Parameter(counts[0].log().clone())
    t = years - years[0]
    params = [*model.parameters(), log_y0]
    # A smooth problem with six unknowns: quasi-Newton steps converge in a few dozen.
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=iters, line_search_fn="strong_wolfe")
    curve: list[float] = []

    def closure() -> Tensor:
        opt.zero_grad()
        pred = model.solve(log_y0.exp()[None], t, method="rk4", dt=0.1).ys[:, 0]
        loss = ((pred.log() - counts.log()) ** 2).mean()
        loss.backward()
        curve.append(float(loss.detach()))
        return loss

    opt.step(closure)  # type: ignore[arg-type]
    return model, log_y0.detach().exp(), curve


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "lynx_hare.csv")
    parser.add_argument("--iters", type=int, default=100, help="L-BFGS iterations")
    parser.add_argument(
        "--plot", type=Path, help="write data and fitted trajectories (PNG/SVG/PDF)"
    )
    parser.add_argument("--quick", action="store_true", help="5 iterations")
    args = parser.parse_args(argv)
    if args.quick:
        args.iters = 5
    torch.set_num_threads(1)
    years, counts = read_pelts(args.data)
    model, y0, curve = fit(years, counts, iters=args.iters)
    rates = model.param_table()
    long_t = torch.linspace(0, 200, 4001, dtype=F64)
    with torch.no_grad():
        long = model.solve(y0[None], long_t, rtol=1e-8, atol=1e-10).ys[:, 0]
        fitted = model.solve(y0[None], years - years[0], rtol=1e-8, atol=1e-10).ys[:, 0]
    model_period = peak_period(long_t, long[:, 0])
    data_period = peak_period(years, counts[:, 0])
    small_cycle = 2 * math.pi / math.sqrt(rates["a"] * rates["c"])
    print(f"fitted rates: a = {rates['a']:.4f}, b = {rates['b']:.5f}, c = {rates['c']:.4f}, "
          f"d = {rates['d']:.5f} (all positive: {all(v > 0 for v in rates.values())})")  # fmt: skip
    print(f"initial populations: hare {float(y0[0]):.1f}, lynx {float(y0[1]):.1f} (thousands)")
    print(f"RMS error of log counts: {math.sqrt(curve[-1]):.3f} (from {math.sqrt(curve[0]):.3f})")
    print(f"cycle period: model {model_period:.2f} years (small-cycle limit {small_cycle:.2f}), "
          f"data {data_period:.2f} years (hare peaks)")  # fmt: skip
    if args.plot:
        from neurosym.viz import plot_lines

        fine_t = torch.linspace(0, float(years[-1] - years[0]), 401, dtype=F64)
        with torch.no_grad():
            fine = model.solve(y0[None], fine_t, rtol=1e-8, atol=1e-10).ys[:, 0]
        plot_lines(
            args.plot,
            series={
                "hare (data)": (years.tolist(), counts[:, 0].tolist()),
                "lynx (data)": (years.tolist(), counts[:, 1].tolist()),
                "hare (model)": ((fine_t + years[0]).tolist(), fine[:, 0].tolist()),
                "lynx (model)": ((fine_t + years[0]).tolist(), fine[:, 1].tolist()),
            },
            markers={"hare (data)", "lynx (data)"},
            xlabel="year",
            ylabel="pelts (thousands)",
            title="Hudson Bay lynx and hare, Lotka–Volterra fit",
            integer_x=True,
        )
        print(f"plot written to {args.plot}")
    return {
        "rates": rates,
        "y0": y0.tolist(),
        "fitted": fitted.tolist(),
        "loss": curve,
        "model_period": model_period,
        "data_period": data_period,
        "small_cycle_period": small_cycle,
    }


if __name__ == "__main__":
    main()
