"""Embedding tables beyond device memory: placement of the hottest rows, far-tier bytes."""
import json
from types import SimpleNamespace as NS

import pytest
from click.testing import CliRunner

from roofsim.cache.predictors import far_split
from roofsim.cli import main
from roofsim.hw import get_hardware
from roofsim.ops import Workload, kinds
from roofsim.ops.access import GatherAccess
from roofsim.ops.popularity import top_mass
from roofsim.tiers import main_budget, place_tables, resident_rows
from roofsim.workloads import get_workload


def test_tables_that_fit_stay_in_main_memory():
    wl = get_workload("dlrm-kaggle")
    same, tables = place_tables(wl, get_hardware("a100"))
    assert same is wl and not any(t["far_bytes"] for t in tables)


def test_the_hottest_rows_fill_what_the_step_leaves():
    a100 = get_hardware("a100")
    wl = get_workload("dlrm-criteo-full")
    placed, tables = place_tables(wl, a100)
    budget = main_budget(wl, a100)
    held = sum(t["hbm"] for t in tables)
    # 452.0 GB of tables, about 85.4 GB of HBM left after the MLPs and activations
    assert 0.999 * budget <= held <= budget
    assert sum(t["far_bytes"] for t in tables) == pytest.approx(882_774_559 * 512 - held)
    by = {t["table"]: t for t in tables}
    assert by["emb_5"]["far_bytes"] == 0            # 3 rows: always worth keeping
    assert by["emb_0"]["far_bytes"] > 0 and by["emb_0"]["hbm"] > 0    # its hottest rows stay
    ops = {op.name: op for op in placed.ops}
    assert ops["emb_0"].access.far_tier == "host" and 0 < ops["emb_0"].access.resident_rows < 227_605_432


def test_hotter_tables_win_main_memory():
    hot = GatherAccess(lookups=1000, row_bytes=100, table_rows=100, distribution="uniform")
    cold = GatherAccess(lookups=10, row_bytes=100, table_rows=100, distribution="uniform")
    # room for one table (10,000 B): the one read 10 times per row per step stays
    assert resident_rows([cold, hot], 10_000) == [0, 100]


def test_far_tier_serves_the_non_resident_rows():
    hw = get_hardware("a100")
    acc = GatherAccess(lookups=1000, row_bytes=512, table_rows=10**6, distribution="uniform",
                       resident_rows=250_000, far_tier="host")
    names = [m.name for m in hw.memory]
    served = tuple(1e6 if n == "hbm" else 0.0 for n in names)
    out = far_split(acc, hw, served)
    # uniform: 3/4 of the lookups fall on the 750,000 rows in host: 750 x 512 B
    assert out[names.index("host")] == 750 * 512 and out[names.index("hbm")] == 1e6 - 750 * 512
    # Zipf(1): the top 1% of 10^6 rows carry ~ H(10^4) / H(10^6) = 9.788 / 14.393 = 68% of lookups
    assert top_mass(10**4, 10**6, "zipf", 1.0) == pytest.approx(9.7876 / 14.3927, rel=1e-3)


def test_cli_reports_the_split():
    r = CliRunner().invoke(main, ["run", "--hw", "a100", "--workload", "dlrm-criteo-full", "--top", "3"])
    assert r.exit_code == 0, r.output
    assert "Embedding tables beyond hbm" in r.output and "live in host" in r.output
    d = json.loads(CliRunner().invoke(main, ["run", "--hw", "a100", "--workload", "dlrm-criteo-full",
                                             "--format", "json"]).output)
    assert sum(t["far_bytes"] for t in d["tables"]) > 3e11
    emb0 = next(o for o in d["ops"] if o["name"] == "emb_0")
    assert emb0["bytes"]["host"] > 0 and emb0["bound"] == "memory:host"
