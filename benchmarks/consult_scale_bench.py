"""The animal KB's consultations with many unrelated facts beside them.

Run by hand:

    python benchmarks/consult_scale_bench.py [--extra 0,1000,10000] [--consultations 300]
                                             [--repeat 3]

The knowledge base of ``rules_bench.py``'s ``fwd``/``bwd`` workloads (Winston's ZOO rules),
plus N facts ``catalogue(item_i, i)`` that no rule reads. Each consultation asserts one
animal's observations, infers (forward: ``infer(kb).query(goal)``) or asks (backward:
``query(kb, goal)``) ``species(a_i, S)``, and retracts the observations, as in
``rules_bench.py``. Printed: the mean CPU time per consultation (``time.process_time``),
after a few untimed consultations that compile the rules and plans, the best of
``--repeat`` runs, each on a fresh knowledge base (a shared machine's other work only ever
adds time). A consultation that costs in proportion to the facts it cannot use shows up as
a time growing with N.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

# The checkout this script belongs to, before any installed copy of neurosym.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rules_bench import ZOO, consultations, ns_declarations, ns_rules

WARMUP = 20


def measure(method: str, extra: int, n: int) -> tuple[float, int]:
    """Mean CPU seconds per consultation, and the answers counted."""
    import neurosym as ns

    text = ns_rules(ZOO) + ns_declarations()
    text += "".join(f"catalogue(item_{i}, {i}).\n" for i in range(extra))
    kb = ns.parse(text)
    kb.check()
    plan = []
    for name, obs, _ in consultations(WARMUP + n):
        names = [f"o{j}" for j in range(len(obs))]
        atoms = (f"{a[0]}({', '.join(a[1:])})" for a in obs)
        body = " ".join(f"rule {o}: {a}." for o, a in zip(names, atoms))
        plan.append((body, names, f"species({name}, S)"))
    count = 0
    gc.collect()
    elapsed = 0.0
    for i, (body, names, goal) in enumerate(plan):
        t0 = time.process_time()
        kb.add(body)
        if method == "forward":
            answers = ns.infer(kb).query(goal)
        else:
            answers = ns.query(kb, goal, method="backward")
        for o in names:
            kb.remove(o)
        if i >= WARMUP:
            elapsed += time.process_time() - t0
            count += len(answers)
    return elapsed / n, count


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extra", default="0,1000,10000", help="unrelated fact counts (N)")
    ap.add_argument("--consultations", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3, help="runs per cell, the best shown")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.extra.split(",")]
    n = args.consultations
    print(
        f"mean CPU time per consultation over {n} (after {WARMUP} untimed), "
        f"best of {args.repeat} runs"
    )
    print(f"{'extra facts':>12} {'forward':>12} {'backward':>12} {'answers':>8}")
    for extra in sizes:
        fwd, c1 = min(measure("forward", extra, n) for _ in range(args.repeat))
        bwd, c2 = min(measure("backward", extra, n) for _ in range(args.repeat))
        if c1 != c2:
            raise SystemExit(f"forward found {c1} answers, backward {c2}")
        print(f"{extra:>12,} {fwd * 1e6:>9.0f} us {bwd * 1e6:>9.0f} us {c1:>8}")


if __name__ == "__main__":
    main()
