"""Seeded trace generators: hand-derived addresses, determinism, distributions."""
import numpy as np
import pytest

from roofsim.cache import traces
from roofsim.errors import CacheConfigError


def test_sequential_and_strided_addresses():
    t = traces.sequential(4, access_bytes=8, base=100, passes=2)
    assert t.addrs.tolist() == [100, 108, 116, 124] * 2 and t.bytes_accessed == 64
    # stride 24 over a 64-byte footprint: 0, 24, 48, 72 % 64 = 8, 96 % 64 = 32
    assert traces.strided(5, 24, 64).addrs.tolist() == [0, 24, 48, 8, 32]


def test_uniform_is_seeded_aligned_and_inside_the_footprint():
    a = traces.uniform(5000, 4096, access_bytes=8, seed=3).addrs
    assert np.array_equal(a, traces.uniform(5000, 4096, access_bytes=8, seed=3).addrs)
    assert not np.array_equal(a, traces.uniform(5000, 4096, access_bytes=8, seed=4).addrs)
    assert a.dtype == np.uint64 and a.max() < 4096 and np.all(a % 8 == 0)
    assert len(np.unique(a)) == 512  # 5000 draws cover all 4096 / 8 slots (checked, seed 3)


def test_embedding_gathers_shape_and_output_writes():
    # 6 lookups of 128-byte rows in 64-byte pieces (2 per row), bags of 3 -> 2 bags;
    # each bag: 3 rows x 2 reads, then its 128-byte output row: 2 writes. 2 x (6 + 2) = 16.
    t = traces.embedding_gathers(6, 128, 1000, "uniform", pooling=3, access_bytes=64,
                                 output=True, seed=1)
    assert len(t) == 16 and t.writes.tolist() == ([False] * 6 + [True] * 2) * 2
    assert np.all(t.addrs[~t.writes] < 1000 * 128)            # reads inside the table
    assert np.all(t.addrs[t.writes] >= 1000 * 128)            # outputs in their own region
    whole = traces.embedding_gathers(6, 100, 1000, "uniform", access_bytes=0, seed=1)
    assert whole.sizes.tolist() == [100] * 6 and whole.bytes_accessed == 600


def test_zipf_rows_are_skewed_and_scattered():
    t = traces.embedding_gathers(50000, 64, 10000, "zipf", zipf_alpha=1.05, seed=0)
    rows = (t.addrs // np.uint64(64)).astype(np.int64)
    counts = np.bincount(rows, minlength=10000)
    # bounded Zipf(1.05) over 10^4 rows: P(top row) = 1 / sum_k k^-1.05 ~ 1 / 8.6 = 0.116
    assert 0.10 < counts.max() / 50000 < 0.13
    assert counts.argmax() != 0  # the hottest rank is mapped away from row 0


def test_scatter_is_a_bijection():
    ids = traces.scatter(np.arange(9973), 9973, seed=5)
    assert sorted(ids.tolist()) == list(range(9973))


def test_csr_gathers():
    r, c = traces.power_law_graph(100, 5000, 20000, 2.1, seed=0)
    assert np.all(np.diff(r) >= 0)                  # CSR order
    assert r.max() < 100 and c.max() < 5000
    # column popularity Zipf(1 / (2.1 - 1) = 0.91): the top column is far above uniform (4 per col)
    assert np.bincount(c).max() > 40 * 4
    spmm = traces.csr_gathers(100, 5000, 20000, 256, kind="spmm", access_bytes=64)
    assert len(spmm) == 20000 * 4                   # 256-byte rows in 64-byte pieces
    sddmm = traces.csr_gathers(100, 5000, 20000, 256, kind="sddmm", access_bytes=64)
    assert len(sddmm) == 2 * 20000 * 4


def test_tiled_gemm_touches_every_element():
    m, n, k, e = 5, 6, 7, 4
    t = traces.tiled_gemm(m, n, k, tile=4, elem_bytes=e)
    assert len(t) == 3 * m * n * k and t.writes.sum() == m * n * k
    uniq = np.unique(t.addrs)
    assert len(uniq) == m * k + k * n + m * n       # every element of A, B and C, nothing else


def test_bad_arguments():
    with pytest.raises(CacheConfigError, match="trace n: expected a positive integer, found 0"):
        traces.sequential(0)
    with pytest.raises(CacheConfigError, match="expected one of uniform, zipf, file, found 'normal'"):
        traces.embedding_gathers(10, 64, 10, "normal")


def test_zipf_tail_sampling_matches_the_exact_distribution():
    # Ranks beyond ZIPF_EXACT_HEAD (65536) are drawn by inverting the integral of k^-a. Compare the
    # probability mass in rank bins with the exact normalised 1/k^a: 200000 draws give a standard
    # error of at most sqrt(0.25 / 2e5) = 0.0011 per bin, so 0.006 is over 5 standard errors.
    import numpy as np
    items, alpha, n = 200_000, 1.05, 200_000
    ranks = traces.zipf_ranks(n, items, alpha, np.random.default_rng(3))
    p = np.arange(1, items + 1, dtype=float) ** -alpha
    p /= p.sum()
    edges = [0, 10, 1000, 65536, 100_000, 150_000, 200_000]
    empirical = np.histogram(ranks, edges)[0] / n
    exact = [p[a:b].sum() for a, b in zip(edges[:-1], edges[1:])]
    assert np.max(np.abs(empirical - exact)) < 0.006
    assert ranks.min() >= 0 and ranks.max() <= items - 1


def test_insert_before_places_each_value_and_keeps_the_originals_mask():
    values, at, new = np.array([10, 11, 12]), np.array([0, 2, 3]), np.array([7, 8, 9])
    # 7 before 10, 8 before 12, 9 appended after the last value
    out, keep = traces.insert_before(values, at, new)
    assert out.tolist() == [7, 10, 11, 8, 12, 9]
    assert keep.tolist() == [False, True, True, False, True, False]
    # two inserted before the same value keep their order
    assert traces.insert_before(values, np.array([1, 1]), np.array([5, 6]))[0].tolist() == [10, 5, 6, 11, 12]
