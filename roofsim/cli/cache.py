"""`roofsim cache simulate|mrc`: the cache model on .npy/.npz traces of byte addresses.

Thin: parsing and printing only; the work is in roofsim.cache. A .npy trace is memory-mapped and
fed in chunks, so a trace larger than memory works (chunked results equal one pass).
"""
from __future__ import annotations

import time

import click

from . import output
from .common import OUTPUT, emit

CHUNK = 1 << 22  # accesses per chunk fed to the simulator

FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
                      show_default=True, help="Output format (csv and json: plain numbers, units in the names).")
TRACE = click.option("--trace", "trace_path", required=True, metavar="FILE",
                     help="Byte addresses: a 1-D integer .npy (memory-mapped), or a .npz holding "
                          "'addrs' (or one array).")
_LEVEL_KEYS = ("name", "capacity_bytes", "ways", "line_bytes", "policy", "accesses", "hits",
               "misses", "miss_ratio", "evictions", "writebacks", "bytes_from_next",
               "bytes_to_next", "invalidations")


@click.group("cache")
def cache():
    """Cache model: set-associative simulation and miss-ratio curves of address traces."""


@cache.command("simulate")
@TRACE
@click.option("--writes", "writes_path", metavar="FILE", help=".npy write mask (bool or 0/1), one per access; "
              "default: a 'writes' array in a .npz trace, else all reads.")
@click.option("--sizes", "sizes_path", metavar="FILE", help=".npy of access sizes in bytes; default: a 'sizes' "
              "array in a .npz trace, else 1 each.")
@click.option("--level", "levels", multiple=True, required=True, metavar="SPEC",
              help="CAPACITY,WAYS,LINE,POLICY[,wb|wt[,wa|nwa]], innermost first, e.g. "
                   "32KiB,8,64,lru. Policies: lru fifo random plru. Repeatable. A level far larger "
                   "than the trace costs memory only for the sets the trace touches.")
@click.option("--inclusive", is_flag=True, help="Outer evictions back-invalidate inner copies.")
@click.option("--seed", default=0, show_default=True, help="Seed of the random policy.")
@FORMAT
@OUTPUT
def simulate_cmd(trace_path, writes_path, sizes_path, levels, inclusive, seed, fmt, output_path):
    """Simulate a cache hierarchy on a trace; print per-level counts."""
    import numpy as np

    from ..cache.config import CacheLevelConfig
    from ..cache.simulator import Hierarchy
    from ..cache.tracefile import read_sizes, read_trace, read_writes, trace_members

    configs = [CacheLevelConfig.parse(text, f"L{i + 1}") for i, text in enumerate(levels)]
    trace = read_trace(trace_path)
    n = trace.shape[0]
    bundled = trace_members(trace_path)
    writes = read_writes(writes_path or trace_path, n) if writes_path or "writes" in bundled else None
    sizes = read_sizes(sizes_path or trace_path, n) if sizes_path or "sizes" in bundled else None
    h = Hierarchy(configs, inclusive=inclusive, seed=seed)
    highest = int(trace.max()) if n else 0  # (also reads the mapped file in before the clock)
    start = time.perf_counter()
    h.load_kernels(highest, spanning=sizes is not None)  # one-time, timed apart
    load_seconds = time.perf_counter() - start
    start, cpu_start = time.perf_counter(), time.process_time()
    buf = np.empty(min(n, CHUNK), np.int64)  # one writable chunk: a single copy out of the map
    for i in range(0, n, CHUNK):
        part = slice(i, i + CHUNK)
        chunk = buf[:min(CHUNK, n - i)]
        np.copyto(chunk, trace[part], casting="unsafe")  # values checked by read_trace
        h.feed(chunk, None if sizes is None else np.ascontiguousarray(sizes[part]),
               None if writes is None else np.ascontiguousarray(writes[part]))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    rate = n / seconds if seconds > 0 else None
    rows = [{k: getattr(r, k) for k in _LEVEL_KEYS} for r in h.results()]
    if fmt == "json":
        # cpu_seconds: the process's own CPU time over the same span; on a shared machine the
        # wall-clock seconds also hold the time others ran, so the two together tell load apart
        emit(output.json_text({"levels": rows, "accesses": n, "seconds": seconds,
                               "cpu_seconds": cpu_seconds, "accesses_per_s": rate,
                               "kernel_load_seconds": load_seconds}), output_path)
    elif fmt == "csv":
        emit(output.csv_text(rows, list(_LEVEL_KEYS)), output_path)
    else:
        human = [{"level": r["name"], "capacity": _size(r["capacity_bytes"]), "ways": r["ways"],
                  "line": r["line_bytes"], "policy": r["policy"], "accesses": r["accesses"],
                  "hits": r["hits"], "misses": r["misses"], "miss %": f"{100 * r['miss_ratio']:.2f}",
                  "evictions": r["evictions"], "writebacks": r["writebacks"],
                  "bytes in": r["bytes_from_next"], "bytes out": r["bytes_to_next"]} for r in rows]
        numbers = ("capacity", "ways", "line", "accesses", "hits", "misses", "miss %", "evictions",
                   "writebacks", "bytes in", "bytes out")
        speed = f" ({rate / 1e6:.1f} M accesses/s)" if rate else ""
        emit("\n".join([output.table(human, align_right=numbers),
                        f"{n} accesses in {seconds:.3f} s{speed}; kernel load {load_seconds:.2f} s apart"]),
             output_path)


@cache.command("mrc")
@TRACE
@click.option("--line", "line_bytes", default=64, show_default=True, help="Line size in bytes.")
@click.option("--sample-rate", default=1.0, show_default=True,
              help="SHARDS spatial sampling rate in (0, 1]; 1 is exact.")
@click.option("--seed", default=0, show_default=True, help="Seed of the sampling hash.")
@FORMAT
@OUTPUT
def mrc_cmd(trace_path, line_bytes, sample_rate, seed, fmt, output_path):
    """Miss-ratio curve of fully associative LRU caches (powers of two up to the footprint)."""
    import numpy as np

    from ..cache.mrc import mrc, preload
    from ..cache.tracefile import read_trace

    trace = np.ascontiguousarray(read_trace(trace_path))
    start = time.perf_counter()
    preload()  # compile or load the kernel: one-time, timed apart
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    curve = mrc(trace, line_bytes, sample_rate=sample_rate, seed=seed)
    seconds = time.perf_counter() - start
    sizes = curve.default_sizes()
    ratios = curve.miss_ratio(sizes)
    rate = trace.shape[0] / seconds if seconds > 0 else None
    points = [{"capacity_bytes": int(c), "miss_ratio": float(r), "misses": float(r) * curve.accesses}
              for c, r in zip(sizes, ratios)]
    if fmt == "json":
        emit(output.json_text({"line_bytes": curve.line_bytes, "accesses": curve.accesses,
                               "sample_rate": curve.sample_rate, "sampled": curve.sampled,
                               "footprint_bytes": curve.footprint_bytes(), "points": points,
                               "seconds": seconds, "accesses_per_s": rate,
                               "kernel_load_seconds": load_seconds}), output_path)
    elif fmt == "csv":
        emit(output.csv_text(points, ["capacity_bytes", "miss_ratio", "misses"]), output_path)
    else:
        human = [{"capacity": _size(p["capacity_bytes"]), "miss ratio": f"{p['miss_ratio']:.4f}",
                  "misses": f"{p['misses']:.0f}"} for p in points]
        speed = f" ({rate / 1e6:.1f} M accesses/s)" if rate else ""
        emit("\n".join([output.table(human, align_right=("capacity", "miss ratio", "misses")),
                        f"{curve.accesses} line accesses, sample rate {curve.sample_rate:g}, "
                        f"{seconds:.3f} s{speed}; kernel load {load_seconds:.2f} s apart"]), output_path)


def _size(n: int) -> str:
    for unit, f in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= f and n % f == 0:
            return f"{n // f} {unit}"
    return f"{n} B"
