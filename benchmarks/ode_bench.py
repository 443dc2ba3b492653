"""Benchmark neurosym.ode against torchdiffeq and torchode in one process.

Workloads (issue 4): the spiral training iteration (dopri5, rtol 1e-7, atol 1e-9); a
batch of 512 states of dim 16 with an MLP 16-64-16 field (dopri5, rtol 1e-5, atol 1e-6,
10 output times): forward, forward+backward direct, forward+backward adjoint and the max
error against a float64 scipy DOP853 reference; fixed-step RK4 with 100 steps.

Peers that are not installed are skipped. Run: ``python benchmarks/ode_bench.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

# Run from a checkout: prefer this repository's neurosym over an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from neurosym import ode

HAVE = {
    name: importlib.util.find_spec(name) is not None
    for name in ("torchdiffeq", "torchode", "scipy")
}


def timeit(fn: Callable[[], object], *, min_time: float = 0.5, max_reps: int = 20) -> float:
    """Best-of time of ``fn`` (the minimum is the least disturbed by other load)."""
    fn()  # warm-up
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_time and len(times) < max_reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def compare(fns: dict[str, Callable[[], object]], *, rounds: int) -> dict[str, float]:
    """Best-of times of several libraries on one workload, run round-robin so that a
    burst of load on a shared machine hits all of them alike."""
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in times.items()}


class Field(nn.Module):
    """f(t, y) = net(y); ignores t so every library sees the same function."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(y)


class Spiral(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 50), nn.Tanh(), nn.Linear(50, 2))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(y**3)


def make_runners(field: nn.Module, y0: torch.Tensor, t: torch.Tensor, rtol: float, atol: float):  # type: ignore[no-untyped-def]
    run: dict[str, dict[str, Callable[[bool], torch.Tensor]]] = {}
    run["neurosym"] = {
        "direct": lambda grad: ode.solve(field, y0, t, rtol=rtol, atol=atol).ys,
        "adjoint": lambda grad: ode.solve(field, y0, t, rtol=rtol, atol=atol, adjoint=True).ys,
    }
    run["neurosym joint"] = {
        "direct": lambda grad: (
            ode.solve(field, y0, t, rtol=rtol, atol=atol, step_control="joint").ys
        ),
    }
    if HAVE["torchdiffeq"]:
        import torchdiffeq

        run["torchdiffeq"] = {
            "direct": lambda grad: torchdiffeq.odeint(
                field, y0, t, rtol=rtol, atol=atol, method="dopri5"
            ),
            "adjoint": lambda grad: torchdiffeq.odeint_adjoint(
                field, y0, t, rtol=rtol, atol=atol, method="dopri5"
            ),
        }
    if HAVE["torchode"]:
        import torchode as to

        term = to.ODETerm(field)
        step = to.Dopri5(term=term)
        ctrl = to.IntegralController(atol=atol, rtol=rtol, term=term)
        solver = to.AutoDiffAdjoint(step, ctrl)
        t_eval = t.expand(y0.shape[0], -1)

        def torchode_direct(grad: bool) -> torch.Tensor:
            sol = solver.solve(to.InitialValueProblem(y0=y0, t_eval=t_eval))
            return sol.ys.transpose(0, 1)

        run["torchode"] = {"direct": torchode_direct}
    return run


def fwd(fn: Callable[[bool], torch.Tensor]) -> Callable[[], object]:
    def go() -> object:
        with torch.no_grad():
            return fn(False)

    return go


def fwdbwd(fn: Callable[[bool], torch.Tensor], params: list[torch.Tensor]) -> Callable[[], object]:
    def go() -> object:
        for p in params:
            p.grad = None
        ys = fn(True)
        (ys**2).mean().backward()
        return None

    return go


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    dev = torch.device(args.device)
    rounds = 5 if args.quick else 20
    rows: list[tuple[str, str, float]] = []

    def measure(workload: str, fns: dict[str, Callable[[], object]]) -> None:
        for lib, seconds in compare(fns, rounds=rounds).items():
            rows.append((workload, lib, seconds))
            print(f"  {workload:32s} {lib:22s} {seconds * 1e3:9.2f} ms", flush=True)

    print(f"device={dev} torch={torch.__version__} peers={[k for k, v in HAVE.items() if v]}")
    print(f"best of {rounds} round-robin rounds per workload")
    print(f"load average before: {os.getloadavg()}")

    # Spiral training iteration (torchdiffeq's ode_demo): 20 windows of 10 times.
    torch.manual_seed(0)
    spiral = Spiral().to(dev)
    y0s = torch.randn(20, 2, device=dev)
    ts = torch.linspace(0.0, 0.25 * 9 / 40, 10, device=dev) * 10
    runs = make_runners(spiral, y0s, ts, 1e-7, 1e-9)
    params = list(spiral.parameters())
    measure(
        "spiral train iter (dopri5)",
        {lib: fwdbwd(r["direct"], params) for lib, r in runs.items()},
    )

    # MLP 16-64-16, batch 512, 10 output times.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 16)).to(dev)
    field = Field(net)
    y0 = torch.randn(512, 16, device=dev)
    t = torch.linspace(0.0, 1.0, 10, device=dev)
    runs = make_runners(field, y0, t, 1e-5, 1e-6)
    params = list(net.parameters())
    with torch.no_grad():
        bare = timeit(lambda: net(y0))
    print(f"  {'bare MLP call':32s} {'-':22s} {bare * 1e3:9.2f} ms")
    nfe = ode.solve(field, y0, t, rtol=1e-5, atol=1e-6).stats.nfe
    measure("mlp512 forward", {lib: fwd(r["direct"]) for lib, r in runs.items()})
    measure("mlp512 fwd+bwd direct", {lib: fwdbwd(r["direct"], params) for lib, r in runs.items()})
    measure(
        "mlp512 fwd+bwd adjoint",
        {lib: fwdbwd(r["adjoint"], params) for lib, r in runs.items() if "adjoint" in r},
    )
    if HAVE["scipy"]:
        import numpy as np
        from scipy.integrate import solve_ivp

        net64 = Field(nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 16))).double()
        net64.net.load_state_dict({k: v.double().cpu() for k, v in net.state_dict().items()})

        def rhs(_t: float, y: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                yy = torch.from_numpy(y).view(512, 16)
                return net64(None, yy).numpy().ravel()  # type: ignore[arg-type]

        sol = solve_ivp(rhs, (0.0, 1.0), y0.double().cpu().numpy().ravel(), method="DOP853",
                        rtol=1e-12, atol=1e-12, t_eval=t.double().cpu().numpy())  # fmt: skip
        ref = torch.from_numpy(sol.y.T.reshape(10, 512, 16))
        for lib, r in runs.items():
            with torch.no_grad():
                err = float((r["direct"](False).double().cpu() - ref).abs().max())
            print(f"  {'mlp512 max error vs DOP853':32s} {lib:22s} {err:9.2e}")
    t_call = next(s for w, lib, s in rows if w == "mlp512 forward" and lib == "neurosym") / nfe
    print(f"  neurosym per-call cost {t_call * 1e6:.0f} us vs bare network {bare * 1e6:.0f} us "
          f"({nfe} calls)")  # fmt: skip

    # Fixed-step RK4, 100 steps.
    rk: dict[str, Callable[[], object]] = {
        "neurosym": lambda: ode.solve(field, y0, t, method="rk4", steps=100)
    }
    if HAVE["torchdiffeq"]:
        import torchdiffeq

        rk["torchdiffeq"] = lambda: torchdiffeq.odeint(
            field, y0, t, method="rk4", options={"step_size": 1.0 / 100}
        )
    with torch.no_grad():
        measure("mlp512 rk4 100 steps", rk)

    print(f"load average after: {os.getloadavg()}")
    print("\nratios to torchdiffeq (lower is faster):")
    base = {w: s for w, lib, s in rows if lib == "torchdiffeq"}
    for w, lib, s in rows:
        if lib != "torchdiffeq" and w in base:
            print(f"  {w:32s} {lib:22s} {s / base[w]:6.2f}x")


if __name__ == "__main__":
    main()
