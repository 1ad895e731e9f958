"""The loader's limits: file size, nesting depth and alias expansion, for YAML and HF JSON, and
search folders that do not exist. Each is one line naming the file, in bounded time."""
import re
import time

import pytest
from click.testing import CliRunner

from roofsim.cli import main
from roofsim.errors import SpecError
from roofsim.loader import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, parse_scalar, read_json, read_yaml


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def one_line_error(args, expected):
    t = time.perf_counter()
    r = invoke(*args)
    assert time.perf_counter() - t < 10
    assert r.exit_code == 2 and r.output == f"error: {expected}\n", r.output


def laughs(levels: int, fan: int = 9) -> str:
    """The billion-laughs document: level i is `fan` aliases of level i-1, so the last one
    expands to fan**levels strings while the file stays ~30 bytes a level."""
    text = "l0: &l0 [" + ", ".join(["lol"] * fan) + "]\n"
    for i in range(1, levels):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fan) + "]\n"
    return text


def test_deep_yaml_is_one_line_naming_the_file(tmp_path):
    f = tmp_path / "deep.yaml"
    f.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")   # RecursionError before
    # the 33rd opening bracket (column 3 + 32 = 35) is the first level past the limit:
    # `a:`'s mapping is level 1, so bracket j is level j + 1 and bracket 32 is level 33
    one_line_error(("run", "--hw", str(f), "--workload", "dlrm"),
                   f"{f}: <top>: expected valid YAML, found nesting deeper than {MAX_DEPTH} levels at line 1, column 35")


def test_deep_workload_is_refused_too(tmp_path):
    f = tmp_path / "deep.yaml"
    f.write_text("params:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(40)))
    # levels count every node on the path, the scalar at the end too: the root mapping is 1,
    # the mapping holding k_i is i + 2 and the key k_i itself i + 3, so k30 (line 32, indented
    # 2 x 31 = 62 spaces: column 63) is the first node at level 33
    one_line_error(("workload", "show", str(f)),
                   f"{f}: <top>: expected valid YAML, found nesting deeper than {MAX_DEPTH} levels at line 32, column 63")


def test_alias_bomb_is_refused_without_expanding(tmp_path):
    f = tmp_path / "bomb.yaml"
    f.write_text(laughs(9))  # 9**9 = 387 M strings once expanded; 1 KB on disk
    t = time.perf_counter()
    with pytest.raises(SpecError, match=f"more than {MAX_NODES} values once aliases are expanded"):
        read_yaml(f)
    assert time.perf_counter() - t < 1


def test_small_alias_use_is_still_fine(tmp_path):
    f = tmp_path / "ok.yaml"
    f.write_text(laughs(3))  # 9**3 = 729 strings: legitimate reuse of an anchor
    doc = read_yaml(f)
    assert len(doc["l2"]) == 9 and doc["l2"][0] == doc["l1"] and doc["l1"][0] == ["lol"] * 9


def test_alias_chain_deeper_than_the_limit(tmp_path):
    # each level wraps the previous anchor once: depth grows by one per line, size stays small
    f = tmp_path / "chain.yaml"
    f.write_text("x0: &x0 [1]\n" + "".join(f"x{i}: &x{i} [*x{i - 1}]\n" for i in range(1, 60)))
    with pytest.raises(SpecError, match="nesting deeper than 32 levels once aliases are expanded"):
        read_yaml(f)


def test_recursive_alias(tmp_path):
    f = tmp_path / "rec.yaml"
    f.write_text("a: &a [1, *a]\n")
    with pytest.raises(SpecError, match=r"^.*rec.yaml: <top>: expected valid YAML, found an alias inside its own anchor at line 1, column 4$"):
        read_yaml(f)


def test_large_file_refused_before_parsing(tmp_path):
    f = tmp_path / "big.yaml"
    f.write_bytes(b"id: x\n" + b"# padding\n" * ((22 << 20) // 10))  # 22 MiB + 6 B
    t = time.perf_counter()
    one_line_error(("hw", "show", str(f)), f"{f}: <top>: expected a file of at most 1 MiB, found 22.0 MiB")
    assert time.perf_counter() - t < 5  # 69 s before


def test_endless_device_is_refused():
    with pytest.raises(SpecError, match=r"^/dev/zero: <top>: expected a file of at most 1 MiB, found more than 1 MiB$"):
        read_yaml("/dev/zero")


def test_many_nodes_stop_early(tmp_path):
    f = tmp_path / "wide.yaml"
    f.write_text("a: [" + "1," * (2 * MAX_NODES) + "]\n")  # 400 KB, under the size limit
    assert f.stat().st_size < MAX_FILE_BYTES
    with pytest.raises(SpecError, match=f"more than {MAX_NODES} values at line 1"):
        read_yaml(f)


@pytest.mark.parametrize("text,problem", [
    ("[" * 100000 + "]" * 100000, "nesting deeper than 32 levels"),   # RecursionError inside json
    ('{"a": ' + "[" * 40 + "]" * 40 + "}", "nesting deeper than 32 levels"),
])
def test_deep_hf_json(tmp_path, text, problem):
    f = tmp_path / "config.json"
    f.write_text(text)
    with pytest.raises(SpecError, match=f"^{f}: <top>: expected valid JSON, found {problem}$"):
        read_json(f)
    one_line_error(("run", "--hw", "a100", "--workload", str(f)), f"{f}: <top>: expected valid JSON, found {problem}")


def test_big_hf_json(tmp_path):
    f = tmp_path / "config.json"
    f.write_text('{"pad": "' + "x" * MAX_FILE_BYTES + '"}')
    with pytest.raises(SpecError, match="expected a file of at most 1 MiB, found 1.0 MiB"):
        read_json(f)


def test_set_values_go_through_the_bounded_loader():
    # a --set value that is not a plain scalar stays text (and its check names it), never a crash
    assert parse_scalar("[" * 5000) == "[" * 5000
    assert parse_scalar(laughs(9).replace("\n", " ")) is not None


@pytest.mark.parametrize("args,flag", [
    (("run", "--hw", "a100", "--workload", "dlrm", "--hw-path", "{d}"), "--hw-path"),
    (("hw", "list", "--hw-path", "{d}"), "--hw-path"),
    (("run", "--hw", "a100", "--workload", "dlrm", "--wl-path", "{d}"), "--wl-path"),
])
def test_missing_search_folder_is_one_line(tmp_path, args, flag):
    d = tmp_path / "nope"
    one_line_error([a.format(d=d) for a in args], f"{flag}: expected an existing folder, found {str(d)!r} (no such folder)")
    f = tmp_path / "file.yaml"
    f.write_text("")
    one_line_error([a.format(d=f) for a in args], f"{flag}: expected an existing folder, found {str(f)!r} (not a folder)")


def test_missing_roofsim_path_entry_is_one_line(tmp_path, monkeypatch):
    # a stale entry is refused, not skipped: a user file shadowing a bundled one would otherwise
    # silently stop being used; empty entries (a trailing separator) are skipped
    monkeypatch.setenv("ROOFSIM_PATH", f"{tmp_path}::{tmp_path / 'gone'}:")
    one_line_error(("hw", "show", "a100"), f"ROOFSIM_PATH: expected an existing folder, found {str(tmp_path / 'gone')!r} (no such folder)")
    monkeypatch.setenv("ROOFSIM_PATH", f"{tmp_path}:")
    assert invoke("hw", "show", "a100").exit_code == 0


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_depth_limit_is_exact_and_the_same_for_yaml_and_json(tmp_path, suffix):
    # [[...[1]...]] with k brackets has k + 1 nodes on its path (the scalar 1 included)
    read = read_json if suffix == ".json" else read_yaml
    ok, deep = tmp_path / f"ok{suffix}", tmp_path / f"deep{suffix}"
    ok.write_text("[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1))
    deep.write_text("[" * MAX_DEPTH + "1" + "]" * MAX_DEPTH)
    doc = read(ok)
    for _ in range(MAX_DEPTH - 1):
        doc = doc[0]
    assert doc == 1
    with pytest.raises(SpecError, match=f"nesting deeper than {MAX_DEPTH} levels"):
        read(deep)


def test_search_folder_with_a_folder_and_a_fifo_named_like_files(tmp_path):
    # a folder named sub.yaml crashed the alias scan (IsADirectoryError); a FIFO named x.yaml
    # would block it forever: only regular files are catalogue files. A subprocess with a
    # timeout, so a regression fails instead of hanging the suite.
    import os
    import subprocess
    import sys
    (tmp_path / "sub.yaml").mkdir()
    os.mkfifo(tmp_path / "x.yaml")
    r = subprocess.run([sys.executable, "-m", "roofsim", "run", "--hw", "nosuch", "--workload", "dlrm",
                        "--hw-path", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr == "error: unknown hardware 'nosuch'; run `roofsim hw list`\n"


@pytest.mark.parametrize("text,found", [
    ("year: " + "9" * 5000 + "\n", f"an integer of more than 4000 characters at line 1, column 7"),
    ("release_date: 2020-13-45\n", "a value YAML cannot read (month must be in 1..12)"),
    ("when: 2020-02-30 25:61:61\n", "a value YAML cannot read (day is out of range for month)"),
])
def test_scalars_python_cannot_build_are_one_line(tmp_path, text, found):
    # 5000 digits hit Python's int-conversion limit (a ValueError with a traceback); YAML
    # timestamps are built as dates, and an impossible date raised ValueError too
    f = tmp_path / "x.yaml"
    f.write_text(text)
    with pytest.raises(SpecError, match="^" + re.escape(f"{f}: <top>: expected valid YAML, found {found}") + "$"):
        read_yaml(f)


def test_long_json_integer_is_one_line(tmp_path):
    f = tmp_path / "config.json"
    f.write_text('{"vocab_size": ' + "9" * 5000 + "}")
    one_line_error(("run", "--hw", "a100", "--workload", str(f)),
                   f"{f}: <top>: expected valid JSON, found an integer of more than 4000 characters")
