"""The compiled program's top-k-proofs fallback, when a goal's exact BDD is too large.

Oracles: the symbolic engine's own top-k semiring (``TopKProbability``, a separate
implementation: proofs as sets of events, their disjunction's probability by a BDD), the
exact compiled value when k keeps every proof, and hand-computed values.
"""

from __future__ import annotations

import random
import re
import warnings

import pytest
import torch
from torch import nn

import neurosym as ns
from neurosym import bridge
from neurosym.engine import TopKProbability
from neurosym.errors import ApproximationWarning, LimitError


def _graph(seed: int, n: int = 8, density: float = 0.45) -> str:
    rng = random.Random(seed)
    edges = [
        f"{rng.choice([0.2, 0.3, 0.5, 0.7, 0.9])} :: e(n{i}, n{j})."
        for i in range(n)
        for j in range(n)
        if i != j and rng.random() < density
    ]
    return "\n".join(edges) + "\npath(X, Y) :- e(X, Y).\npath(X, Y) :- e(X, Z), path(Z, Y).\n"


def _top_k(prog: bridge.Program, goal: str) -> bridge.QueryResult:
    with pytest.warns(ApproximationWarning, match="most probable proofs"):
        return prog.query(goal)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_top_k_equals_the_engines_top_k_semiring(seed: int, k: int) -> None:
    kb = ns.parse(_graph(seed))
    prog = bridge.compile(kb, max_nodes=150, top_k=k).double()
    result = _top_k(prog, "path(n0, Y)")
    assert result.plan == "top-k"
    model = ns.infer(kb, semantics=TopKProbability(k=k))
    assert result.answers  # the graphs are dense enough to reach something from n0
    for i, answer in enumerate(result.answers):
        assert float(result.values[0, i]) == pytest.approx(model.value(answer), abs=1e-9)


def test_top_k_with_every_proof_kept_is_exact_and_bounds_below() -> None:
    kb = ns.parse(_graph(1, n=6))
    exact = bridge.compile(kb).double().query("path(n0, n5)")
    assert exact.plan == "circuit" and exact.answers == ["path(n0, n5)"]

    def top(k: int) -> bridge.QueryResult:
        return _top_k(bridge.compile(kb, max_nodes=10, top_k=k).double(), "path(n0, n5)")

    torch.testing.assert_close(top(10_000).values, exact.values, rtol=0, atol=1e-12)
    values = [float(top(k).values[0, 0]) for k in (1, 2, 4, 8)]
    assert values == sorted(values) and values[-1] <= float(exact.values[0, 0]) + 1e-12
    assert values[0] < float(exact.values[0, 0]) - 1e-3  # one proof is not all of it


def test_top_k_by_hand() -> None:
    # wet has proofs {rain, spr} (0.30), {rain, cloudy} (0.48), {hose} (0.2): the best two
    # are {rain, cloudy} and {rain, spr}: P = 0.6 * (1 - 0.5 * 0.2) = 0.54.
    kb = ns.parse(
        "0.6 :: rain. 0.5 :: spr. 0.8 :: cloudy. 0.2 :: hose.\n"
        "wet :- rain, spr. wet :- rain, cloudy. wet :- hose."
    )
    prog = bridge.compile(kb, max_nodes=3, top_k=1)
    assert prog.plan("wet").kind == "circuit"  # not grounded yet
    one = _top_k(prog, "wet")
    assert prog.plan("wet").kind == "top-k" and "1 most probable" in prog.plan("wet").detail
    two = _top_k(bridge.compile(kb, max_nodes=3, top_k=2), "wet")
    assert float(one.values[0, 0]) == pytest.approx(0.48)
    assert float(two.values[0, 0]) == pytest.approx(0.54)


def test_top_k_learnable_weights_get_gradients() -> None:
    kb = ns.parse(re.sub(r"([0-9.]+) ::", r"t(\1) ::", _graph(1, n=6)))
    prog = bridge.compile(kb, max_nodes=10, top_k=3).double()
    out = _top_k(prog, "path(n0, n5)").values.sum()
    out.backward()
    grads = [p.grad for p in prog.weights.values()]
    assert any(g is not None and float(g.abs()) > 0 for g in grads)


def test_top_k_with_neural_outcomes_excludes_impossible_proofs() -> None:
    # Two different outcomes of one network on one input exclude each other: the proof of
    # odd_pair needs digit(a) = 1 and digit(a) = 2 at once and is dropped; any(a) has three
    # proofs of prior 1/3 each: with k = 2 the two with the lowest leaf ids (outcomes 0, 1).
    kb = ns.parse(
        "nn(net, [I], D, [0, 1, 2]) :: digit(I, D).\n"
        "odd_pair(A) :- digit(A, 1), digit(A, 2).\n"
        "any(A) :- digit(A, D).\n"
    )
    prog = bridge.compile(kb, max_nodes=2, top_k=2)
    prog.neural["net"] = nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=-1))
    x = torch.randn(4, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ApproximationWarning)
        none = prog.query("odd_pair(a)", {"a": x})
        some = prog.query("any(a)", {"a": x})
    assert none.answers == []
    p = prog.neural["net"](x)
    torch.testing.assert_close(some.values[:, 0], p[:, 0] + p[:, 1])


def test_top_k_off_or_negation_is_a_limit_error() -> None:
    kb = ns.parse(_graph(0, n=6))
    with pytest.raises(LimitError, match="top_k"):
        bridge.compile(kb, max_nodes=10, top_k=None).query("path(n0, n5)")
    neg = ns.parse(_graph(0, n=6) + "far(Y) :- path(n0, Y), not e(n0, Y).\n")
    with pytest.raises(LimitError, match="negation"):
        bridge.compile(neg, max_nodes=10, top_k=3).query("far(n5)")
    with pytest.raises(ns.ConfigurationError, match="top_k"):
        bridge.compile(kb, top_k=0)
