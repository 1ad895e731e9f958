"""Derived designs, from YAML (`extends` + `set`) and from Python (roofsim.hw.derive): a derived
design differs from its base exactly in the overridden fields plus its own identity."""
from pathlib import Path

import pytest

from roofsim.hardware import build_hardware, to_doc
from roofsim.hw import derive, flatten, get_hardware, list_hardware

DATA = Path(__file__).parent / "data" / "hw"
# Keys that describe a design itself, not its figures: a derived design has its own.
IDENTITY = {"id", "name", "kind", "aliases", "source", "notes", "extends"}


def differing(a, b) -> set[str]:
    fa, fb = flatten(a), flatten(b)
    return {k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k)}


def identity_changes(base, derived) -> set[str]:
    """The identity keys whose values differ (absent counts as a value)."""
    return differing(base, derived) & IDENTITY


@pytest.fixture(scope="module")
def h100():
    return get_hardware("h100-sxm5")


# ---- YAML ---------------------------------------------------------------------------------------
def test_yaml_derived_differs_exactly_in_overrides(h100):
    d = get_hardware(str(DATA / "derived-hbm6.yaml"))
    overridden = {"memory.hbm.bandwidth", "compute.matrix.bf16", "interconnect.nvlink.bandwidth_per_direction"}
    # identity: new id/name/source, kind gpu -> hypothetical, the base's aliases and notes are not
    # inherited, and `extends` records the base
    assert identity_changes(h100, d) == {"id", "name", "kind", "aliases", "source", "notes", "extends"}
    assert differing(h100, d) == overridden | identity_changes(h100, d)
    assert d.level("hbm").bandwidth_bytes_per_s == 6e12            # 6 TB/s
    assert d.compute.get("matrix", "bf16") == 1200e12               # 1200 TFLOP/s
    assert d.link("nvlink").bandwidth_bytes_per_s_per_direction == 900e9
    assert (d.extends, d.kind, d.aliases, d.notes) == ("h100-sxm5", "hypothetical", (), "")


def test_yaml_chain_differs_from_its_own_base_only(h100):
    mid = get_hardware(str(DATA / "derived-hbm6.yaml"))
    d = get_hardware(str(DATA / "derived-chain.yaml"))
    # both hypothetical, neither has aliases or notes: only id, name, source, extends change
    assert differing(mid, d) == {"memory.hbm.capacity", "efficiency.memory.hbm", "id", "name", "source", "extends"}
    assert d.extends == "derived-hbm6"
    assert d.level("hbm").capacity_bytes == 100 * 1024**3           # 100 GiB
    assert d.efficiency.memory_fraction("hbm") == 0.9
    assert d.efficiency.memory_fraction("l2") == 0.85               # default kept for the rest
    # and the first level's overrides are still there
    assert d.level("hbm").bandwidth_bytes_per_s == 6e12


def test_top_level_key_next_to_extends_replaces_the_base():
    a100 = get_hardware("a100")
    d = get_hardware(str(DATA / "derived-replace.yaml"))
    assert differing(a100, d) == {"tdp"} | identity_changes(a100, d)
    assert (a100.tdp_w, d.tdp_w) == (400.0, 500.0)
    assert d.extends == "a100-sxm4-80gb"          # the alias `a100` resolved to the base's id


def test_derived_designs_in_the_catalogue():
    # any hypothetical design bundled in hardware/ is an `extends` of a real device
    for h in list_hardware():
        if h.extends:
            base = get_hardware(h.extends)
            assert h.aliases == () and base.kind != "hypothetical"


# ---- Python -------------------------------------------------------------------------------------
def test_python_derive_differs_exactly_in_overrides(h100):
    d = derive(h100, {"memory.hbm.bandwidth": "6 TB/s", "compute.matrix.bf16": "1200 TFLOP/s"})
    assert differing(h100, d) == {"memory.hbm.bandwidth", "compute.matrix.bf16",
                                  "id", "name", "kind", "aliases", "source", "notes", "extends"}
    assert (d.id, d.name, d.kind, d.extends) == ("h100-sxm5-derived", "NVIDIA H100 SXM5 80GB (derived)",
                                                 "hypothetical", "h100-sxm5")
    assert d.source == "derived from h100-sxm5"


def test_python_numbers_are_si(h100):
    d = derive(h100, {"memory.hbm.bandwidth": 6e12, "tdp": 800, "efficiency.latency": 5e-6,
                      "memory.l2.capacity": 64 * 1024**2, "clock": 2.0e9})
    assert d.level("hbm").bandwidth_bytes_per_s == 6e12     # 6e12 B/s, not 6e12 TB/s
    assert d.tdp_w == 800.0                                 # W
    assert d.efficiency.latency_s == 5e-6                   # s
    assert d.level("l2").capacity_bytes == 64 * 1024**2     # B
    assert d.clock_hz == 2.0e9                              # Hz
    assert differing(h100, d) - IDENTITY == {"memory.hbm.bandwidth", "tdp", "efficiency.latency",
                                             "memory.l2.capacity", "clock"}


def test_python_and_yaml_derive_agree(h100):
    yaml_d = get_hardware(str(DATA / "derived-hbm6.yaml"))
    py_d = derive(h100, {"memory.hbm.bandwidth": "6 TB/s", "compute.matrix.bf16": "1200 TFLOP/s",
                         "interconnect.nvlink.bandwidth_per_direction": "900 GB/s"},
                  id="derived-hbm6", name=yaml_d.name, source=yaml_d.source)
    assert py_d == yaml_d
    assert flatten(py_d) == flatten(yaml_d)


def test_derived_loses_the_base_aliases(h100):
    d = derive(h100, {"tdp": "800 W"}, id="h100-800w")
    assert h100.aliases == ("h100", "h100-sxm") and d.aliases == ()
    assert get_hardware("h100").id == "h100-sxm5"


def test_same_id_keeps_identity(h100):
    # get_hardware(..., overrides=...) is the CLI's --set: the device keeps its id and aliases
    d = get_hardware("h100", overrides={"memory.hbm.bandwidth": "4 TB/s"})
    assert differing(h100, d) == {"memory.hbm.bandwidth"}
    assert (d.id, d.aliases, d.kind, d.extends) == ("h100-sxm5", ("h100", "h100-sxm"), "gpu", None)


def test_efficiency_scalar_becomes_a_table(h100):
    d1 = derive(h100, {"efficiency.compute": 0.5})
    assert d1.efficiency.compute_fraction("bf16") == 0.5
    d2 = derive(d1, {"efficiency.compute.fp8": 0.7}, id="d2")
    assert (d2.efficiency.compute_fraction("fp8"), d2.efficiency.compute_fraction("bf16")) == (0.7, 0.5)
    assert differing(d1, d2) - IDENTITY == {"efficiency.compute.fp8"}


def test_no_overrides_is_a_renamed_copy(h100):
    d = derive(h100)
    assert differing(h100, d) - IDENTITY == set()
    assert d.compute == h100.compute and d.memory == h100.memory and d.interconnect == h100.interconnect


def test_derive_never_mutates_the_base(h100):
    before = flatten(h100)
    derive(h100, {"memory.hbm.bandwidth": 1e12, "efficiency.compute.fp8": 0.1})
    assert flatten(h100) == before


# ---- to_doc round trip ---------------------------------------------------------------------------
@pytest.mark.parametrize("hw", list_hardware(), ids=lambda h: h.id)
def test_to_doc_round_trip(hw):
    assert build_hardware(to_doc(hw), file=hw.file) == hw


def test_to_doc_round_trip_of_derived(h100):
    d = derive(h100, {"memory.hbm.bandwidth": 6e12, "efficiency.compute.fp8": 0.7})
    again = build_hardware(to_doc(d))
    assert again == d and again.extends == "h100-sxm5"
