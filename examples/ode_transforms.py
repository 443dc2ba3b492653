"""ODE solves under ``torch.func`` and ``torch.export``: Jacobians of a flow, an ensemble
trained by vmap, an exported sampler.

1. Jacobians of the flow map ``y0 -> y(T)`` of the pendulum ``q' = p, p' = -sin q``,
   one per initial state, by ``vmap(jacrev(...))`` and ``vmap(jacfwd(...))``, checked two ways
   that do not use them: central finite differences of the solve, and Liouville's
   theorem (a Hamiltonian flow keeps volume, so ``det ∂y(T)/∂y0 = 1``).
2. An ensemble of MLP fields fitted to a damped oscillator at once: the members'
   parameters are stacked (``torch.func.stack_module_state``) and one ``vmap``-ed solve
   trains them all, against a Python loop over the members. Their spread on initial
   states outside the training set is the ensemble's uncertainty.
3. A fixed-grid sampler (the shape of a flow-matching or CNF sampler: one RK4 step per
   interval of ``t = linspace(0, 1, 9)``) exported whole by ``torch.export`` and run
   from the exported program.

Under ``vmap`` the adaptive solve is joint over every mapped slice (one step size for
all members and samples; see docs/ode.md, "torch.func").

Run ``python examples/ode_transforms.py`` (``--quick`` for a smaller run).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

# Run from a checkout: prefer this repository's neurosym over an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from neurosym import ode


def pendulum(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.cat([y[:, 1:2], -torch.sin(y[:, :1])], 1)


def flow_jacobians(n: int, t_end: float) -> dict[str, float]:
    """Part 1: Jacobians of the pendulum's flow map; errors of the two checks."""
    ts = torch.tensor([0.0, t_end], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    y0s = torch.stack([2.5 * torch.rand(n, generator=g) - 1.25, torch.randn(n, generator=g)], 1)
    y0s = y0s.double()

    def end_state(y0: torch.Tensor) -> torch.Tensor:
        return ode.solve(pendulum, y0[None], ts, rtol=1e-10, atol=1e-12).ys[-1, 0]

    jac = torch.func.vmap(torch.func.jacrev(end_state))(y0s)
    fwd = torch.func.vmap(torch.func.jacfwd(end_state))(y0s)
    eps = 1e-5
    cols = []
    for j in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[j] = eps
        plus = ode.solve(pendulum, y0s + e, ts, rtol=1e-12, atol=1e-13).ys[-1]
        minus = ode.solve(pendulum, y0s - e, ts, rtol=1e-12, atol=1e-13).ys[-1]
        cols.append((plus - minus) / (2 * eps))
    fd = torch.stack(cols, 2)
    out = {
        "det_err": float((torch.linalg.det(jac) - 1.0).abs().max()),
        "fd_err": float((jac - fd).abs().max()),
        "fwd_rev": float((jac - fwd).abs().max()),
        "jac_max": float(jac.abs().max()),
    }
    print(f"1. flow Jacobians of {n} pendulum states over [0, {t_end:g}] by vmap(jacrev):")
    print(f"   largest entry {out['jac_max']:.2f}; |det - 1| <= {out['det_err']:.1e} (Liouville)")
    print(f"   against central differences {out['fd_err']:.1e}, jacfwd {out['fwd_rev']:.1e}")
    return out


def oscillator_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """States of ``x'' + 0.2 x' + x = 0`` from closed form at 10 times in [0, 3]."""
    g = torch.Generator().manual_seed(seed)
    y0 = torch.randn(n, 2, generator=g)
    ts = torch.linspace(0.0, 3.0, 10)
    z, w = 0.1, (1 - 0.1**2) ** 0.5  # damping ratio, damped frequency
    x0, v0 = y0[:, 0], y0[:, 1]
    c = (v0 + z * x0) / w
    tt = ts[:, None]
    decay = torch.exp(-z * tt)
    x = decay * (x0 * torch.cos(w * tt) + c * torch.sin(w * tt))
    v = decay * ((-z * x0 + w * c) * torch.cos(w * tt) + (-z * c - w * x0) * torch.sin(w * tt))
    return y0, ts, torch.stack([x, v], 2)


def ensemble(members: int, iters: int) -> dict[str, object]:
    """Part 2: fit ``members`` MLP fields at once under vmap."""
    torch.manual_seed(0)
    nets = [ode.MLPField(2, (32,), time_input=False) for _ in range(members)]
    params, buffers = torch.func.stack_module_state(nets)
    base = copy.deepcopy(nets[0]).to("meta")
    y0, ts, target = oscillator_data(64, seed=1)

    def predict(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], y: torch.Tensor):  # type: ignore[no-untyped-def]
        def field(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(base, (p, b), (t, x))  # type: ignore[no-any-return]

        return ode.solve(field, y, ts, rtol=1e-5, atol=1e-6).ys

    def losses() -> torch.Tensor:
        pred = torch.func.vmap(predict, in_dims=(0, 0, None))(params, buffers, y0)
        return ((pred - target) ** 2).mean((1, 2, 3))  # one loss per member

    opt = torch.optim.Adam(params.values(), lr=1e-2)
    first = losses().detach()
    for _ in range(iters):
        opt.zero_grad()
        losses().sum().backward()  # members are independent: the sum trains each
        opt.step()
    last = losses().detach()
    # One forward and backward pass of the trained members, mapped and one by one.
    for i, net in enumerate(nets):
        net.load_state_dict({k: v[i].detach() for k, v in params.items()})

    def one_by_one() -> None:
        for net in nets:
            (((ode.solve(net, y0, ts, rtol=1e-5, atol=1e-6).ys - target) ** 2).mean()).backward()

    mapped, loop = best_of(lambda: losses().sum().backward()), best_of(one_by_one)
    y_new, _, target_new = oscillator_data(32, seed=2)
    with torch.no_grad():
        pred = torch.func.vmap(predict, in_dims=(0, 0, None))(params, buffers, y_new)
    spread = float(pred.std(0).mean())
    error = float((pred.mean(0) - target_new).abs().mean())
    print(f"2. an ensemble of {members} MLP fields fitted at once by vmap ({iters} Adam steps):")
    print("   loss per member: " + ", ".join(f"{a:.4f} -> {b:.4f}" for a, b in zip(first, last)))
    print(f"   forward + backward of the trained members: mapped {mapped * 1e3:.1f} ms, "
          f"one by one {loop * 1e3:.1f} ms ({loop / mapped:.1f}x)")  # fmt: skip
    print(f"   new initial states: mean error {error:.4f}, spread between members {spread:.4f}")
    return {"first": first.tolist(), "last": last.tolist(), "error": error, "spread": spread}


class Sampler(torch.nn.Module):
    """Transports states along a learned field over a fixed grid (one step per interval)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.field = ode.MLPField(2, (32,))

    def forward(self, y0: torch.Tensor) -> torch.Tensor:
        t = torch.linspace(0.0, 1.0, 9)
        return ode.solve(self.field, y0, t, method="rk4", steps=8).ys[-1]


def export_sampler() -> dict[str, float]:
    """Part 3: export a fixed-grid sampler and run the exported program."""
    model = Sampler()
    program = torch.export.export(model, (torch.randn(16, 2),))
    y0 = torch.randn(16, 2, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        diff = float((program.module()(y0) - model(y0)).abs().max())
    calls = sum(1 for node in program.graph.nodes if node.op == "call_function")
    print(f"3. a fixed-grid RK4 sampler exported by torch.export: {calls} operations in one "
          f"graph, no Python left; exported vs eager {diff:.1e}")  # fmt: skip
    return {"export_diff": diff, "export_ops": calls}


def best_of(fn, rounds: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run both parts; return their numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller run (for tests)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    out: dict[str, object] = dict(flow_jacobians(8 if args.quick else 64, 5.0))
    out.update(ensemble(3 if args.quick else 4, 25 if args.quick else 300))
    out.update(export_sampler())
    return out


if __name__ == "__main__":
    main()
