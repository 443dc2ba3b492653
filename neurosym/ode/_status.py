"""Per-sample outcome codes of a solve."""

from __future__ import annotations

import enum
from typing import final

__all__ = ["Status"]


@final
class Status(enum.IntEnum):
    """What happened to one sample of a batch.

    The values are stored in :attr:`Solution.status` as an ``int64`` tensor, one per
    sample, so a batch that partly fails is data rather than an exception.

    Attributes:
        SUCCESS: reached the last requested time (or a terminal event).
        MAX_STEPS: used up ``max_steps`` step attempts before the end.
        DT_UNDERFLOW: the step size shrank below what the time resolution allows.
        NONFINITE: the state or the vector field became NaN or infinite and smaller
            steps did not help.
    """

    SUCCESS = 0
    MAX_STEPS = 1
    DT_UNDERFLOW = 2
    NONFINITE = 3

    @property
    def message(self) -> str:
        """A one-line explanation with what to try."""
        return _MESSAGES[self]


_MESSAGES = {
    Status.SUCCESS: "reached the end",
    Status.MAX_STEPS: (
        "ran out of steps (max_steps): raise max_steps, loosen rtol/atol, or, if the "
        "steps were tiny, treat the problem as stiff"
    ),
    Status.DT_UNDERFLOW: (
        "the step size underflowed: the solution may blow up in finite time, the vector "
        "field may be discontinuous, or the problem is stiff"
    ),
    Status.NONFINITE: (
        "the state or vector field became NaN/inf even with tiny steps: check the vector "
        "field for overflow, division by zero or log of negative numbers"
    ),
}
