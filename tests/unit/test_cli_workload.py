"""`hwsim trace`, `hwsim estimate` and `hwsim compare` end to end on tiny workloads, and their bad inputs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hwsim.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_trace_prints_a_summary_and_writes_the_graph(capsys, tmp_path: Path) -> None:
    out_file = tmp_path / "g.json"
    code, out, _ = run(capsys, "trace", "llama-tiny-train", "-o", str(out_file))
    assert code == 0
    assert "By phase" in out and "optim" in out and "matmul" in out
    doc = json.loads(out_file.read_text())
    assert doc["schema"] == "hwsim.graph/1" and doc["mode"] == "train" and len(doc["ops"]) > 50


def test_estimate_json_on_a_gpu(capsys) -> None:
    code, out, _ = run(capsys, "estimate", "llama-tiny-train", "--system", "h100_sxm", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "hwsim.estimate/1"
    assert doc["calibration"]["name"] == "default-h100_sxm"
    assert doc["step_time_s"] > 0 and doc["memory"]["fits"] is True
    assert doc["uncosted_ops"] == {}
    assert doc["ttft_s"] is None and doc["tpot_s"] is None


def test_estimate_output_file(capsys, tmp_path: Path) -> None:
    target = tmp_path / "est.json"
    code, _, err = run(capsys, "estimate", "llama-tiny-decode", "--system", "dgx_h100", "-o", str(target))
    assert code == 0 and f"wrote {target}" in err
    doc = json.loads(target.read_text())
    assert doc["tpot_s"] == doc["step_time_s"] and doc["device"] == "h100_sxm" and doc["system"] == "dgx_h100"


def test_set_overrides_a_workload_value(capsys) -> None:
    _, out1, _ = run(capsys, "estimate", "llama-tiny-train", "--system", "h100_sxm", "--json")
    _, out2, _ = run(
        capsys, "estimate", "llama-tiny-train", "--system", "h100_sxm", "--json", "--set", "task.batch=4"
    )
    assert json.loads(out2)["tokens_per_step"] == 2 * json.loads(out1)["tokens_per_step"]


def test_compare_marks_the_fastest_fitting_system(capsys) -> None:
    code, out, _ = run(
        capsys, "compare", "llama-tiny-train", "--system", "a100_80gb_sxm", "h100_sxm", "--json"
    )
    assert code == 0
    rows = json.loads(out)["estimates"]
    assert [r["system"] for r in rows] == ["a100_80gb_sxm", "h100_sxm"]
    code, out, _ = run(capsys, "compare", "llama-tiny-train", "--system", "a100_80gb_sxm", "h100_sxm")
    assert "winner" in out


def test_a_workload_that_does_not_fit_is_an_answer_not_an_error(capsys) -> None:
    code, out, _ = run(capsys, "estimate", "llama3-70b-train", "--system", "h100_sxm", "--json")
    assert code == 0
    mem = json.loads(out)["memory"]
    assert mem["fits"] is False and mem["shortfall_bytes"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["estimate", "llama-tiny-train", "--system", "h900"], "expected"),
        (["estimate", "no-such-workload", "--system", "h100_sxm"], "no-such-workload"),
        (
            ["estimate", "llama-tiny-train", "--system", "a100_80gb_sxm", "--set", "task.dtype=fp8"],
            "task.dtype",
        ),
        (["estimate", "llama-tiny-train", "--system", "h100_sxm", "--calibration", "nope"], "--calibration"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(capsys, argv: list[str], message: str) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_a_dtype_the_device_lacks_names_the_supported_ones(capsys) -> None:
    # fp8 workloads are refused by the workload schema itself (above); the device check is reached with
    # fp32 on a TPU v5p, whose datasheet gives no fp32 rate.
    code, _, err = run(capsys, "estimate", "gpt-tiny-train", "--system", "tpu_v5p")
    assert code == 1
    assert err.strip() == (
        "workload gpt-tiny-train: task.dtype: expected a dtype tpu_v5p computes in (bf16, fp8, int8), "
        'got "fp32" '
        "(tpu_v5p has no fp32 units in its datasheet)"
    )


def test_no_traceback_from_a_subprocess(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hwsim", "estimate", "llama-tiny-train", "--system", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["trace", "estimate", "compare", "validate"])
def test_commands_that_build_a_model_take_the_factory_trust_flags(capsys, command: str) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--trust-factory" in out and "--factory-path DIR" in out


def test_trace_and_estimate_name_a_file_for_o(capsys) -> None:
    for command in ("trace", "estimate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "-o FILE, --output FILE" in capsys.readouterr().out
