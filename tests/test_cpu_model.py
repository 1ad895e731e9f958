"""Model pieces a measured CPU needs: the steady state of a timing loop (warm), latency-bound
random rows (memory parallelism) and the library's time per item; all off unless asked for."""
from pathlib import Path

import numpy as np
import pytest

from roofsim.errors import SpecError
from roofsim.hardware import build_hardware, to_doc
from roofsim.hw import get_hardware
from roofsim.ops import kinds as K
from roofsim.roofline import evaluate
from roofsim.traffic import loop_footprint, op_items

HW = get_hardware(str(Path(__file__).parent / "data" / "measure" / "round-cpu.yaml"))


def random_cpu(**efficiency):
    doc = to_doc(HW)
    doc["memory"][1]["latency"] = "1 us"
    doc["efficiency"].update(efficiency)
    return build_hardware(doc)


def test_loop_footprint_counts_a_handed_on_temporary_once():
    a = K.elementwise("a", 1e6, dtype="fp32")                 # reads 4 MB, writes 4 MB
    b = K.reduction("b", 1e6, outputs=1, dtype="fp32")        # reads a's 4 MB output, writes 4 B
    # 8 MB + (4 MB + 4 B) - min(4 MB written by a, 4 MB read by b)
    assert loop_footprint([a, b]) == 8e6 + 4
    # a gather touches at most its table: 10 rows of 256 B, however many lookups; + ids + output
    g = K.gather("g", 1000, 256, 10, pooling=1)
    assert loop_footprint([g]) == 10 * 256 + 1000 * 4 + 1000 * 256
    assert op_items(g) == 1000 and op_items(a) == 0


def test_warm_loop_serves_a_fitting_footprint_from_the_cache():
    small = K.elementwise("small", 1024, dtype="fp32")   # 4 KiB in + 4 KiB out: fits the 32 KiB l1d
    cold, warm = evaluate(HW, [small]), evaluate(HW, [small], warm=True)
    assert cold["bytes_dram"][0] == 8192 and warm["bytes_dram"][0] == 0
    # warm: 8192 B / 100 GB/s = 81.92 ns at l1d (compute 1024 / 20 GFLOP/s = 51.2 ns)
    assert warm["time_s"][0] == pytest.approx(8192 / 100e9) and warm["bound"][0] == "memory:l1d"
    # cold: 8192 B / 10 GB/s at dram
    assert cold["time_s"][0] == pytest.approx(8192 / 10e9) and cold["bound"][0] == "memory:dram"


def test_warm_loop_larger_than_every_cache_changes_nothing():
    big = K.elementwise("big", 1e6, dtype="fp32")   # 8 MB > 32 KiB
    assert evaluate(HW, [big], warm=True)["time_s"][0] == evaluate(HW, [big])["time_s"][0] == pytest.approx(8e6 / 10e9)


def test_random_rows_wait_for_memory_with_misses_in_flight():
    g = K.gather("g", 1000, 256, 10 ** 6, pooling=1)
    plain = evaluate(random_cpu(), [g])
    # compulsory: 1000 rows x 256 B + 1000 x 4 B ids + 1000 x 256 B output = 516000 B / 10 GB/s
    assert plain["time_s"][0] == pytest.approx(516000 / 10e9)
    mlp = evaluate(random_cpu(memory_parallelism=4), [g])
    # 1000 random rows (the 256 B gathered per row, ids and outputs are streamed) x 1 us / 4 in flight
    assert mlp["time_s"][0] == pytest.approx(1000 * 1e-6 / 4) and mlp["bound"][0] == "memory:dram"


def test_arithmetic_between_random_rows_adds_to_their_waits():
    # 1000 nonzeros, each gathering a 64 B X row (16 fp32 features) from a 10^6-row X in DRAM, and
    # fused multiply-adds over it: 2 x 1000 x 16 = 32,000 FLOPs at the 1 GFLOP/s fma rate = 32 us
    op = K.spmm("s", 1000, 10 ** 6, 1000, 16, dtype="fp32")
    doc = to_doc(random_cpu(memory_parallelism=4))
    doc["compute"]["fma"] = {"fp32": "1 GFLOP/s"}
    hw = build_hardware(doc)
    df = evaluate(hw, [op])
    # 1000 random rows x 1 us / 4 in flight = 250 us of waiting, the 32 us of arithmetic in series
    assert df["time_compute_s"][0] == pytest.approx(32e-6)
    assert df["time_s"][0] == pytest.approx(250e-6 + 32e-6) and df["bound"][0] == "memory:dram"
    # the datasheet world (no memory parallelism: no random-access term) keeps the plain max
    doc["efficiency"].pop("memory_parallelism")
    assert evaluate(build_hardware(doc), [op])["time_s"][0] == pytest.approx(32e-6)
    # rows served by a cache overlap the arithmetic: a 100 x 100 graph (X and Y 6.4 kB each, CSR
    # 8.4 kB) run in a loop stays in the 32 KiB l1d (a latency of 1 ns there: 1000 rows x 1 ns / 4 =
    # 0.25 us), so the 32 us of FMAs alone
    doc = to_doc(random_cpu(memory_parallelism=4))
    doc["compute"]["fma"] = {"fp32": "1 GFLOP/s"}
    doc["memory"][0]["latency"] = "1 ns"
    small = K.spmm("s", 100, 100, 1000, 16, dtype="fp32")
    assert evaluate(build_hardware(doc), [small], warm=True)["time_s"][0] == pytest.approx(32e-6)
    # ... unless that cache is shared by several CPUs (off the core: its round trip is not hidden):
    # 0.25 us of waits + 32 us of arithmetic
    doc["memory"][0]["shared_by"] = 2
    assert evaluate(build_hardware(doc), [small], warm=True)["time_s"][0] == pytest.approx(32.25e-6)


def test_library_time_per_item_is_added_to_the_loop():
    g = K.gather("g", 1000, 256, 10 ** 6, pooling=1)
    df = evaluate(random_cpu(per_item={"gather": "1 us"}), [g])
    # 1000 rows x 1 us = 1 ms of library work + the 516000 B / 10 GB/s = 51.6 us of bytes;
    # the library's share is the larger: the 'latency' (fixed costs) bound
    assert df["time_s"][0] == pytest.approx(1e-3 + 51.6e-6) and df["bound"][0] == "latency"
    assert evaluate(random_cpu(per_item={"gather": "1 us"}), [g], ideal=True)["time_s"][0] == pytest.approx(516000 / 10e9)


def test_library_call_cost_is_added_per_op_kind_with_a_default():
    add = K.elementwise("add", 1000, dtype="fp32", inputs=2)          # 12000 B
    red = K.reduction("red", 1000, outputs=1, dtype="fp32")          # 4004 B, 1 run
    hw = random_cpu(per_call={"default": "1 us", "reduction": "3 us"})
    df = evaluate(hw, [add, red])
    # add: 12000 B / 10 GB/s = 1.2 us + 1 us (default call); red: 4004 B / 10 GB/s = 0.4004 us + 3 us
    assert df["time_s"].tolist() == pytest.approx([2.2e-6, 3.4004e-6])
    assert df["bound"].tolist() == ["memory:dram", "latency"]   # 1.2 > 1 us; 3 us > 0.4 us


def test_reduction_runs_are_library_items():
    # x[4096, 20, 64].sum(axis=1): runs of 64 -> 4096 * 20 = 81920 runs (not 4096 * 64 outputs)
    middle = K.reduction("m", 4096 * 20 * 64, outputs=4096 * 64, dtype="fp32", run=64)
    last = K.reduction("l", 4096 * 20 * 64, outputs=4096 * 64, dtype="fp32")   # innermost: 1 run per output
    assert op_items(middle) == 81920 and op_items(last) == 4096 * 64
    hw = random_cpu(per_item={"reduction": "10 ns"})
    # 5242880 elements x 4 B + 262144 x 4 B = 22020096 B / 10 GB/s = 2.2020096 ms, + 81920 x 10 ns
    assert evaluate(hw, [middle])["time_s"][0] == pytest.approx(22020096 / 10e9 + 81920 * 10e-9)
    with pytest.raises(SpecError):
        K.reduction("r", 100, outputs=1, run=101)   # a run longer than the data


def test_blas_packs_gemm_operands_but_gemv_packs_nothing():
    gemm = K.gemm("g", 4, 1024, 1024, dtype="fp64", weight=None)
    gemv = K.gemm("v", 1, 1024, 1024, dtype="fp64", weight=None)
    # A 4 x 1024 + B 1024 x 1024 = 4096 + 1048576 elements packed once each
    assert op_items(gemm) == 1052672 and op_items(gemv) == 0


def test_transcendentals_are_priced_only_where_the_spec_gives_a_rate():
    exp = K.elementwise("exp", 10 ** 6, dtype="fp32", transcendentals_per_element=1)
    assert exp.total_flops == 10 ** 6        # arithmetic only: the evaluation is a separate count
    doc = to_doc(HW)
    plain = evaluate(build_hardware(doc), [exp])
    doc["compute"]["transcendental"] = {"fp64": "1 GFLOP/s"}   # fp32 falls back to the fp64 rate
    priced = evaluate(build_hardware(doc), [exp])
    # plain: 8 MB / 10 GB/s = 0.8 ms at dram (1e6 FLOPs / 20 GFLOP/s = 50 us)
    assert plain["time_s"][0] == pytest.approx(8e6 / 10e9)
    # priced: 1e6 / 20 GFLOP/s + 1e6 / 1 G/s = 1.05 ms of compute, above 0.8 ms of bytes
    assert priced["time_s"][0] == pytest.approx(1e6 / 20e9 + 1e6 / 1e9) and priced["bound"][0] == "compute"
    assert priced["flops"][0] == 10 ** 6


def test_spmm_multiply_adds_run_at_the_fma_rate_where_a_spec_gives_one():
    op = K.spmm("s", 1000, 1000, 10_000, 32, dtype="fp32")
    assert op.total_flops == 2 * 10_000 * 32
    doc = to_doc(HW)
    # no fma rate (the catalogue: a datasheet's vector peak counts an FMA as 2 FLOPs): the vector rate
    res = build_hardware(doc).compute.resolve("fp32", "fma")
    assert (res.unit, res.flop_per_s) == ("vector", build_hardware(doc).compute.resolve("fp32", "vector").flop_per_s)
    doc["compute"]["fma"] = {"fp32": "100 GFLOP/s"}
    hw = build_hardware(doc)
    assert hw.compute.resolve("fp32", "fma").flop_per_s == 100e9
    # fp16 falls back to the wider fp32 fma rate; other units never see it
    assert hw.compute.resolve("fp16", "fma").flop_per_s == 100e9
    assert hw.compute.resolve("fp32", "vector").flop_per_s != 100e9
    # 640,000 FLOPs / 100 GFLOP/s = 6.4 us of compute
    assert evaluate(hw, [op])["time_compute_s"][0] == pytest.approx(640_000 / 100e9)


def test_a_gather_pays_per_row_and_per_byte_it_copies():
    g = K.gather("g", 1000, 256, 10, pooling=1)
    hw = random_cpu(per_item={"gather": "10 ns", "gathered_byte": "0.1 ns"})
    # 10 rows of 256 B stay in the 32 KiB l1d; the library: 1000 x (10 ns + 256 B x 0.1 ns) = 35.6 us,
    # in series with the bytes: 1000 rows x 256 B + 4 kB of ids + 256 kB out through dram (cold)
    from roofsim.traffic import gathered_bytes, library_seconds
    assert gathered_bytes(g) == 256_000 and gathered_bytes(K.elementwise("e", 10)) == 0
    assert library_seconds([g], [hw])[0, 0] == pytest.approx(1000 * (10e-9 + 256 * 0.1e-9))


def test_a_row_broadcast_operand_costs_its_time_per_element():
    plain = K.elementwise("sub", 10 ** 6, dtype="fp32")
    bcast = K.elementwise("sub", 10 ** 6, dtype="fp32", broadcast=True)
    # the broadcast (rows, 1) operand's bytes are negligible: the same 8 MB move
    assert (bcast.read_bytes, bcast.write_bytes) == (plain.read_bytes, plain.write_bytes) == (4e6, 4e6)
    hw = random_cpu(per_item={"broadcast": "0.5 ns"})
    t_plain, t_bcast = (evaluate(hw, [op])["time_s"][0] for op in (plain, bcast))
    # 8 MB / 10 GB/s = 0.8 ms at dram either way; the broadcast loop adds 1e6 x 0.5 ns = 0.5 ms in series
    assert t_plain == pytest.approx(8e6 / 10e9) and t_bcast == pytest.approx(8e6 / 10e9 + 1e6 * 0.5e-9)
    # without the term (the catalogue) the flag changes nothing
    assert evaluate(HW, [bcast])["time_s"][0] == pytest.approx(8e6 / 10e9)


def test_new_efficiency_fields_round_trip_and_are_checked():
    hw = random_cpu(per_item={"gather": "10 ns", "spmm": "2 ns", "reduction": "20 ns", "gemm": "0.3 ns"},
                    per_call={"default": "0.5 us", "gemm": "1.5 us"}, memory_parallelism=6)
    assert build_hardware(to_doc(hw)) == hw
    assert hw.efficiency.item_seconds("spmm") == pytest.approx(2e-9) and hw.efficiency.item_seconds("softmax") == 0
    assert hw.efficiency.call_seconds("gemm") == pytest.approx(1.5e-6)
    assert hw.efficiency.call_seconds("softmax") == pytest.approx(0.5e-6)   # the default
    with pytest.raises(SpecError) as e:
        random_cpu(per_item={"softmax": "1 ns", "gather": "-1 ns"}, memory_parallelism=0.5,
                   per_call={"gemm": "2 s", "collective": "1 us", "default": "nan s"})
    assert [str(p) for p in e.value.problems] == [
        "efficiency.per_item.softmax: expected one of the keys gather, spmm, reduction, gemm, broadcast, gathered_byte, "
        "found unknown key 'softmax'",
        "efficiency.per_item.gather: expected a non-negative time, e.g. 5 us, found '-1 ns'",
        "efficiency.memory_parallelism: expected a number >= 1, found 0.5",
        "efficiency.per_call.gemm: expected a time from 0 s to 1 s, e.g. 5 us, found '2 s', implausibly large",
        "efficiency.per_call.collective: expected one of the keys default, elementwise, reduction, gemm, gather, "
        "spmm, layernorm, rmsnorm, softmax, found unknown key 'collective'",
        "efficiency.per_call.default: expected a time, e.g. 5 us, found 'nan s'",
    ]
    def compute_problems(unit, rates):
        with pytest.raises(SpecError) as e:
            build_hardware({**to_doc(HW), "compute": {"source": "x", "vector": {"fp64": "1 GFLOP/s"}, unit: rates}})
        return [str(p) for p in e.value.problems]
    assert compute_problems("transcendental", {"fp33": "1 GFLOP/s", "fp32": "-1 GFLOP/s"}) == [
        "compute.transcendental.fp33: expected one of the keys fp64, fp32, tf32, fp16, bf16, fp8, fp6, fp4, int8, "
        "int4, found unknown key 'fp33' (did you mean 'fp32'?)",
        "compute.transcendental.fp32: expected a positive compute rate, e.g. 312 TFLOP/s, found '-1 GFLOP/s'",
    ]
    assert compute_problems("fma", {"fp64": "1 GB/s", "fp32": "0 FLOP/s"}) == [
        "compute.fma.fp64: expected a compute rate, e.g. 312 TFLOP/s, found '1 GB/s', which is a bandwidth",
        "compute.fma.fp32: expected a positive compute rate, e.g. 312 TFLOP/s, found '0 FLOP/s'",
    ]


def test_fresh_outputs_pay_first_touch_above_the_allocator_threshold():
    big = K.elementwise("big", 8 * 2 ** 20, dtype="fp64", allocates=True)      # 64 MiB output
    small = K.elementwise("small", 2 ** 20, dtype="fp64", allocates=True)      # 8 MiB output
    given = K.elementwise("given", 8 * 2 ** 20, dtype="fp64")                   # writes into a given buffer
    hw = random_cpu(first_touch={"bandwidth": "8 GB/s", "above": "32 MiB"})
    df = evaluate(hw, [big, small, given])
    # big: 128 MiB of bytes / 10 GB/s at dram + its 64 MiB output faulted in at 8 GB/s;
    # small: 8 MiB <= 32 MiB, recycled by the allocator; given: no allocation
    mib = 2 ** 20
    assert df["time_s"].tolist() == pytest.approx([128 * mib / 10e9 + 64 * mib / 8e9, 16 * mib / 10e9,
                                                   128 * mib / 10e9])
    assert evaluate(HW, [big])["time_s"][0] == pytest.approx(128 * mib / 10e9)   # no first_touch: unpriced
    assert build_hardware(to_doc(hw)) == hw
    with pytest.raises(SpecError) as e:
        random_cpu(first_touch={"bandwidth": "0 B/s", "above": "-1 B", "colour": 1})
    assert [str(p) for p in e.value.problems] == [
        "efficiency.first_touch.bandwidth: expected a positive bandwidth, e.g. 2 TB/s, found '0 B/s'",
        "efficiency.first_touch.above: expected a positive size, e.g. 80 GB or 40 MiB, found '-1 B'",
        "efficiency.first_touch.colour: expected one of the keys bandwidth, above, source, notes, found unknown key "
        "'colour'",
    ]


def test_gemm_fraction_by_its_smallest_dimension():
    hw = random_cpu(compute_by_depth=[[4, 0.25], [64, 0.5], [1024, 1.0]])
    shallow = K.gemm("shallow", 4096, 4096, 16, dtype="fp64", weight=None)   # smallest dimension k = 16
    square = K.gemm("square", 2048, 2048, 2048, dtype="fp64", weight=None)
    add = K.elementwise("add", 2 ** 30, dtype="fp64")
    df = evaluate(hw, [shallow, square, add])
    # log2(16) = 4 lies halfway between log2(4) = 2 and log2(64) = 6: fraction (0.25 + 0.5) / 2 = 0.375
    # shallow: 2 x 4096^2 x 16 FLOPs / (10 GFLOP/s x 0.375); square: clamped at 1.0 above 1024
    assert df["time_compute_s"].tolist()[:2] == pytest.approx([2 * 4096 ** 2 * 16 / 10e9 / 0.375,
                                                               2 * 2048 ** 3 / 10e9])
    assert df["time_compute_s"][2] == pytest.approx(2 ** 30 / 10e9)   # not a GEMM: untouched
    assert build_hardware(to_doc(hw)) == hw
    with pytest.raises(SpecError) as e:
        random_cpu(compute_by_depth=[[64, 0.5], [4, 1.5]])
    assert [str(p) for p in e.value.problems] == [
        "efficiency.compute_by_depth[1][1]: expected a number > 0 and <= 1, found 1.5"]
    with pytest.raises(SpecError) as e:
        random_cpu(compute_by_depth=[[64, 0.5], [4, 1.0]])
    assert [str(p) for p in e.value.problems] == [
        "efficiency.compute_by_depth: expected increasing dimensions, found [64.0, 4.0]"]


def test_new_op_fields_in_workload_files_are_checked():
    from roofsim.ops.from_doc import build_workload
    doc = {"schema_version": 1, "name": "w", "description": "d", "source": "s", "ops": [
        {"op": "elementwise", "name": "exp", "elements": 1000, "dtype": "fp32", "transcendentals_per_element": 1,
         "allocates": True},
        {"op": "reduction", "name": "sum", "elements": 6400, "outputs": 64, "run": 64, "dtype": "fp32"}]}
    wl = build_workload(doc)
    # exp: 1000 FLOPs and 1000 transcendental evaluations, output allocated; sum: 6400 / 64 = 100 runs
    assert [f.flops for f in wl.ops[0].flops] == [1000, 1000] and wl.ops[0].allocates
    assert op_items(wl.ops[1]) == 100
    bad = dict(doc, ops=[dict(doc["ops"][0], allocates="yes"), dict(doc["ops"][1], run=6401),
                         dict(doc["ops"][0], name="neg", transcendentals_per_element=-1)])
    with pytest.raises(SpecError) as e:
        build_workload(bad)
    assert [str(p) for p in e.value.problems] == [
        "ops[0] (exp).allocates: expected true or false, found 'yes'",
        "ops[1] (sum).run: expected a whole number from 1 to 6400, found 6401",
        "ops[2] (neg).transcendentals_per_element: expected a whole number from 0 to 64, found -1"]


def test_a_gemv_reads_main_memory_no_faster_than_the_librarys_gemv_rate():
    gemv = K.gemm("gemv", 1, 4096, 4096, dtype="fp64")
    gemm2 = K.gemm("gemm", 2, 4096, 4096, dtype="fp64")
    slow = random_cpu(gemv_bandwidth="5 GB/s")
    # bytes at dram: the 4096 x 4096 fp64 matrix once (134,217,728 B), y written once (32,768 B),
    # and x (32,768 B) twice: more than the 16 KiB a tile may use of the 32 KiB l1d (TILE_FRACTION)
    plain = evaluate(random_cpu(), [gemv])
    b = 4096 * 4096 * 8 + 32768 + 2 * 32768
    assert plain["bytes_dram"][0] == b
    # at the 10 GB/s dram plateau 13.4 ms; the library's GEMV reads at 5 GB/s: 26.9 ms
    assert plain["time_s"][0] == pytest.approx(b / 10e9)
    assert evaluate(slow, [gemv])["time_s"][0] == pytest.approx(b / 5e9)
    # a GEMV rate above the plateau changes nothing; nor does it touch a GEMM with m = 2
    assert evaluate(random_cpu(gemv_bandwidth="50 GB/s"), [gemv])["time_s"][0] == pytest.approx(b / 10e9)
    assert evaluate(slow, [gemm2])["time_s"][0] == evaluate(random_cpu(), [gemm2])["time_s"][0]
    # hostile: a rate that is not a bandwidth, one line naming the key
    with pytest.raises(SpecError) as e:
        random_cpu(gemv_bandwidth="5 GB")
    assert [str(p) for p in e.value.problems] == [
        "efficiency.gemv_bandwidth: expected a bandwidth, e.g. 2 TB/s, found '5 GB', which is a size"]
