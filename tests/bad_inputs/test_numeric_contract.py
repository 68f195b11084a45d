"""The numeric contract (hwsim.limits) and the strict YAML reader: each refusal states the exact line."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hwsim.cli import main
from hwsim.cost.calibration import load_calibration
from hwsim.errors import InputError
from hwsim.hardware.loader import check_file
from hwsim.limits import COUNT_LIMITS, MAX_TOKENS_PER_STEP, float_problem
from hwsim.units import parse_quantity
from hwsim.workload import load_workload

Write = Callable[[str, str], Path]

WORKLOAD = """\
schema: hwsim.workload/1
model:
  family: llama
  layers: 2
  hidden: 64
  heads: 4
  kv_heads: 2
  ffn_hidden: 128
  vocab: 100
  seq_len: 64
task:
  mode: train
  batch: 2
  seq_len: 16
  dtype: fp32
"""

DEVICE = """\
schema: hwsim.device/1
description: Test GPU
kind: gpu
vendor: Acme
compute:
  matrix: {bf16: 100 TFLOP/s}
memory: {capacity: 80 GB, bandwidth: 2 TB/s}
sources: [a datasheet]
"""

CALIBRATION = """\
schema: hwsim.calibration/1
sources: [a test]
applies_to: {kind: gpu}
launch_overhead: 5 us
efficiency:
  matmul: {default: {best: 0.8}}
  default: {default: {best: 0.9}}
"""


def lines(load: Callable[[Path], object], path: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        load(path)
    return str(info.value).splitlines()


def workload_lines(path: Path, *overrides: str) -> list[str]:
    with pytest.raises(InputError) as info:
        load_workload(path, overrides)
    return str(info.value).splitlines()


# --- the YAML reader -------------------------------------------------------------------------------


def test_a_key_given_twice_names_both_lines(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", WORKLOAD.replace("  batch: 2\n", "  batch: 2\n  batch: 8\n"))
    assert workload_lines(path) == [
        'w.yaml: line 14: expected each key once in a mapping ("batch" is first on line 13), got "batch" again'
    ]


def test_a_key_given_twice_in_a_flow_mapping_is_refused(write_yaml: Write) -> None:
    path = write_yaml("d.yaml", DEVICE.replace("{capacity: 80 GB,", "{capacity: 80 GB, capacity: 1 GB,"))
    assert lines(check_file, path) == [
        'd.yaml: line 7: expected each key once in a mapping ("capacity" is first on line 7), '
        'got "capacity" again'
    ]


def test_deep_nesting_is_refused_without_recursing(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", WORKLOAD + "plan: " + "[" * 5000 + "]" * 5000 + "\n")
    assert workload_lines(path) == ["w.yaml: line 16: expected nesting at most 64 levels deep, got deeper"]


def test_an_alias_bomb_is_refused_before_it_expands(write_yaml: Write) -> None:
    bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
    for name, prev in zip("bcdefg", "abcdef", strict=True):
        bomb += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]\n"
    path = write_yaml("d.yaml", DEVICE + "x:\n" + "".join("  " + line + "\n" for line in bomb.splitlines()))
    assert lines(check_file, path) == ["d.yaml: expected at most 1,000,000 values (aliases expanded), got more"]


# --- counts ------------------------------------------------------------------------------------------


def test_a_million_layers_is_refused_before_tracing_with_the_limit(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", WORKLOAD)
    started = time.perf_counter()
    got = workload_lines(path, "model.layers=1000000")
    assert time.perf_counter() - started < 30  # refused at load, not after filling the machine
    assert got == [
        "w.yaml: model.layers: expected a whole number from 1 to 4,096, got 1000000 "
        f"({COUNT_LIMITS['layers'].why})"
    ]


@pytest.mark.parametrize("key", ["hidden", "heads", "ffn_hidden", "vocab", "seq_len"])
def test_every_model_count_has_an_upper_bound(write_yaml: Write, key: str) -> None:
    path = write_yaml("w.yaml", WORKLOAD)
    got = workload_lines(path, f"model.{key}={2**40}")
    high = COUNT_LIMITS[key].high
    assert got[0].startswith(f"w.yaml: model.{key}: expected a whole number from 1 to {high:,}, got {2**40}")


def test_tokens_per_step_are_bounded(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", WORKLOAD.replace("seq_len: 64", f"seq_len: {2**24}"))
    got = workload_lines(path, f"task.batch={2**24}", f"task.seq_len={2**24}")
    assert got == [
        f"w.yaml: task.batch: expected batch x tokens per sequence at most {MAX_TOKENS_PER_STEP:,} "
        "(hwsim.limits), got 16,777,216 x 16,777,216"
    ]


def test_a_hardware_count_past_any_machine_is_refused(write_yaml: Write) -> None:
    write_yaml("d.yaml", DEVICE)
    node = "schema: hwsim.node/1\ndescription: n\ndevice: d.yaml\ncount: 10000000000\nsources: [x]\n"
    path = write_yaml("n.yaml", node)
    assert any("count: expected a whole number from 1 to 2,147,483,647" in line for line in lines(check_file, path))


# --- floats ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e400"])
def test_non_finite_numbers_are_refused(write_yaml: Write, value: str) -> None:
    path = write_yaml("w.yaml", WORKLOAD)
    got = workload_lines(path, f"model.rope_theta={value}")
    assert len(got) == 1 and got[0].startswith("w.yaml: model.rope_theta: expected a number >= 1, got ")


def test_a_huge_integer_for_a_number_is_refused(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", WORKLOAD)
    got = workload_lines(path, f"model.norm_eps={10**400}")
    assert got[0].startswith("w.yaml: model.norm_eps: expected a number >= 0, got ")
    assert got[0].endswith("(the value is not finite)")


def test_a_subnormal_quantity_is_refused() -> None:
    assert float_problem(5e-324).startswith("the value is below the least normal float")
    assert float_problem(0.0) == "" and float_problem(1e-300) == ""
    with pytest.raises(ValueError, match="below the least normal float"):
        parse_quantity("5e-324 B/s", "byte_rate")


def test_a_subnormal_bandwidth_is_refused_with_its_key(write_yaml: Write) -> None:
    path = write_yaml("d.yaml", DEVICE.replace("bandwidth: 2 TB/s", "bandwidth: 5e-324 B/s"))
    assert lines(check_file, path) == [
        'd.yaml: memory.bandwidth: expected a byte rate like "3.35 TB/s", got "5e-324 B/s" '
        "(the value is below the least normal float (2.23e-308))"
    ]


# --- calibration files --------------------------------------------------------------------------------


def test_a_negative_launch_overhead_is_refused(write_yaml: Write) -> None:
    path = write_yaml("c.yaml", CALIBRATION.replace("launch_overhead: 5 us", "launch_overhead: -5 us"))
    assert lines(load_calibration, path) == [
        'c.yaml: launch_overhead: expected a non-negative time like "2 us", got "-5 us"'
    ]


def test_a_negative_eager_overhead_is_refused(write_yaml: Write) -> None:
    path = write_yaml("c.yaml", CALIBRATION + "eager_overhead: {train: 10 us, inference: -1 us}\n")
    assert lines(load_calibration, path) == [
        'c.yaml: eager_overhead.inference: expected a non-negative time like "2 us", got "-1 us"'
    ]


def test_a_zero_overhead_is_accepted(write_yaml: Write) -> None:
    path = write_yaml("c.yaml", CALIBRATION.replace("launch_overhead: 5 us", "launch_overhead: 0 s"))
    assert load_calibration(path).launch_overhead == 0.0


def test_a_compute_efficiency_above_the_roof_is_refused(write_yaml: Write) -> None:
    text = CALIBRATION.replace("matmul: {default: {best: 0.8}}", 'matmul: {default: {best: 0.8, curve: [["1 us", 50]]}}')
    path = write_yaml("c.yaml", text)
    assert lines(load_calibration, path) == [
        "c.yaml: efficiency.matmul.default.curve: expected an efficiency (best x curve) of at most 1 for a "
        "compute class, got 40 (nothing runs faster than the compute roof)"
    ]


def test_a_cache_bonus_within_its_range_is_accepted_and_beyond_it_refused(write_yaml: Write) -> None:
    ok = CALIBRATION.replace("default: {default: {best: 0.9}}", 'default: {default: {best: 0.9, curve: [["1 us", 2]]}}')
    assert load_calibration(write_yaml("ok.yaml", ok)).entry("copy", "bf16")(1e-6) == pytest.approx(1.8)
    bad = ok.replace('["1 us", 2]', '["1 us", 40]')
    assert lines(load_calibration, write_yaml("bad.yaml", bad)) == [
        "bad.yaml: efficiency.default.default.curve: expected an efficiency (best x curve) of at most 16 for a "
        "memory-bound class, got 36 (see MAX_CACHE_BONUS)"
    ]


# --- through the command line ---------------------------------------------------------------------------


def test_the_cli_prints_one_line_and_exits_1(write_yaml: Write, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_yaml("w.yaml", WORKLOAD.replace("  batch: 2\n", "  batch: 2\n  batch: 8\n"))
    assert main(["estimate", str(path), "--system", "h100_sxm"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        'w.yaml: line 14: expected each key once in a mapping ("batch" is first on line 13), got "batch" again'
    ]


def test_an_extends_to_a_missing_file_names_the_file_and_key_that_refer_to_it(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", "schema: hwsim.workload/1\nextends: no-such-parent\n")
    assert workload_lines(path) == [
        'w.yaml: extends: expected the stem or path of an existing parent file, got "no-such-parent" '
        "(no such file: no-such-parent.yaml)"
    ]
