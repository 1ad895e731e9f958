"""Exception hierarchy. Stdlib only, so every module can import it.

Every user-facing problem is a :class:`RoofsimError`; the CLI prints its message and exits 2.
Errors that come from a file carry their location (file, key path) so a message always says
where, what was expected and what was found.
"""
from __future__ import annotations


class RoofsimError(Exception):
    """Base of every error roofsim raises on bad input."""


class Problem:
    """One problem at one place: file, dotted key path, expected, found."""

    __slots__ = ("file", "path", "expected", "found", "hint")

    def __init__(self, file: str | None, path: str, expected: str, found: str, hint: str = ""):
        self.file, self.path, self.expected, self.found, self.hint = file, path, expected, found, hint

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        key = self.path or "<top>"
        text = f"{where}{key}: expected {self.expected}, found {self.found}"
        return f"{text} ({self.hint})" if self.hint else text

    def __repr__(self) -> str:
        return f"Problem({str(self)!r})"

    def __reduce__(self):
        return (Problem, (self.file, self.path, self.expected, self.found, self.hint))


class SpecError(RoofsimError):
    """One or more problems in a spec (hardware or workload), reported together, one per line."""

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self):
        return (SpecError, (self.problems,))


class BadValue(RoofsimError):
    """One value that is not what was expected; ``expected`` and ``found`` become a Problem."""

    def __init__(self, expected: str, found: str):
        self.expected, self.found = expected, found
        super().__init__(f"expected {expected}, found {found}")

    def __reduce__(self):
        return (type(self), (self.expected, self.found))


class UnitError(BadValue):
    """A quantity string that cannot be read: no unit, wrong dimension, unknown unit."""


class NotFoundError(RoofsimError):
    """An unknown hardware or workload name."""


class NameConflictError(RoofsimError):
    """A name that two files claim (an alias declared twice): refused rather than guessed."""


class CacheConfigError(RoofsimError):
    """A bad cache-level description or trace for the cache simulator."""


class OutputError(RoofsimError):
    """An output path that cannot be written (missing or unwritable folder, a folder, a socket)."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"--output {path}: cannot write: {reason}")

    def __reduce__(self):
        return (OutputError, (self.path, self.reason))
