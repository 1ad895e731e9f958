"""Property-based hostile inputs for the I/O paths: traces (.npy/.npz of any dtype, shape and
values, garbage bytes), cache-level specs, output paths and YAML/JSON documents at the loader.

For every generated input: a result, or exit 2 with a few `error:` lines naming the file or
flag, never a traceback or a numpy warning, in bounded time, with no file left behind or
replaced. Valid inputs must also give the same answer as the Python API.
"""
import io
import json
import os
import stat
import time
import warnings

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from roofsim.cache.config import CacheLevelConfig
from roofsim.cache.simulator import simulate
from roofsim.cli import main
from roofsim.errors import SpecError
from roofsim.loader import MAX_DEPTH, MAX_NODES, read_json, read_yaml

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
L1, L2 = "1KiB,2,64,lru", "4KiB,4,64,plru"


def invoke(args):
    """Run the CLI with every warning an error (a numpy warning must not reach the terminal)."""
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = CliRunner().invoke(main, [str(a) for a in args])
    assert time.perf_counter() - t < 20, args
    assert "Traceback" not in r.output
    assert r.exit_code in (0, 2), (args, r.exit_code, r.output, r.exception)
    if r.exit_code == 2:
        lines = r.output.splitlines()
        assert 1 <= len(lines) <= 3 and all(line.startswith("error: ") for line in lines), r.output
    return r


def listing(folder):
    """Names, kinds and contents of a folder's entries: what must not change on a refusal."""
    out = {}
    for name in sorted(os.listdir(folder)):
        p = os.path.join(folder, name)
        st_ = os.lstat(p)
        content = open(p, "rb").read() if stat.S_ISREG(st_.st_mode) else os.readlink(p) if stat.S_ISLNK(st_.st_mode) else None
        out[name] = (stat.S_IFMT(st_.st_mode), content)
    return out


# ---------------------------------------------------------------- traces

DTYPES = st.sampled_from(["u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", ">i8", "f4", "f8", "?", "c8", "U3", "V4"])


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(DTYPES))
    shape = draw(st.sampled_from([(), (0,), (1,), (7,), (64,), (3, 4), (2, 0)]))
    n = int(np.prod(shape))
    raw = draw(st.binary(min_size=n * dtype.itemsize, max_size=n * dtype.itemsize))
    a = np.frombuffer(raw, dtype=dtype).reshape(shape) if n else np.zeros(shape, dtype)
    if dtype.kind in "iu" and draw(st.booleans()):  # mostly small addresses, so many are valid
        a = (a.astype(np.int64) & 4095).astype(dtype)
    return a


@st.composite
def trace_files(draw, folder):
    """(path, array or None): a .npy or .npz of a random array, or garbage bytes."""
    kind = draw(st.sampled_from(["npy", "npz", "npz-named", "garbage", "truncated"]))
    a = draw(arrays())
    path = os.path.join(folder, f"t-{draw(st.integers(0, 10**9))}.{'npz' if 'npz' in kind else 'npy'}")
    if kind == "npy":
        np.save(path, a)
    elif kind == "npz":
        np.savez(path, a)
    elif kind == "npz-named":
        np.savez(path, addrs=a, other=np.zeros(2))
    else:
        buf = io.BytesIO()
        np.save(buf, a)
        data = buf.getvalue()
        data = draw(st.binary(max_size=200)) if kind == "garbage" else data[:draw(st.integers(0, len(data)))]
        with open(path, "wb") as f:
            f.write(data)
        a = None if kind == "garbage" or len(data) < len(buf.getvalue()) else a
    return path, a


def valid_trace(a):
    return (a is not None and a.ndim == 1 and a.dtype.kind in "iu"
            and (a.size == 0 or (int(a.min()) >= 0 and int(a.max()) < 2**62)))


@SETTINGS
@given(data=st.data())
def test_any_trace_file(tmp_path, data):
    path, a = data.draw(trace_files(str(tmp_path)))
    before = listing(tmp_path)
    r = invoke(["cache", "simulate", "--trace", path, "--level", L1, "--level", L2, "--format", "json"])
    assert listing(tmp_path) == before
    if r.exit_code == 2:
        assert path in r.output
        assert not valid_trace(a) or a is None
    else:
        assert valid_trace(a), r.output
        want = simulate(a.astype(np.uint64), [CacheLevelConfig.parse(L1), CacheLevelConfig.parse(L2)])
        got = json.loads(r.stdout)["levels"]
        assert [(g["hits"], g["misses"]) for g in got] == [(w.hits, w.misses) for w in want]
    r = invoke(["cache", "mrc", "--trace", path, "--format", "csv"])
    assert r.exit_code == (0 if valid_trace(a) else 2) and (r.exit_code == 0 or path in r.output)


# ---------------------------------------------------------------- cache-level specs

# mostly well-formed fields (so whole specs are often valid and reach the simulator), with
# edge values among them; free text for the rest
SIZES = st.one_of(st.sampled_from(["32KiB", "1MiB", "16GiB", "1TiB", "1PiB", "8EiB", "1e30 B", "64B",
                                   "3KiB", "32 kB", "1.5KiB", "0B", "-1KiB", "nan KiB", "inf B"]),
                  st.sampled_from(["32KiB", "1MiB", "1TiB"]), st.text(max_size=8))
WAYS = st.one_of(st.sampled_from(["1", "2", "8", "16", "full", "3", "65536", "65537", "0", "-2"]),
                 st.sampled_from(["2", "8", "16"]), st.text(max_size=4))
LINES = st.one_of(st.sampled_from(["64", "64B", "128", "1", "48", "0", "1GiB", "x"]), st.just("64"))
POLICY = st.one_of(st.sampled_from(["lru", "fifo", "random", "plru", "LRU", "lfu", ""]), st.just("lru"))
EXTRA = st.lists(st.sampled_from(["wb", "wt", "wa", "nwa", "x"]), max_size=3)


@settings(SETTINGS, max_examples=80)
@given(specs=st.lists(st.tuples(SIZES, WAYS, LINES, POLICY, EXTRA), min_size=1, max_size=3),
       raw=st.booleans(), text=st.text(max_size=30))
def test_any_level_spec(tmp_path, specs, raw, text):
    np.save(tmp_path / "t.npy", np.arange(0, 64 * 50, 8, dtype=np.uint64))
    levels = [text] if raw else [",".join([s, w, l, p, *e]) for s, w, l, p, e in specs]
    args = ["cache", "simulate", "--trace", tmp_path / "t.npy", "--format", "json"]
    for spec in levels:
        args += ["--level", spec]
    r = invoke(args)
    event(f"exit {r.exit_code}")  # pytest --hypothesis-show-statistics: how many were valid
    if r.exit_code == 0:  # every level parsed, and the run is the API's
        configs = [CacheLevelConfig.parse(s) for s in levels]
        want = simulate(np.arange(0, 64 * 50, 8, dtype=np.uint64), configs)
        assert [lv["misses"] for lv in json.loads(r.stdout)["levels"]] == [w.misses for w in want]
    else:
        assert "level" in r.output or "at most" in r.output


# ---------------------------------------------------------------- output paths

TARGETS = ["new", "existing", "readonly-existing", "symlink-file", "symlink-dangling", "symlink-dir",
           "folder", "missing-folder", "file-parent", "devnull", "symlink-devnull", "symlink-chain"]


@SETTINGS
@given(target=st.sampled_from(TARGETS), mode=st.sampled_from([0o600, 0o640, 0o644, 0o444]),
       umask=st.sampled_from([0o022, 0o077, 0o002]))
def test_any_output_path(tmp_path, target, mode, umask):
    import tempfile
    d = tempfile.mkdtemp(dir=tmp_path)
    np.save(os.path.join(d, "t.npy"), np.arange(0, 6400, 64, dtype=np.uint64))
    real = os.path.join(d, "real.csv")
    path = os.path.join(d, "out.csv")
    if target in ("existing", "readonly-existing", "symlink-file", "symlink-chain"):
        with open(real if "symlink" in target else path, "w") as f:
            f.write("old\n")
        os.chmod(real if "symlink" in target else path, mode if target != "readonly-existing" else 0o444)
    if target == "symlink-file":
        os.symlink(real, path)
    elif target == "symlink-chain":
        os.symlink(real, os.path.join(d, "mid.csv"))
        os.symlink(os.path.join(d, "mid.csv"), path)
    elif target == "symlink-dangling":
        os.symlink(real, path)
    elif target == "symlink-dir":
        os.symlink(d, path)
    elif target == "folder":
        os.mkdir(path)
    elif target == "missing-folder":
        path = os.path.join(d, "no", "out.csv")
    elif target == "file-parent":
        open(os.path.join(d, "plain"), "w").close()
        path = os.path.join(d, "plain", "out.csv")
    elif target == "devnull":
        path = os.devnull
    elif target == "symlink-devnull":
        os.symlink(os.devnull, path)
    before = listing(d)
    old_umask = os.umask(umask)
    try:
        r = invoke(["cache", "mrc", "--trace", os.path.join(d, "t.npy"), "--format", "csv", "--output", path])
    finally:
        os.umask(old_umask)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    if r.exit_code == 2:
        assert r.output.startswith(f"error: --output {path}: cannot write: ")
        assert listing(d) == before
        return
    after = listing(d)
    assert set(after) == set(before) | ({"out.csv"} if target == "new" else set()) | (
        {"real.csv"} if target == "symlink-dangling" else set())  # nothing else: no temporary file
    for name, (kind, _) in before.items():
        assert after[name][0] == kind  # a symlink stays a symlink
    if target != "devnull" and target != "symlink-devnull":
        written = os.path.realpath(path)
        assert open(written).read().startswith("capacity_bytes,miss_ratio,misses\n")
        want = (mode if target in ("existing", "symlink-file", "symlink-chain") else
                0o444 if target == "readonly-existing" else 0o666 & ~umask)
        assert stat.S_IMODE(os.stat(written).st_mode) == want


# ---------------------------------------------------------------- YAML / JSON at the loader

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=10))
DOCS = st.recursive(SCALARS, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                   st.dictionaries(st.text(max_size=5), kids, max_size=4)),
                    max_leaves=30)


def depth(x):
    return 1 + max((depth(v) for v in (x.values() if isinstance(x, dict) else x)), default=0) \
        if isinstance(x, (dict, list)) else 1


def nest(doc, levels):
    for i in range(levels):
        doc = [doc] if i % 2 else {"k": doc}
    return doc


@SETTINGS
@given(doc=DOCS, extra=st.integers(0, 2 * MAX_DEPTH), as_json=st.booleans())
def test_any_document_loads_or_is_one_problem(tmp_path, doc, extra, as_json):
    doc = nest(doc, extra)
    p = tmp_path / ("d.json" if as_json else "d.yaml")
    p.write_text(json.dumps(doc) if as_json else yaml.safe_dump(doc))
    read = read_json if as_json else read_yaml
    # both limits count every node on the deepest path, the scalar at its end included
    too_deep = depth(doc) > MAX_DEPTH
    try:
        got = read(p)
    except SpecError as e:
        assert too_deep and str(e).startswith(f"{p}: <top>: expected valid {'JSON' if as_json else 'YAML'}, found nesting deeper than")
    else:
        assert not too_deep and got == doc


@SETTINGS
@given(levels=st.integers(1, 12), fan=st.integers(1, 12))
def test_aliases_expand_within_the_limit_or_are_refused(tmp_path, levels, fan):
    text = "l0: &l0 [" + ", ".join(["lol"] * fan) + "]\n"
    for i in range(1, levels):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fan) + "]\n"
    (tmp_path / "a.yaml").write_text(text)
    # expanded nodes: level i holds 1 + fan x (nodes of level i-1), level 0 holds 1 + fan
    # scalars; the root adds itself and every key: total = 1 + levels + sum of the levels
    sizes = [1 + fan]
    for _ in range(1, levels):
        sizes.append(1 + fan * sizes[-1])
    total = 1 + levels + sum(sizes)
    t = time.perf_counter()
    try:
        doc = read_yaml(tmp_path / "a.yaml")
    except SpecError as e:
        assert total > MAX_NODES or levels + 2 > MAX_DEPTH
        assert "once aliases are expanded" in str(e) or "more than" in str(e)
    else:
        assert total <= MAX_NODES and len(doc) == levels
    assert time.perf_counter() - t < 2


@SETTINGS
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".yaml", ".json"]))
def test_garbage_bytes_at_the_loader(tmp_path, data, suffix):
    p = tmp_path / f"g{suffix}"
    p.write_bytes(data)
    try:
        (read_json if suffix == ".json" else read_yaml)(p)
    except SpecError as e:
        assert str(e).startswith(f"{p}: ") and len(str(e).splitlines()) == 1
    # and through the CLI: a hardware file or an HF config of garbage is one line, exit 2
    r = invoke(["run", "--hw", p, "--workload", "dlrm"] if suffix == ".yaml" else
               ["run", "--hw", "a100", "--workload", p])
    assert r.exit_code == 2 and str(p) in r.output


@SETTINGS
@given(value=st.text(alphabet="0123456789-:.eExXoObB_+ T", max_size=40))
def test_number_and_date_like_scalars(tmp_path, value):
    # YAML resolves such plain scalars to ints, floats or timestamps, which Python then builds
    p = tmp_path / "s.yaml"
    p.write_text(f"value: {value}\n")
    try:
        read_yaml(p)
    except SpecError as e:
        assert str(e).startswith(f"{p}: <top>: expected valid YAML, found ") and "\n" not in str(e)
