"""Shared fixtures: pin torch to one thread (small ops on 2 shared cores spin otherwise)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    # Only when torch is already imported by a test module; importing it here would make
    # the "check does not import torch" tests meaningless in-process (they use subprocesses).
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import torch
        except ImportError:
            return
    torch.set_num_threads(1)


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def root_dir() -> Path:
    return ROOT
