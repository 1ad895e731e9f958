"""The command line: the only place that prints or exits. Thin: every command calls the Python API.

Heavy imports (pandas, numba, matplotlib) happen inside commands, so ``roofsim --help`` is instant.
"""
from __future__ import annotations

import logging
import sys

import click

from ..errors import RoofsimError


class RoofsimGroup(click.Group):
    """Turns any RoofsimError into one line per problem on stderr and exit code 2, no traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RoofsimError as e:
            for line in str(e).splitlines() or [type(e).__name__]:
                click.echo(f"error: {line}", err=True)
            sys.exit(2)


@click.group(cls=RoofsimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="roofsim")
def main():
    """roofsim: is this workload compute-, memory-, interconnect- or latency-bound on this chip?"""
    _notes_to_stderr()


class _Notes(logging.Handler):
    """The package's INFO records (e.g. the one-time kernel compile) as `note:` lines on stderr."""

    def emit(self, record):
        click.echo(f"note: {record.getMessage()}", err=True)


def _notes_to_stderr() -> None:
    log = logging.getLogger("roofsim")
    if not any(isinstance(h, _Notes) for h in log.handlers):
        log.addHandler(_Notes())
        log.setLevel(logging.INFO)
        log.propagate = False


# (module under roofsim.cli, command name). Add one line per new command; an import error in a
# command module is a bug and surfaces, it is not swallowed.
COMMANDS = (
    ("hw", "hw"),
    ("run", "run"),
    ("run", "compare"),
    ("workload", "workload"),
    ("cache", "cache"),
    ("validate", "validate"),
    ("trends", "trends"),
    ("probe", "probe"),
    ("calibrate", "calibrate"),
    ("plot", "plot"),
    ("sweep", "sweep"),
    ("sweep", "sensitivity"),
    ("memory", "memory"),
    ("scale", "scale"),
)


def _register() -> None:
    import importlib

    for module, name in COMMANDS:
        mod = importlib.import_module(f"{__name__}.{module}")
        main.add_command(getattr(mod, name))


_register()
