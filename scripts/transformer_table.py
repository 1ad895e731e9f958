"""The README table of issue 4: Llama-2 70B decode and GPT-3 175B training on A100, H100 and MI300X.

Run ``python scripts/transformer_table.py``; it prints a markdown table of the step time and the
bound that takes most of it (with its share of the time). Each row is one device running the whole
step alone: no tensor, pipeline or data parallelism, whether or not the model fits in its memory;
the training step includes one AdamW update of all parameters (memory-bound), which real runs
amortise over many micro-batches and shard over many devices.
"""
from __future__ import annotations

from roofsim.hw import get_hardware
from roofsim.report import limiter, totals
from roofsim.roofline import evaluate
from roofsim.workloads import get_workload

HARDWARE = ("a100", "h100", "mi300x")
CASES = (
    ("llama2-70b", {"phase": "decode", "batch": 1, "context": 4096}, "decode, batch 1, 4096-token context, bf16"),
    ("gpt3-175b", {"phase": "training", "batch": 1, "seq": 2048}, "training step, 1 x 2048 tokens, fp16, AdamW"),
)


def _seconds(t: float) -> str:
    return f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.2f} s"


def table_markdown() -> str:
    hws = [get_hardware(h) for h in HARDWARE]
    lines = ["| Workload | Step | Hardware | Step time | Dominant bound (share of time) |",
             "|---|---|---|---:|---|"]
    for name, overrides, what in CASES:
        df = evaluate(hws, get_workload(name, overrides=overrides))
        for hw in hws:
            rows = df[df.hardware == hw.id]
            bound, share = limiter(totals(rows))
            lines.append(f"| {name} | {what} | {hw.name} | {_seconds(rows.time_s.sum())} | {bound} ({share:.0%}) |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table_markdown())
