"""hwsim validate on CUDA: per-op CUDA-event timing, the GPU's fused kernels matched to the graph, reports.

Skipped without CUDA (tests/gpu/conftest.py). A one-block tiny model and a quick calibration keep the
file to seconds on an H200; nothing asserts a time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwsim.calibrate.device import describe_host, host_stem
from hwsim.calibrate.measure import measure
from hwsim.calibrate.validate import run_validation
from hwsim.cli import main
from hwsim.workload import load_workload

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(device file, calibration) from a quick CUDA calibration of this GPU."""
    out = tmp_path_factory.mktemp("cal")
    assert (
        main(["calibrate", "--device", "cuda", "--quick", "--no-collectives", "-o", str(out / "cal.yaml")])
        == 0
    )
    return out / f"{host_stem(describe_host('cuda'))}.yaml", out / "cal.yaml"


def test_cuda_measurement_times_every_op(tmp_path: Path) -> None:
    workload = load_workload("llama-tiny-train", ["model.layers=1", "task.dtype=bf16"])
    m = measure(workload, tmp_path, device="cuda", reps=3)
    assert m.device == "cuda" and m.step_status == "ok" and 0 < m.step_min_s <= m.step_median_s
    assert 0 < m.floor_min_s and m.ops_sum_min_s > 0
    # an op that launches no kernel can read 0 between its two events
    assert all(o.status == "ok" and 0 <= o.min_s <= o.median_s for o in m.ops), [
        o for o in m.ops if o.status != "ok"
    ]
    assert {o.phase for o in m.ops} == {"fwd", "bwd", "optim"}
    assert any("attention" in o.target for o in m.ops)


def test_cuda_validation_matches_the_graph(calibrated: tuple[Path, Path], tmp_path: Path) -> None:
    device_file, calibration = calibrated
    overrides = ("model.layers=1", "task.dtype=bf16")
    v = run_validation("llama-tiny-train", overrides=overrides, device="cuda", system=str(device_file),
                       calibration=str(calibration), reps=3, folder=tmp_path)  # fmt: skip
    assert v.launch_mode == "async" and v.measured_step_s > 0 and v.estimated_step_s > 0
    assert len(v.of("matched")) > 80 and not v.of("failed")
    assert any(c.op_class == "attention" for c in v.of("matched")), (
        "the GPU's flash kernel matched the graph's"
    )


def test_cuda_cli_json(
    calibrated: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device_file, calibration = calibrated
    args = ["validate", "llama-tiny-decode", "--device", "cuda", "--set", "model.layers=1", "--system",
            str(device_file), "--calibration", str(calibration), "--json", "-o", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (
        doc["schema"] == "hwsim.validation/1"
        and doc["device"] == "cuda"
        and doc["end_to_end"]["measured_s"] > 0
    )
