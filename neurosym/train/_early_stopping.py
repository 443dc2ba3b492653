"""Early stopping: end a run when a metric has stopped improving."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, final

from neurosym.errors import ConfigurationError

from ._history import History

__all__ = ["EarlyStopping"]


@final
@dataclass(frozen=True, slots=True)
class EarlyStopping:
    """Stop when ``metric`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    The decision is a pure function of the :class:`History`, so a resumed run stops at the
    same epoch as an uninterrupted one without any extra state in the checkpoint. The model
    keeps the weights of the last epoch; :meth:`History.best` names the best one.

    Args:
        metric: the metric to watch, e.g. ``"eval_loss"`` (needs evaluation data) or
            ``"train_loss"``, or a name an evaluation callback returns.
        mode: ``"min"`` if lower is better, ``"max"`` if higher is better.
        patience: how many epochs in a row without improvement end the run (>= 1).
        min_delta: how much better than the best so far a value must be to count (>= 0).

    Raises:
        ConfigurationError: for an unknown mode, a patience below 1 or a negative or
            non-finite ``min_delta``.

    Example:
        >>> from neurosym.train import EpochRecord, History
        >>> stop = EarlyStopping(metric="train_loss", patience=2)
        >>> losses = [3.0, 2.0, 2.5, 2.1]
        >>> h = History(tuple(EpochRecord(i + 1, i + 1, {"train_loss": v})
        ...                   for i, v in enumerate(losses)))
        >>> stop.should_stop(h)
        True
    """

    metric: str = "eval_loss"
    mode: Literal["min", "max"] = "min"
    patience: int = 3
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ConfigurationError(f"metric must be a metric name, got {self.metric!r}")
        if self.mode not in ("min", "max"):
            raise ConfigurationError(f"mode must be 'min' or 'max', got {self.mode!r}")
        if isinstance(self.patience, bool) or not isinstance(self.patience, int):
            raise ConfigurationError(
                f"patience must be an int, got {type(self.patience).__name__} {self.patience!r}"
            )
        if self.patience < 1:
            raise ConfigurationError(
                f"patience must be >= 1 (epochs without improvement), got {self.patience}"
            )
        if not (math.isfinite(self.min_delta) and self.min_delta >= 0):
            raise ConfigurationError(f"min_delta must be finite and >= 0, got {self.min_delta!r}")

    def _improves(self, value: float, best: float) -> bool:
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta

    def should_stop(self, history: History) -> bool:
        """Whether the run should end after the last epoch of ``history``.

        Raises:
            ConfigurationError: if the last epoch has no value for :attr:`metric` (for
                example ``"eval_loss"`` without evaluation data).
        """
        if not history.epochs:
            return False
        last = history.epochs[-1]
        if self.metric not in last.metrics:
            raise ConfigurationError(
                f"early stopping watches {self.metric!r}, but the epoch recorded only "
                f"{sorted(last.metrics)}; pass eval_data to fit() for 'eval_loss', or watch "
                "one of the recorded metrics"
            )
        best: float | None = None
        since = 0
        for value in history.metric(self.metric):
            # NaN never improves: comparisons with NaN are false.
            if not math.isnan(value) and (best is None or self._improves(value, best)):
                best, since = value, 0
            else:
                since += 1
        return since >= self.patience
