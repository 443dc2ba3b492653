"""The reasoning API: ``infer`` (forward chaining to a model), ``query`` (goal-directed
answers) and their results, each able to explain itself."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, final

from neurosym.engine import (
    AbstractSemiring,
    Boolean,
    Evaluation,
    FactKey,
    Limits,
    Program,
    SemanticsName,
    Value,
    compile_body,
    compile_kb,
    evaluate,
    goal_rule,
    magic_rewrite,
    pred_key,
    resolve_semantics,
)
from neurosym.engine._join import plan, run_plan
from neurosym.engine._topdown import solve_top_down
from neurosym.errors import ConfigurationError
from neurosym.lang import Literal_, format_statement, parse_body_text

from ._build import ProofBuilder, fact_text
from ._proof import Proof

if TYPE_CHECKING:
    from neurosym.kb import KnowledgeBase

__all__ = ["Answer", "Model", "Violation", "infer", "query"]

Semantics = SemanticsName | AbstractSemiring[Any]


@final
@dataclass(frozen=True)
class Answer:
    """One answer to a goal: the ground fact, the variable bindings, and the value.

    ``value`` is ``True`` under boolean semantics, a float otherwise. ``explain()`` gives
    the proof tree (how it was concluded).
    """

    fact: str
    bindings: dict[str, Value]
    value: bool | float
    _explain: Any = field(repr=False, compare=False, default=None)

    def explain(self) -> Proof:
        """The strongest derivation of this answer, as a :class:`Proof` tree."""
        return self._explain()  # type: ignore[no-any-return]

    def to_json(self) -> dict[str, Any]:

        return {
            "fact": self.fact,
            "bindings": {k: _json_value(v) for k, v in self.bindings.items()},
            "value": self.value,
        }

    def __str__(self) -> str:
        v = self.value
        shown = ("true" if v else "false") if isinstance(v, bool) else f"{v:.4g}"
        return f"{self.fact} = {shown}"


_PREDICATE = re.compile(r"[a-z][A-Za-z0-9_]*(/[0-9]+)?\Z")


def _json_value(v: Value) -> Any:
    from neurosym.engine import Str

    if isinstance(v, tuple):
        return [_json_value(x) for x in v]
    if isinstance(v, Str):
        return v.value
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)  # "nan", "inf", "-inf" as in proofs: JSON has no such numbers
    return v


@dataclass(frozen=True)
class Violation:
    """An integrity constraint whose body holds, with the bindings that make it hold."""

    constraint: str
    source: str | None
    bindings: dict[str, Value]

    def __str__(self) -> str:
        b = ", ".join(f"{k} = {v}" for k, v in self.bindings.items())
        return f"violated {self.constraint} ({self.source}) with {b or 'no variables'}"


def _recorded(
    kb: KnowledgeBase, program: Program, ev: Evaluation, limits: Limits | None
) -> Evaluation:
    """An evaluation with provenance: ``ev`` itself, or a recorded re-run of it."""
    if ev.instances is not None:
        return ev
    return evaluate(program, ev.semiring, record=True, limits=limits)


@final
class Model:
    """Everything a knowledge base concludes, with values and explanations.

    Build it with :func:`neurosym.infer`.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        program: Program,
        evaluation: Evaluation,
        limits: Limits | None,
    ) -> None:
        self.kb = kb
        self._program = program
        self._ev = evaluation
        self._limits = limits
        self._builder: ProofBuilder | None = None

    @property
    def semantics(self) -> AbstractSemiring[Any]:
        return self._ev.semiring

    @property
    def stats(self) -> dict[str, float]:
        """Facts in the model, semi-naive rounds, and seconds taken."""
        return {
            "facts": float(self._ev.complete().size()),
            "rounds": float(self._ev.rounds),
            "seconds": self._ev.seconds,
        }

    def _holds(self, key: FactKey) -> bool:
        v = self._ev.value(key)
        return bool(v) if not isinstance(v, bool) else v

    def facts(self, predicate: str | None = None) -> list[Answer]:
        """Every fact that holds (non-zero value), sorted by text; optionally one predicate
        (``"mammal"`` or ``"mammal/1"``)."""
        if predicate is not None and not _PREDICATE.match(predicate):
            raise ConfigurationError(
                f"facts takes a predicate name such as 'mammal' or 'mammal/1', got {predicate!r};"
                " use query for a goal"
            )
        out = []
        for pred, rel in self._ev.complete().relations.items():
            name = pred.rsplit("/", 1)[0]
            if predicate is not None and predicate not in {pred, name}:
                continue
            for t in rel.tuples:
                key = (pred, t)
                if self._holds(key):
                    out.append(self._answer(key, {}))
        return sorted(out, key=lambda a: a.fact)

    def value(self, fact: str) -> bool | float:
        """The value of a ground fact given as text (false/0 when it does not hold)."""
        return self._ev.value(_ground_key(fact))

    def holds(self, fact: str) -> bool:
        return self._holds(_ground_key(fact))

    def query(self, goal: str) -> list[Answer]:
        """Answers to a one-literal goal, read off the model."""
        items = parse_body_text(goal)
        if len(items) != 1 or not isinstance(items[0], Literal_) or items[0].negated:
            raise ConfigurationError(
                f"Model.query takes one positive literal such as 'mammal(X)', got {goal!r}; "
                "use neurosym.query for conjunctions and comparisons"
            )
        atom = items[0].atom
        pred = pred_key(atom.predicate, atom.arity)
        rel = self._ev.relation(pred)
        if rel is None:
            return []
        body, slots = compile_body(items, "goal")
        pattern = body[0].atom.args  # type: ignore[union-attr]
        names = {s: n for n, s in slots.items() if not n.startswith("_")}
        # the tuples with the goal's constants, through the relation's index on them
        positions = tuple(i for i, (is_var, _) in enumerate(pattern) if not is_var)
        key = tuple(pattern[i][1] for i in positions)
        answers = []
        for t in rel.lookup(positions, key):
            env: dict[int, Value] = {}
            if all(
                (env.setdefault(v, g) == g) if is_var else (v == g)
                for (is_var, v), g in zip(pattern, t)
            ) and self._holds((pred, t)):
                answers.append(self._answer((pred, t), {names[s]: env[s] for s in names}))
        return sorted(answers, key=lambda a: a.fact)

    def explain(self, fact: str) -> Proof:
        """How a ground fact was concluded."""
        return self._proof(_ground_key(fact))

    def _proof(self, key: FactKey) -> Proof:
        if self._builder is None:
            ev = _recorded(self.kb, self._program, self._ev, self._limits)
            self._builder = ProofBuilder(ev, self._program.sources)
        return self._builder.proof(key)

    def _answer(self, key: FactKey, bindings: dict[str, Value]) -> Answer:
        return Answer(fact_text(key), bindings, self._ev.value(key), lambda: self._proof(key))

    @property
    def violations(self) -> list[Violation]:
        """Integrity constraints (``:- body.``) whose body holds, with their bindings."""
        out: list[Violation] = []
        store = self._ev.complete()
        for c in self.kb.constraints:
            items, slots = compile_body(
                c.body, f"constraint {c.span.start_str() if c.span else ''}"
            )
            names = {s: n for n, s in slots.items() if not n.startswith("_")}
            found: list[dict[str, Value]] = []

            def emit(
                env: list[Any], names: dict[int, str] = names, found: list[dict[str, Value]] = found
            ) -> None:
                found.append({n: env[s] for s, n in sorted(names.items())})

            steps = plan(items, (), lambda p: len(store.relations.get(p) or ()))
            run_plan(steps, [None] * len(slots), _holding(self._ev), emit)
            seen = []
            for b in found:
                if b not in seen:
                    seen.append(b)
                    out.append(
                        Violation(format_statement(c), c.span.start_str() if c.span else None, b)
                    )
        return out

    def __repr__(self) -> str:
        return f"<Model: {self._ev.complete().size()} facts under {self.semantics.name} semantics>"


def _holding(ev: Evaluation) -> Any:
    """The store restricted to facts with a non-zero value (valued semantics)."""
    if ev.values is None:
        return ev.store
    from neurosym.engine._store import Store

    out = Store()
    for pred, rel in ev.store.relations.items():
        target = out.get(pred)
        for t in rel.tuples:
            if ev.value((pred, t)):
                target.add(t)
    return out


def _ground_key(fact: str) -> FactKey:
    items = parse_body_text(fact)
    if len(items) != 1 or not isinstance(items[0], Literal_) or items[0].negated:
        raise ConfigurationError(f"expected one ground fact such as 'mammal(tiger)', got {fact!r}")
    atom = items[0].atom
    from neurosym.engine import term_value

    try:
        return (pred_key(atom.predicate, atom.arity), tuple(term_value(a) for a in atom.args))
    except ValueError as exc:
        raise ConfigurationError(f"{fact!r} is not ground: {exc}") from None


def infer(
    kb: KnowledgeBase,
    *,
    semantics: Semantics = "boolean",
    limits: Limits | None = None,
) -> Model:
    """Forward chaining to the fixpoint: every conclusion, with values.

    Args:
        kb: a knowledge base without check errors.
        semantics: ``"boolean"``, ``"cf"``, ``"prob"``, ``"fuzzy-godel"``,
            ``"fuzzy-product"``, ``"fuzzy-lukasiewicz"``, or a semiring object.
        limits: bounds on the derivation (:class:`neurosym.Limits`).

    Example:
        >>> import neurosym as ns
        >>> kb = ns.parse("has_hair(tiger). 0.9 :: eats_meat(tiger). "
        ...               "carnivore(X) :- has_hair(X), eats_meat(X).")
        >>> ns.infer(kb, semantics="cf").value("carnivore(tiger)")
        0.9

    Raises:
        KnowledgeBaseError: ``kb.check()`` reports errors.
        LimitError, EvaluationError: see :class:`neurosym.Limits`.
    """
    program = compile_kb(kb)
    ev = evaluate(program, resolve_semantics(semantics), limits=limits)
    return Model(kb, program, ev, limits)


def query(
    kb: KnowledgeBase,
    goal: str,
    *,
    semantics: Semantics = "boolean",
    method: Literal["backward", "forward"] = "backward",
    limits: Limits | None = None,
) -> list[Answer]:
    """Answer a goal: every binding of its variables that makes it hold, with values.

    Backward chaining (the default) grounds only what the goal needs (magic sets); forward
    chaining computes the whole model first. Both give the same answers and values.

    Args:
        kb: the knowledge base.
        goal: e.g. ``"carnivore(X)"`` or ``"ancestor(ann, X), X != bob"``.
        semantics: as for :func:`infer`.
        method: ``"backward"`` or ``"forward"``.
        limits: bounds on the derivation.

    Returns:
        The answers, sorted by fact text; each has ``.explain()``.

    Example:
        >>> import neurosym as ns
        >>> kb = ns.parse("parent(a, b). parent(b, c). "
        ...               "anc(X, Y) :- parent(X, Y). anc(X, Z) :- anc(X, Y), parent(Y, Z).")
        >>> [a.fact for a in ns.query(kb, "anc(a, X)")]
        ['anc(a, b)', 'anc(a, c)']
    """
    if method not in ("backward", "forward"):
        raise ConfigurationError(f"method must be 'backward' or 'forward', got {method!r}")
    program = compile_kb(kb)
    g = goal_rule(goal, program)
    qrule, names = g.rule, g.names
    sr = resolve_semantics(semantics)
    state: dict[str, Any] = {}

    def rewritten() -> Program:
        if "program" not in state:
            state["program"] = (
                magic_rewrite(program, qrule)
                if method == "backward"
                else Program([*program.rules, qrule], program.facts)
            )
        return state["program"]  # type: ignore[no-any-return]

    tuples: Any = None
    ev: Evaluation | None = None
    if method == "backward" and isinstance(sr, Boolean):
        # Goals whose rules do not recurse are answered top-down (the same answers; the
        # proofs are built from the rewritten program when asked for).
        tuples = solve_top_down(program, qrule, limits=limits)
    if tuples is None:
        ev = evaluate(rewritten(), sr, limits=limits)
        rel = ev.store.relations.get(qrule.head.pred)
        tuples = rel.tuples if rel is not None else ()

    def explainer(key: FactKey, text: str) -> Any:
        def run() -> Proof:
            if "builder" not in state:
                recorded = (
                    ev
                    if ev is not None and ev.instances is not None
                    else evaluate(rewritten(), sr, record=True, limits=limits)
                )
                state["builder"] = ProofBuilder(recorded, program.sources)
            proof: Proof = state["builder"].proof(key, shown=text)
            if g.literal is not None and len(proof.premises) == 1 and not proof.negated:
                return proof.premises[0]
            return proof

        return run

    answers = []
    pred = qrule.head.pred
    for t in tuples:
        key = (pred, t)
        value = ev.value(key) if ev is not None else True
        if not value:
            continue
        bindings = dict(zip(names, t))
        text = g.answer_text(bindings)
        answers.append(Answer(text, bindings, value, explainer(key, text)))
    return sorted(answers, key=lambda a: a.fact)
