"""Fuzzing the parser: any text either parses or raises a well-formed RuleSyntaxError.

Inputs are deterministic (one seeded :class:`random.Random` per batch): random printable
and unicode text, soups of the language's tokens, and mutations of valid programs
(characters and tokens deleted, inserted, duplicated, swapped; truncation). Whatever
parses is also loaded as a knowledge base and checked, which may raise only
:class:`~neurosym.NeurosymError`.
"""

from __future__ import annotations

import contextlib
import random
import re
import string
from collections.abc import Callable
from pathlib import Path

import pytest
from test_roundtrip import DESIGN_EXAMPLE

import neurosym as ns
from neurosym.lang import (
    FUNCTION_NAMES,
    Assign,
    Call,
    Comparison,
    Derivative,
    Expr,
    Law,
    Program,
    Rule,
    format_program,
    parse_text,
    to_sympy,
)

FILE = "fuzz.rules"
BATCHES = 10
PER_BATCH = 240  # 10 x 240 = 2,400 inputs per run

# Smaller valid programs to mutate, besides the DESIGN.md example.
SEEDS = [
    DESIGN_EXAMPLE,
    'p(a, "q\\"uo\\\\te\\n\\t", -3, 2.5e-3, [b, [C, _]]).\n',
    "rule r: if p(X) and not q(X) and X >= -(2) then s(X) with t(0.25).\n",
    "n(P, S) :- p(P), S is sum { V, W : v(P, V), W is V^2 / 3 - -1 }.\n?- n(a, S).\n",
    "state x, v.\nparam k = t(2).\nder(v) = -k * sin(x) + nn(f, [x, v]) - der(x).\n"
    "law l: if x > 0 and v != 0 then der(x^2) <= 0.\n",
    ":- a(X), b(X), X == max { Y : c(Y) }.  # comment\n% another\n"
    "nn(m, [I], O, [1, 2]) :: o(I, O).\n",
]

_TOKEN_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|[%#][^\n]*|\s+|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|.')

TOKENS = [
    "include", "rule", "if", "then", "and", "with", "not", "is", "state", "param", "law",
    ":-", "?-", "::", ":", ".", ",", "(", ")", "[", "]", "{", "}",
    "<", "<=", ">", ">=", "==", "!=", "=", "+", "-", "*", "/", "^",
    "p", "q", "tiger", "der", "nn", "t", "count", "sum", "min", "max", "mean", "sin", "sqrt",
    "x", "v", "k", "X", "Y", "_", "_tmp", "Img",
    "0", "3", "-3", "0.5", "1e5", "2.5E-3", "1e999", "007",
    '"s"', '"a\\"b"', '"\\\\"', '"\\n\\t"', '"unterminated', '"\\x"', "'single'",
    " ", " ", " ", "\n", "\t", "\r\n", "% c\n", "# c\n",
    ";", "|", "&", "!", "@", "\\", "`", "$", "~", "=<", "\u00e9", "\ufeff", "\x00", "\u2028",
]  # fmt: skip


def _random_text(rng: random.Random) -> str:
    n = rng.randint(0, 80)
    if rng.random() < 0.5:
        return "".join(rng.choice(string.printable) for _ in range(n))
    # Any code point but lone surrogates (which a str read from a file cannot hold).
    chars = (rng.randint(0, 0x2FFFF) for _ in range(n))
    return "".join(chr(c) for c in chars if not 0xD800 <= c <= 0xDFFF)


def _token_soup(rng: random.Random) -> str:
    tokens = [rng.choice(TOKENS) for _ in range(rng.randint(1, 40))]
    if rng.random() < 0.7:  # mostly space-separated, sometimes glued together
        return " ".join(tokens)
    return "".join(tokens)


def _mutate_chars(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(chars) + 1)
        op = rng.choice(["delete", "insert", "duplicate", "swap"])
        if op == "insert" or not chars:
            chars.insert(i, rng.choice(string.printable + "\u00e9\x00"))
            continue
        i = min(i, len(chars) - 1)
        if op == "delete":
            del chars[i]
        elif op == "duplicate":
            chars.insert(i, chars[i])
        else:
            j = rng.randrange(len(chars))
            chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


def _mutate_tokens(text: str, rng: random.Random) -> str:
    tokens = _TOKEN_RE.findall(text)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(tokens))
        op = rng.choice(["delete", "insert", "duplicate", "swap"])
        if op == "delete":
            del tokens[i]
        elif op == "insert":
            tokens.insert(i, rng.choice(TOKENS))
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        else:
            j = rng.randrange(len(tokens))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        if not tokens:
            break
    return "".join(tokens)


def _seed(rng: random.Random) -> str:
    text = rng.choice(SEEDS)
    if text is DESIGN_EXAMPLE and rng.random() < 0.7:
        # A few lines of the long example keep the inputs (and the run) short.
        lines = text.splitlines(keepends=True)
        start = rng.randrange(len(lines))
        text = "".join(lines[start : start + rng.randint(1, 6)])
    return text


def _truncate(text: str, rng: random.Random) -> str:
    return text[: rng.randrange(len(text) + 1)]


GENERATORS: list[Callable[[random.Random], str]] = [
    _random_text,
    _token_soup,
    lambda rng: _mutate_chars(_seed(rng), rng),
    lambda rng: _mutate_tokens(_seed(rng), rng),
    lambda rng: _truncate(_seed(rng), rng),
]


def fuzz_inputs(batch: int) -> list[str]:
    """The inputs of one batch: the same on every run and every machine."""
    rng = random.Random(f"neurosym-fuzz-{batch}")
    return [GENERATORS[i % len(GENERATORS)](rng) for i in range(PER_BATCH)]


def _show(text: str) -> str:
    """The input for a failure message: whole when short, else its two ends."""
    if len(text) <= 400:
        return repr(text)
    return f"{text[:200]!r} ... {text[-100:]!r} ({len(text)} characters)"


def check_syntax_error(text: str, err: ns.RuleSyntaxError) -> None:
    """A syntax error points inside the text and renders as ``file:line:col: error:``."""
    d = err.diagnostic
    assert d.span is not None, f"no position for {_show(text)}"
    lines = text.split("\n")  # the parser counts lines by "\n" only
    assert d.span.file == FILE
    assert 1 <= d.span.line <= len(lines), f"line {d.span.line} outside {_show(text)}"
    assert 1 <= d.span.column <= len(lines[d.span.line - 1]) + 1, (
        f"column {d.span.column} outside line {d.span.line} of {_show(text)}"
    )
    quoted = lines[d.span.line - 1].removesuffix("\r")
    assert d.source_line == quoted, f"wrong quoted line for {_show(text)}"
    assert str(err).startswith(f"{FILE}:{d.span.line}:{d.span.column}: error: "), str(err)
    assert (err.lineno, err.offset) == (d.span.line, d.span.column)


def run_one(text: str, base_dir: Path) -> Program | None:
    """Parse one input; if it parses, build and check the knowledge base too."""
    try:
        program = parse_text(text, file=FILE)
    except ns.RuleSyntaxError as err:
        check_syntax_error(text, err)
        return None
    except Exception as exc:  # the whole point: anything else is a bug, shown with its input
        raise AssertionError(f"parse_text({_show(text)}) raised {exc!r}") from exc
    assert isinstance(program, Program)
    # Whatever parses, however odd, prints back to text that parses to the same tree.
    try:
        again = parse_text(format_program(program), file=FILE)
    except Exception as exc:
        raise AssertionError(f"reprinting the parse of {_show(text)} raised {exc!r}") from exc
    assert again == program, f"reprinting {_show(text)} changed its tree"
    try:
        kb = ns.parse(text, file=FILE, base_dir=base_dir)
        diagnostics = kb.check()
    except ns.NeurosymError:
        return program
    except Exception as exc:
        raise AssertionError(f"ns.parse/check of {_show(text)} raised {exc!r}") from exc
    assert isinstance(diagnostics, list)
    assert all(isinstance(d, ns.Diagnostic) for d in diagnostics)
    return program


@pytest.mark.parametrize("batch", range(BATCHES), ids=[f"batch{b}" for b in range(BATCHES)])
def test_any_text_parses_or_raises_rule_syntax_error(batch: int, tmp_path: Path) -> None:
    inputs = fuzz_inputs(batch)
    assert len(inputs) == PER_BATCH
    parsed = [run_one(text, tmp_path) for text in inputs]
    # The fuzzer must exercise both outcomes, or it is not testing much.
    assert any(p is not None and p.statements for p in parsed)
    assert any(p is None for p in parsed)


def test_fuzz_inputs_are_deterministic_and_varied() -> None:
    first = fuzz_inputs(0)
    assert first == fuzz_inputs(0)
    assert len(set(first)) > PER_BATCH * 0.9
    assert fuzz_inputs(1) != first


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("p(" + "1" * 5000 + ").", id="integer-over-int-max-str-digits"),
        pytest.param("p(X) :- X > 1e999.", id="float-overflow"),
        pytest.param("p(X) :- X is -1e999.", id="negative-float-overflow"),
        pytest.param('include "a\x00b".', id="nul-in-include-path"),
        pytest.param('p("\\x").', id="unknown-escape"),
        pytest.param('p("abc', id="unterminated-string-at-eof"),
        pytest.param("p(a).\rq(", id="carriage-return"),
        pytest.param("p(a).\n\n", id="trailing-newlines"),
        pytest.param("", id="empty"),
        pytest.param("\ufeffp.", id="byte-order-mark"),
        pytest.param("p(a) :- \x00.", id="nul"),
        pytest.param("p(a)\n:- q(\n", id="eof-inside-parens"),
        pytest.param("((((((((((((((((((((((((((((((((((((((((", id="deep-open-parens"),
        pytest.param("p(X) :- X is " + "(" * 200 + "1" + ")" * 200 + ".", id="deep-parens"),
        pytest.param("p(" + "[" * 3000 + "]" * 3000 + ").", id="deep-lists"),
        pytest.param("p(X) :- X is " + "-" * 3000 + "1.", id="deep-negation"),
        pytest.param("der(x) = " + "^".join(["x"] * 3000) + ".", id="deep-power"),
        pytest.param("p(X) :- X is " + "+".join(["1"] * 3000) + ".", id="long-sum"),
        pytest.param("law l: " + "+".join(["x"] * 3000) + " > 0.", id="long-sum-in-law"),
        pytest.param("der(x) = nn(f, [x], y).", id="nn-with-three-args-in-expression"),
        pytest.param("rule r: nn(n, [X], Y, [1]) :: d(X, Y).", id="named-neural"),
        pytest.param("nn(n, [X], Y, [1]) :: d(X, Y) :- q(X).", id="neural-rule"),
        pytest.param("x = 3.", id="equals-without-der"),
        pytest.param("p(X) :- X is nope { Y : q(Y) }.", id="unknown-aggregate"),
    ],
)
def test_edge_cases_parse_or_raise_rule_syntax_error(text: str, tmp_path: Path) -> None:
    result = run_one(text, tmp_path)  # asserts inside: parses, or a well-formed RuleSyntaxError
    assert result is None or isinstance(result, Program)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("p(" + "1" * 5000 + ").", "5000 digits", id="huge-integer"),
        pytest.param("p(X) :- X > 1e999.", "too large for a float", id="float-overflow"),
        pytest.param('include "a\x00b".', "NUL character", id="nul-in-include"),
        pytest.param('p("a\\\\b").', None, id="escaped-backslash-parses"),
    ],
)
def test_regressions_found_by_fuzzing(text: str, message: str | None) -> None:
    if message is None:
        (fact,) = parse_text(text).statements
        assert fact.atom.args[0].value == "a\\b"  # type: ignore[union-attr]
        return
    with pytest.raises(ns.RuleSyntaxError, match=message) as info:
        parse_text(text, file=FILE)
    check_syntax_error(text, info.value)


INJECTIONS = [
    'X is __import__("os").system("touch {marker}").',
    'p(X) :- X is __import__("os").system("touch {marker}").',
    "p(X) :- X is eval(\"open('{marker}', 'w')\").",
    "p(X) :- X is exec(\"open('{marker}', 'w')\").",
    'p(X) :- X is system("touch {marker}").',
    "p(X) :- X is `touch {marker}`.",
    'p(X) :- X == __import__("os").',
    "p(\"__import__('os').system('touch {marker}')\").",
    'include "{marker}".',
    "der(x) = eval(\"open('{marker}', 'w')\").",
    'der(x) = __import__("os").system("touch {marker}").',
    "law l: exec(\"open('{marker}', 'w')\") >= 0.",
    "p(X) :- X is $(touch {marker}).",
    "p(X) :- X is lambda: 0.",
    "p(X) :- X is [x for x in ().__class__.__bases__].",
]


@pytest.mark.parametrize("template", INJECTIONS, ids=[f"injection{i}" for i in range(15)])
def test_untrusted_text_is_never_executed(template: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = template.replace("{marker}", str(marker))
    program = run_one(text, tmp_path)
    if program is not None:
        # What parses is data; turning its arithmetic into sympy must not run it either.
        exprs: list[Expr] = []
        for s in program.statements:
            if isinstance(s, Rule):
                for b in s.body:
                    if isinstance(b, Assign):
                        exprs.append(b.expr)
                    elif isinstance(b, Comparison):
                        exprs += [b.left, b.right]
            elif isinstance(s, Derivative):
                exprs.append(s.expr)
            elif isinstance(s, Law):
                exprs += [s.relation.left, s.relation.right]
        for e in exprs:
            if isinstance(e, Call) and e.func not in FUNCTION_NAMES:
                # eval, exec, system...: refused by the whitelist, never looked up.
                with pytest.raises(ns.ConfigurationError, match=e.func):
                    to_sympy(e)
            else:
                with contextlib.suppress(ns.NeurosymError):
                    to_sympy(e)
    assert not marker.exists(), f"{_show(text)} created {marker}"
