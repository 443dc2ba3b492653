"""Run by test_distributed.py under ``torchrun --nproc_per_node=2`` on the gloo backend.

Usage: ``torchrun --standalone --nproc_per_node=2 ddp_worker.py OUT_DIR``. Each rank saves
``OUT_DIR/rank{r}.pt`` with the weights and histories of three runs:

* ``gd``: full-batch SGD without shuffling; the two ranks each see half of the 64 samples,
  so the averaged gradient is the full-batch gradient (compared with one process).
* ``resumed`` and ``straight``: shuffled mini-batches with dropout; a 2-epoch run writes a
  checkpoint (rank 0 only), a new model resumes it to 4 epochs, and another runs the 4
  epochs straight.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from train_helpers import loader, make_model, make_trainer, mse, regression_data

from neurosym.train import CHECKPOINT_NAME, Trainer

GD_EPOCHS = 20


def gd_run() -> tuple[nn.Module, Trainer]:
    x, y = regression_data(64)
    model = make_model(dropout=0.0)
    trainer = Trainer(
        model,
        mse,
        torch.optim.SGD(model.parameters(), lr=0.1),
        max_epochs=GD_EPOCHS,
        seed=0,
        progress=False,
    )
    trainer.fit(loader(x, y, batch_size=64 // dist.get_world_size(), shuffle=False))
    return model, trainer


def main(out: Path) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    x, y = regression_data()
    ex, ey = regression_data(32, seed=5)

    gd_model, gd = gd_run()

    ckpt = out / "ckpt"
    first = make_trainer(make_model(), max_epochs=2, checkpoint_dir=ckpt, loss_fn=mse)
    first.fit(loader(x, y, batch_size=8), eval_data=loader(ex, ey, batch_size=8))
    resumed_model = make_model(init_seed=42)
    resumed = make_trainer(resumed_model, max_epochs=4, loss_fn=mse)
    resumed.fit(
        loader(x, y, batch_size=8),
        eval_data=loader(ex, ey, batch_size=8),
        resume_from=ckpt / CHECKPOINT_NAME,
    )
    straight_model = make_model()
    straight = make_trainer(straight_model, max_epochs=4, loss_fn=mse)
    straight.fit(loader(x, y, batch_size=8), eval_data=loader(ex, ey, batch_size=8))

    torch.save(
        {
            "gd": gd_model.state_dict(),
            "gd_history": gd.history.to_dict(),
            "resumed": resumed_model.state_dict(),
            "resumed_history": resumed.history.to_dict(),
            "straight": straight_model.state_dict(),
            "straight_history": straight.history.to_dict(),
            "steps": straight.step,
        },
        out / f"rank{rank}.pt",
    )
    # Both ranks finish their work before either tears the group down: a rank that
    # destroys it while the other still closes its gloo pairs can abort at exit
    # ("terminate called without an active exception", seen once in CI).
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
