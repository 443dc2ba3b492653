"""Filtered ranking metrics (MRR, Hits@k) with an explicit tie policy, and pooled AUC-PR.

Filtered protocol (Bordes et al. 2013): a test triple ``(h, r, t)`` is ranked among the
corruptions ``(h, r, t')`` that are not known true (train ∪ valid ∪ test), and likewise for
the head; MRR and Hits@k average over both directions. A candidate scoring exactly as the
answer is a tie; how ties are broken changes the numbers on small benchmarks (Sun et al.
2020, "A Re-evaluation of Knowledge Graph Completion Methods"), so the policy is a
parameter and is reported with the result:

* ``"random"`` (default): the answer lands at a uniformly random place among its ties
  (seeded generator);
* ``"optimistic"``: before every tie; ``"pessimistic"``: after every tie;
* ``"mean"``: the expected rank under random placement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal, final, get_args

import numpy as np
import torch
from torch import Tensor

from neurosym.errors import ConfigurationError

__all__ = [
    "RankingMetrics",
    "Ties",
    "average_precision",
    "filtered_ranks",
    "ranking_metrics",
]

Ties = Literal["random", "optimistic", "pessimistic", "mean"]
_TIES: tuple[str, ...] = get_args(Ties)

ScoreFn = Callable[[Tensor, Tensor], Tensor]


@final
@dataclass(frozen=True, slots=True)
class RankingMetrics:
    """Filtered ranking results over both directions.

    Attributes:
        mrr: mean reciprocal rank.
        hits_at_1, hits_at_3, hits_at_10: fraction of ranks ≤ k.
        count: number of ranked queries (2 per triple).
        ties: the tie policy used.
    """

    mrr: float
    hits_at_1: float
    hits_at_3: float
    hits_at_10: float
    count: int
    ties: str

    def as_dict(self) -> dict[str, float | int | str]:
        """The fields as a plain dict."""
        return asdict(self)


def filtered_ranks(
    scores: Tensor,
    targets: Tensor,
    filter_mask: Tensor,
    *,
    ties: Ties = "random",
    generator: torch.Generator | None = None,
) -> Tensor:
    """The 1-based rank of each target among its unfiltered candidates.

    Args:
        scores: ``(B, N)`` candidate scores (higher is better).
        targets: ``(B,)`` index of the true answer per row.
        filter_mask: ``(B, N)`` bool, True for candidates to remove (other true answers);
            the target itself is never removed.
        ties: tie policy (see the module docstring).
        generator: random generator for ``ties="random"``.

    Returns:
        ``(B,)`` float64 ranks (``"mean"`` gives half-integers).

    Example:
        >>> s = torch.tensor([[0.5, 0.9, 0.5, 0.5]])
        >>> m = torch.tensor([[False, True, False, False]])  # candidate 1 is also true
        >>> filtered_ranks(s, torch.tensor([0]), m, ties="pessimistic")
        tensor([3.], dtype=torch.float64)
        >>> filtered_ranks(s, torch.tensor([0]), m, ties="optimistic")
        tensor([1.], dtype=torch.float64)
    """
    if ties not in _TIES:
        raise ConfigurationError(f"ties must be one of {', '.join(_TIES)}, got {ties!r}")
    rows = torch.arange(scores.shape[0], device=scores.device)
    target_score = scores[rows, targets].unsqueeze(1)
    keep = ~filter_mask.clone()
    keep[rows, targets] = False  # the target is not its own competitor
    greater = ((scores > target_score) & keep).sum(1).to(torch.float64)
    equal = ((scores == target_score) & keep).sum(1).to(torch.float64)
    if ties == "optimistic":
        extra = torch.zeros_like(equal)
    elif ties == "pessimistic":
        extra = equal
    elif ties == "mean":
        extra = equal / 2
    else:
        u = torch.rand(equal.shape, generator=generator, dtype=torch.float64)
        extra = torch.floor(u.to(equal.device) * (equal + 1))
    return 1.0 + greater + extra


def _keys(a: Tensor, b: Tensor, c: Tensor, n_rel: int, n_ent: int) -> Tensor:
    return (a * n_rel + b) * n_ent + c


def ranking_metrics(
    score_tails: ScoreFn,
    score_heads: ScoreFn,
    triples: np.ndarray,
    known: np.ndarray,
    *,
    num_entities: int,
    num_relations: int,
    ties: Ties = "random",
    seed: int = 0,
    batch_size: int = 512,
    device: torch.device | str = "cpu",
) -> RankingMetrics:
    """Filtered MRR and Hits@1/3/10 of ``triples``, over tail and head prediction.

    Args:
        score_tails: ``(heads, relations) -> (B, N)`` scores of every tail.
        score_heads: ``(tails, relations) -> (B, N)`` scores of every head.
        triples: ``(n, 3)`` int64 ``(h, r, t)`` to rank.
        known: ``(m, 3)`` every true triple (the filter), e.g. ``dataset.known()``.
        num_entities: number of entities ``N``.
        num_relations: number of relations.
        ties: tie policy.
        seed: seed of the tie-breaking generator.
        batch_size: queries scored at once.
        device: where the scores live.

    Returns:
        The :class:`RankingMetrics`, tie policy included.

    Example:
        >>> N = 3
        >>> perfect = lambda e, r: torch.nn.functional.one_hot((e + 1) % N, N).float()
        >>> inverse = lambda e, r: torch.nn.functional.one_hot((e - 1) % N, N).float()
        >>> tri = np.array([[0, 0, 1], [1, 0, 2]])
        >>> m = ranking_metrics(perfect, inverse, tri, tri, num_entities=N, num_relations=1)
        >>> m.mrr, m.hits_at_1, m.ties
        (1.0, 1.0, 'random')
    """
    if ties not in _TIES:
        raise ConfigurationError(f"ties must be one of {', '.join(_TIES)}, got {ties!r}")
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    kn = torch.as_tensor(known, dtype=torch.int64, device=dev)
    fwd = torch.sort(_keys(kn[:, 0], kn[:, 1], kn[:, 2], num_relations, num_entities)).values
    bwd = torch.sort(_keys(kn[:, 2], kn[:, 1], kn[:, 0], num_relations, num_entities)).values
    tri = torch.as_tensor(triples, dtype=torch.int64, device=dev)
    cand = torch.arange(num_entities, device=dev)
    ranks = []
    with torch.no_grad():
        for start in range(0, len(tri), batch_size):
            b = tri[start : start + batch_size]
            h, r, t = b[:, 0], b[:, 1], b[:, 2]
            for fn, src, dst, sorted_keys in (
                (score_tails, h, t, fwd),
                (score_heads, t, h, bwd),
            ):
                scores = fn(src, r)
                keys = _keys(src[:, None], r[:, None], cand[None, :], num_relations, num_entities)
                mask = torch.isin(keys, sorted_keys)
                ranks.append(filtered_ranks(scores, dst, mask, ties=ties, generator=gen).cpu())
    if not ranks:
        raise ConfigurationError("no triples to rank")
    rk = torch.cat(ranks)
    return RankingMetrics(
        mrr=float((1.0 / rk).mean()),
        hits_at_1=float((rk <= 1).double().mean()),
        hits_at_3=float((rk <= 3).double().mean()),
        hits_at_10=float((rk <= 10).double().mean()),
        count=len(rk),
        ties=ties,
    )


def average_precision(scores: np.ndarray | Tensor, labels: np.ndarray | Tensor) -> float:
    """Area under the precision–recall curve as average precision (pooled), as in
    ``sklearn.metrics.average_precision_score``: ``Σ_n (R_n − R_{n−1}) P_n`` over the
    distinct score thresholds, highest first (tied scores form one threshold).

    Raises:
        ConfigurationError: for mismatched shapes or no positive label.

    Example:
        >>> average_precision(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1]))
        0.8333333333333333
    """
    s = np.asarray(scores.detach().cpu() if isinstance(scores, Tensor) else scores, float)
    y = np.asarray(labels.detach().cpu() if isinstance(labels, Tensor) else labels).astype(bool)
    s, y = s.ravel(), y.ravel()
    if s.shape != y.shape:
        raise ConfigurationError(f"scores and labels differ in size: {s.size} and {y.size}")
    if not y.any():
        raise ConfigurationError("average precision needs at least one positive label")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # end of each tie group
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
