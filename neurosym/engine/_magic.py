"""Backward chaining by the magic-sets rewrite, evaluated semi-naively.

A goal with bound arguments (``ancestor(ann, X)``) should touch only the facts it needs.
The rewrite gives each derived predicate an *adornment* per call pattern (``b`` bound,
``f`` free) and a *magic* predicate holding the bound arguments it is called with; every
rule is guarded by its magic predicate, and every call inside a body adds the calling
arguments to the callee's magic predicate. Evaluated bottom-up, this computes exactly the
facts that a tabled top-down evaluation (SLG resolution) would, and terminates on left
recursion and cycles for the same reason forward chaining does.

Predicates used under ``not`` or inside aggregates (and what they depend on) are
evaluated completely and not rewritten, so stratification is kept.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from ._compile import CAtom, CItem, CLit, CRule
from ._join import plan
from ._program import Program

__all__ = ["QUERY_PRED", "magic_rewrite"]

QUERY_PRED = "query$"


def adorned(pred: str, adornment: str) -> str:
    return f"{pred}@{adornment}"


def magic(pred: str, adornment: str) -> str:
    return f"magic@{pred}@{adornment}"


def original(pred: str) -> str:
    """The user's predicate behind an adorned name (``p/2@bf`` → ``p/2``)."""
    return pred.split("@", 1)[0]


def _closure(preds: set[str], deps: dict[str, set[str]]) -> set[str]:
    out, todo = set(preds), list(preds)
    while todo:
        for d in deps.get(todo.pop(), ()):
            if d not in out:
                out.add(d)
                todo.append(d)
    return out


def _shape(query: CRule) -> tuple[object, ...] | None:
    """The query with its constants left out, when its body is literals only: queries of
    one shape have the same rewrite but for the constants in the rules made from the query
    itself. ``None`` for bodies with comparisons or arithmetic (not kept)."""
    items = []
    for item in query.body:
        if not isinstance(item, CLit):
            return None
        args = tuple(v if is_var else None for is_var, v in item.atom.args)
        items.append((item.atom.pred, item.negated, args, item.anonymous))
    return (query.index, query.head, query.nvars, tuple(items), query.deps)


@dataclass
class _Kept:
    """The rewrite for one query shape: the rules before and after the query's own, and
    what evaluating them needs (components; join plans, filled as they are made)."""

    before: list[CRule]
    after: list[CRule]
    idb: set[str]
    full: set[str]
    first_index: int
    components: list[tuple[set[str], bool]]
    plans: dict[Any, Any] = field(default_factory=dict)


def magic_rewrite(program: Program, query: CRule) -> Program:
    """The rules needed to answer ``query`` (a rule with head ``query$/n``), rewritten.

    The rewrite of the program's own rules, its evaluation order and join plans are kept
    (in ``program.plans``, which lives as long as the rules) per query shape and set of
    predicates with facts; only the rules made from the query itself are built anew.
    """
    shape = _shape(query)
    cache = program.plans
    key = None
    if shape is not None and cache is not None:
        key = ("magic", shape, _derived_with_facts(program))
        kept: _Kept | None = cache.get(key)
        if kept is not None:
            mine: list[CRule] = []
            _Rewriter(program, kept.idb, kept.full, kept.first_index, mine).rewrite(
                query, None, set()
            )
            return Program([*kept.before, *mine, *kept.after], program.facts, kept.components,
                           kept.plans, volatile=frozenset(r.index for r in mine))  # fmt: skip
    by_head: dict[str, list[CRule]] = {}
    for r in program.rules:
        by_head.setdefault(r.head.pred, []).append(r)
    idb = set(by_head)
    deps = {p: {d for r in rs for d, _ in r.deps} for p, rs in by_head.items()}
    closed = {d for r in [*program.rules, query] for d, pol in r.deps if pol != "positive"}
    full = _closure(closed, deps) & idb

    rules: list[CRule] = [r for p in full for r in by_head[p]]
    first_index = max((r.index for r in program.rules), default=-1) + 1
    before = len(rules)
    rw = _Rewriter(program, idb, full, first_index, rules)
    rw.rewrite(query, None, set())
    after = len(rules)
    base_preds = _derived_with_facts(program)
    while rw.work:
        pred, adn = rw.work.popleft()
        rw.guard_adn = adn
        for r in by_head.get(pred, ()):
            bound_args = tuple(arg for arg, c in zip(r.head.args, adn) if c == "b")
            guard = CAtom(magic(pred, adn), bound_args)
            bound = {v for is_var, v in bound_args if is_var}
            rw.rewrite(r, guard, bound)
        if pred in base_preds:  # base facts of a derived predicate reach its copy too
            arity = int(pred.rsplit("/", 1)[1])
            args = tuple((True, i) for i in range(arity))
            guard = CAtom(magic(pred, adn), tuple(a for a, c in zip(args, adn) if c == "b"))
            copy = CRule(rw.next_index, CAtom(adorned(pred, adn), args),
                         (CLit(guard, False), CLit(CAtom(pred, args), False)), None, arity,
                         tuple(f"X{i}" for i in range(arity)), f"facts of {pred}", None, None,
                         frozenset({(guard.pred, "positive"), (pred, "positive")}),
                         frozenset({0}))  # fmt: skip
            rw.next_index += 1
            rules.append(copy)
    if key is None or cache is None:
        return Program(rules, program.facts)
    from ._forward import components_of

    kept = _Kept(rules[:before], rules[after:], idb, full, first_index, components_of(rules))
    cache[key] = kept
    return Program(rules, program.facts, kept.components, kept.plans,
                   volatile=frozenset(r.index for r in rules[before:after]))  # fmt: skip


def _derived_with_facts(program: Program) -> frozenset[str]:
    """The predicates that rules conclude and that have base facts: all the rewrite needs
    to know of the facts (the heads are kept with the plans)."""
    cache = program.plans
    heads: frozenset[str] | None = cache.get("heads") if cache is not None else None
    if heads is None:
        heads = frozenset(r.head.pred for r in program.rules)
        if cache is not None:
            cache["heads"] = heads
    return frozenset(program.facts.among(heads))


class _Rewriter:
    """Rewrites one rule at a time, queueing the (predicate, adornment) pairs it calls."""

    def __init__(
        self, program: Program, idb: set[str], full: set[str], next_index: int,
        rules: list[CRule],
    ) -> None:  # fmt: skip
        self.program = program
        self.idb = idb
        self.full = full
        self.next_index = next_index
        self.rules = rules
        self.seen: set[tuple[str, str]] = set()
        self.work: deque[tuple[str, str]] = deque()
        self.guard_adn = ""

    def rewrite(self, rule: CRule, guard: CAtom | None, bound: set[int]) -> None:
        program, idb, full, rules = self.program, self.idb, self.full, self.rules
        # A safe left-to-right order (the SIPS). For the KB's own rules it depends only on
        # which head arguments are bound, so it is kept with the program's plans.
        key = ("sips", rule.index, frozenset(bound))
        cache = program.plans if guard is not None else None
        steps = cache.get(key) if cache is not None else None
        if steps is None:
            steps = plan(rule.body, bound, lambda p: 0)
            if cache is not None:
                cache[key] = steps
        new_body: list[CItem] = [CLit(guard, False)] if guard is not None else []
        new_deps = set(rule.deps)
        if guard is not None:
            new_deps.add((guard.pred, "positive"))
        b = set(bound)
        for step in steps:
            item = step.item
            if isinstance(item, CLit) and not item.negated and item.atom.pred in idb - full:
                pred = item.atom.pred
                adn = "".join("b" if (not v or a in b) else "f" for v, a in item.atom.args)
                bound_args = tuple(arg for arg, c in zip(item.atom.args, adn) if c == "b")
                m_atom = CAtom(magic(pred, adn), bound_args)
                prefix = tuple(new_body)
                prefix_deps = frozenset(
                    (i.atom.pred, "negative" if i.negated else "positive")
                    for i in prefix if isinstance(i, CLit)
                ) | frozenset(d for d in rule.deps if d[1] == "aggregate")  # fmt: skip
                rules.append(
                    CRule(self.next_index, CAtom(m_atom.pred, m_atom.args), prefix, None,
                          rule.nvars, rule.var_names, f"magic for {rule.label}", rule.span,
                          None, prefix_deps,
                          frozenset({0}) if guard is not None else frozenset())
                )  # fmt: skip
                self.next_index += 1
                if (pred, adn) not in self.seen:
                    self.seen.add((pred, adn))
                    self.work.append((pred, adn))
                item = CLit(CAtom(adorned(pred, adn), item.atom.args), False, item.source)
                new_deps.discard((pred, "positive"))
                new_deps.add((item.atom.pred, "positive"))
            new_body.append(item)
            b |= item.binds
        guards = frozenset({0}) if guard is not None else frozenset()
        head = rule.head if guard is None else CAtom(adorned(rule.head.pred, self.guard_adn),
                                                      rule.head.args)  # fmt: skip
        rules.append(replace(rule, head=head, body=tuple(new_body), deps=frozenset(new_deps),
                             guards=guards))  # fmt: skip
