"""Quantities with units, parsed only at the YAML/CLI boundary.

A small closed table of our own rather than pint: roofsim needs seven dimensions and two prefix
families, and pint's import (~0.3 s) alone would break the 0.5 s budget of ``roofsim --help``.
The table below is exhaustively tested (tests/test_units.py). No ``eval``.

Inside roofsim every value is a plain SI float: bytes, bytes/s, FLOP, FLOP/s, s, Hz, W.
SI prefixes are powers of 1000 (``kB``), IEC prefixes powers of 1024 (``KiB``): ``32 kB != 32 KiB``.
"""
from __future__ import annotations

import decimal
import math
import re

from .errors import UnitError

SI = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
IEC = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60}
# Sub-unit prefixes are stored as divisors so that 5 us is exactly 5/1e6 (5e-06, not 4.99...e-06).
SUB = {"m": 1e3, "u": 1e6, "\u00b5": 1e6, "\u03bc": 1e6, "n": 1e9, "p": 1e12}  # micro sign and Greek mu

# dimension -> (human name, example shown in errors)
DIMENSIONS = {
    "bytes": ("a size", "80 GB or 40 MiB"),
    "bandwidth": ("a bandwidth", "2 TB/s"),
    "flop_rate": ("a compute rate", "312 TFLOP/s"),
    "flops": ("a FLOP count", "1.2 TFLOP"),
    "time": ("a time", "5 us"),
    "frequency": ("a frequency", "1.41 GHz"),
    "power": ("a power", "700 W"),
}


def _build_table() -> dict[str, tuple[str, float, float]]:
    """unit symbol -> (dimension, multiplier, divisor)."""
    table: dict[str, tuple[str, float, float]] = {}

    def add(prefixes: dict[str, float], base: str, dim: str, divisor: float = 1.0, sub: bool = False) -> None:
        for p, f in prefixes.items():
            table[p + base] = (dim, f, divisor)
        if sub:
            for p, d in SUB.items():
                table[p + base] = (dim, 1.0, d * divisor)

    add({**SI, **IEC}, "B", "bytes")
    add({**SI, **IEC}, "B/s", "bandwidth")
    add({**SI, **IEC}, "Bps", "bandwidth")
    for bits in ("b/s", "bit/s", "bps"):      # network rates: 8 bits per byte
        add(SI, bits, "bandwidth", 8.0)
    for rate in ("FLOP/s", "FLOPS", "OP/s", "OPS"):
        add(SI, rate, "flop_rate")
    add(SI, "FLOP", "flops")
    add(SI, "s", "time", sub=True)
    add({**SI}, "Hz", "frequency")
    add(SI, "W", "power", sub=True)
    del table["ks"], table["Ms"], table["Gs"], table["Ts"], table["Ps"], table["Es"]  # nobody means these
    return table


UNITS = _build_table()
# Common spellings that are ambiguous or wrong, with the fix we suggest.
_HINTS = {
    "KB": "write kB (1000 B) or KiB (1024 B)",
    "KB/s": "write kB/s or KiB/s",
    "sec": "write s",
}
_CONTEXT = decimal.Context(prec=60, traps=[])
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([^\s\d].*?)?\s*$")


MAX_TEXT = 100   # no quantity needs more characters; longer text is refused before parsing


def shown(value: object) -> str:
    """repr() for messages, shortened: a huge int or string is described, not printed."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 100:
        return f"an integer of about {int(value.bit_length() * math.log10(2))} digits"
    if isinstance(value, str) and len(value) > 80:
        return f"{value[:60]!r}... ({len(value)} characters)"
    return repr(value)


def describe(dimension: str) -> str:
    """'a bandwidth, e.g. 2 TB/s' for error messages."""
    name, example = DIMENSIONS[dimension]
    return f"{name}, e.g. {example}"


def parse_quantity(value: object, dimension: str) -> float:
    """Return the SI float for ``value`` (e.g. '2039 GB/s'), which must have ``dimension``.

    Raises UnitError naming what was expected (with an example) and what was found.
    """
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    expected = describe(dimension)
    if isinstance(value, bool) or value is None:
        raise UnitError(expected, repr(value))
    if isinstance(value, (int, float)):
        raise UnitError(expected, f"a bare number {shown(value)} with no unit")
    if not isinstance(value, str):
        raise UnitError(expected, f"a {type(value).__name__}")
    if len(value) > MAX_TEXT:
        raise UnitError(expected, shown(value))
    m = _QUANTITY.match(value)
    if not m:
        raise UnitError(expected, repr(value))
    number, unit = m.group(1), m.group(2)
    if unit is None:
        raise UnitError(expected, f"a bare number {value.strip()!r} with no unit")
    if unit not in UNITS:
        hint = _HINTS.get(unit)
        found = f"{value.strip()!r}: unknown unit {unit!r}"
        raise UnitError(expected, f"{found} ({hint})" if hint else found)
    dim, multiplier, divisor = UNITS[unit]
    if dim != dimension:
        raise UnitError(expected, f"{value.strip()!r}, which is {DIMENSIONS[dim][0]}")
    # Exact decimal arithmetic, one rounding at the end: '66.9 TFLOP/s' is the float 66.9e12,
    # not 66.9 * 1e12 (= 66900000000000.01). Overflow becomes Infinity (caught just below).
    exact = _CONTEXT.divide(_CONTEXT.multiply(decimal.Decimal(number), decimal.Decimal(multiplier)),
                            decimal.Decimal(divisor))
    result = float(exact)
    if not math.isfinite(result):
        raise UnitError(expected, f"{value.strip()!r}, which is not finite")
    return result


_FORMAT_UNITS = {
    "bytes": "B", "bandwidth": "B/s", "flop_rate": "FLOP/s", "flops": "FLOP",
    "time": "s", "frequency": "Hz", "power": "W",
}


def format_quantity(value: float | None, dimension: str, binary: bool = False, digits: int = 4) -> str:
    """Human form of an SI float: format_quantity(3.35e12, 'bandwidth') == '3.35 TB/s'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    unit = _FORMAT_UNITS[dimension]
    if value == 0:
        return f"0 {unit}"
    if math.isinf(value):
        return f"inf {unit}"
    if dimension == "time" and abs(value) < 1:
        for p, d in (("m", 1e3), ("u", 1e6), ("n", 1e9), ("p", 1e12)):
            if abs(value) * d >= 1 or p == "p":
                return f"{value * d:.{digits}g} {p}{unit}"
    table = IEC if binary else SI
    best_p, best_f = "", 1.0
    for p, f in table.items():
        if abs(value) >= f and f >= best_f:
            best_p, best_f = p, f
    return f"{value / best_f:.{digits}g} {best_p}{unit}"
