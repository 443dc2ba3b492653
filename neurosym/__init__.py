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

from .engine import Limits
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
from .explain import Answer, Model, Proof, WhyNot, infer, query, why_not
from .kb import FactSource, KnowledgeBase, load, parse

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
