"""Networks as differential equations: residual stacks as integrators, regularisers,
augmented neural ODEs and the solver-swap check."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import Tensor, nn

from neurosym import ode
from neurosym.errors import ConfigurationError

A = torch.tensor([[-0.3, 1.0], [-1.0, -0.3]], dtype=torch.float64)


class Linear(nn.Module):
    """The field ``f(t, x) = A x``, whose flow is ``expm(t A)``."""

    def __init__(self, a: Tensor) -> None:
        super().__init__()
        self.a = a

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        return x @ self.a.T


def _resnet(fields: list[nn.Module], x: Tensor, h: float) -> Tensor:
    for n, f in enumerate(fields):
        x = x + h * f(x.new_full((x.shape[0], 1), n * h), x)
    return x


# --- LMResBlock -------------------------------------------------------------------------


@pytest.mark.parametrize("scaling", ["lu", "consistent"])
def test_lm_block_with_k_zero_is_exactly_a_resnet(scaling: str) -> None:
    torch.manual_seed(0)
    fields: list[nn.Module] = [ode.MLPField(3, (8,)) for _ in range(5)]
    block = ode.LMResBlock(fields, t_end=2.0, k=0.0, scaling=scaling)  # type: ignore[arg-type]
    x = torch.randn(7, 3)
    assert torch.equal(block(x), _resnet(fields, x, 2.0 / 5))


def _lm_error(depth: int, *, k: float, scaling: str, target_scale: float = 1.0) -> float:
    x0 = torch.tensor([[1.0, 0.5], [-0.2, 2.0]], dtype=torch.float64)
    block = ode.LMResBlock(Linear(A), depth=depth, k=k, learn_k=False, scaling=scaling)  # type: ignore[arg-type]
    exact = x0 @ torch.linalg.matrix_exp(A * target_scale).T
    return float((block(x0) - exact).abs().max())


def test_lm_block_is_second_order_on_a_linear_field_at_k_one() -> None:
    # scaling="consistent", k=1 is leapfrog: the error falls ~4x when h halves.
    errs = [_lm_error(n, k=1.0, scaling="consistent") for n in (20, 40, 80, 160)]
    ratios = [a / b for a, b in itertools.pairwise(errs)]
    assert all(3.7 < r < 4.3 for r in ratios), ratios


def test_lm_block_at_k_zero_is_first_order() -> None:
    errs = [_lm_error(n, k=0.0, scaling="lu") for n in (40, 80, 160)]
    ratios = [a / b for a, b in itertools.pairwise(errs)]
    assert all(1.8 < r < 2.2 for r in ratios), ratios


def test_lu_scaling_with_k_nonzero_integrates_the_rescaled_equation() -> None:
    # The Taylor expansion says: consistent with (1 + k) x' = A x, first order; not x' = A x.
    k = 0.5
    errs = [_lm_error(n, k=k, scaling="lu", target_scale=1 / (1 + k)) for n in (40, 80, 160)]
    ratios = [a / b for a, b in itertools.pairwise(errs)]
    assert all(1.8 < r < 2.2 for r in ratios), ratios
    assert _lm_error(160, k=k, scaling="lu") > 0.05  # far from the solution of x' = A x


def test_lm_coefficients_are_learnable() -> None:
    torch.manual_seed(1)
    block = ode.LMResBlock(ode.MLPField(2, (8,)), depth=4, k=0.2)
    assert isinstance(block.k, nn.Parameter) and block.k.shape == (3,)
    block(torch.randn(5, 2)).square().sum().backward()
    assert block.k.grad is not None and bool((block.k.grad != 0).all())
    fixed = ode.LMResBlock(ode.MLPField(2, (8,)), depth=4, learn_k=False)
    assert all(p is not fixed.k for p in fixed.parameters())


# --- MomentumResBlock -------------------------------------------------------------------


def test_momentum_block_inverse_reconstructs_inputs() -> None:
    torch.manual_seed(2)
    fields: list[nn.Module] = [ode.MLPField(4, (16,)).double() for _ in range(6)]
    block = ode.MomentumResBlock(fields, gamma=0.8)
    x0 = torch.randn(10, 4, dtype=torch.float64)
    v0 = torch.randn(10, 4, dtype=torch.float64)
    x, v = block.flow(x0, v0)
    assert (x - x0).abs().max() > 0.1  # the map is not the identity
    xr, vr = block.inverse(x, v)
    assert torch.allclose(xr, x0, atol=1e-10) and torch.allclose(vr, v0, atol=1e-10)


def test_momentum_block_matches_hand_recursion_and_is_a_resnet_at_gamma_zero() -> None:
    torch.manual_seed(3)
    f = ode.MLPField(2, (8,))
    x0 = torch.randn(3, 2)
    gamma = 0.6
    x, v = x0, torch.zeros_like(x0)
    for n in range(3):
        v = gamma * v + (1 - gamma) * f(torch.full((3, 1), n / 3), x)
        x = x + v
    assert torch.allclose(ode.MomentumResBlock(f, depth=3, gamma=gamma)(x0), x, atol=1e-6)
    # At gamma = 0: x + f(x) per step (a field without time input: the stack feeds t = n/3).
    f_no_t = ode.MLPField(2, (8,), time_input=False)
    assert torch.allclose(
        ode.MomentumResBlock(f_no_t, depth=3, gamma=0.0)(x0), _resnet([f_no_t] * 3, x0, 1.0)
    )
    with pytest.raises(ConfigurationError, match="not invertible"):
        ode.MomentumResBlock(f, depth=3, gamma=0.0).inverse(x0, x0)


# --- ODEBlock: any solver, NFE, residual block ------------------------------------------


def test_ode_block_with_one_euler_step_is_a_residual_block() -> None:
    torch.manual_seed(4)
    f = ode.MLPField(3, (8,))
    block = ode.ODEBlock(f, method="euler", steps=1)
    x = torch.randn(6, 3)
    assert torch.allclose(block(x), x + f(torch.zeros(6, 1), x), atol=1e-7)
    assert block.nfe_forward == 1


def test_ode_block_counts_forward_and_backward_evaluations() -> None:
    torch.manual_seed(5)
    f = ode.MLPField(2, (8,))
    x = torch.randn(4, 2)
    direct = ode.ODEBlock(f, rtol=1e-6, atol=1e-8)
    direct(x).sum().backward()
    assert direct.last_stats is not None and direct.nfe_forward == direct.last_stats.nfe > 6
    assert direct.nfe_backward == 0  # autograd replays the graph; the field is not called
    adj = ode.ODEBlock(f, rtol=1e-6, atol=1e-8, adjoint=True)
    out = adj(x)
    assert adj.nfe_backward == 0
    out.sum().backward()
    assert adj.nfe_backward > 0  # the adjoint solve evaluates the field backwards


def test_solver_setting_and_block_reject_bad_options() -> None:
    with pytest.raises(ConfigurationError, match="fixed-step"):
        ode.SolverSetting("euler")
    with pytest.raises(ConfigurationError, match="not both"):
        ode.SolverSetting("rk4", steps=2, dt=0.1)
    with pytest.raises(ConfigurationError, match="augment_dim"):
        ode.ODEBlock(ode.MLPField(2), augment_dim=-1)
    with pytest.raises(ConfigurationError, match="depth"):
        ode.LMResBlock(ode.MLPField(2))
    with pytest.raises(ConfigurationError, match="gamma"):
        ode.MomentumResBlock(ode.MLPField(2), depth=2, gamma=1.0)


# --- regularisers -----------------------------------------------------------------------


class Decay(nn.Module):
    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        return -y


@pytest.mark.parametrize("t_end", [1.0, 2.5])
def test_kinetic_energy_matches_closed_form(t_end: float) -> None:
    # f(y) = -y from y0: ∫ ‖y0 e^{-t}‖² dt = ‖y0‖² (1 - e^{-2T}) / 2.
    torch.manual_seed(6)
    y0 = torch.randn(5, 3, dtype=torch.float64)
    block = ode.ODEBlock(Decay(), t_end=t_end, rtol=1e-10, atol=1e-12)
    y, reg = block.regularised(y0)
    expected = (y0**2).sum(-1) * (1 - math.exp(-2 * t_end)) / 2
    assert reg.kinetic is not None and reg.jacobian is None
    assert torch.allclose(reg.kinetic, expected, rtol=1e-8)
    assert torch.allclose(y, y0 * math.exp(-t_end), rtol=1e-8)


def test_jacobian_term_is_the_hutchinson_estimate_of_the_frobenius_norm() -> None:
    # J = A for the linear field: per sample ∫ ‖εᵀ A‖² dt = T ‖Aᵀ ε‖², mean T ‖A‖_F².
    y0 = torch.randn(4000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    block = ode.ODEBlock(Linear(A), t_end=2.0, rtol=1e-8, atol=1e-10)
    _, reg = block.regularised(
        y0, kinetic=False, jacobian=True, generator=torch.Generator().manual_seed(7)
    )
    eps = ode.draw_noise(y0, generator=torch.Generator().manual_seed(7))
    assert reg.jacobian is not None and reg.kinetic is None
    assert torch.allclose(reg.jacobian, 2.0 * ((eps @ A) ** 2).sum(-1), rtol=1e-8)
    frob = 2.0 * float((A**2).sum())
    assert abs(float(reg.jacobian.mean()) - frob) < 0.05 * frob


def test_jacobian_integrand_agrees_with_jacrev_on_a_nonlinear_field() -> None:
    torch.manual_seed(8)
    f = ode.MLPField(3, (16,)).double()
    y = torch.randn(6, 3, dtype=torch.float64)
    t = torch.full((6, 1), 0.3, dtype=torch.float64)
    eps = ode.draw_noise(y, generator=torch.Generator().manual_seed(1), kind="rademacher")
    assert set(eps.unique().tolist()) == {-1.0, 1.0}
    reg = ode.RegularisedField(f, 3, kinetic=True, jacobian=True, noise=eps)
    out = reg(t, reg.initial(y))
    jac = torch.func.vmap(torch.func.jacrev(lambda ti, yi: f(ti[None], yi[None])[0], 1))(t, y)
    expected = torch.einsum("bi,bij->bj", eps, jac).square().sum(-1)
    assert torch.allclose(out[:, 4], expected, rtol=1e-10)
    assert torch.allclose(out[:, 3], f(t, y).square().sum(-1), rtol=1e-12)
    with torch.no_grad():  # also without a graph (evaluation)
        assert torch.allclose(reg(t, reg.initial(y))[:, 4], expected, rtol=1e-10)


def test_regularisation_total_and_gradient() -> None:
    torch.manual_seed(9)
    block = ode.ODEBlock(ode.MLPField(2, (8,)), rtol=1e-5, atol=1e-6)
    _, reg = block.regularised(torch.randn(8, 2), jacobian=True)
    assert reg.kinetic is not None and reg.jacobian is not None
    loss = reg.total(kinetic=0.1, jacobian=0.01)
    assert torch.allclose(loss, 0.1 * reg.kinetic.mean() + 0.01 * reg.jacobian.mean())
    loss.backward()
    assert all(p.grad is not None for p in block.parameters())
    _, ke_only = block.regularised(torch.randn(8, 2))
    with pytest.raises(ConfigurationError, match="jacobian=True"):
        ke_only.total(jacobian=1.0)


# --- augmented neural ODE and the solver-swap check on the 1-D crossing map -------------

X = torch.tensor([[1.0], [-1.0]])
Y = -X  # g(1) = -1, g(-1) = 1: no 1-D ODE flow does this (it preserves order)


def _fit(block: ode.ODEBlock, iters: int) -> float:
    opt = torch.optim.Adam(block.parameters(), lr=1e-2)
    for _ in range(iters):
        opt.zero_grad()
        loss = ((block(X) - Y) ** 2).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(((block(X) - Y) ** 2).mean())


@pytest.fixture(scope="module")
def augmented() -> ode.ODEBlock:
    torch.manual_seed(0)
    aug = ode.ODEBlock(ode.MLPField(2, (16,)), rtol=1e-4, atol=1e-5, augment_dim=1)
    _fit(aug, 300)
    return aug


def test_plain_neural_ode_cannot_fit_the_crossing_map_and_augmented_one_can(
    augmented: ode.ODEBlock,
) -> None:
    torch.manual_seed(0)
    plain = ode.ODEBlock(ode.MLPField(1, (16,)), rtol=1e-4, atol=1e-5)
    mse_plain = _fit(plain, 120)
    with torch.no_grad():
        out = plain(X)
    assert float(out[1, 0]) < float(out[0, 0])  # order kept: φ(-1) < φ(1)
    assert mse_plain > 0.99  # ≥ 1 for every order-preserving map
    with torch.no_grad():
        assert float(((augmented(X) - Y) ** 2).mean()) <= 1e-3


def test_solver_swap_flags_a_model_trained_with_one_euler_step(augmented: ode.ODEBlock) -> None:
    torch.manual_seed(0)
    resnet_like = ode.ODEBlock(ode.MLPField(1, (16,)), method="euler", steps=1)
    assert _fit(resnet_like, 300) < 1e-4  # one Euler step can cross: x + f(x) = -x
    report = ode.solver_swap_check(resnet_like, X, Y, metric="mse", tolerance=1e-3)
    assert report.labels[0] == "as trained: euler(steps=1)"
    assert report.metrics[0] < 1e-4 and min(report.metrics[1:]) > 0.99  # the ODE cannot
    assert not report.behaves_as_ode and report.spread > 0.99
    assert resnet_like.setting == ode.SolverSetting("euler", steps=1)  # restored
    assert "does NOT behave" in report.summary()

    good = ode.solver_swap_check(augmented, X, Y, metric="mse", tolerance=1e-3)
    assert good.behaves_as_ode and good.spread < 1e-3
    assert good.nfe[2] == 4 * 32  # rk4 with 32 steps


def test_solver_swap_check_accuracy_metric_and_errors() -> None:
    torch.manual_seed(10)
    model = nn.Sequential(nn.Linear(4, 3), ode.ODEBlock(ode.MLPField(3, (8,))), nn.Linear(3, 2))
    x = torch.randn(32, 4)
    labels = model(x).argmax(-1).detach()
    report = ode.solver_swap_check(model, x, labels)
    assert report.metric_name == "accuracy" and report.metrics[0] == 1.0
    assert report.behaves_as_ode and model.training
    starved = ode.SolverSetting("dopri5", rtol=1e-8, atol=1e-10, max_steps=2)
    failed = ode.solver_swap_check(model, x, labels, solvers=[starved])
    assert math.isnan(failed.metrics[1]) and failed.spread == math.inf
    assert not failed.behaves_as_ode and failed.nfe[1] > 0
    with pytest.raises(ConfigurationError, match="no ODEBlock"):
        ode.solver_swap_check(nn.Linear(2, 2), x, labels)
    with pytest.raises(ConfigurationError, match="metric"):
        ode.solver_swap_check(model, x, labels, metric="f1")  # type: ignore[arg-type]


def test_regularised_gradients_by_adjoint_match_direct_backprop() -> None:
    torch.manual_seed(11)
    f = ode.MLPField(3, (8,)).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    grads = []
    for adjoint in (False, True):
        block = ode.ODEBlock(f, rtol=1e-9, atol=1e-10, adjoint=adjoint)
        f.zero_grad()
        y, reg = block.regularised(x, jacobian=True, generator=torch.Generator().manual_seed(1))
        (y.sum() + reg.total(kinetic=0.3, jacobian=0.2)).backward()
        grads.append(torch.cat([p.grad.flatten() for p in f.parameters()]))  # type: ignore[union-attr]
        assert (block.nfe_backward > 0) == adjoint
    assert torch.allclose(grads[0], grads[1], rtol=1e-6, atol=1e-8)
