"""`hwsim calibrate --quick` end to end: measure, fit, write files the loaders read, and resume on rerun."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from hwsim.calibrate.device import describe_host, host_stem
from hwsim.calibrate.microbench import default_sweep
from hwsim.calibrate.results import COLLECTIVE, read_rows
from hwsim.cli import main
from hwsim.cost.calibration import load_calibration
from hwsim.hardware.loader import load_system
from hwsim.resources import catalogue_dir


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One quick calibration (no collectives: tests/unit/test_calibrate_collectives.py runs those)."""
    out = tmp_path_factory.mktemp("cal") / "out"
    assert main(["calibrate", "--quick", "--no-collectives", "-o", str(out / "cal.yaml")]) == 0
    return out


def test_quick_run_writes_measurements_calibration_and_device(quick_run: Path) -> None:
    stem = host_stem(describe_host("cpu", 1))  # from the host's CPU name: sets, since names sort anywhere
    assert {p.name for p in quick_run.iterdir()} == {"cal.measurements", "cal.yaml", f"{stem}.yaml"}
    assert {p.name for p in (quick_run / "cal.measurements").iterdir()} == {"host.json", "micro.csv"}
    cal = load_calibration(quick_run / "cal.yaml")
    assert cal.fitted and cal.threads == 1 and cal.applies_to_device == stem
    assert {"matmul", "attention", "copy", "elementwise", "softmax", "norm", "default"} <= set(cal.efficiency)
    for key in ("matmul", "attention"):  # compute curves are non-decreasing; memory curves as measured
        for entry in cal.efficiency[key].values():
            ys = [y for _, y in entry.curve.points]
            assert ys == sorted(ys) and all(0 < y <= 1 for y in ys)
    text = (quick_run / "cal.yaml").read_text()
    for mode, kind in (("train", "eager_train"), ("decode", "eager_infer")):  # fitted, or named as unresolved
        assert cal.eager_overhead_s(mode) > 0 or f"#   {kind} fp32 16x8: unresolved" in text
    assert not re.search(r"(?<![\w/.-])-\d", text)  # no negative figure anywhere (hwsim.calibrate.unresolved)
    device = load_system(quick_run / f"{stem}.yaml")
    assert device.measured and device.kind == "cpu" and {"fp32", "bf16"} <= set(device.vector_flops)


def test_rerun_resumes_and_measures_nothing(quick_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (quick_run / "cal.measurements" / "micro.csv").read_text()
    assert main(["calibrate", "--quick", "--no-collectives", "-o", str(quick_run / "cal.yaml")]) == 0
    count = len(default_sweep("cpu", quick=True))
    assert f"0 measured (0 failed), {count} already in the file" in capsys.readouterr().err
    assert (quick_run / "cal.measurements" / "micro.csv").read_text() == before


def test_default_paths(quick_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without -o: measurements under reports/measurements/<stem>/, YAML files into the catalogue."""
    home = tmp_path / "home"
    (home / "hardware_configs" / "devices").mkdir(parents=True)
    (home / "hardware_configs" / "calibrations").mkdir()
    shutil.copy(catalogue_dir() / "devices" / "cpu_host.yaml", home / "hardware_configs" / "devices")
    monkeypatch.setenv("HWSIM_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    stem = host_stem(describe_host("cpu", 1))
    # the measurements of the quick run, where the default paths look: the rerun resumes and measures nothing
    shutil.copytree(quick_run / "cal.measurements", tmp_path / "reports" / "measurements" / stem)
    assert main(["calibrate", "--quick", "--no-collectives"]) == 0
    assert load_calibration(f"fitted-{stem}").applies_to_device == stem
    assert load_system(stem).measured


def test_collectives_run_with_the_command(
    quick_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(quick_run / "cal.measurements", tmp_path / "cal.measurements")  # only collectives are new
    assert main(["calibrate", "--quick", "-o", str(tmp_path / "cal.yaml")]) == 0
    rows = read_rows(tmp_path / "cal.measurements" / "collectives.csv", COLLECTIVE)
    assert len(rows) == 4 * 3 and {r["status"] for r in rows} == {"ok"}
    assert "all_to_all" in capsys.readouterr().err
    assert (
        load_calibration(tmp_path / "cal.yaml")
        .meta["command"]
        .endswith(f"-o {tmp_path / 'cal.yaml'} --quick")
    )


def test_a_new_sweep_in_an_old_folder_records_when_it_started(tmp_path) -> None:  # noqa: ANN001
    import json
    from dataclasses import replace

    from hwsim.calibrate.device import describe_host
    from hwsim.calibrate.results import check_host

    now = describe_host("cpu", 1)
    earlier = replace(now, measured_at="2026-01-01T00:00:00+00:00")
    check_host(tmp_path, earlier)  # the folder's first run (its collectives, say)
    (tmp_path / "micro.csv").write_text("resumed rows\n")
    assert check_host(tmp_path, now, rows_file="micro.csv").measured_at == earlier.measured_at  # resuming
    (tmp_path / "micro.csv").unlink()
    assert check_host(tmp_path, now, rows_file="micro.csv").measured_at == now.measured_at  # starting anew
    assert json.loads((tmp_path / "host.json").read_text())["measured_at"] == now.measured_at
