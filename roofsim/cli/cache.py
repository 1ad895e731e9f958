"""`roofsim cache simulate|mrc`: the cache model on .npy traces of uint64 byte addresses.

Thin: parsing and printing only; the work is in roofsim.cache. Traces are memory-mapped and fed
in chunks, so a trace larger than memory works (chunked results equal one pass).
"""
from __future__ import annotations

import json
import os
import time

import click

from ..errors import CacheConfigError

CHUNK = 1 << 22  # accesses per chunk fed to the simulator


def _load(path: str, what: str, mmap: bool = True):
    import numpy as np

    if not os.path.isfile(path):
        raise CacheConfigError(f"{path}: no such {what} file")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise CacheConfigError(f"{path}: not a readable .npy file ({e})") from None


def _load_trace(path: str):
    import numpy as np

    a = _load(path, "trace")
    if a.dtype != np.uint64 or a.ndim != 1:
        raise CacheConfigError(f"{path}: expected a 1-D .npy of uint64 byte addresses, found "
                               f"{a.ndim}-D {a.dtype}")
    return a


FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                      show_default=True, help="Output format.")


@click.group("cache")
def cache():
    """Cache model: set-associative simulation and miss-ratio curves of address traces."""


@cache.command("simulate")
@click.option("--trace", "trace_path", required=True, help=".npy of uint64 byte addresses.")
@click.option("--writes", "writes_path", help=".npy write mask (bool or 0/1), one per access.")
@click.option("--sizes", "sizes_path", help=".npy of access sizes in bytes (default 1 each).")
@click.option("--level", "levels", multiple=True, required=True, metavar="SPEC",
              help="CAPACITY,WAYS,LINE,POLICY[,wb|wt[,wa|nwa]], innermost first, e.g. "
                   "32KiB,8,64,lru. Policies: lru fifo random plru. Repeatable.")
@click.option("--inclusive", is_flag=True, help="Outer evictions back-invalidate inner copies.")
@click.option("--seed", default=0, show_default=True, help="Seed of the random policy.")
@FORMAT
def simulate_cmd(trace_path, writes_path, sizes_path, levels, inclusive, seed, fmt):
    """Simulate a cache hierarchy on a trace; print per-level counts."""
    import numpy as np

    from ..cache.config import CacheLevelConfig
    from ..cache.simulator import Hierarchy

    configs = [CacheLevelConfig.parse(text, f"L{i + 1}") for i, text in enumerate(levels)]
    trace = _load_trace(trace_path)
    writes = _load(writes_path, "writes") if writes_path else None
    sizes = _load(sizes_path, "sizes") if sizes_path else None
    for name, extra in (("writes", writes), ("sizes", sizes)):
        if extra is not None and extra.shape != trace.shape:
            raise CacheConfigError(f"--{name}: expected {trace.shape[0]} entries like the trace, "
                                   f"found shape {extra.shape}")
    h = Hierarchy(configs, inclusive=inclusive, seed=seed)
    h.feed(np.zeros(1, np.uint64))  # compile or load the kernel outside the timing
    h.reset()
    start = time.perf_counter()
    for i in range(0, trace.shape[0], CHUNK):
        part = slice(i, i + CHUNK)
        h.feed(np.ascontiguousarray(trace[part]),
               None if sizes is None else np.ascontiguousarray(sizes[part]),
               None if writes is None else np.ascontiguousarray(writes[part]))
    seconds = time.perf_counter() - start
    results = h.results()
    rate = trace.shape[0] / seconds if seconds > 0 else float("inf")
    if fmt == "json":
        keys = ("name", "capacity_bytes", "ways", "line_bytes", "policy", "accesses", "hits",
                "misses", "evictions", "writebacks", "bytes_from_next", "bytes_to_next",
                "invalidations")
        doc = {"levels": [{k: getattr(r, k) for k in keys} for r in results],
               "seconds": seconds, "accesses_per_s": rate}
        click.echo(json.dumps(doc, indent=2))
        return
    head = ("level", "capacity", "ways", "line", "policy", "accesses", "hits", "misses",
            "miss %", "evictions", "writebacks", "bytes in", "bytes out")
    rows = [(r.name, _size(r.capacity_bytes), r.ways, r.line_bytes, r.policy, r.accesses, r.hits,
             r.misses, f"{100 * r.miss_ratio:.2f}", r.evictions, r.writebacks, r.bytes_from_next,
             r.bytes_to_next) for r in results]
    click.echo(_table(head, rows))
    click.echo(f"{trace.shape[0]} accesses in {seconds:.3f} s ({rate / 1e6:.1f} M accesses/s)")


@cache.command("mrc")
@click.option("--trace", "trace_path", required=True, help=".npy of uint64 byte addresses.")
@click.option("--line", "line_bytes", default=64, show_default=True, help="Line size in bytes.")
@click.option("--sample-rate", default=1.0, show_default=True,
              help="SHARDS spatial sampling rate in (0, 1]; 1 is exact.")
@click.option("--seed", default=0, show_default=True, help="Seed of the sampling hash.")
@FORMAT
def mrc_cmd(trace_path, line_bytes, sample_rate, seed, fmt):
    """Miss-ratio curve of fully associative LRU caches (powers of two up to the footprint)."""
    import numpy as np

    from ..cache.mrc import mrc

    trace = np.ascontiguousarray(_load_trace(trace_path))
    mrc(np.zeros(1, np.uint64), line_bytes)  # compile or load the kernel outside the timing
    start = time.perf_counter()
    curve = mrc(trace, line_bytes, sample_rate=sample_rate, seed=seed)
    seconds = time.perf_counter() - start
    sizes = curve.default_sizes()
    ratios = curve.miss_ratio(sizes)
    rate = trace.shape[0] / seconds if seconds > 0 else float("inf")
    if fmt == "json":
        doc = {"line_bytes": curve.line_bytes, "accesses": curve.accesses,
               "sample_rate": curve.sample_rate, "footprint_bytes": curve.footprint_bytes(),
               "points": [{"capacity_bytes": int(c), "miss_ratio": float(r),
                           "misses": float(r) * curve.accesses} for c, r in zip(sizes, ratios)],
               "seconds": seconds, "accesses_per_s": rate}
        click.echo(json.dumps(doc, indent=2))
        return
    rows = [(_size(int(c)), f"{r:.4f}", f"{r * curve.accesses:.0f}") for c, r in zip(sizes, ratios)]
    click.echo(_table(("capacity", "miss ratio", "misses"), rows))
    click.echo(f"{curve.accesses} line accesses, sample rate {curve.sample_rate:g}, "
               f"{seconds:.3f} s ({rate / 1e6:.1f} M accesses/s)")


def _size(n: int) -> str:
    for unit, f in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= f and n % f == 0:
            return f"{n // f} {unit}"
    return f"{n} B"


def _table(head, rows) -> str:
    cols = list(zip(head, *rows))
    widths = [max(len(str(x)) for x in c) for c in cols]
    lines = ["  ".join(str(x).rjust(w) for x, w in zip(r, widths)) for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
