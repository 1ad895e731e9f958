"""roofsim.comm: alpha-beta collectives, checked by hand on a two-level machine."""
import math
from dataclasses import replace

import pytest

from roofsim.comm import collective_cost, ring_bytes_and_steps, tree_bytes_and_steps
from roofsim.errors import SpecError
from roofsim.hw import get_hardware
from roofsim.specs import Efficiency, Link

UP = Link("up", "scale-up", 400e9, latency_s=1e-6, domain_size=8)
OUT = Link("out", "scale-out", 50e9, latency_s=5e-6)
HOST = Link("pcie", "host", 64e9, latency_s=2e-6)


def machine(*links):
    # efficiency 1 on every link: the arithmetic below is bytes / bandwidth + steps x latency
    hw = get_hardware("h100")
    return replace(hw, interconnect=links, efficiency=Efficiency(interconnect=(("default", 1.0),)))


def test_ring_figures():
    # Patarasuk & Yuan 2009: all-reduce 2(p-1)/p n in 2(p-1) steps; all-gather (p-1)/p n in p-1
    assert ring_bytes_and_steps("all-reduce", 8e9, 8) == (2 * 7 / 8 * 8e9, 14)
    assert ring_bytes_and_steps("all-gather", 8e9, 8) == (7 / 8 * 8e9, 7)
    assert ring_bytes_and_steps("send-recv", 1e6, 2) == (1e6, 1)
    assert ring_bytes_and_steps("all-reduce", 1e9, 1) == (0.0, 0)
    assert tree_bytes_and_steps("all-reduce", 1e9, 8) == (2e9, 6)
    assert tree_bytes_and_steps("all-gather", 1e9, 8) is None


def test_large_all_reduce_in_one_domain_is_a_ring():
    hw = machine(UP, OUT)
    c = collective_cost(hw, "all-reduce", 1e9, 8)
    # ring: 1.75e9 B / 400e9 B/s + 14 x 1 us = 4.389 ms; tree: 2e9 / 400e9 + 6 us = 5.006 ms
    assert c.algorithm == "ring" and c.link == "up"
    assert c.time_s == pytest.approx(1.75e9 / 400e9 + 14e-6)


def test_small_all_reduce_takes_the_tree():
    hw = machine(UP, OUT)
    c = collective_cost(hw, "all-reduce", 1e3, 8)
    # ring 1750 / 400e9 + 14 us; tree 2000 / 400e9 + 6 us: the tree wins on latency
    assert c.algorithm == "tree" and c.time_s == pytest.approx(2e3 / 400e9 + 6e-6)


def test_hierarchical_all_reduce_across_domains():
    hw = machine(UP, OUT)
    n, p = 1e9, 64
    c = collective_cost(hw, "all-reduce", n, p)
    # reduce-scatter in the domain: 7/8 n over up in 7 steps; all-reduce of n/8 across 8 domains:
    # 2 x 7/8 x n/8 over out in 14 steps; all-gather in the domain as the first phase
    inner = 7 / 8 * n / 400e9 + 7e-6
    cross = 2 * 7 / 8 * (n / 8) / 50e9 + 14 * 5e-6
    assert c.algorithm == "hierarchical"
    assert c.time_s == pytest.approx(2 * inner + cross)
    assert c.link == "out"
    # the flat ring over the network would send 2 x 63/64 n at 50 GB/s: slower
    flat = collective_cost(hw, "all-reduce", n, p, algorithm="ring")
    assert flat.time_s == pytest.approx(2 * 63 / 64 * n / 50e9 + 126 * 5e-6) and flat.time_s > c.time_s


def test_hierarchical_all_to_all():
    hw = machine(UP, OUT)
    c = collective_cost(hw, "all-to-all", 64e6, 16, algorithm="hierarchical")
    # 16 ranks, 8 per domain: 7/16 of n stays in the domain (7 steps), 8/16 crosses (1 step)
    assert c.time_s == pytest.approx(7 / 16 * 64e6 / 400e9 + 7e-6 + 8 / 16 * 64e6 / 50e9 + 5e-6)


def test_group_with_one_rank_per_domain_uses_the_network():
    hw = machine(UP, OUT)
    # members 8 ranks apart (a data-parallel group over tensor-parallel groups of 8): one per domain
    c = collective_cost(hw, "all-reduce", 1e9, 4, stride=8)
    assert c.link == "out" and c.time_s == pytest.approx(2 * 3 / 4 * 1e9 / 50e9 + 6 * 5e-6)


def test_no_scale_out_link_falls_back_to_host_and_says_so():
    hw = machine(UP, HOST)
    c = collective_cost(hw, "all-gather", 1e9, 16)
    assert c.link == "pcie" and "no scale-out link" in c.note


def test_no_link_at_all_is_infinite():
    c = collective_cost(machine(), "all-reduce", 1e9, 2)
    assert math.isinf(c.time_s)


def test_ideal_drops_latency():
    c = collective_cost(machine(UP), "send-recv", 4e6, 2, ideal=True)
    assert c.time_s == 4e6 / 400e9


def test_default_latency_comes_from_nccl_tuning():
    # the up link without a latency: NCCL's NVLink ring/LL128 figure, 1.9 us per step
    c = collective_cost(machine(replace(UP, latency_s=None)), "send-recv", 4e6, 2)
    assert c.time_s == pytest.approx(4e6 / 400e9 + 1.9e-6)


@pytest.mark.parametrize("kwargs", [
    {"collective": "gossip"}, {"n": -1.0}, {"n": math.nan}, {"n": math.inf}, {"n": "1 GB"},
    {"participants": 0}, {"participants": 2.5}, {"participants": True}, {"algorithm": "butterfly"},
    {"stride": 0}, {"stride": 1.5}])
def test_bad_arguments_are_spec_errors(kwargs):
    args = {"collective": "all-reduce", "n": 1e6, "participants": 8, **kwargs}
    options = {k: args.pop(k) for k in ("algorithm", "stride") if k in args}
    with pytest.raises(SpecError):
        collective_cost(machine(UP), args["collective"], args["n"], args["participants"], **options)
