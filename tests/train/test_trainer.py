"""The training loop: learning, seeded repetition, no global side effects, progress, options."""

from __future__ import annotations

import io
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset
from train_helpers import (
    assert_same_weights,
    loader,
    make_model,
    make_trainer,
    mse,
    regression_data,
    same_weights,
)

import neurosym.train
from neurosym.errors import ConfigurationError
from neurosym.train import CHECKPOINT_NAME, EarlyStopping, EpochRecord, History, Trainer


def test_public_names() -> None:
    assert set(neurosym.train.__all__) == {
        "CHECKPOINT_FORMAT",
        "CHECKPOINT_NAME",
        "EarlyStopping",
        "EpochRecord",
        "EvalCallback",
        "History",
        "LossFn",
        "Trainer",
        "load_checkpoint",
    }


def test_learns_a_linear_map_to_the_noise_floor() -> None:
    x, y = regression_data(256)
    model = nn.Linear(3, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    trainer = Trainer(model, mse, optimizer, max_epochs=40, seed=0, progress=False)
    history = trainer.fit(loader(x, y, batch_size=32))
    losses = history.metric("train_loss")
    assert len(history) == 40 and [r.epoch for r in history.epochs] == list(range(1, 41))
    assert [r.step for r in history.epochs][-1] == 40 * 8 == trainer.step
    # The noise is N(0, 0.1²): the best possible mean squared error is about 0.01.
    assert losses[0] > 1.0 and losses[-1] < 2 * 0.1**2
    assert torch.allclose(model.weight, torch.tensor([[1.5, -2.0, 0.5]]), atol=0.05)


def _run(seed: int, **options: Any) -> tuple[nn.Module, History]:
    x, y = regression_data()
    model = make_model()
    history = make_trainer(model, max_epochs=3, seed=seed, **options).fit(loader(x, y))
    return model, history


def test_same_seed_repeats_bit_for_bit_and_another_seed_does_not() -> None:
    a, ha = _run(seed=3)
    b, hb = _run(seed=3)
    c, hc = _run(seed=4)
    assert_same_weights(a, b)
    assert ha == hb
    assert not same_weights(a, c) and ha != hc


def test_a_run_neither_uses_nor_moves_the_callers_random_state() -> None:
    torch.manual_seed(1)
    random.seed(1)
    np.random.seed(1)
    before = (torch.get_rng_state(), random.getstate(), np.random.get_state())
    a, _ = _run(seed=3)
    after = (torch.get_rng_state(), random.getstate(), np.random.get_state())
    assert torch.equal(before[0], after[0]) and before[1] == after[1]
    assert all(np.array_equal(p, q) for p, q in zip(before[2], after[2]))
    # Whatever the caller's global state, the run is the same.
    torch.manual_seed(2)
    random.seed(2)
    np.random.seed(2)
    b, _ = _run(seed=3)
    assert_same_weights(a, b)


def test_shuffling_follows_the_seed_not_the_loader() -> None:
    seen: list[list[float]] = []

    def record(model: nn.Module, batch: Any) -> Tensor:
        seen.append(batch[0][:, 0].tolist())
        return mse(model, batch)

    x, y = regression_data(32)
    for loader_seed in (10, 11):
        model = make_model(dropout=0.0)
        data = DataLoader(
            TensorDataset(x, y),
            batch_size=8,
            shuffle=True,
            generator=torch.Generator().manual_seed(loader_seed),
        )
        make_trainer(model, max_epochs=2, seed=0, loss_fn=record).fit(data)
    first, second = seen[:8], seen[8:]
    assert first == second  # the loader's own generator does not matter
    assert first[:4] != first[4:]  # each epoch has its own order
    assert sorted(v for batch in first[:4] for v in batch) == sorted(x[:, 0].tolist())


def test_a_plain_list_of_batches_is_used_in_order() -> None:
    x, y = regression_data(32)
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8)]
    seen: list[Tensor] = []

    def record(model: nn.Module, batch: Any) -> Tensor:
        seen.append(batch[0])
        return mse(model, batch)

    make_trainer(make_model(), max_epochs=2, loss_fn=record).fit(batches)
    assert all(torch.equal(s, b[0]) for s, b in zip(seen, batches * 2))


def test_progress_false_and_not_a_tty_print_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    _run(seed=0, progress=False)
    _run(seed=0, progress=None)  # stderr is captured, so not a terminal
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_true_draws_a_bar(capsys: pytest.CaptureFixture[str]) -> None:
    _run(seed=0, progress=True)
    captured = capsys.readouterr()
    assert "epoch 3/3" in captured.err and "18/18" in captured.err and captured.out == ""


def test_progress_none_draws_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    fake = Terminal()
    monkeypatch.setattr("sys.stderr", fake)
    _run(seed=0, progress=None)
    assert "epoch 3/3" in fake.getvalue()


def test_callbacks_add_metrics_computed_in_eval_mode() -> None:
    x, y = regression_data()
    ex, ey = regression_data(40, seed=9)
    modes: list[tuple[bool, bool]] = []

    def mae(model: nn.Module, batches: Any) -> dict[str, float]:
        modes.append((model.training, torch.is_grad_enabled()))
        errors = [(model(bx) - by).abs() for bx, by in batches]
        return {"eval_mae": float(torch.cat(errors).mean())}

    model = make_model()
    history = make_trainer(model, max_epochs=3, callbacks=[mae]).fit(
        loader(x, y), eval_data=loader(ex, ey, batch_size=10, shuffle=False)
    )
    assert history.names == ("train_loss", "eval_loss", "eval_mae")
    assert modes == [(False, False)] * 3
    assert model.training  # put back in training mode
    with torch.no_grad():
        model.eval()
        expected_mae = float((model(ex) - ey).abs().mean())
        expected_loss = float(nn.functional.mse_loss(model(ex), ey))
    assert history.metric("eval_mae")[-1] == pytest.approx(expected_mae, rel=1e-6)
    # eval_loss is the mean over the 4 equal batches of the plain loss, i.e. the full MSE.
    assert history.metric("eval_loss")[-1] == pytest.approx(expected_loss, rel=1e-5)


def test_early_stopping_ends_the_run_and_a_resume_stays_stopped(tmp_path: Path) -> None:
    x, y = regression_data()
    # Evaluated against the opposite relation, the eval loss rises while training goes on.
    evals = [(x, -y)]
    model = make_model(dropout=0.0)
    stop = EarlyStopping(metric="eval_loss", patience=2)
    trainer = make_trainer(
        model, max_epochs=50, early_stopping=stop, checkpoint_dir=tmp_path, checkpoint_every=10
    )
    history = trainer.fit(loader(x, y), eval_data=evals)
    eval_losses = history.metric("eval_loss")
    assert history.stopped_early
    assert len(history) == eval_losses.index(min(eval_losses)) + 1 + 2
    assert history.best("eval_loss").epoch == len(history) - 2
    # The stop is checkpointed: a resumed run does not train on.
    again = make_trainer(make_model(), max_epochs=50, early_stopping=stop)
    assert again.fit(loader(x, y), eval_data=evals, resume_from=tmp_path / CHECKPOINT_NAME) == (
        history
    )
    assert again.step == trainer.step


def test_early_stopping_on_a_missing_metric_says_what_to_do() -> None:
    x, y = regression_data()
    trainer = make_trainer(make_model(), max_epochs=3, early_stopping=EarlyStopping())
    with pytest.raises(ConfigurationError, match="pass eval_data"):
        trainer.fit(loader(x, y))


def _history(values: list[float], name: str = "m") -> History:
    return History(tuple(EpochRecord(i + 1, i + 1, {name: v}) for i, v in enumerate(values)))


@pytest.mark.parametrize(
    ("values", "stop", "expected"),
    [
        ([3, 2, 1], EarlyStopping("m", patience=1), False),
        ([3, 2, 2], EarlyStopping("m", patience=1), True),
        ([3, 2, 2.5, 1.9], EarlyStopping("m", patience=2), False),
        ([3, 2, 1.95, 1.9], EarlyStopping("m", patience=2, min_delta=0.1), True),
        ([1, 2, 3], EarlyStopping("m", mode="max", patience=1), False),
        ([1, 3, 2], EarlyStopping("m", mode="max", patience=1), True),
        ([1, math.nan, math.nan], EarlyStopping("m", patience=2), True),
        ([math.nan, 1, math.nan], EarlyStopping("m", patience=2), False),
    ],
    ids=[
        "improving",
        "flat",
        "recovers in time",
        "improvements below min_delta",
        "max mode improving",
        "max mode worse",
        "nan never improves",
        "first real value is best",
    ],
)
def test_early_stopping_decision(values: list[float], stop: EarlyStopping, expected: bool) -> None:
    assert stop.should_stop(_history(values)) is expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "lowest"}, "mode must be"),
        ({"patience": 0}, "patience must be >= 1"),
        ({"patience": 2.5}, "patience must be an int"),
        ({"min_delta": -1.0}, "min_delta"),
        ({"metric": ""}, "metric must be"),
    ],
    ids=["mode", "patience zero", "patience float", "negative delta", "empty metric"],
)
def test_early_stopping_options_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        EarlyStopping(**options)


def test_history_json_round_trip_and_lookups() -> None:
    first = EpochRecord(1, 3, {"train_loss": 1.0, "acc": 0.5})
    h = History((first, EpochRecord(2, 6, {"train_loss": math.nan})), stopped_early=True)
    back = History.from_json(h.to_json())
    assert back.stopped_early and back.epochs[0] == h.epochs[0]
    assert math.isnan(back.epochs[1].metrics["train_loss"])
    assert h.metric("acc") == [0.5] and h.best("train_loss").epoch == 1
    with pytest.raises(KeyError, match="acc"):
        h.metric("accuracy")
    with pytest.raises(TypeError):
        h.epochs[0].metrics["acc"] = 1.0  # type: ignore[index]
    with pytest.raises(ConfigurationError):
        History.from_json('{"format": "other"}')
    with pytest.raises(ConfigurationError, match="numbers its epochs"):
        History((EpochRecord(2, 1, {}),))


def _trainer(**options: Any) -> Trainer:
    model = options.pop("model", None) or nn.Linear(3, 1)
    optimizer = options.pop("optimizer", None) or torch.optim.SGD(model.parameters(), lr=0.1)
    options.setdefault("max_epochs", 1)
    options.setdefault("seed", 0)
    return Trainer(model, options.pop("loss_fn", mse), optimizer, **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_epochs": 0}, "max_epochs must be >= 1"),
        ({"max_epochs": 2.0}, "max_epochs must be an int"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"seed": True}, "seed must be an int"),
        ({"checkpoint_every": 0}, "checkpoint_every must be >= 1"),
        ({"progress": "yes"}, "progress must be True, False or None"),
        ({"device": "nonsense"}, "not a torch device"),
        ({"early_stopping": "eval_loss"}, "EarlyStopping"),
        ({"callbacks": [42]}, "callable"),
        ({"optimizer": torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)}, "not the model's"),
        ({"loss_fn": "mse"}, "loss_fn must be callable"),
        (
            {"model": "net", "optimizer": torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)},
            "torch.nn.Module",
        ),
        (
            {
                "scheduler": torch.optim.lr_scheduler.StepLR(
                    torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1), step_size=1
                )
            },
            "scheduler",
        ),
        (
            {
                "model": (m := nn.Linear(3, 1)),
                "optimizer": (o := torch.optim.SGD(m.parameters(), lr=0.1)),
                "scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(o),
            },
            "ReduceLROnPlateau",
        ),
    ],
    ids=[
        "zero epochs",
        "float epochs",
        "negative seed",
        "bool seed",
        "zero checkpoint_every",
        "progress string",
        "bad device",
        "early stopping string",
        "callback not callable",
        "foreign optimizer",
        "loss string",
        "model string",
        "foreign scheduler",
        "plateau scheduler",
    ],
)
def test_options_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        _trainer(**options)


def _one_shot() -> Any:
    x, y = regression_data(8)
    return ((x, y) for _ in range(2))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (TensorDataset(*regression_data(8)), "wrap it: DataLoader"),
        (_one_shot(), "one-shot iterator"),
        (42, "re-iterable of batches"),
        ([], "no batches in epoch 1"),
    ],
    ids=["bare dataset", "generator", "int", "empty"],
)
def test_unusable_data_is_refused(data: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        _trainer().fit(data)


def test_a_loss_that_is_not_a_scalar_is_refused() -> None:
    x, y = regression_data(8)
    trainer = _trainer(loss_fn=lambda m, b: (m(b[0]) - b[1]) ** 2)
    with pytest.raises(ConfigurationError, match=r"scalar .* shape \(8, 1\)"):
        trainer.fit([(x, y)])


def test_callbacks_need_eval_data_and_fresh_names() -> None:
    x, y = regression_data(8)
    with pytest.raises(ConfigurationError, match="no eval_data"):
        _trainer(callbacks=[lambda m, d: {}]).fit([(x, y)])
    with pytest.raises(ConfigurationError, match="reserved"):
        _trainer(callbacks=[lambda m, d: {"eval_loss": 0.0}]).fit([(x, y)], eval_data=[(x, y)])


def test_fit_again_continues_the_run() -> None:
    x, y = regression_data(16)
    trainer = _trainer(max_epochs=3)
    first = trainer.fit([(x, y)])
    assert trainer.fit([(x, y)]) is first and trainer.epoch == 3
