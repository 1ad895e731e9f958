"""Shared by the plot tests: the toy inputs, the CLI runner and a lookup of artists by gid."""
from pathlib import Path

from click.testing import CliRunner

from roofsim.cli import main

DATA = Path(__file__).parent / "data"
TOY = str(DATA / "engine" / "toy-chip.yaml")
TINY = str(DATA / "wl" / "tiny.yaml")


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def gids(ax, prefix):
    """The artists of ``ax`` whose gid starts with ``prefix`` (plotting names what it draws)."""
    return [a for a in ax.get_children() if (a.get_gid() or "").startswith(prefix)]
