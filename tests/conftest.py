"""Session-wide test setup."""
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _first_compile_note_already_given():
    """On a fresh install (no numba cache) the CLI's one-time 'compiling ... kernels' note would
    land in whichever CLI test first needs a kernel, between the lines it parses (a JSON test
    failed that way). The note has its own tests (test_cli_cache_inputs resets this set)."""
    from roofsim import kernels
    kernels._checked.update(p.stem for p in Path(kernels.__file__).parent.glob("*.py")
                            if p.stem != "__init__")
    yield
