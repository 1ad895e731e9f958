"""Replacing one `## ` section of benchmarks/RESULTS.md (the scripts' --write-results)."""
from __future__ import annotations

import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def replace_section(heading: str, section: str) -> None:
    """Put `section` (starting with `heading`) in place of the section of that heading, or at
    the end of the file when there is none yet."""
    text = open(PATH).read() if os.path.exists(PATH) else "# Benchmark results\n\n"
    start = text.find(heading)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
    with open(PATH, "w") as f:
        f.write(text)
