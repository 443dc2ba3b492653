"""Differentiable rule induction from templates (TensorLog / Neural-LP style).

Each relation ``r`` of a :class:`~neurosym.kbc.TripleDataset` is an ``E × E`` adjacency
matrix ``A_r`` of the training facts. A chain rule ``p(X, Y) :- r1(X, Z), r2(Z, Y).`` has
``(A_r1 A_r2)[x, y]`` groundings for the pair ``(x, y)`` (one per intermediate ``Z``), so
every instantiation of a chain template is scored with a product of matrices.

**What a score means.** A rule with weight ``w`` reads as in ProbLog: every ground
instance whose body holds fires independently with probability ``w``. Applied once to
the training facts, the score of ``p(x, y)`` is the probability that at least one fires,

    score(x, y) = 1 − ∏_rules (1 − w_rule) ^ count_rule(x, y),

a noisy-or over the groundings. Applied ``depth`` times (round ``t`` reads the values of
round ``t - 1``, a training fact keeping value 1), a grounding contributes
``w · ∏ premise values`` and the groundings combine by noisy-or: the product t-norm and
probabilistic sum, which is the engine's ``semantics="fuzzy-product"``.
:meth:`InducedRules.program` writes the rounds as a layered, non-recursive program
(``locatedIn_1``, ``locatedIn_2``, ...) on which the engine computes exactly
:meth:`InducedRules.scores`; at depth 1 that is also the exact ``"prob"`` value. Depth
plays the part of the proof depth of NTP; feeding conclusions back without a bound (the
plain recursive reading of :meth:`InducedRules.text`) lets evidence circle the
neighbour graph of Countries until every region looks likely.

**How rules are learned.** For each head relation ``p``, template ``t`` and each of the
template's ``count`` copies ``k``, a softmax over the relations picks each predicate
variable (the attention of Neural-LP, Yang et al. 2017), and a sigmoid gives the copy a
confidence, so an instantiation's weight is ``σ(β_k) · ∏_v softmax(α_{k,v})[r_v]``
(copies combine by noisy-or). Unlike Neural-LP's sum of path counts, the noisy-or score
stays a probability, so the learned weights are the weights of the printed rules.
Training scores one round (depth 1) and minimises binary cross-entropy against 1-vs-all
targets (``p(x, ·)`` true for every training answer), on minibatches of training facts
whose own edges are removed from the graph for that step, so that a fact never proves
itself (Neural-LP does the same); the batch's other answers are hidden at random too
(``hide``), so rules are learned for entities that lack facts, as test entities do. The
rules read off are the ``count`` strongest instantiations of each template whose weight
reaches ``threshold``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

import numpy as np

from neurosym.errors import ConfigurationError
from neurosym.kbc._data import TripleDataset
from neurosym.kbc._templates import Template

if TYPE_CHECKING:
    import torch

    from neurosym.kb import KnowledgeBase

__all__ = ["InducedRule", "InducedRules", "induce_rules", "layered_kb"]

_MIDDLE = ("Z", "W", "V", "U", "T", "S")
# the largest number of instantiations of one template the learner enumerates
_MAX_INSTANTIATIONS = 20_000
# the starting confidence logit of every template copy: σ(−4) ≈ 0.02, below the default
# threshold, so a rule that training never raised is not read off
_START = -4.0


@final
@dataclass(frozen=True, slots=True)
class InducedRule:
    """One induced chain rule ``head(X, Y) :- body`` with its weight.

    Attributes:
        weight: the probability that one ground instance fires, in (0, 1], rounded to 4
            decimals (the printed value is the value used for scoring).
        head: the concluded relation.
        body: the chain from ``X`` to ``Y`` as ``(relation, reversed)`` steps; a reversed
            step ``r`` is the atom ``r(next, previous)``.
        name: the rule's name in the printed text.

    Example:
        >>> r = InducedRule(0.9, "locatedIn", (("neighborOf", False), ("locatedIn", False)), "r1")
        >>> r.text()
        'rule r1: 0.9 :: locatedIn(X, Y) :- neighborOf(X, Z), locatedIn(Z, Y).'
    """

    weight: float
    head: str
    body: tuple[tuple[str, bool], ...]
    name: str

    def atoms(self) -> list[tuple[str, str, str]]:
        """The body atoms as ``(relation, first variable, second variable)``."""
        names = ["X", *_MIDDLE[: len(self.body) - 1], "Y"]
        return [
            (r, names[i + 1], names[i]) if rev else (r, names[i], names[i + 1])
            for i, (r, rev) in enumerate(self.body)
        ]

    def text(self) -> str:
        """The rule in the rule language (named, weighted)."""
        body = ", ".join(f"{r}({a}, {b})" for r, a, b in self.atoms())
        w = _fmt(self.weight)
        return f"rule {self.name}: {w} :: {self.head}(X, Y) :- {body}."


def _fmt(w: float) -> str:
    s = f"{w:.4f}".rstrip("0").rstrip(".")
    return s if s else "0"


@final
@dataclass(frozen=True, slots=True)
class InducedRules:
    """A set of induced rules over a dataset's relations.

    Attributes:
        rules: the rules, grouped by head relation, strongest first.
        relations: the relations the rules may mention.

    Example:
        >>> ds = TripleDataset.from_triples(
        ...     "toy", train=[("a", "r", "b"), ("b", "r", "c"), ("c", "s", "a")]
        ... )
        >>> rules = InducedRules(
        ...     (InducedRule(0.5, "s", (("r", False), ("r", False)), "s1"),), ds.relations
        ... )
        >>> print(rules.text(), end="")
        rule s1: 0.5 :: s(X, Y) :- r(X, Z), r(Z, Y).
        >>> float(rules.scores(ds, "s")[0, 2])  # s(a, c): one grounding, Z = b
        0.5
        >>> print(rules.program(depth=1), end="")
        % round 1
        rule s_given_1: s_1(X, Y) :- s(X, Y).
        rule s1_1: 0.5 :: s_1(X, Y) :- r(X, Z), r(Z, Y).
    """

    rules: tuple[InducedRule, ...]
    relations: tuple[str, ...]

    def __post_init__(self) -> None:
        known = set(self.relations)
        for r in self.rules:
            bad = [x for x in (r.head, *(b for b, _ in r.body)) if x not in known]
            if bad:
                raise ConfigurationError(
                    f"rule {r.name} mentions {bad[0]!r}, not one of the relations "
                    f"{', '.join(self.relations)}"
                )
            if not 0.0 < r.weight <= 1.0:
                raise ConfigurationError(f"rule {r.name} has weight {r.weight}, outside (0, 1]")

    def for_head(self, relation: str) -> tuple[InducedRule, ...]:
        """The rules concluding ``relation``."""
        return tuple(r for r in self.rules if r.head == relation)

    def text(self) -> str:
        """The rules as ``.rules`` text, one per line (read by the engine recursively;
        :meth:`program` is the layered program that :meth:`scores` computes)."""
        return "".join(r.text() + "\n" for r in self.rules)

    def scores(self, dataset: TripleDataset, relation: str, *, depth: int = 1) -> np.ndarray:
        """The ``E × E`` values of ``relation(x, y)`` after ``depth`` rounds of the rules
        over the training facts (the layered reading of the module docstring): 1 for a
        training fact, else the noisy-or of the rules' groundings, 0 where no rule fires.
        Equal to the engine's values of :func:`layered_kb` under
        ``semantics="fuzzy-product"``.

        Raises:
            ConfigurationError: a relation the dataset does not have, or ``depth < 1``.
        """
        if relation not in dataset.relation_index:
            raise ConfigurationError(
                f"unknown relation {relation!r}; the dataset has {', '.join(dataset.relations)}"
            )
        out: np.ndarray = self.layers(dataset, depth=depth)[dataset.relation_index[relation]]
        return out

    def layers(self, dataset: TripleDataset, *, depth: int = 1) -> np.ndarray:
        """The ``(R, E, E)`` values of every relation after ``depth`` rounds (relations
        without rules keep their training facts)."""
        if depth < 1:
            raise ConfigurationError(f"depth must be at least 1, got {depth}")
        idx = dataset.relation_index
        given = adjacency(dataset)
        known = given
        heads = sorted({idx[r.head] for r in self.rules})
        for _ in range(depth):
            new = known.copy()
            for h in heads:
                logq = np.zeros(given.shape[1:])
                for rule in self.for_head(dataset.relations[h]):
                    factors = [known[idx[r]].T if rev else known[idx[r]] for r, rev in rule.body]
                    logq += _ground_log(factors, rule.weight)
                new[h] = 1.0 - (1.0 - given[h]) * np.exp(logq)
            known = new
        return known

    def program(self, *, depth: int = 1) -> str:
        """The rules as a layered, non-recursive ``.rules`` program of ``depth`` rounds.

        Round ``t`` concludes ``{relation}_{t}`` from the training facts (the rule
        ``{relation}_given_{t}``) and from the rules, whose bodies
        read round ``t - 1`` (round 0: the training facts). Added to the training facts
        (:func:`layered_kb`), the engine's value of ``{relation}_{depth}(x, y)`` under
        ``semantics="fuzzy-product"`` is :meth:`scores`.
        """
        if depth < 1:
            raise ConfigurationError(f"depth must be at least 1, got {depth}")
        heads = sorted({r.head for r in self.rules})
        lines = []
        for t in range(1, depth + 1):
            lines.append(f"% round {t}")
            lines.extend(f"rule {h}_given_{t}: {h}_{t}(X, Y) :- {h}(X, Y)." for h in heads)
            for r in self.rules:
                body = ", ".join(
                    f"{q}_{t - 1}({a}, {b})" if q in heads and t > 1 else f"{q}({a}, {b})"
                    for q, a, b in r.atoms()
                )
                lines.append(
                    f"rule {r.name}_{t}: {_fmt(r.weight)} :: {r.head}_{t}(X, Y) :- {body}."
                )
        return "\n".join(lines) + "\n"


def adjacency(dataset: TripleDataset) -> np.ndarray:
    """The ``(R, E, E)`` 0/1 adjacency tensor of the training facts (float64)."""
    a = np.zeros((dataset.num_relations, dataset.num_entities, dataset.num_entities))
    t = dataset.train
    a[t[:, 1], t[:, 0], t[:, 2]] = 1.0
    return a


def _ground_log(factors: Sequence[np.ndarray], weight: float) -> np.ndarray:
    """``Σ log(1 − weight · ∏ values)`` over the groundings of a chain, per ``(x, y)``: the
    groundings are the paths through the non-zero entries of ``factors`` (``E × E``)."""
    num = factors[0].shape[0]
    x, z = np.nonzero(factors[0])
    val = factors[0][x, z]
    for f in factors[1:]:
        rows, cols = np.nonzero(f)  # row-major, so grouped by row: a CSR index
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=num))])
        per = indptr[z + 1] - indptr[z]
        src = np.repeat(np.arange(len(z)), per)
        k = indptr[z][src] + np.arange(len(src)) - np.repeat(np.cumsum(per) - per, per)
        val = val[src] * f[rows[k], cols[k]]
        x, z = x[src], cols[k]
    terms = np.full(len(x), -np.inf) if weight >= 1.0 else np.log1p(-weight * val)
    out = np.zeros(num * num)
    np.add.at(out, x * num + z, terms)
    return out.reshape(num, num)


def layered_kb(rules: InducedRules, dataset: TripleDataset, *, depth: int = 1) -> KnowledgeBase:
    """The training facts and :meth:`InducedRules.program`, as a knowledge base.

    Raises:
        ConfigurationError: a layer predicate ``{relation}_{t}`` that is already a
            relation of the dataset.
    """
    heads = {r.head for r in rules.rules}
    clash = {f"{h}_{t}" for h in heads for t in range(depth + 1)} & set(dataset.relations)
    if clash:
        raise ConfigurationError(
            f"the layer predicate {sorted(clash)[0]!r} is also a relation of the dataset"
        )
    kb = dataset.to_kb(("train",))
    kb.add(rules.program(depth=depth))
    return kb


# ---------------------------------------------------------------------------------------
# learning


@dataclass(frozen=True)
class _Compiled:
    """A template's instantiations: the chain as symbols per instantiation."""

    template: Template
    assign: np.ndarray  # (n, m): the relation of each predicate variable
    seqs: np.ndarray  # (n, L): step symbols; r forward, R + r reversed; -1/-2 the head
    trivial_for: np.ndarray  # (n,): the head relation for which this is p :- p, else -1


def _compile(t: Template, num_rel: int) -> _Compiled:
    m = len(t.variables)
    n = num_rel**m
    if n > _MAX_INSTANTIATIONS:
        raise ConfigurationError(
            f"{t.span.start_str()}: template {t} has {n} instantiations over {num_rel} "
            f"relations (at most {_MAX_INSTANTIATIONS}); use fewer predicate variables"
        )
    assign = np.array(list(itertools.product(range(num_rel), repeat=m)), dtype=np.int64)
    assign = assign.reshape(n, m)
    path = t.path
    seqs = np.zeros((n, len(path)), dtype=np.int64)
    for s, (slot, rev) in enumerate(path):
        seqs[:, s] = (-2 if rev else -1) if slot < 0 else assign[:, slot] + (num_rel if rev else 0)
    trivial = np.full(n, -1, dtype=np.int64)
    if len(path) == 1 and not path[0][1] and path[0][0] >= 0:
        trivial = assign[:, 0].copy()  # p(X, Y) :- q(X, Y) is trivial when q = p
    return _Compiled(t, assign, seqs, trivial)


def _batch_counts(
    mats: torch.Tensor, heads: torch.Tensor, xs: torch.Tensor, seqs: np.ndarray
) -> torch.Tensor:
    """``(n, B, E)`` groundings from each source ``xs[b]`` to every entity, per
    instantiation; ``mats`` is ``(2R, E, E)`` (forward then transposed), ``heads[b]`` the
    head relation of batch row ``b`` (used by the -1/-2 symbols)."""
    import torch

    num_rel = mats.shape[0] // 2
    length = seqs.shape[1]
    # states for the distinct prefixes, level by level
    prefixes, inverse = np.unique(seqs[:, :1], axis=0, return_inverse=True)
    states = torch.stack([_step_first(mats, heads, xs, int(p[0]), num_rel) for p in prefixes])
    index = inverse.reshape(-1)
    for s in range(1, length):
        new_prefixes, new_inverse = np.unique(seqs[:, : s + 1], axis=0, return_inverse=True)
        new_index = new_inverse.reshape(-1)
        parent_of = np.zeros(len(new_prefixes), dtype=np.int64)
        parent_of[new_index] = index  # each longer prefix extends one shorter one
        parents = torch.from_numpy(parent_of)
        symbols = new_prefixes[:, s]
        out = torch.empty((len(new_prefixes), *states.shape[1:]), dtype=states.dtype)
        for sym in np.unique(symbols):
            sel = np.nonzero(symbols == sym)[0]
            prev = states[parents[sel]]
            if sym >= 0:
                out[sel] = prev @ mats[int(sym)]
            else:
                hm = mats[heads + (num_rel if sym == -2 else 0)]  # (B, E, E)
                out[sel] = torch.einsum("kbe,bef->kbf", prev, hm)
        states = out
        index = new_index
    return states[torch.from_numpy(index)]


def _step_first(
    mats: torch.Tensor, heads: torch.Tensor, xs: torch.Tensor, sym: int, num_rel: int
) -> torch.Tensor:
    if sym >= 0:
        return mats[sym][xs]
    rel = heads + (num_rel if sym == -2 else 0)
    return mats[rel, xs]


def induce_rules(
    dataset: TripleDataset,
    templates: Sequence[Template],
    *,
    heads: Sequence[str] | None = None,
    seed: int = 0,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 0.1,
    hide: float = 0.5,
    threshold: float = 0.05,
) -> InducedRules:
    """Learn weighted instantiations of the templates from the training facts.

    Args:
        dataset: the facts (only ``dataset.train`` is read).
        templates: generic templates (:func:`~neurosym.kbc.parse_templates`); the learner
            chooses the relations.
        heads: the relations to learn rules for (default: every relation).
        seed: seeds the initial attention and the order of the minibatches.
        epochs: passes over the training facts of the heads.
        batch_size: training facts per step (their edges are hidden in that step); at
            most a quarter of the facts, so that most of the graph stays visible.
        lr: Adam's learning rate.
        hide: the probability that each *other* training answer ``p(x, y')`` of a batch
            fact ``p(x, y)`` is hidden with it in that step (the fact itself always is),
            so that rules are also learned for entities whose facts are missing, as they
            are for held-out entities at test time.
        threshold: the smallest weight of a rule that is kept.

    Returns:
        The rules, at most ``template.count`` per template and head relation.

    Raises:
        ConfigurationError: no templates, an unknown head, a template with too many
            instantiations, or an option out of range.

    Example:
        >>> from neurosym.kbc import parse_templates
        >>> people = [f"p{i}" for i in range(12)]
        >>> rows = [(people[i], "parent", people[i + 1]) for i in range(11)]
        >>> rows += [(people[i], "grandparent", people[i + 2]) for i in range(10)]
        >>> ds = TripleDataset.from_triples("family", train=rows)
        >>> rules = induce_rules(ds, parse_templates("1 #1(X, Y) :- #2(X, Z), #2(Z, Y)."),
        ...                      heads=["grandparent"], epochs=60, batch_size=4, lr=0.2)
        >>> print(rules.text(), end="")  # doctest: +ELLIPSIS
        rule grandparent_r1: 0.9... :: grandparent(X, Y) :- parent(X, Z), parent(Z, Y).
    """
    import torch

    threads = torch.get_num_threads()
    # these are small matrix products: more threads only spin (50x slower on 2 busy cores)
    torch.set_num_threads(1)
    try:
        return _induce(dataset, templates, heads, seed, epochs, batch_size, lr, hide, threshold)
    finally:
        torch.set_num_threads(threads)


def _induce(
    dataset: TripleDataset,
    templates: Sequence[Template],
    heads: Sequence[str] | None,
    seed: int,
    epochs: int,
    batch_size: int,
    lr: float,
    hide: float,
    threshold: float,
) -> InducedRules:
    import torch

    if not templates:
        raise ConfigurationError("no templates given; pass at least one (parse_templates)")
    if epochs < 1 or batch_size < 1 or not lr > 0 or not 0 < threshold <= 1:
        raise ConfigurationError(
            f"need epochs >= 1, batch_size >= 1, lr > 0 and 0 < threshold <= 1, got "
            f"epochs={epochs}, batch_size={batch_size}, lr={lr}, threshold={threshold}"
        )
    if not 0 <= hide <= 1:
        raise ConfigurationError(f"hide is a probability in [0, 1], got {hide}")
    rel_idx = dataset.relation_index
    head_names = list(dict.fromkeys(dataset.relations if heads is None else heads))
    for h in head_names:
        if h not in rel_idx:
            raise ConfigurationError(
                f"unknown head relation {h!r}; the dataset has {', '.join(dataset.relations)}"
            )
    num_rel, num_ent = dataset.num_relations, dataset.num_entities
    compiled = [_compile(t, num_rel) for t in templates]
    head_ids = [rel_idx[h] for h in head_names]
    slot_of = {r: i for i, r in enumerate(head_ids)}

    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    alphas, betas = [], []
    for c in compiled:
        k, m = c.template.count, c.assign.shape[1]
        alphas.append(
            (0.1 * torch.randn(len(head_ids), k, m, num_rel, generator=gen)).requires_grad_()
        )
        betas.append(torch.full((len(head_ids), k), _START).requires_grad_())
    opt = torch.optim.Adam([*alphas, *betas], lr=lr)

    adj = torch.from_numpy(adjacency(dataset)).float()
    facts = dataset.train[np.isin(dataset.train[:, 1], head_ids)]
    if len(facts) == 0:
        raise ConfigurationError(f"no training facts of {', '.join(head_names)} to learn from")
    size = max(1, min(batch_size, len(facts) // 4))
    targets_of: dict[tuple[int, int], list[int]] = {}
    for h, r, t in dataset.train.tolist():
        targets_of.setdefault((h, r), []).append(t)

    def log_keep(ci: int) -> torch.Tensor:
        """(heads, n): log(1 − W) of every instantiation."""
        c = compiled[ci]
        probs = torch.softmax(alphas[ci], dim=-1)  # (H, K, m, R)
        w = torch.sigmoid(betas[ci])[..., None].expand(-1, -1, len(c.assign))
        for j in range(c.assign.shape[1]):
            w = w * probs[:, :, j, torch.from_numpy(c.assign[:, j])]
        lk = torch.log1p(-w.clamp(max=1 - 1e-6)).sum(dim=1)  # (H, n)
        trivial = torch.from_numpy(c.trivial_for)
        mask = trivial[None, :] == torch.tensor(head_ids)[:, None]
        return torch.where(mask, torch.zeros_like(lk), lk)

    for _ in range(epochs):
        order = rng.permutation(len(facts))
        for start in range(0, len(order), size):
            batch = facts[order[start : start + size]]
            masked = adj.clone()
            masked[batch[:, 1], batch[:, 0], batch[:, 2]] = 0.0
            if hide > 0:
                for h, r, _t in batch.tolist():
                    others = targets_of[(h, r)]
                    drop = [o for o, u in zip(others, rng.random(len(others))) if u < hide]
                    masked[r, h, drop] = 0.0
            mats = torch.cat([masked, masked.transpose(1, 2)])
            xs = torch.from_numpy(batch[:, 0])
            hrel = torch.from_numpy(batch[:, 1])
            hslot = torch.tensor([slot_of[int(r)] for r in batch[:, 1]])
            target = torch.zeros(len(batch), num_ent)
            for b, (h, r, _t) in enumerate(batch.tolist()):
                target[b, targets_of[(h, r)]] = 1.0
            logq = torch.zeros(len(batch), num_ent)
            for ci, c in enumerate(compiled):
                counts = _batch_counts(mats, hrel, xs, c.seqs)  # (n, B, E)
                lk = log_keep(ci)[hslot]  # (B, n)
                logq = logq + torch.einsum("nbe,bn->be", counts, lk)
            score = -torch.expm1(logq)
            loss = (
                -(target * torch.log(score.clamp(min=1e-7)) + (1 - target) * logq.clamp(min=-16.0))
                .sum(dim=1)
                .mean()
            )
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()

    rules: list[InducedRule] = []
    rel_names = dataset.relations
    with torch.no_grad():
        for hi, hid in enumerate(head_ids):
            merged: dict[tuple[tuple[str, bool], ...], float] = {}
            for ci, c in enumerate(compiled):
                keep = log_keep(ci)[hi].numpy()
                weights = -np.expm1(keep)
                order_ = np.argsort(-weights, kind="stable")[: c.template.count]
                for i in order_:
                    if weights[i] < threshold:
                        break
                    body = tuple(
                        (
                            rel_names[hid if sym < 0 else sym % num_rel],
                            bool(sym == -2 or sym >= num_rel),
                        )
                        for sym in c.seqs[i].tolist()
                    )
                    old = merged.get(body, 0.0)
                    merged[body] = 1.0 - (1.0 - old) * (1.0 - float(weights[i]))
            ranked = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))
            for n, (body, w) in enumerate(ranked, 1):
                rules.append(
                    InducedRule(round(w, 4), rel_names[hid], body, f"{rel_names[hid]}_r{n}")
                )
    return InducedRules(tuple(rules), dataset.relations)
