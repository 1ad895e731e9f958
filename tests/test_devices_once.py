"""A device named twice (also through an alias) is refused: results are keyed by device id,
and two copies of one id used to merge into one device at twice its true time."""
import pytest
from click.testing import CliRunner

import roofsim
from roofsim.cli import main
from roofsim.errors import SpecError
from roofsim.hw import derive, get_hardware
from roofsim.roofline import evaluate
from roofsim.workloads import get_workload


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_compare_refuses_an_alias_and_its_id():
    r = invoke("compare", "--hw", "a100,a100-sxm4-80gb", "--workload", "dlrm")
    assert r.exit_code == 2
    assert r.output == ("error: --hw: expected each device once, found 'a100' and 'a100-sxm4-80gb', "
                        "both naming a100-sxm4-80gb\n")


@pytest.mark.parametrize("hw", [",", "a100,,h100", "a100,", " , "])
def test_compare_refuses_empty_names(hw):
    r = invoke("compare", "--hw", hw, "--workload", "dlrm")
    assert r.exit_code == 2
    assert r.output == (f"error: --hw: expected comma-separated hardware names, e.g. a100,h100, "
                        f"found an empty name in {hw!r}\n")


def test_api_refuses_a_device_twice():
    with pytest.raises(SpecError, match=r"^hardware: expected each device once, found 'a100' and "
                                        r"'a100', both naming a100-sxm4-80gb$"):
        roofsim.run(["a100", "a100"], "dlrm")


def test_engine_refuses_two_specs_with_one_id():
    a100 = get_hardware("a100")
    same_id = derive(a100, {"memory.hbm.bandwidth": "4 TB/s"}, id=a100.id)
    with pytest.raises(SpecError, match="give a derived design its own id"):
        evaluate([a100, same_id], get_workload("dlrm"))


def test_distinct_devices_still_compare():
    # the same spec under two ids is two rows of identical time: nothing is merged
    a100 = get_hardware("a100")
    twin = derive(a100, {}, id="a100-twin")
    df = roofsim.run([a100, twin], "dlrm")
    t = df.groupby("hardware")["time_s"].sum()
    assert t["a100-twin"] == pytest.approx(t["a100-sxm4-80gb"])
    # and the one-device total equals the one of a run on a100 alone (not doubled)
    assert t["a100-sxm4-80gb"] == pytest.approx(roofsim.run("a100", "dlrm")["time_s"].sum())
