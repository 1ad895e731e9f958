"""roofsim calibrate: the fit recovers known parameters; the CLI writes a loadable derived file."""
import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import dataclasses

from roofsim.cli import main
from roofsim.hw import derive, get_hardware as _catalogue
from roofsim.measure.calibrate import (by_source, calibrate, cross_validate, derived_document, errors, fit,
                                       fit_parameters, folds, predict)
from roofsim.measure.records import Measurement
from roofsim.ops import elementwise, gemm

def get_hardware(name):
    """The catalogue device with roofsim's default efficiencies: the fit starts from them."""
    from roofsim.specs import DEFAULT_LATENCY_S, Efficiency
    hw = _catalogue(name)
    return dataclasses.replace(hw, efficiency=Efficiency(latency_s=DEFAULT_LATENCY_S[hw.kind]))


TRUE = {"efficiency.compute.default": 0.7, "efficiency.memory.hbm": 0.75, "efficiency.latency": "6 us",
        "efficiency.kernel.memory_latency": "2.5 us", "efficiency.kernel.tile_overhead_depth": 300}


def _ops():
    """Shapes that exercise every fitted parameter: large and small, compute- and memory-bound GEMMs,
    and copies from 64 KB (floor-bound) to 2 GB (bandwidth-bound)."""
    ops = []
    for m in (256, 1024, 4096, 8192):
        for n in (512, 4096):
            for k in (256, 4096):
                ops.append(gemm(f"g{m}x{n}x{k}", m, n, k, "bf16", weight=None))
    for e in (2 ** 14, 2 ** 18, 2 ** 22, 2 ** 26, 2 ** 28):
        ops.append(elementwise(f"e{e}", e, "bf16"))
    return ops


def _synthetic(hw, noise: float, seed: int = 1, source=lambda i: "synthetic"):
    rng = np.random.default_rng(seed)
    ops = _ops()
    exact = [Measurement(op.name, hw.id, op.kind, (op,), 1.0, "s") for op in ops]
    t = predict(hw, exact) * np.exp(rng.normal(0.0, noise, len(ops)))
    return [Measurement(op.name, "h100-sxm5", op.kind, (op,), float(ti), source(i)) for i, (op, ti) in enumerate(zip(ops, t))]


def test_the_fit_recovers_known_parameters_from_noisy_synthetic_measurements():
    base = get_hardware("h100")
    truth = derive(base, TRUE)
    ms = _synthetic(truth, noise=0.03)
    fitted, values = fit(base, ms)
    # the generating values, within a few percent despite 3 % lognormal noise per kernel
    assert values["compute"] == pytest.approx(0.7, rel=0.05)
    assert values["memory"] == pytest.approx(0.75, rel=0.05)
    assert values["latency"] == pytest.approx(6e-6, rel=0.10)
    assert values["memory_latency"] == pytest.approx(2.5e-6, rel=0.25)
    assert values["tile_overhead_depth"] == pytest.approx(300, rel=0.25)
    # and the fitted model predicts the noisy times about as well as the truth does (~3 %)
    assert np.mean(errors(fitted, ms)) < 0.04
    assert np.mean(errors(base, ms)) > 0.15      # the defaults were far off


def test_without_noise_the_fit_is_exact_but_for_the_weak_pull_to_the_start():
    base = get_hardware("h100")
    truth = derive(base, TRUE)
    fitted, values = fit(base, _synthetic(truth, noise=0.0))
    # PRIOR_WEIGHT (1e-4 of one kernel's squared log residual, in logit units) pulls a little towards the start
    assert values["compute"] == pytest.approx(0.7, rel=0.01)
    assert values["memory"] == pytest.approx(0.75, rel=0.01)
    # the worst kernel within 1.5 % (1 % before GEMMs had a fixed cost of their own): two fixed
    # costs (streaming kernels, GEMMs; 0 us in the truth) are each pulled towards their start
    # 1 us inside the range
    assert np.max(errors(fitted, _synthetic(truth, noise=0.0))) < 0.015


def test_fitted_values_stay_inside_their_bounds():
    base = get_hardware("h100")
    # measurements 20x faster than the peak allows: the fractions hit their upper bound of 1, not beyond
    truth = derive(base, TRUE)
    fast = [Measurement(m.name, m.device, m.category, m.ops, m.time_s / 20, m.source) for m in _synthetic(truth, 0.0)]
    _, values = fit(base, fast)
    for p in fit_parameters(base):
        assert p.lo <= values[p.name] <= p.hi


def test_cross_validation_holds_out_every_kernel_once():
    base = get_hardware("h100")
    ms = _synthetic(derive(base, TRUE), noise=0.03, source=lambda i: f"src{i % 3}")
    groups = folds(ms, 4)
    assert sorted(np.concatenate(groups).tolist()) == list(range(len(ms)))
    assert [len(g) for g in by_source(ms)] == [sum(1 for i in range(len(ms)) if i % 3 == s) for s in range(3)]
    cv = cross_validate(base, ms, groups)
    assert np.all(np.isfinite(cv))
    assert np.mean(cv) < 0.08      # held-out kernels predicted within noise + fit uncertainty


def _write(path: Path, rows):
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, ["device", "kind", "dtype", "m", "n", "k", "elements", "time_s", "source"])
        w.writeheader()
        w.writerows(rows)


def _csv_rows(ms):
    rows = []
    for m in ms:
        s = dict(m.ops[0].shape)
        rows.append({"device": "h100", "kind": m.ops[0].kind, "dtype": "bf16", "m": s.get("m", ""), "n": s.get("n", ""),
                     "k": s.get("k", ""), "elements": s.get("elements", ""), "time_s": repr(m.time_s), "source": m.source})
    return rows


def test_cli_writes_a_derived_file_that_loads_and_predicts_as_fitted(tmp_path):
    base = get_hardware("h100")
    ms = _synthetic(derive(base, TRUE), noise=0.02)
    data = tmp_path / "m.csv"
    _write(data, _csv_rows(ms))
    out = tmp_path / "h100-cal.yaml"
    r = CliRunner().invoke(main, ["calibrate", "--hw", "h100", "--measurements", str(data), "-o", str(out), "--folds", "3"])
    assert r.exit_code == 0, r.output
    assert "3-fold cross-validated" in r.output and "before (catalogue)" in r.output
    text = out.read_text()
    assert "extends: h100-sxm5" in text and "efficiency.compute.default" in text
    cal = _catalogue(str(out))
    assert cal.extends == "h100-sxm5" and cal.id == "h100-sxm5-calibrated"
    assert cal.efficiency.compute_fraction("bf16") == pytest.approx(0.7, rel=0.05)
    # validate accepts the derived file for the base device's measurements, and the error is small
    v = CliRunner().invoke(main, ["validate", "--hw", str(out), "--measurements", str(data), "--format", "json"])
    assert v.exit_code == 0, v.output


@pytest.mark.parametrize("rows,expected_lines", [
    # a missing required column (no time_s): one line naming the header
    ([{"device": "h100", "kind": "gemm", "dtype": "bf16", "m": 8, "n": 8, "k": 8, "source": "x"}], 1),
    # non-positive times: one line per bad row
    ([{"device": "h100", "kind": "gemm", "dtype": "bf16", "m": 8, "n": 8, "k": 8, "time_s": "0", "source": "x"},
      {"device": "h100", "kind": "gemm", "dtype": "bf16", "m": 8, "n": 8, "k": 8, "time_s": "-1e-6", "source": "x"}], 2),
])
def test_bad_measurement_files_are_refused_one_line_per_problem(tmp_path, rows, expected_lines):
    data = tmp_path / "bad.csv"
    cols = ["device", "kind", "dtype", "m", "n", "k", "source"] + (["time_s"] if "time_s" in rows[0] else [])
    with data.open("w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "never.yaml"
    r = CliRunner().invoke(main, ["calibrate", "--hw", "h100", "--measurements", str(data), "-o", str(out)])
    assert r.exit_code == 2
    lines = [l for l in r.output.splitlines() if l.startswith("error:")]
    assert len(lines) == expected_lines, r.output
    assert "Traceback" not in r.output and not out.exists()


def test_measurements_of_another_device_only_are_refused(tmp_path):
    data = tmp_path / "a100.csv"
    _write(data, [{"device": "a100", "kind": "gemm", "dtype": "bf16", "m": 64, "n": 64, "k": 64, "elements": "",
                   "time_s": "1e-5", "source": "x"}] * 4)
    r = CliRunner().invoke(main, ["calibrate", "--hw", "h100", "--measurements", str(data)])
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [
        "error: device: expected measurements of h100-sxm5 (or an alias of it), found only a100"]


def test_an_unknown_device_is_one_line(tmp_path):
    data = tmp_path / "m.csv"
    _write(data, [{"device": "h100", "kind": "gemm", "dtype": "bf16", "m": 64, "n": 64, "k": 64, "elements": "",
                   "time_s": "1e-5", "source": "x"}] * 4)
    r = CliRunner().invoke(main, ["calibrate", "--hw", "h9000", "--measurements", str(data)])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "h9000" in r.output


def test_too_few_kernels_to_fit_is_refused():
    from roofsim.errors import SpecError
    base = get_hardware("h100")
    with pytest.raises(SpecError, match="at least 3 kernels"):
        calibrate(base, _synthetic(base, 0.0)[:2])


def test_a_second_matrix_dtype_gets_its_own_compute_fraction():
    base = get_hardware("h100")
    truth = derive(base, {**TRUE, "efficiency.compute.fp8": 0.55})
    rng = np.random.default_rng(3)
    ops = _ops() + [gemm(f"f{m}x{k}", m, 8192, k, "fp8", weight=None) for m in (2048, 8192) for k in (1024, 8192)]
    exact = [Measurement(op.name, "h100-sxm5", op.kind, (op,), 1.0, "s") for op in ops]
    t = predict(truth, exact) * np.exp(rng.normal(0.0, 0.01, len(ops)))
    ms = [Measurement(op.name, "h100-sxm5", op.kind, (op,), float(ti), "s") for op, ti in zip(ops, t)]
    names = [p.name for p in fit_parameters(base, ms)]
    # bf16 (16 GEMMs) sets the default; fp8 (4 GEMMs >= MIN_KERNELS) gets its own fraction
    assert names[:2] == ["compute", "compute.fp8"]
    _, values = fit(base, ms)
    assert values["compute"] == pytest.approx(0.7, rel=0.05)
    assert values["compute.fp8"] == pytest.approx(0.55, rel=0.05)


def _host_timed(truth, seed=5):
    exact = [Measurement(op.name, "h100-sxm5", op.kind, (op,), 1.0, "s", timing="host") for op in _ops()]
    t = predict(truth, exact) * np.exp(np.random.default_rng(seed).normal(0.0, 0.01, len(exact)))
    return [dataclasses.replace(m, time_s=float(ti)) for m, ti in zip(exact, t)]


def test_host_timed_kernels_leave_the_devices_fixed_costs_where_they_start():
    # A host clock adds the framework's dispatch in series with the device's fixed costs: from
    # host-timed kernels alone the launch floor, the memory latency and the fixed costs per
    # kernel are not fitted (they keep the start's values), the dispatch is
    base = derive(get_hardware("h100"), {"efficiency.per_call.default": "2 us", "efficiency.per_call.gemm": "5 us"})
    truth = derive(base, {"efficiency.memory.hbm": 0.75, "efficiency.kernel.eager_overhead": "25 us"})
    ms = _host_timed(truth)
    names = [p.name for p in fit_parameters(base, ms)]
    assert "eager_overhead" in names
    assert not {"latency", "memory_latency", "fixed_cost", "fixed_cost.gemm"} & set(names)
    fitted, values = fit(base, ms)
    assert fitted.efficiency.latency_s == base.efficiency.latency_s                      # 4 us, the default
    assert fitted.efficiency.per_call_s == base.efficiency.per_call_s                    # 2 us and 5 us
    assert values["eager_overhead"] == pytest.approx(25e-6, rel=0.05)
    assert values["memory"] == pytest.approx(0.75, rel=0.05)
    # 3 device-timed kernels (MIN_KERNELS) among them bring the device terms back; the fixed cost
    # keys come from the device-timed kernels alone: 3 copies set ``default``; the host-timed
    # GEMMs fit no ``gemm`` (it keeps the spec's 5 us: fitted from host-timed GEMMs it would take
    # in the host's dispatch)
    copies = [dataclasses.replace(m, timing="kernel") for m in ms if m.kind == "elementwise"][:3]
    names = [p.name for p in fit_parameters(base, ms + copies)]
    assert {"latency", "memory_latency", "fixed_cost"} <= set(names) and "fixed_cost.gemm" not in names
    assert fit(base, ms + copies)[0].efficiency.call_seconds("gemm") == 5e-6
    bare = get_hardware("h100")                                                          # no per_call keys
    assert [p.name for p in fit_parameters(bare, ms + copies) if p.name.startswith("fixed_cost")] == ["fixed_cost"]


def test_calibrate_writes_the_device_terms_it_could_not_fit_with_their_starting_values():
    base = derive(get_hardware("h100"), {"efficiency.latency": "3 us"})
    truth = derive(base, {"efficiency.kernel.eager_overhead": "25 us"})
    cal = calibrate(base, _host_timed(truth))
    assert cal.values["latency"] == 3e-6 and cal.values["memory_latency"] == 1e-6   # held at the start
    doc = derived_document(cal)
    assert doc["set"]["efficiency.latency"] == "3 us"
    assert doc["set"]["efficiency.kernel.memory_latency"] == "1 us"


def test_host_timed_kernels_fit_the_eager_dispatch_instead_of_the_efficiencies():
    base = get_hardware("h100")
    truth = derive(base, {**TRUE, "efficiency.kernel.eager_overhead": "25 us"})
    ops = _ops()
    exact = [Measurement(op.name, "h100-sxm5", op.kind, (op,), 1.0, "s", timing="host") for op in ops]
    t = predict(truth, exact) * np.exp(np.random.default_rng(5).normal(0.0, 0.01, len(ops)))
    ms = [dataclasses.replace(m, time_s=float(ti)) for m, ti in zip(exact, t)]
    # a 64 KB copy is ~4 us of kernel and 25 us of dispatch: time = kernel model + 25 us per call
    assert "eager_overhead" in [p.name for p in fit_parameters(base, ms)]
    assert "eager_overhead" not in [p.name for p in fit_parameters(base, _synthetic(base, 0.0))]
    _, values = fit(base, ms)
    assert values["eager_overhead"] == pytest.approx(25e-6, rel=0.10)
    assert values["memory"] == pytest.approx(0.75, rel=0.05)


def test_compiled_calls_fit_their_own_host_cost_apart_from_eager_ops():
    # LLMCompass's harness times eager softmax calls and torch.compile'd LayerNorm calls on one host:
    # 10 us and 45 us of host time per call. Half the copies are timed as eager calls, half as
    # compiled ones; the fit recovers both host costs and the memory fraction.
    base = get_hardware("h100")
    truth = derive(base, {"efficiency.memory.hbm": 0.75, "efficiency.kernel.eager_overhead": "10 us",
                          "efficiency.kernel.compiled_overhead": "45 us"})
    ops = [elementwise(f"e{e}", e, "bf16") for e in (2 ** 14, 2 ** 18, 2 ** 22, 2 ** 26, 2 ** 28)]
    exact = [Measurement(f"{op.name}{t}", "h100-sxm5", op.kind, (op,), 1.0, "s", timing=t)
             for op in ops for t in ("host", "host-compiled")]
    t = predict(truth, exact) * np.exp(np.random.default_rng(7).normal(0.0, 0.01, len(exact)))
    ms = [dataclasses.replace(m, time_s=float(ti)) for m, ti in zip(exact, t)]
    # the smallest copy (32 KB) by hand: its kernel is the 4 us floor; eager 4 + 10 = 14 us,
    # compiled 4 + 45 = 49 us
    assert predict(truth, exact[:2]) == pytest.approx([14e-6, 49e-6], rel=0.01)
    names = [p.name for p in fit_parameters(base, ms)]
    assert {"eager_overhead", "compiled_overhead"} <= set(names)
    _, values = fit(base, ms)
    assert values["eager_overhead"] == pytest.approx(10e-6, rel=0.10)
    assert values["compiled_overhead"] == pytest.approx(45e-6, rel=0.05)
    assert values["memory"] == pytest.approx(0.75, rel=0.05)
    # without compiled rows the parameter is not fitted, and an unset compiled cost is the eager one
    # plus PyTorch 2.0's ~20 us of compiled-call overhead (specs.COMPILED_EXTRA_S): 10 + 20 = 30 us
    assert "compiled_overhead" not in [p.name for p in fit_parameters(base, [m for m in ms if m.timing == "host"])]
    assert base.efficiency.kernel.host_overhead_s("compiled") == pytest.approx(30e-6)


def test_row_reductions_fit_a_fixed_cost_of_their_own():
    # Vidur's A100 profiles: ATen's LayerNorm of a few rows takes ~7 us, its add ~2 us. With a
    # LayerNorm fixed cost of 5 us and none for copies, both are recovered under their own keys.
    from roofsim.ops import layernorm
    base = get_hardware("h100")
    truth = derive(base, {"efficiency.per_call.default": "0.5 us", "efficiency.per_call.layernorm": "5 us",
                          "efficiency.latency": "1 us"})
    ops = [elementwise(f"e{e}", e, "bf16") for e in (2 ** 12, 2 ** 16, 2 ** 20, 2 ** 24, 2 ** 27)]
    ops += [layernorm(f"ln{r}", r, 4096, "bf16") for r in (1, 16, 256, 4096, 32768)]
    exact = [Measurement(op.name, "h100-sxm5", op.kind, (op,), 1.0, "s") for op in ops]
    # one LayerNorm row by hand: 4096 x 2 B in and out + 8 KB of weights = 24 KB, far below the
    # floor: 1 us launch floor + 5 us fixed cost = 6 us
    assert predict(truth, exact[5:6])[0] == pytest.approx(6e-6, rel=0.02)
    t = predict(truth, exact) * np.exp(np.random.default_rng(9).normal(0.0, 0.01, len(ops)))
    ms = [dataclasses.replace(m, time_s=float(ti)) for m, ti in zip(exact, t)]
    names = [p.name for p in fit_parameters(base, ms)]
    assert "fixed_cost.layernorm" in names and "fixed_cost" in names
    _, values = fit(base, ms)
    assert values["fixed_cost.layernorm"] == pytest.approx(5e-6, rel=0.15)


def test_a_priors_compute_fraction_per_dtype_is_the_one_the_fit_moves():
    # The prior (H100 fit) prices fp16 at its default fraction and bf16 at a key of its own; a bf16
    # source fitted from it must move the bf16 key (the one its GEMMs are priced with), not default
    from roofsim.measure.calibrate import start
    prior_like = derive(get_hardware("h100"), {"efficiency.compute.default": 0.76, "efficiency.compute.bf16": 0.83})
    truth = derive(prior_like, {"efficiency.compute.bf16": 0.7})
    ms = _synthetic(truth, noise=0.01)                                    # bf16 GEMMs and copies
    names = [p.name for p in fit_parameters(prior_like, ms)]
    assert "compute.bf16" in names
    fitted, values = fit(prior_like, ms)
    assert values["compute.bf16"] == pytest.approx(0.7, rel=0.05)
    assert fitted.efficiency.compute_fraction("fp16") == pytest.approx(0.76, rel=0.01)   # unseen: kept
    # start() copies the prior's table of fractions, not only its default
    b200 = _catalogue("b200")
    assert dict(start(b200, ms).efficiency.compute) == dict(_catalogue("h200-sxm").efficiency.compute)


def test_event_timed_kernels_are_priced_as_kernels_but_never_fit_fixed_costs():
    # Liger's harness (CUDA events around a Python call after a cache flush) shows a ~7 us intercept
    # in every kernel family: its rows are priced as the kernels' own time (no host cost added) but
    # decide no fixed cost: with only event-timed kernels the device terms keep their start values
    base = derive(get_hardware("h100"), {"efficiency.per_call.default": "2 us"})
    exact = [Measurement(op.name, "h100-sxm5", op.kind, (op,), 1.0, "s", timing="events") for op in _ops()]
    kernel = [dataclasses.replace(m, timing="kernel") for m in exact]
    assert list(predict(base, exact)) == list(predict(base, kernel))
    names = [p.name for p in fit_parameters(base, exact)]
    assert not {"latency", "memory_latency", "fixed_cost", "fixed_cost.gemm"} & set(names)
    assert {"compute", "memory", "tile_overhead_depth"} <= set(names)


def test_the_fit_prices_gathers_with_the_cache_model_as_validate_does():
    # 16384 lookups of 16 KB rows on an A100 (Liger's embedding benchmark): a 1024-row table (16 MB)
    # fits the 40 MB L2, so its rows come from there after the first touch; a 131072-row table
    # (2 GB) does not. By bytes alone both move 2 x 268 MB through HBM: the same time
    from roofsim.measure.validate import predict as validate_predict
    from roofsim.api import predictor
    from roofsim.ops import gather
    a100 = _catalogue("a100-sxm4-80gb")
    ms = [Measurement(f"v{v}", "a100-sxm4-80gb", "gather", (gather(f"v{v}", 16384, 16384, v, "fp32"),), 1e-4, "s")
          for v in (1024, 131072)]
    small, large = predict(a100, ms)
    # Priced in one call, each gather alone (a measured kernel ran by itself; with the two tables
    # sharing the L2 as a step's tables do, the small one came out at 200.8 us). The small
    # table's rows come from the L2 (the cache model's steady state keeps a table that fits resident), so HBM moves only the 268.4 MB output and 16384 x 4 B of ids: 268,500,992 B at
    # 2039 GB/s x 0.798 = 165.0 us, the HBM term (L2: 537 MB at 7.22 TB/s = 74 us, below it)
    hbm = 2039e9 * a100.efficiency.memory_fraction("hbm")
    assert small == pytest.approx((16384 * 16384 + 16384 * 4) / hbm, rel=1e-3)
    assert [small, large] == pytest.approx(list(validate_predict(a100, ms, predictor=predictor("mrc"))))
    plain = validate_predict(a100, ms)
    assert plain[0] == pytest.approx(plain[1])
    # the large table: 268.4 MB of rows read + 268.4 MB written at 2039 GB/s x 0.798 = 330 us
    assert large == pytest.approx(2 * 16384 * 16384 / (2039e9 * a100.efficiency.memory_fraction("hbm")), rel=0.02)
