"""Render what `neurosym check` reports for a rule file, for the golden tests."""

from __future__ import annotations

from pathlib import Path

import neurosym as ns


def diagnostics_text(name: str) -> str:
    """All diagnostics of loading and checking ``name`` (relative to the cwd), rendered."""
    try:
        kb = ns.load(Path(name))
    except ns.RuleSyntaxError as exc:
        return exc.diagnostic.render() + "\n"
    except ns.KnowledgeBaseError as exc:
        return "".join(d.render() + "\n" for d in exc.diagnostics)
    return "".join(d.render() + "\n" for d in kb.check())
