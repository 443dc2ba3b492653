"""Where laws hold along a trajectory: per law, the time intervals where it binds, is
tight, or is violated, and by how much."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

import torch
from torch import Tensor

if TYPE_CHECKING:
    from ._laws import CompiledLaw

__all__ = ["LawStatus", "TrajectoryReport", "intervals", "law_report"]

Interval = tuple[float, float]


def intervals(ts: Sequence[float], mask: Sequence[bool]) -> tuple[Interval, ...]:
    """Maximal runs of ``True`` in ``mask`` as ``(first time, last time)`` of each run.

    Example:
        >>> intervals([0.0, 0.1, 0.2, 0.3, 0.4], [False, True, True, False, True])
        ((0.1, 0.2), (0.4, 0.4))
    """
    out: list[Interval] = []
    start: float | None = None
    prev = 0.0
    for t, m in zip(ts, mask):
        if m and start is None:
            start = t
        elif not m and start is not None:
            out.append((start, prev))
            start = None
        prev = t
    if start is not None:
        out.append((start, prev))
    return tuple(out)


@final
@dataclass(frozen=True)
class LawStatus:
    """One law along one trajectory (the worst sample of a batch at each time).

    Attributes:
        name, text: the law.
        hard: enforced by construction.
        holds: never violated (beyond the tolerance) at the reported times.
        worst: the most negative margin (0.0 when it holds), and ``worst_t`` its time.
        violated: time intervals where it is violated.
        active: time intervals where its if-conditions hold (the whole span without any).
        tight: time intervals where it binds with a margin within the tolerance of 0 (a
            constraint that is doing work).
        fraction_violated: share of the reported times with a violation.
        margins: the margin at each time (worst sample), NaN where the law does not bind.
    """

    name: str
    text: str
    hard: bool
    holds: bool
    worst: float
    worst_t: float
    violated: tuple[Interval, ...]
    active: tuple[Interval, ...]
    tight: tuple[Interval, ...]
    fraction_violated: float
    margins: tuple[float, ...]


def _fmt(iv: Sequence[Interval]) -> str:
    if not iv:
        return "never"
    return ", ".join(f"[{a:.3g}, {b:.3g}]" for a, b in iv)


@final
@dataclass(frozen=True)
class TrajectoryReport:
    """The status of every law along a trajectory; ``str()`` renders a table."""

    ts: tuple[float, ...]
    laws: tuple[LawStatus, ...]

    def __getitem__(self, name: str) -> LawStatus:
        for s in self.laws:
            if s.name == name:
                return s
        raise KeyError(f"no law named {name!r}; laws: {[s.name for s in self.laws]}")

    @property
    def holds(self) -> bool:
        """Every law holds."""
        return all(s.holds for s in self.laws)

    def __str__(self) -> str:
        lines = [f"laws along t in [{self.ts[0]:.3g}, {self.ts[-1]:.3g}] ({len(self.ts)} times):"]
        for s in self.laws:
            how = "hard" if s.hard else "penalty"
            verdict = (
                "holds" if s.holds else f"VIOLATED by up to {-s.worst:.3g} (t = {s.worst_t:.3g})"
            )
            lines.append(f"  {s.name} [{how}]: {verdict}")
            lines.append(f"      {s.text}")
            if not s.holds:
                lines.append(
                    f"      violated on {_fmt(s.violated)} ({s.fraction_violated:.0%} of the time)"
                )
            if s.active != ((self.ts[0], self.ts[-1]),):
                lines.append(f"      conditions hold on {_fmt(s.active)}")
            if s.tight:
                lines.append(f"      tight on {_fmt(s.tight)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (margins left out)."""
        return {
            "holds": self.holds,
            "laws": [{k: v for k, v in s.__dict__.items() if k != "margins"} for s in self.laws],
        }


def law_report(
    laws: Sequence[CompiledLaw],
    values: Mapping[str, Tensor],
    ts: Tensor,
    *,
    hard: Collection[str],
    tol: float,
) -> TrajectoryReport:
    """Build the report from values of shape ``(T, batch)`` at times ``ts`` ``(T,)``."""
    times = [float(t) for t in ts]
    out = []
    for law in laws:
        margin, active = law.evaluate(values)
        margin = margin.reshape(len(times), -1)
        active = active.reshape(len(times), -1)
        m = torch.where(active, margin, torch.full_like(margin, float("inf")))
        worst_per_t = m.min(dim=1).values
        any_active = active.any(dim=1)
        bad = (worst_per_t < -tol) & any_active
        tight = (worst_per_t.abs() <= tol) & any_active
        k = int(torch.argmin(worst_per_t))
        worst = float(worst_per_t[k]) if bool(bad.any()) else 0.0
        shown = torch.where(any_active, worst_per_t, torch.full_like(worst_per_t, float("nan")))
        out.append(
            LawStatus(
                name=law.name,
                text=law.text,
                hard=law.name in hard,
                holds=not bool(bad.any()),
                worst=worst,
                worst_t=times[k] if bool(bad.any()) else float("nan"),
                violated=intervals(times, bad.tolist()),
                active=intervals(times, any_active.tolist()),
                tight=intervals(times, tight.tolist()),
                fraction_violated=float(bad.double().mean()),
                margins=tuple(float(x) for x in shown),
            )
        )
    return TrajectoryReport(tuple(times), tuple(out))
