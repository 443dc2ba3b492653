"""Examples run in the test suite (each has main(argv) and --quick)."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest
import sympy

import neurosym as ns

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_knowledge_base_example(tmp_path: Path) -> None:
    out = tmp_path / "family.graphml"
    result = _load("knowledge_base").main(["--quick", "--graph-out", str(out)])
    assert result["errors"] == 0
    # Read off rules/family.rules by hand: only ancestor/2 calls itself.
    assert result["recursive"] == ["ancestor/2"]
    assert result["depends"]["grandparent/2"] == ["parent/2"]
    assert result["depends"]["cousin/2"] == ["parent/2", "sibling/2"]
    assert out.stat().st_size > 0


def test_expert_system_example() -> None:
    result = _load("expert_system").main(["--quick"])
    # Read off rules/diagnosis.rules by hand (see docs/engine.md for the values).
    assert result["referrals"] == ["refer(bob)", "refer(carla)"]
    assert result["best"] == "flu(ann)"
    assert result["ann_referred"] is False
    # dora: cough 0.9 and short breath 0.8 -> pneumonia_risk 0.6 * min(0.9, 0.8) = 0.48
    assert result["dora"] == [pytest.approx(0.48)]


def test_digit_addition_example_learns_digits_from_sums(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    plot = tmp_path / "curve.png"
    result = _load("digit_addition").main(["--quick", "--plot", str(plot)])
    curve = result["curve"]
    assert isinstance(curve, list)
    assert sum(curve[-10:]) / 10 < 0.5 * sum(curve[:10]) / 10  # the sum's NLL halves at least
    # No digit label was used, yet digits are recognised far above chance (0.1).
    assert result["digit_accuracy"] > 0.6
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_digit_addition_example_trains_four_and_fifteen_digits_by_carries() -> None:
    pytest.importorskip("sklearn")
    example = _load("digit_addition")
    four = example.main(["--quick", "--digits", "4"])  # 50 steps
    assert four["plan"] == "carry"
    curve = four["curve"]
    assert isinstance(curve, list)
    assert sum(curve[-10:]) < 0.9 * sum(curve[:10])
    assert four["digit_accuracy"] > 0.5  # chance is 0.1; no digit label was used
    fifteen = example.main(["--quick", "--digits", "15"])  # 10 steps
    assert fifteen["plan"] == "carry"
    curve = fifteen["curve"]
    assert isinstance(curve, list)
    # P(sum) ~ 1e-15 at the start: the loss is the exact -log P, not clamped at 1e-12.
    assert all(-math.log(1e-12) < c < 80 for c in curve)


def test_laws_help_example_hard_laws_hold_at_every_solver_stage() -> None:
    results = _load("laws_help").main(["--quick"])
    for system in ("oscillator", "logistic"):
        hard = results[f"{system}/hard"]
        # A hard law holds at every state the solver evaluated the field at, not only on
        # the reported grid (rounding aside).
        assert max(hard["worst_any_step"]) <= 1e-12
        assert max(hard["violated_share"]) == 0.0
        for variant in ("none", "penalty", "hard"):
            assert all(r < 10 for r in results[f"{system}/{variant}"]["rmse"])


def test_optimizer_physics_example(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "optim.png"
    result = _load("optimizer_physics").main(["--quick", "--plot", str(plot)])
    it = result["iterations"]
    # The numbers of docs/optim.md; the slow direction's regime reads off its discriminant.
    assert it["gradient descent"] == 653 and it["Nesterov"] == 84
    assert abs(it["heavy ball, Polyak optimum"] - 56) <= 2
    assert it["heavy ball, critical"] < it["heavy ball, over-damped"] < it["gradient descent"]
    assert it["heavy ball, critical"] < it["heavy ball, under-damped"]
    assert result["regimes"]["heavy ball, critical"] == "critical"
    assert result["regimes"]["heavy ball, under-damped"] == "underdamped"
    assert result["regimes"]["heavy ball, over-damped"] == "overdamped"
    assert result["diagnosis"]["momentum"] == pytest.approx(0.95, abs=1e-6)
    assert result["diagnosis"]["advice"][0] == "lower_momentum"
    assert result["physical"]["gradient descent"] == pytest.approx((1.0, 10.0, 0.1))
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_odenet_digits_example(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    out = tmp_path / "odenet.json"
    result = _load("odenet_digits").main(["--quick", "--json", str(out)])
    models = ("resnet", "lm_resnet", "odeblock", "odeblock_ke")
    rows = {name: result[name] for name in models}
    for row in rows.values():
        assert isinstance(row, dict)
        assert row["accuracy"] > 0.3  # chance is 0.1
    r, lm, node, ke = (rows[n] for n in models)
    assert isinstance(r, dict) and isinstance(lm, dict)
    assert isinstance(node, dict) and isinstance(ke, dict)
    assert lm["params"] == r["params"] + 3  # k_1, k_2, k_3 of a depth-4 stack
    assert len(lm["k"]) == 3 and "k" not in r
    assert node["params"] == ke["params"] < r["params"]  # one weight-tied field
    # The kinetic-energy penalty does not make dopri5 work harder (it lowers steps).
    assert ke["steps"] <= node["steps"]
    assert result["ke_step_reduction"] == pytest.approx(1 - ke["steps"] / node["steps"])
    assert json.loads(out.read_text())["odeblock"]["steps"] == node["steps"]


def test_lynx_hare_example_keeps_rates_positive_and_fits(tmp_path: Path) -> None:
    result = _load("lynx_hare").main(["--quick"])
    assert all(v > 0 for v in result["rates"].values())
    # The loss goes down from the initial guess (L-BFGS, 5 iterations).
    assert result["loss"][-1] < 0.5 * result["loss"][0]
    # The data: hare peaks in 1903 and 1913 (data/lynx_hare.csv), so a period of 10 years.
    assert result["data_period"] == 10.0


def test_oscillator_example_explains_the_hybrid_model(tmp_path: Path) -> None:
    plot = tmp_path / "osc.png"
    result = _load("oscillator").main(["--quick", "--plot", str(plot)])
    # The spring is known and the damping is learned: even a short fit puts the distilled
    # damping ratio near the truth, 0.1, and the hard energy law is never broken.
    assert abs(result["hybrid"]["damping_ratio"][0] - 0.1) < 0.02
    assert "dissipative (hard, holds by construction): holds" in result["explanation"]
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_kb_completion_example_on_the_slices(data_dir: Path) -> None:
    module = _load("kb_completion")
    out = module.main(["--quick", "--dataset", "kinship", "--data-dir", str(data_dir / "kbc"),
                       "--seeds", "2"])  # fmt: skip
    rows = {row["model"]: row for row in out["rows"]}
    assert set(rows) == {"embedding-ode", "embedding-identity"}
    for row in rows.values():
        mean, sd = row["MRR"]
        assert 0 < mean <= 1 and sd >= 0 and row["ties"] == "random" and row["seeds"] == 2
        assert row["Hits@1"][0] <= row["Hits@3"][0] <= row["Hits@10"][0]
    head, rel, _ = (
        (data_dir / "kbc/kinship/ntp_split/test.tsv").read_text().split("\n")[0].split("\t")
    )
    assert out["explanation"]["fact"].startswith(f"{rel}({head}, ")  # the first test query
    assert len(out["explanation"]["neighbours"]) == 5
    kbc_dir = str(data_dir / "kbc")
    countries = module.main(
        ["--quick", "--dataset", "countries-s1", "--data-dir", kbc_dir, "--dynamics", "identity"]
    )
    rows = {row["model"]: row for row in countries["rows"]}
    assert set(rows) == {"embedding-identity", "induced-rules"}
    assert all(0 < row["AUC-PR"][0] <= 1 for row in rows.values())
    # Whatever rules the quick run keeps on this 45-fact slice print as text the engine
    # loads (tests/kbc/test_induce.py checks what is learned on real structure).
    ns.parse(countries["rules"])


def test_kb_completion_example_runs_with_and_without_rules(data_dir: Path, tmp_path: Path) -> None:
    rows = (data_dir / "kbc/kinship/ntp_split/train.tsv").read_text().splitlines()
    p, q = rows[0].split("\t")[1], rows[1].split("\t")[1]
    rules = tmp_path / "kin.rules"
    rules.write_text(f"{p}(X, Y) :- {q}(Y, X).\n", encoding="utf-8")
    out = _load("kb_completion").main(
        ["--quick", "--dataset", "kinship", "--data-dir", str(data_dir / "kbc"), "--seeds", "1",
         "--dynamics", "identity", "--rules", str(rules), "--tnorm", "godel"]
    )  # fmt: skip
    assert [row["model"] for row in out["rows"]] == [
        "embedding-identity",
        "embedding-identity+rules",
    ]


def test_oscillator_scores_both_coefficient_errors_by_hand() -> None:
    x, v = sympy.symbols("x v")
    der = sympy.Function("der")
    eqs = (
        sympy.Eq(der(x), 1.001 * v),
        sympy.Eq(der(v), -1.0 * x - 0.2006 * v + 0.002 * x**2),
    )
    s = _load("oscillator").score(eqs)
    assert not s["exact_support"] and s["extra"] == [("v", "(2, 0)")]
    # worst single coefficient: |0.2006 - 0.2| / 0.2 = 3e-3
    assert s["coef_error"] == pytest.approx(3e-3, rel=1e-6)
    # vector: sqrt(0.001^2 + 0.0006^2 + 0.002^2) / sqrt(1 + 1 + 0.04)
    expected = math.sqrt(1e-6 + 3.6e-7 + 4e-6) / math.sqrt(2.04)
    assert s["coef_error_norm"] == pytest.approx(expected, rel=1e-6)


def test_reachability_example_compiled_against_the_engine() -> None:
    out = _load("reachability").main(["--quick"])
    assert out["exact"]
    for compiled, engine in out["exact"].values():
        assert compiled == pytest.approx(engine, abs=1e-9)
    ks = sorted(out["top_k"])
    for answer, (exact, _) in out["exact"].items():
        bounds = [out["top_k"][k].get(answer, (0.0, 0.0))[0] for k in ks]
        assert bounds == sorted(bounds) and bounds[-1] <= exact + 1e-12  # lower bounds
    for k in ks:
        for compiled, engine in out["top_k"][k].values():
            assert compiled == pytest.approx(engine, abs=1e-9)  # the engine's TopKProbability
    fuzzy = out["fuzzy"]
    assert abs(fuzzy["end"] - 0.9) < abs(fuzzy["start"] - 0.9)
    assert fuzzy["engine_after"] == pytest.approx(fuzzy["end"], abs=1e-4)  # to_rules rounds
