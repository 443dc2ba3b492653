"""The embedding model: entity embeddings → GraphODE over the fact graph to time T → ComplEx.

``dynamics="identity"`` skips the ODE (``h(T) = h(0)``): a plain ComplEx-N3, the baseline
trained by the same code. Training is 1-vs-all cross-entropy over every entity with
reciprocal relations (each training triple ``(h, r, t)`` gives the queries ``(h, r, ?)``
and ``(t, r⁻¹, ?)``), N3 on the factors of each query, optional soft rule constraints, and
early stopping on the filtered validation MRR.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, final

import torch
from torch import Tensor, nn
from tqdm import tqdm

from neurosym.errors import ConfigurationError
from neurosym.ode import GraphODE

from ._data import TripleDataset
from ._metrics import RankingMetrics, Ties, ranking_metrics
from ._scorer import ComplEx, n3_penalty

if TYPE_CHECKING:
    from ._rules import RuleConstraint

__all__ = ["Dynamics", "EmbeddingModel", "FitResult", "TrainConfig", "evaluate", "fit"]

Dynamics = Literal["ode", "identity"]


@final
class EmbeddingModel(nn.Module):
    """Entity embeddings evolved by a :class:`~neurosym.ode.GraphODE`, scored by ComplEx.

    Relations ``0..R-1`` are the dataset's; ``R..2R-1`` their reciprocals (head prediction).
    The ODE runs over the training fact graph: an edge ``h → t`` of type ``r`` per triple
    and ``t → h`` of type ``r + R``.

    Args:
        dataset: the triples (only ``train`` builds the graph).
        rank: complex rank (embeddings have ``2·rank`` reals).
        dynamics: ``"ode"`` or ``"identity"`` (the baseline).
        init_scale: standard deviation of the initial embeddings.
        t_end: ODE integration time.
        method: ODE solver alias.
        steps: fixed ODE steps (``None``: adaptive).
        message_dim: width of the GraphODE's message bottleneck (``None``: full width).
        adjoint: adjoint gradients for the ODE.
        generator: random generator for the initialisation.

    Example:
        >>> ds = TripleDataset.from_triples("toy", train=[("a", "r", "b"), ("b", "r", "c")])
        >>> m = EmbeddingModel(ds, rank=4, generator=torch.Generator().manual_seed(0))
        >>> m.score_tails(torch.tensor([0]), torch.tensor([0])).shape
        torch.Size([1, 3])
    """

    def __init__(
        self,
        dataset: TripleDataset,
        *,
        rank: int = 100,
        dynamics: Dynamics = "ode",
        init_scale: float = 1e-3,
        t_end: float = 1.0,
        method: Literal["euler", "midpoint", "heun", "rk4", "bosh3", "dopri5", "tsit5"] = "rk4",
        steps: int | None = 1,
        message_dim: int | None = 32,
        adjoint: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if dynamics not in ("ode", "identity"):
            raise ConfigurationError(f"dynamics must be 'ode' or 'identity', got {dynamics!r}")
        n, r = dataset.num_entities, dataset.num_relations
        self.num_entities = n
        self.num_relations = r
        self.dynamics: Dynamics = dynamics
        self.entity = nn.Parameter(torch.randn(n, 2 * rank, generator=generator) * init_scale)
        self.scorer = ComplEx(2 * r, rank, init_scale=init_scale, generator=generator)
        self.graph: GraphODE | None = None
        if dynamics == "ode":
            tr = torch.as_tensor(dataset.train, dtype=torch.int64)
            edge_index = torch.cat([tr[:, [0, 2]].T, tr[:, [2, 0]].T], dim=1)
            edge_type = torch.cat([tr[:, 1], tr[:, 1] + r])
            self.graph = GraphODE(
                edge_index,
                edge_type,
                num_nodes=n,
                dim=2 * rank,
                num_relations=2 * r,
                message_dim=message_dim,
                init_gain=0.0,  # start at the identity map: the baseline, then learn
                t_end=t_end,
                method=method,
                steps=steps,
                adjoint=adjoint,
                generator=generator,
            )

    def embeddings(self, *, edge_mask: Tensor | None = None) -> Tensor:
        """Entity embeddings at time T, ``(N, 2·rank)``."""
        if self.graph is None:
            return self.entity
        out: Tensor = self.graph(self.entity, edge_mask=edge_mask)
        return out

    def score_tails(
        self, heads: Tensor, relations: Tensor, *, entities: Tensor | None = None
    ) -> Tensor:
        """``(B, N)`` scores of ``(heads[b], relations[b], e)`` for every entity ``e``."""
        ent = self.embeddings() if entities is None else entities
        return self.scorer.score_all(ent, heads, relations)[0]

    def score_heads(
        self, tails: Tensor, relations: Tensor, *, entities: Tensor | None = None
    ) -> Tensor:
        """``(B, N)`` scores of ``(e, relations[b], tails[b])`` via the reciprocal relation."""
        ent = self.embeddings() if entities is None else entities
        return self.scorer.score_all(ent, tails, relations + self.num_relations)[0]

    def relation_matrix(self, relation: int, entities: Tensor) -> Tensor:
        """``(N, N)`` scores of ``(a, relation, b)`` (the forward direction) for all pairs."""
        return self.scorer.relation_matrix(entities, relation)


@final
@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Hyperparameters of :func:`fit` (tune them on the validation split).

    Attributes:
        rank: complex rank.
        n3: weight of the N3 penalty (per query, as Lacroix et al. 2018).
        lr: learning rate.
        optimizer: ``"adagrad"`` (as Lacroix et al.) or ``"adam"``.
        batch_size: queries per step.
        max_epochs: epochs at most.
        eval_every: epochs between validation rankings.
        patience: validations without improvement before stopping.
        init_scale: standard deviation of the initial embeddings.
        t_end: ODE integration time.
        method: ODE solver.
        steps: fixed ODE steps.
        message_dim: width of the message bottleneck.
        edge_dropout: fraction of fact-graph edges dropped in each training step (the
            answer of a training query is otherwise a neighbour in the graph).
        relation_prediction: weight of the auxiliary 1-vs-all loss that predicts each
            query's relation from its two entities (Chen et al. 2021, "Relation Prediction
            as an Auxiliary Training Objective for Improving Multi-Relational Graph
            Representations"); 0 turns it off.
        ties: tie policy of the validation ranking.
    """

    rank: int = 100
    n3: float = 1e-2
    lr: float = 0.1
    optimizer: Literal["adagrad", "adam"] = "adagrad"
    batch_size: int = 256
    max_epochs: int = 100
    eval_every: int = 5
    patience: int = 3
    init_scale: float = 1e-3
    t_end: float = 1.0
    method: Literal["euler", "midpoint", "heun", "rk4"] = "rk4"
    steps: int = 1
    message_dim: int = 32
    edge_dropout: float = 0.5
    relation_prediction: float = 0.0
    ties: Ties = "random"

    def __post_init__(self) -> None:
        names = ("rank", "batch_size", "max_epochs", "eval_every", "patience", "steps")
        for name in (*names, "message_dim"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise ConfigurationError(f"{name} must be a positive int, got {v!r}")
        for name in ("n3", "lr", "init_scale", "t_end", "relation_prediction"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ConfigurationError(f"{name} must be finite and non-negative, got {v!r}")
        if not 0.0 <= self.edge_dropout < 1.0:
            raise ConfigurationError(f"edge_dropout must be in [0, 1), got {self.edge_dropout}")
        if self.optimizer not in ("adagrad", "adam"):
            raise ConfigurationError(
                f"optimizer must be 'adagrad' or 'adam', got {self.optimizer!r}"
            )


@final
@dataclass(frozen=True, slots=True, eq=False)
class FitResult:
    """What :func:`fit` returns.

    Attributes:
        model: the model at the best validation MRR (in eval mode).
        valid: its validation metrics (``None`` without a validation split).
        best_epoch: the epoch of that model.
        epochs: epochs run.
        seconds: wall-clock training time.
        history: ``(epoch, mean training loss, validation MRR or NaN)`` per validation.
    """

    model: EmbeddingModel
    valid: RankingMetrics | None
    best_epoch: int
    epochs: int
    seconds: float
    history: list[tuple[int, float, float]] = field(default_factory=list)


def _relation_scores(model: EmbeddingModel, ent: Tensor) -> Callable[[int], Tensor]:
    def scores(r: int) -> Tensor:
        return model.relation_matrix(r, ent)

    return scores


def evaluate(
    model: EmbeddingModel,
    dataset: TripleDataset,
    split: Literal["train", "valid", "test"] = "test",
    *,
    ties: Ties = "random",
    seed: int = 0,
) -> RankingMetrics:
    """Filtered ranking metrics of ``model`` on a split (filter: ``dataset.known()``)."""
    model.eval()
    with torch.no_grad():
        ent = model.embeddings()
    dev = ent.device
    return ranking_metrics(
        lambda h, r: model.score_tails(h, r, entities=ent),
        lambda t, r: model.score_heads(t, r, entities=ent),
        dataset.split(split),
        dataset.known(),
        num_entities=dataset.num_entities,
        num_relations=dataset.num_relations,
        ties=ties,
        seed=seed,
        device=dev,
    )


def fit(
    dataset: TripleDataset,
    *,
    dynamics: Dynamics = "ode",
    config: TrainConfig | None = None,
    seed: int = 0,
    constraint: RuleConstraint | None = None,
    progress: bool = False,
    device: torch.device | str = "cpu",
) -> FitResult:
    """Train an :class:`EmbeddingModel` by 1-vs-all cross-entropy with N3.

    Args:
        dataset: the triples; ``valid`` (if any) drives early stopping.
        dynamics: ``"ode"`` or ``"identity"`` (the baseline).
        config: hyperparameters (default :class:`TrainConfig`).
        seed: seeds the initialisation, batch order, edge dropout and tie-breaking.
        constraint: soft rule constraints added to the loss.
        progress: show a tqdm bar over epochs.
        device: torch device.

    Returns:
        The :class:`FitResult`.

    Example:
        >>> ds = TripleDataset.from_triples(
        ...     "toy", train=[("a", "r", "b"), ("b", "r", "c")], valid=[("a", "r", "c")]
        ... )
        >>> res = fit(ds, dynamics="identity", config=TrainConfig(rank=4, max_epochs=2))
        >>> res.epochs, res.valid is not None
        (2, True)
    """
    cfg = config or TrainConfig()
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    model = EmbeddingModel(
        dataset,
        rank=cfg.rank,
        dynamics=dynamics,
        init_scale=cfg.init_scale,
        t_end=cfg.t_end,
        method=cfg.method,
        steps=cfg.steps,
        message_dim=cfg.message_dim,
        generator=gen,
    ).to(dev)
    params = list(model.parameters())
    opt: torch.optim.Optimizer = (
        torch.optim.Adagrad(params, lr=cfg.lr)
        if cfg.optimizer == "adagrad"
        else torch.optim.Adam(params, lr=cfg.lr)
    )
    tr = torch.as_tensor(dataset.train, dtype=torch.int64)
    r = dataset.num_relations
    queries = torch.cat([tr, torch.stack([tr[:, 2], tr[:, 1] + r, tr[:, 0]], 1)]).to(dev)
    n_edges = 0 if model.graph is None else model.graph.edge_type.shape[0]
    has_valid = len(dataset.valid) > 0
    best_mrr, best_epoch, best_state, bad = -1.0, 0, copy.deepcopy(model.state_dict()), 0
    best_valid: RankingMetrics | None = None
    history: list[tuple[int, float, float]] = []
    start = time.perf_counter()
    epoch = 0
    bar = tqdm(range(1, cfg.max_epochs + 1), disable=not progress, desc=dataset.name)
    for epoch in bar:
        model.train()
        order = torch.randperm(len(queries), generator=gen).to(dev)
        total = 0.0
        for s in range(0, len(queries), cfg.batch_size):
            q = queries[order[s : s + cfg.batch_size]]
            mask = None
            if model.graph is not None and cfg.edge_dropout > 0:
                mask = (torch.rand(n_edges, generator=gen) >= cfg.edge_dropout).to(dev)
            ent = model.embeddings(edge_mask=mask)
            scores, factors = model.scorer.score_all(ent, q[:, 0], q[:, 1])
            loss = nn.functional.cross_entropy(scores, q[:, 2])
            e_lhs, rel, all_ent = factors
            reg = n3_penalty(e_lhs, rel, all_ent[q[:, 2]]) / len(q)
            loss = loss + cfg.n3 * reg
            if cfg.relation_prediction > 0:
                rel_scores = model.scorer.score_relations(ent, q[:, 0], q[:, 2])
                rel_loss = nn.functional.cross_entropy(rel_scores, q[:, 1])
                loss = loss + cfg.relation_prediction * rel_loss
            if constraint is not None:
                loss = loss + constraint.penalty(_relation_scores(model, ent), generator=gen)
            opt.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            opt.step()
            total += float(loss.detach()) * len(q)
        mean_loss = total / len(queries)
        if has_valid and (epoch % cfg.eval_every == 0 or epoch == cfg.max_epochs):
            m = evaluate(model, dataset, "valid", ties=cfg.ties, seed=seed)
            history.append((epoch, mean_loss, m.mrr))
            bar.set_postfix(loss=f"{mean_loss:.4f}", valid_mrr=f"{m.mrr:.4f}")
            if m.mrr > best_mrr:
                best_mrr, best_epoch, best_valid, bad = m.mrr, epoch, m, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad += 1
                if bad >= cfg.patience:
                    break
        elif not has_valid:
            history.append((epoch, mean_loss, float("nan")))
            best_epoch, best_state = epoch, model.state_dict()
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(
        model=model,
        valid=best_valid,
        best_epoch=best_epoch,
        epochs=epoch,
        seconds=time.perf_counter() - start,
        history=history,
    )
