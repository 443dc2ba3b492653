"""What the static checks need to know of the facts, kept up to date as facts come and go.

When every fact is plain (see :func:`._check.check_kb`) the checks' result depends only on
the other statements and on which predicates have facts. Whether the facts are plain, and
which predicates have them, is kept here per added and removed fact, so a consultation's
check does not read every fact again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import final

from neurosym.lang import Const, Fact, FixedWeight, Number, String

__all__ = ["FactSummary"]

_GROUND_LEAVES = (Const, Number, String)


@final
class FactSummary:
    """Counts over the facts of a knowledge base: per predicate name and arity, the names
    they carry, and how many are not plain on their own."""

    __slots__ = ("_keys", "by_key", "count", "irregular", "names", "repeated", "several", "shapes")

    def __init__(self) -> None:
        self.count = 0
        #: the facts of each ``(predicate, arity)``
        self.by_key: dict[tuple[str, int], int] = {}
        #: per predicate name, how many arities its facts have
        self.shapes: dict[str, int] = {}
        #: predicate names whose facts have several arities
        self.several = 0
        #: facts with a non-ground argument or a weight outside [0, 1] (or learnable)
        self.irregular = 0
        #: the facts carrying each name
        self.names: dict[str, int] = {}
        #: names carried by more than one fact
        self.repeated = 0
        self._keys: frozenset[tuple[str, int]] | None = None

    def update(self, changes: Iterable[tuple[int, Fact]]) -> None:
        """Count facts in (``+1``) and out (``-1``), in order."""
        by_key, shapes, names = self.by_key, self.shapes, self.names
        count, several = self.count, self.several
        irregular, repeated = self.irregular, self.repeated
        keys = self._keys
        for step, f in changes:  # one loop, everything inlined: it runs for every change
            count += step
            atom = f.atom
            args = atom.args
            key = (atom.predicate, len(args))
            n = by_key.get(key, 0)
            if n + step:
                by_key[key] = n + step
            else:
                del by_key[key]
            if not n or not n + step:  # the key comes or goes
                keys = None
                m = shapes.get(key[0], 0)
                if m + step:
                    shapes[key[0]] = m + step
                else:
                    del shapes[key[0]]
                several += (m + step > 1) - (m > 1)
            w = f.weight
            if w is not None and not (type(w) is FixedWeight and 0.0 <= w.value <= 1.0):
                irregular += step
            else:
                for a in args:
                    if type(a) not in _GROUND_LEAVES:
                        irregular += step
                        break
            name = f.name
            if name is not None:
                k = names.get(name, 0)
                if k + step:
                    names[name] = k + step
                else:
                    del names[name]
                repeated += (k + step > 1) - (k > 1)
        self.count, self.several = count, several
        self.irregular, self.repeated = irregular, repeated
        self._keys = keys

    def keys(self) -> frozenset[tuple[str, int]]:
        """The ``(predicate, arity)`` of the facts."""
        if self._keys is None:
            self._keys = frozenset(self.by_key)
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
        by_key = self.by_key
        if len(by_key) <= len(arities):
            for name, arity in by_key:
                usual = arities.get(name, arity)
                if usual != arity:
                    return None
        else:
            shapes = self.shapes
            for name, usual in arities.items():
                if name in shapes and (name, usual) not in by_key:
                    return None
        return self.keys()
