"""Names and aliases -> files: the bundled catalogue, ROOFSIM_PATH, --hw-path, explicit paths.

Search order: explicit folders (``--hw-path``), then ``ROOFSIM_PATH`` (os.pathsep-separated),
then the bundled catalogue, so a user's file can shadow a bundled one of the same id.
"""
from __future__ import annotations

import difflib
import importlib.util
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Optional, Sequence

from . import fspath
from .errors import NameConflictError, NotFoundError, Problem, SpecError
from .filecache import StampedCache, stamp

_SUFFIXES = (".yaml", ".yml")


@lru_cache(maxsize=8)  # where the package is installed does not change while it runs
def bundled_dir(kind: str) -> Path:
    """Folder of the bundled ``hardware`` or ``workloads`` catalogue (installed or editable)."""
    spec = importlib.util.find_spec(f"roofsim.catalogue.{kind}")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            if fspath.is_dir(loc):
                return Path(loc)
    return Path(__file__).resolve().parent.parent / kind  # running from a source checkout


def search_dirs(kind: str, extra: Sequence[os.PathLike | str] = ()) -> list[Path]:
    """Folders to search, first wins. A folder that does not exist is an error, not skipped:
    a mistyped path would silently fall back to the bundled file of the same id."""
    env = [p for p in os.environ.get("ROOFSIM_PATH", "").split(os.pathsep) if p]
    flag = "--hw-path" if kind == "hardware" else "--wl-path"
    missing = [Problem(None, where, "an existing folder", f"{str(p)!r} ({'not a folder' if fspath.exists(p) else 'no such folder'})")
               for where, paths in ((flag, extra), ("ROOFSIM_PATH", env)) for p in paths if not fspath.is_dir(p)]
    if missing:
        raise SpecError(missing)
    dirs = [Path(p) for p in (*extra, *env)]
    # A user folder may hold hardware/ and workloads/ subfolders, or the files directly.
    expanded = []
    for d in dirs:
        expanded.append(d / kind if fspath.is_dir(d / kind) else d)
    bundled = bundled_dir(kind)
    expanded.append(bundled)
    # Sub-folders of the bundled catalogue (hardware/hypothetical/: designs derived from real
    # devices) come after it, so a real device's id always wins.
    expanded.extend(_subfolders(bundled, _mtime(bundled)))
    return expanded


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@lru_cache(maxsize=16)
def _subfolders(path: Path, mtime: float) -> tuple[Path, ...]:
    """Visible sub-folders, sorted (``mtime`` is only the cache key: a new folder is seen)."""
    if not path.is_dir():
        return ()
    return tuple(sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))))


def _files(dirs: Iterable[Path], suffixes: tuple[str, ...]) -> list[Path]:
    out = []
    for d in dirs:
        if d.is_dir():
            # regular files only: a folder named x.yaml crashed, a FIFO would block the read
            out.extend(sorted(p for p in d.iterdir()
                              if p.suffix in suffixes and not p.name.startswith(".") and fspath.is_file(p)))
    return out


@lru_cache(maxsize=256)
def _aliases_in(path: Path, mtime: float) -> tuple[str, ...]:
    """Aliases declared in a file, read without a full YAML parse (keeps lookups fast).

    ``mtime`` is only part of the cache key: an edited file is read again."""
    text = path.read_text(encoding="utf-8", errors="replace")
    m = re.search(r"^aliases:\s*\[([^\]]*)\]", text, re.M)
    if m:
        return tuple(a.strip().strip("'\"") for a in m.group(1).split(",") if a.strip())
    m = re.search(r"^aliases:\s*\n((?:\s+-\s*.+\n?)+)", text, re.M)
    if m:
        return tuple(line.split("-", 1)[1].strip().strip("'\"") for line in m.group(1).splitlines() if "-" in line)
    return ()


def looks_like_path(name: str) -> bool:
    return name.endswith(_SUFFIXES + (".json",)) or os.sep in name or name.startswith(".")


# Names -> files. An entry holds stamps of the folders searched (a file added, removed or renamed
# changes them) and, for an alias, of every file whose aliases were read up to the hit.
_RESOLVED = StampedCache(maxsize=512)


def resolve(name: str, kind: str, extra: Sequence[os.PathLike | str] = (),
            relative_to: Optional[Path] = None, suffixes: tuple[str, ...] = _SUFFIXES) -> Path:
    """File for an id, an alias or a path. Unknown names list the nearest known ones."""
    if looks_like_path(name):
        return _resolve(name, kind, extra, relative_to, suffixes, [])
    key = (name, kind, tuple(map(str, extra)), str(relative_to), suffixes, os.environ.get("ROOFSIM_PATH", ""),
           os.getcwd())
    hit = _RESOLVED.get(key)
    if hit is None:
        stamps: list = []
        hit = _resolve(name, kind, extra, relative_to, suffixes, stamps)
        _RESOLVED.put(key, hit, stamps)
    return hit


def _resolve(name: str, kind: str, extra: Sequence[os.PathLike | str], relative_to: Optional[Path],
             suffixes: tuple[str, ...], stamps: list) -> Path:
    if looks_like_path(name):
        for base in ([relative_to] if relative_to else []) + [Path.cwd()]:
            p = (base / name) if not Path(name).is_absolute() else Path(name)
            if fspath.is_file(p):
                return p
        raise NotFoundError(f"{kind} file {name!r}: no such file")
    dirs = search_dirs(kind, extra)
    if relative_to is not None:
        dirs.insert(0, relative_to)
    stamps.extend(stamp(d) for d in dirs)  # taken before the search, so a change during it reloads
    for d in dirs:
        for suffix in suffixes:
            p = d / f"{name}{suffix}"
            if fspath.is_file(p):
                return p
    files = _files(dirs, suffixes)
    # An alias never takes a name over silently: ids are matched first (above), and an alias
    # that two files declare (a user file reusing a catalogue alias) is refused, naming both.
    # A file shadowed by an earlier one of the same id does not count.
    stamps.extend(stamp(p) for p in files)
    owners = [p for p in _unshadowed(files) if name in _aliases_in(p, p.stat().st_mtime)]
    if len(owners) > 1:
        raise NameConflictError(f"{kind} alias {name!r} is declared by both {owners[0]} and {owners[1]}: "
                                "name the device by its id or path, or remove one alias")
    if owners:
        return owners[0]
    known = sorted({p.stem for p in files} | {a for p in files for a in _aliases_in(p, p.stat().st_mtime)})
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; run `roofsim {'hw' if kind == 'hardware' else 'workload'} list`"
    raise NotFoundError(f"unknown {'hardware' if kind == 'hardware' else 'workload'} {name!r}{hint}")


def _unshadowed(files: Iterable[Path]) -> list[Path]:
    """One file per id; earlier folders shadow later ones."""
    seen, out = set(), []
    for p in files:
        if p.stem not in seen:
            seen.add(p.stem)
            out.append(p)
    return out


def list_files(kind: str, extra: Sequence[os.PathLike | str] = (), suffixes: tuple[str, ...] = _SUFFIXES) -> list[Path]:
    """One file per id; earlier folders shadow later ones."""
    return _unshadowed(_files(search_dirs(kind, extra), suffixes))
