"""Digit addition: neurosym's compiled program against an exact hand-written floor.

The task is ``examples/digit_addition.py``'s (its data pipeline, network, epochs and
training loop are imported from it, not copied): two N-digit numbers (N = 1, 2, 4, 15)
are drawn as scikit-learn's bundled 8x8 ``load_digits`` images, only their sum is
labelled, and an MLP 64-128-10 with a softmax is trained through the sum with Adam
(lr 3e-3), batch 32, ``max(1, len(train) // (2 * N * 32))`` steps per epoch, on the
negative log-likelihood of the labelled sum. Three ways of computing that likelihood are
timed on the same work:

(a) neurosym: ``bridge.compile`` of the addition rule, ``prog.query(goal, inputs).nll(...)``
    (the compiler recognises the sum: convolutions at N <= 2, carries beyond);
(b) the floor: exact dynamic programs written by hand for this one task (below): for
    N <= 2 the distribution of each N-digit number is the place-value product of its
    digits' distributions and the distribution of the sum the convolution of the two;
    for N > 2 a two-state carry recursion from the units digit up, in log scale;
(c) DeepProbLog, when it is importable (it needs its own environment; otherwise skipped).

CPU time per epoch is ``time.process_time`` over the training steps of an epoch, with
``torch.set_num_threads(1)``, the median over a run's epochs; seeds run round robin.
Grounding (neurosym's one-time compilation of the goal) is done before the clock starts
and reported on its own. Test accuracy of the sum (1000 random pairs of unseen images)
and of single digits (every test image; no digit label is ever used in training) is
reported as mean ± sd over the seeds.

Run from the repository root (needs scikit-learn)::

    python benchmarks/digit_addition_bench.py                 # N = 1, 2, 4, 15; 3 seeds
    python benchmarks/digit_addition_bench.py --digits 4,15 --epochs 40,200 --seeds 1  # smoke
    python benchmarks/digit_addition_bench.py --profile       # cProfile of neurosym's steps

The default run takes about 75 s of wall time on a shared 2-core machine; the results are
in docs/bridge.md.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import neurosym as ns  # noqa: E402
from neurosym import bridge  # noqa: E402

BATCH = 32
LR = 3e-3
EPS = 1e-12  # the clamp QueryResult.nll uses


def _example() -> ModuleType:
    """``examples/digit_addition.py`` as a module (its data pipeline, network and rules)."""
    path = ROOT / "examples" / "digit_addition.py"
    spec = importlib.util.spec_from_file_location("digit_addition_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EX = _example()


# --------------------------------------------------------------------------- the floor
def number_distribution(digits: list[torch.Tensor]) -> torch.Tensor:
    """Distribution of ``sum(10**(n-1-i) * X_i)`` from the digits' ``(batch, 10)``
    distributions, most significant first: ``(batch, 10**n)``, column = value.

    The digits are independent and place values do not overlap, so the distribution is
    the outer product of the digits' distributions laid out in row-major order."""
    dist = digits[0]
    for p in digits[1:]:
        dist = (dist[:, :, None] * p[:, None, :]).reshape(dist.shape[0], -1)
    return dist


def sum_distribution(pa: torch.Tensor, pb: torch.Tensor) -> torch.Tensor:
    """``P(A + B = z)`` for ``z = 0 .. 2M-2`` from ``(batch, M)`` distributions of A and B:
    one grouped ``conv1d`` (a convolution per batch element)."""
    batch, m = pa.shape
    out = F.conv1d(pa.unsqueeze(0), pb.flip(1).unsqueeze(1), padding=m - 1, groups=batch)
    return out.squeeze(0)


def carry_log_likelihood(probs: list[torch.Tensor], target: torch.Tensor, n: int) -> torch.Tensor:
    """``log P(A + B = target)`` for two n-digit numbers, by carries (written for this
    task only): walking from the units up, the state is the probability that the carry
    into the position is 0 or 1 given the digits of the sum so far; the position's two
    digits sum to ``s`` (19 values; all positions in one grouped convolution), and the
    position is right iff ``s + carry`` ends in the sum's digit there. Each step is
    renormalised and its log-scale kept."""
    batch = target.shape[0]
    pa = torch.stack(probs[:n], dim=1).reshape(1, batch * n, 10)
    pb = torch.stack(probs[n:], dim=1).reshape(batch * n, 1, 10).flip(2)
    sums = F.conv1d(pa, pb, padding=9, groups=batch * n).view(batch, n, 19)
    sums = F.pad(sums, (1, 1))  # column s + 1 holds P(s); columns 0 and 20 read 0
    place = 10 ** torch.arange(n - 1, -1, -1)  # position i of a number is worth 10^(n-1-i)
    digits = target[:, None] // place[None, :] % 10  # (batch, n), most significant first
    # For each position: P(s = d) and P(s = d - 1) (carry out 0), P(s = d + 10) and
    # P(s = d + 9) (carry out 1), for carry in 0 and 1 respectively.
    offsets = torch.tensor([1, 0, 11, 10])
    picked = sums.gather(2, digits[:, :, None] + offsets[None, None, :])  # (batch, n, 4)
    state = torch.zeros(batch, 2, dtype=sums.dtype)
    state[:, 0] = 1.0
    log_scale = torch.zeros(batch, dtype=sums.dtype)
    tiny = torch.finfo(sums.dtype).tiny
    for k in range(n - 1, -1, -1):  # the units digit is the last of each number
        p = picked[:, k]
        state = torch.stack(
            [p[:, 0] * state[:, 0] + p[:, 1] * state[:, 1],
             p[:, 2] * state[:, 0] + p[:, 3] * state[:, 1]], dim=1
        )  # fmt: skip
        total = state.sum(dim=1, keepdim=True).clamp_min(tiny)
        log_scale = log_scale + torch.log(total).squeeze(1)
        state = state / total
    rest = target // 10**n  # the sum's leading digit: 0 or 1
    final = state.gather(1, rest.clamp(0, 1).view(-1, 1)).squeeze(1)
    final = torch.where(rest <= 1, final, torch.zeros_like(final))
    return log_scale + torch.log(final.clamp_min(tiny))


def floor_nll(net: nn.Module, xs: list[torch.Tensor], target: torch.Tensor, n: int) -> torch.Tensor:
    """The exact NLL of the labelled sum, written by hand (xs: a0..a{n-1}, b0..b{n-1}):
    the whole distribution of the sum for N <= 2, the carry recursion above."""
    probs = [net(x) for x in xs]
    if n > 2:
        return -carry_log_likelihood(probs, target, n).mean()
    pz = sum_distribution(number_distribution(probs[:n]), number_distribution(probs[n:]))
    picked = pz.gather(1, target.view(-1, 1)).squeeze(1)
    return -torch.log(picked.clamp_min(EPS)).mean()


# --------------------------------------------------------------------------- neurosym
class NeurosymLoss:
    """neurosym's compiled addition program for two n-digit numbers."""

    def __init__(self, n: int, net: nn.Module) -> None:
        self.n = n
        self.prog = bridge.compile(ns.parse(EX.rules_for(n)))
        self.prog.neural["digit_net"] = net
        self.names = [f"a{i}" for i in range(n)] + [f"b{i}" for i in range(n)]
        self.goal = f"addition({', '.join(self.names)}, Z)"

    def ground(self) -> float:
        """Ground the goal (cached by the program); returns the CPU seconds it took."""
        started = time.process_time()
        with torch.no_grad():
            self.prog.query(self.goal, {k: torch.zeros(1, 64) for k in self.names})
        return time.process_time() - started

    def __call__(
        self, net: nn.Module, xs: list[torch.Tensor], target: torch.Tensor, n: int
    ) -> torch.Tensor:
        inputs = dict(zip(self.names, xs))
        return self.prog.query(self.goal, inputs).nll("Z", target)


# --------------------------------------------------------------------------- one run
Loss = Callable[[nn.Module, list[torch.Tensor], torch.Tensor, int], torch.Tensor]


def place_weights(n: int) -> torch.Tensor:
    return EX.place_values(n)  # type: ignore[no-any-return]


def train(method: str, n: int, seed: int, epochs: int) -> dict[str, float]:
    """One seeded run, the example's loop with the chosen likelihood."""
    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = EX.load_data(seed)
    steps = EX.steps_per_epoch(n, len(y_train), BATCH)
    ground = 0.0
    if method == "neurosym":
        holder = NeurosymLoss(n, EX.classifier())
        net = holder.prog.neural["digit_net"]
        ground = holder.ground()
        loss_fn: Loss = holder
        params = list(holder.prog.parameters())
    else:
        net = EX.classifier()
        loss_fn = floor_nll
        params = list(net.parameters())
    opt = torch.optim.Adam(params, lr=LR)
    g = torch.Generator().manual_seed(seed + 1)
    weights = place_weights(n)
    per_epoch = []
    for _ in range(epochs):
        started = time.process_time()
        for _ in range(steps):
            idx = torch.randint(0, len(y_train), (BATCH, 2 * n), generator=g)
            xs = [x_train[idx[:, k]] for k in range(2 * n)]
            target = (y_train[idx] * weights).sum(dim=1)
            loss = loss_fn(net, xs, target, n)
            opt.zero_grad()
            loss.backward()
            opt.step()
        per_epoch.append(time.process_time() - started)
    with torch.no_grad():
        digit_acc = float((net(x_test).argmax(dim=1) == y_test).float().mean())
        tg = torch.Generator().manual_seed(seed + 2)
        idx = torch.randint(0, len(y_test), (1000, 2 * n), generator=tg)
        predicted = net(x_test[idx.flatten()]).argmax(dim=1).view(1000, 2 * n)
        right = (predicted * weights).sum(1) == (y_test[idx] * weights).sum(1)
        sum_acc = float(right.float().mean())
    return {
        "epoch_s": statistics.median(per_epoch),
        "ground_s": ground,
        "sum_acc": sum_acc,
        "digit_acc": digit_acc,
        "steps": steps,
    }


def exactness_check(n: int) -> float:
    """Largest difference between neurosym's and the floor's log P(sum), float64: every
    sum for N <= 2, 16 random sums per batch element (and the true one) for N > 2."""
    torch.manual_seed(123)
    net = EX.classifier().double()
    holder = NeurosymLoss(n, net)
    holder.prog.double()
    xs = [torch.rand(16, 64, dtype=torch.float64) for _ in range(2 * n)]
    with torch.no_grad():
        result = holder.prog.query(holder.goal, dict(zip(holder.names, xs)))
        probs = [net(x) for x in xs]
        if n <= 2:
            got = result.select("Z", list(range(2 * 10**n - 1))).log()
            want = sum_distribution(number_distribution(probs[:n]), number_distribution(probs[n:]))
            return float((got - want.log()).abs().max())
        worst = 0.0
        g = torch.Generator().manual_seed(7)
        for _ in range(16):
            z = torch.randint(0, 2 * 10**n - 1, (16,), generator=g, dtype=torch.long)
            diff = result.log_prob("Z", z) - carry_log_likelihood(probs, z, n)
            worst = max(worst, float(diff.abs().max()))
        return worst


# --------------------------------------------------------------------------- reporting
def _ms(values: list[float], scale: float = 1.0, digits: int = 3) -> str:
    mean = statistics.mean(values) * scale
    sd = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def deepproblog_status() -> str:
    if importlib.util.find_spec("deepproblog") is None:
        return "not installed"
    return "installed, but this file has no DeepProbLog runner yet: skipped"


def profile(n: int, steps: int, top: int) -> None:
    """cProfile of ``steps`` training steps of neurosym at N = n (after grounding)."""
    torch.manual_seed(0)
    x_train, y_train, _, _ = EX.load_data(0)
    holder = NeurosymLoss(n, EX.classifier())
    net = holder.prog.neural["digit_net"]
    holder.ground()
    opt = torch.optim.Adam(holder.prog.parameters(), lr=LR)
    g = torch.Generator().manual_seed(1)
    weights = place_weights(n)
    batches = []
    for _ in range(steps):
        idx = torch.randint(0, len(y_train), (BATCH, 2 * n), generator=g)
        batches.append(
            ([x_train[idx[:, k]] for k in range(2 * n)], (y_train[idx] * weights).sum(1))
        )
    prof = cProfile.Profile()
    started = time.process_time()
    prof.enable()
    for xs, target in batches:
        loss = holder(net, xs, target, n)
        opt.zero_grad()
        loss.backward()
        opt.step()
    prof.disable()
    per_step = (time.process_time() - started) / steps
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    print(f"\n=== cProfile, neurosym, N={n}: {steps} steps, {per_step * 1e3:.2f} ms/step ===")
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    print("\n".join(line for line in lines[start:] if line.strip()))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--digits", default="1,2,4,15", help="the N to run (default 1,2,4,15)")
    ap.add_argument(
        "--epochs", default=None, help=f"epochs per N, e.g. 40,40,100,400 (default {EX.EPOCHS})"
    )
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..K-1 (default 3)")
    ap.add_argument("--profile", action="store_true", help="profile neurosym's steps instead")
    ap.add_argument("--profile-steps", type=int, default=200)
    ap.add_argument("--top", type=int, default=15, help="profile entries shown")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    ns_list = [int(x) for x in args.digits.split(",")]
    if any(n not in EX.EPOCHS for n in ns_list):
        raise SystemExit(f"--digits takes N among {sorted(EX.EPOCHS)}, got {args.digits}")
    epochs = {n: EX.EPOCHS[n] for n in ns_list}
    if args.epochs:
        epochs = dict(zip(ns_list, (int(x) for x in args.epochs.split(","))))
    print(f"python {platform.python_version()}, torch {torch.__version__}, 1 thread")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.profile:
        for n in ns_list:
            profile(n, args.profile_steps, args.top)
        return

    seeds = list(range(args.seeds))
    print(f"DeepProbLog: {deepproblog_status()}")
    for n in ns_list:
        what = "every sum" if n <= 2 else "random sums"
        print(f"exactness N={n}: max |log P neurosym - log P floor| over {what} = "
              f"{exactness_check(n):.1e}")  # fmt: skip
    results: dict[tuple[int, str], list[dict[str, float]]] = {}
    wall = time.perf_counter()
    for n in ns_list:
        for s in seeds:  # round robin: each seed runs both methods back to back
            for method in ("neurosym", "floor"):
                results.setdefault((n, method), []).append(train(method, n, s, epochs[n]))
        for method in ("neurosym", "floor"):
            mean = statistics.mean(r["epoch_s"] for r in results[(n, method)])
            print(f"  done N={n} {method}: {mean * 1e3:.1f} ms/epoch")

    head = (
        f"{'N':>2}  {'method':<9} {'epochs':>6} {'steps/ep':>8}  {'CPU ms/epoch':>15}  "
        f"{'ground s':>8}  {'sum acc %':>12}  {'digit acc %':>12}"
    )
    print(f"\nseeds {seeds}, batch {BATCH}, Adam lr {LR}, mean ± sd over seeds")
    print(head)
    print("-" * len(head))
    for n in ns_list:
        for method in ("neurosym", "floor"):
            runs = results[(n, method)]
            print(
                f"{n:>2}  {method:<9} {epochs[n]:>6} {int(runs[0]['steps']):>8}  "
                f"{_ms([r['epoch_s'] for r in runs], 1e3, digits=2):>15}  "
                f"{statistics.mean(r['ground_s'] for r in runs):>8.3f}  "
                f"{_ms([r['sum_acc'] for r in runs], 100, 1):>12}  "
                f"{_ms([r['digit_acc'] for r in runs], 100, 1):>12}"
            )
        print(f"{n:>2}  {'deepprob.':<9} {'-':>6} {'-':>8}  {deepproblog_status():>15}")
    print()
    for n in ns_list:
        a = statistics.mean(r["epoch_s"] for r in results[(n, "neurosym")])
        b = statistics.mean(r["epoch_s"] for r in results[(n, "floor")])
        print(f"N={n}: neurosym / floor CPU time per epoch = {a / b:.2f}x")
    print(f"\ntotal wall {time.perf_counter() - wall:.0f} s")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
