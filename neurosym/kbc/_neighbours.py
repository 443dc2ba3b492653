"""Explanations by similarity: the entities nearest to a given one in embedding space."""

from __future__ import annotations

import torch

from neurosym.errors import ConfigurationError

from ._data import TripleDataset
from ._model import EmbeddingModel

__all__ = ["nearest_neighbours"]


def nearest_neighbours(
    model: EmbeddingModel, dataset: TripleDataset, entity: str, *, k: int = 5
) -> list[tuple[str, float]]:
    """The ``k`` entities whose embeddings at time T are closest to ``entity``'s (cosine).

    A predicted fact ``r(a, b)`` is then read as "``a`` behaves like these entities, and
    they have ``r``-edges to things like ``b``".

    Args:
        model: a trained model.
        dataset: its dataset (entity names).
        entity: the entity's name.
        k: number of neighbours (the entity itself is left out).

    Returns:
        ``[(name, cosine similarity), ...]``, most similar first.

    Raises:
        ConfigurationError: for an unknown entity or ``k < 1``.

    Example:
        >>> ds = TripleDataset.from_triples("t", train=[("a", "r", "b"), ("c", "r", "b")])
        >>> m = EmbeddingModel(ds, rank=2, dynamics="identity")
        >>> with torch.no_grad():
        ...     _ = m.entity.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 0], [1, 0.1, 0, 0]]))
        >>> [name for name, _ in nearest_neighbours(m, ds, "a", k=2)]
        ['c', 'b']
    """
    if entity not in dataset.entity_index:
        raise ConfigurationError(f"unknown entity {entity!r} in dataset {dataset.name!r}")
    if k < 1:
        raise ConfigurationError(f"k must be positive, got {k}")
    with torch.no_grad():
        emb = model.embeddings()
        i = dataset.entity_index[entity]
        sim = torch.nn.functional.cosine_similarity(emb[i : i + 1], emb, dim=1)
        sim[i] = -float("inf")
        top = torch.topk(sim, min(k, len(sim) - 1))
    return [
        (dataset.entities[j], float(s))
        for j, s in zip(top.indices.tolist(), top.values.tolist(), strict=True)
    ]
