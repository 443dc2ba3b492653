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

__all__ = ["DATASETS", "DatasetName", "TripleDataset", "load_dataset"]
