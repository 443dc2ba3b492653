"""The compiled program against the symbolic engine (the oracle), closed forms and
gradients; neural predicates and learnable weights."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import neurosym as ns
from neurosym import bridge

ROOT = Path(__file__).resolve().parent.parent


def _compare(kb: ns.KnowledgeBase, goal: str) -> int:
    """Assert the compiled values equal the engine's; returns how many answers matched."""
    symbolic = {a.fact: a.value for a in ns.query(kb, goal, semantics="prob")}
    compiled = bridge.compile(kb).double().query(goal)
    got = {a: float(compiled.values[0, i]) for i, a in enumerate(compiled.answers)}
    assert set(got) == set(symbolic)
    for fact, value in symbolic.items():
        assert got[fact] == pytest.approx(value, abs=1e-12)
    return len(symbolic)


def _random_program(seed: int) -> str:
    rng = random.Random(seed)
    consts = ["a", "b", "c", "d"]
    lines = [
        f"{rng.choice(['', '0.3 :: ', '0.7 :: ', '0.5 :: '])}"
        f"e({rng.choice(consts)}, {rng.choice(consts)})."
        for _ in range(rng.randint(2, 7))
    ]
    lines += [f"{rng.randint(1, 9) / 10} :: w({c})." for c in consts[:2]]
    lines += [
        "p(X, Y) :- e(X, Y).",
        rng.choice(["p(X, Z) :- p(X, Y), e(Y, Z).", "0.6 :: p(X, Z) :- e(X, Y), p(Y, Z)."]),
        "q(X) :- p(X, X), w(X).",
        "r(X) :- e(X, _), not q(X).",
    ]
    return "\n".join(lines) + "\n"


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_compiled_equals_symbolic_on_generated_programs(seed: int) -> None:
    kb = ns.parse(_random_program(seed))
    compared = sum(_compare(kb, goal) for goal in ("p(X, Y)", "p(a, Y)", "q(X)", "r(X)"))
    assert compared >= 1  # every program has e/2 facts, so p(X, Y) has answers


@pytest.mark.parametrize("name", ["animals_small", "arithmetic", "with_include"], ids=lambda n: n)
def test_compiled_equals_symbolic_on_golden_programs(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ROOT / "tests" / "data" / "programs" / f"{name}.rules"
    monkeypatch.chdir(path.parent)
    kb = ns.load(path.name)
    compared = 0
    for head in sorted({(r.head.predicate, r.head.arity) for r in kb.rules}):
        name_, arity = head
        goal = f"{name_}({', '.join(f'X{i}' for i in range(arity))})" if arity else name_
        compared += _compare(kb, goal)
    assert compared > 0


def test_gradients_of_learnable_weights_pass_gradcheck() -> None:
    kb = ns.parse("0.6 :: rain. t(0.4) :: spr. wet :- rain. t(0.7) :: wet :- spr. dry :- not wet.")
    prog = bridge.compile(kb).double()
    names = sorted(prog.weights)

    def f(*logits: torch.Tensor) -> torch.Tensor:
        params = {f"weights.{n}": v for n, v in zip(names, logits)}
        return torch.func.functional_call(prog, params, ("dry",))

    logits = tuple(prog.weights[n].detach().clone().requires_grad_(True) for n in names)
    assert torch.autograd.gradcheck(f, logits)
    # and the value itself is the closed form: P(dry) = 1 - (0.6 + 0.4*0.7 - 0.6*0.4*0.7)
    assert float(f(*logits).detach()) == pytest.approx(1 - (0.6 + 0.28 - 0.168))


def test_gradcheck_through_neural_outcomes() -> None:
    kb = ns.parse(
        "nn(net, [X], D, [0, 1, 2]) :: digit(X, D).\n"
        "add(X, Y, Z) :- digit(X, A), digit(Y, B), Z is A + B.\n"
    )
    prog = bridge.compile(kb).double()  # the program computes in its own dtype

    class Softmax(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(x, dim=1)

    prog.neural["net"] = Softmax()

    def f(xa: torch.Tensor, xb: torch.Tensor) -> torch.Tensor:
        return prog.query("add(a, b, Z)", {"a": xa, "b": xb}).values

    xa = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    xb = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (xa, xb))


def test_sum_of_two_digits_is_the_convolution_of_their_distributions() -> None:
    kb = ns.parse(
        "nn(net, [X], D, [0, 1, 2, 3]) :: digit(X, D).\n"
        "add(X, Y, Z) :- digit(X, A), digit(Y, B), Z is A + B.\n"
    )
    prog = bridge.compile(kb).double()

    class Table(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x  # the inputs are the distributions themselves

    prog.neural["net"] = Table()
    pa = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]], dtype=torch.float64)
    pb = torch.tensor([[0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 0.5, 0.5]], dtype=torch.float64)
    result = prog.query("add(a, b, Z)", {"a": pa, "b": pb})
    got = result.select("Z", list(range(7)))
    expected = torch.stack(
        [torch.tensor([sum(float(pa[i, x] * pb[i, z - x]) for x in range(4) if 0 <= z - x < 4)
                       for z in range(7)]) for i in range(2)]
    ).double()  # fmt: skip
    assert torch.allclose(got, expected, atol=1e-12)
    assert torch.allclose(got.sum(dim=1), torch.ones(2, dtype=torch.float64))


def test_learning_a_rule_weight_from_data() -> None:
    kb = ns.parse("coin. t(0.5) :: heads :- coin.")
    prog = bridge.compile(kb)
    opt = torch.optim.Adam(prog.parameters(), lr=0.1)
    targets = torch.tensor([1.0] * 80 + [0.0] * 20)  # heads 80% of the time
    for _ in range(300):
        p = prog.query("heads").values[:, 0]
        loss = -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    (learned,) = prog.learned().values()
    assert learned == pytest.approx(0.8, abs=1e-3)  # the maximum-likelihood estimate
    assert "t(0.8) :: heads :- coin." in prog.to_rules()


def test_digit_network_learns_through_the_sum() -> None:
    torch.manual_seed(0)
    kb = ns.parse(
        "nn(net, [X], D, [0, 1, 2]) :: digit(X, D).\n"
        "add(X, Y, Z) :- digit(X, A), digit(Y, B), Z is A + B.\n"
    )
    prog = bridge.compile(kb)
    prog.neural["net"] = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Softmax(dim=1))
    opt = torch.optim.Adam(prog.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(1)
    eye = torch.eye(3)
    for _ in range(300):
        da, db = torch.randint(0, 3, (32,), generator=g), torch.randint(0, 3, (32,), generator=g)
        xa = eye[da] + 0.1 * torch.randn(32, 3, generator=g)
        xb = eye[db] + 0.1 * torch.randn(32, 3, generator=g)
        loss = prog.query("add(a, b, Z)", {"a": xa, "b": xb}).nll("Z", da + db, range(5))
        opt.zero_grad()
        loss.backward()
        opt.step()
    # Only sums were labelled, yet each digit is now recognised.
    accuracy = (prog.neural["net"](eye).argmax(dim=1) == torch.arange(3)).float().mean()
    assert float(accuracy) == 1.0


def test_explanations_show_the_networks_contribution() -> None:
    kb = ns.parse("nn(net, [X], D, [0, 1]) :: digit(X, D).\nodd(X) :- digit(X, 1).\n")
    prog = bridge.compile(kb)

    class Table(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    prog.neural["net"] = Table()
    x = torch.tensor([[0.3, 0.7], [0.9, 0.1]])
    (answer,) = prog.explain("odd(a)", {"a": x}, 1)
    assert answer.value == pytest.approx(0.1)
    proof = answer.explain()
    assert proof.premises[0].fact == "digit(a, 1)" and proof.premises[0].weight == pytest.approx(
        0.1
    )


def test_semantic_loss_of_constraints() -> None:
    kb = ns.parse("0.3 :: a. 0.4 :: b. :- a, b.")
    prog = bridge.compile(kb)
    assert float(prog.constraint_violation()[0]) == pytest.approx(0.12)
    assert float(prog.semantic_loss()) == pytest.approx(-torch.log(torch.tensor(0.88)).item())


def test_bad_use_is_explained() -> None:
    kb = ns.parse("nn(net, [X], D, [0, 1]) :: digit(X, D).\n")
    prog = bridge.compile(kb)
    with pytest.raises(ns.ConfigurationError, match="no network registered as 'net'"):
        prog.query("digit(a, D)", {"a": torch.zeros(2, 2)})
    prog.neural["net"] = torch.nn.Identity()
    with pytest.raises(ns.ConfigurationError, match="end it with a softmax"):
        prog.query("digit(a, D)", {"a": torch.ones(2, 2)})
    with pytest.raises(ns.ConfigurationError, match="lowercase"):
        prog.query("digit(a, D)", {"A": torch.ones(2, 2)})
    with pytest.raises(NotImplementedError, match=r"bridge\.compile supports prob, fuzzy-godel"):
        bridge.compile(kb, semantics="top-k")  # type: ignore[arg-type]


def test_a_confident_network_keeps_its_gradient_in_float32() -> None:
    kb = ns.parse(
        "nn(net, [X], D, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) :: digit(X, D).\n"
        "add(X, Y, Z) :- digit(X, A), digit(Y, B), Z is A + B.\n"
    )
    prog = bridge.compile(kb)  # float32
    prog.neural["net"] = torch.nn.Softmax(dim=1)
    logits_a = torch.zeros(1, 10)
    logits_a[0, 0] = 20.0  # sure it is a 0: P(2) = e^-20 / (1 + 9 e^-20) ~ 2.1e-9
    logits_a.requires_grad_(True)
    logits_b = torch.full((1, 10), -30.0)
    logits_b[0, 3] = 0.0  # a 3
    result = prog.query("add(a, b, Z)", {"a": logits_a, "b": logits_b})
    p5 = result.select("Z", [5])[0, 0]
    expected = torch.softmax(logits_a.detach().double(), dim=1)[0, 2]
    assert float(p5.detach()) == pytest.approx(float(expected), rel=1e-3)
    (grad,) = torch.autograd.grad(torch.log(p5), logits_a)
    assert float(grad[0, 2]) == pytest.approx(1.0, abs=1e-3)  # d log softmax_2 / d logit_2


def test_goal_naming_a_missing_input_is_an_error() -> None:
    kb = ns.parse(
        "nn(net, [X], D, [0, 1]) :: digit(X, D).\nsame(X, Y) :- digit(X, D), digit(Y, D).\n"
    )
    prog = bridge.compile(kb)
    prog.neural["net"] = torch.nn.Softmax(dim=1)
    with pytest.raises(ns.ConfigurationError, match="'c' is neither an input nor a constant"):
        prog.query("same(a, c)", {"a": torch.zeros(2, 2), "b": torch.zeros(2, 2)})


def test_changing_the_kb_after_compiling_is_refused() -> None:
    kb = ns.parse("0.5 :: a.")
    prog = bridge.compile(kb)
    kb.add("b :- a.")
    with pytest.raises(ns.ConfigurationError, match=r"changed after bridge\.compile"):
        prog.query("a")


def test_explained_values_respect_mutually_exclusive_outcomes() -> None:
    kb = ns.parse(
        "nn(net, [X], D, [0, 1, 2]) :: digit(X, D).\n"
        "add(X, Y, Z) :- digit(X, A), digit(Y, B), Z is A + B.\n"
        "nn(word_net, [W], D, [0, 1, 2]) :: word(W, D).\n"
        "same(X, W) :- digit(X, D), word(W, D).\n"
    )
    prog = bridge.compile(kb)
    prog.neural["net"] = torch.nn.Identity()  # inputs are the distributions themselves

    class Wide(torch.nn.Module):  # takes a differently shaped input
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, :3]

    prog.neural["word_net"] = Wide()
    half = torch.tensor([[0.0, 0.5, 0.5]])
    answers = {a.fact: a.value for a in prog.explain("add(a, b, Z)", {"a": half, "b": half}, 0)}
    # a, b in {1, 2}: P(Z=3) = P(1,2) + P(2,1) = 0.5 exactly (independent facts give 0.4375)
    assert answers["add(a, b, 3)"] == pytest.approx(0.5)
    w = torch.tensor([[0.2, 0.3, 0.5, 9.0, 9.0]])
    (same,) = prog.explain("same(a, w)", {"a": half, "w": w}, 0)
    assert same.value == pytest.approx(0.5 * 0.3 + 0.5 * 0.5)


def _nonrecursive_program(seed: int) -> str:
    rng = random.Random(seed)
    consts = ["a", "b", "c"]
    w = lambda: rng.choice(["", "0.3 :: ", "0.7 :: ", "0.9 :: "])  # noqa: E731
    lines = [
        f"{w()}e({rng.choice(consts)}, {rng.choice(consts)})." for _ in range(rng.randint(2, 6))
    ]
    lines += [f"{w()}s({c})." for c in consts[: rng.randint(1, 3)]]
    lines += [
        "two(X, Z) :- e(X, Y), e(Y, Z).",
        f"{rng.choice(['', '0.6 :: '])}either(X) :- s(X).",
        "either(X) :- e(X, _).",
        "lone(X) :- s(X), not e(X, _).",
        "both(X) :- either(X), not lone(X).",
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("semantics", ["fuzzy-godel", "fuzzy-product", "fuzzy-lukasiewicz", "cf"])
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_compiled_fuzzy_and_cf_equal_the_engine(semantics: str, seed: int) -> None:
    kb = ns.parse(_nonrecursive_program(seed))
    prog = bridge.compile(kb, semantics=semantics).double()  # type: ignore[arg-type]
    compared = 0
    for goal in ("two(X, Y)", "either(X)", "lone(X)", "both(X)"):
        symbolic = {a.fact: a.value for a in ns.query(kb, goal, semantics=semantics)}  # type: ignore[arg-type]
        result = prog.query(goal)
        got = {a: float(result.values[0, i].detach()) for i, a in enumerate(result.answers)}
        for fact, value in symbolic.items():
            assert got.get(fact, 0.0) == pytest.approx(value, abs=1e-12)
            compared += 1
        assert all(symbolic.get(f, 0.0) == pytest.approx(v, abs=1e-12) for f, v in got.items())
    assert compared >= 1


def test_fuzzy_gradients_through_neural_outcomes() -> None:
    kb = ns.parse(
        "nn(net, [X], D, [0, 1, 2]) :: digit(X, D).\n"
        "add(X, Y, Z) :- digit(X, A), digit(Y, B), Z is A + B.\n"
    )
    prog = bridge.compile(kb, semantics="fuzzy-product").double()
    prog.neural["net"] = torch.nn.Softmax(dim=1)

    def f(xa: torch.Tensor, xb: torch.Tensor) -> torch.Tensor:
        return prog.query("add(a, b, Z)", {"a": xa, "b": xb}).values

    xa = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    xb = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (xa, xb))
    # product t-norm, probabilistic sum over the proofs of Z = 1: (a0 b1) (+) (a1 b0)
    pa, pb = torch.softmax(xa.detach(), 1), torch.softmax(xb.detach(), 1)
    x, y = pa[:, 0] * pb[:, 1], pa[:, 1] * pb[:, 0]
    got = prog.query("add(a, b, Z)", {"a": xa, "b": xb}).select("Z", [1])[:, 0].detach()
    assert torch.allclose(got, x + y - x * y)


def test_recursion_under_compiled_fuzzy() -> None:
    kb = ns.parse("0.5 :: e(a, b). e(b, a). p(X, Y) :- e(X, Y). p(X, Z) :- p(X, Y), e(Y, Z).")
    # fuzzy-product: the cycle a -> b -> a reinforces the values; the engine's fixpoint is
    # the oracle
    got = bridge.compile(kb, semantics="fuzzy-product").double().query("p(a, X)")
    model = ns.infer(kb, semantics="fuzzy-product")
    for i, answer in enumerate(got.answers):
        assert float(got.values[0, i]) == pytest.approx(model.value(answer), abs=1e-9)
    # under Gödel's min/max the cycle adds nothing: p(a, b) = 0.5, p(a, a) = min(0.5, 1)
    result = bridge.compile(kb, semantics="fuzzy-godel").query("p(a, X)")
    assert result.answers == ["p(a, a)", "p(a, b)"]
    torch.testing.assert_close(result.values, torch.tensor([[0.5, 0.5]]))


def test_satisfaction_of_rules_ltn_style() -> None:
    # One rule, one grounding: mammal(rex) :- has_hair(rex), with has_hair 0.8 and a
    # learnable fact mammal(rex) (the head's value combines the rule and the fact).
    kb = ns.parse("0.8 :: has_hair(rex). t(0.1) :: mammal(rex). mammal(X) :- has_hair(X).")
    prog = bridge.compile(kb, semantics="fuzzy-product").double()
    sat = prog.satisfaction()
    b = 0.8
    h = 1 - (1 - 0.8) * (1 - 0.1)  # probabilistic sum of the rule's 0.8 and the fact's 0.1
    implication = 1 - b + b * h
    assert float(sat.detach()[0]) == pytest.approx(implication, abs=1e-9)  # one rule, one grounding
    # Training the learnable fact up raises the satisfaction towards 1.
    opt = torch.optim.Adam(prog.parameters(), lr=0.5)
    for _ in range(100):
        loss = 1 - prog.satisfaction().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(prog.satisfaction().detach()[0]) > implication + 0.05
    with pytest.raises(NotImplementedError, match="fuzzy-logic measure"):
        bridge.compile(kb).satisfaction()


class _PairNet(nn.Module):
    """Two inputs → three outcomes, by a closed form the test can recompute."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.softmax(torch.cat([a, b], -1)[:, :3], -1)


def test_a_neural_predicate_with_two_inputs() -> None:
    kb = ns.parse(
        "nn(pair_net, [A, B], R, [lt, eq, gt]) :: compare(A, B, R).\n"
        "nn(dig, [X], D, [0, 1]) :: digit(X, D).\n"
        "bigger(A, B) :- compare(A, B, gt).\n"
        "both(A, B) :- bigger(A, B), digit(A, 1).\n"
        "either(A, B) :- compare(A, B, lt).\n"
        "either(A, B) :- compare(A, B, eq).\n"
    )
    prog = bridge.compile(kb)
    prog.neural["pair_net"] = _PairNet()
    prog.neural["dig"] = nn.Sequential(nn.Linear(2, 2), nn.Softmax(-1))
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 2, generator=g), torch.randn(4, 2, generator=g)
    inputs = {"a": a, "b": b}
    pair_ab = torch.softmax(torch.cat([a, b], -1)[:, :3], -1)
    pair_ba = torch.softmax(torch.cat([b, a], -1)[:, :3], -1)
    digit_a = prog.neural["dig"](a)
    r = prog.query("bigger(X, Y)", inputs)
    assert r.answers == ["bigger(a, a)", "bigger(a, b)", "bigger(b, a)", "bigger(b, b)"]
    assert torch.allclose(r.values[:, r.answers.index("bigger(a, b)")], pair_ab[:, 2])
    assert torch.allclose(r.values[:, r.answers.index("bigger(b, a)")], pair_ba[:, 2])
    # Independent networks multiply; one network's outcomes exclude one another (add).
    both = prog.query("both(a, b)", inputs).values[:, 0]
    assert torch.allclose(both, pair_ab[:, 2] * digit_a[:, 1])
    either = prog.query("either(a, b)", inputs).values[:, 0]
    assert torch.allclose(either, pair_ab[:, 0] + pair_ab[:, 1])
    answers = prog.explain("both(a, b)", inputs, 1)
    assert answers[0].value == pytest.approx(float(both[1].detach()))
    assert "compare(a, b, gt)" in str(answers[0].explain())


def test_neural_inputs_must_be_distinct_variables() -> None:
    kb = ns.parse("nn(n, [X, X], D, [0, 1]) :: p(X, D).")
    with pytest.raises(ns.ConfigurationError, match="distinct variables"):
        bridge.compile(kb)


def test_constraints_sharing_a_fact_are_combined_exactly() -> None:
    # P(a∧b ∨ a∧c) = P(a) P(b ∨ c) = 0.5 × 0.75, not 1 - (1 - 0.25)² as if independent.
    kb = ns.parse("0.5 :: a. 0.5 :: b. 0.5 :: c.\n:- a, b.\n:- a, c.")
    prog = bridge.compile(kb).double()
    assert float(prog.constraint_violation()[0]) == pytest.approx(0.375, abs=1e-12)


def test_constraints_that_cannot_fire_have_no_violation() -> None:
    kb = ns.parse("0.5 :: a.\nb :- a.\n:- b, c.\nc :- a, d.\nd :- b, d.")
    prog = bridge.compile(kb).double()
    assert float(prog.constraint_violation()[0]) == 0.0


def test_relaxed_boolean_agrees_with_the_engine_and_relaxes_networks() -> None:
    text = (ROOT / "rules" / "animals.rules").read_text()
    kb = ns.parse(text)
    symbolic = {a.fact for a in ns.query(kb, "species(A, S)", semantics="boolean")}
    compiled = bridge.compile(kb, semantics="boolean").query("species(A, S)")
    assert symbolic and set(compiled.answers) == symbolic
    assert bool((compiled.values == 1.0).all())
    kb2 = ns.parse(
        "nn(dig, [X], D, [0, 1]) :: digit(X, D).\n0.3 :: raining.\n"
        "odd(X) :- digit(X, 1), raining.\nodd(X) :- digit(X, 1), cold.\ncold.\n"
        "either(X) :- digit(X, 0).\neither(X) :- digit(X, 1).\n"
    )
    prog = bridge.compile(kb2, semantics="boolean")
    prog.neural["dig"] = nn.Sequential(nn.Linear(2, 2), nn.Softmax(-1))
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(1))
    p1 = prog.neural["dig"](x)[:, 1]
    p0 = 1 - p1
    # The weight 0.3 does not count: min(p1, 1), max over the two proofs, is p1.
    assert torch.allclose(prog.query("odd(x)", {"x": x}).values[:, 0], p1)
    assert torch.allclose(prog.query("either(x)", {"x": x}).values[:, 0], torch.maximum(p0, p1))
