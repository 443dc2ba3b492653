"""The damped oscillator x'' + 0.2 x' + x = 0 and its closed form, shared by the dense
output tests: x(t) = e^(-t/10) (x0 cos ωt + (v0 + x0/10)/ω sin ωt) with ω = √0.99."""

from __future__ import annotations

import math

import torch

W = math.sqrt(0.99)
Y0 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-0.5, 2.0]], dtype=torch.float64)


def osc(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The field: ``x' = v``, ``v' = -x - 0.2 v``."""
    return torch.stack([y[:, 1], -y[:, 0] - 0.2 * y[:, 1]], -1)


def exact(y0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The closed form at times ``t`` ``(batch, T)``, as ``(T, batch, 2)``."""
    x0, v0 = y0[:, :1], y0[:, 1:]
    a, b = x0, (v0 + 0.1 * x0) / W
    e, c, s = torch.exp(-0.1 * t), torch.cos(W * t), torch.sin(W * t)
    x = e * (a * c + b * s)
    v = e * ((b * W - 0.1 * a) * c - (a * W + 0.1 * b) * s)
    return torch.stack([x, v], -1).transpose(0, 1)
