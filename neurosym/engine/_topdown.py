"""Backward chaining top-down, for goals whose rules do not recurse (boolean semantics).

SLD resolution with a table of answered calls: a call is a predicate with some argument
positions bound (``species(a7, S)``: position 0 bound to ``a7``); its answers are the base
facts that match, plus, for each rule of the predicate whose head agrees with the bound
values, the solutions of the rule's body planned for those bound variables. Each body
literal of a derived predicate is a call in turn, answered once per set of bound values
and kept for the rest of the query. Base relations are read through their hash indexes on
the bound positions.

Without recursion every call terminates and its answers are complete when it returns, so
negation of a derived predicate is a call whose answers must be empty, exactly as in the
stratified fixpoint. Recursive goals (which need tabling to terminate), aggregates (which
read whole relations) and valued semantics (which combine every derivation) stay with
the magic-sets rewrite and the semi-naive fixpoint (:mod:`._magic`). Both give the same
answers: a consultation of a small expert system is answered here in tens of
microseconds, where building and running the rewritten program takes hundreds.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._compile import CLit, CRule
from ._forward import _NO_LIMITS, Limits, _check_limits, _derives_nothing, _positive_preds
from ._join import Step, bound_key, plan, run_assign, run_test
from ._program import Program
from ._store import Store

__all__ = ["solve_top_down"]

Env = list[Any]


@dataclass(frozen=True, slots=True)
class _Entry:
    """One rule of a called predicate, for one set of bound head positions: how the bound
    values enter the rule's variables, and the body's plan given them."""

    rule: CRule
    #: the predicates of the rule's positive literals: each must have facts for it to fire
    gate: frozenset[str]
    #: (position in the key, slot): the first bound position of each head variable
    binds: tuple[tuple[int, int], ...]
    #: (position in the key, slot): a head variable seen at an earlier bound position
    same: tuple[tuple[int, int], ...]
    #: (position in the key, value): a constant of the head at a bound position
    consts: tuple[tuple[int, Any], ...]
    steps: list[Step]


_UNSEEN = object()


def _reach(program: Program, query: CRule) -> frozenset[str] | None:
    """The predicates the goal reaches, or ``None`` when one of them is recursive or
    aggregated (kept per set of goal predicates while the rules stay the same)."""
    cache = program.plans
    key = ("topdown", query.deps)
    if cache is not None:
        hit = cache.get(key, _UNSEEN)  # one lookup: the key (a tuple of pairs) hashes slowly
        if hit is not _UNSEEN:
            known: frozenset[str] | None = hit
            return known
    found = _reaches_no_recursion(program, query)
    if cache is not None:
        cache[key] = found
    return found


def _reaches_no_recursion(program: Program, query: CRule) -> frozenset[str] | None:
    by_head: dict[str, list[CRule]] = {}
    for r in program.rules:
        by_head.setdefault(r.head.pred, []).append(r)
    if program.components is not None:
        components = program.components
    else:
        from ._forward import components_of

        components = components_of(program.rules)
    recursive = {m for members, rec in components if rec for m in members}
    seen: set[str] = set()
    todo = [query]
    while todo:
        rule = todo.pop()
        for pred, pol in rule.deps:
            if pol == "aggregate" or pred in recursive:
                return None
            if pred not in seen:
                seen.add(pred)
                todo.extend(by_head.get(pred, ()))
    return frozenset(seen)


class _Solver:
    """Answers calls against a store of base facts, tabling each call's answers."""

    def __init__(self, program: Program, store: Store, limits: Limits, total: int) -> None:
        self.program = program
        self.store = store
        self.relations = store.relations
        self.cache = program.plans
        by_head: dict[str, list[CRule]] | None = (
            self.cache.get("topdown-rules") if self.cache is not None else None
        )
        if by_head is None:
            by_head = {}
            for r in program.rules:
                if r.weight is None or r.weight > 0:  # boolean: a weight <= 0 never fires
                    by_head.setdefault(r.head.pred, []).append(r)
            if self.cache is not None:
                self.cache["topdown-rules"] = by_head
        self.by_head = by_head
        self.possible = self._possible(frozenset(store.relations))
        self.table: dict[tuple[str, tuple[int, ...], tuple[Any, ...]], Any] = {}
        self.limits = limits
        self.started = time.perf_counter()
        self.total = total
        self.calls = 0

    def entries(self, pred: str, positions: tuple[int, ...]) -> list[_Entry]:
        key = ("topdown-entries", pred, positions)
        cache = self.cache
        found: list[_Entry] | None = cache.get(key) if cache is not None else None
        if found is not None:
            return found
        found = []
        for rule in self.by_head.get(pred, ()):
            binds: list[tuple[int, int]] = []
            same: list[tuple[int, int]] = []
            consts: list[tuple[int, Any]] = []
            bound: set[int] = set()
            for k, pos in enumerate(positions):
                is_var, v = rule.head.args[pos]
                if not is_var:
                    consts.append((k, v))
                elif v in bound:
                    same.append((k, v))
                else:
                    bound.add(v)
                    binds.append((k, v))
            steps = plan(rule.body, bound, self.size)
            gate = frozenset(_positive_preds(rule))
            found.append(_Entry(rule, gate, tuple(binds), tuple(same), tuple(consts), steps))
        if cache is not None:
            cache[key] = found
        return found

    def _possible(self, with_facts: frozenset[str]) -> frozenset[str]:
        """The predicates that can have facts when those in ``with_facts`` do: with facts,
        or with a rule whose positive literals' predicates can all (in component order;
        a superset for recursive components, whose own predicates are taken as possible).
        Calls to the others are answered at once, and their rules never run. Kept per set
        of predicates with facts (a consultation loop meets a few)."""
        kept: dict[frozenset[str], frozenset[str]] = {}
        if self.cache is not None:
            kept = self.cache.setdefault("topdown-possible", kept)
        hit = kept.get(with_facts)
        if hit is not None:
            return hit
        program = self.program
        components = program.components
        if components is None:
            from ._forward import components_of

            components = components_of(program.rules)
        possible = set(with_facts)
        for members, _ in components:
            for m in members:
                if any(
                    all(p in possible or p in members for p in _positive_preds(r))
                    and not _derives_nothing(r)
                    for r in self.by_head.get(m, ())
                ):
                    possible.update(members)
                    break
        found = frozenset(possible)
        if len(kept) >= 256:
            kept.clear()
        kept[with_facts] = found
        return found

    def size(self, pred: str) -> int:
        # Derived predicates are planned last among equally bound literals: a base
        # lookup is cheap and often fails early.
        if pred in self.by_head:
            return 1 << 30
        rel = self.relations.get(pred)
        return len(rel) if rel is not None else 0

    def call(self, pred: str, positions: tuple[int, ...], key: tuple[Any, ...]) -> Any:
        """The tuples of ``pred`` whose values at ``positions`` are ``key``."""
        if pred not in self.by_head:
            rel = self.relations.get(pred)
            return rel.lookup(positions, key) if rel is not None else ()
        if pred not in self.possible:
            return ()
        tk = (pred, positions, key)
        hit = self.table.get(tk)
        if hit is not None:
            return hit
        out: set[tuple[Any, ...]] = set()
        rel = self.relations.get(pred)
        if rel is not None:
            out.update(rel.lookup(positions, key))
        possible = self.possible
        for e in self.entries(pred, positions):
            if not e.gate <= possible:
                continue
            if e.consts and any(key[k] != c for k, c in e.consts):
                continue
            rule = e.rule
            env: Env = [None] * rule.nvars
            for k, slot in e.binds:
                env[slot] = key[k]
            if e.same and any(env[slot] != key[k] for k, slot in e.same):
                continue
            hargs = rule.head.args
            add = out.add

            def emit(env: Env, hargs: Any = hargs, add: Any = add) -> None:
                add(tuple(env[v] if is_var else v for is_var, v in hargs))

            self.run(e.steps, env, emit)
        found = tuple(out)
        self.table[tk] = found
        self.total += len(found)
        self.calls += 1
        if self.calls % 256 == 0 or self.total > self.limits.max_facts:
            _check_limits(self.limits, self.total, 0, self.started, Counter())
        return found

    def run(self, steps: list[Step], env: Env, emit: Callable[[Env], None]) -> None:
        """Enumerate a planned body's solutions (as :func:`._join.run_plan` does, with
        derived literals answered by calls)."""
        n = len(steps)
        store = self.store
        call = self.call
        derived = self.by_head
        relations = self.relations

        def go(k: int) -> None:
            if k == n:
                emit(env)
                return
            step = steps[k]
            kind = step.kind
            if kind == "scan":
                keyparts = step.keyparts
                if len(keyparts) == 1:  # the usual case, without a generator
                    is_var, v = keyparts[0]
                    key: tuple[Any, ...] = (env[v] if is_var else v,)
                else:
                    key = tuple(env[v] if is_var else v for is_var, v in keyparts)
                outs, eqs = step.outs, step.eqs
                pred = step.pred
                if not outs and not eqs:  # every argument bound: the key is the tuple
                    if pred in derived:
                        if call(pred, step.positions, key):
                            go(k + 1)
                    else:
                        rel = relations.get(pred)
                        if rel is not None and key in rel.tuples:
                            go(k + 1)
                    return
                if pred in derived:
                    rows = call(pred, step.positions, key)
                else:
                    rel = relations.get(pred)
                    rows = rel.lookup(step.positions, key) if rel is not None else ()
                for t in rows:
                    if eqs and any(t[a] != t[c] for a, c in eqs):
                        continue
                    for pos, slot in outs:
                        env[slot] = t[pos]
                    go(k + 1)
                for _, slot in outs:
                    env[slot] = None
            elif kind == "neg":
                item = step.item
                assert isinstance(item, CLit)
                if not call(step.pred, item.bound, bound_key(item, env)):
                    go(k + 1)
            elif kind == "test":
                run_test(step.item, env, store, go, k + 1)
            else:
                run_assign(step.item, env, store, go, k + 1)

        go(0)


def solve_top_down(
    program: Program, query: CRule, *, limits: Limits | None = None
) -> set[tuple[Any, ...]] | None:
    """The answers (head tuples of ``query``, a rule with head ``query$/n``) under boolean
    semantics, or ``None`` when the goal reaches a recursive or aggregated predicate
    (answer it with :func:`.magic_rewrite` and :func:`.evaluate` then).

    Raises:
        LimitError: more than ``limits.max_facts`` facts (base facts and answers of
            calls), or longer than ``limits.max_seconds``.
        EvaluationError: arithmetic in a rule failed.
    """
    reach = _reach(program, query)
    if reach is None:
        return None
    store = Store()
    # The base facts of the predicates the goal reaches, shared (nothing is added to them);
    # boolean: a fact holds when some weight is positive or none is given.
    facts = program.facts
    facts.share_into(store, reach, valued=False)
    total = facts.size(False)
    solver = _Solver(program, store, limits or _NO_LIMITS, total)
    if total > solver.limits.max_facts:
        _check_limits(solver.limits, total, 0, solver.started, Counter())
    body = query.body
    answers: set[tuple[Any, ...]] = set()
    hargs = query.head.args
    if len(body) == 1 and isinstance(body[0], CLit) and not body[0].negated:
        # One literal: one call with its constants bound, its rows projected.
        positions: list[int] = []
        key: list[Any] = []
        first: dict[int, int] = {}  # slot -> its first position
        same: list[tuple[int, int]] = []
        for pos, (is_var, v) in enumerate(body[0].atom.args):
            if not is_var:
                positions.append(pos)
                key.append(v)
            elif v in first:
                same.append((first[v], pos))
            else:
                first[v] = pos
        for t in solver.call(body[0].atom.pred, tuple(positions), tuple(key)):
            if not same or all(t[a] == t[b] for a, b in same):
                answers.add(tuple(t[first[v]] if is_var else v for is_var, v in hargs))
        return answers
    steps = plan(body, (), solver.size)

    def emit(env: Env) -> None:
        answers.add(tuple(env[v] if is_var else v for is_var, v in hargs))

    solver.run(steps, [None] * query.nvars, emit)
    return answers
