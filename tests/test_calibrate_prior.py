"""Calibration priors (efficiency.prior), the fixed cost per kernel (efficiency.per_call), and
predict/validate pricing warm rows the same way."""
import dataclasses

import numpy as np
import pytest
from click.testing import CliRunner

from roofsim.cli import main
from roofsim.errors import SpecError
from roofsim.hw import derive, get_hardware
from roofsim.measure.calibrate import (cross_validate, by_source, defaults_of, fit, prior_device, start)
from roofsim.measure.records import Measurement
from roofsim.measure.validate import predict, validate
from roofsim.ops import elementwise, gemm


def _with_prior(hw, prior):
    return dataclasses.replace(hw, efficiency=dataclasses.replace(hw.efficiency, prior=prior))


def test_start_takes_every_fitted_parameter_from_the_prior_device():
    h100 = get_hardware("h100-sxm5")
    b200 = _with_prior(defaults_of(get_hardware("b200")), "h100-sxm5")
    s = start(b200)
    # read back from the H100 SXM5 file itself: its fit, not roofsim's defaults (0.8 / 0.85 / 0 us)
    assert s.efficiency.compute_fraction("default") == h100.efficiency.compute_fraction("default")
    assert s.efficiency.memory_fraction("hbm") == h100.efficiency.memory_fraction("hbm")
    assert s.efficiency.call_seconds("default") == h100.efficiency.call_seconds("default")
    assert s.efficiency.kernel.tile_overhead_depth == h100.efficiency.kernel.tile_overhead_depth
    assert s.id == "b200" and s.cores == 148          # the device itself is kept
    # no prior: the documented defaults
    plain = start(defaults_of(get_hardware("b200")))
    assert plain.efficiency.compute_fraction("default") == 0.8 and plain.efficiency.memory_fraction("hbm") == 0.85
    assert plain.efficiency.call_seconds("default") == 0.0


def _copies_and_gemms(hw, source_of_family):
    """GEMMs (compute-bound) and copies (memory-bound) on ``hw``, each family its own source."""
    ops = [gemm(f"g{m}x{k}", m, 4096, k, "bf16", weight=None) for m in (512, 2048, 8192) for k in (1024, 8192)]
    ops += [elementwise(f"e{e}", e, "bf16") for e in (2 ** 20, 2 ** 23, 2 ** 26, 2 ** 28)]
    exact = [Measurement(op.name, hw.id, op.kind, (op,), 1.0, "s") for op in ops]
    t = predict(hw, exact)
    return [Measurement(op.name, hw.id, op.kind, (op,), float(ti), source_of_family(op.kind))
            for op, ti in zip(ops, t)]


def test_holding_out_the_only_memory_bound_source_falls_back_to_the_prior_not_the_defaults():
    # Truth: a B200 with the fitted values of its prior (the H200 file: HBM fraction 0.641, fixed
    # cost 1.82 us, ...) but its own compute fraction 0.6. Held out, the copies are predicted with
    # what the GEMMs leave where it started: from the prior, the truth's own memory side (within
    # the fit's noise-free slack); from the defaults, HBM at 0.85: the 2^28-element copy
    # (1.07 GB, ~0.2 ms) 1 - 0.641/0.85 = 25 % too fast.
    b200 = _with_prior(defaults_of(get_hardware("b200")), "h200-sxm")
    truth = derive(start(b200), {"efficiency.compute.default": 0.6})
    ms = _copies_and_gemms(truth, lambda kind: "gemms" if kind == "gemm" else "copies")
    copies = by_source(ms)[0]            # sources sorted: "copies" first
    assert {ms[i].source for i in copies} == {"copies"}
    from_prior = cross_validate(start(b200, ms), ms, by_source(ms))
    from_defaults = cross_validate(start(_with_prior(b200, None), ms), ms, by_source(ms))
    assert np.mean(from_prior[copies]) < 0.03
    assert np.max(from_defaults[copies]) > 0.20


def test_the_fit_recovers_a_fixed_cost_per_kernel_from_noisy_synthetic_measurements():
    base = defaults_of(get_hardware("h100"))
    truth = derive(base, {"efficiency.compute.default": 0.7, "efficiency.memory.hbm": 0.75,
                          "efficiency.per_call.default": "3 us", "efficiency.kernel.memory_latency": "0.5 us",
                          "efficiency.latency": "1 us"})
    ops = [gemm(f"g{m}x{n}x{k}", m, n, k, "bf16", weight=None)
           for m in (128, 1024, 8192) for n in (512, 4096) for k in (256, 4096)]
    ops += [elementwise(f"e{e}", e, "bf16") for e in (2 ** 12, 2 ** 16, 2 ** 20, 2 ** 24, 2 ** 28)]
    exact = [Measurement(op.name, "h100-sxm5", op.kind, (op,), 1.0, "s") for op in ops]
    rng = np.random.default_rng(3)
    t = predict(truth, exact) * np.exp(rng.normal(0.0, 0.02, len(ops)))
    ms = [dataclasses.replace(m, time_s=float(ti)) for m, ti in zip(exact, t)]
    _, values = fit(base, ms)
    # the generating 3 us, seen in series on every kernel (GEMMs too, unlike the memory side's latency)
    assert values["fixed_cost"] == pytest.approx(3e-6, rel=0.15)
    assert values["compute"] == pytest.approx(0.7, rel=0.05)
    assert values["memory"] == pytest.approx(0.75, rel=0.05)


def test_the_fixed_cost_is_added_in_series():
    # a 2^28-element bf16 copy on H100 defaults: 2 x 2^28 x 2 B = 1.074 GB at 3.35 TB/s x 0.85 =
    # 377 us + 1 us memory latency; a 3 us fixed cost makes it 381 us: added, not a floor
    h100 = defaults_of(get_hardware("h100"))
    op = elementwise("e", 2 ** 28, "bf16")
    m = [Measurement("e", "h100-sxm5", "elementwise", (op,), 1.0, "s")]
    plain = predict(h100, m)[0]
    assert plain == pytest.approx(2 * 2 ** 28 * 2 / (3.35e12 * 0.85) + 1e-6, rel=1e-3)
    assert predict(derive(h100, {"efficiency.per_call.default": "3 us"}), m)[0] == pytest.approx(plain + 3e-6, rel=1e-9)


def test_warm_rows_are_priced_the_same_by_predict_and_validate():
    # a 4 MiB copy fits H100's 50 MB L2: warm (timed back to back), HBM serves nothing after the
    # first pass, so it is faster than cold; a 4 GiB copy does not fit and is priced the same
    h100 = get_hardware("h100")
    small, big = elementwise("small", 2 ** 20, "bf16"), elementwise("big", 2 ** 30, "bf16")
    rows = [Measurement(op.name, "h100-sxm5", "elementwise", (op,), 1e-5, "s", warm=w)
            for op in (small, big) for w in (False, True)]
    p = predict(h100, rows)
    assert p[1] < p[0]                       # small: warm < cold
    assert p[3] == pytest.approx(p[2])       # big: the same
    df = validate(h100, rows)
    assert df["predicted_s"].tolist() == pytest.approx(p.tolist(), rel=1e-12)


def test_warm_each_treats_every_op_as_its_own_loop():
    # two copies: 4 MiB and 4 GiB. As one loop their footprint (> 4 GiB) fits no cache, so nothing
    # changes; as separate loops the small one is served by the 50 MB L2 (no HBM bytes). The big
    # one reads 2^30 x 2 B and writes as much, less the 2 MiB the small one wrote (residency).
    from roofsim.roofline import evaluate_arrays
    h100 = get_hardware("h100")
    ops = [elementwise("small", 2 ** 20, "bf16"), elementwise("big", 2 ** 30, "bf16")]
    hbm = [m.name for m in h100.memory].index("hbm")
    cold = evaluate_arrays(h100, ops).bytes[0][:, hbm]
    one_loop = evaluate_arrays(h100, ops, warm=True).bytes[0][:, hbm]
    each = evaluate_arrays(h100, ops, warm_each=True).bytes[0][:, hbm]
    assert one_loop.tolist() == cold.tolist()
    assert each[0] == 0.0 and each[1] == cold[1] == 2 * 2 ** 30 * 2 - 2 ** 20 * 2


@pytest.mark.parametrize("value,found", [
    (42, "42"), (["a"], "a list"), ("", "''"), ("H100", "'H100'"), ("../x.yaml", "'../x.yaml'"),
    (None, "None"), (float("nan"), "nan"), ({"a": 1}, "a mapping"),
])
def test_a_bad_prior_is_one_line_naming_the_key(value, found):
    with pytest.raises(SpecError) as e:
        derive(get_hardware("b200"), {"efficiency.prior": value})
    assert [str(p) for p in e.value.problems] == [
        f"efficiency.prior: expected a catalogue device id in lowercase-with-dashes, e.g. h200-sxm, found {found}"]


@pytest.mark.parametrize("value", ["no-such-gpu", "b200", "a" * 10000, "x.yaml"])
def test_a_prior_that_names_no_other_catalogue_device_fails_when_used(value):
    hw = _with_prior(get_hardware("b200"), value)
    with pytest.raises(SpecError) as e:
        prior_device(hw)
    (p,) = e.value.problems
    assert p.path == "efficiency.prior" and "a catalogue device id other than b200" in str(p)


def test_cli_from_prior_with_a_bad_prior_in_a_file_is_one_line_naming_file_and_key(tmp_path):
    f = tmp_path / "my-b200.yaml"
    f.write_text("schema_version: 1\nid: my-b200\nname: mine\nvendor: me\nkind: gpu\nsource: a test\nextends: b200\n"
                 "set:\n  efficiency.prior: no-such-gpu\n")
    data = tmp_path / "m.csv"
    data.write_text("device,kind,dtype,elements,time_s,source\n" + "".join(
        f"b200,elementwise,bf16,{2 ** e},{1e-5 * e},s\n" for e in (20, 22, 24)))
    r = CliRunner().invoke(main, ["calibrate", "--hw", str(f), "--measurements", str(data), "--from-prior"])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "my-b200.yaml" in lines[0] and "efficiency.prior" in lines[0], r.output
    assert "Traceback" not in r.output


def test_catalogue_priors_name_covered_devices_of_the_same_or_adjacent_generation():
    # what the catalogue files declare (and the README says): H200 <- H100 SXM5, B200 <- H200
    assert get_hardware("h200-sxm").efficiency.prior == "h100-sxm5"
    assert get_hardware("b200").efficiency.prior == "h200-sxm"
    assert prior_device(get_hardware("b200")).id == "h200-sxm"


def test_cli_reads_every_measurements_file_given(tmp_path):
    # 3 + 3 copies in two files: the fit sees 6 kernels, and the provenance names both files
    files = []
    for name, sizes in (("a.csv", (18, 20, 22)), ("b.csv", (24, 26, 28))):
        f = tmp_path / name
        f.write_text("device,kind,dtype,elements,time_s,source\n" + "".join(
            f"h100,elementwise,bf16,{2 ** e},{4e-6 + 2 ** e * 4 / 2.5e12!r},{name}\n" for e in sizes))
        files += ["--measurements", str(f)]
    r = CliRunner().invoke(main, ["calibrate", "--hw", "h100", *files, "--folds", "2", "--from-prior"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("6 kernels of") and "from 2 source(s)" in r.output
    assert "before (efficiency.prior)" in r.output
    assert f"--measurements {tmp_path / 'a.csv'} --measurements {tmp_path / 'b.csv'} --from-prior" in " ".join(
        r.output.split())
