"""Package data: published tables roofsim ships with their provenance (each folder has one).

``ai_and_memory_wall/``: the data behind Gholami et al., "AI and Memory Wall" (IEEE Micro 2024),
a subset of ``../shared/data/ai_and_memory_wall/``; see its PROVENANCE.md.
"""
from __future__ import annotations

from importlib.resources import files


def data_file(*parts: str) -> "importlib.resources.abc.Traversable":
    """A file shipped in this package (works from an installed wheel as from a checkout)."""
    return files(__name__).joinpath(*parts)
