"""Golden files: programs that check clean, and errors with their exact diagnostics.

A regression test is one new file: ``tests/data/programs/NAME.rules`` (must load and
check without a single diagnostic) or ``tests/data/errors/NAME.rules`` beside
``NAME.expected`` (the exact rendered diagnostics, hand-reviewed).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from golden import diagnostics_text

DATA = Path(__file__).parent / "data"
PROGRAMS = sorted((DATA / "programs").glob("*.rules"))
ERRORS = sorted((DATA / "errors").glob("*.rules"))


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_program_checks_clean(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(path.parent)
    assert diagnostics_text(path.name) == ""


@pytest.mark.parametrize("path", ERRORS, ids=[p.stem for p in ERRORS])
def test_error_diagnostic_is_exact(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(path.parent)
    expected = path.with_suffix(".expected").read_text(encoding="utf-8")
    assert expected, f"{path.name}: an error case must expect at least one diagnostic"
    assert diagnostics_text(path.name) == expected


def test_every_error_case_has_an_expectation() -> None:
    assert len(ERRORS) >= 20
    missing = [p.name for p in ERRORS if not p.with_suffix(".expected").exists()]
    assert missing == []
