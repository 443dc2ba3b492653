"""The bridge: knowledge bases as differentiable torch programs (neural predicates,
learnable weights, exact probabilities), and back to rules."""

from __future__ import annotations

from ._distill import Distilled, discover, distill
from ._equations import damping_ratio, linearise, rule_text
from ._library import Library
from ._program import Program, QueryResult, compile

__all__ = [
    "Distilled",
    "Library",
    "Program",
    "QueryResult",
    "compile",
    "damping_ratio",
    "discover",
    "distill",
    "linearise",
    "rule_text",
]
