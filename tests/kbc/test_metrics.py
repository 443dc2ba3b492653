"""Filtered ranking against a brute-force loop; tie policies; AUC-PR against sklearn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurosym.errors import ConfigurationError
from neurosym.kbc import average_precision, filtered_ranks, ranking_metrics


def test_tie_policies_by_hand() -> None:
    # target 0 scores 1.0; candidates 1 (2.0) beats it, 2 and 3 tie, 4 is filtered away.
    s = torch.tensor([[1.0, 2.0, 1.0, 1.0, 5.0]])
    m = torch.tensor([[True, False, False, False, True]])  # the target's own mask is ignored
    t = torch.tensor([0])
    assert filtered_ranks(s, t, m, ties="optimistic").item() == 2
    assert filtered_ranks(s, t, m, ties="pessimistic").item() == 4
    assert filtered_ranks(s, t, m, ties="mean").item() == 3
    g = torch.Generator().manual_seed(0)
    draws = filtered_ranks(s.repeat(4000, 1), t.repeat(4000), m.repeat(4000, 1), generator=g)
    assert set(draws.tolist()) == {2.0, 3.0, 4.0}  # uniform over the three places
    assert draws.mean().item() == pytest.approx(3.0, abs=0.05)
    with pytest.raises(ConfigurationError, match="ties"):
        filtered_ranks(s, t, m, ties="best")  # type: ignore[arg-type]


def _brute_force(scores: np.ndarray, tri: np.ndarray, known: set[tuple[int, int, int]]) -> list:
    ranks = []
    for h, r, t in tri.tolist():
        for direction in ("tail", "head"):
            row = scores[(direction, h, r, t)]
            target = t if direction == "tail" else h
            better = equal = 0
            for e in range(len(row)):
                if e == target:
                    continue
                fact = (h, r, e) if direction == "tail" else (e, r, t)
                if fact in known:
                    continue
                better += row[e] > row[target]
                equal += row[e] == row[target]
            ranks.append(1 + better + equal / 2)
    return ranks


def test_ranking_metrics_match_a_brute_force_loop() -> None:
    rng = np.random.default_rng(0)
    n_ent, n_rel = 7, 2
    all_tri = np.array(
        [(h, r, t) for h in range(n_ent) for r in range(n_rel) for t in range(n_ent)]
    )
    known = all_tri[rng.random(len(all_tri)) < 0.3]
    test = known[:12]
    table = rng.integers(0, 4, size=(2, n_ent, n_rel, n_ent, n_ent)).astype(float)  # many ties

    def tails(h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(table[0, h.numpy(), r.numpy(), 0])

    def heads(t: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(table[1, t.numpy(), r.numpy(), 0])

    scores = {}
    for h, r, t in test.tolist():
        scores[("tail", h, r, t)] = table[0, h, r, 0]
        scores[("head", h, r, t)] = table[1, t, r, 0]
    ref = np.array(_brute_force(scores, test, set(map(tuple, known.tolist()))))
    got = ranking_metrics(
        tails, heads, test, known, num_entities=n_ent, num_relations=n_rel, ties="mean",
        batch_size=5,
    )  # fmt: skip
    assert got.count == 2 * len(test)
    assert got.mrr == pytest.approx(float(np.mean(1 / ref)))
    assert got.hits_at_3 == pytest.approx(float(np.mean(ref <= 3)))
    assert got.ties == "mean"
    opt = ranking_metrics(tails, heads, test, known, num_entities=n_ent, num_relations=n_rel,
                          ties="optimistic")  # fmt: skip
    pes = ranking_metrics(tails, heads, test, known, num_entities=n_ent, num_relations=n_rel,
                          ties="pessimistic")  # fmt: skip
    assert pes.mrr < got.mrr < opt.mrr


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_average_precision_matches_sklearn(seed: int) -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 5, size=40).astype(float)  # ties on purpose
    labels = rng.random(40) < 0.3
    labels[0] = True
    expected = sklearn_metrics.average_precision_score(labels, scores)
    assert average_precision(scores, labels) == pytest.approx(expected)
    assert average_precision(torch.tensor(scores), torch.tensor(labels)) == pytest.approx(expected)


def test_average_precision_needs_a_positive() -> None:
    with pytest.raises(ConfigurationError, match="positive"):
        average_precision(np.array([0.1, 0.2]), np.array([0, 0]))
