"""The training loop: :class:`Trainer`."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias, final

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from tqdm import tqdm

from neurosym.errors import ConfigurationError

from ._checkpoint import load_checkpoint, save_checkpoint
from ._data import EpochData, OnDevice, prepare, to_device
from ._distributed import all_gather_objects, all_sum, barrier, rank_and_world
from ._early_stopping import EarlyStopping
from ._history import EpochRecord, History
from ._rng import RandomStreams

__all__ = ["CHECKPOINT_NAME", "EvalCallback", "LossFn", "Trainer"]

LossFn: TypeAlias = Callable[[nn.Module, Any], Tensor]
"""``loss_fn(model, batch) -> scalar tensor``: how to score one batch with the model."""

EvalCallback: TypeAlias = Callable[[nn.Module, Iterable[Any]], Mapping[str, float]]
"""``callback(model, eval_batches) -> {"name": value}``, run after every epoch."""

CHECKPOINT_NAME = "checkpoint.pt"
"""The file name of the checkpoint a trainer keeps in its ``checkpoint_dir``."""

_RESERVED = frozenset({"train_loss", "eval_loss"})


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ConfigurationError(f"{name} must be >= {minimum}, got {value}")
    return value


def _scalar(loss: object, where: str) -> Tensor:
    if not isinstance(loss, Tensor) or loss.ndim != 0:
        got = f"a tensor of shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else repr(loss)
        raise ConfigurationError(
            f"loss_fn must return a scalar (0-dimensional) tensor, got {got} in {where}; "
            "reduce it, e.g. with .mean()"
        )
    return loss


@final
class Trainer:
    """Trains any module with any loss: seeded, resumable, checkpointed, distributed-ready.

    Each epoch runs ``loss_fn(model, batch)``, ``backward()`` and ``optimizer.step()`` over
    the training batches, steps the scheduler (if any), evaluates (if there is evaluation
    data), records the metrics in a :class:`History`, asks :class:`EarlyStopping` whether
    to stop and writes a checkpoint every ``checkpoint_every`` epochs (and after the last).

    **Reproducibility.** All randomness of a run comes from ``seed``: the order of a
    shuffling DataLoader (drawn from a ``torch.Generator`` the trainer owns), and the
    global generators of torch, ``random`` and ``numpy.random`` that dropout or a loss may
    use. For the latter the trainer keeps its own states and swaps them in only while
    :meth:`fit` runs, restoring the caller's afterwards: a run never seeds or advances the
    caller's global generators. Two trainers with the same seed, data and initial model
    therefore end with the same weights, bit for bit (given deterministic kernels; see
    ``torch.use_deterministic_algorithms`` for the GPU). The model's initial weights are
    the caller's business: build it after ``torch.manual_seed(...)`` (inside
    ``torch.random.fork_rng()`` to leave the global state alone).

    **Checkpoints and resume.** A checkpoint holds the model and optimizer (and scheduler)
    states, the epoch and step counts, every random state and the history, written
    atomically (a killed write leaves the previous checkpoint) and read with
    ``torch.load(weights_only=True)``. ``fit(..., resume_from=path)`` on a *new* trainer
    with a new model and optimizer continues from the checkpoint's epoch exactly as the
    original run would have gone on. Checkpoints are taken between epochs.

    **Distributed.** When ``torch.distributed`` is initialised (under ``torchrun``; do it
    before building the trainer) the model is wrapped in ``DistributedDataParallel``
    (unless it already is), DataLoaders are split over the ranks with a
    ``DistributedSampler``, the metrics are averaged over the ranks (the losses weighted by
    batch count), only rank 0 writes checkpoints and shows progress, and a checkpoint keeps
    the random states of every rank, so resume needs the same number of processes.

    Args:
        model: the module to train; moved to ``device``. ``loss_fn`` receives it wrapped in
            ``DistributedDataParallel`` when distributed (call it; for its attributes use
            ``.module``).
        loss_fn: ``loss_fn(model, batch)`` → a scalar tensor; batches arrive with their
            tensors (in tuples, lists, dicts) moved to ``device``.
        optimizer: an optimizer over (some of) ``model``'s parameters.
        max_epochs: how many epochs the run has in total (>= 1), counting resumed ones.
        seed: the run's seed (an int >= 0).
        scheduler: a learning-rate scheduler of ``optimizer``, stepped after every epoch
            (not ``ReduceLROnPlateau``, which needs a metric).
        early_stopping: when to stop before ``max_epochs``.
        callbacks: evaluation callbacks ``callback(model, eval_batches) -> {name: value}``,
            run after every epoch with the model in eval mode under ``torch.no_grad()``;
            they need ``eval_data``. Names must be new (not ``train_loss``/``eval_loss``).
        checkpoint_dir: where to keep the checkpoint (the file ``checkpoint.pt``), or
            ``None`` for none.
        checkpoint_every: write the checkpoint every this many epochs (>= 1).
        progress: show a tqdm progress bar on stderr: ``True``, ``False``, or ``None`` for
            only when stderr is a terminal.
        device: where to train, e.g. ``"cpu"`` or ``"cuda:0"`` (under ``torchrun``, this
            rank's GPU).

    Raises:
        ConfigurationError: for an option of the wrong type or out of range, a scheduler of
            another optimizer, or an optimizer with parameters that are not the model's.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from neurosym.train import Trainer
        >>> x = torch.linspace(-1, 1, 32).unsqueeze(1)
        >>> batches = [(x[i : i + 8], 3 * x[i : i + 8] + 1) for i in range(0, 32, 8)]
        >>> model = nn.Linear(1, 1)
        >>> trainer = Trainer(
        ...     model,
        ...     lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
        ...     torch.optim.SGD(model.parameters(), lr=0.1),
        ...     max_epochs=30,
        ...     seed=0,
        ...     progress=False,
        ... )
        >>> history = trainer.fit(batches)
        >>> len(history), history.metric("train_loss")[-1] < 0.01
        (30, True)
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        optimizer: torch.optim.Optimizer,
        *,
        max_epochs: int,
        seed: int,
        scheduler: LRScheduler | None = None,
        early_stopping: EarlyStopping | None = None,
        callbacks: Sequence[EvalCallback] = (),
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 1,
        progress: bool | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigurationError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise ConfigurationError(
                f"loss_fn must be callable as loss_fn(model, batch), got {loss_fn!r}"
            )
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ConfigurationError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        self._max_epochs = _check_int("max_epochs", max_epochs, 1)
        self._seed = _check_int("seed", seed, 0)
        self._checkpoint_every = _check_int("checkpoint_every", checkpoint_every, 1)
        if scheduler is not None and (
            not isinstance(scheduler, LRScheduler) or scheduler.optimizer is not optimizer
        ):
            raise ConfigurationError(
                "scheduler must be a torch.optim.lr_scheduler.LRScheduler of the trainer's "
                f"optimizer, got {type(scheduler).__name__}"
            )
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ConfigurationError(
                "ReduceLROnPlateau steps on a metric, which the trainer does not feed it (it "
                "steps schedulers once per epoch without arguments); use an epoch-based "
                "scheduler, or EarlyStopping to act on a plateau"
            )
        if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
            raise ConfigurationError(
                "early_stopping must be an EarlyStopping(...) or None, got "
                f"{type(early_stopping).__name__}"
            )
        if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Sequence):
            raise ConfigurationError(
                f"callbacks must be a sequence of callables, got {type(callbacks).__name__}"
            )
        for cb in callbacks:
            if not callable(cb):
                raise ConfigurationError(
                    f"each callback must be callable as cb(model, eval_batches), got {cb!r}"
                )
        if progress is not None and not isinstance(progress, bool):
            raise ConfigurationError(f"progress must be True, False or None, got {progress!r}")
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError) as e:
            raise ConfigurationError(f"device {device!r} is not a torch device: {e}") from e
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigurationError(f"device {device!r} asks for CUDA, which is not available")

        if isinstance(model, DistributedDataParallel):
            self._net: nn.Module | None = model
            inner = model.module
        else:
            self._net = None
            inner = model.to(self.device)
        own = {id(p) for p in inner.parameters()}
        if any(id(p) not in own for group in optimizer.param_groups for p in group["params"]):
            raise ConfigurationError(
                "the optimizer updates parameters that are not the model's; build it from "
                "this model, e.g. torch.optim.Adam(model.parameters())"
            )
        self.model: nn.Module = inner
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.early_stopping = early_stopping
        self.callbacks: tuple[EvalCallback, ...] = tuple(callbacks)
        self._checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self._progress = progress
        self._rank, self._world = rank_and_world()
        self._streams = RandomStreams(seed, rank=self._rank, device=self.device)
        self._epoch = 0
        self._step = 0
        self._history = History()

    @property
    def history(self) -> History:
        """The metrics of every finished epoch so far."""
        return self._history

    @property
    def epoch(self) -> int:
        """How many epochs of the run are done."""
        return self._epoch

    @property
    def step(self) -> int:
        """How many optimizer steps of the run are done."""
        return self._step

    @property
    def checkpoint_path(self) -> Path | None:
        """Where the trainer keeps its checkpoint (``None`` without ``checkpoint_dir``)."""
        return None if self._checkpoint_dir is None else self._checkpoint_dir / CHECKPOINT_NAME

    def fit(
        self,
        train_data: Iterable[Any],
        *,
        eval_data: Iterable[Any] | None = None,
        resume_from: str | os.PathLike[str] | None = None,
    ) -> History:
        """Run the remaining epochs of the run and return its whole history.

        Calling ``fit`` again on the same trainer goes on from where it is (nothing is left
        after ``max_epochs`` or an early stop). After an exception inside ``fit`` the
        trainer is mid-epoch: resume a new one from the last checkpoint instead.

        Args:
            train_data: a ``DataLoader`` or a re-iterable of batches (see the module docs
                of :mod:`neurosym.train` for how each is shuffled and split).
            eval_data: the same, for evaluation after every epoch: gives ``eval_loss`` (the
                mean of ``loss_fn`` over its batches) and the callbacks' metrics.
            resume_from: a checkpoint to continue from (model, optimizer, scheduler,
                random states, history, epoch and step).

        Returns:
            The history of the whole run, resumed epochs included.

        Raises:
            ConfigurationError: for unusable data, callbacks without ``eval_data``, a
                non-scalar loss, an epoch without batches, metrics early stopping cannot
                find, or a checkpoint that does not fit this trainer.
        """
        if self.callbacks and eval_data is None:
            raise ConfigurationError(
                f"{len(self.callbacks)} evaluation callback(s) given but no eval_data; pass "
                "fit(train_data, eval_data=...)"
            )
        common: dict[str, Any] = {
            "generator": self._streams.generator,
            "data_seed": self._streams.data_seed,
            "rank": self._rank,
            "world": self._world,
        }
        train = prepare(train_data, name="train_data", shuffle_allowed=True, **common)
        evals = (
            None
            if eval_data is None
            else prepare(eval_data, name="eval_data", shuffle_allowed=False, **common)
        )
        if resume_from is not None:
            self._restore(resume_from)
        if self._history.stopped_early or self._epoch >= self._max_epochs:
            return self._history
        net = self._wrapped()
        per_epoch = train.length()
        with (
            self._streams.swapped_in(),
            tqdm(
                total=None if per_epoch is None else per_epoch * self._max_epochs,
                initial=0 if per_epoch is None else per_epoch * self._epoch,
                disable=not self._show_progress(),
                file=sys.stderr,
                unit="batch",
                dynamic_ncols=True,
            ) as bar,
        ):
            while self._epoch < self._max_epochs:
                epoch = self._epoch + 1
                bar.set_description(f"epoch {epoch}/{self._max_epochs}")
                sums = self._train_epoch(net, train, epoch, bar)
                names: list[str] = []
                if evals is not None:
                    eval_sums, names, values = self._evaluate(evals, epoch)
                    sums += eval_sums + values
                metrics = self._reduce(sums, names, epoch)
                history = self._history.appended(EpochRecord(epoch, self._step, metrics))
                stop = self.early_stopping is not None and self.early_stopping.should_stop(history)
                self._history = History(history.epochs, stopped_early=stop)
                self._epoch = epoch
                bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()})
                path = self.checkpoint_path
                due = epoch % self._checkpoint_every == 0 or epoch == self._max_epochs or stop
                if path is not None and due:
                    self.save_checkpoint(path)
                if stop:
                    break
        return self._history

    def _show_progress(self) -> bool:
        if self._rank != 0:
            return False
        if self._progress is None:
            return sys.stderr is not None and sys.stderr.isatty()
        return self._progress

    def _wrapped(self) -> nn.Module:
        if self._net is None:
            if self._world > 1:
                ids = [self.device.index] if self.device.type == "cuda" else None
                self._net = DistributedDataParallel(self.model, device_ids=ids)
            else:
                self._net = self.model
        return self._net

    def _train_epoch(self, net: nn.Module, data: EpochData, epoch: int, bar: Any) -> list[float]:
        net.train()
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        count = 0
        show = not bar.disable
        for batch in data.for_epoch(epoch):
            batch = to_device(batch, self.device)
            self.optimizer.zero_grad(set_to_none=True)
            loss = _scalar(self.loss_fn(net, batch), f"training epoch {epoch}")
            torch.autograd.backward(loss)
            self.optimizer.step()
            self._step += 1
            count += 1
            detached = loss.detach()
            total += detached.to(torch.float64)
            bar.update(1)
            if show:
                bar.set_postfix(loss=f"{float(detached):.4g}", refresh=False)
        if self.scheduler is not None:
            self.scheduler.step()
        return [float(total), float(count)]

    def _evaluate(self, data: EpochData, epoch: int) -> tuple[list[float], list[str], list[float]]:
        model = self.model
        was_training = model.training
        model.eval()
        names: list[str] = []
        values: list[float] = []
        try:
            with torch.no_grad():
                batches = OnDevice(data.for_epoch(epoch), self.device)
                total = torch.zeros((), dtype=torch.float64, device=self.device)
                count = 0
                for batch in batches:
                    loss = _scalar(self.loss_fn(model, batch), f"evaluation after epoch {epoch}")
                    total += loss.detach().to(torch.float64)
                    count += 1
                for cb in self.callbacks:
                    out = cb(model, batches)
                    if not isinstance(out, Mapping):
                        raise ConfigurationError(
                            f"an evaluation callback returns a mapping name -> float, {cb!r} "
                            f"returned {type(out).__name__}"
                        )
                    for name, value in out.items():
                        if not isinstance(name, str) or name in _RESERVED or name in names:
                            raise ConfigurationError(
                                f"callback {cb!r} returned the metric name {name!r}, which is "
                                "not a string, reserved (train_loss, eval_loss) or taken by "
                                "another callback; rename it"
                            )
                        names.append(name)
                        values.append(float(value))
        finally:
            model.train(was_training)
        return [float(total), float(count)], names, values

    def _reduce(self, sums: list[float], names: list[str], epoch: int) -> dict[str, float]:
        # One collective per epoch: loss sums and counts add up; callback values average.
        summed = all_sum(sums, self.device)
        if summed[1] == 0:
            raise ConfigurationError(f"train_data gave no batches in epoch {epoch}")
        metrics = {"train_loss": summed[0] / summed[1]}
        if len(summed) > 2:
            metrics["eval_loss"] = summed[2] / summed[3] if summed[3] else math.nan
            for name, value in zip(names, summed[4:]):
                metrics[name] = value / self._world
        return metrics

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path | None:
        """Write the state of the run to ``path`` atomically (what :meth:`fit` does itself).

        When distributed, every rank must call it (the random states are gathered) and only
        rank 0 writes.

        Returns:
            The path written, or ``None`` on ranks other than 0.
        """
        rng = all_gather_objects(self._streams.state_dict())
        if self._rank != 0:
            barrier()  # on return the file is there for every rank, e.g. to resume from
            return None
        payload = {
            "epoch": self._epoch,
            "step": self._step,
            "seed": self._seed,
            "world_size": self._world,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "rng": rng,
            "history": self._history.to_dict(),
        }
        written = save_checkpoint(path, payload)
        barrier()
        return written

    def _restore(self, path: str | os.PathLike[str]) -> None:
        data = load_checkpoint(path)
        where = repr(str(path))
        if data["seed"] != self._seed:
            raise ConfigurationError(
                f"checkpoint {where} belongs to a run with seed={data['seed']}, this trainer "
                f"has seed={self._seed}; resume with the run's seed"
            )
        if data["world_size"] != self._world:
            raise ConfigurationError(
                f"checkpoint {where} was written by {data['world_size']} process(es), this run "
                f"has {self._world}; resume with as many (the data split and the random "
                "streams depend on it)"
            )
        if data["epoch"] > self._max_epochs:
            raise ConfigurationError(
                f"checkpoint {where} is at epoch {data['epoch']}, past max_epochs="
                f"{self._max_epochs}"
            )
        if (data["scheduler"] is None) != (self.scheduler is None):
            has = "has" if data["scheduler"] is not None else "has no"
            raise ConfigurationError(
                f"checkpoint {where} {has} scheduler state, but this trainer "
                f"{'has no' if self.scheduler is None else 'has a'} scheduler; build it as "
                "the original run did"
            )
        try:
            self.model.load_state_dict(data["model"])
            self.optimizer.load_state_dict(data["optimizer"])
            if self.scheduler is not None:
                self.scheduler.load_state_dict(data["scheduler"])
        except (RuntimeError, ValueError, KeyError) as e:
            raise ConfigurationError(
                f"checkpoint {where} does not fit this model/optimizer: {e}"
            ) from e
        self._streams.load_state_dict(data["rng"][self._rank])
        self._history = History.from_dict(data["history"])
        self._epoch = int(data["epoch"])
        self._step = int(data["step"])
