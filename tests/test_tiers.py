"""Embedding tables beyond device memory: placement of the hottest rows, far-tier bytes, and one
answer from every entry point (run, compare, roofsim.run, query, sweeps, sensitivity)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

import roofsim
from roofsim.api import predictor
from roofsim.cli import main
from roofsim.hw import derive, get_hardware
from roofsim.ops import Workload, kinds
from roofsim.ops.access import GatherAccess
from roofsim.ops.popularity import top_mass
from roofsim.sweep import Sweep, base_value, param
from roofsim.tiers import far_share, main_budget, place_tables, resident_rows
from roofsim.workloads import get_workload

A100_HBM = 80 * 2**30          # 85,899,345,920 B (80 GiB)


def test_tables_that_fit_stay_in_main_memory():
    tp = place_tables(get_workload("dlrm-kaggle"), get_hardware("a100"))
    assert tp.tables and not tp.spills and not any(t.far_bytes or t.far_lookup_bytes for t in tp.tables)


def test_the_hottest_rows_fill_what_the_step_leaves():
    a100 = get_hardware("a100")
    wl = get_workload("dlrm-criteo-full")
    tp = place_tables(wl, a100)
    budget = main_budget(wl, a100)
    held = sum(t.main_bytes for t in tp.tables)
    # 452.0 GB of tables, about 85.4 GB of HBM left after the MLPs and activations; the rows
    # left over by the threshold top the budget up to within one row (512 B)
    assert budget - 512 <= held <= budget
    assert sum(t.far_bytes for t in tp.tables) == pytest.approx(882_774_559 * 512 - held)
    by = {t.table: t for t in tp.tables}
    assert by["emb_5"].far_bytes == 0            # 3 rows: always worth keeping
    assert by["emb_0"].far_bytes > 0 and by["emb_0"].main_bytes > 0    # its hottest rows stay
    assert tp.far_tier == "host" and 0 < by["emb_0"].resident_rows < 227_605_432


def test_hotter_tables_win_main_memory():
    hot = GatherAccess(lookups=1000, row_bytes=100, table_rows=100, distribution="uniform")
    cold = GatherAccess(lookups=10, row_bytes=100, table_rows=100, distribution="uniform")
    # room for one table (10,000 B): the one read 10 times per row per step stays
    assert resident_rows([cold, hot], 10_000) == [0, 100]
    # room for 150 rows: the hot table whole, then 50 rows of the cold one (a uniform table's
    # rows are all equally good, so as many as fit)
    assert resident_rows([cold, hot], 15_000) == [50, 100]
    # the same at many budgets at once (a sweep): 0, 5,000 and 20,000 B
    assert resident_rows([cold, hot], np.array([0.0, 5_000.0, 20_000.0])).tolist() == [[0, 0], [0, 50], [100, 100]]


def test_far_share_is_the_mass_beyond_the_resident_rows():
    uni = GatherAccess(lookups=1000, row_bytes=512, table_rows=10**6, distribution="uniform")
    # uniform: 3/4 of the lookups fall on the 750,000 rows beyond the first 250,000
    assert far_share(uni, 250_000) == 0.75
    # Zipf(1): the top 1% of 10^6 rows carry ~ H(10^4) / H(10^6) = 9.788 / 14.393 = 68% of lookups
    z = GatherAccess(lookups=1000, row_bytes=512, table_rows=10**6, distribution="zipf", zipf_alpha=1.0)
    assert top_mass(10**4, 10**6, "zipf", 1.0) == pytest.approx(9.7876 / 14.3927, rel=1e-3)
    assert far_share(z, 10**4) == pytest.approx(1 - 9.7876 / 14.3927, rel=1e-3)
    assert far_share(z, np.array([0, 10**6])).tolist() == [1.0, 0.0]


def _one_table():
    """One uniform table of 200 M rows x 512 B = 102.4 GB, read 10^6 times per step (inference)."""
    op = kinds.gather("t", lookups=10**6, row_bytes=512, table_rows=200_000_000, table_role="input")
    return Workload("one-table", (op,))


# Hand derivation for _one_table on an A100 80GB:
#   the rest of the step: the gather's output, 10^6 bags x 512 B = 512,000,000 B (the table is
#   'other', the only other part of the footprint);
#   budget = 85,899,345,920 - 512,000,000 = 85,387,345,920 B -> 166,772,160 resident rows (/ 512 B);
#   far share of the lookups = 1 - 166,772,160 / 200,000,000 = 0.1661392;
#   bytes per step read from host = 10^6 x 0.1661392 x 512 B = 85,063,270.4 B.
FAR_BYTES = 85_063_270.4


def test_far_tier_bytes_by_hand_from_every_entry_point():
    wl, a100 = _one_table(), get_hardware("a100")
    tp = place_tables(wl, a100)
    assert tp.budget == A100_HBM - 512_000_000 and tp.tables[0].resident_rows == 166_772_160
    for model in ("compulsory", "mrc"):
        df = roofsim.run("a100", wl, cache_model=model)
        assert df["bytes_host"].sum() == pytest.approx(FAR_BYTES, rel=1e-9)
        assert df["bound"].iloc[0] == "memory:host"      # 85 MB at 32 GB/s: 2.7 ms, the slowest term
        q = roofsim.query("a100", wl, cache_model=model)
        assert q.total_time_s[0] == pytest.approx(df["time_s"].sum(), rel=1e-12)
    # a sweep's base point (and a point with HBM enough for the whole table: nothing from host)
    ps = [param("memory.hbm.capacity", a100)]
    sweep = Sweep(a100, [wl], ps, predictor=predictor("mrc"))
    base = base_value(ps[0], a100)
    out = sweep.evaluate(np.array([[base], [200e9]]))
    assert out["time_s"][0] == pytest.approx(roofsim.run("a100", wl)["time_s"].sum(), rel=1e-9)
    big = derive(a100, {"memory.hbm.capacity": 200e9}, id="a100-200gb")
    big_df = roofsim.run(big, wl)
    assert big_df["bytes_host"].sum() == 0
    assert out["time_s"][1] == pytest.approx(big_df["time_s"].sum(), rel=1e-9)


def _cli_json(*args):
    r = CliRunner().invoke(main, [*args, "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_run_compare_and_python_agree_where_tables_spill():
    args = ["--workload", "dlrm-criteo-full", "--cache-model", "compulsory"]
    run = _cli_json("run", "--hw", "a100", *args)
    cmp = _cli_json("compare", "--hw", "h100,a100", *args)
    df = roofsim.run(["h100", "a100"], "dlrm-criteo-full", cache_model="compulsory")
    a = df[df["hardware"] == "a100-sxm4-80gb"]
    assert cmp["hardware"][1]["total_time_s"] == pytest.approx(run["total_time_s"], rel=1e-12)
    assert a["time_s"].sum() == pytest.approx(run["total_time_s"], rel=1e-12)
    assert a["bytes_host"].tolist() == pytest.approx([o["bytes"]["host"] for o in run["ops"]], rel=1e-12)
    # the footer's far traffic is the ops' host bytes, and the JSON says what the time assumes
    tables = run["memory"]["embedding_tables"]
    assert tables["far_traffic_bytes_per_step"] == pytest.approx(a["bytes_host"].sum(), rel=1e-12)
    assert run["memory"]["assumes"].startswith("embedding tables spilled to host")
    assert run["memory"]["unplaced_bytes"] == 0
    assert cmp["hardware"][1]["memory"]["embedding_tables"] == tables


def test_cli_reports_the_split():
    r = CliRunner().invoke(main, ["run", "--hw", "a100", "--workload", "dlrm-criteo-full", "--top", "3"])
    assert r.exit_code == 0, r.output
    assert "Embedding tables beyond hbm" in r.output and "read from host at 32 GB/s" in r.output
    assert "assumes" not in r.output.split("Embedding tables")[1]   # nothing else is left unplaced
    d = _cli_json("run", "--hw", "a100", "--workload", "dlrm-criteo-full")
    assert d["memory"]["embedding_tables"]["far_bytes"] > 3e11
    emb0 = next(o for o in d["ops"] if o["name"] == "emb_0")
    assert emb0["bytes"]["host"] > 0 and emb0["bound"] == "memory:host"
    r = CliRunner().invoke(main, ["compare", "--hw", "a100,h100", "--workload", "dlrm-criteo-full"])
    assert "tables in host" in r.output


def test_tables_that_fit_say_everything_is_resident():
    d = _cli_json("run", "--hw", "a100", "--workload", "dlrm-kaggle", "--cache-model", "compulsory")
    assert d["memory"]["assumes"] == "everything is resident in hbm"
    assert d["memory"]["embedding_tables"]["far_bytes"] == 0


def test_what_the_far_tier_cannot_hold_is_said_unachievable():
    from roofsim.report import assumption, unplaced_bytes
    from roofsim.memory import footprint
    wl = _one_table()
    # 102.4 GB of table beyond an A100's HBM: 85,387,345,920 B stay, 17,012,654,080 B go to host.
    small = derive(get_hardware("a100"), {"memory.host.capacity": 10e9}, id="a100-host-10gb")
    tp = place_tables(wl, small)
    fp = footprint(wl, small)
    assert tp.far_capacity == 10e9 and tp.far_held == 10e9
    # the footprint is 102.4 GB + 0.512 GB; HBM holds 85,899,345,920 B, host 10^10 B:
    # 102,912,000,000 - 10,000,000,000 - 85,899,345,920 = 7,012,654,080 B held nowhere
    assert unplaced_bytes(fp, tp) == 7_012_654_080
    assert assumption(fp, tp, [1]).endswith("not a time this device can achieve")
    assert unplaced_bytes(fp, place_tables(wl, get_hardware("a100"))) == 0   # the catalogue's host: no capacity given
