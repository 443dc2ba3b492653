"""Fit a noisy sine with ``neurosym.train``: stop halfway, resume in a new trainer, print.

The data are ``y = sin(2πx) + ε`` with ``ε ~ N(0, σ²)``, so no model can get a mean squared
error on fresh data below ``σ²``: that is the floor the final evaluation loss is judged
against. The first trainer runs half the epochs and leaves a checkpoint; a second trainer,
with a new model and optimizer, resumes from it and finishes the run exactly as one
uninterrupted trainer would have. Run ``python examples/train_regression.py --quick`` for a
check that takes seconds.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

# Run from a checkout: prefer this repository's neurosym over an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from neurosym.train import EarlyStopping, History, Trainer


def make_data(n: int, noise: float, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` points of the noisy sine, from a private generator."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 2 - 1
    return x, torch.sin(2 * math.pi * x) + noise * torch.randn(n, 1, generator=g)


def make_model(seed: int) -> nn.Module:
    """A 1-32-32-1 tanh network, initialised from ``seed`` (the global generator is left alone)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1)
        )


def mse(model: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def rmse(model: nn.Module, batches: Any) -> dict[str, float]:
    """An evaluation callback: the root mean squared error over the evaluation data."""
    squared = torch.cat([(model(x) - y) ** 2 for x, y in batches])
    return {"eval_rmse": float(squared.mean().sqrt())}


def make_trainer(
    model: nn.Module, args: argparse.Namespace, *, max_epochs: int, checkpoint_dir: Path
) -> Trainer:
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-2)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    return Trainer(
        model,
        mse,
        optimizer,
        max_epochs=max_epochs,
        seed=args.seed,
        scheduler=scheduler,
        callbacks=[rmse],
        early_stopping=EarlyStopping(metric="eval_loss", patience=20),
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=5,
        progress=False if args.quick else None,  # None: a bar only on a terminal
    )


def print_history(history: History, *, rows: int = 10) -> None:
    print(f"{'epoch':>5}  {'step':>5}  {'train_loss':>10}  {'eval_loss':>10}  {'eval_rmse':>9}")
    every = max(1, len(history) // rows)
    for record in history.epochs:
        if record.epoch % every == 0 or record.epoch == 1:
            m = record.metrics
            print(
                f"{record.epoch:5d}  {record.step:5d}  {m['train_loss']:10.5f}  "
                f"{m['eval_loss']:10.5f}  {m['eval_rmse']:9.5f}"
            )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train in two halves with a resume between them; print and return the results.

    Args:
        argv: command-line arguments (``--quick``, ``--epochs``, ``--noise``, ``--seed``,
            ``--checkpoint-dir``).

    Returns:
        ``{"history": History, "noise_variance": σ², "final_eval_loss": float}``.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run for the test suite")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.1, help="σ of the noise on y")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = 60
    x, y = make_data(512, args.noise, seed=args.seed)
    ex, ey = make_data(256, args.noise, seed=args.seed + 1)
    train = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    evals = DataLoader(TensorDataset(ex, ey), batch_size=256)

    with tempfile.TemporaryDirectory() as scratch:
        where = args.checkpoint_dir if args.checkpoint_dir is not None else Path(scratch)
        half = max(1, args.epochs // 2)
        first = make_trainer(make_model(args.seed), args, max_epochs=half, checkpoint_dir=where)
        first.fit(train, eval_data=evals)
        assert first.checkpoint_path is not None
        print(f"stopped after epoch {first.epoch}; checkpoint at {first.checkpoint_path}")

        # A new process would do exactly this: new model, optimizer, trainer; resume.
        second = make_trainer(
            make_model(args.seed + 100), args, max_epochs=args.epochs, checkpoint_dir=where
        )
        history = second.fit(train, eval_data=evals, resume_from=first.checkpoint_path)
        print(f"resumed at epoch {half + 1}, finished at epoch {second.epoch}")
    print_history(history)
    final = history.metric("eval_loss")[-1]
    print(f"final eval MSE {final:.5f}; the noise floor σ² is {args.noise**2:.5f}")
    return {"history": history, "noise_variance": args.noise**2, "final_eval_loss": final}


if __name__ == "__main__":
    main()
