"""GraphODE: the field against a hand-written loop, no edges, relabelling, adjoint, networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from neurosym import ode
from neurosym.errors import ConfigurationError


def _model(n: int = 5, dim: int = 3, *, seed: int = 0, **kw: object) -> ode.GraphODE:
    g = torch.Generator().manual_seed(seed)
    ei = torch.tensor([[0, 1, 2, 3, 0, 4, 0], [1, 2, 0, 0, 3, 4, 1]])  # 0 → 1 twice
    et = torch.tensor([0, 1, 0, 1, 1, 0, 0])
    m = ode.GraphODE(ei, et, num_nodes=n, dim=dim, generator=g, **kw)  # type: ignore[arg-type]
    with torch.no_grad():
        m.bias.normal_(generator=g)
        m.gain.uniform_(0.5, 1.5, generator=g)
    return m.double()


def _field_by_hand(m: ode.GraphODE, h: np.ndarray) -> np.ndarray:
    down = np.eye(m.dim) if m.down is None else m.down.weight.detach().numpy()
    up = np.eye(m.dim) if m.up is None else m.up.weight.detach().numpy()
    a = m.self_weight.detach().numpy()
    b = m.bias.detach().numpy()
    g = m.gain.detach().numpy()
    w = m.rel_weight.detach().numpy()
    src, dst = m.edge_index.numpy()
    typ = m.edge_type.numpy()
    indeg = np.bincount(dst, minlength=m.num_nodes)
    pre = h * a + b
    for s, d, r in zip(src, dst, typ, strict=True):
        pre[d] += up @ (w[r] * (down @ h[s])) / indeg[d]
    out: np.ndarray = g * np.tanh(pre)
    return out


@pytest.mark.parametrize("message_dim", [None, 2])
def test_field_matches_a_loop_over_edges(message_dim: int | None) -> None:
    m = _model(message_dim=message_dim)
    h = np.random.default_rng(1).normal(size=(5, 3))
    got = m.vector_field(torch.zeros(1, 1), torch.from_numpy(h).reshape(1, -1))
    np.testing.assert_allclose(got.reshape(5, 3).detach().numpy(), _field_by_hand(m, h), 1e-12)


def test_without_edges_each_channel_is_its_own_scalar_ode() -> None:
    g = torch.Generator().manual_seed(3)
    m = ode.GraphODE(
        torch.zeros(2, 0, dtype=torch.int64), num_nodes=4, dim=2, generator=g,
        method="dopri5", steps=None, rtol=1e-10, atol=1e-12, t_end=1.5,
    ).double()  # fmt: skip
    with torch.no_grad():
        m.bias.normal_(generator=g)
    h0 = torch.randn(4, 2, generator=g, dtype=torch.float64)
    got = m(h0).detach().numpy()
    a, b, gain = (p.detach().numpy() for p in (m.self_weight, m.bias, m.gain))
    for i in range(4):
        for c in range(2):
            ref = solve_ivp(
                lambda t, y, c=c: gain[c] * np.tanh(a[c] * y + b[c]),
                (0.0, 1.5),
                [float(h0[i, c])],
                rtol=1e-11,
                atol=1e-13,
            )
            assert got[i, c] == pytest.approx(ref.y[0, -1], abs=1e-8)


@pytest.mark.parametrize("message_dim", [None, 2])
def test_equivariant_under_node_relabelling(message_dim: int | None) -> None:
    m = _model(message_dim=message_dim)
    perm = torch.tensor([3, 0, 4, 1, 2])  # new index of old node i is perm[i]
    moved = ode.GraphODE(
        perm[m.edge_index],
        m.edge_type,
        num_nodes=5,
        dim=3,
        num_relations=2,
        message_dim=message_dim,
    ).double()
    moved.load_state_dict(
        {k: v for k, v in m.state_dict().items() if "edge" not in k}, strict=False
    )
    h0 = torch.randn(2, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    h0_moved = torch.empty_like(h0)
    h0_moved[:, perm] = h0
    out, out_moved = m(h0), moved(h0_moved)
    torch.testing.assert_close(out_moved[:, perm], out)
    assert not torch.allclose(out, h0)  # the dynamics did something


def test_batch_rows_are_independent_samples() -> None:
    m = _model()
    h0 = torch.randn(3, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    together = m(h0)
    for i in range(3):
        torch.testing.assert_close(together[i], m(h0[i]))


@pytest.mark.parametrize("method", ["rk4", "dopri5"])
def test_adjoint_gradients_match_autograd(method: str) -> None:
    steps = 64 if method == "rk4" else None  # adjoint ≠ discrete backprop: O(h⁴)
    kw = {"method": method, "steps": steps, "rtol": 1e-10, "atol": 1e-12}
    direct, adj = _model(message_dim=2, **kw), _model(message_dim=2, adjoint=True, **kw)
    h0 = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    grads = []
    for m in (direct, adj):
        x = h0.clone().requires_grad_(True)
        loss = (m(x) ** 2).sum()
        params = [x, *m.parameters()]
        grads.append(torch.autograd.grad(loss, params))
    for g1, g2 in zip(*grads, strict=True):
        torch.testing.assert_close(g1, g2, rtol=1e-6, atol=1e-8)


def test_gradcheck_through_fixed_steps() -> None:
    m = _model(steps=2)
    h0 = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: m(x), (h0,))


def test_edge_mask_equals_the_model_on_the_kept_edges() -> None:
    m = _model()
    keep = torch.tensor([True, False, True, True, False, True, False])
    sub = ode.GraphODE(
        m.edge_index[:, keep], m.edge_type[keep], num_nodes=5, dim=3, num_relations=2
    ).double()
    sub.load_state_dict({k: v for k, v in m.state_dict().items() if "edge" not in k}, strict=False)
    h0 = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(m(h0, edge_mask=keep), sub(h0))
    torch.testing.assert_close(m(h0), m(h0, edge_mask=torch.ones(7, dtype=torch.bool)))


def test_sym_normalisation_by_hand() -> None:
    m = ode.GraphODE(torch.tensor([[0, 0, 1], [1, 2, 2]]), num_nodes=3, dim=1, normalize="sym")
    # out-degrees 2, 1, 0; in-degrees 0, 1, 2
    expected = [1 / np.sqrt(2 * 1), 1 / np.sqrt(2 * 2), 1 / np.sqrt(1 * 2)]
    np.testing.assert_allclose(m.edge_norm.numpy(), expected, rtol=1e-6)


def test_from_networkx_undirected_and_multirelational() -> None:
    g = nx.Graph([("a", "b"), ("b", "c")])
    m = ode.GraphODE.from_networkx(g, dim=2, relation=None)
    assert m.nodes == ("a", "b", "c")
    assert sorted(map(tuple, m.edge_index.T.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    mg = nx.MultiDiGraph()
    mg.add_edge("x", "y", relation="likes")
    mg.add_edge("x", "y", relation="knows")
    mg.add_edge("y", "x", relation="likes")
    m2 = ode.GraphODE.from_networkx(mg, dim=2, nodes=["y", "x"])
    assert m2.relations == ("likes", "knows")
    assert m2.edge_index.tolist() == [[1, 1, 0], [0, 0, 1]]
    assert m2.edge_type.tolist() == [0, 1, 0]


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ConfigurationError, match="outside"):
        ode.GraphODE(torch.tensor([[0], [7]]), num_nodes=3, dim=2)
    with pytest.raises(ConfigurationError, match="edge_type"):
        ode.GraphODE(torch.tensor([[0], [1]]), torch.tensor([0, 1]), num_nodes=3, dim=2)
    m = ode.GraphODE(torch.tensor([[0], [1]]), num_nodes=3, dim=2)
    with pytest.raises(ConfigurationError, match="h0 must have shape"):
        m(torch.zeros(4, 2))
    with pytest.raises(ConfigurationError, match="every node"):
        ode.GraphODE.from_networkx(nx.path_graph(3), dim=2, nodes=[0, 1])
