"""hwsim.units: parsing and formatting of quantities, round trips, and the messages for bad values."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwsim.units import KINDS, QuantityError, format_quantity, parse_quantity


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("989 TFLOP/s", "flop_rate", 989e12),
        ("1979 TOP/s", "flop_rate", 1979e12),
        ("2.5 GFLOP", "flop", 2.5e9),
        ("3.35 TB/s", "byte_rate", 3.35e12),
        ("400 Gb/s", "byte_rate", 50e9),  # a bit rate is a byte rate over 8
        ("1 GiB/s", "byte_rate", 2.0**30),
        ("80 GB", "bytes", 80e9),
        ("80 GiB", "bytes", 80 * 2.0**30),
        ("1 kB", "bytes", 1000.0),
        ("1 KiB", "bytes", 1024.0),
        ("50MiB", "bytes", 50 * 2.0**20),
        ("2 us", "time", 2e-6),
        ("2 µs", "time", 2e-6),
        ("1.5 ms", "time", 1.5e-3),
        ("7 ns", "time", 7e-9),
        ("3 s", "time", 3.0),
        ("1.98 GHz", "frequency", 1.98e9),
        ("700 W", "power", 700.0),
        ("1.2 kW", "power", 1200.0),
        ("1e3 GB", "bytes", 1e12),
    ],
)
def test_parse(text: str, kind: str, expected: float) -> None:
    assert parse_quantity(text, kind) == pytest.approx(expected, rel=1e-12)


def test_decimal_and_binary_are_different() -> None:
    assert parse_quantity("1 GiB", "bytes") / parse_quantity("1 GB", "bytes") == pytest.approx(1.073741824)


@pytest.mark.parametrize(
    ("value", "kind", "message"),
    [
        (3350, "byte_rate", 'expected a byte rate like "3.35 TB/s", got 3350 (a bare number has no unit)'),
        (
            "3350",
            "byte_rate",
            'expected a byte rate like "3.35 TB/s", got "3350" (a bare number has no unit)',
        ),
        (
            "80 Gb",
            "bytes",
            'expected a size in bytes like "80 GiB", got "80 Gb" '
            '("Gb" is bits; a size in bytes is written with B, e.g. "80 GB" or "80 GiB")',
        ),
        (
            "5 KB",
            "bytes",
            'expected a size in bytes like "80 GiB", got "5 KB" '
            '(unknown unit "KB"; write "kB" (1000) or "KiB" (1024))',
        ),
        (
            "3 TB/s",
            "bytes",
            'expected a size in bytes like "80 GiB", got "3 TB/s" '
            '("TB/s" is a byte rate, not a size in bytes)',
        ),
        (
            "5 gb/s",
            "byte_rate",
            'expected a byte rate like "3.35 TB/s", got "5 gb/s" '
            '(unknown unit "gb/s"; units are case-sensitive, did you mean "GB/s"?)',
        ),
        ("fast", "time", 'expected a time like "2 us", got "fast" (write a number, then its unit)'),
        (True, "power", 'expected a power like "700 W", got True (a quantity is a number and a unit)'),
    ],
)
def test_bad_values_say_what_was_expected(value: object, kind: str, message: str) -> None:
    with pytest.raises(QuantityError) as info:
        parse_quantity(value, kind)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("value", "kind", "binary", "text"),
    [
        (3.35e12, "byte_rate", False, "3.35 TB/s"),
        (80 * 2.0**30, "bytes", True, "80 GiB"),
        (989e12, "flop_rate", False, "989 TFLOP/s"),
        (2e-6, "time", False, "2 us"),
        (0.0123, "time", False, "12.3 ms"),
        (700.0, "power", False, "700 W"),
        (512.0, "bytes", False, "512 B"),
    ],
)
def test_format(value: float, kind: str, binary: bool, text: str) -> None:
    assert format_quantity(value, kind, binary=binary) == text


@given(
    kind=st.sampled_from(KINDS),
    value=st.floats(min_value=1e-12, max_value=1e21, allow_nan=False, allow_infinity=False),
    binary=st.booleans(),
)
def test_format_then_parse_round_trips(kind: str, value: float, binary: bool) -> None:
    text = format_quantity(value, kind, binary=binary, digits=12)
    assert math.isclose(parse_quantity(text, kind), value, rel_tol=1e-9)
