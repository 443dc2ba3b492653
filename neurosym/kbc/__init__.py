"""Knowledge-base completion: benchmark triples, continuous embeddings of a knowledge base,
rule induction and explained predictions.

Example:
    >>> from neurosym import kbc
    >>> ds = kbc.TripleDataset.from_triples("toy", train=[("a", "r", "b")])
    >>> ds.num_entities, ds.num_relations
    (2, 1)
"""

from __future__ import annotations

from ._data import DATASETS, DatasetName, TripleDataset, load_dataset
from ._metrics import RankingMetrics, Ties, average_precision, filtered_ranks, ranking_metrics
from ._model import Dynamics, EmbeddingModel, FitResult, TrainConfig, evaluate, fit
from ._neighbours import nearest_neighbours
from ._rules import RuleConstraint, TNorm
from ._scorer import ComplEx, n3_penalty

__all__ = [
    "DATASETS",
    "ComplEx",
    "DatasetName",
    "Dynamics",
    "EmbeddingModel",
    "FitResult",
    "RankingMetrics",
    "RuleConstraint",
    "TNorm",
    "Ties",
    "TrainConfig",
    "TripleDataset",
    "average_precision",
    "evaluate",
    "filtered_ranks",
    "fit",
    "load_dataset",
    "n3_penalty",
    "nearest_neighbours",
    "ranking_metrics",
]
