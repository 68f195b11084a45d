"""hwsim.calibrate.microbench and results: formulas, row structure, failures recorded, resume after a kill."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hwsim.calibrate.host_cold import HOST_COLD_KINDS
from hwsim.calibrate.kernels import KERNELS, Bench, Kernel
from hwsim.calibrate.microbench import RESIDENCY_MIB, default_sweep, residency_mib, run_sweep, time_calls
from hwsim.calibrate.results import MICRO, RowWriter, read_rows


def test_gemm_counts_are_2mnk_and_the_three_matrices() -> None:
    flop, nbytes = KERNELS["gemm"].counts((2, 3, 4), 4)
    assert flop == 2 * 2 * 3 * 4
    assert nbytes == (2 * 4 + 4 * 3 + 2 * 3) * 4


def test_causal_attention_flop_counts_the_unmasked_pairs() -> None:
    b, h, s, d = 2, 3, 5, 8
    pairs = sum(1 for q in range(s) for k in range(s) if k <= q)  # key <= query
    flop, nbytes = KERNELS["attention"].counts((b, h, s, d), 2)
    assert flop == 4 * b * h * d * pairs == 4 * b * h * s * s * d / 2 + 2 * b * h * s * d
    assert nbytes == 4 * b * h * s * d * 2


def test_memory_kernel_bytes() -> None:
    assert KERNELS["copy"].counts((4, 8), 4) == (0.0, 2 * 32 * 4)
    assert KERNELS["add"].counts((4, 8), 2) == (32.0, 3 * 32 * 2)
    assert KERNELS["layer_norm"].counts((4, 8), 4)[1] == (2 * 32 + 2 * 8) * 4
    assert KERNELS["rms_norm"].counts((4, 8), 4)[1] == (2 * 32 + 8) * 4


def test_time_calls_repeats_at_least_ten_times() -> None:
    calls = []
    best, median, per_rep = time_calls(lambda: calls.append(1), reps=3, warmup=1, target_s=0.0)
    assert 0 < best <= median
    assert per_rep == 1
    assert len(calls) == 1 + 1 + 10  # warm-up, probe, MIN_REPS repetitions


def test_sweeps_cover_every_kind_and_have_unique_keys() -> None:
    for device in ("cpu", "cuda"):
        for quick in (True, False):
            benches = default_sweep(device, quick=quick)
            # a GPU's L2 is no model's home; a GPU's GEMMs do not stream through the host's caches
            cpu_only = set() if device == "cpu" else {"residency", *HOST_COLD_KINDS}
            assert {b.kind for b in benches} == set(KERNELS) - cpu_only
            assert len({b.key for b in benches}) == len(benches)


def test_residency_sizes_are_unique_whatever_the_hosts_cache() -> None:
    # the size past the LLC is 1.5 x the LLC, at least 32 MiB (rotate_bytes): a 16 MiB LLC gives 32 MiB
    for past_llc in (32, 48, 256, 450, 1536):
        sizes = residency_mib(past_llc)
        assert len(set(sizes)) == len(sizes) and past_llc in sizes and set(RESIDENCY_MIB) <= set(sizes)


def test_quick_sweep_rows(tmp_path: Path) -> None:
    csv_path = tmp_path / "micro.csv"
    benches = [b for b in default_sweep("cpu", quick=True) if b.shape != (16384, 1024)]
    result = run_sweep(benches, csv_path, target_s=1e-4)
    assert result.measured == len(benches) and result.skipped == 0 and result.failed == 0
    assert result.unresolved == sum(r["status"] == "unresolved" for r in result.rows)
    header = csv_path.read_text().splitlines()[0]
    assert header == ",".join(MICRO.columns)
    for row in result.rows:
        if row["kind"] in HOST_COLD_KINDS:  # a difference of two times: resolved (> 0) or unresolved
            assert row["bytes"] > 0 and row["status"] in ("ok", "unresolved")
            if row["status"] == "ok":
                assert 0 < row["min_s"] <= row["median_s"] and row["error"] == ""
            else:
                assert math.isnan(row["min_s"]) and math.isnan(row["median_s"])
                assert row["error"].startswith("unresolved: in-step ") and "spread" in row["error"]
            continue
        assert row["status"] == "ok" and row["error"] == ""
        assert 0 < row["min_s"] <= row["median_s"]
        assert row["reps"] >= 10 and row["calls"] >= 1
        if row["kind"] == "rms_norm":  # torch 2.13 runs F.rms_norm on the CPU as six ATen ops
            assert row["op_class"] == "norm as 6 ATen ops"
        else:
            assert row["op_class"] == KERNELS[row["kind"]].op_class
    again = run_sweep(benches, csv_path)
    assert (again.measured, again.skipped) == (0, len(benches))


def _boom(shape, dtype, device):
    raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore text")


def test_a_failing_op_is_recorded_and_the_rest_continue(tmp_path: Path) -> None:
    kernels = dict(KERNELS, boom=Kernel(op_class="elementwise", counts=lambda s, e: (1.0, 2.0), build=_boom))
    benches = [
        Bench(kind="copy", dtype="fp32", shape=(1, 64)),
        Bench(kind="boom", dtype="fp32", shape=(8,)),
        Bench(kind="gemm", dtype="fp32", shape=(-1, 4, 4)),  # torch refuses a negative dimension
        Bench(kind="add", dtype="fp32", shape=(1, 64)),
    ]
    result = run_sweep(benches, tmp_path / "micro.csv", kernels=kernels, target_s=1e-5)
    assert result.measured == 4 and result.failed == 2
    by_kind = {r["kind"]: r for r in result.rows}
    assert by_kind["boom"]["status"] == "failed"
    assert by_kind["boom"]["error"] == "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"
    assert by_kind["gemm"]["status"] == "failed" and by_kind["gemm"]["error"].startswith("RuntimeError: ")
    assert by_kind["copy"]["status"] == by_kind["add"]["status"] == "ok"
    # failed rows count as measured: a rerun does not retry them
    assert run_sweep(benches, tmp_path / "micro.csv", kernels=kernels).measured == 0


def nap(build) -> dict[str, Kernel]:
    """A kernel set with one test kind, "nap", built by `build(shape, dtype, device)`."""
    return {"nap": Kernel(op_class="elementwise", counts=lambda s, e: (0.0, 1.0), build=build)}


def _idle(shape, dtype, device):
    return lambda: None


def _interrupt_at_three(shape, dtype, device):
    if shape == (3,):
        raise KeyboardInterrupt
    return lambda: None


def test_keyboard_interrupt_keeps_the_rows_written(tmp_path: Path) -> None:
    csv_path = tmp_path / "micro.csv"
    benches = [Bench(kind="nap", dtype="fp32", shape=(i,)) for i in range(1, 6)]
    with pytest.raises(KeyboardInterrupt):
        run_sweep(benches, csv_path, kernels=nap(_interrupt_at_three), target_s=0.0)
    assert [r["shape"] for r in read_rows(csv_path, MICRO)] == ["1", "2"]
    result = run_sweep(benches, csv_path, kernels=nap(_idle), target_s=0.0)
    assert (result.measured, result.skipped) == (3, 2)
    assert [r["shape"] for r in result.rows] == ["1", "2", "3", "4", "5"]


def test_a_torn_last_line_is_dropped_and_measured_again(tmp_path: Path) -> None:
    csv_path = tmp_path / "micro.csv"
    with RowWriter(csv_path, MICRO) as writer:
        row = dict(kind="copy", op_class="copy", dtype="fp32", shape="1x64", flop=0.0, bytes=512.0,
                   min_s=1e-6, median_s=2e-6, reps=10, calls=5, status="ok")  # fmt: skip
        writer.append(row)
    with csv_path.open("a") as f:
        f.write("add,elementwise,fp32,1x6")  # a kill in the middle of a write
    rows = read_rows(csv_path, MICRO)
    assert [r["kind"] for r in rows] == ["copy"]
    assert csv_path.read_text().endswith("\n")


_SLOW_SWEEP = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from hwsim.calibrate.kernels import Bench, Kernel
    from hwsim.calibrate.microbench import run_sweep
    nap = Kernel(op_class="elementwise", counts=lambda s, e: (0.0, 1.0),
                 build=lambda s, d, v: (lambda: time.sleep(0.01)))
    benches = [Bench(kind="nap", dtype="fp32", shape=(i,)) for i in range(1, 41)]
    run_sweep(benches, Path(sys.argv[1]), warmup=1, target_s=0.0, kernels={"nap": nap})
    """
)


def test_a_killed_sweep_resumes_without_duplicates(tmp_path: Path) -> None:
    csv_path = tmp_path / "micro.csv"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_SWEEP, str(csv_path)], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if csv_path.exists() and csv_path.read_text().count("\n") >= 4:  # header + 3 rows
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    complete = csv_path.read_text().splitlines(keepends=True)
    complete = [line for line in complete if line.endswith("\n")]
    kept = len(complete) - 1
    assert 3 <= kept < 40, "the sweep should have been killed part-way"

    benches = [Bench(kind="nap", dtype="fp32", shape=(i,)) for i in range(1, 41)]
    result = run_sweep(benches, csv_path, warmup=1, target_s=0.0, kernels=nap(_idle))
    assert (result.skipped, result.measured) == (kept, 40 - kept)
    lines = csv_path.read_text().splitlines(keepends=True)
    assert lines[: len(complete)] == complete  # the rows written before the kill are untouched
    keys = [MICRO.row_key(r) for r in result.rows]
    assert len(keys) == len(set(keys)) == 40


def test_counts_are_written_exactly_and_times_to_six_digits(tmp_path: Path) -> None:
    csv_path = tmp_path / "micro.csv"
    flop, nbytes = KERNELS["gemm"].counts((16384, 16384, 16384), 2)
    with RowWriter(csv_path, MICRO) as writer:
        row = dict(kind="gemm", op_class="matmul", dtype="bf16", shape="16384^3", flop=flop, bytes=nbytes,
                   min_s=0.0123456789, median_s=0.0125, reps=10, calls=1, status="ok")  # fmt: skip
        writer.append(row)
    (row,) = read_rows(csv_path, MICRO)
    assert row["flop"] == 2 * 16384**3 and row["bytes"] == 3 * 16384**2 * 2
    assert row["min_s"] == 0.0123457


def test_rounds_measure_every_key_again_and_the_fit_keeps_the_fastest(tmp_path: Path) -> None:
    from hwsim.calibrate.results import fastest_per_key

    csv_path = tmp_path / "micro.csv"
    benches = [Bench(kind="nap", dtype="fp32", shape=(i,)) for i in range(1, 4)]
    first = run_sweep(benches, csv_path, kernels=nap(_idle), target_s=0.0, rounds=1)
    assert first.measured == 3
    result = run_sweep(benches, csv_path, kernels=nap(_idle), target_s=0.0, rounds=2)
    assert (result.measured, result.skipped) == (3, 3)  # round 1 resumed from the file
    assert [r["shape"] for r in result.rows] == ["1", "2", "3", "1", "2", "3"]
    assert run_sweep(benches, csv_path, kernels=nap(_idle), rounds=2).measured == 0
    fastest = fastest_per_key(result.rows, MICRO)
    assert [r["shape"] for r in fastest] == ["1", "2", "3"]
    for row in fastest:
        same = [r["min_s"] for r in result.rows if r["shape"] == row["shape"]]
        assert row["min_s"] == min(same)
