"""Explanations of predicted facts by the induced rules: every grounding that supports a
prediction, with its weight and premises, in the engine's proof format, next to the
engine's own proof of the same fact."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

import numpy as np

from neurosym.errors import ConfigurationError
from neurosym.kbc._data import TripleDataset, _term
from neurosym.kbc._induce import _MIDDLE, InducedRule, InducedRules, adjacency, layered_kb
from neurosym.lang import Atom, format_atom

if TYPE_CHECKING:
    from neurosym.explain import Proof
    from neurosym.kb import KnowledgeBase

__all__ = ["Explanation", "explain_prediction"]


@final
@dataclass(frozen=True, slots=True)
class Explanation:
    """Why the rules predict a fact.

    Attributes:
        fact: the prediction, e.g. ``"locatedIn(timor_leste, asia)"``.
        goal: the fact in the layered program, e.g. ``"locatedIn_2(timor_leste, asia)"``.
        score: :meth:`InducedRules.scores` of the fact.
        proof: the engine's proof of ``goal`` under ``semantics="fuzzy-product"`` (its
            strongest derivation), or ``None`` when nothing supports the fact.
        groundings: every derivation of ``goal`` in the last round, strongest first, as
            proof steps (rule, bindings, weight, premises with their values,
            ``contribution`` = weight × premises); they combine by noisy-or into
            ``score``.
    """

    fact: str
    goal: str
    score: float
    proof: Proof | None
    groundings: tuple[Proof, ...]

    def render(self, *, limit: int = 5) -> str:
        """The engine's proof, then the ``limit`` strongest groundings, one line each."""
        if self.proof is None:
            return f"{self.fact}: no induced rule supports it (score 0)"
        out = [f"{self.fact}: score {self.score:.4g}", self.proof.render()]
        shown = self.groundings[:limit]
        out.append(f"{len(self.groundings)} supporting grounding(s); strongest {len(shown)}:")
        for g in shown:
            premises = ", ".join(f"{p.fact} = {p.value:.4g}" for p in g.premises)
            binds = ", ".join(f"{k} = {v}" for k, v in g.bindings)
            out.append(
                f"  {g.contribution:.4g}  by rule {g.rule}, weight {g.weight}: {binds}; {premises}"
            )
        return "\n".join(out)


def _fact(pred: str, a: str, b: str) -> str:
    return format_atom(Atom(pred, (_term(a), _term(b))))


def _show(name: str) -> str:
    """A name as the engine shows it in bindings (quoted when it is not a constant)."""
    return format_atom(Atom("x", (_term(name),)))[2:-1]


def explain_prediction(
    rules: InducedRules,
    dataset: TripleDataset,
    fact: tuple[str, str, str],
    *,
    depth: int = 1,
    kb: KnowledgeBase | None = None,
) -> Explanation:
    """Explain ``relation(head, tail)`` by the rules' groundings, checked by the engine.

    Args:
        rules: induced (or hand-written) chain rules.
        dataset: the training facts they read.
        fact: ``(head, relation, tail)`` names.
        depth: the rounds of the layered reading (as in :meth:`InducedRules.scores`).
        kb: :func:`~neurosym.kbc.layered_kb` of the same rules, dataset and depth, to reuse
            between calls (built when ``None``).

    Raises:
        ConfigurationError: an unknown entity or relation.

    Example:
        >>> ds = TripleDataset.from_triples(
        ...     "toy", train=[("a", "r", "b"), ("b", "r", "c"), ("c", "s", "a")]
        ... )
        >>> rules = InducedRules((InducedRule(0.5, "s", (("r", False), ("r", False)), "s1"),),
        ...                      ds.relations)
        >>> e = explain_prediction(rules, ds, ("a", "s", "c"))
        >>> print(e.proof)
        s_1(a, c) = 0.5  by rule s1_1 (<added 1>:3:1), X = a, Y = c, Z = b, weight 0.5
          r(a, b) = 1  fact
          r(b, c) = 1  fact
        >>> [(g.rule, dict(g.bindings)["Z"], g.contribution) for g in e.groundings]
        [('s1_1', 'b', 0.5)]
    """
    import neurosym as ns

    head, relation, tail = fact
    for name, table in ((head, dataset.entity_index), (tail, dataset.entity_index)):
        if name not in table:
            raise ConfigurationError(f"unknown entity {name!r} in {dataset.name}")
    if relation not in dataset.relation_index:
        raise ConfigurationError(
            f"unknown relation {relation!r}; the dataset has {', '.join(dataset.relations)}"
        )
    x, y = dataset.entity_index[head], dataset.entity_index[tail]
    ridx = dataset.relation_index
    layers = rules.layers(dataset, depth=depth)
    score = float(layers[ridx[relation], x, y])
    before = rules.layers(dataset, depth=depth - 1) if depth > 1 else None
    known = before if before is not None else adjacency(dataset)
    heads = {r.head for r in rules.rules}
    goal = _fact(f"{relation}_{depth}", head, tail)

    def premise_pred(q: str) -> str:
        return f"{q}_{depth - 1}" if depth > 1 and q in heads else q

    from neurosym.explain import Proof

    found: list[Proof] = []
    raw: list[tuple[InducedRule, list[int], float]] = []
    for rule in rules.for_head(relation):
        for path, value in _paths(rule, known, ridx, x, y):
            raw.append((rule, path, value))
    given = (x, ridx[relation], y) in {tuple(t) for t in dataset.train.tolist()}
    total = len(raw) + int(given)
    if given:
        found.append(
            Proof(
                goal,
                score,
                "rule",
                rule=f"{relation}_given_{depth}",
                contribution=1.0,
                bindings=(("X", _show(head)), ("Y", _show(tail))),
                alternatives=total,
                premises=(Proof(_fact(relation, head, tail), 1.0, "fact"),),
            )
        )
    ents = dataset.entities
    for rule, path, value in raw:
        names = ["X", *_MIDDLE[: len(rule.body) - 1], "Y"]
        bound = dict(zip(names, (_show(ents[i]) for i in path), strict=True))
        binds = tuple((v, bound[v]) for v in ("X", "Y", *names[1:-1]))
        premises = []
        for i, (q, rev) in enumerate(rule.body):
            a, b = (path[i + 1], path[i]) if rev else (path[i], path[i + 1])
            v = float(known[ridx[q], a, b])
            pred = premise_pred(q)
            step = _fact(pred, ents[a], ents[b])
            premises.append(Proof(step, v, "rule") if pred != q else Proof(step, v, "fact"))
        found.append(
            Proof(
                goal,
                score,
                "rule",
                rule=f"{rule.name}_{depth}",
                weight=rule.weight,
                bindings=binds,
                premises=tuple(premises),
                contribution=rule.weight * value,
                alternatives=total,
            )
        )
    found.sort(key=lambda p: -float(p.contribution or 0.0))
    proof = None
    if found:
        kb = kb if kb is not None else layered_kb(rules, dataset, depth=depth)
        answers = ns.query(kb, goal, semantics="fuzzy-product")
        proof = answers[0].explain() if answers else None
    return Explanation(_fact(relation, head, tail), goal, score, proof, tuple(found))


def _paths(
    rule: InducedRule, known: np.ndarray, ridx: Mapping[str, int], x: int, y: int
) -> list[tuple[list[int], float]]:
    """Every chain ``x → ... → y`` through non-zero values, with the product of values."""
    out: list[tuple[list[int], float]] = []
    mats = [known[ridx[q]].T if rev else known[ridx[q]] for q, rev in rule.body]

    def walk(at: int, step: int, path: list[int], value: float) -> None:
        if step == len(mats):
            if at == y:
                out.append((path, value))
            return
        row = mats[step][at]
        for nxt in np.nonzero(row)[0].tolist():
            walk(nxt, step + 1, [*path, nxt], value * float(row[nxt]))

    walk(x, 0, [x], 1.0)
    return out
