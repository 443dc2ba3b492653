"""The exception tree of neurosym, and diagnostics with source positions.

Every error neurosym raises on purpose derives from :class:`NeurosymError` and also from
the built-in exception a caller would expect, so ``except SyntaxError`` or
``except ValueError`` keep working::

    NeurosymError
    ├── RuleSyntaxError      (SyntaxError)    a .rules text that does not parse
    ├── KnowledgeBaseError   (ValueError)     a parsed KB that is not acceptable
    │   └── IncludeError     (ImportError)    a missing or cyclic ``include``
    ├── FactsFileError       (ValueError)     a CSV/TSV facts file that cannot be read
    ├── ConfigurationError   (ValueError)     a bad option passed from Python
    ├── OptionalDependencyError (ImportError) an optional extra is not installed
    ├── EngineError          (RuntimeError)   inference that cannot go on
    │   ├── LimitError                        a derivation ran past a configured limit
    │   └── EvaluationError  (ArithmeticError) arithmetic in a rule failed
    └── SolverError          (RuntimeError)   an ODE solve that failed

This module imports nothing from neurosym, so every layer may use it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "ApproximationWarning",
    "ConfigurationError",
    "Diagnostic",
    "EngineError",
    "EvaluationError",
    "FactsFileError",
    "IncludeError",
    "KnowledgeBaseError",
    "LimitError",
    "NeurosymError",
    "OptionalDependencyError",
    "RuleSyntaxError",
    "Severity",
    "SolverError",
    "Span",
]


class Span(NamedTuple):
    """A region of a source text: 1-based line and column, end exclusive.

    An immutable named tuple: every node of a parsed file carries one, and tuples of
    strings and integers are the cheapest objects Python has (the cyclic garbage
    collector stops tracking them), which matters for files of 100,000 facts.

    Example:
        >>> Span("a.rules", 3, 5, 3, 9).start_str()
        'a.rules:3:5'
        >>> Span.checked("a.rules", 0, 1, 0, 2)
        Traceback (most recent call last):
        ...
        ValueError: a span starts at line >= 1 and column >= 1, got line 0, column 1
    """

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def checked(cls, file: str, line: int, column: int, end_line: int, end_column: int) -> Span:
        """A span, validated (``Span(...)`` itself does not check, to stay cheap)."""
        if line < 1 or column < 1:
            raise ValueError(
                f"a span starts at line >= 1 and column >= 1, got line {line}, column {column}"
            )
        return cls(file, line, column, end_line, end_column)

    def start_str(self) -> str:
        """Render ``file:line:col`` of the start."""
        return f"{self.file}:{self.line}:{self.column}"


class Severity(enum.Enum):
    """How bad a diagnostic is. Errors make ``neurosym check`` exit with status 1."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about a rule text, with where it is and what to do about it.

    Attributes:
        code: a short stable identifier, e.g. ``"undefined-predicate"``.
        message: what happened, in plain words.
        span: where; ``None`` only for findings about the whole knowledge base.
        severity: error or warning.
        hint: what to do, or what was expected.
        source_line: the text of the offending line, for the caret excerpt.
    """

    code: str
    message: str
    span: Span | None
    severity: Severity = Severity.ERROR
    hint: str | None = None
    source_line: str | None = field(default=None, compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def render(self) -> str:
        """Render as ``file:line:col: severity: message``, the line, a caret and the hint.

        Example:
            >>> d = Diagnostic("x", "bad thing", Span("f.rules", 1, 3, 1, 4),
            ...                source_line="a(b c).")
            >>> print(d.render())
            f.rules:1:3: error: bad thing
                a(b c).
                  ^
        """
        where = self.span.start_str() if self.span is not None else "<kb>"
        out = [f"{where}: {self.severity.value}: {self.message}"]
        if self.span is not None and self.source_line is not None:
            line = self.source_line.rstrip("\n").expandtabs(1)
            out.append("    " + line)
            width = 1
            if self.span.end_line == self.span.line:
                width = max(1, self.span.end_column - self.span.column)
            width = min(width, max(1, len(line) - self.span.column + 1))
            out.append("    " + " " * (self.span.column - 1) + "^" * width)
        if self.hint:
            out.append(f"    {self.hint}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()


class NeurosymError(Exception):
    """The root of every error neurosym raises on purpose."""


class RuleSyntaxError(NeurosymError, SyntaxError):
    """A rule text that does not parse.

    Carries the :class:`Diagnostic` (``.diagnostic``) with the position, the offending
    line and what was expected; ``str(err)`` is the rendered diagnostic.
    """

    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        span = diagnostic.span
        super().__init__(diagnostic.render())
        # SyntaxError's own fields, so tools that know SyntaxError can point at the text.
        if span is not None:
            self.filename = span.file
            self.lineno = span.line
            self.offset = span.column
        self.text = diagnostic.source_line
        self.msg = diagnostic.message

    def __str__(self) -> str:
        return self.diagnostic.render()


class KnowledgeBaseError(NeurosymError, ValueError):
    """A knowledge base with fatal problems (the diagnostics are in ``.diagnostics``)."""

    def __init__(self, diagnostics: Iterable[Diagnostic] | str) -> None:
        if isinstance(diagnostics, str):
            self.diagnostics: tuple[Diagnostic, ...] = ()
            super().__init__(diagnostics)
        else:
            self.diagnostics = tuple(diagnostics)
            super().__init__("\n".join(d.render() for d in self.diagnostics))


class IncludeError(KnowledgeBaseError, ImportError):
    """An ``include`` that names a missing file or closes a cycle."""


class FactsFileError(NeurosymError, ValueError):
    """A CSV/TSV facts file that cannot be read as facts (``.span``: where, when known)."""

    def __init__(self, message: str, span: Span | None = None) -> None:
        self.span = span
        self.message = message
        super().__init__(f"{span.start_str()}: {message}" if span is not None else message)


class ConfigurationError(NeurosymError, ValueError):
    """An option passed from Python that is not acceptable."""


class OptionalDependencyError(NeurosymError, ImportError):
    """An optional extra is needed but not installed; the message names the install."""


class EngineError(NeurosymError, RuntimeError):
    """Inference that cannot go on (see the subclasses)."""


class LimitError(EngineError):
    """A derivation ran past a configured limit (facts, iterations or seconds).

    ``.limit`` names the limit, ``.rule`` the rule that fired most in the last round.
    """

    def __init__(self, message: str, *, limit: str, rule: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit
        self.rule = rule


class EvaluationError(EngineError, ArithmeticError):
    """Arithmetic in a rule failed (division by zero, a type mismatch), with where and how."""


class SolverError(NeurosymError, RuntimeError):
    """An ODE solve that failed for some samples (see ``.solution`` for the partial result)."""

    def __init__(self, message: str, solution: object | None = None) -> None:
        super().__init__(message)
        self.solution = solution


class ApproximationWarning(UserWarning):
    """A computation fell back to a documented approximation (e.g. the compiled program's
    top-k proofs when the exact circuit would be too large); the result says which."""
