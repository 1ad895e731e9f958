"""roofsim.units: a table of quantities for every dimension and prefix family, every error by its
exact text, format round trips, and the prefix table itself (the classic bug is 'T': 1e13)."""
import math

import pytest

from roofsim.errors import UnitError
from roofsim.units import IEC, SI, SUB, UNITS, format_quantity, parse_quantity

# (text, dimension, SI value). The value column is written as the arithmetic a reader can check.
CASES = [
    # sizes: SI prefixes are powers of 1000, IEC prefixes powers of 1024
    ("1 B", "bytes", 1.0),
    ("32 kB", "bytes", 32 * 1000),                 # 32000
    ("32 KiB", "bytes", 32 * 1024),                # 32768: 32 kB != 32 KiB
    ("40 MiB", "bytes", 40 * 1024**2),
    ("80 GB", "bytes", 80 * 1000**3),
    ("80 GiB", "bytes", 80 * 1024**3),             # 85899345920
    ("2 TB", "bytes", 2 * 1000**4),
    ("2 TiB", "bytes", 2 * 1024**4),
    ("3 PB", "bytes", 3 * 1000**5),
    ("3 PiB", "bytes", 3 * 1024**5),
    ("1 EB", "bytes", 1000**6),
    ("1 EiB", "bytes", 1024**6),
    ("1.5 KiB", "bytes", 1536),                    # 1.5 x 1024
    ("128 MB", "bytes", 128e6),
    ("128B", "bytes", 128),                        # no space is fine
    (".5 kB", "bytes", 500),
    ("1e3 B", "bytes", 1000),
    # bandwidths, bytes per second and bits per second (8 bits per byte)
    ("2039 GB/s", "bandwidth", 2039e9),
    ("1.6 TB/s", "bandwidth", 1.6e12),
    ("3.35 TB/s", "bandwidth", 3.35e12),
    ("10 GiB/s", "bandwidth", 10 * 1024**3),
    ("900 GBps", "bandwidth", 900e9),
    ("25 Gb/s", "bandwidth", 3.125e9),             # 25e9 bits / 8 = 3.125e9 B/s
    ("100 Gbit/s", "bandwidth", 12.5e9),           # 100e9 / 8
    ("400 Mb/s", "bandwidth", 50e6),               # 400e6 / 8
    ("8 kb/s", "bandwidth", 1000),                 # 8000 / 8
    # compute rates: FLOP/s == FLOPS, and integer OP/s == OPS
    ("312 TFLOP/s", "flop_rate", 312e12),
    ("312 TFLOPS", "flop_rate", 312e12),
    ("66.9 TFLOP/s", "flop_rate", 66.9e12),        # exactly the float 66.9e12, not 66.9 * 1e12
    ("1.1 PFLOP/s", "flop_rate", 1.1e15),          # exactly 1.1e15 (1.1 * 1e15 would be 1100000000000000.1)
    ("624 TOP/s", "flop_rate", 624e12),
    ("624 TOPS", "flop_rate", 624e12),
    ("390 MFLOP/s", "flop_rate", 390e6),
    ("1 EFLOP/s", "flop_rate", 1e18),
    ("7 GFLOP/s", "flop_rate", 7e9),
    ("5 kFLOP/s", "flop_rate", 5e3),
    # FLOP counts
    ("1.2 TFLOP", "flops", 1.2e12),
    ("3 GFLOP", "flops", 3e9),
    # times: sub-second prefixes are exact divisions
    ("5 us", "time", 5e-6),                        # 5 / 1e6, exactly 5e-06
    ("5 µs", "time", 5e-6),
    ("5us", "time", 5e-6),
    ("1 s", "time", 1.0),
    ("2 ms", "time", 2e-3),
    ("80 ns", "time", 80e-9),
    ("3 ps", "time", 3e-12),
    # frequencies
    ("1.41 GHz", "frequency", 1.41e9),
    ("1530 MHz", "frequency", 1.53e9),
    ("100 kHz", "frequency", 1e5),
    ("50 Hz", "frequency", 50.0),
    # powers
    ("700 W", "power", 700.0),
    ("1.2 kW", "power", 1200.0),
    ("15 mW", "power", 0.015),
]


@pytest.mark.parametrize("text,dimension,expected", CASES, ids=[c[0] for c in CASES])
def test_parse_table(text, dimension, expected):
    # exact equality: every value above is the float nearest to the written decimal
    assert parse_quantity(text, dimension) == expected


def test_5_us_is_exactly_5e_minus_6():
    assert parse_quantity("5 us", "time") == 5e-6
    assert repr(parse_quantity("5 us", "time")) == "5e-06"


def test_32_kB_is_not_32_KiB():
    assert parse_quantity("32 kB", "bytes") == 32000
    assert parse_quantity("32 KiB", "bytes") == 32768


def test_TFLOPS_and_TFLOP_per_s_are_the_same():
    assert parse_quantity("312 TFLOPS", "flop_rate") == parse_quantity("312 TFLOP/s", "flop_rate") == 312e12


# ---- errors, each by its exact text ---------------------------------------------------------
ERRORS = [
    # bare numbers (a string and Python numbers)
    ("5", "bandwidth", "expected a bandwidth, e.g. 2 TB/s, found a bare number '5' with no unit"),
    (5, "bandwidth", "expected a bandwidth, e.g. 2 TB/s, found a bare number 5 with no unit"),
    (2.5, "bytes", "expected a size, e.g. 80 GB or 40 MiB, found a bare number 2.5 with no unit"),
    # wrong dimension
    ("80 GB", "bandwidth", "expected a bandwidth, e.g. 2 TB/s, found '80 GB', which is a size"),
    ("2 TB/s", "bytes", "expected a size, e.g. 80 GB or 40 MiB, found '2 TB/s', which is a bandwidth"),
    ("1 TFLOP", "flop_rate", "expected a compute rate, e.g. 312 TFLOP/s, found '1 TFLOP', which is a FLOP count"),
    ("5 us", "frequency", "expected a frequency, e.g. 1.41 GHz, found '5 us', which is a time"),
    ("1.41 GHz", "time", "expected a time, e.g. 5 us, found '1.41 GHz', which is a frequency"),
    ("700 W", "flops", "expected a FLOP count, e.g. 1.2 TFLOP, found '700 W', which is a power"),
    ("300 GB/s", "power", "expected a power, e.g. 700 W, found '300 GB/s', which is a bandwidth"),
    # unknown units, with a hint where the spelling is a known mistake
    ("32 KB", "bytes",
     "expected a size, e.g. 80 GB or 40 MiB, found '32 KB': unknown unit 'KB' (write kB (1000 B) or KiB (1024 B))"),
    ("32 KB/s", "bandwidth",
     "expected a bandwidth, e.g. 2 TB/s, found '32 KB/s': unknown unit 'KB/s' (write kB/s or KiB/s)"),
    ("5 sec", "time", "expected a time, e.g. 5 us, found '5 sec': unknown unit 'sec' (write s)"),
    ("3 parsecs", "time", "expected a time, e.g. 5 us, found '3 parsecs': unknown unit 'parsecs'"),
    ("5 ks", "time", "expected a time, e.g. 5 us, found '5 ks': unknown unit 'ks'"),
    # non-finite
    ("1e400 B", "bytes", "expected a size, e.g. 80 GB or 40 MiB, found '1e400 B', which is not finite"),
    ("1e308 EB", "bytes", "expected a size, e.g. 80 GB or 40 MiB, found '1e308 EB', which is not finite"),
    ("inf B", "bytes", "expected a size, e.g. 80 GB or 40 MiB, found 'inf B'"),
    ("nan GB/s", "bandwidth", "expected a bandwidth, e.g. 2 TB/s, found 'nan GB/s'"),
    # not a quantity at all
    (None, "bytes", "expected a size, e.g. 80 GB or 40 MiB, found None"),
    (True, "bytes", "expected a size, e.g. 80 GB or 40 MiB, found True"),
    (False, "power", "expected a power, e.g. 700 W, found False"),
    ([1, "GB"], "bytes", "expected a size, e.g. 80 GB or 40 MiB, found a list"),
    ({"GB": 1}, "bytes", "expected a size, e.g. 80 GB or 40 MiB, found a dict"),
    ("", "bytes", "expected a size, e.g. 80 GB or 40 MiB, found ''"),
    ("GB", "bytes", "expected a size, e.g. 80 GB or 40 MiB, found 'GB'"),
    ("2 TB/s extra", "bandwidth", "expected a bandwidth, e.g. 2 TB/s, found '2 TB/s extra': unknown unit 'TB/s extra'"),
]


@pytest.mark.parametrize("value,dimension,message", ERRORS, ids=[repr(e[0]) for e in ERRORS])
def test_errors_by_exact_text(value, dimension, message):
    with pytest.raises(UnitError) as info:
        parse_quantity(value, dimension)
    assert str(info.value) == message


def test_unit_error_carries_expected_and_found_and_pickles():
    import pickle
    with pytest.raises(UnitError) as info:
        parse_quantity("80 GB", "bandwidth")
    e = pickle.loads(pickle.dumps(info.value))
    assert (e.expected, e.found) == ("a bandwidth, e.g. 2 TB/s", "'80 GB', which is a size")


def test_unknown_dimension_is_a_programming_error():
    with pytest.raises(ValueError):
        parse_quantity("1 B", "mass")


def test_no_eval():
    # an expression is text, not arithmetic
    with pytest.raises(UnitError):
        parse_quantity("2*3 GB", "bytes")
    with pytest.raises(UnitError):
        parse_quantity("__import__('os') B", "bytes")


# ---- the prefix table ------------------------------------------------------------------------
def test_si_prefixes_are_powers_of_1000():
    for i, p in enumerate(["", "k", "M", "G", "T", "P", "E"]):
        assert SI[p] == 1000.0**i, p       # the classic bug: 'T': 1e13
    assert len(SI) == 7


def test_iec_prefixes_are_powers_of_1024():
    for i, p in enumerate(["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"], start=1):
        assert IEC[p] == 1024.0**i, p
    assert len(IEC) == 6


def test_sub_unit_divisors():
    # milli, micro (ASCII u, the micro sign U+00B5 and the Greek mu U+03BC), nano, pico
    assert SUB == {"m": 1e3, "u": 1e6, "\u00b5": 1e6, "\u03bc": 1e6, "n": 1e9, "p": 1e12}


def test_every_unit_in_the_table_matches_its_prefix():
    """Each entry of UNITS, read back from its symbol: prefix value x base (/8 for bits)."""
    bases = {"B": ("bytes", 1), "B/s": ("bandwidth", 1), "Bps": ("bandwidth", 1),
             "b/s": ("bandwidth", 8), "bit/s": ("bandwidth", 8), "bps": ("bandwidth", 8),
             "FLOP/s": ("flop_rate", 1), "FLOPS": ("flop_rate", 1), "OP/s": ("flop_rate", 1),
             "OPS": ("flop_rate", 1), "FLOP": ("flops", 1), "s": ("time", 1), "Hz": ("frequency", 1),
             "W": ("power", 1)}
    checked = 0
    for symbol, (dim, mult, div) in UNITS.items():
        # longest base that ends the symbol ("Bps" before "s", "FLOPS" before "S")
        base = max((b for b in bases if symbol.endswith(b)), key=len)
        prefix = symbol[: -len(base)]
        want_dim, bits = bases[base]
        assert dim == want_dim, symbol
        if prefix in SUB:
            assert (mult, div) == (1.0, SUB[prefix] * bits), symbol
        else:
            table = IEC if prefix.endswith("i") else SI
            i = list(table).index(prefix)
            assert mult == (1024.0 ** (i + 1) if table is IEC else 1000.0**i), symbol
            assert div == bits, symbol
        checked += 1
    assert checked == len(UNITS) > 100


def test_iec_only_for_bytes():
    # 'KiFLOP/s' or 'GiHz' are not units
    assert not [u for u in UNITS if "i" in u[:2] and UNITS[u][0] not in ("bytes", "bandwidth")]


# ---- formatting ------------------------------------------------------------------------------
FORMATS = [
    (3.35e12, "bandwidth", False, "3.35 TB/s"),
    (2039e9, "bandwidth", False, "2.039 TB/s"),
    (989.4e12, "flop_rate", False, "989.4 TFLOP/s"),
    (32768, "bytes", True, "32 KiB"),
    (32000, "bytes", False, "32 kB"),
    (80 * 1024**3, "bytes", True, "80 GiB"),
    (50 * 1024**2, "bytes", True, "50 MiB"),
    (5e-6, "time", False, "5 us"),
    (80e-9, "time", False, "80 ns"),
    (2e-3, "time", False, "2 ms"),
    (1.5, "time", False, "1.5 s"),
    (1.41e9, "frequency", False, "1.41 GHz"),
    (700.0, "power", False, "700 W"),
    (1.2e12, "flops", False, "1.2 TFLOP"),
    (0, "bytes", False, "0 B"),
    (None, "bytes", False, "-"),
    (float("nan"), "bandwidth", False, "-"),
    (math.inf, "flop_rate", False, "inf FLOP/s"),
]


@pytest.mark.parametrize("value,dimension,binary,text", FORMATS, ids=[f[3] for f in FORMATS])
def test_format_quantity(value, dimension, binary, text):
    assert format_quantity(value, dimension, binary=binary) == text


@pytest.mark.parametrize("value,dimension,binary", [
    (3.35e12, "bandwidth", False), (2039e9, "bandwidth", False), (989.4e12, "flop_rate", False),
    (312e12, "flop_rate", False), (32768, "bytes", True), (80 * 1024**3, "bytes", True),
    (50 * 1024**2, "bytes", True), (40e6, "bytes", False), (5e-6, "time", False), (80e-9, "time", False),
    (1.41e9, "frequency", False), (700.0, "power", False), (1.2e12, "flops", False), (3.125e9, "bandwidth", False),
])
def test_format_parse_round_trip(value, dimension, binary):
    # 4 significant digits by default, so every value above (<= 4 digits) comes back exactly
    assert parse_quantity(format_quantity(value, dimension, binary=binary), dimension) == value


def test_repr_in_base_units_round_trips_exactly():
    # roofsim.hardware.to_doc writes quantities as repr(value) + base unit; this must be lossless
    for value in (66.9e12, 1.0 / 3.0 * 1e9, 123456789.0, 5e-6, 0.1, 2.0**60, 1e-300):
        assert parse_quantity(f"{value!r} FLOP/s", "flop_rate") == value
        assert parse_quantity(f"{value!r} s", "time") == value
