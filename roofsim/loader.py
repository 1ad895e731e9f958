"""The only module that reads YAML (safe loading only), and the loading of hardware files.

``extends`` chains are resolved here: each base is found by the catalogue's resolver, cycles are
errors, and the derived document is validated as a whole so every problem shows at once.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from .errors import NotFoundError, Problem, SpecError
from .hardware import apply_overrides, build_hardware, merge_derived
from .specs import HardwareSpec

Resolver = Callable[[str, Optional[Path]], Path]
# libyaml's safe loader where PyYAML was built with it (about 10x faster); the same safe tags.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: os.PathLike | str) -> Any:
    """``yaml.safe_load`` of a file; syntax errors become a SpecError with the line and column."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(Problem(str(p), "", "an existing file", "no such file")) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise SpecError(Problem(str(p), "", "a readable UTF-8 text file", type(e).__name__)) from None
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError:
        pass
    try:  # the pure-Python reader again, for the same message with or without libyaml
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "the file"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(Problem(str(p), "", "valid YAML", f"{problem} at {where}")) from None


def parse_scalar(text: str) -> Any:
    """Value of a ``--set key=value`` right-hand side: YAML scalar typing (3 -> int, 0.9 -> float)."""
    try:
        value = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError:
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
