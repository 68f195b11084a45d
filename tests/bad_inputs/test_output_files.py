"""`-o` on every command that writes: a path that cannot be written is one line naming it and the OS
reason, exit 1, found before the expensive work, and nothing half-written is left behind.

Tests run as root, so a folder without write permission cannot be tried; these are the failures root
meets too: a path below a regular file, a name too long for the file system, a directory given as a file.
"""

from __future__ import annotations

import argparse
import errno
import os
from pathlib import Path

import pytest

from hwsim.cli import main
from hwsim.errors import InputError
from hwsim.fileio import check_output_file, check_output_folder, write_text_atomic

NOT_A_DIR = os.strerror(errno.ENOTDIR)
TOO_LONG = os.strerror(errno.ENAMETOOLONG)
LONG = "x" * 300 + ".json"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plain").write_text("a regular file\n")
    (tmp_path / "folder").mkdir()
    return tmp_path


@pytest.fixture
def no_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad -o must fail before the trace starts."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("traced before checking -o")

    monkeypatch.setattr("hwsim.trace.trace_workload", refuse)


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    [line] = capsys.readouterr().err.strip().splitlines()
    return line


def _refused(path: str, reason: str, expected: str = "a writable file path") -> str:
    return f"{path}: expected {expected}, got a path the system refuses ({reason})"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


@pytest.mark.parametrize(
    ("out", "line"),
    [
        ("plain/g.json", _refused("plain/g.json", NOT_A_DIR)),
        ("plain/deeper/g.json", _refused("plain/deeper/g.json", NOT_A_DIR)),
        ("folder", "folder: expected a file path for the output, got a directory"),
        (LONG, _refused(LONG, TOO_LONG)),
        (f"new/{LONG}", _refused(f"new/{LONG}", TOO_LONG)),
    ],
)
@pytest.mark.parametrize("command", [["trace"], ["estimate", "--system", "h100_sxm"]])
def test_trace_and_estimate_refuse_a_bad_output_before_tracing(
    work: Path, no_trace: None, command: list[str], out: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [command[0], "llama-tiny-train", *command[1:], "-o", out]
    assert main(argv) == 1
    assert _err(capsys) == line
    assert sorted(p.name for p in work.iterdir()) == ["folder", "plain"]  # no folder made, no temp file
    assert (work / "plain").read_text() == "a regular file\n"


def test_estimate_writes_into_new_folders_without_leftovers(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["estimate", "llama-tiny-train", "--system", "h100_sxm", "-o", "a/b/e.json"]) == 0
    assert (work / "a" / "b" / "e.json").read_text().startswith("{")
    assert _leftovers(work) == []
    assert "wrote a/b/e.json" in capsys.readouterr().err


def test_compare_with_one_system_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "llama-tiny-train", "--system", "h100_sxm"]) == 2
    assert _err(capsys) == (
        '<command line>: --system: expected two or more systems to compare, got one, "h100_sxm" '
        "(hwsim estimate takes a single system)"
    )


def test_a_failed_write_keeps_the_earlier_file_and_leaves_no_temp(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = work / "folder" / "r.json"
    target.write_text("earlier\n")

    def full_disk(self: Path, _target: Path) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "replace", full_disk)
    with pytest.raises(InputError) as info:
        write_text_atomic(target, "new text")
    assert str(info.value) == _refused("folder/r.json", os.strerror(errno.ENOSPC))
    assert target.read_text() == "earlier\n" and _leftovers(work) == []


def test_a_long_name_that_still_fits_is_written(work: Path) -> None:
    name = "y" * 250  # the temporary file's name must not be what overflows
    check_output_file(work / name)
    write_text_atomic(work / name, "ok\n")
    assert (work / name).read_text() == "ok\n" and _leftovers(work) == []


def test_folder_checks(work: Path) -> None:
    with pytest.raises(InputError) as info:
        check_output_folder(work / "plain")
    assert str(info.value) == "plain: expected a folder for the output, got a file"
    with pytest.raises(InputError) as info:
        check_output_folder(work / "plain" / "reports")
    assert str(info.value) == _refused("plain/reports", NOT_A_DIR, "a writable folder")
    check_output_folder(work / "made" / "here")
    assert (work / "made" / "here").is_dir() and _leftovers(work) == []


@pytest.fixture
def no_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("measured before checking -o")

    monkeypatch.setattr("hwsim.calibrate.validate.run_validation", refuse)


@pytest.mark.parametrize(
    ("out", "line"),
    [
        ("plain", "plain: expected a folder for the output, got a file"),
        ("plain/val", _refused("plain/val", NOT_A_DIR, "a writable folder")),
        ("x" * 300, _refused("x" * 300, TOO_LONG, "a writable folder")),
    ],
)
def test_validate_refuses_a_bad_report_folder_before_measuring(
    work: Path, no_validation: None, out: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "llama-tiny-train", "-o", out]) == 1
    assert _err(capsys) == line


@pytest.fixture
def no_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("measured before checking the outputs")

    monkeypatch.setattr("hwsim.calibrate.microbench.run_sweep", refuse)


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["-o", "plain/cal.yaml"], _refused("plain/cal.yaml", NOT_A_DIR)),
        (["-o", "x" * 300 + ".yaml"], _refused("x" * 300 + ".yaml", TOO_LONG)),
        (
            ["-o", "out/cal.yaml", "--measurements", "plain"],
            "plain: expected a folder for the output, got a file",
        ),
    ],
)
def test_calibrate_refuses_bad_outputs_before_measuring(
    work: Path, no_sweep: None, argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["calibrate", "--quick", "--no-collectives", *argv]) == 1
    assert _err(capsys) == line
    assert sorted(p.name for p in work.iterdir()) == ["folder", "plain"]


@pytest.mark.parametrize(
    ("out", "calibration", "device", "measurements"),
    [
        ("folder", "folder/fitted-h.yaml", "folder/h.yaml", "folder/fitted-h.measurements"),
        ("new/", "new/fitted-h.yaml", "new/h.yaml", "new/fitted-h.measurements"),
        ("out/cal.yaml", "out/cal.yaml", "out/h.yaml", "out/cal.measurements"),
        ("out/cal", "out/cal.yaml", "out/h.yaml", "out/cal.measurements"),
        ("out/cal.v2", "out/cal.v2.yaml", "out/h.yaml", "out/cal.v2.measurements"),
    ],
)
def test_calibrate_output_is_a_file_or_a_folder(
    work: Path, out: str, calibration: str, device: str, measurements: str
) -> None:
    from hwsim.cli.calibrate import _paths

    args = argparse.Namespace(output=out, measurements=None)
    assert _paths(args, "h") == (Path(calibration), Path(device), Path(measurements))


def test_an_os_error_below_the_checks_is_one_line(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fails(_args: argparse.Namespace) -> int:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(work / "gone" / "x.csv"))

    monkeypatch.setattr("hwsim.cli.workload._trace", fails)
    assert main(["trace", "llama-tiny-train"]) == 1
    assert _err(capsys) == _refused("gone/x.csv", os.strerror(errno.ENOENT), "a file hwsim can read or write")
