"""A goal (``"anc(ann, X), X != bob"``) as a rule of the engine, and its answers as text."""

from __future__ import annotations

from dataclasses import dataclass

from neurosym.errors import ConfigurationError
from neurosym.kb._graph import body_predicates
from neurosym.kb._safety import body_safety
from neurosym.lang import BodyItem, Const, Literal_, Number, Var, format_expr, parse_body_text

from ._compile import CAtom, CRule, compile_body, pred_key
from ._magic import QUERY_PRED
from ._program import Program
from ._values import Value, format_value

__all__ = ["Goal", "goal_rule"]


@dataclass(frozen=True)
class Goal:
    """A compiled goal: ``rule`` derives ``query$/n`` facts, one per answer, whose
    arguments bind ``names`` in order; ``literal`` is the goal when it is one positive
    literal (answers then read as that literal, ground)."""

    text: str
    rule: CRule
    literal: Literal_ | None
    names: list[str]

    def answer_text(self, bindings: dict[str, Value]) -> str:
        """``anc(ann, cid)`` for a one-literal goal, else the goal with its bindings."""
        if self.literal is None:
            goal = self.text.strip().rstrip(".")
            shown = ", ".join(f"{k} = {format_value(v)}" for k, v in bindings.items())
            return f"{goal} with {shown}" if shown else goal
        args = [
            format_value(bindings[a.name])
            if isinstance(a, Var) and a.name in bindings
            else format_expr(a)
            for a in self.literal.atom.args
        ]
        name = self.literal.atom.predicate
        return f"{name}({', '.join(args)})" if args else name


def goal_rule(goal: str, program: Program) -> Goal:
    """Compile a goal against a program (its rule index follows the program's rules).

    Raises:
        RuleSyntaxError: the goal does not parse.
        ConfigurationError: the goal is unsafe (e.g. ``X > 3`` with nothing binding X).
    """
    items = parse_body_text(goal)
    plain = _plainly_safe(items)
    if not plain:
        _, findings = body_safety(items, what="goal")
        if findings:
            raise ConfigurationError(f"unsafe goal {goal!r}: {findings[0][1]}")
    body, slots = compile_body(items, "goal")
    names = [n for n in slots if not n.startswith("_")]
    head_args = tuple((True, slots[n]) for n in names)
    if plain:  # one positive literal: what body_predicates finds
        deps = frozenset({(body[0].atom.pred, "positive")})  # type: ignore[union-attr]
    else:
        deps = frozenset((pred_key(n, a), pol) for n, a, pol in body_predicates(items))
    index = _next_index(program)
    rule = CRule(index, CAtom(pred_key(QUERY_PRED, len(names)), head_args), body, None,
                 len(slots), tuple(slots), "goal", None, None, deps,
                 transparent=True)  # fmt: skip
    literal = items[0] if len(items) == 1 and isinstance(items[0], Literal_) else None
    if literal is not None and literal.negated:
        literal = None
    return Goal(goal, rule, literal, names)


def _plainly_safe(items: tuple[BodyItem, ...]) -> bool:
    """One positive literal over variables, names and numbers: safe (it binds each of its
    variables), with no need for the analysis."""
    if len(items) != 1:
        return False
    item = items[0]
    return (
        type(item) is Literal_
        and not item.negated
        and all(type(a) in (Var, Const, Number) for a in item.atom.args)
    )


def _next_index(program: Program) -> int:
    """The index after the program's rules' (kept with the plans, which live as long as
    the rules)."""
    cache = program.plans
    if cache is not None:
        hit = cache.get("next-index")
        if hit is not None:
            return int(hit)
    index = max((r.index for r in program.rules), default=-1) + 1
    if cache is not None:
        cache["next-index"] = index
    return index
