"""Calibration files: curve arithmetic, inheritance through extends, and one-line errors for bad files."""

import math
from pathlib import Path

import numpy as np
import pytest

from hwsim.cost.calibration import Curve, default_calibration, load_calibration
from hwsim.errors import InputError


def test_curve_is_a_power_law_between_points_and_flat_outside() -> None:
    c = Curve(points=((1e-6, 0.2), (1e-4, 0.6)))
    assert c(1e-7) == 0.2 and c(1e-3) == 0.6
    assert c(1e-5) == pytest.approx((0.2 * 0.6) ** 0.5)  # halfway in log-log: the geometric mean
    assert c.many(np.array([1e-7, 1e-5, 1e-3])) == pytest.approx([0.2, (0.2 * 0.6) ** 0.5, 0.6])
    assert c.covers(1e-5) and not c.covers(1e-3)
    # an op of fixed cost (25 us at 64 ns and at 1 us of ideal time) keeps that cost in between
    fixed = Curve(points=((64e-9, 64e-9 / 25e-6), (1e-6, 1e-6 / 25e-6)))
    assert 0.33e-6 / fixed(0.33e-6) == pytest.approx(25e-6)


def test_device_default_inherits_from_kind_default() -> None:
    h200 = load_calibration("default-h200_sxm")
    gpu = load_calibration("default-gpu")
    assert h200.entry("matmul", "fp8").best == pytest.approx(0.734)
    assert h200.entry("matmul", "bf16").curve == gpu.entry("matmul", "bf16").curve  # curve inherited
    assert h200.launch_overhead == gpu.launch_overhead
    assert h200.entry("norm", "bf16").best == pytest.approx(0.835)  # memory-bound classes use default


def test_default_calibration_prefers_the_device_file() -> None:
    assert default_calibration("h100_sxm", "gpu").name == "default-h100_sxm"
    assert default_calibration("no_such_gpu", "gpu").name == "default-gpu"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cal.yaml"
    path.write_text(text)
    return path


HEAD = "schema: hwsim.calibration/1\napplies_to: {kind: gpu}\nsources: [test]\nlaunch_overhead: 5 us\n"


def test_every_problem_in_a_file_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD + "efficiency:\n  matmull: {default: {best: 0.5}}\n"
        "  default: {default: {best: 2, curve: [[5, 0.5]]}}\n",
    )
    with pytest.raises(InputError) as info:
        load_calibration(path)
    lines = str(info.value).splitlines()
    expected = "an op class, <class>_bwd, matmul_memory, attention_memory or default"
    assert any(
        f'efficiency.matmull: expected {expected}, got "matmull" (did you mean "matmul"?)' in line
        for line in lines
    )
    assert any(
        "efficiency.default.default.best: expected a number between 1e-06 and 1, got 2" in line
        for line in lines
    )
    assert any(
        'efficiency.default.default.curve[0]: expected a time like "2 us", got 5 (a bare number has no unit)'
        in line
        for line in lines
    )


def test_a_calibration_without_a_default_entry_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "efficiency:\n  matmul: {default: {best: 0.5}}\n")
    with pytest.raises(InputError, match=r"efficiency.default: expected an efficiency entry"):
        load_calibration(path)


def test_unknown_calibration_stem_names_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"--calibration: expected a calibration file or stem, got \"nope\""):
        load_calibration("nope")


def test_curve_values_are_finite() -> None:
    cal = load_calibration("default-gpu")
    entry = cal.entry("matmul", "bf16")
    for x in (1e-9, 1e-6, 1e-3, 1.0):
        assert 0 < entry(x) <= 1 and math.isfinite(entry(x))


def test_eager_overhead_and_unfused_ops_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD + "eager_overhead: {train: 9 us, inference: 6 us}\n"
        "unfused_ops: [hwsim.rms_norm.default]\n"
        "efficiency:\n  attention_bwd: {default: {best: 0.3}}\n  default: {default: {best: 0.8}}\n",
    )
    cal = load_calibration(path)
    assert cal.statistic == "min"  # a hand-written file describes best-case times unless it says otherwise
    assert cal.eager_overhead_s("train") == pytest.approx(9e-6)
    assert cal.eager_overhead_s("prefill") == cal.eager_overhead_s("decode") == pytest.approx(6e-6)
    assert cal.unfused_ops == {"hwsim.rms_norm.default"}
    assert cal.variant("attention", "bwd", "bf16", "attention").best == 0.3
    assert cal.variant("matmul", "memory", "bf16", "default").best == 0.8  # no matmul_memory: default


def test_bad_eager_overhead_and_unknown_unfused_op_are_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD + "eager_overhead: {training: 9 us, inference: 6}\n"
        "unfused_ops: [hwsim.rms_norm]\n"
        "efficiency:\n  default: {default: {best: 0.8}}\n",
    )
    with pytest.raises(InputError) as info:
        load_calibration(path)
    text = str(info.value)
    assert 'eager_overhead.training: expected a known key, got "training" (did you mean "train"?)' in text
    assert 'eager_overhead.inference: expected a time like "2 us", got 6' in text
    assert (
        'unfused_ops[0]: expected a custom op hwsim can cost as its passes, got "hwsim.rms_norm" '
        '(did you mean "hwsim.rms_norm.default"?)' in text
    )


def test_statistic_is_read_and_a_bad_one_is_named(tmp_path: Path) -> None:
    body = "efficiency:\n  default: {default: {best: 0.8}}\n"
    assert load_calibration(write(tmp_path, HEAD + "statistic: median\n" + body)).statistic == "median"
    with pytest.raises(InputError) as info:
        load_calibration(write(tmp_path, HEAD + "statistic: mean\n" + body))
    assert 'statistic: expected one of min, median, got "mean"' in str(info.value)


def test_op_entries_are_read_and_an_unknown_key_is_named(tmp_path: Path) -> None:
    body = "efficiency:\n  default: {default: {best: 0.8}}\n"
    pointwise = 'op_entries:\n  "aten.gelu.default[tanh]": {default: {best: 0.05}, bf16: {best: 0.1}}\n'
    cal = load_calibration(write(tmp_path, HEAD + pointwise + body))
    assert cal.op_entry("aten.gelu.default[tanh]", "fp32").best == 0.05
    assert cal.op_entry("aten.gelu.default[tanh]", "bf16").best == 0.1
    assert cal.op_entry("aten.silu.default", "fp32") is None
    unknown = 'op_entries:\n  "aten.gelu[tanh]": {default: {best: 0.05}}\n'
    with pytest.raises(InputError) as info:
        load_calibration(write(tmp_path, HEAD + unknown + body))
    assert (
        "op_entries.aten.gelu[tanh]: expected an op key (hwsim.ir.OP_ENTRY_KEYS), "
        'got "aten.gelu[tanh]" (did you mean "aten.gelu.default[tanh]"?)' in str(info.value)
    )


def test_residency_is_read_and_bad_pairs_are_named(tmp_path: Path) -> None:
    body = "efficiency:\n  default: {default: {best: 0.8}}\n"
    cal = load_calibration(write(tmp_path, HEAD + "residency: [[8 MiB, 0.5], [128 MiB, 1]]\n" + body))
    assert cal.residency is not None and cal.residency(8 * 2**20) == pytest.approx(0.5)
    assert cal.residency(2**30) == 1.0 and load_calibration(write(tmp_path, HEAD + body)).residency is None
    with pytest.raises(InputError) as info:
        load_calibration(write(tmp_path, HEAD + "residency: [[8, 0.5], [16 MiB, 1.5]]\n" + body))
    text = str(info.value)
    assert 'residency[0]: expected a pair ["32 MiB", factor in (0, 1]], got [8, 0.5]' in text
    assert "residency[1]: expected a pair [\"32 MiB\", factor in (0, 1]], got ['16 MiB', 1.5]" in text


def test_host_cold_is_read_interpolated_in_log_bytes_and_bad_entries_are_named(tmp_path: Path) -> None:
    body = "efficiency:\n  default: {default: {best: 0.5}}\n"
    text = "host_cold:\n  op_bytes: 64 KiB\n  aten: [[1 MiB, 0 s], [4 MiB, 10 us]]\n"
    text += '  "hwsim.rms_norm.default": [[1 MiB, 50 us]]\n'
    cold = load_calibration(write(tmp_path, HEAD + text + body)).host_cold
    assert cold is not None and cold.keys() == ("aten", "hwsim.rms_norm.default")
    assert cold.op_bytes == 64 * 2**10
    at = np.array([2**19, 2 * 2**20, 2**30])  # below, halfway in log(bytes), beyond
    assert cold.many("aten", at) == pytest.approx([0.0, 5e-6, 10e-6])
    assert cold.many("aten.mul.Tensor", at) == pytest.approx([0.0, 5e-6, 10e-6])  # no curve: aten's
    assert cold.many("hwsim.rms_norm.default", at) == pytest.approx([50e-6] * 3)
    with pytest.raises(InputError) as info:
        bad = "host_cold:\n  op_bytes: -1 kB\n  aten: [[1 MiB, -1 us], [0, 2 us]]\n"
        bad += "  hwsim.rmsnorm: [[1 MiB, 1 us]]\n"
        load_calibration(write(tmp_path, HEAD + bad + body))
    text = str(info.value)
    expected = 'expected a pair ["2 MiB", "5 us"] (bytes > 0, a time >= 0)'
    assert f"host_cold.aten[0]: {expected}, got ['1 MiB', '-1 us']" in text
    assert "host_cold.aten[1]: expected a pair" in text
    assert 'host_cold.op_bytes: expected bytes of host state per op, e.g. "48 KiB", got "-1 kB"' in text
    assert "host_cold.hwsim.rmsnorm: expected aten or one of hwsim.rms_norm.default" in text
    with pytest.raises(InputError, match=r"host_cold: expected a mapping \{aten: "):
        load_calibration(write(tmp_path, HEAD + "host_cold: [1 us]\n" + body))


def test_residency_per_row_count_is_interpolated_in_log_rows(tmp_path: Path) -> None:
    body = "efficiency:\n  default: {default: {best: 0.8}}\n"
    per_rows = "residency:\n  1: [[8 MiB, 0.4], [128 MiB, 1]]\n  16: [[8 MiB, 0.8], [128 MiB, 1]]\n"
    cal = load_calibration(write(tmp_path, HEAD + per_rows + body))
    assert cal.residency is not None
    assert cal.residency(8 * 2**20, rows=1) == pytest.approx(0.4)
    assert cal.residency(8 * 2**20, rows=4) == pytest.approx((0.4 * 0.8) ** 0.5)  # halfway in log-log
    assert cal.residency(8 * 2**20, rows=64) == pytest.approx(0.8)  # flat beyond the measured rows
    assert cal.residency(8 * 2**20) == pytest.approx(0.4)  # not a GEMM: the fewest rows' curve
    with pytest.raises(InputError) as info:
        bad = "residency:\n  0: [[8 MiB, 0.4]]\n  2: [[8 MiB, 2]]\n"
        load_calibration(write(tmp_path, HEAD + bad + body))
    text = str(info.value)
    assert "residency.0: expected a GEMM row count (a whole number >= 1), got 0" in text
    assert "residency.2[0]: expected a pair [\"32 MiB\", factor in (0, 1]], got ['8 MiB', 2]" in text
    with pytest.raises(InputError) as info:
        load_calibration(write(tmp_path, HEAD + "residency: 0.5\n" + body))
    expected = 'residency: expected a mapping {rows: [["32 MiB", factor], ...]} or one such list, got 0.5'
    assert expected in str(info.value)


def test_bad_skinny_pairs_are_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD
        + "matmul_skinny: {default: [[0.5, 0.2], [8, 2]]}\nefficiency:\n  default: {default: {best: 0.8}}\n",
    )
    with pytest.raises(InputError) as info:
        load_calibration(path)
    expected = "expected a pair [rows (a whole number >= 1), factor in (0, 1]]"
    assert f"matmul_skinny.default[0]: {expected}, got [0.5, 0.2]" in str(info.value)
    assert f"matmul_skinny.default[1]: {expected}, got [8, 2]" in str(info.value)


def test_attention_size_is_read_and_a_bad_one_is_named(tmp_path: Path) -> None:
    body = "efficiency:\n  default: {default: {best: 0.8}}\n"
    assert load_calibration(write(tmp_path, HEAD + body)).attention_size == "op"  # the default
    assert load_calibration(write(tmp_path, HEAD + "attention_size: head\n" + body)).attention_size == "head"
    with pytest.raises(InputError) as info:
        load_calibration(write(tmp_path, HEAD + "attention_size: heads\n" + body))
    assert 'attention_size: expected one of op, head, got "heads"' in str(info.value)


def test_attention_head_factors_are_read_and_bad_entries_are_named(tmp_path: Path) -> None:
    body = "efficiency:\n  default: {default: {best: 0.8}}\n"
    heads = "attention_head:\n  attention: {default: [[32, 0.8], [128, 1.2]]}\n"
    heads += "  attention_bwd: {bf16: [[64, 0.9]]}\n"
    cal = load_calibration(write(tmp_path, HEAD + heads + body))
    assert cal.head_factor("attention", "fp32")(64) == pytest.approx((0.8 * 1.2) ** 0.5)  # halfway, log-log
    assert cal.head_factor("attention_bwd", "bf16")(16) == pytest.approx(0.9)
    assert cal.head_factor("attention_bwd", "fp32") is None  # no default for it
    bad = (
        "attention_head:\n  atention: {default: [[32, 0.8]]}\n  attention: {default: [[0, 0.8], [64, 11]]}\n"
    )
    with pytest.raises(InputError) as info:
        load_calibration(write(tmp_path, HEAD + bad + body))
    text = str(info.value)
    assert 'attention_head.atention: expected attention or attention_bwd, got "atention"' in text
    expected = "expected a pair [head size (a whole number >= 1), factor in (0, 10]]"
    assert f"attention_head.attention.default[0]: {expected}, got [0, 0.8]" in text
    assert f"attention_head.attention.default[1]: {expected}, got [64, 11]" in text
