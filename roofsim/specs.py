"""Validated hardware specs: frozen dataclasses of SI floats.

Units are parsed only in the loader; everything here is bytes, B/s, FLOP/s, s, Hz, W.
Derived quantities (ridge points, bytes per FLOP, peak resolution with dtype fallback) are
computed, never stored.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from .errors import Problem, SpecError

KINDS = ("cpu", "gpu", "tpu", "accelerator", "hypothetical", "measured")  # measured: written by `roofsim probe`
UNITS = ("matrix", "vector")
# Transcendental functions (exp, log, tanh, erf, ...) have a throughput of their own, far below
# a vector unit's FLOP rate on CPUs (a polynomial and range reduction per value) and on a GPU's
# special-function units. An op counts them as FlopCount(unit=TRANSCENDENTAL), one per value; a
# spec with a ``compute.transcendental`` rate prices them, one without counts them as free
# (their arithmetic is then only what the op counts as vector FLOPs).
TRANSCENDENTAL = "transcendental"
# Multiply-adds fused in one instruction (an SpMM's y += a * x over a row of features): 2 FLOPs
# per element-op where a plain add loop does 1. A datasheet's vector peak already counts an FMA
# as 2 FLOPs, so without an ``fma`` rate such FLOPs run at the vector rate; a measured spec
# (roofsim probe: numpy's add loop as the vector rate) gives the fused loop's rate apart.
FMA = "fma"
LEVEL_TYPES = ("register", "scratchpad", "cache", "main", "far")
LINK_SCOPES = ("scale-up", "scale-out", "host")

# Bytes per element; fp6/fp4/int4 are packed.
DTYPE_BYTES = {
    "fp64": 8.0, "fp32": 4.0, "tf32": 4.0, "fp16": 2.0, "bf16": 2.0,
    "fp8": 1.0, "fp6": 0.75, "fp4": 0.5, "int8": 1.0, "int4": 0.5,
}
DTYPES = tuple(DTYPE_BYTES)

# A dtype the device lacks runs in the nearest wider one it has (fp8 on a V100 runs as fp16).
# bf16 widens to fp32, not fp16: fp16 cannot hold bf16's exponent range.
FALLBACK = {
    "fp4": ("fp6", "fp8", "fp16", "bf16", "fp32", "fp64"),
    "fp6": ("fp8", "fp16", "bf16", "fp32", "fp64"),
    "fp8": ("fp16", "bf16", "fp32", "fp64"),
    "int4": ("int8", "fp16", "fp32"),
    "int8": ("fp16", "bf16", "fp32"),
    "fp16": ("fp32", "fp64"),
    "bf16": ("fp32", "fp64"),
    "tf32": ("fp32", "fp64"),
    "fp32": ("fp64",),
    "fp64": (),
}

# Same-width types that may stand in when nothing wider exists (tf32 for fp32 on tensor cores).
NARROWER = {"fp32": ("tf32",), "fp16": ("bf16",), "bf16": ("fp16",), "int8": ("fp8",), "fp8": ("int8",)}

# Emulating a wide type on narrower units costs several passes per product: each operand is
# split into s narrow pieces and the significant cross products are computed separately.
# Published schemes, passes of the narrow type per product of the wide one:
#  - fp32 via bf16: 6 passes (bf16x6), the fp32-accurate scheme of Henry, Tang & Heinecke,
#    "Leveraging the bfloat16 Artificial Intelligence Datatype For Higher-Precision
#    Computations", ARITH 2019 (arXiv:1904.06376), and XLA's ALG_DOT_BF16_BF16_F32_X6 (what
#    jax.lax.Precision.HIGHEST does on a TPU's MXU; 'HIGH' = bf16x3 is ~2x faster, less accurate);
#  - fp32 via tf32 or fp16: 3 passes (CUTLASS 3xTF32; XLA ALG_DOT_TF32_TF32_F32_X3; Ootomo &
#    Yokota, "Recovering single precision accuracy from Tensor Cores while surpassing the FP32
#    theoretical peak performance", IJHPCA 2022).
EMULATION_PASSES = {("fp32", "bf16"): 6, ("fp32", "tf32"): 3, ("fp32", "fp16"): 3}
# Other pairs follow the same rule: s = ceil(wide significand / narrow significand) pieces, and
# s(s+1)/2 products for floats (the rest fall below the wide type's precision) or s*s for
# integers (every partial product is needed for an exact result).
SIGNIFICAND_BITS = {"fp64": 53, "fp32": 24, "tf32": 11, "fp16": 11, "bf16": 8, "fp8": 4, "fp6": 4, "fp4": 2}
INT_BITS = {"int8": 8, "int4": 4}


def emulation_passes(wide: str, narrow: str) -> Optional[int]:
    """Passes of ``narrow`` per product of ``wide``, or None when one cannot emulate the other."""
    if (wide, narrow) in EMULATION_PASSES:
        return EMULATION_PASSES[(wide, narrow)]
    for bits, square in ((INT_BITS, True), (SIGNIFICAND_BITS, False)):
        if wide in bits and narrow in bits:
            s = math.ceil(bits[wide] / bits[narrow])
            return s * s if square else s * (s + 1) // 2
    return 1 if narrow in NARROWER.get(wide, ()) else None  # a same-width stand-in (int8 <-> fp8)

# Documented defaults used when a hardware file has no `efficiency` section. They are typical
# published figures, not measurements of any one device:
#  - compute 0.80: large cuBLAS/rocBLAS GEMMs reach ~75-90% of dense tensor peak;
#  - memory 0.85: STREAM-style copies reach ~80-92% of HBM/DRAM peak;
#  - interconnect 0.80: NCCL bus bandwidth ~ 80% of NVLink per-direction peak;
#  - latency: a kernel launch costs ~2-5 us on GPUs (we use 4 us); CPUs and TPUs pay less.
DEFAULT_COMPUTE_EFFICIENCY = 0.80
DEFAULT_MEMORY_EFFICIENCY = 0.85
DEFAULT_LINK_EFFICIENCY = 0.80
DEFAULT_LATENCY_S = {"gpu": 4e-6, "accelerator": 4e-6, "hypothetical": 4e-6, "tpu": 2e-6, "cpu": 1e-6,
                     "measured": 1e-6}

# Plausible range of each hardware quantity (SI), checked where files, --set and derive() enter.
# Generous on both sides of every device ever built (the catalogue spans a 1996 MIPS R10000 at
# 390 MFLOP/s to a GB200 at 10 PFLOP/s, 32 B lines to 480 GB memories): a value outside is a
# typo or a unit slip (``bandwidth: 4`` read as 4 B/s), and keeping values inside keeps every
# ratio the model forms (time, ridge point) finite.
PLAUSIBLE = {
    "flop_rate": (1e6, 1e20),     # 1 MFLOP/s .. 100 EFLOP/s
    "bandwidth": (1e6, 1e18),     # 1 MB/s .. 1 EB/s
    "bytes": (1.0, 1e16),         # 1 B .. 10 PB
    "time": (0.0, 1.0),           # latencies: 0 .. 1 s
    "frequency": (1e6, 1e11),     # 1 MHz .. 100 GHz
    "power": (1e-3, 1e7),         # 1 mW .. 10 MW
}
MAX_COUNT = 10**9                 # cores, instances, links, ways: no device has more

# Kinds whose ops run as grids of tiles over ``cores`` (SMs, CUs): the kernel model applies to them.
KERNEL_MODEL_KINDS = ("gpu", "accelerator", "hypothetical")
# The per-op floors ``run`` offers. A torch.compile'd call's host cost (KernelParams.compiled_overhead_s)
# is not one of them: it is paid once per call of the compiled function (a whole model's forward), not
# per op, and it prices host-timed measurements of single compiled ops (timing host-compiled) only.
OVERHEADS = ("kernel", "eager")
# What one call of a torch.compile'd function costs the host beyond one eager op: PyTorch 2.0's
# fixed overhead for ``x + 1`` was 24.4 us compiled against 4.5 us eager (J. Ansel, "Micro-
# optimizations for the most micro of benchmarks", dev-discuss.pytorch.org, 2023; 10.3 us after
# that post's changes), on CPU kernels, so without a GPU kernel's Triton launch: ~20 us.
COMPILED_EXTRA_S = 20e-6


def _check(problems: list[Problem], ok: bool, path: str, expected: str, found: object) -> None:
    if not ok:
        problems.append(Problem(None, path, expected, repr(found)))


@dataclass(frozen=True)
class PeakResolution:
    """Which peak an op of (dtype, unit) really runs at, and why."""
    requested_dtype: str
    requested_unit: str
    dtype: str
    unit: str
    flop_per_s: float

    emulated: bool = False   # no wider dtype exists: ran in a narrower one (e.g. fp32 on a TPU's bf16 MXU)
    passes: int = 1          # narrow passes per product when emulated; flop_per_s is already divided by it

    @property
    def fell_back(self) -> bool:
        """True when the op ran in another dtype. Running on the other unit (an fp32 GEMM on a
        GPU's vector units when it has no fp32 tensor cores) is normal, not a fallback."""
        return self.dtype != self.requested_dtype

    @property
    def note(self) -> str:
        if not self.fell_back:
            return ""
        if self.emulated:
            return (f"no {self.requested_dtype} peak: emulated in {self.passes} {self.dtype} passes "
                    f"({self.dtype}x{self.passes}, 1/{self.passes} of the {self.dtype} peak, {self.unit} units)")
        return f"no {self.requested_dtype} peak: ran as the nearest wider dtype {self.dtype} ({self.unit} units)"


@dataclass(frozen=True)
class ComputeSpec:
    """Dense peak FLOP/s per dtype on matrix (tensor) and vector (SIMD) units, and optionally
    transcendental evaluations per second per dtype (see TRANSCENDENTAL)."""
    matrix: tuple[tuple[str, float], ...] = ()
    vector: tuple[tuple[str, float], ...] = ()
    source: str = ""
    notes: str = ""
    transcendental: tuple[tuple[str, float], ...] = ()
    fma: tuple[tuple[str, float], ...] = ()

    def __post_init__(self):
        problems: list[Problem] = []
        for unit in (*UNITS, TRANSCENDENTAL, FMA):
            for dtype, value in getattr(self, unit):
                _check(problems, dtype in DTYPE_BYTES, f"compute.{unit}", f"a dtype in {DTYPES}", dtype)
                _check(problems, value > 0 and math.isfinite(value), f"compute.{unit}.{dtype}",
                       "a positive compute rate", value)
        if not self.matrix and not self.vector:
            problems.append(Problem(None, "compute", "at least one peak", "none"))
        if problems:
            raise SpecError(problems)

    def get(self, unit: str, dtype: str) -> Optional[float]:
        return dict(getattr(self, unit)).get(dtype)

    def peaks(self) -> dict[str, float]:
        """Best dense peak per dtype over both units."""
        out: dict[str, float] = {}
        for unit in UNITS:
            for dtype, value in getattr(self, unit):
                out[dtype] = max(out.get(dtype, 0.0), value)
        return out

    def resolve(self, dtype: str, unit: str = "matrix") -> PeakResolution:
        """The peak an op of ``dtype`` on ``unit`` runs at: that unit, then the other, then wider dtypes.

        A matrix op in fp32 on an H100 runs on the vector units (67 TFLOP/s), never on the
        TF32 tensor cores unless it asks for tf32.
        """
        if dtype not in DTYPE_BYTES:
            raise SpecError(Problem(None, "dtype", f"one of {DTYPES}", repr(dtype)))
        if unit == TRANSCENDENTAL:
            return self._resolve_transcendental(dtype)
        if unit == FMA:
            rates = dict(self.fma)
            for candidate in (dtype, *FALLBACK[dtype]):
                if candidate in rates:
                    return PeakResolution(dtype, FMA, candidate, FMA, rates[candidate])
            unit = "vector"   # a datasheet's vector peak counts an FMA as 2 FLOPs already
        order = (unit, "vector" if unit == "matrix" else "matrix")
        for candidate in (dtype, *FALLBACK[dtype]):
            for u in order:
                value = self.get(u, candidate)
                if value:
                    return PeakResolution(dtype, unit, candidate, u, value)
        # Nothing as wide: the device emulates it in several passes of a narrower type (TPUs run
        # fp32 matmuls as bf16 passes on the MXU). Take the fastest emulation and say so.
        best: Optional[PeakResolution] = None
        for candidate in DTYPES:
            narrower = DTYPE_BYTES[candidate] < DTYPE_BYTES[dtype] or candidate in NARROWER.get(dtype, ())
            passes = emulation_passes(dtype, candidate) if narrower else None
            for u in order if passes else ():
                value = self.get(u, candidate)
                if value and (best is None or value / passes > best.flop_per_s):
                    best = PeakResolution(dtype, unit, candidate, u, value / passes, emulated=True, passes=passes)
        if best is None:
            raise SpecError(Problem(None, "compute", f"a peak usable for {dtype}", "none"))
        return best

    def _resolve_transcendental(self, dtype: str) -> PeakResolution:
        """The transcendental rate of ``dtype`` or the nearest wider dtype; none given: an
        infinite rate (not priced beyond the op's vector FLOPs), which leaves specs without
        the figure (the whole catalogue) as they were."""
        rates = dict(self.transcendental)
        for candidate in (dtype, *FALLBACK[dtype]):
            if candidate in rates:
                return PeakResolution(dtype, TRANSCENDENTAL, candidate, TRANSCENDENTAL, rates[candidate])
        return PeakResolution(dtype, TRANSCENDENTAL, dtype, TRANSCENDENTAL, math.inf)


@dataclass(frozen=True)
class MemoryLevel:
    """One level of the hierarchy. Capacity is per instance; bandwidth is over all instances."""
    name: str
    type: str
    capacity_bytes: Optional[float] = None
    instances: int = 1
    shared_by: Optional[int] = None
    bandwidth_bytes_per_s: Optional[float] = None
    latency_s: Optional[float] = None
    line_bytes: Optional[float] = None
    ways: Optional[int] = None
    source: str = ""
    notes: str = ""
    # the capacity the OS or datasheet states, where capacity_bytes is the share of it one thread was
    # measured to get (roofsim probe on a shared cache); informational, the model uses capacity_bytes
    os_capacity_bytes: Optional[float] = None

    def __post_init__(self):
        p: list[Problem] = []
        at = f"memory.{self.name}"
        _check(p, self.type in LEVEL_TYPES, f"{at}.type", f"one of {LEVEL_TYPES}", self.type)
        for name in ("capacity_bytes", "bandwidth_bytes_per_s", "line_bytes", "os_capacity_bytes"):
            v = getattr(self, name)
            _check(p, v is None or (v > 0 and math.isfinite(v)), f"{at}.{name}", "a positive number", v)
        _check(p, self.latency_s is None or self.latency_s >= 0, f"{at}.latency_s", "a time >= 0", self.latency_s)
        _check(p, self.instances >= 1, f"{at}.instances", "an integer >= 1", self.instances)
        _check(p, self.ways is None or self.ways >= 1, f"{at}.ways", "an integer >= 1", self.ways)
        if p:
            raise SpecError(p)

    @property
    def total_capacity_bytes(self) -> Optional[float]:
        return None if self.capacity_bytes is None else self.capacity_bytes * self.instances


@dataclass(frozen=True)
class Link:
    """An interconnect: bandwidth is ONE direction, summed over ``links`` links."""
    name: str
    scope: str
    bandwidth_bytes_per_s_per_direction: float
    links: Optional[int] = None
    latency_s: Optional[float] = None
    domain_size: Optional[int] = None
    source: str = ""
    notes: str = ""

    def __post_init__(self):
        p: list[Problem] = []
        at = f"interconnect.{self.name}"
        _check(p, self.scope in LINK_SCOPES, f"{at}.scope", f"one of {LINK_SCOPES}", self.scope)
        bw = self.bandwidth_bytes_per_s_per_direction
        _check(p, bw > 0 and math.isfinite(bw), f"{at}.bandwidth_per_direction", "a positive bandwidth", bw)
        _check(p, self.links is None or self.links >= 1, f"{at}.links", "an integer >= 1", self.links)
        if p:
            raise SpecError(p)

    @property
    def bandwidth_bytes_per_s_bidirectional(self) -> float:
        return 2.0 * self.bandwidth_bytes_per_s_per_direction


@dataclass(frozen=True)
class KernelParams:
    """Kernel-level effects of roofsim/kernelmodel.py (what each does is explained there).

    ``tile_m`` x ``tile_n`` is the GEMM output tile of a 2-byte dtype (the column count scales
    with 2 / bytes per element: 64 for fp32, 256 for fp8, so a tile's operand bytes per k-step
    stay constant); ``tiles_per_core`` tiles run concurrently on one core (SM/CU);
    ``tile_halvings`` how many times the library may halve either side of that tile to fill the
    device (it picks the tile that finishes first); ``tile_overhead_depth`` is each tile's fixed cost (prologue, epilogue) in k-steps;
    ``split_k_depth`` the shortest k-slice a library splits k into when the grid cannot fill
    the device; ``memory_latency_s`` what one dependent round trip to main memory costs a
    kernel (None: the main level's ``latency``); ``eager_overhead_s`` the per-op floor of an
    eager framework (``--overhead eager``); ``compiled_overhead_s`` the host's cost per call of a
    ``torch.compile``'d function (host-timed measurements of compiled ops; None: the eager one +
    COMPILED_EXTRA_S);
    ``residency`` serves reads that the previous op wrote, while they fit in the last cache, from
    that cache; ``feed_bandwidth_bytes_per_s`` the
    bandwidth that feeds operands to the cores (L2 and shared memory; None: derived from the
    16-bit matrix peak, see kernelmodel.operand_balance).
    """
    # 128 x 128 output tiles, one per SM: CUTLASS's default threadblock tile for 16-bit tensor-op
    # GEMMs (CUTLASS docs, efficient_gemm.md)
    tile_m: int = 128
    tile_n: int = 128
    tiles_per_core: int = 1
    # cuBLAS/CUTLASS ship each GEMM in several threadblock tiles (e.g. volta_sgemm_128x64,
    # _64x64, _32x128; CUTLASS's profiler lists 256x128 down to 64x64) and pick one per shape:
    # each tile side may be halved this many times (0: the tile above only)
    tile_halvings: int = 2
    # the order of the fits in the catalogue (H100 SXM5: 150 k-steps); a default, not a measurement
    tile_overhead_depth: float = 128.0
    # split-K slices no shorter than 1024: a heuristic, not validated against a library's choices
    split_k_depth: float = 1024.0
    # None: the main level's latency, else kernelmodel.DEFAULT_MEMORY_LATENCY_S (1 us)
    memory_latency_s: Optional[float] = None
    # CPU-side dispatch of one eager PyTorch op (Python, pybind11, autograd, ATen dispatcher, launch):
    # ~5-25 us per op (J. Lin, "From PyTorch op to kernel launch", jiahuanglin.xyz gpu_kernel_serving
    # lesson 18); 10 us, the lower middle of that range
    eager_overhead_s: float = 10e-6
    # CPU-side cost of one call of a torch.compile'd function (Dynamo's guard checks and cache
    # lookup, the compiled graph's Python wrapper, then its kernels' launches): larger than one
    # eager op's, and a property of the host and software, not of the GPU. None: eager_overhead_s
    # + COMPILED_EXTRA_S (calibrate fits it from host-timed compiled calls: 44 us on LLMCompass's
    # A100 host, whose eager ops cost 16 us).
    compiled_overhead_s: Optional[float] = None
    # None: peak16 / reuse of the default tile (kernelmodel.operand_balance). A design that changes
    # its peaks but not its on-chip memories sets it, or its feed would follow the peaks.
    feed_bandwidth_bytes_per_s: Optional[float] = None
    residency: bool = True

    def host_overhead_s(self, path: str) -> float:
        """The host's cost per call on framework path ``path`` (``eager`` or ``compiled``)."""
        if path == "compiled":
            return (self.compiled_overhead_s if self.compiled_overhead_s is not None
                    else self.eager_overhead_s + COMPILED_EXTRA_S)
        return self.eager_overhead_s

    def __post_init__(self):
        p: list[Problem] = []
        for name in ("tile_m", "tile_n", "tiles_per_core"):
            v = getattr(self, name)
            _check(p, isinstance(v, int) and 1 <= v <= 4096, f"efficiency.kernel.{name}", "an integer in 1..4096", v)
        v = self.tile_halvings
        _check(p, isinstance(v, int) and 0 <= v <= 6, "efficiency.kernel.tile_halvings", "an integer in 0..6", v)
        for name in ("tile_overhead_depth", "split_k_depth", "eager_overhead_s"):
            v = getattr(self, name)
            _check(p, math.isfinite(v) and v >= 0, f"efficiency.kernel.{name}", "a finite number >= 0", v)
        v = self.memory_latency_s
        _check(p, v is None or (math.isfinite(v) and v >= 0), "efficiency.kernel.memory_latency", "a time >= 0", v)
        v = self.compiled_overhead_s
        _check(p, v is None or (math.isfinite(v) and v >= 0), "efficiency.kernel.compiled_overhead", "a time >= 0", v)
        v, (lo, hi) = self.feed_bandwidth_bytes_per_s, PLAUSIBLE["bandwidth"]
        _check(p, v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi),
               "efficiency.kernel.feed_bandwidth", f"a bandwidth in {lo:g} .. {hi:g} B/s", v)
        if p:
            raise SpecError(p)


@dataclass(frozen=True)
class Efficiency:
    """Achievable fractions of each peak, and a per-op latency floor.

    ``compute``/``memory``/``interconnect`` map a dtype / level name / link name to a fraction;
    the key ``default`` covers the rest. ``compute_by_size`` is an optional table of
    (op FLOPs, fraction) points, interpolated in log10(FLOPs) and clamped at both ends; when
    given it replaces the per-dtype compute fraction.
    """
    compute: tuple[tuple[str, float], ...] = (("default", DEFAULT_COMPUTE_EFFICIENCY),)
    memory: tuple[tuple[str, float], ...] = (("default", DEFAULT_MEMORY_EFFICIENCY),)
    interconnect: tuple[tuple[str, float], ...] = (("default", DEFAULT_LINK_EFFICIENCY),)
    latency_s: float = 4e-6
    compute_by_size: tuple[tuple[float, float], ...] = ()
    # (smallest GEMM dimension, fraction of the matrix peak): a BLAS micro-kernel loads and stores
    # its C tile once per k-panel and reloads B once per few rows of A, so a GEMM with a short m,
    # n or k reaches less of the peak than a large one; interpolated in log2, clamped at both
    # ends, for dense (GEMM-shaped) ops. Measured by `roofsim probe`; none in the catalogue.
    compute_by_depth: tuple[tuple[float, float], ...] = ()
    kernel: KernelParams = field(default_factory=KernelParams)
    # Library time per item of an op kind (a gathered row, a sparse nonzero, a reduction's
    # inner-loop run, a GEMM operand element packed): the work a library does per item beyond
    # its bytes and FLOPs (index arithmetic, bounds checks, a copy call per row), added to the
    # op's time (traffic.library_seconds). Measured by `roofsim probe`; none in the catalogue.
    per_item_s: tuple[tuple[str, float], ...] = ()
    # Time a synchronous library call costs before its loop runs (argument parsing, dispatch,
    # allocation), per op kind with a ``default``; ADDED to the op's time, unlike the floor
    # ``latency_s`` (a GPU's asynchronous launches overlap the previous kernel: a floor, not a
    # sum). Measured by `roofsim probe` on CPUs. On a GPU, ``default`` is the fixed device-side
    # cost of every kernel in series with its roofline time (grid launch, first wave's ramp, tail
    # drain) and ``gemm`` that of a GEMM (a tiled kernel pays more: pipeline set-up and fill, the
    # drain of its tiles), which `roofsim calibrate` fits (the catalogue GPUs' values).
    per_call_s: tuple[tuple[str, float], ...] = ()
    # Independent cache misses one core keeps in flight: an irregular op's misses at a level with
    # a latency take at least lines x latency / this. None: priced as streamed bytes only.
    memory_parallelism: Optional[float] = None
    # Writing memory the OS has just mapped costs a page fault and the page's zeroing per page:
    # an op that allocates its outputs (Op.allocates) pays output bytes / first_touch_bytes_per_s,
    # added to its time, when an output is larger than ``fresh_above_bytes`` (smaller blocks are
    # recycled by the allocator: glibc serves them from its heap once freed, up to its 32 MiB
    # mmap threshold). None: not priced (the catalogue).
    first_touch_bytes_per_s: Optional[float] = None
    fresh_above_bytes: float = 0.0
    # The rate at which the library's matrix-vector product (a GEMM with m or n = 1) reads its
    # matrix from main memory, where below the level's bandwidth: one thread's BLAS GEMV walks
    # several rows of the matrix at once and streams slower than a plain read. Measured by
    # `roofsim probe`. None: the level's bandwidth (the catalogue).
    gemv_bytes_per_s: Optional[float] = None
    # The catalogue device (id) whose fitted efficiencies a calibration of this device starts from
    # (measure.calibrate.start): a parameter this device's own measurements do not inform keeps
    # that device's value (same or adjacent generation) instead of roofsim's generic defaults.
    # None: the defaults.
    prior: Optional[str] = None
    source: str = "roofsim defaults (roofsim/specs.py)"

    def __post_init__(self):
        p: list[Problem] = []
        for section in ("compute", "memory", "interconnect"):
            for key, frac in getattr(self, section):
                _check(p, 0 < frac <= 1, f"efficiency.{section}.{key}", "a fraction in (0, 1]", frac)
        for i, (flops, frac) in enumerate(self.compute_by_size):
            _check(p, flops > 0, f"efficiency.compute_by_size[{i}]", "a FLOP count > 0", flops)
            _check(p, 0 < frac <= 1, f"efficiency.compute_by_size[{i}]", "a fraction in (0, 1]", frac)
        for i, (dim, frac) in enumerate(self.compute_by_depth):
            _check(p, 1 <= dim <= MAX_COUNT, f"efficiency.compute_by_depth[{i}]", "a dimension from 1 to 1e9", dim)
            _check(p, 0 < frac <= 1, f"efficiency.compute_by_depth[{i}]", "a fraction in (0, 1]", frac)
        dims = [d for d, _ in self.compute_by_depth]
        _check(p, dims == sorted(dims), "efficiency.compute_by_depth", "increasing dimensions", dims)
        sizes = [s for s, _ in self.compute_by_size]
        _check(p, sizes == sorted(sizes), "efficiency.compute_by_size", "increasing FLOP counts", sizes)
        _check(p, self.latency_s >= 0, "efficiency.latency", "a time >= 0", self.latency_s)
        for section, table in (("per_item", self.per_item_s), ("per_call", self.per_call_s)):
            for kind, t in table:
                _check(p, 0 <= t <= PLAUSIBLE["time"][1], f"efficiency.{section}.{kind}", "a time in 0 .. 1 s", t)
        lo, hi = PLAUSIBLE["bandwidth"]
        _check(p, self.first_touch_bytes_per_s is None or lo <= self.first_touch_bytes_per_s <= hi,
               "efficiency.first_touch.bandwidth", "a bandwidth from 1 MB/s to 1 EB/s", self.first_touch_bytes_per_s)
        _check(p, 0 <= self.fresh_above_bytes <= PLAUSIBLE["bytes"][1], "efficiency.first_touch.above",
               "bytes from 0 to 10 PB", self.fresh_above_bytes)
        _check(p, self.gemv_bytes_per_s is None or lo <= self.gemv_bytes_per_s <= hi,
               "efficiency.gemv_bandwidth", "a bandwidth from 1 MB/s to 1 EB/s", self.gemv_bytes_per_s)
        _check(p, self.memory_parallelism is None or (1 <= self.memory_parallelism < math.inf),
               "efficiency.memory_parallelism", "a number >= 1", self.memory_parallelism)
        _check(p, self.prior is None or (isinstance(self.prior, str) and bool(self.prior.strip())),
               "efficiency.prior", "a device id", self.prior)
        if p:
            raise SpecError(p)

    @staticmethod
    def _lookup(table: tuple[tuple[str, float], ...], key: str, default: float) -> float:
        d = dict(table)
        return d.get(key, d.get("default", default))

    def compute_fraction(self, dtype: str) -> float:
        return self._lookup(self.compute, dtype, DEFAULT_COMPUTE_EFFICIENCY)

    def item_seconds(self, kind: str) -> float:
        return dict(self.per_item_s).get(kind, 0.0)

    def call_seconds(self, kind: str) -> float:
        return self._lookup(self.per_call_s, kind, 0.0)

    def first_touch_seconds(self, allocated_bytes: float) -> float:
        """Time to fault in an allocation of ``allocated_bytes`` that comes fresh from the OS."""
        if not self.first_touch_bytes_per_s or allocated_bytes <= self.fresh_above_bytes:
            return 0.0
        return allocated_bytes / self.first_touch_bytes_per_s

    def memory_fraction(self, level: str) -> float:
        return self._lookup(self.memory, level, DEFAULT_MEMORY_EFFICIENCY)

    def link_fraction(self, link: str) -> float:
        return self._lookup(self.interconnect, link, DEFAULT_LINK_EFFICIENCY)


@dataclass(frozen=True)
class HardwareSpec:
    id: str
    name: str
    vendor: str
    kind: str
    compute: ComputeSpec
    memory: tuple[MemoryLevel, ...]
    source: str
    release_date: str = ""
    aliases: tuple[str, ...] = ()
    process: str = ""
    clock_hz: Optional[float] = None
    cores: Optional[int] = None
    core_name: str = ""
    tdp_w: Optional[float] = None
    interconnect: tuple[Link, ...] = ()
    efficiency: Efficiency = field(default_factory=Efficiency)
    notes: str = ""
    extends: Optional[str] = None
    provenance: tuple[tuple[str, str], ...] = ()   # how the figures were obtained (date, method, tool)
    file: Optional[str] = field(default=None, compare=False)

    def __post_init__(self):
        p: list[Problem] = []
        _check(p, self.kind in KINDS, "kind", f"one of {KINDS}", self.kind)
        names = [m.name for m in self.memory]
        _check(p, len(set(names)) == len(names), "memory", "unique level names", names)
        mains = [m for m in self.memory if m.type == "main"]
        _check(p, len(mains) == 1, "memory", "exactly one level of type main", [m.name for m in mains])
        links = [l.name for l in self.interconnect]
        _check(p, len(set(links)) == len(links), "interconnect", "unique link names", links)
        if len(mains) == 1 and mains[0].total_capacity_bytes:
            i_main = self.memory.index(mains[0])
            for inner in self.memory[:i_main]:
                cap = inner.total_capacity_bytes
                _check(p, cap is None or cap < mains[0].total_capacity_bytes, f"memory.{inner.name}.capacity",
                       f"less than main memory {mains[0].name}", cap)
            _check(p, all(m.type in ("main", "far") for m in self.memory[i_main:]), "memory",
                    "only far levels outside main memory", [m.type for m in self.memory[i_main:]])
        for key, _ in self.efficiency.memory:
            _check(p, key == "default" or key in names, f"efficiency.memory.{key}",
                   f"a memory level name ({', '.join(names)}) or default", key)
        for key, _ in self.efficiency.interconnect:
            _check(p, key == "default" or key in links, f"efficiency.interconnect.{key}",
                   f"a link name ({', '.join(links) or 'none defined'}) or default", key)
        if p:
            raise SpecError([Problem(self.file, q.path, q.expected, q.found, q.hint) for q in p])

    # ---- derived quantities -------------------------------------------------------------
    @property
    def year(self) -> Optional[int]:
        return int(self.release_date[:4]) if self.release_date[:4].isdigit() else None

    @property
    def main_memory(self) -> MemoryLevel:
        return next(m for m in self.memory if m.type == "main")

    @property
    def main_index(self) -> int:
        return next(i for i, m in enumerate(self.memory) if m.type == "main")

    def level(self, name: str) -> MemoryLevel:
        for m in self.memory:
            if m.name == name:
                return m
        raise SpecError(Problem(self.file, "memory", f"a level name in {[m.name for m in self.memory]}", repr(name)))

    def link(self, name: str) -> Link:
        for l in self.interconnect:
            if l.name == name:
                return l
        raise SpecError(Problem(self.file, "interconnect", f"a link name in {[l.name for l in self.interconnect]}", repr(name)))

    def peak(self, dtype: str, unit: str = "matrix") -> float:
        return self.compute.resolve(dtype, unit).flop_per_s

    def ridge_point(self, dtype: str, level: Optional[str] = None, unit: str = "matrix") -> float:
        """FLOP/byte above which an op is compute-bound against ``level`` (default: main memory)."""
        mem = self.main_memory if level is None else self.level(level)
        if not mem.bandwidth_bytes_per_s:
            raise SpecError(Problem(self.file, f"memory.{mem.name}.bandwidth", "a bandwidth", "none"))
        return self.peak(dtype, unit) / mem.bandwidth_bytes_per_s

    def ridge_points(self) -> dict[tuple[str, str], float]:
        """(dtype, level) -> FLOP/byte for every peak and every level with a bandwidth."""
        return {(d, m.name): f / m.bandwidth_bytes_per_s
                for d, f in self.compute.peaks().items()
                for m in self.memory if m.bandwidth_bytes_per_s}

    def bytes_per_flop(self, dtype: str, level: Optional[str] = None) -> float:
        return 1.0 / self.ridge_point(dtype, level)
