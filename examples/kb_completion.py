"""Knowledge-base completion on Countries, Kinship, UMLS and Nations, over several seeds.

Each runner trains on a dataset's train split, stops early on its valid split and is scored
on test: filtered MRR and Hits@1/3/10 over both directions with random tie-breaking (the
policy is printed), or, for ``countries-*``, the area under the precision–recall curve
pooled over the test countries × the candidate regions. The runners here are the embedding
model of :mod:`neurosym.kbc` with the GraphODE (``embedding-ode``) and with the identity
in its place (``embedding-identity``, a plain ComplEx-N3), trained by the same code; more
plug in through :data:`RUNNERS` and :data:`DATASET_RUNNERS`; ``induced-rules`` is one: rules
induced from the dataset's NTP templates, scored alone (on Countries by default, elsewhere
with ``--induce``), whose ``.rules`` text is printed. With
``--rules FILE`` the rules constrain training (soft, ``--tnorm``). Then one test fact is
explained by the nearest neighbours of its head in embedding space.

    python examples/kb_completion.py --dataset kinship --data-dir ../shared/data --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

# Run from a checkout: prefer this repository's neurosym over an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from neurosym.kbc import (
    DATASETS,
    EmbeddingModel,
    RuleConstraint,
    TrainConfig,
    TripleDataset,
    average_precision,
    countries_experiment,
    evaluate,
    fit,
    load_dataset,
    nearest_neighbours,
    ranking_experiment,
)

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Chosen on the valid split, seed 0 (docs/kbc.md lists what was tried).
CONFIGS: dict[str, TrainConfig] = {
    "kinship": TrainConfig(
        rank=500, n3=1e-2, relation_prediction=2.0, eval_every=2, patience=5, max_epochs=100
    ),
    "umls": TrainConfig(rank=500, n3=1e-2, eval_every=5, patience=3, max_epochs=100),
    "nations": TrainConfig(rank=500, n3=3e-3, eval_every=2, patience=5, max_epochs=100),
    "countries": TrainConfig(rank=100, n3=1e-2, eval_every=5, patience=3, max_epochs=50),
}
QUICK = TrainConfig(rank=8, max_epochs=3, eval_every=1, batch_size=64)


@dataclass(frozen=True)
class Outcome:
    """One trained run: its test metrics, wall-clock seconds, and rules it can show."""

    metrics: dict[str, float]
    seconds: float
    ties: str
    model: EmbeddingModel | None = None
    rules: str = ""


Runner = Callable[[TripleDataset, argparse.Namespace, int], Outcome]


def _config(ds: TripleDataset, args: argparse.Namespace) -> TrainConfig:
    if args.quick:
        return QUICK
    key = "countries" if ds.name.startswith("countries") else ds.name
    return CONFIGS[key]


def countries_auc_pr(model: EmbeddingModel, ds: TripleDataset) -> float:
    """AUC-PR pooled over the test countries × candidate regions (``locatedIn``)."""
    if ds.candidates is None:
        raise ValueError(f"{ds.name} has no candidate set")
    located = ds.relation_index["locatedIn"]
    test = ds.test[ds.test[:, 1] == located]
    countries = sorted(set(test[:, 0].tolist()))
    truth = {(h, t) for h, _, t in test.tolist()}
    cand = torch.as_tensor(ds.candidates)
    with torch.no_grad():
        ent = model.embeddings()
        heads = torch.tensor(countries)
        scores = model.score_tails(heads, torch.full_like(heads, located), entities=ent)[:, cand]
    labels = torch.tensor([[(c, int(r)) in truth for r in cand] for c in countries])
    return average_precision(scores.cpu(), labels)


def embedding_runner(dynamics: str, *, with_rules: bool = False) -> Runner:
    """A runner training :class:`EmbeddingModel` with the given dynamics, and with the
    ``--rules`` file as soft constraints when ``with_rules``."""

    def run(ds: TripleDataset, args: argparse.Namespace, seed: int) -> Outcome:
        cfg = _config(ds, args)
        if args.epochs is not None:
            cfg = replace(cfg, max_epochs=args.epochs)
        constraint = None
        if with_rules:
            constraint = RuleConstraint.from_file(
                args.rules, ds, tnorm=args.tnorm, weight=args.rule_weight, max_rows=64
            )
        res = fit(
            ds,
            dynamics=dynamics,  # type: ignore[arg-type]
            config=cfg,
            seed=seed,
            constraint=constraint,
            progress=not args.quick and args.progress,
            device=args.device,
        )
        if ds.candidates is not None:
            metrics = {"AUC-PR": countries_auc_pr(res.model, ds)}
        else:
            m = evaluate(res.model, ds, "test", ties=args.ties, seed=seed)
            metrics = {
                "MRR": m.mrr,
                "Hits@1": m.hits_at_1,
                "Hits@3": m.hits_at_3,
                "Hits@10": m.hits_at_10,
            }
        return Outcome(metrics, res.seconds, args.ties, res.model)

    return run


def induced_rules_runner(ds: TripleDataset, args: argparse.Namespace, seed: int) -> Outcome:
    """Rules induced from the dataset's NTP templates (never hand-given), scored alone:
    Countries AUC-PR at the depth chosen on the development countries, or filtered
    MRR/Hits with the same tie policy as the embeddings."""
    if ds.candidates is not None:
        out = countries_experiment(
            ds.name, args.data_dir, seeds=1, first_seed=seed, quick=args.quick
        )
        metrics = {"AUC-PR": out["auc_pr"][0]}
        return Outcome(metrics, out["seconds"][0], "-", rules=out["rules"])
    out = ranking_experiment(ds.name, args.data_dir, seed=seed, quick=args.quick)
    metrics = {k: out[k.lower()] for k in ("MRR", "Hits@1", "Hits@3", "Hits@10")}
    return Outcome(metrics, out["seconds"], "random", rules=out["rules"] if seed == 0 else "")


RUNNERS: dict[str, Runner] = {
    "embedding-ode": embedding_runner("ode"),
    "embedding-identity": embedding_runner("identity"),
    "embedding-ode+rules": embedding_runner("ode", with_rules=True),
    "embedding-identity+rules": embedding_runner("identity", with_rules=True),
    "induced-rules": induced_rules_runner,
}
"""Runners by model name; add one here to compare it in the same table."""

DATASET_RUNNERS: dict[str, tuple[str, ...]] = {
    name: ("embedding-ode", "embedding-identity", "induced-rules") for name in DATASETS
}
"""Which runners a dataset offers (``--dynamics`` picks among the embedding ones; the
rule learner runs on Countries by default and with ``--induce`` on the others, where it
takes minutes per seed)."""


def _mean_sd(xs: list[float]) -> tuple[float, float]:
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def explain_one(model: EmbeddingModel, ds: TripleDataset) -> dict[str, Any]:
    """The model's top answer for the first test query and its head's nearest neighbours."""
    h, r, _ = (int(v) for v in ds.test[0])
    with torch.no_grad():
        scores = model.score_tails(torch.tensor([h]), torch.tensor([r]))[0]
    t = int(scores.argmax())
    fact = f"{ds.relations[r]}({ds.entities[h]}, {ds.entities[t]})"
    return {"fact": fact, "neighbours": nearest_neighbours(model, ds, ds.entities[h], k=5)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the chosen runners over seeds; print the table, the rules and one explanation.

    Args:
        argv: command-line arguments (see ``--help``).

    Returns:
        ``{"rows": [{dataset, model, seeds, seconds, ties, METRIC: (mean, sd), ...}],
        "rules": str, "explanation": {...}}``.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=DATASETS, default="kinship")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--dynamics", choices=["ode", "identity", "both"], default="both")
    parser.add_argument("--epochs", type=int, default=None, help="override max epochs")
    parser.add_argument("--ties", choices=["random", "optimistic", "pessimistic", "mean"],
                        default="random")  # fmt: skip
    parser.add_argument("--rules", type=Path, default=None,
                        help="a .rules file: each model also runs constrained by it")  # fmt: skip
    parser.add_argument("--tnorm", choices=["product", "godel", "lukasiewicz"], default="product")
    parser.add_argument("--rule-weight", type=float, default=1.0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--progress", action="store_true", help="tqdm bar per run")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--induce", action="store_true", help="induce rules on Kinship/UMLS/Nations too (slow)"
    )
    parser.add_argument(
        "--no-induce", action="store_true", help="no rule learner, even on Countries"
    )
    parser.add_argument("--quick", action="store_true", help="seconds, for the test suite")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    torch.set_num_threads(args.threads)
    ds = load_dataset(args.dataset, args.data_dir)
    names = [
        n
        for n in DATASET_RUNNERS[args.dataset]
        if args.dynamics == "both" or not n.startswith("embedding-") or n.endswith(args.dynamics)
    ]
    if args.no_induce or not (args.induce or args.dataset.startswith("countries")):
        names = [n for n in names if n != "induced-rules"]
    if args.rules is not None:  # each embedding runner with and without the rules
        names = [
            m for n in names for m in ((n, f"{n}+rules") if n.startswith("embedding-") else (n,))
        ]
    rows: list[dict[str, Any]] = []
    rules_text: list[str] = []
    last: Outcome | None = None
    for name in names:
        outcomes = [RUNNERS[name](ds, args, seed) for seed in range(args.seeds)]
        row: dict[str, Any] = {
            "dataset": args.dataset,
            "model": name,
            "seeds": args.seeds,
            "seconds": statistics.fmean(o.seconds for o in outcomes),
            "ties": outcomes[0].ties,
        }
        for key in outcomes[0].metrics:
            row[key] = _mean_sd([o.metrics[key] for o in outcomes])
        rows.append(row)
        rules_text += [o.rules for o in outcomes[:1] if o.rules]
        last = outcomes[-1] if outcomes[-1].model is not None else last

    keys = [k for k in rows[0] if k not in ("dataset", "model", "seeds", "seconds", "ties")]
    print(f"{'dataset':<13} {'model':<25} " + " ".join(f"{k:>15}" for k in keys)
          + f" {'s/run':>7} {'seeds':>5}  ties")  # fmt: skip
    for row in rows:
        cells = " ".join(f"{row[k][0]:.3f} ± {row[k][1]:.3f}".rjust(15) for k in keys)
        print(
            f"{row['dataset']:<13} {row['model']:<25} {cells} {row['seconds']:7.1f} "
            f"{row['seeds']:>5}  {row['ties']}"
        )
    print("% rules (.rules text)")
    print("\n".join(rules_text) if rules_text else "% (no runner here induces rules)")
    explanation: dict[str, Any] = {}
    if last is not None and last.model is not None and len(ds.test):
        explanation = explain_one(last.model, ds)
        near = ", ".join(f"{n} ({s:.2f})" for n, s in explanation["neighbours"])
        print(f"top prediction {explanation['fact']}; nearest to its head: {near}")
    return {"rows": rows, "rules": "\n".join(rules_text), "explanation": explanation}


if __name__ == "__main__":
    main()
