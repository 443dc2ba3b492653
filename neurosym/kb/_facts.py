"""Facts from CSV/TSV tables: one row a fact, numbers typed, header row optional."""

from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from neurosym.errors import ConfigurationError, FactsFileError, Span
from neurosym.lang import Atom, Const, Fact, Number, String, Term

__all__ = ["FactSource", "read_facts"]

_CONST = re.compile(r"[a-z][A-Za-z0-9_]*\Z")
_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")


@dataclass(frozen=True, slots=True)
class FactSource:
    """A table of facts for one predicate.

    Args:
        path: a ``.csv`` (comma) or ``.tsv`` (tab) file; other suffixes are sniffed.
        header: ``True``/``False`` when you know; ``None`` guesses (see :func:`read_facts`).
        delimiter: overrides the delimiter implied by the suffix.
    """

    path: str | os.PathLike[str]
    header: bool | None = None
    delimiter: str | None = None

    def __post_init__(self) -> None:
        d = self.delimiter
        if d is not None and (not isinstance(d, str) or len(d) != 1 or d in '\r\n"'):
            raise ConfigurationError(
                f"FactSource: the delimiter is one character other than a quote or a line "
                f"break, got {d!r}"
            )


def _cell_term(cell: str, span: Span) -> Term:
    text = cell.strip()
    if _INT.match(text):
        try:
            return Number(int(text), span=span)
        except ValueError:  # more digits than Python converts (4,300)
            raise FactsFileError(
                f"the integer {text[:20]}... has {len(text.lstrip('+-'))} digits, more than "
                "Python converts; quote it to keep it as text",
                span,
            ) from None
    if _FLOAT.match(text):
        value = float(text)
        if math.isfinite(value):
            return Number(value, span=span)
    if _CONST.match(text):
        return Const(text, span=span)
    return String(text, span=span)


def _looks_numeric(cell: str) -> bool:
    t = cell.strip()
    return bool(_INT.match(t) or _FLOAT.match(t))


def _guess_header(rows: list[list[str]]) -> bool:
    """A first row is a header when none of its cells is a number and some column is
    numeric below it, or its cells are not constants (``Parent``, ``child name``) while
    the cells below them are."""
    if len(rows) < 2 or any(_looks_numeric(c) for c in rows[0]):
        return False
    first, rest = rows[0], rows[1:]
    for j, title in enumerate(first):
        column = [r[j] for r in rest if j < len(r)]
        if column and all(_looks_numeric(c) for c in column):
            return True
        if (
            not _CONST.match(title.strip())
            and column
            and all(_CONST.match(c.strip()) for c in column)
        ):
            return True
    return False


def read_facts(predicate: str, source: FactSource | str | os.PathLike[str]) -> list[Fact]:
    """Read a table as ground facts of ``predicate``, one per row.

    Cells become integers, floats, constants (lowercase identifiers) or strings. Spans
    point into the table, so diagnostics name ``people.csv:12:7``.

    Raises:
        FactsFileError: a missing file, an empty cell, or rows of different lengths.
    """
    if not isinstance(predicate, str) or not _CONST.match(predicate):
        raise ConfigurationError(
            f"facts: {predicate!r} is not a predicate name (a lowercase letter, then letters, "
            "digits or '_')"
        )
    src = source if isinstance(source, FactSource) else FactSource(source)
    path = Path(src.path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FactsFileError(f"{path}: facts file for {predicate!r} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FactsFileError(f"{path}: cannot read facts for {predicate!r}: {exc}") from exc
    delimiter = src.delimiter
    if delimiter is None:
        suffix = path.suffix.lower()
        if suffix == ".tsv":
            delimiter = "\t"
        elif suffix == ".csv":
            delimiter = ","
        else:
            try:
                delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",\t;").delimiter
            except csv.Error:
                delimiter = ","
    # Rows end at line breaks only (\n, \r\n, \r), not at the other characters
    # str.splitlines() splits at (\v, \f, U+2028...); a quoted cell may span lines.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    numbered: list[tuple[int, list[str]]] = []  # (the row's first line, its cells)
    first = 1
    try:
        for row in reader:
            if row and any(c.strip() for c in row):
                numbered.append((first, row))
            first = reader.line_num + 1
    except csv.Error as exc:
        line = reader.line_num or 1
        raise FactsFileError(f"malformed table: {exc}", Span(str(path), line, 1, line, 2)) from None
    header = src.header if src.header is not None else _guess_header([r for _, r in numbered])
    if header:
        numbered = numbered[1:]
    facts: list[Fact] = []
    arity: int | None = None
    for lineno, row in numbered:
        if arity is None:
            arity = len(row)
        elif len(row) != arity:
            raise FactsFileError(
                f"row has {len(row)} cells, the rows before it have {arity}",
                Span(str(path), lineno, 1, lineno, 2),
            )
        args: list[Term] = []
        col = 1
        for cell in row:
            span = Span(str(path), lineno, col, lineno, col + max(1, len(cell)))
            if not cell.strip():
                raise FactsFileError(
                    f"empty cell in a fact of {predicate!r}; every column needs a value",
                    span,
                )
            args.append(_cell_term(cell, span))
            col += len(cell) + 1
        row_span = Span(str(path), lineno, 1, lineno, col)
        facts.append(Fact(Atom(predicate, tuple(args), span=row_span), span=row_span))
    return facts
