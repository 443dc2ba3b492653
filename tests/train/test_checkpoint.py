"""Checkpoints: a resumed run ends bit for bit like an uninterrupted one; writes are atomic."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from train_helpers import (
    assert_same_weights,
    loader,
    make_model,
    make_trainer,
    noisy_mse,
    regression_data,
    same_weights,
)

from neurosym.errors import ConfigurationError
from neurosym.train import CHECKPOINT_FORMAT, CHECKPOINT_NAME, History, load_checkpoint
from neurosym.train._rng import RandomStreams

EPOCHS = 6
BATCHES_PER_EPOCH = 96 // 16


class Crash(Exception):
    """Stands for the process dying in the middle of an epoch."""


def _data() -> tuple[Any, list[tuple[Tensor, Tensor]]]:
    x, y = regression_data()
    ex, ey = regression_data(32, seed=5)
    return loader(x, y), [(ex, ey)]


def _uninterrupted(epochs: int = EPOCHS) -> tuple[nn.Module, History, dict[str, Any]]:
    train, evals = _data()
    model = make_model()
    trainer = make_trainer(model, max_epochs=epochs)
    history = trainer.fit(train, eval_data=evals)
    return model, history, trainer.optimizer.state_dict()


def _crash_in_epoch(epoch: int) -> Any:
    calls = 0

    def loss_fn(model: nn.Module, batch: Any) -> Tensor:
        nonlocal calls
        if model.training:
            calls += 1
            if calls == (epoch - 1) * BATCHES_PER_EPOCH + 2:
                raise Crash
        return noisy_mse(model, batch)

    return loss_fn


def _interrupted_then_resumed(tmp_path: Path, how: str) -> tuple[nn.Module, History, Any]:
    train, evals = _data()
    if how == "stopped after 3 epochs":
        first = make_trainer(make_model(), max_epochs=3, checkpoint_dir=tmp_path)
        first.fit(train, eval_data=evals)
    else:  # killed in epoch 5, two epochs after the last checkpoint
        first = make_trainer(
            make_model(),
            max_epochs=EPOCHS,
            checkpoint_dir=tmp_path,
            checkpoint_every=3,
            loss_fn=_crash_in_epoch(5),
        )
        with pytest.raises(Crash):
            first.fit(train, eval_data=evals)
    path = tmp_path / CHECKPOINT_NAME
    assert load_checkpoint(path)["epoch"] == 3
    # A new model (other initial weights), optimizer, scheduler, trainer and loader.
    model = make_model(init_seed=99)
    trainer = make_trainer(model, max_epochs=EPOCHS)
    train, evals = _data()
    history = trainer.fit(train, eval_data=evals, resume_from=path)
    return model, history, trainer


@pytest.mark.parametrize("how", ["stopped after 3 epochs", "killed during epoch 5"])
def test_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path: Path, how: str) -> None:
    full_model, full_history, full_opt = _uninterrupted()
    model, history, trainer = _interrupted_then_resumed(tmp_path, how)
    assert_same_weights(model, full_model)
    assert history == full_history  # every metric of every epoch, bit for bit
    assert (trainer.epoch, trainer.step) == (EPOCHS, EPOCHS * BATCHES_PER_EPOCH)
    opt = trainer.optimizer.state_dict()
    for key, state in full_opt["state"].items():
        for name, value in state.items():
            assert torch.equal(torch.as_tensor(opt["state"][key][name]), torch.as_tensor(value))


def test_resume_without_the_random_states_would_differ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control for the test above: restoring everything but the random streams (dropout,
    # shuffling, random, numpy) is not enough, so that test really checks them.
    full_model, _, _ = _uninterrupted()
    monkeypatch.setattr(RandomStreams, "load_state_dict", lambda self, state: None)
    model, _, _ = _interrupted_then_resumed(tmp_path, "stopped after 3 epochs")
    assert not same_weights(model, full_model)


def test_checkpoint_holds_only_plain_data_and_loads_with_weights_only(tmp_path: Path) -> None:
    train, evals = _data()
    trainer = make_trainer(make_model(), max_epochs=2, checkpoint_dir=tmp_path)
    history = trainer.fit(train, eval_data=evals)
    path = trainer.checkpoint_path
    assert path == tmp_path / CHECKPOINT_NAME
    data = torch.load(path, weights_only=True)  # raises on anything but plain data
    assert data["format"] == CHECKPOINT_FORMAT
    assert (data["epoch"], data["step"], data["seed"], data["world_size"]) == (2, 12, 7, 1)
    assert History.from_dict(data["history"]) == history
    assert len(data["rng"]) == 1 and set(data["rng"][0]) == {
        "data",
        "torch",
        "cuda",
        "python",
        "numpy",
    }
    assert sorted(os.listdir(tmp_path)) == [CHECKPOINT_NAME]


def test_checkpoint_every_n_epochs_and_after_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[int] = []
    real = torch.save

    def spy(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        written.append(obj["epoch"])
        real(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", spy)
    train, _ = _data()
    make_trainer(make_model(), max_epochs=7, checkpoint_dir=tmp_path, checkpoint_every=3).fit(train)
    assert written == [3, 6, 7]


def _flaky_save(fail_from: int) -> Any:
    real = torch.save
    calls = 0

    def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls < fail_from:
            real(obj, f, *args, **kwargs)
            return
        # Half a zip archive reaches the temporary file, then the write dies.
        f.write(b"PK\x03\x04" + b"\x00" * 100)
        f.flush()
        raise OSError(28, "No space left on device (simulated)")

    return save


def test_a_failed_write_leaves_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch, "save", _flaky_save(fail_from=3))
    train, evals = _data()
    trainer = make_trainer(make_model(), max_epochs=4, checkpoint_dir=tmp_path)
    with pytest.raises(OSError, match="simulated"):
        trainer.fit(train, eval_data=evals)
    monkeypatch.undo()
    # The epoch-3 write failed: the epoch-2 checkpoint is intact, and no temporary is left.
    assert sorted(os.listdir(tmp_path)) == [CHECKPOINT_NAME]
    path = tmp_path / CHECKPOINT_NAME
    assert load_checkpoint(path)["epoch"] == 2
    # ... and it is good enough to finish the run exactly.
    model = make_model(init_seed=5)
    train, evals = _data()
    resumed = make_trainer(model, max_epochs=EPOCHS)
    resumed.fit(train, eval_data=evals, resume_from=path)
    assert_same_weights(model, _uninterrupted()[0])


_KILLED_WRITER = """
import os, signal, sys
import torch
sys.path.insert(0, sys.argv[2])
from train_helpers import make_model, make_trainer
trainer = make_trainer(make_model(), max_epochs=1)
trainer.save_checkpoint(sys.argv[1])
def dying_save(obj, f, *args, **kwargs):
    f.write(b"PK\\x03\\x04" + b"\\x00" * 4096)
    f.flush()
    os.fsync(f.fileno())
    os.kill(os.getpid(), signal.SIGKILL)
torch.save = dying_save
with torch.no_grad():
    for p in trainer.model.parameters():
        p.add_(1.0)
trainer.save_checkpoint(sys.argv[1])
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_a_killed_process_never_leaves_a_corrupt_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_NAME
    helpers = str(Path(__file__).resolve().parent)
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(path), helpers],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # The process died with half a file written: that file is a hidden temporary ...
    leftovers = [n for n in os.listdir(tmp_path) if n != CHECKPOINT_NAME]
    assert len(leftovers) == 1 and leftovers[0].startswith(f".{CHECKPOINT_NAME}.")
    # ... and the checkpoint is the complete first one (weights before the +1).
    data = load_checkpoint(path)
    assert_same_weights_dict(data["model"], make_model().state_dict())
    # The next successful write of the checkpoint clears the stale temporary.
    make_trainer(make_model(), max_epochs=1).save_checkpoint(path)
    assert sorted(os.listdir(tmp_path)) == [CHECKPOINT_NAME]


def assert_same_weights_dict(a: dict[str, Tensor], b: dict[str, Tensor]) -> None:
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_file_is_reported_not_loaded(tmp_path: Path, damage: str) -> None:
    path = tmp_path / CHECKPOINT_NAME
    make_trainer(make_model(), max_epochs=1).save_checkpoint(path)
    raw = path.read_bytes()
    path.write_bytes(
        {"garbage": b"not a checkpoint", "truncated": raw[: len(raw) // 2], "empty": b""}[damage]
    )
    with pytest.raises(ConfigurationError, match="not a readable checkpoint"):
        load_checkpoint(path)
    train, _ = _data()
    with pytest.raises(ConfigurationError, match="not a readable checkpoint"):
        make_trainer(make_model(), max_epochs=2).fit(train, resume_from=path)


def test_a_file_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.ones(2)}, path)
    with pytest.raises(ConfigurationError, match="not a checkpoint of format"):
        load_checkpoint(path)


def test_a_missing_checkpoint_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nothing.pt")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": 8}, "seed=7"),
        ({"max_epochs": 1}, "past max_epochs=1"),
        ({"scheduler": None}, "scheduler"),
        ({"model": "wider"}, "does not fit"),
    ],
    ids=["other seed", "past max_epochs", "no scheduler", "other model"],
)
def test_resume_refuses_a_checkpoint_of_another_run(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    train, _ = _data()
    make_trainer(make_model(), max_epochs=2, checkpoint_dir=tmp_path).fit(train)
    model = (
        nn.Sequential(nn.Linear(3, 32), nn.Tanh(), nn.Dropout(0.2), nn.Linear(32, 1))
        if change.get("model") == "wider"
        else make_model()
    )
    options = {k: v for k, v in change.items() if k != "model"}
    if "scheduler" in options:
        options.pop("scheduler")
        from neurosym.train import Trainer

        trainer = Trainer(
            model,
            noisy_mse,
            torch.optim.Adam(model.parameters()),
            max_epochs=3,
            seed=7,
            progress=False,
        )
    else:
        options.setdefault("max_epochs", 3)
        trainer = make_trainer(model, **options)
    with pytest.raises(ConfigurationError, match=message):
        trainer.fit(train, resume_from=tmp_path / CHECKPOINT_NAME)
