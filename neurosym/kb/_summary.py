"""What the static checks need to know of the facts, kept up to date as facts come and go.

When every fact is plain (see :func:`._check.check_kb`) the checks' result depends only on
the other statements and on which predicates have facts. Whether the facts are plain, and
which predicates have them, is kept here per added and removed fact, so a consultation's
check does not read every fact again.
"""

from __future__ import annotations

from typing import final

from neurosym.lang import Const, Fact, FixedWeight, Number, String

__all__ = ["FactSummary"]

_GROUND_LEAVES = (Const, Number, String)


def _irregular(f: Fact) -> bool:
    """A fact with a non-ground argument, or a weight other than one in [0, 1]."""
    for a in f.atom.args:
        if type(a) not in _GROUND_LEAVES:
            return True
    w = f.weight
    return w is not None and not (type(w) is FixedWeight and 0.0 <= w.value <= 1.0)


@final
class FactSummary:
    """Counts over the facts of a knowledge base: per predicate name and arity, the names
    they carry, and how many are not plain on their own."""

    __slots__ = ("_keys", "arities", "count", "irregular", "names", "repeated", "several")

    def __init__(self) -> None:
        self.count = 0
        #: per predicate name, the facts of each arity
        self.arities: dict[str, dict[int, int]] = {}
        #: predicate names whose facts have several arities
        self.several = 0
        #: facts with a non-ground argument or a weight outside [0, 1] (or learnable)
        self.irregular = 0
        #: the facts carrying each name
        self.names: dict[str, int] = {}
        #: names carried by more than one fact
        self.repeated = 0
        self._keys: frozenset[tuple[str, int]] | None = None

    def change(self, f: Fact, step: int) -> None:
        """Count fact ``f`` in (``step`` = +1) or out (-1)."""
        self.count += step
        atom = f.atom
        arity = len(atom.args)
        by_arity = self.arities.get(atom.predicate)
        if by_arity is None:
            by_arity = self.arities[atom.predicate] = {}
        before = len(by_arity)
        n = by_arity.get(arity, 0) + step
        if n:
            by_arity[arity] = n
        else:
            del by_arity[arity]
        after = len(by_arity)
        if before != after:
            self._keys = None
            self.several += (after > 1) - (before > 1)
            if not after:
                del self.arities[atom.predicate]
        if _irregular(f):
            self.irregular += step
        if f.name is not None:
            k = self.names.get(f.name, 0)
            if k + step:
                self.names[f.name] = k + step
            else:
                del self.names[f.name]
            self.repeated += (k + step > 1) - (k > 1)

    def keys(self) -> frozenset[tuple[str, int]]:
        """The ``(predicate, arity)`` of the facts."""
        if self._keys is None:
            self._keys = frozenset((p, a) for p, by in self.arities.items() for a in by)
        return self._keys

    def plain_keys(
        self, rule_names: set[str], arities: dict[str, int]
    ) -> frozenset[tuple[str, int]] | None:
        """:meth:`keys` when every fact is plain: ground, with no weight or one in [0, 1],
        its name taken by no other statement, its predicate used with one arity (that of
        ``arities``, the arity of each predicate the other statements use, -1 for
        several); else ``None``. Reads the other statements, not the facts."""
        if self.irregular or self.repeated or self.several:
            return None
        names = self.names
        if names:
            small, large = (rule_names, names) if len(rule_names) <= len(names) else (
                names, rule_names)  # fmt: skip
            for n in small:
                if n in large:
                    return None
        facts = self.arities
        if len(facts) <= len(arities):
            for name, by in facts.items():
                usual = arities.get(name)
                if usual is not None and usual not in by:
                    return None
        else:
            for name, usual in arities.items():
                found = facts.get(name)
                if found is not None and usual not in found:
                    return None
        return self.keys()
