"""Specs and workloads memoised by the files they were built from.

A warm query should not re-read and re-validate the same YAML on every call (that was two
thirds of a ``roofsim.run``). An entry remembers a stamp (mtime in ns, size, inode) of every file
that went into it, taken BEFORE the file was read, and is reused only while every one of them
still stamps the same: editing, replacing or deleting any file of a hardware ``extends`` chain
reloads it. Cached values are frozen dataclasses, so handing out the same object is safe.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Hashable, Iterable, Optional

Stamp = tuple[str, Optional[tuple[int, int, int]]]


def stamp(path: os.PathLike | str) -> Stamp:
    """(path, (mtime_ns, size, inode)), or (path, None) for a file that cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return (str(path), None)
    return (str(path), (st.st_mtime_ns, st.st_size, st.st_ino))


def freeze(value: Any) -> Hashable:
    """A hashable stand-in for an overrides mapping (lists -> tuples, dicts -> sorted pairs).

    Raises TypeError for values that cannot be frozen; callers then skip the cache."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    hash(value)
    # 1 and 1.0 and True hash alike but are different overrides: keep the type in the key
    return (type(value).__name__, value)


class StampedCache:
    """A small LRU map whose entries expire when a file they depend on changes."""

    def __init__(self, maxsize: int = 128):
        self.maxsize = maxsize
        self._entries: OrderedDict = OrderedDict()

    def get(self, key: Hashable) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, stamps = entry
        if any(stamp(path) != (path, s) for path, s in stamps):
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Any, stamps: Iterable[Stamp]) -> None:
        stamps = tuple(stamps)
        if any(s is None for _, s in stamps):
            return  # a file we cannot stat cannot be checked later
        self._entries[key] = (value, stamps)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
