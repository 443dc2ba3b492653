"""Parse ``.rules`` text into the typed AST of :mod:`neurosym.lang._ast`.

The grammar (``rules.lark``) is LALR(1) and deliberately permissive: a clause starts with
an expression and the tree builder decides whether it is acceptable where it stands (an
atom as a head, a weight before ``::``), so that a misplaced construct gets a message that
names it instead of a list of tokens.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
from pathlib import Path
from typing import TypeVar

import lark
import lark.exceptions
from lark import Token, Tree

from neurosym.errors import RuleSyntaxError, Span

from . import _ast as A
from ._builder import Builder, check_depth
from ._diagnostics import make_error, syntax_error_from_lark
from ._fastparse import Unsupported, parse_body_chunk, parse_chunk, parse_simple_goal, tokenize

_T = TypeVar("_T")

_LARGE_TEXT = 1_000_000  # characters; below this the collector's work is negligible

MAX_NESTING = 100
"""Brackets may nest this deep; deeper text is refused with a clear error."""
MAX_OPERATORS = 250
"""A statement may hold this many arithmetic operators (trees stay shallow enough for
every recursive pass: printing, checking, sympy)."""
_ARITH = frozenset("+-*/^")

__all__ = ["parse_body_text", "parse_expr_text", "parse_text"]

_GRAMMAR = Path(__file__).with_name("rules.lark")


@functools.lru_cache(maxsize=1)
def _lark() -> lark.Lark:
    return lark.Lark(
        _GRAMMAR.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        start=["start", "expr", "body"],
    )


def _parse(text: str, file: str, start: str) -> Tree[Token]:
    try:
        tree = _lark().parse(text, start=start)
    except lark.exceptions.UnexpectedInput as exc:
        raise syntax_error_from_lark(exc, text, file) from None
    check_depth(tree, text, file)
    return tree


# The tree builder, the printer and the analyses recurse once or twice per level; past
# this depth Python's recursion limit (1000 frames) would end them with a RecursionError.


def parse_text(text: str, *, file: str = "<string>") -> A.Program:
    """Parse a whole ``.rules`` text.

    Plain facts and Prolog-spelled rules take a fast hand-written path
    (:mod:`._fastparse`); every other statement, and every error, goes through the lark
    grammar, which defines the language. Both give the same AST, spans included.

    Args:
        text: the source.
        file: the name used in spans and diagnostics.

    Returns:
        The :class:`~neurosym.lang.Program`.

    Raises:
        RuleSyntaxError: on the first syntax error, with position and expected input.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_text takes the rule text as str, got {type(text).__name__}")
    # Building hundreds of thousands of small nodes makes the cyclic garbage collector
    # rescan them again and again (a third of the time on 100,000 facts). They hold no
    # cycles, so the collector is paused while they are built; then they are moved to the
    # oldest generation (freeze + unfreeze: two list splices), where they would end up
    # anyway, instead of being scanned all at once by the next young collection (1.5 s
    # for such a file). The collector's enabled state is restored as it was.
    # Only for large texts: promoting everything to the oldest generation also delays the
    # collection of other young garbage, which a loop of small parses would pile up.
    if len(text) < _LARGE_TEXT or not gc.isenabled():
        return _parse_text(text, file)
    gc.disable()
    try:
        return _parse_text(text, file)
    finally:
        gc.freeze()
        gc.unfreeze()
        gc.enable()


def _parse_text(text: str, file: str) -> A.Program:
    toks, stopped, facts = tokenize(text, facts_file=file)
    statements: list[A.Statement] = []
    pending: int | None = None  # start offset of a run of statements left to lark
    start = 0
    depth = 0
    operators = 0
    for idx, tok in enumerate(toks):
        if tok.kind != "OP":
            if tok.kind == "FACT":  # a whole fact line, read at a statement boundary
                if pending is not None:
                    statements.extend(_lark_region(text, pending, tok.start, file))
                    pending = None
                statements.append(facts[idx])
                start = idx + 1
            continue
        t = tok.text
        if t in _ARITH:
            operators += 1
            if operators > MAX_OPERATORS:
                sp = Span(file, tok.line, tok.col, tok.line, tok.col + 1)
                raise make_error(
                    text,
                    file,
                    f"more than {MAX_OPERATORS} arithmetic operators in one statement",
                    sp,
                    hint="split the expression with intermediate 'is' steps",
                    code="too-deep",
                )
        elif t in "([{":
            depth += 1
            if depth > MAX_NESTING:
                sp = Span(file, tok.line, tok.col, tok.line, tok.col + 1)
                raise make_error(
                    text,
                    file,
                    f"brackets nested deeper than {MAX_NESTING} levels",
                    sp,
                    hint="split the expression with intermediate 'is' steps",
                    code="too-deep",
                )
        elif t in ")]}":
            depth -= 1
        elif t == "." and depth == 0:
            chunk = toks[start : idx + 1]
            try:
                stmt = parse_chunk(chunk, file)
            except Unsupported:
                if pending is None:
                    pending = chunk[0].start
            else:
                if pending is not None:
                    statements.extend(_lark_region(text, pending, chunk[0].start, file))
                    pending = None
                statements.append(stmt)
            start = idx + 1
            operators = 0
    if start < len(toks) or stopped is not None or pending is not None:
        # The rest (a statement without its period, a character no token starts with, or
        # statements the fast path left alone) is lark's.
        region = (
            pending
            if pending is not None
            else (toks[start].start if start < len(toks) else (stopped or 0))
        )
        if stopped is not None and start >= len(toks) and pending is None:
            region = _region_start_before(text, stopped)
        statements.extend(_lark_region(text, region, len(text), file))
    return A.Program(tuple(statements), file=file)


def _region_start_before(text: str, offset: int) -> int:
    """Start of the statement holding ``offset``: after the last '.' seen before it."""
    toks, _, _ = tokenize(text[:offset])
    for tok in reversed(toks):
        if tok.kind == "OP" and tok.text == ".":
            return tok.start + 1
    return 0


def _lark_region(text: str, begin: int, end: int, file: str) -> list[A.Statement]:
    """Parse ``text[begin:end]`` with lark; spans shifted to their place in ``text``."""
    line = text.count("\n", 0, begin) + 1
    col = begin - (text.rfind("\n", 0, begin) + 1) + 1
    region = text[begin:end]
    try:
        tree = _lark().parse(region, start="start")
    except lark.exceptions.UnexpectedInput:
        # Re-parse with the region in its place (blank before it), so positions, the
        # caret and the hints are exactly those of the whole text.
        padded = "\n" * (line - 1) + " " * (col - 1) + region
        try:
            _lark().parse(padded, start="start")
        except lark.exceptions.UnexpectedInput as exc:
            err = syntax_error_from_lark(exc, padded, file)
            raise _with_real_line(err, text) from None
        raise RuntimeError("neurosym bug: a region failed alone but parsed in place") from None
    builder = Builder(region, file)
    try:
        nodes = [builder.statement(c) for c in tree.children if isinstance(c, Tree)]
    except RuleSyntaxError as err:
        raise _with_real_line(_shift_error(err, line, col), text) from None
    except RecursionError:
        raise make_error(
            text,
            file,
            "expression too long or too deeply nested",
            Span(file, line, col, line, col + 1),
            hint="split it into several 'is' steps",
            code="too-deep",
        ) from None
    if line == 1 and col == 1:
        return nodes
    return [_shift(n, line - 1, col - 1) for n in nodes]


def _shift_span(sp: Span, dl: int, dc: int) -> Span:
    return Span(
        sp.file,
        sp.line + dl,
        sp.column + (dc if sp.line == 1 else 0),
        sp.end_line + dl,
        sp.end_column + (dc if sp.end_line == 1 else 0),
    )


def _shift(node: _T, dl: int, dc: int) -> _T:
    if isinstance(node, Span):
        return _shift_span(node, dl, dc)  # type: ignore[return-value]
    if isinstance(node, tuple):
        return tuple(_shift(x, dl, dc) for x in node)  # type: ignore[return-value]
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {f.name: _shift(getattr(node, f.name), dl, dc) for f in dataclasses.fields(node)}
        return dataclasses.replace(node, **changes)
    return node


def _shift_error(err: RuleSyntaxError, line: int, col: int) -> RuleSyntaxError:
    d = err.diagnostic
    span = _shift_span(d.span, line - 1, col - 1) if d.span is not None else None
    return RuleSyntaxError(dataclasses.replace(d, span=span))


def _with_real_line(err: RuleSyntaxError, text: str) -> RuleSyntaxError:
    d = err.diagnostic
    if d.span is None:
        return err
    lines = text.split("\n")  # lark counts lines by "\n" alone
    real = lines[d.span.line - 1].removesuffix("\r") if 0 < d.span.line <= len(lines) else ""
    return RuleSyntaxError(dataclasses.replace(d, source_line=real))


def parse_expr_text(text: str, *, file: str = "<expression>") -> A.Expr:
    """Parse one term or arithmetic expression, e.g. ``"W / H^2"``.

    Raises:
        RuleSyntaxError: when the text is not one expression.
    """
    return Builder(text, file).expr(_parse(text, file, "expr"))


def parse_body_text(text: str, *, file: str = "<goal>") -> tuple[A.BodyItem, ...]:
    """Parse a goal (a comma-separated body, no final period), e.g. ``"carnivore(X)"``.

    Example:
        >>> parse_body_text("p(X), X > 1")[1].op
        '>'

    Raises:
        RuleSyntaxError: when the text is not a goal.
    """
    stripped = text.rstrip()
    if stripped.endswith("."):
        stripped = stripped[:-1]
    simple = parse_simple_goal(stripped, file)
    if simple is not None:
        return simple
    toks, stopped, _ = tokenize(stripped)
    if stopped is None and toks:
        try:
            return parse_body_chunk(toks, file)
        except Unsupported:
            pass  # lark parses it, or says precisely what is wrong
    return Builder(text, file).body(_parse(stripped, file, "body"))
