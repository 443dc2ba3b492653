"""Print any AST back to canonical ``.rules`` text; ``parse(format_program(p)) == p``."""

from __future__ import annotations

from . import _ast as A

__all__ = [
    "format_atom",
    "format_body_item",
    "format_expr",
    "format_program",
    "format_statement",
]

# Precedence levels of the grammar: sum < product < unary < power < primary.
_SUM, _PRODUCT, _UNARY, _POWER, _PRIMARY = 1, 2, 3, 4, 5
_LEVEL = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "^": _POWER}


def _string(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _number(value: int | float) -> str:
    return repr(value)


def _level(e: A.Expr) -> int:
    if isinstance(e, A.BinOp):
        return _LEVEL[e.op]
    if isinstance(e, A.Neg):
        return _UNARY
    if isinstance(e, A.Number) and (e.value < 0 or repr(e.value).startswith("-")):
        return _UNARY
    return _PRIMARY


def _wrap(e: A.Expr, minimum: int) -> str:
    text = format_expr(e)
    return f"({text})" if _level(e) < minimum else text


def format_expr(e: A.Expr) -> str:
    """Canonical text of a term or arithmetic expression.

    Example:
        >>> from neurosym.lang import BinOp, Number, Var
        >>> format_expr(BinOp("*", BinOp("+", Var("X"), Number(1)), Number(2)))
        '(X + 1) * 2'
    """
    if isinstance(e, A.Var | A.Const):
        return e.name
    if isinstance(e, A.Number):
        return _number(e.value)
    if isinstance(e, A.String):
        return _string(e.value)
    if isinstance(e, A.ListTerm):
        return "[" + ", ".join(format_expr(i) for i in e.items) + "]"
    if isinstance(e, A.BinOp):
        lvl = _LEVEL[e.op]
        if e.op == "^":
            return f"{_wrap(e.left, _PRIMARY)}^{_wrap(e.right, _UNARY)}"
        return f"{_wrap(e.left, lvl)} {e.op} {_wrap(e.right, lvl + 1)}"
    if isinstance(e, A.Neg):
        if isinstance(e.operand, A.Number):
            return f"-({format_expr(e.operand)})"
        return f"-{_wrap(e.operand, _UNARY)}"
    if isinstance(e, A.Call):
        return f"{e.func}(" + ", ".join(format_expr(a) for a in e.args) + ")"
    if isinstance(e, A.Der):
        return f"der({format_expr(e.expr)})"
    if isinstance(e, A.NnRef):
        if e.inputs is None:
            return f"nn({e.net})"
        return f"nn({e.net}, [" + ", ".join(format_expr(i) for i in e.inputs) + "])"
    if isinstance(e, A.Aggregate):
        template = ", ".join(format_expr(t) for t in e.template)
        return f"{e.op} {{ {template} : {_body(e.body, ', ')} }}"
    raise TypeError(f"not an expression node: {type(e).__name__}")


def format_atom(a: A.Atom) -> str:
    """Canonical text of an atom: ``p(a, X)``, or ``p`` for a proposition."""
    if not a.args:
        return a.predicate
    return f"{a.predicate}(" + ", ".join(format_expr(x) for x in a.args) + ")"


def format_body_item(b: A.BodyItem) -> str:
    """Canonical text of one body item (a literal, a comparison or an assignment)."""
    if isinstance(b, A.Literal_):
        return ("not " if b.negated else "") + format_atom(b.atom)
    if isinstance(b, A.Comparison):
        return f"{format_expr(b.left)} {b.op} {format_expr(b.right)}"
    if isinstance(b, A.Assign):
        return f"{b.var.name} is {format_expr(b.expr)}"
    raise TypeError(f"not a body item: {type(b).__name__}")


def _body(body: tuple[A.BodyItem, ...], sep: str) -> str:
    return sep.join(format_body_item(b) for b in body)


def _weight(w: A.Weight) -> str:
    if isinstance(w, A.FixedWeight):
        return _number(w.value)
    return f"t({_number(w.initial)})"


def format_statement(s: A.Statement) -> str:
    """Canonical text of one statement, ending with '.'."""
    if isinstance(s, A.Include):
        return f"include {_string(s.path)}."
    if isinstance(s, A.Fact):
        prefix = f"rule {s.name}: " if s.name else ""
        weight = f"{_weight(s.weight)} :: " if s.weight is not None else ""
        return f"{prefix}{weight}{format_atom(s.atom)}."
    if isinstance(s, A.Rule):
        prefix = f"rule {s.name}: " if s.name else ""
        if s.spelling == "expert":
            with_ = f" with {_weight(s.weight)}" if s.weight is not None else ""
            return f"{prefix}if {_body(s.body, ' and ')} then {format_atom(s.head)}{with_}."
        weight = f"{_weight(s.weight)} :: " if s.weight is not None else ""
        return f"{prefix}{weight}{format_atom(s.head)} :- {_body(s.body, ', ')}."
    if isinstance(s, A.NeuralDecl):
        inputs = ", ".join(format_expr(i) for i in s.inputs)
        domain = ", ".join(format_expr(d) for d in s.domain)
        return (
            f"nn({s.net}, [{inputs}], {format_expr(s.output)}, [{domain}]) :: "
            f"{format_atom(s.head)}."
        )
    if isinstance(s, A.Constraint):
        return f":- {_body(s.body, ', ')}."
    if isinstance(s, A.Query):
        return f"?- {_body(s.body, ', ')}."
    if isinstance(s, A.StateDecl):
        return "state " + ", ".join(s.names) + "."
    if isinstance(s, A.DynamicDecl):
        return "dynamic " + ", ".join(f"{n}/{a}" for n, a in s.predicates) + "."
    if isinstance(s, A.ParamDecl):
        value = f"t({_number(s.value)})" if s.learnable else _number(s.value)
        return f"param {s.name} = {value}."
    if isinstance(s, A.Derivative):
        return f"der({s.state}) = {format_expr(s.expr)}."
    if isinstance(s, A.Law):
        rel = format_body_item(s.relation)
        if s.conditions:
            conds = " and ".join(format_body_item(c) for c in s.conditions)
            return f"law {s.name}: if {conds} then {rel}."
        return f"law {s.name}: {rel}."
    raise TypeError(f"not a statement: {type(s).__name__}")


def format_program(p: A.Program) -> str:
    """Canonical text of a whole program, one statement per line."""
    return "".join(format_statement(s) + "\n" for s in p.statements)
