"""Knowledge-base completion: benchmark triples, continuous embeddings of a knowledge base
(GraphODE + ComplEx-N3), rule induction from templates, and explained predictions.

Example:
    >>> from neurosym import kbc
    >>> ds = kbc.TripleDataset.from_triples("toy", train=[("a", "r", "b")])
    >>> ds.num_entities, ds.num_relations
    (2, 1)
"""

from __future__ import annotations

from ._countries import (
    countries_experiment,
    countries_pairs,
    neighbour_vote,
    ranking_experiment,
    rule_ranks,
)
from ._data import DATASETS, DatasetName, TripleDataset, load_dataset
from ._explain import Explanation, explain_prediction
from ._induce import InducedRule, InducedRules, induce_rules, layered_kb
from ._metrics import RankingMetrics, Ties, average_precision, filtered_ranks, ranking_metrics
from ._model import Dynamics, EmbeddingModel, FitResult, TrainConfig, evaluate, fit
from ._neighbours import nearest_neighbours
from ._rules import RuleConstraint, TNorm
from ._scorer import ComplEx, n3_penalty
from ._templates import Template, load_templates, parse_templates

__all__ = [
    "DATASETS",
    "ComplEx",
    "DatasetName",
    "Dynamics",
    "EmbeddingModel",
    "Explanation",
    "FitResult",
    "InducedRule",
    "InducedRules",
    "RankingMetrics",
    "RuleConstraint",
    "TNorm",
    "Template",
    "Ties",
    "TrainConfig",
    "TripleDataset",
    "average_precision",
    "countries_experiment",
    "countries_pairs",
    "evaluate",
    "explain_prediction",
    "filtered_ranks",
    "fit",
    "induce_rules",
    "layered_kb",
    "load_dataset",
    "load_templates",
    "n3_penalty",
    "nearest_neighbours",
    "neighbour_vote",
    "parse_templates",
    "ranking_experiment",
    "ranking_metrics",
    "rule_ranks",
]
