"""The engine's compiled facts are kept up to date from the knowledge base's log of fact
changes; after any sequence of adds and removes they equal a fresh compilation."""

from __future__ import annotations

import random

import pytest

import neurosym as ns
from neurosym.engine._program import compile_kb


@pytest.mark.parametrize("seed", range(6))
def test_incremental_compiled_facts_equal_a_fresh_compile(seed: int) -> None:
    rng = random.Random(seed)
    kb = ns.parse("q(X) :- p(X, Y).\np(a, 1). 0.5 :: p(b, 2).")
    live: list[str] = []
    kept = []
    for step in range(120):
        if live and rng.random() < 0.45:
            name = live.pop(rng.randrange(len(live)))
            kb.remove(name)
        else:
            name = f"f{step}"
            weight = rng.choice(["", "0.3 :: ", "0.9 :: "])
            # duplicates of one fact with different weights, removed from the middle
            kb.add(f"rule {name}: {weight}p({rng.choice('abc')}, {rng.randrange(3)}).")
            live.append(name)
        if rng.random() < 0.3:
            program = compile_kb(kb)
            kept.append((program, dict(program.base)))
            fresh = compile_kb(ns.KnowledgeBase(kb.statements))
            assert program.base == fresh.base
            assert {k: [id(f) for f in v] for k, v in program.sources.items()} == {
                k: [id(f) for f in v] for k, v in fresh.sources.items()
            }
    # a program compiled earlier still sees the facts of its moment
    for program, snapshot in kept:
        assert program.base == snapshot
