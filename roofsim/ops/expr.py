"""Safe arithmetic over workload parameters: ``batch * tables * pooling``. No eval.

Only numbers, parameter names, + - * / // % **, unary minus, parentheses and the functions
min, max, ceil, floor, sqrt, log2 are accepted; anything else is an error naming what was found.
"""
from __future__ import annotations

import ast
import math
import operator
from typing import Any, Mapping

from ..errors import BadValue

_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_FUNCS = {"min": min, "max": max, "ceil": math.ceil, "floor": math.floor, "sqrt": math.sqrt, "log2": math.log2}


class ExprError(BadValue):
    """An expression that is not plain arithmetic over known parameters."""


def evaluate(expr: Any, names: Mapping[str, Any]) -> Any:
    """Numbers pass through; strings are parsed as arithmetic over ``names``."""
    if isinstance(expr, bool):
        raise ExprError("a number or expression", repr(expr))
    if isinstance(expr, (int, float)):
        return expr
    if not isinstance(expr, str):
        raise ExprError("a number or expression", f"a {type(expr).__name__}")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        raise ExprError("an arithmetic expression", repr(expr)) from None
    return _eval(tree.body, names, expr)


def _eval(node: ast.AST, names: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in names:
            import difflib
            close = difflib.get_close_matches(node.id, list(names), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ExprError(f"a known parameter in {text!r}", f"unknown name {node.id!r}{hint}")
        return names[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        left, right = _eval(node.left, names, text), _eval(node.right, names, text)
        try:
            return _BIN[type(node.op)](left, right)
        except (ZeroDivisionError, OverflowError, TypeError) as e:
            raise ExprError("a computable expression", f"{text!r} ({e})") from None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _eval(node.operand, names, text)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords:
        args = [_eval(a, names, text) for a in node.args]
        try:
            return _FUNCS[node.func.id](*args)
        except (TypeError, ValueError, OverflowError):  # ceil(1, 2), sqrt(-1), log2(0)
            # our own words: Python's message differs between versions
            raise ExprError("a computable expression",
                            f"{text!r} ({node.func.id} cannot take {', '.join(map(repr, args))})") from None
    raise ExprError(f"only numbers, parameter names, + - * / // % ** and {', '.join(_FUNCS)}",
                    f"{ast.unparse(node)!r} in {text!r}")


def as_int(value: Any) -> Any:
    """Integral floats become ints (counts and shapes); others stay as they are."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
