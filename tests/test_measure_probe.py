"""roofsim probe: the OS cache description, plateaus, and the hardware document's round trip."""
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from roofsim.cli import main
from roofsim.hardware import build_hardware
from roofsim.hw import get_hardware
from roofsim.loader import dump_yaml
from roofsim.measure.probe import (CacheInfo, ProbeResult, effective_capacities, level_windows, os_caches,
                                   plateaus, sweep_sizes, to_document, Plan)

from naive import naive_chase


def fake_sysfs(root: Path, entries):
    for i, (level, kind, size, line, ways, shared) in enumerate(entries):
        d = root / "cpu0" / "cache" / f"index{i}"
        d.mkdir(parents=True)
        for name, value in (("level", level), ("type", kind), ("size", size), ("coherency_line_size", line),
                            ("ways_of_associativity", ways), ("shared_cpu_list", shared)):
            (d / name).write_text(f"{value}\n")


def test_os_caches_reads_sysfs(tmp_path, monkeypatch):
    monkeypatch.setattr("roofsim.measure.probe.cpu_count", lambda: 4)
    fake_sysfs(tmp_path, [(1, "Data", "48K", 64, 12, "0"), (1, "Instruction", "32K", 64, 8, "0"),
                          (2, "Unified", "2048K", 64, 16, "0-1"), (3, "Unified", "30M", 64, 12, "0-3")])
    got = os_caches(tmp_path)
    # the instruction cache is skipped; instances = 4 CPUs / CPUs sharing one
    assert got == [CacheInfo(1, "Data", 48 * 1024, 64, 12, 1, 4), CacheInfo(2, "Unified", 2 * 2**20, 64, 16, 2, 2),
                   CacheInfo(3, "Unified", 30 * 2**20, 64, 12, 4, 1)]
    assert [c.name for c in got] == ["l1d", "l2", "l3"]


def test_os_caches_without_sysfs_is_empty(tmp_path):
    assert os_caches(tmp_path / "nothing") == []


CACHES = [CacheInfo(1, "Data", 32 * 1024, 64, 8, 1, 2), CacheInfo(2, "Unified", 1024 * 1024, 64, 8, 1, 2),
          CacheInfo(3, "Unified", 32 * 2**20, 64, 16, 2, 1)]


def test_level_windows_and_plateaus():
    w = level_windows(CACHES)
    # l1d: (2 KiB floor, 16 KiB]; l2: (2 x 32 KiB, 512 KiB]; l3: (2 MiB, 16 MiB]; dram: 4 x 32 MiB and up
    assert w == {"l1d": (2048.0, 16384.0), "l2": (65536.0, 524288.0), "l3": (2.0 * 2**20, 16.0 * 2**20),
                 "dram": (128.0 * 2**20, float("inf"))}
    sweep = [("add", 8192, 100e9), ("add", 16384, 120e9), ("add", 131072, 60e9), ("add", 262144, 50e9),
             ("add", 524288, 70e9), ("add", 4 * 2**20, 30e9), ("add", 256 * 2**20, 10e9)]
    p = plateaus(sweep, w)
    # medians of the points inside each window: (100 + 120) / 2; median of 60, 50, 70; one point each
    assert p == {"l1d": {"add": 110e9}, "l2": {"add": 60e9}, "l3": {"add": 30e9}, "dram": {"add": 10e9}}


def test_sweep_sizes_are_geometric_up_to_four_last_caches():
    sizes = sweep_sizes(CACHES, Plan(sweep_points_per_octave=1, sweep_max_bytes=2**30))
    # 4 KiB doubling to 4 x 32 MiB = 128 MiB: 2^12 .. 2^27, 16 sizes
    assert sizes[0] == 4096 and sizes[-1] == 128 * 2**20 and len(sizes) == 16


def synthetic_result() -> ProbeResult:
    r = ProbeResult(caches=CACHES, threads_all=2, threads_controlled=True)
    r.peaks_1t = {"fp64": 40e9, "fp32": 80e9}
    r.peaks_all = {"fp64": 70e9, "fp32": 140e9}
    r.gemm_sizes = [("fp64", 64, 2.0 * 64 ** 3, 10e9), ("fp64", 256, 2.0 * 256 ** 3, 30e9)]
    r.plateaus = {"l1d": {"read": 90e9, "add": 100e9}, "l2": {"add": 70e9}, "l3": {"add": 50e9},
                  "dram": {"read": 20e9, "add": 15e9}}
    r.latency = {"l1d": 1e-9, "l2": 4e-9, "l3": 20e-9, "dram": 100e-9}
    r.overheads = {"ufunc on 1 element": 4e-7, "2x2 GEMM": 1e-6}
    r.calls = {"elementwise": 4e-7, "gemm": 1e-6, "reduction": 1.5e-6}
    r.items = {"gather": 15e-9, "reduction": 20e-9, "gemm": 0.25e-9, "spmm": 1.5e-9, "gathered_byte": 0.03e-9}
    r.vector = {"fp64": 4e9, "fp32": 5e9}
    r.transcendental = {"fp64": 1.5e9, "fp32": 3e9}
    r.fma = {"fp32": 16e9}
    r.memory_parallelism = 2.345
    r.depth = [(4.0, 0.5), (64.0, 0.9), (768.0, 1.0)]
    r.first_touch = 8e9
    r.gemv = 19e9
    r.spreads = [0.01, 0.02, 0.5]
    r.seconds = 60.0
    return r


def test_document_round_trips_through_yaml(tmp_path):
    doc = to_document(synthetic_result(), id="my-box", today="2026-12-01", version="9.9")
    path = tmp_path / "my-box.yaml"
    path.write_text(dump_yaml(doc, header="test"))
    assert yaml.safe_load(path.read_text()) == doc
    hw = get_hardware(str(path))
    assert hw == build_hardware(doc, file=str(path))
    assert hw.kind == "measured" and hw.id == "my-box"
    assert dict(hw.provenance) == {"method": doc["provenance"]["method"], "date": "2026-12-01",
                                  "tool": "roofsim 9.9", "notes": "60 s; median spread of repeats 2.0%"}
    assert hw.compute.peaks() == {"fp64": 40e9, "fp32": 80e9}
    assert [(m.name, m.bandwidth_bytes_per_s, m.latency_s) for m in hw.memory] == [
        ("l1d", 100e9, 1e-9), ("l2", 70e9, 4e-9), ("l3", 50e9, 20e-9), ("dram", 15e9, 100e-9)]
    # one thread's view: one instance of each cache (the chip's two private L1/L2 are in the notes)
    assert [(m.capacity_bytes, m.instances, m.shared_by, m.line_bytes, m.ways) for m in hw.memory[:3]] == [
        (32768, 1, 1, 64, 8), (2**20, 1, 1, 64, 8), (32 * 2**20, 1, 2, 64, 16)]
    assert hw.memory[0].notes.startswith("2 on the chip, each shared by 1 CPU(s)")
    # calls are added to every op (no floor): the ufunc call is the default of the other kinds
    assert hw.efficiency.latency_s == 0.0 and hw.efficiency.compute_by_size == ()
    assert dict(hw.efficiency.per_call_s) == {"default": 4e-7, "gemm": 1e-6, "reduction": 1.5e-6}
    assert dict(hw.efficiency.per_item_s) == {"gather": 15e-9, "reduction": 20e-9, "gemm": 0.25e-9, "spmm": 1.5e-9,
                                              "gathered_byte": 0.03e-9}
    assert hw.efficiency.memory_parallelism == 2.35   # rounded to 2 decimals
    assert hw.efficiency.compute_by_depth == ((4.0, 0.5), (64.0, 0.9), (768.0, 1.0))
    # fresh outputs above glibc's largest mmap threshold, 32 MiB, fault in at the measured 8 GB/s
    assert (hw.efficiency.first_touch_bytes_per_s, hw.efficiency.fresh_above_bytes) == (8e9, 32 * 2 ** 20)
    assert hw.efficiency.gemv_bytes_per_s == 19e9   # BLAS GEMV reading its matrix from DRAM
    # BLAS peaks are the matrix rate (GEMM ops), numpy's loop the vector rate, np.exp the transcendental
    assert dict(hw.compute.matrix) == {"fp64": 40e9, "fp32": 80e9}
    assert dict(hw.compute.vector) == {"fp64": 4e9, "fp32": 5e9}
    assert dict(hw.compute.transcendental) == {"fp64": 1.5e9, "fp32": 3e9}
    assert dict(hw.compute.fma) == {"fp32": 16e9}
    # the small GEMMs are reported, not a size table: 10 / 40 GFLOP/s and 30 / 40
    assert hw.compute.notes.endswith("n=64 25%, n=256 75%")


# a latency curve like this 2-vCPU VM's (measured 2026-12-01): 2 ns to 32 KiB, 4.7 ns to 256 KiB, rising
# to 15 ns at 2 MiB, 18.8 ns at 8 MiB, then DRAM's ~150 ns from 11.3 MiB: sysfs says the L3 is 32 MiB
KIB, MIB = 1024, 2**20
CURVE = [(4 * KIB, 1.9e-9), (16 * KIB, 1.9e-9), (32 * KIB, 2.1e-9), (64 * KIB, 4.7e-9), (256 * KIB, 4.7e-9),
         (512 * KIB, 6.1e-9), (1 * MIB, 9.5e-9), (2 * MIB, 15.0e-9), (4 * MIB, 16.1e-9), (8 * MIB, 18.8e-9),
         (11.3 * MIB, 118.8e-9), (16 * MIB, 140.7e-9), (32 * MIB, 151.4e-9), (64 * MIB, 154.2e-9),
         (128 * MIB, 166.7e-9)]


def test_effective_capacity_is_the_latency_knee_of_a_shared_cache():
    l1, l2, l3 = effective_capacities(CACHES, CURVE)
    # l1d: 1.9 ns here, 4.7 ns at 64 KiB: threshold sqrt(1.9 * 4.7) = 2.99 ns, first passed at 64 KiB,
    # log-log between (32 KiB, 2.1) and (64 KiB, 4.7): 32 KiB * 2^(ln(2.99/2.1) / ln(4.7/2.1)) = 45.6 KiB,
    # above half of 32 KiB: the OS's 32 KiB stands (as does l2's: 4.7 ns, 15 ns at 2 MiB, sqrt = 8.4 ns,
    # passed between 512 KiB and 1 MiB, above half of 1 MiB)
    assert (l1.size_bytes, l2.size_bytes) == (32 * KIB, MIB)
    # l3: 16.1 ns (the lowest above 2 x 1 MiB, 4 MiB), 154.2 ns at 64 MiB: threshold sqrt(16.1 * 154.2)
    # = 49.8 ns, passed between (8 MiB, 18.8) and (11.3 MiB, 118.8): 8 MiB * (11.3 / 8)^(ln(49.8/18.8) /
    # ln(118.8/18.8)) = 8 MiB * 1.4125^0.5283 = 9.60 MiB, below half of 32 MiB: rounded down to whole
    # 64 B x 16-way sets
    import math
    knee = 8 * MIB * (11.3 / 8) ** (math.log(math.sqrt(16.1 * 154.2) / 18.8) / math.log(118.8 / 18.8))
    assert abs(knee / MIB - 9.60) < 0.01
    assert l3.size_bytes == int(knee // 1024 * 1024) and l3.size_bytes % 1024 == 0
    assert (l3.ways, l3.shared_by, l3.line_bytes) == (16, 2, 64)


def test_effective_capacity_keeps_the_os_figure_without_a_knee():
    # a flat curve beyond 2 MiB out to 64 MiB (the L3 holds everything up to its size), then DRAM
    flat = [(ws, t if ws <= 32 * MIB else 150e-9) for ws, t in CURVE]
    flat = [(ws, 16e-9 if 2 * MIB <= ws <= 32 * MIB else t) for ws, t in flat]
    assert [c.size_bytes for c in effective_capacities(CACHES, flat)] == [32 * KIB, MIB, 32 * MIB]
    # no point at twice a level's size (a sweep cut short): nothing to compare with, the OS's figure stands
    short = [(ws, t) for ws, t in CURVE if ws <= 16 * MIB]
    assert effective_capacities(CACHES, short)[2].size_bytes == 32 * MIB
    assert effective_capacities(CACHES, []) == CACHES


def test_document_says_where_the_capacity_came_from(tmp_path):
    r = synthetic_result()
    r.caches = effective_capacities(CACHES, CURVE)
    r.os_sizes = {"l3": 32 * MIB}
    doc = to_document(r, id="my-box", today="2026-12-01", version="9.9")
    l3 = doc["memory"][2]
    assert l3["capacity"] == f"{r.caches[2].size_bytes} B" and "latency knee" in l3["source"]
    assert l3["notes"].startswith(f"The OS says {32 * MIB} B;")
    assert "size" in doc["memory"][1]["source"] and "knee" not in doc["memory"][1]["source"]
    path = tmp_path / "my-box.yaml"
    path.write_text(dump_yaml(doc, header="test"))
    hw = get_hardware(str(path))
    assert [(m.capacity_bytes, m.os_capacity_bytes) for m in hw.memory[1:3]] == [
        (MIB, None), (r.caches[2].size_bytes, 32 * MIB)]
    # hw show gives both: the share the model uses, the OS's figure beside it
    out = CliRunner().invoke(main, ["hw", "show", str(path)]).output
    l3 = next(line for line in out.splitlines() if line.startswith("l3 "))
    assert "(OS: 32 MiB)" in l3 and "(OS:" not in next(line for line in out.splitlines() if line.startswith("l2 "))


def test_main_memory_window_starts_beyond_the_os_capacity():
    caches = effective_capacities(CACHES, CURVE)
    # l3's window follows its measured share: (2 x 1 MiB, share / 2]; main memory's starts at 4 x the
    # OS's 32 MiB = 128 MiB, not at 4 x the share (a non-LRU L3 that regains its neighbours' part
    # still serves some of a 40 MiB working set)
    w = level_windows(caches, {"l3": 32 * MIB})
    assert w["l3"] == (2.0 * MIB, caches[2].size_bytes / 2.0) and w["dram"] == (128.0 * MIB, float("inf"))
    assert level_windows(caches)["dram"] == (max(4.0 * caches[2].size_bytes, 16.0 * MIB), float("inf"))


def test_bandwidths_never_grow_outward():
    from roofsim.measure.probe import monotone_bandwidths
    # l1 measured below l2 (a call too short to time) is lifted to l2's 70; None stays None
    assert monotone_bandwidths([30.0, 70.0, None, 50.0, 15.0]) == [70.0, 70.0, None, 50.0, 15.0]


def test_noisy_when_the_median_spread_is_large():
    r = synthetic_result()
    assert r.median_spread == 0.02 and not r.noisy
    r.spreads = [0.2, 0.3, 0.01]
    assert r.noisy and "noisy" in to_document(r)["provenance"]["notes"]


def test_chase_kernel_matches_its_twin():
    import numpy as np
    from roofsim.kernels.chase import chase
    nxt = np.array([3, 0, 1, 2, 5, 4])
    # 0 -> 3 -> 2 -> 1 -> 0 -> 3 -> 2 after 6 steps
    assert chase(nxt, 0, 6) == naive_chase(nxt, 0, 6) == 2
    assert chase(nxt, 4, 3) == naive_chase(nxt, 4, 3) == 5


def test_quick_probe_writes_a_loadable_file(tmp_path):
    out = tmp_path / "local.yaml"
    r = CliRunner().invoke(main, ["probe", "--quick", "--no-progress", "-o", str(out)])
    assert r.exit_code == 0, r.output
    hw = get_hardware(str(out))
    assert hw.kind == "measured" and hw.compute.peaks()["fp64"] > 0
    assert hw.main_memory.bandwidth_bytes_per_s > 0 and hw.efficiency.call_seconds("gemm") > 0
    assert "peak fp64, 1 thread" in r.output   # the summary, on stderr


@pytest.mark.parametrize("bad", ["Bad_Id", "", "-x"])
def test_probe_refuses_bad_ids_before_measuring(bad):
    r = CliRunner().invoke(main, ["probe", "--quick", "--id", bad])
    assert r.exit_code == 2 and "--id: expected an id in lowercase-with-dashes" in r.output


def test_probe_refuses_an_output_folder(tmp_path):
    r = CliRunner().invoke(main, ["probe", "--quick", "-o", str(tmp_path)])
    assert r.exit_code == 2 and r.output.startswith("error: ")


def test_hw_show_lists_the_transcendental_rate_and_library_costs(tmp_path):
    doc = to_document(synthetic_result(), id="my-box", today="2026-12-01", version="9.9")
    path = tmp_path / "my-box.yaml"
    path.write_text(dump_yaml(doc, header="test"))
    r = CliRunner().invoke(main, ["hw", "show", str(path)])
    assert r.exit_code == 0, r.output
    # synthetic_result: 1.5e9 fp64 exp evaluations / s; a GEMM call 1 us; 15 ns per gathered row
    assert "transcendental  fp64   1.5 GFLOP/s" in r.output
    # its fp32 fma rate (scipy's SpMM), 16 GFLOP/s
    assert "fma             fp32    16 GFLOP/s" in r.output
    assert "gemm call 1 us" in r.output and "gather item 15 ns" in r.output
