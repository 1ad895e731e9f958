"""The only module that reads YAML (safe loading, bounded size, depth and alias expansion) and
the JSON of Hugging Face configs, and the loading of hardware files.

``extends`` chains are resolved here: each base is found by the catalogue's resolver, cycles are
errors, and the derived document is validated as a whole so every problem shows at once.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Optional

import yaml
from yaml.composer import Composer

from .errors import NotFoundError, Problem, SpecError
from .hardware import apply_overrides, build_hardware, merge_derived
from .specs import HardwareSpec

Resolver = Callable[[str, Optional[Path]], Path]

# Limits on what a document may be (hardware, workload and HF config files are a few KB and a
# few levels deep). Without them a deep document ended in a RecursionError, a 22 MB file took a
# minute to parse, and a 1 KB YAML alias bomb expanded to gigabytes when printed or copied.
MAX_FILE_BYTES = 1 << 20     # 1 MiB (the largest bundled file is ~5 KB): at most a few s to parse
MAX_DEPTH = 32               # nesting of mappings and lists, aliases expanded
MAX_NODES = 50_000           # scalars + collections (a bundled file has < 1,000), aliases expanded
MAX_INT_CHARS = 4000         # Python refuses to read ints of > 4300 digits (a ValueError); shorter
                             # absurd values reach the field checks, which name the key


class _LimitExceeded(yaml.MarkedYAMLError):
    """A limit exceeded while composing: a YAMLError, so callers treat it as unreadable YAML."""


class _BoundedComposer(Composer):
    """PyYAML's composer, refusing before anything is built documents nested deeper than
    MAX_DEPTH or that expand (aliases followed) to more than MAX_NODES nodes. Composition is
    recursive, so the depth is checked as it descends; the expanded size and depth are then
    counted over the node graph, each shared (aliased) node once, without recursion."""

    def __init__(self):
        super().__init__()
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        self._depth += 1
        self._nodes += 1  # stop early: parsing 50k nodes takes ~1 s of pure Python
        try:
            if self._depth > MAX_DEPTH:
                raise _LimitExceeded(None, None, f"nesting deeper than {MAX_DEPTH} levels",
                                     self.peek_event().start_mark)
            if self._nodes > MAX_NODES:
                raise _LimitExceeded(None, None, f"more than {MAX_NODES} values",
                                     self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self):
        node = super().compose_document()
        _check_expanded(node)
        return node

    def compose_scalar_node(self, anchor):
        node = super().compose_scalar_node(anchor)
        if node.tag == "tag:yaml.org,2002:int" and len(node.value) > MAX_INT_CHARS:
            raise _LimitExceeded(None, None, f"an integer of more than {MAX_INT_CHARS} characters",
                                 node.start_mark)
        return node


def _children(node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expanded(root) -> None:
    """Expanded node count and depth of a composed node graph (a DAG when aliases are used;
    a recursive alias is a cycle), by an iterative post-order walk with memoised sizes."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            on_path.discard(key)
            if size[key] > MAX_NODES:
                raise _LimitExceeded(None, None, f"more than {MAX_NODES} values once aliases are "
                                     "expanded", node.start_mark)
            if depth[key] > MAX_DEPTH:
                raise _LimitExceeded(None, None, f"nesting deeper than {MAX_DEPTH} levels once "
                                     "aliases are expanded", node.start_mark)
            continue
        if key in size:
            continue
        if key in on_path:
            raise _LimitExceeded(None, None, "an alias inside its own anchor", node.start_mark)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)


def _bounded_text(p: Path) -> str:
    """The text of a file of at most MAX_FILE_BYTES (read no further: /dev/zero is refused too)."""
    try:
        with open(p, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(Problem(str(p), "", "an existing file", "no such file")) from None
    except OSError as e:
        raise SpecError(Problem(str(p), "", "a readable UTF-8 text file", type(e).__name__)) from None
    if len(data) > MAX_FILE_BYTES:
        try:
            size = os.stat(p).st_size
        except OSError:
            size = 0
        found = f"{size / 2**20:.1f} MiB" if size > MAX_FILE_BYTES else f"more than {MAX_FILE_BYTES >> 20} MiB"
        raise SpecError(Problem(str(p), "", f"a file of at most {MAX_FILE_BYTES >> 20} MiB", found))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(Problem(str(p), "", "a readable UTF-8 text file", "UnicodeDecodeError")) from None


class _PureLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, _BoundedComposer,
                  yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """The pure-Python safe loader with the bounded composer (its messages are the reference)."""

    def __init__(self, stream):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _BoundedComposer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


if getattr(yaml, "__with_libyaml__", False):
    class _FastLoader(_BoundedComposer, yaml.cyaml.CParser, yaml.constructor.SafeConstructor,
                      yaml.resolver.Resolver):
        """libyaml parses (about 10x faster than Python, and not recursively); the bounded
        composer above builds the nodes from its events (it comes first in the MRO, so libyaml's
        own recursive composer is never used)."""

        def __init__(self, stream):
            yaml.cyaml.CParser.__init__(self, stream)
            _BoundedComposer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
else:
    _FastLoader = _PureLoader


def _load_yaml_text(text: str, loader=_FastLoader) -> Any:
    loader = loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path: os.PathLike | str) -> Any:
    """Safe loading of a YAML file within the limits above; syntax errors and exceeded limits
    become a SpecError naming the file, line and column."""
    p = Path(path)
    text = _bounded_text(p)
    try:
        return _load_yaml_text(text)
    except _LimitExceeded as e:
        error = e
    except (ValueError, OverflowError) as e:  # a value its resolver cannot build: 2020-13-45
        raise SpecError(Problem(str(p), "", "valid YAML", f"a value YAML cannot read ({e})")) from None
    except yaml.YAMLError:
        try:  # the pure-Python reader again, for the same message with or without libyaml
            return _load_yaml_text(text, _PureLoader)
        except yaml.YAMLError as e:
            error = e
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "the file"
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    raise SpecError(Problem(str(p), "", "valid YAML", f"{problem} at {where}")) from None


def read_json(path: os.PathLike | str) -> Any:
    """A JSON file (Hugging Face config.json) within the same size and depth limits."""
    p = Path(path)
    text = _bounded_text(p)
    try:
        doc = json.loads(text, parse_int=_bounded_int)
    except _LongInteger:
        raise SpecError(Problem(str(p), "", "valid JSON", f"an integer of more than {MAX_INT_CHARS} characters")) from None
    except json.JSONDecodeError as e:
        raise SpecError(Problem(str(p), "", "valid JSON", f"{e.msg} at line {e.lineno}, column {e.colno}")) from None
    except RecursionError:
        doc = None
        deep = True
    else:
        deep = _json_depth(doc) > MAX_DEPTH
    if deep:
        raise SpecError(Problem(str(p), "", "valid JSON", f"nesting deeper than {MAX_DEPTH} levels"))
    return doc


class _LongInteger(Exception):
    pass


def _bounded_int(text: str) -> int:
    if len(text) > MAX_INT_CHARS:
        raise _LongInteger
    return int(text)


def _json_depth(doc: Any) -> int:
    """Nodes on the deepest path, the scalar at its end included (as YAML's limit counts)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        x, d = stack.pop()
        deepest = max(deepest, d)
        if isinstance(x, (dict, list)) and d <= MAX_DEPTH:  # one level past the limit is enough
            stack.extend((v, d + 1) for v in (x.values() if isinstance(x, dict) else x))
    return deepest


def parse_scalar(text: str) -> Any:
    """Value of a ``--set key=value`` right-hand side: YAML scalar typing (3 -> int, 0.9 -> float)."""
    try:
        value = _load_yaml_text(text)
    except (yaml.YAMLError, ValueError, OverflowError):
        return text
    return value if isinstance(value, (int, float, str, bool, list)) or value is None else text


def hardware_doc(path: Path, resolve: Resolver, _chain: tuple[str, ...] = ()) -> dict:
    """The document of ``path`` with any ``extends`` chain merged and its ``set`` applied."""
    key = str(path.resolve())
    if key in _chain:
        names = " -> ".join(Path(c).stem for c in (*_chain, key))
        raise SpecError(Problem(str(path), "extends", "a chain without cycles", names))
    doc = read_yaml(path)
    if not isinstance(doc, dict):
        raise SpecError(Problem(str(path), "", "a mapping of hardware keys", type(doc).__name__))
    base_name = doc.get("extends")
    if base_name is None:
        if "set" in doc:
            raise SpecError(Problem(str(path), "set", "set only together with extends", "set without extends"))
        return doc
    if not isinstance(base_name, str):
        raise SpecError(Problem(str(path), "extends", "a hardware id, alias or file path", repr(base_name)))
    try:
        base_path = resolve(base_name, path.parent)
    except NotFoundError as e:  # say which file's extends could not be resolved
        raise NotFoundError(f"{path}: extends: {e}") from None
    base_doc = hardware_doc(base_path, resolve, (*_chain, key))
    merged = merge_derived(base_doc, doc, base_doc.get("id", base_name))
    overrides = doc.get("set") or {}
    if not isinstance(overrides, dict):
        raise SpecError(Problem(str(path), "set", "a mapping of dotted keys to values", repr(overrides)))
    return apply_overrides(merged, overrides, file=str(path))


def load_hardware(path: os.PathLike | str, resolve: Resolver) -> HardwareSpec:
    p = Path(path)
    return build_hardware(hardware_doc(p, resolve), file=str(p))


def dump_yaml(doc: Any, header: str = "") -> str:
    """YAML text of a plain document (block style, keys in the document's order): the only YAML
    writer (``roofsim probe``, ``roofsim calibrate``); ``header`` lines become ``#`` comments on top."""
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comments + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)
