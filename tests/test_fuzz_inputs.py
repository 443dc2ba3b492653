"""Fuzzing everything a user feeds neurosym: rule files, goals, fact tables, the command.

The standard: bad input gets a :class:`~neurosym.NeurosymError` with a clear message (a
syntax error as ``file:line:col: error: ...`` pointing into the text), never another
exception from deep inside and never a Python traceback from the ``neurosym`` command.
Each property is bounded and derandomized, so a run is the same on every machine; the
regression tests at the end hold the exact inputs the fuzzing found.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fastparse import _spans
from test_fuzz import _mutate_chars, _mutate_tokens, check_syntax_error

import neurosym as ns
from neurosym.cli import main
from neurosym.lang import Program, format_source, format_statement, parse_text
from neurosym.lang._parser import _lark_region

ROOT = Path(__file__).resolve().parent.parent
RULE_FILES = sorted((ROOT / "rules").glob("*.rules"))
SOURCES = {p.name: p.read_text(encoding="utf-8") for p in RULE_FILES}
FILE = "fuzz.rules"  # the name check_syntax_error expects

# Deterministic and bounded: the same examples on every run, no flaky deadlines.
FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

ADVERSARIAL = [
    "\ufeff", "\r\n", "\r", "\t", "\f", "\v", "\x00", "\u2028", "\u00a0", "\u200b",
    "1e999", "-1e999", "nan", "inf", "NaN", "1" * 4400, "0." + "0" * 400 + "1",
    "x" * 5000, "é", "名前", "(" * 2000, ")" * 2000, "[" * 300, "]", "{", "}",
    "p(" * 150 + "a" + ")" * 150, "-" * 500 + "1", "+".join("1" * 300),
    '"unterminated', '"\\q"', "'", "%", "#", "/*", "::", ":-", "?-", ".",
]  # fmt: skip


def _adversarial_insert(text: str, rng: random.Random) -> str:
    i = rng.randrange(len(text) + 1)
    return text[:i] + rng.choice(ADVERSARIAL) + text[i:]


def _excerpt(text: str, rng: random.Random) -> str:
    """A few lines of the text (whole files are slow to fuzz many times)."""
    lines = text.splitlines(keepends=True)
    start = rng.randrange(len(lines))
    return "".join(lines[start : start + rng.randint(1, 12)])


def _mutant(name: str, rng: random.Random) -> str:
    text = _excerpt(SOURCES[name], rng) if rng.random() < 0.8 else SOURCES[name]
    for _ in range(rng.randint(1, 3)):
        op = rng.random()
        if op < 0.3:
            text = _mutate_chars(text, rng) if text else text
        elif op < 0.6:
            text = _mutate_tokens(text, rng) if text else text
        elif op < 0.75:
            text = text[: rng.randrange(len(text) + 1)]
        elif op < 0.85:
            text = text.replace("\n", rng.choice(["\r\n", "\r", "\n\t", " \f\n"]))
        else:
            text = _adversarial_insert(text, rng)
    return text


mutants = st.builds(_mutant, st.sampled_from(sorted(SOURCES)), st.randoms(use_true_random=False))


def _show(text: str) -> str:
    return repr(text) if len(text) <= 300 else f"{text[:200]!r}...({len(text)} characters)"


def _parse_or_error(text: str) -> Program | ns.RuleSyntaxError:
    try:
        return parse_text(text, file=FILE)
    except ns.RuleSyntaxError as err:
        return err
    except Exception as exc:
        raise AssertionError(f"parse_text({_show(text)}) raised {exc!r}") from exc


# ------------------------------------------------------------------ 1. rule text


@FUZZ
@given(mutants)
def test_mutated_rule_files_parse_or_raise_a_positioned_error(text: str) -> None:
    result = _parse_or_error(text)
    if isinstance(result, ns.RuleSyntaxError):
        check_syntax_error(text, result)  # file:line:col inside the text, the line quoted
        return
    # What parses is built into a knowledge base and checked: only NeurosymError may come.
    try:
        kb = ns.parse(text, file=FILE, base_dir=ROOT / "rules")
        diagnostics = kb.check()
    except ns.NeurosymError as err:
        assert str(err).strip(), f"an empty message for {_show(text)}"
        return
    except Exception as exc:
        raise AssertionError(f"ns.parse/check of {_show(text)} raised {exc!r}") from exc
    for d in diagnostics:
        assert d.message and (d.span is None or d.span.line >= 1), d


@FUZZ
@given(mutants)
def test_fast_parser_agrees_with_lark_on_mutants(text: str) -> None:
    """Valid for one is valid for the other, with the same tree and the same spans."""
    fast = _parse_or_error(text)
    try:
        reference: list[object] | None = _lark_region(text, 0, len(text), FILE)
    except ns.RuleSyntaxError:
        reference = None
    if isinstance(fast, ns.RuleSyntaxError):
        # The fast path's own limits (nesting, operators) refuse what lark would build.
        assert reference is None or fast.diagnostic.code == "too-deep", (
            f"lark parses {_show(text)}, the fast path says {fast}"
        )
        return
    assert reference is not None, f"the fast path parses {_show(text)}, lark does not"
    assert list(fast.statements) == reference, _show(text)
    assert list(_spans(fast.statements)) == list(_spans(tuple(reference))), _show(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("p(" + "(" * 2000 + "a" + ")" * 2000 + ").", id="2000-nested-parens"),
        pytest.param("p(" * 2000 + "a" + ")" * 2000 + ".", id="2000-nested-terms"),
        pytest.param("p(X) :- X is " + "(" * 2000 + "1" + ")" * 2000 + ".", id="deep-arith"),
        pytest.param("p(X) :- q(X), " + ", ".join(["q(X)"] * 3000) + ".", id="long-body"),
        pytest.param("p(" + ", ".join(["a"] * 5000) + ").", id="5000-arguments"),
        pytest.param("p" + "x" * 100_000 + "(a).", id="100k-character-name"),
        pytest.param("p(" + "9" * 4301 + ").", id="integer-past-python-digits"),
        pytest.param("p(" + "9" * 4300 + ").", id="integer-at-python-digits"),
        pytest.param("p(1e308). q(1e309).", id="float-overflow-second"),
        pytest.param("p(nan). p(inf). p(X) :- X > nan.", id="nan-inf-names"),
        pytest.param("0.5 :: p(a).\r\nq(X) :- p(X).\r\n", id="crlf"),
        pytest.param("\ufeffp(a).\n", id="bom"),
        pytest.param("\tp(a).\t% tab\n\tq(X)\t:-\tp(X).", id="tabs"),
        pytest.param("", id="empty"),
        pytest.param("% only a comment", id="comment-only"),
        pytest.param("p(a).\x00", id="nul-after"),
        pytest.param("p(\u0430).", id="cyrillic-a"),
        pytest.param("rule r: if p(X) then q(X) with t(" + "9" * 400 + ").", id="huge-weight"),
    ],
)
def test_adversarial_rule_texts(text: str) -> None:
    result = _parse_or_error(text)
    if isinstance(result, ns.RuleSyntaxError):
        check_syntax_error(text, result)
        return
    try:
        ns.parse(text, file=FILE).check()
    except ns.NeurosymError as err:
        assert str(err).strip()


@FUZZ
@given(mutants, st.randoms(use_true_random=False))
def test_kb_add_and_remove_fail_cleanly_and_leave_the_kb_alone(
    text: str, rng: random.Random
) -> None:
    kb = ns.parse("rule base: q(X) :- p(X).\np(a).\n")
    before = kb.to_text()
    try:
        added = kb.add(text)
    except ns.RuleSyntaxError as err:
        assert err.diagnostic.span is not None
        assert str(err).startswith(f"<added 1>:{err.lineno}:{err.offset}: error: ")
        assert kb.to_text() == before, "a failed add changed the knowledge base"
    except ns.ConfigurationError as err:  # an include: resolved only by ns.load
        assert "include" in str(err)
        assert kb.to_text() == before, "a refused add changed the knowledge base"
    else:
        assert len(kb) == 2 + len(added)
    name = rng.choice(["base", "nope", "", "X", "base "])
    try:
        kb.remove(name)
    except ns.KnowledgeBaseError as err:
        assert repr(name) in str(err)


@FUZZ
@given(mutants)
def test_fmt_refuses_what_does_not_parse_and_keeps_what_does(text: str) -> None:
    """``neurosym fmt``: a RuleSyntaxError exactly when the text does not parse; else text
    that parses to the same program and formats to itself."""
    program = _parse_or_error(text)
    try:
        out = format_source(text, file=FILE)
    except ns.RuleSyntaxError as err:
        assert isinstance(program, ns.RuleSyntaxError), f"fmt refuses {_show(text)}: {err}"
        return
    assert isinstance(program, Program), f"fmt formats {_show(text)}, which does not parse"
    assert parse_text(out, file=FILE) == program, f"fmt changed the program of {_show(text)}"
    assert format_source(out, file=FILE) == out


# ------------------------------------------------------------------ 2. goals and arithmetic

KB_TEXT = """
parent(ann, bob). parent(bob, cid). age(ann, 70). age(bob, 40). age(cid, "ten").
anc(X, Y) :- parent(X, Y).
anc(X, Z) :- parent(X, Y), anc(Y, Z).
0.8 :: likes(ann, tea).
older(X, Y) :- age(X, A), age(Y, B), A > B.
half(X, H) :- age(X, A), H is A / 2.
kids(X, N) :- parent(X, _), N is count { C : parent(X, C) }.
"""

GOAL_TOKENS = [
    "anc", "parent", "age", "older", "half", "kids", "likes", "nope", "not", "is",
    "count", "sum", "max", "mean", "sin", "der", "nn", "t", "X", "Y", "_", "ann", "bob",
    "(", ")", "[", "]", "{", "}", ",", ".", ":", ":-", "?-", "::", "<", ">=", "==", "!=", "=",
    "+", "-", "*", "/", "^", "0", "1", "-1", "2.5", "1e999", "nan", '"s"', " ", " ", "\n",
]  # fmt: skip
VALID_GOALS = [
    "anc(ann, X)", "older(X, Y)", "half(X, H), H > 10", "kids(X, N)", "likes(X, tea)",
    "age(X, A), A >= 40", "parent(X, Y), not anc(Y, X)", "S is sum { A : age(_, A) }",
]  # fmt: skip

goals = st.one_of(
    st.lists(st.sampled_from(GOAL_TOKENS), min_size=0, max_size=14).map("".join),
    st.builds(
        lambda g, rng: _mutate_chars(g, rng) if rng.random() < 0.5 else _mutate_tokens(g, rng),
        st.sampled_from(VALID_GOALS),
        st.randoms(use_true_random=False),
    ),
    st.text(max_size=30),
)
SEMANTICS = ["boolean", "cf", "prob", "fuzzy-godel", "fuzzy-product", "fuzzy-lukasiewicz"]


def _goal_error_is_clear(goal: str, err: ns.NeurosymError) -> None:
    message = str(err)
    assert message.strip(), f"empty message for {goal!r}"
    assert "Traceback" not in message
    if isinstance(err, ns.RuleSyntaxError):
        assert err.diagnostic.span is not None
        assert message.startswith(f"<goal>:{err.lineno}:{err.offset}: error: "), message
        assert 1 <= err.lineno <= goal.count("\n") + 1
        assert "\n    expected \n" not in message + "\n", f"nothing expected: {message!r}"


@pytest.fixture(scope="module")
def goal_kb() -> ns.KnowledgeBase:
    return ns.parse(KB_TEXT)


@pytest.fixture(scope="module")
def goal_model() -> ns.Model:
    # The model of the whole KB fails on purpose (half of "ten"): use a number there.
    return ns.infer(ns.parse(KB_TEXT.replace('"ten"', "10")), semantics="prob")


@FUZZ
@given(goals, st.sampled_from(SEMANTICS), st.sampled_from(["backward", "forward"]))
def test_malformed_goals_raise_only_neurosym_errors(
    goal_kb: ns.KnowledgeBase, goal_model: ns.Model, goal: str, semantics: str, method: str
) -> None:
    for call in (
        lambda: ns.query(goal_kb, goal, semantics=semantics, method=method),
        lambda: ns.why_not(goal_kb, goal, semantics=semantics),
        lambda: goal_model.query(goal),
        lambda: goal_model.value(goal),
        lambda: goal_model.explain(goal),
    ):
        try:
            result = call()
        except ns.NeurosymError as err:
            _goal_error_is_clear(goal, err)
        except Exception as exc:
            raise AssertionError(f"goal {goal!r} ({semantics}, {method}) raised {exc!r}") from exc
        else:
            # an answer to one literal is ground text that reads back as that one fact (a
            # conjunction's answer is the goal "with" its bindings)
            for answer in result if isinstance(result, list) else ():
                text = str(answer.fact)
                if " with " in text:
                    continue
                (fact,) = ns.parse(f"{text}.").facts
                assert format_statement(fact) == f"{text}.", (text, format_statement(fact))


VALUES = [
    "0", "1", "-1", "0.0", "-0.0", "2", "3.5", "1e308", "1e-308", "4300", "100000",
    '"s"', '""', "a", "nan", "inf", "[1, 2]", "[]", "X", "Y",
]  # fmt: skip
FUNCTION_CALLS = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
                  "exp", "log", "sqrt", "abs", "sign", "min", "max"]  # fmt: skip


@st.composite
def arithmetic(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(VALUES))
    kind = draw(st.sampled_from(["op", "op", "neg", "call", "agg"]))
    if kind == "op":
        op = draw(st.sampled_from(["+", "-", "*", "/", "^"]))
        return f"({draw(arithmetic(depth - 1))} {op} {draw(arithmetic(depth - 1))})"
    if kind == "neg":
        return f"-({draw(arithmetic(depth - 1))})"
    if kind == "call":
        f = draw(st.sampled_from(FUNCTION_CALLS))
        n = draw(st.integers(1, 3)) if f in {"min", "max"} else 1
        return f"{f}({', '.join(draw(arithmetic(depth - 1)) for _ in range(n))})"
    op = draw(st.sampled_from(["count", "sum", "min", "max", "mean"]))
    return f"{op} {{ V : v(V) }}"


@FUZZ
@given(arithmetic(), arithmetic(), st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
       st.sampled_from(SEMANTICS), st.lists(st.sampled_from(VALUES[:-2]), max_size=3))  # fmt: skip
def test_arithmetic_in_rules_fails_with_evaluation_errors(
    e1: str, e2: str, cmp: str, semantics: str, vs: list[str]
) -> None:
    """Division by zero, strings in arithmetic, domain errors, aggregates over nothing:
    an EvaluationError naming the rule, or a check error; never a bare Python error."""
    facts = "".join(f"v({v}).\n" for v in vs) or "dynamic v/1.\n"
    text = f"{facts}x(1). x(2).\nr(X, Y) :- x(X), Y is {e1}.\nc(X) :- x(X), Y is {e2}, Y {cmp} X.\n"
    try:
        kb = ns.parse(text, file=FILE)
    except ns.RuleSyntaxError as err:  # e.g. a list inside arithmetic
        check_syntax_error(text, err)
        return
    for goal in ("r(X, Y)", "c(X)"):
        for method in ("backward", "forward"):
            try:
                ns.query(kb, goal, semantics=semantics, method=method)
            except ns.EvaluationError as err:
                assert f" in rule {FILE}:" in str(err) or " in goal" in str(err), str(err)
                assert "Str(" not in str(err), f"internal spelling in {str(err)!r}"
            except ns.NeurosymError as err:
                assert str(err).strip()
            except Exception as exc:
                raise AssertionError(f"{goal} over {text!r} raised {exc!r}") from exc


# ------------------------------------------------------------------ 3. fact tables

CELLS = [
    "a", "bob", "Ann", "1", "-2", "3.5", "1e999", "nan", "", " ", "x y", '"q,uoted"', '"a""b"',
    '"multi\nline"', '"unterminated', "é", "\ufeffhead", "\x00", "\v", "\f", "\u2028",
    "9" * 4400, "  7  ", "tab\tinside", "semi;colon",
]  # fmt: skip
tables = st.lists(st.lists(st.sampled_from(CELLS), min_size=1, max_size=4), max_size=6)


def _table_bytes(rows: list[list[str]], delimiter: str, newline: str, bom: bool) -> bytes:
    text = newline.join(delimiter.join(r) for r in rows) + newline
    return ("\ufeff" if bom else "").encode() + text.encode("utf-8")


@FUZZ
@given(
    tables,
    st.sampled_from([(",", ".csv"), ("\t", ".tsv"), (";", ".txt")]),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.booleans(),
    st.sampled_from([b"", b"", b"\xff\xfe", b"caf\xe9"]),
)
def test_fact_tables_load_or_raise_facts_file_error(
    tmp_path: Path,
    rows: list[list[str]],
    kind: tuple[str, str],
    newline: str,
    bom: bool,
    junk: bytes,
) -> None:
    delimiter, suffix = kind
    path = tmp_path / f"table{suffix}"
    path.write_bytes(_table_bytes(rows, delimiter, newline, bom) + junk)
    lines = path.read_bytes().count(b"\n") + path.read_bytes().count(b"\r") + 1
    try:
        kb = ns.parse("q(X) :- p(X).", facts={"p": path})
    except ns.FactsFileError as err:
        assert str(path) in str(err)
        if err.span is not None:
            assert err.span.file == str(path)
            assert 1 <= err.span.line <= lines, (err.span, rows)
        return
    except Exception as exc:
        raise AssertionError(f"the table {rows!r} raised {exc!r}") from exc
    arities = {f.atom.arity for f in kb.facts}
    assert len(arities) <= 1, f"facts of different arities from one table: {arities}"
    for f in kb.facts:
        assert f.atom.predicate == "p" and f.span is not None and f.span.file == str(path)


# ------------------------------------------------------------------ 4. the command


def _run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own usage errors
        status = exit_.code if isinstance(exit_.code, int) else 2
    except Exception as exc:
        raise AssertionError(f"neurosym {' '.join(argv)} raised {exc!r}") from exc
    out = capsys.readouterr()
    return status, out.out + out.err


@pytest.fixture
def cli_files(tmp_path: Path) -> dict[str, str]:
    files = {
        "ok": ("ok.rules", b"p(a).\nq(X) :- p(X).\n"),
        "syntax": ("syntax.rules", b"p(a).\nq(X :- p(X).\n"),
        "latin1": ("latin1.rules", b"p(caf\xe9).\n"),
        "div": ("div.rules", b"p(0). r(Y) :- p(X), Y is 1 / X.\n"),
        "empty": ("empty.rules", b""),
        "csv": ("t.csv", b"a,b\nc\n"),
        "huge_csv": ("huge.csv", b"9" * 5000 + b"\n"),
        "bin_csv": ("bin.csv", bytes(range(256))),
        "include_dir": ("incdir.rules", b'include "sub".\n'),
    }
    (tmp_path / "sub").mkdir()
    (tmp_path / "nodir").mkdir()
    out = {}
    for key, (name, data) in files.items():
        (tmp_path / name).write_bytes(data)
        out[key] = str(tmp_path / name)
    out["dir"] = str(tmp_path / "nodir")
    out["missing"] = str(tmp_path / "missing.rules")
    out["tmp"] = str(tmp_path)
    return out


BAD_COMMANDS = [
    ["check"],
    ["check", "{missing}"],
    ["check", "{dir}"],
    ["check", "{syntax}"],
    ["check", "{latin1}"],
    ["check", "{include_dir}"],
    ["check", "--format", "xml", "{ok}"],
    ["check", "--facts", "p", "{ok}"],
    ["check", "--facts", "P=t.csv", "{ok}"],
    ["check", "--facts", "p={csv}", "{ok}"],
    ["check", "--facts", "p={huge_csv}", "{ok}"],
    ["check", "--facts", "p={bin_csv}", "{ok}"],
    ["check", "--facts", "p={dir}", "{ok}"],
    ["check", "--facts", "p={missing}", "{ok}"],
    ["query", "{ok}"],
    ["query", "{ok}", "q(X"],
    ["query", "{ok}", "q(X). p(Y)."],
    ["query", "{ok}", ""],
    ["query", "{ok}", "X > 1"],
    ["query", "{ok}", "q(X)", "--semantics", "nope"],
    ["query", "{ok}", "q(X)", "--method", "sideways"],
    ["query", "{ok}", "q(X)", "--format", "yaml"],
    ["query", "{div}", "r(Y)"],
    ["query", "{missing}", "q(X)"],
    ["query", "{dir}", "q(X)"],
    ["query", "{latin1}", "p(X)"],
    ["query", "{syntax}", "p(X)"],
    ["query", "{ok}", "q(X)", "--facts", "P=x.csv"],
    ["query", "{ok}", "q(X)", "--facts", "p={huge_csv}"],
    ["explain", "{ok}", "q(X), p(X)"],
    ["explain", "{div}", "r(1)"],
    ["explain", "{ok}", "q("],
    ["explain", "{ok}", "q(a)", "--semantics", "fuzzy"],
    ["graph", "{ok}"],
    ["graph", "{ok}", "-o", "{tmp}/out.xyz"],
    ["graph", "{ok}", "-o", "{tmp}/no/such/dir/out.json"],
    ["graph", "{ok}", "-o", "{dir}"],
    ["graph", "{syntax}", "-o", "{tmp}/g.json"],
    ["graph", "{missing}", "-o", "{tmp}/g.json"],
    ["graph", "{ok}", "-o", "{tmp}/g.json", "--facts", "p={huge_csv}"],
    ["fmt", "{latin1}"],
    ["fmt", "-w", "{latin1}"],
    ["fmt", "{syntax}"],
    ["fmt", "{missing}"],
    ["fmt", "--check", "-w", "{ok}"],
    ["demo", "--rules-dir", "{dir}"],
    ["nope"],
    [],
]


@pytest.mark.parametrize("argv", BAD_COMMANDS, ids=[" ".join(a) or "none" for a in BAD_COMMANDS])
def test_bad_commands_exit_nonzero_without_traceback(
    argv: list[str], cli_files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a.format(**cli_files) for a in argv]
    status, printed = _run_cli(args, capsys)
    assert status != 0, f"neurosym {' '.join(args)} exited 0:\n{printed}"
    assert "Traceback" not in printed
    assert printed.strip(), "no message at all"


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "{latin1}"],
        ["query", "{ok}", "q(X"],
        ["query", "{div}", "r(Y)"],
        ["check", "{ok}", "--facts", "P={csv}"],
        ["graph", "{ok}", "-o", "{tmp}/no/such/dir/g.json"],
    ],
    ids=["not-utf8", "bad-goal", "division-by-zero", "bad-facts-predicate", "graph-no-folder"],
)
def test_python_dash_m_prints_one_message(argv: list[str], cli_files: dict[str, str]) -> None:
    """The real command, in its own process: a message and a non-zero status, no traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "neurosym", *(a.format(**cli_files) for a in argv)],
        capture_output=True,
        text=True,
        cwd=ROOT,  # this checkout's package, whatever is installed
        timeout=120,
    )
    assert done.returncode in {1, 2}, done
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.strip() or done.stdout.strip()


@FUZZ
@given(goals)
def test_cli_query_on_any_goal_prints_no_traceback(
    cli_files: dict[str, str], capsys: pytest.CaptureFixture[str], goal: str
) -> None:
    if goal.startswith("-"):
        goal = " " + goal  # an option to argparse otherwise
    for command in ("query", "explain"):
        status, printed = _run_cli([command, cli_files["ok"], goal], capsys)
        assert status in {0, 1, 2}
        assert "Traceback" not in printed
        if status != 0:
            assert printed.strip()


# ------------------------------------------------------------------ regressions found here

NINES = "1" + "9" * 400  # an integer literal far past the largest float


@pytest.mark.parametrize(
    ("text", "column"),
    [
        pytest.param(f"{NINES} :: p.", 1, id="fact-weight"),
        pytest.param(f"-{NINES} :: p(a) :- q(a).\nq(a).", 1, id="rule-weight"),
        pytest.param(f"rule r: if q(X) then p(X) with t({NINES}).", 34, id="learnable-weight"),
        pytest.param(f"param k = {NINES}.", 11, id="param"),
        pytest.param(f"param k = t({NINES}).", 13, id="learnable-param"),
    ],
)
def test_integer_weights_too_large_for_a_float_are_syntax_errors(text: str, column: int) -> None:
    # Was: OverflowError('int too large to convert to float') from the tree builder.
    with pytest.raises(ns.RuleSyntaxError, match="is too large for a float") as info:
        parse_text(text, file=FILE)
    check_syntax_error(text, info.value)
    assert (info.value.lineno, info.value.offset) == (1, column)
    # 2**1023 still converts: the limit is the float's, not an arbitrary one.
    (fact,) = parse_text(f"{2**1023} :: p.").statements
    assert fact.weight.value == float(2**1023)  # type: ignore[union-attr]


def test_a_refused_add_leaves_the_knowledge_base_unchanged() -> None:
    # Was: the statements before the include were added, then ConfigurationError.
    kb = ns.parse("p(a).")
    with pytest.raises(ns.ConfigurationError, match="includes are resolved when loading"):
        kb.add('q(b).\ninclude "other.rules".\nr(c).\n')
    assert len(kb) == 1
    assert kb.to_text() == "p(a).\n"


def test_min_and_max_of_one_argument() -> None:
    # Was: TypeError("'int' object is not iterable") from the built-in max(1).
    kb = ns.parse("v(4). a(Y) :- v(X), Y is max(X). b(Y) :- v(X), Y is min(X - 5).")
    assert [str(a) for a in ns.query(kb, "a(Y)")] == ["a(4) = true"]
    assert [str(a) for a in ns.query(kb, "b(Y)")] == ["b(-1) = true"]


def test_integer_results_past_printable_size_are_evaluation_errors() -> None:
    # Was: ValueError('Exceeds the limit (4300 digits) for integer string conversion')
    # when the answer was printed, after computing a 100-million-bit integer.
    kb = ns.parse("big(Y) :- Y is 2 ^ 100000000.\nok(Y) :- Y is 2 ^ 1000.")
    with pytest.raises(ns.EvaluationError) as info:
        ns.query(kb, "big(Y)")
    assert str(info.value) == (
        "an integer ^ in rule <string>:1:1 gives more than 14000 bits; compute with floats "
        "(2.0 ^ 100 instead of 2 ^ 100)"
    )
    assert ns.query(kb, "ok(Y)")[0].bindings["Y"] == 2**1000
    with pytest.raises(ns.EvaluationError, match="more than 14000 bits"):
        ns.query(ns.parse("p(Y) :- X is 3 ^ 5000, Y is X * X."), "p(Y)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param('p :- 1 < "a".', 'cannot compare 1 < "a" (int with string) in rule', id="str"),
        pytest.param("p :- 1 < a.", "cannot compare 1 < 'a' (int with constant) in rule", id="c"),
        pytest.param("p :- [1] < [2].", "cannot compare [1] < [2] (list with list)", id="list"),
        pytest.param("p :- X is [1] + 1, X > 0.", "cannot compute [1] + 1 in rule", id="add"),
        pytest.param('p :- X is -"s", X > 0.', 'cannot negate "s" in rule', id="neg"),
        pytest.param('p :- X is abs("s"), X > 0.', 'abs("s") needs numbers, in rule', id="call"),
        pytest.param("p :- X is sqrt(-1), X > 0.", "sqrt(-1) in rule <string>:1:1: math", id="sq"),
        pytest.param(
            'v("s"). p :- X is sum { V : v(V) }, X > 0.',
            'sum over non-numbers ["s"] in rule',
            id="aggregate",
        ),
    ],
)
def test_evaluation_errors_spell_values_as_the_rule_language(text: str, message: str) -> None:
    # Was: Str(value='a'), (1,) and sqrt(-1,): Python's spellings of the values.
    with pytest.raises(ns.EvaluationError) as info:
        ns.query(ns.parse(text), "p")
    assert message in str(info.value)


def test_a_period_inside_a_goal_has_no_empty_expected_list() -> None:
    # Was: a hint reading "expected " followed by nothing.
    with pytest.raises(ns.RuleSyntaxError) as info:
        ns.query(ns.parse("p(1). q(1)."), "p(X). q(Y).")
    assert str(info.value) == "<goal>:1:5: error: unexpected '.'\n    p(X). q(Y)\n        ^"


def _table(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_fact_table_integer_past_python_digits(tmp_path: Path) -> None:
    # Was: ValueError('Exceeds the limit (4300 digits) for integer string conversion').
    path = _table(tmp_path, "t.csv", b"a," + b"7" * 5000 + b"\n")
    with pytest.raises(ns.FactsFileError) as info:
        ns.parse("", facts={"p": path})
    assert str(info.value).startswith(f"{path}:1:3: the integer 77777777777777777777... has ")
    assert "5000 digits" in str(info.value)


@pytest.mark.parametrize("predicate", ["P", "1x", "", "p-q"])
def test_fact_table_predicate_must_be_a_name(tmp_path: Path, predicate: str) -> None:
    # Was: ValueError from the AST's validation, one fact deep.
    path = _table(tmp_path, "t.csv", b"a\n")
    with pytest.raises(ns.ConfigurationError, match=f"facts: {re.escape(repr(predicate))} is not"):
        ns.parse("", facts={predicate: path})


@pytest.mark.parametrize("delimiter", ["", "ab", "\n", '"'])
def test_fact_source_delimiter_is_one_usable_character(delimiter: str) -> None:
    # Was: TypeError('"delimiter" must be a 1-character string') from the csv module, or
    # (newline, quote) a table silently read wrong.
    with pytest.raises(ns.ConfigurationError, match="the delimiter is one character"):
        ns.FactSource("t.csv", delimiter=delimiter)


@pytest.mark.parametrize(
    ("data", "cells"),
    [
        pytest.param(b'"a\nb",c\nd,e\n', [["a\nb", "c"], ["d", "e"]], id="quoted-newline"),
        pytest.param(b"a,b\x0bc,d\n", [["a", "b\x0bc", "d"]], id="vertical-tab"),
        pytest.param("a\u2028b,c\n".encode(), [["a\u2028b", "c"]], id="line-separator"),
        pytest.param(b"a\x0cb,c\n", [["a\x0cb", "c"]], id="form-feed"),
        pytest.param(b"a,b\r\nc,d\r\n", [["a", "b"], ["c", "d"]], id="crlf"),
    ],
)
def test_fact_table_rows_end_at_line_breaks_only(
    tmp_path: Path, data: bytes, cells: list[list[str]]
) -> None:
    # Was: str.splitlines() cut rows at \v, \f and U+2028 (a silent wrong table) and lost
    # the newline of a quoted cell ("a\nb" read as the constant ab).
    path = _table(tmp_path, "t.csv", data)
    kb = ns.parse("", facts={"p": ns.FactSource(path, header=False)})
    read = [[getattr(t, "name", getattr(t, "value", None)) for t in f.atom.args] for f in kb.facts]
    assert read == cells


def test_fact_table_unterminated_quote_is_an_error(tmp_path: Path) -> None:
    # Was: the rest of the file read silently as one cell.
    path = _table(tmp_path, "t.csv", b'x,y\n"a,b\nc,d\n')
    with pytest.raises(ns.FactsFileError) as info:
        ns.parse("", facts={"p": ns.FactSource(path, header=False)})
    assert str(info.value) == f"{path}:3:1: malformed table: unexpected end of data"


def test_fact_table_rows_are_numbered_by_their_first_line(tmp_path: Path) -> None:
    path = _table(tmp_path, "t.csv", b'"a\nb",c\nd\n')
    with pytest.raises(ns.FactsFileError) as info:
        ns.parse("", facts={"p": ns.FactSource(path, header=False)})
    assert str(info.value) == f"{path}:3:1: row has 1 cells, the rows before it have 2"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["check", "{ok}", "--facts", "P={csv}"],
            "neurosym check: facts: 'P' is not a predicate name",
            id="facts-predicate",
        ),
        pytest.param(
            ["query", "{ok}", "q(X)", "--facts", "p={huge_csv}"],
            ":1:1: error: the integer 99999999999999999999... has 5000 digits",
            id="facts-huge-integer",
        ),
        pytest.param(
            ["graph", "{ok}", "-o", "{tmp}/no/such/dir/g.json"],
            "neurosym graph: {tmp}/no/such/dir/g.json: cannot write the graph: [Errno 2]",
            id="graph-missing-folder",
        ),
        pytest.param(
            ["graph", "{ok}", "-o", "{tmp}/folder.json"],
            "neurosym graph: {tmp}/folder.json: cannot write the graph: [Errno 21]",
            id="graph-onto-a-directory",
        ),
        pytest.param(
            ["fmt", "{latin1}"],
            "neurosym fmt: {latin1}: cannot read the rule file: 'utf-8' codec can't decode",
            id="fmt-not-utf8",
        ),
    ],
)
def test_cli_regressions_print_one_message(
    argv: list[str],
    message: str,
    cli_files: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Was: a Python traceback (ValueError, FileNotFoundError, IsADirectoryError,
    # UnicodeDecodeError) and exit status 1.
    (Path(cli_files["tmp"]) / "folder.json").mkdir()
    status, printed = _run_cli([a.format(**cli_files) for a in argv], capsys)
    assert "Traceback" not in printed
    assert message.format(**cli_files) in printed
    assert status in {1, 2}


def test_answers_with_strings_print_as_rule_text() -> None:
    # Was: r("a<newline>b"), a string literal the parser refuses.
    kb = ns.parse('r("a\\nb\\tc").')
    (answer,) = ns.query(kb, "r(X)")
    assert answer.fact == 'r("a\\nb\\tc")'
    (fact,) = parse_text(answer.fact + ".").statements
    assert fact.atom.args[0].value == "a\nb\tc"  # type: ignore[union-attr]


def test_json_answers_are_valid_json_for_non_finite_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Was: NaN and Infinity in the output, which JSON parsers refuse.
    import json

    path = tmp_path / "n.rules"
    path.write_text("p(X) :- Y is 1e308 * 10, X is Y - Y.\nq(X) :- X is -1e308 * 10.\n")
    assert main(["query", str(path), "p(X)", "--format", "json"]) == 0
    assert main(["query", str(path), "q(X)", "--format", "json"]) == 0
    first, second = capsys.readouterr().out.split("]\n[")

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in JSON output")

    assert json.loads(first + "]", parse_constant=refuse)[0]["bindings"] == {"X": "nan"}
    assert json.loads("[" + second, parse_constant=refuse)[0]["bindings"] == {"X": "-inf"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"max_facts": -1}, "max_facts is a count >= 0, got -1", id="negative"),
        pytest.param({"max_rounds": 1.5}, "max_rounds is a count >= 0, got 1.5", id="float"),
        pytest.param({"max_seconds": float("nan")}, "max_seconds is positive", id="nan-seconds"),
        pytest.param({"max_seconds": 0}, "max_seconds is positive or None, got 0", id="0"),
    ],
)
def test_limits_are_checked(options: dict[str, object], message: str) -> None:
    # Was: accepted; a NaN time bound never fired, a negative one failed every run.
    with pytest.raises(ns.ConfigurationError, match=re.escape(message)):
        ns.Limits(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize("predicate", ["p(X)", "p(1)", "P", ""])
def test_model_facts_takes_a_predicate_name(predicate: str) -> None:
    # Was: [] for anything that is not a predicate name, as if nothing held.
    model = ns.infer(ns.parse("p(1)."))
    assert [a.fact for a in model.facts("p")] == ["p(1)"]
    with pytest.raises(ns.ConfigurationError, match="facts takes a predicate name"):
        model.facts(predicate)


DEEP = "cnt(0).\ncnt(N) :- cnt(M), M < 3000, N is M + 1.\n"
TOO_DEEP = (
    "the proof of cnt(3000) is too deep to build (more rule steps than Python's recursion "
    "allows); explain a fact nearer the facts it rests on"
)


def test_a_proof_too_deep_to_build_is_an_engine_error() -> None:
    # Was: RecursionError from the proof builder (3000 rule steps; about 300 already fail).
    kb = ns.parse(DEEP)
    (answer,) = ns.query(kb, "cnt(3000)")
    with pytest.raises(ns.EngineError) as info:
        answer.explain()
    assert str(info.value) == TOO_DEEP
    with pytest.raises(ns.EngineError, match=re.escape(TOO_DEEP)):
        ns.infer(kb).explain("cnt(3000)")
    with pytest.raises(ns.EngineError, match=re.escape(TOO_DEEP)):
        ns.why_not(kb, "cnt(3000)")
    assert ns.query(kb, "cnt(50)")[0].explain().premises  # shallow proofs still build


@pytest.mark.parametrize("extra", [[], ["--format", "json"]], ids=["text", "json"])
def test_cli_explain_of_a_too_deep_proof(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    # Was: a traceback ending in RecursionError.
    path = tmp_path / "deep.rules"
    path.write_text(DEEP, encoding="utf-8")
    status, printed = _run_cli(["query", str(path), "cnt(3000)", "--explain", *extra], capsys)
    assert status == 1
    assert f"neurosym query: {TOO_DEEP}" in printed
    assert "Traceback" not in printed
    status, printed = _run_cli(["explain", str(path), "cnt(3000)"], capsys)
    assert (status, printed.strip()) == (1, f"neurosym explain: {TOO_DEEP}")
