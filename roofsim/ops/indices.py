"""A user's row ids (.npy) for embedding tables: loaded safely, validated, bounded.

The file is read with ``allow_pickle=False`` (no code runs), only when it is a regular file (a
FIFO or device would block or never end) of at most MAX_FILE_BYTES, holding a non-empty 1-D
integer array whose every id is a row of the table. Every failure is a SpecError naming the file.
"""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import Problem, SpecError
from .access import RowIds

MAX_FILE_BYTES = 1 << 30   # 1 GiB: 134 M int64 ids, far more than a trace needs


def checked_npy(path, key: str, max_bytes: Optional[int] = None) -> np.ndarray:
    """The array of a .npy file, or a SpecError: not found, not a regular file, too large,
    not an .npy, or an object array (pickles are refused)."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise SpecError(Problem(None, key, "a path to a .npy file", repr(path)))
    p = Path(path)
    regular_file(p, key, max_bytes)
    try:
        with open(p, "rb") as f:
            arr = np.load(f, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise SpecError(Problem(str(p), key, "a .npy array without pickled objects", str(e).splitlines()[0][:120]
                                if str(e) else type(e).__name__)) from None
    if not isinstance(arr, np.ndarray):  # an .npz archive
        raise SpecError(Problem(str(p), key, "a .npy array", "an .npz archive"))
    return arr


def regular_file(p: Path, key: str, max_bytes: Optional[int] = None) -> None:
    """A SpecError unless p is an existing regular file (links followed) of at most max_bytes."""
    try:
        st = p.stat()   # follows symlinks: a link to a regular file is fine, a loop is an OSError
    except OSError as e:
        raise SpecError(Problem(str(p), key, "an existing file", e.strerror or type(e).__name__)) from None
    if not stat.S_ISREG(st.st_mode):
        raise SpecError(Problem(str(p), key, "a regular file", "not a regular file"))
    max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes
    if st.st_size > max_bytes:
        raise SpecError(Problem(str(p), key, f"a file of at most {max_bytes} bytes", f"{st.st_size} bytes"))


def load_row_ids(path, table_rows: int, key: str = "index_file") -> RowIds:
    """Row ids in the order a table is read (consecutive batches take consecutive ids)."""
    arr = checked_npy(path, key)
    where = str(path)
    if arr.ndim != 1 or arr.size == 0:
        raise SpecError(Problem(where, key, "a non-empty 1-D array of row ids", f"shape {arr.shape}"))
    if arr.dtype.kind not in "iu":
        raise SpecError(Problem(where, key, "integer row ids", f"dtype {arr.dtype}"))
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= table_rows:
        raise SpecError(Problem(where, key, f"row ids in [0, {table_rows})", f"ids from {lo} to {hi}"))
    ids = np.ascontiguousarray(arr, dtype=np.int64)
    ids.setflags(write=False)
    return RowIds(ids, hashlib.sha1(ids.tobytes()).hexdigest())
