"""Ground values of the engine: constants are ``str``, numbers ``int``/``float``, strings
:class:`Str`, lists tuples. Plain Python values hash fast and compare naturally."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from neurosym.lang import Const, ListTerm, Number, String, Term, Var

__all__ = ["Str", "Value", "format_fact", "format_value", "term_value"]


@dataclass(frozen=True, slots=True, order=True)
class Str:
    """A string literal (distinct from the constant of the same spelling)."""

    value: str

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        # As the printer does: a newline cannot stand in a string literal.
        escaped = escaped.replace("\n", "\\n").replace("\t", "\\t")
        return f'"{escaped}"'


Value: TypeAlias = "str | int | float | Str | tuple[Value, ...]"


def term_value(t: Term) -> Value:
    """The ground value of a ground term.

    Raises:
        ValueError: a variable (callers check groundness first).
    """
    if isinstance(t, Const):
        return t.name
    if isinstance(t, Number):
        return t.value
    if isinstance(t, String):
        return Str(t.value)
    if isinstance(t, ListTerm):
        return tuple(term_value(i) for i in t.items)
    if isinstance(t, Var):
        raise ValueError(f"variable {t.name} where a ground term was expected")
    raise TypeError(f"not a term: {type(t).__name__}")


def format_value(v: Value) -> str:
    """Rule-language spelling of a ground value."""
    if isinstance(v, tuple):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def format_fact(predicate: str, args: tuple[Value, ...]) -> str:
    """``p(a, 1)`` or ``p``."""
    if not args:
        return predicate
    return f"{predicate}(" + ", ".join(format_value(a) for a in args) + ")"
