"""Architecture: imports go one way, and the symbolic layers never import torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "neurosym"

# Each layer and the layers it may import (besides itself, neurosym.errors and _io).
ALLOWED: dict[str, set[str]] = {
    "lang": set(),
    "kb": {"lang"},
    "engine": {"lang", "kb"},
    "explain": {"lang", "kb", "engine"},
    "ode": set(),
    "bridge": {"lang", "kb", "engine", "explain", "ode"},
    "optim": {"ode", "lang", "kb", "engine", "explain"},
    "train": {"ode", "bridge", "lang", "kb", "engine", "explain", "optim"},
    "kbc": {"ode", "bridge", "lang", "kb", "engine", "explain", "optim", "train"},
    "viz": {"lang", "kb", "engine", "explain", "ode", "bridge", "optim", "train", "kbc"},
    "cli": {"lang", "kb", "engine", "explain", "ode", "bridge", "optim", "train", "kbc", "viz"},
}
BOTTOM = {"errors", "_io", "_typing"}
NO_TORCH = {"lang", "kb", "engine", "explain", "errors", "_io", "cli"}


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imported_layers(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[tuple[str, int]] = set()
    rel_parts = path.relative_to(PACKAGE).parts
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["neurosym", *rel_parts[:-1]][: len(rel_parts) - node.level + 1]
                names = [".".join([*base, *([node.module] if node.module else [])])]
            elif node.module:
                names = [node.module]
            if names == ["neurosym"]:  # from neurosym import bridge / __version__
                names = [
                    f"neurosym.{a.name}"
                    if a.name in ALLOWED or a.name in BOTTOM or (PACKAGE / a.name).is_dir()
                    else "neurosym.__init__"
                    for a in node.names
                ]
        for name in names:
            parts = name.split(".")
            if parts[0] == "neurosym" and len(parts) > 1:
                out.add((parts[1], node.lineno))
            elif parts[0] == "torch":
                out.add(("torch", node.lineno))
    return out


FILES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(PACKAGE)) for p in FILES])
def test_imports_point_downward(path: Path) -> None:
    layer = _layer(path)
    if layer == "__init__":
        return  # the top-level package re-exports; checked by test_top_level_is_light
    bad = []
    for target, line in _imported_layers(path):
        if target == "torch":
            if layer in NO_TORCH:
                bad.append(f"line {line}: torch imported in {layer}")
            continue
        if target in BOTTOM or target == layer or target == "__init__":
            continue
        if target not in ALLOWED.get(layer, set()):
            bad.append(f"line {line}: {layer} imports {target} (an upward or sideways arrow)")
    assert bad == []


@pytest.mark.parametrize(
    "code",
    [
        "import neurosym",
        "import neurosym.kb",
        "import neurosym.lang",
        "from neurosym.cli import main",
    ],
)
def test_symbolic_layers_do_not_import_torch(code: str) -> None:
    probe = f"{code}\nimport sys\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_check_command_does_not_import_torch(tmp_path: Path) -> None:
    rules = tmp_path / "a.rules"
    rules.write_text("p(a).\nq(X) :- p(X).\n")
    probe = (
        "import sys\nfrom neurosym.cli import main\n"
        f"status = main(['check', '-q', {str(rules)!r}])\n"
        "print(status, 'torch' in sys.modules, 'sympy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", "False"]


def test_the_walker_sees_a_wrong_way_arrow(tmp_path: Path) -> None:
    # The test above must be able to fail: a kb module importing torch is caught.
    fake = PACKAGE / "kb" / "_probe_wrong_way.py"
    fake.write_text("import torch\nfrom neurosym import bridge\n")
    try:
        found = _imported_layers(fake)
    finally:
        fake.unlink()
    # (written inside the package so relative resolution is exercised the same way)
    assert {t for t, _ in found} == {"torch", "bridge"}
