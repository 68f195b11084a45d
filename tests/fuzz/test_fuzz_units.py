"""Fuzz the unit parser: any value either parses to a finite float or raises QuantityError."""

from __future__ import annotations

import math

from fuzzkit import NUMBER_TEXT, SAFE_TEXT, UNIT_STRING, UNITS, VALUES, fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

from hwsim.units import KINDS, QuantityError, describe, format_quantity, parse_quantity

QUANTITY_TEXT = st.one_of(
    UNIT_STRING,
    SAFE_TEXT,
    st.builds(lambda a, b: a + b, UNIT_STRING, SAFE_TEXT),
    st.builds(lambda a, b, c: f"{a}{b}{c}", SAFE_TEXT, NUMBER_TEXT, st.sampled_from(UNITS)),
    st.text(alphabet="0123456789.eE+- kKMGTPEmunpµiBbFLOPs/HzW\t\n", max_size=30),
)
ANY_VALUE = st.one_of(QUANTITY_TEXT, VALUES, st.binary(max_size=8), st.complex_numbers())


@fuzz_settings(1500)
@given(value=ANY_VALUE, kind=st.sampled_from(KINDS))
def test_parse_quantity_is_finite_or_quantity_error(value: object, kind: str) -> None:
    try:
        result = parse_quantity(value, kind)
    except QuantityError as exc:
        assert exc.expected == describe(kind)
        assert isinstance(exc.got, str) and isinstance(exc.hint, str)
        return
    assert isinstance(result, float), f"{value!r} -> {result!r}"
    assert math.isfinite(result), f"{value!r} -> {result!r}"


@fuzz_settings(800)
@given(
    # normal floats only: the parser refuses subnormals, and near the largest float rounding to 3
    # digits can step past it
    value=st.floats(min_value=1e-300, max_value=1e300) | st.sampled_from([0.0, 1e-300, 1e300]),
    kind=st.sampled_from(KINDS),
    binary=st.booleans(),
)
def test_format_then_parse_round_trips(value: float, kind: str, binary: bool) -> None:
    text = format_quantity(value, kind, binary=binary)
    assert isinstance(text, str)
    back = parse_quantity(text, kind)  # what hwsim writes, hwsim reads
    assert math.isfinite(back)
    assert math.isclose(back, value, rel_tol=5e-3, abs_tol=1e-320), f"{value!r} -> {text!r} -> {back!r}"
