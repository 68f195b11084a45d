"""Write a fit (hwsim.calibrate.fit) as files: the calibration (hwsim.calibration/1) and the measured
device (hwsim.device/1), each saying where its figures came from.

The calibration file records what was fitted and on what (host, torch version, command, rows), and
in comments the rows left out and the rows not fitted because their difference is unresolved; the
device file holds the roofs as measured (`measured: true`), never as datasheet values. Both are
written atomically, and hwsim.cost.calibration / hwsim.hardware.loader read them back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hwsim.calibrate.device import HostInfo
from hwsim.calibrate.fit import (
    COMPUTE_ROOF_KEYS,
    CURVE_DIGITS,
    DEFAULT_DTYPES,
    ROOF_DIGITS,
    SKINNY_LARGE,
    SKINNY_ROWS,
    Entry,
    Fit,
    fit_rows,
    written,
)
from hwsim.calibrate.results import MICRO, read_rows
from hwsim.errors import InputError
from hwsim.fileio import write_text_atomic
from hwsim.ir import LOWERED_TARGETS
from hwsim.units import format_quantity
from hwsim.yamlio import display_path

__all__ = ["calibration_yaml", "device_yaml", "write_fit"]


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid double-quoted YAML scalar


def _entry_lines(entry: Entry, indent: str, note: str) -> list[str]:
    lines = [f"{indent}# {note}; {entry.rows} rows", f"{indent}best: {entry.best:g}", f"{indent}curve:"]
    lines += [
        f"{indent}  - [{format_quantity(t, 'time', digits=CURVE_DIGITS)}, {y:g}]" for t, y in entry.points
    ]
    return lines


def _default_dtype(by_dtype: dict[str, Any], device: str) -> str:
    for dtype in DEFAULT_DTYPES.get(device, ()):
        if dtype in by_dtype:
            return dtype
    return sorted(by_dtype)[0]


def calibration_yaml(fit: Fit, host: HostInfo, *, device_stem: str, command: str, measurements: str) -> str:
    """The calibration file text; hwsim.cost.calibration.load_calibration reads it back."""
    kind = "gpu" if host.device == "cuda" else "cpu"
    now = datetime.now(UTC).isoformat(timespec="seconds")
    where = host.gpu_name if host.device == "cuda" else f"{host.cpu_model}, {host.threads} thread(s)"
    lines = [
        "schema: hwsim.calibration/1",
        "description: "
        + _q(f"Fitted by hwsim calibrate on {where}, against the measured roofs of {device_stem}."),
        f"applies_to: {{kind: {kind}, device: {device_stem}}}",
        "fitted: true",
    ]
    if host.device == "cpu":
        lines.append(f"threads: {host.threads}")
    lines.append(f"# times behind every figure: a {fit.statistic} over repetitions (hwsim.calibrate.fit)")
    lines.append(f"statistic: {fit.statistic}")
    facts = {
        "host": host.cpu_model,
        "device": host.device,
        "threads": str(host.threads),
        "torch": host.torch_version,
        "measured_at": host.measured_at,
        "fitted_at": now,
        "command": command,
        "measurements": measurements,
    }
    if host.device == "cuda":
        facts |= {"gpu": host.gpu_name, "driver": host.driver or "unknown", "cuda": host.cuda_version}
    lines.append("fitted_on:")
    lines += [f"  {k}: {_q(v)}" for k, v in facts.items()]
    lines.append(f"# {fit.roofs.notes['launch_overhead']}: the least per-call time")
    lines.append(
        f"launch_overhead: {format_quantity(fit.roofs.launch_overhead, 'time', digits=CURVE_DIGITS)}"
    )
    if fit.roofs.eager_overhead:
        eager = sorted(fit.roofs.eager_overhead)
        rows_used = ", ".join(f"{m}: {fit.roofs.notes[f'eager {m}']}" for m in eager)
        lines.append(f"# per-op time of an eager module chain less the launch overhead ({rows_used})")
        lines.append(
            "eager_overhead: {"
            + ", ".join(
                f"{m}: {format_quantity(t, 'time', digits=CURVE_DIGITS)}"
                for m, t in sorted(fit.roofs.eager_overhead.items())
            )
            + "}"
        )
    lines.append("# the zoo's RMS norm runs as its ATen passes here (no fused kernel; hwsim.trace.lowering);")
    lines.append("# where op_entries below has the op's own entry, that entry costs it instead")
    lines.append("unfused_ops: [" + ", ".join(LOWERED_TARGETS) + "]")
    if fit.left_out:
        lines.append(
            "# rows left out of the curves: " + ", ".join(f"{k} {v}" for k, v in sorted(fit.left_out.items()))
        )
    if fit.unresolved:
        lines.append("# rows not fitted: a difference of two measurements within their spread")
        lines.append("# (hwsim.calibrate.unresolved); each row and why:")
        lines += [f"#   {name}: {why}" for name, why in sorted(fit.unresolved.items())]
    if fit.skinny:
        lines.append(
            f"# GEMMs with min(m, n) <= {SKINNY_ROWS}: [min(m, n), fraction of matmul best], "
            f"from gemm rows whose other dimensions are >= {SKINNY_LARGE}"
        )
        lines.append("matmul_skinny:")
        lines += _factor_table_lines(fit.skinny, host.device, "  ")
    if fit.attention_size != "op":
        lines.append("# the attention curves' x: the ideal time of one (batch, head) slice")
        lines.append(f"attention_size: {fit.attention_size}")
    if fit.heads:
        lines.append("# attention by head size: [head size, factor on the attention curve]")
        lines.append("attention_head:")
        for key, by_dtype in sorted(fit.heads.items()):
            lines.append(f"  {key}:")
            lines += _factor_table_lines(by_dtype, host.device, "    ")
    if fit.residency:
        lines.append("# GEMMs of m rows cycling operand copies: {m: [[bytes cycled, time / time past LLC]]}")
        lines.append("residency:")
        for m, curve in sorted(fit.residency.items()):
            pairs = ", ".join(f"[{format_quantity(x, 'bytes', binary=True)}, {y:g}]" for x, y in curve)
            lines.append(f"  {m}: [{pairs}]")
    if fit.host_cold:
        lines.append("# a small op's in-step host time beyond its hot time: [bytes since its last call, s]")
        lines.append("host_cold:")
        lines.append(f"  op_bytes: {format_quantity(fit.host_op_bytes, 'bytes', binary=True)}")
        for key, curve in sorted(fit.host_cold.items()):
            size = lambda x: format_quantity(x, "bytes", binary=True)  # noqa: E731
            time = lambda y: format_quantity(y, "time", digits=CURVE_DIGITS)  # noqa: E731
            pairs = ", ".join(f"[{size(x)}, {time(y)}]" for x, y in curve)
            lines.append(f"  {_q(key)}: [{pairs}]")
    lines.append("efficiency:")
    classes = dict(fit.efficiency)
    fallback = next((c for c in ("elementwise", "copy", "softmax", "norm") if c in classes), None)
    if fallback is None:
        raise InputError.one(
            measurements,
            "",
            "a successful memory-bound measurement to fit",
            "none",
            "rerun hwsim calibrate; see the error column",
        )
    for op_class in [*sorted(classes), "default"]:
        by_dtype = classes[fallback if op_class == "default" else op_class]
        roof = "peak FLOP/s of its dtype" if op_class in COMPUTE_ROOF_KEYS else "memory bandwidth"
        lines.append(f"  {op_class}:" + (f"  # as {fallback}" if op_class == "default" else ""))
        first = _default_dtype(by_dtype, host.device)
        for dtype in [first, *sorted(d for d in by_dtype if d != first)]:
            lines.append(f"    {'default' if dtype == first else dtype}:")
            lines += _entry_lines(by_dtype[dtype], "      ", f"{dtype}, fraction of the {roof}")
    if fit.op_entries:
        lines.append("# ops costed by their own rows, not as their class: activations, the zoo's RMS norm op")
        lines.append("op_entries:")
        for key, by_dtype in sorted(fit.op_entries.items()):
            lines.append(f"  {_q(key)}:")
            first = _default_dtype(by_dtype, host.device)
            for dtype in [first, *sorted(d for d in by_dtype if d != first)]:
                lines.append(f"    {'default' if dtype == first else dtype}:")
                lines += _entry_lines(by_dtype[dtype], "      ", f"{dtype}, fraction of the memory bandwidth")
    lines.append("sources:")
    lines.append(
        "  - " + _q(f"measured on this host by `{command}` ({host.measured_at}); rows in {measurements}")
    )
    return "\n".join(lines) + "\n"


def _factor_table_lines(
    by_dtype: dict[str, tuple[tuple[int, float], ...]], device: str, indent: str
) -> list[str]:
    """A factor table ({dtype: [[size, factor], ...]}), the device's default dtype first as `default`."""
    first = _default_dtype(by_dtype, device)
    return [
        f"{indent}{'default' if dtype == first else dtype}: ["
        + ", ".join(f"[{x}, {y:g}]" for x, y in by_dtype[dtype])
        + "]"
        for dtype in [first, *sorted(d for d in by_dtype if d != first)]
    ]


def device_yaml(fit: Fit, host: HostInfo, *, command: str, measurements: str) -> str:
    """The measured device file text (schema hwsim.device/1, `measured: true`)."""
    roofs = fit.roofs
    cpu = host.device == "cpu"
    rate = {dt: written(p, "flop_rate")[0] for dt, p in sorted(roofs.peaks.items())}
    vector = rate if cpu else {dt: r for dt, r in rate.items() if dt == "fp32"}
    matrix = {} if cpu else {dt: r for dt, r in rate.items() if dt != "fp32"}
    capacity = host.memory_bytes if cpu else host.gpu_memory_bytes
    where = f"{host.cpu_model}, {host.threads} thread(s)" if cpu else host.gpu_name
    lines = ["schema: hwsim.device/1"]
    if cpu:
        lines.append("extends: cpu_host")
    lines += [f"description: {_q(f'{where} (measured)')}", f"kind: {'cpu' if cpu else 'gpu'}"]
    vendor = host.cpu_vendor if cpu else (host.gpu_name.split() or ["unknown"])[0]
    lines += [f"vendor: {_q(vendor or 'unknown')}", "measured: true", "compute:"]
    peak_note = ", ".join(f"{dt}: {roofs.notes[f'peak {dt}']}" for dt in sorted(roofs.peaks))
    lines.append(f"  # best GEMM rate per dtype (2mnk / {fit.statistic} time): {peak_note}")
    for name, rates in (("matrix", matrix), ("vector", vector)):
        if rates:
            lines.append(f"  {name}: {{" + ", ".join(f"{dt}: {r}" for dt, r in rates.items()) + "}")
    cap_source = "MemTotal of /proc/meminfo" if cpu else "torch.cuda.get_device_properties(0).total_memory"
    lines.append(
        f"memory:  # capacity: {cap_source}; "
        f"bandwidth: {roofs.notes['bandwidth']} (2 x bytes / {fit.statistic} time)"
    )
    lines.append(f"  capacity: {format_quantity(float(capacity), 'bytes', binary=True, digits=ROOF_DIGITS)}")
    lines.append(f"  bandwidth: {written(roofs.bandwidth, 'byte_rate')[0]}")
    if not cpu and host.gpu_l2_bytes:
        lines.append(
            f"sram: {format_quantity(float(host.gpu_l2_bytes), 'bytes', binary=True)}  # L2, from torch"
        )
    day = host.measured_at[:10]
    facts = f"torch {host.torch_version}" + (
        f", {host.threads} thread(s)" if cpu else f", driver {host.driver or 'unknown'}"
    )
    lines += ["sources:", "  - " + _q(f"measured by `{command}` on {day} ({facts}); rows in {measurements}")]
    return "\n".join(lines) + "\n"


def write_fit(
    folder: Path, host: HostInfo, *, calibration_path: Path, device_path: Path, command: str
) -> Fit:
    """Fit the rows of folder/micro.csv and write the calibration and device files (atomically)."""
    csv_path = folder / "micro.csv"
    # one CPU thread runs an attention op's heads one after another (hwsim.cost.calibration)
    size = "head" if host.device == "cpu" and host.threads == 1 else "op"
    fit = fit_rows(read_rows(csv_path, MICRO), where=display_path(csv_path), attention_size=size)
    measurements = display_path(folder)
    write_text_atomic(device_path, device_yaml(fit, host, command=command, measurements=measurements))
    write_text_atomic(
        calibration_path,
        calibration_yaml(fit, host, device_stem=device_path.stem, command=command, measurements=measurements),
    )
    return fit
