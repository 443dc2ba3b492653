"""The ``neurosym`` command.

Exit status: 0 on success (``check``: no errors, warnings allowed unless ``--strict``),
1 when a check finds errors (a syntax error included), 2 on bad usage (unknown options,
missing files, an unsupported output format).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from neurosym import __version__
from neurosym.errors import (
    ConfigurationError,
    Diagnostic,
    EngineError,
    FactsFileError,
    KnowledgeBaseError,
    OptionalDependencyError,
    RuleSyntaxError,
    Severity,
)
from neurosym.kb import KnowledgeBase, load
from neurosym.lang import format_source

if TYPE_CHECKING:
    from neurosym.explain import Answer

SEMANTICS_CHOICES = ["boolean", "cf", "prob", "fuzzy-godel", "fuzzy-product", "fuzzy-lukasiewicz"]

__all__ = ["main"]

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    """Bad usage: reported on stderr with exit status 2."""


def _rule_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(p.rglob("*.rules"))
            if not found:
                raise _UsageError(f"{p}: no .rules files in this directory")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise _UsageError(f"{p}: no such file or directory")
    return files


def _facts_args(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        pred, sep, path = item.partition("=")
        if not sep or not pred or not path:
            raise _UsageError(f"--facts takes PREDICATE=FILE, got {item!r}")
        out[pred] = path
    return out


def _diag_json(d: Diagnostic) -> dict[str, object]:
    span = d.span
    return {
        "code": d.code,
        "severity": d.severity.value,
        "message": d.message,
        "hint": d.hint,
        "file": span.file if span else None,
        "line": span.line if span else None,
        "column": span.column if span else None,
        "end_line": span.end_line if span else None,
        "end_column": span.end_column if span else None,
    }


def _load_diagnostics(
    path: Path, facts: dict[str, str], include_roots: Sequence[str] = ()
) -> tuple[KnowledgeBase | None, list[Diagnostic]]:
    try:
        kb = load(path, facts=facts or None, include_roots=include_roots)
    except RuleSyntaxError as exc:
        return None, [exc.diagnostic]
    except KnowledgeBaseError as exc:
        if exc.diagnostics:
            return None, list(exc.diagnostics)
        raise _UsageError(str(exc)) from exc
    except ConfigurationError as exc:  # e.g. --facts P=f.csv: not a predicate name
        raise _UsageError(str(exc)) from exc
    except FactsFileError as exc:
        line = None
        if exc.span is not None:
            lines = Path(exc.span.file).read_text(encoding="utf-8").split("\n")
            line = lines[exc.span.line - 1] if exc.span.line <= len(lines) else None
            return None, [Diagnostic("facts-file", exc.message, exc.span, source_line=line)]
        return None, [Diagnostic("facts-file", exc.message, None)]
    return kb, kb.check()


def _count(items: Sequence[object], one: str, many: str | None = None) -> str:
    return f"{len(items)} {one if len(items) == 1 else (many or one + 's')}"


def _cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    files = _rule_files(args.files)
    facts = _facts_args(args.facts)
    all_diags: list[Diagnostic] = []
    summaries: list[str] = []
    for path in files:
        kb, diags = _load_diagnostics(path, facts, args.include_root)
        all_diags.extend(diags)
        if kb is not None:
            summaries.append(
                f"{path}: {_count(kb.facts, 'fact')}, {_count(kb.rules, 'rule')}, "
                f"{_count(kb.constraints, 'constraint')}, {_count(kb.queries, 'query', 'queries')}"
            )
    errors = sum(d.severity is Severity.ERROR for d in all_diags)
    warnings = len(all_diags) - errors
    if args.format == "json":
        json.dump([_diag_json(d) for d in all_diags], out, indent=1)
        out.write("\n")
    else:
        for d in all_diags:
            out.write(d.render() + "\n")
        if not args.quiet:
            for line in summaries:
                out.write(line + "\n")
            out.write(
                f"checked {_count(files, 'file')}: {_count(range(errors), 'error')}, "
                f"{_count(range(warnings), 'warning')}\n"
            )
    if errors or (args.strict and warnings):
        return EXIT_FOUND
    return EXIT_OK


def _cmd_graph(args: argparse.Namespace, out: TextIO) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise _UsageError(f"{path}: no such file")
    kb, diags = _load_diagnostics(path, _facts_args(args.facts), args.include_root)
    if kb is None:
        for d in diags:
            sys.stderr.write(d.render() + "\n")
        return EXIT_FOUND
    target = Path(args.output)
    try:
        if target.suffix.lower() in {".png", ".svg", ".pdf"}:
            from neurosym.viz import draw_graph

            draw_graph(kb.graph, target)
        else:
            kb.write_graph(target)
    except ConfigurationError as exc:
        raise _UsageError(str(exc)) from exc
    except OSError as exc:  # a missing folder, a directory in the way
        raise _UsageError(f"{target}: cannot write the graph: {exc}") from exc
    g = kb.graph
    out.write(f"wrote {target}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges\n")
    return EXIT_OK


def _cmd_fmt(args: argparse.Namespace, out: TextIO) -> int:
    status = EXIT_OK
    for path in _rule_files(args.files):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _UsageError(f"{path}: cannot read the rule file: {exc}") from exc
        try:
            formatted = format_source(text, file=str(path))
        except RuleSyntaxError as exc:
            sys.stderr.write(exc.diagnostic.render() + "\n")
            status = EXIT_FOUND
            continue
        if args.check:
            if formatted != text:
                out.write(f"{path}: would be reformatted\n")
                status = EXIT_FOUND
        elif args.write:
            if formatted != text:
                from neurosym._io import atomic_write_text

                atomic_write_text(path, formatted)
                out.write(f"reformatted {path}\n")
        else:
            out.write(formatted)
    return status


def _kb_for(args: argparse.Namespace) -> KnowledgeBase | int:
    """The checked KB of ``args.file``, or the exit status after printing its errors."""
    path = Path(args.file)
    if not path.is_file():
        raise _UsageError(f"{path}: no such file")
    kb, diags = _load_diagnostics(path, _facts_args(args.facts), args.include_root)
    errors = [d for d in diags if d.is_error]
    if kb is None or errors:
        for d in errors or diags:
            sys.stderr.write(d.render() + "\n")
        return EXIT_FOUND
    return kb


def _cmd_query(args: argparse.Namespace, out: TextIO) -> int:
    from neurosym.explain import query

    kb = _kb_for(args)
    if isinstance(kb, int):
        return kb
    try:
        answers = query(kb, args.goal, semantics=args.semantics, method=args.method)
    except RuleSyntaxError as exc:
        raise _UsageError(f"the goal does not parse:\n{exc}") from exc
    except ConfigurationError as exc:
        raise _UsageError(str(exc)) from exc
    except EngineError as exc:
        sys.stderr.write(f"neurosym query: {exc}\n")
        return EXIT_FOUND
    try:
        _write_answers(args, answers, out)
    except EngineError as exc:  # --explain: a proof too deep to build
        sys.stderr.write(f"neurosym query: {exc}\n")
        return EXIT_FOUND
    return EXIT_OK


def _write_answers(args: argparse.Namespace, answers: list[Answer], out: TextIO) -> None:
    if args.format == "json":
        rows = []
        for a in answers:
            row = a.to_json()
            if args.explain:
                row["proof"] = a.explain().to_json()
            rows.append(row)
        json.dump(rows, out, indent=1)
        out.write("\n")
        return
    if not answers:
        out.write(f"no answers to {args.goal}\n")
    for a in answers:
        out.write(f"{a}\n")
        if args.explain:
            out.write(_indent(a.explain().render()) + "\n")


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _cmd_explain(args: argparse.Namespace, out: TextIO) -> int:
    from neurosym.explain import why_not

    kb = _kb_for(args)
    if isinstance(kb, int):
        return kb
    try:
        result = why_not(kb, args.goal, semantics=args.semantics)
    except RuleSyntaxError as exc:
        raise _UsageError(f"the goal does not parse:\n{exc}") from exc
    except ConfigurationError as exc:
        raise _UsageError(str(exc)) from exc
    except EngineError as exc:
        sys.stderr.write(f"neurosym explain: {exc}\n")
        return EXIT_FOUND
    if args.format == "json":
        json.dump(result.to_json(), out, indent=1)
        out.write("\n")
    else:
        out.write(result.render() + "\n")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from neurosym.explain import infer, query, why_not

    rules = Path(args.rules_dir)
    animals, diagnosis = rules / "animals.rules", rules / "diagnosis.rules"
    if not animals.is_file() or not diagnosis.is_file():
        raise _UsageError(
            f"{rules}: the demo needs rules/animals.rules and rules/diagnosis.rules; run it "
            "from a neurosym checkout or pass --rules-dir"
        )
    out.write(f"== An expert system: {animals}\n")
    kb = load(animals)
    for a in query(kb, "species(Animal, Species)"):
        out.write(f"  {a.fact}\n")
    first = query(kb, "species(stripes, S)")
    if first:
        out.write("\nHow was stripes identified?\n" + _indent(first[0].explain().render()) + "\n")
    out.write("\nWhy is rex not a tiger?\n" + _indent(why_not(kb, "tiger(rex)").render()) + "\n")
    out.write(f"\n== Certainty factors (MYCIN): {diagnosis}\n")
    kb = load(diagnosis)
    for a in query(kb, "refer(P)", semantics="cf"):
        out.write(f"  {a}\n")
    flu = query(kb, "flu(P)", semantics="cf")
    if flu:
        best = max(flu, key=lambda a: float(a.value))
        out.write(f"\nHow sure is {best.fact}?\n" + _indent(best.explain().render()) + "\n")
    model = infer(kb, semantics="cf")
    for v in model.violations:
        out.write(f"constraint {v}\n")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="neurosym",
        description="Hybrid symbolic-connectionist reasoning: check, query, explain, draw and "
        "format rules.",
    )
    p.add_argument("--version", action="version", version=f"neurosym {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("check", help="parse and statically check .rules files")
    c.add_argument("files", nargs="+", metavar="FILE", help="rule files or directories")
    c.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    c.add_argument("--format", choices=["text", "json"], default="text")
    c.add_argument("--quiet", "-q", action="store_true", help="only the diagnostics")
    c.add_argument("--facts", action="append", default=[], metavar="PRED=FILE",
                   help="load a CSV/TSV table as facts of PRED (repeatable)")  # fmt: skip
    c.add_argument("--include-root", action="append", default=[], metavar="DIR",
                   help="a directory includes may also read from (repeatable)")  # fmt: skip
    c.set_defaults(func=_cmd_check)

    g = sub.add_parser("graph", help="export the knowledge-base graph")
    g.add_argument("file", metavar="FILE")
    g.add_argument(
        "-o",
        "--output",
        required=True,
        help="OUT.graphml, OUT.dot, OUT.json, or OUT.png/.svg/.pdf (viz extra)",
    )
    g.add_argument("--facts", action="append", default=[], metavar="PRED=FILE")
    g.add_argument("--include-root", action="append", default=[], metavar="DIR",
                   help="a directory includes may also read from (repeatable)")  # fmt: skip
    g.set_defaults(func=_cmd_graph)

    q = sub.add_parser("query", help="answer a goal, with values and explanations")
    q.add_argument("file", metavar="FILE")
    q.add_argument("goal", metavar="GOAL", help="e.g. 'carnivore(X)' or 'anc(ann, X), X != bob'")
    q.add_argument("--semantics", choices=SEMANTICS_CHOICES, default="boolean")
    q.add_argument("--method", choices=["backward", "forward"], default="backward")
    q.add_argument("--explain", action="store_true", help="print the proof of each answer")
    q.add_argument("--format", choices=["text", "json"], default="text")
    q.add_argument("--facts", action="append", default=[], metavar="PRED=FILE")
    q.add_argument("--include-root", action="append", default=[], metavar="DIR",
                   help="a directory includes may also read from (repeatable)")  # fmt: skip
    q.set_defaults(func=_cmd_query)

    e = sub.add_parser("explain", help="how a goal holds, or why it does not")
    e.add_argument("file", metavar="FILE")
    e.add_argument("goal", metavar="GOAL")
    e.add_argument("--semantics", choices=SEMANTICS_CHOICES, default="boolean")
    e.add_argument("--format", choices=["text", "json"], default="text")
    e.add_argument("--facts", action="append", default=[], metavar="PRED=FILE")
    e.add_argument("--include-root", action="append", default=[], metavar="DIR",
                   help="a directory includes may also read from (repeatable)")  # fmt: skip
    e.set_defaults(func=_cmd_explain)

    d = sub.add_parser("demo", help="a consultation on the bundled knowledge bases")
    d.add_argument("--rules-dir", default="rules", help="where animals.rules lives")
    d.set_defaults(func=_cmd_demo)

    f = sub.add_parser("fmt", help="print rule files in canonical form")
    f.add_argument("files", nargs="+", metavar="FILE")
    mode = f.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if a file would change")
    mode.add_argument("-w", "--write", action="store_true", help="rewrite files in place")
    f.set_defaults(func=_cmd_fmt)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args, sys.stdout)
    except BrokenPipeError:  # `neurosym query ... | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except _UsageError as exc:
        sys.stderr.write(f"neurosym {args.command}: {exc}\n")
        return EXIT_USAGE
    except OptionalDependencyError as exc:
        sys.stderr.write(f"neurosym {args.command}: {exc}\n")
        return EXIT_USAGE
    return status


if __name__ == "__main__":
    sys.exit(main())
