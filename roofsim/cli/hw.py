"""`roofsim hw ...`: list, show, diff and validate hardware specs."""
from __future__ import annotations

import sys

import click

from ..specs import FMA, KINDS, TRANSCENDENTAL
from ..units import format_quantity as fq
from . import output

FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
HW_PATH = click.option("--hw-path", multiple=True, type=click.Path(),
                       help="Extra folder of hardware files (repeatable); also ROOFSIM_PATH.")


@click.group()
def hw():
    """Hardware catalogue: list, show, diff, validate."""


def _peak_text(dtype: str, value: float) -> str:
    """Integer peaks are operations, not floating-point operations: 750 TOP/s."""
    text = fq(value, "flop_rate")
    return text.replace("FLOP/s", "OP/s") if dtype.startswith("int") else text


def _peak(h, dtype):
    return h.compute.peaks().get(dtype)


@hw.command("list")
@click.option("--kind", type=click.Choice(KINDS), multiple=True)
@click.option("--since", type=int, help="Released in or after this year.")
@click.option("--until", type=int, help="Released in or before this year.")
@FORMAT
@HW_PATH
def list_cmd(kind, since, until, fmt, hw_path):
    """Every device in the catalogue, oldest first."""
    from ..hw import hardware_json, list_hardware
    devices = [h for h in list_hardware(hw_path)
               if (not kind or h.kind in kind) and (since is None or (h.year or 0) >= since)
               and (until is None or (h.year or 9999) <= until)]
    devices.sort(key=lambda h: (h.release_date or "9999", h.id))
    if fmt == "json":
        click.echo(output.json_text([hardware_json(h) for h in devices]))
        return
    rows = [{"id": h.id, "name": h.name, "year": h.year, "kind": h.kind,
             "bf16_flop_per_s": _peak(h, "bf16"), "fp32_flop_per_s": _peak(h, "fp32"),
             "memory_bytes": h.main_memory.total_capacity_bytes,
             "memory_bytes_per_s": h.main_memory.bandwidth_bytes_per_s} for h in devices]
    if fmt == "csv":
        click.echo(output.csv_text(rows))
        return
    human = [{"id": r["id"], "name": r["name"], "year": r["year"], "kind": r["kind"],
              "bf16 peak": fq(r["bf16_flop_per_s"], "flop_rate"), "fp32 peak": fq(r["fp32_flop_per_s"], "flop_rate"),
              "memory": fq(r["memory_bytes"], "bytes", binary=True), "bandwidth": fq(r["memory_bytes_per_s"], "bandwidth")}
             for r in rows]
    click.echo(output.table(human, align_right=("bf16 peak", "fp32 peak", "memory", "bandwidth")))


@hw.command("show")
@click.argument("name")
@FORMAT
@HW_PATH
def show_cmd(name, fmt, hw_path):
    """One device: identity, peaks, memory hierarchy, links, efficiencies, ridge points."""
    from ..hw import flatten, get_hardware, hardware_json
    h = get_hardware(name, hw_path)
    if fmt == "json":
        click.echo(output.json_text(hardware_json(h)))
        return
    if fmt == "csv":
        click.echo(output.csv_text([{"key": k, "value": v} for k, v in flatten(h).items()]))
        return
    click.echo(f"{h.name}  [{h.id}]  {h.vendor} {h.kind}, released {h.release_date or '?'}"
               + (f", derived from {h.extends}" if h.extends else ""))
    facts = [("aliases", ", ".join(h.aliases)), ("process", h.process), ("clock", fq(h.clock_hz, "frequency") if h.clock_hz else ""),
             ("cores", f"{h.cores} {h.core_name}".strip() if h.cores else ""), ("TDP", fq(h.tdp_w, "power") if h.tdp_w else ""),
             ("source", h.source)]
    for k, v in facts:
        if v:
            click.echo(f"  {k:8} {v}")
    click.echo("\nPeak compute (dense)")
    rows = [{"unit": u, "dtype": d, "peak": _peak_text(d, f), "efficiency": f"{h.efficiency.compute_fraction(d):.0%}"}
            for u in ("matrix", "vector", TRANSCENDENTAL, FMA) for d, f in getattr(h.compute, u)]
    click.echo(output.table(rows, align_right=("peak", "efficiency")))
    click.echo("\nMemory hierarchy (innermost first)")
    rows = [{"level": m.name, "type": m.type,
             "capacity": (fq(m.capacity_bytes, "bytes", binary=True) + (f" x {m.instances}" if m.instances > 1 else "")
                          + (f" (OS: {fq(m.os_capacity_bytes, 'bytes', binary=True)})" if m.os_capacity_bytes else ""))
             if m.capacity_bytes else "-",
             "bandwidth": fq(m.bandwidth_bytes_per_s, "bandwidth"), "latency": fq(m.latency_s, "time"),
             "line": fq(m.line_bytes, "bytes") if m.line_bytes else "-", "ways": m.ways,
             "efficiency": f"{h.efficiency.memory_fraction(m.name):.0%}" if m.bandwidth_bytes_per_s else "-"} for m in h.memory]
    click.echo(output.table(rows, align_right=("capacity", "bandwidth", "latency")))
    if h.interconnect:
        click.echo("\nInterconnect (bandwidth per direction, summed over links)")
        rows = [{"link": l.name, "scope": l.scope, "bandwidth": fq(l.bandwidth_bytes_per_s_per_direction, "bandwidth"),
                 "links": l.links, "latency": fq(l.latency_s, "time"), "domain": l.domain_size} for l in h.interconnect]
        click.echo(output.table(rows, align_right=("bandwidth",)))
    click.echo(f"\nPer-op latency floor: {fq(h.efficiency.latency_s, 'time')}  (efficiency source: {h.efficiency.source})")
    e = h.efficiency
    if e.per_call_s or e.per_item_s:
        click.echo("Library costs added to each op: " + ", ".join(
            [f"{k} call {fq(t, 'time')}" for k, t in e.per_call_s] + [f"{k} item {fq(t, 'time')}" for k, t in e.per_item_s]))
    main = h.main_memory
    if main.bandwidth_bytes_per_s:
        click.echo(f"\nRidge points against {main.name} (FLOP/byte): " + ", ".join(
            f"{d} {f / main.bandwidth_bytes_per_s:.3g}" for d, f in h.compute.peaks().items()))


@hw.command("diff")
@click.argument("a")
@click.argument("b")
@FORMAT
@HW_PATH
def diff_cmd(a, b, fmt, hw_path):
    """Fields that differ between two devices (A -> B), with B/A ratios for numbers."""
    from ..hw import flatten, get_hardware
    ha, hb = get_hardware(a, hw_path), get_hardware(b, hw_path)
    fa, fb = flatten(ha), flatten(hb)
    skip = ("source", "notes", "id", "name", "aliases")
    rows = []
    for key in list(dict.fromkeys([*fa, *fb])):
        if key.split(".")[-1] in skip or fa.get(key) == fb.get(key):
            continue
        va, vb = fa.get(key), fb.get(key)
        ratio = _ratio(va, vb)
        human = fmt == "table"
        rows.append({"field": key, ha.id: _human(va) if human else va, hb.id: _human(vb) if human else vb,
                     "ratio": f"{ratio:.3g}" if ratio else ""})
    if fmt == "json":
        click.echo(output.json_text({"a": ha.id, "b": hb.id, "differences": rows}))
    elif fmt == "csv":
        click.echo(output.csv_text(rows))
    else:
        click.echo(output.table(rows) if rows else f"{ha.id} and {hb.id} have the same figures")


_DIMENSION_OF_UNIT = {"B": "bytes", "B/s": "bandwidth", "FLOP/s": "flop_rate", "s": "time", "Hz": "frequency", "W": "power"}


def _human(value):
    """'167936.0 B' (the SI document form) -> '164 KiB' for people."""
    if isinstance(value, str):
        number, _, unit = value.partition(" ")
        if unit in _DIMENSION_OF_UNIT:
            try:
                return fq(float(number), _DIMENSION_OF_UNIT[unit], binary=unit == "B")
            except ValueError:
                return value
    return "-" if value is None else value


def _ratio(va, vb):
    try:
        a, b = float(str(va).split()[0]), float(str(vb).split()[0])
        return b / a if a else None
    except (ValueError, TypeError, IndexError):
        return None


@hw.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@HW_PATH
def validate_cmd(files, hw_path, fmt):
    """Check hardware files; print every problem; exit 0 if all are valid, 1 otherwise."""
    from ..hw import validate_files
    results = validate_files(files, hw_path)
    problems = {path: [] if err is None else [line if line.startswith(path) else f"{path}: {line}"
                                              for line in str(err).splitlines()]
                for path, err in results.items()}
    bad = sum(1 for p in problems.values() if p)
    if fmt == "json":
        click.echo(output.json_text({"files": [{"file": f, "valid": not p, "problems": p} for f, p in problems.items()],
                                     "valid": len(problems) - bad, "invalid": bad}))
    elif fmt == "csv":
        click.echo(output.csv_text([{"file": f, "valid": not p, "problem": line}
                                    for f, p in problems.items() for line in (p or [""])]))
    else:
        for f, p in problems.items():
            click.echo("\n".join(f"error {line}" for line in p) if p else f"ok    {f}")
        click.echo(f"{len(problems) - bad} valid, {bad} invalid")
    sys.exit(1 if bad else 0)
