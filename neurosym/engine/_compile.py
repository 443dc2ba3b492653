"""Rules compiled for evaluation: variables become slots, arithmetic becomes closures.

A compiled body item is one of :class:`CLit` (a positive or negated atom), :class:`CTest`
(a comparison), :class:`CAssign` (``X is expr``, and ``X == expr`` that binds). Aggregates
compile to expression closures that run a sub-join against the store.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from neurosym.errors import EngineError, EvaluationError, Span
from neurosym.lang import (
    Aggregate,
    Assign,
    Atom,
    BinOp,
    BodyItem,
    Call,
    Comparison,
    Const,
    Der,
    Expr,
    FixedWeight,
    LearnableWeight,
    ListTerm,
    Literal_,
    Neg,
    NnRef,
    Number,
    Rule,
    String,
    Var,
    format_statement,
)

from ._values import Str, Value, format_value

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["CAssign", "CAtom", "CLit", "CRule", "CTest", "NoValue", "compile_rule", "pred_key"]

# An argument pattern: (True, slot) for a variable, (False, value) for a constant.
Arg = tuple[bool, Any]
Env = list[Any]
Fn = Callable[[Env, "Store"], Value]


class NoValue(Exception):
    """An aggregate without solutions (min/max/mean): the binding fails."""


_PRED_KEYS: dict[tuple[str, int], str] = {}


def pred_key(name: str, arity: int) -> str:
    """``name/arity``, one string object per predicate: relations, indexes and sets keyed
    by it then compare by identity instead of by characters (a fresh string per fact made
    a consultation's evaluation half as slow again)."""
    key = _PRED_KEYS.get((name, arity))
    if key is None:
        if len(_PRED_KEYS) > 100_000:
            _PRED_KEYS.clear()
        key = _PRED_KEYS[(name, arity)] = f"{name}/{arity}"
    return key


@dataclass(frozen=True, slots=True)
class CAtom:
    pred: str
    args: tuple[Arg, ...]

    @property
    def vars(self) -> frozenset[int]:
        return frozenset(v for is_var, v in self.args if is_var)


class _Any:
    """Stands for an anonymous variable in a negated pattern: ``not parent(P, _)``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "_"

    __str__ = __repr__


ANY = _Any()


@dataclass(frozen=True, slots=True)
class CLit:
    atom: CAtom
    negated: bool
    source: Literal_ | None = field(default=None, compare=False)
    #: slots of anonymous variables (under ``not`` they mean "there is none")
    anonymous: frozenset[int] = frozenset()
    #: argument positions that are not anonymous (what a negated literal looks up)
    bound: tuple[int, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        bound = tuple(
            i
            for i, (is_var, v) in enumerate(self.atom.args)
            if not (is_var and v in self.anonymous)
        )
        object.__setattr__(self, "bound", bound)

    @property
    def needs(self) -> frozenset[int]:
        return self.atom.vars - self.anonymous if self.negated else frozenset()

    @property
    def binds(self) -> frozenset[int]:
        return frozenset() if self.negated else self.atom.vars


@dataclass(frozen=True, slots=True)
class CTest:
    """A comparison; ``X == expr`` with ``binds={X}`` binds X when it is still free."""

    op: str
    left: Fn
    right: Fn
    needs: frozenset[int]
    where: str
    source: Comparison | None = field(default=None, compare=False)
    binds: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class CAssign:
    slot: int
    fn: Fn
    needs: frozenset[int]
    source: BodyItem | None = field(default=None, compare=False)

    @property
    def binds(self) -> frozenset[int]:
        return frozenset({self.slot})


CItem = CLit | CTest | CAssign


@dataclass(frozen=True, slots=True)
class CRule:
    """One compiled rule. ``index`` identifies it in provenance."""

    index: int
    head: CAtom
    body: tuple[CItem, ...]
    weight: float | None
    nvars: int
    var_names: tuple[str, ...]
    label: str
    span: Span | None
    source: Rule | None = field(default=None, compare=False)
    #: (body predicate, polarity) pairs, aggregates included ("aggregate")
    deps: frozenset[tuple[str, str]] = frozenset()
    #: body positions of guard literals (magic sets): they contribute "one" to values
    guards: frozenset[int] = frozenset()
    #: the value of an instance is its premise, unattenuated (a query's goal)
    transparent: bool = False

    @property
    def positive(self) -> tuple[CLit, ...]:
        return tuple(i for i in self.body if isinstance(i, CLit) and not i.negated)


_FUNCS: dict[str, Callable[..., float]] = {
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos,
    "atan": math.atan, "sinh": math.sinh, "cosh": math.cosh, "tanh": math.tanh,
    "exp": math.exp, "log": math.log, "sqrt": math.sqrt, "abs": abs,
    "sign": lambda x: (x > 0) - (x < 0),
    # Called with the arguments spread: min(3) is 3, as in sympy (the built-ins would
    # iterate over a lone argument).
    "min": lambda *a: min(a), "max": lambda *a: max(a),
}  # fmt: skip
_MAX_INT_BITS = 14_000
"""Integer results stay below this many bits (about 4,200 digits, under the 4,300 digits
Python prints), so that ``2^100000000`` is an error, not a hang or an unprintable answer."""
_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
          "^": operator.pow}  # fmt: skip
_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}  # fmt: skip


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def compare(op: str, a: Value, b: Value, where: str) -> bool:
    """Compare two ground values: numbers numerically, constants and strings by text."""
    if op in {"==", "!="}:
        return _CMP[op](a, b)
    if (_is_number(a) and _is_number(b)) or (type(a) is type(b) and isinstance(a, str | Str)):
        return _CMP[op](a, b)
    raise EvaluationError(
        f"cannot compare {_show(a)} {op} {_show(b)} ({_kind(a)} with {_kind(b)}) in {where}"
    )


def _show(v: Value) -> str:
    """A value in an error message, spelled as in the rule language."""
    return repr(v) if isinstance(v, str) else format_value(v)


def _kind(v: Value) -> str:
    if isinstance(v, Str):
        return "string"
    if isinstance(v, str):
        return "constant"
    if isinstance(v, tuple):
        return "list"
    return type(v).__name__


def _power_too_large(a: Value, b: Value) -> bool:
    """Whether the integer power ``a ^ b`` would pass :data:`_MAX_INT_BITS`, decided before
    computing it (``2 ^ 1000000000000`` would take forever)."""
    if not (isinstance(a, int) and isinstance(b, int)) or b <= 0 or abs(a) <= 1:
        return False
    return (abs(a).bit_length() - 1) * b > _MAX_INT_BITS


def _too_large(sym: str, label: str) -> EvaluationError:
    return EvaluationError(
        f"an integer {sym} in {label} gives more than {_MAX_INT_BITS} bits; compute with "
        "floats (2.0 ^ 100 instead of 2 ^ 100)"
    )


class _Compiler:
    def __init__(self, label: str) -> None:
        self.slots: dict[str, int] = {}
        self.label = label

    def slot(self, name: str) -> int:
        if name == "_":  # every anonymous variable is a fresh one
            name = f"_#{len(self.slots)}"
        if name not in self.slots:
            self.slots[name] = len(self.slots)
        return self.slots[name]

    def arg(self, t: Expr) -> Arg:
        if isinstance(t, Var):
            return (True, self.slot(t.name))
        if isinstance(t, Const):
            return (False, t.name)
        if isinstance(t, Number):
            return (False, t.value)
        if isinstance(t, String):
            return (False, Str(t.value))
        if isinstance(t, ListTerm):
            if any(isinstance(v, Var) for v in _list_vars(t)):
                raise EngineError(f"lists with variables are not supported yet ({self.label})")
            return (False, _list_value(t))
        raise EngineError(f"neurosym bug: not a term {t!r} in {self.label}")

    def atom(self, a: Atom) -> CAtom:
        return CAtom(pred_key(a.predicate, a.arity), tuple(self.arg(x) for x in a.args))

    def expr(self, e: Expr) -> tuple[Fn, frozenset[int]]:
        label = self.label
        if isinstance(e, Number | Const | String | ListTerm):
            _, value = self.arg(e)
            return (lambda env, store, v=value: v), frozenset()
        if isinstance(e, Var):
            s = self.slot(e.name)
            return (lambda env, store, s=s: env[s]), frozenset({s})
        if isinstance(e, Neg):
            inner, needs = self.expr(e.operand)

            def neg(env: Env, store: Store) -> Value:
                v = inner(env, store)
                if not _is_number(v):
                    raise EvaluationError(f"cannot negate {_show(v)} in {label}")
                return -v  # type: ignore[operator]

            return neg, needs
        if isinstance(e, BinOp):
            lf, ln = self.expr(e.left)
            rf, rn = self.expr(e.right)
            op, sym = _ARITH[e.op], e.op

            def binop(env: Env, store: Store) -> Value:
                a, b = lf(env, store), rf(env, store)
                if not (_is_number(a) and _is_number(b)):
                    raise EvaluationError(f"cannot compute {_show(a)} {sym} {_show(b)} in {label}")
                if sym == "^" and _power_too_large(a, b):
                    raise _too_large(sym, label)
                try:
                    result = op(a, b)
                except (ZeroDivisionError, OverflowError) as exc:
                    raise EvaluationError(f"{a!r} {sym} {b!r} in {label}: {exc}") from exc
                if isinstance(result, int) and result.bit_length() > _MAX_INT_BITS:
                    raise _too_large(sym, label)
                if isinstance(result, complex):
                    raise EvaluationError(f"{a!r} {sym} {b!r} is not real, in {label}")
                return result  # type: ignore[no-any-return]

            return binop, ln | rn
        if isinstance(e, Call):
            parts = [self.expr(a) for a in e.args]
            fn, name = _FUNCS[e.func], e.func
            needs = frozenset().union(*(n for _, n in parts))

            def call(env: Env, store: Store) -> Value:
                args = [f(env, store) for f, _ in parts]
                if not all(_is_number(a) for a in args):
                    shown = ", ".join(_show(a) for a in args)
                    raise EvaluationError(f"{name}({shown}) needs numbers, in {label}")
                try:
                    return fn(*args)
                except (ValueError, OverflowError) as exc:
                    shown = ", ".join(_show(a) for a in args)
                    raise EvaluationError(f"{name}({shown}) in {label}: {exc}") from exc

            return call, needs
        if isinstance(e, Aggregate):
            return self.aggregate(e)
        if isinstance(e, Der | NnRef):
            raise EngineError(f"der(...) and nn(...) belong to dynamics, not to {label}")
        raise EngineError(f"neurosym bug: unknown expression {e!r}")

    def aggregate(self, agg: Aggregate) -> tuple[Fn, frozenset[int]]:
        from ._join import solve_body  # the join imports this module

        outer = set(self.slots)
        body = tuple(self.item(i) for i in agg.body)
        template = [self.expr(t) for t in agg.template]
        inner_vars = {self.slots[n] for n in self.slots if n not in outer}
        needs = frozenset(
            s for item in body for s in (item.needs | item.binds) if s not in inner_vars
        ) | frozenset(s for _, n in template for s in n if s not in inner_vars)
        op, label = agg.op, self.label

        def run(env: Env, store: Store) -> Value:
            seen: set[tuple[Value, ...]] = set()

            def emit(e: Env) -> None:
                seen.add(tuple(f(e, store) for f, _ in template))

            solve_body(body, list(env), store, emit)
            if op == "count":
                return len(seen)
            values = [t[0] for t in seen]
            if not all(_is_number(v) for v in values):
                shown = ", ".join(_show(v) for v in values[:3])
                more = ", ..." if len(values) > 3 else ""
                raise EvaluationError(f"{op} over non-numbers [{shown}{more}] in {label}")
            if op == "sum":
                return sum(values)  # type: ignore[arg-type]
            if not values:
                raise NoValue
            if op == "min":
                return min(values)
            if op == "max":
                return max(values)
            return sum(values) / len(values)  # type: ignore[arg-type]

        return run, needs

    def item(self, b: BodyItem) -> CItem:
        swap = isinstance(b, Comparison) and b.op == "==" and not isinstance(b.left, Var)
        if swap and isinstance(b, Comparison) and isinstance(b.right, Var):
            b = Comparison("==", b.right, b.left, span=b.span)  # expr == X binds X too
        if isinstance(b, Literal_):
            before = set(self.slots.values())
            atom = self.atom(b.atom)
            anonymous = frozenset(
                v for is_var, v in atom.args
                if is_var and v not in before and _is_anonymous(self.slots, v)
            )  # fmt: skip
            return CLit(atom, b.negated, b, anonymous if b.negated else frozenset())
        if isinstance(b, Assign):
            fn, needs = self.expr(b.expr)
            return CAssign(self.slot(b.var.name), fn, needs, b)
        left, ln = self.expr(b.left)
        right, rn = self.expr(b.right)
        if b.op == "==" and isinstance(b.left, Var) and b.left.name != "_":
            s = self.slot(b.left.name)
            # May bind X when the right side is bound and X is not (see the safety rules).
            return CTest("==", left, right, rn, self.label, b, frozenset({s}))
        return CTest(b.op, left, right, ln | rn, self.label, b)


def _is_anonymous(slots: dict[str, int], slot: int) -> bool:
    return any(v == slot and n.startswith("_#") for n, v in slots.items())


def _list_vars(t: ListTerm) -> list[Var]:
    out: list[Var] = []
    for i in t.items:
        if isinstance(i, Var):
            out.append(i)
        elif isinstance(i, ListTerm):
            out.extend(_list_vars(i))
    return out


def _list_value(t: ListTerm) -> tuple[Value, ...]:
    out: list[Value] = []
    for i in t.items:
        if isinstance(i, ListTerm):
            out.append(_list_value(i))
        elif isinstance(i, Const):
            out.append(i.name)
        elif isinstance(i, Number):
            out.append(i.value)
        elif isinstance(i, String):
            out.append(Str(i.value))
    return tuple(out)


def rule_label(rule: Rule) -> str:
    if rule.name:
        return rule.name
    return rule.span.start_str() if rule.span else format_statement(rule)


def compile_rule(rule: Rule, index: int) -> CRule:
    """Compile one rule (checked safe by ``kb.check``) for the join."""
    label = rule_label(rule)
    c = _Compiler(f"rule {label}")
    head = c.atom(rule.head)
    body = tuple(c.item(b) for b in rule.body)
    weight: float | None = None
    if isinstance(rule.weight, FixedWeight):
        weight = rule.weight.value
    elif isinstance(rule.weight, LearnableWeight):
        weight = rule.weight.initial
    names = tuple(sorted(c.slots, key=c.slots.__getitem__))
    from neurosym.kb._graph import body_predicates

    deps = frozenset((pred_key(n, a), pol) for n, a, pol in body_predicates(rule.body))
    return CRule(index, head, body, weight, len(c.slots), names, label, rule.span, rule, deps)


def compile_body(body: Sequence[BodyItem], label: str) -> tuple[tuple[CItem, ...], dict[str, int]]:
    """Compile a goal's body; returns the items and the variable slots."""
    if len(body) == 1:
        plain = _plain_literal(body[0])
        if plain is not None:
            return plain
    c = _Compiler(label)
    items = tuple(c.item(b) for b in body)
    return items, c.slots


def _plain_literal(item: BodyItem) -> tuple[tuple[CItem, ...], dict[str, int]] | None:
    """What :class:`_Compiler` makes of a positive literal over variables, names and
    numbers (most goals), made directly; ``None`` for anything else."""
    if type(item) is not Literal_ or item.negated:
        return None
    slots: dict[str, int] = {}
    args: list[Arg] = []
    for a in item.atom.args:
        kind = type(a)
        if kind is Var:
            name = a.name  # type: ignore[union-attr]
            if name == "_":  # every anonymous variable is a fresh one
                name = f"_#{len(slots)}"
            slot = slots.get(name)
            if slot is None:
                slot = slots[name] = len(slots)
            args.append((True, slot))
        elif kind is Const:
            args.append((False, a.name))  # type: ignore[union-attr]
        elif kind is Number:
            args.append((False, a.value))  # type: ignore[union-attr]
        else:
            return None
    atom = CAtom(pred_key(item.atom.predicate, len(args)), tuple(args))
    return (CLit(atom, False, item, frozenset()),), slots
