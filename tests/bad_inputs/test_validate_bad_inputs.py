"""`hwsim validate` bad inputs: each test states the exact line the user sees and the exit code.

Every one of them fails before anything is measured.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hwsim.calibrate.device import describe_host, host_stem
from hwsim.cli import main

DEVICE = """\
schema: hwsim.device/1
extends: cpu_host
description: "test host (measured)"
kind: cpu
vendor: test
measured: true
compute: {vector: {fp32: 100 GFLOP/s}}
memory: {capacity: 16 GiB, bandwidth: 10 GB/s}
sources: ["test"]
"""
CALIBRATION = """\
schema: hwsim.calibration/1
applies_to: {{kind: {kind}, device: {device}}}
fitted: true
threads: {threads}
fitted_on: {{host: {host}}}
launch_overhead: {overhead}
efficiency: {{default: {{default: {{best: 0.5}}}}}}
sources: ["test"]
"""
HOST = describe_host("cpu").cpu_model


def calibration(kind: str = "cpu", device: str = "box", threads: int = 1, host: str = HOST,
                overhead: str = '"2 us"') -> str:  # fmt: skip
    return CALIBRATION.format(
        kind=kind, device=device, threads=threads, host=json.dumps(host), overhead=overhead
    )


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working folder, with box.yaml (a measured CPU device file); errors name files relatively."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "box.yaml").write_text(DEVICE)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["validate", "llama-tiny-decode", "--set", "model.layers=1", *args])
    captured = capsys.readouterr()
    assert not Path("reports").exists() or not any(Path("reports").rglob("*.csv"))  # nothing was measured
    return code, captured.err.splitlines()


def with_cal(files: Path, capsys: pytest.CaptureFixture[str], text: str, *args: str) -> tuple[int, list[str]]:
    (files / "cal.yaml").write_text(text)
    return run(capsys, "--system", "box.yaml", "--calibration", "cal.yaml", *args)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_cuda_without_a_gpu(capsys: pytest.CaptureFixture[str], files: Path) -> None:
    why = (f"this torch {torch.__version__} is a CPU-only build" if torch.version.cuda is None
           else "no GPU is visible")  # fmt: skip
    assert run(capsys, "--device", "cuda") == (1, [
        "<command line>: --device: expected a CUDA GPU, got none "
        f"(torch.cuda.is_available() is False: {why}; use --device cpu)"
    ])  # fmt: skip


def test_no_calibration_of_this_host(capsys: pytest.CaptureFixture[str], files: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    (files / "home" / "hardware_configs" / "devices").mkdir(parents=True)
    monkeypatch.setenv("HWSIM_HOME", str(files / "home"))
    stem = host_stem(describe_host("cpu", 1))
    assert run(capsys) == (1, [
        f"<command line>: --system: expected the measured device file of this host ({stem}), got none "
        "(run `hwsim calibrate --device cpu` first, or pass --system and --calibration)"
    ])  # fmt: skip


def test_no_calibration_for_other_threads(capsys: pytest.CaptureFixture[str], files: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    (files / "home" / "hardware_configs" / "devices").mkdir(parents=True)
    monkeypatch.setenv("HWSIM_HOME", str(files / "home"))
    stem = host_stem(describe_host("cpu", 2))
    assert run(capsys, "--threads", "2") == (1, [
        f"<command line>: --system: expected the measured device file of this host ({stem}), got none "
        "(run `hwsim calibrate --device cpu --threads 2` first, or pass --system and --calibration)"
    ])  # fmt: skip


def test_a_device_file_without_its_fitted_calibration(
    capsys: pytest.CaptureFixture[str], files: Path
) -> None:
    assert run(capsys, "--system", "box.yaml") == (1, [
        "<command line>: --calibration: expected the fitted calibration of box (fitted-box), got none "
        "(run `hwsim calibrate --device cpu` first, or pass --system and --calibration)"
    ])  # fmt: skip


def test_a_gpu_device_for_a_cpu_run(capsys: pytest.CaptureFixture[str], files: Path) -> None:
    assert run(capsys, "--system", "h100_sxm") == (1, [
        "<command line>: --system: expected a cpu device (what --device cpu runs on), got h100_sxm, a gpu"
    ])  # fmt: skip


def test_a_calibration_for_another_kind(capsys: pytest.CaptureFixture[str], files: Path) -> None:
    assert with_cal(files, capsys, calibration(kind="gpu")) == (1, [
        'cal.yaml: applies_to.kind: expected a calibration for a cpu (the device box), got "gpu" '
        "(a calibration applies only to devices of its kind)"
    ])  # fmt: skip


def test_a_calibration_fitted_for_another_device(capsys: pytest.CaptureFixture[str], files: Path) -> None:
    assert with_cal(files, capsys, calibration(device="other_box_1t")) == (1, [
        'cal.yaml: applies_to.device: expected a calibration fitted for the device box, got "other_box_1t" '
        "(a stale calibration: pass the calibration of box)"
    ])  # fmt: skip


def test_a_calibration_fitted_on_another_host(capsys: pytest.CaptureFixture[str], files: Path) -> None:
    other = f"not {HOST}"  # a name no host has, whatever this one is
    assert with_cal(files, capsys, calibration(host=other)) == (1, [
        f'cal.yaml: fitted_on.host: expected a calibration fitted on this host ("{HOST}"), '
        f'got "{other}" '
        "(a stale calibration: run `hwsim calibrate --device cpu` on this host)"
    ])  # fmt: skip


def test_a_calibration_fitted_with_other_threads(capsys: pytest.CaptureFixture[str], files: Path) -> None:
    assert with_cal(files, capsys, calibration(threads=2)) == (1, [
        "cal.yaml: threads: expected a calibration fitted with the 1 thread(s) this run uses, got 2 "
        "(a stale calibration: run `hwsim calibrate --device cpu --threads 1`, or validate with --threads 2)"
    ])  # fmt: skip


def test_a_malformed_calibration(capsys: pytest.CaptureFixture[str], files: Path) -> None:
    assert with_cal(files, capsys, calibration(overhead="2")) == (1, [
        'cal.yaml: launch_overhead: expected a time like "2 us", got 2 (a bare number has no unit)'
    ])  # fmt: skip


def test_too_few_reps_is_a_usage_error(capsys: pytest.CaptureFixture[str], files: Path) -> None:
    assert run(capsys, "--reps", "3") == (2, ["<command line>: --reps: expected a whole number >= 10, got 3"])


def test_zero_rounds_is_a_usage_error(capsys: pytest.CaptureFixture[str], files: Path) -> None:
    expected = "<command line>: --rounds: expected a whole number >= 1, got 0"
    assert run(capsys, "--rounds", "0") == (2, [expected])


def test_negative_settle_is_a_usage_error(capsys: pytest.CaptureFixture[str], files: Path) -> None:
    expected = "<command line>: --settle: expected a number >= 0, got -5.0"
    assert run(capsys, "--settle", "-5") == (2, [expected])


def test_threads_below_one_is_a_usage_error(capsys: pytest.CaptureFixture[str], files: Path) -> None:
    assert run(capsys, "--threads", "0") == (
        2,
        ["<command line>: --threads: expected a whole number >= 1, got 0"],
    )
