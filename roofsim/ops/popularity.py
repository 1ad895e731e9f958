"""Expected number of distinct items among draws from a popularity distribution (numpy only).

n draws from items with probabilities p_k touch sum_k 1 - (1 - p_k)^n distinct items. It sizes the
sparse embedding update (only touched rows are updated) and sampled GNN sub-graphs (distinct
neighbours of a mini-batch).
- uniform over R items: R (1 - (1 - 1/R)^n), exact.
- Zipf(a) over R items, p_k = k^-a / H: the first HEAD ranks are summed exactly; beyond them the
  summand is smooth and monotone in k, so it is summed over log-spaced bins of ranks (each bin's
  count times the summand at its geometric centre), with relative error well below 1e-3.
"""
from __future__ import annotations

import numpy as np

HEAD = 1 << 16
TAIL_BINS = 4096


def _touched(p: np.ndarray, n) -> np.ndarray:
    """1 - (1 - p)^n, accurate for tiny p; n a number, or an array (a column of results per n)."""
    n = np.asarray(n, dtype=np.float64)
    lp = np.log1p(-np.minimum(p, 1.0 - 1e-16))
    return -np.expm1(np.multiply.outer(n, lp)) if n.ndim else -np.expm1(n * lp)


def expected_distinct_uniform(n: float, items: int) -> float:
    if n <= 0 or items <= 0:
        return 0.0
    if items == 1:
        return 1.0
    return float(items * _touched(np.array(1.0 / items), n))


def expected_distinct_zipf(n, items: int, alpha: float, head: int = HEAD, bins: int = TAIL_BINS):
    """Expected distinct items of n draws (n a number or an array of draw counts); a smaller
    ``head`` and fewer ``bins`` trade accuracy (about 1% at 1024 / 256) for speed."""
    if items <= 0:
        return 0.0 if np.ndim(n) == 0 else np.zeros(np.shape(n))
    head = min(items, head)
    k = np.arange(1, head + 1, dtype=np.float64)
    w_head = k ** -alpha
    if items > head:
        edges = np.unique(np.round(np.geomspace(head + 1, items + 1, bins + 1)).astype(np.int64))
        counts = np.diff(edges).astype(np.float64)
        centres = np.sqrt(edges[:-1] * (edges[1:] - 1.0).clip(min=edges[:-1]))
        # the normaliser's tail by the midpoint integral (as roofsim.cache.traces.zipf_ranks does)
        lo, hi = head + 0.5, items + 0.5
        tail_sum = np.log(hi / lo) if alpha == 1 else (hi ** (1 - alpha) - lo ** (1 - alpha)) / (1 - alpha)
    else:
        counts = centres = np.zeros(0)
        tail_sum = 0.0
    total = w_head.sum() + tail_sum
    out = _touched(w_head / total, n).sum(axis=-1)
    if counts.size:
        out = out + (counts * _touched(centres ** -alpha / total, n)).sum(axis=-1)
    out = np.minimum(np.minimum(out, items), np.maximum(n, 0))
    return float(out) if np.ndim(out) == 0 else out


def expected_distinct(n: float, items: int, distribution: str, alpha: float = 1.0, ids=None) -> float:
    """Distinct items among ``n`` draws; ``ids`` (distribution 'file'): the first n ids, cycled."""
    if distribution == "uniform":
        return expected_distinct_uniform(n, items)
    if distribution == "zipf":
        return expected_distinct_zipf(n, items, alpha)
    if distribution == "file":
        seq = ids if int(n) <= len(ids) else np.resize(ids, int(n))
        return float(np.unique(seq[:int(max(n, 1))]).shape[0])
    raise ValueError(distribution)  # pragma: no cover - callers validate the name


def _zipf_weight(k: float, alpha: float) -> float:
    """sum_{j=1..k} j^-alpha: exact over the first HEAD ranks, the midpoint integral beyond."""
    k = float(k)
    if k <= 0:
        return 0.0
    head = min(k, HEAD)
    out = float((np.arange(1, int(head) + 1, dtype=np.float64) ** -alpha).sum())
    if k > head:
        lo, hi = head + 0.5, k + 0.5
        out += np.log(hi / lo) if alpha == 1 else (hi ** (1 - alpha) - lo ** (1 - alpha)) / (1 - alpha)
    return out


def top_mass(k: float, items: int, distribution: str, alpha: float = 1.0, ids=None) -> float:
    """Share of draws that fall on the k most popular items (a cache holding exactly them)."""
    if k >= items:
        return 1.0
    if k <= 0:
        return 0.0
    if distribution == "uniform":
        return k / items
    if distribution == "zipf":
        return _zipf_weight(k, alpha) / _zipf_weight(items, alpha)
    counts = np.sort(np.bincount(np.asarray(ids, dtype=np.int64)))[::-1]
    return float(counts[:int(k)].sum() / counts.sum())
