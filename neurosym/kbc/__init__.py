"""Knowledge-base completion: benchmark triples, continuous embeddings of a knowledge base,
rule induction and explained predictions.

Example:
    >>> from neurosym import kbc
    >>> ds = kbc.TripleDataset.from_triples("toy", train=[("a", "r", "b")])
    >>> ds.num_entities, ds.num_relations
    (2, 1)
"""

from __future__ import annotations

from ._countries import (
    auc_pr,
    countries_experiment,
    countries_pairs,
    filtered_ranks,
    neighbour_vote,
    ranking_experiment,
)
from ._data import DATASETS, DatasetName, TripleDataset, load_dataset
from ._explain import Explanation, explain_prediction
from ._induce import InducedRule, InducedRules, induce_rules, layered_kb
from ._templates import Template, load_templates, parse_templates

__all__ = [
    "DATASETS",
    "DatasetName",
    "Explanation",
    "InducedRule",
    "InducedRules",
    "Template",
    "TripleDataset",
    "auc_pr",
    "countries_experiment",
    "countries_pairs",
    "explain_prediction",
    "filtered_ranks",
    "induce_rules",
    "layered_kb",
    "load_dataset",
    "load_templates",
    "neighbour_vote",
    "parse_templates",
    "ranking_experiment",
]
