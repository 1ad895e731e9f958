"""Layout of the cache simulator's state arrays, shared by the kernels and their caller.

Numba-free, so roofsim.cache.simulator can size the arrays without loading the JIT.
"""
# columns of the int64 params array, one row per level. A sparse level (P_DIR_MASK >= 0) holds
# only the sets the trace has touched: set index -> compact set number through an open-addressing
# hash table of (key, number) pairs at table[P_DIR_OFF:P_DIR_OFF + 2 (P_DIR_MASK + 1)], P_USED
# sets in use of P_CAP allocated at tags[P_OFFSET:]. A kernel returns early (before a trace access, or a round
# of the specialised kernel) when a sparse level has less free room than P_ROOM sets, the most
# that one step can allocate there; the caller grows the arrays and calls again.
(P_SETS, P_WAYS, P_SHIFT, P_POLICY, P_WRITE_BACK, P_WRITE_ALLOCATE, P_OFFSET, P_MASK,
 P_DIR_OFF, P_DIR_MASK, P_USED, P_CAP, P_ROOM) = range(13)
N_PARAMS = 13
EMPTY_KEY = -1
FAST_CHUNK = 4096    # trace accesses per round of simulate_lru (its buffers stay in host L2)
# simulate_lru also takes int32 tags (line << 1 | dirty) while every line number is below this;
# it returns NEED_WIDE (having changed nothing in that round) at the first line that is not.
NARROW_LINES = 1 << 30
DONE, NEED_ROOM, NEED_WIDE = 0, 1, 2  # why simulate_lru returned
