"""The :class:`KnowledgeBase`: statements from files, includes and tables, as one object."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, final

from neurosym.errors import (
    ConfigurationError,
    Diagnostic,
    IncludeError,
    KnowledgeBaseError,
    Severity,
    Span,
)
from neurosym.lang import (
    Constraint,
    Derivative,
    DynamicDecl,
    Fact,
    Include,
    Law,
    NeuralDecl,
    ParamDecl,
    Program,
    Query,
    Rule,
    StateDecl,
    Statement,
    format_statement,
    parse_text,
)

from ._facts import FactSource, read_facts
from ._summary import FactSummary

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["KnowledgeBase", "load", "parse"]

_S = TypeVar("_S")
_NAMED = (Rule, Fact)  # the statements that can have a name, for add() and remove()

FactsArg = Mapping[str, "FactSource | str | os.PathLike[str]"]

_SMALL = 256
"""Below this many facts, the static checks read the facts when most have changed, rather
than keep counts over them."""


@final
class KnowledgeBase:
    """Statements of one or more ``.rules`` files (includes resolved) and fact tables.

    Build one with :func:`neurosym.load` or :func:`neurosym.parse`. The statements are
    immutable AST nodes; the knowledge base itself can grow and shrink at run time with
    :meth:`add` and :meth:`remove`.

    Example:
        >>> import neurosym as ns
        >>> kb = ns.parse("has_hair(tiger). mammal(X) :- has_hair(X).")
        >>> len(kb.facts), len(kb.rules)
        (1, 1)
        >>> sorted(kb.graph.nodes)
        ['has_hair/1', 'mammal/1', 'rule:<string>:1:18']
    """

    def __init__(
        self,
        statements: Iterable[Statement] = (),
        *,
        sources: Mapping[str, str] | None = None,
        files: Iterable[str] = (),
    ) -> None:
        self._statements: list[Statement] = []
        self._sources: dict[str, str] = dict(sources or {})
        self._files: tuple[str, ...] = tuple(files)
        self._graph: nx.MultiDiGraph | None = None
        self._lines: dict[str, list[str]] = {}
        self._kinds: dict[type, tuple[Statement, ...]] | None = None
        self._diagnostics: tuple[Diagnostic, ...] | None = None
        self._version = 0
        # Bumped when a rule (resp. any statement but a fact) comes or goes: analyses of
        # the rules alone are kept while these stay, however the facts change.
        self._rules_version = 0
        self._structure_version = 0
        self._added_live: dict[str, int] = {}  # statements left from each add() text
        self._named: dict[str, list[Statement]] = {}  # rules and facts by name, in order
        #: Results derived from individual (immutable) statements, kept across changes by
        #: the layers that compute them (static checks, compiled rules), keyed by id().
        self.memo: dict[str, dict[int, tuple[Statement, Any]]] = {}
        self._rule_memo: dict[str, tuple[tuple[int, int], Any]] = {}
        self._added = 0
        # Facts added (+1) and removed (-1), in order, for layers that keep their own
        # view of the facts up to date instead of rebuilding it (see fact_changes).
        self._fact_log: list[tuple[int, Fact]] = []
        self._fact_log_base = 0  # the log position of _fact_log[0]
        #: A layer's incrementally maintained view of the facts (the engine's compiled facts).
        self.fact_views: dict[str, tuple[int, Any]] = {}
        self._fact_count = 0
        # Counts over the facts for the static checks (see fact_summary), with the log
        # position they have read up to; None: not kept (made from the facts when wanted).
        self._fact_summary: FactSummary | None = None
        self._summary_at = 0
        for s in statements:
            self._append(s)
        # a view made from scratch reads the facts themselves, not their log
        self._fact_log_base, self._fact_log = len(self._fact_log), []

    # ------------------------------------------------------------------ contents
    def _append(self, s: Statement) -> None:
        if isinstance(s, Include):
            raise ConfigurationError(
                "includes are resolved when loading; add the included file's statements instead"
            )
        self._statements.append(s)
        if isinstance(s, _NAMED) and s.name is not None:
            self._named.setdefault(s.name, []).append(s)
        self._changed(s, +1)

    def _changed(self, s: Statement, step: int) -> None:
        if self._kinds is not None:
            self._kinds.pop(type(s), None)
        self._diagnostics = None
        self._version += 1
        if type(s) is Fact:
            self._fact_log.append((step, s))
            self._fact_count += step
        else:
            self._structure_version += 1
            if isinstance(s, Rule):
                self._rules_version += 1
        file = s.span.file if s.span is not None else None
        if file is not None and file.startswith("<added "):
            left = self._added_live.get(file, 0) + step
            if left > 0:
                self._added_live[file] = left
            else:  # text given to add() is kept for diagnostics while a statement remains
                self._added_live.pop(file, None)
                self._sources.pop(file, None)
                self._lines.pop(file, None)

    @property
    def statements(self) -> tuple[Statement, ...]:
        """Every statement, includes expanded in place, in source order."""
        return tuple(self._statements)

    def _of(self, kind: type[_S]) -> tuple[_S, ...]:
        # Kept per kind until a statement of that kind comes or goes: the checks ask for
        # facts and rules many times, and adding a fact leaves the rules' tuple as it is.
        if self._kinds is None:
            self._kinds = {}
        found = self._kinds.get(kind)
        if found is None:
            found = self._kinds[kind] = tuple([s for s in self._statements if type(s) is kind])
        return found  # type: ignore[return-value]

    @property
    def facts(self) -> tuple[Fact, ...]:
        return self._of(Fact)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._of(Rule)

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        return self._of(Constraint)

    @property
    def queries(self) -> tuple[Query, ...]:
        return self._of(Query)

    @property
    def neural(self) -> tuple[NeuralDecl, ...]:
        return self._of(NeuralDecl)

    @property
    def states(self) -> tuple[str, ...]:
        return tuple(n for s in self._of(StateDecl) for n in s.names)

    @property
    def dynamic(self) -> frozenset[tuple[str, int]]:
        """``(predicate, arity)`` declared ``dynamic``: defined even without facts."""
        return self.memoised_structure(  # type: ignore[no-any-return]
            "kb.dynamic", lambda: frozenset(p for d in self._of(DynamicDecl) for p in d.predicates)
        )

    @property
    def params(self) -> tuple[ParamDecl, ...]:
        return self._of(ParamDecl)

    @property
    def derivatives(self) -> tuple[Derivative, ...]:
        return self._of(Derivative)

    @property
    def laws(self) -> tuple[Law, ...]:
        return self._of(Law)

    @property
    def version(self) -> int:
        """Grows by one at every change (``add``, ``remove``): compiled forms check it."""
        return self._version

    @property
    def files(self) -> tuple[str, ...]:
        """The rule files read, the top file first, then includes in the order met."""
        return self._files

    @property
    def sources(self) -> Mapping[str, str]:
        """The text of every file read, by the name used in spans."""
        return dict(self._sources)

    def __len__(self) -> int:
        return len(self._statements)

    def __iter__(self) -> Iterator[Statement]:
        return iter(tuple(self._statements))

    def __repr__(self) -> str:
        return (
            f"<KnowledgeBase: {len(self.facts)} facts, {len(self.rules)} rules, "
            f"{len(self.files)} files>"
        )

    # ------------------------------------------------------------------ changes
    def add(self, item: str | Statement | Iterable[Statement]) -> tuple[Statement, ...]:
        """Add statements, given as rule text or AST nodes; returns what was added.

        Raises:
            RuleSyntaxError: text that does not parse.
            ConfigurationError: an ``include`` (resolve it with :func:`load`).
        """
        if isinstance(item, str):
            self._added += 1
            name = f"<added {self._added}>"
            self._sources[name] = item
            self._lines.pop(name, None)
            new: tuple[Statement, ...] = parse_text(item, file=name).statements
        elif isinstance(item, Iterable):
            new = tuple(item)
        else:
            new = (item,)
        if any(isinstance(s, Include) for s in new):  # before any is added: all or nothing
            self._append(next(s for s in new if isinstance(s, Include)))
        for s in new:
            self._append(s)
        self._graph = None
        return new

    def remove(self, name: str) -> Statement:
        """Remove the rule (or named fact) called ``name`` and return it.

        Raises:
            KnowledgeBaseError: no statement has that name.
        """
        named = self._named.get(name)
        if named:
            first = named.pop(0)
            if not named:
                del self._named[name]
            statements = self._statements
            for i in range(len(statements) - 1, -1, -1):  # added last, removed first
                if statements[i] is first:
                    del statements[i]
                    break
            self._graph = None
            self._changed(first, -1)
            return first
        names = sorted(s.name for s in self._statements if isinstance(s, Rule | Fact) and s.name)
        raise KnowledgeBaseError(
            f"no rule named {name!r}; the named rules are: {', '.join(names) or '(none)'}"
        )

    # ------------------------------------------------------------------ views
    @property
    def graph(self) -> nx.MultiDiGraph:
        """The knowledge base as a networkx ``MultiDiGraph`` (see ``docs/graph.md``)."""
        if self._graph is None:
            from ._graph import build_graph

            self._graph = build_graph(self)
        return self._graph

    def check(self) -> list[Diagnostic]:
        """Static analysis: every error and warning, in source order (see ``docs/check.md``).

        The result is kept until the knowledge base changes, so repeated inference on an
        unchanged KB does not re-check it.
        """
        if self._diagnostics is None:
            from ._check import check_kb

            self._diagnostics = tuple(check_kb(self))
        return list(self._diagnostics)

    @property
    def fact_count(self) -> int:
        """How many facts there are (without building :attr:`facts`)."""
        return self._fact_count

    def fact_summary(self) -> FactSummary | None:
        """Counts over the facts for the static checks, brought up to date from the log
        of fact changes; ``None`` when reading the facts themselves is the cheaper way (a
        small knowledge base with about as many changes as facts since the last call, as
        in a consultation)."""
        position = self._fact_log_base + len(self._fact_log)
        summary = self._fact_summary
        pending = position - self._summary_at  # changes since the last call
        if summary is not None and (2 * pending < self._fact_count or not pending):
            if pending:
                summary.update(self._fact_log[self._summary_at - self._fact_log_base :])
                self._summary_at = position
            return summary
        self._summary_at = position
        if self._fact_count < _SMALL and 2 * pending >= self._fact_count:
            self._fact_summary = None
            return None
        summary = self._fact_summary = FactSummary()
        summary.update(zip(repeat(1), self.facts))
        return summary

    @property
    def fact_log_position(self) -> int:
        """The position after the last fact change (see :meth:`fact_changes`)."""
        return self._fact_log_base + len(self._fact_log)

    def fact_changes(self, since: int) -> list[tuple[int, Fact]] | None:
        """The facts added (``+1``) and removed (``-1``) since log position ``since``, in
        order, or ``None`` when the log no longer reaches back that far.

        The log is trimmed to what the one incremental view (``fact_views``) has not yet
        read: it serves a single reader, the engine's compiled facts (and the summary of
        :attr:`fact_summary`, brought up to date first).
        """
        start = since - self._fact_log_base
        if start < 0 or start > len(self._fact_log):
            return None
        if self._fact_summary is not None and self._summary_at < since:
            self.fact_summary()  # brought up to date (or dropped) before the log is trimmed
        changes = self._fact_log[start:]
        # what was read is not needed again by the view that read it
        del self._fact_log[:start]
        self._fact_log_base = since
        return changes

    def memoised(self, table: str, statement: Statement, compute: Any) -> Any:
        """``compute(statement)``, remembered per statement object in ``memo[table]``."""
        entries = self.memo.setdefault(table, {})
        hit = entries.get(id(statement))
        if hit is not None and hit[0] is statement:
            return hit[1]
        if len(entries) > 2 * len(self._statements) + 64:  # drop removed statements
            live = {id(s) for s in self._statements}
            for key in [k for k in entries if k not in live]:
                del entries[key]
        value = compute(statement)
        entries[id(statement)] = (statement, value)
        return value

    def memoised_rules(self, table: str, compute: Any) -> Any:
        """``compute(rules)``, remembered while no rule comes or goes (facts may come and
        go): for analyses that depend on the rules alone."""
        return self._memo_on(table, (0, self._rules_version), lambda: compute(self.rules))

    def memoised_structure(self, table: str, compute: Any) -> Any:
        """``compute()``, remembered while only facts come and go: for analyses that read
        rules, constraints, queries and dynamics only."""
        return self._memo_on(table, (1, self._structure_version), compute)

    def _memo_on(self, table: str, key: tuple[int, int], compute: Any) -> Any:
        hit = self._rule_memo.get(table)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = compute()
        self._rule_memo[table] = (key, value)
        return value

    def source_line(self, span: Span | None) -> str | None:
        """The text of the line a span starts on, when the file is known."""
        if span is None:
            return None
        lines = self._lines.get(span.file)
        if lines is None:
            text = self._sources.get(span.file)
            if text is None:
                try:
                    text = Path(span.file).read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    return None
            lines = self._lines[span.file] = text.split("\n")  # lines as lark counts them
        if 0 < span.line <= len(lines):
            return lines[span.line - 1].removesuffix("\r")
        return None

    def to_text(self) -> str:
        """Canonical ``.rules`` text of every statement (includes already expanded)."""
        return "".join(format_statement(s) + "\n" for s in self._statements)

    def write_graph(self, path: str | os.PathLike[str]) -> None:
        """Write the graph as ``.graphml``, ``.dot`` or ``.json`` (node-link), atomically.

        For ``.png`` use :func:`neurosym.viz.draw_graph` (needs ``neurosym[viz]``).
        """
        from ._graph import write_graph

        write_graph(self.graph, path)


# ---------------------------------------------------------------------- loading


class _Loader:
    def __init__(self, roots: Sequence[str | os.PathLike[str]]) -> None:
        self.sources: dict[str, str] = {}
        self.files: list[str] = []
        self.seen: set[str] = set()
        # Directories (resolved) that includes may read from: rule files are untrusted
        # data, so an include cannot reach the rest of the file system.
        self.roots = tuple(os.path.realpath(r) for r in roots)

    def _allowed(self, key: str) -> bool:
        return any(key == r or key.startswith(r.rstrip(os.sep) + os.sep) for r in self.roots)

    def program(self, text: str, file: str) -> Program:
        self.sources[file] = text
        self.files.append(file)
        return parse_text(text, file=file)

    def expand(self, program: Program, base: Path, stack: tuple[str, ...]) -> Iterator[Statement]:
        for s in program.statements:
            if not isinstance(s, Include):
                yield s
                continue
            target = os.path.normpath(base / s.path)
            key = os.path.realpath(target)
            if key in stack:
                chain = [*stack[stack.index(key) :], key]
                shown = " -> ".join(os.path.relpath(c) for c in chain)
                raise IncludeError(
                    [self._diag(s, f"include cycle: {shown}", "remove one of these includes")]
                )
            if not self._allowed(key):
                # Refused before reading: nothing of an outside file is ever quoted.
                shown = self.roots[0] if len(self.roots) == 1 else ", ".join(self.roots)
                raise IncludeError(
                    [
                        self._diag(
                            s,
                            f"include {s.path!r} leaves the rule directory {shown}",
                            "rule files may include only files under their knowledge base's "
                            "directory; pass include_roots=[...] to load()/parse() (or "
                            "--include-root DIR on the command line) to allow another one",
                        )
                    ]
                )
            if key in self.seen:
                continue  # a diamond: each file is read once
            try:
                text = Path(target).read_text(encoding="utf-8")
            except FileNotFoundError:
                raise IncludeError(
                    [
                        self._diag(
                            s,
                            f"included file {s.path!r} not found (looked for {target})",
                            "include paths are relative to the file that includes them",
                        )
                    ]
                ) from None
            except (OSError, UnicodeDecodeError) as exc:
                raise IncludeError([self._diag(s, f"cannot read {target}: {exc}", None)]) from exc
            self.seen.add(key)
            child = self.program(text, target)
            yield from self.expand(child, Path(target).parent, (*stack, key))

    def _diag(self, s: Include, message: str, hint: str | None) -> Diagnostic:
        line = None
        if s.span is not None:
            lines = self.sources.get(s.span.file, "").splitlines()
            line = lines[s.span.line - 1] if 0 < s.span.line <= len(lines) else None
        return Diagnostic("include", message, s.span, Severity.ERROR, hint, line)


def _with_facts(loader: _Loader, statements: list[Statement], facts: FactsArg | None) -> None:
    for predicate, source in (facts or {}).items():
        rows = read_facts(predicate, source)
        path = str(source.path if isinstance(source, FactSource) else source)
        loader.files.append(path)
        statements.extend(rows)


def load(
    path: str | os.PathLike[str],
    *,
    facts: FactsArg | None = None,
    include_roots: Sequence[str | os.PathLike[str]] = (),
) -> KnowledgeBase:
    """Load a ``.rules`` file, its includes, and optional fact tables.

    Args:
        path: the rule file.
        facts: ``{"parent": "people.csv"}``: a table per predicate (``.csv``/``.tsv``,
            header optional, numbers typed); a :class:`FactSource` gives more control.
        include_roots: directories, besides the rule file's own, that ``include`` may
            read from (symbolic links resolved; an include anywhere else is an
            :class:`IncludeError`, raised before the file is opened).

    Returns:
        The :class:`KnowledgeBase`. Call :meth:`KnowledgeBase.check` for static analysis.

    Raises:
        RuleSyntaxError: the first syntax error, as ``file:line:col`` with a caret.
        IncludeError: a missing included file, an include cycle or an include outside
            the allowed directories, at the include line.
        FactsFileError: a fact table that cannot be read.
        KnowledgeBaseError: ``path`` itself cannot be read.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KnowledgeBaseError(f"{p}: no such rule file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeBaseError(f"{p}: cannot read the rule file: {exc}") from exc
    loader = _Loader([p.parent, *include_roots])
    file = str(p)
    loader.seen.add(os.path.realpath(file))
    program = loader.program(text, file)
    statements = list(loader.expand(program, p.parent, (os.path.realpath(file),)))
    _with_facts(loader, statements, facts)
    return KnowledgeBase(statements, sources=loader.sources, files=loader.files)


def parse(
    text: str,
    *,
    file: str = "<string>",
    base_dir: str | os.PathLike[str] | None = None,
    facts: FactsArg | None = None,
    include_roots: Sequence[str | os.PathLike[str]] = (),
) -> KnowledgeBase:
    """Build a knowledge base from rule text.

    Args:
        text: the rules.
        file: the name used in diagnostics.
        base_dir: where ``include`` paths are resolved, and the directory they may read
            from (default: the current directory).
        facts: fact tables, as for :func:`load`.
        include_roots: further directories ``include`` may read from, as for
            :func:`load`.

    Example:
        >>> import neurosym as ns
        >>> ns.parse("p(a). p(b).").facts[1].atom.args[0].name
        'b'

    Raises:
        RuleSyntaxError, IncludeError, FactsFileError: as for :func:`load`.
    """
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    loader = _Loader([base, *include_roots])
    program = loader.program(text, file)
    statements = list(loader.expand(program, base, ()))
    _with_facts(loader, statements, facts)
    return KnowledgeBase(statements, sources=loader.sources, files=loader.files)
