"""benchmarks/_published.py, the command line the converters of published measurements share
(import_vidur.py, import_liger.py need the mirrored repositories, so only their shared part is here)."""
import importlib.util
import sys
from pathlib import Path

import pytest

from roofsim.measure.records import load_measurements

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "_published.py"
ROW = dict(device="h100-sxm5", kind="elementwise", dtype="bf16", elements=1024, time_s="2e-06", source="test")


@pytest.fixture(scope="module")
def published():
    spec = importlib.util.spec_from_file_location("_published", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["_published"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["_published"]


def _run(published, capsys, files, *argv):
    with pytest.raises(SystemExit) as e:
        published.main("doc", "owner/repo", files, list(argv))
    return e.value.code, capsys.readouterr().err.strip().splitlines()[-1]


def test_the_rows_become_a_measurement_csv(published, tmp_path, capsys):
    published.main("doc", "owner/repo", lambda a: {"x.csv": [ROW, {**ROW, "elements": 2048}]},
                   ["/mirror", str(tmp_path)])
    ms = load_measurements(tmp_path / "x.csv")
    assert [m.ops[0].shape[0] for m in ms] == [("elements", 1024), ("elements", 2048)] and ms[0].time_s == 2e-6
    assert capsys.readouterr().out == f"{tmp_path / 'x.csv'}: 2 rows\n"


def test_a_bad_mirror_folder_or_column_is_one_line_and_status_2(published, tmp_path, capsys):
    code, err = _run(published, capsys, lambda a: {"x.csv": [ROW]} if published.git(a.mirror, "rev-parse", "HEAD")
                     else {}, str(tmp_path / "none"), str(tmp_path))
    assert code == 2 and f": error: {tmp_path / 'none'}: not a git directory of owner/repo (fatal: not a git" in err
    code, err = _run(published, capsys, lambda a: {"x.csv": [ROW]}, "/m", str(tmp_path / "no"))
    assert code == 2 and err.endswith(f"{tmp_path / 'no' / 'x.csv'}: cannot write: no such folder '{tmp_path / 'no'}'")
    code, err = _run(published, capsys, lambda a: {"x.csv": [{**ROW, "colour": "red"}]}, "/m", str(tmp_path))
    assert code == 2 and "colour not among the columns" in err and not (tmp_path / "x.csv").exists()
