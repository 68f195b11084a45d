"""Differences of two measurements that cannot be told from noise: recorded `unresolved`, never fitted,
never written or printed as a negative time (hwsim.calibrate.unresolved).

The rows fed to the fit are data, built by hand; the sweeps are real measurements on this host of
benchmarks whose difference is negative or positive by construction (a no-op against a sleep)."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import pytest

from hwsim.calibrate.fit import describe_fit, fit_rows
from hwsim.calibrate.fit_files import write_fit
from hwsim.calibrate.kernels import Bench, Kernel
from hwsim.calibrate.microbench import run_sweep
from hwsim.calibrate.results import MICRO, RowWriter, read_rows
from hwsim.calibrate.unresolved import difference
from hwsim.cost.calibration import load_calibration

from test_calibrate_fit import CPU_HOST, ROWS, US, row  # the fit tests' rows (tests/unit is on sys.path)

NEGATIVE = re.compile(r"(?<![\w/.-])-\d")  # a negative number (not a date's or a path's dash)


def timed(median_s: float, min_s: float) -> dict:
    return {"median_s": median_s, "min_s": min_s}


def test_a_paired_difference_is_resolved_only_when_every_repetition_is_positive() -> None:
    assert difference(timed(2 * US, 0.5 * US)).resolved  # min > 0: all ten repetitions above zero
    assert not difference(timed(2 * US, -0.1 * US)).resolved  # positive median, a repetition below zero
    assert not difference(timed(-0.3 * US, -1 * US)).resolved  # below zero
    assert not difference(timed(0.0, 0.0)).resolved  # at zero
    assert not difference(timed(math.nan, math.nan)).resolved


def test_two_measurements_must_differ_by_more_than_their_spreads() -> None:
    launch = timed(1.0 * US, 0.9 * US)  # spread 0.1 us
    gap = difference(timed(3 * US, 2.5 * US), launch)
    assert (gap.median_s, gap.spread_s) == pytest.approx((2 * US, 0.6 * US)) and gap.resolved
    assert not difference(timed(1.5 * US, 0.7 * US), launch).resolved  # 0.5 us apart, spread 0.9 us
    assert not difference(timed(0.8 * US, 0.8 * US), launch).resolved  # below the launch row
    gap = difference(timed(0.8 * US, 0.7 * US), launch)
    assert gap.why("the time") == "the time at or below zero (spread 200 ns)"
    gap = difference(timed(1.5 * US, 0.7 * US), launch)
    assert gap.why("excess") == "excess 500 ns within its spread 900 ns"


def _eager_within_noise() -> list[dict]:
    """ROWS with a noisy launch row (1 us median, 0.5 us min) and an inference chain 0.3 us above it."""
    rows = [r for r in ROWS if r["kind"] not in ("launch", "eager_infer")]
    return rows + [
        {**row("launch", "elementwise", "1", 1.0, 12.0, 1 * US), "min_s": 0.5 * US},
        row("eager_infer", "host", "16x8", 0.0, 0.0, 1.3 * US),  # 0.3 us above, spread 0.5 + 0.12 us
    ]


def test_the_fit_drops_an_unresolved_eager_row_and_names_it(tmp_path: Path) -> None:
    fit = fit_rows(_eager_within_noise())
    assert fit.roofs.eager_overhead == pytest.approx({"train": 10 * US})  # inference: not fitted, not 0
    why = "unresolved: time per op less the launch row's 300 ns within its spread 618 ns"
    assert fit.unresolved["eager_infer fp32 16x8"] == why
    assert "host_cold fp32 32x4x0" in fit.unresolved  # ROWS' hot chain is below zero
    lines = describe_fit(fit)  # what `hwsim calibrate` prints after the fit
    assert f"not fitted, eager_infer fp32 16x8: {why}" in lines
    assert any(line.startswith("not fitted, host_cold fp32 32x4x0: unresolved") for line in lines)
    assert not any(NEGATIVE.search(line) for line in lines)
    folder = tmp_path / "m"
    with RowWriter(folder / "micro.csv", MICRO) as writer:
        for r in _eager_within_noise():
            writer.append(r)
    cal_path, dev_path = tmp_path / "fitted-t.yaml", tmp_path / "t.yaml"
    write_fit(folder, CPU_HOST, calibration_path=cal_path, device_path=dev_path, command="hwsim calibrate")
    text = cal_path.read_text()
    assert f"#   eager_infer fp32 16x8: {why}" in text
    assert "#   host_cold fp32 32x4x0: unresolved: in-step less hot time at or below zero" in text
    assert not NEGATIVE.search(text) and not NEGATIVE.search(dev_path.read_text())
    cal = load_calibration(cal_path)
    assert cal.eager_overhead == pytest.approx({"train": 10 * US})  # the decode steps get none, not a guess


def test_a_curve_row_within_the_launch_rows_noise_is_not_fitted() -> None:
    # an add at 2.5x the launch overhead, but so noisy (min 0.2 us) that its excess is not resolved
    noisy = {**row("add", "elementwise", "e", 1.0, 1e4, 2.5 * US), "min_s": 0.2 * US}
    fit = fit_rows(ROWS + [noisy])
    why = fit.unresolved["add fp32 e"]
    assert why.startswith("unresolved: time less the launch row's 1.5 us within its spread")
    assert fit.efficiency["elementwise"]["fp32"].rows == 4  # ROWS' four adds, not the noisy one
    assert fit.efficiency["elementwise"] == fit_rows(ROWS).efficiency["elementwise"]


def test_an_old_host_cold_row_below_zero_is_named_not_floored() -> None:
    # measured before the rule: status ok, a negative min; median positive (one of the AMD host's rows)
    old = {**row("host_cold_norm", "host", "256x4x0", 0.0, 1.1e6, 2.63 * US), "min_s": -2.87 * US}
    fit = fit_rows(ROWS + [old])
    assert fit.unresolved["host_cold_norm fp32 256x4x0"] == (
        "unresolved: in-step less hot time 2.63 us within its spread 5.5 us"
    )
    assert fit.host_cold["hwsim.rms_norm.default"] == ((4e6, 50 * US),)  # only ROWS' resolved row
    assert all(t > 0 for curve in fit.host_cold.values() for _, t in curve)


class _Paired:
    """A real paired measurement: per repetition, the mean seconds of `first` and of `second`, each
    called `calls` times; its row is their difference, as hwsim.calibrate.host_cold's is."""

    def __init__(self, first, second) -> None:  # noqa: ANN001
        self.first, self.second = first, second
        self.parts = (math.nan, math.nan)

    def __call__(self) -> None:
        self.first()

    def measure(self, reps: int, warmup: int, target_s: float) -> tuple[float, float, int]:
        def mean(fn) -> float:  # noqa: ANN001
            t0 = time.perf_counter()
            for _ in range(3):
                fn()
            return (time.perf_counter() - t0) / 3

        pairs = [(mean(self.first), mean(self.second)) for _ in range(reps)]
        diffs = sorted(a - b for a, b in pairs)
        self.parts = (sorted(a for a, _ in pairs)[reps // 2], sorted(b for _, b in pairs)[reps // 2])
        return diffs[0], diffs[reps // 2], 3


def _nap() -> None:
    time.sleep(2e-4)


def _nothing() -> None:
    pass


def _kernel(first, second) -> Kernel:  # noqa: ANN001
    """No bytes: the sweep times it as built (no operand copies), a self-timed row like host_cold's."""
    build = lambda shape, dtype, device: _Paired(first, second)  # noqa: E731
    return Kernel(op_class="host", counts=lambda s, e: (0.0, 0.0), build=build)


PAIRED = {"below": _kernel(_nothing, _nap), "above": _kernel(_nap, _nothing)}


def test_a_measured_negative_difference_is_written_unresolved_and_printed_without_a_sign(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hwsim.cli.calibrate import _progress

    csv_path = tmp_path / "micro.csv"
    benches = [Bench(kind="below", dtype="fp32", shape=(1,)), Bench(kind="above", dtype="fp32", shape=(1,))]
    result = run_sweep(benches, csv_path, kernels=PAIRED, target_s=1e-5, progress=_progress)
    assert (result.measured, result.failed, result.unresolved) == (2, 0, 1)
    below, above = read_rows(csv_path, MICRO)
    assert below["status"] == "unresolved" and math.isnan(below["min_s"]) and math.isnan(below["median_s"])
    note = (r"unresolved: in-step \S+ [mun]?s less hot \S+ [mun]?s per op is not above its spread \S+ [mun]?s"
            r" over 10 repetitions \(hwsim.calibrate.unresolved\)")  # fmt: skip
    assert re.fullmatch(note, below["error"])
    assert above["status"] == "ok" and 0 < above["min_s"] <= above["median_s"]
    assert not NEGATIVE.search(csv_path.read_text())
    err = capsys.readouterr().err
    assert "below      fp32                1  unresolved: in-step" in err and not NEGATIVE.search(err)
    # an unresolved row is a measurement of its round: a rerun measures nothing, a second round both again
    assert run_sweep(benches, csv_path, kernels=PAIRED).measured == 0
    assert run_sweep(benches, csv_path, kernels=PAIRED, rounds=2).measured == 2
