"""Reachability in an uncertain network, compiled to torch: exact, approximate, and fuzzy.

A random directed network whose links hold with a probability (``0.7 :: link(n3, n5).``)
and the two rules of reachability, left-recursive. The same program is compiled three
ways and checked against the symbolic engine:

* ``semantics="prob"``: the exact probability that ``n0`` reaches each node (a BDD over
  the links; recursion included);
* the same with a small ``max_nodes``: the exact BDD no longer fits, so each fact keeps its
  ``k`` most probable proofs and the result is a lower bound (``plan == "top-k"``, with an
  ``ApproximationWarning``), shown for several ``k`` next to the exact value;
* ``semantics="fuzzy-product"``: reinforcing evidence around cycles, compiled as a fixpoint
  that is iterated with tensors, and a learnable link weight trained so that ``n0`` reaches
  the last node with degree 0.9 (the gradient flows through the fixpoint's rounds).

Run ``python examples/reachability.py`` (``--nodes N``, ``--seed S``; ``--quick`` for a
smoke test).
"""

from __future__ import annotations

import argparse
import random
import sys
import warnings
from pathlib import Path
from typing import Any

import torch

# Run from a checkout: prefer this repository's neurosym over an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import neurosym as ns
from neurosym import bridge
from neurosym.engine import TopKProbability
from neurosym.errors import ApproximationWarning


def network(nodes: int, seed: int, *, learnable: tuple[int, int] | None = None) -> str:
    """Random links (each with probability 0.4) and the reachability rules."""
    rng = random.Random(seed)
    lines = []
    for i in range(nodes):
        for j in range(nodes):
            if i != j and rng.random() < 0.4:
                w = rng.choice([0.3, 0.5, 0.7, 0.9])
                weight = f"t({w})" if learnable == (i, j) else str(w)
                lines.append(f"{weight} :: link(n{i}, n{j}).")
    if learnable is not None and not any(f"link(n{learnable[0]}, n{learnable[1]})" in ln
                                         for ln in lines):  # fmt: skip
        lines.append(f"t(0.5) :: link(n{learnable[0]}, n{learnable[1]}).")
    lines += ["reach(X, Y) :- link(X, Y).", "reach(X, Y) :- reach(X, Z), link(Z, Y)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a smaller network, fewer steps")
    args = parser.parse_args(argv)
    nodes = 6 if args.quick else args.nodes
    torch.set_num_threads(1)
    kb = ns.parse(network(nodes, args.seed))
    goal = "reach(n0, Y)"
    out: dict[str, Any] = {}

    exact = bridge.compile(kb).double().query(goal)
    engine = ns.infer(kb, semantics="prob")
    print(f"P(n0 reaches ...), {nodes} nodes, seed {args.seed} (plan {exact.plan!r}):")
    out["exact"] = {}
    for i, answer in enumerate(exact.answers):
        p = float(exact.values[0, i])
        out["exact"][answer] = (p, engine.value(answer))
        print(f"  {answer:<16} compiled {p:.6f}   engine {engine.value(answer):.6f}")

    ks = (1, 2, 4, 16)
    print("\nthe exact BDD limited to 10 nodes: top-k proofs per fact (lower bounds):")
    print(f"  {'answer':<16} " + " ".join(f"{'k=' + str(k):>9}" for k in ks) + f" {'exact':>9}")
    out["top_k"] = {}
    for k in ks:
        prog = bridge.compile(kb, max_nodes=10, top_k=k).double()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ApproximationWarning)
            approx = prog.query(goal)
        assert approx.plan == "top-k"
        model = ns.infer(kb, semantics=TopKProbability(k=k))
        out["top_k"][k] = {
            a: (float(approx.values[0, i]), model.value(a)) for i, a in enumerate(approx.answers)
        }
    for answer in exact.answers:
        cells = " ".join(f"{out['top_k'][k].get(answer, (0.0,))[0]:9.4f}" for k in ks)
        print(f"  {answer:<16} {cells} {out['exact'][answer][0]:9.4f}")

    last = f"n{nodes - 1}"
    fuzzy_kb = ns.parse(network(nodes, args.seed, learnable=(0, nodes - 1)))
    prog = bridge.compile(fuzzy_kb, semantics="fuzzy-product").double()
    target = f"reach(n0, {last})"
    (logit,) = prog.weights.values()
    opt = torch.optim.Adam([logit], lr=0.1)
    steps = 20 if args.quick else 100
    start = float(prog.query(target).values[0, 0].detach())
    for _ in range(steps):
        opt.zero_grad()
        loss = (prog.query(target).values[0, 0] - 0.9) ** 2
        loss.backward()
        opt.step()
    end = float(prog.query(target).values[0, 0].detach())
    learned = prog.learned()
    print(f"\nfuzzy-product (cycles reinforce; a fixpoint iterated with tensors): {target} "
          f"{start:.4f} -> {end:.4f} (target 0.9) by learning link(n0, {last}) = "
          f"{next(iter(learned.values())):.4f}")  # fmt: skip
    check = ns.infer(ns.parse(prog.to_rules()), semantics="fuzzy-product").value(target)
    print(f"the learned program, as rules, under the engine: {target} = {check:.4f}")
    out["fuzzy"] = {"start": start, "end": end, "engine_after": check}
    return out


if __name__ == "__main__":
    main()
