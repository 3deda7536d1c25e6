"""A small, checked expression language for the YAML catalog.

Indicators and rules are written as expressions over field ids, e.g.::

    reserve_secretary >= 1 and reserve_cadre >= 2 and reserve_activist >= 3
    eco_burials <= burials
    demo_village_level in ('区级', '市级', '国家级')

They are parsed with Python's ``ast`` module, every node is checked against a whitelist
of operations and every name against the known fields, and the result is compiled to a
DuckDB SQL fragment whose identifiers come from the field list and whose constants are
bound parameters. Nothing written in YAML reaches SQL as text.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable

# field type -> expression type
_TYPE_OF_FIELD = {"int": "num", "number": "num", "bool": "bool", "enum": "str", "text": "str",
                  "code": "str", "date": "date"}

_CMP_SQL = {ast.Eq: "=", ast.NotEq: "<>", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH_SQL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_FUNCS = {"max": "GREATEST", "min": "LEAST"}


class ExpressionError(ValueError):
    """The expression is not allowed or refers to something unknown."""


@dataclass(frozen=True)
class Compiled:
    """A checked expression: its SQL with ``?`` placeholders, the bound values, its type and fields.

    ``evaluate(row)`` computes the same expression on one row (a dict) in Python, with SQL's
    NULL rules: a blank (None) operand makes the result None. Ingest checks rules this way,
    row by row, without a round trip to the database.
    """

    source: str
    sql: str
    params: tuple[Any, ...]
    type: str  # num | bool | str | date
    fields: frozenset[str]
    evaluate: Callable[[dict[str, Any]], Any]

    def as_number_sql(self) -> str:
        """SQL giving a number: booleans count as 1/0."""
        return f"CAST({self.sql} AS DOUBLE)" if self.type == "bool" else self.sql


class _Compiler:
    def __init__(self, fields: dict[str, dict[str, Any]]):
        self.fields = fields
        self.params: list[Any] = []
        self.used: set[str] = set()

    def compile(self, node: ast.AST) -> tuple[str, str]:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise ExpressionError(f"不允许的写法 {type(node).__name__}")
        return method(node)

    def _Expression(self, node: ast.Expression) -> tuple[str, str]:
        return self.compile(node.body)

    def _Name(self, node: ast.Name) -> tuple[str, str]:
        if node.id in ("true", "false", "True", "False"):
            self.params.append(node.id.lower() == "true")
            return "?", "bool"
        spec = self.fields.get(node.id)
        if spec is None:
            raise ExpressionError(f"未知字段 {node.id}")
        self.used.add(node.id)
        return f'"{node.id}"', _TYPE_OF_FIELD[spec["type"]]

    def _Constant(self, node: ast.Constant) -> tuple[str, str]:
        value = node.value
        if isinstance(value, bool):
            kind = "bool"
        elif isinstance(value, (int, float)):
            kind = "num"
        elif isinstance(value, str):
            kind = "str"
        else:
            raise ExpressionError(f"不允许的常量 {value!r}")
        self.params.append(value)
        return "?", kind

    def _BoolOp(self, node: ast.BoolOp) -> tuple[str, str]:
        parts = []
        for value in node.values:
            sql, kind = self.compile(value)
            if kind != "bool":
                raise ExpressionError("and / or 两边必须是条件")
            parts.append(sql)
        op = " AND " if isinstance(node.op, ast.And) else " OR "
        return "(" + op.join(parts) + ")", "bool"

    def _UnaryOp(self, node: ast.UnaryOp) -> tuple[str, str]:
        sql, kind = self.compile(node.operand)
        if isinstance(node.op, ast.Not) and kind == "bool":
            return f"(NOT {sql})", "bool"
        if isinstance(node.op, ast.USub) and kind == "num":
            return f"(-{sql})", "num"
        raise ExpressionError("不允许的一元运算")

    def _BinOp(self, node: ast.BinOp) -> tuple[str, str]:
        op = _ARITH_SQL.get(type(node.op))
        if op is None:
            raise ExpressionError("只允许 + - * / 运算")
        left, lk = self.compile(node.left)
        right, rk = self.compile(node.right)
        if lk != "num" or rk != "num":
            raise ExpressionError("算术运算的两边必须是数值字段")
        if op == "/":
            return f"(CAST({left} AS DOUBLE) / NULLIF({right}, 0))", "num"
        return f"({left} {op} {right})", "num"

    def _Compare(self, node: ast.Compare) -> tuple[str, str]:
        left, lk = self.compile(node.left)
        left_node = node.left
        parts = []
        if any(not isinstance(c, ast.Name) for c in node.comparators[:-1]):
            raise ExpressionError("连写的比较(如 0 < a <= b)中间只能是字段")
        for op, comparator in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(comparator, (ast.Tuple, ast.List)) or not comparator.elts:
                    raise ExpressionError("in 后面应是一组取值,如 ('市级', '国家级')")
                items = []
                for elt in comparator.elts:
                    sql, kind = self.compile(elt)
                    self._check_comparable(left_node, lk, kind, elt)
                    items.append(sql)
                word = "IN" if isinstance(op, ast.In) else "NOT IN"
                parts.append(f"({left} {word} ({', '.join(items)}))")
            else:
                sql_op = _CMP_SQL.get(type(op))
                if sql_op is None:
                    raise ExpressionError("不允许的比较运算")
                right, rk = self.compile(comparator)
                self._check_comparable(left_node, lk, rk, comparator)
                parts.append(f"({left} {sql_op} {right})")
                left, lk, left_node = right, rk, comparator  # a < b < c chains
        return ("(" + " AND ".join(parts) + ")") if len(parts) > 1 else parts[0], "bool"

    def _check_comparable(self, left_node: ast.AST, lk: str, rk: str, right_node: ast.AST) -> None:
        if lk != rk:
            raise ExpressionError(f"不能比较 {lk} 与 {rk}")
        # a string constant compared with an enum field must be one of its values
        if isinstance(left_node, ast.Name) and isinstance(right_node, ast.Constant):
            spec = self.fields.get(left_node.id, {})
            values = spec.get("values")
            if values and right_node.value not in values:
                raise ExpressionError(f"{left_node.id} 没有取值 {right_node.value!r}(可选:{'、'.join(values)})")

    def _Call(self, node: ast.Call) -> tuple[str, str]:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS or node.keywords:
            raise ExpressionError("只允许函数 max(…)、min(…)")
        args = []
        for arg in node.args:
            sql, kind = self.compile(arg)
            if kind != "num":
                raise ExpressionError(f"{node.func.id}() 的参数必须是数值")
            args.append(sql)
        if len(args) < 2:
            raise ExpressionError(f"{node.func.id}() 至少需要两个参数")
        return f"{_FUNCS[node.func.id]}({', '.join(args)})", "num"


def compile_expression(source: str | int | float, fields: dict[str, dict[str, Any]]) -> Compiled:
    """Parse and check ``source`` against ``fields`` (id -> field spec) and compile it to SQL.

    Raises ExpressionError with a Chinese explanation when the expression is not allowed.
    """
    text = str(source).strip()
    if not text:
        raise ExpressionError("表达式为空")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"无法解析 {text!r}:{exc.msg}") from None
    compiler = _Compiler(fields)
    sql, kind = compiler.compile(tree)
    return Compiled(text, sql, tuple(compiler.params), kind, frozenset(compiler.used), _evaluator(tree.body))


# ---------------------------------------------------------------------------- Python evaluation
# Only trees that passed _Compiler reach here, so every node type below is known to be allowed.

def _and(values: list[Any]) -> Any:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values: list[Any]) -> Any:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


_PY_CMP = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
           ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b}
_PY_ARITH = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
             ast.Div: lambda a, b: None if b == 0 else a / b}


def _evaluator(node: ast.AST) -> Callable[[dict[str, Any]], Any]:
    if isinstance(node, ast.Name):
        if node.id in ("true", "false", "True", "False"):
            const = node.id.lower() == "true"
            return lambda row: const
        name = node.id
        return lambda row: row.get(name)
    if isinstance(node, ast.Constant):
        value = node.value
        return lambda row: value
    if isinstance(node, ast.BoolOp):
        parts = [_evaluator(v) for v in node.values]
        combine = _and if isinstance(node.op, ast.And) else _or
        return lambda row: combine([p(row) for p in parts])
    if isinstance(node, ast.UnaryOp):
        inner = _evaluator(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda row: None if (v := inner(row)) is None else not v
        return lambda row: None if (v := inner(row)) is None else -v
    if isinstance(node, ast.BinOp):
        left, right, op = _evaluator(node.left), _evaluator(node.right), _PY_ARITH[type(node.op)]

        def arith(row: dict[str, Any]) -> Any:
            a, b = left(row), right(row)
            return None if a is None or b is None else op(a, b)
        return arith
    if isinstance(node, ast.Compare):
        operands = [_evaluator(node.left)] + [
            (lambda row, items=[_evaluator(e) for e in c.elts]: [i(row) for i in items])
            if isinstance(c, (ast.Tuple, ast.List)) else _evaluator(c) for c in node.comparators]
        ops = node.ops

        def compare(row: dict[str, Any]) -> Any:
            values = [o(row) for o in operands]
            results = []
            for i, op in enumerate(ops):
                a, b = values[i], values[i + 1]
                if a is None:
                    results.append(None)
                elif isinstance(op, (ast.In, ast.NotIn)):
                    results.append((a in b) == isinstance(op, ast.In))
                else:
                    results.append(None if b is None else _PY_CMP[type(op)](a, b))
            return _and(results)
        return compare
    if isinstance(node, ast.Call):
        args = [_evaluator(a) for a in node.args]
        pick = max if node.func.id == "max" else min

        def call(row: dict[str, Any]) -> Any:  # GREATEST / LEAST skip NULLs, as in DuckDB
            values = [v for a in args if (v := a(row)) is not None]
            return pick(values) if values else None
        return call
    raise ExpressionError(f"不允许的写法 {type(node).__name__}")
