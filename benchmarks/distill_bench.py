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

PySINDy is a benchmark-only dependency: ``pip install pysindy``. Run:
``python benchmarks/distill_bench.py [--seeds 0 1 2]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import sympy

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


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
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
