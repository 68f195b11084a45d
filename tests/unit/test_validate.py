"""hwsim.calibrate.validate, hwsim.report.validation and `hwsim validate`: matching, figures, reports, JSON.

The estimate uses a small hand-written device file and calibration (fast and deterministic); the
measurement is a one-block tiny model with 2 repetitions (the CLI itself asks for >= 10). No test
asserts a time or an error size: those are measured, and reported in reports/validation/.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from hwsim.calibrate.device import describe_host, host_stem
from hwsim.calibrate.measure import MeasuredOp
from hwsim.calibrate.results import MICRO, RowWriter
from hwsim.calibrate.validate import DEFINITIONS, SCHEMA, match_ops, run_validation
from hwsim.cli import main
from hwsim.cost.calibration import load_calibration
from hwsim.ir import Op, TensorMeta
from hwsim.report.validation import CSV_COLUMNS, report_stem, write_validation
from hwsim.resources import catalogue_dir

DEVICE = """\
schema: hwsim.device/1
extends: cpu_host
description: "test host (measured)"
kind: cpu
vendor: "test"
measured: true
compute: {{vector: {{fp32: 100 GFLOP/s, bf16: 200 GFLOP/s}}}}
memory: {{capacity: 16 GiB, bandwidth: 10 GB/s}}
sources: ["test"]
"""
CALIBRATION = """\
schema: hwsim.calibration/1
applies_to: {{kind: cpu, device: {device}}}
fitted: true
threads: {threads}
fitted_on: {{host: {host}, device: cpu, threads: "{threads}"}}
launch_overhead: 2 us
efficiency:
  matmul: {{default: {{best: 0.8, curve: [["1 us", 0.5], ["1 ms", 1]]}}}}
  attention: {{default: {{best: 0.4}}}}
  default: {{default: {{best: 0.5}}}}
sources: ["test"]
"""


def write_host_files(folder: Path, *, device: str = "box", threads: int = 1, host: str | None = None) -> None:
    """folder/<device>.yaml and folder/cal.yaml, fitted on this host unless `host` says otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{device}.yaml").write_text(DEVICE.format())
    model = host if host is not None else describe_host("cpu").cpu_model
    (folder / "cal.yaml").write_text(
        CALIBRATION.format(device=device, threads=threads, host=json.dumps(model))
    )


def _op(i: int, target: str, shapes: list[tuple[int, ...]], phase: str = "fwd", scope: str = "a") -> Op:
    inputs = tuple(TensorMeta(shape=s, dtype="fp32") for s in shapes)
    return Op(id=i, target=target, op_class="matmul", phase=phase, scope=scope, inputs=inputs, outputs=(),
              flop=1.0, bytes_read=1.0, bytes_written=1.0, dtype="fp32")  # fmt: skip


def _measured(i: int, target: str, shapes: list, phase: str = "fwd", scope: str = "a") -> MeasuredOp:
    return MeasuredOp(index=i, target=target, op_class="matmul", phase=phase, scope=scope,
                      shapes=tuple(shapes), dtype="fp32", flop=1.0, bytes=2.0, min_s=1e-6, median_s=1e-6,
                      status="ok")  # fmt: skip


def test_matching_maps_the_fused_attention_kernels_and_reports_the_rest() -> None:
    q, kv_expanded, kv = (2, 4, 32, 16), (2, 4, 32, 16), (2, 2, 32, 16)  # GQA: the trace expands K/V heads
    lse = (2, 4, 32)
    graph = [
        _op(0, "aten.mm.default", [(4, 8), (8, 8)]),
        _op(1, "aten._scaled_dot_product_efficient_attention.default", [q, kv_expanded, kv_expanded]),
        _op(2, "aten.sum.dim_IntList", [(2, 2, 2, 32, 16)]),
        _op(3, "aten._scaled_dot_product_flash_attention_backward.default",
            [q, q, kv_expanded, kv_expanded, q, lse], "bwd"),
        _op(4, "aten.mm.default", [(4, 8), (8, 8)], scope="b"),
    ]  # fmt: skip
    measured = [
        _measured(0, "aten.mm.default", [(4, 8), (8, 8)]),
        _measured(1, "aten._scaled_dot_product_flash_attention_for_cpu.default", [q, kv, kv]),
        _measured(2, "aten._scaled_dot_product_flash_attention_for_cpu_backward.default",
                  [q, q, kv, kv, q, lse], "bwd"),
        _measured(3, "aten.mm.default", [(4, 8), (8, 4)], scope="b"),  # other shapes: another op
    ]  # fmt: skip
    assert match_ops(graph, measured) == [(0, 0), (1, 1), (3, 2)]


def test_attention_of_another_length_does_not_match() -> None:
    graph = [_op(0, "aten._scaled_dot_product_flash_attention.default", [(1, 2, 8, 16)] * 3)]
    measured = [
        _measured(
            0,
            "aten._scaled_dot_product_flash_attention_for_cpu.default",
            [(1, 2, 8, 16), (1, 2, 9, 16), (1, 2, 9, 16)],
        )
    ]
    assert match_ops(graph, measured) == []


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory):
    """One validation of a one-block tiny Llama training step (2 reps), with its folder."""
    folder = tmp_path_factory.mktemp("val")
    write_host_files(folder / "hw")
    hw = folder / "hw"
    v = run_validation("llama-tiny-train", overrides=("model.layers=1",), system=str(hw / "box.yaml"),
                       calibration=str(hw / "cal.yaml"), reps=2, folder=folder / "out")  # fmt: skip
    return v, folder


def test_validation_figures(validated) -> None:
    v, folder = validated
    assert v.label == "llama-tiny-train[model.layers=1]" and v.system == "box" and v.launch_mode == "sync"
    matched = v.of("matched")
    assert len(matched) > 80 and not v.of("failed") and not v.of("run-only")
    # the tracer's grouped-query expansion leaves a head-sum of dK and dV that the CPU kernel does not run
    assert {c.target for c in v.of("graph-only")} <= {"aten.sum.dim_IntList", "aten.clone.default"}
    assert all(c.target == c.measured_target or "attention" in c.target for c in matched)
    classes = {c.op_class: c for c in v.classes}
    assert {"matmul", "attention", "norm", "optimizer", "elementwise"} <= set(classes)
    mm = [c for c in matched if c.op_class == "matmul"]
    assert classes["matmul"].matched == len(mm)
    assert math.isclose(classes["matmul"].mape, sum(abs(c.error) for c in mm) / len(mm))
    assert math.isclose(classes["matmul"].measured_s, sum(c.measured_s for c in mm))
    assert math.isclose(v.error, (v.estimated_step_s - v.measured_step_s) / v.measured_step_s)
    assert v.estimated_step_s == pytest.approx(sum(c.estimated_s for c in v.ops if c.graph_index is not None))
    assert v.calibration["name"] == "cal" and v.calibration["fitted"] and v.floor_s > 0
    assert (folder / "out" / "measurements" / host_stem(describe_host("cpu")) / "ops.csv").exists()


def test_validation_compares_the_calibrations_statistic(validated) -> None:
    """A hand-written calibration (no `statistic`) describes min times; one fitted on medians is compared
    with the medians of the same measurement (resumed from the fixture's rows, not measured again)."""
    v, folder = validated
    assert v.statistic == "min" and v.measured_step_s == v.measured_step_min_s
    matched = v.of("matched")
    assert all(c.measured_s == c.measured_min_s <= c.measured_median_s for c in matched)
    hw = folder / "hw"
    (hw / "cal-median.yaml").write_text((hw / "cal.yaml").read_text() + "statistic: median\n")
    typical = run_validation("llama-tiny-train", overrides=("model.layers=1",), system=str(hw / "box.yaml"),
                             calibration=str(hw / "cal-median.yaml"), reps=2,
                             folder=folder / "out")  # fmt: skip
    assert typical.statistic == "median" and typical.measured_step_s == typical.measured_step_median_s
    assert all(c.measured_s == c.measured_median_s for c in typical.of("matched"))
    assert [c.measured_median_s for c in typical.ops] == [c.measured_median_s for c in v.ops]  # resumed
    assert typical.to_json()["statistic"] == "median"
    assert "per-op medians vs the steps' sum of ops" in dict(typical.attribution())


def test_validation_json(validated) -> None:
    v, _ = validated
    doc = json.loads(json.dumps(v.to_json()))
    assert doc["schema"] == SCHEMA == "hwsim.validation/1"
    assert doc["definitions"] == DEFINITIONS
    e2e = doc["end_to_end"]
    assert e2e["measured_s"] > 0 and e2e["estimated_s"] > 0 and e2e["noise"] >= 0
    assert e2e["error"] == pytest.approx((e2e["estimated_s"] - e2e["measured_s"]) / e2e["measured_s"])
    assert doc["ops"]["matched"] + doc["ops"]["graph-only"] + doc["ops"]["failed"] == doc["ops"]["graph"]
    for name, figures in doc["classes"].items():
        assert {"matched", "measured_s", "estimated_s", "error", "mape", "noise"} <= set(figures), name
    assert set(doc["targets"]) == {"matmul_mape", "attention_mape", "end_to_end_error"}
    assert doc["calibration"]["ops_outside_range"] >= 0 and len(doc["worst_ops"]) == 10
    assert set(doc["calibration"]["host_cold"]) == {"total_s", "most_s"}


def test_report_files(validated) -> None:
    v, folder = validated
    paths = write_validation(v, folder / "report")
    stem = report_stem(v)
    assert stem == "llama-tiny-train+layers1--box"
    assert [p.name for p in paths] == [f"{stem}.md", f"{stem}.csv", f"{stem}.json", "index.md"]
    md = paths[0].read_text()
    for part in (
        "## End to end",
        "## By op class",
        "## Worst ops",
        "## Unmatched and failed ops",
        "## Definitions",
        "hwsim validate llama-tiny-train --device cpu --threads 1 --reps 2 --rounds 1 --set model.layers=1",
    ):
        assert part in md, part  # fmt: skip
    lines = paths[1].read_text().splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS) and len(lines) == 1 + len(v.ops)
    assert json.loads(paths[2].read_text())["label"] == v.label
    assert f"[{v.label}]({stem}.md)" in paths[3].read_text()


def test_cli_json_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_host_files(tmp_path / "hw")
    hw = tmp_path / "hw"
    args = ["validate", "llama-tiny-decode", "--set", "model.layers=1", "--system", str(hw / "box.yaml"),
            "--calibration", str(hw / "cal.yaml"), "--json", "-o", str(tmp_path / "out")]  # fmt: skip
    assert main(args) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["schema"] == "hwsim.validation/1" and doc["mode"] == "decode" and doc["reps"] == 10
    assert doc["ops"]["graph-only"] == doc["ops"]["run-only"] == 0  # decode: every op matched
    assert "wrote" in err and (tmp_path / "out" / "llama-tiny-decode+layers1--box.md").exists()
    assert main(args[:-3] + ["-o", str(tmp_path / "out")]) == 0  # tables; the measurements are resumed
    out = capsys.readouterr().out
    assert "By op class" in out and "Definitions" in out and "(estimate - measured) / measured" in out


def test_cli_finds_the_host_files_by_stem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    stem = host_stem(describe_host("cpu"))
    home = tmp_path / "home" / "hardware_configs"
    write_host_files(home / "devices", device=stem)
    (home / "calibrations").mkdir()
    shutil.move(home / "devices" / "cal.yaml", home / "calibrations" / f"fitted-{stem}.yaml")
    shutil.copy(catalogue_dir() / "devices" / "cpu_host.yaml", home / "devices")
    monkeypatch.setenv("HWSIM_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "llama-tiny-decode", "--set", "model.layers=1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["system"] == stem and doc["calibration"]["name"] == f"fitted-{stem}"
    assert (tmp_path / "reports" / "validation" / f"llama-tiny-decode+layers1--{stem}.csv").exists()


def test_drift_compares_the_retimed_microbenchmarks_with_the_calibration_rows(tmp_path: Path) -> None:
    from hwsim.calibrate.host_files import host_drift
    from hwsim.calibrate.measure import Measurement

    write_host_files(tmp_path)
    text = (
        (tmp_path / "cal.yaml").read_text().replace("fitted_on: {", f"fitted_on: {{measurements: {tmp_path},")
    )
    (tmp_path / "cal.yaml").write_text(text)
    with RowWriter(tmp_path / "micro.csv", MICRO) as writer:
        for kind, shape, seconds in (("launch", "1", 1e-6), ("gemm", "256x256x256", 2e-4)):
            row = dict(kind=kind, op_class="matmul", dtype="fp32", shape=shape, flop=1.0, bytes=1.0)
            writer.append(
                row | dict(min_s=seconds, median_s=seconds, reps=10, calls=1, status="ok", error="")
            )
    benches = {"launch fp32 1": 2e-6, "gemm fp32 256x256x256": 1e-4, "copy fp32 1x1": 1.0}
    m = Measurement(label="w", device="cpu", host=describe_host("cpu"), reps=10, step_min_s=1.0,
                    step_median_s=1.0, step_status="ok", step_error="", ops=(), benches=benches)  # fmt: skip
    cal = load_calibration(tmp_path / "cal.yaml")
    drift = host_drift(cal, m)
    assert drift == {"launch fp32 1": pytest.approx(1.0), "gemm fp32 256x256x256": pytest.approx(-0.5)}
    assert host_drift(replace(cal, meta={}), m) == {}  # the calibration's rows are not found: no drift


def test_settle_waits_for_the_calibrated_speed_and_gives_up_in_time(tmp_path: Path) -> None:
    """Real microbenchmarks against calibration rows that say the host was far faster or far slower: it
    never settles, says why it waits, and gives up once another pause would pass max_wait_s. Nothing
    here depends on how fast this host runs the checks (no wall-clock bound is asserted)."""
    from hwsim.calibrate.host_files import settle_host

    def calibration(seconds: float):  # noqa: ANN202
        folder = tmp_path / f"m{seconds:g}"
        rows = [{"kind": "gemm", "op_class": "matmul", "dtype": "fp32", "shape": "256x256x256"},
                {"kind": "copy", "op_class": "copy", "dtype": "fp32", "shape": "16384x1024"}]  # fmt: skip
        with RowWriter(folder / "micro.csv", MICRO) as writer:
            for row in rows:
                timing = dict(min_s=seconds, median_s=seconds, reps=10, calls=1, status="ok", error="")
                writer.append(row | dict(flop=1.0, bytes=1.0) | timing)
        (tmp_path / "cal.yaml").write_text(
            "schema: hwsim.calibration/1\napplies_to: {kind: cpu}\nfitted: true\nsources: [t]\n"
            f"launch_overhead: 1 us\nfitted_on: {{measurements: {json.dumps(str(folder))}}}\n"
            "efficiency:\n  default: {default: {best: 0.5}}\n"
        )
        return load_calibration(tmp_path / "cal.yaml")

    class Waiting(Exception):
        pass

    said: list[str] = []

    def stop(line: str) -> None:  # the first "waiting" line ends the wait, however long the check took
        said.append(line)
        raise Waiting

    with pytest.raises(Waiting):  # far slower now than calibrated: it waits (max_wait_s never reached)
        settle_host(calibration(1e-9), "cpu", 1, max_wait_s=1e9, pause_s=0.5, progress=stop)
    assert len(said) == 1
    assert said[0].startswith("host speed differs from calibration (gemm fp32 256x256x256 +")
    assert said[0].endswith("waiting 0.5 s")
    said.clear()
    waited, drift = settle_host(calibration(1e-9), "cpu", 1, max_wait_s=1, pause_s=0.2, progress=said.append)
    assert waited + 0.2 > 1 and waited >= 0.2 * len(said)  # it gave up once a pause would pass max_wait_s
    assert set(drift) == {"gemm fp32 256x256x256", "copy fp32 16384x1024"} and min(drift.values()) > 1
    said.clear()
    waited, drift = settle_host(calibration(10.0), "cpu", 1, max_wait_s=4, pause_s=30, progress=said.append)
    assert max(drift.values()) < -0.9 and said == []  # far faster now: not settled, and one pause is too long


def test_rounds_merge_as_least_over_rounds_and_a_failure_stays() -> None:
    from hwsim.calibrate.measure import MeasuredOp, Measurement
    from hwsim.calibrate.rounds import merge_rounds, round_label

    def op(i: int, min_s: float, status: str = "ok") -> MeasuredOp:
        return MeasuredOp(index=i, target="aten.mm.default", op_class="matmul", phase="fwd", scope="",
                          shapes=((2, 2),), dtype="fp32", flop=1.0, bytes=1.0, min_s=min_s,
                          median_s=2 * min_s, status=status,
                          error="boom" if status != "ok" else "")  # fmt: skip

    def m(step: float, ops: tuple, bench: float) -> Measurement:
        return Measurement(label="w", device="cpu", host=describe_host("cpu"), reps=10, step_min_s=step,
                           step_median_s=1.5 * step, step_status="ok", step_error="", ops=ops,
                           ops_sum_min_s=step / 2, floor_min_s=1e-6,
                           benches={"launch fp32 1": bench})  # fmt: skip

    slow = m(2.0, (op(0, 0.4), op(1, 0.5)), 2e-6)
    fast = m(1.0, (op(0, 0.2), op(1, 0.6, status="failed")), 1e-6)
    merged = merge_rounds([slow, fast, m(3.0, (op(0, 0.3), op(1, 0.7)), 3e-6)])
    # min of the rounds' mins; min of the rounds' medians (the typical time of the quietest round)
    assert (merged.step_min_s, merged.step_median_s) == (1.0, 1.5)
    assert merged.ops[0].min_s == 0.2 and merged.ops[0].median_s == 0.4
    assert merged.ops[1].status == "failed" and merged.ops[1].error == "boom"
    assert merged.benches == {"launch fp32 1": 1e-6} and merged.ops_sum_min_s == 0.5 and merged.reps == 10
    assert merge_rounds([slow]) is slow
    assert [round_label("w", r) for r in range(3)] == ["w", "w@round2", "w@round3"]
    with pytest.raises(ValueError, match="different op counts"):
        merge_rounds([slow, m(1.0, (op(0, 0.1),), 1e-6)])
