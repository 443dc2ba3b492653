"""The fast parser agrees with the lark grammar (the reference), spans included."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import programs

from neurosym.errors import Span
from neurosym.lang import Fact, Program, Rule, format_program, format_statement, parse_text
from neurosym.lang._fastparse import parse_chunk, tokenize
from neurosym.lang._parser import _lark_region


def _spans(node: object, path: str = "") -> Iterator[tuple[str, Span | None]]:
    if isinstance(node, tuple):
        for i, x in enumerate(node):
            yield from _spans(x, f"{path}[{i}]")
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if f.name == "span":
                yield path, value
            else:
                yield from _spans(value, f"{path}.{f.name}")


def _respace(text: str, rng: random.Random) -> str:
    """Move tokens around lines and columns without changing the program."""
    out = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            in_string = escaped or ch != '"'
            escaped = not escaped and ch == "\\"
        elif ch == '"':
            in_string = True
        if ch == " " and not in_string and rng.random() < 0.3:
            out.append(rng.choice(["\n", "  ", "\t", " % note\n   ", "\n\n "]))
        else:
            out.append(ch)
    return "".join(out)


def _both(text: str) -> tuple[Program, list[object]]:
    return parse_text(text, file="d.rules"), _lark_region(text, 0, len(text), "d.rules")


@settings(max_examples=250, deadline=None)
@given(programs, st.randoms(use_true_random=False))
def test_fast_path_equals_lark_with_spans(program: Program, rng: random.Random) -> None:
    text = _respace(format_program(program), rng)
    fast, reference = _both(text)
    assert list(fast.statements) == reference
    assert list(_spans(fast.statements)) == list(_spans(tuple(reference)))


def test_mixed_file_keeps_order_and_positions() -> None:
    text = (
        "p(a). state x.\n"
        "rule r: if p(X) and X != b then q(X) with 0.5.\n"
        "  q(X) :- p(X), N is count { Y : p(Y) }, N > -1.\n"
        "der(x) = -x. 0.3 :: s.\n"
    )
    fast, reference = _both(text)
    assert list(fast.statements) == reference
    assert list(_spans(fast.statements)) == list(_spans(tuple(reference)))
    assert [type(s).__name__ for s in fast.statements] == [
        "Fact", "StateDecl", "Rule", "Rule", "Derivative", "Fact",
    ]  # fmt: skip


def test_the_fast_path_is_taken_for_facts_and_rules() -> None:
    # Otherwise the agreement above would hold trivially.
    for text, kind in (
        ('0.9 :: p(a, 1, -2.5, "s", [b, X]).', Fact),
        ("rule r: q(X) :- p(X, _), not r(X), X >= 2 * (1 + 3)^2, Y is X / 2.", Rule),
    ):
        toks, stopped, _ = tokenize(text)
        assert stopped is None
        assert isinstance(parse_chunk(toks, "f"), kind)


def test_whole_fact_lines_match_lark_spans_and_all() -> None:
    text = (
        "p(a, 1, -2.5, X).\n"
        "  0.9 :: q (b ,  - 3 ) . % note\n"
        "raining.\n"
        "r().\n"
        "s(a) :-\n"
        "   t(a).\n"  # inside a rule: not a fact line
        "t(a). u(b).\n"  # two statements on a line
        "v(1e3).\n"
        "rule o1: w(a). rule o2 : 0.5 :: w(b).  rule  o3:w(c) .% note\n"
        "x(a).y(b). rule r: z(X) :- w(X). rule not: w(d). w(e)\n"
        ". rule s: w(f) :- w(a). rule t: if w(a) then w(g). w(h).\n"
        "s1( a ,\t_X ). s2(A,b,c). s3( ). s4(k , 7).\n"
    )
    fast, reference = _both(text)
    assert list(fast.statements) == reference
    assert list(_spans(fast.statements)) == list(_spans(tuple(reference)))
    _, _, facts = tokenize(text, facts_file="d.rules")
    read = sorted(format_statement(f) for f in facts.values())
    assert read == [
        "0.9 :: q(b, -3).",
        "p(a, 1, -2.5, X).",
        "r.",
        "raining.",
        "rule o1: w(a).",
        "rule o2: 0.5 :: w(b).",
        "rule o3: w(c).",
        "s1(a, _X).",
        "s2(A, b, c).",
        "s3.",
        "s4(k, 7).",
        "t(a).",
        "u(b).",
        "v(1000.0).",
        "w(h).",
        "x(a).",
        "y(b).",
    ]  # fmt: skip (a keyword as a rule's name, "rule not: w(d).", is left to lark)
    named = {f.name: format_statement(f) for f in fast.statements if isinstance(f, Fact)}
    assert {k: v for k, v in named.items() if k} == {
        "o1": "rule o1: w(a).", "o2": "rule o2: 0.5 :: w(b).", "o3": "rule o3: w(c).",
        "not": "rule not: w(d).",
    }  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["p", "species", "not", "t", "is", "q_1"]),
    st.lists(
        st.tuples(
            st.sampled_from(["a7", "S", "_", "_X", "12", "0", "is", "-1", '"s"', "1.5", "X + 1"]),
            st.sampled_from(["", " ", "\t", "  "]),
        ),
        max_size=4,
    ),
    st.sampled_from(["", " ", "  ", "\t"]),
)
def test_one_literal_goals_read_by_regex_equal_lark(
    name: str, args: list[tuple[str, str]], pad: str
) -> None:
    from neurosym.lang._fastparse import parse_simple_goal
    from neurosym.lang._parser import Builder, _parse

    text = f"{pad}{name}{pad}({','.join(f'{s}{a}{s}' for a, s in args)}){pad}"
    fast = parse_simple_goal(text, "<goal>")
    plain = name not in {"not", "t", "is"} and all(
        a in {"a7", "S", "_", "_X", "12", "0"} for a, _ in args
    )
    assert (fast is not None) == plain
    if fast is not None:
        reference = Builder(text, "<goal>").body(_parse(text, "<goal>", "body"))
        assert fast == reference
        assert list(_spans(fast)) == list(_spans(reference))
