"""Knowledge-base completion data: triples as integer arrays, read from the public benchmark
files at run time (nothing is bundled) or taken from a :class:`~neurosym.kb.KnowledgeBase`.

Datasets and the files read (folders as in ``../shared/data``; see each dataset's README for
origin, citation and licence):

========================  =====================================================================
``countries-s1|s2|s3``     ``countries/ntp_split/countries_S{k}.tsv`` (train),
                           ``derived/dev_derived_triples.tsv`` (valid),
                           ``derived/test_triples.tsv`` (test), ``regions.txt`` (candidates)
``kinship``, ``umls``,     ``{name}/ntp_split/{train,dev,test}.tsv``
``nations``
========================  =====================================================================
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, final, get_args

import numpy as np

from neurosym.errors import ConfigurationError, FactsFileError
from neurosym.lang import Atom, Const, Fact, String

if TYPE_CHECKING:
    from neurosym.kb import KnowledgeBase

__all__ = ["DATASETS", "DatasetName", "TripleDataset", "load_dataset"]

DatasetName = Literal["countries-s1", "countries-s2", "countries-s3", "kinship", "umls", "nations"]
DATASETS: tuple[str, ...] = get_args(DatasetName)

Split = Literal["train", "valid", "test"]
_IDENT = re.compile(r"[a-z][A-Za-z0-9_]*\Z")


@final
@dataclass(frozen=True, eq=False)
class TripleDataset:
    """Triples ``(head, relation, tail)`` over interned entities and relations.

    Attributes:
        name: the dataset's name.
        entities: entity names; entity ``i`` is ``entities[i]``.
        relations: relation names.
        train, valid, test: ``(n, 3)`` int64 arrays of ``(head, relation, tail)`` indices,
            without duplicate rows.
        candidates: for tasks that rank a fixed answer set (Countries: the 5 regions), the
            entity indices of the candidates; ``None`` for open ranking over all entities.

    Example:
        >>> ds = TripleDataset.from_triples(
        ...     "toy", train=[("a", "r", "b"), ("b", "r", "c")], test=[("a", "r", "c")]
        ... )
        >>> ds.entities, ds.relations, ds.train.tolist()
        (('a', 'b', 'c'), ('r',), [[0, 0, 1], [1, 0, 2]])
        >>> ds.triples("test")
        [('a', 'r', 'c')]
    """

    name: str
    entities: tuple[str, ...]
    relations: tuple[str, ...]
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    candidates: np.ndarray | None = None
    entity_index: Mapping[str, int] = field(init=False, repr=False)
    relation_index: Mapping[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entity_index", {e: i for i, e in enumerate(self.entities)})
        object.__setattr__(self, "relation_index", {r: i for i, r in enumerate(self.relations)})
        for split in ("train", "valid", "test"):
            a = getattr(self, split)
            if a.ndim != 2 or a.shape[1] != 3 or a.dtype != np.int64:
                raise ConfigurationError(
                    f"{split} must be an (n, 3) int64 array, got {a.dtype} {a.shape}"
                )
            if len(a) and (
                a[:, [0, 2]].min() < 0
                or a[:, [0, 2]].max() >= len(self.entities)
                or a[:, 1].min() < 0
                or a[:, 1].max() >= len(self.relations)
            ):
                raise ConfigurationError(f"{split} holds an index outside the vocabularies")

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    def split(self, split: Split) -> np.ndarray:
        """The ``(n, 3)`` index array of a split."""
        if split not in ("train", "valid", "test"):
            raise ConfigurationError(f"split must be train, valid or test, got {split!r}")
        arr: np.ndarray = getattr(self, split)
        return arr

    def triples(self, split: Split) -> list[tuple[str, str, str]]:
        """A split as ``(head, relation, tail)`` names."""
        e, r = self.entities, self.relations
        return [(e[h], r[p], e[t]) for h, p, t in self.split(split).tolist()]

    def known(self) -> np.ndarray:
        """Every true triple (train ∪ valid ∪ test): what the filtered protocol removes."""
        return np.unique(np.concatenate([self.train, self.valid, self.test]), axis=0)

    def to_kb(self, splits: Sequence[Split] = ("train",)) -> KnowledgeBase:
        """The facts of some splits as a knowledge base: ``relation(head, tail).``

        Names that are not rule-language constants (``são_tomé_and_príncipe``,
        ``Person1``) become strings, so every name survives.
        """
        from neurosym.kb import KnowledgeBase

        kb = KnowledgeBase()
        facts = []
        for split in splits:
            for h, r, t in self.triples(split):
                if not _IDENT.match(r):
                    raise ConfigurationError(
                        f"relation {r!r} is not a rule-language predicate name "
                        "(lowercase letter first, then letters, digits, _)"
                    )
                facts.append(Fact(Atom(r, (_term(h), _term(t)))))
        kb.add(facts)
        return kb

    @classmethod
    def from_triples(
        cls,
        name: str,
        *,
        train: Iterable[tuple[str, str, str]],
        valid: Iterable[tuple[str, str, str]] = (),
        test: Iterable[tuple[str, str, str]] = (),
        entities: Iterable[str] = (),
        candidates: Iterable[str] | None = None,
    ) -> TripleDataset:
        """Intern named triples (entities in order of first appearance, after ``entities``)."""
        ent: dict[str, int] = {}
        rel: dict[str, int] = {}
        for e in entities:
            ent.setdefault(e, len(ent))

        def intern(rows: Iterable[tuple[str, str, str]]) -> np.ndarray:
            out = []
            for h, r, t in rows:
                out.append(
                    (
                        ent.setdefault(h, len(ent)),
                        rel.setdefault(r, len(rel)),
                        ent.setdefault(t, len(ent)),
                    )
                )
            arr = np.array(out, dtype=np.int64).reshape(-1, 3)
            if len(arr) == 0:
                return arr
            _, first = np.unique(arr, axis=0, return_index=True)
            return arr[np.sort(first)]

        splits = [intern(train), intern(valid), intern(test)]
        cand = None
        if candidates is not None:
            cand = np.array([ent.setdefault(c, len(ent)) for c in candidates], dtype=np.int64)
        return cls(name, tuple(ent), tuple(rel), splits[0], splits[1], splits[2], candidates=cand)

    @classmethod
    def from_kb(cls, kb: KnowledgeBase, *, name: str = "kb") -> TripleDataset:
        """The binary ground facts of a knowledge base as training triples."""
        rows = []
        for f in kb.facts:
            a = f.atom
            if len(a.args) == 2 and all(isinstance(x, Const | String) for x in a.args):
                h, t = (_name(x) for x in a.args)
                rows.append((h, a.predicate, t))
        if not rows:
            raise ConfigurationError("the knowledge base has no binary ground facts to learn from")
        return cls.from_triples(name, train=rows)


def _name(x: object) -> str:
    return x.name if isinstance(x, Const) else str(x.value) if isinstance(x, String) else ""


def _term(name: str) -> Const | String:
    return Const(name) if _IDENT.match(name) else String(name)


def _read_tsv(path: Path) -> list[tuple[str, str, str]]:
    if not path.is_file():
        raise ConfigurationError(
            f"{path}: no such file; data_dir must be the folder holding the dataset folders "
            "(e.g. ../shared/data)"
        )
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\n\r")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 3 or not all(p.strip() for p in parts):
                raise FactsFileError(
                    f"{path}:{n}:1: expected 'head<TAB>relation<TAB>tail', got {line[:60]!r}"
                )
            rows.append((parts[0].strip(), parts[1].strip(), parts[2].strip()))
    return rows


def _read_names(path: Path) -> list[str]:
    if not path.is_file():
        raise ConfigurationError(f"{path}: no such file")
    return [s.strip() for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]


def load_dataset(name: str, data_dir: str | os.PathLike[str]) -> TripleDataset:
    """Read a benchmark dataset (NTP split) from the folder holding the dataset folders.

    Args:
        name: one of :data:`DATASETS`.
        data_dir: e.g. ``../shared/data``.

    Raises:
        ConfigurationError: an unknown name or a missing file (named, with the path tried).
        FactsFileError: a malformed line, as ``file:line:col: message``.
    """
    root = Path(data_dir)
    if name not in DATASETS:
        raise ConfigurationError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name.startswith("countries-"):
        k = name[-1]
        base = root / "countries" / "ntp_split"
        regions = _read_names(base / "regions.txt")
        return TripleDataset.from_triples(
            name,
            train=_read_tsv(base / f"countries_S{k}.tsv"),
            valid=_read_tsv(base / "derived" / "dev_derived_triples.tsv"),
            test=_read_tsv(base / "derived" / "test_triples.tsv"),
            entities=(),
            candidates=regions,
        )
    base = root / name / "ntp_split"
    entities = _read_names(base / "entities.txt") if (base / "entities.txt").is_file() else []
    return TripleDataset.from_triples(
        name,
        train=_read_tsv(base / "train.tsv"),
        valid=_read_tsv(base / "dev.tsv"),
        test=_read_tsv(base / "test.tsv"),
        entities=entities,
    )
