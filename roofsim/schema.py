"""A small declarative validator for YAML documents (stdlib only, no YAML import).

Every field knows its type and, for quantities, its dimension. ``validate`` walks a document,
converts quantities to SI floats, and collects *all* problems with their key paths, so a
broken file is reported in one go, one line per problem. Unknown keys suggest the nearest
valid key and list the valid ones (as Accelergy/timeloopfe do).
"""
from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .errors import Problem, UnitError
from .units import DIMENSIONS, format_quantity, parse_quantity, shown

_MISSING = object()


def found(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return shown(value)


def finite(value: Any) -> bool:
    """A real number that a float can hold (a huge int would overflow every later division)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) if isinstance(value, float) else value.bit_length() <= 1000


class Ctx:
    """Where we are (file) and what went wrong so far."""

    def __init__(self, file: Optional[str]):
        self.file = file
        self.problems: list[Problem] = []

    def add(self, path: str, expected: str, found: str, hint: str = "") -> None:
        self.problems.append(Problem(self.file, path, expected, found, hint))


class Field:
    required = False
    expected = "a value"

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def child(self, key: str) -> Optional["Field"]:
        """The field under ``key`` (for dotted overrides), or None."""
        return None


@dataclass
class Str(Field):
    required: bool = False
    pattern: Optional[str] = None
    what: str = "a string"

    @property
    def expected(self) -> str:
        return self.what

    def check(self, value, path, ctx):
        if finite(value) and self.pattern is None:
            return str(value)
        if not isinstance(value, str) or not value.strip():
            ctx.add(path, self.what, found(value))
            return None
        if self.pattern and not re.fullmatch(self.pattern, value):
            ctx.add(path, self.what, found(value))
            return None
        return value


@dataclass
class Enum(Field):
    choices: tuple
    required: bool = False

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(self.choices)

    def check(self, value, path, ctx):
        if value not in self.choices:
            close = difflib.get_close_matches(value, self.choices, n=1) if isinstance(value, str) else []
            ctx.add(path, self.expected, found(value), f"did you mean {close[0]!r}?" if close else "")
            return None
        return value


@dataclass
class Bool(Field):
    required: bool = False
    expected = "true or false"

    def check(self, value, path, ctx):
        if not isinstance(value, bool):
            ctx.add(path, self.expected, found(value))
            return None
        return value


@dataclass
class Int(Field):
    minimum: int = 0
    required: bool = False
    maximum: Optional[int] = None

    @property
    def expected(self) -> str:
        return f"an integer >= {self.minimum}"

    def check(self, value, path, ctx):
        if isinstance(value, bool) or not isinstance(value, int) or value < self.minimum:
            ctx.add(path, self.expected, found(value))
            return None
        if self.maximum is not None and value > self.maximum:
            ctx.add(path, f"an integer from {self.minimum} to {self.maximum:.0e}", found(value))
            return None
        return value


@dataclass
class Number(Field):
    """A plain number (counts, exponents); never a unit-carrying quantity."""
    minimum: float = 0.0
    strict: bool = False          # > minimum instead of >=
    maximum: Optional[float] = None
    required: bool = False

    @property
    def expected(self) -> str:
        lo = f"> {self.minimum:g}" if self.strict else f">= {self.minimum:g}"
        hi = f" and <= {self.maximum:g}" if self.maximum is not None else ""
        return f"a number {lo}{hi}"

    def check(self, value, path, ctx):
        if not finite(value):
            ctx.add(path, self.expected, found(value))
            return None
        bad = value <= self.minimum if self.strict else value < self.minimum
        if bad or (self.maximum is not None and value > self.maximum):
            ctx.add(path, self.expected, found(value))
            return None
        return float(value)


def Fraction(required: bool = False) -> Number:
    return Number(minimum=0.0, strict=True, maximum=1.0, required=required)


@dataclass
class Quantity(Field):
    dimension: str
    required: bool = False
    positive: bool = True
    bounds: Optional[tuple] = None    # plausible (low, high) in SI; a value outside is refused

    @property
    def expected(self) -> str:
        name, example = DIMENSIONS[self.dimension]
        return f"{name}, e.g. {example}"

    def _qualified(self, adjective: str) -> str:
        """'a positive size, e.g. 80 GB or 40 MiB' (not 'a positive a size')."""
        name, example = DIMENSIONS[self.dimension]
        return f"{adjective} {name.split(' ', 1)[1]}, e.g. {example}"

    def check(self, value, path, ctx):
        try:
            result = parse_quantity(value, self.dimension)
        except UnitError as e:
            ctx.add(path, e.expected, e.found)
            return None
        if self.positive and result <= 0:
            ctx.add(path, self._qualified("a positive"), found(value))
            return None
        if not self.positive and result < 0:
            ctx.add(path, self._qualified("a non-negative"), found(value))
            return None
        if self.bounds and not (self.bounds[0] <= result <= self.bounds[1]):
            lo, hi = (format_quantity(b, self.dimension) for b in self.bounds)
            name, example = DIMENSIONS[self.dimension]
            ctx.add(path, f"{name} from {lo} to {hi}, e.g. {example}",
                    f"{found(value)}, implausibly {'small' if result < self.bounds[0] else 'large'}")
            return None
        return result


@dataclass
class Date(Field):
    required: bool = False
    expected = 'a date "YYYY", "YYYY-MM" or "YYYY-MM-DD"'

    def check(self, value, path, ctx):
        if isinstance(value, _dt.date):
            return value.isoformat()
        if isinstance(value, int) and not isinstance(value, bool) and 1900 < value < 2200:
            return str(value)
        if isinstance(value, str) and re.fullmatch(r"(19|20)\d\d(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?", value):
            return value
        ctx.add(path, self.expected, found(value))
        return None


@dataclass
class StrList(Field):
    item: Field = field(default_factory=Str)
    required: bool = False
    expected = "a list of strings"

    def check(self, value, path, ctx):
        if not isinstance(value, list):
            ctx.add(path, self.expected, found(value))
            return None
        return tuple(self.item.check(v, f"{path}[{i}]", ctx) for i, v in enumerate(value))


@dataclass
class Table(Field):
    """A list of [x, y] pairs of plain numbers, e.g. an efficiency-versus-size table."""
    x: Field = field(default_factory=lambda: Number(strict=True))
    y: Field = field(default_factory=Fraction)
    required: bool = False
    expected = "a list of [size, fraction] pairs"

    def check(self, value, path, ctx):
        if not isinstance(value, list):
            ctx.add(path, self.expected, found(value))
            return None
        out = []
        for i, pair in enumerate(value):
            if not isinstance(pair, list) or len(pair) != 2:
                ctx.add(f"{path}[{i}]", "a pair [size, fraction]", found(pair))
                continue
            out.append((self.x.check(pair[0], f"{path}[{i}][0]", ctx), self.y.check(pair[1], f"{path}[{i}][1]", ctx)))
        return tuple(out)


@dataclass
class Map(Field):
    """A mapping with keys from a closed set (or any key) and one value field."""
    value: Field
    keys: Optional[tuple] = None
    required: bool = False

    @property
    def expected(self) -> str:
        return "a mapping"

    def child(self, key):
        return self.value if self.keys is None or key in self.keys else None

    def check(self, value, path, ctx):
        if not isinstance(value, dict):
            ctx.add(path, self.expected, found(value))
            return None
        out = {}
        for k, v in value.items():
            if self.keys is not None and k not in self.keys:
                unknown_key(ctx, path, k, self.keys)
                continue
            out[k] = self.value.check(v, f"{path}.{k}" if path else str(k), ctx)
        return out


@dataclass
class OneOf(Field):
    """The first alternative whose type matches decides (a fraction or a mapping of fractions)."""
    alternatives: tuple
    selector: Callable[[Any], int]
    required: bool = False

    @property
    def expected(self) -> str:
        return " or ".join(a.expected for a in self.alternatives)

    def child(self, key):
        for a in self.alternatives:
            c = a.child(key)
            if c is not None:
                return c
        return None

    def check(self, value, path, ctx):
        return self.alternatives[self.selector(value)].check(value, path, ctx)


@dataclass
class Section(Field):
    fields: dict
    required: bool = False

    @property
    def expected(self) -> str:
        return "a mapping"

    def child(self, key):
        return self.fields.get(key)

    def check(self, value, path, ctx):
        if not isinstance(value, dict):
            ctx.add(path, self.expected, found(value))
            return None
        out = {}
        for k, v in value.items():
            if k not in self.fields:
                unknown_key(ctx, path, k, tuple(self.fields))
                continue
            out[k] = self.fields[k].check(v, f"{path}.{k}" if path else str(k), ctx)
        for k, f in self.fields.items():
            if f.required and k not in value:
                ctx.add(f"{path}.{k}" if path else k, f"required key ({f.expected})", "nothing")
        return out


@dataclass
class NamedList(Field):
    """A list of sections, each with a unique ``name``; paths use the name (memory.hbm.bandwidth)."""
    item: Section
    required: bool = False
    min_items: int = 0

    @property
    def expected(self) -> str:
        return "a list of mappings, each with a name"

    def check(self, value, path, ctx):
        if not isinstance(value, list) or len(value) < self.min_items:
            ctx.add(path, f"{self.expected} (at least {self.min_items})" if self.min_items else self.expected, found(value))
            return None
        out, seen = [], set()
        for i, item in enumerate(value):
            name = item.get("name") if isinstance(item, dict) else None
            label = f"{path}.{name}" if isinstance(name, str) else f"{path}[{i}]"
            if isinstance(name, str):
                if name in seen:
                    ctx.add(label, "unique names", f"{name!r} twice")
                seen.add(name)
            out.append(self.item.check(item, label, ctx))
        return out


def unknown_key(ctx: Ctx, path: str, key: Any, valid: tuple, at: str = "") -> None:
    """Report ``key`` unknown under ``path`` (at ``at`` if given, e.g. the override's name)."""
    name = key if isinstance(key, str) and len(key) <= 80 else found(key)  # a huge or odd key is described
    close = difflib.get_close_matches(name, [str(v) for v in valid], n=1)
    hint = f"did you mean {close[0]!r}?" if close else ""
    full = at or (f"{path}.{name}" if path else name)
    # no valid keys: the parent is a single value, or a list with no items (no links defined)
    expected = "one of the keys " + ", ".join(str(v) for v in valid) if valid else f"no key under {path or 'the top'} (it has none)"
    ctx.add(full, expected, f"unknown key {found(key)}", hint)


def is_mapping(value: Any) -> int:
    return 1 if isinstance(value, dict) else 0
