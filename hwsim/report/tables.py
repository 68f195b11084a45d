"""Terminal tables (rich) for traces, estimates and comparisons, built only from summaries and Estimates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from hwsim.estimate import Estimate, calibration_text
from hwsim.units import format_quantity

__all__ = ["compare_table", "estimate_tables", "print_tables", "trace_tables"]


def _t(seconds: float | None) -> str:
    return "-" if seconds is None else format_quantity(seconds, "time")


def _b(nbytes: float) -> str:
    return format_quantity(nbytes, "bytes", binary=True)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def print_tables(tables: Sequence[Table]) -> None:
    # Piped output gets a fixed 140 columns rather than rich's 80, so that tables are not folded.
    probe = Console()
    console = probe if probe.is_terminal else Console(width=140)
    for table in tables:
        console.print(table)


def trace_tables(summary: Mapping[str, Any]) -> list[Table]:
    """Tables for `hwsim trace`: totals, then FLOPs and bytes by phase and by op class."""
    head = Table(title=f"Trace of {summary['name']} ({summary['mode']})", show_header=False)
    head.add_column("what")
    head.add_column("value", justify="right")
    head.add_row("ops", f"{summary['ops']:,}")
    head.add_row("parameters", f"{summary['params']:,}")
    head.add_row("tokens per step", f"{summary['tokens']:,}")
    head.add_row("FLOP", format_quantity(summary["flop"], "flop"))
    head.add_row(
        "bytes read / written",
        f"{format_quantity(summary['bytes_read'], 'bytes')} / "
        f"{format_quantity(summary['bytes_written'], 'bytes')}",
    )
    if summary.get("uncosted"):
        head.add_row("uncosted ops", ", ".join(f"{k} x{v}" for k, v in summary["uncosted"].items()))
    tables = [head]
    for key, title in (("by_phase", "phase"), ("by_op_class", "op class")):
        table = Table(title=f"By {title}")
        for col in (title, "ops", "FLOP", "bytes read", "bytes written"):
            table.add_column(col, justify="left" if col == title else "right")
        for name, row in summary[key].items():
            table.add_row(
                name,
                f"{row['ops']:,}",
                format_quantity(row["flop"], "flop"),
                format_quantity(row["bytes_read"], "bytes"),
                format_quantity(row["bytes_written"], "bytes"),
            )
        tables.append(table)
    return tables


def estimate_tables(est: Estimate) -> list[Table]:
    """Tables for `hwsim estimate`: headline figures, memory, and time by phase, class, bound, module."""
    head = Table(title=f"{est.workload} on {est.system}", show_header=False)
    head.add_column("figure")
    head.add_column("value", justify="right")
    head.add_row("step time", _t(est.step_time_s))
    head.add_row("tokens/s", f"{est.tokens_per_s:,.0f}")
    if est.ttft_s is not None:
        head.add_row("time to first token", _t(est.ttft_s))
    if est.tpot_s is not None:
        head.add_row("time per output token", _t(est.tpot_s))
    head.add_row("model FLOP / step", format_quantity(est.model_flop, "flop"))
    head.add_row("hardware FLOP / step", format_quantity(est.hardware_flop, "flop"))
    head.add_row(f"MFU / HFU (vs {est.graph.dtype} peak)", f"{_pct(est.mfu)} / {_pct(est.hfu)}")
    head.add_row("achieved per device", format_quantity(est.tflops_per_device * 1e12, "flop_rate"))
    head.add_row("bound by", est.bound)
    n_out, share = est.out_of_range
    head.add_row("calibration", calibration_text(est))
    if n_out:
        head.add_row("ops outside calibrated sizes", f"{n_out:,} ({_pct(share)} of time)")
    uncosted = est.graph.uncosted()
    if uncosted:
        head.add_row("uncosted ops (memory-bound cost)", ", ".join(f"{k} x{v}" for k, v in uncosted.items()))
    mem = Table(title="Memory per device")
    mem.add_column("part")
    mem.add_column("bytes", justify="right")
    for part, nbytes in est.memory.breakdown.items():
        if nbytes:
            mem.add_row(part, _b(nbytes))
    mem.add_row("peak", _b(est.memory.peak_bytes))
    mem.add_row("capacity", _b(est.memory.capacity_bytes))
    verdict = "fits" if est.memory.fits else f"DOES NOT FIT: short by {_b(est.memory.shortfall_bytes)}"
    mem.add_row("verdict", verdict)
    tables = [head, mem]
    for key, title, limit in (
        ("phase", "phase", None),
        ("op_class", "op class", None),
        ("bound", "bound", None),
        ("module", "module (top 12)", 12),
    ):
        # a bound (phase, class, module) with no time is left out: 0.0 ns rows say nothing
        rows = sorted(((k, v) for k, v in est.time_breakdown_s[key].items() if v > 0), key=lambda kv: -kv[1])
        rows = rows[:limit]
        table = Table(title=f"Time by {title}")
        table.add_column(title)
        table.add_column("time", justify="right")
        table.add_column("share", justify="right")
        for name, seconds in rows:
            table.add_row(name, _t(seconds), _pct(seconds / est.step_time_s))
        tables.append(table)
    return tables


def compare_table(estimates: Sequence[Estimate]) -> Table:
    """One row per system; the fastest system that fits in memory is marked the winner."""
    fitting = [e for e in estimates if e.memory.fits]
    winner = min(fitting, key=lambda e: e.step_time_s) if fitting else None
    first = estimates[0]
    table = Table(title=f"{first.workload} ({first.mode}, {first.graph.dtype}): one device of each system")
    cols = ["system", "step time", "tokens/s"]
    if first.mode == "train":
        cols += ["MFU", "TFLOP/s"]
    cols += ["bound", "memory peak / capacity", "fits", "rank"]
    for col in cols:
        table.add_column(col, justify="left" if col in ("system", "bound", "rank") else "right", no_wrap=True)
    for est in estimates:
        row = [est.system, _t(est.step_time_s), f"{est.tokens_per_s:,.0f}"]
        if first.mode == "train":
            row += [_pct(est.mfu), f"{est.tflops_per_device:,.0f}"]
        mark = "winner" if est is winner else ""
        fits = "yes" if est.memory.fits else f"no, short {_b(est.memory.shortfall_bytes)}"
        row += [est.bound, f"{_b(est.memory.peak_bytes)} / {_b(est.memory.capacity_bytes)}", fits, mark]
        table.add_row(*row)
    return table
