"""Convert Vidur's published per-operator GPU profiles into roofsim measurement CSVs.

Vidur (microsoft/vidur, MIT licence; Agrawal et al., "Vidur: A Large-Scale Simulation Framework
for LLM Inference", MLSys 2024) ships the kernel times it profiled for one Transformer block of
several LLMs on an A100 80GB DGX and an H100 DGX, in ``data/profiling/compute/<device>/<model>/mlp.csv``.
How they were timed (read in its source at the commit named below): ``vidur/profiling/mlp/mlp_wrapper.py``
runs one untimed forward, then one forward that repeats the block 20 times under a
``torch.profiler`` trace (CUPTI); ``vidur/profiling/utils/record_function_tracer.py`` sums, per
``record_function`` range (one per operator), the device durations of the kernels launched inside
it. So every figure is device time of the operator's kernels (no launch or host time); the file
gives min / max / mean / median / std of the 20 repeats in milliseconds. The model is cast to
fp16 (``self.model.to(dtype=torch.float16)``).

Operators kept, with the shapes the profiled model gives them (T tokens, E embedding dim, H and
KV heads of d = E / H dims, I the MLP dim, t the tensor-parallel degree; sarathi's layers):
``attn_pre_proj`` GEMM T x E -> (H + 2 KV) d / t; ``attn_post_proj`` T x H d / t -> E; ``mlp_up_proj``
T x E -> (2 if gated) I / t; ``mlp_down_proj`` T x I / t -> E; ``input_layernorm`` (RMSNorm: sarathi's
CUDA kernel; LayerNorm: torch.nn.LayerNorm) over T rows of E; ``mlp_act`` (gated: SiLU-and-mul,
reads 2 x T I / t, writes T I / t; else torch GELU); ``add`` (gated models: residual + x, one ATen add);
``emb`` (F.embedding: T random ids from a V x E table).

Kept (``KEPT``): the cuBLAS GEMMs and ATen's vectorised kernels (the residual add, phi-2's LayerNorm
and GELU). Left out, because roofsim prices a well-tuned kernel (the policy of every measurement
file: where a source times several implementations, the fastest is kept) and these are not:
sarathi's RMSNorm and SiLU-and-mul kernels and ATen's embedding (index_select) move one 2-byte element
per thread per loop iteration (one block per token), so they reach 30-50 % of the HBM bandwidth that
ATen's vectorised add reaches in the same run (A100, Llama-2-7B, 4096 tokens: the add moves 100 MB in
55 us, 1.83 TB/s; the RMSNorm 67 MB in 105 us, 0.64 TB/s; SiLU-and-mul 270 MB in 266 us, 1.0 TB/s; the
embedding 67 MB in 234 us, 0.29 TB/s), and a single token's SiLU-and-mul (11008 elements) takes 7 us,
a chain of ~11 dependent loads per thread. ``--all`` writes them too (category suffix ``-scalar``),
for anyone who wants to hold roofsim against them. Also left out: ``attn_rope`` (an in-place rotary
kernel on strided views of q and k with a cos/sin cache gather: no standard op describes it),
``post_attention_layernorm`` (the same kernel and shape as ``input_layernorm``), phi-2's ``add`` (two
ATen adds in one range) and ``emb`` with t > 1 (the lookup also masks ids: several kernels).

Usage (the mirror is a git directory of microsoft/vidur)::

    python benchmarks/import_vidur.py /path/to/vidur.git roofsim/data/measurements [--all]
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import _published
from _published import git as _git

DEVICES = {"a100": ("a100-sxm4-80gb", "A100 80GB DGX (README: 'A100 80GB DGX'), SXM4 80GB"),
           "h100": ("h100-sxm5", "H100 DGX (README: 'H100 DGX'), SXM5 80GB")}
# A geometric subset of the 259-451 token counts per file keeps the file small and spans
# GEMV-like decode shapes (1 token) to large prefill GEMMs.
TOKENS = (1, 4, 16, 64, 256, 1024, 4096, 16384)
# Layer norm type per model family (vidur/config/model_config.py: phi-2 is the only LayerNorm model here).
LAYERNORM_MODELS = ("microsoft/phi-2",)
# The trace gives each kernel's duration in whole microseconds (the published medians step by
# 0.001 ms), so a 1-2 us kernel's figure is uncertain by 25-50 %: rows under 5 us (at most +-10 %)
# are left out.
MIN_MS = 0.005
METHOD = ("torch.profiler (CUPTI) trace of one forward that repeats the block 20 times, after one untimed forward; "
          "per operator, the device durations of the kernels launched inside its record_function range, summed "
          "(vidur/profiling/mlp/mlp_wrapper.py, vidur/profiling/utils/record_function_tracer.py); time_s = the "
          "published median of the 20 repeats (ms / 1000); spread = published std / median")


def _rows(model: str, r: dict) -> list[dict]:
    """The standard-op rows of one profiled (model, tokens, tp) line."""
    T, t = int(r["num_tokens"]), int(r["num_tensor_parallel_workers"])
    E, I, H, KV = (int(r[c]) for c in ("n_embd", "n_expanded_embd", "n_head", "n_kv_head"))
    d, gated = E // H, r["use_gated_mlp"] == "True"
    out = [
        ("attn_pre_proj", "gemm", dict(m=T, n=(H + 2 * KV) * d // t, k=E)),
        ("attn_post_proj", "gemm", dict(m=T, n=E, k=H * d // t)),
        ("mlp_up_proj", "gemm", dict(m=T, n=(2 if gated else 1) * I // t, k=E)),
        ("mlp_down_proj", "gemm", dict(m=T, n=E, k=I // t)),
        ("input_layernorm", "layernorm" if model in LAYERNORM_MODELS else "rmsnorm", dict(rows=T, cols=E)),
        ("mlp_act", "elementwise", dict(elements=T * I // t, inputs=2, outputs=1, flops_per_element=5) if gated
         else dict(elements=T * I // t, inputs=1, outputs=1, flops_per_element=8)),
    ]
    if gated:
        out.append(("add", "elementwise", dict(elements=T * E, inputs=2, outputs=1, flops_per_element=1)))
    if t == 1:
        out.append(("emb", "gather", dict(lookups=T, row_bytes=2 * E, table_rows=int(r["vocab_size"]))))
    return out


# The kept, well-tuned kernels: every projection (cuBLAS), and ATen's kernels, which the gated
# models use for the add and phi-2 for its LayerNorm and GELU; (operator, gated?) -> category
GEMM_OPS = ("attn_pre_proj", "attn_post_proj", "mlp_up_proj", "mlp_down_proj")
ATEN = {("add", True): "add", ("input_layernorm", False): "layernorm", ("mlp_act", False): "gelu"}
SCALAR = {"input_layernorm": "rmsnorm-scalar", "mlp_act": "silu-mul-scalar", "emb": "embedding-scalar"}


def _category(op: str, gated: bool, everything: bool):
    """The row's category, or None for a kernel left out (the sarathi ones and ATen's embedding
    unless ``everything``)."""
    if op in GEMM_OPS:
        return "gemm"
    return ATEN.get((op, gated)) or (SCALAR[op] if everything else None)


def convert(mirror: Path, device_dir: str, everything: bool = False) -> list[dict]:
    device, machine = DEVICES[device_dir]
    commit = _git(mirror, "rev-parse", "HEAD").strip()
    files = [p for p in _git(mirror, "ls-tree", "-r", "--name-only", "HEAD").split()
             if p.startswith(f"data/profiling/compute/{device_dir}/") and p.endswith("/mlp.csv")]
    rows = []
    for path in sorted(files):
        model = path.split("/", 4)[4].rsplit("/", 1)[0]
        date = _git(mirror, "log", "-1", "--format=%cs", "HEAD", "--", path).strip()
        seen = set()
        for r in csv.DictReader(io.StringIO(_git(mirror, "show", f"HEAD:{path}"))):
            key = (r["num_tokens"], r["num_tensor_parallel_workers"])
            if int(r["num_tokens"]) not in TOKENS or key in seen:   # a few lines are profiled twice: the first is kept
                continue
            seen.add(key)
            for op, kind, shape in _rows(model, r):
                med, std = float(r[f"time_stats.{op}.median"]), float(r[f"time_stats.{op}.std"])
                if med < MIN_MS:
                    continue
                cat = _category(op, r["use_gated_mlp"] == "True", everything)
                if cat is None:
                    continue
                rows.append(dict(
                    device=device, kind=kind, dtype="fp16", **shape, time_s=f"{med / 1e3:.6g}", timing="kernel",
                    repeats=20, spread=f"{std / med:.3g}",
                    source=f"microsoft/vidur data/profiling/compute/{device_dir} (https://github.com/microsoft/vidur, "
                           f"commit {commit[:7]}; MIT)",
                    category=cat, date=date, method=METHOD,
                    library="PyTorch fp16 via sarathi layers (cuBLAS GEMMs, sarathi CUDA RMSNorm and SiLU-and-mul)",
                    name=f"{model.split('/')[-1]}/{op}/T{r['num_tokens']}/tp{r['num_tensor_parallel_workers']}",
                    notes=f"{path}: {model}, {r['num_tokens']} tokens, tensor parallel {r['num_tensor_parallel_workers']}; "
                          f"published median {med} ms; {machine}"))
    return rows


def main(argv=None) -> None:
    all_ = lambda p: p.add_argument("--all", action="store_true",
                                    help="also the kernels left out (category <op>-scalar)")
    _published.main(__doc__, "microsoft/vidur",
                    lambda a: {f"vidur-{d}.csv": convert(a.mirror, d, everything=a.all) for d in DEVICES},
                    argv, extra=all_)


if __name__ == "__main__":
    main()
