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
    base: dict[FactKey, list[float | None]] = {}
    sources: dict[FactKey, list[Fact]] = {}
    for f in kb.facts:
        atom = f.atom
        args = atom.args
        values = [a.name if type(a) is Const else term_value(a) for a in args]
        key = (pred_key(atom.predicate, len(args)), tuple(values))
        w = f.weight
        weight = (
            None if w is None else w.value if isinstance(w, FixedWeight)
            else w.initial if isinstance(w, LearnableWeight) else None
        )  # fmt: skip
        found = base.get(key)
        if found is None:
            base[key] = [weight]
            sources[key] = [f]
        else:
            found.append(weight)
            sources[key].append(f)
    return Program(rules, base, sources, comps, plans)


def _components(rules: list[CRule]) -> list[tuple[set[str], bool]]:
    from ._forward import components_of  # the evaluator imports this module

    return components_of(rules)
