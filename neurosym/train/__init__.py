"""Training loops for any module and loss: seeded, checkpointed, resumable, distributed.

:class:`Trainer` runs epochs of ``loss_fn(model, batch)`` with any optimizer, records a
:class:`History`, evaluates with callbacks, stops early (:class:`EarlyStopping`), writes
atomic checkpoints that :meth:`Trainer.fit` can resume from bit for bit, and runs under
``torchrun`` with ``DistributedDataParallel``. Importing this package imports torch.

Data is a ``torch.utils.data.DataLoader`` (a shuffling one is re-seeded from the run's
seed; under ``torch.distributed`` it is split with a ``DistributedSampler``) or any
re-iterable of batches (used in order, and taken as this rank's share when distributed).

Example:
    >>> import torch
    >>> from torch import nn
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> from neurosym.train import Trainer, EarlyStopping
    >>> x = torch.linspace(-1, 1, 64).unsqueeze(1)
    >>> loader = DataLoader(TensorDataset(x, 2 * x), batch_size=16, shuffle=True)
    >>> model = nn.Linear(1, 1)
    >>> trainer = Trainer(
    ...     model,
    ...     lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
    ...     torch.optim.SGD(model.parameters(), lr=0.2),
    ...     max_epochs=100,
    ...     seed=0,
    ...     early_stopping=EarlyStopping(metric="eval_loss", patience=2, min_delta=1e-6),
    ...     progress=False,
    ... )
    >>> history = trainer.fit(loader, eval_data=[(x, 2 * x)])
    >>> history.stopped_early, history.metric("eval_loss")[-1] < 1e-4
    (True, True)
"""

from __future__ import annotations

from ._checkpoint import FORMAT as CHECKPOINT_FORMAT
from ._checkpoint import load_checkpoint
from ._early_stopping import EarlyStopping
from ._history import EpochRecord, History
from ._trainer import CHECKPOINT_NAME, EvalCallback, LossFn, Trainer

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME",
    "EarlyStopping",
    "EpochRecord",
    "EvalCallback",
    "History",
    "LossFn",
    "Trainer",
    "load_checkpoint",
]
