"""Path tests that answer False where pathlib raises.

``Path.is_file()``/``is_dir()``/``exists()`` swallow only 'no such file' errors: a name longer
than the file system allows (ENAMETOOLONG), or a path through something that is not searchable,
raised OSError, and a 300-character ``--hw`` or ``--output`` folder ended in a traceback instead
of the one-line 'no such file/folder' it is.
"""
from __future__ import annotations

import os
from pathlib import Path


def is_file(p: str | os.PathLike) -> bool:
    try:
        return Path(p).is_file()
    except OSError:
        return False


def is_dir(p: str | os.PathLike) -> bool:
    try:
        return Path(p).is_dir()
    except OSError:
        return False


def exists(p: str | os.PathLike) -> bool:
    try:
        return Path(p).exists()
    except OSError:
        return False
