"""Benchmark neurosym.ode against torchdiffeq and torchode in one process.

Workloads (issue 4): the spiral training iteration (dopri5, rtol 1e-7, atol 1e-9); a
batch of 512 states of dim 16 with an MLP 16-64-16 field (dopri5, rtol 1e-5, atol 1e-6,
10 output times): forward, forward+backward direct, forward+backward adjoint and the max
error against a float64 scipy DOP853 reference; fixed-step RK4 with 100 steps.

Peers that are not installed are skipped; diffrax (JAX) runs the same network with the same
weights as one joint state (on CUDA by default; on the CPU with ``--diffrax``). Run:
``python benchmarks/ode_bench.py``; on a GPU machine
``python benchmarks/ode_bench.py --device cuda --large`` adds the batch 8192 x dim 64 x
hidden 256 case and reports the host-device synchronisations inside one solve. On CUDA
every timed call ends with ``torch.cuda.synchronize()`` (JAX: ``block_until_ready``), so
times are wall times of finished work, not of queued kernels.
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
    for name in ("torchdiffeq", "torchode", "scipy", "diffrax")
}
SYNC: Callable[[], None] = lambda: None  # noqa: E731  (set to torch.cuda.synchronize on CUDA)


def timeit(fn: Callable[[], object], *, min_time: float = 0.5, max_reps: int = 20) -> float:
    """Best-of time of ``fn`` (the minimum is the least disturbed by other load)."""
    fn()  # warm-up
    SYNC()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_time and len(times) < max_reps):
        t0 = time.perf_counter()
        fn()
        SYNC()
        times.append(time.perf_counter() - t0)
    return min(times)


def compare(fns: dict[str, Callable[[], object]], *, rounds: int) -> dict[str, float]:
    """Best-of times of several libraries on one workload, run round-robin so that a
    burst of load on a shared machine hits all of them alike."""
    for fn in fns.values():
        fn()  # warm-up (and JIT compilation for diffrax)
        fn()
    SYNC()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            SYNC()
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


COMPILE = True  # also time solve(..., compile=True) (set by --no-compile)


def make_runners(field: nn.Module, y0: torch.Tensor, t: torch.Tensor, rtol: float, atol: float):  # type: ignore[no-untyped-def]
    run: dict[str, dict[str, Callable[[bool], torch.Tensor]]] = {}
    run["neurosym"] = {
        "direct": lambda grad: ode.solve(field, y0, t, rtol=rtol, atol=atol).ys,
        "adjoint": lambda grad: ode.solve(field, y0, t, rtol=rtol, atol=atol, adjoint=True).ys,
    }
    # The default step control ("auto") is joint on the CPU and per-sample elsewhere: the
    # other one runs as its own row.
    other = "per_sample" if y0.device.type == "cpu" else "joint"
    run[f"neurosym {other}"] = {
        "direct": lambda grad: ode.solve(field, y0, t, rtol=rtol, atol=atol, step_control=other).ys,
    }
    if COMPILE:
        # The step compiled by torch.compile (the first call's compilation is not timed:
        # compare() warms every runner up; first_call() reports it).
        run["neurosym compile"] = {
            "direct": lambda grad: ode.solve(field, y0, t, rtol=rtol, atol=atol, compile=True).ys,
        }
    if y0.device.type != "cpu":
        # the loop that reads the device only every 8 steps, against the default (every step)
        run["neurosym check_every=8"] = {
            "direct": lambda grad: ode.solve(field, y0, t, rtol=rtol, atol=atol, check_every=8).ys,
        }
    if y0.device.type == "cuda":
        # one step captured as a CUDA graph: forward (no_grad) solves only
        run["neurosym cuda_graph"] = {
            "forward": lambda grad: (
                ode.solve(field, y0, t, rtol=rtol, atol=atol, cuda_graph=True).ys
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


def first_call(label: str, fn: Callable[[], object]) -> None:
    """Print the time of a compiled runner's first call (compilation included)."""
    t0 = time.perf_counter()
    fn()
    SYNC()
    print(f"  {label:32s} {'compile: first call':22s} {time.perf_counter() - t0:9.2f} s")


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


class Counting(nn.Module):
    """Counts calls of a field (torchdiffeq reports no NFE of its own)."""

    def __init__(self, field: nn.Module) -> None:
        super().__init__()
        self.field = field
        self.calls = 0

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.field(t, y)  # type: ignore[no-any-return]


def diffrax_runners(  # type: ignore[no-untyped-def]
    module: nn.Module, y0: torch.Tensor, t: torch.Tensor, rtol: float, atol: float, *, cube: bool
):
    """The same network (same weights, float32) as a diffrax Dopri5 problem on the same
    device, the batch as one joint state (like torchdiffeq): forward, grad through the
    solver (``RecursiveCheckpointAdjoint``) and grad by ``BacksolveAdjoint``."""
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # share the GPU with torch
    import diffrax
    import jax
    import jax.numpy as jnp
    import numpy as np

    jax.config.update("jax_default_matmul_precision", "highest")  # no TF32: torch uses none
    jdev = jax.devices("gpu")[0] if y0.device.type == "cuda" else jax.devices("cpu")[0]

    def put(x: torch.Tensor):  # type: ignore[no-untyped-def]
        return jax.device_put(jnp.asarray(x.detach().cpu().numpy()), jdev)

    params = [put(v) for v in module.state_dict().values()]  # W1, b1, W2, b2
    ts, yy0 = put(t), put(y0)

    def field(_t, y, p):  # type: ignore[no-untyped-def]
        w1, b1, w2, b2 = p
        z = y**3 if cube else y
        return jnp.tanh(z @ w1.T + b1) @ w2.T + b2

    term = diffrax.ODETerm(field)

    def solve(p, adjoint):  # type: ignore[no-untyped-def]
        return diffrax.diffeqsolve(
            term, diffrax.Dopri5(), t0=ts[0], t1=ts[-1], dt0=None, y0=yy0, args=p,
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
            saveat=diffrax.SaveAt(ts=ts), max_steps=100_000, adjoint=adjoint,
        ).ys  # fmt: skip

    fwd_j = jax.jit(lambda p: solve(p, diffrax.RecursiveCheckpointAdjoint()))
    direct_j = jax.jit(
        jax.grad(lambda p: jnp.mean(solve(p, diffrax.RecursiveCheckpointAdjoint()) ** 2))
    )
    adjoint_j = jax.jit(jax.grad(lambda p: jnp.mean(solve(p, diffrax.BacksolveAdjoint()) ** 2)))
    return {
        "forward": lambda: fwd_j(params).block_until_ready(),
        "direct": lambda: jax.block_until_ready(direct_j(params)),
        "adjoint": lambda: jax.block_until_ready(adjoint_j(params)),
        "ys": lambda: torch.from_numpy(np.array(fwd_j(params))),
    }


def mlp_workload(  # type: ignore[no-untyped-def]
    label: str, dev: torch.device, batch: int, dim: int, hidden: int, measure, rows, *,
    reference: bool, max_reps: int = 20,
) -> None:  # fmt: skip
    """Forward, fwd+bwd direct, fwd+bwd adjoint of an MLP dim-hidden-dim field over ten
    output times in [0, 1] (dopri5, rtol 1e-5, atol 1e-6), the bare network's time and the
    cost per vector-field call of each library."""
    rtol, atol = 1e-5, 1e-6
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, dim)).to(dev)
    field = Field(net)
    y0 = torch.randn(batch, dim, device=dev)
    t = torch.linspace(0.0, 1.0, 10, device=dev)
    runs = make_runners(field, y0, t, rtol, atol)
    params = list(net.parameters())
    with torch.no_grad():
        bare = timeit(lambda: net(y0), max_reps=max_reps * 5)
    print(f"  {label + ' bare network call':32s} {'-':22s} {bare * 1e3:9.3f} ms")
    nfe = {"neurosym": ode.solve(field, y0, t, rtol=rtol, atol=atol).stats.nfe}
    other = "per_sample" if dev.type == "cpu" else "joint"
    nfe[f"neurosym {other}"] = ode.solve(
        field, y0, t, rtol=rtol, atol=atol, step_control=other
    ).stats.nfe
    if COMPILE:
        with torch.no_grad():
            nfe["neurosym compile"] = ode.solve(
                field, y0, t, rtol=rtol, atol=atol, compile=True
            ).stats.nfe
    if dev.type == "cuda":
        with torch.no_grad():
            nfe["neurosym cuda_graph"] = ode.solve(
                field, y0, t, rtol=rtol, atol=atol, cuda_graph=True
            ).stats.nfe
    if HAVE["torchdiffeq"]:
        import torchdiffeq

        counting = Counting(field)
        with torch.no_grad():
            torchdiffeq.odeint(counting, y0, t, rtol=rtol, atol=atol, method="dopri5")
        nfe["torchdiffeq"] = counting.calls
    jx = diffrax_runners(net, y0, t, rtol, atol, cube=False) if HAVE["diffrax"] else None
    fw = {lib: fwd(r.get("forward") or r["direct"]) for lib, r in runs.items()}
    fb = {lib: fwdbwd(r["direct"], params) for lib, r in runs.items() if "direct" in r}
    ad = {lib: fwdbwd(r["adjoint"], params) for lib, r in runs.items() if "adjoint" in r}
    if jx is not None:
        fw["diffrax"], fb["diffrax"], ad["diffrax"] = jx["forward"], jx["direct"], jx["adjoint"]
    if "neurosym compile" in fw:
        first_call(f"{label} forward", fw["neurosym compile"])
        first_call(f"{label} fwd+bwd direct", fb["neurosym compile"])
    measure(f"{label} forward", fw)
    measure(f"{label} fwd+bwd direct", fb)
    measure(f"{label} fwd+bwd adjoint", ad)
    if reference and HAVE["scipy"]:
        import numpy as np
        from scipy.integrate import solve_ivp

        net64 = Field(nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, dim)))
        net64 = net64.double()
        net64.net.load_state_dict({k: v.double().cpu() for k, v in net.state_dict().items()})

        def rhs(_t: float, y: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                yy = torch.from_numpy(y).view(batch, dim)
                return net64(None, yy).numpy().ravel()  # type: ignore[arg-type]

        sol = solve_ivp(rhs, (0.0, 1.0), y0.double().cpu().numpy().ravel(), method="DOP853",
                        rtol=1e-12, atol=1e-12, t_eval=t.double().cpu().numpy())  # fmt: skip
        ref = torch.from_numpy(sol.y.T.reshape(10, batch, dim))
        outs = {}
        for lib, r in runs.items():
            with torch.no_grad():
                outs[lib] = (r.get("forward") or r["direct"])(False).double().cpu()
        if jx is not None:
            outs["diffrax"] = jx["ys"]().double()
        for lib, out in outs.items():
            err = float((out - ref).abs().max())
            print(f"  {label + ' max error vs DOP853':32s} {lib:22s} {err:9.2e}")
    for lib, n in nfe.items():
        t_fwd = next(s for w, k, s in rows if w == f"{label} forward" and k == lib)
        per = t_fwd / n
        print(f"  {label + ' cost per field call':32s} {lib:22s} {per * 1e6:7.0f} us "
              f"({n} calls; {per / bare:4.2f}x the bare net's {bare * 1e6:.0f} us)")  # fmt: skip
    if dev.type == "cuda":
        import warnings

        torch.cuda.set_sync_debug_mode("warn")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with torch.no_grad():
                sol = ode.solve(field, y0, t, rtol=rtol, atol=atol)
        torch.cuda.set_sync_debug_mode(0)
        print(f"  {label}: {len(caught)} host-device synchronisations in one neurosym solve "
              f"of {sol.stats.steps} step iterations")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    global SYNC, COMPILE
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument(
        "--large", action="store_true", help="add batch 8192 x dim 64 x hidden 256 (for GPUs)"
    )
    parser.add_argument("--no-spiral", action="store_true", help="skip the spiral workload")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time solve(..., compile=True) (torch.compile of the step; its first "
        "call, with the compilation, is reported apart)",
    )
    parser.add_argument(
        "--diffrax",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run diffrax too (default: on CUDA only; on the CPU, JAX's threads in the same "
        "process slowed the torch libraries' timings by up to 25%%)",
    )
    args = parser.parse_args(argv)
    COMPILE = args.compile
    if not (args.diffrax if args.diffrax is not None else args.device.startswith("cuda")):
        HAVE["diffrax"] = False
    elif not args.device.startswith("cuda"):
        os.environ.setdefault(
            "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        )
    torch.set_num_threads(1)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        SYNC = torch.cuda.synchronize
    rounds = 5 if args.quick else 20
    rows: list[tuple[str, str, float]] = []

    def measure(workload: str, fns: dict[str, Callable[[], object]]) -> None:
        for lib, seconds in compare(fns, rounds=rounds).items():
            rows.append((workload, lib, seconds))
            print(f"  {workload:32s} {lib:22s} {seconds * 1e3:9.2f} ms", flush=True)

    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"device={dev} ({name}) torch={torch.__version__} "
          f"peers={[k for k, v in HAVE.items() if v]}")  # fmt: skip
    print(f"best of {rounds} round-robin rounds per workload")
    print(f"load average before: {os.getloadavg()}")

    if not args.no_spiral:
        # Spiral training iteration (torchdiffeq's ode_demo): 20 windows of 10 times.
        torch.manual_seed(0)
        spiral = Spiral().to(dev)
        y0s = torch.randn(20, 2, device=dev)
        ts = torch.linspace(0.0, 0.25 * 9 / 40, 10, device=dev) * 10
        runs = make_runners(spiral, y0s, ts, 1e-7, 1e-9)
        params = list(spiral.parameters())
        fns = {lib: fwdbwd(r["direct"], params) for lib, r in runs.items() if "direct" in r}
        if "neurosym compile" in fns:
            first_call("spiral train iter (dopri5)", fns["neurosym compile"])
        if HAVE["diffrax"]:
            fns["diffrax"] = diffrax_runners(spiral.net, y0s, ts, 1e-7, 1e-9, cube=True)["direct"]
        measure("spiral train iter (dopri5)", fns)

    # MLP 16-64-16, batch 512, 10 output times.
    mlp_workload("mlp512", dev, 512, 16, 64, measure, rows, reference=True)

    # Fixed-step RK4, 100 steps.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 16)).to(dev)
    field = Field(net)
    y0 = torch.randn(512, 16, device=dev)
    t = torch.linspace(0.0, 1.0, 10, device=dev)
    rk: dict[str, Callable[[], object]] = {
        "neurosym": lambda: ode.solve(field, y0, t, method="rk4", steps=100)
    }
    if COMPILE:
        rk["neurosym compile"] = lambda: ode.solve(
            field, y0, t, method="rk4", steps=100, compile=True
        )
        with torch.no_grad():
            first_call("mlp512 rk4 100 steps", rk["neurosym compile"])
    if HAVE["torchdiffeq"]:
        import torchdiffeq

        rk["torchdiffeq"] = lambda: torchdiffeq.odeint(
            field, y0, t, method="rk4", options={"step_size": 1.0 / 100}
        )
    with torch.no_grad():
        measure("mlp512 rk4 100 steps", rk)

    if args.large:
        mlp_workload("large8192", dev, 8192, 64, 256, measure, rows, reference=False)

    print(f"load average after: {os.getloadavg()}")
    print("\nratios to torchdiffeq (lower is faster):")
    base = {w: s for w, lib, s in rows if lib == "torchdiffeq"}
    for w, lib, s in rows:
        if lib != "torchdiffeq" and w in base:
            print(f"  {w:32s} {lib:22s} {s / base[w]:6.2f}x")
    if HAVE["diffrax"]:
        print("\nratios to diffrax (lower is faster):")
        dx = {w: s for w, lib, s in rows if lib == "diffrax"}
        for w, lib, s in rows:
            if lib.startswith("neurosym") and w in dx:
                print(f"  {w:32s} {lib:22s} {s / dx[w]:6.2f}x")


if __name__ == "__main__":
    main()
