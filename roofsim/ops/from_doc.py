"""Workload documents (as read from YAML) -> Workload, with every problem reported at once.

A document either lists ``ops`` of standard kinds with shapes (FLOPs and bytes are derived), or
names a Python ``builder`` (e.g. transformer) with its parameters. Shapes may be arithmetic over
``params`` (``m: batch * seq``), and ``--set wl.batch=512`` overrides a parameter.
Sizes carry units, optionally after an expression: ``bytes: "64 MiB"`` or ``"batch * 512 B"``.
"""
from __future__ import annotations

import difflib
import re
from typing import Any, Callable, Mapping, Optional

from .. import schema as S
from ..errors import BadValue, Problem, SpecError
from ..specs import DTYPES
from ..units import UNITS, UnitError, parse_quantity, shown
from . import kinds
from .access import COLLECTIVES
from .expr import MAX_CHARS, MAX_MAGNITUDE, as_int, evaluate, number_ok
from .op import PHASES, Workload

SCHEMA_VERSION = 1
BUILDERS: dict[str, Callable[..., Workload]] = {}


def register_builder(name: str):
    """Decorator: ``@register_builder("transformer")`` makes ``builder: transformer`` usable in YAML."""
    def deco(fn):
        BUILDERS[name] = fn
        return fn
    return deco


class _Num:      # a count or shape: number or expression
    pass


class _Size:     # bytes: "64 MiB" or "expr B"
    pass


_ANY = object()
_COMMON = {"name": str, "op": str, "count": _Num, "phase": PHASES, "notes": str}
OP_FIELDS: dict[str, tuple[Callable, dict]] = {
    "gemm": (kinds.gemm, {"m": _Num, "n": _Num, "k": _Num, "batch": _Num, "dtype": DTYPES, "out_dtype": DTYPES,
                          "weight": ("a", "b", "none"), "unit": ("matrix", "vector")}),
    "elementwise": (kinds.elementwise, {"elements": _Num, "inputs": _Num, "outputs": _Num,
                                        "flops_per_element": _Num, "transcendentals_per_element": _Num,
                                        "allocates": bool, "broadcast": bool, "dtype": DTYPES}),
    "reduction": (kinds.reduction, {"elements": _Num, "outputs": _Num, "run": _Num, "allocates": bool,
                                    "dtype": DTYPES}),
    "softmax": (kinds.softmax, {"rows": _Num, "cols": _Num, "dtype": DTYPES}),
    "layernorm": (kinds.layernorm, {"rows": _Num, "cols": _Num, "dtype": DTYPES, "rms": bool}),
    "gather": (kinds.gather, {"lookups": _Num, "row_bytes": _Size, "table_rows": _Num, "pooling": _Num,
                              "distribution": ("uniform", "zipf"), "zipf_alpha": _Num, "dtype": DTYPES, "seed": _Num,
                              "table_role": kinds.TABLE_ROLES}),
    "spmm": (kinds.spmm, {"rows": _Num, "cols": _Num, "nnz": _Num, "feature_dim": _Num, "dtype": DTYPES,
                          "degree_alpha": _Num, "seed": _Num}),
    "collective": (kinds.collective, {"collective": COLLECTIVES, "bytes": _Size, "participants": _Num,
                                      "dtype": DTYPES, "scope": ("scale-up", "scale-out", "host")}),
    "custom": (kinds.custom, {"flops": _Num, "dtype": DTYPES, "bytes": _Size, "level_bytes": dict,
                              "unit": ("matrix", "vector")}),
}
REQUIRED = {"gemm": ("m", "n", "k"), "elementwise": ("elements",), "reduction": ("elements",),
            "softmax": ("rows", "cols"), "layernorm": ("rows", "cols"),
            "gather": ("lookups", "row_bytes", "table_rows"), "spmm": ("rows", "cols", "nnz", "feature_dim"),
            "collective": ("collective", "bytes", "participants"), "custom": ("flops", "dtype")}
TOP_KEYS = ("schema_version", "name", "description", "source", "notes", "params", "ops", "builder",
            "parameters", "tokens")
_SIZE = re.compile(r"^(.*?)\s*([A-Za-z]+)$")


def _size(value: Any, params: Mapping[str, Any]) -> float:
    """'64 MiB' or 'batch * 512 B' -> bytes. A bare number is an error (write e.g. 64 MiB)."""
    if isinstance(value, str):
        m = _SIZE.match(value.strip())
        if m and m.group(2) in UNITS and UNITS[m.group(2)][0] == "bytes":
            try:
                return parse_quantity(value, "bytes")
            except UnitError:
                dim, mul, div = UNITS[m.group(2)]
                return float(_number(m.group(1), params)) * mul / div
    return parse_quantity(value, "bytes")  # raises the standard unit error


def _number(value: Any, params: Mapping[str, Any]) -> Any:
    """A number or an arithmetic expression that yields one (a lone name may hold a choice)."""
    v = evaluate(value, params)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise BadValue("a number", f"{shown(value)}, which is {shown(v)}" if isinstance(value, str) else shown(value))
    return v


def _check_value(kind: Any, value: Any, params: Mapping[str, Any]) -> Any:
    if kind is _Num:
        return as_int(_number(value, params))
    if kind is _Size:
        return _size(value, params)
    if kind is str:
        if not isinstance(value, str):
            raise BadValue("a string", S.found(value))
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise BadValue("true or false", S.found(value))
        return value
    if kind is dict:
        if not isinstance(value, dict):
            raise BadValue("a mapping of level name to size", S.found(value))
        return {k: _size(v, params) for k, v in value.items()}
    if isinstance(kind, tuple):
        if isinstance(value, str) and value not in kind and isinstance(params.get(value), str):
            value = params[value]  # a parameter holding a choice, e.g. dtype: dtype
        if value not in kind:
            raise BadValue("one of " + ", ".join(map(str, kind)), S.found(value))
        return value
    raise AssertionError(kind)  # pragma: no cover


MAX_LIST = 100_000   # items of a list parameter (one per embedding table, at most dlrm's 100,000)


def param_problem(value: Any) -> Optional[tuple[str, str]]:
    """(expected, found) when ``value`` cannot be a workload parameter, else None.

    Parameters are scalars (a number, an expression, a choice, true/false, null) or a flat list
    of them (one value per table): never a mapping or a nested list, and always bounded, so no
    parameter can blow up the output of ``workload show`` or the time of a build."""
    expected = "a number, an expression, a choice, true/false, or a flat list of them"
    if isinstance(value, list):
        if len(value) > MAX_LIST:
            return f"a list of at most {MAX_LIST} values", f"a list of {len(value)}"
        for v in value:
            if _scalar_problem(v):
                return expected, f"a list holding {_kind(v)}"
        return None
    problem = _scalar_problem(value)
    return (problem[0] if problem[0] != "scalar" else expected, problem[1]) if problem else None


def _kind(value: Any) -> str:
    return "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list) else shown(value)


def _scalar_problem(value: Any) -> Optional[tuple[str, str]]:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if number_ok(value) else (f"a finite number of magnitude at most {MAX_MAGNITUDE:.0e}", shown(value))
    if isinstance(value, str):
        return None if len(value) <= MAX_CHARS else (f"at most {MAX_CHARS} characters", shown(value))
    return "scalar", _kind(value) if isinstance(value, (dict, list)) else f"a {type(value).__name__}"


def build_workload(doc: Any, file: Optional[str] = None, overrides: Optional[Mapping[str, Any]] = None,
                   where: str = "wl") -> Workload:
    """The Workload of a document, with ``overrides`` of its parameters (named ``{where}.KEY`` in
    errors: ``--set wl.batch`` from the CLI).

    An override is checked once, in its own name: a bad value is one line naming the override,
    not one line per op that uses it; a value that the file's ops or builder refuse (batch 0) is
    one line naming the override and the first problem it causes, when the file builds without it."""
    overrides = dict(overrides or {})
    try:
        return _build_workload(doc, file, overrides, where)
    except SpecError as e:
        if not overrides:
            raise
        own = [p for p in e.problems if p.path.startswith(f"{where}.")]
        if own:
            raise SpecError(own) from None
        try:
            _build_workload(doc, file, {}, where)
        except SpecError:
            raise e from None   # the file itself is broken: its own problems
        first = e.problems[0]
        n = len(e.problems) - 1
        more = f" (and {n} more problem{'s' if n > 1 else ''})" if n else ""
        raise SpecError(Problem(file, ", ".join(f"{where}.{k}" for k in overrides),
                                f"a value with which {doc.get('name', 'the workload')} builds",
                                f"{', '.join(shown(v) for v in overrides.values())}, which gives {first.path}: "
                                f"expected {first.expected}, found {first.found}{more}")) from None


def _build_workload(doc: Any, file: Optional[str], overrides: dict, where: str) -> Workload:
    ctx = S.Ctx(file)
    if not isinstance(doc, dict):
        raise SpecError(Problem(file, "", "a mapping of workload keys", type(doc).__name__))
    for k in doc:
        if k not in TOP_KEYS:
            S.unknown_key(ctx, "", k, TOP_KEYS)
    if doc.get("schema_version") != SCHEMA_VERSION:
        ctx.add("schema_version", f"{SCHEMA_VERSION}", S.found(doc.get("schema_version", "nothing")))
    if not isinstance(doc.get("name"), str):
        ctx.add("name", "a workload name", S.found(doc.get("name", "nothing")))
    params = doc.get("params", {})
    if not isinstance(params, dict):
        ctx.add("params", "a mapping of parameter names to values", S.found(params))
        raise SpecError(ctx.problems)   # every use of every parameter would fail: say it once
    params = dict(params)
    for key, value in params.items():
        problem = param_problem(value)
        if problem:
            ctx.add(f"params.{key}", *problem)
    for key, value in overrides.items():
        label = f"{where}.{key}"
        if key not in params:
            close = difflib.get_close_matches(str(key), list(params), n=1)
            ctx.add(label, "a parameter of this workload (" + (", ".join(params) or "it has none") + ")",
                    f"unknown parameter {shown(key)}", f"did you mean {close[0]!r}?" if close else "")
        elif param_problem(value):
            ctx.add(label, *param_problem(value))
        elif S.finite(params[key]) and isinstance(value, str) and not _is_expression(value, params):
            # a word where the file has a number is a typo, not a choice
            ctx.add(label, f"a number or an expression (the file has {shown(params[key])})", shown(value))
        else:
            params[key] = value
    if ctx.problems:
        raise SpecError(ctx.problems)
    if "builder" in doc:
        return _from_builder(doc, params, file, {k: f"{where}.{k}" for k in overrides})
    ops_doc = doc.get("ops")
    if not isinstance(ops_doc, list) or not ops_doc:
        raise SpecError(Problem(file, "ops", "a non-empty list of ops (or a builder)", S.found(ops_doc)))
    # Parameters may refer to earlier ones: tokens: batch * seq
    resolved: dict[str, Any] = {}
    failed: set[str] = set()   # a bad parameter is reported once, not again by every use of it
    for k, v in params.items():
        if _mentions(v, failed):
            failed.add(k)
            continue
        try:
            if isinstance(v, str) and not _is_expression(v, resolved):
                resolved[k] = v   # a choice such as a dtype name
            elif v is None or isinstance(v, list):  # only a builder takes null or per-table lists
                raise BadValue("a number, an expression or a choice (null and lists are for builders)",
                               S.found(v))
            else:
                resolved[k] = as_int(evaluate(v, resolved))
        except BadValue as e:
            # an override's fault is said once, in its own name
            ctx.add(f"{where}.{k}" if k in overrides else f"params.{k}", e.expected, e.found)
            failed.add(k)
    ops = []
    for i, od in enumerate(ops_doc):
        label = f"ops[{i}]" + (f" ({od['name'][:40]})" if isinstance(od, dict) and isinstance(od.get("name"), str) else "")
        op = _build_op(od, label, resolved, ctx, failed)
        if op is not None:
            ops.append(op)
    extras = {}
    for key in ("parameters", "tokens"):
        if key in doc and not _mentions(doc[key], failed):
            try:
                extras[key] = float(_number(doc[key], resolved))
            except BadValue as e:
                ctx.add(key, e.expected, e.found)
    if ctx.problems:
        raise SpecError(ctx.problems)
    return Workload(name=doc["name"], ops=tuple(ops), params=tuple(resolved.items()),
                    description=str(doc.get("description", "")), source=str(doc.get("source", "")), file=file, **extras)


def _mentions(value: Any, names: set) -> bool:
    """Whether an expression uses one of ``names`` (parameters that already failed)."""
    return isinstance(value, str) and bool(names) and not names.isdisjoint(re.findall(r"[A-Za-z_]\w*", value))


def _build_op(od: Any, label: str, params: Mapping[str, Any], ctx: S.Ctx, failed: set = frozenset()):
    if not isinstance(od, dict):
        ctx.add(label, "a mapping describing an op", S.found(od))
        return None
    kind = od.get("op")
    if not isinstance(kind, str) or kind not in OP_FIELDS:
        close = difflib.get_close_matches(kind, list(OP_FIELDS), n=1) if isinstance(kind, str) else []
        ctx.add(f"{label}.op", "one of " + ", ".join(OP_FIELDS), S.found(kind), f"did you mean {close[0]!r}?" if close else "")
        return None
    if not isinstance(od.get("name"), str):
        ctx.add(f"{label}.name", "an op name", S.found(od.get("name", "nothing")))
        return None
    ctor, fields = OP_FIELDS[kind]
    allowed = {**_COMMON, **fields}
    kwargs: dict[str, Any] = {}
    before = len(ctx.problems)
    skipped = False
    for key, value in od.items():
        if key not in allowed:
            S.unknown_key(ctx, label, key, tuple(allowed))
            continue
        if key == "op":
            continue
        if _mentions(value, failed):
            skipped = True
            continue
        try:
            kwargs[key] = _check_value(allowed[key], value, params)
        except BadValue as e:
            ctx.add(f"{label}.{key}", e.expected, e.found)
    for key in REQUIRED[kind]:
        if key not in od:
            ctx.add(f"{label}.{key}", f"required key for a {kind} op", "nothing")
    if len(ctx.problems) > before or skipped:
        return None
    if kind == "gemm" and kwargs.get("weight") == "none":
        kwargs["weight"] = None
    try:
        return ctor(**kwargs)
    except SpecError as e:
        for p in e.problems:
            ctx.add(f"{label}.{p.path.split('.')[-1]}", p.expected, p.found)
        return None


def _is_expression(text: str, names: Mapping[str, Any]) -> bool:
    """'batch * 2' is an expression; 'fp16' or 'zipf' is a plain choice."""
    word = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", text.strip())
    return not word or text.strip() in names


def _from_builder(doc: dict, params: dict, file: Optional[str], labels: Mapping[str, str]) -> Workload:
    """``labels``: parameter -> the override's name, for problems that an override causes."""
    name = doc["builder"]
    if not isinstance(name, str) or name not in BUILDERS:
        _load_builders()
    if not isinstance(name, str) or name not in BUILDERS:
        raise SpecError(Problem(file, "builder", "one of " + ", ".join(sorted(BUILDERS)), shown(name)))

    def where(path: str) -> str:
        key = re.split(r"[.\[]", path, maxsplit=1)[0]
        return labels[key] + path[len(key):] if key in labels else f"params.{path}" if path else "params"
    try:
        wl = BUILDERS[name](name=doc["name"], **params)
    except SpecError as e:
        raise SpecError([Problem(file, where(p.path), p.expected, p.found, p.hint) for p in e.problems]) from None
    except (TypeError, ValueError, ArithmeticError) as e:  # a value the builder cannot use, in its words
        raise SpecError(Problem(file, "params", f"parameters the {name} builder can use",
                                f"{type(e).__name__}: {shown(str(e))}")) from None
    from dataclasses import replace
    return replace(wl, description=str(doc.get("description", wl.description)),
                   source=str(doc.get("source", wl.source)), file=file)


def _load_builders() -> None:
    """Import the builder modules so they register themselves."""
    import importlib
    import pkgutil
    from .. import ops as pkg
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name not in ("from_doc", "op", "access", "kinds", "expr"):
            importlib.import_module(f"{pkg.__name__}.{info.name}")
