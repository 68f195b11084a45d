"""Validation reports (Markdown, per-op CSV, JSON, terminal tables) from hwsim.calibrate.validate.Validation.

Files for one run, under the report folder (reports/validation/ by default):
    <stem>.md    the figures with their definitions, the worst ops and every unmatched or failed op
    <stem>.csv   one row per op: matched pairs, graph-only, run-only and failed ops, with both times
    <stem>.json  the `hwsim.validation/1` document (what `hwsim validate --json` prints)
    index.md     one line per JSON document in the folder, rewritten after each run
The stem is the workload, its overrides and the device file: "llama-tiny-train+layers2--intel_xeon_1t".
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shlex
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from hwsim.calibrate.validate import DEFINITIONS, Validation
from hwsim.fileio import write_text_atomic
from hwsim.units import format_quantity

__all__ = ["report_stem", "reproduce_command", "validation_csv", "validation_markdown", "validation_tables",
           "write_index", "write_validation"]  # fmt: skip

CSV_COLUMNS = ("status", "graph_index", "measured_index", "op_class", "target", "measured_target", "phase",
               "scope", "shapes", "measured_s", "measured_min_s", "measured_median_s", "noise", "estimated_s",
               "error",
               "in_range", "error_text")  # fmt: skip


def _t(seconds: float) -> str:
    return "-" if not math.isfinite(seconds) else format_quantity(seconds, "time")


def _pct(x: float, signed: bool = False) -> str:
    if not math.isfinite(x):
        return "-"
    return f"{100 * x:+.1f}%" if signed else f"{100 * x:.1f}%"


def _rel(estimated: float, measured: float) -> float:
    return (estimated - measured) / measured if measured > 0 else math.nan


def _signed_t(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    return ("-" if seconds < 0 else "+") + _t(abs(seconds))


def report_stem(v: Validation) -> str:
    """File stem of a run: workload, overrides shortened to last key part and value, and device file."""
    parts = [v.workload]
    for item in v.overrides:
        key, _, value = item.partition("=")
        parts.append(key.rsplit(".", 1)[-1] + value)
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", "+".join(parts)) + f"--{v.system}"


def reproduce_command(v: Validation) -> str:
    words = ["hwsim", "validate", v.workload, "--device", v.device]
    if v.device == "cpu":
        words += ["--threads", str(v.threads)]
    words += ["--reps", str(v.reps), "--rounds", str(v.rounds)]
    for item in v.overrides:
        words += ["--set", item]
    return shlex.join(words)


def _shapes(shapes: Sequence[Sequence[int]]) -> str:
    return ", ".join("x".join(str(d) for d in s) or "()" for s in shapes)


def _unmatched(v: Validation) -> list[tuple[str, str, str, int, float, str]]:
    """(status, target, phase, count, seconds, error) grouped; graph-only ops carry estimated time."""
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for c in v.ops:
        if c.status != "matched":
            groups[(c.status, c.target, c.phase)].append(c)
    rows = []
    for (status, target, phase), items in sorted(groups.items()):
        time = sum(c.estimated_s if status in ("graph-only", "failed") else c.measured_s for c in items)
        rows.append((status, target, phase, len(items), time, items[0].error_text))
    return rows


def _lines(v: Validation) -> dict[str, Any]:
    """The figures every format shows, as text."""
    cal = v.calibration
    fitted = cal["fitted_on"]
    cal_text = f"`{cal['name']}` ({cal['path']}, " + (
        f"fitted on {fitted.get('host') or fitted.get('gpu', '?')}, {fitted.get('threads', '?')} thread(s), "
        f"{fitted.get('fitted_at', '?')[:10]})" if cal["fitted"] else "published defaults)"
    )  # fmt: skip
    share = cal["time_share_outside_range"]
    drift = ", ".join(f"{k} {_pct(x, True)}" for k, x in v.drift.items()) or "not measured"
    return {
        "drift": drift + " (min time at measurement / at calibration - 1; + = slower)",
        "calibration": cal_text,
        "range": f"{cal['ops_outside_range']} of {sum(c.graph_index is not None for c in v.ops)} graph ops "
        f"({_pct(share)} of the estimated step) lie outside the calibrated sizes",
        "host": f"{v.host.gpu_name or v.host.cpu_model} ({v.device}, {v.threads} thread(s), "
        f"torch {v.host.torch_version}), {v.reps} repetitions in each of {v.rounds} round(s); "
        f"validated {v.validated_at or '-'}",
    }


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Markdown table lines; a column is right-aligned when its first row holds a number or a time."""
    first = rows[0] if rows else header
    right = [bool(re.match(r"^[-+]?[\d.]+", str(x))) for x in first]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if r else "---" for r in right) + "|"]
    return lines + ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]


def _target(c: Any) -> str:
    same = not c.measured_target or c.measured_target == c.target
    return f"`{c.target}`" + ("" if same else f" (ran as `{c.measured_target}`)")


def validation_markdown(v: Validation) -> str:
    info = _lines(v)
    overrides = ", ".join(f"`{o}`" for o in v.overrides) or "none"
    out = [f"# Validation: {v.label} on {v.system} ({v.device})", ""]
    out += [
        f"- workload: `{v.workload}` ({v.mode}), overrides: {overrides}",
        f"- measured on: {info['host']}; rows in `{v.measurements}`",
        f"- estimate: device file `{v.system}`, calibration {info['calibration']}, "
        f"launch mode {v.launch_mode}",
        f"- calibrated range: {info['range']}",
        f"- host speed at measurement vs at calibration (drift): {info['drift']}",
        f"- reproduce: `{reproduce_command(v)}`",
        "",
        "## End to end",
        "",
        f"Measured and estimated times are {v.statistic}s over the repetitions (the calibration's "
        "statistic); min and median are both shown.",
        "",
        f"| | measured ({v.statistic}) | min | median | noise | estimated | error |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| step | {_t(v.measured_step_s)} | {_t(v.measured_step_min_s)} | {_t(v.measured_step_median_s)} | "
        f"{_pct(v.noise)} | {_t(v.estimated_step_s)} | {_pct(v.error, True)} |",
        f"| sum of measured ops per step | {_t(v.measured_ops_s)} | | | | | |",
        f"| outside ops (Python, autograd, views) | {_t(v.outside_ops_s)} | | | | "
        f"{_t(v.estimated_outside_s)} | {_pct(_rel(v.estimated_outside_s, v.outside_ops_s), True)} |",
        f"| timer floor (one-element add, min) / launch overhead | {_t(v.floor_s)} | | | | "
        f"{_t(v.calibration['launch_overhead_s'])} | |",
        "",
    ]
    if v.step_error_text:
        out += [f"The step failed end to end: `{v.step_error_text}`", ""]
    out += [
        "## Where the difference comes from",
        "",
        f"estimated - measured = {_signed_t(v.estimated_step_s - v.measured_step_s)}, made of:",
        "",
    ]
    out += _md_table(
        ("part", "seconds", "share of the measured step"),
        [(name, _signed_t(x), _pct(x / v.measured_step_s, True)) for name, x in v.attribution()],
    )
    out += ["", "## Targets (from the issue; measured, not tuned for)", ""]
    for name, t in v.targets().items():
        value = _pct(t["value"], name == "end_to_end_error") if t["value"] is not None else "-"
        out.append(
            f"- {name.replace('_', ' ')} <= {_pct(t['limit'])}: {value} ({'met' if t['met'] else 'missed'})"
        )
    out += ["", "## By op class", ""]
    out += _md_table(
        ("class", "matched", "measured", "estimated", "error", "MAPE", "noise", "failed",
         "graph-only (estimated)", "run-only (measured)"),
        [(c.op_class, c.matched, _t(c.measured_s), _t(c.estimated_s), _pct(c.error, True), _pct(c.mape),
          _pct(c.noise), c.failed, f"{c.graph_only} ({_t(c.graph_only_estimated_s)})",
          f"{c.run_only} ({_t(c.run_only_measured_s)})") for c in v.classes],
    )  # fmt: skip
    out += ["", "## Worst ops (largest |estimated - measured|)", ""]
    out += _md_table(
        ("graph op", "class", "target", "phase", "scope", "input shapes", "measured", "estimated", "error",
         "noise", "in range"),
        [(c.graph_index, c.op_class, _target(c), c.phase, c.scope or "-", _shapes(c.shapes), _t(c.measured_s),
          _t(c.estimated_s), _pct(c.error, True), _pct(c.noise), "yes" if c.in_range else "no")
         for c in v.worst()],
    )  # fmt: skip
    unmatched = _unmatched(v)
    out += ["", "## Unmatched and failed ops", ""]
    if unmatched:
        out += [
            "graph-only: in the estimate, not run on the device (time: estimated); run-only: run, not in "
            "the graph (time: measured); failed: matched, but the measurement failed (time: estimated).",
            "",
        ]
        rows = [(st, f"`{t}`", ph, n, _t(x), e or "") for st, t, ph, n, x, e in unmatched]
        out += _md_table(("status", "target", "phase", "ops", "time", "error"), rows)
    else:
        out.append("None: every graph op matched a measured op and every measured op a graph op.")
    out += ["", "## Definitions", ""] + [f"- {k}: {text}" for k, text in DEFINITIONS.items()]
    return "\n".join(out) + "\n"


def validation_csv(v: Validation) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in sorted(
        v.ops, key=lambda c: (c.graph_index if c.graph_index is not None else 1e9, c.measured_index or 0)
    ):
        values = {"status": c.status, "graph_index": c.graph_index, "measured_index": c.measured_index,
                  "op_class": c.op_class, "target": c.target, "measured_target": c.measured_target,
                  "phase": c.phase, "scope": c.scope, "shapes": _shapes(c.shapes), "measured_s": c.measured_s,
                  "measured_min_s": c.measured_min_s, "measured_median_s": c.measured_median_s,
                  "noise": c.noise, "estimated_s": c.estimated_s,
                  "error": c.error, "in_range": c.in_range, "error_text": c.error_text}  # fmt: skip
        writer.writerow(_cell(values[k]) for k in CSV_COLUMNS)
    return buffer.getvalue()


def _cell(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


def validation_tables(v: Validation) -> list[Table]:
    """Terminal tables: end to end, targets, by class, worst ops, unmatched; then the definitions."""
    info = _lines(v)
    head = Table(title=f"Validation of {v.label} on {v.system} ({v.device})", show_header=False)
    head.add_column("figure")
    head.add_column("value", justify="right")
    head.add_row(f"measured step ({v.statistic}; min / median, noise)",
                 f"{_t(v.measured_step_s)} ({_t(v.measured_step_min_s)} / {_t(v.measured_step_median_s)}, "
                 f"{_pct(v.noise)})")  # fmt: skip
    head.add_row("estimated step", _t(v.estimated_step_s))
    head.add_row("error (noise)", f"{_pct(v.error, True)} ({_pct(v.noise)})")
    head.add_row("sum of measured ops / outside ops (estimated)",
                 f"{_t(v.measured_ops_s)} / {_t(v.outside_ops_s)} ({_t(v.estimated_outside_s)})")  # fmt: skip
    head.add_row("timer floor / estimate's launch overhead",
                 f"{_t(v.floor_s)} / {_t(v.calibration['launch_overhead_s'])}")  # fmt: skip
    head.add_row("calibration", info["calibration"])
    head.add_row("calibrated range", info["range"])
    head.add_row("drift since calibration", info["drift"])
    head.add_row("measured on", info["host"])
    for name, t in v.targets().items():
        value = _pct(t["value"], name == "end_to_end_error") if t["value"] is not None else "-"
        head.add_row(
            f"target: {name.replace('_', ' ')} <= {_pct(t['limit'])}",
            f"{value} ({'met' if t['met'] else 'missed'})",
        )
    classes = Table(title="By op class (measured = min over reps)")
    for col in (
        "class",
        "matched",
        "measured",
        "estimated",
        "error",
        "MAPE",
        "noise",
        "graph-only",
        "run-only",
        "failed",
    ):
        classes.add_column(col, justify="left" if col == "class" else "right")
    for c in v.classes:
        classes.add_row(c.op_class, str(c.matched), _t(c.measured_s), _t(c.estimated_s), _pct(c.error, True),
                        _pct(c.mape), _pct(c.noise), str(c.graph_only), str(c.run_only),
                        str(c.failed))  # fmt: skip
    worst = Table(title="Worst ops (largest |estimated - measured|)")
    for col in ("op", "class", "target", "scope", "measured", "estimated", "error", "noise"):
        worst.add_column(
            col, justify="right" if col in ("op", "measured", "estimated", "error", "noise") else "left"
        )
    for c in v.worst():
        worst.add_row(str(c.graph_index), c.op_class, c.target.removeprefix("aten."), c.scope or "-",
                      _t(c.measured_s), _t(c.estimated_s), _pct(c.error, True), _pct(c.noise))  # fmt: skip
    tables = [head, classes, worst]
    unmatched = _unmatched(v)
    if unmatched:
        table = Table(
            title="Unmatched and failed ops (graph-only, failed: estimated time; run-only: measured)"
        )
        for col in ("status", "target", "phase", "ops", "time", "error"):
            table.add_column(col, justify="right" if col in ("ops", "time") else "left")
        for status, target, phase, n, time, error in unmatched:
            table.add_row(status, target.removeprefix("aten."), phase, str(n), _t(time), error or "")
        tables.append(table)
    definitions = Table(title="Definitions", show_header=False)
    definitions.add_column("name")
    definitions.add_column("definition")
    for k, text in DEFINITIONS.items():
        definitions.add_row(k, text)
    tables.append(definitions)
    return tables


def write_validation(v: Validation, folder: Path) -> list[Path]:
    """Write <stem>.md, .csv and .json into `folder`, then rewrite folder/index.md; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = report_stem(v)
    paths = [folder / f"{stem}.md", folder / f"{stem}.csv", folder / f"{stem}.json"]
    write_text_atomic(paths[0], validation_markdown(v))
    write_text_atomic(paths[1], validation_csv(v))
    write_text_atomic(paths[2], json.dumps(v.to_json(), indent=1) + "\n")
    paths.append(write_index(folder))
    return paths


def _index_row(stem: str, doc: dict[str, Any]) -> str:
    def num(x: Any) -> float:
        return math.nan if x is None else x

    def mape(name: str) -> str:
        c = doc["classes"].get(name)
        return "-" if not c or c["mape"] is None else f"{_pct(c['mape'])} ({_pct(num(c['noise']))})"

    e2e = doc["end_to_end"]
    cells = (f"[{doc['label']}]({stem}.md)", doc["mode"], doc["system"], doc["calibration"]["name"],
             _t(num(e2e["measured_s"])), _pct(num(e2e["noise"])), _t(e2e["estimated_s"]),
             _pct(num(e2e["error"]), True), mape("matmul"), mape("attention"),
             f"{doc['ops']['matched']}/{doc['ops']['graph']}")  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def write_index(folder: Path) -> Path:
    """index.md: one row per validation document (*.json, schema hwsim.validation/1) in `folder`."""
    rows = []
    for path in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("schema") == "hwsim.validation/1":
            rows.append(_index_row(path.stem, doc))
    text = "\n".join([
        "# Validation runs", "",
        "Each row is one `hwsim validate` run (see its report for definitions, worst ops and unmatched "
        "ops). Measured = the calibration's statistic (median for fitted calibrations, else min) over the "
        "repetitions, least over rounds; error = (estimate - measured) / measured; noise = "
        "median / min - 1; MAPE = mean |error| over the matched ops of the class, noise beside it.", "",
        "| workload | mode | device file | calibration | measured step | noise | estimated | error "
        "| matmul MAPE (noise) | attention MAPE (noise) | matched ops |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|", *rows,
    ])  # fmt: skip
    path = folder / "index.md"
    write_text_atomic(path, text + "\n")
    return path
