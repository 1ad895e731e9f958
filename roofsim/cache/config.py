"""Cache-level configuration: a frozen dataclass checked on construction, and the CLI spec parser.

A level spec reads ``CAPACITY,WAYS,LINE,POLICY[,WRITE_POLICY[,ALLOCATE]]``, e.g. ``32KiB,8,64,lru``
or ``1MiB,full,64,plru,wt,nwa``. WAYS ``full`` means fully associative.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import CacheConfigError, UnitError

POLICIES = ("lru", "fifo", "random", "plru")
WRITE_POLICIES = ("write-back", "write-through")
_WRITE_ALIASES = {"wb": "write-back", "write-back": "write-back",
                  "wt": "write-through", "write-through": "write-through"}
_ALLOCATE_ALIASES = {"wa": True, "write-allocate": True, "nwa": False, "no-write-allocate": False}
MAX_LEVELS = 8
# Every access scans its set's ways, so a set of millions of ways (a huge "full" level) would
# take hours; fully associative LRU of any size is what `roofsim cache mrc` computes exactly.
MAX_WAYS = 1 << 16
MAX_CAPACITY = 1 << 62  # byte addresses are below 2**62: a larger cache holds nothing more


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


@dataclass(frozen=True)
class CacheLevelConfig:
    """One cache level. Sizes are bytes; sets = capacity / (ways x line)."""

    capacity_bytes: int
    ways: int
    line_bytes: int = 64
    policy: str = "lru"
    write_policy: str = "write-back"
    write_allocate: bool = True
    name: str = ""

    def __post_init__(self):
        problems = []
        for field in ("capacity_bytes", "ways", "line_bytes"):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                problems.append(f"{field}: expected a positive integer, found {v!r}")
        if self.policy not in POLICIES:
            problems.append(f"policy: expected one of {', '.join(POLICIES)}, found {self.policy!r}")
        if self.write_policy not in WRITE_POLICIES:
            problems.append(f"write_policy: expected one of {', '.join(WRITE_POLICIES)}, "
                            f"found {self.write_policy!r}")
        if not problems:
            if not _is_pow2(self.line_bytes):
                problems.append(f"line_bytes: expected a power of two, found {self.line_bytes}")
            if self.capacity_bytes % (self.ways * self.line_bytes):
                problems.append(f"capacity_bytes: expected a multiple of ways x line_bytes = "
                                f"{self.ways * self.line_bytes}, found {self.capacity_bytes}")
            if self.capacity_bytes > MAX_CAPACITY or self.line_bytes > MAX_CAPACITY:
                problems.append(f"capacity_bytes: expected at most 2**62 (4 EiB, the address "
                                f"space simulated), found {self.capacity_bytes}")
            if self.ways > MAX_WAYS:
                problems.append(f"ways: expected at most {MAX_WAYS} (each access scans its set; "
                                f"`roofsim cache mrc` gives fully associative LRU of any size), "
                                f"found {self.ways}")
            if self.policy == "plru" and not _is_pow2(self.ways):
                problems.append(f"ways: tree-PLRU needs a power of two, found {self.ways}")
        if problems:
            where = f"cache level {self.name}: " if self.name else "cache level: "
            raise CacheConfigError("\n".join(where + p for p in problems))

    @property
    def sets(self) -> int:
        return self.capacity_bytes // (self.ways * self.line_bytes)

    def describe(self) -> str:
        return f"{self.capacity_bytes} B, {self.ways}-way, {self.line_bytes} B lines, {self.policy}"

    @classmethod
    def parse(cls, text: str, name: str = "") -> "CacheLevelConfig":
        """Parse ``32KiB,8,64,lru[,wb|wt[,wa|nwa]]``; raise CacheConfigError saying what is wrong."""
        example = "e.g. 32KiB,8,64,lru"
        parts = [p.strip() for p in str(text).split(",")]
        if not 4 <= len(parts) <= 6:
            raise CacheConfigError(f"level {text!r}: expected CAPACITY,WAYS,LINE,POLICY"
                                   f"[,wb|wt[,wa|nwa]] ({example})")
        capacity = _parse_bytes(parts[0], f"level {text!r}: capacity")
        line = _parse_bytes(parts[2] if not parts[2].isdigit() else parts[2] + " B",
                            f"level {text!r}: line")
        if parts[1].lower() == "full":
            ways = capacity // line if line else 0
        elif parts[1].isdigit():
            ways = int(parts[1])
        else:
            raise CacheConfigError(f"level {text!r}: ways: expected an integer or 'full', "
                                   f"found {parts[1]!r} ({example})")
        policy = parts[3].lower()
        write_policy = "write-back"
        if len(parts) >= 5:
            if parts[4].lower() not in _WRITE_ALIASES:
                raise CacheConfigError(f"level {text!r}: write policy: expected one of wb, wt, "
                                       f"found {parts[4]!r}")
            write_policy = _WRITE_ALIASES[parts[4].lower()]
        allocate = True
        if len(parts) == 6:
            if parts[5].lower() not in _ALLOCATE_ALIASES:
                raise CacheConfigError(f"level {text!r}: allocation: expected one of wa, nwa, "
                                       f"found {parts[5]!r}")
            allocate = _ALLOCATE_ALIASES[parts[5].lower()]
        return cls(capacity, ways, line, policy, write_policy, allocate, name)


def _parse_bytes(text: str, what: str) -> int:
    from ..units import parse_quantity

    try:
        value = parse_quantity(text, "bytes")
    except UnitError as e:
        raise CacheConfigError(f"{what}: {e}") from None
    if value != int(value) or value < 1:
        raise CacheConfigError(f"{what}: expected a whole positive number of bytes, found {text!r}")
    return int(value)


def check_hierarchy(levels) -> tuple:
    """Validate a list of levels as a hierarchy (innermost first); name unnamed ones L1, L2..."""
    levels = tuple(levels)
    if not levels:
        raise CacheConfigError("a cache hierarchy needs at least one level")
    if len(levels) > MAX_LEVELS:
        raise CacheConfigError(f"at most {MAX_LEVELS} cache levels, found {len(levels)}")
    named = []
    for i, lv in enumerate(levels):
        if not isinstance(lv, CacheLevelConfig):
            raise CacheConfigError(f"level {i + 1}: expected a CacheLevelConfig, found "
                                   f"{type(lv).__name__}")
        if not lv.name:
            lv = CacheLevelConfig(lv.capacity_bytes, lv.ways, lv.line_bytes, lv.policy,
                                  lv.write_policy, lv.write_allocate, f"L{i + 1}")
        named.append(lv)
    return tuple(named)
