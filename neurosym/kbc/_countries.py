"""Experiments with induced rules: Countries S1–S3 (the AUC-PR protocol, a no-learning
reference, the runner) and filtered ranking on Kinship, UMLS and Nations.

Protocol (Nickel et al. 2016, as coded by NTP, GNTP and CTP; see the data README): for
each test country ``c`` and each of the 5 regions ``r``, score ``locatedIn(c, r)``; the true
region is the positive, the other 4 are negatives; all 24 × 5 pairs are pooled into one
average precision.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurosym.errors import ConfigurationError
from neurosym.kbc._data import Split, TripleDataset, load_dataset
from neurosym.kbc._induce import InducedRules, adjacency, induce_rules, layered_kb
from neurosym.kbc._metrics import Ties, average_precision, filtered_ranks
from neurosym.kbc._templates import load_templates

__all__ = [
    "countries_experiment",
    "countries_pairs",
    "neighbour_vote",
    "ranking_experiment",
    "rule_ranks",
]


def _auc_pr(pairs: tuple[np.ndarray, np.ndarray]) -> float:
    """Pooled AUC-PR of ``(labels, scores)`` pairs (from :func:`countries_pairs`)."""
    labels, scores = pairs
    return average_precision(np.asarray(scores, dtype=np.float64), np.asarray(labels))


def countries_pairs(
    dataset: TripleDataset, scores: np.ndarray, *, split: Split = "test"
) -> tuple[np.ndarray, np.ndarray]:
    """The pooled ``(labels, scores)`` of a split: every ``(country, region)`` pair, from
    an ``E × E`` score matrix of ``locatedIn``.

    Raises:
        ConfigurationError: a dataset without candidates (not Countries).
    """
    if dataset.candidates is None:
        raise ConfigurationError(
            f"{dataset.name} has no candidate answers; countries_pairs needs Countries"
        )
    rows = dataset.split(split)
    cand = dataset.candidates
    labels = (rows[:, 2:3] == cand[None, :]).astype(np.int64).ravel()
    pooled = scores[rows[:, 0:1], cand[None, :]].ravel()
    return labels, pooled


def neighbour_vote(dataset: TripleDataset) -> np.ndarray:
    """The no-learning reference: ``E × E`` scores where ``(c, r)`` is the share of ``c``'s
    neighbours located in ``r``, directly or through one more ``locatedIn`` (a subregion),
    plus a hundredth of the same share over neighbours of neighbours (to break ties).

    Raises:
        ConfigurationError: a dataset without ``locatedIn`` and ``neighborOf``.
    """
    idx = dataset.relation_index
    if "locatedIn" not in idx or "neighborOf" not in idx:
        raise ConfigurationError("neighbour_vote needs the relations locatedIn and neighborOf")
    a = adjacency(dataset)
    loc, nb = a[idx["locatedIn"]], a[idx["neighborOf"]]
    placed = np.minimum(loc + loc @ loc, 1.0)  # in r, directly or via a subregion
    deg = np.maximum(nb.sum(axis=1, keepdims=True), 1.0)
    first = (nb @ placed) / deg
    second = (nb @ nb @ placed) / np.maximum(deg * deg, 1.0)
    out: np.ndarray = first + 0.01 * second
    return out


def _setting(setting: str) -> str:
    k = setting.lower().removeprefix("countries-").removeprefix("s")
    if k not in ("1", "2", "3"):
        raise ConfigurationError(f"setting must be S1, S2 or S3, got {setting!r}")
    return k


def countries_experiment(
    setting: str,
    data_dir: str | os.PathLike[str],
    *,
    seeds: int = 10,
    first_seed: int = 0,
    quick: bool = False,
    depths: Sequence[int] = (1, 2, 3),
    epochs: int = 40,
) -> dict[str, Any]:
    """Induce rules for ``locatedIn`` from the setting's NTP templates and score the test
    countries, once per seed.

    Per seed: learn rules (:func:`~neurosym.kbc.induce_rules`) from
    ``countries/ntp_split/countries_S{k}.nlt``; choose the depth among ``depths`` with the
    best AUC-PR on the development countries (``derived/dev_derived_triples.tsv``; the
    smallest depth on ties); report the test AUC-PR at that depth.

    Args:
        setting: ``"S1"``, ``"S2"``, ``"S3"`` (or ``"countries-s3"``).
        data_dir: the folder holding ``countries/``.
        seeds: runs, with seeds ``first_seed .. first_seed + seeds - 1``.
        first_seed: the first seed.
        quick: 3 epochs instead of ``epochs`` (for a smoke test).
        depths: the depths to choose from.
        epochs: training epochs per run.

    Returns:
        ``{"auc_pr": [per seed], "valid_auc_pr": [...], "depth": [...], "seconds": [...],
        "rules": the .rules text of the first seed, "vote_auc_pr": the neighbour vote's test
        AUC-PR, "templates": the templates file read, "engine_max_abs_diff": for the first seed,
        the largest difference between the scores and the engine's values of the layered
        program (fuzzy-product, backward chaining) over all test pairs}``.

    Raises:
        ConfigurationError: a bad setting, seeds < 1, no depths, or a missing file.
    """
    k = _setting(setting)
    if seeds < 1 or not depths or min(depths) < 1:
        raise ConfigurationError(f"need seeds >= 1 and depths >= 1, got {seeds}, {list(depths)}")
    ds = load_dataset(f"countries-s{k}", data_dir)
    path = Path(data_dir) / "countries" / "ntp_split" / f"countries_S{k}.nlt"
    templates = load_templates(path)
    out: dict[str, Any] = {
        "auc_pr": [],
        "valid_auc_pr": [],
        "depth": [],
        "seconds": [],
        "rules": "",
        "templates": str(path),
    }
    for seed in range(first_seed, first_seed + seeds):
        start = time.perf_counter()
        rules = induce_rules(
            ds, templates, heads=["locatedIn"], seed=seed, epochs=3 if quick else epochs
        )
        depth, valid = _choose_depth(rules, ds, depths)
        test = _auc_pr(countries_pairs(ds, rules.scores(ds, "locatedIn", depth=depth)))
        out["seconds"].append(time.perf_counter() - start)
        out["auc_pr"].append(test)
        out["valid_auc_pr"].append(valid)
        out["depth"].append(depth)
        if seed == first_seed:
            out["rules"] = rules.text()
            out["engine_max_abs_diff"] = _engine_check(rules, ds, depth)
    out["vote_auc_pr"] = _auc_pr(countries_pairs(ds, neighbour_vote(ds)))
    return out


def _engine_check(rules: InducedRules, ds: TripleDataset, depth: int) -> float:
    import neurosym as ns
    from neurosym.kbc._explain import _fact

    scores = rules.scores(ds, "locatedIn", depth=depth)
    kb = layered_kb(rules, ds, depth=depth)
    worst = 0.0
    assert ds.candidates is not None
    for h in np.unique(ds.test[:, 0]).tolist():
        goal = _fact(f"locatedIn_{depth}", ds.entities[h], "Y").replace('"Y"', "Y")
        got = {a.bindings["Y"]: a.value for a in ns.query(kb, goal, semantics="fuzzy-product")}
        for c in ds.candidates.tolist():
            value = float(got.get(ds.entities[c], 0.0))
            worst = max(worst, abs(value - float(scores[h, c])))
    return worst


def _choose_depth(
    rules: InducedRules, ds: TripleDataset, depths: Sequence[int]
) -> tuple[int, float]:
    best = (-1.0, 0)
    for d in sorted(depths):
        if len(ds.valid) == 0:
            return d, float("nan")
        v = _auc_pr(countries_pairs(ds, rules.scores(ds, "locatedIn", depth=d), split="valid"))
        if v > best[0]:
            best = (v, d)
    return best[1], best[0]


def rule_ranks(
    dataset: TripleDataset,
    scores: np.ndarray,
    *,
    split: Split = "test",
    ties: Ties = "random",
    seed: int = 0,
) -> np.ndarray:
    """The filtered ranks of a split's triples from ``(R, E, E)`` rule scores, tail and
    head side, ``(n, 2)``, by the same protocol and tie policy as the embeddings
    (:func:`neurosym.kbc.filtered_ranks`: candidates true in any split are removed).

    Example:
        >>> ds = TripleDataset.from_triples(
        ...     "t", train=[("a", "r", "b")], test=[("a", "r", "c")], entities=["a", "b", "c", "d"]
        ... )
        >>> s = np.zeros((1, 4, 4)); s[0, 0] = [0.0, 0.9, 0.5, 0.5]
        >>> rule_ranks(ds, s, ties="mean").tolist()  # tail: b is filtered, d ties; head: a only
        [[1.5, 1.0]]
    """
    rows = torch.as_tensor(dataset.split(split))
    if len(rows) == 0:
        return np.zeros((0, 2))
    h, r, t = rows[:, 0], rows[:, 1], rows[:, 2]
    s = torch.as_tensor(np.asarray(scores, dtype=np.float64))
    known = torch.zeros(s.shape, dtype=torch.bool)
    kn = torch.as_tensor(dataset.known())
    known[kn[:, 1], kn[:, 0], kn[:, 2]] = True
    g = torch.Generator().manual_seed(seed)
    tail = filtered_ranks(s[r, h, :], t, known[r, h, :], ties=ties, generator=g)
    head = filtered_ranks(s[r, :, t], h, known[r, :, t], ties=ties, generator=g)
    return torch.stack([tail, head], dim=1).numpy()


def ranking_experiment(
    name: str,
    data_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    depths: Sequence[int] = (1, 2),
    epochs: int = 10,
    quick: bool = False,
) -> dict[str, Any]:
    """Induce rules for every relation of a ranking dataset (Kinship, UMLS, Nations) from
    its NTP templates (``{name}/ntp_split/{name}.nlt``) and rank the test triples with
    them alone (:func:`rule_ranks`, ties broken at random); the depth is chosen by
    validation MRR.

    Returns:
        ``{"mrr", "hits@1", "hits@3", "hits@10", "depth", "valid_mrr", "seconds",
        "rules": the .rules text, "templates"}``.

    Raises:
        ConfigurationError: a missing file or no depths.
    """
    if not depths or min(depths) < 1:
        raise ConfigurationError(f"need depths >= 1, got {list(depths)}")
    ds = load_dataset(name, data_dir)
    path = Path(data_dir) / name / "ntp_split" / f"{name}.nlt"
    start = time.perf_counter()
    rules = induce_rules(ds, load_templates(path), seed=seed, epochs=1 if quick else epochs)
    best: tuple[float, int] = (-1.0, 0)
    for d in sorted(depths):
        v = float(np.mean(1.0 / rule_ranks(ds, rules.layers(ds, depth=d), split="valid")))
        if v > best[0]:
            best = (v, d)
    ranks = rule_ranks(ds, rules.layers(ds, depth=best[1]), seed=seed)
    return {
        "mrr": float(np.mean(1.0 / ranks)),
        **{f"hits@{k}": float(np.mean(ranks <= k)) for k in (1, 3, 10)},
        "depth": best[1],
        "valid_mrr": best[0],
        "seconds": time.perf_counter() - start,
        "rules": rules.text(),
        "templates": str(path),
    }
