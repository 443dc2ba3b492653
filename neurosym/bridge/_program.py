"""``bridge.compile``: a knowledge base as a torch module, with neural predicates and
learnable weights, whose answers are exact probabilities, batched and differentiable."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, final

import torch
from torch import nn

from neurosym.engine import (
    BaseFacts,
    compile_kb,
    compile_rule,
    components_of,
    evaluate,
    format_value,
    goal_rule,
    magic_rewrite,
    pred_key,
    premise_value,
    term_value,
)
from neurosym.engine import Program as EngineProgram
from neurosym.errors import ApproximationWarning, ConfigurationError, EngineError, LimitError
from neurosym.lang import (
    Atom,
    Fact,
    FixedWeight,
    LearnableWeight,
    Rule,
    Var,
    format_statement,
)

from ._circuit import Circuit
from ._expr import ExprGraph, StructuralExpr, StructuralLattice, evaluate_expr
from ._ground import (
    NeuralOutcome,
    ParamRef,
    StructuralProbability,
    StructuralTopK,
    TopKUnsupported,
)
from ._result import QueryResult
from ._structure import Plan, SumPlan, recognise
from ._sumquery import SumQuery
from ._sums import map_assignment

if TYPE_CHECKING:
    from neurosym.explain import Answer
    from neurosym.kb import KnowledgeBase

__all__ = ["Program", "QueryResult", "compile"]

_EPS = 1e-12
_VIOLATED = "violated__"  # the head of the rules that stand for integrity constraints
_ENUMERATE = 10_000  # explain a recognised sum by its proofs up to this many combinations


def _param_name(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", label)


@dataclass(frozen=True)
class _Grounding:
    answers: list[str]
    bindings: list[dict[str, Any]]
    circuit: Circuit | None  # probability: a BDD circuit
    sources: list[tuple[Any, ...]]
    graph: ExprGraph | None = None  # fuzzy and CF: an expression DAG and its roots
    roots: list[int] = field(default_factory=list)
    plan: Literal["circuit", "top-k"] = "circuit"


@final
class Program(nn.Module):
    """A knowledge base compiled for torch (build it with :func:`compile`).

    Neural predicates get their networks from ``prog.neural[name] = module`` (each module
    maps a batch of inputs to a batch of probability rows over the predicate's domain,
    i.e. it ends with a softmax). Learnable weights ``t(w)`` are parameters, kept in (0, 1)
    as the sigmoid of a logit. Everything else in the KB is fixed.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        semantics: str = "prob",
        max_nodes: int = 2_000_000,
        structure: bool = True,
        top_k: int | None = 10,
    ) -> None:
        super().__init__()
        if top_k is not None and not (isinstance(top_k, int) and top_k >= 1):
            raise ConfigurationError(f"top_k must be a positive int or None, got {top_k!r}")
        self.kb = kb
        self.semantics = semantics
        self.max_nodes = max_nodes
        self.structure = structure
        self.top_k = top_k
        self.neural = nn.ModuleDict()
        self.weights = nn.ParameterDict()
        self.register_buffer("_probe", torch.zeros(()), persistent=False)
        engine = compile_kb(kb)  # raises on check errors
        self._param_of: dict[int, str] = {}  # id(statement) -> parameter name
        rules = []
        for crule, rule in zip(engine.rules, kb.rules):
            if isinstance(rule.weight, LearnableWeight):
                name = self._new_param(f"rule_{crule.label}", rule.weight.initial, rule)
                # The engine passes a rule's weight to the semiring untouched: the marker
                # reaches StructuralProbability.event, which makes it a parameter leaf.
                marker: Any = ParamRef(name, rule.weight.initial)
                crule = dataclasses.replace(crule, weight=marker)
            rules.append(crule)
        base: dict[Any, list[Any]] = {}
        for f in kb.facts:
            key = (
                pred_key(f.atom.predicate, f.atom.arity),
                tuple(term_value(a) for a in f.atom.args),
            )
            w: Any = None
            if isinstance(f.weight, FixedWeight):
                w = f.weight.value
            elif isinstance(f.weight, LearnableWeight):
                loc = f.span.start_str() if f.span else str(len(self._param_of))
                w = ParamRef(self._new_param(f"fact_{f.atom.predicate}_{loc}", f.weight.initial, f),
                             f.weight.initial)  # fmt: skip
            base.setdefault(key, []).append(w)
        self._engine = EngineProgram(
            rules, BaseFacts.of_mappings(base, engine.sources), engine.components
        )
        self._decls = list(kb.neural)
        for d in self._decls:
            names = [a.name for a in d.inputs if isinstance(a, Var)]
            if not d.inputs or len(names) != len(d.inputs) or len(set(names)) != len(names):
                raise ConfigurationError(
                    f"nn({d.net}, [...]): the inputs must be distinct variables, one per input "
                    f"tensor, e.g. [X] or [X, Y]; got {len(d.inputs)} input(s)"
                )
        self._groundings: dict[tuple[str, tuple[str, ...], bool], _Grounding] = {}
        self._rule_groundings: dict[
            tuple[str, ...], tuple[ExprGraph, list[tuple[int, int, int]]]
        ] = {}
        self._sums: dict[tuple[str, tuple[str, ...]], SumQuery | str] = {}
        self._version = kb.version
        self._constants = _constants(kb)

    def _new_param(self, label: str, initial: float, stmt: Rule | Fact) -> str:
        name = _param_name(label)
        while name in self.weights:
            name += "_"
        p = min(max(initial, 1e-6), 1 - 1e-6)
        self.weights[name] = nn.Parameter(torch.tensor(math.log(p / (1 - p))))
        self._param_of[id(stmt)] = name
        return name

    # ------------------------------------------------------------------ grounding
    def _neural_facts(self, keys: Sequence[str]) -> dict[Any, list[Any]]:
        """One fact per input combination and outcome. A network with several inputs sees
        every ordered combination of the inputs passed (its outcome key joins their names
        with commas, which input names cannot contain)."""
        out: dict[Any, list[Any]] = {}
        for d in self._decls:
            head = d.head
            for combo in itertools.product(keys, repeat=len(d.inputs)):
                bound = dict(zip(d.inputs, combo))
                key = ",".join(combo)
                for j, value_term in enumerate(d.domain):
                    args: list[Any] = []
                    for a in head.args:
                        if a in bound:
                            args.append(bound[a])
                        elif a == d.output:
                            args.append(term_value(value_term))
                        else:
                            args.append(term_value(a))
                    fact_key = (pred_key(head.predicate, head.arity), tuple(args))
                    out.setdefault(fact_key, []).append(NeuralOutcome(d.net, key, j, len(d.domain)))
        return out

    def _fresh(self) -> None:
        if self.kb.version != self._version:
            raise ConfigurationError(
                "the knowledge base changed after bridge.compile; compile it again to use "
                "the new statements"
            )

    def _program_for(self, keys: tuple[str, ...], *, violations: bool = False) -> EngineProgram:
        """The engine program with the neural outcomes of the inputs ``keys`` as facts
        (and with ``violations``, a rule ``violated__ :- body.`` per integrity constraint)."""
        base = dict(self._engine.base)
        for k, v in self._neural_facts(keys).items():
            base[k] = base.get(k, []) + v
        rules = list(self._engine.rules)
        if violations:
            n = len(rules)
            for i, c in enumerate(self.kb.constraints):
                rules.append(compile_rule(Rule(Atom(_VIOLATED), c.body), n + i))
        return EngineProgram(rules, BaseFacts.of_mappings(base, self._engine.sources))

    def _ground(self, goal: str, keys: tuple[str, ...], combine: bool) -> _Grounding:
        self._fresh()
        cache_key = (goal, keys, combine)
        hit = self._groundings.get(cache_key)
        if hit is not None:
            return hit
        program = self._program_for(keys, violations=goal == _VIOLATED)
        goal_ = goal_rule(goal, program)
        qrule, names = goal_.rule, goal_.names
        rewritten = magic_rewrite(program, qrule)
        sr: StructuralProbability | StructuralExpr | StructuralLattice
        if self.semantics == "prob":
            sr = StructuralProbability(max_nodes=self.max_nodes)
        elif self.semantics in ("fuzzy-godel", "boolean") and any(
            rec for _, rec in components_of(rewritten.rules)
        ):
            sr = StructuralLattice(self.semantics)
        else:
            # Non-recursive goals, and recursive components under the reinforcing
            # semantics as fixpoint nodes iterated with tensors (StructuralExpr).
            sr = StructuralExpr(self.semantics)
        try:
            ev = evaluate(rewritten, sr, record=True)
        except LimitError as exc:
            too_big = (
                f"grounding {goal!r} needs more than {self.max_nodes:,} BDD nodes; raise "
                "bridge.compile(kb, max_nodes=...) or bind more of the goal's arguments"
            )
            if self.top_k is None or not isinstance(sr, StructuralProbability):
                raise LimitError(
                    too_big + " (or allow the top-k fallback: bridge.compile(kb, top_k=10))",
                    limit="bdd_nodes",
                ) from exc
            grounding = self._ground_top_k(goal, goal_, rewritten, too_big)
            self._groundings[cache_key] = grounding
            return grounding
        rel = ev.store.relations.get(qrule.head.pred)
        rows = []
        for t in rel.tuples if rel is not None else ():
            got = (ev.values or {}).get((qrule.head.pred, t))
            if isinstance(sr, StructuralLattice):
                root = sr.node(got) if got else 0
            else:
                root = 0 if got is None else got
            if root != 0:
                rows.append((t, root))
        rows.sort(key=lambda r: goal_.answer_text(dict(zip(names, r[0]))))
        answers = [goal_.answer_text(dict(zip(names, t))) for t, _ in rows]
        bindings = [dict(zip(names, t)) for t, _ in rows]
        roots = [r for _, r in rows]
        if isinstance(sr, StructuralExpr | StructuralLattice):
            grounding = _Grounding(answers, bindings, None, [], sr.graph, roots)
            self._groundings[cache_key] = grounding
            return grounding
        if combine:
            acc = 0
            for r in roots:
                acc = sr.bdd.or_(acc, r)
            roots = [acc]
        circuit = Circuit(sr.bdd, roots)
        grounding = _Grounding(answers, bindings, circuit, [sr.sources[v] for v in circuit.vars])
        self._groundings[cache_key] = grounding
        return grounding

    def _ground_top_k(
        self, goal: str, goal_: Any, rewritten: EngineProgram, too_big: str
    ) -> _Grounding:
        """The fallback grounding: each answer's ``top_k`` most probable proofs (ranked by
        the weights known now; a neural outcome counts 1/size), their disjunction compiled
        exactly as a small BDD."""
        k = self.top_k
        assert k is not None  # checked by the caller
        tk = StructuralTopK(k, self._prior)
        try:
            ev = evaluate(rewritten, tk, record=True)
        except TopKUnsupported as why:
            raise LimitError(f"{too_big} ({why})", limit="bdd_nodes") from None
        names = goal_.names
        pred = goal_.rule.head.pred
        rel = ev.store.relations.get(pred)
        sr = StructuralProbability()  # k proofs per answer: small, whatever max_nodes is
        node_of: dict[int, int] = {}
        rows = []
        for t in rel.tuples if rel is not None else ():
            proofs = (ev.values or {}).get((pred, t), ())
            root = 0
            for _, leaves in proofs:
                term = 1
                for leaf in sorted(leaves):
                    node = node_of.get(leaf)
                    if node is None:
                        node = node_of[leaf] = sr.fact(tk.leaves[leaf])
                    term = sr.bdd.and_(term, node)
                root = sr.bdd.or_(root, term)
            if root != 0:
                rows.append((t, root))
        rows.sort(key=lambda r: goal_.answer_text(dict(zip(names, r[0]))))
        warnings.warn(
            f"{too_big}: using each answer's {k} most probable proofs instead (a lower "
            "bound of the exact probability; QueryResult.plan is 'top-k')",
            ApproximationWarning,
            stacklevel=4,
        )
        circuit = Circuit(sr.bdd, [r for _, r in rows])
        return _Grounding(
            [goal_.answer_text(dict(zip(names, t))) for t, _ in rows],
            [dict(zip(names, t)) for t, _ in rows],
            circuit,
            [sr.sources[v] for v in circuit.vars],
            plan="top-k",
        )

    def _prior(self, weight: Any) -> float:
        """A leaf's probability as known at grounding time, for ranking proofs."""
        if isinstance(weight, ParamRef):
            return float(torch.sigmoid(self.weights[weight.name].detach()))
        if isinstance(weight, NeuralOutcome):
            return 1.0 / weight.size
        p = float(weight)
        if not 0.0 <= p <= 1.0:
            raise EngineError(f"weight {p:g} is outside [0, 1] under probability semantics")
        return p

    # ------------------------------------------------------------------ evaluation
    def _leaf_probs(
        self, sources: list[tuple[Any, ...]], inputs: Mapping[str, torch.Tensor], batch: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each variable's probability q and its complement r = 1 - q, ``(n_vars, batch)``.

        A stick variable j of a categorical with probabilities p has q = p_j / t_j and
        r = t_{j+1} / t_j, where t_j = p_j + ... + p_k is a tail sum: no subtraction, so
        a network that is sure of one outcome still gives gradients to the others."""
        tails: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}
        dtype, device = self._dtype_device(inputs)
        qs, rs = [], []
        for src in sources:
            kind = src[0]
            if kind == "const":
                qs.append(torch.full((batch,), src[1], dtype=dtype, device=device))
                rs.append(torch.full((batch,), 1.0 - src[1], dtype=dtype, device=device))
            elif kind == "param":
                logit = self.weights[src[1]].to(dtype)
                qs.append(torch.sigmoid(logit).expand(batch))
                rs.append(torch.sigmoid(-logit).expand(batch))
            else:
                _, net, key, j = src
                hit = tails.get((net, key))
                if hit is None:
                    probs = self._run_net(net, key, inputs).to(dtype)
                    tail = probs.flip(1).cumsum(1).flip(1).clamp_min(_EPS)
                    hit = tails[(net, key)] = (probs, tail)
                probs, tail = hit
                qs.append(probs[:, j] / tail[:, j])
                rs.append(tail[:, j + 1] / tail[:, j])
        if not qs:
            empty = torch.zeros(0, batch, dtype=dtype, device=device)
            return empty, empty
        return torch.stack(qs).clamp(0.0, 1.0), torch.stack(rs).clamp(0.0, 1.0)

    def _dtype_device(self, inputs: Mapping[str, torch.Tensor]) -> tuple[torch.dtype, torch.device]:
        # The module's own dtype and device (``prog.double()``, ``prog.to("cuda")``).
        probe = self._probe
        assert isinstance(probe, torch.Tensor)  # a registered buffer
        return probe.dtype, probe.device

    def _run_net(
        self, net: str, key: str, inputs: Mapping[str, torch.Tensor], *, check: bool = True
    ) -> torch.Tensor:
        """The network's rows; ``check=False`` leaves the row-sum check to the caller
        (:meth:`_check_rows`), which can check many networks' rows at once."""
        if net not in self.neural:
            raise ConfigurationError(
                f"no network registered as {net!r}: set prog.neural[{net!r}] = module"
            )
        parts = key.split(",")
        for part in parts:
            if part not in inputs:
                raise ConfigurationError(
                    f"no input named {part!r}; pass inputs={{{part!r}: tensor}}"
                )
        probs: torch.Tensor = self.neural[net](*(inputs[part] for part in parts))
        size = next(len(d.domain) for d in self._decls if d.net == net)
        if probs.dim() != 2 or probs.shape[1] != size:
            raise ConfigurationError(
                f"network {net!r} must return (batch, {size}) probabilities, "
                f"got {tuple(probs.shape)}"
            )
        if check:
            self._check_rows(net, probs.sum(dim=1))
        return probs

    @staticmethod
    def _check_rows(net: str, sums: torch.Tensor) -> None:
        with torch.no_grad():
            if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
                raise ConfigurationError(
                    f"network {net!r} must output probabilities (end it with a softmax): "
                    f"row sums range over [{float(sums.min()):.3g}, {float(sums.max()):.3g}]"
                )

    @staticmethod
    def _batch(inputs: Mapping[str, torch.Tensor]) -> int:
        sizes = {int(t.shape[0]) for t in inputs.values()}
        if len(sizes) > 1:
            raise ConfigurationError(f"inputs disagree on the batch size: {sorted(sizes)}")
        return sizes.pop() if sizes else 1

    def query(self, goal: str, inputs: Mapping[str, torch.Tensor] | None = None) -> QueryResult:
        """Exact probabilities of every answer to ``goal`` for each batch element.

        Args:
            goal: e.g. ``"addition(a, b, Z)"``; the names of ``inputs`` stand for the tensors.
            inputs: tensors by name, each ``(batch, ...)``, fed to the neural predicates.

        A goal recognised as a sum of neural digits (``Program.plan``) is computed by
        convolutions or by a dynamic program over carries instead of a grounded circuit;
        the result says which in ``.plan``.

        Raises:
            ConfigurationError: a missing network or input, or a network that does not
                output probabilities.
            LimitError: the grounding needs more BDD nodes than ``max_nodes``.
        """
        inputs = dict(inputs or {})
        for name in inputs:
            if not re.fullmatch(r"[a-z][A-Za-z0-9_]*", name):
                raise ConfigurationError(
                    f"input names are constants of the rule language (lowercase), got {name!r}"
                )
        found = self._recognised(goal, tuple(sorted(inputs)))
        if not isinstance(found, str):
            return self._query_sum(found, inputs)
        g = self._ground(goal, tuple(sorted(inputs)), False)
        if not g.answers:
            unknown = sorted(_goal_constants(goal) - self._constants - set(inputs))
            if unknown:
                raise ConfigurationError(
                    f"{unknown[0]!r} is neither an input nor a constant of the knowledge "
                    f"base, so {goal!r} has no answers; pass inputs={{{unknown[0]!r}: tensor}}"
                )
        batch = self._batch(inputs)
        if g.graph is not None:
            values = self._evaluate_expr(g, inputs, batch)
        else:
            assert g.circuit is not None  # probability groundings carry a circuit
            values = g.circuit(*self._leaf_probs(g.sources, inputs, batch))
        return QueryResult(g.answers, g.bindings, values, plan=g.plan)

    # ------------------------------------------------------------------ recognised sums
    def plan(self, goal: str, inputs: Iterable[str] | None = None) -> Plan:
        """How ``query(goal, inputs)`` computes its answers (``inputs``: the input names,
        or the inputs mapping itself), and what was recognised or why not.

        Example:
            >>> import neurosym as ns
            >>> from neurosym import bridge
            >>> prog = bridge.compile(ns.parse(
            ...     "nn(net, [I], D, [0, 1, 2]) :: digit(I, D).\\n"
            ...     "add(A, B, Z) :- digit(A, X), digit(B, Y), Z is X + Y."))
            >>> prog.plan("add(a, b, Z)", ["a", "b"]).kind
            'convolution'
            >>> prog.plan("add(a, a, Z)", ["a"]).kind
            'circuit'
        """
        keys = tuple(sorted(inputs or ()))
        found = self._recognised(goal, keys)
        if isinstance(found, str):
            grounded = self._groundings.get((goal, keys, False))
            if grounded is not None and grounded.plan == "top-k":
                return Plan("top-k", f"{found}; the exact BDD exceeded max_nodes, so each "
                            f"answer keeps its {self.top_k} most probable proofs")  # fmt: skip
            return Plan("circuit", found)
        return Plan(found.plan.kind, found.plan.describe())

    def _recognised(self, goal: str, keys: tuple[str, ...]) -> SumQuery | str:
        """The goal as a recognised sum, or why it is not one (cached like groundings)."""
        self._fresh()
        if not self.structure:
            return "structure recognition is off (bridge.compile(kb, structure=False))"
        if self.semantics != "prob":
            return "sums are recognised under semantics='prob' only"
        hit = self._sums.get((goal, keys))
        if hit is not None:
            return hit
        defined: dict[str, int] = {}
        for pred, _ in self._engine.base:
            defined[pred] = defined.get(pred, 0) + 1
        plan = recognise(goal, keys, self.kb.rules, self._decls, defined)
        found: SumQuery | str = (
            plan if isinstance(plan, str)
            else SumQuery.build(plan, goal_rule(goal, self._engine).answer_text)
        )  # fmt: skip
        self._sums[(goal, keys)] = found
        return found

    def _query_sum(self, q: SumQuery, inputs: Mapping[str, torch.Tensor]) -> QueryResult:
        return q.result(self._term_probs(q.plan, inputs), self._batch(inputs))

    def _term_probs(self, plan: SumPlan, inputs: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
        """Each term's distribution, normalised as the circuit's stick breaking does."""
        dtype, _ = self._dtype_device(inputs)
        probs = [self._run_net(t.net, t.key, inputs, check=False).to(dtype) for t in plan.terms]
        sums = [p.sum(dim=1, keepdim=True) for p in probs]
        for net in sorted({t.net for t in plan.terms}):  # one check per network
            rows = [s for s, t in zip(sums, plan.terms) if t.net == net]
            self._check_rows(net, torch.cat(rows).detach())
        return [p / s for p, s in zip(probs, sums)]

    def _explain_sum(self, q: SumQuery, goal: str, one: Mapping[str, torch.Tensor]) -> list[Answer]:
        """One proof: the most probable digits consistent with the goal (every digit's
        most probable value when Z is free); the value is the exact P(Z = z)."""
        from neurosym.explain import Answer
        from neurosym.explain import query as symbolic_query
        from neurosym.kb import KnowledgeBase

        plan = q.plan
        with torch.no_grad():
            rows = [p[0].double().tolist() for p in self._term_probs(plan, one)]
            cols = map_assignment(plan, rows, plan.bound)
            if cols is None:
                return []
            z = plan.offset + sum(t.coef * t.values[c] for t, c in zip(plan.terms, cols))
            result = self.query(goal, one)
            if plan.var is None:
                value = float(result.values[0, 0])
            else:
                value = float(result.log_prob(plan.var, [z]).exp()[0])
        extra = []
        for t, c, row in zip(plan.terms, cols, rows):
            d = self._decls[t.decl]
            args = [
                t.key if isinstance(a, Var) and a in d.inputs
                else str(t.values[c]) if a == d.output
                else format_value(term_value(a))
                for a in d.head.args
            ]  # fmt: skip
            extra.append(f"{row[c]!r} :: {d.head.predicate}({', '.join(args)}).")
        kb = KnowledgeBase()
        kb.add(self._learned_text() + "\n".join(extra) + "\n")
        return [
            Answer(a.fact, a.bindings, value, a._explain)
            for a in symbolic_query(kb, goal, semantics="prob")
        ]

    def _evaluate_expr(
        self, g: _Grounding, inputs: Mapping[str, torch.Tensor], batch: int
    ) -> torch.Tensor:
        dtype, device = self._dtype_device(inputs)
        outputs: dict[tuple[str, str], torch.Tensor] = {}

        def leaf(node: tuple[Any, ...]) -> torch.Tensor:
            if node[0] == "const":
                return torch.full((batch,), node[1], dtype=dtype, device=device)
            if node[0] == "param":
                return torch.sigmoid(self.weights[node[1]].to(dtype)).expand(batch)
            _, net, key, j = node
            probs = outputs.get((net, key))
            if probs is None:
                probs = outputs[(net, key)] = self._run_net(net, key, inputs).to(dtype)
            return probs[:, j]

        assert g.graph is not None  # only called for expression groundings
        return evaluate_expr(g.graph, g.roots, self.semantics, leaf, batch, dtype, device)

    def forward(self, goal: str, inputs: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """``query(goal, inputs).values``."""
        return self.query(goal, inputs).values

    def constraint_violation(
        self, inputs: Mapping[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Probability that some integrity constraint is violated, per batch element."""
        inputs = dict(inputs or {})
        batch = self._batch(inputs)
        if not self.kb.constraints:
            dtype, device = self._dtype_device(inputs)
            return torch.zeros(batch, dtype=dtype, device=device)
        # One circuit for the disjunction of all constraint bodies: exact even when the
        # constraints share uncertain facts (they are not independent events).
        g = self._ground(_VIOLATED, tuple(sorted(inputs)), True)
        assert g.circuit is not None  # probability groundings carry a circuit
        if not g.answers:
            dtype, device = self._dtype_device(inputs)
            return torch.zeros(batch, dtype=dtype, device=device)
        return g.circuit(*self._leaf_probs(g.sources, inputs, batch))[:, 0]

    def _ground_rules(self, keys: tuple[str, ...]) -> tuple[ExprGraph, list[tuple[int, int, int]]]:
        """Every ground instance of every rule as (rule index, body node, head node)."""
        self._fresh()
        hit = self._rule_groundings.get(keys)
        if hit is not None:
            return hit
        program = self._program_for(keys)
        if any(rec for _, rec in components_of(program.rules)):
            raise NotImplementedError(
                "satisfaction needs a non-recursive program so far (each rule's groundings "
                "are enumerated once)"
            )
        sr = StructuralExpr(self.semantics)
        ev = evaluate(program, sr, record=True)
        values = ev.values or {}
        triples = []
        for key, insts in sorted((ev.instances or {}).items(), key=repr):
            for inst in sorted(insts, key=repr):
                body = premise_value(sr, values, ev.store, inst)
                triples.append((inst[0], body, values.get(key, 0)))
        self._rule_groundings[keys] = (sr.graph, triples)
        return sr.graph, triples

    def satisfaction(
        self, inputs: Mapping[str, torch.Tensor] | None = None, *, p: float = 2.0
    ) -> torch.Tensor:
        """How well the rules hold, in [0, 1], per batch element (LTN-style).

        Every ground instance of a rule is the fuzzy implication body → head (Reichenbach:
        ``1 - b + b * h``, with ``b`` the t-norm of its premises and ``h`` the head's value);
        instances are aggregated per rule, and rules together, by the generalised mean
        error ``1 - mean((1 - x)^p)^(1/p)`` (a smooth "for all"; p = 2 by default).
        ``1 - satisfaction`` is a loss that pulls learned weights and networks towards the
        rules (compile with a fuzzy semantics).

        Raises:
            NotImplementedError: the program is compiled for "prob" or "cf", or recursive.
        """
        if not self.semantics.startswith("fuzzy"):
            raise NotImplementedError(
                "satisfaction is a fuzzy-logic measure: compile with semantics='fuzzy-...'"
            )
        inputs = dict(inputs or {})
        batch = self._batch(inputs)
        graph, triples = self._ground_rules(tuple(sorted(inputs)))
        dtype, device = self._dtype_device(inputs)
        if not triples:
            return torch.ones(batch, dtype=dtype, device=device)
        roots = [n for _, body, head in triples for n in (body, head)]
        g = _Grounding([], [], None, [], graph, roots)
        values = self._evaluate_expr(g, inputs, batch)  # (batch, 2 * instances)
        b, h = values[:, 0::2], values[:, 1::2]
        truth = 1.0 - b + b * h
        per_rule = []
        rules = sorted({r for r, _, _ in triples})
        for r in rules:
            cols = [i for i, (ri, _, _) in enumerate(triples) if ri == r]
            x = truth[:, cols]
            per_rule.append(1.0 - ((1.0 - x) ** p).mean(dim=1) ** (1.0 / p))
        rule_truth = torch.stack(per_rule, dim=1)
        return 1.0 - ((1.0 - rule_truth) ** p).mean(dim=1) ** (1.0 / p)

    def semantic_loss(self, inputs: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """``-log P(no constraint is violated)``, averaged over the batch (Xu et al. 2018).

        Constraints are combined as independent when there are several (each one is
        exact on its own)."""
        return -torch.log((1 - self.constraint_violation(inputs)).clamp_min(_EPS)).mean()

    # ------------------------------------------------------------------ symbols back
    def learned(self) -> dict[str, float]:
        """Each learnable weight's current value, by parameter name."""
        return {k: float(torch.sigmoid(p.detach())) for k, p in self.weights.items()}

    def to_rules(self) -> str:
        """The program as ``.rules`` text, with the learned weights in place of ``t(...)``
        (still learnable: ``t(current value)``)."""
        lines = []
        for s in self.kb.statements:
            name = self._param_of.get(id(s))
            if name is not None and isinstance(s, Rule | Fact):
                w = round(float(torch.sigmoid(self.weights[name].detach())), 6)
                s = dataclasses.replace(s, weight=LearnableWeight(w))
            lines.append(format_statement(s))
        return "\n".join(lines) + "\n"

    def explain(self, goal: str, inputs: Mapping[str, torch.Tensor], index: int) -> list[Answer]:
        """The answers for batch element ``index``, with proofs: the networks' outputs for
        that element become weighted facts (their probabilities show in the proofs).

        A recognised sum of neural digits with more than 10,000 digit combinations is
        explained by one proof instead: the most probable digits consistent with the
        goal's Z (max-product over carries or partial sums), or each digit's most probable
        value when Z is free; the answer's value is still the exact P(Z = z)."""
        from neurosym.explain import Answer
        from neurosym.explain import query as symbolic_query
        from neurosym.kb import KnowledgeBase

        self._fresh()
        one = {k: v[index : index + 1] for k, v in inputs.items()}
        found = self._recognised(goal, tuple(sorted(one)))
        if not isinstance(found, str) and found.plan.combinations > _ENUMERATE:
            return self._explain_sum(found, goal, one)
        g = self._ground(goal, tuple(sorted(one)), False)
        used = {(src[1], src[2]) for src in g.sources if src[0] == "stick"}
        extra = []
        with torch.no_grad():
            exact = self.query(goal, one)
            for d in self._decls:
                for combo in itertools.product(sorted(one), repeat=len(d.inputs)):
                    key = ",".join(combo)
                    if (d.net, key) not in used:
                        continue
                    bound = dict(zip(d.inputs, combo))
                    probs = self._run_net(d.net, key, one)[0]
                    for j, v in enumerate(d.domain):
                        args = [
                            bound[a] if a in bound
                            else format_value(term_value(v)) if a == d.output
                            else format_value(term_value(a))
                            for a in d.head.args
                        ]  # fmt: skip
                        weight = float(probs[j])
                        extra.append(f"{weight!r} :: {d.head.predicate}({', '.join(args)}).")
        kb = KnowledgeBase()
        kb.add(self._learned_text() + "\n".join(extra) + "\n")
        values = {a: float(exact.values[0, i]) for i, a in enumerate(exact.answers)}
        # The proofs come from the symbolic engine; the values are the compiled program's
        # (exact: a network's outcomes exclude one another, which plain facts cannot say).
        return [
            Answer(a.fact, a.bindings, values.get(a.fact, float(a.value)), a._explain)
            for a in symbolic_query(kb, goal, semantics="prob")
        ]

    def _learned_text(self) -> str:
        out = []
        for s in self.kb.statements:  # neural declarations stay: they define their heads
            name = self._param_of.get(id(s))
            if name is not None and isinstance(s, Rule | Fact):
                w = float(torch.sigmoid(self.weights[name].detach()))
                s = dataclasses.replace(s, weight=FixedWeight(w))
            out.append(format_statement(s))
        return "\n".join(out) + "\n"


def _constants(kb: KnowledgeBase) -> set[str]:
    """Every constant the knowledge base mentions."""
    from neurosym.lang import Const, ListTerm

    out: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, Const):
            out.add(node.name)
        elif isinstance(node, tuple | list):
            for x in node:
                walk(x)
        elif isinstance(node, ListTerm):
            walk(node.items)
        elif dataclasses.is_dataclass(node) and not isinstance(node, type):
            for f in dataclasses.fields(node):
                if f.name != "span":
                    walk(getattr(node, f.name))

    walk(kb.statements)
    return out


def _goal_constants(goal: str) -> set[str]:
    from neurosym.lang import Const, Literal_, parse_body_text

    out: set[str] = set()
    for item in parse_body_text(goal):
        if isinstance(item, Literal_):
            out.update(a.name for a in item.atom.args if isinstance(a, Const))
    return out


def compile(
    kb: KnowledgeBase,
    *,
    semantics: Literal[
        "prob", "fuzzy-godel", "fuzzy-product", "fuzzy-lukasiewicz", "cf", "boolean"
    ] = "prob",
    max_nodes: int = 2_000_000,
    structure: bool = True,
    top_k: int | None = 10,
) -> Program:
    """Compile a knowledge base into a torch module answering goals with exact probabilities.

    Args:
        kb: a knowledge base without check errors.
        semantics: ``"prob"`` (ProbLog's distribution semantics, exact, recursion
            included), or ``"fuzzy-godel"``, ``"fuzzy-product"``, ``"fuzzy-lukasiewicz"``,
            ``"cf"`` (the same values as :func:`neurosym.infer` under that semantics,
            recursion included: a recursive component is iterated to its fixpoint with
            tensors), or ``"boolean"``, relaxed: weights are ignored
            as in the engine's Boolean semantics (a derived fact is 1.0), a neural outcome
            counts with its probability, and conjunction and disjunction are min and max.
        max_nodes: the size bound of a grounding's BDD.
        structure: recognise goals that are sums of neural digits and compute them by
            convolutions or carries (``Program.plan`` says which); False grounds every
            goal as a circuit.
        top_k: when a goal's exact BDD would exceed ``max_nodes`` under ``"prob"``, keep
            each fact's ``top_k`` most probable proofs instead (ranked by the weights at
            grounding time, a neural outcome counting 1/size), compile their disjunction
            exactly, warn (:class:`ApproximationWarning`) and mark the result's ``plan``
            ``"top-k"``: a lower bound of the exact value. ``None`` raises ``LimitError``.

    Example:
        >>> import neurosym as ns
        >>> from neurosym import bridge
        >>> prog = bridge.compile(ns.parse("0.6 :: rain. 0.5 :: spr. wet :- rain. wet :- spr."))
        >>> round(float(prog.query("wet").values[0, 0]), 4)
        0.8
    """
    if semantics not in _COMPILED:
        raise NotImplementedError(
            f"bridge.compile supports {', '.join(_COMPILED)}, got {semantics!r}; the "
            "symbolic engine (neurosym.infer) evaluates every semantics"
        )
    return Program(kb, semantics=semantics, max_nodes=max_nodes, structure=structure, top_k=top_k)


_COMPILED = ("prob", "fuzzy-godel", "fuzzy-product", "fuzzy-lukasiewicz", "cf", "boolean")
