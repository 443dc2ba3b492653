"""The inference engine: relations, joins, semi-naive forward chaining, magic-set backward
chaining, and semantics as semirings over provenance.

Most users call :func:`neurosym.infer` and :func:`neurosym.query`; this package holds
the machinery and the semiring classes for configuring a run.
"""

from __future__ import annotations

from ._base import BaseFacts
from ._bdd import BDD
from ._compile import CRule, compile_body, compile_rule, pred_key
from ._forward import Evaluation, Instance, Limits, components_of, evaluate, premise_value
from ._goal import Goal, goal_rule
from ._magic import QUERY_PRED, magic_rewrite, original
from ._program import FactKey, Program, compile_kb
from ._semiring import (
    SEMANTICS,
    AbstractSemiring,
    Boolean,
    CertaintyFactor,
    Fuzzy,
    Probability,
    SemanticsName,
    TopKProbability,
    resolve_semantics,
)
from ._values import Str, Value, format_fact, format_value, term_value

__all__ = [
    "BDD",
    "QUERY_PRED",
    "SEMANTICS",
    "AbstractSemiring",
    "BaseFacts",
    "Boolean",
    "CRule",
    "CertaintyFactor",
    "Evaluation",
    "FactKey",
    "Fuzzy",
    "Goal",
    "Instance",
    "Limits",
    "Probability",
    "Program",
    "SemanticsName",
    "Str",
    "TopKProbability",
    "Value",
    "compile_body",
    "compile_kb",
    "compile_rule",
    "components_of",
    "evaluate",
    "format_fact",
    "format_value",
    "goal_rule",
    "magic_rewrite",
    "original",
    "pred_key",
    "premise_value",
    "resolve_semantics",
    "term_value",
]
