"""``solver_swap_check``: does a trained continuous-depth model behave as an ODE?

A model trained through a coarse solver (one Euler step, say) can learn a field whose
*discretisation* fits the data while the ODE it defines does not: it is then a ResNet in
disguise, and its accuracy changes when the solver does (Ott et al. 2021, "ResNet after
all? Neural ODEs and their numerical solution"; Queiruga et al. 2020). The check
re-evaluates the model with each of several solvers and flags a spread of the metric
beyond a tolerance.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, final

import torch
from torch import Tensor, nn

from neurosym.errors import ConfigurationError, SolverError

from ._odeblock import ODEBlock, SolverSetting

__all__ = ["SolverSwapReport", "solver_swap_check"]

Metric = Callable[[Tensor, Tensor], float | Tensor]

_DEFAULT_SOLVERS = (SolverSetting("dopri5", rtol=1e-6, atol=1e-8), SolverSetting("rk4", steps=32))


@final
@dataclass(frozen=True, slots=True)
class SolverSwapReport:
    """The metric of one model under several solvers.

    Attributes:
        labels: ``"as trained"`` followed by each swapped setting's description.
        metrics: the metric under each (NaN where the solve failed).
        nfe: field evaluations of all the model's ODE blocks under each.
        metric_name: the metric's name.
        tolerance: the largest allowed difference between two metrics.
        spread: the largest minus the smallest metric (``inf`` if a solve failed).
        behaves_as_ode: ``spread <= tolerance``: the model's output is a property of
            its ODE, not of one discretisation.
    """

    labels: tuple[str, ...]
    metrics: tuple[float, ...]
    nfe: tuple[int, ...]
    metric_name: str
    tolerance: float
    spread: float
    behaves_as_ode: bool

    def summary(self) -> str:
        """A small table, one row per solver, and the verdict."""
        width = max(len(s) for s in self.labels)
        rows = [
            f"{label:<{width}}  {self.metric_name} {value:.4f}  nfe {n}"
            for label, value, n in zip(self.labels, self.metrics, self.nfe, strict=True)
        ]
        verdict = "behaves as an ODE" if self.behaves_as_ode else "does NOT behave as an ODE"
        rows.append(f"spread {self.spread:.4g} vs tolerance {self.tolerance:g}: {verdict}")
        return "\n".join(rows)


def _metric(metric: Literal["accuracy", "mse"] | Metric) -> tuple[str, Metric]:
    if metric == "accuracy":
        return "accuracy", lambda out, y: (out.argmax(-1) == y).to(torch.float64).mean()
    if metric == "mse":
        return "mse", lambda out, y: ((out - y) ** 2).mean()
    if callable(metric):
        return getattr(metric, "__name__", "metric"), metric
    raise ConfigurationError(
        f"metric must be 'accuracy', 'mse' or a callable (outputs, targets) -> float, "
        f"got {metric!r}"
    )


def solver_swap_check(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    *,
    solvers: Sequence[SolverSetting] = _DEFAULT_SOLVERS,
    metric: Literal["accuracy", "mse"] | Metric = "accuracy",
    tolerance: float = 0.01,
) -> SolverSwapReport:
    """Evaluate ``model`` as trained and with every :class:`ODEBlock` in it swapped to each
    solver; report the metric per solver and whether it stayed within ``tolerance``.

    The model runs in eval mode without gradients; its mode and settings are restored.

    Args:
        model: a module containing at least one :class:`ODEBlock`.
        inputs: the evaluation inputs.
        targets: the targets the metric compares the outputs with.
        solvers: the settings to swap in (each applies to every ODE block).
        metric: ``"accuracy"`` (argmax against class indices), ``"mse"`` or a callable
            ``(outputs, targets) -> float``.
        tolerance: the largest allowed spread (absolute, in the metric's units).

    Returns:
        The :class:`SolverSwapReport`.

    Raises:
        ConfigurationError: when the model has no ODE block, ``solvers`` is empty or
            holds something else than :class:`SolverSetting`, or ``tolerance < 0``.

    Example:
        >>> from neurosym.ode import MLPField
        >>> _ = torch.manual_seed(0)
        >>> model = ODEBlock(MLPField(2, (8,)))
        >>> x = torch.randn(16, 2)
        >>> report = solver_swap_check(model, x, x, metric="mse", tolerance=1e-4)
        >>> report.labels[0], report.behaves_as_ode
        ('as trained: dopri5(rtol=1e-05, atol=1e-06)', True)
    """
    blocks = [m for m in model.modules() if isinstance(m, ODEBlock)]
    if not blocks:
        raise ConfigurationError(
            f"{type(model).__name__} contains no ODEBlock: nothing to swap the solver of"
        )
    if not solvers or not all(isinstance(s, SolverSetting) for s in solvers):
        raise ConfigurationError("solvers must be a non-empty sequence of SolverSetting")
    if not tolerance >= 0:
        raise ConfigurationError(f"tolerance must be >= 0, got {tolerance!r}")
    name, fn = _metric(metric)
    trained = "; ".join(sorted({b.setting.describe() for b in blocks}))
    labels = [f"as trained: {trained}"] + [s.describe() for s in solvers]
    values: list[float] = []
    nfes: list[int] = []
    was_training = model.training
    model.eval()
    try:
        for setting in (None, *solvers):
            with contextlib.ExitStack() as stack:
                if setting is not None:
                    for b in blocks:
                        stack.enter_context(b.using(setting))
                before = [b.nfe_total for b in blocks]
                try:
                    with torch.no_grad():
                        out = model(inputs)
                        value = float(fn(out, targets))
                except SolverError:
                    value = math.nan
                total = sum(b.nfe_total - n for b, n in zip(blocks, before, strict=True))
            values.append(value)
            nfes.append(total)
    finally:
        model.train(was_training)
    finite = all(math.isfinite(v) for v in values)
    spread = max(values) - min(values) if finite else math.inf
    return SolverSwapReport(
        labels=tuple(labels),
        metrics=tuple(values),
        nfe=tuple(nfes),
        metric_name=name,
        tolerance=float(tolerance),
        spread=spread,
        behaves_as_ode=spread <= tolerance,
    )
