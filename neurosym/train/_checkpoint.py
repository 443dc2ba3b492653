"""Checkpoint files: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint on disk is always either the previous complete file or the new complete
file. The bytes go to a temporary file in the same directory (so the rename never
crosses a file system), which is flushed and fsynced before ``os.replace`` puts it in
place; the directory is fsynced after, so the rename itself survives a power cut. An
exception during the write removes the temporary file; a process killed outright can
leave one behind (a hidden ``.NAME.*.tmp`` file), which the next successful write of the
same checkpoint removes.

Only tensors and plain containers are stored, so loading never runs code from the file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, cast

import torch

from neurosym._io import atomic_open
from neurosym.errors import ConfigurationError

__all__ = ["FORMAT", "load_checkpoint", "save_checkpoint"]

FORMAT = "neurosym.train.checkpoint/1"
"""The value of the ``"format"`` key of every checkpoint this version writes."""


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":  # Windows cannot open a directory; its rename is durable enough
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temporaries(target: Path) -> None:
    # atomic_open names its temporary files ".NAME.<random>.tmp" beside NAME.
    prefix = f".{target.name}."
    for entry in target.parent.iterdir():
        if entry.name.startswith(prefix) and entry.name.endswith(".tmp"):
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()


def save_checkpoint(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically and durably; return the path.

    ``payload`` must hold only tensors, numbers, strings, booleans, ``None`` and lists,
    tuples and dicts of them (what ``weights_only`` loading accepts); ``"format"`` is set.

    Raises:
        OSError: if the directory cannot be written; ``path`` is then unchanged.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(target, "wb") as fh:
        torch.save({**payload, "format": FORMAT}, cast(IO[bytes], fh))
    _fsync_directory(target.parent)
    _remove_stale_temporaries(target)
    return target


def load_checkpoint(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by :class:`Trainer` (with ``weights_only=True``).

    The result has the keys ``"format"``, ``"epoch"``, ``"step"``, ``"seed"``,
    ``"world_size"``, ``"model"``, ``"optimizer"``, ``"scheduler"``, ``"rng"`` (one entry
    per process) and ``"history"`` (see :meth:`History.from_dict`).

    Raises:
        FileNotFoundError: if there is no file at ``path``.
        ConfigurationError: if the file is not a checkpoint of this format or is damaged.
    """
    source = Path(path)
    # Opening it here lets a missing or unreadable file raise its own OSError; everything
    # torch.load raises is about the content (torch uses several types, even OSError).
    with open(source, "rb") as fh:
        try:
            data = torch.load(fh, map_location=map_location, weights_only=True)
        except Exception as e:
            raise ConfigurationError(
                f"{str(source)!r} is not a readable checkpoint (damaged, truncated, or not "
                f"written by neurosym.train): {e}"
            ) from e
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ConfigurationError(
            f"{str(source)!r} is not a checkpoint of format {FORMAT!r} (found {got!r})"
        )
    return data
