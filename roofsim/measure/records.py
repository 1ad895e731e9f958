"""Measured kernel times: the CSV format, its loader, and rows -> standard ops.

One CSV row is one measured kernel that is one standard op (roofsim/ops/kinds.py). Columns:

- required: ``device`` (the hardware id or alias it ran on), ``kind`` (an op kind below),
  ``dtype`` (fp64, fp32, fp16, ...), ``time_s`` (seconds per call, > 0; the median of repeats),
  ``source`` (who measured it, or the paper / table it comes from);
- shape, per kind (the arguments of the op constructor, so a measured kernel is priced exactly
  as a user's workload op of the same shape):
  gemm: m, n, k [, batch]; softmax, layernorm, rmsnorm: rows, cols;
  elementwise: elements [, inputs, outputs, flops_per_element]; reduction: elements [, outputs];
  gather: lookups, row_bytes, table_rows [, pooling, distribution, zipf_alpha];
  spmm: rows, cols, nnz, feature_dim;
- optional: ``name``, ``category`` (groups the error summary; default: the kind), ``repeats``,
  ``spread`` (relative spread of the repeats, e.g. (q75 - q25) / median), ``warm`` (true when
  the kernel was timed back to back without flushing caches, so data that fits stays cached;
  default false: cold, as benchmarks that flush the cache between repeats), ``timing``
  (``kernel``, the default: the kernel's own time, from a profiler, or CUDA events around
  back-to-back calls; ``events``: CUDA events around each call launched from Python, after a cache
  flush, so part of the host's dispatch may leak in when it outlasts the flush: priced as
  ``kernel``, but such rows never inform the device's fixed costs (calibrate); ``host``: a host
  clock around each call with a synchronise after it, so every call also pays the framework's
  dispatch and the synchronise, kernelmodel.host_overhead; ``host-compiled``:
  the same around a call of a ``torch.compile``'d function, which pays Dynamo's guards and the
  compiled wrapper instead of one eager op's dispatch), ``date``,
  ``method``, ``library``, ``notes``.

A file may hold several kinds; a cell of a shape column that does not belong to the row's kind
must be empty. Every problem of a file is reported at once, one line each, with its row number.
A kernel made of several ops (numpy's softmax makes several passes) is a ``Measurement`` with
several ops; that form comes from Python (roofsim/measure/suites.py), not from one CSV row.
"""
from __future__ import annotations

import csv
import difflib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from ..errors import Problem, RoofsimError, SpecError
from ..ops import kinds as K
from ..ops.op import Op
from ..specs import DTYPE_BYTES

REQUIRED = ("device", "kind", "dtype", "time_s", "source")
OPTIONAL = ("name", "category", "repeats", "spread", "warm", "timing", "date", "method", "library", "notes")
TIMINGS = ("kernel", "events", "host", "host-compiled")
_TIMING_TEXT = ", ".join(TIMINGS[:-1]) + " or " + TIMINGS[-1]
MAX_FILE_BYTES = 64 * 1024 * 1024   # a measurement file is small; refuse to read a huge one
MAX_PROBLEMS = 50                   # report this many problems, then how many more there were


def _count(text: str) -> Optional[float]:
    """A positive whole number (``1024``, ``1024.0``, ``1e3``), else None."""
    v = _number(text)
    return v if v is not None and v > 0 and v == int(v) else None


def _number(text: str) -> Optional[float]:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _positive(text: str) -> Optional[float]:
    v = _number(text)
    return v if v is not None and v > 0 else None


def _distribution(text: str) -> Optional[str]:
    return text if text in ("uniform", "zipf") else None


# column -> (parser returning None when bad, what it expects)
_PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "m": (_count, "a whole number > 0"), "n": (_count, "a whole number > 0"), "k": (_count, "a whole number > 0"),
    "batch": (_count, "a whole number > 0"), "rows": (_count, "a whole number > 0"),
    "cols": (_count, "a whole number > 0"), "elements": (_count, "a whole number > 0"),
    "inputs": (_count, "a whole number > 0"), "outputs": (_count, "a whole number > 0"),
    "flops_per_element": (_positive, "a number > 0"), "lookups": (_count, "a whole number > 0"),
    "row_bytes": (_count, "a whole number of bytes > 0"), "table_rows": (_count, "a whole number > 0"),
    "pooling": (_count, "a whole number > 0"), "distribution": (_distribution, "uniform or zipf"),
    "zipf_alpha": (_positive, "a number > 0"), "nnz": (_count, "a whole number > 0"),
    "feature_dim": (_count, "a whole number > 0"),
}


@dataclass(frozen=True)
class KindShape:
    """The shape columns of one op kind and the constructor that turns them into an Op."""
    required: tuple[str, ...]
    optional: tuple[str, ...]
    build: Callable[..., Op]


def _int_args(shape: Mapping[str, Any]) -> dict:
    return {k: (int(v) if isinstance(v, float) and k != "flops_per_element" and k != "zipf_alpha" else v)
            for k, v in shape.items()}


SHAPES: dict[str, KindShape] = {
    "gemm": KindShape(("m", "n", "k"), ("batch",), lambda name, dtype, **s: K.gemm(name, dtype=dtype, weight=None, **s)),
    "softmax": KindShape(("rows", "cols"), (), lambda name, dtype, **s: K.softmax(name, dtype=dtype, **s)),
    "layernorm": KindShape(("rows", "cols"), (), lambda name, dtype, **s: K.layernorm(name, dtype=dtype, **s)),
    "rmsnorm": KindShape(("rows", "cols"), (), lambda name, dtype, **s: K.layernorm(name, dtype=dtype, rms=True, **s)),
    "elementwise": KindShape(("elements",), ("inputs", "outputs", "flops_per_element"),
                             lambda name, dtype, **s: K.elementwise(name, dtype=dtype, **s)),
    "reduction": KindShape(("elements",), ("outputs",), lambda name, dtype, **s: K.reduction(name, dtype=dtype, **s)),
    "gather": KindShape(("lookups", "row_bytes", "table_rows"), ("pooling", "distribution", "zipf_alpha"),
                        lambda name, dtype, **s: K.gather(name, dtype=dtype, **s)),
    "spmm": KindShape(("rows", "cols", "nnz", "feature_dim"), (), lambda name, dtype, **s: K.spmm(name, dtype=dtype, **s)),
}
SHAPE_COLUMNS = tuple(dict.fromkeys(c for s in SHAPES.values() for c in (*s.required, *s.optional)))
COLUMNS = (*REQUIRED, *SHAPE_COLUMNS, *OPTIONAL)


@dataclass(frozen=True)
class Measurement:
    """One measured kernel: the ops it runs (one for a CSV row) and its time per call."""
    name: str
    device: str
    category: str
    ops: tuple[Op, ...]
    time_s: float
    source: str
    repeats: Optional[int] = None
    spread: Optional[float] = None
    warm: bool = False        # timed back to back without flushing: the steady state of a loop
    timing: str = "kernel"    # TIMINGS: "host" = host clock and a synchronise around every call
    method: str = ""
    library: str = ""
    date: str = ""
    notes: str = ""
    extra: tuple[tuple[str, Any], ...] = field(default=(), compare=False)   # e.g. the suite's byte counts

    def __post_init__(self):
        if not (isinstance(self.time_s, (int, float)) and math.isfinite(self.time_s) and self.time_s > 0):
            raise SpecError(Problem(None, f"measurement {self.name}.time_s", "a time > 0 s", repr(self.time_s)))
        if not self.ops:
            raise SpecError(Problem(None, f"measurement {self.name}.ops", "at least one op", "none"))
        if self.timing not in TIMINGS:
            raise SpecError(Problem(None, f"measurement {self.name}.timing", _TIMING_TEXT, repr(self.timing)))

    @property
    def kind(self) -> str:
        """The op kinds, in order and without repeats: 'gemm', or 'reduction+elementwise'."""
        return "+".join(dict.fromkeys(op.kind for op in self.ops))


def to_op(row: Mapping[str, Any], name: str = "") -> Op:
    """One CSV row (strings or numbers, as read) -> the standard op it measured.

    Raises SpecError with one problem per bad cell; ``row`` needs ``kind``, ``dtype`` and the
    kind's shape columns, and any others are ignored.
    """
    problems: list[Problem] = []
    op = _row_op(row, name or str(row.get("name") or row.get("kind") or "op"), "", problems)
    if problems:
        raise SpecError(problems)
    return op


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _row_op(row: Mapping[str, Any], name: str, at: str, problems: list[Problem], file: Optional[str] = None) -> Optional[Op]:
    kind, dtype = _text(row.get("kind")), _text(row.get("dtype"))
    before = len(problems)
    shape_spec = SHAPES.get(kind)
    if shape_spec is None:
        close = difflib.get_close_matches(kind, SHAPES, n=1)
        problems.append(Problem(file, f"{at}kind", "one of " + ", ".join(SHAPES), repr(kind),
                                f"did you mean {close[0]!r}?" if close else ""))
    if dtype not in DTYPE_BYTES:
        problems.append(Problem(file, f"{at}dtype", "one of " + ", ".join(DTYPE_BYTES), repr(dtype)))
    if shape_spec is None:
        return None
    args: dict[str, Any] = {}
    for col in (*shape_spec.required, *shape_spec.optional):
        text = _text(row.get(col))
        if not text:
            if col in shape_spec.required:
                problems.append(Problem(file, f"{at}{col}", f"a value for a {kind} ({_PARSERS[col][1]})", "nothing"))
            continue
        parse, expected = _PARSERS[col]
        value = parse(text)
        if value is None:
            problems.append(Problem(file, f"{at}{col}", expected, repr(text)))
        else:
            args[col] = value
    for col in SHAPE_COLUMNS:
        if col not in shape_spec.required and col not in shape_spec.optional and _text(row.get(col)):
            problems.append(Problem(file, f"{at}{col}", f"an empty cell: {col} is not a column of a {kind}",
                                    repr(_text(row.get(col)))))
    if len(problems) > before:
        return None
    try:
        return shape_spec.build(name, dtype, **_int_args(args))
    except SpecError as e:  # anything the constructor itself refuses
        problems.extend(Problem(file, f"{at}{p.path}", p.expected, p.found, p.hint) for p in e.problems)
        return None


_BOOLEANS = {"": False, "true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def _optional_number(text: str, at: str, col: str, problems: list, file, whole: bool) -> Optional[float]:
    if not text:
        return None
    value = _count(text) if whole else _number(text)
    if value is None or value < 0:
        problems.append(Problem(file, f"{at}{col}", "a whole number > 0" if whole else "a number >= 0", repr(text)))
        return None
    return value


def _row_measurement(row: Mapping[str, Any], index: int, problems: list[Problem], file: Optional[str]) -> Optional[Measurement]:
    at = f"row {index}."
    before = len(problems)
    t = lambda c: _text(row.get(c))
    for col in ("device", "source"):
        if not t(col):
            problems.append(Problem(file, f"{at}{col}", "a non-empty value", "nothing"))
    time_s = _positive(t("time_s"))
    if time_s is None:
        problems.append(Problem(file, f"{at}time_s", "a finite time in seconds > 0", repr(t("time_s"))))
    name = t("name") or f"{t('kind') or 'op'}-{index}"
    op = _row_op(row, name, at, problems, file)
    repeats = _optional_number(t("repeats"), at, "repeats", problems, file, whole=True)
    spread = _optional_number(t("spread"), at, "spread", problems, file, whole=False)
    warm = _BOOLEANS.get(t("warm").lower())
    if warm is None:
        problems.append(Problem(file, f"{at}warm", "true or false (or empty)", repr(t("warm"))))
    timing = t("timing") or "kernel"
    if timing not in TIMINGS:
        problems.append(Problem(file, f"{at}timing", _TIMING_TEXT + " (or empty: kernel)", repr(t("timing"))))
    if len(problems) > before or op is None:
        return None
    return Measurement(name=name, device=t("device"), category=t("category") or op.kind, ops=(op,), time_s=time_s,
                       source=t("source"), repeats=int(repeats) if repeats else None, spread=spread, warm=warm, timing=timing,
                       method=t("method"), library=t("library"), date=t("date"), notes=t("notes"))


def parse_rows(header: Sequence[str], rows: Sequence[Sequence[str]], file: Optional[str] = None) -> list[Measurement]:
    """Header + data rows (as csv.reader gives them) -> measurements; all problems at once."""
    problems: list[Problem] = []
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        problems.append(Problem(file, "header", "the columns " + ", ".join(REQUIRED), "no " + ", ".join(missing)))
    for col in header:
        if col not in COLUMNS:
            close = difflib.get_close_matches(col, COLUMNS, n=1)
            problems.append(Problem(file, f"header.{col}", "a known column (" + ", ".join(COLUMNS) + ")",
                                    f"unknown column {col!r}", f"did you mean {close[0]!r}?" if close else ""))
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        problems.append(Problem(file, "header", "each column once", "repeated " + ", ".join(dupes)))
    if problems:
        raise SpecError(problems)
    if not rows:
        raise SpecError(Problem(file, "", "at least one measurement row", "a header only"))
    out = []
    for i, cells in enumerate(rows, start=2):   # row numbers as a spreadsheet shows them (header = 1)
        if len(cells) != len(header):
            problems.append(Problem(file, f"row {i}", f"{len(header)} cells like the header", f"{len(cells)}"))
            continue
        m = _row_measurement(dict(zip(header, cells)), i, problems, file)
        if m is not None:
            out.append(m)
    if problems:
        raise SpecError(_capped(problems))
    return out


def _capped(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    return [*problems[:MAX_PROBLEMS], Problem(problems[0].file, "", "fewer problems", f"{rest} more not shown")]


def load_measurements(path: os.PathLike | str) -> list[Measurement]:
    """Read a measurement CSV (format in this module's docstring and the README)."""
    p = Path(path)
    try:
        if not p.is_file():
            raise SpecError(Problem(str(p), "", "an existing CSV file", "no such file" if not p.exists() else "not a file"))
        if p.stat().st_size > MAX_FILE_BYTES:
            raise SpecError(Problem(str(p), "", f"a file under {MAX_FILE_BYTES // 2**20} MiB", f"{p.stat().st_size} bytes"))
        with p.open(newline="", encoding="utf-8") as f:
            lines = [r for r in csv.reader(f) if r and not (len(r) == 1 and not r[0].strip())
                     and not r[0].lstrip().startswith("#")]
    except (UnicodeDecodeError, csv.Error, OSError) as e:
        raise SpecError(Problem(str(p), "", "a readable UTF-8 CSV file", type(e).__name__)) from None
    if not lines:
        raise SpecError(Problem(str(p), "", "a header row and measurement rows", "an empty file"))
    return parse_rows(lines[0], lines[1:], file=str(p))


def columns_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The columns ``rows`` (dicts, e.g. a converter's) use, in the order of COLUMNS, for writing
    them as a measurement CSV (``roofsim.cli.output.csv_text``); a key that is no column of the
    format raises, so a writer cannot make a file that ``load_measurements`` refuses."""
    used = {k for r in rows for k in r}
    unknown = sorted(used - set(COLUMNS))
    if unknown:
        raise RoofsimError(f"measurement rows: {', '.join(unknown)} not among the columns ({', '.join(COLUMNS)})")
    return [c for c in COLUMNS if c in used]


def to_rows(measurements: Sequence[Measurement]) -> list[dict]:
    """Single-op measurements -> CSV rows (dicts over COLUMNS) that ``parse_rows`` reads back."""
    out = []
    for m in measurements:
        if len(m.ops) != 1:
            raise RoofsimError(f"measurement {m.name}: a CSV row holds one op, this kernel has {len(m.ops)}")
        op = m.ops[0]
        shape = dict(op.shape)
        row = {c: "" for c in COLUMNS}
        spec = SHAPES[op.kind]
        for c in (*spec.required, *spec.optional):
            if c in shape:
                row[c] = shape[c]
        if op.kind == "gather" and shape.get("distribution") == "zipf":
            row["zipf_alpha"] = repr(op.access.zipf_alpha)
        if op.kind == "elementwise" and shape.get("elements"):
            row["flops_per_element"] = repr(op.total_flops / shape["elements"])
        row.update(device=m.device, kind=op.kind, dtype=op.dtype or shape.get("dtype", ""), time_s=repr(m.time_s),
                   source=m.source, name=m.name, category=m.category, repeats=m.repeats or "",
                   spread="" if m.spread is None else repr(m.spread), warm="true" if m.warm else "",
                   timing="" if m.timing == "kernel" else m.timing, date=m.date, method=m.method,
                   library=m.library, notes=m.notes)
        out.append(row)
    return out
