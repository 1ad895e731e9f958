"""Values derived from one frozen object, reused while the same object comes back.

A warm query hands the model the same HardwareSpec and Workload objects every time (the file
caches of roofsim/filecache.py return them), so what depends on one of them alone (a device's
level arrays, a workload's per-op tables) is computed once. Keyed by id() and checked with a weak
reference, because hashing a spec or a workload walks every field and op.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable


class ByIdentity:
    """A small map from live objects (by identity) to values derived from them."""

    def __init__(self, maxsize: int = 64):
        self.maxsize = maxsize
        self._entries: dict = {}

    def get(self, obj: Any, make: Callable[[], Any]) -> Any:
        hit = self._entries.get(id(obj))
        if hit is not None and hit[0]() is obj:
            return hit[1]
        value = make()
        try:
            ref = weakref.ref(obj)
        except TypeError:   # an object without weak references (a duck-typed stand-in): not kept
            return value
        if len(self._entries) >= self.maxsize:
            self._entries.clear()
        self._entries[id(obj)] = (ref, value)
        return value

    def clear(self) -> None:
        self._entries.clear()
