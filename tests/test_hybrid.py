"""HybridODE: known terms from rules, learned terms, laws as penalties and as guarantees."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

import neurosym as ns
from neurosym.bridge import HybridODE
from neurosym.bridge._report import intervals
from neurosym.errors import ConfigurationError

F64 = torch.float64
OSC = """
state x, v.
param k = 1.0.
param c = t(0.1).
der(x) = v.
der(v) = -k * x - c * v + nn(force_net, [x, v]).
law dissipative: der(0.5*v^2 + 0.5*k*x^2) <= 0.
law bounded: x >= -10.
law returns: if x > 5 then der(x) <= 0.
"""


class _Const(nn.Module):
    """A 'neural' term with a fixed closed form, so expectations can be computed by hand."""

    def __init__(self, fn: object) -> None:
        super().__init__()
        self.fn = fn
        self.calls: list[Tensor] = []

    def forward(self, z: Tensor) -> Tensor:
        self.calls.append(z.detach().clone())
        return self.fn(z)  # type: ignore[operator,no-any-return]


class _Recorder(nn.Module):
    """Wraps a field and keeps every state the solver evaluates it at."""

    def __init__(self, f: nn.Module) -> None:
        super().__init__()
        self.f = f
        self.seen: list[Tensor] = []

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        self.seen.append(y.detach().clone())
        out: Tensor = self.f(t, y)
        return out


def _y(*rows: list[float]) -> Tensor:
    return torch.tensor(rows, dtype=F64)


def test_known_terms_solve_the_damped_oscillator_in_closed_form() -> None:
    kb = ns.parse("state x, v. param k = 1.0. param c = 0.2. der(x) = v. der(v) = -k*x - c*v.")
    model = HybridODE(kb, residual=False)
    t = torch.linspace(0, 10, 21, dtype=F64)
    sol = model.solve(_y([1.0, 0.0]), t, rtol=1e-10, atol=1e-12)
    # x'' + 0.2 x' + x = 0, x(0) = 1, x'(0) = 0: x = e^{-t/10} (cos wt + sin(wt) / (10 w)).
    w = math.sqrt(1 - 0.01)
    expect = [
        math.exp(-s / 10) * (math.cos(w * s) + math.sin(w * s) / (10 * w)) for s in t.tolist()
    ]
    assert sol.ys[:, 0, 0].tolist() == pytest.approx(expect, abs=1e-8)


def test_neural_terms_get_their_inputs_and_default_nets_start_at_zero() -> None:
    kb = ns.parse(OSC)
    force = _Const(lambda z: z[:, :1] * z[:, 1:])  # f(x, v) = x v
    model = HybridODE(kb, neural={"force_net": force})
    assert model.residual is None  # the file has a learned term: no residual by default
    y = _y([2.0, 3.0], [-1.0, 0.5])
    f = model(torch.zeros(2, 1, dtype=F64), y)
    # der(v) = -1*x - 0.1*v + x*v
    assert f[:, 1].tolist() == pytest.approx([-2 - 0.3 + 6, 1 - 0.05 - 0.5])
    assert f[:, 0].tolist() == [3.0, 0.5]
    assert force.calls[0].tolist() == y.tolist()
    default = HybridODE(kb)
    assert default(torch.zeros(2, 1, dtype=F64), y)[:, 1].tolist() == pytest.approx([-2.3, 0.95])


def test_a_file_without_learned_terms_gets_a_residual() -> None:
    kb = ns.parse("state x. der(x) = -x.")
    assert HybridODE(kb).residual is not None
    assert HybridODE(kb, residual=False).residual is None


def test_a_learnable_param_is_fitted_from_data() -> None:
    kb = ns.parse("state x, v. param k = 1.0. param c = t(0.05). der(x) = v. der(v) = -k*x - c*v.")
    truth = HybridODE(kb, residual=False, params={"c": 0.3})
    t = torch.linspace(0, 6, 31, dtype=F64)
    y0 = _y([1.0, 0.0], [0.0, 1.0])
    with torch.no_grad():
        data = truth.solve(y0, t, method="rk4", dt=0.1).ys
    model = HybridODE(kb, residual=False)
    assert [n for n, p in model.named_parameters()] == ["raw_params.c"]
    opt = torch.optim.LBFGS(
        model.parameters(), lr=0.5, max_iter=50, tolerance_grad=0, tolerance_change=0
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = ((model.solve(y0, t, method="rk4", dt=0.1).ys - data) ** 2).mean()
        loss.backward()
        return loss

    opt.step(closure)  # type: ignore[arg-type]
    assert model.param_table()["c"] == pytest.approx(0.3, abs=1e-5)


def test_chain_rule_margin_of_a_dissipation_law() -> None:
    kb = ns.parse(OSC)
    model = HybridODE(kb, neural={"force_net": _Const(lambda z: 2 * z[:, 1:])})  # f = 2v
    y = _y([1.0, 2.0], [0.5, -1.0], [3.0, 0.0])
    values = model._law_values(y)
    margin, active = model.laws[0].evaluate(values)
    # dE/dt = v (-x - 0.1 v + 2 v) + x v = 1.9 v^2, so the margin 0 - dE/dt = -1.9 v^2.
    assert margin.tolist() == pytest.approx([-1.9 * 4, -1.9 * 1, 0.0])
    assert active.all()
    assert float(model.law_penalty(y)["dissipative"].detach()) == pytest.approx(1.9 * 5 / 3)


def test_hard_dissipation_holds_at_every_solver_evaluation() -> None:
    kb = ns.parse(OSC)
    pump = {"force_net": _Const(lambda z: 2 * z[:, 1:])}  # pumps energy in
    t = torch.linspace(0, 5, 51, dtype=F64)
    y0 = _y([1.0, 0.0], [0.0, 1.0])
    soft = HybridODE(kb, neural=pump)
    report = soft.report(soft.solve(y0, t))
    assert not report["dissipative"].holds
    assert report["dissipative"].fraction_violated > 0.9
    hard = HybridODE(kb, neural=pump, hard=["dissipative"])
    rec = _Recorder(hard)
    ns.ode.solve(rec, y0, t)
    seen = torch.cat(rec.seen)
    f = hard(torch.zeros(len(seen), 1, dtype=F64), seen).detach()
    # der(E) = k x f_x + v f_v must be <= 0 wherever the solver looked.
    assert float((seen[:, 0] * f[:, 0] + seen[:, 1] * f[:, 1]).max()) <= 1e-12
    assert len(seen) > 50
    assert hard.report(hard.solve(y0, t)).holds
    assert "dissipative" not in hard.law_penalty(y0)


def test_hard_state_bound_is_never_crossed_by_any_solver_stage() -> None:
    kb = ns.parse("state x. der(x) = -1. law floor: x >= -2.")
    t = torch.linspace(0, 4, 41, dtype=F64)
    soft = HybridODE(kb, residual=False)
    report = soft.report(soft.solve(_y([0.0]), t))
    # x(t) = -t crosses -2 at t = 2: violated after it, on the grid from 2.1 to 4.
    assert report["floor"].violated == ((2.1, 4.0),)
    assert report["floor"].worst == pytest.approx(-2.0)
    hard = HybridODE(kb, residual=False, hard=["floor"])
    sol = hard.solve(_y([0.0]), t, method="rk4", dt=0.2)
    assert float(sol.ys.min()) >= -2.0  # at the bound only as exp(u) underflows
    assert sol.ys[:, 0, 0][:10].tolist() == pytest.approx([-s for s in t[:10].tolist()], abs=1e-6)
    assert float(sol.ys[-1, 0, 0]) == pytest.approx(-2.0, abs=1e-2)
    assert hard.report(sol).holds
    with pytest.raises(ConfigurationError, match="outside its hard bound"):
        hard.solve(_y([-3.0]), t)


def test_hard_rate_law_clamps_where_its_condition_holds() -> None:
    kb = ns.parse("state x. der(x) = 1. law returns: if x > 5 then der(x) <= 0.")
    t = torch.linspace(0, 10, 11, dtype=F64)
    soft = HybridODE(kb, residual=False)
    s = soft.report(soft.solve(_y([0.5]), t))["returns"]  # x = t + 0.5
    assert s.active == ((5.0, 10.0),) and s.violated == ((5.0, 10.0),)
    hard = HybridODE(kb, residual=False, hard="all")
    sol = hard.solve(_y([0.5]), t)
    # The clamp starts once x > 5: the solver's last step before it overshoots a little.
    assert float(sol.ys[-1, 0, 0]) == pytest.approx(5.0, abs=1e-3)
    assert hard.report(sol).holds


def test_hard_param_bound_survives_any_update() -> None:
    kb = ns.parse("state x. param a = t(0.5). der(x) = -a * x. law positive: a > 0.")
    model = HybridODE(kb, residual=False, hard=["positive"])
    assert model.param_table()["a"] == pytest.approx(0.5)
    with torch.no_grad():
        model.raw_params["a"] -= 50.0
    assert 0.0 < model.param_table()["a"] < 1e-20


def test_known_equations_print_the_current_params() -> None:
    kb = ns.parse("state x, v. param k = 2.0. der(x) = v. der(v) = -k * x.")
    eqs = HybridODE(kb, residual=False).known_equations()
    assert [str(e) for e in eqs] == ["Eq(der(x), v)", "Eq(der(v), -2.0*x)"]


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("state x. der(x) = -x. law l: x*x == 1.", {"hard": ["l"]}, "cannot be made hard"),
        ("state x. der(x) = -x.", {"hard": ["nope"]}, "no law named 'nope'"),
        ("state x, y. der(x) = -x.", {"residual": False}, "no der"),
        ("param k = 1.0.", {}, "no states"),
        ("state x. der(x) = -x.", {"params": {"q": 1.0}}, "'q' is not a param"),
        ("state x. der(x) = -x.", {"neural": {"f": nn.Identity()}}, "f not used"),
    ],
    ids=["general-hard", "unknown-law", "missing-der", "no-states", "unknown-param", "unused-net"],
)
def test_configuration_errors(text: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        HybridODE(ns.parse(text), **options)  # type: ignore[arg-type]


def test_intervals_of_a_mask() -> None:
    assert intervals([0, 1, 2, 3], [True, True, False, True]) == ((0, 1), (3, 3))
    assert intervals([0, 1], [False, False]) == ()


def test_rate_and_dissipation_laws_hold_together_at_the_nearest_field() -> None:
    scipy_optimize = pytest.importorskip("scipy.optimize")
    kb = ns.parse(
        "state x, v. der(x) = v + 1. der(v) = -x + 2 * v.\n"
        "law dissipative: der(0.5*v^2 + 0.5*x^2) <= 0.\n"
        "law slow: if x > 0 then der(x) <= 0.5."
    )
    model = HybridODE(kb, residual=False, hard="all")
    g = torch.Generator().manual_seed(3)
    y = torch.rand(40, 2, generator=g, dtype=F64) * 4 - 2
    f = model(torch.zeros(40, 1, dtype=F64), y).detach()
    raw = torch.stack([y[:, 1] + 1, -y[:, 0] + 2 * y[:, 1]], dim=1)
    for i in range(40):
        xi, vi = float(y[i, 0]), float(y[i, 1])
        # Both laws hold at once: energy does not grow, and der(x) <= 0.5 where x > 0.
        assert xi * float(f[i, 0]) + vi * float(f[i, 1]) <= 1e-10
        if xi > 0:
            assert float(f[i, 0]) <= 0.5 + 1e-12
        # And it is the nearest such field (an independent solver of the same problem).
        cons = [{"type": "ineq", "fun": lambda z, a=xi, b=vi: -(a * z[0] + b * z[1])}]
        if xi > 0:
            cons.append({"type": "ineq", "fun": lambda z: 0.5 - z[0]})
        r0 = raw[i].tolist()
        best = scipy_optimize.minimize(
            lambda z, r=r0: (z[0] - r[0]) ** 2 + (z[1] - r[1]) ** 2,
            x0=[0.0, 0.0], constraints=cons, method="SLSQP", options={"ftol": 1e-14},
        )  # fmt: skip
        assert f[i].tolist() == pytest.approx(best.x.tolist(), abs=1e-6)
