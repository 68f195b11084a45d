"""A workload's `model.factory` is code: outside hwsim it runs only with --trust-factory or --factory-path.

Each refusal is one line naming the file and key, exit 1, raised before anything is imported or called:
the `touch` a hostile workload asks for never happens.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from hwsim.cli import main
from hwsim.errors import InputError
from hwsim.models import trusting_factories, zoo_factory
from hwsim.workload import load_workload

TASK = "task: {{mode: train, batch: 1, seq_len: 8, dtype: fp32}}\n"  # in a format string
TOUCH = "schema: hwsim.workload/1\nmodel:\n  factory: {ref}\n  args: {{{args}}}\n  vocab: 64\n" + TASK
REFUSED = 'w.yaml: model.factory: expected a factory under hwsim. or --trust-factory, got "{ref}" ({hint})'
HINT = (
    "a workload's factory runs its code: pass --trust-factory if you trust it, "
    "or --factory-path DIR for the folder that holds it"
)
TINY_MODEL = """\
import torch
from torch import nn

def build(vocab=64):
    return nn.Sequential(nn.Embedding(vocab, 16), nn.Linear(16, vocab))

def nothing():
    return None
"""


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _workload(folder: Path, ref: str, args: str = "") -> Path:
    path = folder / "w.yaml"
    path.write_text(TOUCH.format(ref=ref, args=args), encoding="utf-8")
    return path


def _touch(folder: Path) -> tuple[Path, Path]:
    """A workload asking os.system to create a file, and that file."""
    marker = folder / "pwned"
    return _workload(folder, "os:system", f'command: "touch {marker}"'), marker


def test_os_system_is_refused_by_the_cli_in_a_subprocess(work: Path) -> None:
    path, marker = _touch(work)
    proc = subprocess.run(
        [sys.executable, "-m", "hwsim", "trace", "w.yaml"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=work,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == REFUSED.format(ref="os:system", hint=HINT)
    assert not marker.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["trace", "w.yaml"],
        ["estimate", "w.yaml", "--system", "h100_sxm"],
        ["compare", "w.yaml", "--system", "h100_sxm", "a100_80gb_sxm"],
        ["validate", "w.yaml", "--system", "cpu_host", "-o", "val"],
        ["trace", "w.yaml", "--factory-path", "."],  # a folder trusts only the modules found in it
    ],
)
def test_every_command_that_builds_a_model_refuses_it(
    work: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, marker = _touch(work)
    assert main(argv) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    hint = HINT if "--factory-path" not in argv else f"not found in --factory-path {work.resolve()}; {HINT}"
    assert line == REFUSED.format(ref="os:system", hint=hint)
    assert not marker.exists()


def test_refused_before_the_module_is_imported(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (work / "lib").mkdir()
    (work / "lib" / "hostile.py").write_text(
        f"open({str(work / 'imported')!r}, 'w').close()\ndef build():\n    pass\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(work / "lib"))
    sys.modules.pop("hostile", None)
    with pytest.raises(InputError) as info:
        load_workload(_workload(work, "hostile:build"))
    assert str(info.value) == REFUSED.format(ref="hostile:build", hint=HINT)
    assert not (work / "imported").exists()


@pytest.mark.parametrize(
    ("ref", "args", "hint"),
    [
        ("hwsim.calibrate.device:subprocess.run", "args: touch pwned, shell: true", "subprocess.run"),
        ("hwsim.models:importlib.import_module", "name: antigravity", "importlib.import_module"),
        ("hwsim.fileio:write_text_atomic", "path: pwned, text: x", "write_text_atomic"),
    ],
)
def test_hwsim_functions_that_are_not_model_factories_are_refused(
    work: Path, ref: str, args: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _workload(work, ref, args)
    assert main(["trace", "w.yaml"]) == 1
    assert capsys.readouterr().err.strip() == REFUSED.format(
        ref=ref, hint=f"{hint} is not one of hwsim's model factories"
    )
    assert not (work / "pwned").exists()


def test_a_zoo_factory_runs_without_the_flag(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("hwsim._zoo_for_tests")
    exec(TINY_MODEL, module.__dict__)  # noqa: S102 - the test's own code, standing in for a zoo module
    module.build = zoo_factory(module.build)
    monkeypatch.setitem(sys.modules, "hwsim._zoo_for_tests", module)
    _workload(work, "hwsim._zoo_for_tests:build")
    assert main(["trace", "w.yaml"]) == 0


def test_trust_factory_runs_a_user_factory(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "tiny_user_model.py").write_text(TINY_MODEL, encoding="utf-8")
    monkeypatch.syspath_prepend(str(work))
    sys.modules.pop("tiny_user_model", None)
    _workload(work, "tiny_user_model:build")
    assert main(["trace", "w.yaml"]) == 1
    assert "--trust-factory" in capsys.readouterr().err
    assert main(["trace", "w.yaml", "--trust-factory"]) == 0
    assert "By phase" in capsys.readouterr().out


def test_factory_path_adds_the_folder_and_trusts_its_modules(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "models").mkdir()
    (work / "models" / "tiny_path_model.py").write_text(TINY_MODEL + "import os\n", encoding="utf-8")
    sys.modules.pop("tiny_path_model", None)
    _workload(work, "tiny_path_model:build")
    try:
        assert main(["estimate", "w.yaml", "--system", "h100_sxm", "--factory-path", "models"]) == 0
        capsys.readouterr()
        # a trusted module's imports are not trusted with it: os.system is defined elsewhere
        _workload(work, "tiny_path_model:os.system", 'command: "touch pwned"')
        assert main(["trace", "w.yaml", "--factory-path", "models"]) == 1
        assert capsys.readouterr().err.strip() == REFUSED.format(
            ref="tiny_path_model:os.system",
            hint="os.system is defined in posix, not in a module found in --factory-path",
        )
        assert not (work / "pwned").exists()
    finally:
        sys.modules.pop("tiny_path_model", None)
    assert str((work / "models").resolve()) not in sys.path  # only for the command


def test_factory_path_must_be_a_folder(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _workload(work, "os:system")
    assert main(["trace", "w.yaml", "--factory-path", "nowhere"]) == 1
    assert capsys.readouterr().err.strip() == (
        '<command line>: --factory-path: expected a folder, got "nowhere" (no such folder)'
    )


def test_a_factory_returning_none_says_so(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (work / "none_model.py").write_text(TINY_MODEL, encoding="utf-8")
    monkeypatch.syspath_prepend(str(work))
    sys.modules.pop("none_model", None)
    from hwsim.trace import trace_workload

    with trusting_factories():
        workload = load_workload(_workload(work, "none_model:nothing"))
        with pytest.raises(InputError) as info:
            trace_workload(workload)
    assert str(info.value) == (
        'w.yaml: model.factory: expected a factory returning a torch.nn.Module, got "none_model:nothing" '
        "(it returned None)"
    )
