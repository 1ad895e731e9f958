"""The CPU suite's bookkeeping: every kernel's ops carry the FLOPs and bytes its numpy code does.

Sizes come from tests/data/measure/round-cpu.yaml: one private 32 KiB cache (l1d), which is also
the last cache, and 16 GiB of main memory, so in_cache = 0.5 x 32 KiB = 16 KiB, last = 32 KiB,
out_of_cache = 8 x 32 KiB = 256 KiB.
"""
from pathlib import Path

import numpy as np
import pytest

from roofsim.errors import SpecError
from roofsim.hw import get_hardware
from roofsim.measure import suites
from roofsim.measure.suites import BAGS, EMB_DIM, POOLING, SPMM_DEGREE, SPMM_FEATURES, Sizes, cpu_suite, sizes_for

HW = get_hardware(str(Path(__file__).parent / "data" / "measure" / "round-cpu.yaml"))
KERNELS = {k.name: k for k in cpu_suite(HW)}


def totals(kernel):
    return (sum(o.total_flops for o in kernel.ops), sum(o.read_bytes for o in kernel.ops),
            sum(o.write_bytes for o in kernel.ops))


def test_sizes_follow_the_caches():
    # one cache, private and last: "shared" kernels at a quarter of it, 8 KiB
    assert sizes_for(HW) == Sizes(16384.0, 32768.0, 262144.0, 8192.0)


def test_last_cache_kernels_sit_beyond_the_private_cache():
    from roofsim.measure.suites import _shared_size
    MIB = 2.0 ** 20
    # a 32 MiB L3 beside a 1 MiB L2: a quarter of the L3, 8 MiB (>= 2 x the L2)
    assert _shared_size(MIB, 32 * MIB) == 8 * MIB
    # a measured 4.85 MiB share beside a 1 MiB L2: a quarter (1.21 MiB) would sit in the L2; twice the L2,
    # 2 MiB, is below half the share (2.43 MiB)
    assert _shared_size(MIB, 4.85 * MIB) == 2 * MIB
    # a 3 MiB share: twice the L2 (2 MiB) would be most of it; half of it, 1.5 MiB
    assert _shared_size(MIB, 3 * MIB) == 1.5 * MIB


def test_out_of_cache_is_beyond_the_os_capacity_of_a_shared_cache():
    from roofsim.hw import derive
    # the probe measured a 32 KiB share of a cache the OS reports as 128 KiB: "in the last cache" sizes by
    # the share (32 KiB), "out of cache" by 8 x the OS's 128 KiB = 1 MiB (so it stays out when the share grows)
    shared = derive(HW, {"memory.l1d.os_capacity": "131072 B"})
    assert sizes_for(shared) == Sizes(16384.0, 32768.0, 8 * 131072.0, 8192.0)


def test_every_kernel_is_in_the_suite():
    # 9 GEMMs, 2 GEMVs, 4 elementwise, 2 softmax, 5 embedding bags, 2 SpMM
    assert len(KERNELS) == 24
    assert {k.category for k in KERNELS.values()} == {
        "gemm square", "gemm skinny", "gemm tall", "gemv", "elementwise", "softmax", "gather", "spmm"}


@pytest.mark.parametrize("name,flops,read,written", [
    # C = A @ B, 256^3 fp64: 2 * 256^3 = 33554432 FLOPs; A and B 256^2 * 8 B each read, C written
    ("gemm-256", 2 * 256 ** 3, 2 * 256 ** 2 * 8, 256 ** 2 * 8),
    # fp32 1024^3: 2 * 1024^3 FLOPs; 2 * 1024^2 * 4 B read, 1024^2 * 4 B written
    ("sgemm-1024", 2 * 1024 ** 3, 2 * 1024 ** 2 * 4, 1024 ** 2 * 4),
    # skinny m=16: 2 * 16 * 1024 * 1024; A 16 x 1024 and B 1024 x 1024 fp64 read, C 16 x 1024 written
    ("gemm-m16", 2 * 16 * 1024 * 1024, (16 * 1024 + 1024 * 1024) * 8, 16 * 1024 * 8),
    # tall m=16384, n=k=64: 2 * 16384 * 64 * 64; A 16384 x 64 + B 64 x 64 read, C 16384 x 64 written
    ("gemm-tall-k64", 2 * 16384 * 64 * 64, (16384 * 64 + 64 * 64) * 8, 16384 * 64 * 8),
    # GEMV: matrix side pow2(sqrt(16 KiB / 8 B)) = pow2(45.25) = 32: 2 * 32 * 32 FLOPs;
    # x (32) and the 32 x 32 matrix read, y (32) written
    ("gemv-32", 2 * 32 * 32, (32 + 32 * 32) * 8, 32 * 8),
    # add in cache: pow2(16 KiB / 24 B) = 512 fp64 elements: 512 additions, 2 x 4 KiB read, 4 KiB written
    ("add-in-cache", 512, 2 * 512 * 8, 512 * 8),
    # add out of cache: pow2(256 KiB / 24) = 8192 elements
    ("add-out-of-cache", 8192, 2 * 8192 * 8, 8192 * 8),
    # triad in cache: pow2(16 KiB / 32) = 512 elements; t = s*c (512 FLOPs, read c, write t),
    # a = b + t (512 FLOPs, read b and t, write a): 1024 FLOPs, 3 x 4 KiB read, 2 x 4 KiB written
    ("triad-in-cache", 1024, 3 * 512 * 8, 2 * 512 * 8),
    # softmax in cache: rows = pow2(16 KiB / 32 / 512) = 1, cols 512 -> n = 512 fp64:
    # max (n FLOPs, read n, write 1 row value), x - m (n, read n, write n), exp (n, n, n),
    # sum (n, n, 1), e / s (n, n, n): 5n FLOPs, 5n * 8 B read, (3n + 2) * 8 B written
    ("softmax-in-cache", 5 * 512, 5 * 512 * 8, (3 * 512 + 2) * 8),
    # embedding bag: BAGS * POOLING = 81920 lookups of 256 B rows (+ 4 B ids) into a temporary
    # (81920 * 256 B written, 0 FLOPs with pooling 1 in the gather), then a sum over each bag:
    # 81920 * 64 additions reading the temporary, writing 4096 * 64 fp32
    ("bag-uniform-dram", 81920 * 64, 81920 * (256 + 4) + 81920 * 256, 81920 * 256 + 4096 * 64 * 4),
    # spmm: X at half the shared size, nodes = pow2(8 KiB / 2 / 128 B) = 32, nnz = 320: 2 * 320 * 32
    # FLOPs; CSR values and column ids (320 * (4 + 4)) + row pointers (33 * 4) + one 128 B X row per
    # nonzero; Y 32 x 32 fp32
    ("spmm-llc", 2 * 320 * 32, 320 * 8 + 33 * 4 + 320 * 128, 32 * 32 * 4),
])
def test_kernel_ops_count_what_the_code_does(name, flops, read, written):
    assert totals(KERNELS[name]) == (flops, read, written)


def test_library_items_transcendentals_and_allocations_of_the_kernels():
    from roofsim.specs import TRANSCENDENTAL
    from roofsim.traffic import op_items
    items = lambda name: [op_items(o) for o in KERNELS[name].ops]
    # bag: the gather handles 81920 rows; (4096, 20, 64).sum(axis=1) walks runs of 64: 4096 x 20 runs
    assert items("bag-uniform-dram") == [BAGS * POOLING, BAGS * POOLING]
    # softmax in cache, 1 row of 512: max and sum reduce the row in 1 run each; the elementwise
    # passes have no runs; the exp is 512 transcendental evaluations; every pass allocates its output
    soft = KERNELS["softmax-in-cache"].ops
    assert items("softmax-in-cache") == [1, 0, 0, 1, 0]
    assert [sum(f.flops for f in o.flops if f.unit == TRANSCENDENTAL) for o in soft] == [0, 0, 512, 0, 0]
    assert all(o.allocates for o in soft)
    # x - max and e / sum broadcast the (rows, 1) row results along each row: 512 elements each
    assert [o.access.broadcast for o in soft] == [0, 512, 0, 0, 512]
    # BLAS packs A and B of a GEMM once each (16 x 1024 + 1024 x 1024); a GEMV packs nothing
    assert items("gemm-m16") == [16 * 1024 + 1024 * 1024] and items("gemv-32") == [0]
    # kernels that write into given buffers (out=) allocate nothing; scipy allocates Y
    assert not any(o.allocates for n in ("gemm-256", "add-in-cache", "triad-in-cache") for o in KERNELS[n].ops)
    assert KERNELS["spmm-llc"].ops[0].allocates


def test_embedding_bag_tables_span_the_caches():
    rows = {n: dict(k.ops[0].shape)["table_rows"] for n, k in KERNELS.items() if k.category == "gather"}
    # in cache: 16 KiB / 256 B = 64 rows; llc: 32 KiB / 4 / 256 = 32; dram: 256 KiB / 256 = 1024
    assert rows == {"bag-uniform-in-cache": 64, "bag-uniform-llc": 32, "bag-uniform-dram": 1024,
                    "bag-zipf-llc": 32, "bag-zipf-dram": 1024}


@pytest.mark.parametrize("name", ["softmax-in-cache", "bag-zipf-dram", "triad-in-cache", "spmm-llc", "gemv-32"])
def test_kernels_compute_what_they_claim(name):
    if name.startswith("spmm"):
        pytest.importorskip("scipy")
    k = KERNELS[name]
    fn = k.make(np, np.random.default_rng(0))
    out = fn()
    if name == "softmax-in-cache":
        assert out.shape == (1, 512) and np.allclose(out.sum(axis=1), 1.0)
    elif name == "bag-zipf-dram":
        assert out.shape == (BAGS, EMB_DIM) and out.dtype == np.float32
    elif name == "spmm-llc":
        assert out.shape == (32, SPMM_FEATURES)
    elif name == "gemv-32":
        assert out.shape == (1, 32)


def test_spmm_graph_has_the_degree_it_claims():
    nnz = dict(KERNELS["spmm-dram"].ops[0].shape)["nnz"]
    nodes = dict(KERNELS["spmm-dram"].ops[0].shape)["rows"]
    assert nnz == SPMM_DEGREE * nodes


def test_suite_without_scipy_has_no_spmm():
    assert [k.category for k in cpu_suite(HW, with_scipy=False)].count("spmm") == 0


def test_measure_runs_kernels_and_reports_repeats():
    ks = [KERNELS["add-in-cache"], KERNELS["gemv-32"]]
    ms = suites.measure(ks, HW, repeats=7)
    assert [m.name for m in ms] == ["add-in-cache", "gemv-32"]
    assert all(m.time_s > 0 and m.repeats == 7 and m.spread >= 0 and m.device == HW.id for m in ms)
    assert ms[0].ops == ks[0].ops


def test_unknown_suite_and_cacheless_hardware():
    with pytest.raises(SpecError):
        suites.suite("gpu", HW)
    from roofsim.hardware import build_hardware
    bare = build_hardware({"schema_version": 1, "id": "bare", "name": "b", "vendor": "v", "kind": "cpu", "source": "s",
                           "compute": {"vector": {"fp32": "1 TFLOP/s"}, "source": "s"},
                           "memory": [{"name": "dram", "type": "main", "bandwidth": "1 TB/s", "source": "s"}]})
    with pytest.raises(SpecError) as e:
        sizes_for(bare)
    assert str(e.value).startswith("memory: expected at least one cache level with a capacity")


def test_interleaved_groups_keep_each_group_within_the_memory_budget():
    from dataclasses import replace
    from roofsim.measure.suites import interleaved_groups
    k = lambda name, size: replace(KERNELS["add-in-cache"], name=name, footprint_bytes=size)
    ks = [k("a", 40), k("b", 50), k("c", 30), k("d", 200), k("e", 10)]
    # budget 100: a + b = 90 (c would make 120), c alone until d (230), d alone (over the budget), then e
    assert [[x.name for x in g] for g in interleaved_groups(ks, 100)] == [["a", "b"], ["c"], ["d"], ["e"]]
    # no budget (main memory unknown): one group
    assert [[x.name for x in g] for g in interleaved_groups(ks, None)] == [["a", "b", "c", "d", "e"]]
    assert interleaved_groups([], 100) == []
