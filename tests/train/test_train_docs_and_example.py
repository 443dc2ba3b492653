"""The example runs (``--quick``) and learns; every ```python block of docs/train.md runs."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "train_regression", ROOT / "examples" / "train_regression.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_regression"] = module
    spec.loader.exec_module(module)
    return module


def test_example_fits_down_to_the_noise_floor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _load_example().main(["--quick", "--checkpoint-dir", str(tmp_path)])
    history = result["history"]
    floor = result["noise_variance"]  # no model beats σ² in expectation on fresh data
    assert len(history) == 60 and history.epochs[-1].step == 60 * 16
    assert history.metric("train_loss")[0] > 20 * floor  # sin has variance 1/2
    assert floor * 0.5 < result["final_eval_loss"] < 2 * floor
    out = capsys.readouterr().out
    assert "resumed at epoch 31, finished at epoch 60" in out
    assert (tmp_path / "checkpoint.pt").is_file()


def test_python_blocks_of_the_doc_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "docs" / "train.md").read_text(encoding="utf-8")
    blocks = _BLOCK.findall(text)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "train_md"}
    with torch.random.fork_rng(devices=[]):  # the doc seeds torch's global generator
        for i, block in enumerate(blocks):
            code = compile(block, f"docs/train.md[block {i}]", "exec")
            exec(code, namespace)  # noqa: S102 -- our own documentation, not untrusted text
