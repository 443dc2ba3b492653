"""The bridge: knowledge bases as differentiable torch programs (neural predicates,
learnable weights, exact probabilities), and back to rules; dynamics stated in rules and
completed by neural terms, held to their laws, and learned dynamics distilled back into
equations."""

from __future__ import annotations

from ._distill import Distilled, discover, distill
from ._equations import damping_ratio, linearise, rule_text
from ._explain_dynamics import DynamicsExplanation, Linearisation, linear_analysis
from ._hybrid import HybridODE
from ._library import Library
from ._program import Program, QueryResult, compile
from ._report import LawStatus, TrajectoryReport
from ._structure import Plan

__all__ = [
    "Distilled",
    "DynamicsExplanation",
    "HybridODE",
    "LawStatus",
    "Library",
    "Linearisation",
    "Plan",
    "Program",
    "QueryResult",
    "TrajectoryReport",
    "compile",
    "damping_ratio",
    "discover",
    "distill",
    "linear_analysis",
    "linearise",
    "rule_text",
]
