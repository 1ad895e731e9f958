"""Warm queries reuse parsed specs and workloads, and never serve a stale one: any change to a
file that went into a cached value (the file, a base of its extends chain, an alias) reloads it."""
import os
from pathlib import Path

import numpy as np
import pytest

import roofsim
from roofsim.cache.mrc import SMALL_TRACE, mrc, small_trace_histogram
from roofsim.catalog import resolve
from roofsim.filecache import StampedCache, freeze, stamp
from roofsim.hw import get_hardware
from roofsim.workloads import get_workload

from naive import naive_stack_distances

BASE = """schema_version: 1
id: {id}
name: Test chip
vendor: Test
kind: accelerator
{aliases}source: test fixture
compute:
  matrix: {{bf16: 100 TFLOP/s}}
  source: test fixture
memory:
  - {{name: hbm, type: main, capacity: 16 GB, bandwidth: {bw}, source: test fixture}}
"""
DERIVED = """schema_version: 1
id: derived
name: Derived chip
kind: hypothetical
extends: base
source: test fixture
set:
  compute.matrix.bf16: 50 TFLOP/s
"""


def write(path: Path, text: str, tick: int) -> None:
    """Write and give the file a distinct mtime (a fast test can rewrite within one clock tick)."""
    path.write_text(text)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))


def hbm_bw(hw) -> float:
    return hw.main_memory.bandwidth_bytes_per_s


def test_second_query_is_served_from_the_cache(tmp_path):
    f = tmp_path / "base.yaml"
    write(f, BASE.format(id="base", aliases="", bw="1 TB/s"), 1)
    assert get_hardware(str(f)) is get_hardware(str(f))


def test_editing_a_hardware_file_reloads_it(tmp_path):
    f = tmp_path / "base.yaml"
    write(f, BASE.format(id="base", aliases="", bw="1 TB/s"), 1)
    assert hbm_bw(get_hardware(str(f))) == 1e12
    write(f, BASE.format(id="base", aliases="", bw="2 TB/s"), 2)  # same size, new mtime
    assert hbm_bw(get_hardware(str(f))) == 2e12


def test_editing_the_base_of_an_extends_chain_reloads_the_derived_design(tmp_path):
    base, derived = tmp_path / "base.yaml", tmp_path / "derived.yaml"
    write(base, BASE.format(id="base", aliases="", bw="1 TB/s"), 1)
    write(derived, DERIVED, 1)
    first = get_hardware(str(derived))
    assert (hbm_bw(first), first.peak("bf16")) == (1e12, 50e12)
    write(base, BASE.format(id="base", aliases="", bw="3 TB/s"), 2)
    again = get_hardware(str(derived))
    assert (hbm_bw(again), again.peak("bf16")) == (3e12, 50e12)  # the base's new HBM, its own peak


def test_overrides_are_part_of_the_key(tmp_path):
    f = tmp_path / "base.yaml"
    write(f, BASE.format(id="base", aliases="", bw="1 TB/s"), 1)
    a = get_hardware(str(f), overrides={"memory.hbm.bandwidth": "4 TB/s"})
    b = get_hardware(str(f), overrides={"memory.hbm.bandwidth": "5 TB/s"})
    plain = get_hardware(str(f))
    assert (hbm_bw(a), hbm_bw(b), hbm_bw(plain)) == (4e12, 5e12, 1e12)
    assert get_hardware(str(f), overrides={"memory.hbm.bandwidth": "4 TB/s"}) is a


def test_an_alias_that_moves_to_another_file_is_followed(tmp_path):
    a, b = tmp_path / "chip-a.yaml", tmp_path / "chip-b.yaml"
    write(a, BASE.format(id="chip-a", aliases="aliases: [fast]\n", bw="1 TB/s"), 1)
    write(b, BASE.format(id="chip-b", aliases="", bw="2 TB/s"), 1)
    assert resolve("fast", "hardware", [tmp_path]).name == "chip-a.yaml"
    write(a, BASE.format(id="chip-a", aliases="", bw="1 TB/s"), 2)
    write(b, BASE.format(id="chip-b", aliases="aliases: [fast]\n", bw="2 TB/s"), 2)
    assert resolve("fast", "hardware", [tmp_path]).name == "chip-b.yaml"
    assert hbm_bw(get_hardware("fast", [tmp_path])) == 2e12


def test_a_file_added_to_the_search_path_shadows_the_cached_one(tmp_path):
    first = resolve("h100-sxm5", "hardware", [tmp_path])
    assert first.parent != tmp_path  # the bundled file
    write(tmp_path / "h100-sxm5.yaml", BASE.format(id="h100-sxm5", aliases="", bw="1 TB/s"), 1)
    os.utime(tmp_path, ns=(5 * 10**9, 5 * 10**9))  # the folder's listing changed
    assert resolve("h100-sxm5", "hardware", [tmp_path]) == tmp_path / "h100-sxm5.yaml"


def test_editing_a_workload_file_reloads_it(tmp_path):
    src = Path(roofsim.__file__).parent.parent / "workloads" / "llama2-7b.yaml"
    f = tmp_path / "wl.yaml"
    text = src.read_text()
    write(f, text, 1)
    assert get_workload(str(f)).param("batch") == 1
    write(f, text.replace("  batch: 1\n", "  batch: 8\n"), 2)
    assert get_workload(str(f)).param("batch") == 8
    # overrides are part of the key: batch 2 and batch 2.0 are different requests
    assert get_workload(str(f), overrides={"batch": 2}).param("batch") == 2
    assert get_workload(str(f)).param("batch") == 8


def test_a_deleted_file_is_not_served_from_the_cache(tmp_path):
    f = tmp_path / "base.yaml"
    write(f, BASE.format(id="base", aliases="", bw="1 TB/s"), 1)
    get_hardware(str(f))
    f.unlink()
    with pytest.raises(roofsim.errors.RoofsimError):
        get_hardware(str(f))


def test_stamped_cache_expiry_and_size_bound(tmp_path):
    f = tmp_path / "x"
    write(f, "a", 1)
    c = StampedCache(maxsize=2)
    c.put("k", 1, [stamp(f)])
    assert c.get("k") == 1
    write(f, "a", 2)
    assert c.get("k") is None  # expired by the new mtime
    c.put("missing", 1, [stamp(tmp_path / "nope")])
    assert c.get("missing") is None  # a file that cannot be stat'ed is never cached
    for k in "abc":
        c.put(k, k, [stamp(f)])
    assert (c.get("a"), c.get("b"), c.get("c")) == (None, "b", "c")  # least recently used went


def test_freeze_keeps_types_apart_and_rejects_unhashable_values():
    assert freeze({"batch": 2}) != freeze({"batch": 2.0}) != freeze({"batch": True})
    assert freeze({"a": [1, {"b": 2}]}) == freeze({"a": (1, {"b": 2})})
    with pytest.raises(TypeError):
        freeze({"a": np.zeros(2)})


def test_warm_run_equals_a_run_with_cold_caches():
    from roofsim import catalog, hw, roofline, workloads
    warm = roofsim.run("h100", "llama2-7b")
    for cache in (hw._SPECS, workloads._WORKLOADS, catalog._RESOLVED):
        cache.clear()
    roofline._TABLES.clear()
    cold = roofsim.run("h100", "llama2-7b")
    assert warm.equals(cold)


def test_query_totals_are_the_sum_of_the_run_frame():
    df = roofsim.run(["h100", "a100"], "llama2-7b")
    ev = roofsim.query(["h100", "a100"], "llama2-7b")
    by_hw = df.groupby("hardware", sort=False)["time_s"].sum()
    assert ev.total_time_s.tolist() == pytest.approx(by_hw.tolist(), rel=1e-12)  # same terms, summed apart


# ---- the numpy path for short traces (no JIT) ---------------------------------------------
def naive_hist(lines):
    d = naive_stack_distances(list(lines))
    seen = [x for x in d if x is not None]
    return (np.bincount(seen).astype(np.int64) if seen else np.zeros(0, np.int64)), sum(x is None for x in d)


@pytest.mark.parametrize("seed", range(40))
def test_small_trace_histogram_matches_the_naive_twin(seed):
    rng = np.random.default_rng(seed)  # lengths 0..120 over 1..30 distinct lines
    lines = rng.integers(0, int(rng.integers(1, 31)), int(rng.integers(0, 121))).tolist()
    hist, cold = small_trace_histogram(np.array(lines, dtype=np.int64))
    want_hist, want_cold = naive_hist(lines)
    assert cold == want_cold
    assert hist.tolist() == want_hist.tolist()


def test_small_and_large_traces_give_the_same_curve_at_the_threshold():
    # A trace of SMALL_TRACE + 1 accesses takes the JIT kernel; its first SMALL_TRACE accesses
    # take the numpy path. The two curves must agree wherever the traces do: compare both with
    # the naive twin on the longer trace.
    rng = np.random.default_rng(3)
    lines = rng.integers(0, 300, SMALL_TRACE + 1).astype(np.int64)
    big = mrc(lines * 64, 64)
    small = mrc(lines[:SMALL_TRACE] * 64, 64)
    want_big, big_cold = naive_hist(lines)
    want_small, small_cold = naive_hist(lines[:SMALL_TRACE])
    assert (big.cold, big.hist[:len(want_big)].tolist()) == (big_cold, want_big.tolist())
    assert (small.cold, small.hist.tolist()) == (small_cold, want_small.tolist())
