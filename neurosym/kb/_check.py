"""``kb.check()``: every static finding about a knowledge base, errors and warnings.

The passes, one per concern: arity, undefined predicates (with a did-you-mean),
variable safety and singletons (:mod:`._safety`), stratification and unreachable rules
(:mod:`._strata`), weights, names, functions in arithmetic, and the dynamics statements.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from neurosym.errors import Diagnostic, Severity, Span
from neurosym.lang import (
    FUNCTION_NAMES,
    Assign,
    Atom,
    BodyItem,
    Call,
    Comparison,
    Const,
    Constraint,
    Der,
    Expr,
    Fact,
    FixedWeight,
    LearnableWeight,
    Literal_,
    NnRef,
    Number,
    ParamDecl,
    Query,
    Rule,
    StateDecl,
    String,
    Weight,
)

from ._graph import expr_names
from ._safety import Finding, body_safety, singletons
from ._strata import stratification_findings, unreachable_findings
from ._vars import aggregates, occurrences, subexpressions

if TYPE_CHECKING:
    from ._kb import KnowledgeBase

__all__ = ["check_kb"]


def _suggest(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _atoms_used(body: tuple[BodyItem, ...]) -> Iterator[Atom]:
    for item in body:
        if isinstance(item, Literal_):
            yield item.atom
        else:
            exprs = (item.expr,) if isinstance(item, Assign) else (item.left, item.right)
            for e in exprs:
                for agg in aggregates(e):
                    yield from _atoms_used(agg.body)


def _body_exprs(body: tuple[BodyItem, ...]) -> Iterator[Expr]:
    for item in body:
        if isinstance(item, Assign):
            yield item.expr
        elif isinstance(item, Comparison):
            yield item.left
            yield item.right


def _calls(e: Expr) -> Iterator[Call]:
    return (x for x in subexpressions(e) if isinstance(x, Call))


def _clauses(kb: KnowledgeBase) -> Iterator[tuple[Atom | None, tuple[BodyItem, ...], str]]:
    for r in kb.rules:
        yield r.head, r.body, "rule"
    for c in kb.constraints:
        yield None, c.body, "constraint"
    for q in kb.queries:
        yield None, q.body, "query"


def _structure_uses(kb: KnowledgeBase) -> dict[str, list[Atom]]:
    uses: dict[str, list[Atom]] = defaultdict(list)
    for d in kb.neural:
        uses[d.head.predicate].append(d.head)
    for head, body, _ in _clauses(kb):
        if head is not None:
            uses[head.predicate].append(head)
        for atom in _atoms_used(body):
            uses[atom.predicate].append(atom)
    return dict(uses)


def _arity(kb: KnowledgeBase) -> Iterator[Finding]:
    # The uses outside facts are gathered once per change of the rules (and the rest);
    # a predicate no fact uses keeps the findings it had.
    structure = kb.memoised_structure("check.arity.uses", lambda: _structure_uses(kb))
    noisy = kb.memoised_structure(
        "check.arity.structure",
        lambda: {
            name: found
            for name, atoms in structure.items()
            if (found := list(_arity_of(name, atoms)))
        },
    )
    # The one arity of each predicate that the rest uses with one arity only.
    single = kb.memoised_structure(
        "check.arity.single",
        lambda: {
            name: arities.pop()
            for name, atoms in structure.items()
            if len(arities := {a.arity for a in atoms}) == 1
        },
    )
    by_fact: dict[str, list[Atom]] = {}
    for f in kb.facts:
        atom = f.atom
        found_atoms = by_fact.get(atom.predicate)
        if found_atoms is None:
            by_fact[atom.predicate] = [atom]
        else:
            found_atoms.append(atom)
    for name, found in noisy.items():
        if name not in by_fact:
            yield from found
    for name, atoms in by_fact.items():
        usual = single.get(name)
        if usual is None and name not in structure:
            usual = len(atoms[0].args)
        if usual is not None and all(len(a.args) == usual for a in atoms):
            continue  # one arity everywhere: nothing to report
        yield from _arity_of(name, atoms + structure.get(name, []))


def _arity_of(name: str, atoms: list[Atom]) -> Iterator[Finding]:
    counts = Counter(a.arity for a in atoms)
    if len(counts) < 2:
        return
    usual, _ = counts.most_common(1)[0]
    first = next(a for a in atoms if a.arity == usual)
    where = first.span.start_str() if first.span else "elsewhere"
    for a in atoms:
        if a.arity != usual:
            yield (
                "arity-mismatch",
                f"{name} is used here with {a.arity} argument(s), but with {usual} "
                f"elsewhere (e.g. {where})",
                a.span,
                Severity.ERROR,
                "a predicate has one arity; rename one of them if they are different",
            )


def _body_uses(kb: KnowledgeBase) -> tuple[list[Atom], set[tuple[str, int]], set[str]]:
    """The first body atom of each predicate that no rule or network defines, with what
    they define (keys and names)."""
    defined = {r.head.key for r in kb.rules} | {d.head.key for d in kb.neural}
    names = {n for n, _ in defined}
    defined |= kb.dynamic  # exactly these arities: another arity is reported, not excused
    first: dict[tuple[str, int], Atom] = {}
    for _, body, _what in _clauses(kb):
        for atom in _atoms_used(body):
            if atom.key not in defined and atom.predicate not in names:
                first.setdefault(atom.key, atom)
    return list(first.values()), defined, names


def _undefined(kb: KnowledgeBase) -> Iterator[Finding]:
    open_atoms, defined, names = kb.memoised_structure("check.undefined", lambda: _body_uses(kb))
    if not open_atoms:
        return
    fact_keys = _fact_keys(kb)
    defined = defined | fact_keys
    names = names | {n for n, _ in fact_keys}
    declared = {n: a for n, a in kb.dynamic}
    for atom in open_atoms:
        if atom.key in defined or atom.predicate in names:
            continue
        if atom.predicate in declared:
            yield (
                "arity-mismatch",
                f"{atom.predicate} is used here with {atom.arity} argument(s), but declared "
                f"dynamic with {declared[atom.predicate]}",
                atom.span,
                Severity.ERROR,
                f"use {atom.predicate}/{declared[atom.predicate]} or change the declaration",
            )
            continue
        yield (
            "undefined-predicate",
            f"{atom.predicate}/{atom.arity} is used but no fact, rule or network defines it",
            atom.span,
            Severity.ERROR,
            _suggest(atom.predicate, names) or "define it with a fact or a rule",
        )


_GROUND_LEAVES = (Const, Number, String)


def _fact_keys(kb: KnowledgeBase) -> frozenset[tuple[str, int]]:
    """The ``(predicate, arity)`` of the facts."""
    summary = kb.fact_summary()
    if summary is not None:
        return summary.keys()
    return frozenset(f.atom.key for f in kb.facts)


def _safety(kb: KnowledgeBase) -> Iterator[Finding]:
    for f in kb.facts:
        for a in f.atom.args:
            if type(a) in _GROUND_LEAVES:
                continue
            for v in occurrences(a):
                yield (
                    "non-ground-fact",
                    f"a fact must be ground, but {v.name} is a variable",
                    v.span,
                    Severity.ERROR,
                    "write a constant (lowercase), or make it a rule with a body that binds it",
                )
    yield from kb.memoised_structure("check.safety", lambda: _clauses_safety(kb))


def _clauses_safety(kb: KnowledgeBase) -> list[Finding]:
    clauses: list[Rule | Constraint | Query] = [*kb.rules, *kb.constraints, *kb.queries]
    return [f for stmt in clauses for f in kb.memoised("check.safety", stmt, _clause_safety)]


def _clause_safety(stmt: Rule | Constraint | Query) -> list[Finding]:
    head = stmt.head if isinstance(stmt, Rule) else None
    what = (
        "rule" if isinstance(stmt, Rule) else "query" if isinstance(stmt, Query) else "constraint"
    )
    _, found = body_safety(stmt.body, head=head, what=what)
    out = list(found)
    if what != "query":
        unsafe = {f[2] for f in found}
        out.extend(f for f in singletons(head, stmt.body) if f[2] not in unsafe)
    return out


def _weight(w: Weight | None, span: Span | None) -> Iterator[Finding]:
    if isinstance(w, FixedWeight):
        if not -1.0 <= w.value <= 1.0:
            yield (
                "weight-range",
                f"weight {w.value:g} is outside [-1, 1]",
                w.span or span,
                Severity.ERROR,
                "probabilities and truth degrees lie in [0, 1]; certainty factors in [-1, 1]",
            )
        elif w.value < 0:
            yield (
                "negative-weight",
                f"negative weight {w.value:g} is meaningful only under certainty factors",
                w.span or span,
                Severity.WARNING,
                "with semantics='prob' or 'fuzzy-*' it is an error at run time",
            )
    elif isinstance(w, LearnableWeight) and not 0.0 <= w.initial <= 1.0:
        yield (
            "weight-range",
            f"the initial value {w.initial:g} of a learnable weight is outside [0, 1]",
            w.span or span,
            Severity.ERROR,
            "write t(w) with 0 <= w <= 1",
        )


def _weights_and_names(kb: KnowledgeBase) -> Iterator[Finding]:
    # The rules' (and networks') findings are kept while only facts change; the facts
    # add their weights, and the whole pass runs again only when a fact's name is taken.
    names, found = kb.memoised_structure("check.names", lambda: _names_and_findings(kb, kb.rules))
    fact_names: set[str] = set()
    for f in kb.facts:
        if f.name is not None:
            if f.name in names or f.name in fact_names:
                yield from _names_and_findings(kb, kb.statements)[1]
                return
            fact_names.add(f.name)
    yield from found
    for f in kb.facts:
        yield from _weight(f.weight, f.span)


def _names_and_findings(
    kb: KnowledgeBase, statements: Iterable[object]
) -> tuple[set[str], list[Finding]]:
    first: dict[str, Span | None] = {}
    found = list(_names_pass(kb, statements, first))
    return set(first), found


def _names_pass(
    kb: KnowledgeBase, statements: Iterable[object], first: dict[str, Span | None]
) -> Iterator[Finding]:
    for s in statements:
        if isinstance(s, Fact | Rule):
            yield from _weight(s.weight, s.span)
            if s.name is not None:
                if s.name in first:
                    where = first[s.name]
                    yield (
                        "duplicate-name",
                        f"a rule named {s.name!r} is already defined",
                        s.span,
                        Severity.ERROR,
                        f"first defined at {where.start_str() if where else '?'}; "
                        "rule names must be unique",
                    )
                else:
                    first[s.name] = s.span
    for d in kb.neural:
        if not d.domain:
            yield ("neural-domain", f"network {d.net} has an empty domain", d.span,
                   Severity.ERROR, "list the values it chooses from: [0, 1, ...]")  # fmt: skip
        head_vars = {v.name for a in d.head.args for v in occurrences(a)}
        for t in (*d.inputs, d.output):
            for v in occurrences(t):
                if v.name not in head_vars:
                    yield (
                        "neural-head",
                        f"{v.name} of nn({d.net}, ...) does not occur in {d.head.predicate}(...)",
                        v.span,
                        Severity.ERROR,
                        "the inputs and the output must be arguments of the predicate",
                    )


def _functions(kb: KnowledgeBase) -> Iterator[Finding]:
    exprs: list[Expr] = []
    for _, body, _ in _clauses(kb):
        exprs.extend(_body_exprs(body))
    exprs.extend(d.expr for d in kb.derivatives)
    for law in kb.laws:
        for c in (*law.conditions, law.relation):
            exprs.extend((c.left, c.right))
    for e in exprs:
        for call in _calls(e):
            if call.func in FUNCTION_NAMES:
                variadic = call.func in {"min", "max"}
                if (variadic and not call.args) or (not variadic and len(call.args) != 1):
                    wanted = "at least one argument" if variadic else "exactly one argument"
                    yield (
                        "function-arity",
                        f"{call.func}(...) takes {wanted}, got {len(call.args)}",
                        call.span,
                        Severity.ERROR,
                        None,
                    )
                continue
            if call.func not in FUNCTION_NAMES:
                yield (
                    "unknown-function",
                    f"unknown function {call.func!r} in arithmetic",
                    call.span,
                    Severity.ERROR,
                    _suggest(call.func, FUNCTION_NAMES)
                    or "the functions are " + ", ".join(sorted(FUNCTION_NAMES)),
                )


def _dynamic_terms(e: Expr) -> Iterator[Der | NnRef]:
    return (x for x in subexpressions(e) if isinstance(x, Der | NnRef))


def _misplaced(kb: KnowledgeBase) -> Iterator[Finding]:
    """der(...) belongs to laws; nn(net) to the right side of der(x) = ...."""
    places: list[tuple[Expr, str]] = []
    for _, body, what in _clauses(kb):
        places.extend((e, f"a {what}") for e in _body_exprs(body))
    for d in kb.derivatives:
        places.append((d.expr, "der(...) = ..."))
    for law in kb.laws:
        for c in (*law.conditions, law.relation):
            places.extend(((c.left, "a law"), (c.right, "a law")))
    for e, where in places:
        for term in _dynamic_terms(e):
            if isinstance(term, Der) and where != "a law":
                yield ("misplaced-dynamics", f"der(...) cannot appear in {where}", term.span,
                       Severity.ERROR, "der(expression) is allowed only in laws")  # fmt: skip
            elif isinstance(term, NnRef) and where != "der(...) = ...":
                yield (
                    "misplaced-dynamics",
                    f"nn({term.net}) cannot appear in {where}",
                    term.span,
                    Severity.ERROR,
                    "a learned term nn(net) is allowed only on the right of der(x) = ...; "
                    "a neural predicate is declared as nn(net, [X], Y, [...]) :: p(X, Y).",
                )


def _dynamics(kb: KnowledgeBase) -> Iterator[Finding]:
    states = list(kb.states)
    params = [p.name for p in kb.params]
    symbols = set(states) | set(params)
    declared: dict[str, Span | None] = {}
    for s in kb.statements:
        if isinstance(s, StateDecl | ParamDecl):
            for name in s.names if isinstance(s, StateDecl) else (s.name,):
                if name in declared:
                    where = declared[name]
                    yield (
                        "duplicate-name",
                        f"{name!r} is already declared as a state or parameter",
                        s.span,
                        Severity.ERROR,
                        f"first declared at {where.start_str() if where else '?'}; "
                        "declare each name once",
                    )
                else:
                    declared[name] = s.span
    defined: dict[str, Span | None] = {}
    for d in kb.derivatives:
        if d.state not in states:
            yield (
                "undeclared-state",
                f"der({d.state}) names {d.state!r}, which is not a declared state",
                d.span,
                Severity.ERROR,
                _suggest(d.state, states) or f"declare it: state {d.state}.",
            )
        if d.state in defined:
            yield ("duplicate-derivative", f"der({d.state}) is defined twice", d.span,
                   Severity.ERROR, "sum the terms in one der(...) statement")  # fmt: skip
        defined[d.state] = d.span
        yield from _symbols(d.expr, symbols, f"der({d.state})")
    names: set[str] = set()
    for law in kb.laws:
        if law.name in names:
            yield ("duplicate-name", f"a law named {law.name!r} is already defined", law.span,
                   Severity.ERROR, "law names must be unique")  # fmt: skip
        names.add(law.name)
        for c in (*law.conditions, law.relation):
            for e in (c.left, c.right):
                yield from _symbols(e, symbols, f"law {law.name}")


def _symbols(e: Expr, symbols: set[str], where: str) -> Iterator[Finding]:
    for name, span in expr_names(e):
        if name not in symbols:
            yield (
                "undeclared-state",
                f"{name!r} in {where} is neither a declared state nor a parameter",
                span,
                Severity.ERROR,
                _suggest(name, symbols) or f"declare it: 'state {name}.' or 'param {name} = 1.0.'",
            )
    for v in occurrences(e):
        yield ("undeclared-state", f"variable {v.name} in {where}: dynamics use lowercase names",
               v.span, Severity.ERROR, f"write {v.name.lower()!r} and declare it")  # fmt: skip


# Passes that read facts run every time; the others read only rules, constraints, queries
# and dynamics, and are kept while those statements stay the same objects.
_FACT_PASSES = (_arity, _undefined, _safety, _weights_and_names)
_STRUCTURE_PASSES = (_functions, _misplaced, _dynamics)


def check_kb(kb: KnowledgeBase) -> list[Diagnostic]:
    """Run every pass; diagnostics sorted by file (in load order), line and column.

    When every fact is plain (ground, with no weight or one in [0, 1], its name taken by no
    other statement, its predicate used with its arity everywhere), the facts contribute
    no finding of their own, and the result depends only on the other statements and on
    which predicates have facts: it is kept per such set while the other statements stay
    the same (a consultation loop meets a few).
    """
    rule_names, arities, kept = kb.memoised_structure("check.plain", lambda: _plain_basis(kb))
    summary = kb.fact_summary()
    keys = (
        summary.plain_keys(rule_names, arities)
        if summary is not None
        else _plain_fact_keys(kb, rule_names, arities)
    )
    if keys is None:
        return _check_kb(kb)
    found = kept.get(keys)
    if found is None:
        if len(kept) >= 64:
            kept.clear()
        found = kept[keys] = _check_kb(kb)
    return list(found)


def _plain_fact_keys(
    kb: KnowledgeBase, rule_names: set[str], arities: dict[str, int]
) -> frozenset[tuple[str, int]] | None:
    """The ``(predicate, arity)`` of the facts when all are plain (see :func:`check_kb`),
    read from the facts themselves (see :meth:`.FactSummary.plain_keys`)."""
    seen: dict[str, int] = {}
    names: set[str] = set()
    for f in kb.facts:
        atom = f.atom
        args = atom.args
        arity = len(args)
        known = seen.get(atom.predicate)
        if known is None:
            known = seen[atom.predicate] = arities.get(atom.predicate, arity)
        if known != arity:
            return None
        for a in args:
            if type(a) not in _GROUND_LEAVES:
                return None
        w = f.weight
        if w is not None and not (type(w) is FixedWeight and 0.0 <= w.value <= 1.0):
            return None
        if f.name is not None:
            if f.name in rule_names or f.name in names:
                return None
            names.add(f.name)
    return frozenset(seen.items())


def _plain_basis(
    kb: KnowledgeBase,
) -> tuple[set[str], dict[str, int], dict[frozenset[tuple[str, int]], list[Diagnostic]]]:
    """The names of the statements other than facts, the arity of each predicate they use
    (``-1`` for one used with several), and an empty table for the kept diagnostics."""
    names = {s.name for s in kb.statements if isinstance(s, Rule) and s.name is not None}
    arities: dict[str, int] = {}
    for name, atoms in _structure_uses(kb).items():
        found = {a.arity for a in atoms}
        arities[name] = found.pop() if len(found) == 1 else -1
    return names, arities, {}


def _check_kb(kb: KnowledgeBase) -> list[Diagnostic]:
    findings: list[Finding] = []
    for p in _FACT_PASSES:
        findings.extend(p(kb))
    findings.extend(
        kb.memoised_structure(
            "check.structure", lambda: [f for p in _STRUCTURE_PASSES for f in p(kb)]
        )
    )
    findings.extend(kb.memoised_rules("check.strata", lambda rs: list(stratification_findings(rs))))
    # Dynamic predicates count as having facts: they get them at run time.
    base = _fact_keys(kb) | {d.head.key for d in kb.neural} | kb.dynamic
    # Depends on the rules and on which predicates have facts, not on the facts themselves.
    cached = kb.memoised_rules("check.unreachable", lambda _: {})
    if base not in cached:
        if len(cached) >= 64:  # a few fact patterns recur in a consultation loop
            cached.clear()
        cached[base] = list(unreachable_findings(kb.rules, set(base)))
    findings.extend(cached[base])
    if not findings:
        return []
    order = {f: i for i, f in enumerate(kb.files)}
    diags = {
        Diagnostic(code, msg, span, sev, hint, kb.source_line(span))
        for code, msg, span, sev, hint in findings
    }

    def key(d: Diagnostic) -> tuple[int, int, int, str, str]:
        if d.span is None:
            return (-1, 0, 0, d.code, d.message)
        return (order.get(d.span.file, len(order)), d.span.line, d.span.column, d.code, d.message)

    return sorted(diags, key=key)
