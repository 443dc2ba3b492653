"""neurosym: hybrid symbolic–connectionist reasoning.

Write knowledge as rules in ``.rules`` files, check it, see it as a graph, draw
conclusions under boolean, certainty-factor, probabilistic or fuzzy semantics and have them
explained; neural ODEs live in :mod:`neurosym.ode`. Importing ``neurosym`` does not
import torch: the ODE and bridge layers load it when you import them
(``from neurosym import ode``).

Example:
    >>> import neurosym as ns
    >>> kb = ns.parse("has_hair(tiger). mammal(X) :- has_hair(X).")
    >>> [d.code for d in kb.check()]
    []
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    ConfigurationError,
    Diagnostic,
    EngineError,
    EvaluationError,
    FactsFileError,
    IncludeError,
    KnowledgeBaseError,
    LimitError,
    NeurosymError,
    OptionalDependencyError,
    RuleSyntaxError,
    Severity,
    SolverError,
    Span,
)
from .kb import FactSource, KnowledgeBase, load, parse

if TYPE_CHECKING:
    from .engine import Limits
    from .explain import Answer, Model, Proof, WhyNot, infer, query, why_not

_LAZY = {
    "Limits": "neurosym.engine",
    "Answer": "neurosym.explain",
    "Model": "neurosym.explain",
    "Proof": "neurosym.explain",
    "WhyNot": "neurosym.explain",
    "infer": "neurosym.explain",
    "query": "neurosym.explain",
    "why_not": "neurosym.explain",
}


def __getattr__(name: str) -> Any:
    # The engine (and numpy) load on first use, so `neurosym check` starts fast.
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups are plain attribute reads
        return value
    raise AttributeError(f"module 'neurosym' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "Answer",
    "ConfigurationError",
    "Diagnostic",
    "EngineError",
    "EvaluationError",
    "FactSource",
    "FactsFileError",
    "IncludeError",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "LimitError",
    "Limits",
    "Model",
    "NeurosymError",
    "OptionalDependencyError",
    "Proof",
    "RuleSyntaxError",
    "Severity",
    "SolverError",
    "Span",
    "WhyNot",
    "__version__",
    "infer",
    "load",
    "parse",
    "query",
    "why_not",
]
