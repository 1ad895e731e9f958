"""Cache commands on hostile and unusual inputs: .npz traces, integer types, negative or
text traces, pickles, SHARDS rates too small to sample, HBM-sized levels, formats and --output."""
import csv
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner

from roofsim import kernels
from roofsim.cache.config import CacheLevelConfig
from roofsim.cache.simulator import simulate
from roofsim.cli import main

L1 = "1KiB,2,64,lru"  # 16 lines of 64 B


def run(*args):
    return CliRunner().invoke(main, ["cache", *map(str, args)])


def error_line(r, expected):
    assert r.exit_code == 2 and r.output == f"error: {expected}\n", r.output


@pytest.fixture
def trace():
    return np.random.default_rng(2).integers(0, 1 << 16, 5000).astype(np.uint64)


def level_counts(r):
    return [(lv["accesses"], lv["hits"], lv["misses"], lv["writebacks"]) for lv in json.loads(r.stdout)["levels"]]


def api_counts(trace, sizes=None, writes=None, levels=(L1,)):
    res = simulate(trace, [CacheLevelConfig.parse(s) for s in levels], sizes=sizes, writes=writes)
    return [(x.accesses, x.hits, x.misses, x.writebacks) for x in res]


@pytest.mark.parametrize("dtype", [np.int64, np.uint32, np.int32, ">u8"])
def test_any_integer_trace_equals_uint64(tmp_path, trace, dtype):
    np.save(tmp_path / "t.npy", trace.astype(dtype))
    r = run("simulate", "--trace", tmp_path / "t.npy", "--level", L1, "--format", "json")
    assert r.exit_code == 0, r.output
    assert level_counts(r) == api_counts(trace)


def test_npz_trace_with_its_writes_and_sizes(tmp_path, trace):
    writes = np.arange(5000) % 3 == 0
    sizes = np.full(5000, 4, np.int64)
    np.savez(tmp_path / "t.npz", addrs=trace.astype(np.int64), writes=writes, sizes=sizes)
    r = run("simulate", "--trace", tmp_path / "t.npz", "--level", L1, "--format", "json")
    assert r.exit_code == 0, r.output
    assert level_counts(r) == api_counts(trace, sizes, writes)
    # one array of any name is the trace
    np.savez_compressed(tmp_path / "one.npz", whatever=trace)
    r = run("simulate", "--trace", tmp_path / "one.npz", "--level", L1, "--format", "json")
    assert level_counts(r) == api_counts(trace)
    r = run("mrc", "--trace", tmp_path / "one.npz", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["accesses"] == 5000


@pytest.mark.parametrize("make,expected", [
    (lambda p: p.write_text("0x1000\n0x2000\n"), "{p}: not a .npy or .npz file (expected numpy's binary format)"),
    (lambda p: p.write_bytes(b""), "{p}: not a .npy or .npz file (expected numpy's binary format)"),
    (lambda p: np.save(p, np.array([0, 64, -5])), "{p}: byte addresses must be >= 0, found -5 at index 2"),
    (lambda p: np.save(p, np.array([0, 2**62], np.uint64)), "{p}: byte addresses must be below 2**62, found 4611686018427387904 at index 1"),
    (lambda p: np.save(p, np.array([1, "a"], object), allow_pickle=True),
     "{p}: the array holds Python objects, expected numbers (pickles are never loaded)"),
    (lambda p: np.save(p, np.zeros(3)), "{p}: expected integer byte addresses (e.g. uint64 or int64), found float64"),
    (lambda p: np.save(p, np.zeros(3, bool)), "{p}: expected integer byte addresses (e.g. uint64 or int64), found bool"),
    (lambda p: np.save(p, np.zeros((2, 2), np.uint64)), "{p}: expected a 1-D array of byte addresses, found shape (2, 2)"),
    (lambda p: p.write_bytes(open_npy_prefix()), "{p}: not a readable .npy file (shorter than its header says)"),
    (lambda p: p.write_bytes(b"\x93NUMPY\x01\x00garbage"), "{p}: not a readable .npy file (damaged header)"),
    (lambda p: p.write_bytes(b"PK\x03\x04garbage"), "{p}: not a readable .npz file (damaged or encrypted zip)"),
    (lambda p: np.savez(p.with_suffix(""), a=np.zeros(2), b=np.zeros(2)) or p.with_suffix(".npz").rename(p),
     "{p}: expected an array named 'addrs' (or a single array), found a, b"),
])
def test_bad_traces_are_one_line(tmp_path, make, expected):
    p = tmp_path / "t.npy"
    make(p)
    for cmd in (("simulate", "--level", L1), ("mrc",)):
        error_line(run(cmd[0], "--trace", p, *cmd[1:]), expected.format(p=p))


def open_npy_prefix():
    """The first 200 bytes of a .npy of 1,000 uint64: a header promising 8,000 bytes of data."""
    buf = io.BytesIO()
    np.save(buf, np.arange(1000, dtype=np.uint64))
    return buf.getvalue()[:200]


def test_npz_claiming_gigabytes_is_refused_unread(tmp_path):
    # a compressed .npz of 2^28 zeros (2 GiB as uint64) is ~2 MB on disk; it must not be inflated
    import zipfile
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<u8", "fortran_order": False, "shape": (1 << 28,)})
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w") as z:
        z.writestr("addrs.npy", header.getvalue())  # the header alone: its shape is the claim
    error_line(run("simulate", "--trace", tmp_path / "bomb.npz", "--level", L1),
               f"{tmp_path / 'bomb.npz'}: array 'addrs' of 2.0 GiB; a .npz is read whole, at most 1 GiB: "
               "save it with np.save as a .npy, which is memory-mapped")


@pytest.mark.parametrize("writes,expected", [
    (np.full(5000, 2), "expected write flags as bool or 0/1 integers, found int64 from 2 to 2"),
    (np.zeros(4, bool), "expected 5000 write flags (one per access), found 4"),
])
def test_bad_write_masks(tmp_path, trace, writes, expected):
    np.save(tmp_path / "t.npy", trace)
    np.save(tmp_path / "w.npy", writes)
    error_line(run("simulate", "--trace", tmp_path / "t.npy", "--writes", tmp_path / "w.npy", "--level", L1),
               f"{tmp_path / 'w.npy'}: {expected}")


def test_zero_sizes_refused(tmp_path, trace):
    np.save(tmp_path / "t.npy", trace)
    np.save(tmp_path / "s.npy", np.r_[np.ones(10, int), 0, np.ones(4989, int)])
    error_line(run("simulate", "--trace", tmp_path / "t.npy", "--sizes", tmp_path / "s.npy", "--level", L1),
               f"{tmp_path / 's.npy'}: access sizes must be >= 1 byte, found 0 at index 10")


def test_huge_access_size_refused(tmp_path, trace):
    # one access of 2**60 bytes is 2**54 lines of 64 B: it would run for ages from a tiny file
    np.save(tmp_path / "t.npy", trace)
    np.save(tmp_path / "s.npy", np.r_[np.ones(3, np.int64), 1 << 60, np.ones(4996, np.int64)])
    error_line(run("simulate", "--trace", tmp_path / "t.npy", "--sizes", tmp_path / "s.npy", "--level", L1),
               f"{tmp_path / 's.npy'}: access sizes must be at most 2**30 bytes (split larger transfers), "
               f"found {1 << 60} at index 3")
    with pytest.raises(Exception, match=r"sizes: expected at most 1073741824 bytes \(1 GiB\) per access"):
        simulate(trace[:4], [CacheLevelConfig.parse(L1)], sizes=np.array([1, 2, 1 << 31, 4]))


def test_shards_rate_too_small(tmp_path, trace):
    np.save(tmp_path / "t.npy", trace)
    # below the hash's resolution 2^-24 = 5.96e-8 the rate rounds to zero
    error_line(run("mrc", "--trace", tmp_path / "t.npy", "--sample-rate", "1e-9"),
               "sample rate: expected at least 2^-24 = 6e-08 (the sampling hash's resolution), found 1e-09")
    # 1e-6 keeps ~1 line in a million: of the trace's <= 1,024 distinct lines, none with seed 0
    error_line(run("mrc", "--trace", tmp_path / "t.npy", "--sample-rate", "1e-6"),
               "sample rate 1e-06 sampled none of the trace's 5000 line accesses: raise it "
               "(SHARDS wants thousands of sampled lines; 1 is exact)")


@pytest.mark.parametrize("big", ["16GiB,16,64,lru", "1TiB,16,64,fifo"])
def test_hbm_sized_level_through_the_cli(tmp_path, big):
    # 2 MiB footprint: the huge level misses each distinct line once (its sets never fill)
    t = np.random.default_rng(0).integers(0, 2 << 20, 100_000).astype(np.uint64)
    np.save(tmp_path / "t.npy", t)
    r = run("simulate", "--trace", tmp_path / "t.npy", "--level", "32KiB,8,64,lru", "--level", big,
            "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["levels"][1]["misses"] == len(np.unique(t >> np.uint64(6)))


def test_too_many_ways_is_one_line(tmp_path, trace):
    np.save(tmp_path / "t.npy", trace)
    # 1 TiB / 64 B = 2^34 ways in one fully associative set
    error_line(run("simulate", "--trace", tmp_path / "t.npy", "--level", "1TiB,full,64,lru"),
               "cache level L1: ways: expected at most 65536 (each access scans its set; `roofsim cache mrc` "
               "gives fully associative LRU of any size), found 17179869184")


@pytest.mark.parametrize("spec,found", [("1e30 B,8,64,lru", int(1e30)), ("8EiB,8,64,lru", 8 << 60)])  # quantities parse as floats
def test_capacity_beyond_the_address_space_is_one_line(tmp_path, trace, spec, found):
    # 1e30 B used to overflow the int64 parameter array with a traceback
    np.save(tmp_path / "t.npy", trace)
    error_line(run("simulate", "--trace", tmp_path / "t.npy", "--level", spec),
               f"cache level L1: capacity_bytes: expected at most 2**62 (4 EiB, the address space "
               f"simulated), found {found}")


def test_csv_is_plain_numbers_with_units_in_names(tmp_path, trace):
    np.save(tmp_path / "t.npy", trace)
    r = run("simulate", "--trace", tmp_path / "t.npy", "--level", L1, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.output)))
    (acc, hits, misses, _), = api_counts(trace)
    assert rows[0]["capacity_bytes"] == "1024" and rows[0]["line_bytes"] == "64"
    assert (int(rows[0]["accesses"]), int(rows[0]["hits"]), int(rows[0]["misses"])) == (acc, hits, misses)
    assert float(rows[0]["miss_ratio"]) == pytest.approx(misses / acc)
    r = run("mrc", "--trace", tmp_path / "t.npy", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert list(rows[0]) == ["capacity_bytes", "miss_ratio", "misses"]
    # one 64-byte line: every access misses except immediate repeats of the same line
    assert int(rows[0]["capacity_bytes"]) == 64 and float(rows[0]["miss_ratio"]) > 0.99


def test_json_times_the_simulation_apart_from_the_kernel_load(tmp_path, trace):
    np.save(tmp_path / "t.npy", trace)
    for cmd in (("simulate", "--level", L1), ("mrc",)):
        doc = json.loads(run(cmd[0], "--trace", tmp_path / "t.npy", *cmd[1:], "--format", "json").output)
        assert doc["seconds"] > 0 and doc["kernel_load_seconds"] > 0
        assert doc["accesses_per_s"] == pytest.approx(5000 / doc["seconds"])
        if cmd[0] == "simulate":  # one thread: its CPU time cannot exceed the wall time
            assert 0 < doc["cpu_seconds"] <= doc["seconds"] + 0.01


def test_output_file_through_the_safe_writer(tmp_path, trace):
    np.save(tmp_path / "t.npy", trace)
    out = tmp_path / "r.json"
    r = run("simulate", "--trace", tmp_path / "t.npy", "--level", L1, "--format", "json", "--output", out)
    assert r.exit_code == 0 and r.output == ""
    assert json.loads(out.read_text())["levels"][0]["accesses"] == 5000
    bad = tmp_path / "no" / "r.json"
    error_line(run("mrc", "--trace", tmp_path / "t.npy", "--output", bad),
               f"--output {bad}: cannot write: no such folder {str(bad.parent)!r}")


def test_compile_note_once_when_numba_has_no_cached_copy(tmp_path, trace, monkeypatch):
    np.save(tmp_path / "t.npy", trace)
    monkeypatch.setattr(kernels, "compiled_on_disk", lambda module: False)
    monkeypatch.setattr(kernels, "_checked", set())
    r = CliRunner().invoke(main, ["cache", "simulate", "--trace", str(tmp_path / "t.npy"), "--level", L1])
    assert r.exit_code == 0
    assert r.stderr == ("note: compiling roofsim's cachesim kernels on first use (several seconds, once: "
                        "numba caches them for later runs)\n")
    monkeypatch.setattr(kernels, "compiled_on_disk", lambda module: True)
    monkeypatch.setattr(kernels, "_checked", set())
    r = CliRunner().invoke(main, ["cache", "simulate", "--trace", str(tmp_path / "t.npy"), "--level", L1])
    assert r.stderr == ""


def test_hw_validate_formats():
    from pathlib import Path
    data = Path(__file__).parent / "data" / "hw"
    good, bad = str(data / "tiny-chip.yaml"), str(data / "broken-two-main.yaml")
    r = CliRunner().invoke(main, ["hw", "validate", good, bad, "--format", "json"])
    assert r.exit_code == 1  # one invalid file, as in table form
    doc = json.loads(r.stdout)
    assert (doc["valid"], doc["invalid"]) == (1, 1)
    assert doc["files"][0] == {"file": good, "valid": True, "problems": []}
    assert doc["files"][1]["problems"] == [
        f"{bad}: memory: expected exactly one level of type main, found ['hbm', 'dram']"]
    r = CliRunner().invoke(main, ["hw", "validate", good, bad, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(x["file"], x["valid"]) for x in rows] == [(good, "True"), (bad, "False")]


@pytest.mark.parametrize("line", ["0", "3", "-64", str(1 << 70)])
def test_mrc_line_sizes(tmp_path, trace, line):
    # 2**70 used to run: a shift past 63 bits put every access in one line
    np.save(tmp_path / "t.npy", trace)
    error_line(run("mrc", "--trace", tmp_path / "t.npy", "--line", line),
               f"line size: expected a power of two in bytes, at most 2**62, found {int(line)}")


def test_compiled_on_disk_looks_where_numba_does(tmp_path, monkeypatch):
    # with NUMBA_CACHE_DIR set numba reads and writes only there: an empty one means a compile
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert not kernels.compiled_on_disk("cachesim")
    (tmp_path / "roofsim_kernels").mkdir()
    (tmp_path / "roofsim_kernels" / "cachesim.simulate-132.py311.nbi").write_bytes(b"")
    assert kernels.compiled_on_disk("cachesim") and not kernels.compiled_on_disk("reuse")


def test_a_fifo_or_folder_as_trace_is_one_line_not_a_hang(tmp_path):
    import os
    os.mkfifo(tmp_path / "pipe.npy")  # opening it for reading would wait for a writer forever
    for p in (tmp_path / "pipe.npy", tmp_path):
        error_line(run("simulate", "--trace", p, "--level", L1),
                   f"{p}: not a regular file (a .npy is memory-mapped, a .npz unzipped)")
