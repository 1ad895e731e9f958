"""One module owns each third-party library (STYLE.md habit 1), checked with `ast`, and the CLI
starts without the heavy ones."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

import roofsim

PKG = Path(roofsim.__file__).parent
ROOT = PKG.parent
SOURCES = sorted(PKG.rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Top-level names imported by a file: import x.y, from x import y, and
    importlib.import_module('x') / __import__('x') with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in ("import_module", "__import__") and not node.args[0].value.startswith("."):
                out.add(node.args[0].value.split(".")[0])
    return out


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_scanner_sees_imports():
    assert "yaml" in imported_modules(PKG / "loader.py")
    assert "click" in imported_modules(PKG / "cli" / "__init__.py")


@pytest.mark.parametrize("library,allowed", [
    ("yaml", lambda p: p == "roofsim/loader.py"),
    ("numba", lambda p: p.startswith("roofsim/kernels/")),
    ("click", lambda p: p.startswith("roofsim/cli/")),
    ("matplotlib", lambda p: p == "roofsim/plotting.py"),
    ("dask", lambda p: p == "roofsim/dask_sweep.py"),
    ("distributed", lambda p: p == "roofsim/dask_sweep.py"),
])
def test_library_owned_by_one_place(library, allowed):
    offenders = [rel(p) for p in SOURCES if library in imported_modules(p) and not allowed(rel(p))]
    assert offenders == [], f"{library} imported outside its owner: {offenders}"


def test_yaml_really_is_used_by_the_loader():
    users = [rel(p) for p in SOURCES if "yaml" in imported_modules(p)]
    assert users == ["roofsim/loader.py"]


def test_foundation_modules_use_stdlib_only():
    # errors, units, schema, specs, hardware, catalog: stdlib and roofsim only
    stdlib = set(sys.stdlib_module_names)
    for name in ("errors", "units", "schema", "specs", "hardware", "catalog"):
        third_party = {m for m in imported_modules(PKG / f"{name}.py") if m not in stdlib and m != "roofsim"}
        assert third_party == set(), (name, third_party)


def python_prints(code: str) -> str:
    """What a fresh interpreter prints running ``code`` (which must succeed)."""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_importing_the_cli_stays_light():
    assert python_prints("import sys, roofsim.cli; print(','.join(m for m in ('numba', 'pandas', 'matplotlib', "
                         "'dask', 'distributed') if m in sys.modules))") == ""


def test_hw_commands_stay_light():
    # the hw commands need neither numba, pandas nor matplotlib
    code = ("import sys\n"
            "from click.testing import CliRunner\n"
            "from roofsim.cli import main\n"
            "r = CliRunner().invoke(main, ['hw', 'list', '--format', 'json'])\n"
            "assert r.exit_code == 0, r.output\n"
            "print(','.join(m for m in ('numba', 'pandas', 'matplotlib') if m in sys.modules))")
    assert python_prints(code) == ""


def test_a_decode_query_does_not_load_numba():
    # Llama-2 7B decode gathers one embedding row after a warm-up of ~7,700 rows: the measured
    # part is 64 line accesses (8 KiB / 128 B lines), counted by numpy (cache.mrc.measured_curve);
    # loading numba and the reuse kernel would cost more than the rest of a cold `roofsim run`.
    assert python_prints("import sys, roofsim; t = roofsim.query('h100', 'llama2-7b').total_time_s[0]; "
                         "print(t > 0, 'numba' in sys.modules)") == "True False"
