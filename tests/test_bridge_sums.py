"""Recognised sums of neural digits (convolutions, carries) against the grounded circuit,
brute force and closed forms; gradients; what is not recognised falls back unchanged."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import neurosym as ns
from neurosym import bridge
from neurosym.bridge._structure import SumPlan, recognise
from neurosym.bridge._sums import SumEvaluator, map_assignment


def _addition(n: int, base: int = 10) -> str:
    digits = ", ".join(str(d) for d in range(base))
    a = [f"A{i}" for i in range(n)]
    b = [f"B{i}" for i in range(n)]
    body = [f"digit({p}, X{i})" for i, p in enumerate(a + b)]
    terms = [f"{base ** (n - 1 - i % n)} * X{i}" for i in range(2 * n)]
    return (
        f"nn(net, [I], D, [{digits}]) :: digit(I, D).\n"
        f"add({', '.join(a + b)}, Z) :- {', '.join(body)}, Z is {' + '.join(terms)}.\n"
    )


def _pair(text: str) -> tuple[bridge.Program, bridge.Program]:
    """The same program with structure recognition and without (the circuit), float64,
    with a network that returns its input (the inputs are the distributions)."""
    kb = ns.parse(text)
    progs = bridge.compile(kb).double(), bridge.compile(kb, structure=False).double()
    for p in progs:
        p.neural["net"] = torch.nn.Identity()
    return progs


def _random_rows(g: torch.Generator, batch: int, size: int) -> torch.Tensor:
    # Strictly positive: the circuit clamps its tail sums at 1e-12, so there an impossible
    # outcome reads about 1e-12 (the recognised plans give it 0; brute force checks those).
    p = torch.rand(batch, size, generator=g, dtype=torch.float64) + 1e-3
    return p / p.sum(dim=1, keepdim=True)


@pytest.mark.parametrize("n", [1, 2], ids=["N=1", "N=2"])
def test_convolution_equals_the_circuit_on_digit_addition(n: int) -> None:
    structured, circuit = _pair(_addition(n))
    names = [f"a{i}" for i in range(n)] + [f"b{i}" for i in range(n)]
    goal = f"add({', '.join(names)}, Z)"
    g = torch.Generator().manual_seed(n)
    inputs = {k: _random_rows(g, 3, 10) for k in names}
    got, want = structured.query(goal, inputs), circuit.query(goal, inputs)
    assert (got.plan, want.plan) == ("convolution", "circuit")
    assert got.answers == want.answers and got.bindings == want.bindings
    assert torch.allclose(got.values, want.values, atol=1e-12, rtol=0)
    # A bound sum: one answer, the same value.
    bound = f"add({', '.join(names)}, 7)"
    got, want = structured.query(bound, inputs), circuit.query(bound, inputs)
    assert got.answers == want.answers == [bound]
    assert torch.allclose(got.values, want.values, atol=1e-12, rtol=0)


@settings(max_examples=20, deadline=None)
@given(
    coefs=st.lists(st.integers(-3, 4), min_size=2, max_size=3),
    offset=st.integers(-5, 5),
    domain=st.lists(st.integers(-2, 4), min_size=2, max_size=4, unique=True),
    seed=st.integers(0, 1000),
)
def test_convolution_equals_the_circuit_on_generated_linear_sums(
    coefs: list[int], offset: int, domain: list[int], seed: int
) -> None:
    k = len(coefs)
    expr = " + ".join(f"{c} * X{i}" for i, c in enumerate(coefs)) + f" + {offset}"
    heads = ", ".join(f"I{i}" for i in range(k))
    body = ", ".join(f"d(I{i}, X{i})" for i in range(k))
    text = (
        f"nn(net, [I], D, [{', '.join(map(str, domain))}]) :: d(I, D).\n"
        f"s({heads}, Z) :- {body}, Z is {expr}.\n"
    )
    structured, circuit = _pair(text)
    goal = f"s({', '.join(f'x{i}' for i in range(k))}, Z)"
    g = torch.Generator().manual_seed(seed)
    inputs = {f"x{i}": _random_rows(g, 2, len(domain)) for i in range(k)}
    got, want = structured.query(goal, inputs), circuit.query(goal, inputs)
    assert got.plan == "convolution"
    assert got.answers == want.answers
    assert torch.allclose(got.values, want.values, atol=1e-12, rtol=0)


def _plan(text: str, goal: str, inputs: list[str]) -> SumPlan:
    kb = ns.parse(text)
    found = recognise(goal, inputs, kb.rules, kb.neural, {}, max_support=0)
    assert isinstance(found, SumPlan), found
    return found


def _brute(plan: SumPlan, rows: list[torch.Tensor]) -> dict[int, torch.Tensor]:
    """P(Z = z) for every z, by enumerating every combination of outcomes."""
    out: dict[int, torch.Tensor] = {}
    for combo in itertools.product(*(range(len(t.values)) for t in plan.terms)):
        z = plan.offset + sum(t.coef * t.values[j] for t, j in zip(plan.terms, combo))
        p = torch.ones(rows[0].shape[0], dtype=torch.float64)
        for r, j in zip(rows, combo):
            p = p * r[:, j]
        out[z] = out.get(z, 0) + p
    return out


CARRY_CASES = {
    # two numbers of three base-3 digits
    "base3-two-numbers": (
        "nn(net, [I], D, [0, 1, 2]) :: d(I, D).\n"
        "s(A0, A1, A2, B0, B1, B2, Z) :- d(A0, X0), d(A1, X1), d(A2, X2), d(B0, Y0), "
        "d(B1, Y1), d(B2, Y2), Z is 9 * X0 + 3 * X1 + X2 + 9 * Y0 + 3 * Y1 + Y2.\n",
        "s(a0, a1, a2, b0, b1, b2, Z)",
    ),
    # three numbers (carries up to 2), a sparse domain, an empty position, an offset
    "base3-three-numbers-sparse": (
        "nn(net, [I], D, [2, 0]) :: d(I, D).\n"
        "s(A, B, C, E, F, Z) :- d(A, X), d(B, Y), d(C, W), d(E, U), d(F, V), "
        "Z is 9 * X + 9 * Y + 9 * W + U + V + 4.\n",
        "s(a0, a1, a2, b0, b1, Z)",
    ),
}


@pytest.mark.parametrize("case", sorted(CARRY_CASES))
def test_carries_equal_brute_force(case: str) -> None:
    text, goal = CARRY_CASES[case]
    names = goal[goal.index("(") + 1 : goal.rindex(",")].replace(" ", "").split(",")
    plan = _plan(text, goal, names)
    assert plan.kind == "carry" and plan.base == 3
    g = torch.Generator().manual_seed(5)
    rows = [_random_rows(g, 4, len(t.values)) for t in plan.terms]
    rows[0][1] = torch.tensor([1.0] + [0.0] * (len(plan.terms[0].values) - 1))  # a certain digit
    exact = _brute(plan, rows)
    ev = SumEvaluator(plan)
    for z in range(plan.low - 2, plan.high + 3):
        got = ev.log_prob(rows, torch.full((4,), z, dtype=torch.long)).exp()
        want = exact.get(z, torch.zeros(4, dtype=torch.float64))
        assert torch.allclose(got, want, atol=1e-14, rtol=1e-12), z
    # The convolution plan on the same sum, every value at once (zeros exactly 0).
    from dataclasses import replace

    conv = replace(plan, kind="convolution", support=tuple(sorted(exact)))
    dist = SumEvaluator(conv).distribution(rows)
    for z in range(plan.low, plan.high + 1):
        want = exact.get(z, torch.zeros(4, dtype=torch.float64))
        assert torch.allclose(dist[:, z - plan.low], want, atol=1e-15, rtol=1e-12), z
    # The most probable combination consistent with z, by brute force.
    one = [r[2].tolist() for r in rows]
    for z in sorted(exact)[:: max(1, len(exact) // 6)]:
        best = max(
            (c for c in itertools.product(*(range(len(t.values)) for t in plan.terms))
             if plan.offset + sum(t.coef * t.values[j] for t, j in zip(plan.terms, c)) == z),
            key=lambda c: math.prod(one[i][j] for i, j in enumerate(c)),
        )  # fmt: skip
        for kind in ("carry", "convolution"):
            cols = map_assignment(replace(plan, kind=kind, support=tuple(exact)), one, z)
            assert cols is not None
            assert math.prod(one[i][j] for i, j in enumerate(cols)) == pytest.approx(
                math.prod(one[i][j] for i, j in enumerate(best)), rel=1e-12
            )
    assert map_assignment(plan, one, plan.high + 1) is None


BIG_BASE = (  # place values in base 200: Z's range (80,000 values) exceeds the convolution's
    "nn(net, [I], D, [0, 7, 199]) :: d(I, D).\n"
    "s(A0, A1, B0, B1, Z) :- d(A0, X0), d(A1, X1), d(B0, Y0), d(B1, Y1), "
    "Z is 200 * X0 + X1 + 200 * Y0 + Y1.\n"
)


def test_carries_equal_the_circuit_through_the_program() -> None:
    structured, circuit = _pair(BIG_BASE)
    goal = "s(a0, a1, b0, b1, Z)"
    assert structured.plan(goal, ["a0", "a1", "b0", "b1"]).kind == "carry"
    g = torch.Generator().manual_seed(2)
    inputs = {k: _random_rows(g, 3, 3) for k in ("a0", "a1", "b0", "b1")}
    want = circuit.query(goal, inputs)
    got = structured.query(goal, inputs)
    assert got.plan == "carry"
    sums = torch.tensor([b["Z"] for b in want.bindings], dtype=torch.long)
    probs = torch.stack([got.log_prob("Z", torch.full((3,), int(z))) for z in sums], 1).exp()
    assert torch.allclose(probs, want.values, atol=1e-14, rtol=1e-12)
    assert torch.allclose(got.select("Z", sums[:5].tolist()), want.values[:, :5], atol=1e-14)
    with pytest.raises(ns.LimitError, match="does not list its answers"):
        _ = got.values
    assert float(got.log_prob("Z", torch.tensor([3, 3, 3])).max()) == -math.inf  # unreachable
    # The loss: by values, or by indices into a domain; one value per batch element.
    z3 = sums[[0, 5, 9]]
    nll = -torch.log(want.values[torch.arange(3), [0, 5, 9]]).mean()
    assert float(got.nll("Z", z3)) == pytest.approx(float(nll), rel=1e-12)
    domain = sums.tolist()
    assert float(got.nll("Z", torch.tensor([0, 5, 9]), domain)) == pytest.approx(float(nll))
    with pytest.raises(ns.ConfigurationError, match="one value per batch element"):
        got.log_prob("Z", z3[:2])
    with pytest.raises(ns.ConfigurationError, match="not 'Y'"):
        got.select("Y", [0])
    # A bound sum is one answer, like the circuit's.
    z = int(sums[len(sums) // 2])
    bound, ref = (
        structured.query(f"s(a0, a1, b0, b1, {z})", inputs),
        circuit.query(f"s(a0, a1, b0, b1, {z})", inputs),
    )
    assert bound.answers == ref.answers and torch.allclose(bound.values, ref.values, atol=1e-14)
    assert structured.query("s(a0, a1, b0, b1, 3)", inputs).answers == []


def test_gradcheck_through_carries_and_convolutions() -> None:
    structured, _ = _pair(BIG_BASE)
    goal = "s(a0, a1, b0, b1, Z)"
    z = torch.tensor([200 * 206 + 14, 199 * 2], dtype=torch.long)

    def carries(*rows: torch.Tensor) -> torch.Tensor:
        inputs = {k: torch.softmax(r, dim=1) for k, r in zip(("a0", "a1", "b0", "b1"), rows)}
        return structured.query(goal, inputs).log_prob("Z", z)

    xs = tuple(torch.randn(2, 3, dtype=torch.float64, requires_grad=True) for _ in range(4))
    assert torch.autograd.gradcheck(carries, xs)
    small, _ = _pair(_addition(2, base=3))

    def convolution(*rows: torch.Tensor) -> torch.Tensor:
        inputs = {k: torch.softmax(r, dim=1) for k, r in zip(("a0", "a1", "b0", "b1"), rows)}
        result = small.query("add(a0, a1, b0, b1, Z)", inputs)
        assert result.plan == "convolution"
        return result.values

    assert torch.autograd.gradcheck(convolution, xs)


def test_fifteen_digits_in_float32_match_the_closed_form() -> None:
    # Uniform digits: P(A + B = z) = (number of pairs a + b = z) / 10^30, far below 1e-12.
    prog = bridge.compile(ns.parse(_addition(15)))  # float32
    prog.neural["net"] = torch.nn.Identity()
    names = [f"a{i}" for i in range(15)] + [f"b{i}" for i in range(15)]
    inputs = {k: torch.full((4, 10), 0.1) for k in names}
    result = prog.query(f"add({', '.join(names)}, Z)", inputs)
    m = 10**15
    z = torch.tensor([0, m - 1, 123456789012345, 2 * m - 2], dtype=torch.long)
    pairs = [1, m, 123456789012346, 1]
    want = torch.tensor([math.log(c) - 30 * math.log(10) for c in pairs])
    assert torch.allclose(result.log_prob("Z", z), want, rtol=1e-5)
    assert float(result.nll("Z", z)) == pytest.approx(-float(want.mean()), rel=1e-5)
    with pytest.raises(ns.ConfigurationError, match="integer tensor"):
        result.nll("Z", z.double())


FALLBACKS = {
    "same input twice": ("add(a, a, Z)", "same input twice"),
    "weighted rule": ("wadd(a, b, Z)", "weighted"),
    "product of digits": ("mul(a, b, Z)", "not an integer linear"),
    "extra premise": ("big(a, b, Z)", "not neural atoms and one"),
}


@pytest.mark.parametrize("case", sorted(FALLBACKS))
def test_what_is_not_recognised_is_grounded_as_before(case: str) -> None:
    text = (
        "nn(net, [I], D, [0, 1, 2]) :: digit(I, D).\n"
        "add(A, B, Z) :- digit(A, X), digit(B, Y), Z is X + Y.\n"
        "0.5 :: wadd(A, B, Z) :- digit(A, X), digit(B, Y), Z is X + Y.\n"
        "mul(A, B, Z) :- digit(A, X), digit(B, Y), Z is X * Y.\n"
        "big(A, B, Z) :- digit(A, X), digit(B, Y), X > 0, Z is X + Y.\n"
    )
    structured, circuit = _pair(text)
    goal, reason = FALLBACKS[case]
    plan = structured.plan(goal, ["a", "b"])
    assert plan.kind == "circuit" and reason in plan.detail
    g = torch.Generator().manual_seed(3)
    inputs = {"a": _random_rows(g, 2, 3), "b": _random_rows(g, 2, 3)}
    got, want = structured.query(goal, inputs), circuit.query(goal, inputs)
    assert got.plan == "circuit" and got.answers == want.answers
    assert torch.equal(got.values, want.values)


def test_explaining_a_long_sum_shows_the_most_probable_digits() -> None:
    prog = bridge.compile(ns.parse(_addition(4))).double()
    prog.neural["net"] = torch.nn.Identity()
    names = [f"a{i}" for i in range(4)] + [f"b{i}" for i in range(4)]
    rows = {k: torch.full((1, 10), 0.02, dtype=torch.float64) for k in names}
    for k, d in zip(names, [1, 2, 3, 4, 5, 6, 7, 8]):  # 1234 + 5678, each digit at 0.82
        rows[k][0, d] = 0.82
    (answer,) = prog.explain(f"add({', '.join(names)}, Z)", rows, 0)
    assert answer.fact == f"add({', '.join(names)}, 6912)"
    number = [torch.ones(1, dtype=torch.float64)] * 2  # A's and B's distributions, by hand
    for i, k in enumerate(names):
        number[i // 4] = (number[i // 4][:, None] * rows[k][0][None, :]).reshape(-1)
    exact = sum(float(number[0][a] * number[1][6912 - a]) for a in range(6913))
    assert answer.value == pytest.approx(exact, rel=1e-10)
    premises = [p.fact for p in answer.explain().premises]
    assert premises == [f"digit({k}, {d})" for k, d in zip(names, [1, 2, 3, 4, 5, 6, 7, 8])]
    # Bound to a sum the most probable digits do not make: the best digits that do.
    (answer,) = prog.explain(f"add({', '.join(names)}, 6913)", rows, 0)
    facts = [p.fact for p in answer.explain().premises]
    assert sum(1 for f, k, d in zip(facts, names, [1, 2, 3, 4, 5, 6, 7, 8])
               if f != f"digit({k}, {d})") == 1  # fmt: skip
    assert answer.value == pytest.approx(
        float(prog.query(f"add({', '.join(names)}, 6913)", rows).values[0, 0]), rel=1e-12
    )
