"""Forward chaining: stratified semi-naive evaluation to a fixpoint, then values.

Predicates are evaluated strongly connected component by component, in dependency order
(a finer stratification: negated and aggregated predicates are complete before use).
A recursive component runs semi-naive rounds: each round joins every rule once per
recursive body literal, with that literal restricted to the facts new in the last round.

Under a valued semantics the boolean pass keeps negation open (``not p`` never blocks;
its value is combined later) and records every ground rule instance; the values are then
computed per component in the same order (see :mod:`._semiring`).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from neurosym.errors import ConfigurationError, LimitError

from ._base import BaseFacts
from ._closure import ClosureShape, closure_shape, run_closure
from ._compile import ANY, CAtom, CLit, CRule
from ._join import plan, run_plan
from ._program import FactKey, Program
from ._semiring import AbstractSemiring, Boolean
from ._store import Relation, Store
from ._vector import qualifies, run_component

__all__ = ["Evaluation", "Instance", "Limits", "evaluate", "premise_value"]

# (rule index, positive body facts, negated body facts) of one ground rule instance
Instance = tuple[int, tuple[FactKey, ...], tuple[FactKey, ...]]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on a derivation; passing one raises :class:`~neurosym.LimitError`.

    Args:
        max_facts: facts in the model (base facts included).
        max_rounds: semi-naive rounds of one recursive component.
        max_seconds: wall-clock time of one evaluation (``None``: no bound).
    """

    max_facts: int = 5_000_000
    max_rounds: int = 100_000
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_facts", "max_rounds"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigurationError(f"Limits: {name} is a count >= 0, got {v!r}")
        s = self.max_seconds
        if s is not None and (isinstance(s, bool) or not isinstance(s, int | float) or not s > 0):
            raise ConfigurationError(f"Limits: max_seconds is positive or None, got {s!r}")


_NO_LIMITS = Limits()


@dataclass
class Evaluation:
    """What an evaluation produced: facts, values (valued semantics), provenance."""

    store: Store
    semiring: AbstractSemiring[Any]
    values: dict[FactKey, Any] | None
    instances: dict[FactKey, set[Instance]] | None
    rules: list[CRule]
    rounds: int = 0
    seconds: float = 0.0
    #: the program's base facts; those of predicates no rule reaches are read from here
    #: when asked for (:meth:`relation`, :meth:`complete`)
    facts: BaseFacts | None = None
    #: the predicates the rules reach (their base facts were in the store from the start)
    reached: frozenset[str] = frozenset()
    #: the event token of each recorded instance (valued semantics)
    events: dict[tuple[FactKey, Instance], Any] = field(default_factory=dict)

    def relation(self, pred: str) -> Relation | None:
        """The facts of ``pred`` (``None``: none), base facts of a predicate that no rule
        reaches included."""
        rel = self.store.relations.get(pred)
        if rel is None and pred not in self.reached:
            rel = self._take(pred)
        return rel

    def complete(self) -> Store:
        """The store, with the base facts of the predicates no rule reaches added (shared,
        not copied): for whatever reads the whole model."""
        if self.facts is not None:
            relations = self.store.relations
            for pred in self.facts.preds():
                if pred not in relations and pred not in self.reached:
                    self._take(pred)
        return self.store

    def _take(self, pred: str) -> Relation | None:
        facts = self.facts
        if facts is None:
            return None
        rel = facts.relation(pred, self.values is not None)
        if rel is None:
            return None
        self.store.share(pred, rel)
        if self.values is not None:
            sr, values = self.semiring, self.values
            for args, ws in facts.by_pred[pred].weights.items():
                if (pred, args) not in values:
                    values[(pred, args)] = sr.plus_all([sr.fact(w) for w in ws])
        return rel

    def value(self, key: FactKey) -> bool | float:
        """The reported value of a fact (false/0 when it does not hold); a pattern with
        ``_`` positions gives the value of "some fact matches"."""
        if key[0] not in self.store.relations and key[0] not in self.reached:
            self._take(key[0])
        if is_pattern(key):
            if self.values is None:
                return bool(matching(self.store, key))
            return self.semiring.report(pattern_value(self.semiring, self.values, self.store, key))
        if self.values is None:
            rel = self.store.relations.get(key[0])
            return rel is not None and key[1] in rel.tuples
        return self.semiring.report(self.values.get(key, self.semiring.zero()))

    def contribution(self, key: FactKey, inst: Instance) -> bool | float:
        """The value one recorded instance alone gives its head."""
        if self.values is None:
            return True
        sr = self.semiring
        premise = premise_value(sr, self.values, self.store, inst)
        event = self.events.get((key, inst))
        return sr.report(sr.rule(event, premise))


def components_of(rules: list[CRule]) -> list[tuple[set[str], bool]]:
    """Predicate components in evaluation order, each with whether it is recursive.

    Tarjan's algorithm, iteratively: strongly connected components come out in reverse
    topological order of the condensation (callees before callers when edges point from
    a body predicate to the head), which is the order evaluation needs.
    """
    succ: dict[str, list[str]] = {}
    for r in rules:
        succ.setdefault(r.head.pred, [])
        for pred, _ in r.deps:
            succ.setdefault(pred, []).append(r.head.pred)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[set[str]] = []
    for root in succ:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            children = succ[node]
            if i < len(children):
                work.append((node, i + 1))
                child = children[i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                members = set()
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    members.add(m)
                    if m == node:
                        break
                found.append(members)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    out = []
    for members in reversed(found):  # sources (facts' predicates) first
        recursive = len(members) > 1 or any(m in succ[m] for m in members)
        out.append((members, recursive))
    return out


def evaluate(
    program: Program,
    semiring: AbstractSemiring[Any] | None = None,
    *,
    record: bool = False,
    limits: Limits | None = None,
) -> Evaluation:
    """Evaluate a compiled program to its fixpoint.

    Args:
        program: rules and base facts.
        semiring: the semantics (default boolean).
        record: keep every ground rule instance (needed for values and explanations).
        limits: bounds on the derivation.

    Raises:
        LimitError: a limit was passed (the message names it and the busiest rule).
        EvaluationError: arithmetic in a rule failed.
    """
    sr = semiring or Boolean()
    lim = limits or _NO_LIMITS
    valued = not isinstance(sr, Boolean)
    record = record or valued
    started = time.perf_counter()
    store = Store()
    components = program.components or components_of(program.rules)
    reached = _reached(program, components)
    facts = program.facts
    # The base facts of the predicates the rules reach, shared with the program (copied
    # only if a rule adds to them); the others are left where they are (Evaluation reads
    # them when asked). Under boolean semantics a fact holds when some weight is positive
    # (or none is given). total: the facts in the store (the paths below are chosen by
    # it); outside: the base facts left where they are, which the limits count too.
    total = facts.share_into(store, reached, valued=valued)
    outside = facts.size(valued) - total
    if valued:  # the semantics refuses the weights it cannot take, read or not
        facts.check_weights(sr.fact, reached)
    instances: dict[FactKey, set[Instance]] | None = defaultdict(set) if record else None
    rounds_done = 0

    def size(pred: str) -> int:
        rel = store.relations.get(pred)
        return len(rel) if rel is not None else 0

    plans = program.plans  # any order is correct; the semantics does not change it
    events: dict[tuple[FactKey, Instance], Any] = {}
    valuer = (
        _Valuer(program, reached, sr, store, instances, events)
        if instances is not None and valued
        else None
    )
    # Per component: its rules, and for those that can conclude anything, the predicates
    # of their positive literals from lower components. A rule fires only when each of
    # these has facts (the component's own may gain some in a later round); a component
    # none of whose rules can fire is skipped.
    schedule = _schedule(program, components, valued)
    relations = store.relations
    program_rules = program.rules
    # Predicates that may have facts (a superset: a valued run takes zero-valued facts out
    # afterwards), for skipping components whose rules cannot fire.
    live = set(relations)  # each holds a fact at this point
    for members, recursive, places, gates, fires in schedule:
        for gate in gates:
            if gate <= live:
                break
        else:
            if valuer is not None:
                valuer.component(members, recursive)
            continue
        if not recursive and instances is None and total < VECTOR_MIN_RECURSIVE:
            # One rule of a small non-recursive component: a single pass straight into
            # the store (its body does not read its head).
            counts = _single_pass(program, fires, store, size, plans, live)
            if counts:
                live.update(members)
                total += sum(counts.values())
            rounds_done += 1
            if total + outside > lim.max_facts or lim.max_seconds is not None:
                _check_limits(lim, total + outside, 1, started, Counter(counts))
            continue
        rules = [program_rules[i] for i in places]
        place = dict(zip(map(id, rules), places))
        pending: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
        fired: Counter[str] = Counter()
        # numpy pays off only past VECTOR_MIN_* tuples, which a non-recursive component
        # reaches only when the store already holds as many
        can_vector = (
            instances is None
            and (recursive or total >= min(VECTOR_MIN_TUPLES, VECTOR_MIN_RECURSIVE))
            and qualifies(rules)
        )

        def vectorised(rules: list[CRule] = rules, members: set[str] = members) -> int | None:
            """Hand the component to the numpy path (from whatever is derived so far:
            semi-naive evaluation reaches the same fixpoint from any subset of it)."""
            before, label = store.size() + outside, rules[0].label

            def check(added: int, done: int) -> None:
                _check_limits(lim, before + added, done, started, Counter({label: 1}))

            return run_component(rules, members, store, check)

        shape = None
        if recursive and instances is None:
            shape = _closure(program, rules, places, members)
        if shape is not None:
            # A transitive closure: its base rules once, then graph reachability.
            base = [(i, _positive_set(program_rules[i])) for i in shape.base]
            base = [(i, g) for i, g in base if not _derives_nothing(program_rules[i])]
            counts = _single_pass(program, base, store, size, plans, live)
            total += sum(counts.values())

            def closure_check(
                n: int, before: int = total + outside, labels: tuple[str, ...] = shape.labels
            ) -> None:
                fired = Counter(dict.fromkeys(labels, n))
                _check_limits(lim, before + n, 1, started, fired)

            closed = run_closure(shape, store, closure_check)
            if closed is not None:
                total += closed
                rounds_done += 1
                live.update(members)
                continue
        if can_vector and _large(rules, store, VECTOR_MIN_RECURSIVE if recursive else None):
            vector_rounds = vectorised()
            if vector_rounds is not None:
                total = store.size()
                rounds_done += vector_rounds
                live.update(members)
                continue

        def emitter(rule: CRule) -> Any:
            head = rule.head
            hargs = head.args
            hpred = head.pred
            existing = store.get(hpred).tuples
            bucket = pending[hpred]  # noqa: B023 - used within this component's loop only
            if instances is None:
                positives: list[tuple[int, CAtom]] = []
                negatives: list[CLit] = []
            else:
                positives = [
                    (i, item.atom) for i, item in enumerate(rule.body)
                    if isinstance(item, CLit) and not item.negated and i not in rule.guards
                ]  # fmt: skip
                negatives = [i for i in rule.body if isinstance(i, CLit) and i.negated]

            def emit(env: list[Any]) -> None:
                t = tuple(env[v] if is_var else v for is_var, v in hargs)
                if instances is not None:
                    pos = tuple(
                        (a.pred, tuple(env[v] if is_var else v for is_var, v in a.args))
                        for _, a in positives
                    )
                    neg = tuple(
                        (
                            n.atom.pred,
                            tuple(
                                (ANY if v in n.anonymous else env[v]) if is_var else v
                                for is_var, v in n.atom.args
                            ),
                        )
                        for n in negatives
                    )
                    instances[(hpred, t)].add((rule.index, pos, neg))  # type: ignore[arg-type]
                if t not in existing and t not in bucket:
                    bucket.add(t)
                    fired[rule.label] += 1  # noqa: B023 - cleared in place, never rebound

            return emit

        def run(
            rule: CRule, first: int | None, delta: Relation | None, place: dict[int, int] = place
        ) -> None:
            # A plan is reused across runs on the same rules (any order is correct; the
            # first run's relation sizes chose it).
            # Keyed by the rule's place in the program: a rewritten program (magic sets)
            # holds several rules made from one rule, with its index.
            keep = plans is not None and rule.index not in program.volatile
            key = (place[id(rule)], first) if keep else None
            steps = plans.get(key) if keep and plans is not None else None
            if steps is None:
                steps = plan(rule.body, (), size, first=first)
                if keep and plans is not None:
                    plans[key] = steps
            run_plan(steps, [None] * rule.nvars, store, emitter(rule), delta=delta,
                     open_negation=valued)  # fmt: skip

        for rule in rules:
            # A positive literal over an empty relation of a lower component can never
            # match; over one of this component's, a later delta round covers it.
            if all(size(p) for p in _positive_preds(rule)) and not _derives_nothing(rule):
                run(rule, None, None)
        rounds = 0
        while True:
            new: dict[str, Relation] = {}
            for pred, tuples in pending.items():
                rel = store.get(pred)
                delta = Relation()
                for t in tuples:
                    if rel.add(t):
                        delta.tuples.add(t)
                if delta.tuples:
                    new[pred] = delta
                    total += len(delta.tuples)
                    live.add(pred)
            pending.clear()
            rounds += 1
            _check_limits(lim, total + outside, rounds, started, fired)
            if not recursive or not new:
                break
            if can_vector and rounds % 8 == 0 and _large(rules, store):
                # The component has grown past where tuple-at-a-time joins pay off.
                vector_rounds = vectorised()
                if vector_rounds is not None:
                    total = store.size()
                    rounds += vector_rounds
                    live.update(members)
                    break
            fired.clear()
            for rule in rules:
                for i, item in enumerate(rule.body):
                    if (
                        isinstance(item, CLit)
                        and not item.negated
                        and item.atom.pred in new
                        and item.atom.pred in members
                    ):
                        run(rule, i, new[item.atom.pred])
        rounds_done += rounds
        if valuer is not None:
            valuer.component(members, recursive)

    values = valuer.values if valuer is not None else None
    return Evaluation(store, sr, values, instances, program.rules, rounds_done,
                      time.perf_counter() - started, facts, reached, events)  # fmt: skip


def _reached(program: Program, components: list[tuple[set[str], bool]]) -> frozenset[str]:
    """The predicates the rules conclude or read (kept with the plans)."""
    cache = program.plans
    found: frozenset[str] | None = cache.get("reached") if cache is not None else None
    if found is None:
        found = frozenset(m for members, _ in components for m in members)
        if cache is not None:
            cache["reached"] = found
    return found


_POSITIVE: dict[int, tuple[CRule, tuple[str, ...]]] = {}


def _positive_preds(rule: CRule) -> tuple[str, ...]:
    """The predicates of a rule's positive body literals (guards included), remembered
    per rule object (the entry keeps the rule alive, so its id stays its own)."""
    hit = _POSITIVE.get(id(rule))
    if hit is not None and hit[0] is rule:
        return hit[1]
    preds = tuple(
        dict.fromkeys(i.atom.pred for i in rule.body if isinstance(i, CLit) and not i.negated)
    )
    if len(_POSITIVE) > 4096:
        _POSITIVE.clear()
    _POSITIVE[id(rule)] = (rule, preds)
    return preds


# members, recursive, the places of its rules in the program, their gates, and the rules
# that can conclude anything with all the predicates of their positive literals
Schedule = list[
    tuple[set[str], bool, list[int], list[frozenset[str]], list[tuple[int, frozenset[str]]]]
]


def _schedule(
    program: Program,
    components: list[tuple[set[str], bool]],
    valued: bool,
) -> Schedule:
    """Each component with its rules and their gates (see :func:`evaluate`), kept with
    the program's plans (they live as long as its rules, but for the rules made from a
    query's constants, which keep their places and shapes)."""
    key = ("schedule", valued)
    kept: Schedule | None = program.plans.get(key) if program.plans is not None else None
    if kept is not None:
        return kept
    by_head: dict[str, list[CRule]] = defaultdict(list)
    for r in program.rules:
        if valued or r.weight is None or r.weight > 0:  # boolean: a weight <= 0 never fires
            by_head[r.head.pred].append(r)
    place = {id(r): i for i, r in enumerate(program.rules)}
    out: Schedule = []
    for members, recursive in components:
        rules = [r for m in members for r in by_head.get(m, ())]
        gates = [
            frozenset(p for p in _positive_preds(r) if p not in members)
            for r in rules
            if not _derives_nothing(r)
        ]
        fires = [(place[id(r)], _positive_set(r)) for r in rules if not _derives_nothing(r)]
        out.append((members, recursive, [place[id(r)] for r in rules], gates, fires))
    if program.plans is not None:
        program.plans[key] = out
    return out


def _closure(
    program: Program, rules: list[CRule], places: list[int], members: set[str]
) -> ClosureShape | None:
    """The transitive closure a recursive component computes, if it is one (kept with
    the plans)."""
    key = ("closure", tuple(places))
    cache = program.plans
    if cache is not None and key in cache:
        found: ClosureShape | None = cache[key]
        return found
    found = closure_shape(rules, places, members)
    if cache is not None:
        cache[key] = found
    return found


def _single_pass(
    program: Program,
    fires: list[tuple[int, frozenset[str]]],
    store: Store,
    size: Any,
    plans: dict[Any, Any] | None,
    live: set[str],
) -> dict[str, int]:
    """Run the rules of a non-recursive component once (boolean, nothing recorded), adding
    their conclusions to the store; returns how many are new, by rule label. ``live``
    holds (at least) the predicates with facts: a rule with a positive literal over
    another predicate cannot fire. ``fires``: the places of the rules that can conclude
    anything, with the predicates of their positive literals."""
    fired: dict[str, int] = {}
    rules = program.rules
    for place, needs in fires:
        if not needs <= live:
            continue
        rule = rules[place]
        keep = plans is not None and rule.index not in program.volatile
        steps = plans.get((place, None)) if keep and plans is not None else None
        if steps is None:
            steps = plan(rule.body, (), size)
            if keep and plans is not None:
                plans[(place, None)] = steps
        hargs = rule.head.args
        found: list[tuple[Any, ...]] = []
        if len(steps) == 1 and steps[0].kind == "scan":
            # One literal (``mammal(X) :- has_hair(X).``): its matches, projected.
            step = steps[0]
            rel = store.relations.get(step.pred)
            if rel is None:
                continue
            at = {slot: pos for pos, slot in step.outs}
            eqs = step.eqs
            kp = step.keyparts
            rows = rel.lookup(step.positions, tuple([v for _, v in kp])) if kp else rel.tuples
            if len(hargs) == 1 and hargs[0][0] and not eqs:  # p(X) :- q(..., X, ...).
                i = at[hargs[0][1]]
                found.extend([(t[i],) for t in rows])
            else:
                for t in rows:
                    if not eqs or all(t[a] == t[c] for a, c in eqs):
                        found.append(tuple(t[at[v]] if iv else v for iv, v in hargs))
        else:
            run_plan(steps, [None] * rule.nvars, store,
                     lambda env: found.append(tuple(env[v] if iv else v for iv, v in hargs)))  # noqa: B023  # fmt: skip
        if not found:
            continue
        rel = store.get(rule.head.pred)
        added = 0
        for t in found:
            added += rel.add(t)
        if added:
            fired[rule.label] = fired.get(rule.label, 0) + added
    return fired


_POSITIVE_SET: dict[int, tuple[CRule, frozenset[str]]] = {}


def _positive_set(rule: CRule) -> frozenset[str]:
    """:func:`_positive_preds` as a set (remembered the same way)."""
    hit = _POSITIVE_SET.get(id(rule))
    if hit is not None and hit[0] is rule:
        return hit[1]
    preds = frozenset(_positive_preds(rule))
    if len(_POSITIVE_SET) > 4096:
        _POSITIVE_SET.clear()
    _POSITIVE_SET[id(rule)] = (rule, preds)
    return preds


_EMPTY: dict[int, tuple[CRule, bool]] = {}


def _derives_nothing(rule: CRule) -> bool:
    """Whether a rule with no literal and no aggregate (its conclusion independent of the
    facts), such as ``p(X) :- X is 0, X > 0.``, never concludes anything: run once, the
    answer is kept per rule object. Rules that read facts, or fail, are run as usual."""
    if rule.deps or any(isinstance(i, CLit) for i in rule.body):
        return False
    hit = _EMPTY.get(id(rule))
    if hit is not None and hit[0] is rule:
        return hit[1]
    found: list[object] = []
    try:
        run_plan(plan(rule.body, (), lambda _: 0), [None] * rule.nvars, Store(), found.append)
    except Exception:  # the usual run raises it where it belongs
        return False
    if len(_EMPTY) > 4096:
        _EMPTY.clear()
    _EMPTY[id(rule)] = (rule, not found)
    return not found


VECTOR_MIN_TUPLES = 2_000
"""Below this many tuples in a component's relations numpy's per-call overhead costs more
than it saves, and the tuple-at-a-time join is used."""


VECTOR_MIN_RECURSIVE = 200
"""A recursive component usually grows far beyond its inputs: it switches sooner."""


def _large(rules: list[CRule], store: Store, threshold: int | None = None) -> bool:
    preds = {lit.atom.pred for r in rules for lit in r.body if isinstance(lit, CLit)}
    size = sum(len(store.relations[p]) for p in preds if p in store.relations)
    return size >= (VECTOR_MIN_TUPLES if threshold is None else threshold)


def is_pattern(key: FactKey) -> bool:
    """Whether a fact key has ``_`` positions (from ``not p(X, _)``)."""
    args: tuple[object, ...] = key[1]
    return ANY in args  # values are str, numbers, Str and tuples: none equals ANY


def matching(store: Store, key: FactKey) -> list[tuple[Any, ...]]:
    """The facts that match a pattern with ``_`` positions."""
    rel = store.relations.get(key[0])
    if rel is None:
        return []
    args: tuple[object, ...] = key[1]
    positions = tuple(i for i, v in enumerate(args) if v is not ANY)
    return list(rel.lookup(positions, tuple(key[1][i] for i in positions)))


def pattern_value(
    sr: AbstractSemiring[Any], values: dict[FactKey, Any], store: Store, key: FactKey
) -> Any:
    """The value of a fact, or of "some fact matches" for a pattern (⊕ of the matches)."""
    if not is_pattern(key):
        return values.get(key, sr.zero())
    return sr.plus_all([values.get((key[0], t), sr.zero()) for t in matching(store, key)])


def premise_value(
    sr: AbstractSemiring[Any], values: dict[FactKey, Any], store: Store, inst: Instance
) -> Any:
    """The ⊗ of an instance's premises: its positive facts and the negations of the rest."""
    premise = sr.one()
    for pk in inst[1]:
        premise = sr.times(premise, values.get(pk, sr.zero()))
    for nk in inst[2]:
        premise = sr.times(premise, sr.negate(pattern_value(sr, values, store, nk)))
    return premise


def _check_limits(
    lim: Limits, total: int, rounds: int, started: float, fired: Counter[str]
) -> None:
    if (
        total <= lim.max_facts
        and rounds <= lim.max_rounds
        and (lim.max_seconds is None or time.perf_counter() - started <= lim.max_seconds)
    ):
        return
    busiest = fired.most_common(1)[0][0] if fired else None
    where = f"; rule {busiest} kept firing" if busiest else ""
    if total > lim.max_facts:
        raise LimitError(
            f"more than {lim.max_facts:,} facts derived{where}. If the program does not "
            "terminate (e.g. nat(Y) :- nat(X), Y is X + 1.), bound it; otherwise raise "
            "Limits(max_facts=...)",
            limit="max_facts",
            rule=busiest,
        )
    if rounds > lim.max_rounds:
        raise LimitError(
            f"more than {lim.max_rounds:,} rounds of recursion{where}; the derivation may "
            "not terminate. Raise Limits(max_rounds=...) if it does",
            limit="max_rounds",
            rule=busiest,
        )
    if lim.max_seconds is not None and time.perf_counter() - started > lim.max_seconds:
        raise LimitError(
            f"inference took longer than {lim.max_seconds:g} s{where}",
            limit="max_seconds",
            rule=busiest,
        )


class _Valuer:
    """Computes values component by component, as soon as each one's facts are final.

    After a component is valued, its facts whose value is zero are taken out of the store:
    under a valued semantics they do not hold, so later components neither join with
    them nor count them in aggregates, and ``not`` treats them as absent (its value is
    then ``negate(zero)``, the same).
    """

    def __init__(
        self,
        program: Program,
        reached: frozenset[str],
        sr: AbstractSemiring[Any],
        store: Store,
        instances: dict[FactKey, set[Instance]],
        events: dict[tuple[FactKey, Instance], Any],
    ) -> None:
        self.sr = sr
        self.store = store
        self.instances = instances
        self.events = events
        # Each base fact's value is made once: under probability it is an event of its own.
        # (Those of the predicates no rule reaches are made when asked for: Evaluation.)
        facts = program.facts
        self.base = {
            (pred, args): sr.plus_all([sr.fact(w) for w in ws])
            for pred in facts.among(reached)
            for args, ws in facts.by_pred[pred].weights.items()
        }
        self.values: dict[FactKey, Any] = dict(self.base)
        self.rules = {r.index: r for r in program.rules}
        self.ordered: dict[FactKey, list[Instance]] = {}

    def _instance(self, key: FactKey, inst: Instance) -> Any:
        sr = self.sr
        rule = self.rules[inst[0]]
        premise = premise_value(sr, self.values, self.store, inst)
        if rule.transparent:
            return premise
        ev_key = (key, inst)
        if ev_key not in self.events:
            self.events[ev_key] = sr.event(rule.weight)
        return sr.rule(self.events[ev_key], premise)

    def value_of(self, key: FactKey) -> Any:
        """The value of ``key`` from the current values of what it is derived from."""
        insts = self.ordered.get(key)
        if insts is None:  # a fixed order makes float results repeat bit for bit
            insts = self.ordered[key] = sorted(self.instances[key], key=repr)
        parts = [self._instance(key, inst) for inst in insts]
        if key in self.base:
            parts.append(self.base[key])
        return self.sr.plus_all(parts)

    def _compute(self, keys: Iterable[FactKey]) -> bool:
        changed = False
        sr = self.sr
        for key in keys:
            new = self.value_of(key)
            old = self.values.get(key)
            if old is None or not sr.close(old, new):
                changed = True
            self.values[key] = new
        return changed

    def component(self, members: set[str], recursive: bool) -> None:
        keys = [
            (m, t) for m in members for t in (self.store.relations[m].tuples
                                              if m in self.store.relations else ())
            if (m, t) in self.instances
        ]  # fmt: skip
        solve = getattr(self.sr, "solve_component", None)
        if not recursive:
            self._compute(keys)
        elif solve is not None:
            # A semiring of symbolic values (the compiled programs') states the fixpoint
            # itself instead of iterating to it.
            solve(keys, self)
        else:
            zero = self.sr.zero()
            for k in keys:
                self.values.setdefault(k, zero)
            for _ in range(10_000):
                if not self._compute(keys):
                    break
        for m in members:
            rel = self.store.relations.get(m)
            if rel is None:
                continue
            zeros = [t for t in rel.tuples if self.sr.is_zero(self.values.get((m, t)))]
            if zeros:
                rel = self.store.get(m)  # a copy, if it was shared
                for t in zeros:
                    rel.discard(t)
