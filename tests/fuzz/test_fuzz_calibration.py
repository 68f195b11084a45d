"""Fuzz the calibration loader: load, or raise hwsim's own error; nothing else escapes."""

from __future__ import annotations

from fuzzkit import (
    CATALOGUE,
    MISSING_REFS,
    VALUES,
    check_numbers,
    deep_texts,
    dump,
    fuzz_settings,
    loads_or_input_error,
    must_refuse,
    mutated,
    seeds,
    with_alias,
    with_duplicate_key,
)
from hypothesis import given
from hypothesis import strategies as st

from hwsim.cost.calibration import load_calibration

SEEDS = seeds(CATALOGUE / "calibrations")


@fuzz_settings(500)
@given(data=st.data())
def test_mutated_calibration_loads_or_input_error(data) -> None:
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    doc = data.draw(mutated(doc))
    calibration = loads_or_input_error(load_calibration, dump(doc), f"c/{stem}.yaml")
    if calibration is not None:
        check_numbers(calibration, "calibration")


@fuzz_settings(150)
@given(doc=st.dictionaries(st.text(max_size=10), VALUES, max_size=6),
       efficiency=st.dictionaries(st.sampled_from(["default", "matmul", "attention", "matmul_memory", "zz"]),
                                  st.dictionaries(st.sampled_from(["default", "bf16", "fp8"]),
                                                  st.dictionaries(st.sampled_from(["best", "curve"]), VALUES)),
                                  max_size=3))  # fmt: skip
def test_random_calibration_document(doc, efficiency) -> None:
    doc = {"schema": "hwsim.calibration/1", "applies_to": {"kind": "gpu"}, "launch_overhead": "5 us",
           "sources": ["x"], "efficiency": efficiency, **doc}  # fmt: skip
    calibration = loads_or_input_error(load_calibration, dump(doc), "c/random.yaml")
    if calibration is not None:
        check_numbers(calibration, "calibration")


@fuzz_settings(120)
@given(data=st.data())
def test_duplicate_keys_are_refused(data) -> None:
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    must_refuse(load_calibration, data.draw(with_duplicate_key(doc)), f"c/{stem}.yaml")


@fuzz_settings(40)
@given(text=deep_texts("hwsim.calibration/1", ["efficiency", "applies_to", "residency", "host_cold",
                                               "attention_head", "matmul_skinny", "fitted_on", "extends"]))  # fmt: skip
def test_deep_nesting_is_refused(text) -> None:
    must_refuse(load_calibration, text, "c/deep.yaml")


@fuzz_settings(60)
@given(data=st.data())
def test_wrong_schema_is_refused(data) -> None:
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    wrong = data.draw(
        st.sampled_from(["hwsim.calibration/2", "hwsim.device/1", "hwsim.calibration", "", "calibration"])
        | VALUES.filter(lambda v: v != "hwsim.calibration/1")
    )
    doc = {**doc, "schema": wrong}
    must_refuse(load_calibration, dump(doc), f"c/{stem}.yaml")


@fuzz_settings(100)
@given(data=st.data())
def test_extends_to_missing_file_is_refused(data) -> None:
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    doc = {**doc, "extends": data.draw(MISSING_REFS)}
    must_refuse(load_calibration, dump(doc), f"c/{stem}.yaml")


@fuzz_settings(50)
@given(data=st.data())
def test_recursive_aliases_and_alias_bombs(data) -> None:
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    result = loads_or_input_error(load_calibration, data.draw(with_alias(doc)), f"c/{stem}.yaml")
    if result is not None:
        check_numbers(result, "result")


@fuzz_settings(150)
@given(data=st.data())
def test_renumbered_values_load_only_if_sane(data) -> None:
    """Only numbers change: what loads must hold finite, normal, non-negative, 64-bit numbers."""
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    doc = data.draw(mutated(doc, ops=("renumber",)))
    result = loads_or_input_error(load_calibration, dump(doc), f"c/{stem}.yaml")
    if result is not None:
        check_numbers(result, "calibration")
