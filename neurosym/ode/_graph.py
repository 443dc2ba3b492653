"""``GraphODE``: node states that evolve by relation-typed message passing over a graph.

The field, for node ``i`` with state ``h_i`` (``dim`` real numbers)::

    dh_i/dt = g ⊙ tanh( a ⊙ h_i + W h_i + U Σ_{e = (j → i)} c_e · (w_{r(e)} ⊙ D h_j) + b )

``a``, ``b``, ``g`` and the per-relation ``w_r`` are vectors (diagonal transforms),
``W`` an optional dense ``dim × dim`` mixing (``dense=True``), ``c_e`` a degree
normalisation. ``D`` (``dim → k``) and ``U`` (``k → dim``) are a low-rank bottleneck for
the messages (``message_dim=k``; without it they are the identity): per-relation low-rank
transforms ``U diag(w_r) D``, so that a step costs ``O(E · k + R · N · k + N · dim · k)``.
Messages are summed per relation by one sparse product with the normalised adjacency
(as R-GCN, Schlichtkrull et al. 2018, without its per-relation matrices); with no edges
the field is the node-wise part alone. The solve treats the whole graph as one ODE sample
of dimension ``N · dim``, so a batch of feature sets on the same graph is a batch of
independent samples, and any solver, step control and the adjoint apply unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Literal, final

import torch
from torch import Tensor, nn

from neurosym.errors import ConfigurationError

from ._solution import Solution
from ._solve import MethodName, solve
from ._solver import AbstractSolver

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["GraphODE"]

Normalize = Literal["mean", "sym", "none"]


@final
class GraphODE(nn.Module):
    """Continuous message passing: maps node states ``h(0)`` to ``h(t_end)``.

    Args:
        edge_index: ``(2, E)`` int64 tensor of ``(source, target)`` node indices; a
            message flows from source to target. Add reversed edges (as another
            relation) for messages both ways.
        edge_type: ``(E,)`` int64 relation of each edge (default: all 0).
        num_nodes: number of nodes ``N``.
        dim: state size per node.
        num_relations: number of edge types (default: ``max(edge_type) + 1``).
        normalize: ``"mean"`` (``c_e = 1 / in-degree(target)``), ``"sym"``
            (``1 / sqrt(out-degree(source) · in-degree(target))``) or ``"none"``.
        dense: add a dense ``dim × dim`` mixing of the node's own state.
        message_dim: pass messages through a ``dim → message_dim → dim`` bottleneck
            (``None``: full width, diagonal).
        init_gain: initial value of the output gain ``g``; ``0`` starts at the identity
            map ``h(T) = h(0)`` (the dynamics are then learned from there).
        t_end: integration time.
        method: solver alias or object.
        steps: fixed steps over ``[0, t_end]`` (``None``: adaptive, needs an adaptive
            method).
        rtol: relative tolerance (adaptive).
        atol: absolute tolerance (adaptive).
        adjoint: differentiate by the adjoint method.
        generator: random generator for the initial parameters.

    Raises:
        ConfigurationError: for inconsistent shapes, indices out of range or bad options.

    Example:
        >>> edges = torch.tensor([[0, 1], [1, 2]])  # 0 → 1 and 1 → 2
        >>> g = GraphODE(edges, num_nodes=3, dim=4, generator=torch.Generator().manual_seed(0))
        >>> g(torch.randn(3, 4)).shape
        torch.Size([3, 4])
        >>> g(torch.randn(5, 3, 4)).shape  # a batch of feature sets on the same graph
        torch.Size([5, 3, 4])
    """

    edge_index: Tensor
    edge_type: Tensor
    edge_norm: Tensor

    def __init__(
        self,
        edge_index: Tensor,
        edge_type: Tensor | None = None,
        *,
        num_nodes: int,
        dim: int,
        num_relations: int | None = None,
        normalize: Normalize = "mean",
        dense: bool = False,
        message_dim: int | None = None,
        init_gain: float = 1.0,
        t_end: float = 1.0,
        method: MethodName | AbstractSolver = "rk4",
        steps: int | None = 4,
        rtol: float = 1e-5,
        atol: float = 1e-6,
        adjoint: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(edge_index, Tensor) or edge_index.ndim != 2 or edge_index.shape[0] != 2:
            raise ConfigurationError(
                f"edge_index must be a (2, E) tensor, got "
                f"{tuple(edge_index.shape) if isinstance(edge_index, Tensor) else type(edge_index)}"
            )
        if num_nodes < 1 or dim < 1:
            raise ConfigurationError(
                f"num_nodes and dim must be positive, got {num_nodes} and {dim}"
            )
        edge_index = edge_index.to(torch.int64)
        n_edges = edge_index.shape[1]
        if edge_type is None:
            edge_type = torch.zeros(n_edges, dtype=torch.int64, device=edge_index.device)
        edge_type = edge_type.to(torch.int64)
        if edge_type.shape != (n_edges,):
            raise ConfigurationError(
                f"edge_type must have shape ({n_edges},) to match edge_index, "
                f"got {tuple(edge_type.shape)}"
            )
        if n_edges and (edge_index.min() < 0 or edge_index.max() >= num_nodes):
            raise ConfigurationError(
                f"edge_index holds a node outside 0..{num_nodes - 1}: "
                f"min {int(edge_index.min())}, max {int(edge_index.max())}"
            )
        n_rel = int(edge_type.max()) + 1 if n_edges else 1
        if num_relations is None:
            num_relations = n_rel
        if num_relations < n_rel or (n_edges and int(edge_type.min()) < 0):
            raise ConfigurationError(
                f"edge_type must lie in 0..{num_relations - 1}, got values up to {n_rel - 1}"
            )
        if normalize not in ("mean", "sym", "none"):
            raise ConfigurationError(
                f"normalize must be 'mean', 'sym' or 'none', got {normalize!r}"
            )
        if message_dim is not None and message_dim < 1:
            raise ConfigurationError(f"message_dim must be positive, got {message_dim}")
        if t_end <= 0 or not math.isfinite(t_end):
            raise ConfigurationError(f"t_end must be positive and finite, got {t_end}")
        self.num_nodes = num_nodes
        self.dim = dim
        self.num_relations = num_relations
        self.normalize: Normalize = normalize
        self.t_end = float(t_end)
        self.method = method
        self.steps = steps
        self.rtol = rtol
        self.atol = atol
        self.adjoint = adjoint
        self.register_buffer("edge_index", edge_index)
        self.register_buffer("edge_type", edge_type)
        self.register_buffer("edge_norm", _edge_norm(edge_index, num_nodes, normalize))
        gen = generator
        self.self_weight = nn.Parameter(torch.empty(dim).uniform_(-1.0, 1.0, generator=gen))
        width = dim if message_dim is None else message_dim
        self.rel_weight = nn.Parameter(
            torch.empty(num_relations, width).uniform_(-1.0, 1.0, generator=gen)
        )
        self.down: nn.Linear | None = None
        self.up: nn.Linear | None = None
        if message_dim is not None:
            self.down = nn.Linear(dim, message_dim, bias=False)
            self.up = nn.Linear(message_dim, dim, bias=False)
            with torch.no_grad():
                self.down.weight.uniform_(-1 / math.sqrt(dim), 1 / math.sqrt(dim), generator=gen)
                bound = 1 / math.sqrt(message_dim)
                self.up.weight.uniform_(-bound, bound, generator=gen)
        self.bias = nn.Parameter(torch.zeros(dim))
        self.gain = nn.Parameter(torch.full((dim,), float(init_gain)))
        self.mix: nn.Linear | None = None
        if dense:
            self.mix = nn.Linear(dim, dim, bias=False)
            bound = 1.0 / math.sqrt(dim)
            with torch.no_grad():
                self.mix.weight.uniform_(-bound, bound, generator=gen)
        self._order: tuple[Tensor, Tensor, int] | None = None
        self.nodes: tuple[Hashable, ...] = tuple(range(num_nodes))
        self.relations: tuple[Hashable, ...] = tuple(range(num_relations))

    # -- the field -------------------------------------------------------------------
    def node_states(self, y: Tensor) -> Tensor:
        """View flat ODE states ``(batch, N·dim)`` as ``(batch, N, dim)``."""
        return y.reshape(y.shape[0], self.num_nodes, self.dim)

    def vector_field(self, t: Tensor, y: Tensor) -> Tensor:
        """``f(t, y)`` on flat states ``(batch, N·dim)``, as :func:`solve` calls it."""
        return self._field(y, self._adjacency(self.edge_norm))

    def _adjacency(self, norm: Tensor) -> Tensor:
        # One sparse (R·N, N) matrix: row r·N + i holds c_e at column j for each edge
        # e = (j → i) of type r. A @ z then sums each node's messages per relation in one
        # sparse product (no (E, dim) intermediate), and the relation weights apply after.
        # The sorted (coalesced) order of the edges is computed once; a mask only zeroes
        # values. Duplicate edges are summed, as the message sum would.
        n = self.num_nodes
        if self._order is None or self._order[0].device != norm.device:
            rows = self.edge_type * n + self.edge_index[1]
            key = rows * n + self.edge_index[0]
            uniq, inverse = torch.unique(key, sorted=True, return_inverse=True)
            self._order = (torch.stack([uniq // n, uniq % n]), inverse, len(uniq))
        index, inverse, size = self._order
        values = norm.new_zeros(size).index_add_(0, inverse, norm)
        return torch.sparse_coo_tensor(
            index,
            values.to(self.rel_weight.dtype),
            (self.num_relations * n, n),
            is_coalesced=True,
            check_invariants=False,  # built from validated indices
        )

    def _field(self, y: Tensor, adj: Tensor) -> Tensor:
        h = self.node_states(y)
        pre = h * self.self_weight + self.bias
        if self.mix is not None:
            pre = pre + self.mix(h)
        if self.edge_index.shape[1]:
            z = h if self.down is None else self.down(h)  # (B, N, k)
            b, n, k = z.shape
            per_rel = torch.sparse.mm(adj, z.permute(1, 0, 2).reshape(n, b * k))
            per_rel = per_rel.reshape(self.num_relations, n, b, k)
            agg = (per_rel * self.rel_weight[:, None, None, :]).sum(0).permute(1, 0, 2)
            pre = pre + (agg if self.up is None else self.up(agg))
        out = torch.tanh(pre) * self.gain
        return out.reshape(y.shape)

    def forward(self, h0: Tensor, *, edge_mask: Tensor | None = None) -> Tensor:
        """Integrate from ``h0`` (``(N, dim)`` or ``(batch, N, dim)``) to ``t_end``.

        Args:
            h0: initial node states.
            edge_mask: ``(E,)`` bool; only these edges pass messages in this call (edge
                dropout), with the degree normalisation recomputed over them.

        Returns:
            ``h(t_end)``, shaped as ``h0``.
        """
        return self.solve(h0, edge_mask=edge_mask).ys[-1].reshape(h0.shape)

    def solve(
        self, h0: Tensor, t: Tensor | None = None, *, edge_mask: Tensor | None = None
    ) -> Solution:
        """The :class:`Solution` over times ``t`` (default ``[0, t_end]``); flat states.

        ``sol.ys`` has shape ``(len(t), batch, N·dim)``; :meth:`node_states` views a slice.

        Raises:
            ConfigurationError: for a wrongly shaped ``h0`` or ``edge_mask``.
        """
        if h0.ndim not in (2, 3) or tuple(h0.shape[-2:]) != (self.num_nodes, self.dim):
            raise ConfigurationError(
                f"h0 must have shape (N, dim) or (batch, N, dim) with N={self.num_nodes}, "
                f"dim={self.dim}; got {tuple(h0.shape)}"
            )
        y0 = h0.reshape(-1 if h0.ndim == 3 else 1, self.num_nodes * self.dim)
        if t is None:
            t = torch.tensor([0.0, self.t_end], dtype=h0.dtype, device=h0.device)
        norm = self.edge_norm
        if edge_mask is not None:
            if edge_mask.shape != self.edge_type.shape or edge_mask.dtype != torch.bool:
                raise ConfigurationError(
                    f"edge_mask must be a bool tensor of shape {tuple(self.edge_type.shape)}, "
                    f"got {edge_mask.dtype} {tuple(edge_mask.shape)}"
                )
            kept = _edge_norm(self.edge_index[:, edge_mask], self.num_nodes, self.normalize)
            norm = norm.new_zeros(norm.shape)
            norm[edge_mask] = kept.to(norm.dtype)
        adj = self._adjacency(norm)

        def field(t: Tensor, y: Tensor) -> Tensor:
            return self._field(y, adj)

        return solve(
            field,
            y0,
            t,
            method=self.method,
            rtol=self.rtol,
            atol=self.atol,
            steps=self.steps,
            step_control="joint",
            adjoint=self.adjoint,
            adjoint_params=tuple(self.parameters()) if self.adjoint else None,
        )

    # -- construction from networkx --------------------------------------------------
    @classmethod
    def from_networkx(
        cls,
        graph: nx.Graph,
        *,
        dim: int,
        relation: str | None = "relation",
        nodes: Sequence[Hashable] | None = None,
        **options: object,
    ) -> GraphODE:
        """A :class:`GraphODE` over any networkx graph.

        Directed graphs pass messages along their edges; undirected ones both ways.
        Multigraphs keep every parallel edge. The edge attribute ``relation`` (if given
        and present) is the edge type; types are numbered in order of first appearance
        and kept on ``.relations``, nodes on ``.nodes``.

        Args:
            graph: the graph.
            dim: state size per node.
            relation: the edge attribute holding the edge type (``None``: one type).
            nodes: node order (default: ``graph.nodes`` order).
            **options: further keyword arguments of :class:`GraphODE`.

        Example:
            >>> import networkx as nx
            >>> G = nx.MultiDiGraph()
            >>> G.add_edge("ann", "bob", relation="parent")
            0
            >>> G.add_edge("bob", "cy", relation="friend")
            0
            >>> g = GraphODE.from_networkx(G, dim=2)
            >>> g.nodes, g.relations, g.edge_index.tolist()
            (('ann', 'bob', 'cy'), ('parent', 'friend'), [[0, 1], [1, 2]])
        """
        order = tuple(graph.nodes) if nodes is None else tuple(nodes)
        index = {n: i for i, n in enumerate(order)}
        if len(index) != len(order) or set(index) != set(graph.nodes):
            raise ConfigurationError(
                "nodes must list every node of the graph exactly once "
                f"({graph.number_of_nodes()} nodes, {len(order)} given)"
            )
        rel_index: dict[Hashable, int] = {}
        rows: list[tuple[int, int, int]] = []
        for u, v, data in graph.edges(data=True):
            key = data.get(relation) if relation is not None else None
            r = rel_index.setdefault(key, len(rel_index))
            rows.append((index[u], index[v], r))
            if not graph.is_directed() and u != v:
                rows.append((index[v], index[u], r))
        ei = torch.tensor([[a for a, _, _ in rows], [b for _, b, _ in rows]], dtype=torch.int64)
        et = torch.tensor([r for _, _, r in rows], dtype=torch.int64)
        model = cls(
            ei.reshape(2, -1),
            et,
            num_nodes=len(order),
            dim=dim,
            num_relations=max(len(rel_index), 1),
            **options,  # type: ignore[arg-type]
        )
        model.nodes = order
        model.relations = tuple(rel_index) if rel_index else (None,)
        return model


def _edge_norm(edge_index: Tensor, num_nodes: int, normalize: Normalize) -> Tensor:
    n_edges = edge_index.shape[1]
    ones = torch.ones(n_edges, dtype=torch.get_default_dtype(), device=edge_index.device)
    if normalize == "none" or n_edges == 0:
        return ones
    src, dst = edge_index[0], edge_index[1]
    deg_in = torch.zeros(num_nodes, dtype=ones.dtype, device=ones.device).index_add_(0, dst, ones)
    if normalize == "mean":
        return 1.0 / deg_in[dst]
    deg_out = torch.zeros(num_nodes, dtype=ones.dtype, device=ones.device).index_add_(0, src, ones)
    return torch.rsqrt(deg_out[src] * deg_in[dst])
