"""The docs stay true: every ```prolog block parses, every `$ neurosym ...` output matches.

In a doc, a ```prolog block whose first line is ``% file: NAME`` is written to NAME in a
scratch folder (holding a copy of ``rules/``); a ```text block whose first line is
``$ neurosym ...`` is run there and its output compared. A command naming a ``.rules``
file that no block declared gets the ```prolog block just before it. ``[exit N]`` at the
end of an output block states the exit status.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
from pathlib import Path

import pytest

from neurosym.cli import main
from neurosym.lang import parse_text

ROOT = Path(__file__).resolve().parent.parent
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def _blocks(doc: Path) -> list[tuple[str, str, int]]:
    text = doc.read_text(encoding="utf-8")
    return [
        (m.group(1), m.group(2), text[: m.start()].count("\n") + 1) for m in _BLOCK.finditer(text)
    ]


def _run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exc:
            status = int(exc.code or 0)
    return status, out.getvalue() + err.getvalue()


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_prolog_blocks_parse(doc: Path) -> None:
    for lang, body, line in _blocks(doc):
        if lang == "prolog":  # a block that does not parse raises RuleSyntaxError here
            assert parse_text(body, file=f"{doc.name}:{line}").statements is not None


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_command_outputs_match(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    blocks = _blocks(doc)
    declared = {
        m.group(1)
        for _, body, _ in blocks
        if (m := re.match(r"% file: (\S+)", body.splitlines()[0] if body.strip() else ""))
    }
    previous: str | None = None
    mismatches: list[str] = []
    for lang, body, line in blocks:
        first = body.splitlines()[0] if body.strip() else ""
        if m := re.match(r"% file: (\S+)", first):
            target = tmp_path / m.group(1)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body)
        if (m := re.match(r"\$ cat (\S+)$", first)) and lang == "text":
            (tmp_path / m.group(1)).write_text(body.split("\n", 1)[1])
        if lang == "text" and first.startswith("$ neurosym "):
            argv = shlex.split(first[2:])[1:]
            target_name = next((a for a in argv if a.endswith(".rules")), None)
            made = bool(
                target_name
                and target_name not in declared
                and previous is not None
                and not (tmp_path / target_name).exists()
            )
            if made:
                (tmp_path / str(target_name)).write_text(str(previous))
            status, got = _run(argv)
            lines = body.split("\n", 1)[1].splitlines() if "\n" in body else []
            exits = [x for x in lines if x.startswith("[exit ")]
            expected = "\n".join(x for x in lines if not x.startswith("[exit "))
            if got.rstrip("\n") != expected.rstrip("\n") or (
                exits and exits[0] != f"[exit {status}]"
            ):
                mismatches.append(
                    f"{doc.name}:{line}: {first}\n--- got:\n{got}--- doc:\n{expected}"
                )
            if made:
                (tmp_path / str(target_name)).unlink()
        previous = body if lang == "prolog" and not first.startswith("% file:") else None
    assert mismatches == [], "\n".join(mismatches)
