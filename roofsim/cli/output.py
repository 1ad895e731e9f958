"""Rendering rows as table / csv / json / markdown, and safe writes of output files."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any, Sequence

from .. import fspath
from ..errors import OutputError

FORMATS = ("table", "csv", "json", "markdown")


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return str(value)


def table(rows: Sequence[dict], columns: Sequence[str] | None = None, align_right: Sequence[str] = ()) -> str:
    """An aligned plain-text table for people."""
    if not rows:
        return "(none)"
    cols = list(columns or rows[0].keys())
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    def fmt(values):
        return "  ".join(v.rjust(w) if c in align_right else v.ljust(w)
                         for v, w, c in zip(values, widths, cols)).rstrip()
    lines = [fmt(cols), "  ".join("-" * w for w in widths)]
    lines.extend(fmt(row) for row in cells)
    return "\n".join(lines)


def markdown(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "(none)"
    cols = list(columns or rows[0].keys())
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    out.extend("| " + " | ".join(_cell(r.get(c)) for c in cols) + " |" for r in rows)
    return "\n".join(out)


def csv_text(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    buf = io.StringIO()
    cols = list(columns or (rows[0].keys() if rows else []))
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c) for c in cols})
    return buf.getvalue().rstrip("\n")


def _json_default(o: Any):
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def json_text(obj: Any) -> str:
    def clean(x):
        if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x
    return json.dumps(clean(obj), indent=2, default=_json_default, allow_nan=False)


def write_output(path: str | os.PathLike, text: str | bytes) -> None:
    """Write an output file without ever harming what the path names. Text gets a final newline;
    bytes (an image) are written as they are.

    A regular file (or a new one) is written to a temporary file in the same folder and renamed
    over the target, so a failed run leaves nothing half-written; a new file gets the usual
    0666 & ~umask mode and an existing one keeps its mode. A symlink is followed: its target is
    written (atomically when it is a regular file) and the link stays a link. A character device
    (/dev/null, a terminal) or a FIFO is written through; renaming onto them would replace
    /dev/null with a regular file when run as root. A path naming an open file descriptor
    (/dev/stdout, /dev/fd/N, /proc/self/fd/N) is appended to, whatever it is (a pipe, or the
    file of a shell redirection, which must not be swapped for another). Anything else is
    refused: one OutputError.
    """
    where = str(path)
    data = text if isinstance(text, bytes) else (text if text.endswith("\n") else text + "\n").encode("utf-8")
    if _names_a_descriptor(path):
        _write_through(Path(path), data, where, "ab")
        return
    target = Path(os.path.realpath(path))  # follows symlinks, also chains and dangling ones
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise OutputError(where, _reason(e)) from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            _write_through(target, data, where)
            return
        raise OutputError(where, "a folder" if stat.S_ISDIR(st.st_mode)
                          else "not a regular file, character device or FIFO")
    if not fspath.is_dir(target.parent):
        raise OutputError(where, f"no such folder {str(target.parent)!r}")
    _replace_atomically(target, data, where, None if st is None else stat.S_IMODE(st.st_mode))


def check_output_path(path: str | os.PathLike) -> None:
    """Refuse, before any work is done, an output path that write_output would refuse later.

    (root passes every access() check; write_output then reports what goes wrong.)"""
    if _names_a_descriptor(path):
        return  # already open: written through as it is
    target = Path(os.path.realpath(path))
    try:
        st = os.stat(target)
    except OSError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if not (stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
            raise OutputError(str(path), "a folder" if stat.S_ISDIR(st.st_mode)
                              else "not a regular file, character device or FIFO")
        if not os.access(target, os.W_OK):
            raise OutputError(str(path), "permission denied")
        return
    if not fspath.is_dir(target.parent):
        raise OutputError(str(path), f"no such folder {str(target.parent)!r}")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise OutputError(str(path), f"folder {str(target.parent)!r} is not writable")


def _reason(e: OSError) -> str:
    return (e.strerror or type(e).__name__).lower()


_FD_PATH = re.compile(r"^/proc/(self|thread-self|\d+)(/task/\d+)?/fd/")


def _names_a_descriptor(path: str | os.PathLike) -> bool:
    """Whether following the path's symlinks passes through a /proc/PID/fd folder (/dev/stdout ->
    /proc/self/fd/1, /dev/fd -> /proc/self/fd): it then names a descriptor already open."""
    p = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on symlink hops
        p = os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))
        if _FD_PATH.match(p):
            return True
        if not os.path.islink(p):
            return False
        p = os.path.join(os.path.dirname(p), os.readlink(p))
    return False


def _write_through(target: Path, data: bytes, where: str, mode: str = "wb") -> None:
    try:
        with open(target, mode) as f:
            f.write(data)
    except OSError as e:
        raise OutputError(where, _reason(e)) from None


def _replace_atomically(target: Path, data: bytes, where: str, keep_mode: int | None) -> None:
    tmp = None
    try:
        for _ in range(100):  # O_EXCL: a fresh name, created with 0666 & ~umask like any new file
            tmp = target.parent / f".{target.name[:200]}.{secrets.token_hex(4)}.tmp"  # <= 255 bytes
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                tmp = None
        else:
            raise OutputError(where, "no free temporary file name")
        with os.fdopen(fd, "wb") as f:
            if keep_mode is not None:
                os.fchmod(f.fileno(), keep_mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        tmp = None
    except OSError as e:
        raise OutputError(where, _reason(e)) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
