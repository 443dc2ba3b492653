"""ComplEx fact scores (Trouillon et al. 2016) with the N3 regulariser (Lacroix et al. 2018).

Why ComplEx: a triple scores ``Re(<e_h, w_r, conj(e_t)>)``, which is not symmetric in ``h``
and ``t`` when ``w_r`` has an imaginary part, so antisymmetric relations (most Kinship
terms, UMLS's ``causes``) are representable, unlike DistMult; it is a bilinear model whose
1-vs-all scores for every entity are one matrix product, cheap for ≤ 135 entities; and with
the N3 penalty (weighted nuclear 3-norm, a bound on the tensor's nuclear norm) and
reciprocal relations it is among the strongest single models on these benchmarks (Lacroix et
al. 2018, "Canonical Tensor Decomposition for Knowledge Base Completion", ICML).

A complex vector of rank ``k`` is stored as ``2k`` reals: real parts first, then imaginary.
"""

from __future__ import annotations

from typing import final

import torch
from torch import Tensor, nn

from neurosym.errors import ConfigurationError

__all__ = ["ComplEx", "n3_penalty"]


def _halves(x: Tensor) -> tuple[Tensor, Tensor]:
    k = x.shape[-1] // 2
    return x[..., :k], x[..., k:]


@final
class ComplEx(nn.Module):
    """Relation embeddings and the ComplEx score over given entity embeddings.

    Args:
        num_relations: number of relations (with reciprocals: twice the dataset's).
        rank: complex rank ``k``; entity embeddings have ``2k`` real entries.
        init_scale: standard deviation of the initial relation embeddings.
        generator: random generator for the initialisation.

    Example:
        >>> s = ComplEx(1, 1)
        >>> with torch.no_grad():
        ...     _ = s.relation.copy_(torch.tensor([[0.0, 1.0]]))  # w = i
        >>> e = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # e0 = 1, e1 = i
        >>> s.score_all(e, torch.tensor([0]), torch.tensor([0]))[0].tolist()  # Re(i · conj(e_t))
        [[0.0, 1.0]]
    """

    def __init__(
        self,
        num_relations: int,
        rank: int,
        *,
        init_scale: float = 1e-3,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if num_relations < 1 or rank < 1:
            raise ConfigurationError(
                f"num_relations and rank must be positive, got {num_relations} and {rank}"
            )
        self.rank = rank
        self.relation = nn.Parameter(
            torch.randn(num_relations, 2 * rank, generator=generator) * init_scale
        )

    def query(self, lhs: Tensor, relations: Tensor) -> tuple[Tensor, Tensor]:
        """``e_h ∘ w_r`` as a real ``2k`` vector, and the relation embeddings used."""
        rel = self.relation[relations]
        a_re, a_im = _halves(lhs)
        r_re, r_im = _halves(rel)
        q = torch.cat([a_re * r_re - a_im * r_im, a_re * r_im + a_im * r_re], dim=-1)
        return q, rel

    def score_all(
        self, entities: Tensor, lhs: Tensor, relations: Tensor
    ) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
        """Scores of ``(lhs[b], relations[b], e)`` for every entity ``e``.

        Args:
            entities: entity embeddings ``(N, 2k)``.
            lhs: ``(B,)`` entity indices.
            relations: ``(B,)`` relation indices.

        Returns:
            ``(B, N)`` scores and the factors ``(e_lhs, w_r, entities)`` for the penalty.
        """
        e_lhs = entities[lhs]
        q, rel = self.query(e_lhs, relations)
        return q @ entities.T, (e_lhs, rel, entities)

    def score_relations(self, entities: Tensor, lhs: Tensor, rhs: Tensor) -> Tensor:
        """``(B, R)`` scores of ``(lhs[b], r, rhs[b])`` for every relation ``r``."""
        a_re, a_im = _halves(entities[lhs])
        b_re, b_im = _halves(entities[rhs])
        # Re(a · w · conj(b)) = c_re·w_re − c_im·w_im with c = a · conj(b)
        c = torch.cat([a_re * b_re + a_im * b_im, -(a_im * b_re - a_re * b_im)], dim=-1)
        return c @ self.relation.T

    def score(self, entities: Tensor, triples: Tensor) -> Tensor:
        """Scores of ``(h, r, t)`` rows ``(B, 3)``, shape ``(B,)``."""
        q, _ = self.query(entities[triples[:, 0]], triples[:, 1])
        return (q * entities[triples[:, 2]]).sum(-1)

    def relation_matrix(self, entities: Tensor, relation: int) -> Tensor:
        """``(N, N)`` scores of ``(a, relation, b)`` for every pair of entities."""
        idx = torch.full((entities.shape[0],), relation, dtype=torch.int64, device=entities.device)
        q, _ = self.query(entities, idx)
        return q @ entities.T


def n3_penalty(*factors: Tensor) -> Tensor:
    """Sum of cubed moduli of the complex entries of each factor (N3, Lacroix et al. 2018).

    Example:
        >>> n3_penalty(torch.tensor([[3.0, 4.0]]))  # |3 + 4i|³
        tensor(125.)
    """
    total = torch.zeros((), dtype=factors[0].dtype, device=factors[0].device)
    for f in factors:
        re, im = _halves(f)
        total = total + torch.sqrt(re**2 + im**2).pow(3).sum()
    return total
