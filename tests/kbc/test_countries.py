"""Countries with induced rules: the pooled AUC-PR, the neighbour vote, the runner on a
generated countries-like graph and on the data slice."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from neurosym.errors import ConfigurationError
from neurosym.kbc import (
    TripleDataset,
    average_precision,
    countries_experiment,
    countries_pairs,
    load_dataset,
    neighbour_vote,
    ranking_experiment,
    rule_ranks,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "kbc"


def test_average_precision_by_hand() -> None:
    # ranks: 1 (+), 2 (-), 3 (+): (1/2)·1 + (1/2)·(2/3)
    assert average_precision(np.array([0.9, 0.5, 0.1]), np.array([1, 0, 1])) == pytest.approx(5 / 6)
    # all tied: the precision of the whole list
    assert average_precision(np.array([0.3] * 4), np.array([1, 0, 0, 0])) == pytest.approx(0.25)


def _toy(tmp_path: Path) -> Path:
    """A countries-like world: 3 regions, 2 subregions each, a ring of 4 countries in each
    subregion, rings joined within a region; 2 countries per region held out (test) and 1
    (valid), S1-style (they keep their subregion fact)."""
    regions = ["north", "south", "east"]
    train, test, valid = [], [], []
    for r in regions:
        for s in range(2):
            sub = f"{r}_sub{s}"
            train.append((sub, "locatedIn", r))
            ring = [f"{r}{s}c{i}" for i in range(4)]
            for i, c in enumerate(ring):
                train.append((c, "locatedIn", sub))
                nxt = ring[(i + 1) % 4]
                train += [(c, "neighborOf", nxt), (nxt, "neighborOf", c)]
                if s == 0 and i < 2:
                    test.append((c, "locatedIn", r))
                elif s == 1 and i == 0:
                    valid.append((c, "locatedIn", r))
                else:
                    train.append((c, "locatedIn", r))
        a, b = f"{r}0c3", f"{r}1c3"
        train += [(a, "neighborOf", b), (b, "neighborOf", a)]
    base = tmp_path / "countries" / "ntp_split"
    (base / "derived").mkdir(parents=True)

    def write(path: Path, rows: list[tuple[str, str, str]]) -> None:
        path.write_text("".join("\t".join(r) + "\n" for r in rows))

    write(base / "countries_S1.tsv", train)
    write(base / "derived" / "test_triples.tsv", test)
    write(base / "derived" / "dev_derived_triples.tsv", valid)
    (base / "regions.txt").write_text("\n".join(regions) + "\n")
    (base / "countries_S1.nlt").write_text(
        "3  #1(X, Y) :- #1(Y, X).\n3  #1(X, Y) :- #2(X, Z), #2(Z, Y).\n"
    )
    return tmp_path


def test_experiment_on_a_generated_world(tmp_path: Path) -> None:
    root = _toy(tmp_path)
    out = countries_experiment("S1", root, seeds=2, quick=False, epochs=15)
    assert out["auc_pr"] == [1.0, 1.0]
    assert len(out["seconds"]) == len(out["depth"]) == 2
    assert "locatedIn(X, Y) :- locatedIn(X, Z), locatedIn(Z, Y)." in out["rules"]
    assert out["templates"].endswith("countries_S1.nlt")
    ds = load_dataset("countries-s1", root)
    labels, scores = countries_pairs(ds, neighbour_vote(ds))
    assert len(labels) == 6 * 3 and labels.sum() == 6
    assert out["vote_auc_pr"] == pytest.approx(average_precision(scores, labels))


def test_quick_run_on_the_data_slice() -> None:
    # the slice of tests/data/kbc, with NTP's S1 templates (copied unchanged)
    out = countries_experiment("countries-s1", DATA, seeds=1, quick=True)
    assert len(out["auc_pr"]) == 1 and 0.0 < out["auc_pr"][0] <= 1.0
    assert out["engine_max_abs_diff"] < 1e-9


def _brute_ranks(ds: TripleDataset, scores: np.ndarray) -> list[list[float]]:
    known = {tuple(t) for t in ds.known().tolist()}
    out = []
    for h, r, t in ds.test.tolist():
        row = []
        for side in (0, 1):
            true = t if side == 0 else h
            s_true = scores[r, h, t]
            rank = 1.0
            for e in range(ds.num_entities):
                triple = (h, r, e) if side == 0 else (e, r, t)
                if e == true or triple in known:
                    continue
                s = scores[r, h, e] if side == 0 else scores[r, e, t]
                rank += 1.0 if s > s_true else 0.5 if s == s_true else 0.0
            row.append(rank)
        out.append(row)
    return out


def test_rule_ranks_against_a_loop() -> None:
    rng = np.random.default_rng(0)
    names = [f"e{i}" for i in range(9)]

    def draw(k: int) -> list[tuple[str, str, str]]:
        return [
            (names[int(a)], f"r{int(b)}", names[int(c)])
            for a, b, c in zip(
                rng.integers(0, 9, k), rng.integers(0, 2, k), rng.integers(0, 9, k), strict=True
            )
        ]

    ds = TripleDataset.from_triples("t", train=draw(30), test=draw(10), entities=names)
    scores = rng.integers(0, 4, (ds.num_relations, 9, 9)) / 3.0  # ties on purpose
    assert rule_ranks(ds, scores, ties="mean").tolist() == _brute_ranks(ds, scores)


def test_ranking_experiment_on_the_kinship_slice(tmp_path: Path) -> None:
    shutil.copytree(DATA / "kinship", tmp_path / "kinship")
    (tmp_path / "kinship/ntp_split/kinship.nlt").write_text(
        "2  #1(X, Y) :- #2(Y, X).\n2  #1(X, Y) :- #2(X, Z), #3(Z, Y).\n"
    )
    out = ranking_experiment("kinship", tmp_path, quick=True)
    assert 0.0 < out["mrr"] <= 1.0 and out["hits@1"] <= out["hits@3"] <= out["hits@10"]
    assert out["depth"] in (1, 2)


def test_neighbour_vote_by_hand() -> None:
    # c borders n1 (in sub, in r1) and n2 (in r2): each region gets a half
    ds = TripleDataset.from_triples(
        "t",
        train=[
            ("c", "neighborOf", "n1"), ("c", "neighborOf", "n2"),
            ("n1", "locatedIn", "sub"), ("sub", "locatedIn", "r1"), ("n2", "locatedIn", "r2"),
        ],
        test=[("c", "locatedIn", "r1")],
        candidates=["r1", "r2"],
    )  # fmt: skip
    v = neighbour_vote(ds)
    e = ds.entity_index
    assert v[e["c"], e["r1"]] == pytest.approx(0.5) and v[e["c"], e["r2"]] == pytest.approx(0.5)
    labels, _ = countries_pairs(ds, v)
    assert labels.tolist() == [1, 0]


def test_bad_settings() -> None:
    with pytest.raises(ConfigurationError, match="S1, S2 or S3"):
        countries_experiment("S4", DATA, seeds=1)
    with pytest.raises(ConfigurationError, match="seeds >= 1"):
        countries_experiment("S1", DATA, seeds=0)
    ds = TripleDataset.from_triples("t", train=[("a", "r", "b")])
    with pytest.raises(ConfigurationError, match="no candidate answers"):
        countries_pairs(ds, np.zeros((2, 2)))
