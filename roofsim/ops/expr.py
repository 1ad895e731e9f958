"""Safe arithmetic over workload parameters: ``batch * tables * pooling``. No eval.

Only numbers, parameter names, + - * / // % **, unary minus, parentheses and the functions
min, max, ceil, floor, sqrt, log2 are accepted; anything else is an error naming what was found.

Everything is bounded, so no input can hang or exhaust memory: the text (``MAX_CHARS``), its
syntax tree (``MAX_NODES`` nodes, ``MAX_DEPTH`` deep, checked without recursion before anything
is evaluated), and every number, literal or intermediate (``|x| <= MAX_MAGNITUDE``, finite,
real). A power is checked before it is computed (``10**10**10`` would otherwise run for hours).
"""
from __future__ import annotations

import ast
import math
import operator
from typing import Any, Mapping

from ..errors import BadValue
from ..units import shown

_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_FUNCS = {"min": min, "max": max, "ceil": math.ceil, "floor": math.floor, "sqrt": math.sqrt, "log2": math.log2}

MAX_CHARS = 1000          # the longest shape formula in a real workload is under 200 characters
MAX_NODES = 200
MAX_DEPTH = 100           # a sum of n terms is n deep; the evaluator recurses about twice per level
# Shapes, counts, parameter and token totals of any workload stay far below 1e30 (a frontier
# training run is ~1e25 FLOP); products of a few such numbers stay finite as floats (< 1e308).
MAX_MAGNITUDE = 1e30


class ExprError(BadValue):
    """An expression that is not plain arithmetic over known parameters."""


def number_ok(value: Any) -> bool:
    """A real number (not a bool) within +-MAX_MAGNITUDE: what every expression must yield."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, int):
        return value.bit_length() <= 100 and abs(value) <= MAX_MAGNITUDE
    return math.isfinite(value) and abs(value) <= MAX_MAGNITUDE


def _bounded(value: Any, text: str) -> Any:
    if not number_ok(value):
        found = "a complex number" if isinstance(value, complex) else shown(value)
        raise ExprError(f"a finite number of magnitude at most {MAX_MAGNITUDE:.0e}",
                        f"{found} in {shown(text)}" if text else found)
    return value


def evaluate(expr: Any, names: Mapping[str, Any]) -> Any:
    """Numbers pass through (if finite and bounded); strings are parsed as arithmetic over ``names``."""
    if isinstance(expr, bool):
        raise ExprError("a number or expression", repr(expr))
    if isinstance(expr, (int, float)):
        return _bounded(expr, "")
    if not isinstance(expr, str):
        raise ExprError("a number or expression", f"a {type(expr).__name__}")
    if len(expr) > MAX_CHARS:
        raise ExprError(f"an expression of at most {MAX_CHARS} characters", shown(expr))
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # also "too many nested parentheses"
        raise ExprError("an arithmetic expression", shown(expr)) from None
    _check_size(tree.body, expr)
    return _eval(tree.body, names, expr)


def _check_size(root: ast.AST, text: str) -> None:
    """Node count and depth, walked with an explicit stack (no recursion to exhaust)."""
    stack, nodes = [(root, 1)], 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES or depth > MAX_DEPTH:
            what = f"more than {MAX_NODES} terms" if nodes > MAX_NODES else f"nesting deeper than {MAX_DEPTH}"
            raise ExprError(f"an expression of at most {MAX_NODES} terms, {MAX_DEPTH} deep", f"{what} in {shown(text)}")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node)
                     if not isinstance(child, (ast.operator, ast.unaryop, ast.expr_context)))  # not terms


def _power(base: Any, exponent: Any, text: str) -> Any:
    """base ** exponent, refused before computing when its magnitude would exceed the bound."""
    if base != 0 and exponent * math.log10(abs(base)) > math.log10(MAX_MAGNITUDE):
        raise ExprError(f"a finite number of magnitude at most {MAX_MAGNITUDE:.0e}",
                        f"{shown(base)} ** {shown(exponent)} in {shown(text)}")
    return base ** exponent


def _eval(node: ast.AST, names: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return _bounded(node.value, text)
    if isinstance(node, ast.Name):
        if node.id not in names:
            import difflib
            close = difflib.get_close_matches(node.id, list(names), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ExprError(f"a known parameter in {shown(text)}", f"unknown name {node.id!r}{hint}")
        return names[node.id]   # may be a choice (a dtype name): arithmetic on it is refused below
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        left, right = _operand(node.left, names, text), _operand(node.right, names, text)
        try:
            if isinstance(node.op, ast.Pow):
                result = _power(left, right, text)
            else:
                result = _BIN[type(node.op)](left, right)
        except ZeroDivisionError:  # our own words: Python's differ between int, float and **
            raise ExprError("a computable expression", f"{shown(text)} (division by zero)") from None
        return _bounded(result, text)   # also refuses a complex result: (-8) ** 0.5
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _operand(node.operand, names, text)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords:
        args = [_operand(a, names, text) for a in node.args]
        try:
            return _bounded(_FUNCS[node.func.id](*args), text)
        except (TypeError, ValueError, OverflowError):  # ceil(1, 2), sqrt(-1), log2(0)
            # our own words: Python's message differs between versions
            raise ExprError("a computable expression",
                            f"{shown(text)} ({node.func.id} cannot take {', '.join(map(repr, args))})") from None
    raise ExprError(f"only numbers, parameter names, + - * / // % ** and {', '.join(_FUNCS)}",
                    f"{shown(ast.unparse(node))} in {shown(text)}")


def _operand(node: ast.AST, names: Mapping[str, Any], text: str) -> Any:
    """A sub-expression that arithmetic is applied to: it must be a bounded number."""
    v = _eval(node, names, text)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ExprError(f"numbers in {shown(text)}", f"{shown(v)}, which is not a number")
    return _bounded(v, text)


def as_int(value: Any) -> Any:
    """Integral floats become ints (counts and shapes); others stay as they are."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
