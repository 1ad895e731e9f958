"""Exact LRU stack distances in O(N log N) (arrays only).

Public wrapper: roofsim.cache.mrc; slow twin: tests/naive.py (naive_stack_distances).

Method: every line keeps one mark at the time of its last use. At time t, a line last used at p
has stack distance d = number of marks after p (the distinct lines used in between); then its
mark moves from p to t. Marks are counted with a four-level structure chosen for the memory
hierarchy of the host rather than a plain Fenwick tree over time (whose random walks over tens
of MB made it 3x slower): a bitmap (1 bit per time step), a byte count per 64-bit word, an int32
count per block of 64 words (4096 steps) and a Fenwick tree over groups of 64 blocks (2^18
steps; a few entries, in L1). Counting the marks after p is one popcount, two masked vector sums
of at most 63 contiguous counts, and, only when p's group is not the current one, one short
Fenwick walk: O(log N). Moving a mark updates the word and block counts in O(1) and the groups'
tree only when the mark changes group.
A fully associative LRU cache of C lines hits exactly the accesses with d < C (Mattson et al.),
so one histogram of d gives the miss ratio of every size.

The trace runs in stages over chunks of CHUNK accesses: (1) resolve each access's previous-use
time, (2) count the distances and move the marks, (3) add them to the histogram. Each stage is a
short loop of independent loads, so the CPU overlaps their cache misses (memory-level
parallelism) instead of serialising them behind the counting of one access. Stage 2 prefetches
the bitmap words and count blocks of the whole chunk first.

Each line's last use lives in a direct-mapped int32 array indexed by line - min(line) when the
lines span at most a few times the trace length (one load per access, no probing, and 4 bytes
per line instead of a 16-byte slot at load <= 1/2), otherwise in an open-addressing hash table
(line -> time) whose slots stage 1 prefetches for the whole chunk before resolving them. Neither
sorts the trace (np.unique). A repeat of the previous line (streams, rows wider than a line)
has distance 0 and changes no order, so it takes no time step. Before a chunk that would run
past the counters' capacity the marks are renumbered 1..distinct in order (compaction), so the
structure stays a few times the distinct-line count (cache-friendly for skewed traces) and long
traces need none of their full length. Renumbering reads each mark's rank off the bitmap
(prefix popcounts): no sort.
"""
import numpy as np
from numba import config as numba_config
from numba import njit

from .config import NJIT

EMPTY = -1
_GOLDEN = 0x9E3779B97F4A7C15


@njit(**NJIT)
def _slot(key, bits):
    return np.int64((np.uint64(key) * np.uint64(_GOLDEN)) >> np.uint64(64 - bits))


@njit(**NJIT)
def _rehash(table, bits):
    """Return the (key, last use) table re-inserted into one twice as large."""
    bits2 = bits + 1
    table2 = np.full(2 << bits2, EMPTY, np.int64)
    mask2 = (np.int64(1) << bits2) - 1
    for i in range(0, table.shape[0], 2):
        if table[i] != EMPTY:
            s = _slot(table[i], bits2)
            while table2[2 * s] != EMPTY:
                s = (s + 1) & mask2
            table2[2 * s] = table[i]
            table2[2 * s + 1] = table[i + 1]
    return table2


@njit(**NJIT)
def _popcount(x):
    # SWAR popcount of a uint64 (LLVM turns it into one instruction where the CPU has one)
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


def _make_sum_after_simd(elem_bits, acc_bits):
    """counts[start + k + 1 : start + 64].sum() for counts of elem_bits (accumulated in acc_bits),
    as LLVM vector IR: one load of 64 counts, a lane mask and an add-reduction (numba leaves SLP vectorisation off, and a loop of
    0..63 iterations is below its loop vectoriser's minimum, so the plain loop runs scalar)."""
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    i32, i64 = ir.IntType(32), ir.IntType(64)
    elem, acc = ir.IntType(elem_bits), ir.IntType(acc_bits)
    v8, v16 = ir.VectorType(elem, 64), ir.VectorType(acc, 64)

    @intrinsic
    def sum_after(typingctx, counts, start, k):
        sig = types.int64(counts, start, k)

        def codegen(context, builder, signature, args):
            arr = context.make_array(signature.args[0])(context, builder, args[0])
            ptr = builder.bitcast(builder.gep(arr.data, [args[1]], inbounds=True), v8.as_pointer())
            v = builder.zext(builder.load(ptr, align=1), v16)
            undef = ir.Constant(v16, ir.Undefined)
            kk = builder.shuffle_vector(
                builder.insert_element(undef, builder.trunc(args[2], acc), i32(0)), undef,
                ir.Constant(ir.VectorType(i32, 64), [0] * 64))
            after = builder.icmp_unsigned(">", ir.Constant(v16, list(range(64))), kk)
            v = builder.select(after, v, ir.Constant(v16, [0] * 64))
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(acc, [v16]),
                                                f"llvm.vector.reduce.add.v64i{acc_bits}")
            return builder.zext(builder.call(fn, [v]), i64)
        return sig, codegen
    return sum_after


def _sum_after_plain(counts, start, k):
    # NUMBA_DISABLE_JIT=1 (coverage runs): intrinsics cannot run as Python
    return int(counts[start + k + 1:start + 64].sum())


if numba_config.DISABLE_JIT:
    _sum_after = _sum_after32 = _sum_after_plain
else:
    _sum_after = _make_sum_after_simd(8, 16)  # uint8 word counts: at most 64 x 64 per block
    _sum_after32 = _make_sum_after_simd(32, 32)  # int32 block counts


@njit(**NJIT)
def _renumber(table, bits):
    """Renumber the live marks 1..m in time order (table only). Return m.

    A mark's new number is its rank among the marks, read off the bitmap (marks in earlier
    words + marks up to it in its word): no sort, O(table + time steps / 64).
    """
    nw = bits.shape[0]
    before = np.empty(nw, np.int64)  # marks in the words before each word
    m = 0
    for w in range(nw):
        before[w] = m
        m += _popcount(bits[w])
    for i in range(0, table.shape[0], 2):
        if table[i] != EMPTY:
            p = table[i + 1]
            w = p >> 6
            upto = ~np.uint64(0) >> np.uint64(63 - (p & 63))  # bits 0..p & 63
            table[i + 1] = before[w] + _popcount(bits[w] & upto)
    return m


@njit(**NJIT)
def _fill(bits, counts, blocks, groups, m):
    """Reset the counters to hold exactly the marks 1..m. Return m."""
    bits[:] = 0
    counts[:] = 0
    blocks[:] = 0
    groups[:] = 0
    full = m >> 6  # marks 1..m: whole words first, then the bits of a last partial word
    for w in range(full):
        bits[w] = ~np.uint64(0)
        counts[w] = 64
    bits[0] &= ~np.uint64(1)  # time 0 is never a mark
    counts[0] = 63 if full > 0 else 0
    for q in range(max(1, full << 6), m + 1):
        bits[q >> 6] |= np.uint64(1) << np.uint64(q & 63)
        counts[q >> 6] += 1
    for q in range(0, m + 1, 4096):  # per-block counts; per-group counts as a Fenwick tree
        c = min(m, q + 4095) - max(q, 1) + 1
        blocks[q >> 12] = c
        groups[(q >> 18) + 1] += c
    for i in range(1, groups.shape[0]):
        parent = i + (i & -i)
        if parent < groups.shape[0]:
            groups[parent] += groups[i]
    return m


CHUNK = 4096  # accesses per stage: resolve previous uses, then count, then scatter


def _make_prefetch():
    """prefetch(arr, i): a software prefetch of &arr[i] (llvm.prefetch, read, keep in all levels)."""
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic
    def prefetch(typingctx, arr, i):
        sig = types.void(arr, i)

        def codegen(context, builder, signature, args):
            a = context.make_array(signature.args[0])(context, builder, args[0])
            ptr = builder.bitcast(builder.gep(a.data, [args[1]]), ir.IntType(8).as_pointer())
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [ptr.type, ir.IntType(32),
                                                                ir.IntType(32), ir.IntType(32)]),
                "llvm.prefetch.p0i8")
            i32 = ir.IntType(32)
            builder.call(fn, [ptr, i32(0), i32(3), i32(1)])
            return context.get_dummy_value()
        return sig, codegen
    return prefetch


def _prefetch_plain(arr, i):
    pass


_prefetch = _prefetch_plain if numba_config.DISABLE_JIT else _make_prefetch()


@njit(**NJIT)
def _resolve_dense(lines, start, end, lo, last, prev, now, ps):
    """Stage 1 (dense line numbers): ps[j] = previous use time of access start + j (0: first use,
    -1: a repeat of the previous line); last[line - lo] becomes its new time. Return (prev, now)."""
    for t in range(start, end):
        x = lines[t] - lo
        if x == prev:
            ps[t - start] = -1
            continue
        prev = x
        now += 1
        ps[t - start] = last[x]
        last[x] = now
    return prev, now


@njit(**NJIT)
def _resolve_hash(lines, start, end, table, hbits, used, prev, now, ps):
    """Stage 1 (hash table): as _resolve_dense, prefetching every slot of the chunk first.
    Return (table, hbits, used, prev, now)."""
    for t in range(start, end):
        _prefetch(table, 2 * _slot(lines[t], hbits))
    mask = (np.int64(1) << hbits) - 1
    for t in range(start, end):
        x = lines[t]
        if x == prev:
            ps[t - start] = -1
            continue
        prev = x
        now += 1
        s = _slot(x, hbits)
        while table[2 * s] != EMPTY and table[2 * s] != x:
            s = (s + 1) & mask
        if table[2 * s] == x:
            ps[t - start] = table[2 * s + 1]
        else:
            ps[t - start] = 0
            table[2 * s] = x
            used += 1
        table[2 * s + 1] = now
        if 2 * used > (table.shape[0] >> 1):
            table = _rehash(table, hbits)
            hbits += 1
            mask = (np.int64(1) << hbits) - 1
    return table, hbits, used, prev, now


@njit(**NJIT)
def _count(ps, k, now, used, bits, counts, blocks, groups, ds):
    """Stage 2: ds[j] = stack distance of access j of the chunk (-1: first use), moving marks.
    Return (now, used)."""
    for j in range(k):
        p = ps[j]
        if p > 0:
            _prefetch(bits, p >> 6)
            _prefetch(counts, (p >> 12) << 6)
    for j in range(k):
        p = ps[j]
        if p < 0:
            ds[j] = 0
            continue
        now += 1
        if p > 0:
            w = p >> 6
            block = p >> 12
            g = p >> 18
            # marks after p: rest of p's word + of its block + of its group + later groups
            d = _popcount(bits[w] >> np.uint64(p & 63)) - 1
            d += _sum_after(counts, block << 6, w & 63)
            d += _sum_after32(blocks, g << 6, block & 63)
            gn = now >> 18
            if g != gn:  # later groups: all marks - Fenwick prefix over groups 0..g
                d += used
                i = g + 1
                while i > 0:
                    d -= groups[i]
                    i &= i - 1
                # the mark leaves group g for group gn
                i = g + 1
                while i < groups.shape[0]:
                    groups[i] -= 1
                    i += i & -i
                i = gn + 1
                while i < groups.shape[0]:
                    groups[i] += 1
                    i += i & -i
            ds[j] = d
            bits[w] &= ~(np.uint64(1) << np.uint64(p & 63))
            counts[w] -= 1
            blocks[block] -= 1
        else:
            ds[j] = -1
            used += 1
            i = (now >> 18) + 1
            while i < groups.shape[0]:
                groups[i] += 1
                i += i & -i
        bits[now >> 6] |= np.uint64(1) << np.uint64(now & 63)
        counts[now >> 6] += 1
        blocks[now >> 12] += 1
    return now, used


@njit(**NJIT)
def _scatter(ds, k, hist):
    """Stage 3: add the chunk's distances to the histogram. Return the first uses."""
    cold = 0
    for j in range(k):
        d = ds[j]
        if d < 0:
            cold += 1
        else:
            hist[d] += 1
    return cold


@njit(**NJIT)
def _renumber_dense(last, bits):
    """_renumber for the direct-mapped last-use array (0: never used)."""
    nw = bits.shape[0]
    before = np.empty(nw, np.int64)
    m = 0
    for w in range(nw):
        before[w] = m
        m += _popcount(bits[w])
    for i in range(last.shape[0]):
        p = np.int64(last[i])
        if p != 0:
            w = p >> 6
            upto = ~np.uint64(0) >> np.uint64(63 - (p & 63))
            last[i] = before[w] + _popcount(bits[w] & upto)
    return m


DENSE_SPAN = 1 << 28  # direct-mapped last-use array (int32 times) up to this many lines


@njit(**NJIT)
def stack_distance_histogram(lines, capacity):
    """Return (hist, cold, 0): hist[d] = accesses with stack distance d, cold = first uses.

    lines: int64 line numbers (>= 0). capacity: time steps between compactions (>= 4096); the
    caller sizes it to a few times the expected distinct lines; it grows when needed.
    """
    hist, cold = _stack_distances(lines, capacity, lines.shape[0], np.empty(0, np.int64))
    return hist, cold, 0


@njit(**NJIT)
def stack_distances(lines, capacity, start):
    """Return (distances, cold): the stack distance of every access from position ``start`` on
    (-1: a first use), and the first uses of the whole trace (those before ``start`` count the
    distinct lines of the prefix). Arguments as stack_distance_histogram's."""
    out = np.empty(max(lines.shape[0] - start, 0), np.int64)
    _, cold = _stack_distances(lines, capacity, start, out)
    return out, cold


@njit(**NJIT)
def _stack_distances(lines, capacity, first, out):
    """(hist, cold) of the whole trace; the distances of the accesses from ``first`` on are
    copied to ``out`` (when it has room for them)."""
    n = lines.shape[0]
    lo = np.int64(0)
    hi = np.int64(-1)
    if n > 0:
        lo = lines[0]
        hi = lines[0]
        for t in range(n):
            v = lines[t]
            lo = min(lo, v)
            hi = max(hi, v)
    span = hi - lo + 1
    dense = span <= DENSE_SPAN and span <= 4 * n + (1 << 20)
    last = np.zeros(span if dense else 0, np.int32)
    hbits = 10
    table = np.full(0 if dense else 2 << hbits, EMPTY, np.int64)
    used = 0
    cap = max(4096, capacity, span // 2 if dense else 0)
    cap = (cap + CHUNK + 4095) // 4096 * 4096
    bits = np.zeros(cap // 64 + 1, np.uint64)
    counts = np.zeros(cap // 64 + 64, np.uint8)  # + 64: whole-block loads
    blocks = np.zeros(cap // 4096 + 64, np.int32)  # + 64: whole-group loads
    groups = np.zeros(cap // 262144 + 2, np.int64)
    hist = np.zeros(1024, np.int64)
    ps = np.empty(CHUNK, np.int64)
    ds = np.empty(CHUNK, np.int64)
    cold = 0
    now = 0  # time of the latest mark (1-based)
    prev = EMPTY
    for start in range(0, n, CHUNK):
        end = min(n, start + CHUNK)
        if now + CHUNK > cap:  # compact: renumber the marks 1..used (results do not change)
            if dense:
                m = _renumber_dense(last, bits)
            else:
                m = _renumber(table, bits)
            if 2 * used + CHUNK > cap:  # keep amortised O(1): leave room after compaction
                cap = (4 * used + CHUNK) // 4096 * 4096 + 4096
                bits = np.zeros(cap // 64 + 1, np.uint64)
                counts = np.zeros(cap // 64 + 64, np.uint8)
                blocks = np.zeros(cap // 4096 + 64, np.int32)
                groups = np.zeros(cap // 262144 + 2, np.int64)
            now = _fill(bits, counts, blocks, groups, m)
        now0 = now
        if dense:
            prev, now = _resolve_dense(lines, start, end, lo, last, prev, now, ps)
        else:
            # the distinct-line count comes from _count below; _resolve_hash's is for its load factor
            table, hbits, _, prev, now = _resolve_hash(lines, start, end, table, hbits,
                                                       used, prev, now, ps)
        if used + CHUNK >= hist.shape[0]:
            bigger = np.zeros(max(2 * hist.shape[0], used + CHUNK + 1), np.int64)
            bigger[:hist.shape[0]] = hist
            hist = bigger
        _, used = _count(ps, end - start, now0, used, bits, counts, blocks, groups, ds)
        cold += _scatter(ds, end - start, hist)
        if out.shape[0] > 0 and end > first:
            for t in range(max(first, start), end):
                out[t - first] = ds[t - start]
    top = hist.shape[0]
    while top > 0 and hist[top - 1] == 0:
        top -= 1
    return hist[:top].copy(), cold
