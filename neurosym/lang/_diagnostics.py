"""Turn lark's parse errors into :class:`~neurosym.errors.RuleSyntaxError` in plain words.

lark reports terminal names (``RPAR``, ``$END``); people want to read "')'" and "the end
of the file", and for the mistakes everyone makes (a missing period, an unclosed
parenthesis, ``=`` where ``is`` was meant, a lowercase name where a variable was meant) a
sentence that says what to do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import lark
import lark.exceptions

from neurosym.errors import Diagnostic, RuleSyntaxError, Span

__all__ = ["TERMINAL_WORDS", "make_error", "syntax_error_from_lark"]

TERMINAL_WORDS: dict[str, str] = {
    "INCLUDE": "'include'",
    "RULE": "'rule'",
    "IF": "'if'",
    "THEN": "'then'",
    "AND": "'and'",
    "WITH": "'with'",
    "NOT": "'not'",
    "IS": "'is'",
    "STATE": "'state'",
    "DYNAMIC": "'dynamic'",
    "PARAM": "'param'",
    "LAW": "'law'",
    "IMPLIED_BY": "':-'",
    "QUERY": "'?-'",
    "WEIGHT_SEP": "'::'",
    "COLON": "':'",
    "DOT": "'.'",
    "COMMA": "','",
    "LPAR": "'('",
    "RPAR": "')'",
    "LBRACKET": "'['",
    "RBRACKET": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "CMP": "a comparison (<, <=, >, >=, ==, !=)",
    "EQUALS": "'='",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "MUL_OP": "'*' or '/'",
    "CARET": "'^'",
    "NAME": "a name (lowercase, e.g. tiger)",
    "VAR": "a variable (Uppercase, e.g. X)",
    "NUMBER": "a number",
    "STRING": 'a string in double quotes ("...")',
    "$END": "the end of the file",
}

# Order in which expected items are listed: the structural ones first, operators last.
_ORDER = [
    "DOT", "COMMA", "RPAR", "RBRACKET", "RBRACE", "IMPLIED_BY", "WEIGHT_SEP", "COLON",
    "THEN", "AND", "NAME", "VAR", "NUMBER", "STRING", "LPAR", "LBRACKET", "NOT", "IS",
    "CMP", "EQUALS", "IF", "WITH", "RULE", "INCLUDE", "STATE", "PARAM", "LAW", "QUERY",
    "PLUS", "MINUS", "MUL_OP", "CARET", "LBRACE", "$END",
]  # fmt: skip
_OPERATORS = {"PLUS", "MINUS", "MUL_OP", "CARET", "CMP", "LBRACE"}
_TERM_STARTS = {"NAME", "VAR", "NUMBER", "STRING", "LPAR", "LBRACKET", "MINUS"}
_GROUPS = {
    "<operators>": "an operator (+, -, *, /, ^)",
    "<term>": "a term (a name, a variable, a number, a string or a list)",
}
_CLOSERS = {"RPAR": "(", "RBRACKET": "[", "RBRACE": "{"}
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def _words(expected: Iterable[str], *, limit: int = 6) -> str:
    names = [n for n in expected if n in TERMINAL_WORDS]
    if {"NAME", "VAR", "NUMBER"} <= set(names):
        names = [n for n in names if n not in _TERM_STARTS] + ["<term>"]
    if any(n in _OPERATORS for n in names) and any(n not in _OPERATORS for n in names):
        names = [n for n in names if n not in _OPERATORS] + ["<operators>"]
    ordered = sorted(set(names), key=lambda n: _ORDER.index(n) if n in _ORDER else 90)
    words = [_GROUPS.get(n) or TERMINAL_WORDS[n] for n in ordered]
    if len(words) > limit:
        words = [*words[:limit], "..."]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def _line(text: str, line: int) -> str:
    # lark counts lines by "\n" only; str.splitlines() also splits at \f, \v, \r, U+2028...
    # and would quote the wrong line.
    lines = text.split("\n")
    return lines[line - 1].removesuffix("\r") if 0 < line <= len(lines) else ""


def make_error(
    text: str,
    file: str,
    message: str,
    span: Span,
    *,
    hint: str | None = None,
    code: str = "syntax",
) -> RuleSyntaxError:
    """Build a :class:`RuleSyntaxError` whose diagnostic quotes the offending line."""
    return RuleSyntaxError(
        Diagnostic(code, message, span, hint=hint, source_line=_line(text, span.line))
    )


def _offset_to_pos(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def _scan_open_brackets(text: str, end: int) -> list[tuple[str, int]]:
    """The brackets still open at ``end``, skipping strings and comments."""
    stack: list[tuple[str, int]] = []
    i = 0
    while i < end:
        c = text[i]
        if c in "%#":
            nl = text.find("\n", i)
            i = end if nl < 0 else nl
            continue
        if c == '"':
            i += 1
            while i < end and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
        elif c in _PAIRS:
            stack.append((c, i))
        elif c in ")]}" and stack and _PAIRS[stack[-1][0]] == c:
            stack.pop()
        elif c == "." and not stack:
            pass
        i += 1
    return stack


def _previous_token_end(text: str, offset: int) -> int:
    """Offset just after the last non-blank, non-comment character before ``offset``."""
    i = offset
    while i > 0:
        line_start = text.rfind("\n", 0, i) + 1
        segment = text[line_start:i]
        cut = _comment_start(segment)
        if cut is not None:
            segment = segment[:cut]
        stripped = segment.rstrip()
        if stripped:
            return line_start + len(stripped)
        i = line_start - 1
    return 0


def _comment_start(segment: str) -> int | None:
    in_string = False
    j = 0
    while j < len(segment):
        c = segment[j]
        if in_string:
            if c == "\\":
                j += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "%#":
            return j
        j += 1
    return None


def _span_at(file: str, line: int, col: int, width: int = 1) -> Span:
    return Span(file, line, col, line, col + width)


def syntax_error_from_lark(exc: lark.exceptions.LarkError, text: str, file: str) -> RuleSyntaxError:
    """Convert a lark parse error into a :class:`RuleSyntaxError` with friendly words."""
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        return _unexpected_character(exc, text, file)
    if isinstance(exc, lark.exceptions.UnexpectedToken):
        return _unexpected_token(exc, text, file)
    if isinstance(exc, lark.exceptions.UnexpectedEOF):
        line = text.count("\n") + 1
        col = len(text) - (text.rfind("\n") + 1) + 1
        return make_error(
            text,
            file,
            "unexpected end of the file",
            _span_at(file, line, col),
            hint=f"expected {_words(exc.expected)}",
        )
    # Any other lark error is a bug in our grammar handling, not in the user's text.
    raise RuntimeError(f"neurosym bug: unhandled parser error {exc!r}") from exc


_CHAR_HINTS = {
    "'": 'strings use double quotes: "New York"',
    ";": "disjunction ';' is not supported: write one rule per alternative",
    "\\": "negation is written 'not p(X)'",
    "|": "disjunction is not supported: write one rule per alternative",
    "&": "conjunction is written ',' (or 'and' in if-then rules)",
    "!": "use '!=' to compare, or 'not p(X)' for negation",
    "@": None,
}


def _bad_escape(rest: str) -> int | None:
    """Index of an unknown escape in a string body that does close on its line."""
    i = 0
    while i < len(rest):
        c = rest[i]
        if c == '"':
            return None
        if c == "\\":
            if i + 1 < len(rest) and rest[i + 1] not in '\\"nt':
                return i
            i += 2
            continue
        i += 1
    return None


def _unexpected_character(
    exc: lark.exceptions.UnexpectedCharacters, text: str, file: str
) -> RuleSyntaxError:
    pos = exc.pos_in_stream or 0
    char = text[pos] if pos < len(text) else ""
    line, col = exc.line, exc.column
    if char == '"':
        rest = text[pos + 1 :].split("\n", 1)[0]
        bad = _bad_escape(rest)
        if bad is not None:
            return make_error(
                text,
                file,
                f"unknown escape {rest[bad : bad + 2]!r} in a string",
                _span_at(file, line, col + 1 + bad, 2),
                hint='the escapes are \\\\ \\" \\n and \\t',
            )
        return make_error(
            text,
            file,
            "unterminated string",
            _span_at(file, line, col),
            hint='a string ends with " on the same line; escape a quote inside it as \\"',
        )
    shown = repr(char) if char.isprintable() and char else f"U+{ord(char or ' '):04X}"
    hint = _CHAR_HINTS.get(char)
    allowed = {a for a in exc.allowed if a in TERMINAL_WORDS}
    if hint is None:
        hint = f"expected {_words(allowed)}" if allowed else None
    return make_error(
        text, file, f"unexpected character {shown}", _span_at(file, line, col), hint=hint
    )


def _unexpected_token(
    exc: lark.exceptions.UnexpectedToken, text: str, file: str
) -> RuleSyntaxError:
    tok = exc.token
    expected = set(exc.expected)
    if exc.interactive_parser is not None:
        # LALR states merge lookaheads; asking the parser which tokens it would really
        # accept here gives a much shorter, truthful list.
        with contextlib.suppress(lark.exceptions.LarkError):
            accepts: set[str] = exc.interactive_parser.accepts()  # type: ignore[no-untyped-call]
            expected = accepts or expected
    at_end = tok.type == "$END"
    offset = len(text) if at_end else int(tok.start_pos or 0)
    line, col = _offset_to_pos(text, offset) if at_end else (tok.line or 1, tok.column or 1)
    width = 1 if at_end else max(1, len(str(tok)))
    shown = "the end of the file" if at_end else f"{str(tok)!r}"
    span = _span_at(file, line, col, width)

    # An opener left open: the statement ended (or a separator came) before the closer.
    closers = [c for c in _CLOSERS if c in expected]
    if closers and tok.type in {"DOT", "$END", "IMPLIED_BY", "WEIGHT_SEP", "THEN", "RULE"}:
        stack = _scan_open_brackets(text, offset)
        if stack:
            opener, pos = stack[-1]
            oline, ocol = _offset_to_pos(text, pos)
            return make_error(
                text,
                file,
                f"unbalanced parenthesis: {opener!r} opened here is never closed",
                _span_at(file, oline, ocol),
                hint=f"add {_PAIRS[opener]!r} before {shown} at {line}:{col}",
            )
    if tok.type in _CLOSERS and tok.type not in expected:
        stack = _scan_open_brackets(text, offset)
        if stack and _PAIRS[stack[-1][0]] != str(tok):
            opener, pos = stack[-1]
            oline, ocol = _offset_to_pos(text, pos)
            return make_error(
                text,
                file,
                f"unbalanced parenthesis: {opener!r} opened here is closed by {str(tok)!r}",
                _span_at(file, oline, ocol),
                hint=f"close it with {_PAIRS[opener]!r} before {str(tok)!r} at {line}:{col}",
            )
        if not stack:
            return make_error(
                text,
                file,
                f"unbalanced parenthesis: {str(tok)!r} closes nothing",
                span,
                hint="remove it, or add the matching opening bracket",
            )

    # A statement that runs into the next line: the period was forgotten.
    if "DOT" in expected:
        prev_end = _previous_token_end(text, offset)
        pline, pcol = _offset_to_pos(text, prev_end)
        if at_end or pline < line:
            return make_error(
                text,
                file,
                "missing '.' at the end of the statement",
                _span_at(file, pline, pcol),
                hint=f"every statement ends with '.'; found {shown} at {line}:{col} instead",
            )

    if tok.type == "LPAR":
        word_start = _previous_word_start(text, offset)
        prev = text[word_start:offset].strip()
        if prev[:1].isupper():
            return make_error(
                text,
                file,
                f"{prev!r} starts with an uppercase letter, so it is a variable, not a predicate",
                _span_at(file, line, col - len(prev), len(prev)),
                hint=f"predicate names are lowercase: {prev[:1].lower() + prev[1:]!r}",
            )
    if tok.type == "EQUALS" and text[offset + 1 : offset + 2] == "<":
        return make_error(
            text,
            file,
            "'=<' is Prolog's spelling",
            _span_at(file, line, col, 2),
            hint="write '<=' for less-or-equal",
        )
    if "COMMA" in expected and tok.type in {"NAME", "VAR", "NOT"}:
        return make_error(
            text,
            file,
            f"missing ',' before {shown}",
            span,
            hint="goals in a body are separated by ',' (or 'and' in if-then rules)",
        )
    if tok.type == "EQUALS":
        return make_error(
            text,
            file,
            "'=' is not allowed here",
            span,
            hint="to compute a value write 'X is <expression>'; to compare write '=='",
        )
    if tok.type == "IS":
        prev = text[_previous_word_start(text, offset) : offset].strip()
        if prev[:1].islower():
            return make_error(
                text,
                file,
                f"the left of 'is' must be a variable, but {prev!r} is lowercase (a constant)",
                span,
                hint="variables start with an uppercase letter: "
                f"write {prev[:1].upper() + prev[1:]!r}",
            )
        return make_error(
            text,
            file,
            "'is' is allowed only in a rule body, after a variable",
            span,
            hint="write 'head :- ..., X is <expression>.'",
        )
    if tok.type == "VAR" and "NAME" in expected and "VAR" not in expected:
        return make_error(
            text,
            file,
            f"expected a lowercase name here, got the variable {str(tok)!r}",
            span,
            hint=f"names of predicates, rules, states and parameters are lowercase: "
            f"{str(tok)[:1].lower() + str(tok)[1:]!r}",
        )
    words = _words(expected)  # empty when lark lists nothing it knows a name for
    return make_error(
        text, file, f"unexpected {shown}", span, hint=f"expected {words}" if words else None
    )


def _previous_word_start(text: str, offset: int) -> int:
    i = offset
    while i > 0 and text[i - 1].isspace():
        i -= 1
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
        i -= 1
    return i
