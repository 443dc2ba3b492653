"""The bridge: knowledge bases as differentiable torch programs (neural predicates,
learnable weights, exact probabilities), and back to rules."""

from __future__ import annotations

from ._program import Program, QueryResult, compile

__all__ = ["Program", "QueryResult", "compile"]
