"""A knowledge base compiled for the engine: rules, base facts with weights, sources."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from neurosym.errors import KnowledgeBaseError
from neurosym.lang import Const, Fact, FixedWeight, LearnableWeight, Rule

from ._compile import CRule, compile_rule, pred_key
from ._values import Value, term_value

if TYPE_CHECKING:
    from neurosym.kb import KnowledgeBase

__all__ = ["Program", "compile_kb"]

FactKey = tuple[str, tuple[Value, ...]]


@dataclass
class Program:
    """Compiled rules, and base facts with their weights and source statements."""

    rules: list[CRule]
    base: dict[FactKey, list[float | None]]
    sources: dict[FactKey, list[Fact]] = field(default_factory=dict)
    #: predicate components in evaluation order, when already known for these rules
    components: list[tuple[set[str], bool]] | None = None
    #: join plans by (rule index, delta literal), kept while the rules stay the same
    plans: dict[Any, Any] | None = None
    #: indexes of rules whose join plans are not kept (made from one query's constants)
    volatile: frozenset[int] = frozenset()


def compile_kb(kb: KnowledgeBase) -> Program:
    """Compile a checked knowledge base.

    Raises:
        KnowledgeBaseError: ``kb.check()`` found errors (they are attached).
    """
    errors = [d for d in kb.check() if d.is_error]
    if errors:
        raise KnowledgeBaseError(errors)

    def compile_rules(
        statements: tuple[Rule, ...],
    ) -> tuple[list[CRule], list[tuple[set[str], bool]], dict[Any, Any]]:
        # Each rule is compiled once (kept across changes to the other rules); the list,
        # with indexes, its components and a table for join plans are kept while the
        # rules stay the same (facts may come and go).
        out = []
        for i, r in enumerate(statements):
            compiled: CRule = kb.memoised("engine.rule", r, lambda rule: compile_rule(rule, 0))
            out.append(compiled if compiled.index == i else replace(compiled, index=i))
        return out, _components(out), {}

    rules, comps, plans = kb.memoised_rules("engine.rules", compile_rules)
    base, sources = _compiled_facts(kb)
    return Program(rules, base, sources, comps, plans)


def _fact_key(f: Fact) -> FactKey:
    atom = f.atom
    args = atom.args
    values = [a.name if type(a) is Const else term_value(a) for a in args]
    return (pred_key(atom.predicate, len(args)), tuple(values))


def _fact_weight(f: Fact) -> float | None:
    w = f.weight
    return (
        None if w is None else w.value if isinstance(w, FixedWeight)
        else w.initial if isinstance(w, LearnableWeight) else None
    )  # fmt: skip


def _compiled_facts(
    kb: KnowledgeBase,
) -> tuple[dict[FactKey, list[float | None]], dict[FactKey, list[Fact]]]:
    """The base facts by key, with their weights and statements, in statement order.

    Kept in the knowledge base and brought up to date from its log of fact changes, so a
    consultation that adds and removes a few facts pays for those, not for every fact.
    The dictionaries are shared by every program compiled from this knowledge base:
    readers must not change them.
    """
    view = kb.fact_views.get("engine")
    changes = None if view is None else kb.fact_changes(view[0])
    facts = kb.facts
    base: dict[FactKey, list[float | None]]
    sources: dict[FactKey, list[Fact]]
    if view is None or changes is None or 2 * len(changes) >= len(facts):
        # from scratch: the first time, or when the changes are not fewer than the facts
        # (a small knowledge base's consultation: rebuilding is the cheaper way)
        position = kb.fact_log_position
        kb.fact_changes(position)  # nothing before this is needed any more
        base, sources = {}, {}
        for f in facts:  # _fact_key and _fact_weight inlined: this loop is hot
            atom = f.atom
            args = atom.args
            values = [a.name if type(a) is Const else term_value(a) for a in args]
            key = (pred_key(atom.predicate, len(args)), tuple(values))
            w = f.weight
            weight = (
                None if w is None else w.value if isinstance(w, FixedWeight)
                else w.initial if isinstance(w, LearnableWeight) else None
            )  # fmt: skip
            found = sources.get(key)
            if found is None:
                base[key] = [weight]
                sources[key] = [f]
            else:
                base[key].append(weight)
                found.append(f)
        kb.fact_views["engine"] = (position, (base, sources))
        return base, sources
    _, (base, sources) = view
    position = kb.fact_log_position
    if changes:
        # Lists are replaced, never changed in place: a program compiled before this
        # call may still hold the old ones.
        base, sources = dict(base), dict(sources)
        for step, f in changes:
            key = _fact_key(f)
            found = sources.get(key)
            if step > 0:
                base[key] = [*base.get(key, ()), _fact_weight(f)]
                sources[key] = [*(found or ()), f]
            elif found is not None:
                i = next(j for j, g in enumerate(found) if g is f)
                if len(found) == 1:
                    del base[key], sources[key]
                else:
                    base[key] = base[key][:i] + base[key][i + 1 :]
                    sources[key] = found[:i] + found[i + 1 :]
    kb.fact_views["engine"] = (position, (base, sources))
    return base, sources


def _components(rules: list[CRule]) -> list[tuple[set[str], bool]]:
    from ._forward import components_of  # the evaluator imports this module

    return components_of(rules)
