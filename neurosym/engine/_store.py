"""Relations: sets of ground tuples with hash indexes on bound positions, built on demand.

Measured choice: plain Python tuples of interned ``str``/numbers in a ``set`` plus
``dict`` indexes. Strings hash once (the hash is cached in the object), tuples of them
compare fast, and an index lookup is one dict access; integer interning saved nothing
measurable on the benchmarks and cost a translation at every boundary.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, final

from ._values import Value

__all__ = ["Relation", "Store", "relation_of"]

Fact = tuple[Value, ...]


_SCAN_MAX = 8
"""Relations of at most this many tuples are searched through instead of indexed (a
consultation's relations hold a fact or two, each looked up once or twice)."""


@final
class Relation:
    """The tuples of one predicate, with indexes keyed by the positions they bind."""

    __slots__ = ("_lazy", "_tuples", "indexes")

    def __init__(self, tuples: Iterable[Fact] = ()) -> None:
        self._tuples: set[Fact] = set(tuples)
        #: rows added in bulk, not yet tuples (a list once there are some)
        self._lazy: list[Any] | tuple[()] = ()
        #: the indexes made so far (``None``: none yet)
        self.indexes: dict[tuple[int, ...], dict[Fact, list[Fact]]] | None = None

    def copy(self) -> Relation:
        """The same tuples, to change apart from this one (indexes are made again)."""
        return relation_of(set(self.tuples))

    @property
    def tuples(self) -> set[Fact]:
        """The tuples as a set (rows added in bulk are turned into tuples on first use)."""
        if self._lazy:
            for rows in self._lazy:
                self._tuples.update(map(tuple, rows.tolist()))
            self._lazy = ()
        return self._tuples

    def extend_lazy(self, rows: Any) -> None:
        """Add new, distinct rows (a 2-D object array) without building tuples yet."""
        if not self.indexes:
            if self._lazy:
                self._lazy.append(rows)
            else:
                self._lazy = [rows]
            return
        for t in map(tuple, rows.tolist()):  # indexes exist: keep them current now
            self.add(t)

    def __len__(self) -> int:
        if not self._lazy:
            return len(self._tuples)
        return len(self._tuples) + sum(len(r) for r in self._lazy)

    def __contains__(self, t: object) -> bool:
        return t in self.tuples

    def __iter__(self) -> Iterator[Fact]:
        return iter(self.tuples)

    def add(self, t: Fact) -> bool:
        """Add a tuple; returns whether it was new. Existing indexes are kept current."""
        tuples = self.tuples if self._lazy else self._tuples
        if t in tuples:
            return False
        tuples.add(t)
        if not self.indexes:
            return True
        for positions, index in self.indexes.items():
            key = tuple(t[p] for p in positions)
            bucket = index.get(key)
            if bucket is None:
                index[key] = [t]
            else:
                bucket.append(t)
        return True

    def discard(self, t: Fact) -> None:
        """Remove a tuple (and its index entries) if present."""
        tuples = self.tuples
        if t not in tuples:
            return
        tuples.discard(t)
        if not self.indexes:
            return
        for positions, index in self.indexes.items():
            bucket = index.get(tuple(t[p] for p in positions))
            if bucket is not None:
                bucket.remove(t)

    def lookup(self, positions: tuple[int, ...], key: Fact) -> Iterable[Fact]:
        """The tuples whose values at ``positions`` equal ``key``."""
        if not positions:
            return self.tuples if self._lazy else self._tuples
        indexes = self.indexes
        index = indexes.get(positions) if indexes is not None else None
        if index is None:
            tuples = self.tuples if self._lazy else self._tuples
            if len(tuples) <= _SCAN_MAX:  # a few tuples: looked through, no index made
                if len(positions) == 1:
                    p, k = positions[0], key[0]
                    return [t for t in tuples if t[p] is k or t[p] == k]
                return [
                    t for t in tuples
                    if all(t[p] is k or t[p] == k for p, k in zip(positions, key))
                ]  # fmt: skip
            index = {}
            for t in tuples:
                k = tuple(t[p] for p in positions)
                bucket = index.get(k)
                if bucket is None:
                    index[k] = [t]
                else:
                    bucket.append(t)
            if indexes is None:
                indexes = self.indexes = {}
            indexes[positions] = index
        return index.get(key, ())


_new = object.__new__


def relation_of(tuples: set[Fact]) -> Relation:
    """A relation of ``tuples``, taken as they are, not copied (``Relation.__init__``
    inlined: one is made for each predicate a consultation reads)."""
    rel: Relation = _new(Relation)
    rel._tuples, rel._lazy, rel.indexes = tuples, (), None
    return rel


@final
class Store:
    """Relations by predicate key (``name/arity``).

    Read a relation through ``relations``; change one only through :meth:`get`, which
    copies a relation shared with others (:meth:`share`) before it is changed.
    """

    __slots__ = ("relations", "shared")

    def __init__(self) -> None:
        self.relations: dict[str, Relation] = {}
        #: the predicates whose relations belong to others (base facts): copied on write
        self.shared: set[str] = set()

    def get(self, pred: str) -> Relation:
        """The relation of ``pred``, to add to (or take from)."""
        rel = self.relations.get(pred)
        if rel is None:
            rel = self.relations[pred] = Relation()
        elif self.shared and pred in self.shared:
            self.shared.discard(pred)
            rel = self.relations[pred] = rel.copy()
        return rel

    def share(self, pred: str, rel: Relation) -> None:
        """Hold ``rel`` (not empty) as the relation of ``pred`` without copying it: it is
        read in place, and copied by :meth:`get` before any change."""
        self.relations[pred] = rel
        self.shared.add(pred)

    def size(self) -> int:
        return sum(len(r) for r in self.relations.values())
