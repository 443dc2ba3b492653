"""Examples run in the test suite (each has main(argv) and --quick)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

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
    (row,) = countries["rows"]
    assert row["model"] == "embedding-identity" and 0 < row["AUC-PR"][0] <= 1


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
