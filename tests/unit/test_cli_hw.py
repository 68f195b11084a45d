"""`hwsim hw list | show | check` as a user runs them: a subprocess, its exit code and its output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hwsim.hardware.loader import list_catalogue


def hwsim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hwsim", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_check_bad_file_prints_one_line_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "schema: hwsim.device/1\nkind: gpu\nvendor: X\ncompute: {matrix: {bf16: 1 TFLOP/s}}\n"
        "memory: {capacity: 80 GB, bandwidth: 3350}\nsources: [x]\n"
    )
    result = hwsim("hw", "check", str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f'{bad}: memory.bandwidth: expected a byte rate like "3.35 TB/s", got 3350 '
        "(a bare number has no unit)"
    ]
    assert result.stdout == ""


def test_check_mixes_ok_lines_and_problems(tmp_path: Path) -> None:
    good = list_catalogue()[0].path
    result = hwsim("hw", "check", str(good), str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.startswith("ok ") and good.stem in result.stdout
    assert result.stderr.splitlines() == [f"{tmp_path}: expected a YAML file, got a directory"]


def test_check_whole_catalogue_exits_0() -> None:
    paths = [str(e.path) for e in list_catalogue()]
    result = hwsim("hw", "check", *paths)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(paths)
    assert all(line.startswith("ok ") for line in result.stdout.splitlines())


def test_list_exits_0_and_names_the_catalogue() -> None:
    result = hwsim("hw", "list")
    assert result.returncode == 0, result.stderr
    for name in ("h100_sxm", "cpu_host", "dgx_h100", "gb200_nvl72", "tpu_v5p_slice"):
        assert name in result.stdout
    assert "989 TFLOP/s" in result.stdout


def test_show_resolved_exits_0_with_units() -> None:
    result = hwsim("hw", "show", "h100_sxm", "--resolved")
    assert result.returncode == 0, result.stderr
    assert "bf16: 989 TFLOP/s" in result.stdout and "bandwidth: 3.35 TB/s" in result.stdout


def test_show_as_written_and_unknown_name() -> None:
    shown = hwsim("hw", "show", "dgx_h200")
    assert shown.returncode == 0 and "extends: dgx_h100" in shown.stdout
    missing = hwsim("hw", "show", "dgx_h10")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.splitlines() == [
        '<command line>: system: expected a catalogue name or a path to a YAML file, got "dgx_h10" '
        '(no such file or catalogue entry; did you mean "dgx_h100"?)'
    ]


def test_hw_without_action_prints_help_and_exits_2() -> None:
    result = hwsim("hw")
    assert result.returncode == 2 and "list" in result.stdout and "check" in result.stdout


def test_check_validates_calibration_files_too(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[2] / "hardware_configs" / "calibrations" / "default-gpu.yaml"
    good = hwsim("hw", "check", str(shipped))
    assert good.returncode == 0 and "calibration default-gpu for any gpu (published defaults)" in good.stdout
    bad = tmp_path / "cal.yaml"
    bad.write_text(
        "schema: hwsim.calibration/1\napplies_to: {kind: gpu}\nsources: [x]\nlaunch_overhead: 5\n"
        "efficiency: {default: {default: {best: 0.5}}}\n"
    )
    result = hwsim("hw", "check", str(bad))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert 'launch_overhead: expected a time like "2 us", got 5 (a bare number has no unit)' in result.stderr
