"""What the trainer needs from ``torch.distributed``: rank, world size, sums and gathers.

Everything here is a no-op in a single process, so the trainer has one code path.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

__all__ = ["all_gather_objects", "all_sum", "barrier", "is_distributed", "rank_and_world"]


def is_distributed() -> bool:
    """Whether a process group is initialised (as under ``torchrun``)."""
    return dist.is_available() and dist.is_initialized()


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes (``(0, 1)`` when not distributed)."""
    if not is_distributed():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """Element-wise sums of ``values`` over all processes (the same list on every rank).

    The sum is done in float64 on ``device`` (NCCL needs a CUDA tensor, gloo a CPU one).
    """
    if not is_distributed():
        return list(values)
    buffer = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
    return [float(v) for v in buffer.cpu()]


def all_gather_objects(obj: Any) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (``[obj]`` when not distributed)."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    """Wait until every rank gets here (nothing to wait for when not distributed)."""
    if is_distributed():
        dist.barrier()
