"""Turning what the user passes as data into batches for each epoch.

Two kinds of data are accepted:

* a ``torch.utils.data.DataLoader``. If it shuffles (``shuffle=True``, a
  ``RandomSampler``), it is rebuilt with the same settings around a sampler that draws
  from the trainer's generator, so the order depends only on the run's seed. Under
  ``torch.distributed`` its dataset is split with a ``DistributedSampler`` (seeded from
  the run's seed, its epoch set every epoch); a loader that already has a
  ``DistributedSampler`` keeps it. A loader over an ``IterableDataset`` or with another
  sampler is used as it is (and, when distributed, must already give each rank its share).
* any other re-iterable of batches (a list of ``(x, y)`` tuples, say), used as it is: in
  order, and when distributed taken to be this rank's share. One-shot iterators are
  refused, because the second epoch would see no data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sized
from typing import Any, cast, final

import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from neurosym.errors import ConfigurationError

__all__ = ["EpochData", "OnDevice", "prepare", "to_device"]


def to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor in it (in tuples, lists and dicts) moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, tuple):
        moved = [to_device(b, device) for b in batch]
        # A named tuple is rebuilt from fields, a plain tuple from an iterable.
        return type(batch)(*moved) if hasattr(batch, "_fields") else tuple(moved)
    if isinstance(batch, list):
        return [to_device(b, device) for b in batch]
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


@final
class OnDevice:
    """A re-iterable view of batches that moves each one to ``device`` as it is read."""

    def __init__(self, batches: Iterable[Any], device: torch.device) -> None:
        self._batches = batches
        self._device = device

    def __iter__(self) -> Iterator[Any]:
        for batch in self._batches:
            yield to_device(batch, self._device)


@final
class EpochData:
    """Prepared data: :meth:`for_epoch` gives the batches of one epoch."""

    def __init__(self, batches: Iterable[Any], sampler: DistributedSampler[Any] | None) -> None:
        self._batches = batches
        self._sampler = sampler

    def for_epoch(self, epoch: int) -> Iterable[Any]:
        """The batches of ``epoch`` (counted from 1)."""
        if self._sampler is not None:
            # DistributedSampler permutes with seed + epoch: the same on every rank.
            self._sampler.set_epoch(epoch)
        return self._batches

    def length(self) -> int | None:
        """The number of batches per epoch, when the data knows it."""
        try:
            return len(self._batches)  # type: ignore[arg-type]
        except TypeError:
            return None


def _rebuild(loader: DataLoader[Any], sampler: Sampler[Any], generator: torch.Generator) -> Any:
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
        generator=generator,
        prefetch_factor=loader.prefetch_factor,
        persistent_workers=loader.persistent_workers,
        pin_memory_device=loader.pin_memory_device,
        in_order=loader.in_order,
    )


def _prepare_loader(
    loader: DataLoader[Any],
    *,
    name: str,
    shuffle_allowed: bool,
    generator: torch.Generator,
    data_seed: int,
    rank: int,
    world: int,
) -> EpochData:
    sampler = loader.sampler
    batch_sampler = loader.batch_sampler
    if isinstance(loader.dataset, IterableDataset):
        return EpochData(loader, None)
    if isinstance(sampler, DistributedSampler):
        return EpochData(loader, sampler)
    standard = isinstance(sampler, (RandomSampler, SequentialSampler)) and (
        batch_sampler is None or type(batch_sampler) is BatchSampler
    )
    if not standard:
        if world > 1:
            raise ConfigurationError(
                f"{name} is a DataLoader with a custom sampler ({type(sampler).__name__}); "
                f"the trainer cannot split it over {world} processes. Give it a "
                "torch.utils.data.DistributedSampler yourself, or use shuffle=True/False"
            )
        return EpochData(loader, None)
    shuffle = isinstance(sampler, RandomSampler) and shuffle_allowed
    if world > 1:
        if isinstance(sampler, RandomSampler) and sampler.replacement:
            raise ConfigurationError(
                f"{name} samples with replacement, which a DistributedSampler cannot split "
                f"over {world} processes; sample without replacement"
            )
        shard: DistributedSampler[Any] = DistributedSampler(
            loader.dataset,
            num_replicas=world,
            rank=rank,
            shuffle=shuffle,
            seed=data_seed,
            drop_last=loader.drop_last,
        )
        return EpochData(_rebuild(loader, shard, generator), shard)
    if isinstance(sampler, RandomSampler) and shuffle_allowed:
        own = RandomSampler(
            cast(Sized, loader.dataset),  # a RandomSampler stood on it already: it has a length
            replacement=sampler.replacement,
            num_samples=sampler._num_samples,  # None unless the user set it
            generator=generator,
        )
        return EpochData(_rebuild(loader, own, generator), None)
    return EpochData(loader, None)


def prepare(
    data: Iterable[Any],
    *,
    name: str,
    shuffle_allowed: bool,
    generator: torch.Generator,
    data_seed: int,
    rank: int,
    world: int,
) -> EpochData:
    """Check ``data`` and make it give reproducible (and, if distributed, sharded) batches.

    Args:
        data: a DataLoader or a re-iterable of batches.
        name: how error messages call it (``"train_data"``).
        shuffle_allowed: rebuild a shuffling loader around ``generator``; when false (for
            evaluation data) a shuffling loader is used as it is in one process, and
            split without shuffling when distributed.
        generator: the trainer's data-order generator.
        data_seed: the seed a ``DistributedSampler`` gets.
        rank: this process's rank.
        world: the number of processes.

    Raises:
        ConfigurationError: for a bare Dataset, a one-shot iterator, something that is not
            iterable, or a loader that cannot be split over the processes.
    """
    if isinstance(data, DataLoader):
        return _prepare_loader(
            data,
            name=name,
            shuffle_allowed=shuffle_allowed,
            generator=generator,
            data_seed=data_seed,
            rank=rank,
            world=world,
        )
    if isinstance(data, Dataset):
        raise ConfigurationError(
            f"{name} is a Dataset ({type(data).__name__}), which yields single samples, not "
            "batches; wrap it: DataLoader(dataset, batch_size=..., shuffle=True)"
        )
    try:
        first = iter(data)
    except TypeError as e:
        raise ConfigurationError(
            f"{name} must be a DataLoader or a re-iterable of batches (a list, say), got "
            f"{type(data).__name__}"
        ) from e
    if first is data:
        raise ConfigurationError(
            f"{name} is a one-shot iterator ({type(data).__name__}); every epoch reads the "
            "data again, so pass a list of batches or a DataLoader"
        )
    return EpochData(data, None)
