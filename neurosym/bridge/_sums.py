"""Exact distributions of recognised sums of neural digits, as batched torch operations
(see :mod:`._structure` for what is recognised).

- **Convolution**: ``Z = offset + sum_i c_i D_i`` over independent categorical ``D_i``;
  the distribution of a partial sum times the next digit's is an outer product
  scattered onto ``partial + c_i * value`` (a convolution with the digit's scaled
  distribution). Exact, every value of Z at once; cost ``sum_i |range so far| * |D_i|``.
- **Carries**: when the coefficients are place values ``b^k`` and the digits lie in
  ``[0, b-1]``, ``P(Z = z)`` for one ``z`` per batch element factorises over positions:
  at position k the digits there sum to ``T_k`` (a convolution of their distributions),
  and with the incoming carry ``c`` the position is right iff ``T_k + c = z_k + b c'``,
  ``c'`` the outgoing carry. So ``P(Z = z) = e_0^T A_0 A_1 ... A_{K-1} e_high`` with
  ``A_k[c, c'] = P(T_k = z_k + b c' - c)`` and ``high = z // b^K``: a product of small
  carry-by-carry matrices. The running vector is normalised after every position and the
  logarithms of the normalisers are summed, so the result is ``log P(Z = z)`` without
  underflow (a 15-digit sum is often far below 1e-38 early in training).
"""

from __future__ import annotations

import itertools
import math
from typing import final

import torch

from ._structure import SumPlan

__all__ = ["SumEvaluator", "map_assignment"]


def _flat_index(width: int, offsets: torch.Tensor) -> torch.Tensor:
    """Index of ``partial[i] * digit[j]`` in the next partial sum: ``i + offsets[j]``."""
    return (torch.arange(width)[:, None] + offsets[None, :]).reshape(-1)


@final
class SumEvaluator:
    """The tensor programme of one :class:`SumPlan`, with its index tensors built once."""

    def __init__(self, plan: SumPlan) -> None:
        self.plan = plan
        if plan.kind == "convolution":
            self._init_convolution()
        else:
            self._init_carry()

    # ------------------------------------------------------------------ convolution
    def _init_convolution(self) -> None:
        plan = self.plan
        self.steps: list[tuple[torch.Tensor, int, bool]] = []  # (index, width, identity)
        width = 0
        for i, t in enumerate(plan.terms):
            offsets = torch.tensor([t.coef * v - t.low for v in t.values], dtype=torch.long)
            if i == 0:
                width = t.high - t.low + 1
                ident = width == len(t.values) and bool(
                    (offsets == torch.arange(len(t.values))).all()
                )
                self.steps.append((offsets, width, ident))
                continue
            self.steps.append((_flat_index(width, offsets), width + t.high - t.low, False))
            width += t.high - t.low
        support = torch.tensor(plan.support, dtype=torch.long) - plan.low
        self.full = len(plan.support) == width
        self.columns = support

    def distribution(self, probs: list[torch.Tensor]) -> torch.Tensor:
        """``P(Z = low + i)`` for every ``i``: ``(batch, high - low + 1)``."""
        index, width, ident = self.steps[0]
        p = probs[0]
        batch = p.shape[0]
        acc = p if ident else p.new_zeros(batch, width).index_add(1, index.to(p.device), p)
        for (index, width, _), p in zip(self.steps[1:], probs[1:]):
            outer = (acc[:, :, None] * p[:, None, :]).reshape(batch, -1)
            acc = p.new_zeros(batch, width).index_add(1, index.to(p.device), outer)
        return acc

    def answers(self, probs: list[torch.Tensor]) -> torch.Tensor:
        """The probabilities of the reachable values of Z (``plan.support`` order)."""
        dist = self.distribution(probs)
        return dist if self.full else dist.index_select(1, self.columns.to(dist.device))

    # ------------------------------------------------------------------ carries
    def _init_carry(self) -> None:
        plan = self.plan
        b, k_count = plan.base, plan.positions
        groups: list[list[int]] = [[] for _ in range(k_count)]
        for i, t in enumerate(plan.terms):
            if t.coef != 0:
                k = 0
                c = t.coef
                while c > 1:
                    c //= b
                    k += 1
                groups[k].append(i)
        m = max(1, max(len(g) for g in groups))
        self.m = m
        self.slots = [g[j] if j < len(g) else -1 for g in groups for j in range(m)]
        # How each term's network columns land on the values 0..b-1.
        self.dense: dict[int, tuple[torch.Tensor, bool]] = {}
        for i, t in enumerate(plan.terms):
            ident = t.values == tuple(range(len(t.values)))
            self.dense[i] = (torch.tensor(t.values, dtype=torch.long), ident)
        widths = [b]
        self.conv_index: list[torch.Tensor] = []
        for _ in range(1, m):
            self.conv_index.append(_flat_index(widths[-1], torch.arange(b)))
            widths.append(widths[-1] + b - 1)
        self.t_size = widths[-1]
        carry = [0]
        for g in groups:
            top = sum(max(plan.terms[i].values) for i in g)
            carry.append((top + carry[-1]) // b)
        self.c_size = max(carry) + 1
        carries = torch.arange(self.c_size)
        self.grid = b * carries[None, :] - carries[:, None]  # [c_in, c_out] -> b c_out - c_in
        self.powers = torch.tensor([b**k for k in range(k_count)], dtype=torch.long)
        self.top_power = b**k_count

    def _dense(self, i: int, p: torch.Tensor) -> torch.Tensor:
        values, ident = self.dense[i]
        b = self.plan.base
        if ident:
            return p if p.shape[1] == b else torch.nn.functional.pad(p, (0, b - p.shape[1]))
        return p.new_zeros(p.shape[0], b).index_add(1, values.to(p.device), p)

    def log_prob(self, probs: list[torch.Tensor], z: torch.Tensor) -> torch.Tensor:
        """``log P(Z = z[i])`` for each batch element ``i`` (``-inf`` where impossible)."""
        plan = self.plan
        b, k_count, c_size = plan.base, plan.positions, self.c_size
        batch = z.shape[0]
        ref = probs[0]
        device, dtype = ref.device, ref.dtype
        delta = torch.zeros(b, dtype=dtype, device=device)
        delta[0] = 1.0
        stack = [self._dense(i, probs[i]) if i >= 0 else delta.expand(batch, b) for i in self.slots]
        p = torch.stack(stack, dim=1).view(batch, k_count, self.m, b)
        t = p[:, :, 0]
        for j, index in enumerate(self.conv_index, start=1):
            outer = (t[:, :, :, None] * p[:, :, j, None, :]).reshape(batch, k_count, -1)
            width = t.shape[2] + b - 1
            t = t.new_zeros(batch, k_count, width).index_add(2, index.to(device), outer)
        t = torch.cat([t, t.new_zeros(batch, k_count, 1)], dim=2)  # column t_size reads 0
        shifted = z.to(device) - plan.offset
        possible = shifted >= 0
        shifted = shifted.clamp_min(0)
        digits = (shifted[:, None] // self.powers.to(device)[None, :]) % b
        high = shifted // self.top_power
        possible &= high < c_size
        idx = digits[:, :, None, None] + self.grid.to(device)[None, None]
        idx = torch.where((idx < 0) | (idx >= self.t_size), self.t_size, idx)
        a = t.gather(2, idx.view(batch, k_count, c_size * c_size)).view(
            batch, k_count, c_size, c_size
        )
        tiny = torch.finfo(dtype).tiny
        v = a[:, 0, 0, :]
        log_scale = torch.zeros(batch, dtype=dtype, device=device)
        for k in range(1, k_count):
            s = v.sum(dim=1, keepdim=True).clamp_min(tiny)
            log_scale = log_scale + torch.log(s).squeeze(1)
            v = torch.bmm((v / s).unsqueeze(1), a[:, k]).squeeze(1)
        picked = v.gather(1, high.clamp(0, c_size - 1).view(-1, 1)).squeeze(1)
        possible &= picked > 0
        out = log_scale + torch.log(picked.clamp_min(tiny))
        return torch.where(possible, out, torch.full_like(out, -math.inf))


def map_assignment(plan: SumPlan, rows: list[list[float]], z: int | None) -> list[int] | None:
    """The most probable column of every term given ``Z = z`` (or unconstrained when ``z``
    is None), or None when ``z`` is impossible. ``rows[i]`` is term i's distribution.

    Max-product (Viterbi) over the carries for a carry plan, over the partial sums for a
    convolution plan; plain floats, for one batch element (explanations)."""
    logs = [[math.log(p) if p > 0 else -math.inf for p in row] for row in rows]
    if z is None:
        return [max(range(len(lg)), key=lg.__getitem__) for lg in logs]
    if plan.kind == "carry":
        return _viterbi_carry(plan, logs, z)
    # Partial sums: best[s] = (score, back), back = (previous sum, column).
    best: dict[int, float] = {plan.offset: 0.0}
    backs: list[dict[int, tuple[int, int]]] = []
    for t, lg in zip(plan.terms, logs):
        new: dict[int, float] = {}
        back: dict[int, tuple[int, int]] = {}
        for s, score in best.items():
            for j, (v, lp) in enumerate(zip(t.values, lg)):
                if lp == -math.inf:
                    continue
                key, cand = s + t.coef * v, score + lp
                if cand > new.get(key, -math.inf):
                    new[key], back[key] = cand, (s, j)
        best = new
        backs.append(back)
    if z not in best:
        return None
    cols = []
    s = z
    for back in reversed(backs):
        s, j = back[s]
        cols.append(j)
    return cols[::-1]


def _viterbi_carry(plan: SumPlan, logs: list[list[float]], z: int) -> list[int] | None:
    b = plan.base
    shifted = z - plan.offset
    if shifted < 0:
        return None
    groups: list[list[int]] = [[] for _ in range(plan.positions)]
    cols = [0] * len(plan.terms)
    for i, t in enumerate(plan.terms):
        if t.coef == 0:
            cols[i] = max(range(len(logs[i])), key=logs[i].__getitem__)
            continue
        k, c = 0, t.coef
        while c > 1:
            c //= b
            k += 1
        groups[k].append(i)
    best: dict[int, float] = {0: 0.0}  # carry -> score
    backs: list[dict[int, tuple[int, tuple[int, ...]]]] = []
    for k, g in enumerate(groups):
        digit = shifted // b**k % b
        new: dict[int, float] = {}
        back: dict[int, tuple[int, tuple[int, ...]]] = {}
        options = [
            [(j, v, lp) for j, (v, lp) in enumerate(zip(plan.terms[i].values, logs[i]))
             if lp > -math.inf]
            for i in g
        ]  # fmt: skip
        for carry, score in best.items():
            for combo in itertools.product(*options):
                total = carry + sum(v for _, v, _ in combo)
                if total % b != digit:
                    continue
                out, cand = total // b, score + sum(lp for _, _, lp in combo)
                if cand > new.get(out, -math.inf):
                    new[out], back[out] = cand, (carry, tuple(j for j, _, _ in combo))
        best = new
        backs.append(back)
    carry = shifted // b**plan.positions
    if carry not in best:
        return None
    for g, back in zip(reversed(groups), reversed(backs)):
        carry, chosen = back[carry]
        for i, j in zip(g, chosen):
            cols[i] = j
    return cols
