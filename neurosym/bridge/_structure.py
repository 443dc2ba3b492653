"""Recognising arithmetic over neural predicates, so a goal's distribution is computed by
tensor operations instead of grounding every combination of outcomes.

A goal is recognised when its predicate is defined by exactly one rule of this shape::

    addition(A0, .., B0, .., Z) :- digit(A0, X0), ..., digit(B0, Y0), ..., Z is <expr>.

- the rule has no weight, its head arguments are distinct variables, and nothing else
  (no other rule, no fact) defines the goal's predicate;
- every other body item is a positive atom of a neural predicate with one input, whose
  input argument is a head variable and whose output argument is a fresh variable (a
  digit); the neural predicate has no other definition, and its domain is integers;
- the goal binds every image variable to a distinct input name (distinct inputs: the
  digits are independent categorical variables) and leaves the ``Z`` position a variable
  or binds it to an integer;
- ``expr`` is an integer linear combination of the digits (``+``, ``-``, ``*`` by an
  integer, ``^`` of integers, integer constants).

Then ``Z`` is a sum of independent scaled categorical variables, and

- when its range has at most ``max_support`` values, its distribution is a sequence of
  convolutions (plan ``"convolution"``: every answer, exactly as the circuit lists them);
- otherwise, when the coefficients are powers of one base ``b`` and every digit lies in
  ``[0, b-1]`` (positional addition of numbers), ``P(Z = z)`` for a given ``z`` is a
  dynamic program over carries from the least significant position (plan ``"carry"``);
- otherwise the goal is grounded as before (plan ``"circuit"``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, final

from neurosym.lang import (
    Assign,
    BinOp,
    Const,
    Literal_,
    Neg,
    NeuralDecl,
    Number,
    Rule,
    Var,
    parse_body_text,
)

__all__ = ["Plan", "SumPlan", "SumTerm", "recognise"]

MAX_SUPPORT = 16_384  # the largest range of Z whose whole distribution is computed
_INT64_LIMIT = 2**62  # Z and the place values must stay well inside int64


@final
@dataclass(frozen=True, slots=True)
class Plan:
    """How a compiled program computes a goal (see ``Program.plan``).

    ``kind`` is ``"convolution"`` or ``"carry"`` for a recognised sum of neural digits,
    ``"circuit"`` for the general grounded BDD, ``"top-k"`` once a query found the BDD
    too large and kept each answer's k most probable proofs; ``detail`` says what was
    recognised, or why the goal was not.
    """

    kind: Literal["circuit", "convolution", "carry", "top-k"]
    detail: str


@final
@dataclass(frozen=True, slots=True)
class SumTerm:
    """``coef * D`` where ``D`` is the outcome of network ``net`` on input ``key``;
    ``values[j]`` is the integer value of the network's output column ``j``."""

    net: str
    key: str
    coef: int
    values: tuple[int, ...]
    decl: int  # index of the neural declaration among the knowledge base's

    @property
    def low(self) -> int:
        return min(self.coef * v for v in self.values)

    @property
    def high(self) -> int:
        return max(self.coef * v for v in self.values)


@final
@dataclass(frozen=True)
class SumPlan:
    """A recognised goal: ``Z = offset + sum(t.coef * D_t)`` over independent digits."""

    kind: Literal["convolution", "carry"]
    rule: str
    terms: tuple[SumTerm, ...]
    offset: int
    var: str | None  # the goal's variable at the Z position (None: the goal binds Z)
    bound: int | None  # the goal's integer at the Z position
    low: int
    high: int
    base: int  # positional base (carry plan), 0 otherwise
    positions: int  # number of base-b positions spanned by the coefficients (carry plan)
    support: tuple[int, ...] = ()  # reachable values of Z (convolution plan)

    @property
    def combinations(self) -> int:
        return math.prod(len(t.values) for t in self.terms)

    def describe(self) -> str:
        counts = sorted({len(t.values) for t in self.terms})
        sizes = "-".join(str(c) for c in counts)
        what = (
            f"Z = sum of {len(self.terms)} independent neural outcomes ({sizes} values each, "
            f"{self.combinations:,} combinations) by rule {self.rule}, Z in "
            f"[{self.low}, {self.high}]"
        )
        if self.kind == "convolution":
            return f"{what}: {len(self.terms) - 1} convolution(s), {len(self.support):,} answers"
        return (
            f"{what}: digit-by-digit in base {self.base}, a dynamic program over carries "
            f"across {self.positions} positions (P(Z = z) for given z, in log space)"
        )


def _linear(expr: Any, digits: set[str]) -> tuple[dict[str, int], int] | None:
    """``expr`` as integer coefficients per digit variable and a constant, or None."""
    if isinstance(expr, Number):
        v = expr.value
        return ({}, v) if isinstance(v, int) and not isinstance(v, bool) else None
    if isinstance(expr, Var):
        return ({expr.name: 1}, 0) if expr.name in digits else None
    if isinstance(expr, Neg):
        inner = _linear(expr.operand, digits)
        return None if inner is None else ({k: -c for k, c in inner[0].items()}, -inner[1])
    if not isinstance(expr, BinOp):
        return None
    left, right = _linear(expr.left, digits), _linear(expr.right, digits)
    if left is None or right is None:
        return None
    (lc, lk), (rc, rk) = left, right
    if expr.op in ("+", "-"):
        sign = 1 if expr.op == "+" else -1
        out = dict(lc)
        for k, c in rc.items():
            out[k] = out.get(k, 0) + sign * c
        return out, lk + sign * rk
    if expr.op == "*":
        if lc and rc:
            return None  # a product of two digits is not linear
        if not lc:
            return {k: lk * c for k, c in rc.items()}, lk * rk
        return {k: rk * c for k, c in lc.items()}, lk * rk
    if expr.op == "^" and not lc and not rc and 0 <= rk <= 64:
        return {}, lk**rk
    return None  # "/" and everything else: the engine's arithmetic may not stay integral


def _base_of(terms: list[SumTerm]) -> int | None:
    """The smallest base b with every coefficient a power of b and every value in [0, b-1]."""
    coefs = sorted({t.coef for t in terms})
    if any(c <= 0 for c in coefs) or len(coefs) < 2:
        return None
    if any(v < 0 for t in terms for v in t.values):
        return None
    top = max(v for t in terms for v in t.values)
    ratio = coefs[1] // coefs[0]
    candidates: set[int] = set()
    for k in range(1, ratio.bit_length() + 1):
        b = round(ratio ** (1 / k))
        for guess in (b - 1, b, b + 1):
            if guess >= 2 and guess**k == ratio:
                candidates.add(guess)
    for b in sorted(candidates):
        if b <= top:
            continue
        if all(_log_exact(c, b) is not None for c in coefs):
            return b
    return None


def _log_exact(c: int, b: int) -> int | None:
    k = 0
    while c % b == 0:
        c //= b
        k += 1
    return k if c == 1 else None


def recognise(
    goal: str,
    inputs: Iterable[str],
    rules: Iterable[Rule],
    decls: Iterable[NeuralDecl],
    defined: Mapping[str, int],
    *,
    max_support: int = MAX_SUPPORT,
) -> SumPlan | str:
    """The arithmetic plan of ``goal``, or why it is not recognised (a sentence).

    Args:
        goal: the goal text.
        inputs: the names of the input tensors.
        rules: the knowledge base's rules.
        decls: its neural declarations.
        defined: for each ``"pred/arity"``, how many facts define it.
        max_support: the largest range of Z computed by convolutions.
    """
    try:
        items = parse_body_text(goal)
    except Exception:  # the general path reports syntax errors with positions
        return "the goal does not parse here (the general path reports why)"
    if len(items) != 1 or not isinstance(items[0], Literal_) or items[0].negated:
        return "the goal is not one positive atom"
    atom = items[0].atom
    key = f"{atom.predicate}/{atom.arity}"
    rules = list(rules)  # iterated again for each neural atom
    mine = [r for r in rules if r.head.predicate == atom.predicate and r.head.arity == atom.arity]
    if len(mine) != 1 or defined.get(key, 0):
        facts = defined.get(key, 0)
        return f"{key} is defined by {len(mine)} rule(s) and {facts} fact(s), not by one rule"
    rule = mine[0]
    label = rule.name or (rule.span.start_str() if rule.span else key)
    if rule.weight is not None:
        return f"rule {label} is weighted"
    head = rule.head.args
    if not all(isinstance(a, Var) for a in head) or len({a.name for a in head}) != len(head):  # type: ignore[union-attr]
        return f"the head of rule {label} is not distinct variables"
    head_names = [a.name for a in head]  # type: ignore[union-attr]
    decl_list = list(decls)
    by_pred = {(d.head.predicate, d.head.arity): d for d in decl_list}
    assigns = [b for b in rule.body if isinstance(b, Assign)]
    atoms = [b for b in rule.body if isinstance(b, Literal_)]
    if len(assigns) != 1 or len(assigns) + len(atoms) != len(rule.body):
        return f"the body of rule {label} is not neural atoms and one 'Z is expr'"
    assign = assigns[0]
    if assign.var.name not in head_names:
        return f"in rule {label} the variable of 'is' is not a head argument"
    z_pos = head_names.index(assign.var.name)
    image_of: dict[str, str] = {}  # digit variable -> image (head) variable
    decl_of: dict[str, NeuralDecl] = {}
    for lit in atoms:
        found = _match(lit, by_pred, defined, rules, head_names, assign.var.name)
        if isinstance(found, str):
            return f"rule {label}: {found}"
        digit, image, decl = found
        if digit in image_of or image in image_of.values():
            return f"rule {label}: a digit or image variable occurs in two neural atoms"
        image_of[digit] = image
        decl_of[digit] = decl
    if not image_of:
        return f"rule {label} has no neural atoms"
    if set(head_names) != set(image_of.values()) | {assign.var.name}:
        return f"rule {label} has head arguments that are neither images nor Z"
    linear = _linear(assign.expr, set(image_of))
    if linear is None:
        return f"rule {label}: Z is not an integer linear combination of the digits"
    coefs, offset = linear
    names = set(inputs)
    goal_args = atom.args
    keys: dict[str, str] = {}  # image variable -> input name
    for pos, arg in enumerate(goal_args):
        if pos == z_pos:
            continue
        if not isinstance(arg, Const) or arg.name not in names:
            return f"the goal's argument {pos + 1} is not an input name"
        keys[head_names[pos]] = arg.name
    if len(set(keys.values())) != len(keys):
        return "the goal passes the same input twice (its digits are not independent)"
    z_arg = goal_args[z_pos]
    var: str | None = None
    bound: int | None = None
    if isinstance(z_arg, Var) and not z_arg.name.startswith("_"):
        var = z_arg.name
    elif (
        isinstance(z_arg, Number)
        and isinstance(z_arg.value, int)
        and not isinstance(z_arg.value, bool)
    ):
        bound = z_arg.value
    else:
        return "the goal's Z position is neither a named variable nor an integer"
    terms = []
    for digit, image in image_of.items():
        d = decl_of[digit]
        values = tuple(int(v.value) for v in d.domain if isinstance(v, Number))  # see _match
        terms.append(SumTerm(d.net, keys[image], coefs.get(digit, 0), values, decl_list.index(d)))
    low = offset + sum(t.low for t in terms)
    high = offset + sum(t.high for t in terms)
    if max(abs(low), abs(high)) >= _INT64_LIMIT:
        return "Z's range does not fit int64"
    common = dict(
        rule=label, terms=tuple(terms), offset=offset, var=var, bound=bound, low=low, high=high
    )
    if high - low + 1 <= max_support:
        return SumPlan("convolution", base=0, positions=0, support=_support(terms, offset),
                       **common)  # type: ignore[arg-type]  # fmt: skip
    used = [t for t in terms if t.coef != 0]
    base = _base_of(used)
    if base is None:
        return (
            f"Z ranges over {high - low + 1:,} values (more than {max_support:,}) and the "
            "coefficients are not place values of one base with digits below it"
        )
    positions = max(_log_exact(t.coef, base) or 0 for t in used) + 1
    if base**positions >= _INT64_LIMIT:
        return "the place values do not fit int64"
    return SumPlan("carry", base=base, positions=positions, **common)  # type: ignore[arg-type]


def _match(
    lit: Literal_,
    by_pred: Mapping[tuple[str, int], NeuralDecl],
    defined: Mapping[str, int],
    rules: Iterable[Rule],
    head_names: list[str],
    z_name: str,
) -> tuple[str, str, NeuralDecl] | str:
    """(digit variable, image variable, declaration) of a neural body atom, or why not."""
    a = lit.atom
    key = f"{a.predicate}/{a.arity}"
    decl = by_pred.get((a.predicate, a.arity))
    if lit.negated or decl is None:
        return f"{key} is not a positive neural atom"
    if defined.get(key, 0) or any(
        r.head.predicate == a.predicate and r.head.arity == a.arity for r in rules
    ):
        return f"{key} has definitions besides its neural declaration"
    if len(decl.inputs) != 1 or not isinstance(decl.output, Var):
        return f"{key} has several inputs"
    if not all(
        isinstance(v, Number) and isinstance(v.value, int) and not isinstance(v.value, bool)
        for v in decl.domain
    ):
        return f"the domain of {key} is not integers"
    inp = decl.inputs[0]
    assert isinstance(inp, Var)  # Program checks that the inputs are variables
    digit = image = None
    for h, x in zip(decl.head.args, a.args):
        if isinstance(h, Var) and h.name == inp.name:
            if not isinstance(x, Var) or x.name not in head_names or x.name == z_name:
                return f"the input of {key} is not a head variable"
            if image is not None and image != x.name:
                return f"{key} names two inputs"
            image = x.name
        elif isinstance(h, Var) and h.name == decl.output.name:
            if not isinstance(x, Var) or x.name in head_names or x.name == "_":
                return f"the outcome of {key} is not a fresh variable"
            digit = x.name
        elif h != x:
            return f"{key}'s other arguments differ from its declaration"
    if digit is None or image is None:
        return f"{key} does not name both its input and its outcome"
    return digit, image, decl


def _support(terms: list[SumTerm], offset: int) -> tuple[int, ...]:
    """Every reachable value of Z, in increasing order."""
    reach = {offset}
    for t in terms:
        steps = {t.coef * v for v in t.values}
        reach = {s + d for s, d in itertools.product(reach, steps)}
    return tuple(sorted(reach))
