"""Values under every semantics, against hand-computed expectations."""

from __future__ import annotations

import pytest

import neurosym as ns

# Two proofs of `wet` share the uncertain fact `rain` (p = 0.6):
#   wet :- rain, 0.5 :: sprinkler_on.   wet :- rain, cloudy (0.8).
# Exact:   P(wet) = P(rain) * P(sprinkler or cloudy) = 0.6 * (1 - 0.5*0.2) = 0.54
# Noisy-or of the two proofs as if independent: 1 - (1 - 0.3)(1 - 0.48) = 0.636
SHARED = """
0.6 :: rain.
0.5 :: sprinkler.
0.8 :: cloudy.
wet :- rain, sprinkler.
wet :- rain, cloudy.
"""


@pytest.mark.parametrize(
    ("semantics", "expected"),
    [
        ("prob", 0.6 * (1 - 0.5 * 0.2)),  # exact: the shared fact counted once
        ("fuzzy-product", 1 - (1 - 0.6 * 0.5) * (1 - 0.6 * 0.8)),  # noisy-or of the proofs
        ("fuzzy-godel", max(min(0.6, 0.5), min(0.6, 0.8))),
        ("fuzzy-lukasiewicz", min(1.0, max(0.0, 0.6 + 0.5 - 1) + max(0.0, 0.6 + 0.8 - 1))),
        ("cf", 0.5 + 0.6 - 0.5 * 0.6),  # min per proof, then a + b - ab
        ("boolean", True),
    ],
)
def test_two_proofs_sharing_an_uncertain_fact(semantics: str, expected: float) -> None:
    value = ns.infer(ns.parse(SHARED), semantics=semantics).value("wet")  # type: ignore[arg-type]
    assert value == pytest.approx(expected, abs=1e-12)


def test_exact_and_noisy_or_really_differ() -> None:
    kb = ns.parse(SHARED)
    exact = ns.infer(kb, semantics="prob").value("wet")
    noisy = ns.infer(kb, semantics="fuzzy-product").value("wet")
    assert exact == pytest.approx(0.54) and noisy == pytest.approx(0.636)


def test_rule_weights_attenuate() -> None:
    kb = ns.parse("0.9 :: a. 0.5 :: b. rule r: 0.8 :: c :- a, b.")
    assert ns.infer(kb, semantics="cf").value("c") == pytest.approx(0.8 * min(0.9, 0.5))
    assert ns.infer(kb, semantics="prob").value("c") == pytest.approx(0.8 * 0.9 * 0.5)
    assert ns.infer(kb, semantics="fuzzy-godel").value("c") == pytest.approx(min(0.8, 0.9, 0.5))
    assert ns.infer(kb, semantics="fuzzy-lukasiewicz").value("c") == pytest.approx(
        max(0.0, 0.8 + max(0.0, 0.9 + 0.5 - 1) - 1)
    )


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (0.6, 0.5, 0.6 + 0.5 - 0.3),  # both positive: a + b - ab
        (-0.6, -0.5, -0.6 - 0.5 + 0.3),  # both negative: a + b + ab, with ab = +0.3
        (0.6, -0.4, (0.6 - 0.4) / (1 - 0.4)),  # mixed: (a + b) / (1 - min(|a|, |b|))
    ],
    ids=["positive", "negative", "mixed"],
)
def test_emycin_combination(a: float, b: float, expected: float) -> None:
    kb = ns.parse(f"e1. e2.\nrule r1: {a} :: h :- e1.\nrule r2: {b} :: h :- e2.\n")
    assert ns.infer(kb, semantics="cf").value("h") == pytest.approx(expected)


def test_cf_threshold_as_in_mycin() -> None:
    from neurosym.engine import CertaintyFactor

    kb = ns.parse("0.15 :: weak. strong :- weak.")
    assert ns.infer(kb, semantics="cf").value("strong") == pytest.approx(0.15)
    assert ns.infer(kb, semantics=CertaintyFactor(threshold=0.2)).value("strong") == 0.0


@pytest.mark.parametrize(
    ("semantics", "expected"),
    [("boolean", False), ("cf", 0.1), ("prob", 0.1), ("fuzzy-godel", 0.1)],
)
def test_negation_under_each_semantics(semantics: str, expected: object) -> None:
    kb = ns.parse("bird(pingu). 0.9 :: penguin(pingu). flies(X) :- bird(X), not penguin(X).")
    got = ns.infer(kb, semantics=semantics).value("flies(pingu)")  # type: ignore[arg-type]
    assert got == pytest.approx(expected) if not isinstance(expected, bool) else got is expected


def test_probability_of_negation_is_exact_with_correlation() -> None:
    # q and not q share r: P(q and not q) must be 0, not P(q) * (1 - P(q)).
    kb = ns.parse("0.5 :: r. q :- r. both :- q, not q2. q2 :- r.")
    assert ns.infer(kb, semantics="prob").value("both") == pytest.approx(0.0)


def test_probabilistic_transitive_closure_is_exact() -> None:
    # Two routes a->b->d and a->c->d, each edge 0.5: P = 1 - (1 - 0.25)^2 = 0.4375.
    kb = ns.parse(
        "0.5 :: e(a, b). 0.5 :: e(b, d). 0.5 :: e(a, c). 0.5 :: e(c, d).\n"
        "p(X, Y) :- e(X, Y).\np(X, Z) :- e(X, Y), p(Y, Z).\n"
    )
    assert ns.infer(kb, semantics="prob").value("p(a, d)") == pytest.approx(0.4375)


def test_recursion_under_godel_is_the_widest_path() -> None:
    kb = ns.parse(
        "0.9 :: e(a, b). 0.4 :: e(b, c). 0.7 :: e(a, c). 0.8 :: e(c, a).\n"
        "p(X, Y) :- e(X, Y).\np(X, Z) :- p(X, Y), e(Y, Z).\n"
    )
    m = ns.infer(kb, semantics="fuzzy-godel")
    assert m.value("p(a, c)") == pytest.approx(0.7)  # max(min(.9,.4), .7)
    assert m.value("p(b, a)") == pytest.approx(0.4)  # b->c->a: min(.4, .8)


def test_weights_outside_unit_interval_are_refused_for_probability() -> None:
    kb = ns.parse("-0.5 :: a.")
    with pytest.raises(ns.EngineError, match=r"outside \[0, 1\].*semantics='cf'"):
        ns.infer(kb, semantics="prob")


def test_unknown_semantics() -> None:
    with pytest.raises(ns.ConfigurationError, match="unknown semantics 'probability'"):
        ns.infer(ns.parse("a."), semantics="probability")  # type: ignore[arg-type]
