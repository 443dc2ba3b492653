"""``compact=True``: finished samples are dropped from the batch being stepped.

The reference is the same solve without compaction: per-sample control computes each
sample from its own row only, so dropping the others must change nothing but the batch
the field sees (values agree to rounding, step counts and statuses exactly).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosym import ode
from neurosym.errors import ConfigurationError, SolverError

F64 = torch.float64


def _oscillators(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # x'' = -w² x with the frequency w carried in the state (column 2), so each row
    # holds everything its field needs however the batch is cut.
    w = y[:, 2:3]
    return torch.cat([y[:, 1:2], -(w**2) * y[:, :1], torch.zeros_like(w)], 1)


def _batch(n: int = 16) -> torch.Tensor:
    # Frequencies 0.5 ... 2 and one of 12: the fast one needs far more steps.
    w = torch.cat([torch.linspace(0.5, 2.0, n - 1, dtype=F64), torch.tensor([12.0], dtype=F64)])
    return torch.stack([torch.ones(n, dtype=F64), torch.zeros(n, dtype=F64), w], 1)


class _Sizes:
    """A field wrapper recording the batch size of every call."""

    def __init__(self, f):  # type: ignore[no-untyped-def]
        self.f = f
        self.sizes: list[int] = []

    def __call__(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.sizes.append(y.shape[0])
        return self.f(t, y)


def _both(y0: torch.Tensor, t: torch.Tensor, **kw):  # type: ignore[no-untyped-def]
    ref = ode.solve(_oscillators, y0, t, step_control="per_sample", **kw)
    field = _Sizes(_oscillators)
    got = ode.solve(field, y0, t, step_control="per_sample", compact=True, **kw)
    return ref, got, field.sizes


def test_compacted_solve_equals_the_full_batch_and_steps_fewer_rows() -> None:
    y0 = _batch()
    t = torch.linspace(0.0, 3.0, 13, dtype=F64)
    ref, got, sizes = _both(y0, t, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(got.ys, ref.ys, rtol=0, atol=1e-11)
    exact = torch.cos(y0[:, 2] * t[:, None])
    torch.testing.assert_close(got.ys[..., 0], exact, rtol=0, atol=1e-7)
    assert torch.equal(got.stats.accepted_per_sample, ref.stats.accepted_per_sample)
    assert torch.equal(got.stats.rejected_per_sample, ref.stats.rejected_per_sample)
    assert got.stats.nfe == ref.stats.nfe and got.stats.steps == ref.stats.steps
    torch.testing.assert_close(got.y_final, ref.y_final, rtol=0, atol=1e-11)
    assert torch.equal(got.t_final, ref.t_final)
    # The field saw the whole batch first, then halvings down to the one fast sample,
    # which took most of the calls.
    assert sizes[0] == 16 and min(sizes) == 1
    assert sizes == sorted(sizes, reverse=True)
    assert sum(sizes) < 0.3 * 16 * len(sizes)


def test_compacted_gradients_equal_the_full_batch() -> None:
    y0 = _batch(8).requires_grad_(True)
    t = torch.linspace(0.0, 2.0, 6, dtype=F64)
    weights = torch.linspace(-1.0, 1.0, 6 * 8 * 3, dtype=F64).view(6, 8, 3)
    grads = []
    for compact in (False, True):
        sol = ode.solve(
            _oscillators, y0, t, rtol=1e-9, atol=1e-11, step_control="per_sample",
            compact=compact,
        )  # fmt: skip
        loss = (sol.ys * weights).sum() + sol.y_final.square().sum()
        grads.append(torch.autograd.grad(loss, y0)[0])
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-9, atol=1e-9)


def test_compacted_gradient_of_the_last_output_matches_closed_form() -> None:
    y0 = _batch(4).requires_grad_(True)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    sol = ode.solve(
        _oscillators, y0, t, rtol=1e-10, atol=1e-12, step_control="per_sample", compact=True
    )
    # x(1) = x0 cos w + v0 sin(w) / w: d x(1)/d x0 = cos w, d x(1)/d v0 = sin(w) / w.
    (dx0,) = torch.autograd.grad(sol.ys[-1, :, 0].sum(), y0)
    w = y0[:, 2].detach()
    torch.testing.assert_close(dx0[:, 0], torch.cos(w), rtol=0, atol=1e-7)
    torch.testing.assert_close(dx0[:, 1], torch.sin(w) / w, rtol=0, atol=1e-7)


def test_compaction_keeps_failures_per_sample() -> None:
    # Row 1 blows up at t = 1 (y' = y² from 1), the others are oscillators.
    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        blow = y[:, 3:4]
        return torch.where(blow > 0, torch.cat([y[:, :1] ** 2, 0 * y[:, 1:]], 1), _osc4(y))

    def _osc4(y: torch.Tensor) -> torch.Tensor:
        w = y[:, 2:3]
        return torch.cat([y[:, 1:2], -(w**2) * y[:, :1], 0 * y[:, 2:]], 1)

    y0 = torch.cat([_batch(6), torch.zeros(6, 1, dtype=F64)], 1)
    y0[1, 3] = 1.0
    t = torch.linspace(0.0, 2.0, 5, dtype=F64)
    kw = {"rtol": 1e-8, "atol": 1e-10, "throw": False, "step_control": "per_sample"}
    ref = ode.solve(f, y0, t, **kw)
    got = ode.solve(f, y0, t, compact=True, **kw)
    assert got.failed() == ref.failed() == [1]
    assert torch.equal(got.status, ref.status)
    assert torch.equal(torch.isnan(got.ys), torch.isnan(ref.ys))
    torch.testing.assert_close(got.ys, ref.ys, rtol=0, atol=1e-9, equal_nan=True)
    assert torch.equal(got.t_final, ref.t_final)
    with pytest.raises(SolverError, match=r"\[1\]"):
        ode.solve(f, y0, t, rtol=1e-8, atol=1e-10, compact=True)


def test_compaction_with_per_sample_times_and_events() -> None:
    y0 = _batch(6)
    t = torch.linspace(0.0, 2.0, 5, dtype=F64) * torch.linspace(0.5, 1.5, 6, dtype=F64)[:, None]
    ref, got, sizes = _both(y0, t, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(got.ys, ref.ys, rtol=0, atol=1e-11)
    assert min(sizes) < 6

    # Terminal event x = 0: the first zero of cos(w t) at t = π / (2w).
    def event(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y[:, 0]

    span = torch.tensor([0.0, 4.0], dtype=F64)
    kw = {"rtol": 1e-10, "atol": 1e-12, "event": event, "step_control": "per_sample"}
    ev_ref = ode.solve(_oscillators, y0, span, **kw)
    ev_got = ode.solve(_oscillators, y0, span, compact=True, **kw)
    assert ev_got.event_t is not None and ev_ref.event_t is not None
    torch.testing.assert_close(ev_got.event_t, math.pi / (2 * y0[:, 2]), rtol=0, atol=1e-8)
    torch.testing.assert_close(ev_got.event_t, ev_ref.event_t, rtol=0, atol=1e-12)


def test_compaction_with_forward_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Forward-only solves turn records into outputs every FLUSH records; with chunks of
    # two, flushes before and after each compaction must still give every output once.
    import neurosym.ode._integrate as integrate

    y0 = _batch(8)
    t = torch.linspace(0.0, 3.0, 31, dtype=F64)
    with torch.no_grad():
        ref = ode.solve(_oscillators, y0, t, rtol=1e-9, atol=1e-11, step_control="per_sample")
        monkeypatch.setattr(integrate, "FLUSH", 2)
        got = ode.solve(_oscillators, y0, t, rtol=1e-9, atol=1e-11, compact=True)
    torch.testing.assert_close(got.ys, ref.ys, rtol=0, atol=1e-11)
    assert not torch.isnan(got.ys).any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"step_control": "joint"}, "compact=True drops finished samples"),
        ({"check_every": 4}, "needs check_every=1"),
    ],
)
def test_compaction_refuses_what_it_cannot_do(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ode.solve(
            _oscillators, _batch(4), torch.tensor([0.0, 1.0]).double(), compact=True, **kwargs
        )  # type: ignore[arg-type]


def test_neural_ode_passes_compaction_on() -> None:
    # The module's option reaches the solver: the field sees a shrinking batch.
    class Field(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.sizes: list[int] = []

        def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            self.sizes.append(y.shape[0])
            return _oscillators(t, y)

    field = Field()
    node = ode.NeuralODE(field, rtol=1e-8, atol=1e-10, compact=True)
    y0, t = _batch(8), torch.linspace(0.0, 1.0, 3, dtype=F64)
    torch.testing.assert_close(
        node(y0, t).ys[..., 0], torch.cos(y0[:, 2] * t[:, None]), rtol=0, atol=1e-6
    )
    assert field.sizes[0] == 8 and min(field.sizes) == 1


def _mixed(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # Per row (x, v, w, kind): kind 0 an oscillator of frequency w, kind 1 the blow-up
    # x' = x² (fails at t = 1/x0), kind 2 a decay x' = -w x.
    x, v, w, kind = y[:, :1], y[:, 1:2], y[:, 2:3], y[:, 3:4]
    osc = torch.cat([v, -(w**2) * x], 1)
    blow = torch.cat([x * x, torch.zeros_like(x)], 1)
    decay = torch.cat([-w * x, torch.zeros_like(x)], 1)
    dxv = torch.where(kind == 0, osc, torch.where(kind == 1, blow, decay))
    return torch.cat([dxv, torch.zeros_like(y[:, 2:])], 1)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([0, 0, 0, 1, 2]),
            st.floats(0.2, 12.0),
            st.floats(-1.5, 1.5),
        ),
        min_size=1,
        max_size=9,
    ),
    n_times=st.integers(2, 9),
    per_sample_t=st.booleans(),
    max_steps=st.sampled_from([15, 60, 10_000]),
)
def test_compaction_never_changes_a_solve(
    rows: list[tuple[int, float, float]], n_times: int, per_sample_t: bool, max_steps: int
) -> None:
    # Random batches of oscillators, decays and blow-ups (some fail, some run out of
    # steps) under random output times: compaction changes nothing but the batch the
    # field sees, and "auto" ends as joint control or, when a sample ran out of steps,
    # as per-sample control.
    y0 = torch.tensor(
        [[x0 if kind != 1 else abs(x0) + 0.6, 0.0, w, float(kind)] for kind, w, x0 in rows],
        dtype=F64,
    )
    t = torch.linspace(0.0, 2.0, n_times, dtype=F64)
    if per_sample_t:
        t = t * torch.linspace(0.6, 1.3, len(rows), dtype=F64)[:, None]
    kw = {"rtol": 1e-7, "atol": 1e-9, "throw": False, "max_steps": max_steps}
    ref = ode.solve(_mixed, y0, t, step_control="per_sample", **kw)  # type: ignore[arg-type]
    got = ode.solve(_mixed, y0, t, compact=True, **kw)  # type: ignore[arg-type]
    assert torch.equal(got.status, ref.status)
    assert torch.equal(got.stats.accepted_per_sample, ref.stats.accepted_per_sample)
    assert torch.equal(torch.isnan(got.ys), torch.isnan(ref.ys))
    torch.testing.assert_close(got.ys, ref.ys, rtol=1e-9, atol=1e-9, equal_nan=True)
    torch.testing.assert_close(got.t_final, ref.t_final, rtol=0, atol=0)
    if not per_sample_t:
        auto = ode.solve(_mixed, y0, t, **kw)  # type: ignore[arg-type]
        joint = ode.solve(_mixed, y0, t, step_control="joint", **kw)  # type: ignore[arg-type]
        want = ref if bool((joint.status == ode.Status.MAX_STEPS).any()) else joint
        assert torch.equal(auto.status, want.status)
        torch.testing.assert_close(auto.ys, want.ys, rtol=0, atol=0, equal_nan=True)
