"""The ODE example runs in quick mode (examples are tests)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest


def _example(name: str):  # type: ignore[no-untyped-def]
    path = Path(__file__).resolve().parents[2] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ode_spiral_quick(capsys: object) -> None:
    loss = _example("ode_spiral").main(["--quick"])
    assert math.isfinite(loss)


def test_ode_batches_quick(capsys) -> None:  # type: ignore[no-untyped-def]
    errors = _example("ode_batches").main(["--quick"])
    # Against cos(w t): every step control within the tolerance's reach, dop853's
    # interpolated outputs at rtol 1e-10, dopri8's landed ones near round-off.
    assert max(errors[k] for k in ("auto", "per_sample", "compact")) < 1e-6
    assert errors["dop853"] < 1e-8 and errors["dopri8"] < 1e-12
    out = capsys.readouterr().out
    assert "steps per sample: slow" in out and "dop853  loop steps" in out


# (torch's forward-mode decompositions, loaded by jacfwd's first use, script themselves.)
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_ode_transforms_quick(capsys) -> None:  # type: ignore[no-untyped-def]
    out = _example("ode_transforms").main(["--quick"])
    # Liouville: the pendulum's flow keeps volume; the Jacobians also match central
    # differences of the solve (step 1e-5: truncation ~1e-10) and forward mode.
    assert out["det_err"] < 1e-8
    assert out["fd_err"] < 1e-6
    assert out["fwd_rev"] < 1e-8
    # every member of the vmap-ed ensemble learns (25 Adam steps)
    assert all(b < 0.25 * a for a, b in zip(out["first"], out["last"]))
    assert "fitted at once by vmap" in capsys.readouterr().out
    # the exported sampler is the eager one (8 RK4 steps of the MLP, unrolled)
    assert out["export_diff"] < 1e-6
    assert out["export_ops"] > 8 * 4 * 3
