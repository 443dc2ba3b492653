"""Why not: for a goal that is not concluded, which premise fails in each rule that could
conclude it, under which bindings, and the nearest facts that almost matched."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from neurosym.engine import (
    CRule,
    Evaluation,
    Value,
    compile_kb,
    evaluate,
    format_value,
    pred_key,
    resolve_semantics,
    term_value,
)
from neurosym.engine._compile import CAssign, CLit, CTest, NoValue, compare
from neurosym.errors import ConfigurationError, EngineError
from neurosym.lang import Literal_, Var, format_body_item, parse_body_text

from ._api import Semantics
from ._build import ProofBuilder, fact_text
from ._proof import Proof

if TYPE_CHECKING:
    from neurosym.kb import KnowledgeBase

__all__ = ["Failure", "WhyNot", "why_not"]

_MAX_ENVS = 2_000


@dataclass(frozen=True)
class Failure:
    """The first premise of a rule that fails for the goal."""

    rule: str
    source: str | None
    premise: str
    reason: str
    bindings: tuple[dict[str, str], ...] = ()
    near_misses: tuple[str, ...] = ()


@dataclass(frozen=True)
class WhyNot:
    """The answer to "why not ``goal``?" (or, when it holds, its proof)."""

    goal: str
    holds: bool
    proofs: tuple[Proof, ...] = ()
    failures: tuple[Failure, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def render(self) -> str:
        if self.holds:
            return f"{self.goal} holds:\n" + "\n".join(p.render() for p in self.proofs)
        lines = [f"{self.goal} is not concluded."]
        lines.extend(self.notes)
        for f in self.failures:
            if f.rule == f.source:
                who = f"the rule at {f.source}"
            else:
                who = f"rule {f.rule}" + (f" ({f.source})" if f.source else "")
            lines.append(f"- {who}: premise {f.premise} fails: {f.reason}")
            for b in f.bindings[:3]:
                lines.append("    tried with " + ", ".join(f"{k} = {v}" for k, v in b.items()))
            if f.near_misses:
                lines.append("    nearest facts: " + ", ".join(f.near_misses))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "goal": self.goal,
            "holds": self.holds,
            "proofs": [p.to_json() for p in self.proofs],
            "failures": [f.__dict__ for f in self.failures],
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        return self.render()


def why_not(kb: KnowledgeBase, goal: str, *, semantics: Semantics = "boolean") -> WhyNot:
    """Explain why a goal (one literal, variables allowed) is not concluded.

    Example:
        >>> import neurosym as ns
        >>> kb = ns.parse("bird(tweety). penguin(tweety). flies(X) :- bird(X), not penguin(X).")
        >>> print(ns.why_not(kb, "flies(tweety)").render().splitlines()[1])
        - the rule at <string>:1:32: premise not penguin(X) fails: penguin(tweety) holds

    Raises:
        ConfigurationError: the goal is not one positive literal.
    """
    items = parse_body_text(goal)
    if len(items) != 1 or not isinstance(items[0], Literal_) or items[0].negated:
        raise ConfigurationError(
            f"why_not takes one positive literal such as 'flies(tweety)', got {goal!r}"
        )
    atom = items[0].atom
    pred = pred_key(atom.predicate, atom.arity)
    program = compile_kb(kb)
    ev = evaluate(program, resolve_semantics(semantics), record=True)
    builder = ProofBuilder(ev, program.sources)
    rel = ev.relation(pred)
    matches = []
    for t in rel.tuples if rel is not None else ():
        if _matches(atom.args, t) and ev.value((pred, t)):
            matches.append((pred, t))
    if matches:
        return WhyNot(goal, True, tuple(builder.proof(k) for k in sorted(matches, key=repr)))
    rules = [r for r in program.rules if r.head.pred == pred]
    notes: list[str] = []
    if not rules:
        known = sorted({p.rsplit("/", 1)[0] for p in ev.complete().relations} | {
            r.head.pred.rsplit("/", 1)[0] for r in program.rules})  # fmt: skip
        close = difflib.get_close_matches(atom.predicate, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        facts = len(rel) if rel is not None else 0
        notes.append(f"No rule concludes {pred}, and {facts} fact(s) of it are given{hint}")
    failures = tuple(f for r in rules if (f := _first_failure(r, atom.args, ev)) is not None)
    return WhyNot(goal, False, (), failures, tuple(notes))


def _matches(args: tuple[Any, ...], t: tuple[Value, ...]) -> bool:
    env: dict[str, Value] = {}
    for a, g in zip(args, t):
        if isinstance(a, Var):
            if a.name == "_":
                continue
            if env.setdefault(a.name, g) != g:
                return False
        elif term_value(a) != g:
            return False
    return True


def _first_failure(rule: CRule, goal_args: tuple[Any, ...], ev: Evaluation) -> Failure | None:
    env0: list[Any] = [None] * rule.nvars
    for (is_var, v), a in zip(rule.head.args, goal_args):
        if isinstance(a, Var):
            continue
        g = term_value(a)
        if is_var:
            if env0[v] is not None and env0[v] != g:
                return Failure(rule.label, _src(rule), "(head)", "the head does not match the goal")
            env0[v] = g
        elif v != g:
            return Failure(
                rule.label,
                _src(rule),
                "(head)",
                f"the head has {format_value(v)} where the goal has {format_value(g)}",
            )
    envs = [env0]
    store = ev.store
    for item in rule.body:
        text = format_body_item(item.source) if item.source is not None else "?"
        nxt: list[list[Any]] = []
        if isinstance(item, CLit) and not item.negated:
            rel = store.relations.get(item.atom.pred)
            for env in envs:
                for t in rel.tuples if rel is not None else ():
                    e = _extend(env, item.atom.args, t)
                    if e is not None and ev.value((item.atom.pred, t)):
                        nxt.append(e)
                        if len(nxt) >= _MAX_ENVS:
                            break
            if not nxt:
                return Failure(rule.label, _src(rule), text, "no fact matches",
                               _shown(rule, envs), _near(item, envs, ev))  # fmt: skip
        elif isinstance(item, CLit):
            blocked = []
            for env in envs:
                t = tuple(env[v] if is_var else v for is_var, v in item.atom.args)
                if None in t:
                    nxt.append(env)
                    continue
                held = ev.value((item.atom.pred, t))
                if held and not isinstance(held, bool):
                    nxt.append(env)  # holds only partly: not p keeps a degree
                elif held:
                    blocked.append(fact_text((item.atom.pred, t)))
                else:
                    nxt.append(env)
            if not nxt:
                reason = ", ".join(sorted(set(blocked))) + " holds"
                return Failure(rule.label, _src(rule), text, reason, _shown(rule, envs))
        else:
            reasons = []
            for env in envs:
                try:
                    if isinstance(item, CAssign):
                        value = item.fn(env, store)
                        if env[item.slot] is None:
                            e = list(env)
                            e[item.slot] = value
                            nxt.append(e)
                        elif env[item.slot] == value:
                            nxt.append(env)
                    elif isinstance(item, CTest):
                        left, right = item.left(env, store), item.right(env, store)
                        if item.binds and env[next(iter(item.binds))] is None:
                            e = list(env)
                            e[next(iter(item.binds))] = right
                            nxt.append(e)
                        elif compare(item.op, left, right, item.where):
                            nxt.append(env)
                        else:
                            reasons.append(
                                f"{format_value(left)} {item.op} {format_value(right)} is false"
                            )
                except (NoValue, EngineError, TypeError) as exc:
                    reasons.append(str(exc) or "no value")
            if not nxt:
                reason = "; ".join(sorted(set(reasons))[:3]) or "fails"
                return Failure(rule.label, _src(rule), text, reason, _shown(rule, envs))
        envs = nxt
    return None


def _src(rule: CRule) -> str | None:
    return rule.span.start_str() if rule.span else None


def _extend(
    env: list[Any], args: tuple[tuple[bool, Any], ...], t: tuple[Value, ...]
) -> list[Any] | None:
    e = list(env)
    for (is_var, v), g in zip(args, t):
        if is_var:
            if e[v] is None:
                e[v] = g
            elif e[v] != g:
                return None
        elif v != g:
            return None
    return e


def _shown(rule: CRule, envs: list[list[Any]]) -> tuple[dict[str, str], ...]:
    out = []
    for env in envs[:3]:
        b = {rule.var_names[i]: format_value(v) for i, v in enumerate(env)
             if v is not None and not rule.var_names[i].startswith("_")}  # fmt: skip
        if b:
            out.append(b)
    return tuple(out)


def _near(item: CLit, envs: list[list[Any]], ev: Evaluation) -> tuple[str, ...]:
    """Facts of the predicate that differ from the wanted pattern in one position."""
    rel = ev.store.relations.get(item.atom.pred)
    if rel is None:
        return ()
    out: list[str] = []
    for env in envs[:3]:
        want = [env[v] if is_var else v for is_var, v in item.atom.args]
        for t in sorted(rel.tuples, key=repr):
            misses = sum(1 for w, g in zip(want, t) if w is not None and w != g)
            if misses == 1:
                text = fact_text((item.atom.pred, t))
                if text not in out:
                    out.append(text)
            if len(out) >= 3:
                return tuple(out)
    return tuple(out)
