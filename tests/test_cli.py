"""The command line: exit statuses, output formats, graph export, canonical formatting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from neurosym.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _rules(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_clean_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _rules(tmp_path, "ok.rules", "p(a).\nq(X) :- p(X).\n")
    assert main(["check", str(f)]) == 0
    out = capsys.readouterr().out
    assert "1 fact, 1 rule, 0 constraints, 0 queries" in out
    assert "checked 1 file: 0 errors, 0 warnings" in out


def test_errors_exit_1_and_are_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _rules(tmp_path, "bad.rules", "p(a).\nq(X) :- pp(X).\n")
    assert main(["check", str(f)]) == 1
    out = capsys.readouterr().out
    assert f"{f}:2:9: error: pp/1 is used but no fact, rule or network defines it" in out


def test_syntax_error_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _rules(tmp_path, "bad.rules", "p(a\n")
    assert main(["check", "-q", str(f)]) == 1
    assert "unbalanced parenthesis" in capsys.readouterr().out


def test_warnings_pass_unless_strict(tmp_path: Path) -> None:
    f = _rules(tmp_path, "w.rules", "p(1, 2).\nq(X) :- p(X, Y).\n")
    assert main(["check", "-q", str(f)]) == 0
    assert main(["check", "-q", "--strict", str(f)]) == 1


def test_bad_usage_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "missing.rules")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["check", "--no-such-option", "x"])
    assert info.value.code == 2
    f = _rules(tmp_path, "ok.rules", "p.\n")
    assert main(["graph", str(f), "-o", str(tmp_path / "out.xyz")]) == 2
    assert main(["check", "--facts", "oops", str(f)]) == 2


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _rules(tmp_path, "bad.rules", "q(X) :- p(X, Y).\np(1, 2).\n")
    assert main(["check", "--format", "json", str(f)]) == 0
    (d,) = json.loads(capsys.readouterr().out)
    assert (d["code"], d["severity"], d["line"], d["column"]) == (
        "singleton-variable", "warning", 1, 14,
    )  # fmt: skip


def test_directory_and_facts(tmp_path: Path) -> None:
    _rules(tmp_path, "a.rules", "old(P) :- person(P, A), A > 30.\n")
    table = _rules(tmp_path, "people.csv", "ann,40\nbob,20\n")
    assert main(["check", "-q", str(tmp_path / "a.rules")]) == 1  # person/2 undefined
    assert main(["check", "-q", "--facts", f"person={table}", str(tmp_path)]) == 0


@pytest.mark.parametrize("suffix", [".graphml", ".dot", ".json"])
def test_graph_command(tmp_path: Path, suffix: str) -> None:
    f = _rules(tmp_path, "k.rules", "p(a).\nq(X) :- p(X).\n")
    out = tmp_path / f"g{suffix}"
    assert main(["graph", str(f), "-o", str(out)]) == 0
    assert out.stat().st_size > 0


def test_fmt_prints_check_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _rules(tmp_path, "k.rules", "q(X):-p(X) ,not r(X).\np(a).   r(b).\n")
    canonical = "q(X) :- p(X), not r(X).\np(a).\nr(b).\n"
    assert main(["fmt", str(f)]) == 0
    assert capsys.readouterr().out == canonical
    assert main(["fmt", "--check", str(f)]) == 1
    assert main(["fmt", "-w", str(f)]) == 0
    assert f.read_text() == canonical
    assert main(["fmt", "--check", str(f)]) == 0


def test_python_dash_m(tmp_path: Path) -> None:
    f = _rules(tmp_path, "k.rules", "p(a).\n")
    done = subprocess.run(
        [sys.executable, "-m", "neurosym", "check", "-q", str(f)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_shipped_rule_files_pass_check() -> None:
    files = sorted((ROOT / "rules").glob("*.rules"))
    assert len(files) >= 4
    assert main(["check", "-q", *map(str, files)]) == 0


def test_fmt_keeps_comments_and_paragraphs(tmp_path: Path) -> None:
    source = (
        "% header comment\n"
        "p(a).   % trailing\n"
        "\n\n\n"
        "# section\n"
        "q(X):-\n"
        "   % inside a multi-line rule\n"
        "   p(X).\n"
        "r(b). s(c).\n"
        "% last words\n"
    )
    expected = (
        "% header comment\n"
        "p(a).  % trailing\n"
        "\n"
        "# section\n"
        "% inside a multi-line rule\n"
        "q(X) :- p(X).\n"
        "r(b).\n"
        "s(c).\n"
        "% last words\n"
    )
    f = _rules(tmp_path, "c.rules", source)
    assert main(["fmt", "-w", str(f)]) == 0
    assert f.read_text() == expected
    assert main(["fmt", "--check", str(f)]) == 0  # idempotent


def test_fmt_refuses_broken_files_and_leaves_them(tmp_path: Path) -> None:
    f = _rules(tmp_path, "b.rules", "p(a\n")
    assert main(["fmt", "-w", str(f)]) == 1
    assert f.read_text() == "p(a\n"


def test_check_refuses_an_include_outside_the_rule_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "x.rules").write_text("q(1).\n", encoding="utf-8")
    (tmp_path / "kb").mkdir()
    f = _rules(tmp_path / "kb", "main.rules", 'include "../private/x.rules".\n')
    assert main(["check", str(f)]) == 1
    out = capsys.readouterr().out
    assert f"{f}:1:1: error: include '../private/x.rules' leaves the rule directory" in out
    assert main(["check", "--include-root", str(tmp_path / "private"), str(f)]) == 0
