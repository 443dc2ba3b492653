"""Small models, data and trainers shared by the tests of neurosym.train (and the DDP worker).

Each random source a run can use is exercised on purpose: dropout (the global torch
generator), a shuffling DataLoader (the trainer's generator), ``random`` and
``numpy.random`` in the loss, Adam's moments and a step scheduler, so a resume that forgot
any of them would not end with the same weights.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from neurosym.train import Trainer

N_SAMPLES = 96
BATCH = 16
NOISE = 0.1


def regression_data(n: int = N_SAMPLES, seed: int = 123) -> tuple[Tensor, Tensor]:
    """``y = x @ w + 0.5 + noise`` with 3 features, drawn from a private generator."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    w = torch.tensor([[1.5], [-2.0], [0.5]])
    y = x @ w + 0.5 + NOISE * torch.randn(n, 1, generator=g)
    return x, y


def loader(x: Tensor, y: Tensor, *, batch_size: int = BATCH, shuffle: bool = True) -> Any:
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle)


def make_model(init_seed: int = 0, *, dropout: float = 0.2) -> nn.Module:
    """A small MLP with dropout, initialised from ``init_seed`` without global side effects."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        return nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, 1))


def mse(model: nn.Module, batch: Any) -> Tensor:
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def noisy_mse(model: nn.Module, batch: Any) -> Tensor:
    """MSE with a random scale drawn from ``random`` and ``numpy.random`` while training."""
    x, y = batch
    scale = 1.0
    if model.training:
        scale += 0.05 * random.random() + 0.05 * float(np.random.rand())
    return nn.functional.mse_loss(model(x) * scale, y)


def make_trainer(
    model: nn.Module,
    *,
    max_epochs: int,
    seed: int = 7,
    checkpoint_dir: Path | None = None,
    **options: Any,
) -> Trainer:
    """Adam + StepLR on ``model`` with the noisy loss (override with ``loss_fn=``)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    loss_fn = options.pop("loss_fn", noisy_mse)
    options.setdefault("progress", False)
    return Trainer(
        model,
        loss_fn,
        optimizer,
        max_epochs=max_epochs,
        seed=seed,
        scheduler=scheduler,
        checkpoint_dir=checkpoint_dir,
        **options,
    )


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    different = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert different == []


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)
