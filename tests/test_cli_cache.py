"""`roofsim cache simulate|mrc`: JSON equals the Python API, tables, errors, lazy numba."""
import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from roofsim.cache.config import CacheLevelConfig
from roofsim.cache.mrc import mrc
from roofsim.cache.simulator import simulate
from roofsim.cli import main


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(8)
    trace = rng.integers(0, 1 << 20, 20000).astype(np.uint64)
    writes = rng.random(20000) < 0.25
    np.save(tmp_path / "t.npy", trace)
    np.save(tmp_path / "w.npy", writes)
    np.save(tmp_path / "f.npy", trace.astype(np.float64))
    return tmp_path, trace, writes


def run(*args):
    return CliRunner().invoke(main, ["cache", *map(str, args)])


def test_simulate_json_equals_api(files):
    d, trace, writes = files
    r = run("simulate", "--trace", d / "t.npy", "--writes", d / "w.npy", "--level",
            "32KiB,8,64,lru", "--level", "256KiB,16,64,plru", "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    want = simulate(trace, [CacheLevelConfig.parse("32KiB,8,64,lru"),
                            CacheLevelConfig.parse("256KiB,16,64,plru")], writes=writes)
    assert [lv["name"] for lv in doc["levels"]] == ["L1", "L2"]
    for got, exp in zip(doc["levels"], want):
        for key in ("capacity_bytes", "ways", "line_bytes", "policy", "accesses", "hits",
                    "misses", "evictions", "writebacks"):
            assert got[key] == getattr(exp, key)
    assert doc["seconds"] > 0 and doc["accesses_per_s"] == pytest.approx(20000 / doc["seconds"])


def test_simulate_table(files):
    d, _, _ = files
    r = run("simulate", "--trace", d / "t.npy", "--level", "32KiB,8,64,lru", "--inclusive")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].split()[:5] == ["level", "capacity", "ways", "line", "policy"]
    assert "20000 accesses in" in r.output


def test_mrc_json_equals_api(files):
    d, trace, _ = files
    r = run("mrc", "--trace", d / "t.npy", "--line", 64, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    curve = mrc(trace, 64)
    assert doc["accesses"] == 20000 and doc["sample_rate"] == 1.0
    for p in doc["points"]:
        assert p["misses"] == pytest.approx(curve.misses(p["capacity_bytes"]))
    r = run("mrc", "--trace", d / "t.npy", "--sample-rate", 0.5)
    assert r.exit_code == 0 and "sample rate 0.5" in r.output


@pytest.mark.parametrize("args, message", [
    (("simulate", "--trace", "{d}/missing.npy", "--level", "32KiB,8,64,lru"),
     "error: {d}/missing.npy: no such file"),
    (("simulate", "--trace", "{d}/f.npy", "--level", "32KiB,8,64,lru"),
     "error: {d}/f.npy: expected integer byte addresses (e.g. uint64 or int64), found float64"),
    (("simulate", "--trace", "{d}/t.npy", "--level", "32KiB,8,64,lfu"),
     "error: cache level L1: policy: expected one of lru, fifo, random, plru, found 'lfu'"),
    (("mrc", "--trace", "{d}/t.npy", "--sample-rate", "2"),
     "error: sample rate: expected a number in (0, 1], found 2.0"),
])
def test_bad_input_is_one_line_and_exit_2(files, args, message):
    d, _, _ = files
    r = run(*[a.format(d=d) for a in args])
    assert r.exit_code == 2
    assert r.output.strip() == message.format(d=d)


def test_numba_is_not_imported_by_import_or_help():
    code = ("import sys, roofsim, roofsim.cache.simulator, roofsim.cache.mrc, "
            "roofsim.cache.predictors, roofsim.cache.traces, roofsim.cli.cache\n"
            "from click.testing import CliRunner\nfrom roofsim.cli import main\n"
            "assert CliRunner().invoke(main, ['cache', '--help']).exit_code == 0\n"
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
