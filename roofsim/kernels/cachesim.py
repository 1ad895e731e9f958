"""Set-associative multi-level cache simulation kernel (arrays only).

The public wrapper is roofsim.cache.simulator.Hierarchy; tests/naive.py holds its slow twin.
All state (tags, LRU/FIFO stamps, dirty bits, tree-PLRU bits, RNG states, clocks, counters) is in
arrays owned by the caller, so feeding a trace in chunks gives exactly the result of one pass.

Semantics (the naive twin implements the same, in the same order):
- A request is (level, start byte, bytes, is_write, full) and lies inside one line of its level.
- Hit: LRU refreshes the stamp (stores too), PLRU touches the tree, FIFO/random change nothing.
  A write marks the line dirty (write-back) or is forwarded to the next level (write-through).
- Miss of a write with no-write-allocate: forwarded to the next level, nothing allocated.
- Other misses: pick a victim (the lowest invalid way, else the policy's), evict it (inclusive:
  first back-invalidate the inner levels' copies, whose dirtiness merges into the victim), install
  the new line, then issue to the next level, in this order: the victim's write-back, the fetch of
  the line (skipped for a full-line write such as a write-back of an equal-sized line), the
  forwarded write (write-through). Each of those is served completely (depth first) before the
  next, which is what the explicit stack below does.
- The next level of the outermost cache is memory: its traffic is counted, not simulated.
"""
import numpy as np
from numba import config as numba_config
from numba import njit

from .config import NJIT

LRU, FIFO, RANDOM, PLRU = 0, 1, 2, 3
from .cachesim_layout import (  # noqa: E402  (the layout of the state arrays, numba-free)
    DONE, EMPTY_KEY, FAST_CHUNK, N_PARAMS, NARROW_LINES, NEED_ROOM, NEED_WIDE, P_CAP, P_DIR_MASK,
    P_DIR_OFF, P_MASK, P_OFFSET, P_POLICY, P_ROOM, P_SETS, P_SHIFT, P_USED, P_WAYS,
    P_WRITE_ALLOCATE, P_WRITE_BACK)
# columns of the int64 counters array, one row per level
(C_ACCESSES, C_HITS, C_MISSES, C_EVICTIONS, C_WRITEBACKS,
 C_BYTES_FROM_NEXT, C_BYTES_TO_NEXT, C_INVALIDATIONS) = range(8)
N_COUNTERS = 8
# Pending byte ranges; the bound is derived in simulate's docstring.
STACK = 64
INVALID = -1


@njit(**NJIT)
def xorshift64(x):
    """One xorshift64 step (13, 7, 17) on a uint64 state; tests/naive.py mirrors it."""
    x ^= x << np.uint64(13)
    x ^= x >> np.uint64(7)
    x ^= x << np.uint64(17)
    return x


@njit(**NJIT)
def _plru_touch(bits, ways, way):
    """Set every bit on the path to `way` to point away from it (bits[node], root is node 1)."""
    node = 1
    lo = 0
    half = ways >> 1
    while half >= 1:
        if way < lo + half:
            bits[node] = 1
            node = 2 * node
        else:
            bits[node] = 0
            node = 2 * node + 1
            lo += half
        half >>= 1


@njit(**NJIT)
def plru_victim(bits, ways):
    """Follow the tree bits from the root (node 1) to a leaf; bits[node] = 1 means go right."""
    node = 1
    lo = 0
    half = ways >> 1
    while half >= 1:
        if bits[node] == 0:
            node = 2 * node
        else:
            node = 2 * node + 1
            lo += half
        half >>= 1
    return lo


@njit(inline="always", **NJIT)
def _dir_slot(params, level, set_index):
    """Home slot of a set index in its level's table (multiplicative hash, top bits)."""
    mask = np.uint64(params[level, P_DIR_MASK])
    return ((np.uint64(set_index) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(29)) & mask


@njit(inline="always", **NJIT)
def _sparse_base(params, level, set_index, table, insert):
    """First slot of set `set_index` at a sparse level (linear probing over (key, number)
    pairs, side by side so a lookup costs one cache line); a new set gets the next compact
    number when `insert`, else -1 when absent."""
    off = params[level, P_DIR_OFF]
    mask = np.uint64(params[level, P_DIR_MASK])
    i = _dir_slot(params, level, set_index)
    while True:
        at = off + 2 * np.int64(i)
        key = table[at]
        if key == set_index:
            return params[level, P_OFFSET] + table[at + 1] * params[level, P_WAYS]
        if key == EMPTY_KEY:
            if not insert:
                return np.int64(-1)
            number = params[level, P_USED]
            params[level, P_USED] = number + 1
            table[at] = set_index
            table[at + 1] = number
            return params[level, P_OFFSET] + number * params[level, P_WAYS]
        i = (i + np.uint64(1)) & mask


@njit(**NJIT)
def rehash(old, new):
    """Insert every (key, number) pair of one level's old table into its empty, larger new one."""
    mask = np.uint64(new.shape[0] // 2 - 1)
    for j in range(0, old.shape[0], 2):
        key = old[j]
        if key == EMPTY_KEY:
            continue
        i = ((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(29)) & mask
        while new[2 * np.int64(i)] != EMPTY_KEY:
            i = (i + np.uint64(1)) & mask
        new[2 * np.int64(i)] = key
        new[2 * np.int64(i) + 1] = old[j + 1]


@njit(inline="always", **NJIT)
def _room_low(params):
    """True when some sparse level could run out of allocated sets in the next step."""
    for level in range(params.shape[0]):
        if params[level, P_DIR_MASK] >= 0:
            free = params[level, P_CAP] - params[level, P_USED]
            if free < min(params[level, P_ROOM], params[level, P_SETS] - params[level, P_USED]):
                return True
    return False


# The hot loop below is one function on purpose: numba increfs/decrefs an array passed to a
# helper (atomic operations), which made a helper-based version ~10x slower; even a push helper cost
# 20%. Only the rare paths (PLRU, random, back-invalidation) call helpers taking arrays.
@njit(**NJIT)
def simulate(addrs, sizes, writes, params, tags, plru, rng, counters, inclusive, table):
    """Run a trace chunk through the hierarchy, updating the state arrays in place; return the
    number of trace accesses served (fewer than given when a sparse level needs more room).

    addrs int64 byte addresses; sizes int64 (empty: 1 byte each); writes uint8 (empty: reads).
    tags holds (line << 1 | dirty) per way, INVALID (-1) when empty. LRU and FIFO sets are kept
    in order (most recent / newest first, invalid ways last), so the victim is the last way and
    no timestamps are needed; random and PLRU sets keep lines where they were installed.

    A stack entry is a byte range [start, start+nbytes) at one level; it is served one line at a
    time (the rest is pushed back first), so each level holds at most 3 pending entries
    (write-back, fetch, forwarded write) plus one remainder: 4 x 8 levels + 3 < STACK.
    """
    nlev = params.shape[0]
    st = np.empty((STACK, 5), np.int64)
    has_sizes = sizes.shape[0] > 0
    has_writes = writes.shape[0] > 0
    write_back0 = params[0, P_WRITE_BACK]
    any_sparse = False
    for level in range(nlev):
        any_sparse |= params[level, P_DIR_MASK] >= 0
    last_slot = -1  # level-0 slot of the previous request: touching it again changes no order
    for k in range(addrs.shape[0]):
        if any_sparse and _room_low(params):
            return k
        start = addrs[k]
        nbytes = sizes[k] if has_sizes else np.int64(1)
        write = np.int64(writes[k]) if has_writes else np.int64(0)
        # fast path: same level-0 line as the previous request (streams, multi-byte rows)
        if last_slot >= 0 and (write == 0 or write_back0 != 0):
            line = start >> params[0, P_SHIFT]
            if (tags[last_slot] >> 1) == line and (start + nbytes - 1) >> params[0, P_SHIFT] == line:
                counters[0, C_ACCESSES] += 1
                counters[0, C_HITS] += 1
                tags[last_slot] |= write
                continue
        # The trace's request is served from locals; only outer requests go through the stack.
        level = np.int64(0)
        full = np.int64(0)
        sp = 0
        pending = True
        while True:
            if not pending:
                if sp == 0:
                    break
                sp -= 1
                level = st[sp, 0]
                start = st[sp, 1]
                nbytes = st[sp, 2]
                write = st[sp, 3]
                full = st[sp, 4]
            pending = False
            shift = params[level, P_SHIFT]
            line = start >> shift
            line_bytes = np.int64(1) << shift
            line_end = (line + 1) << shift
            if start + nbytes > line_end:  # spans lines: serve this one, keep the rest
                st[sp, 0] = level
                st[sp, 1] = line_end
                st[sp, 2] = start + nbytes - line_end
                st[sp, 3] = write
                st[sp, 4] = full
                sp += 1
                nbytes = line_end - start
            if full != 0 and nbytes != line_bytes:
                full = 0

            ways = params[level, P_WAYS]
            policy = params[level, P_POLICY]
            write_back = params[level, P_WRITE_BACK]
            mask = params[level, P_MASK]
            set_index = line & mask if mask >= 0 else line % params[level, P_SETS]
            if params[level, P_DIR_MASK] >= 0:
                base = _sparse_base(params, level, set_index, table, True)
            else:
                base = params[level, P_OFFSET] + set_index * ways
            counters[level, C_ACCESSES] += 1
            dirty_bit = 1 if (write != 0 and write_back != 0) else 0

            hit = -1
            for j in range(ways):
                if (tags[base + j] >> 1) == line:
                    hit = j
                    break
            if hit >= 0:
                counters[level, C_HITS] += 1
                entry = tags[base + hit] | dirty_bit
                if policy == LRU:  # move to front
                    for j in range(hit, 0, -1):
                        tags[base + j] = tags[base + j - 1]
                    tags[base] = entry
                    hit = 0
                else:
                    tags[base + hit] = entry
                    if policy == PLRU:
                        _plru_touch(plru[base:base + ways], ways, hit)
                if level == 0:
                    last_slot = base + hit
                if write != 0 and write_back == 0:
                    counters[level, C_BYTES_TO_NEXT] += nbytes
                    if level + 1 < nlev:  # memory is counted, not simulated
                        st[sp, 0] = level + 1
                        st[sp, 1] = start
                        st[sp, 2] = nbytes
                        st[sp, 3] = 1
                        st[sp, 4] = full
                        sp += 1
                continue

            counters[level, C_MISSES] += 1
            if write != 0 and params[level, P_WRITE_ALLOCATE] == 0:
                counters[level, C_BYTES_TO_NEXT] += nbytes
                if level + 1 < nlev:  # memory is counted, not simulated
                    st[sp, 0] = level + 1
                    st[sp, 1] = start
                    st[sp, 2] = nbytes
                    st[sp, 3] = 1
                    st[sp, 4] = full
                    sp += 1
                continue

            entry = (line << 1) | dirty_bit
            if policy == LRU or policy == FIFO:
                # the victim is the last way (the LRU or oldest line, or an invalid way)
                old = tags[base + ways - 1]
                for j in range(ways - 1, 0, -1):
                    tags[base + j] = tags[base + j - 1]
                tags[base] = entry
                slot = base
            else:
                victim = -1
                for j in range(ways):
                    if tags[base + j] == INVALID:
                        victim = j
                        break
                if victim < 0:
                    if policy == RANDOM:
                        x = xorshift64(rng[level])
                        rng[level] = x
                        victim = np.int64(x % np.uint64(ways))
                    else:
                        victim = plru_victim(plru[base:base + ways], ways)
                old = tags[base + victim]
                tags[base + victim] = entry
                if policy == PLRU:
                    _plru_touch(plru[base:base + ways], ways, victim)
                slot = base + victim
            if level == 0:
                last_slot = slot

            send_back = 0
            if old != INVALID:
                counters[level, C_EVICTIONS] += 1
                send_back = old & 1
                old >>= 1
                if inclusive != 0 and level > 0:
                    # inner copies go too; their dirty data leaves with this victim
                    send_back |= _back_invalidate(level, old, params, tags, counters,
                                                  table)
                if send_back != 0:
                    counters[level, C_WRITEBACKS] += 1
                    counters[level, C_BYTES_TO_NEXT] += line_bytes

            # pushed in reverse so that they are served: write-back, fetch, forwarded write
            if write != 0 and write_back == 0:
                counters[level, C_BYTES_TO_NEXT] += nbytes
                if level + 1 < nlev:  # memory is counted, not simulated
                    st[sp, 0] = level + 1
                    st[sp, 1] = start
                    st[sp, 2] = nbytes
                    st[sp, 3] = 1
                    st[sp, 4] = full
                    sp += 1
            if full == 0:
                counters[level, C_BYTES_FROM_NEXT] += line_bytes
                if level + 1 < nlev:  # memory is counted, not simulated
                    st[sp, 0] = level + 1
                    st[sp, 1] = line << shift
                    st[sp, 2] = line_bytes
                    st[sp, 3] = 0
                    st[sp, 4] = 0
                    sp += 1
            if send_back != 0:
                if level + 1 < nlev:  # memory is counted, not simulated
                    st[sp, 0] = level + 1
                    st[sp, 1] = old << shift
                    st[sp, 2] = line_bytes
                    st[sp, 3] = 1
                    st[sp, 4] = 1
                    sp += 1

    return addrs.shape[0]


@njit(**NJIT)
def _back_invalidate(level, victim, params, tags, counters, table):
    """Remove from every inner level the lines overlapping `victim` (a line of `level`).

    Return 1 if any was dirty. LRU/FIFO sets close the gap so invalid ways stay last.
    """
    shift = params[level, P_SHIFT]
    lo = victim << shift
    hi = (victim + 1) << shift
    was_dirty = 0
    for k in range(level):
        ks = params[k, P_SHIFT]
        ways = params[k, P_WAYS]
        mask = params[k, P_MASK]
        ordered = params[k, P_POLICY] == LRU or params[k, P_POLICY] == FIFO
        for line in range(lo >> ks, ((hi - 1) >> ks) + 1):
            set_index = line & mask if mask >= 0 else line % params[k, P_SETS]
            if params[k, P_DIR_MASK] >= 0:
                base = _sparse_base(params, k, set_index, table, False)
                if base < 0:  # a set never touched holds nothing
                    continue
            else:
                base = params[k, P_OFFSET] + set_index * ways
            for j in range(ways):
                if (tags[base + j] >> 1) == line:
                    counters[k, C_INVALIDATIONS] += 1
                    was_dirty |= tags[base + j] & 1
                    if ordered:
                        for m in range(j, ways - 1):
                            tags[base + m] = tags[base + m + 1]
                        tags[base + ways - 1] = INVALID
                    else:
                        tags[base + j] = INVALID
                    break
    return was_dirty


# ---------------------------------------------------------------- the common case, specialised
#
# Every level LRU, write-back + write-allocate, one line size (any set counts), accesses
# inside one line, non-inclusive. Then a request is one int64 r = line << 1 | write and:
# - level 0 fetches on every miss; at outer levels every write is a write-back of a whole line
#   (full: no fetch), every read a fetch;
# - a level's outgoing requests depend only on its own state and its incoming requests, never on
#   the outer levels (nothing is back-invalidated). The depth-first order of `simulate` hands
#   level i+1 exactly level i's outgoing requests in order (write-back before fetch for each
#   miss), so the levels can be run one after another over a chunk of the trace: level 0 turns
#   the chunk into its miss stream, level 1 consumes that stream, and so on.
# The state arrays are those of `simulate` (MRU first, invalid ways last, line << 1 | dirty), so
# the two kernels can take turns on one hierarchy; tests/test_cachesim.py checks both the counts
# and the tag arrays against `simulate` and the naive twin. This kernel also takes int32 tags
# (half the bytes per set: a 16-way set is one 64-byte host line and one vector) while every
# line number is below NARROW_LINES; the caller widens them to int64 when one is not.
PREFETCH_AHEAD = 16  # requests between the touch of a set and its use
PREFETCH_BYTES = 1 << 15  # levels with more tag bytes than this get the touches
SIMD_WAYS = (2, 4, 8, 16)  # set sizes served by one vector compare (_set_access_simd)


@njit(inline="always", **NJIT)
def _set_access(tags, base, r, ways):
    """Serve request r = line << 1 | write at the LRU set tags[base:base + ways] (uint64 base;
    MRU first, invalid ways last). Return (hit 0/1, the entry that was in the last way: the
    victim when it missed). Branch-free: every way is compared (at most one matches), and the
    move-to-front is one select per way, the same for a hit at pos and a miss (pos = last)."""
    r1 = r | 1
    last = np.uint64(ways - 1)
    found = np.uint64(0)
    hit = 0
    for j in range(ways):
        eq = (tags[base + np.uint64(j)] | 1) == r1  # same line (-1, empty, never matches)
        found += np.uint64(j) if eq else np.uint64(0)
        hit |= 1 if eq else 0
    pos = found if hit != 0 else last
    old = tags[base + last]
    entry = r | (tags[base + pos] & hit)  # a hit keeps its dirty bit
    for j in range(ways - 1, 0, -1):
        uj = np.uint64(j)
        tags[base + uj] = tags[base + uj - np.uint64(1)] if uj <= pos else tags[base + uj]
    tags[base] = entry
    return hit, old


def _make_set_access_simd(ways):
    """_set_access for a constant power-of-two `ways`, written as LLVM vector IR (numba leaves
    SLP vectorisation off, and loops of 8 or 16 are too short for its loop vectoriser): load the
    set as one <ways x iN> (N: the tag array's width, 64 or 32), compare all ways at once (a bit
    mask; pos = its trailing zeros), build the move-to-front as a shuffle and a lane select,
    store the set back."""
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    i64, i32 = ir.IntType(64), ir.IntType(32)
    iw = ir.IntType(ways)

    def lanes(values):
        return ir.Constant(ir.VectorType(i32, ways), list(values))

    @intrinsic
    def set_access_simd(typingctx, tags, base, r):
        sig = types.UniTuple(types.int64, 2)(tags, base, r)
        bits = tags.dtype.bitwidth
        it = ir.IntType(bits)
        vec = ir.VectorType(it, ways)
        undef = ir.Constant(vec, ir.Undefined)
        ones, zeros = ir.Constant(vec, [1] * ways), ir.Constant(vec, [0] * ways)

        def codegen(context, builder, signature, args):
            arr = context.make_array(signature.args[0])(context, builder, args[0])
            ptr = builder.bitcast(builder.gep(arr.data, [args[1]], inbounds=True),
                                  vec.as_pointer())
            r = builder.trunc(args[2], it) if bits < 64 else args[2]
            v = builder.load(ptr, align=bits // 8)

            def splat(x):
                return builder.shuffle_vector(builder.insert_element(undef, x, i32(0)), undef,
                                              lanes([0] * ways))
            eq = builder.icmp_unsigned("==", builder.or_(v, ones), splat(builder.or_(r, it(1))))
            mask = builder.bitcast(eq, iw)
            hit = builder.icmp_unsigned("!=", mask, iw(0))
            pos = builder.select(hit, builder.cttz(mask, ir.IntType(1)(1)), iw(ways - 1))
            # a hit keeps its dirty bit: a lane both matching and dirty (mask logic: extracting
            # the lane at a variable index goes through the stack)
            dirty = builder.icmp_unsigned("!=", builder.and_(v, ones), zeros)
            kept = builder.bitcast(builder.and_(dirty, eq), iw)
            entry = builder.or_(r, builder.zext(builder.icmp_unsigned("!=", kept, iw(0)), it))
            # lanes 1..pos take their left neighbour, lane 0 the entry, the rest stay
            shifted = builder.shuffle_vector(v, undef, lanes([0] + list(range(ways - 1))))
            pos_w = builder.zext(pos, it) if ways < bits else builder.trunc(pos, it)
            moved = builder.icmp_unsigned("<=", ir.Constant(vec, list(range(ways))), splat(pos_w))
            new = builder.insert_element(builder.select(moved, shifted, v), entry, i32(0))
            builder.store(new, ptr, align=bits // 8)
            old = builder.extract_element(v, i32(ways - 1))
            old = builder.sext(old, i64) if bits < 64 else old
            return context.make_tuple(builder, signature.return_type, [builder.zext(hit, i64), old])
        return sig, codegen
    return set_access_simd


def _make_set_access_plain(ways):
    # NUMBA_DISABLE_JIT=1 (coverage runs): intrinsics cannot run as Python, the loop can
    def set_access_plain(tags, base, r):
        return _set_access(tags, base, r, ways)
    return set_access_plain


_make = _make_set_access_plain if numba_config.DISABLE_JIT else _make_set_access_simd
_set_access_2, _set_access_4, _set_access_8, _set_access_16 = (_make(w) for w in SIMD_WAYS)


def _make_prefetch():
    """prefetch(array, index): a hint to bring array[index]'s cache line in for writing
    (llvm.prefetch). Unlike a load used as a prefetch, it retires at once, so a miss to memory
    does not hold up the requests in between: many sets can be in flight."""
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)

    @intrinsic
    def prefetch(typingctx, arr, index):
        sig = types.void(arr, index)

        def codegen(context, builder, signature, args):
            a = context.make_array(signature.args[0])(context, builder, args[0])
            ptr = builder.bitcast(builder.gep(a.data, [args[1]], inbounds=True), i8p)
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                "llvm.prefetch.p0")
            builder.call(fn, [ptr, i32(1), i32(3), i32(1)])  # write, keep in all levels, data
            return context.get_dummy_value()
        return sig, codegen
    return prefetch


def _prefetch_plain(arr, index):
    pass  # NUMBA_DISABLE_JIT=1: a hint only, nothing to do


_prefetch = _prefetch_plain if numba_config.DISABLE_JIT else _make_prefetch()


@njit(inline="always", **NJIT)
def _set_of(r, umask, usets):
    """Set index of request r = line << 1 | write: a mask for a power-of-two set count (umask =
    sets - 1), else a division (umask all ones, the caller's sign of a mask of -1)."""
    line = np.uint64(r) >> np.uint64(1)
    if umask != np.uint64(0xFFFFFFFFFFFFFFFF):
        return line & umask
    return line % usets


@njit(inline="always", **NJIT)
def _outcome(r, hit, old, first):
    """(miss, eviction, write-back, fetch), each 0/1, of request r with the result of its set
    access (old: the entry that was in the last way)."""
    miss = 1 - hit
    ev = miss if old >= 0 else 0
    wb = ev & old  # old = line << 1 | dirty: its low bit
    fetch = miss if first != 0 else miss & (1 - (r & 1))  # outer writes are write-backs
    return miss, ev, wb, fetch


@njit(inline="always", **NJIT)
def _emit(out, m, r, old, wb, fetch):
    """Append the outgoing requests of one access at out[m:]; return the new count."""
    out[m] = old  # the victim's line << 1 | 1: a write-back request (kept iff wb)
    m += np.uint64(wb)
    out[m] = r & -2  # the fetch, a read of the line (kept iff fetch)
    return m + np.uint64(fetch)


def _make_dense_stage(fixed_ways):
    """_dense_stage for sets of `fixed_ways` ways (0: any number, passed at run time). One
    function per way count keeps the dispatch out of the loop (a dispatch inside cost ~30%);
    numba caches each (closures over an int are cached, keyed by its value)."""

    @njit(**NJIT)
    def dense_stage(reqs, n, out, tags, off, mask, sets, ways, first, emit, ahead):
        """Serve reqs[:n] at one dense LRU level (sets at tags[off + set * ways]; set = line &
        mask, or line % sets when mask is -1); write its
        outgoing requests to out (when emit) and return (count out, misses, evictions,
        write-backs, fetches). Branch-free per request apart from branches that always go
        one way."""
        w = fixed_ways if fixed_ways > 0 else ways
        uways = np.uint64(w)
        umask = np.uint64(mask)
        usets = np.uint64(sets)
        uoff = np.uint64(off)
        last = uways - np.uint64(1)
        m = np.uint64(0)  # uint64 indices: numba adds no negative-index wraparound code
        misses = 0
        evictions = 0
        writebacks = 0
        fetches = 0
        for k in range(n):
            if ahead > 0 and k + ahead < n:
                # software prefetch of the set needed `ahead` requests later (first, last way)
                b = uoff + _set_of(reqs[np.uint64(k + ahead)], umask, usets) * uways
                _prefetch(tags, b)
                _prefetch(tags, b + last)
            r = reqs[np.uint64(k)]
            base = uoff + _set_of(r, umask, usets) * uways
            if fixed_ways == 16:  # a constant: numba keeps one branch
                hit, old = _set_access_16(tags, base, r)
            elif fixed_ways == 8:
                hit, old = _set_access_8(tags, base, r)
            elif fixed_ways == 4:
                hit, old = _set_access_4(tags, base, r)
            elif fixed_ways == 2:
                hit, old = _set_access_2(tags, base, r)
            else:
                hit, old = _set_access(tags, base, r, w)
            miss, ev, wb, fetch = _outcome(r, hit, old, first)
            misses += miss
            evictions += ev
            writebacks += wb
            fetches += fetch
            if emit != 0:
                m = _emit(out, m, r, old, wb, fetch)
        return np.int64(m), misses, evictions, writebacks, fetches
    return dense_stage


_dense_stage_2, _dense_stage_4, _dense_stage_8, _dense_stage_16 = (
    _make_dense_stage(w) for w in SIMD_WAYS)
_dense_stage_any = _make_dense_stage(0)


@njit(**NJIT)
def _sparse_stage(reqs, n, out, tags, mask, sets, ways, first, emit, ahead, acc, params, level,
                  table):
    """_dense_stage at a sparse level (sets found through its hash table, P_DIR_MASK >= 0);
    returns the touch accumulator after the five counts (returning it keeps LLVM from dropping
    the table loads that serve as prefetches). The hash lookup dominates here, so the way
    count is dispatched per request."""
    umask = np.uint64(mask)
    usets = np.uint64(sets)
    last = np.uint64(ways - 1)
    m = np.uint64(0)
    misses = 0
    evictions = 0
    writebacks = 0
    fetches = 0
    touched = acc
    dir_off = params[level, P_DIR_OFF]
    half = ahead // 2
    for k in range(n):
        if ahead > 0 and k + ahead < n:
            # software prefetch in two steps: the table entry `ahead` requests later (a load:
            # its value is needed next), then the set it names, `ahead / 2` requests later
            s = np.int64(_set_of(reqs[np.uint64(k + ahead)], umask, usets))
            touched += table[dir_off + 2 * np.int64(_dir_slot(params, level, s))]
            s = np.int64(_set_of(reqs[np.uint64(k + half)], umask, usets))
            b = _sparse_base(params, level, s, table, False)
            if b >= 0:
                _prefetch(tags, np.uint64(b))
                _prefetch(tags, np.uint64(b) + last)
        r = reqs[np.uint64(k)]
        base = np.uint64(_sparse_base(params, level, np.int64(_set_of(r, umask, usets)), table,
                                      True))
        if ways == 16:
            hit, old = _set_access_16(tags, base, r)
        elif ways == 8:
            hit, old = _set_access_8(tags, base, r)
        elif ways == 4:
            hit, old = _set_access_4(tags, base, r)
        elif ways == 2:
            hit, old = _set_access_2(tags, base, r)
        else:
            hit, old = _set_access(tags, base, r, ways)
        miss, ev, wb, fetch = _outcome(r, hit, old, first)
        misses += miss
        evictions += ev
        writebacks += wb
        fetches += fetch
        if emit != 0:
            m = _emit(out, m, r, old, wb, fetch)
    return np.int64(m), misses, evictions, writebacks, fetches, touched


@njit(**NJIT)
def simulate_lru(addrs, writes, shift, params, tags, counters, table):
    """`simulate` for the common case above (the caller checks eligibility); same state arrays,
    except that tags may be int32 (then every line number must be below NARROW_LINES).

    addrs int64 byte addresses (accesses inside one line); writes uint8 (empty: reads).
    Returns (trace accesses served, why it stopped: DONE, NEED_ROOM when a sparse level needs
    more room (P_ROOM: level i receives at most (i + 1) x FAST_CHUNK requests a round) or
    NEED_WIDE when a line number does not fit int32 tags, the touch accumulator). A round
    that stops changes nothing, so the caller can grow or widen the state and call again.
    """
    nlev = params.shape[0]
    n_total = addrs.shape[0]
    has_writes = writes.shape[0] > 0
    line_bytes = np.int64(1) << shift
    line_limit = np.int64(NARROW_LINES) if tags.itemsize == 4 else np.int64(1) << 62
    size = (nlev + 1) * FAST_CHUNK  # level i receives at most (i + 1) x chunk requests
    a = np.empty(size, np.int64)
    b = np.empty(size, np.int64)
    touched = np.int64(0)
    any_sparse = False
    for lvl in range(nlev):
        any_sparse |= params[lvl, P_DIR_MASK] >= 0
    for c0 in range(0, n_total, FAST_CHUNK):
        if any_sparse and _room_low(params):
            return c0, NEED_ROOM, touched
        c1 = min(c0 + FAST_CHUNK, n_total)
        # level-0 requests; a repeat of the previous line is a hit on the MRU way, so it is
        # merged into that request (its write bit too: same final state, same outgoing requests)
        n = 0
        repeats = 0
        prev = np.int64(-1)
        for k in range(c0, c1):
            line = addrs[k] >> shift
            if line >= line_limit:
                return c0, NEED_WIDE, touched
            r = line << 1
            if has_writes:
                r |= np.int64(writes[k])
            if line == prev:
                a[n - 1] |= r & 1
                repeats += 1
            else:
                a[n] = r
                n += 1
                prev = line
        counters[0, C_ACCESSES] += repeats
        counters[0, C_HITS] += repeats
        for lvl in range(nlev):
            ways = params[lvl, P_WAYS]
            off = params[lvl, P_OFFSET]
            mask = params[lvl, P_MASK]
            sets = params[lvl, P_SETS]
            first = 1 if lvl == 0 else 0
            emit = 1 if lvl + 1 < nlev else 0
            big = params[lvl, P_SETS] * ways * tags.itemsize > PREFETCH_BYTES  # sparse: all big
            ahead = PREFETCH_AHEAD if big else 0
            if params[lvl, P_DIR_MASK] >= 0:
                m, miss, ev, wb, fe, touched = _sparse_stage(a, n, b, tags, mask, sets, ways,
                                                             first, emit, ahead, touched, params,
                                                             lvl, table)
            elif ways == 16:
                m, miss, ev, wb, fe = _dense_stage_16(a, n, b, tags, off, mask, sets, ways, first,
                                                   emit, ahead)
            elif ways == 8:
                m, miss, ev, wb, fe = _dense_stage_8(a, n, b, tags, off, mask, sets, ways, first,
                                                   emit, ahead)
            elif ways == 4:
                m, miss, ev, wb, fe = _dense_stage_4(a, n, b, tags, off, mask, sets, ways, first,
                                                   emit, ahead)
            elif ways == 2:
                m, miss, ev, wb, fe = _dense_stage_2(a, n, b, tags, off, mask, sets, ways, first,
                                                   emit, ahead)
            else:
                m, miss, ev, wb, fe = _dense_stage_any(a, n, b, tags, off, mask, sets, ways, first,
                                                   emit, ahead)
            counters[lvl, C_ACCESSES] += n
            counters[lvl, C_HITS] += n - miss
            counters[lvl, C_MISSES] += miss
            counters[lvl, C_EVICTIONS] += ev
            counters[lvl, C_WRITEBACKS] += wb
            counters[lvl, C_BYTES_TO_NEXT] += wb * line_bytes
            counters[lvl, C_BYTES_FROM_NEXT] += fe * line_bytes
            a, b = b, a
            n = m
    return n_total, DONE, touched
