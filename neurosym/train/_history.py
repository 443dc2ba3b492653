"""The record of a run: one :class:`EpochRecord` per finished epoch, serialisable to JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, final

from neurosym.errors import ConfigurationError

__all__ = ["EpochRecord", "History"]

_FORMAT = "neurosym.train.history/1"


@final
@dataclass(frozen=True, slots=True)
class EpochRecord:
    """The metrics of one finished epoch.

    Attributes:
        epoch: the epoch's number, counted from 1.
        step: optimizer steps taken so far in the run, this epoch's included.
        metrics: name → value; ``"train_loss"`` (the mean of the batch losses) always,
            ``"eval_loss"`` and the callbacks' metrics when there is evaluation data.
            Read-only.
    """

    epoch: int
    step: int
    metrics: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.epoch < 1 or self.step < 0:
            raise ConfigurationError(
                f"an epoch record has epoch >= 1 and step >= 0, got epoch={self.epoch!r}, "
                f"step={self.step!r}"
            )
        object.__setattr__(
            self, "metrics", MappingProxyType({str(k): float(v) for k, v in self.metrics.items()})
        )


@final
@dataclass(frozen=True, slots=True)
class History:
    """Per-epoch metrics of a run, in order; what :meth:`Trainer.fit` returns.

    Attributes:
        epochs: one record per finished epoch.
        stopped_early: whether early stopping ended the run.

    Example:
        >>> h = History((EpochRecord(1, 4, {"train_loss": 2.0}),
        ...              EpochRecord(2, 8, {"train_loss": 0.5})))
        >>> h.metric("train_loss")
        [2.0, 0.5]
        >>> History.from_json(h.to_json()) == h
        True
    """

    epochs: tuple[EpochRecord, ...] = ()
    stopped_early: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "epochs", tuple(self.epochs))
        for i, record in enumerate(self.epochs, start=1):
            if record.epoch != i:
                raise ConfigurationError(
                    f"a history numbers its epochs 1, 2, 3, ...; record {i} says epoch "
                    f"{record.epoch}"
                )

    def __len__(self) -> int:
        return len(self.epochs)

    @property
    def names(self) -> tuple[str, ...]:
        """Every metric name that occurs, in order of first appearance."""
        seen: dict[str, None] = {}
        for record in self.epochs:
            seen.update(dict.fromkeys(record.metrics))
        return tuple(seen)

    def metric(self, name: str) -> list[float]:
        """The values of one metric, in epoch order (epochs without it are skipped).

        Raises:
            KeyError: if no epoch has the metric (the message lists those there are).
        """
        values = [r.metrics[name] for r in self.epochs if name in r.metrics]
        if not values and self.epochs:
            raise KeyError(f"no epoch has a metric {name!r}; the history has {list(self.names)}")
        return values

    def appended(self, record: EpochRecord, *, stopped_early: bool = False) -> History:
        """A new history with ``record`` added at the end."""
        return History((*self.epochs, record), stopped_early=stopped_early)

    def to_dict(self) -> dict[str, Any]:
        """Plain containers only: what JSON and ``torch.load(weights_only=True)`` accept."""
        return {
            "format": _FORMAT,
            "stopped_early": self.stopped_early,
            "epochs": [
                {"epoch": r.epoch, "step": r.step, "metrics": dict(r.metrics)} for r in self.epochs
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        """The inverse of :meth:`to_dict`.

        Raises:
            ConfigurationError: if ``data`` is not a history written by :meth:`to_dict`.
        """
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise ConfigurationError(f"expected a history of format {_FORMAT!r}, got {got!r}")
        try:
            records = tuple(
                EpochRecord(int(e["epoch"]), int(e["step"]), dict(e["metrics"]))
                for e in data["epochs"]
            )
            return cls(records, stopped_early=bool(data["stopped_early"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigurationError(f"a damaged history record: {e!r}") from e

    def to_json(self) -> str:
        """JSON text (non-finite values are written as ``NaN``/``Infinity``, as Python does)."""
        return json.dumps(self.to_dict(), indent=1, allow_nan=True)

    @classmethod
    def from_json(cls, text: str) -> History:
        """Read :meth:`to_json` output back."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigurationError(f"a history is JSON text: {e}") from e
        return cls.from_dict(data)

    def best(self, name: str, *, mode: Literal["min", "max"] = "min") -> EpochRecord:
        """The record with the lowest (``mode="min"``) or highest value of a metric.

        NaN values never count as best; ties go to the earlier epoch.

        Raises:
            KeyError: if no epoch has the metric.
            ConfigurationError: for a mode other than ``"min"`` or ``"max"``.
        """
        if mode not in ("min", "max"):
            raise ConfigurationError(f"mode must be 'min' or 'max', got {mode!r}")
        self.metric(name)  # raises KeyError with the available names
        candidates = [
            r for r in self.epochs if name in r.metrics and not math.isnan(r.metrics[name])
        ]
        if not candidates:
            raise KeyError(f"metric {name!r} is NaN in every epoch")
        sign = 1.0 if mode == "min" else -1.0
        return min(candidates, key=lambda r: sign * r.metrics[name])
