"""Design-space sweeps: every point equals a single `run` of the same design; --vary parsing;
sampling; Pareto fronts on hand-made sets; infeasible points; costs; the MRC read once."""
import re

import numpy as np
import pytest
from click.testing import CliRunner

import roofsim
from roofsim.api import predictor
from roofsim.cli import main
from roofsim.errors import SpecError
from roofsim.hw import get_hardware
from roofsim.ops import Workload, collective, elementwise, gemm
from roofsim.sweep import (MAX_POINTS, CostModel, Sweep, design_points, design_sweep, pareto_front, parse_vary,
                           parse_workloads, run_sweep)
from roofsim.workloads import get_workload


@pytest.fixture(scope="module")
def h100():
    return get_hardware("h100")


def run_total(hw, wl, overrides, cache_model="mrc", ideal=False):
    from roofsim.sweep import param
    overrides = {param(k, hw).path: v for k, v in overrides.items()}  # compute.bf16 -> compute.matrix.bf16
    return roofsim.run(hw, wl, hw_overrides=overrides, cache_model=cache_model, ideal=ideal)["time_s"].sum()


def sweep_points(hw, wl, paths, rows, cache_model="mrc", ideal=False):
    from roofsim.sweep import param
    params = [param(p, hw) for p in paths]
    sw = Sweep(hw, [wl], params, ideal=ideal, predictor=predictor(cache_model), first=rows[0])
    return sw.evaluate(np.array(rows, dtype=float))


# ---- sweep == run at the same design -----------------------------------------------------------
COMM = Workload("comm-mix", (gemm("proj", 4096, 4096, 4096, "bf16"), elementwise("act", 1e8, "bf16"),
                             collective("allreduce", "all-reduce", 64e6, 8),
                             collective("gather-wide", "all-gather", 16e6, 64)))


@pytest.mark.parametrize("wl_name,paths,rows", [
    ("llama2-7b", ["memory.hbm.bandwidth", "compute.bf16"], [[2e12, 5e14], [8e12, 2e15], [3.35e12, 989.4e12]]),
    # l2 capacity moves the GEMM tiling of HBM and the embedding gather's miss-ratio curve
    ("llama2-7b", ["memory.l2.capacity", "memory.smem.bandwidth"], [[8 * 2**20, 1e13], [200 * 2**20, 6e13]]),
    # a 4096-wide fp32 row (16 KiB) does not fit an 8 KiB scratchpad: the kernel model's norms
    # read it twice; 1 MiB of L2 no longer holds the previous op's output (residency)
    ("llama2-7b", ["memory.smem.capacity", "memory.l2.capacity"], [[8 * 2**10, 1 * 2**20], [256 * 2**10, 50 * 2**20]]),
    ("dlrm", ["memory.l2.capacity", "memory.hbm.bandwidth"], [[4 * 2**20, 2e12], [50 * 2**20, 3.35e12],
                                                              [512 * 2**20, 5e12]]),
    ("dlrm", ["efficiency.latency", "compute.matrix.fp32"], [[1e-6, 1e14], [2e-5, 5e13]]),  # H100 has no matrix fp32
])
def test_each_point_equals_a_single_run_of_that_design(h100, wl_name, paths, rows):
    wl = get_workload(wl_name)
    got = sweep_points(h100, wl, paths, rows)["time_s"]
    for i, row in enumerate(rows):
        want = run_total(h100, wl_name, dict(zip(paths, row)))
        assert got[i] == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("ideal", [False, True])
def test_collectives_follow_the_swept_link_bandwidth(h100, ideal):
    # 8 ranks fit the NVLink domain (scale-up); 64 do not (scale-out, or hierarchical when faster)
    paths = ["interconnect.nvlink.bandwidth_per_direction", "interconnect.infiniband.bandwidth_per_direction"]
    rows = [[100e9, 5e9], [450e9, 50e9], [2e12, 400e9]]
    got = sweep_points(h100, COMM, paths, rows, ideal=ideal)["time_s"]
    for i, row in enumerate(rows):
        assert got[i] == pytest.approx(run_total(h100, COMM, dict(zip(paths, row)), ideal=ideal), rel=1e-12)


def test_compulsory_and_ideal_points_equal_runs(h100):
    wl = get_workload("llama2-7b")
    paths, rows = ["memory.hbm.bandwidth", "memory.l2.capacity"], [[1e12, 10e6], [9e12, 80e6]]
    for cache_model, ideal in (("compulsory", False), ("mrc", True)):
        got = sweep_points(h100, wl, paths, rows, cache_model, ideal)["time_s"]
        for i, row in enumerate(rows):
            assert got[i] == pytest.approx(run_total(h100, "llama2-7b", dict(zip(paths, row)), cache_model, ideal),
                                           rel=1e-12)


def test_a_mix_of_workloads_is_the_weighted_sum(h100):
    r = design_sweep(h100, "llama2-7b=0.7,dlrm=0.3", ["memory.hbm.bandwidth=2TB/s,4TB/s"], method="grid")
    for _, row in r.frame.iterrows():
        bw = row["memory.hbm.bandwidth_bytes_per_s"]
        a, b = (run_total(h100, w, {"memory.hbm.bandwidth": bw}) for w in ("llama2-7b", "dlrm"))
        assert (row["time_llama2-7b_s"], row["time_dlrm_s"]) == pytest.approx((a, b), rel=1e-12)
        assert row["time_s"] == pytest.approx(0.7 * a + 0.3 * b, rel=1e-12)


def test_miss_ratio_curves_are_built_once_per_warm_up_not_per_capacity(h100, monkeypatch):
    import roofsim.cache.predictors as predictors
    built = []
    real = predictors.MRCPredictor._curve
    monkeypatch.setattr(predictors.MRCPredictor, "_curve", lambda self, t, line: built.append(line) or real(self, t, line))
    p = predictors.MRCPredictor()
    from roofsim.sweep import param
    wl = get_workload("llama2-7b")   # one embedding gather of a 32000 x 8 KiB table (262 MB)
    sw = Sweep(h100, [wl], [param("memory.l2.capacity", h100)], predictor=p)
    before = len(built)
    caps = np.geomspace(1e6, 60e6, 200)
    sw.evaluate(caps[:, None])
    # the steady-state warm-up fills the L2 (capacity / 8 KiB rows) and takes one of <= 48
    # lengths: at most 2 curves (trace and warm-up prefix) per length, not 2 per capacity
    warm = predictors.warmup_lookups(wl.ops[0].access, caps / 8192, p.max_accesses)
    assert len(built) - before <= 2 * len(np.unique(warm)) < 200


# ---- feasibility ---------------------------------------------------------------------------------
def test_points_that_break_an_invariant_or_fit_no_tier_are_counted_not_fatal(h100):
    # Llama-2 70B decode holds 69e9 parameters x 2 bytes = 138 GB of weights: 80 GiB (85.9 GB) of
    # HBM cannot hold it, 192 GB can. An L2 of 100 GB is not smaller than 80 GiB of HBM: invalid.
    # A 10 GB host tier cannot hold the ~52 GB excess either: nowhere to put it.
    r = design_sweep(h100, "llama2-70b", ["memory.hbm.capacity=80GiB,192GB", "memory.l2.capacity=50MiB,100GB",
                                          "memory.host.capacity=10GB,1TB"])
    df = r.frame.set_index(["memory.hbm.capacity_bytes", "memory.l2.capacity_bytes", "memory.host.capacity_bytes"])
    assert df.loc[(80 * 2**30, 50 * 2**20, 10e9), "reason"] == "does not fit in its memory tiers"
    assert df.loc[(80 * 2**30, 50 * 2**20, 1e12), "reason"] == ""          # spills to the host
    assert not df.loc[(80 * 2**30, 50 * 2**20, 1e12), "fits"]
    assert df.loc[(192e9, 50 * 2**20, 10e9), "reason"] == ""
    assert df.loc[(80 * 2**30, 100e9, 1e12), "reason"].startswith("invalid design")
    assert df.loc[(192e9, 100e9, 1e12), "reason"] == ""   # 100 GB < 192 GB: a valid (if odd) design
    assert r.infeasible == {"does not fit in its memory tiers": 1,
                            "invalid design: a level not smaller than main memory": 2}
    assert not df["pareto"][~df["feasible"]].any()


def test_what_main_memory_cannot_hold_is_read_from_the_next_tier_each_step(h100):
    from roofsim.memory import footprint
    wl = get_workload("llama2-70b")
    r = design_sweep(h100, "llama2-70b", ["memory.hbm.capacity=80GiB,192GB", "memory.host.bandwidth=64GB/s,256GB/s"])
    df = r.frame.set_index(["memory.hbm.capacity_bytes", "memory.host.bandwidth_bytes_per_s"])
    fits_time = run_total(h100, "llama2-70b", {})   # HBM capacity does not change the roofline
    excess = footprint(wl).total - 80 * 2**30
    eff = h100.efficiency.memory_fraction("host")
    for bw in (64e9, 256e9):
        assert df.loc[(192e9, bw), "time_s"] == pytest.approx(fits_time, rel=1e-12)
        assert df.loc[(80 * 2**30, bw), "spilled_bytes"] == pytest.approx(excess)
        # the excess crosses the host tier once per step, after the rest
        assert df.loc[(80 * 2**30, bw), "time_s"] == pytest.approx(fits_time + excess / (bw * eff), rel=1e-12)
    assert df.loc[(80 * 2**30, 64e9), "bound"] == "memory:host"


# ---- Pareto --------------------------------------------------------------------------------------
def test_pareto_front_on_a_hand_made_set():
    #        0    1    2    3    4    5    6     7
    time = [1.0, 2.0, 2.0, 3.0, 1.5, 3.0, 1.0, np.nan]
    cost = [9.0, 4.0, 5.0, 1.0, 9.5, 1.0, 9.0, 0.1]
    # 0 (fastest) and 6 (its twin) are kept; 4 is beaten by 0; 1 beats 2 on cost at equal time;
    # 3 and 5 are the cheapest twins; 7 has no time
    assert pareto_front(time, cost).tolist() == [True, True, False, True, False, True, True, False]


def test_pareto_front_against_brute_force():
    rng = np.random.default_rng(7)
    t, c = rng.integers(0, 12, 300).astype(float), rng.integers(0, 12, 300).astype(float)
    dominated = [any((t[j] <= t[i] and c[j] <= c[i]) and (t[j] < t[i] or c[j] < c[i]) for j in range(300))
                 for i in range(300)]
    assert pareto_front(t, c).tolist() == [not d for d in dominated]


# ---- sampling ------------------------------------------------------------------------------------
def test_grid_log_and_list_axes(h100):
    axes = [parse_vary("memory.hbm.bandwidth=1TB/s:100TB/s:3:log", h100)[1],
            parse_vary("compute.bf16=1PFLOP/s,2PFLOP/s", h100)[1]]
    X = design_points(axes)
    assert X[:, 0].tolist() == pytest.approx([1e12, 1e12, 1e13, 1e13, 1e14, 1e14])  # 1, 10, 100 TB/s
    assert X[:, 1].tolist() == [1e15, 2e15] * 3


def test_latin_hypercube_uses_each_stratum_once(h100):
    axes = [parse_vary("memory.hbm.bandwidth=1TB/s:11TB/s", h100)[1],
            parse_vary("compute.bf16=1PFLOP/s:2PFLOP/s:5:log", h100)[1]]
    X = design_points(axes, "latin", samples=10, seed=3)
    # 10 strata of 1 TB/s each on the linear axis: every one hit exactly once
    assert sorted(np.floor((X[:, 0] - 1e12) / 1e12).astype(int).tolist()) == list(range(10))
    # log axis: strata equal in log2 from 0 to 1 (1 to 2 PFLOP/s)
    assert sorted(np.floor(np.log2(X[:, 1] / 1e15) * 10).astype(int).tolist()) == list(range(10))
    again = design_points(axes, "latin", samples=10, seed=3)
    assert np.array_equal(X, again)  # seeded


def test_random_samples_stay_in_range(h100):
    ax = parse_vary("memory.hbm.bandwidth=2TB/s:3TB/s", h100)[1]
    X = design_points([ax], "random", samples=1000, seed=1)
    assert X.shape == (1000, 1) and 2e12 <= X.min() and X.max() <= 3e12


# ---- hostile --vary and friends: one line, exit 2 ---------------------------------------------
@pytest.mark.parametrize("vary,message", [
    ("memory.hbm.bandwidth=8TB/s:2TB/s:4", "LO below HI"),
    ("memory.hbm.bandwidth=2:8:4", "no unit"),
    ("memory.hbm.bandwidth=2TFLOP/s:8TFLOP/s:4", "compute rate"),
    ("memory.hbm.bandwith=2TB/s:8TB/s:4", "a sweepable field of h100-sxm5"),
    ("compute.bf17=1PFLOP/s:2PFLOP/s:3", "a sweepable field"),
    ("memory.hbm.bandwidth=2TB/s:8TB/s:0", "N, a whole number"),
    ("memory.hbm.bandwidth=2TB/s:8TB/s:99999999999999", "N, a whole number"),
    ("memory.hbm.bandwidth=2TB/s:8TB/s:-3", "N, a whole number"),
    ("memory.hbm.bandwidth=2TB/s:8TB/s:2.5", "N, a whole number"),
    ("memory.hbm.bandwidth=nan TB/s:8TB/s:4", "expected a bandwidth"),
    ("memory.hbm.bandwidth=0TB/s:8TB/s:4", "a positive, finite value"),
    ("memory.hbm.bandwidth=-1TB/s:8TB/s:4", "a positive, finite value"),
    ("memory.hbm.bandwidth=1TB/s:inf TB/s:4", "expected a bandwidth"),
    ("memory.hbm.bandwidth=", "PATH=LO:HI:N"),
    ("memory.hbm.bandwidth", "PATH=LO:HI:N"),
    ("=2TB/s:3TB/s:2", "PATH=LO:HI:N"),
    ("memory.hbm.bandwidth=1TB/s:2TB/s:3:4:5", "LO:HI:N[:log]"),
    ("memory.hbm.bandwidth=1TB/s,,2TB/s", "a list of 1 to"),
    ("memory.hbm.bandwidth=2TB/s:8TB/s", "LO:HI:N for a grid"),
])
def test_bad_vary_is_one_line_and_exit_2(vary, message):
    r = CliRunner().invoke(main, ["sweep", "--hw", "h100", "--workload", "llama2-7b", "--vary", vary])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.output


@pytest.mark.parametrize("args,message", [
    (["--vary", "memory.hbm.bandwidth=1TB/s:2TB/s:2000", "--vary", "compute.bf16=1PFLOP/s:2PFLOP/s:2001"],
     f"at most {MAX_POINTS:,} design points"),
    (["--vary", "memory.hbm.bandwidth=1TB/s:2TB/s", "--method", "random", "--samples", "999999999"],
     f"at most {MAX_POINTS:,} design points"),
    (["--vary", "memory.hbm.bandwidth=1TB/s:2TB/s", "--method", "latin"], "--samples"),
    (["--vary", "memory.hbm.bandwidth=1TB/s:2TB/s:3", "--samples", "5"], "only with --method random or latin"),
    (["--vary", "memory.hbm.bandwidth=1TB/s:2TB/s:3", "--vary", "memory.hbm.bandwidth=1TB/s:2TB/s:3"], "each field once"),
    ([], "at least one PATH"),
    (["--vary", "memory.hbm.bandwidth=1TB/s:2TB/s:3", "--cost", "__import__('os')"], "only numbers"),
    (["--vary", "memory.hbm.bandwidth=1TB/s:2TB/s:3", "--cost", "hbm_bandwith * 2"], "did you mean 'hbm_bandwidth'"),
    (["--vary", "memory.hbm.bandwidth=1TB/s:2TB/s:3", "-o", "x.parquet"], "pyarrow"),
])
def test_bad_sweep_arguments_are_one_line_and_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if "x.parquet" in args:
        import importlib.util
        if importlib.util.find_spec("pyarrow") or importlib.util.find_spec("fastparquet"):
            pytest.skip("a Parquet engine is installed here")
    r = CliRunner().invoke(main, ["sweep", "--hw", "h100", "--workload", "llama2-7b", *args])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.output
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("text,message", [("a,,b", "NAME[=WEIGHT]"), ("a=0", "positive"), ("a=-1", "positive"),
                                          ("a=nan", "positive"), ("a=inf", "positive"), ("a=x", "positive"),
                                          ("a,a", "each workload once")])
def test_bad_workload_weights(text, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        parse_workloads(text)


def test_weights_parse():
    assert parse_workloads("llama2-70b=0.7, dlrm=0.3,bert-base") == [("llama2-70b", 0.7), ("dlrm", 0.3),
                                                                      ("bert-base", 1.0)]


# ---- cost ------------------------------------------------------------------------------------------
def test_cost_expression_over_the_design_fields(h100):
    r = design_sweep(h100, "llama2-7b", ["memory.hbm.bandwidth=2TB/s,4TB/s"],
                     cost="memory_hbm_bandwidth / 1e12 * 100 + max(peak_bf16, 1) / 1e15 * 50 + hbm_capacity * 0")
    # 2 TB/s -> 200 + 989.4 TFLOP/s x 50 / 1e3 = 249.47; 4 TB/s -> 449.47
    assert r.frame["cost"].tolist() == pytest.approx([200 + 49.47, 400 + 49.47])


def test_power_proxy_is_non_negative_and_grows_with_bandwidth(h100):
    r = design_sweep(h100, "llama2-7b", ["memory.hbm.bandwidth=2TB/s,4TB/s"])
    lo, hi = r.frame["cost"].tolist()
    assert 0 < lo <= hi
    assert "power proxy fitted to" in r.cost_model


def test_cli_sweep_writes_a_csv_and_prints_the_front(tmp_path):
    out = tmp_path / "s.csv"
    r = CliRunner().invoke(main, ["sweep", "--hw", "h100", "--workload", "llama2-7b", "--vary",
                                  "memory.hbm.bandwidth=2TB/s:8TB/s:7", "--vary", "compute.bf16=500TFLOP/s:2000TFLOP/s:4",
                                  "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "28 design points on llama2-7b: 28 feasible" in r.output
    import pandas as pd
    df = pd.read_csv(out)
    assert len(df) == 28
    # the decode step is bound by HBM: at equal bandwidth more FLOP/s cost more and buy nothing,
    # so the front holds the 500 TFLOP/s point of each of the 7 bandwidths
    front = df[df["pareto"]]
    assert len(front) == 7 and set(front["compute.matrix.bf16_flop_per_s"]) == {5e14}


@pytest.mark.parametrize("vary", [["memory.hbm.bandwidth=2TB/s:8TB/s:3", "compute.bf16=0.5PFLOP/s,1PFLOP/s"],
                                  ["memory.hbm.bandwidth=2TB/s:8TB/s:3"]])
def test_cli_sweep_draws_a_heatmap_or_a_pareto_scatter(tmp_path, vary):
    out = tmp_path / "s.png"
    args = [a for v in vary for a in ("--vary", v)]
    r = CliRunner().invoke(main, ["sweep", "--hw", "h100", "--workload", "llama2-7b", *args, "--plot", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_sweep_plot_with_a_bad_extension_is_one_line_before_any_work(tmp_path):
    r = CliRunner().invoke(main, ["sweep", "--hw", "h100", "--workload", "llama2-7b", "--vary",
                                  "memory.hbm.bandwidth=2TB/s:8TB/s:3", "--plot", str(tmp_path / "s.gif")])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and ".png, .svg or .pdf" in r.output
    assert list(tmp_path.iterdir()) == []


def test_chunks_on_threads_give_the_table_of_one_thread(monkeypatch):
    # three chunks (2 x 16,384 + 5 points) evaluated on two threads and on one: same table, bit
    # for bit, since chunks share nothing but read-only tables and the predictor's curve memo
    import roofsim.sweep as sweep_module
    from roofsim.sweep import CHUNK_POINTS
    vary = ["memory.hbm.bandwidth=1TB/s:10TB/s:log", "memory.l2.capacity=16MiB:64MiB"]
    tables = []
    for cores in (2, 1):
        monkeypatch.setattr(sweep_module, "_cores", lambda cores=cores: cores)
        tables.append(design_sweep("h100", "llama2-7b", vary, method="random", samples=2 * CHUNK_POINTS + 5, seed=4,
                                   wl_overrides={"layers": 1}).frame)
    assert tables[0].equals(tables[1])


# A measured CPU's library terms (roofsim probe writes them): the sweep must price them as run does.
# compute_by_depth was left out of sweeps once (llama2-7b points 3.5-6.8x too fast against run).
CPU_TERMS = {
    "efficiency.compute_by_depth": [[1, 0.1], [1024, 0.9]],
    "efficiency.memory_parallelism": 4,
    "efficiency.first_touch.bandwidth": "8 GB/s", "efficiency.first_touch.above": "1 MiB",
    "efficiency.per_call.default": "2 us", "efficiency.per_item.gather": "5 ns",
}


@pytest.mark.parametrize("kind", ["measured", "hypothetical"])
@pytest.mark.parametrize("wl_name", ["llama2-7b", "dlrm-kaggle"])
def test_a_measured_cpus_library_terms_are_priced_in_sweeps_as_in_run(wl_name, kind):
    # a sweep's designs keep the base's kind: a measured CPU stays one (the GPU kernel model, whose
    # tiles run over `cores` SMs, applies to gpu, accelerator and hypothetical kinds only; sweeps
    # once made every base "hypothetical" and priced a probed CPU's GEMMs 1.25-1.35x too slow)
    from roofsim.hw import derive
    base = get_hardware("epyc-9654")
    hw = derive(base, CPU_TERMS, kind=kind)
    main = [m for m in hw.memory if m.bandwidth_bytes_per_s][-1]
    paths = [f"memory.{main.name}.bandwidth"]
    rows = [[main.bandwidth_bytes_per_s], [2 * main.bandwidth_bytes_per_s]]
    got = sweep_points(hw, get_workload(wl_name), paths, rows)["time_s"]
    for i, row in enumerate(rows):
        assert got[i] == pytest.approx(run_total(hw, wl_name, dict(zip(paths, row))), rel=1e-12)
    # not vacuous: the terms move the answer (depth 0.1..0.9 slows every GEMM at least 1/0.9 = 1.11x,
    # and every op pays 2 us per call; llama2-7b's memory-bound ops dilute it to ~1.02x of the total)
    assert run_total(hw, wl_name, {}) > 1.01 * run_total(base, wl_name, {})


@pytest.mark.parametrize("wl_name", ["dlrm-kaggle", "gnn-sage-products"])
def test_a_measured_cpus_random_row_waits_are_priced_in_sweeps_as_in_run(wl_name):
    # a row an irregular op reads at random waits the serving level's latency / the misses in
    # flight (traffic.random_access_seconds), with the op's arithmetic in series beyond the
    # private caches: sweeps once left the waits out (GraphSAGE points 0.85x of run)
    from roofsim.hw import derive
    # every level timed, as a probed CPU has it (a bandwidth at each; the catalogue's EPYC gives its
    # caches latencies only)
    levels = {"memory.dram.latency": "120 ns", "memory.l1d.bandwidth": "3 TB/s", "memory.l2.bandwidth": "2 TB/s",
              "memory.l3.bandwidth": "1 TB/s"}
    hw = derive(get_hardware("epyc-9654"), {**CPU_TERMS, **levels}, kind="measured")
    paths = ["memory.dram.bandwidth"]
    rows = [[hw.memory[3].bandwidth_bytes_per_s], [2 * hw.memory[3].bandwidth_bytes_per_s]]
    got = sweep_points(hw, get_workload(wl_name), paths, rows)["time_s"]
    for i, row in enumerate(rows):
        assert got[i] == pytest.approx(run_total(hw, wl_name, dict(zip(paths, row))), rel=1e-12)
    # not vacuous: without misses in flight there is no random-access term, and the time falls
    calm = derive(get_hardware("epyc-9654"), {k: v for k, v in CPU_TERMS.items() if k != "efficiency.memory_parallelism"}
                  | levels, kind="measured")
    assert run_total(hw, wl_name, {}) > 1.001 * run_total(calm, wl_name, {})


def test_a_measured_cpus_gemv_rate_is_priced_in_sweeps_as_in_run():
    # efficiency.gemv_bandwidth caps the main-memory rate of GEMVs (m or n = 1) only
    from roofsim.hw import derive
    wl = Workload("decode", (gemm("gemv", 1, 8192, 8192, "fp32"), gemm("gemm", 64, 8192, 8192, "fp32")))
    hw = derive(get_hardware("epyc-9654"), {**CPU_TERMS, "efficiency.gemv_bandwidth": "20 GB/s"}, kind="measured")
    paths = ["memory.dram.bandwidth"]
    rows = [[hw.memory[3].bandwidth_bytes_per_s], [2 * hw.memory[3].bandwidth_bytes_per_s]]
    got = sweep_points(hw, wl, paths, rows)["time_s"]
    for i, row in enumerate(rows):
        assert got[i] == pytest.approx(run_total(hw, wl, dict(zip(paths, row))), rel=1e-12)
    df = roofsim.run(hw, wl)
    # the GEMV reads its 8192 x 8192 fp32 matrix (268 MB) at 20 GB/s: at least 13.4 ms
    assert df["time_s"][0] >= 8192 * 8192 * 4 / 20e9


def test_chunks_whose_points_spend_no_time_on_a_bound_still_assemble(monkeypatch):
    # A chunk has a time_<bound>_s column only where one of its points spends time on that bound.
    # Chunks of 2 points over HBM bandwidths of 10 GB/s, 1 TB/s, 100 TB/s and 10 PB/s: at 1 TB/s and
    # below a batch-1 decode layer is all memory- and latency-bound, from 100 TB/s its GEMMs are
    # bound by compute, so the first chunk has no time_compute_s column; the table is one chunk's.
    import roofsim.sweep as sweep_module
    vary = ["memory.hbm.bandwidth=10GB/s:10PB/s:4:log"]
    one = design_sweep("h100", "llama2-7b", vary, wl_overrides={"layers": 1, "batch": 1}).frame
    monkeypatch.setattr(sweep_module, "CHUNK_POINTS", 2)
    monkeypatch.setattr(sweep_module, "chunks", lambda total, size=2: [(i, min(i + 2, total)) for i in range(0, total, 2)])
    two = design_sweep("h100", "llama2-7b", vary, wl_overrides={"layers": 1, "batch": 1}).frame
    assert (one["time_compute_s"].iloc[:2] == 0).all() and one["time_compute_s"].iloc[-1] > 0
    assert list(two.columns) == list(one.columns) and two.equals(one)
