"""neurosym's inference engine against CLIPS, experta, pyDatalog and SWI-Prolog.

Run by hand (peers are optional; any that is not installed is reported and skipped):

    python benchmarks/rules_bench.py [--engines neurosym,clips,experta,pydatalog,swipl]
                                     [--workloads chain,gnm,sg,fwd,bwd] [--timeout 60]
                                     [--consultations 2400]

Peers: ``pip install clipspy experta pyDatalog`` and ``apt-get install swi-prolog-nox``.

Workloads, each run in a fresh subprocess per engine (the script re-invokes itself with
``--engine E --workload W`` and reads one JSON line back) so every engine starts from a clean
interpreter and its peak memory is its own:

- ``chain``: transitive closure of a 300-node chain (44,850 pairs);
- ``gnm``: transitive closure of ``networkx.gnm_random_graph(1000, 3000, seed=0,
  directed=True)``;
- ``sg``: same generation on a random recursive tree of 1,000 nodes (seed 0);
- ``fwd`` / ``bwd``: an animal-identification KB (Winston's ZOO rules Z1-Z15 and seven
  ``species/2`` rules, 22 rules in all), consulted 2,400 times in one engine instance: assert
  one animal's observations, infer (forward) or ask ``species(A, S)`` (backward), read the
  answer, retract the observations. Reported per consultation, for the first and the last
  200 consultations, with the drift between them.

Measures: CPU seconds (``time.process_time`` around the reasoning only, facts already loaded
and the garbage of loading collected first; ``statistics(cputime, T)`` inside SWI-Prolog),
and peak memory as the growth of the resident set during the reasoning (``VmHWM`` after,
minus ``VmRSS`` before, the peak being reset first where Linux allows it). Each run is
stopped after ``--timeout`` CPU/wall seconds and shown as ``timeout``. Every engine's
answer count is checked against neurosym's and, for the graph
workloads, against a count computed independently with networkx.
"""

from __future__ import annotations

import argparse
import collections
import collections.abc
import contextlib
import gc
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

# The checkout this script belongs to, before any installed copy of neurosym.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# ------------------------------------------------------------------ rules, as data
# An atom is (predicate, arg, ...); an argument starting with an upper-case letter is a
# variable, anything else a constant. A body literal is an atom, or ("not", atom).

Atom = tuple[str, ...]
Lit = Atom | tuple[str, Atom]


@dataclass(frozen=True)
class RuleSpec:
    name: str
    head: Atom
    body: tuple[Lit, ...]


def _r(name: str, head: str, *body: str) -> RuleSpec:
    def atom(text: str) -> Atom:
        m = re.fullmatch(r"\s*(\w+)\((.*)\)\s*", text)
        assert m is not None, text
        return (m.group(1), *(a.strip() for a in m.group(2).split(",")))

    lits: list[Lit] = []
    for b in body:
        lits.append(("not", atom(b[4:])) if b.startswith("not ") else atom(b))
    return RuleSpec(name, atom(head), tuple(lits))


CLOSURE = (
    _r("base", "path(X, Y)", "edge(X, Y)"),
    _r("step", "path(X, Z)", "path(X, Y)", "edge(Y, Z)"),
)
SAME_GENERATION = (
    _r("flat", "sg(X, X)", "node(X)"),
    _r("up_down", "sg(X, Y)", "par(P, X)", "sg(P, Q)", "par(Q, Y)"),
)
ZOO = (
    _r("z1", "mammal(X)", "has_hair(X)"),
    _r("z2", "mammal(X)", "gives_milk(X)"),
    _r("z3", "bird(X)", "has_feathers(X)"),
    _r("z4", "bird(X)", "flies(X)", "lays_eggs(X)"),
    _r("z5", "carnivore(X)", "mammal(X)", "eats_meat(X)"),
    _r(
        "z6",
        "carnivore(X)",
        "mammal(X)",
        "has_pointed_teeth(X)",
        "has_claws(X)",
        "has_forward_eyes(X)",
    ),
    _r("z7", "ungulate(X)", "mammal(X)", "has_hooves(X)"),
    _r("z8", "ungulate(X)", "mammal(X)", "chews_cud(X)"),
    _r("z9", "cheetah(X)", "carnivore(X)", "colour(X, tawny)", "has_dark_spots(X)"),
    _r("z10", "tiger(X)", "carnivore(X)", "colour(X, tawny)", "has_black_stripes(X)"),
    _r(
        "z11",
        "giraffe(X)",
        "ungulate(X)",
        "long_legs(X)",
        "long_neck(X)",
        "colour(X, tawny)",
        "has_dark_spots(X)",
    ),
    _r("z12", "zebra(X)", "ungulate(X)", "colour(X, white)", "has_black_stripes(X)"),
    _r(
        "z13",
        "ostrich(X)",
        "bird(X)",
        "not flies(X)",
        "long_legs(X)",
        "long_neck(X)",
        "colour(X, black_and_white)",
    ),
    _r("z14", "penguin(X)", "bird(X)", "not flies(X)", "swims(X)", "colour(X, black_and_white)"),
    _r("z15", "albatross(X)", "bird(X)", "flies_well(X)"),
    *(
        _r(f"s_{s}", f"species(X, {s})", f"{s}(X)")
        for s in ("cheetah", "tiger", "giraffe", "zebra", "ostrich", "penguin", "albatross")
    ),
)
# What an observer can see (predicate, arity), and eight animals from rules/animals.rules:
# (observations, the species expected or None).
_SEEN = (
    "has_hair gives_milk has_feathers flies lays_eggs eats_meat has_pointed_teeth has_claws "
    "has_forward_eyes has_hooves chews_cud long_legs long_neck has_dark_spots "
    "has_black_stripes swims flies_well"
)
OBSERVABLE = (*((p, 1) for p in _SEEN.split()), ("colour", 2))
ANIMALS: tuple[tuple[tuple[Atom, ...], str | None], ...] = tuple(
    (tuple((o.split()[0], *o.split()[1:]) for o in obs.split(";")), expected)
    for obs, expected in (
        ("has_hair;eats_meat;colour tawny;has_black_stripes", "tiger"),
        (
            "gives_milk;has_pointed_teeth;has_claws;has_forward_eyes;colour tawny;has_dark_spots",
            "cheetah",
        ),
        ("has_hair;has_hooves;long_legs;long_neck;colour tawny;has_dark_spots", "giraffe"),
        ("gives_milk;chews_cud;colour white;has_black_stripes", "zebra"),
        ("has_feathers;long_legs;long_neck;colour black_and_white", "ostrich"),
        ("has_feathers;swims;colour black_and_white", "penguin"),
        ("lays_eggs;flies;flies_well", "albatross"),
        ("has_hair", None),
    )
)
BLOCK = 200  # consultations per timed block

TARGETS = (
    "1,000-node closure <= 0.3 s CPU and <= 175 MB; 300-node chain <= 25 ms; "
    "animal KB: forward consultation <= 95 us, backward <= 100 us; "
    "<= 10% drift over the 2,400 consultations"
)

# ------------------------------------------------------------------ workloads' data


def _is_var(a: str) -> bool:
    return a[:1].isupper()


def chain_edges(n: int = 300) -> list[tuple[str, str]]:
    return [(f"n{i}", f"n{i + 1}") for i in range(n - 1)]


def gnm_edges() -> list[tuple[str, str]]:
    import networkx as nx

    g = nx.gnm_random_graph(1000, 3000, seed=0, directed=True)
    return [(f"n{u}", f"n{v}") for u, v in g.edges()]


def tree_parents(n: int = 1000, seed: int = 0) -> list[tuple[str, str]]:
    """A random recursive tree: node i's parent is drawn uniformly from 0..i-1."""
    rng = random.Random(seed)
    return [(f"n{rng.randrange(i)}", f"n{i}") for i in range(1, n)]


def expected_closure(edges: Sequence[tuple[str, str]]) -> int:
    """Pairs (x, y) with a non-empty path from x to y, counted with networkx."""
    import networkx as nx

    g = nx.DiGraph(edges)
    return sum(len(nx.descendants(g, v)) + int(_on_cycle(g, v)) for v in g)


def _on_cycle(g: Any, v: Any) -> bool:
    import networkx as nx

    return any(nx.has_path(g, w, v) for w in g.successors(v))


def expected_sg(parents: Sequence[tuple[str, str]]) -> int:
    """Same-generation pairs: the sum over tree levels of the level's size squared."""
    depth = {parents[0][0]: 0}
    for p, c in parents:
        depth[c] = depth[p] + 1
    return sum(k * k for k in Counter(depth.values()).values())


@dataclass
class Workload:
    name: str
    title: str
    rules: tuple[RuleSpec, ...]
    facts: Callable[[], list[Atom]]
    goal: str  # predicate whose answers are counted
    expected: Callable[[], int] | None = None


def _closure_facts(edges: Callable[[], list[tuple[str, str]]]) -> Callable[[], list[Atom]]:
    return lambda: [("edge", a, b) for a, b in edges()]


def _sg_facts() -> list[Atom]:
    parents = tree_parents()
    nodes = sorted({x for pc in parents for x in pc})
    return [("node", v) for v in nodes] + [("par", p, c) for p, c in parents]


GRAPH_WORKLOADS = {
    "chain": Workload(
        "chain",
        "closure, 300-node chain",
        CLOSURE,
        _closure_facts(chain_edges),
        "path",
        lambda: expected_closure(chain_edges()),
    ),
    "gnm": Workload(
        "gnm",
        "closure, gnm(1000, 3000)",
        CLOSURE,
        _closure_facts(gnm_edges),
        "path",
        lambda: expected_closure(gnm_edges()),
    ),
    "sg": Workload(
        "sg",
        "same generation, tree(1000)",
        SAME_GENERATION,
        _sg_facts,
        "sg",
        lambda: expected_sg(tree_parents()),
    ),
}
CONSULT_TITLES = {"fwd": "animal KB, forward consult", "bwd": "animal KB, backward consult"}
WORKLOADS = (*GRAPH_WORKLOADS, *CONSULT_TITLES)
ENGINES = ("neurosym", "clips", "experta", "pydatalog", "swipl")
# What each peer can do: CLIPS and experta chain forward only, pyDatalog and Prolog answer
# goals top-down only. neurosym does both.
SUPPORTS = {
    "neurosym": set(WORKLOADS),
    "clips": {"chain", "gnm", "sg", "fwd"},
    "experta": {"chain", "gnm", "sg", "fwd"},
    "pydatalog": {"chain", "gnm", "sg", "bwd"},
    "swipl": {"chain", "gnm", "sg", "bwd"},
}


def consultations(n: int) -> list[tuple[str, list[Atom], str | None]]:
    """Per consultation: the animal's name (a fresh one each time), its observations, and
    the species expected."""
    out = []
    for i in range(n):
        obs, expected = ANIMALS[i % len(ANIMALS)]
        name = f"a{i}"
        out.append((name, [(o[0], name, *o[1:]) for o in obs], expected))
    return out


# ------------------------------------------------------------------ memory


def _status_kb(key: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB


def settle() -> None:
    """Collect the garbage of loading before a timed block (every engine alike): otherwise
    the cyclic collector's full pass over what parsing left behind lands in whatever runs
    next, the reasoning (about 25 ms of the 300-node chain's time for neurosym)."""
    gc.collect()


class PeakMemory:
    """Growth of the resident set over a block: VmHWM after minus VmRSS before."""

    def __enter__(self) -> PeakMemory:
        with contextlib.suppress(OSError):  # reset VmHWM to the current RSS (Linux >= 4.0)
            Path("/proc/self/clear_refs").write_text("5")
        self.before = _status_kb("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        self.mb = max(0, _status_kb("VmHWM") - self.before) / 1024


@dataclass
class Run:
    """What one worker reports."""

    cpu: float | None = None  # seconds
    peak_mb: float | None = None
    count: int | None = None
    load_cpu: float | None = None
    blocks: list[float] = field(default_factory=list)  # consultation blocks, CPU seconds
    status: str = "ok"  # ok, timeout, not installed, n/a, error: ...


# ------------------------------------------------------------------ neurosym


def _ns_atom(a: Atom) -> str:
    return f"{a[0]}({', '.join(a[1:])})"


def _ns_lit(lit: Lit) -> str:
    return f"not {_ns_atom(lit[1])}" if lit[0] == "not" else _ns_atom(lit)  # type: ignore[arg-type]


def ns_rules(rules: Sequence[RuleSpec]) -> str:
    return "".join(
        f"rule {r.name}: {_ns_atom(r.head)} :- {', '.join(_ns_lit(b) for b in r.body)}.\n"
        for r in rules
    )


def ns_declarations() -> str:
    """The observable predicates, declared ``dynamic``: their facts come and go between
    consultations, and the KB stays well-formed while none is asserted."""
    preds = ", ".join(f"{p}/{arity}" for p, arity in OBSERVABLE)
    return f"dynamic {preds}.\n"


def run_neurosym_graph(w: Workload, timeout: int) -> Run:
    import neurosym as ns

    text = "".join(_ns_atom(f) + ".\n" for f in w.facts()) + ns_rules(w.rules)
    infer = ns.infer  # the engine loads on first use: import it before timing, as for peers
    t0 = time.process_time()
    kb = ns.parse(text)
    kb.check()  # static analysis belongs to loading (kept until the KB changes)
    load = time.process_time() - t0
    settle()
    signal.alarm(timeout)
    with PeakMemory() as mem:
        t0 = time.process_time()
        model = infer(kb)
        cpu = time.process_time() - t0
    signal.alarm(0)
    return Run(cpu, mem.mb, len(model.facts(w.goal)), load)


def run_neurosym_consult(method: str, n: int, timeout: int) -> Run:
    import neurosym as ns

    # the engine loads on first use: import it before timing, as for peers (otherwise the
    # first block of consultations carries the import and the drift measures that)
    infer, query = ns.infer, ns.query
    t0 = time.process_time()
    kb = ns.parse(ns_rules(ZOO) + ns_declarations())
    kb.check()  # static analysis belongs to loading, as for the graph workloads
    load = time.process_time() - t0
    plan = []
    for name, obs, _ in consultations(n):
        names = [f"o{j}" for j in range(len(obs))]
        text = " ".join(f"rule {o}: {_ns_atom(a)}." for o, a in zip(names, obs))
        plan.append((text, names, f"species({name}, S)"))
    count = 0
    blocks = []
    settle()
    signal.alarm(timeout)
    with PeakMemory() as mem:
        for start in range(0, n, BLOCK):
            t0 = time.process_time()
            for text, names, goal in plan[start : start + BLOCK]:
                kb.add(text)
                if method == "fwd":
                    answers = infer(kb).query(goal)
                else:
                    answers = query(kb, goal, method="backward")
                count += len(answers)
                for o in names:
                    kb.remove(o)
            blocks.append(time.process_time() - t0)
    signal.alarm(0)
    return Run(sum(blocks), mem.mb, count, load, blocks)


# ------------------------------------------------------------------ CLIPS


def _clips_atom(a: Atom) -> str:
    return "(" + " ".join(a[0:1] + tuple(f"?{x.lower()}" if _is_var(x) else x for x in a[1:])) + ")"


def clips_rules(rules: Sequence[RuleSpec]) -> list[str]:
    out = []
    for r in rules:
        body = " ".join(
            f"(not {_clips_atom(b[1])})" if b[0] == "not" else _clips_atom(b)  # type: ignore[arg-type]
            for b in r.body
        )
        out.append(f"(defrule {r.name} {body} => (assert {_clips_atom(r.head)}))")
    return out


def _clips_env(rules: Sequence[RuleSpec]) -> Any:
    import clips

    env = clips.Environment()
    for text in clips_rules(rules):
        env.build(text)
    return env


def _clips_count(env: Any, pred: str) -> int:
    return int(env.eval(f"(length$ (find-all-facts ((?f {pred})) TRUE))"))


def run_clips_graph(w: Workload, timeout: int) -> Run:
    env = _clips_env(w.rules)
    t0 = time.process_time()
    env.reset()
    for f in w.facts():
        env.assert_string(_clips_atom(f))
    load = time.process_time() - t0
    settle()
    signal.alarm(timeout)
    with PeakMemory() as mem:
        t0 = time.process_time()
        env.run()
        cpu = time.process_time() - t0
    signal.alarm(0)
    return Run(cpu, mem.mb, _clips_count(env, w.goal), load)


def run_clips_consult(n: int, timeout: int) -> Run:
    t0 = time.process_time()
    env = _clips_env(ZOO)
    load = time.process_time() - t0
    plan = [([_clips_atom(o) for o in obs], name) for name, obs, _ in consultations(n)]
    query = "(find-all-facts ((?f species)) (eq (nth$ 1 ?f:implied) {}))"
    count = 0
    blocks = []
    settle()
    signal.alarm(timeout)
    with PeakMemory() as mem:
        for start in range(0, n, BLOCK):
            t0 = time.process_time()
            for obs, name in plan[start : start + BLOCK]:
                env.reset()
                for o in obs:
                    env.assert_string(o)
                env.run()
                count += len(env.eval(query.format(name)))
            blocks.append(time.process_time() - t0)
    signal.alarm(0)
    return Run(sum(blocks), mem.mb, count, load, blocks)


# ------------------------------------------------------------------ experta


def _experta() -> Any:
    collections.Mapping = collections.abc.Mapping  # type: ignore[attr-defined]
    import experta

    return experta


def experta_engine(rules: Sequence[RuleSpec]) -> Any:
    ex = _experta()

    def pattern(a: Atom) -> Any:
        return ex.Fact(a[0], *(getattr(ex.MATCH, x) if _is_var(x) else x for x in a[1:]))

    def action(head: Atom) -> Callable[..., None]:
        def fire(self: Any, **b: Any) -> None:
            self.declare(ex.Fact(head[0], *(b[x] if _is_var(x) else x for x in head[1:])))

        return fire

    methods = {}
    for r in rules:
        pats = [ex.NOT(pattern(b[1])) if b[0] == "not" else pattern(b) for b in r.body]  # type: ignore[arg-type]
        methods[r.name] = ex.Rule(*pats)(action(r.head))
    return type("Engine", (ex.KnowledgeEngine,), methods)()


def _experta_count(engine: Any, pred: str, first: str | None = None) -> int:
    return sum(
        1
        for f in engine.facts.values()
        if f.get(0) == pred and (first is None or f.get(1) == first)
    )


def run_experta_graph(w: Workload, timeout: int) -> Run:
    ex = _experta()
    engine = experta_engine(w.rules)
    t0 = time.process_time()
    engine.reset()
    for f in w.facts():
        engine.declare(ex.Fact(*f))
    load = time.process_time() - t0
    settle()
    signal.alarm(timeout)
    with PeakMemory() as mem:
        t0 = time.process_time()
        engine.run()
        cpu = time.process_time() - t0
    signal.alarm(0)
    return Run(cpu, mem.mb, _experta_count(engine, w.goal), load)


def run_experta_consult(n: int, timeout: int) -> Run:
    ex = _experta()
    t0 = time.process_time()
    engine = experta_engine(ZOO)
    load = time.process_time() - t0
    plan = [([ex.Fact(*o) for o in obs], name) for name, obs, _ in consultations(n)]
    count = 0
    blocks = []
    settle()
    signal.alarm(timeout)
    with PeakMemory() as mem:
        for start in range(0, n, BLOCK):
            t0 = time.process_time()
            for obs, name in plan[start : start + BLOCK]:
                engine.reset()
                engine.declare(*obs)
                engine.run()
                count += _experta_count(engine, "species", name)
            blocks.append(time.process_time() - t0)
    signal.alarm(0)
    return Run(sum(blocks), mem.mb, count, load, blocks)


# ------------------------------------------------------------------ pyDatalog


def _pyd_atom(a: Atom) -> str:
    return f"{a[0]}({', '.join(x if _is_var(x) else repr(x) for x in a[1:])})"


def pydatalog_load(rules: Sequence[RuleSpec]) -> Any:
    from pyDatalog import pyDatalog

    lines = []
    for r in rules:
        body = " & ".join(
            f"~{_pyd_atom(b[1])}" if b[0] == "not" else _pyd_atom(b)  # type: ignore[arg-type]
            for b in r.body
        )
        lines.append(f"{_pyd_atom(r.head)} <= {body}")
    pyDatalog.load("\n".join(lines))
    return pyDatalog


def _pyd_count(answer: Any) -> int:
    return 0 if answer is None else len(answer.answers)


def run_pydatalog_graph(w: Workload, timeout: int) -> Run:
    pyd = pydatalog_load(w.rules)
    t0 = time.process_time()
    for f in w.facts():
        pyd.assert_fact(*f)
    load = time.process_time() - t0
    arity = len(w.rules[0].head) - 1
    goal = f"{w.goal}({', '.join(f'V{i}' for i in range(arity))})"
    settle()
    signal.alarm(timeout)
    with PeakMemory() as mem:
        t0 = time.process_time()
        answer = pyd.ask(goal)
        cpu = time.process_time() - t0
    signal.alarm(0)
    return Run(cpu, mem.mb, _pyd_count(answer), load)


def run_pydatalog_consult(n: int, timeout: int) -> Run:
    t0 = time.process_time()
    pyd = pydatalog_load(ZOO)
    for p, arity in OBSERVABLE:  # declare the observable predicates (assert, retract)
        pyd.assert_fact(p, *["declared"] * arity)
        pyd.retract_fact(p, *["declared"] * arity)
    load = time.process_time() - t0
    plan = [(obs, f"species({name!r}, S)") for name, obs, _ in consultations(n)]
    count = 0
    blocks = []
    settle()
    signal.alarm(timeout)
    with PeakMemory() as mem:
        for start in range(0, n, BLOCK):
            t0 = time.process_time()
            for obs, goal in plan[start : start + BLOCK]:
                for o in obs:
                    pyd.assert_fact(*o)
                count += _pyd_count(pyd.ask(goal))
                for o in obs:
                    pyd.retract_fact(*o)
            blocks.append(time.process_time() - t0)
    signal.alarm(0)
    return Run(sum(blocks), mem.mb, count, load, blocks)


# ------------------------------------------------------------------ SWI-Prolog

_PL_COMMON = """
status_kb(Key, KB) :-
    read_file_to_string('/proc/self/status', S, []),
    split_string(S, "\\n", "", Lines),
    member(L, Lines), split_string(L, ":", " \\t", [Key, V]), !,
    split_string(V, " ", "", [N|_]), number_string(KB, N).
"""


def _pl_atom(a: Atom) -> str:
    return f"{a[0]}({', '.join(a[1:])})" if a[1:] else a[0]


def pl_rules(rules: Sequence[RuleSpec]) -> str:
    return "".join(
        f"{_pl_atom(r.head)} :- "
        + ", ".join(f"\\+ {_pl_atom(b[1])}" if b[0] == "not" else _pl_atom(b) for b in r.body)  # type: ignore[arg-type]
        + ".\n"
        for r in rules
    )


def _swipl(program: str, timeout: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.pl"
        path.write_text(program)
        proc = subprocess.run(
            ["swipl", "-q", str(path)], capture_output=True, text=True, timeout=timeout
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"swipl exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def run_swipl_graph(w: Workload, timeout: int) -> Run:
    arity = len(w.rules[0].head) - 1
    goal = f"{w.goal}({', '.join('_' * arity)})"
    program = (
        f":- table {w.goal}/{arity}.\n"
        + "".join(_pl_atom(f) + ".\n" for f in w.facts())
        + pl_rules(w.rules)
        + _PL_COMMON
        + ":- initialization(main, main).\n"
        'main :- status_kb("VmRSS", R0), statistics(cputime, T0),\n'
        f"    aggregate_all(count, {goal}, N),\n"
        '    statistics(cputime, T1), status_kb("VmHWM", R1), T is T1 - T0,\n'
        '    format(\'{"cpu": ~f, "count": ~d, "rss0": ~d, "hwm": ~d}~n\', [T, N, R0, R1]).\n'
    )
    out = _swipl(program, timeout)
    return Run(out["cpu"], max(0, out["hwm"] - out["rss0"]) / 1024, out["count"])


def run_swipl_consult(n: int, timeout: int) -> Run:
    def entry(o: Atom) -> str:
        return f"{o[0]}-[{', '.join(o[1:])}]"

    profiles = "".join(
        f"profile({k}, [{', '.join(entry(o) for o in obs)}]).\n"
        for k, (obs, _) in enumerate(ANIMALS)
    )
    dynamic = ", ".join(f"{p}/{a}" for p, a in OBSERVABLE)
    program = (
        f":- dynamic {dynamic}.\n"
        + pl_rules(ZOO)
        + profiles
        + _PL_COMMON
        + f"n_animals({len(ANIMALS)}).\nblock({BLOCK}).\nconsultations({n}).\n"
        + """
obs(A, P-Args, T) :- T =.. [P, A | Args].
consult(I, N) :-
    n_animals(M), K is I mod M, profile(K, Fs), atom_concat(a, I, A),
    maplist(obs(A), Fs, Obs), maplist(assertz, Obs),
    findall(S, species(A, S), L0), sort(L0, L), length(L, N),
    maplist(retract, Obs).
run_block(B, T-C) :-
    block(Size), Lo is B * Size, Hi is Lo + Size - 1,
    statistics(cputime, T0),
    aggregate_all(sum(N), (between(Lo, Hi, I), consult(I, N)), C),
    statistics(cputime, T1), T is T1 - T0.
:- initialization(main, main).
main :-
    status_kb("VmRSS", R0), consultations(Total), block(Size), NB is Total // Size - 1,
    numlist(0, NB, Bs), maplist(run_block, Bs, TCs), pairs_keys_values(TCs, Ts, Cs),
    sum_list(Cs, C), status_kb("VmHWM", R1),
    atomic_list_concat(Ts, ', ', TText),
    format('{"blocks": [~w], "count": ~d, "rss0": ~d, "hwm": ~d}~n', [TText, C, R0, R1]).
"""
    )
    out = _swipl(program, timeout)
    blocks = [float(b) for b in out["blocks"]]
    return Run(sum(blocks), max(0, out["hwm"] - out["rss0"]) / 1024, out["count"], None, blocks)


# ------------------------------------------------------------------ worker


def installed(engine: str) -> bool:
    if engine == "swipl":
        return shutil.which("swipl") is not None
    module = {
        "neurosym": "neurosym",
        "clips": "clips",
        "experta": "experta",
        "pydatalog": "pyDatalog",
    }[engine]
    return find_spec(module) is not None


def work(engine: str, workload: str, timeout: int, n: int) -> Run:
    """Run one workload in this process."""
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # a run past the limit just dies
    if workload in GRAPH_WORKLOADS:
        w = GRAPH_WORKLOADS[workload]
        graph: dict[str, Callable[[Workload, int], Run]] = {
            "neurosym": run_neurosym_graph,
            "clips": run_clips_graph,
            "experta": run_experta_graph,
            "pydatalog": run_pydatalog_graph,
            "swipl": run_swipl_graph,
        }
        return graph[engine](w, timeout)
    if engine == "neurosym":
        return run_neurosym_consult(workload, n, timeout)
    consult: dict[str, Callable[[int, int], Run]] = {
        "clips": run_clips_consult,
        "experta": run_experta_consult,
        "pydatalog": run_pydatalog_consult,
        "swipl": run_swipl_consult,
    }
    return consult[engine](n, timeout)


def spawn(engine: str, workload: str, timeout: int, n: int) -> Run:
    """Run one workload in a fresh interpreter; a run past the limit is a timeout."""
    if workload not in SUPPORTS[engine]:
        return Run(status="n/a")
    if not installed(engine):
        return Run(status="not installed")
    cmd = [
        sys.executable,
        __file__,
        "--engine",
        engine,
        "--workload",
        workload,
        "--timeout",
        str(timeout),
        "--consultations",
        str(n),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=2 * timeout + 60)  # set-up and counting included
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Run(status="timeout")
    if proc.returncode == -signal.SIGALRM or "TimeoutExpired" in err:
        return Run(status="timeout")
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (err.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return Run(status=f"error: {tail[:60]}")
    return Run(**json.loads(lines[-1]))


# ------------------------------------------------------------------ report


def _per(run: Run, part: slice) -> float:
    return sum(run.blocks[part]) / (len(run.blocks[part]) * BLOCK) * 1e6


def cell(run: Run, base: Run | None, consult: bool) -> str:
    if run.status != "ok" or run.cpu is None:
        return run.status
    if consult:
        first, last = _per(run, slice(0, 1)), _per(run, slice(-1, None))
        shown = f"{run.cpu / (len(run.blocks) * BLOCK) * 1e6:.0f} us"
        shown += f" ({first:.0f}->{last:.0f}, {(last - first) / first:+.0%})"
    else:
        shown = f"{run.cpu:.3f} s" if run.cpu >= 0.01 else f"{run.cpu * 1e3:.2f} ms"
    if run.peak_mb is not None:
        shown += f" {run.peak_mb:.0f} MB"
    if base is not None and base.status == "ok" and base.cpu:
        shown += f" x{run.cpu / base.cpu:.2f}"
    return shown


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def expected_count(workload: str, n: int) -> int:
    if workload in GRAPH_WORKLOADS:
        return GRAPH_WORKLOADS[workload].expected()  # type: ignore[misc]
    return sum(1 for _, _, species in consultations(n) if species is not None)


def report(results: dict[str, dict[str, Run]], engines: Sequence[str], n: int) -> Iterator[str]:
    titles = {**{k: w.title for k, w in GRAPH_WORKLOADS.items()}, **CONSULT_TITLES}
    rows = [["workload", *engines]]
    counts = [["workload", "expected", *engines]]
    for workload, runs in results.items():
        base = runs.get("neurosym")
        consult = workload in CONSULT_TITLES
        rows.append([titles[workload], *(cell(runs[e], base, consult) for e in engines)])
        expected = expected_count(workload, n)
        shown = []
        for e in engines:
            c = runs[e].count
            shown.append("-" if c is None else f"{c}" + ("" if c == expected else " MISMATCH"))
        counts.append([titles[workload], str(expected), *shown])
    yield table(rows)
    yield ""
    yield (
        "Cells: CPU time (graph workloads: seconds for the reasoning, facts loaded; "
        f"consultations: mean us per consultation over {n}, with the first 200 -> the last 200 "
        "and the drift), peak resident-set growth during the reasoning, and xR = CPU time "
        "relative to neurosym's (below 1: faster than neurosym)."
    )
    yield ""
    yield "Answer counts (closure pairs, same-generation pairs, species answers):"
    yield table(counts)
    loads = [["load (CPU s)", *engines]]
    for workload, runs in results.items():
        loads.append(
            [titles[workload]]
            + [f"{r.load_cpu:.3f}" if r.load_cpu is not None else "-" for r in runs.values()]
        )
    yield ""
    yield "Loading the facts/rules into the engine, not included above:"
    yield table(loads)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--timeout", type=int, default=60, help="seconds per run (default 60)")
    ap.add_argument("--consultations", type=int, default=2400)
    ap.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    ap.add_argument("--workload", choices=WORKLOADS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    n = args.consultations
    if n % BLOCK or n < BLOCK:
        ap.error(f"--consultations must be a multiple of {BLOCK}")
    if args.engine:  # a worker
        r = work(args.engine, args.workload, args.timeout, n)
        print(json.dumps(r.__dict__))
        return
    engines = [e for e in args.engines.split(",") if e]
    workloads = [w for w in args.workloads.split(",") if w]
    for name in (*engines, *workloads):
        if name not in (*ENGINES, *WORKLOADS):
            ap.error(f"unknown engine or workload {name!r}")
    if "neurosym" not in engines:
        engines.insert(0, "neurosym")
    print(
        f"python {sys.version.split()[0]} on {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    for e in engines:
        print(f"  {e}: {'installed' if installed(e) else 'not installed'}")
    print(f"targets: {TARGETS}")
    print(f"timeout per run: {args.timeout} s\n", flush=True)
    results: dict[str, dict[str, Run]] = {}
    for w in workloads:
        results[w] = {}
        for e in engines:
            t0 = time.perf_counter()
            results[w][e] = r = spawn(e, w, args.timeout, n)
            print(
                f"  {w:<6} {e:<10} {r.status:<14} {time.perf_counter() - t0:6.1f} s wall",
                flush=True,
            )
    print()
    for line in report(results, engines, n):
        print(line)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
