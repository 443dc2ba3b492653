"""The base facts of a program, by predicate, kept up to date as facts come and go.

A consultation (assert a few observations, infer or ask, retract them) should cost what
its rules can read, not what the knowledge base holds. So the compiled facts are kept per
predicate: a change to the facts copies the entries of the predicates it touches (the
rest are shared with the earlier snapshot, which a program compiled before keeps), and an
evaluation takes the relations of the predicates its rules reach, shared copy on write
(:meth:`.Store.share`), instead of filling a store fact by fact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, final

from neurosym.lang import Const, Fact, FixedWeight, LearnableWeight

from ._compile import pred_key
from ._store import Relation, Store, relation_of
from ._values import Value, term_value

__all__ = ["BaseFacts", "PredFacts", "fact_key", "fact_weight"]

FactKey = tuple[str, tuple[Value, ...]]
Args = tuple[Value, ...]


def args_key(args: Sequence[Any]) -> Args:
    """The argument tuple of a fact's terms (constants by name)."""
    n = len(args)
    if n == 1:  # the common arities spelt out: a list comprehension costs more
        a = args[0]
        return (a.name if type(a) is Const else term_value(a),)
    if n == 2:
        a, b = args
        return (
            a.name if type(a) is Const else term_value(a),
            b.name if type(b) is Const else term_value(b),
        )
    return tuple([a.name if type(a) is Const else term_value(a) for a in args])


def fact_key(f: Fact) -> FactKey:
    """``("p/2", ("a", 1))`` for the fact ``p(a, 1).``"""
    atom = f.atom
    args = atom.args
    return (pred_key(atom.predicate, len(args)), args_key(args))


def fact_weight(f: Fact) -> float | None:
    """A fact's weight (a learnable one's initial value), or ``None`` without one."""
    w = f.weight
    return (
        None if w is None else w.value if isinstance(w, FixedWeight)
        else w.initial if isinstance(w, LearnableWeight) else None
    )  # fmt: skip


def _odd(weight: Any) -> bool:
    """A number outside [0, 1]: meaningful only to some semantics (certainty factors)."""
    return type(weight) in (float, int) and not 0.0 <= weight <= 1.0


def _holds(weights: Sequence[Any]) -> bool:
    """Whether a fact holds under boolean semantics: some weight positive, or none given."""
    for w in weights:  # noqa: SIM110 - a loop, not any(...): no generator for a weight or two
        if w is None or w > 0:
            return True
    return False


@final
class PredFacts:
    """The base facts of one predicate: weights and statements by argument tuple, and
    their relations (made on first use; every tuple, or those that hold under boolean
    semantics). Changed only while being built; shared, never changed, afterwards."""

    __slots__ = ("_every", "_holding", "blocked", "odd", "sources", "weights")

    def __init__(
        self,
        weights: dict[Args, list[Any]] | None = None,
        sources: dict[Args, list[Fact]] | None = None,
        blocked: int | None = 0,
        odd: int = 0,
    ) -> None:
        self.weights: dict[Args, list[Any]] = {} if weights is None else weights
        self.sources: dict[Args, list[Fact]] = {} if sources is None else sources
        #: tuples that do not hold under boolean semantics; None: not counted yet
        self.blocked = blocked
        #: weights that are numbers outside [0, 1]
        self.odd = odd
        self._every: Relation | None = None
        self._holding: Relation | None = None

    def copy(self) -> PredFacts:
        """A copy to change (its lists are replaced on change, never changed in place)."""
        new: PredFacts = _new_pred(PredFacts)  # __init__ inlined: a consultation makes a few
        new.weights, new.sources, new.blocked, new.odd = (
            self.weights.copy(), self.sources.copy(), self.blocked, self.odd)  # fmt: skip
        new._every = new._holding = None
        return new

    def add(self, args: Args, weight: Any, fact: Fact | None) -> None:
        if weight is not None and _odd(weight):
            self.odd += 1
        ws = self.weights.get(args)
        if ws is None:
            self.weights[args] = [weight]
            self.sources[args] = [] if fact is None else [fact]
            if weight is not None and self.blocked is not None and not weight > 0:
                self.blocked += 1
        else:
            new = [*ws, weight]
            if self.blocked is not None and not _holds(ws) and _holds(new):
                self.blocked -= 1
            self.weights[args] = new
            if fact is not None:
                self.sources[args] = [*self.sources[args], fact]
        self._every = self._holding = None

    def remove(self, args: Args, fact: Fact) -> None:
        found = self.sources.get(args)
        if found is None:
            return
        for i, g in enumerate(found):  # noqa: B007 - i is read after the loop
            if g is fact:
                break
        else:
            return
        ws = self.weights[args]
        if ws[i] is not None and _odd(ws[i]):
            self.odd -= 1
        was = self.blocked is not None and _holds(ws)
        if len(found) == 1:
            del self.weights[args], self.sources[args]
            if self.blocked is not None and not was:
                self.blocked -= 1
        else:
            new = ws[:i] + ws[i + 1 :]
            self.weights[args] = new
            self.sources[args] = found[:i] + found[i + 1 :]
            if self.blocked is not None and was and not _holds(new):
                self.blocked += 1
        self._every = self._holding = None

    def holding_count(self) -> int:
        """How many tuples hold under boolean semantics."""
        if self.blocked is None:
            self.blocked = sum(1 for ws in self.weights.values() if not _holds(ws))
        return len(self.weights) - self.blocked

    def relation(self, valued: bool) -> Relation | None:
        """Every tuple (``valued``), or those that hold under boolean semantics (``None``:
        none does); made once, then shared by every evaluation that reads this predicate."""
        if valued:
            rel = self._every
            if rel is None:
                rel = self._every = relation_of(set(self.weights))
            return rel
        rel = self._holding
        if rel is None:
            n = self.holding_count()
            if not n:
                return None
            if n == len(self.weights):
                rel = self.relation(True)
            else:
                rel = relation_of({t for t, ws in self.weights.items() if _holds(ws)})
            self._holding = rel
        return rel


_new_pred = object.__new__


@final
class BaseFacts:
    """The base facts of a program, by predicate key; a snapshot, never changed once made
    (:meth:`changed` makes the next one, sharing the predicates a change leaves alone).

    A small knowledge base rebuilt from scratch (a consultation's: its facts are mostly
    the observations just added) gets a lighter snapshot (:meth:`of_few`): the relations
    made straight from the statements, the per-predicate tables (weights, statements) made
    from them only when something asks for them. Whether they were asked for
    (:attr:`asked`) decides how the next snapshot rebuilt from scratch is made: valued
    consultations read every table, and a light snapshot would only add to their cost.
    """

    __slots__ = ("_by_pred", "_holding", "_keys", "_light", "_statements", "asked", "count", "odd")

    def __init__(self, by_pred: dict[str, PredFacts]) -> None:
        self._by_pred: dict[str, PredFacts] | None = by_pred
        #: distinct fact tuples, every predicate together
        self.count = sum(len(p.weights) for p in by_pred.values())
        #: weights that are numbers outside [0, 1], every predicate together
        self.odd = sum(p.odd for p in by_pred.values())
        self._holding: int | None = None
        self._keys: frozenset[str] | None = None
        #: a light snapshot's relations by predicate (every tuple holds), else None
        self._light: dict[str, Relation] | None = None
        #: a light snapshot's statements (its tables are made from them)
        self._statements: Sequence[Fact] = ()
        #: whether the tables were read (weights, statements): see :meth:`of_few`
        self.asked = False

    @property
    def by_pred(self) -> dict[str, PredFacts]:
        """The predicates with facts (each has at least one), with their tables (read
        for their weights or statements: :attr:`asked`)."""
        self.asked = True
        return self._tables()

    def _tables(self) -> dict[str, PredFacts]:
        found = self._by_pred
        if found is None:  # a light snapshot: made now, its relations kept
            found = self._by_pred = BaseFacts.of_statements(self._statements)._tables()
            for pred, rel in (self._light or {}).items():
                pf = found[pred]
                pf._every = pf._holding = rel
        return found

    @classmethod
    def of_few(cls, facts: Sequence[Fact]) -> BaseFacts:
        """The facts of a small knowledge base, as a light snapshot (see the class) when
        every fact holds under any semantics (no weight, or one in (0, 1]); else as
        :meth:`of_statements`."""
        light: dict[str, Relation] = {}
        count = 0
        for f in facts:  # this loop is a consultation's
            w = f.weight
            if w is not None and not (type(w) is FixedWeight and 0.0 < w.value <= 1.0):
                return cls.of_statements(facts)
            atom = f.atom
            args = atom.args
            key = args_key(args)
            pred = pred_key(atom.predicate, len(args))
            rel = light.get(pred)
            if rel is None:
                light[pred] = relation_of({key})
                count += 1
            else:
                count += rel.add(key)
        new = cls._made(None, count, 0, count)
        new._light, new._statements = light, facts
        return new

    @classmethod
    def of_statements(cls, facts: Iterable[Fact]) -> BaseFacts:
        by_pred: dict[str, PredFacts] = {}
        count = odd = blocked = 0
        for f in facts:  # fact_weight and PredFacts.add inlined: this loop is hot
            atom = f.atom
            args = atom.args
            key = args_key(args)
            pred = pred_key(atom.predicate, len(args))
            w = f.weight
            weight = (
                None if w is None else w.value if isinstance(w, FixedWeight)
                else w.initial if isinstance(w, LearnableWeight) else None
            )  # fmt: skip
            pf = by_pred.get(pred)
            if pf is None:  # a predicate's first fact (PredFacts.__init__ inlined)
                pf = by_pred[pred] = _new_pred(PredFacts)
                pf.weights, pf.sources, pf.blocked, pf.odd, pf._every, pf._holding = (
                    {key: [weight]}, {key: [f]}, 0, 0, None, None)  # fmt: skip
                count += 1
                if weight is not None:
                    if not weight > 0:
                        pf.blocked = 1
                        blocked += 1
                    if not 0.0 <= weight <= 1.0:
                        pf.odd = 1
                        odd += 1
                continue
            if key in pf.weights:  # the same fact again
                before = pf.odd, pf.blocked
                pf.add(key, weight, f)
                odd += pf.odd - before[0]
                blocked += pf.blocked - before[1]  # type: ignore[operator]  # counted
                continue
            pf.weights[key] = [weight]
            pf.sources[key] = [f]
            count += 1
            if weight is not None:
                if not weight > 0:
                    pf.blocked += 1  # type: ignore[operator]  # counted from the start
                    blocked += 1
                if not 0.0 <= weight <= 1.0:
                    pf.odd += 1
                    odd += 1
        return cls._made(by_pred, count, odd, count - blocked)

    @classmethod
    def _made(
        cls, by_pred: dict[str, PredFacts] | None, count: int, odd: int, holding: int | None
    ) -> BaseFacts:
        new = cls.__new__(cls)
        new._by_pred, new.count, new.odd, new._holding, new._keys = (
            by_pred, count, odd, holding, None)  # fmt: skip
        new._light, new._statements, new.asked = None, (), False
        return new

    @classmethod
    def of_mappings(
        cls, base: Mapping[FactKey, Sequence[Any]], sources: Mapping[FactKey, Sequence[Fact]]
    ) -> BaseFacts:
        """From weights (of any kind the semiring takes) and statements by fact key."""
        by_pred: dict[str, PredFacts] = {}
        for (pred, args), weights in base.items():
            pf = by_pred.get(pred)
            if pf is None:
                pf = by_pred[pred] = PredFacts()
                pf.blocked = None  # the weights may not be numbers: counted when needed
            pf.weights[args] = list(weights)
            pf.odd += sum(map(_odd, weights))
            pf.sources[args] = list(sources.get((pred, args), ()))
        return cls(by_pred)

    def changed(self, changes: Iterable[tuple[int, Fact]]) -> BaseFacts:
        """The facts after ``changes`` (``+1``: added, ``-1``: removed, in order)."""
        before = self._tables()
        by_pred = before.copy()
        copied: dict[str, PredFacts] = {}
        dropped: list[str] = []  # predicates whose only statement went, dropped uncopied
        for step, f in changes:
            pred, args = fact_key(f)
            pf = copied.get(pred)
            if pf is None:
                old = by_pred.get(pred)
                if old is None:  # a predicate without facts (a consultation's observation)
                    if step < 0:
                        continue
                    pf = _new_pred(PredFacts)
                    pf.weights, pf.sources, pf.blocked, pf.odd, pf._every, pf._holding = (
                        {}, {}, 0, 0, None, None)  # fmt: skip
                elif step < 0 and len(old.weights) == 1:
                    found = old.sources.get(args)
                    if found is not None and len(found) == 1 and found[0] is f:
                        del by_pred[pred]  # its last statement goes: nothing to copy
                        dropped.append(pred)
                        continue
                    pf = old.copy()
                else:
                    pf = old.copy()
                copied[pred] = by_pred[pred] = pf
            if step > 0:
                pf.add(args, fact_weight(f), f)
            else:
                pf.remove(args, f)
        holding = self._holding
        count, odd = self.count, self.odd
        for pred, pf in copied.items():
            old = before.get(pred)
            if not pf.weights:
                del by_pred[pred]
            count += len(pf.weights) - (len(old.weights) if old is not None else 0)
            odd += pf.odd - (old.odd if old is not None else 0)
            if holding is not None:
                holding += pf.holding_count() - (old.holding_count() if old is not None else 0)
        for pred in dropped:
            if pred not in copied:  # (else counted above, against the same table before)
                old = before[pred]
                count -= len(old.weights)
                odd -= old.odd
                if holding is not None:
                    holding -= old.holding_count()
        new = BaseFacts._made(by_pred, count, odd, holding)
        keys = self._keys
        new._keys = (
            keys
            if keys is not None
            and all((p in by_pred) == (p in keys) for p in copied)
            and all(p in copied for p in dropped)
            else None
        )
        return new

    def share_into(self, store: Store, preds: frozenset[str], *, valued: bool) -> int:
        """Put the relations of the predicates of ``preds`` that have facts into ``store``,
        shared (:meth:`.Store.share`, inlined), not copied; returns how many tuples they
        hold (valued: every fact; boolean: those that hold)."""
        total = 0
        relations, shared = store.relations, store.shared
        light = self._light
        if light is not None:  # every tuple holds: the same relations either way
            if len(light) <= len(preds):
                for pred, mine in light.items():
                    if pred in preds:
                        relations[pred] = mine
                        shared.add(pred)
                        total += len(mine)
            else:
                for pred in preds:
                    found = light.get(pred)
                    if found is not None:
                        relations[pred] = found
                        shared.add(pred)
                        total += len(found)
            return total
        by_pred = self._tables()
        items: Iterable[tuple[str, PredFacts]] = (
            by_pred.items()  # the predicates with facts, each tested (no list in between)
            if len(by_pred) <= len(preds)
            else [(p, by_pred[p]) for p in preds if p in by_pred]
        )
        for pred, pf in items:
            if pred not in preds:
                continue
            rel = pf._every if valued else pf._holding
            if rel is None:
                if pf.blocked == 0:  # every tuple holds: one relation serves both
                    rel = pf._every = pf._holding = relation_of(set(pf.weights))
                else:
                    rel = pf.relation(valued)
                    if rel is None:
                        continue
            relations[pred] = rel
            shared.add(pred)
            total += len(pf.weights) - (0 if valued else pf.blocked or 0)
        return total

    def relation(self, pred: str, valued: bool) -> Relation | None:
        """The relation of ``pred`` (as :meth:`PredFacts.relation`; ``None``: no facts, or
        none that holds)."""
        light = self._light
        if light is not None:
            return light.get(pred)
        pf = self._tables().get(pred)
        return pf.relation(valued) if pf is not None else None

    def preds(self) -> frozenset[str]:
        """The predicates with facts."""
        if self._keys is None:
            self._keys = frozenset(self._light if self._light is not None else self._tables())
        return self._keys

    def among(self, preds: frozenset[str] | set[str]) -> list[str]:
        """The predicates of ``preds`` that have facts (looked up from the smaller side)."""
        mine: Mapping[str, object] = self._light if self._light is not None else self._tables()
        if len(mine) <= len(preds):
            return [p for p in mine if p in preds]
        return [p for p in preds if p in mine]

    def size(self, valued: bool) -> int:
        """How many fact tuples an evaluation starts from (valued: every one; boolean:
        those that hold)."""
        if valued:
            return self.count
        if self._holding is None:
            self._holding = sum(p.holding_count() for p in self._tables().values())
        return self._holding

    def check_weights(self, fact: Callable[[Any], object], skip: frozenset[str]) -> None:
        """Pass each weight outside [0, 1] of the predicates not in ``skip`` to ``fact``
        (a semiring's, which raises for weights its semantics refuses)."""
        if not self.odd:
            return
        for pred, pf in self.by_pred.items():
            if pf.odd and pred not in skip:
                for ws in pf.weights.values():
                    for w in ws:
                        if _odd(w):
                            fact(w)

    def weights(self) -> Mapping[FactKey, list[Any]]:
        """Every fact's weights, by key: a read-only view."""
        return _Flat(self.by_pred, "weights")

    def sources(self) -> Mapping[FactKey, list[Fact]]:
        """Every fact's statements, by key: a read-only view."""
        return _Flat(self.by_pred, "sources")


@final
class _Flat(Mapping[FactKey, Any]):
    """``{(pred, args): entry}`` over the per-predicate tables (a lookup reads one)."""

    __slots__ = ("_by_pred", "_field")

    def __init__(self, by_pred: dict[str, PredFacts], field: str) -> None:
        self._by_pred = by_pred
        self._field = field

    def __getitem__(self, key: FactKey) -> Any:
        pf = self._by_pred.get(key[0])
        if pf is None:
            raise KeyError(key)
        table: dict[Args, Any] = getattr(pf, self._field)
        return table[key[1]]

    def get(self, key: FactKey, default: Any = None) -> Any:
        pf = self._by_pred.get(key[0])
        if pf is None:
            return default
        table: dict[Args, Any] = getattr(pf, self._field)
        return table.get(key[1], default)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) != 2:
            return False
        pf = self._by_pred.get(key[0])
        return pf is not None and key[1] in pf.weights

    def __iter__(self) -> Iterator[FactKey]:
        for pred, pf in self._by_pred.items():
            for args in pf.weights:
                yield (pred, args)

    def __len__(self) -> int:
        return sum(len(pf.weights) for pf in self._by_pred.values())
