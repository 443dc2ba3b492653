"""Time to load and check a generated knowledge base (10,000 rules, 100,000 facts).

Run: python benchmarks/parse_bench.py [--rules 10000] [--facts 100000]

Prints, per phase, seconds and lines per second, and the peak memory of the run. The
reference point in the same process is lark's bare LALR parse of the same text (no tree
building, no checks), so the ratio is neurosym's own overhead over its parser library.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import lark

import neurosym as ns


def generate(n_rules: int, n_facts: int, *, seed: int = 0) -> str:
    """A stratified KB: base relations with facts, rule layers over them, all defined."""
    rng = random.Random(seed)
    base = [f"r{i}" for i in range(50)]
    consts = [f"c{i}" for i in range(2000)]
    lines = ["% generated benchmark knowledge base"]
    for i in range(n_facts):
        p = base[i % len(base)]
        a, b = rng.choice(consts), rng.choice(consts)
        w = f"0.{rng.randint(1, 9)} :: " if i % 10 == 0 else ""
        lines.append(f"{w}{p}({a}, {b}).")
    derived: list[str] = []
    for i in range(n_rules):
        head = f"d{i}"
        pool = base + derived[-200:]
        b1, b2 = rng.choice(pool), rng.choice(pool)
        kind = i % 5
        if kind == 0:
            body = f"{b1}(X, Y), {b2}(Y, Z)"
            head_args = "X, Z"
        elif kind == 1:
            body = f"{b1}(X, Y), not {b2}(X, Y)"
            head_args = "X, Y"
        elif kind == 2:
            body = f"{b1}(X, Y), X != Y"
            head_args = "X, Y"
        elif kind == 3:
            body = f"{b1}(X, Y), N is count {{ Z : {b2}(Y, Z) }}, N > 1"
            head_args = "X, Y"
        else:
            body = f"{b1}(X, Y), {b2}(Y, X)"
            head_args = "X, Y"
        name = f"rule r_{i}: " if i % 3 == 0 else ""
        lines.append(f"{name}{head}({head_args}) :- {body}.")
        derived.append(head)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=int, default=10_000)
    ap.add_argument("--facts", type=int, default=100_000)
    ap.add_argument("--no-tracemalloc", action="store_true", help="time without tracing")
    args = ap.parse_args(argv)

    text = generate(args.rules, args.facts)
    n_lines = text.count("\n")
    print(f"python {sys.version.split()[0]}, lark {lark.__version__}, load average "
          f"{os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"knowledge base: {args.rules} rules, {args.facts} facts, {n_lines} lines, "
          f"{len(text) / 1e6:.1f} MB")  # fmt: skip

    from neurosym.lang._parser import _lark

    parser = _lark()
    t0 = time.perf_counter()
    bare = lark.Lark(
        (Path(ns.__file__).parent / "lang" / "rules.lark").read_text(),
        parser="lalr",
        lexer="contextual",
        tree_class=None,
        start=["start"],
    )
    bare.parse(text)
    t_bare = time.perf_counter() - t0
    del parser

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.rules"
        path.write_text(text)
        if not args.no_tracemalloc:
            tracemalloc.start()
        t0 = time.perf_counter()
        kb = ns.load(path)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        diags = kb.check()
        t_check = time.perf_counter() - t0
        t0 = time.perf_counter()
        g = kb.graph
        t_graph = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if not args.no_tracemalloc else 0
        tracemalloc.stop()

    errors = sum(d.is_error for d in diags)
    print(f"diagnostics: {errors} errors, {len(diags) - errors} warnings; "
          f"graph {g.number_of_nodes()} nodes, {g.number_of_edges()} edges")  # fmt: skip
    print(f"{'phase':<22}{'seconds':>9}{'lines/s':>12}")
    for label, t in (
        ("lark bare parse", t_bare),
        ("neurosym load", t_load),
        ("neurosym check", t_check),
        ("neurosym graph", t_graph),
        ("load + check", t_load + t_check),
    ):
        print(f"{label:<22}{t:>9.2f}{n_lines / t:>12,.0f}")
    print(f"load / lark bare parse: {t_load / t_bare:.2f}x")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if peak:
        print(f"peak traced Python memory during load+check: {peak / 2**20:.0f} MiB")
    print(f"max resident set size of the process: {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
