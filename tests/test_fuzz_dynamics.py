"""Fuzzing the dynamics statements a user gives the bridge (``state``, ``param``, ``der``,
``law``, ``nn(...)``): building a :class:`~neurosym.bridge.HybridODE` and evaluating its
field either works or raises a :class:`~neurosym.NeurosymError`, never an error from
sympy or torch deep inside. Rule programs compiled with :func:`neurosym.bridge.compile`
likewise. The regression tests at the end hold the inputs the fuzzing found.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurosym as ns
from neurosym import bridge

FUZZ = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

FUNCTIONS = ["sin", "cos", "exp", "log", "sqrt", "abs", "sign", "tanh", "min", "max",
             "foo", "der", "t"]  # fmt: skip
ATOMS = ["x", "v", "k", "c", "y", "X", "a", "0", "1", "-2", "0.5", "1e300", '"s"', "[x]"]


@st.composite
def dyn_exprs(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(ATOMS))
    kind = draw(st.sampled_from(["op", "op", "call", "nn", "neg", "der"]))
    sub = dyn_exprs(depth - 1)
    if kind == "op":
        op = draw(st.sampled_from(["+", "-", "*", "/", "^"]))
        return f"({draw(sub)} {op} {draw(sub)})"
    if kind == "neg":
        return f"-({draw(sub)})"
    if kind == "der":
        return f"der({draw(st.sampled_from(['x', 'v', 'y', '0']))})"
    if kind == "call":
        args = draw(st.lists(sub, max_size=3))
        return f"{draw(st.sampled_from(FUNCTIONS))}({', '.join(args)})"
    net = draw(st.sampled_from(["f", "g"]))
    inputs = draw(st.lists(st.sampled_from(["x", "v", "k", "y", "1", "a"]), max_size=3))
    if draw(st.booleans()):
        return f"nn({net})"
    return f"nn({net}, [{', '.join(inputs)}])"


@st.composite
def dynamics(draw: st.DrawFn) -> str:
    lines = [draw(st.sampled_from(["state x, v.", "state x.", "state v, x."]))]
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["param k = 1.", "param k = t(0.5).", "param c = 2."])))
    for state in draw(
        st.lists(st.sampled_from(["x", "v", "y"]), min_size=1, max_size=3, unique=True)
    ):
        lines.append(f"der({state}) = {draw(dyn_exprs())}.")
    if draw(st.booleans()):
        lhs, rhs = draw(dyn_exprs(2)), draw(dyn_exprs(1))
        op = draw(st.sampled_from(["<=", ">=", "<", ">"]))
        lines.append(f"law l: {lhs} {op} {rhs}.")
    return "\n".join(lines)


def _field(text: str) -> torch.Tensor | None:
    """Build the model of ``text`` and evaluate its field at two states; None if refused."""
    try:
        kb = ns.parse(text)
    except ns.RuleSyntaxError:
        return None
    model = bridge.HybridODE(kb, seed=0, hidden=(4,))
    y = torch.linspace(0.1, 0.9, 2 * len(model.states), dtype=torch.float64)
    return model(torch.tensor(0.0, dtype=torch.float64), y.reshape(2, len(model.states)))


@FUZZ
@given(dynamics())
def test_dynamics_build_or_raise_neurosym_errors(text: str) -> None:
    try:
        out = _field(text)
    except ns.NeurosymError as err:
        assert str(err).strip()
        return
    except Exception as exc:
        raise AssertionError(f"HybridODE of {text!r} raised {exc!r}") from exc
    if out is not None:
        assert out.shape[0] == 2


PROGRAMS = [
    "0.6 :: rain. 0.5 :: spr. wet :- rain. wet :- spr.",
    "0.7 :: e(a, b). 0.4 :: e(b, c). p(X, Y) :- e(X, Y). p(X, Z) :- e(X, Y), p(Y, Z).",
    "nn(m, [I], O, [0, 1]) :: d(I, O). s(I, J, S) :- d(I, A), d(J, B), S is A + B.",
    "0.9 :: a. b :- a, not c. 0.2 :: c. q(N) :- n(N), a. n(1). 0.5 :: n(2).",
]
GOALS = ["wet", "p(a, X)", "p(X, Y)", "s(i, j, S)", "b", "q(N)", "zz", "d(i, 0)", "wet(", "X"]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.sampled_from(PROGRAMS),
    st.sampled_from(GOALS),
    st.sampled_from(["prob", "cf", "boolean", "fuzzy-godel", "fuzzy-product"]),
)
def test_compiled_programs_answer_or_raise_neurosym_errors(
    text: str, goal: str, semantics: str
) -> None:
    try:
        prog = bridge.compile(ns.parse(text), semantics=semantics)  # type: ignore[arg-type]
        inputs = {"i": torch.randn(1, 3), "j": torch.randn(1, 3)} if "nn(" in text else None
        if inputs is not None:
            prog.neural["m"] = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Softmax(-1))
        prog.query(goal, inputs=inputs)
    except ns.NeurosymError as err:
        assert str(err).strip()


# ------------------------------------------------------------------ regressions found here


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "state x. der(x) = sin(x, x).",
            r"sin\(\.\.\.\) takes exactly one argument, got 2",
            id="two-argument-sin",  # was TypeError from sympy
        ),
        pytest.param(
            "state x. der(x) = exp().",
            r"exp\(\.\.\.\) takes exactly one argument, got 0",
            id="no-argument-exp",
        ),
        pytest.param(
            "state x. der(x) = nn(f, [1]).",
            r"nn\(f, \[\.\.\.\]\) in der\(x\) has only constant inputs",
            id="constant-network-inputs",  # was StopIteration when the field was evaluated
        ),
        pytest.param(
            "state x, x. der(x) = -x.",
            "x: declared more than once as a state or param",
            id="state-twice",  # was a model of two states named x
        ),
        pytest.param(
            "state x. param x = 1. der(x) = -x.",
            "x: declared more than once as a state or param",
            id="param-shadows-state",  # was the state's value silently used
        ),
        pytest.param(
            "state x. der(x) = -x. der(x) = x.",
            r"der\(x\) is defined more than once",
            id="derivative-twice",  # was the last der(x) kept silently
        ),
        pytest.param(
            "state x, v. der(x) = nn(f, [x]). der(v) = nn(f, [x, v]).",
            "network f is used with 1 inputs and with 2 in der\\(v\\)",
            id="one-network-two-arities",  # was a torch shape mismatch on the first call
        ),
    ],
)
def test_dynamics_regressions(text: str, message: str) -> None:
    with pytest.raises(ns.ConfigurationError, match=message):
        _field(text)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"hidden": (0,)}, r"hidden widths must be at least 1, got \(0,\)", id="0"),
        pytest.param({"hidden": (8, -1)}, r"at least 1, got \(8, -1\)", id="negative"),
        pytest.param({"bound_width": float("nan")}, "bound_width must be positive", id="nan"),
    ],
)
def test_hybrid_options_are_checked(options: dict[str, object], message: str) -> None:
    # Was: a torch UserWarning or RuntimeError, or (NaN) silently accepted.
    kb = ns.parse("state x. der(x) = nn(f, [x]).")
    with pytest.raises(ns.ConfigurationError, match=message):
        bridge.HybridODE(kb, **options)  # type: ignore[arg-type]
