"""Explanations: proof trees (how), why-not analyses, and the reasoning API built on them."""

from __future__ import annotations

from ._api import Answer, Model, Violation, infer, query
from ._proof import Proof
from ._whynot import Failure, WhyNot, why_not

__all__ = [
    "Answer",
    "Failure",
    "Model",
    "Proof",
    "Violation",
    "WhyNot",
    "infer",
    "query",
    "why_not",
]
