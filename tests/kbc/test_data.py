"""The benchmark loaders read the public files as they are (slices in tests/data/kbc)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import neurosym as ns
from neurosym.errors import ConfigurationError, FactsFileError
from neurosym.kbc import TripleDataset, load_dataset

DATA = Path(__file__).resolve().parent.parent / "data" / "kbc"


def test_kinship_slice_counts_and_order() -> None:
    ds = load_dataset("kinship", DATA)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (40, 40, 40)
    # entities.txt fixes the vocabulary order: its 104 people come first.
    assert ds.num_entities == 104
    first = (DATA / "kinship/ntp_split/entities.txt").read_text().split()[0]
    assert ds.entities[0] == first
    line = (DATA / "kinship/ntp_split/train.tsv").read_text().splitlines()[0].split("\t")
    assert ds.triples("train")[0] == tuple(line)
    assert ds.candidates is None


def test_countries_candidates_and_names() -> None:
    ds = load_dataset("countries-s1", DATA)
    regions = (DATA / "countries/ntp_split/regions.txt").read_text().split()
    assert [ds.entities[i] for i in ds.candidates] == regions  # type: ignore[union-attr]
    assert ("eritrea", "locatedIn", "africa") in ds.triples("test")
    assert set(ds.relations) == {"locatedIn", "neighborOf"}


def test_known_is_the_union_without_duplicates() -> None:
    ds = TripleDataset.from_triples(
        "t",
        train=[("a", "r", "b"), ("a", "r", "b")],
        valid=[("a", "r", "b")],
        test=[("b", "r", "a")],
    )
    assert len(ds.train) == 1
    assert ds.known().tolist() == [[0, 0, 1], [1, 0, 0]]


def test_round_trip_through_a_knowledge_base() -> None:
    ds = TripleDataset.from_triples(
        "t", train=[("são_tomé", "locatedIn", "africa"), ("ann", "parent", "bob")]
    )
    kb = ds.to_kb()
    answers = {a.fact for a in ns.query(kb, "locatedIn(X, africa)")}
    assert answers == {'locatedIn("são_tomé", africa)'}
    back = TripleDataset.from_kb(kb)
    assert sorted(back.triples("train")) == sorted(ds.triples("train"))


def test_errors_name_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown dataset 'fb15k'"):
        load_dataset("fb15k", tmp_path)
    with pytest.raises(ConfigurationError, match="no such file"):
        load_dataset("umls", tmp_path)
    base = tmp_path / "nations" / "ntp_split"
    base.mkdir(parents=True)
    (base / "train.tsv").write_text("a\tr\tb\nbroken line\n")
    with pytest.raises(FactsFileError, match=r"train\.tsv:2:1: expected"):
        load_dataset("nations", tmp_path)


def test_bad_arrays_are_refused() -> None:
    z = np.zeros((0, 3), dtype=np.int64)
    with pytest.raises(ConfigurationError, match="outside"):
        TripleDataset("t", ("a",), ("r",), np.array([[0, 0, 1]]), z, z)
