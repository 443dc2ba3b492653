"""Benchmark neurosym.bridge.discover against PySINDy on the same data, in one process.

Cases (issue 6): the damped oscillator x'' + 0.2 x' + x = 0 (x0 = 1, v0 = 0, dt = 0.1,
t in [0, 20], 201 samples) at 0%, 1% and 5% noise, and Lorenz (sigma 10, rho 28, beta 8/3,
dt = 0.002, t in [0, 10], 5001 samples) at 1% and 5% noise. "p%" noise is Gaussian with
sd p/100 times each state's sd over the noise-free trajectory. Every case is run on the
seeds given (default 0, 1, 2); the table gives, per case and method, the worst over the
seeds: support recovered on every seed, false and missing terms summed over the seeds, the
largest relative error of a true coefficient, and the mean time of one fit.

Methods, all with the polynomial library of degree 2 (with the constant):

- ``neurosym weak``: ``bridge.discover`` defaults (weak form, window 0.2 of the median
  period, STLSQ threshold swept and scored by BIC);
- ``neurosym savgol``: ``bridge.discover(method="savgol")`` (Savitzky–Golay window 9);
- ``pysindy default``: ``ps.SINDy()``: finite differences, STLSQ(threshold=0.1);
- ``pysindy smoothed``: ``SmoothedFiniteDifference()`` (its default Savitzky–Golay
  smoother), STLSQ(threshold=0.1);
- ``pysindy weak``: not run (PySINDy 2's weak form needs its PDE library and a spatial
  grid; the two strong-form configurations above are its documented ODE defaults).

A second table distils a learned model: a NeuralODE (MLP 2-32-32-2, tanh, no time
input) trained on the 1%-noise oscillator samples by fitting 1-second rollouts (RK4,
dt 0.1) from every sample, 600 Adam steps (lr 1e-2, cosine decay); ``bridge.distill``
then fits the field at the observed states. It reports the coefficients' support and
error, the damping ratio of the linearisation, and the rollout error on a held-out
initial state (x0 = -0.5, v0 = 0.8, t in [0, 20]; RMS error over the sd of the true
trajectory) of the network, the distilled equations and ``discover``'s equations.

PySINDy is a benchmark-only dependency: ``pip install pysindy``. Run:
``python benchmarks/distill_bench.py [--seeds 0 1 2] [--no-neural]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import sympy
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from neurosym import bridge, ode

Coefs = dict[str, dict[sympy.Expr, float]]  # state -> term -> coefficient


def _true(tr: ode.Trajectory) -> Coefs:
    return {
        str(eq.lhs.args[0]): {
            k: float(v) for k, v in sympy.expand(eq.rhs).as_coefficients_dict().items()
        }
        for eq in tr.equations
    }


def _from_equations(eqs: Sequence[sympy.Eq]) -> Coefs:
    out: Coefs = {}
    for eq in eqs:
        d = sympy.expand(eq.rhs).as_coefficients_dict()
        out[str(eq.lhs.args[0])] = {k: float(v) for k, v in d.items() if float(v) != 0.0}
    return out


def _pysindy_term(name: str, syms: dict[str, sympy.Symbol]) -> sympy.Expr:
    """A PySINDy feature name such as ``x v`` or ``x^2`` as a sympy monomial."""
    if name == "1":
        return sympy.Integer(1)
    term: sympy.Expr = sympy.Integer(1)
    for factor in name.split():
        base, _, power = factor.partition("^")
        term = term * syms[base] ** (int(power) if power else 1)
    return term


def score(found: Coefs, true: Coefs) -> tuple[int, int, float]:
    """(false terms, missing terms, max relative error of the true coefficients found)."""
    false = missing = 0
    worst = 0.0
    for state, terms in true.items():
        got = found.get(state, {})
        false += sum(1 for k in got if k not in terms)
        for k, c in terms.items():
            if k not in got:
                missing += 1
            else:
                worst = max(worst, abs(got[k] - c) / abs(c))
    return false, missing, worst


def run_neurosym(tr: ode.Trajectory, method: str) -> Coefs:
    eqs = bridge.discover(tr.states, tr.t, names=tr.names, method=method)  # type: ignore[arg-type]
    return _from_equations(eqs)


def run_pysindy(tr: ode.Trajectory, smoothed: bool) -> Coefs:
    import pysindy as ps

    diff = ps.SmoothedFiniteDifference() if smoothed else ps.FiniteDifference()
    model = ps.SINDy(
        optimizer=ps.STLSQ(threshold=0.1),
        feature_library=ps.PolynomialLibrary(degree=2),
        differentiation_method=diff,
    )
    model.fit(tr.states.numpy(), t=tr.t.numpy(), feature_names=list(tr.names))
    syms = {n: sympy.Symbol(n) for n in tr.names}
    terms = [_pysindy_term(n, syms) for n in model.get_feature_names()]
    coef = model.coefficients()
    return {
        n: {t: float(c) for t, c in zip(terms, coef[i]) if c != 0.0} for i, n in enumerate(tr.names)
    }


def train_neural(tr: ode.Trajectory, seed: int, *, steps: int = 600, seg: int = 10) -> nn.Module:
    """A NeuralODE field fitted to ``seg``-sample rollouts from every observed state."""
    torch.manual_seed(seed)
    field = ode.MLPField(len(tr.names), (32, 32), time_input=False).double()
    idx = torch.arange(tr.states.shape[0] - seg)[:, None] + torch.arange(seg + 1)[None]
    target = tr.states[idx]  # (K, seg + 1, D)
    tt = tr.t[: seg + 1]
    opt = torch.optim.Adam(field.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        sol = ode.solve(field, target[:, 0], tt, method="rk4", dt=float(tt[1] - tt[0]))
        loss = ((sol.ys.transpose(0, 1) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        sched.step()
    return field


def rollout_error(
    f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ref: ode.Trajectory
) -> float:
    with torch.no_grad():
        sol = ode.solve(f, ref.clean[:1], ref.t, rtol=1e-8, atol=1e-10)
    return float((sol.ys[:, 0] - ref.clean).pow(2).mean().sqrt() / ref.clean.std())


def neural_table(seeds: Sequence[int]) -> list[dict[str, object]]:
    held = ode.damped_oscillator(y0=(-0.5, 0.8))
    print()
    header = (
        f"{'seed':<5} {'support':<8} {'max rel err':>11} {'zeta':>8} {'rollout: neural':>16} "
        f"{'distilled':>10} {'discover':>9} {'train':>7}"
    )
    print(header)
    print("-" * len(header))
    rows: list[dict[str, object]] = []
    for seed in seeds:
        tr = ode.damped_oscillator(noise=0.01, seed=seed)
        t0 = time.perf_counter()
        field = train_neural(tr, seed)
        elapsed = time.perf_counter() - t0
        d = bridge.distill(field, tr.states, names=tr.names)
        false, missing, worst = score(_from_equations(d.equations), _true(tr))
        found = bridge.discover(tr.states, tr.t, names=tr.names)
        row = {
            "seed": seed,
            "support": "yes" if false == missing == 0 else "no",
            "max_rel_err": worst,
            "zeta": bridge.damping_ratio(d.equations),
            "rollout_neural": rollout_error(field, held),
            "rollout_distilled": rollout_error(d.field, held),
            "rollout_discover": rollout_error(_field_of(found, tr.names), held),
            "train_s": elapsed,
        }
        rows.append(row)
        print(
            f"{seed:<5} {row['support']:<8} {worst:>11.2e} {row['zeta']:>8.5f} "
            f"{row['rollout_neural']:>16.2e} {row['rollout_distilled']:>10.2e} "
            f"{row['rollout_discover']:>9.2e} {elapsed:>6.1f}s",
            flush=True,
        )
    return rows


def _field_of(
    eqs: Sequence[sympy.Eq], names: Sequence[str]
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    from neurosym.bridge._torchify import TorchExpr

    exprs = [TorchExpr(e.rhs) for e in eqs]

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        values = {n: y[:, i] for i, n in enumerate(names)}
        return torch.stack([e(values).expand(y.shape[0]) for e in exprs], dim=1)

    return f


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-neural", action="store_true", help="skip the NeuralODE table")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # a shared machine; every method runs single-threaded
    methods: dict[str, Callable[[ode.Trajectory], Coefs]] = {
        "neurosym weak": lambda tr: run_neurosym(tr, "weak"),
        "neurosym savgol": lambda tr: run_neurosym(tr, "savgol"),
    }
    if importlib.util.find_spec("pysindy") is not None:
        methods["pysindy default"] = lambda tr: run_pysindy(tr, False)
        methods["pysindy smoothed"] = lambda tr: run_pysindy(tr, True)
    else:
        print("pysindy is not installed (pip install pysindy): its rows are skipped")
    cases: dict[str, Callable[[int], ode.Trajectory]] = {
        "oscillator 0%": lambda s: ode.damped_oscillator(noise=0.0, seed=s),
        "oscillator 1%": lambda s: ode.damped_oscillator(noise=0.01, seed=s),
        "oscillator 5%": lambda s: ode.damped_oscillator(noise=0.05, seed=s),
        "lorenz 1%": lambda s: ode.lorenz(noise=0.01, seed=s),
        "lorenz 5%": lambda s: ode.lorenz(noise=0.05, seed=s),
    }
    rows: list[dict[str, object]] = []
    header = (
        f"{'case':<15} {'method':<17} {'support':<8} {'false':>5} {'missing':>7} "
        f"{'max rel err':>11} {'time':>9}"
    )
    print(header)
    print("-" * len(header))
    for case, make in cases.items():
        data = [make(s) for s in args.seeds]
        for name, fit in methods.items():
            false = missing = 0
            worst, elapsed = 0.0, 0.0
            for tr in data:
                t0 = time.perf_counter()
                found = fit(tr)
                elapsed += time.perf_counter() - t0
                f, m, w = score(found, _true(tr))
                false, missing, worst = false + f, missing + m, max(worst, w)
            ok = "yes" if false == missing == 0 else "no"
            rows.append(
                {"case": case, "method": name, "support": ok, "false": false, "missing": missing,
                 "max_rel_err": worst, "time_s": elapsed / len(data)}
            )  # fmt: skip
            print(
                f"{case:<15} {name:<17} {ok:<8} {false:>5} {missing:>7} {worst:>11.2e} "
                f"{1e3 * elapsed / len(data):>7.1f}ms",
                flush=True,
            )
    return rows


if __name__ == "__main__":
    main()
