"""DistributedDataParallel under torchrun: 2 processes on the gloo backend, on the CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
from train_helpers import loader, make_model, make_trainer, mse, regression_data

from neurosym.errors import ConfigurationError
from neurosym.train import CHECKPOINT_NAME, History, Trainer, load_checkpoint

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available",
)


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("ddp")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(HERE / "ddp_worker.py"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=out,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]


def test_both_ranks_end_with_the_same_weights_and_metrics(
    ranks: tuple[Path, list[dict[str, Any]]],
) -> None:
    _, (r0, r1) = ranks
    for run in ("gd", "resumed", "straight"):
        assert all(torch.equal(r0[run][k], r1[run][k]) for k in r0[run]), run
        assert r0[f"{run}_history"] == r1[f"{run}_history"], run


def test_ranks_split_the_data(ranks: tuple[Path, list[dict[str, Any]]]) -> None:
    _, (r0, _) = ranks
    # 96 samples in batches of 8, split over 2 ranks: 6 steps per epoch, 4 epochs.
    assert r0["steps"] == 4 * 6
    losses = History.from_dict(r0["straight_history"]).metric("train_loss")
    assert losses[-1] < losses[0]


def test_two_ranks_equal_one_process_on_the_full_batch(
    ranks: tuple[Path, list[dict[str, Any]]],
) -> None:
    # Each rank's loss is the mean over its half of the batch; DDP averages the two
    # gradients, which is the gradient of the mean over the whole batch.
    _, (r0, _) = ranks
    x, y = regression_data(64)
    model = make_model(dropout=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    trainer = Trainer(model, mse, optimizer, max_epochs=20, seed=0, progress=False)
    history = trainer.fit(loader(x, y, batch_size=64, shuffle=False))
    for key, value in model.state_dict().items():
        assert torch.allclose(r0["gd"][key], value, rtol=1e-5, atol=1e-6), key
    ddp_losses = History.from_dict(r0["gd_history"]).metric("train_loss")
    assert ddp_losses == pytest.approx(history.metric("train_loss"), rel=1e-5)
    assert ddp_losses[-1] < ddp_losses[0] / 10


def test_a_distributed_resume_is_exact_and_only_rank_0_writes(
    ranks: tuple[Path, list[dict[str, Any]]],
) -> None:
    out, (r0, r1) = ranks
    for r in (r0, r1):
        assert all(torch.equal(r["resumed"][k], r["straight"][k]) for k in r["straight"])
        assert r["resumed_history"] == r["straight_history"]
    assert sorted(os.listdir(out / "ckpt")) == [CHECKPOINT_NAME]
    data = load_checkpoint(out / "ckpt" / CHECKPOINT_NAME)
    assert data["world_size"] == 2 and len(data["rng"]) == 2 and data["epoch"] == 2
    # Each rank's own random streams are kept (their dropout draws differ).
    assert not torch.equal(data["rng"][0]["torch"], data["rng"][1]["torch"])


def test_a_distributed_checkpoint_cannot_resume_in_one_process(
    ranks: tuple[Path, list[dict[str, Any]]],
) -> None:
    out, _ = ranks
    x, y = regression_data()
    trainer = make_trainer(make_model(), max_epochs=4, loss_fn=mse)
    with pytest.raises(ConfigurationError, match="written by 2 process"):
        trainer.fit(loader(x, y), resume_from=out / "ckpt" / CHECKPOINT_NAME)
