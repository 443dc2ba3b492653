"""The curated public surface: exactly these names, no more (an accident is an API)."""

from __future__ import annotations

import neurosym
import neurosym.kb
import neurosym.lang

TOP = {
    "Answer", "ConfigurationError", "Diagnostic", "EngineError", "EvaluationError",
    "FactSource", "FactsFileError", "IncludeError", "KnowledgeBase", "KnowledgeBaseError",
    "LimitError", "Limits", "Model", "NeurosymError", "OptionalDependencyError", "Proof",
    "RuleSyntaxError", "Severity", "SolverError", "Span", "WhyNot", "__version__", "infer",
    "load", "parse", "query", "why_not",
}  # fmt: skip
KB = {"FactSource", "KnowledgeBase", "load", "parse", "read_facts", "to_dot", "write_graph"}


def test_top_level_names() -> None:
    assert set(neurosym.__all__) == TOP
    for name in TOP:
        assert getattr(neurosym, name) is not None


def test_kb_names() -> None:
    assert set(neurosym.kb.__all__) == KB


def test_lang_names_resolve() -> None:
    for name in neurosym.lang.__all__:
        assert getattr(neurosym.lang, name) is not None


def test_error_tree() -> None:
    e = neurosym
    assert issubclass(e.RuleSyntaxError, SyntaxError) and issubclass(
        e.RuleSyntaxError, e.NeurosymError
    )
    assert issubclass(e.ConfigurationError, ValueError)
    assert issubclass(e.SolverError, RuntimeError)
    assert issubclass(e.IncludeError, ImportError) and issubclass(
        e.IncludeError, e.KnowledgeBaseError
    )
    assert issubclass(e.OptionalDependencyError, ImportError)


OPTIM = {
    "ADVICE_RULES", "Advice", "ContinuumLimit", "DampingRegime", "Diagnosis", "GRAD_F",
    "HEAVY_BALL", "HESS_F", "Hyperparameters", "JAC_F", "K", "LM_RESNET", "LyapunovCheck",
    "NAG_C", "NESTEROV", "PhysicalHeavyBall", "PhysicalParameters", "RESNET", "T",
    "UpdateRule", "VECTOR_FIELD", "X", "X_K", "X_KM1", "X_KM2", "continuum_limit",
    "damping_regime", "diagnose_run", "from_physical", "iterations_to_tolerance",
    "lyapunov_check", "nesterov_parameters", "optimal_heavy_ball", "quadratic_run",
    "spectral_radius", "to_physical",
}  # fmt: skip


def test_optim_names() -> None:
    import neurosym.optim

    assert set(neurosym.optim.__all__) == OPTIM
    for name in OPTIM:
        assert getattr(neurosym.optim, name) is not None


def test_layer_surfaces_are_exactly_these() -> None:
    import neurosym.bridge
    import neurosym.engine
    import neurosym.explain
    import neurosym.train

    assert set(neurosym.explain.__all__) == {
        "Answer", "Failure", "Model", "Proof", "Violation", "WhyNot", "infer", "query", "why_not",
    }  # fmt: skip
    assert set(neurosym.bridge.__all__) == {
        "Distilled", "DynamicsExplanation", "HybridODE", "LawStatus", "Library", "Linearisation",
        "Plan", "Program", "QueryResult", "TrajectoryReport", "compile", "damping_ratio",
        "discover", "distill", "linear_analysis", "linearise", "rule_text",
    }  # fmt: skip
    semirings = {"AbstractSemiring", "Boolean", "CertaintyFactor", "Fuzzy", "Probability"}
    assert semirings | {"TopKProbability", "Limits", "evaluate"} <= set(neurosym.engine.__all__)
    assert {"Trainer", "EarlyStopping", "History", "load_checkpoint"} <= set(neurosym.train.__all__)
    for module in (neurosym.engine, neurosym.explain, neurosym.bridge, neurosym.train):
        for name in module.__all__:
            assert getattr(module, name) is not None, (module.__name__, name)


def test_kbc_names() -> None:
    import neurosym.kbc

    assert {"DATASETS", "DatasetName", "TripleDataset", "load_dataset"} <= set(neurosym.kbc.__all__)
    rules = {
        "Explanation", "InducedRule", "InducedRules", "Template", "rule_ranks",
        "countries_experiment", "countries_pairs", "explain_prediction", "induce_rules",
        "layered_kb", "load_templates", "neighbour_vote", "parse_templates", "ranking_experiment",
    }  # fmt: skip
    assert rules <= set(neurosym.kbc.__all__)
    embedding = {
        "ComplEx", "Dynamics", "EmbeddingModel", "FitResult", "RankingMetrics", "RuleConstraint",
        "TNorm", "Ties", "TrainConfig", "average_precision", "evaluate", "filtered_ranks", "fit",
        "n3_penalty", "nearest_neighbours", "ranking_metrics",
    }  # fmt: skip
    base = {"DATASETS", "DatasetName", "TripleDataset", "load_dataset"}
    assert set(neurosym.kbc.__all__) == base | rules | embedding
    for name in neurosym.kbc.__all__:
        assert getattr(neurosym.kbc, name) is not None


def test_ode_system_generators_are_public() -> None:
    import neurosym.ode

    generators = {"Trajectory", "damped_oscillator", "lorenz", "lotka_volterra", "pendulum"}
    assert generators <= set(neurosym.ode.__all__)


def test_ode_names() -> None:
    from neurosym import ode

    assert "GraphODE" in ode.__all__ and ode.GraphODE is not None
