"""The expression language of formula indicators: parsing, units, and the SQL that combines operand values.

An expression is indicator names, numbers, `+ - * /`, parentheses and unary
minus, e.g. `overdue_cases / open_cases` or `1 - satisfaction_rate`. It is
parsed with Python's `ast` in "eval" mode and only those node types are
accepted; nothing is ever evaluated in Python.

Units, kept small on purpose (a literal number is dimensionless, like a ratio):

- `a + b`, `a - b`: the same unit on both sides (a number or a ratio may meet
  the other: `1 - satisfaction_rate` is a ratio);
- `a * b`: a unit times a number or a ratio keeps the unit (a share of a count
  is a count); two other units cannot be multiplied;
- `a / b`: divided by a number or a ratio, a unit is kept; a unit divided by
  itself, or a count by a count (tickets, evaluations, events, cases,
  windows, probes), is a ratio; anything else has no unit and is refused;
- `-a` keeps the unit of `a`.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: Units that count things: an operand of such a unit with no row for a bucket counted nothing there (0).
COUNT_UNITS = frozenset({"tickets", "evaluations", "events", "cases", "windows", "probes"})
NUMBER = "number"
_DIMENSIONLESS = frozenset({NUMBER, "ratio"})
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class FormulaError(ValueError):
    """An expression that cannot be used; the message says which part and why."""


@dataclass(frozen=True, slots=True)
class Name:
    name: str


@dataclass(frozen=True, slots=True)
class Number:
    value: float


@dataclass(frozen=True, slots=True)
class Negative:
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr


Expr = Name | Number | Negative | Binary


def parse(text: str) -> Expr:
    """The expression tree of `text`; raises FormulaError naming the first part outside the language."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"not an expression: {exc.msg} at column {exc.offset}") from None
    return _convert(tree.body, text.strip())


def _convert(node: ast.AST, text: str) -> Expr:
    if isinstance(node, ast.Name):
        return Name(node.id)
    # bool is an int subclass: `True` is refused as a name-like constant, not read as 1.
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        if not math.isfinite(node.value):
            raise FormulaError(f"{ast.get_source_segment(text, node)!r}: not a finite number")
        return Number(float(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return Negative(_convert(node.operand, text))
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return Binary(_OPS[type(node.op)], _convert(node.left, text), _convert(node.right, text))
    segment = ast.get_source_segment(text, node) or type(node).__name__
    raise FormulaError(
        f"{segment!r} is not allowed: use indicator names, numbers, + - * /, parentheses and unary minus"
    )


def names(expr: Expr) -> list[str]:
    """The indicator names of `expr`, each once, in the order they are written."""
    if isinstance(expr, Name):
        return [expr.name]
    if isinstance(expr, Negative):
        return names(expr.operand)
    if isinstance(expr, Binary):
        left = names(expr.left)
        return left + [n for n in names(expr.right) if n not in left]
    return []


def render(expr: Expr) -> str:
    """`expr` written back with every parenthesis it needs spelled out, for messages."""
    if isinstance(expr, Name):
        return expr.name
    if isinstance(expr, Number):
        return f"{expr.value:g}"
    if isinstance(expr, Negative):
        return f"-{render(expr.operand)}"
    return f"({render(expr.left)} {expr.op} {render(expr.right)})"


def unit_of(expr: Expr, units: Mapping[str, str]) -> str:
    """The unit `expr` computes, given each name's unit; raises FormulaError for operands whose units do not mix."""
    if isinstance(expr, Name):
        return units[expr.name]
    if isinstance(expr, Number):
        return NUMBER
    if isinstance(expr, Negative):
        return unit_of(expr.operand, units)
    left, right = unit_of(expr.left, units), unit_of(expr.right, units)
    unit = _combine(expr.op, left, right)
    if unit is None:
        raise FormulaError(f"{render(expr)}: cannot {_VERB[expr.op]} {left} and {right}")
    return unit


_VERB = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}


def _combine(op: str, left: str, right: str) -> str | None:
    if op in "+-":
        if left == right:
            return left
        return "ratio" if {left, right} == _DIMENSIONLESS else None
    if op == "*":
        if right in _DIMENSIONLESS:
            return left if left != NUMBER else right
        return right if left in _DIMENSIONLESS else None
    if right in _DIMENSIONLESS:
        return left if left != NUMBER else right
    if left == right or (left in COUNT_UNITS and right in COUNT_UNITS):
        return "ratio"
    return None


def to_sql(expr: Expr, column: Callable[[str], str], zero_when_empty: bool) -> str:
    """ClickHouse SQL computing `expr` from each name's column; a division by 0 gives NULL, or 0 when asked."""
    if isinstance(expr, Name):
        return column(expr.name)
    if isinstance(expr, Number):
        return f"toFloat64({expr.value!r})"
    if isinstance(expr, Negative):
        return f"(-{to_sql(expr.operand, column, zero_when_empty)})"
    left, right = to_sql(expr.left, column, zero_when_empty), to_sql(expr.right, column, zero_when_empty)
    if expr.op != "/":
        return f"({left} {expr.op} {right})"
    empty = "toFloat64(0)" if zero_when_empty else "NULL"
    return f"if({right} = 0, {empty}, {left} / {right})"
