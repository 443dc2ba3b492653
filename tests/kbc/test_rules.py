"""Rules in the loop: penalties by hand, shapes accepted and refused, and the effect on training."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from neurosym.engine import Fuzzy
from neurosym.errors import ConfigurationError
from neurosym.kbc import RuleConstraint, TrainConfig, TripleDataset, fit
from neurosym.lang import parse_text


def _ds() -> TripleDataset:
    return TripleDataset.from_triples(
        "t", train=[("a", "p", "b"), ("b", "q", "c"), ("c", "r", "a")]
    )


@pytest.mark.parametrize("tnorm", ["product", "godel", "lukasiewicz"])
def test_chain_penalty_matches_a_loop(tnorm: str) -> None:
    ds = _ds()
    g = torch.Generator().manual_seed(0)
    raw = {r: torch.randn(3, 3, generator=g, dtype=torch.float64) * 3 for r in range(3)}
    # p(X,Y) :- q(Z,X), r(Z,Y).   (first atom reversed)
    rc = RuleConstraint(parse_text("p(X,Y) :- q(Z,X), r(Z,Y)."), ds, tnorm=tnorm)  # type: ignore[arg-type]
    deg = {r: torch.sigmoid(m).numpy() for r, m in raw.items()}
    p, q, r = (ds.relation_index[n] for n in "pqr")
    t = {
        "product": lambda a, b: a * b,
        "godel": min,
        "lukasiewicz": lambda a, b: max(0.0, a + b - 1.0),
    }[tnorm]
    total = 0.0
    for x, y in itertools.product(range(3), repeat=2):
        body = max(t(deg[q][z, x], deg[r][z, y]) for z in range(3))
        total += max(0.0, body - deg[p][x, y])
    assert rc.penalty(lambda k: raw[k]).item() == pytest.approx(total / 9)


def test_fuzzy_semiring_and_rule_weight_are_honoured() -> None:
    ds = _ds()
    rc = RuleConstraint(parse_text("0.5 :: p(X,Y) :- q(X,Y)."), ds, tnorm=Fuzzy("godel"))
    assert rc.tnorm == "godel"
    raw = {0: torch.zeros(3, 3), 1: torch.full((3, 3), 50.0), 2: torch.zeros(3, 3)}
    assert rc.penalty(lambda k: raw[k]).item() == pytest.approx(0.5 * 0.5)


@pytest.mark.parametrize(
    "text, message",
    [
        ("p(X,Y) :- q(X,Y), r(Y,Z), p(Z,X).", "3 body atoms"),
        ("p(X,Y) :- q(X,a).", "two variable arguments"),
        ("p(X,Y) :- q(X,Z), r(W,Y).", "chain"),
        ("p(X,Y) :- s(X,Y).", "not a relation"),
        ("p(X,Y) :- q(X,Y), not r(X,Y).", "positive atoms"),
        ("p(X,X) :- q(X,X).", "must differ"),
    ],
)
def test_unsupported_rules_are_named(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RuleConstraint(parse_text(text), _ds())


def _implied() -> tuple[TripleDataset, list[tuple[str, str, str]]]:
    """q holds on 16 pairs, p on 16 others; p(X,Y) :- q(X,Y) implies p on the q pairs too,
    which training never shows."""
    rng = np.random.default_rng(0)
    ents = [f"e{i}" for i in range(16)]
    pairs: list[tuple[int, int]] = []
    while len(pairs) < 32:
        a, b = (int(v) for v in rng.integers(0, 16, size=2))
        if a != b and (a, b) not in pairs:
            pairs.append((a, b))
    q = [(ents[a], "q", ents[b]) for a, b in pairs[:16]]
    p = [(ents[a], "p", ents[b]) for a, b in pairs[16:]]
    ds = TripleDataset.from_triples("implied", train=q + p, entities=ents)
    return ds, [(h, "p", t) for h, _, t in q]


def test_the_constrained_model_scores_implied_facts_higher(tmp_path: Path) -> None:
    ds, held_out = _implied()
    rules = tmp_path / "r.rules"
    rules.write_text("p(X, Y) :- q(X, Y).\n", encoding="utf-8")
    rc = RuleConstraint.from_file(rules, ds, tnorm="product", weight=5.0)
    cfg = TrainConfig(rank=8, lr=0.2, n3=1e-3, max_epochs=40, eval_every=40, batch_size=32)
    probs = []
    for constraint in (None, rc):
        model = fit(ds, dynamics="identity", config=cfg, constraint=constraint, seed=1).model
        idx = torch.tensor(
            [[ds.entity_index[h], ds.relation_index[r], ds.entity_index[t]] for h, r, t in held_out]
        )
        with torch.no_grad():
            s = model.scorer.score(model.embeddings(), idx)
        probs.append(torch.sigmoid(s).mean().item())
    plain, constrained = probs
    assert constrained > plain + 0.3, (plain, constrained)
