"""roofsim.memo.ByIdentity: one value per live object, never a stale one."""
import gc
from types import SimpleNamespace

from roofsim.memo import ByIdentity
from roofsim.ops import Workload, elementwise


def test_same_object_same_value_equal_object_new_value():
    memo, calls = ByIdentity(), []
    a = Workload("w", (elementwise("e", 1e6, "bf16"),))
    b = Workload("w", (elementwise("e", 1e6, "bf16"),))   # equal, but another object
    make = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert memo.get(a, make) == 1 and memo.get(a, make) == 1   # computed once for a
    assert memo.get(b, make) == 2                               # b is not a


def test_a_dead_object_is_never_answered_for_a_new_one_at_its_address():
    memo = ByIdentity()
    for i in range(200):   # CPython reuses freed addresses: the weak reference tells them apart
        w = Workload(f"w{i}", (elementwise("e", 1e6 + i, "bf16"),))
        assert memo.get(w, lambda: w.name) == f"w{i}"
        del w
        gc.collect()


def test_bounded_and_objects_without_weak_references_are_computed_each_time():
    memo = ByIdentity(maxsize=4)
    keep = [Workload(f"w{i}", ()) for i in range(10)]
    for w in keep:
        memo.get(w, lambda: 0)
    assert len(memo._entries) <= 4
    ns, calls = SimpleNamespace(), []
    make = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert (memo.get(ns, make), memo.get(ns, make)) == (1, 2)
