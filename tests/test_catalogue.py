"""The bundled catalogue: every file loads, ids and aliases are consistent, every section has a
source, and spot checks of numbers against the published sources the files cite."""
import re
from pathlib import Path

import pytest

from roofsim import catalog
from roofsim.hw import get_hardware, list_hardware, validate_files
from roofsim.loader import read_yaml

HW_DIR = catalog.bundled_dir("hardware")
FILES = sorted(HW_DIR.glob("*.yaml")) + sorted(HW_DIR.glob("*/*.yaml"))  # with hypothetical/
T = 1e12   # the asterisked figures are in TFLOPS / TOPS


def test_bundled_dir_is_the_repository_catalogue():
    assert HW_DIR.is_dir() and (HW_DIR / "h100-sxm5.yaml").is_file()


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_bundled_file_loads_and_validates(path):
    hw = get_hardware(str(path))
    assert hw.id == path.stem                       # ids equal file names
    assert validate_files([path]) == {str(path): None}
    assert read_yaml(path)["schema_version"] == 1
    assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*", hw.id)


@pytest.fixture(scope="module")
def devices():
    return {h.id: h for h in list_hardware()}


def test_at_least_45_real_devices_from_1996_on(devices):
    real = [h for h in devices.values() if h.kind != "hypothetical"]
    assert len(real) >= 45
    years = sorted(h.year for h in real)
    assert years[0] == 1996 and years[-1] >= 2024     # MIPS R10000 (1996) to today


def test_issue_2_devices_are_present(devices):
    required = ["mips-r10000", "pentium-ii-xeon-450", "itanium2-madison-1500", "geforce-gtx-580", "tesla-k40",
                "xeon-phi-7250", "p100-sxm2", "v100-sxm2-32gb", "tpu-v2", "tpu-v3", "a100-sxm4-40gb",
                "a100-sxm4-80gb", "tpu-v4", "h100-sxm5", "h100-pcie", "t4", "a10", "l4", "l40s", "h200-sxm", "b200",
                "gb200", "mi100", "mi250x", "mi300x", "mi325x", "tpu-v5e", "tpu-v5p", "tpu-v6e", "gaudi2", "gaudi3",
                "xeon-platinum-8380", "xeon-platinum-8480plus", "epyc-7763", "epyc-9654", "nvidia-grace",
                "apple-m2-max", "apple-m3-max"]
    assert [d for d in required if d not in devices] == []


def test_list_is_one_per_file(devices):
    assert sorted(devices) == sorted(p.stem for p in FILES)


# ---- aliases ---------------------------------------------------------------------------------
def test_aliases_are_unique_and_not_ids(devices):
    seen = {}
    for h in devices.values():
        for a in h.aliases:
            assert a not in seen, f"alias {a!r} of {h.id} is also an alias of {seen[a]}"
            assert a not in devices, f"alias {a!r} of {h.id} is a device id"
            seen[a] = h.id


def test_every_alias_resolves_to_its_device(devices):
    for h in devices.values():
        for a in h.aliases:
            assert get_hardware(a).id == h.id


def test_alias_scan_matches_the_yaml(devices):
    # catalog reads aliases with a regex (no YAML parse) for speed; it must agree with the loader
    for p in FILES:
        assert catalog._aliases_in(p, p.stat().st_mtime) == devices[p.stem].aliases


@pytest.mark.parametrize("name,expected", [
    ("a100", "a100-sxm4-80gb"), ("h100", "h100-sxm5"), ("mi300x", "mi300x"), ("tpu-v4", "tpu-v4"),
    ("r10000", "mips-r10000"), ("v100", "v100-sxm2-32gb"), ("h200", "h200-sxm"), ("p100", "p100-sxm2"),
    ("knl", "xeon-phi-7250"), ("grace", "nvidia-grace"),
])
def test_short_names(name, expected):
    assert get_hardware(name).id == expected


# ---- provenance --------------------------------------------------------------------------------
def test_every_section_level_and_link_has_a_source(devices):
    missing = []
    for h in devices.values():
        for where, src in [("top", h.source), ("compute", h.compute.source),
                           *((f"memory.{m.name}", m.source) for m in h.memory),
                           *((f"interconnect.{l.name}", l.source) for l in h.interconnect)]:
            if not src or not src.strip():
                missing.append(f"{h.id}: {where}")
    assert missing == []


# ---- spot checks against the published sources ---------------------------------------------------
def peak(unit, dtype):
    return lambda h: h.compute.get(unit, dtype)


def main_bw(h):
    return h.main_memory.bandwidth_bytes_per_s


def main_cap(h):
    return h.main_memory.total_capacity_bytes


def link_bw(name):
    return lambda h: h.link(name).bandwidth_bytes_per_s_per_direction


GiB = 1024**3
SPOT = [
    # (device, what, getter, value, source)
    ("h100-sxm5", "bf16 dense", peak("matrix", "bf16"), 989.4e12,
     "NVIDIA H100 datasheet: BF16 1,979 TFLOPS with sparsity -> 989.5 dense; whitepaper: 989.4 (132 SM x 4 TC x 512 FMA x 2 x 1.83 GHz)"),
    ("h100-sxm5", "fp8 dense", peak("matrix", "fp8"), 1978.9e12, "H100 datasheet: FP8 3,958 TFLOPS with sparsity / 2"),
    ("h100-sxm5", "tf32 dense", peak("matrix", "tf32"), 494.7e12, "H100 datasheet: TF32 989 TFLOPS with sparsity / 2"),
    ("h100-sxm5", "fp32 vector", peak("vector", "fp32"), 66.9e12, "H100 datasheet: FP32 67 TFLOPS (132 x 128 x 2 x 1.98 GHz)"),
    ("h100-sxm5", "HBM3 bandwidth", main_bw, 3.35e12, "H100 datasheet (SXM): GPU memory bandwidth 3.35 TB/s"),
    ("h100-sxm5", "HBM3 capacity", main_cap, 80 * GiB, "H100 datasheet: 80 GB (5 stacks x 16 GiB)"),
    ("h100-sxm5", "NVLink per direction", link_bw("nvlink"), 450e9,
     "H100 datasheet: NVLink 900 GB/s bidirectional = 18 links x 25 GB/s per direction"),
    ("h100-sxm5", "TDP", lambda h: h.tdp_w, 700.0, "H100 datasheet (SXM): up to 700 W"),
    ("a100-sxm4-80gb", "bf16 dense", peak("matrix", "bf16"), 312e12, "NVIDIA A100 80GB datasheet: BF16 312 TF | 624 TF*"),
    ("a100-sxm4-80gb", "tf32 dense", peak("matrix", "tf32"), 156e12, "A100 datasheet: TF32 156 TF | 312 TF*"),
    ("a100-sxm4-80gb", "HBM2e bandwidth", main_bw, 2.039e12, "A100 80GB datasheet: 2,039 GB/s (SXM)"),
    ("a100-sxm4-80gb", "NVLink per direction", link_bw("nvlink"), 300e9, "A100 datasheet: NVLink 600 GB/s (bidirectional)"),
    ("a100-sxm4-40gb", "HBM2 bandwidth", main_bw, 1.555e12, "A100 40GB datasheet: 1,555 GB/s"),
    ("mi300x", "bf16 dense", peak("matrix", "bf16"), 1307.4e12,
     "AMD MI300X data sheet / ROCm MI300 table: FP16/BF16 1307.4 TFLOPS dense (2614.9 with sparsity)"),
    ("mi300x", "fp64 matrix", peak("matrix", "fp64"), 163.4e12, "AMD MI300X data sheet: FP64 matrix 163.4 TFLOPS"),
    ("mi300x", "HBM3 bandwidth", main_bw, 5.3e12, "AMD MI300X data sheet: 5.3 TB/s peak memory bandwidth"),
    ("mi300x", "HBM3 capacity", main_cap, 192 * GiB, "AMD MI300X data sheet: 192 GB HBM3"),
    ("mi250x", "bf16", peak("matrix", "bf16"), 383e12, "AMD MI250X data sheet: FP16/BF16 383 TFLOPS"),
    ("mi250x", "fp64 matrix", peak("matrix", "fp64"), 95.7e12, "AMD MI250X data sheet: FP64 matrix 95.7 TFLOPS"),
    ("tpu-v4", "bf16", peak("matrix", "bf16"), 275e12, "Google Cloud TPU v4 docs: 275 TFLOPS peak per chip (bf16 or int8)"),
    ("tpu-v4", "HBM bandwidth", main_bw, 1.2e12, "Google Cloud TPU v4 docs: 32 GiB HBM2, 1200 GBps"),
    ("tpu-v5e", "bf16", peak("matrix", "bf16"), 197e12, "Google Cloud TPU v5e docs: 197 TFLOPS bf16 per chip"),
    ("tpu-v5e", "HBM bandwidth", main_bw, 819e9, "Google Cloud TPU v5e docs: 819 GBps"),
    ("v100-sxm2-32gb", "fp16 tensor", peak("matrix", "fp16"), 125e12, "NVIDIA V100 datasheet (SXM2): 125 TFLOPS tensor"),
    ("v100-sxm2-32gb", "fp32", peak("vector", "fp32"), 15.7e12, "V100 datasheet (SXM2): 15.7 TFLOPS FP32"),
    ("v100-sxm2-32gb", "HBM2 bandwidth", main_bw, 900e9, "V100 datasheet: 900 GB/s"),
    ("v100-sxm2-32gb", "NVLink per direction", link_bw("nvlink"), 150e9, "V100 whitepaper: 6 links x 25 GB/s per direction"),
    ("t4", "fp16 tensor", peak("matrix", "fp16"), 65e12, "NVIDIA T4 datasheet: mixed precision 65 TFLOPS"),
    ("t4", "GDDR6 bandwidth", main_bw, 320e9, "T4 datasheet: 320+ GB/s"),
    ("p100-sxm2", "fp64", peak("vector", "fp64"), 5.3e12, "NVIDIA P100 datasheet (NVLink): 5.3 TFLOPS FP64"),
    ("p100-sxm2", "HBM2 bandwidth", main_bw, 732e9, "P100 datasheet: 732 GB/s"),
    ("tesla-k40", "fp64", peak("vector", "fp64"), 1.68e12, "V100 whitepaper table 1, K40: 1.68 TFLOPS FP64 (960 x 2 x 875 MHz boost)"),
    ("tesla-k40", "GDDR5 bandwidth", main_bw, 288e9, "K40 datasheet: 288 GB/s"),
    ("b200", "fp4 dense", peak("matrix", "fp4"), 9e15, "NVIDIA HGX B200: FP4 18 PFLOPS with sparsity / 2 (system 144 | 72 PF for 8)"),
    ("b200", "bf16 dense", peak("matrix", "bf16"), 2.25e15, "HGX B200: FP16/BF16 4.5 PFLOPS with sparsity / 2"),
    ("b200", "HBM3e bandwidth", main_bw, 7.7e12, "HGX B200 per GPU: 7.7 TB/s"),
    ("gb200", "bf16 dense", peak("matrix", "bf16"), 2.5e15, "GB200 NVL72 per GPU: FP16/BF16 5 PFLOPS with sparsity / 2"),
    ("gaudi3", "bf16 matrix", peak("matrix", "bf16"), 1835e12, "Intel Gaudi 3 (Hot Chips 2024): BF16 matrix 1835 TFLOPs"),
    ("gaudi3", "HBM2e bandwidth", main_bw, 3.67e12, "Intel Gaudi 3 (Hot Chips 2024): HBM bandwidth 3.67 TB/s"),
    ("gaudi2", "bf16 matrix", peak("matrix", "bf16"), 432e12, "Intel Gaudi 3 Hot Chips 2024 table, Gaudi 2 column: 432 TFLOPs BF16"),
    ("mips-r10000", "fp64", peak("vector", "fp64"), 390e6, "R10000 user's manual: FP add + FP multiply per cycle x 195 MHz = 390 MFLOP/s"),
    ("xeon-platinum-8480plus", "bf16 AMX", peak("matrix", "bf16"), 114.688e12,
     "computed: 56 cores x 2.0 GHz x 1024 bf16 FLOP/cycle (AMX), per the file's notes"),
]


@pytest.mark.parametrize("device,what,get,value,source", SPOT, ids=[f"{s[0]}-{s[1]}" for s in SPOT])
def test_spot_checks_against_sources(devices, device, what, get, value, source):
    # exact: the catalogue stores the published decimal, which the unit parser reads exactly
    assert get(devices[device]) == value, source


# ---- dense peaks, never sparsity figures ---------------------------------------------------------
_D = "TF32|BF16|FP16|FP8|FP6|FP4|INT8|INT4"
# 'TF32 989*', 'BF16/FP16 1,979*', 'INT8 3,958* TOPS', 'FP16/BF16 Tensor Core 242 TFLOPS*',
# 'Tensor Core 362.05 | 733*': figures NVIDIA marks with an asterisk "with sparsity" (in T/s)
_ASTERISK = re.compile(rf"\b((?:{_D})(?:/(?:{_D}))*)(?: Tensor(?: Core)?)?\s+(?:[\d.,]+\s*\|\s*)?(\d[\d.,]*)\s*(?:T(?:FLOP|OP)S)?\*")


def _sparse_mentions(h):
    text = f"{h.compute.source} {h.compute.notes}"
    for dtypes, number in _ASTERISK.findall(text):
        for d in dtypes.lower().split("/"):
            yield d, float(number.replace(",", "")) * T


def test_the_asterisk_parser_finds_the_h100_figures(devices):
    assert sorted(_sparse_mentions(devices["h100-sxm5"])) == sorted(
        [("tf32", 989e12), ("bf16", 1979e12), ("fp16", 1979e12), ("fp8", 3958e12), ("int8", 3958e12)])


def test_no_dense_peak_is_an_asterisked_sparsity_figure(devices):
    checked = 0
    for h in devices.values():
        for dtype, sparse in _sparse_mentions(h):
            dense = h.compute.get("matrix", dtype)
            assert dense is not None, (h.id, dtype)
            assert dense != sparse, (h.id, dtype)
            # dense = sparse / 2, within the vendors' rounding (989.4 vs 1979/2 = 989.5; the L40S
            # datasheet pairs 362.05 dense with 733 sparse, 1.2% off an exact half)
            assert 0.985 * sparse / 2 <= dense <= 1.001 * sparse / 2, (h.id, dtype, dense, sparse)
            checked += 1
    assert checked >= 30


# Sparse figures quoted in other forms (not asterisked): (device, dtype, sparse FLOP/s, text in the file)
SPARSE = [
    ("a100-sxm4-80gb", "bf16", 624e12, "BF16/FP16 624 TFLOP/s"),
    ("a100-sxm4-80gb", "int8", 1248e12, "INT8 1248 TOP/s"),
    ("a100-sxm4-40gb", "tf32", 312e12, "TF32 312"),
    ("b200", "fp4", 18e15, "FP4 Tensor Core 18 PFLOPS"),
    ("b200", "bf16", 4.5e15, "FP16/BF16 4.5 PFLOPS"),
    ("gb200", "fp4", 20e15, "FP4 Tensor Core 20 PFLOPS"),
    ("gb200", "fp8", 10e15, "FP8/FP6 10 PFLOPS"),
    ("mi300x", "bf16", 2614.9e12, "FP16/BF16 2614.9"),
    ("mi300x", "fp8", 5229.8e12, "FP8 5229.8"),
    ("mi325x", "bf16", 2614.9e12, "FP16/BF16 2614.9"),
    ("geforce-rtx-3090", "int8", 568e12, "INT8 284/568"),
    ("geforce-rtx-4090", "int8", 1321.2e12, "INT8 660.6/1321.2"),
]


@pytest.mark.parametrize("device,dtype,sparse,quote", SPARSE, ids=[f"{s[0]}-{s[1]}" for s in SPARSE])
def test_sparsity_figures_in_notes_are_not_peaks(devices, device, dtype, sparse, quote):
    h = devices[device]
    assert quote in f"{h.compute.source} {h.compute.notes}"       # the figure really is in the file
    # dense = sparse / 2 up to the vendor's last printed digit (AMD: 2614.9 sparse, 1307.4 dense)
    assert h.compute.peaks()[dtype] == pytest.approx(sparse / 2, rel=1e-4)
    assert h.compute.peaks()[dtype] != sparse
