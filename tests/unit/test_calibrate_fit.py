"""hwsim.calibrate.fit: isotonic curves, roofs from hand-made rows, and files the loaders read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwsim.calibrate.device import HostInfo
from hwsim.calibrate.fit import fit_rows, isotonic
from hwsim.calibrate.fit_files import write_fit
from hwsim.calibrate.results import MICRO, RowWriter
from hwsim.cost.calibration import load_calibration
from hwsim.errors import InputError
from hwsim.hardware.loader import load_system

CPU_HOST = HostInfo(device="cpu", cpu_model="Test CPU 9000", cpu_vendor="Intel", cpu_count=2, threads=1,
                    memory_bytes=16 * 2**30, llc_bytes=0, torch_version="2.13.0+cpu", python_version="3.11",
                    platform="Linux",
                    measured_at="2026-01-02T03:04:05+00:00")  # fmt: skip
GPU_HOST = HostInfo(device="cuda", cpu_model="Test CPU 9000", cpu_vendor="AMD", cpu_count=16, threads=1,
                    memory_bytes=128 * 2**30, llc_bytes=0, torch_version="2.13.0+cu128",
                    python_version="3.11",
                    platform="Linux", gpu_name="NVIDIA H200", gpu_count=1, gpu_memory_bytes=141 * 10**9,
                    gpu_l2_bytes=50 * 2**20, driver="570.1", cuda_version="12.8",
                    measured_at="2026-01-02T03:04:05+00:00")  # fmt: skip


def row(
    kind: str,
    op_class: str,
    shape: str,
    flop: float,
    nbytes: float,
    median_s: float,
    dtype: str = "fp32",
    status: str = "ok",
) -> dict:
    """A microbenchmark row whose median is `median_s` (what the fit uses by default) and min 10% less."""
    return dict(kind=kind, op_class=op_class, dtype=dtype, shape=shape, flop=flop, bytes=nbytes,
                min_s=median_s / 1.1, median_s=median_s, reps=10, calls=1, status=status,
                error="")  # fmt: skip


US = 1e-6
# Launch overhead 1 us; peak 100 GFLOP/s (fp32); copy bandwidth 10 GB/s.
ROWS = [
    row("launch", "elementwise", "1", 1.0, 12.0, 1 * US),
    row("gemm", "matmul", "1000x1000x1000", 2e9, 12e6, 0.02),
    row("gemm", "matmul", "100x100x100", 2e6, 1.2e5, 41 * US),  # ideal 20 us, net 40 us: 0.5
    row("gemm", "matmul", "10x10x10", 2e3, 1.2e3, 1.5 * US),  # under 2x the overhead: left out
    row("gemm", "matmul", "1x4096x4096", 3.4e7, 6.7e7, 1 * US + 6.7e-3 / 0.67),  # memory-bound: matmul_memory
    row("gemm", "matmul", "8x2048x2048", 6.7e7, 1.69e7, 1 * US + 6.7e-4 / 0.25),  # skinny: 0.25 of best
    row("gemm", "matmul", "512x2048x2048", 4.295e9, 2.1e7, 1 * US + 4.295e-2),  # skinny-ish: 1.0
    row("copy", "copy", "1000x125000", 0.0, 1e9, 0.1),
    row("copy", "copy", "1x1250", 0.0, 1e4, 3 * US),  # ideal 1 us, net 2 us: 0.5
    # add: achieved 0.3, 0.9 (a cache), 0.6, 0.75 (the largest) -> best 0.75, y 0.4, 1.2, 0.8, 1
    row("add", "elementwise", "a", 1.0, 1e6, 1 * US + 100 * US / 0.3),
    row("add", "elementwise", "b", 1.0, 1e7, 1 * US + 1e-3 / 0.9),
    row("add", "elementwise", "c", 1.0, 1e8, 1 * US + 1e-2 / 0.6),
    row("add", "elementwise", "d", 1.0, 3e8, 1 * US + 3e-2 / 0.75),
    row("attention", "attention", "1x1x512x64", 2e8, 1e6, 1 * US + 2e-3 / 0.25),  # ideal 2 ms: 0.25
    row("attention", "attention", "1x1x512x32", 2e8, 1e6, 1 * US + 2e-3 / 0.2),  # head 32: 0.2 at 2 ms
    row("attention_bwd", "attention", "1x1x512x64", 5e8, 2e6, 1 * US + 5e-3 / 0.2),  # ideal 5 ms: 0.2
    row("attention_decode", "attention", "8x8x512x64", 8e6, 1e7, 1 * US + 1e-3 / 0.5),  # bytes: 1 ms, 0.5
    row("eager_train", "host", "16x8", 0.0, 0.0, 11 * US),  # per op: 10 us beyond the launch
    row("eager_infer", "host", "16x8", 0.0, 0.0, 7 * US),
    row("softmax", "softmax", "x", 5.0, 1e8, 1.0, status="failed"),
    # tanh GELU: 2 bytes per element moved at 0.05 of the bandwidth (its own entry, not elementwise)
    row("gelu_tanh", "elementwise", "1000x1000", 9e6, 8e6, 1 * US + 8e-4 / 0.05),
    row("silu", "elementwise as 2 ATen ops", "1000x1000", 4e6, 8e6, 1e-3),  # not one kernel: left out
    # the zoo's RMS norm op: 30 us per call on one row (its Python passes), 0.5 of the bandwidth when large
    row("rms_norm_op", "norm", "1x64", 256.0, 772.0, 31 * US),
    row("rms_norm_op", "norm", "4096x1024", 1.7e7, 3.4e7, 1 * US + 3.4e-3 / 0.5),
    # a decode GEMM cycling 8 MiB, 64 MiB, 128 MiB (noise: faster than 64) and past the LLC
    row("residency", "matmul", "8x1024x1024x8", 1.7e7, 4.2e6, 1e-4),
    row("residency", "matmul", "8x1024x1024x64", 1.7e7, 4.2e6, 1.6e-4),
    row("residency", "matmul", "8x1024x1024x128", 1.7e7, 4.2e6, 1.4e-4),
    row("residency", "matmul", "8x1024x1024x450", 1.7e7, 4.2e6, 2e-4),
    # one row: the GEMV's own curve, 0.4 at 8 MiB (a curve per row count)
    row("residency", "matmul", "1x1024x1024x8", 2.1e6, 4.2e6, 4e-5),
    row("residency", "matmul", "1x1024x1024x450", 2.1e6, 4.2e6, 1e-4),
    # in-step host cost per op over one block's bytes: noise below 0 (unresolved), a dip pooled (isotonic)
    row("host_cold", "host", "32x4x0", 0.0, 3e4, -0.2 * US),
    row("host_cold", "host", "512x4x0", 0.0, 4e6, 6 * US),
    row("host_cold", "host", "1024x4x0", 0.0, 1.6e7, 4 * US),
    row("host_cold_norm", "host", "512x4x0", 0.0, 4e6, 50 * US),
]


def test_isotonic_pools_adjacent_violators() -> None:
    assert isotonic([1.0, 2.0, 3.0]) == [1.0, 2.0, 3.0]
    assert isotonic([0.4, 1.0, 0.8, 1.0]) == pytest.approx([0.4, 0.9, 0.9, 1.0])
    assert isotonic([3.0, 1.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])
    assert isotonic([1.0, 0.0], [3.0, 1.0]) == pytest.approx([0.75, 0.75])


def test_fit_roofs_and_entries() -> None:
    fit = fit_rows(ROWS)
    assert fit.roofs.peaks == {"fp32": 1e11}
    assert fit.roofs.bandwidth == 1e10
    assert fit.roofs.launch_overhead == 1e-6
    assert fit.left_out == {"overhead-dominated": 1, "ran as several ATen ops": 1}
    assert set(fit.op_entries) == {"aten.gelu.default[tanh]", "hwsim.rms_norm.default"}
    norm = fit.op_entries["hwsim.rms_norm.default"]["fp32"]
    assert norm.best == pytest.approx(0.5)  # from the largest row
    small_ideal, small_fraction = norm.points[0]  # one row: its per-call cost, as a tiny efficiency
    assert small_ideal * 1e10 == pytest.approx(772.0, rel=1e-2)
    assert small_ideal / (norm.best * small_fraction) == pytest.approx(30 * US, rel=1e-2)
    # the reference is the row past the LLC; the 128 MiB row's dip is pooled with 64 MiB (isotonic)
    assert [x / 2**20 for x, _ in fit.residency[8]] == [8, 64, 128, 450]
    assert [y for _, y in fit.residency[8]] == pytest.approx([0.5, 0.75, 0.75, 1.0])
    assert fit.residency[1] == ((8 * 2**20, 0.4), (450 * 2**20, 1.0))
    assert fit.op_entries["aten.gelu.default[tanh]"]["fp32"].best == pytest.approx(0.05)
    # every block of 6 ops: nothing tells the ops' host state apart from the bytes, so op_bytes is 0
    assert fit.host_op_bytes == 0.0
    assert fit.host_cold == {"aten": ((4e6, 5 * US), (1.6e7, 5 * US)),
                             "hwsim.rms_norm.default": ((4e6, 50 * US),)}  # fmt: skip
    assert fit.unresolved == {"host_cold fp32 32x4x0": "unresolved: in-step less hot time at or below zero "
                              "(spread 0 s)"}  # fmt: skip
    assert fit.roofs.eager_overhead == pytest.approx({"train": 10 * US, "inference": 6 * US})
    # both head sizes at one ideal time: the curve averages them (0.225), each sits 1/0.9 and 0.8/0.9 off it
    (d32, f32), (d64, f64) = fit.heads["attention"]["fp32"]
    assert (d32, d64) == (32, 64) and f32 == pytest.approx(0.2 / 0.225, rel=1e-2)
    assert f64 == pytest.approx(0.25 / 0.225, rel=1e-2)
    assert "attention_bwd" not in fit.heads  # one head size: nothing to tell apart
    matmul = fit.efficiency["matmul"]["fp32"]
    assert matmul.best == 1.0
    assert [x for x, _ in matmul.points] == pytest.approx([20e-6, 0.02, 0.043])  # written to 3 digits
    assert [y for _, y in matmul.points] == pytest.approx([0.5, 1.0, 1.0])
    assert fit.skinny == {"fp32": ((1, 0.034), (8, 0.25), (512, 1.0))}
    add = fit.efficiency["elementwise"]["fp32"]
    assert add.best == 0.75  # the largest add, not the cache-helped one
    assert [y for _, y in add.points] == pytest.approx([0.4, 1.2, 0.8, 1.0])  # the cache (b) beats DRAM
    assert fit.efficiency["attention"]["fp32"].best == 0.25
    assert fit.efficiency["attention_bwd"]["fp32"].best == pytest.approx(0.2)
    assert fit.efficiency["matmul_memory"]["fp32"].best == pytest.approx(0.67)
    assert fit.efficiency["attention_memory"]["fp32"].best == pytest.approx(0.5)
    assert "softmax" not in fit.efficiency  # failed rows are not fitted


def test_host_cold_fits_the_host_state_per_op_that_orders_the_rows() -> None:
    # 54 ops of no data cost 1.5 us, more than 1 MB streamed in 6 ops (0.5 us), less than 4 MB (2 us):
    # only a host state per op of about 20-80 kB puts the rows in a non-decreasing order
    chain = [
        row("host_cold", "host", "32x4x0", 0.0, 3e4, 0.1 * US),
        row("host_cold", "host", "32x4x48", 0.0, 3e4, 1.5 * US),
        row("host_cold", "host", "256x4x0", 0.0, 1e6, 0.5 * US),
        row("host_cold", "host", "512x4x0", 0.0, 4e6, 2 * US),
        row("host_cold", "host", "1024x4x0", 0.0, 1.6e7, 5 * US),
    ]
    fit = fit_rows(ROWS[:2] + [r for r in ROWS if r["kind"] == "copy"] + chain)
    assert 16 * 2**10 < fit.host_op_bytes < 128 * 2**10
    distances = [d for d, _ in fit.host_cold["aten"]]
    assert distances == sorted(distances) and distances[2] == 3e4 + 54 * fit.host_op_bytes
    times = [t for _, t in fit.host_cold["aten"]]
    assert times == pytest.approx([0.1 * US, 0.5 * US, 1.5 * US, 2 * US, 5 * US])


def test_fit_statistic_chooses_the_column_and_the_round() -> None:
    fastest = fit_rows(ROWS, statistic="min")
    assert fastest.statistic == "min" and fit_rows(ROWS).statistic == "median"
    assert fastest.roofs.peaks["fp32"] == pytest.approx(1.1e11)  # min times are 10% less than medians
    assert fastest.roofs.bandwidth == pytest.approx(1.1e10)
    # Two rounds of one copy: the first has the least min, the second the least median; each
    # statistic keeps its own round.
    rounds = [r for r in ROWS if r["kind"] != "copy" or r["shape"] != "1000x125000"] + [
        {**row("copy", "copy", "1000x125000", 0.0, 1e9, 0.125), "min_s": 0.05},
        row("copy", "copy", "1000x125000", 0.0, 1e9, 0.1),
    ]
    assert fit_rows(rounds).roofs.bandwidth == pytest.approx(1e10)
    assert fit_rows(rounds, statistic="min").roofs.bandwidth == pytest.approx(2e10)
    with pytest.raises(ValueError, match="statistic must be one of min, median"):
        fit_rows(ROWS, statistic="mean")


def test_compute_curves_are_sorted_and_non_decreasing() -> None:
    for key, by_dtype in fit_rows(ROWS).efficiency.items():
        if key not in ("matmul", "attention", "attention_bwd"):
            continue
        for entry in by_dtype.values():
            xs = [x for x, _ in entry.points]
            ys = [y for _, y in entry.points]
            assert xs == sorted(xs) and len(set(xs)) == len(xs)
            assert ys == sorted(ys) and all(0 < y <= 1 for y in ys)


def _write(tmp_path: Path, rows: list[dict], host: HostInfo, stem: str) -> tuple[Path, Path]:
    folder = tmp_path / "m"
    with RowWriter(folder / "micro.csv", MICRO) as writer:
        for r in rows:
            writer.append(r)
    cal, dev = tmp_path / "out" / f"fitted-{stem}.yaml", tmp_path / "out" / f"{stem}.yaml"
    write_fit(folder, host, calibration_path=cal, device_path=dev, command="hwsim calibrate --quick")
    return cal, dev


def test_cpu_files_load_back(tmp_path: Path) -> None:
    cal_path, dev_path = _write(tmp_path, ROWS, CPU_HOST, "test_cpu_9000_1t")
    cal = load_calibration(cal_path)
    assert cal.fitted and cal.threads == 1 and cal.statistic == "median"
    assert cal.attention_size == "head"  # one thread runs the heads one after another
    assert (cal.applies_to_kind, cal.applies_to_device) == ("cpu", "test_cpu_9000_1t")
    assert cal.launch_overhead == pytest.approx(1e-6)
    assert cal.meta["torch"] == "2.13.0+cpu" and cal.meta["command"] == "hwsim calibrate --quick"
    assert cal.entry("matmul", "fp32")(20e-6) == pytest.approx(0.5)
    assert cal.entry("matmul", "fp32")(1.0) == pytest.approx(1.0)
    assert cal.entry("elementwise", "fp32").best == 0.75
    assert cal.entry("reduction", "fp32").best == 0.75  # the default class is the elementwise fit
    assert cal.variant("attention", "bwd", "fp32", "attention").best == pytest.approx(0.2)
    assert cal.variant("matmul", "memory", "fp32", "default").best == pytest.approx(0.67)
    assert cal.skinny("fp32").points == ((1.0, 0.034), (8.0, 0.25), (512.0, 1.0))
    assert cal.eager_overhead_s("train") == pytest.approx(10 * US)
    assert cal.eager_overhead_s("decode") == pytest.approx(6 * US)
    assert cal.unfused_ops == {"hwsim.rms_norm.default", "hwsim.rms_norm_backward.default"}
    assert cal.op_entry("aten.gelu.default[tanh]", "fp32").best == pytest.approx(0.05)
    heads = cal.head_factor("attention", "fp32").points  # written and read back
    assert [d for d, _ in heads] == [32, 64]
    assert [f for _, f in heads] == pytest.approx([0.2 / 0.225, 0.25 / 0.225], rel=1e-2)
    assert cal.residency(8 * 2**20, rows=8) == pytest.approx(0.5)
    assert cal.residency(2**30) == pytest.approx(1.0)
    assert cal.residency(8 * 2**20) == pytest.approx(0.4)  # not a GEMM: the fewest rows' curve
    assert cal.host_cold is not None and cal.host_cold.keys() == ("aten", "hwsim.rms_norm.default")
    assert cal.host_cold.op_bytes == 0.0
    distances = np.array([1e3, 4e6 + 6 * cal.host_cold.op_bytes, 1e9])
    # the unresolved hot row is not fitted: the curve starts at its first resolved row, flat below it
    assert cal.host_cold.many("aten", distances) == pytest.approx([5 * US, 5 * US, 5 * US])
    unresolved = "#   host_cold fp32 32x4x0: unresolved: in-step less hot time at or below zero"
    assert unresolved in cal_path.read_text()
    dev = load_system(dev_path)
    assert dev.kind == "cpu" and dev.measured and dev.vendor == "Intel"
    assert dict(dev.vector_flops) == {"fp32": 1e11} and not dev.matrix_flops
    assert dev.memory_bandwidth == 1e10 and dev.memory_capacity == 16 * 2**30
    assert "extends: cpu_host" in dev_path.read_text()
    assert "hwsim calibrate --quick" in dev.sources[0]


def test_attention_size_head_puts_an_attention_row_at_one_heads_ideal_time() -> None:
    # 2 x 4 heads of the 1 x 1 rows' shape: ideal 16 ms for the op, 2 ms for one head; 0.5 of the peak
    rows = ROWS + [row("attention", "attention", "2x4x512x64", 1.6e9, 8e6, 1 * US + 16e-3 / 0.5)]
    by_op = fit_rows(rows).efficiency["attention"]["fp32"]
    assert [x for x, _ in by_op.points] == pytest.approx([2e-3, 16e-3])
    by_head = fit_rows(rows, attention_size="head")
    entry = by_head.efficiency["attention"]["fp32"]
    assert by_head.attention_size == "head" and entry.best == pytest.approx(0.5)
    assert [x for x, _ in entry.points] == pytest.approx([2e-3])  # one size: the three rows pooled
    assert entry.points[0][1] == pytest.approx((0.25 + 0.2 + 0.5) / 3 / 0.5, rel=1e-2)
    # the backward and decode rows are not attention_size's: 1 x 1 and memory-bound as before
    assert by_head.efficiency["attention_bwd"] == fit_rows(rows).efficiency["attention_bwd"]
    assert by_head.efficiency["attention_memory"] == fit_rows(rows).efficiency["attention_memory"]
    with pytest.raises(ValueError, match="attention_size must be one of op, head"):
        fit_rows(rows, attention_size="slice")


def test_gpu_files_load_back(tmp_path: Path) -> None:
    rows = ROWS + [
        row("gemm", "matmul", "8192x8192x8192", 2 * 8192.0**3, 3 * 8192.0**2 * 2, 1.5e-3, dtype="bf16"),
        row("copy", "copy", "262144x4096", 0.0, 8 * 2.0**30, 2e-3),  # 4.3 TB/s
    ]
    cal_path, dev_path = _write(tmp_path, rows, GPU_HOST, "nvidia_h200")
    dev = load_system(dev_path)
    assert dev.kind == "gpu" and dev.vendor == "NVIDIA" and dev.measured
    assert set(dev.matrix_flops) == {"bf16"} and set(dev.vector_flops) == {"fp32"}
    assert dev.sram == 50 * 2**20
    cal = load_calibration(cal_path)
    assert cal.applies_to_kind == "gpu" and cal.threads is None and cal.meta["driver"] == "570.1"
    assert cal.attention_size == "op"  # a GPU spreads the heads over its SMs
    assert set(cal.efficiency["matmul"]) == {"default", "fp32"}  # on a GPU the default dtype is bf16
    assert cal.entry("matmul", "bf16").curve.points == ((1.5e-3, 1.0),)


def test_no_gemm_is_one_clear_error() -> None:
    rows = [r for r in ROWS if r["kind"] != "gemm"]
    with pytest.raises(InputError) as info:
        fit_rows(rows, where="m/micro.csv")
    assert str(info.value) == (
        "m/micro.csv: expected at least one successful gemm and copy measurement, got no successful gemm row "
        "(rerun hwsim calibrate; see the error column)"
    )
