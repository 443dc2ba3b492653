"""The ODE example runs in quick mode (examples are tests)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path


def test_ode_spiral_quick(capsys: object) -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "ode_spiral.py"
    spec = importlib.util.spec_from_file_location("ode_spiral_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loss = module.main(["--quick"])
    assert math.isfinite(loss)
