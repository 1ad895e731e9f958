"""Kernel-level effects on top of the roofline: what decides real GPU kernel times.

The roofline (roofsim/roofline.py) prices FLOPs and bytes at achievable peak rates. A real
kernel also pays for how its work maps onto the device; each effect below is a parameter of
the hardware file (``efficiency.kernel``, specs.KernelParams), on by default for devices that
run grids of tiles over ``cores`` (KERNEL_MODEL_KINDS) and off under ``ideal``:

- GEMM tiling and wave quantisation. C is cut into tile_m x tile_n' output tiles (tile_n' =
  tile_n x 2 / bytes per element, so a tile's operand bytes per k-step do not depend on the
  dtype); ``cores x tiles_per_core`` tiles run at once (one wave) and every wave costs as much
  as a full one, so 133 tiles on 132 SMs take two waves. A grid smaller than one wave is
  split along k (split-K) into slices no shorter than ``split_k_depth``. Each tile pays a
  fixed ``tile_overhead_depth`` k-steps (prologue and epilogue), which makes shallow-k GEMMs
  slower than their FLOPs. For aligned, large GEMMs the time reduces to the roofline's.
- Bandwidth ramp. A kernel's bytes need one dependent round trip to main memory before the
  stream flows: time = bytes / (bandwidth x efficiency) + memory latency. By Little's law the
  device then has latency x bandwidth bytes in flight, so small transfers see less than peak
  bandwidth (a 1 MB copy on a 3.35 TB/s, 1 us part reaches 1 MB / 1.3 us = 0.77 TB/s).
- Multi-pass rows. A softmax or norm whose row (in fp32 working precision) does not fit one
  core's scratchpad reads its input a second time (statistics pass, then normalise pass).
- Residency. Bytes the previous op wrote, as far as they fit in the last cache, are read back
  from that cache instead of main memory.
- Fixed costs. The launch floor (``efficiency.latency``), or with ``overhead="eager"`` the
  per-op cost of an eager framework (``eager_overhead``), whichever is larger: in a stream of
  eager ops the host dispatches the next op while the device runs this one. A kernel's own
  fixed cost on the device (grid launch, first wave, tail) is in series with its time instead:
  ``efficiency.per_call`` (roofline.py adds it with the library costs of traffic.library_seconds).
- Host-timed measurements. A benchmark that reads a host clock around each call and
  synchronises after it serialises the two: every call pays the dispatch on top of its kernels
  (host_overhead), which is how published PyTorch module timings are taken.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .specs import DTYPE_BYTES, KERNEL_MODEL_KINDS, OVERHEADS, HardwareSpec
from .errors import Problem, SpecError
from .memo import ByIdentity

# Smallest tile a library uses for a short m or n: one tensor-core MMA is m16 x n8 (mma.m16n8k16).
MIN_TILE_M, MIN_TILE_N = 16.0, 8.0
# The main-memory round trip assumed when neither the level nor efficiency.kernel gives one: a
# round figure. (Fitted together with a fixed cost per kernel, efficiency.per_call, the catalogue
# GEMM sources cannot tell the two apart and put nearly all of it in the fixed cost.)
DEFAULT_MEMORY_LATENCY_S = 1e-6
NORM_KINDS = ("softmax", "layernorm", "rmsnorm")
WORKING_BYTES = DTYPE_BYTES["fp32"]   # norms and softmax keep a row in fp32 registers/shared memory


def applies(hw: HardwareSpec) -> bool:
    return hw.kind in KERNEL_MODEL_KINDS and bool(hw.cores)


def check_overhead(overhead: str) -> None:
    if overhead not in OVERHEADS:
        raise SpecError(Problem(None, "overhead", f"one of {', '.join(OVERHEADS)}", repr(overhead)))


def memory_latency(hw: HardwareSpec) -> float:
    k = hw.efficiency.kernel
    if k.memory_latency_s is not None:
        return k.memory_latency_s
    main = hw.main_memory.latency_s
    return DEFAULT_MEMORY_LATENCY_S if main is None else main


def host_overhead(hw: HardwareSpec, ops, path: str = "eager") -> float:
    """Seconds a host clock with a synchronise after every call adds to the kernels of ``ops``:
    the framework's dispatch per op execution, in series with them. ``path`` ``eager``: one eager
    op's (``eager_overhead``) per op; ``compiled``: one call of a ``torch.compile``'d function
    (``compiled_overhead``) for the whole measurement, whose ops are its kernels."""
    k = hw.efficiency.kernel
    if path == "compiled":
        return k.host_overhead_s("compiled")
    return k.eager_overhead_s * sum(op.count for op in ops)


def gemm_work(hw: HardwareSpec, m, n, k, batch, elem_bytes, balance=None):
    """Occupied tile time of a GEMM over the time of its useful FLOPs at full rate (>= ~1).

    Vectorised over ops. The library has the default tile and the tiles with either side halved
    up to ``tile_halvings`` times, and runs the one that finishes first (its shape heuristics):
    a skinny or small GEMM takes smaller tiles, so more of them fill the device. A smaller tile
    re-uses each operand byte it loads for fewer FLOPs, so it only runs at full rate while that
    re-use (2 tm tn / ((tm + tn) bytes), FLOP/B) reaches ``balance``: the FLOP/B the op's unit
    needs from the memory that feeds the cores (operand_balance); below it, proportionally slower.
    Arithmetic of one case (H100, 132 SMs, 1 tile per SM, 128 x 128 tiles, overhead depth 0, no
    halvings): m = 1408, n = 1536 -> 11 x 12 = 132 tiles = 1 wave, factor 1; m = 1408 + 1 ->
    12 x 12 = 144 tiles = 2 waves of 132 tile-slots -> 264 / (1409*1536/128^2) = 2.0x.
    """
    p = hw.efficiency.kernel
    b = np.maximum(elem_bytes, 0.25)
    tm0 = _fit_tile(m, float(p.tile_m), MIN_TILE_M)
    tn0 = _fit_tile(n, np.round(p.tile_n * 2.0 / b), MIN_TILE_N)
    if balance is None:   # the default tile of this dtype is just fed
        balance = _reuse(float(p.tile_m), np.round(p.tile_n * 2.0 / b), b)
    # every candidate tile at once, on a leading axis (balance may be [N] or, in sweeps, [P, N])
    halvings = np.arange(p.tile_halvings + 1, dtype=np.float64)
    hm, hn = (h.ravel().reshape((-1,) + (1,) * max(np.ndim(balance), np.ndim(m), 1))
              for h in np.meshgrid(halvings, halvings, indexing="ij"))
    tm, tn = np.maximum(tm0 / 2.0 ** hm, MIN_TILE_M), np.maximum(tn0 / 2.0 ** hn, MIN_TILE_N)
    rate = np.minimum(1.0, _reuse(tm, tn, b) / balance)
    return (_tile_work(hw, m, n, k, batch, tm, tn) / rate).min(axis=0)


def _reuse(tm, tn, elem_bytes):
    """FLOPs a tm x tn tile does per operand byte it loads (2 tm tn per k-step over (tm + tn) elements)."""
    return 2.0 * tm * tn / ((tm + tn) * elem_bytes)


def operand_balance(hw: HardwareSpec, peak_flop_per_s, peak16=None):
    """FLOP per operand byte a tile needs to keep a unit of ``peak_flop_per_s`` busy on ``hw``.

    The bandwidth that feeds the cores (L2 and shared memory, which few spec sheets give) is
    taken as just enough for the default 16-bit tile at the 16-bit matrix peak (libraries size
    their default tile to keep the tensor cores fed): feed = peak16 / reuse(tile_m, tile_n, 2 B).
    A slower unit (fp32 on CUDA cores) needs proportionally less re-use, so small tiles cost it
    little; a device without 16-bit matrix units takes each dtype's default tile as balanced
    (None). Arithmetic (V100: 125 TFLOP/s fp16, 128 x 128): feed = 125e12 / 64 = 1.95 TB/s
    (Jia et al. 2018 measured 2.16 TB/s of L2 bandwidth); fp32 at 15.7 TFLOP/s needs
    15.7e12 / 1.95e12 = 8.0 FLOP/B, which a 32 x 32 fp32 tile (8.0) reaches.
    A spec may set the feed itself (``efficiency.kernel.feed_bandwidth``): a design that halves
    its tensor units but keeps the H100's caches keeps the H100's feed, where the derivation
    would halve it and make a batch-1 GEMV compute-bound behind a doubled HBM.
    """
    p = hw.efficiency.kernel
    if p.feed_bandwidth_bytes_per_s is not None:
        return np.asarray(peak_flop_per_s, dtype=np.float64) / p.feed_bandwidth_bytes_per_s
    if peak16 is None:   # a sweep passes the 16-bit peak of each design point
        peak16 = peak16_of(hw)
    if not np.all(peak16):
        return None
    feed = peak16 / _reuse(float(p.tile_m), float(p.tile_n), 2.0)
    return np.asarray(peak_flop_per_s, dtype=np.float64) / feed


def peak16_of(hw: HardwareSpec) -> float:
    """The 16-bit (fp16 or bf16) matrix peak that sets the operand feed; 0 when there is none."""
    return max(hw.compute.get("matrix", "fp16") or 0.0, hw.compute.get("matrix", "bf16") or 0.0)


def _tile_work(hw: HardwareSpec, m, n, k, batch, tm, tn):
    """Occupied / useful FLOPs of one tile shape: waves of cores x tiles_per_core tiles, each a
    full tm x tn x (k / split + tile_overhead_depth); split-K when the grid is under one wave."""
    p = hw.efficiency.kernel
    slots = float(hw.cores * p.tiles_per_core)
    tiles = batch * np.ceil(m / tm) * np.ceil(n / tn)
    if p.split_k_depth > 0:   # 0 turns split-K off
        depth_cap = np.maximum(np.floor(k / p.split_k_depth), 1.0)
        split = np.where(tiles < slots, np.clip(np.floor(slots / np.maximum(tiles, 1.0)), 1.0, depth_cap), 1.0)
    else:
        split = np.ones_like(tiles)
    waves = np.ceil(tiles * split / slots)
    occupied = waves * slots * 2.0 * tm * tn * (k / split + p.tile_overhead_depth)
    useful = 2.0 * m * n * k * batch
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(useful > 0, occupied / useful, 1.0)


def _fit_tile(extent, tile, smallest):
    """A dimension shorter than the tile gets the next power of two >= it (libraries keep narrow
    tiles for skinny GEMMs), never below one MMA."""
    fitted = np.exp2(np.ceil(np.log2(np.maximum(extent, 1.0))))
    return np.maximum(np.minimum(tile, fitted), smallest)


def row_passes(hw: HardwareSpec, cols: float) -> int:
    """Reads of the input a softmax/norm makes: 1 when a row fits one core's scratchpad, else 2."""
    pad = _scratchpad_bytes(hw)
    return 1 if not pad else int(passes_with(cols, pad))


def passes_with(cols: float, scratchpad_bytes):
    """1 or 2 reads of a row of ``cols`` elements, for a scratchpad size (or an array of them)."""
    return np.where(cols * WORKING_BYTES <= scratchpad_bytes, 1, 2)


@dataclass(frozen=True)
class KernelTerms:
    """Per-device adjustments, [H, N] each: multiply compute, add to main memory bytes/time."""
    compute_factor: np.ndarray
    extra_main_bytes: np.ndarray
    resident_bytes: np.ndarray     # bytes moved from main memory to the last cache (residency)
    latency_s: np.ndarray          # added to the main-memory term of every op with traffic
    floor_s: np.ndarray            # [H]


def kernel_terms(hws, ops, oa, overhead: str = "kernel") -> KernelTerms:
    """The kernel model's adjustments for every (device, op). Per-op facts are gathered once, so
    the per-device work is numpy over ops (sweeps evaluate thousands of devices)."""
    check_overhead(overhead)
    H, N = len(hws), len(ops)
    factor, extra, resident = np.ones((H, N)), np.zeros((H, N)), np.zeros((H, N))
    lat, floor = np.zeros((H, N)), np.zeros(H)
    # the per-op facts depend on the ops alone: once per workload (its OpArrays is shared)
    dense, norm, cols, row_input, written, reads = _OP_FACTS.get(oa, lambda: _op_facts(ops, oa))
    for i, h in enumerate(hws):
        floor[i] = h.efficiency.latency_s
        if overhead == "eager":
            floor[i] = max(floor[i], h.efficiency.kernel.eager_overhead_s)
        if not applies(h):
            continue
        if dense.any():
            balance = operand_balance(h, _unit_peaks(h, [op for op, d in zip(ops, dense) if d]))
            factor[i, dense] = gemm_work(h, oa.m[dense], oa.n[dense], oa.k[dense], oa.batch[dense],
                                         oa.a_bytes[dense], balance)
        lat[i, :] = memory_latency(h)
        pad = _scratchpad_bytes(h)
        if norm.any() and pad:
            extra[i] = np.where(norm & (passes_with(cols, pad) > 1), row_input, 0.0)
        cache = _last_cache_bytes(h)
        if h.efficiency.kernel.residency and cache:
            resident[i] = np.where(written <= cache, np.minimum(written, reads), 0.0)
    return KernelTerms(factor, extra, resident, lat, floor)


def _unit_peaks(h: HardwareSpec, ops) -> np.ndarray:
    """[N] peak FLOP/s of the unit each op's largest FLOP entry runs on."""
    out, seen = np.zeros(len(ops)), {}
    for j, op in enumerate(ops):
        f = max(op.flops, key=lambda f: f.flops, default=None)
        if f is not None:
            key = (f.dtype, f.unit)
            if key not in seen:
                seen[key] = h.compute.resolve(*key).flop_per_s
            out[j] = seen[key]
    return out


_OP_FACTS = ByIdentity()


def _op_facts(ops, oa) -> tuple:
    """(dense, norm, row elements, row input bytes, bytes the previous op wrote, activation bytes
    read) per op: what kernel_terms needs of the ops."""
    norm = np.array([op.kind in NORM_KINDS for op in ops], bool)
    cols = np.array([float(dict(op.shape).get("cols", 0)) if n else 0.0 for op, n in zip(ops, norm)])
    row_input = np.array([op.reads[0].bytes if n else 0.0 for op, n in zip(ops, norm)])
    return (oa.pattern == 0, norm, cols, row_input, *_sequence(ops))


def _scratchpad_bytes(h: HardwareSpec) -> float:
    pads = [m.capacity_bytes for m in h.memory if m.type in ("scratchpad", "register") and m.capacity_bytes]
    return max(pads) if pads else 0.0


def _last_cache_bytes(h: HardwareSpec) -> float:
    caches = [m for m in h.memory[:h.main_index] if m.type == "cache" and m.total_capacity_bytes]
    return caches[-1].total_capacity_bytes if caches else 0.0


def _sequence(ops):
    """[N] bytes the previous op wrote, and [N] activation bytes each op reads (0 where residency
    cannot apply: the first op, and around communication or explicit-bytes ops)."""
    written, reads = np.zeros(len(ops)), np.zeros(len(ops))
    for j in range(1, len(ops)):
        prev, op = ops[j - 1], ops[j]
        if prev.access.kind == "comm" or op.access.kind in ("comm", "explicit"):
            continue
        written[j], reads[j] = prev.write_bytes, _activation_reads(op)
    return written, reads


def resident_with(ops, capacity):
    """Bytes of each op's reads served by a last cache of ``capacity`` bytes because the previous
    op wrote them there; [P] capacities -> [P, N]."""
    written, reads = _sequence(ops)
    fits = written <= np.asarray(capacity, dtype=np.float64)[..., None]
    return np.where(fits, np.minimum(written, reads), 0.0)


def _activation_reads(op) -> float:
    return sum(t.bytes for t in op.reads if t.role == "activation")
