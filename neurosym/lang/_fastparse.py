"""A hand-written parser for the common statements, with lark as the reference.

lark's LALR parser runs at about 80,000 tokens a second in pure Python, which makes a
knowledge base of 100,000 facts take many seconds to load. Most statements in real
knowledge bases are plain facts and Prolog-spelled rules; this module parses those with
one compiled regular expression for the tokens and a small recursive-descent parser,
producing exactly the AST (spans included) that the lark path produces.

Anything outside that common subset — includes, the expert spelling, dynamics, neural
declarations, ``t(...)`` weights, reserved names — and anything that does not parse is
handed back (:class:`Unsupported`) so that the lark grammar, which remains the
definition of the language, parses it and reports errors. A differential test checks that
both paths agree on generated programs.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple, TypeVar

from neurosym.errors import Span

from . import _ast as A

__all__ = ["Unsupported", "parse_body_chunk", "parse_chunk", "tokenize"]

_L = TypeVar("_L", A.Var, A.Const, A.String)

_TOKEN = re.compile(
    r"""
    [ \t\f\r\n]*
    (?:
        (?P<COMMENT>[%\#][^\n]*)
      | (?P<NUMBER>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
      | (?P<STRING>"(?:[^"\\\n]|\\[\\"nt])*")
      | (?P<VAR>[A-Z_][A-Za-z0-9_]*)
      | (?P<NAME>[a-z][A-Za-z0-9_]*)
      | (?P<OP>:-|\?-|::|<=|>=|==|!=|[.,()\[\]{}<>=+\-*/^:])
    )
    """,
    re.VERBOSE,
)
_BLANK = re.compile(r"[ \t\f\r\n]*")
_CMP = frozenset({"<", "<=", ">", ">=", "==", "!="})
# Tokens after which a lone term is complete (no operator, call or aggregate follows).
_AFTER_TERM = frozenset({",", ")", "]", ".", ":-", "::", ":", "}"} | _CMP)
# Statement starts that the fast path leaves to lark.
_LARK_STARTS = frozenset({"include", "if", "state", "param", "law", "dynamic"})
_RESERVED_CALLS = frozenset({"der", "nn", "t"})


class Unsupported(Exception):
    """This text is outside the fast subset (or malformed): parse it with lark."""


class Tok(NamedTuple):
    kind: str  # NUMBER STRING VAR NAME OP
    text: str
    line: int
    col: int
    start: int


def tokenize(
    text: str, *, facts_file: str | None = None
) -> tuple[list[Tok], int | None, dict[int, A.Fact]]:
    """The significant tokens of ``text``, where tokenizing stopped early (or None), and
    the facts read whole.

    With ``facts_file``, a plain fact at a statement boundary (``p(a, 1).``, ``0.9 ::
    q(b).``, ``rule o1: r(c).``) is read by one regular expression into a
    :class:`~neurosym.lang.Fact` and stands in the token list as one ``FACT`` token (its
    node in the returned dict, by token index): large fact files are mostly such lines,
    and so is the text a consultation adds. Tokenizing stops at a character no token
    starts with; lark reports it.
    """
    out: list[Tok] = []
    append = out.append
    make = tuple.__new__  # Tok's own __new__ is a Python function; this is the C one
    count, rfind, match = text.count, text.rfind, _TOKEN.match
    fact_match = _FACT_LINE.match
    facts: dict[int, A.Fact] = {}
    line, line_start, pos, n = 1, 0, 0, len(text)
    depth = 0
    boundary = True  # the last token ended a statement (or there is none yet)
    while pos < n:
        if facts_file is not None and boundary:
            # A run of plain facts: one regular expression each, no tokens.
            while True:
                fm = fact_match(text, pos)
                if fm is None:
                    break
                fact = _fact_from_line(fm, facts_file, line, line_start)
                if fact is None:
                    break
                head = fm.start("head")
                facts[len(out)] = fact
                append(make(Tok, ("FACT", "", line, head - line_start + 1, head)))
                pos = fm.end()
                if fm.start("eol") < 0:
                    continue  # another statement follows on this line
                if pos < n and text[pos] == "\n":
                    pos += 1
                    line += 1
                    line_start = pos
                else:
                    break
            if pos >= n:
                break  # ordinary tokens go on from here otherwise
        m = match(text, pos)
        if m is None:
            stop = _BLANK.match(text, pos).end()  # type: ignore[union-attr]
            return out, (None if stop >= n else stop), facts
        kind = m.lastgroup or ""  # one alternative always matched
        start = m.start(kind)
        newlines = count("\n", pos, start)
        if newlines:
            line += newlines
            line_start = rfind("\n", pos, start) + 1
            if facts_file is not None and boundary and kind != "COMMENT":
                pos = line_start  # look at the new line whole first
                continue
        pos = m.end()
        if kind != "COMMENT":
            tok_text = text[start:pos]
            append(make(Tok, (kind, tok_text, line, start - line_start + 1, start)))
            if kind == "OP":
                if tok_text in "([{":
                    depth += 1
                elif tok_text in ")]}":
                    depth -= 1
                boundary = tok_text == "." and depth == 0
            else:
                boundary = False
    return out, None, facts


_NUM = r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_FACT_LINE = re.compile(
    rf"""
    [ \t\f\r]*
    (?P<head>
      (?:rule[ \t]+(?P<rname>[a-z][A-Za-z0-9_]*)[ \t]*:(?![-:])[ \t]*)?
      (?:(?P<w>-?[ \t]*{_NUM})[ \t]*::[ \t]*)?
      (?P<name>[a-z][A-Za-z0-9_]*)
      (?:[ \t]*\((?P<args>[^()\[\]"%\#\n:]*)\))?
      [ \t]*\.
    )
    (?P<eol>[ \t\f\r]*(?:[%\#][^\n]*)?(?=\n|\Z))?
    """,
    re.VERBOSE,
)
_ARG = re.compile(
    rf"[ \t]*(?:(?P<neg>-[ \t]*)?(?P<num>{_NUM})|(?P<var>[A-Z_][A-Za-z0-9_]*)"
    r"|(?P<const>[a-z][A-Za-z0-9_]*))[ \t]*\Z"
)
_FLOAT_INT = 2**1023  # integers above this may not convert to a float (OverflowError)
_NOT_FACTS = frozenset({"include", "rule", "if", "state", "param", "law", "der", "nn", "dynamic"})
# Keywords of the grammar: not taken as a rule's name here (lark decides).
_KEYWORDS = frozenset(
    {"include", "rule", "if", "then", "and", "with", "not", "is", "state", "dynamic", "param",
     "law"}
)  # fmt: skip


_G = _FACT_LINE.groupindex
_HEAD, _RNAME, _W, _NAME, _ARGS = _G["head"], _G["rname"], _G["w"], _G["name"], _G["args"]
_BLANKS = " \t"


def _fact_from_line(m: re.Match[str], file: str, line: int, line_start: int) -> A.Fact | None:
    """The fact of a matched line, or None when an argument is not a plain term."""
    new, setattr_, span_new = _new, _set, _tuple_new
    regs = m.regs  # the spans of all groups at once (a fact is read per call, in bulk)
    text = m.string
    n0, n1 = regs[_NAME]
    name = text[n0:n1]
    if name in _NOT_FACTS:
        return None
    r0, r1 = regs[_RNAME]
    rule_name = text[r0:r1] if r0 >= 0 else None
    if rule_name is not None and rule_name in _KEYWORDS:
        return None
    base = line_start - 1  # column = offset - base
    weight: A.FixedWeight | None = None
    w0, w1 = regs[_W]
    if w0 >= 0:
        w = _number_text(text[w0:w1])
        if w is None or (isinstance(w, int) and abs(w) > _FLOAT_INT):
            return None  # lark judges a weight too large for a float
        weight = _new(A.FixedWeight)
        _set(weight, "value", float(w))
        _set(weight, "span", _span(file, line, w0 - base, line, w1 - base))
    args: list[A.Term] = []
    a0, a1 = regs[_ARGS]
    raw = text[a0:a1] if a0 >= 0 else None
    if raw is not None and raw.strip():
        offset = a0 - base
        for part in raw.split(","):
            # most arguments are a lone name or variable: no regular expression for those
            word = part.strip(_BLANKS)
            first = word[:1]
            if ("a" <= first <= "z" or "A" <= first <= "Z" or first == "_") and (
                word.isascii() and word.isidentifier()
            ):
                s0 = offset + len(part) - len(part.lstrip(_BLANKS))
                leaf: A.Const | A.Var = new(A.Const if "a" <= first <= "z" else A.Var)  # type: ignore[assignment]
                setattr_(leaf, "name", word)
                setattr_(leaf, "span", span_new(Span, (file, line, s0, line, s0 + len(word))))
                args.append(leaf)
                offset += len(part) + 1
                continue
            if "0" <= first <= "9" and len(word) <= 18 and word.isascii() and word.isdigit():
                s0 = offset + len(part) - len(part.lstrip(_BLANKS))  # a whole number
                node = new(A.Number)
                setattr_(node, "value", int(word))
                setattr_(node, "span", span_new(Span, (file, line, s0, line, s0 + len(word))))
                args.append(node)
                offset += len(part) + 1
                continue
            am = _ARG.match(part)
            if am is None:
                return None
            first_num = am.start("neg") if am.group("neg") is not None else am.start("num")
            if am.group("num") is None:
                return None
            end = am.end("num")
            value = _number_text(part[first_num:end])
            if value is None:
                return None
            node = _new(A.Number)
            _set(node, "value", value)
            _set(node, "span", _span(file, line, offset + first_num, line, offset + end))
            args.append(node)
            offset += len(part) + 1
    # the closing parenthesis (possibly after spaces), or the end of the name
    atom_end = (text.index(")", a1) + 1 if raw is not None else n1) - base
    atom = new(A.Atom)
    setattr_(atom, "predicate", name)
    setattr_(atom, "args", tuple(args))
    setattr_(atom, "span", span_new(Span, (file, line, n0 - base, line, atom_end)))
    fact = new(A.Fact)
    setattr_(fact, "atom", atom)
    setattr_(fact, "weight", weight)
    setattr_(fact, "name", rule_name)
    h0, h1 = regs[_HEAD]
    setattr_(fact, "span", span_new(Span, (file, line, h0 - base, line, h1 - base)))
    return fact


def _number_text(raw: str) -> int | float | None:
    """The value of a (possibly negative) number literal, or None where lark must judge."""
    text = raw.replace(" ", "").replace("\t", "")
    try:
        value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:  # e.g. more digits than Python converts
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _decode(raw: str) -> str:
    if "\\" not in raw:
        return raw[1:-1]
    out: list[str] = []
    body, i = raw[1:-1], 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            out.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"'}[body[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


# Trusted constructors. The tokens already have the shape the AST validates (a NAME token
# is a valid constant, a VAR token a valid variable), so the fast path skips
# ``__post_init__``: constructing AST nodes is most of the cost of loading large files.
_new = object.__new__
_set = object.__setattr__


def _span(file: str, line: int, col: int, end_line: int, end_col: int) -> Span:
    return _tuple_new(Span, (file, line, col, end_line, end_col))


_tuple_new = tuple.__new__


def _leaf(cls: type[_L], attr: str, value: object, span: Span) -> _L:
    node = _new(cls)
    _set(node, attr, value)
    _set(node, "span", span)
    return node


class _Parser:
    """Recursive descent over one statement's tokens; positions are token indices."""

    __slots__ = ("file", "toks")

    def __init__(self, toks: list[Tok], file: str) -> None:
        self.toks = toks
        self.file = file

    def span(self, i: int, j: int) -> Span:
        a, b = self.toks[i], self.toks[j]
        return _span(self.file, a[2], a[3], b[2], b[3] + len(b[1]))

    def peek(self, i: int) -> Tok:
        if i >= len(self.toks):
            raise Unsupported
        return self.toks[i]

    def expect(self, i: int, text: str) -> int:
        if self.peek(i).text != text or self.toks[i].kind not in {"OP"}:
            raise Unsupported
        return i + 1

    # ------------------------------------------------------------ statements
    def statement(self) -> A.Statement:
        toks = self.toks
        first = toks[0]
        if first.kind == "NAME" and first.text in _LARK_STARTS:
            raise Unsupported
        if first.kind == "OP" and first.text in {":-", "?-"}:
            body, i = self.body(1)
            self.end(i)
            sp = self.span(0, i)
            if first.text == ":-":
                return A.Constraint(body, span=sp)
            return A.Query(body, span=sp)
        name = None
        start = 0
        if first.kind == "NAME" and first.text == "rule":
            if self.peek(1).kind != "NAME":
                raise Unsupported
            name = self.toks[1].text
            start = self.expect(2, ":")
            if self.peek(start).kind == "NAME" and self.toks[start].text == "if":
                raise Unsupported
        e, _, i = self.expr(start)
        weight: A.Weight | None = None
        tok = self.peek(i)
        if tok.text == "::" and tok.kind == "OP":
            if not isinstance(e, A.Number) or abs(e.value) > _FLOAT_INT:
                raise Unsupported  # lark reports a weight too large for a float
            weight = A.FixedWeight(float(e.value), span=e.span)
            e, _, i = self.expr(i + 1)
            tok = self.peek(i)
        head = self.atom(e)
        if tok.text == "." and tok.kind == "OP":
            self.end(i)
            return A.Fact(head, weight, name=name, span=self.span(0, i))
        if tok.text == ":-" and tok.kind == "OP":
            body, i = self.body(i + 1)
            self.end(i)
            return A.Rule(head, body, weight, name, span=self.span(0, i))
        raise Unsupported

    def end(self, i: int) -> None:
        if i != len(self.toks) - 1 or self.toks[i].text != ".":
            raise Unsupported

    # ------------------------------------------------------------ bodies
    def body(self, i: int) -> tuple[tuple[A.BodyItem, ...], int]:
        items: list[A.BodyItem] = []
        while True:
            item, i = self.body_item(i)
            items.append(item)
            tok = self.peek(i)
            if tok.kind == "OP" and tok.text == ",":
                i += 1
                continue
            return tuple(items), i

    def body_item(self, i: int) -> tuple[A.BodyItem, int]:
        tok = self.peek(i)
        if tok.kind == "NAME" and tok.text == "not":
            e, last, j = self.expr(i + 1)
            return A.Literal_(self.goal(e), negated=True, span=self.span(i, last)), j
        if tok.kind == "VAR":
            nxt = self.peek(i + 1)
            if nxt.kind == "NAME" and nxt.text == "is":
                e, last, j = self.expr(i + 2)
                var = A.Var(tok.text, span=self.span(i, i))
                return A.Assign(var, e, span=self.span(i, last)), j
        left, last, j = self.expr(i)
        nxt = self.peek(j)
        if nxt.kind == "OP" and nxt.text in _CMP:
            right, last2, k = self.expr(j + 1)
            op = nxt.text
            return A.Comparison(op, left, right, span=self.span(i, last2)), k  # type: ignore[arg-type]
        return A.Literal_(self.goal(left), span=self.span(i, last)), j

    def goal(self, e: A.Expr) -> A.Atom:
        if isinstance(e, A.Var):
            raise Unsupported
        return self.atom(e)

    def atom(self, e: A.Expr) -> A.Atom:
        if isinstance(e, A.Const):
            return A.Atom(e.name, (), span=e.span)
        if isinstance(e, A.Call) and e.func not in _RESERVED_CALLS:
            for a in e.args:
                if not isinstance(a, A.Var | A.Const | A.Number | A.String | A.ListTerm):
                    raise Unsupported
            return A.Atom(e.func, e.args, span=e.span)  # type: ignore[arg-type]
        raise Unsupported

    # ------------------------------------------------------------ expressions
    # Each returns (node, index of its last token (parentheses included), next index).
    def expr(self, i: int) -> tuple[A.Expr, int, int]:
        toks = self.toks
        # Most arguments are a lone name, variable or number followed by ',' or ')':
        # build them directly instead of descending through every precedence level.
        if i + 1 < len(toks):
            nxt = toks[i + 1]
            if nxt[0] == "OP" and nxt[1] in _AFTER_TERM:
                tok = toks[i]
                kind = tok[0]
                if kind == "NAME":
                    return _leaf(A.Const, "name", tok[1], self.span(i, i)), i, i + 1
                if kind == "VAR":
                    return _leaf(A.Var, "name", tok[1], self.span(i, i)), i, i + 1
        left, last, j = self.product(i)
        while True:
            tok = self.peek(j)
            if tok.kind == "OP" and tok.text in {"+", "-"}:
                right, last, j = self.product(j + 1)
                op = tok.text
                left = A.BinOp(op, left, right, span=self.span(i, last))  # type: ignore[arg-type]
            else:
                return left, last, j

    def product(self, i: int) -> tuple[A.Expr, int, int]:
        left, last, j = self.unary(i)
        while True:
            tok = self.peek(j)
            if tok.kind == "OP" and tok.text in {"*", "/"}:
                right, last, j = self.unary(j + 1)
                op = tok.text
                left = A.BinOp(op, left, right, span=self.span(i, last))  # type: ignore[arg-type]
            else:
                return left, last, j

    def unary(self, i: int) -> tuple[A.Expr, int, int]:
        tok = self.peek(i)
        if tok.kind == "OP" and tok.text == "-":
            nxt = self.peek(i + 1)
            operand, last, j = self.unary(i + 1)
            sp = self.span(i, last)
            if nxt.kind == "NUMBER" and last == i + 1 and isinstance(operand, A.Number):
                return A.Number(-operand.value, span=sp), last, j
            return A.Neg(operand, span=sp), last, j
        return self.power(i)

    def power(self, i: int) -> tuple[A.Expr, int, int]:
        base, last, j = self.primary(i)
        tok = self.toks[j] if j < len(self.toks) else None
        if tok is not None and tok.kind == "OP" and tok.text == "^":
            exponent, last, j = self.unary(j + 1)
            return A.BinOp("^", base, exponent, span=self.span(i, last)), last, j
        return base, last, j

    def primary(self, i: int) -> tuple[A.Expr, int, int]:
        tok = self.peek(i)
        kind = tok.kind
        if kind == "NUMBER":
            text = tok.text
            value: int | float = (
                float(text) if ("." in text or "e" in text or "E" in text) else int(text)
            )
            return A.Number(value, span=self.span(i, i)), i, i + 1
        if kind == "VAR":
            return _leaf(A.Var, "name", tok.text, self.span(i, i)), i, i + 1
        if kind == "STRING":
            return _leaf(A.String, "value", _decode(tok.text), self.span(i, i)), i, i + 1
        if kind == "NAME":
            nxt = self.toks[i + 1] if i + 1 < len(self.toks) else None
            if nxt is not None and nxt.kind == "OP" and nxt.text == "(":
                if tok.text in _RESERVED_CALLS:
                    raise Unsupported
                args, j = self.args(i + 2, ")")
                return A.Call(tok.text, args, span=self.span(i, j)), j, j + 1
            if nxt is not None and nxt.kind == "OP" and nxt.text == "{":
                return self.aggregate(i)
            return _leaf(A.Const, "name", tok.text, self.span(i, i)), i, i + 1
        if kind == "OP" and tok.text == "(":
            inner, _, j = self.expr(i + 1)
            if self.peek(j).text != ")" or self.toks[j].kind != "OP":
                raise Unsupported
            return inner, j, j + 1
        if kind == "OP" and tok.text == "[":
            items, j = self.args(i + 1, "]")
            for item in items:
                if not isinstance(item, A.Var | A.Const | A.Number | A.String | A.ListTerm):
                    raise Unsupported
            return A.ListTerm(items, span=self.span(i, j)), j, j + 1  # type: ignore[arg-type]
        raise Unsupported

    def args(self, i: int, close: str) -> tuple[tuple[A.Expr, ...], int]:
        """Comma-separated expressions up to ``close``; returns them and the closer's index."""
        tok = self.peek(i)
        if tok.kind == "OP" and tok.text == close:
            return (), i
        out: list[A.Expr] = []
        while True:
            e, _, i = self.expr(i)
            out.append(e)
            tok = self.peek(i)
            if tok.kind != "OP":
                raise Unsupported
            if tok.text == ",":
                i += 1
            elif tok.text == close:
                return tuple(out), i
            else:
                raise Unsupported

    def aggregate(self, i: int) -> tuple[A.Expr, int, int]:
        op = self.toks[i].text
        if op not in A.AGGREGATE_OPS:
            raise Unsupported
        template, j = self.args(i + 2, ":")
        if not template:
            raise Unsupported
        body, j = self.body(j + 1)
        tok = self.peek(j)
        if tok.kind != "OP" or tok.text != "}":
            raise Unsupported
        sp = self.span(i, j)
        return A.Aggregate(op, template, body, span=sp), j, j + 1  # type: ignore[arg-type]


def parse_chunk(toks: list[Tok], file: str) -> A.Statement:
    """Parse one statement's tokens (ending with its '.').

    Raises:
        Unsupported: outside the fast subset or not well formed; use lark.
    """
    try:
        return _Parser(toks, file).statement()
    except (IndexError, KeyError, ValueError, TypeError, RecursionError) as exc:
        raise Unsupported from exc


def parse_body_chunk(toks: list[Tok], file: str) -> tuple[A.BodyItem, ...]:
    """Parse a goal's tokens (a body without its final period).

    Raises:
        Unsupported: outside the fast subset or not well formed; use lark.
    """
    last = toks[-1]
    # A period after the last token ends the body, as it ends a statement.
    end = tuple.__new__(Tok, ("OP", ".", last.line, last.col + len(last.text), last.start + 1))
    try:
        body, i = _Parser([*toks, end], file).body(0)
    except (IndexError, KeyError, ValueError, TypeError, RecursionError) as exc:
        raise Unsupported from exc
    if i != len(toks):
        raise Unsupported
    return body


_GOAL = re.compile(r"[ \t]*([a-z][A-Za-z0-9_]*)[ \t]*\(([^()\[\]\"%\#\n:.{}]*)\)[ \t]*\Z")
_GOAL_ARG = re.compile(r"[ \t]*(?:([0-9]+)|([A-Z_][A-Za-z0-9_]*)|([a-z][A-Za-z0-9_]*))[ \t]*\Z")
_NOT_GOALS = _KEYWORDS | _RESERVED_CALLS


def parse_simple_goal(text: str, file: str) -> tuple[A.BodyItem, ...] | None:
    """A goal that is one positive literal over names, variables and whole numbers on one
    line (``species(a7, S)``), read by a regular expression; ``None`` for anything else."""
    m = _GOAL.match(text)
    if m is None:
        return None
    name = m.group(1)
    if name in _NOT_GOALS:
        return None
    args: list[A.Term] = []
    raw = m.group(2)
    if raw.strip():
        offset = m.start(2) + 1  # columns count from 1
        for part in raw.split(","):
            am = _GOAL_ARG.match(part)
            if am is None:
                return None
            s0, s1 = am.span(am.lastindex or 0)
            sp = _span(file, 1, offset + s0, 1, offset + s1)
            number, var, const = am.groups()
            if const is not None:
                if const in _NOT_GOALS:
                    return None
                args.append(_leaf(A.Const, "name", const, sp))
            elif var is not None:
                args.append(_leaf(A.Var, "name", var, sp))
            else:
                args.append(A.Number(int(number), span=sp))
            offset += len(part) + 1
    sp = _span(file, 1, m.start(1) + 1, 1, m.end(2) + 2)
    atom = _new(A.Atom)
    _set(atom, "predicate", name)
    _set(atom, "args", tuple(args))
    _set(atom, "span", sp)
    return (A.Literal_(atom, span=sp),)
