"""hwsim calibrate on a CUDA GPU: CUDA-event timing, fused flash attention, NCCL, and the fitted files.

Skipped without CUDA (tests/gpu/conftest.py). Sizes are small: the whole file runs in seconds on an H200.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hwsim.calibrate.collectives import COLLECTIVES, run_collectives
from hwsim.calibrate.device import describe_host, host_stem, resolve_device
from hwsim.calibrate.kernels import Bench
from hwsim.calibrate.microbench import run_sweep, time_calls
from hwsim.cli import main
from hwsim.cost.calibration import load_calibration
from hwsim.hardware.loader import load_system

pytestmark = pytest.mark.gpu


def test_resolve_and_describe_cuda() -> None:
    assert resolve_device("cuda") == "cuda"
    host = describe_host("cuda")
    assert host.gpu_name and host.gpu_count >= 1 and host.gpu_memory_bytes > 0
    assert host_stem(host) and not host_stem(host).endswith("_1t")


def test_cuda_event_timing() -> None:
    a = torch.randn(1024, 1024, device="cuda", dtype=torch.bfloat16)
    best, median, calls = time_calls(lambda: a @ a, device="cuda", target_s=1e-4)
    assert 0 < best <= median and calls >= 1


def test_cuda_sweep_records_the_unsupported_and_measures_the_rest(tmp_path: Path) -> None:
    benches = [
        Bench(kind="launch", dtype="fp32", shape=(1,)),
        Bench(kind="gemm", dtype="bf16", shape=(1024, 1024, 1024)),
        Bench(kind="gemm", dtype="tf32", shape=(1024, 1024, 1024)),
        Bench(kind="attention", dtype="fp32", shape=(1, 8, 512, 128)),  # the flash kernel has no fp32
        Bench(kind="attention", dtype="bf16", shape=(1, 8, 512, 128)),
        *(
            Bench(kind=k, dtype="bf16", shape=(256, 4096))
            for k in ("copy", "add", "softmax", "layer_norm", "rms_norm")
        ),
    ]
    result = run_sweep(benches, tmp_path / "micro.csv", device="cuda", target_s=1e-4)
    status = {(r["kind"], r["dtype"]): r["status"] for r in result.rows}
    assert status.pop(("attention", "fp32")) == "failed"
    assert set(status.values()) == {"ok"}
    assert not torch.backends.cuda.matmul.allow_tf32  # restored after the tf32 row


def test_quick_cuda_calibration_files(tmp_path: Path) -> None:
    out = tmp_path / "cal.yaml"
    assert main(["calibrate", "--device", "cuda", "--quick", "--no-collectives", "-o", str(out)]) == 0
    cal = load_calibration(out)
    assert cal.fitted and cal.applies_to_kind == "gpu" and cal.meta["gpu"]
    stem = host_stem(describe_host("cuda"))
    device = load_system(tmp_path / f"{stem}.yaml")
    assert device.kind == "gpu" and device.measured and "bf16" in device.matrix_flops


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="NCCL needs two GPUs")
def test_nccl_collectives(tmp_path: Path) -> None:
    rows = run_collectives(tmp_path / "collectives.csv", device="cuda", sizes=[1 << 20])
    assert [r["collective"] for r in rows] == list(COLLECTIVES)
    assert {r["backend"] for r in rows} == {"nccl"} and {r["status"] for r in rows} == {"ok"}
