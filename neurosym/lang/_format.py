"""Canonical formatting of a whole source file, keeping its comments and paragraphs.

``format_program`` prints an AST; a file also has comments and blank lines that the AST
does not hold. Here each comment keeps its place: a comment on the line where a statement
ends stays at the end of that statement's line; any other comment stays on its own line
before the statement that follows it. One blank line is kept wherever the source had one
or more.
"""

from __future__ import annotations

import re

from ._parser import parse_text
from ._printer import format_statement

__all__ = ["format_source"]

_SCAN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[%#][^\n]*|\n|[^"%#\n]+|"')


def _comments(text: str) -> list[tuple[int, str]]:
    """``(line, text)`` of every comment, strings skipped."""
    out: list[tuple[int, str]] = []
    line = 1
    for m in _SCAN.finditer(text):
        tok = m.group()
        if tok == "\n":
            line += 1
        elif tok[0] in "%#":
            out.append((line, tok.rstrip()))
    return out


def format_source(text: str, *, file: str = "<string>") -> str:
    """Canonical text of a rule file, comments and paragraph breaks kept.

    Example:
        >>> print(format_source("% birds\\nflies(X):-bird(X).  % most do\\n\\n\\nbird(a)."), end="")
        % birds
        flies(X) :- bird(X).  % most do
        <BLANKLINE>
        bird(a).

    Raises:
        RuleSyntaxError: the text does not parse (nothing is formatted).
    """
    program = parse_text(text, file=file)
    lines = text.split("\n")
    comments = _comments(text)
    out: list[str] = []
    last_line = 0  # the last source line accounted for
    ci = 0

    def gap_before(line: int) -> None:
        # A blank source line between what was emitted and `line` becomes one blank line.
        blank = any(not lines[k - 1].strip() for k in range(last_line + 1, line))
        if out and blank and out[-1] != "":
            out.append("")

    for s in program.statements:
        if s.span is None:
            raise RuntimeError("neurosym bug: a parsed statement has no span")
        start, end = s.span.line, s.span.end_line
        # Comments before the statement, or inside a multi-line one, go before it.
        while ci < len(comments) and comments[ci][0] < end:
            cline, ctext = comments[ci]
            gap_before(cline)
            out.append(ctext)
            last_line = max(last_line, cline)
            ci += 1
        gap_before(start)
        rendered = format_statement(s)
        if ci < len(comments) and comments[ci][0] == end:
            rendered += "  " + comments[ci][1]
            ci += 1
        out.append(rendered)
        last_line = end
    for cline, ctext in comments[ci:]:
        gap_before(cline)
        out.append(ctext)
        last_line = cline
    return "".join(line + "\n" for line in out)
