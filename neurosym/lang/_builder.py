"""Building the typed AST from lark's parse tree, with precise messages for misuse.

The grammar is deliberately permissive (a clause starts with an expression); the builder
decides whether each piece is acceptable where it stands (an atom as a head, a weight
before ``::``) and says so in plain words when it is not.
"""

from __future__ import annotations

import math
from typing import NoReturn

from lark import Token, Tree

from neurosym.errors import Span

from . import _ast as A
from ._diagnostics import make_error

__all__ = ["RESERVED_PREDICATES", "Builder", "check_depth"]

RESERVED_PREDICATES = {
    "der": "der(x) = <expression>.",
    "nn": "nn(net, [X], Y, [domain]) :: p(X, Y).",
}

# Trees nested deeper than this are refused before they are built: recursive building at
# this depth Python's recursion limit (1000 frames) would end them with a RecursionError.
MAX_DEPTH = 200


def check_depth(tree: Tree[Token], text: str, file: str) -> None:
    """Refuse a tree nested deeper than :data:`MAX_DEPTH` levels (walked without recursion)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            line, col = (1, 1) if getattr(meta, "empty", True) else (meta.line, meta.column)
            raise make_error(
                text,
                file,
                f"nested too deeply: more than {MAX_DEPTH} levels of brackets or operators",
                Span(file, line, col, line, col + 1),
                hint="split the expression into steps with 'X is ...', or flatten the list",
            )
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))


def _decode_string(raw: str) -> str:
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"'}[body[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _number(raw: str) -> int | float:
    if any(c in raw for c in ".eE"):
        return float(raw)
    return int(raw)


class Builder:
    """Walks lark's tree and builds AST nodes, raising friendly errors on misuse."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file

    # ------------------------------------------------------------------- helpers
    def span(self, node: Tree[Token] | Token) -> Span:
        if isinstance(node, Token):
            return Span(
                self.file,
                node.line or 1,
                node.column or 1,
                node.end_line or node.line or 1,
                node.end_column or (node.column or 1) + 1,
            )
        meta = node.meta
        if getattr(meta, "empty", True):
            return Span(self.file, 1, 1, 1, 2)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def fail(self, message: str, span: Span | None, hint: str | None = None) -> NoReturn:
        raise make_error(
            self.text, self.file, message, span or Span(self.file, 1, 1, 1, 2), hint=hint
        )

    @staticmethod
    def trees(node: Tree[Token]) -> list[Tree[Token] | Token]:
        """Children that carry meaning (punctuation and keywords dropped)."""
        keep = {"NAME", "VAR", "NUMBER", "STRING", "CMP", "PLUS", "MINUS", "MUL_OP"}
        return [
            c for c in node.children if isinstance(c, Tree) or (c is not None and c.type in keep)
        ]

    # ---------------------------------------------------------------- statements
    def statement(self, node: Tree[Token]) -> A.Statement:
        check_depth(node, self.text, self.file)
        kind = node.data
        sp = self.span(node)
        kids = self.trees(node)
        if kind == "include":
            path = _decode_string(str(kids[0]))
            if "\0" in path:  # no file system accepts it; open() would raise ValueError
                self.fail(
                    "an include path cannot contain a NUL character (U+0000)",
                    self.span(kids[0]),
                    "remove the NUL character from the file name",
                )
            return A.Include(path, span=sp)
        if kind == "named":
            name = str(kids[0])
            inner = self.statement(kids[1])  # type: ignore[arg-type]
            if isinstance(inner, A.Fact):
                return A.Fact(inner.atom, inner.weight, name=name, span=sp)
            if isinstance(inner, A.Rule):
                return A.Rule(inner.head, inner.body, inner.weight, name, inner.spelling, span=sp)
            self.fail(
                "a neural predicate declaration cannot be named",
                sp,
                "remove 'rule <name>:'; the network name already identifies it",
            )
        if kind == "fact":
            return A.Fact(self.head(kids[0]), span=sp)
        if kind == "rule":
            return A.Rule(self.head(kids[0]), self.body(kids[1]), span=sp)
        if kind == "weighted_fact":
            return self.weighted(kids[0], kids[1], None, sp)
        if kind == "weighted_rule":
            return self.weighted(kids[0], kids[1], kids[2], sp)
        if kind == "expert_rule":
            body = self.body(kids[0])
            head = self.head(kids[1])
            weight = self.weight(kids[2]) if len(kids) > 2 and kids[2] is not None else None
            return A.Rule(head, body, weight, spelling="expert", span=sp)
        if kind == "derivative":
            return self.derivative(kids[0], kids[1], sp)
        if kind == "constraint":
            return A.Constraint(self.body(kids[0]), span=sp)
        if kind == "query":
            return A.Query(self.body(kids[0]), span=sp)
        if kind == "state_decl":
            return A.StateDecl(tuple(str(k) for k in kids), span=sp)
        if kind == "dynamic_decl":
            return A.DynamicDecl(tuple(self.pred_ind(k) for k in kids), span=sp)
        if kind == "param_decl":
            return self.param(str(kids[0]), kids[1], sp)
        if kind == "law":
            return self.law(str(kids[0]), kids[1], sp)  # type: ignore[arg-type]
        raise RuntimeError(f"neurosym bug: unknown statement node {kind!r}")

    def weighted(self, w: object, head: object, body: object, sp: Span) -> A.Statement:
        wexpr = self.expr(w)
        if isinstance(wexpr, A.NnRef):
            n_args = 1 if wexpr.inputs is None else 2
            self.fail(
                f"nn(...) takes 4 arguments, got {n_args}",
                wexpr.span,
                "write nn(net_name, [Input, ...], Output, [value, ...]) :: p(Input, ..., Output).",
            )
        if isinstance(wexpr, A.Call) and wexpr.func == "nn":
            if body is not None:
                self.fail(
                    "a neural predicate is declared by a fact, not a rule",
                    sp,
                    "write nn(net, [X], Y, [domain]) :: p(X, Y).",
                )
            return self.neural(wexpr, self.head(head, allow_reserved=False), sp)
        weight = self.weight_from(wexpr)
        atom = self.head(head)
        if body is None:
            return A.Fact(atom, weight, span=sp)
        return A.Rule(atom, self.body(body), weight, span=sp)

    def weight(self, node: object) -> A.Weight:
        return self.weight_from(self.expr(node))

    def as_float(self, e: A.Number) -> float:
        """A weight's or parameter's value: an integer too large for a float is refused."""
        try:
            return float(e.value)
        except OverflowError:
            self.fail(
                f"the number {e.value} is too large for a float",
                e.span,
                "numbers must be finite: the largest is about 1.8e308",
            )

    def weight_from(self, e: A.Expr) -> A.Weight:
        if isinstance(e, A.Number):
            return A.FixedWeight(self.as_float(e), span=e.span)
        if isinstance(e, A.Call) and e.func == "t" and len(e.args) == 1:
            arg = e.args[0]
            if isinstance(arg, A.Number):
                return A.LearnableWeight(self.as_float(arg), span=e.span)
        self.fail(
            "a weight must be a number, t(<initial value>) or nn(...)",
            e.span,
            "for example '0.9 :: p(a).' or 't(0.5) :: p(X) :- q(X).'",
        )

    def neural(self, call: A.Call, head: A.Atom, sp: Span) -> A.NeuralDecl:
        usage = "write nn(net_name, [Input, ...], Output, [value, ...]) :: p(Input, ..., Output)."
        if len(call.args) != 4:
            self.fail(f"nn(...) takes 4 arguments, got {len(call.args)}", call.span, usage)
        net, inputs, output, domain = call.args
        if not isinstance(net, A.Const):
            self.fail("the first argument of nn(...) is the network's name", net.span, usage)
        if not isinstance(inputs, A.ListTerm) or not isinstance(domain, A.ListTerm):
            self.fail("nn(...) takes a list of inputs and a list of values", call.span, usage)
        if not isinstance(output, (A.Var, A.Const, A.Number, A.String)):
            self.fail("the output of nn(...) must be a single term", output.span, usage)
        return A.NeuralDecl(net.name, inputs.items, output, domain.items, head, span=sp)

    def derivative(self, left: object, right: object, sp: Span) -> A.Derivative:
        lhs = self.expr(left)
        if isinstance(lhs, A.Der) and isinstance(lhs.expr, A.Const):
            return A.Derivative(lhs.expr.name, self.expr(right), span=sp)
        self.fail(
            "'=' at the top level defines a derivative: the left side must be der(state)",
            lhs.span,
            "write 'der(x) = <expression>.'; in a rule body use 'X is ...' or '=='",
        )

    def param(self, name: str, value: object, sp: Span) -> A.ParamDecl:
        e = self.expr(value)
        if isinstance(e, A.Number):
            return A.ParamDecl(name, self.as_float(e), span=sp)
        if isinstance(e, A.Call) and e.func == "t" and len(e.args) == 1:
            arg = e.args[0]
            if isinstance(arg, A.Number):
                return A.ParamDecl(name, self.as_float(arg), learnable=True, span=sp)
        self.fail(
            "a parameter's value must be a number, or t(<initial value>) to learn it",
            e.span,
            "for example 'param k = 1.0.' or 'param k = t(1.0).'",
        )

    def pred_ind(self, node: object) -> tuple[str, int]:
        """``name/arity`` of a ``dynamic`` declaration."""
        assert isinstance(node, Tree)
        name, op, arity = self.trees(node)
        sp = self.span(node)
        if str(op) != "/" or not str(arity).isdigit():
            self.fail(
                f"expected a predicate as name/arity, got '{name}{op}{arity}'",
                sp,
                "for example 'dynamic symptom/2.'",
            )
        return str(name), int(str(arity))

    def law(self, name: str, node: Tree[Token], sp: Span) -> A.Law:
        comps = [self.comparison(c) for c in self.trees(node)]  # type: ignore[arg-type]
        if node.data == "plain_law":
            return A.Law(name, comps[0], span=sp)
        return A.Law(name, comps[-1], tuple(comps[:-1]), span=sp)

    # ------------------------------------------------------------------ bodies
    def body(self, node: object) -> tuple[A.BodyItem, ...]:
        assert isinstance(node, Tree)  # grammar invariant, not user input
        return tuple(self.body_item(c) for c in self.trees(node))  # type: ignore[arg-type]

    def body_item(self, node: Tree[Token]) -> A.BodyItem:
        sp = self.span(node)
        kids = self.trees(node)
        if node.data == "positive":
            return A.Literal_(self.goal(kids[0]), span=sp)
        if node.data == "negative":
            return A.Literal_(self.goal(kids[0]), negated=True, span=sp)
        if node.data == "comparison":
            return self.comparison(node)
        if node.data == "assign":
            var = A.Var(str(kids[0]), span=self.span(kids[0]))
            return A.Assign(var, self.expr(kids[1]), span=sp)
        raise RuntimeError(f"neurosym bug: unknown body node {node.data!r}")

    def comparison(self, node: Tree[Token]) -> A.Comparison:
        left, op, right = self.trees(node)
        return A.Comparison(str(op), self.expr(left), self.expr(right), span=self.span(node))  # type: ignore[arg-type]

    def goal(self, node: object) -> A.Atom:
        e = self.expr(node)
        if isinstance(e, A.Var):
            self.fail(
                f"the variable {e.name} cannot stand alone as a goal",
                e.span,
                "a goal is an atom such as p(X), or a comparison such as X > 3",
            )
        return self.atom(e, role="goal")

    def head(self, node: object, *, allow_reserved: bool = False) -> A.Atom:
        return self.atom(self.expr(node), role="head", allow_reserved=allow_reserved)

    def atom(self, e: A.Expr, *, role: str, allow_reserved: bool = False) -> A.Atom:
        if isinstance(e, A.Const):
            return A.Atom(e.name, (), span=e.span)
        if isinstance(e, A.Call):
            if e.func in RESERVED_PREDICATES and not allow_reserved:
                self.fail(
                    f"'{e.func}' is reserved and cannot be used as a predicate",
                    e.span,
                    f"it is written {RESERVED_PREDICATES[e.func]}",
                )
            return A.Atom(e.func, tuple(self.term(a, e.func) for a in e.args), span=e.span)
        if isinstance(e, (A.Der, A.NnRef)):
            name = "der" if isinstance(e, A.Der) else "nn"
            self.fail(
                f"'{name}' is reserved and cannot be used as a predicate",
                e.span,
                f"it is written {RESERVED_PREDICATES[name]}",
            )
        what = {
            "Var": "a variable",
            "Number": "a number",
            "String": "a string",
            "ListTerm": "a list",
            "Aggregate": "an aggregate",
        }.get(type(e).__name__, "an arithmetic expression")
        hint = "an atom looks like p(a, X) or raining"
        if role == "goal" and what == "an arithmetic expression":
            hint = "compare it (X + 1 > 3) or bind it (Y is X + 1)"
        self.fail(f"expected an atom as the {role}, got {what}", e.span, hint)

    def term(self, e: A.Expr, predicate: str) -> A.Term:
        if isinstance(e, (A.Var, A.Const, A.Number, A.String)):
            return e
        if isinstance(e, A.ListTerm):
            return e
        if isinstance(e, A.Call):
            self.fail(
                f"a compound term {e.func}(...) cannot be an argument of {predicate}",
                e.span,
                "neurosym is function-free Datalog: use a separate fact, a list or a string",
            )
        self.fail(
            f"arithmetic inside the arguments of {predicate}",
            e.span,
            f"compute it first with 'is': 'Y is X + 1, {predicate}(..., Y)'",
        )

    # ------------------------------------------------------------------ exprs
    def expr(self, node: object) -> A.Expr:
        if isinstance(node, Token):
            raise RuntimeError(f"neurosym bug: bare token {node!r} where a tree was expected")
        assert isinstance(node, Tree)  # grammar invariant, not user input
        kind = node.data
        sp = self.span(node)
        kids = self.trees(node)
        if kind == "number":
            return self.number(str(kids[0]), sp)
        if kind == "string":
            return A.String(_decode_string(str(kids[0])), span=sp)
        if kind == "var":
            return A.Var(str(kids[0]), span=sp)
        if kind == "name":
            return A.Const(str(kids[0]), span=sp)
        if kind == "primary":  # parenthesised
            return self.expr(kids[0])
        if kind == "neg":
            inner = kids[-1]
            if isinstance(inner, Tree) and inner.data == "number":
                n = self.expr(inner)
                assert isinstance(n, A.Number)
                return A.Number(-n.value, span=sp)
            return A.Neg(self.expr(inner), span=sp)
        if kind == "binop":
            left, op, right = kids
            return A.BinOp(str(op), self.expr(left), self.expr(right), span=sp)  # type: ignore[arg-type]
        if kind == "pow":
            return A.BinOp("^", self.expr(kids[0]), self.expr(kids[1]), span=sp)
        if kind == "list":
            items = self.args(node)
            return A.ListTerm(tuple(self.term(i, "a list") for i in items), span=sp)
        if kind == "call":
            return self.call(str(kids[0]), self.args(node), sp)
        if kind == "aggregate":
            op_token = kids[0]
            agg_op = str(op_token)
            if agg_op not in A.AGGREGATE_OPS:
                self.fail(
                    f"unknown aggregate {agg_op!r}",
                    self.span(op_token),
                    "the aggregates are " + ", ".join(sorted(A.AGGREGATE_OPS)),
                )
            template = tuple(self.expr(c) for c in self.trees(kids[1]))  # type: ignore[arg-type]
            return A.Aggregate(agg_op, template, self.body(kids[2]), span=sp)  # type: ignore[arg-type]
        raise RuntimeError(f"neurosym bug: unknown expression node {kind!r}")

    def number(self, raw: str, sp: Span) -> A.Number:
        try:
            value = _number(raw)
        except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
            self.fail(
                f"the integer literal has {len(raw)} digits, too many to read",
                sp,
                "write it as a float with an exponent, e.g. 1.5e300",
            )
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(
                f"the number {raw} is too large for a float",
                sp,
                "numbers must be finite: the largest is about 1.8e308",
            )
        return A.Number(value, span=sp)

    def args(self, node: Tree[Token]) -> tuple[A.Expr, ...]:
        for c in node.children:
            if isinstance(c, Tree) and c.data == "args":
                return tuple(self.expr(a) for a in self.trees(c))
        return ()

    def call(self, func: str, args: tuple[A.Expr, ...], sp: Span) -> A.Expr:
        if func == "der":
            if len(args) != 1:
                self.fail(f"der(...) takes one expression, got {len(args)}", sp)
            return A.Der(args[0], span=sp)
        if func == "nn" and 1 <= len(args) <= 2 and isinstance(args[0], A.Const):
            if len(args) == 1:
                return A.NnRef(args[0].name, None, span=sp)
            if isinstance(args[1], A.ListTerm):
                return A.NnRef(args[0].name, tuple(args[1].items), span=sp)
        return A.Call(func, args, span=sp)
