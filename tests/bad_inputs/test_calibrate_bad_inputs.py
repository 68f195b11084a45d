"""`hwsim calibrate` bad inputs: each test states the exact line the user sees and the exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hwsim.calibrate.device import describe_host
from hwsim.calibrate.results import MICRO
from hwsim.cli import main

HEADER = ",".join(MICRO.columns)
GOOD = "copy,copy,fp32,1x64,0,512,1e-06,2e-06,10,5,ok,"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["calibrate", "--no-collectives", *args])
    return code, capsys.readouterr().err.splitlines()


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path / "out" / "cal.measurements"


def _csv(folder: Path, *lines: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "micro.csv").write_text("".join(line + "\n" for line in lines))


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_cuda_without_a_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    why = (f"this torch {torch.__version__} is a CPU-only build" if torch.version.cuda is None
           else "no GPU is visible")  # fmt: skip
    assert run(capsys, "--device", "cuda") == (1, [
        "<command line>: --device: expected a CUDA GPU, got none "
        f"(torch.cuda.is_available() is False: {why}; use --device cpu)"
    ])  # fmt: skip


def test_unknown_device(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--device", "tpu") == (
        1,
        ['<command line>: --device: expected cpu or cuda, got "tpu"'],
    )


def test_threads_below_one_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--threads", "0") == (
        2,
        ["<command line>: --threads: expected a whole number >= 1, got 0"],
    )


def test_too_few_reps_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--reps", "3") == (2, ["<command line>: --reps: expected a whole number >= 10, got 3"])


def test_zero_rounds_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    expected = "<command line>: --rounds: expected a whole number >= 1, got 0"
    assert run(capsys, "--rounds", "0") == (2, [expected])


def test_bad_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--name", "../x") == (2, [
        '<command line>: --name: expected a file stem (letters, digits, _ . -), got "../x"'
    ])  # fmt: skip


def test_output_named_like_the_device_file(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    assert run(capsys, "--quick", "--name", "box", "-o", "out/box.yaml") == (2, [
        '<command line>: -o: expected a calibration file name other than box.yaml, got "out/box.yaml" '
        "(that name is the device file's; use --name)"
    ])  # fmt: skip


def test_row_with_too_few_values(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    _csv(folder, HEADER, GOOD, "add,elementwise,fp32")
    assert run(capsys, "--quick", "-o", "out/cal.yaml") == (1, [
        "out/cal.measurements/micro.csv: row 3: expected 12 comma-separated values, got 3 "
        "(fix or delete the row, then rerun)"
    ])  # fmt: skip


def test_row_with_a_bad_number(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    _csv(folder, HEADER, GOOD.replace("1e-06", "fast"))
    assert run(capsys, "--quick", "-o", "out/cal.yaml") == (1, [
        'out/cal.measurements/micro.csv: row 2: expected a number in column min_s, got "fast" '
        "(fix or delete the row, then rerun)"
    ])  # fmt: skip


def test_row_with_a_bad_status(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    _csv(folder, HEADER, GOOD.replace(",ok,", ",done,"))
    assert run(capsys, "--quick", "-o", "out/cal.yaml") == (1, [
        'out/cal.measurements/micro.csv: row 2: expected status ok or failed, got "done" '
        "(fix or delete the row, then rerun)"
    ])  # fmt: skip


def test_wrong_header(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    _csv(folder, "a,b,c", GOOD)
    assert run(capsys, "--quick", "-o", "out/cal.yaml") == (1, [
        f'out/cal.measurements/micro.csv: row 1: expected the header {HEADER}, got "a,b,c" '
        "(this is not a measurement file of this kind; use another folder)"
    ])  # fmt: skip


def test_resume_with_other_threads(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    folder.mkdir(parents=True)
    host = describe_host("cpu", threads=2).to_json()
    (folder / "host.json").write_text(json.dumps(host))
    assert run(capsys, "--quick", "-o", "out/cal.yaml") == (1, [
        "out/cal.measurements/host.json: expected measurements from this host and settings, got threads 2 "
        "(now 1) (use another output folder, or delete this one to start again)"
    ])  # fmt: skip


def test_never_overwrite_a_datasheet_device(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    folder.parent.mkdir(parents=True)
    (folder.parent / "box.yaml").write_text("schema: hwsim.device/1\nkind: gpu\n")
    assert run(capsys, "--quick", "--name", "box", "-o", "out/cal.yaml") == (1, [
        "out/box.yaml: measured: expected a measured device file to replace, got a file that is not "
        "measured: true (choose another --name or -o)"
    ])  # fmt: skip
