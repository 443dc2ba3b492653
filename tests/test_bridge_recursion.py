"""Recursive goals compiled under min/max semantics (fuzzy-godel, relaxed boolean).

Oracles: the symbolic engine under the same semantics (its own fixpoint), and values
computed by hand from the networks' outputs.
"""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

import neurosym as ns
from neurosym import bridge


def _graph(seed: int, n: int = 7, *, left: bool) -> str:
    rng = random.Random(seed)
    edges = [
        f"{rng.choice([0.2, 0.3, 0.5, 0.7, 0.9])} :: e(n{i}, n{j})."
        for i in range(n)
        for j in range(n)
        if i != j and rng.random() < 0.4
    ]
    step = "path(X, Y) :- path(X, Z), e(Z, Y)." if left else "path(X, Y) :- e(X, Z), path(Z, Y)."
    nodes = " ".join(f"0.8 :: node(n{i})." for i in range(n))
    return "\n".join([*edges, nodes, "path(X, Y) :- e(X, Y).", step,
                      "cut(Y) :- node(Y), not path(n0, Y)."])  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("semantics", ["fuzzy-godel", "boolean"])
def test_recursive_goals_equal_the_engine(seed: int, left: bool, semantics: str) -> None:
    kb = ns.parse(_graph(seed, left=left))
    prog = bridge.compile(kb, semantics=semantics).double()  # type: ignore[arg-type]
    model = ns.infer(kb, semantics=semantics)
    for goal in ("path(n0, Y)", "path(X, n3)", "cut(Y)"):
        result = prog.query(goal)
        expected = {str(a.fact): float(a.value) for a in model.query(goal)}
        got = {a: float(result.values[0, i]) for i, a in enumerate(result.answers)}
        assert got.keys() == {k for k, v in expected.items() if v != 0.0}
        for answer, value in got.items():
            assert value == pytest.approx(expected[answer], abs=1e-12), (goal, answer)


def test_godel_cycle_by_hand() -> None:
    # engine.md's loop: path(b, a) = max(0.5, min(0.5, path(a, a))) = 0.5 and
    # path(b, b) = min(0.5, path(a, b)) = 0.5.
    kb = ns.parse(
        "0.5 :: link(a, b).\n0.5 :: link(b, a).\n"
        "path(X, Y) :- link(X, Y).\npath(X, Z) :- link(X, Y), path(Y, Z).\n"
    )
    result = bridge.compile(kb, semantics="fuzzy-godel").query("path(b, X)")
    assert result.answers == ["path(b, a)", "path(b, b)"]
    torch.testing.assert_close(result.values, torch.tensor([[0.5, 0.5]]))


def test_relaxed_boolean_recursion_through_neural_outcomes() -> None:
    # reach(c) has one proof, through the bits read from images i1 and i2; the cycle back
    # to a adds nothing: reach(c) = min(p1[1], p2[1]); reach(a) is a fact (1).
    kb = ns.parse(
        "nn(net, [I], D, [0, 1]) :: bit(I, D).\n"
        "link(a, b, i1). link(b, c, i2). link(c, a, i3).\n"
        "reach(a).\nreach(Y) :- reach(X), link(X, Y, I), bit(I, 1).\n"
    )
    prog = bridge.compile(kb, semantics="boolean")
    prog.neural["net"] = nn.Sequential(nn.Linear(3, 2), nn.Softmax(dim=-1))
    xs = {f"i{k}": torch.randn(5, 3) for k in (1, 2, 3)}
    result = prog.query("reach(X)", xs)
    assert result.answers == ["reach(a)", "reach(b)", "reach(c)"]
    p = {k: prog.neural["net"](x)[:, 1] for k, x in xs.items()}
    torch.testing.assert_close(result.values[:, 0], torch.ones(5))
    torch.testing.assert_close(result.values[:, 1], p["i1"])
    torch.testing.assert_close(result.values[:, 2], torch.minimum(p["i1"], p["i2"]))


def test_recursive_godel_learnable_weights_get_the_bottleneck_gradient() -> None:
    # path(a, c) = max(min(w_ab, w_bc), min(w_ad, w_dc)) = max(min(0.9, 0.4), min(0.3, 0.8))
    # = 0.4 = w_bc: only w_bc gets a gradient.
    kb = ns.parse(
        "t(0.9) :: e(a, b). t(0.4) :: e(b, c). t(0.3) :: e(a, d). t(0.8) :: e(d, c).\n"
        "path(X, Y) :- e(X, Y).\npath(X, Y) :- path(X, Z), e(Z, Y).\n"
    )
    prog = bridge.compile(kb, semantics="fuzzy-godel").double()
    value = prog.query("path(a, c)").values[0, 0]
    assert float(value.detach()) == pytest.approx(0.4)
    value.backward()
    grads = {name: float(p.grad) if p.grad is not None else 0.0 for name, p in prog.weights.items()}
    nonzero = [name for name, g in grads.items() if g != 0.0]
    assert len(nonzero) == 1 and "e_" in nonzero[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("semantics", ["fuzzy-product", "fuzzy-lukasiewicz", "cf"])
def test_reinforcing_semantics_iterate_to_the_engines_fixpoint(
    seed: int, left: bool, semantics: str
) -> None:
    # A cycle reinforces these values: both the engine and the compiled program iterate
    # the component's equations from 0 until nothing moves by more than 1e-12.
    kb = ns.parse(_graph(seed, left=left))
    prog = bridge.compile(kb, semantics=semantics).double()  # type: ignore[arg-type]
    model = ns.infer(kb, semantics=semantics)
    for goal in ("path(n0, Y)", "cut(Y)"):
        result = prog.query(goal)
        expected = {str(a.fact): float(a.value) for a in model.query(goal)}
        for i, answer in enumerate(result.answers):
            assert float(result.values[0, i]) == pytest.approx(
                expected.get(answer, 0.0), abs=1e-9
            ), (goal, answer)


def test_reinforcing_cycle_by_hand() -> None:
    # engine.md's loop: under fuzzy-product x = 0.5 ⊕ 0.5·y, y = 0.5·x, so x = 4/7; under
    # cf x goes 0.5 -> 0.5 ⊕ 0.5 = 0.75 and stays; under Łukasiewicz x = 0.5, y = 0.
    kb = ns.parse(
        "0.5 :: link(a, b).\n0.5 :: link(b, a).\n"
        "path(X, Y) :- link(X, Y).\npath(X, Z) :- link(X, Y), path(Y, Z).\n"
    )
    expected = {"fuzzy-product": (4 / 7, 2 / 7), "cf": (0.75, 0.5),
                "fuzzy-lukasiewicz": (0.5, 0.0)}  # fmt: skip
    for semantics, (x, y) in expected.items():
        prog = bridge.compile(kb, semantics=semantics).double()  # type: ignore[arg-type]
        result = prog.query("path(b, X)")
        assert result.answers == ["path(b, a)", "path(b, b)"]
        torch.testing.assert_close(
            result.values, torch.tensor([[x, y]], dtype=torch.float64), rtol=0, atol=1e-11
        )


def test_reinforcing_fixpoint_is_differentiable() -> None:
    # The gradient through the fixpoint's rounds, with respect to the learnable weight's
    # logit, against central differences of the engine's value (times dw/dlogit).
    text = "t(0.5) :: link(a, b).\n0.5 :: link(b, a).\npath(X, Y) :- link(X, Y).\n"
    text += "path(X, Z) :- link(X, Y), path(Y, Z).\n"
    prog = bridge.compile(ns.parse(text), semantics="fuzzy-product").double()
    (logit,) = prog.weights.values()
    value = prog.query("path(a, b)").values[0, 0]
    value.backward()
    assert logit.grad is not None

    def engine_value(w: float) -> float:
        kb = ns.parse(text.replace("t(0.5)", repr(w)))
        return float(ns.infer(kb, semantics="fuzzy-product").value("path(a, b)"))

    w = float(torch.sigmoid(logit.detach()))
    eps = 1e-5
    slope = (engine_value(w + eps) - engine_value(w - eps)) / (2 * eps)
    assert float(logit.grad) == pytest.approx(slope * w * (1 - w), rel=1e-4)
