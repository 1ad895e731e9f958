"""Options and helpers shared by commands: --set parsing, output destination, formats."""
from __future__ import annotations

import click

from ..errors import Problem, SpecError
from . import output


def parse_sets(items) -> tuple[dict, dict]:
    """``hw.memory.hbm.bandwidth=4 TB/s`` and ``wl.batch=512`` -> (hardware, workload) overrides."""
    from ..loader import parse_scalar
    hw, wl, problems = {}, {}, []
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not value.strip():
            problems.append(Problem(None, f"--set {item}", "key=value, e.g. hw.memory.hbm.bandwidth=4 TB/s", repr(item)))
        elif key.startswith("hw.") and len(key) > 3:
            hw[key[3:]] = parse_scalar(value.strip())
        elif key.startswith("wl.") and len(key) > 3:
            wl[key[3:]] = parse_scalar(value.strip())
        else:
            problems.append(Problem(None, f"--set {item}", "a key starting with hw. or wl.", repr(key)))
    if problems:
        raise SpecError(problems)
    return hw, wl


def emit(text: str, path) -> None:
    if path:
        output.write_output(path, text)
    else:
        click.echo(text)


SET = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                   help="Override a hardware field (hw.memory.hbm.bandwidth=4 TB/s) or a workload parameter (wl.batch=512). Repeatable.")
HW_PATH = click.option("--hw-path", multiple=True, type=click.Path(), help="Extra folder of hardware files (it must exist).")
WL_PATH = click.option("--wl-path", multiple=True, type=click.Path(), help="Extra folder of workload files (it must exist).")
OVERHEAD = click.option("--overhead", type=click.Choice(["kernel", "eager"]), default="kernel", show_default=True,
                        help="Fixed cost per op: the kernel launch floor, or an eager framework's per-op dispatch "
                             "(efficiency.kernel.eager_overhead) when larger.")
IDEAL = click.option("--ideal", is_flag=True, help="Pure roofline: no efficiencies, no latency floors (an upper bound on speed).")
def _checked_output(ctx, param, value):
    """Refuse a bad --output before the work starts, not after it (one line, exit 2)."""
    if value:
        output.check_output_path(value)
    return value


OUTPUT = click.option("--output", "-o", "output_path", callback=_checked_output, metavar="FILE",
                      help="Write to this file instead of stdout: atomically for a regular file "
                           "(a failed run leaves nothing), through a symlink, device or FIFO.")
CACHE_MODEL = click.option("--cache-model", type=click.Choice(["compulsory", "mrc", "simulate"]), default="mrc",
                           show_default=True, help="How irregular ops (gathers, sparse) are predicted: exact LRU miss-ratio curves (mrc), set-associative simulation, or compulsory traffic.")
