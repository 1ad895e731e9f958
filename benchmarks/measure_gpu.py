"""Measure GPU kernel times with PyTorch, as roofsim measurement rows (issue 13's device check).

    pip install torch                      # not a roofsim dependency; any CUDA build
    python benchmarks/measure_gpu.py --device-id h100-sxm5 -o roofsim/data/measurements/roofsim-h100.csv
    roofsim calibrate --hw h100-sxm5 --from-prior --measurements ... --measurements roofsim/data/measurements/roofsim-h100.csv

The kernel families the issue names, over shapes that cross each regime (GEMV-like to large
GEMMs, batched GEMMs, softmax / LayerNorm / RMSNorm rows that fit on chip and that do not, GELU
and adds from launch-bound to bandwidth-bound, embedding gathers from L2-resident to HBM-sized
tables). Timing (``timing`` kernel): a ``torch.profiler`` trace (CUPTI) of every call, each in
its own ``record_function`` range after zeroing a 256 MB buffer (so the L2 is cold), summing the
device durations of the kernels launched inside the range, as Vidur's profiler does; the median
of ``--repeats`` calls after ``--warmup`` untimed ones; spread = (q75 - q25) / median. No host
time is in it, so the rows fit the device's fixed costs. ``--quick`` measures one shape in four
(a first look within a minute).

Only ``main`` needs torch; the kernel list, the statistics and the rows are plain Python
(tests/test_measure_gpu_script.py checks them without a GPU). Not yet run on a GPU by us: no
device was lent to the session that wrote it. Checked on a CPU with torch 2.14.1 (2026-12-02):
every kernel's call builds and runs at small shapes, and the profiler's per-call ranges are found
as ``measure`` reads them (CPU-side events carrying ``device_time_total``).
"""
from __future__ import annotations

import argparse
import datetime
import statistics
import sys
from dataclasses import dataclass, field

METHOD = ("torch.profiler (CUPTI) trace; per call, the device durations of the kernels launched inside its "
          "record_function range, summed, after zeroing a 256 MB buffer (cold L2); median of the timed calls after "
          "untimed warm-up calls; spread = (q75 - q25) / median (benchmarks/measure_gpu.py)")
FLUSH_BYTES = 256 * 2 ** 20


@dataclass(frozen=True)
class Kernel:
    """One measured kernel: its roofsim op (kind + shape) and the torch call that runs it."""
    kind: str            # a measurement-CSV kind: gemm, softmax, layernorm, rmsnorm, elementwise, gather
    category: str
    dtype: str
    shape: dict = field(default_factory=dict)
    call: str = ""       # which torch function runs it (make_call)

    @property
    def name(self) -> str:
        return f"{self.category}/{self.dtype}/" + "x".join(f"{k}{v}" for k, v in self.shape.items())


def kernels(quick: bool = False) -> list[Kernel]:
    out: list[Kernel] = []
    for dtype in ("bf16", "fp16"):
        for m in (1, 16, 128, 1024, 4096, 16384):
            for n, k in ((4096, 4096), (12288, 4096), (4096, 11008), (28672, 8192)):
                out.append(Kernel("gemm", "gemm", dtype, dict(m=m, n=n, k=k), "matmul"))
    for batch, s in ((8, 512), (32, 512), (8, 2048), (64, 128)):
        out.append(Kernel("gemm", "gemm-batched", "bf16", dict(m=s, n=s, k=128, batch=batch), "bmm"))
        out.append(Kernel("gemm", "gemm-batched", "bf16", dict(m=s, n=128, k=s, batch=batch), "bmm"))
    for cols in (256, 1024, 4096, 16384, 65536):
        out.append(Kernel("softmax", "softmax", "bf16", dict(rows=4096, cols=cols), "softmax"))
    for rows in (1, 64, 1024, 8192):
        for cols in (4096, 8192):
            out.append(Kernel("layernorm", "layernorm", "bf16", dict(rows=rows, cols=cols), "layer_norm"))
            out.append(Kernel("rmsnorm", "rmsnorm", "bf16", dict(rows=rows, cols=cols), "rms_norm"))
    for elements in (2 ** 12, 2 ** 18, 2 ** 22, 2 ** 26, 2 ** 28):
        out.append(Kernel("elementwise", "add", "bf16", dict(elements=elements, inputs=2, outputs=1,
                                                             flops_per_element=1), "add"))
        out.append(Kernel("elementwise", "gelu", "bf16", dict(elements=elements, inputs=1, outputs=1,
                                                              flops_per_element=8), "gelu"))
    for table_rows in (1024, 65536, 1048576):
        for dim in (128, 4096):
            if table_rows * dim * 2 <= 2 ** 33:          # tables up to 8 GB
                out.append(Kernel("gather", "embedding", "bf16", dict(lookups=16384, row_bytes=2 * dim,
                                                                      table_rows=table_rows), "embedding"))
    out = list({k.name: k for k in out}.values())     # (64, 128): QK^T and PV are the same GEMM
    return out[::4] if quick else out


def summarise(times_s: list[float]) -> tuple[float, float]:
    """(median, (q75 - q25) / median) of one kernel's timed calls."""
    if not times_s:
        raise ValueError("no timed calls")
    med = statistics.median(times_s)
    q = statistics.quantiles(times_s, n=4) if len(times_s) > 1 else [med, med, med]
    return med, (q[2] - q[0]) / med if med > 0 else 0.0


def row(kernel: Kernel, times_s: list[float], device_id: str, meta: dict) -> dict:
    """The measurement-CSV row of one kernel (roofsim/measure/records.py)."""
    med, spread = summarise(times_s)
    return dict(device=device_id, kind=kernel.kind, dtype=kernel.dtype, **kernel.shape, time_s=f"{med:.6g}",
                timing="kernel", repeats=len(times_s), spread=f"{spread:.3g}", source=meta["source"],
                category=kernel.category, date=meta["date"], method=METHOD, library=meta["library"],
                name=kernel.name, notes=f"{meta['gpu']}; torch.{kernel.call}")


def write(path: str, rows: list[dict]) -> None:
    """The rows as a measurement CSV, written as roofsim writes every output (never half-written)."""
    from roofsim.cli.output import csv_text, write_output
    from roofsim.measure.records import columns_of
    write_output(path, csv_text(rows, columns_of(rows)))


def make_call(torch, k: Kernel, dev):
    """A zero-argument callable that runs ``k`` on ``dev`` (tensors made once, outside the timing)."""
    dt = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[k.dtype]
    F = torch.nn.functional
    s = k.shape
    if k.call == "matmul":
        a, b = torch.randn(s["m"], s["k"], device=dev, dtype=dt), torch.randn(s["k"], s["n"], device=dev, dtype=dt)
        return lambda: torch.matmul(a, b)
    if k.call == "bmm":
        a = torch.randn(s["batch"], s["m"], s["k"], device=dev, dtype=dt)
        b = torch.randn(s["batch"], s["k"], s["n"], device=dev, dtype=dt)
        return lambda: torch.bmm(a, b)
    if k.call in ("softmax", "layer_norm", "rms_norm"):
        x = torch.randn(s["rows"], s["cols"], device=dev, dtype=dt)
        w = torch.ones(s["cols"], device=dev, dtype=dt)
        if k.call == "softmax":
            return lambda: torch.softmax(x, dim=-1)
        if k.call == "layer_norm":
            return lambda: F.layer_norm(x, (s["cols"],), w, w)
        return lambda: F.rms_norm(x, (s["cols"],), w)
    if k.call in ("add", "gelu"):
        x = torch.randn(s["elements"], device=dev, dtype=dt)
        if k.call == "add":
            y = torch.randn(s["elements"], device=dev, dtype=dt)
            return lambda: x + y
        return lambda: F.gelu(x)
    if k.call == "embedding":
        table = torch.randn(s["table_rows"], s["row_bytes"] // 2, device=dev, dtype=dt)
        ids = torch.randint(0, s["table_rows"], (s["lookups"],), device=dev)
        return lambda: F.embedding(ids, table)
    raise ValueError(k.call)


def _device_us(event) -> float:
    """A range's device time in us: ``device_time_total`` (torch >= 2.4), else ``cuda_time_total``."""
    t = getattr(event, "device_time_total", None)
    return t if t is not None else event.cuda_time_total


def measure(torch, ks: list[Kernel], repeats: int, warmup: int) -> dict[str, list[float]]:
    """Device seconds per call of every kernel: CUPTI durations of the kernels in its range."""
    from torch.profiler import ProfilerActivity, profile, record_function
    dev = torch.device("cuda")
    flush = torch.empty(FLUSH_BYTES, dtype=torch.uint8, device=dev)
    out: dict[str, list[float]] = {}
    for i, k in enumerate(ks):
        fn = make_call(torch, k, dev)
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for r in range(repeats):
                flush.zero_()
                with record_function(f"roofsim:{i}:{r}"):
                    fn()
            torch.cuda.synchronize()
        # the CPU-side range of each call (the GPU-side annotation of the same name is its span)
        times = [_device_us(e) for e in prof.events()
                 if e.name.startswith(f"roofsim:{i}:") and str(getattr(e, "device_type", "CPU")).endswith("CPU")]
        out[k.name] = [t * 1e-6 for t in times if t > 0]      # profiler times are in microseconds
        shown = f"{statistics.median(out[k.name]) * 1e6:10.2f} us" if out[k.name] else "no kernel seen: left out"
        print(f"{k.name:60s} {shown}", file=sys.stderr)
    return out


def _count(least: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            v = None
        if v is None or not least <= v <= 10_000:
            raise argparse.ArgumentTypeError(f"expected a whole number from {least} to 10000, found {text!r}")
        return v
    return parse


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device-id", required=True, help="the catalogue id of the GPU (e.g. h100-sxm5)")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--repeats", type=_count(1), default=20)
    p.add_argument("--warmup", type=_count(0), default=3)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    # everything that can be wrong is found before minutes of measuring: the device id, the path
    from roofsim.cli.output import check_output_path
    from roofsim.errors import OutputError, RoofsimError
    from roofsim.hw import get_hardware
    try:
        args.device_id = get_hardware(args.device_id).id
    except (RoofsimError, OSError):
        p.error(f"--device-id {args.device_id!r}: not a catalogue device (roofsim hw list)")
    try:
        check_output_path(args.output)
    except OutputError as e:
        p.error(f"--output {e.path}: cannot write: {e.reason}")
    try:
        import torch
    except ImportError:
        p.error("needs PyTorch with CUDA: pip install -e '.[gpu]'")
    if not torch.cuda.is_available():
        p.error("no CUDA device")
    gpu = torch.cuda.get_device_name()
    meta = dict(source=f"roofsim benchmarks/measure_gpu.py on {gpu}", gpu=gpu,
                date=datetime.date.today().isoformat(),
                library=f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuBLAS/ATen kernels")
    ks = kernels(args.quick)
    times = measure(torch, ks, args.repeats, args.warmup)
    rows = [row(k, times[k.name], args.device_id, meta) for k in ks if times.get(k.name)]
    write(args.output, rows)
    print(f"wrote {args.output}: {len(rows)} of {len(ks)} kernels", file=sys.stderr)


if __name__ == "__main__":
    main()
