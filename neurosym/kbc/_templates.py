"""Rule templates with predicate variables, for rule induction.

A template is a rule whose predicates are variables, such as
``#1(X, Y) :- #2(X, Z), #3(Z, Y).``: the learner chooses which relations fill them. Two
spellings are read, one template per statement, statements ending with ``.`` and free to
span lines:

- the NTP ``.nlt`` form (Rocktäschel & Riedel 2017), a count first:
  ``3  #1(X, Y) :- #2(X, Z), #3(Z, Y).``, the count being how many instantiations of the
  template the learner may keep per head relation;
- the rule-language form, with uppercase predicate variables and an optional count:
  ``P(X, Y) :- Q(X, Z), R(Z, Y).`` (count 1 when left out).

``%`` starts a comment that runs to the end of the line. The head's predicate variable
is the relation being predicted; every atom is binary and the body must be a *chain*
from the head's first argument to its second (each atom may be written either way round:
``#2(Y, X)`` reads the relation backwards). That covers the generic templates of the
literature (equivalence, inversion, symmetry, 2-hop and 3-hop chains) and is what a chain
of adjacency-matrix products can score.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import final

from neurosym.errors import ConfigurationError, Diagnostic, RuleSyntaxError, Span

__all__ = ["Template", "load_templates", "parse_templates"]

_TOKEN = re.compile(
    r"(?P<ws>\s+)|(?P<comment>%[^\n]*)|(?P<count>\d+)(?![A-Za-z_])|(?P<pvar>#\d+|[A-Z][A-Za-z0-9_]*)"
    r"|(?P<neck>:-)|(?P<punct>[(),.])"
)


@final
@dataclass(frozen=True, slots=True)
class TemplateAtom:
    """One atom of a template: a predicate variable over two term variables."""

    predicate: str
    args: tuple[str, str]

    def __str__(self) -> str:
        return f"{self.predicate}({self.args[0]}, {self.args[1]})"


@final
@dataclass(frozen=True, slots=True)
class Template:
    """A rule with predicate variables.

    Attributes:
        head: the head atom; its predicate variable stands for the predicted relation.
        body: the body atoms, a chain from ``head.args[0]`` to ``head.args[1]``.
        count: how many instantiations per head relation the learner may keep.
        span: where the template was written.

    Example:
        >>> (t,) = parse_templates("2  #1(X, Y) :- #2(X, Z), #3(Z, Y).")
        >>> str(t), t.count, t.variables
        ('#1(X, Y) :- #2(X, Z), #3(Z, Y).', 2, ('#2', '#3'))
        >>> t.path
        ((0, False), (1, False))
    """

    head: TemplateAtom
    body: tuple[TemplateAtom, ...]
    count: int
    span: Span

    @property
    def variables(self) -> tuple[str, ...]:
        """The body's predicate variables other than the head's, in order of appearance."""
        out: list[str] = []
        for a in self.body:
            if a.predicate != self.head.predicate and a.predicate not in out:
                out.append(a.predicate)
        return tuple(out)

    @property
    def path(self) -> tuple[tuple[int, bool], ...]:
        """The chain as ``(slot, reversed)`` per body atom, in walking order from the head's
        first argument: ``slot`` is the index in :attr:`variables` (``-1`` for the head's
        own predicate variable), ``reversed`` whether the atom is read backwards."""
        var_slot = {v: i for i, v in enumerate(self.variables)}
        out = []
        at = self.head.args[0]
        remaining = list(self.body)
        while remaining:
            for a in remaining:
                if at in a.args:
                    rev = a.args[1] == at and a.args[0] != at
                    out.append((var_slot.get(a.predicate, -1), rev))
                    at = a.args[0] if rev else a.args[1]
                    remaining.remove(a)
                    break
            else:  # pragma: no cover - parse_templates has checked the chain
                raise AssertionError("neurosym bug: a template body that is not a chain")
        return tuple(out)

    def __str__(self) -> str:
        return f"{self.head} :- {', '.join(str(a) for a in self.body)}."


def _error(msg: str, file: str, text: str, pos: int, end: int, hint: str | None) -> RuleSyntaxError:
    line = text.count("\n", 0, pos) + 1
    start = text.rfind("\n", 0, pos) + 1
    col = pos - start + 1
    stop = text.find("\n", start)
    src = text[start : stop if stop >= 0 else len(text)]
    end_col = col + max(1, end - pos) if "\n" not in text[pos:end] else col + 1
    return RuleSyntaxError(
        Diagnostic(
            "template", msg, Span(file, line, col, line, end_col), hint=hint, source_line=src
        )
    )


def _tokens(text: str, file: str) -> list[tuple[str, str, int]]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _error(
                f"unexpected character {text[pos]!r} in a template",
                file,
                text,
                pos,
                pos + 1,
                "templates read like '3  #1(X, Y) :- #2(X, Z), #3(Z, Y).' or 'P(X, Y) :- Q(Y, X).'",
            )
        kind = m.lastgroup or ""
        if kind not in ("ws", "comment"):
            out.append((kind, m.group(), pos))
        pos = m.end()
    return out


def parse_templates(text: str, *, file: str = "<string>") -> list[Template]:
    """Read templates from text (NTP ``.nlt`` or rule-language spelling).

    Args:
        text: the templates.
        file: the name used in diagnostics.

    Returns:
        The templates in order.

    Raises:
        RuleSyntaxError: a malformed template or one whose body is not a chain from the
            head's first argument to its second, as ``file:line:col: message``.

    Example:
        >>> [str(t) for t in parse_templates("P(X, Y) :- P(Y, X).  % symmetry")]
        ['P(X, Y) :- P(Y, X).']
        >>> try:
        ...     parse_templates("#1(X, Y) :- #2(X, Z).", file="t.nlt")
        ... except RuleSyntaxError as e:
        ...     print(str(e).splitlines()[0][:59])
        t.nlt:1:13: error: the body does not lead from X to Y: each
    """
    toks = _tokens(text, file)
    out: list[Template] = []
    i = 0

    def fail(msg: str, at: int, hint: str | None = None) -> RuleSyntaxError:
        if at < len(toks):
            _, val, pos = toks[at]
            return _error(msg, file, text, pos, pos + len(val), hint)
        return _error(msg, file, text, len(text), len(text), hint)

    def expect(kind: str, what: str) -> str:
        nonlocal i
        if i >= len(toks) or (toks[i][0] != kind and toks[i][1] != kind):
            got = repr(toks[i][1]) if i < len(toks) else "the end of the text"
            raise fail(f"expected {what}, got {got}", i)
        i += 1
        return toks[i - 1][1]

    def atom() -> tuple[TemplateAtom, int]:
        start = i
        pred = expect("pvar", "a predicate variable such as #2 or Q")
        if not pred.startswith("#") and i < len(toks) and toks[i][1] != "(":
            raise fail(f"expected '(' after {pred}", i)
        expect("(", "'('")
        a = expect("pvar", "a variable such as X")
        expect(",", "',' (template atoms are binary)")
        b = expect("pvar", "a variable such as Y")
        expect(")", "')' (template atoms are binary)")
        return TemplateAtom(pred, (a, b)), start

    while i < len(toks):
        first = i
        count = 1
        if toks[i][0] == "count":
            count = int(toks[i][1])
            if count < 1:
                raise fail("a template's count must be at least 1", i)
            i += 1
        head, head_at = atom()
        expect("neck", "':-'")
        body = []
        positions = []
        while True:
            a, at = atom()
            body.append(a)
            positions.append(at)
            if i < len(toks) and toks[i][1] == ",":
                i += 1
                continue
            expect(".", "',' or '.'")
            break
        _, _, pos0 = toks[first]
        line = text.count("\n", 0, pos0) + 1
        col = pos0 - (text.rfind("\n", 0, pos0) + 1) + 1
        tmpl = Template(head, tuple(body), count, Span(file, line, col, line, col + 1))
        x, y = head.args
        if x == y:
            raise fail(f"the head {head} needs two different variables", head_at)
        if not _is_chain(tmpl):
            raise fail(
                f"the body does not lead from {x} to {y}: each body atom must link the "
                f"previous variable to the next, as in "
                f"{head.predicate}({x}, {y}) :- #2({x}, Z), #3(Z, {y})",
                positions[0],
            )
        out.append(tmpl)
    return out


def _is_chain(t: Template) -> bool:
    at, remaining = t.head.args[0], list(t.body)
    while remaining:
        nxt = [a for a in remaining if at in a.args]
        if len(nxt) != 1:
            return False
        remaining.remove(nxt[0])
        at = nxt[0].args[0] if nxt[0].args[1] == at else nxt[0].args[1]
    return at == t.head.args[1]


def load_templates(path: str | os.PathLike[str]) -> list[Template]:
    """Read a templates file (such as NTP's ``countries_S3.nlt``); see :func:`parse_templates`.

    Raises:
        ConfigurationError: the file does not exist.
        RuleSyntaxError: a malformed template, with the file's name, line and column.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigurationError(f"{p}: no such templates file")
    return parse_templates(p.read_text(encoding="utf-8"), file=str(p))
