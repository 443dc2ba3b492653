"""Joins: plan a body (most bound, then smallest first) and enumerate its solutions.

The planner orders literals so that each scan binds as much as possible: the delta
literal of a semi-naive round first, then ready tests and negations as early as their
variables allow, then the positive literal with the most bound arguments (ties: the
smaller relation). Because the delta literal always leads, the work of a recursive rule
does not depend on whether the recursion is written on the left or on the right.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from neurosym.errors import EngineError

from ._compile import CAssign, CItem, CLit, CTest, NoValue, compare
from ._store import Relation, Store

__all__ = ["Step", "plan", "run_plan", "solve_body"]

Env = list[Any]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a plan. ``kind``: 'scan', 'neg', 'test', 'assign'."""

    kind: str
    item: CItem
    index: int  # position of the item in the rule's body
    pred: str = ""
    positions: tuple[int, ...] = ()
    keyparts: tuple[tuple[bool, Any], ...] = ()
    outs: tuple[tuple[int, int], ...] = ()
    eqs: tuple[tuple[int, int], ...] = ()
    delta: bool = False


def _scan_step(item: CLit, index: int, bound: set[int], delta: bool) -> Step:
    positions: list[int] = []
    keyparts: list[tuple[bool, Any]] = []
    outs: list[tuple[int, int]] = []
    eqs: list[tuple[int, int]] = []
    first_pos: dict[int, int] = {}
    for pos, (is_var, v) in enumerate(item.atom.args):
        if not is_var or v in bound:
            positions.append(pos)
            keyparts.append((is_var, v))
        elif v in first_pos:
            eqs.append((first_pos[v], pos))
        else:
            first_pos[v] = pos
            outs.append((pos, v))
    return Step("scan", item, index, item.atom.pred, tuple(positions), tuple(keyparts),
                tuple(outs), tuple(eqs), delta)  # fmt: skip


def plan(
    items: tuple[CItem, ...],
    bound: Iterable[int],
    size: Callable[[str], int],
    *,
    first: int | None = None,
) -> list[Step]:
    """Order ``items`` for evaluation given the variables already bound."""
    b = set(bound)
    steps: list[Step] = []
    remaining = list(range(len(items)))
    if first is not None:
        item = items[first]
        assert isinstance(item, CLit)  # the delta literal is positive by construction
        steps.append(_scan_step(item, first, b, True))
        b |= item.binds
        remaining.remove(first)
    while remaining:
        ready = [
            i
            for i in remaining
            if not (isinstance(items[i], CLit) and not items[i].negated)  # type: ignore[union-attr]
            and items[i].needs <= b
        ]
        if ready:
            i = ready[0]
            item = items[i]
            if isinstance(item, CLit):
                steps.append(Step("neg", item, i, item.atom.pred))
            elif isinstance(item, CTest):
                steps.append(Step("test", item, i))
            else:
                steps.append(Step("assign", item, i))
            b |= item.binds
            remaining.remove(i)
            continue
        scans = [
            i
            for i in remaining
            if isinstance(items[i], CLit) and not items[i].negated  # type: ignore[union-attr]
        ]
        if not scans:
            raise EngineError(
                "a rule body has goals whose variables nothing binds (run kb.check() to see "
                "which); this is unsafe and cannot be evaluated"
            )

        def score(i: int, bound: set[int] = b) -> tuple[int, int]:
            lit = items[i]
            assert isinstance(lit, CLit)
            n_bound = sum(1 for is_var, v in lit.atom.args if not is_var or v in bound)
            return (-n_bound, size(lit.atom.pred))

        i = min(scans, key=score)
        lit = items[i]
        assert isinstance(lit, CLit)
        steps.append(_scan_step(lit, i, b, False))
        b |= lit.binds
        remaining.remove(i)
    return steps


def run_plan(
    steps: list[Step],
    env: Env,
    store: Store,
    emit: Callable[[Env], None],
    *,
    delta: Relation | None = None,
    open_negation: bool = False,
) -> None:
    """Enumerate the solutions of a planned body, calling ``emit(env)`` for each.

    ``open_negation``: negated literals always succeed (their values are combined later,
    under a valued semantics), instead of failing when the atom holds.
    """
    n = len(steps)
    relations = store.relations

    def go(k: int) -> None:
        if k == n:
            emit(env)
            return
        step = steps[k]
        kind = step.kind
        if kind == "scan":
            rel = delta if step.delta and delta is not None else relations.get(step.pred)
            if rel is None:
                return
            keyparts = step.keyparts
            if len(keyparts) == 1:  # the usual case, without a generator
                is_var, v = keyparts[0]
                key: tuple[Any, ...] = (env[v] if is_var else v,)
            else:
                key = tuple(env[v] if is_var else v for is_var, v in keyparts)
            outs, eqs = step.outs, step.eqs
            for t in rel.lookup(step.positions, key):
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
            if not open_negation:
                rel = relations.get(step.pred)
                if rel is not None:
                    if item.anonymous:  # not p(X, _): no tuple matches the bound positions
                        if rel.lookup(item.bound, bound_key(item, env)):
                            return
                    else:
                        t = tuple(env[v] if is_var else v for is_var, v in item.atom.args)
                        if t in rel.tuples:
                            return
            go(k + 1)
        elif kind == "test":
            run_test(step.item, env, store, go, k + 1)
        else:
            run_assign(step.item, env, store, go, k + 1)

    go(0)


def bound_key(item: CLit, env: Env) -> tuple[Any, ...]:
    """A negated literal's values at its non-anonymous positions (``item.bound``)."""
    args = item.atom.args
    return tuple(env[args[i][1]] if args[i][0] else args[i][1] for i in item.bound)


def run_test(item: CItem, env: Env, store: Store, go: Callable[[int], None], k: int) -> None:
    """A comparison step of a body: binds its one unbound variable (``X = expr``) or
    filters, then continues with ``go(k)``; no solution when a value is missing."""
    assert isinstance(item, CTest)
    try:
        if item.binds and env[next(iter(item.binds))] is None:
            (slot,) = item.binds
            env[slot] = item.right(env, store)
            go(k)
            env[slot] = None
            return
        if compare(item.op, item.left(env, store), item.right(env, store), item.where):
            go(k)
    except NoValue:
        return


def run_assign(item: CItem, env: Env, store: Store, go: Callable[[int], None], k: int) -> None:
    """An ``X is expr`` step of a body: binds or checks ``X``, then continues with
    ``go(k)``; no solution when a value is missing."""
    assert isinstance(item, CAssign)
    try:
        value = item.fn(env, store)
    except NoValue:
        return
    current = env[item.slot]
    if current is None:
        env[item.slot] = value
        go(k)
        env[item.slot] = None
    elif current == value:
        go(k)


def solve_body(
    items: tuple[CItem, ...], env: Env, store: Store, emit: Callable[[Env], None]
) -> None:
    """Solutions of a body from a partly bound ``env`` (used by aggregates)."""
    bound = frozenset(i for i, v in enumerate(env) if v is not None)
    steps = plan(items, bound, lambda p: len(store.relations.get(p) or ()))
    run_plan(steps, env, store, emit)
