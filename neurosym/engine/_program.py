"""A knowledge base compiled for the engine: rules, base facts with weights, sources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from neurosym.errors import KnowledgeBaseError
from neurosym.lang import Fact, Rule

from ._base import BaseFacts, FactKey
from ._compile import CRule, compile_rule

if TYPE_CHECKING:
    from neurosym.kb import KnowledgeBase

__all__ = ["FactKey", "Program", "compile_kb"]


@dataclass
class Program:
    """Compiled rules, and base facts with their weights and source statements."""

    rules: list[CRule]
    #: the base facts by predicate (shared with other programs: never changed)
    facts: BaseFacts
    #: predicate components in evaluation order, when already known for these rules
    components: list[tuple[set[str], bool]] | None = None
    #: join plans by (rule index, delta literal), kept while the rules stay the same
    plans: dict[Any, Any] | None = None
    #: indexes of rules whose join plans are not kept (made from one query's constants)
    volatile: frozenset[int] = frozenset()

    @property
    def base(self) -> Mapping[FactKey, list[Any]]:
        """Every base fact's weights, by key (a read-only view of :attr:`facts`)."""
        return self.facts.weights()

    @property
    def sources(self) -> Mapping[FactKey, list[Fact]]:
        """Every base fact's statements, by key (a read-only view of :attr:`facts`)."""
        return self.facts.sources()


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
    return Program(rules, _compiled_facts(kb), comps, plans)


_FEW = 256
"""Below this many facts, facts rebuilt from scratch make a light snapshot (see
:class:`.BaseFacts`): its tables are made only if asked for; unless the snapshot before
had its tables read."""


def _compiled_facts(kb: KnowledgeBase) -> BaseFacts:
    """The base facts by predicate, with their weights and statements, in statement order.

    Kept in the knowledge base and brought up to date from its log of fact changes, so a
    consultation that adds and removes a few facts pays for those (and a copy of the
    tables of the predicates they change), not for every fact. Each update makes a new
    snapshot: a program compiled before keeps the facts of its moment.
    """
    view = kb.fact_views.get("engine")
    changes = None if view is None else kb.fact_changes(view[0])
    if view is None or changes is None or 2 * len(changes) >= kb.fact_count:
        # from scratch: the first time, or when the changes are not fewer than the facts
        # (a small knowledge base's consultation: rebuilding is the cheaper way)
        position = kb.fact_log_position
        kb.fact_changes(position)  # nothing before this is needed any more
        statements = kb.facts
        # light unless the last snapshot's tables were read (a valued consultation's are)
        light = len(statements) < _FEW and (view is None or not view[1].asked)
        fresh = BaseFacts.of_few(statements) if light else BaseFacts.of_statements(statements)
        kb.fact_views["engine"] = (position, fresh)
        return fresh
    facts: BaseFacts = view[1]
    if changes:
        facts = facts.changed(changes)
    kb.fact_views["engine"] = (kb.fact_log_position, facts)
    return facts


def _components(rules: list[CRule]) -> list[tuple[set[str], bool]]:
    from ._forward import components_of  # the evaluator imports this module

    return components_of(rules)
