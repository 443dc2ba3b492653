"""ResNet vs ODEBlock vs LM-ResNet on scikit-learn's digits, with and without kinetic energy.

Every model is ``Linear(64, d) -> tanh -> body -> Linear(d, 10)``; the bodies are
different integrators of ``dx/dt = f(t, x)`` over ``t in [0, 1]``:

- ``resnet``: ``depth`` residual blocks ``x + h f_n(x)`` (forward Euler, one field per
  block; an ``LMResBlock`` with every ``k_n`` fixed at 0, which is exactly this);
- ``lm_resnet``: the same with learnable linear-multistep coefficients ``k_n`` (Lu et al.
  2018);
- ``odeblock``: one weight-tied field integrated by dopri5 (Chen et al. 2018);
- ``odeblock_ke``: the same trained with the kinetic-energy penalty ``λ ∫‖f‖² dt``
  (Finlay et al. 2020), which should need fewer dopri5 steps for the same accuracy.

Printed per model: test accuracy, parameters, seconds per epoch and, for the ODE blocks,
the dopri5 steps and field evaluations of one pass over the test set and a solver-swap
check (dopri5 vs RK4 with fixed steps). The 8x8 digits are bundled with scikit-learn:
nothing is downloaded. ``python examples/odenet_digits.py --quick`` runs in seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import Tensor, nn

# Run from a checkout: prefer this repository's neurosym over an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from neurosym import ode
from neurosym._io import atomic_write_text

MODELS = ("resnet", "lm_resnet", "odeblock", "odeblock_ke")


def load_data(seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Digits scaled to ``[0, 1]``, shuffled with ``seed``, split 75/25."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise SystemExit("this example needs scikit-learn: pip install scikit-learn") from exc
    d = load_digits()
    x = torch.tensor(d.data, dtype=torch.float32) / 16.0
    y = torch.tensor(d.target, dtype=torch.long)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    split = int(0.75 * len(y))
    return x[perm[:split]], y[perm[:split]], x[perm[split:]], y[perm[split:]]


class Classifier(nn.Module):
    """``Linear -> tanh -> body -> Linear``; the body is one of the integrators above."""

    def __init__(self, body: nn.Module, width: int) -> None:
        super().__init__()
        self.inp = nn.Linear(64, width)
        self.body = body
        self.out = nn.Linear(width, 10)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.body(torch.tanh(self.inp(x))))

    def regularised(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Logits and the batch-mean kinetic energy (the body must be an ODEBlock)."""
        assert isinstance(self.body, ode.ODEBlock)
        z, reg = self.body.regularised(torch.tanh(self.inp(x)))
        assert reg.kinetic is not None
        return self.out(z), reg.kinetic.mean()


def build(name: str, width: int, hidden: int, depth: int, rtol: float) -> Classifier:
    """One of :data:`MODELS`."""
    if name in ("resnet", "lm_resnet"):
        fields = [ode.MLPField(width, (hidden,), time_input=False) for _ in range(depth)]
        body: nn.Module = ode.LMResBlock(fields, k=0.0, learn_k=name == "lm_resnet")
    else:
        # Per-sample control, as in docs/odenet.md's table (accepted steps per sample).
        body = ode.ODEBlock(
            ode.MLPField(width, (hidden,)), rtol=rtol, atol=rtol / 10, step_control="per_sample"
        )
    return Classifier(body, width)


def train(
    model: Classifier,
    data: tuple[Tensor, Tensor, Tensor, Tensor],
    *,
    epochs: int,
    batch: int,
    lr: float,
    kinetic: float,
    seed: int,
) -> float:
    """Adam on cross-entropy (+ ``kinetic`` × KE); returns seconds per epoch."""
    x_train, y_train, _, _ = data
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    ce = nn.CrossEntropyLoss()
    started = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(y_train), generator=g)
        for i in range(0, len(y_train), batch):
            idx = perm[i : i + batch]
            if kinetic > 0:
                logits, ke = model.regularised(x_train[idx])
                loss = ce(logits, y_train[idx]) + kinetic * ke
            else:
                loss = ce(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return (time.perf_counter() - started) / epochs


def evaluate(model: Classifier, data: tuple[Tensor, Tensor, Tensor, Tensor]) -> dict[str, object]:
    """Accuracy, parameters and, for an ODE body, solver work and a solver-swap check."""
    _, _, x_test, y_test = data
    model.eval()
    with torch.no_grad():
        acc = float((model(x_test).argmax(-1) == y_test).float().mean())
    out: dict[str, object] = {
        "accuracy": acc,
        "params": sum(p.numel() for p in model.parameters()),
    }
    body = model.body
    if isinstance(body, ode.ODEBlock):
        stats = body.last_stats
        assert stats is not None
        out["steps"] = stats.steps  # iterations of the batched dopri5 loop
        out["mean_accepted"] = float(stats.accepted_per_sample.float().mean())
        out["nfe"] = stats.nfe
        report = ode.solver_swap_check(
            model, x_test, y_test, solvers=[ode.SolverSetting("rk4", steps=16)], tolerance=0.01
        )
        out["swap_rk4_accuracy"] = report.metrics[1]
        out["behaves_as_ode"] = report.behaves_as_ode
    if isinstance(body, ode.LMResBlock) and isinstance(body.k, nn.Parameter):
        out["k"] = [round(float(v), 3) for v in body.k.detach()]
    model.train()
    return out


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Train the four models and return what was printed (for the tests).

    Args:
        argv: command-line arguments; see ``--help``.

    Returns:
        ``{model: {accuracy, params, seconds_per_epoch, steps?, nfe?, ...}}`` plus
        ``ke_step_reduction`` (fraction of dopri5 steps saved by the KE penalty) and
        ``ke_accuracy_change`` (accuracy with it minus without).
    """
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--depth", type=int, default=4, help="blocks of the (LM-)ResNet")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--rtol", type=float, default=1e-5, help="dopri5 rtol (atol = rtol/10)")
    ap.add_argument("--kinetic", type=float, default=0.1, help="weight of the KE penalty")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated subset")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (small ops: 1)")
    ap.add_argument("--quick", action="store_true", help="a few-second smoke run")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    args = ap.parse_args(argv)
    names = [m for m in args.models.split(",") if m]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        ap.error(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    torch.set_num_threads(args.threads)
    data = load_data(args.seed)
    epochs = 2 if args.quick else args.epochs
    if args.quick:
        data = (data[0][:512], data[1][:512], data[2], data[3])
    results: dict[str, object] = {}
    for name in names:
        torch.manual_seed(args.seed)
        model = build(name, args.width, args.hidden, args.depth, args.rtol)
        kinetic = args.kinetic if name == "odeblock_ke" else 0.0
        spe = train(
            model, data, epochs=epochs, batch=args.batch, lr=args.lr, kinetic=kinetic,
            seed=args.seed,
        )  # fmt: skip
        row = evaluate(model, data) | {"seconds_per_epoch": round(spe, 3)}
        results[name] = row
        extra = ""
        if "steps" in row:
            extra = (
                f"  dopri5 steps {row['steps']} (mean accepted {row['mean_accepted']:.1f})"
                f"  nfe {row['nfe']}  rk4(16) acc {row['swap_rk4_accuracy']:.4f}"
            )
        print(
            f"{name:12s} acc {row['accuracy']:.4f}  params {row['params']:6d}  "
            f"{spe:.2f} s/epoch{extra}"
        )
    plain, ke = results.get("odeblock"), results.get("odeblock_ke")
    if isinstance(plain, dict) and isinstance(ke, dict):
        results["ke_step_reduction"] = 1.0 - ke["steps"] / plain["steps"]
        results["ke_accuracy_change"] = ke["accuracy"] - plain["accuracy"]
        print(
            f"kinetic energy (λ={args.kinetic}): dopri5 steps {plain['steps']} -> {ke['steps']}"
            f" ({100 * results['ke_step_reduction']:.0f}% fewer), accuracy change "
            f"{100 * results['ke_accuracy_change']:+.1f} points"
        )
    if args.json:
        atomic_write_text(args.json, json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main()
