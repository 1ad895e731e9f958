"""Property tests of the public entry points that take user numbers: placement, layouts, collectives."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roofsim.comm import collective_cost
from roofsim.errors import SpecError
from roofsim.hw import derive, get_hardware
from roofsim.memory import footprint, place
from roofsim.parallel import Layout
from roofsim.workloads import get_workload

H100 = get_hardware("h100")
SMALL = derive(H100, {"memory.host.capacity": "100 GiB"}, id="h100-host-100g", name="t", kind="gpu", source="test")
LLAMA = get_workload("llama2-70b")
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)
sizes = st.floats(min_value=0, max_value=1e15, allow_nan=False, allow_infinity=False)


@SETTINGS
@given(st.dictionaries(st.text(min_size=1, max_size=8), sizes, max_size=6))
def test_place_conserves_bytes_and_respects_capacities(items):
    p = place(items, SMALL)
    placed = sum(b for _, _, b in p.assigned) + sum(b for _, b in p.unplaced)
    assert placed == pytest.approx(sum(items.values()), rel=1e-12, abs=1e-3)
    assert p.bytes_in("hbm") <= 80 * 2**30 + 1e-3 and p.bytes_in("host") <= 100 * 2**30 + 1e-3
    # a later item only reaches a tier once the earlier ones filled the tiers before it
    if p.unplaced:
        assert p.bytes_in("hbm") == pytest.approx(80 * 2**30) and p.bytes_in("host") == pytest.approx(100 * 2**30)


ints = st.one_of(st.integers(min_value=-3, max_value=10**6), st.floats(allow_nan=True), st.booleans(), st.none(),
                 st.text(max_size=3))


@SETTINGS
@given(ints, ints, ints, ints)
def test_layout_is_valid_or_a_spec_error(devices, tp, pp, zero):
    try:
        layout = Layout(devices=devices, tp=tp, pp=pp, zero=zero)
    except SpecError:
        return
    assert layout.devices == layout.tp * layout.pp * layout.data_parallel


@SETTINGS
@given(ints, ints, st.sampled_from(["none", "selective", "full", "sqrt", "every-k", "bogus"]))
def test_footprint_options_are_valid_or_a_spec_error(tp, ep, checkpoint):
    try:
        fp = footprint(LLAMA, H100, tp=tp, ep=ep, checkpoint=checkpoint)
    except SpecError:
        return
    assert all(v >= 0 and math.isfinite(v) for v in fp.by_component.values())


@SETTINGS
@given(st.sampled_from(["all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast", "send-recv"]),
       sizes, st.integers(min_value=1, max_value=1 << 20), st.integers(min_value=1, max_value=64))
def test_collective_time_grows_with_bytes(collective, n, p, stride):
    small = collective_cost(H100, collective, n, p, stride=stride)
    big = collective_cost(H100, collective, 2 * n + 1, p, stride=stride)
    assert 0 <= small.time_s <= big.time_s
