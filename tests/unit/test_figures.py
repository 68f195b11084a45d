"""The output contract (hwsim.figures): every figure of an Estimate is finite and non-negative."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from hwsim.cli import main
from hwsim.cost.calibration import load_calibration
from hwsim.errors import InternalError
from hwsim.estimate import estimate
from hwsim.figures import check_figures, snap_tiny
from hwsim.hardware.loader import load_system
from hwsim.trace import trace_workload
from hwsim.workload import load_workload

Write = Callable[[str, str], Path]


def test_check_figures_names_the_figure_and_never_its_value() -> None:
    with pytest.raises(InternalError) as info:
        check_figures({"memory": {"peak_bytes": 1.0, "breakdown": {"weights": float("nan")}}}, "the test")
    assert str(info.value).startswith("hwsim: internal error: the test: figure memory.breakdown.weights is not finite")
    assert "nan" not in str(info.value)
    with pytest.raises(InternalError, match="figure time_breakdown_s.bound.framework is negative"):
        check_figures({"time_breakdown_s": {"bound": {"framework": -5.76e-9}}}, "the test")
    with pytest.raises(InternalError, match=r"figure ops\.1 is not finite"):
        check_figures({"ops": [1, float("inf")]}, "the test")
    check_figures({"fits": False, "mfu": 0.0, "name": "x", "ttft_s": None}, "the test")


def test_residue_below_a_femtosecond_is_zero() -> None:
    assert snap_tiny({"a": -5.76e-18, "b": 3e-16, "c": 2e-15, "d": -1.0}) == {
        "a": 0.0,
        "b": 0.0,
        "c": 2e-15,
        "d": -1.0,
    }


@pytest.mark.parametrize(
    ("workload", "system", "calibration"),
    [("llama-tiny-decode", "h100_sxm", None), ("gpt-tiny-train", "intel_xeon_1t", "fitted-intel_xeon_1t")],
)
def test_a_real_estimate_keeps_the_contract(workload: str, system: str, calibration: str | None) -> None:
    cal = load_calibration(calibration) if calibration else None
    est = estimate(trace_workload(load_workload(workload)), load_system(system), cal)
    check_figures(est.to_json(), "the test")  # estimate() checked it already; this states the property
    assert all(v >= 0 for v in est.costs.kernel_s) and all(v >= 0 for v in est.timeline.waited_s)


def test_a_bound_with_no_time_is_left_out_of_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    # The shipped GPU calibration has no eager_overhead, so no op waits on the framework.
    assert main(["estimate", "llama-tiny-decode", "--system", "h100_sxm"]) == 0
    out = capsys.readouterr().out
    bound_table = out[out.index("Time by bound") : out.index("Time by module")]
    assert "overhead" in bound_table and "framework" not in bound_table
    assert not re.search(r"\s-\d", out), "a negative figure was printed"


def test_an_overflowing_figure_is_an_internal_error_naming_it(
    write_yaml: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    # 1e-306 B/s is a positive, finite, normal bandwidth, so the loader takes it; every byte at that
    # rate overflows a float, and the output contract stops the infinite step time being shown.
    path = write_yaml(
        "slow.yaml",
        "schema: hwsim.device/1\ndescription: slow\nkind: gpu\nvendor: Acme\n"
        "compute:\n  matrix: {bf16: 100 TFLOP/s, fp32: 50 TFLOP/s}\nmemory: {capacity: 80 GB, bandwidth: 1e-306 B/s}\n"
        "sources: [a test]\n",
    )
    assert main(["estimate", "llama-tiny-decode", "--system", str(path), "--json"]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.fullmatch(
        r"hwsim: internal error: the estimate of llama-tiny-decode on \S*slow.yaml: figure [a-z_.]+ is not finite; "
        r"please report it with the command that ran\n",
        captured.err,
    )


def test_a_calibration_fitted_on_another_device_is_applied_as_relative_efficiency(
    write_yaml: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_yaml(
        "a100.yaml", "schema: hwsim.calibration/1\nextends: default-gpu\napplies_to: {kind: gpu, device: a100_80gb_sxm}\n"
    )
    args = ["estimate", "llama-tiny-decode", "--system", "h100_sxm", "--calibration", str(path)]
    assert main([*args, "--json"]) == 0
    cal = json.loads(capsys.readouterr().out)["calibration"]
    assert (cal["applies_to"], cal["use"]) == ("a100_80gb_sxm", "relative")
    assert main(args) == 0
    assert "on a100_80gb_sxm, applied to h100_sxm as relative efficiency" in capsys.readouterr().out
    assert main(["estimate", "llama-tiny-decode", "--system", "a100_80gb_sxm", "--calibration", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["calibration"]["use"] == "device"
    assert main(["estimate", "llama-tiny-decode", "--system", "h100_sxm", "--calibration", "default-gpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["calibration"]["use"] == "kind"
