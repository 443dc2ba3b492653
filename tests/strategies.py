"""Shared hypothesis strategies: well-formed ASTs of the rule language.

Every strategy here generates only trees that :func:`neurosym.lang.parse_text` can
produce, so ``parse_text(format_program(p)) == p`` must hold for all of them. The normal
forms of the parser are respected:

* ``-3`` is ``Number(-3)``; ``Neg`` wraps anything, a number included (``-(3)``).
* weights and parameter values are floats; an aggregate has a non-empty template and body.
* ``der(e)`` is always :class:`Der` and ``nn(net)`` / ``nn(net, [terms])`` always
  :class:`NnRef`, so calls use only :data:`FUNCTION_NAMES` (never ``der``, ``nn``, ``t``).
* names are never reserved words, and no predicate is called ``der`` or ``nn``.
* an include path holds no NUL character (the parser refuses one).
"""

from __future__ import annotations

import string

from hypothesis import strategies as st

from neurosym.lang import (
    AGGREGATE_OPS,
    COMPARISON_OPS,
    FUNCTION_NAMES,
    Aggregate,
    Assign,
    Atom,
    BinOp,
    BodyItem,
    Call,
    Comparison,
    Const,
    Constraint,
    Der,
    Derivative,
    Expr,
    Fact,
    FixedWeight,
    Include,
    Law,
    LearnableWeight,
    ListTerm,
    Literal_,
    Neg,
    NeuralDecl,
    NnRef,
    Number,
    ParamDecl,
    Program,
    Query,
    Rule,
    StateDecl,
    Statement,
    String,
    Term,
    Var,
    Weight,
)

__all__ = [
    "RESERVED_WORDS",
    "atoms",
    "bodies",
    "body_items",
    "comparisons",
    "consts",
    "exprs",
    "floats",
    "lower_names",
    "numbers",
    "predicate_names",
    "programs",
    "statements",
    "strings",
    "sympy_exprs",
    "terms",
    "variables",
    "weights",
]

RESERVED_WORDS = frozenset(
    {
        "include",
        "rule",
        "if",
        "then",
        "and",
        "with",
        "not",
        "is",
        "state",
        "param",
        "law",
        "dynamic",
    }
)
_TAIL = string.ascii_letters + string.digits + "_"

# A few names that collide with something else in the language (functions, aggregates,
# the weight constructor t, der and nn as constants) are drawn on purpose.
_TRICKY_NAMES = ["t", "der", "nn", "sin", "min", "count", "sum", "e", "inf", "nan", "x1"]

lower_names: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(_TRICKY_NAMES),
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(string.ascii_lowercase),
        st.text(_TAIL, max_size=6),
    ),
).filter(lambda n: n not in RESERVED_WORDS)
"""Lowercase names: constants, states, parameters, rule and network names."""

predicate_names: st.SearchStrategy[str] = lower_names.filter(lambda n: n not in {"der", "nn"})
"""Names a predicate may have (``der`` and ``nn`` are reserved for dynamics)."""

variables: st.SearchStrategy[Var] = st.builds(
    Var,
    st.one_of(
        st.just("_"),
        st.builds(
            lambda head, tail: head + tail,
            st.sampled_from(string.ascii_uppercase + "_"),
            st.text(_TAIL, max_size=5),
        ),
    ),
)
consts: st.SearchStrategy[Const] = st.builds(Const, lower_names)

floats: st.SearchStrategy[float] = st.floats(allow_nan=False, allow_infinity=False)
"""Finite floats, negative zero, subnormals and huge magnitudes included."""

numbers: st.SearchStrategy[Number] = st.builds(
    Number, st.one_of(st.integers(), st.integers(-5, 5), floats)
)

_string_chars = st.one_of(
    st.sampled_from(['"', "\\", "\n", "\t", "\r", "%", "#", ".", "\\n", "\u2028", "é", "🦀"]),
    st.characters(),
)
strings: st.SearchStrategy[String] = st.builds(
    String, st.lists(_string_chars, max_size=8).map("".join)
)
"""String literals with quotes, backslashes, newlines, tabs, comment signs and unicode."""

terms: st.SearchStrategy[Term] = st.recursive(
    st.one_of(variables, consts, numbers, strings),
    lambda inner: st.builds(ListTerm, st.lists(inner, max_size=4).map(tuple)),
    max_leaves=8,
)
"""Arguments of atoms: variables, constants, numbers, strings and nested lists."""


def atoms(predicates: st.SearchStrategy[str] = predicate_names) -> st.SearchStrategy[Atom]:
    """Atoms ``p`` or ``p(t1, ..., tn)`` (zero arguments print as a bare name)."""
    return st.builds(Atom, predicates, st.lists(terms, max_size=4).map(tuple))


def _nn_refs() -> st.SearchStrategy[NnRef]:
    return st.builds(
        NnRef,
        lower_names,
        st.one_of(st.none(), st.lists(terms, max_size=3).map(tuple)),
    )


def exprs(*, dynamics: bool = False, aggregates: bool = True) -> st.SearchStrategy[Expr]:
    """Arithmetic over terms: ``BinOp`` (all 5 operators), ``Neg``, ``Call``, aggregates.

    Args:
        dynamics: also draw ``der(...)`` and ``nn(net[, [inputs]])`` sub-expressions.
        aggregates: also draw ``count { ... }`` and the like (their bodies hold
            comparisons that again hold expressions, so they nest).
    """
    leaves: list[st.SearchStrategy[Expr]] = [variables, consts, numbers, strings, terms]
    if dynamics:
        leaves.append(_nn_refs())

    def extend(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        options: list[st.SearchStrategy[Expr]] = [
            st.builds(BinOp, st.sampled_from(["+", "-", "*", "/", "^"]), inner, inner),
            st.builds(Neg, inner),
            st.builds(Neg, numbers),  # prints as -(3), parses back to Neg(Number(3))
            st.builds(
                Call,
                st.sampled_from(sorted(FUNCTION_NAMES)),
                st.lists(inner, max_size=2).map(tuple),
            ),
        ]
        if dynamics:
            options.append(st.builds(Der, inner))
        if aggregates:
            options.append(
                st.builds(
                    Aggregate,
                    st.sampled_from(sorted(AGGREGATE_OPS)),
                    st.lists(inner, min_size=1, max_size=2).map(tuple),
                    st.lists(_flat_body_items(inner), min_size=1, max_size=2).map(tuple),
                )
            )
        return st.one_of(*options)

    return st.recursive(st.one_of(*leaves), extend, max_leaves=10)


def _flat_body_items(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[BodyItem]:
    return st.one_of(
        st.builds(Literal_, atoms(), st.booleans()),
        st.builds(Comparison, st.sampled_from(sorted(COMPARISON_OPS)), inner, inner),
        st.builds(Assign, variables, inner),
    )


def comparisons(*, dynamics: bool = False) -> st.SearchStrategy[Comparison]:
    """``left op right`` with one of the six comparison operators."""
    e = exprs(dynamics=dynamics)
    return st.builds(Comparison, st.sampled_from(sorted(COMPARISON_OPS)), e, e)


body_items: st.SearchStrategy[BodyItem] = st.one_of(
    st.builds(Literal_, atoms(), st.just(False)),
    st.builds(Literal_, atoms(), st.just(True)),
    comparisons(),
    st.builds(Assign, variables, exprs()),
)
"""Literals, negated literals, comparisons and ``X is expr``."""

bodies: st.SearchStrategy[tuple[BodyItem, ...]] = st.lists(body_items, min_size=1, max_size=3).map(
    tuple
)

weights: st.SearchStrategy[Weight] = st.one_of(
    st.builds(FixedWeight, floats), st.builds(LearnableWeight, floats)
)
_names = st.one_of(st.none(), lower_names)
_optional_weight = st.one_of(st.none(), weights)

_facts = st.builds(Fact, atoms(), _optional_weight, _names)
_rules = st.builds(
    Rule,
    atoms(),
    bodies,
    _optional_weight,
    _names,
    st.sampled_from(["prolog", "expert"]),
)
_neural = st.builds(
    NeuralDecl,
    lower_names,
    st.lists(terms, max_size=3).map(tuple),
    st.one_of(variables, consts, numbers, strings),
    st.lists(terms, max_size=4).map(tuple),
    atoms(),
)
_states = st.builds(StateDecl, st.lists(lower_names, min_size=1, max_size=4).map(tuple))
_params = st.builds(ParamDecl, lower_names, floats, st.booleans())
_derivatives = st.builds(Derivative, lower_names, exprs(dynamics=True))
_laws = st.builds(
    Law,
    lower_names,
    comparisons(dynamics=True),
    st.lists(comparisons(dynamics=True), max_size=3).map(tuple),
)
# The parser rejects a NUL character in an include path (no file system accepts one).
_includes = st.builds(Include, strings.map(lambda s: s.value.replace("\0", "")))

statements: st.SearchStrategy[Statement] = st.one_of(
    _facts,
    _rules,
    _neural,
    st.builds(Constraint, bodies),
    st.builds(Query, bodies),
    _states,
    _params,
    _derivatives,
    _laws,
    _includes,
)
"""Every statement kind, named and weighted where the language allows it."""

programs: st.SearchStrategy[Program] = st.builds(
    Program, st.lists(statements, max_size=6).map(tuple)
)


# ---------------------------------------------------------------- sympy expressions
# Trees of sympy objects (never text) over a few symbols, for the sympy → torch and
# sympy → rule-text bridges. sympy evaluates as it builds, so constant subtrees such as
# sin(2) stay symbolic, numbers fold, and log(-1) becomes I*pi.


def sympy_exprs(
    names: tuple[str, ...] = ("x", "v", "k"), *, max_leaves: int = 8
) -> st.SearchStrategy[object]:
    """Finite sympy expressions of ``+ - * /``, integer and rational powers, the
    whitelisted functions (sin … tanh, exp, log, sqrt, Abs, sign, Min, Max), integers,
    rationals, floats, pi and E, over the symbols ``names``."""
    import sympy

    unary = [
        sympy.sin,
        sympy.cos,
        sympy.tan,
        sympy.asin,
        sympy.acos,
        sympy.atan,
        sympy.sinh,
        sympy.cosh,
        sympy.tanh,
        sympy.exp,
        sympy.log,
        sympy.sqrt,
        sympy.Abs,
        sympy.sign,
    ]
    leaves = st.one_of(
        st.sampled_from([sympy.Symbol(n) for n in names]),
        st.integers(-4, 4).map(sympy.Integer),
        st.builds(sympy.Rational, st.integers(-5, 5), st.integers(1, 4)),
        st.floats(-3, 3, allow_subnormal=False).map(sympy.Float),
        st.sampled_from([sympy.pi, sympy.E]),
    )

    def safe(build: object) -> object:
        # 1/0 is zoo, Min(zoo, x) raises, 0.0**-1 raises: such a subtree becomes 1 (a
        # filter here would make hypothesis build huge reprs of the nested strategies).
        def go(*args: object) -> object:
            try:
                e = build(*args)  # type: ignore[operator]
            except (ArithmeticError, ValueError, TypeError):
                return sympy.Integer(1)
            infinite = e.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan)
            return sympy.Integer(1) if infinite else e

        return go

    def extend(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
        return st.one_of(
            st.builds(safe(lambda a, b: a + b), inner, inner),
            st.builds(safe(lambda a, b: a - b), inner, inner),
            st.builds(safe(lambda a, b: a * b), inner, inner),
            st.builds(safe(lambda a, b: a / b), inner, inner),
            st.builds(safe(lambda a, n: a ** sympy.Integer(n)), inner, st.integers(-3, 4)),
            st.builds(
                safe(lambda a, p, q: a ** sympy.Rational(p, q)),
                inner,
                st.integers(-3, 3),
                st.integers(2, 3),
            ),
            st.builds(safe(lambda f, a: f(a)), st.sampled_from(unary), inner),
            st.builds(
                safe(lambda f, a, b: f(a, b)), st.sampled_from([sympy.Min, sympy.Max]), inner, inner
            ),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)
