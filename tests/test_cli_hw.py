"""`roofsim hw list/show/diff/validate`: filters, the documented JSON, exit codes, no tracebacks,
and user folders (--hw-path, ROOFSIM_PATH, a file path from another working directory)."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from roofsim import catalog
from roofsim.cli import main

DATA = Path(__file__).parent / "data" / "hw"
HW_DIR = catalog.bundled_dir("hardware")
CATALOGUE = sorted(HW_DIR.glob("*.yaml")) + sorted(HW_DIR.glob("*/*.yaml"))  # with hypothetical/


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def list_ids(*args):
    r = invoke("hw", "list", "--format", "json", *args)
    assert r.exit_code == 0, r.output
    return [d["id"] for d in json.loads(r.stdout)]


def kinds_in_yaml():
    """id -> kind read straight from the files (not through the loader)."""
    out = {}
    for p in CATALOGUE:
        m = re.search(r"^kind:\s*(\S+)", p.read_text(), re.M)
        out[p.stem] = m.group(1)
    return out


# ---- list ---------------------------------------------------------------------------------------
def test_list_table_has_every_device():
    r = invoke("hw", "list")
    assert r.exit_code == 0, r.output
    header = r.stdout.splitlines()[0].split()
    assert header == ["id", "name", "year", "kind", "bf16", "peak", "fp32", "peak", "memory", "bandwidth"]
    ids = [line.split()[0] for line in r.stdout.splitlines()[2:]]
    assert sorted(ids) == sorted(p.stem for p in CATALOGUE)
    assert len(ids) >= 45
    row = next(line for line in r.stdout.splitlines() if line.startswith("h100-sxm5 "))
    # human units: 989.4 TFLOP/s bf16, 66.9 TFLOP/s fp32, 80 GiB, 3.35 TB/s
    for text in ("989.4 TFLOP/s", "66.9 TFLOP/s", "80 GiB", "3.35 TB/s", "2022", "gpu"):
        assert text in row


def test_list_is_oldest_first():
    ids = list_ids()
    assert ids[0] == "mips-r10000"          # 1996-01, the oldest


def test_list_kind_gpu():
    expected = sorted(i for i, k in kinds_in_yaml().items() if k == "gpu")
    assert sorted(list_ids("--kind", "gpu")) == expected
    assert "h100-sxm5" in expected and "tpu-v4" not in expected and len(expected) >= 25


def test_list_kind_repeatable():
    k = kinds_in_yaml()
    assert sorted(list_ids("--kind", "tpu", "--kind", "cpu")) == sorted(i for i, v in k.items() if v in ("tpu", "cpu"))


def release_years():
    """id -> year from the files' own release_date (derived designs without one are left out)."""
    out = {}
    for p in CATALOGUE:
        m = re.search(r'^release_date:\s*"?(\d{4})', p.read_text(), re.M)
        if m:
            out[p.stem] = int(m.group(1))
    return out


def test_list_since_until():
    real_kinds = ("--kind", "gpu", "--kind", "cpu", "--kind", "tpu", "--kind", "accelerator")
    got = list_ids("--since", 2020, "--until", 2021, *real_kinds)
    kinds = kinds_in_yaml()
    assert sorted(got) == sorted(i for i, y in release_years().items()
                                 if 2020 <= y <= 2021 and kinds[i] != "hypothetical")
    # and by hand from the files, the devices of issue 2's era that must be there
    assert {
        "a100-sxm4-40gb",      # 2020-05
        "geforce-rtx-3090",    # 2020-09-24
        "a100-sxm4-80gb",      # 2020-11
        "mi100",               # 2020-11
        "epyc-7763",           # 2021-03-15
        "xeon-platinum-8380",  # 2021-04-06
        "a10",                 # 2021-04-12
        "tpu-v4",              # 2021-05
        "a100-pcie-80gb",      # 2021-06
        "mi250x",              # 2021-11
    } <= set(got)
    assert not {"v100-sxm2-32gb", "h100-sxm5", "t4"} & set(got)    # 2018, 2022, 2018
    # without --kind, derived designs show with the release date they inherit from their base
    extra = set(list_ids("--since", 2020, "--until", 2021)) - set(got)
    assert extra <= {i for i, k in kinds.items() if k == "hypothetical"}


def test_list_since_only_and_until_only():
    assert list_ids("--until", 1998) == ["mips-r10000", "pentium-ii-xeon-450"]   # 1996-01, 1998
    newest = list_ids("--since", 2025)
    assert "mi355x" in newest and "h100-sxm5" not in newest


def test_list_csv_is_si():
    r = invoke("hw", "list", "--format", "csv", "--kind", "gpu")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0] == "id,name,year,kind,bf16_flop_per_s,fp32_flop_per_s,memory_bytes,memory_bytes_per_s"
    h100 = next(line for line in lines if line.startswith("h100-sxm5,"))
    # 989.4e12 FLOP/s, 66.9e12 FLOP/s, 80 GiB = 85899345920 B, 3.35e12 B/s
    assert h100.split(",")[-4:] == ["989400000000000.0", "66900000000000.0", "85899345920.0", "3350000000000.0"]


def test_list_json_has_documented_keys():
    r = invoke("hw", "list", "--format", "json")
    devices = json.loads(r.stdout)
    for d in devices:
        assert {"id", "name", "vendor", "kind", "year", "aliases", "peak_flops", "memory", "interconnect",
                "tdp_w"} <= d.keys()


# ---- show ---------------------------------------------------------------------------------------
def test_show_json_h100():
    r = invoke("hw", "show", "h100", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert {"id", "name", "vendor", "kind", "year", "aliases", "peak_flops", "memory", "interconnect",
            "tdp_w"} <= d.keys()
    assert (d["id"], d["name"], d["vendor"], d["kind"], d["year"]) == (
        "h100-sxm5", "NVIDIA H100 SXM5 80GB", "NVIDIA", "gpu", 2022)
    assert d["aliases"] == ["h100", "h100-sxm"]
    assert d["tdp_w"] == 700.0
    # peak_flops: best dense peak per dtype over matrix and vector units, FLOP/s
    assert d["peak_flops"]["bf16"] == 989.4e12
    assert d["peak_flops"]["fp32"] == 66.9e12        # vector units; tf32 is separate
    assert d["peak_flops"]["tf32"] == 494.7e12
    assert d["peak_flops"]["fp8"] == 1978.9e12
    # memory innermost first, capacities over all instances, SI
    assert [m["name"] for m in d["memory"]] == ["registers", "smem", "l2", "hbm", "host"]
    for m in d["memory"]:
        assert {"name", "capacity_bytes", "bandwidth_bytes_per_s"} <= m.keys()
    by = {m["name"]: m for m in d["memory"]}
    assert by["registers"]["capacity_bytes"] == 256 * 1024 * 132      # 256 KiB x 132 SMs = 34603008
    assert by["l2"]["capacity_bytes"] == 50 * 1024**2
    assert by["hbm"]["capacity_bytes"] == 80 * 1024**3
    assert by["hbm"]["bandwidth_bytes_per_s"] == 3.35e12
    assert by["host"]["capacity_bytes"] is None and by["host"]["bandwidth_bytes_per_s"] == 64e9
    links = [(l["name"], l["bandwidth_bytes_per_s_per_direction"], l["links"]) for l in d["interconnect"]]
    # the DGX H100 per-GPU NDR InfiniBand port: 400 Gb/s = 50 GB/s per direction
    assert links == [("nvlink", 450e9, 18), ("pcie5", 64e9, None), ("infiniband", 50e9, 1)]


def test_show_table_and_csv():
    r = invoke("hw", "show", "h100")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0] == "NVIDIA H100 SXM5 80GB  [h100-sxm5]  NVIDIA gpu, released 2022-09"
    assert "Memory hierarchy (innermost first)" in r.stdout and "3.35 TB/s" in r.stdout
    assert "Interconnect (bandwidth per direction, summed over links)" in r.stdout
    assert "bf16 295" in r.stdout                       # ridge point 989.4e12 / 3.35e12 = 295.3
    r = invoke("hw", "show", "h100", "--format", "csv")
    assert r.exit_code == 0
    rows = dict(line.split(",", 1) for line in r.stdout.splitlines()[1:] if line.count(",") == 1)
    assert rows["memory.hbm.bandwidth"] == "3350000000000.0 B/s"


# ---- diff ---------------------------------------------------------------------------------------
def test_diff_a100_h100():
    r = invoke("hw", "diff", "a100", "h100", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert (d["a"], d["b"]) == ("a100-sxm4-80gb", "h100-sxm5")
    fields = {row["field"]: row for row in d["differences"]}
    # both have 80 GiB of HBM; only the bandwidth differs: 2.039 -> 3.35 TB/s, ratio 1.64
    assert [f for f in fields if f.startswith("memory.hbm.")] == ["memory.hbm.bandwidth"]
    hbm = fields["memory.hbm.bandwidth"]
    assert (hbm["a100-sxm4-80gb"], hbm["h100-sxm5"], hbm["ratio"]) == ("2039000000000.0 B/s", "3350000000000.0 B/s", "1.64")
    assert fields["compute.matrix.bf16"]["ratio"] == "3.17"       # 989.4 / 312
    assert fields["interconnect.nvlink.bandwidth_per_direction"]["ratio"] == "1.5"   # 450 / 300
    assert "id" not in fields and "name" not in fields and "aliases" not in fields


def test_diff_table_in_human_units():
    r = invoke("hw", "diff", "a100", "h100")
    assert r.exit_code == 0
    row = next(line for line in r.stdout.splitlines() if line.startswith("memory.hbm.bandwidth"))
    assert row.split() == ["memory.hbm.bandwidth", "2.039", "TB/s", "3.35", "TB/s", "1.64"]


def test_diff_same_device():
    r = invoke("hw", "diff", "h100", "h100-sxm5")
    assert (r.exit_code, r.stdout.strip()) == (0, "h100-sxm5 and h100-sxm5 have the same figures")


def test_diff_derived_against_base():
    r = invoke("hw", "diff", "h100", DATA / "derived-hbm6.yaml", "--format", "json")
    fields = {row["field"] for row in json.loads(r.stdout)["differences"]}
    # identity rows (id, name, aliases, source, notes) are skipped; kind and extends are shown
    assert fields == {"kind", "extends", "memory.hbm.bandwidth", "compute.matrix.bf16",
                      "interconnect.nvlink.bandwidth_per_direction"}


# ---- validate -----------------------------------------------------------------------------------
def test_validate_good_files_exit_0():
    files = [HW_DIR / "h100-sxm5.yaml", HW_DIR / "mi300x.yaml", DATA / "tiny-chip.yaml", DATA / "derived-hbm6.yaml"]
    r = invoke("hw", "validate", *files)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [f"ok    {f}" for f in files] + ["4 valid, 0 invalid"]


def test_validate_whole_catalogue():
    files = CATALOGUE
    r = invoke("hw", "validate", *files)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[-1] == f"{len(files)} valid, 0 invalid"


def test_validate_broken_exit_1_with_every_problem():
    good, bad, cyc = DATA / "tiny-chip.yaml", DATA / "broken-two-main.yaml", DATA / "cycle-a.yaml"
    r = invoke("hw", "validate", good, bad, cyc)
    assert r.exit_code == 1
    assert r.stdout.splitlines() == [
        f"ok    {good}",
        f"error {bad}: memory: expected exactly one level of type main, found ['hbm', 'dram']",
        f"error {cyc}: extends: expected a chain without cycles, found cycle-a -> cycle-b -> cycle-a",
        "1 valid, 2 invalid",
    ]
    assert "Traceback" not in r.output


def test_validate_many_problems_one_line_each():
    f = DATA / "broken-many.yaml"
    r = invoke("hw", "validate", f)
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert len(lines) == 10 + 1 and lines[-1] == "0 valid, 1 invalid"
    assert all(line.startswith(f"error {f}: ") for line in lines[:-1])
    assert lines[1] == (f"error {f}: compute.matrix.bf17: expected one of the keys fp64, fp32, tf32, fp16, bf16, "
                        "fp8, fp6, fp4, int8, int4, found unknown key 'bf17' (did you mean 'bf16'?)")


def test_validate_checks_id_against_file_name(tmp_path):
    p = tmp_path / "other-name.yaml"
    shutil.copy(DATA / "tiny-chip.yaml", p)
    r = invoke("hw", "validate", p)
    assert r.exit_code == 1
    assert r.stdout.splitlines()[0] == f"error {p}: id: expected the file name's stem 'other-name', found 'tiny-chip'"


def test_validate_missing_file(tmp_path):
    p = tmp_path / "absent.yaml"
    r = invoke("hw", "validate", p)
    assert r.exit_code == 1
    assert r.stdout.splitlines()[0] == f"error {p}: <top>: expected an existing file, found no such file"


# ---- bad input: exit 2, one line per problem, no traceback ---------------------------------------
def test_unknown_id_exits_2_with_one_line():
    r = invoke("hw", "show", "h1000")
    assert r.exit_code == 2
    assert r.stderr == "error: unknown hardware 'h1000'; did you mean h100, r10000, v100?\n"
    assert r.stdout == ""


def test_unknown_id_without_close_match():
    r = invoke("hw", "show", "qqqqqqqqqq")
    assert (r.exit_code, r.stderr) == (2, "error: unknown hardware 'qqqqqqqqqq'; run `roofsim hw list`\n")


def test_broken_file_in_show_exits_2():
    f = DATA / "broken-two-main.yaml"
    r = invoke("hw", "show", f)
    assert r.exit_code == 2
    assert r.stderr == f"error: {f}: memory: expected exactly one level of type main, found ['hbm', 'dram']\n"


def test_no_traceback_in_a_real_process():
    r = subprocess.run([sys.executable, "-m", "roofsim", "hw", "show", "qqqqqqqqqq"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr == "error: unknown hardware 'qqqqqqqqqq'; run `roofsim hw list`\n"
    assert "Traceback" not in r.stdout + r.stderr


# ---- user folders and paths ---------------------------------------------------------------------
@pytest.fixture
def user_dir(tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    shutil.copy(DATA / "tiny-chip.yaml", d / "tiny-chip.yaml")
    return d


def test_hw_path_finds_a_user_folder(user_dir):
    assert invoke("hw", "show", "tiny-chip").exit_code == 2          # not in the bundled catalogue
    r = invoke("hw", "show", "tiny-chip", "--hw-path", user_dir, "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    # 100 Gb/s = 12.5e9 B/s per direction; 16 GiB of DRAM at 100 GB/s
    assert d["interconnect"][0]["bandwidth_bytes_per_s_per_direction"] == 12.5e9
    assert d["memory"][1]["capacity_bytes"] == 16 * 1024**3
    r = invoke("hw", "show", "tiny", "--hw-path", user_dir, "--format", "json")   # alias
    assert json.loads(r.stdout)["id"] == "tiny-chip"
    assert "tiny-chip" in list_ids("--hw-path", user_dir)


def test_hw_path_with_a_hardware_subfolder(tmp_path):
    (tmp_path / "hardware").mkdir()
    shutil.copy(DATA / "tiny-chip.yaml", tmp_path / "hardware" / "tiny-chip.yaml")
    assert "tiny-chip" in list_ids("--hw-path", tmp_path)


def test_roofsim_path_finds_a_user_folder(user_dir, tmp_path):
    other = tmp_path / "empty"
    other.mkdir()
    env = {"ROOFSIM_PATH": os.pathsep.join([str(other), str(user_dir)])}
    r = invoke("hw", "show", "tiny-chip", "--format", "json", env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["name"] == "Tiny test chip"
    assert "tiny-chip" in [d["id"] for d in json.loads(invoke("hw", "list", "--format", "json", env=env).stdout)]


def test_file_path_from_another_working_directory(tmp_path):
    # a relative path is read from the working directory, whatever it is; bundled names still work
    shutil.copy(DATA / "tiny-chip.yaml", tmp_path / "tiny-chip.yaml")
    shutil.copy(DATA / "derived-hbm6.yaml", tmp_path / "derived-hbm6.yaml")
    shutil.copy(DATA / "derived-chain.yaml", tmp_path / "derived-chain.yaml")
    for args, key, value in [
        (["hw", "show", "./tiny-chip.yaml"], "id", "tiny-chip"),
        (["hw", "show", "tiny-chip.yaml"], "id", "tiny-chip"),
        (["hw", "show", str(tmp_path / "tiny-chip.yaml")], "id", "tiny-chip"),
        (["hw", "show", "derived-chain.yaml"], "extends", "derived-hbm6"),   # its extends is relative to it
        (["hw", "show", "a100"], "id", "a100-sxm4-80gb"),
    ]:
        r = subprocess.run([sys.executable, "-m", "roofsim", *args, "--format", "json"], cwd=tmp_path,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)[key] == value
