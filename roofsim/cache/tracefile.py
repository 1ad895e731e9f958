"""Reading trace arrays from .npy and .npz files: never a pickle, one clear line per problem.

A .npy is memory-mapped (a trace larger than memory works). A .npz is a zip: its member is read
into memory, so its declared size is checked first (a small compressed file can claim gigabytes).
Addresses may be any integer type whose values are byte addresses: >= 0 and below 2**62.
"""
from __future__ import annotations

import os
import stat
import zipfile

import numpy as np

from ..errors import CacheConfigError
from .simulator import MAX_ACCESS_BYTES

NPZ_MAX_BYTES = 1 << 30  # a .npz member is loaded whole; larger traces belong in a .npy
_ADDRESS_LIMIT = 1 << 62
_NPY_MAGIC, _ZIP_MAGIC = b"\x93NUMPY", b"PK\x03\x04"


def read_array(path: str, what: str, member: str) -> np.ndarray:
    """The 1-D array of a .npy file, or of `member` (or the only array) of a .npz file."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the read below
            raise CacheConfigError(f"{path}: not a regular file (a .npy is memory-mapped, a .npz unzipped)")
        with open(path, "rb") as f:
            magic = f.read(6)
    except FileNotFoundError:
        raise CacheConfigError(f"{path}: no such file") from None
    except OSError as e:
        raise CacheConfigError(f"{path}: cannot read ({(e.strerror or type(e).__name__).lower()})") from None
    if magic == _NPY_MAGIC:
        a = _read_npy(path, what)
    elif magic[:4] == _ZIP_MAGIC:
        a = _read_npz(path, what, member)
    else:
        raise CacheConfigError(f"{path}: not a .npy or .npz file (expected numpy's binary format)")
    if a.ndim != 1:
        raise CacheConfigError(f"{path}: expected a 1-D array of {what}, found shape {a.shape}")
    return a


def _header(f, path: str, name: str = "") -> tuple[tuple, np.dtype]:
    """(shape, dtype) from a .npy header, read without loading the data."""
    what = f"array {name!r}" if name else "the array"
    try:
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise CacheConfigError(f"{path}: {what} in .npy format {version}, expected 1.0 or 2.0")
        shape, _, dtype = read_header(f)
    except (ValueError, OSError, EOFError):
        raise CacheConfigError(f"{path}: not a readable .npy file (damaged header)") from None
    if dtype.hasobject:
        raise CacheConfigError(f"{path}: {what} holds Python objects, expected numbers (pickles "
                               f"are never loaded)")
    return shape, dtype


def _read_npy(path: str, what: str) -> np.ndarray:
    with open(path, "rb") as f:
        _header(f, path)
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError):
        raise CacheConfigError(f"{path}: not a readable .npy file (shorter than its header says)") from None


def _read_npz(path: str, what: str, member: str) -> np.ndarray:
    try:
        with zipfile.ZipFile(path) as z:
            names = [n[:-4] for n in z.namelist() if n.endswith(".npy")]
            name = member if member in names else (names[0] if len(names) == 1 else None)
            if name is None:
                found = ", ".join(names) or "no arrays"
                raise CacheConfigError(f"{path}: expected an array named {member!r} (or a single "
                                       f"array), found {found}")
            with z.open(name + ".npy") as f:
                shape, dtype = _header(f, path, name)
            declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if declared > NPZ_MAX_BYTES:
                raise CacheConfigError(
                    f"{path}: array {name!r} of {declared / 2**30:.1f} GiB; a .npz is read whole, "
                    f"at most {NPZ_MAX_BYTES >> 30} GiB: save it with np.save as a .npy, which "
                    f"is memory-mapped")
            a = np.load(path, allow_pickle=False)[name]
    except CacheConfigError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, RuntimeError, NotImplementedError):
        raise CacheConfigError(f"{path}: not a readable .npz file (damaged or encrypted zip)") from None
    return a


def read_trace(path: str) -> np.ndarray:
    """Byte addresses: a 1-D integer array (any width, signed or not) of values in [0, 2**62)."""
    a = read_array(path, "byte addresses", "addrs")
    if a.dtype.kind not in "iu":
        raise CacheConfigError(f"{path}: expected integer byte addresses (e.g. uint64 or int64), "
                               f"found {a.dtype}")
    if a.size:
        lo, hi = (int(a.min()) if a.dtype.kind == "i" else 0), int(a.max())
        if lo < 0:
            i = int(np.argmax(a < 0))
            raise CacheConfigError(f"{path}: byte addresses must be >= 0, found {int(a[i])} at index {i}")
        if hi >= _ADDRESS_LIMIT:
            i = int(np.argmax(a >= _ADDRESS_LIMIT))
            raise CacheConfigError(f"{path}: byte addresses must be below 2**62, found {int(a[i])} at index {i}")
    return a


def trace_members(path: str) -> tuple[str, ...]:
    """Names of the arrays of a .npz file (none for a .npy or anything else)."""
    try:
        with open(path, "rb") as f:
            if f.read(4) != _ZIP_MAGIC:
                return ()
        with zipfile.ZipFile(path) as z:
            return tuple(n[:-4] for n in z.namelist() if n.endswith(".npy"))
    except (OSError, zipfile.BadZipFile):
        return ()


def read_sizes(path: str, length: int) -> np.ndarray:
    """Access sizes in bytes, one per access: integers >= 1 (.npy, or 'sizes' of a .npz)."""
    a = _per_access(path, "access sizes", "sizes", length)
    if a.dtype.kind not in "iu":
        raise CacheConfigError(f"{path}: expected integer access sizes in bytes, found {a.dtype}")
    if a.size and int(a.min()) < 1:
        i = int(np.argmax(a < 1))
        raise CacheConfigError(f"{path}: access sizes must be >= 1 byte, found {int(a[i])} at index {i}")
    if a.size and int(a.max()) > MAX_ACCESS_BYTES:
        i = int(np.argmax(a > MAX_ACCESS_BYTES))
        raise CacheConfigError(f"{path}: access sizes must be at most 2**30 bytes (split larger "
                               f"transfers), found {int(a[i])} at index {i}")
    return a


def read_writes(path: str, length: int) -> np.ndarray:
    """The write mask, one flag per access: bool or 0/1 integers (.npy, or 'writes' of a .npz)."""
    a = _per_access(path, "write flags", "writes", length)
    if a.dtype.kind == "b":
        return a
    if a.dtype.kind in "iu" and (not a.size or (int(a.min()) >= 0 and int(a.max()) <= 1)):
        return a
    raise CacheConfigError(f"{path}: expected write flags as bool or 0/1 integers, found "
                           f"{a.dtype}" + (f" from {a.min()} to {a.max()}" if a.dtype.kind in "iuf" and a.size else ""))


def _per_access(path: str, what: str, member: str, length: int) -> np.ndarray:
    a = read_array(path, what, member)
    if a.shape[0] != length:
        raise CacheConfigError(f"{path}: expected {length} {what} (one per access), found {a.shape[0]}")
    return a
