"""Loader and schema errors: every problem of a file at once, one per line, each with file, key
path, expected and found, compared by exact text. Fixtures live in tests/data/hw/."""
from pathlib import Path

import pytest

from roofsim.errors import NotFoundError, SpecError
from roofsim.hw import derive, get_hardware, validate_files

DATA = Path(__file__).parent / "data" / "hw"

MEMORY_KEYS = "name, type, capacity, os_capacity, instances, shared_by, bandwidth, latency, line_size, ways, source, notes"
TOP_KEYS = ("schema_version, id, name, vendor, kind, aliases, release_date, process, clock, cores, core_name, "
            "tdp, source, notes, compute, memory, interconnect, efficiency, provenance, extends, set")
DTYPE_KEYS = "fp64, fp32, tf32, fp16, bf16, fp8, fp6, fp4, int8, int4"
H100_LEVELS = "registers, smem, l2, hbm, host"


def load_error(path) -> list[str]:
    with pytest.raises(SpecError) as info:
        get_hardware(str(path))
    lines = str(info.value).splitlines()
    assert len(lines) == len(info.value.problems)   # one line per problem
    return lines


def write(tmp_path, name, text) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


MINIMAL = """\
schema_version: 1
id: {id}
name: Minimal
vendor: Nobody
kind: gpu
source: "test"
compute:
  source: "test"
  matrix: {{bf16: 100 TFLOP/s}}
memory:
{memory}
"""


def test_broken_file_reports_every_problem_in_order():
    f = str(DATA / "broken-many.yaml")
    assert load_error(f) == [
        f"{f}: tdp: expected a power, e.g. 700 W, found a bare number 700 with no unit",
        f"{f}: compute.matrix.bf17: expected one of the keys {DTYPE_KEYS}, found unknown key 'bf17' (did you mean 'bf16'?)",
        f"{f}: memory.sram.capacity: expected a size, e.g. 80 GB or 40 MiB, found '32 KB': unknown unit 'KB' "
        "(write kB (1000 B) or KiB (1024 B))",
        f"{f}: memory.hbm.capacity: expected a positive size, e.g. 80 GB or 40 MiB, found '-80 GB'",
        f"{f}: memory.hbm.bandwidth: expected a bandwidth, e.g. 2 TB/s, found '80 GB', which is a size",
        f"{f}: memory.hbm.bandwith: expected one of the keys {MEMORY_KEYS}, found unknown key 'bandwith' "
        "(did you mean 'bandwidth'?)",
        f"{f}: memory.far.capacity: expected a positive size, e.g. 80 GB or 40 MiB, found '0 B'",
        f"{f}: memory.far.bandwidth: expected a bandwidth, e.g. 2 TB/s, found a bare number 64 with no unit",
        f"{f}: memory.far.source: expected required key (a string), found nothing",
        f"{f}: interconect: expected one of the keys {TOP_KEYS}, found unknown key 'interconect' "
        "(did you mean 'interconnect'?)",
    ]


def test_problems_carry_their_location():
    f = str(DATA / "broken-many.yaml")
    with pytest.raises(SpecError) as info:
        get_hardware(f)
    p = info.value.problems[4]
    assert (p.file, p.path, p.expected, p.found) == (
        f, "memory.hbm.bandwidth", "a bandwidth, e.g. 2 TB/s", "'80 GB', which is a size")


def test_spec_error_pickles_with_its_problems():
    import pickle
    with pytest.raises(SpecError) as info:
        get_hardware(str(DATA / "broken-many.yaml"))
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value) and len(again.problems) == 10


def test_missing_required_keys():
    f = str(DATA / "broken-missing.yaml")
    assert load_error(f) == [
        f"{f}: name: expected required key (a string), found nothing",
        f"{f}: vendor: expected required key (a string), found nothing",
        f"{f}: kind: expected required key (one of cpu, gpu, tpu, accelerator, hypothetical, measured), found nothing",
        f"{f}: source: expected required key (a string), found nothing",
        f"{f}: compute: expected required key (a mapping), found nothing",
        f"{f}: memory: expected required key (a list of mappings, each with a name), found nothing",
    ]


def test_two_main_levels():
    f = str(DATA / "broken-two-main.yaml")
    assert load_error(f) == [f"{f}: memory: expected exactly one level of type main, found ['hbm', 'dram']"]


def test_no_main_level(tmp_path):
    f = write(tmp_path, "nomain.yaml", MINIMAL.format(
        id="nomain", memory="  - {name: sram, type: scratchpad, capacity: 1 MiB, source: t}"))
    assert load_error(f) == [f"{f}: memory: expected exactly one level of type main, found []"]


def test_bad_yaml_syntax_gives_line_and_column():
    f = str(DATA / "broken-syntax.yaml")
    # line 3 is '  name: [unclosed'; the ':' after 'name' is column 7
    assert load_error(f) == [f"{f}: <top>: expected valid YAML, found mapping values are not allowed here at line 3, column 7"]


def test_not_a_mapping(tmp_path):
    f = write(tmp_path, "list.yaml", "- 1\n- 2\n")
    assert load_error(f) == [f"{f}: <top>: expected a mapping of hardware keys, found list"]


def test_missing_file(tmp_path):
    f = str(tmp_path / "nothing.yaml")
    with pytest.raises(NotFoundError) as info:
        get_hardware(f)
    assert str(info.value) == f"hardware file {f!r}: no such file"
    # validate reads it directly: the loader's message
    err = validate_files([f])[f]
    assert str(err) == f"{f}: <top>: expected an existing file, found no such file"


def test_wrong_schema_version(tmp_path):
    text = MINIMAL.format(id="v2", memory="  - {name: dram, type: main, source: t}").replace("schema_version: 1", "schema_version: 2")
    f = write(tmp_path, "v2.yaml", text)
    assert load_error(f) == [f"{f}: schema_version: expected 1 (the version this roofsim reads), found 2"]


def test_wrong_types_and_enums(tmp_path):
    text = MINIMAL.format(id="Bad_Id", memory=(
        "  - {name: dram, type: mian, capacity: 1 GiB, bandwidth: 1 TB/s, ways: 0, instances: 1.5, source: t}"))
    text = text.replace("kind: gpu", "kind: gpus").replace("name: Minimal", "name: [a, b]")
    f = write(tmp_path, "types.yaml", text)
    assert load_error(f) == [
        f"{f}: id: expected an id in lowercase-with-dashes, e.g. h100-sxm5, found 'Bad_Id'",
        f"{f}: name: expected a string, found a list",
        f"{f}: kind: expected one of cpu, gpu, tpu, accelerator, hypothetical, measured, found 'gpus' (did you mean 'gpu'?)",
        f"{f}: memory.dram.type: expected one of register, scratchpad, cache, main, far, found 'mian' (did you mean 'main'?)",
        f"{f}: memory.dram.ways: expected an integer >= 1, found 0",
        f"{f}: memory.dram.instances: expected an integer >= 1, found 1.5",
    ]


def test_duplicate_level_names(tmp_path):
    f = write(tmp_path, "dup.yaml", MINIMAL.format(id="dup", memory=(
        "  - {name: dram, type: cache, capacity: 1 MiB, source: t}\n"
        "  - {name: dram, type: main, capacity: 1 GiB, source: t}")))
    assert load_error(f) == [f"{f}: memory.dram: expected unique names, found 'dram' twice"]


def test_inner_level_larger_than_main(tmp_path):
    f = write(tmp_path, "big.yaml", MINIMAL.format(id="big", memory=(
        "  - {name: sram, type: scratchpad, capacity: 2 GiB, source: t}\n"
        "  - {name: dram, type: main, capacity: 1 GiB, source: t}")))
    # 2 GiB = 2147483648 B, not less than the 1 GiB main memory
    assert load_error(f) == [f"{f}: memory.sram.capacity: expected less than main memory dram, found 2147483648.0"]


def test_efficiency_names_unknown_level(tmp_path):
    text = MINIMAL.format(id="eff", memory="  - {name: dram, type: main, source: t}") + (
        "efficiency:\n  memory: {default: 0.8, hbm: 0.9}\n  compute: 1.5\n")
    f = write(tmp_path, "eff.yaml", text)
    assert load_error(f) == [f"{f}: efficiency.compute: expected a number > 0 and <= 1, found 1.5"]
    f2 = write(tmp_path, "eff2.yaml", text.replace("compute: 1.5", "compute: 0.5"))
    assert load_error(f2) == [
        f"{f2}: efficiency.memory.hbm: expected a memory level name (dram) or default, found 'hbm'"]


# ---- extends and set ------------------------------------------------------------------------
def test_extends_cycle_names_the_chain():
    a, b = DATA / "cycle-a.yaml", DATA / "cycle-b.yaml"
    assert load_error(a) == [f"{a}: extends: expected a chain without cycles, found cycle-a -> cycle-b -> cycle-a"]
    assert load_error(b) == [f"{b}: extends: expected a chain without cycles, found cycle-b -> cycle-a -> cycle-b"]


def test_self_extends_is_a_cycle(tmp_path):
    f = write(tmp_path, "selfish.yaml", "schema_version: 1\nid: selfish\nname: S\nsource: t\nextends: ./selfish.yaml\n")
    assert load_error(f) == [f"{f}: extends: expected a chain without cycles, found selfish -> selfish"]


def test_override_of_unknown_key_suggests_nearest():
    f = str(DATA / "derived-bad-set.yaml")
    assert load_error(f) == [
        f"{f}: set.memory.hbmm.bandwidth: expected one of the keys {H100_LEVELS}, found unknown key 'hbmm' "
        "(did you mean 'hbm'?)",
        f"{f}: set.compute.matrix.bf61: expected one of the keys {DTYPE_KEYS}, found unknown key 'bf61' "
        "(did you mean 'bf16'?)",
        f"{f}: set.memory.hbm.bandwidht: expected one of the keys {MEMORY_KEYS}, found unknown key 'bandwidht' "
        "(did you mean 'bandwidth'?)",
        f"{f}: set.memory.hbm.bandwidth: expected a bandwidth, e.g. 2 TB/s, found '6 TB', which is a size",
    ]


def test_set_without_extends(tmp_path):
    text = MINIMAL.format(id="noext", memory="  - {name: dram, type: main, source: t}") + "set:\n  tdp: 5 W\n"
    f = write(tmp_path, "noext.yaml", text)
    assert load_error(f) == [f"{f}: set: expected set only together with extends, found set without extends"]


def test_extends_unknown_base(tmp_path):
    f = write(tmp_path, "orphan.yaml", "schema_version: 1\nid: orphan\nname: O\nsource: t\nextends: h1000\n")
    with pytest.raises(NotFoundError) as info:
        get_hardware(f)
    assert str(info.value) == f"{f}: extends: unknown hardware 'h1000'; did you mean h100, r10000, v100?"


def test_python_override_of_unknown_key_suggests_nearest():
    h100 = get_hardware("h100")
    with pytest.raises(SpecError) as info:
        derive(h100, {"memory.hbmm.bandwidth": "6 TB/s"})
    assert str(info.value) == (f"memory.hbmm.bandwidth: expected one of the keys {H100_LEVELS}, "
                               "found unknown key 'hbmm' (did you mean 'hbm'?)")
    with pytest.raises(SpecError) as info:
        derive(h100, {"memory.hbm.bandwidth": "6 TB"})
    assert str(info.value) == "memory.hbm.bandwidth: expected a bandwidth, e.g. 2 TB/s, found '6 TB', which is a size"
    with pytest.raises(SpecError) as info:
        derive(h100, {"extends": "a100"})
    assert str(info.value).startswith("extends: expected one of the keys schema_version, id, name,")


def test_get_hardware_overrides_name_the_set_option():
    with pytest.raises(SpecError) as info:
        get_hardware("h100", overrides={"memory.hbm.bandwidth": "fast"})
    assert str(info.value) == "--set hw.memory.hbm.bandwidth: expected a bandwidth, e.g. 2 TB/s, found 'fast'"


def test_override_below_a_value_or_into_an_empty_list():
    with pytest.raises(SpecError) as info:
        derive(get_hardware("h100"), {"memory.hbm.bandwidth.x": 1})
    assert str(info.value) == ("memory.hbm.bandwidth.x: expected no key under memory.hbm.bandwidth (it has none), "
                               "found unknown key 'x'")
    # the MIPS R10000 file defines no interconnect
    with pytest.raises(SpecError) as info:
        derive(get_hardware("r10000"), {"interconnect.nvlink.bandwidth_per_direction": "1 GB/s"})
    assert str(info.value) == ("interconnect.nvlink.bandwidth_per_direction: expected no key under interconnect "
                               "(it has none), found unknown key 'nvlink'")


def test_two_main_levels_reported_with_the_schema_problems():
    # the bare bandwidth is a schema problem; two main levels a cross-field one: both at once
    f = DATA / "broken-two-main-and-unit.yaml"
    assert load_error(f) == [
        f"{f}: memory.hbm.bandwidth: expected a bandwidth, e.g. 2 TB/s, found a bare number 1000 with no unit",
        f"{f}: memory: expected exactly one level of type main, found ['hbm', 'dram']",
    ]


@pytest.mark.parametrize("value,found", [
    ("-32 MiB", "'-32 MiB'"), ("0 B", "'0 B'"), ("32", "a bare number 32 with no unit"),
    ("30 GB/s", "'30 GB/s', which is a bandwidth"), ("[1, 2]", "a list")])
def test_os_capacity_is_a_positive_size(tmp_path, value, found):
    text = MINIMAL.format(id="oscap", memory=f"  - {{name: l3, type: cache, capacity: 8 MiB, os_capacity: {value}, "
                                                f"source: t}}\n  - {{name: dram, type: main, source: t}}")
    f = write(tmp_path, "oscap.yaml", text)
    lines = load_error(f)
    assert len(lines) == 1 and lines[0].startswith(f"{f}: memory.l3.os_capacity: expected a ")
    assert lines[0].endswith(found), lines[0]
