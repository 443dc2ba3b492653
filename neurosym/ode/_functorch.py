"""Solving under ``torch.func`` transforms (``vmap``, ``grad``, ``jacrev``, ``jacfwd``).

Inside ``torch.func.vmap`` every tensor of a solve is a *batched* tensor: its logical
shape is what the solve sees (``(batch, dim)``), and the mapped dimension is hidden. A
Python read of such a tensor (``bool``, ``float``, ``.tolist()``) is refused by torch,
since it would have one value per mapped slice. The step loops read a few values per
step (the batch's largest error ratio, whether any sample is still going): under a
transform they read them from :func:`unwrapped`, the plain tensor under every wrapper, so
that one read covers all mapped slices. A shared step size then serves every slice —
joint step control over the whole mapped batch, which is what the host-float loop
does anyway.

Only ``torch._C._functorch`` queries are used (no transform is entered or left here).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["grad_active", "is_vmapped", "transforms_active", "unwrapped", "vmap_active"]

_F = torch._C._functorch


def _stack() -> list[object]:
    if torch.compiler.is_compiling():
        # (Dynamo handles transforms itself and cannot trace this query.)
        return []
    stack = _F.get_interpreter_stack()
    return list(stack) if stack else []


def transforms_active() -> bool:
    """Whether the caller runs inside any ``torch.func`` transform."""
    return bool(_stack())


def vmap_active() -> bool:
    """Whether the caller runs inside ``torch.func.vmap`` (``jacfwd``, ``hessian`` and
    the backward of ``jacrev`` map too)."""
    vmap = _F.TransformType.Vmap
    return any(i.key() == vmap for i in _stack())  # type: ignore[attr-defined]


def grad_active() -> bool:
    """Whether the caller runs inside ``torch.func.grad``, ``vjp`` or ``jacrev``."""
    grad = _F.TransformType.Grad
    return any(i.key() == grad for i in _stack())  # type: ignore[attr-defined]


def is_vmapped(x: Tensor) -> bool:
    """Whether ``x`` carries a mapped dimension at any level of its wrappers."""
    if torch.compiler.is_compiling():
        return False
    while _F.is_functorch_wrapped_tensor(x):
        if _F.is_batchedtensor(x):
            return True
        x = _F.get_unwrapped(x)
    return False


def unwrapped(x: Tensor) -> Tensor:
    """The plain tensor under every ``torch.func`` wrapper of ``x`` (``x`` itself outside
    transforms), detached: reductions of it cover every mapped slice."""
    if torch.compiler.is_compiling():
        return x.detach()
    while _F.is_functorch_wrapped_tensor(x):
        x = _F.get_unwrapped(x)
    return x.detach()
