"""Options shared by run, compare, memory and scale: the parallel layout and the memory techniques."""
from __future__ import annotations

import click

from ..errors import Problem, SpecError

LAYOUT_KEYS = ("devices", "tp", "pp", "ep", "sp", "microbatch", "global_batch", "interleave", "zero", "overlap")
TECHNIQUE_KEYS = ("optimizer", "checkpoint", "checkpoint_every", "offload", "offload_tier", "sparsity", "sparse_format")
_POS = click.IntRange(min=1)
OVERLAP_HELP = ("Overlap communication with compute where schedules do: pipeline sends behind other micro-batches' "
                "compute, ZeRO-3 gathers prefetched a layer ahead, the gradient sync behind the last backward.")

_LAYOUT = (
    click.option("--devices", type=_POS, default=None, help="Devices in all (default: tp x pp)."),
    click.option("--tp", type=_POS, default=1, show_default=True, help="Tensor-parallel degree."),
    click.option("--pp", type=_POS, default=1, show_default=True, help="Pipeline stages (1F1B schedule)."),
    click.option("--ep", type=_POS, default=1, show_default=True, help="Expert-parallel degree (MoE), within the data-parallel group."),
    click.option("--sp", is_flag=True, help="Sequence parallelism with tensor parallelism."),
    click.option("--microbatch", type=_POS, default=None, help="Sequences per micro-batch (default: the workload's batch)."),
    click.option("--global-batch", type=_POS, default=None, help="Sequences per step (default: microbatch x dp)."),
    click.option("--interleave", type=_POS, default=1, show_default=True, help="Virtual pipeline stages per device."),
    click.option("--zero", type=click.IntRange(0, 3), default=0, show_default=True, help="ZeRO stage over the data-parallel group."),
    click.option("--overlap", is_flag=True, help=OVERLAP_HELP),
)
_TECHNIQUES = (
    click.option("--optimizer", type=click.Choice(["sgd", "sgd-momentum", "adam", "adamw", "adafactor", "adahessian"]),
                 default=None, help="Optimizer whose state is counted (default: the workload's)."),
    click.option("--checkpoint", type=click.Choice(["none", "selective", "full", "every-k", "sqrt"]), default=None,
                 help="Activation checkpointing (default: the workload's recompute setting)."),
    click.option("--checkpoint-every", type=_POS, default=1, show_default=True, help="k for --checkpoint every-k."),
    click.option("--offload", default="", metavar="PARTS",
                 help="Comma-separated parts moved to a far tier: weights, gradients, optimizer, activations, kv_cache."),
    click.option("--offload-tier", default=None, metavar="LEVEL",
                 help="The far memory level that takes them (default: the first after main memory, e.g. host)."),
    click.option("--sparsity", default=None, metavar="FRACTION",
                 help="Pruning: the fraction of weights removed, in [0, 1) (0.5 or 50%). Changes the footprint, "
                      "not the time (the kernels stay dense)."),
    click.option("--sparse-format", default=None, metavar="FORMAT",   # checked by roofsim.memory.Techniques
                 help="How the pruned weights are stored: structured (whole rows/channels removed, no index), "
                      "2:4 (NVIDIA semi-structured: exactly half, a 2-bit index per kept value), csr (an int32 "
                      "column index per kept value), bitmask (one bit per dense weight). Default: csr; 2:4 "
                      "implies --sparsity 0.5."),
)


def layout_options(command):
    for option in reversed(_LAYOUT):
        command = option(command)
    return command


def technique_options(command):
    for option in reversed(_TECHNIQUES):
        command = option(command)
    return command


def build_layout(options: dict):
    """A roofsim.parallel.Layout from the layout options, or None when they describe one plain device."""
    from ..parallel import Layout
    values = {k: options[k] for k in LAYOUT_KEYS}
    if values["devices"] is None:
        values["devices"] = values["tp"] * values["pp"]
    layout = Layout(**values)
    return None if layout == Layout() else layout


def build_techniques(options: dict) -> dict:
    """roofsim.memory.footprint options from the technique options (unset ones left out)."""
    out = {}
    if options["optimizer"]:
        out["optimizer"] = options["optimizer"]
    if options["checkpoint"]:
        out["checkpoint"] = options["checkpoint"]
        if options["checkpoint"] == "every-k":
            out["checkpoint_every"] = options["checkpoint_every"]
    parts = tuple(p.strip() for p in options["offload"].split(",") if p.strip())
    if parts:
        out["offload"] = parts
    if options["offload_tier"]:
        out["offload_tier"] = options["offload_tier"]
    out.update(_pruning(options["sparsity"], options["sparse_format"]))
    return out


def _pruning(text, fmt) -> dict:
    """--sparsity and --sparse-format as footprint options; the fraction is checked here in its
    own name (roofsim.memory.Techniques checks it again for Python callers)."""
    if text is None:
        if fmt is None:
            return {}
        if fmt != "2:4":
            raise SpecError(Problem(None, "--sparsity", f"a fraction in [0, 1) with --sparse-format {fmt}", "none"))
        return {"sparsity": 0.5, "sparse_format": fmt}
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        value = None
    if value is None or not 0 <= value < 1:      # also NaN and infinities
        raise SpecError(Problem(None, "--sparsity", "a fraction in [0, 1), e.g. 0.5 or 50%", repr(text)))
    return {"sparsity": value, "sparse_format": "csr" if fmt is None else fmt}


def checkpoint_override(workload, techniques: dict) -> dict:
    """Workload overrides so the ops do the checkpointing scheme's recomputation (Transformers)."""
    from ..memory import builder_recompute
    scheme = techniques.get("checkpoint")
    if scheme is None:
        return {}
    if "recompute" not in dict(workload.params):
        raise SpecError(Problem(workload.file, "--checkpoint", "a workload with a recompute setting (a Transformer)",
                                f"{workload.name}, which has none"))
    return {"recompute": builder_recompute(scheme)}


def pop_options(kwargs: dict, keys) -> dict:
    return {k: kwargs.pop(k) for k in keys}
