"""Rules in the loop: soft constraints that the learned scores respect given rules.

For a rule ``p(X,Y) :- q(X,Z), r(Z,Y).`` the penalty is the mean over pairs ``(X, Y)`` of
``relu(body(X, Y) − head(X, Y))`` with truth degrees ``σ(score)``, where the body's degree is
``max_Z T(q(X,Z), r(Z,Y))``: the existential over ``Z`` is the fuzzy disjunction max, ``T``
the t-norm the user picks (product, Gödel or Łukasiewicz: the semirings of
:class:`neurosym.engine.Fuzzy`). So the head must score at least the t-norm of the body, on
every grounding, as a hinge (in the spirit of Demeester et al. 2016, "Lifted Rule Injection
via Relation Embeddings"; Guo et al. 2018, "Knowledge Graph Embedding with Iterative Guidance
from Soft Rules"). Supported shapes: one or two binary body atoms over variables that chain
``X`` to ``Y``, each atom either way round: ``p(X,Y) :- q(X,Y).``, ``p(X,Y) :- q(Y,X).``,
``p(X,Y) :- q(X,Z), r(Y,Z).`` … A fixed rule weight ``w ::`` scales its penalty.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, final

import torch
from torch import Tensor

from neurosym.errors import ConfigurationError
from neurosym.lang import Atom, FixedWeight, Literal_, Program, Rule, Var, format_statement

from ._data import TripleDataset

if TYPE_CHECKING:
    from neurosym.engine import Fuzzy
    from neurosym.kb import KnowledgeBase

__all__ = ["RuleConstraint", "TNorm"]

TNorm = Literal["product", "godel", "lukasiewicz"]


@final
@dataclass(frozen=True, slots=True)
class _Compiled:
    text: str
    head: int
    body: tuple[tuple[int, bool], ...]  # (relation, transposed)
    weight: float


def _tnorm(name: str, a: Tensor, b: Tensor) -> Tensor:
    if name == "product":
        return a * b
    if name == "godel":
        return torch.minimum(a, b)
    return torch.clamp(a + b - 1.0, min=0.0)


@final
class RuleConstraint:
    """Soft penalties ``relu(T(body) − head)`` for rules over binary relations.

    Args:
        rules: rules, a parsed :class:`~neurosym.lang.Program` or a knowledge base (their
            rules are used; facts and other statements are ignored).
        dataset: gives the relation names (every predicate must be one of them).
        tnorm: ``"product"``, ``"godel"``, ``"lukasiewicz"`` or a
            :class:`neurosym.engine.Fuzzy` semiring.
        weight: multiplies the summed penalty.
        max_rows: ground at most this many ``X`` per rule and step (sampled); ``None``:
            every entity.

    Raises:
        ConfigurationError: for a rule of another shape (named, with its text) or an
            unknown relation.

    Example:
        >>> from neurosym.lang import parse_text
        >>> ds = TripleDataset.from_triples("t", train=[("a", "p", "a"), ("a", "q", "b")])
        >>> rc = RuleConstraint(parse_text("p(X,Y) :- q(Y,X)."), ds, tnorm="godel")
        >>> rc.rules
        ('p(X, Y) :- q(Y, X).',)
        >>> mats = {0: torch.zeros(2, 2), 1: torch.full((2, 2), 10.0)}  # p low, q high
        >>> round(float(rc.penalty(lambda r: mats[r])), 3)  # σ(10) − σ(0)
        0.5
    """

    def __init__(
        self,
        rules: Iterable[object] | Program | KnowledgeBase,
        dataset: TripleDataset,
        *,
        tnorm: TNorm | Fuzzy = "product",
        weight: float = 1.0,
        max_rows: int | None = None,
    ) -> None:
        name = getattr(tnorm, "tnorm", tnorm)
        if name not in ("product", "godel", "lukasiewicz"):
            raise ConfigurationError(
                f"tnorm must be 'product', 'godel', 'lukasiewicz' or a Fuzzy semiring, "
                f"got {tnorm!r}"
            )
        if weight < 0:
            raise ConfigurationError(f"weight must be non-negative, got {weight}")
        self.tnorm: str = str(name)
        self.weight = float(weight)
        self.max_rows = max_rows
        from neurosym.kb import KnowledgeBase

        items: Iterable[object]
        if isinstance(rules, KnowledgeBase):
            items = rules.rules
        elif isinstance(rules, Program):
            items = rules.statements
        else:
            items = rules
        compiled = [_compile(s, dataset) for s in items if isinstance(s, Rule)]
        if not compiled:
            raise ConfigurationError("no rules given: pass rules or a knowledge base with rules")
        self._rules = tuple(compiled)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], dataset: TripleDataset, **options: object
    ) -> RuleConstraint:
        """Read the rules of a ``.rules`` file (see :func:`neurosym.load`)."""
        from neurosym.kb import load

        return cls(load(path), dataset, **options)  # type: ignore[arg-type]

    @property
    def rules(self) -> tuple[str, ...]:
        """The constrained rules as text."""
        return tuple(c.text for c in self._rules)

    def penalty(
        self,
        relation_scores: Callable[[int], Tensor],
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """The weighted sum over rules of the mean hinge violation.

        Args:
            relation_scores: ``r -> (N, N)`` raw scores of ``(a, r, b)`` for all pairs
                (sigmoid makes them truth degrees).
            generator: random generator for sampling rows when ``max_rows`` is set.
        """
        cache: dict[int, Tensor] = {}

        def deg(r: int) -> Tensor:
            if r not in cache:
                cache[r] = torch.sigmoid(relation_scores(r))
            return cache[r]

        total: Tensor | None = None
        for c in self._rules:
            head = deg(c.head)
            n = head.shape[0]
            rows = torch.arange(n, device=head.device)
            if self.max_rows is not None and self.max_rows < n:
                rows = torch.randperm(n, generator=generator)[: self.max_rows].to(head.device)
            mats = [deg(r).T if tr else deg(r) for r, tr in c.body]
            if len(mats) == 1:
                body = mats[0][rows]
            else:
                a, b = mats[0][rows], mats[1]
                body = _tnorm(self.tnorm, a[:, :, None], b[None, :, :]).amax(dim=1)
            v = c.weight * torch.relu(body - head[rows]).mean()
            total = v if total is None else total + v
        assert total is not None  # at least one rule, checked in __init__
        return self.weight * total


def _compile(rule: Rule, ds: TripleDataset) -> _Compiled:
    text = format_statement(rule).strip()

    def bad(why: str) -> ConfigurationError:
        return ConfigurationError(
            f"rule {text!r}: {why}; rules in the loop take a binary head p(X,Y) and one or "
            "two binary body atoms over variables chaining X to Y, e.g. "
            "p(X,Y) :- q(X,Z), r(Z,Y)."
        )

    def rel(atom: Atom) -> int:
        if atom.predicate not in ds.relation_index:
            raise bad(f"{atom.predicate!r} is not a relation of dataset {ds.name!r}")
        return ds.relation_index[atom.predicate]

    def var_pair(atom: Atom) -> tuple[str, str]:
        if len(atom.args) != 2 or not all(isinstance(a, Var) for a in atom.args):
            raise bad(f"{atom.predicate} must have two variable arguments")
        x, y = atom.args
        assert isinstance(x, Var) and isinstance(y, Var)
        return x.name, y.name

    hx, hy = var_pair(rule.head)
    if hx == hy:
        raise bad("the head's two variables must differ")
    atoms: list[Atom] = []
    for item in rule.body:
        if not isinstance(item, Literal_) or item.negated:
            raise bad("the body may hold only positive atoms")
        atoms.append(item.atom)
    body: list[tuple[int, bool]] = []
    if len(atoms) == 1:
        a, b = var_pair(atoms[0])
        if (a, b) == (hx, hy):
            body.append((rel(atoms[0]), False))
        elif (a, b) == (hy, hx):
            body.append((rel(atoms[0]), True))
        else:
            raise bad("the body atom must relate the head's variables")
    elif len(atoms) == 2:
        (a1, b1), (a2, b2) = var_pair(atoms[0]), var_pair(atoms[1])
        # orient the first atom from X to Z, the second from Z to Y
        if hx in (a1, b1):
            first, second, p1, p2 = atoms[0], atoms[1], (a1, b1), (a2, b2)
        else:
            first, second, p1, p2 = atoms[1], atoms[0], (a2, b2), (a1, b1)
        if hx not in p1 or hy not in p2:
            raise bad("the body must chain X to Y through one variable")
        z1 = p1[1] if p1[0] == hx else p1[0]
        z2 = p2[0] if p2[1] == hy else p2[1]
        if z1 != z2 or z1 in (hx, hy):
            raise bad("the body must chain X to Y through one variable")
        body.append((rel(first), p1[0] != hx))
        body.append((rel(second), p2[1] != hy))
    else:
        raise bad(f"{len(atoms)} body atoms")
    w = rule.weight.value if isinstance(rule.weight, FixedWeight) else 1.0
    return _Compiled(text, rel(rule.head), tuple(body), float(w))
