"""Every numba kernel of roofsim lives here, on arrays only.

Nothing outside this package imports numba, and the public modules import these kernels inside
the functions that need them (through ``load``), so ``import roofsim`` and ``roofsim --help``
never load numba.
"""
from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path

log = logging.getLogger("roofsim")
_checked: set[str] = set()


def load(module: str):
    """``roofsim.kernels.<module>``, imported on first use. When numba has no compiled copy of
    it on disk yet (a fresh install), say once, as an INFO record of the ``roofsim`` logger,
    that the first call compiles for several seconds: the CLI prints it on stderr."""
    if module not in _checked:
        _checked.add(module)
        if not compiled_on_disk(module):
            log.info("compiling roofsim's %s kernels on first use (several seconds, once: numba "
                     "caches them for later runs)", module)
    return importlib.import_module(f"{__name__}.{module}")


def compiled_on_disk(module: str) -> bool:
    """Whether numba's cache holds an index of `module`'s kernels where numba looks: only in
    NUMBA_CACHE_DIR when it is set, else beside the source, or in the user-wide cache where the
    package folder is read-only. Found by file name, without importing numba (~0.4 s)."""
    pattern = f"{module}.*.nbi"
    user_dir = os.environ.get("NUMBA_CACHE_DIR")
    if user_dir:
        return os.path.isdir(user_dir) and any(Path(user_dir).rglob(pattern))
    if any((Path(__file__).parent / "__pycache__").glob(pattern)):
        return True
    user_wide = Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")) / "numba"
    return user_wide.is_dir() and any(user_wide.rglob(pattern))
