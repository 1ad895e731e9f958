"""The README's commands work as written (those that need no file of the reader's own)."""
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from roofsim.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
PLACEHOLDERS = ("my-", "path/to", "T.npy", "T.npz", "result.md")


def readme_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("roofsim ") and not any(p in line for p in PLACEHOLDERS)]


def test_the_readme_shows_the_setup_main_job_and_test_commands():
    commands = re.findall(r"```bash\n(.*?)```", README, re.S)[0]
    assert "pip install -e '.[test]'" in commands
    assert "roofsim run --hw a100 --workload dlrm" in commands
    assert "python -m pytest -q" in commands
    assert len(readme_commands()) >= 10


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs(command):
    result = CliRunner().invoke(main, shlex.split(command)[1:])
    assert result.exit_code == 0, f"{command}\n{result.output}"
    assert result.output.strip()


@pytest.mark.parametrize("index", range(len(re.findall(r"```python\n(.*?)```", README, re.S))))
def test_readme_python_snippet_runs(index, capsys):
    code = re.findall(r"```python\n(.*?)```", README, re.S)[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {})
    # each snippet ends by printing the per-device totals
    assert "a100-sxm4-80gb" in capsys.readouterr().out


def test_the_transformer_table_in_the_readme_is_what_the_script_prints():
    import importlib.util
    script = Path(__file__).resolve().parent.parent / "scripts" / "transformer_table.py"
    spec = importlib.util.spec_from_file_location("transformer_table", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.table_markdown() in README, "rerun python scripts/transformer_table.py and paste its table"
