"""Checks of flat builder parameters (as YAML or --set gives them): each appends a Problem naming
its key to ``problems`` and returns None when the value is bad, so a builder reports every problem
at once. ``--set`` values arrive as strings or YAML scalars: '8' is accepted for an integer."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from ..errors import Problem


def int_param(value: Any, key: str, minimum: int, problems: list) -> Optional[int]:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            pass
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 62:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.append(Problem(None, key, f"an integer >= {minimum}", repr(value)))
        return None
    return value


def number_param(value: Any, key: str, problems: list) -> Optional[float]:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < 1e3):
        problems.append(Problem(None, key, "a number > 0 (and < 1000)", repr(value)))
        return None
    return float(value)


def choice_param(value: Any, key: str, choices: Sequence[str], problems: list) -> Optional[str]:
    if value not in choices:
        problems.append(Problem(None, key, "one of " + ", ".join(choices), repr(value)))
        return None
    return value
