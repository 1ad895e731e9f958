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


def test_library_time_per_item_is_a_floor():
    g = K.gather("g", 1000, 256, 10 ** 6, pooling=1)
    df = evaluate(random_cpu(per_item={"gather": "1 us"}), [g])
    # 1000 rows x 1 us = 1 ms, above the 51.6 us of bytes: the 'latency' (fixed costs) bound
    assert df["time_s"][0] == pytest.approx(1e-3) and df["bound"][0] == "latency"
    assert evaluate(random_cpu(per_item={"gather": "1 us"}), [g], ideal=True)["time_s"][0] == pytest.approx(516000 / 10e9)


def test_new_efficiency_fields_round_trip_and_are_checked():
    hw = random_cpu(per_item={"gather": "10 ns", "spmm": "2 ns"}, memory_parallelism=6)
    assert build_hardware(to_doc(hw)) == hw
    assert hw.efficiency.item_seconds("spmm") == pytest.approx(2e-9) and hw.efficiency.item_seconds("gemm") == 0
    with pytest.raises(SpecError) as e:
        random_cpu(per_item={"gemm": "1 ns", "gather": "-1 ns"}, memory_parallelism=0.5)
    assert [str(p) for p in e.value.problems] == [
        "efficiency.per_item.gemm: expected one of the keys gather, spmm, found unknown key 'gemm'",
        "efficiency.per_item.gather: expected a non-negative time, e.g. 5 us, found '-1 ns'",
        "efficiency.memory_parallelism: expected a number >= 1, found 0.5",
    ]
