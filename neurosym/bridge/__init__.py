"""The bridge: knowledge bases as differentiable torch programs (neural predicates,
learnable weights, exact probabilities), and back to rules; dynamics stated in rules and
completed by neural terms, held to their laws."""

from __future__ import annotations

from ._hybrid import HybridODE
from ._program import Program, QueryResult, compile
from ._report import LawStatus, TrajectoryReport

__all__ = ["HybridODE", "LawStatus", "Program", "QueryResult", "TrajectoryReport", "compile"]
