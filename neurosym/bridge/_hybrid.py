"""``HybridODE``: the dynamics a knowledge base states, completed by neural terms and held
to its laws.

The vector field of state ``x_i`` is its known ``der(x_i) = ...`` expression (compiled from
sympy to torch through a whitelist, see :mod:`._torchify`), whose ``nn(net, [...])`` terms
call torch modules, plus an optional learned residual. Laws (``law ...``) are margins
(:mod:`._laws`): penalties along trajectories by default, or hard by construction for the
kinds that allow it (bounds by reparametrisation, rate bounds by clamping, dissipation by
projection).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, final

import sympy
import torch
from torch import Tensor, nn

from neurosym.errors import ConfigurationError
from neurosym.lang import NnRef
from neurosym.lang._sympy import to_sympy
from neurosym.ode import Solution, solve

from ._explain_dynamics import DynamicsExplanation, explain_dynamics
from ._laws import CompiledLaw, compile_law, field_symbol
from ._report import TrajectoryReport, law_report
from ._torchify import TorchExpr

if TYPE_CHECKING:
    from neurosym.kb import KnowledgeBase

__all__ = ["HybridODE"]


def _mlp(n_in: int, n_out: int, hidden: Sequence[int], dtype: torch.dtype) -> nn.Sequential:
    sizes = (n_in, *hidden, n_out)
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1], dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    last = layers[-1]
    assert isinstance(last, nn.Linear)
    # Start from the known physics: the learned part is zero until data says otherwise.
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(*layers)


def _declared_once(kb: KnowledgeBase) -> None:
    """Refuse a name declared twice, or a state with two der(...): the model would keep
    one of them silently (``neurosym check`` reports these too)."""
    names = [*kb.states, *(p.name for p in kb.params)]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigurationError(
            f"{', '.join(twice)}: declared more than once as a state or param; declare each "
            "name once (neurosym check shows where)"
        )
    derived = [d.state for d in kb.derivatives]
    twice = sorted({n for n in derived if derived.count(n) > 1})
    if twice:
        raise ConfigurationError(
            f"der({twice[0]}) is defined more than once; sum the terms in one der(...) statement"
        )


def _nn_refs(e: Any) -> list[NnRef]:
    from neurosym.kb._vars import subexpressions

    return [x for x in subexpressions(e) if isinstance(x, NnRef)]


@final
class HybridODE(nn.Module):
    """A vector field from a knowledge base's ``state``, ``param``, ``der`` and ``law``
    statements, with learned terms.

    Args:
        kb: the knowledge base.
        neural: torch modules for the ``nn(net, [inputs])`` terms, by net name; a term with
            ``k`` inputs receives a ``(batch, k)`` tensor and returns ``(batch, 1)`` (or
            ``(batch,)``); ``nn(net)`` without inputs receives all states. Nets not given
            get a small MLP whose last layer starts at zero.
        residual: add a learned residual MLP over all states to every component. Default:
            only when no ``der`` statement has an ``nn`` term, or some state has no ``der``.
        hidden: hidden widths of the MLPs built here.
        params: initial values overriding the file's ``param`` values.
        learn: params to learn besides those written ``t(...)`` in the file; ``"all"`` for
            every param.
        hard: laws to enforce by construction, by name (``"all"``: every law whose kind
            allows it); the others are penalties (:meth:`law_penalty`).
        bound_width: width of the layer inside a hard state bound where the outward part
            of the field is damped to zero (in the state's units): a field that would cross
            the bound slows to a stop within about this distance of it. Elsewhere the
            field is unchanged (to ``exp(-gap / bound_width)``).
        dtype: dtype of parameters and states.
        seed: seed for the initial weights of the MLPs built here (the global generator
            is left alone); ``None`` draws from the global generator.

    Example:
        >>> import neurosym as ns, torch
        >>> kb = ns.parse("state x. param k = 2.0. der(x) = -k * x. law pos: x >= 0.")
        >>> f = HybridODE(kb, residual=False, hard="all")
        >>> sol = f.solve(torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([0.0, 1.0]))
        >>> round(float(sol.ys[-1, 0, 0]), 4)  # exp(-2)
        0.1353

    Raises:
        ConfigurationError: no states, a state without ``der`` when ``residual=False``, an
            unknown param or law name, a law that cannot be hard, or an unsupported function.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        neural: Mapping[str, nn.Module] | None = None,
        residual: bool | None = None,
        hidden: Sequence[int] = (32,),
        params: Mapping[str, float] | None = None,
        learn: Sequence[str] | Literal["all"] = (),
        hard: Sequence[str] | Literal["all"] = (),
        bound_width: float = 1e-3,
        dtype: torch.dtype = torch.float64,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self._recording: list[Tensor] | None = None
        # During one solve, params and hard-bound limits are computed once (the same
        # tensors, so gradients still flow to every use).
        self._cache: tuple[dict[str, Tensor], list[tuple[int, int, Tensor]]] | None = None
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            self._setup(kb, neural, residual, hidden, params, learn, hard, bound_width, dtype)

    def _setup(
        self,
        kb: KnowledgeBase,
        neural: Mapping[str, nn.Module] | None,
        residual: bool | None,
        hidden: Sequence[int],
        params: Mapping[str, float] | None,
        learn: Sequence[str] | Literal["all"],
        hard: Sequence[str] | Literal["all"],
        bound_width: float,
        dtype: torch.dtype,
    ) -> None:
        self.states: tuple[str, ...] = kb.states
        if not self.states:
            raise ConfigurationError("the knowledge base declares no states (state x, v.)")
        _declared_once(kb)
        if not bound_width > 0:  # NaN too
            raise ConfigurationError(f"bound_width must be positive, got {bound_width}")
        if any(h < 1 for h in hidden):
            raise ConfigurationError(f"hidden widths must be at least 1, got {hidden!r}")
        self.dtype = dtype
        self.bound_width = float(bound_width)
        decls = {p.name: p for p in kb.params}
        values = {n: p.value for n, p in decls.items()}
        for name, v in (params or {}).items():
            if name not in decls:
                raise ConfigurationError(f"params: {name!r} is not a param of the knowledge base")
            values[name] = float(v)
        learned = set(decls) if learn == "all" else {n for n, p in decls.items() if p.learnable}
        for name in [] if learn == "all" else learn:
            if name not in decls:
                raise ConfigurationError(f"learn: {name!r} is not a param of the knowledge base")
            learned.add(name)
        self.param_names: tuple[str, ...] = tuple(decls)

        laws = [compile_law(law, states=self.states, params=self.param_names) for law in kb.laws]
        self.laws: tuple[CompiledLaw, ...] = tuple(laws)
        names = {law.name for law in laws}
        wanted = {law.name for law in laws if law.kind != "general"} if hard == "all" else set(hard)
        for name in wanted:
            if name not in names:
                raise ConfigurationError(f"hard: no law named {name!r}; laws: {sorted(names)}")
        for law in laws:
            if law.name in wanted and law.kind == "general":
                raise ConfigurationError(
                    f"law {law.name} ({law.text}) cannot be made hard: only bounds on a state or "
                    "param, bounds on der(state) and der(E) <= 0 can; keep it as a penalty"
                )
        self.hard: frozenset[str] = frozenset(wanted)

        # Params: learnable ones are raw parameters, reparametrised when a hard bound holds.
        self._param_bounds: dict[str, tuple[int, float]] = {}
        for law in laws:
            if law.name in self.hard and law.kind == "bound" and law.target in decls:
                assert law.limit is not None
                self._param_bounds[law.target] = (law.sense, float(law.limit))
        self.raw_params = nn.ParameterDict()
        for name in decls:
            v = values[name]
            if name in self._param_bounds:
                sense, c = self._param_bounds[name]
                gap = sense * (v - c)
                if gap <= 0:
                    raise ConfigurationError(
                        f"param {name} = {v} is outside its hard bound ({'>' if sense > 0 else '<'}"
                        f" {c}); start it inside"
                    )
                v = float(torch.log(torch.tensor(gap, dtype=torch.float64)))
            t = torch.tensor(v, dtype=dtype)
            if name in learned:
                self.raw_params[name] = nn.Parameter(t)
            else:
                self.register_buffer(f"fixed_{name}", t)

        # Known terms and neural modules.
        given = dict(neural or {})
        self.neural = nn.ModuleDict()
        self._whole_state_nets: list[str] = []
        derivs = {d.state: d for d in kb.derivatives}
        self._known: list[TorchExpr | None] = []
        has_nn = False
        inputs_of: dict[str, int] = {}  # each network's number of inputs, as first used
        for s in self.states:
            d = derivs.get(s)
            if d is None:
                self._known.append(None)
                continue
            functions: dict[str, Callable[[Tensor], Tensor]] = {}
            for ref in _nn_refs(d.expr):
                has_nn = True
                k = len(ref.inputs) if ref.inputs else len(self.states)
                if inputs_of.setdefault(ref.net, k) != k:
                    raise ConfigurationError(
                        f"network {ref.net} is used with {inputs_of[ref.net]} inputs and with "
                        f"{k} in der({s}); one network takes one number of inputs"
                    )
                if ref.inputs and all(not to_sympy(i).free_symbols for i in ref.inputs):
                    raise ConfigurationError(
                        f"nn({ref.net}, [...]) in der({s}) has only constant inputs; give it a "
                        "state or param, or learn a constant with 'param k = t(...)'"
                    )
                if ref.net not in self.neural:
                    self.neural[ref.net] = (
                        given.pop(ref.net) if ref.net in given else _mlp(k, 1, hidden, dtype)
                    )
                if ref.inputs:
                    functions[f"nn_{ref.net}"] = self.neural[ref.net]
                elif ref.net not in self._whole_state_nets:
                    self._whole_state_nets.append(ref.net)
            self._known.append(TorchExpr(to_sympy(d.expr), functions=functions))
        if given:
            raise ConfigurationError(
                f"neural: {', '.join(sorted(given))} not used by any der(...) = ... nn(...) term"
            )
        missing = [s for s, k in zip(self.states, self._known) if k is None]
        if residual is None:
            residual = not has_nn or bool(missing)
        if missing and not residual:
            raise ConfigurationError(
                f"no der(...) for {', '.join(missing)} and residual=False: their field is undefined"
            )
        self.residual = (
            _mlp(len(self.states), len(self.states), hidden, dtype) if residual else None
        )

        # Hard laws on the field.
        self._bounds = [
            law
            for law in laws
            if law.name in self.hard and law.kind == "bound" and law.target in self.states
        ]
        self._rates = [law for law in laws if law.name in self.hard and law.kind == "rate"]
        # Each rate law's limit, compiled once (a number, or an expression of params).
        self._rate_limits: list[TorchExpr | float] = [
            TorchExpr(law.limit) if law.limit is not None and law.limit.free_symbols
            else float(law.limit or 0)
            for law in self._rates
        ]  # fmt: skip
        self._dissipations = []
        for law in laws:
            if law.name in self.hard and law.kind == "dissipation":
                assert law.limit is not None
                grads = [TorchExpr(sympy.diff(law.limit, sympy.Symbol(s))) for s in self.states]
                self._dissipations.append((law, grads))

    # ------------------------------------------------------------------ values
    def param_values(self) -> dict[str, Tensor]:
        """Every param's current value (learned ones through their reparametrisation)."""
        if self._cache is not None:
            return self._cache[0]
        out: dict[str, Tensor] = {}
        for name in self.param_names:
            raw = (
                self.raw_params[name] if name in self.raw_params else getattr(self, f"fixed_{name}")
            )
            if name in self._param_bounds:
                sense, c = self._param_bounds[name]
                raw = c + sense * torch.exp(raw)
            out[name] = raw
        return out

    def param_table(self) -> dict[str, float]:
        """Every param's current value as a plain float (for printing and reports)."""
        return {k: float(v.detach()) for k, v in self.param_values().items()}

    def _values(self, y: Tensor) -> dict[str, Tensor]:
        values: dict[str, Tensor] = {s: y[..., i] for i, s in enumerate(self.states)}
        for name, v in self.param_values().items():
            values[name] = v.expand(y.shape[:-1])
        for net in self._whole_state_nets:
            out = self.neural[net](y)
            values[f"nn_{net}"] = out.squeeze(-1) if out.dim() == y.dim() else out
        return values

    @contextmanager
    def recording(self) -> Iterator[list[Tensor]]:
        """Collect every state at which the field is evaluated (every solver stage), in
        the states' own coordinates: ``with model.recording() as seen: model.solve(...)``."""
        seen: list[Tensor] = []
        self._recording = seen
        try:
            yield seen
        finally:
            self._recording = None

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        """The field ``f(t, y)`` for states ``y`` of shape ``(batch, dim)``."""
        if self._recording is not None:
            self._recording.append(y.detach().clone())
        return self._field(y)[0]

    def _field(self, y: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The field at ``y`` and the values (states, params, neural terms) it used."""
        values = self._values(y)
        comps = [k(values) if k is not None else torch.zeros_like(y[..., 0]) for k in self._known]
        f = torch.stack(comps, dim=-1)
        if self.residual is not None:
            f = f + self.residual(y)
        return self._enforce(f, values), values

    def _enforce(self, f: Tensor, values: dict[str, Tensor]) -> Tensor:
        if not (self._rates or self._dissipations):
            return f
        lo, hi = self._rate_bounds(f, values)
        if self._rates and len(self._dissipations) == 1:
            # Rate bounds and one dissipation law at once: the nearest field that obeys both
            # (a box and a half-space), so neither undoes the other.
            law, grads = self._dissipations[0]
            g = torch.stack([gr(values) for gr in grads], dim=-1)
            return _project_box_halfspace(f, g if law.sense < 0 else -g, lo, hi)
        f = torch.minimum(torch.maximum(f, lo), hi)
        for law, grads in self._dissipations:
            g = torch.stack([gr(values) for gr in grads], dim=-1)
            s = (g * f).sum(-1, keepdim=True)
            excess = torch.relu(s) if law.sense < 0 else -torch.relu(-s)
            f = f - excess * g / (g * g).sum(-1, keepdim=True).clamp_min(1e-300)
        return f

    def _rate_bounds(self, f: Tensor, values: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Per-component bounds ``(batch, dim)`` of the hard rate laws that bind here."""
        lo = torch.full_like(f, -math.inf)
        hi = torch.full_like(f, math.inf)
        if not self._rates:
            return lo, hi
        fv = {**values, **{field_symbol(s).name: f[..., i] for i, s in enumerate(self.states)}}
        lo_cols, hi_cols = list(lo.unbind(-1)), list(hi.unbind(-1))
        for law, limit in zip(self._rates, self._rate_limits):
            i = self.states.index(law.target)
            _, active = law.evaluate(fv)
            c_ = limit(values) if isinstance(limit, TorchExpr) else limit
            c = torch.as_tensor(c_, dtype=f.dtype, device=f.device).expand_as(active)
            if law.sense < 0:
                hi_cols[i] = torch.where(active, torch.minimum(hi_cols[i], c), hi_cols[i])
            else:
                lo_cols[i] = torch.where(active, torch.maximum(lo_cols[i], c), lo_cols[i])
        return torch.stack(lo_cols, dim=-1), torch.stack(hi_cols, dim=-1)

    # ------------------------------------------------------------------ solving
    def solve(self, y0: Tensor, t: Tensor, **options: Any) -> Solution:
        """Solve from ``y0`` ``(batch, dim)`` at times ``t`` with :func:`neurosym.ode.solve`
        (same options); hard state bounds are solved in their reparametrised coordinates,
        so every solver stage stays inside them.

        Raises:
            ConfigurationError: an initial state on or outside a hard bound.
        """
        y0 = y0.to(self.dtype)
        if self._cache is not None:  # re-entrant (a field that solves): no caching inside
            return self._solve(y0, t, options)
        params = self.param_values()
        self._cache = (params, self._limits(params, y0))
        try:
            return self._solve(y0, t, options)
        finally:
            self._cache = None

    def _solve(self, y0: Tensor, t: Tensor, options: dict[str, Any]) -> Solution:
        if not self._bounds:
            return solve(self, y0, t, **options)
        if options.get("adjoint") and "adjoint_params" not in options:
            options["adjoint_params"] = tuple(p for p in self.parameters() if p.requires_grad)
        u0 = self.to_inner(y0)
        sol = solve(_InnerField(self), u0, t, **options)
        return dataclasses.replace(
            sol, ys=self.from_inner(sol.ys), y_final=self.from_inner(sol.y_final)
        )

    def _bound_specs(self, like: Tensor) -> list[tuple[int, int, Tensor]]:
        """``(state index, sense, limit)`` of each hard state bound."""
        if self._cache is not None:
            return self._cache[1]
        return self._limits(self.param_values(), like)

    def _limits(self, params: Mapping[str, Tensor], like: Tensor) -> list[tuple[int, int, Tensor]]:
        specs = []
        for law in self._bounds:
            assert law.limit is not None
            c = TorchExpr(law.limit)(params) if law.limit.free_symbols else float(law.limit)
            specs.append(
                (self.states.index(law.target), law.sense, torch.as_tensor(c, dtype=like.dtype))
            )
        return specs

    def to_inner(self, y: Tensor) -> Tensor:
        """States → the solver's coordinates (``log`` of the gap to each hard bound)."""
        cols = list(y.unbind(-1))
        for i, sense, c in self._bound_specs(y):
            gap = sense * (cols[i] - c)
            if bool((gap <= 0).any()):
                raise ConfigurationError(
                    f"initial {self.states[i]} is on or outside its hard bound "
                    f"({'>' if sense > 0 else '<'} {float(c):g}); start inside it"
                )
            cols[i] = torch.log(gap)
        return torch.stack(cols, dim=-1)

    def from_inner(self, u: Tensor) -> Tensor:
        """The solver's coordinates → states."""
        cols = list(u.unbind(-1))
        for i, sense, c in self._bound_specs(u):
            y = c + sense * torch.exp(cols[i])
            # A gap below the spacing of floats at c (or an underflowing exp) rounds y onto
            # the bound itself; keep the nearest float on the allowed side instead, so that
            # strict bounds (x > c) hold at every stage too.
            cd = c.detach().expand_as(y)
            nearest = torch.nextafter(cd, torch.full_like(y, sense * math.inf))
            cols[i] = torch.where(y == c, c + (nearest - cd), y)
        return torch.stack(cols, dim=-1)

    # ------------------------------------------------------------------ laws
    def _law_values(self, y: Tensor) -> dict[str, Tensor]:
        flat = y.reshape(-1, y.shape[-1]).to(self.dtype)
        f, values = self._field(flat)
        values = {**values, **{field_symbol(s).name: f[:, i] for i, s in enumerate(self.states)}}
        return {k: v.reshape(y.shape[:-1]) for k, v in values.items()}

    def law_violations(self, states: Tensor | Solution) -> dict[str, Tensor]:
        """Each law's violation ``relu(-margin)`` at each state (0 where it holds or its
        conditions do not), hard laws included: shape ``states.shape[:-1]``.

        ``states`` is any ``(..., dim)`` tensor (a trajectory, collocation points, the
        states of :meth:`recording`) or a solution.
        """
        ys = states.ys if isinstance(states, Solution) else states
        values = self._law_values(ys)
        return {law.name: law.violation(values) for law in self.laws}

    def law_penalty(self, states: Tensor | Solution) -> dict[str, Tensor]:
        """Mean violation ``relu(-margin)`` of each penalty (non-hard) law over states
        (:meth:`law_violations` averaged). Hard laws are not listed: they hold by
        construction.
        """
        return {
            name: v.mean()
            for name, v in self.law_violations(states).items()
            if name not in self.hard
        }

    def report(self, sol: Solution, *, tol: float = 1e-9) -> TrajectoryReport:
        """Where each law holds, binds or is violated along a solution (worst sample at
        each time), with time intervals and the size of the worst violation."""
        ts = sol.ts if sol.ts.dim() == 1 else sol.ts[0]
        with torch.no_grad():
            return law_report(self.laws, self._law_values(sol.ys), ts, hard=self.hard, tol=tol)

    def explain(
        self,
        sol: Solution,
        *,
        distilled: Sequence[sympy.Eq] | None = None,
        at: Mapping[str, float] | None = None,
        tol: float = 1e-9,
    ) -> DynamicsExplanation:
        """Explain a trajectory: the known equations and params, which if-then laws fire
        over which time intervals, which laws bind or break, the ``distilled`` equations
        of the whole learned field (from :func:`distill`) and their linearisation at the
        equilibrium ``at`` (default: the origin): eigenvalues, damping ratio, natural
        frequency, period. Without learned terms the known equations are linearised."""
        return explain_dynamics(self, self.report(sol, tol=tol), distilled=distilled, at=at)

    def known_equations(self) -> list[sympy.Eq]:
        """The known part of the field as ``Eq(der(x), rhs)`` with the params' current
        values substituted (learned terms appear as ``nn_net(...)``)."""
        from neurosym.lang._sympy import DER

        subs = {sympy.Symbol(k): sympy.Float(v) for k, v in self.param_table().items()}
        return [
            sympy.Eq(DER(sympy.Symbol(s)), k.expr.subs(subs) if k is not None else sympy.Integer(0))
            for s, k in zip(self.states, self._known)
        ]


@final
class _InnerField(nn.Module):
    """The field in the coordinates where hard state bounds cannot be crossed."""

    def __init__(self, model: HybridODE) -> None:
        super().__init__()
        self.model = model

    def forward(self, t: Tensor, u: Tensor) -> Tensor:
        m = self.model
        y = m.from_inner(u)
        f = m(t, y)
        cols = list(f.unbind(-1))
        for i, sense, c in m._bound_specs(u):
            gap = sense * (y[..., i] - c)
            outward = sense * cols[i] < 0
            # Damp the outward part to zero at the bound, so du/dt = f/gap stays finite.
            # (1 - exp(-gap/w)) / gap, whose limit at gap -> 0 is 1/w.
            safe = gap.clamp_min(1e-300)
            ratio = torch.where(
                gap > 1e-12 * m.bound_width,
                -torch.expm1(-safe / m.bound_width) / safe,
                1 / m.bound_width,
            )
            cols[i] = sense * torch.where(outward, cols[i] * ratio, cols[i] / safe)
        return torch.stack(cols, dim=-1)


def _project_box_halfspace(f: Tensor, g: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """The point of ``{lo <= x <= hi, g·x <= 0}`` nearest to ``f``, row by row.

    By the KKT conditions it is ``clip(f - λg, lo, hi)`` for the smallest ``λ >= 0`` with
    ``g·clip(f - λg, lo, hi) <= 0``; that function of ``λ`` does not increase, so ``λ`` is
    found by doubling and bisection (the multiplier carries no gradient, like a
    projection's active set). Where the box and the half-space do not meet, the box point
    furthest into the half-space is taken.
    """

    def inner(lam: Tensor) -> Tensor:
        return (g * torch.minimum(torch.maximum(f - lam * g, lo), hi)).sum(-1, keepdim=True)

    with torch.no_grad():
        zero = torch.zeros_like(f[..., :1])
        if bool((inner(zero) <= 0).all()):
            return torch.minimum(torch.maximum(f, lo), hi)
        gg = (g * g).sum(-1, keepdim=True).clamp_min(1e-300)
        top = (torch.relu((g * f).sum(-1, keepdim=True)) / gg).clamp_min(1e-300)
        for _ in range(200):  # grow until the constraint holds (or the box runs out)
            grow = inner(top) > 0
            if not bool(grow.any()):
                break
            top = torch.where(grow, top * 2, top)
        bottom = zero
        for _ in range(100):
            mid = (bottom + top) / 2
            ok = inner(mid) <= 0
            top = torch.where(ok, mid, top)
            bottom = torch.where(ok, bottom, mid)
        lam = torch.where(inner(zero) <= 0, zero, top)
    return torch.minimum(torch.maximum(f - lam * g, lo), hi)
