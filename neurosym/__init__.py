"""neurosym: hybrid symbolic–connectionist reasoning.

Write knowledge as rules in ``.rules`` files, check it, see it as a graph; later layers
add a rule engine, neural ODEs and a bridge between them. Importing ``neurosym`` does not
import torch: the ODE and bridge layers load it when you import them
(``from neurosym import ode``).

Example:
    >>> import neurosym as ns
    >>> kb = ns.parse("has_hair(tiger). mammal(X) :- has_hair(X).")
    >>> [d.code for d in kb.check()]
    []
"""

from __future__ import annotations

from .errors import (
    ConfigurationError,
    Diagnostic,
    FactsFileError,
    IncludeError,
    KnowledgeBaseError,
    NeurosymError,
    OptionalDependencyError,
    RuleSyntaxError,
    Severity,
    SolverError,
    Span,
)
from .kb import FactSource, KnowledgeBase, load, parse

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "Diagnostic",
    "FactSource",
    "FactsFileError",
    "IncludeError",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "NeurosymError",
    "OptionalDependencyError",
    "RuleSyntaxError",
    "Severity",
    "SolverError",
    "Span",
    "__version__",
    "load",
    "parse",
]
