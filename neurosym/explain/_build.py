"""Build proof trees from an evaluation's recorded provenance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from neurosym.engine import (
    CRule,
    Evaluation,
    FactKey,
    Instance,
    format_fact,
    format_value,
    original,
)
from neurosym.engine._compile import CLit
from neurosym.errors import EngineError
from neurosym.lang import Fact, FixedWeight, LearnableWeight

from ._proof import Proof

__all__ = ["ProofBuilder", "fact_text"]


def fact_text(key: FactKey) -> str:
    """``p(a, 1)`` for the key ``("p/2", ("a", 1))`` (adornments removed)."""
    name = original(key[0]).rsplit("/", 1)[0]
    return format_fact(name, key[1])


class ProofBuilder:
    """Chooses, for each fact, its strongest acyclic derivation, and memoises it."""

    def __init__(self, ev: Evaluation, sources: Mapping[FactKey, list[Fact]]) -> None:
        self.ev = ev
        self.sources = sources
        self.rules: dict[int, CRule] = {r.index: r for r in ev.rules}
        self.memo: dict[FactKey, Proof] = {}

    def _source_key(self, key: FactKey) -> FactKey:
        return (original(key[0]), key[1])

    def proof(
        self, key: FactKey, path: frozenset[FactKey] = frozenset(), *, shown: str | None = None
    ) -> Proof:
        """The proof of ``key`` (``shown``: its name in an error, if not its own text)."""
        if path:
            return self._proof(key, path)
        try:
            return self._proof(key, path)
        except RecursionError:  # a proof is built (and compared) recursively, level by level
            raise EngineError(
                f"the proof of {shown or fact_text(key)} is too deep to build (more rule steps "
                "than Python's recursion allows); explain a fact nearer the facts it rests on"
            ) from None

    def _proof(self, key: FactKey, path: frozenset[FactKey]) -> Proof:
        hit = self.memo.get(key)
        if hit is not None:
            return hit
        ev = self.ev
        value = ev.value(key)
        insts = list((ev.instances or {}).get(key, ()))
        base = self.sources.get(self._source_key(key))
        n_alt = len(insts) + (1 if base else 0)
        ranked = sorted(
            insts, key=lambda i: (_rank(ev.contribution(key, i)), repr(i)), reverse=True
        )
        base_rank = _rank(value) if base else None
        for inst in ranked:
            if any(pk in path or pk == key for pk in inst[1]):
                continue
            contribution = ev.contribution(key, inst)
            if base_rank is not None and base_rank >= _rank(contribution):
                break  # the given fact is at least as strong: show it
            result = self._rule_step(key, inst, value, contribution, path | {key}, n_alt)
            self.memo[key] = result
            return result
        if base:
            f = base[0]
            weight = None
            if isinstance(f.weight, FixedWeight):
                weight = f.weight.value
            elif isinstance(f.weight, LearnableWeight):
                weight = f.weight.initial
            result = Proof(fact_text(key), value, "fact",
                           source=f.span.start_str() if f.span else None, weight=weight,
                           alternatives=n_alt)  # fmt: skip
        else:
            result = Proof(fact_text(key), value, "absent")
        self.memo[key] = result
        return result

    def _rule_step(
        self,
        key: FactKey,
        inst: Instance,
        value: bool | float,
        contribution: bool | float,
        path: frozenset[FactKey],
        n_alt: int,
    ) -> Proof:
        rule = self.rules[inst[0]]
        premises = tuple(self.proof(pk, path) for pk in inst[1])
        negated = tuple((fact_text(nk), self.ev.value(nk)) for nk in inst[2])
        return Proof(
            fact_text(key),
            value,
            "rule",
            rule=rule.label,
            source=rule.span.start_str() if rule.span else None,
            weight=rule.weight,
            bindings=_bindings(rule, key, inst),
            premises=premises,
            negated=negated,
            contribution=contribution,
            alternatives=n_alt,
        )


def _rank(v: bool | float) -> float:
    return float(v)


def _bindings(rule: CRule, key: FactKey, inst: Instance) -> tuple[tuple[str, str], ...]:
    env: dict[int, Any] = {}
    atoms = [rule.head] + [
        item.atom
        for i, item in enumerate(rule.body)
        if isinstance(item, CLit) and not item.negated and i not in rule.guards
    ]
    grounds = [key[1], *(pk[1] for pk in inst[1])]
    for atom, ground in zip(atoms, grounds):
        for (is_var, v), g in zip(atom.args, ground):
            if is_var:
                env.setdefault(v, g)
    return tuple(
        (rule.var_names[slot], format_value(val))
        for slot, val in sorted(env.items())
        if not rule.var_names[slot].startswith("_")
    )
